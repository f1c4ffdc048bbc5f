//! Filter addresses as written (generic) and as compiled (prefixes).
//!
//! A generic filter names an address the way the IP Security Policy snap-in and netsh do:
//! any, "my IP address", a specific IP or subnet, a DNS name, or one of the logical
//! "server" addresses (DNS, WINS, DHCP servers, default gateway) that the host's own
//! configuration supplies. Compilation turns all of them into [`Prefix`]es.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

/// The logical server addresses netsh accepts as `srcaddr`/`dstaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    Dns,
    Wins,
    Dhcp,
    Gateway,
}

impl ServerKind {
    pub const ALL: [ServerKind; 4] = [
        ServerKind::Dns,
        ServerKind::Wins,
        ServerKind::Dhcp,
        ServerKind::Gateway,
    ];

    /// The netsh keyword (`DNS`, `WINS`, `DHCP`, `GATEWAY`).
    pub fn keyword(self) -> &'static str {
        match self {
            ServerKind::Dns => "DNS",
            ServerKind::Wins => "WINS",
            ServerKind::Dhcp => "DHCP",
            ServerKind::Gateway => "GATEWAY",
        }
    }

    /// How the snap-in describes it.
    pub fn description(self) -> &'static str {
        match self {
            ServerKind::Dns => "DNS Servers",
            ServerKind::Wins => "WINS Servers",
            ServerKind::Dhcp => "DHCP Server",
            ServerKind::Gateway => "Default Gateway",
        }
    }
}

/// A filter endpoint as the administrator wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Address {
    /// Any IP address (IPv4 or IPv6).
    Any,
    /// Every address of this computer.
    Me,
    /// A host (full-length prefix) or a subnet.
    Ip { addr: IpAddr, prefix: u8 },
    /// A DNS name, resolved when the policy is compiled.
    Dns { name: String },
    /// A logical address resolved from the host's configuration.
    Server { server: ServerKind },
}

/// Why an address or mask did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}': {reason}")]
pub struct AddressError {
    pub text: String,
    pub reason: String,
}

impl Address {
    /// A single host.
    pub fn host(addr: IpAddr) -> Address {
        Address::Ip {
            addr,
            prefix: full_len(addr),
        }
    }

    /// Parses a netsh address value (`any`, `me`, `DNS`/`WINS`/`DHCP`/`GATEWAY`, an IP, or
    /// a DNS name) with an optional mask (`255.255.255.0` or a prefix length such as `24`).
    /// Host bits below the mask are cleared, as the snap-in does.
    pub fn parse(addr: &str, mask: Option<&str>) -> Result<Address, AddressError> {
        let a = addr.trim();
        let err = |reason: String| AddressError {
            text: a.to_string(),
            reason,
        };
        if a.is_empty() {
            return Err(err("empty address".into()));
        }
        if a.eq_ignore_ascii_case("any") {
            return Ok(Address::Any);
        }
        if a.eq_ignore_ascii_case("me") {
            return Ok(Address::Me);
        }
        if let Some(kind) = ServerKind::ALL
            .into_iter()
            .find(|k| k.keyword().eq_ignore_ascii_case(a))
        {
            return Ok(Address::Server { server: kind });
        }
        // "10.0.0.0/24" is accepted as a convenience beside srcmask=.
        let (ip_text, inline_prefix) = match a.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (a, None),
        };
        if let Ok(ip) = ip_text.parse::<IpAddr>() {
            let mask = match (inline_prefix, mask) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "give the prefix either after '/' or as a mask, not both".into(),
                    ));
                }
                (Some(p), None) | (None, Some(p)) => Some(p),
                (None, None) => None,
            };
            let prefix = match mask {
                None => full_len(ip),
                Some(m) => parse_mask(ip, m).map_err(|reason| AddressError {
                    text: m.to_string(),
                    reason,
                })?,
            };
            return Ok(Address::Ip {
                addr: mask_ip(ip, prefix),
                prefix,
            });
        }
        if inline_prefix.is_some() || !is_dns_name(a) {
            return Err(err(
                "not an IP address, a DNS name, or any/me/DNS/WINS/DHCP/GATEWAY".into(),
            ));
        }
        if mask.is_some() {
            return Err(err("a mask applies only to an IP address".into()));
        }
        Ok(Address::Dns {
            name: a.to_ascii_lowercase(),
        })
    }

    /// True for the logical addresses that need the host's configuration.
    pub fn is_server(&self) -> bool {
        matches!(self, Address::Server { .. })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Any => f.write_str("Any"),
            Address::Me => f.write_str("Me"),
            Address::Ip { addr, prefix } if *prefix == full_len(*addr) => write!(f, "{addr}"),
            Address::Ip { addr, prefix } => write!(f, "{addr}/{prefix}"),
            Address::Dns { name } => write!(f, "{name} (DNS name)"),
            Address::Server { server } => f.write_str(server.description()),
        }
    }
}

fn full_len(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// A dotted mask must be contiguous ones; a number is a prefix length.
fn parse_mask(ip: IpAddr, m: &str) -> Result<u8, String> {
    let m = m.trim();
    let max = full_len(ip);
    if let Ok(n) = m.parse::<u8>() {
        return if n <= max {
            Ok(n)
        } else {
            Err(format!("prefix length must be 0-{max}"))
        };
    }
    match (ip, m.parse::<Ipv4Addr>()) {
        (IpAddr::V4(_), Ok(mask)) => {
            let bits = u32::from(mask);
            let ones = bits.leading_ones();
            if bits.checked_shl(ones).unwrap_or(0) != 0 {
                Err("mask is not contiguous ones (such as 255.255.255.0)".into())
            } else {
                Ok(ones as u8)
            }
        }
        (IpAddr::V6(_), Ok(_)) => {
            Err("an IPv6 address takes a prefix length, not a dotted mask".into())
        }
        _ => Err("not a mask (255.255.255.0) or a prefix length (24)".into()),
    }
}

fn mask_ip(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

/// RFC 1123 host names: letters, digits, hyphens and dots, with at least one letter so
/// that mistyped IP addresses are not taken for names.
fn is_dns_name(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// A compiled address: a prefix in one 128-bit space where IPv4 addresses are
/// IPv4-mapped (`::ffff:a.b.c.d`), so one classifier handles both families. Length 0 is
/// "any address of either family".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Prefix {
    pub bits: u128,
    pub len: u8,
}

const V4_MAPPED: u128 = 0xffff_u128 << 32;

impl Prefix {
    pub const ANY: Prefix = Prefix { bits: 0, len: 0 };

    /// A prefix of `len` bits in the address's own family.
    pub fn new(ip: IpAddr, len: u8) -> Prefix {
        let (bits, len) = match ip {
            IpAddr::V4(v4) => (V4_MAPPED | u128::from(u32::from(v4)), 96 + len.min(32)),
            IpAddr::V6(v6) => (u128::from(v6), len.min(128)),
        };
        Prefix {
            bits: bits & mask(len),
            len,
        }
    }

    pub fn host(ip: IpAddr) -> Prefix {
        Prefix::new(ip, full_len(ip))
    }

    /// The address as a key in the 128-bit space.
    pub fn key(ip: IpAddr) -> u128 {
        match ip {
            IpAddr::V4(v4) => V4_MAPPED | u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    pub fn contains(&self, key: u128) -> bool {
        key & mask(self.len) == self.bits
    }

    pub fn is_v4(&self) -> bool {
        self.len >= 96 && self.bits & mask(96) == V4_MAPPED
    }

    /// Prefix length within its own family (what an administrator would write), used for
    /// the specificity weight.
    pub fn family_len(&self) -> u8 {
        if self.len == 0 {
            0
        } else if self.is_v4() {
            self.len - 96
        } else {
            self.len
        }
    }

    /// True when the two prefixes can both describe addresses of one family, so that a
    /// packet could match both (an IPv4 source never goes with an IPv6 destination).
    pub fn same_family(&self, other: &Prefix) -> bool {
        self.len == 0 || other.len == 0 || self.is_v4() == other.is_v4()
    }

    /// The network address of the prefix in its family.
    pub fn ip(&self) -> IpAddr {
        if self.is_v4() {
            IpAddr::V4(Ipv4Addr::from(self.bits as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.bits))
        }
    }
}

/// The mask of the top `len` bits.
pub fn mask(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return f.write_str("Any");
        }
        let ip = self.ip();
        let fl = self.family_len();
        if fl == full_len(ip) {
            write!(f, "{ip}")
        } else {
            write!(f, "{ip}/{fl}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_masks() {
        assert_eq!(Address::parse("ANY", None).unwrap(), Address::Any);
        assert_eq!(Address::parse("me", None).unwrap(), Address::Me);
        assert_eq!(
            Address::parse("wins", None).unwrap(),
            Address::Server {
                server: ServerKind::Wins
            }
        );
        assert_eq!(
            Address::parse("10.1.2.3", Some("255.255.0.0")).unwrap(),
            Address::Ip {
                addr: "10.1.0.0".parse().unwrap(),
                prefix: 16
            }
        );
        assert_eq!(
            Address::parse("10.1.2.0/24", None).unwrap().to_string(),
            "10.1.2.0/24"
        );
        assert_eq!(
            Address::parse("2001:db8::1", Some("64"))
                .unwrap()
                .to_string(),
            "2001:db8::/64"
        );
        assert_eq!(
            Address::parse("Server1.Example.com", None).unwrap(),
            Address::Dns {
                name: "server1.example.com".into()
            }
        );
    }

    #[test]
    fn bad_addresses_say_why() {
        assert!(
            Address::parse("10.0.0.1", Some("255.0.255.0"))
                .unwrap_err()
                .reason
                .contains("contiguous")
        );
        assert!(Address::parse("10.0.0.1", Some("33")).is_err());
        assert!(Address::parse("10.0.0.300", None).is_err());
        assert!(Address::parse("host.example", Some("24")).is_err());
        assert!(Address::parse("", None).is_err());
        assert!(Address::parse("a b", None).is_err());
    }

    #[test]
    fn prefixes_keep_families_apart() {
        let v4 = Prefix::new("10.0.0.0".parse().unwrap(), 8);
        assert!(v4.contains(Prefix::key("10.9.9.9".parse().unwrap())));
        assert!(!v4.contains(Prefix::key("11.0.0.1".parse().unwrap())));
        assert_eq!(v4.to_string(), "10.0.0.0/8");
        assert_eq!(v4.family_len(), 8);
        let v4any = Prefix::new("0.0.0.0".parse().unwrap(), 0);
        assert!(!v4any.contains(Prefix::key("::1".parse().unwrap())));
        assert!(Prefix::ANY.contains(Prefix::key("::1".parse().unwrap())));
        let v6 = Prefix::host("2001:db8::1".parse().unwrap());
        assert!(!v6.same_family(&v4));
        assert!(v6.same_family(&Prefix::ANY));
        assert_eq!(v6.to_string(), "2001:db8::1");
    }
}
