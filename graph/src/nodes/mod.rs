//! The nodes a chain is made of.

pub mod nam;
pub mod registry;
