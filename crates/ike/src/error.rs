//! The crate's error type: why one message could not be processed. The engine turns these
//! into dropped datagrams, error notifications or [`crate::Event::Failed`]; they never
//! escape as panics.

use thiserror::Error;

/// What went wrong while handling a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IkeError {
    #[error("malformed message: {0}")]
    Wire(#[from] wire::WireError),
    #[error("crypto: {0}")]
    Crypto(#[from] crypto::CryptoError),
    /// The ICV or AEAD tag of an encrypted payload did not verify.
    #[error("integrity check failed")]
    Integrity,
    /// A message that parses but breaks the protocol (missing payload, bad value).
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
}

pub type Result<T> = core::result::Result<T, IkeError>;
