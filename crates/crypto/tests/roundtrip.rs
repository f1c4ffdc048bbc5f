//! Property tests over every ESP encryption and integrity transform in the registry:
//! seal then open returns the plaintext for random keys, nonces and sizes, and any flipped
//! bit in ciphertext, AAD or ICV is caught.

use crypto::CryptoError;
use crypto::registry::{self, Keyed, encr, integ};
use proptest::prelude::*;

const SUITES: &[(u16, Option<u16>)] = &[
    (encr::AES_GCM_16, Some(128)),
    (encr::AES_GCM_16, Some(192)),
    (encr::AES_GCM_16, Some(256)),
    (encr::AES_GCM_12, Some(256)),
    (encr::AES_GCM_8, Some(192)),
    (encr::CHACHA20_POLY1305, None),
    (encr::AES_CBC, Some(128)),
    (encr::AES_CBC, Some(192)),
    (encr::AES_CBC, Some(256)),
    (encr::AES_CTR, Some(128)),
    (encr::AES_CTR, Some(256)),
    (encr::TRIPLE_DES, None),
    (encr::DES, None),
    (encr::NULL, None),
];

const INTEG: &[u16] = &[
    integ::HMAC_MD5_96,
    integ::HMAC_SHA1_96,
    integ::HMAC_SHA2_256_128,
    integ::HMAC_SHA2_384_192,
    integ::HMAC_SHA2_512_256,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn seal_open_round_trip(suite in 0..SUITES.len(), key_byte in any::<u8>(), nonce in any::<[u8; 12]>(),
                            aad in proptest::collection::vec(any::<u8>(), 0..32),
                            len in 0usize..600, flip in any::<prop::sample::Index>()) {
        let (id, bits) = SUITES[suite];
        let e = registry::encryption(id, bits).unwrap();
        let keymat: Vec<u8> = (0..e.keymat_len).map(|i| key_byte.wrapping_add(i as u8)).collect();
        let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        match e.key(&keymat).unwrap() {
            Keyed::Aead(a) => {
                let mut buf = pt.clone();
                let mut icv = vec![0u8; a.icv_len()];
                a.seal(&nonce, &aad, &mut buf, &mut icv).unwrap();
                let sealed = buf.clone();
                a.open(&nonce, &aad, &mut buf, &icv).unwrap();
                prop_assert_eq!(&buf, &pt);
                // Tampering anywhere is caught.
                let mut bad_icv = icv.clone();
                let i = flip.index(bad_icv.len());
                bad_icv[i] ^= 0x80;
                let mut b = sealed.clone();
                prop_assert_eq!(a.open(&nonce, &aad, &mut b, &bad_icv), Err(CryptoError::BadIcv));
                if !sealed.is_empty() {
                    let mut b = sealed.clone();
                    let i = flip.index(b.len());
                    b[i] ^= 1;
                    prop_assert_eq!(a.open(&nonce, &aad, &mut b, &icv), Err(CryptoError::BadIcv));
                }
                let mut other = aad.clone();
                other.push(0);
                let mut b = sealed.clone();
                prop_assert_eq!(a.open(&nonce, &other, &mut b, &icv), Err(CryptoError::BadIcv));
                prop_assert!(a.open(&nonce, &aad, &mut sealed.clone(), &icv[1..]).is_err());
            }
            Keyed::Cipher(c) => {
                let block = c.block_size();
                let mut buf = pt.clone();
                buf.resize(len.div_ceil(block) * block, 0);
                let want = buf.clone();
                let iv = &nonce[..c.iv_len().min(12)];
                let iv = if c.iv_len() == 16 { [nonce.as_slice(), &nonce[..4]].concat() } else { iv.to_vec() };
                c.encrypt(&iv, &mut buf).unwrap();
                if id != encr::NULL && !want.is_empty() {
                    prop_assert_ne!(&buf, &want);
                }
                c.decrypt(&iv, &mut buf).unwrap();
                prop_assert_eq!(buf, want);
            }
        }
    }

    #[test]
    fn integrity_verifies_and_catches_flips(which in 0..INTEG.len(), key_byte in any::<u8>(),
                                            a in proptest::collection::vec(any::<u8>(), 0..200),
                                            b in proptest::collection::vec(any::<u8>(), 0..200),
                                            flip in any::<prop::sample::Index>()) {
        let alg = registry::integrity(INTEG[which]).unwrap();
        let k = alg.key(&vec![key_byte; alg.key_len]).unwrap();
        let mut icv = vec![0u8; alg.icv_len];
        k.compute(&[&a, &b], &mut icv).unwrap();
        // Split points do not matter: the MAC is over the concatenation.
        let joined = [a.as_slice(), b.as_slice()].concat();
        k.verify(&[&joined], &icv).unwrap();
        let i = flip.index(icv.len());
        icv[i] ^= 1;
        prop_assert_eq!(k.verify(&[&joined], &icv), Err(CryptoError::BadIcv));
    }

    #[test]
    fn key_exchange_agrees(group in prop::sample::select(vec![1u16, 2, 5, 14, 19, 20, 21, 31]),
                           seed_a in any::<u8>(), seed_b in any::<u8>()) {
        let alg = crypto::kex::by_group(group).unwrap();
        let mk = |s: u8| (0..alg.private_len()).map(|i| s ^ (i as u8).wrapping_mul(31)).map(|b| b | 1).collect::<Vec<u8>>();
        let (Ok(a), Ok(b)) = (alg.from_private(&mk(seed_a)), alg.from_private(&mk(seed_b))) else {
            return Ok(());
        };
        prop_assert_eq!(a.public_value().len(), alg.public_len());
        let s1 = a.shared_secret(b.public_value()).unwrap();
        let s2 = b.shared_secret(a.public_value()).unwrap();
        prop_assert_eq!(s1, s2);
    }
}
