//! `nam-graph`: a node-graph DSP library around `nam-kernel`.
//!
//! This crate is being built under the graph issue: fixed-block nodes (NAM model,
//! impulse responses, resampling, gain, gate, EQ), a validated DAG of them described
//! in `chain.toml`, and the `nam-graph run` offline reamping command. Until then it
//! only re-exports the kernel so dependants can already link against it.

pub use nam_kernel;
