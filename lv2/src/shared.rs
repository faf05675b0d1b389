//! What the plugin's non-real-time threads share: the worker, `save()`
//! (which may run concurrently with `run()`), `restore()` and instantiation.
//!
//! The audio thread never locks anything here: it only stores control values
//! into atomics.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::controls::{Control, Controls, CONTROL_COUNT};
use crate::log::{Level, Logger};
use crate::rig::{FileSlot, Rig, RigFiles};

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
    /// The files of the newest rig built: what the session saves.
    files: Mutex<RigFiles>,
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

    /// Builds a rig with `slot` set to `path` (or cleared) and the other
    /// files unchanged. On success the new file set becomes the saved one
    /// and the load is logged; on failure the error (naming the file) is
    /// logged and returned, and nothing changes.
    pub fn load(&self, slot: FileSlot, path: Option<PathBuf>) -> Result<Box<Rig>, String> {
        let mut files = self.lock_files();
        let mut wanted = files.clone();
        wanted.set(slot, path);
        match self.build_checked(&wanted, &self.controls()) {
            Ok(rig) => {
                *files = wanted;
                let message = match files.get(slot) {
                    Some(path) => format!("{} loaded: {}", slot.label(), path.display()),
                    None => format!("{} cleared", slot.label()),
                };
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
    pub fn build_tolerant(&self, mut files: RigFiles) -> Result<Box<Rig>, String> {
        let controls = self.controls();
        loop {
            match self.build_checked(&files, &controls) {
                Ok(rig) => {
                    *self.lock_files() = files;
                    self.log_warnings(&rig);
                    return Ok(rig);
                }
                Err(error) => {
                    let named = |s: &FileSlot| {
                        files
                            .get(*s)
                            .is_some_and(|p| error.contains(&p.display().to_string()))
                    };
                    let set = |s: &FileSlot| files.get(*s).is_some();
                    let culprit = FileSlot::ALL
                        .iter()
                        .find(|s| named(s))
                        .or_else(|| FileSlot::ALL.iter().find(|s| set(s)))
                        .copied();
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

    /// Builds the rig for `files` and plays a test tone through it: a rig
    /// whose output is NaN or infinite from the start (a model whose weights
    /// overflow) is refused, naming the node, so the previous one keeps
    /// playing. The accepted rig is reset to silence.
    fn build_checked(&self, files: &RigFiles, controls: &Controls) -> Result<Box<Rig>, String> {
        let mut rig = Rig::build(files, controls, self.sample_rate_hz, self.channels)?;
        let tone: Vec<f32> = (0..PROBE_FRAMES)
            .map(|i| 0.25 * (i as f32 * 0.015).sin())
            .collect();
        let mut output = vec![vec![0.0; PROBE_FRAMES]; self.channels];
        let inputs = vec![tone.as_slice(); self.channels];
        let mut outputs: Vec<&mut [f32]> = output.iter_mut().map(Vec::as_mut_slice).collect();
        rig.process(&inputs, &mut outputs);
        if let Some(node) = rig.graph().first_non_finite() {
            let named: Vec<String> = FileSlot::ALL
                .iter()
                .filter_map(|&slot| {
                    let path = files.get(slot)?;
                    Some(format!("{} {}", slot.label(), path.display()))
                })
                .collect();
            return Err(format!(
                "node `{node}` produces non-finite output (NaN or infinity) from the start \
                 (files: {})",
                named.join(", ")
            ));
        }
        rig.reset();
        Ok(Box::new(rig))
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

    /// The `index`-th `.nam` file (sorted by name) in the folder of the
    /// current model, for MIDI program changes.
    pub fn program_model(&self, index: u8) -> Result<PathBuf, String> {
        let files = self.files();
        let folder = files
            .get(FileSlot::Model)
            .and_then(Path::parent)
            .ok_or("program change ignored: load a model first; programs select the .nam files in its folder")?;
        let mut models: Vec<PathBuf> = std::fs::read_dir(folder)
            .map_err(|e| format!("{}: cannot list the folder: {e}", folder.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("nam")))
            .collect();
        models.sort();
        models.get(usize::from(index)).cloned().ok_or_else(|| {
            format!(
                "program {index}: {} holds only {} .nam file(s) (programs count from 0)",
                folder.display(),
                models.len()
            )
        })
    }
}
