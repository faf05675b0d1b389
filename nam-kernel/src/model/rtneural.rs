//! A streaming RTNeural / AIDA-X model: recurrent (LSTM, GRU), dense,
//! convolution and batch-norm layers one sample at a time, with AIDA-X's
//! input gain, input skip and output gain around them.
//!
//! RTNeural starts from a zero state; AIDA-X then feeds 2048 zeros before
//! the first block, and NeuralAudio feeds 2048 zeros at load. The start
//! state here is the state silence converges to ([`SETTLE_LIMIT`]), the
//! same "silence forever" every `.nam` model starts from.

use super::conv::WeightCursor;
use crate::error::BuildError;
use crate::format::{Activation, RtNeuralConfig, RtNeuralLayer};
use crate::kernels::{GruWeights, Kernels, LstmWeights};

/// Zeros fed at most to settle the state at build; settling stops earlier
/// once a step leaves every state unchanged.
const SETTLE_LIMIT: usize = 8192;

/// A recurrent layer's state: the hidden state in two buffers that swap each
/// step (a step reads one and writes the other), and the LSTM's cell.
#[derive(Clone, Debug)]
struct State {
    hidden: [Vec<f32>; 2],
    current: usize,
    cell: Vec<f32>,
}

impl State {
    fn zeros(padded: usize, cell: bool) -> Self {
        Self {
            hidden: [vec![0.0; padded], vec![0.0; padded]],
            current: 0,
            cell: if cell { vec![0.0; padded] } else { Vec::new() },
        }
    }

    /// The buffer a step reads and the one it writes.
    fn read_write(&mut self) -> (&[f32], &mut [f32]) {
        let [first, second] = &mut self.hidden;
        if self.current == 0 {
            (first, second)
        } else {
            (second, first)
        }
    }

    fn current(&self) -> &[f32] {
        &self.hidden[self.current]
    }
}

/// A convolution's input frames: a ring of `lookback + 1` frames of
/// `width` values, the newest last written.
#[derive(Clone, Debug)]
struct History {
    frames: Vec<f32>,
    width: usize,
    newest: usize,
    /// Consecutive writes equal to the frame before them; every frame holds
    /// the same values once this reaches the frame count − 1.
    repeats: usize,
}

impl History {
    /// A ring of zeros.
    fn zeros(count: usize, width: usize) -> Self {
        Self {
            frames: vec![0.0; count * width],
            width,
            newest: 0,
            repeats: count - 1,
        }
    }

    fn count(&self) -> usize {
        self.frames.len() / self.width.max(1)
    }

    fn frame(&self, index: usize) -> &[f32] {
        &self.frames[index * self.width..(index + 1) * self.width]
    }

    /// Writes `input` as the newest frame.
    fn push(&mut self, input: &[f32]) {
        let count = self.count();
        let repeated = self.frame(self.newest) == input;
        self.newest = (self.newest + 1) % count;
        let at = self.newest * self.width;
        self.frames[at..at + self.width].copy_from_slice(input);
        self.repeats = if repeated {
            (self.repeats + 1).min(count - 1)
        } else {
            0
        };
    }

    /// The frame written `samples` pushes before the newest.
    fn back(&self, samples: usize) -> &[f32] {
        let count = self.count();
        self.frame((self.newest + count - samples) % count)
    }

    /// Every frame holds the same values.
    fn is_steady(&self) -> bool {
        self.repeats + 1 >= self.count()
    }

    /// Back to `other`'s frames (the same size), without allocating.
    fn restore(&mut self, other: &History) {
        self.frames.copy_from_slice(&other.frames);
        self.newest = other.newest;
        self.repeats = other.repeats;
    }
}

/// A causal dilated convolution's weights.
#[derive(Clone, Debug)]
struct Conv1d {
    kernel_size: usize,
    dilation: usize,
    groups: usize,
    /// `[tap][input / groups][output]`, tap 0 the oldest sample.
    weights: Vec<f32>,
    /// One per output.
    bias: Vec<f32>,
}

impl Conv1d {
    /// One output frame from the input frames in `history`.
    fn run(&self, history: &History, output: &mut [f32]) {
        output.copy_from_slice(&self.bias);
        let outputs_per_row = self.bias.len();
        let group_inputs = history.width / self.groups;
        let group_outputs = outputs_per_row / self.groups;
        let tap_weights = self.weights.chunks_exact(group_inputs * outputs_per_row);
        for (tap, weights) in tap_weights.enumerate() {
            let frame = history.back((self.kernel_size - 1 - tap) * self.dilation);
            for (g, inputs) in frame.chunks_exact(group_inputs).enumerate() {
                let outputs = &mut output[g * group_outputs..(g + 1) * group_outputs];
                for (&x, row) in inputs.iter().zip(weights.chunks_exact(outputs_per_row)) {
                    let row = &row[g * group_outputs..(g + 1) * group_outputs];
                    for (y, &w) in outputs.iter_mut().zip(row) {
                        *y += w * x;
                    }
                }
            }
        }
    }
}

/// One layer, with what it needs to run.
#[derive(Clone, Debug)]
enum Layer {
    Lstm(LstmWeights),
    Gru(GruWeights),
    Dense {
        input_size: usize,
        /// `[input][output]`.
        weights: Vec<f32>,
        bias: Vec<f32>,
        activation: Activation,
    },
    Conv1d(Conv1d, Activation),
    /// `multiplier * (x - mean) + beta` per channel, `multiplier` being
    /// `gamma / sqrt(variance + epsilon)` (in `f32`, as RTNeural computes it).
    BatchNorm {
        multiplier: Vec<f32>,
        mean: Vec<f32>,
        beta: Vec<f32>,
    },
    /// `exp(x) / Σ exp(x)` over the channels.
    Softmax,
    Activation(Activation),
}

/// A layer and its output.
#[derive(Clone, Debug)]
struct Stage {
    layer: Layer,
    /// Recurrent layers: the state (its current hidden buffer is the output).
    state: Option<State>,
    /// Other layers: the output.
    output: Vec<f32>,
    /// Values the layer outputs.
    size: usize,
    /// The settled state [`RtNeural::clear`] returns to.
    initial: Option<State>,
    /// Convolutions: the input frames, and their settled start.
    history: Option<(History, History)>,
}

impl Stage {
    fn output(&self) -> &[f32] {
        match &self.state {
            Some(state) => &state.current()[..self.size],
            None => &self.output[..self.size],
        }
    }

    /// One step from `input`.
    fn step(&mut self, kernels: &Kernels, input: &[f32]) {
        match (&self.layer, &mut self.state) {
            (Layer::Lstm(weights), Some(state)) => {
                let [first, second] = &mut state.hidden;
                let (hidden, hidden_out) = if state.current == 0 {
                    (first, second)
                } else {
                    (second, first)
                };
                (kernels.lstm_step)(weights, input, hidden, hidden_out, &mut state.cell);
                state.current ^= 1;
            }
            (Layer::Gru(weights), Some(state)) => {
                let (hidden, hidden_out) = state.read_write();
                (kernels.gru_step)(weights, input, hidden, hidden_out);
                state.current ^= 1;
            }
            (
                Layer::Dense {
                    input_size,
                    weights,
                    bias,
                    activation,
                },
                None,
            ) => {
                let output = &mut self.output;
                output.copy_from_slice(bias);
                for (&x, row) in input[..*input_size]
                    .iter()
                    .zip(weights.chunks_exact(output.len()))
                {
                    for (y, &w) in output.iter_mut().zip(row) {
                        *y += w * x;
                    }
                }
                activate(kernels, activation, output);
            }
            (Layer::Conv1d(conv, activation), None) => {
                if let Some((history, _)) = &mut self.history {
                    history.push(&input[..history.width]);
                    conv.run(history, &mut self.output);
                }
                activate(kernels, activation, &mut self.output);
            }
            (
                Layer::BatchNorm {
                    multiplier,
                    mean,
                    beta,
                },
                None,
            ) => {
                for (((y, &x), (&m, &mu)), &b) in self
                    .output
                    .iter_mut()
                    .zip(input)
                    .zip(multiplier.iter().zip(mean))
                    .zip(beta)
                {
                    *y = m * (x - mu) + b;
                }
            }
            (Layer::Softmax, None) => softmax(input, &mut self.output),
            (Layer::Activation(activation), None) => {
                self.output.copy_from_slice(input);
                activate(kernels, activation, &mut self.output);
            }
            // `build` pairs recurrent layers with a state and no other.
            _ => {}
        }
    }
}

/// RTNeural's softmax, `exp(x) / Σ exp(x)`, computed as `exp(x - max)`
/// over its sum (the same values, and finite where `exp(x)` would overflow).
fn softmax(input: &[f32], output: &mut [f32]) {
    let max = input[..output.len()]
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (y, &x) in output.iter_mut().zip(input) {
        *y = (x - max).exp();
        sum += *y;
    }
    for y in output.iter_mut() {
        *y /= sum;
    }
}

/// Applies `activation` to a vector of channels.
fn activate(kernels: &Kernels, activation: &Activation, values: &mut [f32]) {
    match activation {
        Activation::Identity => {}
        Activation::PReLU { .. } => {
            for (channel, value) in values.iter_mut().enumerate() {
                (kernels.activate)(activation, channel, std::slice::from_mut(value));
            }
        }
        _ => (kernels.activate)(activation, 0, values),
    }
}

/// A runnable RTNeural model.
#[derive(Clone, Debug)]
pub(crate) struct RtNeural {
    stages: Vec<Stage>,
    input_gain: f32,
    output_gain: f32,
    input_skip: bool,
}

impl RtNeural {
    /// Builds the layers with weights packed for `kernels`, then settles the
    /// state on silence.
    pub(crate) fn build(
        config: &RtNeuralConfig,
        weights: &[f32],
        kernels: &Kernels,
    ) -> Result<Self, BuildError> {
        let mut cursor = WeightCursor::new(weights);
        let mut stages = Vec::with_capacity(config.layers.len());
        for layer in &config.layers {
            stages.push(build_stage(layer, &mut cursor, kernels)?);
        }
        cursor.finish()?;
        let mut model = Self {
            stages,
            input_gain: RtNeuralConfig::gain_factor(config.input_gain_db),
            output_gain: RtNeuralConfig::gain_factor(config.output_gain_db),
            input_skip: config.input_skip,
        };
        model.settle(kernels);
        Ok(model)
    }

    /// Feeds zeros until the state stops changing (at most [`SETTLE_LIMIT`]
    /// samples, plus as many as the convolutions reach back) and keeps that
    /// state as the start state.
    fn settle(&mut self, kernels: &Kernels) {
        for _ in 0..SETTLE_LIMIT + self.reach() {
            let before: Vec<Option<State>> = self.stages.iter().map(|s| s.state.clone()).collect();
            self.step(kernels, 0.0);
            let unchanged = self.stages.iter().zip(&before).all(|(stage, before)| {
                match (&stage.state, before) {
                    (Some(now), Some(before)) => {
                        now.current() == before.current() && now.cell == before.cell
                    }
                    _ => true,
                }
            });
            let steady = self
                .stages
                .iter()
                .all(|stage| stage.history.as_ref().is_none_or(|(h, _)| h.is_steady()));
            if unchanged && steady {
                break;
            }
        }
        for stage in &mut self.stages {
            stage.initial = stage.state.clone();
            if let Some((history, initial)) = &mut stage.history {
                initial.restore(history);
            }
        }
    }

    /// Samples of input one output reads through the convolutions (1 when
    /// there are none).
    pub(crate) fn receptive_field(&self) -> usize {
        1 + self.reach()
    }

    /// Past samples the convolutions' input frames hold, all layers together.
    fn reach(&self) -> usize {
        self.stages
            .iter()
            .filter_map(|s| s.history.as_ref().map(|(h, _)| h.count() - 1))
            .sum()
    }

    /// Back to the settled start state.
    pub(crate) fn clear(&mut self) {
        for stage in &mut self.stages {
            if let (Some(state), Some(initial)) = (&mut stage.state, &stage.initial) {
                let current = initial.current;
                state.hidden[state.current].copy_from_slice(&initial.hidden[current]);
                state.cell.copy_from_slice(&initial.cell);
            }
            if let Some((history, initial)) = &mut stage.history {
                history.restore(initial);
            }
        }
    }

    /// One sample through every layer; the network's output (before the
    /// skip and output gain).
    fn step(&mut self, kernels: &Kernels, x: f32) -> f32 {
        let input = [x];
        let mut previous: &[f32] = &input;
        let mut held: &mut [Stage] = &mut self.stages;
        // Each stage reads the one before it: split as we go.
        let mut last = x;
        while let Some((stage, rest)) = held.split_first_mut() {
            stage.step(kernels, previous);
            last = stage.output().first().copied().unwrap_or(0.0);
            previous = stage.output();
            held = rest;
        }
        last
    }

    pub(crate) fn process_block(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        for (&x, y) in input.iter().zip(output.iter_mut()) {
            let x = x * self.input_gain;
            let network = self.step(kernels, x);
            let skip = if self.input_skip { x } else { 0.0 };
            *y = (network + skip) * self.output_gain;
        }
    }
}

fn build_stage(
    layer: &RtNeuralLayer,
    cursor: &mut WeightCursor,
    kernels: &Kernels,
) -> Result<Stage, BuildError> {
    let size = layer.output_size();
    let history = match *layer {
        RtNeuralLayer::Conv1d { input_size, .. } => {
            let ring = History::zeros(layer.lookback() + 1, input_size);
            Some((ring.clone(), ring))
        }
        _ => None,
    };
    let (layer, state) = match *layer {
        RtNeuralLayer::Lstm {
            input_size,
            hidden_size: h,
        } => {
            let kernel = cursor.take(input_size * 4 * h)?;
            let recurrent = cursor.take(h * 4 * h)?;
            let bias = cursor.take(4 * h)?;
            // Keras' `[column][gate row]` to PyTorch's `[gate row][column]`.
            let columns = input_size + h;
            let mut weight = vec![0.0; 4 * h * columns];
            for row in 0..4 * h {
                for c in 0..input_size {
                    weight[row * columns + c] = kernel[c * 4 * h + row];
                }
                for c in 0..h {
                    weight[row * columns + input_size + c] = recurrent[c * 4 * h + row];
                }
            }
            let weights = LstmWeights::pack(kernels, input_size, h, &weight, bias);
            let state = State::zeros(weights.padded_hidden(), true);
            (Layer::Lstm(weights), Some(state))
        }
        RtNeuralLayer::Gru {
            input_size,
            hidden_size: h,
        } => {
            let kernel = cursor.take(input_size * 3 * h)?;
            let recurrent = cursor.take(h * 3 * h)?;
            let input_bias = cursor.take(3 * h)?;
            let recurrent_bias = cursor.take(3 * h)?;
            let weights = GruWeights::pack(
                kernels,
                input_size,
                h,
                kernel,
                recurrent,
                input_bias,
                recurrent_bias,
            );
            let state = State::zeros(weights.padded_hidden(), false);
            (Layer::Gru(weights), Some(state))
        }
        RtNeuralLayer::Dense {
            input_size,
            output_size,
            ref activation,
        } => (
            Layer::Dense {
                input_size,
                weights: cursor.take(input_size * output_size)?.to_vec(),
                bias: cursor.take(output_size)?.to_vec(),
                activation: activation.clone(),
            },
            None,
        ),
        RtNeuralLayer::Conv1d {
            input_size,
            output_size,
            kernel_size,
            dilation,
            groups,
            ref activation,
        } => {
            let conv = Conv1d {
                kernel_size,
                dilation,
                groups,
                weights: cursor
                    .take(kernel_size * input_size / groups * output_size)?
                    .to_vec(),
                bias: cursor.take(output_size)?.to_vec(),
            };
            (Layer::Conv1d(conv, activation.clone()), None)
        }
        RtNeuralLayer::BatchNorm { size, epsilon, .. } => {
            let gamma = cursor.take(size)?;
            let beta = cursor.take(size)?.to_vec();
            let mean = cursor.take(size)?.to_vec();
            let variance = cursor.take(size)?;
            let multiplier = gamma
                .iter()
                .zip(variance)
                .map(|(&g, &v)| g / (v + epsilon).sqrt())
                .collect();
            (
                Layer::BatchNorm {
                    multiplier,
                    mean,
                    beta,
                },
                None,
            )
        }
        RtNeuralLayer::Softmax { .. } => (Layer::Softmax, None),
        RtNeuralLayer::Activation { ref activation, .. } => {
            (Layer::Activation(activation.clone()), None)
        }
    };
    Ok(Stage {
        history,
        output: if state.is_some() {
            Vec::new()
        } else {
            vec![0.0; size]
        },
        initial: None,
        layer,
        state,
        size,
    })
}
