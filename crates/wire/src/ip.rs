//! IP protocol numbers (IANA "Assigned Internet Protocol Numbers") shared by IPv4's protocol
//! field and IPv6's next-header field, and a version sniff for raw packets.

use crate::error::{Result, WireError};

/// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
pub const HOPOPT: u8 = 0;
/// ICMP for IPv4 (RFC 792).
pub const ICMP: u8 = 1;
/// IPv4 encapsulated in IP (tunnel mode inner IPv4, RFC 4303 §3.1.2).
pub const IPV4: u8 = 4;
/// TCP.
pub const TCP: u8 = 6;
/// UDP (RFC 768).
pub const UDP: u8 = 17;
/// IPv6 encapsulated (tunnel mode inner IPv6).
pub const IPV6: u8 = 41;
/// IPv6 Routing header (RFC 8200 §4.4).
pub const IPV6_ROUTE: u8 = 43;
/// IPv6 Fragment header (RFC 8200 §4.5).
pub const IPV6_FRAG: u8 = 44;
/// Encapsulating Security Payload (RFC 4303).
pub const ESP: u8 = 50;
/// Authentication Header (RFC 4302).
pub const AH: u8 = 51;
/// ICMPv6 (RFC 4443).
pub const ICMPV6: u8 = 58;
/// No next header: ESP dummy packets (RFC 4303 §2.6) carry this.
pub const NO_NEXT: u8 = 59;
/// IPv6 Destination Options (RFC 8200 §4.6).
pub const IPV6_OPTS: u8 = 60;
/// Mobility header (RFC 6275), an extension header with the generic layout.
pub const MOBILITY: u8 = 135;

/// The IP version of a raw packet, from the first nibble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

/// Reads the version nibble of a raw IP packet (what a TUN device hands over).
pub fn version(packet: &[u8]) -> Result<IpVersion> {
    match packet.first().map(|b| b >> 4) {
        Some(4) => Ok(IpVersion::V4),
        Some(6) => Ok(IpVersion::V6),
        Some(v) => Err(WireError::BadValue {
            what: "ip version",
            value: u64::from(v),
        }),
        None => Err(WireError::Truncated {
            what: "ip packet",
            need: 1,
            have: 0,
        }),
    }
}
