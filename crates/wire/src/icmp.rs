//! ICMP for IPv4 (RFC 792) and ICMPv6 (RFC 4443): parsing of the common header and
//! building the "too big" errors a tunnel endpoint owes a sender whose packet no longer
//! fits once ESP overhead is added (RFC 1191 §4, RFC 8201, RFC 4303 §8 / RFC 4301 §8).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::checksum;
use crate::error::{Result, WireError};
use crate::{ip, ipv4, ipv6};

/// ICMPv4 types and codes used here.
pub mod v4 {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    /// Code of DEST_UNREACHABLE: fragmentation needed and DF set (RFC 792, RFC 1191).
    pub const CODE_FRAG_NEEDED: u8 = 4;
}

/// ICMPv6 types used here.
pub mod v6 {
    pub const DEST_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
}

/// ICMP header length (type, code, checksum, 4 bytes of type-specific data).
pub const HEADER_LEN: usize = 8;

/// Largest ICMPv4 error datagram RFC 1812 §4.3.2.3 lets us send.
pub const V4_ERROR_MAX: usize = 576;
/// Largest ICMPv6 error packet (RFC 4443 §2.4(c)): the IPv6 minimum MTU.
pub const V6_ERROR_MAX: usize = 1280;

/// A view of an ICMP or ICMPv6 message (the IP payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_checked(buf: T) -> Result<Self> {
        let have = buf.as_ref().len();
        if have < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "icmp header",
                need: HEADER_LEN,
                have,
            });
        }
        Ok(Self { buf })
    }

    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[0]
    }

    pub fn code(&self) -> u8 {
        self.buf.as_ref()[1]
    }

    pub fn checksum(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// Echo identifier (echo request/reply only).
    pub fn echo_ident(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }

    /// Echo sequence number (echo request/reply only).
    pub fn echo_seq(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }

    /// Next-hop MTU of an ICMPv4 "fragmentation needed" (RFC 1191 §4).
    pub fn v4_next_hop_mtu(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }

    /// MTU of an ICMPv6 "packet too big" (RFC 4443 §3.2).
    pub fn v6_mtu(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    /// The body after the 8-byte header (for errors: the invoking packet).
    pub fn data(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }

    /// ICMPv4 checksum: over the message alone.
    pub fn verify_v4(&self) -> bool {
        checksum::checksum(self.buf.as_ref()) == 0
    }

    /// ICMPv6 checksum: over the pseudo-header and the message (RFC 4443 §2.3).
    pub fn verify_v6(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buf.as_ref();
        let acc = checksum::pseudo_v6(src, dst, ip::ICMPV6, b.len() as u32);
        checksum::finish(checksum::sum(acc, b)) == 0
    }
}

/// Builds a whole IPv4 packet carrying ICMP "destination unreachable, fragmentation
/// needed" (type 3 code 4) with `mtu` as next-hop MTU, addressed from `from` to the source
/// of `offending`. The invoking datagram is quoted as far as the result stays within
/// [`V4_ERROR_MAX`] bytes. Returns the length written to `out`.
pub fn build_v4_frag_needed(
    offending: &[u8],
    from: Ipv4Addr,
    mtu: u16,
    out: &mut [u8],
) -> Result<usize> {
    let orig = ipv4::Packet::new_checked(offending)?;
    let quoted = &offending[..orig.total_len().min(V4_ERROR_MAX - 20 - HEADER_LEN)];
    let icmp_len = HEADER_LEN + quoted.len();
    let total = 20 + icmp_len;
    if out.len() < total {
        return Err(WireError::BufferTooSmall {
            what: "icmp frag needed",
            need: total,
            have: out.len(),
        });
    }
    ipv4::Repr {
        src: from,
        dst: orig.src(),
        protocol: ip::ICMP,
        payload_len: icmp_len,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(out)?;
    let m = &mut out[20..total];
    m[0] = v4::DEST_UNREACHABLE;
    m[1] = v4::CODE_FRAG_NEEDED;
    m[2..6].copy_from_slice(&[0, 0, 0, 0]);
    m[6..8].copy_from_slice(&mtu.to_be_bytes());
    m[HEADER_LEN..].copy_from_slice(quoted);
    let c = checksum::checksum(m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(total)
}

/// Builds a whole IPv6 packet carrying ICMPv6 "packet too big" with `mtu`, from `from` to
/// the source of `offending`, quoting as much of it as fits in [`V6_ERROR_MAX`] bytes.
pub fn build_v6_packet_too_big(
    offending: &[u8],
    from: Ipv6Addr,
    mtu: u32,
    out: &mut [u8],
) -> Result<usize> {
    let orig = ipv6::Packet::new_checked(offending)?;
    let quoted = &offending[..orig
        .total_len()
        .min(V6_ERROR_MAX - ipv6::HEADER_LEN - HEADER_LEN)];
    let icmp_len = HEADER_LEN + quoted.len();
    let total = ipv6::HEADER_LEN + icmp_len;
    if out.len() < total {
        return Err(WireError::BufferTooSmall {
            what: "icmpv6 packet too big",
            need: total,
            have: out.len(),
        });
    }
    let dst = orig.src();
    ipv6::Repr {
        src: from,
        dst,
        next_header: ip::ICMPV6,
        payload_len: icmp_len,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(out)?;
    let m = &mut out[ipv6::HEADER_LEN..total];
    m[0] = v6::PACKET_TOO_BIG;
    m[1] = 0;
    m[2..4].copy_from_slice(&[0, 0]);
    m[4..8].copy_from_slice(&mtu.to_be_bytes());
    m[HEADER_LEN..].copy_from_slice(quoted);
    let acc = checksum::pseudo_v6(from, dst, ip::ICMPV6, icmp_len as u32);
    let c = checksum::finish(checksum::sum(acc, m));
    m[2..4].copy_from_slice(&c.to_be_bytes());
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4_packet(len: usize) -> Vec<u8> {
        let mut b = vec![0x5a; len];
        ipv4::Repr {
            src: Ipv4Addr::new(10, 1, 0, 1),
            dst: Ipv4Addr::new(10, 2, 0, 1),
            protocol: ip::UDP,
            payload_len: len - 20,
            ttl: 64,
            dscp_ecn: 0,
            ident: 7,
            dont_frag: true,
        }
        .emit(&mut b)
        .unwrap();
        b
    }

    #[test]
    fn frag_needed_quotes_and_checks() {
        let orig = v4_packet(1500);
        let mut out = [0u8; 1600];
        let n = build_v4_frag_needed(&orig, Ipv4Addr::new(10, 1, 0, 254), 1400, &mut out).unwrap();
        assert_eq!(n, V4_ERROR_MAX);
        let ip = ipv4::Packet::new_checked(&out[..n]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.dst(), Ipv4Addr::new(10, 1, 0, 1));
        let m = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!((m.msg_type(), m.code()), (3, 4));
        assert_eq!(m.v4_next_hop_mtu(), 1400);
        assert!(m.verify_v4());
        assert_eq!(&m.data()[..20], &orig[..20]);
        // A short datagram is quoted whole.
        let small = v4_packet(60);
        let n = build_v4_frag_needed(&small, Ipv4Addr::new(10, 1, 0, 254), 1400, &mut out).unwrap();
        assert_eq!(n, 20 + 8 + 60);
        assert!(build_v4_frag_needed(&small[..10], Ipv4Addr::LOCALHOST, 1, &mut out).is_err());
        assert!(build_v4_frag_needed(&small, Ipv4Addr::LOCALHOST, 1, &mut out[..50]).is_err());
    }

    #[test]
    fn packet_too_big_fits_minimum_mtu() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let mut orig = vec![0u8; 2000];
        ipv6::Repr {
            src,
            dst: "2001:db8::2".parse().unwrap(),
            next_header: ip::UDP,
            payload_len: 1960,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut orig)
        .unwrap();
        let from: Ipv6Addr = "2001:db8::fe".parse().unwrap();
        let mut out = [0u8; 2048];
        let n = build_v6_packet_too_big(&orig, from, 1400, &mut out).unwrap();
        assert_eq!(n, V6_ERROR_MAX);
        let ip = ipv6::Packet::new_checked(&out[..n]).unwrap();
        assert_eq!(ip.dst(), src);
        let m = Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(m.msg_type(), v6::PACKET_TOO_BIG);
        assert_eq!(m.v6_mtu(), 1400);
        assert!(m.verify_v6(from, src));
        assert!(!m.verify_v6(from, "2001:db8::3".parse().unwrap()));
    }

    #[test]
    fn echo_fields() {
        let mut b = [8u8, 0, 0, 0, 0x12, 0x34, 0x00, 0x05, 1, 2];
        let c = checksum::checksum(&b);
        b[2..4].copy_from_slice(&c.to_be_bytes());
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!((p.echo_ident(), p.echo_seq()), (0x1234, 5));
        assert!(p.verify_v4());
        assert!(Packet::new_checked(&b[..7]).is_err());
    }

    proptest! {
        #[test]
        fn builders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = [0u8; 1500];
            let _ = build_v4_frag_needed(&b, Ipv4Addr::LOCALHOST, 1000, &mut out);
            let _ = build_v6_packet_too_big(&b, Ipv6Addr::LOCALHOST, 1280, &mut out);
        }
    }
}
