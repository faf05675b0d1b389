//! Streaming ConvNet: kernel-2 dilated blocks with optional inference batchnorm.

use super::buffers::{History, Planar};
use super::conv::{Conv, ConvSpec, WeightCursor};
use crate::error::BuildError;
use crate::format::{Activation, ConvNetConfig};
use crate::kernels::Kernels;

#[derive(Debug)]
struct Block {
    conv: Conv,
    /// Batchnorm folded to `y = x · scale + offset` per channel.
    batchnorm: Option<(Vec<f32>, Vec<f32>)>,
    history: History,
}

/// A runnable ConvNet.
#[derive(Debug)]
pub(crate) struct ConvNet {
    blocks: Vec<Block>,
    head: Conv,
    activation: Activation,
    channels: usize,
    output: Planar,
    receptive_field: usize,
}

impl ConvNet {
    pub(crate) fn build(
        config: &ConvNetConfig,
        weights: &[f32],
        max_frames: usize,
    ) -> Result<Self, BuildError> {
        let c = config.channels;
        let mut cursor = WeightCursor::new(weights);
        let mut blocks = Vec::with_capacity(config.dilations.len());
        for (b, &dilation) in config.dilations.iter().enumerate() {
            let cin = config.block_input_channels(b);
            let spec = ConvSpec {
                cin,
                cout: c,
                taps: 2,
                dilation,
                groups: 1,
                bias: !config.batchnorm,
            };
            let conv = Conv::read(spec, &mut cursor)?;
            let batchnorm = if config.batchnorm {
                let mean = cursor.take(c)?;
                let var = cursor.take(c)?;
                let weight = cursor.take(c)?;
                let bias = cursor.take(c)?;
                let eps = f64::from(cursor.scalar()?);
                let scale: Vec<f32> = (0..c)
                    .map(|k| (f64::from(weight[k]) / (f64::from(var[k]) + eps).sqrt()) as f32)
                    .collect();
                let offset = (0..c)
                    .map(|k| (f64::from(bias[k]) - f64::from(mean[k]) * f64::from(scale[k])) as f32)
                    .collect();
                Some((scale, offset))
            } else {
                None
            };
            let history = History::new(cin, conv.lookback(), max_frames);
            blocks.push(Block {
                conv,
                batchnorm,
                history,
            });
        }
        let head = Conv::read(ConvSpec::pointwise(c, 1, 1, true), &mut cursor)?;
        cursor.finish()?;
        Ok(Self {
            blocks,
            head,
            activation: config.activation.clone(),
            channels: c,
            output: Planar::new(c, max_frames),
            receptive_field: config.receptive_field(),
        })
    }

    pub(crate) fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    pub(crate) fn clear(&mut self) {
        for block in &mut self.blocks {
            block.history.clear();
        }
    }

    pub(crate) fn for_each_history(&mut self, f: &mut dyn FnMut(&mut History)) {
        for block in &mut self.blocks {
            f(&mut block.history);
        }
    }

    pub(crate) fn process_block(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        let n = input.len();
        let stride = self.output.stride;
        for b in 0..self.blocks.len() {
            let block = &mut self.blocks[b];
            block.history.begin(n);
            if b == 0 {
                block.history.current_mut(0, n).copy_from_slice(input);
            } else {
                for c in 0..self.channels {
                    block
                        .history
                        .current_mut(c, n)
                        .copy_from_slice(self.output.row(c, n));
                }
            }
            block.conv.forward(
                kernels,
                block.history.conv_input(),
                &mut self.output.data,
                stride,
                n,
            );
            block.history.end(n);
            for c in 0..self.channels {
                let row = self.output.row_mut(c, n);
                if let Some((scale, offset)) = &block.batchnorm {
                    let (s, o) = (scale[c], offset[c]);
                    row.iter_mut().for_each(|x| *x = *x * s + o);
                }
                (kernels.activate)(&self.activation, c, row);
            }
        }
        self.head
            .forward(kernels, (&self.output.data, stride, 0), output, n, n);
    }
}
