//! A 1-D convolution of the training models, with its parameters in the
//! `.nam` order (weight, then bias).

use tch::{nn, Tensor};

use super::{default_init, slim};

/// A 1-D convolution with its parameters.
#[derive(Debug)]
pub(super) struct Conv {
    /// `(cout, cin / groups, k)`.
    pub(super) weight: Tensor,
    /// `(cout)`, when the convolution has a bias.
    pub(super) bias: Option<Tensor>,
    /// Samples between taps.
    pub(super) dilation: i64,
    /// Channel groups.
    pub(super) groups: i64,
}

/// The shape of a convolution.
#[derive(Clone, Copy)]
pub(super) struct ConvShape {
    /// Input channels.
    pub(super) cin: usize,
    /// Output channels.
    pub(super) cout: usize,
    /// Taps.
    pub(super) kernel_size: usize,
    /// Samples between taps.
    pub(super) dilation: usize,
    /// Channel groups.
    pub(super) groups: usize,
    /// Whether the convolution has a bias.
    pub(super) bias: bool,
}

impl ConvShape {
    /// An ungrouped, undilated convolution of kernel size 1.
    pub(super) fn pointwise(cin: usize, cout: usize, bias: bool) -> Self {
        Self {
            cin,
            cout,
            kernel_size: 1,
            dilation: 1,
            groups: 1,
            bias,
        }
    }
}

impl Conv {
    /// The parameters, initialized as PyTorch's `Conv1d` does (bound
    /// `1/sqrt(cin/groups · k)`).
    pub(super) fn new(path: &nn::Path, shape: ConvShape) -> Self {
        let cin_per_group = shape.cin / shape.groups.max(1);
        let init = default_init(cin_per_group * shape.kernel_size);
        let weight = path.var(
            "weight",
            &[
                shape.cout as i64,
                cin_per_group as i64,
                shape.kernel_size as i64,
            ],
            init,
        );
        let bias = shape
            .bias
            .then(|| path.var("bias", &[shape.cout as i64], init));
        Self {
            weight,
            bias,
            dilation: shape.dilation as i64,
            groups: shape.groups as i64,
        }
    }

    /// Valid (unpadded) convolution: `L` in, `L − (k−1)·dilation` out. An
    /// ungrouped pointwise one is a matrix product over the channels; any
    /// other is oneDNN's convolution of a channels-last copy of `x` (see
    /// [`channels_last`]).
    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        let (1, &[cout, cin, 1]) = (self.groups, &self.weight.size()[..]) else {
            return channels_last(x)
                .unsqueeze(2)
                .conv2d(
                    &self.weight.unsqueeze(2),
                    self.bias.as_ref(),
                    [1, 1],
                    [0, 0],
                    [1, self.dilation],
                    self.groups,
                )
                .squeeze_dim(2);
        };
        let y = self.weight.reshape([cout, cin]).matmul(x);
        match &self.bias {
            Some(b) => y + b.unsqueeze(1),
            None => y,
        }
    }

    /// `residual + conv(x)` for a kernel-size-1 convolution, the residual
    /// added by the matrix product itself (`baddbmm`: forward plus backward
    /// at a third to a half of `conv1d`'s or a product and a sum's time).
    pub(super) fn forward_onto(&self, x: &Tensor, residual: &Tensor) -> Tensor {
        let (1, &[cout, cin, 1]) = (self.groups, &self.weight.size()[..]) else {
            return residual + self.forward(x);
        };
        let batch = x.size()[0];
        let weight = self
            .weight
            .reshape([1, cout, cin])
            .expand([batch, cout, cin], false);
        let y = residual.baddbmm(&weight, x, 1.0, 1.0);
        match &self.bias {
            Some(b) => y + b.unsqueeze(1),
            None => y,
        }
    }

    /// The convolution of `scale · x + offset` for a constant `offset` on
    /// every input: the weight scaled and the offset's contribution
    /// (`weight` summed over its inputs and taps, times `offset`) moved into
    /// the bias. Built from this one's parameters, so training through it
    /// trains them.
    pub(super) fn of_affine_input(&self, scale: f64, offset: f64) -> Conv {
        let moved = self.weight.sum_dim_intlist(&[1i64, 2][..], false, None) * offset;
        Conv {
            weight: &self.weight * scale,
            bias: Some(match &self.bias {
                Some(bias) => bias + moved,
                None => moved,
            }),
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// This convolution times `scale` (its weight and bias scaled).
    pub(super) fn scaled(&self, scale: f64) -> Conv {
        Conv {
            weight: &self.weight * scale,
            bias: self.bias.as_ref().map(|b| b * scale),
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// A view of the first `rows` output rows and `cols` input columns (all
    /// where `None`), sharing the parameters: a slimmable layer at a smaller
    /// width (`nam_kernel::format::slim`).
    pub(super) fn slice(&self, rows: Option<i64>, cols: Option<i64>) -> Conv {
        let narrow = |t: &Tensor, dim: i64, len: Option<i64>| match len {
            Some(len) => t.narrow(dim, 0, len),
            None => t.shallow_clone(),
        };
        Conv {
            weight: narrow(&narrow(&self.weight, 0, rows), 1, cols),
            bias: self.bias.as_ref().map(|b| narrow(b, 0, rows)),
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// The same convolution with no gradient into the first `rows` output
    /// rows × `cols` input columns (all where `None`) of its weight and the
    /// first `rows` of its bias: its output is unchanged, but training
    /// through it leaves that block as it is.
    pub(super) fn frozen_in(&self, rows: Option<i64>, cols: Option<i64>) -> Conv {
        Conv {
            weight: slim::frozen_block(&self.weight, rows, cols),
            bias: self
                .bias
                .as_ref()
                .map(|b| slim::frozen_block(b, rows, None)),
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    pub(super) fn params(&self) -> impl Iterator<Item = &Tensor> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }
}

/// `x` (`(batch, channels, L)`) with each sample's channels adjacent in
/// memory (channels-last: a transposed copy), the layout where oneDNN's
/// convolutions of few channels are fast: forward plus backward of a dilated
/// convolution of 8 channels and kernel 6, batch 8 × 12 000, one thread
/// (torch 2.13), takes 9–11 ms from a channels-last copy (the copy included)
/// against 12–17 ms with `conv1d` on `x` itself; 2 to 12 channels at kernel
/// 3 0.7–0.95 of `conv1d`'s time, and less than stacking the taps into one
/// matrix product. Training an epoch of A2 on `../shared/data` took 13.8 s
/// before and 10.1 s after (nano 4.2 → 3.0 s, feather 6.8 → 5.2 s).
fn channels_last(x: &Tensor) -> Tensor {
    x.transpose(1, 2).contiguous().transpose(1, 2)
}
