//! A session with one peer: its IKE SA (and, around a rekey, the SAs being replaced), the
//! child SAs, which belong to the session rather than to one IKE SA so an IKE rekey moves
//! them by doing nothing (§2.18), and the queue of exchanges waiting for the request
//! window. The exchanges themselves live in the `exchange_*` modules.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use core::time::Duration;
use wire::ikev2::{
    Header, Message, Payload, TrafficSelector, emit_chain, exchange, flags, parse_chain,
};

use crate::config::{EndpointConfig, PeerConfig};
use crate::error::{IkeError, Result};
use crate::fragment;
use crate::output::{ChildId, ChildSaDelete, Event, Failure, Output, SessionId, Transmit};
use crate::rng::Rng;
use crate::sa::{IkeSa, IkeState, Outstanding, Pending};
use crate::time::Time;

/// Where a child SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildState {
    Installed,
    /// Our rekey of it is in flight.
    Rekeying,
    /// The peer replaced it; the peer deletes it (§2.8).
    RekeyedByPeer,
    /// Our Delete for it is queued or in flight.
    Deleting,
}

/// A child SA as IKE tracks it (its keys went to the data path and are not kept).
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub id: ChildId,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    pub transport: bool,
    /// The child SA this one replaced by a rekey.
    pub replaces: Option<ChildId>,
    pub state: ChildState,
    pub rekey_at: Option<Time>,
    pub expire_at: Time,
}

/// An exchange waiting for the request window.
#[derive(Debug, Clone)]
pub(crate) enum Task {
    CreateChild {
        local_ts: Vec<TrafficSelector>,
        remote_ts: Vec<TrafficSelector>,
    },
    RekeyChild(ChildId),
    RekeyIke,
    DeleteChild(ChildId),
    DeleteSpis(Vec<u32>),
    /// Delete the IKE SA with this local SPI (sent on that SA itself).
    DeleteIke(u64),
    Dpd,
}

/// Everything a session call needs from the endpoint.
pub(crate) struct Ctx<'a> {
    pub now: Time,
    pub rng: &'a mut dyn Rng,
    pub cfg: &'a EndpointConfig,
    pub out: &'a mut VecDeque<Output>,
    pub next_child: &'a mut u64,
}

impl Ctx<'_> {
    pub(crate) fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    pub(crate) fn child_id(&mut self) -> ChildId {
        *self.next_child += 1;
        *self.next_child
    }
}

pub(crate) struct Session {
    pub id: SessionId,
    pub peer: Arc<PeerConfig>,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub sas: Vec<IkeSa>,
    pub children: Vec<Child>,
    pub tasks: VecDeque<(Time, Task)>,
    pub local_behind_nat: bool,
    pub remote_behind_nat: bool,
    pub next_keepalive: Option<Time>,
    pub closed: bool,
}

/// Non-ESP marker for IKE on port 4500 (RFC 3948 §2.2).
const NATT_PORT: u16 = wire::natt::NATT_PORT;

impl Session {
    pub(crate) fn new(
        id: SessionId,
        peer: Arc<PeerConfig>,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        Self {
            id,
            peer,
            local,
            remote,
            sas: Vec::new(),
            children: Vec::new(),
            tasks: VecDeque::new(),
            local_behind_nat: false,
            remote_behind_nat: false,
            next_keepalive: None,
            closed: false,
        }
    }

    /// UDP-encapsulate ESP: a NAT was detected or the configuration forces it.
    pub(crate) fn encap(&self) -> bool {
        self.local_behind_nat || self.remote_behind_nat || self.peer.force_encap
    }

    pub(crate) fn sa_index(&self, local_spi: u64) -> Option<usize> {
        self.sas.iter().position(|s| s.local_spi() == local_spi)
    }

    /// The SA new exchanges start on: the newest established one.
    pub(crate) fn current(&self) -> Option<usize> {
        self.sas
            .iter()
            .rposition(|s| s.state == IkeState::Established)
    }

    pub(crate) fn child_index(&self, id: ChildId) -> Option<usize> {
        self.children.iter().position(|c| c.id == id)
    }

    /// Sends raw IKE bytes, adding the non-ESP marker on port 4500.
    pub(crate) fn transmit(&self, ctx: &mut Ctx<'_>, ike: &[u8]) {
        let mut bytes = Vec::with_capacity(ike.len() + 4);
        if self.local.port() == NATT_PORT {
            bytes.extend_from_slice(&wire::natt::NON_ESP_MARKER);
        }
        bytes.extend_from_slice(ike);
        ctx.out.push_back(Output::Transmit(Transmit {
            from: self.local,
            to: self.remote,
            bytes,
        }));
    }

    /// Moves IKE (and ESP) to port 4500 (§2.23).
    pub(crate) fn float(&mut self) {
        self.local.set_port(NATT_PORT);
        self.remote.set_port(NATT_PORT);
    }

    /// Encrypts an inner chain for SA `idx` into one datagram or, when the peer supports
    /// RFC 7383 and the message is too big, into fragments.
    pub(crate) fn protect(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        header: Header,
        payloads: &[Payload],
    ) -> Result<Vec<Vec<u8>>> {
        let (first, plain) = emit_chain(payloads)?;
        let marker = if self.local.port() == NATT_PORT { 4 } else { 0 };
        let sa = &mut self.sas[idx];
        let frag_ok = sa.peer_fragmentation;
        let keys = sa
            .keys
            .as_mut()
            .ok_or(IkeError::Protocol("sa without keys"))?;
        let overhead = wire::ikev2::HEADER_LEN + 8 + keys.out.overhead() + marker;
        let size = ctx.cfg.fragment_size;
        if !frag_ok || overhead + plain.len() <= size || size <= overhead + 16 {
            return Ok(vec![keys.out.seal(header, first, &plain, None, ctx.rng)?]);
        }
        let pieces = fragment::split(&plain, size - overhead);
        let total =
            u16::try_from(pieces.len()).map_err(|_| IkeError::Protocol("too many fragments"))?;
        let mut out = Vec::with_capacity(pieces.len());
        for (i, p) in pieces.iter().enumerate() {
            let f = if i == 0 { first } else { 0 };
            out.push(
                keys.out
                    .seal(header, f, p, Some((i as u16 + 1, total)), ctx.rng)?,
            );
        }
        Ok(out)
    }

    fn header(&self, idx: usize, exchange: u8, message_id: u32, response: bool) -> Header {
        let sa = &self.sas[idx];
        let mut f = if sa.initiator { flags::INITIATOR } else { 0 };
        if response {
            f |= flags::RESPONSE;
        }
        Header {
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
            next_payload: 0,
            version: 0x20,
            exchange,
            flags: f,
            message_id,
            length: 0,
        }
    }

    /// Sends a request on SA `idx` and arms its retransmission.
    pub(crate) fn send_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        exchange: u8,
        payloads: &[Payload],
        pending: Pending,
    ) -> Result<()> {
        let id = self.sas[idx].next_request;
        let header = self.header(idx, exchange, id, false);
        let datagrams = self.protect(ctx, idx, header, payloads)?;
        for d in &datagrams {
            self.transmit(ctx, d);
        }
        let sa = &mut self.sas[idx];
        sa.next_request = id.wrapping_add(1);
        sa.outstanding = Some(Outstanding {
            message_id: id,
            datagrams,
            tries: 0,
            deadline: ctx.now + ctx.cfg.retransmit_timeout,
            pending,
        });
        Ok(())
    }

    /// Sends and caches the response to the peer's request `message_id`.
    pub(crate) fn send_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        exchange: u8,
        message_id: u32,
        payloads: &[Payload],
    ) -> Result<()> {
        let header = self.header(idx, exchange, message_id, true);
        let datagrams = self.protect(ctx, idx, header, payloads)?;
        for d in &datagrams {
            self.transmit(ctx, d);
        }
        let sa = &mut self.sas[idx];
        sa.cached = Some((message_id, datagrams));
        sa.expected_request = message_id.wrapping_add(1);
        Ok(())
    }

    /// A datagram for SA `local_spi` (IKE bytes, marker removed).
    pub(crate) fn on_datagram(
        &mut self,
        ctx: &mut Ctx<'_>,
        local_spi: u64,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) {
        let Some(idx) = self.sa_index(local_spi) else {
            return;
        };
        if let Err(e) = self.dispatch(ctx, idx, from, to, bytes) {
            let reason = match e {
                IkeError::Integrity => "integrity check failed",
                IkeError::Wire(_) => "malformed",
                IkeError::Crypto(_) => "crypto failure",
                IkeError::Protocol(p) => p,
            };
            ctx.event(Event::Dropped { from, reason });
        }
        self.start_tasks(ctx);
    }

    fn dispatch(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) -> Result<()> {
        let header = Header::parse(bytes)?;
        let sa = &self.sas[idx];
        // The I flag names the original initiator: the peer's messages carry the opposite
        // of ours (§3.1).
        if header.is_initiator() == sa.initiator {
            return Err(IkeError::Protocol("wrong initiator flag"));
        }
        if header.exchange == exchange::IKE_SA_INIT {
            if header.is_response() && sa.state == IkeState::Connecting {
                return self.on_init_response(ctx, idx, from, to, bytes);
            }
            if !header.is_response() {
                // A retransmitted IKE_SA_INIT that reached us through the SPI index.
                self.resend_cached(ctx, idx, 0);
            }
            return Ok(());
        }
        if header.is_response() {
            let Some(o) = &sa.outstanding else {
                return Ok(());
            };
            if o.message_id != header.message_id {
                return Ok(());
            }
        } else {
            if let Some((id, _)) = &sa.cached
                && *id == header.message_id
            {
                // RFC 7383 §2.6.1: answer a retransmitted fragmented request once, on its
                // first fragment.
                if !is_later_fragment(bytes) {
                    self.resend_cached(ctx, idx, header.message_id);
                }
                return Ok(());
            }
            if header.message_id != sa.expected_request {
                return Ok(());
            }
        }
        let keys = sa.keys.as_ref().ok_or(IkeError::Protocol("no keys yet"))?;
        let opened = keys.inb.open(bytes)?;
        let sa = &mut self.sas[idx];
        let (first, plain) = match opened.fragment {
            None => (opened.first_inner, opened.plain),
            Some((number, total)) => {
                let r = if header.is_response() {
                    &mut sa.reassembly_responses
                } else {
                    &mut sa.reassembly_requests
                };
                match r.add(
                    header.message_id,
                    number,
                    total,
                    opened.first_inner,
                    opened.plain,
                ) {
                    Some(whole) => whole,
                    None => return Ok(()),
                }
            }
        };
        sa.last_heard = ctx.now;
        // Authenticated: follow the peer's address if a NAT moved it (§2.23).
        if (self.encap() || to.port() == NATT_PORT) && (from != self.remote || to != self.local) {
            self.remote = from;
            self.local = to;
        }
        let payloads = match parse_chain(first, &plain) {
            Ok(p) => p,
            Err(e) if !header.is_response() => {
                // Authenticated but unparsable: INVALID_SYNTAX (§2.21.2).
                let n = Payload::Notify(wire::ikev2::Notify::new(
                    wire::ikev2::notify::INVALID_SYNTAX,
                    Vec::new(),
                ));
                self.send_response(ctx, idx, header.exchange, header.message_id, &[n])?;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        if header.is_response() {
            let o = self.sas[idx]
                .outstanding
                .take()
                .ok_or(IkeError::Protocol("no request"))?;
            self.on_response(ctx, idx, header.exchange, o.pending, payloads)
        } else {
            self.on_request(ctx, idx, header.exchange, header.message_id, payloads)
        }
    }

    pub(crate) fn resend_cached(&mut self, ctx: &mut Ctx<'_>, idx: usize, message_id: u32) {
        if let Some((id, dgs)) = &self.sas[idx].cached
            && *id == message_id
        {
            for d in dgs.clone() {
                self.transmit(ctx, &d);
            }
        }
    }

    fn on_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        exchange: u8,
        pending: Pending,
        payloads: Vec<Payload>,
    ) -> Result<()> {
        match (exchange, pending) {
            (exchange::IKE_AUTH, Pending::Auth(req)) => {
                self.on_auth_response(ctx, idx, req, payloads)
            }
            (exchange::CREATE_CHILD_SA, Pending::CreateChild(req)) => {
                self.on_child_response(ctx, idx, req, payloads)
            }
            (exchange::CREATE_CHILD_SA, Pending::RekeyIke(req)) => {
                self.on_ike_rekey_response(ctx, idx, req, payloads)
            }
            (exchange::INFORMATIONAL, p) => {
                self.on_informational_response(ctx, idx, p, payloads);
                Ok(())
            }
            (_, p) => {
                // A response of the wrong exchange type: treat our request as failed.
                self.abandon(ctx, p);
                Err(IkeError::Protocol("response to another exchange"))
            }
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        exchange: u8,
        message_id: u32,
        payloads: Vec<Payload>,
    ) -> Result<()> {
        match exchange {
            exchange::IKE_AUTH if self.sas[idx].state == IkeState::Authenticating => {
                self.on_auth_request(ctx, idx, message_id, payloads)
            }
            exchange::CREATE_CHILD_SA if self.sas[idx].auth.is_none() => {
                self.on_create_child_request(ctx, idx, message_id, payloads)
            }
            exchange::INFORMATIONAL if self.sas[idx].auth.is_none() => {
                self.on_informational_request(ctx, idx, message_id, payloads)
            }
            _ => Err(IkeError::Protocol("unexpected exchange")),
        }
    }

    /// Our request could not complete (its IKE SA went away): undo its local effects and
    /// ask the peer to delete whatever it may have created for it.
    pub(crate) fn abandon(&mut self, ctx: &mut Ctx<'_>, pending: Pending) {
        match pending {
            Pending::Init(_) | Pending::Auth(_) => {}
            Pending::CreateChild(req) => {
                self.queue(ctx.now, Task::DeleteSpis(vec![req.inbound_spi]));
                if let Some(old) = req.rekey_of
                    && let Some(i) = self.child_index(old)
                    && self.children[i].state == ChildState::Rekeying
                {
                    self.children[i].state = if req.collision.is_some() {
                        ChildState::RekeyedByPeer
                    } else {
                        ChildState::Installed
                    };
                    self.children[i].rekey_at = Some(ctx.now + ctx.cfg.retry_delay);
                }
            }
            Pending::RekeyIke(_) => {
                if let Some(c) = self.current() {
                    self.sas[c].rekey_at = Some(ctx.now + ctx.cfg.retry_delay);
                }
            }
            Pending::DeleteChildren(ids) => {
                for id in ids {
                    self.queue(ctx.now, Task::DeleteChild(id));
                }
            }
            Pending::DeleteSpis(spis) => self.queue(ctx.now, Task::DeleteSpis(spis)),
            Pending::DeleteIke | Pending::Dpd => {}
        }
    }

    pub(crate) fn queue(&mut self, at: Time, task: Task) {
        self.tasks.push_back((at, task));
    }

    /// Removes IKE SA `idx`. When no usable SA is left the session ends and every child
    /// SA goes with it (§1.4.1). While another SA lives (an SA being replaced, or the
    /// other half of a rekey collision not yet resolved) the children stay: they belong
    /// to whichever SA survives the rekey (§2.18).
    pub(crate) fn remove_sa(&mut self, ctx: &mut Ctx<'_>, idx: usize) {
        let sa = self.sas.remove(idx);
        ctx.event(Event::IkeSaDeleted {
            session: self.id,
            spi_i: sa.spi_i,
            spi_r: sa.spi_r,
        });
        if let Some(o) = sa.outstanding {
            self.abandon(ctx, o.pending);
        }
        if self
            .sas
            .iter()
            .all(|s| s.state == IkeState::Redundant || s.state == IkeState::Deleting)
        {
            self.close(ctx);
        }
    }

    /// Ends the session: every child SA is deleted from the data path.
    pub(crate) fn close(&mut self, ctx: &mut Ctx<'_>) {
        for c in core::mem::take(&mut self.children) {
            self.emit_delete(ctx, &c);
        }
        self.sas.clear();
        self.tasks.clear();
        if !self.closed {
            self.closed = true;
            ctx.event(Event::SessionClosed { session: self.id });
        }
    }

    /// Fatal failure: report and end the session.
    pub(crate) fn fail(&mut self, ctx: &mut Ctx<'_>, failure: Failure) {
        ctx.event(Event::Failed {
            session: self.id,
            failure,
            fatal: true,
        });
        self.close(ctx);
    }

    pub(crate) fn emit_delete(&self, ctx: &mut Ctx<'_>, c: &Child) {
        ctx.out.push_back(Output::DeleteChild(ChildSaDelete {
            session: self.id,
            child: c.id,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
        }));
        ctx.event(Event::ChildSaDeleted {
            session: self.id,
            child: c.id,
        });
    }

    pub(crate) fn remove_child(&mut self, ctx: &mut Ctx<'_>, id: ChildId) {
        if let Some(i) = self.child_index(id) {
            let c = self.children.remove(i);
            self.emit_delete(ctx, &c);
            self.successor_gone(ctx, &c);
        }
    }

    /// A rekey's result went away (the redundant half of a collision, or an exchange the
    /// peer abandoned). If the SA it replaced now has no live successor, it is ours to
    /// rekey again rather than wait for a delete that will not come.
    pub(crate) fn successor_gone(&mut self, ctx: &mut Ctx<'_>, gone: &Child) {
        let Some(old) = gone.replaces else {
            return;
        };
        let successor = self
            .children
            .iter()
            .any(|c| c.replaces == Some(old) && c.state != ChildState::Deleting);
        if let Some(i) = self.child_index(old)
            && !successor
            && self.children[i].state == ChildState::RekeyedByPeer
        {
            self.children[i].state = ChildState::Installed;
            self.children[i].rekey_at = Some(ctx.now + ctx.cfg.retry_delay);
        }
    }

    /// The earliest time this session needs `handle_timeout`.
    pub(crate) fn next_timeout(&self) -> Option<Time> {
        let mut t: Option<Time> = None;
        let mut min = |x: Option<Time>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |y| y.min(x)));
            }
        };
        for sa in &self.sas {
            min(sa.outstanding.as_ref().map(|o| o.deadline));
            min(sa.rekey_at);
            min(sa.expire_at);
        }
        for c in &self.children {
            if c.state == ChildState::Installed {
                min(c.rekey_at);
            }
            if c.state != ChildState::Deleting {
                min(Some(c.expire_at));
            }
        }
        if let (Some(d), Some(cur)) = (self.peer.dpd, self.current()) {
            min(Some(self.sas[cur].last_heard + d));
        }
        min(self.next_keepalive);
        if let Some(cur) = self.current()
            && self.sas[cur].outstanding.is_none()
        {
            min(self
                .tasks
                .iter()
                .filter(|(_, t)| !matches!(t, Task::DeleteIke(_)))
                .map(|(at, _)| *at)
                .min());
        }
        t
    }

    pub(crate) fn on_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let now = ctx.now;
        // Retransmissions (§2.1): exponential back-off, then give up on the SA.
        let mut i = 0;
        while i < self.sas.len() {
            let due = matches!(&self.sas[i].outstanding, Some(o) if o.deadline <= now);
            if !due {
                i += 1;
                continue;
            }
            let tries = self.sas[i].outstanding.as_ref().map_or(0, |o| o.tries);
            if tries >= ctx.cfg.retransmit_tries {
                let state = self.sas[i].state;
                if matches!(state, IkeState::Connecting | IkeState::Authenticating) {
                    self.fail(ctx, Failure::PeerDead);
                    return;
                }
                let others = self
                    .sas
                    .iter()
                    .enumerate()
                    .any(|(j, s)| j != i && s.state == IkeState::Established);
                if others {
                    // An SA of a rekey the peer may never have completed: drop it alone.
                    let sa = self.sas.remove(i);
                    ctx.event(Event::IkeSaDeleted {
                        session: self.id,
                        spi_i: sa.spi_i,
                        spi_r: sa.spi_r,
                    });
                    if let Some(o) = sa.outstanding {
                        self.abandon(ctx, o.pending);
                    }
                    continue;
                }
                self.fail(ctx, Failure::PeerDead);
                return;
            }
            let o = self.sas[i].outstanding.as_mut().expect("checked above");
            o.tries += 1;
            let backoff = ctx.cfg.retransmit_timeout * (1u32 << o.tries.min(16));
            o.deadline = now + backoff;
            let (id, dgs) = (o.message_id, o.datagrams.clone());
            ctx.event(Event::Retransmit {
                session: self.id,
                message_id: id,
                attempt: o.tries,
            });
            for d in &dgs {
                self.transmit(ctx, d);
            }
            i += 1;
        }
        // IKE SA lifetimes.
        let mut i = 0;
        while i < self.sas.len() {
            let sa = &mut self.sas[i];
            if sa.rekey_at.is_some_and(|t| t <= now) {
                sa.rekey_at = None;
                if sa.state == IkeState::Established {
                    self.queue(now, Task::RekeyIke);
                }
            }
            let sa = &mut self.sas[i];
            if sa.expire_at.is_some_and(|t| t <= now) {
                sa.expire_at = None;
                match sa.state {
                    IkeState::Authenticating if !sa.initiator => {
                        // A half-open SA that never authenticated.
                        self.fail(ctx, Failure::Protocol("half-open ike sa timed out"));
                        return;
                    }
                    IkeState::Deleting => {}
                    _ => {
                        sa.state = IkeState::Deleting;
                        let spi = sa.local_spi();
                        self.queue(now, Task::DeleteIke(spi));
                    }
                }
            }
            i += 1;
        }
        // Child SA lifetimes: rekey before expiry, delete at expiry.
        let mut due = Vec::new();
        for c in &mut self.children {
            if c.state == ChildState::Installed && c.rekey_at.is_some_and(|t| t <= now) {
                c.rekey_at = None;
                due.push(Task::RekeyChild(c.id));
            }
            if c.expire_at <= now && c.state != ChildState::Deleting {
                c.state = ChildState::Deleting;
                due.push(Task::DeleteChild(c.id));
            }
        }
        for t in due {
            self.queue(now, t);
        }
        // Liveness check when the peer has been silent (§2.4).
        if let (Some(d), Some(cur)) = (self.peer.dpd, self.current()) {
            let sa = &mut self.sas[cur];
            if sa.last_heard + d <= now {
                sa.last_heard = now;
                if !self.tasks.iter().any(|(_, t)| matches!(t, Task::Dpd)) {
                    self.queue(now, Task::Dpd);
                }
            }
        }
        // NAT keepalives from behind a NAT (RFC 3948 §2.3).
        if let Some(k) = self.next_keepalive
            && k <= now
        {
            self.next_keepalive = Some(now + ctx.cfg.keepalive);
            ctx.out.push_back(Output::Transmit(Transmit {
                from: self.local,
                to: self.remote,
                bytes: vec![wire::natt::KEEPALIVE],
            }));
        }
        self.start_tasks(ctx);
    }

    /// Starts queued exchanges while the request window is free.
    pub(crate) fn start_tasks(&mut self, ctx: &mut Ctx<'_>) {
        if self.closed {
            return;
        }
        // Deletes of old IKE SAs go out on those SAs themselves.
        let mut k = 0;
        while k < self.tasks.len() {
            if let (_, Task::DeleteIke(spi)) = &self.tasks[k] {
                let spi = *spi;
                match self.sa_index(spi) {
                    None => {
                        self.tasks.remove(k);
                        continue;
                    }
                    Some(i) if self.sas[i].outstanding.is_none() => {
                        self.tasks.remove(k);
                        self.sas[i].state = IkeState::Deleting;
                        let d = Payload::Delete(wire::ikev2::Delete {
                            protocol: wire::ikev2::protocol::IKE,
                            spi_size: 0,
                            spis: Vec::new(),
                        });
                        if self
                            .send_request(ctx, i, exchange::INFORMATIONAL, &[d], Pending::DeleteIke)
                            .is_err()
                        {
                            self.remove_sa(ctx, i);
                            if self.closed {
                                return;
                            }
                        }
                        continue;
                    }
                    Some(_) => {}
                }
            }
            k += 1;
        }
        loop {
            let Some(cur) = self.current() else {
                return;
            };
            if self.sas[cur].outstanding.is_some() {
                return;
            }
            let Some(pos) = self
                .tasks
                .iter()
                .position(|(at, t)| *at <= ctx.now && !matches!(t, Task::DeleteIke(_)))
            else {
                return;
            };
            let (_, task) = self.tasks.remove(pos).expect("position is valid");
            if let Err(e) = self.start_task(ctx, cur, task) {
                ctx.event(Event::Failed {
                    session: self.id,
                    failure: Failure::Local(match e {
                        IkeError::Protocol(p) => p,
                        _ => "could not build request",
                    }),
                    fatal: false,
                });
            }
            if self.closed {
                return;
            }
        }
    }

    fn start_task(&mut self, ctx: &mut Ctx<'_>, cur: usize, task: Task) -> Result<()> {
        match task {
            Task::CreateChild {
                local_ts,
                remote_ts,
            } => self.start_create_child(ctx, cur, None, local_ts, remote_ts),
            Task::RekeyChild(id) => {
                let Some(i) = self.child_index(id) else {
                    return Ok(());
                };
                if self.children[i].state != ChildState::Installed {
                    return Ok(());
                }
                self.children[i].state = ChildState::Rekeying;
                let (l, r) = (
                    self.children[i].local_ts.clone(),
                    self.children[i].remote_ts.clone(),
                );
                let res = self.start_create_child(ctx, cur, Some(id), l, r);
                if res.is_err()
                    && let Some(i) = self.child_index(id)
                {
                    self.children[i].state = ChildState::Installed;
                }
                res
            }
            Task::RekeyIke => self.start_ike_rekey(ctx, cur),
            Task::DeleteChild(id) => {
                let Some(i) = self.child_index(id) else {
                    return Ok(());
                };
                self.children[i].state = ChildState::Deleting;
                let spi = self.children[i].inbound_spi;
                self.send_delete_spis(ctx, cur, vec![spi], Pending::DeleteChildren(vec![id]))
            }
            Task::DeleteSpis(spis) => {
                let p = Pending::DeleteSpis(spis.clone());
                self.send_delete_spis(ctx, cur, spis, p)
            }
            Task::Dpd => self.send_request(ctx, cur, exchange::INFORMATIONAL, &[], Pending::Dpd),
            Task::DeleteIke(_) => Ok(()),
        }
    }

    fn send_delete_spis(
        &mut self,
        ctx: &mut Ctx<'_>,
        cur: usize,
        spis: Vec<u32>,
        p: Pending,
    ) -> Result<()> {
        let d = Payload::Delete(wire::ikev2::Delete {
            protocol: wire::ikev2::protocol::ESP,
            spi_size: 4,
            spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        });
        self.send_request(ctx, cur, exchange::INFORMATIONAL, &[d], p)
    }

    /// No request in flight or ready to go on any SA.
    pub(crate) fn is_idle(&self, now: Time) -> bool {
        self.sas.iter().all(|s| s.outstanding.is_none())
            && !self.tasks.iter().any(|(at, _)| *at <= now)
    }

    /// A fresh inbound SPI not used by another child of this session.
    pub(crate) fn new_child_spi(&self, rng: &mut dyn Rng) -> u32 {
        loop {
            let s = crate::rng::child_spi(rng);
            if !self.children.iter().any(|c| c.inbound_spi == s) {
                return s;
            }
        }
    }

    /// Rekey and expiry times of a new child SA.
    pub(crate) fn child_times(&self, ctx: &mut Ctx<'_>) -> (Option<Time>, Time) {
        let l = self.peer.child_lifetime;
        let j = crate::rng::jitter(ctx.rng, l.jitter);
        (Some(ctx.now + l.rekey.saturating_sub(j)), ctx.now + l.hard)
    }

    /// Rekey and expiry times of a new IKE SA.
    pub(crate) fn ike_times(&self, ctx: &mut Ctx<'_>) -> (Option<Time>, Option<Time>) {
        let l = self.peer.ike_lifetime;
        let j = crate::rng::jitter(ctx.rng, l.jitter);
        (
            Some(ctx.now + l.rekey.saturating_sub(j)),
            Some(ctx.now + l.hard),
        )
    }

    /// How long an SA replaced by the peer may linger before we delete it ourselves.
    pub(crate) fn linger(ctx: &Ctx<'_>) -> Duration {
        ctx.cfg.retransmit_timeout * (1u32 << ctx.cfg.retransmit_tries.min(16)) * 2
    }
}

/// True for the second and later fragments of an SKF message.
fn is_later_fragment(bytes: &[u8]) -> bool {
    match Message::parse(bytes) {
        Ok(m) => matches!(m.payloads.last(), Some(Payload::Skf(f)) if f.number > 1),
        Err(_) => false,
    }
}
