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
mod scalar;
#[cfg(target_arch = "x86_64")]
mod x86_64;

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

/// A table of kernel implementations.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// Human-readable name (`scalar`, ...).
    pub name: &'static str,
    /// `out += conv(input)` for the shape given; see [`ConvShape`].
    pub conv_acc: fn(shape: &ConvShape, weights: &[f32], input: &[f32], out: &mut [f32]),
    /// `out[r] += Σ_c weights_t[c * out.len() + r] · x[c]`: a matrix-vector
    /// product with the matrix stored column by column (the LSTM's gates).
    pub matvec_acc: fn(weights_t: &[f32], x: &[f32], out: &mut [f32]),
    /// Applies an activation in place to one channel's row.
    pub activate: fn(activation: &crate::format::Activation, channel: usize, row: &mut [f32]),
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
            #[cfg(target_arch = "aarch64")]
            tables.push(&aarch64::NEON);
            tables
        })
    }
}
