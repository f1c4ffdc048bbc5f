//! AES-GMAC in ESP (RFC 4543): nothing is encrypted, and the ICV is GCM's tag over
//! SPI | [seq high] | seq low | IV | payload | padding | pad length | next header with an
//! empty plaintext (§3.2, §5). Oakley seals with aws-lc; RustCrypto's GCM, a separate
//! implementation, recomputes every ICV from that definition, with and without ESN.

use aes_gcm::aead::{AeadInOut, KeyInit};
use crypto::registry::{self, encr};
use esp::replay::ReplayWindow;
use esp::{Accounted, EspError, Inbound, Outbound, Transform};

fn independent_icv(key: &[u8], salt: &[u8], packet: &[u8], seq_hi: Option<u32>) -> [u8; 16] {
    let icv_at = packet.len() - 16;
    let mut aad = packet[..4].to_vec();
    if let Some(hi) = seq_hi {
        aad.extend_from_slice(&hi.to_be_bytes());
    }
    aad.extend_from_slice(&packet[4..icv_at]);
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(salt);
    nonce[4..].copy_from_slice(&packet[8..16]);
    let tag = match key.len() {
        16 => aes_gcm::Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_inout_detached(&nonce.into(), &aad, (&mut [][..]).into())
            .unwrap(),
        32 => aes_gcm::Aes256Gcm::new_from_slice(key)
            .unwrap()
            .encrypt_inout_detached(&nonce.into(), &aad, (&mut [][..]).into())
            .unwrap(),
        n => panic!("key length {n}"),
    };
    tag.into()
}

#[test]
fn gmac_icvs_match_an_independent_gcm() {
    for bits in [128u16, 256] {
        for esn in [false, true] {
            let e = registry::encryption(encr::NULL_AUTH_AES_GMAC, Some(bits)).unwrap();
            let keymat: Vec<u8> = (0..e.keymat_len).map(|b| (b * 13 + 1) as u8).collect();
            let (key, salt) = keymat.split_at(keymat.len() - 4);
            let t = || Transform::new(e, &keymat, None).unwrap();
            let mut tx = Outbound::new(0x0000_5151, esn, t());
            let mut rx = Inbound::new(0x0000_5151, ReplayWindow::new(1024, esn).unwrap(), t());
            let start = if esn { 0x2_ffff_fff0 } else { 1 };
            tx.advance_to(start);
            if esn {
                // The receiver has seen traffic up to just before the high half changes.
                let mut w = ReplayWindow::new(1024, true).unwrap();
                w.accept(start - 1).unwrap();
                rx = Inbound::new(0x0000_5151, w, t());
            }
            for (i, len) in [0usize, 1, 37, 64, 1400].into_iter().enumerate() {
                let payload: Vec<u8> = (0..len).map(|b| (b + i) as u8).collect();
                let mut buf = vec![0u8; len + tx.overhead(len)];
                let seq = tx.next_seq();
                let n = tx.seal(4, &payload, &mut buf).unwrap();
                let packet = &buf[..n];
                // Nothing is encrypted: the payload is on the wire as it was given.
                assert_eq!(&packet[16..16 + len], &payload[..]);
                let hi = esn.then_some((seq >> 32) as u32);
                let want = independent_icv(key, salt, packet, hi);
                assert_eq!(
                    &packet[n - 16..],
                    &want[..],
                    "{bits} bits esn={esn} len={len}"
                );
                let mut copy = packet.to_vec();
                let o = rx.open(&mut copy).unwrap();
                assert_eq!(o.seq, seq);
                assert_eq!(&copy[o.payload], &payload[..]);
                // A flipped payload bit (it is covered though not encrypted) fails.
                if len > 0 {
                    let mut bad = packet.to_vec();
                    bad[16] ^= 0x80;
                    let mut rx2 =
                        Inbound::new(0x0000_5151, ReplayWindow::new(1024, esn).unwrap(), t());
                    if esn {
                        let mut w = ReplayWindow::new(1024, true).unwrap();
                        w.accept(start - 1).unwrap();
                        rx2 = Inbound::new(0x0000_5151, w, t());
                    }
                    assert_eq!(rx2.open(&mut bad), Err(EspError::BadIcv));
                }
            }
            let c = rx.counters();
            assert_eq!(c.confidential_bytes, 0, "GMAC encrypts nothing");
            assert!(c.authenticated_bytes > 0);
        }
    }
}
