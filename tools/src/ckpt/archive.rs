//! A `torch.save` archive (what a Lightning `.ckpt` is): a zip holding
//! `<prefix>/data.pkl` (the pickle) and `<prefix>/data/<key>` (one entry per
//! storage, little-endian). Reads the checkpoint's `state_dict` (every tensor
//! as `f32` values in row-major order) and its `hyper_parameters` if any.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use serde_json::Value;
use zip::ZipArchive;

use super::pickle::{DType, Object, Pickle, TensorRef};
use super::ImportError;

/// The largest entry read from an archive (a NAM model's checkpoint is a few
/// megabytes at most).
const MAX_ENTRY_BYTES: u64 = 1 << 30;

/// A tensor of the state_dict, values converted to `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Size per dimension.
    pub shape: Vec<usize>,
    /// Values in row-major order.
    pub values: Vec<f32>,
}

/// What the import needs from a checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    /// The state_dict's tensors in their order.
    pub state_dict: Vec<(String, Tensor)>,
    /// `hyper_parameters` as JSON, when the checkpoint has them.
    pub hyper_parameters: Option<Value>,
}

impl Checkpoint {
    /// Reads a checkpoint from the bytes of a `.ckpt` file; `file` names it in
    /// errors.
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Checkpoint, ImportError> {
        let err = |problem: String| ImportError::Checkpoint {
            file: file.to_owned(),
            problem,
        };
        let mut zip = ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| err(format!("not a PyTorch checkpoint (a zip archive): {e}")))?;
        let pickle_name = zip
            .file_names()
            .filter_map(Result::ok)
            .find(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
            .map(|n| n.into_owned())
            .ok_or_else(|| err("the archive has no data.pkl: not a torch.save file".into()))?;
        let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();
        if let Ok(order) = read_entry(&mut zip, &format!("{prefix}byteorder")) {
            if order != b"little" {
                return Err(err("the tensors are stored big-endian".into()));
            }
        }
        let pickle_bytes = read_entry(&mut zip, &pickle_name).map_err(err)?;
        let pickle =
            Pickle::parse(&pickle_bytes).map_err(|e| err(format!("{pickle_name}: {e}")))?;
        let root = pickle.root();
        let state = pickle.dict_get(root, "state_dict").ok_or_else(|| {
            err(format!(
                "no state_dict in the checkpoint (its root is {}): not a Lightning checkpoint",
                pickle.kind(root)
            ))
        })?;
        let Object::Dict(items) = pickle.get(state) else {
            return Err(err(format!(
                "the state_dict is {}, not a dict",
                pickle.kind(state)
            )));
        };
        let mut storages = HashMap::new();
        let mut state_dict = Vec::with_capacity(items.len());
        for &(key, value) in items {
            let Object::Str(name) = pickle.get(key) else {
                return Err(err(format!("a state_dict key is {}", pickle.kind(key))));
            };
            let Object::Tensor(tensor) = pickle.get(value) else {
                return Err(err(format!(
                    "state_dict entry '{name}' is {}, not a tensor",
                    pickle.kind(value)
                )));
            };
            let values = read_tensor(&mut zip, &prefix, tensor, &mut storages)
                .map_err(|problem| err(format!("tensor '{name}': {problem}")))?;
            state_dict.push((
                name.clone(),
                Tensor {
                    shape: tensor.shape.clone(),
                    values,
                },
            ));
        }
        let hyper_parameters = pickle
            .dict_get(root, "hyper_parameters")
            .map(|id| pickle.to_json(id, 64))
            .transpose()
            .map_err(|e| err(format!("hyper_parameters: {e}")))?;
        Ok(Checkpoint {
            state_dict,
            hyper_parameters,
        })
    }
}

/// One entry's bytes, refused past [`MAX_ENTRY_BYTES`].
fn read_entry(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>, String> {
    let entry = zip
        .by_name(name)
        .map_err(|e| format!("archive entry {name}: {e}"))?;
    if entry.size() > MAX_ENTRY_BYTES {
        return Err(format!("archive entry {name} is larger than 1 GiB"));
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_ENTRY_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("archive entry {name}: {e}"))?;
    Ok(bytes)
}

/// A tensor's elements as `f32`, in row-major order.
fn read_tensor(
    zip: &mut ZipArchive<Cursor<&[u8]>>,
    prefix: &str,
    tensor: &TensorRef,
    storages: &mut HashMap<String, Vec<u8>>,
) -> Result<Vec<f32>, String> {
    let storage = &tensor.storage;
    if !storages.contains_key(&storage.key) {
        let bytes = read_entry(zip, &format!("{prefix}data/{}", storage.key))?;
        storages.insert(storage.key.clone(), bytes);
    }
    let bytes = &storages[&storage.key];
    let size = storage.dtype.size();
    if (bytes.len() / size) < storage.len {
        return Err(format!(
            "its storage holds {} bytes, fewer than its {} elements",
            bytes.len(),
            storage.len
        ));
    }
    // No more elements than the storage holds (a view that repeats elements
    // is not a weight), which bounds the work by the file's size.
    let count: usize = tensor.shape.iter().product();
    if count > storage.len {
        return Err(format!(
            "it views {count} elements of a storage of {}",
            storage.len
        ));
    }
    let mut values = Vec::with_capacity(count);
    let mut index = vec![0_usize; tensor.shape.len()];
    for _ in 0..count {
        // In bounds: the pickle reader checked the view against storage.len.
        let element: usize = tensor.offset
            + index
                .iter()
                .zip(&tensor.stride)
                .map(|(i, s)| i * s)
                .sum::<usize>();
        let b = &bytes[element * size..(element + 1) * size];
        values.push(to_f32(storage.dtype, b)?);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < tensor.shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Ok(values)
}

/// One little-endian element as `f32` (floats, bools and ints of the
/// buffers a NAM model holds).
fn to_f32(dtype: DType, b: &[u8]) -> Result<f32, String> {
    Ok(match dtype {
        DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DType::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        DType::Bool | DType::U8 => f32::from(b[0]),
        DType::I64 => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32,
        DType::F16 | DType::BF16 | DType::I16 | DType::I8 => {
            return Err(format!(
                "its element type {dtype:?} is not read (float32 and float64 weights are)"
            ))
        }
    })
}
