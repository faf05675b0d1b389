//! `nam-kernel`: loads Neural Amp Modeler `.nam` files and runs every NAM
//! architecture (WaveNet in the legacy and current layouts, LSTM, ConvNet,
//! Linear, SlimmableContainer) exactly like the NAM trainer, real-time safe.
//!
//! ```no_run
//! let mut model = nam_kernel::Model::load("amp.nam")?;
//! let input = vec![0.0_f32; 480];
//! let mut output = vec![0.0_f32; 480];
//! model.process(&input, &mut output);
//! # Ok::<(), nam_kernel::LoadError>(())
//! ```
//!
//! # Layout
//! - [`format`](mod@format): serde/JSON parsing and validation of `.nam` documents into
//!   normalized configs plus weights; no math.
//! - [`Model`]: builds a runnable model (all allocation here) with one interface
//!   for every architecture: `process`, `reset`, `prewarm`, receptive field,
//!   latency, sample rate, metadata.
//! - [`kernels`]: pure functions over planar slices, one table per instruction
//!   set; the scalar table is the reference.
//!
//! # Contract, and the tests that enforce it
//! - Output matches the trainer's within each fixture's tolerance, from the
//!   first sample (`tests/fixtures.rs`, every case in `../shared/fixtures`).
//! - Slimmable models (slimmable WaveNets and `SlimmableContainer`s) match the
//!   trainer at every size, and switching sizes allocates nothing
//!   (`tests/slimmable.rs`, references made by `scripts/make-slim-references.sh`).
//! - Output does not depend on how the input is split into buffers
//!   (`tests/streaming.rs`).
//! - After `build`, `process`, `reset` and `prewarm` never allocate
//!   (`tests/no_alloc.rs`, with a canary proving the detector fires).
//! - No input file panics the loader; bad files give a [`LoadError`] naming the
//!   file and the problem (`tests/malformed.rs`).

pub mod error;
pub mod format;
pub mod kernels;
mod model;

pub use error::{BuildError, FormatError, LoadError};
pub use format::NamFile;
pub use model::{BuildOptions, Model, DEFAULT_MAX_BLOCK_FRAMES};
