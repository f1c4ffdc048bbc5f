use super::*;
use crate::attribute::{AttrValue, Attribute};
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

fn main_mode_sa() -> Payload {
    use ike_attr::*;
    Payload::Sa(SecurityAssociation {
        doi: DOI_IPSEC,
        situation: situation::IDENTITY_ONLY,
        proposals: vec![Proposal {
            number: 1,
            protocol: protocol::ISAKMP,
            spi: vec![],
            transforms: vec![Transform {
                number: 1,
                id: KEY_IKE,
                attributes: vec![
                    Attribute::short(ENCRYPTION_ALGORITHM, ENCR_3DES_CBC),
                    Attribute::short(HASH_ALGORITHM, HASH_SHA),
                    Attribute::short(AUTHENTICATION_METHOD, AUTH_PSK),
                    Attribute::short(GROUP_DESCRIPTION, 2),
                    Attribute::short(LIFE_TYPE, LIFE_SECONDS),
                    Attribute::short(LIFE_DURATION, 28800),
                ],
            }],
        }],
    })
}

fn header(np: u8, flags: u8) -> Header {
    Header {
        spi_i: 0x1122334455667788,
        spi_r: 0,
        next_payload: np,
        version: 0x10,
        exchange: exchange::IDENTITY_PROTECTION,
        flags,
        message_id: 0,
        length: 0,
    }
}

#[test]
fn main_mode_sa_exact_bytes() {
    // RFC 2408 §3.4-3.6 layouts, RFC 2409 appendix A values: 3DES, SHA, PSK, group 2,
    // 28800 seconds.
    let want = hex(
        "1122334455667788 0000000000000000 01 10 02 00 00000000 00000050
         00 00 0034 00000001 00000001
           00 00 0028 01 01 00 01
             00 00 0020 01 01 0000
               8001 0005 8002 0002 8003 0001 8004 0002 800b 0001 800c 7080",
    );
    let m = Message {
        header: Header {
            length: 0x50,
            ..header(payload_type::SA, 0)
        },
        body: Body::Payloads(vec![main_mode_sa()]),
    };
    assert_eq!(m.emit().unwrap(), want);
    let back = Message::parse(&want).unwrap();
    assert_eq!(back, m);
    let Payload::Sa(sa) = &back.payloads().unwrap()[0] else {
        panic!("not an SA")
    };
    assert_eq!(
        sa.proposals[0].transforms[0].attribute(ike_attr::LIFE_DURATION),
        Some(28800)
    );
}

#[test]
fn encrypted_body_and_padding() {
    let inner = vec![
        Payload::Id(Identification::address("10.0.0.1".parse().unwrap())),
        Payload::Hash(vec![0xab; 20]),
    ];
    let (first, mut plain) = emit_chain(&inner).unwrap();
    assert_eq!(first, payload_type::ID);
    let used = plain.len();
    plain.extend_from_slice(&[0, 0, 0, 7]); // padding as a peer might add it
    let (back, n) = parse_plain_chain(first, &plain).unwrap();
    assert_eq!((back, n), (inner, used));
    // An encrypted message keeps its body opaque.
    let m = Message {
        header: header(payload_type::ID, flags::ENCRYPTION),
        body: Body::Encrypted(vec![0x5a; 32]),
    };
    let bytes = m.emit().unwrap();
    let back = Message::parse(&bytes).unwrap();
    assert_eq!(back.body, m.body);
    assert_eq!(back.header.next_payload, payload_type::ID);
    // E flag and body kind must agree.
    let bad = Message {
        header: header(0, 0),
        body: Body::Encrypted(vec![1]),
    };
    assert!(bad.emit().is_err());
}

#[test]
fn identities_and_nat_t() {
    let id = Identification::subnet(
        "10.1.0.0".parse().unwrap(),
        "255.255.0.0".parse().unwrap(),
        17,
        500,
    )
    .unwrap();
    assert_eq!(id.body(), hex("04 11 01f4 0a010000 ffff0000"));
    assert_eq!(
        id.addresses(),
        Some((
            "10.1.0.0".parse::<IpAddr>().unwrap(),
            "255.255.0.0".parse().unwrap()
        ))
    );
    let chain = vec![
        Payload::NatD {
            draft: false,
            hash: vec![1; 20],
        },
        Payload::NatD {
            draft: true,
            hash: vec![2; 16],
        },
        Payload::NatOa(NatOa {
            draft: false,
            address: "192.0.2.7".parse().unwrap(),
        }),
    ];
    let (first, bytes) = emit_chain(&chain).unwrap();
    assert_eq!(first, payload_type::NAT_D);
    assert_eq!(bytes[0], payload_type::NAT_D_DRAFT);
    assert_eq!(
        &bytes[bytes.len() - 12..],
        &hex("0000000c 01000000 c0000207")
    );
    assert_eq!(parse_plain_chain(first, &bytes).unwrap().0, chain);
}

#[test]
fn malformed_input_is_an_error() {
    let good = Message {
        header: header(payload_type::SA, 0),
        body: Body::Payloads(vec![main_mode_sa()]),
    }
    .emit()
    .unwrap();
    // Unknown payload type (no critical bit in ISAKMP: always refused).
    assert_eq!(
        parse_plain_chain(99, &[0, 0, 0, 4]).unwrap_err(),
        WireError::UnexpectedType {
            what: "isakmp payload type",
            value: 99
        }
    );
    // Length field vs datagram, major version.
    assert!(Message::parse(&good[..good.len() - 1]).is_err());
    let mut v2 = good.clone();
    v2[17] = 0x20;
    assert!(Message::parse(&v2).is_err());
    // Transform count that disagrees with the chain.
    let mut b = good.clone();
    b[47] = 2;
    assert!(Message::parse(&b).is_err());
    // A proposal chain naming a non-proposal payload.
    let mut b = good.clone();
    b[40] = 5;
    assert!(Message::parse(&b).is_err());
    // Labeled-domain situations are refused with a clear error.
    let mut b = good.clone();
    b[39] = 0x03;
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        WireError::BadValue {
            what: "isakmp sa situation (labeled domain)",
            value: 3
        }
    );
    // Trailing bytes after a cleartext chain.
    let mut b = good.clone();
    b.extend_from_slice(&[0; 4]);
    let len = b.len() as u32;
    b[24..28].copy_from_slice(&len.to_be_bytes());
    assert!(Message::parse(&b).is_err());
}

fn payload() -> impl Strategy<Value = Payload> {
    let bytes = |n: usize| proptest::collection::vec(any::<u8>(), 0..n);
    prop_oneof![
        sa::strategy::sa().prop_map(Payload::Sa),
        bytes(64).prop_map(Payload::Ke),
        (any::<u8>(), any::<u8>(), any::<u16>(), bytes(32)).prop_map(
            |(id_type, protocol, port, data)| {
                Payload::Id(Identification {
                    id_type,
                    protocol,
                    port,
                    data,
                })
            }
        ),
        (any::<u8>(), bytes(32)).prop_map(|(encoding, data)| Payload::Cert { encoding, data }),
        (any::<u8>(), bytes(32)).prop_map(|(encoding, authority)| Payload::CertReq {
            encoding,
            authority
        }),
        bytes(32).prop_map(Payload::Hash),
        bytes(32).prop_map(Payload::Sig),
        bytes(64).prop_map(Payload::Nonce),
        (
            any::<u32>(),
            any::<u8>(),
            any::<u16>(),
            prop_oneof![Just(vec![]), bytes(17)],
            bytes(16)
        )
            .prop_map(|(doi, protocol, ty, spi, data)| Payload::Notify(Notify {
                doi,
                protocol,
                ty,
                spi,
                data
            })),
        (any::<u32>(), any::<u8>(), 0u8..17, 0usize..4).prop_flat_map(
            |(doi, protocol, size, n)| {
                proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), usize::from(size)),
                    n,
                )
                .prop_map(move |spis| {
                    Payload::Delete(Delete {
                        doi,
                        protocol,
                        spi_size: size,
                        spis,
                    })
                })
            }
        ),
        bytes(32).prop_map(Payload::VendorId),
        (
            any::<u8>(),
            any::<u16>(),
            proptest::collection::vec(crate::attribute::strategy::attribute(), 0..4)
        )
            .prop_map(|(cfg_type, identifier, attributes)| {
                Payload::Attribute(ConfigAttributes {
                    cfg_type,
                    identifier,
                    attributes,
                })
            }),
        (any::<bool>(), bytes(32)).prop_map(|(draft, hash)| Payload::NatD { draft, hash }),
        (
            any::<bool>(),
            prop_oneof![
                any::<[u8; 4]>().prop_map(IpAddr::from),
                any::<[u8; 16]>().prop_map(IpAddr::from)
            ]
        )
            .prop_map(|(draft, address)| Payload::NatOa(NatOa { draft, address })),
        (any::<u16>(), 1u8.., any::<bool>(), bytes(40)).prop_map(|(id, number, last, data)| {
            Payload::Fragment(Fragment {
                id,
                number,
                last,
                data,
            })
        }),
    ]
}

proptest! {
    #[test]
    fn message_round_trip(ci in any::<u64>(), cr in any::<u64>(), exch in any::<u8>(), mid in any::<u32>(),
                          payloads in proptest::collection::vec(payload(), 0..6)) {
        let m = Message {
            header: Header { spi_i: ci, spi_r: cr, next_payload: 0, version: 0x10, exchange: exch,
                             flags: 0, message_id: mid, length: 0 },
            body: Body::Payloads(payloads),
        };
        let bytes = m.emit().unwrap();
        let back = Message::parse(&bytes).unwrap();
        prop_assert_eq!(&back.body, &m.body);
        prop_assert_eq!(back.emit().unwrap(), bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Message::parse(&b);
        if let Some((&first, rest)) = b.split_first() {
            let _ = parse_plain_chain(first, rest);
        }
    }

    #[test]
    fn mutations_never_panic(idx in any::<prop::sample::Index>(), val in any::<u8>()) {
        let mut b = Message { header: header(payload_type::SA, 0), body: Body::Payloads(vec![main_mode_sa()]) }
            .emit().unwrap();
        let i = idx.index(b.len());
        b[i] = val;
        if let Ok(m) = Message::parse(&b) {
            prop_assert!(m.emit().is_ok());
        }
    }
}

#[test]
fn long_attribute_values_read_as_numbers() {
    let a = Attribute {
        ty: ike_attr::LIFE_DURATION,
        value: AttrValue::Long(vec![0, 1, 0x51, 0x80]),
    };
    assert_eq!(a.as_u64(), Some(86400));
}
