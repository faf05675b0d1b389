//! The x86_64 tables: AVX-512F (16-lane vectors, 32 registers) and AVX2 + FMA
//! (8-lane vectors, 16 registers), each the kernels of [`super::simd`] over
//! intrinsics. Offered by [`Kernels::available`](super::Kernels::available)
//! only when the CPU reports the features.
//!
//! Every method of the [`Simd`] implementations is one or two intrinsics;
//! their safety argument is the trait's: the table is only handed out after
//! runtime detection, and pointer validity is the caller's (checked once per
//! kernel call in `simd`).
#![allow(clippy::undocumented_unsafe_blocks)]

use std::arch::x86_64::*;

use super::lstm;
use super::recurrent_avx512;
use super::simd::{self, Simd, EXPONENT_FROM_SHIFTED};
use super::{
    one_pass_layer, ConvShape, GruWeights, Kernels, LayerFront, LstmWeights, Output, WaveNetLayer,
};
use crate::format::Activation;

/// True when this CPU can run [`AVX2_FMA`].
pub(super) fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// True when this CPU can run [`AVX512`].
pub(super) fn has_avx512() -> bool {
    is_x86_feature_detected!("avx512f") && has_avx2_fma()
}

/// Defines a table whose functions enable `$features` around the generic
/// kernels instantiated for `$simd`, the recurrent steps for `$lstm_simd`
/// (whose lanes the weights are packed by) and the LSTM layer over
/// `$lstm_layer_step` (an [`LstmStep`](lstm::LstmStep) on that packing).
macro_rules! table {
    (
        $table:ident,
        $name:literal,
        $simd:ty,
        $lstm_simd:ty,
        $lstm_layer_step:ty,
        $features:literal
    ) => {
        pub(super) static $table: Kernels = Kernels {
            name: $name,
            conv: |shape, weights, bias, output, input, out| {
                #[target_feature(enable = $features)]
                fn conv(
                    shape: &ConvShape,
                    weights: &[f32],
                    bias: Option<&[f32]>,
                    output: Output,
                    input: &[f32],
                    out: &mut [f32],
                ) {
                    unsafe { simd::conv::<$simd>(shape, weights, bias, output, input, out) }
                }
                // SAFETY: the table is only offered when the CPU has the features.
                unsafe { conv(shape, weights, bias, output, input, out) }
            },
            layer_front: |front, input, condition, z, head| {
                #[target_feature(enable = $features)]
                fn layer_front(
                    front: &LayerFront,
                    input: &[f32],
                    condition: &[f32],
                    z: &mut [f32],
                    head: Option<&mut [f32]>,
                ) {
                    unsafe { simd::layer_front::<$simd>(front, input, condition, z, head) }
                }
                // SAFETY: as above.
                unsafe { layer_front(front, input, condition, z, head) }
            },
            layer: |layer, input, condition, z, head, out| {
                #[target_feature(enable = $features)]
                fn whole_layer(
                    layer: &WaveNetLayer,
                    input: &[f32],
                    condition: &[f32],
                    z: &mut [f32],
                    head: &mut [f32],
                    out: &mut [f32],
                ) {
                    unsafe { one_pass_layer::layer::<$simd>(layer, input, condition, z, head, out) }
                }
                // SAFETY: as above.
                unsafe { whole_layer(layer, input, condition, z, head, out) }
            },
            dot_rows: |weights, bias, rows, stride, out| {
                #[target_feature(enable = $features)]
                fn dot_rows(
                    weights: &[f32],
                    bias: f32,
                    rows: &[f32],
                    stride: usize,
                    out: &mut [f32],
                ) {
                    unsafe { simd::dot_rows::<$lstm_simd>(weights, bias, rows, stride, out) }
                }
                // SAFETY: as above.
                unsafe { dot_rows(weights, bias, rows, stride, out) }
            },
            lstm_step: |weights, input, hidden, hidden_out, cell| {
                #[target_feature(enable = $features)]
                fn lstm_step(
                    weights: &LstmWeights,
                    input: &[f32],
                    hidden: &[f32],
                    hidden_out: &mut [f32],
                    cell: &mut [f32],
                ) {
                    unsafe {
                        simd::lstm_step::<$lstm_simd>(weights, input, hidden, hidden_out, cell)
                    }
                }
                // SAFETY: as above.
                unsafe { lstm_step(weights, input, hidden, hidden_out, cell) }
            },
            lstm_layer: |weights, inputs, input_stride, hidden, cell, outputs| {
                #[target_feature(enable = $features)]
                fn lstm_layer(
                    weights: &LstmWeights,
                    inputs: &[f32],
                    input_stride: usize,
                    hidden: &mut [f32],
                    cell: &mut [f32],
                    outputs: &mut [f32],
                ) {
                    unsafe {
                        lstm::run_layer::<$lstm_layer_step>(
                            weights,
                            inputs,
                            input_stride,
                            hidden,
                            cell,
                            outputs,
                        )
                    }
                }
                // SAFETY: as above.
                unsafe { lstm_layer(weights, inputs, input_stride, hidden, cell, outputs) }
            },
            lstm_lanes: <$lstm_simd as Simd>::LANES,
            gru_step: |weights, input, hidden, hidden_out| {
                #[target_feature(enable = $features)]
                fn gru_step(
                    weights: &GruWeights,
                    input: &[f32],
                    hidden: &[f32],
                    hidden_out: &mut [f32],
                ) {
                    unsafe { simd::gru_step::<$lstm_simd>(weights, input, hidden, hidden_out) }
                }
                // SAFETY: as above.
                unsafe { gru_step(weights, input, hidden, hidden_out) }
            },
            activate: |activation, channel, row| {
                #[target_feature(enable = $features)]
                fn activate(activation: &Activation, channel: usize, row: &mut [f32]) {
                    unsafe { simd::activate::<$simd>(activation, channel, row) }
                }
                // SAFETY: as above.
                unsafe { activate(activation, channel, row) }
            },
        };
    };
}

table!(
    AVX2_FMA,
    "avx2-fma",
    Avx2,
    Avx2,
    simd::SimdLstmStep<Avx2>,
    "avx2,fma"
);
// The recurrent kernels keep the 8-unit chunks of AVX2's packing: common
// hidden sizes (a multiple of 8, rarely of 16) then need no padding units. The
// LSTM layer reads them two gates to a 512-bit vector; single steps (RTNeural
// models, one call per sample) stay on AVX2's, which measured faster there
// for small hidden sizes (GRU 8: 44 against 57 ns/sample; LSTM 20: 169
// against 180) while the layer gains (LSTM 1x24: 103 to 87; 1x16: 64 to 56).
table!(
    AVX512,
    "avx512",
    Avx512,
    Avx2,
    recurrent_avx512::PairedLstmStep,
    "avx512f,avx2,fma"
);

/// AVX2 + FMA vectors.
pub(super) struct Avx2;

// SAFETY: each method is the intrinsic that does what the trait documents.
unsafe impl Simd for Avx2 {
    type V = __m256;
    const LANES: usize = 8;
    const MAX_TILE_VECTORS: usize = 2;
    const LSTM_CHUNKS: usize = 3;

    fn tile_rows(vectors: usize) -> usize {
        // 16 registers: at most 12 accumulators, leaving room for the inputs
        // and the broadcast weight.
        if vectors >= 2 {
            6
        } else {
            8
        }
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, count: usize) -> __m256 {
        unsafe { _mm256_maskload_ps(p, avx2_mask(count)) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: __m256, count: usize) {
        unsafe { _mm256_maskstore_ps(p, avx2_mask(count), v) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn neg_mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sum(v: __m256) -> f32 {
        unsafe {
            let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
            _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
        }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn exp2_from_shifted(shifted: __m256) -> __m256 {
        unsafe {
            let k = _mm256_sub_epi32(
                _mm256_castps_si256(shifted),
                _mm256_set1_epi32(EXPONENT_FROM_SHIFTED),
            );
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(k))
        }
    }
}

/// Lanes `0..count` set, for AVX2's masked loads and stores.
#[inline(always)]
unsafe fn avx2_mask(count: usize) -> __m256i {
    unsafe {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(count as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }
}

/// AVX-512F vectors.
pub(super) struct Avx512;

// SAFETY: each method is the intrinsic that does what the trait documents.
unsafe impl Simd for Avx512 {
    type V = __m512;
    const LANES: usize = 16;
    const MAX_TILE_VECTORS: usize = 4;
    const LSTM_CHUNKS: usize = 6;

    fn tile_rows(vectors: usize) -> usize {
        // 32 registers: at most 24 accumulators.
        if vectors >= 4 {
            6
        } else {
            8
        }
    }

    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, count: usize) -> __m512 {
        unsafe { _mm512_maskz_loadu_ps(avx512_mask(count), p) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, v: __m512, count: usize) {
        unsafe { _mm512_mask_storeu_ps(p, avx512_mask(count), v) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn neg_mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fnmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn min(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sum(v: __m512) -> f32 {
        unsafe { _mm512_reduce_add_ps(v) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn exp2_from_shifted(shifted: __m512) -> __m512 {
        unsafe {
            let k = _mm512_sub_epi32(
                _mm512_castps_si512(shifted),
                _mm512_set1_epi32(EXPONENT_FROM_SHIFTED),
            );
            _mm512_castsi512_ps(_mm512_slli_epi32::<23>(k))
        }
    }
}

/// Lanes `0..count` set, for AVX-512's masked loads and stores.
#[inline(always)]
fn avx512_mask(count: usize) -> __mmask16 {
    ((1u32 << count) - 1) as __mmask16
}
