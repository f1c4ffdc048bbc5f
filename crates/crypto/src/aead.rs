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
/// C libraries cannot verify, and AES-192 with a full ICV, which aws-lc-rs lacks. Generic
/// over key size and ICV length so each keyed instance dispatches straight to its own code.
pub(crate) struct RustGcm<A, T: aes_gcm::TagSize>(aes_gcm::AesGcm<A, U12, T>);

/// Keys a RustCrypto AES-GCM for a 16/24/32-byte key and an 8/12/16-byte ICV.
pub(crate) fn rust_gcm(key: &[u8], icv_len: usize) -> Result<Box<dyn Aead>> {
    fn mk<A, T>(key: &[u8]) -> Result<Box<dyn Aead>>
    where
        T: aes_gcm::TagSize + 'static,
        A: 'static,
        aes_gcm::AesGcm<A, U12, T>: KeyInit + AeadInOut<TagSize = T, NonceSize = U12> + Send + Sync,
    {
        let c = <aes_gcm::AesGcm<A, U12, T> as KeyInit>::new_from_slice(key).map_err(|_| {
            CryptoError::BadLength {
                what: "aes-gcm key",
                len: key.len(),
            }
        })?;
        Ok(Box::new(RustGcm(c)))
    }
    match (key.len(), icv_len) {
        (16, 8) => mk::<aes::Aes128, U8>(key),
        (16, 12) => mk::<aes::Aes128, U12>(key),
        (24, 8) => mk::<aes::Aes192, U8>(key),
        (24, 12) => mk::<aes::Aes192, U12>(key),
        (24, 16) => mk::<aes::Aes192, U16>(key),
        (32, 8) => mk::<aes::Aes256, U8>(key),
        (32, 12) => mk::<aes::Aes256, U12>(key),
        (n, _) => Err(CryptoError::BadLength {
            what: "aes-gcm key",
            len: n,
        }),
    }
}

impl<A, T> Aead for RustGcm<A, T>
where
    T: aes_gcm::TagSize,
    aes_gcm::AesGcm<A, U12, T>: AeadInOut<TagSize = T, NonceSize = U12> + Send + Sync,
{
    fn icv_len(&self) -> usize {
        T::USIZE
    }

    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &mut [u8]) -> Result<()> {
        if icv.len() != T::USIZE {
            return Err(CryptoError::BadLength {
                what: "aead icv",
                len: icv.len(),
            });
        }
        let tag = self
            .0
            .encrypt_inout_detached(nonce.into(), aad, buf.into())
            .map_err(|_| CryptoError::Backend("aes-gcm seal"))?;
        icv.copy_from_slice(&tag);
        Ok(())
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], icv: &[u8]) -> Result<()> {
        let tag = icv.try_into().map_err(|_| CryptoError::BadIcv)?;
        self.0
            .decrypt_inout_detached(nonce.into(), aad, buf.into(), tag)
            .map_err(|_| CryptoError::BadIcv)
    }
}
