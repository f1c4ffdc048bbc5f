//! Per-SA counters, named as the IP Security Monitor's quick mode statistics name them
//! (confidential/authenticated/transport/tunnel bytes, packets not decrypted, not
//! authenticated, with replay detection), plus drops by reason. A global view is the sum
//! over SAs, which the SA database keeps with the SAs it removes.

use crate::error::EspError;

/// Counters of one SA direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub packets: u64,
    /// Payload bytes protected with encryption (non-NULL cipher).
    pub confidential_bytes: u64,
    /// Payload bytes protected with integrity (every suite but encryption-only).
    pub authenticated_bytes: u64,
    pub transport_bytes: u64,
    pub tunnel_bytes: u64,
    /// Inbound: ICV failures ("packets not authenticated").
    pub not_authenticated: u64,
    /// Inbound: decrypted but malformed padding/trailer ("packets not decrypted").
    pub not_decrypted: u64,
    /// Inbound: refused by anti-replay ("packets with replay detection").
    pub replayed: u64,
    /// Truncated or otherwise malformed packets.
    pub malformed: u64,
    /// Refused because the SA expired or its sequence numbers ran out.
    pub expired: u64,
}

impl Counters {
    /// Counts a drop under its reason.
    pub fn drop(&mut self, e: &EspError) {
        match e {
            EspError::BadIcv => self.not_authenticated += 1,
            EspError::BadPadding => self.not_decrypted += 1,
            EspError::Replay(_) => self.replayed += 1,
            EspError::SequenceExhausted | EspError::Expired => self.expired += 1,
            EspError::Truncated(_)
            | EspError::NotEsp(_)
            | EspError::WrongSpi(_)
            | EspError::BadInner(_)
            | EspError::Refused(_)
            | EspError::BufferTooSmall { .. }
            | EspError::Crypto(_) => self.malformed += 1,
        }
    }

    /// Adds another SA's counters (for the global totals).
    pub fn add(&mut self, o: &Counters) {
        self.packets += o.packets;
        self.confidential_bytes += o.confidential_bytes;
        self.authenticated_bytes += o.authenticated_bytes;
        self.transport_bytes += o.transport_bytes;
        self.tunnel_bytes += o.tunnel_bytes;
        self.not_authenticated += o.not_authenticated;
        self.not_decrypted += o.not_decrypted;
        self.replayed += o.replayed;
        self.malformed += o.malformed;
        self.expired += o.expired;
    }
}
