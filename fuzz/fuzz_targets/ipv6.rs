#![no_main]
//! IPv6 header and the extension-header walk, then the option TLVs of every options area.
use libfuzzer_sys::fuzz_target;
use wire::ipv6;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ipv6::Packet::new_checked(data) {
        if let Ok(w) = p.walk() {
            let payload = p.payload();
            assert!(w.offset <= payload.len());
            for a in &w.options[..w.options_count] {
                let _ = ipv6::for_each_option(&payload[a.start..a.end], |_, _, _| {});
            }
        }
        let r = ipv6::Repr::parse(&p).expect("repr");
        let mut out = vec![0u8; r.buffer_len()];
        r.emit(&mut out).expect("emit");
        assert_eq!(&out[..], &data[..ipv6::HEADER_LEN]);
    }
});
