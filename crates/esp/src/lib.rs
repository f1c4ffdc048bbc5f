//! The ESP/AH data path core (sans-IO): packets in, packets out, no sockets and no clock.
//!
//! [`sa`] seals and opens ESP payloads for every suite in the crypto registry, [`framing`]
//! whole packets (tunnel/transport, IPv4/IPv6, raw or UDP-encapsulated), [`ah`] AH;
//! [`replay`] is the anti-replay window, [`lifetime`] and [`counters`] the per-SA limits
//! and statistics, [`sad`] the SA database, [`keyexport`] the Wireshark key table.
#![forbid(unsafe_code)]

pub mod ah;
pub mod counters;
pub mod error;
pub mod framing;
pub mod keyexport;
pub mod lifetime;
pub mod replay;
pub mod sa;
pub mod sad;

pub use error::EspError;
pub use sa::{Accounted, Inbound, Mode, Opened, Outbound, Transform};
