//! From IPsec policy to what the daemon does with it.
//!
//! The daemon loads the stores (persistent first, then the others by precedence: see
//! `policy::rsop`), compiles the applied policies for this host (`policy::compile`) and
//! translates the result once, here, into:
//! - a [`Classifier`] the data plane asks for every cleartext packet leaving through the TUN
//!   device (negotiate, permit, block, or no rule);
//! - per compiled rule, its [`Negotiation`]: the IKE SA proposals (the policy's main mode
//!   methods), the child SA proposals (the filter action's quick mode methods), the
//!   pre-shared key, transport or tunnel mode, lifetimes, fallback to clear;
//! - the prefixes to route into the TUN device (destinations of outbound negotiate and
//!   block filters);
//! - on demand, the IKE configuration toward one peer ([`PolicyMap::peer_config`]) and the
//!   traffic selectors an acquire proposes ([`PolicyMap::acquire_selectors`]).
//!
//! Mapping (Windows names to IKEv2 transforms, RFC 7296 §3.3.2 numbers): 3DES → ENCR 3,
//! DES → ENCR 2, AES128/192/256 → ENCR 12 with a key length, AESGCM128/192/256 → ENCR 20
//! (16-octet ICV, no integrity), None → ENCR_NULL (11); MD5/SHA1/SHA256/384/512 → INTEG
//! 1/2/12/13/14 and, for the IKE SA, PRF 1/2/5/6/7; the group number is the IANA group.
//! Quick mode PFS uses the main mode group of the first method (as Windows does). AH and
//! AH+ESP methods are skipped (the IKE engine negotiates ESP only), as are Kerberos and
//! certificate authentication (pre-shared keys only, for now): a negotiate rule left
//! without a usable method or key is *unnegotiable* and its traffic is dropped, never sent
//! in the clear.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ike::{AuthMethod, ChildSuite, IkeSuite, Lifetime, Mode, PeerConfig};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use policy::address::Prefix;
use policy::algorithms::{Cipher, Integrity};
use policy::classify::Match;
use policy::compile::{CompiledRule, Direction, SpecificFilter};
use policy::methods::{MmSecMethod, QmSecMethod};
use policy::model::ActionKind;
use policy::resolver::HostResolver;
use policy::{Classifier, Compiled, FileStore, PolicySource, Rsop, StoreLocation};
use wire::ikev2::{Identification, TrafficSelector};

use crate::packet::FiveTuple;
use crate::routing::ProtectedRoute;

/// Everything needed to negotiate for one rule (or the default response rule).
pub struct Negotiation {
    /// "policy / rule", for logs.
    pub name: String,
    pub psk: crypto::Secret,
    pub ike_suites: Vec<IkeSuite>,
    /// Child SA suites, each with the kilobyte lifetime of the method it came from.
    pub child_suites: Vec<(ChildSuite, u64)>,
    /// Tunnel endpoint (the peer); `None` is transport mode.
    pub tunnel: Option<IpAddr>,
    pub ike_lifetime: Lifetime,
    pub child_lifetime: Lifetime,
    /// Fall back to clear with computers that do not answer (Windows "soft").
    pub soft: bool,
}

impl std::fmt::Debug for Negotiation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Negotiation")
            .field("name", &self.name)
            .field("ike_suites", &self.ike_suites)
            .field("child_suites", &self.child_suites)
            .field("tunnel", &self.tunnel)
            .field("soft", &self.soft)
            .finish_non_exhaustive()
    }
}

/// What the daemon does for one compiled rule.
#[derive(Debug, Clone)]
pub enum RuleSetup {
    Permit,
    Block,
    Negotiate(Arc<Negotiation>),
    /// A negotiate rule the daemon cannot negotiate (no PSK, no ESP method...): its
    /// traffic is dropped.
    Unnegotiable(String),
}

/// The translated policy of this host.
pub struct PolicyMap {
    pub classifier: Classifier,
    /// Parallel to the compiled rules.
    pub rules: Vec<RuleSetup>,
    /// The default response rule of the highest-precedence applied policy that has an
    /// active one with a usable key.
    pub default_response: Option<Arc<Negotiation>>,
    /// This host's addresses when the policy was compiled.
    pub local: Vec<IpAddr>,
    /// Problems found while loading, compiling and translating (also logged).
    pub warnings: Vec<String>,
    /// Names of the applied policies, highest precedence first.
    pub applied: Vec<String>,
}

/// The resultant set of policy of the stores in `state_dir`, compiled for `host`.
pub fn load(state_dir: &Path, host: &dyn HostResolver) -> (Rsop, Compiled) {
    let persistent = FileStore::open(state_dir, StoreLocation::Persistent);
    let local = FileStore::open(state_dir, StoreLocation::Local);
    load_from(&[&persistent, &local], host)
}

/// The resultant set of policy of any stores (a domain store later; tests), compiled.
pub fn load_from(sources: &[&dyn PolicySource], host: &dyn HostResolver) -> (Rsop, Compiled) {
    let rsop = policy::resultant(sources);
    let compiled = policy::compile_rsop(&rsop, host);
    (rsop, compiled)
}

fn encr(c: Cipher) -> Option<(u16, Option<u16>, bool)> {
    use crypto::registry::encr;
    // (ENCR id, key bits, is AEAD)
    Some(match c {
        Cipher::None => (encr::NULL, None, false),
        Cipher::Des => (encr::DES, None, false),
        Cipher::TripleDes => (encr::TRIPLE_DES, None, false),
        Cipher::Aes128 => (encr::AES_CBC, Some(128), false),
        Cipher::Aes192 => (encr::AES_CBC, Some(192), false),
        Cipher::Aes256 => (encr::AES_CBC, Some(256), false),
        Cipher::AesGcm128 => (encr::AES_GCM_16, Some(128), true),
        Cipher::AesGcm192 => (encr::AES_GCM_16, Some(192), true),
        Cipher::AesGcm256 => (encr::AES_GCM_16, Some(256), true),
    })
}

fn integ(i: Integrity) -> Option<u16> {
    use crypto::registry::integ;
    match i {
        Integrity::None => None,
        Integrity::Md5 => Some(integ::HMAC_MD5_96),
        Integrity::Sha1 => Some(integ::HMAC_SHA1_96),
        Integrity::Sha256 => Some(integ::HMAC_SHA2_256_128),
        Integrity::Sha384 => Some(integ::HMAC_SHA2_384_192),
        Integrity::Sha512 => Some(integ::HMAC_SHA2_512_256),
    }
}

fn prf(i: Integrity) -> u16 {
    use crypto::registry::prf_id;
    match i {
        Integrity::Md5 => prf_id::HMAC_MD5,
        Integrity::Sha1 => prf_id::HMAC_SHA1,
        Integrity::Sha384 => prf_id::HMAC_SHA2_384,
        Integrity::Sha512 => prf_id::HMAC_SHA2_512,
        Integrity::Sha256 | Integrity::None => prf_id::HMAC_SHA2_256,
    }
}

/// A main mode method as an IKE SA suite (`None` for ones IKEv2 cannot use).
pub fn ike_suite(m: &MmSecMethod) -> Option<IkeSuite> {
    let (e, bits, aead) = encr(m.cipher)?;
    if m.cipher == Cipher::None {
        return None;
    }
    let integ = if aead { None } else { Some(integ(m.hash)?) };
    Some(IkeSuite {
        encr: e,
        key_bits: bits,
        prf: prf(m.hash),
        integ,
        dh: m.group.0,
    })
}

/// A quick mode method as a child SA suite (ESP only; `None` for AH).
pub fn child_suite(m: &QmSecMethod, pfs: Option<u16>) -> Option<ChildSuite> {
    if m.ah.is_some() {
        return None;
    }
    let esp = m.esp?;
    let (e, bits, aead) = encr(esp.cipher)?;
    let i = if aead { None } else { integ(esp.integrity) };
    if !aead && i.is_none() && esp.cipher == Cipher::None {
        return None;
    }
    Some(ChildSuite {
        encr: e,
        key_bits: bits,
        integ: i,
        dh: pfs,
        esn: false,
    })
}

/// Windows lifetimes are hard limits: rekey at 90%, less up to 5% jitter.
fn lifetime(secs: u64) -> Lifetime {
    let hard = Duration::from_secs(secs.max(1));
    Lifetime {
        rekey: hard * 9 / 10,
        jitter: hard / 20,
        hard,
    }
}

fn first_psk(auth: &[policy::AuthMethod]) -> Option<crypto::Secret> {
    auth.iter().find_map(|a| match a {
        policy::AuthMethod::Psk { key } => {
            Some(crypto::Secret::from_slice(key.expose().as_bytes()))
        }
        _ => None,
    })
}

#[allow(clippy::too_many_arguments)]
fn negotiation(
    name: String,
    p: &policy::Policy,
    auth: &[policy::AuthMethod],
    methods: &[QmSecMethod],
    pfs: bool,
    tunnel: Option<IpAddr>,
    soft: bool,
) -> Result<Negotiation, String> {
    let psk = first_psk(auth).ok_or_else(|| {
        format!("{name}: no pre-shared key among its authentication methods (Kerberos and certificates are not supported yet)")
    })?;
    let ike_suites: Vec<IkeSuite> = p.mm_methods.iter().filter_map(ike_suite).collect();
    if ike_suites.is_empty() {
        return Err(format!("{name}: no main mode method usable with IKEv2"));
    }
    let group = pfs.then(|| ike_suites[0].dh);
    let mut child_suites: Vec<(ChildSuite, u64)> = Vec::new();
    for m in methods {
        if let Some(s) = child_suite(m, group)
            && !child_suites.iter().any(|(c, _)| *c == s)
        {
            child_suites.push((s, m.lifetime_kb));
        }
    }
    if child_suites.is_empty() {
        return Err(format!(
            "{name}: no ESP security method (AH is not negotiated yet)"
        ));
    }
    let secs = methods
        .iter()
        .filter(|m| m.ah.is_none())
        .map(|m| m.lifetime_secs)
        .min()
        .unwrap_or(policy::methods::DEFAULT_QM_LIFETIME_SECS);
    Ok(Negotiation {
        name,
        psk,
        ike_suites,
        child_suites,
        tunnel,
        ike_lifetime: lifetime(u64::from(p.mm_lifetime_min.max(1)) * 60),
        child_lifetime: lifetime(secs),
        soft,
    })
}

/// A compiled prefix as one or two networks (length 0 is "any" of both families).
pub fn nets(p: &Prefix) -> Vec<IpNet> {
    if p.len == 0 {
        return vec![IpNet::V4(Ipv4Net::default()), IpNet::V6(Ipv6Net::default())];
    }
    match p.ip() {
        IpAddr::V4(a) => Ipv4Net::new(a, p.family_len())
            .map(IpNet::V4)
            .into_iter()
            .collect(),
        IpAddr::V6(a) => Ipv6Net::new(a, p.family_len())
            .map(IpNet::V6)
            .into_iter()
            .collect(),
    }
}

/// The traffic selector of a network with a protocol and a port (`None`: any).
pub fn ts(net: IpNet, protocol: Option<u8>, port: Option<u16>) -> TrafficSelector {
    TrafficSelector::Range {
        ip_protocol: protocol.unwrap_or(0),
        start_port: port.unwrap_or(0),
        end_port: port.unwrap_or(u16::MAX),
        start: net.network(),
        end: net.broadcast(),
    }
}

fn push_unique(v: &mut Vec<TrafficSelector>, t: TrafficSelector) {
    if !v.contains(&t) {
        v.push(t);
    }
}

/// (our side, peer side) traffic selectors.
pub type Selectors = (Vec<TrafficSelector>, Vec<TrafficSelector>);

impl PolicyMap {
    /// Translates compiled policy; `local` are this host's addresses.
    pub fn new(rsop: &Rsop, compiled: Compiled, local: Vec<IpAddr>) -> Self {
        let mut warnings = compiled.warnings.clone();
        for s in &rsop.stores {
            if let policy::rsop::StoreState::Error { message } = &s.state {
                warnings.push(format!("{}: {message}", s.location));
            }
        }
        let find_policy = |r: &CompiledRule| {
            rsop.applied
                .iter()
                .find(|a| Some(a.location) == r.store && a.policy().name == r.policy)
                .map(|a| a.policy())
        };
        let mut rules = Vec::with_capacity(compiled.rules.len());
        for r in &compiled.rules {
            let setup = match r.action {
                ActionKind::Permit => RuleSetup::Permit,
                ActionKind::Block => RuleSetup::Block,
                ActionKind::Negotiate => {
                    let name = format!("{} / {}", r.policy, r.rule);
                    let made = find_policy(r)
                        .and_then(|p| p.rule(&r.rule).map(|rule| (p, rule)))
                        .ok_or_else(|| format!("{name}: rule not found in the applied policy"))
                        .and_then(|(p, rule)| {
                            negotiation(
                                name.clone(),
                                p,
                                &rule.auth,
                                &r.methods,
                                r.qm_pfs,
                                r.tunnel,
                                r.soft,
                            )
                        });
                    match made {
                        Ok(n) => RuleSetup::Negotiate(Arc::new(n)),
                        Err(e) => {
                            warnings.push(format!("{e}; its traffic is dropped"));
                            RuleSetup::Unnegotiable(e)
                        }
                    }
                }
            };
            rules.push(setup);
        }
        let mut default_response = None;
        for a in &rsop.applied {
            let p = a.policy();
            let d = &p.default_response;
            if !d.active {
                continue;
            }
            let name = format!("{} / default response", p.name);
            match negotiation(name, p, &d.auth, &d.qm_methods, d.qm_pfs, None, false) {
                Ok(n) => {
                    default_response = Some(Arc::new(n));
                    break;
                }
                Err(e) => warnings.push(format!("{e}; it does not answer")),
            }
        }
        Self {
            classifier: Classifier::new(compiled),
            rules,
            default_response,
            local,
            warnings,
            applied: rsop
                .applied
                .iter()
                .map(|a| format!("{} ({})", a.policy().name, a.location))
                .collect(),
        }
    }

    /// The compiled filters and rules.
    pub fn compiled(&self) -> &Compiled {
        self.classifier.compiled()
    }

    /// Classifies a packet leaving this host (or forwarded by it).
    pub fn classify_outbound(&self, t: &FiveTuple) -> Option<(Match<'_>, &RuleSetup)> {
        let p = policy::Packet {
            src: t.src,
            dst: t.dst,
            protocol: t.protocol,
            src_port: t.src_port,
            dst_port: t.dst_port,
            direction: Direction::Outbound,
        };
        let m = self.classifier.classify(&p)?;
        let setup = self.rules.get(m.filter.rule)?;
        Some((m, setup))
    }

    fn is_local(&self, a: IpAddr) -> bool {
        self.local.contains(&a)
    }

    /// True for a negotiate rule whose tunnel endpoint is this host: it describes the
    /// inbound half of a tunnel that the peer's rule (here: the mirror rule) negotiates.
    fn tunnel_to_us(&self, n: &Negotiation) -> bool {
        n.tunnel.is_some_and(|t| self.is_local(t))
    }

    /// Prefixes to route into the TUN device: destinations of outbound negotiate and block
    /// filters (permitted traffic that falls under them is re-sent in the clear), with
    /// the local source address when the filter names exactly one of ours.
    pub fn routes(&self) -> Vec<ProtectedRoute> {
        let c = self.compiled();
        let mut out: Vec<ProtectedRoute> = Vec::new();
        for f in &c.filters {
            if f.direction != Direction::Outbound {
                continue;
            }
            match self.rules.get(f.rule) {
                Some(RuleSetup::Negotiate(n)) if self.tunnel_to_us(n) => continue,
                Some(RuleSetup::Negotiate(_) | RuleSetup::Block | RuleSetup::Unnegotiable(_)) => {}
                _ => continue,
            }
            // Our address inside the filter's source (a host, or a gateway's inner
            // address), so local traffic into the prefix leaves from the right address.
            let src = (f.src.len > 0)
                .then(|| {
                    self.local
                        .iter()
                        .find(|a| f.src.contains(Prefix::key(**a)))
                        .copied()
                })
                .flatten();
            for prefix in nets(&f.dst) {
                let source = src.filter(|s| s.is_ipv4() == prefix.addr().is_ipv4());
                if src.is_some() && source.is_none() {
                    continue;
                }
                match out.iter_mut().find(|r| r.prefix == prefix) {
                    // Several of our addresses send into the prefix: let the kernel
                    // choose (sockets bound to an address keep theirs anyway).
                    Some(r) if r.source != source => r.source = None,
                    Some(_) => {}
                    None => out.push(ProtectedRoute { prefix, source }),
                }
            }
        }
        out
    }

    /// The peer and selectors of an acquire for a packet that matched negotiate filter `f`
    /// of `n`: transport mode protects this pair of hosts (with the filter's protocol and
    /// ports), tunnel mode the filter's networks, toward the tunnel endpoint.
    pub fn acquire_selectors(
        &self,
        t: &FiveTuple,
        f: &SpecificFilter,
        n: &Negotiation,
    ) -> (IpAddr, Selectors) {
        let host = |a: IpAddr| IpNet::from(a);
        match n.tunnel {
            None => (
                t.dst,
                (
                    vec![ts(host(t.src), f.protocol, f.src_port)],
                    vec![ts(host(t.dst), f.protocol, f.dst_port)],
                ),
            ),
            Some(peer) => {
                let family = |p: &Prefix| {
                    nets(p)
                        .into_iter()
                        .find(|n| n.addr().is_ipv4() == t.src.is_ipv4())
                };
                let l = family(&f.src).unwrap_or_else(|| host(t.src));
                let r = family(&f.dst).unwrap_or_else(|| host(t.dst));
                (
                    peer,
                    (
                        vec![ts(l, f.protocol, f.src_port)],
                        vec![ts(r, f.protocol, f.dst_port)],
                    ),
                )
            }
        }
    }

    /// The IKE configuration toward `peer` from our address `local`: every negotiate rule
    /// that covers traffic between the two (transport rules whose filters match the pair
    /// of hosts, tunnel rules whose endpoint is the peer) contributes its selectors and
    /// proposals, in policy order; the first one gives the key, mode and lifetimes. With no
    /// such rule the default response rule answers (transport, host to host). `None`: the
    /// policy has nothing to negotiate with this peer.
    pub fn peer_config(
        &self,
        peer: IpAddr,
        local: IpAddr,
        force_encap: bool,
    ) -> Option<PeerConfig> {
        let c = self.compiled();
        let mut chosen: Vec<&Arc<Negotiation>> = Vec::new();
        let (mut lts, mut rts) = (Vec::new(), Vec::new());
        let key = |a: IpAddr| Prefix::key(a);
        for f in &c.filters {
            let Some(RuleSetup::Negotiate(n)) = self.rules.get(f.rule) else {
                continue;
            };
            if self.tunnel_to_us(n) {
                continue;
            }
            let fits = match (n.tunnel, f.direction) {
                (Some(t), Direction::Outbound) if t == peer => {
                    let fam = |p: &Prefix| {
                        nets(p)
                            .into_iter()
                            .filter(|x| x.addr().is_ipv4() == local.is_ipv4())
                            .collect::<Vec<_>>()
                    };
                    for l in fam(&f.src) {
                        push_unique(&mut lts, ts(l, f.protocol, f.src_port));
                    }
                    for r in fam(&f.dst) {
                        push_unique(&mut rts, ts(r, f.protocol, f.dst_port));
                    }
                    true
                }
                (None, Direction::Outbound)
                    if f.src.contains(key(local)) && f.dst.contains(key(peer)) =>
                {
                    push_unique(&mut lts, ts(local.into(), f.protocol, f.src_port));
                    push_unique(&mut rts, ts(peer.into(), f.protocol, f.dst_port));
                    true
                }
                (None, Direction::Inbound)
                    if f.src.contains(key(peer)) && f.dst.contains(key(local)) =>
                {
                    push_unique(&mut lts, ts(local.into(), f.protocol, f.dst_port));
                    push_unique(&mut rts, ts(peer.into(), f.protocol, f.src_port));
                    true
                }
                _ => false,
            };
            if fits && !chosen.iter().any(|x| Arc::ptr_eq(x, n)) {
                chosen.push(n);
            }
        }
        if chosen.is_empty() {
            let d = self.default_response.as_ref()?;
            chosen.push(d);
            lts.push(ts(local.into(), None, None));
            rts.push(ts(peer.into(), None, None));
        }
        let first = chosen[0];
        let mut ike_suites: Vec<IkeSuite> = Vec::new();
        let mut child_suites: Vec<ChildSuite> = Vec::new();
        for n in &chosen {
            for s in &n.ike_suites {
                if !ike_suites.contains(s) {
                    ike_suites.push(*s);
                }
            }
            for (s, _) in &n.child_suites {
                if !child_suites.contains(s) {
                    child_suites.push(*s);
                }
            }
        }
        Some(PeerConfig {
            name: first.name.clone(),
            local: std::net::SocketAddr::new(local, 500),
            remote: std::net::SocketAddr::new(peer, 500),
            local_id: Identification::address(local),
            remote_id: None,
            auth: AuthMethod::Psk(first.psk.clone()),
            ike_suites,
            child_suites,
            local_ts: lts,
            remote_ts: rts,
            mode: if first.tunnel.is_some() {
                Mode::Tunnel
            } else {
                Mode::Transport
            },
            ike_lifetime: first.ike_lifetime,
            child_lifetime: first.child_lifetime,
            dpd: None,
            force_encap,
        })
    }

    /// The kilobyte lifetime of the method a child suite came from (0: none known).
    pub fn lifetime_kb(&self, suite: &ChildSuite) -> u64 {
        self.rules
            .iter()
            .filter_map(|r| match r {
                RuleSetup::Negotiate(n) => Some(n),
                _ => None,
            })
            .chain(self.default_response.iter())
            .flat_map(|n| n.child_suites.iter())
            .find(|(s, _)| s == suite)
            .map_or(0, |(_, kb)| *kb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::address::Address;
    use policy::model::{
        ConnectionType, Filter, FilterAction, FilterList, Policy, Rule, Store, TunnelEndpoint,
    };
    use policy::resolver::HostConfig;

    fn store(tunnel: Option<&str>, filter: Filter, methods: &str) -> Store {
        let mut s = Store::default();
        s.filter_lists.push(FilterList {
            name: "L".into(),
            description: String::new(),
            filters: vec![filter],
            last_modified: 0,
        });
        let mut a = FilterAction::new("A", 0);
        a.qm_methods = QmSecMethod::parse_list(methods).unwrap();
        a.qm_pfs = true;
        s.filter_actions.push(a);
        let mut p = Policy::new("P", 0);
        p.mm_methods = MmSecMethod::parse_list("AES128-SHA256-14 3DES-SHA1-2").unwrap();
        p.rules.push(Rule {
            name: "R".into(),
            description: String::new(),
            filter_list: "L".into(),
            filter_action: "A".into(),
            auth: vec![
                policy::AuthMethod::Kerberos,
                policy::AuthMethod::Psk {
                    key: policy::Secret::new("k"),
                },
            ],
            tunnel: tunnel.map(|t| TunnelEndpoint::Ip(t.parse().unwrap())),
            conn_type: ConnectionType::All,
            active: true,
        });
        p.default_response.active = false;
        s.policies.push(p);
        s.assigned = Some("P".into());
        s
    }

    fn map(s: &Store, me: &str) -> PolicyMap {
        let dir = tempfile_dir();
        FileStore::open(&dir, StoreLocation::Local).save(s).unwrap();
        let host = HostConfig {
            me: vec![me.parse().unwrap()],
            ..HostConfig::default()
        };
        let (rsop, compiled) = load(&dir, &host);
        let _ = std::fs::remove_dir_all(&dir);
        PolicyMap::new(&rsop, compiled, host.me.clone())
    }

    fn tempfile_dir() -> std::path::PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let d = std::env::temp_dir().join(format!(
            "oakley-pm-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn tuple(src: &str, dst: &str) -> FiveTuple {
        FiveTuple {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: 6,
            src_port: 40000,
            dst_port: 80,
            opaque_ports: false,
        }
    }

    #[test]
    fn transport_rule_to_peer_config_and_acquire() {
        let f = Filter::new(
            Address::Me,
            Address::parse("10.9.0.0", Some("255.255.255.0")).unwrap(),
        );
        let m = map(
            &store(
                None,
                f,
                "ESP[AESGCM128,None]:3600s ESP[AES256,SHA256] AH[SHA1]",
            ),
            "10.9.0.1",
        );
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let t = tuple("10.9.0.1", "10.9.0.7");
        let (mt, setup) = m.classify_outbound(&t).unwrap();
        let RuleSetup::Negotiate(n) = setup else {
            panic!("{setup:?}")
        };
        assert_eq!(n.ike_suites.len(), 2);
        assert_eq!(n.ike_suites[0].encr, 12);
        assert_eq!(n.ike_suites[0].prf, 5);
        assert_eq!(n.ike_suites[1].encr, 3);
        // AH is skipped; PFS uses the first main mode group.
        assert_eq!(n.child_suites.len(), 2);
        assert_eq!(n.child_suites[0].0.encr, 20);
        assert_eq!(n.child_suites[0].0.integ, None);
        assert_eq!(n.child_suites[0].0.dh, Some(14));
        assert_eq!(n.child_lifetime.hard, Duration::from_secs(3600));
        let (peer, (l, r)) = m.acquire_selectors(&t, mt.filter, n);
        assert_eq!(peer, t.dst);
        assert_eq!(l, vec![ts("10.9.0.1/32".parse().unwrap(), None, None)]);
        assert_eq!(r, vec![ts("10.9.0.7/32".parse().unwrap(), None, None)]);
        let pc = m
            .peer_config(
                "10.9.0.7".parse().unwrap(),
                "10.9.0.1".parse().unwrap(),
                false,
            )
            .unwrap();
        assert_eq!(pc.mode, Mode::Transport);
        assert_eq!(pc.local_ts, l);
        assert_eq!(pc.remote_ts, r);
        assert!(
            m.peer_config(
                "10.8.0.7".parse().unwrap(),
                "10.9.0.1".parse().unwrap(),
                false
            )
            .is_none()
        );
        let routes = m.routes();
        assert_eq!(routes.len(), 1);
        assert_eq!(routes[0].prefix, "10.9.0.0/24".parse::<IpNet>().unwrap());
        assert_eq!(routes[0].source, Some("10.9.0.1".parse().unwrap()));
    }

    #[test]
    fn tunnel_rule_and_unnegotiable_rules() {
        let mut f = Filter::new(
            Address::parse("10.1.0.0", Some("255.255.255.0")).unwrap(),
            Address::parse("10.2.0.0", Some("255.255.255.0")).unwrap(),
        );
        f.mirrored = false;
        let m = map(
            &store(Some("10.0.0.2"), f.clone(), "ESP[AES128,SHA1]"),
            "10.0.0.1",
        );
        let t = tuple("10.1.0.5", "10.2.0.9");
        let (mt, RuleSetup::Negotiate(n)) = m.classify_outbound(&t).unwrap() else {
            panic!()
        };
        let (peer, (l, r)) = m.acquire_selectors(&t, mt.filter, n);
        assert_eq!(peer, "10.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(l, vec![ts("10.1.0.0/24".parse().unwrap(), None, None)]);
        assert_eq!(r, vec![ts("10.2.0.0/24".parse().unwrap(), None, None)]);
        let pc = m
            .peer_config(
                "10.0.0.2".parse().unwrap(),
                "10.0.0.1".parse().unwrap(),
                true,
            )
            .unwrap();
        assert_eq!(pc.mode, Mode::Tunnel);
        assert!(pc.force_encap);
        assert_eq!((pc.local_ts, pc.remote_ts), (l, r));
        // Only AH: nothing to negotiate, so the traffic is dropped.
        let m = map(&store(Some("10.0.0.2"), f, "AH[SHA1]"), "10.0.0.1");
        assert!(matches!(
            m.classify_outbound(&t).unwrap().1,
            RuleSetup::Unnegotiable(_)
        ));
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    }
}
