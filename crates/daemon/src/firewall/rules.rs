//! nftables rulesets, built as the `nftables` crate's typed JSON schema.
//!
//! Table `inet <name>` with base chains `input`, `output` and (for policy with tunnel
//! rules, and in block mode) `forward`, all at the filter priority with policy accept:
//! like Windows, traffic no filter covers passes. Every ruleset starts with the same
//! preamble, so the daemon can never lock itself out of the data path:
//!
//! - loopback passes;
//! - what comes out of the TUN device passes (the data plane decrypted it and checked it
//!   against its SA's selectors), and what goes into it passes (it is about to be sealed);
//! - packets carrying the daemon's mark pass (sealed packets, re-sent cleartext);
//! - ESP (50), AH (51) and IKE (UDP 500/4500, also ESP-in-UDP) pass;
//! - IPv6 neighbour and router discovery pass (ICMPv6 133-137; without them IPv6 has no
//!   link at all, which is also why later Windows versions exempt them).
//!
//! Policy rules follow, in first-match order, each [`FwRule`] becoming one to three nft
//! rules. For cleartext:
//!
//! | enforcement | inbound | outbound (not via TUN or the mark) |
//! |---|---|---|
//! | permit | accept | accept |
//! | block | drop | drop |
//! | require | fallback peers accept, else drop | fallback peers accept, else drop |
//! | request (inpass) | accept | fallback peers accept, else drop |
//!
//! "Fallback peers" are the sets `fallback4`/`fallback6` (timeout [`FALLBACK_SECS`]); only
//! rules with `fallback` (the filter action's "allow unsecured communication with
//! non-IPsec-aware computers") consult them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use control::{BootExemption, BootMode, ExemptDirection, Exemptions};
use ipnet::IpNet;
use nftables::batch::Batch;
use nftables::expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix};
use nftables::schema::{Chain, NfListObject, Nftables, Rule, Set, SetFlag, SetType, SetTypeValue};
use nftables::stmt::{Counter, Match, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::{Direction, Enforcement, FALLBACK_SECS, FwRule, Ruleset, Selector, Setup};

const FAMILY: NfFamily = NfFamily::INet;
/// ICMPv6 router solicitation .. redirect (RFC 4861).
const ND_TYPES: [u32; 5] = [133, 134, 135, 136, 137];

type Expr = Expression<'static>;
type Stmt = Statement<'static>;

fn s(v: impl Into<String>) -> Expr {
    Expression::String(Cow::Owned(v.into()))
}

fn payload(protocol: &'static str, field: &'static str) -> Expr {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: protocol.into(),
            field: field.into(),
        },
    )))
}

fn meta(key: MetaKey) -> Expr {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

fn set_of(items: Vec<Expr>) -> Expr {
    Expression::Named(NamedExpression::Set(
        items
            .into_iter()
            .map(nftables::expr::SetItem::Element)
            .collect(),
    ))
}

fn eq(left: Expr, right: Expr) -> Stmt {
    Statement::Match(Match {
        left,
        right,
        op: Operator::EQ,
    })
}

fn accept() -> Stmt {
    Statement::Accept(None)
}

fn counted_drop() -> Vec<Stmt> {
    vec![
        Statement::Counter(Counter::Anonymous(None)),
        Statement::Drop(None),
    ]
}

fn net(n: IpNet) -> Expr {
    if n.prefix_len() == n.max_prefix_len() {
        s(n.addr().to_string())
    } else {
        Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(s(n.network().to_string())),
            len: u32::from(n.prefix_len()),
        }))
    }
}

fn l4proto(p: u8) -> Stmt {
    eq(meta(MetaKey::L4proto), Expression::Number(u32::from(p)))
}

/// The transport header's port field: `tcp`/`udp` where known, else the raw `th`.
fn port_field(protocol: Option<u8>, field: &'static str) -> Expr {
    match protocol {
        Some(6) => payload("tcp", field),
        Some(17) => payload("udp", field),
        _ => payload("th", field),
    }
}

/// Matches for a selector, per address family it can apply to (one entry, or two for a
/// selector without addresses, which is written once for both families).
fn selector_matches(sel: &Selector) -> Vec<(Option<bool>, Vec<Stmt>)> {
    let v4 = match (sel.src, sel.dst) {
        (Some(IpNet::V4(_)), _) | (_, Some(IpNet::V4(_))) => Some(true),
        (Some(IpNet::V6(_)), _) | (_, Some(IpNet::V6(_))) => Some(false),
        _ => None,
    };
    let mut m = Vec::new();
    let fam = if v4 == Some(false) { "ip6" } else { "ip" };
    if let Some(src) = sel.src {
        m.push(eq(payload(fam, "saddr"), net(src)));
    }
    if let Some(dst) = sel.dst {
        m.push(eq(payload(fam, "daddr"), net(dst)));
    }
    if let Some(p) = sel.protocol {
        m.push(l4proto(p));
    }
    if let Some(p) = sel.src_port {
        m.push(eq(
            port_field(sel.protocol, "sport"),
            Expression::Number(u32::from(p)),
        ));
    }
    if let Some(p) = sel.dst_port {
        m.push(eq(
            port_field(sel.protocol, "dport"),
            Expression::Number(u32::from(p)),
        ));
    }
    vec![(v4, m)]
}

struct Builder {
    batch: Batch<'static>,
    table: String,
}

impl Builder {
    fn new(setup: &Setup) -> Builder {
        Builder {
            batch: Batch::new(),
            table: setup.table.clone(),
        }
    }

    fn table_obj(&self) -> NfListObject<'static> {
        NfListObject::Table(nftables::schema::Table {
            family: FAMILY,
            name: self.table.clone().into(),
            handle: None,
        })
    }

    /// `add table; delete table; add table`: replaces whatever was there, atomically.
    fn fresh_table(&mut self) {
        let t = self.table_obj();
        self.batch.add(t.clone());
        self.batch.delete(t.clone());
        self.batch.add(t);
    }

    fn chain(&mut self, name: &'static str, hook: NfHook) {
        self.batch.add(NfListObject::Chain(Chain {
            family: FAMILY,
            table: self.table.clone().into(),
            name: name.into(),
            _type: Some(NfChainType::Filter),
            hook: Some(hook),
            prio: Some(0),
            policy: Some(NfChainPolicy::Accept),
            ..Chain::default()
        }));
    }

    fn fallback_sets(&mut self) {
        for (name, ty) in [
            ("fallback4", SetType::Ipv4Addr),
            ("fallback6", SetType::Ipv6Addr),
        ] {
            self.batch.add(NfListObject::Set(Box::new(Set {
                family: FAMILY,
                table: self.table.clone().into(),
                name: name.into(),
                set_type: SetTypeValue::Single(ty),
                flags: Some(HashSet::from([SetFlag::Timeout])),
                timeout: Some(FALLBACK_SECS),
                ..Set::default()
            })));
        }
    }

    fn rule(&mut self, chain: &'static str, expr: Vec<Stmt>, comment: Option<&str>) {
        self.batch.add(NfListObject::Rule(Rule {
            family: FAMILY,
            table: self.table.clone().into(),
            chain: chain.into(),
            expr: expr.into(),
            comment: comment.map(|c| Cow::Owned(truncate_comment(c))),
            ..Rule::default()
        }));
    }

    /// The rules every ruleset starts with (see the module documentation).
    fn preamble(&mut self, setup: &Setup, chain: &'static str) {
        let (dev_key, other_dev) = match chain {
            "input" => (MetaKey::Iifname, None),
            "output" => (MetaKey::Oifname, None),
            _ => (MetaKey::Iifname, Some(MetaKey::Oifname)),
        };
        if chain != "forward" {
            self.rule(chain, vec![eq(meta(dev_key), s("lo")), accept()], None);
        }
        if let Some(tun) = &setup.tun {
            self.rule(
                chain,
                vec![eq(meta(dev_key), s(tun.clone())), accept()],
                Some("data plane (decrypted or to be sealed)"),
            );
            if let Some(k) = other_dev {
                self.rule(chain, vec![eq(meta(k), s(tun.clone())), accept()], None);
            }
        }
        if let (Some(mark), true) = (setup.mark, chain == "output") {
            self.rule(
                chain,
                vec![eq(meta(MetaKey::Mark), Expression::Number(mark)), accept()],
                Some("sent by oakleyd"),
            );
        }
        self.rule(
            chain,
            vec![
                eq(
                    meta(MetaKey::L4proto),
                    set_of(vec![Expression::Number(50), Expression::Number(51)]),
                ),
                accept(),
            ],
            Some("ESP and AH"),
        );
        for field in ["dport", "sport"] {
            self.rule(
                chain,
                vec![
                    eq(
                        payload("udp", field),
                        set_of(vec![Expression::Number(500), Expression::Number(4500)]),
                    ),
                    accept(),
                ],
                Some("IKE and NAT-T (always exempt)"),
            );
        }
        self.rule(
            chain,
            vec![
                eq(
                    payload("icmpv6", "type"),
                    set_of(ND_TYPES.iter().map(|t| Expression::Number(*t)).collect()),
                ),
                accept(),
            ],
            Some("IPv6 neighbour and router discovery"),
        );
    }

    fn exemptions(&mut self, chain: &'static str, ex: &Exemptions) {
        if ex.kerberos {
            for field in ["dport", "sport"] {
                self.rule(
                    chain,
                    vec![
                        eq(
                            meta(MetaKey::L4proto),
                            set_of(vec![Expression::Number(6), Expression::Number(17)]),
                        ),
                        eq(payload("th", field), Expression::Number(88)),
                        accept(),
                    ],
                    Some("Kerberos (ipsecexempt)"),
                );
            }
        }
        if ex.rsvp {
            self.rule(
                chain,
                vec![l4proto(46), accept()],
                Some("RSVP (ipsecexempt)"),
            );
        }
        if ex.multicast_broadcast {
            let c = Some("multicast and broadcast (ipsecexempt)");
            if chain == "input" {
                self.rule(
                    chain,
                    vec![
                        eq(
                            meta(MetaKey::Pkttype),
                            set_of(vec![s("broadcast"), s("multicast")]),
                        ),
                        accept(),
                    ],
                    c,
                );
            }
            self.rule(
                chain,
                vec![
                    eq(
                        payload("ip", "daddr"),
                        set_of(vec![
                            net("224.0.0.0/4".parse().expect("literal")),
                            s("255.255.255.255"),
                        ]),
                    ),
                    accept(),
                ],
                c,
            );
            self.rule(
                chain,
                vec![
                    eq(
                        payload("ip6", "daddr"),
                        net("ff00::/8".parse().expect("literal")),
                    ),
                    accept(),
                ],
                c,
            );
        }
    }

    /// One policy rule in `chain`, judged as `dir` traffic.
    fn policy_rule(&mut self, chain: &'static str, r: &FwRule) {
        let comment = Some(r.comment.as_str());
        let inbound = r.direction == Direction::Inbound;
        for (v4, m) in selector_matches(&r.selector) {
            let with = |extra: Vec<Stmt>| {
                let mut v = m.clone();
                v.extend(extra);
                v
            };
            match (r.enforcement, inbound) {
                (Enforcement::Permit, _) | (Enforcement::Request, true) => {
                    self.rule(chain, with(vec![accept()]), comment);
                }
                (Enforcement::Block, _) => self.rule(chain, with(counted_drop()), comment),
                (Enforcement::Require, _) | (Enforcement::Request, false) => {
                    if r.fallback {
                        let peer = if inbound { "saddr" } else { "daddr" };
                        let fams: &[(&str, &str)] = match v4 {
                            Some(true) => &[("ip", "@fallback4")],
                            Some(false) => &[("ip6", "@fallback6")],
                            None => &[("ip", "@fallback4"), ("ip6", "@fallback6")],
                        };
                        for (fam, set) in fams {
                            self.rule(
                                chain,
                                with(vec![eq(payload(fam, peer), s(*set)), accept()]),
                                Some("fallback to clear (soft association)"),
                            );
                        }
                    }
                    self.rule(chain, with(counted_drop()), comment);
                }
            }
        }
    }
}

/// nft comments are limited to 128 bytes.
fn truncate_comment(c: &str) -> String {
    let mut out = String::new();
    for ch in c.chars() {
        if out.len() + ch.len_utf8() > 127 {
            break;
        }
        // Quotes and control characters stay out of nft's way.
        out.push(if ch == '"' || ch.is_control() {
            '\''
        } else {
            ch
        });
    }
    out
}

/// Matches for one boot exemption, for traffic in `dir` (the exemption itself when
/// `dir` is its direction, else its mirror: ports swapped).
fn exemption_match(e: &BootExemption, mirror: bool) -> Vec<Stmt> {
    let mut m = Vec::new();
    if let Some(p) = e.protocol {
        m.push(l4proto(p));
    }
    let (sp, dp) = if mirror {
        (e.dst_port, e.src_port)
    } else {
        (e.src_port, e.dst_port)
    };
    if sp != 0 {
        m.push(eq(
            port_field(e.protocol, "sport"),
            Expression::Number(u32::from(sp)),
        ));
    }
    if dp != 0 {
        m.push(eq(
            port_field(e.protocol, "dport"),
            Expression::Number(u32::from(dp)),
        ));
    }
    m
}

fn dhcp(b: &mut Builder, chain: &'static str) {
    // Client side: v4 68 <- 67 / 68 -> 67; v6 546 <- 547 / 546 -> 547.
    let pairs: [(u32, u32); 2] = if chain == "input" {
        [(67, 68), (547, 546)]
    } else {
        [(68, 67), (546, 547)]
    };
    for (sp, dp) in pairs {
        b.rule(
            chain,
            vec![
                eq(payload("udp", "sport"), Expression::Number(sp)),
                eq(payload("udp", "dport"), Expression::Number(dp)),
                accept(),
            ],
            Some("DHCP"),
        );
    }
}

/// The full transaction that installs `ruleset`.
pub fn build(setup: &Setup, ruleset: &Ruleset) -> Nftables<'static> {
    let mut b = Builder::new(setup);
    b.fresh_table();
    match ruleset {
        Ruleset::Startup { mode, exemptions } => {
            b.chain("input", NfHook::Input);
            b.chain("output", NfHook::Output);
            match mode {
                BootMode::Permit => {
                    b.rule("input", vec![accept()], Some("startup security: permit"));
                }
                BootMode::Stateful => {
                    b.rule(
                        "input",
                        vec![eq(meta(MetaKey::Iifname), s("lo")), accept()],
                        None,
                    );
                    b.rule(
                        "input",
                        vec![
                            eq(
                                Expression::Named(NamedExpression::CT(nftables::expr::CT {
                                    key: "state".into(),
                                    family: None,
                                    dir: None,
                                })),
                                set_of(vec![s("established"), s("related")]),
                            ),
                            accept(),
                        ],
                        Some("replies to traffic this host initiated"),
                    );
                    dhcp(&mut b, "input");
                    nd(&mut b, "input");
                    for e in exemptions {
                        if e.direction == ExemptDirection::Inbound {
                            b.rule(
                                "input",
                                with_accept(exemption_match(e, false)),
                                Some("boot exemption"),
                            );
                        }
                    }
                    b.rule("input", counted_drop(), Some("startup security: stateful"));
                }
                BootMode::Block => {
                    b.chain("forward", NfHook::Forward);
                    for chain in ["input", "output"] {
                        let dev = if chain == "input" {
                            MetaKey::Iifname
                        } else {
                            MetaKey::Oifname
                        };
                        b.rule(chain, vec![eq(meta(dev), s("lo")), accept()], None);
                        dhcp(&mut b, chain);
                        nd(&mut b, chain);
                        let own = if chain == "input" {
                            ExemptDirection::Inbound
                        } else {
                            ExemptDirection::Outbound
                        };
                        for e in exemptions {
                            b.rule(
                                chain,
                                with_accept(exemption_match(e, e.direction != own)),
                                Some("boot exemption"),
                            );
                        }
                        b.rule(chain, counted_drop(), Some("startup security: block"));
                    }
                    b.rule("forward", counted_drop(), Some("startup security: block"));
                }
            }
        }
        Ruleset::Policy(p) => {
            b.fallback_sets();
            b.chain("input", NfHook::Input);
            b.chain("output", NfHook::Output);
            let tunnel = p.rules.iter().any(|r| r.tunnel);
            if tunnel {
                b.chain("forward", NfHook::Forward);
            }
            for chain in ["input", "output", "forward"] {
                if chain == "forward" && !tunnel {
                    continue;
                }
                b.preamble(setup, chain);
                b.exemptions(chain, &p.exemptions);
                // A filter that applies both ways yields the same selector twice; the
                // forward chain, which sees both directions, needs it once.
                let mut seen: Vec<(&Selector, Enforcement, bool, bool)> = Vec::new();
                for r in &p.rules {
                    let wanted = match chain {
                        "input" => r.direction == Direction::Inbound,
                        "output" => r.direction == Direction::Outbound,
                        _ => r.tunnel,
                    };
                    let key = (
                        &r.selector,
                        r.enforcement,
                        r.fallback,
                        r.direction == Direction::Inbound,
                    );
                    let same_verdict = |k: &(&Selector, Enforcement, bool, bool)| {
                        k.0 == key.0
                            && k.1 == key.1
                            && k.2 == key.2
                            && (k.3 == key.3
                                || matches!(
                                    key.1,
                                    Enforcement::Permit | Enforcement::Block | Enforcement::Require
                                ))
                    };
                    if chain == "forward" && seen.iter().any(same_verdict) {
                        continue;
                    }
                    if wanted {
                        seen.push(key);
                        b.policy_rule(chain, r);
                    }
                }
            }
        }
    }
    b.batch.to_nftables()
}

fn with_accept(mut m: Vec<Stmt>) -> Vec<Stmt> {
    m.push(accept());
    m
}

fn nd(b: &mut Builder, chain: &'static str) {
    b.rule(
        chain,
        vec![
            eq(
                payload("icmpv6", "type"),
                set_of(ND_TYPES.iter().map(|t| Expression::Number(*t)).collect()),
            ),
            accept(),
        ],
        Some("IPv6 neighbour and router discovery"),
    );
}

/// The transaction that removes the table (and succeeds when it is absent).
pub fn remove(setup: &Setup) -> Nftables<'static> {
    let mut b = Builder::new(setup);
    let t = b.table_obj();
    b.batch.add(t.clone());
    b.batch.delete(t);
    b.batch.to_nftables()
}

/// Adds a peer to the fallback set of its family.
pub fn add_fallback(setup: &Setup, peer: IpAddr) -> Nftables<'static> {
    let mut b = Builder::new(setup);
    let name = if peer.is_ipv4() {
        "fallback4"
    } else {
        "fallback6"
    };
    b.batch
        .add(NfListObject::Element(nftables::schema::Element {
            family: FAMILY,
            table: setup.table.clone().into(),
            name: name.into(),
            elem: vec![s(peer.to_string())].into(),
        }));
    b.batch.to_nftables()
}

/// The JSON nft reads (`nft -j -f -`).
pub fn to_json(n: &Nftables<'_>) -> String {
    // Serializing plain strings, numbers and sequences cannot fail.
    serde_json::to_string(n).unwrap_or_default()
}

#[cfg(test)]
mod tests;
