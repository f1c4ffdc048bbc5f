//! The algorithm registry: IANA numbers of both IKE versions to algorithms.
//!
//! IKEv2 numbers (IANA "IKEv2 Parameters": transform types 1-4) are the registry's own
//! keys; IKEv1 numbers (RFC 2409 appendix A for Phase 1, RFC 2407 §4.4/4.5 for ESP/AH) are
//! translated to them by the [`ikev1`] functions, so each algorithm is defined once.

use aws_lc_rs::{aead as lc_aead, hmac as lc_hmac};

use crate::aead::{Aead, LcAead, rust_gcm};
use crate::cipher::{AesCbc, AesCtr, Cipher, DesCbc, NullCipher};
use crate::error::{CryptoError, Result};
use crate::integrity::{HmacMd5, Integrity, LcHmac};
use crate::prf::Prf;

/// IKEv2 encryption transform IDs (transform type 1).
pub mod encr {
    pub const DES: u16 = 2;
    pub const TRIPLE_DES: u16 = 3;
    pub const NULL: u16 = 11;
    pub const AES_CBC: u16 = 12;
    pub const AES_CTR: u16 = 13;
    pub const AES_GCM_8: u16 = 18;
    pub const AES_GCM_12: u16 = 19;
    pub const AES_GCM_16: u16 = 20;
    /// RFC 4543: AES-GMAC, integrity only (nothing encrypted) in the ESP combined-mode slot.
    pub const NULL_AUTH_AES_GMAC: u16 = 21;
    pub const CHACHA20_POLY1305: u16 = 28;
}

/// IKEv2 PRF transform IDs (transform type 2).
pub mod prf_id {
    pub const HMAC_MD5: u16 = 1;
    pub const HMAC_SHA1: u16 = 2;
    pub const HMAC_SHA2_256: u16 = 5;
    pub const HMAC_SHA2_384: u16 = 6;
    pub const HMAC_SHA2_512: u16 = 7;
}

/// IKEv2 integrity transform IDs (transform type 3).
pub mod integ {
    pub const NONE: u16 = 0;
    pub const HMAC_MD5_96: u16 = 1;
    pub const HMAC_SHA1_96: u16 = 2;
    pub const HMAC_SHA2_256_128: u16 = 12;
    pub const HMAC_SHA2_384_192: u16 = 13;
    pub const HMAC_SHA2_512_256: u16 = 14;
}

/// An encryption algorithm with its key length chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encryption {
    /// IKEv2 transform ID.
    pub id: u16,
    pub name: &'static str,
    /// Key length in bits as negotiated (the Key Length attribute; 0 when fixed).
    pub key_bits: u16,
    /// Bytes of keying material to take from the KDF: key plus salt/nonce.
    pub keymat_len: usize,
    /// Salt (GCM, ChaCha20) or nonce (CTR) bytes at the end of the keying material.
    pub salt_len: usize,
    /// IV bytes carried in each packet.
    pub iv_len: usize,
    /// Padding alignment of the plaintext (ESP pads to at least 4).
    pub block_size: usize,
    /// ICV length for AEAD algorithms, 0 otherwise.
    pub icv_len: usize,
    /// Flagged in `show` output: works for compatibility, off in default proposals.
    pub weak: bool,
}

/// A keyed encryption algorithm: AEAD, or a cipher that needs an integrity algorithm.
pub enum Keyed {
    Aead(Box<dyn Aead>),
    Cipher(Box<dyn Cipher>),
}

impl Encryption {
    /// True for combined-mode (AEAD) algorithms, which take no integrity transform.
    pub fn is_aead(&self) -> bool {
        self.icv_len > 0
    }

    /// True for AES-GMAC (RFC 4543): a combined mode that authenticates everything and
    /// encrypts nothing, so the whole ESP payload is associated data.
    pub fn is_auth_only(&self) -> bool {
        self.id == encr::NULL_AUTH_AES_GMAC
    }

    /// Keys the algorithm. `keymat` is [`Self::keymat_len`] bytes: for AEAD the key
    /// followed by the salt — the salt stays with the caller (the ESP/IKE nonce is
    /// salt | IV), so only the key part is used here; for CTR the nonce is kept.
    pub fn key(&self, keymat: &[u8]) -> Result<Keyed> {
        if keymat.len() != self.keymat_len {
            return Err(CryptoError::BadLength {
                what: "encryption keying material",
                len: keymat.len(),
            });
        }
        let key = &keymat[..self.keymat_len
            - if self.id == encr::AES_CTR {
                0
            } else {
                self.salt_len
            }];
        Ok(match self.id {
            encr::AES_GCM_16 | encr::NULL_AUTH_AES_GMAC => Keyed::Aead(Box::new(LcAead::new(
                match key.len() {
                    16 => &lc_aead::AES_128_GCM,
                    32 => &lc_aead::AES_256_GCM,
                    // aws-lc-rs has no AES-192-GCM; RustCrypto covers it with a 16-byte tag.
                    _ => return Ok(Keyed::Aead(rust_gcm(key, 16)?)),
                },
                key,
            )?)),
            encr::AES_GCM_8 => Keyed::Aead(rust_gcm(key, 8)?),
            encr::AES_GCM_12 => Keyed::Aead(rust_gcm(key, 12)?),
            encr::CHACHA20_POLY1305 => {
                Keyed::Aead(Box::new(LcAead::new(&lc_aead::CHACHA20_POLY1305, key)?))
            }
            encr::AES_CBC => Keyed::Cipher(Box::new(AesCbc::new(key)?)),
            encr::AES_CTR => Keyed::Cipher(Box::new(AesCtr::new(key)?)),
            encr::TRIPLE_DES => Keyed::Cipher(Box::new(DesCbc::new(key, true)?)),
            encr::DES => Keyed::Cipher(Box::new(DesCbc::new(key, false)?)),
            encr::NULL => Keyed::Cipher(Box::new(NullCipher)),
            id => {
                return Err(CryptoError::Unsupported {
                    kind: "encryption",
                    id,
                });
            }
        })
    }
}

/// Looks up an IKEv2 encryption transform with its Key Length attribute (bits; `None`
/// when the transform has none). AES needs a key length (RFC 7296 §3.3.5); fixed-length
/// ciphers refuse one other than their own.
pub fn encryption(id: u16, key_bits: Option<u16>) -> Result<Encryption> {
    let unsupported = || CryptoError::Unsupported {
        kind: "encryption",
        id,
    };
    let aes_bits = |allowed: &[u16]| -> Result<u16> {
        match key_bits {
            Some(b) if allowed.contains(&b) => Ok(b),
            _ => Err(CryptoError::Unsupported {
                kind: "encryption key length",
                id: key_bits.unwrap_or(0),
            }),
        }
    };
    let fixed = |bits: u16| -> Result<u16> {
        match key_bits {
            None => Ok(0),
            Some(b) if b == bits => Ok(0),
            Some(b) => Err(CryptoError::Unsupported {
                kind: "encryption key length",
                id: b,
            }),
        }
    };
    let e = |name, key_bits: u16, key: usize, salt, iv, block, icv, weak| Encryption {
        id,
        name,
        key_bits,
        keymat_len: key + salt,
        salt_len: salt,
        iv_len: iv,
        block_size: block,
        icv_len: icv,
        weak,
    };
    Ok(match id {
        encr::AES_GCM_16 | encr::AES_GCM_12 | encr::AES_GCM_8 => {
            let b = aes_bits(&[128, 192, 256])?;
            let icv = match id {
                encr::AES_GCM_16 => 16,
                encr::AES_GCM_12 => 12,
                _ => 8,
            };
            // RFC 4106 §8.1: key plus a 4-byte salt; 8-byte explicit IV.
            e("AES-GCM", b, usize::from(b) / 8, 4, 8, 4, icv, false)
        }
        encr::NULL_AUTH_AES_GMAC => {
            let b = aes_bits(&[128, 192, 256])?;
            // RFC 4543 §3.1, §7: key plus 4-byte salt, 8-byte IV, 16-byte ICV.
            e("AES-GMAC", b, usize::from(b) / 8, 4, 8, 4, 16, false)
        }
        // RFC 7634 §2: 32-byte key plus 4-byte salt, 8-byte IV.
        encr::CHACHA20_POLY1305 => e("ChaCha20-Poly1305", fixed(256)?, 32, 4, 8, 4, 16, false),
        encr::AES_CBC => {
            let b = aes_bits(&[128, 192, 256])?;
            e("AES-CBC", b, usize::from(b) / 8, 0, 16, 16, 0, false)
        }
        encr::AES_CTR => {
            let b = aes_bits(&[128, 192, 256])?;
            // RFC 3686 §5.1: key plus a 4-byte nonce.
            e("AES-CTR", b, usize::from(b) / 8, 4, 8, 4, 0, false)
        }
        encr::TRIPLE_DES => e("3DES", fixed(192)?, 24, 0, 8, 8, 0, false),
        encr::DES => e("DES", fixed(64)?, 8, 0, 8, 8, 0, true),
        encr::NULL => e("NULL", fixed(0)?, 0, 0, 0, 4, 0, true),
        _ => return Err(unsupported()),
    })
}

/// An integrity algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrityAlg {
    /// IKEv2 transform ID.
    pub id: u16,
    pub name: &'static str,
    pub key_len: usize,
    pub icv_len: usize,
    pub weak: bool,
}

impl IntegrityAlg {
    /// Keys the algorithm (`key` is [`Self::key_len`] bytes).
    pub fn key(&self, key: &[u8]) -> Result<Box<dyn Integrity>> {
        if key.len() != self.key_len {
            return Err(CryptoError::BadLength {
                what: "integrity key",
                len: key.len(),
            });
        }
        Ok(match self.id {
            integ::HMAC_MD5_96 => Box::new(HmacMd5::new(key)?),
            integ::HMAC_SHA1_96 => {
                Box::new(LcHmac::new(lc_hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key, 12))
            }
            integ::HMAC_SHA2_256_128 => Box::new(LcHmac::new(lc_hmac::HMAC_SHA256, key, 16)),
            integ::HMAC_SHA2_384_192 => Box::new(LcHmac::new(lc_hmac::HMAC_SHA384, key, 24)),
            integ::HMAC_SHA2_512_256 => Box::new(LcHmac::new(lc_hmac::HMAC_SHA512, key, 32)),
            id => {
                return Err(CryptoError::Unsupported {
                    kind: "integrity",
                    id,
                });
            }
        })
    }
}

/// Looks up an IKEv2 integrity transform (key lengths: RFC 2403/2404 §3, RFC 4868 §2.1).
pub fn integrity(id: u16) -> Result<IntegrityAlg> {
    let (name, key_len, icv_len, weak) = match id {
        integ::HMAC_MD5_96 => ("HMAC-MD5-96", 16, 12, true),
        integ::HMAC_SHA1_96 => ("HMAC-SHA1-96", 20, 12, false),
        integ::HMAC_SHA2_256_128 => ("HMAC-SHA2-256-128", 32, 16, false),
        integ::HMAC_SHA2_384_192 => ("HMAC-SHA2-384-192", 48, 24, false),
        integ::HMAC_SHA2_512_256 => ("HMAC-SHA2-512-256", 64, 32, false),
        _ => {
            return Err(CryptoError::Unsupported {
                kind: "integrity",
                id,
            });
        }
    };
    Ok(IntegrityAlg {
        id,
        name,
        key_len,
        icv_len,
        weak,
    })
}

/// Looks up an IKEv2 PRF transform.
pub fn prf(id: u16) -> Result<Prf> {
    Ok(match id {
        prf_id::HMAC_MD5 => Prf::HMAC_MD5,
        prf_id::HMAC_SHA1 => Prf::HMAC_SHA1,
        prf_id::HMAC_SHA2_256 => Prf::HMAC_SHA2_256,
        prf_id::HMAC_SHA2_384 => Prf::HMAC_SHA2_384,
        prf_id::HMAC_SHA2_512 => Prf::HMAC_SHA2_512,
        _ => return Err(CryptoError::Unsupported { kind: "prf", id }),
    })
}

pub use crate::kex::by_group as key_exchange;

/// IKEv1 numbering, translated to the registry's algorithms.
pub mod ikev1 {
    use super::*;

    /// Phase 1 encryption algorithm attribute (RFC 2409 appendix A; 7 = AES-CBC from
    /// RFC 3602 §5.3) with the Key Length attribute.
    pub fn ike_encryption(value: u16, key_bits: Option<u16>) -> Result<Encryption> {
        match value {
            1 => encryption(encr::DES, key_bits),
            5 => encryption(encr::TRIPLE_DES, key_bits),
            // RFC 3602 §5.3: the key length attribute defaults to 128 when absent.
            7 => encryption(encr::AES_CBC, Some(key_bits.unwrap_or(128))),
            id => Err(CryptoError::Unsupported {
                kind: "ikev1 encryption",
                id,
            }),
        }
    }

    /// Phase 1 hash algorithm attribute: the HMAC PRF built on it (RFC 2409 §4, the
    /// negotiated PRF defaults to the HMAC of the hash; SHA2 values from RFC 4868 §2.2).
    pub fn ike_hash(value: u16) -> Result<Prf> {
        match value {
            1 => Ok(Prf::HMAC_MD5),
            2 => Ok(Prf::HMAC_SHA1),
            4 => Ok(Prf::HMAC_SHA2_256),
            5 => Ok(Prf::HMAC_SHA2_384),
            6 => Ok(Prf::HMAC_SHA2_512),
            id => Err(CryptoError::Unsupported {
                kind: "ikev1 hash",
                id,
            }),
        }
    }

    /// ESP transform ID (RFC 2407 §4.4.4) with the Key Length attribute (§4.5).
    pub fn esp_transform(id: u8, key_bits: Option<u16>) -> Result<Encryption> {
        let v2 = match id {
            2 => encr::DES,
            3 => encr::TRIPLE_DES,
            11 => encr::NULL,
            12 => {
                return encryption(encr::AES_CBC, Some(key_bits.unwrap_or(128)));
            }
            13 => encr::AES_CTR,
            18 => encr::AES_GCM_8,
            19 => encr::AES_GCM_12,
            20 => encr::AES_GCM_16,
            // RFC 4543 §9: ESP_NULL_AUTH_AES_GMAC.
            23 => encr::NULL_AUTH_AES_GMAC,
            other => {
                return Err(CryptoError::Unsupported {
                    kind: "ikev1 esp transform",
                    id: u16::from(other),
                });
            }
        };
        encryption(v2, key_bits)
    }

    /// The "Authentication Algorithm" SA attribute of ESP (RFC 2407 §4.5, RFC 4868 §2.3).
    pub fn auth_algorithm(value: u16) -> Result<IntegrityAlg> {
        integrity(match value {
            1 => integ::HMAC_MD5_96,
            2 => integ::HMAC_SHA1_96,
            5 => integ::HMAC_SHA2_256_128,
            6 => integ::HMAC_SHA2_384_192,
            7 => integ::HMAC_SHA2_512_256,
            id => {
                return Err(CryptoError::Unsupported {
                    kind: "ikev1 authentication algorithm",
                    id,
                });
            }
        })
    }

    /// AH transform ID (RFC 2407 §4.4.3: 2 MD5, 3 SHA, 5-7 SHA2 from RFC 4868).
    pub fn ah_transform(id: u8) -> Result<IntegrityAlg> {
        integrity(match id {
            2 => integ::HMAC_MD5_96,
            3 => integ::HMAC_SHA1_96,
            5 => integ::HMAC_SHA2_256_128,
            6 => integ::HMAC_SHA2_384_192,
            7 => integ::HMAC_SHA2_512_256,
            other => {
                return Err(CryptoError::Unsupported {
                    kind: "ikev1 ah transform",
                    id: u16::from(other),
                });
            }
        })
    }
}
