//! Data attributes shared by ISAKMP (RFC 2408 §3.3) and IKEv2 transforms (RFC 7296 §3.3.5):
//! a 16-bit word whose top bit (AF) selects the short Type/Value form (2-byte value) or the
//! Type/Length/Value form.

use crate::cursor::Reader;
use crate::error::{Result, WireError};

/// An attribute value in the form it was (or will be) sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrValue {
    /// TV form (AF = 1): a 16-bit value.
    Short(u16),
    /// TLV form (AF = 0): a variable-length value.
    Long(Vec<u8>),
}

/// One data attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// Attribute type without the AF bit (15 bits).
    pub ty: u16,
    pub value: AttrValue,
}

impl Attribute {
    /// A TV attribute.
    pub fn short(ty: u16, value: u16) -> Self {
        Self {
            ty,
            value: AttrValue::Short(value),
        }
    }

    /// The value as an integer when it fits in 64 bits (RFC 2408 lets variable-length
    /// attributes carry numbers such as long lifetimes).
    pub fn as_u64(&self) -> Option<u64> {
        match &self.value {
            AttrValue::Short(v) => Some(u64::from(*v)),
            AttrValue::Long(b) if b.len() <= 8 => {
                Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
            }
            AttrValue::Long(_) => None,
        }
    }

    /// Reads one attribute.
    pub fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let word = r.u16()?;
        let ty = word & 0x7fff;
        if word & 0x8000 != 0 {
            Ok(Self {
                ty,
                value: AttrValue::Short(r.u16()?),
            })
        } else {
            let len = usize::from(r.u16()?);
            Ok(Self {
                ty,
                value: AttrValue::Long(r.take(len)?.to_vec()),
            })
        }
    }

    /// Reads attributes until `body` is used up.
    pub fn parse_all(body: &[u8], what: &'static str) -> Result<Vec<Self>> {
        let mut r = Reader::new(body, what);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push(Self::parse(&mut r)?);
        }
        Ok(out)
    }

    /// Appends the encoded attribute.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<()> {
        if self.ty > 0x7fff {
            return Err(WireError::BadValue {
                what: "attribute type",
                value: u64::from(self.ty),
            });
        }
        match &self.value {
            AttrValue::Short(v) => {
                out.extend_from_slice(&(self.ty | 0x8000).to_be_bytes());
                out.extend_from_slice(&v.to_be_bytes());
            }
            AttrValue::Long(b) => {
                let len = u16::try_from(b.len()).map_err(|_| WireError::TooLong {
                    what: "attribute value",
                    len: b.len(),
                })?;
                out.extend_from_slice(&self.ty.to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(b);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod strategy {
    use super::*;
    use proptest::prelude::*;

    pub fn attribute() -> impl Strategy<Value = Attribute> {
        (
            0u16..0x8000,
            prop_oneof![
                any::<u16>().prop_map(AttrValue::Short),
                proptest::collection::vec(any::<u8>(), 0..12).prop_map(AttrValue::Long),
            ],
        )
            .prop_map(|(ty, value)| Attribute { ty, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_forms_exact_bytes() {
        let mut out = Vec::new();
        Attribute::short(14, 128).emit(&mut out).unwrap();
        Attribute {
            ty: 12,
            value: AttrValue::Long(vec![0, 1, 0x51, 0x80]),
        }
        .emit(&mut out)
        .unwrap();
        assert_eq!(
            out,
            [
                0x80, 0x0e, 0x00, 0x80, 0x00, 0x0c, 0x00, 0x04, 0, 1, 0x51, 0x80
            ]
        );
        let back = Attribute::parse_all(&out, "t").unwrap();
        assert_eq!(back[1].as_u64(), Some(86400));
        assert!(Attribute::parse_all(&out[..11], "t").is_err());
    }

    proptest! {
        #[test]
        fn round_trip(attrs in proptest::collection::vec(strategy::attribute(), 0..6)) {
            let mut out = Vec::new();
            for a in &attrs { a.emit(&mut out).unwrap(); }
            prop_assert_eq!(Attribute::parse_all(&out, "t").unwrap(), attrs);
        }
    }
}
