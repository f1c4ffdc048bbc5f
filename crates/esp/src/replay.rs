//! Anti-replay: a sliding bitmap window in the style of RFC 6479, with extended sequence
//! numbers inferred from the 32 bits on the wire (RFC 4303 §3.4.3 and appendix A).
//!
//! The bitmap is a ring of 64-bit blocks: moving the window clears whole blocks instead of
//! shifting bits, so a jump of any size costs at most one pass over the ring. One block more
//! than the window size is kept so the newest block never overlaps the oldest.
//!
//! Receivers call [`ReplayWindow::check`] before verifying the ICV (cheap rejection of
//! duplicates and old packets) and [`ReplayWindow::accept`] only after it verified, so a
//! forged packet can never move the window (RFC 4303 §3.4.3).

use thiserror::Error;

/// Why a sequence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ReplayError {
    /// Sequence number 0 is never sent (RFC 4303 §3.3.3: the first packet carries 1).
    #[error("sequence number 0")]
    Zero,
    /// Left of the window.
    #[error("sequence number {0} is older than the window")]
    TooOld(u64),
    /// Inside the window and already received.
    #[error("sequence number {0} already received")]
    Duplicate(u64),
    /// ESN inference would go below zero: the packet predates the SA.
    #[error("extended sequence number underflow")]
    Underflow,
    /// ESN inference would go past 2^64 - 1, which no sender may use (RFC 4303 §3.3.3).
    #[error("extended sequence number overflow")]
    Overflow,
    /// The window size is not a positive multiple of 64 up to 65536.
    #[error("bad replay window size {0}")]
    BadSize(u32),
}

/// Default window size (packets), as the issue asks; RFC 4303 §3.4.3 recommends at least 64.
pub const DEFAULT_SIZE: u32 = 1024;
/// Largest supported window.
pub const MAX_SIZE: u32 = 65536;

/// The receive-side anti-replay state of one SA.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Ring of `size / 64 + 1` blocks; bit `s % 64` of block `(s / 64) % len` is sequence `s`.
    blocks: Box<[u64]>,
    /// Highest sequence number accepted (0 before the first packet).
    top: u64,
    /// Window size W in packets.
    size: u64,
    esn: bool,
}

impl ReplayWindow {
    /// A window of `size` packets (a multiple of 64); `esn` selects 64-bit sequence numbers.
    pub fn new(size: u32, esn: bool) -> Result<Self, ReplayError> {
        if size == 0 || size % 64 != 0 || size > MAX_SIZE {
            return Err(ReplayError::BadSize(size));
        }
        Ok(Self {
            blocks: vec![0u64; size as usize / 64 + 1].into_boxed_slice(),
            top: 0,
            size: u64::from(size),
            esn,
        })
    }

    /// Window size in packets.
    pub fn size(&self) -> u32 {
        self.size as u32
    }

    /// Highest sequence number accepted so far.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// True when the SA uses extended (64-bit) sequence numbers.
    pub fn esn(&self) -> bool {
        self.esn
    }

    /// The full sequence number of a packet whose low 32 bits are `seq_low`. Without ESN
    /// that is `seq_low` itself; with ESN the high half is inferred from the window
    /// (RFC 4303 appendix A2.1), and the result must still pass the ICV, which covers the
    /// high half, before it is trusted.
    pub fn infer(&self, seq_low: u32) -> Result<u64, ReplayError> {
        if !self.esn {
            return Ok(u64::from(seq_low));
        }
        let w = self.size;
        let tl = self.top & 0xffff_ffff;
        let th = self.top >> 32;
        let sl = u64::from(seq_low);
        let seqh = if tl >= w - 1 {
            // Case A: the window lies within one 2^32 subspace.
            if sl >= tl - (w - 1) {
                th
            } else if th == 0xffff_ffff {
                return Err(ReplayError::Overflow);
            } else {
                th + 1
            }
        } else {
            // Case B: the window spans the previous subspace's end.
            let low_edge = (tl + (1 << 32) - (w - 1)) & 0xffff_ffff;
            if sl >= low_edge {
                th.checked_sub(1).ok_or(ReplayError::Underflow)?
            } else {
                th
            }
        };
        Ok((seqh << 32) | sl)
    }

    fn bit(&self, seq: u64) -> (usize, u64) {
        let idx = ((seq >> 6) % self.blocks.len() as u64) as usize;
        (idx, 1u64 << (seq & 63))
    }

    /// Would `seq` be accepted? Does not change the window.
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::Zero);
        }
        if seq > self.top {
            return Ok(());
        }
        // seq <= top here, so the difference cannot underflow (seq + size could overflow).
        if self.top - seq >= self.size {
            return Err(ReplayError::TooOld(seq));
        }
        let (i, m) = self.bit(seq);
        if self.blocks[i] & m != 0 {
            Err(ReplayError::Duplicate(seq))
        } else {
            Ok(())
        }
    }

    /// Checks `seq` and records it. Call only after the packet's ICV verified.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        if seq > self.top {
            let new_block = seq >> 6;
            let old_block = self.top >> 6;
            let len = self.blocks.len() as u64;
            // Clear the blocks the window slides over (at most the whole ring).
            let steps = (new_block - old_block).min(len);
            for k in 1..=steps {
                let idx = ((old_block + k) % len) as usize;
                self.blocks[idx] = 0;
            }
            self.top = seq;
        }
        let (i, m) = self.bit(seq);
        self.blocks[i] |= m;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn the_top_of_the_esn_space_neither_wraps_nor_panics() {
        let mut w = ReplayWindow::new(1024, true).unwrap();
        w.accept(u64::MAX - 16).unwrap();
        assert_eq!(w.infer(0xffff_ffff), Ok(u64::MAX));
        assert_eq!(w.infer(5), Err(ReplayError::Overflow));
        assert_eq!(w.check(3), Err(ReplayError::TooOld(3)));
        w.accept(u64::MAX).unwrap();
        assert_eq!(w.check(u64::MAX), Err(ReplayError::Duplicate(u64::MAX)));
        assert_eq!(
            w.check(u64::MAX - 1024),
            Err(ReplayError::TooOld(u64::MAX - 1024))
        );
        assert_eq!(w.check(u64::MAX - 1023), Ok(()));
    }

    #[test]
    fn duplicates_old_and_edges() {
        let mut w = ReplayWindow::new(64, false).unwrap();
        assert_eq!(w.accept(0), Err(ReplayError::Zero));
        w.accept(1).unwrap();
        assert_eq!(w.accept(1), Err(ReplayError::Duplicate(1)));
        w.accept(100).unwrap();
        // Window covers 37..=100: 37 is the oldest acceptable, 36 is too old.
        assert_eq!(w.check(36), Err(ReplayError::TooOld(36)));
        w.accept(37).unwrap();
        assert_eq!(w.accept(37), Err(ReplayError::Duplicate(37)));
        // Reordered burst inside the window.
        for s in (38..100).rev() {
            w.accept(s).unwrap();
        }
        for s in 37..=100 {
            assert!(w.check(s).is_err());
        }
        // A large jump clears everything behind.
        w.accept(10_000).unwrap();
        assert_eq!(w.check(9_000), Err(ReplayError::TooOld(9_000)));
        w.accept(9_999).unwrap();
        assert!(ReplayWindow::new(100, false).is_err());
        assert!(ReplayWindow::new(0, false).is_err());
        assert!(ReplayWindow::new(4096, true).is_ok());
    }

    #[test]
    fn esn_inference_across_the_32_bit_boundary() {
        let mut w = ReplayWindow::new(1024, true).unwrap();
        // Move to just below 2^32.
        let near = (1u64 << 32) - 10;
        w.accept(near).unwrap();
        // A packet whose low half wrapped belongs to the next subspace.
        assert_eq!(w.infer(5).unwrap(), (1u64 << 32) + 5);
        // One from inside the window stays in the current subspace.
        assert_eq!(w.infer(0xffff_fff0).unwrap(), 0xffff_fff0);
        w.accept((1u64 << 32) + 5).unwrap();
        // Now the window spans both subspaces (case B): late packets map back.
        assert_eq!(w.infer(0xffff_fffe).unwrap(), 0xffff_fffe);
        assert_eq!(w.infer(6).unwrap(), (1u64 << 32) + 6);
        w.accept(0xffff_fffe).unwrap();
        assert_eq!(
            w.accept(0xffff_fffe),
            Err(ReplayError::Duplicate(0xffff_fffe))
        );
        // Before any high bits exist, case B cannot go below zero.
        let fresh = ReplayWindow::new(1024, true).unwrap();
        assert_eq!(fresh.infer(0xffff_ff00), Err(ReplayError::Underflow));
        assert_eq!(fresh.infer(3).unwrap(), 3);
        // Without ESN the number is taken as sent.
        let plain = ReplayWindow::new(64, false).unwrap();
        assert_eq!(plain.infer(0xffff_ffff).unwrap(), 0xffff_ffff);
    }

    proptest! {
        /// Against a simple model: accepted iff non-zero, not seen, and within the window.
        #[test]
        fn matches_a_simple_model(size in prop::sample::select(vec![64u32, 128, 1024]),
                                  seqs in proptest::collection::vec(1u64..5000, 1..400)) {
            let mut w = ReplayWindow::new(size, false).unwrap();
            let mut seen = HashSet::new();
            let mut top = 0u64;
            for s in seqs {
                let want_ok = !seen.contains(&s) && (s > top || s + u64::from(size) > top);
                let got = w.accept(s);
                prop_assert_eq!(got.is_ok(), want_ok, "seq {} top {}", s, top);
                if want_ok {
                    seen.insert(s);
                    top = top.max(s);
                }
            }
        }
    }
}
