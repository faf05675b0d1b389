//! The LSTM training model: stacked LSTM layers (learned initial state) and a
//! linear head. Exported like the NAM trainer: per layer `[W_ih | W_hh]`, the summed
//! biases and the state reached after one second of silence from a zero state.

use nam_kernel::format::LstmConfig;
use tch::{nn, Tensor};

use super::{assign, default_init, flatten};

/// Zero samples run from a zero state to find the exported initial state.
const BURN_IN_SAMPLES: i64 = 48_000;
/// NAM's LSTM init moves this much from the input gate bias to the forget gate's.
const FORGET_BIAS_SHIFT: f64 = 2.0;

/// A stacked LSTM with a linear head.
#[derive(Debug)]
pub struct LstmModel {
    config: LstmConfig,
    /// Per layer: `w_ih`, `w_hh`, `b_ih`, `b_hh` (the order `Tensor::lstm` takes).
    cell_params: Vec<Tensor>,
    initial_hidden: Tensor,
    initial_cell: Tensor,
    head_weight: Tensor,
    head_bias: Tensor,
}

impl LstmModel {
    /// Creates the parameters, initialized like PyTorch's `nn.LSTM` plus NAM's
    /// gate-bias shift, with a zero initial state.
    pub fn new(path: &nn::Path, config: &LstmConfig) -> Self {
        let h = config.hidden_size as i64;
        let init = default_init(config.hidden_size);
        let mut cell_params = Vec::new();
        for layer in 0..config.num_layers {
            let p = path / format!("layer{layer}");
            let input = config.layer_input_size(layer) as i64;
            cell_params.push(p.var("w_ih", &[4 * h, input], init));
            cell_params.push(p.var("w_hh", &[4 * h, h], init));
            for name in ["b_ih", "b_hh"] {
                let bias = p.var(name, &[4 * h], init);
                tch::no_grad(|| {
                    let _ = bias.narrow(0, 0, h).g_sub_scalar_(FORGET_BIAS_SHIFT);
                    let _ = bias.narrow(0, h, h).g_add_scalar_(FORGET_BIAS_SHIFT);
                });
                cell_params.push(bias);
            }
        }
        let layers = config.num_layers as i64;
        Self {
            config: *config,
            cell_params,
            initial_hidden: path.var("initial_hidden", &[layers, h], nn::Init::Const(0.0)),
            initial_cell: path.var("initial_cell", &[layers, h], nn::Init::Const(0.0)),
            head_weight: path.var("head_weight", &[1, h], init),
            head_bias: path.var("head_bias", &[1], init),
        }
    }

    /// `(batch, samples)` in, `(batch, samples)` out, from the initial state.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let batch = x.size()[0];
        let state = |s: &Tensor| s.unsqueeze(1).expand([-1, batch, -1], false).contiguous();
        let (features, _, _) = self.run(
            &x.unsqueeze(2),
            &[state(&self.initial_hidden), state(&self.initial_cell)],
        );
        features.matmul(&self.head_weight.tr()).squeeze_dim(2) + &self.head_bias
    }

    fn run(&self, x: &Tensor, state: &[Tensor]) -> (Tensor, Tensor, Tensor) {
        x.lstm(
            state,
            &self.cell_params,
            true,
            self.config.num_layers as i64,
            0.0,
            false,
            false,
            true,
        )
    }

    /// The `.nam` weights, with the state after `BURN_IN_SAMPLES` zeros as the
    /// stored initial state (what the NAM trainer exports).
    pub fn export_weights(&self) -> Vec<f32> {
        let _guard = tch::no_grad_guard();
        let layers = self.config.num_layers as i64;
        let h = self.config.hidden_size as i64;
        let opts = (self.initial_hidden.kind(), self.initial_hidden.device());
        let zeros = Tensor::zeros([1, BURN_IN_SAMPLES, 1], opts);
        let zero_state = Tensor::zeros([layers, 1, h], opts);
        let (_, hidden, cell) = self.run(&zeros, &[zero_state.shallow_clone(), zero_state]);
        let mut tensors = Vec::new();
        for (layer, p) in self.cell_params.chunks(4).enumerate() {
            let l = layer as i64;
            tensors.push(Tensor::cat(&[&p[0], &p[1]], 1));
            tensors.push(&p[2] + &p[3]);
            tensors.push(hidden.get(l).get(0));
            tensors.push(cell.get(l).get(0));
        }
        tensors.push(self.head_weight.shallow_clone());
        tensors.push(self.head_bias.shallow_clone());
        flatten(&tensors)
    }

    /// Sets the parameters from `.nam` weights: the summed bias goes to `b_ih`
    /// (`b_hh` becomes zero) and the stored state becomes the initial state.
    pub fn import_weights(&mut self, weights: &[f32]) {
        let _guard = tch::no_grad_guard();
        let h = self.config.hidden_size;
        let mut at = 0;
        for layer in 0..self.config.num_layers {
            let input = self.config.layer_input_size(layer);
            let w = Tensor::from_slice(&weights[at..at + 4 * h * (input + h)])
                .reshape([4 * h as i64, (input + h) as i64]);
            at += 4 * h * (input + h);
            let p = &mut self.cell_params[4 * layer..4 * layer + 4];
            p[0].copy_(&w.narrow(1, 0, input as i64));
            p[1].copy_(&w.narrow(1, input as i64, h as i64));
            at += assign(&mut p[2..3], &weights[at..]);
            let _ = p[3].zero_();
            for state in [&mut self.initial_hidden, &mut self.initial_cell] {
                let mut row = state.get(layer as i64);
                at += assign(std::slice::from_mut(&mut row), &weights[at..]);
            }
        }
        assign(
            &mut [
                self.head_weight.shallow_clone(),
                self.head_bias.shallow_clone(),
            ],
            &weights[at..],
        );
    }
}
