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

/// Multi-resolution STFT loss between `(batch, samples)` tensors.
pub fn mrstft(pred: &Tensor, target: &Tensor) -> Tensor {
    let mut total = Tensor::zeros([], (Kind::Float, pred.device()));
    for (fft, hop, win) in RESOLUTIONS {
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
        let convergence = (&t - &p).norm() / t.norm();
        let log_magnitude = (t.log() - p.log()).abs().mean(Kind::Float);
        total = total + convergence + log_magnitude;
    }
    total / RESOLUTIONS.len() as f64
}

impl LossConfig {
    /// The training loss of a batch.
    pub fn training_loss(&self, pred: &Tensor, target: &Tensor) -> Tensor {
        let mut loss = match self.kind {
            LossKind::Mse => mse(pred, target),
            LossKind::Esr => esr(pred, target),
        };
        if let Some((coef, weight)) = self.pre_emphasis {
            loss += mse(&pre_emphasis(pred, coef), &pre_emphasis(target, coef)) * weight;
        }
        if let Some(weight) = self.mrstft_weight {
            loss += mrstft(pred, target) * weight;
        }
        if let Some((coef, weight)) = self.pre_emphasis_mrstft {
            loss += mrstft(&pre_emphasis(pred, coef), &pre_emphasis(target, coef)) * weight;
        }
        loss
    }
}
