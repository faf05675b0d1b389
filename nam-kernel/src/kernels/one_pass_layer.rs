//! A whole WaveNet layer in one pass for small channel counts (1 to 4: the
//! A2-lite's 3, nano's 4 and 2, feather's 4), specialised by const generics
//! over the channel count `C`.
//!
//! With few channels a layer is mostly fixed work per tile (bias, stores,
//! reloads for the activation, the head sum and the layer 1x1, each a pass of
//! its own) rather than multiply-adds. Here each tile of `V` vectors of frames
//! keeps its `C` rows in registers from the bias through the dilated
//! convolution, the input mixer and the activation; the head sum and the
//! layer 1x1 with the residual read those registers, so the activation `z`
//! is never stored. Every other shape takes the generic kernels: the fused
//! layer front, then the layer 1x1 as a convolution.

use super::simd::{self, load_tile, step, store_tile, Lanewise, Simd, Vectorized};
use super::{layer, WaveNetLayer};

/// Most channels the one-pass path is compiled for.
const MOST_CHANNELS: usize = 4;

/// A whole layer (see [`super::Kernels::layer`]): in one pass when the layer
/// has `C ≤ 4` channels in and out and a lane-wise activation, otherwise as
/// [`simd::layer_front`] then [`simd::conv`].
///
/// # Safety
/// `S`'s instruction set must be available.
#[inline(always)]
pub(super) unsafe fn layer<S: Simd>(
    layer: &WaveNetLayer,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: &mut [f32],
    out: &mut [f32],
) {
    let shape = &layer.front.conv;
    let channels = shape.cout;
    let post = Vectorized::of(layer.front.activation);
    let one_pass = shape.groups == 1
        && shape.cin_per_group == channels
        && (1..=MOST_CHANNELS).contains(&channels)
        && S::tile_rows(S::MAX_TILE_VECTORS) > channels;
    match post {
        Some(post) if one_pass && shape.frames > 0 => {
            let pass = Pass::new(layer, post, input, condition, head, out);
            // SAFETY: `Pass::new` checked every row and frame the pass touches.
            unsafe {
                match channels {
                    1 => pass.run::<S, 1, false>(),
                    2 => pass.run::<S, 2, false>(),
                    3 if pass.slack => pass.run::<S, 3, true>(),
                    3 => pass.run::<S, 3, false>(),
                    _ => pass.run::<S, 4, false>(),
                }
            }
        }
        _ => {
            // SAFETY: the caller guarantees the instruction set; both kernels
            // check their bounds.
            unsafe {
                simd::layer_front::<S>(&layer.front, input, condition, z, Some(head));
                let (shape, residual) = layer::layer1x1(layer, input);
                simd::conv::<S>(
                    &shape,
                    layer.layer1x1,
                    Some(layer.layer1x1_bias),
                    residual,
                    z,
                    out,
                );
            }
        }
    }
}

/// The operands of a one-pass layer, as raw pointers checked once.
struct Pass<'a> {
    layer: &'a WaveNetLayer<'a>,
    post: Vectorized,
    /// The input at the oldest tap's first frame.
    input: *const f32,
    /// The input's newest frames (the residual).
    residual: *const f32,
    condition: *const f32,
    head: *mut f32,
    out: *mut f32,
    /// The convolution's and the mixer's weights are each followed by at
    /// least one more float (see [`super::LayerFront::weights`]).
    slack: bool,
}

impl<'a> Pass<'a> {
    /// The operands of `layer`.
    ///
    /// # Panics
    /// Unless every float the pass reads or writes is in bounds.
    #[inline(always)]
    fn new(
        layer: &'a WaveNetLayer<'a>,
        post: Vectorized,
        input: &[f32],
        condition: &[f32],
        head: &mut [f32],
        out: &mut [f32],
    ) -> Self {
        let front = &layer.front;
        let s = &front.conv;
        let (c, n) = (s.cout, s.frames);
        let lookback = (s.taps - 1) * s.dilation;
        assert!(s.taps > 0, "conv taps");
        assert!(front.weights.len() >= s.taps * c * c, "conv weights");
        assert!(front.bias.len() >= c, "conv bias");
        assert!(
            front.mixer.len() >= front.condition_rows * c,
            "mixer weights"
        );
        assert!(layer.layer1x1.len() >= c * c, "layer1x1 weights");
        assert!(layer.layer1x1_bias.len() >= c, "layer1x1 bias");
        assert!(
            (c - 1) * s.in_stride + s.first + lookback + n <= input.len(),
            "conv input"
        );
        if front.condition_rows > 0 {
            assert!(
                (front.condition_rows - 1) * front.condition_stride + n <= condition.len(),
                "condition"
            );
        }
        assert!((c - 1) * front.head_stride + n <= head.len(), "head");
        assert!((c - 1) * layer.out_stride + n <= out.len(), "layer output");
        let slack =
            front.weights.len() > s.taps * c * c && front.mixer.len() > front.condition_rows * c;
        Self {
            layer,
            post,
            // SAFETY: in bounds, checked above.
            input: unsafe { input.as_ptr().add(s.first) },
            // SAFETY: in bounds, checked above.
            residual: unsafe { input.as_ptr().add(s.first + lookback) },
            condition: condition.as_ptr(),
            head: head.as_mut_ptr(),
            out: out.as_mut_ptr(),
            slack,
        }
    }

    /// Every frame: tiles of the widest vectors, then one narrower tile, then
    /// a partial vector.
    ///
    /// # Safety
    /// `S`'s instruction set must be available; `C` is the layer's channels;
    /// `SLACK` only if `self.slack`.
    #[inline(always)]
    unsafe fn run<S: Simd, const C: usize, const SLACK: bool>(&self) {
        let lanes = S::LANES;
        let n = self.layer.front.conv.frames;
        let widest = S::MAX_TILE_VECTORS;
        let mut t0 = 0;
        // SAFETY: every tile covers frames t0..t0 + width ≤ n.
        unsafe {
            while t0 + widest * lanes <= n {
                self.tile_of::<S, C, SLACK>(widest, t0);
                t0 += widest * lanes;
            }
            let vectors = (n - t0) / lanes;
            if vectors > 0 {
                self.tile_of::<S, C, SLACK>(vectors, t0);
                t0 += vectors * lanes;
            }
            if t0 < n {
                self.tile::<S, C, 1, true, SLACK>(t0, n - t0);
            }
        }
    }

    /// A tile of `vectors` (1 to 4) whole vectors from frame `t0`.
    #[inline(always)]
    unsafe fn tile_of<S: Simd, const C: usize, const SLACK: bool>(
        &self,
        vectors: usize,
        t0: usize,
    ) {
        // SAFETY: as promised by the caller.
        unsafe {
            match vectors {
                1 => self.tile::<S, C, 1, false, SLACK>(t0, 0),
                2 => self.tile::<S, C, 2, false, SLACK>(t0, 0),
                3 => self.tile::<S, C, 3, false, SLACK>(t0, 0),
                _ => self.tile::<S, C, 4, false, SLACK>(t0, 0),
            }
        }
    }

    /// The whole layer on `V` vectors from frame `t0` (one partial vector of
    /// `part` frames when `PART`): `z` in registers from the bias to the
    /// activation, then the head sum and `out = x + bias + layer1x1 · z`.
    /// With `SLACK` each weight step may read one float past its `C`.
    #[inline(always)]
    unsafe fn tile<S: Simd, const C: usize, const V: usize, const PART: bool, const SLACK: bool>(
        &self,
        t0: usize,
        part: usize,
    ) {
        let front = &self.layer.front;
        let s = &front.conv;
        let lanes = S::LANES;
        // SAFETY: the caller guarantees frames t0..t0 + V·LANES (or + part)
        // exist; `Pass::new` checked the rows and the weights.
        unsafe {
            let mut z = [[S::splat(0.0); V]; C];
            for (r, row) in z.iter_mut().enumerate() {
                *row = [S::splat(*front.bias.get_unchecked(r)); V];
            }
            let mut w = front.weights.as_ptr();
            for tap in 0..s.taps {
                let mut x = self.input.add(tap * s.dilation + t0);
                for _ in 0..C {
                    step::<S, C, V, PART, SLACK>(&mut z, x, w, part);
                    w = w.add(C);
                    x = x.add(s.in_stride);
                }
            }
            let mut w = front.mixer.as_ptr();
            let mut x = self.condition.add(t0);
            for _ in 0..front.condition_rows {
                step::<S, C, V, PART, SLACK>(&mut z, x, w, part);
                w = w.add(C);
                x = x.add(front.condition_stride);
            }
            activate::<S, C, V>(self.post, &mut z);
            for (r, row) in z.iter().enumerate() {
                let head = self.head.add(r * front.head_stride + t0);
                for (v, &a) in row.iter().enumerate() {
                    let h = head.add(v * lanes);
                    store_tile::<S, PART>(h, S::add(load_tile::<S, PART>(h, part), a), part);
                }
            }
            let mix = self.layer.layer1x1.as_ptr();
            for o in 0..C {
                let bias = S::splat(*self.layer.layer1x1_bias.get_unchecked(o));
                let residual = self.residual.add(o * s.in_stride + t0);
                let mut y = [bias; V];
                for (v, y) in y.iter_mut().enumerate() {
                    *y = S::add(load_tile::<S, PART>(residual.add(v * lanes), part), *y);
                }
                for (i, row) in z.iter().enumerate() {
                    let w = S::splat(*mix.add(i * C + o));
                    for (y, &a) in y.iter_mut().zip(row) {
                        *y = S::mul_add(w, a, *y);
                    }
                }
                let out = self.out.add(o * self.layer.out_stride + t0);
                for (v, &y) in y.iter().enumerate() {
                    store_tile::<S, PART>(out.add(v * lanes), y, part);
                }
            }
        }
    }
}

/// `post` on every vector of a tile, the activation chosen once per tile
/// (each arm a constant the compiler folds into the loop).
#[inline(always)]
unsafe fn activate<S: Simd, const C: usize, const V: usize>(
    post: Vectorized,
    z: &mut [[S::V; V]; C],
) {
    #[inline(always)]
    unsafe fn each<S: Simd, const C: usize, const V: usize>(
        op: Vectorized,
        z: &mut [[S::V; V]; C],
    ) {
        // Nested loops over the constant sizes, not `flatten()`: these unroll
        // with the activation's constants materialised once per tile.
        for row in z.iter_mut() {
            for a in row.iter_mut() {
                // SAFETY: arithmetic only.
                *a = unsafe { Lanewise::<S>::apply(&op, *a) };
            }
        }
    }
    // SAFETY: arithmetic only.
    unsafe {
        match post {
            Vectorized::Identity => {}
            Vectorized::Tanh => each::<S, C, V>(Vectorized::Tanh, z),
            Vectorized::Sigmoid => each::<S, C, V>(Vectorized::Sigmoid, z),
            Vectorized::SiLU => each::<S, C, V>(Vectorized::SiLU, z),
            Vectorized::Clamp { min, max } => each::<S, C, V>(Vectorized::Clamp { min, max }, z),
            Vectorized::Leaky { slope } => each::<S, C, V>(Vectorized::Leaky { slope }, z),
            Vectorized::GentleLeaky { slope } => {
                each::<S, C, V>(Vectorized::GentleLeaky { slope }, z)
            }
            Vectorized::SteepLeaky { slope } => {
                each::<S, C, V>(Vectorized::SteepLeaky { slope }, z)
            }
        }
    }
}
