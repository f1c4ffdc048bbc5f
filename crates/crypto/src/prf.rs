//! Pseudo-random functions of IKE (HMAC-MD5, HMAC-SHA1, HMAC-SHA2-256/384/512; RFC 2104,
//! RFC 4868) and prf+ (RFC 7296 §2.13). Their keys change with every call (nonces,
//! SKEYSEED, SK_d), so they are keyed per call.

use aws_lc_rs::{digest, hmac as lc};
use hmac::{KeyInit, Mac};

use crate::error::{CryptoError, Result};
use crate::secret::Secret;

/// Which hash an HMAC PRF is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// An HMAC-based PRF. The same hash serves IKEv1's plain hash uses (the Phase 1 IV,
/// RFC 2409 appendix B) through [`Prf::hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prf {
    pub kind: HashKind,
}

impl Prf {
    pub const HMAC_MD5: Prf = Prf {
        kind: HashKind::Md5,
    };
    pub const HMAC_SHA1: Prf = Prf {
        kind: HashKind::Sha1,
    };
    pub const HMAC_SHA2_256: Prf = Prf {
        kind: HashKind::Sha256,
    };
    pub const HMAC_SHA2_384: Prf = Prf {
        kind: HashKind::Sha384,
    };
    pub const HMAC_SHA2_512: Prf = Prf {
        kind: HashKind::Sha512,
    };

    /// Output length in bytes (also the preferred key length, RFC 7296 §2.13).
    pub fn output_len(&self) -> usize {
        match self.kind {
            HashKind::Md5 => 16,
            HashKind::Sha1 => 20,
            HashKind::Sha256 => 32,
            HashKind::Sha384 => 48,
            HashKind::Sha512 => 64,
        }
    }

    fn lc_hmac(&self) -> Option<lc::Algorithm> {
        match self.kind {
            HashKind::Md5 => None,
            HashKind::Sha1 => Some(lc::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            HashKind::Sha256 => Some(lc::HMAC_SHA256),
            HashKind::Sha384 => Some(lc::HMAC_SHA384),
            HashKind::Sha512 => Some(lc::HMAC_SHA512),
        }
    }

    /// prf(key, parts[0] | parts[1] | ...).
    pub fn compute(&self, key: &[u8], parts: &[&[u8]]) -> Secret {
        match self.lc_hmac() {
            Some(alg) => {
                let k = lc::Key::new(alg, key);
                let mut ctx = lc::Context::with_key(&k);
                for p in parts {
                    ctx.update(p);
                }
                Secret::from_slice(ctx.sign().as_ref())
            }
            None => {
                // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
                let mut m = <hmac::Hmac<md5::Md5> as KeyInit>::new_from_slice(key)
                    .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
                for p in parts {
                    m.update(p);
                }
                Secret::from_slice(&m.finalize().into_bytes())
            }
        }
    }

    /// The bare hash of the concatenated parts (IKEv1 Phase 1 IV, RFC 2409 appendix B).
    pub fn hash(&self, parts: &[&[u8]]) -> Vec<u8> {
        let alg = match self.kind {
            HashKind::Md5 => {
                use md5::Digest;
                let mut h = md5::Md5::new();
                for p in parts {
                    h.update(p);
                }
                return h.finalize().to_vec();
            }
            HashKind::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashKind::Sha256 => &digest::SHA256,
            HashKind::Sha384 => &digest::SHA384,
            HashKind::Sha512 => &digest::SHA512,
        };
        let mut ctx = digest::Context::new(alg);
        for p in parts {
            ctx.update(p);
        }
        ctx.finish().as_ref().to_vec()
    }

    /// prf+ (RFC 7296 §2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), output the
    /// first `len` bytes of T1 | T2 | ... At most 255 blocks.
    pub fn prf_plus(&self, key: &[u8], seed: &[&[u8]], len: usize) -> Result<Secret> {
        let out_len = self.output_len();
        if len > 255 * out_len {
            return Err(CryptoError::PrfPlusTooLong { len });
        }
        let mut out = Vec::with_capacity(len + out_len);
        let mut prev = Secret::default();
        let mut n: u8 = 1;
        while out.len() < len {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(seed.len() + 2);
            parts.push(prev.expose());
            parts.extend_from_slice(seed);
            let counter = [n];
            parts.push(&counter);
            prev = self.compute(key, &parts);
            out.extend_from_slice(prev.expose());
            n = n.wrapping_add(1);
        }
        out.truncate(len);
        Ok(Secret::new(out))
    }
}
