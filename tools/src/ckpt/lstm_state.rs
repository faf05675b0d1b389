//! The initial LSTM state the NAM trainer exports: the hidden and cell state
//! of every layer after 48000 samples of silence, starting from zeros
//! (`LSTM._get_initial_state` in `nam/models/recurrent.py`).

/// Samples of silence the trainer runs before taking the state.
const BURN_IN_SAMPLES: usize = 48_000;

/// One layer's `(weight_ih [4H x in], weight_hh [4H x H], bias_ih + bias_hh)`,
/// gates in PyTorch's order (input, forget, cell, output).
pub type Cell = (Vec<f32>, Vec<f32>, Vec<f32>);

/// `(hidden, cell)` per layer after the burn-in. Computed in `f64` and
/// rounded, so it is the state PyTorch's `float32` run settles on to within
/// its rounding.
pub fn burn_in_state(
    cells: &[Cell],
    input_size: usize,
    hidden: usize,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let mut h = vec![vec![0.0_f64; hidden]; cells.len()];
    let mut c = vec![vec![0.0_f64; hidden]; cells.len()];
    let mut gates = vec![0.0_f64; 4 * hidden];
    let silence = vec![0.0_f64; input_size];
    for _ in 0..BURN_IN_SAMPLES {
        for (l, (w_ih, w_hh, bias)) in cells.iter().enumerate() {
            let (below, rest) = h.split_at_mut(l);
            let input: &[f64] = if l == 0 { &silence } else { &below[l - 1] };
            let cin = input.len();
            let state = &mut rest[0];
            for (g, gate) in gates.iter_mut().enumerate() {
                let from_input: f64 = w_ih[g * cin..(g + 1) * cin]
                    .iter()
                    .zip(input)
                    .map(|(&w, x)| f64::from(w) * x)
                    .sum();
                let from_state: f64 = w_hh[g * hidden..(g + 1) * hidden]
                    .iter()
                    .zip(state.iter())
                    .map(|(&w, x)| f64::from(w) * x)
                    .sum();
                *gate = f64::from(bias[g]) + from_input + from_state;
            }
            for k in 0..hidden {
                let i = sigmoid(gates[k]);
                let f = sigmoid(gates[hidden + k]);
                let g = gates[2 * hidden + k].tanh();
                let o = sigmoid(gates[3 * hidden + k]);
                c[l][k] = f * c[l][k] + i * g;
                state[k] = o * c[l][k].tanh();
            }
        }
    }
    h.iter()
        .zip(&c)
        .map(|(h, c)| {
            (
                h.iter().map(|&x| x as f32).collect(),
                c.iter().map(|&x| x as f32).collect(),
            )
        })
        .collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_weights_settle_on_the_bias_fixed_point() {
        // H = 1, no recurrence: c grows by i*g each step with f = sigmoid(0) = 0.5,
        // so c -> i*g / (1 - f) = 2 * sigmoid(0) * tanh(1) = tanh(1).
        let w_ih = [0.0_f32; 4];
        let w_hh = [0.0_f32; 4];
        let bias = vec![0.0, 0.0, 1.0, 0.0];
        let state = burn_in_state(&[(w_ih.to_vec(), w_hh.to_vec(), bias)], 1, 1);
        let c = 1.0_f64.tanh();
        assert!((f64::from(state[0].1[0]) - c).abs() < 1e-7);
        assert!((f64::from(state[0].0[0]) - 0.5 * c.tanh()).abs() < 1e-7);
    }
}
