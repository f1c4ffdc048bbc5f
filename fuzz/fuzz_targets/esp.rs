#![no_main]
//! ESP header, ICV split and trailer/padding checks over arbitrary bytes.
use libfuzzer_sys::fuzz_target;
use wire::esp;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = esp::Packet::new_checked(data) {
        for icv in [0usize, 8, 12, 16, 32] {
            if let Ok((ct, _)) = p.split_icv(icv) {
                if let Ok((t, len)) = esp::Trailer::parse(ct) {
                    let _ = esp::check_padding(ct, len, t.pad_len);
                }
            }
        }
    }
});
