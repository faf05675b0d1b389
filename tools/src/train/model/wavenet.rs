//! The WaveNet training model: layer arrays of dilated convolutions (grouped
//! or not) with a bottleneck, an optional residual `layer1x1` and `head1x1`, a
//! head sum and a head rechannel, `head_scale` at the end (the subset
//! `arch::check_wavenet` admits).

use nam_kernel::format::{Gating, LayerConfig, WaveNetConfig};
use tch::{nn, Tensor};

use super::{activation, assign, default_init, flatten};

/// A 1-D convolution with its parameters.
#[derive(Debug)]
struct Conv {
    weight: Tensor,
    bias: Option<Tensor>,
    dilation: i64,
    groups: i64,
}

/// The shape of a convolution.
#[derive(Clone, Copy)]
struct ConvShape {
    cin: usize,
    cout: usize,
    kernel_size: usize,
    dilation: usize,
    groups: usize,
    bias: bool,
}

impl ConvShape {
    /// An ungrouped, undilated convolution of kernel size 1.
    fn pointwise(cin: usize, cout: usize, bias: bool) -> Self {
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
    fn new(path: &nn::Path, shape: ConvShape) -> Self {
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

    /// Valid (unpadded) convolution: `L` in, `L − (k−1)·dilation` out. A
    /// small one (at most [`STACKED_ROWS`] taps × channels, ungrouped) is one
    /// matrix product over the stacked taps; a bigger or grouped one is
    /// libtorch's `conv1d` (oneDNN), faster there (see [`STACKED_ROWS`]).
    fn forward(&self, x: &Tensor) -> Tensor {
        let [cout, cin, k] = self.weight.size()[..] else {
            return x.shallow_clone();
        };
        if self.groups > 1 || cin * k > STACKED_ROWS {
            return x.conv1d(
                &self.weight,
                self.bias.as_ref(),
                [1],
                [0],
                [self.dilation],
                self.groups,
            );
        }
        let len = x.size()[2] - (k - 1) * self.dilation;
        let stacked = if k == 1 {
            x.shallow_clone()
        } else {
            let taps: Vec<Tensor> = (0..k)
                .map(|j| x.narrow(2, j * self.dilation, len))
                .collect();
            Tensor::stack(&taps, 2).reshape([-1, cin * k, len])
        };
        let y = self.weight.reshape([cout, cin * k]).matmul(&stacked);
        match &self.bias {
            Some(b) => y + b.unsqueeze(1),
            None => y,
        }
    }

    /// `residual + conv(x)` for a kernel-size-1 convolution, the residual
    /// added by the matrix product itself (`baddbmm`: forward plus backward
    /// at a third to a half of `conv1d`'s or a product and a sum's time).
    fn forward_onto(&self, x: &Tensor, residual: &Tensor) -> Tensor {
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

    fn params(&self) -> impl Iterator<Item = &Tensor> {
        std::iter::once(&self.weight).chain(self.bias.as_ref())
    }
}

/// Most taps × input channels a convolution computes as a matrix product over
/// its stacked taps rather than with libtorch's `conv1d`. Forward plus
/// backward, batch 16 × 8192, one CPU thread (torch 2.13): at 2 or 4 channels
/// and kernel size 3 the stacked product takes 0.5 to 0.8 of `conv1d`'s time;
/// at 3 channels and kernel size 6 it takes 1.2, at 8 channels and kernel 3 or
/// 6 1.2 to 1.9, at 16 channels 1.9, at 8 channels and kernel 15 3.4.
const STACKED_ROWS: i64 = 12;

/// A layer's dilated convolution plus its input mixer: `conv(h) + mixer(c)`.
fn layer_front(conv: &Conv, mixer: &Conv, h: &Tensor, condition: &Tensor) -> Tensor {
    fused_front(conv, mixer, h, condition).unwrap_or_else(|| {
        let z = conv.forward(h);
        let len = z.size()[2];
        mixer.forward_onto(&tail(condition, len), &z)
    })
}

/// A small layer's dilated convolution plus its input mixer, as one matrix product:
/// the conv's taps and the condition stacked into one matrix (`k·cin + cond`
/// rows) against both weights side by side, then the conv's bias. Two passes
/// over `z` fewer than a product each and their sum. `None` when either is
/// grouped or the convolution is too big to stack (see [`STACKED_ROWS`]).
fn fused_front(conv: &Conv, mixer: &Conv, h: &Tensor, condition: &Tensor) -> Option<Tensor> {
    let [cout, cin, k] = conv.weight.size()[..] else {
        return None;
    };
    if conv.groups > 1 || mixer.groups > 1 || cin * k > STACKED_ROWS {
        return None;
    }
    let [_, rows, 1] = mixer.weight.size()[..] else {
        return None;
    };
    let len = h.size()[2] - (k - 1) * conv.dilation;
    // Rows in (tap, channel) order, the condition last; the weights to match.
    let mut parts: Vec<Tensor> = (0..k)
        .map(|j| h.narrow(2, j * conv.dilation, len))
        .collect();
    parts.push(tail(condition, len));
    let stacked = Tensor::cat(&parts, 1);
    let weight = Tensor::cat(
        &[
            conv.weight.permute([0, 2, 1]).reshape([cout, k * cin]),
            mixer.weight.reshape([cout, rows]),
        ],
        1,
    );
    let z = weight.matmul(&stacked);
    Some(match &conv.bias {
        Some(b) => z + b.unsqueeze(1),
        None => z,
    })
}

#[derive(Debug)]
struct Layer {
    config: LayerConfig,
    conv: Conv,
    mixer: Conv,
    /// `None`: the activation output itself is added to the residual.
    layer1x1: Option<Conv>,
    /// `None`: the activation output itself is added to the head sum.
    head1x1: Option<Conv>,
    bottleneck: i64,
}

#[derive(Debug)]
struct Array {
    rechannel: Conv,
    layers: Vec<Layer>,
    head: Conv,
    /// Receptive field of the layers alone (without the head rechannel).
    layers_rf: i64,
    rf: i64,
}

/// A WaveNet whose parameters are in `.nam` weight order.
#[derive(Debug)]
pub struct WaveNetModel {
    arrays: Vec<Array>,
    head_scale: f64,
    /// Every parameter in export order.
    params: Vec<Tensor>,
}

impl WaveNetModel {
    /// Builds the model; `config` must pass `arch::check_wavenet`.
    pub fn new(path: &nn::Path, config: &WaveNetConfig) -> Self {
        let mut params = Vec::new();
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
                            config: l.clone(),
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
                            bottleneck: a.bottleneck as i64,
                        };
                        // The `.nam` order: conv, mixer, layer1x1, head1x1.
                        let convs = [Some(&layer.conv), Some(&layer.mixer)]
                            .into_iter()
                            .chain([layer.layer1x1.as_ref(), layer.head1x1.as_ref()])
                            .flatten();
                        for conv in convs {
                            params.extend(conv.params().map(Tensor::shallow_clone));
                        }
                        layer
                    })
                    .collect();
                let head = Conv::new(
                    &(&p / "head"),
                    ConvShape {
                        kernel_size: a.head.kernel_size,
                        ..ConvShape::pointwise(
                            a.head_term_channels(),
                            a.head.out_channels,
                            a.head.bias,
                        )
                    },
                );
                params.extend(head.params().map(Tensor::shallow_clone));
                let rf = a.receptive_field() as i64;
                Array {
                    rechannel,
                    layers,
                    head,
                    layers_rf: rf - (a.head.kernel_size as i64 - 1),
                    rf,
                }
            })
            .collect();
        Self {
            arrays,
            head_scale: f64::from(config.head_scale),
            params,
        }
    }

    /// `(batch, samples)` in, `(batch, samples − receptive field + 1)` out.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let condition = x.unsqueeze(1);
        let mut y = condition.shallow_clone();
        let mut head_sum: Option<Tensor> = None;
        for array in &self.arrays {
            let len = y.size()[2];
            let out_len = len - (array.rf - 1);
            let layers_len = len - (array.layers_rf - 1);
            let mut h = array.rechannel.forward(&y);
            let mut sum = head_sum.map(|s| tail(&s, layers_len));
            for layer in &array.layers {
                let z = layer_front(&layer.conv, &layer.mixer, &h, &condition);
                let zlen = z.size()[2];
                let a = gate(layer, &z);
                let residual = tail(&h, zlen);
                h = match &layer.layer1x1 {
                    Some(conv) => conv.forward_onto(&a, &residual),
                    None => residual + &a,
                };
                let term = match &layer.head1x1 {
                    Some(conv) => conv.forward(&tail(&a, layers_len)),
                    None => tail(&a, layers_len),
                };
                sum = Some(match sum {
                    Some(s) => s + term,
                    None => term,
                });
            }
            // `check_wavenet` refuses arrays without layers, so `sum` is set here.
            let s =
                sum.unwrap_or_else(|| Tensor::zeros([1, 1, layers_len], (x.kind(), x.device())));
            head_sum = Some(array.head.forward(&s));
            y = tail(&h, out_len);
        }
        match head_sum {
            Some(s) => (s * self.head_scale).squeeze_dim(1),
            None => y.squeeze_dim(1),
        }
    }

    /// The flat `.nam` weights: every parameter in order, then `head_scale`.
    pub fn export_weights(&self) -> Vec<f32> {
        let mut weights = flatten(&self.params);
        weights.push(self.head_scale as f32);
        weights
    }

    /// The number of `.nam` weights (`head_scale` included).
    pub fn weight_count(&self) -> usize {
        self.params.iter().map(|p| p.numel()).sum::<usize>() + 1
    }

    /// Sets the parameters (and `head_scale`, the last weight) from `.nam` weights.
    pub fn import_weights(&mut self, weights: &[f32]) {
        let used = assign(&mut self.params, weights);
        if let Some(&scale) = weights.get(used) {
            self.head_scale = f64::from(scale);
        }
    }
}

/// The last `len` samples of `(batch, channels, samples)`.
fn tail(x: &Tensor, len: i64) -> Tensor {
    let n = x.size()[2];
    x.narrow(2, n - len, len)
}

/// The layer's activation, gated or blended when the convolution is paired.
fn gate(layer: &Layer, z: &Tensor) -> Tensor {
    let primary = &layer.config.activation;
    match &layer.config.gating {
        Gating::None => activation::apply(primary, z),
        Gating::Gated { secondary } => {
            let a = z.narrow(1, 0, layer.bottleneck);
            let b = z.narrow(1, layer.bottleneck, layer.bottleneck);
            activation::apply(primary, &a) * activation::apply(secondary, &b)
        }
        Gating::Blended { secondary } => {
            let a = z.narrow(1, 0, layer.bottleneck);
            let b = z.narrow(1, layer.bottleneck, layer.bottleneck);
            let s = activation::apply(secondary, &b);
            &s * activation::apply(primary, &a) + (1.0 - &s) * a
        }
    }
}
