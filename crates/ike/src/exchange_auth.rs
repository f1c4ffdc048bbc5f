//! IKE_AUTH (RFC 7296 §1.2, §2.15): identities, AUTH payloads and the first child SA.
//! A failed child (no proposal, no selector overlap) leaves the IKE SA up (§1.2).

use crypto::Secret;
use wire::ikev2::{Identification, Notify, Payload, exchange, notify};

use crate::auth::{self, SignedOctets};
use crate::config::{ChildSuite, Mode};
use crate::error::{IkeError, Result};
use crate::exchange_init::{error_notify, find_notify, sa_payload};
use crate::output::{ChildId, ChildSaInstall, Event, Failure, Output};
use crate::proposal::{self, ChildChoice};
use crate::sa::{self, ChildRequest, IkeState, Pending};
use crate::session::{Child, ChildState, Ctx, Session};
use crate::ts;

pub(crate) fn ts_payloads(
    p: &[Payload],
) -> Option<(
    &[wire::ikev2::TrafficSelector],
    &[wire::ikev2::TrafficSelector],
)> {
    let tsi = p.iter().find_map(|x| match x {
        Payload::TsI(t) => Some(t.as_slice()),
        _ => None,
    })?;
    let tsr = p.iter().find_map(|x| match x {
        Payload::TsR(t) => Some(t.as_slice()),
        _ => None,
    })?;
    Some((tsi, tsr))
}

/// A new child SA's parameters, from whichever exchange made it.
pub(crate) struct NewChild<'a> {
    pub suite: ChildSuite,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
    pub g_ir: Option<&'a Secret>,
    pub ni: &'a [u8],
    pub nr: &'a [u8],
    pub we_initiated: bool,
    pub local_ts: Vec<wire::ikev2::TrafficSelector>,
    pub remote_ts: Vec<wire::ikev2::TrafficSelector>,
    pub transport: bool,
    pub replaces: Option<ChildId>,
}

impl Session {
    /// Derives a child SA's keys from SA `idx`'s SK_d and hands it to the data path.
    pub(crate) fn install_child(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        c: NewChild<'_>,
    ) -> Result<ChildId> {
        let keys = self.sas[idx]
            .keys
            .as_ref()
            .ok_or(IkeError::Protocol("no keys"))?;
        let (inbound, outbound) =
            sa::child_keys(keys, &c.suite, c.g_ir, c.ni, c.nr, c.we_initiated)?;
        let id = ctx.child_id();
        let (rekey_at, expire_at) = self.child_times(ctx);
        ctx.out
            .push_back(Output::InstallChild(Box::new(ChildSaInstall {
                session: self.id,
                child: id,
                replaces: c.replaces,
                mode: if c.transport {
                    Mode::Transport
                } else {
                    Mode::Tunnel
                },
                suite: c.suite,
                inbound_spi: c.inbound_spi,
                outbound_spi: c.outbound_spi,
                inbound,
                outbound,
                local_ts: c.local_ts.clone(),
                remote_ts: c.remote_ts.clone(),
                local: self.local,
                remote: self.remote,
                encap: self.encap(),
                hard_lifetime_secs: self.peer.child_lifetime.hard.as_secs(),
            })));
        ctx.event(Event::ChildSaEstablished {
            session: self.id,
            child: id,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
            suite: c.suite,
            rekey_of: c.replaces,
        });
        self.children.push(Child {
            id,
            inbound_spi: c.inbound_spi,
            outbound_spi: c.outbound_spi,
            local_ts: c.local_ts,
            remote_ts: c.remote_ts,
            transport: c.transport,
            replaces: c.replaces,
            state: ChildState::Installed,
            rekey_at,
            expire_at,
        });
        Ok(id)
    }

    /// The initiator's IKE_AUTH request (message 1).
    pub(crate) fn send_auth(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        child: ChildRequest,
    ) -> Result<()> {
        let sa = &self.sas[idx];
        let a = sa
            .auth
            .as_ref()
            .ok_or(IkeError::Protocol("no auth context"))?;
        let keys = sa.keys.as_ref().ok_or(IkeError::Protocol("no keys"))?;
        let octets = SignedOctets {
            prf: keys.prf,
            message: &a.msg_i,
            peer_nonce: &a.nr,
            sk_p: &a.sk_pi,
            id: &self.peer.local_id,
        };
        let auth_payload = auth::sign(&self.peer.auth, &octets);
        let mut p = vec![Payload::IdI(self.peer.local_id.clone())];
        p.push(Payload::Notify(Notify::new(
            notify::INITIAL_CONTACT,
            Vec::new(),
        )));
        if let Some(r) = &self.peer.remote_id {
            p.push(Payload::IdR(r.clone()));
        }
        p.push(Payload::Auth(auth_payload));
        if child.transport {
            p.push(Payload::Notify(Notify::new(
                notify::USE_TRANSPORT_MODE,
                Vec::new(),
            )));
        }
        p.push(Payload::Sa(proposal::child_offer(
            &self.peer.child_suites,
            child.inbound_spi,
            false,
        )));
        p.push(Payload::TsI(child.local_ts.clone()));
        p.push(Payload::TsR(child.remote_ts.clone()));
        self.send_request(ctx, idx, exchange::IKE_AUTH, &p, Pending::Auth(child))
    }

    pub(crate) fn on_auth_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        req: ChildRequest,
        p: Vec<Payload>,
    ) -> Result<()> {
        let has_auth = p.iter().any(|x| matches!(x, Payload::Auth(_)));
        if !has_auth {
            let f = match error_notify(&p).map(|n| n.ty) {
                Some(notify::AUTHENTICATION_FAILED) => Failure::AuthenticationFailed,
                Some(notify::NO_PROPOSAL_CHOSEN) => Failure::NoProposalChosen,
                Some(notify::TS_UNACCEPTABLE) => Failure::TsUnacceptable,
                Some(t) => Failure::PeerError(t),
                None => Failure::Protocol("ike_auth response without auth"),
            };
            self.fail(ctx, f);
            return Ok(());
        }
        let id_r = p.iter().find_map(|x| match x {
            Payload::IdR(i) => Some(i.clone()),
            _ => None,
        });
        let auth_p = p.iter().find_map(|x| match x {
            Payload::Auth(a) => Some(a.clone()),
            _ => None,
        });
        let (Some(id_r), Some(auth_p)) = (id_r, auth_p) else {
            self.fail(ctx, Failure::Protocol("ike_auth response without idr"));
            return Ok(());
        };
        if self
            .peer
            .remote_id
            .as_ref()
            .is_some_and(|want| *want != id_r)
        {
            self.fail(ctx, Failure::IdentityMismatch);
            return Ok(());
        }
        let sa = &self.sas[idx];
        let a = sa
            .auth
            .as_ref()
            .ok_or(IkeError::Protocol("no auth context"))?;
        let keys = sa.keys.as_ref().ok_or(IkeError::Protocol("no keys"))?;
        let octets = SignedOctets {
            prf: keys.prf,
            message: &a.msg_r,
            peer_nonce: &a.ni,
            sk_p: &a.sk_pr,
            id: &id_r,
        };
        if !auth::verify(&self.peer.auth, &octets, &auth_p) {
            self.fail(ctx, Failure::AuthenticationFailed);
            return Ok(());
        }
        let a = self.sas[idx]
            .auth
            .take()
            .ok_or(IkeError::Protocol("no auth context"))?;
        self.established(ctx, idx, false);
        // The first child SA.
        if let Some(n) = error_notify(&p) {
            let f = match n.ty {
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
        let accepted =
            sa_payload(&p).and_then(|s| proposal::accept_child(&self.peer.child_suites, s, false));
        let tss = ts_payloads(&p);
        let (Some((suite, peer_spi)), Some((tsi, tsr))) = (accepted, tss) else {
            ctx.event(Event::Failed {
                session: self.id,
                failure: Failure::Protocol("bad child sa in ike_auth response"),
                fatal: false,
            });
            return Ok(());
        };
        if !ts::within(tsi, &req.local_ts) || !ts::within(tsr, &req.remote_ts) {
            ctx.event(Event::Failed {
                session: self.id,
                failure: Failure::TsUnacceptable,
                fatal: false,
            });
            self.queue(
                ctx.now,
                crate::session::Task::DeleteSpis(vec![req.inbound_spi]),
            );
            return Ok(());
        }
        let transport = req.transport && find_notify(&p, notify::USE_TRANSPORT_MODE).is_some();
        self.install_child(
            ctx,
            idx,
            NewChild {
                suite,
                inbound_spi: req.inbound_spi,
                outbound_spi: peer_spi,
                g_ir: None,
                ni: &a.ni,
                nr: &a.nr,
                we_initiated: true,
                local_ts: tsi.to_vec(),
                remote_ts: tsr.to_vec(),
                transport,
                replaces: None,
            },
        )?;
        Ok(())
    }

    /// Marks SA `idx` established and arms its lifetime.
    pub(crate) fn established(&mut self, ctx: &mut Ctx<'_>, idx: usize, rekey: bool) {
        let (rekey_at, expire_at) = self.ike_times(ctx);
        let sa = &mut self.sas[idx];
        sa.state = IkeState::Established;
        sa.rekey_at = rekey_at;
        sa.expire_at = expire_at;
        sa.last_heard = ctx.now;
        let (spi_i, spi_r, initiator) = (sa.spi_i, sa.spi_r, sa.initiator);
        if let Some(suite) = sa.suite {
            ctx.event(Event::IkeSaEstablished {
                session: self.id,
                spi_i,
                spi_r,
                initiator,
                suite,
                rekey,
            });
        }
    }

    /// The responder's side of IKE_AUTH.
    pub(crate) fn on_auth_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        message_id: u32,
        p: Vec<Payload>,
    ) -> Result<()> {
        let reject = |s: &mut Session, ctx: &mut Ctx<'_>, f: Failure| -> Result<()> {
            let n = Payload::Notify(Notify::new(notify::AUTHENTICATION_FAILED, Vec::new()));
            s.send_response(ctx, idx, exchange::IKE_AUTH, message_id, &[n])?;
            s.fail(ctx, f);
            Ok(())
        };
        let id_i = p.iter().find_map(|x| match x {
            Payload::IdI(i) => Some(i.clone()),
            _ => None,
        });
        let auth_p = p.iter().find_map(|x| match x {
            Payload::Auth(a) => Some(a.clone()),
            _ => None,
        });
        // No AUTH means the initiator wants EAP (§2.16), which this end does not offer.
        let (Some(id_i), Some(auth_p)) = (id_i, auth_p) else {
            return reject(self, ctx, Failure::AuthenticationFailed);
        };
        if self
            .peer
            .remote_id
            .as_ref()
            .is_some_and(|want| *want != id_i)
        {
            return reject(self, ctx, Failure::IdentityMismatch);
        }
        let sa = &self.sas[idx];
        let a = sa
            .auth
            .as_ref()
            .ok_or(IkeError::Protocol("no auth context"))?;
        let keys = sa.keys.as_ref().ok_or(IkeError::Protocol("no keys"))?;
        let octets = SignedOctets {
            prf: keys.prf,
            message: &a.msg_i,
            peer_nonce: &a.nr,
            sk_p: &a.sk_pi,
            id: &id_i,
        };
        if !auth::verify(&self.peer.auth, &octets, &auth_p) {
            return reject(self, ctx, Failure::AuthenticationFailed);
        }
        let id_r: Identification = self.peer.local_id.clone();
        let octets = SignedOctets {
            prf: keys.prf,
            message: &a.msg_r,
            peer_nonce: &a.ni,
            sk_p: &a.sk_pr,
            id: &id_r,
        };
        let our_auth = auth::sign(&self.peer.auth, &octets);
        let a = self.sas[idx]
            .auth
            .take()
            .ok_or(IkeError::Protocol("no auth context"))?;
        self.established(ctx, idx, false);
        let mut out = vec![Payload::IdR(id_r), Payload::Auth(our_auth)];
        out.extend(self.respond_child_in_auth(ctx, idx, &p, &a.ni, &a.nr)?);
        self.send_response(ctx, idx, exchange::IKE_AUTH, message_id, &out)
    }

    /// The child SA part of the IKE_AUTH response: SA, TSi, TSr, or an error notify.
    fn respond_child_in_auth(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        p: &[Payload],
        ni: &[u8],
        nr: &[u8],
    ) -> Result<Vec<Payload>> {
        let (Some(sa), Some((tsi, tsr))) = (sa_payload(p), ts_payloads(p)) else {
            return Ok(Vec::new());
        };
        let fail = |s: &Session, ctx: &mut Ctx<'_>, f: Failure, ty: u16| {
            ctx.event(Event::Failed {
                session: s.id,
                failure: f,
                fatal: false,
            });
            Ok(vec![Payload::Notify(Notify::new(ty, Vec::new()))])
        };
        let ChildChoice::Chosen {
            number,
            peer_spi,
            suite,
        } = proposal::choose_child(&self.peer.child_suites, sa, None, true)
        else {
            return fail(
                self,
                ctx,
                Failure::NoProposalChosen,
                notify::NO_PROPOSAL_CHOSEN,
            );
        };
        let l = ts::narrow(tsr, &self.peer.local_ts);
        let r = ts::narrow(tsi, &self.peer.remote_ts);
        if l.is_empty() || r.is_empty() {
            return fail(self, ctx, Failure::TsUnacceptable, notify::TS_UNACCEPTABLE);
        }
        let transport = self.peer.mode == Mode::Transport
            && find_notify(p, notify::USE_TRANSPORT_MODE).is_some();
        let spi = self.new_child_spi(ctx.rng);
        self.install_child(
            ctx,
            idx,
            NewChild {
                suite,
                inbound_spi: spi,
                outbound_spi: peer_spi,
                g_ir: None,
                ni,
                nr,
                we_initiated: false,
                local_ts: l.clone(),
                remote_ts: r.clone(),
                transport,
                replaces: None,
            },
        )?;
        let mut out = Vec::new();
        if transport {
            out.push(Payload::Notify(Notify::new(
                notify::USE_TRANSPORT_MODE,
                Vec::new(),
            )));
        }
        out.push(Payload::Sa(proposal::child_answer(number, &suite, spi)));
        out.push(Payload::TsI(r));
        out.push(Payload::TsR(l));
        Ok(out)
    }
}
