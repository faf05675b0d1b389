//! `convert`: a model from one [`ModelFormat`] to another, where the target
//! can express it exactly, else refused with the reason.
//!
//! - RTNeural / AIDA-X to `.nam`: a stack of LSTM layers of one size under a
//!   plain dense output becomes a `.nam` LSTM. Keras' kernel and recurrent
//!   matrices are transposed into PyTorch's `[gate row][input, hidden]`
//!   (the gate order i, f, c, o is PyTorch's i, f, g, o); AIDA-X's input
//!   gain is folded into the first layer's input weights and its output gain
//!   into the dense layer. The initial state is zero, as RTNeural's.
//! - `.nam` LSTM to RTNeural / AIDA-X: the reverse; the stored initial state
//!   has no place in the format and is dropped (both then settle to the
//!   same state on silence).
//! - GuitarML WaveNet to `.nam`: the loader already holds it as the NAM
//!   WaveNet it maps onto exactly (`nam_kernel::format` docs), written with
//!   GuitarML's 44.1 kHz stated. The reverse is refused: a NAM WaveNet is
//!   not in general one GuitarML can express.
//!
//! Anything else (GRU, hidden dense layers, `in_skip`, WaveNet, ConvNet,
//! Linear, containers) has no exact counterpart and is refused.

use nam_kernel::format::{
    Activation, LstmConfig, ModelFormat, ModelSpec, RtNeuralConfig, RtNeuralLayer,
};
use nam_kernel::NamFile;

/// Converts `file` to `target`; the reason when the target cannot express it.
pub fn convert(file: &NamFile, target: ModelFormat) -> Result<NamFile, String> {
    let spec = match (&file.spec, target) {
        (_, target) if file.format() == target => return Ok(file.clone()),
        (ModelSpec::RtNeural { config, weights }, ModelFormat::Nam) => {
            rtneural_to_lstm(config, weights)?
        }
        (ModelSpec::Lstm { config, weights }, ModelFormat::RtNeural) => {
            lstm_to_rtneural(config, weights)?
        }
        (spec @ ModelSpec::WaveNet { .. }, ModelFormat::Nam) => spec.clone(),
        (spec, target) => {
            return Err(format!(
                "a {} model has no {} form",
                spec.architecture(),
                target.name()
            ))
        }
    };
    Ok(NamFile {
        version: nam_kernel::format::LATEST_SUPPORTED_VERSION,
        metadata: file.metadata.clone(),
        declared_sample_rate_hz: match file.format() {
            ModelFormat::GuitarMl => Some(file.sample_rate_hz()),
            ModelFormat::Nam | ModelFormat::RtNeural => file.declared_sample_rate_hz,
        },
        spec,
        source_format: target,
    })
}

fn rtneural_to_lstm(config: &RtNeuralConfig, weights: &[f32]) -> Result<ModelSpec, String> {
    if config.input_skip {
        return Err("the model adds its input to its output (in_skip); a .nam LSTM cannot".into());
    }
    let Some((
        RtNeuralLayer::Dense {
            input_size: h,
            output_size: 1,
            activation,
        },
        recurrent,
    )) = config.layers.split_last()
    else {
        return Err("a .nam LSTM ends in one dense output; this model does not".into());
    };
    if *activation != Activation::Identity {
        return Err("the dense output has an activation; a .nam LSTM's head has none".into());
    }
    let h = *h;
    if recurrent.is_empty() {
        return Err("the model has no LSTM layer".into());
    }
    let mut sizes = Vec::with_capacity(recurrent.len());
    for (i, layer) in recurrent.iter().enumerate() {
        let RtNeuralLayer::Lstm { hidden_size, .. } = layer else {
            return Err(format!(
                "layer {i} is {} {}; a .nam LSTM has only LSTM layers under its dense output",
                layer.type_name(),
                layer.output_size()
            ));
        };
        sizes.push(*hidden_size);
    }
    if let Some(i) = sizes.iter().position(|&size| size != h) {
        return Err(format!(
            "layer {i} has {} units and the output reads {h}; a .nam LSTM's layers share one size",
            sizes[i]
        ));
    }
    let input_gain = RtNeuralConfig::gain_factor(config.input_gain_db);
    let output_gain = RtNeuralConfig::gain_factor(config.output_gain_db);
    let mut rest = weights;
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        head
    };
    let mut out = Vec::with_capacity(weights.len() + 2 * h * recurrent.len());
    for i in 0..recurrent.len() {
        let input = if i == 0 { 1 } else { h };
        let scale = if i == 0 { input_gain } else { 1.0 };
        let kernel = take(input * 4 * h);
        let recurrent_weights = take(h * 4 * h);
        for row in 0..4 * h {
            out.extend((0..input).map(|c| kernel[c * 4 * h + row] * scale));
            out.extend((0..h).map(|c| recurrent_weights[c * 4 * h + row]));
        }
        out.extend_from_slice(take(4 * h));
        out.extend(std::iter::repeat_n(0.0, 2 * h)); // initial hidden and cell state
    }
    out.extend(take(h).iter().map(|w| w * output_gain));
    out.extend(take(1).iter().map(|b| b * output_gain));
    Ok(ModelSpec::Lstm {
        config: LstmConfig {
            input_size: 1,
            hidden_size: h,
            num_layers: recurrent.len(),
        },
        weights: out,
    })
}

fn lstm_to_rtneural(config: &LstmConfig, weights: &[f32]) -> Result<ModelSpec, String> {
    let h = config.hidden_size;
    let mut rest = weights;
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        head
    };
    let mut layers = Vec::with_capacity(config.num_layers + 1);
    let mut out = Vec::with_capacity(weights.len());
    for layer in 0..config.num_layers {
        let input = config.layer_input_size(layer);
        let columns = input + h;
        let weight = take(4 * h * columns);
        // PyTorch's `[gate row][input, hidden]` to Keras' kernel and recurrent.
        for c in 0..input {
            out.extend((0..4 * h).map(|row| weight[row * columns + c]));
        }
        for c in 0..h {
            out.extend((0..4 * h).map(|row| weight[row * columns + input + c]));
        }
        out.extend_from_slice(take(4 * h));
        take(2 * h); // the initial state: RTNeural has none
        layers.push(RtNeuralLayer::Lstm {
            input_size: input,
            hidden_size: h,
        });
    }
    out.extend_from_slice(take(h + 1));
    layers.push(RtNeuralLayer::Dense {
        input_size: h,
        output_size: 1,
        activation: Activation::Identity,
    });
    Ok(ModelSpec::RtNeural {
        config: RtNeuralConfig {
            layers,
            input_skip: false,
            input_gain_db: 0.0,
            output_gain_db: 0.0,
        },
        weights: out,
    })
}
