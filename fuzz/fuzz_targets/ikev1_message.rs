#![no_main]
//! ISAKMP messages: arbitrary datagrams parse or fail cleanly; whatever parses re-emits
//! to bytes that parse to the same body. Also the decrypted-chain walk.
use libfuzzer_sys::fuzz_target;
use wire::ikev1::{parse_plain_chain, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let bytes = m.emit().expect("a parsed message re-emits");
        let again = Message::parse(&bytes).expect("re-emitted message parses");
        assert_eq!(again.body, m.body);
    }
    if let Some((&first, rest)) = data.split_first() {
        if let Ok((_, used)) = parse_plain_chain(first, rest) {
            assert!(used <= rest.len());
        }
    }
});
