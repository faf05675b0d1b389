//! The nodes a chain is made of.

pub mod convolver;
pub mod dc_blocker;
pub mod gain;
pub mod gate;
pub mod mix;
pub mod nam;
pub mod registry;
pub mod resampler;
mod sinc;
pub mod tone_stack;
pub mod wav;
