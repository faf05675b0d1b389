//! An LSTM layer's weights packed for [`Kernels::lstm_step`](super::Kernels::lstm_step),
//! and the reference step over them.
//!
//! The packing interleaves the four gates by chunks of `lanes` hidden units:
//! rows `[i f g o]` of units `0..lanes`, then of units `lanes..2·lanes`, and so
//! on, the hidden size padded with zero rows to a whole number of chunks. A
//! vectorized step then holds each chunk's four gate vectors in registers from
//! the bias through every column to the cell update, with no gate buffer and
//! no partial vector.

use super::activation::{sigmoid, tanh};
use super::{aligned_zeros, AlignedFloats, Kernels};

/// One LSTM layer's weights, packed for one kernel table (see the module doc).
#[derive(Clone, Debug)]
pub struct LstmWeights {
    input_size: usize,
    hidden_size: usize,
    lanes: usize,
    padded_hidden: usize,
    /// Column by column (inputs, then hidden units): `4 · padded_hidden` packed
    /// rows each. With every column a whole number of chunks, each chunk's
    /// gate vectors start on a 64-byte line.
    weights: AlignedFloats,
    /// One per packed row.
    bias: AlignedFloats,
}

/// The four gates in PyTorch's order.
const GATES: usize = 4;

impl LstmWeights {
    /// Packs PyTorch's `weight` (`[4 · hidden][input + hidden]`, row-major,
    /// gates in the order i, f, g, o; `weight_ih` and `weight_hh` side by
    /// side) and the summed bias (`4 · hidden`) for `kernels`.
    ///
    /// # Panics
    /// When the slices' lengths do not match the sizes.
    pub fn pack(
        kernels: &Kernels,
        input_size: usize,
        hidden_size: usize,
        weight: &[f32],
        bias: &[f32],
    ) -> Self {
        let columns = input_size + hidden_size;
        assert_eq!(weight.len(), GATES * hidden_size * columns, "lstm weight");
        assert_eq!(bias.len(), GATES * hidden_size, "lstm bias");
        let lanes = kernels.lstm_lanes;
        let padded_hidden = hidden_size.div_ceil(lanes) * lanes;
        let rows = GATES * padded_hidden;
        let mut packed = Self {
            input_size,
            hidden_size,
            lanes,
            padded_hidden,
            weights: aligned_zeros(rows * columns),
            bias: aligned_zeros(rows),
        };
        for gate in 0..GATES {
            for unit in 0..hidden_size {
                let source = gate * hidden_size + unit;
                let row = packed.row(gate, unit);
                packed.bias[row] = bias[source];
                for column in 0..columns {
                    packed.weights[column * rows + row] = weight[source * columns + column];
                }
            }
        }
        packed
    }

    /// The packed row of `gate`'s pre-activation for hidden unit `unit`.
    pub(super) fn row(&self, gate: usize, unit: usize) -> usize {
        (unit / self.lanes * GATES + gate) * self.lanes + unit % self.lanes
    }

    /// Inputs per step.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Hidden units.
    pub fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    /// Hidden units rounded up to whole chunks: the length of the hidden and
    /// cell state buffers a step writes (the padding units hold values no
    /// output depends on).
    pub fn padded_hidden(&self) -> usize {
        self.padded_hidden
    }

    /// The chunk width the rows are interleaved by.
    pub(super) fn lanes(&self) -> usize {
        self.lanes
    }

    /// The packed weights, column by column.
    pub(super) fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The packed bias.
    pub(super) fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// Checks the buffers a step is handed (see [`Kernels::lstm_step`]).
    ///
    /// # Panics
    /// When a length is wrong.
    pub(super) fn check_step(
        &self,
        input: &[f32],
        hidden: &[f32],
        hidden_out: &[f32],
        cell: &[f32],
    ) {
        assert_eq!(input.len(), self.input_size, "lstm input");
        assert!(hidden.len() >= self.hidden_size, "lstm hidden");
        assert_eq!(hidden_out.len(), self.padded_hidden, "lstm hidden_out");
        assert_eq!(cell.len(), self.padded_hidden, "lstm cell");
    }
}

/// One table's LSTM step for [`run_layer`]: a type rather than a function
/// pointer, so the step inlines into the table's loop over frames.
pub(super) trait LstmStep {
    /// One step, as [`Kernels::lstm_step`](super::Kernels::lstm_step).
    ///
    /// # Safety
    /// The table's instruction set must be available.
    unsafe fn step(
        weights: &LstmWeights,
        input: &[f32],
        hidden: &[f32],
        hidden_out: &mut [f32],
        cell: &mut [f32],
    );
}

/// [`Kernels::lstm_layer`](super::Kernels::lstm_layer) over `K`'s step: frame
/// `t` reads the hidden state frame `t − 1` wrote into `outputs` (the first
/// reads `hidden`), and the last frame's state is copied back to `hidden`.
///
/// # Safety
/// As `K::step`.
///
/// # Panics
/// When a length does not fit the layer (see [`Kernels::lstm_layer`](super::Kernels::lstm_layer)).
#[inline(always)]
pub(super) unsafe fn run_layer<K: LstmStep>(
    weights: &LstmWeights,
    inputs: &[f32],
    input_stride: usize,
    hidden: &mut [f32],
    cell: &mut [f32],
    outputs: &mut [f32],
) {
    let (padded, input_size) = (weights.padded_hidden, weights.input_size);
    assert!(input_stride >= input_size, "lstm input stride");
    assert_eq!(hidden.len(), padded, "lstm hidden");
    assert!(outputs.len().is_multiple_of(padded), "lstm outputs");
    let frames = outputs.len() / padded;
    if frames == 0 {
        return;
    }
    assert!(
        inputs.len() >= (frames - 1) * input_stride + input_size,
        "lstm inputs"
    );
    // SAFETY: the caller's promise.
    unsafe {
        K::step(
            weights,
            &inputs[..input_size],
            hidden,
            &mut outputs[..padded],
            cell,
        );
        for t in 1..frames {
            let (done, rest) = outputs.split_at_mut(t * padded);
            K::step(
                weights,
                &inputs[t * input_stride..][..input_size],
                &done[(t - 1) * padded..],
                &mut rest[..padded],
                cell,
            );
        }
    }
    hidden.copy_from_slice(&outputs[(frames - 1) * padded..]);
}

/// The reference step as an [`LstmStep`].
pub(super) struct ScalarStep;

impl LstmStep for ScalarStep {
    unsafe fn step(
        weights: &LstmWeights,
        input: &[f32],
        hidden: &[f32],
        hidden_out: &mut [f32],
        cell: &mut [f32],
    ) {
        lstm_step(weights, input, hidden, hidden_out, cell);
    }
}

/// One LSTM step, the reference; see [`Kernels::lstm_step`](super::Kernels::lstm_step).
pub(super) fn lstm_step(
    weights: &LstmWeights,
    input: &[f32],
    hidden: &[f32],
    hidden_out: &mut [f32],
    cell: &mut [f32],
) {
    weights.check_step(input, hidden, hidden_out, cell);
    let rows = GATES * weights.padded_hidden;
    let gate = |gate: usize, unit: usize| {
        let row = weights.row(gate, unit);
        let columns = input.iter().chain(&hidden[..weights.hidden_size]);
        let mut sum = weights.bias[row];
        for (column, &x) in columns.enumerate() {
            sum += weights.weights[column * rows + row] * x;
        }
        sum
    };
    for unit in 0..weights.padded_hidden {
        let (i, f, g, o) = (
            sigmoid(gate(0, unit)),
            sigmoid(gate(1, unit)),
            tanh(gate(2, unit)),
            sigmoid(gate(3, unit)),
        );
        cell[unit] = f * cell[unit] + i * g;
        hidden_out[unit] = o * tanh(cell[unit]);
    }
}

/// The reference [`super::Kernels::dot_rows`]: one sum per frame, in order.
pub(super) fn dot_rows(weights: &[f32], bias: f32, rows: &[f32], stride: usize, out: &mut [f32]) {
    for (t, y) in out.iter_mut().enumerate() {
        let row = &rows[t * stride..][..weights.len()];
        *y = bias + weights.iter().zip(row).map(|(w, x)| w * x).sum::<f32>();
    }
}
