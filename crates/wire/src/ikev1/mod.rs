//! ISAKMP / IKEv1 messages (RFC 2408, the IPsec DOI of RFC 2407, RFC 2409, NAT-T of
//! RFC 3947), as owned representations.
//!
//! [`Message::parse`] reads a datagram; when the header's E flag is set the body stays
//! opaque ciphertext ([`Body::Encrypted`]) and the IKE engine, after decrypting, reads it
//! with [`parse_plain_chain`], which stops at the last payload and ignores the padding
//! (IKEv1 padding carries no length, RFC 2409 §5.3).

mod header;
mod message;
mod payload;
mod sa;

pub use header::{HEADER_LEN, Header};
pub use message::{Body, Message, emit_chain, parse_plain_chain};
pub use payload::{ConfigAttributes, Delete, Fragment, Identification, NatOa, Notify, Payload};
pub use sa::{Proposal, SecurityAssociation, Transform};

/// Exchange types (RFC 2408 §3.1, RFC 2409 §5; 6 is the Mode Config "Transaction").
pub mod exchange {
    pub const BASE: u8 = 1;
    /// Main Mode.
    pub const IDENTITY_PROTECTION: u8 = 2;
    pub const AUTHENTICATION_ONLY: u8 = 3;
    /// Aggressive Mode.
    pub const AGGRESSIVE: u8 = 4;
    pub const INFORMATIONAL: u8 = 5;
    pub const TRANSACTION: u8 = 6;
    pub const QUICK: u8 = 32;
    pub const NEW_GROUP: u8 = 33;
}

/// Header flags (RFC 2408 §3.1).
pub mod flags {
    pub const ENCRYPTION: u8 = 0x01;
    pub const COMMIT: u8 = 0x02;
    pub const AUTHENTICATION_ONLY: u8 = 0x04;
}

/// Payload types (RFC 2408 §3.1, RFC 3947 §3.1/§5.2 and their draft numbers, the Mode
/// Config attribute payload, and the IKEv1 fragment payload used by strongSwan and Cisco).
pub mod payload_type {
    pub const NONE: u8 = 0;
    pub const SA: u8 = 1;
    pub const PROPOSAL: u8 = 2;
    pub const TRANSFORM: u8 = 3;
    pub const KE: u8 = 4;
    pub const ID: u8 = 5;
    pub const CERT: u8 = 6;
    pub const CR: u8 = 7;
    pub const HASH: u8 = 8;
    pub const SIG: u8 = 9;
    pub const NONCE: u8 = 10;
    pub const NOTIFICATION: u8 = 11;
    pub const DELETE: u8 = 12;
    pub const VENDOR_ID: u8 = 13;
    pub const ATTRIBUTE: u8 = 14;
    pub const NAT_D: u8 = 20;
    pub const NAT_OA: u8 = 21;
    pub const NAT_D_DRAFT: u8 = 130;
    pub const NAT_OA_DRAFT: u8 = 131;
    pub const FRAGMENT: u8 = 132;
}

/// Domain of interpretation (RFC 2407 §4.2).
pub const DOI_IPSEC: u32 = 1;

/// Situation bits of the IPsec DOI (RFC 2407 §4.2).
pub mod situation {
    pub const IDENTITY_ONLY: u32 = 0x01;
    pub const SECRECY: u32 = 0x02;
    pub const INTEGRITY: u32 = 0x04;
}

/// Protocol identifiers (RFC 2407 §4.4.1).
pub mod protocol {
    pub const ISAKMP: u8 = 1;
    pub const AH: u8 = 2;
    pub const ESP: u8 = 3;
    pub const IPCOMP: u8 = 4;
}

/// The only ISAKMP transform (RFC 2407 §4.4.2).
pub const KEY_IKE: u8 = 1;

/// AH transform IDs (RFC 2407 §4.4.3, RFC 4868).
pub mod ah_transform {
    pub const MD5: u8 = 2;
    pub const SHA: u8 = 3;
    pub const DES: u8 = 4;
    pub const SHA2_256: u8 = 5;
    pub const SHA2_384: u8 = 6;
    pub const SHA2_512: u8 = 7;
}

/// ESP transform IDs (RFC 2407 §4.4.4 and the IANA registry).
pub mod esp_transform {
    pub const DES_IV64: u8 = 1;
    pub const DES: u8 = 2;
    pub const TRIPLE_DES: u8 = 3;
    pub const NULL: u8 = 11;
    pub const AES_CBC: u8 = 12;
    pub const AES_CTR: u8 = 13;
    pub const AES_GCM_8: u8 = 18;
    pub const AES_GCM_12: u8 = 19;
    pub const AES_GCM_16: u8 = 20;
    pub const NULL_AUTH_AES_GMAC: u8 = 23;
}

/// Phase 1 attribute classes (RFC 2409 appendix A).
pub mod ike_attr {
    pub const ENCRYPTION_ALGORITHM: u16 = 1;
    pub const HASH_ALGORITHM: u16 = 2;
    pub const AUTHENTICATION_METHOD: u16 = 3;
    pub const GROUP_DESCRIPTION: u16 = 4;
    pub const GROUP_TYPE: u16 = 5;
    pub const GROUP_PRIME: u16 = 6;
    pub const LIFE_TYPE: u16 = 11;
    pub const LIFE_DURATION: u16 = 12;
    pub const PRF: u16 = 13;
    pub const KEY_LENGTH: u16 = 14;
    pub const FIELD_SIZE: u16 = 15;
    pub const GROUP_ORDER: u16 = 16;

    /// Encryption algorithm values (appendix A; 7 = AES-CBC, RFC 3602).
    pub const ENCR_DES_CBC: u16 = 1;
    pub const ENCR_3DES_CBC: u16 = 5;
    pub const ENCR_AES_CBC: u16 = 7;
    /// Hash algorithm values (appendix A; 4-6 from RFC 4868).
    pub const HASH_MD5: u16 = 1;
    pub const HASH_SHA: u16 = 2;
    pub const HASH_SHA2_256: u16 = 4;
    pub const HASH_SHA2_384: u16 = 5;
    pub const HASH_SHA2_512: u16 = 6;
    /// Authentication method values.
    pub const AUTH_PSK: u16 = 1;
    pub const AUTH_DSS: u16 = 2;
    pub const AUTH_RSA_SIG: u16 = 3;
    pub const AUTH_RSA_ENC: u16 = 4;
    pub const AUTH_RSA_ENC_REVISED: u16 = 5;
    /// Life type values.
    pub const LIFE_SECONDS: u16 = 1;
    pub const LIFE_KILOBYTES: u16 = 2;
}

/// IPsec SA attribute classes (RFC 2407 §4.5).
pub mod ipsec_attr {
    pub const SA_LIFE_TYPE: u16 = 1;
    pub const SA_LIFE_DURATION: u16 = 2;
    pub const GROUP_DESCRIPTION: u16 = 3;
    pub const ENCAPSULATION_MODE: u16 = 4;
    pub const AUTHENTICATION_ALGORITHM: u16 = 5;
    pub const KEY_LENGTH: u16 = 6;
    pub const KEY_ROUNDS: u16 = 7;
    pub const COMPRESS_DICTIONARY_SIZE: u16 = 8;
    pub const COMPRESS_PRIVATE_ALGORITHM: u16 = 9;

    /// Encapsulation modes (RFC 2407, RFC 3947 §5 and the draft values still in use).
    pub const MODE_TUNNEL: u16 = 1;
    pub const MODE_TRANSPORT: u16 = 2;
    pub const MODE_UDP_TUNNEL: u16 = 3;
    pub const MODE_UDP_TRANSPORT: u16 = 4;
    pub const MODE_UDP_TUNNEL_DRAFT: u16 = 61443;
    pub const MODE_UDP_TRANSPORT_DRAFT: u16 = 61444;
    /// Authentication algorithms (RFC 2407 §4.5, RFC 4868).
    pub const AUTH_HMAC_MD5: u16 = 1;
    pub const AUTH_HMAC_SHA: u16 = 2;
    pub const AUTH_DES_MAC: u16 = 3;
    pub const AUTH_KPDK: u16 = 4;
    pub const AUTH_HMAC_SHA2_256: u16 = 5;
    pub const AUTH_HMAC_SHA2_384: u16 = 6;
    pub const AUTH_HMAC_SHA2_512: u16 = 7;
}

/// Identification types (RFC 2407 §4.6.2.1).
pub mod id_type {
    pub const IPV4_ADDR: u8 = 1;
    pub const FQDN: u8 = 2;
    pub const USER_FQDN: u8 = 3;
    pub const IPV4_ADDR_SUBNET: u8 = 4;
    pub const IPV6_ADDR: u8 = 5;
    pub const IPV6_ADDR_SUBNET: u8 = 6;
    pub const IPV4_ADDR_RANGE: u8 = 7;
    pub const IPV6_ADDR_RANGE: u8 = 8;
    pub const DER_ASN1_DN: u8 = 9;
    pub const DER_ASN1_GN: u8 = 10;
    pub const KEY_ID: u8 = 11;
}

/// Notify message types (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706).
pub mod notify {
    pub const INVALID_PAYLOAD_TYPE: u16 = 1;
    pub const DOI_NOT_SUPPORTED: u16 = 2;
    pub const SITUATION_NOT_SUPPORTED: u16 = 3;
    pub const INVALID_COOKIE: u16 = 4;
    pub const INVALID_MAJOR_VERSION: u16 = 5;
    pub const INVALID_MINOR_VERSION: u16 = 6;
    pub const INVALID_EXCHANGE_TYPE: u16 = 7;
    pub const INVALID_FLAGS: u16 = 8;
    pub const INVALID_MESSAGE_ID: u16 = 9;
    pub const INVALID_PROTOCOL_ID: u16 = 10;
    pub const INVALID_SPI: u16 = 11;
    pub const INVALID_TRANSFORM_ID: u16 = 12;
    pub const ATTRIBUTES_NOT_SUPPORTED: u16 = 13;
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    pub const BAD_PROPOSAL_SYNTAX: u16 = 15;
    pub const PAYLOAD_MALFORMED: u16 = 16;
    pub const INVALID_KEY_INFORMATION: u16 = 17;
    pub const INVALID_ID_INFORMATION: u16 = 18;
    pub const INVALID_CERT_ENCODING: u16 = 19;
    pub const INVALID_CERTIFICATE: u16 = 20;
    pub const CERT_TYPE_UNSUPPORTED: u16 = 21;
    pub const INVALID_CERT_AUTHORITY: u16 = 22;
    pub const INVALID_HASH_INFORMATION: u16 = 23;
    pub const AUTHENTICATION_FAILED: u16 = 24;
    pub const INVALID_SIGNATURE: u16 = 25;
    pub const ADDRESS_NOTIFICATION: u16 = 26;
    pub const NOTIFY_SA_LIFETIME: u16 = 27;
    pub const CERTIFICATE_UNAVAILABLE: u16 = 28;
    pub const UNSUPPORTED_EXCHANGE_TYPE: u16 = 29;
    pub const UNEQUAL_PAYLOAD_LENGTHS: u16 = 30;
    pub const CONNECTED: u16 = 16384;
    pub const RESPONDER_LIFETIME: u16 = 24576;
    pub const REPLAY_STATUS: u16 = 24577;
    pub const INITIAL_CONTACT: u16 = 24578;
    pub const R_U_THERE: u16 = 36136;
    pub const R_U_THERE_ACK: u16 = 36137;
}

#[cfg(test)]
mod tests;
