#![no_main]
//! IPv4 header view and Repr: arbitrary bytes must parse or fail cleanly; a parsed header
//! re-emits to the same fields.
use libfuzzer_sys::fuzz_target;
use wire::ipv4;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = (p.payload(), p.options(), p.is_fragment());
        if let Ok(r) = ipv4::Repr::parse(&p) {
            let mut out = vec![0u8; r.buffer_len() + r.payload_len];
            r.emit(&mut out).expect("emit of a parsed header");
            let q = ipv4::Packet::new_checked(&out[..]).expect("re-parse");
            assert_eq!(ipv4::Repr::parse(&q).expect("repr"), r);
        }
    }
});
