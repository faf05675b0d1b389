//! The settings of a training run as its files record them (the `nam_tools`
//! part of the `.nam` metadata's `training` record), and read back by
//! `--resume`, so that a resumed run continues with the settings it started
//! with (its preset's or config file's loss terms, its seed and segment
//! order) unless an option gives another.

use clap::ValueEnum;
use serde_json::{json, Value};

use super::arch::ConfigSettings;
use super::loss::LossKind;
use super::trainer::TrainSettings;

/// What a run records beside its settings.
pub struct RunFacts<'a> {
    /// `--arch` as given, or "resumed".
    pub architecture: &'a str,
    /// Epochs done so far.
    pub epochs_completed: usize,
    /// The fraction of the files kept for validation.
    pub validation_split: f64,
    /// The device trained on.
    pub device: &'a str,
}

/// The `nam_tools` record of a run with `settings`.
pub fn record(settings: &TrainSettings, facts: &RunFacts) -> Value {
    let term = |t: Option<(f64, f64)>| {
        t.map_or(
            Value::Null,
            |(coef, weight)| json!({"coefficient": coef, "weight": weight}),
        )
    };
    let loss = &settings.loss;
    json!({
        "trainer": concat!("nam-tools ", env!("CARGO_PKG_VERSION")),
        "architecture": facts.architecture,
        "epochs_completed": facts.epochs_completed,
        "learning_rate": settings.learning_rate,
        "learning_rate_decay": settings.learning_rate_decay,
        "weight_decay": settings.weight_decay,
        "average_decay": settings.average_decay,
        "batch_size": settings.batch_size,
        "segment_length": settings.segment_samples,
        "seed": settings.seed,
        "validation_split": facts.validation_split,
        "loss": loss_name(loss.kind),
        "mrstft_weight": loss.mrstft_weight,
        "pre_emphasis": term(loss.pre_emphasis),
        "pre_emphasis_mrstft": term(loss.pre_emphasis_mrstft),
        "device": facts.device,
    })
}

/// The settings a run recorded, `None` where the record does not say (a
/// file written before they were recorded, or by another trainer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    /// The learning-rate, weight-decay and loss-term settings, in the shape
    /// a config file gives them. A loss term the run did not use is
    /// recorded as `null` and read as off.
    pub config: ConfigSettings,
    /// Segments per batch.
    pub batch_size: Option<usize>,
    /// Output samples per segment.
    pub segment_length: Option<usize>,
    /// The seed.
    pub seed: Option<u64>,
    /// The weight average's decay per step.
    pub average_decay: Option<f64>,
    /// The fraction of the files kept for validation.
    pub validation_split: Option<f64>,
    /// The main loss.
    pub loss: Option<LossKind>,
    /// Epochs done.
    pub epochs_completed: usize,
}

impl Recorded {
    /// The settings in the `nam_tools` record of a `.nam` file's `training`
    /// metadata (absent or malformed fields read as `None`).
    pub fn read(training: Option<&Value>) -> Self {
        let Some(record) = training.and_then(|t| t.get("nam_tools")) else {
            return Self::default();
        };
        let number = |key: &str| record.get(key).and_then(Value::as_f64);
        let count = |key: &str| {
            record
                .get(key)
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
        };
        let term = |key: &str| {
            let t = record.get(key)?;
            Some((t.get("coefficient")?.as_f64()?, t.get("weight")?.as_f64()?))
        };
        Self {
            config: ConfigSettings {
                learning_rate: number("learning_rate"),
                weight_decay: number("weight_decay"),
                learning_rate_decay: number("learning_rate_decay"),
                mrstft_weight: number("mrstft_weight"),
                pre_emphasis: term("pre_emphasis"),
                pre_emphasis_mrstft: term("pre_emphasis_mrstft"),
            },
            batch_size: count("batch_size"),
            segment_length: count("segment_length"),
            seed: record.get("seed").and_then(Value::as_u64),
            average_decay: number("average_decay"),
            validation_split: number("validation_split"),
            loss: record
                .get("loss")
                .and_then(Value::as_str)
                .and_then(|name| LossKind::from_str(name, false).ok()),
            epochs_completed: count("epochs_completed").unwrap_or(0),
        }
    }

    /// What a new run takes from its config file (nothing else recorded).
    pub fn from_config(config: ConfigSettings) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }
}

/// The name of a loss as the `--loss` option spells it.
fn loss_name(kind: LossKind) -> String {
    kind.to_possible_value()
        .map_or_else(|| format!("{kind:?}"), |v| v.get_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_the_settings_reads_as_none() {
        assert_eq!(Recorded::read(None), Recorded::default());
        // What files written before the loss terms were recorded hold.
        let older = json!({"nam_tools": {"epochs_completed": 7, "learning_rate": 0.002,
                                         "seed": 4, "validation_split": "0.1"}});
        let recorded = Recorded::read(Some(&older));
        assert_eq!(recorded.epochs_completed, 7);
        assert_eq!(recorded.config.learning_rate, Some(0.002));
        assert_eq!(recorded.seed, Some(4));
        assert_eq!(recorded.validation_split, None, "a string is not a number");
        assert_eq!(recorded.config.mrstft_weight, None);
        assert_eq!(recorded.loss, None);
    }
}
