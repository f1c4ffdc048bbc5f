#![no_main]
//! Hostile inbound packets against live SAs (ESP AES-GCM, AES-CBC/HMAC and AES-GMAC with ESN, AH): whatever arrives,
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
    // AES-GMAC with ESN: the path that shifts the packet in place to splice in the high bits.
    let e = crypto::registry::encryption(crypto::registry::encr::NULL_AUTH_AES_GMAC, Some(128)).unwrap();
    let t = Transform::new(e, &[0x42u8; 20], None).unwrap();
    let mut gmac = Inbound::new(0x1000, ReplayWindow::new(64, true).unwrap(), t);
    let mut raw = data.to_vec();
    assert!(gmac.open(&mut raw).is_err(), "a forged GMAC packet verified");
    let alg = crypto::registry::integrity(crypto::registry::integ::HMAC_SHA2_256_128).unwrap();
    let mut ah = esp::ah::AhInbound::new(0x1000, ReplayWindow::new(64, false).unwrap(), alg, &[7u8; 32]).unwrap();
    for transport in [false, true] {
        assert!(ah.open(&mut data.to_vec(), transport).is_err(), "a forged AH packet verified");
    }
});
