//! A slimmable model built at every size, one playing: a `SlimmableContainer`
//! (submodel `i` serves sizes below its `max_value`) or a slimmable WaveNet
//! sliced to each level ([`slim::uniform_level`] picks one).
//!
//! Two ways to change size, both allocation-free:
//! - [`Sizes::select`]: at once; the caller resets (one receptive field of
//!   processing, the new size starts from silence). For offline use and load.
//! - [`Sizes::request`]: for live use. The new size runs on the live input
//!   beside the playing one for one receptive field (at most twice the work
//!   per block, no burst), then takes over at a block boundary in exactly the
//!   state it would have if it had played all along: a model's output depends
//!   on its last receptive field of input only. A size with no receptive-field
//!   memory to settle (an LSTM submodel) switches at once from its initial state.

use super::Network;
use crate::format::slim;
use crate::kernels::Kernels;

/// Every size built; one plays, another may be warming up.
#[derive(Debug)]
pub(crate) struct Sizes {
    /// `(max_value, network)` per size, smallest first.
    pub(super) submodels: Vec<(f64, Network)>,
    /// Whether the slimmable-WaveNet rule picks the size (else `max_value`s).
    uniform: bool,
    /// The size playing.
    pub(super) active: usize,
    /// A requested size warming up on the live input: (index, frames left).
    pending: Option<(usize, usize)>,
    /// The warming size's (discarded) output, one block.
    scratch: Vec<f32>,
}

impl Sizes {
    /// Every size built (`uniform`: a slimmable WaveNet's levels), the last
    /// playing. `max_frames` is the build's largest block.
    pub(super) fn new(submodels: Vec<(f64, Network)>, uniform: bool, max_frames: usize) -> Self {
        let rows = submodels
            .iter()
            .map(|(_, net)| net.out_channels())
            .max()
            .unwrap_or(1);
        let active = submodels.len() - 1;
        Self {
            submodels,
            uniform,
            active,
            pending: None,
            scratch: vec![0.0; rows * max_frames],
        }
    }

    /// The network playing.
    pub(super) fn playing(&self) -> &Network {
        &self.submodels[self.active].1
    }

    /// The network playing, mutably.
    pub(super) fn playing_mut(&mut self) -> &mut Network {
        &mut self.submodels[self.active].1
    }

    /// The size index that plays for size value `size`.
    pub(super) fn index_for(&self, size: f64) -> usize {
        let last = self.submodels.len() - 1;
        if self.uniform {
            slim::uniform_level(size, self.submodels.len())
        } else {
            self.submodels
                .iter()
                .position(|(max, _)| size < *max)
                .unwrap_or(last)
        }
    }

    /// Plays `index` from now on; returns whether it changed (the caller then
    /// resets). Drops any warming size.
    pub(super) fn select(&mut self, index: usize) -> bool {
        self.pending = None;
        let changed = index != self.active;
        self.active = index;
        changed
    }

    /// Starts moving to `index` seamlessly (see the module docs).
    pub(super) fn request(&mut self, index: usize) {
        if index == self.active {
            self.pending = None;
            return;
        }
        if self.pending.is_some_and(|(i, _)| i == index) {
            return;
        }
        let net = &mut self.submodels[index].1;
        let settle = net.prewarm_frames();
        if settle == 0 {
            net.clear();
            self.active = index;
            self.pending = None;
        } else {
            self.pending = Some((index, settle));
        }
    }

    /// The size that plays once any warm-up is done.
    pub(super) fn target(&self) -> usize {
        self.pending.map_or(self.active, |(i, _)| i)
    }

    /// Clears the state: a warming size takes over at once (it would have
    /// to restart from silence anyway).
    pub(super) fn clear(&mut self) {
        if let Some((index, _)) = self.pending.take() {
            self.active = index;
        }
        self.submodels[self.active].1.clear();
    }

    /// Processes one block with the playing size (and the warming one).
    pub(super) fn process_block(
        &mut self,
        kernels: &Kernels,
        input: &[f32],
        output: &mut [f32],
        out_stride: usize,
    ) {
        self.submodels[self.active]
            .1
            .process_block(kernels, input, output, out_stride);
        if let Some((index, left)) = self.pending {
            let stride = input.len().max(1);
            let scratch = &mut self.scratch[..stride * self.submodels[index].1.out_channels()];
            self.submodels[index]
                .1
                .process_block(kernels, input, scratch, stride);
            if input.len() >= left {
                self.active = index;
                self.pending = None;
            } else {
                self.pending = Some((index, left - input.len()));
            }
        }
    }
}
