//! IPv4 header (RFC 791 §3.1): a view over a packet buffer and a plain representation.

use std::net::Ipv4Addr;

use crate::checksum;
use crate::error::{Result, WireError};

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;

/// A view of an IPv4 packet. `new_checked` guarantees that the header and the total length
/// fit the buffer, so the getters cannot go out of bounds.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buf` without checks; only [`Packet::new_checked`] makes the getters safe
    /// to call on untrusted bytes.
    pub fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    /// Checks version, IHL and total length against the buffer.
    /// A buffer longer than the total length is allowed (link padding); use
    /// [`Packet::total_len`] to find the end.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated {
                what: "ipv4 header",
                need: MIN_HEADER_LEN,
                have: b.len(),
            });
        }
        let version = b[field::VER_IHL] >> 4;
        if version != 4 {
            return Err(WireError::BadValue {
                what: "ipv4 version",
                value: u64::from(version),
            });
        }
        let hlen = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if hlen < MIN_HEADER_LEN {
            return Err(WireError::BadLength {
                what: "ipv4 ihl",
                len: hlen,
            });
        }
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total < hlen {
            return Err(WireError::BadLength {
                what: "ipv4 total length",
                len: total,
            });
        }
        if b.len() < total {
            return Err(WireError::Truncated {
                what: "ipv4 packet",
                need: total,
                have: b.len(),
            });
        }
        Ok(Self { buf })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }

    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// DSCP and ECN byte (formerly TOS).
    pub fn dscp_ecn(&self) -> u8 {
        self.buf.as_ref()[field::DSCP_ECN]
    }

    pub fn total_len(&self) -> usize {
        usize::from(self.get16(field::TOTAL_LEN.start))
    }

    pub fn ident(&self) -> u16 {
        self.get16(field::IDENT.start)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.get16(field::FLAGS_FRAG.start) & FLAG_DF != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        self.get16(field::FLAGS_FRAG.start) & FLAG_MF != 0
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> usize {
        usize::from(self.get16(field::FLAGS_FRAG.start) & 0x1fff) * 8
    }

    /// True for any fragment (first or later).
    pub fn is_fragment(&self) -> bool {
        self.more_frags() || self.frag_offset() != 0
    }

    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }

    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[field::PROTOCOL]
    }

    pub fn checksum(&self) -> u16 {
        self.get16(field::CHECKSUM.start)
    }

    pub fn src(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[12], b[13], b[14], b[15])
    }

    pub fn dst(&self) -> Ipv4Addr {
        let b = self.buf.as_ref();
        Ipv4Addr::new(b[16], b[17], b[18], b[19])
    }

    /// The options bytes (between the fixed header and the payload).
    pub fn options(&self) -> &[u8] {
        &self.buf.as_ref()[MIN_HEADER_LEN..self.header_len()]
    }

    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(&self.buf.as_ref()[..self.header_len()]) == 0
    }

    /// The payload up to the total length (link padding excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len()]
    }

    fn get16(&self, at: usize) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[at], b[at + 1]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set16(&mut self, at: usize, v: u16) {
        self.buf.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_total_len(&mut self, len: u16) {
        self.set16(field::TOTAL_LEN.start, len);
    }

    /// Sets the TTL and patches the checksum incrementally (RFC 1624).
    pub fn set_ttl(&mut self, ttl: u8) {
        let b = self.buf.as_ref();
        let old = u16::from_be_bytes([b[field::TTL], b[field::PROTOCOL]]);
        let new = u16::from_be_bytes([ttl, b[field::PROTOCOL]]);
        let c = checksum::update16(self.checksum(), old, new);
        self.buf.as_mut()[field::TTL] = ttl;
        self.set16(field::CHECKSUM.start, c);
    }

    pub fn set_protocol(&mut self, p: u8) {
        self.buf.as_mut()[field::PROTOCOL] = p;
    }

    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    /// Recomputes the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set16(field::CHECKSUM.start, 0);
        let hl = self.header_len();
        let c = checksum::checksum(&self.buf.as_ref()[..hl]);
        self.set16(field::CHECKSUM.start, c);
    }

    /// The payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), self.total_len());
        &mut self.buf.as_mut()[h..t]
    }
}

/// A plain IPv4 header without options, for building packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload_len: usize,
    pub ttl: u8,
    pub dscp_ecn: u8,
    pub ident: u16,
    pub dont_frag: bool,
}

impl Repr {
    /// Parses a header; fragments and options are reported, not silently dropped: a
    /// fragment is an error here because every user of `Repr` needs a whole datagram
    /// (reassembly is the kernel's job before a packet reaches us).
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        if !p.verify_checksum() {
            return Err(WireError::BadChecksum {
                what: "ipv4 header",
            });
        }
        if p.is_fragment() {
            return Err(WireError::BadValue {
                what: "ipv4 fragment offset",
                value: p.frag_offset() as u64,
            });
        }
        Ok(Self {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            payload_len: p.total_len() - p.header_len(),
            ttl: p.ttl(),
            dscp_ecn: p.dscp_ecn(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        })
    }

    /// Bytes the header takes.
    pub fn buffer_len(&self) -> usize {
        MIN_HEADER_LEN
    }

    /// Writes the header (checksum included) into the front of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let total = MIN_HEADER_LEN + self.payload_len;
        let total16 = u16::try_from(total).map_err(|_| WireError::TooLong {
            what: "ipv4 packet",
            len: total,
        })?;
        let h = buf
            .get_mut(..MIN_HEADER_LEN)
            .ok_or(WireError::BufferTooSmall {
                what: "ipv4 header",
                need: MIN_HEADER_LEN,
                have: 0,
            })?;
        h[field::VER_IHL] = 0x45;
        h[field::DSCP_ECN] = self.dscp_ecn;
        h[field::TOTAL_LEN].copy_from_slice(&total16.to_be_bytes());
        h[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        let ff = if self.dont_frag { FLAG_DF } else { 0 };
        h[field::FLAGS_FRAG].copy_from_slice(&ff.to_be_bytes());
        h[field::TTL] = self.ttl;
        h[field::PROTOCOL] = self.protocol;
        h[field::CHECKSUM].copy_from_slice(&[0, 0]);
        h[field::SRC].copy_from_slice(&self.src.octets());
        h[field::DST].copy_from_slice(&self.dst.octets());
        let c = checksum::checksum(h);
        h[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    fn packet() -> Vec<u8> {
        let mut v = HDR.to_vec();
        v.resize(0x73, 0xaa);
        v
    }

    #[test]
    fn parses_known_header() {
        let b = packet();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.src(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(192, 168, 0, 199));
        assert_eq!(p.protocol(), crate::ip::UDP);
        assert!(p.dont_frag());
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 0x73 - 20);
        let mut out = [0u8; 20];
        r.emit(&mut out).unwrap();
        assert_eq!(out, HDR);
    }

    #[test]
    fn rejects_bad_headers() {
        let b = packet();
        assert!(matches!(
            Packet::new_checked(&b[..19]),
            Err(WireError::Truncated { .. })
        ));
        let mut v = b.clone();
        v[0] = 0x65;
        assert!(Packet::new_checked(&v[..]).is_err());
        let mut v = b.clone();
        v[0] = 0x44;
        assert!(Packet::new_checked(&v[..]).is_err());
        assert!(Packet::new_checked(&b[..0x72]).is_err());
        let mut v = b.clone();
        v[11] ^= 1;
        let p = Packet::new_checked(&v[..]).unwrap();
        assert_eq!(
            Repr::parse(&p),
            Err(WireError::BadChecksum {
                what: "ipv4 header"
            })
        );
    }

    #[test]
    fn ttl_update_keeps_checksum_valid() {
        let mut b = packet();
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.set_ttl(7);
        assert!(p.verify_checksum());
        assert_eq!(p.ttl(), 7);
    }

    fn repr() -> impl Strategy<Value = Repr> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            0usize..2000,
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<bool>(),
        )
            .prop_map(
                |(s, d, protocol, payload_len, ttl, dscp_ecn, ident, dont_frag)| Repr {
                    src: s.into(),
                    dst: d.into(),
                    protocol,
                    payload_len,
                    ttl,
                    dscp_ecn,
                    ident,
                    dont_frag,
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip(r in repr()) {
            let mut buf = vec![0u8; r.buffer_len() + r.payload_len];
            r.emit(&mut buf).unwrap();
            let p = Packet::new_checked(&buf[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p).unwrap(), r);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = Repr::parse(&p);
                let _ = (p.payload(), p.options(), p.src(), p.dst());
            }
        }
    }
}
