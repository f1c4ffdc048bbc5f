//! Authentication Header (RFC 4302 §2).
//!
//! ```text
//! Next Header (1) | Payload Len (1) | Reserved (2) | SPI (4) | Sequence Number (4) | ICV ...
//! ```
//! Payload Len counts 32-bit words minus 2, so the whole header is `(len + 2) * 4` bytes.

use crate::error::{Result, WireError};

/// Header length before the ICV.
pub const FIXED_LEN: usize = 12;

/// Which IP version carries the header: the total length must be a multiple of 4 bytes
/// for IPv4 and of 8 bytes for IPv6 (RFC 4302 §2.2 / §3.3.3.2.1); see [`header_len`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    V4,
    V6,
}

/// Total header length for an ICV of `icv_len` bytes as Oakley sends it: padded to a
/// multiple of 64 bits over IPv4 as well as IPv6. RFC 4302 §2.2 asks only 32-bit alignment
/// of IPv4, so 64 bits is still conforming, and the Linux kernel accepts nothing else
/// (a 12+16-byte HMAC-SHA-256-128 header goes out as 32 bytes, 4 of them zero padding).
pub fn header_len(icv_len: usize, _carrier: Carrier) -> usize {
    (FIXED_LEN + icv_len).div_ceil(8) * 8
}

/// Whether a received header length fits an ICV of `icv_len` bytes on this carrier:
/// 64-bit aligned, or (IPv4 only) just 32-bit aligned as RFC 4302 allows.
pub fn length_fits(total: usize, icv_len: usize, carrier: Carrier) -> bool {
    total == header_len(icv_len, carrier)
        || (carrier == Carrier::V4 && total == (FIXED_LEN + icv_len).div_ceil(4) * 4)
}

/// A view of an AH header at the start of a buffer (the rest of the packet follows it).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    /// Checks that the header (with its ICV field) fits, that the ICV field is at least
    /// `icv_len` bytes (the SA's integrity algorithm), that the length suits the carrier and
    /// that the SPI is not reserved (RFC 4302 §2.4).
    pub fn new_checked(buf: T, icv_len: usize, carrier: Carrier) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < FIXED_LEN {
            return Err(WireError::Truncated {
                what: "ah header",
                need: FIXED_LEN,
                have: b.len(),
            });
        }
        let total = (usize::from(b[1]) + 2) * 4;
        if !length_fits(total, icv_len, carrier) {
            return Err(WireError::BadLength {
                what: "ah payload length",
                len: total,
            });
        }
        if b.len() < total {
            return Err(WireError::Truncated {
                what: "ah header",
                need: total,
                have: b.len(),
            });
        }
        crate::esp::check_spi(u32::from_be_bytes([b[4], b[5], b[6], b[7]]), "ah spi")?;
        Ok(Self { buf })
    }

    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[0]
    }

    /// Total header length in bytes, from the payload length field.
    pub fn header_len(&self) -> usize {
        (usize::from(self.buf.as_ref()[1]) + 2) * 4
    }

    pub fn spi(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    pub fn seq(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[8], b[9], b[10], b[11]])
    }

    /// The ICV field including any alignment padding.
    pub fn icv_field(&self) -> &[u8] {
        &self.buf.as_ref()[FIXED_LEN..self.header_len()]
    }

    /// Byte range of the ICV field inside this header, to zero it for ICV computation.
    pub fn icv_range(&self) -> core::ops::Range<usize> {
        FIXED_LEN..self.header_len()
    }

    /// What follows the header.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn icv_field_mut(&mut self) -> &mut [u8] {
        let r = self.icv_range();
        &mut self.buf.as_mut()[r]
    }

    pub fn set_seq(&mut self, seq: u32) {
        self.buf.as_mut()[8..12].copy_from_slice(&seq.to_be_bytes());
    }
}

/// A plain AH header (its ICV is filled in later by the sealer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub next_header: u8,
    pub spi: u32,
    pub seq: u32,
    pub icv_len: usize,
    pub carrier: Carrier,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>, icv_len: usize, carrier: Carrier) -> Self {
        Self {
            next_header: p.next_header(),
            spi: p.spi(),
            seq: p.seq(),
            icv_len,
            carrier,
        }
    }

    pub fn buffer_len(&self) -> usize {
        header_len(self.icv_len, self.carrier)
    }

    /// Writes the header with a zeroed ICV field (the state in which the ICV is computed).
    pub fn emit(&self, buf: &mut [u8]) -> Result<()> {
        let len = self.buffer_len();
        let words = u8::try_from(len / 4 - 2).map_err(|_| WireError::TooLong {
            what: "ah icv",
            len: self.icv_len,
        })?;
        let have = buf.len();
        let h = buf.get_mut(..len).ok_or(WireError::BufferTooSmall {
            what: "ah header",
            need: len,
            have,
        })?;
        h[0] = self.next_header;
        h[1] = words;
        h[2..4].copy_from_slice(&[0, 0]);
        h[4..8].copy_from_slice(&self.spi.to_be_bytes());
        h[8..12].copy_from_slice(&self.seq.to_be_bytes());
        h[FIXED_LEN..].fill(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_bytes_hmac_sha1_96() {
        // HMAC-SHA1-96 over IPv4: 12 + 12 = 24 bytes, payload len 4 (RFC 2404 §3).
        let r = Repr {
            next_header: 6,
            spi: 0x1000,
            seq: 1,
            icv_len: 12,
            carrier: Carrier::V4,
        };
        let mut b = [0xffu8; 24];
        r.emit(&mut b).unwrap();
        assert_eq!(&b[..12], &[6, 4, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 1]);
        assert!(b[12..].iter().all(|&x| x == 0));
        let p = Packet::new_checked(&b[..], 12, Carrier::V4).unwrap();
        assert_eq!(p.icv_range(), 12..24);
        // IPv6 needs 8-byte alignment: 24 is already aligned; HMAC-SHA2-384-192 (24) -> 36 -> 40.
        assert_eq!(header_len(12, Carrier::V6), 24);
        // Sent 64-bit aligned on both carriers (what Linux requires); a received IPv4 header
        // that is only 32-bit aligned (RFC 4302's minimum) is accepted too.
        assert_eq!(header_len(24, Carrier::V4), 40);
        assert_eq!(header_len(24, Carrier::V6), 40);
        assert_eq!(header_len(16, Carrier::V4), 32);
        assert!(length_fits(28, 16, Carrier::V4) && length_fits(32, 16, Carrier::V4));
        assert!(!length_fits(28, 16, Carrier::V6) && length_fits(32, 16, Carrier::V6));
        assert!(!length_fits(36, 16, Carrier::V4));
        assert!(Packet::new_checked(&b[..], 16, Carrier::V4).is_err());
        assert!(Packet::new_checked(&b[..20], 12, Carrier::V4).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(nh in any::<u8>(), spi in 256u32.., seq in any::<u32>(),
                      icv in prop::sample::select(vec![12usize, 16, 24, 32]), v6 in any::<bool>()) {
            let carrier = if v6 { Carrier::V6 } else { Carrier::V4 };
            let r = Repr { next_header: nh, spi, seq, icv_len: icv, carrier };
            let mut b = vec![0u8; r.buffer_len() + 10];
            r.emit(&mut b).unwrap();
            let p = Packet::new_checked(&b[..], icv, carrier).unwrap();
            prop_assert_eq!(Repr::parse(&p, icv, carrier), r);
            prop_assert_eq!(p.payload().len(), 10);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), icv in 0usize..40) {
            for c in [Carrier::V4, Carrier::V6] {
                if let Ok(p) = Packet::new_checked(&b[..], icv, c) {
                    let _ = (p.icv_field(), p.payload(), p.seq());
                }
            }
        }
    }
}
