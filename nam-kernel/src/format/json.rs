//! Typed access to a `serde_json::Value` that remembers where it is, so every
//! error names the exact field (`config.layers[0].dilations[3]`).

use serde_json::{Map, Value};

use crate::error::{FieldPath, FormatError};

/// A JSON value together with its path in the document.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub(crate) value: &'a Value,
    pub(crate) path: FieldPath,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value, name: &str) -> Self {
        Self {
            value,
            path: FieldPath::root(name),
        }
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> FormatError {
        self.path.invalid(message)
    }

    fn object(&self) -> Result<&'a Map<String, Value>, FormatError> {
        self.value
            .as_object()
            .ok_or_else(|| self.invalid(format!("expected an object, found {}", kind(self.value))))
    }

    /// The field `key`, or `None` when absent or `null`.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Node<'a>>, FormatError> {
        let object = self.object()?;
        Ok(match object.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(Node {
                value,
                path: self.path.key(key),
            }),
        })
    }

    /// The field `key`; absent or `null` is an error.
    pub(crate) fn req(&self, key: &str) -> Result<Node<'a>, FormatError> {
        self.get(key)?.ok_or_else(|| self.path.key(key).missing())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.value
            .as_object()
            .is_some_and(|o| o.get(key).is_some_and(|v| !v.is_null()))
    }

    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>, FormatError> {
        let array = self.value.as_array().ok_or_else(|| {
            self.invalid(format!("expected an array, found {}", kind(self.value)))
        })?;
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: self.path.index(i),
            })
            .collect())
    }

    pub(crate) fn is_array(&self) -> bool {
        self.value.is_array()
    }

    pub(crate) fn as_str(&self) -> Result<&'a str, FormatError> {
        self.value
            .as_str()
            .ok_or_else(|| self.invalid(format!("expected a string, found {}", kind(self.value))))
    }

    pub(crate) fn as_bool(&self) -> Result<bool, FormatError> {
        self.value.as_bool().ok_or_else(|| {
            self.invalid(format!(
                "expected true or false, found {}",
                kind(self.value)
            ))
        })
    }

    pub(crate) fn as_f64(&self) -> Result<f64, FormatError> {
        let x = self.value.as_f64().ok_or_else(|| {
            self.invalid(format!("expected a number, found {}", kind(self.value)))
        })?;
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.invalid("expected a finite number"))
        }
    }

    /// A finite number that also fits in an `f32`.
    pub(crate) fn as_f32(&self) -> Result<f32, FormatError> {
        let x = self.as_f64()? as f32;
        if x.is_finite() {
            Ok(x)
        } else {
            Err(self.invalid("number out of the f32 range"))
        }
    }

    /// A non-negative integer; `48000.0` counts as an integer (real files write it).
    pub(crate) fn as_usize(&self) -> Result<usize, FormatError> {
        if let Some(n) = self.value.as_u64() {
            return usize::try_from(n).map_err(|_| self.invalid("integer too large"));
        }
        match self.value.as_f64() {
            Some(x) if x.fract() == 0.0 && (0.0..9.0e15).contains(&x) => Ok(x as usize),
            Some(x) => Err(self.invalid(format!("expected a non-negative integer, found {x}"))),
            None => Err(self.invalid(format!(
                "expected a non-negative integer, found {}",
                kind(self.value)
            ))),
        }
    }

    /// Appends this array of exactly `len` numbers to `out` as `f32`,
    /// refusing another count ([`FormatError::WeightCountMismatch`]) and
    /// values that are not finite as `f32` ([`FormatError::NonFiniteWeight`]).
    pub(crate) fn append_weights(&self, len: usize, out: &mut Vec<f32>) -> Result<(), FormatError> {
        self.append_weights_with(len, out, Value::as_f64, "expected a number")
    }

    /// [`Node::append_weights`] for an array whose entries are numbers or
    /// decimal numbers written as strings (`"-0.39"`, what GuitarML's
    /// exporter writes).
    pub(crate) fn append_decimal_weights(
        &self,
        len: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), FormatError> {
        let number = |value: &Value| match value {
            Value::String(text) => text.trim().parse::<f64>().ok(),
            other => other.as_f64(),
        };
        self.append_weights_with(len, out, number, "expected a number or a decimal string")
    }

    fn append_weights_with(
        &self,
        len: usize,
        out: &mut Vec<f32>,
        number: impl Fn(&Value) -> Option<f64>,
        expected: &str,
    ) -> Result<(), FormatError> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| self.invalid("expected an array of numbers"))?;
        if array.len() != len {
            return Err(FormatError::WeightCountMismatch {
                field: self.path.to_string(),
                expected: len,
                found: array.len(),
            });
        }
        out.reserve(len);
        for (index, value) in array.iter().enumerate() {
            let x = number(value).ok_or_else(|| self.path.index(index).invalid(expected))?;
            let w = x as f32;
            if !w.is_finite() {
                return Err(FormatError::NonFiniteWeight {
                    field: self.path.to_string(),
                    index,
                    value: w,
                });
            }
            out.push(w);
        }
        Ok(())
    }

    /// A positive integer no larger than `limit` (checked before anything is allocated).
    pub(crate) fn as_dim(&self, limit: usize) -> Result<usize, FormatError> {
        let too_large = |value: f64| FormatError::TooLarge {
            field: self.path.to_string(),
            value,
            limit: limit as u128,
        };
        // An integer beyond what `as_usize` takes (`1e20`) is an absurd size, not a wrong type.
        if let Some(x) = self.value.as_f64() {
            if x.fract() == 0.0 && x >= 9.0e15 && self.value.as_u64().is_none() {
                return Err(too_large(x));
            }
        }
        let n = self.as_usize()?;
        if n == 0 {
            return Err(self.invalid("must be at least 1"));
        }
        if n > limit {
            return Err(too_large(n as f64));
        }
        Ok(n)
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
