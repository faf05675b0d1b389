//! The convolution kernel, generic over how a multiply-add is done and how many
//! frames a tile spans, so each kernel table instantiates it for its instruction
//! set. It accumulates a tile of output rows × frames in fixed-size arrays
//! (registers after vectorization) across every tap and input channel: each
//! input frame is loaded once per tile and each output once per call.

use super::ConvShape;

/// How a table multiplies and adds.
pub(super) trait MulAdd {
    /// `a · b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// Separate multiply and add (no FMA instruction needed).
pub(super) struct Separate;

impl MulAdd for Separate {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Fused multiply-add; only for tables whose CPU has an FMA instruction
/// (otherwise `f32::mul_add` is a slow library call).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
pub(super) struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// `out[r] += Σ_c weights_t[c * rows + r] · x[c]`, `rows = out.len()`.
#[inline(always)]
pub(super) fn matvec_acc<M: MulAdd>(weights_t: &[f32], x: &[f32], out: &mut [f32]) {
    let rows = out.len();
    for (column, &value) in weights_t.chunks_exact(rows).zip(x) {
        for (y, &w) in out.iter_mut().zip(column) {
            *y = M::mul_add(w, value, *y);
        }
    }
}

/// Output rows per tile.
const TILE_ROWS: usize = 4;

/// `out += conv(input)`; see [`ConvShape`] for the layout. `F` frames per tile.
#[inline(always)]
pub(super) fn conv_acc<M: MulAdd, const F: usize>(
    shape: &ConvShape,
    weights: &[f32],
    input: &[f32],
    out: &mut [f32],
) {
    if shape.frames == 0 {
        return;
    }
    let cout_g = shape.cout / shape.groups;
    let group_len = shape.taps * shape.cin_per_group * cout_g;
    for group in 0..shape.groups {
        let tile = Tile {
            shape,
            weights: &weights[group * group_len..][..group_len],
            input,
            first_input_row: group * shape.cin_per_group,
            first_out: 0,
            out_row: group * cout_g,
        };
        let mut o = 0;
        while o < cout_g {
            let rows = TILE_ROWS.min(cout_g - o);
            let tile = Tile {
                first_out: o,
                out_row: tile.out_row - tile.first_out + o,
                ..tile
            };
            match rows {
                4 => tile.run::<M, 4, F>(out),
                3 => tile.run::<M, 3, F>(out),
                2 => tile.run::<M, 2, F>(out),
                _ => tile.run::<M, 1, F>(out),
            }
            o += rows;
        }
    }
}

/// A band of output rows of one group, over all frames.
#[derive(Clone, Copy)]
struct Tile<'a> {
    shape: &'a ConvShape,
    weights: &'a [f32],
    input: &'a [f32],
    first_input_row: usize,
    /// First output row within the group (weight column).
    first_out: usize,
    /// First output row in `out`.
    out_row: usize,
}

impl Tile<'_> {
    #[inline(always)]
    fn run<M: MulAdd, const R: usize, const F: usize>(&self, out: &mut [f32]) {
        let s = self.shape;
        let cout_g = s.cout / s.groups;
        let n = s.frames;
        let mut t0 = 0;
        while t0 + F <= n {
            let mut acc = [[0.0_f32; F]; R];
            for (r, acc) in acc.iter_mut().enumerate() {
                acc.copy_from_slice(&out[(self.out_row + r) * s.out_stride + t0..][..F]);
            }
            for tap in 0..s.taps {
                let offset = s.first + tap * s.dilation + t0;
                for i in 0..s.cin_per_group {
                    let x: &[f32; F] = self.input
                        [(self.first_input_row + i) * s.in_stride + offset..][..F]
                        .try_into()
                        .expect("tile width");
                    let w: &[f32; R] = self.weights
                        [(tap * s.cin_per_group + i) * cout_g + self.first_out..][..R]
                        .try_into()
                        .expect("tile height");
                    for r in 0..R {
                        for k in 0..F {
                            acc[r][k] = M::mul_add(w[r], x[k], acc[r][k]);
                        }
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                out[(self.out_row + r) * s.out_stride + t0..][..F].copy_from_slice(acc);
            }
            t0 += F;
        }
        // Remaining frames, one output row at a time.
        for r in 0..R {
            let row = &mut out[(self.out_row + r) * s.out_stride..][t0..n];
            for tap in 0..s.taps {
                let offset = s.first + tap * s.dilation;
                for i in 0..s.cin_per_group {
                    let w = self.weights[(tap * s.cin_per_group + i) * cout_g + self.first_out + r];
                    let x = &self.input[(self.first_input_row + i) * s.in_stride + offset..][t0..n];
                    for (y, &xv) in row.iter_mut().zip(x) {
                        *y = M::mul_add(w, xv, *y);
                    }
                }
            }
        }
    }
}
