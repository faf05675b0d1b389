//! GuitarML WaveNet model files (`.json`): what PedalNetRT's `export.py`
//! writes and SmartGuitarAmp / SmartGuitarPedal load (their `WaveNetLoader`).
//!
//! The document is an object with `residual_channels` (C), `filter_width`
//! (K), `dilations` (one layer each), `activation` (`gated`: tanh of the
//! first C channels times sigmoid of the second C; `softgated`: softsign
//! times softsign; or a plain `tanh`, `sigmoid`, `relu`, `softsign`,
//! `linear` on C channels), `input_channels` and `output_channels` (1 each
//! for a playable model), an optional `level_adjust` (a linear gain after the
//! network, ignored when 0, as SmartGuitarAmp does) and `variables`: a list of
//! `{layer_idx, name, data}` entries, `data` being numbers or decimal strings.
//!
//! - `layer_idx` −1, `W` (C) and `b` (C): the input layer, a 1x1 convolution
//!   from the input to C channels with a bias.
//! - `layer_idx` i in `0..dilations.len()`: `W_conv` (K·C·M, M = 2C when
//!   gated, else C) and `b_conv` (M): the dilated causal convolution; the
//!   activation's output `a` is the layer's skip; `W_out` (C·C) and `b_out`
//!   (C): the residual 1x1, `x_next = x + W_out·a + b_out`.
//! - `layer_idx` = `dilations.len()`, `W` (C·L) and `b` (1): the output
//!   layer, a 1x1 convolution of the L skips concatenated layer by layer.
//!
//! Every `W` is TensorFlow's `[tap][in][out]` flattened row-major (PyTorch's
//! `(out, in, tap)` permuted), tap `K−1` being the newest sample.
//!
//! The model maps exactly onto NAM's WaveNet (one layer array): the input
//! layer's weights are the rechannel, each skip reaches the head through a
//! head 1x1 holding that layer's slice of the output layer, the output
//! layer's bias is the head rechannel's, `level_adjust` is `head_scale` and
//! the input mixer is zero. NAM's rechannel has no bias: the input layer's
//! bias `b` is a constant in the residual stream, so it is folded into every
//! layer's convolution bias (`b_conv + Σ_tap W_conv·b`), which is exact for a
//! model settled on silence (what [`crate::Model`] plays).
//!
//! The files do not state a sample rate; PedalNetRT trains on 44.1 kHz audio
//! only, so that is the model's rate.

use super::activation::Activation;
use super::json::Node;
use super::limits::{MAX_CHANNELS, MAX_DILATION, MAX_KERNEL_SIZE, MAX_LAYERS, MAX_RECEPTIVE_FIELD};
use super::wavenet::{
    ArrayHeadConfig, Gating, Head1x1Config, LayerArrayConfig, LayerConfig, WaveNetConfig,
};
use crate::error::FormatError;

/// The rate PedalNetRT requires of its training audio.
pub const GUITARML_SAMPLE_RATE_HZ: f64 = 44_100.0;

/// The activation names SmartGuitarAmp's loader knows, for error messages.
const SUPPORTED_ACTIVATIONS: &str = "gated, softgated, tanh, sigmoid, relu, softsign, linear";

/// True when a JSON object has the keys that mark a GuitarML WaveNet.
pub(crate) fn looks_like(object: &serde_json::Map<String, serde_json::Value>) -> bool {
    object.contains_key("variables") && object.contains_key("residual_channels")
}

/// A GuitarML WaveNet's dimensions as the file states them.
struct Shape {
    channels: usize,
    filter_width: usize,
    dilations: Vec<usize>,
    activation: Activation,
    gating: Gating,
}

impl Shape {
    /// Channels leaving each dilated convolution.
    fn mid_channels(&self) -> usize {
        if self.gating.is_paired() {
            2 * self.channels
        } else {
            self.channels
        }
    }
}

/// The weights of one GuitarML model, each in the file's own layout.
struct Variables {
    input_w: Vec<f32>,
    input_b: Vec<f32>,
    /// Per layer: `W_conv`, `b_conv`, `W_out`, `b_out`.
    layers: Vec<[Vec<f32>; 4]>,
    output_w: Vec<f32>,
    output_b: Vec<f32>,
}

/// Parses a GuitarML document into NAM's WaveNet config and weight vector.
pub(crate) fn parse(doc: &Node) -> Result<(WaveNetConfig, Vec<f32>), FormatError> {
    let shape = parse_shape(doc)?;
    let head_scale = match doc.get("level_adjust")? {
        Some(node) => match node.as_f32()? {
            0.0 => 1.0,
            gain => gain,
        },
        None => 1.0,
    };
    let variables = parse_variables(&doc.req("variables")?, &shape)?;
    let config = wavenet_config(&shape, head_scale);
    let rf = config.receptive_field();
    if rf > MAX_RECEPTIVE_FIELD {
        return Err(FormatError::TooLarge {
            field: format!("{} (receptive field)", doc.path.key("dilations")),
            value: rf as f64,
            limit: MAX_RECEPTIVE_FIELD as u128,
        });
    }
    let weights = nam_weights(&shape, &variables, head_scale);
    debug_assert_eq!(weights.len(), config.weight_count());
    Ok((config, weights))
}

fn parse_shape(doc: &Node) -> Result<Shape, FormatError> {
    for key in ["input_channels", "output_channels"] {
        if let Some(node) = doc.get(key)? {
            let n = node.as_dim(MAX_CHANNELS)?;
            if n != 1 {
                return Err(node.invalid(format!(
                    "is {n}; only models with one input and one output channel play"
                )));
            }
        }
    }
    let channels = doc.req("residual_channels")?.as_dim(MAX_CHANNELS)?;
    let filter_width = doc.req("filter_width")?.as_dim(MAX_KERNEL_SIZE)?;
    let dilations_node = doc.req("dilations")?;
    let items = dilations_node.items()?;
    if items.is_empty() {
        return Err(dilations_node.invalid("a WaveNet needs at least one layer"));
    }
    if items.len() > MAX_LAYERS {
        return Err(FormatError::TooLarge {
            field: dilations_node.path.to_string(),
            value: items.len() as f64,
            limit: MAX_LAYERS as u128,
        });
    }
    let dilations = items
        .iter()
        .map(|d| d.as_dim(MAX_DILATION))
        .collect::<Result<Vec<_>, _>>()?;
    let activation_node = doc.req("activation")?;
    let (activation, gating) = match activation_node.as_str()? {
        "gated" => (
            Activation::Tanh,
            Gating::Gated {
                secondary: Activation::Sigmoid,
            },
        ),
        "softgated" => (
            Activation::Softsign,
            Gating::Gated {
                secondary: Activation::Softsign,
            },
        ),
        "tanh" => (Activation::Tanh, Gating::None),
        "sigmoid" => (Activation::Sigmoid, Gating::None),
        "relu" => (Activation::ReLU, Gating::None),
        "softsign" => (Activation::Softsign, Gating::None),
        "linear" => (Activation::Identity, Gating::None),
        other => {
            return Err(activation_node.invalid(format!(
                "unknown activation `{other}` (known: {SUPPORTED_ACTIVATIONS})"
            )))
        }
    };
    Ok(Shape {
        channels,
        filter_width,
        dilations,
        activation,
        gating,
    })
}

/// The variable a `(layer_idx, name)` pair fills, with its expected length.
enum Slot {
    InputW,
    InputB,
    Layer(usize, usize),
    OutputW,
    OutputB,
}

fn slot(shape: &Shape, layer_idx: i64, name: &str) -> Option<(Slot, usize)> {
    let (c, layers) = (shape.channels, shape.dilations.len());
    let mid = shape.mid_channels();
    match (layer_idx, name) {
        (-1, "W") => Some((Slot::InputW, c)),
        (-1, "b") => Some((Slot::InputB, c)),
        (i, _) if i == layers as i64 => match name {
            "W" => Some((Slot::OutputW, c * layers)),
            "b" => Some((Slot::OutputB, 1)),
            _ => None,
        },
        (i, _) if (0..layers as i64).contains(&i) => {
            let i = i as usize;
            match name {
                "W_conv" | "W" => Some((Slot::Layer(i, 0), shape.filter_width * c * mid)),
                "b_conv" | "b" => Some((Slot::Layer(i, 1), mid)),
                "W_out" => Some((Slot::Layer(i, 2), c * c)),
                "b_out" => Some((Slot::Layer(i, 3), c)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A variable's `layer_idx`: an integer (`-1.0` counts).
fn layer_index(node: &Node) -> Result<i64, FormatError> {
    match node.value.as_i64() {
        Some(i) => Ok(i),
        None => match node.value.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => Ok(x as i64),
            _ => Err(node.invalid("expected an integer layer index")),
        },
    }
}

fn parse_variables(list: &Node, shape: &Shape) -> Result<Variables, FormatError> {
    let layers = shape.dilations.len();
    let mut vars = Variables {
        input_w: Vec::new(),
        input_b: Vec::new(),
        layers: vec![Default::default(); layers],
        output_w: Vec::new(),
        output_b: Vec::new(),
    };
    let mut seen = vec![false; 4 + 4 * layers];
    for item in list.items()? {
        let index_node = item.req("layer_idx")?;
        let layer_idx = layer_index(&index_node)?;
        let name_node = item.req("name")?;
        let name = name_node.as_str()?;
        let (slot, len) = slot(shape, layer_idx, name).ok_or_else(|| {
            item.invalid(format!(
                "no variable `{name}` at layer_idx {layer_idx} (-1: W, b; 0 to {}: W_conv, b_conv, W_out, b_out; {layers}: W, b)",
                layers - 1
            ))
        })?;
        let (target, seen_at) = match slot {
            Slot::InputW => (&mut vars.input_w, 0),
            Slot::InputB => (&mut vars.input_b, 1),
            Slot::OutputW => (&mut vars.output_w, 2),
            Slot::OutputB => (&mut vars.output_b, 3),
            Slot::Layer(i, part) => (&mut vars.layers[i][part], 4 + 4 * i + part),
        };
        if std::mem::replace(&mut seen[seen_at], true) {
            return Err(item.invalid(format!(
                "variable `{name}` of layer_idx {layer_idx} is given twice"
            )));
        }
        item.req("data")?.append_decimal_weights(len, target)?;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        let what = match missing {
            0 => "W of layer_idx -1".to_owned(),
            1 => "b of layer_idx -1".to_owned(),
            2 => format!("W of layer_idx {layers}"),
            3 => format!("b of layer_idx {layers}"),
            n => {
                let names = ["W_conv", "b_conv", "W_out", "b_out"];
                format!("{} of layer_idx {}", names[(n - 4) % 4], (n - 4) / 4)
            }
        };
        return Err(list.invalid(format!("the variable {what} is missing")));
    }
    Ok(vars)
}

/// The NAM WaveNet config the model maps onto (see the module docs).
fn wavenet_config(shape: &Shape, head_scale: f32) -> WaveNetConfig {
    let layers = shape
        .dilations
        .iter()
        .map(|&dilation| LayerConfig {
            kernel_size: shape.filter_width,
            dilation,
            activation: shape.activation.clone(),
            gating: shape.gating.clone(),
        })
        .collect();
    let array = LayerArrayConfig {
        input_size: 1,
        condition_size: 1,
        channels: shape.channels,
        bottleneck: shape.channels,
        layers,
        head: ArrayHeadConfig {
            out_channels: 1,
            kernel_size: 1,
            dilation: 1,
            bias: true,
        },
        groups_input: 1,
        groups_input_mixin: 1,
        layer1x1_groups: Some(1),
        head1x1: Some(Head1x1Config {
            out_channels: 1,
            groups: 1,
        }),
        films: [None; 8],
        slimmable: None,
    };
    WaveNetConfig {
        layer_arrays: vec![array],
        post_head: None,
        head_scale,
        condition_dsp: None,
    }
}

/// The weights in NAM's WaveNet order (`../shared/fixtures/README.md`):
/// every `[tap][in][out]` matrix transposed to `(out, in, tap)`.
fn nam_weights(shape: &Shape, vars: &Variables, head_scale: f32) -> Vec<f32> {
    let (c, k, mid) = (shape.channels, shape.filter_width, shape.mid_channels());
    let mut w = Vec::new();
    // Rechannel (C, 1, 1): the input layer's weights, its bias folded below.
    w.extend_from_slice(&vars.input_w);
    for (layer, [w_conv, b_conv, w_out, b_out]) in vars.layers.iter().enumerate() {
        let conv_at = |o: usize, i: usize, tap: usize| w_conv[(tap * c + i) * mid + o];
        for o in 0..mid {
            for i in 0..c {
                w.extend((0..k).map(|tap| conv_at(o, i, tap)));
            }
        }
        for (o, &bias) in b_conv.iter().enumerate() {
            let folded: f64 = (0..c)
                .flat_map(|i| (0..k).map(move |tap| (i, tap)))
                .map(|(i, tap)| f64::from(conv_at(o, i, tap)) * f64::from(vars.input_b[i]))
                .sum();
            w.push((f64::from(bias) + folded) as f32);
        }
        // Input mixer (M, 1, 1): GuitarML has none.
        w.extend(std::iter::repeat_n(0.0, mid));
        // Layer 1x1 (C, C, 1) and its bias: the residual 1x1.
        for o in 0..c {
            w.extend((0..c).map(|i| w_out[i * c + o]));
        }
        w.extend_from_slice(b_out);
        // Head 1x1 (1, C, 1): this layer's slice of the output layer; no bias.
        w.extend_from_slice(&vars.output_w[layer * c..(layer + 1) * c]);
        w.push(0.0);
    }
    // Head rechannel (1, 1, 1) with the output layer's bias.
    w.push(1.0);
    w.extend_from_slice(&vars.output_b);
    w.push(head_scale);
    w
}
