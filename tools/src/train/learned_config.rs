//! What training learns that a `.nam` file keeps in a WaveNet's config rather
//! than in its `weights`: PReLU slopes (a layer's `activation` and
//! `secondary_activation` objects) and a `condition_dsp`'s own weights (a
//! nested document). Training holds everything in one flat vector, the
//! *training weights*: the file's weights, then every PReLU's slopes (array by
//! array, layer by layer, primary before secondary), then the condition DSP's
//! training weights. Export writes them back where the format keeps them.

use nam_kernel::format::{Activation, Gating, ModelSpec, NamFile, WaveNetConfig};

/// The number of training weights of `config` (its file weights, slopes and
/// condition DSP).
pub fn training_weight_count(config: &WaveNetConfig) -> usize {
    let slopes: usize = slopes(config).map(<[f32]>::len).sum();
    config.weight_count() + slopes + nested(config).map_or(0, training_weight_count)
}

/// The training weights of a WaveNet `config` whose file weights are `weights`.
pub fn training_weights(config: &WaveNetConfig, weights: &[f32]) -> Vec<f32> {
    let mut all = weights.to_vec();
    for slopes in slopes(config) {
        all.extend_from_slice(slopes);
    }
    if let Some(file) = &config.condition_dsp {
        if let ModelSpec::WaveNet { config, weights } = &file.spec {
            all.extend(training_weights(config, weights));
        }
    }
    all
}

/// Splits `training` weights into the file's: the config with the learned
/// slopes and condition-DSP weights written in, and the file weights. A
/// condition DSP is written as a document of `sample_rate_hz` (NAM's player
/// requires it to match the model's) by `document`.
pub fn into_file(
    config: &WaveNetConfig,
    training: &[f32],
    document: &impl Fn(&WaveNetConfig, Vec<f32>) -> NamFile,
) -> (WaveNetConfig, Vec<f32>) {
    let mut config = config.clone();
    let (weights, mut rest) = training.split_at(config.weight_count().min(training.len()));
    for activation in activations_mut(&mut config) {
        if let Activation::PReLU { negative_slopes } = activation {
            let n = negative_slopes.len().min(rest.len());
            negative_slopes.copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }
    if let Some(file) = &config.condition_dsp {
        if let ModelSpec::WaveNet { config: inner, .. } = &file.spec {
            let (inner, weights) = into_file(inner, rest, document);
            config.condition_dsp = Some(Box::new(document(&inner, weights)));
        }
    }
    (config, weights.to_vec())
}

/// The nested WaveNet config of a `condition_dsp`, if the config has one
/// (`arch::check_wavenet` refuses other nested architectures for training).
pub fn nested(config: &WaveNetConfig) -> Option<&WaveNetConfig> {
    match config.condition_dsp.as_deref() {
        Some(NamFile {
            spec: ModelSpec::WaveNet { config, .. },
            ..
        }) => Some(config),
        _ => None,
    }
}

/// Every PReLU's slopes in training order.
fn slopes(config: &WaveNetConfig) -> impl Iterator<Item = &[f32]> {
    config
        .layer_arrays
        .iter()
        .flat_map(|a| &a.layers)
        .flat_map(|l| [Some(&l.activation), secondary(&l.gating)])
        .filter_map(|a| match a {
            Some(Activation::PReLU { negative_slopes }) => Some(negative_slopes.as_slice()),
            _ => None,
        })
}

/// Every layer activation (primary, then secondary where gated or blended).
fn activations_mut(config: &mut WaveNetConfig) -> impl Iterator<Item = &mut Activation> {
    config
        .layer_arrays
        .iter_mut()
        .flat_map(|a| &mut a.layers)
        .flat_map(|l| {
            let secondary = match &mut l.gating {
                Gating::None => None,
                Gating::Gated { secondary } | Gating::Blended { secondary } => Some(secondary),
            };
            [Some(&mut l.activation), secondary]
        })
        .flatten()
}

/// A gated or blended layer's secondary activation.
pub fn secondary(gating: &Gating) -> Option<&Activation> {
    match gating {
        Gating::None => None,
        Gating::Gated { secondary } | Gating::Blended { secondary } => Some(secondary),
    }
}
