//! One IKE SA: SPIs, keys, message-ID windows (window size 1, RFC 7296 §2.3), the request
//! in flight with its retransmission state, and the cached response to the peer's last
//! request.

use crypto::Secret;
use crypto::kdf::ikev2 as kdf;
use crypto::kex::KeyExchange;
use crypto::prf::Prf;
use crypto::registry;
use wire::ikev2::TrafficSelector;

use crate::config::{ChildSuite, IkeSuite};
use crate::error::{IkeError, Result};
use crate::fragment::Reassembly;
use crate::output::{ChildId, DirectionKeys};
use crate::rng::{self, Rng};
use crate::sk::Direction;
use crate::time::Time;

/// Where an IKE SA is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IkeState {
    /// Initiator: IKE_SA_INIT sent.
    Connecting,
    /// IKE_SA_INIT done, IKE_AUTH under way (a responder's SA is "half-open" here).
    Authenticating,
    /// Usable.
    Established,
    /// Replaced by a rekey the peer initiated; the peer deletes it (§2.18).
    Rekeyed,
    /// Lost a simultaneous rekey (§2.8.1): its creator deletes it.
    Redundant,
    /// Our Delete for it is queued or in flight.
    Deleting,
}

/// The keys of an established IKE SA.
pub(crate) struct Keys {
    pub prf: Prf,
    pub sk_d: Secret,
    pub out: Direction,
    pub inb: Direction,
}

/// What IKE_AUTH needs from IKE_SA_INIT (§2.15); dropped once authenticated.
pub(crate) struct AuthCtx {
    pub msg_i: Vec<u8>,
    pub msg_r: Vec<u8>,
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    pub sk_pi: Secret,
    pub sk_pr: Secret,
}

/// A child SA negotiation we started.
pub(crate) struct ChildRequest {
    pub inbound_spi: u32,
    pub ni: Vec<u8>,
    pub kex: Option<Box<dyn KeyExchange>>,
    pub rekey_of: Option<ChildId>,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// The peer rekeyed the same child while this was in flight (§2.8.1).
    pub collision: Option<Collision>,
    pub transport: bool,
}

/// The peer's side of a simultaneous rekey: what it created and the lowest nonce of its
/// exchange.
pub(crate) struct Collision {
    pub created: u64,
    pub lowest_nonce: Vec<u8>,
}

/// An IKE SA rekey we started.
pub(crate) struct IkeRekeyRequest {
    pub new_spi: u64,
    pub ni: Vec<u8>,
    pub kex: Box<dyn KeyExchange>,
    pub collision: Option<Collision>,
}

/// The IKE_SA_INIT we sent and may have to send again (cookie, other group).
pub(crate) struct InitRequest {
    pub ni: Vec<u8>,
    pub kex: Box<dyn KeyExchange>,
    pub cookie: Option<Vec<u8>>,
    pub attempts: u8,
    pub message: Vec<u8>,
    pub child: ChildRequest,
}

/// What our request in flight was for.
pub(crate) enum Pending {
    Init(Box<InitRequest>),
    Auth(ChildRequest),
    CreateChild(ChildRequest),
    RekeyIke(IkeRekeyRequest),
    DeleteChildren(Vec<ChildId>),
    DeleteSpis(Vec<u32>),
    DeleteIke,
    Dpd,
}

/// Our request in flight.
pub(crate) struct Outstanding {
    pub message_id: u32,
    pub datagrams: Vec<Vec<u8>>,
    pub tries: u32,
    pub deadline: Time,
    pub pending: Pending,
}

/// One IKE SA.
pub(crate) struct IkeSa {
    pub spi_i: u64,
    pub spi_r: u64,
    /// We are this SA's original initiator (I flag).
    pub initiator: bool,
    pub state: IkeState,
    pub suite: Option<IkeSuite>,
    pub keys: Option<Keys>,
    pub next_request: u32,
    pub expected_request: u32,
    pub outstanding: Option<Outstanding>,
    /// Message ID and datagrams of our response to the peer's last request.
    pub cached: Option<(u32, Vec<Vec<u8>>)>,
    pub reassembly_requests: Reassembly,
    pub reassembly_responses: Reassembly,
    pub peer_fragmentation: bool,
    pub last_heard: Time,
    pub rekey_at: Option<Time>,
    pub expire_at: Option<Time>,
    pub auth: Option<AuthCtx>,
}

impl IkeSa {
    pub(crate) fn new(spi_i: u64, spi_r: u64, initiator: bool, state: IkeState, now: Time) -> Self {
        Self {
            spi_i,
            spi_r,
            initiator,
            state,
            suite: None,
            keys: None,
            next_request: 0,
            expected_request: 0,
            outstanding: None,
            cached: None,
            reassembly_requests: Reassembly::default(),
            reassembly_responses: Reassembly::default(),
            peer_fragmentation: false,
            last_heard: now,
            rekey_at: None,
            expire_at: None,
            auth: None,
        }
    }

    /// Our SPI: how the endpoint finds this SA for an incoming message.
    pub(crate) fn local_spi(&self) -> u64 {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }
}

/// Derives and keys an IKE SA from its SKEYSEED (§2.14). Returns the keys and SK_pi/SK_pr.
pub(crate) fn ike_keys(
    suite: &IkeSuite,
    skeyseed: &Secret,
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
    initiator: bool,
) -> Result<(Keys, Secret, Secret)> {
    let prf = registry::prf(suite.prf)?;
    let encr = registry::encryption(suite.encr, suite.key_bits)?;
    let integ = match (encr.is_aead(), suite.integ) {
        (true, _) => None,
        (false, Some(i)) => Some(registry::integrity(i)?),
        (false, None) => return Err(IkeError::Protocol("cipher without integrity")),
    };
    let lens = kdf::IkeKeyLengths {
        integ: integ.map_or(0, |i| i.key_len),
        encr: encr.keymat_len,
    };
    let k = kdf::ike_keys(prf, skeyseed, ni, nr, spi_i, spi_r, lens)?;
    let dir_i = Direction::new(encr, integ, &k.sk_ei, &k.sk_ai)?;
    let dir_r = Direction::new(encr, integ, &k.sk_er, &k.sk_ar)?;
    let (out, inb) = if initiator {
        (dir_i, dir_r)
    } else {
        (dir_r, dir_i)
    };
    let keys = Keys {
        prf,
        sk_d: k.sk_d.clone(),
        out,
        inb,
    };
    Ok((keys, k.sk_pi.clone(), k.sk_pr.clone()))
}

/// Wireshark's `ikev2_decryption_table` line for an SA (explicit key export only).
pub(crate) fn wireshark_line(
    suite: &IkeSuite,
    skeyseed: &Secret,
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
) -> Option<String> {
    let prf = registry::prf(suite.prf).ok()?;
    let encr = registry::encryption(suite.encr, suite.key_bits).ok()?;
    let integ = suite.integ.and_then(|i| registry::integrity(i).ok());
    let lens = kdf::IkeKeyLengths {
        integ: integ.map_or(0, |i| i.key_len),
        encr: encr.keymat_len,
    };
    let k = kdf::ike_keys(prf, skeyseed, ni, nr, spi_i, spi_r, lens).ok()?;
    let hex = |s: &Secret| {
        s.expose()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let enc_name = match (encr.id, encr.key_bits) {
        (20, 128) => "AES-GCM-128 with 16 octet ICV [RFC5282]",
        (20, 256) => "AES-GCM-256 with 16 octet ICV [RFC5282]",
        (12, 128) => "AES-CBC-128 [RFC3602]",
        (12, 256) => "AES-CBC-256 [RFC3602]",
        _ => "unknown",
    };
    let integ_name = match suite.integ {
        Some(2) => "HMAC_SHA1_96 [RFC2404]",
        Some(12) => "HMAC_SHA2_256_128 [RFC4868]",
        None => "NONE [RFC4306]",
        _ => "unknown",
    };
    Some(format!(
        "{:016x},{:016x},{},{},\"{}\",{},{},\"{}\"",
        spi_i,
        spi_r,
        hex(&k.sk_ei),
        hex(&k.sk_er),
        enc_name,
        hex(&k.sk_ai),
        hex(&k.sk_ar),
        integ_name
    ))
}

/// Child SA keys (§2.17) for the side that did (`we_initiated`) or did not start the
/// exchange: returns (inbound, outbound).
pub(crate) fn child_keys(
    keys: &Keys,
    suite: &ChildSuite,
    g_ir: Option<&Secret>,
    ni: &[u8],
    nr: &[u8],
    we_initiated: bool,
) -> Result<(DirectionKeys, DirectionKeys)> {
    let encr = registry::encryption(suite.encr, suite.key_bits)?;
    let integ_len = match suite.integ {
        Some(i) => registry::integrity(i)?.key_len,
        None => 0,
    };
    let ck = kdf::child_keys(
        keys.prf,
        &keys.sk_d,
        g_ir.map(Secret::expose),
        ni,
        nr,
        encr.keymat_len,
        integ_len,
    )?;
    let i = DirectionKeys {
        encr: ck.ei.clone(),
        integ: ck.ai.clone(),
    };
    let r = DirectionKeys {
        encr: ck.er.clone(),
        integ: ck.ar.clone(),
    };
    Ok(if we_initiated { (r, i) } else { (i, r) })
}

/// Our half of a key exchange in `group`, from fresh randomness.
pub(crate) fn new_kex(group: u16, rng: &mut dyn Rng) -> Result<Box<dyn KeyExchange>> {
    let alg = registry::key_exchange(group)?;
    for _ in 0..16 {
        let private = Secret::new(rng::bytes(rng, alg.private_len()));
        match alg.from_private(private.expose()) {
            Ok(k) => return Ok(k),
            Err(crypto::CryptoError::BadPrivateKey { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(IkeError::Protocol("no usable private key from the rng"))
}

/// A fresh nonce (§2.10: at least 128 bits and half the PRF key size; 32 bytes covers
/// every PRF we offer).
pub(crate) fn nonce(rng: &mut dyn Rng) -> Vec<u8> {
    rng::bytes(rng, 32)
}
