//! Whole packets through tunnel and transport mode, IPv4 and IPv6, raw ESP and RFC 3948
//! UDP encapsulation: what comes out of `open` is exactly what went into `seal`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crypto::registry::{self, encr, integ};
use esp::framing::{Outer, Received, open, seal_transport, seal_tunnel};
use esp::replay::ReplayWindow;
use esp::{Inbound, Outbound, Transform};
use proptest::prelude::*;
use wire::{ip, ipv4, ipv6, udp};

fn sa_pair(gcm: bool) -> (Outbound, Inbound) {
    let (e, i) = if gcm {
        (
            registry::encryption(encr::AES_GCM_16, Some(256)).unwrap(),
            None,
        )
    } else {
        (
            registry::encryption(encr::AES_CBC, Some(128)).unwrap(),
            Some(registry::integrity(integ::HMAC_SHA2_256_128).unwrap()),
        )
    };
    let key = vec![0x11u8; e.keymat_len];
    let ikey = vec![0x22u8; 32];
    let mk = || Transform::new(e, &key, i.map(|a| (a, ikey.as_slice()))).unwrap();
    (
        Outbound::new(0x5000, false, mk()),
        Inbound::new(0x5000, ReplayWindow::new(64, false).unwrap(), mk()),
    )
}

/// A UDP datagram over IPv4 or IPv6 (optionally behind a hop-by-hop header), valid checksums.
fn datagram(v6: bool, hbh: bool, payload: &[u8]) -> Vec<u8> {
    let mut l4 = vec![0u8; 8 + payload.len()];
    udp::Repr {
        src_port: 1234,
        dst_port: 5678,
        payload_len: payload.len(),
    }
    .emit(&mut l4)
    .unwrap();
    l4[8..].copy_from_slice(payload);
    if v6 {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        udp::Packet::new_checked(&mut l4[..])
            .unwrap()
            .fill_checksum(s.into(), d.into())
            .unwrap();
        let ext: Vec<u8> = if hbh {
            vec![ip::UDP, 0, 1, 4, 0, 0, 0, 0]
        } else {
            vec![]
        };
        let mut p = vec![0u8; 40];
        ipv6::Repr {
            src: s,
            dst: d,
            next_header: if hbh { ip::HOPOPT } else { ip::UDP },
            payload_len: ext.len() + l4.len(),
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 7,
        }
        .emit(&mut p)
        .unwrap();
        p.extend_from_slice(&ext);
        p.extend_from_slice(&l4);
        p
    } else {
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        udp::Packet::new_checked(&mut l4[..])
            .unwrap()
            .fill_checksum(s.into(), d.into())
            .unwrap();
        let mut p = vec![0u8; 20];
        ipv4::Repr {
            src: s,
            dst: d,
            protocol: ip::UDP,
            payload_len: l4.len(),
            ttl: 64,
            dscp_ecn: 0,
            ident: 9,
            dont_frag: true,
        }
        .emit(&mut p)
        .unwrap();
        p.extend_from_slice(&l4);
        p
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tunnel_round_trip(gcm in any::<bool>(), inner_v6 in any::<bool>(), outer_v6 in any::<bool>(),
                         encap in any::<bool>(), payload in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let (mut tx, mut rx) = sa_pair(gcm);
        let inner = datagram(inner_v6, false, &payload);
        let outer = if outer_v6 {
            Outer::V6("2001:db8:1::1".parse().unwrap(), "2001:db8:2::1".parse().unwrap())
        } else {
            Outer::V4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2))
        };
        let encap = encap.then_some((4500, 4500));
        let mut buf = vec![0u8; inner.len() + 200];
        let n = seal_tunnel(&mut tx, &inner, outer, encap, &mut buf).unwrap();
        // The outer packet is well formed for the network.
        match outer {
            Outer::V4(s, d) => {
                let p = ipv4::Packet::new_checked(&buf[..n]).unwrap();
                prop_assert!(p.verify_checksum());
                prop_assert_eq!(p.protocol(), if encap.is_some() { ip::UDP } else { ip::ESP });
                prop_assert_eq!((p.src(), p.dst()), (s, d));
            }
            Outer::V6(s, d) => {
                let p = ipv6::Packet::new_checked(&buf[..n]).unwrap();
                if encap.is_some() {
                    let u = udp::Packet::new_checked(p.payload()).unwrap();
                    prop_assert!(u.verify_checksum(IpAddr::V6(s), IpAddr::V6(d)));
                }
            }
        }
        match open(&mut rx, &mut buf[..n], false).unwrap() {
            Received::Packet { range, seq } => {
                prop_assert_eq!(seq, 1);
                prop_assert_eq!(&buf[range], &inner[..]);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn transport_round_trip(gcm in any::<bool>(), v6 in any::<bool>(), hbh in any::<bool>(), encap in any::<bool>(),
                            payload in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let (mut tx, mut rx) = sa_pair(gcm);
        let original = datagram(v6, hbh, &payload);
        let encap = encap.then_some((4500, 4500));
        let mut buf = vec![0u8; original.len() + 200];
        let n = seal_transport(&mut tx, &original, encap, &mut buf).unwrap();
        if !v6 {
            let p = ipv4::Packet::new_checked(&buf[..n]).unwrap();
            prop_assert!(p.verify_checksum());
            prop_assert_eq!(p.protocol(), if encap.is_some() { ip::UDP } else { ip::ESP });
        } else {
            let p = ipv6::Packet::new_checked(&buf[..n]).unwrap();
            prop_assert_eq!(p.walk().unwrap().protocol, if encap.is_some() { ip::UDP } else { ip::ESP });
        }
        match open(&mut rx, &mut buf[..n], true).unwrap() {
            Received::Packet { range, .. } => prop_assert_eq!(&buf[range], &original[..]),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn keepalives_dummies_and_garbage() {
    let (mut tx, mut rx) = sa_pair(true);
    // A NAT-keepalive on the encapsulation port.
    let mut ka = vec![0u8; 29];
    ipv4::Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: ip::UDP,
        payload_len: 9,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut ka)
    .unwrap();
    udp::Repr {
        src_port: 4500,
        dst_port: 4500,
        payload_len: 1,
    }
    .emit(&mut ka[20..])
    .unwrap();
    ka[28] = 0xff;
    assert_eq!(open(&mut rx, &mut ka, false).unwrap(), Received::Keepalive);
    // A dummy packet (next header 59) sealed directly.
    let mut buf = vec![0u8; 200];
    let n = tx.seal(ip::NO_NEXT, b"", &mut buf[20..]).unwrap();
    ipv4::Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: ip::ESP,
        payload_len: n,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut buf)
    .unwrap();
    assert_eq!(
        open(&mut rx, &mut buf[..20 + n], false).unwrap(),
        Received::Dummy
    );
    // Not ESP at all, truncated, or garbage: errors, never panics.
    let mut plain = datagram(false, false, b"x");
    plain[9] = ip::TCP;
    assert!(open(&mut rx, &mut plain, false).is_err());
    assert!(open(&mut rx, &mut [0x45, 0, 0], false).is_err());
    // Found by fuzzing: protocol UDP with less than a UDP header behind the IP header.
    let mut short = vec![0u8; 24];
    ipv4::Repr {
        src: Ipv4Addr::new(10, 0, 0, 1),
        dst: Ipv4Addr::new(10, 0, 0, 2),
        protocol: ip::UDP,
        payload_len: 4,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut short)
    .unwrap();
    assert!(open(&mut rx, &mut short, false).is_err());
    // A UDP length longer than the IP payload.
    let mut lying = ka.clone();
    lying[24..26].copy_from_slice(&200u16.to_be_bytes());
    assert!(open(&mut rx, &mut lying, false).is_err());
    assert!(open(&mut rx, &mut [], true).is_err());
}

#[test]
fn tfc_padding_hides_sizes_and_the_receiver_strips_it() {
    let outer = Outer::V4(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
    for gcm in [true, false] {
        let (mut tx, mut rx) = sa_pair(gcm);
        tx.set_tfc_padding(1000);
        let mut sizes = Vec::new();
        for (i, len) in [0usize, 17, 300, 900].into_iter().enumerate() {
            let inner = datagram(i % 2 == 1, false, &vec![0x5a; len]);
            let mut buf = vec![0u8; 1200];
            let n = seal_tunnel(&mut tx, &inner, outer, None, &mut buf).unwrap();
            sizes.push(n);
            match open(&mut rx, &mut buf[..n], false).unwrap() {
                Received::Packet { range, .. } => assert_eq!(&buf[range], &inner[..]),
                other => panic!("{other:?}"),
            }
        }
        // Every packet on the wire has the same size, whatever it carried.
        assert!(sizes.windows(2).all(|w| w[0] == w[1]), "{sizes:?}");
        // Larger than the TFC size: sent as it is, still opened whole.
        let inner = datagram(false, false, &[1u8; 1100]);
        let mut buf = vec![0u8; 1400];
        let n = seal_tunnel(&mut tx, &inner, outer, None, &mut buf).unwrap();
        assert!(n > sizes[0]);
        match open(&mut rx, &mut buf[..n], false).unwrap() {
            Received::Packet { range, .. } => assert_eq!(&buf[range], &inner[..]),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_tunnel_payload_that_is_not_a_whole_ip_packet_is_dropped() {
    let (mut tx, mut rx) = sa_pair(true);
    let mut buf = vec![0u8; 256];
    // Claims IPv4 (next header 4) but carries garbage.
    let n = tx
        .seal(ip::IPV4, &[0x45, 0, 0xff, 0xff], &mut buf[28..])
        .unwrap();
    let mut pkt = vec![0u8; 20];
    ipv4::Repr {
        src: Ipv4Addr::new(192, 0, 2, 1),
        dst: Ipv4Addr::new(192, 0, 2, 2),
        protocol: ip::ESP,
        payload_len: n,
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: false,
    }
    .emit(&mut pkt)
    .unwrap();
    pkt.extend_from_slice(&buf[28..28 + n]);
    let err = open(&mut rx, &mut pkt, false).unwrap_err();
    assert!(matches!(err, esp::EspError::BadInner(_)), "{err:?}");
    assert_eq!(esp::Accounted::counters(&rx).malformed, 1);
}
