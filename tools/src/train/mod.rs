//! `nam-tools train`: trains a NAM model from a DI/amp recording pair with
//! libtorch (through `tch`, behind the `train` feature) and exports a `.nam`.
//!
//! The parts that need no libtorch are always built: [`data`] (reading and
//! checking the pair), [`align`] (latency detection), [`arch`] (presets and
//! configs), [`loudness`], [`verdict`] (what an ESR means). With the feature
//! (so not linked from here): `model` (the WaveNet and LSTM in `tch`,
//! parameters in `.nam` weight order), `loss`, `adam` (the optimizer, its
//! state saved with checkpoints), `trainer` (the loop), `validation` (each
//! epoch's ESR, played by nam-kernel), `export` and `command` (the CLI).
//!
//! Tests (`tools/tests/train.rs`, feature `train`): the `tch` model and
//! `nam-kernel` give the same output for the exported weights (WaveNet nano,
//! gated and non-gated, LSTM), every data-check error, alignment of a known
//! delay, and a short end-to-end training whose ESR falls and whose file loads.

pub mod align;
pub mod arch;
pub mod capture_signal;
pub mod data;
pub mod learned_config;
pub mod loudness;
pub mod plot;
pub mod trainer_layout;
pub mod verdict;

#[cfg(feature = "train")]
pub mod adam;
#[cfg(feature = "train")]
pub mod command;
#[cfg(feature = "train")]
pub mod export;
#[cfg(feature = "train")]
pub mod loss;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod parallel;
#[cfg(feature = "train")]
pub mod run_record;
#[cfg(feature = "train")]
pub mod trainer;
#[cfg(feature = "train")]
pub mod validation;
