//! The IKE header (RFC 7296 §3.1), shared with ISAKMP; the IKEv2 flag helpers.

pub use crate::ike_header::{HEADER_LEN, Header};

impl Header {
    /// True for a response (R flag).
    pub fn is_response(&self) -> bool {
        self.flags & super::flags::RESPONSE != 0
    }

    /// True when sent by the original initiator (I flag).
    pub fn is_initiator(&self) -> bool {
        self.flags & super::flags::INITIATOR != 0
    }
}
