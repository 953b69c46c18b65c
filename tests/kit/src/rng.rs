//! splitmix64: a small, fast, deterministic generator, the one every bench, test and tool that
//! needs reproducible random streams uses, so a seed means the same thing everywhere.
//!
//! The methods are `#[inline]` because the benches call them in loops from another crate.

/// splitmix64.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[inline]
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Geometric on `0, 1, 2, …` with the given mean, capped at `cap`.
    #[inline]
    pub fn geometric(&mut self, mean: f64, cap: u64) -> u64 {
        let u = 1.0 - self.unit(); // (0, 1]
        let q = mean / (mean + 1.0); // P(X ≥ k+1 | X ≥ k)
        ((u.ln() / q.ln()).floor() as u64).min(cap)
    }
}
