#![no_main]
//! AH header for every ICV length and carrier; a parsed header re-emits identically
//! (ICV zeroed).
use libfuzzer_sys::fuzz_target;
use wire::ah;

fuzz_target!(|data: &[u8]| {
    for carrier in [ah::Carrier::V4, ah::Carrier::V6] {
        for icv in [12usize, 16, 24, 32] {
            if let Ok(p) = ah::Packet::new_checked(data, icv, carrier) {
                let r = ah::Repr::parse(&p, icv, carrier);
                let mut out = vec![0u8; r.buffer_len()];
                r.emit(&mut out).expect("emit");
                assert_eq!(&out[..ah::FIXED_LEN], &data[..ah::FIXED_LEN]);
            }
        }
    }
});
