//! IPv6 fixed header (RFC 8200 §3) and the extension-header walk (RFC 8200 §4) that finds
//! the upper-layer header, or the ESP/AH header that IPsec processing starts at.

use std::net::Ipv6Addr;

use crate::error::{Result, WireError};
use crate::ip;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

/// Most extension headers a walk accepts before it gives up: a hostile chain of tiny
/// headers must end in an error, not a long loop. RFC 8200 §4.1 recommends at most one of
/// each kind (two destination-options headers), so 8 leaves room.
pub const MAX_EXT_HEADERS: usize = 8;

mod field {
    use core::ops::Range;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// A view of an IPv6 packet; `new_checked` guarantees the fixed header and the payload
/// length fit the buffer.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    /// Checks the version and that the payload length fits the buffer. A jumbogram
    /// (payload length 0, RFC 2675) is rejected: nothing here carries one.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "ipv6 header",
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::BadValue {
                what: "ipv6 version",
                value: u64::from(b[0] >> 4),
            });
        }
        let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if b.len() < HEADER_LEN + plen {
            return Err(WireError::Truncated {
                what: "ipv6 packet",
                need: HEADER_LEN + plen,
                have: b.len(),
            });
        }
        Ok(Self { buf })
    }

    pub fn into_inner(self) -> T {
        self.buf
    }

    pub fn traffic_class(&self) -> u8 {
        let b = self.buf.as_ref();
        (b[0] << 4) | (b[1] >> 4)
    }

    pub fn flow_label(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]])
    }

    pub fn payload_len(&self) -> usize {
        let b = self.buf.as_ref();
        usize::from(u16::from_be_bytes([b[4], b[5]]))
    }

    /// Total packet length (header + payload), excluding any link padding.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.payload_len()
    }

    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[field::NEXT_HEADER]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buf.as_ref()[field::HOP_LIMIT]
    }

    pub fn src(&self) -> Ipv6Addr {
        addr(&self.buf.as_ref()[field::SRC])
    }

    pub fn dst(&self) -> Ipv6Addr {
        addr(&self.buf.as_ref()[field::DST])
    }

    /// Everything after the fixed header, up to the payload length.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.total_len()]
    }

    /// Walks the extension headers; see [`walk`].
    pub fn walk(&self) -> Result<Walk> {
        walk(self.next_header(), self.payload())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_payload_len(&mut self, len: u16) {
        self.buf.as_mut()[field::PAYLOAD_LEN].copy_from_slice(&len.to_be_bytes());
    }

    pub fn set_next_header(&mut self, nh: u8) {
        self.buf.as_mut()[field::NEXT_HEADER] = nh;
    }

    pub fn set_hop_limit(&mut self, h: u8) {
        self.buf.as_mut()[field::HOP_LIMIT] = h;
    }

    pub fn set_src(&mut self, a: Ipv6Addr) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    pub fn set_dst(&mut self, a: Ipv6Addr) {
        self.buf.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let t = self.total_len();
        &mut self.buf.as_mut()[HEADER_LEN..t]
    }
}

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    Ipv6Addr::from(a)
}

/// An options area (Hop-by-Hop or Destination Options) found during a walk, as offsets
/// relative to the start of the IPv6 payload, for AH's ICV computation (RFC 4302
/// §3.3.3.1.2 zeroes the data of options whose type has the 0x20 "may change" bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptionsArea {
    pub start: usize,
    pub end: usize,
}

/// The result of walking the extension headers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Walk {
    /// The header the walk stopped at: an upper-layer protocol, ESP, AH or No Next Header.
    pub protocol: u8,
    /// Offset of that header from the start of the IPv6 payload.
    pub offset: usize,
    /// Offset (from the payload start) of the next-header byte that names `protocol`,
    /// or `None` when it is the fixed header's field. IPsec rewrites it.
    pub next_header_at: Option<usize>,
    /// A Fragment header was crossed: the upper-layer header may be absent.
    pub fragment: bool,
    /// Options areas crossed (at most [`MAX_EXT_HEADERS`]).
    pub options: [OptionsArea; MAX_EXT_HEADERS],
    pub options_count: usize,
    /// A Routing header was crossed (AH treats its fields as mutable-but-predictable).
    pub routing_at: Option<usize>,
}

/// Walks the extension headers of an IPv6 payload starting with `first` until the
/// upper-layer header or an ESP/AH header (IPsec processing begins there; RFC 4303 §3.1.1
/// places ESP after hop-by-hop, routing and fragment headers). No Next Header (59) also
/// ends the walk.
pub fn walk(first: u8, payload: &[u8]) -> Result<Walk> {
    let mut w = Walk {
        protocol: first,
        ..Walk::default()
    };
    let mut off = 0usize;
    for _ in 0..=MAX_EXT_HEADERS {
        let len = match w.protocol {
            ip::HOPOPT | ip::IPV6_ROUTE | ip::IPV6_OPTS | ip::MOBILITY => {
                let hdr = payload.get(off..off + 2).ok_or(WireError::Truncated {
                    what: "ipv6 extension header",
                    need: off + 2,
                    have: payload.len(),
                })?;
                let len = (usize::from(hdr[1]) + 1) * 8;
                if w.protocol == ip::HOPOPT && off != 0 {
                    // RFC 8200 §4.1: hop-by-hop options only immediately after the header.
                    return Err(WireError::UnexpectedType {
                        what: "ipv6 hop-by-hop position",
                        value: off as u64,
                    });
                }
                if matches!(w.protocol, ip::HOPOPT | ip::IPV6_OPTS) {
                    if w.options_count == MAX_EXT_HEADERS {
                        break;
                    }
                    w.options[w.options_count] = OptionsArea {
                        start: off + 2,
                        end: off + len,
                    };
                    w.options_count += 1;
                }
                if w.protocol == ip::IPV6_ROUTE {
                    w.routing_at = Some(off);
                }
                len
            }
            ip::IPV6_FRAG => {
                w.fragment = true;
                8
            }
            _ => return Ok(w),
        };
        if payload.len() < off + len {
            return Err(WireError::Truncated {
                what: "ipv6 extension header",
                need: off + len,
                have: payload.len(),
            });
        }
        w.protocol = payload[off];
        w.next_header_at = Some(off);
        off += len;
        w.offset = off;
    }
    Err(WireError::BadLength {
        what: "ipv6 extension header chain",
        len: off,
    })
}

/// Checks one options area's TLV encoding (RFC 8200 §4.2) and calls `f(data_start,
/// data_end, option_type)` for each option, offsets relative to the area slice. Pad1 is a
/// single byte. AH uses this to zero mutable option data.
pub fn for_each_option(area: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<()> {
    let mut i = 0usize;
    while i < area.len() {
        let t = area[i];
        if t == 0 {
            i += 1;
            continue;
        }
        let l = usize::from(*area.get(i + 1).ok_or(WireError::Truncated {
            what: "ipv6 option",
            need: i + 2,
            have: area.len(),
        })?);
        let end = i + 2 + l;
        if end > area.len() {
            return Err(WireError::Truncated {
                what: "ipv6 option",
                need: end,
                have: area.len(),
            });
        }
        f(i + 2, end, t);
        i = end;
    }
    Ok(())
}

/// A plain IPv6 fixed header for building packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub payload_len: usize,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        Ok(Self {
            src: p.src(),
            dst: p.dst(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the fixed header into the front of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let plen = u16::try_from(self.payload_len).map_err(|_| WireError::TooLong {
            what: "ipv6 payload",
            len: self.payload_len,
        })?;
        if self.flow_label > 0xfffff {
            return Err(WireError::BadValue {
                what: "ipv6 flow label",
                value: u64::from(self.flow_label),
            });
        }
        let have = buf.len();
        let h = buf.get_mut(..HEADER_LEN).ok_or(WireError::BufferTooSmall {
            what: "ipv6 header",
            need: HEADER_LEN,
            have,
        })?;
        let first = (6u32 << 28) | (u32::from(self.traffic_class) << 20) | self.flow_label;
        h[0..4].copy_from_slice(&first.to_be_bytes());
        h[field::PAYLOAD_LEN].copy_from_slice(&plen.to_be_bytes());
        h[field::NEXT_HEADER] = self.next_header;
        h[field::HOP_LIMIT] = self.hop_limit;
        h[field::SRC].copy_from_slice(&self.src.octets());
        h[field::DST].copy_from_slice(&self.dst.octets());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn packet(next: u8, payload: &[u8]) -> Vec<u8> {
        let r = Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: next,
            payload_len: payload.len(),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0x12345,
        };
        let mut b = vec![0u8; HEADER_LEN];
        r.emit(&mut b).unwrap();
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn exact_fixed_header_bytes() {
        let b = packet(ip::UDP, &[]);
        assert_eq!(&b[0..8], &[0x60, 0x01, 0x23, 0x45, 0x00, 0x00, 17, 64]);
        assert_eq!(b[8], 0x20);
        assert_eq!(b[39], 2);
    }

    #[test]
    fn walks_to_esp_past_hop_by_hop_routing_and_fragment() {
        let mut pl = Vec::new();
        // hop-by-hop: next=routing, len 0 (8 bytes), a PadN option of 4 bytes data
        pl.extend_from_slice(&[ip::IPV6_ROUTE, 0, 1, 4, 0, 0, 0, 0]);
        // routing: next=fragment, len 0
        pl.extend_from_slice(&[ip::IPV6_FRAG, 0, 0, 0, 0, 0, 0, 0]);
        // fragment: next=ESP
        pl.extend_from_slice(&[ip::ESP, 0, 0, 0, 0, 0, 0, 1]);
        pl.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 1]);
        let b = packet(ip::HOPOPT, &pl);
        let p = Packet::new_checked(&b[..]).unwrap();
        let w = p.walk().unwrap();
        assert_eq!(w.protocol, ip::ESP);
        assert_eq!(w.offset, 24);
        assert_eq!(w.next_header_at, Some(16));
        assert!(w.fragment);
        assert_eq!(w.routing_at, Some(8));
        assert_eq!(w.options_count, 1);
        assert_eq!(w.options[0], OptionsArea { start: 2, end: 8 });
        let mut seen = Vec::new();
        for_each_option(&pl[2..8], |s, e, t| seen.push((s, e, t))).unwrap();
        assert_eq!(seen, vec![(2, 6, 1)]);
    }

    #[test]
    fn hostile_chains_are_errors() {
        // Hop-by-hop not first.
        let pl = [
            ip::HOPOPT,
            0,
            1,
            4,
            0,
            0,
            0,
            0,
            ip::UDP,
            0,
            1,
            4,
            0,
            0,
            0,
            0,
        ];
        assert!(walk(ip::IPV6_OPTS, &pl).is_err());
        // A long chain of destination options.
        let mut pl = Vec::new();
        for _ in 0..20 {
            pl.extend_from_slice(&[ip::IPV6_OPTS, 0, 1, 4, 0, 0, 0, 0]);
        }
        assert!(walk(ip::IPV6_OPTS, &pl).is_err());
        // Truncated extension header.
        assert!(walk(ip::IPV6_ROUTE, &[ip::UDP, 3, 0, 0]).is_err());
        assert!(walk(ip::IPV6_ROUTE, &[ip::UDP]).is_err());
        // Option running past its area.
        assert!(for_each_option(&[5, 9, 0], |_, _, _| {}).is_err());
    }

    #[test]
    fn rejects_bad_packets() {
        let b = packet(ip::UDP, &[1, 2, 3]);
        assert!(Packet::new_checked(&b[..42]).is_err());
        let mut v = b.clone();
        v[0] = 0x40;
        assert!(Packet::new_checked(&v[..]).is_err());
        assert!(Packet::new_checked(&b[..39]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), nh in any::<u8>(),
                      plen in 0usize..1500, hl in any::<u8>(), tc in any::<u8>(), fl in 0u32..0x100000) {
            let r = Repr { src: s.into(), dst: d.into(), next_header: nh, payload_len: plen,
                           hop_limit: hl, traffic_class: tc, flow_label: fl };
            let mut b = vec![0u8; HEADER_LEN + plen];
            r.emit(&mut b).unwrap();
            let p = Packet::new_checked(&b[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p).unwrap(), r);
        }

        #[test]
        fn walk_never_panics(first in any::<u8>(), b in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(w) = walk(first, &b) {
                prop_assert!(w.offset <= b.len());
                for a in &w.options[..w.options_count] {
                    prop_assert!(a.end <= b.len());
                    let _ = for_each_option(&b[a.start..a.end], |_, _, _| {});
                }
            }
        }
    }
}
