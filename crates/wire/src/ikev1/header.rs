//! The ISAKMP header (RFC 2408 §3.1), shared with IKEv2; `spi_i`/`spi_r` are the cookies.

pub use crate::ike_header::{HEADER_LEN, Header};

impl Header {
    /// True when the body is encrypted (E flag).
    pub fn is_encrypted(&self) -> bool {
        self.flags & super::flags::ENCRYPTION != 0
    }
}
