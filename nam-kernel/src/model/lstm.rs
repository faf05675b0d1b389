//! Streaming LSTM: each layer runs over a whole block in one kernel call
//! ([`Kernels::lstm_layer`]), then the linear head reads every frame's last
//! hidden state.

use super::conv::WeightCursor;
use crate::error::BuildError;
use crate::format::LstmConfig;
use crate::kernels::{Kernels, LstmWeights};

/// Frames per kernel call: longer blocks run in slices of this many, so the
/// per-frame hidden states of two layers stay small (and in cache).
const SLICE_FRAMES: usize = 64;

/// One LSTM layer: packed weights and its state.
#[derive(Clone, Debug)]
struct LstmLayer {
    weights: LstmWeights,
    initial_hidden: Vec<f32>,
    initial_cell: Vec<f32>,
    hidden: Vec<f32>,
    cell: Vec<f32>,
}

/// A runnable LSTM with its linear head.
#[derive(Clone, Debug)]
pub(crate) struct Lstm {
    layers: Vec<LstmLayer>,
    head_weights: Vec<f32>,
    head_bias: f32,
    /// Every frame's hidden state of a slice, for two layers in turn (the
    /// one a layer reads and the one it writes): [`SLICE_FRAMES`] × the
    /// widest padded state each.
    states: [Vec<f32>; 2],
}

impl Lstm {
    /// Builds the layers with weights packed for `kernels`, the table the
    /// model will run on.
    pub(crate) fn build(
        config: &LstmConfig,
        weights: &[f32],
        kernels: &Kernels,
    ) -> Result<Self, BuildError> {
        let h = config.hidden_size;
        let mut cursor = WeightCursor::new(weights);
        let mut layers = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let input_size = config.layer_input_size(l);
            let weight = cursor.take(4 * h * (input_size + h))?;
            let bias = cursor.take(4 * h)?;
            let weights = LstmWeights::pack(kernels, input_size, h, weight, bias);
            let padded = |state: &[f32]| {
                let mut buffer = vec![0.0; weights.padded_hidden()];
                buffer[..h].copy_from_slice(state);
                buffer
            };
            let initial_hidden = padded(cursor.take(h)?);
            let initial_cell = padded(cursor.take(h)?);
            layers.push(LstmLayer {
                hidden: initial_hidden.clone(),
                cell: initial_cell.clone(),
                initial_hidden,
                initial_cell,
                weights,
            });
        }
        let head_weights = cursor.take(h)?.to_vec();
        let head_bias = cursor.scalar()?;
        cursor.finish()?;
        let widest = layers
            .iter()
            .map(|layer| layer.weights.padded_hidden())
            .max()
            .unwrap_or(0);
        Ok(Self {
            layers,
            head_weights,
            head_bias,
            states: [
                vec![0.0; SLICE_FRAMES * widest],
                vec![0.0; SLICE_FRAMES * widest],
            ],
        })
    }

    /// Back to the stored initial state (the state the trainer reached on silence).
    pub(crate) fn clear(&mut self) {
        for layer in &mut self.layers {
            layer.hidden.copy_from_slice(&layer.initial_hidden);
            layer.cell.copy_from_slice(&layer.initial_cell);
        }
    }

    pub(crate) fn process_block(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        for (input, output) in input
            .chunks(SLICE_FRAMES)
            .zip(output.chunks_mut(SLICE_FRAMES))
        {
            self.process_slice(kernels, input, output);
        }
    }

    /// At most [`SLICE_FRAMES`] frames: every layer over the slice, then the head.
    fn process_slice(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        let frames = input.len();
        let [first, second] = &mut self.states;
        let (mut read, mut write) = (first, second);
        // The previous layer's states: the input samples for the first layer.
        let (mut inputs, mut stride): (&[f32], usize) = (input, 1);
        for layer in &mut self.layers {
            let padded = layer.weights.padded_hidden();
            let outputs = &mut write[..frames * padded];
            (kernels.lstm_layer)(
                &layer.weights,
                inputs,
                stride,
                &mut layer.hidden,
                &mut layer.cell,
                outputs,
            );
            std::mem::swap(&mut read, &mut write);
            (inputs, stride) = (&read[..frames * padded], padded);
        }
        if self.layers.is_empty() {
            // The format requires at least one layer.
            output.fill(self.head_bias);
            return;
        }
        (kernels.dot_rows)(&self.head_weights, self.head_bias, inputs, stride, output);
    }
}
