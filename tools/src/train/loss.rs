//! Losses as the NAM trainer offers them: MSE or ESR, an optional pre-emphasized
//! MSE term, and optional multi-resolution STFT terms on the signals as they are
//! and pre-emphasized (auraloss' defaults: spectral convergence plus
//! log-magnitude L1 at three resolutions).

use tch::{Kind, Tensor};

/// The main time-domain loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LossKind {
    /// Mean squared error (the NAM trainer's training loss).
    Mse,
    /// Error-to-signal ratio.
    Esr,
}

/// The loss and its optional terms.
#[derive(Clone, Debug, PartialEq)]
pub struct LossConfig {
    /// The main term.
    pub kind: LossKind,
    /// `(coefficient, weight)` of a pre-emphasized MSE term.
    pub pre_emphasis: Option<(f64, f64)>,
    /// Weight of the multi-resolution STFT term.
    pub mrstft_weight: Option<f64>,
    /// `(coefficient, weight)` of a multi-resolution STFT term on
    /// pre-emphasized signals (the NAM trainer's `pre_emph_mrstft_*`).
    pub pre_emphasis_mrstft: Option<(f64, f64)>,
}

/// `(fft size, hop, window length)` of each resolution (auraloss' defaults).
const RESOLUTIONS: [(i64, i64, i64); 3] = [(1024, 120, 600), (2048, 240, 1200), (512, 50, 240)];

/// Mean squared error.
pub fn mse(pred: &Tensor, target: &Tensor) -> Tensor {
    (pred - target).square().mean(Kind::Float)
}

/// Error-to-signal ratio per batch row, averaged: `mean(|p−t|²) / mean(|t|²)`.
pub fn esr(pred: &Tensor, target: &Tensor) -> Tensor {
    let error = (pred - target).square().mean_dim(-1, false, Kind::Float);
    let energy = target.square().mean_dim(-1, false, Kind::Float);
    (error / energy).mean(Kind::Float)
}

/// First-order pre-emphasis `x[t] − coef·x[t−1]` along the last axis.
pub fn pre_emphasis(x: &Tensor, coef: f64) -> Tensor {
    let n = x.size()[x.dim() - 1];
    x.narrow(-1, 1, n - 1) - x.narrow(-1, 0, n - 1) * coef
}

/// One resolution's STFT terms of a batch: the magnitudes' spectral
/// convergence parts, `Σ|T − P|²` and `Σ|T|²` (whose roots' ratio it is), and
/// the mean `|log T − log P|`.
struct StftTerms {
    error: Tensor,
    target: Tensor,
    log_magnitude: Tensor,
}

/// The terms at each resolution between `(batch, samples)` tensors.
fn stft_terms(pred: &Tensor, target: &Tensor) -> Vec<StftTerms> {
    RESOLUTIONS
        .iter()
        .map(|&(fft, hop, win)| {
            let window = Tensor::hann_window(win, (Kind::Float, pred.device()));
            let magnitude = |x: &Tensor| {
                // Centered frames, as `torch.stft(center=True)`: reflect-pad by half an FFT.
                let padded = x
                    .unsqueeze(1)
                    .reflection_pad1d([fft / 2, fft / 2])
                    .squeeze_dim(1);
                let s = padded.stft(fft, hop, win, Some(&window), false, true, true, false);
                s.abs().square().clamp_min(1e-8).sqrt()
            };
            let (p, t) = (magnitude(pred), magnitude(target));
            StftTerms {
                error: (&t - &p).square().sum(Kind::Float),
                target: t.square().sum(Kind::Float),
                log_magnitude: (t.log() - p.log()).abs().mean(Kind::Float),
            }
        })
        .collect()
}

/// `√error / √target`: a spectral convergence from its sums of squares (a
/// zero error has a zero gradient, as `‖T − P‖`'s in PyTorch).
fn convergence(error: &Tensor, target: &Tensor) -> Tensor {
    error.clamp_min(f64::from(f32::MIN_POSITIVE)).sqrt() / target.sqrt()
}

/// Multi-resolution STFT loss between `(batch, samples)` tensors: at each
/// resolution spectral convergence plus log-magnitude L1, averaged.
pub fn mrstft(pred: &Tensor, target: &Tensor) -> Tensor {
    let total = stft_terms(pred, target)
        .iter()
        .map(|t| convergence(&t.error, &t.target) + &t.log_magnitude)
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| Tensor::zeros([], (Kind::Float, pred.device())));
    total / RESOLUTIONS.len() as f64
}

/// A batch's loss in parts that can be computed on slices of the batch apart
/// (the worker threads of `parallel`). Every term is a mean over the batch but
/// the STFT terms' spectral convergence, `‖T − P‖ / ‖T‖` over the whole batch,
/// which is formed only once every slice's sums of squares are known.
pub struct LossParts {
    /// The mean terms, weighted, times the slice's share of the batch's rows.
    pub means: Tensor,
    /// Each spectral convergence term of the slice.
    pub convergences: Vec<ConvergencePart>,
}

/// A slice's part of one spectral convergence term.
pub struct ConvergencePart {
    /// The term's weight in the loss.
    pub weight: f64,
    /// `Σ|T − P|²` over the slice's STFT magnitudes (with its graph).
    pub error: Tensor,
    /// `Σ|T|²` over the slice's target STFT magnitudes.
    pub target: Tensor,
}

impl ConvergencePart {
    /// The term's contribution to the loss, `weight · √error / √target`, from
    /// the whole batch's sums (zero at a zero error, as in the whole-batch loss).
    pub fn value(weight: f64, error: f64, target: f64) -> f64 {
        if error > 0.0 && target > 0.0 {
            weight * (error / target).sqrt()
        } else {
            0.0
        }
    }

    /// The derivative of the term's contribution to the loss,
    /// `weight · √error / √target`, with respect to `error`, at the whole
    /// batch's sums (zero at a zero error).
    pub fn slope(weight: f64, error: f64, target: f64) -> f64 {
        if error > 0.0 && target > 0.0 {
            weight / (2.0 * error.sqrt() * target.sqrt())
        } else {
            0.0
        }
    }
}

impl LossConfig {
    /// The fewest samples per segment the loss takes: its STFT terms pad
    /// each side by half their largest FFT (`torch.stft(center=True)`),
    /// which needs more samples than that, one more where the signal is
    /// pre-emphasized first; 1 without them.
    pub fn shortest_segment(&self) -> usize {
        let half = RESOLUTIONS.iter().map(|r| r.0).max().unwrap_or(0) as usize / 2;
        match (self.mrstft_weight, self.pre_emphasis_mrstft) {
            (_, Some(_)) => half + 2,
            (Some(_), None) => half + 1,
            (None, None) => 1,
        }
    }

    /// The training loss of a batch.
    pub fn training_loss(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        let parts = self.parts(pred, target, 1.0);
        parts.convergences.iter().fold(parts.means, |loss, c| {
            loss + convergence(&c.error, &c.target) * c.weight
        })
    }

    /// The loss of the rows `pred` and `target` hold, which are `share` of
    /// the batch's rows, in parts (see [`LossParts`]).
    pub fn parts(&self, pred: &Tensor, target: &Tensor, share: f64) -> LossParts {
        let mut means = match self.kind {
            LossKind::Mse => mse(pred, target),
            LossKind::Esr => esr(pred, target),
        };
        if let Some((coef, weight)) = self.pre_emphasis {
            means += mse(&pre_emphasis(pred, coef), &pre_emphasis(target, coef)) * weight;
        }
        let mut convergences = Vec::new();
        let stft_losses = [
            self.mrstft_weight
                .map(|w| (w, pred.shallow_clone(), target.shallow_clone())),
            self.pre_emphasis_mrstft
                .map(|(coef, w)| (w, pre_emphasis(pred, coef), pre_emphasis(target, coef))),
        ];
        for (weight, p, t) in stft_losses.into_iter().flatten() {
            let weight = weight / RESOLUTIONS.len() as f64;
            for terms in stft_terms(&p, &t) {
                means += terms.log_magnitude * weight;
                convergences.push(ConvergencePart {
                    weight,
                    error: terms.error,
                    target: terms.target,
                });
            }
        }
        LossParts {
            means: means * share,
            convergences,
        }
    }
}
