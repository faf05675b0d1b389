//! Streaming Linear model: an FIR filter in PyTorch `Conv1d` tap order.

use super::buffers::History;
use super::conv::{Conv, ConvSpec, WeightCursor};
use crate::error::BuildError;
use crate::format::LinearConfig;
use crate::kernels::Kernels;

/// A runnable FIR model. The last tap multiplies the newest sample, as in the
/// trainer (NeuralAmpModelerCore reverses the taps; see the fixtures README).
#[derive(Debug)]
pub(crate) struct Linear {
    conv: Conv,
    history: History,
}

impl Linear {
    pub(crate) fn build(
        config: &LinearConfig,
        weights: &[f32],
        max_frames: usize,
    ) -> Result<Self, BuildError> {
        let mut cursor = WeightCursor::new(weights);
        let spec = ConvSpec {
            cin: 1,
            cout: 1,
            taps: config.receptive_field,
            dilation: 1,
            groups: 1,
            bias: config.bias,
        };
        let conv = Conv::read(spec, &mut cursor)?;
        cursor.finish()?;
        let history = History::new(1, conv.lookback(), max_frames);
        Ok(Self { conv, history })
    }

    pub(crate) fn receptive_field(&self) -> usize {
        self.conv.lookback() + 1
    }

    pub(crate) fn clear(&mut self) {
        self.history.clear();
    }

    pub(crate) fn for_each_history(&mut self, f: &mut dyn FnMut(&mut History)) {
        f(&mut self.history);
    }

    pub(crate) fn process_block(&mut self, kernels: &Kernels, input: &[f32], output: &mut [f32]) {
        let n = input.len();
        self.history.begin(n);
        self.history.current_mut(0, n).copy_from_slice(input);
        self.conv
            .forward(kernels, self.history.conv_input(), output, n, n);
        self.history.end(n);
    }
}
