//! SA lifetimes (RFC 4301 §4.4.2.1): soft and hard limits in seconds, bytes and packets.
//! The soft limit raises "rekey needed" once so IKE can make the next SA before this one
//! dies; at the hard limit the SA refuses all traffic. Time comes from the caller (sans-IO).

/// One set of limits; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub seconds: Option<u64>,
    pub bytes: Option<u64>,
    pub packets: Option<u64>,
}

impl Limits {
    fn reached(&self, age: u64, bytes: u64, packets: u64) -> bool {
        self.seconds.is_some_and(|s| age >= s)
            || self.bytes.is_some_and(|b| bytes >= b)
            || self.packets.is_some_and(|p| packets >= p)
    }
}

/// What a lifetime check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeEvent {
    /// The soft limit was reached (reported once): negotiate a replacement.
    RekeyNeeded,
    /// The hard limit was reached: the SA is dead.
    Expired,
}

/// Usage of one SA against its limits.
#[derive(Debug, Clone)]
pub struct Lifetime {
    pub soft: Limits,
    pub hard: Limits,
    installed_at: u64,
    bytes: u64,
    packets: u64,
    soft_reported: bool,
    expired: bool,
}

impl Lifetime {
    /// Limits for an SA installed at `now` (seconds on the caller's clock).
    pub fn new(soft: Limits, hard: Limits, now: u64) -> Self {
        Self {
            soft,
            hard,
            installed_at: now,
            bytes: 0,
            packets: 0,
            soft_reported: false,
            expired: false,
        }
    }

    /// No limits at all (for tests and manual keying).
    pub fn unlimited() -> Self {
        Self::new(Limits::default(), Limits::default(), 0)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    pub fn is_expired(&self) -> bool {
        self.expired
    }

    fn evaluate(&mut self, now: Option<u64>) -> Option<LifetimeEvent> {
        let age = now.map_or(0, |n| n.saturating_sub(self.installed_at));
        if self.expired || self.hard.reached(age, self.bytes, self.packets) {
            self.expired = true;
            return Some(LifetimeEvent::Expired);
        }
        if !self.soft_reported && self.soft.reached(age, self.bytes, self.packets) {
            self.soft_reported = true;
            return Some(LifetimeEvent::RekeyNeeded);
        }
        None
    }

    /// Whether a packet of `len` bytes may still pass (before processing it).
    pub fn admits(&self) -> bool {
        !self.expired
    }

    /// Counts one packet of `len` bytes; returns an event when a limit is crossed.
    pub fn account(&mut self, len: usize) -> Option<LifetimeEvent> {
        self.bytes = self.bytes.saturating_add(len as u64);
        self.packets = self.packets.saturating_add(1);
        self.evaluate(None)
    }

    /// Checks the time limits at `now` (the daemon calls this from its timer).
    pub fn tick(&mut self, now: u64) -> Option<LifetimeEvent> {
        self.evaluate(Some(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_once_then_hard() {
        let mut l = Lifetime::new(
            Limits {
                bytes: Some(1000),
                ..Limits::default()
            },
            Limits {
                bytes: Some(2000),
                seconds: Some(3600),
                ..Limits::default()
            },
            100,
        );
        assert_eq!(l.account(600), None);
        assert_eq!(l.account(600), Some(LifetimeEvent::RekeyNeeded));
        assert_eq!(l.account(600), None, "soft fires once");
        assert!(l.admits());
        assert_eq!(l.account(600), Some(LifetimeEvent::Expired));
        assert!(!l.admits());
        let mut t = Lifetime::new(
            Limits {
                seconds: Some(10),
                ..Limits::default()
            },
            Limits {
                seconds: Some(20),
                ..Limits::default()
            },
            1000,
        );
        assert_eq!(t.tick(1005), None);
        assert_eq!(t.tick(1010), Some(LifetimeEvent::RekeyNeeded));
        assert_eq!(t.tick(1015), None);
        assert_eq!(t.tick(1020), Some(LifetimeEvent::Expired));
        assert_eq!(
            t.tick(1000),
            Some(LifetimeEvent::Expired),
            "expiry is final"
        );
        let mut p = Lifetime::new(
            Limits::default(),
            Limits {
                packets: Some(2),
                ..Limits::default()
            },
            0,
        );
        assert_eq!(p.account(1), None);
        assert_eq!(p.account(1), Some(LifetimeEvent::Expired));
    }
}
