//! The caller's monotonic clock, as a value. The engine never reads a clock: every entry
//! point takes `now`, so simulations run in virtual time and replay exactly.

use core::ops::Add;
use core::time::Duration;

/// A point in time on the caller's monotonic clock, as the duration since an epoch the
/// caller chose (the daemon: its start; a simulation: zero).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(Duration);

impl Time {
    /// The epoch.
    pub const ZERO: Time = Time(Duration::ZERO);

    /// The instant `d` after the epoch.
    pub const fn from_duration(d: Duration) -> Self {
        Self(d)
    }

    /// The instant `ms` milliseconds after the epoch.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// How long after the epoch this is.
    pub fn since_epoch(self) -> Duration {
        self.0
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d))
    }
}
