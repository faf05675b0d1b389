//! `nam-tools`: training (libtorch through `tch`, behind the `train` feature),
//! `info` and `bench` for `.nam` models.
//!
//! - [`info`]: what a `.nam` file holds (config, parameters, receptive field,
//!   multiply-adds per sample, metadata); tested in `tests/cli.rs` and the
//!   module's unit tests (the multiply-add formula against hand counts).
//! - [`convert`]: a model into another format where it fits exactly
//!   (AIDA-X LSTM to `.nam` LSTM and back), refused with the reason otherwise.
//! - [`ckpt`]: a NAM trainer's Lightning checkpoint into a `.nam` file
//!   (`import`); tested in `tests/ckpt.rs` against the trainer's own exports.
//! - [`mod@bench`]: ns per sample and real-time factor per kernel table and for a
//!   chain; `tests/cli.rs` runs it on the fixtures.

pub mod bench;
pub mod ckpt;
pub mod convert;
mod date;
mod error;
pub mod info;
pub mod train;

pub use error::Error;
