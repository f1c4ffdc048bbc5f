//! What the engine hands back: datagrams to send, child SAs to install or delete, and log
//! events. Nothing here carries a key except [`ChildSaInstall`] (for the data path) and
//! the explicit Wireshark key export.

use std::net::SocketAddr;

use crypto::Secret;
use wire::ikev2::TrafficSelector;

use crate::config::{ChildSuite, IkeSuite, Mode};

/// Identifies one peer session (an IKE SA and its successors after rekeys).
pub type SessionId = u64;
/// Identifies one child SA across its life (rekeys produce a new id).
pub type ChildId = u64;

/// A datagram to send. On port 4500 `bytes` already begins with the non-ESP marker
/// (RFC 3948 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// Keys of one direction of a child SA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectionKeys {
    /// Encryption keying material (key then salt/nonce for AEAD and CTR).
    pub encr: Secret,
    /// Integrity key (empty for AEAD).
    pub integ: Secret,
}

/// A child SA for the data path to install (RFC 7296 §2.17 keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSaInstall {
    pub session: SessionId,
    pub child: ChildId,
    /// The child SA this one replaces (make-before-break: the old one is deleted later).
    pub replaces: Option<ChildId>,
    pub mode: Mode,
    pub suite: ChildSuite,
    /// SPI the peer puts in packets to us.
    pub inbound_spi: u32,
    /// SPI we put in packets to the peer.
    pub outbound_spi: u32,
    pub inbound: DirectionKeys,
    pub outbound: DirectionKeys,
    pub local_ts: Vec<TrafficSelector>,
    pub remote_ts: Vec<TrafficSelector>,
    /// Outer addresses; with `encap` ESP goes in UDP between these (port 4500).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub encap: bool,
    /// When the data path should consider the SA expired if IKE has not replaced it
    /// (seconds after install).
    pub hard_lifetime_secs: u64,
}

/// A child SA to remove from the data path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildSaDelete {
    pub session: SessionId,
    pub child: ChildId,
    pub inbound_spi: u32,
    pub outbound_spi: u32,
}

/// Why a negotiation failed, as the Oakley log reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No proposal acceptable (NO_PROPOSAL_CHOSEN, sent or received).
    NoProposalChosen,
    /// The peer's AUTH did not verify, or the peer rejected ours.
    AuthenticationFailed,
    /// The peer's identity is not the configured one.
    IdentityMismatch,
    /// No overlap of traffic selectors (TS_UNACCEPTABLE).
    TsUnacceptable,
    /// The peer stopped answering (retransmissions exhausted).
    PeerDead,
    /// The peer sent an error notification of this type.
    PeerError(u16),
    /// The peer's message broke the protocol (bad KE value, missing payloads...).
    Protocol(&'static str),
    /// A local problem (unsupported algorithm in the configuration...).
    Local(&'static str),
}

/// A log event for the Oakley log: negotiation steps, chosen proposals, failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// IKE_SA_INIT sent (or re-sent with a cookie or another group).
    Initiating {
        session: SessionId,
        peer: String,
        group: u16,
    },
    /// The responder asked for a cookie (§2.6).
    CookieRequested { session: SessionId },
    /// The responder wants another key exchange group (INVALID_KE_PAYLOAD, §1.2).
    InvalidKe { session: SessionId, group: u16 },
    /// We answered a request with a cookie demand (half-open SAs over the threshold).
    CookieDemanded { from: SocketAddr },
    /// A request was dropped (half-open limit, malformed, failed integrity...).
    Dropped {
        from: SocketAddr,
        reason: &'static str,
    },
    /// An IKE SA is up (first one, or the result of a rekey).
    IkeSaEstablished {
        session: SessionId,
        spi_i: u64,
        spi_r: u64,
        initiator: bool,
        suite: IkeSuite,
        rekey: bool,
    },
    /// NAT detection result (§2.23).
    NatDetected {
        session: SessionId,
        local_behind_nat: bool,
        remote_behind_nat: bool,
    },
    /// A child SA is up.
    ChildSaEstablished {
        session: SessionId,
        child: ChildId,
        inbound_spi: u32,
        outbound_spi: u32,
        suite: ChildSuite,
        rekey_of: Option<ChildId>,
    },
    /// A negotiation failed; the IKE SA survives if `fatal` is false.
    Failed {
        session: SessionId,
        failure: Failure,
        fatal: bool,
    },
    /// Simultaneous rekey (§2.8.1) resolved: `we_won` says whose new SA survives.
    RekeyCollision {
        session: SessionId,
        ike: bool,
        we_won: bool,
    },
    /// An IKE SA was deleted (replaced after a rekey, or closed).
    IkeSaDeleted {
        session: SessionId,
        spi_i: u64,
        spi_r: u64,
    },
    /// A child SA was deleted.
    ChildSaDeleted { session: SessionId, child: ChildId },
    /// A request was retransmitted.
    Retransmit {
        session: SessionId,
        message_id: u32,
        attempt: u32,
    },
    /// The session ended: no IKE SA left.
    SessionClosed { session: SessionId },
}

/// Everything the engine asks its caller to do.
#[derive(Debug, Clone)]
pub enum Output {
    Transmit(Transmit),
    InstallChild(Box<ChildSaInstall>),
    DeleteChild(ChildSaDelete),
    Event(Event),
    /// One line of Wireshark's IKEv2 decryption table (`ikev2_decryption_table`), only
    /// with `EndpointConfig::export_keys`.
    KeyExport(String),
}
