//! The Security Association payload with its proposal and transform substructures
//! (RFC 7296 §3.3).

use crate::attribute::{AttrValue, Attribute};
use crate::cursor::{Reader, patch_len16};
use crate::error::{Result, WireError};

use super::attribute_type;

const LAST: u8 = 0;
const MORE_PROPOSALS: u8 = 2;
const MORE_TRANSFORMS: u8 = 3;

/// An SA payload: proposals in order of preference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityAssociation {
    pub proposals: Vec<Proposal>,
}

/// One proposal (§3.3.1). Numbering and SPI size rules (first proposal 1, then +1; SPI size
/// 0/8 for IKE and 4 for AH/ESP) are policy checks for the engine, since a peer's odd but
/// well-formed proposal must get NO_PROPOSAL_CHOSEN, not a parse failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub number: u8,
    pub protocol: u8,
    pub spi: Vec<u8>,
    pub transforms: Vec<Transform>,
}

/// One transform (§3.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transform {
    pub ty: u8,
    pub id: u16,
    pub attributes: Vec<Attribute>,
}

impl Transform {
    /// A transform without attributes.
    pub fn new(ty: u8, id: u16) -> Self {
        Self {
            ty,
            id,
            attributes: Vec::new(),
        }
    }

    /// A transform with the Key Length attribute (§3.3.5), as AES needs.
    pub fn with_key_length(ty: u8, id: u16, bits: u16) -> Self {
        Self {
            ty,
            id,
            attributes: vec![Attribute::short(attribute_type::KEY_LENGTH, bits)],
        }
    }

    /// The Key Length attribute, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.iter().find_map(|a| match a.value {
            AttrValue::Short(v) if a.ty == attribute_type::KEY_LENGTH => Some(v),
            _ => None,
        })
    }

    fn parse(r: &mut Reader<'_>) -> Result<(Self, bool)> {
        let last = r.u8()?;
        r.u8()?;
        let len = usize::from(r.u16()?);
        if len < 8 {
            return Err(WireError::BadLength {
                what: "ikev2 transform",
                len,
            });
        }
        let body = r.take(len - 4)?;
        let mut b = Reader::new(body, "ikev2 transform");
        let ty = b.u8()?;
        b.u8()?;
        let id = b.u16()?;
        let attributes = Attribute::parse_all(b.rest(), "ikev2 transform attribute")?;
        let more = match last {
            LAST => false,
            MORE_TRANSFORMS => true,
            v => {
                return Err(WireError::BadValue {
                    what: "ikev2 transform last substruc",
                    value: u64::from(v),
                });
            }
        };
        Ok((Self { ty, id, attributes }, more))
    }

    fn emit(&self, last: bool, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(&[if last { LAST } else { MORE_TRANSFORMS }, 0, 0, 0]);
        out.push(self.ty);
        out.push(0);
        out.extend_from_slice(&self.id.to_be_bytes());
        for a in &self.attributes {
            a.emit(out)?;
        }
        let len = out.len() - start;
        patch_len16(out, start + 2, len, "ikev2 transform")
    }
}

impl Proposal {
    fn parse(r: &mut Reader<'_>) -> Result<(Self, bool)> {
        let last = r.u8()?;
        r.u8()?;
        let len = usize::from(r.u16()?);
        if len < 8 {
            return Err(WireError::BadLength {
                what: "ikev2 proposal",
                len,
            });
        }
        let body = r.take(len - 4)?;
        let mut b = Reader::new(body, "ikev2 proposal");
        let number = b.u8()?;
        let protocol = b.u8()?;
        let spi_size = usize::from(b.u8()?);
        let count = b.u8()?;
        let spi = b.take(spi_size)?.to_vec();
        let mut transforms = Vec::with_capacity(usize::from(count));
        let mut more = count > 0;
        while more {
            let (t, m) = Transform::parse(&mut b)?;
            transforms.push(t);
            more = m;
        }
        if transforms.len() != usize::from(count) {
            return Err(WireError::BadValue {
                what: "ikev2 proposal transform count",
                value: u64::from(count),
            });
        }
        b.finish()?;
        let more = match last {
            LAST => false,
            MORE_PROPOSALS => true,
            v => {
                return Err(WireError::BadValue {
                    what: "ikev2 proposal last substruc",
                    value: u64::from(v),
                });
            }
        };
        Ok((
            Self {
                number,
                protocol,
                spi,
                transforms,
            },
            more,
        ))
    }

    fn emit(&self, last: bool, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        let spi_size = u8::try_from(self.spi.len()).map_err(|_| WireError::TooLong {
            what: "ikev2 proposal spi",
            len: self.spi.len(),
        })?;
        let count = u8::try_from(self.transforms.len()).map_err(|_| WireError::TooLong {
            what: "ikev2 proposal transforms",
            len: self.transforms.len(),
        })?;
        out.extend_from_slice(&[if last { LAST } else { MORE_PROPOSALS }, 0, 0, 0]);
        out.extend_from_slice(&[self.number, self.protocol, spi_size, count]);
        out.extend_from_slice(&self.spi);
        for (i, t) in self.transforms.iter().enumerate() {
            t.emit(i + 1 == self.transforms.len(), out)?;
        }
        let len = out.len() - start;
        patch_len16(out, start + 2, len, "ikev2 proposal")
    }
}

impl SecurityAssociation {
    /// Parses the body of an SA payload. An SA with no proposal is an error (§3.3).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "ikev2 sa");
        let mut proposals = Vec::new();
        loop {
            let (p, more) = Proposal::parse(&mut r)?;
            proposals.push(p);
            if !more {
                break;
            }
        }
        r.finish()?;
        Ok(Self { proposals })
    }

    /// Appends the body of an SA payload.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.proposals.is_empty() {
            return Err(WireError::BadLength {
                what: "ikev2 sa proposals",
                len: 0,
            });
        }
        for (i, p) in self.proposals.iter().enumerate() {
            p.emit(i + 1 == self.proposals.len(), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use crate::attribute::strategy::attribute;
    use proptest::prelude::*;

    pub fn transform() -> impl Strategy<Value = Transform> {
        (
            any::<u8>(),
            any::<u16>(),
            proptest::collection::vec(attribute(), 0..3),
        )
            .prop_map(|(ty, id, attributes)| Transform { ty, id, attributes })
    }

    pub fn proposal() -> impl Strategy<Value = Proposal> {
        (
            any::<u8>(),
            any::<u8>(),
            prop_oneof![
                Just(vec![]),
                proptest::collection::vec(any::<u8>(), 4),
                proptest::collection::vec(any::<u8>(), 8)
            ],
            proptest::collection::vec(transform(), 1..6),
        )
            .prop_map(|(number, protocol, spi, transforms)| Proposal {
                number,
                protocol,
                spi,
                transforms,
            })
    }

    pub fn sa() -> impl Strategy<Value = SecurityAssociation> {
        proptest::collection::vec(proposal(), 1..4)
            .prop_map(|proposals| SecurityAssociation { proposals })
    }
}
