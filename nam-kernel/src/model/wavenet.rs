//! Streaming WaveNet: layer arrays of dilated layers, head sums, FiLM, gating,
//! condition DSP and post-stack head, processed one planar block at a time.

use super::buffers::{History, Planar};
use super::conv::{Conv, ConvSpec, Film, WeightCursor};
use super::Network;
use crate::error::BuildError;
use crate::format::{
    Activation, FilmPosition, Gating, LayerArrayConfig, LayerConfig, PostHeadConfig, WaveNetConfig,
};
use crate::kernels::{Kernels, LayerFront, Output, WaveNetLayer};

/// One dilated layer and the history of its convolution input.
#[derive(Debug)]
struct Layer {
    conv: Conv,
    mixer: Conv,
    layer1x1: Option<Conv>,
    head1x1: Option<Conv>,
    films: [Option<Film>; 8],
    activation: Activation,
    gating: Gating,
    mid_channels: usize,
    history: History,
    /// The front half (convolution, mixer, activation, head sum) runs as one
    /// [`Kernels::layer_front`] pass: no FiLM, no gating, one group.
    fused_front: bool,
}

impl Layer {
    fn film(&self, position: FilmPosition) -> Option<&Film> {
        self.films[position as usize].as_ref()
    }
}

/// Scratch rows shared by the layers of one array.
#[derive(Debug)]
struct Scratch {
    /// The residual stream.
    x: Planar,
    /// Pre-activation sum, then the activation output in rows `0..bottleneck`.
    z: Planar,
    /// Input mixer output when it is modulated, or blended activation temporaries.
    mix: Planar,
    /// FiLM scale and shift.
    film: Planar,
    /// The modulated condition (input_mixin_pre_film).
    condition: Planar,
    /// Layer 1x1 or head 1x1 output when modulated before being summed.
    term: Planar,
}

#[derive(Debug)]
struct LayerArray {
    rechannel: Conv,
    layers: Vec<Layer>,
    head_rechannel: Conv,
    head_history: History,
    head_out: Planar,
    channels: usize,
    bottleneck: usize,
    condition_size: usize,
    head_term_channels: usize,
    scratch: Scratch,
    /// Every layer is fused and has a plain layer 1x1, so the residual
    /// stream is written straight into the next layer's history (no copy).
    residual_in_history: bool,
}

impl LayerArray {
    fn read(
        config: &LayerArrayConfig,
        max_frames: usize,
        cursor: &mut WeightCursor,
    ) -> Result<Self, BuildError> {
        let (channels, bottleneck, cond) =
            (config.channels, config.bottleneck, config.condition_size);
        let rechannel = Conv::read(
            ConvSpec::pointwise(config.input_size, channels, 1, false),
            cursor,
        )?;
        let mut layers = Vec::with_capacity(config.layers.len());
        let mut film_rows = 0;
        let mut mid_max = 0;
        for layer in &config.layers {
            let built = read_layer(config, layer, max_frames, cursor)?;
            film_rows = built
                .films
                .iter()
                .flatten()
                .map(Film::scratch_channels)
                .fold(film_rows, usize::max);
            mid_max = mid_max.max(built.mid_channels);
            layers.push(built);
        }
        let residual_in_history = !layers.is_empty()
            && layers
                .iter()
                .all(|l: &Layer| l.fused_front && l.layer1x1.is_some());
        let head_term_channels = config.head_term_channels();
        let head_rechannel = Conv::read(
            ConvSpec {
                cin: head_term_channels,
                cout: config.head.out_channels,
                taps: config.head.kernel_size,
                dilation: config.head.dilation,
                groups: 1,
                bias: config.head.bias,
            },
            cursor,
        )?;
        let head_history = History::new(head_term_channels, head_rechannel.lookback(), max_frames);
        Ok(Self {
            rechannel,
            layers,
            head_out: Planar::new(config.head.out_channels, max_frames),
            head_rechannel,
            head_history,
            channels,
            bottleneck,
            condition_size: cond,
            head_term_channels,
            residual_in_history,
            scratch: Scratch {
                x: Planar::new(channels, max_frames),
                z: Planar::new(mid_max, max_frames),
                mix: Planar::new(mid_max, max_frames),
                film: Planar::new(film_rows, max_frames),
                condition: Planar::new(cond, max_frames),
                term: Planar::new(channels.max(head_term_channels), max_frames),
            },
        })
    }

    fn clear(&mut self) {
        for layer in &mut self.layers {
            layer.history.clear();
        }
        self.head_history.clear();
    }

    fn for_each_history(&mut self, f: &mut dyn FnMut(&mut History)) {
        for layer in &mut self.layers {
            f(&mut layer.history);
        }
        f(&mut self.head_history);
    }

    /// Runs the array on `frames` frames. `input` is `(data, stride)` planar;
    /// `condition` likewise; `head_in` is the previous array's head output.
    /// Leaves the residual in `scratch.x` and the head output in `head_out`.
    fn process(
        &mut self,
        kernels: &Kernels,
        input: (&[f32], usize),
        condition: (&[f32], usize),
        head_in: Option<&Planar>,
        frames: usize,
    ) {
        let n = frames;
        self.head_history.begin(n);
        for c in 0..self.head_term_channels {
            let row = self.head_history.current_mut(c, n);
            match head_in {
                Some(previous) => row.copy_from_slice(previous.row(c, n)),
                None => row.fill(0.0),
            }
        }

        let s = &mut self.scratch;
        let input = (input.0, input.1, 0);
        if self.residual_in_history {
            self.layers[0].history.begin(n);
            let (data, stride, offset) = self.layers[0].history.current_view_mut();
            self.rechannel
                .forward(kernels, input, &mut data[offset..], stride, n);
            for l in 0..self.layers.len() {
                let (layer, next) = self.layers[l..].split_first_mut().expect("layer l");
                process_layer_in_history(
                    kernels,
                    layer,
                    next.first_mut(),
                    s,
                    &mut self.head_history,
                    condition,
                    (self.bottleneck, self.condition_size),
                    n,
                );
            }
        } else {
            let x_stride = s.x.stride;
            self.rechannel
                .forward(kernels, input, &mut s.x.data, x_stride, n);
            for layer in &mut self.layers {
                process_layer(
                    kernels,
                    layer,
                    s,
                    &mut self.head_history,
                    condition,
                    (self.channels, self.bottleneck, self.condition_size),
                    n,
                );
            }
        }

        let head_stride = self.head_out.stride;
        self.head_rechannel.forward(
            kernels,
            self.head_history.conv_input(),
            &mut self.head_out.data,
            head_stride,
            n,
        );
        self.head_history.end(n);
    }
}

fn read_layer(
    array: &LayerArrayConfig,
    layer: &LayerConfig,
    max_frames: usize,
    cursor: &mut WeightCursor,
) -> Result<Layer, BuildError> {
    let mid = array.mid_channels(layer);
    let conv = Conv::read(
        ConvSpec {
            cin: array.channels,
            cout: mid,
            taps: layer.kernel_size,
            dilation: layer.dilation,
            groups: array.groups_input,
            bias: true,
        },
        cursor,
    )?;
    let mixer = Conv::read(
        ConvSpec::pointwise(array.condition_size, mid, array.groups_input_mixin, false),
        cursor,
    )?;
    let layer1x1 = array
        .layer1x1_groups
        .map(|g| {
            Conv::read(
                ConvSpec::pointwise(array.bottleneck, array.channels, g, true),
                cursor,
            )
        })
        .transpose()?;
    let head1x1 = array
        .head1x1
        .map(|h| {
            Conv::read(
                ConvSpec::pointwise(array.bottleneck, h.out_channels, h.groups, true),
                cursor,
            )
        })
        .transpose()?;
    let mut films: [Option<Film>; 8] = Default::default();
    for position in FilmPosition::ALL {
        if let Some(film) = array.film(position) {
            films[position as usize] = Some(Film::read(
                array.condition_size,
                array.film_dim(position, layer),
                film.shift,
                film.groups,
                cursor,
            )?);
        }
    }
    let history = History::new(array.channels, conv.lookback(), max_frames);
    let fused_front = films.iter().all(Option::is_none)
        && matches!(layer.gating, Gating::None)
        && conv.is_dense()
        && mixer.is_dense()
        && conv.bias().is_some();
    Ok(Layer {
        fused_front,
        conv,
        mixer,
        layer1x1,
        head1x1,
        films,
        activation: layer.activation.clone(),
        gating: layer.gating.clone(),
        mid_channels: mid,
        history,
    })
}

/// One fused layer whose input `x` is already in its history's current
/// block: the front half, then `x + layer1x1(a)` written into the next
/// layer's history (or `s.x` after the last layer), then the head sum.
#[allow(clippy::too_many_arguments)]
fn process_layer_in_history(
    kernels: &Kernels,
    layer: &mut Layer,
    next: Option<&mut Layer>,
    s: &mut Scratch,
    head_history: &mut History,
    condition: (&[f32], usize),
    (bottleneck, condition_size): (usize, usize),
    n: usize,
) {
    let layer1x1 = layer.layer1x1.as_ref().expect("checked at build");
    if layer.head1x1.is_none() && layer1x1.is_dense() {
        whole_layer(
            kernels,
            layer,
            next,
            s,
            head_history,
            condition,
            condition_size,
            n,
        );
        return;
    }
    fused_front(
        kernels,
        layer,
        s,
        head_history,
        condition,
        condition_size,
        n,
    );
    let (x, x_stride, x_offset) = layer.history.current_view();
    let residual = Output::AddTo {
        source: &x[x_offset..],
        stride: x_stride,
    };
    let activation_out = (&s.z.data[..], s.z.stride, 0);
    match next {
        Some(next) => {
            next.history.begin(n);
            let (data, stride, offset) = next.history.current_view_mut();
            layer1x1.run(
                kernels,
                residual,
                activation_out,
                &mut data[offset..],
                stride,
                n,
            );
        }
        None => {
            let stride = s.x.stride;
            layer1x1.run(kernels, residual, activation_out, &mut s.x.data, stride, n);
        }
    }
    if layer.head1x1.is_some() {
        head_sum(kernels, layer, s, head_history, condition, bottleneck, n);
    }
    layer.history.end(n);
}

/// A fused layer without a head 1x1, its input already in its history's
/// current block, as one [`Kernels::layer`] call: the residual goes into the
/// next layer's history (or `s.x` after the last layer), the activation into
/// the head.
#[allow(clippy::too_many_arguments)]
fn whole_layer(
    kernels: &Kernels,
    layer: &mut Layer,
    next: Option<&mut Layer>,
    s: &mut Scratch,
    head_history: &mut History,
    condition: (&[f32], usize),
    condition_size: usize,
    n: usize,
) {
    let layer1x1 = layer.layer1x1.as_ref().expect("checked at build");
    let (input, in_stride, first) = layer.history.conv_input();
    let (head_data, head_stride, head_offset) = head_history.current_view_mut();
    let (out, out_stride) = match next {
        Some(next) => {
            next.history.begin(n);
            let (data, stride, offset) = next.history.current_view_mut();
            (&mut data[offset..], stride)
        }
        None => (&mut s.x.data[..], s.x.stride),
    };
    let whole = WaveNetLayer {
        front: LayerFront {
            conv: layer.conv.shape(n, in_stride, first, s.z.stride),
            weights: layer.conv.weights_with_slack(),
            bias: layer.conv.bias().unwrap_or_default(),
            mixer: layer.mixer.weights_with_slack(),
            condition_rows: condition_size,
            condition_stride: condition.1,
            activation: &layer.activation,
            head_stride,
        },
        layer1x1: layer1x1.weights(),
        layer1x1_bias: layer1x1.bias().unwrap_or_default(),
        out_stride,
    };
    (kernels.layer)(
        &whole,
        input,
        condition.0,
        &mut s.z.data,
        &mut head_data[head_offset..],
        out,
    );
    layer.history.end(n);
}

/// One layer on one block: see the data flow in `../shared/fixtures/README.md`.
fn process_layer(
    kernels: &Kernels,
    layer: &mut Layer,
    s: &mut Scratch,
    head_history: &mut History,
    condition: (&[f32], usize),
    (channels, bottleneck, condition_size): (usize, usize, usize),
    n: usize,
) {
    let x_stride = s.x.stride;
    let z_stride = s.z.stride;
    let head_done = if layer.fused_front {
        layer.history.begin(n);
        let (data, stride, offset) = layer.history.current_view_mut();
        for c in 0..channels {
            data[c * stride + offset..][..n].copy_from_slice(s.x.row(c, n));
        }
        fused_front(
            kernels,
            layer,
            s,
            head_history,
            condition,
            condition_size,
            n,
        );
        layer.history.end(n);
        layer.head1x1.is_none()
    } else {
        unfused_front(
            kernels,
            layer,
            s,
            condition,
            (channels, bottleneck, condition_size),
            n,
        );
        false
    };

    // Residual: x += layer1x1(a) (or a itself when the 1x1 is off).
    let activation_out = (&s.z.data[..], z_stride, 0);
    match (&layer.layer1x1, layer.film(FilmPosition::Layer1x1Post)) {
        (Some(conv), None) => conv.accumulate(kernels, activation_out, &mut s.x.data, x_stride, n),
        (Some(conv), Some(film)) => {
            let term_stride = s.term.stride;
            conv.forward(kernels, activation_out, &mut s.term.data, term_stride, n);
            film.apply(
                kernels,
                condition,
                &mut s.term.data,
                term_stride,
                0,
                &mut s.film,
                n,
            );
            add_rows(&mut s.x, &s.term, channels, n);
        }
        (None, _) => add_rows(&mut s.x, &s.z, channels, n),
    }

    if !head_done {
        head_sum(kernels, layer, s, head_history, condition, bottleneck, n);
    }
}

/// Head sum: `head += head1x1(a)` (or `a` itself).
fn head_sum(
    kernels: &Kernels,
    layer: &Layer,
    s: &mut Scratch,
    head_history: &mut History,
    condition: (&[f32], usize),
    bottleneck: usize,
    n: usize,
) {
    let activation_out = (&s.z.data[..], s.z.stride, 0);
    let (head_data, head_stride, head_offset) = head_history.current_view_mut();
    match (&layer.head1x1, layer.film(FilmPosition::Head1x1Post)) {
        (Some(conv), film) => {
            let term_stride = s.term.stride;
            conv.forward(kernels, activation_out, &mut s.term.data, term_stride, n);
            if let Some(film) = film {
                film.apply(
                    kernels,
                    condition,
                    &mut s.term.data,
                    term_stride,
                    0,
                    &mut s.film,
                    n,
                );
            }
            for c in 0..conv.cout() {
                let term = s.term.row(c, n);
                let row = &mut head_data[c * head_stride + head_offset..][..n];
                row.iter_mut().zip(term).for_each(|(h, &t)| *h += t);
            }
        }
        (None, _) => {
            for c in 0..bottleneck {
                let a = s.z.row(c, n);
                let row = &mut head_data[c * head_stride + head_offset..][..n];
                row.iter_mut().zip(a).for_each(|(h, &t)| *h += t);
            }
        }
    }
}

/// The front half as one fused kernel pass, from the layer's history whose
/// current block already holds `x`; the head sum is included when the layer
/// has no head 1x1. The caller ends the history's block.
fn fused_front(
    kernels: &Kernels,
    layer: &Layer,
    s: &mut Scratch,
    head_history: &mut History,
    condition: (&[f32], usize),
    condition_size: usize,
    n: usize,
) {
    let (input, in_stride, first) = layer.history.conv_input();
    let (head_data, head_stride, head_offset) = head_history.current_view_mut();
    let front = LayerFront {
        conv: layer.conv.shape(n, in_stride, first, s.z.stride),
        weights: layer.conv.weights(),
        bias: layer.conv.bias().unwrap_or_default(),
        mixer: layer.mixer.weights(),
        condition_rows: condition_size,
        condition_stride: condition.1,
        activation: &layer.activation,
        head_stride,
    };
    let head = layer
        .head1x1
        .is_none()
        .then(|| &mut head_data[head_offset..]);
    (kernels.layer_front)(&front, input, condition.0, &mut s.z.data, head);
}

/// The front half step by step: convolution, FiLMs, mixer, activation or gating.
fn unfused_front(
    kernels: &Kernels,
    layer: &mut Layer,
    s: &mut Scratch,
    condition: (&[f32], usize),
    (channels, bottleneck, condition_size): (usize, usize, usize),
    n: usize,
) {
    let z_stride = s.z.stride;
    // The convolution input (modulated by conv_pre_film) joins the history.
    layer.history.begin(n);
    {
        let (data, stride, offset) = layer.history.current_view_mut();
        for c in 0..channels {
            data[c * stride + offset..][..n].copy_from_slice(s.x.row(c, n));
        }
        if let Some(film) = &layer.films[FilmPosition::ConvPre as usize] {
            film.apply(kernels, condition, data, stride, offset, &mut s.film, n);
        }
    }
    layer.conv.forward(
        kernels,
        layer.history.conv_input(),
        &mut s.z.data,
        z_stride,
        n,
    );
    layer.history.end(n);
    if let Some(film) = layer.film(FilmPosition::ConvPost) {
        film.apply(
            kernels,
            condition,
            &mut s.z.data,
            z_stride,
            0,
            &mut s.film,
            n,
        );
    }

    // Input mixer, on the condition (modulated by input_mixin_pre_film).
    let mixin_input = match layer.film(FilmPosition::InputMixinPre) {
        Some(film) => {
            s.condition
                .copy_from(condition.0, condition.1, condition_size, n);
            let stride = s.condition.stride;
            film.apply(
                kernels,
                condition,
                &mut s.condition.data,
                stride,
                0,
                &mut s.film,
                n,
            );
            (&s.condition.data[..], stride, 0)
        }
        None => (condition.0, condition.1, 0),
    };
    match layer.film(FilmPosition::InputMixinPost) {
        Some(film) => {
            let mix_stride = s.mix.stride;
            layer
                .mixer
                .forward(kernels, mixin_input, &mut s.mix.data, mix_stride, n);
            film.apply(
                kernels,
                condition,
                &mut s.mix.data,
                mix_stride,
                0,
                &mut s.film,
                n,
            );
            for c in 0..layer.mid_channels {
                let mix = s.mix.row(c, n);
                for (z, &m) in s.z.row_mut(c, n).iter_mut().zip(mix) {
                    *z += m;
                }
            }
        }
        None => layer
            .mixer
            .accumulate(kernels, mixin_input, &mut s.z.data, z_stride, n),
    }

    if let Some(film) = layer.film(FilmPosition::ActivationPre) {
        film.apply(
            kernels,
            condition,
            &mut s.z.data,
            z_stride,
            0,
            &mut s.film,
            n,
        );
    }
    activate(kernels, layer, s, bottleneck, n);
    if let Some(film) = layer.film(FilmPosition::ActivationPost) {
        film.apply(
            kernels,
            condition,
            &mut s.z.data,
            z_stride,
            0,
            &mut s.film,
            n,
        );
    }
}

fn add_rows(target: &mut Planar, source: &Planar, channels: usize, n: usize) {
    for c in 0..channels {
        let src = source.row(c, n);
        target
            .row_mut(c, n)
            .iter_mut()
            .zip(src)
            .for_each(|(y, &x)| *y += x);
    }
}

/// Turns the pre-activation rows of `s.z` into the activation output in rows
/// `0..bottleneck`.
fn activate(kernels: &Kernels, layer: &Layer, s: &mut Scratch, bottleneck: usize, n: usize) {
    let stride = s.z.stride;
    match &layer.gating {
        Gating::None => {
            for c in 0..bottleneck {
                (kernels.activate)(&layer.activation, c, s.z.row_mut(c, n));
            }
        }
        Gating::Gated { secondary } => {
            let (primary_rows, secondary_rows) = s.z.data.split_at_mut(bottleneck * stride);
            for c in 0..bottleneck {
                let a = &mut primary_rows[c * stride..][..n];
                let b = &mut secondary_rows[c * stride..][..n];
                (kernels.activate)(&layer.activation, c, a);
                (kernels.activate)(secondary, c, b);
                a.iter_mut().zip(b.iter()).for_each(|(a, &g)| *a *= g);
            }
        }
        Gating::Blended { secondary } => {
            let (primary_rows, secondary_rows) = s.z.data.split_at_mut(bottleneck * stride);
            for c in 0..bottleneck {
                let a = &mut primary_rows[c * stride..][..n];
                let b = &mut secondary_rows[c * stride..][..n];
                let activated = s.mix.row_mut(c, n);
                activated.copy_from_slice(a);
                (kernels.activate)(&layer.activation, c, activated);
                (kernels.activate)(secondary, c, b);
                for ((a, &p), &blend) in a.iter_mut().zip(activated.iter()).zip(b.iter()) {
                    *a = blend * p + (1.0 - blend) * *a;
                }
            }
        }
    }
}

/// The post-stack head: blocks of activation then convolution.
#[derive(Debug)]
struct PostHead {
    activation: Activation,
    blocks: Vec<(Conv, History)>,
    buffers: [Planar; 2],
}

impl PostHead {
    fn read(
        config: &PostHeadConfig,
        in_channels: usize,
        max_frames: usize,
        cursor: &mut WeightCursor,
    ) -> Result<Self, BuildError> {
        let mut blocks = Vec::new();
        let mut widest = in_channels;
        for (&(cin, cout), &taps) in config
            .block_channels(in_channels)
            .iter()
            .zip(&config.kernel_sizes)
        {
            let conv = Conv::read(
                ConvSpec {
                    cin,
                    cout,
                    taps,
                    dilation: 1,
                    groups: 1,
                    bias: true,
                },
                cursor,
            )?;
            widest = widest.max(cout);
            let history = History::new(cin, conv.lookback(), max_frames);
            blocks.push((conv, history));
        }
        Ok(Self {
            activation: config.activation.clone(),
            blocks,
            buffers: [
                Planar::new(widest, max_frames),
                Planar::new(widest, max_frames),
            ],
        })
    }

    fn clear(&mut self) {
        for (_, history) in &mut self.blocks {
            history.clear();
        }
    }

    fn for_each_history(&mut self, f: &mut dyn FnMut(&mut History)) {
        for (_, history) in &mut self.blocks {
            f(history);
        }
    }

    /// Runs on `buffers[0]` (`in_channels` rows); returns the index of the buffer
    /// holding the output.
    fn process(&mut self, kernels: &Kernels, in_channels: usize, n: usize) -> usize {
        let mut current = 0;
        let mut channels = in_channels;
        for (conv, history) in &mut self.blocks {
            history.begin(n);
            for c in 0..channels {
                let row = history.current_mut(c, n);
                row.copy_from_slice(self.buffers[current].row(c, n));
                (kernels.activate)(&self.activation, c, row);
            }
            let [a, b] = &mut self.buffers;
            let out = if current == 0 { b } else { a };
            let stride = out.stride;
            conv.forward(kernels, history.conv_input(), &mut out.data, stride, n);
            history.end(n);
            channels = conv.cout();
            current = 1 - current;
        }
        current
    }
}

/// Where the layer arrays' condition comes from.
#[derive(Debug)]
enum Condition {
    /// The input signal itself.
    Input,
    /// A nested model's output (`condition_size` channels).
    Dsp { net: Box<Network>, output: Planar },
}

/// A runnable WaveNet.
#[derive(Debug)]
pub(crate) struct WaveNet {
    arrays: Vec<LayerArray>,
    head_scale: f32,
    post_head: Option<PostHead>,
    condition: Condition,
    out_channels: usize,
    receptive_field: usize,
}

impl WaveNet {
    pub(crate) fn build(
        config: &WaveNetConfig,
        weights: &[f32],
        max_frames: usize,
        build_nested: impl Fn(&crate::format::NamFile) -> Result<Network, BuildError>,
    ) -> Result<Self, BuildError> {
        let mut cursor = WeightCursor::new(weights);
        let mut arrays = Vec::with_capacity(config.layer_arrays.len());
        for array in &config.layer_arrays {
            arrays.push(LayerArray::read(array, max_frames, &mut cursor)?);
        }
        let last_head = config
            .layer_arrays
            .last()
            .map_or(1, |a| a.head.out_channels);
        let post_head = config
            .post_head
            .as_ref()
            .map(|h| PostHead::read(h, last_head, max_frames, &mut cursor))
            .transpose()?;
        let head_scale = cursor.scalar()?;
        cursor.finish()?;
        let condition = match &config.condition_dsp {
            None => Condition::Input,
            Some(nested) => {
                let net = build_nested(nested)?;
                let channels = net.out_channels();
                Condition::Dsp {
                    net: Box::new(net),
                    output: Planar::new(channels, max_frames),
                }
            }
        };
        Ok(Self {
            arrays,
            head_scale,
            post_head,
            condition,
            out_channels: config.out_channels(),
            receptive_field: config.receptive_field(),
        })
    }

    pub(crate) fn out_channels(&self) -> usize {
        self.out_channels
    }

    pub(crate) fn receptive_field(&self) -> usize {
        self.receptive_field
    }

    pub(crate) fn clear(&mut self) {
        for array in &mut self.arrays {
            array.clear();
        }
        if let Some(head) = &mut self.post_head {
            head.clear();
        }
        if let Condition::Dsp { net, .. } = &mut self.condition {
            net.clear();
        }
    }

    /// Calls `f` on every history: the layers', the heads', the post-stack
    /// head's and the condition DSP's.
    pub(crate) fn for_each_history(&mut self, f: &mut dyn FnMut(&mut History)) {
        for array in &mut self.arrays {
            array.for_each_history(f);
        }
        if let Some(head) = &mut self.post_head {
            head.for_each_history(f);
        }
        if let Condition::Dsp { net, .. } = &mut self.condition {
            net.for_each_history(f);
        }
    }

    /// Processes `input.len()` frames (at most the build's `max_frames`) into
    /// `out_channels` planar rows of `output`, `out_stride` apart.
    pub(crate) fn process_block(
        &mut self,
        kernels: &Kernels,
        input: &[f32],
        output: &mut [f32],
        out_stride: usize,
    ) {
        let n = input.len();
        let condition: (&[f32], usize) = match &mut self.condition {
            Condition::Input => (input, n),
            Condition::Dsp { net, output } => {
                let stride = output.stride;
                net.process_block(kernels, input, &mut output.data, stride);
                (&output.data, stride)
            }
        };

        for i in 0..self.arrays.len() {
            let (before, rest) = self.arrays.split_at_mut(i);
            let (layer_input, head_in) = match before.last() {
                Some(previous) => (
                    (&previous.scratch.x.data[..], previous.scratch.x.stride),
                    Some(&previous.head_out),
                ),
                None => ((input, n), None),
            };
            rest[0].process(kernels, layer_input, condition, head_in, n);
        }
        let Some(last) = self.arrays.last() else {
            return;
        };
        let (head_out, head_channels) = (&last.head_out, last.head_rechannel.cout());

        match &mut self.post_head {
            None => {
                for c in 0..self.out_channels {
                    let out = &mut output[c * out_stride..][..n];
                    for (y, &h) in out.iter_mut().zip(head_out.row(c, n)) {
                        *y = self.head_scale * h;
                    }
                }
            }
            Some(post) => {
                for c in 0..head_channels {
                    let scaled = head_out.row(c, n);
                    let row = post.buffers[0].row_mut(c, n);
                    for (y, &h) in row.iter_mut().zip(scaled) {
                        *y = self.head_scale * h;
                    }
                }
                let result = post.process(kernels, head_channels, n);
                for c in 0..self.out_channels {
                    output[c * out_stride..][..n].copy_from_slice(post.buffers[result].row(c, n));
                }
            }
        }
    }
}
