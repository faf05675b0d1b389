//! The AVX-512 table's LSTM and GRU steps: the AVX2 packing ([`LstmWeights`]
//! with chunks of 8 units) read two gates at a time.
//!
//! A chunk's four packed gate rows are 32 consecutive floats, so one 512-bit
//! vector holds two gates (`[i | f]` and `[g | o]` for the LSTM, `[z | r]` and
//! `[n_x | n_h]` for the GRU). The gate product then takes half the
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
use super::{GruWeights, LstmWeights};

/// Units per packed chunk: the AVX2 packing's.
const LANES: usize = 8;

/// Most chunks whose gates stay in registers at once: two accumulator sets of
/// two vectors per chunk in 24 of the 32 registers.
const MAX_CHUNKS: usize = 6;

/// [`lstm_step`] as an [`LstmStep`] for [`super::lstm::run_layer`].
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
        unsafe { lstm_step(weights, input, hidden, hidden_out, cell) }
    }
}

/// One LSTM step (see [`Kernels::lstm_step`](super::Kernels::lstm_step)).
///
/// # Safety
/// AVX-512F, AVX2 and FMA must be available.
#[inline(always)]
unsafe fn lstm_step(
    weights: &LstmWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
    cell: &mut [f32],
) {
    weights.check_step(input, hidden, hidden_out, cell);
    let step = RecurrentStep::new::<Avx2>(weights, input, hidden, hidden_out);
    // SAFETY: `check_step` gives `padded_hidden` floats in `cell`; `run`
    // hands the update whole chunks below `padded_hidden`.
    unsafe {
        run(
            &step,
            &mut LstmUpdate {
                cell: cell.as_mut_ptr(),
            },
        )
    }
}

/// One GRU step (see [`Kernels::gru_step`](super::Kernels::gru_step)).
///
/// # Safety
/// AVX-512F, AVX2 and FMA must be available.
#[inline(always)]
pub(super) unsafe fn gru_step(
    weights: &GruWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
) {
    weights.check_step(input, hidden, hidden_out);
    let step = RecurrentStep::new::<Avx2>(weights.packed(), input, hidden, hidden_out);
    // SAFETY: `check_step` gives `padded_hidden` floats in `hidden`; `run`
    // hands the update whole chunks below `padded_hidden`.
    unsafe {
        run(
            &step,
            &mut GruUpdate {
                previous: hidden.as_ptr(),
            },
        )
    }
}

/// What a step does with one chunk's gates, two per vector: the chunk's new
/// hidden vector.
trait PairedUpdate {
    /// # Safety
    /// The table's features must be available; `unit` is a chunk's first
    /// unit within the buffers the update holds.
    unsafe fn update(&mut self, unit: usize, first: __m512, second: __m512) -> __m256;
}

/// `[i | f]`, `[g | o]` to `c = σ(f)·c + σ(i)·tanh(g)` and `σ(o)·tanh(c)`.
struct LstmUpdate {
    cell: *mut f32,
}

impl PairedUpdate for LstmUpdate {
    #[inline(always)]
    unsafe fn update(&mut self, unit: usize, i_f: __m512, g_o: __m512) -> __m256 {
        unsafe {
            let i_f = sigmoid::<Avx512>(i_f);
            let g_o = tanh_low_sigmoid_high(g_o);
            let (i, f) = (low(i_f), high(i_f));
            let (g, o) = (low(g_o), high(g_o));
            let cell = self.cell.add(unit);
            let c = _mm256_fmadd_ps(f, _mm256_loadu_ps(cell), _mm256_mul_ps(i, g));
            _mm256_storeu_ps(cell, c);
            _mm256_mul_ps(o, tanh::<Avx2>(c))
        }
    }
}

/// `[z | r]`, `[n_x | n_h]` to `n = tanh(n_x + σ(r)·n_h)` and `h' = n + σ(z)·(h − n)`.
struct GruUpdate {
    previous: *const f32,
}

impl PairedUpdate for GruUpdate {
    #[inline(always)]
    unsafe fn update(&mut self, unit: usize, z_r: __m512, n: __m512) -> __m256 {
        unsafe {
            let z_r = sigmoid::<Avx512>(z_r);
            let (z, r) = (low(z_r), high(z_r));
            let n = tanh::<Avx2>(_mm256_fmadd_ps(r, high(n), low(n)));
            let previous = _mm256_loadu_ps(self.previous.add(unit));
            _mm256_fmadd_ps(z, _mm256_sub_ps(previous, n), n)
        }
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

/// Every chunk, up to [`MAX_CHUNKS`] at a time.
///
/// # Safety
/// As [`lstm_step`]; the update's buffers hold `padded_hidden` floats.
#[inline(always)]
unsafe fn run<U: PairedUpdate>(step: &RecurrentStep, update: &mut U) {
    let mut chunk = 0;
    unsafe {
        while chunk < step.chunks {
            chunk += match (step.chunks - chunk).min(MAX_CHUNKS) {
                1 => chunks::<U, 1>(step, chunk, update),
                2 => chunks::<U, 2>(step, chunk, update),
                3 => chunks::<U, 3>(step, chunk, update),
                4 => chunks::<U, 4>(step, chunk, update),
                5 => chunks::<U, 5>(step, chunk, update),
                _ => chunks::<U, 6>(step, chunk, update),
            };
        }
    }
}

/// Two gate vectors per chunk: `[first two gates, last two gates]`.
type Gates<const N: usize> = [[__m512; 2]; N];

/// Chunks `first..first + N`: the gates in registers, then the update.
/// Returns `N`.
///
/// # Safety
/// As [`run`], with `first + N` within the packed chunks.
#[inline(always)]
unsafe fn chunks<U: PairedUpdate, const N: usize>(
    step: &RecurrentStep,
    first: usize,
    update: &mut U,
) -> usize {
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
            let new = update.update(
                unit,
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
