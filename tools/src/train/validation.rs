//! Validation ESR as a player hears it: the weights exported into a `.nam`
//! document, built by `nam-kernel` and run over the validation audio.
//!
//! This is the model the file will hold, so the ESR that picks the best epoch
//! and is written into the file is the exported model's own (an LSTM's with
//! the initial state export computes, for instance). It is also cheaper:
//! on the CPU nam-kernel plays a standard WaveNet over 14 s of audio in about
//! a tenth of the time of libtorch's no-grad forward pass (with which
//! validation was 6% of a standard epoch).

use nam_kernel::format::ModelSpec;
use nam_kernel::{BuildError, Model, NamFile};

use super::arch::Architecture;
use super::export;

/// The validation part of the data, scored by [`Validation::esrs`].
pub struct Validation<'a> {
    architecture: &'a Architecture,
    input: &'a [f32],
    target: &'a [f32],
    receptive_field: usize,
}

impl<'a> Validation<'a> {
    /// Scores `architecture`'s weights on `input` against `target` (aligned,
    /// equal lengths), from the receptive field on: the first
    /// `receptive_field − 1` outputs have no full context in the validation
    /// part, as in the NAM trainer's validation.
    pub fn new(architecture: &'a Architecture, input: &'a [f32], target: &'a [f32]) -> Self {
        Self {
            architecture,
            input,
            target,
            receptive_field: architecture.receptive_field(),
        }
    }

    /// The ESR of each played size of `weights` (`.nam` layout): one per
    /// packed submodel, smallest first, or one for a single model. Infinite
    /// when the target is silent.
    ///
    /// # Errors
    /// When nam-kernel cannot build the exported model.
    pub fn esrs(&self, weights: &[f32]) -> Result<Vec<f64>, BuildError> {
        // The rate is not used in playing: the audio is the model's own rate.
        let file = export::nam_file(self.architecture, weights.to_vec(), 48_000.0);
        let sizes = match file.spec {
            ModelSpec::SlimmableContainer { submodels } => {
                submodels.into_iter().map(|s| s.model).collect()
            }
            _ => vec![file],
        };
        sizes.iter().map(|size| self.esr(size)).collect()
    }

    fn esr(&self, file: &NamFile) -> Result<f64, BuildError> {
        let output = play(file, self.input)?;
        let skip = self.receptive_field.saturating_sub(1).min(output.len());
        let (mut error, mut energy) = (0.0_f64, 0.0_f64);
        for (&out, &target) in output[skip..].iter().zip(&self.target[skip..]) {
            error += f64::from(out - target).powi(2);
            energy += f64::from(target).powi(2);
        }
        Ok(if energy > 0.0 {
            error / energy
        } else {
            f64::INFINITY
        })
    }
}

/// `file`'s output for `input`, played by nam-kernel from its start state.
///
/// # Errors
/// When nam-kernel cannot build the model.
pub fn play(file: &NamFile, input: &[f32]) -> Result<Vec<f32>, BuildError> {
    let mut model = Model::build(file, Default::default())?;
    let mut output = vec![0.0_f32; input.len()];
    model.process(input, &mut output);
    Ok(output)
}
