//! Randomness comes from the caller: the daemon passes the operating system's generator,
//! tests a seeded one, so runs are reproducible.

/// A source of random bytes. Implementations used outside tests must be cryptographically
/// secure: nonces, SPIs, IVs and private keys are drawn from it.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

pub(crate) fn bytes(rng: &mut dyn Rng, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rng.fill(&mut v);
    v
}

pub(crate) fn u64_nonzero(rng: &mut dyn Rng) -> u64 {
    loop {
        let mut b = [0u8; 8];
        rng.fill(&mut b);
        let v = u64::from_be_bytes(b);
        if v != 0 {
            return v;
        }
    }
}

/// A child SA SPI: 1-255 are reserved by IANA (RFC 4303 §2.1), 0 means "none".
pub(crate) fn child_spi(rng: &mut dyn Rng) -> u32 {
    loop {
        let mut b = [0u8; 4];
        rng.fill(&mut b);
        let v = u32::from_be_bytes(b);
        if v > 255 {
            return v;
        }
    }
}

/// A uniformly spread duration in `[0, max)` milliseconds (rekey jitter).
pub(crate) fn jitter(rng: &mut dyn Rng, max: core::time::Duration) -> core::time::Duration {
    let ms = max.as_millis() as u64;
    if ms == 0 {
        return core::time::Duration::ZERO;
    }
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    core::time::Duration::from_millis(u64::from_be_bytes(b) % ms)
}
