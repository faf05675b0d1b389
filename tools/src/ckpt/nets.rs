//! Each architecture the NAM trainer (0.13) exports: its `.nam` config and
//! weights from the model config and the state_dict, in the order and form of
//! the trainer's `_export_config` / `_export_weights` (`nam/models/linear.py`,
//! `conv_net.py`, `recurrent.py`, `wavenet/`).

use serde_json::{json, Map, Value};

use super::config::{ConfigResult, Section};
use super::lstm_state::burn_in_state;
use super::tensors::Tensors;
use super::ImportError;

/// A model's `.nam` architecture name, config and weights.
pub struct Export {
    /// `architecture` of the document.
    pub architecture: &'static str,
    /// `config` of the document.
    pub config: Value,
    /// `weights` of the document.
    pub weights: Vec<f32>,
}

/// The batch norm epsilon of the trainer's ConvNet (PyTorch's default; the
/// trainer exports it as a weight).
const BATCHNORM_EPS: f32 = 1e-5;

/// Exports the model `name` with `config` (the `net.config` part) from `tensors`.
pub fn export(
    name: &str,
    config: &Section,
    tensors: &mut Tensors,
    config_error: &dyn Fn(String) -> ImportError,
) -> Result<Export, ImportError> {
    match name {
        "Linear" => linear(config, tensors, config_error),
        "ConvNet" => convnet(config, tensors, config_error),
        "LSTM" => lstm(config, tensors, config_error),
        "WaveNet" => wavenet(config, tensors, config_error),
        other => Err(config_error(format!(
            "net.name: '{other}' is not an architecture the import knows (Linear, ConvNet, LSTM, WaveNet)"
        ))),
    }
}

fn linear(
    config: &Section,
    t: &mut Tensors,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Export, ImportError> {
    let rf = config.positive_or("receptive_field", 0).map_err(ce)?;
    let bias = config.bool_or("bias", false).map_err(ce)?;
    let mut weights = t.take("_net.weight", &[1, 1, rf])?;
    if bias {
        weights.extend(t.take("_net.bias", &[1])?);
    }
    Ok(Export {
        architecture: "Linear",
        config: json!({"receptive_field": rf, "bias": bias}),
        weights,
    })
}

fn convnet(
    config: &Section,
    t: &mut Tensors,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Export, ImportError> {
    config
        .refuse(
            "ir_filename",
            "a ConvNet with an IR is not imported (the trainer's export leaves the IR out)",
        )
        .map_err(ce)?;
    let channels = config.positive_or("channels", 32).map_err(ce)?;
    let dilations = match config.get("dilations") {
        None => vec![1, 2, 4, 8],
        Some(_) => config.usize_list("dilations").map_err(ce)?,
    };
    let batchnorm = config.bool_or("batchnorm", false).map_err(ce)?;
    let activation = match config.get("activation") {
        None => "Tanh".to_owned(),
        Some(spec) => convnet_activation(spec)
            .map_err(|e| ce(format!("{}.activation: {e}", config.path())))?,
    };
    let mut weights = Vec::new();
    let mut cin = 1;
    for i in 0..dilations.len() {
        let block = format!("_net.block_{i}");
        weights.extend(t.take(&format!("{block}.conv.weight"), &[channels, cin, 2])?);
        if batchnorm {
            let bn = format!("{block}.batchnorm");
            weights.extend(t.take(&format!("{bn}.running_mean"), &[channels])?);
            weights.extend(t.take(&format!("{bn}.running_var"), &[channels])?);
            weights.extend(t.take(&format!("{bn}.weight"), &[channels])?);
            weights.extend(t.take(&format!("{bn}.bias"), &[channels])?);
            weights.push(BATCHNORM_EPS);
            t.skip(&format!("{bn}.num_batches_tracked"));
        } else {
            weights.extend(t.take(&format!("{block}.conv.bias"), &[channels])?);
        }
        cin = channels;
    }
    weights.extend(t.take("_net.head.weight", &[1, channels, 1])?);
    weights.extend(t.take("_net.head.bias", &[1])?);
    Ok(Export {
        architecture: "ConvNet",
        config: json!({"channels": channels, "dilations": dilations, "batchnorm": batchnorm,
                       "activation": activation}),
        weights,
    })
}

/// The NAM trainer's activations that are its own classes (`_Softsign`, ...)
/// rather than `torch.nn` ones.
const NAM_ACTIVATIONS: [&str; 3] = ["LeakyHardtanh", "Softsigmoid", "Softsign"];

/// A ConvNet's exported activation: the class name of the module.
fn convnet_activation(spec: &Value) -> Result<String, String> {
    let name = match spec {
        Value::String(name) => name.as_str(),
        Value::Object(map) if map.contains_key("primary") => {
            return Err("pairing activations are not supported for ConvNet".into())
        }
        Value::Object(map) => map
            .get("name")
            .and_then(Value::as_str)
            .ok_or("an activation object needs a 'name'")?,
        _ => return Err(format!("expected a name or an object, found {spec}")),
    };
    Ok(if NAM_ACTIVATIONS.contains(&name) {
        format!("_{name}")
    } else {
        name.to_owned()
    })
}

fn lstm(
    config: &Section,
    t: &mut Tensors,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Export, ImportError> {
    let hidden = config.positive_or("hidden_size", 0).map_err(ce)?;
    let layers = config.positive_or("num_layers", 1).map_err(ce)?;
    let input_size = config.positive_or("input_size", 1).map_err(ce)?;
    for key in ["bidirectional", "proj_size"] {
        if config
            .get(key)
            .is_some_and(|v| v != &json!(false) && v != &json!(0))
        {
            return Err(ce(format!("{}.{key}: not a .nam LSTM", config.path())));
        }
    }
    if !config.bool_or("bias", true).map_err(ce)? {
        return Err(ce(format!(
            "{}.bias: an LSTM without biases is not a .nam LSTM",
            config.path()
        )));
    }
    let mut cells = Vec::with_capacity(layers);
    for l in 0..layers {
        let cin = if l == 0 { input_size } else { hidden };
        let w_ih = t.take(&format!("_core.weight_ih_l{l}"), &[4 * hidden, cin])?;
        let w_hh = t.take(&format!("_core.weight_hh_l{l}"), &[4 * hidden, hidden])?;
        let b_ih = t.take(&format!("_core.bias_ih_l{l}"), &[4 * hidden])?;
        let b_hh = t.take(&format!("_core.bias_hh_l{l}"), &[4 * hidden])?;
        // The bias as the trainer sums it (in float32).
        let bias: Vec<f32> = b_ih.iter().zip(b_hh).map(|(a, b)| a + b).collect();
        cells.push((w_ih, w_hh, bias));
    }
    // The learned initial state is not exported; the trainer writes the state
    // after 48000 samples of silence from zero instead.
    t.skip("_initial_hidden");
    t.skip("_initial_cell");
    let states = burn_in_state(&cells, input_size, hidden);
    let mut weights = Vec::new();
    for ((w_ih, w_hh, bias), (h, c)) in cells.iter().zip(&states) {
        let cin = w_ih.len() / (4 * hidden);
        for row in 0..4 * hidden {
            weights.extend(&w_ih[row * cin..(row + 1) * cin]);
            weights.extend(&w_hh[row * hidden..(row + 1) * hidden]);
        }
        weights.extend(bias);
        weights.extend(h);
        weights.extend(c);
    }
    weights.extend(t.take("_head.weight", &[1, hidden])?);
    weights.extend(t.take("_head.bias", &[1])?);
    Ok(Export {
        architecture: "LSTM",
        config: json!({"input_size": input_size, "hidden_size": hidden, "num_layers": layers}),
        weights,
    })
}

/// FiLM positions in a layer, in the trainer's weight order.
const FILM_NAMES: [&str; 8] = [
    "conv_pre_film",
    "conv_post_film",
    "input_mixin_pre_film",
    "input_mixin_post_film",
    "activation_pre_film",
    "activation_post_film",
    "layer1x1_post_film",
    "head1x1_post_film",
];

fn wavenet(
    config: &Section,
    t: &mut Tensors,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Export, ImportError> {
    wavenet_at(config, "_net", t, ce)
}

/// A WaveNet whose modules are below `module` in the state_dict (the model's
/// own `_net`, or its condition DSP's `_net._condition_dsp`).
fn wavenet_at(
    config: &Section,
    module: &str,
    t: &mut Tensors,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Export, ImportError> {
    let arrays = match config.required("layers_configs").map_err(ce)? {
        Value::Array(a) if !a.is_empty() => a,
        _ => {
            return Err(ce(format!(
                "{}.layers_configs: expected a non-empty list",
                config.path()
            )))
        }
    };
    let mut weights = Vec::new();
    let mut exported = Vec::new();
    let mut head_channels = 0;
    for (i, array) in arrays.iter().enumerate() {
        let section =
            Section::new(array, format!("{}.layers_configs[{i}]", config.path())).map_err(ce)?;
        let prefix = format!("{module}._layer_arrays.{i}");
        let (config, out) =
            layer_array(&section, &prefix, t, &mut weights).map_err(|e| match e {
                ArrayError::Config(e) => ce(e),
                ArrayError::Tensor(e) => e,
            })?;
        exported.push(config);
        head_channels = out;
    }
    let head = match config.section("head").map_err(ce)? {
        None => Value::Null,
        Some(head) => {
            post_head(&head, module, head_channels, t, &mut weights).map_err(|e| match e {
                ArrayError::Config(e) => ce(e),
                ArrayError::Tensor(e) => e,
            })?
        }
    };
    let head_scale = config.get("head_scale").cloned().unwrap_or(json!(1.0));
    let scale = head_scale
        .as_f64()
        .ok_or_else(|| ce(format!("{}.head_scale: expected a number", config.path())))?;
    weights.push(scale as f32);
    let mut exported_config = json!({"layers": exported, "head": head, "head_scale": head_scale});
    if let Some(dsp) = config.section("condition_dsp").map_err(ce)? {
        exported_config["condition_dsp"] = condition_dsp(&dsp, module, t, ce)?;
    }
    Ok(Export {
        architecture: "WaveNet",
        config: exported_config,
        weights,
    })
}

/// A WaveNet's condition DSP (`condition_dsp: {"name": "WaveNet", "config"}`),
/// exported as the trainer does: a nested `.nam` document with its own
/// weights and a date (its `sample_rate` is added with the model's).
fn condition_dsp(
    dsp: &Section,
    module: &str,
    t: &mut Tensors,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Value, ImportError> {
    match dsp.required("name").map_err(ce)? {
        Value::String(name) if name == "WaveNet" => {}
        other => {
            return Err(ce(format!(
                "{}.name: {other}: the trainer's condition DSP is a WaveNet",
                dsp.path()
            )))
        }
    }
    let config = Section::new(
        dsp.required("config").map_err(ce)?,
        format!("{}.config", dsp.path()),
    )
    .map_err(ce)?;
    let nested = wavenet_at(&config, &format!("{module}._condition_dsp"), t, ce)?;
    Ok(json!({
        "version": "0.7.0",
        "metadata": {"date": crate::date::now()},
        "architecture": nested.architecture,
        "config": nested.config,
        "weights": nested.weights,
    }))
}

/// A config or tensor problem inside a WaveNet.
enum ArrayError {
    Config(String),
    Tensor(ImportError),
}

impl From<String> for ArrayError {
    fn from(e: String) -> Self {
        ArrayError::Config(e)
    }
}

impl From<ImportError> for ArrayError {
    fn from(e: ImportError) -> Self {
        ArrayError::Tensor(e)
    }
}

/// `channels / groups`, refused unless it divides.
fn per_group(channels: usize, groups: usize, what: &str) -> ConfigResult<usize> {
    if groups == 0 || !channels.is_multiple_of(groups) {
        return Err(format!(
            "{what}: {channels} channels do not split into {groups} groups"
        ));
    }
    Ok(channels / groups)
}

/// One conv's weight (`[out, in / groups, kernel]`) and optional bias.
fn conv(
    t: &mut Tensors,
    weights: &mut Vec<f32>,
    name: &str,
    shape: [usize; 3],
    bias: bool,
) -> Result<(), ImportError> {
    weights.extend(t.take(&format!("{name}.weight"), &shape)?);
    if bias {
        weights.extend(t.take(&format!("{name}.bias"), &[shape[0]])?);
    }
    Ok(())
}

/// A FiLM config of a layer array (`film_params.<name>`), trainer defaults.
struct Film {
    active: bool,
    shift: bool,
    groups: usize,
}

/// One layer array: its exported config and its head output channels; its
/// weights are appended to `weights`.
fn layer_array(
    a: &Section,
    prefix: &str,
    t: &mut Tensors,
    weights: &mut Vec<f32>,
) -> Result<(Value, usize), ArrayError> {
    a.refuse(
        "packing",
        "'packing' is the trainer's internal layout: give the PackedWaveNet config",
    )?;
    let input_size = a.usize("input_size")?;
    let condition_size = a.usize("condition_size")?;
    let channels = a.positive_or("channels", 0)?;
    let slimmable = slimmable(a, channels)?;
    let head = a.section("head")?.ok_or_else(|| {
        format!(
            "{}.head: missing (out_channels, kernel_size, bias)",
            a.path()
        )
    })?;
    let head_out = head.positive_or("out_channels", 0)?;
    let head_kernel = head.positive_or("kernel_size", 0)?;
    let head_bias = match head.required("bias")? {
        Value::Bool(b) => *b,
        v => return Err(format!("{}.bias: expected true or false, found {v}", head.path()).into()),
    };
    let dilations = a.usize_list("dilations")?;
    let n = dilations.len();
    let kernel_key = if a.get("kernel_sizes").is_some() {
        "kernel_sizes"
    } else {
        "kernel_size"
    };
    let kernel_sizes = a.usize_per_layer(kernel_key, n)?;
    let mut activations = layer_activations(a.required("activation")?, n)
        .map_err(|e| format!("{}.activation: {e}", a.path()))?;
    let bottleneck = a.positive_or("bottleneck", channels)?;
    let head1x1 = a.section("head_1x1_config")?;
    let head1x1_active = head1x1
        .as_ref()
        .map_or(Ok(false), |s| s.bool_or("active", false))?;
    let head1x1_out = head1x1
        .as_ref()
        .map_or(Ok(1), |s| s.positive_or("out_channels", 1))?;
    let head1x1_groups = head1x1
        .as_ref()
        .map_or(Ok(1), |s| s.positive_or("groups", 1))?;
    let layer1x1 = a.section("layer_1x1_config")?;
    let layer1x1_active = layer1x1
        .as_ref()
        .map_or(Ok(true), |s| s.bool_or("active", true))?;
    let layer1x1_groups = layer1x1
        .as_ref()
        .map_or(Ok(1), |s| s.positive_or("groups", 1))?;
    let groups_input = a.positive_or("groups_input", 1)?;
    let groups_mixin = a.positive_or("groups_input_mixin", 1)?;
    let film_params = a.section("film_params")?;
    let mut films = Vec::new();
    for name in FILM_NAMES {
        let section = match &film_params {
            Some(p) => p.section(name)?,
            None => None,
        };
        films.push(match section {
            None => Film {
                active: false,
                shift: true,
                groups: 1,
            },
            Some(s) => Film {
                active: s.bool_or("active", false)?,
                shift: s.bool_or("shift", true)?,
                groups: s.positive_or("groups", 1)?,
            },
        });
    }
    if films[6].active && !layer1x1_active {
        return Err(format!(
            "{}: layer1x1_post_film is active without layer1x1",
            a.path()
        )
        .into());
    }
    if films[7].active && !head1x1_active {
        return Err(format!("{}: head1x1_post_film is active without head1x1", a.path()).into());
    }

    conv(
        t,
        weights,
        &format!("{prefix}._rechannel"),
        [channels, input_size, 1],
        false,
    )?;
    let path = a.path();
    for (j, (&kernel, &dilation)) in kernel_sizes.iter().zip(&dilations).enumerate() {
        if kernel == 0 || dilation == 0 {
            return Err(format!("{path}: layer {j} has a kernel size or dilation of 0").into());
        }
        let layer = format!("{prefix}._layers.{j}");
        let activation = &mut activations[j];
        if activation.paired {
            learned_slopes(
                &mut activation.primary,
                t,
                &format!("{layer}._activation._primary"),
            )?;
            learned_slopes(
                &mut activation.secondary,
                t,
                &format!("{layer}._activation._secondary"),
            )?;
        } else {
            learned_slopes(&mut activation.primary, t, &format!("{layer}._activation"))?;
        }
        let activation = &activations[j];
        let mid = if activation.paired {
            2 * bottleneck
        } else {
            bottleneck
        };
        let conv_in = per_group(channels, groups_input, &format!("{path}.groups_input"))?;
        conv(
            t,
            weights,
            &format!("{layer}._conv"),
            [mid, conv_in, kernel],
            true,
        )?;
        let mixin_in = per_group(
            condition_size,
            groups_mixin,
            &format!("{path}.groups_input_mixin"),
        )?;
        conv(
            t,
            weights,
            &format!("{layer}._input_mixer"),
            [mid, mixin_in, 1],
            false,
        )?;
        if layer1x1_active {
            let cin = per_group(
                bottleneck,
                layer1x1_groups,
                &format!("{path}.layer_1x1_config.groups"),
            )?;
            conv(
                t,
                weights,
                &format!("{layer}._layer1x1"),
                [channels, cin, 1],
                true,
            )?;
        }
        if head1x1_active {
            let cin = per_group(
                bottleneck,
                head1x1_groups,
                &format!("{path}.head_1x1_config.groups"),
            )?;
            conv(
                t,
                weights,
                &format!("{layer}._head1x1"),
                [head1x1_out, cin, 1],
                true,
            )?;
        }
        let film_inputs = [
            channels,
            mid,
            condition_size,
            mid,
            mid,
            bottleneck,
            channels,
            head1x1_out,
        ];
        for ((name, film), input_dim) in FILM_NAMES.iter().zip(&films).zip(film_inputs) {
            if film.active {
                let out = if film.shift { 2 * input_dim } else { input_dim };
                let cin = per_group(
                    condition_size,
                    film.groups,
                    &format!("{path}.film_params.{name}.groups"),
                )?;
                conv(
                    t,
                    weights,
                    &format!("{layer}._{name}._film"),
                    [out, cin, 1],
                    true,
                )?;
            }
        }
    }
    let head_in = if head1x1_active {
        head1x1_out
    } else {
        bottleneck
    };
    conv(
        t,
        weights,
        &format!("{prefix}._head_rechannel"),
        [head_out, head_in, head_kernel],
        head_bias,
    )?;

    let film_json = |f: &Film| {
        if f.active {
            json!({"active": true, "shift": f.shift, "groups": f.groups})
        } else {
            json!({"active": false, "shift": true, "groups": 1})
        }
    };
    let mut config = Map::new();
    config.insert("input_size".into(), json!(input_size));
    config.insert("condition_size".into(), json!(condition_size));
    config.insert(
        "head".into(),
        json!({"out_channels": head_out, "kernel_size": head_kernel, "bias": head_bias}),
    );
    config.insert("channels".into(), json!(channels));
    config.insert("kernel_sizes".into(), json!(kernel_sizes));
    config.insert("dilations".into(), json!(dilations));
    config.insert(
        "activation".into(),
        activations.iter().map(|a| a.primary.clone()).collect(),
    );
    config.insert("bottleneck".into(), json!(bottleneck));
    config.insert(
        "head1x1".into(),
        if head1x1_active {
            json!({"active": true, "out_channels": head1x1_out, "groups": head1x1_groups})
        } else {
            json!({"active": false, "out_channels": 1, "groups": 1})
        },
    );
    config.insert(
        "layer1x1".into(),
        json!({"active": layer1x1_active, "groups": if layer1x1_active { layer1x1_groups } else { 1 }}),
    );
    config.insert("groups_input".into(), json!(groups_input));
    config.insert("groups_input_mixin".into(), json!(groups_mixin));
    for (name, film) in FILM_NAMES.iter().zip(&films) {
        config.insert((*name).into(), film_json(film));
    }
    config.insert(
        "gating_mode".into(),
        activations.iter().map(|a| json!(a.gating_mode)).collect(),
    );
    config.insert(
        "secondary_activation".into(),
        activations.iter().map(|a| a.secondary.clone()).collect(),
    );
    config.insert("slimmable".into(), slimmable);
    Ok((Value::Object(config), head_out))
}

/// The WaveNet's post-stack head (`net.config.head`).
fn post_head(
    head: &Section,
    module: &str,
    in_channels: usize,
    t: &mut Tensors,
    weights: &mut Vec<f32>,
) -> Result<Value, ArrayError> {
    if let Some(legacy) = head.get("in_channels") {
        if legacy.as_u64() != Some(in_channels as u64) {
            return Err(format!(
                "{}.in_channels: {legacy} does not match the last layer array's head out_channels {in_channels}",
                head.path()
            )
            .into());
        }
    }
    let channels = head.positive_or("channels", 0)?;
    let out_channels = head.positive_or("out_channels", 0)?;
    let kernel_sizes = head.usize_list("kernel_sizes")?;
    if kernel_sizes.is_empty() || kernel_sizes.contains(&0) {
        return Err(format!(
            "{}.kernel_sizes: expected a non-empty list of sizes of at least 1",
            head.path()
        )
        .into());
    }
    let activation = head.required("activation")?.clone();
    let mut cin = in_channels;
    for (i, &k) in kernel_sizes.iter().enumerate() {
        let cout = if i + 1 == kernel_sizes.len() {
            out_channels
        } else {
            channels
        };
        conv(
            t,
            weights,
            &format!("{module}._head._layers.layer_{i}.conv"),
            [cout, cin, k],
            true,
        )?;
        cin = channels;
    }
    Ok(
        json!({"channels": channels, "activation": activation, "out_channels": out_channels,
              "kernel_sizes": kernel_sizes}),
    )
}

/// A layer's activation as the trainer exports it.
struct LayerActivation {
    primary: Value,
    gating_mode: &'static str,
    secondary: Value,
    /// A pairing activation (the conv makes twice the bottleneck channels).
    paired: bool,
}

/// The per-layer activations of a layer array (one spec broadcast, or a list).
fn layer_activations(spec: &Value, n: usize) -> Result<Vec<LayerActivation>, String> {
    match spec {
        Value::Array(items) if items.len() == n => items.iter().map(layer_activation).collect(),
        Value::Array(items) => Err(format!("{} entries for {n} layers", items.len())),
        one => (0..n).map(|_| layer_activation(one)).collect(),
    }
}

fn layer_activation(spec: &Value) -> Result<LayerActivation, String> {
    let (name, kwargs) = match spec {
        Value::String(name) => (name.as_str(), Map::new()),
        Value::Object(map) => {
            let name = map
                .get("name")
                .and_then(Value::as_str)
                .ok_or("an activation object needs a 'name'")?;
            let mut kwargs = map.clone();
            kwargs.remove("name");
            (name, kwargs)
        }
        other => return Err(format!("expected a name or an object, found {other}")),
    };
    if let (Some(primary), Some(secondary)) = (kwargs.get("primary"), kwargs.get("secondary")) {
        let gating_mode = match name {
            "PairMultiply" => "gated",
            "PairBlend" => "blended",
            other => {
                return Err(format!(
                    "'{other}' is not a pairing activation (PairMultiply, PairBlend)"
                ))
            }
        };
        let basic = |v: &Value| match v.as_str() {
            Some(n) => basic_activation(n, &Map::new()),
            None => Err(format!("a pairing activation's part is {v}, not a name")),
        };
        return Ok(LayerActivation {
            primary: basic(primary)?,
            gating_mode,
            secondary: basic(secondary)?,
            paired: true,
        });
    }
    Ok(LayerActivation {
        primary: basic_activation(name, &kwargs)?,
        gating_mode: "none",
        secondary: Value::Null,
        paired: false,
    })
}

/// A single activation's export (`{"type": ..., parameters}`), the trainer's
/// defaults filled in.
fn basic_activation(name: &str, kwargs: &Map<String, Value>) -> Result<Value, String> {
    let arg = |key: &str, default: f64| kwargs.get(key).cloned().unwrap_or(json!(default));
    Ok(match name {
        "LeakyHardtanh" => json!({"type": name, "min_val": arg("min_val", -1.0),
            "max_val": arg("max_val", 1.0), "min_slope": arg("min_slope", 0.01),
            "max_slope": arg("max_slope", 0.01)}),
        "LeakyReLU" => json!({"type": name, "negative_slope": arg("negative_slope", 0.01)}),
        "Hardtanh" => {
            json!({"type": name, "min_val": arg("min_val", -1.0), "max_val": arg("max_val", 1.0)})
        }
        // torch.nn.ReLU6 is a Hardtanh.
        "ReLU6" => json!({"type": "Hardtanh", "min_val": 0.0, "max_val": 6.0}),
        // The slopes are learned: `learned_slopes` reads them from the state_dict.
        "PReLU" => json!({"type": name, "num_parameters": arg("num_parameters", 1.0)}),
        other => json!({"type": other}),
    })
}

/// A PReLU's slopes, read from `<module>.weight` in place of the
/// `num_parameters` that `basic_activation` left: `negative_slope` when there
/// is one, else `negative_slopes`, as the trainer exports them. Any other
/// activation is left as it is.
fn learned_slopes(activation: &mut Value, t: &mut Tensors, module: &str) -> Result<(), ArrayError> {
    if activation["type"] != "PReLU" {
        return Ok(());
    }
    let count = activation["num_parameters"]
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 1.0)
        .ok_or_else(|| format!("{module}: PReLU num_parameters must be a positive integer"))?;
    let slopes = t.take(&format!("{module}.weight"), &[count as usize])?;
    *activation = match slopes.as_slice() {
        [one] => json!({"type": "PReLU", "negative_slope": f64::from(*one)}),
        many => {
            json!({"type": "PReLU", "negative_slopes": many.iter().map(|&s| f64::from(s)).collect::<Vec<_>>()})
        }
    };
    Ok(())
}

/// A layer array's `slimmable` export: null, or the trainer's
/// `slice_channels_uniform` with the channel counts it may be played at
/// (`allowed_channels`, every count from 1 when not given).
fn slimmable(a: &Section, channels: usize) -> Result<Value, ArrayError> {
    let Some(config) = a.section("slimmable")? else {
        return Ok(Value::Null);
    };
    match config.required("method")? {
        Value::String(m) if m == "slice_channels_uniform" => {}
        other => {
            return Err(format!(
                "{}.method: {other}: the trainer slims only with 'slice_channels_uniform'",
                config.path()
            )
            .into())
        }
    }
    let allowed = match config.section("kwargs")? {
        Some(kwargs) if kwargs.get("allowed_channels").is_some() => {
            kwargs.usize_list("allowed_channels")?
        }
        _ => (1..=channels).collect(),
    };
    Ok(json!({"method": "slice_channels_uniform", "kwargs": {"allowed_channels": allowed}}))
}
