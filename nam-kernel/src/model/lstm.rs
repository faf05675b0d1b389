//! Streaming LSTM, one sample at a time (the recurrence allows nothing else).

use super::conv::WeightCursor;
use super::BuildError;
use crate::format::{Activation, LstmConfig};
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
    hidden: Vec<f32>,
    cell: Vec<f32>,
    gates: Vec<f32>,
}

/// A runnable LSTM with its linear head.
#[derive(Clone, Debug)]
pub(crate) struct Lstm {
    layers: Vec<LstmLayer>,
    head_weights: Vec<f32>,
    head_bias: f32,
    hidden_size: usize,
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
            layers.push(LstmLayer {
                input_size,
                weights_t,
                bias,
                hidden: initial_hidden.clone(),
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
            hidden_size: h,
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
        for (x, y) in input.iter().zip(output.iter_mut()) {
            for l in 0..self.layers.len() {
                let (done, rest) = self.layers.split_at_mut(l);
                let layer_input: &[f32] = match done.last() {
                    Some(previous) => &previous.hidden,
                    None => std::slice::from_ref(x),
                };
                rest[0].step(kernels, layer_input, self.hidden_size);
            }
            let last = self.layers.last().map_or(&[][..], |l| &l.hidden[..]);
            let dot: f32 = last
                .iter()
                .zip(&self.head_weights)
                .map(|(a, b)| a * b)
                .sum();
            *y = dot + self.head_bias;
        }
    }
}

impl LstmLayer {
    /// One time step: gates from `[input, hidden]`, then the cell and hidden update.
    fn step(&mut self, kernels: &Kernels, input: &[f32], h: usize) {
        let gates = &mut self.gates[..];
        gates.copy_from_slice(&self.bias);
        let (input_columns, hidden_columns) = self.weights_t.split_at(self.input_size * 4 * h);
        (kernels.matvec_acc)(input_columns, &input[..self.input_size], gates);
        (kernels.matvec_acc)(hidden_columns, &self.hidden, gates);
        // Row blocks i, f, g, o: sigmoid on i, f and o, tanh on g.
        let (ifg, o) = gates.split_at_mut(3 * h);
        let (i_f, g) = ifg.split_at_mut(2 * h);
        (kernels.activate)(&Activation::Sigmoid, 0, i_f);
        (kernels.activate)(&Activation::Tanh, 0, g);
        (kernels.activate)(&Activation::Sigmoid, 0, o);
        let (i, f) = i_f.split_at(h);
        for k in 0..h {
            self.cell[k] = f[k] * self.cell[k] + i[k] * g[k];
        }
        self.hidden.copy_from_slice(&self.cell);
        (kernels.activate)(&Activation::Tanh, 0, &mut self.hidden);
        for (hidden, &o) in self.hidden.iter_mut().zip(o.iter()) {
            *hidden *= o;
        }
    }
}
