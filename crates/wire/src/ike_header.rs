//! The fixed header shared by ISAKMP (RFC 2408 §3.1) and IKEv2 (RFC 7296 §3.1): the same 28
//! bytes in both, read the same way; each version validates it with its own major number.

use crate::cursor::Reader;
use crate::error::{Result, WireError};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 28;

/// The IKE header. In IKEv1 the SPIs are the initiator and responder cookies. The version
/// byte is kept whole so an engine can see a higher major version and answer
/// INVALID_MAJOR_VERSION; `Message::parse` of each version rejects a foreign one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub spi_i: u64,
    pub spi_r: u64,
    /// First payload type (for an encrypted IKEv1 body: of the first payload inside).
    pub next_payload: u8,
    /// Major version in the high nibble, minor in the low.
    pub version: u8,
    pub exchange: u8,
    pub flags: u8,
    pub message_id: u32,
    /// The length field: the whole message in bytes (filled in by `Message::emit`).
    pub length: u32,
}

impl Header {
    /// Reads the header fields without judging them (any version, any length).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "ike header");
        Ok(Self {
            spi_i: r.u64()?,
            spi_r: r.u64()?,
            next_payload: r.u8()?,
            version: r.u8()?,
            exchange: r.u8()?,
            flags: r.u8()?,
            message_id: r.u32()?,
            length: r.u32()?,
        })
    }

    /// Major version number.
    pub fn major(&self) -> u8 {
        self.version >> 4
    }

    /// Appends the header as is.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spi_i.to_be_bytes());
        out.extend_from_slice(&self.spi_r.to_be_bytes());
        out.extend_from_slice(&[self.next_payload, self.version, self.exchange, self.flags]);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// Checks the major version and that the length field equals the datagram's length.
    pub fn validate(&self, major: u8, datagram_len: usize, what: &'static str) -> Result<()> {
        if self.major() != major {
            return Err(WireError::BadValue {
                what,
                value: u64::from(self.major()),
            });
        }
        if self.length as usize != datagram_len {
            return Err(WireError::BadLength {
                what: "ike message length",
                len: self.length as usize,
            });
        }
        Ok(())
    }
}
