//! The WaveNet training model: layer arrays of dilated convolutions (grouped
//! or not) with a bottleneck, an optional residual `layer1x1` and `head1x1`,
//! FiLMs at any of the eight positions, a head sum and a head rechannel,
//! `head_scale`, then the optional post-stack head, learned PReLU slopes, a
//! nested `condition_dsp` WaveNet whose output is the condition, and
//! slimmable arrays played at a chosen width (the subset `arch::check_wavenet`
//! admits).

use nam_kernel::format::slim::uniform_level;
use nam_kernel::format::{
    Activation, FilmConfig, FilmPosition, Gating, PostHeadConfig, SlimmableConfig, WaveNetConfig,
};
use tch::{nn, Tensor};

use super::activation::{self, Learned};
use super::conv::{Conv, ConvShape};
use super::slim::{Side, Slicing};
use super::{assign, flatten};
use crate::train::arch::InitStrategy;
use crate::train::learned_config;

/// A layer's dilated convolution plus its input mixer: `conv(h) + mixer(c)`.
fn layer_front(conv: &Conv, mixer: &Conv, h: &Tensor, condition: &Tensor) -> Tensor {
    let z = conv.forward(h);
    let len = z.size()[2];
    mixer.forward_onto(&tail(condition, len), &z)
}

#[derive(Debug)]
struct Layer {
    gating: Gating,
    /// The activation (of the first half when gated or blended).
    primary: Learned,
    /// The gate or blend activation (of the second half).
    secondary: Option<Learned>,
    conv: Conv,
    mixer: Conv,
    /// `None`: the activation output itself is added to the residual.
    layer1x1: Option<Conv>,
    /// `None`: the activation output itself is added to the head sum.
    head1x1: Option<Conv>,
    /// The FiLM at each position (indexed by `FilmPosition as usize`).
    films: [Option<Film>; 8],
    bottleneck: i64,
}

impl Layer {
    /// How the layer's dilated convolution, its mixer and its layer 1x1
    /// follow the array's width (the first two's rows twice the width when
    /// the convolution is paired: gated or blended).
    fn slicings(&self) -> [Slicing; 3] {
        let mid = if self.secondary.is_some() {
            Side::Paired
        } else {
            Side::Width
        };
        [
            Slicing {
                rows: mid,
                cols: Side::Width,
            },
            Slicing {
                rows: mid,
                cols: Side::Whole,
            },
            Slicing {
                rows: Side::Width,
                cols: Side::Width,
            },
        ]
    }

    /// The slimmable convolutions, each with how it follows the array's
    /// width. Slimmable layers have no head 1x1 and no FiLM
    /// (`arch::check_wavenet` refuses them, as the trainer does).
    fn slimmable_convs(&self) -> impl Iterator<Item = (&Conv, Slicing)> {
        [Some(&self.conv), Some(&self.mixer), self.layer1x1.as_ref()]
            .into_iter()
            .zip(self.slicings())
            .filter_map(|(conv, slicing)| conv.map(|c| (c, slicing)))
    }

    /// The layer at slimmable width `channels`: its convolutions' first rows
    /// and columns (`nam_kernel::format::slim`), with no gradient into the
    /// next smaller width's (`boosted_from`) where the array boosts.
    fn sliced(&self, channels: i64, boosted_from: Option<i64>) -> Layer {
        let [conv, mixer, layer1x1] = self.slicings();
        Layer {
            gating: self.gating.clone(),
            primary: self.primary.shallow_clone(),
            secondary: self.secondary.as_ref().map(Learned::shallow_clone),
            conv: conv.apply(&self.conv, channels, boosted_from),
            mixer: mixer.apply(&self.mixer, channels, boosted_from),
            layer1x1: self
                .layer1x1
                .as_ref()
                .map(|c| layer1x1.apply(c, channels, boosted_from)),
            head1x1: None,
            films: Default::default(),
            bottleneck: channels,
        }
    }

    /// The FiLM at `position`, if active.
    fn film(&self, position: FilmPosition) -> Option<&Film> {
        self.films[position as usize].as_ref()
    }

    /// `x` modulated by the FiLM at `position`, or `x` itself.
    fn modulate(&self, position: FilmPosition, x: &Tensor, condition: &Tensor) -> Tensor {
        match self.film(position) {
            Some(film) => film.apply(x, condition),
            None => x.shallow_clone(),
        }
    }

    /// The layer on `h`: the next layer's input and this layer's head term
    /// (its last `head_len` samples).
    fn forward(&self, h: &Tensor, condition: &Tensor, head_len: i64) -> (Tensor, Tensor) {
        let z = self.front(h, condition);
        let a = self.modulate(FilmPosition::ActivationPost, &gate(self, &z), condition);
        let residual = tail(h, z.size()[2]);
        let next = match (&self.layer1x1, self.film(FilmPosition::Layer1x1Post)) {
            (Some(conv), None) => conv.forward_onto(&a, &residual),
            (Some(conv), Some(film)) => residual + film.apply(&conv.forward(&a), condition),
            (None, _) => residual + &a,
        };
        let term = match &self.head1x1 {
            Some(conv) => self.modulate(
                FilmPosition::Head1x1Post,
                &conv.forward(&tail(&a, head_len)),
                condition,
            ),
            None => tail(&a, head_len),
        };
        (next, term)
    }

    /// A plain tanh layer's layer 1x1 as it applies to `σ(2z)`, where the
    /// layer can run by [`Layer::forward_by_sigmoid`]: no gate, no FiLM, no
    /// head 1x1, a layer 1x1.
    fn tanh_by_sigmoid(&self) -> Option<Conv> {
        let plain = self.primary.is_tanh()
            && self.secondary.is_none()
            && self.head1x1.is_none()
            && self.films.iter().all(Option::is_none);
        let layer1x1 = self.layer1x1.as_ref().filter(|_| plain)?;
        // W·tanh(z) + b = 2W·σ(2z) + (b − W·1).
        Some(layer1x1.of_affine_input(2.0, -1.0))
    }

    /// [`Layer::forward`] of a plain tanh layer through
    /// `tanh(z) = 2σ(2z) − 1`, the affine parts folded into the
    /// convolutions: the dilated convolution and the mixer scaled by 2, the
    /// given `layer1x1` ([`Layer::tanh_by_sigmoid`]) applied to `σ(2z)`. The
    /// same function as `tanh`, but libtorch's `sigmoid` is its own
    /// vectorized loop while its `tanh` calls MKL's, which on an AMD EPYC
    /// took 6 times as long (4.5 against 0.6 ms for 1.5 M floats, one
    /// thread, torch 2.13): a standard layer's forward and backward 13%
    /// faster. Returns the next layer's input and `σ(2z)` (whole), whose
    /// head term is `2σ(2z) − 1` ([`HeadSum::add_sigmoid`]).
    fn forward_by_sigmoid(
        &self,
        h: &Tensor,
        condition: &Tensor,
        layer1x1: &Conv,
    ) -> (Tensor, Tensor) {
        let s = layer_front(
            &self.conv.scaled(2.0),
            &self.mixer.scaled(2.0),
            h,
            condition,
        )
        .sigmoid();
        let residual = tail(h, s.size()[2]);
        (layer1x1.forward_onto(&s, &residual), s)
    }

    /// The pre-activation `z`: the dilated convolution plus the input mixer,
    /// with the FiLMs up to `activation_pre` where the layer has them (the
    /// order of the NAM trainer's layer).
    fn front(&self, h: &Tensor, condition: &Tensor) -> Tensor {
        if self.films.iter().all(Option::is_none) {
            return layer_front(&self.conv, &self.mixer, h, condition);
        }
        let conv_input = self.modulate(FilmPosition::ConvPre, h, condition);
        let z = self.conv.forward(&conv_input);
        let z = self.modulate(FilmPosition::ConvPost, &z, condition);
        // The mixer and its FiLMs are pointwise: on the condition's last samples only.
        let c = tail(condition, z.size()[2]);
        let mixin_input = self.modulate(FilmPosition::InputMixinPre, &c, &c);
        let mix = self.mixer.forward(&mixin_input);
        let mix = self.modulate(FilmPosition::InputMixinPost, &mix, condition);
        self.modulate(FilmPosition::ActivationPre, &(z + mix), condition)
    }
}

/// Feature-wise linear modulation: `x · scale + shift` (or `x · scale`), the
/// scale and shift rows a 1x1 convolution (with bias) of the condition.
#[derive(Debug)]
struct Film {
    conv: Conv,
    shift: bool,
}

impl Film {
    /// A FiLM of `dim` channels from `condition_size` condition channels.
    fn new(path: &nn::Path, condition_size: usize, dim: usize, config: FilmConfig) -> Self {
        let rows = if config.shift { 2 * dim } else { dim };
        Self {
            conv: Conv::new(
                path,
                ConvShape {
                    groups: config.groups,
                    ..ConvShape::pointwise(condition_size, rows, true)
                },
            ),
            shift: config.shift,
        }
    }

    /// `x` (`(batch, dim, L)`) modulated by the last `L` samples of `condition`.
    fn apply(&self, x: &Tensor, condition: &Tensor) -> Tensor {
        let out = self.conv.forward(&tail(condition, x.size()[2]));
        if self.shift {
            let dim = x.size()[1];
            out.narrow(1, 0, dim) * x + out.narrow(1, dim, dim)
        } else {
            out * x
        }
    }
}

#[derive(Debug)]
struct Array {
    rechannel: Conv,
    layers: Vec<Layer>,
    head: Conv,
    /// Receptive field of the layers alone (without the head rechannel).
    layers_rf: i64,
    rf: i64,
    /// A slimmable array's widths and training options.
    slimmable: Option<SlimmableConfig>,
}

/// How the input rechannel follows a slimmable array's width.
const RECHANNEL: Slicing = Slicing {
    rows: Side::Width,
    cols: Side::Whole,
};
/// How the head rechannel follows a slimmable array's width.
const HEAD: Slicing = Slicing {
    rows: Side::Whole,
    cols: Side::Width,
};

impl Array {
    /// The array as played at size value `value`: a slimmable array at the
    /// width `value` selects (the input rechannel's first rows, each layer
    /// sliced, the head rechannel's first columns; with `boosting`, no
    /// gradient into the next smaller width's weights), any other as it is.
    fn at_size(&self, value: f64) -> Option<Array> {
        let slim = self.slimmable.as_ref()?;
        let allowed = &slim.allowed_channels;
        let level = uniform_level(value, allowed.len());
        let channels = allowed[level] as i64;
        let boosted_from = (slim.boosting && level > 0).then(|| allowed[level - 1] as i64);
        Some(Array {
            rechannel: RECHANNEL.apply(&self.rechannel, channels, boosted_from),
            layers: self
                .layers
                .iter()
                .map(|l| l.sliced(channels, boosted_from))
                .collect(),
            head: HEAD.apply(&self.head, channels, boosted_from),
            layers_rf: self.layers_rf,
            rf: self.rf,
            slimmable: None,
        })
    }

    /// Applies a slimmable array's `init_strategy` to every convolution
    /// that follows its width.
    fn initialize_slimmable(&self, strategy: InitStrategy, allowed: &[usize]) {
        let convs = std::iter::once((&self.rechannel, RECHANNEL))
            .chain(self.layers.iter().flat_map(Layer::slimmable_convs))
            .chain([(&self.head, HEAD)]);
        for (conv, slicing) in convs {
            slicing.initialize(conv, strategy, allowed);
        }
    }
}

/// A WaveNet whose parameters are in `.nam` weight order.
#[derive(Debug)]
pub struct WaveNetModel {
    arrays: Vec<Array>,
    head_scale: f64,
    post_head: Option<PostHead>,
    /// Every parameter in export order.
    params: Vec<Tensor>,
    /// Every PReLU's slopes, in training-weight order (`learned_config`).
    slopes: Vec<Tensor>,
    /// The WaveNet whose output is the condition (else the input is).
    condition_dsp: Option<Box<WaveNetModel>>,
    /// The size value slimmable arrays play at (1: the full size).
    slimming: f64,
}

impl WaveNetModel {
    /// Builds the model; `config` must pass `arch::check_wavenet`.
    pub fn new(path: &nn::Path, config: &WaveNetConfig) -> Self {
        let condition_dsp = learned_config::nested(config)
            .map(|inner| Box::new(WaveNetModel::new(&(path / "condition_dsp"), inner)));
        let mut params = Vec::new();
        let mut slopes = Vec::new();
        let arrays = config
            .layer_arrays
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let p = path / format!("array{i}");
                let rechannel = Conv::new(
                    &(&p / "rechannel"),
                    ConvShape::pointwise(a.input_size, a.channels, false),
                );
                params.extend(rechannel.params().map(Tensor::shallow_clone));
                let layers = a
                    .layers
                    .iter()
                    .enumerate()
                    .map(|(j, l)| {
                        let lp = &p / format!("layer{j}");
                        let mid = a.mid_channels(l);
                        let layer = Layer {
                            gating: l.gating.clone(),
                            primary: Learned::new(&(&lp / "activation"), &l.activation),
                            secondary: learned_config::secondary(&l.gating)
                                .map(|a| Learned::new(&(&lp / "secondary_activation"), a)),
                            conv: Conv::new(
                                &(&lp / "conv"),
                                ConvShape {
                                    cin: a.channels,
                                    cout: mid,
                                    kernel_size: l.kernel_size,
                                    dilation: l.dilation,
                                    groups: a.groups_input,
                                    bias: true,
                                },
                            ),
                            mixer: Conv::new(
                                &(&lp / "mixer"),
                                ConvShape {
                                    groups: a.groups_input_mixin,
                                    ..ConvShape::pointwise(a.condition_size, mid, false)
                                },
                            ),
                            layer1x1: a.layer1x1_groups.map(|groups| {
                                Conv::new(
                                    &(&lp / "layer1x1"),
                                    ConvShape {
                                        groups,
                                        ..ConvShape::pointwise(a.bottleneck, a.channels, true)
                                    },
                                )
                            }),
                            head1x1: a.head1x1.map(|h| {
                                Conv::new(
                                    &(&lp / "head1x1"),
                                    ConvShape {
                                        groups: h.groups,
                                        ..ConvShape::pointwise(a.bottleneck, h.out_channels, true)
                                    },
                                )
                            }),
                            films: FilmPosition::ALL.map(|position| {
                                a.film(position).map(|film| {
                                    Film::new(
                                        &(&lp / position.key()),
                                        a.condition_size,
                                        a.film_dim(position, l),
                                        film,
                                    )
                                })
                            }),
                            bottleneck: a.bottleneck as i64,
                        };
                        // The `.nam` order: conv, mixer, layer1x1, head1x1, the FiLMs.
                        let convs = [Some(&layer.conv), Some(&layer.mixer)]
                            .into_iter()
                            .chain([layer.layer1x1.as_ref(), layer.head1x1.as_ref()])
                            .chain(layer.films.iter().map(|f| f.as_ref().map(|f| &f.conv)))
                            .flatten();
                        for conv in convs {
                            params.extend(conv.params().map(Tensor::shallow_clone));
                        }
                        let activations = std::iter::once(&layer.primary).chain(&layer.secondary);
                        slopes.extend(
                            activations
                                .filter_map(Learned::slopes)
                                .map(Tensor::shallow_clone),
                        );
                        layer
                    })
                    .collect();
                let head = Conv::new(
                    &(&p / "head"),
                    ConvShape {
                        kernel_size: a.head.kernel_size,
                        dilation: a.head.dilation,
                        ..ConvShape::pointwise(
                            a.head_term_channels(),
                            a.head.out_channels,
                            a.head.bias,
                        )
                    },
                );
                params.extend(head.params().map(Tensor::shallow_clone));
                let rf = a.receptive_field() as i64;
                let array = Array {
                    rechannel,
                    layers,
                    head,
                    layers_rf: rf - a.head.lookback() as i64,
                    rf,
                    slimmable: a.slimmable.clone(),
                };
                if let Some(slim) = &a.slimmable {
                    // `arch::check_wavenet` admits only strategies that parse.
                    let strategy = slim.init_strategy.as_deref().map(InitStrategy::parse);
                    if let Some(Ok(strategy)) = strategy {
                        array.initialize_slimmable(strategy, &slim.allowed_channels);
                    }
                }
                array
            })
            .collect();
        let post_head = config.post_head.as_ref().map(|head| {
            let last = config
                .layer_arrays
                .last()
                .map_or(1, |a| a.head.out_channels);
            let post_head = PostHead::new(&(path / "post_head"), head, last);
            for conv in &post_head.convs {
                params.extend(conv.params().map(Tensor::shallow_clone));
            }
            post_head
        });
        Self {
            arrays,
            head_scale: f64::from(config.head_scale),
            post_head,
            params,
            slopes,
            condition_dsp,
            slimming: 1.0,
        }
    }

    /// Plays slimmable arrays at size value `value` from now on (the NAM
    /// trainer's `set_slimming`: `allowed_channels` entry
    /// `min(floor(value · n), n − 1)`).
    pub fn set_slimming(&mut self, value: f64) {
        self.slimming = value;
    }

    /// Whether any layer array is slimmable.
    pub fn is_slimmable(&self) -> bool {
        self.arrays.iter().any(|a| a.slimmable.is_some())
    }

    /// `(batch, samples)` in, `(batch, samples − receptive field + 1)` out.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_channels(x).squeeze_dim(1)
    }

    /// `(batch, samples)` in, `(batch, out channels, samples − receptive
    /// field + 1)` out. With a condition DSP the layers see the input's last
    /// samples, as many as the condition has (the NAM trainer's alignment).
    fn forward_channels(&self, x: &Tensor) -> Tensor {
        let input = x.unsqueeze(1);
        let condition = match &self.condition_dsp {
            Some(dsp) => dsp.forward_channels(x),
            None => input.shallow_clone(),
        };
        let mut y = tail(&input, condition.size()[2]);
        let mut head_sum: Option<Tensor> = None;
        for full in &self.arrays {
            let sliced = full.at_size(self.slimming);
            let array = sliced.as_ref().unwrap_or(full);
            let len = y.size()[2];
            let out_len = len - (array.rf - 1);
            let layers_len = len - (array.layers_rf - 1);
            let mut h = array.rechannel.forward(&y);
            let mut sum = HeadSum {
                plain: head_sum.map(|s| tail(&s, layers_len)),
                ..HeadSum::default()
            };
            for layer in &array.layers {
                h = match layer.tanh_by_sigmoid() {
                    Some(layer1x1) => {
                        let (h, s) = layer.forward_by_sigmoid(&h, &condition, &layer1x1);
                        sum.add_sigmoid(tail(&s, layers_len));
                        h
                    }
                    None => {
                        let (h, term) = layer.forward(&h, &condition, layers_len);
                        sum.add(term);
                        h
                    }
                };
            }
            // `check_wavenet` refuses arrays without layers, so `sum` is set here.
            let s = sum
                .total()
                .unwrap_or_else(|| Tensor::zeros([1, 1, layers_len], (x.kind(), x.device())));
            head_sum = Some(array.head.forward(&s));
            y = tail(&h, out_len);
        }
        let out = match head_sum {
            Some(s) => s * self.head_scale,
            None => y,
        };
        match &self.post_head {
            Some(head) => head.forward(&out),
            None => out,
        }
    }

    /// The training weights (`learned_config`): the `.nam` weights (every
    /// parameter in order, then `head_scale`), the PReLU slopes, the
    /// condition DSP's.
    pub fn export_weights(&self) -> Vec<f32> {
        let mut weights = flatten(&self.params);
        weights.push(self.head_scale as f32);
        if !self.slopes.is_empty() {
            weights.extend(flatten(&self.slopes));
        }
        if let Some(dsp) = &self.condition_dsp {
            weights.extend(dsp.export_weights());
        }
        weights
    }

    /// The number of training weights.
    pub fn weight_count(&self) -> usize {
        let numel = |tensors: &[Tensor]| tensors.iter().map(Tensor::numel).sum::<usize>();
        numel(&self.params)
            + 1
            + numel(&self.slopes)
            + self
                .condition_dsp
                .as_ref()
                .map_or(0, |dsp| dsp.weight_count())
    }

    /// Sets the parameters, `head_scale`, the slopes and the condition DSP's
    /// from training weights.
    pub fn import_weights(&mut self, weights: &[f32]) {
        let used = assign(&mut self.params, weights);
        let Some((&scale, rest)) = weights[used..].split_first() else {
            return;
        };
        self.head_scale = f64::from(scale);
        let used = assign(&mut self.slopes, rest);
        if let Some(dsp) = &mut self.condition_dsp {
            dsp.import_weights(&rest[used..]);
        }
    }
}

/// The post-stack head: per block the activation, then a convolution with bias.
#[derive(Debug)]
struct PostHead {
    activation: Activation,
    convs: Vec<Conv>,
}

impl PostHead {
    /// The head's blocks after a last array of `in_channels` head channels.
    fn new(path: &nn::Path, config: &PostHeadConfig, in_channels: usize) -> Self {
        let convs = config
            .block_channels(in_channels)
            .into_iter()
            .zip(&config.kernel_sizes)
            .enumerate()
            .map(|(i, ((cin, cout), &kernel_size))| {
                Conv::new(
                    &(path / format!("block{i}")),
                    ConvShape {
                        kernel_size,
                        ..ConvShape::pointwise(cin, cout, true)
                    },
                )
            })
            .collect();
        Self {
            activation: config.activation.clone(),
            convs,
        }
    }

    /// `(batch, channels, L)` in, `(batch, out_channels, L − receptive field + 1)` out.
    fn forward(&self, x: &Tensor) -> Tensor {
        self.convs.iter().fold(x.shallow_clone(), |y, conv| {
            conv.forward(&activation::apply(&self.activation, &y))
        })
    }
}

/// An array's head sum: the terms as they come, and those of layers run by
/// [`Layer::forward_by_sigmoid`] as `σ(2z)`, made into `2σ(2z) − 1` once
/// at the end (one pass instead of one per layer).
#[derive(Default)]
struct HeadSum {
    plain: Option<Tensor>,
    sigmoids: Option<Tensor>,
    sigmoid_terms: usize,
}

impl HeadSum {
    /// Adds a head term.
    fn add(&mut self, term: Tensor) {
        self.plain = Some(sum_onto(self.plain.take(), term));
    }

    /// Adds the head term `2s − 1` of `s = σ(2z)`.
    fn add_sigmoid(&mut self, s: Tensor) {
        self.sigmoids = Some(sum_onto(self.sigmoids.take(), s));
        self.sigmoid_terms += 1;
    }

    /// The sum of every term added, if any.
    fn total(self) -> Option<Tensor> {
        let tanhs = self.sigmoids.map(|s| s * 2.0 - self.sigmoid_terms as f64);
        match (self.plain, tanhs) {
            (Some(p), Some(t)) => Some(p + t),
            (p, t) => p.or(t),
        }
    }
}

/// `term` added to `sum`, or `term` when there is no sum yet.
fn sum_onto(sum: Option<Tensor>, term: Tensor) -> Tensor {
    match sum {
        Some(s) => s + term,
        None => term,
    }
}

/// The last `len` samples of `(batch, channels, samples)`.
fn tail(x: &Tensor, len: i64) -> Tensor {
    let n = x.size()[2];
    x.narrow(2, n - len, len)
}

/// The layer's activation, gated or blended when the convolution is paired.
fn gate(layer: &Layer, z: &Tensor) -> Tensor {
    let Some(secondary) = &layer.secondary else {
        return layer.primary.apply(z);
    };
    let a = z.narrow(1, 0, layer.bottleneck);
    let b = z.narrow(1, layer.bottleneck, layer.bottleneck);
    let s = secondary.apply(&b);
    match layer.gating {
        Gating::Blended { .. } => &s * layer.primary.apply(&a) + (1.0 - &s) * a,
        _ => layer.primary.apply(&a) * s,
    }
}
