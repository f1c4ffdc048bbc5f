#![no_main]
//! IKEv2 messages: arbitrary datagrams parse or fail cleanly; whatever parses re-emits to
//! bytes that parse to the same value. Also the SK offset walk and inner-chain parsing.
use libfuzzer_sys::fuzz_target;
use wire::ikev2::{parse_chain, Message};

fuzz_target!(|data: &[u8]| {
    let _ = Message::encrypted_offset(data);
    if let Ok(m) = Message::parse(data) {
        let bytes = m.emit().expect("a parsed message re-emits");
        let again = Message::parse(&bytes).expect("re-emitted message parses");
        assert_eq!(again.payloads, m.payloads);
    }
    if let Some((&first, rest)) = data.split_first() {
        let _ = parse_chain(first, rest);
    }
});
