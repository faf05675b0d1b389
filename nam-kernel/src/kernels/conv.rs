//! The reference convolution: plain loops with separate multiply and add,
//! written for clarity. Every SIMD table is tested against it.

use super::{ConvShape, Output};

/// `out = (out or 0) + bias + conv(input)`; see [`ConvShape`] for the layout.
pub(super) fn conv(
    shape: &ConvShape,
    weights: &[f32],
    bias: Option<&[f32]>,
    output: Output,
    input: &[f32],
    out: &mut [f32],
) {
    let n = shape.frames;
    if n == 0 {
        return;
    }
    let cin_g = shape.cin_per_group;
    let cout_g = shape.cout / shape.groups;
    for o in 0..shape.cout {
        let (group, o_local) = (o / cout_g, o % cout_g);
        let row = &mut out[o * shape.out_stride..][..n];
        let b = bias.map_or(0.0, |b| b[o]);
        match output {
            Output::Overwrite => row.fill(b),
            Output::Accumulate => row.iter_mut().for_each(|y| *y += b),
            Output::AddTo { source, stride } => {
                for (y, &x) in row.iter_mut().zip(&source[o * stride..][..n]) {
                    *y = x + b;
                }
            }
        }
        for tap in 0..shape.taps {
            for i in 0..cin_g {
                let w = weights[((group * shape.taps + tap) * cin_g + i) * cout_g + o_local];
                let x = &input
                    [(group * cin_g + i) * shape.in_stride + shape.first + tap * shape.dilation..]
                    [..n];
                for (y, &xv) in row.iter_mut().zip(x) {
                    *y += w * xv;
                }
            }
        }
    }
}
