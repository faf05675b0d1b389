//! Parameter smoothing: a linear ramp towards the target that lands exactly on
//! it, so parameter changes never zipper.

/// The one ramp and crossfade time: every node's parameter smoothing, and the
/// LV2 plugin's crossfades (chain swap, bypass).
pub const RAMP_MS: f64 = 20.0;

/// A value that ramps linearly to its target over a fixed time.
#[derive(Clone, Debug)]
pub struct Smoothed {
    current: f32,
    target: f32,
    step: f32,
    remaining: usize,
    ramp_frames: usize,
}

impl Smoothed {
    /// Starts settled at `value`.
    pub fn new(value: f32) -> Self {
        Self {
            current: value,
            target: value,
            step: 0.0,
            remaining: 0,
            ramp_frames: 1,
        }
    }

    /// Sets the ramp length from a time and sample rate (call in `prepare`).
    pub fn set_ramp(&mut self, sample_rate_hz: f64, ramp_ms: f64) {
        self.ramp_frames = ((sample_rate_hz * ramp_ms / 1000.0).round() as usize).max(1);
    }

    /// Starts a ramp from the current value to `target`.
    pub fn set_target(&mut self, target: f32) {
        if target == self.target {
            return;
        }
        self.target = target;
        self.remaining = self.ramp_frames;
        self.step = (target - self.current) / self.ramp_frames as f32;
    }

    /// Jumps to the target (for `reset`).
    pub fn snap(&mut self) {
        self.current = self.target;
        self.remaining = 0;
    }

    /// The target.
    pub fn target(&self) -> f32 {
        self.target
    }

    /// True while ramping.
    pub fn is_ramping(&self) -> bool {
        self.remaining > 0
    }

    /// The next per-sample value.
    #[inline]
    pub fn next_value(&mut self) -> f32 {
        if self.remaining > 0 {
            self.remaining -= 1;
            self.current = if self.remaining == 0 {
                self.target
            } else {
                self.current + self.step
            };
        }
        self.current
    }

    /// Multiplies `samples` by the (ramping) value; the steady case is one
    /// multiply per sample.
    pub fn apply_gain(&mut self, samples: &mut [f32]) {
        if !self.is_ramping() {
            let gain = self.current;
            samples.iter_mut().for_each(|x| *x *= gain);
            return;
        }
        for x in samples {
            *x *= self.next_value();
        }
    }
}

/// Decibels to a linear amplitude factor.
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_linearly_and_lands_exactly_on_the_target() {
        let mut s = Smoothed::new(0.0);
        s.set_ramp(1000.0, 4.0);
        s.set_target(1.0);
        let values: Vec<f32> = (0..6).map(|_| s.next_value()).collect();
        assert_eq!(values, [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
        assert!(!s.is_ramping());
    }

    #[test]
    fn a_new_target_mid_ramp_starts_from_the_current_value() {
        let mut s = Smoothed::new(0.0);
        s.set_ramp(1000.0, 2.0);
        s.set_target(1.0);
        assert_eq!(s.next_value(), 0.5);
        s.set_target(0.0);
        assert_eq!(s.next_value(), 0.25);
        assert_eq!(s.next_value(), 0.0);
    }

    #[test]
    fn decibels() {
        assert!((db_to_gain(-6.0) - 0.501_187).abs() < 1e-6);
        assert_eq!(db_to_gain(0.0), 1.0);
    }
}
