//! Authenticated encryption: AES-GCM with 8/12/16-byte ICVs (RFC 4106) and
//! ChaCha20-Poly1305 (RFC 7634), sealed and opened in place with a detached ICV.
//!
//! The 12-byte nonce is built by the caller (ESP: salt | IV, RFC 4106 §4; IKE: salt | IV,
//! RFC 5282 §4), so one trait serves both.

use aes_gcm::aead::consts::{U8, U12, U16};
use aes_gcm::aead::{AeadInOut, KeyInit};
use aws_lc_rs::aead as lc;

use crate::error::{CryptoError, Result};

/// A keyed AEAD, ready for use on many packets.
pub trait Aead: Send + Sync {
    /// Length of the ICV this AEAD writes and checks.
    fn icv_len(&self) -> usize;

    /// Encrypts `buf` in place and writes the ICV to `icv` (exactly `icv_len()` bytes).
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &mut [u8]) -> Result<()>;

    /// Checks `icv` over `aad` and the ciphertext, then decrypts `buf` in place. On
    /// failure the buffer content is unspecified and must not be used.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &[u8]) -> Result<()>;
}

/// A full-tag AEAD backed by aws-lc-rs (AES-GCM-16, ChaCha20-Poly1305).
pub(crate) struct LcAead {
    key: lc::LessSafeKey,
}

impl LcAead {
    pub(crate) fn new(alg: &'static lc::Algorithm, key: &[u8]) -> Result<Self> {
        let unbound = lc::UnboundKey::new(alg, key).map_err(|_| CryptoError::BadLength {
            what: "aead key",
            len: key.len(),
        })?;
        Ok(Self {
            key: lc::LessSafeKey::new(unbound),
        })
    }
}

impl Aead for LcAead {
    fn icv_len(&self) -> usize {
        16
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &mut [u8]) -> Result<()> {
        if icv.len() != 16 {
            return Err(CryptoError::BadLength {
                what: "aead icv",
                len: icv.len(),
            });
        }
        let tag = self
            .key
            .seal_in_place_separate_tag(
                lc::Nonce::assume_unique_for_key(*nonce),
                lc::Aad::from(aad),
                buf,
            )
            .map_err(|_| CryptoError::Backend("aead seal"))?;
        icv.copy_from_slice(tag.as_ref());
        Ok(())
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &[u8]) -> Result<()> {
        if icv.len() != 16 {
            return Err(CryptoError::BadIcv);
        }
        self.key
            .open_in_place_separate_tag(
                lc::Nonce::assume_unique_for_key(*nonce),
                lc::Aad::from(aad),
                icv,
                buf,
            )
            .map(|_| ())
            .map_err(|_| CryptoError::BadIcv)
    }
}

/// AES-GCM on RustCrypto's `aes-gcm`: the truncated ICVs (ENCR_AES_GCM_8 / _12), which the
/// C libraries cannot verify, and AES-192 with a full ICV, which aws-lc-rs lacks.
pub(crate) enum TruncatedGcm {
    Aes128Icv8(aes_gcm::AesGcm<aes::Aes128, U12, U8>),
    Aes128Icv12(aes_gcm::AesGcm<aes::Aes128, U12, U12>),
    Aes192Icv8(aes_gcm::AesGcm<aes::Aes192, U12, U8>),
    Aes192Icv12(aes_gcm::AesGcm<aes::Aes192, U12, U12>),
    Aes192Icv16(aes_gcm::AesGcm<aes::Aes192, U12, U16>),
    Aes256Icv8(aes_gcm::AesGcm<aes::Aes256, U12, U8>),
    Aes256Icv12(aes_gcm::AesGcm<aes::Aes256, U12, U12>),
}

impl TruncatedGcm {
    pub(crate) fn new(key: &[u8], icv_len: usize) -> Result<Self> {
        let bad = || CryptoError::BadLength {
            what: "aes-gcm key",
            len: key.len(),
        };
        Ok(match (key.len(), icv_len) {
            (16, 8) => Self::Aes128Icv8(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            (16, 12) => Self::Aes128Icv12(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            (24, 8) => Self::Aes192Icv8(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            (24, 12) => Self::Aes192Icv12(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            (24, 16) => Self::Aes192Icv16(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            (32, 8) => Self::Aes256Icv8(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            (32, 12) => Self::Aes256Icv12(KeyInit::new_from_slice(key).map_err(|_| bad())?),
            _ => return Err(bad()),
        })
    }
}

macro_rules! each_gcm {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            TruncatedGcm::Aes128Icv8($c) => $body,
            TruncatedGcm::Aes128Icv12($c) => $body,
            TruncatedGcm::Aes192Icv8($c) => $body,
            TruncatedGcm::Aes192Icv12($c) => $body,
            TruncatedGcm::Aes192Icv16($c) => $body,
            TruncatedGcm::Aes256Icv8($c) => $body,
            TruncatedGcm::Aes256Icv12($c) => $body,
        }
    };
}

impl Aead for TruncatedGcm {
    fn icv_len(&self) -> usize {
        match self {
            Self::Aes128Icv8(_) | Self::Aes192Icv8(_) | Self::Aes256Icv8(_) => 8,
            Self::Aes192Icv16(_) => 16,
            _ => 12,
        }
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &mut [u8]) -> Result<()> {
        if icv.len() != self.icv_len() {
            return Err(CryptoError::BadLength {
                what: "aead icv",
                len: icv.len(),
            });
        }
        each_gcm!(self, c => {
            let tag = c
                .encrypt_inout_detached(nonce.into(), aad, buf.into())
                .map_err(|_| CryptoError::Backend("aes-gcm seal"))?;
            icv.copy_from_slice(&tag);
        });
        Ok(())
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &[u8]) -> Result<()> {
        if icv.len() != self.icv_len() {
            return Err(CryptoError::BadIcv);
        }
        each_gcm!(self, c => c
            .decrypt_inout_detached(nonce.into(), aad, buf.into(), icv.try_into().map_err(|_| CryptoError::BadIcv)?)
            .map_err(|_| CryptoError::BadIcv))
    }
}
