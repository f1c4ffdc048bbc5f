//! CREATE_CHILD_SA (RFC 7296 §1.3): new child SAs, child SA rekeys with or without PFS,
//! IKE SA rekeys (§2.18), and simultaneous rekeys resolved by nonces (§2.8.1).

use crypto::kdf::ikev2 as kdf;
use wire::ikev2::{KeyExchange, Notify, Payload, TrafficSelector, exchange, notify, protocol};

use crate::config::Mode;
use crate::error::{IkeError, Result};
use crate::exchange_auth::{NewChild, ts_payloads};
use crate::exchange_init::{error_notify, find_notify, ke_payload, nonce_payload, sa_payload};
use crate::output::{ChildId, Event, Failure, Output};
use crate::proposal::{self, ChildChoice, IkeChoice};
use crate::sa::{self, ChildRequest, Collision, IkeRekeyRequest, IkeSa, IkeState, Pending};
use crate::session::{ChildState, Ctx, Session, Task};
use crate::ts;

/// The lower of two nonces (byte-wise, as §2.8.1 compares them).
fn lowest<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    if a <= b { a } else { b }
}

fn notify_payload(ty: u16, data: Vec<u8>) -> Payload {
    Payload::Notify(Notify::new(ty, data))
}

impl Session {
    /// Starts a CREATE_CHILD_SA for a new child (`rekey_of` None) or a rekey on SA `idx`.
    pub(crate) fn start_create_child(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        rekey_of: Option<ChildId>,
        local_ts: Vec<TrafficSelector>,
        remote_ts: Vec<TrafficSelector>,
    ) -> Result<()> {
        self.start_create_child_group(ctx, idx, rekey_of, local_ts, remote_ts, None)
    }

    fn start_create_child_group(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        rekey_of: Option<ChildId>,
        local_ts: Vec<TrafficSelector>,
        remote_ts: Vec<TrafficSelector>,
        group: Option<u16>,
    ) -> Result<()> {
        let suites = &self.peer.child_suites;
        let pfs = group.or_else(|| suites.first().and_then(|s| s.dh));
        let kex = match pfs {
            Some(g) => Some(sa::new_kex(g, ctx.rng)?),
            None => None,
        };
        let spi = self.new_child_spi(ctx.rng);
        let ni = sa::nonce(ctx.rng);
        let transport = match rekey_of.and_then(|id| self.child_index(id)) {
            Some(i) => self.children[i].transport,
            None => self.peer.mode == Mode::Transport,
        };
        let mut p = Vec::new();
        if let Some(i) = rekey_of.and_then(|id| self.child_index(id)) {
            p.push(Payload::Notify(Notify {
                protocol: protocol::ESP,
                spi: self.children[i].inbound_spi.to_be_bytes().to_vec(),
                ty: notify::REKEY_SA,
                data: Vec::new(),
            }));
        }
        if transport {
            p.push(notify_payload(notify::USE_TRANSPORT_MODE, Vec::new()));
        }
        p.push(Payload::Sa(proposal::child_offer(
            suites,
            spi,
            pfs.is_some(),
        )));
        p.push(Payload::Nonce(ni.clone()));
        if let Some(k) = &kex {
            p.push(Payload::Ke(KeyExchange {
                group: k.group(),
                data: k.public_value().to_vec(),
            }));
        }
        p.push(Payload::TsI(local_ts.clone()));
        p.push(Payload::TsR(remote_ts.clone()));
        let req = ChildRequest {
            inbound_spi: spi,
            ni,
            kex,
            rekey_of,
            local_ts,
            remote_ts,
            collision: None,
            transport,
        };
        self.send_request(
            ctx,
            idx,
            exchange::CREATE_CHILD_SA,
            &p,
            Pending::CreateChild(req),
        )
    }

    pub(crate) fn on_child_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        req: ChildRequest,
        p: Vec<Payload>,
    ) -> Result<()> {
        let restore = |s: &mut Session, ctx: &mut Ctx<'_>, req: &ChildRequest| {
            if let Some(i) = req.rekey_of.and_then(|id| s.child_index(id))
                && s.children[i].state == ChildState::Rekeying
            {
                // A collision we lost the race for anyway: the peer's rekey stands.
                s.children[i].state = if req.collision.is_some() {
                    ChildState::RekeyedByPeer
                } else {
                    ChildState::Installed
                };
                s.children[i].rekey_at = Some(ctx.now + ctx.cfg.retry_delay);
            }
        };
        if let Some(n) = error_notify(&p) {
            let ty = n.ty;
            match ty {
                notify::INVALID_KE_PAYLOAD => {
                    let g = <[u8; 2]>::try_from(n.data.as_slice()).map(u16::from_be_bytes);
                    if let Ok(g) = g
                        && req.kex.as_ref().is_some_and(|k| k.group() != g)
                        && self.peer.child_suites.iter().any(|s| s.dh == Some(g))
                    {
                        ctx.event(Event::InvalidKe {
                            session: self.id,
                            group: g,
                        });
                        return self.start_create_child_group(
                            ctx,
                            idx,
                            req.rekey_of,
                            req.local_ts,
                            req.remote_ts,
                            Some(g),
                        );
                    }
                }
                notify::TEMPORARY_FAILURE => {
                    restore(self, ctx, &req);
                    if req.rekey_of.is_none() {
                        self.queue(
                            ctx.now + ctx.cfg.retry_delay,
                            Task::CreateChild {
                                local_ts: req.local_ts,
                                remote_ts: req.remote_ts,
                            },
                        );
                    }
                    return Ok(());
                }
                notify::CHILD_SA_NOT_FOUND => {
                    // The peer may not have processed the exchange that created the child
                    // yet (our response to it can still be in flight): try again later;
                    // if the peer really lost it, the hard lifetime ends ours.
                    restore(self, ctx, &req);
                    return Ok(());
                }
                _ => {}
            }
            restore(self, ctx, &req);
            let f = match ty {
                notify::NO_PROPOSAL_CHOSEN => Failure::NoProposalChosen,
                notify::TS_UNACCEPTABLE => Failure::TsUnacceptable,
                t => Failure::PeerError(t),
            };
            ctx.event(Event::Failed {
                session: self.id,
                failure: f,
                fatal: false,
            });
            return Ok(());
        }
        let accepted = sa_payload(&p)
            .and_then(|s| proposal::accept_child(&self.peer.child_suites, s, req.kex.is_some()));
        let (Some((suite, peer_spi)), Some(nr), Some((tsi, tsr))) =
            (accepted, nonce_payload(&p), ts_payloads(&p))
        else {
            restore(self, ctx, &req);
            self.queue(ctx.now, Task::DeleteSpis(vec![req.inbound_spi]));
            return Err(IkeError::Protocol("bad create_child_sa response"));
        };
        let g_ir = match (&req.kex, ke_payload(&p)) {
            (None, _) => None,
            (Some(k), Some(ke)) if ke.group == k.group() => Some(k.shared_secret(&ke.data)?),
            _ => {
                restore(self, ctx, &req);
                self.queue(ctx.now, Task::DeleteSpis(vec![req.inbound_spi]));
                return Err(IkeError::Protocol("missing or wrong ke in response"));
            }
        };
        if !ts::within(tsi, &req.local_ts) || !ts::within(tsr, &req.remote_ts) {
            restore(self, ctx, &req);
            self.queue(ctx.now, Task::DeleteSpis(vec![req.inbound_spi]));
            ctx.event(Event::Failed {
                session: self.id,
                failure: Failure::TsUnacceptable,
                fatal: false,
            });
            return Ok(());
        }
        let transport = req.transport && find_notify(&p, notify::USE_TRANSPORT_MODE).is_some();
        let new = self.install_child(
            ctx,
            idx,
            NewChild {
                suite,
                inbound_spi: req.inbound_spi,
                outbound_spi: peer_spi,
                g_ir: g_ir.as_ref(),
                ni: &req.ni,
                nr,
                we_initiated: true,
                local_ts: tsi.to_vec(),
                remote_ts: tsr.to_vec(),
                transport,
                replaces: req.rekey_of,
            },
        )?;
        let Some(old) = req.rekey_of else {
            return Ok(());
        };
        let ours = lowest(&req.ni, nr).to_vec();
        match req.collision {
            Some(c) => {
                // §2.8.1: the SA created with the lowest of the four nonces is redundant;
                // whoever created it deletes it, the other side deletes the old SA.
                let we_lose = ours < c.lowest_nonce;
                ctx.event(Event::RekeyCollision {
                    session: self.id,
                    ike: false,
                    we_won: !we_lose,
                });
                if we_lose {
                    self.queue(ctx.now, Task::DeleteChild(new));
                    if let Some(i) = self.child_index(new) {
                        self.children[i].state = ChildState::Deleting;
                    }
                    if let Some(i) = self.child_index(old) {
                        self.children[i].state = ChildState::RekeyedByPeer;
                    }
                } else {
                    self.retire_child(ctx, old);
                }
            }
            None => self.retire_child(ctx, old),
        }
        Ok(())
    }

    /// Queues the delete of a child replaced by our rekey (make-before-break: the new SA
    /// is already installed).
    fn retire_child(&mut self, ctx: &mut Ctx<'_>, id: ChildId) {
        if let Some(i) = self.child_index(id)
            && self.children[i].state != ChildState::Deleting
        {
            self.children[i].state = ChildState::Deleting;
            self.queue(ctx.now, Task::DeleteChild(id));
        }
    }

    /// Starts an IKE SA rekey on SA `idx` (§1.3.2).
    pub(crate) fn start_ike_rekey(&mut self, ctx: &mut Ctx<'_>, idx: usize) -> Result<()> {
        let suites = &self.peer.ike_suites;
        let group = self.sas[idx]
            .suite
            .map(|s| s.dh)
            .or_else(|| suites.first().map(|s| s.dh))
            .ok_or(IkeError::Protocol("no ike suites"))?;
        let kex = sa::new_kex(group, ctx.rng)?;
        let new_spi = crate::rng::u64_nonzero(ctx.rng);
        let ni = sa::nonce(ctx.rng);
        // Offer the suite in use first, so a rekey keeps the algorithms (§2.18 allows
        // changing them, but the same group avoids an INVALID_KE round trip).
        let mut offer: Vec<_> = self.sas[idx].suite.into_iter().collect();
        offer.extend(suites.iter().filter(|s| Some(**s) != self.sas[idx].suite));
        let p = vec![
            Payload::Sa(proposal::ike_offer(&offer, &new_spi.to_be_bytes())),
            Payload::Nonce(ni.clone()),
            Payload::Ke(KeyExchange {
                group,
                data: kex.public_value().to_vec(),
            }),
        ];
        let req = IkeRekeyRequest {
            new_spi,
            ni,
            kex,
            collision: None,
        };
        self.send_request(
            ctx,
            idx,
            exchange::CREATE_CHILD_SA,
            &p,
            Pending::RekeyIke(req),
        )
    }

    /// Builds the new IKE SA of a rekey from the old SA `old`'s SK_d (§2.18).
    #[allow(clippy::too_many_arguments)]
    fn rekeyed_sa(
        &self,
        ctx: &mut Ctx<'_>,
        old: usize,
        suite: crate::config::IkeSuite,
        g_ir: &crypto::Secret,
        ni: &[u8],
        nr: &[u8],
        spi_i: u64,
        spi_r: u64,
        initiator: bool,
    ) -> Result<IkeSa> {
        let old_keys = self.sas[old]
            .keys
            .as_ref()
            .ok_or(IkeError::Protocol("no keys"))?;
        let skeyseed = kdf::rekey_skeyseed(old_keys.prf, &old_keys.sk_d, g_ir.expose(), ni, nr);
        let (keys, _, _) = sa::ike_keys(&suite, &skeyseed, ni, nr, spi_i, spi_r, initiator)?;
        if ctx.cfg.export_keys
            && let Some(line) = sa::wireshark_line(&suite, &skeyseed, ni, nr, spi_i, spi_r)
        {
            ctx.out.push_back(Output::KeyExport(line));
        }
        let mut sa = IkeSa::new(spi_i, spi_r, initiator, IkeState::Established, ctx.now);
        sa.suite = Some(suite);
        sa.keys = Some(keys);
        sa.peer_fragmentation = self.sas[old].peer_fragmentation;
        Ok(sa)
    }

    pub(crate) fn on_ike_rekey_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        req: IkeRekeyRequest,
        p: Vec<Payload>,
    ) -> Result<()> {
        let retry = |s: &mut Session, ctx: &mut Ctx<'_>| {
            s.sas[idx].rekey_at = Some(ctx.now + ctx.cfg.retry_delay);
        };
        if let Some(n) = error_notify(&p) {
            let ty = n.ty;
            if ty != notify::TEMPORARY_FAILURE {
                ctx.event(Event::Failed {
                    session: self.id,
                    failure: Failure::PeerError(ty),
                    fatal: false,
                });
            }
            retry(self, ctx);
            return Ok(());
        }
        let accepted = sa_payload(&p).and_then(|s| proposal::accept_ike(&self.peer.ike_suites, s));
        let (Some((suite, spi)), Some(nr), Some(ke)) =
            (accepted, nonce_payload(&p), ke_payload(&p))
        else {
            retry(self, ctx);
            return Err(IkeError::Protocol("bad ike rekey response"));
        };
        let Ok(spi_bytes) = <[u8; 8]>::try_from(spi.as_slice()) else {
            retry(self, ctx);
            return Err(IkeError::Protocol("bad ike spi in rekey"));
        };
        if ke.group != req.kex.group() || suite.dh != ke.group {
            retry(self, ctx);
            return Err(IkeError::Protocol("wrong group in ike rekey"));
        }
        let g_ir = req.kex.shared_secret(&ke.data)?;
        let peer_spi = u64::from_be_bytes(spi_bytes);
        let mut new = self.rekeyed_sa(
            ctx,
            idx,
            suite,
            &g_ir,
            &req.ni,
            nr,
            req.new_spi,
            peer_spi,
            true,
        )?;
        let (rekey_at, expire_at) = self.ike_times(ctx);
        new.rekey_at = rekey_at;
        new.expire_at = expire_at;
        let new_spi = new.local_spi();
        self.sas.push(new);
        let new_idx = self.sas.len() - 1;
        self.established(ctx, new_idx, true);
        let old_spi = self.sas[idx].local_spi();
        let ours = lowest(&req.ni, nr).to_vec();
        match req.collision {
            Some(c) => {
                let we_lose = ours < c.lowest_nonce;
                ctx.event(Event::RekeyCollision {
                    session: self.id,
                    ike: true,
                    we_won: !we_lose,
                });
                if we_lose {
                    self.sas[new_idx].state = IkeState::Redundant;
                    self.queue(ctx.now, Task::DeleteIke(new_spi));
                    if self.sas[idx].state == IkeState::Established {
                        self.sas[idx].state = IkeState::Rekeyed;
                        self.sas[idx].expire_at = Some(ctx.now + Session::linger(ctx));
                    }
                } else {
                    self.sas[idx].state = IkeState::Deleting;
                    self.queue(ctx.now, Task::DeleteIke(old_spi));
                    if let Some(j) = self.sa_index(c.created) {
                        self.sas[j].state = IkeState::Redundant;
                        self.sas[j].expire_at = Some(ctx.now + Session::linger(ctx));
                    }
                }
            }
            None => {
                self.sas[idx].state = IkeState::Deleting;
                self.queue(ctx.now, Task::DeleteIke(old_spi));
            }
        }
        Ok(())
    }

    /// The responder's side of CREATE_CHILD_SA.
    pub(crate) fn on_create_child_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        message_id: u32,
        p: Vec<Payload>,
    ) -> Result<()> {
        let answer = match self.answer_create_child(ctx, idx, &p) {
            Ok(a) => a,
            Err(Reject(ty, data)) => vec![notify_payload(ty, data)],
        };
        self.send_response(ctx, idx, exchange::CREATE_CHILD_SA, message_id, &answer)
    }

    fn answer_create_child(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        p: &[Payload],
    ) -> core::result::Result<Vec<Payload>, Reject> {
        let sa = sa_payload(p).ok_or(Reject::syntax())?;
        let ni = nonce_payload(p).ok_or(Reject::syntax())?.to_vec();
        if sa.proposals.iter().any(|x| x.protocol == protocol::IKE) {
            return self.answer_ike_rekey(ctx, idx, p, &ni);
        }
        let state = self.sas[idx].state;
        if state == IkeState::Deleting {
            return Err(Reject(notify::TEMPORARY_FAILURE, Vec::new()));
        }
        let rekey = find_notify(p, notify::REKEY_SA).map(|n| n.spi.clone());
        let old = match rekey {
            None => None,
            Some(spi) => {
                let spi = <[u8; 4]>::try_from(spi.as_slice())
                    .map(u32::from_be_bytes)
                    .map_err(|_| Reject::syntax())?;
                let Some(i) = self.children.iter().position(|c| c.outbound_spi == spi) else {
                    return Err(Reject(notify::CHILD_SA_NOT_FOUND, Vec::new()));
                };
                // §2.25.1: rekeying an SA we are closing, or replacing ourselves, waits.
                if self.children[i].state == ChildState::Deleting {
                    return Err(Reject(notify::TEMPORARY_FAILURE, Vec::new()));
                }
                Some(self.children[i].id)
            }
        };
        let ke = ke_payload(p);
        let choice =
            proposal::choose_child(&self.peer.child_suites, sa, ke.map(|k| k.group), false);
        let (number, peer_spi, suite) = match choice {
            ChildChoice::Chosen {
                number,
                peer_spi,
                suite,
            } => (number, peer_spi, suite),
            ChildChoice::WrongGroup(g) => {
                return Err(Reject(notify::INVALID_KE_PAYLOAD, g.to_be_bytes().to_vec()));
            }
            ChildChoice::None => {
                ctx.event(Event::Failed {
                    session: self.id,
                    failure: Failure::NoProposalChosen,
                    fatal: false,
                });
                return Err(Reject(notify::NO_PROPOSAL_CHOSEN, Vec::new()));
            }
        };
        let (tsi, tsr) = ts_payloads(p).ok_or(Reject::syntax())?;
        let (l, r) = match old.and_then(|id| self.child_index(id)) {
            // A rekey keeps the selectors of the SA it replaces.
            Some(i) => (
                self.children[i].local_ts.clone(),
                self.children[i].remote_ts.clone(),
            ),
            None => (
                ts::narrow(tsr, &self.peer.local_ts),
                ts::narrow(tsi, &self.peer.remote_ts),
            ),
        };
        if l.is_empty() || r.is_empty() {
            ctx.event(Event::Failed {
                session: self.id,
                failure: Failure::TsUnacceptable,
                fatal: false,
            });
            return Err(Reject(notify::TS_UNACCEPTABLE, Vec::new()));
        }
        let (kex, g_ir) = match (suite.dh, ke) {
            (Some(g), Some(ke)) => {
                let k = sa::new_kex(g, ctx.rng)
                    .map_err(|_| Reject(notify::NO_PROPOSAL_CHOSEN, Vec::new()))?;
                let s = k.shared_secret(&ke.data).map_err(|_| Reject::syntax())?;
                (Some(k), Some(s))
            }
            (None, _) => (None, None),
            (Some(_), None) => return Err(Reject::syntax()),
        };
        let transport = match old.and_then(|id| self.child_index(id)) {
            Some(i) => self.children[i].transport,
            None => {
                self.peer.mode == Mode::Transport
                    && find_notify(p, notify::USE_TRANSPORT_MODE).is_some()
            }
        };
        let spi = self.new_child_spi(ctx.rng);
        let nr = sa::nonce(ctx.rng);
        let new = self
            .install_child(
                ctx,
                idx,
                NewChild {
                    suite,
                    inbound_spi: spi,
                    outbound_spi: peer_spi,
                    g_ir: g_ir.as_ref(),
                    ni: &ni,
                    nr: &nr,
                    we_initiated: false,
                    local_ts: l.clone(),
                    remote_ts: r.clone(),
                    transport,
                    replaces: old,
                },
            )
            .map_err(|_| Reject(notify::NO_PROPOSAL_CHOSEN, Vec::new()))?;
        if let Some(old) = old {
            let collided = self.sas.iter_mut().find_map(|s| match &mut s.outstanding {
                Some(o) => match &mut o.pending {
                    Pending::CreateChild(r) if r.rekey_of == Some(old) => Some(r),
                    _ => None,
                },
                None => None,
            });
            match collided {
                Some(r) => {
                    r.collision = Some(Collision {
                        created: new,
                        lowest_nonce: lowest(&ni, &nr).to_vec(),
                    })
                }
                None => {
                    if let Some(i) = self.child_index(old) {
                        self.children[i].state = ChildState::RekeyedByPeer;
                    }
                }
            }
        }
        let mut out = Vec::new();
        if transport {
            out.push(notify_payload(notify::USE_TRANSPORT_MODE, Vec::new()));
        }
        out.push(Payload::Sa(proposal::child_answer(number, &suite, spi)));
        out.push(Payload::Nonce(nr));
        if let Some(k) = &kex {
            out.push(Payload::Ke(KeyExchange {
                group: k.group(),
                data: k.public_value().to_vec(),
            }));
        }
        out.push(Payload::TsI(r));
        out.push(Payload::TsR(l));
        Ok(out)
    }

    fn answer_ike_rekey(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        p: &[Payload],
        ni: &[u8],
    ) -> core::result::Result<Vec<Payload>, Reject> {
        // §2.25.2: an SA we are closing, or one already replaced, is not rekeyed again.
        if self.sas[idx].state != IkeState::Established {
            return Err(Reject(notify::TEMPORARY_FAILURE, Vec::new()));
        }
        let sa = sa_payload(p).ok_or(Reject::syntax())?;
        let ke = ke_payload(p).ok_or(Reject::syntax())?;
        let (number, peer_spi, suite) =
            match proposal::choose_ike(&self.peer.ike_suites, sa, ke.group) {
                IkeChoice::Chosen { number, spi, suite } => (number, spi, suite),
                IkeChoice::WrongGroup(g) => {
                    return Err(Reject(notify::INVALID_KE_PAYLOAD, g.to_be_bytes().to_vec()));
                }
                IkeChoice::None => return Err(Reject(notify::NO_PROPOSAL_CHOSEN, Vec::new())),
            };
        let peer_spi = <[u8; 8]>::try_from(peer_spi.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| Reject::syntax())?;
        let kex = sa::new_kex(suite.dh, ctx.rng)
            .map_err(|_| Reject(notify::NO_PROPOSAL_CHOSEN, Vec::new()))?;
        let g_ir = kex.shared_secret(&ke.data).map_err(|_| Reject::syntax())?;
        let our_spi = crate::rng::u64_nonzero(ctx.rng);
        let nr = sa::nonce(ctx.rng);
        let mut new = self
            .rekeyed_sa(ctx, idx, suite, &g_ir, ni, &nr, peer_spi, our_spi, false)
            .map_err(|_| Reject(notify::NO_PROPOSAL_CHOSEN, Vec::new()))?;
        let (rekey_at, expire_at) = self.ike_times(ctx);
        new.rekey_at = rekey_at;
        new.expire_at = expire_at;
        self.sas.push(new);
        let new_idx = self.sas.len() - 1;
        self.established(ctx, new_idx, true);
        let collision = match &mut self.sas[idx].outstanding {
            Some(o) => match &mut o.pending {
                Pending::RekeyIke(r) => Some(r),
                _ => None,
            },
            None => None,
        };
        match collision {
            Some(r) => {
                r.collision = Some(Collision {
                    created: our_spi,
                    lowest_nonce: lowest(ni, &nr).to_vec(),
                })
            }
            None => {
                self.sas[idx].state = IkeState::Rekeyed;
                self.sas[idx].expire_at = Some(ctx.now + Session::linger(ctx));
            }
        }
        Ok(vec![
            Payload::Sa(proposal::ike_answer(number, &suite, &our_spi.to_be_bytes())),
            Payload::Nonce(nr),
            Payload::Ke(KeyExchange {
                group: suite.dh,
                data: kex.public_value().to_vec(),
            }),
        ])
    }
}

/// An error notification answering a request.
struct Reject(u16, Vec<u8>);

impl Reject {
    fn syntax() -> Self {
        Reject(notify::INVALID_SYNTAX, Vec::new())
    }
}
