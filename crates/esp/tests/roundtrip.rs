//! ESP seal/open across every suite of the crypto registry: round trips over random
//! payloads, tampering, replay, wrong SPI, truncation, ESN and sequence exhaustion.

use crypto::registry::{self, encr, integ};
use esp::replay::{ReplayError, ReplayWindow};
use esp::{Accounted, EspError, Inbound, Outbound, Transform};
use proptest::prelude::*;

/// (encryption, key bits, integrity)
const SUITES: &[(u16, Option<u16>, Option<u16>)] = &[
    (encr::AES_GCM_16, Some(128), None),
    (encr::AES_GCM_16, Some(256), None),
    (encr::AES_GCM_12, Some(128), None),
    (encr::AES_GCM_8, Some(256), None),
    (encr::CHACHA20_POLY1305, None, None),
    (encr::AES_CBC, Some(128), Some(integ::HMAC_SHA1_96)),
    (encr::AES_CBC, Some(256), Some(integ::HMAC_SHA2_256_128)),
    (encr::AES_CTR, Some(128), Some(integ::HMAC_SHA2_512_256)),
    (encr::TRIPLE_DES, None, Some(integ::HMAC_SHA1_96)),
    (encr::DES, None, Some(integ::HMAC_MD5_96)),
    (encr::NULL, None, Some(integ::HMAC_SHA2_384_192)),
    (encr::NULL_AUTH_AES_GMAC, Some(128), None),
    (encr::NULL_AUTH_AES_GMAC, Some(192), None),
    (encr::NULL_AUTH_AES_GMAC, Some(256), None),
    // Encryption without integrity must stay last (the tamper test skips it).
    (encr::AES_CBC, Some(192), None),
];

fn pair(suite: usize, esn: bool) -> (Outbound, Inbound) {
    let (e, bits, i) = SUITES[suite];
    let e = registry::encryption(e, bits).unwrap();
    let key: Vec<u8> = (0..e.keymat_len).map(|b| b as u8 ^ 0x5c).collect();
    let ia = i.map(|id| registry::integrity(id).unwrap());
    let ikey: Vec<u8> = ia
        .map(|a| (0..a.key_len).map(|b| b as u8).collect())
        .unwrap_or_default();
    let mk = || Transform::new(e, &key, ia.map(|a| (a, ikey.as_slice()))).unwrap();
    (
        Outbound::new(0x1000_0001, esn, mk()),
        Inbound::new(0x1000_0001, ReplayWindow::new(1024, esn).unwrap(), mk()),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn seal_open_round_trip(suite in 0..SUITES.len(), esn in any::<bool>(),
                            payload in proptest::collection::vec(any::<u8>(), 0..1500),
                            nh in any::<u8>()) {
        let (mut tx, mut rx) = pair(suite, esn);
        let mut buf = vec![0u8; payload.len() + tx.overhead(payload.len())];
        let n = tx.seal(nh, &payload, &mut buf).unwrap();
        prop_assert_eq!(n, buf.len());
        let opened = rx.open(&mut buf[..n]).unwrap();
        prop_assert_eq!(opened.seq, 1);
        prop_assert_eq!(opened.next_header, nh);
        prop_assert_eq!(&buf[opened.payload.clone()], &payload[..]);
    }

    /// Every suite with integrity (all but the last, encryption-only one, whose header and
    /// ciphertext nothing authenticates: RFC 4303 §3.2 allows it, policy flags it).
    #[test]
    fn any_flipped_bit_is_refused(suite in 0..SUITES.len() - 1, payload in proptest::collection::vec(any::<u8>(), 1..200),
                                  idx in any::<prop::sample::Index>(), bit in 0u8..8) {
        let (mut tx, mut rx) = pair(suite, false);
        let mut buf = vec![0u8; payload.len() + tx.overhead(payload.len())];
        let n = tx.seal(4, &payload, &mut buf).unwrap();
        let mut genuine = buf[..n].to_vec();
        let i = idx.index(n);
        buf[i] ^= 1 << bit;
        let r = rx.open(&mut buf[..n]);
        prop_assert!(r.is_err(), "flip at {} accepted", i);
        // A refused packet never moves the window: the genuine packet still opens.
        prop_assert!(rx.open(&mut genuine).is_ok());
    }
}

#[test]
fn replay_wrong_spi_truncation() {
    let (mut tx, mut rx) = pair(0, false);
    let mut a = vec![0u8; 200];
    let n = tx.seal(17, b"first", &mut a).unwrap();
    let mut copy = a[..n].to_vec();
    rx.open(&mut a[..n]).unwrap();
    assert_eq!(
        rx.open(&mut copy),
        Err(EspError::Replay(ReplayError::Duplicate(1)))
    );
    let mut b = vec![0u8; 200];
    let n = tx.seal(17, b"second", &mut b).unwrap();
    let mut other = b[..n].to_vec();
    other[3] ^= 1;
    assert!(matches!(rx.open(&mut other), Err(EspError::WrongSpi(_))));
    for cut in [0, 4, 7, 8, 12, 20] {
        assert!(rx.open(&mut b[..cut]).is_err(), "cut {cut}");
    }
    assert!(rx.open(&mut b[..n]).is_ok());
    // Output buffer too small is refused before anything is written past it.
    let mut small = [0u8; 16];
    assert!(matches!(
        tx.seal(17, b"x", &mut small),
        Err(EspError::BufferTooSmall { .. })
    ));
}

#[test]
fn esn_high_bits_are_authenticated() {
    for suite in [0, 5] {
        let (mut tx, mut rx) = pair(suite, true);
        let mut buf = vec![0u8; 256];
        // Packets 1..=3 arrive; the ICV covers the (unsent) high half, so a receiver that
        // inferred the wrong high bits would refuse them.
        for seq in 1..=3u64 {
            let n = tx.seal(6, b"payload", &mut buf).unwrap();
            assert_eq!(rx.open(&mut buf[..n]).unwrap().seq, seq);
        }
        // The high half is part of the ICV input even when it is zero (RFC 4106 §5's
        // longer AAD, RFC 4303 §2.2.1's appended bits): a receiver that disagrees about
        // ESN refuses the packet instead of misreading it.
        let (mut tx2, _) = pair(suite, true);
        let (_, mut rx_plain) = pair(suite, false);
        let n = tx2.seal(6, b"payload", &mut buf).unwrap();
        assert_eq!(rx_plain.open(&mut buf[..n]), Err(EspError::BadIcv));
    }
}

#[test]
fn dummy_packets_are_flagged() {
    let (mut tx, mut rx) = pair(0, false);
    let mut buf = vec![0u8; 128];
    let n = tx.seal(wire::ip::NO_NEXT, b"", &mut buf).unwrap();
    assert!(rx.open(&mut buf[..n]).unwrap().is_dummy());
}

#[test]
fn aead_refuses_an_integrity_transform_and_null_needs_one() {
    let e = registry::encryption(encr::AES_GCM_16, Some(128)).unwrap();
    let i = registry::integrity(integ::HMAC_SHA1_96).unwrap();
    assert!(Transform::new(e, &[0; 20], Some((i, &[0; 20]))).is_err());
    let null = registry::encryption(encr::NULL, None).unwrap();
    assert!(Transform::new(null, &[], None).is_err());
}

#[test]
fn counters_and_lifetimes() {
    use esp::Mode;
    use esp::lifetime::{Lifetime, LifetimeEvent, Limits};
    let (tx, rx) = pair(5, false);
    let soft = Limits {
        packets: Some(2),
        ..Limits::default()
    };
    let hard = Limits {
        packets: Some(3),
        ..Limits::default()
    };
    let mut tx = tx.with(Mode::Transport, Lifetime::new(soft, hard, 0));
    let mut rx = rx.with(Mode::Transport, Lifetime::unlimited());
    let mut buf = vec![0u8; 256];
    let mut sent = Vec::new();
    for i in 0..3 {
        let n = tx.seal(17, &[i; 100], &mut buf).unwrap();
        sent.push(buf[..n].to_vec());
        let ev = tx.poll_event();
        match i {
            1 => assert_eq!(ev, Some(LifetimeEvent::RekeyNeeded)),
            2 => assert_eq!(ev, Some(LifetimeEvent::Expired)),
            _ => assert_eq!(ev, None),
        }
    }
    // Hard limit reached: the SA refuses to send more.
    assert_eq!(tx.seal(17, &[9; 100], &mut buf), Err(EspError::Expired));
    let c = tx.counters();
    assert_eq!(
        (c.packets, c.transport_bytes, c.tunnel_bytes, c.expired),
        (3, 300, 0, 1)
    );
    assert_eq!((c.confidential_bytes, c.authenticated_bytes), (300, 300));
    // Receiver: one good, one replayed, one forged.
    rx.open(&mut sent[0].clone()).unwrap();
    assert!(rx.open(&mut sent[0].clone()).is_err());
    let mut forged = sent[1].clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(rx.open(&mut forged), Err(EspError::BadIcv));
    assert!(rx.open(&mut [0u8; 5]).is_err());
    let c = rx.counters();
    assert_eq!(
        (c.packets, c.replayed, c.not_authenticated, c.malformed),
        (1, 1, 1, 1)
    );
}

#[test]
fn esn_rollover_and_sequence_exhaustion() {
    // With ESN the counter crosses 2^32 and the receiver infers the high half.
    for suite in [0, 6] {
        let (mut tx, mut rx) = pair(suite, true);
        let mut buf = vec![0u8; 256];
        // Traffic has moved the receiver's window well into the first 2^32 subspace.
        tx.advance_to(1 << 31);
        let n = tx.seal(17, b"midway", &mut buf).unwrap();
        assert_eq!(rx.open(&mut buf[..n]).unwrap().seq, 1 << 31);
        tx.advance_to((1u64 << 32) - 2);
        tx.advance_to(5); // never backwards
        let mut late = None;
        for k in 0..5u64 {
            let n = tx.seal(17, b"rolling", &mut buf).unwrap();
            let seq = (1u64 << 32) - 2 + k;
            if k == 1 {
                late = Some(buf[..n].to_vec()); // delivered after the rollover
                continue;
            }
            assert_eq!(rx.open(&mut buf[..n]).unwrap().seq, seq);
        }
        // A packet from before the boundary, arriving late, still opens (case B inference).
        let mut late = late.unwrap();
        assert_eq!(rx.open(&mut late).unwrap().seq, (1u64 << 32) - 1);
    }
    // Without ESN the 32-bit counter never wraps: the SA stops.
    let (mut tx, _) = pair(0, false);
    tx.advance_to(u64::from(u32::MAX));
    let mut buf = vec![0u8; 256];
    tx.seal(17, b"last", &mut buf).unwrap();
    assert_eq!(
        tx.seal(17, b"one too many", &mut buf),
        Err(EspError::SequenceExhausted)
    );
    assert_eq!(tx.counters().expired, 1);
}
