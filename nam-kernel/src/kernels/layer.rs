//! The reference [`LayerFront`] and [`WaveNetLayer`]: the convolution, the
//! mixer, the activation, the head sum and the layer 1x1 as separate passes
//! of the scalar kernels.

use super::{activation, conv, ConvShape, LayerFront, Output, WaveNetLayer};

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

/// The front half into `z` and `head`, then `out = x + layer1x1(z)`.
pub(super) fn layer(
    layer: &WaveNetLayer,
    input: &[f32],
    condition: &[f32],
    z: &mut [f32],
    head: &mut [f32],
    out: &mut [f32],
) {
    layer_front(&layer.front, input, condition, z, Some(head));
    let (shape, residual) = layer1x1(layer, input);
    conv::conv(
        &shape,
        layer.layer1x1,
        Some(layer.layer1x1_bias),
        residual,
        z,
        out,
    );
}

/// The layer 1x1's shape (from `z` to the output) and the residual it is
/// added to (the input's newest frames).
pub(super) fn layer1x1<'a>(layer: &WaveNetLayer, input: &'a [f32]) -> (ConvShape, Output<'a>) {
    let front = &layer.front.conv;
    let newest = front.first + (front.taps - 1) * front.dilation;
    let shape = ConvShape {
        frames: front.frames,
        taps: 1,
        dilation: 1,
        cout: front.cin_per_group,
        cin_per_group: front.cout,
        groups: 1,
        in_stride: front.out_stride,
        first: 0,
        out_stride: layer.out_stride,
    };
    let residual = Output::AddTo {
        source: input.get(newest..).unwrap_or_default(),
        stride: front.in_stride,
    };
    (shape, residual)
}
