//! The SIMD kernels, written once over a small vector abstraction ([`Simd`])
//! and instantiated for each instruction set (AVX-512F, AVX2 + FMA, NEON) by
//! the table modules, which enable the features and implement the trait with
//! `core::arch` intrinsics.
//!
//! The convolution is a register-tiled matrix product: a tile of `R` output
//! rows × `V` vectors of frames lives in registers across every tap and input
//! channel, each step loading `V` input vectors, broadcasting `R` weights and
//! issuing `R · V` fused multiply-adds. Bounds are checked once per call; the
//! inner loops run on raw pointers, so they hold nothing but loads and FMAs.
//! Tail frames that do not fill a vector use masked (or partial) loads and
//! stores, so every block length takes the same path.

use super::lstm::LstmStep;
use super::{ConvShape, GruWeights, LayerFront, LstmWeights, Output};
use crate::format::Activation;

/// One instruction set's vector of [`Simd::LANES`] `f32`.
///
/// # Safety
/// Implementors promise that every method computes what its documentation
/// says with the instructions of their set. Callers promise that the set is
/// available (the tables are only offered after runtime detection) and that
/// pointers are valid for the floats a method reads or writes.
pub(super) unsafe trait Simd {
    /// The vector type.
    type V: Copy;
    /// Floats per vector.
    const LANES: usize;
    /// Most vectors of frames a convolution tile spans.
    const MAX_TILE_VECTORS: usize;
    /// Most output rows of a tile spanning `vectors` vectors (registers allow).
    fn tile_rows(vectors: usize) -> usize;
    /// Most chunks of LSTM units (four gate vectors each) a step holds in
    /// registers at once (at most 6).
    const LSTM_CHUNKS: usize;
    /// Whether a recurrent step passes its gate vectors through memory
    /// between the product and the activations: a few stores and loads buy
    /// the activations registers for their constants where the gate
    /// accumulators would otherwise crowd them out (NEON, whose fused
    /// multiply-add also overwrites its addend, so constants are copied
    /// rather than read from memory as x86 operands can be).
    const STAGE_GATES: bool = false;

    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `LANES` floats from `p` (any alignment).
    unsafe fn load(p: *const f32) -> Self::V;
    /// `LANES` floats to `p` (any alignment).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// The first `count` (< `LANES`) floats from `p`, zero in the other lanes;
    /// reads nothing past `p + count`.
    unsafe fn load_part(p: *const f32, count: usize) -> Self::V;
    /// The first `count` (< `LANES`) lanes to `p`; writes nothing past `p + count`.
    unsafe fn store_part(p: *mut f32, v: Self::V, count: usize);
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b + c`, fused.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c − a · b`, fused.
    unsafe fn neg_mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Lane-wise minimum.
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise maximum.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// `a / b`, correctly rounded.
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// The sum of the lanes.
    unsafe fn sum(v: Self::V) -> f32;
    /// `acc[r][v] += w[r] · xs[v]` for every row `r < R` and vector `v < V`:
    /// one (tap, input row) step of a convolution tile. Reads `R` floats at
    /// `w`, and with `SLACK` may read one more, whose value does not matter.
    #[inline(always)]
    unsafe fn fma_rows<const R: usize, const V: usize, const SLACK: bool>(
        acc: &mut [[Self::V; V]; R],
        xs: &[Self::V; V],
        w: *const f32,
    ) {
        // SAFETY: the caller guarantees `R` floats at `w`.
        unsafe {
            for (r, row) in acc.iter_mut().enumerate() {
                let wr = Self::splat(*w.add(r));
                for (a, &xv) in row.iter_mut().zip(xs) {
                    *a = Self::mul_add(wr, xv, *a);
                }
            }
        }
    }
    /// `x P(x²) / Q(x²)` on `x` clamped to `±limit`, `p0` the constant term
    /// of `P` and `p` its others, `Q`'s constant term 1: the formula of
    /// [`super::activation`]'s `tanh` and `sigmoid`, fused. `P` and `Q` are
    /// evaluated in Estrin's form over `s = x²` and `s²` (`P = (p0 + p₁s) +
    /// s²(p₂ + p₃s)`), a shorter dependent chain than Horner's.
    #[inline(always)]
    unsafe fn odd_rational(x: Self::V, limit: f32, p0: f32, p: &[f32; 3], q: &[f32; 4]) -> Self::V {
        // SAFETY: arithmetic only.
        unsafe {
            let x = Self::min(Self::max(x, Self::splat(-limit)), Self::splat(limit));
            let s = Self::mul(x, x);
            let s2 = Self::mul(s, s);
            let num = Self::mul_add(
                s2,
                Self::mul_add(Self::splat(p[2]), s, Self::splat(p[1])),
                Self::mul_add(Self::splat(p[0]), s, Self::splat(p0)),
            );
            let den_high = Self::mul_add(
                s2,
                Self::splat(q[3]),
                Self::mul_add(Self::splat(q[2]), s, Self::splat(q[1])),
            );
            let den_low = Self::mul_add(Self::splat(q[0]), s, Self::splat(1.0));
            Self::div(Self::mul(x, num), Self::mul_add(s2, den_high, den_low))
        }
    }
    /// `2^k` where each lane of `shifted` is `k + ROUND_MAGIC` (an integer
    /// `|k| ≤ 127` held in the mantissa): the exponent built from the bits.
    unsafe fn exp2_from_shifted(shifted: Self::V) -> Self::V;
}

use super::activation::ROUND_MAGIC;
/// The bits to subtract from `k + ROUND_MAGIC` to get the biased exponent `k + 127`.
pub(super) const EXPONENT_FROM_SHIFTED: i32 = ROUND_MAGIC.to_bits() as i32 - 127;

/// `out = (out or 0) + bias + conv(input)`; see [`ConvShape`] for the layout.
///
/// # Safety
/// `S`'s instruction set must be available.
#[inline(always)]
pub(super) unsafe fn conv<S: Simd>(
    shape: &ConvShape,
    weights: &[f32],
    bias: Option<&[f32]>,
    output: Output,
    input: &[f32],
    out: &mut [f32],
) {
    if shape.frames == 0 || shape.cout == 0 {
        return;
    }
    check_conv_bounds(shape, weights, bias, input, out);
    if let Output::AddTo { source, stride } = output {
        assert!(
            (shape.cout - 1) * stride + shape.frames <= source.len(),
            "conv source"
        );
    }
    let cin_g = shape.cin_per_group;
    let cout_g = shape.cout / shape.groups;
    let group_len = shape.taps * cin_g * cout_g;
    for group in 0..shape.groups {
        let band = Band {
            shape,
            // SAFETY: in bounds, checked above.
            weights: unsafe { weights.as_ptr().add(group * group_len) },
            bias: bias.map(|b| &b[group * cout_g..][..cout_g]),
            // SAFETY: in bounds, checked above.
            start: unsafe {
                match output {
                    Output::Overwrite => None,
                    Output::Accumulate => Some((
                        out.as_ptr().add(group * cout_g * shape.out_stride),
                        shape.out_stride,
                    )),
                    Output::AddTo { source, stride } => {
                        Some((source.as_ptr().add(group * cout_g * stride), stride))
                    }
                }
            },
            // SAFETY: in bounds, checked above.
            input: unsafe {
                input
                    .as_ptr()
                    .add(group * cin_g * shape.in_stride + shape.first)
            },
            // SAFETY: in bounds, checked above.
            out: unsafe { out.as_mut_ptr().add(group * cout_g * shape.out_stride) },
            cout_g,
            mixer: None,
            post: None,
            head: None,
        };
        // SAFETY: every tile stays inside the bounds checked above.
        unsafe { band.run::<S>() };
    }
}

/// Panics unless every float a convolution of `shape` touches is in bounds.
fn check_conv_bounds(
    shape: &ConvShape,
    weights: &[f32],
    bias: Option<&[f32]>,
    input: &[f32],
    out: &[f32],
) {
    let n = shape.frames;
    let cin_g = shape.cin_per_group;
    assert!(shape.taps > 0 && shape.groups > 0 && shape.cout.is_multiple_of(shape.groups));
    assert!(
        weights.len() >= shape.taps * cin_g * shape.cout,
        "conv weights"
    );
    assert!(bias.is_none_or(|b| b.len() >= shape.cout), "conv bias");
    assert!(
        (shape.cout - 1) * shape.out_stride + n <= out.len(),
        "conv output"
    );
    if cin_g > 0 {
        let end = (shape.groups * cin_g - 1) * shape.in_stride
            + shape.first
            + (shape.taps - 1) * shape.dilation
            + n;
        assert!(end <= input.len(), "conv input");
    }
}

/// A WaveNet layer's front half in one pass (see [`LayerFront`]): each tile
/// runs the convolution and the mixer into the same registers, applies the
/// activation there, stores `z` and adds it to the head.
///
/// # Safety
/// `S`'s instruction set must be available.
#[inline(always)]
pub(super) unsafe fn layer_front<S: Simd>(
    front: &LayerFront,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: Option<&mut [f32]>,
) {
    let shape = &front.conv;
    let n = shape.frames;
    if n == 0 || shape.cout == 0 {
        return;
    }
    assert_eq!(shape.groups, 1, "layer_front takes one group");
    check_conv_bounds(shape, front.weights, Some(front.bias), input, z);
    let rows = front.condition_rows;
    assert!(front.mixer.len() >= rows * shape.cout, "mixer weights");
    if rows > 0 {
        assert!(
            (rows - 1) * front.condition_stride + n <= condition.len(),
            "condition"
        );
    }
    if let Some(head) = &head {
        assert!(
            (shape.cout - 1) * front.head_stride + n <= head.len(),
            "head"
        );
    }
    let post = Vectorized::of(front.activation);
    let head = head.map(|h| (h.as_mut_ptr(), front.head_stride));
    let band = Band {
        shape,
        weights: front.weights.as_ptr(),
        bias: Some(front.bias),
        start: None,
        // SAFETY: in bounds, checked above.
        input: unsafe { input.as_ptr().add(shape.first) },
        out: z.as_mut_ptr(),
        cout_g: shape.cout,
        mixer: Some(Mixer {
            weights: front.mixer.as_ptr(),
            condition: condition.as_ptr(),
            stride: front.condition_stride,
            rows,
        }),
        post,
        head: if post.is_some() { head } else { None },
    };
    // SAFETY: every tile stays inside the bounds checked above.
    unsafe { band.run::<S>() };
    if post.is_none() {
        // A rare activation: its own pass, then the head sum.
        for c in 0..shape.cout {
            let row = &mut z[c * shape.out_stride..][..n];
            // SAFETY: the caller guarantees the instruction set.
            unsafe { activate::<S>(front.activation, c, row) };
            if let Some((head, stride)) = head {
                // SAFETY: in bounds, checked above.
                let head = unsafe { std::slice::from_raw_parts_mut(head.add(c * stride), n) };
                head.iter_mut().zip(row.iter()).for_each(|(h, &a)| *h += a);
            }
        }
    }
}

/// The input mixer of a [`layer_front`]: a pointwise convolution of the
/// condition accumulated into the same tile.
struct Mixer {
    weights: *const f32,
    condition: *const f32,
    stride: usize,
    rows: usize,
}

/// One group of a convolution, as raw pointers checked by [`conv`].
struct Band<'a> {
    shape: &'a ConvShape,
    weights: *const f32,
    bias: Option<&'a [f32]>,
    /// The rows (and their distance) the result is added to, if any.
    start: Option<(*const f32, usize)>,
    input: *const f32,
    out: *mut f32,
    cout_g: usize,
    /// A second source accumulated into the tile.
    mixer: Option<Mixer>,
    /// An activation applied to each stored tile.
    post: Option<Vectorized>,
    /// Rows (and their distance) the stored result is also added to.
    head: Option<(*mut f32, usize)>,
}

impl Band<'_> {
    /// Every frame: full-width tiles, then narrower ones, then a partial vector.
    #[inline(always)]
    unsafe fn run<S: Simd>(&self) {
        let lanes = S::LANES;
        let n = self.shape.frames;
        let widest = S::MAX_TILE_VECTORS * lanes;
        let mut t0 = 0;
        // SAFETY: every tile below covers frames t0..t0 + width ≤ n.
        unsafe {
            while t0 + widest <= n {
                self.rows::<S>(S::MAX_TILE_VECTORS, t0, 0);
                t0 += widest;
            }
            let vectors = (n - t0) / lanes;
            if vectors > 0 {
                self.rows::<S>(vectors, t0, 0);
                t0 += vectors * lanes;
            }
            if t0 < n {
                self.rows::<S>(1, t0, n - t0);
            }
        }
    }

    /// Every output row of the group over `vectors` vectors from frame `t0`
    /// (one partial vector of `part` frames when `part > 0`), in tiles of
    /// near-equal height.
    #[inline(always)]
    unsafe fn rows<S: Simd>(&self, vectors: usize, t0: usize, part: usize) {
        let most = S::tile_rows(vectors);
        let mut o = 0;
        let mut tiles_left = self.cout_g.div_ceil(most);
        while o < self.cout_g {
            let rows = (self.cout_g - o).div_ceil(tiles_left);
            // SAFETY: rows o..o + rows exist; frames as the caller promised.
            unsafe { self.tile_dispatch::<S>(rows, vectors, o, t0, part) };
            o += rows;
            tiles_left -= 1;
        }
    }

    #[inline(always)]
    unsafe fn tile_dispatch<S: Simd>(
        &self,
        rows: usize,
        vectors: usize,
        o: usize,
        t0: usize,
        part: usize,
    ) {
        macro_rules! by_rows {
            ($v:literal, $part:literal) => {
                match rows {
                    1 => self.tile::<S, 1, $v, $part>(o, t0, part),
                    2 => self.tile::<S, 2, $v, $part>(o, t0, part),
                    3 => self.tile::<S, 3, $v, $part>(o, t0, part),
                    4 => self.tile::<S, 4, $v, $part>(o, t0, part),
                    5 => self.tile::<S, 5, $v, $part>(o, t0, part),
                    6 => self.tile::<S, 6, $v, $part>(o, t0, part),
                    7 => self.tile::<S, 7, $v, $part>(o, t0, part),
                    _ => self.tile::<S, 8, $v, $part>(o, t0, part),
                }
            };
        }
        // SAFETY: as promised by the caller; `tile_rows` never exceeds 8.
        unsafe {
            if part > 0 {
                by_rows!(1, true)
            } else {
                match vectors {
                    1 => by_rows!(1, false),
                    2 => by_rows!(2, false),
                    3 => by_rows!(3, false),
                    _ => by_rows!(4, false),
                }
            }
        }
    }

    /// `R` rows from `o` × `V` vectors from frame `t0` (or one partial vector
    /// of `part` frames when `PART`), accumulated in registers.
    #[inline(always)]
    unsafe fn tile<S: Simd, const R: usize, const V: usize, const PART: bool>(
        &self,
        o: usize,
        t0: usize,
        part: usize,
    ) {
        let s = self.shape;
        let lanes = S::LANES;
        // SAFETY: the caller guarantees rows o..o+R and the frames exist; the
        // weights of rows o..o+R of every (tap, input) step are in bounds.
        unsafe {
            let out = self.out.add(o * s.out_stride + t0);
            let mut acc = [[S::splat(0.0); V]; R];
            for (r, row) in acc.iter_mut().enumerate() {
                let bias = self.bias.map(|b| b[o + r]);
                for (v, a) in row.iter_mut().enumerate() {
                    let start = match self.start {
                        Some((rows, stride)) => {
                            load_tile::<S, PART>(rows.add((o + r) * stride + t0 + v * lanes), part)
                        }
                        None => S::splat(0.0),
                    };
                    *a = match bias {
                        Some(b) => S::add(start, S::splat(b)),
                        None => start,
                    };
                }
            }
            let mut w = self.weights.add(o);
            for tap in 0..s.taps {
                let mut x = self.input.add(tap * s.dilation + t0);
                for _ in 0..s.cin_per_group {
                    step::<S, R, V, PART, false>(&mut acc, x, w, part);
                    w = w.add(self.cout_g);
                    x = x.add(s.in_stride);
                }
            }
            if let Some(mixer) = &self.mixer {
                let mut w = mixer.weights.add(o);
                let mut x = mixer.condition.add(t0);
                for _ in 0..mixer.rows {
                    step::<S, R, V, PART, false>(&mut acc, x, w, part);
                    w = w.add(self.cout_g);
                    x = x.add(mixer.stride);
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (v, &a) in row.iter().enumerate() {
                    let p = out.add(r * s.out_stride + v * lanes);
                    store_tile::<S, PART>(p, a, part);
                }
            }
            // The activation and the head sum read the tile back from L1: in
            // registers, the activation's constants and temporaries would
            // spill the accumulators.
            if let Some(post) = &self.post {
                for r in 0..R {
                    let row = out.add(r * s.out_stride);
                    let head = self.head.map(|(h, stride)| h.add((o + r) * stride + t0));
                    for v in 0..V {
                        let p = row.add(v * lanes);
                        let a = Lanewise::<S>::apply(post, load_tile::<S, PART>(p, part));
                        store_tile::<S, PART>(p, a, part);
                        if let Some(head) = head {
                            let h = head.add(v * lanes);
                            let sum = S::add(load_tile::<S, PART>(h, part), a);
                            store_tile::<S, PART>(h, sum, part);
                        }
                    }
                }
            }
        }
    }
}

/// One (tap, input row) step of a tile: `V` input vectors from `x`, `R`
/// weights from `w` (and with `SLACK` perhaps one more float read and
/// ignored, see [`Simd::fma_rows`]), `R · V` fused multiply-adds.
#[inline(always)]
pub(super) unsafe fn step<
    S: Simd,
    const R: usize,
    const V: usize,
    const PART: bool,
    const SLACK: bool,
>(
    acc: &mut [[S::V; V]; R],
    x: *const f32,
    w: *const f32,
    part: usize,
) {
    // SAFETY: the caller guarantees `V` vectors at `x` and `R` floats (with
    // `SLACK`, `R + 1`) at `w`.
    unsafe {
        let mut xs = [S::splat(0.0); V];
        for (v, xv) in xs.iter_mut().enumerate() {
            *xv = load_tile::<S, PART>(x.add(v * S::LANES), part);
        }
        S::fma_rows::<R, V, SLACK>(acc, &xs, w);
    }
}

/// [`super::Kernels::dot_rows`]. Weights of up to eight whole vectors (an
/// LSTM head of up to 32 units on NEON) stay in registers across the frames;
/// otherwise each frame reloads them, with a partial vector for the rest.
///
/// # Safety
/// `S`'s instruction set must be available.
///
/// # Panics
/// Unless `rows` holds every frame's row.
#[inline(always)]
pub(super) unsafe fn dot_rows<S: Simd>(
    weights: &[f32],
    bias: f32,
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    let n = weights.len();
    if let Some(last) = out.len().checked_sub(1) {
        assert!(last * stride + n <= rows.len(), "dot_rows: rows");
    }
    // SAFETY: every row read is in bounds (checked above); the caller
    // guarantees the instruction set.
    unsafe {
        if n.is_multiple_of(S::LANES) {
            match n / S::LANES {
                1 => return dot_rows_held::<S, 1>(weights, bias, rows, stride, out),
                2 => return dot_rows_held::<S, 2>(weights, bias, rows, stride, out),
                3 => return dot_rows_held::<S, 3>(weights, bias, rows, stride, out),
                4 => return dot_rows_held::<S, 4>(weights, bias, rows, stride, out),
                5 => return dot_rows_held::<S, 5>(weights, bias, rows, stride, out),
                6 => return dot_rows_held::<S, 6>(weights, bias, rows, stride, out),
                7 => return dot_rows_held::<S, 7>(weights, bias, rows, stride, out),
                8 => return dot_rows_held::<S, 8>(weights, bias, rows, stride, out),
                _ => {}
            }
        }
        let lanes = S::LANES;
        let whole = n / lanes * lanes;
        let w = weights.as_ptr();
        for (t, y) in out.iter_mut().enumerate() {
            let row = rows.as_ptr().add(t * stride);
            let mut acc = S::splat(0.0);
            for k in (0..whole).step_by(lanes) {
                acc = S::mul_add(S::load(w.add(k)), S::load(row.add(k)), acc);
            }
            if whole < n {
                let rest = n - whole;
                acc = S::mul_add(
                    S::load_part(w.add(whole), rest),
                    S::load_part(row.add(whole), rest),
                    acc,
                );
            }
            *y = S::sum(acc) + bias;
        }
    }
}

/// [`dot_rows`] for weights of exactly `V` vectors, held in registers; two
/// accumulators halve the dependent chain.
///
/// # Safety
/// As for [`dot_rows`], whose checks the caller made.
#[inline(always)]
unsafe fn dot_rows_held<S: Simd, const V: usize>(
    weights: &[f32],
    bias: f32,
    rows: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    // SAFETY: `weights` has `V` whole vectors; the caller checked the rows.
    unsafe {
        let mut w = [S::splat(0.0); V];
        for (v, w) in w.iter_mut().enumerate() {
            *w = S::load(weights.as_ptr().add(v * S::LANES));
        }
        for (t, y) in out.iter_mut().enumerate() {
            let row = rows.as_ptr().add(t * stride);
            let mut acc = [S::splat(0.0); 2];
            for (v, &w) in w.iter().enumerate() {
                acc[v % 2] = S::mul_add(w, S::load(row.add(v * S::LANES)), acc[v % 2]);
            }
            *y = S::sum(S::add(acc[0], acc[1])) + bias;
        }
    }
}

/// A whole vector, or its first `part` lanes when `PART`.
#[inline(always)]
pub(super) unsafe fn load_tile<S: Simd, const PART: bool>(p: *const f32, part: usize) -> S::V {
    // SAFETY: the caller guarantees the floats read are valid.
    unsafe {
        if PART {
            S::load_part(p, part)
        } else {
            S::load(p)
        }
    }
}

/// Stores a whole vector, or its first `part` lanes when `PART`.
#[inline(always)]
pub(super) unsafe fn store_tile<S: Simd, const PART: bool>(p: *mut f32, v: S::V, part: usize) {
    // SAFETY: the caller guarantees the floats written are valid.
    unsafe {
        if PART {
            S::store_part(p, v, part);
        } else {
            S::store(p, v);
        }
    }
}

/// `e^x`, saturating to `e^88` above and about `e^-87` below (the same
/// range reduction and polynomial as [`super::activation::exp`], fused).
#[inline(always)]
unsafe fn exp<S: Simd>(x: S::V) -> S::V {
    use super::activation::{LN2_HI, LN2_LO, LOG2_E};
    // SAFETY: arithmetic only.
    unsafe {
        let x = S::min(S::max(x, S::splat(-87.0)), S::splat(88.0));
        let shifted = S::mul_add(x, S::splat(LOG2_E), S::splat(ROUND_MAGIC));
        let k = S::sub(shifted, S::splat(ROUND_MAGIC));
        let r = S::neg_mul_add(k, S::splat(LN2_HI), x);
        let r = S::neg_mul_add(k, S::splat(LN2_LO), r);
        let mut p = S::splat(1.0 / 5040.0);
        for c in [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ] {
            p = S::mul_add(p, r, S::splat(c));
        }
        S::mul(p, S::exp2_from_shifted(shifted))
    }
}

/// `tanh(x)`, as [`super::activation::tanh`].
#[inline(always)]
pub(super) unsafe fn tanh<S: Simd>(x: S::V) -> S::V {
    use super::activation::{TANH_LIMIT, TANH_P, TANH_Q};
    // SAFETY: arithmetic only.
    unsafe { S::odd_rational(x, TANH_LIMIT, 1.0, &TANH_P, &TANH_Q) }
}

/// `1 / (1 + e^{−x})`, as [`super::activation::sigmoid`].
#[inline(always)]
pub(super) unsafe fn sigmoid<S: Simd>(x: S::V) -> S::V {
    use super::activation::{SIGMOID_LIMIT, SIGMOID_P, SIGMOID_Q};
    // SAFETY: arithmetic only.
    unsafe {
        S::add(
            S::splat(0.5),
            S::odd_rational(x, SIGMOID_LIMIT, 0.25, &SIGMOID_P, &SIGMOID_Q),
        )
    }
}

/// `x / (1 + e^{−x})`, as [`super::activation`]'s SiLU.
#[inline(always)]
unsafe fn silu<S: Simd>(x: S::V) -> S::V {
    // SAFETY: arithmetic only.
    unsafe {
        let e = exp::<S>(S::sub(S::splat(0.0), x));
        S::div(x, S::add(S::splat(1.0), e))
    }
}

/// `max(x, 0) + slope · min(x, 0)`: LeakyReLU and PReLU without a select,
/// for any slope.
#[inline(always)]
unsafe fn leaky<S: Simd>(x: S::V, slope: S::V) -> S::V {
    // SAFETY: arithmetic only.
    unsafe {
        let zero = S::splat(0.0);
        S::mul_add(slope, S::min(x, zero), S::max(x, zero))
    }
}

/// A lane-wise function. (Not a closure: a closure is a function of its own,
/// compiled without the table's target features unless inlined, which LLVM
/// does not promise.)
pub(super) trait Lanewise<S: Simd> {
    /// The function on one vector.
    unsafe fn apply(&self, x: S::V) -> S::V;
}

/// The lane-wise activations [`activate`] vectorizes.
#[derive(Clone, Copy)]
pub(super) enum Vectorized {
    Identity,
    Tanh,
    Sigmoid,
    SiLU,
    Clamp {
        min: f32,
        max: f32,
    },
    /// Any slope.
    Leaky {
        slope: f32,
    },
    /// A slope in [0, 1]: `max(x, slope · x)`, two instructions instead of three.
    GentleLeaky {
        slope: f32,
    },
    /// A slope above 1: `min(x, slope · x)`.
    SteepLeaky {
        slope: f32,
    },
}

impl<S: Simd> Lanewise<S> for Vectorized {
    #[inline(always)]
    unsafe fn apply(&self, x: S::V) -> S::V {
        // SAFETY: arithmetic only.
        unsafe {
            match *self {
                Vectorized::Identity => x,
                Vectorized::Tanh => tanh::<S>(x),
                Vectorized::Sigmoid => sigmoid::<S>(x),
                Vectorized::SiLU => silu::<S>(x),
                Vectorized::Clamp { min, max } => S::min(S::max(x, S::splat(min)), S::splat(max)),
                Vectorized::Leaky { slope } => leaky::<S>(x, S::splat(slope)),
                Vectorized::GentleLeaky { slope } => S::max(x, S::mul(S::splat(slope), x)),
                Vectorized::SteepLeaky { slope } => S::min(x, S::mul(S::splat(slope), x)),
            }
        }
    }
}

/// Applies `f` to every float of `row`, two vectors at a time (independent
/// dependency chains keep in-order cores busy), the tail masked.
#[inline(always)]
unsafe fn map<S: Simd>(row: &mut [f32], f: &impl Lanewise<S>) {
    let lanes = S::LANES;
    let n = row.len();
    let p = row.as_mut_ptr();
    let mut i = 0;
    // SAFETY: every access is below `n`.
    unsafe {
        while i + 2 * lanes <= n {
            let a = f.apply(S::load(p.add(i)));
            let b = f.apply(S::load(p.add(i + lanes)));
            S::store(p.add(i), a);
            S::store(p.add(i + lanes), b);
            i += 2 * lanes;
        }
        if i + lanes <= n {
            S::store(p.add(i), f.apply(S::load(p.add(i))));
            i += lanes;
        }
        if i < n {
            S::store_part(p.add(i), f.apply(S::load_part(p.add(i), n - i)), n - i);
        }
    }
}

/// Applies `activation` in place to `row` (channel `channel` of its signal).
/// The common activations are vectorized here; the rare ones use the scalar
/// formulas, compiled with the table's features.
///
/// # Safety
/// `S`'s instruction set must be available.
#[inline(always)]
pub(super) unsafe fn activate<S: Simd>(activation: &Activation, channel: usize, row: &mut [f32]) {
    // SAFETY: the caller guarantees the instruction set; `map` bounds itself.
    unsafe {
        let op = match activation {
            Activation::Identity => return,
            Activation::PReLU { negative_slopes } => {
                Vectorized::leaky(if negative_slopes.len() == 1 {
                    negative_slopes[0]
                } else {
                    negative_slopes[channel]
                })
            }
            _ => match Vectorized::of(activation) {
                Some(op) => op,
                None => return super::activation::apply_inline(activation, channel, row),
            },
        };
        map::<S>(row, &op);
    }
}

impl Vectorized {
    /// The vectorized form of `activation`, when it has one that does not
    /// depend on the channel.
    pub(super) fn of(activation: &Activation) -> Option<Vectorized> {
        Some(match activation {
            Activation::Identity => Vectorized::Identity,
            Activation::Tanh => Vectorized::Tanh,
            Activation::Sigmoid => Vectorized::Sigmoid,
            Activation::SiLU => Vectorized::SiLU,
            Activation::ReLU => Vectorized::Clamp {
                min: 0.0,
                max: f32::INFINITY,
            },
            &Activation::Hardtanh { min_val, max_val } => Vectorized::Clamp {
                min: min_val,
                max: max_val,
            },
            &Activation::LeakyReLU { negative_slope } => Vectorized::leaky(negative_slope),
            Activation::PReLU { negative_slopes } if negative_slopes.len() == 1 => {
                Vectorized::leaky(negative_slopes[0])
            }
            _ => return None,
        })
    }

    /// LeakyReLU/PReLU with this negative slope, in its cheapest exact form:
    /// for a slope in [0, 1], `slope · x` is below `x` exactly when `x` is
    /// positive (so `max` picks the right side, `-0.0` and NaN included), and
    /// above it for a slope over 1.
    fn leaky(slope: f32) -> Vectorized {
        if (0.0..=1.0).contains(&slope) {
            Vectorized::GentleLeaky { slope }
        } else if slope > 1.0 {
            Vectorized::SteepLeaky { slope }
        } else {
            Vectorized::Leaky { slope }
        }
    }
}

/// One LSTM step (see [`Kernels::lstm_step`](super::Kernels::lstm_step)) over
/// weights packed by chunks of `S::LANES` units: up to [`Simd::LSTM_CHUNKS`]
/// chunks at a time keep their four gate vectors in registers from the bias
/// through every column, then go straight through the activations to the
/// cell and hidden update.
///
/// # Safety
/// `S`'s instruction set must be available.
#[inline(always)]
pub(super) unsafe fn lstm_step<S: Simd>(
    weights: &LstmWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
    cell: &mut [f32],
) {
    weights.check_step(input, hidden, hidden_out, cell);
    let step = RecurrentStep::new::<S>(weights, input, hidden, hidden_out);
    // SAFETY: `check_step` gives `padded_hidden` floats in `cell`, and
    // `run` hands the update whole chunks below `padded_hidden`.
    unsafe {
        step.run::<S, _>(&mut LstmUpdate {
            cell: cell.as_mut_ptr(),
        })
    }
}

/// [`lstm_step`] as an [`LstmStep`] for [`super::lstm::run_layer`].
pub(super) struct SimdLstmStep<S>(std::marker::PhantomData<S>);

impl<S: Simd> LstmStep for SimdLstmStep<S> {
    #[inline(always)]
    unsafe fn step(
        weights: &LstmWeights,
        input: &[f32],
        hidden: &[f32],
        hidden_out: &mut [f32],
        cell: &mut [f32],
    ) {
        // SAFETY: the caller's promise.
        unsafe { lstm_step::<S>(weights, input, hidden, hidden_out, cell) }
    }
}

/// What a recurrent step does with a chunk's four gate vectors: the new
/// hidden vector of the units from `unit`. A trait with `#[inline(always)]`
/// methods rather than a closure: a closure is compiled as a function of its
/// own without the table's target features, where the intrinsics cannot
/// inline (on x86_64 that made every vector operation a call).
trait RecurrentUpdate {
    /// # Safety
    /// `S`'s instruction set must be available; `unit` is a chunk's first
    /// unit within the buffers the update holds.
    unsafe fn update<S: Simd>(&mut self, unit: usize, gates: [S::V; 4]) -> S::V;
}

/// The LSTM's cell and hidden update.
struct LstmUpdate {
    cell: *mut f32,
}

impl RecurrentUpdate for LstmUpdate {
    #[inline(always)]
    unsafe fn update<S: Simd>(&mut self, unit: usize, [i, f, g, o]: [S::V; 4]) -> S::V {
        // SAFETY: the caller's promise.
        unsafe {
            let (i, f) = (sigmoid::<S>(i), sigmoid::<S>(f));
            let (g, o) = (tanh::<S>(g), sigmoid::<S>(o));
            let c = S::mul_add(f, S::load(self.cell.add(unit)), S::mul(i, g));
            S::store(self.cell.add(unit), c);
            S::mul(o, tanh::<S>(c))
        }
    }
}

/// The GRU's update from the previous hidden state.
struct GruUpdate {
    previous: *const f32,
}

impl RecurrentUpdate for GruUpdate {
    #[inline(always)]
    unsafe fn update<S: Simd>(&mut self, unit: usize, [z, r, nx, nh]: [S::V; 4]) -> S::V {
        // SAFETY: the caller's promise.
        unsafe {
            let (z, r) = (sigmoid::<S>(z), sigmoid::<S>(r));
            let n = tanh::<S>(S::mul_add(r, nh, nx));
            S::mul_add(z, S::sub(S::load(self.previous.add(unit)), n), n)
        }
    }
}

/// One GRU step (see [`Kernels::gru_step`](super::Kernels::gru_step)): the
/// LSTM's register blocking over the GRU's four packed rows per unit
/// ([`GruWeights`]), then `h' = n + z (h − n)`.
///
/// # Safety
/// `S`'s instruction set must be available.
#[inline(always)]
pub(super) unsafe fn gru_step<S: Simd>(
    weights: &GruWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
) {
    weights.check_step(input, hidden, hidden_out);
    let step = RecurrentStep::new::<S>(weights.packed(), input, hidden, hidden_out);
    // SAFETY: `check_step` gives `padded_hidden` floats in `hidden`, and
    // `run` hands the update whole chunks below `padded_hidden`.
    unsafe {
        step.run::<S, _>(&mut GruUpdate {
            previous: hidden.as_ptr(),
        })
    }
}

/// `gates += column · x`: one column of a recurrent step's packed rows (`N`
/// chunks of four gate vectors from `w`) times one input or hidden value.
///
/// # Safety
/// `S`'s instruction set must be available; `w` holds `4 N` vectors.
#[inline(always)]
unsafe fn gate_column<S: Simd, const N: usize>(gates: &mut [[S::V; 4]; N], w: *const f32, x: f32) {
    // SAFETY: the caller's promise.
    unsafe {
        let x = S::splat(x);
        for (n, chunk) in gates.iter_mut().enumerate() {
            for (g, gate) in chunk.iter_mut().enumerate() {
                *gate = S::mul_add(S::load(w.add((4 * n + g) * S::LANES)), x, *gate);
            }
        }
    }
}

/// The operands of one recurrent step over rows packed like
/// [`LstmWeights`], as raw pointers checked once.
pub(super) struct RecurrentStep<'a> {
    /// The packed weights, column by column.
    pub(super) weights: *const f32,
    /// The packed bias.
    pub(super) bias: *const f32,
    /// Packed rows per column.
    pub(super) rows: usize,
    /// Chunks of `S::LANES` units.
    pub(super) chunks: usize,
    /// The input columns' values.
    pub(super) input: &'a [f32],
    /// The hidden columns' values (the units, without padding).
    pub(super) hidden: &'a [f32],
    /// Where the new hidden state goes (`padded_hidden` floats).
    pub(super) hidden_out: *mut f32,
}

impl<'a> RecurrentStep<'a> {
    /// The operands; the caller has checked the buffers' lengths.
    ///
    /// # Panics
    /// When the weights were packed for another chunk width.
    pub(super) fn new<S: Simd>(
        weights: &LstmWeights,
        input: &'a [f32],
        hidden: &'a [f32],
        hidden_out: &mut [f32],
    ) -> Self {
        assert_eq!(
            weights.lanes(),
            S::LANES,
            "recurrent weights packed for another table"
        );
        Self {
            weights: weights.weights().as_ptr(),
            bias: weights.bias().as_ptr(),
            rows: 4 * weights.padded_hidden(),
            chunks: weights.padded_hidden() / S::LANES,
            input,
            hidden: &hidden[..weights.hidden_size()],
            hidden_out: hidden_out.as_mut_ptr(),
        }
    }

    /// Every chunk, up to [`Simd::LSTM_CHUNKS`] at a time: `update(first
    /// unit, four gate vectors)` gives the new hidden vector of the chunk.
    ///
    /// # Safety
    /// `S`'s instruction set must be available; the buffers hold
    /// `padded_hidden` floats (`hidden_out`) and the packing's rows.
    #[inline(always)]
    unsafe fn run<S: Simd, U: RecurrentUpdate>(&self, update: &mut U) {
        let mut chunk = 0;
        // SAFETY: the caller's promise; every group stays under `chunks`.
        unsafe {
            while chunk < self.chunks {
                chunk += match (self.chunks - chunk).min(S::LSTM_CHUNKS) {
                    1 => self.chunks::<S, U, 1>(chunk, update),
                    2 => self.chunks::<S, U, 2>(chunk, update),
                    3 => self.chunks::<S, U, 3>(chunk, update),
                    4 => self.chunks::<S, U, 4>(chunk, update),
                    5 => self.chunks::<S, U, 5>(chunk, update),
                    _ => self.chunks::<S, U, 6>(chunk, update),
                };
            }
        }
    }

    /// Chunks `first..first + N`: the gates in registers, then the update.
    /// Returns `N`.
    ///
    /// # Safety
    /// As [`RecurrentStep::run`], with `first + N` within the packed chunks.
    #[inline(always)]
    unsafe fn chunks<S: Simd, U: RecurrentUpdate, const N: usize>(
        &self,
        first: usize,
        update: &mut U,
    ) -> usize {
        let lanes = S::LANES;
        let row0 = first * 4 * lanes;
        // SAFETY: the caller's promise; rows `row0 .. row0 + 4 N lanes` exist
        // in every column and in the bias, units `first·lanes ..` in the state.
        unsafe {
            let mut gates = [[S::splat(0.0); 4]; N];
            for (n, chunk) in gates.iter_mut().enumerate() {
                for (g, gate) in chunk.iter_mut().enumerate() {
                    *gate = S::load(self.bias.add(row0 + (4 * n + g) * lanes));
                }
            }
            let mut w = self.weights.add(row0);
            // Two plain loops rather than `input.iter().chain(hidden)`, whose
            // state check costs instructions in every column.
            for &x in self.input {
                gate_column::<S, N>(&mut gates, w, x);
                w = w.add(self.rows);
            }
            for &x in self.hidden {
                gate_column::<S, N>(&mut gates, w, x);
                w = w.add(self.rows);
            }
            if S::STAGE_GATES {
                // `black_box` on a copy makes the gates go through memory
                // once the product is done: without it LLVM holds every gate
                // in a register through the activations (and on the
                // accumulators themselves it keeps them in memory through
                // the product). It shapes code only; the values are the same.
                // The other tables keep the plain loop below: one loop over
                // the copy for both cost the AVX2 LSTM 1.4%.
                let staged = gates;
                for (n, &chunk) in std::hint::black_box(&staged).iter().enumerate() {
                    let unit = (first + n) * lanes;
                    S::store(self.hidden_out.add(unit), update.update::<S>(unit, chunk));
                }
            } else {
                for (n, chunk) in gates.into_iter().enumerate() {
                    let unit = (first + n) * lanes;
                    S::store(self.hidden_out.add(unit), update.update::<S>(unit, chunk));
                }
            }
        }
        N
    }
}
