//! IKE_SA_INIT (RFC 7296 §1.2): the initiator's request and its retries with a cookie
//! (§2.6) or another key exchange group (INVALID_KE_PAYLOAD, §1.2), the responder's answer,
//! NAT detection (§2.23) and fragmentation support (RFC 7383 §2.3).

use std::net::SocketAddr;

use crypto::kdf::ikev2 as kdf;
use wire::ikev2::{
    Header, KeyExchange, Message, Notify, Payload, SecurityAssociation, exchange, flags, notify,
};

use crate::error::{IkeError, Result};
use crate::nat;
use crate::output::{Event, Failure, Output};
use crate::proposal;
use crate::sa::{self, AuthCtx, ChildRequest, IkeSa, IkeState, InitRequest, Outstanding, Pending};
use crate::session::{Ctx, Session};

/// How often the initiator follows cookie or group demands before giving up.
const MAX_INIT_ATTEMPTS: u8 = 5;

pub(crate) fn find_notify(payloads: &[Payload], ty: u16) -> Option<&Notify> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if n.ty == ty => Some(n),
        _ => None,
    })
}

/// The first error notification in a message, if any.
pub(crate) fn error_notify(payloads: &[Payload]) -> Option<&Notify> {
    payloads.iter().find_map(|p| match p {
        Payload::Notify(n) if notify::is_error(n.ty) => Some(n),
        _ => None,
    })
}

pub(crate) fn nat_notifies(
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> [Payload; 2] {
    [
        Payload::Notify(Notify::new(
            notify::NAT_DETECTION_SOURCE_IP,
            nat::detection_hash(spi_i, spi_r, local),
        )),
        Payload::Notify(Notify::new(
            notify::NAT_DETECTION_DESTINATION_IP,
            nat::detection_hash(spi_i, spi_r, remote),
        )),
    ]
}

/// Compares the peer's NAT detection hashes with the addresses we saw: (we are behind a
/// NAT, the peer is behind a NAT). `None` when the peer sent none (no NAT-T support).
pub(crate) fn detect_nat(
    payloads: &[Payload],
    spi_i: u64,
    spi_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> Option<(bool, bool)> {
    let dst = find_notify(payloads, notify::NAT_DETECTION_DESTINATION_IP)?;
    let local_nat = dst.data != nat::detection_hash(spi_i, spi_r, local);
    let want = nat::detection_hash(spi_i, spi_r, remote);
    let remote_nat = !payloads.iter().any(|p| {
        matches!(p, Payload::Notify(n) if n.ty == notify::NAT_DETECTION_SOURCE_IP && n.data == want)
    });
    Some((local_nat, remote_nat))
}

pub(crate) fn sa_payload(payloads: &[Payload]) -> Option<&SecurityAssociation> {
    payloads.iter().find_map(|p| match p {
        Payload::Sa(s) => Some(s),
        _ => None,
    })
}

pub(crate) fn ke_payload(payloads: &[Payload]) -> Option<&KeyExchange> {
    payloads.iter().find_map(|p| match p {
        Payload::Ke(k) => Some(k),
        _ => None,
    })
}

pub(crate) fn nonce_payload(payloads: &[Payload]) -> Option<&[u8]> {
    payloads.iter().find_map(|p| match p {
        Payload::Nonce(n) if (16..=256).contains(&n.len()) => Some(n.as_slice()),
        _ => None,
    })
}

impl Session {
    /// Sends (or re-sends, after a cookie or group demand) our IKE_SA_INIT on SA `idx`.
    pub(crate) fn send_init(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        mut init: Box<InitRequest>,
    ) -> Result<()> {
        let sa = &self.sas[idx];
        let mut payloads = Vec::new();
        if let Some(c) = &init.cookie {
            payloads.push(Payload::Notify(Notify::new(notify::COOKIE, c.clone())));
        }
        payloads.push(Payload::Sa(proposal::ike_offer(&self.peer.ike_suites, &[])));
        payloads.push(Payload::Ke(KeyExchange {
            group: init.kex.group(),
            data: init.kex.public_value().to_vec(),
        }));
        payloads.push(Payload::Nonce(init.ni.clone()));
        payloads.extend(nat_notifies(sa.spi_i, 0, self.local, self.remote));
        payloads.push(Payload::Notify(Notify::new(
            notify::IKEV2_FRAGMENTATION_SUPPORTED,
            Vec::new(),
        )));
        let msg = Message {
            header: Header {
                spi_i: sa.spi_i,
                spi_r: 0,
                next_payload: 0,
                version: 0x20,
                exchange: exchange::IKE_SA_INIT,
                flags: flags::INITIATOR,
                message_id: 0,
                length: 0,
            },
            payloads,
        }
        .emit()?;
        self.transmit(ctx, &msg);
        ctx.event(Event::Initiating {
            session: self.id,
            peer: self.peer.name.clone(),
            group: init.kex.group(),
        });
        init.message = msg.clone();
        self.sas[idx].outstanding = Some(Outstanding {
            message_id: 0,
            datagrams: vec![msg],
            tries: 0,
            deadline: ctx.now + ctx.cfg.retransmit_timeout,
            pending: Pending::Init(init),
        });
        Ok(())
    }

    pub(crate) fn on_init_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        idx: usize,
        from: SocketAddr,
        to: SocketAddr,
        bytes: &[u8],
    ) -> Result<()> {
        let msg = Message::parse(bytes)?;
        if msg.header.message_id != 0 {
            return Err(IkeError::Protocol("ike_sa_init response with message id"));
        }
        let Some(Outstanding {
            pending: Pending::Init(mut init),
            ..
        }) = self.sas[idx].outstanding.take()
        else {
            return Ok(());
        };
        let p = &msg.payloads;
        if let Some(c) = find_notify(p, notify::COOKIE) {
            init.attempts += 1;
            if init.attempts > MAX_INIT_ATTEMPTS || c.data.is_empty() || c.data.len() > 64 {
                self.fail(ctx, Failure::Protocol("cookie exchange did not converge"));
                return Ok(());
            }
            ctx.event(Event::CookieRequested { session: self.id });
            init.cookie = Some(c.data.clone());
            return self.send_init(ctx, idx, init);
        }
        if let Some(n) = find_notify(p, notify::INVALID_KE_PAYLOAD) {
            let group = <[u8; 2]>::try_from(n.data.as_slice()).map(u16::from_be_bytes);
            init.attempts += 1;
            match group {
                Ok(g)
                    if init.attempts <= MAX_INIT_ATTEMPTS
                        && g != init.kex.group()
                        && self.peer.ike_suites.iter().any(|s| s.dh == g) =>
                {
                    ctx.event(Event::InvalidKe {
                        session: self.id,
                        group: g,
                    });
                    init.kex = sa::new_kex(g, ctx.rng)?;
                    return self.send_init(ctx, idx, init);
                }
                _ => {
                    self.fail(ctx, Failure::NoProposalChosen);
                    return Ok(());
                }
            }
        }
        if let Some(n) = error_notify(p) {
            let f = match n.ty {
                notify::NO_PROPOSAL_CHOSEN => Failure::NoProposalChosen,
                t => Failure::PeerError(t),
            };
            self.fail(ctx, f);
            return Ok(());
        }
        let accepted = sa_payload(p).and_then(|s| proposal::accept_ike(&self.peer.ike_suites, s));
        let (Some((suite, _)), Some(ke), Some(nr)) = (accepted, ke_payload(p), nonce_payload(p))
        else {
            self.fail(ctx, Failure::Protocol("bad ike_sa_init response"));
            return Ok(());
        };
        if suite.dh != init.kex.group() || ke.group != suite.dh || msg.header.spi_r == 0 {
            self.fail(
                ctx,
                Failure::Protocol("responder changed the key exchange group"),
            );
            return Ok(());
        }
        let g_ir = match init.kex.shared_secret(&ke.data) {
            Ok(g) => g,
            Err(_) => {
                self.fail(ctx, Failure::Protocol("invalid key exchange value"));
                return Ok(());
            }
        };
        let spi_r = msg.header.spi_r;
        let prf = crypto::registry::prf(suite.prf)?;
        let skeyseed = kdf::skeyseed(prf, &init.ni, nr, g_ir.expose());
        let spi_i = self.sas[idx].spi_i;
        let (keys, sk_pi, sk_pr) =
            sa::ike_keys(&suite, &skeyseed, &init.ni, nr, spi_i, spi_r, true)?;
        if ctx.cfg.export_keys
            && let Some(line) = sa::wireshark_line(&suite, &skeyseed, &init.ni, nr, spi_i, spi_r)
        {
            ctx.out.push_back(Output::KeyExport(line));
        }
        let nat = detect_nat(p, spi_i, spi_r, to, from);
        let sa = &mut self.sas[idx];
        sa.spi_r = spi_r;
        sa.suite = Some(suite);
        sa.keys = Some(keys);
        sa.state = IkeState::Authenticating;
        sa.next_request = 1;
        sa.last_heard = ctx.now;
        sa.peer_fragmentation = find_notify(p, notify::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        sa.auth = Some(AuthCtx {
            msg_i: init.message.clone(),
            msg_r: bytes.to_vec(),
            ni: init.ni.clone(),
            nr: nr.to_vec(),
            sk_pi,
            sk_pr,
        });
        self.apply_nat(ctx, nat);
        let child: ChildRequest = init.child;
        self.send_auth(ctx, idx, child)
    }

    /// Records NAT detection and floats to port 4500 when needed (§2.23).
    pub(crate) fn apply_nat(&mut self, ctx: &mut Ctx<'_>, nat: Option<(bool, bool)>) {
        if let Some((l, r)) = nat {
            self.local_behind_nat = l;
            self.remote_behind_nat = r;
            ctx.event(Event::NatDetected {
                session: self.id,
                local_behind_nat: l,
                remote_behind_nat: r,
            });
            if l {
                self.next_keepalive = Some(ctx.now + ctx.cfg.keepalive);
            }
        }
        if nat.is_some() && self.encap() && self.local.port() != wire::natt::NATT_PORT {
            self.float();
        }
    }
}

/// A responder's new IKE SA from an acceptable IKE_SA_INIT request; the endpoint has
/// already checked cookies, limits and the proposal. Returns the response datagram.
#[allow(clippy::too_many_arguments)]
pub(crate) fn respond_init(
    session: &mut Session,
    ctx: &mut Ctx<'_>,
    request: &Message,
    request_bytes: &[u8],
    number: u8,
    suite: crate::config::IkeSuite,
    from: SocketAddr,
    to: SocketAddr,
) -> Result<()> {
    let p = &request.payloads;
    let ke = ke_payload(p).ok_or(IkeError::Protocol("no ke"))?;
    let ni = nonce_payload(p).ok_or(IkeError::Protocol("no nonce"))?;
    let kex = sa::new_kex(suite.dh, ctx.rng)?;
    let g_ir = kex.shared_secret(&ke.data)?;
    let spi_i = request.header.spi_i;
    let spi_r = crate::rng::u64_nonzero(ctx.rng);
    let nr = sa::nonce(ctx.rng);
    let prf = crypto::registry::prf(suite.prf)?;
    let skeyseed = kdf::skeyseed(prf, ni, &nr, g_ir.expose());
    let (keys, sk_pi, sk_pr) = sa::ike_keys(&suite, &skeyseed, ni, &nr, spi_i, spi_r, false)?;
    if ctx.cfg.export_keys
        && let Some(line) = sa::wireshark_line(&suite, &skeyseed, ni, &nr, spi_i, spi_r)
    {
        ctx.out.push_back(Output::KeyExport(line));
    }
    let nat = detect_nat(p, spi_i, 0, to, from);
    let peer_frag = find_notify(p, notify::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
    let mut payloads = vec![
        Payload::Sa(proposal::ike_answer(number, &suite, &[])),
        Payload::Ke(KeyExchange {
            group: suite.dh,
            data: kex.public_value().to_vec(),
        }),
        Payload::Nonce(nr.clone()),
    ];
    if nat.is_some() {
        payloads.extend(nat_notifies(spi_i, spi_r, to, from));
    }
    if peer_frag {
        payloads.push(Payload::Notify(Notify::new(
            notify::IKEV2_FRAGMENTATION_SUPPORTED,
            Vec::new(),
        )));
    }
    let response = Message {
        header: Header {
            spi_i,
            spi_r,
            next_payload: 0,
            version: 0x20,
            exchange: exchange::IKE_SA_INIT,
            flags: flags::RESPONSE,
            message_id: 0,
            length: 0,
        },
        payloads,
    }
    .emit()?;
    let mut sa = IkeSa::new(spi_i, spi_r, false, IkeState::Authenticating, ctx.now);
    sa.suite = Some(suite);
    sa.keys = Some(keys);
    sa.expected_request = 1;
    sa.peer_fragmentation = peer_frag;
    sa.expire_at = Some(ctx.now + ctx.cfg.half_open_timeout);
    sa.cached = Some((0, vec![response.clone()]));
    sa.auth = Some(AuthCtx {
        msg_i: request_bytes.to_vec(),
        msg_r: response.clone(),
        ni: ni.to_vec(),
        nr,
        sk_pi,
        sk_pr,
    });
    session.sas.push(sa);
    session.transmit(ctx, &response);
    // The responder floats when the initiator's next message arrives on port 4500.
    if let Some((l, r)) = nat {
        session.local_behind_nat = l;
        session.remote_behind_nat = r;
        ctx.event(Event::NatDetected {
            session: session.id,
            local_behind_nat: l,
            remote_behind_nat: r,
        });
        if l {
            session.next_keepalive = Some(ctx.now + ctx.cfg.keepalive);
        }
    }
    Ok(())
}
