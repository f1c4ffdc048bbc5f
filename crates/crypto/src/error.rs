//! The crate's error type.

use thiserror::Error;

/// What went wrong in a cryptographic operation. Values that come from a peer (public
/// keys, ICVs) produce errors, never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// No algorithm is registered under this number (IKE version, transform type, ID).
    #[error("unsupported {kind} algorithm {id}")]
    Unsupported { kind: &'static str, id: u16 },
    /// A key, IV, nonce or buffer of the wrong length.
    #[error("{what}: bad length {len}")]
    BadLength { what: &'static str, len: usize },
    /// The integrity check failed (ICV or AEAD tag).
    #[error("integrity check failed")]
    BadIcv,
    /// A peer's key exchange value is invalid (out of range, not on the curve, degenerate).
    #[error("invalid peer public value for group {group}")]
    InvalidPeerKey { group: u16 },
    /// The caller's randomness did not give a usable private key (retry with new bytes).
    #[error("unusable private key material for group {group}")]
    BadPrivateKey { group: u16 },
    /// prf+ was asked for more than 255 blocks (RFC 7296 §2.13).
    #[error("prf+ output of {len} bytes exceeds 255 iterations")]
    PrfPlusTooLong { len: usize },
    /// The backing library refused an operation it should accept.
    #[error("crypto backend failure in {0}")]
    Backend(&'static str),
}

pub type Result<T> = core::result::Result<T, CryptoError>;
