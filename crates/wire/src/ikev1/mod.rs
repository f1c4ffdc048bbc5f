//! ISAKMP / IKEv1 (RFC 2408, 2409, 3947). (to be written)
