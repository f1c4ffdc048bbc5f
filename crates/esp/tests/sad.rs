//! The SA database: lookup by (SPI, protocol, destination), replace and delete while other
//! threads keep sealing and opening, counters kept across deletes.

use std::net::IpAddr;
use std::sync::Arc;
use std::thread;

use crypto::registry::{self, encr};
use esp::ah::{AhInbound, AhOutbound};
use esp::framing::Received;
use esp::replay::ReplayWindow;
use esp::sad::{InboundKey, InboundSa, OutboundSa, Sad};
use esp::{Accounted, Inbound, Outbound, Transform};

fn t() -> Transform {
    let e = registry::encryption(encr::AES_GCM_16, Some(128)).unwrap();
    Transform::new(e, &[7u8; 20], None).unwrap()
}

const DST: [u8; 4] = [10, 0, 0, 2];

fn esp_in(sa: &mut InboundSa) -> &mut Inbound {
    match sa {
        InboundSa::Esp(sa) => sa,
        other => panic!("not esp: {other:?}"),
    }
}

fn esp_out(sa: &mut OutboundSa) -> &mut Outbound {
    match sa {
        OutboundSa::Esp(sa) => sa,
        other => panic!("not esp: {other:?}"),
    }
}

fn key(spi: u32) -> InboundKey {
    InboundKey {
        spi,
        protocol: 50,
        dst: IpAddr::from(DST),
    }
}

#[test]
fn lookup_install_delete() {
    let sad = Sad::new();
    assert!(sad.lookup_inbound(&key(0x100)).is_none());
    assert_eq!(sad.bad_spi_packets(), 1);
    sad.install_inbound(
        IpAddr::from(DST),
        Inbound::new(0x100, ReplayWindow::new(64, false).unwrap(), t()),
    );
    sad.install_outbound(1, Outbound::new(0x100, false, t()));
    // Same SPI, other destination or protocol: a different SA.
    let mut other = key(0x100);
    other.protocol = 51;
    assert!(sad.lookup_inbound(&other).is_none());
    let tx = sad.lookup_outbound(1).unwrap();
    let rx = sad.lookup_inbound(&key(0x100)).unwrap();
    let mut buf = [0u8; 128];
    let n = esp_out(&mut tx.lock().unwrap())
        .seal(4, b"hello", &mut buf)
        .unwrap();
    esp_in(&mut rx.lock().unwrap()).open(&mut buf[..n]).unwrap();
    assert!(sad.delete_inbound(&key(0x100)));
    assert!(!sad.delete_inbound(&key(0x100)));
    assert!(sad.lookup_inbound(&key(0x100)).is_none());
    // Deleted SAs still count in the totals (one packet sealed, one opened).
    assert_eq!(sad.totals().packets, 2);
}

#[test]
fn traffic_continues_while_sas_are_installed_and_deleted() {
    let sad = Arc::new(Sad::new());
    sad.install_outbound(1, Outbound::new(0x200, false, t()));
    sad.install_inbound(
        IpAddr::from(DST),
        Inbound::new(0x200, ReplayWindow::new(1024, false).unwrap(), t()),
    );
    let worker = {
        let sad = sad.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 256];
            for _ in 0..2000 {
                let tx = sad.lookup_outbound(1).expect("outbound sa stays installed");
                let n = esp_out(&mut tx.lock().unwrap())
                    .seal(4, &[1u8; 100], &mut buf)
                    .unwrap();
                let rx = sad
                    .lookup_inbound(&key(0x200))
                    .expect("inbound sa stays installed");
                esp_in(&mut rx.lock().unwrap()).open(&mut buf[..n]).unwrap();
            }
        })
    };
    // Meanwhile: churn of other SAs (installs and deletes publish new indexes).
    for spi in 0x1000..0x1200u32 {
        sad.install_inbound(
            IpAddr::from(DST),
            Inbound::new(spi, ReplayWindow::new(64, false).unwrap(), t()),
        );
        if spi % 2 == 0 {
            sad.delete_inbound(&key(spi));
        }
    }
    worker.join().unwrap();
    assert_eq!(sad.inbound_len(), 1 + 0x100);
    assert_eq!(sad.totals().packets, 4000);
}

/// A transport-mode IPv4 UDP datagram from 10.0.0.1 to DST.
fn datagram(payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + 8 + payload.len()];
    let total = p.len() as u16;
    p[0] = 0x45;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&DST);
    p[20..22].copy_from_slice(&1000u16.to_be_bytes());
    p[22..24].copy_from_slice(&2000u16.to_be_bytes());
    p[24..26].copy_from_slice(&(8 + payload.len() as u16).to_be_bytes());
    p[28..].copy_from_slice(payload);
    let mut h = wire::ipv4::Packet::new_unchecked(&mut p[..]);
    h.fill_checksum();
    p
}

#[test]
fn ah_sas_live_beside_esp_sas_under_their_own_protocol() {
    let sad = Sad::new();
    let alg = registry::integrity(registry::integ::HMAC_SHA2_256_128).unwrap();
    let key32 = [9u8; 32];
    // Same SPI for ESP and AH: (SPI, protocol, destination) keeps them apart.
    sad.install_inbound(
        IpAddr::from(DST),
        Inbound::new(0x300, ReplayWindow::new(64, false).unwrap(), t()),
    );
    let ah_rx = sad.install_inbound(
        IpAddr::from(DST),
        AhInbound::new(0x300, ReplayWindow::new(64, false).unwrap(), alg, &key32).unwrap(),
    );
    sad.install_outbound(7, AhOutbound::new(0x300, false, alg, &key32).unwrap());
    assert_eq!(sad.inbound_len(), 2);
    let mut ah_key = key(0x300);
    ah_key.protocol = 51;
    let found = sad.lookup_inbound(&ah_key).unwrap();
    assert!(std::sync::Arc::ptr_eq(&found, &ah_rx));

    let original = datagram(b"authenticated, not encrypted");
    let mut buf = [0u8; 256];
    let tx = sad.lookup_outbound(7).unwrap();
    let n = match &mut *tx.lock().unwrap() {
        OutboundSa::Ah(sa) => sa.seal_transport(&original, &mut buf).unwrap(),
        other => panic!("{other:?}"),
    };
    let got = found.lock().unwrap().open(&mut buf[..n], true).unwrap();
    match got {
        Received::Packet { range, .. } => assert_eq!(&buf[range], &original[..]),
        other => panic!("{other:?}"),
    }
    // A forged copy is counted against the AH SA, never delivered.
    let n2 = match &mut *tx.lock().unwrap() {
        OutboundSa::Ah(sa) => sa.seal_transport(&original, &mut buf).unwrap(),
        other => panic!("{other:?}"),
    };
    buf[n2 - 1] ^= 1;
    assert!(found.lock().unwrap().open(&mut buf[..n2], true).is_err());
    let c = *found.lock().unwrap().counters();
    assert_eq!((c.packets, c.not_authenticated), (1, 1));
    assert_eq!(c.authenticated_bytes, (original.len() - 20) as u64);
    assert_eq!(c.confidential_bytes, 0);
    assert!(sad.delete_inbound(&ah_key));
    assert_eq!(sad.totals().packets, 3);
}
