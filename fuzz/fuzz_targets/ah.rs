#![no_main]
//! AH header for every ICV length and carrier; a parsed header re-emits the same fields
//! (ICV zeroed, reserved ignored).
use libfuzzer_sys::fuzz_target;
use wire::ah;

fuzz_target!(|data: &[u8]| {
    for carrier in [ah::Carrier::V4, ah::Carrier::V6] {
        for icv in [12usize, 16, 24, 32] {
            if let Ok(p) = ah::Packet::new_checked(data, icv, carrier) {
                let r = ah::Repr::parse(&p, icv, carrier);
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out).expect("emit");
                // The reserved field (bytes 2..4) is ignored on receipt (RFC 4302 §2.3).
                assert_eq!(&out[..2], &data[..2]);
                assert_eq!(&out[4..ah::FIXED_LEN], &data[4..ah::FIXED_LEN]);
            }
        }
    }
});
