//! A GRU layer's weights packed for [`Kernels::gru_step`](super::Kernels::gru_step),
//! and the reference step over them.
//!
//! A GRU (Keras with `reset_after`, PyTorch's `nn.GRU`) computes, from the
//! input `x` and the previous state `h`,
//! `z = σ(W_z x + b_z + U_z h + c_z)`, `r = σ(W_r x + b_r + U_r h + c_r)`,
//! `n = tanh(W_n x + b_n + r ⊙ (U_n h + c_n))` and `h' = n + z ⊙ (h − n)`.
//!
//! It packs into the LSTM's layout ([`LstmWeights`]) as four rows per unit:
//! `z` and `r` over every column with both biases summed, `W_n x + b_n` over
//! the input columns only and `U_n h + c_n` over the hidden columns only. The
//! vectorized LSTM step's register blocking then serves the GRU unchanged;
//! only the update after the gates differs.

use super::activation::{sigmoid, tanh};
use super::{Kernels, LstmWeights};

/// One GRU layer's weights, packed for one kernel table (see the module doc).
#[derive(Clone, Debug)]
pub struct GruWeights {
    packed: LstmWeights,
}

/// Rows per unit in the packing: z, r, the input part of n, the hidden part of n.
const ROWS: usize = 4;

impl GruWeights {
    /// Packs Keras' GRU weights for `kernels`: `kernel` `[input][3 · hidden]`
    /// and `recurrent` `[hidden][3 · hidden]` (row-major, gates z, r, h),
    /// `input_bias` and `recurrent_bias` (`3 · hidden` each).
    ///
    /// # Panics
    /// When the slices' lengths do not match the sizes.
    pub fn pack(
        kernels: &Kernels,
        input_size: usize,
        hidden_size: usize,
        kernel: &[f32],
        recurrent: &[f32],
        input_bias: &[f32],
        recurrent_bias: &[f32],
    ) -> Self {
        let (i, h) = (input_size, hidden_size);
        assert_eq!(kernel.len(), i * 3 * h, "gru kernel");
        assert_eq!(recurrent.len(), h * 3 * h, "gru recurrent");
        assert_eq!(input_bias.len(), 3 * h, "gru input bias");
        assert_eq!(recurrent_bias.len(), 3 * h, "gru recurrent bias");
        let columns = i + h;
        // PyTorch's LSTM layout: `[4 · hidden][input + hidden]`, row-major.
        let mut weight = vec![0.0; ROWS * h * columns];
        let mut bias = vec![0.0; ROWS * h];
        for unit in 0..h {
            let (z, r, n) = (unit, h + unit, 2 * h + unit);
            let rows = [
                (0, z, true, true),
                (1, r, true, true),
                (2, n, true, false),
                (3, n, false, true),
            ];
            for (row, gate, from_input, from_hidden) in rows {
                let out = (row * h + unit) * columns;
                if from_input {
                    for c in 0..i {
                        weight[out + c] = kernel[c * 3 * h + gate];
                    }
                    bias[row * h + unit] += input_bias[gate];
                }
                if from_hidden {
                    for c in 0..h {
                        weight[out + i + c] = recurrent[c * 3 * h + gate];
                    }
                    bias[row * h + unit] += recurrent_bias[gate];
                }
            }
        }
        Self {
            packed: LstmWeights::pack(kernels, i, h, &weight, &bias),
        }
    }

    /// Inputs per step.
    pub fn input_size(&self) -> usize {
        self.packed.input_size()
    }

    /// Hidden units.
    pub fn hidden_size(&self) -> usize {
        self.packed.hidden_size()
    }

    /// Hidden units rounded up to whole chunks: the length of the state
    /// buffers a step reads and writes.
    pub fn padded_hidden(&self) -> usize {
        self.packed.padded_hidden()
    }

    /// The packed rows, in the LSTM's layout.
    pub(super) fn packed(&self) -> &LstmWeights {
        &self.packed
    }

    /// Checks the buffers a step is handed (see [`Kernels::gru_step`]).
    ///
    /// # Panics
    /// When a length is wrong.
    pub(super) fn check_step(&self, input: &[f32], hidden: &[f32], hidden_out: &[f32]) {
        assert_eq!(input.len(), self.input_size(), "gru input");
        assert_eq!(hidden.len(), self.padded_hidden(), "gru hidden");
        assert_eq!(hidden_out.len(), self.padded_hidden(), "gru hidden_out");
    }
}

/// One GRU step, the reference; see [`Kernels::gru_step`](super::Kernels::gru_step).
pub(super) fn gru_step(
    weights: &GruWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
) {
    weights.check_step(input, hidden, hidden_out);
    let packed = &weights.packed;
    let rows = ROWS * packed.padded_hidden();
    let gate = |gate: usize, unit: usize| {
        let row = packed.row(gate, unit);
        let columns = input.iter().chain(&hidden[..packed.hidden_size()]);
        let mut sum = packed.bias()[row];
        for (column, &x) in columns.enumerate() {
            sum += packed.weights()[column * rows + row] * x;
        }
        sum
    };
    for unit in 0..packed.padded_hidden() {
        let z = sigmoid(gate(0, unit));
        let r = sigmoid(gate(1, unit));
        let n = tanh(gate(2, unit) + r * gate(3, unit));
        hidden_out[unit] = n + z * (hidden[unit] - n);
    }
}
