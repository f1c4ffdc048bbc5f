//! Traffic selector narrowing (RFC 7296 §2.9): the responder answers with the
//! intersection of what was proposed and what its policy allows.

use wire::ikev2::TrafficSelector;

fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    let (
        TrafficSelector::Range {
            ip_protocol: pa,
            start_port: spa,
            end_port: epa,
            start: sa,
            end: ea,
        },
        TrafficSelector::Range {
            ip_protocol: pb,
            start_port: spb,
            end_port: epb,
            start: sb,
            end: eb,
        },
    ) = (a, b)
    else {
        return None;
    };
    if sa.is_ipv4() != sb.is_ipv4() {
        return None;
    }
    let proto = match (*pa, *pb) {
        (0, p) | (p, 0) => p,
        (x, y) if x == y => x,
        _ => return None,
    };
    let (sp, ep) = ((*spa).max(*spb), (*epa).min(*epb));
    let (s, e) = ((*sa).max(*sb), (*ea).min(*eb));
    (sp <= ep && s <= e).then_some(TrafficSelector::Range {
        ip_protocol: proto,
        start_port: sp,
        end_port: ep,
        start: s,
        end: e,
    })
}

/// The parts of `proposed` that `allowed` permits, without duplicates.
pub(crate) fn narrow(
    proposed: &[TrafficSelector],
    allowed: &[TrafficSelector],
) -> Vec<TrafficSelector> {
    let mut out: Vec<TrafficSelector> = Vec::new();
    for p in proposed {
        for a in allowed {
            if let Some(i) = intersect(p, a)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
    }
    out
}

/// True when every selector of `narrowed` lies inside one of `proposed` (the initiator's
/// check of the responder's answer).
pub(crate) fn within(narrowed: &[TrafficSelector], proposed: &[TrafficSelector]) -> bool {
    !narrowed.is_empty()
        && narrowed
            .iter()
            .all(|n| proposed.iter().any(|p| intersect(n, p).as_ref() == Some(n)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn r(proto: u8, sp: u16, ep: u16, s: &str, e: &str) -> TrafficSelector {
        TrafficSelector::Range {
            ip_protocol: proto,
            start_port: sp,
            end_port: ep,
            start: s.parse::<IpAddr>().unwrap(),
            end: e.parse::<IpAddr>().unwrap(),
        }
    }

    #[test]
    fn narrows_to_the_overlap() {
        let proposed = [r(0, 0, 65535, "10.0.0.0", "10.0.255.255")];
        let allowed = [
            r(6, 80, 443, "10.0.1.0", "10.0.1.255"),
            r(0, 0, 65535, "::", "::1"),
        ];
        let n = narrow(&proposed, &allowed);
        assert_eq!(n, vec![r(6, 80, 443, "10.0.1.0", "10.0.1.255")]);
        assert!(within(&n, &proposed));
        assert!(!within(&proposed, &n));
        assert!(narrow(&proposed, &[r(17, 0, 65535, "10.1.0.0", "10.1.0.9")]).is_empty());
        assert!(
            narrow(
                &[r(6, 0, 10, "1.1.1.1", "1.1.1.1")],
                &[r(17, 0, 10, "1.1.1.1", "1.1.1.1")]
            )
            .is_empty()
        );
    }
}
