//! ESP header and trailer (RFC 4303 §2).
//!
//! ```text
//! SPI (4) | Sequence Number (4) | IV + payload ... | Padding | Pad Length (1) | Next Header (1) | ICV
//! ```
//! The view gives the fixed header; the trailer is found from the end once the ICV length is
//! known (it depends on the SA, not on the packet).

use crate::error::{Result, WireError};

/// SPI + sequence number.
pub const HEADER_LEN: usize = 8;
/// Pad length + next header.
pub const TRAILER_LEN: usize = 2;

/// A view of an ESP packet (the IP payload, or the UDP payload after RFC 3948 stripping).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub fn new_unchecked(buf: T) -> Self {
        Self { buf }
    }

    /// Checks that the header fits and the SPI is usable: 0 is never valid and 1-255 are
    /// reserved by IANA (RFC 4303 §2.1), so neither can name an SA.
    pub fn new_checked(buf: T) -> Result<Self> {
        let b = buf.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "esp header",
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        check_spi(u32::from_be_bytes([b[0], b[1], b[2], b[3]]), "esp spi")?;
        Ok(Self { buf })
    }

    pub fn spi(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The low 32 bits of the sequence number as sent.
    pub fn seq(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    /// Everything after the header: IV, ciphertext, trailer and ICV.
    pub fn body(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }

    /// Splits the body into (IV + encrypted part, ICV) for an SA with this ICV length.
    pub fn split_icv(&self, icv_len: usize) -> Result<(&[u8], &[u8])> {
        let body = self.body();
        if body.len() < icv_len + TRAILER_LEN {
            return Err(WireError::Truncated {
                what: "esp body",
                need: HEADER_LEN + icv_len + TRAILER_LEN,
                have: self.buf.as_ref().len(),
            });
        }
        Ok(body.split_at(body.len() - icv_len))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_spi(&mut self, spi: u32) {
        self.buf.as_mut()[0..4].copy_from_slice(&spi.to_be_bytes());
    }

    pub fn set_seq(&mut self, seq: u32) {
        self.buf.as_mut()[4..8].copy_from_slice(&seq.to_be_bytes());
    }

    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// Refuses SPI 0 (never valid) and 1-255 (reserved by IANA): RFC 4303 §2.1 and RFC 4302
/// §2.4 give ESP and AH the same rule.
pub(crate) fn check_spi(spi: u32, what: &'static str) -> Result<()> {
    if spi < 256 {
        return Err(WireError::BadValue {
            what,
            value: u64::from(spi),
        });
    }
    Ok(())
}

/// The decrypted trailer, read from the end of a plaintext that ends with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub pad_len: u8,
    pub next_header: u8,
}

impl Trailer {
    /// Reads the trailer at the end of `plaintext` (payload | padding | pad len | next
    /// header) and returns it with the payload length. Fails when the padding claims more
    /// bytes than there are. [`check_padding`] validates the padding's content.
    pub fn parse(plaintext: &[u8]) -> Result<(Self, usize)> {
        let n = plaintext.len();
        if n < TRAILER_LEN {
            return Err(WireError::Truncated {
                what: "esp trailer",
                need: TRAILER_LEN,
                have: n,
            });
        }
        let t = Self {
            pad_len: plaintext[n - 2],
            next_header: plaintext[n - 1],
        };
        let payload_len =
            n.checked_sub(TRAILER_LEN + usize::from(t.pad_len))
                .ok_or(WireError::BadLength {
                    what: "esp pad length",
                    len: usize::from(t.pad_len),
                })?;
        Ok((t, payload_len))
    }

    /// Writes padding (the default 1, 2, 3, ... of RFC 4303 §2.4) and the trailer right
    /// after `payload_len` bytes of `buf`; returns the new length.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) -> Result<usize> {
        let end = payload_len + usize::from(self.pad_len) + TRAILER_LEN;
        if buf.len() < end {
            return Err(WireError::BufferTooSmall {
                what: "esp trailer",
                need: end,
                have: buf.len(),
            });
        }
        for (i, b) in buf[payload_len..end - TRAILER_LEN].iter_mut().enumerate() {
            *b = (i + 1) as u8;
        }
        buf[end - 2] = self.pad_len;
        buf[end - 1] = self.next_header;
        Ok(end)
    }
}

/// Checks that the padding holds the monotonic 1, 2, 3, ... sequence (RFC 4303 §2.4: a
/// receiver SHOULD check it when the SA uses the default padding).
pub fn check_padding(plaintext: &[u8], payload_len: usize, pad_len: u8) -> Result<()> {
    let pad = plaintext
        .get(payload_len..payload_len + usize::from(pad_len))
        .ok_or(WireError::BadLength {
            what: "esp padding",
            len: usize::from(pad_len),
        })?;
    for (i, &b) in pad.iter().enumerate() {
        if usize::from(b) != i + 1 {
            return Err(WireError::BadValue {
                what: "esp padding",
                value: u64::from(b),
            });
        }
    }
    Ok(())
}

/// Padding needed so that payload + padding + trailer is a multiple of `align` (the
/// cipher's block size, at least 4 bytes per RFC 4303 §2.4), plus `tfc_extra` bytes of
/// traffic-flow-confidentiality padding rounded up to the same alignment. The result fits
/// the 8-bit pad-length field.
pub fn pad_len(payload_len: usize, align: usize, tfc_extra: usize) -> Result<u8> {
    let align = align.max(4);
    let base = (align - (payload_len + TRAILER_LEN) % align) % align;
    let extra = tfc_extra.div_ceil(align) * align;
    let total = base + extra;
    u8::try_from(total).map_err(|_| WireError::TooLong {
        what: "esp padding",
        len: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_fields() {
        let b = [0, 0, 0x12, 0x34, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd];
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.spi(), 0x1234);
        assert_eq!(p.seq(), 9);
        let (ct, icv) = p.split_icv(2).unwrap();
        assert_eq!((ct, icv), (&[0xaa, 0xbb][..], &[0xcc, 0xdd][..]));
        assert!(p.split_icv(3).is_err());
    }

    #[test]
    fn rejects_reserved_spi_and_short() {
        assert!(Packet::new_checked(&[0u8; 8][..]).is_err());
        assert!(Packet::new_checked(&[0, 0, 0, 255, 0, 0, 0, 1][..]).is_err());
        assert!(Packet::new_checked(&[0, 0, 1, 0, 0, 0, 0][..]).is_err());
    }

    #[test]
    fn trailer_exact_bytes() {
        // 5 bytes payload, AES-CBC alignment 16 -> 9 pad bytes.
        let pl = pad_len(5, 16, 0).unwrap();
        assert_eq!(pl, 9);
        let mut buf = [0xeeu8; 16];
        let n = Trailer {
            pad_len: pl,
            next_header: 4,
        }
        .emit(&mut buf, 5)
        .unwrap();
        assert_eq!(n, 16);
        assert_eq!(&buf[5..], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 4]);
        let (t, len) = Trailer::parse(&buf).unwrap();
        assert_eq!((t.pad_len, t.next_header, len), (9, 4, 5));
        check_padding(&buf, 5, 9).unwrap();
        buf[7] = 0;
        assert!(check_padding(&buf, 5, 9).is_err());
        // A pad length longer than the plaintext.
        assert!(Trailer::parse(&[1, 2, 200, 4]).is_err());
        assert_eq!(pad_len(2, 4, 0).unwrap(), 0);
        assert_eq!(pad_len(2, 4, 5).unwrap(), 8);
        assert!(pad_len(0, 16, 300).is_err());
    }

    proptest! {
        #[test]
        fn trailer_round_trip(payload_len in 0usize..2000, align in prop::sample::select(vec![1usize, 4, 8, 16]),
                              tfc in 0usize..100, nh in any::<u8>()) {
            let pl = pad_len(payload_len, align, tfc).unwrap();
            let mut buf = vec![0u8; payload_len + 300];
            let n = Trailer { pad_len: pl, next_header: nh }.emit(&mut buf, payload_len).unwrap();
            prop_assert_eq!(n % align.max(4), 0);
            let (t, len) = Trailer::parse(&buf[..n]).unwrap();
            prop_assert_eq!((t.pad_len, t.next_header, len), (pl, nh, payload_len));
            check_padding(&buf[..n], len, t.pad_len).unwrap();
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64), icv in 0usize..40) {
            if let Ok(p) = Packet::new_checked(&b[..]) {
                let _ = p.split_icv(icv);
            }
            if let Ok((t, len)) = Trailer::parse(&b) {
                let _ = check_padding(&b, len, t.pad_len);
            }
        }
    }
}
