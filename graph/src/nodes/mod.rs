//! The nodes a chain is made of.

pub mod convolver;
pub mod nam;
pub mod registry;
pub mod wav;
