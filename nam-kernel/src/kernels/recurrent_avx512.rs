//! The AVX-512 table's LSTM step for [`Kernels::lstm_layer`](super::Kernels::lstm_layer):
//! the AVX2 packing ([`LstmWeights`] with chunks of 8 units) read two gates at
//! a time.
//!
//! A chunk's four packed gate rows are 32 consecutive floats, so one 512-bit
//! vector holds two gates (`[i | f]` and `[g | o]`). The gate product then takes half the
//! instructions of 8-lane vectors without the padding units 16-lane chunks
//! would add to common hidden sizes (24 units would become 32), and each
//! accumulator is split over even and odd hidden columns, which halves the
//! dependent chain of fused multiply-adds a step waits on (the recurrence
//! allows no overlap between steps). The 256-bit halves then take the cell
//! and hidden update.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::arch::x86_64::*;

use super::lstm::LstmStep;
use super::simd::{sigmoid, tanh, RecurrentStep};
use super::x86_64::{Avx2, Avx512};
use super::LstmWeights;

/// Units per packed chunk: the AVX2 packing's.
const LANES: usize = 8;

/// Most chunks whose gates stay in registers at once: two accumulator sets of
/// two vectors per chunk in 24 of the 32 registers.
const MAX_CHUNKS: usize = 6;

/// One LSTM step (see [`Kernels::lstm_step`](super::Kernels::lstm_step)) as
/// an [`LstmStep`] for [`super::lstm::run_layer`]; its safety condition is
/// AVX-512F, AVX2 and FMA.
pub(super) struct PairedLstmStep;

impl LstmStep for PairedLstmStep {
    #[inline(always)]
    unsafe fn step(
        weights: &LstmWeights,
        input: &[f32],
        hidden: &[f32],
        hidden_out: &mut [f32],
        cell: &mut [f32],
    ) {
        weights.check_step(input, hidden, hidden_out, cell);
        let step = RecurrentStep::new::<Avx2>(weights, input, hidden, hidden_out);
        let cell = cell.as_mut_ptr();
        let mut chunk = 0;
        // SAFETY: `check_step` gives `padded_hidden` floats in `cell`, and every
        // group of chunks stays under `step.chunks`.
        unsafe {
            while chunk < step.chunks {
                chunk += match (step.chunks - chunk).min(MAX_CHUNKS) {
                    1 => chunks::<1>(&step, chunk, cell),
                    2 => chunks::<2>(&step, chunk, cell),
                    3 => chunks::<3>(&step, chunk, cell),
                    4 => chunks::<4>(&step, chunk, cell),
                    5 => chunks::<5>(&step, chunk, cell),
                    _ => chunks::<6>(&step, chunk, cell),
                };
            }
        }
    }
}

/// One chunk's update from its gates `[i | f]` and `[g | o]`:
/// `c = σ(f)·c + σ(i)·tanh(g)` at `cell`, and the new hidden vector
/// `σ(o)·tanh(c)`.
///
/// # Safety
/// The table's features must be available; `cell` holds 8 floats.
#[inline(always)]
unsafe fn update(cell: *mut f32, i_f: __m512, g_o: __m512) -> __m256 {
    unsafe {
        let i_f = sigmoid::<Avx512>(i_f);
        let g_o = tanh_low_sigmoid_high(g_o);
        let (i, f) = (low(i_f), high(i_f));
        let (g, o) = (low(g_o), high(g_o));
        let c = _mm256_fmadd_ps(f, _mm256_loadu_ps(cell), _mm256_mul_ps(i, g));
        _mm256_storeu_ps(cell, c);
        _mm256_mul_ps(o, tanh::<Avx2>(c))
    }
}

/// `tanh` in the low half, `σ` in the high half, with one evaluation:
/// `σ(x) = ½ + ½·tanh(x / 2)`.
#[inline(always)]
unsafe fn tanh_low_sigmoid_high(x: __m512) -> __m512 {
    unsafe {
        let half_high = join(_mm256_set1_ps(1.0), _mm256_set1_ps(0.5));
        let offset = join(_mm256_setzero_ps(), _mm256_set1_ps(0.5));
        let t = tanh::<Avx512>(_mm512_mul_ps(x, half_high));
        _mm512_fmadd_ps(t, half_high, offset)
    }
}

/// `[low | high]` as one vector (AVX-512F's 64-bit lane insert).
#[inline(always)]
unsafe fn join(low: __m256, high: __m256) -> __m512 {
    unsafe {
        _mm512_castpd_ps(_mm512_insertf64x4::<1>(
            _mm512_castpd256_pd512(_mm256_castps_pd(low)),
            _mm256_castps_pd(high),
        ))
    }
}

/// The low eight lanes.
#[inline(always)]
unsafe fn low(v: __m512) -> __m256 {
    unsafe { _mm512_castps512_ps256(v) }
}

/// The high eight lanes.
#[inline(always)]
unsafe fn high(v: __m512) -> __m256 {
    unsafe { _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v))) }
}

/// Two gate vectors per chunk: `[first two gates, last two gates]`.
type Gates<const N: usize> = [[__m512; 2]; N];

/// Chunks `first..first + N`: the gates in registers, then the update.
/// Returns `N`.
///
/// # Safety
/// As [`PairedLstmStep`], with `first + N` within the packed chunks and `cell`
/// holding every chunk's units.
#[inline(always)]
unsafe fn chunks<const N: usize>(step: &RecurrentStep, first: usize, cell: *mut f32) -> usize {
    let row0 = first * 4 * LANES;
    unsafe {
        let mut even: Gates<N> = [[_mm512_setzero_ps(); 2]; N];
        let mut odd: Gates<N> = [[_mm512_setzero_ps(); 2]; N];
        for (n, pair) in even.iter_mut().enumerate() {
            for (half, gates) in pair.iter_mut().enumerate() {
                *gates = _mm512_loadu_ps(step.bias.add(row0 + (2 * n + half) * 2 * LANES));
            }
        }
        let mut w = step.weights.add(row0);
        for &x in step.input {
            column(&mut odd, w, x);
            w = w.add(step.rows);
        }
        let mut pairs = step.hidden.chunks_exact(2);
        for pair in &mut pairs {
            column(&mut even, w, pair[0]);
            column(&mut odd, w.add(step.rows), pair[1]);
            w = w.add(2 * step.rows);
        }
        if let [x] = *pairs.remainder() {
            column(&mut even, w, x);
        }
        for (n, (even, odd)) in even.into_iter().zip(odd).enumerate() {
            let unit = (first + n) * LANES;
            let new = update(
                cell.add(unit),
                _mm512_add_ps(even[0], odd[0]),
                _mm512_add_ps(even[1], odd[1]),
            );
            _mm256_storeu_ps(step.hidden_out.add(unit), new);
        }
    }
    N
}

/// `gates += column · x` for one column's rows of `N` chunks from `w`.
///
/// # Safety
/// The table's features must be available; `w` holds `N` chunks of rows.
#[inline(always)]
unsafe fn column<const N: usize>(gates: &mut Gates<N>, w: *const f32, x: f32) {
    unsafe {
        let x = _mm512_set1_ps(x);
        for (n, pair) in gates.iter_mut().enumerate() {
            for (half, g) in pair.iter_mut().enumerate() {
                let w = _mm512_loadu_ps(w.add((2 * n + half) * 2 * LANES));
                *g = _mm512_fmadd_ps(w, x, *g);
            }
        }
    }
}
