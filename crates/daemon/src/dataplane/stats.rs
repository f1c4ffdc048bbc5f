//! Data plane counters: packets and bytes each way, and every drop by reason. ESP/AH
//! counters per SA live in the SAD; these count what happens around them.

use std::sync::atomic::{AtomicU64, Ordering};

use esp::EspError;
use thiserror::Error;

/// Why the data plane did not pass a packet on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Drop {
    #[error("not a well-formed ip packet")]
    Malformed,
    #[error("no outbound policy covers the packet")]
    NoPolicy,
    #[error("the policy's outbound sa is not installed")]
    NoSa,
    #[error("no inbound sa for the spi")]
    BadSpi,
    #[error("decrypted packet outside the sa's traffic selector")]
    Selector,
    #[error("dummy packet")]
    Dummy,
    #[error("nat keepalive")]
    Keepalive,
    #[error("ike message on the esp path")]
    Ike,
    #[error("a block filter matched")]
    Blocked,
    #[error("held while ike negotiates an sa (acquire)")]
    Queued,
    #[error("no sa, and the acquire queue is full")]
    QueueFull,
    #[error("no sa, and negotiation is not possible with this policy")]
    Unnegotiable,
    #[error("{0}")]
    Esp(EspError),
}

#[derive(Debug, Default)]
pub struct Stats {
    pub sealed: AtomicU64,
    pub sealed_bytes: AtomicU64,
    pub opened: AtomicU64,
    pub opened_bytes: AtomicU64,
    pub malformed: AtomicU64,
    pub no_policy: AtomicU64,
    pub no_sa: AtomicU64,
    pub bad_spi: AtomicU64,
    pub selector: AtomicU64,
    pub dummy: AtomicU64,
    pub keepalive: AtomicU64,
    pub ike: AtomicU64,
    pub esp_errors: AtomicU64,
    pub send_errors: AtomicU64,
    pub bypassed: AtomicU64,
    pub bypassed_bytes: AtomicU64,
    pub blocked: AtomicU64,
    pub queued: AtomicU64,
    pub queue_full: AtomicU64,
    pub unnegotiable: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub sealed: u64,
    pub sealed_bytes: u64,
    pub opened: u64,
    pub opened_bytes: u64,
    pub malformed: u64,
    pub no_policy: u64,
    pub no_sa: u64,
    pub bad_spi: u64,
    pub selector: u64,
    pub dummy: u64,
    pub keepalive: u64,
    pub ike: u64,
    pub esp_errors: u64,
    pub send_errors: u64,
    /// Sent in the clear by policy (permit, no rule, fallback to clear).
    pub bypassed: u64,
    pub bypassed_bytes: u64,
    pub blocked: u64,
    /// Held for an acquire (sent later if the SA comes up in time).
    pub queued: u64,
    pub queue_full: u64,
    pub unnegotiable: u64,
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Stats {
    fn dropped(&self, d: &Drop) {
        let c = match d {
            Drop::Malformed => &self.malformed,
            Drop::NoPolicy => &self.no_policy,
            Drop::NoSa => &self.no_sa,
            Drop::BadSpi => &self.bad_spi,
            Drop::Selector => &self.selector,
            Drop::Dummy => &self.dummy,
            Drop::Keepalive => &self.keepalive,
            Drop::Ike => &self.ike,
            Drop::Esp(_) => &self.esp_errors,
            Drop::Blocked => &self.blocked,
            Drop::Queued => &self.queued,
            Drop::QueueFull => &self.queue_full,
            Drop::Unnegotiable => &self.unnegotiable,
        };
        bump(c, 1);
    }

    pub(crate) fn outbound<T>(&self, r: &Result<(usize, T, bool), Drop>) {
        match r {
            Ok((n, _, false)) => {
                bump(&self.sealed, 1);
                bump(&self.sealed_bytes, *n as u64);
            }
            Ok((n, _, true)) => {
                bump(&self.bypassed, 1);
                bump(&self.bypassed_bytes, *n as u64);
            }
            Err(d) => self.dropped(d),
        }
    }

    pub(crate) fn inbound(&self, r: &Result<core::ops::Range<usize>, Drop>) {
        match r {
            Ok(range) => {
                bump(&self.opened, 1);
                bump(&self.opened_bytes, range.len() as u64);
            }
            Err(d) => self.dropped(d),
        }
    }

    /// Adds a batch's sealed packets and bytes (one update per batch, not per packet).
    pub(crate) fn add_sealed(&self, packets: u64, bytes: u64) {
        if packets > 0 {
            bump(&self.sealed, packets);
            bump(&self.sealed_bytes, bytes);
        }
    }

    /// Adds a batch's opened packets and bytes.
    pub(crate) fn add_opened(&self, packets: u64, bytes: u64) {
        if packets > 0 {
            bump(&self.opened, packets);
            bump(&self.opened_bytes, bytes);
        }
    }

    pub fn send_error(&self) {
        bump(&self.send_errors, 1);
    }

    pub fn snapshot(&self) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            sealed: g(&self.sealed),
            sealed_bytes: g(&self.sealed_bytes),
            opened: g(&self.opened),
            opened_bytes: g(&self.opened_bytes),
            malformed: g(&self.malformed),
            no_policy: g(&self.no_policy),
            no_sa: g(&self.no_sa),
            bad_spi: g(&self.bad_spi),
            selector: g(&self.selector),
            dummy: g(&self.dummy),
            keepalive: g(&self.keepalive),
            ike: g(&self.ike),
            esp_errors: g(&self.esp_errors),
            send_errors: g(&self.send_errors),
            bypassed: g(&self.bypassed),
            bypassed_bytes: g(&self.bypassed_bytes),
            blocked: g(&self.blocked),
            queued: g(&self.queued),
            queue_full: g(&self.queue_full),
            unnegotiable: g(&self.unnegotiable),
        }
    }
}
