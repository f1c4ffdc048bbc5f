//! Key exchange methods of IKE (the "Diffie-Hellman groups"): MODP groups 1, 2, 5, 14, 15,
//! 16 (RFC 2409 §6, RFC 3526), ECP groups 19, 20, 21 (RFC 5903) and Curve25519 (group 31,
//! RFC 8031).
//!
//! Sans-IO: the private key is made from random bytes the caller supplies
//! ([`KexAlgorithm::private_len`] of them), so tests are deterministic and only the daemon
//! draws randomness. Public values use the IKE wire format (MODP: big-endian padded to the
//! prime's length; ECP: x | y without the 0x04 prefix, RFC 5903 §7; X25519: 32 bytes).

mod ecp;
mod modp;
pub(crate) mod primes;

use crate::error::{CryptoError, Result};
use crate::secret::Secret;

/// One side of a key exchange in progress. Dropping it destroys the private key.
pub trait KeyExchange: Send {
    /// The IANA group number.
    fn group(&self) -> u16;
    /// Our public value in IKE wire format (the KE payload data).
    fn public_value(&self) -> &[u8];
    /// The shared secret with a peer's public value, after validating it. Invalid values
    /// (wrong length, 0, 1, p-1, >= p, not on the curve, degenerate results) are errors.
    fn shared_secret(&self, peer: &[u8]) -> Result<Secret>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Modp { prime: &'static str, bits: u32 },
    Ecp { curve: ecp::Curve },
    X25519,
}

/// A key exchange method from the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KexAlgorithm {
    pub group: u16,
    pub name: &'static str,
    /// Weak groups (768- and 1024-bit MODP) work for compatibility but are flagged.
    pub weak: bool,
    kind: Kind,
}

impl KexAlgorithm {
    /// How many random bytes [`KexAlgorithm::from_private`] needs.
    pub fn private_len(&self) -> usize {
        match self.kind {
            // Exponents of at least twice the group's security strength (NIST SP 800-57);
            // 64 bytes covers the 152-bit strength of group 16 with room.
            Kind::Modp { bits, .. } if bits <= 1024 => 32,
            Kind::Modp { .. } => 64,
            Kind::Ecp { curve } => curve.scalar_len(),
            Kind::X25519 => 32,
        }
    }

    /// Length of the public value on the wire.
    pub fn public_len(&self) -> usize {
        match self.kind {
            Kind::Modp { bits, .. } => bits as usize / 8,
            Kind::Ecp { curve } => 2 * curve.scalar_len(),
            Kind::X25519 => 32,
        }
    }

    /// Makes our half of the exchange from `random` ([`Self::private_len`] bytes of fresh
    /// randomness). For ECP a value outside [1, n-1] is refused with
    /// [`CryptoError::BadPrivateKey`]: draw new bytes and retry.
    pub fn from_private(&self, random: &[u8]) -> Result<Box<dyn KeyExchange>> {
        if random.len() != self.private_len() {
            return Err(CryptoError::BadLength {
                what: "key exchange randomness",
                len: random.len(),
            });
        }
        Ok(match self.kind {
            Kind::Modp { prime, bits } => {
                Box::new(modp::Modp::new(self.group, prime, bits, random)?)
            }
            Kind::Ecp { curve } => Box::new(ecp::Ecdh::new(self.group, curve, random)?),
            Kind::X25519 => Box::new(ecp::Ecdh::x25519(self.group, random)?),
        })
    }
}

/// Every key exchange method, by IANA number (the same in IKEv1 and IKEv2).
pub static ALL: &[KexAlgorithm] = &[
    KexAlgorithm {
        group: 1,
        name: "MODP768",
        weak: true,
        kind: Kind::Modp {
            prime: primes::MODP_768,
            bits: 768,
        },
    },
    KexAlgorithm {
        group: 2,
        name: "MODP1024",
        weak: true,
        kind: Kind::Modp {
            prime: primes::MODP_1024,
            bits: 1024,
        },
    },
    KexAlgorithm {
        group: 5,
        name: "MODP1536",
        weak: false,
        kind: Kind::Modp {
            prime: primes::MODP_1536,
            bits: 1536,
        },
    },
    KexAlgorithm {
        group: 14,
        name: "MODP2048",
        weak: false,
        kind: Kind::Modp {
            prime: primes::MODP_2048,
            bits: 2048,
        },
    },
    KexAlgorithm {
        group: 15,
        name: "MODP3072",
        weak: false,
        kind: Kind::Modp {
            prime: primes::MODP_3072,
            bits: 3072,
        },
    },
    KexAlgorithm {
        group: 16,
        name: "MODP4096",
        weak: false,
        kind: Kind::Modp {
            prime: primes::MODP_4096,
            bits: 4096,
        },
    },
    KexAlgorithm {
        group: 19,
        name: "ECP256",
        weak: false,
        kind: Kind::Ecp {
            curve: ecp::Curve::P256,
        },
    },
    KexAlgorithm {
        group: 20,
        name: "ECP384",
        weak: false,
        kind: Kind::Ecp {
            curve: ecp::Curve::P384,
        },
    },
    KexAlgorithm {
        group: 21,
        name: "ECP521",
        weak: false,
        kind: Kind::Ecp {
            curve: ecp::Curve::P521,
        },
    },
    KexAlgorithm {
        group: 31,
        name: "CURVE25519",
        weak: false,
        kind: Kind::X25519,
    },
];

/// Looks up a key exchange method by its IANA number.
pub fn by_group(group: u16) -> Result<&'static KexAlgorithm> {
    ALL.iter()
        .find(|k| k.group == group)
        .ok_or(CryptoError::Unsupported {
            kind: "key exchange",
            id: group,
        })
}
