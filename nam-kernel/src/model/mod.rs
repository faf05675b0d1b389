//! Runnable models. All allocation happens in [`Model::build`]; afterwards
//! [`Model::process`], [`Model::reset`] and [`Model::prewarm`] neither allocate,
//! lock nor make system calls.

mod buffers;
mod conv;
mod convnet;
mod linear;
mod lstm;
mod rtneural;
mod sizes;
mod wavenet;

use std::path::Path;

use buffers::History;

use crate::error::{BuildError, FormatError, LoadError};
use crate::format::{limits, slim, Metadata, ModelSpec, NamFile};
use crate::kernels::Kernels;

/// The internal block size used when none is given: long enough for the
/// kernels' inner loops to vectorize well, short enough to stay in L1.
pub const DEFAULT_MAX_BLOCK_FRAMES: usize = 256;

/// Options for [`Model::build`].
#[derive(Clone, Copy, Debug)]
pub struct BuildOptions {
    /// The largest block processed at once; longer buffers are split.
    pub max_block_frames: usize,
    /// The kernel table to run on; [`Kernels::detect`] by default.
    pub kernels: &'static Kernels,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            max_block_frames: DEFAULT_MAX_BLOCK_FRAMES,
            kernels: Kernels::detect(),
        }
    }
}

/// The network a [`Model`] runs: one architecture, built (a slimmable model:
/// every size in [`sizes::Sizes`]).
#[derive(Debug)]
pub(crate) enum Network {
    WaveNet(Box<wavenet::WaveNet>),
    Lstm(lstm::Lstm),
    ConvNet(convnet::ConvNet),
    Linear(linear::Linear),
    RtNeural(rtneural::RtNeural),
    Container(sizes::Sizes),
}

impl Network {
    /// Builds the model at the top level: a slimmable WaveNet with every size.
    fn build_all_sizes(file: &NamFile, options: &BuildOptions) -> Result<Network, BuildError> {
        let Some(sizes) = slimmable_wavenet_sizes(&file.spec) else {
            return Network::build(file, options);
        };
        let built = sizes
            .iter()
            .map(|s| Ok((s.max_value, Network::build_spec(&s.spec, options)?)))
            .collect::<Result<Vec<_>, BuildError>>()?;
        Ok(Network::Container(sizes::Sizes::new(
            built,
            true,
            options.max_block_frames,
        )))
    }

    /// Builds a model; a nested slimmable WaveNet plays at its default size.
    fn build(file: &NamFile, options: &BuildOptions) -> Result<Network, BuildError> {
        Self::build_spec(&file.spec, options)
    }

    fn build_spec(spec: &ModelSpec, options: &BuildOptions) -> Result<Network, BuildError> {
        let max_frames = options.max_block_frames;
        Ok(match spec {
            ModelSpec::WaveNet { config, weights } => {
                if let Ok(Some(slim)) = slim::SlimmableWaveNet::new(config, weights) {
                    let (config, weights) = slim.at_level(slim.level_for(1.0));
                    return Self::build_spec(&ModelSpec::WaveNet { config, weights }, options);
                }
                Network::WaveNet(Box::new(wavenet::WaveNet::build(
                    config,
                    weights,
                    max_frames,
                    |nested| Network::build(nested, options),
                )?))
            }
            ModelSpec::Lstm { config, weights } => {
                Network::Lstm(lstm::Lstm::build(config, weights, options.kernels)?)
            }
            ModelSpec::ConvNet { config, weights } => {
                Network::ConvNet(convnet::ConvNet::build(config, weights, max_frames)?)
            }
            ModelSpec::RtNeural { config, weights } => {
                Network::RtNeural(rtneural::RtNeural::build(config, weights, options.kernels)?)
            }
            ModelSpec::Linear { config, weights } => {
                Network::Linear(linear::Linear::build(config, weights, max_frames)?)
            }
            ModelSpec::SlimmableContainer { submodels } => {
                let built = submodels
                    .iter()
                    .map(|s| Ok((s.max_value, Network::build(&s.model, options)?)))
                    .collect::<Result<Vec<_>, BuildError>>()?;
                Network::Container(sizes::Sizes::new(built, false, max_frames))
            }
        })
    }

    pub(crate) fn out_channels(&self) -> usize {
        match self {
            Network::WaveNet(w) => w.out_channels(),
            Network::Container(c) => c.playing().out_channels(),
            Network::Lstm(_) | Network::ConvNet(_) | Network::Linear(_) | Network::RtNeural(_) => 1,
        }
    }

    fn receptive_field(&self) -> usize {
        match self {
            Network::WaveNet(w) => w.receptive_field(),
            Network::Lstm(_) => 1,
            Network::RtNeural(r) => r.receptive_field(),
            Network::ConvNet(c) => c.receptive_field(),
            Network::Linear(l) => l.receptive_field(),
            Network::Container(c) => c.playing().receptive_field(),
        }
    }

    /// Zeros the reference feeds before the first sample to settle the state:
    /// `receptive_field - 1` for convolutional models, none for an LSTM (its
    /// stored initial state is already the trainer's settled state) or an
    /// RTNeural model (settled on silence at build, its convolutions too).
    fn prewarm_frames(&self) -> usize {
        match self {
            Network::Lstm(_) | Network::RtNeural(_) => 0,
            Network::Container(c) => c.playing().prewarm_frames(),
            other => other.receptive_field() - 1,
        }
    }

    /// Calls `f` on every history of the network (of the playing size only,
    /// for a slimmable model).
    fn for_each_history(&mut self, f: &mut dyn FnMut(&mut History)) {
        match self {
            Network::WaveNet(w) => w.for_each_history(f),
            Network::ConvNet(c) => c.for_each_history(f),
            Network::Linear(l) => l.for_each_history(f),
            Network::Container(c) => c.playing_mut().for_each_history(f),
            Network::Lstm(_) | Network::RtNeural(_) => {}
        }
    }

    /// Puts a cleared network in the state [`Network::prewarm_frames`] zeros
    /// would leave it in, in a few frames of work per history instead of a
    /// receptive field's.
    ///
    /// With silence forever at the input, every signal inside a convolutional
    /// model is constant, so each history holds one value per channel. One
    /// frame of zeros followed by [`History::hold_newest`] on every history
    /// makes the first history of every path exact; each further round makes
    /// the next one exact. A path crosses each history at most once, so one
    /// round per history (plus one for the output) settles the whole model.
    fn settle(&mut self, kernels: &Kernels, discard: &mut [f32], out_stride: usize) {
        if let Network::Container(c) = self {
            return c.playing_mut().settle(kernels, discard, out_stride);
        }
        if self.prewarm_frames() == 0 {
            return;
        }
        let mut histories = 0;
        self.for_each_history(&mut |_| histories += 1);
        for _ in 0..=histories {
            self.process_block(kernels, &[0.0], discard, out_stride);
            self.for_each_history(&mut History::hold_newest);
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Network::WaveNet(w) => w.clear(),
            Network::Lstm(l) => l.clear(),
            Network::RtNeural(r) => r.clear(),
            Network::ConvNet(c) => c.clear(),
            Network::Linear(l) => l.clear(),
            Network::Container(c) => c.clear(),
        }
    }

    /// Processes one block of at most the build's `max_frames` frames into
    /// `out_channels()` planar rows of `output`.
    pub(crate) fn process_block(
        &mut self,
        kernels: &Kernels,
        input: &[f32],
        output: &mut [f32],
        out_stride: usize,
    ) {
        match self {
            Network::WaveNet(w) => w.process_block(kernels, input, output, out_stride),
            Network::Lstm(l) => l.process_block(kernels, input, output),
            Network::RtNeural(r) => r.process_block(kernels, input, output),
            Network::ConvNet(c) => c.process_block(kernels, input, output),
            Network::Linear(l) => l.process_block(kernels, input, output),
            Network::Container(c) => c.process_block(kernels, input, output, out_stride),
        }
    }
}

/// A loaded, runnable NAM model with a uniform interface for every architecture.
///
/// Feed it any number of frames per call with [`Model::process`]; the output
/// does not depend on how the input is split. After [`Model::build`] (or
/// [`Model::load`]) the model is in the reference start state: as if it had
/// heard digital silence forever.
#[derive(Debug)]
pub struct Model {
    net: Network,
    kernels: &'static Kernels,
    max_block_frames: usize,
    sample_rate_hz: f64,
    metadata: Metadata,
    architecture: &'static str,
    discard: Vec<f32>,
}

impl Model {
    /// Loads, validates and builds a `.nam` file with default options.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let file = NamFile::load(path)?;
        Self::build(&file, BuildOptions::default())
            .map_err(|e| LoadError::new(path.display().to_string(), FormatError::Build(e)))
    }

    /// Builds a runnable model from a validated file. Allocates everything the
    /// model will ever need, then settles it in the reference start state.
    pub fn build(file: &NamFile, options: BuildOptions) -> Result<Self, BuildError> {
        let max_frames = options.max_block_frames;
        if max_frames == 0 {
            return Err(BuildError::ZeroBlock);
        }
        let floats = match slimmable_wavenet_sizes(&file.spec) {
            Some(sizes) => sizes.iter().fold(0usize, |total, s| {
                total.saturating_add(state_floats(&s.spec, max_frames))
            }),
            None => state_floats(&file.spec, max_frames),
        };
        if floats > limits::MAX_STATE_FLOATS {
            return Err(BuildError::TooMuchState {
                floats,
                limit: limits::MAX_STATE_FLOATS,
            });
        }
        let net = Network::build_all_sizes(file, &options)?;
        if net.out_channels() != 1 {
            return Err(BuildError::NotMono(net.out_channels()));
        }
        let mut model = Self {
            net,
            kernels: options.kernels,
            max_block_frames: max_frames,
            sample_rate_hz: file.sample_rate_hz(),
            metadata: file.metadata.clone(),
            architecture: file.architecture(),
            discard: vec![0.0; max_frames],
        };
        model.reset();
        Ok(model)
    }

    /// Processes `input` into `output` (equal lengths; any length, including 0).
    /// Real-time safe. If the lengths differ, the common prefix is processed and
    /// the rest of `output` is zeroed (never a panic on the audio thread).
    pub fn process(&mut self, input: &[f32], output: &mut [f32]) {
        let frames = input.len().min(output.len());
        output[frames..].fill(0.0);
        for (input, output) in input[..frames]
            .chunks(self.max_block_frames)
            .zip(output[..frames].chunks_mut(self.max_block_frames))
        {
            self.net
                .process_block(self.kernels, input, output, self.max_block_frames);
        }
    }

    /// Returns to the reference start state (silence forever before the next
    /// sample): clears all history, then [`Model::prewarm`]s. Allocation-free.
    pub fn reset(&mut self) {
        self.net.clear();
        self.prewarm();
    }

    /// Settles the model in the state [`Model::prewarm_frames`] zeros would
    /// leave it in, as the reference is before its first sample. Costs one
    /// frame of processing per history (layer) of the model, not a receptive
    /// field's worth, so loading stays linear in the model's size.
    /// Allocation-free.
    pub fn prewarm(&mut self) {
        self.net
            .settle(self.kernels, &mut self.discard, self.max_block_frames);
    }

    /// Zeros of input that settle the model: `receptive_field() - 1`, or 0 for
    /// an LSTM ([`Model::prewarm`] reaches the same state faster).
    pub fn prewarm_frames(&self) -> usize {
        self.net.prewarm_frames()
    }

    /// Samples of input the current output depends on (1 for an LSTM): the
    /// receptive field of the size playing now (a slimmable model's; until a
    /// [`Model::request_slimmable_size`] takes over, the old size's). What the
    /// file plays by default: [`ModelSpec::receptive_field`].
    pub fn receptive_field(&self) -> usize {
        self.net.receptive_field()
    }

    /// Latency the model adds, in samples: always 0 (NAM models are causal and
    /// aligned with their input).
    pub fn latency_frames(&self) -> usize {
        0
    }

    /// The sample rate the model expects (48 kHz when the file states none).
    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// The file's metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The architecture name (`WaveNet`, `LSTM`, ...).
    pub fn architecture(&self) -> &'static str {
        self.architecture
    }

    /// The kernel table in use.
    pub fn kernels(&self) -> &'static Kernels {
        self.kernels
    }

    /// The largest block processed at once.
    pub fn max_block_frames(&self) -> usize {
        self.max_block_frames
    }

    /// Size breakpoints of a slimmable model (a `SlimmableContainer` or a
    /// slimmable WaveNet; empty for other models): a size below
    /// `breakpoints[i]` selects size `i`, the last serves the rest. For a
    /// slimmable WaveNet of `n` sizes they are `1/n, 2/n, ...`.
    pub fn slimmable_breakpoints(&self) -> Vec<f64> {
        match &self.net {
            Network::Container(c) => c.submodels[..c.submodels.len() - 1]
                .iter()
                .map(|(max, _)| *max)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Sizes the model plays at: 1 for a model that is not slimmable.
    pub fn slimmable_size_count(&self) -> usize {
        match &self.net {
            Network::Container(c) => c.submodels.len(),
            _ => 1,
        }
    }

    /// The size playing now, 0 = smallest (the last is the default).
    pub fn slimmable_size_index(&self) -> usize {
        match &self.net {
            Network::Container(c) => c.active,
            _ => 0,
        }
    }

    /// Plays the size for `size` in `[0, 1]` (1 = full size, the default), as
    /// the trainer does: a `SlimmableContainer`'s submodel below whose
    /// `max_value` it lies, or a slimmable WaveNet's `allowed_channels` entry
    /// `min(floor(size · n), n − 1)` (see [`crate::format::slim`]). Every size
    /// is built at load, so this only switches, at once, and resets the new
    /// size if it changed: allocation-free, but a change costs a
    /// [`Model::reset`] (one receptive field of processing in this call). No
    /// effect on other models. For live changes see
    /// [`Model::request_slimmable_size`].
    pub fn set_slimmable_size(&mut self, size: f64) {
        let Network::Container(sizes) = &mut self.net else {
            return;
        };
        let index = sizes.index_for(size);
        if sizes.select(index) {
            self.reset();
        }
    }

    /// Moves to the size for `size` (as [`Model::set_slimmable_size`] picks
    /// it) without a burst of work: the new size processes the live input
    /// beside the playing one for one receptive field (up to twice the work
    /// per sample meanwhile), then takes over at a block boundary in exactly
    /// the state it would have had if it had played all along. A size without
    /// receptive-field memory (an LSTM submodel) takes over at once from its
    /// initial state. Allocation-free; no effect on other models.
    pub fn request_slimmable_size(&mut self, size: f64) {
        if let Network::Container(sizes) = &mut self.net {
            let index = sizes.index_for(size);
            sizes.request(index);
        }
    }

    /// The size that plays once a [`Model::request_slimmable_size`] has
    /// taken over (equal to [`Model::slimmable_size_index`] otherwise).
    pub fn slimmable_size_target(&self) -> usize {
        match &self.net {
            Network::Container(sizes) => sizes.target(),
            _ => 0,
        }
    }
}

/// The sizes of a top-level slimmable WaveNet the trainer could have made;
/// `None` for any other model.
fn slimmable_wavenet_sizes(spec: &ModelSpec) -> Option<Vec<slim::SlimSize>> {
    match spec {
        ModelSpec::WaveNet { config, weights } => {
            matches!(slim::SlimmableWaveNet::new(config, weights), Ok(Some(_)))
                .then(|| slim::sizes(spec))
        }
        _ => None,
    }
}

/// Upper estimate of the floats a model's buffers need, computed from the
/// config before anything is allocated.
fn state_floats(spec: &ModelSpec, max_frames: usize) -> usize {
    use buffers::{History, Planar};
    let history = |channels: usize, lookback: usize| {
        channels.saturating_mul(History::stride_for(lookback, max_frames))
    };
    let planar_frames = Planar::stride_for(max_frames);
    match spec {
        ModelSpec::WaveNet { config, weights } => {
            let mut total = weights.len().saturating_mul(2);
            for array in &config.layer_arrays {
                let widest = array
                    .channels
                    .max(2 * array.bottleneck)
                    .max(array.head.out_channels);
                total = total
                    .saturating_add(8usize.saturating_mul(widest).saturating_mul(planar_frames));
                for layer in &array.layers {
                    total = total.saturating_add(history(array.channels, layer.lookback()));
                }
                total = total
                    .saturating_add(history(array.head_term_channels(), array.head.lookback()));
            }
            if let Some(head) = &config.post_head {
                for (k, (cin, cout)) in head
                    .kernel_sizes
                    .iter()
                    .zip(head.block_channels(head.channels))
                {
                    total = total.saturating_add(history(cin, k - 1));
                    total = total.saturating_add(2 * cout * planar_frames);
                }
            }
            if let Some(nested) = &config.condition_dsp {
                total = total.saturating_add(state_floats(&nested.spec, max_frames));
            }
            total
        }
        ModelSpec::Lstm { weights, .. } => weights.len().saturating_mul(3),
        ModelSpec::RtNeural { config, weights } => config
            .layers
            .iter()
            .fold(weights.len().saturating_mul(3), |total, layer| {
                total.saturating_add(layer.history_floats())
            }),
        ModelSpec::ConvNet { config, weights } => config.dilations.iter().fold(
            weights.len() + config.channels * planar_frames,
            |total, &d| total.saturating_add(history(config.channels, d)),
        ),
        ModelSpec::Linear { config, .. } => {
            history(1, config.receptive_field).saturating_add(config.receptive_field)
        }
        ModelSpec::SlimmableContainer { submodels } => submodels.iter().fold(0usize, |total, s| {
            total.saturating_add(state_floats(&s.model.spec, max_frames))
        }),
    }
}
