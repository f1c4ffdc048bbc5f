//! From compiled policy (the policy crate's specific filters, in match order) to firewall
//! rules. The built-in IKE exemption filters are left out: the ruleset's preamble always
//! carries them.

use ipnet::IpNet;
use policy::compile::{CompiledRule, Direction as PolicyDirection};
use policy::{ActionKind, Compiled, Prefix};

use super::{Direction, Enforcement, FwRule, PolicyRules, Selector};
use control::Exemptions;

/// A compiled prefix as a network (`None` for "any address").
pub fn prefix_net(p: &Prefix) -> Option<IpNet> {
    if p.len == 0 {
        return None;
    }
    IpNet::new(p.ip(), p.family_len()).ok()
}

/// How a compiled rule's filter action treats cleartext.
pub fn enforcement(rule: &CompiledRule) -> (Enforcement, bool) {
    match rule.action {
        ActionKind::Permit => (Enforcement::Permit, false),
        ActionKind::Block => (Enforcement::Block, false),
        ActionKind::Negotiate if rule.inpass => (Enforcement::Request, rule.soft),
        ActionKind::Negotiate => (Enforcement::Require, rule.soft),
    }
}

/// The firewall rules for compiled policy, in the same first-match order.
pub fn rules(compiled: &Compiled, exemptions: Exemptions) -> PolicyRules {
    let mut out = Vec::new();
    for f in &compiled.filters {
        let Some(rule) = compiled.rules.get(f.rule) else {
            continue;
        };
        if rule.store.is_none() {
            continue; // the built-in IKE exemption
        }
        let (enforcement, fallback) = enforcement(rule);
        out.push(FwRule {
            selector: Selector {
                src: prefix_net(&f.src),
                dst: prefix_net(&f.dst),
                protocol: f.protocol,
                src_port: f.src_port,
                dst_port: f.dst_port,
            },
            direction: match f.direction {
                PolicyDirection::Inbound => Direction::Inbound,
                PolicyDirection::Outbound => Direction::Outbound,
            },
            enforcement,
            fallback,
            tunnel: rule.tunnel.is_some(),
            comment: format!("{}/{}", rule.policy, rule.rule),
        });
    }
    PolicyRules {
        rules: out,
        exemptions,
    }
}
