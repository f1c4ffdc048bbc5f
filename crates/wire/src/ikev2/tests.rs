use super::*;
use crate::error::WireError;
use proptest::prelude::*;
use std::net::IpAddr;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn sa_init() -> Message {
    Message {
        header: Header {
            spi_i: 0x0102030405060708,
            spi_r: 0,
            next_payload: payload_type::SA,
            version: 0x20,
            exchange: exchange::IKE_SA_INIT,
            flags: flags::INITIATOR,
            message_id: 0,
            length: 424,
        },
        payloads: vec![
            Payload::Sa(SecurityAssociation {
                proposals: vec![Proposal {
                    number: 1,
                    protocol: protocol::IKE,
                    spi: vec![],
                    transforms: vec![
                        Transform::with_key_length(transform_type::ENCR, 20, 128),
                        Transform::new(transform_type::PRF, 5),
                        Transform::new(transform_type::KE, 14),
                    ],
                }],
            }),
            Payload::Ke(KeyExchange {
                group: 14,
                data: vec![0xaa; 256],
            }),
            Payload::Nonce(vec![0x11; 32]),
            Payload::Notify(Notify::new(notify::NAT_DETECTION_SOURCE_IP, vec![0x22; 20])),
            Payload::Notify(Notify::new(
                notify::NAT_DETECTION_DESTINATION_IP,
                vec![0x33; 20],
            )),
        ],
    }
}

#[test]
fn ike_sa_init_exact_bytes() {
    // Written from the field layouts of RFC 7296 §3.1-3.4, 3.9, 3.10.
    let mut want = hex(
        "0102030405060708 0000000000000000 21 20 22 08 00000000 000001a8
         22 00 0028
           00 00 0024 01 01 00 03
             03 00 000c 01 00 0014 800e 0080
             03 00 0008 02 00 0005
             00 00 0008 04 00 000e
         28 00 0108 000e 0000",
    );
    want.extend_from_slice(&[0xaa; 256]);
    want.extend_from_slice(&hex("29 00 0024"));
    want.extend_from_slice(&[0x11; 32]);
    want.extend_from_slice(&hex("29 00 001c 00 00 4004"));
    want.extend_from_slice(&[0x22; 20]);
    want.extend_from_slice(&hex("00 00 001c 00 00 4005"));
    want.extend_from_slice(&[0x33; 20]);
    let m = sa_init();
    assert_eq!(m.emit().unwrap(), want);
    assert_eq!(Message::parse(&want).unwrap(), m);
}

#[test]
fn header_checks() {
    let bytes = sa_init().emit().unwrap();
    // Length field must match the datagram.
    assert!(Message::parse(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Message::parse(&longer).is_err());
    // A higher major version is visible in the header but refused by Message::parse.
    let mut v3 = bytes.clone();
    v3[17] = 0x30;
    assert_eq!(Header::parse(&v3).unwrap().major(), 3);
    assert_eq!(
        Message::parse(&v3),
        Err(WireError::BadValue {
            what: "ikev2 major version",
            value: 3
        })
    );
}

#[test]
fn unknown_payloads_follow_the_critical_bit() {
    // Nonce followed by an unknown type 200: skipped without the critical bit, fatal with
    // it (the bit sits in the unknown payload's own generic header).
    let mut chain = hex("c8 00 0008");
    chain.extend_from_slice(&[0x55; 4]);
    chain.extend_from_slice(&hex("00 00 0006 0102"));
    let p = parse_chain(payload_type::NONCE, &chain).unwrap();
    assert_eq!(
        p,
        vec![
            Payload::Nonce(vec![0x55; 4]),
            Payload::Unknown {
                ty: 200,
                data: vec![1, 2]
            }
        ]
    );
    chain[9] = 0x80;
    let err = parse_chain(payload_type::NONCE, &chain).unwrap_err();
    assert_eq!(
        err,
        WireError::UnexpectedType {
            what: "ikev2 unsupported critical payload",
            value: 200
        }
    );
}

#[test]
fn sk_ends_the_chain_and_offsets_are_exposed() {
    let m = Message {
        header: Header {
            spi_i: 1,
            spi_r: 2,
            next_payload: 0,
            version: 0x20,
            exchange: exchange::IKE_AUTH,
            flags: flags::INITIATOR,
            message_id: 1,
            length: 0,
        },
        payloads: vec![Payload::Sk(Encrypted {
            first_inner: payload_type::IDI,
            data: vec![9; 48],
        })],
    };
    let b = m.emit().unwrap();
    assert_eq!(b[28], payload_type::IDI);
    assert_eq!(Message::encrypted_offset(&b).unwrap(), Some(32));
    let back = Message::parse(&b).unwrap();
    assert_eq!(back.payloads, m.payloads);
    // Anything after SK is refused on both sides.
    let mut bad = m.clone();
    bad.payloads.push(Payload::Nonce(vec![1; 16]));
    assert!(bad.emit().is_err());
    let mut trailing = b.clone();
    trailing.extend_from_slice(&[0, 0, 0, 4]);
    let len = trailing.len() as u32;
    trailing[24..28].copy_from_slice(&len.to_be_bytes());
    assert!(Message::parse(&trailing).is_err());
    // Fragments: number 0 or above total is malformed.
    let f = Payload::Skf(Fragment {
        first_inner: 0,
        number: 3,
        total: 2,
        data: vec![],
    });
    assert!(emit_chain(&[f]).is_err());
    assert_eq!(
        Message::encrypted_offset(&sa_init().emit().unwrap()).unwrap(),
        None
    );
}

#[test]
fn inner_chain_round_trip() {
    let inner = vec![
        Payload::IdI(Identification::address("10.0.0.1".parse().unwrap())),
        Payload::Auth(Auth {
            method: auth_method::SHARED_KEY_MIC,
            data: vec![7; 32],
        }),
        Payload::Sa(SecurityAssociation {
            proposals: vec![Proposal {
                number: 1,
                protocol: protocol::ESP,
                spi: vec![0xc0, 0, 0, 1],
                transforms: vec![
                    Transform::with_key_length(transform_type::ENCR, 20, 256),
                    Transform::new(transform_type::ESN, 0),
                ],
            }],
        }),
        Payload::TsI(vec![TrafficSelector::any_between(
            "10.1.0.0".parse().unwrap(),
            "10.1.255.255".parse().unwrap(),
        )]),
        Payload::TsR(vec![TrafficSelector::any_between(
            "2001:db8::".parse().unwrap(),
            "2001:db8::ffff".parse().unwrap(),
        )]),
    ];
    let (first, bytes) = emit_chain(&inner).unwrap();
    assert_eq!(first, payload_type::IDI);
    assert_eq!(parse_chain(first, &bytes).unwrap(), inner);
    let id = match &inner[0] {
        Payload::IdI(id) => id,
        _ => unreachable!(),
    };
    assert_eq!(id.as_address(), Some(IpAddr::from([10, 0, 0, 1])));
    assert_eq!(id.body(), vec![1, 0, 0, 0, 10, 0, 0, 1]);
}

#[test]
fn malformed_substructures_are_errors() {
    let good = sa_init().emit().unwrap();
    // Proposal "last" byte neither 0 nor 2.
    let mut b = good.clone();
    b[32] = 1;
    assert!(Message::parse(&b).is_err());
    // Transform count disagreeing with the transforms present.
    let mut b = good.clone();
    b[39] = 4;
    assert!(Message::parse(&b).is_err());
    // A payload length running past the message.
    let mut b = good.clone();
    b[30] = 0xff;
    assert!(Message::parse(&b).is_err());
    // A payload length below the generic header.
    let mut b = good.clone();
    b[30] = 0;
    b[31] = 3;
    assert!(Message::parse(&b).is_err());
}

mod strategy {
    use super::*;
    use crate::ikev2::sa::strategy::sa;
    use crate::ikev2::ts::strategy::ts;

    fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..max)
    }

    pub fn payload() -> impl Strategy<Value = Payload> {
        prop_oneof![
            sa().prop_map(Payload::Sa),
            (any::<u16>(), bytes(64))
                .prop_map(|(group, data)| Payload::Ke(KeyExchange { group, data })),
            (any::<u8>(), bytes(32))
                .prop_map(|(id_type, data)| Payload::IdI(Identification { id_type, data })),
            (any::<u8>(), bytes(32))
                .prop_map(|(id_type, data)| Payload::IdR(Identification { id_type, data })),
            (any::<u8>(), bytes(32))
                .prop_map(|(encoding, data)| Payload::Cert(Cert { encoding, data })),
            (any::<u8>(), bytes(32))
                .prop_map(|(encoding, data)| Payload::CertReq(Cert { encoding, data })),
            (any::<u8>(), bytes(32))
                .prop_map(|(method, data)| Payload::Auth(Auth { method, data })),
            bytes(64).prop_map(Payload::Nonce),
            (
                any::<u8>(),
                prop_oneof![Just(vec![]), bytes(9)],
                any::<u16>(),
                bytes(24)
            )
                .prop_map(|(protocol, spi, ty, data)| Payload::Notify(Notify {
                    protocol,
                    spi,
                    ty,
                    data
                })),
            (any::<u8>(), 0u8..9, 0usize..4).prop_flat_map(|(protocol, size, n)| {
                proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), usize::from(size)),
                    n,
                )
                .prop_map(move |spis| {
                    Payload::Delete(Delete {
                        protocol,
                        spi_size: size,
                        spis,
                    })
                })
            }),
            bytes(32).prop_map(Payload::VendorId),
            proptest::collection::vec(ts(), 0..3).prop_map(Payload::TsI),
            proptest::collection::vec(ts(), 0..3).prop_map(Payload::TsR),
            (
                any::<u8>(),
                proptest::collection::vec((0u16..0x8000, bytes(16)), 0..4)
            )
                .prop_map(|(cfg_type, attributes)| Payload::Cp(Config {
                    cfg_type,
                    attributes
                })),
            (1u8..=2, any::<u8>(), any::<u8>(), bytes(20)).prop_map(
                |(code, identifier, t, data)| {
                    Payload::Eap(Eap {
                        code,
                        identifier,
                        eap_type: Some(t),
                        data,
                    })
                }
            ),
            (3u8..=4, any::<u8>()).prop_map(|(code, identifier)| {
                Payload::Eap(Eap {
                    code,
                    identifier,
                    eap_type: None,
                    data: vec![],
                })
            }),
            (200u8..=255, bytes(16)).prop_map(|(ty, data)| Payload::Unknown { ty, data }),
        ]
    }

    pub fn encrypted() -> impl Strategy<Value = Option<Payload>> {
        prop_oneof![
            Just(None),
            (any::<u8>(), bytes(64))
                .prop_map(|(first_inner, data)| Some(Payload::Sk(Encrypted { first_inner, data }))),
            (any::<u8>(), 1u16..10, bytes(64)).prop_flat_map(|(first_inner, total, data)| {
                (1..=total).prop_map(move |number| {
                    Some(Payload::Skf(Fragment {
                        first_inner,
                        number,
                        total,
                        data: data.clone(),
                    }))
                })
            }),
        ]
    }
}

proptest! {
    #[test]
    fn message_round_trip(spi_i in any::<u64>(), spi_r in any::<u64>(), exch in any::<u8>(),
                          fl in any::<u8>(), mid in any::<u32>(), minor in 0u8..16,
                          mut payloads in proptest::collection::vec(strategy::payload(), 0..6),
                          enc in strategy::encrypted()) {
        payloads.extend(enc);
        let m = Message {
            header: Header { spi_i, spi_r, next_payload: 0, version: 0x20 | minor, exchange: exch,
                             flags: fl, message_id: mid, length: 0 },
            payloads,
        };
        let bytes = m.emit().unwrap();
        let back = Message::parse(&bytes).unwrap();
        prop_assert_eq!(back.header.length as usize, bytes.len());
        prop_assert_eq!(&back.payloads, &m.payloads);
        prop_assert_eq!(back.emit().unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Message::parse(&b);
        let _ = Message::encrypted_offset(&b);
        if b.len() > 1 {
            let _ = parse_chain(b[0], &b[1..]);
        }
    }

    #[test]
    fn mutated_messages_never_panic(idx in any::<prop::sample::Index>(), val in any::<u8>()) {
        let mut b = sa_init().emit().unwrap();
        let i = idx.index(b.len());
        b[i] = val;
        if let Ok(m) = Message::parse(&b) {
            prop_assert!(m.emit().is_ok());
        }
    }
}
