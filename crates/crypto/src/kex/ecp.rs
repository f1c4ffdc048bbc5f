//! Elliptic-curve Diffie-Hellman: NIST P-256/384/521 (RFC 5903) and X25519 (RFC 7748,
//! RFC 8031) on aws-lc-rs, which validates peer points (on the curve, not the identity).
//! Private keys come from caller randomness via `PrivateKey::from_private_key`; aws-lc
//! wipes them when the key is freed.

use aws_lc_rs::agreement::{self as lc, PrivateKey, UnparsedPublicKey};

use crate::error::{CryptoError, Result};
use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub(super) fn scalar_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    fn alg(self) -> &'static lc::Algorithm {
        match self {
            Curve::P256 => &lc::ECDH_P256,
            Curve::P384 => &lc::ECDH_P384,
            Curve::P521 => &lc::ECDH_P521,
        }
    }
}

pub(super) struct Ecdh {
    group: u16,
    /// None for X25519.
    curve: Option<Curve>,
    private: PrivateKey,
    public: Vec<u8>,
}

impl Ecdh {
    pub(super) fn new(group: u16, curve: Curve, random: &[u8]) -> Result<Self> {
        // P-521 scalars are 66 bytes of which only 521 bits count: keep the top bit of
        // the first byte so uniform random bytes almost always give a valid scalar.
        let mut scalar = zeroize::Zeroizing::new(random.to_vec());
        if let (Curve::P521, Some(first)) = (curve, scalar.first_mut()) {
            *first &= 0x01;
        }
        let private = PrivateKey::from_private_key(curve.alg(), &scalar)
            .map_err(|_| CryptoError::BadPrivateKey { group })?;
        let public = private
            .compute_public_key()
            .map_err(|_| CryptoError::Backend("ecdh public key"))?;
        // Uncompressed SEC1 point: 0x04 | x | y; IKE carries x | y (RFC 5903 §7).
        let public = public.as_ref().get(1..).unwrap_or_default().to_vec();
        Ok(Self {
            group,
            curve: Some(curve),
            private,
            public,
        })
    }

    pub(super) fn x25519(group: u16, random: &[u8]) -> Result<Self> {
        let private = PrivateKey::from_private_key(&lc::X25519, random)
            .map_err(|_| CryptoError::BadPrivateKey { group })?;
        let public = private
            .compute_public_key()
            .map_err(|_| CryptoError::Backend("x25519 public key"))?
            .as_ref()
            .to_vec();
        Ok(Self {
            group,
            curve: None,
            private,
            public,
        })
    }
}

impl super::KeyExchange for Ecdh {
    fn group(&self) -> u16 {
        self.group
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn shared_secret(&self, peer: &[u8]) -> Result<Secret> {
        let invalid = CryptoError::InvalidPeerKey { group: self.group };
        let (alg, point) = match self.curve {
            Some(c) => {
                if peer.len() != 2 * c.scalar_len() {
                    return Err(invalid);
                }
                let mut p = Vec::with_capacity(peer.len() + 1);
                p.push(0x04);
                p.extend_from_slice(peer);
                (c.alg(), p)
            }
            None => {
                if peer.len() != 32 {
                    return Err(invalid);
                }
                (&lc::X25519, peer.to_vec())
            }
        };
        let secret = lc::agree(
            &self.private,
            UnparsedPublicKey::new(alg, &point),
            invalid.clone(),
            |s| Ok(Secret::from_slice(s)),
        )?;
        // RFC 7748 §6.1 / RFC 8031 §2.3: an all-zero X25519 result means a small-order
        // peer value and must be refused.
        if secret.expose().iter().all(|&b| b == 0) {
            return Err(invalid);
        }
        Ok(secret)
    }
}
