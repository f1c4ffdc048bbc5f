//! RFC 3602 §4 cases #5-#8: ESP packets (AES-CBC-128, no integrity) captured
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

/// RFC 3602 §4 cases #6 to #8 as bare ESP packets (SPI onward): Oakley opens each and
/// finds the published payload and next header.
#[test]
fn rfc3602_cases_6_to_8() {
    use esp::Inbound as Rx;
    let cases: [(&str, u32, u64, u8, &str, &str); 3] = [
        (
            "90d382b4 10eeba7a d938c46c ec1a82bf",
            0x4321,
            8,
            1,
            "00004321 00000008 69d08df7 d203329d b093fc49 24e5bd80 f5199588 1ec4e0c4
             488987ce 742e8109 689bb379 d2d750c0 d915dca3 46a89f75",
            "0800b5e8 a80a0500 a69c083d 0b660e00 77777777 77777777 77777777",
        ),
        (
            "01234567 89abcdef 01234567 89abcdef",
            0x8765,
            2,
            4,
            "00008765 00000002 f4e76524 4f6407ad f13dc138 0f673f37 773b5241 a4c44922
             5e4f3ce5 ed611b0c 237ca96c f74a9301 3c1b0ea1 a0cf70f8 e4ecaec7 8ac53aad
             7a0f022b 859243c6 47752e94 a859352b 8a4d4d2d ecd136e5 c177f132 ad3fbfb2
             201ac990 4c74ee0a 109e0ca1 e4dfe9d5 a100b842 f1c22f0d",
            "45000054 09040000 4001f988 c0a87b03 c0a87bc8 08009f76 a90a0100 b49c083d
             02a20400 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f 20212223
             24252627 28292a2b 2c2d2e2f 30313233 34353637",
        ),
        (
            "01234567 89abcdef 01234567 89abcdef",
            0x8765,
            5,
            4,
            "00008765 00000005 85d47224 b5f3dd5d 2101d4ea 8dffab22 15b92683 819596a8
             047232cc 00f7048f e45318e1 1f8a0f62 ede3c3fc 61203bb5 0f980a08 c9843fd3
             a1b06d5c 07ff9639 b7eb7dfb 3512e5de 435e7207 ed971ef3 d2726d9b 5ef6affc
             6d17a0de cbb13892",
            "45000044 090c0000 4001f990 c0a87b03 c0a87bc8 0800d63c aa0a0200 c69c083d
             a3de0300 ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff ffffffff
             ffffffff",
        ),
    ];
    for (key, spi, seq, nh, packet, payload) in cases {
        let e = registry::encryption(encr::AES_CBC, Some(128)).unwrap();
        let t = Transform::new(e, &h(key), None).unwrap();
        let mut rx = Rx::new(spi, ReplayWindow::new(64, false).unwrap(), t);
        let mut packet = h(packet);
        let o = rx.open(&mut packet).unwrap();
        assert_eq!((o.seq, o.next_header), (seq, nh), "spi {spi:#x} seq {seq}");
        assert_eq!(
            &packet[o.payload],
            &h(payload)[..],
            "spi {spi:#x} seq {seq}"
        );
    }
}
