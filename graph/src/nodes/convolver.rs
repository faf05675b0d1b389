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
//! Read from an audio file ([`Convolver::from_wav`]: WAV, FLAC or AIFF,
//! first channel only, by [`crate::audio_file`]) or given
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
//! - Every WAV, FLAC and AIFF format loads to the same IR within
//!   quantization; bad files give a [`NodeError::AudioFile`] naming the file.
//! - `process`, `reset` and `set_param` never allocate.
//! - `mix` 0 passes the input exactly; `mix` and `level_db` ramp without jumps.

use std::path::Path;
use std::sync::Arc;

use nam_kernel::kernels::{ConvShape, Kernels, Output};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, FftError, RealFftPlanner, RealToComplex};

use super::resampler::kaiser_sinc;
use crate::audio_file::{self, AudioChannel, Limits};
use crate::node::{Node, NodeError, ParamSpec, ProcessSpec};
use crate::param::{db_to_gain, Smoothed, RAMP_MS};

/// Longest impulse response accepted, in seconds at the IR's own rate.
pub const MAX_IR_SECONDS: f64 = 10.0;

/// Taps convolved directly, and the smallest FFT partition (a power of two).
pub const HEAD_FRAMES: usize = 32;

/// Largest FFT partition: `HEAD_FRAMES` times a power of 8 (the growth
/// between stages). It bounds the work of the one call that completes a
/// partition: with 2048, a 1 s cabinet IR costs one 4096-point FFT pair and
/// 23 partitions' multiply-adds in that call (about 30 µs on a desktop CPU,
/// a fraction of a 128-frame period on a Cortex-A35), where 16384 would put a
/// 32768-point FFT pair in one call. Longer partitions would lower the
/// average cost of very long IRs, at the price of periodic spikes.
pub const MAX_PARTITION_FRAMES: usize = 2_048;

/// Factor between the partition sizes of consecutive stages (a power of two).
const PARTITION_GROWTH: usize = 8;

/// Cost of a stage's pair of FFTs per sample, per doubling of the partition
/// size, in units of the cost of one partition's complex multiply-add per
/// sample (fitted to the benchmark).
const FFT_COST_PER_OCTAVE: f64 = 1.0;

/// Largest input magnitude convolved; beyond is a fault and is clamped.
const INPUT_LIMIT: f32 = 1.0e6;

/// Largest sum of the prepared IR's magnitudes (its largest possible gain,
/// +180 dB): with [`INPUT_LIMIT`] it bounds every value the convolution
/// computes far below `f32::MAX`.
const IR_GAIN_LIMIT: f64 = 1.0e9;

/// Band over which [`ConvolverSettings::normalize`] measures the response.
const NORMALIZE_BAND_HZ: (f64, f64) = (20.0, 20_000.0);

/// Band RMS below which an IR counts as silent and is not normalized (−120 dB).
const NORMALIZE_FLOOR: f64 = 1.0e-6;

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
    /// Loads the first channel of the audio file at `path` (WAV, FLAC or
    /// AIFF, read by [`crate::audio_file`]; in a stereo or multichannel file,
    /// only channel 0 is used). Unreadable files, empty files, files longer
    /// than [`MAX_IR_SECONDS`] and files with NaN or infinite samples are
    /// refused with a [`NodeError::AudioFile`] naming the file. Off the audio
    /// thread.
    pub fn from_wav(
        path: impl AsRef<Path>,
        settings: ConvolverSettings,
    ) -> Result<Self, NodeError> {
        let path = path.as_ref();
        let channel = audio_file::read_first_channel(path, &Limits::IMPULSE_RESPONSE)?;
        Self::build(
            Some(path.display().to_string()),
            channel.samples,
            channel.sample_rate_hz,
            settings,
        )
    }

    /// Uses the first channel of the audio file at `path`, already read (e.g.
    /// kept by a [`crate::files::FileCache`]); the same checks and errors as
    /// [`Convolver::from_wav`]. Off the audio thread.
    pub fn from_wav_channel(
        path: &Path,
        channel: &AudioChannel,
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
        check_ir(&ir, ir_rate_hz).map_err(error)?;
        if settings.normalize {
            normalize(&mut ir, ir_rate_hz).map_err(error)?;
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
        let resampled;
        let ir = if (rate - self.ir_rate_hz).abs() <= 1e-9 * rate {
            &self.ir
        } else {
            resampled = resample(&self.ir, self.ir_rate_hz, rate)
                .map_err(|e| self.error(format!("resampling failed: {e}")))?;
            &resampled
        };
        let gain: f64 = ir.iter().map(|&h| f64::from(h.abs())).sum();
        if gain > IR_GAIN_LIMIT {
            return Err(self.error(format!(
                "the sum of the IR's magnitudes is {gain:e}, above the limit of {IR_GAIN_LIMIT:e}"
            )));
        }
        let partitioned = Partitioned::new(ir, spec.max_block_frames)
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

/// Refuses empty, too long or non-finite IRs and bad rates.
fn check_ir(ir: &[f32], rate_hz: f64) -> Result<(), String> {
    if !(rate_hz.is_finite() && rate_hz > 0.0) {
        return Err(format!("the sample rate {rate_hz} Hz is not positive"));
    }
    if ir.is_empty() {
        return Err("the impulse response has no samples".into());
    }
    if ir.len() as f64 > MAX_IR_SECONDS * rate_hz {
        return Err(format!(
            "{} samples at {rate_hz} Hz is longer than the {MAX_IR_SECONDS} s limit",
            ir.len()
        ));
    }
    if let Some(i) = ir.iter().position(|h| !h.is_finite()) {
        return Err(format!("sample {i} is {} (not finite)", ir[i]));
    }
    Ok(())
}

/// Scales `ir` so that its magnitude response has an RMS of 1 over
/// [`NORMALIZE_BAND_HZ`] (capped at 0.45 × `rate_hz`).
fn normalize(ir: &mut [f32], rate_hz: f64) -> Result<(), String> {
    // Zero-padding to at least twice the length samples the response finely
    // enough for the band average; 2^14 bins keep short IRs' average smooth.
    let len = (2 * ir.len()).next_power_of_two().max(1 << 14);
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(len);
    let mut time = vec![0.0; len];
    for (t, &h) in time.iter_mut().zip(ir.iter()) {
        *t = f64::from(h);
    }
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut time, &mut spectrum)
        .map_err(|e| format!("FFT failed: {e}"))?;
    let (low, high) = (NORMALIZE_BAND_HZ.0, NORMALIZE_BAND_HZ.1.min(0.45 * rate_hz));
    let bin_hz = rate_hz / len as f64;
    let (sum, count) = spectrum
        .iter()
        .enumerate()
        .filter(|&(i, _)| (low..=high).contains(&(i as f64 * bin_hz)))
        .fold((0.0, 0usize), |(sum, count), (_, bin)| {
            (sum + bin.norm_sqr(), count + 1)
        });
    if count == 0 {
        return Err(format!(
            "cannot normalize: at {rate_hz} Hz the IR has no band from {low} Hz to {high} Hz"
        ));
    }
    let rms = (sum / count as f64).sqrt();
    if rms <= NORMALIZE_FLOOR {
        return Err(format!(
            "cannot normalize: the IR is silent from {low} Hz to {high} Hz ({:.1} dB)",
            20.0 * rms.log10()
        ));
    }
    let gain = (1.0 / rms) as f32;
    ir.iter_mut().for_each(|h| *h *= gain);
    Ok(())
}

// ---------------------------------------------------------------------------
// Resampling

/// Length of the band-limiting kernel, in samples of the lower rate.
const KERNEL_SPAN: usize = 80;

/// Kernel table points per sample of the lower rate (linear interpolation
/// between them is exact to about 1e-5).
const KERNEL_OVERSAMPLING: usize = 128;

/// Cutoff of the kernel, as a fraction of the lower rate (0.46: 0.92 × its
/// Nyquist frequency). With the Kaiser window below, the passband is flat to
/// 0.42 and the stopband (−100 dB) starts at 0.5.
const KERNEL_CUTOFF: f64 = 0.46;

/// Kaiser window shape: about 100 dB of stopband attenuation.
const KAISER_BETA: f64 = 10.0;

/// Smallest magnitude taken into the cepstrum (−200 dB), so the logarithm of
/// the stopband's zeros stays finite.
const CEPSTRUM_FLOOR: f64 = 1.0e-10;

/// The cepstrum's FFT is this many times the kernel's length (rounded up to a
/// power of two), so the cepstrum does not alias.
const CEPSTRUM_PADDING: usize = 16;

/// Resamples `ir` from `from_hz` to `to_hz`, keeping its frequency response
/// (samples scaled by `from_hz / to_hz`) below the kernel's cutoff. Output
/// sample `n` is at time `n / to_hz`, input sample `k` at `k / from_hz`; the
/// causal kernel spreads each input sample over the following
/// [`KERNEL_SPAN`] samples of the lower rate, all kept.
fn resample(ir: &[f32], from_hz: f64, to_hz: f64) -> Result<Vec<f32>, FftError> {
    let kernel = resampling_kernel()?;
    let lower = from_hz.min(to_hz);
    // Input samples per output sample, and kernel units per input sample.
    let ratio = from_hz / to_hz;
    let unit = lower / from_hz;
    let support = KERNEL_SPAN as f64 / unit;
    let last = ir.len().saturating_sub(1);
    let frames = ((last as f64 + support) / ratio).ceil() as usize + 1;
    // Each output sample sums `to_hz / lower` outputs' worth of input per
    // kernel unit; scaling by `lower / to_hz` keeps the response's magnitude.
    let gain = lower / to_hz;
    let mut out = Vec::with_capacity(frames);
    for n in 0..frames {
        let position = n as f64 * ratio;
        let newest = (position.floor() as usize).min(last);
        let oldest = (position - support).ceil().max(0.0) as usize;
        let mut sum = 0.0;
        for (k, &h) in ir.iter().enumerate().take(newest + 1).skip(oldest) {
            sum += f64::from(h) * kernel_at(&kernel, (position - k as f64) * unit);
        }
        out.push((sum * gain) as f32);
    }
    Ok(out)
}

/// The kernel at `u` samples of the lower rate, interpolated linearly from the
/// table; zero outside it.
fn kernel_at(table: &[f64], u: f64) -> f64 {
    let position = u.max(0.0) * KERNEL_OVERSAMPLING as f64;
    let i = position as usize;
    match (table.get(i), table.get(i + 1)) {
        (Some(&a), Some(&b)) => a + (b - a) * (position - i as f64),
        _ => 0.0,
    }
}

/// The minimum-phase band-limiting kernel, sampled [`KERNEL_OVERSAMPLING`]
/// times per sample of the lower rate, with unit area (unit gain at DC), and a
/// trailing zero for interpolation.
fn resampling_kernel() -> Result<Vec<f64>, FftError> {
    let points = KERNEL_SPAN * KERNEL_OVERSAMPLING;
    let center = points as f64 / 2.0;
    let q = KERNEL_OVERSAMPLING as f64;
    let prototype: Vec<f64> = (0..=points)
        .map(|i| {
            let u = (i as f64 - center) / q;
            let r = (i as f64 - center) / center;
            kaiser_sinc(u, r, KERNEL_CUTOFF, KAISER_BETA)
        })
        .collect();
    let mut kernel = minimum_phase(&prototype)?;
    let area: f64 = kernel.iter().sum::<f64>() / q;
    kernel.iter_mut().for_each(|k| *k /= area);
    kernel.push(0.0);
    Ok(kernel)
}

/// The minimum-phase sequence with the magnitude response of `x`, as long as
/// `x` (homomorphic method: fold the real cepstrum onto positive quefrencies).
fn minimum_phase(x: &[f64]) -> Result<Vec<f64>, FftError> {
    let len = (x.len() * CEPSTRUM_PADDING).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let mut time = vec![0.0; len];
    time[..x.len()].copy_from_slice(x);
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut time, &mut spectrum)?;
    for bin in spectrum.iter_mut() {
        *bin = Complex::new(bin.norm().max(CEPSTRUM_FLOOR).ln(), 0.0);
    }
    inverse.process(&mut spectrum, &mut time)?;
    let scale = 1.0 / len as f64;
    let half = len / 2;
    time[0] *= scale;
    time[1..half].iter_mut().for_each(|c| *c *= 2.0 * scale);
    time[half] *= scale;
    time[half + 1..].fill(0.0);
    forward.process(&mut time, &mut spectrum)?;
    for bin in spectrum.iter_mut() {
        *bin = bin.exp();
    }
    // The DC and Nyquist bins of a real signal's spectrum are real.
    if let Some(first) = spectrum.first_mut() {
        first.im = 0.0;
    }
    if let Some(last) = spectrum.last_mut() {
        last.im = 0.0;
    }
    inverse.process(&mut spectrum, &mut time)?;
    Ok(time[..x.len()].iter().map(|v| v * scale).collect())
}

// ---------------------------------------------------------------------------
// Partitioned convolution

/// The zero-latency partitioned convolution: a directly convolved head plus FFT
/// stages (see the module documentation). Empty until built in `prepare`.
#[derive(Default)]
struct Partitioned {
    kernels: Option<&'static Kernels>,
    /// The head's taps, reversed (the last multiplies the newest input).
    head: Vec<f32>,
    /// `head.len() - 1` past input frames, then room for a block.
    history: Vec<f32>,
    stages: Vec<Stage>,
    /// Input frames since the start, modulo the largest stage's partition.
    position: usize,
    /// The largest stage's partition (every stage's block ends at its
    /// multiples).
    period: usize,
}

impl Partitioned {
    /// Splits `ir` into the head and stages, for calls of up to `max_frames`.
    fn new(ir: &[f32], max_frames: usize) -> Result<Self, FftError> {
        let head_len = ir.len().min(HEAD_FRAMES);
        let mut planner = RealFftPlanner::<f32>::new();
        let mut stages = Vec::new();
        let mut start = HEAD_FRAMES;
        let mut size = HEAD_FRAMES;
        while start < ir.len() {
            // A stage of partition `size` starts at tap `size`. It stops where
            // the next, larger one could start if that is cheaper than taking
            // the rest of the IR in partitions of this size.
            let next = size * PARTITION_GROWTH;
            let end = if next <= MAX_PARTITION_FRAMES && cheaper_to_grow(size, ir.len()) {
                next
            } else {
                ir.len()
            };
            stages.push(Stage::new(&ir[start..end], size, &mut planner)?);
            start = end;
            size = next;
        }
        let period = stages.last().map_or(HEAD_FRAMES, |stage| stage.size);
        Ok(Self {
            kernels: Some(Kernels::detect()),
            head: ir[..head_len].iter().rev().copied().collect(),
            history: vec![0.0; head_len.saturating_sub(1) + max_frames],
            stages,
            position: 0,
            period,
        })
    }

    /// Clears all input history.
    fn reset(&mut self) {
        self.history.fill(0.0);
        self.stages.iter_mut().for_each(Stage::reset);
        self.position = 0;
    }

    /// `output = ir ∗ input`, continuing from the previous call. Frames beyond
    /// the prepared block size are left at zero (callers never pass them).
    fn process(&mut self, input: &[f32], output: &mut [f32]) {
        output.fill(0.0);
        let taps = self.head.len();
        let Some(kernels) = self.kernels else {
            return;
        };
        let frames = input.len().min(output.len());
        if taps == 0 || taps - 1 + frames > self.history.len() {
            return;
        }
        let output = &mut output[..frames];
        let input = &input[..frames];

        let mut done = 0;
        while done < frames && !self.stages.is_empty() {
            let len = (HEAD_FRAMES - self.position % HEAD_FRAMES).min(frames - done);
            for stage in &mut self.stages {
                stage.push(
                    self.position,
                    &input[done..done + len],
                    &mut output[done..done + len],
                );
            }
            done += len;
            self.position = (self.position + len) % self.period;
            if self.position.is_multiple_of(HEAD_FRAMES) {
                for stage in &mut self.stages {
                    if self.position.is_multiple_of(stage.size) {
                        stage.advance();
                    }
                }
            }
        }

        let history = &mut self.history[..taps - 1 + frames];
        history[taps - 1..].copy_from_slice(input);
        let shape = ConvShape {
            frames,
            taps,
            dilation: 1,
            cout: 1,
            cin_per_group: 1,
            groups: 1,
            in_stride: history.len(),
            first: 0,
            out_stride: frames,
        };
        (kernels.conv)(
            &shape,
            &self.head,
            None,
            Output::Accumulate,
            history,
            output,
        );
        history.copy_within(frames.., 0);
    }
}

/// Estimated cost per sample of a stage of `partitions` partitions of `size`
/// frames, in units of one partition's complex multiply-add.
fn stage_cost(size: usize, partitions: usize) -> f64 {
    FFT_COST_PER_OCTAVE * f64::from((2 * size).ilog2()) + partitions as f64
}

/// Whether the stage of partition `size` (starting at tap `size`) should stop
/// at `size · PARTITION_GROWTH` and let a stage of that partition take the
/// rest of an IR of `len` taps.
fn cheaper_to_grow(size: usize, len: usize) -> bool {
    let next = size * PARTITION_GROWTH;
    if len <= next {
        return false;
    }
    let alone = stage_cost(size, (len - size).div_ceil(size));
    let grown =
        stage_cost(size, PARTITION_GROWTH - 1) + stage_cost(next, (len - next).div_ceil(next));
    grown < alone
}

/// Uniformly partitioned overlap-save convolution of the taps
/// `size..size + partitions · size` of the IR, whose output for a block of
/// `size` frames is ready when the block before it is complete.
struct Stage {
    /// Partition size `P` (a power of two); FFTs are `2P` long.
    size: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Spectra of the partitions (`P + 1` bins each), scaled by `1 / 2P`.
    filters: Vec<Complex<f32>>,
    /// Spectra of the latest input blocks, one per partition, a ring.
    spectra: Vec<Complex<f32>>,
    /// Ring slot of the newest input spectrum.
    newest: usize,
    /// The previous input block, then the current one (filling).
    input: Vec<f32>,
    /// FFT input and output (the FFTs use their input as scratch).
    time: Vec<f32>,
    /// Sum of the products of input and filter spectra.
    sum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// This stage's output for the current block.
    output: Vec<f32>,
}

impl Stage {
    fn new(taps: &[f32], size: usize, planner: &mut RealFftPlanner<f32>) -> Result<Self, FftError> {
        let bins = size + 1;
        let partitions = taps.len().div_ceil(size);
        let forward = planner.plan_fft_forward(2 * size);
        let inverse = planner.plan_fft_inverse(2 * size);
        let mut scratch =
            vec![Complex::default(); forward.get_scratch_len().max(inverse.get_scratch_len())];
        let mut time = vec![0.0; 2 * size];
        let mut filters = vec![Complex::default(); partitions * bins];
        let scale = 1.0 / (2 * size) as f32;
        for (part, filter) in taps.chunks(size).zip(filters.chunks_exact_mut(bins)) {
            time.fill(0.0);
            for (t, &h) in time.iter_mut().zip(part) {
                *t = h * scale;
            }
            forward.process_with_scratch(&mut time, filter, &mut scratch)?;
        }
        Ok(Self {
            size,
            forward,
            inverse,
            filters,
            spectra: vec![Complex::default(); partitions * bins],
            newest: 0,
            input: vec![0.0; 2 * size],
            time,
            sum: vec![Complex::default(); bins],
            scratch,
            output: vec![0.0; size],
        })
    }

    fn reset(&mut self) {
        self.spectra.fill(Complex::default());
        self.newest = 0;
        self.input.fill(0.0);
        self.output.fill(0.0);
    }

    /// Takes `input` at frame `position` (modulo the block) and adds this
    /// stage's output for those frames to `output`. The frames must not cross
    /// the end of the block.
    fn push(&mut self, position: usize, input: &[f32], output: &mut [f32]) {
        let at = position % self.size;
        let len = input.len().min(output.len()).min(self.size - at);
        self.input[self.size + at..][..len].copy_from_slice(&input[..len]);
        for (y, &s) in output[..len].iter_mut().zip(&self.output[at..at + len]) {
            *y += s;
        }
    }

    /// The block is complete: transforms it and computes the output of the
    /// next block.
    fn advance(&mut self) {
        let bins = self.size + 1;
        let partitions = self.filters.len() / bins;
        if partitions == 0 {
            return;
        }
        self.newest = (self.newest + 1) % partitions;
        self.time.copy_from_slice(&self.input);
        let newest = &mut self.spectra[self.newest * bins..][..bins];
        let transformed =
            self.forward
                .process_with_scratch(&mut self.time, newest, &mut self.scratch);
        debug_assert!(transformed.is_ok(), "forward FFT: {transformed:?}");
        self.input.copy_within(self.size.., 0);

        self.sum.fill(Complex::default());
        for (i, filter) in self.filters.chunks_exact(bins).enumerate() {
            let slot = (self.newest + partitions - i) % partitions;
            let spectrum = &self.spectra[slot * bins..][..bins];
            for ((s, x), h) in self.sum.iter_mut().zip(spectrum).zip(filter) {
                s.re += x.re * h.re - x.im * h.im;
                s.im += x.re * h.im + x.im * h.re;
            }
        }
        let transformed =
            self.inverse
                .process_with_scratch(&mut self.sum, &mut self.time, &mut self.scratch);
        debug_assert!(transformed.is_ok(), "inverse FFT: {transformed:?}");
        self.output.copy_from_slice(&self.time[self.size..]);
    }
}
