//! The daemon's [`Handler`]: what oakleyd can answer today (quick mode SAs it installed,
//! data plane and SAD counters as the IP Security Monitor's quick mode statistics, the
//! dynamic configuration, the filters of the policy in force) and the hooks through which
//! the IKE side adds its part ([`IkeControl`], [`Service::register_sa`]).
//!
//! Nothing here handles key material: SA views are built from SPIs, addresses and
//! algorithm names only.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use control::{
    DynamicConfig, ErrorCode, FilterKind, FilterQuery, FilterReport, MainModeStats, MmFilterView,
    MmSa, QmFilterView, QmSa, QuickModeStats, SaCounters, SaFilter, Stats, StatsKind, Status,
};
use esp::Accounted;
use esp::counters::Counters;
use esp::sad::{InboundKey, OutboundId};

use super::{Handler, HandlerError};
use crate::dataplane::Dataplane;
use crate::firewall::from_policy::prefix_net;
use crate::manual::{ManualConfig, Suite};
use crate::startup::{Enforcer, SetConfigError};

/// What the IKE side provides to the control API. Every method has a neutral default, so
/// an implementation fills in what it has.
pub trait IkeControl: Send + Sync {
    /// Main mode (IKE) SAs.
    fn mm_sas(&self) -> Vec<MmSa> {
        Vec::new()
    }
    /// Deletes the matching IKE SAs (notifying the peers); returns how many.
    fn delete_mm_sas(&self, _filter: &SaFilter) -> usize {
        0
    }
    /// Deletes negotiated child SAs (with a Delete notification); the service removes
    /// the ones it registered itself.
    fn delete_qm_sas(&self, _filter: &SaFilter) -> usize {
        0
    }
    fn main_mode_stats(&self) -> MainModeStats {
        MainModeStats::default()
    }
    /// Fills the quick mode rows only IKE knows (pending key operations, rekeys).
    fn adjust_quick_mode(&self, _q: &mut QuickModeStats) {}
    /// `set config` changed a value IKE uses (ikelogging, strongcrlcheck, ...).
    fn config_changed(&self, _config: &DynamicConfig) {}
}

/// One SA pair the data plane holds, as the control API shows it.
#[derive(Clone, Debug)]
pub struct SaRecord {
    /// The view without counters (they are read live from the SAD).
    pub view: QmSa,
    pub inbound: InboundKey,
    pub outbound: OutboundId,
}

/// The daemon's control handler.
pub struct Service {
    enforcer: Arc<Enforcer>,
    dp: Arc<Dataplane>,
    sas: Mutex<Vec<SaRecord>>,
    key_additions: AtomicU64,
    key_deletions: AtomicU64,
    /// Counters of SAs deleted through the service: (inbound, outbound).
    retired: Mutex<(Counters, Counters)>,
    ike: RwLock<Option<Arc<dyn IkeControl>>>,
    ike_logging: AtomicBool,
}

fn suite_names(suite: &Suite) -> (Option<String>, Option<String>, Option<String>) {
    match suite {
        Suite::Esp(s) => (
            None,
            Some(if s.encryption.key_bits > 0 {
                format!("{} {}", s.encryption.name, s.encryption.key_bits)
            } else {
                s.encryption.name.to_string()
            }),
            s.integrity.map(|i| i.name.to_string()),
        ),
        Suite::Ah(a) => (Some(a.name.to_string()), None, None),
    }
}

fn counters(c: &Counters) -> SaCounters {
    SaCounters {
        packets: c.packets,
        bytes: c.transport_bytes + c.tunnel_bytes,
        not_authenticated: c.not_authenticated,
        not_decrypted: c.not_decrypted,
        replayed: c.replayed,
    }
}

impl Service {
    pub fn new(enforcer: Arc<Enforcer>, dp: Arc<Dataplane>) -> Service {
        let ike_logging = enforcer.config().ike_logging == 1;
        Service {
            enforcer,
            dp,
            sas: Mutex::new(Vec::new()),
            key_additions: AtomicU64::new(0),
            key_deletions: AtomicU64::new(0),
            retired: Mutex::new((Counters::default(), Counters::default())),
            ike: RwLock::new(None),
            ike_logging: AtomicBool::new(ike_logging),
        }
    }

    /// Plugs in the IKE side.
    pub fn set_ike(&self, ike: Arc<dyn IkeControl>) {
        *self.ike.write().unwrap_or_else(|p| p.into_inner()) = Some(ike);
    }

    fn ike(&self) -> Option<Arc<dyn IkeControl>> {
        self.ike.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether the IKE (Oakley) log is switched on (`set config property=ikelogging`).
    pub fn ike_logging(&self) -> bool {
        self.ike_logging.load(Ordering::Relaxed)
    }

    /// Records an SA pair installed in the data plane (manual keying, or IKE).
    pub fn register_sa(&self, record: SaRecord) {
        let mut sas = self.sas.lock().unwrap_or_else(|p| p.into_inner());
        sas.retain(|r| r.outbound != record.outbound);
        sas.push(record);
        self.key_additions.fetch_add(2, Ordering::Relaxed);
    }

    /// Forgets an SA pair (after the data plane deleted it), keeping its counters.
    pub fn unregister_sa(&self, outbound: OutboundId) {
        let removed: Vec<SaRecord> = {
            let mut sas = self.sas.lock().unwrap_or_else(|p| p.into_inner());
            let (gone, kept) = sas.drain(..).partition(|r| r.outbound == outbound);
            *sas = kept;
            gone
        };
        for r in removed {
            self.retire(&r);
        }
    }

    fn retire(&self, r: &SaRecord) {
        let (i, o) = self.live(r);
        let mut ret = self.retired.lock().unwrap_or_else(|p| p.into_inner());
        ret.0.add(&i);
        ret.1.add(&o);
    }

    /// Records the manually keyed SAs oakleyd installed (outbound ids 1..=n, as installed).
    pub fn register_manual(&self, cfg: &ManualConfig) {
        for (i, m) in cfg.sas.iter().enumerate() {
            let (ah, conf, integ) = suite_names(&m.suite);
            let protocol = match m.suite {
                Suite::Esp(_) => wire::ip::ESP,
                Suite::Ah(_) => wire::ip::AH,
            };
            let (me_t, peer_t) = if m.transport {
                (None, None)
            } else {
                (Some(m.local), Some(m.remote))
            };
            self.register_sa(SaRecord {
                view: QmSa {
                    name: m.name.clone(),
                    origin: "manual".into(),
                    me: m.local,
                    peer: m.remote,
                    mode: if m.transport { "transport" } else { "tunnel" }.into(),
                    me_selector: m.selector.local.to_string(),
                    peer_selector: m.selector.remote.to_string(),
                    protocol: m.selector.protocol,
                    me_port: port_of(&m.selector.local_ports),
                    peer_port: port_of(&m.selector.remote_ports),
                    me_tunnel_endpoint: me_t,
                    peer_tunnel_endpoint: peer_t,
                    ah_integrity: ah,
                    esp_confidentiality: conf,
                    esp_integrity: integ,
                    inbound_spi: m.in_spi,
                    outbound_spi: m.out_spi,
                    udp_encapsulation: m.encap,
                    inbound: SaCounters::default(),
                    outbound: SaCounters::default(),
                },
                inbound: InboundKey {
                    spi: m.in_spi,
                    protocol,
                    dst: m.local,
                },
                outbound: i as OutboundId + 1,
            });
        }
    }

    /// Live counters of a registered pair (inbound, outbound).
    fn live(&self, r: &SaRecord) -> (Counters, Counters) {
        let i = self
            .dp
            .sad
            .lookup_inbound(&r.inbound)
            .and_then(|sa| sa.lock().ok().map(|sa| *sa.counters()))
            .unwrap_or_default();
        let o = self
            .dp
            .sad
            .lookup_outbound(r.outbound)
            .and_then(|sa| sa.lock().ok().map(|sa| *sa.counters()))
            .unwrap_or_default();
        (i, o)
    }

    fn records(&self) -> Vec<SaRecord> {
        self.sas.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn quick_mode(&self) -> QuickModeStats {
        let sad = &self.dp.sad;
        let totals = sad.totals();
        let (mut rx, mut tx) = *self.retired.lock().unwrap_or_else(|p| p.into_inner());
        let records = self.records();
        for r in &records {
            let (i, o) = self.live(r);
            rx.add(&i);
            tx.add(&o);
        }
        let mut q = QuickModeStats {
            active_security_associations: (sad.inbound_len() + sad.outbound_len()) as u64,
            key_additions: self.key_additions.load(Ordering::Relaxed),
            key_deletions: self.key_deletions.load(Ordering::Relaxed),
            active_tunnels: records.iter().filter(|r| r.view.mode == "tunnel").count() as u64,
            bad_spi_packets: sad.bad_spi_packets(),
            packets_not_decrypted: totals.not_decrypted,
            packets_not_authenticated: totals.not_authenticated,
            packets_with_replay_detection: totals.replayed,
            confidential_bytes_sent: tx.confidential_bytes,
            confidential_bytes_received: rx.confidential_bytes,
            authenticated_bytes_sent: tx.authenticated_bytes,
            authenticated_bytes_received: rx.authenticated_bytes,
            transport_bytes_sent: tx.transport_bytes,
            transport_bytes_received: rx.transport_bytes,
            bytes_sent_in_tunnels: tx.tunnel_bytes,
            bytes_received_in_tunnels: rx.tunnel_bytes,
            ..QuickModeStats::default()
        };
        if let Some(ike) = self.ike() {
            ike.adjust_quick_mode(&mut q);
        }
        q
    }

    fn data_plane(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        if let Ok(serde_json::Value::Object(o)) = serde_json::to_value(self.dp.stats.snapshot()) {
            for (k, v) in o {
                if let Some(n) = v.as_u64() {
                    m.insert(k, n);
                }
            }
        }
        m
    }
}

fn port_of(r: &std::ops::RangeInclusive<u16>) -> u16 {
    if r.start() == r.end() { *r.start() } else { 0 }
}

fn covers(net: Option<ipnet::IpNet>, addr: Option<IpAddr>) -> bool {
    match (net, addr) {
        (_, None) | (None, Some(_)) => true,
        (Some(n), Some(a)) => n.contains(&a),
    }
}

impl Handler for Service {
    fn status(&self) -> Status {
        let (firewall, warnings) = self.enforcer.describe();
        Status {
            version: env!("CARGO_PKG_VERSION").into(),
            pid: std::process::id(),
            firewall,
            policies: self.enforcer.applied(),
            warnings,
        }
    }

    fn reload(&self) -> Result<Status, HandlerError> {
        self.enforcer
            .apply_policy()
            .map_err(|e| HandlerError::new(ErrorCode::Failed, e))?;
        Ok(self.status())
    }

    fn config(&self) -> DynamicConfig {
        self.enforcer.config()
    }

    fn set_config(&self, property: &str, value: &str) -> Result<DynamicConfig, HandlerError> {
        let (_, cfg) = self
            .enforcer
            .set_config(property, value)
            .map_err(|e| match e {
                SetConfigError::Invalid(e) => {
                    HandlerError::new(ErrorCode::InvalidValue, e.to_string())
                }
                SetConfigError::Failed(m) => HandlerError::new(ErrorCode::Failed, m),
            })?;
        self.ike_logging
            .store(cfg.ike_logging == 1, Ordering::Relaxed);
        tracing::info!(property, value, "dynamic configuration changed");
        if let Some(ike) = self.ike() {
            ike.config_changed(&cfg);
        }
        Ok(cfg)
    }

    fn stats(&self, kind: StatsKind) -> Stats {
        let main_mode = match kind {
            StatsKind::Ipsec => None,
            _ => self.ike().map(|i| i.main_mode_stats()),
        };
        let (quick_mode, data_plane) = match kind {
            StatsKind::Ike => (QuickModeStats::default(), BTreeMap::new()),
            _ => (self.quick_mode(), self.data_plane()),
        };
        Stats {
            main_mode,
            quick_mode,
            data_plane,
        }
    }

    fn qm_sas(&self, filter: &SaFilter) -> Vec<QmSa> {
        self.records()
            .into_iter()
            .filter(|r| filter.matches(r.view.me, r.view.peer, r.view.protocol))
            .map(|r| {
                let (i, o) = self.live(&r);
                let mut v = r.view;
                v.inbound = counters(&i);
                v.outbound = counters(&o);
                v
            })
            .collect()
    }

    fn delete_qm_sas(&self, filter: &SaFilter) -> Result<usize, HandlerError> {
        let doomed: Vec<SaRecord> = self
            .records()
            .into_iter()
            .filter(|r| filter.matches(r.view.me, r.view.peer, r.view.protocol))
            .collect();
        let mut n = 0;
        for r in &doomed {
            // Counters first, then the SAs: outbound traffic of the pair is dropped from
            // now on (no SA), never sent in the clear.
            self.unregister_sa(r.outbound);
            let a = self.dp.sad.delete_outbound(r.outbound);
            let b = self.dp.sad.delete_inbound(&r.inbound);
            self.key_deletions
                .fetch_add(u64::from(a) + u64::from(b), Ordering::Relaxed);
            n += 1;
        }
        if let Some(ike) = self.ike() {
            n += ike.delete_qm_sas(filter);
        }
        Ok(n)
    }

    fn qm_filters(&self, q: &FilterQuery) -> FilterReport<QmFilterView> {
        let p = self.enforcer.policy();
        let generic = (q.kind != Some(FilterKind::Specific)).then(|| p.generic_qm.clone());
        let specific = (q.kind != Some(FilterKind::Generic)).then(|| {
            p.compiled
                .filters
                .iter()
                .filter(|f| covers(prefix_net(&f.src), q.src) && covers(prefix_net(&f.dst), q.dst))
                .filter_map(|f| {
                    let r = p.compiled.rules.get(f.rule)?;
                    let port = |x: Option<u16>| x.unwrap_or(0);
                    Some(QmFilterView {
                        name: format!("{}/{}", r.policy, r.rule),
                        negotiation_policy: r.filter_action.clone(),
                        source: f.src.to_string(),
                        destination: f.dst.to_string(),
                        protocol: f
                            .protocol
                            .map_or("ANY".into(), |n| policy::Protocol::Number(n).to_string()),
                        src_port: port(f.src_port),
                        dst_port: port(f.dst_port),
                        mirrored: None,
                        direction: Some(f.direction.to_string()),
                        inbound_action: r.action.to_string(),
                        outbound_action: r.action.to_string(),
                        inpass: r.inpass,
                        soft: r.soft,
                        tunnel_endpoint: r.tunnel.map(|t| t.to_string()),
                        connection_type: r.conn_type.to_string(),
                        weight: Some(f.weight),
                    })
                })
                .collect()
        });
        FilterReport { generic, specific }
    }

    fn mm_filters(&self, q: &FilterQuery) -> FilterReport<MmFilterView> {
        let p = self.enforcer.policy();
        let generic = (q.kind != Some(FilterKind::Specific)).then(|| p.generic_mm.clone());
        let specific = (q.kind != Some(FilterKind::Generic)).then(|| {
            let mut seen = HashSet::new();
            p.compiled
                .filters
                .iter()
                .filter(|f| covers(prefix_net(&f.src), q.src) && covers(prefix_net(&f.dst), q.dst))
                .filter_map(|f| {
                    let r = p.compiled.rules.get(f.rule)?;
                    if r.action != policy::ActionKind::Negotiate
                        || !seen.insert((f.src, f.dst, f.direction, f.rule))
                    {
                        return None;
                    }
                    Some(MmFilterView {
                        name: format!("{}/{}", r.policy, r.rule),
                        source: f.src.to_string(),
                        destination: f.dst.to_string(),
                        authentication_methods: p
                            .auth
                            .get(&(r.policy.clone(), r.rule.clone()))
                            .cloned()
                            .unwrap_or_default(),
                        connection_type: r.conn_type.to_string(),
                        direction: Some(f.direction.to_string()),
                        weight: Some(f.weight),
                    })
                })
                .collect()
        });
        FilterReport { generic, specific }
    }

    fn mm_sas(&self, filter: &SaFilter) -> Result<Vec<MmSa>, HandlerError> {
        let ike = self
            .ike()
            .ok_or_else(|| HandlerError::unsupported("main mode SAs"))?;
        Ok(ike
            .mm_sas()
            .into_iter()
            .filter(|s| filter.matches(s.me, s.peer, None))
            .collect())
    }

    fn delete_mm_sas(&self, filter: &SaFilter) -> Result<usize, HandlerError> {
        let ike = self
            .ike()
            .ok_or_else(|| HandlerError::unsupported("main mode SAs"))?;
        Ok(ike.delete_mm_sas(filter))
    }
}
