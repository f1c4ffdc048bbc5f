//! ESP seal + open of one packet through Oakley's SA beside the raw AEAD calls on the same
//! bytes (the plaintext ESP encrypts: payload, padding and trailer), same run.

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::aead as lc;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use crypto::registry::{self, encr};
use esp::replay::ReplayWindow;
use esp::{Inbound, Outbound, Transform};

fn seal_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("ESP seal+open AES-128-GCM");
    g.warm_up_time(Duration::from_millis(700));
    g.measurement_time(Duration::from_secs(3));
    for size in [64usize, 1400, 9000] {
        g.throughput(Throughput::Bytes(size as u64));
        let e = registry::encryption(encr::AES_GCM_16, Some(128)).unwrap();
        let keymat = [0x42u8; 20];
        let mut tx = Outbound::new(0x4000, false, Transform::new(e, &keymat, None).unwrap());
        let mut rx = Inbound::new(
            0x4000,
            ReplayWindow::new(1024, false).unwrap(),
            Transform::new(e, &keymat, None).unwrap(),
        );
        let payload = vec![0xa5u8; size];
        let mut buf = vec![0u8; size + tx.overhead(size)];
        g.bench_with_input(BenchmarkId::new("oakley", size), &size, |b, _| {
            b.iter(|| {
                let n = tx.seal(4, black_box(&payload), &mut buf).unwrap();
                black_box(rx.open(&mut buf[..n]).unwrap());
            })
        });
        let key =
            lc::LessSafeKey::new(lc::UnboundKey::new(&lc::AES_128_GCM, &keymat[..16]).unwrap());
        // The same plaintext length ESP encrypts: payload, padding to 4 bytes, 2-byte trailer.
        let ct_len = (size + 2).div_ceil(4) * 4;
        let mut raw = vec![0u8; ct_len];
        let aad = [0u8; 8];
        let mut icv = [0u8; 16];
        g.bench_with_input(BenchmarkId::new("raw", size), &size, |b, _| {
            b.iter(|| {
                raw[..size].copy_from_slice(black_box(&payload));
                let tag = key
                    .seal_in_place_separate_tag(
                        lc::Nonce::assume_unique_for_key([1; 12]),
                        lc::Aad::from(&aad),
                        &mut raw,
                    )
                    .unwrap();
                icv.copy_from_slice(tag.as_ref());
                black_box(
                    key.open_in_place_separate_tag(
                        lc::Nonce::assume_unique_for_key([1; 12]),
                        lc::Aad::from(&aad),
                        &icv,
                        &mut raw,
                    )
                    .unwrap(),
                );
            })
        });
    }
    g.finish();
}

criterion_group!(benches, seal_open);
criterion_main!(benches);
