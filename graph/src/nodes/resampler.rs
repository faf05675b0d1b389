//! Sample-rate conversion: a streaming band-limited [`Resampler`], and the
//! [`ResampledNode`] that runs a node at its own rate (a NAM model trained at
//! 48 kHz, say) inside a graph running at another.
//!
//! # The resampler
//! A polyphase Kaiser-windowed sinc interpolator, written here rather than
//! taken from `rubato` for three reasons: it works sample by sample, so an
//! output frame is produced as soon as the input it needs has arrived (rubato
//! works in chunks, which adds up to a chunk of latency); its delay is exact
//! and can be set to a fraction of a frame, which lets [`ResampledNode`] make
//! its total latency a whole number of frames, so the graph's latency
//! compensation aligns it exactly; and its output does not depend on how the
//! input is split into calls, bit for bit.
//!
//! The ratio `from_rate_hz : to_rate_hz` is reduced to a fraction `p : q`
//! (input frames : output frames), exact for integer rates whose reduced terms
//! are at most [`MAX_RATIO_TERM`] (every common pair: 44.1 : 48 kHz is
//! 147 : 160, 192 : 44.1 kHz is 640 : 147). Other rates use the closest
//! continued-fraction convergent whose terms fit; the conversion then runs at
//! that ratio ([`Resampler::ratio`] reports it). Output frame `n` sits at
//! input position `n·p/q`, one of `q` phases, each with its own precomputed row
//! of taps, so each output frame costs one dot product (the rows' cost in
//! memory is `q × taps` floats).
//!
//! The kernel is defined on the *lower* of the two rates: a sinc with its
//! cutoff at 0.45 × that rate (0.9 × its Nyquist frequency), windowed by a
//! Kaiser window (β = 7.5) [`KERNEL_SPAN`] = 48 samples of the lower rate
//! long. Its response, by design and as the module's unit tests measure it:
//! flat within ±0.002 dB up to 0.8 × the lower Nyquist frequency, at least
//! 75 dB down from that Nyquist frequency on, so nothing above it aliases or
//! images into the band. It is symmetric, so the conversion is linear-phase:
//! a pure delay of 24 samples of the lower rate (0.50 ms at 48 kHz, 0.54 ms
//! at 44.1 kHz), plus any extra delay asked for. Each row is normalized to a
//! sum of exactly 1, so a constant passes unchanged.
//!
//! # The resampled node
//! [`ResampledNode`] owns an inner node and runs it at `inner_rate_hz`:
//! graph-rate input → [`Resampler`] to the inner rate → inner node → a second
//! [`Resampler`] back → graph-rate output. Each `process` call converts its
//! input, runs the inner node on whatever inner frames that produced (about
//! `frames × inner/graph`, one more or fewer), converts them back and returns
//! the oldest `frames` of the result. Because each conversion produces a frame
//! as soon as its input is complete, output frame `n` is always ready once
//! input frame `n` has arrived: the small first-in first-out buffer between
//! the back conversion and the output never runs dry and needs no priming.
//!
//! Latency, in graph frames ([`Node::latency_frames`]): both conversions'
//! delays, `48 × max(1, graph/inner)`, plus the inner node's own latency
//! scaled to the graph rate, rounded *up* to a whole frame; the back
//! conversion adds the fraction so the total is exact. With a zero-latency
//! inner node:
//!
//! | graph rate | inner rate | latency |
//! | --- | --- | --- |
//! | 44.1 kHz | 48 kHz | 48 frames (1.09 ms) |
//! | 48 kHz | 44.1 kHz | 53 frames (1.10 ms) |
//! | 88.2 kHz | 48 kHz | 89 frames (1.01 ms) |
//! | 96 kHz | 48 kHz | 96 frames (1.00 ms) |
//! | 192 kHz | 48 kHz | 192 frames (1.00 ms) |
//! | 32 kHz | 48 kHz | 48 frames (1.50 ms) |
//! | 22.05 kHz | 48 kHz | 48 frames (2.18 ms) |
//!
//! The kernel's length is the trade: a shorter one lowers the latency but
//! lets more alias through (40 samples: about 58 dB down).
//!
//! The inner node's parameters are the node's parameters ([`Node::params`],
//! [`Node::set_param`] pass straight through).
//!
//! When the two rates are equal the conversion is pointless: the graph must
//! not wrap such a node ([`needs_resampling`] says whether to). If it does
//! anyway, the node passes straight through to the inner node, adding
//! nothing.
//!
//! # Contract, and the tests that enforce it (`tests/resampler.rs`)
//! - A round trip (graph → inner → graph with an identity inner node) is flat
//!   within ±0.1 dB up to 0.8 × the lower Nyquist frequency and, delayed by
//!   the reported latency, matches its input with an error below −60 dB, for
//!   nine pairs of rates from 22.05 to 192 kHz; every pair of 22.05, 32,
//!   44.1, 48, 88.2, 96 and 192 kHz (and 47 999.5 Hz) round-trips a 1 kHz
//!   tone with an error below −60 dB.
//! - Dry and resampled branches mixed in a graph add up in phase.
//! - Tones above the lower Nyquist frequency (23 kHz at 48 kHz through
//!   44.1 kHz) come out more than 60 dB down, aliases included.
//! - The impulse response's peak lands at the reported latency, also with a
//!   latent inner node.
//! - Output does not depend on call sizes; `reset` equals a fresh instance.
//! - `process`, `reset` and `set_param` never allocate.

use super::sinc::kaiser_sinc;
use crate::node::{Node, NodeError, NodeWarning, ParamSpec, ProcessSpec};

/// Length of the interpolation kernel, in samples of the lower rate (even).
pub const KERNEL_SPAN: usize = 48;

/// Largest term of the reduced ratio `p : q` (also the most phases, hence
/// rows, a conversion keeps).
pub const MAX_RATIO_TERM: u32 = 4096;

/// Largest ratio between the two rates, either way.
pub const MAX_RATE_RATIO: f64 = 64.0;

/// Kernel cutoff, as a fraction of the lower rate (0.9 × its Nyquist
/// frequency: the middle of the transition band from 0.4 to 0.5).
const KERNEL_CUTOFF: f64 = 0.45;

/// Kaiser window shape: with [`KERNEL_SPAN`] and [`KERNEL_CUTOFF`], about
/// 76 dB of attenuation from 0.5 × the lower rate on.
const KAISER_BETA: f64 = 7.5;

/// Input frames a conversion takes at a time (bounds its history buffer).
const CHUNK_FRAMES: usize = 256;

/// Lanes of the dot product; rows are padded to a multiple of this.
const LANES: usize = 8;

/// Whether a node running at `inner_rate_hz` needs wrapping in a
/// [`ResampledNode`] in a graph at `graph_rate_hz`: false only when the rates
/// are equal (or so close that their ratio reduces to 1 : 1). Rates no
/// conversion can handle also answer true, so that the wrapper's
/// construction or `prepare` reports why.
pub fn needs_resampling(graph_rate_hz: f64, inner_rate_hz: f64) -> bool {
    frame_ratio(graph_rate_hz, inner_rate_hz) != Ok((1, 1))
}

/// The ratio `from_rate_hz : to_rate_hz` as `(p, q)`, input frames per `q`
/// output frames, both at most [`MAX_RATIO_TERM`] (see the module
/// documentation).
fn frame_ratio(from_rate_hz: f64, to_rate_hz: f64) -> Result<(u32, u32), String> {
    for rate in [from_rate_hz, to_rate_hz] {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!("cannot resample at a rate of {rate} Hz"));
        }
    }
    let x = from_rate_hz / to_rate_hz;
    if !(1.0 / MAX_RATE_RATIO..=MAX_RATE_RATIO).contains(&x) {
        return Err(format!(
            "cannot resample from {from_rate_hz} Hz to {to_rate_hz} Hz: the ratio is beyond {MAX_RATE_RATIO}"
        ));
    }
    let max = u64::from(MAX_RATIO_TERM);
    if from_rate_hz.fract() == 0.0 && to_rate_hz.fract() == 0.0 {
        // Below 2^53, so the conversions are exact.
        let (a, b) = (from_rate_hz as u64, to_rate_hz as u64);
        let g = gcd(a, b);
        if a / g <= max && b / g <= max {
            return Ok(((a / g) as u32, (b / g) as u32));
        }
    }
    // Continued-fraction convergents h/k of x, keeping the last that fits.
    let (mut h0, mut h1) = (0_u64, 1_u64);
    let (mut k0, mut k1) = (1_u64, 0_u64);
    let mut best = None;
    let mut rest = x;
    loop {
        let a = rest.floor();
        if a > max as f64 {
            break;
        }
        let (h, k) = (a as u64 * h1 + h0, a as u64 * k1 + k0);
        if h > max || k > max {
            break;
        }
        if h > 0 {
            best = Some((h as u32, k as u32));
        }
        (h0, h1, k0, k1) = (h1, h, k1, k);
        let fraction = rest - a;
        if fraction < 1e-12 {
            break;
        }
        rest = 1.0 / fraction;
    }
    best.ok_or_else(|| format!("cannot resample from {from_rate_hz} Hz to {to_rate_hz} Hz"))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A streaming mono sample-rate converter (see the module documentation).
///
/// Built off the audio thread; [`Resampler::process`] and
/// [`Resampler::reset`] never allocate.
#[derive(Clone, Debug)]
pub struct Resampler {
    /// Input frames per `q` output frames.
    p: usize,
    /// Output frames per `p` input frames, and the number of phases.
    q: usize,
    /// Taps per row (a multiple of [`LANES`]).
    taps: usize,
    /// `q` rows of `taps` weights; row `φ`'s weight `i` multiplies the input
    /// `taps - 1 - i` frames before the newest one an output at phase `φ`
    /// uses.
    rows: Vec<f32>,
    /// The delay, in input frames.
    delay_input_frames: f64,
    /// `taps - 1` past input frames, then room for a chunk.
    history: Vec<f32>,
    /// The newest input frame the next output uses, counted from the start
    /// of the current chunk.
    next: usize,
    /// The next output's phase, `0..q`.
    phase: usize,
}

impl Resampler {
    /// A converter from `from_rate_hz` to `to_rate_hz`, delaying by the
    /// kernel's half-length (see [`Resampler::delay_input_frames`]). Fails
    /// with [`NodeError::Invalid`] for rates that are not positive and finite
    /// or that differ by more than [`MAX_RATE_RATIO`]. Off the audio thread.
    pub fn new(from_rate_hz: f64, to_rate_hz: f64) -> Result<Self, NodeError> {
        Self::with_extra_delay(from_rate_hz, to_rate_hz, 0.0)
    }

    /// Like [`Resampler::new`], delaying by `extra_delay_input_frames` more
    /// (0 to [`MAX_RATE_RATIO`] frames, any fraction). Off the audio thread.
    pub fn with_extra_delay(
        from_rate_hz: f64,
        to_rate_hz: f64,
        extra_delay_input_frames: f64,
    ) -> Result<Self, NodeError> {
        let (p, q) = frame_ratio(from_rate_hz, to_rate_hz).map_err(NodeError::Invalid)?;
        Self::from_ratio(p, q, extra_delay_input_frames)
    }

    /// A converter taking `p` input frames to `q` output frames.
    fn from_ratio(p: u32, q: u32, extra_delay_input_frames: f64) -> Result<Self, NodeError> {
        let extra = extra_delay_input_frames;
        if !(extra.is_finite() && (0.0..=MAX_RATE_RATIO).contains(&extra)) {
            return Err(NodeError::Invalid(format!(
                "a resampler's extra delay must be from 0 to {MAX_RATE_RATIO} frames, not {extra}"
            )));
        }
        let (p, q) = (p as usize, q as usize);
        // Lower-rate samples per input frame.
        let scale = (q as f64 / p as f64).min(1.0);
        let span = KERNEL_SPAN as f64 / scale;
        let taps = ((span + extra).ceil() as usize)
            .max(1)
            .next_multiple_of(LANES);
        let mut rows = vec![0.0; q * taps];
        for (phase, row) in rows.chunks_exact_mut(taps).enumerate() {
            let weights: Vec<f64> = (0..taps)
                .map(|i| {
                    let distance = (taps - 1 - i) as f64 + phase as f64 / q as f64;
                    scale * kernel((distance - extra) * scale)
                })
                .collect();
            let sum: f64 = weights.iter().sum();
            for (r, w) in row.iter_mut().zip(&weights) {
                *r = (w / sum) as f32;
            }
        }
        Ok(Self {
            p,
            q,
            taps,
            rows,
            delay_input_frames: span / 2.0 + extra,
            history: vec![0.0; taps - 1 + CHUNK_FRAMES],
            next: 0,
            phase: 0,
        })
    }

    /// The conversion ratio `(p, q)`: `q` output frames for every `p` input
    /// frames, in lowest terms.
    pub fn ratio(&self) -> (u32, u32) {
        (self.p as u32, self.q as u32)
    }

    /// The delay, in input frames: output frame `n` is the band-limited input
    /// at input time `n·p/q − delay` (exact; linear phase).
    pub fn delay_input_frames(&self) -> f64 {
        self.delay_input_frames
    }

    /// The most output frames [`Resampler::process`] can produce from
    /// `input_frames` input frames, whatever came before.
    pub fn max_output_frames(&self, input_frames: usize) -> usize {
        (input_frames * self.q).div_ceil(self.p)
    }

    /// Converts `input`, continuing from the previous call, and returns how
    /// many frames it wrote to the start of `output`: every output frame whose
    /// input is now complete, so after `k` input frames in all, exactly
    /// `ceil(k·q/p)` output frames have come out. `output` must hold
    /// [`Resampler::max_output_frames`]`(input.len())` frames; any beyond its
    /// length are dropped (and debug builds assert). Audio thread;
    /// allocation-free.
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) -> usize {
        let (whole_step, part_step) = (self.p / self.q, self.p % self.q);
        let older = self.taps - 1;
        let mut written = 0;
        for chunk in input.chunks(CHUNK_FRAMES) {
            let len = chunk.len();
            self.history[older..older + len].copy_from_slice(chunk);
            while self.next < len {
                let window = &self.history[self.next..self.next + self.taps];
                let row = &self.rows[self.phase * self.taps..][..self.taps];
                let value = dot(row, window);
                debug_assert!(written < output.len(), "resampler output too short");
                if let Some(y) = output.get_mut(written) {
                    *y = value;
                    written += 1;
                }
                self.phase += part_step;
                self.next += whole_step;
                if self.phase >= self.q {
                    self.phase -= self.q;
                    self.next += 1;
                }
            }
            self.next -= len;
            self.history.copy_within(len..len + older, 0);
        }
        written
    }

    /// Forgets all input, as if new. Audio thread; allocation-free.
    pub fn reset(&mut self) {
        self.history.fill(0.0);
        self.next = 0;
        self.phase = 0;
    }
}

/// The windowed sinc at `u` samples of the lower rate, defined on
/// `0..KERNEL_SPAN`, centred in it, with unit area.
fn kernel(u: f64) -> f64 {
    let half = KERNEL_SPAN as f64 / 2.0;
    let t = u - half;
    if t.abs() >= half {
        return 0.0;
    }
    kaiser_sinc(t, t / half, KERNEL_CUTOFF, KAISER_BETA)
}

/// `Σ a[i]·b[i]` over lanes the compiler vectorizes; the slices have equal
/// lengths, a multiple of [`LANES`].
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0_f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for ((lane, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
            *lane += x * y;
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = lanes;
    ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7))
}

/// A node run at its own sample rate inside a graph at another (see the
/// module documentation). Mono in, mono out; the inner node must be too.
pub struct ResampledNode {
    inner: Box<dyn Node>,
    inner_rate_hz: f64,
    /// `None` before `prepare`, and when the rates are equal.
    conversion: Option<Conversion>,
    latency_frames: usize,
}

/// The two conversions and the buffers between them.
struct Conversion {
    /// Graph rate to inner rate.
    to_inner: Resampler,
    /// Inner rate to graph rate.
    from_inner: Resampler,
    /// The inner node's input and output for one call.
    inner_input: Vec<f32>,
    inner_output: Vec<f32>,
    /// Graph-rate output not yet handed out, oldest first.
    pending: Vec<f32>,
    pending_len: usize,
    /// The prepared `max_block_frames`.
    max_block_frames: usize,
}

impl ResampledNode {
    /// Wraps `inner`, which will run at `inner_rate_hz` (positive and
    /// finite). Fails with [`NodeError::Invalid`] when `inner` is not mono in,
    /// mono out. Off the audio thread.
    pub fn new(inner: Box<dyn Node>, inner_rate_hz: f64) -> Result<Self, NodeError> {
        if (inner.inputs(), inner.outputs()) != (1, 1) {
            return Err(NodeError::Invalid(format!(
                "a resampled node must have 1 input and 1 output, not {} and {}",
                inner.inputs(),
                inner.outputs()
            )));
        }
        if !(inner_rate_hz.is_finite() && inner_rate_hz > 0.0) {
            return Err(NodeError::Invalid(format!(
                "cannot run a node at {inner_rate_hz} Hz"
            )));
        }
        Ok(Self {
            inner,
            inner_rate_hz,
            conversion: None,
            latency_frames: 0,
        })
    }

    /// The rate the inner node runs at.
    pub fn inner_rate_hz(&self) -> f64 {
        self.inner_rate_hz
    }
}

impl Node for ResampledNode {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn warnings(&self) -> Vec<NodeWarning> {
        self.inner.warnings()
    }

    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError> {
        let graph_rate = spec.sample_rate_hz;
        let (p, q) = frame_ratio(graph_rate, self.inner_rate_hz).map_err(NodeError::Invalid)?;
        if p == q {
            self.inner.prepare(&ProcessSpec {
                sample_rate_hz: self.inner_rate_hz,
                max_block_frames: spec.max_block_frames,
            })?;
            self.conversion = None;
            self.latency_frames = self.inner.latency_frames();
            return Ok(());
        }
        let to_inner = Resampler::from_ratio(p, q, 0.0)?;
        let max_inner_frames = to_inner.max_output_frames(spec.max_block_frames);
        self.inner.prepare(&ProcessSpec {
            sample_rate_hz: self.inner_rate_hz,
            max_block_frames: max_inner_frames,
        })?;
        // Graph frames per inner frame.
        let ratio = p as f64 / q as f64;
        let inner_latency = self.inner.latency_frames() as f64;
        // Both conversions' delays in graph frames, before the extra delay.
        let base = KERNEL_SPAN as f64 * ratio.max(1.0);
        let latency = (base + ratio * inner_latency - 1e-9).ceil().max(0.0);
        let extra = ((latency - base) / ratio - inner_latency).max(0.0);
        let from_inner = Resampler::from_ratio(q, p, extra)?;
        let pending = from_inner.max_output_frames(max_inner_frames) + ratio.ceil() as usize + 1;
        self.conversion = Some(Conversion {
            to_inner,
            from_inner,
            inner_input: vec![0.0; max_inner_frames],
            inner_output: vec![0.0; max_inner_frames],
            pending: vec![0.0; pending],
            pending_len: 0,
            max_block_frames: spec.max_block_frames,
        });
        self.latency_frames = latency as usize;
        self.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.inner.reset();
        if let Some(c) = &mut self.conversion {
            c.to_inner.reset();
            c.from_inner.reset();
            c.pending_len = 0;
        }
    }

    fn snap_params(&mut self) {
        self.inner.snap_params();
    }

    fn latency_frames(&self) -> usize {
        self.latency_frames
    }

    fn params(&self) -> &[ParamSpec] {
        self.inner.params()
    }

    fn set_param(&mut self, index: usize, value: f32) {
        self.inner.set_param(index, value);
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let Some(c) = &mut self.conversion else {
            self.inner.process(frames, inputs, outputs);
            return;
        };
        let (Some(input), Some(output)) = (inputs.first(), outputs.first_mut()) else {
            return;
        };
        let frames = frames
            .min(c.max_block_frames)
            .min(input.len())
            .min(output.len());
        let inner_frames = c.to_inner.process(&input[..frames], &mut c.inner_input);
        if inner_frames > 0 {
            self.inner.process(
                inner_frames,
                &[&c.inner_input[..inner_frames]],
                &mut [&mut c.inner_output[..inner_frames]],
            );
            c.pending_len += c.from_inner.process(
                &c.inner_output[..inner_frames],
                &mut c.pending[c.pending_len..],
            );
        }
        let ready = frames.min(c.pending_len);
        debug_assert_eq!(ready, frames, "resampled output not ready");
        output[..ready].copy_from_slice(&c.pending[..ready]);
        output[ready..frames].fill(0.0);
        c.pending.copy_within(ready..c.pending_len, 0);
        c.pending_len -= ready;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples of the kernel per sample of the lower rate, for its response.
    const OVERSAMPLING: usize = 64;

    /// The kernel's continuous frequency response at `f` cycles per sample of
    /// the lower rate, by a fine Riemann sum over `samples`.
    fn response(samples: &[f64], f: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &h) in samples.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * f * i as f64 / OVERSAMPLING as f64;
            re += h * phase.cos();
            im -= h * phase.sin();
        }
        re.hypot(im) / OVERSAMPLING as f64
    }

    #[test]
    fn the_kernel_is_flat_in_the_passband_and_deep_in_the_stopband() {
        let samples: Vec<f64> = (0..=KERNEL_SPAN * OVERSAMPLING)
            .map(|i| kernel(i as f64 / OVERSAMPLING as f64))
            .collect();
        let response = |f| response(&samples, f);
        let dc = response(0.0);
        assert!((dc - 1.0).abs() < 1e-3, "DC gain {dc}");
        let ripple = (0..=200)
            .map(|i| (response(0.4 * i as f64 / 200.0) / dc - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(ripple < 2.5e-4, "passband ripple {ripple:e}");
        let stop = (0..=2000)
            .map(|i| response(0.5 + 2.0 * i as f64 / 2000.0) / dc)
            .fold(0.0, f64::max);
        assert!(
            20.0 * stop.log10() < -75.0,
            "stopband {} dB",
            20.0 * stop.log10()
        );
    }

    #[test]
    fn ratios_reduce_exactly_or_to_close_convergents() {
        assert_eq!(frame_ratio(44_100.0, 48_000.0), Ok((147, 160)));
        assert_eq!(frame_ratio(192_000.0, 44_100.0), Ok((640, 147)));
        assert_eq!(frame_ratio(48_000.0, 48_000.0), Ok((1, 1)));
        let (p, q) = frame_ratio(44_100.0, 47_999.5).unwrap();
        assert!(p <= MAX_RATIO_TERM && q <= MAX_RATIO_TERM);
        let error = (f64::from(p) / f64::from(q)) / (44_100.0 / 47_999.5) - 1.0;
        assert!(error.abs() < 1e-6, "{p}/{q}: {error:e}");
        assert!(frame_ratio(0.0, 48_000.0).is_err());
        assert!(frame_ratio(f64::NAN, 48_000.0).is_err());
        assert!(frame_ratio(1_000.0, 96_000.0).is_err());
    }

    #[test]
    fn the_dot_product_matches_a_plain_sum() {
        let a: Vec<f32> = (0..24).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..24).map(|i| (i as f32 * 0.91).cos()).collect();
        let plain: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from(x * y)).sum();
        assert!((f64::from(dot(&a, &b)) - plain).abs() < 1e-5);
    }
}
