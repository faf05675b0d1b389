//! Convolutions with NAM's weight layout, and FiLM.

use super::buffers::Planar;
use crate::error::BuildError;
use crate::kernels::{ConvShape, Kernels, Output};

/// Reads a flat weight vector in order and reports exact counts.
pub(crate) struct WeightCursor<'a> {
    weights: &'a [f32],
    position: usize,
}

impl<'a> WeightCursor<'a> {
    pub(crate) fn new(weights: &'a [f32]) -> Self {
        Self {
            weights,
            position: 0,
        }
    }

    pub(crate) fn take(&mut self, count: usize) -> Result<&'a [f32], BuildError> {
        let end = self.position + count;
        let taken = self
            .weights
            .get(self.position..end)
            .ok_or(BuildError::WeightCount {
                expected: end,
                found: self.weights.len(),
            })?;
        self.position = end;
        Ok(taken)
    }

    pub(crate) fn scalar(&mut self) -> Result<f32, BuildError> {
        Ok(self.take(1)?[0])
    }

    /// Checks that every weight was used.
    pub(crate) fn finish(self) -> Result<(), BuildError> {
        if self.position == self.weights.len() {
            Ok(())
        } else {
            Err(BuildError::WeightCount {
                expected: self.position,
                found: self.weights.len(),
            })
        }
    }
}

/// Dimensions of a convolution as the config gives them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvSpec {
    pub(crate) cin: usize,
    pub(crate) cout: usize,
    pub(crate) taps: usize,
    pub(crate) dilation: usize,
    pub(crate) groups: usize,
    pub(crate) bias: bool,
}

impl ConvSpec {
    pub(crate) fn pointwise(cin: usize, cout: usize, groups: usize, bias: bool) -> Self {
        Self {
            cin,
            cout,
            taps: 1,
            dilation: 1,
            groups,
            bias,
        }
    }
}

/// Floats of zeros kept after a convolution's weights, which kernels may
/// read (see [`crate::kernels::LayerFront::weights`]).
const WEIGHT_SLACK: usize = 1;

/// A 1-D convolution (PyTorch `Conv1d`, no padding), weights reordered to
/// `[tap][out][in_per_group]` for the kernels.
#[derive(Clone, Debug)]
pub(crate) struct Conv {
    spec: ConvSpec,
    /// The weights, then [`WEIGHT_SLACK`] zeros.
    weights: Vec<f32>,
    bias: Option<Vec<f32>>,
}

impl Conv {
    /// Reads PyTorch's `(out, in/groups, taps)` weight then the bias, if any, and
    /// reorders the weight to the kernels' `[group][tap][in][out]` layout.
    pub(crate) fn read(spec: ConvSpec, cursor: &mut WeightCursor) -> Result<Self, BuildError> {
        let cin_g = spec.cin / spec.groups;
        let cout_g = spec.cout / spec.groups;
        let torch = cursor.take(spec.cout * cin_g * spec.taps)?;
        let mut weights = vec![0.0; torch.len() + WEIGHT_SLACK];
        for o in 0..spec.cout {
            let (group, o_local) = (o / cout_g, o % cout_g);
            for i in 0..cin_g {
                for j in 0..spec.taps {
                    let packed = ((group * spec.taps + j) * cin_g + i) * cout_g + o_local;
                    weights[packed] = torch[(o * cin_g + i) * spec.taps + j];
                }
            }
        }
        let bias = if spec.bias {
            Some(cursor.take(spec.cout)?.to_vec())
        } else {
            None
        };
        Ok(Self {
            spec,
            weights,
            bias,
        })
    }

    /// Frames of past input the convolution reads before the current one.
    pub(crate) fn lookback(&self) -> usize {
        (self.spec.taps - 1) * self.spec.dilation
    }

    pub(crate) fn cout(&self) -> usize {
        self.spec.cout
    }

    /// Weights in the kernels' layout.
    pub(crate) fn weights(&self) -> &[f32] {
        &self.weights[..self.weights.len() - WEIGHT_SLACK]
    }

    /// [`Conv::weights`] followed by slack a kernel may read (zeros).
    pub(crate) fn weights_with_slack(&self) -> &[f32] {
        &self.weights
    }

    /// The bias, if the convolution has one.
    pub(crate) fn bias(&self) -> Option<&[f32]> {
        self.bias.as_deref()
    }

    /// True for a convolution of one group.
    pub(crate) fn is_dense(&self) -> bool {
        self.spec.groups == 1
    }

    pub(crate) fn shape(
        &self,
        frames: usize,
        in_stride: usize,
        first: usize,
        out_stride: usize,
    ) -> ConvShape {
        ConvShape {
            frames,
            taps: self.spec.taps,
            dilation: self.spec.dilation,
            cout: self.spec.cout,
            cin_per_group: self.spec.cin / self.spec.groups,
            groups: self.spec.groups,
            in_stride,
            first,
            out_stride,
        }
    }

    /// `out = bias + conv(input)`. `input` rows start at `first` for the oldest tap.
    pub(crate) fn forward(
        &self,
        kernels: &Kernels,
        input: (&[f32], usize, usize),
        out: &mut [f32],
        out_stride: usize,
        frames: usize,
    ) {
        self.run(kernels, Output::Overwrite, input, out, out_stride, frames);
    }

    /// `out += bias + conv(input)`.
    pub(crate) fn accumulate(
        &self,
        kernels: &Kernels,
        input: (&[f32], usize, usize),
        out: &mut [f32],
        out_stride: usize,
        frames: usize,
    ) {
        self.run(kernels, Output::Accumulate, input, out, out_stride, frames);
    }

    /// `out = bias + conv(input)` added to what `output` says.
    pub(crate) fn run(
        &self,
        kernels: &Kernels,
        output: Output,
        (data, in_stride, first): (&[f32], usize, usize),
        out: &mut [f32],
        out_stride: usize,
        frames: usize,
    ) {
        let shape = self.shape(frames, in_stride, first, out_stride);
        (kernels.conv)(
            &shape,
            self.weights(),
            self.bias.as_deref(),
            output,
            data,
            out,
        );
    }
}

/// FiLM: `x · scale (+ shift)`, scale and shift a 1x1 convolution of the condition.
#[derive(Clone, Debug)]
pub(crate) struct Film {
    conv: Conv,
    dim: usize,
    shift: bool,
}

impl Film {
    pub(crate) fn read(
        condition_size: usize,
        dim: usize,
        shift: bool,
        groups: usize,
        cursor: &mut WeightCursor,
    ) -> Result<Self, BuildError> {
        let cout = if shift { 2 * dim } else { dim };
        let conv = Conv::read(
            ConvSpec::pointwise(condition_size, cout, groups, true),
            cursor,
        )?;
        Ok(Self { conv, dim, shift })
    }

    /// Channels of the scratch buffer [`Film::apply`] needs.
    pub(crate) fn scratch_channels(&self) -> usize {
        self.conv.cout()
    }

    /// Modulates `dim` rows of `target` (`target_stride` apart, from `offset`) in place.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply(
        &self,
        kernels: &Kernels,
        condition: (&[f32], usize),
        target: &mut [f32],
        target_stride: usize,
        offset: usize,
        scratch: &mut Planar,
        frames: usize,
    ) {
        let stride = scratch.stride;
        self.conv.forward(
            kernels,
            (condition.0, condition.1, 0),
            &mut scratch.data,
            stride,
            frames,
        );
        for c in 0..self.dim {
            let row = &mut target[c * target_stride + offset..][..frames];
            let scale = scratch.row(c, frames);
            if self.shift {
                let shift = scratch.row(self.dim + c, frames);
                for ((x, &s), &b) in row.iter_mut().zip(scale).zip(shift) {
                    *x = *x * s + b;
                }
            } else {
                for (x, &s) in row.iter_mut().zip(scale) {
                    *x *= s;
                }
            }
        }
    }
}
