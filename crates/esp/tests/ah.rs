//! AH in transport and tunnel mode over IPv4 and IPv6, what it protects and what it lets
//! change in transit, and the ESP+AH bundle (AH outside ESP).

use std::net::Ipv4Addr;

use crypto::registry::{self, encr, integ};
use esp::ah::{AhInbound, AhOutbound};
use esp::framing::{self, Outer, Received};
use esp::replay::ReplayWindow;
use esp::{EspError, Inbound, Outbound, Transform};
use proptest::prelude::*;
use wire::{ip, ipv4, ipv6, udp};

fn ah_pair(id: u16, esn: bool) -> (AhOutbound, AhInbound) {
    let alg = registry::integrity(id).unwrap();
    let key = vec![0x3cu8; alg.key_len];
    (
        AhOutbound::new(0x7000, esn, alg, &key).unwrap(),
        AhInbound::new(0x7000, ReplayWindow::new(64, esn).unwrap(), alg, &key).unwrap(),
    )
}

fn datagram(v6: bool, hbh: bool, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; 8 + payload.len()];
    udp::Repr {
        src_port: 1,
        dst_port: 2,
        payload_len: payload.len(),
    }
    .emit(&mut l4)
    .unwrap();
    l4[8..].copy_from_slice(payload);
    if v6 {
        // Hop-by-hop header with one mutable option (type 0x3e has the 0x20 bit) of 4 bytes.
        let ext: Vec<u8> = if hbh {
            vec![ip::UDP, 0, 0x3e, 4, 9, 9, 9, 9]
        } else {
            vec![]
        };
        let mut p = vec![0u8; 40];
        ipv6::Repr {
            src: "2001:db8::1".parse().unwrap(),
            dst: "2001:db8::2".parse().unwrap(),
            next_header: if hbh { ip::HOPOPT } else { ip::UDP },
            payload_len: ext.len() + l4.len(),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut p)
        .unwrap();
        p.extend_from_slice(&ext);
        p.extend_from_slice(&l4);
        p
    } else {
        let mut p = vec![0u8; 20];
        ipv4::Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: ip::UDP,
            payload_len: l4.len(),
            ttl: 64,
            dscp_ecn: 0,
            ident: 3,
            dont_frag: true,
        }
        .emit(&mut p)
        .unwrap();
        p.extend_from_slice(&l4);
        p
    }
}

const ALGS: [u16; 5] = [
    integ::HMAC_MD5_96,
    integ::HMAC_SHA1_96,
    integ::HMAC_SHA2_256_128,
    integ::HMAC_SHA2_384_192,
    integ::HMAC_SHA2_512_256,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn transport_and_tunnel_round_trip(alg in 0..ALGS.len(), v6 in any::<bool>(), hbh in any::<bool>(), esn in any::<bool>(),
                                       tunnel in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (mut tx, mut rx) = ah_pair(ALGS[alg], esn);
        let original = datagram(v6, hbh, &payload);
        let mut buf = vec![0u8; original.len() + 200];
        let n = if tunnel {
            tx.seal_tunnel(&original, Outer::V4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)), &mut buf).unwrap()
        } else {
            tx.seal_transport(&original, &mut buf).unwrap()
        };
        if !v6 || tunnel {
            prop_assert!(ipv4::Packet::new_checked(&buf[..n]).unwrap().verify_checksum());
        }
        match rx.open(&mut buf[..n], !tunnel).unwrap() {
            Received::Packet { range, .. } => prop_assert_eq!(&buf[range], &original[..]),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn mutable_fields_may_change_immutable_ones_may_not() {
    let (mut tx, mut rx) = ah_pair(integ::HMAC_SHA2_256_128, false);
    let original = datagram(false, false, b"payload");
    let mut buf = vec![0u8; 200];
    let n = tx.seal_transport(&original, &mut buf).unwrap();
    // A router decrements the TTL (and fixes the checksum): still authentic.
    let mut routed = buf[..n].to_vec();
    ipv4::Packet::new_unchecked(&mut routed[..]).set_ttl(63);
    assert!(rx.open(&mut routed, true).is_ok());
    // Changing the source address or the payload is caught.
    let n = tx.seal_transport(&original, &mut buf).unwrap();
    let mut spoofed = buf[..n].to_vec();
    ipv4::Packet::new_unchecked(&mut spoofed[..]).set_src(Ipv4Addr::new(10, 9, 9, 9));
    assert_eq!(rx.open(&mut spoofed, true), Err(EspError::BadIcv));
    let mut changed = buf[..n].to_vec();
    changed[n - 1] ^= 1;
    assert_eq!(rx.open(&mut changed, true), Err(EspError::BadIcv));
    // The genuine packet still opens (failed ones did not move the window), once.
    let mut copy = buf[..n].to_vec();
    assert!(rx.open(&mut buf[..n], true).is_ok());
    assert!(matches!(rx.open(&mut copy, true), Err(EspError::Replay(_))));
    // IPv6: the mutable hop-by-hop option may change, the hop limit too.
    let (mut tx6, mut rx6) = ah_pair(integ::HMAC_SHA1_96, false);
    let orig6 = datagram(true, true, b"six");
    let n = tx6.seal_transport(&orig6, &mut buf).unwrap();
    buf[7] = 3;
    buf[44] = 0x77;
    assert!(rx6.open(&mut buf[..n], true).is_ok());
}

#[test]
fn esp_inside_ah_bundle() {
    // "Authentication, integrity and confidentiality": ESP first, then AH around it.
    let e = registry::encryption(encr::AES_CBC, Some(128)).unwrap();
    let t = || Transform::new(e, &[5u8; 16], None).unwrap();
    let mut esp_tx = Outbound::new(0x8000, false, t());
    let mut esp_rx = Inbound::new(0x8000, ReplayWindow::new(64, false).unwrap(), t());
    let (mut ah_tx, mut ah_rx) = ah_pair(integ::HMAC_SHA1_96, false);
    let original = datagram(false, false, b"bundle payload");
    let mut esp_pkt = vec![0u8; 300];
    let n = framing::seal_transport(&mut esp_tx, &original, None, &mut esp_pkt).unwrap();
    let mut wire_pkt = vec![0u8; 400];
    let m = ah_tx.seal_transport(&esp_pkt[..n], &mut wire_pkt).unwrap();
    assert_eq!(
        ipv4::Packet::new_checked(&wire_pkt[..m])
            .unwrap()
            .protocol(),
        ip::AH
    );
    let Received::Packet { range, .. } = ah_rx.open(&mut wire_pkt[..m], true).unwrap() else {
        panic!()
    };
    let mut inner = wire_pkt[range].to_vec();
    assert_eq!(
        ipv4::Packet::new_checked(&inner[..]).unwrap().protocol(),
        ip::ESP
    );
    let Received::Packet { range, .. } = framing::open(&mut esp_rx, &mut inner, true).unwrap()
    else {
        panic!()
    };
    assert_eq!(&inner[range], &original[..]);
}

#[test]
fn hostile_ah_input() {
    let (_, mut rx) = ah_pair(integ::HMAC_SHA1_96, false);
    for bytes in [vec![], vec![0x45u8; 3], datagram(false, false, b"not ah")] {
        assert!(rx.open(&mut bytes.clone(), true).is_err());
    }
    // Protocol AH but a header too short for the ICV.
    let mut p = vec![0u8; 28];
    ipv4::Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: ip::AH,
        payload_len: 8,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut p)
    .unwrap();
    assert!(rx.open(&mut p, true).is_err());
}

#[test]
fn ah_lifetimes_and_counters() {
    use esp::Accounted;
    use esp::lifetime::{Lifetime, LifetimeEvent, Limits};
    let (tx, rx) = ah_pair(integ::HMAC_SHA2_256_128, false);
    let soft = Limits {
        packets: Some(2),
        ..Limits::default()
    };
    let hard = Limits {
        packets: Some(3),
        ..Limits::default()
    };
    let mut tx = tx.with(esp::Mode::Transport, Lifetime::new(soft, hard, 0));
    let mut rx = rx.with(esp::Mode::Transport, Lifetime::unlimited());
    let original = datagram(false, false, b"counted");
    let mut buf = vec![0u8; 256];
    for i in 1..=3 {
        let n = tx.seal_transport(&original, &mut buf).unwrap();
        assert!(matches!(
            rx.open(&mut buf[..n], true),
            Ok(Received::Packet { .. })
        ));
        let ev = tx.poll_event();
        match i {
            2 => assert_eq!(ev, Some(LifetimeEvent::RekeyNeeded)),
            3 => assert_eq!(ev, Some(LifetimeEvent::Expired)),
            _ => assert_eq!(ev, None),
        }
    }
    assert_eq!(
        tx.seal_transport(&original, &mut buf),
        Err(EspError::Expired)
    );
    let c = *rx.counters();
    let l4 = (original.len() - 20) as u64;
    assert_eq!(
        (c.packets, c.authenticated_bytes, c.transport_bytes),
        (3, 3 * l4, 3 * l4)
    );
    assert_eq!(c.confidential_bytes, 0);
    assert_eq!(tx.counters().expired, 1);
    // Time limits too, on the caller's clock.
    let (tx2, _) = ah_pair(integ::HMAC_SHA1_96, false);
    let hard = Limits {
        seconds: Some(60),
        ..Limits::default()
    };
    let mut tx2 = tx2.with(
        esp::Mode::Tunnel,
        Lifetime::new(Limits::default(), hard, 100),
    );
    assert_eq!(tx2.tick(159), None);
    assert_eq!(tx2.tick(160), Some(LifetimeEvent::Expired));
    assert_eq!(
        tx2.seal_tunnel(
            &original,
            Outer::V4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)),
            &mut buf
        ),
        Err(EspError::Expired)
    );
}

#[test]
fn ipv6_routing_header_under_ah_is_refused_not_guessed() {
    let (mut tx, mut rx) = ah_pair(integ::HMAC_SHA2_256_128, false);
    let mut p = datagram(true, false, b"routed");
    // Insert a type-0-free routing header (type 2, one segment left) before UDP.
    let rh = [ip::UDP, 2, 2, 1, 0, 0, 0, 0];
    let mut rh_full = rh.to_vec();
    rh_full.extend_from_slice(&[0u8; 16]);
    p[6] = ip::IPV6_ROUTE;
    let plen = u16::from_be_bytes([p[4], p[5]]) + rh_full.len() as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    p.splice(40..40, rh_full);
    let mut buf = vec![0u8; 512];
    let err = tx.seal_transport(&p, &mut buf).unwrap_err();
    assert!(matches!(err, EspError::Refused(_)), "{err:?}");
    // And a received one (sealed by a peer without the check) is a counted drop.
    let mut q = p.clone();
    q[6] = ip::AH;
    assert!(rx.open(&mut q, true).is_err());
}
