//! Adam with L2 weight decay, computed as PyTorch's `torch.optim.Adam` (and
//! tch's `nn::Adam`) computes it, written out here because libtorch's
//! optimizer does not expose its moments: a checkpoint saves them
//! ([`AdamState`]) and `--resume` restores them, so a resumed run continues
//! exactly where the interrupted one stopped.

use std::path::Path;

use tch::{nn::VarStore, Kind, Tensor};

/// Decay of the first moment (PyTorch's default).
const BETA1: f64 = 0.9;
/// Decay of the second moment (PyTorch's default).
const BETA2: f64 = 0.999;
/// Added to the second moment's root (PyTorch's default).
const EPSILON: f64 = 1e-8;

/// The optimizer over a var store's trainable variables.
pub struct Adam {
    parameters: Vec<Tensor>,
    state: AdamState,
    learning_rate: f64,
    weight_decay: f64,
}

/// Adam's moments and step count, per trainable variable in the var store's
/// order.
pub struct AdamState {
    /// Steps taken (for the bias corrections).
    pub steps: i64,
    /// First moments.
    pub first: Vec<Tensor>,
    /// Second moments.
    pub second: Vec<Tensor>,
}

impl Adam {
    /// Adam over `vars`' trainable variables, moments at zero.
    pub fn new(vars: &VarStore, learning_rate: f64, weight_decay: f64) -> Self {
        let parameters = vars.trainable_variables();
        let zeros = || parameters.iter().map(Tensor::zeros_like).collect();
        Self {
            state: AdamState {
                steps: 0,
                first: zeros(),
                second: zeros(),
            },
            parameters,
            learning_rate,
            weight_decay,
        }
    }

    /// Sets the learning rate for the next steps.
    pub fn set_learning_rate(&mut self, learning_rate: f64) {
        self.learning_rate = learning_rate;
    }

    /// The trainable variables, in the var store's order (the order of
    /// [`Adam::gradients`] and of the gradients [`Adam::step`] takes).
    pub fn parameters(&self) -> &[Tensor] {
        &self.parameters
    }

    /// The gradient of `loss` with respect to each trainable variable
    /// (undefined for a variable `loss` does not depend on).
    pub fn gradients(&self, loss: &Tensor) -> Vec<Tensor> {
        Tensor::run_backward(&[loss], &self.parameters, false, false)
    }

    /// One step along `gradients` (one per trainable variable, in order).
    pub fn step(&mut self, gradients: &[Tensor]) {
        let _no_grad = tch::no_grad_guard();
        let state = &mut self.state;
        state.steps += 1;
        let correction1 = 1.0 - BETA1.powi(state.steps as i32);
        let correction2 = 1.0 - BETA2.powi(state.steps as i32);
        let step_size = self.learning_rate / correction1;
        let moments = state.first.iter_mut().zip(state.second.iter_mut());
        let variables = self.parameters.iter_mut().zip(gradients);
        for ((parameter, gradient), (first, second)) in variables.zip(moments) {
            if !gradient.defined() {
                continue;
            }
            // L2 weight decay, added to the gradient.
            let gradient = match self.weight_decay {
                0.0 => gradient.shallow_clone(),
                decay => gradient + &*parameter * decay,
            };
            *first *= BETA1;
            *first += &gradient * (1.0 - BETA1);
            *second *= BETA2;
            *second += gradient.square() * (1.0 - BETA2);
            let denominator = second.sqrt() / correction2.sqrt() + EPSILON;
            *parameter -= &*first / denominator * step_size;
        }
    }

    /// The moments and step count.
    pub fn state(&self) -> &AdamState {
        &self.state
    }

    /// Continues from `state` (saved from an optimizer over the same
    /// architecture); refuses a state whose variables do not match.
    pub fn restore(&mut self, state: AdamState) -> Result<(), String> {
        let count = self.parameters.len();
        if state.first.len() != count || state.second.len() != count {
            return Err(format!(
                "it holds moments for {} variables, the model has {count}",
                state.first.len()
            ));
        }
        let moments = state.first.iter().zip(&state.second);
        for (i, (parameter, (first, second))) in self.parameters.iter().zip(moments).enumerate() {
            if first.size() != parameter.size() || second.size() != parameter.size() {
                return Err(format!(
                    "variable {i} has shape {:?} in it, {:?} in the model",
                    first.size(),
                    parameter.size()
                ));
            }
        }
        let device = self.parameters.first().map(Tensor::device);
        let to_device = |tensors: Vec<Tensor>| -> Vec<Tensor> {
            tensors
                .into_iter()
                .map(|t| match device {
                    Some(device) => t.to_device(device),
                    None => t,
                })
                .collect()
        };
        self.state = AdamState {
            steps: state.steps,
            first: to_device(state.first),
            second: to_device(state.second),
        };
        Ok(())
    }
}

impl AdamState {
    /// Writes the state to `path` (libtorch's tensor archive).
    pub fn save(&self, path: &Path) -> Result<(), tch::TchError> {
        let mut named = vec![("steps".to_owned(), Tensor::from(self.steps))];
        for (i, (first, second)) in self.first.iter().zip(&self.second).enumerate() {
            named.push((format!("first.{i}"), first.to_device(tch::Device::Cpu)));
            named.push((format!("second.{i}"), second.to_device(tch::Device::Cpu)));
        }
        Tensor::save_multi(&named, path)
    }

    /// Reads a state written by [`AdamState::save`].
    pub fn load(path: &Path) -> Result<Self, String> {
        let named = Tensor::load_multi(path).map_err(|e| e.to_string())?;
        let find = |name: &str| named.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        let steps = find("steps")
            .filter(|t| t.kind() == Kind::Int64 && t.numel() == 1)
            .map(|t| t.int64_value(&[]))
            .ok_or("no step count in it")?;
        let (mut first, mut second) = (Vec::new(), Vec::new());
        while let (Some(f), Some(s)) = (
            find(&format!("first.{}", first.len())),
            find(&format!("second.{}", second.len())),
        ) {
            first.push(f.shallow_clone());
            second.push(s.shallow_clone());
        }
        if 1 + 2 * first.len() != named.len() || steps < 0 {
            return Err("it is not an optimizer state written by nam-tools".into());
        }
        Ok(Self {
            steps,
            first,
            second,
        })
    }
}
