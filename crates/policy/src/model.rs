//! The Windows Server 2003 IPsec policy model (MISSION Q1-Q5).
//!
//! A store holds policies, filter lists and filter actions. Filter lists and filter
//! actions are shared, store-level objects that rules refer to by name (as in the snap-in
//! and `netsh ipsec static`); policies own their rules. Names are unique per kind and
//! compared case-insensitively, as netsh does.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::algorithms::{Cipher, DhGroup, Integrity};
use crate::methods::{MmSecMethod, QmSecMethod};

/// The `format` tag of store and export files, so a foreign JSON file is refused clearly.
pub const STORE_FORMAT: &str = "oakley-ipsec-store";
/// The current store file version.
pub const STORE_VERSION: u32 = 1;

/// Everything one store holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Store {
    pub format: String,
    pub version: u32,
    /// The one assigned policy of this store, by name.
    #[serde(default)]
    pub assigned: Option<String>,
    #[serde(default)]
    pub policies: Vec<Policy>,
    #[serde(default)]
    pub filter_lists: Vec<FilterList>,
    #[serde(default)]
    pub filter_actions: Vec<FilterAction>,
}

impl Default for Store {
    fn default() -> Store {
        Store {
            format: STORE_FORMAT.to_string(),
            version: STORE_VERSION,
            assigned: None,
            policies: Vec::new(),
            filter_lists: Vec::new(),
            filter_actions: Vec::new(),
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Store {
    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| same(&p.name, name))
    }
    pub fn policy_mut(&mut self, name: &str) -> Option<&mut Policy> {
        self.policies.iter_mut().find(|p| same(&p.name, name))
    }
    pub fn filter_list(&self, name: &str) -> Option<&FilterList> {
        self.filter_lists.iter().find(|l| same(&l.name, name))
    }
    pub fn filter_list_mut(&mut self, name: &str) -> Option<&mut FilterList> {
        self.filter_lists.iter_mut().find(|l| same(&l.name, name))
    }
    pub fn filter_action(&self, name: &str) -> Option<&FilterAction> {
        self.filter_actions.iter().find(|a| same(&a.name, name))
    }
    pub fn filter_action_mut(&mut self, name: &str) -> Option<&mut FilterAction> {
        self.filter_actions.iter_mut().find(|a| same(&a.name, name))
    }
    /// The assigned policy, if the assignment names one that exists.
    pub fn assigned_policy(&self) -> Option<&Policy> {
        self.assigned.as_deref().and_then(|n| self.policy(n))
    }
    pub fn is_assigned(&self, policy: &str) -> bool {
        self.assigned.as_deref().is_some_and(|a| same(a, policy))
    }
    /// Rules (with their policy) that use a filter list.
    pub fn rules_using_list<'a>(
        &'a self,
        list: &'a str,
    ) -> impl Iterator<Item = (&'a Policy, &'a Rule)> + 'a {
        self.policies
            .iter()
            .flat_map(|p| p.rules.iter().map(move |r| (p, r)))
            .filter(move |(_, r)| same(&r.filter_list, list))
    }
    /// Rules (with their policy) that use a filter action.
    pub fn rules_using_action<'a>(
        &'a self,
        action: &'a str,
    ) -> impl Iterator<Item = (&'a Policy, &'a Rule)> + 'a {
        self.policies
            .iter()
            .flat_map(|p| p.rules.iter().map(move |r| (p, r)))
            .filter(move |(_, r)| same(&r.filter_action, action))
    }

    /// A copy with every pre-shared key replaced, for `show` output.
    pub fn redacted(&self) -> Store {
        let mut s = self.clone();
        for p in &mut s.policies {
            redact_auth(&mut p.default_response.auth);
            for r in &mut p.rules {
                redact_auth(&mut r.auth);
            }
        }
        s
    }
}

fn redact_auth(methods: &mut [AuthMethod]) {
    for m in methods {
        if let AuthMethod::Psk { key } = m {
            *key = Secret::new(Secret::REDACTED);
        }
    }
}

/// An IPsec policy (Q1): main mode settings and an ordered list of rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// How often (minutes) a domain member polls for policy changes.
    pub polling_interval_min: u32,
    /// Main mode security methods in preference order.
    pub mm_methods: Vec<MmSecMethod>,
    /// Main mode (IKE SA) key lifetime in minutes.
    pub mm_lifetime_min: u32,
    /// Quick modes per main mode (0 = no limit).
    pub qm_per_mm: u32,
    /// Master key perfect forward secrecy.
    pub mm_pfs: bool,
    /// The default response rule (Q5); it has no filter list of its own.
    pub default_response: DefaultResponseRule,
    pub rules: Vec<Rule>,
    /// Seconds since the Unix epoch; supplied by the caller (the model reads no clock).
    pub last_modified: u64,
}

/// Windows' main mode defaults: 3DES/SHA1 and 3DES/MD5 with group 2, DES/SHA1 and DES/MD5
/// with group 1, in that order.
pub fn default_mm_methods() -> Vec<MmSecMethod> {
    let m = |cipher, hash, group| MmSecMethod {
        cipher,
        hash,
        group: DhGroup(group),
    };
    vec![
        m(Cipher::TripleDes, Integrity::Sha1, 2),
        m(Cipher::TripleDes, Integrity::Md5, 2),
        m(Cipher::Des, Integrity::Sha1, 1),
        m(Cipher::Des, Integrity::Md5, 1),
    ]
}

/// Default quick mode methods of a new negotiate filter action and of the default
/// response rule: ESP 3DES/SHA1, ESP 3DES/MD5, ESP DES/SHA1, ESP DES/MD5, AH SHA1, AH MD5.
pub fn default_qm_methods() -> Vec<QmSecMethod> {
    vec![
        QmSecMethod::esp(Cipher::TripleDes, Integrity::Sha1),
        QmSecMethod::esp(Cipher::TripleDes, Integrity::Md5),
        QmSecMethod::esp(Cipher::Des, Integrity::Sha1),
        QmSecMethod::esp(Cipher::Des, Integrity::Md5),
        QmSecMethod::ah(Integrity::Sha1),
        QmSecMethod::ah(Integrity::Md5),
    ]
}

impl Policy {
    /// A policy with Windows' defaults: polling every 180 minutes, main mode key lifetime
    /// 480 minutes, no quick mode limit, no master key PFS, an active default response rule
    /// authenticating with Kerberos.
    pub fn new(name: &str, now: u64) -> Policy {
        Policy {
            name: name.to_string(),
            description: String::new(),
            polling_interval_min: 180,
            mm_methods: default_mm_methods(),
            mm_lifetime_min: 480,
            qm_per_mm: 0,
            mm_pfs: false,
            default_response: DefaultResponseRule::default(),
            rules: Vec::new(),
            last_modified: now,
        }
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| same(&r.name, name))
    }
    pub fn rule_mut(&mut self, name: &str) -> Option<&mut Rule> {
        self.rules.iter_mut().find(|r| same(&r.name, name))
    }
}

/// The default response rule: answers peers that request security when no rule matches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DefaultResponseRule {
    pub active: bool,
    pub qm_methods: Vec<QmSecMethod>,
    pub qm_pfs: bool,
    pub auth: Vec<AuthMethod>,
}

impl Default for DefaultResponseRule {
    fn default() -> DefaultResponseRule {
        DefaultResponseRule {
            active: true,
            qm_methods: default_qm_methods(),
            qm_pfs: false,
            auth: vec![AuthMethod::Kerberos],
        }
    }
}

/// A rule (Q2): which traffic (filter list), what to do (filter action), how peers prove
/// who they are, transport or tunnel, and on which kind of connection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub filter_list: String,
    pub filter_action: String,
    /// Authentication methods in preference order.
    pub auth: Vec<AuthMethod>,
    /// `None` = transport mode.
    pub tunnel: Option<TunnelEndpoint>,
    pub conn_type: ConnectionType,
    pub active: bool,
}

/// The far end of an IPsec tunnel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelEndpoint {
    Ip(std::net::IpAddr),
    Dns(String),
}

impl fmt::Display for TunnelEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelEndpoint::Ip(ip) => write!(f, "{ip}"),
            TunnelEndpoint::Dns(n) => write!(f, "{n}"),
        }
    }
}

/// Which network connections a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionType {
    All,
    Lan,
    /// Remote access (netsh `dialup`).
    Dialup,
}

impl fmt::Display for ConnectionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionType::All => "ALL",
            ConnectionType::Lan => "LAN",
            ConnectionType::Dialup => "DIALUP",
        })
    }
}

/// A secret that never prints itself: `Debug` and `Display` show `********`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub const REDACTED: &'static str = "********";
    pub fn new(s: &str) -> Secret {
        Secret(s.to_string())
    }
    /// The secret itself, for the IKE engine.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::REDACTED)
    }
}

/// An IKE authentication method (P7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum AuthMethod {
    Kerberos,
    Psk {
        key: Secret,
    },
    Certificate {
        /// Distinguished name of the trusted root CA.
        root_ca: String,
        /// Map the peer's certificate to a computer account (domain members only).
        cert_map: bool,
        /// Leave the CA name out of certificate requests.
        exclude_ca_name: bool,
    },
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthMethod::Kerberos => f.write_str("Kerberos"),
            AuthMethod::Psk { key } => write!(f, "Preshared key: {key}"),
            AuthMethod::Certificate {
                root_ca,
                cert_map,
                exclude_ca_name,
            } => write!(
                f,
                "Root CA: {root_ca} (certmap: {}, excludecaname: {})",
                yes_no(*cert_map),
                yes_no(*exclude_ca_name)
            ),
        }
    }
}

/// netsh's spelling of booleans in output.
pub fn yes_no(b: bool) -> &'static str {
    if b { "YES" } else { "NO" }
}

/// A named, shared list of filters (Q3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilterList {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub filters: Vec<Filter>,
    pub last_modified: u64,
}

/// IP protocol selector of a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Any,
    Number(u8),
}

impl Protocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// netsh's `RAW` protocol keyword.
    pub const RAW: u8 = 255;

    /// netsh names (`ANY`, `ICMP`, `TCP`, `UDP`, `RAW`) or a number 0-255.
    pub fn parse(s: &str) -> Option<Protocol> {
        let s = s.trim();
        let named = [
            ("ANY", None),
            ("ICMP", Some(Protocol::ICMP)),
            ("TCP", Some(Protocol::TCP)),
            ("UDP", Some(Protocol::UDP)),
            ("RAW", Some(Protocol::RAW)),
        ];
        if let Some((_, n)) = named.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)) {
            return Some(n.map_or(Protocol::Any, Protocol::Number));
        }
        s.parse::<u8>().ok().map(Protocol::Number)
    }

    pub fn number(self) -> Option<u8> {
        match self {
            Protocol::Any => None,
            Protocol::Number(n) => Some(n),
        }
    }

    /// Only TCP and UDP have ports.
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::Number(Protocol::TCP | Protocol::UDP))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Any => f.write_str("ANY"),
            Protocol::Number(Protocol::ICMP) => f.write_str("ICMP"),
            Protocol::Number(Protocol::TCP) => f.write_str("TCP"),
            Protocol::Number(Protocol::UDP) => f.write_str("UDP"),
            Protocol::Number(Protocol::RAW) => f.write_str("RAW"),
            Protocol::Number(n) => write!(f, "{n}"),
        }
    }
}

/// One generic filter: source and destination, protocol, ports (0 = any), mirrored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub description: String,
    pub src: Address,
    pub dst: Address,
    pub protocol: Protocol,
    pub src_port: u16,
    pub dst_port: u16,
    /// Also match packets with source and destination swapped (on by default).
    pub mirrored: bool,
}

impl Filter {
    /// A mirrored, any-protocol filter between two addresses.
    pub fn new(src: Address, dst: Address) -> Filter {
        Filter {
            description: String::new(),
            src,
            dst,
            protocol: Protocol::Any,
            src_port: 0,
            dst_port: 0,
            mirrored: true,
        }
    }

    /// The fields that identify a filter in `delete filter` (the description does not).
    pub fn same_selector(&self, other: &Filter) -> bool {
        self.src == other.src
            && self.dst == other.dst
            && self.protocol == other.protocol
            && self.src_port == other.src_port
            && self.dst_port == other.dst_port
            && self.mirrored == other.mirrored
    }
}

/// What a filter action does with matching traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Permit,
    Block,
    Negotiate,
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActionKind::Permit => "PERMIT",
            ActionKind::Block => "BLOCK",
            ActionKind::Negotiate => "NEGOTIATE SECURITY",
        })
    }
}

/// A named, shared filter action (Q4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FilterAction {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub action: ActionKind,
    /// Quick mode methods in preference order (used only by `negotiate`).
    pub qm_methods: Vec<QmSecMethod>,
    /// "Accept unsecured communication, but always respond using IPsec".
    pub inpass: bool,
    /// "Allow unsecured communication with non-IPsec-aware computers" (fall back to clear).
    pub soft: bool,
    /// Quick mode (session key) perfect forward secrecy.
    pub qm_pfs: bool,
    pub last_modified: u64,
}

impl FilterAction {
    /// A negotiate action with Windows' default methods, inpass and soft off.
    pub fn new(name: &str, now: u64) -> FilterAction {
        FilterAction {
            name: name.to_string(),
            description: String::new(),
            action: ActionKind::Negotiate,
            qm_methods: default_qm_methods(),
            inpass: false,
            soft: false,
            qm_pfs: false,
            last_modified: now,
        }
    }
}
