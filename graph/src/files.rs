//! Where nodes get the contents of their files: read afresh on every build
//! ([`ReadFiles`]), or kept between builds ([`FileCache`]) so that rebuilding
//! a chain after one file changed reads only that file.
//!
//! What is kept is immutable: the parsed model ([`NamFile`]) and the IR's
//! samples ([`AudioChannel`]). Each build makes its own nodes from them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use nam_kernel::NamFile;

use crate::audio_file::{read_first_channel, AudioChannel, Limits};
use crate::node::NodeError;

/// Gives a chain's build the contents of its files.
pub trait FileSource {
    /// The parsed model at `path`.
    fn model(&mut self, path: &Path) -> Result<Arc<NamFile>, NodeError>;

    /// The first channel of the audio file at `path` (an impulse response).
    fn impulse_response(&mut self, path: &Path) -> Result<Arc<AudioChannel>, NodeError>;
}

/// Reads every file each time it is asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadFiles;

fn read_model(path: &Path) -> Result<NamFile, NodeError> {
    require_file(path)?;
    Ok(NamFile::load(path)?)
}

fn read_impulse_response(path: &Path) -> Result<AudioChannel, NodeError> {
    require_file(path)?;
    Ok(read_first_channel(path, &Limits::IMPULSE_RESPONSE)?)
}

fn require_file(path: &Path) -> Result<(), NodeError> {
    if path.is_file() {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!("no file at {}", path.display())))
    }
}

impl FileSource for ReadFiles {
    fn model(&mut self, path: &Path) -> Result<Arc<NamFile>, NodeError> {
        read_model(path).map(Arc::new)
    }

    fn impulse_response(&mut self, path: &Path) -> Result<Arc<AudioChannel>, NodeError> {
        read_impulse_response(path).map(Arc::new)
    }
}

/// What identifies a file's version on disk: its size and modification time.
type Stamp = (u64, Option<SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()))
}

struct Entry<T> {
    data: Arc<T>,
    stamp: Option<Stamp>,
    /// Asked for during the current [`FileCache::build`].
    used: bool,
}

/// Files of one type, by path.
struct Shelf<T>(HashMap<PathBuf, Entry<T>>);

impl<T> Default for Shelf<T> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<T> Shelf<T> {
    /// The kept copy of `path` if the file has not changed on disk since it was
    /// read (or is gone: the copy is still what the user chose), else a fresh
    /// read with `read`.
    fn get(
        &mut self,
        path: &Path,
        reads: &mut usize,
        read: impl FnOnce(&Path) -> Result<T, NodeError>,
    ) -> Result<Arc<T>, NodeError> {
        let now = stamp(path);
        if let Some(entry) = self.0.get_mut(path) {
            if now.is_none() || now == entry.stamp {
                entry.used = true;
                return Ok(Arc::clone(&entry.data));
            }
        }
        let data = Arc::new(read(path)?);
        *reads += 1;
        let entry = Entry {
            data: Arc::clone(&data),
            stamp: now,
            used: true,
        };
        self.0.insert(path.to_owned(), entry);
        Ok(data)
    }

    fn mark_unused(&mut self) {
        for entry in self.0.values_mut() {
            entry.used = false;
        }
    }

    fn retain_used(&mut self) {
        self.0.retain(|_, entry| entry.used);
    }
}

/// Keeps the files of the last chain built, by path, and gives them to the
/// next build unless they changed on disk: rebuilding a chain after one file
/// changed reads only that file. A file deleted since it was read is still
/// served from the cache.
#[derive(Default)]
pub struct FileCache {
    models: Shelf<NamFile>,
    impulse_responses: Shelf<AudioChannel>,
    reads: usize,
}

impl FileCache {
    /// Runs one chain build with this cache. When it succeeds, only the files
    /// it used are kept; when it fails, everything kept before stays (the
    /// previous chain, still playing, may be rebuilt with it).
    pub fn build<T, E>(&mut self, build: impl FnOnce(&mut Self) -> Result<T, E>) -> Result<T, E> {
        self.models.mark_unused();
        self.impulse_responses.mark_unused();
        let result = build(self);
        if result.is_ok() {
            self.models.retain_used();
            self.impulse_responses.retain_used();
        }
        result
    }

    /// How many files have been read from disk so far.
    pub fn reads(&self) -> usize {
        self.reads
    }

    /// How many files are kept.
    pub fn len(&self) -> usize {
        self.models.0.len() + self.impulse_responses.0.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FileSource for FileCache {
    fn model(&mut self, path: &Path) -> Result<Arc<NamFile>, NodeError> {
        self.models.get(path, &mut self.reads, read_model)
    }

    fn impulse_response(&mut self, path: &Path) -> Result<Arc<AudioChannel>, NodeError> {
        self.impulse_responses
            .get(path, &mut self.reads, read_impulse_response)
    }
}
