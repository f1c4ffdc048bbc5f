//! Property test: the tuple-space classifier returns exactly the first matching filter of
//! a plain scan in compiled order, for random filter sets and packets.

use std::net::{IpAddr, Ipv4Addr};

use policy::resolver::HostConfig;
use policy::{
    Address, AuthMethod, Classifier, ConnectionType, Direction, Filter, FilterAction, FilterList,
    Packet, Policy, Protocol, Rule, Store, StoreLocation, compile,
};
use proptest::prelude::*;

fn v4(last: u8) -> IpAddr {
    // A tiny address space so random packets hit random filters often.
    IpAddr::V4(Ipv4Addr::new(10, 0, last >> 4, last & 0x0f))
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        Just(Address::Any),
        Just(Address::Me),
        (0u8..=255).prop_map(|a| Address::host(v4(a))),
        (
            0u8..=255,
            prop_oneof![Just(20u8), Just(24), Just(28), Just(16)]
        )
            .prop_map(|(a, p)| {
                match Address::parse(&v4(a).to_string(), Some(&p.to_string())) {
                    Ok(x) => x,
                    Err(_) => Address::Any,
                }
            }),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    (
        address(),
        address(),
        prop_oneof![Just(0u8), Just(1), Just(6), Just(17)],
        0u16..4,
        0u16..4,
        any::<bool>(),
    )
        .prop_map(|(src, dst, proto, sp, dp, mirrored)| {
            let (src, dst) = if src == Address::Me && dst == Address::Me {
                (Address::Me, Address::Any)
            } else {
                (src, dst)
            };
            let protocol = if proto == 0 {
                Protocol::Any
            } else {
                Protocol::Number(proto)
            };
            let ports = protocol.has_ports();
            Filter {
                description: String::new(),
                src,
                dst,
                protocol,
                src_port: if ports { sp } else { 0 },
                dst_port: if ports { dp } else { 0 },
                mirrored,
            }
        })
}

fn store(lists: Vec<Vec<Filter>>, blocks: Vec<bool>) -> Store {
    let mut s = Store::default();
    let mut p = Policy::new("P", 0);
    for (i, filters) in lists.into_iter().enumerate() {
        let name = format!("L{i}");
        s.filter_lists.push(FilterList {
            name: name.clone(),
            description: String::new(),
            filters,
            last_modified: 0,
        });
        let mut a = FilterAction::new(&name, 0);
        if blocks.get(i).copied().unwrap_or(false) {
            a.action = policy::ActionKind::Block;
        }
        s.filter_actions.push(a);
        p.rules.push(Rule {
            name: name.clone(),
            description: String::new(),
            filter_list: name.clone(),
            filter_action: name,
            auth: vec![AuthMethod::Kerberos],
            tunnel: None,
            conn_type: ConnectionType::All,
            active: true,
        });
    }
    s.policies.push(p);
    s.assigned = Some("P".into());
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn classifier_equals_first_match_of_a_scan(
        lists in prop::collection::vec(prop::collection::vec(filter(), 0..8), 1..5),
        blocks in prop::collection::vec(any::<bool>(), 5),
        packets in prop::collection::vec((0u8..=255, 0u8..=255, prop_oneof![Just(1u8), Just(6), Just(17)], 0u16..4, 0u16..4, any::<bool>()), 64),
    ) {
        let host = HostConfig { me: vec![v4(5), v4(0x25)], ..HostConfig::default() };
        let s = store(lists, blocks);
        let c = Classifier::new(compile(&[(Some(StoreLocation::Local), &s)], &host));
        for (a, b, proto, sp, dp, out) in packets {
            let ports = proto != 1;
            let p = Packet {
                src: v4(a),
                dst: v4(b),
                protocol: proto,
                src_port: if ports { sp } else { 0 },
                dst_port: if ports { dp } else { 0 },
                direction: if out { Direction::Outbound } else { Direction::Inbound },
            };
            let fast = c.classify(&p).map(|m| m.rank);
            let slow = c.all_matches(&p).first().map(|m| m.rank);
            prop_assert_eq!(fast, slow, "packet {}", p);
        }
    }

    #[test]
    fn store_documents_round_trip(lists in prop::collection::vec(prop::collection::vec(filter(), 0..4), 1..3)) {
        let s = store(lists, vec![]);
        let bytes = policy::store::to_document(&s);
        let back = policy::store::from_document(std::path::Path::new("x.json"), &bytes).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_store_reader(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = policy::store::from_document(std::path::Path::new("x.json"), &bytes);
    }

    #[test]
    fn method_parsers_never_panic(text in "[A-Za-z0-9\\[\\],:/+ -]{0,40}") {
        let _ = policy::methods::QmSecMethod::parse_list(&text);
        let _ = policy::methods::MmSecMethod::parse_list(&text);
        let _ = policy::Address::parse(&text, None);
    }
}
