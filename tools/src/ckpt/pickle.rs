//! A minimal reader of the Python pickles `torch.save` writes (`data.pkl` of a
//! checkpoint archive): protocols 2 to 5, plain Python values (None, bools,
//! ints, floats, strings, bytes, tuples, lists, dicts), `collections.OrderedDict`,
//! storages given by persistent id (`('storage', torch.FloatStorage, key,
//! location, numel)`) and tensors rebuilt by `torch._utils._rebuild_tensor_v2`
//! (or `_rebuild_parameter`). Any other global, and any opcode outside that
//! set, is refused with its name and byte offset: nothing is ever executed.
//!
//! Objects live in an arena ([`Pickle::get`] by [`Id`]), so the memo shares
//! them (a list memoized before its items are appended is the same list) and
//! malformed input cannot make the reader copy or recurse without bound.

use std::collections::HashMap;

/// An object's index in the arena of a [`Pickle`].
pub type Id = usize;

/// A value read from the pickle.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits in 64 bits.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Id>),
    /// A list.
    List(Vec<Id>),
    /// A dict or `OrderedDict`, items in insertion order.
    Dict(Vec<(Id, Id)>),
    /// A global the reader knows (only usable as a callable or storage type).
    Global(Global),
    /// A storage given by persistent id.
    Storage(Storage),
    /// A tensor view of a storage.
    Tensor(TensorRef),
}

/// The globals the reader accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Global {
    /// `collections.OrderedDict`.
    OrderedDict,
    /// `torch._utils._rebuild_tensor_v2`.
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter`.
    RebuildParameter,
    /// `_codecs.encode` (how protocol 2 writes bytes).
    CodecsEncode,
    /// A typed storage class such as `torch.FloatStorage`.
    StorageType(DType),
}

/// Element type of a storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    /// `torch.float32`.
    F32,
    /// `torch.float64`.
    F64,
    /// `torch.float16`.
    F16,
    /// `torch.bfloat16`.
    BF16,
    /// `torch.int64`.
    I64,
    /// `torch.int32`.
    I32,
    /// `torch.int16`.
    I16,
    /// `torch.int8`.
    I8,
    /// `torch.uint8`.
    U8,
    /// `torch.bool`.
    Bool,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// The dtype of a `torch.<Name>Storage` class.
    fn from_storage_class(name: &str) -> Option<DType> {
        Some(match name {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::I64,
            "IntStorage" => DType::I32,
            "ShortStorage" => DType::I16,
            "CharStorage" => DType::I8,
            "ByteStorage" => DType::U8,
            "BoolStorage" => DType::Bool,
            _ => return None,
        })
    }
}

/// A storage: the archive entry `data/<key>` holding `len` elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Storage {
    /// The entry name under the archive's `data/` folder.
    pub key: String,
    /// Element type.
    pub dtype: DType,
    /// Number of elements.
    pub len: usize,
}

/// A tensor: a strided view of a storage (bounds already checked against the
/// storage's declared length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorRef {
    /// The storage viewed.
    pub storage: Storage,
    /// First element's index in the storage.
    pub offset: usize,
    /// Size per dimension.
    pub shape: Vec<usize>,
    /// Stride per dimension, in elements.
    pub stride: Vec<usize>,
}

/// Why a pickle could not be read; `offset` is the byte where it happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pickle byte {offset}: {problem}")]
pub struct PickleError {
    /// Byte offset in the pickle.
    pub offset: usize,
    /// What was met.
    pub problem: String,
}

/// A parsed pickle: its objects and the root (what `pickle.load` returns).
#[derive(Debug)]
pub struct Pickle {
    objects: Vec<Object>,
    root: Id,
}

impl Pickle {
    /// Reads a pickle.
    pub fn parse(bytes: &[u8]) -> Result<Pickle, PickleError> {
        Machine::new(bytes).run()
    }

    /// The root object.
    pub fn root(&self) -> Id {
        self.root
    }

    /// An object by id (ids come from this pickle).
    pub fn get(&self, id: Id) -> &Object {
        &self.objects[id]
    }

    /// The value of `key` in the dict `id`, if `id` is a dict holding it.
    pub fn dict_get(&self, id: Id, key: &str) -> Option<Id> {
        match self.get(id) {
            Object::Dict(items) => items
                .iter()
                .find(|(k, _)| self.get(*k) == &Object::Str(key.to_owned()))
                .map(|(_, v)| *v),
            _ => None,
        }
    }

    /// A short description of an object's kind, for error messages.
    pub fn kind(&self, id: Id) -> &'static str {
        match self.get(id) {
            Object::None => "None",
            Object::Bool(_) => "a bool",
            Object::Int(_) => "an int",
            Object::Float(_) => "a float",
            Object::Str(_) => "a string",
            Object::Bytes(_) => "bytes",
            Object::Tuple(_) => "a tuple",
            Object::List(_) => "a list",
            Object::Dict(_) => "a dict",
            Object::Global(_) => "a class or function",
            Object::Storage(_) => "a storage",
            Object::Tensor(_) => "a tensor",
        }
    }

    /// The object as JSON (dict keys must be strings; tensors and globals are
    /// refused). `depth` bounds the nesting.
    pub fn to_json(&self, id: Id, depth: usize) -> Result<serde_json::Value, String> {
        use serde_json::Value;
        if depth == 0 {
            return Err("nested too deeply".into());
        }
        Ok(match self.get(id) {
            Object::None => Value::Null,
            Object::Bool(b) => Value::Bool(*b),
            Object::Int(i) => Value::from(*i),
            Object::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .ok_or_else(|| format!("the float {f} has no JSON form"))?,
            Object::Str(s) => Value::String(s.clone()),
            Object::Tuple(items) | Object::List(items) => Value::Array(
                items
                    .iter()
                    .map(|&i| self.to_json(i, depth - 1))
                    .collect::<Result<_, _>>()?,
            ),
            Object::Dict(items) => {
                let mut map = serde_json::Map::new();
                for &(k, v) in items {
                    let Object::Str(key) = self.get(k) else {
                        return Err(format!("a dict key is {}, not a string", self.kind(k)));
                    };
                    map.insert(key.clone(), self.to_json(v, depth - 1)?);
                }
                Value::Object(map)
            }
            _ => return Err(format!("{} has no JSON form", self.kind(id))),
        })
    }
}

/// The unpickling machine: arena, stack, marks and memo.
struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of the opcode being run (for errors).
    at: usize,
    objects: Vec<Object>,
    stack: Vec<Id>,
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

impl<'a> Machine<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Machine {
            bytes,
            pos: 0,
            at: 0,
            objects: Vec::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
        }
    }

    fn error(&self, problem: impl Into<String>) -> PickleError {
        PickleError {
            offset: self.at,
            problem: problem.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.error("the pickle ends in the middle of an opcode"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn take_line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.error("a text argument has no end of line"))?;
        let line = self.take(end + 1)?;
        std::str::from_utf8(&line[..end]).map_err(|_| self.error("a text argument is not UTF-8"))
    }

    /// A length argument, checked against what is left of the input.
    fn take_len(&mut self, n: u64) -> Result<usize, PickleError> {
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.pos)
            .ok_or_else(|| self.error(format!("a length of {n} runs past the end of the pickle")))
    }

    fn push(&mut self, object: Object) {
        self.objects.push(object);
        self.stack.push(self.objects.len() - 1);
    }

    fn pop(&mut self) -> Result<Id, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.error("an opcode pops from an empty stack"));
        }
        Ok(self.stack.pop().unwrap_or_default())
    }

    fn top(&self) -> Result<Id, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.error("an opcode needs an object on an empty stack"));
        }
        Ok(self.stack[self.stack.len() - 1])
    }

    /// The objects above the last mark, removing the mark.
    fn pop_mark(&mut self) -> Result<Vec<Id>, PickleError> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| self.error("an opcode needs a MARK that is not there"))?;
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, key: u64) -> Result<(), PickleError> {
        let top = self.top()?;
        self.memo.insert(key, top);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), PickleError> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| self.error(format!("memo entry {key} is read before it is written")))?;
        self.stack.push(id);
        Ok(())
    }

    fn run(mut self) -> Result<Pickle, PickleError> {
        loop {
            self.at = self.pos;
            let [opcode] = self.take_array::<1>()?;
            if opcode == b'.' {
                let root = self.pop()?;
                return Ok(Pickle {
                    objects: self.objects,
                    root,
                });
            }
            self.step(opcode)?;
        }
    }

    fn step(&mut self, opcode: u8) -> Result<(), PickleError> {
        match opcode {
            // PROTO
            0x80 => {
                let [version] = self.take_array::<1>()?;
                if !(2..=5).contains(&version) {
                    return Err(self.error(format!("pickle protocol {version} (2 to 5 are read)")));
                }
            }
            // FRAME: the frame length is only a hint.
            0x95 => {
                self.take(8)?;
            }
            b'(' => self.marks.push(self.stack.len()),
            b')' => self.push(Object::Tuple(Vec::new())),
            b't' => {
                let items = self.pop_mark()?;
                self.push(Object::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(opcode - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                self.push(Object::Tuple(items));
            }
            b']' => self.push(Object::List(Vec::new())),
            b'l' => {
                let items = self.pop_mark()?;
                self.push(Object::List(items));
            }
            b'a' => {
                let item = self.pop()?;
                self.extend_list(vec![item])?;
            }
            b'e' => {
                let items = self.pop_mark()?;
                self.extend_list(items)?;
            }
            b'}' => self.push(Object::Dict(Vec::new())),
            b'd' => {
                let items = self.pop_mark()?;
                let pairs = self.pairs(items)?;
                self.push(Object::Dict(pairs));
            }
            b's' => {
                let value = self.pop()?;
                let key = self.pop()?;
                self.extend_dict(vec![(key, value)])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                let pairs = self.pairs(items)?;
                self.extend_dict(pairs)?;
            }
            b'N' => self.push(Object::None),
            0x88 => self.push(Object::Bool(true)),
            0x89 => self.push(Object::Bool(false)),
            b'J' => {
                let v = i32::from_le_bytes(self.take_array()?);
                self.push(Object::Int(v.into()));
            }
            b'K' => {
                let [v] = self.take_array::<1>()?;
                self.push(Object::Int(v.into()));
            }
            b'M' => {
                let v = u16::from_le_bytes(self.take_array()?);
                self.push(Object::Int(v.into()));
            }
            0x8a => {
                let [n] = self.take_array::<1>()?;
                self.long(usize::from(n))?;
            }
            0x8b => {
                let n = u32::from_le_bytes(self.take_array()?);
                let n = self.take_len(n.into())?;
                self.long(n)?;
            }
            b'G' => {
                let v = f64::from_be_bytes(self.take_array()?);
                self.push(Object::Float(v));
            }
            b'X' => {
                let n = u32::from_le_bytes(self.take_array()?);
                self.unicode(n.into())?;
            }
            0x8c => {
                let [n] = self.take_array::<1>()?;
                self.unicode(n.into())?;
            }
            0x8d => {
                let n = u64::from_le_bytes(self.take_array()?);
                self.unicode(n)?;
            }
            b'B' | b'T' => {
                let n = u32::from_le_bytes(self.take_array()?);
                self.bytes_object(n.into())?;
            }
            b'C' | b'U' => {
                let [n] = self.take_array::<1>()?;
                self.bytes_object(n.into())?;
            }
            0x8e => {
                let n = u64::from_le_bytes(self.take_array()?);
                self.bytes_object(n)?;
            }
            b'c' => {
                let module = self.take_line()?;
                let name = self.take_line()?;
                let global = self.global(module, name)?;
                self.push(Object::Global(global));
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Object::Str(module), Object::Str(name)) =
                    (self.objects[module].clone(), self.objects[name].clone())
                else {
                    return Err(self.error("STACK_GLOBAL without a module and a name string"));
                };
                let global = self.global(&module, &name)?;
                self.push(Object::Global(global));
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let object = self.reduce(callable, args)?;
                self.push(object);
            }
            b'b' => {
                let _state = self.pop()?;
                let target = self.top()?;
                // OrderedDict's state is its attributes (a state_dict's
                // `_metadata`), which the import does not need.
                if !matches!(self.objects[target], Object::Dict(_)) {
                    return Err(self.error(
                        "BUILD (setting an object's state) on an object that is not a dict",
                    ));
                }
            }
            b'Q' => {
                let pid = self.pop()?;
                let storage = self.persistent_storage(pid)?;
                self.push(Object::Storage(storage));
            }
            b'p' => {
                let key = self.take_line()?;
                let key = key
                    .parse::<u64>()
                    .map_err(|_| self.error(format!("PUT with the key '{key}'")))?;
                self.memo_put(key)?;
            }
            b'q' => {
                let [key] = self.take_array::<1>()?;
                self.memo_put(key.into())?;
            }
            b'r' => {
                let key = u32::from_le_bytes(self.take_array()?);
                self.memo_put(key.into())?;
            }
            0x94 => {
                let key = self.memo.len() as u64;
                self.memo_put(key)?;
            }
            b'g' => {
                let key = self.take_line()?;
                let key = key
                    .parse::<u64>()
                    .map_err(|_| self.error(format!("GET with the key '{key}'")))?;
                self.memo_get(key)?;
            }
            b'h' => {
                let [key] = self.take_array::<1>()?;
                self.memo_get(key.into())?;
            }
            b'j' => {
                let key = u32::from_le_bytes(self.take_array()?);
                self.memo_get(key.into())?;
            }
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.top()?;
                self.stack.push(top);
            }
            other => return Err(self.error(format!("unsupported pickle opcode 0x{other:02x}"))),
        }
        Ok(())
    }

    fn long(&mut self, n: usize) -> Result<(), PickleError> {
        let bytes = self.take(n)?;
        if n > 8 {
            return Err(self.error(format!("an int of {n} bytes (at most 8 are read)")));
        }
        // Little-endian two's complement, sign-extended.
        let negative = bytes.last().is_some_and(|&b| b & 0x80 != 0);
        let mut buffer = if negative { [0xff; 8] } else { [0; 8] };
        buffer[..n].copy_from_slice(bytes);
        self.push(Object::Int(i64::from_le_bytes(buffer)));
        Ok(())
    }

    fn unicode(&mut self, n: u64) -> Result<(), PickleError> {
        let n = self.take_len(n)?;
        let bytes = self.take(n)?;
        let text = std::str::from_utf8(bytes).map_err(|_| self.error("a string is not UTF-8"))?;
        self.push(Object::Str(text.to_owned()));
        Ok(())
    }

    fn bytes_object(&mut self, n: u64) -> Result<(), PickleError> {
        let n = self.take_len(n)?;
        let bytes = self.take(n)?.to_vec();
        self.push(Object::Bytes(bytes));
        Ok(())
    }

    fn pairs(&self, items: Vec<Id>) -> Result<Vec<(Id, Id)>, PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.error("a dict is given an odd number of keys and values"));
        }
        Ok(items.chunks_exact(2).map(|p| (p[0], p[1])).collect())
    }

    fn extend_list(&mut self, items: Vec<Id>) -> Result<(), PickleError> {
        let target = self.top()?;
        match &mut self.objects[target] {
            Object::List(list) => {
                list.extend(items);
                Ok(())
            }
            _ => Err(self.error("APPEND to an object that is not a list")),
        }
    }

    fn extend_dict(&mut self, pairs: Vec<(Id, Id)>) -> Result<(), PickleError> {
        let target = self.top()?;
        match &mut self.objects[target] {
            Object::Dict(dict) => {
                dict.extend(pairs);
                Ok(())
            }
            _ => Err(self.error("SETITEM on an object that is not a dict")),
        }
    }

    fn global(&self, module: &str, name: &str) -> Result<Global, PickleError> {
        let global = match (module, name) {
            ("collections", "OrderedDict") => Some(Global::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
            ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
            ("_codecs", "encode") => Some(Global::CodecsEncode),
            ("torch", class) => DType::from_storage_class(class).map(Global::StorageType),
            _ => None,
        };
        global.ok_or_else(|| {
            self.error(format!(
                "the Python object `{module}.{name}` is not one a checkpoint reader accepts"
            ))
        })
    }

    fn items(&self, id: Id) -> Option<&[Id]> {
        match &self.objects[id] {
            Object::Tuple(items) | Object::List(items) => Some(items),
            _ => None,
        }
    }

    fn int(&self, id: Id) -> Option<i64> {
        match self.objects[id] {
            Object::Int(v) => Some(v),
            _ => None,
        }
    }

    fn usize_list(&self, id: Id) -> Option<Vec<usize>> {
        self.items(id)?
            .iter()
            .map(|&i| self.int(i).and_then(|v| usize::try_from(v).ok()))
            .collect()
    }

    fn reduce(&self, callable: Id, args: Id) -> Result<Object, PickleError> {
        let Object::Global(global) = self.objects[callable] else {
            return Err(self.error(format!(
                "REDUCE calls {}",
                kind_name(&self.objects[callable])
            )));
        };
        let args = self
            .items(args)
            .filter(|_| matches!(self.objects[args], Object::Tuple(_)))
            .ok_or_else(|| self.error("REDUCE without an argument tuple"))?
            .to_vec();
        match global {
            Global::OrderedDict if args.is_empty() => Ok(Object::Dict(Vec::new())),
            Global::OrderedDict => Err(self.error("OrderedDict built from arguments")),
            Global::CodecsEncode => match args.as_slice() {
                [text, encoding] => match (&self.objects[*text], &self.objects[*encoding]) {
                    (Object::Str(text), Object::Str(e)) if e == "latin1" => text
                        .chars()
                        .map(|c| u8::try_from(u32::from(c)).ok())
                        .collect::<Option<Vec<u8>>>()
                        .map(Object::Bytes)
                        .ok_or_else(|| {
                            self.error("bytes encoded as latin1 hold a character above 255")
                        }),
                    _ => {
                        Err(self.error("_codecs.encode with arguments other than (str, 'latin1')"))
                    }
                },
                _ => Err(self.error("_codecs.encode with arguments other than (str, 'latin1')")),
            },
            Global::RebuildTensorV2 => self.rebuild_tensor(&args),
            Global::RebuildParameter => match args.first().map(|&a| &self.objects[a]) {
                Some(Object::Tensor(tensor)) => Ok(Object::Tensor(tensor.clone())),
                _ => Err(self.error("_rebuild_parameter of something that is not a tensor")),
            },
            Global::StorageType(_) => Err(self.error("a storage class called directly")),
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
    /// backward_hooks[, metadata])`.
    fn rebuild_tensor(&self, args: &[Id]) -> Result<Object, PickleError> {
        let bad = |what: &str| self.error(format!("_rebuild_tensor_v2 with {what}"));
        if args.len() < 4 {
            return Err(bad("fewer than 4 arguments"));
        }
        let Object::Storage(storage) = &self.objects[args[0]] else {
            return Err(bad("a first argument that is not a storage"));
        };
        let offset = self
            .int(args[1])
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| bad("a storage offset that is not a non-negative int"))?;
        let shape = self
            .usize_list(args[2])
            .ok_or_else(|| bad("a size that is not a tuple of non-negative ints"))?;
        let stride = self
            .usize_list(args[3])
            .ok_or_else(|| bad("a stride that is not a tuple of non-negative ints"))?;
        if shape.len() != stride.len() {
            return Err(bad("a size and a stride of different lengths"));
        }
        // The last element read must lie in the storage.
        let mut last = Some(offset);
        let mut count = Some(1_usize);
        for (&n, &s) in shape.iter().zip(&stride) {
            count = count.and_then(|c| c.checked_mul(n));
            if n > 0 {
                last = last.and_then(|l| (n - 1).checked_mul(s).and_then(|d| l.checked_add(d)));
            }
        }
        let count = count.ok_or_else(|| bad("a size whose element count overflows"))?;
        if count > 0 && last.is_none_or(|l| l >= storage.len) {
            return Err(bad(&format!(
                "a view past the end of its storage '{}' of {} elements",
                storage.key, storage.len
            )));
        }
        Ok(Object::Tensor(TensorRef {
            storage: storage.clone(),
            offset,
            shape,
            stride,
        }))
    }

    /// `('storage', torch.<Type>Storage, key, location, numel)`.
    fn persistent_storage(&self, pid: Id) -> Result<Storage, PickleError> {
        let bad =
            || self.error("a persistent id that is not ('storage', type, key, location, size)");
        let items = self.items(pid).ok_or_else(bad)?;
        let [tag, class, key, _location, len] = items else {
            return Err(bad());
        };
        match (
            &self.objects[*tag],
            &self.objects[*class],
            &self.objects[*key],
            self.int(*len).and_then(|v| usize::try_from(v).ok()),
        ) {
            (
                Object::Str(tag),
                Object::Global(Global::StorageType(dtype)),
                Object::Str(key),
                Some(len),
            ) if tag == "storage" => Ok(Storage {
                key: key.clone(),
                dtype: *dtype,
                len,
            }),
            _ => Err(bad()),
        }
    }
}

fn kind_name(object: &Object) -> &'static str {
    match object {
        Object::Global(_) => "a class or function",
        Object::Tensor(_) => "a tensor",
        Object::Storage(_) => "a storage",
        _ => "a value that is not callable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_values_and_shared_memo() {
        // pickle.dumps({'a': [1, -2, 3.5, 'x'], 'b': True, 'c': None}, protocol=2),
        // with the list memoized and fetched again under 'd'.
        let mut p = vec![
            0x80, 2, b'}', b'q', 0, b'(', b'X', 1, 0, 0, 0, b'a', b']', b'q', 1, b'(',
        ];
        p.extend([b'K', 1, b'J', 0xfe, 0xff, 0xff, 0xff, b'G']);
        p.extend(3.5_f64.to_be_bytes());
        p.extend([b'X', 1, 0, 0, 0, b'x', b'e']);
        p.extend([b'X', 1, 0, 0, 0, b'b', 0x88, b'X', 1, 0, 0, 0, b'c', b'N']);
        p.extend([b'X', 1, 0, 0, 0, b'd', b'h', 1, b'u', b'.']);
        let pickle = Pickle::parse(&p).unwrap();
        let json = pickle.to_json(pickle.root(), 8).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"a": [1, -2, 3.5, "x"], "b": true, "c": null, "d": [1, -2, 3.5, "x"]})
        );
    }

    #[test]
    fn refuses_unknown_globals_by_name() {
        let p = b"\x80\x02cos\nsystem\nq\x00.";
        let error = Pickle::parse(p).unwrap_err();
        assert!(error.problem.contains("`os.system`"), "{error}");
        assert_eq!(error.offset, 2);
    }

    #[test]
    fn long_ints_sign_extend() {
        let pickle = Pickle::parse(&[0x80, 2, 0x8a, 2, 0x00, 0x80, b'.']).unwrap();
        assert_eq!(pickle.get(pickle.root()), &Object::Int(-32768));
    }

    #[test]
    fn truncated_and_stack_errors_are_errors() {
        for bad in [
            &b"\x80\x02X\xff\x00\x00\x00ab"[..],
            b"\x80\x02.",
            b"\x80\x02a.",
            b"\x80\x02h\x05.",
        ] {
            assert!(Pickle::parse(bad).is_err(), "{bad:?}");
        }
    }
}
