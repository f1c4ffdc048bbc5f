//! Every ESP cipher suite sealed through the registry's trait objects, beside the raw
//! library calls on the same bytes in the same run, at 64, 1400 and 9000 bytes. A third
//! group compares the AEAD backends (aws-lc-rs and ring) that the registry chooses between.
//!
//! `bash scripts/bench.sh` runs this and writes docs/BENCHMARKS.md from the results.

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::{aead as lc_aead, cipher as lc_cipher, hmac as lc_hmac};
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crypto::registry::{self, Keyed, encr, integ};

const SIZES: [usize; 3] = [64, 1400, 9000];
const AAD: [u8; 8] = [0, 0, 0x10, 0, 0, 0, 0, 1];
const NONCE: [u8; 12] = [7; 12];

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(700));
    g.measurement_time(Duration::from_secs(2));
    g
}

fn aead_suite(
    c: &mut Criterion,
    name: &str,
    id: u16,
    bits: Option<u16>,
    raw_alg: Option<&'static lc_aead::Algorithm>,
) {
    let e = registry::encryption(id, bits).unwrap();
    let keymat = vec![0x42u8; e.keymat_len];
    let Keyed::Aead(ours) = e.key(&keymat).unwrap() else {
        unreachable!()
    };
    let key = &keymat[..e.keymat_len - e.salt_len];
    let mut g = group(c, name);
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        let mut buf = vec![0xa5u8; size];
        let mut icv = vec![0u8; e.icv_len];
        g.bench_with_input(BenchmarkId::new("oakley", size), &size, |b, _| {
            b.iter(|| {
                ours.seal(&NONCE, &AAD, black_box(&mut buf), &mut icv)
                    .unwrap()
            })
        });
        match raw_alg {
            Some(alg) => {
                let k = lc_aead::LessSafeKey::new(lc_aead::UnboundKey::new(alg, key).unwrap());
                g.bench_with_input(BenchmarkId::new("raw", size), &size, |b, _| {
                    b.iter(|| {
                        let tag = k
                            .seal_in_place_separate_tag(
                                lc_aead::Nonce::assume_unique_for_key(NONCE),
                                lc_aead::Aad::from(&AAD),
                                black_box(&mut buf),
                            )
                            .unwrap();
                        // ESP must place the ICV after the ciphertext either way.
                        icv.copy_from_slice(tag.as_ref());
                    })
                });
            }
            None => raw_truncated_gcm(&mut g, key, size, &mut buf, &mut icv),
        }
    }
    g.finish();
}

fn raw_truncated_gcm(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    key: &[u8],
    size: usize,
    buf: &mut [u8],
    icv: &mut [u8],
) {
    use aes_gcm::aead::consts::{U8, U12};
    use aes_gcm::aead::{AeadInOut, KeyInit};
    macro_rules! run {
        ($t:ty) => {{
            let c =
                <aes_gcm::AesGcm<aes::Aes128, U12, $t> as KeyInit>::new_from_slice(key).unwrap();
            g.bench_with_input(BenchmarkId::new("raw", size), &size, |b, _| {
                b.iter(|| {
                    let tag = c
                        .encrypt_inout_detached((&NONCE).into(), &AAD, black_box(&mut *buf).into())
                        .unwrap();
                    icv.copy_from_slice(&tag);
                })
            });
        }};
    }
    if icv.len() == 8 { run!(U8) } else { run!(U12) }
}

#[allow(clippy::large_enum_variant)] // built once per suite, never moved in the loop
enum RawCipher {
    Aes(lc_cipher::EncryptingKey, bool),
    TripleDes([u8; 24]),
}

fn cipher_suite(c: &mut Criterion, name: &str, id: u16, bits: Option<u16>, integ_id: u16) {
    let e = registry::encryption(id, bits).unwrap();
    let ia = registry::integrity(integ_id).unwrap();
    let keymat = vec![0x42u8; e.keymat_len];
    let ikey = vec![0x24u8; ia.key_len];
    let Keyed::Cipher(ours) = e.key(&keymat).unwrap() else {
        unreachable!()
    };
    let mac = ia.key(&ikey).unwrap();
    let raw = match id {
        encr::AES_CBC | encr::AES_CTR => {
            let n = usize::from(e.key_bits) / 8;
            let alg = match n {
                16 => &lc_cipher::AES_128,
                _ => &lc_cipher::AES_256,
            };
            let k = lc_cipher::UnboundCipherKey::new(alg, &keymat[..n]).unwrap();
            if id == encr::AES_CBC {
                RawCipher::Aes(lc_cipher::EncryptingKey::cbc(k).unwrap(), false)
            } else {
                RawCipher::Aes(lc_cipher::EncryptingKey::ctr(k).unwrap(), true)
            }
        }
        _ => RawCipher::TripleDes(keymat[..24].try_into().unwrap()),
    };
    let raw_mac = lc_hmac::Key::new(
        match integ_id {
            integ::HMAC_SHA1_96 => lc_hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            _ => lc_hmac::HMAC_SHA256,
        },
        &ikey,
    );
    let iv = vec![9u8; ours.iv_len()];
    let mut g = group(c, name);
    for size in SIZES {
        g.throughput(Throughput::Bytes(size as u64));
        // ESP pads the plaintext to the cipher block (RFC 4303 §2.4): 1400 becomes 1408.
        let padded = size.div_ceil(ours.block_size()) * ours.block_size();
        let mut buf = vec![0xa5u8; padded];
        let mut icv = vec![0u8; ia.icv_len];
        g.bench_with_input(BenchmarkId::new("oakley", size), &size, |b, _| {
            b.iter(|| {
                ours.encrypt(&iv, black_box(&mut buf)).unwrap();
                mac.compute(&[&AAD, &iv, &buf], &mut icv).unwrap();
            })
        });
        g.bench_with_input(BenchmarkId::new("raw", size), &size, |b, _| {
            b.iter(|| {
                match &raw {
                    RawCipher::Aes(k, ctr) => {
                        let mut block = [0u8; 16];
                        if *ctr {
                            block[..4].copy_from_slice(&keymat[keymat.len() - 4..]);
                            block[4..12].copy_from_slice(&iv);
                            block[15] = 1;
                        } else {
                            block.copy_from_slice(&iv);
                        }
                        k.less_safe_encrypt(
                            black_box(&mut buf),
                            lc_cipher::EncryptionContext::Iv128(block.into()),
                        )
                        .unwrap();
                    }
                    RawCipher::TripleDes(k) => {
                        cbc::Encryptor::<des::TdesEde3>::new_from_slices(k, &iv)
                            .unwrap()
                            .encrypt_padded::<cbc::cipher::block_padding::NoPadding>(
                                black_box(&mut buf),
                                padded,
                            )
                            .unwrap();
                    }
                }
                let mut ctx = lc_hmac::Context::with_key(&raw_mac);
                ctx.update(&AAD);
                ctx.update(&iv);
                ctx.update(&buf);
                let n = icv.len();
                icv.copy_from_slice(&ctx.sign().as_ref()[..n]);
            })
        });
    }
    g.finish();
}

/// The two C backends on the same AEADs: the registry takes the faster on this machine.
fn backends(c: &mut Criterion) {
    for (name, lc_alg, ring_alg, klen) in [
        (
            "backend AES-128-GCM",
            &lc_aead::AES_128_GCM,
            &ring::aead::AES_128_GCM,
            16,
        ),
        (
            "backend ChaCha20-Poly1305",
            &lc_aead::CHACHA20_POLY1305,
            &ring::aead::CHACHA20_POLY1305,
            32,
        ),
    ] {
        let key = vec![0x42u8; klen];
        let lk = lc_aead::LessSafeKey::new(lc_aead::UnboundKey::new(lc_alg, &key).unwrap());
        let rk = ring::aead::LessSafeKey::new(ring::aead::UnboundKey::new(ring_alg, &key).unwrap());
        let mut g = group(c, name);
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            let mut buf = vec![0xa5u8; size];
            g.bench_with_input(BenchmarkId::new("aws-lc-rs", size), &size, |b, _| {
                b.iter(|| {
                    black_box(
                        lk.seal_in_place_separate_tag(
                            lc_aead::Nonce::assume_unique_for_key(NONCE),
                            lc_aead::Aad::from(&AAD),
                            &mut buf,
                        )
                        .unwrap(),
                    )
                })
            });
            g.bench_with_input(BenchmarkId::new("ring", size), &size, |b, _| {
                b.iter(|| {
                    black_box(
                        rk.seal_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(NONCE),
                            ring::aead::Aad::from(&AAD),
                            &mut buf,
                        )
                        .unwrap(),
                    )
                })
            });
        }
        g.finish();
    }
}

fn suites(c: &mut Criterion) {
    aead_suite(
        c,
        "AES-GCM-16-128",
        encr::AES_GCM_16,
        Some(128),
        Some(&lc_aead::AES_128_GCM),
    );
    aead_suite(
        c,
        "AES-GCM-16-256",
        encr::AES_GCM_16,
        Some(256),
        Some(&lc_aead::AES_256_GCM),
    );
    aead_suite(
        c,
        "ChaCha20-Poly1305",
        encr::CHACHA20_POLY1305,
        None,
        Some(&lc_aead::CHACHA20_POLY1305),
    );
    aead_suite(c, "AES-GCM-12-128", encr::AES_GCM_12, Some(128), None);
    aead_suite(c, "AES-GCM-8-128", encr::AES_GCM_8, Some(128), None);
    cipher_suite(
        c,
        "AES-CBC-128 HMAC-SHA1-96",
        encr::AES_CBC,
        Some(128),
        integ::HMAC_SHA1_96,
    );
    cipher_suite(
        c,
        "AES-CBC-256 HMAC-SHA2-256-128",
        encr::AES_CBC,
        Some(256),
        integ::HMAC_SHA2_256_128,
    );
    cipher_suite(
        c,
        "AES-CTR-128 HMAC-SHA2-256-128",
        encr::AES_CTR,
        Some(128),
        integ::HMAC_SHA2_256_128,
    );
    cipher_suite(
        c,
        "3DES HMAC-SHA1-96",
        encr::TRIPLE_DES,
        None,
        integ::HMAC_SHA1_96,
    );
    backends(c);
}

criterion_group!(benches, suites);
criterion_main!(benches);
