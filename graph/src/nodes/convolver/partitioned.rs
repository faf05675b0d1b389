//! The zero-latency partitioned convolution engine behind the
//! [`Convolver`](super::Convolver): a head of taps convolved directly and
//! uniformly partitioned overlap-save FFT stages whose partitions grow with
//! the distance from the start (the node's documentation explains the
//! scheme). `process` and `reset` never allocate.

use std::sync::Arc;

use nam_kernel::kernels::{ConvShape, Kernels, Output};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, FftError, RealFftPlanner, RealToComplex};

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

/// The zero-latency partitioned convolution: a directly convolved head plus FFT
/// stages (see the module documentation). Empty until built in `prepare`.
#[derive(Default)]
pub(super) struct Partitioned {
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
    pub(super) fn new(ir: &[f32], max_frames: usize) -> Result<Self, FftError> {
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
    pub(super) fn reset(&mut self) {
        self.history.fill(0.0);
        self.stages.iter_mut().for_each(Stage::reset);
        self.position = 0;
    }

    /// `output = ir ∗ input`, continuing from the previous call. Frames beyond
    /// the prepared block size are left at zero (callers never pass them).
    pub(super) fn process(&mut self, input: &[f32], output: &mut [f32]) {
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
