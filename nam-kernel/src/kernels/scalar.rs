//! The portable reference table: the generic kernels with separate multiply and
//! add, 8-frame tiles (two SSE2 registers per row on x86_64's baseline).

use super::conv::{conv_acc, matvec_acc, Separate};
use super::{activation, ConvShape, Kernels};

pub(super) static KERNELS: Kernels = Kernels {
    name: "scalar",
    conv_acc: scalar_conv_acc,
    matvec_acc: matvec_acc::<Separate>,
    activate: activation::apply,
};

fn scalar_conv_acc(shape: &ConvShape, weights: &[f32], input: &[f32], out: &mut [f32]) {
    conv_acc::<Separate, 8>(shape, weights, input, out)
}
