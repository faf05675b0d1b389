//! What the plugin's non-real-time threads share: the worker, `save()`
//! (which may run concurrently with `run()`), `restore()` and instantiation.
//!
//! The audio thread never locks anything here: it only stores control values
//! into atomics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use nam_graph::{BuildError, FileCache, NodeRef};

use crate::controls::{Control, Controls, CONTROL_COUNT};
use crate::loader::Loader;
use crate::log::{Level, Logger};
use crate::rig::{chain_spec, FileSlot, Rig, RigFiles};

/// Frames of test tone a new rig plays before it is accepted (85 ms at 48 kHz).
const PROBE_FRAMES: usize = 4096;

/// State shared by the plugin's threads.
pub struct Shared {
    /// The host's sample rate.
    pub sample_rate_hz: f64,
    /// 1 (mono) or 2 (stereo, dual mono).
    pub channels: usize,
    /// The host's log.
    pub logger: Logger,
    /// The files of the newest rig built: what the session saves. Locked
    /// only to read or replace it, never across file I/O.
    files: Mutex<RigFiles>,
    /// The files the last rig was built from, for the next build; held for
    /// a whole build, so builds take turns.
    cache: Mutex<FileCache>,
    /// The thread that runs the worker's jobs.
    pub loader: Loader,
    /// The latest control values (f32 bits), written by the audio thread.
    controls: [AtomicU32; CONTROL_COUNT],
    /// The state keys of the file parameters (URIDs, by [`FileSlot`]).
    pub file_keys: [u32; 3],
    /// The URID of `atom:Path`, the type of saved files.
    pub path_type: u32,
}

impl Shared {
    /// Shared state for an instance at `sample_rate_hz` with `channels`.
    pub fn new(
        sample_rate_hz: f64,
        channels: usize,
        logger: Logger,
        file_keys: [u32; 3],
        path_type: u32,
    ) -> Self {
        let defaults = Controls::default();
        Self {
            sample_rate_hz,
            channels,
            logger,
            file_keys,
            path_type,
            files: Mutex::new(RigFiles::default()),
            cache: Mutex::new(FileCache::default()),
            loader: Loader::spawn(),
            controls: Control::ALL.map(|c| AtomicU32::new(defaults.get(c).to_bits())),
        }
    }

    /// Records the control values (audio thread: lock-free).
    pub fn store_controls(&self, controls: &Controls) {
        for control in Control::ALL {
            self.controls[control.index()]
                .store(controls.get(control).to_bits(), Ordering::Relaxed);
        }
    }

    /// The latest control values.
    pub fn controls(&self) -> Controls {
        let mut controls = Controls::default();
        for control in Control::ALL {
            let bits = self.controls[control.index()].load(Ordering::Relaxed);
            controls.set(control, f32::from_bits(bits));
        }
        controls
    }

    /// The files of the newest rig.
    pub fn files(&self) -> RigFiles {
        self.lock_files().clone()
    }

    fn lock_files(&self) -> MutexGuard<'_, RigFiles> {
        // A panic while holding the lock cannot leave RigFiles inconsistent.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_cache(&self) -> MutexGuard<'_, FileCache> {
        // A panic during a build leaves at worst entries of complete files.
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Builds a rig for `files`, reusing the files the previous build read,
    /// and [`Shared::probe`]s it (a refused rig counts as a failed build).
    fn build(&self, cache: &mut FileCache, files: &RigFiles) -> Result<Box<Rig>, BuildError> {
        let controls = self.controls();
        cache
            .build(|cache| {
                let mut rig =
                    Rig::build(files, &controls, self.sample_rate_hz, self.channels, cache)?;
                self.probe(&mut rig, &controls)?;
                Ok(rig)
            })
            .map(Box::new)
    }

    /// Builds a rig with `slot` set to `path` (or cleared) and the other
    /// files unchanged. On success the new file set becomes the saved one
    /// and the load is logged; on failure the error (naming the node and the
    /// file) is logged and returned, and nothing changes. Only files not
    /// read by the previous build are read.
    pub fn load(&self, slot: FileSlot, path: Option<PathBuf>) -> Result<Box<Rig>, BuildError> {
        // Builds take turns; the files lock is held only to read and publish
        // (a state save never waits for a file to load).
        let mut cache = self.lock_cache();
        let mut wanted = self.files();
        wanted.set(slot, path);
        match self.build(&mut cache, &wanted) {
            Ok(rig) => {
                let message = match wanted.get(slot) {
                    Some(path) => format!("{} loaded: {}", slot.label(), path.display()),
                    None => format!("{} cleared", slot.label()),
                };
                *self.lock_files() = wanted;
                self.logger.log(Level::Note, &message);
                self.log_warnings(&rig);
                Ok(rig)
            }
            Err(error) => {
                self.logger.log(
                    Level::Error,
                    &format!(
                        "{} refused, keeping the previous sound: {error}",
                        slot.label()
                    ),
                );
                Err(error)
            }
        }
    }

    /// Builds the rig for `files` as far as they load: a file that fails is
    /// logged and left out (a missing model plays the rest of the chain).
    /// Used at restore, where the previous sound is not worth keeping. Fails
    /// only if even the chain without files cannot be built.
    pub fn build_tolerant(&self, mut files: RigFiles) -> Result<Box<Rig>, BuildError> {
        let mut cache = self.lock_cache();
        loop {
            match self.build(&mut cache, &files) {
                Ok(rig) => {
                    *self.lock_files() = files;
                    self.log_warnings(&rig);
                    return Ok(rig);
                }
                Err(error) => {
                    let culprit = error
                        .node
                        .as_ref()
                        .and_then(|node| FileSlot::of_node(&node.id))
                        .filter(|slot| files.get(*slot).is_some());
                    let Some(slot) = culprit else {
                        return Err(error);
                    };
                    self.logger.log(
                        Level::Error,
                        &format!("{} not restored, playing without it: {error}", slot.label()),
                    );
                    files.set(slot, None);
                }
            }
        }
    }

    /// Plays [`PROBE_FRAMES`] of a test tone through a new rig, then resets
    /// it: a rig whose output is NaN or infinite from the start is refused,
    /// naming the node that first produced it (and its file).
    fn probe(&self, rig: &mut Rig, controls: &Controls) -> Result<(), BuildError> {
        let tone: Vec<f32> = (0..PROBE_FRAMES)
            .map(|i| 0.25 * (i as f32 * 0.015).sin())
            .collect();
        let mut output = vec![vec![0.0; PROBE_FRAMES]; self.channels];
        let inputs = vec![tone.as_slice(); self.channels];
        let mut outputs: Vec<&mut [f32]> = output.iter_mut().map(Vec::as_mut_slice).collect();
        rig.process(&inputs, &mut outputs);
        let Some(id) = rig.graph().first_non_finite().map(str::to_owned) else {
            rig.reset();
            return Ok(());
        };
        let spec = chain_spec(rig.files(), controls);
        let node = spec
            .nodes
            .iter()
            .enumerate()
            .find(|(_, node)| node.id.as_deref() == Some(id.as_str()))
            .map(|(index, node)| NodeRef {
                index,
                id: id.clone(),
                kind: node.kind.name(),
            });
        let file = FileSlot::of_node(&id).and_then(|slot| rig.files().get(slot));
        let message = match file {
            Some(file) => format!(
                "node `{id}` ({}) produces non-finite output (NaN or infinity) from the start",
                file.display()
            ),
            None => {
                format!("node `{id}` produces non-finite output (NaN or infinity) from the start")
            }
        };
        Err(BuildError {
            node,
            key: None,
            file: file.map(Path::to_owned),
            message,
        })
    }

    /// Logs the rig's warnings (e.g. model metadata it ignores), each once.
    fn log_warnings(&self, rig: &Rig) {
        let warnings = rig.graph().warnings();
        for (i, warning) in warnings.iter().enumerate() {
            if !warnings[..i].iter().any(|w| w.warning == warning.warning) {
                self.logger.log(Level::Warning, &warning.to_string());
            }
        }
    }

    /// The `index`-th model file (sorted by name; `.nam`, and AIDA-X's
    /// `.aidax` and `.json`) in the folder of the current model, for MIDI
    /// program changes.
    pub fn program_model(&self, index: u8) -> Result<PathBuf, String> {
        let files = self.files();
        let folder = files
            .get(FileSlot::Model)
            .and_then(Path::parent)
            .ok_or("program change ignored: load a model first; programs select the model files in its folder")?;
        let mut models: Vec<PathBuf> = std::fs::read_dir(folder)
            .map_err(|e| format!("{}: cannot list the folder: {e}", folder.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_model_file_name(p))
            .collect();
        models.sort();
        models.get(usize::from(index)).cloned().ok_or_else(|| {
            format!(
                "program {index}: {} holds only {} model file(s) (programs count from 0)",
                folder.display(),
                models.len()
            )
        })
    }
}

/// Whether `path` is named like a model file: `.nam`, or AIDA-X's `.aidax`
/// and `.json` (what is inside decides how it loads).
fn is_model_file_name(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["nam", "aidax", "json"]
            .iter()
            .any(|m| e.eq_ignore_ascii_case(m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared::new(48_000.0, 2, Logger::stderr(), [1, 2, 3], 4)
    }

    fn demo(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/demo")
            .join(name)
    }

    #[test]
    fn a_rebuild_reads_only_the_file_that_changed() {
        let shared = shared();
        shared
            .load(FileSlot::Model, Some(demo("drive.nam")))
            .unwrap();
        shared.load(FileSlot::CabIr, Some(demo("cab.wav"))).unwrap();
        assert_eq!(
            shared.lock_cache().reads(),
            2,
            "one read per file, both lanes"
        );
        shared
            .load(FileSlot::InputIr, Some(demo("cab.wav")))
            .unwrap();
        shared.load(FileSlot::CabIr, None).unwrap();
        assert_eq!(
            shared.lock_cache().reads(),
            2,
            "the same IR twice is read once"
        );
        let refused = shared.load(FileSlot::Model, Some(demo("missing.nam")));
        let error = refused.err().expect("a missing model is refused");
        assert_eq!(error.node.map(|n| n.id), Some("amp".to_owned()));
        assert_eq!(error.file, Some(demo("missing.nam")));
        assert_eq!(
            shared.files().get(FileSlot::Model),
            Some(demo("drive.nam").as_path())
        );
    }

    #[test]
    fn restore_leaves_out_the_file_whose_node_failed() {
        let shared = shared();
        let mut files = RigFiles::default();
        files.set(FileSlot::Model, Some(demo("missing.nam")));
        files.set(FileSlot::CabIr, Some(demo("cab.wav")));
        shared.build_tolerant(files).unwrap();
        let restored = shared.files();
        assert_eq!(restored.get(FileSlot::Model), None);
        assert_eq!(
            restored.get(FileSlot::CabIr),
            Some(demo("cab.wav").as_path())
        );
    }

    #[test]
    fn the_files_can_be_read_for_a_save_while_a_build_runs() {
        let shared = shared();
        let _building = shared.lock_cache();
        assert_eq!(shared.files(), RigFiles::default());
    }
}
