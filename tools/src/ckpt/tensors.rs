//! The state_dict as the architectures consume it: each tensor taken by name
//! with the shape the config implies, and at the end every tensor not taken
//! reported, so a checkpoint that does not match its config is refused with
//! the tensor named.

use std::collections::{HashMap, HashSet};

use super::archive::Tensor;
use super::ImportError;

/// The model's tensors (state_dict keys below `_net.`, the LightningModule's
/// model).
pub struct Tensors<'a> {
    file: &'a str,
    by_name: HashMap<&'a str, &'a Tensor>,
    order: Vec<&'a str>,
    taken: HashSet<&'a str>,
    packing: Option<Packing>,
}

/// Reading one submodel out of a PackedWaveNet: each of its convolutions is
/// one block-diagonal tensor whose output channels (and, unless every
/// submodel reads the same input, input channels) are the submodels' in
/// order. A submodel asks for its own shapes; the block starts where the
/// previous submodels' blocks of that tensor ended.
struct Packing {
    /// The submodel being read.
    submodel: usize,
    /// Per tensor: the submodel the next block belongs to and its output and
    /// input offsets.
    next_block: HashMap<String, (usize, [usize; 2])>,
}

/// The LightningModule's attribute holding the model.
const PREFIX: &str = "_net.";

impl<'a> Tensors<'a> {
    /// The tensors of a state_dict; `file` names the checkpoint in errors.
    pub fn new(file: &'a str, state_dict: &'a [(String, Tensor)]) -> Self {
        Tensors {
            file,
            by_name: state_dict.iter().map(|(n, t)| (n.as_str(), t)).collect(),
            order: state_dict.iter().map(|(n, _)| n.as_str()).collect(),
            taken: HashSet::new(),
            packing: None,
        }
    }

    /// From now on, [`Tensors::take`] reads submodel `index` of a packed
    /// model: the submodels must be read in order, each asking for every
    /// tensor of its structure.
    pub fn read_packed_submodel(&mut self, index: usize) {
        let packing = self.packing.get_or_insert_with(|| Packing {
            submodel: 0,
            next_block: HashMap::new(),
        });
        packing.submodel = index;
    }

    fn error(&self, tensor: &str, problem: impl Into<String>) -> ImportError {
        ImportError::Tensor {
            file: self.file.to_owned(),
            tensor: tensor.to_owned(),
            problem: problem.into(),
        }
    }

    /// The values of `_net.<name>`, which must have `shape` (in a packed
    /// model: the current submodel's block of it).
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ImportError> {
        let full = format!("{PREFIX}{name}");
        let (&key, &tensor) = self
            .by_name
            .get_key_value(full.as_str())
            .ok_or_else(|| self.error(&full, "missing from the checkpoint's state_dict"))?;
        self.taken.insert(key);
        if tensor.shape == shape && (self.packing.is_none() || shape.is_empty()) {
            return Ok(tensor.values.clone());
        }
        let wrong_shape = |t: &Self| {
            t.error(
                &full,
                format!("has shape {:?}; the config needs {shape:?}", tensor.shape),
            )
        };
        let Some(packing) = &self.packing else {
            return Err(wrong_shape(self));
        };
        let (submodel, [out_at, in_at]) =
            packing.next_block.get(key).copied().unwrap_or((0, [0, 0]));
        if submodel != packing.submodel {
            let reading = packing.submodel;
            return Err(self.error(
                &full,
                format!(
                    "read for packed submodel {reading} while the next block is submodel {submodel}'s"
                ),
            ));
        }
        let block = match (tensor.shape.as_slice(), shape) {
            (&[rows], &[out]) => (out_at + out <= rows)
                .then(|| (tensor.values[out_at..out_at + out].to_vec(), [out, 0])),
            (&[rows, cols, taps], &[out, inputs, k]) if taps == k && out_at + out <= rows => {
                // Every submodel reads the same inputs (the first rechannel,
                // the condition mixer) when the tensor has exactly theirs.
                let (from, advance) = if cols == inputs {
                    (0, 0)
                } else {
                    (in_at, inputs)
                };
                (from + inputs <= cols).then(|| {
                    let mut values = Vec::with_capacity(out * inputs * k);
                    for row in out_at..out_at + out {
                        let start = (row * cols + from) * k;
                        values.extend(&tensor.values[start..start + inputs * k]);
                    }
                    (values, [out, advance])
                })
            }
            _ => None,
        };
        let Some((values, [out, inputs])) = block else {
            return Err(wrong_shape(self));
        };
        let packing = self.packing.as_mut().expect("checked above");
        packing.next_block.insert(
            key.to_owned(),
            (submodel + 1, [out_at + out, in_at + inputs]),
        );
        Ok(values)
    }

    /// Like [`Tensors::take`], for a tensor that may be absent.
    pub fn take_if_present(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<Option<Vec<f32>>, ImportError> {
        if self
            .by_name
            .contains_key(format!("{PREFIX}{name}").as_str())
        {
            self.take(name, shape).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Marks `_net.<name>` as used without reading it (a state the export
    /// does not write, such as a batch norm's step count).
    pub fn skip(&mut self, name: &str) {
        if let Some((&key, _)) = self
            .by_name
            .get_key_value(format!("{PREFIX}{name}").as_str())
        {
            self.taken.insert(key);
        }
    }

    /// Marks every `_net.…<suffix>` tensor as used without reading it (the
    /// masks a packed model keeps beside its weights).
    pub fn skip_every(&mut self, suffix: &str) {
        for &name in &self.order {
            if name.starts_with(PREFIX) && name.ends_with(suffix) {
                self.taken.insert(name);
            }
        }
    }

    /// Refuses a checkpoint with a tensor no part of the config accounts for.
    pub fn finish(self) -> Result<(), ImportError> {
        match self.order.iter().find(|n| !self.taken.contains(*n)) {
            Some(extra) => Err(self.error(
                extra,
                "is in the checkpoint but not in the model the config describes",
            )),
            None => Ok(()),
        }
    }
}
