//! The ESP/AH data path core (sans-IO): packets in, packets out, no sockets and no clock.
//!
//! Built so far: the anti-replay window ([`replay`]) and ESP seal/open of one SA's payloads
//! for every suite in the crypto registry ([`sa`]). The SA database, tunnel/transport
//! packet framing, AH, NAT-T, lifetimes and counters follow (issue 3).
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
