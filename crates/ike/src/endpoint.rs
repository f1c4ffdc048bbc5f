//! The endpoint: routes datagrams to sessions by IKE SPI, answers new IKE_SA_INIT requests
//! (with cookies and a half-open limit, §2.6), starts sessions on acquires, and collects
//! everything the sessions ask the caller to do.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use wire::ikev2::{Header, Message, Notify, Payload, TrafficSelector, exchange, flags, notify};

use crate::config::{EndpointConfig, Mode, PeerConfig};
use crate::exchange_init::{ke_payload, nonce_payload, respond_init, sa_payload};
use crate::output::{ChildId, Event, Output, SessionId};
use crate::proposal::{self, IkeChoice};
use crate::rng::{self, Rng};
use crate::sa::{self, ChildRequest, IkeSa, IkeState, InitRequest};
use crate::session::{ChildState, Ctx, Session, Task};
use crate::time::Time;

/// A child SA as the endpoint reports it (no keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    pub id: ChildId,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub rekeying: bool,
}

/// An IKEv2 endpoint: all sessions of this host.
pub struct Endpoint {
    cfg: EndpointConfig,
    peers: Vec<Arc<PeerConfig>>,
    sessions: BTreeMap<SessionId, Session>,
    by_spi: BTreeMap<u64, SessionId>,
    half_open: BTreeMap<(u64, SocketAddr), SessionId>,
    cookie_secret: Vec<u8>,
    out: VecDeque<Output>,
    next_session: SessionId,
    next_child: u64,
}

impl Endpoint {
    /// An endpoint for these peers. `rng` seeds the cookie secret.
    pub fn new(cfg: EndpointConfig, peers: Vec<PeerConfig>, rng: &mut dyn Rng) -> Self {
        Self {
            cfg,
            peers: peers.into_iter().map(Arc::new).collect(),
            sessions: BTreeMap::new(),
            by_spi: BTreeMap::new(),
            half_open: BTreeMap::new(),
            cookie_secret: rng::bytes(rng, 32),
            out: VecDeque::new(),
            next_session: 0,
            next_child: 0,
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] must be called next.
    pub fn next_timeout(&self) -> Option<Time> {
        self.sessions
            .values()
            .filter_map(Session::next_timeout)
            .min()
    }

    /// No request is in flight or ready to start (tests use this to find quiet moments).
    pub fn is_idle(&self, now: Time) -> bool {
        self.sessions.values().all(|s| s.is_idle(now))
    }

    /// Child SAs of a session that the data path should have installed.
    pub fn children(&self, session: SessionId) -> Vec<ChildInfo> {
        self.sessions
            .get(&session)
            .map(|s| {
                s.children
                    .iter()
                    .map(|c| ChildInfo {
                        id: c.id,
                        inbound_spi: c.inbound_spi,
                        outbound_spi: c.outbound_spi,
                        rekeying: c.state == ChildState::Rekeying,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sessions alive now.
    pub fn sessions(&self) -> Vec<SessionId> {
        self.sessions.keys().copied().collect()
    }

    /// True when the session has an established IKE SA.
    pub fn is_established(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.current().is_some())
    }

    fn with_session(
        &mut self,
        id: SessionId,
        now: Time,
        rng: &mut dyn Rng,
        f: impl FnOnce(&mut Session, &mut Ctx<'_>),
    ) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let mut ctx = Ctx {
            now,
            rng,
            cfg: &self.cfg,
            out: &mut self.out,
            next_child: &mut self.next_child,
        };
        f(s, &mut ctx);
        self.reindex(id);
    }

    /// Keeps the SPI index in step with the session's SAs; drops closed sessions.
    fn reindex(&mut self, id: SessionId) {
        self.by_spi.retain(|_, s| *s != id);
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        if s.closed {
            self.sessions.remove(&id);
            self.half_open.retain(|_, s| *s != id);
            return;
        }
        for sa in &s.sas {
            self.by_spi.insert(sa.local_spi(), id);
        }
        let half_open = s
            .sas
            .first()
            .is_some_and(|sa| !sa.initiator && sa.state == IkeState::Authenticating);
        if !half_open {
            self.half_open.retain(|_, s| *s != id);
        }
    }

    /// Traffic needs a child SA with `peer` (index into the configured peers): starts a
    /// session, or a CREATE_CHILD_SA on the existing one. Selectors default to the
    /// configured ones. Returns the session.
    pub fn acquire(
        &mut self,
        now: Time,
        peer: usize,
        selectors: Option<(Vec<TrafficSelector>, Vec<TrafficSelector>)>,
        rng: &mut dyn Rng,
    ) -> Option<SessionId> {
        let cfg = self.peers.get(peer)?.clone();
        let (local_ts, remote_ts) =
            selectors.unwrap_or_else(|| (cfg.local_ts.clone(), cfg.remote_ts.clone()));
        if let Some((&id, _)) = self
            .sessions
            .iter()
            .find(|(_, s)| Arc::ptr_eq(&s.peer, &cfg))
        {
            self.with_session(id, now, rng, |s, ctx| {
                s.queue(
                    ctx.now,
                    Task::CreateChild {
                        local_ts,
                        remote_ts,
                    },
                );
                s.start_tasks(ctx);
            });
            return Some(id);
        }
        self.next_session += 1;
        let id = self.next_session;
        let mut session = Session::new(id, cfg.clone(), cfg.local, cfg.remote);
        let spi_i = rng::u64_nonzero(rng);
        session
            .sas
            .push(IkeSa::new(spi_i, 0, true, IkeState::Connecting, now));
        self.sessions.insert(id, session);
        let group = cfg.ike_suites.first()?.dh;
        self.with_session(id, now, rng, |s, ctx| {
            let result = (|| {
                let child = ChildRequest {
                    inbound_spi: s.new_child_spi(ctx.rng),
                    ni: Vec::new(),
                    kex: None,
                    rekey_of: None,
                    local_ts,
                    remote_ts,
                    collision: None,
                    transport: cfg.mode == Mode::Transport,
                };
                let init = Box::new(InitRequest {
                    ni: sa::nonce(ctx.rng),
                    kex: sa::new_kex(group, ctx.rng)?,
                    cookie: None,
                    attempts: 0,
                    message: Vec::new(),
                    child,
                });
                s.send_init(ctx, 0, init)
            })();
            if result.is_err() {
                s.fail(
                    ctx,
                    crate::output::Failure::Local("cannot build ike_sa_init"),
                );
            }
        });
        Some(id)
    }

    /// Rekeys a child SA now (as its lifetime would).
    pub fn rekey_child(
        &mut self,
        now: Time,
        session: SessionId,
        child: ChildId,
        rng: &mut dyn Rng,
    ) {
        self.with_session(session, now, rng, |s, ctx| {
            s.queue(ctx.now, Task::RekeyChild(child));
            s.start_tasks(ctx);
        });
    }

    /// Rekeys the session's IKE SA now.
    pub fn rekey_ike(&mut self, now: Time, session: SessionId, rng: &mut dyn Rng) {
        self.with_session(session, now, rng, |s, ctx| {
            s.queue(ctx.now, Task::RekeyIke);
            s.start_tasks(ctx);
        });
    }

    /// Deletes the session's IKE SA (and with it every child SA).
    pub fn close(&mut self, now: Time, session: SessionId, rng: &mut dyn Rng) {
        self.with_session(session, now, rng, |s, ctx| {
            if let Some(cur) = s.current() {
                s.sas[cur].state = IkeState::Deleting;
                let spi = s.sas[cur].local_spi();
                s.queue(ctx.now, Task::DeleteIke(spi));
                s.start_tasks(ctx);
            }
        });
    }

    /// Timers: retransmissions, lifetimes, liveness checks, keepalives.
    pub fn handle_timeout(&mut self, now: Time, rng: &mut dyn Rng) {
        let due: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.next_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.with_session(id, now, rng, |s, ctx| s.on_timeout(ctx));
        }
    }

    /// A UDP datagram arrived from `from` at our address `to`. On port 4500 it may be a
    /// keepalive or ESP (not ours: ignored) or IKE behind the non-ESP marker.
    pub fn handle_datagram(
        &mut self,
        now: Time,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
        rng: &mut dyn Rng,
    ) {
        let ike = if to.port() == wire::natt::NATT_PORT {
            match wire::natt::classify(bytes) {
                Ok(wire::natt::Encapsulated::Ike(b)) => b,
                _ => return,
            }
        } else {
            bytes
        };
        let Ok(header) = Header::parse(ike) else {
            self.dropped(from, "short ike header");
            return;
        };
        if header.major() != 2 || header.length as usize != ike.len() {
            self.dropped(from, "bad version or length");
            return;
        }
        if header.exchange == exchange::IKE_SA_INIT && !header.is_response() && header.spi_r == 0 {
            self.on_init_request(now, from, to, ike, rng);
            return;
        }
        let local_spi = if header.is_initiator() {
            header.spi_r
        } else {
            header.spi_i
        };
        let Some(&id) = self.by_spi.get(&local_spi) else {
            self.dropped(from, "unknown ike spi");
            return;
        };
        self.with_session(id, now, rng, |s, ctx| {
            s.on_datagram(ctx, local_spi, from, to, ike)
        });
    }

    fn dropped(&mut self, from: SocketAddr, reason: &'static str) {
        self.out
            .push_back(Output::Event(Event::Dropped { from, reason }));
    }

    /// Sends an unprotected IKE_SA_INIT error or cookie response (no state kept).
    fn stateless_reply(&mut self, request: &Header, from: SocketAddr, to: SocketAddr, n: Notify) {
        let msg = Message {
            header: Header {
                spi_i: request.spi_i,
                spi_r: 0,
                next_payload: 0,
                version: 0x20,
                exchange: exchange::IKE_SA_INIT,
                flags: flags::RESPONSE,
                message_id: 0,
                length: 0,
            },
            payloads: vec![Payload::Notify(n)],
        };
        if let Ok(bytes) = msg.emit() {
            let mut b = Vec::new();
            if to.port() == wire::natt::NATT_PORT {
                b.extend_from_slice(&wire::natt::NON_ESP_MARKER);
            }
            b.extend_from_slice(&bytes);
            self.out
                .push_back(Output::Transmit(crate::output::Transmit {
                    from: to,
                    to: from,
                    bytes: b,
                }));
        }
    }

    fn on_init_request(
        &mut self,
        now: Time,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
        rng: &mut dyn Rng,
    ) {
        let Ok(msg) = Message::parse(bytes) else {
            self.dropped(from, "malformed ike_sa_init");
            return;
        };
        if msg.header.message_id != 0 {
            self.dropped(from, "ike_sa_init with message id");
            return;
        }
        // A retransmission of a request we answered: the same answer (§2.1).
        if let Some(&id) = self.half_open.get(&(msg.header.spi_i, from)) {
            self.with_session(id, now, rng, |s, ctx| s.resend_cached(ctx, 0, 0));
            return;
        }
        let Some(peer) = self
            .peers
            .iter()
            .find(|p| p.remote.ip() == from.ip() || p.remote.ip().is_unspecified())
            .cloned()
        else {
            self.dropped(from, "no peer configured for this address");
            return;
        };
        let half_open = self.half_open.len();
        if half_open >= self.cfg.half_open_limit {
            self.dropped(from, "half-open limit");
            return;
        }
        let p = &msg.payloads;
        let (Some(sa_p), Some(ke), Some(ni)) = (sa_payload(p), ke_payload(p), nonce_payload(p))
        else {
            self.stateless_reply(
                &msg.header,
                from,
                to,
                Notify::new(notify::INVALID_SYNTAX, Vec::new()),
            );
            return;
        };
        if half_open >= self.cfg.cookie_threshold {
            let want = crate::nat::cookie(&self.cookie_secret, 0, ni, from.ip(), msg.header.spi_i);
            // §2.6: the cookie must be the first payload.
            let ok = matches!(p.first(), Some(Payload::Notify(n)) if n.ty == notify::COOKIE && crypto::ct_eq(&n.data, &want));
            if !ok {
                self.out
                    .push_back(Output::Event(Event::CookieDemanded { from }));
                self.stateless_reply(&msg.header, from, to, Notify::new(notify::COOKIE, want));
                return;
            }
        }
        let (number, suite) = match proposal::choose_ike(&peer.ike_suites, sa_p, ke.group) {
            IkeChoice::Chosen { number, suite, .. } => (number, suite),
            IkeChoice::WrongGroup(g) => {
                self.stateless_reply(
                    &msg.header,
                    from,
                    to,
                    Notify::new(notify::INVALID_KE_PAYLOAD, g.to_be_bytes().to_vec()),
                );
                return;
            }
            IkeChoice::None => {
                self.dropped(from, "no proposal chosen");
                self.stateless_reply(
                    &msg.header,
                    from,
                    to,
                    Notify::new(notify::NO_PROPOSAL_CHOSEN, Vec::new()),
                );
                return;
            }
        };
        self.next_session += 1;
        let id = self.next_session;
        self.sessions.insert(id, Session::new(id, peer, to, from));
        self.half_open.insert((msg.header.spi_i, from), id);
        self.with_session(id, now, rng, |s, ctx| {
            if respond_init(s, ctx, &msg, bytes, number, suite, from, to).is_err() {
                ctx.event(Event::Dropped {
                    from,
                    reason: "invalid key exchange value",
                });
                s.closed = true;
            }
        });
    }
}
