//! RTNeural / AIDA-X model files (`.json`, `.aidax`): the Keras-style layer
//! list RTNeural's `json_parser::parseJson` reads and the AIDA-X plugin loads.
//!
//! The document is an object with `in_shape` (`[null, null, inputs]`),
//! `layers` (each with `type`, `shape` whose last entry is the layer's output
//! size, `weights` and, for dense layers, an optional `activation`), and the
//! fields AIDA-X reads beside them: `in_skip` (1: the input is added to the
//! network's output), `in_gain` and `out_gain` (dB, applied before and after
//! the network). The sample rate is read from a top-level `samplerate` (what
//! NeuralAudio reads) or `metadata.samplerate` (what AIDA-X's trainer writes,
//! often as a string); 48 kHz when neither is present.
//!
//! Weights are stored per layer in Keras' order, flattened row-major:
//! - `lstm`: kernel `[inputs][4·units]`, recurrent `[units][4·units]`, bias
//!   `[4·units]`; gates i, f, c, o (PyTorch's i, f, g, o).
//! - `gru`: kernel `[inputs][3·units]`, recurrent `[units][3·units]`, input
//!   bias `[3·units]`, recurrent bias `[3·units]`; gates z, r, h, the
//!   recurrent bias inside the reset product (Keras' `reset_after`, PyTorch's
//!   GRU). A single bias row, as RTNeural reads it, leaves the recurrent bias 0.
//! - `dense` / `time-distributed-dense`: kernel `[inputs][outputs]`, bias
//!   `[outputs]` (0 when absent).
//! - `prelu`: one slope per channel.
//! - `conv1d` (a causal dilated convolution over time, RTNeural's `Conv1D`):
//!   `kernel_size` and `dilation` (each a one-entry list), `groups`
//!   (default 1); kernel `[kernel_size][inputs / groups][outputs]`, tap 0
//!   the oldest sample, `(kernel_size - 1 - i) * dilation` samples back for
//!   tap `i`; bias `[outputs]`; an optional `activation` as a dense layer's.
//! - `batchnorm` (RTNeural's `BatchNorm1DLayer`, running statistics): gamma,
//!   beta, running mean, running variance (`[size]` each), or only the mean
//!   and variance (gamma 1, beta 0); `epsilon` beside them. Stored here as
//!   all four, in that order.
//! - `activation`: none. An `activation` of `softmax` (on this or a
//!   dense or conv1d layer) reads as a [`RtNeuralLayer::Softmax`] after it.

use serde_json::{json, Map, Value};

use super::activation::Activation;
use super::json::Node;
use super::limits::{
    MAX_CHANNELS, MAX_DILATION, MAX_KERNEL_SIZE, MAX_LSTM_LAYERS, MAX_SAMPLE_RATE_HZ,
};
use super::metadata::Metadata;
use super::write::f32_number;
use crate::error::FormatError;

/// The layer types this loader runs, for error messages.
const SUPPORTED_LAYERS: &str =
    "lstm, gru, dense, time-distributed-dense, conv1d, batchnorm, prelu, activation";
/// Most samples the convolutions of one model reach back in all (0.68 s at
/// 48 kHz): the model settles its state on silence for that many samples at
/// build, so this bounds the work a file can ask for before it plays.
const MAX_CONV_REACH: usize = 1 << 15;

/// The activations RTNeural's parser names, for error messages.
const SUPPORTED_ACTIVATIONS: &str = "tanh, relu, sigmoid, elu, softmax, or none";

/// One layer of an RTNeural model.
#[derive(Clone, Debug, PartialEq)]
pub enum RtNeuralLayer {
    /// Keras LSTM (gates i, f, c, o).
    Lstm {
        /// Inputs per step.
        input_size: usize,
        /// Units (hidden and cell size).
        hidden_size: usize,
    },
    /// Keras GRU with `reset_after` (gates z, r, h).
    Gru {
        /// Inputs per step.
        input_size: usize,
        /// Units.
        hidden_size: usize,
    },
    /// A fully connected layer with its activation.
    Dense {
        /// Inputs.
        input_size: usize,
        /// Outputs.
        output_size: usize,
        /// Applied to the outputs (`Identity` when none).
        activation: Activation,
    },
    /// A causal dilated convolution over time, with its activation.
    Conv1d {
        /// Input channels.
        input_size: usize,
        /// Output channels.
        output_size: usize,
        /// Taps.
        kernel_size: usize,
        /// Samples between taps.
        dilation: usize,
        /// Channel groups (inputs and outputs split alike).
        groups: usize,
        /// Applied to the outputs (`Identity` when none).
        activation: Activation,
    },
    /// Batch normalisation with running statistics:
    /// `(x - mean) * gamma / sqrt(variance + epsilon) + beta` per channel.
    BatchNorm {
        /// Channels.
        size: usize,
        /// Added to the variance.
        epsilon: f32,
        /// Whether the file holds gamma and beta (else 1 and 0).
        affine: bool,
    },
    /// RTNeural's softmax over the channels, `exp(x) / Σ exp(x)` (a layer's
    /// `activation: "softmax"` reads as the layer, then this).
    Softmax {
        /// Channels.
        size: usize,
    },
    /// An activation on its own (a PReLU's slopes are its weights).
    Activation {
        /// Channels.
        size: usize,
        /// The function.
        activation: Activation,
    },
}

impl RtNeuralLayer {
    /// Values the layer outputs per sample.
    pub fn output_size(&self) -> usize {
        match self {
            RtNeuralLayer::Lstm { hidden_size, .. } | RtNeuralLayer::Gru { hidden_size, .. } => {
                *hidden_size
            }
            RtNeuralLayer::Dense { output_size, .. }
            | RtNeuralLayer::Conv1d { output_size, .. } => *output_size,
            RtNeuralLayer::BatchNorm { size, .. }
            | RtNeuralLayer::Softmax { size }
            | RtNeuralLayer::Activation { size, .. } => *size,
        }
    }

    /// Past samples a layer reads besides the current one (a convolution's
    /// reach back in time; 0 for the others).
    pub fn lookback(&self) -> usize {
        match *self {
            RtNeuralLayer::Conv1d {
                kernel_size,
                dilation,
                ..
            } => (kernel_size - 1) * dilation,
            _ => 0,
        }
    }

    /// Input values a layer keeps between samples (a convolution's input
    /// frames, the current one included).
    pub fn history_floats(&self) -> usize {
        match *self {
            RtNeuralLayer::Conv1d { input_size, .. } => (self.lookback() + 1) * input_size,
            _ => 0,
        }
    }

    /// Weights the layer holds in the flat vector (see the module doc).
    pub fn weight_count(&self) -> usize {
        match *self {
            RtNeuralLayer::Lstm {
                input_size,
                hidden_size,
            } => 4 * hidden_size * (input_size + hidden_size + 1),
            RtNeuralLayer::Gru {
                input_size,
                hidden_size,
            } => 3 * hidden_size * (input_size + hidden_size + 2),
            RtNeuralLayer::Dense {
                input_size,
                output_size,
                ..
            } => output_size * (input_size + 1),
            RtNeuralLayer::Conv1d {
                input_size,
                output_size,
                kernel_size,
                groups,
                ..
            } => output_size * (kernel_size * input_size / groups + 1),
            RtNeuralLayer::BatchNorm { size, .. } => 4 * size,
            RtNeuralLayer::Softmax { .. } | RtNeuralLayer::Activation { .. } => 0,
        }
    }

    /// Multiply-adds per sample.
    pub fn macs(&self) -> u64 {
        let macs = match *self {
            RtNeuralLayer::Lstm {
                input_size,
                hidden_size,
            } => 4 * hidden_size * (input_size + hidden_size),
            RtNeuralLayer::Gru {
                input_size,
                hidden_size,
            } => 3 * hidden_size * (input_size + hidden_size),
            RtNeuralLayer::Dense {
                input_size,
                output_size,
                ..
            } => input_size * output_size,
            RtNeuralLayer::Conv1d {
                input_size,
                output_size,
                kernel_size,
                groups,
                ..
            } => kernel_size * input_size / groups * output_size,
            RtNeuralLayer::BatchNorm { size, .. } | RtNeuralLayer::Softmax { size } => size,
            RtNeuralLayer::Activation { .. } => 0,
        };
        macs as u64
    }

    /// The RTNeural `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            RtNeuralLayer::Lstm { .. } => "lstm",
            RtNeuralLayer::Gru { .. } => "gru",
            RtNeuralLayer::Dense { .. } => "dense",
            RtNeuralLayer::Conv1d { .. } => "conv1d",
            RtNeuralLayer::BatchNorm { .. } => "batchnorm",
            RtNeuralLayer::Softmax { .. } => "softmax",
            RtNeuralLayer::Activation {
                activation: Activation::PReLU { .. },
                ..
            } => "prelu",
            RtNeuralLayer::Activation { .. } => "activation",
        }
    }
}

/// A validated RTNeural model: its layers, then AIDA-X's skip and gains.
#[derive(Clone, Debug, PartialEq)]
pub struct RtNeuralConfig {
    /// The layers, input first; the last outputs one value.
    pub layers: Vec<RtNeuralLayer>,
    /// `in_skip`: the (gained) input is added to the network's output.
    pub input_skip: bool,
    /// `in_gain` in dB (0 when absent), applied to the input.
    pub input_gain_db: f32,
    /// `out_gain` in dB (0 when absent), applied to the output.
    pub output_gain_db: f32,
}

impl RtNeuralConfig {
    /// The number of weights the layers hold.
    pub fn weight_count(&self) -> usize {
        self.layers.iter().map(RtNeuralLayer::weight_count).sum()
    }

    /// Multiply-adds per sample.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(RtNeuralLayer::macs).sum()
    }

    /// Samples of input one output reads through the convolutions (1 when
    /// there are none; the recurrent layers' memory is not counted, as for
    /// a `.nam` LSTM).
    pub fn receptive_field(&self) -> usize {
        1 + self
            .layers
            .iter()
            .map(RtNeuralLayer::lookback)
            .sum::<usize>()
    }

    /// The linear factor AIDA-X applies for a gain in dB (`10^(dB/20)`, 0 at
    /// or below −90 dB, as AIDA-X's `DB_CO`).
    pub fn gain_factor(db: f32) -> f32 {
        if db > -90.0 {
            10f32.powf(db * 0.05)
        } else {
            0.0
        }
    }
}

/// What [`parse`] reads from an RTNeural document.
pub(crate) struct Parsed {
    pub(crate) config: RtNeuralConfig,
    pub(crate) weights: Vec<f32>,
    pub(crate) metadata: Metadata,
    pub(crate) sample_rate_hz: Option<f64>,
}

/// Parses and validates an RTNeural document.
pub(crate) fn parse(doc: &Node) -> Result<Parsed, FormatError> {
    let inputs = last_dim(&doc.req("in_shape")?)?;
    if inputs != 1 {
        return Err(doc.path.key("in_shape").invalid(format!(
            "the model takes {inputs} inputs per sample (a capture conditioned on knob \
             values); only 1 (the audio) is supported"
        )));
    }
    let list = doc.req("layers")?;
    let items = list.items()?;
    if items.is_empty() {
        return Err(list.invalid("a model needs at least one layer"));
    }
    if items.len() > MAX_LSTM_LAYERS {
        return Err(FormatError::TooLarge {
            field: list.path.to_string(),
            value: items.len() as f64,
            limit: MAX_LSTM_LAYERS as u128,
        });
    }
    let mut layers = Vec::with_capacity(items.len());
    let mut weights = Vec::new();
    let mut size = inputs;
    for item in &items {
        let layer = parse_layer(item, size, &mut weights)?;
        size = layer.output_size();
        let softmax = softmax_after(item)?;
        // An `activation` layer of a softmax is the softmax alone.
        let softmax_only = softmax
            && matches!(
                layer,
                RtNeuralLayer::Activation {
                    activation: Activation::Identity,
                    ..
                }
            );
        if !softmax_only {
            layers.push(layer);
        }
        if softmax {
            layers.push(RtNeuralLayer::Softmax { size });
        }
    }
    if size != 1 {
        return Err(list.invalid(format!(
            "the last layer outputs {size} values per sample; a playable model outputs 1"
        )));
    }
    let reach: usize = layers.iter().map(RtNeuralLayer::lookback).sum();
    if reach > MAX_CONV_REACH {
        return Err(FormatError::TooLarge {
            field: list.path.to_string(),
            value: reach as f64,
            limit: MAX_CONV_REACH as u128,
        });
    }
    let input_skip = match doc.get("in_skip")? {
        Some(node) => match node.as_f64()? {
            0.0 => false,
            1.0 => true,
            x => return Err(node.invalid(format!("is {x}; AIDA-X reads 0 or 1"))),
        },
        None => false,
    };
    let config = RtNeuralConfig {
        layers,
        input_skip,
        input_gain_db: gain_db(doc, "in_gain")?,
        output_gain_db: gain_db(doc, "out_gain")?,
    };
    let metadata = match doc.get("metadata")? {
        Some(node) => Metadata::parse(&node)?,
        None => Metadata::default(),
    };
    Ok(Parsed {
        weights,
        sample_rate_hz: sample_rate(doc)?,
        config,
        metadata,
    })
}

/// A gain field in dB; absent is 0 dB.
fn gain_db(doc: &Node, key: &str) -> Result<f32, FormatError> {
    let Some(node) = doc.get(key)? else {
        return Ok(0.0);
    };
    let db = node.as_f64()?;
    if !(-200.0..=100.0).contains(&db) {
        return Err(node.invalid(format!("{db} dB is outside -200 dB to 100 dB")));
    }
    Ok(db as f32)
}

/// The sample rate: `samplerate` at the top, else in `metadata` (a number
/// or a numeric string, as AIDA-X's trainer writes it).
fn sample_rate(doc: &Node) -> Result<Option<f64>, FormatError> {
    let metadata = doc.get("metadata")?.filter(|m| m.value.is_object());
    let node = match (doc.get("samplerate")?, metadata) {
        (Some(node), _) => node,
        (None, Some(metadata)) => match metadata.get("samplerate")? {
            Some(node) => node,
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let rate = match node.value {
        Value::String(text) => text
            .trim()
            .parse::<f64>()
            .map_err(|_| node.invalid(format!("`{text}` is not a sample rate")))?,
        _ => node.as_f64()?,
    };
    if !(1.0..=MAX_SAMPLE_RATE_HZ).contains(&rate) {
        return Err(node.invalid(format!(
            "sample rate {rate} Hz is outside 1 Hz to {MAX_SAMPLE_RATE_HZ} Hz"
        )));
    }
    Ok(Some(rate))
}

/// The last entry of a Keras shape (`[null, null, n]`).
fn last_dim(shape: &Node) -> Result<usize, FormatError> {
    let items = shape.items()?;
    let last = items
        .last()
        .ok_or_else(|| shape.invalid("expected a shape such as [null, null, 1]"))?;
    last.as_dim(MAX_CHANNELS)
}

fn parse_layer(
    item: &Node,
    input_size: usize,
    weights: &mut Vec<f32>,
) -> Result<RtNeuralLayer, FormatError> {
    let type_node = item.req("type")?;
    let kind = type_node.as_str()?;
    let size = last_dim(&item.req("shape")?)?;
    let arrays = item.req("weights")?;
    let layer = match kind {
        "lstm" | "gru" => {
            let gates = if kind == "lstm" { 4 } else { 3 };
            let w = array_items(&arrays, 2..=3)?;
            read_matrix(&w[0], input_size, gates * size, weights)?;
            read_matrix(&w[1], size, gates * size, weights)?;
            let bias = w.get(2);
            if kind == "lstm" {
                let bias = bias.ok_or_else(|| arrays.path.index(2).missing())?;
                bias.append_weights(gates * size, weights)?;
                RtNeuralLayer::Lstm {
                    input_size,
                    hidden_size: size,
                }
            } else {
                read_gru_bias(bias, gates * size, weights)?;
                RtNeuralLayer::Gru {
                    input_size,
                    hidden_size: size,
                }
            }
        }
        "dense" | "time-distributed-dense" => {
            let w = array_items(&arrays, 1..=2)?;
            read_matrix(&w[0], input_size, size, weights)?;
            match w.get(1) {
                Some(bias) => bias.append_weights(size, weights)?,
                None => weights.extend(std::iter::repeat_n(0.0, size)),
            }
            RtNeuralLayer::Dense {
                input_size,
                output_size: size,
                activation: activation(item)?,
            }
        }
        "conv1d" => conv1d(item, &arrays, input_size, size, weights)?,
        "batchnorm" => batchnorm(item, &arrays, input_size, weights)?,
        "activation" => RtNeuralLayer::Activation {
            size: input_size,
            activation: activation(item)?,
        },
        "prelu" => {
            // RTNeural reads the slopes from weights[0][0].
            let w = array_items(&arrays, 1..=1)?;
            let rows = w[0].items()?;
            let row = rows
                .first()
                .ok_or_else(|| w[0].invalid("expected [[slopes]]"))?;
            let mut slopes = Vec::new();
            row.append_weights(input_size, &mut slopes)?;
            RtNeuralLayer::Activation {
                size: input_size,
                activation: Activation::PReLU {
                    negative_slopes: slopes,
                },
            }
        }
        other => {
            return Err(type_node.invalid(format!(
                "layer type `{other}` is not supported (supported: {SUPPORTED_LAYERS})"
            )))
        }
    };
    if layer.output_size() != size && !matches!(layer, RtNeuralLayer::Activation { .. }) {
        return Err(item.path.key("shape").invalid("inconsistent layer size"));
    }
    Ok(layer)
}

/// A `conv1d` layer: its sizes, then kernel and bias appended to `weights`.
fn conv1d(
    item: &Node,
    arrays: &Node,
    input_size: usize,
    output_size: usize,
    weights: &mut Vec<f32>,
) -> Result<RtNeuralLayer, FormatError> {
    let kernel_size = last_entry(&item.req("kernel_size")?, MAX_KERNEL_SIZE)?;
    let dilation = last_entry(&item.req("dilation")?, MAX_DILATION)?;
    let groups = match item.get("groups")? {
        Some(node) => {
            let groups = node.as_dim(MAX_CHANNELS)?;
            if !input_size.is_multiple_of(groups) || !output_size.is_multiple_of(groups) {
                return Err(node.invalid(format!(
                    "{input_size} inputs and {output_size} outputs do not split into {groups} groups"
                )));
            }
            groups
        }
        None => 1,
    };
    // The model's total reach is bounded too (`MAX_CONV_REACH`).
    if (kernel_size - 1) * dilation > MAX_DILATION {
        return Err(FormatError::TooLarge {
            field: item.path.key("dilation").to_string(),
            value: ((kernel_size - 1) * dilation) as f64,
            limit: MAX_DILATION as u128,
        });
    }
    let w = array_items(arrays, 2..=2)?;
    let taps = w[0].items()?;
    if taps.len() != kernel_size {
        return Err(FormatError::WeightCountMismatch {
            field: w[0].path.to_string(),
            expected: kernel_size,
            found: taps.len(),
        });
    }
    for tap in &taps {
        read_matrix(tap, input_size / groups, output_size, weights)?;
    }
    w[1].append_weights(output_size, weights)?;
    Ok(RtNeuralLayer::Conv1d {
        input_size,
        output_size,
        kernel_size,
        dilation,
        groups,
        activation: activation(item)?,
    })
}

/// A `batchnorm` layer: gamma, beta, mean and variance appended to `weights`
/// (gamma 1 and beta 0 when the file holds only the statistics).
fn batchnorm(
    item: &Node,
    arrays: &Node,
    size: usize,
    weights: &mut Vec<f32>,
) -> Result<RtNeuralLayer, FormatError> {
    let epsilon_node = item.req("epsilon")?;
    let epsilon = epsilon_node.as_f64()?;
    if !(0.0..=1.0).contains(&epsilon) {
        return Err(epsilon_node.invalid(format!("{epsilon} is outside 0 to 1")));
    }
    let w = array_items(arrays, 2..=4)?;
    let affine = match w.len() {
        4 => true,
        2 => false,
        n => {
            return Err(arrays.invalid(format!(
                "expected 4 arrays (gamma, beta, mean, variance) or 2 (mean, variance), found {n}"
            )))
        }
    };
    if affine {
        w[0].append_weights(size, weights)?;
        w[1].append_weights(size, weights)?;
    } else {
        weights.extend(std::iter::repeat_n(1.0, size));
        weights.extend(std::iter::repeat_n(0.0, size));
    }
    let statistics = if affine { &w[2..] } else { &w[..] };
    statistics[0].append_weights(size, weights)?;
    let variance_at = weights.len();
    statistics[1].append_weights(size, weights)?;
    if let Some(v) = weights[variance_at..].iter().find(|v| **v < 0.0) {
        return Err(statistics[1].invalid(format!("a variance of {v} is negative")));
    }
    // The layer divides by sqrt(variance + epsilon): a sum that is 0, or so
    // small that flushing denormals makes it 0, would output only NaN or infinity.
    let epsilon = epsilon as f32;
    if let Some(v) = weights[variance_at..]
        .iter()
        .find(|v| **v + epsilon < f32::MIN_POSITIVE)
    {
        return Err(statistics[1].invalid(format!(
            "a variance of {v} plus epsilon {epsilon} is not a positive normal number"
        )));
    }
    Ok(RtNeuralLayer::BatchNorm {
        size,
        epsilon,
        affine,
    })
}

/// The last entry of a one-entry list such as `kernel_size: [3]` (RTNeural
/// reads the last), at least 1 and at most `max`.
fn last_entry(node: &Node, max: usize) -> Result<usize, FormatError> {
    let items = node.items()?;
    let last = items
        .last()
        .ok_or_else(|| node.invalid("expected a list such as [3]"))?;
    last.as_dim(max)
}

/// The layer's `activation` (RTNeural's names; empty or absent is none).
fn activation(item: &Node) -> Result<Activation, FormatError> {
    let Some(node) = item.get("activation")? else {
        return Ok(Activation::Identity);
    };
    Ok(match node.as_str()? {
        // The softmax follows as a layer of its own (`softmax_after`).
        "" | "linear" | "softmax" => Activation::Identity,
        "tanh" => Activation::Tanh,
        "relu" => Activation::ReLU,
        "sigmoid" => Activation::Sigmoid,
        "elu" => Activation::ELU { alpha: 1.0 },
        other => {
            return Err(node.invalid(format!(
                "activation `{other}` is not supported (supported: {SUPPORTED_ACTIVATIONS})"
            )));
        }
    })
}

/// Whether the layer's `activation` is a softmax (RTNeural adds it as an
/// activation layer after the layer; it reads `activation` only on the dense,
/// conv1d and activation layers).
fn softmax_after(item: &Node) -> Result<bool, FormatError> {
    let kind = item.req("type")?.as_str()?;
    if !matches!(
        kind,
        "dense" | "time-distributed-dense" | "conv1d" | "activation"
    ) {
        return Ok(false);
    }
    Ok(match item.get("activation")? {
        Some(node) => node.as_str()? == "softmax",
        None => false,
    })
}

/// The items of a `weights` array, whose count must lie in `counts`.
fn array_items<'a>(
    arrays: &Node<'a>,
    counts: std::ops::RangeInclusive<usize>,
) -> Result<Vec<Node<'a>>, FormatError> {
    let items = arrays.items()?;
    if !counts.contains(&items.len()) {
        return Err(arrays.invalid(format!(
            "expected {} to {} weight arrays, found {}",
            counts.start(),
            counts.end(),
            items.len()
        )));
    }
    Ok(items)
}

/// Appends a `[rows][columns]` matrix, checking its shape and values.
fn read_matrix(
    node: &Node,
    rows: usize,
    columns: usize,
    out: &mut Vec<f32>,
) -> Result<(), FormatError> {
    let items = node.items()?;
    if items.len() != rows {
        return Err(FormatError::WeightCountMismatch {
            field: node.path.to_string(),
            expected: rows,
            found: items.len(),
        });
    }
    for row in &items {
        row.append_weights(columns, out)?;
    }
    Ok(())
}

/// A GRU's bias: two rows (input, recurrent), or one (recurrent bias 0).
fn read_gru_bias(node: Option<&Node>, len: usize, out: &mut Vec<f32>) -> Result<(), FormatError> {
    let Some(node) = node else {
        out.extend(std::iter::repeat_n(0.0, 2 * len));
        return Ok(());
    };
    let rows = node.items()?;
    match rows.len() {
        1 | 2 => {}
        n => return Err(node.invalid(format!("expected 1 or 2 bias rows, found {n}"))),
    }
    for row in &rows {
        row.append_weights(len, out)?;
    }
    if rows.len() == 1 {
        out.extend(std::iter::repeat_n(0.0, len));
    }
    Ok(())
}

/// The RTNeural document of a model: the layer list in Keras' layout and
/// AIDA-X's fields; reading it back gives the same config and weights.
pub(crate) fn to_json(
    config: &RtNeuralConfig,
    weights: &[f32],
    metadata: &Metadata,
    sample_rate_hz: Option<f64>,
) -> Value {
    let mut rest = weights;
    let mut take = |count: usize| {
        let (head, tail) = rest.split_at(count.min(rest.len()));
        rest = tail;
        head
    };
    let matrix = |flat: &[f32], columns: usize| -> Value {
        Value::Array(flat.chunks(columns.max(1)).map(|r| json!(r)).collect())
    };
    let layers: Vec<Value> = config
        .layers
        .iter()
        .map(|layer| {
            let size = layer.output_size();
            let (weights, activation) = match layer {
                RtNeuralLayer::Lstm {
                    input_size,
                    hidden_size: h,
                } => {
                    let kernel = matrix(take(input_size * 4 * h), 4 * h);
                    let recurrent = matrix(take(h * 4 * h), 4 * h);
                    (json!([kernel, recurrent, take(4 * h)]), "")
                }
                RtNeuralLayer::Gru {
                    input_size,
                    hidden_size: h,
                } => {
                    let kernel = matrix(take(input_size * 3 * h), 3 * h);
                    let recurrent = matrix(take(h * 3 * h), 3 * h);
                    let bias = matrix(take(2 * 3 * h), 3 * h);
                    (json!([kernel, recurrent, bias]), "")
                }
                RtNeuralLayer::Dense {
                    input_size,
                    output_size,
                    activation,
                } => {
                    let kernel = matrix(take(input_size * output_size), *output_size);
                    (
                        json!([kernel, take(*output_size)]),
                        activation_name(activation),
                    )
                }
                RtNeuralLayer::Conv1d {
                    input_size,
                    output_size,
                    kernel_size,
                    groups,
                    activation,
                    ..
                } => {
                    let taps: Vec<Value> = (0..*kernel_size)
                        .map(|_| matrix(take(input_size / groups * output_size), *output_size))
                        .collect();
                    (
                        json!([taps, take(*output_size)]),
                        activation_name(activation),
                    )
                }
                RtNeuralLayer::BatchNorm { size, affine, .. } => {
                    let (gamma, beta, mean, variance) =
                        (take(*size), take(*size), take(*size), take(*size));
                    if *affine {
                        (json!([gamma, beta, mean, variance]), "")
                    } else {
                        (json!([mean, variance]), "")
                    }
                }
                RtNeuralLayer::Softmax { .. } => (json!([]), "softmax"),
                RtNeuralLayer::Activation {
                    activation: Activation::PReLU { negative_slopes },
                    ..
                } => (json!([[negative_slopes]]), ""),
                RtNeuralLayer::Activation { activation, .. } => {
                    (json!([]), activation_name(activation))
                }
            };
            let kind = match layer {
                RtNeuralLayer::Softmax { .. } => "activation",
                _ => layer.type_name(),
            };
            let mut layer_doc = json!({
                "type": kind,
                "activation": activation,
                "shape": [null, null, size],
                "weights": weights,
            });
            match *layer {
                RtNeuralLayer::Conv1d {
                    kernel_size,
                    dilation,
                    groups,
                    ..
                } => {
                    layer_doc["kernel_size"] = json!([kernel_size]);
                    layer_doc["dilation"] = json!([dilation]);
                    layer_doc["groups"] = json!(groups);
                }
                RtNeuralLayer::BatchNorm { epsilon, .. } => {
                    layer_doc["epsilon"] = f32_number(epsilon);
                }
                _ => {}
            }
            layer_doc
        })
        .collect();
    let mut doc = Map::new();
    doc.insert("in_shape".into(), json!([null, null, 1]));
    doc.insert("in_skip".into(), json!(u8::from(config.input_skip)));
    if config.input_gain_db != 0.0 {
        doc.insert("in_gain".into(), json!(config.input_gain_db));
    }
    if config.output_gain_db != 0.0 {
        doc.insert("out_gain".into(), json!(config.output_gain_db));
    }
    if let Some(rate) = sample_rate_hz {
        doc.insert("samplerate".into(), json!(rate));
    }
    doc.insert("layers".into(), Value::Array(layers));
    let metadata = metadata.to_json();
    if metadata.as_object().is_some_and(|m| !m.is_empty()) {
        doc.insert("metadata".into(), metadata);
    }
    Value::Object(doc)
}

/// RTNeural's name of an activation this format holds.
fn activation_name(activation: &Activation) -> &'static str {
    match activation {
        Activation::Tanh => "tanh",
        Activation::ReLU => "relu",
        Activation::Sigmoid => "sigmoid",
        Activation::ELU { .. } => "elu",
        _ => "",
    }
}
