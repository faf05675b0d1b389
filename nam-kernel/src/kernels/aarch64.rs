//! The NEON table for aarch64 (NEON is part of every aarch64 CPU, the MOD
//! Dwarf's Cortex-A35 included): the generic kernels with fused multiply-add
//! (`fmla`) and 16-frame tiles (four 128-bit registers per row, 16 accumulators
//! of the 32 vector registers).

use super::conv::{conv_acc, matvec_acc, Fused};
use super::{activation, ConvShape, Kernels};

pub(super) static NEON: Kernels = Kernels {
    name: "neon",
    conv_acc: neon_conv_acc,
    matvec_acc: matvec_acc::<Fused>,
    activate: activation::apply,
};

fn neon_conv_acc(shape: &ConvShape, weights: &[f32], input: &[f32], out: &mut [f32]) {
    conv_acc::<Fused, 16>(shape, weights, input, out)
}
