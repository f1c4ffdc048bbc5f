//! Oakley's crypto provider: every algorithm IKE and ESP/AH negotiate, found by its IANA
//! number, behind small traits, in the style of rustls' `CryptoProvider`. Protocol code
//! asks [`registry`] for "IKEv2 ENCR 20 with a 128-bit key" and gets something it can key;
//! it never names a library.
//!
//! Backends, chosen per algorithm (see docs/BENCHMARKS.md for the measurements):
//! aws-lc-rs for AES-GCM-16, ChaCha20-Poly1305, AES-CBC/CTR, HMAC-SHA1/SHA2, ECDH and
//! X25519; RustCrypto for truncated-ICV AES-GCM, DES/3DES and MD5; crypto-bigint for the
//! MODP groups. Nothing here reads the clock or draws randomness: key exchanges take the
//! caller's random bytes. Key material lives in [`Secret`] (zeroized on drop, redacted in
//! `Debug`).

pub mod aead;
pub mod cipher;
pub mod error;
pub mod integrity;
pub mod kdf;
pub mod kex;
pub mod prf;
pub mod registry;
mod secret;

pub use error::{CryptoError, Result};
pub use secret::{Secret, ct_eq};
