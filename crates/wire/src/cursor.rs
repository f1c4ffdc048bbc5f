//! Bounds-checked reading and appending of big-endian fields.
//!
//! Every parser in this crate reads through [`Reader`], so an out-of-bounds read becomes
//! [`WireError::Truncated`] instead of a panic.

use crate::error::{Result, WireError};

/// A forward-only reader over a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`; `what` names the structure for error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    /// Renames the structure being read (for nested structures).
    pub fn with_what(mut self, what: &'static str) -> Self {
        self.what = what;
        self
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread rest, without consuming it.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(WireError::Truncated {
                what: self.what,
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes everything left.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Fails with [`WireError::BadLength`] unless everything was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(WireError::BadLength {
                what: self.what,
                len: self.buf.len(),
            })
        }
    }
}

/// Reads a big-endian `u16` at `off`, or reports truncation.
pub fn be16(buf: &[u8], off: usize, what: &'static str) -> Result<u16> {
    match off.checked_add(2).and_then(|end| buf.get(off..end)) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(WireError::Truncated {
            what,
            need: off.saturating_add(2),
            have: buf.len(),
        }),
    }
}

/// Reads a big-endian `u32` at `off`, or reports truncation.
pub fn be32(buf: &[u8], off: usize, what: &'static str) -> Result<u32> {
    match off.checked_add(4).and_then(|end| buf.get(off..end)) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(WireError::Truncated {
            what,
            need: off.saturating_add(4),
            have: buf.len(),
        }),
    }
}

/// Appends a length-prefixed structure: reserves a 16-bit length at `len_at` and fills
/// it in once the body is written. Used by the ISAKMP and IKEv2 builders.
pub fn patch_len16(out: &mut [u8], len_at: usize, len: usize, what: &'static str) -> Result<()> {
    let v = u16::try_from(len).map_err(|_| WireError::TooLong { what, len })?;
    out[len_at..len_at + 2].copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// Same as [`patch_len16`] for 32-bit length fields (message headers).
pub fn patch_len32(out: &mut [u8], len_at: usize, len: usize, what: &'static str) -> Result<()> {
    let v = u32::try_from(len).map_err(|_| WireError::TooLong { what, len })?;
    out[len_at..len_at + 4].copy_from_slice(&v.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_truncation() {
        let mut r = Reader::new(&[1, 2, 3], "t");
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(
            r.u16(),
            Err(WireError::Truncated {
                what: "t",
                need: 4,
                have: 3
            })
        );
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.finish().is_ok());
    }

    #[test]
    fn offsets_near_usize_max_are_errors() {
        assert!(be16(&[1, 2], usize::MAX - 1, "t").is_err());
        assert!(be32(&[1, 2, 3, 4], usize::MAX, "t").is_err());
        assert_eq!(be32(&[0, 0, 1, 2], 0, "t"), Ok(0x102));
    }

    #[test]
    fn take_overflow_is_an_error() {
        let mut r = Reader::new(&[0; 4], "t");
        r.take(2).unwrap();
        assert!(r.take(usize::MAX).is_err());
    }
}
