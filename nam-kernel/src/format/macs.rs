//! Multiply-adds per sample, computed from a model's config.
//!
//! The count is the number of weight multiplications (each followed by an
//! add) that the convolutions and matrix products perform for one output
//! sample. For a convolution of `cin` inputs, `cout` outputs, `k` taps and
//! `g` groups that is `cout · (cin / g) · k`, its weight count without the
//! bias. Not counted: biases, activations, the products of gated or blended
//! activations, applying FiLM scales and shifts, batchnorm's per-channel
//! scale, and the final `head_scale` (all per-channel element-wise work).
//!
//! - WaveNet, per layer array: the input rechannel `(input_size → channels)`;
//!   per layer the dilated conv `(channels → mid, k taps, groups_input)` where
//!   `mid` is `bottleneck`, or twice it when gated or blended, the input mixer
//!   `(condition_size → mid, groups_input_mixin)`, the layer 1x1
//!   `(bottleneck → channels)` and head 1x1 `(bottleneck → out)` when active,
//!   and each active FiLM `(condition_size → dim or 2·dim with shift)`; then
//!   the head rechannel `(head sum → head out, head kernel)`. Then the
//!   post-stack head's convs and the condition DSP, if any.
//! - LSTM, per layer: `4H · (inputs + H)`; then the head, `H`.
//! - ConvNet, per block: `C · inputs · 2`; then the head, `C`.
//! - Linear: one per tap.
//! - SlimmableContainer: the submodel that plays by default (the last).
//! - Slimmable WaveNet: the size that plays by default (size 1.0, the last
//!   `allowed_channels` entry; `nam-tools info` lists every size).
//!
//! The loader refuses a document above [`super::limits::MAX_MACS_PER_SAMPLE`].
//! Counts saturate instead of overflowing.

use super::{
    slim, ConvNetConfig, FilmPosition, LayerArrayConfig, LstmConfig, ModelSpec, WaveNetConfig,
};

/// Multiply-adds per output sample of a model (see the module docs).
pub fn per_sample(spec: &ModelSpec) -> u64 {
    match spec {
        ModelSpec::WaveNet { config, weights } => {
            match slim::SlimmableWaveNet::new(config, weights) {
                Ok(Some(s)) => wavenet(&s.at_level(s.level_for(1.0)).0),
                _ => wavenet(config),
            }
        }
        ModelSpec::Lstm { config, .. } => lstm(config),
        ModelSpec::ConvNet { config, .. } => convnet(config),
        ModelSpec::Linear { config, .. } => config.receptive_field as u64,
        ModelSpec::RtNeural { config, .. } => config.macs(),
        ModelSpec::SlimmableContainer { submodels } => {
            submodels.last().map_or(0, |s| per_sample(&s.model.spec))
        }
    }
}

/// `cout · (cin / groups) · taps`.
fn conv(cin: usize, cout: usize, taps: usize, groups: usize) -> u64 {
    let per_output = (cin / groups.max(1)) as u64;
    (cout as u64)
        .saturating_mul(per_output)
        .saturating_mul(taps as u64)
}

/// The saturating sum of `counts`.
fn total(counts: impl IntoIterator<Item = u64>) -> u64 {
    counts.into_iter().fold(0, u64::saturating_add)
}

/// Multiply-adds per sample of a WaveNet, post-stack head and condition DSP included.
pub fn wavenet(config: &WaveNetConfig) -> u64 {
    let arrays = total(config.layer_arrays.iter().map(layer_array));
    let head = match (&config.post_head, config.layer_arrays.last()) {
        (Some(head), Some(last)) => total(
            head.block_channels(last.head.out_channels)
                .iter()
                .zip(&head.kernel_sizes)
                .map(|(&(cin, cout), &k)| conv(cin, cout, k, 1)),
        ),
        _ => 0,
    };
    let condition = config
        .condition_dsp
        .as_ref()
        .map_or(0, |nested| per_sample(&nested.spec));
    total([arrays, head, condition])
}

/// Multiply-adds per sample of one layer array, head rechannel included.
pub fn layer_array(a: &LayerArrayConfig) -> u64 {
    let layers = a.layers.iter().map(|layer| {
        let mid = a.mid_channels(layer);
        let films = FilmPosition::ALL.into_iter().filter_map(|position| {
            let film = a.film(position)?;
            let dim = a.film_dim(position, layer);
            let out = if film.shift { 2 * dim } else { dim };
            Some(conv(a.condition_size, out, 1, film.groups))
        });
        total(
            [
                conv(a.channels, mid, layer.kernel_size, a.groups_input),
                conv(a.condition_size, mid, 1, a.groups_input_mixin),
                a.layer1x1_groups
                    .map_or(0, |groups| conv(a.bottleneck, a.channels, 1, groups)),
                a.head1x1
                    .map_or(0, |h| conv(a.bottleneck, h.out_channels, 1, h.groups)),
            ]
            .into_iter()
            .chain(films),
        )
    });
    total(
        [
            conv(a.input_size, a.channels, 1, 1),
            conv(
                a.head_term_channels(),
                a.head.out_channels,
                a.head.kernel_size,
                1,
            ),
        ]
        .into_iter()
        .chain(layers),
    )
}

fn lstm(config: &LstmConfig) -> u64 {
    let h = config.hidden_size;
    let layers = (0..config.num_layers).map(|l| conv(config.layer_input_size(l) + h, 4 * h, 1, 1));
    total(layers).saturating_add(h as u64)
}

fn convnet(config: &ConvNetConfig) -> u64 {
    let blocks = (0..config.dilations.len())
        .map(|b| conv(config.block_input_channels(b), config.channels, 2, 1));
    total(blocks).saturating_add(config.channels as u64)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::NamFile;

    fn shared(relative: &str) -> PathBuf {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared")
            .join(relative);
        assert!(path.exists(), "{} not found", path.display());
        path
    }

    fn load(relative: &str) -> ModelSpec {
        NamFile::load(shared(relative))
            .unwrap_or_else(|e| panic!("{e}"))
            .spec
    }

    /// A legacy WaveNet: 1 array, 2 channels, kernel 3, dilations 1 and 2,
    /// head 1 with bias.
    fn tiny_wavenet(gated: bool) -> ModelSpec {
        let weights = if gated { 82 } else { 50 };
        let text = format!(
            r#"{{"version": "0.5.4", "architecture": "WaveNet", "config": {{
                "layers": [{{"input_size": 1, "condition_size": 1, "channels": 2,
                    "head_size": 1, "kernel_size": 3, "dilations": [1, 2],
                    "activation": "Tanh", "gated": {gated}, "head_bias": true}}],
                "head": null, "head_scale": 0.5}},
                "weights": {:?}}}"#,
            vec![0.1_f32; weights]
        );
        NamFile::from_json_str(&text, "tiny").unwrap().spec
    }

    #[test]
    fn tiny_models_match_a_hand_count() {
        // rechannel 1·2; per layer conv 2·2·3 + mixer 2·1 + 1x1 2·2 = 18; head 2·1.
        assert_eq!(per_sample(&tiny_wavenet(false)), 2 + 2 * 18 + 2);
        // Gated: the conv and mixer produce 4 rows: 2·4·3 + 4·1 + 2·2 = 32 per layer.
        assert_eq!(per_sample(&tiny_wavenet(true)), 2 + 2 * 32 + 2);
        let lstm = NamFile::from_json_str(
            &format!(
                r#"{{"version": "0.7.0", "architecture": "LSTM",
                    "config": {{"input_size": 1, "hidden_size": 3, "num_layers": 1}},
                    "weights": {:?}}}"#,
                vec![0.0_f32; 4 * 3 * 4 + 4 * 3 + 2 * 3 + 3 + 1]
            ),
            "lstm",
        )
        .unwrap();
        // 4 gates · 3 hidden · (1 input + 3 recurrent), then the 3 → 1 head.
        assert_eq!(per_sample(&lstm.spec), 4 * 3 * 4 + 3);
    }

    #[test]
    fn presets_match_independent_counts() {
        // standard: [16 ch, head 8] then [8 ch, head 1], 10 layers each, kernel 3:
        // (16 + 10·(16·16·3 + 16 + 16·16) + 16·8) + (16·8 + 10·(8·8·3 + 8 + 8·8) + 8·1).
        let standard = (16 + 10 * (768 + 16 + 256) + 128) + (128 + 10 * (192 + 8 + 64) + 8);
        assert_eq!(standard, 13_320);
        // nano: [4 ch, head 2, 7 layers] then [2 ch, head 1, 13 layers].
        let nano = (4 + 7 * (48 + 4 + 16) + 8) + (8 + 13 * (12 + 2 + 4) + 2);
        assert_eq!(nano, 732);
        assert_eq!(per_sample(&load("fixtures/wavenet_standard.nam")), standard);
        assert_eq!(per_sample(&load("fixtures/wavenet_nano.nam")), nano);
        assert_eq!(
            per_sample(&load("fixtures/wavenet_feather_legacy_format.nam")),
            per_sample(&load("fixtures/wavenet_feather.nam"))
        );
        // The figures in ../shared/peers/README.md, counted by the peers' harness.
        for (model, expected) in [
            ("peers/models/wavenet_standard.nam", 13_320),
            ("peers/models/wavenet_lite.nam", 6_228),
            ("peers/models/wavenet_feather.nam", 2_808),
            ("peers/models/wavenet_nano_legacy.nam", 732),
            ("peers/models/wavenet_a2_full.nam", 11_776),
            ("peers/models/wavenet_a2_lite.nam", 1_731),
            ("peers/models/lstm_standard.nam", 2_424),
        ] {
            assert_eq!(per_sample(&load(model)), expected, "{model}");
        }
    }

    #[test]
    fn macs_are_the_weights_without_biases_for_plain_models() {
        // A convolution's multiply-adds per sample equal its weights minus biases.
        let ModelSpec::Linear { config, weights } = load("fixtures/linear.nam") else {
            panic!("linear.nam is Linear")
        };
        assert_eq!(
            per_sample(&ModelSpec::Linear {
                config,
                weights: weights.clone()
            }),
            (weights.len() - usize::from(config.bias)) as u64
        );
        let convnet = load("fixtures/convnet.nam");
        let ModelSpec::ConvNet { config, weights } = &convnet else {
            panic!("convnet.nam is ConvNet")
        };
        let biases = config.channels * config.dilations.len() + 1;
        assert_eq!(per_sample(&convnet), (weights.len() - biases) as u64);
    }
}
