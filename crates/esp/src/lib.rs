//! The ESP/AH data path core (sans-IO): packets in, packets out, no sockets and no clock.
//!
//! Built so far: the anti-replay window ([`replay`]). Security associations, ESP/AH
//! seal/open, NAT-T encapsulation, lifetimes and counters follow (issue 3).
#![forbid(unsafe_code)]

pub mod replay;
