//! Policy in the data path, and acquires: the [`PolicyHook`] the daemon installs in its
//! data plane when it negotiates with IKE.
//!
//! For every cleartext packet leaving through the TUN device the compiled policy decides:
//! permit → re-sent in the clear (with the bypass mark), block → dropped, negotiate →
//! sealed with the SA that covers it. A packet to negotiate with no SA yet is queued (a
//! few packets per flow, a bounded number of flows and bytes) and the IKE task is asked
//! for an SA (an *acquire*, once per flow); when the SA is installed the IKE task sends
//! the queued packets. Fail closed: a negotiate packet is never sent in the clear, unless
//! its filter action allows fallback to clear (Windows "soft") and the peer did not answer
//! IKE within [`FALLBACK_AFTER`]. Everything is counted ([`AcquireStats`]).
//!
//! IKE messages that arrive on the ESP-in-UDP port (4500) reach the data plane's socket;
//! they are handed to the IKE task here too.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;
use wire::{ip, ipv4, ipv6, udp};

use crate::dataplane::stats::Drop;
use crate::dataplane::{PolicyHook, Verdict};
use crate::packet::FiveTuple;
use crate::policy_map::{PolicyMap, RuleSetup, Selectors};

/// Packets kept per flow while IKE negotiates.
pub const PACKETS_PER_FLOW: usize = 4;
/// Flows waiting for an SA at once.
pub const MAX_FLOWS: usize = 256;
/// Bytes of queued packets at once.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// A flow whose SA has not come up after this long loses its queued packets.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// With fallback to clear allowed, how long a peer has to answer IKE (Windows waits
/// about three seconds before it talks in the clear to a non-IPsec computer).
pub const FALLBACK_AFTER: Duration = Duration::from_secs(3);
/// How long a peer that fell back to clear stays in the clear (Windows: the soft SA's
/// five-minute idle time) unless an SA comes up first.
pub const FALLBACK_FOR: Duration = Duration::from_secs(300);
/// After a flow's negotiation failed, new packets of the flow are dropped without a new
/// acquire for this long (no IKE storm toward a peer that refuses).
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// What the data plane and the UDP sockets hand to the IKE task.
#[derive(Debug)]
pub enum ToIke {
    /// An IKE datagram (on port 4500 with the non-ESP marker still in front).
    Datagram {
        from: SocketAddr,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Traffic to `peer` needs an SA with these selectors.
    Acquire(Acquire),
    /// Load policy again from the stores.
    Reload,
}

/// An acquire (RFC 4301 §5.1: a packet policy wants protected and no SA covers it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acquire {
    pub peer: IpAddr,
    /// Our address for IKE when policy knows it (transport mode: the packet's source).
    pub local: Option<IpAddr>,
    pub selectors: Selectors,
}

/// Counters of the policy decisions beside the data plane's own.
#[derive(Debug, Default)]
pub struct AcquireStats {
    pub acquires: AtomicU64,
    pub flushed: AtomicU64,
    pub expired: AtomicU64,
    pub failed: AtomicU64,
    pub fallback_clear: AtomicU64,
    pub ike_4500: AtomicU64,
    pub ike_4500_dropped: AtomicU64,
    pub channel_full: AtomicU64,
}

/// A copy of [`AcquireStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct AcquireSnapshot {
    /// Acquires sent to the IKE task.
    pub acquires: u64,
    /// Queued packets sent once their SA was up.
    pub flushed: u64,
    /// Queued packets dropped: their SA did not come up in time.
    pub expired: u64,
    /// Queued packets dropped: the negotiation failed.
    pub failed: u64,
    /// Packets sent in the clear after a fallback (soft filter action).
    pub fallback_clear: u64,
    /// IKE messages received on port 4500 (through the data plane).
    pub ike_4500: u64,
    pub ike_4500_dropped: u64,
    /// Acquires or messages lost because the IKE task's queue was full.
    pub channel_full: u64,
}

/// A flow waiting for an SA: its peer and the selectors its acquire asked for.
pub type FlowKey = (IpAddr, Selectors);

struct Flow {
    packets: Vec<Vec<u8>>,
    since: Instant,
    soft: bool,
}

#[derive(Default)]
struct Queue {
    flows: HashMap<FlowKey, Flow>,
    bytes: usize,
    /// Flows whose negotiation failed recently.
    failed: HashMap<FlowKey, Instant>,
}

/// The daemon's [`PolicyHook`].
pub struct PolicyState {
    map: ArcSwap<PolicyMap>,
    queue: Mutex<Queue>,
    /// Peers in fallback to clear, until when.
    fallback: RwLock<HashMap<IpAddr, Instant>>,
    tx: mpsc::Sender<ToIke>,
    pub stats: AcquireStats,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl PolicyState {
    pub fn new(map: PolicyMap, tx: mpsc::Sender<ToIke>) -> Self {
        Self {
            map: ArcSwap::from_pointee(map),
            queue: Mutex::new(Queue::default()),
            fallback: RwLock::new(HashMap::new()),
            tx,
            stats: AcquireStats::default(),
        }
    }

    /// The policy in force.
    pub fn map(&self) -> Arc<PolicyMap> {
        self.map.load_full()
    }

    /// Puts new policy in force (packets already queued stay queued).
    pub fn replace(&self, map: PolicyMap) {
        self.map.store(Arc::new(map));
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn in_fallback(&self, peer: IpAddr) -> bool {
        let f = self.fallback.read().unwrap_or_else(|p| p.into_inner());
        f.get(&peer).is_some_and(|until| *until > Instant::now())
    }

    /// An SA with `peer` is up: no more fallback to clear; returns the flows queued for
    /// it whose first packet `covered` now (with their packets, oldest first) and forgets
    /// them. Flows the new SA does not cover stay queued: their own SA may still come (or
    /// their time runs out), and they cause no new acquire meanwhile.
    pub fn take_queued(
        &self,
        peer: IpAddr,
        covered: impl Fn(&[u8]) -> bool,
    ) -> Vec<(FlowKey, Vec<Vec<u8>>)> {
        self.fallback
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&peer);
        let mut q = self.queue();
        let keys: Vec<_> = q
            .flows
            .iter()
            .filter(|(k, f)| k.0 == peer && f.packets.first().is_some_and(|p| covered(p)))
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for k in keys {
            if let Some(f) = q.flows.remove(&k) {
                bump(&self.stats.flushed, f.packets.len() as u64);
                out.push((k, f.packets));
            }
        }
        q.bytes = q
            .flows
            .values()
            .flat_map(|f| &f.packets)
            .map(Vec::len)
            .sum();
        out
    }

    /// The SA that came up does not cover this flow (the peer narrowed the selectors):
    /// no new acquire for it for [`RETRY_AFTER`], so a peer that keeps narrowing does not
    /// get a negotiation per packet.
    pub fn flow_not_covered(&self, key: FlowKey) {
        self.queue().failed.insert(key, Instant::now());
    }

    /// Negotiation with `peer` failed: flows that may fall back to clear do so now (their
    /// packets are returned to be sent in the clear); the others lose their packets and
    /// wait [`RETRY_AFTER`] before the next acquire.
    pub fn negotiation_failed(&self, peer: IpAddr) -> Vec<Vec<u8>> {
        let now = Instant::now();
        let mut q = self.queue();
        let keys: Vec<_> = q.flows.keys().filter(|k| k.0 == peer).cloned().collect();
        let mut clear = Vec::new();
        for k in keys {
            let Some(f) = q.flows.remove(&k) else {
                continue;
            };
            if f.soft {
                clear.extend(f.packets);
            } else {
                bump(&self.stats.failed, f.packets.len() as u64);
                q.failed.insert(k, now);
            }
        }
        q.bytes = q
            .flows
            .values()
            .flat_map(|f| &f.packets)
            .map(Vec::len)
            .sum();
        drop(q);
        if !clear.is_empty() {
            self.start_fallback(peer, now);
            bump(&self.stats.fallback_clear, clear.len() as u64);
        }
        clear
    }

    fn start_fallback(&self, peer: IpAddr, now: Instant) {
        self.fallback
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer, now + FALLBACK_FOR);
    }

    /// Timers (the IKE task calls this a few times a second): flows past their time lose
    /// their packets; soft flows whose peer did not answer in [`FALLBACK_AFTER`] fall back
    /// to clear, and their packets are returned to be sent in the clear.
    pub fn expire(&self, now: Instant) -> Vec<Vec<u8>> {
        let mut q = self.queue();
        q.failed
            .retain(|_, at| now.duration_since(*at) < RETRY_AFTER);
        let mut clear = Vec::new();
        let mut fallen = Vec::new();
        let keys: Vec<_> = q
            .flows
            .iter()
            .filter(|(_, f)| {
                let age = now.duration_since(f.since);
                (f.soft && age >= FALLBACK_AFTER) || age >= ACQUIRE_TIMEOUT
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            let Some(f) = q.flows.remove(&k) else {
                continue;
            };
            if f.soft {
                fallen.push(k.0);
                clear.extend(f.packets);
            } else {
                bump(&self.stats.expired, f.packets.len() as u64);
            }
        }
        q.bytes = q
            .flows
            .values()
            .flat_map(|f| &f.packets)
            .map(Vec::len)
            .sum();
        drop(q);
        for p in fallen {
            self.start_fallback(p, now);
        }
        bump(&self.stats.fallback_clear, clear.len() as u64);
        {
            let mut f = self.fallback.write().unwrap_or_else(|p| p.into_inner());
            f.retain(|_, until| *until > now);
        }
        clear
    }

    /// Flows waiting for an SA.
    pub fn pending_flows(&self) -> usize {
        self.queue().flows.len()
    }

    pub fn snapshot(&self) -> AcquireSnapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        AcquireSnapshot {
            acquires: g(&s.acquires),
            flushed: g(&s.flushed),
            expired: g(&s.expired),
            failed: g(&s.failed),
            fallback_clear: g(&s.fallback_clear),
            ike_4500: g(&s.ike_4500),
            ike_4500_dropped: g(&s.ike_4500_dropped),
            channel_full: g(&s.channel_full),
        }
    }
}

/// Destinations policy never negotiates for and the daemon never re-sends (multicast,
/// broadcast, link-local; MISSION Q8). Routes keep such traffic out of the TUN device;
/// what still arrives is the kernel's own chatter on the TUN link (IPv6 router
/// solicitations, MLD reports).
fn never_sent(dst: IpAddr) -> bool {
    match dst {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast() || a.is_link_local(),
        IpAddr::V6(a) => a.is_multicast() || (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

impl PolicyHook for PolicyState {
    fn outbound(&self, _packet: &[u8], t: &FiveTuple) -> Verdict {
        if never_sent(t.dst) {
            return Verdict::Drop(Drop::NoPolicy);
        }
        let map = self.map.load();
        match map.classify_outbound(t) {
            None => Verdict::ProtectIfSa,
            Some((_, RuleSetup::Permit)) => Verdict::Clear,
            Some((_, RuleSetup::Block)) => Verdict::Drop(Drop::Blocked),
            Some((_, RuleSetup::Unnegotiable(_))) => Verdict::Drop(Drop::Unnegotiable),
            Some((_, RuleSetup::Negotiate(n))) => {
                if n.soft && self.in_fallback(n.tunnel.unwrap_or(t.dst)) {
                    bump(&self.stats.fallback_clear, 1);
                    Verdict::Clear
                } else {
                    Verdict::Protect
                }
            }
        }
    }

    fn no_sa(&self, packet: &[u8], t: &FiveTuple) -> Drop {
        let map = self.map.load();
        let Some((m, RuleSetup::Negotiate(n))) = map.classify_outbound(t) else {
            return Drop::NoSa;
        };
        let (peer, selectors) = map.acquire_selectors(t, m.filter, n);
        let local = if n.tunnel.is_none() && map.local.contains(&t.src) {
            Some(t.src)
        } else {
            None
        };
        let key = (peer, selectors);
        let mut q = self.queue();
        if q.failed.contains_key(&key) {
            return Drop::NoSa;
        }
        let room = q.bytes + packet.len() <= MAX_QUEUED_BYTES;
        if let Some(f) = q.flows.get_mut(&key) {
            if f.packets.len() < PACKETS_PER_FLOW && room {
                f.packets.push(packet.to_vec());
                q.bytes += packet.len();
                return Drop::Queued;
            }
            return Drop::QueueFull;
        }
        if q.flows.len() >= MAX_FLOWS || !room {
            return Drop::QueueFull;
        }
        let acquire = Acquire {
            peer,
            local,
            selectors: key.1.clone(),
        };
        if self.tx.try_send(ToIke::Acquire(acquire)).is_err() {
            bump(&self.stats.channel_full, 1);
            return Drop::QueueFull;
        }
        bump(&self.stats.acquires, 1);
        q.bytes += packet.len();
        q.flows.insert(
            key,
            Flow {
                packets: vec![packet.to_vec()],
                since: Instant::now(),
                soft: n.soft,
            },
        );
        Drop::Queued
    }

    fn ike(&self, packet: &[u8]) {
        bump(&self.stats.ike_4500, 1);
        let Some((from, to, payload)) = udp_parts(packet) else {
            bump(&self.stats.ike_4500_dropped, 1);
            return;
        };
        let msg = ToIke::Datagram {
            from,
            to,
            bytes: payload.to_vec(),
        };
        if self.tx.try_send(msg).is_err() {
            bump(&self.stats.ike_4500_dropped, 1);
            bump(&self.stats.channel_full, 1);
        }
    }
}

/// Source, destination and payload of a UDP datagram in a whole IP packet.
pub fn udp_parts(packet: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let (src, dst, body): (IpAddr, IpAddr, &[u8]) = match ip::version(packet).ok()? {
        ip::IpVersion::V4 => {
            let p = ipv4::Packet::new_checked(packet).ok()?;
            if p.protocol() != ip::UDP {
                return None;
            }
            let body = packet.get(p.header_len()..p.total_len())?;
            (p.src().into(), p.dst().into(), body)
        }
        ip::IpVersion::V6 => {
            let p = ipv6::Packet::new_checked(packet).ok()?;
            let w = p.walk().ok()?;
            if w.protocol != ip::UDP {
                return None;
            }
            let body = packet.get(ipv6::HEADER_LEN + w.offset..p.total_len())?;
            (p.src().into(), p.dst().into(), body)
        }
    };
    let u = udp::Packet::new_checked(body).ok()?;
    let (sp, dp, len) = (u.src_port(), u.dst_port(), u.payload().len());
    let payload = body.get(udp::HEADER_LEN..udp::HEADER_LEN + len)?;
    Some((SocketAddr::new(src, sp), SocketAddr::new(dst, dp), payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::address::Address;
    use policy::model::{
        ActionKind, ConnectionType, Filter, FilterAction, FilterList, Policy, Rule, Store,
    };
    use policy::resolver::HostConfig;
    use policy::{PolicySource, StoreError, StoreLocation};

    struct Mem(Store);
    impl PolicySource for Mem {
        fn location(&self) -> StoreLocation {
            StoreLocation::Local
        }
        fn origin(&self) -> String {
            "memory".into()
        }
        fn load(&self) -> Result<Store, StoreError> {
            Ok(self.0.clone())
        }
    }

    /// Negotiate with 10.9.0.0/24 (soft for 10.9.0.5), block 10.9.0.3, permit 10.9.0.4.
    fn state() -> (PolicyState, mpsc::Receiver<ToIke>) {
        let mut s = Store::default();
        let mut p = Policy::new("P", 0);
        p.default_response.active = false;
        let rules = [
            ("10.9.0.0/24", ActionKind::Negotiate, false),
            ("10.9.0.3", ActionKind::Block, false),
            ("10.9.0.4", ActionKind::Permit, false),
            ("10.9.0.5", ActionKind::Negotiate, true),
        ];
        for (i, (dst, kind, soft)) in rules.into_iter().enumerate() {
            let name = format!("r{i}");
            s.filter_lists.push(FilterList {
                name: name.clone(),
                description: String::new(),
                filters: vec![Filter::new(Address::Me, Address::parse(dst, None).unwrap())],
                last_modified: 0,
            });
            let mut a = FilterAction::new(&name, 0);
            a.action = kind;
            a.soft = soft;
            if kind != ActionKind::Negotiate {
                a.qm_methods.clear();
            }
            s.filter_actions.push(a);
            p.rules.push(Rule {
                name: name.clone(),
                description: String::new(),
                filter_list: name.clone(),
                filter_action: name,
                auth: vec![policy::AuthMethod::Psk {
                    key: policy::Secret::new("k"),
                }],
                tunnel: None,
                conn_type: ConnectionType::All,
                active: true,
            });
        }
        s.policies.push(p);
        s.assigned = Some("P".into());
        let host = HostConfig {
            me: vec!["10.9.0.1".parse().unwrap()],
            ..HostConfig::default()
        };
        let (rsop, compiled) = crate::policy_map::load_from(&[&Mem(s)], &host);
        let map = PolicyMap::new(&rsop, compiled, host.me.clone());
        assert!(map.warnings.is_empty(), "{:?}", map.warnings);
        let (tx, rx) = mpsc::channel(8);
        (PolicyState::new(map, tx), rx)
    }

    fn t(dst: &str, port: u16) -> FiveTuple {
        FiveTuple {
            src: "10.9.0.1".parse().unwrap(),
            dst: dst.parse().unwrap(),
            protocol: 17,
            src_port: 5000,
            dst_port: port,
            opaque_ports: false,
        }
    }

    #[test]
    fn verdicts_queues_acquires_and_fallback() {
        let (p, mut rx) = state();
        assert_eq!(
            p.outbound(&[], &t("10.9.0.3", 1)),
            Verdict::Drop(Drop::Blocked)
        );
        assert_eq!(p.outbound(&[], &t("10.9.0.4", 1)), Verdict::Clear);
        assert_eq!(p.outbound(&[], &t("10.9.0.7", 1)), Verdict::Protect);
        assert_eq!(p.outbound(&[], &t("10.8.0.7", 1)), Verdict::ProtectIfSa);
        assert_eq!(
            p.outbound(&[], &t("ff02::1", 1)),
            Verdict::Drop(Drop::NoPolicy)
        );
        // One acquire per flow, a few packets queued, then the queue is full.
        for i in 0..PACKETS_PER_FLOW {
            assert_eq!(p.no_sa(&[i as u8; 100], &t("10.9.0.7", 1)), Drop::Queued);
        }
        assert_eq!(p.no_sa(&[9; 100], &t("10.9.0.7", 1)), Drop::QueueFull);
        let Ok(ToIke::Acquire(a)) = rx.try_recv() else {
            panic!("no acquire")
        };
        assert_eq!(a.peer, "10.9.0.7".parse::<IpAddr>().unwrap());
        assert_eq!(a.local, Some("10.9.0.1".parse().unwrap()));
        assert!(rx.try_recv().is_err(), "one acquire per flow");
        // The SA came up: the queued packets, in order.
        assert!(
            p.take_queued(a.peer, |_| false).is_empty(),
            "not covered: kept"
        );
        let q = p.take_queued(a.peer, |_| true);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].1.len(), PACKETS_PER_FLOW);
        assert_eq!(q[0].1[0][0], 0);
        assert_eq!(p.pending_flows(), 0);
        p.flow_not_covered(q[0].0.clone());
        assert_eq!(p.no_sa(&[1; 10], &t("10.9.0.7", 1)), Drop::NoSa);
        // A failed negotiation drops a require flow and holds new acquires back for a while.
        assert_eq!(p.no_sa(&[1; 10], &t("10.9.0.8", 1)), Drop::Queued);
        assert!(p.negotiation_failed("10.9.0.8".parse().unwrap()).is_empty());
        assert_eq!(p.no_sa(&[1; 10], &t("10.9.0.8", 1)), Drop::NoSa);
        assert_eq!(p.snapshot().failed, 1);
        // A soft flow falls back to clear after FALLBACK_AFTER.
        let soft = t("10.9.0.5", 1);
        assert_eq!(p.outbound(&[], &soft), Verdict::Protect);
        assert_eq!(p.no_sa(&[5; 10], &soft), Drop::Queued);
        assert!(p.expire(Instant::now()).is_empty());
        let clear = p.expire(Instant::now() + FALLBACK_AFTER);
        assert_eq!(clear, vec![vec![5u8; 10]]);
        assert_eq!(p.outbound(&[], &soft), Verdict::Clear);
        // Until an SA with the peer comes up.
        p.take_queued(soft.dst, |_| true);
        assert_eq!(p.outbound(&[], &soft), Verdict::Protect);
    }

    #[test]
    fn flows_and_bytes_are_bounded() {
        let (p, mut rx) = state();
        let mut queued = 0;
        for i in 0..(MAX_FLOWS + 10) {
            let port = 1000 + i as u16;
            // Ports are not in the selectors: one flow per peer address.
            let dst = format!("10.9.0.{}", 10 + (i % 200));
            let r = p.no_sa(&[0; 64], &t(&dst, port));
            queued += usize::from(r == Drop::Queued);
            while rx.try_recv().is_ok() {}
        }
        assert!(p.pending_flows() <= MAX_FLOWS);
        assert!(queued <= MAX_FLOWS * PACKETS_PER_FLOW);
        let (p, _rx) = state();
        let big = vec![0u8; MAX_QUEUED_BYTES / 2 + 1];
        assert_eq!(p.no_sa(&big, &t("10.9.0.7", 1)), Drop::Queued);
        assert_eq!(p.no_sa(&big, &t("10.9.0.7", 1)), Drop::QueueFull);
        // A full IKE channel: no acquire, the packet is not kept.
        let (p, _rx) = state();
        for i in 0..8 {
            assert_eq!(
                p.no_sa(&[0; 8], &t(&format!("10.9.0.{}", 20 + i), 1)),
                Drop::Queued
            );
        }
        assert_eq!(p.no_sa(&[0; 8], &t("10.9.0.99", 1)), Drop::QueueFull);
        assert_eq!(p.snapshot().channel_full, 1);
    }

    #[test]
    fn ike_on_4500_is_handed_over_and_garbage_is_counted() {
        let (p, mut rx) = state();
        let mut pkt = vec![0u8; 20 + 8 + 8];
        wire::ipv4::Repr {
            src: "10.9.0.2".parse().unwrap(),
            dst: "10.9.0.1".parse().unwrap(),
            protocol: ip::UDP,
            payload_len: 16,
            ttl: 64,
            dscp_ecn: 0,
            ident: 0,
            dont_frag: false,
        }
        .emit(&mut pkt[..20])
        .unwrap();
        udp::Repr {
            src_port: 4500,
            dst_port: 4500,
            payload_len: 8,
        }
        .emit(&mut pkt[20..28])
        .unwrap();
        p.ike(&pkt);
        match rx.try_recv() {
            Ok(ToIke::Datagram { from, to, bytes }) => {
                assert_eq!(from, "10.9.0.2:4500".parse().unwrap());
                assert_eq!(to, "10.9.0.1:4500".parse().unwrap());
                assert_eq!(bytes.len(), 8);
            }
            other => panic!("{other:?}"),
        }
        p.ike(&pkt[..10]);
        assert_eq!(p.snapshot().ike_4500_dropped, 1);
    }
}
