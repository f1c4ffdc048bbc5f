//! Key material that wipes itself and never prints.

use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes of key material: zeroized on drop, redacted in `Debug`. Compare with
/// [`Secret::ct_eq`], which takes the same time wherever the inputs differ.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key bytes. Callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Splits off the first `n` bytes as a new secret (key material carved from prf+).
    pub fn take_front(&mut self, n: usize) -> Option<Secret> {
        if n > self.0.len() {
            return None;
        }
        let rest = self.0.split_off(n);
        let front = core::mem::replace(&mut self.0, rest);
        Some(Secret(front))
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        ct_eq(&self.0, other)
    }
}

/// Constant-time comparison of two byte strings (length is not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.0.len())
    }
}

impl From<Vec<u8>> for Secret {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_split_works() {
        let mut s = Secret::new(vec![1, 2, 3, 4, 5]);
        assert_eq!(format!("{s:?}"), "Secret([redacted; 5 bytes])");
        let a = s.take_front(2).unwrap();
        assert_eq!(a.expose(), &[1, 2]);
        assert_eq!(s.expose(), &[3, 4, 5]);
        assert!(s.take_front(4).is_none());
        assert!(s.ct_eq(&[3, 4, 5]));
        assert!(!s.ct_eq(&[3, 4, 6]));
        assert!(!s.ct_eq(&[3, 4]));
    }
}
