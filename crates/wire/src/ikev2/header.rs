//! The IKE header (RFC 7296 §3.1).

use crate::cursor::Reader;
use crate::error::{Result, WireError};

/// Length of the fixed IKE header.
pub const HEADER_LEN: usize = 28;

/// The IKE header. The version is kept whole so an engine can see a higher major version
/// and answer INVALID_MAJOR_VERSION (§2.5); [`super::Message::parse`] rejects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    pub spi_i: u64,
    pub spi_r: u64,
    /// First payload type (filled in by `Message::emit`).
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
        let mut r = Reader::new(bytes, "ikev2 header");
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

    /// True for a response (R flag).
    pub fn is_response(&self) -> bool {
        self.flags & super::flags::RESPONSE != 0
    }

    /// True when sent by the original initiator (I flag).
    pub fn is_initiator(&self) -> bool {
        self.flags & super::flags::INITIATOR != 0
    }

    /// Appends the header as is.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.spi_i.to_be_bytes());
        out.extend_from_slice(&self.spi_r.to_be_bytes());
        out.push(self.next_payload);
        out.push(self.version);
        out.push(self.exchange);
        out.push(self.flags);
        out.extend_from_slice(&self.message_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }

    /// Checks what every IKEv2 message must satisfy: major version 2 and a length field
    /// equal to the datagram's length.
    pub fn validate(&self, datagram_len: usize) -> Result<()> {
        if self.major() != 2 {
            return Err(WireError::BadValue {
                what: "ikev2 major version",
                value: u64::from(self.major()),
            });
        }
        if self.length as usize != datagram_len {
            return Err(WireError::BadLength {
                what: "ikev2 message length",
                len: self.length as usize,
            });
        }
        Ok(())
    }
}
