//! `nam-lv2`: the LV2 plugin that runs a `nam-graph` chain in real time.
//!
//! The chain (see [`rig`]): input gain → input IR → noise gate → NAM model →
//! tone stack → cabinet IR → output gain. Files are LV2 `patch:writable`
//! parameters loaded by the worker thread; the audio thread swaps in the built
//! chain with a crossfade ([`player`]). Mono and stereo plugins.
//!
//! Where the `lv2` crates lack an extension or misbehave, this crate adds its
//! own on `lv2-sys`: [`log`], [`worker`], [`state`], `atom:Path` in [`patch`].
//! Files are read and chains built on one thread per instance ([`loader`]).

pub mod controls;
pub mod denormals;
pub mod loader;
pub mod log;
pub mod patch;
pub mod player;
pub mod plugin;
pub mod rig;
pub mod shared;
pub mod state;
pub mod worker;

pub use plugin::{MonoPlugin, StereoPlugin};

/// The exported `lv2_descriptor` symbol (the macro needs the prelude in
/// scope); public so in-process tests can call it like a host does.
pub mod descriptors {
    use super::{MonoPlugin, StereoPlugin};
    use lv2_core::prelude::*;
    use urid::UriBound;

    lv2_descriptors!(MonoPlugin, StereoPlugin);
}
