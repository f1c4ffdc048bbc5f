#![no_main]
//! Hostile inbound packets against a live SA (AES-GCM and AES-CBC/HMAC): whatever arrives,
//! raw ESP or UDP-encapsulated, tunnel or transport, is a counted drop or a packet, never
//! a panic. A forged packet can never be accepted (it carries no valid ICV).
use esp::framing::{open, Received};
use esp::replay::ReplayWindow;
use esp::{Inbound, Transform};
use libfuzzer_sys::fuzz_target;

fn sa(gcm: bool) -> Inbound {
    use crypto::registry::{self, encr, integ};
    let (e, i) = if gcm {
        (registry::encryption(encr::AES_GCM_16, Some(128)).unwrap(), None)
    } else {
        (
            registry::encryption(encr::AES_CBC, Some(128)).unwrap(),
            Some(registry::integrity(integ::HMAC_SHA1_96).unwrap()),
        )
    };
    let key = vec![0x42u8; e.keymat_len];
    let ikey = [0x24u8; 20];
    let t = Transform::new(e, &key, i.map(|a| (a, &ikey[..]))).unwrap();
    Inbound::new(0x1000, ReplayWindow::new(64, false).unwrap(), t)
}

fuzz_target!(|data: &[u8]| {
    for (gcm, transport) in [(true, false), (false, true)] {
        let mut rx = sa(gcm);
        let mut buf = data.to_vec();
        if let Ok(Received::Packet { .. } | Received::Dummy) = open(&mut rx, &mut buf, transport) {
            panic!("a forged packet opened");
        }
        let mut raw = data.to_vec();
        assert!(rx.open(&mut raw).is_err());
    }
});
