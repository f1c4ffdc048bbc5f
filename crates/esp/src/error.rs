//! Why a packet was dropped. Every variant is a counted drop reason, never a panic.

use thiserror::Error;

use crate::replay::ReplayError;

/// A dropped packet and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EspError {
    /// Too short for the header, IV, trailer and ICV of this SA.
    #[error("truncated: {0}")]
    Truncated(&'static str),
    /// The IP packet carries neither ESP nor UDP-encapsulated ESP (this protocol instead).
    #[error("not esp: ip protocol {0}")]
    NotEsp(u8),
    /// The SPI does not match this SA.
    #[error("wrong spi {0:#010x}")]
    WrongSpi(u32),
    /// Anti-replay refused the sequence number.
    #[error("replay: {0}")]
    Replay(#[from] ReplayError),
    /// The ICV did not verify ("packets not authenticated").
    #[error("integrity check failed")]
    BadIcv,
    /// Decrypted but malformed: padding, pad length or block alignment ("packets not
    /// decrypted").
    #[error("bad padding or length")]
    BadPadding,
    /// A tunnel's decrypted payload is not a whole IP packet.
    #[error("bad inner packet: {0}")]
    BadInner(&'static str),
    /// Well formed, but something this implementation declines to process rather than
    /// guess at (an IPv6 routing header under AH, whose final layout it would predict).
    #[error("refused: {0}")]
    Refused(&'static str),
    /// The output buffer cannot hold the result.
    #[error("buffer too small: need {need}, have {have}")]
    BufferTooSmall { need: usize, have: usize },
    /// The outbound sequence number would wrap (RFC 4303 §3.3.3): the SA must be rekeyed.
    #[error("sequence number exhausted")]
    SequenceExhausted,
    /// The SA reached its hard lifetime.
    #[error("sa expired")]
    Expired,
    /// Keying or algorithm setup failed.
    #[error("crypto: {0}")]
    Crypto(#[from] crypto::CryptoError),
}
