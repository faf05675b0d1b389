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
//! allows no overlap between steps). The activations take the gate pairs
//! whole (per-lane coefficients: sigmoid in `[i | f]`, tanh and sigmoid in
//! `[g | o]`), then the 256-bit halves the cell and hidden update.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::arch::x86_64::*;

use super::lstm::LstmStep;
use super::simd::RecurrentStep;
use super::x86_64::Avx2;
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
/// The step is one dependent chain (gates, activations, cell, `tanh(c)`, the
/// next step's gates), so this is written for a short chain: `f·c` is
/// multiplied while `i` and `g` are still being evaluated, and `σ(o)` goes
/// into `tanh(c)`'s numerator instead of a multiply after it.
///
/// # Safety
/// The table's features must be available; `cell` holds 8 floats.
#[inline(always)]
unsafe fn update(cell: *mut f32, i_f: __m512, g_o: __m512) -> __m256 {
    unsafe {
        let i_f = Rational::halves(Half::Sigmoid, Half::Sigmoid).eval(i_f, None);
        let g_o = Rational::halves(Half::Tanh, Half::Sigmoid).eval(g_o, None);
        let (i, f) = (low(i_f), high(i_f));
        let (g, o) = (low(g_o), high(g_o));
        let c = _mm256_fmadd_ps(i, g, _mm256_mul_ps(f, _mm256_loadu_ps(cell)));
        _mm256_storeu_ps(cell, c);
        let tanh = Rational::halves(Half::Tanh, Half::Tanh);
        low(tanh.eval(_mm512_zextps256_ps512(c), Some(_mm512_zextps256_ps512(o))))
    }
}

/// Which function a 256-bit half of a [`Rational`] evaluates.
#[derive(Clone, Copy)]
enum Half {
    Tanh,
    Sigmoid,
}

/// [`super::activation`]'s `tanh` and `sigmoid` as one formula with
/// coefficients per lane: `offset + x·P(x²)/Q(x²)` on `x` clamped to
/// `±limit` (the sigmoid's halvings are in its coefficients).
struct Rational {
    limit: __m512,
    /// `limit²` (in `f32`, as the square of the clamped input rounds).
    limit_squared: __m512,
    /// `P`'s coefficients from the constant term up.
    p: [__m512; 4],
    /// `Q`'s coefficients from the linear term up (its constant term is 1).
    q: [__m512; 4],
    offset: __m512,
}

impl Rational {
    /// The function of each half, low lanes first.
    #[inline(always)]
    unsafe fn halves(low: Half, high: Half) -> Self {
        use super::activation::{SIGMOID_LIMIT, SIGMOID_P, SIGMOID_Q, TANH_LIMIT, TANH_P, TANH_Q};
        unsafe {
            let pick = |tanh: f32, sigmoid: f32| {
                let half = |half: Half| {
                    _mm256_set1_ps(match half {
                        Half::Tanh => tanh,
                        Half::Sigmoid => sigmoid,
                    })
                };
                join(half(low), half(high))
            };
            Self {
                limit: pick(TANH_LIMIT, SIGMOID_LIMIT),
                limit_squared: pick(TANH_LIMIT * TANH_LIMIT, SIGMOID_LIMIT * SIGMOID_LIMIT),
                p: [
                    pick(1.0, 0.25),
                    pick(TANH_P[0], SIGMOID_P[0]),
                    pick(TANH_P[1], SIGMOID_P[1]),
                    pick(TANH_P[2], SIGMOID_P[2]),
                ],
                q: [
                    pick(TANH_Q[0], SIGMOID_Q[0]),
                    pick(TANH_Q[1], SIGMOID_Q[1]),
                    pick(TANH_Q[2], SIGMOID_Q[2]),
                    pick(TANH_Q[3], SIGMOID_Q[3]),
                ],
                offset: pick(0.0, 0.5),
            }
        }
    }

    /// `offset + factor·x·P(x²)/Q(x²)` (`factor` 1 when not given), the same
    /// values as the scalar reference to rounding, for a short dependent
    /// chain: `x²` is clamped to `limit²` by one `min` beside the clamp of
    /// `x`, the offset and the factor join the numerator while the
    /// denominator is still being computed, and the quotient is a
    /// reciprocal estimate refined by one Newton step (within about an ulp
    /// of a division, in half its latency). A NaN lane gives the function at
    /// `−limit`, as the other SIMD tables' clamp does (the scalar reference's
    /// `f32::clamp` passes the NaN on).
    #[inline(always)]
    unsafe fn eval(&self, x: __m512, factor: Option<__m512>) -> __m512 {
        unsafe {
            let one = _mm512_set1_ps(1.0);
            let neg_limit = _mm512_sub_ps(_mm512_setzero_ps(), self.limit);
            // `min` and `max` return their second operand for a NaN lane.
            let s = _mm512_min_ps(_mm512_mul_ps(x, x), self.limit_squared);
            let x = _mm512_min_ps(_mm512_max_ps(x, neg_limit), self.limit);
            let s2 = _mm512_mul_ps(s, s);
            let [p0, p1, p2, p3] = self.p;
            let [q1, q2, q3, q4] = self.q;
            let num = _mm512_fmadd_ps(s2, _mm512_fmadd_ps(p3, s, p2), _mm512_fmadd_ps(p1, s, p0));
            let den = _mm512_fmadd_ps(
                s2,
                _mm512_fmadd_ps(s2, q4, _mm512_fmadd_ps(q3, s, q2)),
                _mm512_fmadd_ps(q1, s, one),
            );
            let scaled = factor.map_or(x, |factor| _mm512_mul_ps(x, factor));
            let top = _mm512_fmadd_ps(self.offset, den, _mm512_mul_ps(scaled, num));
            let r = _mm512_rcp14_ps(den);
            let quotient = _mm512_mul_ps(top, r);
            _mm512_fmadd_ps(quotient, _mm512_fnmadd_ps(den, r, one), quotient)
        }
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
