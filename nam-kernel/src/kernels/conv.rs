//! The reference convolution, matrix-vector product and LSTM step: plain
//! loops with separate multiply and add, written for clarity. Every SIMD table
//! is tested against these.

use super::activation::{sigmoid, tanh};
use super::{ConvShape, Output};

/// One LSTM step; see [`Kernels::lstm_step`](super::Kernels::lstm_step).
pub(super) fn lstm_step(
    weights_t: &[f32],
    bias: &[f32],
    input_size: usize,
    xh: &mut [f32],
    gates: &mut [f32],
    cell: &mut [f32],
) {
    let h = cell.len();
    gates.copy_from_slice(bias);
    matvec_acc(weights_t, xh, gates);
    let hidden = &mut xh[input_size..];
    for k in 0..h {
        let (i, f, g, o) = (
            sigmoid(gates[k]),
            sigmoid(gates[h + k]),
            tanh(gates[2 * h + k]),
            sigmoid(gates[3 * h + k]),
        );
        cell[k] = f * cell[k] + i * g;
        hidden[k] = o * tanh(cell[k]);
    }
}

/// `out[r] += Σ_c weights_t[c * rows + r] · x[c]`, `rows = out.len()`.
fn matvec_acc(weights_t: &[f32], x: &[f32], out: &mut [f32]) {
    let rows = out.len();
    if rows == 0 {
        return;
    }
    for (column, &value) in weights_t.chunks_exact(rows).zip(x) {
        for (y, &w) in out.iter_mut().zip(column) {
            *y += w * value;
        }
    }
}

/// `out = (out or 0) + bias + conv(input)`; see [`ConvShape`] for the layout.
pub(super) fn conv(
    shape: &ConvShape,
    weights: &[f32],
    bias: Option<&[f32]>,
    output: Output,
    input: &[f32],
    out: &mut [f32],
) {
    let n = shape.frames;
    if n == 0 {
        return;
    }
    let cin_g = shape.cin_per_group;
    let cout_g = shape.cout / shape.groups;
    for o in 0..shape.cout {
        let (group, o_local) = (o / cout_g, o % cout_g);
        let row = &mut out[o * shape.out_stride..][..n];
        let b = bias.map_or(0.0, |b| b[o]);
        match output {
            Output::Overwrite => row.fill(b),
            Output::Accumulate => row.iter_mut().for_each(|y| *y += b),
            Output::AddTo { source, stride } => {
                for (y, &x) in row.iter_mut().zip(&source[o * stride..][..n]) {
                    *y = x + b;
                }
            }
        }
        for tap in 0..shape.taps {
            for i in 0..cin_g {
                let w = weights[((group * shape.taps + tap) * cin_g + i) * cout_g + o_local];
                let x = &input
                    [(group * cin_g + i) * shape.in_stride + shape.first + tap * shape.dilation..]
                    [..n];
                for (y, &xv) in row.iter_mut().zip(x) {
                    *y += w * xv;
                }
            }
        }
    }
}
