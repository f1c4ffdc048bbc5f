//! Integrity algorithms for ESP/AH and IKE: HMAC truncated to the ICV length (RFC 2403
//! MD5-96, RFC 2404 SHA1-96, RFC 4868 SHA2-256-128/-384-192/-512-256).
//!
//! The MAC runs over several slices so AH can feed its zeroed header pieces without a copy.

use aws_lc_rs::hmac as lc;
use hmac::{KeyInit, Mac};

use crate::error::{CryptoError, Result};
use crate::secret::ct_eq;

/// A keyed integrity algorithm.
pub trait Integrity: Send + Sync {
    /// Length of the (truncated) ICV.
    fn icv_len(&self) -> usize;
    /// Writes the ICV over the concatenation of `parts` to `out` (`icv_len()` bytes).
    fn compute(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<()>;
    /// Checks `icv` in constant time.
    fn verify(&self, parts: &[&[u8]], icv: &[u8]) -> Result<()> {
        let mut buf = [0u8; 64];
        let n = self.icv_len();
        if icv.len() != n {
            return Err(CryptoError::BadIcv);
        }
        self.compute(parts, &mut buf[..n])?;
        if ct_eq(&buf[..n], icv) {
            Ok(())
        } else {
            Err(CryptoError::BadIcv)
        }
    }
}

/// HMAC-SHA1/SHA2 truncated, on aws-lc-rs with the key schedule done once.
pub(crate) struct LcHmac {
    key: lc::Key,
    icv_len: usize,
}

impl LcHmac {
    pub(crate) fn new(alg: lc::Algorithm, key: &[u8], icv_len: usize) -> Self {
        Self {
            key: lc::Key::new(alg, key),
            icv_len,
        }
    }
}

impl Integrity for LcHmac {
    fn icv_len(&self) -> usize {
        self.icv_len
    }

    fn compute(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<()> {
        if out.len() != self.icv_len {
            return Err(CryptoError::BadLength {
                what: "icv",
                len: out.len(),
            });
        }
        let tag = match parts {
            [one] => lc::sign(&self.key, one),
            _ => {
                let mut ctx = lc::Context::with_key(&self.key);
                for p in parts {
                    ctx.update(p);
                }
                ctx.sign()
            }
        };
        out.copy_from_slice(&tag.as_ref()[..self.icv_len]);
        Ok(())
    }
}

/// HMAC-MD5-96 (RustCrypto: neither aws-lc-rs nor ring exposes MD5).
pub(crate) struct HmacMd5 {
    mac: hmac::Hmac<md5::Md5>,
}

impl HmacMd5 {
    pub(crate) fn new(key: &[u8]) -> Result<Self> {
        Ok(Self {
            mac: KeyInit::new_from_slice(key).map_err(|_| CryptoError::BadLength {
                what: "hmac-md5 key",
                len: key.len(),
            })?,
        })
    }
}

impl Integrity for HmacMd5 {
    fn icv_len(&self) -> usize {
        12
    }

    fn compute(&self, parts: &[&[u8]], out: &mut [u8]) -> Result<()> {
        if out.len() != 12 {
            return Err(CryptoError::BadLength {
                what: "icv",
                len: out.len(),
            });
        }
        let mut m = self.mac.clone();
        for p in parts {
            m.update(p);
        }
        out.copy_from_slice(&m.finalize().into_bytes()[..12]);
        Ok(())
    }
}
