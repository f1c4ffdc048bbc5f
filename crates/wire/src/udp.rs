//! UDP header (RFC 768) with checksums over the IPv4 and IPv6 pseudo-headers.

use std::net::IpAddr;

use crate::checksum;
use crate::error::{Result, WireError};
use crate::ip;

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

/// A view of a UDP datagram; `new_checked` guarantees the length field is sane and fits.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    /// Checks that the header fits and that the length field lies between the header
    /// length and the buffer length (trailing bytes beyond it are ignored).
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "udp header",
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len < HEADER_LEN {
            return Err(WireError::BadLength {
                what: "udp length",
                len,
            });
        }
        if len > b.len() {
            return Err(WireError::Truncated {
                what: "udp datagram",
                need: len,
                have: b.len(),
            });
        }
        Ok(Self { buf })
    }

    pub fn src_port(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn dst_port(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The length field (header + payload).
    pub fn len(&self) -> usize {
        let b = self.buf.as_ref();
        usize::from(u16::from_be_bytes([b[4], b[5]]))
    }

    /// Never true for a checked packet; present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn checksum(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }

    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..self.len()]
    }

    /// Verifies the checksum for the given addresses. A zero checksum means "none" on
    /// IPv4 (RFC 768) and is invalid on IPv6 (RFC 8200 §8.1).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> bool {
        if self.checksum() == 0 {
            return src.is_ipv4();
        }
        let Some(acc) = pseudo(src, dst, self.len()) else {
            return false;
        };
        checksum::fold(checksum::sum(acc, &self.buf.as_ref()[..self.len()])) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, p: u16) {
        self.buf.as_mut()[0..2].copy_from_slice(&p.to_be_bytes());
    }

    pub fn set_dst_port(&mut self, p: u16) {
        self.buf.as_mut()[2..4].copy_from_slice(&p.to_be_bytes());
    }

    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[6..8].copy_from_slice(&c.to_be_bytes());
    }

    /// Computes and stores the checksum; a computed 0 is sent as 0xffff (RFC 768).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<()> {
        let len = self.len();
        let acc = pseudo(src, dst, len).ok_or(WireError::BadValue {
            what: "udp address family mix",
            value: 0,
        })?;
        self.set_checksum(0);
        let c = checksum::finish(checksum::sum(acc, &self.buf.as_ref()[..len]));
        self.set_checksum(if c == 0 { 0xffff } else { c });
        Ok(())
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        &mut self.buf.as_mut()[HEADER_LEN..len]
    }
}

fn pseudo(src: IpAddr, dst: IpAddr, len: usize) -> Option<u64> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(checksum::pseudo_v4(s, d, ip::UDP, len as u16)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(checksum::pseudo_v6(s, d, ip::UDP, len as u32)),
        _ => None,
    }
}

/// A plain UDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        Ok(Self {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            payload_len: p.len() - HEADER_LEN,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header with a zero checksum; call [`Packet::fill_checksum`] once the
    /// payload is in place.
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let len = HEADER_LEN + self.payload_len;
        let len16 = u16::try_from(len).map_err(|_| WireError::TooLong {
            what: "udp datagram",
            len,
        })?;
        let have = buf.len();
        let h = buf.get_mut(..HEADER_LEN).ok_or(WireError::BufferTooSmall {
            what: "udp header",
            need: HEADER_LEN,
            have,
        })?;
        h[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        h[4..6].copy_from_slice(&len16.to_be_bytes());
        h[6..8].copy_from_slice(&[0, 0]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn known_checksum() {
        // 10.0.0.1:500 -> 10.0.0.2:500, payload "abcd"; checksum worked by hand:
        // pseudo 0a00+0001+0a00+0002+0011+000c = 0x1420, header 01f4+01f4+000c = 0x03f4,
        // data 6162+6364 = 0xc4c6; total 0xdcda -> !0xdcda = 0x2325.
        let mut b = [0u8; 12];
        Repr {
            src_port: 500,
            dst_port: 500,
            payload_len: 4,
        }
        .emit(&mut b)
        .unwrap();
        b[8..].copy_from_slice(b"abcd");
        let (s, d) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let mut p = Packet::new_checked(&mut b[..]).unwrap();
        p.fill_checksum(s, d).unwrap();
        assert_eq!(p.checksum(), 0x2325);
        assert!(p.verify_checksum(s, d));
        assert!(!p.verify_checksum(s, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3))));
    }

    #[test]
    fn zero_checksum_rules() {
        let mut b = [0u8; 8];
        Repr {
            src_port: 1,
            dst_port: 2,
            payload_len: 0,
        }
        .emit(&mut b)
        .unwrap();
        let p = Packet::new_checked(&b[..]).unwrap();
        assert!(p.verify_checksum(Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into()));
        assert!(!p.verify_checksum(Ipv6Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()));
    }

    #[test]
    fn bad_lengths() {
        assert!(Packet::new_checked(&[0u8; 7][..]).is_err());
        assert!(Packet::new_checked(&[0, 1, 0, 2, 0, 7, 0, 0][..]).is_err());
        assert!(Packet::new_checked(&[0, 1, 0, 2, 0, 9, 0, 0][..]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip_and_checksum(sp in any::<u16>(), dp in any::<u16>(),
                                   payload in proptest::collection::vec(any::<u8>(), 0..300),
                                   s6 in any::<[u8; 16]>(), d6 in any::<[u8; 16]>()) {
            let r = Repr { src_port: sp, dst_port: dp, payload_len: payload.len() };
            let mut b = vec![0u8; HEADER_LEN + payload.len()];
            r.emit(&mut b).unwrap();
            b[HEADER_LEN..].copy_from_slice(&payload);
            let (s, d) = (IpAddr::V6(s6.into()), IpAddr::V6(d6.into()));
            let mut p = Packet::new_checked(&mut b[..]).unwrap();
            p.fill_checksum(s, d).unwrap();
            prop_assert!(p.verify_checksum(s, d));
            prop_assert_eq!(Repr::parse(&p).unwrap(), r);
            prop_assert_eq!(p.payload(), &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = p.payload();
                let _ = p.verify_checksum(Ipv4Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into());
            }
        }
    }
}
