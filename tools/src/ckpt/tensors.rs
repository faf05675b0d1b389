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
        }
    }

    fn error(&self, tensor: &str, problem: impl Into<String>) -> ImportError {
        ImportError::Tensor {
            file: self.file.to_owned(),
            tensor: tensor.to_owned(),
            problem: problem.into(),
        }
    }

    /// The values of `_net.<name>`, which must have `shape`.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<&'a [f32], ImportError> {
        let full = format!("{PREFIX}{name}");
        let (&key, &tensor) = self
            .by_name
            .get_key_value(full.as_str())
            .ok_or_else(|| self.error(&full, "missing from the checkpoint's state_dict"))?;
        if tensor.shape != shape {
            return Err(self.error(
                &full,
                format!("has shape {:?}; the config needs {shape:?}", tensor.shape),
            ));
        }
        self.taken.insert(key);
        Ok(&tensor.values)
    }

    /// Like [`Tensors::take`], for a tensor that may be absent.
    pub fn take_if_present(
        &mut self,
        name: &str,
        shape: &[usize],
    ) -> Result<Option<&'a [f32]>, ImportError> {
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
