//! The reference [`LayerFront`]: the convolution, the mixer, the activation
//! and the head sum as separate passes of the scalar kernels.

use super::{activation, conv, ConvShape, LayerFront, Output};

/// `z = activation(bias + conv(input) + mixer · condition)`; `head += z`.
pub(super) fn layer_front(
    front: &LayerFront,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: Option<&mut [f32]>,
) {
    let shape = &front.conv;
    let n = shape.frames;
    conv::conv(
        shape,
        front.weights,
        Some(front.bias),
        Output::Overwrite,
        input,
        z,
    );
    let mixer = ConvShape {
        frames: n,
        taps: 1,
        dilation: 1,
        cout: shape.cout,
        cin_per_group: front.condition_rows,
        groups: 1,
        in_stride: front.condition_stride,
        first: 0,
        out_stride: shape.out_stride,
    };
    conv::conv(&mixer, front.mixer, None, Output::Accumulate, condition, z);
    for c in 0..shape.cout {
        activation::apply(front.activation, c, &mut z[c * shape.out_stride..][..n]);
    }
    if let Some(head) = head {
        for c in 0..shape.cout {
            let row = &mut head[c * front.head_stride..][..n];
            for (h, &a) in row.iter_mut().zip(&z[c * shape.out_stride..][..n]) {
                *h += a;
            }
        }
    }
}
