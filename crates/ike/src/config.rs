//! The engine's configuration: its own types, which the daemon fills from compiled policy
//! (a rule's authentication methods, security methods, filters and lifetimes).

use core::time::Duration;
use std::net::SocketAddr;

use crypto::Secret;
use wire::ikev2::{Identification, TrafficSelector};

/// One IKE SA algorithm suite: a proposal of exactly one transform per type (RFC 7296
/// §3.3). A list of them, in order of preference, is the IKE part of a security method list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IkeSuite {
    /// ENCR transform ID (RFC 7296 §3.3.2, IANA registry).
    pub encr: u16,
    /// Key Length attribute in bits, for ciphers that take one (AES).
    pub key_bits: Option<u16>,
    pub prf: u16,
    /// INTEG transform ID; `None` for AEAD ciphers (RFC 5282 §8).
    pub integ: Option<u16>,
    /// Key exchange method (Diffie-Hellman group).
    pub dh: u16,
}

/// One child SA (ESP) suite. `dh` is the PFS group used when a child SA is created or
/// rekeyed with CREATE_CHILD_SA; IKE_AUTH never carries a key exchange (§1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildSuite {
    pub encr: u16,
    pub key_bits: Option<u16>,
    pub integ: Option<u16>,
    pub dh: Option<u16>,
    /// Extended sequence numbers (ESN transform, §3.3.2).
    pub esn: bool,
}

/// Encapsulation mode of child SAs (§1.3.1, USE_TRANSPORT_MODE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Tunnel,
    Transport,
}

/// How this end proves its identity, and how it checks the peer's. Certificates and EAP
/// are further variants; the engine calls [`crate::auth`] with the signed octets of
/// §2.15, which are the same for every method.
#[derive(Clone)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Pre-shared key (§2.15, "Shared Key Message Integrity Code").
    Psk(Secret),
}

impl core::fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Psk(_) => f.write_str("Psk([redacted])"),
        }
    }
}

/// SA lifetimes. The SA is rekeyed (make-before-break) at `rekey` minus a random part of
/// `jitter`, and deleted at `hard` if no rekey succeeded before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub rekey: Duration,
    pub jitter: Duration,
    pub hard: Duration,
}

impl Lifetime {
    /// Rekey after `rekey` (less up to 10% jitter), expire 10% after it.
    pub fn around(rekey: Duration) -> Self {
        Self {
            rekey,
            jitter: rekey / 10,
            hard: rekey + rekey / 10,
        }
    }
}

/// One peer this end talks IKEv2 to (a rule with a tunnel endpoint, or a host-to-host rule).
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Name used in log events.
    pub name: String,
    /// Our address (port 500; NAT-T moves to 4500).
    pub local: SocketAddr,
    /// The peer's address. As responder, a request from this IP selects this config.
    pub remote: SocketAddr,
    pub local_id: Identification,
    /// The identity the peer must prove; `None` accepts any identity the key authenticates.
    pub remote_id: Option<Identification>,
    pub auth: AuthMethod,
    /// IKE suites in order of preference (the first one's group goes in the first KE).
    pub ike_suites: Vec<IkeSuite>,
    /// Child SA suites in order of preference.
    pub child_suites: Vec<ChildSuite>,
    /// Traffic this end protects (our side of the selectors).
    pub local_ts: Vec<TrafficSelector>,
    /// Traffic on the peer's side.
    pub remote_ts: Vec<TrafficSelector>,
    pub mode: Mode,
    pub ike_lifetime: Lifetime,
    pub child_lifetime: Lifetime,
    /// Send a liveness check after this long without hearing from the peer.
    pub dpd: Option<Duration>,
    /// UDP-encapsulate even without a NAT (RFC 7296 §2.23 allows faking NAT detection).
    pub force_encap: bool,
}

/// Settings of the whole endpoint.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// First retransmission timeout; doubles with each try (§2.1).
    pub retransmit_timeout: Duration,
    /// Retransmissions before the peer is declared dead.
    pub retransmit_tries: u32,
    /// Half-open (responder, not yet authenticated) IKE SAs before cookies are required
    /// (§2.6).
    pub cookie_threshold: usize,
    /// Half-open IKE SAs beyond which new IKE_SA_INIT requests are dropped.
    pub half_open_limit: usize,
    /// How long a half-open IKE SA is kept.
    pub half_open_timeout: Duration,
    /// Largest IKE datagram sent unfragmented once both ends support RFC 7383; bigger
    /// encrypted messages go out as fragments of at most this size.
    pub fragment_size: usize,
    /// NAT keepalive interval when this end is behind a NAT (RFC 3948 §4).
    pub keepalive: Duration,
    /// Wait before retrying an exchange the peer answered with TEMPORARY_FAILURE.
    pub retry_delay: Duration,
    /// Emit Wireshark IKEv2 decryption table lines (test and debugging only).
    pub export_keys: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            retransmit_timeout: Duration::from_millis(1000),
            retransmit_tries: 5,
            cookie_threshold: 64,
            half_open_limit: 4096,
            half_open_timeout: Duration::from_secs(30),
            fragment_size: 1280,
            keepalive: Duration::from_secs(20),
            retry_delay: Duration::from_secs(2),
            export_keys: false,
        }
    }
}
