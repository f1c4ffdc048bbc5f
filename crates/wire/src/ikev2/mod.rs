//! IKEv2 (RFC 7296, RFC 7383). (to be written)
