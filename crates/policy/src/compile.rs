//! Compilation of generic filters (as written) into specific filters (MISSION Q7).
//!
//! For every active rule of every applied policy, each filter of its filter list is
//! expanded: `me` into this computer's addresses, DNS/WINS/DHCP/GATEWAY into the host's
//! servers, DNS names into their addresses; mirrored filters also yield the swapped
//! filter. Each specific filter gets a direction:
//! - source written as `me`: outbound; destination written as `me`: inbound;
//! - neither side `me` (any, subnets, names, tunnel selectors): both directions, because
//!   the data path sees such traffic leaving (to be secured) and arriving (to be checked);
//! - the mirror of a filter takes the swapped addresses, ports and direction(s).
//!
//! Ordering (first match wins in [`crate::classify`]), most specific first:
//! 1. weight: address specificity (sum of both prefix lengths in their own family) first,
//!    then a specific protocol, then a specific destination port, then a specific source
//!    port (see [`weight`]);
//! 2. tie-break, in order: store precedence (persistent, domain, local); the more
//!    restrictive action (block, then negotiate, then permit); rule order in the policy;
//!    filter order in the list; the filter as written before its mirror.
//!
//! Before everything come the default exemptions: only IKE (UDP 500 and 4500, either
//! port, either direction) is exempt, the Windows Server 2003 default (MISSION Q8).

use std::collections::HashSet;
use std::net::IpAddr;

use serde::Serialize;

use crate::address::{Address, Prefix};
use crate::methods::QmSecMethod;
use crate::model::{ActionKind, ConnectionType, Filter, Protocol, Store, TunnelEndpoint};
use crate::resolver::HostResolver;
use crate::rsop::Rsop;
use crate::store::StoreLocation;

/// Packet direction relative to this host (or, on a gateway, relative to the tunnel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::Outbound => 0,
            Direction::Inbound => 1,
        }
    }
    pub fn parse(s: &str) -> Option<Direction> {
        match s.to_ascii_lowercase().as_str() {
            "out" | "outbound" => Some(Direction::Outbound),
            "in" | "inbound" => Some(Direction::Inbound),
            _ => None,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Outbound => "Outbound",
            Direction::Inbound => "Inbound",
        })
    }
}

/// What a rule's filters lead to, shared by all of the rule's specific filters.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CompiledRule {
    /// `None` for the built-in exemptions.
    pub store: Option<StoreLocation>,
    pub policy: String,
    pub rule: String,
    /// 1-based position in the policy (netsh `id=`).
    pub rule_id: usize,
    pub filter_list: String,
    pub filter_action: String,
    pub action: ActionKind,
    pub inpass: bool,
    pub soft: bool,
    pub qm_pfs: bool,
    pub methods: Vec<QmSecMethod>,
    /// Tunnel endpoint, resolved; `None` = transport mode.
    pub tunnel: Option<IpAddr>,
    pub conn_type: ConnectionType,
}

/// One specific filter: concrete prefixes, exact protocol/ports or wildcards, a direction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SpecificFilter {
    pub src: Prefix,
    pub dst: Prefix,
    pub protocol: Option<u8>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub direction: Direction,
    /// Index into [`Compiled::rules`].
    pub rule: usize,
    /// 1-based position of the generic filter in its list (0 for exemptions).
    pub filter_index: usize,
    /// Produced by mirroring the generic filter.
    pub mirror: bool,
    pub weight: u32,
}

impl SpecificFilter {
    /// Does a packet match (ignoring direction)?
    pub fn matches(&self, p: &crate::classify::Packet) -> bool {
        self.src.contains(Prefix::key(p.src))
            && self.dst.contains(Prefix::key(p.dst))
            && self.protocol.is_none_or(|x| x == p.protocol)
            && self.src_port.is_none_or(|x| x == p.src_port)
            && self.dst_port.is_none_or(|x| x == p.dst_port)
    }
}

impl std::fmt::Display for SpecificFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let port = |p: Option<u16>| p.map_or("*".to_string(), |p| p.to_string());
        let proto = self
            .protocol
            .map_or("ANY".to_string(), |n| Protocol::Number(n).to_string());
        write!(
            f,
            "{} {} {}:{} -> {}:{}",
            self.direction,
            proto,
            self.src,
            port(self.src_port),
            self.dst,
            port(self.dst_port)
        )
    }
}

/// The weight of a specific filter: address specificity dominates, then protocol, then
/// destination port, then source port.
pub fn weight(
    src: &Prefix,
    dst: &Prefix,
    protocol: Option<u8>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
) -> u32 {
    let addr = u32::from(src.family_len()) + u32::from(dst.family_len());
    (addr << 3)
        | (u32::from(protocol.is_some()) << 2)
        | (u32::from(dst_port.is_some()) << 1)
        | u32::from(src_port.is_some())
}

/// Specific filters in match order, the rules they lead to, and what could not be expanded.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Compiled {
    pub rules: Vec<CompiledRule>,
    pub filters: Vec<SpecificFilter>,
    /// Expansion problems (an unresolvable name, no DNS servers configured ...). The
    /// affected filters are left out; everything else still applies.
    pub warnings: Vec<String>,
}

/// Name of the built-in IKE exemption "rule".
pub const IKE_EXEMPTION: &str = "IKE exemption (default)";

fn exemption_rule() -> CompiledRule {
    CompiledRule {
        store: None,
        policy: "(built in)".into(),
        rule: IKE_EXEMPTION.into(),
        rule_id: 0,
        filter_list: "(built in)".into(),
        filter_action: "(exempt)".into(),
        action: ActionKind::Permit,
        inpass: false,
        soft: false,
        qm_pfs: false,
        methods: Vec::new(),
        tunnel: None,
        conn_type: ConnectionType::All,
    }
}

fn exemption_filters() -> Vec<SpecificFilter> {
    let mut v = Vec::new();
    for direction in [Direction::Outbound, Direction::Inbound] {
        for port in [500u16, 4500] {
            for (src_port, dst_port) in [(None, Some(port)), (Some(port), None)] {
                v.push(SpecificFilter {
                    src: Prefix::ANY,
                    dst: Prefix::ANY,
                    protocol: Some(Protocol::UDP),
                    src_port,
                    dst_port,
                    direction,
                    rule: 0,
                    filter_index: 0,
                    mirror: false,
                    weight: u32::MAX,
                });
            }
        }
    }
    v
}

/// Compiles everything a resultant set of policy applies.
pub fn compile_rsop(rsop: &Rsop, host: &dyn HostResolver) -> Compiled {
    let inputs: Vec<(Option<StoreLocation>, &Store)> = rsop
        .applied
        .iter()
        .map(|a| (Some(a.location), &a.store))
        .collect();
    compile(&inputs, host)
}

/// Compiles the assigned policy of each given store (the store's location is the
/// tie-break; `None` ranks last).
pub fn compile(inputs: &[(Option<StoreLocation>, &Store)], host: &dyn HostResolver) -> Compiled {
    let mut out = Compiled {
        rules: vec![exemption_rule()],
        filters: Vec::new(),
        warnings: Vec::new(),
    };
    let me = host.local_addresses();
    // Sort keys parallel to `out.filters`.
    struct Keyed {
        f: SpecificFilter,
        store_rank: u8,
        action_rank: u8,
    }
    let mut keyed: Vec<Keyed> = Vec::new();
    for (location, store) in inputs {
        let Some(policy) = store.assigned_policy() else {
            continue;
        };
        for (ri, rule) in policy.rules.iter().enumerate() {
            if !rule.active {
                continue;
            }
            let (Some(list), Some(action)) = (
                store.filter_list(&rule.filter_list),
                store.filter_action(&rule.filter_action),
            ) else {
                // Validation keeps stores consistent; a hand-edited one is reported.
                out.warnings.push(format!(
                    "rule \"{}\" of policy \"{}\": missing filter list or action",
                    rule.name, policy.name
                ));
                continue;
            };
            let tunnel = match &rule.tunnel {
                None => None,
                Some(TunnelEndpoint::Ip(ip)) => Some(*ip),
                Some(TunnelEndpoint::Dns(name)) => {
                    match host.resolve(name).ok().and_then(|v| v.first().copied()) {
                        Some(ip) => Some(ip),
                        None => {
                            out.warnings.push(format!(
                            "rule \"{}\" of policy \"{}\": tunnel endpoint {name} does not resolve; rule skipped",
                            rule.name, policy.name
                        ));
                            continue;
                        }
                    }
                }
            };
            let rule_index = out.rules.len();
            out.rules.push(CompiledRule {
                store: *location,
                policy: policy.name.clone(),
                rule: rule.name.clone(),
                rule_id: ri + 1,
                filter_list: list.name.clone(),
                filter_action: action.name.clone(),
                action: action.action,
                inpass: action.inpass,
                soft: action.soft,
                qm_pfs: action.qm_pfs,
                methods: if action.action == ActionKind::Negotiate {
                    action.qm_methods.clone()
                } else {
                    Vec::new()
                },
                tunnel,
                conn_type: rule.conn_type,
            });
            let mut seen = HashSet::new();
            for (fi, filter) in list.filters.iter().enumerate() {
                let ctx = || {
                    format!(
                        "filter {} of filter list \"{}\" (rule \"{}\")",
                        fi + 1,
                        list.name,
                        rule.name
                    )
                };
                let specifics = match expand_filter(filter, &me, host) {
                    Ok(v) => v,
                    Err(why) => {
                        out.warnings
                            .push(format!("{}: {why}; filter skipped", ctx()));
                        continue;
                    }
                };
                for (src, dst, mirror, direction) in specifics {
                    let (protocol, mut sp, mut dp) = (
                        filter.protocol.number(),
                        nonzero(filter.src_port),
                        nonzero(filter.dst_port),
                    );
                    if mirror {
                        std::mem::swap(&mut sp, &mut dp);
                    }
                    let f = SpecificFilter {
                        src,
                        dst,
                        protocol,
                        src_port: sp,
                        dst_port: dp,
                        direction,
                        rule: rule_index,
                        filter_index: fi + 1,
                        mirror,
                        weight: weight(&src, &dst, protocol, sp, dp),
                    };
                    // The same selector twice in one rule adds nothing.
                    if seen.insert((src, dst, protocol, sp, dp, direction)) {
                        keyed.push(Keyed {
                            f,
                            store_rank: location.map_or(u8::MAX, StoreLocation::precedence),
                            action_rank: match action.action {
                                ActionKind::Block => 0,
                                ActionKind::Negotiate => 1,
                                ActionKind::Permit => 2,
                            },
                        });
                    }
                }
            }
        }
    }
    keyed.sort_by(|a, b| {
        b.f.weight
            .cmp(&a.f.weight)
            .then(a.store_rank.cmp(&b.store_rank))
            .then(a.action_rank.cmp(&b.action_rank))
            .then(a.f.rule.cmp(&b.f.rule))
            .then(a.f.filter_index.cmp(&b.f.filter_index))
            .then(a.f.mirror.cmp(&b.f.mirror))
            .then(a.f.direction.cmp(&b.f.direction))
    });
    out.filters = exemption_filters();
    out.filters.extend(keyed.into_iter().map(|k| k.f));
    out
}

fn nonzero(p: u16) -> Option<u16> {
    (p != 0).then_some(p)
}

/// (src, dst, mirror, direction) for every specific filter one generic filter yields.
fn expand_filter(
    f: &Filter,
    me: &[IpAddr],
    host: &dyn HostResolver,
) -> Result<Vec<(Prefix, Prefix, bool, Direction)>, String> {
    let srcs = expand_address(&f.src, me, host)?;
    let dsts = expand_address(&f.dst, me, host)?;
    let dirs: &[Direction] = match (&f.src, &f.dst) {
        (Address::Me, _) => &[Direction::Outbound],
        (_, Address::Me) => &[Direction::Inbound],
        _ => &[Direction::Outbound, Direction::Inbound],
    };
    let flip = |d: Direction| match d {
        Direction::Outbound => Direction::Inbound,
        Direction::Inbound => Direction::Outbound,
    };
    let mut v = Vec::new();
    for s in &srcs {
        for d in &dsts {
            if !s.same_family(d) {
                continue;
            }
            for &dir in dirs {
                v.push((*s, *d, false, dir));
            }
            if f.mirrored {
                for &dir in dirs {
                    v.push((*d, *s, true, flip(dir)));
                }
            }
        }
    }
    Ok(v)
}

fn expand_address(
    a: &Address,
    me: &[IpAddr],
    host: &dyn HostResolver,
) -> Result<Vec<Prefix>, String> {
    let hosts = |v: Vec<IpAddr>, what: &str| {
        if v.is_empty() {
            Err(format!("{what} resolves to no address on this host"))
        } else {
            Ok(v.into_iter().map(Prefix::host).collect())
        }
    };
    match a {
        Address::Any => Ok(vec![Prefix::ANY]),
        Address::Me => hosts(me.to_vec(), "'me'"),
        Address::Ip { addr, prefix } => Ok(vec![Prefix::new(*addr, *prefix)]),
        Address::Dns { name } => hosts(host.resolve(name)?, name),
        Address::Server { server } => hosts(host.servers(*server), server.description()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuthMethod, FilterAction, FilterList, Policy, Rule};
    use crate::predefined;
    use crate::resolver::HostConfig;

    fn host() -> HostConfig {
        HostConfig {
            me: vec!["10.0.0.5".parse().unwrap()],
            dns: vec!["10.0.0.53".parse().unwrap()],
            names: [(
                "db.example.test".to_string(),
                vec!["10.0.0.9".parse().unwrap()],
            )]
            .into(),
            ..HostConfig::default()
        }
    }

    #[test]
    fn secure_server_compiles_to_windows_specific_filters() {
        let mut s = Store::default();
        predefined::restore(&mut s, 0);
        s.assigned = Some(predefined::SECURE_SERVER.into());
        let c = compile(&[(Some(StoreLocation::Local), &s)], &host());
        let lines: Vec<String> = c.filters[8..]
            .iter()
            .map(|f| format!("{f} => {}", c.rules[f.rule].filter_action))
            .collect();
        assert_eq!(
            lines,
            vec![
                "Outbound ICMP 10.0.0.5:* -> Any:* => Permit",
                "Inbound ICMP Any:* -> 10.0.0.5:* => Permit",
                "Outbound ANY 10.0.0.5:* -> Any:* => Require Security",
                "Inbound ANY Any:* -> 10.0.0.5:* => Require Security",
            ]
        );
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn logical_and_dns_addresses_expand_and_failures_warn() {
        let mut s = Store::default();
        let mut f1 = Filter::new(
            Address::Me,
            Address::Server {
                server: crate::address::ServerKind::Dns,
            },
        );
        f1.protocol = Protocol::Number(Protocol::UDP);
        f1.dst_port = 53;
        let f2 = Filter::new(
            Address::Me,
            Address::Dns {
                name: "db.example.test".into(),
            },
        );
        let f3 = Filter::new(
            Address::Me,
            Address::Server {
                server: crate::address::ServerKind::Wins,
            },
        );
        s.filter_lists.push(FilterList {
            name: "L".into(),
            description: String::new(),
            filters: vec![f1, f2, f3],
            last_modified: 0,
        });
        s.filter_actions.push(FilterAction::new("A", 0));
        let mut p = Policy::new("P", 0);
        p.rules.push(Rule {
            name: "R".into(),
            description: String::new(),
            filter_list: "L".into(),
            filter_action: "A".into(),
            auth: vec![AuthMethod::Kerberos],
            tunnel: None,
            conn_type: ConnectionType::All,
            active: true,
        });
        s.policies.push(p);
        s.assigned = Some("P".into());
        let c = compile(&[(Some(StoreLocation::Local), &s)], &host());
        let lines: Vec<String> = c.filters[8..].iter().map(|f| f.to_string()).collect();
        assert_eq!(
            lines,
            vec![
                "Outbound UDP 10.0.0.5:* -> 10.0.0.53:53",
                "Inbound UDP 10.0.0.53:53 -> 10.0.0.5:*",
                "Outbound ANY 10.0.0.5:* -> 10.0.0.9:*",
                "Inbound ANY 10.0.0.9:* -> 10.0.0.5:*",
            ]
        );
        assert_eq!(c.warnings.len(), 1);
        assert!(
            c.warnings[0].contains("filter 3") && c.warnings[0].contains("WINS"),
            "{:?}",
            c.warnings
        );
    }
}
