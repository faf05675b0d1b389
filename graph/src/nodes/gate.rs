//! A noise gate: passes the signal while it is loud enough, fades it to
//! silence after it has stayed quiet for a while. Mono; no latency (no
//! look-ahead).
//!
//! # Detection
//! The level is an RMS envelope of the input: the mean square smoothed by a
//! one-pole filter with a [`DETECTOR_MS`] time constant, in dB
//! (`10·log10(mean square)`, so a sine of peak amplitude 1 reads −3 dB), like
//! the NAM plugin's gate (which smooths over a 50 ms half-life). The RMS
//! envelope follows a note's body rather than each cycle's peaks, so it
//! ripples less on low notes; the hysteresis absorbs what ripple remains.
//!
//! # States
//! - The gate *opens* as soon as the level reaches `threshold_db`.
//! - While open, a level above `threshold_db − hysteresis_db` keeps it open.
//! - Once the level is below that, the gate stays fully open for `hold_ms`,
//!   then *closes*; it reopens only when the level reaches `threshold_db`
//!   again. A level hovering around the threshold, within the hysteresis,
//!   therefore cannot make it chatter.
//!
//! # Gain
//! The gain moves linearly in amplitude: from 0 to 1 over `attack_ms` when
//! the gate opens, from 1 to 0 over `release_ms` when it closes (a partial
//! move takes proportionally less). So it changes by at most
//! `1 / (attack_ms · rate)` per sample up and `1 / (release_ms · rate)` down,
//! is exactly 1 once open and exactly 0 once closed (a closed gate mutes). A
//! new gate starts closed. Parameter changes take effect at once; the gain
//! still moves only at those rates, so they never click.
//!
//! # Contract, and the tests that enforce it (`tests/gate.rs`)
//! Noise below the threshold ends at exactly 0 after the hold and release;
//! a signal above it passes unchanged after the attack; the hold keeps the
//! gate open for `hold_ms` (±1 frame) after the envelope drops below the
//! closing level; hysteresis stops a level hovering at the threshold from
//! toggling the gate; the gain never moves more than the ramps allow; output
//! does not depend on call sizes; `reset` equals a fresh gate; nothing
//! allocates.

use crate::node::{Node, NodeError, ParamSpec, ProcessSpec};

/// Time constant of the RMS detector.
pub const DETECTOR_MS: f64 = 10.0;

/// Lowest mean square the detector holds (−140 dB), below every closing
/// level, so the envelope never decays into subnormal numbers.
const DETECTOR_FLOOR: f32 = 1e-14;

/// Largest input magnitude the detector takes; beyond is a fault and is
/// clamped, so the mean square stays finite.
const INPUT_LIMIT: f32 = 1.0e6;

/// Parameter indices of [`Gate`].
pub mod param {
    /// Level (RMS, dBFS) at which the gate opens.
    pub const THRESHOLD_DB: usize = 0;
    /// Time for the gain to go from 0 to 1, in ms.
    pub const ATTACK_MS: usize = 1;
    /// Time the gate stays open after the level falls below the closing
    /// level, in ms.
    pub const HOLD_MS: usize = 2;
    /// Time for the gain to go from 1 to 0, in ms.
    pub const RELEASE_MS: usize = 3;
    /// How far below the threshold the level must fall to close the gate, in
    /// dB.
    pub const HYSTERESIS_DB: usize = 4;
}

const PARAMS: [ParamSpec; 5] = [
    ParamSpec {
        name: "threshold_db",
        min: -100.0,
        max: 0.0,
        default: -60.0,
    },
    ParamSpec {
        name: "attack_ms",
        min: 0.1,
        max: 100.0,
        default: 1.0,
    },
    ParamSpec {
        name: "hold_ms",
        min: 0.0,
        max: 1000.0,
        default: 50.0,
    },
    ParamSpec {
        name: "release_ms",
        min: 1.0,
        max: 2000.0,
        default: 50.0,
    },
    ParamSpec {
        name: "hysteresis_db",
        min: 0.0,
        max: 20.0,
        default: 6.0,
    },
];

/// A noise gate. See the [module documentation](self).
pub struct Gate {
    /// Parameter values, indexed as [`param`].
    values: [f32; 5],
    sample_rate_hz: f64,
    /// Mean square at which the gate opens, and below which it starts to
    /// close.
    open_level: f32,
    close_level: f32,
    /// Per-sample gain changes, and the hold in frames.
    attack_step: f32,
    release_step: f32,
    hold_frames: usize,
    /// One-pole coefficient of the detector.
    detector_coefficient: f32,
    mean_square: f32,
    open: bool,
    hold_left: usize,
    gain: f32,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A closed gate with the default settings (threshold −60 dB, attack
    /// 1 ms, hold 50 ms, release 50 ms, hysteresis 6 dB).
    pub fn new() -> Self {
        let mut gate = Self {
            values: PARAMS.map(|p| p.default),
            sample_rate_hz: 48_000.0,
            open_level: 0.0,
            close_level: 0.0,
            attack_step: 1.0,
            release_step: 1.0,
            hold_frames: 0,
            detector_coefficient: 1.0,
            mean_square: DETECTOR_FLOOR,
            open: false,
            hold_left: 0,
            gain: 0.0,
        };
        gate.update();
        gate
    }

    /// The gain applied to the latest sample: 0 (closed) to 1 (open).
    pub fn gain(&self) -> f32 {
        self.gain
    }

    /// Recomputes the levels, steps and detector from the parameters and
    /// the rate. Allocation-free.
    fn update(&mut self) {
        let [threshold_db, attack_ms, hold_ms, release_ms, hysteresis_db] = self.values;
        let frames = |ms: f32| f64::from(ms) * self.sample_rate_hz / 1000.0;
        self.open_level = 10f32.powf(threshold_db / 10.0);
        self.close_level = 10f32.powf((threshold_db - hysteresis_db) / 10.0);
        self.attack_step = (1.0 / frames(attack_ms).max(1.0)) as f32;
        self.release_step = (1.0 / frames(release_ms).max(1.0)) as f32;
        self.hold_frames = frames(hold_ms).round() as usize;
        self.detector_coefficient =
            (1.0 - (-1000.0 / (DETECTOR_MS * self.sample_rate_hz)).exp()) as f32;
    }
}

impl Node for Gate {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError> {
        let rate = spec.sample_rate_hz;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(NodeError::Invalid(format!(
                "a gate cannot run at {rate} Hz"
            )));
        }
        self.sample_rate_hz = rate;
        self.update();
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.mean_square = DETECTOR_FLOOR;
        self.open = false;
        self.hold_left = 0;
        self.gain = 0.0;
    }

    fn params(&self) -> &[ParamSpec] {
        &PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if let (Some(spec), Some(slot)) = (PARAMS.get(index), self.values.get_mut(index)) {
            *slot = spec.clamp(value);
            self.update();
        }
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(input), Some(output)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        let frames = frames.min(input.len()).min(output.len());
        for (y, &x) in output[..frames].iter_mut().zip(&input[..frames]) {
            // Faults (NaN, infinities, absurd levels) must not poison the
            // envelope: NaN counts as silence, the rest is clamped.
            let square = if x.is_nan() {
                0.0
            } else {
                let x = x.clamp(-INPUT_LIMIT, INPUT_LIMIT);
                x * x
            };
            self.mean_square += self.detector_coefficient * (square - self.mean_square);
            self.mean_square = self.mean_square.max(DETECTOR_FLOOR);
            if self.mean_square >= self.open_level {
                self.open = true;
                self.hold_left = self.hold_frames;
            } else if self.open {
                if self.mean_square >= self.close_level {
                    self.hold_left = self.hold_frames;
                } else if self.hold_left > 0 {
                    self.hold_left -= 1;
                } else {
                    self.open = false;
                }
            }
            self.gain = if self.open {
                (self.gain + self.attack_step).min(1.0)
            } else {
                (self.gain - self.release_step).max(0.0)
            };
            *y = x * self.gain;
        }
    }
}
