//! The SA payload with its proposal and transform payloads (RFC 2408 §3.4-3.6) in the
//! IPsec DOI (RFC 2407 §4.6.1).

use crate::attribute::Attribute;
use crate::cursor::{Reader, patch_len16};
use crate::error::{Result, WireError};

use super::payload_type as pt;
use super::situation;

/// An SA payload. Proposals with the same number form one bundle (logical AND, e.g.
/// AH + ESP); different numbers are alternatives (RFC 2408 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityAssociation {
    pub doi: u32,
    pub situation: u32,
    pub proposals: Vec<Proposal>,
}

/// A proposal payload (§3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// A transform payload (§3.6) with its SA attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform {
    pub number: u8,
    pub id: u8,
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// The value of an attribute class, if present and numeric.
    pub fn attribute(&self, ty: u16) -> Option<u64> {
        self.attributes.iter().find(|a| a.ty == ty)?.as_u64()
    }
}

/// Reads a generic payload header inside the SA and checks the expected type chain.
fn sub_header<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<(u8, &'a [u8])> {
    let np = r.u8()?;
    r.u8()?;
    let len = usize::from(r.u16()?);
    if len < 4 {
        return Err(WireError::BadLength { what, len });
    }
    Ok((np, r.take(len - 4)?))
}

impl SecurityAssociation {
    /// Parses the body of an SA payload. The labeled-domain situation fields of RFC 2407
    /// §4.6.1 (secrecy/integrity bits) are not supported: such an SA is reported as an
    /// error, which the engine answers with SITUATION-NOT-SUPPORTED.
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "isakmp sa");
        let doi = r.u32()?;
        let sit = r.u32()?;
        if doi == super::DOI_IPSEC && sit & (situation::SECRECY | situation::INTEGRITY) != 0 {
            return Err(WireError::BadValue {
                what: "isakmp sa situation (labeled domain)",
                value: u64::from(sit),
            });
        }
        let mut proposals = Vec::new();
        let mut next = if r.is_empty() { pt::NONE } else { pt::PROPOSAL };
        while next != pt::NONE {
            if next != pt::PROPOSAL {
                return Err(WireError::UnexpectedType {
                    what: "isakmp proposal chain",
                    value: u64::from(next),
                });
            }
            let (np, pbody) = sub_header(&mut r, "isakmp proposal")?;
            proposals.push(Proposal::parse(pbody)?);
            next = np;
        }
        r.finish()?;
        if proposals.is_empty() {
            return Err(WireError::BadLength {
                what: "isakmp sa proposals",
                len: 0,
            });
        }
        Ok(Self {
            doi,
            situation: sit,
            proposals,
        })
    }

    /// Appends the body of an SA payload.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.proposals.is_empty() {
            return Err(WireError::BadLength {
                what: "isakmp sa proposals",
                len: 0,
            });
        }
        out.extend_from_slice(&self.doi.to_be_bytes());
        out.extend_from_slice(&self.situation.to_be_bytes());
        for (i, p) in self.proposals.iter().enumerate() {
            let np = if i + 1 == self.proposals.len() {
                pt::NONE
            } else {
                pt::PROPOSAL
            };
            let start = out.len();
            out.extend_from_slice(&[np, 0, 0, 0]);
            p.emit(out)?;
            let len = out.len() - start;
            patch_len16(out, start + 2, len, "isakmp proposal")?;
        }
        Ok(())
    }
}

impl Proposal {
    fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "isakmp proposal");
        let number = r.u8()?;
        let protocol = r.u8()?;
        let spi_size = usize::from(r.u8()?);
        let count = usize::from(r.u8()?);
        let spi = r.take(spi_size)?.to_vec();
        let mut transforms = Vec::with_capacity(count);
        let mut next = if count > 0 { pt::TRANSFORM } else { pt::NONE };
        while next != pt::NONE {
            if next != pt::TRANSFORM {
                return Err(WireError::UnexpectedType {
                    what: "isakmp transform chain",
                    value: u64::from(next),
                });
            }
            let (np, tbody) = sub_header(&mut r, "isakmp transform")?;
            let mut t = Reader::new(tbody, "isakmp transform");
            let tnum = t.u8()?;
            let id = t.u8()?;
            t.u16()?;
            transforms.push(Transform {
                number: tnum,
                id,
                attributes: Attribute::parse_all(t.rest(), "isakmp sa attribute")?,
            });
            next = np;
        }
        if transforms.len() != count {
            return Err(WireError::BadValue {
                what: "isakmp proposal transform count",
                value: count as u64,
            });
        }
        r.finish()?;
        Ok(Self {
            number,
            protocol,
            spi,
            transforms,
        })
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        let spi_size = u8::try_from(self.spi.len()).map_err(|_| WireError::TooLong {
            what: "isakmp proposal spi",
            len: self.spi.len(),
        })?;
        let count = u8::try_from(self.transforms.len()).map_err(|_| WireError::TooLong {
            what: "isakmp proposal transforms",
            len: self.transforms.len(),
        })?;
        out.extend_from_slice(&[self.number, self.protocol, spi_size, count]);
        out.extend_from_slice(&self.spi);
        for (i, t) in self.transforms.iter().enumerate() {
            let np = if i + 1 == self.transforms.len() {
                pt::NONE
            } else {
                pt::TRANSFORM
            };
            let start = out.len();
            out.extend_from_slice(&[np, 0, 0, 0, t.number, t.id, 0, 0]);
            for a in &t.attributes {
                a.emit(out)?;
            }
            let len = out.len() - start;
            patch_len16(out, start + 2, len, "isakmp transform")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use crate::attribute::strategy::attribute;
    use proptest::prelude::*;

    pub fn sa() -> impl Strategy<Value = SecurityAssociation> {
        let transform = (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(attribute(), 0..5),
        )
            .prop_map(|(number, id, attributes)| Transform {
                number,
                id,
                attributes,
            });
        let proposal = (
            any::<u8>(),
            any::<u8>(),
            prop_oneof![Just(vec![]), proptest::collection::vec(any::<u8>(), 4)],
            proptest::collection::vec(transform, 0..4),
        )
            .prop_map(|(number, protocol, spi, transforms)| Proposal {
                number,
                protocol,
                spi,
                transforms,
            });
        (
            any::<u32>(),
            any::<u32>().prop_map(|s| s & !(situation::SECRECY | situation::INTEGRITY)),
            proptest::collection::vec(proposal, 1..4),
        )
            .prop_map(|(doi, situation, proposals)| SecurityAssociation {
                doi,
                situation,
                proposals,
            })
    }
}
