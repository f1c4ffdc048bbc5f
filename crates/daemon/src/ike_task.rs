//! The IKE task: drives the sans-IO IKEv2 engine (`ike::Endpoint`) on the daemon's UDP
//! sockets and installs what it negotiates into the data plane.
//!
//! - One engine endpoint per peer address, configured from policy when the peer is first
//!   needed (an acquire toward it, or an IKE_SA_INIT from it that policy allows): the
//!   policy decides per peer which rules apply (`PolicyMap::peer_config`), and peers that
//!   policy does not name (transport rules to "any") need no configuration in advance.
//!   Datagrams go to the endpoint of their source address.
//! - Sockets: UDP 500 per local address (ours, marked to bypass the TUN route); port 4500
//!   is the data plane's socket (ESP-in-UDP arrives there; IKE messages behind the
//!   non-ESP marker are handed over through the policy hook) and is sent on through a
//!   duplicate of it, marked too.
//! - Child SAs: installed inbound first, then outbound; a rekey's new SA carries traffic
//!   once the peer has it (a packet arrived on the new inbound SA, the old SA was
//!   deleted, or a second passed), and replaced inbound SAs linger a little for packets
//!   still in flight (make-before-break). Negotiated selectors become inbound checks and
//!   outbound routes; a peer's SA for traffic our policy does not route (the default
//!   response rule) gets kernel routes of its own while it lives.
//! - Lifetimes: the engine rekeys on time; byte lifetimes are counted by the data plane,
//!   whose soft-limit event becomes a `rekey_child`. SIGUSR1 rekeys every child SA now.
//! - Time is the daemon's monotonic clock since start, randomness the OS's (getrandom).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use esp::lifetime::LifetimeEvent;
use esp::sa::Accounted;
use esp::sad::{InboundKey, InboundSa, OutboundId, OutboundSa, Shared};
use ike::{
    ChildSaDelete, ChildSaInstall, Endpoint, EndpointConfig, Event, Mode, Output, SessionId, Time,
};
use ipnet::IpNet;
use socket2::{SockAddr, Socket};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::acquire::{Acquire, PolicyState, ToIke};
use crate::child_sa;
use crate::dataplane::io::Sender;
use crate::dataplane::{Dataplane, InboundTag, MAX_PACKET, OutboundRoute};
use crate::oakley_log::{KeyExport, OakleyLog};
use crate::packet::five_tuple;
use crate::policy_map::PolicyMap;
use crate::routing::{ProtectedRoute, RouteTable};

/// How long an inbound SA replaced by a rekey keeps accepting packets after its delete.
pub const INBOUND_GRACE: Duration = Duration::from_secs(2);
/// Longest wait before a rekey's new outbound SA carries traffic.
pub const SWITCH_AFTER: Duration = Duration::from_secs(1);
/// Peers with an engine endpoint at once (each costs a little memory; a flood of
/// IKE_SA_INIT from spoofed addresses stops here).
pub const MAX_PEERS: usize = 4096;
/// An endpoint without sessions is dropped after this long.
pub const PEER_IDLE: Duration = Duration::from_secs(30);

/// The OS random generator, for the engine.
pub struct OsRng;

impl ike::Rng for OsRng {
    fn fill(&mut self, buf: &mut [u8]) {
        // Without OS randomness no key, nonce or SPI can be made safely: stop.
        if getrandom::fill(buf).is_err() {
            tracing::error!("the operating system's random generator failed");
            std::process::abort();
        }
    }
}

/// Settings of the IKE task.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub tun: String,
    /// Firewall mark of our own packets, also the routing table's number.
    pub mark: u32,
    pub export_keys: bool,
    pub force_encap: bool,
    pub ike_log: bool,
    pub nat_keepalive: Duration,
}

/// The sockets the IKE task sends and receives on, per local address.
pub struct Sockets {
    /// UDP 500 (marked, non-blocking; made tokio sockets inside the runtime).
    pub v500: HashMap<IpAddr, std::net::UdpSocket>,
    /// Duplicates of the data plane's UDP 4500 sockets (marked), for sending.
    pub v4500: HashMap<IpAddr, Socket>,
}

type ChildKey = (IpAddr, SessionId, ike::ChildId);

struct Installed {
    name: Arc<str>,
    in_key: InboundKey,
    inbound: Shared<InboundSa>,
    out_id: OutboundId,
    outbound: Shared<OutboundSa>,
    routes: Vec<OutboundRoute>,
    kernel_routes: Vec<IpNet>,
    replaces: Option<ChildKey>,
    active: bool,
    installed_at: Instant,
    rekey_requested: bool,
}

struct Peer {
    ep: Endpoint,
    idle_since: Instant,
}

/// The task's state.
pub struct IkeTask {
    settings: Settings,
    dp: Arc<Dataplane>,
    hook: Arc<PolicyState>,
    peers: HashMap<IpAddr, Peer>,
    v500: HashMap<IpAddr, Arc<UdpSocket>>,
    v4500: HashMap<IpAddr, Socket>,
    children: HashMap<ChildKey, Installed>,
    next_out_id: OutboundId,
    rng: OsRng,
    epoch: Instant,
    sender: Sender,
    routes: RouteTable,
    static_routes: Vec<ProtectedRoute>,
    kernel_refs: HashMap<IpNet, usize>,
    grace: Vec<(Instant, InboundKey)>,
    route_changes: Vec<(ProtectedRoute, bool)>,
    log: Arc<OakleyLog>,
    keys: Option<KeyExport>,
    buf: Vec<u8>,
    last_stats: Instant,
    last_gc: Instant,
}

/// The local address the kernel would use toward `peer` by the main table (our marked
/// packets bypass the TUN route).
pub fn source_for(peer: IpAddr, mark: u32) -> Option<IpAddr> {
    let domain = if peer.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let s = Socket::new(domain, socket2::Type::DGRAM, None).ok()?;
    let _ = s.set_mark(mark);
    s.connect(&SockAddr::from(SocketAddr::new(peer, 500)))
        .ok()?;
    s.local_addr().ok()?.as_socket().map(|a| a.ip())
}

fn is_init_request(bytes: &[u8], port: u16) -> bool {
    let ike = if port == wire::natt::NATT_PORT {
        match wire::natt::classify(bytes) {
            Ok(wire::natt::Encapsulated::Ike(b)) => b,
            _ => return false,
        }
    } else {
        bytes
    };
    wire::ikev2::Header::parse(ike).is_ok_and(|h| {
        h.exchange == wire::ikev2::exchange::IKE_SA_INIT && !h.is_response() && h.spi_r == 0
    })
}

fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}

/// What the IKE task reports in `ike.json` beside the data plane counters.
#[derive(Debug, serde::Serialize)]
struct IkeStats {
    peers: usize,
    sessions: usize,
    established: usize,
    child_sas: usize,
    pending_flows: usize,
    acquire: crate::acquire::AcquireSnapshot,
    policies: Vec<String>,
}

impl IkeTask {
    /// Sets the task up (inside the runtime: routes and sockets belong to it).
    pub async fn new(
        settings: Settings,
        dp: Arc<Dataplane>,
        hook: Arc<PolicyState>,
        sockets: Sockets,
        log: Arc<OakleyLog>,
    ) -> Result<Self, String> {
        let routes = RouteTable::open(&settings.tun, settings.mark)
            .await
            .map_err(|e| format!("routing: {e}"))?;
        let mut v500 = HashMap::new();
        for (ip, s) in sockets.v500 {
            let s = UdpSocket::from_std(s).map_err(|e| format!("udp {ip}:500: {e}"))?;
            v500.insert(ip, Arc::new(s));
        }
        let keys = if settings.export_keys {
            Some(KeyExport::new(&settings.state_dir).map_err(|e| format!("key export: {e}"))?)
        } else {
            None
        };
        let sender = Sender::new(settings.mark).map_err(|e| format!("raw socket: {e}"))?;
        let now = Instant::now();
        Ok(Self {
            settings,
            dp,
            hook,
            peers: HashMap::new(),
            v500,
            v4500: sockets.v4500,
            children: HashMap::new(),
            next_out_id: 1 << 32,
            rng: OsRng,
            epoch: now,
            sender,
            routes,
            static_routes: Vec::new(),
            kernel_refs: HashMap::new(),
            grace: Vec::new(),
            route_changes: Vec::new(),
            log,
            keys,
            buf: vec![0u8; MAX_PACKET + 512],
            last_stats: now,
            last_gc: now,
        })
    }

    fn now(&self) -> Time {
        Time::from_duration(self.epoch.elapsed())
    }

    /// Routes the policy's protected prefixes into the TUN device (and keeps multicast,
    /// broadcast and link-local traffic out of it).
    pub async fn install_policy_routes(&mut self) -> Result<(), String> {
        let wanted = self.hook.map().routes();
        for r in &self.static_routes {
            if !wanted.iter().any(|w| w.prefix == r.prefix)
                && !self.kernel_refs.contains_key(&r.prefix)
            {
                let _ = self.routes.del(r).await;
            }
        }
        for r in &wanted {
            self.routes
                .add(r)
                .await
                .map_err(|e| format!("route {}: {e}", r.prefix))?;
        }
        if !wanted.is_empty() {
            for p in crate::routing::never_protected() {
                self.routes
                    .throw(p)
                    .await
                    .map_err(|e| format!("throw route {p}: {e}"))?;
            }
        }
        self.static_routes = wanted;
        Ok(())
    }

    /// Starts the UDP 500 receive tasks.
    fn spawn_receivers(&self, tx: &mpsc::Sender<ToIke>) {
        for (ip, s) in &self.v500 {
            let (s, tx, to) = (s.clone(), tx.clone(), SocketAddr::new(*ip, 500));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    match s.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            let msg = ToIke::Datagram {
                                from,
                                to,
                                bytes: buf[..n].to_vec(),
                            };
                            if tx.send(msg).await.is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            tracing::warn!(%to, "ike receive: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
    }

    /// Runs until SIGTERM/SIGINT, then deletes every SA with the peers (briefly waiting for
    /// their answers) and removes what it added to the routing table.
    pub async fn run(
        mut self,
        tx: mpsc::Sender<ToIke>,
        mut rx: mpsc::Receiver<ToIke>,
        ready: impl FnOnce(),
    ) -> Result<(), String> {
        use tokio::signal::unix::{SignalKind, signal};
        let sig = |k| signal(k).map_err(|e| format!("signals: {e}"));
        let (mut term, mut int, mut usr1, mut hup) = (
            sig(SignalKind::terminate())?,
            sig(SignalKind::interrupt())?,
            sig(SignalKind::user_defined1())?,
            sig(SignalKind::hangup())?,
        );
        self.install_policy_routes().await?;
        self.spawn_receivers(&tx);
        drop(tx);
        ready();
        let mut house = tokio::time::interval(Duration::from_millis(100));
        house.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = self.next_timeout();
            let timer = async {
                match wake {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                m = rx.recv() => match m {
                    Some(ToIke::Reload) => self.reload().await,
                    Some(m) => self.on_message(m),
                    None => break,
                },
                _ = timer => {}
                _ = house.tick() => self.housekeeping(),
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = usr1.recv() => self.rekey_all(),
                _ = hup.recv() => self.reload().await,
            }
            // Handle everything already queued before looking at timers again.
            while let Ok(m) = rx.try_recv() {
                match m {
                    ToIke::Reload => self.reload().await,
                    m => self.on_message(m),
                }
                self.drain();
            }
            self.timeouts();
            self.drain();
            if !self.route_changes.is_empty() {
                self.apply_route_changes().await;
            }
        }
        self.shutdown(&mut rx).await;
        Ok(())
    }

    fn next_timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .filter_map(|p| p.ep.next_timeout())
            .min()
            .map(|t| self.epoch + t.since_epoch())
    }

    fn timeouts(&mut self) {
        let now = self.now();
        for p in self.peers.values_mut() {
            if p.ep.next_timeout().is_some_and(|t| t <= now) {
                p.ep.handle_timeout(now, &mut self.rng);
            }
        }
    }

    fn new_peer(&mut self, peer: IpAddr, local: IpAddr) -> bool {
        if self.peers.len() >= MAX_PEERS {
            self.log.line(peer, "too many peers; not negotiating");
            return false;
        }
        let map = self.hook.map();
        let Some(cfg) = map.peer_config(peer, local, self.settings.force_encap) else {
            return false;
        };
        self.log.line(
            peer,
            &format!(
                "peer configured from {} ({:?} mode, {} IKE and {} ESP proposals, selectors {:?} <-> {:?})",
                cfg.name,
                cfg.mode,
                cfg.ike_suites.len(),
                cfg.child_suites.len(),
                cfg.local_ts,
                cfg.remote_ts
            ),
        );
        let ec = EndpointConfig {
            export_keys: self.keys.is_some(),
            keepalive: self.settings.nat_keepalive,
            ..EndpointConfig::default()
        };
        let ep = Endpoint::new(ec, vec![cfg], &mut self.rng);
        self.peers.insert(
            peer,
            Peer {
                ep,
                idle_since: Instant::now(),
            },
        );
        true
    }

    fn on_message(&mut self, m: ToIke) {
        let now = self.now();
        match m {
            ToIke::Datagram { from, to, bytes } => {
                let peer = from.ip();
                if !self.peers.contains_key(&peer) {
                    if !is_init_request(&bytes, to.port()) {
                        tracing::debug!(%from, "ike message for no known peer dropped");
                        return;
                    }
                    if !self.new_peer(peer, to.ip()) {
                        self.log.line(
                            peer,
                            "IKE_SA_INIT refused: no policy negotiates with this peer",
                        );
                        return;
                    }
                }
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.ep.handle_datagram(now, from, to, &bytes, &mut self.rng);
                }
            }
            ToIke::Acquire(a) => self.acquire(a),
            ToIke::Reload => {}
        }
    }

    fn acquire(&mut self, a: Acquire) {
        let now = self.now();
        if !self.peers.contains_key(&a.peer) {
            let local = a.local.or_else(|| source_for(a.peer, self.settings.mark));
            let ok = match local {
                Some(l) => self.new_peer(a.peer, l),
                None => false,
            };
            if !ok {
                self.log
                    .line(a.peer, "acquire: no route or no policy toward this peer");
                let clear = self.hook.negotiation_failed(a.peer);
                self.send_clear(clear);
                return;
            }
        }
        self.log.line(
            a.peer,
            &format!("acquire: {:?} <-> {:?}", a.selectors.0, a.selectors.1),
        );
        if let Some(p) = self.peers.get_mut(&a.peer) {
            if p.ep
                .acquire(now, 0, Some(a.selectors), &mut self.rng)
                .is_none()
            {
                let clear = self.hook.negotiation_failed(a.peer);
                self.send_clear(clear);
            }
        }
    }

    /// Everything the endpoints asked for.
    fn drain(&mut self) {
        let mut outs = Vec::new();
        for (ip, p) in &mut self.peers {
            while let Some(o) = p.ep.poll_output() {
                outs.push((*ip, o));
            }
        }
        for (peer, o) in outs {
            match o {
                Output::Transmit(t) => self.transmit(t),
                Output::InstallChild(c) => self.install(peer, &c),
                Output::DeleteChild(d) => self.delete(peer, d),
                Output::Event(e) => self.event(peer, &e),
                Output::KeyExport(line) => {
                    if let Some(k) = &self.keys {
                        k.ikev2(&line);
                    }
                }
            }
        }
    }

    fn transmit(&self, t: ike::Transmit) {
        let r = if t.from.port() == wire::natt::NATT_PORT {
            match self.v4500.get(&t.from.ip()) {
                Some(s) => crate::dataplane::io::send_udp(s, &t.bytes, t.to).map(|_| ()),
                None => Err(std::io::Error::other("no 4500 socket on this address")),
            }
        } else {
            match self.v500.get(&t.from.ip()) {
                Some(s) => s.try_send_to(&t.bytes, t.to).map(|_| ()),
                None => Err(std::io::Error::other("no 500 socket on this address")),
            }
        };
        if let Err(e) = r {
            tracing::debug!(from = %t.from, to = %t.to, "ike send failed: {e}");
        }
    }

    fn event(&mut self, peer: IpAddr, e: &Event) {
        self.log.event(peer, e);
        let failed = match e {
            Event::Failed { fatal: true, .. } | Event::SessionClosed { .. } => {
                // Nothing left to carry this peer's queued traffic.
                self.peers
                    .get(&peer)
                    .is_none_or(|p| !p.ep.sessions().iter().any(|s| p.ep.is_established(*s)))
            }
            Event::Failed { .. } => true,
            _ => false,
        };
        if failed {
            let clear = self.hook.negotiation_failed(peer);
            if !clear.is_empty() {
                self.log
                    .line(peer, "falling back to clear (filter action allows it)");
            }
            self.send_clear(clear);
        }
    }

    fn send_clear(&self, packets: Vec<Vec<u8>>) {
        for p in packets {
            if let Some(t) = five_tuple(&p)
                && self.sender.send(&p, t.dst).is_err()
            {
                self.dp.stats.send_error();
            }
        }
    }

    fn name(key: &ChildKey) -> Arc<str> {
        format!("{}/{}/{}", key.0, key.1, key.2).into()
    }

    fn install(&mut self, peer: IpAddr, c: &ChildSaInstall) {
        let key = (peer, c.session, c.child);
        let map = self.hook.map();
        let keyed = match child_sa::key(c, map.lifetime_kb(&c.suite)) {
            Ok(k) => k,
            Err(e) => {
                self.log
                    .line(peer, &format!("child SA {} not installed: {e}", c.child));
                return;
            }
        };
        let selectors = child_sa::selectors(&c.local_ts, &c.remote_ts);
        if selectors.is_empty() {
            self.log.line(
                peer,
                &format!("child SA {} has no usable traffic selectors", c.child),
            );
        }
        let name = Self::name(&key);
        let transport = c.mode == Mode::Transport;
        let local = c.local.ip();
        // Inbound first: the peer may use the SA as soon as it has it.
        let tag = InboundTag {
            name: name.clone(),
            transport,
            selectors: selectors.clone().into(),
        };
        let in_key = InboundKey {
            spi: c.inbound_spi,
            protocol: wire::ip::ESP,
            dst: local,
        };
        let inbound = self
            .dp
            .sad
            .install_inbound_tagged(local, keyed.inbound, tag);
        let out_id = self.next_out_id;
        self.next_out_id += 1;
        let outbound = self.dp.sad.install_outbound(out_id, keyed.outbound);
        let encap = c.encap.then_some((c.local.port(), c.remote.port()));
        let routes: Vec<OutboundRoute> = selectors
            .iter()
            .map(|s| OutboundRoute {
                name: name.clone(),
                selector: s.clone(),
                sa: out_id,
                transport,
                local,
                remote: c.remote.ip(),
                encap,
            })
            .collect();
        // Traffic our policy does not route into the TUN device (SAs a peer negotiated
        // with the default response rule) gets routes while the SA lives.
        let mut kernel_routes = Vec::new();
        for s in &selectors {
            let covered = self
                .static_routes
                .iter()
                .any(|r| r.prefix.contains(&s.remote) || r.prefix == s.remote);
            if !covered && !kernel_routes.contains(&s.remote) {
                kernel_routes.push(s.remote);
            }
        }
        for n in &kernel_routes {
            let count = self.kernel_refs.entry(*n).or_insert(0);
            *count += 1;
            if *count == 1 {
                let r = ProtectedRoute {
                    prefix: *n,
                    source: (s_is_host(&selectors, n)).then_some(local),
                };
                self.spawn_route(r, true);
            }
        }
        let replaces = c.replaces.map(|r| (peer, c.session, r));
        let defer = replaces.is_some_and(|k| self.children.get(&k).is_some_and(|o| o.active));
        self.children.insert(
            key,
            Installed {
                name,
                in_key,
                inbound,
                out_id,
                outbound,
                routes,
                kernel_routes,
                replaces,
                active: false,
                installed_at: Instant::now(),
                rekey_requested: false,
            },
        );
        if !defer {
            self.activate(key);
        }
        if let Some(k) = &self.keys {
            for line in child_sa::esp_sa_lines(c) {
                k.esp(&line);
            }
        }
        // Packets that waited for this SA (or another one with the peer).
        let routes = self.dp.routes();
        let covered = |p: &[u8]| {
            five_tuple(p).is_some_and(|t| routes.iter().any(|r| r.selector.matches_outbound(&t)))
        };
        for (flow, packets) in self.hook.take_queued(peer, covered) {
            let mut covered = true;
            for p in packets {
                match self.dp.outbound_protect(&p, &mut self.buf) {
                    Ok((n, dst)) => {
                        if self.sender.send(&self.buf[..n], dst).is_err() {
                            self.dp.stats.send_error();
                        }
                    }
                    Err(_) => covered = false,
                }
            }
            if !covered {
                self.hook.flow_not_covered(flow);
            }
        }
    }

    fn spawn_route(&mut self, r: ProtectedRoute, add: bool) {
        // Applied by the task's loop (netlink is asynchronous); the data plane does not
        // wait for it: kernel routes only steer new packets into the TUN device.
        self.route_changes.push((r, add));
    }

    async fn apply_route_changes(&mut self) {
        for (r, add) in std::mem::take(&mut self.route_changes) {
            let res = if add {
                self.routes.add(&r).await
            } else {
                self.routes.del(&r).await
            };
            if let Err(e) = res {
                tracing::warn!(prefix = %r.prefix, "route change failed: {e}");
            }
        }
    }

    /// Lets child `key` carry traffic: its routes replace those of the SA it rekeys, in one
    /// step.
    fn activate(&mut self, key: ChildKey) {
        let Some(c) = self.children.get(&key) else {
            return;
        };
        if c.active {
            return;
        }
        let old = c
            .replaces
            .and_then(|k| self.children.get(&k))
            .map(|o| o.name.clone());
        let routes = c.routes.clone();
        let name = c.name.clone();
        self.dp.update_routes(|v| {
            v.retain(|r| Some(&r.name) != old.as_ref() && r.name != name);
            v.extend(routes);
        });
        if let Some(o) = c.replaces.and_then(|k| self.children.get_mut(&k)) {
            o.active = false;
        }
        if let Some(c) = self.children.get_mut(&key) {
            c.active = true;
        }
    }

    fn delete(&mut self, peer: IpAddr, d: ChildSaDelete) {
        let key = (peer, d.session, d.child);
        let Some(c) = self.children.remove(&key) else {
            return;
        };
        // A successor waiting for this SA to go takes its routes over in the same step.
        let successor = self
            .children
            .iter()
            .filter(|(_, s)| s.replaces == Some(key) && !s.active)
            .max_by_key(|(_, s)| s.installed_at)
            .map(|(k, _)| *k);
        match successor {
            Some(s) => {
                if let Some(sc) = self.children.get_mut(&s) {
                    sc.replaces = None;
                    let (routes, name, old) = (sc.routes.clone(), sc.name.clone(), c.name.clone());
                    self.dp.update_routes(|v| {
                        v.retain(|r| r.name != old && r.name != name);
                        v.extend(routes);
                    });
                    sc.active = true;
                }
            }
            None if c.active => {
                let name = c.name.clone();
                self.dp.update_routes(|v| v.retain(|r| r.name != name));
            }
            None => {}
        }
        self.dp.sad.delete_outbound(c.out_id);
        self.grace.push((Instant::now() + INBOUND_GRACE, c.in_key));
        for n in c.kernel_routes {
            if let Some(count) = self.kernel_refs.get_mut(&n) {
                *count -= 1;
                if *count == 0 {
                    self.kernel_refs.remove(&n);
                    self.spawn_route(
                        ProtectedRoute {
                            prefix: n,
                            source: None,
                        },
                        false,
                    );
                }
            }
        }
    }

    fn rekey_all(&mut self) {
        let now = self.now();
        let mut n = 0;
        for p in self.peers.values_mut() {
            for s in p.ep.sessions() {
                for c in p.ep.children(s) {
                    if !c.rekeying {
                        p.ep.rekey_child(now, s, c.id, &mut self.rng);
                        n += 1;
                    }
                }
            }
        }
        tracing::info!(target: "oakley", children = n, "rekeying every child SA (SIGUSR1)");
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        // Rekeys whose new SA has been seen in use, or waited long enough, carry traffic.
        let ready: Vec<ChildKey> = self
            .children
            .iter()
            .filter(|(_, c)| !c.active && c.replaces.is_some())
            .filter(|(_, c)| {
                now.duration_since(c.installed_at) >= SWITCH_AFTER
                    || c.inbound
                        .lock()
                        .map(|sa| sa.counters().packets > 0)
                        .unwrap_or(true)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in ready {
            self.activate(k);
        }
        // Byte lifetimes: the soft limit asks for a rekey.
        let mut rekey = Vec::new();
        for (k, c) in &mut self.children {
            let mut events = Vec::new();
            if let Ok(mut sa) = c.outbound.lock() {
                events.extend(sa.poll_event());
            }
            if let Ok(mut sa) = c.inbound.lock() {
                events.extend(sa.poll_event());
            }
            for e in events {
                match e {
                    LifetimeEvent::RekeyNeeded | LifetimeEvent::Expired if !c.rekey_requested => {
                        c.rekey_requested = true;
                        rekey.push((*k, e));
                    }
                    _ => {}
                }
            }
        }
        let t = self.now();
        for ((peer, s, child), e) in rekey {
            self.log.line(
                peer,
                &format!(
                    "session {s}: child SA {child} reached its byte lifetime ({e:?}); rekeying"
                ),
            );
            if let Some(p) = self.peers.get_mut(&peer) {
                p.ep.rekey_child(t, s, child, &mut self.rng);
            }
        }
        // Replaced inbound SAs whose grace is over.
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.grace)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.grace = keep;
        for (_, k) in due {
            self.dp.sad.delete_inbound(&k);
        }
        // Acquires that waited too long; fallback to clear.
        let clear = self.hook.expire(now.into_std());
        self.send_clear(clear);
        if now.duration_since(self.last_gc) >= Duration::from_secs(5) {
            self.last_gc = now;
            for p in self.peers.values_mut() {
                if !p.ep.sessions().is_empty() {
                    p.idle_since = now;
                }
            }
            self.peers
                .retain(|_, p| now.duration_since(p.idle_since) < PEER_IDLE);
        }
        if now.duration_since(self.last_stats) >= Duration::from_millis(500) {
            self.last_stats = now;
            self.write_stats();
        }
    }

    /// Writes `dataplane.json` and `ike.json` in the state directory.
    pub fn write_stats(&self) {
        let dir = &self.settings.state_dir;
        if let Ok(json) = serde_json::to_vec_pretty(&self.dp.stats.snapshot()) {
            let _ = write_atomic(&dir.join("dataplane.json"), &json);
        }
        let (mut sessions, mut established) = (0, 0);
        for p in self.peers.values() {
            for s in p.ep.sessions() {
                sessions += 1;
                established += usize::from(p.ep.is_established(s));
            }
        }
        let map = self.hook.map();
        let stats = IkeStats {
            peers: self.peers.len(),
            sessions,
            established,
            child_sas: self.children.len(),
            pending_flows: self.hook.pending_flows(),
            acquire: self.hook.snapshot(),
            policies: map.applied.clone(),
        };
        if let Ok(json) = serde_json::to_vec_pretty(&stats) {
            let _ = write_atomic(&dir.join("ike.json"), &json);
        }
    }

    /// Loads policy again (SIGHUP, or a reload request): new acquires and new peers follow
    /// it at once; SAs already up stay until they expire or are deleted.
    async fn reload(&mut self) {
        let host = policy::resolver::SystemHost::default();
        let (rsop, compiled) = crate::policy_map::load(&self.settings.state_dir, &host);
        let local = self.hook.map().local.clone();
        let map = PolicyMap::new(&rsop, compiled, local);
        for w in &map.warnings {
            tracing::warn!(target: "oakley", "policy: {w}");
        }
        self.hook.replace(map);
        // Peers without sessions are configured again when next needed.
        self.peers.retain(|_, p| !p.ep.sessions().is_empty());
        if let Err(e) = self.install_policy_routes().await {
            tracing::warn!("policy routes: {e}");
        }
        tracing::info!(target: "oakley", policies = ?self.hook.map().applied, "policy reloaded");
    }

    async fn shutdown(&mut self, rx: &mut mpsc::Receiver<ToIke>) {
        let now = self.now();
        for p in self.peers.values_mut() {
            for s in p.ep.sessions() {
                p.ep.close(now, s, &mut self.rng);
            }
        }
        self.drain();
        // Give the peers a moment to answer the deletes.
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.peers.values().any(|p| !p.ep.sessions().is_empty()) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(ToIke::Reload)) => {}
                Ok(Some(m)) => self.on_message(m),
                _ => break,
            }
            self.drain();
        }
        self.write_stats();
        self.routes.teardown().await;
    }
}

/// True when every selector toward `n` is from a single local host (then that address is
/// the route's source).
fn s_is_host(selectors: &[crate::selector::Selector], n: &IpNet) -> bool {
    selectors
        .iter()
        .filter(|s| s.remote == *n)
        .all(|s| s.local.prefix_len() == s.local.max_prefix_len())
}
