//! What policy looks at in an IP packet: addresses, protocol and ports.

use std::net::IpAddr;

use wire::{ip, ipv4, ipv6};

/// The fields a traffic selector matches. Ports are 0 for protocols without them and for
/// non-first fragments (whose ports are unknown, RFC 4301 §7.1: they match only selectors
/// that accept any port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FiveTuple {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// Ports could not be read (a later fragment, or a truncated header).
    pub opaque_ports: bool,
}

fn ports(protocol: u8, l4: &[u8]) -> Option<(u16, u16)> {
    match protocol {
        ip::TCP | ip::UDP | 132 /* SCTP */ | 136 /* UDP-Lite */ => {
            let b = l4.get(..4)?;
            Some((
                u16::from_be_bytes([b[0], b[1]]),
                u16::from_be_bytes([b[2], b[3]]),
            ))
        }
        // ICMP type and code stand in the port fields (RFC 4301 §4.4.1.1).
        ip::ICMP | ip::ICMPV6 => {
            let b = l4.get(..2)?;
            Some((u16::from(b[0]), u16::from(b[1])))
        }
        _ => Some((0, 0)),
    }
}

/// Reads the five-tuple of an IPv4 or IPv6 packet; `None` if it is not a well-formed IP
/// packet (the caller drops it and counts that).
pub fn five_tuple(packet: &[u8]) -> Option<FiveTuple> {
    match ip::version(packet).ok()? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(packet).ok()?;
            let first = p.frag_offset() == 0;
            let pp = if first {
                ports(p.protocol(), p.payload())
            } else {
                None
            };
            Some(FiveTuple {
                src: p.src().into(),
                dst: p.dst().into(),
                protocol: p.protocol(),
                src_port: pp.map_or(0, |x| x.0),
                dst_port: pp.map_or(0, |x| x.1),
                opaque_ports: pp.is_none(),
            })
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(packet).ok()?;
            let w = p.walk().ok()?;
            let l4 = packet.get(ipv6::HEADER_LEN + w.offset..p.total_len())?;
            let pp = if w.fragment {
                None
            } else {
                ports(w.protocol, l4)
            };
            Some(FiveTuple {
                src: p.src().into(),
                dst: p.dst().into(),
                protocol: w.protocol,
                src_port: pp.map_or(0, |x| x.0),
                dst_port: pp.map_or(0, |x| x.1),
                opaque_ports: pp.is_none(),
            })
        }
    }
}
