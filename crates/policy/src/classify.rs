//! Per-packet classification: (5-tuple, direction) to the first specific filter in
//! compiled order, and through it to (rule, action).
//!
//! Tuple space search: specific filters are grouped by their "shape" (source prefix
//! length, destination prefix length, and which of protocol, source port and destination
//! port are exact). Within a shape every filter is an exact key after masking, so one
//! hash probe answers "which filter of this shape matches, and the best-ranked one". A
//! lookup masks the packet once per shape; shapes are visited in order of the best rank
//! they hold and the search stops as soon as no later shape can beat the match found.
//! The cost grows with the number of distinct shapes (a few dozen in practice), not with
//! the number of filters. `explain` uses a plain scan instead, to list every match.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::IpAddr;

use serde::Serialize;

use crate::address::{Prefix, mask};
use crate::compile::{Compiled, CompiledRule, Direction, SpecificFilter};
use crate::model::{ActionKind, Protocol};

/// A packet as the classifier sees it. Ports are 0 for protocols without ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Packet {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub direction: Direction,
}

impl std::fmt::Display for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {}:{} -> {}:{}",
            self.direction,
            Protocol::Number(self.protocol),
            self.src,
            self.src_port,
            self.dst,
            self.dst_port
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    src: u128,
    dst: u128,
    /// protocol << 32 | src_port << 16 | dst_port, wildcards zeroed.
    rest: u64,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64((self.src as u64) ^ ((self.src >> 64) as u64).rotate_left(17));
        h.write_u64((self.dst as u64) ^ ((self.dst >> 64) as u64).rotate_left(29));
        h.write_u64(self.rest);
    }
}

/// A small multiply-rotate hasher with a final avalanche: the keys are not attacker-chosen
/// table entries (the administrator writes the filters), and SipHash would double the
/// cost of a probe.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        // Murmur3's 64-bit finaliser spreads the high bits into the low ones the table uses.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

type Table = HashMap<Key, u32, BuildHasherDefault<KeyHasher>>;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    src_len: u8,
    dst_len: u8,
    protocol: bool,
    src_port: bool,
    dst_port: bool,
}

struct Group {
    src_mask: u128,
    dst_mask: u128,
    rest_mask: u64,
    /// Best (lowest) rank in this group.
    min_rank: u32,
    table: Table,
}

/// The match of a packet: the specific filter and its rule.
#[derive(Clone, Copy, Debug)]
pub struct Match<'a> {
    /// Position of the filter in [`Compiled::filters`] (0 = first, highest precedence).
    pub rank: usize,
    pub filter: &'a SpecificFilter,
    pub rule: &'a CompiledRule,
}

/// A classifier built from compiled filters.
pub struct Classifier {
    compiled: Compiled,
    /// Per direction, groups sorted by `min_rank`.
    groups: [Vec<Group>; 2],
}

fn rest(protocol: u8, src_port: u16, dst_port: u16) -> u64 {
    (u64::from(protocol) << 32) | (u64::from(src_port) << 16) | u64::from(dst_port)
}

impl Classifier {
    pub fn new(compiled: Compiled) -> Classifier {
        let mut by_shape: [HashMap<Shape, Group>; 2] = [HashMap::new(), HashMap::new()];
        for (rank, f) in compiled.filters.iter().enumerate() {
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            let shape = Shape {
                src_len: f.src.len,
                dst_len: f.dst.len,
                protocol: f.protocol.is_some(),
                src_port: f.src_port.is_some(),
                dst_port: f.dst_port.is_some(),
            };
            let rest_mask = (if shape.protocol { 0xff << 32 } else { 0 })
                | (if shape.src_port { 0xffff << 16 } else { 0 })
                | (if shape.dst_port { 0xffff } else { 0 });
            let g = by_shape[f.direction.index()]
                .entry(shape)
                .or_insert_with(|| Group {
                    src_mask: mask(shape.src_len),
                    dst_mask: mask(shape.dst_len),
                    rest_mask,
                    min_rank: rank,
                    table: Table::default(),
                });
            let key = Key {
                src: f.src.bits,
                dst: f.dst.bits,
                rest: rest(
                    f.protocol.unwrap_or(0),
                    f.src_port.unwrap_or(0),
                    f.dst_port.unwrap_or(0),
                ),
            };
            // Filters arrive in rank order: the first one for a key is the best.
            g.table.entry(key).or_insert(rank);
            g.min_rank = g.min_rank.min(rank);
        }
        let groups = by_shape.map(|m| {
            let mut v: Vec<Group> = m.into_values().collect();
            v.sort_by_key(|g| g.min_rank);
            v
        });
        Classifier { compiled, groups }
    }

    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }

    /// Number of distinct filter shapes (the per-packet cost driver).
    pub fn shapes(&self) -> usize {
        self.groups[0].len() + self.groups[1].len()
    }

    /// The first filter in compiled order that matches the packet, or `None` (no rule:
    /// the packet passes in the clear, the default response rule may still answer IKE).
    pub fn classify(&self, p: &Packet) -> Option<Match<'_>> {
        let src = Prefix::key(p.src);
        let dst = Prefix::key(p.dst);
        let r = rest(p.protocol, p.src_port, p.dst_port);
        let mut best = u32::MAX;
        for g in &self.groups[p.direction.index()] {
            if g.min_rank >= best {
                break;
            }
            let k = Key {
                src: src & g.src_mask,
                dst: dst & g.dst_mask,
                rest: r & g.rest_mask,
            };
            if let Some(&rank) = g.table.get(&k) {
                best = best.min(rank);
            }
        }
        (best != u32::MAX).then(|| self.at(best as usize))
    }

    fn at(&self, rank: usize) -> Match<'_> {
        let filter = &self.compiled.filters[rank];
        Match {
            rank,
            filter,
            rule: &self.compiled.rules[filter.rule],
        }
    }

    /// Every matching filter in compiled order (a linear scan, for `explain` and tests).
    pub fn all_matches(&self, p: &Packet) -> Vec<Match<'_>> {
        (0..self.compiled.filters.len())
            .filter(|&i| {
                let f = &self.compiled.filters[i];
                f.direction == p.direction && f.matches(p)
            })
            .map(|i| self.at(i))
            .collect()
    }

    /// Says which rule and action a packet meets, and why.
    pub fn explain(&self, p: &Packet, default_response_active: bool) -> Explanation {
        let all = self.all_matches(p);
        let fast = self.classify(p).map(|m| m.rank);
        debug_assert_eq!(fast, all.first().map(|m| m.rank));
        let describe = |m: &Match<'_>| MatchSummary {
            rank: m.rank,
            filter: m.filter.to_string(),
            weight: m.filter.weight,
            mirror: m.filter.mirror,
            filter_index: m.filter.filter_index,
            store: m.rule.store,
            policy: m.rule.policy.clone(),
            rule: m.rule.rule.clone(),
            rule_id: m.rule.rule_id,
            filter_list: m.rule.filter_list.clone(),
            filter_action: m.rule.filter_action.clone(),
            action: m.rule.action,
        };
        let mut reasons = Vec::new();
        let verdict = match all.first() {
            None => {
                reasons.push("no specific filter matches this packet".to_string());
                if default_response_active {
                    reasons.push(
                        "the default response rule is active: if the peer starts IKE, Oakley responds and the traffic is secured"
                            .to_string(),
                    );
                }
                "passes in the clear (no rule applies)".to_string()
            }
            Some(m) => {
                let r = m.rule;
                reasons.push(format!(
                    "first match in specificity order: {} (weight {}), filter {}{} of filter list \"{}\"",
                    m.filter,
                    m.filter.weight,
                    m.filter.filter_index,
                    if m.filter.mirror { " (mirrored)" } else { "" },
                    r.filter_list
                ));
                match r.store {
                    Some(s) => reasons.push(format!(
                        "rule \"{}\" (id {}) of policy \"{}\" from the {s}",
                        r.rule, r.rule_id, r.policy
                    )),
                    None => reasons
                        .push("built-in exemption: only IKE is exempt by default".to_string()),
                }
                for other in all.iter().skip(1) {
                    reasons.push(format!(
                        "also matches, but ranks lower: {} (weight {}) of rule \"{}\" ({})",
                        other.filter,
                        other.filter.weight,
                        other.rule.rule,
                        other.rule.filter_action
                    ));
                }
                verdict(r, p.direction)
            }
        };
        Explanation {
            packet: *p,
            matched: all.first().map(describe),
            shadowed: all.iter().skip(1).map(describe).collect(),
            verdict,
            reasons,
        }
    }
}

fn verdict(r: &CompiledRule, dir: Direction) -> String {
    let mode = match r.tunnel {
        Some(t) => format!("tunnel mode to {t}"),
        None => "transport mode".to_string(),
    };
    let methods = r
        .methods
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    match (r.action, dir) {
        (ActionKind::Permit, _) => format!(
            "permitted in the clear by filter action \"{}\"",
            r.filter_action
        ),
        (ActionKind::Block, _) => {
            format!("blocked (dropped) by filter action \"{}\"", r.filter_action)
        }
        (ActionKind::Negotiate, Direction::Outbound) => format!(
            "secured: IKE negotiates {mode} with methods {methods}{}; {}",
            if r.qm_pfs { " and quick mode PFS" } else { "" },
            if r.soft {
                "falls back to the clear if the peer does not answer IKE (soft)"
            } else {
                "dropped if negotiation fails"
            }
        ),
        (ActionKind::Negotiate, Direction::Inbound) => {
            if r.inpass {
                format!(
                    "accepted if it arrives unsecured (inpass), but the reply is secured: IKE negotiates {mode} with methods {methods}"
                )
            } else if r.soft {
                format!(
                    "must arrive secured ({mode}, methods {methods}) unless the peer is not IPsec-aware (soft)"
                )
            } else {
                format!("must arrive secured ({mode}, methods {methods}); unsecured it is dropped")
            }
        }
    }
}

/// One matching filter, described for people and `--json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchSummary {
    pub rank: usize,
    pub filter: String,
    pub weight: u32,
    pub mirror: bool,
    pub filter_index: usize,
    pub store: Option<crate::store::StoreLocation>,
    pub policy: String,
    pub rule: String,
    pub rule_id: usize,
    pub filter_list: String,
    pub filter_action: String,
    pub action: ActionKind,
}

/// The answer of `explain`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub packet: Packet,
    pub matched: Option<MatchSummary>,
    pub shadowed: Vec<MatchSummary>,
    pub verdict: String,
    pub reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;
    use crate::model::Store;
    use crate::predefined;
    use crate::resolver::HostConfig;
    use crate::store::StoreLocation;

    fn pkt(src: &str, dst: &str, protocol: u8, sp: u16, dp: u16, direction: Direction) -> Packet {
        Packet {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol,
            src_port: sp,
            dst_port: dp,
            direction,
        }
    }

    #[test]
    fn server_policy_classification() {
        let mut s = Store::default();
        predefined::restore(&mut s, 0);
        s.assigned = Some(predefined::SERVER.into());
        let host = HostConfig {
            me: vec!["10.0.0.5".parse().unwrap()],
            ..HostConfig::default()
        };
        let c = Classifier::new(compile(&[(Some(StoreLocation::Local), &s)], &host));
        let m = c
            .classify(&pkt(
                "10.0.0.5",
                "10.0.0.9",
                6,
                40000,
                80,
                Direction::Outbound,
            ))
            .unwrap();
        assert_eq!(m.rule.filter_action, predefined::REQUEST_SECURITY);
        let m = c
            .classify(&pkt("10.0.0.9", "10.0.0.5", 1, 0, 0, Direction::Inbound))
            .unwrap();
        assert_eq!(m.rule.filter_action, predefined::PERMIT);
        let m = c
            .classify(&pkt(
                "10.0.0.9",
                "10.0.0.5",
                17,
                500,
                500,
                Direction::Inbound,
            ))
            .unwrap();
        assert_eq!(m.rule.rule, crate::compile::IKE_EXEMPTION);
        // Not from this host: no rule.
        assert!(
            c.classify(&pkt("10.0.0.7", "10.0.0.9", 6, 1, 2, Direction::Outbound))
                .is_none()
        );
        let e = c.explain(
            &pkt("10.0.0.9", "10.0.0.5", 6, 40000, 445, Direction::Inbound),
            true,
        );
        assert!(e.verdict.contains("inpass"), "{}", e.verdict);
        assert!(
            e.reasons[1].contains("Server (Request Security)"),
            "{:?}",
            e.reasons
        );
    }
}
