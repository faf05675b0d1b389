//! A gain stage: `out = gain · in`, with `gain_db` ramped linearly (in
//! amplitude) over [`RAMP_MS`] (20 ms) so changes never click. Mono; no latency.
//!
//! At its minimum, [`MUTE_DB`], the gain is exactly 0 (muted), not
//! −80 dB.
//!
//! Tests (`tests/gain.rs`): 0 dB passes the input exactly, steady gains match
//! `10^(dB/20)`, changes ramp without jumps and land on the target, the
//! minimum mutes, `reset` snaps to the target, nothing allocates.

use crate::node::{Node, NodeError, ParamSpec, ProcessSpec};
use crate::param::{db_to_gain, Smoothed, RAMP_MS};

/// The lowest gain in dB, which mutes.
pub const MUTE_DB: f32 = -80.0;

/// Parameter indices of [`Gain`].
pub mod param {
    /// The gain in dB ([`super::MUTE_DB`] mutes).
    pub const GAIN_DB: usize = 0;
}

const PARAMS: [ParamSpec; 1] = [ParamSpec {
    name: "gain_db",
    min: MUTE_DB,
    max: 40.0,
    default: 0.0,
}];

/// Amplitude factor of `gain_db` (already clamped): `10^(dB/20)`, or 0 at
/// [`MUTE_DB`].
pub(crate) fn amplitude(gain_db: f32) -> f32 {
    if gain_db <= MUTE_DB {
        0.0
    } else {
        db_to_gain(gain_db)
    }
}

/// A smoothed gain. See the [module documentation](self).
pub struct Gain {
    gain: Smoothed,
}

impl Gain {
    /// A gain of `gain_db` (clamped to −80..=40 dB).
    pub fn new(gain_db: f32) -> Self {
        Self {
            gain: Smoothed::new(amplitude(PARAMS[param::GAIN_DB].clamp(gain_db))),
        }
    }
}

impl Default for Gain {
    /// 0 dB.
    fn default() -> Self {
        Self::new(PARAMS[param::GAIN_DB].default)
    }
}

impl Node for Gain {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError> {
        self.gain.set_ramp(spec.sample_rate_hz, RAMP_MS);
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.gain.snap();
    }

    fn snap_params(&mut self) {
        self.gain.snap();
    }

    fn params(&self) -> &[ParamSpec] {
        &PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if let Some(spec) = PARAMS.get(index) {
            self.gain.set_target(amplitude(spec.clamp(value)));
        }
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(input), Some(output)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        let frames = frames.min(input.len()).min(output.len());
        let output = &mut output[..frames];
        output.copy_from_slice(&input[..frames]);
        self.gain.apply_gain(output);
    }
}
