//! The ISAKMP header (RFC 2408 §3.1).

use crate::cursor::Reader;
use crate::error::{Result, WireError};

/// Length of the ISAKMP header.
pub const HEADER_LEN: usize = 28;

/// The ISAKMP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub cookie_i: u64,
    pub cookie_r: u64,
    /// Type of the first payload (for an encrypted body: of the first payload inside).
    pub next_payload: u8,
    /// Major version in the high nibble (1), minor in the low nibble (0).
    pub version: u8,
    pub exchange: u8,
    pub flags: u8,
    pub message_id: u32,
    /// Total message length (filled in by `Message::emit`).
    pub length: u32,
}

impl Header {
    /// Reads the header fields without judging them.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "isakmp header");
        Ok(Self {
            cookie_i: r.u64()?,
            cookie_r: r.u64()?,
            next_payload: r.u8()?,
            version: r.u8()?,
            exchange: r.u8()?,
            flags: r.u8()?,
            message_id: r.u32()?,
            length: r.u32()?,
        })
    }

    /// True when the body is encrypted (E flag).
    pub fn is_encrypted(&self) -> bool {
        self.flags & super::flags::ENCRYPTION != 0
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cookie_i.to_be_bytes());
        out.extend_from_slice(&self.cookie_r.to_be_bytes());
        out.extend_from_slice(&[self.next_payload, self.version, self.exchange, self.flags]);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// Major version 1 (RFC 2408 §5.1 rejects a higher major version) and a length field
    /// equal to the datagram length.
    pub fn validate(&self, datagram_len: usize) -> Result<()> {
        if self.version >> 4 != 1 {
            return Err(WireError::BadValue {
                what: "isakmp major version",
                value: u64::from(self.version >> 4),
            });
        }
        if self.length as usize != datagram_len {
            return Err(WireError::BadLength {
                what: "isakmp message length",
                len: self.length as usize,
            });
        }
        Ok(())
    }
}
