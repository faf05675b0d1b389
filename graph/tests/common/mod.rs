//! Helpers shared by the node tests.
#![allow(dead_code)]

/// Deterministic pseudo-random numbers (xorshift64).
pub struct XorShift(pub u64);

impl XorShift {
    /// The next raw value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [-1, 1).
    pub fn signal(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// Uniform in 1..=max.
    pub fn frames(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }

    /// `len` samples of [`XorShift::signal`].
    pub fn noise(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.signal()).collect()
    }
}
