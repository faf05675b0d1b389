//! The text report of `nam-tools info`.

use std::fmt::Write;

use serde_json::Value;

use super::summary::{activation_label_json, ConfigSummary, LayerArraySummary};
use super::{MetadataSummary, ModelInfo};

/// The whole report, one `key: value` per line, nested parts indented.
pub(super) fn render(info: &ModelInfo) -> String {
    let mut out = String::new();
    model(&mut out, info, "");
    out
}

fn model(out: &mut String, info: &ModelInfo, indent: &str) {
    let rate = info.sample_rate_hz;
    let declared = if info.sample_rate_declared {
        ""
    } else {
        " (not stated; the NAM default)"
    };
    if info.version == "none" {
        let _ = writeln!(
            out,
            "{indent}architecture:     {} ({} file)",
            info.architecture, info.format
        );
    } else {
        let _ = writeln!(
            out,
            "{indent}architecture:     {} (file version {})",
            info.architecture, info.version
        );
    }
    let _ = writeln!(out, "{indent}sample rate:      {rate} Hz{declared}");
    let _ = writeln!(out, "{indent}parameters:       {}", info.parameters);
    let _ = writeln!(
        out,
        "{indent}receptive field:  {} samples ({:.1} ms)",
        info.receptive_field,
        1000.0 * info.receptive_field as f64 / rate
    );
    let _ = writeln!(
        out,
        "{indent}multiply-adds:    {} per sample ({:.1} M per second of audio)",
        info.multiply_adds_per_sample,
        info.multiply_adds_per_sample as f64 * rate / 1e6
    );
    config(out, &info.config, indent);
    sizes(out, info, indent);
    for (i, sub) in info.submodels.iter().enumerate() {
        let default = if i + 1 == info.submodels.len() {
            ", plays by default"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{indent}submodel {i} (max_value {}{default}):",
            sub.max_value
        );
        model(out, &sub.model, &format!("{indent}  "));
    }
    metadata(out, &info.metadata, indent);
}

/// One line per size of a slimmable model.
fn sizes(out: &mut String, info: &ModelInfo, indent: &str) {
    if info.sizes.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{indent}sizes:            {} (the size setting picks one; 1.0 plays the last)",
        info.sizes.len()
    );
    for (i, size) in info.sizes.iter().enumerate() {
        let channels: Vec<String> = size.channels.iter().map(|c| c.to_string()).collect();
        let default = if size.default { ", default" } else { "" };
        let _ = writeln!(
            out,
            "{indent}  size {i}: values {:.3}..{:.3}, channels {}, {} multiply-adds per sample, receptive field {}{default}",
            size.min_value,
            size.max_value,
            channels.join("/"),
            size.multiply_adds_per_sample,
            size.receptive_field
        );
    }
}

fn config(out: &mut String, config: &ConfigSummary, indent: &str) {
    match config {
        ConfigSummary::WaveNet {
            layer_arrays,
            head,
            head_scale,
            condition_dsp,
        } => {
            for (i, array) in layer_arrays.iter().enumerate() {
                layer_array(out, i, array, indent);
            }
            if let Some(h) = head {
                let _ = writeln!(
                    out,
                    "{indent}post-stack head:  {} channels, kernels {}, {} -> {} channels",
                    h.channels,
                    list(&h.kernel_sizes),
                    activation_label_json(&h.activation),
                    h.out_channels
                );
            }
            let _ = writeln!(out, "{indent}head scale:       {head_scale}");
            if let Some(nested) = condition_dsp {
                let _ = writeln!(out, "{indent}condition DSP:");
                model(out, nested, &format!("{indent}  "));
            }
        }
        ConfigSummary::Lstm {
            input_size,
            hidden_size,
            num_layers,
        } => {
            let _ = writeln!(
                out,
                "{indent}LSTM:             {num_layers} layer(s), hidden size {hidden_size}, input size {input_size}"
            );
        }
        ConfigSummary::RtNeural {
            layers,
            input_skip,
            input_gain_db,
            output_gain_db,
        } => {
            let _ = writeln!(out, "{indent}layers:           {}", layers.join(", "));
            let _ = writeln!(
                out,
                "{indent}input skip:       {}",
                if *input_skip {
                    "yes (the input is added to the output)"
                } else {
                    "no"
                }
            );
            let _ = writeln!(
                out,
                "{indent}gains:            input {input_gain_db} dB, output {output_gain_db} dB (applied, as AIDA-X does)"
            );
        }
        ConfigSummary::ConvNet {
            channels,
            dilations,
            batchnorm,
            activation,
        } => {
            let _ = writeln!(
                out,
                "{indent}ConvNet:          {channels} channels, {} blocks (kernel 2, dilations {}), {}, batchnorm {}",
                dilations.len(),
                list(dilations),
                activation_label_json(activation),
                if *batchnorm { "yes" } else { "no" }
            );
        }
        ConfigSummary::Linear {
            receptive_field,
            bias,
        } => {
            let _ = writeln!(
                out,
                "{indent}Linear:           {receptive_field} taps, bias {}",
                if *bias { "yes" } else { "no" }
            );
        }
        ConfigSummary::SlimmableContainer { submodels } => {
            let _ = writeln!(out, "{indent}submodels:        {submodels}");
        }
    }
}

fn layer_array(out: &mut String, i: usize, a: &LayerArraySummary, indent: &str) {
    let bottleneck = if a.bottleneck == a.channels {
        String::new()
    } else {
        format!(", bottleneck {}", a.bottleneck)
    };
    let _ = writeln!(
        out,
        "{indent}layer array {i}:    {} -> {} channels{bottleneck}, {} layers, condition {}",
        a.input_size, a.channels, a.layers, a.condition_size
    );
    let pad = format!("{indent}                  ");
    let _ = writeln!(
        out,
        "{pad}kernel sizes {}",
        uniform_or_list(&a.kernel_sizes)
    );
    let _ = writeln!(out, "{pad}dilations {}", list(&a.dilations));
    let labels: Vec<String> = a.activations.iter().map(activation_label_json).collect();
    let _ = writeln!(out, "{pad}activation {}", uniform_or_list(&labels));
    let gating: Vec<String> = a
        .gating
        .iter()
        .zip(&a.secondary_activations)
        .map(|(mode, secondary)| match secondary {
            Value::Null => (*mode).to_owned(),
            s => format!("{mode} ({})", activation_label_json(s)),
        })
        .collect();
    let _ = writeln!(out, "{pad}gating {}", uniform_or_list(&gating));
    let h = &a.head;
    let _ = writeln!(
        out,
        "{pad}head {} channel(s), kernel {}, dilation {}, bias {}",
        h.out_channels,
        h.kernel_size,
        h.dilation,
        if h.bias { "yes" } else { "no" }
    );
    let mut extras = Vec::new();
    if a.groups_input != 1 || a.groups_input_mixin != 1 {
        extras.push(format!(
            "groups input {}, input mixin {}",
            a.groups_input, a.groups_input_mixin
        ));
    }
    match a.layer1x1_groups {
        None => extras.push("layer 1x1 off".to_owned()),
        Some(1) => {}
        Some(g) => extras.push(format!("layer 1x1 groups {g}")),
    }
    if let (Some(out_channels), Some(groups)) = (a.head1x1_out_channels, a.head1x1_groups) {
        extras.push(format!(
            "head 1x1 {out_channels} channel(s), groups {groups}"
        ));
    }
    for film in &a.film {
        extras.push(format!(
            "FiLM {} (shift {}, groups {})",
            film.position,
            if film.shift { "yes" } else { "no" },
            film.groups
        ));
    }
    if let Some(channels) = &a.slimmable_channels {
        extras.push(format!("slimmable to {} channels", list(channels)));
    }
    for extra in extras {
        let _ = writeln!(out, "{pad}{extra}");
    }
    let _ = writeln!(
        out,
        "{pad}receptive field {}, {} multiply-adds per sample",
        a.receptive_field, a.multiply_adds_per_sample
    );
}

fn metadata(out: &mut String, m: &MetadataSummary, indent: &str) {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut text = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            lines.push((key.to_owned(), v.clone()));
        }
    };
    text("name", &m.name);
    text("modeled by", &m.modeled_by);
    text("gear type", &m.gear_type);
    text("gear make", &m.gear_make);
    text("gear model", &m.gear_model);
    text("tone type", &m.tone_type);
    let mut number = |key: &str, value: Option<f64>, unit: &str| {
        if let Some(v) = value {
            lines.push((key.to_owned(), format!("{}{unit}", number_text(v))));
        }
    };
    number("loudness", m.loudness_db, " dB");
    number("input level", m.input_level_dbu, " dBu");
    number("output level", m.output_level_dbu, " dBu");
    number("validation ESR", m.validation_esr, "");
    if let Some(date) = &m.date {
        lines.push(("date".to_owned(), date_text(date)));
    }
    for (key, value) in &m.other {
        lines.push((key.clone(), compact(value)));
    }
    if let Some(training) = &m.training {
        lines.push(("training".to_owned(), compact(training)));
    }
    if lines.is_empty() {
        let _ = writeln!(out, "{indent}metadata:         none");
        return;
    }
    let _ = writeln!(out, "{indent}metadata:");
    for (key, value) in lines {
        let _ = writeln!(out, "{indent}  {}: {}", printable(&key), printable(&value));
    }
}

/// A number as written in a file: plainly when it reads well (`-18.2`,
/// `0.0031`), in scientific notation when it is huge or tiny (`1e300`).
fn number_text(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-4..1e16).contains(&magnitude) {
        value.to_string()
    } else {
        format!("{value:e}")
    }
}

/// `text` safe to print on a terminal: control characters (escape sequences,
/// carriage returns, newlines) and bidirectional overrides are shown escaped
/// (`\u{1b}`, `\r`, `\n`, `\u{202e}`) instead of acting on the terminal.
pub fn printable(text: &str) -> String {
    let acts_on_terminal =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.contains(acts_on_terminal) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if acts_on_terminal(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `2025-01-01 00:00:00` from the trainer's date object; other forms as JSON.
fn date_text(date: &Value) -> String {
    let part = |k: &str| date.get(k).and_then(Value::as_u64);
    match (
        part("year"),
        part("month"),
        part("day"),
        part("hour"),
        part("minute"),
        part("second"),
    ) {
        (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) => {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
        }
        _ => compact(date),
    }
}

/// A string as itself, anything else as compact JSON.
fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// One value when every item is the same, else the list.
fn uniform_or_list<T: ToString + PartialEq>(items: &[T]) -> String {
    match items.first() {
        Some(first) if items.iter().all(|x| x == first) => first.to_string(),
        _ => list(items),
    }
}
