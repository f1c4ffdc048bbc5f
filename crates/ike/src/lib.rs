//! Oakley's IKEv2 engine (RFC 7296) as a sans-IO state machine.
//!
//! An [`Endpoint`] holds every IKE session of the host. Datagrams
//! ([`Endpoint::handle_datagram`]), acquires ([`Endpoint::acquire`]) and timer ticks
//! ([`Endpoint::handle_timeout`]) go in, each with the current [`Time`] and a [`Rng`];
//! [`Endpoint::poll_output`] gives back datagrams to send, child SAs to install or delete
//! and log events, and [`Endpoint::next_timeout`] says when to call again. Nothing here
//! opens a socket, reads a clock or draws randomness by itself, so a simulation replays
//! the same run from the same seed.
//!
//! Exchanges: IKE_SA_INIT with cookies and INVALID_KE_PAYLOAD retries, IKE_AUTH with
//! pre-shared keys, CREATE_CHILD_SA (new child, child rekey with or without PFS, IKE SA
//! rekey, simultaneous rekeys), INFORMATIONAL (deletes, liveness checks). NAT detection
//! floats to port 4500; large encrypted messages are fragmented (RFC 7383).
#![forbid(unsafe_code)]

mod auth;
pub mod config;
mod endpoint;
mod error;
mod exchange_auth;
mod exchange_child;
mod exchange_info;
mod exchange_init;
mod fragment;
mod nat;
pub mod output;
mod proposal;
mod rng;
mod sa;
mod session;
mod sk;
mod time;
mod ts;

pub use config::{AuthMethod, ChildSuite, EndpointConfig, IkeSuite, Lifetime, Mode, PeerConfig};
pub use endpoint::{ChildInfo, Endpoint};
pub use error::IkeError;
pub use output::{
    ChildId, ChildSaDelete, ChildSaInstall, DirectionKeys, Event, Failure, Output, SessionId,
    Transmit,
};
pub use rng::Rng;
pub use time::Time;
