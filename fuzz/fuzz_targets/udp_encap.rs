#![no_main]
//! A UDP datagram on the NAT-T port: UDP header, then RFC 3948 classification, then the
//! ESP header or the IKE message behind the non-ESP marker.
use libfuzzer_sys::fuzz_target;
use wire::{esp, ikev2, natt, udp};

fuzz_target!(|data: &[u8]| {
    let Ok(u) = udp::Packet::new_checked(data) else {
        return;
    };
    match natt::classify(u.payload()) {
        Ok(natt::Encapsulated::Esp(b)) => {
            if let Ok(p) = esp::Packet::new_checked(b) {
                let _ = p.split_icv(16);
            }
        }
        Ok(natt::Encapsulated::Ike(b)) => {
            let _ = ikev2::Message::parse(b);
        }
        _ => {}
    }
});
