//! The NEON table for aarch64 (NEON is part of every aarch64 CPU, the MOD
//! Dwarf's Cortex-A35 included): the kernels of [`super::simd`] over 4-lane
//! vectors and 32 registers and fused multiply-add (`fmla`).
//!
//! Every method of the [`Simd`] implementation is one or a few intrinsics;
//! their safety argument is the trait's (NEON is always present on aarch64,
//! and pointer validity is checked once per kernel call in `simd`).
#![allow(clippy::undocumented_unsafe_blocks)]

use std::arch::aarch64::*;

use super::lstm;
use super::simd::{self, Simd, EXPONENT_FROM_SHIFTED};
use super::{
    one_pass_layer, ConvShape, GruWeights, Kernels, LayerFront, LstmWeights, Output, WaveNetLayer,
};
use crate::format::Activation;

pub(super) static NEON: Kernels = Kernels {
    name: "neon",
    conv: neon_conv,
    layer_front: neon_layer_front,
    layer: neon_layer,
    lstm_step: neon_lstm_step,
    lstm_layer: neon_lstm_layer,
    lstm_lanes: <Neon as Simd>::LANES,
    dot_rows: neon_dot_rows,
    gru_step: neon_gru_step,
    activate: neon_activate,
};

fn neon_conv(
    shape: &ConvShape,
    weights: &[f32],
    bias: Option<&[f32]>,
    output: Output,
    input: &[f32],
    out: &mut [f32],
) {
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe { simd::conv::<Neon>(shape, weights, bias, output, input, out) }
}

fn neon_layer_front(
    front: &LayerFront,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: Option<&mut [f32]>,
) {
    // SAFETY: as above.
    unsafe { simd::layer_front::<Neon>(front, input, condition, z, head) }
}

fn neon_layer(
    layer: &WaveNetLayer,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: &mut [f32],
    out: &mut [f32],
) {
    // SAFETY: as above.
    unsafe { one_pass_layer::layer::<Neon>(layer, input, condition, z, head, out) }
}

fn neon_lstm_layer(
    weights: &LstmWeights,
    inputs: &[f32],
    input_stride: usize,
    hidden: &mut [f32],
    cell: &mut [f32],
    outputs: &mut [f32],
) {
    // SAFETY: as above.
    unsafe {
        lstm::run_layer::<simd::SimdLstmStep<Neon>>(
            weights,
            inputs,
            input_stride,
            hidden,
            cell,
            outputs,
        )
    }
}

fn neon_dot_rows(weights: &[f32], bias: f32, rows: &[f32], stride: usize, out: &mut [f32]) {
    // SAFETY: as above.
    unsafe { simd::dot_rows::<Neon>(weights, bias, rows, stride, out) }
}

fn neon_lstm_step(
    weights: &LstmWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
    cell: &mut [f32],
) {
    // SAFETY: as above.
    unsafe { simd::lstm_step::<Neon>(weights, input, hidden, hidden_out, cell) }
}

fn neon_gru_step(weights: &GruWeights, input: &[f32], hidden: &[f32], hidden_out: &mut [f32]) {
    // SAFETY: as above.
    unsafe { simd::gru_step::<Neon>(weights, input, hidden, hidden_out) }
}

fn neon_activate(activation: &Activation, channel: usize, row: &mut [f32]) {
    // SAFETY: as above.
    unsafe { simd::activate::<Neon>(activation, channel, row) }
}

/// NEON vectors.
pub(super) struct Neon;

// SAFETY: each method is the intrinsic that does what the trait documents.
unsafe impl Simd for Neon {
    type V = float32x4_t;
    const LANES: usize = 4;
    const MAX_TILE_VECTORS: usize = 4;
    // Six chunks (24 accumulators) take the 24 units of a common LSTM in one
    // pass over the columns, and staging their gates in memory leaves the
    // activations the registers for their constants: 1 775 instructions per
    // sample for a 1x24 LSTM against 1 889 with three chunks held through
    // the activations (scripts/aarch64-cost.sh), which spilled and reloaded
    // the constants for every chunk.
    const LSTM_CHUNKS: usize = 6;
    const STAGE_GATES: bool = true;

    fn tile_rows(vectors: usize) -> usize {
        // 32 registers: at most 24 accumulators.
        if vectors >= 4 {
            6
        } else {
            8
        }
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> float32x4_t {
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> float32x4_t {
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, count: usize) -> float32x4_t {
        let mut lanes = [0.0_f32; 4];
        unsafe {
            std::ptr::copy_nonoverlapping(p, lanes.as_mut_ptr(), count);
            vld1q_f32(lanes.as_ptr())
        }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: float32x4_t, count: usize) {
        let mut lanes = [0.0_f32; 4];
        unsafe {
            vst1q_f32(lanes.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(lanes.as_ptr(), p, count);
        }
    }
    #[inline(always)]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn neg_mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        unsafe { vfmsq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn min(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vminnmq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        unsafe { vmaxnmq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn sum(v: float32x4_t) -> f32 {
        unsafe { vaddvq_f32(v) }
    }
    #[inline(always)]
    unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // One `fdiv`: fewer instructions than an `frecpe` estimate and the two
        // `frecps` Newton steps 1e-7 needs (six), and no slower on in-order
        // cores by LLVM's Cortex-A53 model.
        unsafe { vdivq_f32(a, b) }
    }
    /// Multiplies by weight lanes (`fmla v.4s, v.4s, w.s[k]`): the weights of
    /// four rows take one load instead of four broadcasts, and so do the last
    /// three rows with `SLACK` (three rows otherwise take two loads).
    #[inline(always)]
    unsafe fn fma_rows<const R: usize, const V: usize, const SLACK: bool>(
        acc: &mut [[float32x4_t; V]; R],
        xs: &[float32x4_t; V],
        w: *const f32,
    ) {
        unsafe {
            let mut r = 0;
            while r + 4 <= R || (SLACK && r + 3 == R) {
                let wv = vld1q_f32(w.add(r));
                for (v, &x) in xs.iter().enumerate() {
                    acc[r][v] = vfmaq_laneq_f32::<0>(acc[r][v], x, wv);
                    acc[r + 1][v] = vfmaq_laneq_f32::<1>(acc[r + 1][v], x, wv);
                    acc[r + 2][v] = vfmaq_laneq_f32::<2>(acc[r + 2][v], x, wv);
                    if r + 3 < R {
                        acc[r + 3][v] = vfmaq_laneq_f32::<3>(acc[r + 3][v], x, wv);
                    }
                }
                r += 4;
            }
            if r + 2 <= R {
                let wv = vld1_f32(w.add(r));
                for (v, &x) in xs.iter().enumerate() {
                    acc[r][v] = vfmaq_lane_f32::<0>(acc[r][v], x, wv);
                    acc[r + 1][v] = vfmaq_lane_f32::<1>(acc[r + 1][v], x, wv);
                }
                r += 2;
            }
            if r < R {
                let wv = vld1q_dup_f32(w.add(r));
                for (v, &x) in xs.iter().enumerate() {
                    acc[r][v] = vfmaq_f32(acc[r][v], x, wv);
                }
            }
        }
    }
    #[inline(always)]
    unsafe fn exp2_from_shifted(shifted: float32x4_t) -> float32x4_t {
        unsafe {
            let k = vsubq_s32(
                vreinterpretq_s32_f32(shifted),
                vdupq_n_s32(EXPONENT_FROM_SHIFTED),
            );
            vreinterpretq_f32_s32(vshlq_n_s32::<23>(k))
        }
    }
}
