//! The SA database: lookup by (SPI, protocol, destination), replace and delete while other
//! threads keep sealing and opening, counters kept across deletes.

use std::net::IpAddr;
use std::sync::Arc;
use std::thread;

use crypto::registry::{self, encr};
use esp::replay::ReplayWindow;
use esp::sad::{InboundKey, Sad};
use esp::{Inbound, Outbound, Transform};

fn t() -> Transform {
    let e = registry::encryption(encr::AES_GCM_16, Some(128)).unwrap();
    Transform::new(e, &[7u8; 20], None).unwrap()
}

fn key(spi: u32) -> InboundKey {
    InboundKey {
        spi,
        protocol: 50,
        dst: IpAddr::from([10, 0, 0, 2]),
    }
}

#[test]
fn lookup_install_delete() {
    let sad = Sad::new();
    assert!(sad.lookup_inbound(&key(0x100)).is_none());
    assert_eq!(sad.bad_spi_packets(), 1);
    sad.install_inbound(
        key(0x100),
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
    let n = tx.lock().unwrap().seal(4, b"hello", &mut buf).unwrap();
    rx.lock().unwrap().open(&mut buf[..n]).unwrap();
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
        key(0x200),
        Inbound::new(0x200, ReplayWindow::new(1024, false).unwrap(), t()),
    );
    let worker = {
        let sad = sad.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 256];
            for _ in 0..2000 {
                let tx = sad.lookup_outbound(1).expect("outbound sa stays installed");
                let n = tx.lock().unwrap().seal(4, &[1u8; 100], &mut buf).unwrap();
                let rx = sad
                    .lookup_inbound(&key(0x200))
                    .expect("inbound sa stays installed");
                rx.lock().unwrap().open(&mut buf[..n]).unwrap();
            }
        })
    };
    // Meanwhile: churn of other SAs (installs and deletes publish new indexes).
    for spi in 0x1000..0x1200u32 {
        sad.install_inbound(
            key(spi),
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
