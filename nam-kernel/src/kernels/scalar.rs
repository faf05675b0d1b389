//! The portable reference table: plain loops, separate multiply and add.

use super::{activation, conv, gru, layer, lstm, Kernels};

pub(super) static KERNELS: Kernels = Kernels {
    name: "scalar",
    conv: conv::conv,
    layer_front: layer::layer_front,
    layer: layer::layer,
    lstm_step: lstm::lstm_step,
    lstm_layer: |weights, inputs, input_stride, hidden, cell, outputs| {
        // SAFETY: the scalar step needs no instruction set.
        unsafe {
            lstm::run_layer::<lstm::ScalarStep>(
                weights,
                inputs,
                input_stride,
                hidden,
                cell,
                outputs,
            )
        }
    },
    lstm_lanes: 1,
    dot_rows: lstm::dot_rows,
    gru_step: gru::gru_step,
    activate: activation::apply,
};
