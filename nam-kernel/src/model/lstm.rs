//! Streaming LSTM, one sample at a time (the recurrence allows nothing else).

use super::conv::WeightCursor;
use crate::error::BuildError;
use crate::format::LstmConfig;
use crate::kernels::{Kernels, LstmWeights};

/// One LSTM layer: packed weights, and the hidden state in two buffers that
/// swap each step (a step reads one and writes the other).
#[derive(Clone, Debug)]
struct LstmLayer {
    weights: LstmWeights,
    initial_hidden: Vec<f32>,
    initial_cell: Vec<f32>,
    hidden: [Vec<f32>; 2],
    /// Which of `hidden` holds the current state.
    current: usize,
    cell: Vec<f32>,
}

impl LstmLayer {
    /// The current hidden state (the units, without padding).
    fn hidden(&self) -> &[f32] {
        &self.hidden[self.current][..self.weights.hidden_size()]
    }

    /// One time step from `input`.
    fn step(&mut self, kernels: &Kernels, input: &[f32]) {
        let [first, second] = &mut self.hidden;
        let (hidden, hidden_out) = if self.current == 0 {
            (first, second)
        } else {
            (second, first)
        };
        (kernels.lstm_step)(&self.weights, input, hidden, hidden_out, &mut self.cell);
        self.current ^= 1;
    }
}

/// A runnable LSTM with its linear head.
#[derive(Clone, Debug)]
pub(crate) struct Lstm {
    layers: Vec<LstmLayer>,
    head_weights: Vec<f32>,
    head_bias: f32,
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
                hidden: [initial_hidden.clone(), initial_hidden.clone()],
                current: 0,
                cell: initial_cell.clone(),
                initial_hidden,
                initial_cell,
                weights,
            });
        }
        let head_weights = cursor.take(h)?.to_vec();
        let head_bias = cursor.scalar()?;
        cursor.finish()?;
        Ok(Self {
            layers,
            head_weights,
            head_bias,
        })
    }

    /// Back to the stored initial state (the state the trainer reached on silence).
    pub(crate) fn clear(&mut self) {
        for layer in &mut self.layers {
            layer.hidden[layer.current].copy_from_slice(&layer.initial_hidden);
            layer.cell.copy_from_slice(&layer.initial_cell);
        }
    }

    pub(crate) fn process_block(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        for (x, y) in input.iter().zip(output.iter_mut()) {
            // The format requires at least one layer.
            let Some((first, rest)) = self.layers.split_first_mut() else {
                *y = self.head_bias;
                continue;
            };
            first.step(kernels, std::slice::from_ref(x));
            let mut previous: &LstmLayer = first;
            for layer in rest {
                layer.step(kernels, previous.hidden());
                previous = layer;
            }
            let dot: f32 = previous
                .hidden()
                .iter()
                .zip(&self.head_weights)
                .map(|(a, b)| a * b)
                .sum();
            *y = dot + self.head_bias;
        }
    }
}
