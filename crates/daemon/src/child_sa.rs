//! Child SAs negotiated by IKE, made ready for the data plane: keyed ESP transforms (keys
//! go from the engine's `Secret`s straight into the transforms and are not kept here),
//! byte lifetimes from the policy's quick mode methods, and the traffic selectors as data
//! plane selectors (IKEv2 address ranges split into prefixes).

use std::net::IpAddr;

use crypto::registry;
use esp::lifetime::{Lifetime, Limits};
use esp::replay::{DEFAULT_SIZE, ReplayWindow};
use esp::sa::Accounted;
use esp::{EspError, Inbound, Mode as EspMode, Outbound, Transform};
use ike::{ChildSaInstall, Mode};
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use wire::ikev2::TrafficSelector;

use crate::selector::Selector;

/// Upper bound of selectors one child SA turns into (ranges that are not prefixes split
/// into several; a hostile peer gets no more than this).
pub const MAX_SELECTORS: usize = 64;

/// The prefixes covering an address range (empty for mixed families or start > end).
pub fn range_nets(start: IpAddr, end: IpAddr) -> Vec<IpNet> {
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) if s <= e => Ipv4Subnets::new(s, e, 0)
            .take(MAX_SELECTORS)
            .map(IpNet::V4)
            .collect(),
        (IpAddr::V6(s), IpAddr::V6(e)) if s <= e => Ipv6Subnets::new(s, e, 0)
            .take(MAX_SELECTORS)
            .map(IpNet::V6)
            .collect(),
        _ => Vec::new(),
    }
}

/// The data plane selectors of a child SA: every pair of our and the peer's selectors of
/// one family (at most [`MAX_SELECTORS`]).
pub fn selectors(local: &[TrafficSelector], remote: &[TrafficSelector]) -> Vec<Selector> {
    let mut out = Vec::new();
    for l in local {
        let TrafficSelector::Range {
            ip_protocol: lp,
            start_port: lsp,
            end_port: lep,
            start: ls,
            end: le,
        } = l
        else {
            continue;
        };
        for r in remote {
            let TrafficSelector::Range {
                ip_protocol: rp,
                start_port: rsp,
                end_port: rep,
                start: rs,
                end: re,
            } = r
            else {
                continue;
            };
            let protocol = match (*lp, *rp) {
                (0, 0) => None,
                (0, p) | (p, 0) => Some(p),
                (a, b) if a == b => Some(a),
                _ => continue,
            };
            if lsp > lep || rsp > rep {
                continue;
            }
            for ln in range_nets(*ls, *le) {
                for rn in range_nets(*rs, *re) {
                    if ln.addr().is_ipv4() != rn.addr().is_ipv4() {
                        continue;
                    }
                    if out.len() >= MAX_SELECTORS {
                        return out;
                    }
                    let s = Selector {
                        local: ln,
                        remote: rn,
                        protocol,
                        local_ports: *lsp..=*lep,
                        remote_ports: *rsp..=*rep,
                    };
                    if !out.contains(&s) {
                        out.push(s);
                    }
                }
            }
        }
    }
    out
}

/// The two directions of a negotiated ESP child SA, keyed.
pub struct Keyed {
    pub inbound: Inbound,
    pub outbound: Outbound,
}

/// Soft (90%) and hard byte limits from a kilobyte lifetime (0: none).
fn byte_limits(kb: u64) -> (Limits, Limits) {
    if kb == 0 {
        return (Limits::default(), Limits::default());
    }
    let hard = kb.saturating_mul(1024);
    (
        Limits {
            bytes: Some(hard / 10 * 9),
            ..Limits::default()
        },
        Limits {
            bytes: Some(hard),
            ..Limits::default()
        },
    )
}

/// Keys both directions of `c`. Time limits stay with the IKE engine (it rekeys and
/// deletes on time); the data plane counts bytes against `lifetime_kb` and raises the soft
/// event the daemon turns into a rekey.
pub fn key(c: &ChildSaInstall, lifetime_kb: u64) -> Result<Keyed, EspError> {
    let s = &c.suite;
    let encryption = registry::encryption(s.encr, s.key_bits)?;
    let integrity = s.integ.map(registry::integrity).transpose()?;
    let transform = |k: &ike::DirectionKeys| {
        Transform::new(
            encryption,
            k.encr.expose(),
            integrity.map(|a| (a, k.integ.expose())),
        )
    };
    let mode = match c.mode {
        Mode::Transport => EspMode::Transport,
        Mode::Tunnel => EspMode::Tunnel,
    };
    let (soft, hard) = byte_limits(lifetime_kb);
    let replay = ReplayWindow::new(DEFAULT_SIZE, s.esn)?;
    Ok(Keyed {
        inbound: Inbound::new(c.inbound_spi, replay, transform(&c.inbound)?)
            .with(mode, Lifetime::new(soft, hard, 0)),
        outbound: Outbound::new(c.outbound_spi, s.esn, transform(&c.outbound)?)
            .with(mode, Lifetime::new(soft, hard, 0)),
    })
}

/// The Wireshark `esp_sa` lines of both directions (outbound first).
pub fn esp_sa_lines(c: &ChildSaInstall) -> Vec<String> {
    let s = &c.suite;
    let Ok(encryption) = registry::encryption(s.encr, s.key_bits) else {
        return Vec::new();
    };
    let integrity = s.integ.and_then(|i| registry::integrity(i).ok());
    let (l, r) = (c.local.ip(), c.remote.ip());
    [
        (l, r, c.outbound_spi, &c.outbound),
        (r, l, c.inbound_spi, &c.inbound),
    ]
    .into_iter()
    .filter_map(|(src, dst, spi, k)| {
        esp::keyexport::wireshark_esp_sa(
            src,
            dst,
            spi,
            &encryption,
            k.encr.expose(),
            integrity.as_ref().map(|a| (a, k.integ.expose())),
        )
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use esp::lifetime::LifetimeEvent;

    fn r(proto: u8, sp: u16, ep: u16, s: &str, e: &str) -> TrafficSelector {
        TrafficSelector::Range {
            ip_protocol: proto,
            start_port: sp,
            end_port: ep,
            start: s.parse().unwrap(),
            end: e.parse().unwrap(),
        }
    }

    #[test]
    fn ranges_become_prefixes_and_pairs() {
        assert_eq!(
            range_nets("10.0.0.0".parse().unwrap(), "10.0.0.255".parse().unwrap()),
            vec!["10.0.0.0/24".parse::<IpNet>().unwrap()]
        );
        assert_eq!(
            range_nets("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()).len(),
            2
        );
        assert!(range_nets("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap()).is_empty());
        assert!(range_nets("10.0.0.1".parse().unwrap(), "::1".parse().unwrap()).is_empty());
        let s = selectors(
            &[
                r(0, 0, 65535, "10.1.0.0", "10.1.0.255"),
                r(0, 0, 65535, "::", "::"),
            ],
            &[r(6, 80, 80, "10.2.0.7", "10.2.0.7")],
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].protocol, Some(6));
        assert_eq!(s[0].remote_ports, 80..=80);
        // Conflicting protocols give nothing; a hostile range is capped.
        assert!(
            selectors(
                &[r(17, 0, 65535, "10.1.0.1", "10.1.0.1")],
                &[r(6, 0, 65535, "10.2.0.1", "10.2.0.1")]
            )
            .is_empty()
        );
        let many = selectors(
            &[r(0, 0, 65535, "10.0.0.1", "10.0.255.254")],
            &[r(0, 0, 65535, "10.9.0.1", "10.9.255.254")],
        );
        assert_eq!(many.len(), MAX_SELECTORS);
    }

    fn install(kb_keys: u8) -> ChildSaInstall {
        let k = |b: u8| ike::DirectionKeys {
            encr: crypto::Secret::new(vec![b; 20]),
            integ: crypto::Secret::new(Vec::new()),
        };
        ChildSaInstall {
            session: 1,
            child: 1,
            replaces: None,
            mode: Mode::Transport,
            suite: ike::ChildSuite {
                encr: registry::encr::AES_GCM_16,
                key_bits: Some(128),
                integ: None,
                dh: None,
                esn: false,
            },
            inbound_spi: 0x1000,
            outbound_spi: 0x2000,
            inbound: k(kb_keys),
            outbound: k(kb_keys + 1),
            local_ts: vec![r(0, 0, 65535, "10.0.0.1", "10.0.0.1")],
            remote_ts: vec![r(0, 0, 65535, "10.0.0.2", "10.0.0.2")],
            local: "10.0.0.1:500".parse().unwrap(),
            remote: "10.0.0.2:500".parse().unwrap(),
            encap: false,
            hard_lifetime_secs: 3600,
        }
    }

    #[test]
    fn byte_lifetime_raises_rekey_then_expiry() {
        let c = install(7);
        // 1 KB lifetime: soft at 921 bytes of payload, hard at 1024.
        let mut k = key(&c, 1).unwrap();
        assert_eq!(k.outbound.spi(), 0x2000);
        assert_eq!(k.inbound.spi(), 0x1000);
        let mut out = vec![0u8; 2048];
        let payload = [0u8; 400];
        k.outbound.seal(17, &payload, &mut out).unwrap();
        assert_eq!(k.outbound.poll_event(), None);
        k.outbound.seal(17, &payload, &mut out).unwrap();
        k.outbound.seal(17, &payload, &mut out).unwrap();
        assert_eq!(k.outbound.poll_event(), Some(LifetimeEvent::Expired));
        assert!(
            k.outbound.seal(17, &payload, &mut out).is_err(),
            "hard limit"
        );
        let mut k = key(&c, 1).unwrap();
        k.outbound.seal(17, &[0u8; 950], &mut out).unwrap();
        assert_eq!(k.outbound.poll_event(), Some(LifetimeEvent::RekeyNeeded));
        // No kilobyte lifetime: no limit.
        let mut k = key(&c, 0).unwrap();
        for _ in 0..10 {
            k.outbound.seal(17, &payload, &mut out).unwrap();
        }
        assert_eq!(k.outbound.poll_event(), None);
        // Export lines name both directions, outbound first.
        let lines = esp_sa_lines(&c);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].contains("\"10.0.0.1\",\"10.0.0.2\",\"0x00002000\""),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("\"10.0.0.2\",\"10.0.0.1\",\"0x00001000\""),
            "{}",
            lines[1]
        );
    }
}
