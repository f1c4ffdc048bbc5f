//! Whole ESP packets from the published AES-GCM ESP test cases (draft-mcgrew-gcm-test-01,
//! the companion of RFC 4106: salt | IV as nonce, SPI | [seq high] | seq low as AAD) and
//! RFC 7634 appendix A (ChaCha20-Poly1305 in ESP). Oakley must open each packet, with and
//! without extended sequence numbers, and find the published plaintext (payload, padding,
//! pad length, next header) in place; a flipped bit anywhere must fail the ICV.

use crypto::registry::{self, encr};
use esp::replay::ReplayWindow;
use esp::{Accounted, EspError, Inbound, Transform};

fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Case {
    name: &'static str,
    alg: u16,
    key: &'static str,
    salt: &'static str,
    /// The full 64-bit sequence number (high half only matters with ESN).
    seq: u64,
    esn: bool,
    plaintext: &'static str,
    packet: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "gcm-test case 1: AES-128, ESN",
        alg: encr::AES_GCM_16,
        key: "4c80cdefbb5d10da906ac73c3613a634",
        salt: "2e443b68",
        seq: 0x8765_4321_0000_0000,
        esn: true,
        plaintext: "45000048699a000080114db7c0a80102 c0a801010a9bf15638d3010000010000
                    00000000045f736970045f7564700373 69700963796265726369747902646b00
                    0021000101020201",
        packet: "00004321000000004956ed7e3b244cfe fecf537e729d5b07dc30df528dd22b76
                 8d1b98736696a6fd348509fa13ceac34 cfa2436f14a3f3cf65925bf1f4a13c5d
                 15b21e1884f5ff6247aeabb786b93bce 61bc17d768fd9732459018148f6cbe72
                 2fd04796562dfdb4",
    },
    Case {
        name: "gcm-test case 2: AES-128",
        alg: encr::AES_GCM_16,
        key: "feffe9928665731c6d6a8f9467308308",
        salt: "cafebabe",
        seq: 0x0a,
        esn: false,
        plaintext: "4500003e698f000080114dccc0a80102 c0a801010a980035002a2343b2d00100
                    00010000000000000373697009637962 65726369747902646b00000100010001",
        packet: "0000a5f80000000afacedbaddecaf888 deb22cd9b07c72c16e3a65beeb8df304
                 a5a5897d33ae530f1ba76d5d114d2a5c 3de81827c10e9a4f51330d0eec416642
                 cfbb85a5b47e48a4ec3b9ba95d918bd1 83b70d3aa8bc6ee4c309e9d85a41ad4a",
    },
    Case {
        name: "gcm-test case 3: AES-256",
        alg: encr::AES_GCM_16,
        key: "abbccddef00112233445566778899aab abbccddef00112233445566778899aab",
        salt: "11223344",
        seq: 2,
        esn: false,
        plaintext: "4500003069a6400080062690c0a80102 9389155e0a9e008b2dc57ee000000000
                    7002400020bf0000020405b401010402 01020201",
        packet: "4a2cbfe3000000020102030405060708 ff425c9b724599df7a3bcd510194e00d
                 6a78107f1b0b1cbf06efae9d65a5d763 748a637985771d347f0545659f14e99d
                 ef842d8eb335f4eecfdbf831824b4c49 15956c96",
    },
    Case {
        name: "gcm-test case 5: ESN 0x1010101010101010",
        alg: encr::AES_GCM_16,
        key: "3de09874b388e6491988d0c3607eae1f",
        salt: "57690e43",
        seq: 0x1010_1010_1010_1010,
        esn: true,
        plaintext: "4500003c99c300008001cb7c40679318 010101010800085c0200430061626364
                    65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201",
        packet: "42f67e3f101010104e280000a2fca1a3 fba2caa4853cf9f0f22cb10d86dd83b0
                 fec75691cf1a04b00d1138ec9c357917 65acbd8701ad79845bf9fe3fba487bc9
                 1755e6662b4c8d0d1f5e22739530320a e0d731cc978ecafaeae88f00e80d6e48",
    },
    Case {
        name: "gcm-test case 7: AES-192",
        alg: encr::AES_GCM_16,
        key: "feffe9928665731c6d6a8f9467308308 feffe9928665731c",
        salt: "cafebabe",
        seq: 0x0a,
        esn: false,
        plaintext: "45000028a4ad4000400678800a01038f 0a010612802306b8cb712602dd6bb03e
                    501016d075680001",
        packet: "0000a5f80000000afacedbaddecaf888 a5b1f8066029aea40e598b8122de0242
                 0938b3ab33f828e687b8858b5bfbdbd0 315b27452144cc7795457b9652037f53
                 18027b5b4cd7a636",
    },
    Case {
        name: "gcm-test: AES-256, ESN 0x156f3126dd0db99b",
        alg: encr::AES_GCM_16,
        key: "abbccddef00112233445566778899aab abbccddef00112233445566778899aab",
        salt: "73616c74",
        seq: 0x156f_3126_dd0d_b99b,
        esn: true,
        plaintext: "45080028732c00004006e9f90a010612 0a01038f06b88023dd6bafbecb712602
                    50101f646d540001",
        packet: "17405e67dd0db99b616e640169766563 f2d69ecdbd5a0d5b8d5ef38bad4da58d
                 1f278fde98ef67549d524a3018d9a57f f4d3a31ce673119e451626c2415771e3
                 b7eebca614c89b35",
    },
    Case {
        name: "gcm-test: empty payload at sequence 0xffffffff",
        alg: encr::AES_GCM_16,
        key: "7d773d00c144c525ac619d18c84a3f47",
        salt: "d9664267",
        seq: 0xffff_ffff,
        esn: false,
        plaintext: "01020201",
        packet: "335467aeffffffff43457e9182443bc6 437f866bcb3f699fe9b0822bac961c45
                 04bef270",
    },
    Case {
        name: "gcm-test: AES-256, ESN at the last sequence number",
        alg: encr::AES_GCM_16,
        key: "6c6567616c697a656d6172696a75616e 61616e64646f69746265666f72656961",
        salt: "7475726e",
        seq: u64::MAX,
        esn: true,
        plaintext: "45000030da3a00008001df3bc0a80005 c0a800010800c6cd0200070061626364
                    65666768696a6b6c6d6e6f7071727374 01020201",
        packet: "796b6963ffffffff333021696765746d f97ab2aa356d8edce17644ac8c78e25d
                 d24dedbb29ebf1b64a274b39b49c3a86 4cd3d78ca4ae68a32b42458fb57dbe82
                 1dcc63b9d0937ba2945f669368661a32 9fb4c053",
    },
    Case {
        name: "RFC 7634 appendix A: ChaCha20-Poly1305",
        alg: encr::CHACHA20_POLY1305,
        key: "808182838485868788898a8b8c8d8e8f 909192939495969798999a9b9c9d9e9f",
        salt: "a0a1a2a3",
        seq: 5,
        esn: false,
        plaintext: "45000054a6f2000040 01e778c6336405
                    c00002050800 5b7a3a080000553bec10
                    0007362708090a0b0c0d0e0f10111213 1415161718191a1b1c1d1e1f20212223
                    2425262728292a2b2c2d2e2f30313233 3435363701020204",
        packet: "01020304000000051011121314151617 24039428b97f417e3c13753a4f05087b
                 67c352e6a7fab1b982d466ef407ae5c6 14ee8099d52844eb61aa95dfab4c02f7
                 2aa71e7c4c4f64c9befe2facc638e8f3 cbec163fac469b502773f6fb94e664da
                 9165b82829f641e0 76aaa8266b7fb0f7b11b369907e1ad43",
    },
];

/// Published with SPI 0, which RFC 4303 §2.1 reserves: a receiver must refuse it.
const RESERVED_SPI: Case = Case {
    name: "gcm-test case 4: all-zero key",
    alg: encr::AES_GCM_16,
    key: "00000000000000000000000000000000",
    salt: "00000000",
    seq: 1,
    esn: false,
    plaintext: "4500003c99c500008001cb7a40679318 010101010800075c0200440061626364
                    65666768696a6b6c6d6e6f7071727374 75767761626364656667686901020201",
    packet: "00000000000000010000000000000000 4688daf2f973a392732909c331d56d60
                 f694abaa414b5e7ff5fdcdfff5e9a284 456476492719ffb64de7d9dca1e1d894
                 bc3bd57873ed4d181d19d4d5c8c18af3 f821d496eeb096e98ad2b69e4799c71d",
};

/// A receiver whose window sits just below `seq`, so ESN inference lands on its high half.
fn receiver(c: &Case, spi: u32) -> Inbound {
    let key = h(c.key);
    let mut keymat = key.clone();
    keymat.extend(h(c.salt));
    let e = registry::encryption(c.alg, Some((key.len() * 8) as u16)).unwrap();
    let t = Transform::new(e, &keymat, None).unwrap();
    let mut w = ReplayWindow::new(1024, c.esn).unwrap();
    if c.seq > 16 {
        w.accept(c.seq - 16).unwrap();
    }
    Inbound::new(spi, w, t)
}

#[test]
fn published_esp_packets_open() {
    for c in CASES {
        let mut packet = h(c.packet);
        let spi = u32::from_be_bytes(packet[..4].try_into().unwrap());
        let plaintext = h(c.plaintext);
        let mut rx = receiver(c, spi);
        let opened = rx
            .open(&mut packet)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(opened.seq, c.seq, "{}", c.name);
        let start = 16;
        assert_eq!(
            &packet[start..start + plaintext.len()],
            &plaintext[..],
            "{}",
            c.name
        );
        let n = plaintext.len();
        let pad = usize::from(plaintext[n - 2]);
        assert_eq!(opened.next_header, plaintext[n - 1], "{}", c.name);
        assert_eq!(opened.payload, start..start + n - 2 - pad, "{}", c.name);
        assert_eq!(rx.counters().packets, 1, "{}", c.name);
    }
}

#[test]
fn any_flipped_bit_fails_the_icv_and_leaves_the_window() {
    for c in CASES {
        let original = h(c.packet);
        let spi = u32::from_be_bytes(original[..4].try_into().unwrap());
        // Every byte after the SPI: sequence, IV, ciphertext and ICV are all covered.
        for i in 4..original.len() {
            let mut packet = original.clone();
            packet[i] ^= 0x01;
            let mut rx = receiver(c, spi);
            let top = rx.replay().top();
            match rx.open(&mut packet) {
                Err(EspError::BadIcv) | Err(EspError::Replay(_)) => {}
                other => panic!("{}: byte {i} flipped gave {other:?}", c.name),
            }
            assert_eq!(rx.replay().top(), top, "{}: window moved", c.name);
        }
    }
}

#[test]
fn the_reserved_spi_case_is_refused() {
    let c = &RESERVED_SPI;
    let mut packet = h(c.packet);
    let mut rx = receiver(c, 0);
    assert_eq!(rx.open(&mut packet), Err(EspError::WrongSpi(0)));
    assert_eq!(rx.counters().packets, 0);
}
