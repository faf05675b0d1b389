//! The AVX2 + FMA table: the generic kernels compiled with those instructions
//! enabled (16-frame tiles: two 256-bit registers per row, fused multiply-add).
//! Offered by [`Kernels::available`](super::Kernels::available) only when the
//! CPU reports both features.

use super::conv::{conv_acc, matvec_acc, Fused};
use super::{activation, ConvShape, Kernels};
use crate::format::Activation;

pub(super) static AVX2_FMA: Kernels = Kernels {
    name: "avx2-fma",
    conv_acc: avx2_conv_acc,
    matvec_acc: avx2_matvec_acc,
    activate: avx2_activate,
};

/// True when this CPU can run [`AVX2_FMA`].
pub(super) fn has_avx2_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

fn avx2_conv_acc(shape: &ConvShape, weights: &[f32], input: &[f32], out: &mut [f32]) {
    // SAFETY: this table is only handed out after `has_avx2_fma()` returned true.
    unsafe { conv_acc_avx2(shape, weights, input, out) }
}

#[target_feature(enable = "avx2,fma")]
fn conv_acc_avx2(shape: &ConvShape, weights: &[f32], input: &[f32], out: &mut [f32]) {
    conv_acc::<Fused, 16>(shape, weights, input, out)
}

fn avx2_matvec_acc(weights_t: &[f32], x: &[f32], out: &mut [f32]) {
    // SAFETY: as above.
    unsafe { matvec_acc_avx2(weights_t, x, out) }
}

#[target_feature(enable = "avx2,fma")]
fn matvec_acc_avx2(weights_t: &[f32], x: &[f32], out: &mut [f32]) {
    matvec_acc::<Fused>(weights_t, x, out)
}

fn avx2_activate(activation: &Activation, channel: usize, row: &mut [f32]) {
    // SAFETY: as above.
    unsafe { activate_avx2(activation, channel, row) }
}

#[target_feature(enable = "avx2,fma")]
fn activate_avx2(activation: &Activation, channel: usize, row: &mut [f32]) {
    activation::apply_inline(activation, channel, row)
}
