//! Impulse-response convolution for input and cabinet IRs: exact linear
//! convolution with no added latency, a dry/wet `mix` and a wet `level_db`.
//!
//! # Signal path
//! `out = (1 - mix) · in + mix · level · (ir ∗ in)`, both parameters smoothed
//! over 20 ms. Mono in, mono out. Input that is NaN or infinite is taken as 0,
//! and input beyond ±10⁶ is clamped (faults, not audio), so the output is
//! always finite.
//!
//! # The impulse response
//! Read from a WAV file ([`Convolver::from_wav`], first channel only) or given
//! as samples ([`Convolver::from_samples`]); up to [`MAX_IR_SECONDS`] long at
//! its own rate, every sample finite. With
//! [`ConvolverSettings::normalize`] it is scaled once, at construction, so
//! that its magnitude response has an RMS of 0 dB between 20 Hz and 20 kHz
//! (rate-independent, unlike normalizing the sum of squares, which depends on
//! the bandwidth). NAM's plugin does something else: it scales every IR by a
//! fixed −18 dB × 48 kHz / rate; here the default is to use the IR as it is
//! and let `level_db` trim it.
//!
//! At [`Node::prepare`], an IR recorded at another rate is resampled once to
//! the graph's rate, band-limited by a windowed-sinc kernel (cutoff 0.92 × the
//! lower rate's Nyquist frequency, −6 dB there, −100 dB from the Nyquist
//! frequency on) and scaled by `ir rate / graph rate`, so its frequency
//! response keeps its magnitude: within 0.001 dB up to 0.84 × that Nyquist
//! frequency. The kernel is made *minimum phase*: a linear-phase sinc rings
//! before each sample, and with zero latency the pre-ringing of the IR's first
//! samples would have to be cut, which bends the response (by −0.36 dB over
//! the whole band for an IR that starts at full level, 44.1 → 48 kHz). The
//! price is some phase shift near the top of the band and a delay of about 3
//! samples of the lower rate (70 µs at 44.1 kHz), which shows as comb
//! filtering only when a resampled IR is mixed with the dry signal.
//!
//! # The convolution
//! The IR is split into a *head* of [`HEAD_FRAMES`] taps, convolved directly
//! (time domain, with `nam-kernel`'s convolution kernel), and *stages* of
//! uniformly partitioned overlap-save FFT convolution whose partitions grow
//! with the distance from the start. A stage of partition size `P` covers taps
//! from `P` on, so when an input block of `P` frames is complete, it can
//! already compute its contribution to the *next* `P` output frames, which are
//! then read out as they are processed; the head covers the taps needed
//! sooner. So every output frame is the exact linear convolution up to the
//! current input frame: no latency, whatever the call sizes.
//!
//! The first stage has partitions of `HEAD_FRAMES` and covers taps
//! `HEAD_FRAMES..8 · HEAD_FRAMES`; each next stage has partitions 8 times
//! larger and starts where the one before ends, up to [`MAX_PARTITION_FRAMES`].
//! A stage takes the rest of the IR when that costs less than starting the
//! next stage (a small cost model: one partition's multiply-add per sample
//! against a pair of FFTs per block, fitted to the benchmark). Examples, as
//! (partition size, count): 2048 taps: (32, 7), (256, 7); 32768 taps:
//! (32, 7), (256, 7), (2048, 15); 10 s at 48 kHz: (32, 7), (256, 7),
//! (2048, 234).
//!
//! A call splits its frames at multiples of `HEAD_FRAMES`. All of a stage's
//! work (one FFT, one complex multiply-add per partition, one inverse FFT)
//! happens in the call that completes its block, so a call costs more when a
//! long partition ends in it (the average is what `benches/convolver.rs`
//! measures); [`MAX_PARTITION_FRAMES`] bounds that peak.
//!
//! # Contract, and the tests that enforce it (`tests/convolver.rs`)
//! - Output equals the linear convolution computed in f64, within 1e-5 of the
//!   output's peak, for IRs of 1 to 40 000 taps and any mix of call sizes;
//!   output does not depend on call sizes; latency is 0; `reset` equals a
//!   fresh instance.
//! - IRs at 44.1 or 96 kHz keep their magnitude response (within 0.1 dB to
//!   0.8 × the lower Nyquist frequency) at 44.1, 48 and 96 kHz, with images
//!   and aliases removed.
//! - Every WAV format `hound` reads loads to the same IR within quantization;
//!   bad files give a [`NodeError::Audio`] naming the file.
//! - `process`, `reset` and `set_param` never allocate.
//! - `mix` 0 passes the input exactly; `mix` and `level_db` ramp without jumps.

mod ir;
mod partitioned;

use std::path::Path;

use self::partitioned::Partitioned;
pub use self::partitioned::{HEAD_FRAMES, MAX_PARTITION_FRAMES};
use super::wav::{self, WavChannel};
use crate::node::{Node, NodeError, ParamSpec, ProcessSpec};
use crate::param::{db_to_gain, Smoothed, RAMP_MS};

/// Longest impulse response accepted, in seconds at the IR's own rate.
pub const MAX_IR_SECONDS: f64 = 10.0;

/// Largest input magnitude convolved; beyond is a fault and is clamped.
const INPUT_LIMIT: f32 = 1.0e6;

/// Parameter indices of [`Convolver`].
pub mod param {
    /// Dry/wet balance: 0 dry only, 1 wet only.
    pub const MIX: usize = 0;
    /// Level of the convolved (wet) signal, in dB.
    pub const LEVEL_DB: usize = 1;
}

const PARAMS: [ParamSpec; 2] = [
    ParamSpec {
        name: "mix",
        min: 0.0,
        max: 1.0,
        default: 1.0,
    },
    ParamSpec {
        name: "level_db",
        min: -40.0,
        max: 20.0,
        default: 0.0,
    },
];

/// Settings of a [`Convolver`]. `mix` and `level_db` are the parameters'
/// initial values (clamped to their ranges).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvolverSettings {
    /// Scale the IR so that its magnitude response has an RMS of 0 dB between
    /// 20 Hz and 20 kHz (or 0.45 × its rate, if lower). IRs that are silent in
    /// that band (below −120 dB) are refused. Default: off.
    pub normalize: bool,
    /// Dry/wet balance, 0 to 1. Default 1 (wet only).
    pub mix: f32,
    /// Level of the wet signal in dB, −40 to +20. Default 0.
    pub level_db: f32,
}

impl Default for ConvolverSettings {
    fn default() -> Self {
        Self {
            normalize: false,
            mix: PARAMS[param::MIX].default,
            level_db: PARAMS[param::LEVEL_DB].default,
        }
    }
}

/// Convolution with an impulse response. Mono; no latency. See the
/// [module documentation](self).
pub struct Convolver {
    /// The file the IR came from, for errors; `None` for samples.
    path: Option<String>,
    /// The IR at its own rate (normalized if asked).
    ir: Vec<f32>,
    ir_rate_hz: f64,
    mix: Smoothed,
    level: Smoothed,
    partitioned: Partitioned,
    /// Sanitized input of the current call.
    dry: Vec<f32>,
    /// Convolved input of the current call.
    wet: Vec<f32>,
}

impl Convolver {
    /// Loads the first channel of the WAV file at `path` (8/16/24/32-bit
    /// integer or 32-bit float; in a stereo or multichannel file, only
    /// channel 0 is used). Empty files, files longer than [`MAX_IR_SECONDS`]
    /// and files with NaN or infinite samples are refused with a
    /// [`NodeError::Audio`] naming the file. Off the audio thread.
    pub fn from_wav(
        path: impl AsRef<Path>,
        settings: ConvolverSettings,
    ) -> Result<Self, NodeError> {
        let path = path.as_ref();
        let channel = wav::read_first_channel(path, MAX_IR_SECONDS)?;
        Self::build(
            Some(path.display().to_string()),
            channel.samples,
            channel.sample_rate_hz,
            settings,
        )
    }

    /// Uses the first channel of the WAV file at `path`, already read (e.g.
    /// kept by a [`crate::files::FileCache`]); the same checks and errors as
    /// [`Convolver::from_wav`]. Off the audio thread.
    pub fn from_wav_channel(
        path: &Path,
        channel: &WavChannel,
        settings: ConvolverSettings,
    ) -> Result<Self, NodeError> {
        Self::build(
            Some(path.display().to_string()),
            channel.samples.clone(),
            channel.sample_rate_hz,
            settings,
        )
    }

    /// Uses `ir`, recorded at `ir_rate_hz`. The same checks as
    /// [`Convolver::from_wav`], reported as [`NodeError::Invalid`]. Off the
    /// audio thread.
    pub fn from_samples(
        ir: Vec<f32>,
        ir_rate_hz: f64,
        settings: ConvolverSettings,
    ) -> Result<Self, NodeError> {
        Self::build(None, ir, ir_rate_hz, settings)
    }

    fn build(
        path: Option<String>,
        mut ir: Vec<f32>,
        ir_rate_hz: f64,
        settings: ConvolverSettings,
    ) -> Result<Self, NodeError> {
        let error = |message: String| error_for(path.as_deref(), message);
        ir::check(&ir, ir_rate_hz).map_err(error)?;
        if settings.normalize {
            ir::normalize(&mut ir, ir_rate_hz).map_err(error)?;
        }
        let mix = PARAMS[param::MIX].clamp(settings.mix);
        let level_db = PARAMS[param::LEVEL_DB].clamp(settings.level_db);
        Ok(Self {
            path,
            ir,
            ir_rate_hz,
            mix: Smoothed::new(mix),
            level: Smoothed::new(db_to_gain(level_db)),
            partitioned: Partitioned::default(),
            dry: Vec::new(),
            wet: Vec::new(),
        })
    }

    /// The impulse response at its own rate (after normalization, if set).
    pub fn impulse_response(&self) -> &[f32] {
        &self.ir
    }

    /// The impulse response's own sample rate.
    pub fn impulse_response_rate_hz(&self) -> f64 {
        self.ir_rate_hz
    }

    fn error(&self, message: String) -> NodeError {
        error_for(self.path.as_deref(), message)
    }
}

/// A [`NodeError::Audio`] naming the file, or a [`NodeError::Invalid`] for an
/// IR given as samples.
fn error_for(path: Option<&str>, message: String) -> NodeError {
    match path {
        Some(path) => NodeError::Audio {
            path: path.to_owned(),
            message,
        },
        None => NodeError::Invalid(format!("impulse response: {message}")),
    }
}

impl Node for Convolver {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError> {
        let rate = spec.sample_rate_hz;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(self.error(format!("cannot run at a sample rate of {rate} Hz")));
        }
        let ir = ir::at_rate(&self.ir, self.ir_rate_hz, rate).map_err(|e| self.error(e))?;
        let partitioned = Partitioned::new(&ir, spec.max_block_frames)
            .map_err(|e| self.error(format!("FFT planning failed: {e}")))?;
        self.partitioned = partitioned;
        self.dry = vec![0.0; spec.max_block_frames];
        self.wet = vec![0.0; spec.max_block_frames];
        self.mix.set_ramp(rate, RAMP_MS);
        self.level.set_ramp(rate, RAMP_MS);
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.partitioned.reset();
        self.mix.snap();
        self.level.snap();
    }

    fn snap_params(&mut self) {
        self.mix.snap();
        self.level.snap();
    }

    fn params(&self) -> &[ParamSpec] {
        &PARAMS
    }

    fn set_param(&mut self, index: usize, value: f32) {
        let Some(spec) = PARAMS.get(index) else {
            return;
        };
        let value = spec.clamp(value);
        match index {
            param::MIX => self.mix.set_target(value),
            param::LEVEL_DB => self.level.set_target(db_to_gain(value)),
            _ => {}
        }
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let (Some(input), Some(output)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        let frames = frames
            .min(self.dry.len())
            .min(input.len())
            .min(output.len());
        let dry = &mut self.dry[..frames];
        for (d, &x) in dry.iter_mut().zip(input.iter()) {
            *d = if x.is_finite() {
                x.clamp(-INPUT_LIMIT, INPUT_LIMIT)
            } else {
                0.0
            };
        }
        let wet = &mut self.wet[..frames];
        self.partitioned.process(dry, wet);

        let output = &mut output[..frames];
        if self.mix.is_ramping() || self.level.is_ramping() {
            for ((y, &d), &w) in output.iter_mut().zip(dry.iter()).zip(wet.iter()) {
                let mix = self.mix.next_value();
                let level = self.level.next_value();
                *y = (1.0 - mix) * d + mix * level * w;
            }
        } else {
            let mix = self.mix.target();
            let (dry_gain, wet_gain) = (1.0 - mix, mix * self.level.target());
            for ((y, &d), &w) in output.iter_mut().zip(dry.iter()).zip(wet.iter()) {
                *y = dry_gain * d + wet_gain * w;
            }
        }
    }
}
