//! Routing: a [`Mixer`] summing N inputs into one output, each through its
//! own smoothed gain, with no latency; N is 1 to [`MAX_PORTS`]. (Splitting
//! needs no node: a graph connects one output to any number of inputs.)
//!
//! The mixer's gains are the parameters `input_0_gain_db`,
//! `input_1_gain_db`, … (index = input port), −80 to +20 dB, default 0 dB,
//! ramped linearly in amplitude over [`RAMP_MS`]; at −80 dB an input is
//! muted (gain exactly 0).
//!
//! Tests (`tests/mix.rs`): the mix equals `Σ gainᵢ · inᵢ` computed
//! independently, gain changes ramp without jumps, mute is exact, a fan-out
//! and a mix rebuild the input in a graph, nothing allocates.

use super::gain::{amplitude, MUTE_DB};
use crate::graph::MAX_PORTS;
use crate::node::{Node, NodeError, ParamSpec, ProcessSpec};
use crate::param::{Smoothed, RAMP_MS};

const fn input_gain(name: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        min: MUTE_DB,
        max: 20.0,
        default: 0.0,
    }
}

/// One gain parameter per possible input; a mixer exposes the first N.
const PARAMS: [ParamSpec; MAX_PORTS] = [
    input_gain("input_0_gain_db"),
    input_gain("input_1_gain_db"),
    input_gain("input_2_gain_db"),
    input_gain("input_3_gain_db"),
    input_gain("input_4_gain_db"),
    input_gain("input_5_gain_db"),
    input_gain("input_6_gain_db"),
    input_gain("input_7_gain_db"),
    input_gain("input_8_gain_db"),
    input_gain("input_9_gain_db"),
    input_gain("input_10_gain_db"),
    input_gain("input_11_gain_db"),
    input_gain("input_12_gain_db"),
    input_gain("input_13_gain_db"),
    input_gain("input_14_gain_db"),
    input_gain("input_15_gain_db"),
];

/// Sums its inputs, each scaled by its own gain. See the
/// [module documentation](self).
pub struct Mixer {
    gains: Vec<Smoothed>,
}

impl Mixer {
    /// A mixer of `inputs` inputs (1 to [`MAX_PORTS`]), every gain 0 dB.
    /// Off the audio thread.
    pub fn new(inputs: usize) -> Result<Self, NodeError> {
        if !(1..=MAX_PORTS).contains(&inputs) {
            return Err(NodeError::Invalid(format!(
                "a mixer has 1 to {MAX_PORTS} inputs, not {inputs}"
            )));
        }
        Ok(Self {
            gains: vec![Smoothed::new(1.0); inputs],
        })
    }
}

impl Node for Mixer {
    fn inputs(&self) -> usize {
        self.gains.len()
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError> {
        for gain in &mut self.gains {
            gain.set_ramp(spec.sample_rate_hz, RAMP_MS);
        }
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.gains.iter_mut().for_each(Smoothed::snap);
    }

    fn snap_params(&mut self) {
        self.gains.iter_mut().for_each(Smoothed::snap);
    }

    fn params(&self) -> &[ParamSpec] {
        &PARAMS[..self.gains.len()]
    }

    fn set_param(&mut self, index: usize, value: f32) {
        if let (Some(gain), Some(spec)) = (self.gains.get_mut(index), PARAMS.get(index)) {
            gain.set_target(amplitude(spec.clamp(value)));
        }
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(output) = outputs.first_mut() else {
            return;
        };
        let frames = frames.min(output.len());
        let output = &mut output[..frames];
        output.fill(0.0);
        for (gain, input) in self.gains.iter_mut().zip(inputs) {
            let input = &input[..frames.min(input.len())];
            if gain.is_ramping() {
                for (y, &x) in output.iter_mut().zip(input) {
                    *y += gain.next_value() * x;
                }
            } else {
                let g = gain.target();
                if g != 0.0 {
                    for (y, &x) in output.iter_mut().zip(input) {
                        *y += g * x;
                    }
                }
            }
        }
    }
}
