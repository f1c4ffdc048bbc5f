//! Whole-store validation. Every error names the object it is about (`filter 2 of filter
//! list "Web"`, `rule "Db" of policy "Servers"`), so a script author can find it.
//!
//! Stores are validated before every write and after every load, so no command can leave
//! a store that refers to a missing filter list or holds a method the IKE engine cannot
//! negotiate.

use std::collections::HashSet;
use std::fmt;

use crate::address::Address;
use crate::methods::{MmSecMethod, QmSecMethod};
use crate::model::{
    ActionKind, AuthMethod, FilterAction, FilterList, Policy, Rule, Store, TunnelEndpoint,
};

/// Bounds Windows applies to quick mode lifetimes (kilobytes, seconds).
pub const QM_LIFETIME_KB: (u64, u64) = (20_480, 2_147_483_647);
pub const QM_LIFETIME_SECS: (u64, u64) = (300, 172_800);
/// Bounds of the main mode key lifetime, in minutes (1 minute to 48 hours).
pub const MM_LIFETIME_MIN: (u32, u32) = (1, 2_880);
/// Bounds of the polling interval, in minutes (0 = never poll).
pub const POLLING_MIN: (u32, u32) = (0, 43_200);

/// The object a validation error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectRef {
    Store,
    Policy(String),
    Rule { policy: String, rule: String },
    DefaultRule { policy: String },
    FilterList(String),
    Filter { list: String, index: usize },
    FilterAction(String),
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectRef::Store => f.write_str("store"),
            ObjectRef::Policy(p) => write!(f, "policy \"{p}\""),
            ObjectRef::Rule { policy, rule } => write!(f, "rule \"{rule}\" of policy \"{policy}\""),
            ObjectRef::DefaultRule { policy } => {
                write!(f, "default response rule of policy \"{policy}\"")
            }
            ObjectRef::FilterList(l) => write!(f, "filter list \"{l}\""),
            ObjectRef::Filter { list, index } => {
                write!(f, "filter {index} of filter list \"{list}\"")
            }
            ObjectRef::FilterAction(a) => write!(f, "filter action \"{a}\""),
        }
    }
}

/// A store content error: the object and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {problem}")]
pub struct ValidationError {
    pub object: ObjectRef,
    pub problem: String,
}

fn bad(object: ObjectRef, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        object,
        problem: problem.into(),
    }
}

/// Checks the whole store; returns the first problem found.
pub fn validate_store(store: &Store) -> Result<(), ValidationError> {
    unique_names(
        store.policies.iter().map(|p| p.name.as_str()),
        ObjectRef::Policy,
    )?;
    unique_names(
        store.filter_lists.iter().map(|l| l.name.as_str()),
        ObjectRef::FilterList,
    )?;
    unique_names(
        store.filter_actions.iter().map(|a| a.name.as_str()),
        ObjectRef::FilterAction,
    )?;
    if let Some(a) = &store.assigned
        && store.policy(a).is_none()
    {
        return Err(bad(
            ObjectRef::Store,
            format!("assigned policy \"{a}\" does not exist"),
        ));
    }
    for l in &store.filter_lists {
        validate_filter_list(l)?;
    }
    for a in &store.filter_actions {
        validate_filter_action(a)?;
    }
    for p in &store.policies {
        validate_policy(store, p)?;
    }
    Ok(())
}

fn unique_names<'a>(
    names: impl Iterator<Item = &'a str>,
    obj: impl Fn(String) -> ObjectRef,
) -> Result<(), ValidationError> {
    let mut seen = HashSet::new();
    for n in names {
        validate_name(n).map_err(|p| bad(obj(n.to_string()), p))?;
        if !seen.insert(n.to_lowercase()) {
            return Err(bad(obj(n.to_string()), "name is used twice"));
        }
    }
    Ok(())
}

/// Names must be printable and not empty; everything else netsh allows is allowed.
pub fn validate_name(n: &str) -> Result<(), String> {
    if n.trim().is_empty() {
        return Err("name is empty".into());
    }
    if n.chars().any(char::is_control) {
        return Err("name contains control characters".into());
    }
    if n.len() > 256 {
        return Err("name is longer than 256 bytes".into());
    }
    Ok(())
}

pub fn validate_filter_list(l: &FilterList) -> Result<(), ValidationError> {
    for (i, f) in l.filters.iter().enumerate() {
        let obj = || ObjectRef::Filter {
            list: l.name.clone(),
            index: i + 1,
        };
        // netsh: "If source is a server type, then dest is 'me' and vice-versa."
        if f.src.is_server() && f.dst != Address::Me {
            return Err(bad(
                obj(),
                format!("source is {} so the destination must be 'me'", f.src),
            ));
        }
        if f.dst.is_server() && f.src != Address::Me {
            return Err(bad(
                obj(),
                format!("destination is {} so the source must be 'me'", f.dst),
            ));
        }
        if f.src == Address::Me && f.dst == Address::Me {
            return Err(bad(obj(), "source and destination are both 'me'"));
        }
        if (f.src_port != 0 || f.dst_port != 0) && !f.protocol.has_ports() {
            return Err(bad(
                obj(),
                format!("ports need protocol TCP or UDP, not {}", f.protocol),
            ));
        }
        if let (Address::Ip { addr: a, .. }, Address::Ip { addr: b, .. }) = (&f.src, &f.dst)
            && a.is_ipv4() != b.is_ipv4()
        {
            return Err(bad(
                obj(),
                "source and destination are of different IP versions",
            ));
        }
    }
    Ok(())
}

pub fn validate_filter_action(a: &FilterAction) -> Result<(), ValidationError> {
    let obj = || ObjectRef::FilterAction(a.name.clone());
    if a.action == ActionKind::Negotiate && a.qm_methods.is_empty() {
        return Err(bad(
            obj(),
            "action is negotiate but there are no security methods",
        ));
    }
    for (i, m) in a.qm_methods.iter().enumerate() {
        validate_qm_method(m)
            .map_err(|p| bad(obj(), format!("security method {} ({m}): {p}", i + 1)))?;
    }
    Ok(())
}

/// One quick mode method: something to negotiate, algorithms that fit together, lifetimes
/// in Windows' bounds.
pub fn validate_qm_method(m: &QmSecMethod) -> Result<(), String> {
    if m.ah.is_none() && m.esp.is_none() {
        return Err("neither AH nor ESP".into());
    }
    if m.ah == Some(crate::algorithms::Integrity::None) {
        return Err("AH needs a hash algorithm".into());
    }
    if let Some(e) = m.esp {
        use crate::algorithms::{Cipher, Integrity};
        if e.cipher == Cipher::None && e.integrity == Integrity::None {
            return Err("ESP with neither encryption nor integrity".into());
        }
        if e.cipher.is_aead() && e.integrity != Integrity::None {
            return Err(format!(
                "{} authenticates by itself: write ESP[{},None]",
                e.cipher, e.cipher
            ));
        }
        if e.cipher.is_aead() && m.ah.is_some() {
            return Err(format!("{} cannot be combined with AH", e.cipher));
        }
    }
    in_range("kilobyte lifetime", m.lifetime_kb, QM_LIFETIME_KB)?;
    in_range("seconds lifetime", m.lifetime_secs, QM_LIFETIME_SECS)
}

fn in_range<T: PartialOrd + fmt::Display + Copy>(
    what: &str,
    v: T,
    (lo, hi): (T, T),
) -> Result<(), String> {
    if v < lo || v > hi {
        Err(format!("{what} {v} is outside {lo}-{hi}"))
    } else {
        Ok(())
    }
}

/// One main mode method: IKE needs a real cipher and a hash; AES-GCM is not offered for
/// the IKE SA (IKEv1 has no combined-mode main mode ciphers).
pub fn validate_mm_method(m: &MmSecMethod) -> Result<(), String> {
    use crate::algorithms::{Cipher, Integrity};
    if m.cipher == Cipher::None || m.cipher.is_aead() {
        return Err(format!("{} is not a main mode cipher", m.cipher));
    }
    if m.hash == Integrity::None {
        return Err("main mode needs a hash algorithm".into());
    }
    Ok(())
}

fn validate_policy(store: &Store, p: &Policy) -> Result<(), ValidationError> {
    let obj = || ObjectRef::Policy(p.name.clone());
    if p.mm_methods.is_empty() {
        return Err(bad(obj(), "no main mode security methods"));
    }
    for (i, m) in p.mm_methods.iter().enumerate() {
        validate_mm_method(m)
            .map_err(|e| bad(obj(), format!("main mode method {} ({m}): {e}", i + 1)))?;
    }
    in_range(
        "main mode lifetime (minutes)",
        p.mm_lifetime_min,
        MM_LIFETIME_MIN,
    )
    .map_err(|e| bad(obj(), e))?;
    in_range(
        "polling interval (minutes)",
        p.polling_interval_min,
        POLLING_MIN,
    )
    .map_err(|e| bad(obj(), e))?;
    let d = &p.default_response;
    let dobj = || ObjectRef::DefaultRule {
        policy: p.name.clone(),
    };
    if d.qm_methods.is_empty() {
        return Err(bad(dobj(), "no security methods"));
    }
    for (i, m) in d.qm_methods.iter().enumerate() {
        validate_qm_method(m)
            .map_err(|e| bad(dobj(), format!("security method {} ({m}): {e}", i + 1)))?;
    }
    validate_auth(&d.auth).map_err(|e| bad(dobj(), e))?;
    unique_names(p.rules.iter().map(|r| r.name.as_str()), |n| {
        ObjectRef::Rule {
            policy: p.name.clone(),
            rule: n,
        }
    })?;
    for r in &p.rules {
        validate_rule(store, p, r)?;
    }
    Ok(())
}

fn validate_rule(store: &Store, p: &Policy, r: &Rule) -> Result<(), ValidationError> {
    let obj = || ObjectRef::Rule {
        policy: p.name.clone(),
        rule: r.name.clone(),
    };
    let list = store.filter_list(&r.filter_list).ok_or_else(|| {
        bad(
            obj(),
            format!("filter list \"{}\" does not exist", r.filter_list),
        )
    })?;
    let action = store.filter_action(&r.filter_action).ok_or_else(|| {
        bad(
            obj(),
            format!("filter action \"{}\" does not exist", r.filter_action),
        )
    })?;
    validate_auth(&r.auth).map_err(|e| bad(obj(), e))?;
    if let Some(t) = &r.tunnel {
        if let TunnelEndpoint::Ip(ip) = t
            && (ip.is_unspecified() || ip.is_multicast())
        {
            return Err(bad(
                obj(),
                format!("tunnel endpoint {ip} is not a unicast address"),
            ));
        }
        // Tunnel traffic is described once per direction; a mirrored filter would send
        // the return traffic into the same tunnel endpoint, which Windows refuses too.
        if let Some(i) = list.filters.iter().position(|f| f.mirrored) {
            return Err(bad(
                obj(),
                format!(
                    "tunnel rules cannot use mirrored filters (filter {} of \"{}\")",
                    i + 1,
                    list.name
                ),
            ));
        }
        if action.action == ActionKind::Negotiate && action.inpass {
            return Err(bad(
                obj(),
                "a tunnel rule's filter action cannot accept unsecured communication (inpass)",
            ));
        }
    }
    Ok(())
}

fn validate_auth(methods: &[AuthMethod]) -> Result<(), String> {
    if methods.is_empty() {
        return Err("no authentication methods".into());
    }
    for m in methods {
        match m {
            AuthMethod::Psk { key } if key.expose().is_empty() => {
                return Err("empty pre-shared key".into());
            }
            AuthMethod::Certificate { root_ca, .. } if root_ca.trim().is_empty() => {
                return Err("certificate authentication without a root CA name".into());
            }
            _ => {}
        }
    }
    Ok(())
}
