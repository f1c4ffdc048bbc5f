//! The one error type of this crate: every parser returns it instead of panicking.

use thiserror::Error;

/// What went wrong while parsing or building a wire format.
///
/// `what` names the structure or field (e.g. `"ipv4 header"`, `"ikev2 notify"`) so that
/// a log line points at the offending part of a packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The buffer ends before the structure does.
    #[error("{what}: truncated, need {need} bytes, have {have}")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A length field disagrees with the buffer or with the structure's rules.
    #[error("{what}: bad length {len}")]
    BadLength { what: &'static str, len: usize },
    /// A field holds a value this format forbids (bad version, reserved bits set, ...).
    #[error("{what}: bad value {value}")]
    BadValue { what: &'static str, value: u64 },
    /// A payload or header type that cannot appear where it was found.
    #[error("{what}: unexpected type {value}")]
    UnexpectedType { what: &'static str, value: u64 },
    /// A header checksum does not verify.
    #[error("{what}: checksum mismatch")]
    BadChecksum { what: &'static str },
    /// The output buffer is too small to build the structure into.
    #[error("{what}: output buffer too small, need {need} bytes, have {have}")]
    BufferTooSmall {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// A value is too large to be encoded in its length field.
    #[error("{what}: value of {len} bytes too long to encode")]
    TooLong { what: &'static str, len: usize },
}

/// Shorthand used throughout the crate.
pub type Result<T> = core::result::Result<T, WireError>;
