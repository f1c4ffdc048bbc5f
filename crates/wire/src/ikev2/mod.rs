//! IKEv2 messages (RFC 7296 §3) and fragments (RFC 7383), as owned representations.
//!
//! [`Message::parse`] reads a datagram into a [`Header`] and a chain of [`Payload`]s;
//! [`Message::emit`] writes one back, filling in every length and next-payload field.
//! Encrypted payloads (SK, SKF) stay opaque: the IKE engine decrypts them and reads the
//! inner chain with [`parse_chain`]; it builds the inner plaintext with [`emit_chain`].

mod header;
mod message;
pub mod notify;
mod payload;
mod sa;
mod ts;

pub use header::{HEADER_LEN, Header};
pub use message::{Message, emit_chain, parse_chain};
pub use payload::{
    Auth, Cert, Config, Delete, Eap, Encrypted, Fragment, Identification, KeyExchange, Notify,
    Payload,
};
pub use sa::{Proposal, SecurityAssociation, Transform};
pub use ts::TrafficSelector;

/// Exchange types (RFC 7296 §3.1 and the IANA "IKEv2 Exchange Types" registry).
pub mod exchange {
    pub const IKE_SA_INIT: u8 = 34;
    pub const IKE_AUTH: u8 = 35;
    pub const CREATE_CHILD_SA: u8 = 36;
    pub const INFORMATIONAL: u8 = 37;
    pub const IKE_SESSION_RESUME: u8 = 38;
    pub const IKE_INTERMEDIATE: u8 = 43;
    pub const IKE_FOLLOWUP_KE: u8 = 44;
}

/// Header flags (RFC 7296 §3.1).
pub mod flags {
    /// Sent by the original initiator of the IKE SA.
    pub const INITIATOR: u8 = 0x08;
    /// Higher version supported.
    pub const VERSION: u8 = 0x10;
    /// This message is a response.
    pub const RESPONSE: u8 = 0x20;
}

/// Payload type numbers (RFC 7296 §3.2, RFC 7383 §2.5).
pub mod payload_type {
    pub const NONE: u8 = 0;
    pub const SA: u8 = 33;
    pub const KE: u8 = 34;
    pub const IDI: u8 = 35;
    pub const IDR: u8 = 36;
    pub const CERT: u8 = 37;
    pub const CERTREQ: u8 = 38;
    pub const AUTH: u8 = 39;
    pub const NONCE: u8 = 40;
    pub const NOTIFY: u8 = 41;
    pub const DELETE: u8 = 42;
    pub const VENDOR_ID: u8 = 43;
    pub const TSI: u8 = 44;
    pub const TSR: u8 = 45;
    pub const SK: u8 = 46;
    pub const CP: u8 = 47;
    pub const EAP: u8 = 48;
    pub const SKF: u8 = 53;
}

/// Security protocol identifiers (RFC 7296 §3.3.1).
pub mod protocol {
    pub const IKE: u8 = 1;
    pub const AH: u8 = 2;
    pub const ESP: u8 = 3;
}

/// Transform types (RFC 7296 §3.3.2, RFC 9370 additional key exchanges).
pub mod transform_type {
    pub const ENCR: u8 = 1;
    pub const PRF: u8 = 2;
    pub const INTEG: u8 = 3;
    /// Key exchange method (formerly "Diffie-Hellman group").
    pub const KE: u8 = 4;
    pub const ESN: u8 = 5;
    pub const ADDKE1: u8 = 6;
    pub const ADDKE7: u8 = 12;
}

/// Transform attribute types (RFC 7296 §3.3.5).
pub mod attribute_type {
    pub const KEY_LENGTH: u16 = 14;
}

/// Identification types (RFC 7296 §3.5).
pub mod id_type {
    pub const IPV4_ADDR: u8 = 1;
    pub const FQDN: u8 = 2;
    pub const RFC822_ADDR: u8 = 3;
    pub const IPV6_ADDR: u8 = 5;
    pub const DER_ASN1_DN: u8 = 9;
    pub const DER_ASN1_GN: u8 = 10;
    pub const KEY_ID: u8 = 11;
}

/// Authentication methods (RFC 7296 §3.8, RFC 7427 §3).
pub mod auth_method {
    pub const RSA_SIG: u8 = 1;
    pub const SHARED_KEY_MIC: u8 = 2;
    pub const DSS_SIG: u8 = 3;
    pub const ECDSA_SHA256_P256: u8 = 9;
    pub const ECDSA_SHA384_P384: u8 = 10;
    pub const ECDSA_SHA512_P521: u8 = 11;
    pub const DIGITAL_SIGNATURE: u8 = 14;
}

/// Certificate encodings (RFC 7296 §3.6).
pub mod cert_encoding {
    pub const PKCS7_X509: u8 = 1;
    pub const X509_SIGNATURE: u8 = 4;
    pub const CRL: u8 = 7;
    pub const HASH_AND_URL_X509: u8 = 12;
}

/// Traffic selector types (RFC 7296 §3.13.1).
pub mod ts_type {
    pub const IPV4_ADDR_RANGE: u8 = 7;
    pub const IPV6_ADDR_RANGE: u8 = 8;
}

/// Configuration payload types and attributes (RFC 7296 §3.15).
pub mod config {
    pub const CFG_REQUEST: u8 = 1;
    pub const CFG_REPLY: u8 = 2;
    pub const CFG_SET: u8 = 3;
    pub const CFG_ACK: u8 = 4;
    pub const INTERNAL_IP4_ADDRESS: u16 = 1;
    pub const INTERNAL_IP4_NETMASK: u16 = 2;
    pub const INTERNAL_IP4_DNS: u16 = 3;
    pub const INTERNAL_IP4_NBNS: u16 = 4;
    pub const INTERNAL_IP4_DHCP: u16 = 6;
    pub const APPLICATION_VERSION: u16 = 7;
    pub const INTERNAL_IP6_ADDRESS: u16 = 8;
    pub const INTERNAL_IP6_DNS: u16 = 10;
    pub const INTERNAL_IP6_DHCP: u16 = 12;
    pub const INTERNAL_IP4_SUBNET: u16 = 13;
    pub const SUPPORTED_ATTRIBUTES: u16 = 14;
    pub const INTERNAL_IP6_SUBNET: u16 = 15;
}

#[cfg(test)]
mod tests;
