//! Proposals (RFC 7296 §2.7, §3.3): building SA payloads from ordered suites, choosing one
//! as responder, and checking the responder's choice as initiator.

use wire::ikev2::{Proposal, SecurityAssociation, Transform, protocol, transform_type as tt};

use crate::config::{ChildSuite, IkeSuite};

fn encr(id: u16, bits: Option<u16>) -> Transform {
    match bits {
        Some(b) => Transform::with_key_length(tt::ENCR, id, b),
        None => Transform::new(tt::ENCR, id),
    }
}

fn ike_transforms(s: &IkeSuite) -> Vec<Transform> {
    let mut t = vec![encr(s.encr, s.key_bits), Transform::new(tt::PRF, s.prf)];
    if let Some(i) = s.integ {
        t.push(Transform::new(tt::INTEG, i));
    }
    t.push(Transform::new(tt::KE, s.dh));
    t
}

fn child_transforms(s: &ChildSuite, with_dh: bool) -> Vec<Transform> {
    let mut t = vec![encr(s.encr, s.key_bits)];
    if let Some(i) = s.integ {
        t.push(Transform::new(tt::INTEG, i));
    }
    if with_dh && let Some(g) = s.dh {
        t.push(Transform::new(tt::KE, g));
    }
    t.push(Transform::new(tt::ESN, u16::from(s.esn)));
    t
}

/// An IKE SA payload, one proposal per suite (numbered from 1, §3.3.1). `spi` is empty in
/// IKE_SA_INIT and our new SPI when rekeying the IKE SA.
pub(crate) fn ike_offer(suites: &[IkeSuite], spi: &[u8]) -> SecurityAssociation {
    SecurityAssociation {
        proposals: suites
            .iter()
            .enumerate()
            .map(|(i, s)| Proposal {
                number: (i + 1) as u8,
                protocol: protocol::IKE,
                spi: spi.to_vec(),
                transforms: ike_transforms(s),
            })
            .collect(),
    }
}

/// An ESP SA payload. `with_dh` adds each suite's PFS group (CREATE_CHILD_SA only).
pub(crate) fn child_offer(suites: &[ChildSuite], spi: u32, with_dh: bool) -> SecurityAssociation {
    SecurityAssociation {
        proposals: suites
            .iter()
            .enumerate()
            .map(|(i, s)| Proposal {
                number: (i + 1) as u8,
                protocol: protocol::ESP,
                spi: spi.to_be_bytes().to_vec(),
                transforms: child_transforms(s, with_dh),
            })
            .collect(),
    }
}

/// True when the proposal offers transform `id` of type `ty` (with this key length).
fn offers(p: &Proposal, ty: u8, id: u16, bits: Option<u16>) -> bool {
    p.transforms
        .iter()
        .any(|t| t.ty == ty && t.id == id && (ty != tt::ENCR || t.key_length() == bits))
}

fn has_type(p: &Proposal, ty: u8) -> bool {
    p.transforms.iter().any(|t| t.ty == ty)
}

/// Types other than ENCR..ESN (RFC 9370 additional key exchanges) must offer NONE (0) for
/// us to accept the proposal, since we run no additional exchanges.
fn no_unknown_required(p: &Proposal) -> bool {
    p.transforms
        .iter()
        .filter(|t| t.ty > tt::ESN)
        .all(|t| p.transforms.iter().any(|u| u.ty == t.ty && u.id == 0))
}

fn ike_matches(p: &Proposal, s: &IkeSuite) -> bool {
    p.protocol == protocol::IKE
        && no_unknown_required(p)
        && offers(p, tt::ENCR, s.encr, s.key_bits)
        && offers(p, tt::PRF, s.prf, None)
        && match s.integ {
            Some(i) => offers(p, tt::INTEG, i, None),
            None => !has_type(p, tt::INTEG) || offers(p, tt::INTEG, 0, None),
        }
        && offers(p, tt::KE, s.dh, None)
}

fn child_matches(p: &Proposal, s: &ChildSuite, dh: Option<u16>) -> bool {
    let esn_ok = if has_type(p, tt::ESN) {
        offers(p, tt::ESN, u16::from(s.esn), None)
    } else {
        !s.esn
    };
    p.protocol == protocol::ESP
        && p.spi.len() == 4
        && no_unknown_required(p)
        && offers(p, tt::ENCR, s.encr, s.key_bits)
        && match s.integ {
            Some(i) => offers(p, tt::INTEG, i, None),
            None => !has_type(p, tt::INTEG) || offers(p, tt::INTEG, 0, None),
        }
        && match dh {
            Some(g) => offers(p, tt::KE, g, None),
            None => !has_type(p, tt::KE) || offers(p, tt::KE, 0, None),
        }
        && esn_ok
}

/// The responder's choice for an IKE SA.
pub(crate) enum IkeChoice {
    /// Accept this proposal (the peer's number and SPI) with this suite.
    Chosen {
        number: u8,
        spi: Vec<u8>,
        suite: IkeSuite,
    },
    /// Acceptable, but the KE payload is of another group: ask for this one.
    WrongGroup(u16),
    None,
}

/// Chooses an IKE proposal: our suites in our order of preference; among acceptable
/// ones, a suite whose group matches the peer's KE payload wins, so a mismatch costs a
/// round trip only when unavoidable (§1.2).
pub(crate) fn choose_ike(
    ours: &[IkeSuite],
    theirs: &SecurityAssociation,
    ke_group: u16,
) -> IkeChoice {
    let mut first = None;
    for s in ours {
        for p in &theirs.proposals {
            if ike_matches(p, s) {
                if s.dh == ke_group {
                    return IkeChoice::Chosen {
                        number: p.number,
                        spi: p.spi.clone(),
                        suite: *s,
                    };
                }
                first.get_or_insert(s.dh);
            }
        }
    }
    match first {
        Some(g) => IkeChoice::WrongGroup(g),
        None => IkeChoice::None,
    }
}

/// The single proposal a responder returns (§2.7).
pub(crate) fn ike_answer(number: u8, suite: &IkeSuite, spi: &[u8]) -> SecurityAssociation {
    SecurityAssociation {
        proposals: vec![Proposal {
            number,
            protocol: protocol::IKE,
            spi: spi.to_vec(),
            transforms: ike_transforms(suite),
        }],
    }
}

/// The responder's choice for a child SA.
pub(crate) enum ChildChoice {
    Chosen {
        number: u8,
        peer_spi: u32,
        suite: ChildSuite,
    },
    WrongGroup(u16),
    None,
}

/// Chooses a child proposal. `ke_group` is the peer's KE payload group in CREATE_CHILD_SA
/// (PFS), `None` when it sent none (and always in IKE_AUTH, where any KE transform is
/// ignored: `in_auth`).
pub(crate) fn choose_child(
    ours: &[ChildSuite],
    theirs: &SecurityAssociation,
    ke_group: Option<u16>,
    in_auth: bool,
) -> ChildChoice {
    let mut wrong = None;
    for s in ours {
        for p in &theirs.proposals {
            let spi = match <[u8; 4]>::try_from(p.spi.as_slice()) {
                Ok(b) => u32::from_be_bytes(b),
                Err(_) => continue,
            };
            let chosen = |dh| ChildChoice::Chosen {
                number: p.number,
                peer_spi: spi,
                suite: ChildSuite { dh, ..*s },
            };
            if in_auth {
                let mut q = p.clone();
                q.transforms.retain(|t| t.ty != tt::KE);
                if child_matches(&q, s, None) {
                    return chosen(None);
                }
                continue;
            }
            match (s.dh, ke_group) {
                (Some(g), Some(k)) if g == k && child_matches(p, s, Some(g)) => {
                    return chosen(Some(g));
                }
                (Some(g), _) if child_matches(p, s, Some(g)) => {
                    wrong.get_or_insert(g);
                }
                (None, None) if child_matches(p, s, None) => return chosen(None),
                _ => {}
            }
        }
    }
    match wrong {
        Some(g) => ChildChoice::WrongGroup(g),
        None => ChildChoice::None,
    }
}

/// The single child proposal a responder returns.
pub(crate) fn child_answer(number: u8, suite: &ChildSuite, spi: u32) -> SecurityAssociation {
    let mut sa = child_offer(std::slice::from_ref(suite), spi, suite.dh.is_some());
    sa.proposals[0].number = number;
    sa
}

fn single(p: &Proposal, ty: u8) -> Option<&Transform> {
    let mut it = p.transforms.iter().filter(|t| t.ty == ty);
    let first = it.next()?;
    it.next().is_none().then_some(first)
}

/// Checks the responder's IKE proposal is one of ours, reduced to one transform each.
pub(crate) fn accept_ike(
    ours: &[IkeSuite],
    answer: &SecurityAssociation,
) -> Option<(IkeSuite, Vec<u8>)> {
    let [p] = answer.proposals.as_slice() else {
        return None;
    };
    let e = single(p, tt::ENCR)?;
    let suite = IkeSuite {
        encr: e.id,
        key_bits: e.key_length(),
        prf: single(p, tt::PRF)?.id,
        integ: match p.transforms.iter().filter(|t| t.ty == tt::INTEG).count() {
            0 => None,
            _ => Some(single(p, tt::INTEG)?.id).filter(|&i| i != 0),
        },
        dh: single(p, tt::KE)?.id,
    };
    (p.protocol == protocol::IKE && ours.contains(&suite)).then(|| (suite, p.spi.clone()))
}

/// Checks the responder's child proposal; returns the suite and the peer's SPI.
pub(crate) fn accept_child(
    ours: &[ChildSuite],
    answer: &SecurityAssociation,
    with_dh: bool,
) -> Option<(ChildSuite, u32)> {
    let [p] = answer.proposals.as_slice() else {
        return None;
    };
    let e = single(p, tt::ENCR)?;
    let integ = match p.transforms.iter().filter(|t| t.ty == tt::INTEG).count() {
        0 => None,
        _ => Some(single(p, tt::INTEG)?.id).filter(|&i| i != 0),
    };
    let dh = match p.transforms.iter().filter(|t| t.ty == tt::KE).count() {
        0 => None,
        _ => Some(single(p, tt::KE)?.id).filter(|&g| g != 0),
    };
    let esn = match p.transforms.iter().filter(|t| t.ty == tt::ESN).count() {
        0 => false,
        _ => single(p, tt::ESN)?.id == 1,
    };
    let spi = u32::from_be_bytes(p.spi.as_slice().try_into().ok()?);
    let ok = p.protocol == protocol::ESP
        && ours.iter().any(|s| {
            s.encr == e.id
                && s.key_bits == e.key_length()
                && s.integ == integ
                && s.esn == esn
                && if with_dh { s.dh == dh } else { dh.is_none() }
        });
    ok.then_some((
        ChildSuite {
            encr: e.id,
            key_bits: e.key_length(),
            integ,
            dh,
            esn,
        },
        spi,
    ))
}
