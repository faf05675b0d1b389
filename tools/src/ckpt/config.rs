//! Reading the NAM trainer's model config (JSON): typed fields with the
//! trainer's defaults, each error naming the field's path.

use serde_json::{Map, Value};

/// A JSON object of the config and its path (`net.config.layers_configs[0]`).
#[derive(Clone)]
pub struct Section<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

/// A config problem: the field's path and what is wrong.
pub type ConfigResult<T> = Result<T, String>;

impl<'a> Section<'a> {
    /// `value` as a section at `path`.
    pub fn new(value: &'a Value, path: impl Into<String>) -> ConfigResult<Self> {
        let path = path.into();
        match value {
            Value::Object(map) => Ok(Section { map, path }),
            _ => Err(format!("{path}: expected an object")),
        }
    }

    /// The section's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The object field `key` as a section, `None` when absent or null.
    pub fn section(&self, key: &str) -> ConfigResult<Option<Section<'a>>> {
        self.get(key)
            .map(|v| Section::new(v, format!("{}.{key}", self.path)))
            .transpose()
    }

    /// A field, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A required field.
    pub fn required(&self, key: &str) -> ConfigResult<&'a Value> {
        self.get(key)
            .ok_or_else(|| format!("{}.{key}: missing", self.path))
    }

    /// A non-negative integer field, or `default` when absent.
    pub fn usize_or(&self, key: &str, default: usize) -> ConfigResult<usize> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => self.as_usize(key, v),
        }
    }

    /// A required non-negative integer field.
    pub fn usize(&self, key: &str) -> ConfigResult<usize> {
        self.as_usize(key, self.required(key)?)
    }

    /// A positive integer field, or `default` when absent.
    pub fn positive_or(&self, key: &str, default: usize) -> ConfigResult<usize> {
        match self.usize_or(key, default)? {
            0 => Err(format!("{}.{key}: must be at least 1", self.path)),
            n => Ok(n),
        }
    }

    fn as_usize(&self, key: &str, v: &Value) -> ConfigResult<usize> {
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= 1 << 20)
            .ok_or_else(|| {
                format!(
                    "{}.{key}: expected an integer from 0 to 2^20, found {v}",
                    self.path
                )
            })
    }

    /// A bool field, or `default` when absent.
    pub fn bool_or(&self, key: &str, default: bool) -> ConfigResult<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(format!(
                "{}.{key}: expected true or false, found {v}",
                self.path
            )),
        }
    }

    /// An integer or a list of integers, broadcast to `n` entries.
    pub fn usize_per_layer(&self, key: &str, n: usize) -> ConfigResult<Vec<usize>> {
        let value = self.required(key)?;
        match value {
            Value::Array(items) if items.len() == n => {
                items.iter().map(|v| self.as_usize(key, v)).collect()
            }
            Value::Array(items) => Err(format!(
                "{}.{key}: {} entries for {n} layers",
                self.path,
                items.len()
            )),
            v => Ok(vec![self.as_usize(key, v)?; n]),
        }
    }

    /// A required list of non-negative integers.
    pub fn usize_list(&self, key: &str) -> ConfigResult<Vec<usize>> {
        match self.required(key)? {
            Value::Array(items) => items.iter().map(|v| self.as_usize(key, v)).collect(),
            v => Err(format!(
                "{}.{key}: expected a list of integers, found {v}",
                self.path
            )),
        }
    }

    /// Refuses a field the import does not handle when it is set.
    pub fn refuse(&self, key: &str, why: &str) -> ConfigResult<()> {
        match self.get(key) {
            Some(_) => Err(format!("{}.{key}: {why}", self.path)),
            None => Ok(()),
        }
    }
}
