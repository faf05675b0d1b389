//! The portable reference table: plain loops, separate multiply and add.

use super::{activation, conv, layer, Kernels};

pub(super) static KERNELS: Kernels = Kernels {
    name: "scalar",
    conv: conv::conv,
    layer_front: layer::layer_front,
    lstm_step: conv::lstm_step,
    activate: activation::apply,
};
