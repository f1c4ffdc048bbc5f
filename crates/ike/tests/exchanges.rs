//! Scenario tests of single behaviours over a perfect (or selectively lossy) network:
//! failures reported as events, retries, cookies, retransmission, liveness, NAT,
//! fragmentation, and hostile datagrams against live state.

mod common;

use std::time::Duration;

use common::*;
use ike::{EndpointConfig, Event, Failure, IkeSuite, Time};

fn secs(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

fn has(events: &[Event], f: impl Fn(&Event) -> bool) -> bool {
    events.iter().any(f)
}

fn established(p: &Pair) {
    let (a, b) = p.live();
    assert_eq!(a.len(), 1, "A children: {:?}", p.events_a);
    assert_eq!(b.len(), 1, "B children: {:?}", p.events_b);
    assert_eq!(a[0].inbound_spi, b[0].outbound_spi);
    assert_eq!(a[0].outbound, b[0].inbound);
    assert_eq!(a[0].inbound, b[0].outbound);
}

#[test]
fn establishes_with_one_child() {
    let (pa, pb) = pair_configs();
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    established(&p);
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::IkeSaEstablished {
            initiator: true,
            ..
        }
    )));
}

#[test]
fn invalid_ke_makes_the_initiator_retry_with_the_responders_group() {
    let (mut pa, mut pb) = pair_configs();
    pa.ike_suites = vec![GCM128, IkeSuite { dh: 31, ..GCM128 }];
    pb.ike_suites = vec![IkeSuite { dh: 31, ..GCM128 }];
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::InvalidKe { group: 31, .. }
    )));
    established(&p);
}

#[test]
fn no_proposal_chosen_is_a_clear_failure() {
    let (mut pa, pb) = pair_configs();
    pa.ike_suites = vec![CBC256];
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::Failed {
            failure: Failure::NoProposalChosen,
            fatal: true,
            ..
        }
    )));
    assert!(p.installed_a.is_empty() && p.installed_b.is_empty());
    assert!(p.a.sessions().is_empty());
}

#[test]
fn wrong_psk_is_authentication_failed_on_both_sides() {
    let (pa, mut pb) = pair_configs();
    pb.auth = ike::AuthMethod::Psk(crypto::Secret::from_slice(b"another secret"));
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    for ev in [&p.events_a, &p.events_b] {
        assert!(
            has(ev, |e| matches!(
                e,
                Event::Failed {
                    failure: Failure::AuthenticationFailed,
                    fatal: true,
                    ..
                }
            )),
            "{ev:?}"
        );
    }
    assert!(p.installed_a.is_empty() && p.installed_b.is_empty());
}

#[test]
fn ts_unacceptable_keeps_the_ike_sa() {
    let (pa, mut pb) = pair_configs();
    pb.remote_ts = vec![net("10.9.0.0", "10.9.0.255")];
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    let s = p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::Failed {
            failure: Failure::TsUnacceptable,
            fatal: false,
            ..
        }
    )));
    assert!(p.a.is_established(s));
    assert!(p.installed_a.is_empty());
}

#[test]
fn narrows_traffic_selectors() {
    let (pa, mut pb) = pair_configs();
    pb.remote_ts = vec![net("10.1.0.16", "10.1.0.31")];
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    established(&p);
    assert_eq!(
        p.installed_a[0].local_ts,
        vec![net("10.1.0.16", "10.1.0.31")]
    );
}

#[test]
fn cookies_over_the_half_open_threshold() {
    let (pa, pb) = pair_configs();
    let cfg = EndpointConfig {
        cookie_threshold: 0,
        ..EndpointConfig::default()
    };
    let mut p = Pair::new(cfg, pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    assert!(has(&p.events_b, |e| matches!(
        e,
        Event::CookieDemanded { .. }
    )));
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::CookieRequested { .. }
    )));
    established(&p);
}

#[test]
fn half_open_limit_drops_and_the_initiator_gives_up() {
    let (pa, pb) = pair_configs();
    let cfg = EndpointConfig {
        half_open_limit: 0,
        ..EndpointConfig::default()
    };
    let mut p = Pair::new(cfg, pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(120), |_, _| false);
    assert!(has(&p.events_b, |e| matches!(
        e,
        Event::Dropped {
            reason: "half-open limit",
            ..
        }
    )));
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::Failed {
            failure: Failure::PeerDead,
            ..
        }
    )));
    let retransmits = p
        .events_a
        .iter()
        .filter(|e| matches!(e, Event::Retransmit { .. }))
        .count();
    assert_eq!(
        retransmits,
        EndpointConfig::default().retransmit_tries as usize
    );
}

#[test]
fn retransmissions_back_off_and_responses_are_cached() {
    let (pa, pb) = pair_configs();
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    // Lose the first two responses of each kind from B: A must retransmit, B must answer
    // the retransmitted requests from its cache (same bytes).
    let mut lost = 0;
    p.run(secs(30), |from_a, _| {
        if !from_a && lost < 2 {
            lost += 1;
            return true;
        }
        false
    });
    established(&p);
    let from_b: Vec<&Vec<u8>> = p.wire.iter().filter(|w| !w.0).map(|w| &w.1).collect();
    assert_eq!(
        from_b[0], from_b[1],
        "IKE_SA_INIT response re-sent from cache"
    );
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::Retransmit { attempt: 2, .. }
    )));
}

#[test]
fn dead_peer_is_detected_and_children_removed() {
    let (mut pa, pb) = pair_configs();
    pa.dpd = Some(Duration::from_secs(10));
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    established(&p);
    // B vanishes.
    p.run(secs(200), |from_a, _| from_a);
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::Failed {
            failure: Failure::PeerDead,
            ..
        }
    )));
    assert_eq!(p.live().0.len(), 0);
}

#[test]
fn nat_floats_to_4500_and_sends_keepalives() {
    let (pa, mut pb) = pair_configs();
    pb.remote = sock("0.0.0.0:500");
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    p.nat = Some("192.0.2.7".parse().unwrap());
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(45), |_, _| false);
    assert!(has(&p.events_a, |e| matches!(
        e,
        Event::NatDetected {
            local_behind_nat: true,
            ..
        }
    )));
    assert!(has(&p.events_b, |e| matches!(
        e,
        Event::NatDetected {
            remote_behind_nat: true,
            ..
        }
    )));
    let (_, b) = p.live();
    assert_eq!(
        b[0].remote,
        sock("192.0.2.7:14500"),
        "B follows A's NAT mapping"
    );
    let (a, _) = p.live();
    assert!(a[0].encap && a[0].local.port() == 4500);
    assert!(
        p.wire
            .iter()
            .any(|(from_a, b)| *from_a && b.as_slice() == [0xff]),
        "keepalive"
    );
    assert!(
        p.wire
            .iter()
            .filter(|(from_a, _)| *from_a)
            .skip(1)
            .all(|(_, b)| b.starts_with(&[0, 0, 0, 0]) || b == &[0xff])
    );
}

#[test]
fn fragments_big_messages_and_exports_keys_on_request() {
    let (pa, pb) = pair_configs();
    let cfg = EndpointConfig {
        fragment_size: 200,
        export_keys: true,
        ..EndpointConfig::default()
    };
    let mut p = Pair::new(cfg, pa, pb);
    p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    established(&p);
    // Everything after IKE_SA_INIT fits the fragment size.
    assert!(p.wire.iter().skip(2).all(|(_, b)| b.len() <= 200));
    assert!(p.wire.len() > 4, "IKE_AUTH went out in fragments");
    assert_eq!(p.keys_exported, 2);
}

#[test]
fn rekeys_with_pfs_and_deletes_the_old_child() {
    let (mut pa, mut pb) = pair_configs();
    pa.child_suites = vec![esp_gcm(Some(31))];
    pb.child_suites = vec![esp_gcm(Some(31))];
    let mut p = Pair::new(EndpointConfig::default(), pa, pb);
    let s = p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    let first = p.a.children(s)[0].clone();
    p.a.rekey_child(p.now, s, first.id, &mut p.ra);
    p.run(secs(10), |_, _| false);
    let (a, b) = p.live();
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_eq!(a[0].replaces, Some(first.id));
    assert_eq!(a[0].suite.dh, Some(31));
    assert!(p.deleted_a.contains(&first.inbound_spi));
    p.a.rekey_ike(p.now, s, &mut p.ra);
    p.run(secs(15), |_, _| false);
    assert!(has(&p.events_b, |e| matches!(
        e,
        Event::IkeSaEstablished { rekey: true, .. }
    )));
    assert_eq!(p.live().0.len(), 1, "children survive the IKE rekey");
    p.a.close(p.now, s, &mut p.ra);
    p.run(secs(20), |_, _| false);
    assert_eq!((p.live().0.len(), p.live().1.len()), (0, 0));
    assert!(p.a.sessions().is_empty() && p.b.sessions().is_empty());
}

/// Hostile datagrams against live state: real messages of an exchange with bytes flipped,
/// truncated or spliced, fed to both endpoints mid-session. Nothing may panic, and the
/// session must survive (unauthenticated garbage changes nothing).
#[test]
fn mutated_datagrams_never_panic_or_break_the_session() {
    let (pa, pb) = pair_configs();
    let cfg = EndpointConfig {
        fragment_size: 300,
        ..EndpointConfig::default()
    };
    let mut p = Pair::new(cfg, pa, pb);
    let s = p.a.acquire(p.now, 0, None, &mut p.ra).unwrap();
    p.run(secs(5), |_, _| false);
    let c = p.a.children(s)[0].id;
    p.a.rekey_child(p.now, s, c, &mut p.ra);
    p.run(secs(10), |_, _| false);
    let corpus = p.wire.clone();
    let mut r = SeededRng(99);
    for i in 0..20_000u64 {
        let (from_a, orig) = &corpus[r.below(corpus.len() as u64) as usize];
        let mut m = orig.clone();
        match i % 4 {
            0 => {
                for _ in 0..1 + r.below(4) {
                    let k = r.below(m.len() as u64) as usize;
                    m[k] ^= 1 << r.below(8);
                }
            }
            1 => m.truncate(r.below(m.len() as u64) as usize),
            2 => {
                let k = r.below(m.len() as u64) as usize;
                m[k] = r.next() as u8;
                m.extend((0..r.below(64)).map(|_| r.next() as u8));
            }
            _ => {
                // Header fields rewritten to reach deeper states (length kept honest).
                if m.len() >= 28 {
                    let off = if m.starts_with(&[0, 0, 0, 0]) { 4 } else { 0 };
                    if m.len() >= off + 28 {
                        m[off + 18] = 34 + r.below(4) as u8;
                        m[off + 19] ^= 0x20;
                    }
                }
            }
        }
        let (from, to) = if *from_a {
            (p.a_addr, p.b_addr)
        } else {
            (p.b_addr, p.a_addr)
        };
        let port = if m.starts_with(&[0, 0, 0, 0]) {
            4500
        } else {
            500
        };
        let (mut from, mut to) = (from, to);
        from.set_port(port);
        to.set_port(port);
        if *from_a {
            p.b.handle_datagram(p.now, from, to, &m, &mut p.rb);
        } else {
            p.a.handle_datagram(p.now, from, to, &m, &mut p.ra);
        }
        while p.a.poll_output().is_some() {}
        while p.b.poll_output().is_some() {}
    }
    assert!(p.a.is_established(s));
    let c = p.a.children(s)[0].id;
    p.a.rekey_child(p.now, s, c, &mut p.ra);
    p.run(secs(20), |_, _| false);
    assert_eq!(p.a.children(s).len(), 1);
}
