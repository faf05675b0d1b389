//! Numeric kernels: pure functions over planar slices, no state, no allocation.
//!
//! Signals are *planar*: channel `c` of a block occupies `data[c * stride ..][..frames]`,
//! so every inner loop runs over time, contiguous, and vectorizes. A [`Kernels`]
//! table holds one implementation of each operation; models pick a table once at
//! build time ([`Kernels::detect`]) and call through it once per layer per block,
//! so dispatch costs nothing per sample. [`Kernels::scalar`] is the portable
//! reference every other table is tested against.

#[cfg(target_arch = "aarch64")]
mod aarch64;
pub mod activation;
mod conv;
mod gru;
mod layer;
mod lstm;
mod one_pass_layer;
#[cfg(target_arch = "x86_64")]
mod recurrent_avx512;
mod scalar;
mod simd;
#[cfg(target_arch = "x86_64")]
mod x86_64;

use crate::format::Activation;
use aligned_vec::{AVec, ConstAlign};
pub use gru::GruWeights;
pub use lstm::LstmWeights;

/// Floats starting on a 64-byte cache line. A vector load from a plain
/// `Vec<f32>` (16-byte aligned) splits over two cache lines three times in
/// four at 512 bits and every other time at 256 bits, and a split load costs
/// about twice a whole one: aligning the LSTM's packed weights took a fifth off
/// its step with AVX-512.
pub(crate) type AlignedFloats = AVec<f32, ConstAlign<64>>;

/// `len` zeros in an [`AlignedFloats`].
pub(crate) fn aligned_zeros(len: usize) -> AlignedFloats {
    AVec::from_iter(64, (0..len).map(|_| 0.0))
}

/// Shape of one convolution call over a block of frames.
///
/// Output row `o` (in group `g = o / (cout / groups)`, `o_local = o % (cout / groups)`)
/// accumulates, for every tap `j` and every input channel `i` of group `g`
/// (`i_local = i % cin_per_group`),
/// the product of
/// `w[((g * taps + j) * cin_per_group + i_local) * (cout / groups) + o_local]` and
/// `input[i * in_stride + first + j * dilation + t]`, for `t` in `0..frames`.
/// The last tap multiplies the newest sample, as in PyTorch's `Conv1d`; the
/// weight layout keeps the weights of neighbouring output rows together.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    /// Frames in the block.
    pub frames: usize,
    /// Kernel taps.
    pub taps: usize,
    /// Distance in frames between taps.
    pub dilation: usize,
    /// Output channels.
    pub cout: usize,
    /// Input channels per group.
    pub cin_per_group: usize,
    /// Groups (block-diagonal structure).
    pub groups: usize,
    /// Distance between input rows.
    pub in_stride: usize,
    /// Offset in each input row of the oldest tap's first frame.
    pub first: usize,
    /// Distance between output rows.
    pub out_stride: usize,
}

/// What a convolution's result is added to.
#[derive(Clone, Copy, Debug)]
pub enum Output<'a> {
    /// Nothing: `out = bias + conv(input)`.
    Overwrite,
    /// What the output rows hold: `out += bias + conv(input)`.
    Accumulate,
    /// Other rows of the same shape (`stride` apart):
    /// `out = source + bias + conv(input)`, `source` untouched.
    AddTo {
        /// The rows added.
        source: &'a [f32],
        /// Distance between them.
        stride: usize,
    },
}

/// The front half of a WaveNet layer, done in one pass by
/// [`Kernels::layer_front`]: `z = activation(bias + conv(input) + mixer · condition)`,
/// and `head += z` when a head is given.
#[derive(Clone, Copy, Debug)]
pub struct LayerFront<'a> {
    /// The dilated convolution (one group).
    pub conv: ConvShape,
    /// Its weights, as for [`Kernels::conv`]. Floats after them (slack) are
    /// never used, but a kernel may read one to load a few rows' weights at
    /// once: the NEON table loads three rows' weights with one 4-lane load
    /// instead of two loads when there is slack.
    pub weights: &'a [f32],
    /// Its bias, one per output row.
    pub bias: &'a [f32],
    /// The input mixer's weights, `[condition row][output row]` (one group,
    /// no bias); slack after them as for `weights`.
    pub mixer: &'a [f32],
    /// Rows of the condition.
    pub condition_rows: usize,
    /// Distance between condition rows; the condition's frames start at 0.
    pub condition_stride: usize,
    /// The layer's activation.
    pub activation: &'a Activation,
    /// Distance between the head's rows.
    pub head_stride: usize,
}

/// A whole WaveNet layer without a head 1x1, done by [`Kernels::layer`]: the
/// front half ([`LayerFront`], its head sum included: the head has the
/// convolution's `cout` rows) into `z`, then the residual
/// `out = x + layer1x1_bias + layer1x1 · z`, where `x` is the input's newest
/// frames (those of the last tap: offset `first + (taps − 1) · dilation`) and
/// `out` has the input's `cin_per_group` rows.
#[derive(Clone, Copy, Debug)]
pub struct WaveNetLayer<'a> {
    /// The front half (one group).
    pub front: LayerFront<'a>,
    /// The layer 1x1's weights, `[z row][output row]` (one group).
    pub layer1x1: &'a [f32],
    /// The layer 1x1's bias, one per output row.
    pub layer1x1_bias: &'a [f32],
    /// Distance between the output rows.
    pub out_stride: usize,
}

/// A convolution kernel; see [`Kernels::conv`].
pub type ConvFn = fn(
    shape: &ConvShape,
    weights: &[f32],
    bias: Option<&[f32]>,
    output: Output,
    input: &[f32],
    out: &mut [f32],
);

/// A fused WaveNet layer-front kernel; see [`Kernels::layer_front`].
pub type LayerFrontFn = fn(
    front: &LayerFront,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: Option<&mut [f32]>,
);

/// A whole-layer kernel; see [`Kernels::layer`].
pub type LayerFn = fn(
    layer: &WaveNetLayer,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: &mut [f32],
    out: &mut [f32],
);

/// A linear head over frames; see [`Kernels::dot_rows`].
pub type DotRowsFn = fn(weights: &[f32], bias: f32, rows: &[f32], stride: usize, out: &mut [f32]);

/// An LSTM step kernel; see [`Kernels::lstm_step`].
pub type LstmStepFn = fn(
    weights: &LstmWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
    cell: &mut [f32],
);

/// An LSTM layer over a block of frames; see [`Kernels::lstm_layer`].
pub type LstmLayerFn = fn(
    weights: &LstmWeights,
    inputs: &[f32],
    input_stride: usize,
    hidden: &mut [f32],
    cell: &mut [f32],
    outputs: &mut [f32],
);

/// A GRU step kernel; see [`Kernels::gru_step`].
pub type GruStepFn =
    fn(weights: &GruWeights, input: &[f32], hidden: &[f32], hidden_out: &mut [f32]);

/// A table of kernel implementations.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// Human-readable name (`scalar`, ...).
    pub name: &'static str,
    /// `out = bias + conv(input)` or `out += bias + conv(input)` (see
    /// [`Output`]) for the shape given; see [`ConvShape`]. A missing bias is zero.
    pub conv: ConvFn,
    /// A WaveNet layer's front half (see [`LayerFront`]) from `input` and
    /// `condition` into `z` (rows `conv.out_stride` apart), also added to
    /// `head` when given.
    pub layer_front: LayerFrontFn,
    /// A whole WaveNet layer (see [`WaveNetLayer`]) from `input` and
    /// `condition` into `out`, the activation added to `head`; `z` is scratch
    /// (rows `front.conv.out_stride` apart) whose content is left unspecified.
    /// SIMD tables run layers of at most four channels in one pass with the
    /// activation held in registers, and others as
    /// [`Kernels::layer_front`] then [`Kernels::conv`].
    pub layer: LayerFn,
    /// One LSTM time step (PyTorch's gate order i, f, g, o) with weights
    /// packed for this table ([`LstmWeights::pack`]): the gates are
    /// `bias + W · [input, hidden]` (the first `hidden_size` floats of
    /// `hidden`), then `c = σ(f)·c + σ(i)·tanh(g)` in `cell` and
    /// `σ(o)·tanh(c)` in `hidden_out` (both [`LstmWeights::padded_hidden`]
    /// long). `hidden` and `hidden_out` are distinct buffers: a model swaps
    /// them each step.
    pub lstm_step: LstmStepFn,
    /// [`Kernels::lstm_step`] for every frame of a block in one call: frame
    /// `t`'s input is `inputs[t · input_stride ..][..input_size]`, its new
    /// hidden state goes to `outputs[t · padded_hidden ..]` (`outputs` is a
    /// whole number of frames) and is the next frame's previous state; the
    /// state before the block is read from `hidden` and the state after it
    /// written back there (`hidden`, `cell`: [`LstmWeights::padded_hidden`]).
    pub lstm_layer: LstmLayerFn,
    /// The chunk width [`LstmWeights::pack`] interleaves gates by for this table.
    pub lstm_lanes: usize,
    /// `out[t] = bias + weights · rows[t · stride ..][..weights.len()]` for
    /// every frame `t < out.len()`: a linear head over the hidden states of
    /// a block (an LSTM's output layer).
    pub dot_rows: DotRowsFn,
    /// One GRU time step (Keras' `reset_after` form, see [`GruWeights`]) with
    /// weights packed for this table ([`GruWeights::pack`]): from `input` and
    /// `hidden` into `hidden_out` (both state buffers
    /// [`GruWeights::padded_hidden`] long, distinct: a model swaps them).
    pub gru_step: GruStepFn,
    /// Applies an activation in place to one channel's row.
    pub activate: fn(activation: &Activation, channel: usize, row: &mut [f32]),
}

impl std::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernels").field("name", &self.name).finish()
    }
}

impl Kernels {
    /// The portable reference implementation.
    pub fn scalar() -> &'static Kernels {
        &scalar::KERNELS
    }

    /// The fastest table this CPU supports.
    pub fn detect() -> &'static Kernels {
        Self::available()[Self::available().len() - 1]
    }

    /// Every table this CPU can run, the scalar reference first.
    pub fn available() -> &'static [&'static Kernels] {
        static AVAILABLE: std::sync::OnceLock<Vec<&'static Kernels>> = std::sync::OnceLock::new();
        AVAILABLE.get_or_init(|| {
            let mut tables = vec![&scalar::KERNELS];
            #[cfg(target_arch = "x86_64")]
            if x86_64::has_avx2_fma() {
                tables.push(&x86_64::AVX2_FMA);
            }
            #[cfg(target_arch = "x86_64")]
            if x86_64::has_avx512() {
                tables.push(&x86_64::AVX512);
            }
            #[cfg(target_arch = "aarch64")]
            tables.push(&aarch64::NEON);
            tables
        })
    }
}
