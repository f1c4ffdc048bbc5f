//! Oakley's byte formats.
//!
//! Fast-path formats (IP, UDP, ESP, AH) are zero-copy views over a buffer in the style of
//! smoltcp (`Packet<T: AsRef<[u8]>>` with checked constructors) plus plain `Repr` values;
//! the rich IKE payload trees are owned representations parsed from and emitted to bytes.
//! Parsing never panics and never reads out of bounds: malformed input is a [`WireError`].
#![forbid(unsafe_code)]

pub mod cursor;
pub mod error;

pub mod ah;
pub mod checksum;
pub mod esp;
pub mod icmp;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
pub mod natt;
pub mod udp;

pub mod attribute;
mod delete_spis;
pub mod ike_header;
pub mod ikev1;
pub mod ikev2;

pub use error::{Result, WireError};
