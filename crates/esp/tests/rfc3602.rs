//! RFC 3602 §4 case #5: a transport-mode ESP packet (AES-CBC-128, no integrity) captured
//! from a real implementation; Oakley must open it and rebuild the original ICMP packet.

use crypto::registry::{self, encr};
use esp::framing::{Received, open};
use esp::replay::ReplayWindow;
use esp::{Inbound, Transform};

fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn rfc3602_case5_transport_packet() {
    let e = registry::encryption(encr::AES_CBC, Some(128)).unwrap();
    let t = Transform::new(e, &h("90d382b4 10eeba7a d938c46c ec1a82bf"), None).unwrap();
    let mut rx = Inbound::new(0x4321, ReplayWindow::new(64, false).unwrap(), t);
    let mut packet = h("4500007c 08f20000 4032f9a5 c0a87b03 c0a87b64
        00004321 00000001
        e96e8c08 ab465763 fd098d45 dd3ff893
        f663c25d 325c18c6 a9453e19 4e120849 a4870b66 cc6b9965 330013b4 898dc856
        a4699e52 3a55db08 0b59ec3a 8e4b7e52 775b07d1 db34ed9c 538ab50c 551b874a
        a269add0 47ad2d59 13ac19b7 cfbad4a6");
    let original = h("45000054 08f20000 4001f9fe c0a87b03 c0a87b64
        08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617
        18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637");
    match open(&mut rx, &mut packet, true).unwrap() {
        Received::Packet { range, seq } => {
            assert_eq!(seq, 1);
            assert_eq!(&packet[range], &original[..]);
        }
        other => panic!("{other:?}"),
    }
}
