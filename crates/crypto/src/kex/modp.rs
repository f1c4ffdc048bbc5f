//! Finite-field Diffie-Hellman over the MODP groups (generator 2), on crypto-bigint's
//! constant-time Montgomery exponentiation.

use std::sync::{Arc, Mutex, OnceLock};

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use zeroize::Zeroize;

use crate::error::{CryptoError, Result};
use crate::secret::Secret;

/// A prime's Montgomery parameters and the prime itself.
type Group = Arc<(BoxedMontyParams, BoxedUint)>;

/// Montgomery parameters per prime, computed once per process.
fn params(prime: &'static str, bits: u32) -> Result<Group> {
    static CACHE: OnceLock<Mutex<Vec<(&'static str, Group)>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut c = cache
        .lock()
        .map_err(|_| CryptoError::Backend("modp cache"))?;
    if let Some((_, p)) = c.iter().find(|(k, _)| *k == prime) {
        return Ok(p.clone());
    }
    let bytes = decode_hex(prime).ok_or(CryptoError::Backend("modp prime"))?;
    let p =
        BoxedUint::from_be_slice(&bytes, bits).map_err(|_| CryptoError::Backend("modp prime"))?;
    let odd = Option::from(Odd::new(p.clone())).ok_or(CryptoError::Backend("modp prime"))?;
    let entry = Arc::new((BoxedMontyParams::new(odd), p));
    c.push((prime, entry.clone()));
    Ok(entry)
}

pub(super) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub(super) struct Modp {
    group: u16,
    bits: u32,
    params: Group,
    private: BoxedUint,
    public: Vec<u8>,
}

impl Drop for Modp {
    fn drop(&mut self) {
        self.private.zeroize();
    }
}

impl Modp {
    pub(super) fn new(group: u16, prime: &'static str, bits: u32, random: &[u8]) -> Result<Self> {
        let params = params(prime, bits)?;
        let private = BoxedUint::from_be_slice(random, bits)
            .map_err(|_| CryptoError::BadPrivateKey { group })?;
        // An exponent of 0 or 1 would publish 1 or 2 and leak the key.
        if private <= BoxedUint::one_with_precision(bits) {
            return Err(CryptoError::BadPrivateKey { group });
        }
        let g = BoxedMontyForm::new(
            BoxedUint::from_be_slice(&[2], bits).map_err(|_| CryptoError::Backend("modp"))?,
            &params.0,
        );
        let public = to_padded(&g.pow(&private).retrieve(), bits);
        Ok(Self {
            group,
            bits,
            params,
            private,
            public,
        })
    }
}

fn to_padded(v: &BoxedUint, bits: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let len = bits as usize / 8;
    let mut out = vec![0u8; len];
    let take = b.len().min(len);
    out[len - take..].copy_from_slice(&b[b.len() - take..]);
    out
}

impl super::KeyExchange for Modp {
    fn group(&self) -> u16 {
        self.group
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn shared_secret(&self, peer: &[u8]) -> Result<Secret> {
        let invalid = CryptoError::InvalidPeerKey { group: self.group };
        // RFC 7296 §3.4: the value is exactly as long as the prime.
        if peer.len() != self.bits as usize / 8 {
            return Err(invalid);
        }
        let y = BoxedUint::from_be_slice(peer, self.bits).map_err(|_| invalid.clone())?;
        let p = &self.params.1;
        let one = BoxedUint::one_with_precision(self.bits);
        let p_minus_1 = p.wrapping_sub(&one);
        // 1 < y < p-1 (RFC 2631 §2.1.5 style range check; 0, 1 and p-1 force the secret).
        if y <= one || y >= p_minus_1 {
            return Err(invalid);
        }
        let z = BoxedMontyForm::new(y, &self.params.0)
            .pow(&self.private)
            .retrieve();
        if z <= one || z >= p_minus_1 {
            return Err(invalid);
        }
        // RFC 7296 §2.14 / RFC 2409: g^ir is padded to the prime's length.
        Ok(Secret::new(to_padded(&z, self.bits)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{by_group, primes};
    use super::*;

    #[test]
    fn primes_have_the_rfc_shape_and_pass_fermat() {
        for g in [1u16, 2, 5, 14, 15, 16] {
            let alg = by_group(g).unwrap();
            let super::super::Kind::Modp { prime, bits } = alg.kind else {
                panic!("not modp")
            };
            let bytes = decode_hex(prime).unwrap();
            assert_eq!(bytes.len() * 8, bits as usize, "group {g} length");
            assert!(bytes[..8].iter().all(|&b| b == 0xff), "group {g} top bits");
            assert!(
                bytes[bytes.len() - 8..].iter().all(|&b| b == 0xff),
                "group {g} low bits"
            );
            // Fermat: 2^(p-1) = 1 (mod p); one flipped digit breaks it.
            let prm = params(prime, bits).unwrap();
            let one = BoxedUint::one_with_precision(bits);
            let e = prm.1.wrapping_sub(&one);
            let two = BoxedMontyForm::new(BoxedUint::from_be_slice(&[2], bits).unwrap(), &prm.0);
            assert_eq!(two.pow(&e).retrieve(), one, "group {g} fermat");
        }
    }

    #[test]
    fn both_sides_agree_and_bad_values_are_refused() {
        let alg = by_group(14).unwrap();
        let a = alg.from_private(&[0x11; 64]).unwrap();
        let b = alg.from_private(&[0x22; 64]).unwrap();
        assert_eq!(a.public_value().len(), 256);
        let s1 = a.shared_secret(b.public_value()).unwrap();
        let s2 = b.shared_secret(a.public_value()).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(s1.len(), 256);
        let p = decode_hex(primes::MODP_2048).unwrap();
        let mut p_minus_1 = p.clone();
        p_minus_1[255] -= 1;
        let mut one = vec![0u8; 256];
        one[255] = 1;
        for bad in [
            vec![0u8; 256],
            one,
            p_minus_1,
            p.clone(),
            vec![0xff; 256],
            vec![2u8; 255],
            vec![2u8; 257],
        ] {
            assert_eq!(
                a.shared_secret(&bad),
                Err(CryptoError::InvalidPeerKey { group: 14 })
            );
        }
        assert!(alg.from_private(&[0u8; 64]).is_err());
        assert!(alg.from_private(&[1u8; 63]).is_err());
    }
}
