#![no_main]
//! AH header for every ICV length and carrier; a parsed header re-emits the same fields
//! (ICV zeroed, reserved ignored, length normalised to the 64-bit alignment Oakley sends).
use libfuzzer_sys::fuzz_target;
use wire::ah;

fuzz_target!(|data: &[u8]| {
    for carrier in [ah::Carrier::V4, ah::Carrier::V6] {
        for icv in [12usize, 16, 24, 32] {
            if let Ok(p) = ah::Packet::new_checked(data, icv, carrier) {
                let r = ah::Repr::parse(&p, icv, carrier);
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out).expect("emit");
                // The reserved field (bytes 2..4) is ignored on receipt (RFC 4302 §2.3); a
                // 32-bit aligned IPv4 header is accepted and re-emitted 64-bit aligned.
                assert_eq!(out[0], data[0]);
                assert!(ah::length_fits(p.header_len(), icv, carrier));
                assert_eq!(out.len(), ah::header_len(icv, carrier));
                assert_eq!(&out[4..ah::FIXED_LEN], &data[4..ah::FIXED_LEN]);
            }
        }
    }
});
