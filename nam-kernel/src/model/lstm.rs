//! Streaming LSTM, one sample at a time (the recurrence allows nothing else).

use super::conv::WeightCursor;
use super::BuildError;
use crate::format::LstmConfig;
use crate::kernels::Kernels;

/// One LSTM layer. Weights are stored transposed (`[input][gate row]`) so the
/// matrix-vector product is a run of contiguous, vectorizable `axpy`s.
#[derive(Clone, Debug)]
struct LstmLayer {
    input_size: usize,
    weights_t: Vec<f32>,
    bias: Vec<f32>,
    initial_hidden: Vec<f32>,
    initial_cell: Vec<f32>,
    /// The step's input then the hidden state: the gates' column vector.
    xh: Vec<f32>,
    cell: Vec<f32>,
    gates: Vec<f32>,
}

impl LstmLayer {
    fn hidden(&self) -> &[f32] {
        &self.xh[self.input_size..]
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
    pub(crate) fn build(config: &LstmConfig, weights: &[f32]) -> Result<Self, BuildError> {
        let h = config.hidden_size;
        let mut cursor = WeightCursor::new(weights);
        let mut layers = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let input_size = config.layer_input_size(l);
            let columns = input_size + h;
            let w = cursor.take(4 * h * columns)?;
            let mut weights_t = vec![0.0; w.len()];
            for row in 0..4 * h {
                for col in 0..columns {
                    weights_t[col * 4 * h + row] = w[row * columns + col];
                }
            }
            let bias = cursor.take(4 * h)?.to_vec();
            let initial_hidden = cursor.take(h)?.to_vec();
            let initial_cell = cursor.take(h)?.to_vec();
            let mut xh = vec![0.0; input_size];
            xh.extend_from_slice(&initial_hidden);
            layers.push(LstmLayer {
                input_size,
                weights_t,
                bias,
                xh,
                cell: initial_cell.clone(),
                initial_hidden,
                initial_cell,
                gates: vec![0.0; 4 * h],
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
            let input_size = layer.input_size;
            layer.xh[input_size..].copy_from_slice(&layer.initial_hidden);
            layer.cell.copy_from_slice(&layer.initial_cell);
        }
    }

    pub(crate) fn process_block(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        for (&x, y) in input.iter().zip(output.iter_mut()) {
            for l in 0..self.layers.len() {
                let (done, rest) = self.layers.split_at_mut(l);
                let layer = &mut rest[0];
                match done.last() {
                    Some(previous) => {
                        layer.xh[..layer.input_size].copy_from_slice(previous.hidden())
                    }
                    None => layer.xh[0] = x,
                }
                (kernels.lstm_step)(
                    &layer.weights_t,
                    &layer.bias,
                    layer.input_size,
                    &mut layer.xh,
                    &mut layer.gates,
                    &mut layer.cell,
                );
            }
            let last = self.layers.last().map_or(&[][..], LstmLayer::hidden);
            let dot: f32 = last
                .iter()
                .zip(&self.head_weights)
                .map(|(a, b)| a * b)
                .sum();
            *y = dot + self.head_bias;
        }
    }
}
