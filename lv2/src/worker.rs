//! The LV2 worker extension, on `lv2-sys`.
//!
//! Written here rather than with `lv2-worker` 0.1 because that crate moves
//! fixed-size values only (a file path has no fixed size) and its schedule
//! feature panics when a host offers it outside the audio threading class.
//!
//! Jobs travel as bytes through the host's ring buffer: a small header plus,
//! for loads, the path. Built rigs come back as a pointer to a `Box<Rig>`;
//! retired rigs go to the worker the same way to be dropped there.
//!
//! The host's worker thread runs no job itself: it hands each to the
//! instance's [`crate::loader::Loader`] (one long-lived thread with a big
//! stack) and waits for the outcome.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use lv2_core::feature::{Feature, ThreadingClass};
use lv2_core::plugin::{Plugin, PluginInstance};
use lv2_sys as sys;
use urid::UriBound;

use crate::log::Level;
use crate::rig::{FileSlot, Rig};
use crate::shared::Shared;

/// Longest path a load job carries, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// tag (4 bytes), argument (4), shared state pointer (8), rig pointer (8).
const HEADER_BYTES: usize = 24;

/// The host's `worker:schedule` feature.
pub struct ScheduleFeature(*const sys::LV2_Worker_Schedule);

// SAFETY: the URI is worker:schedule, NUL-terminated.
unsafe impl UriBound for ScheduleFeature {
    const URI: &'static [u8] = sys::LV2_WORKER__schedule;
}

// SAFETY: the host passes an `LV2_Worker_Schedule` for this URI, valid for
// the instance's lifetime; it is only used from `run()` and `work_response()`.
unsafe impl Feature for ScheduleFeature {
    unsafe fn from_feature_ptr(feature: *const c_void, _class: ThreadingClass) -> Option<Self> {
        let schedule = feature as *const sys::LV2_Worker_Schedule;
        (!schedule.is_null()).then_some(Self(schedule))
    }
}

impl ScheduleFeature {
    /// Hands `bytes` to the worker thread; false if the host refused (full).
    pub fn schedule(&self, bytes: &[u8]) -> bool {
        // SAFETY: the pointer came non-null from the host; the host copies
        // `bytes` before returning.
        unsafe {
            let schedule = &*self.0;
            match schedule.schedule_work {
                Some(f) => {
                    f(schedule.handle, bytes.len() as u32, bytes.as_ptr().cast())
                        == sys::LV2_Worker_Status_LV2_WORKER_SUCCESS
                }
                None => false,
            }
        }
    }
}

/// Work for the worker thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job<'a> {
    /// Build a rig with this file in `slot` (an empty path clears it).
    Load {
        /// Which file.
        slot: FileSlot,
        /// The path (UTF-8 bytes as received).
        path: &'a str,
    },
    /// Load the N-th model of the current model's folder.
    Program(u8),
    /// Drop a rig the audio thread no longer uses.
    Free(*mut Rig),
}

const JOB_LOAD: u32 = 1;
const JOB_PROGRAM: u32 = 2;
const JOB_FREE: u32 = 3;

/// A preallocated buffer jobs are encoded into on the audio thread.
pub struct JobEncoder {
    bytes: Vec<u8>,
}

impl Default for JobEncoder {
    fn default() -> Self {
        Self {
            bytes: Vec::with_capacity(HEADER_BYTES + MAX_PATH_BYTES),
        }
    }
}

impl JobEncoder {
    /// Encodes `job` for the instance whose shared state is `shared`.
    /// Allocation-free; `None` if a path is longer than [`MAX_PATH_BYTES`].
    pub fn encode(&mut self, shared: *const Shared, job: &Job) -> Option<&[u8]> {
        let (tag, arg, pointer, payload): (u32, u32, usize, &[u8]) = match *job {
            Job::Load { slot, path } => (JOB_LOAD, slot.index() as u32, 0, path.as_bytes()),
            Job::Program(program) => (JOB_PROGRAM, u32::from(program), 0, &[]),
            Job::Free(rig) => (JOB_FREE, 0, rig as usize, &[]),
        };
        if payload.len() > MAX_PATH_BYTES {
            return None;
        }
        self.bytes.clear();
        self.bytes.extend_from_slice(&tag.to_ne_bytes());
        self.bytes.extend_from_slice(&arg.to_ne_bytes());
        self.bytes.extend_from_slice(&(shared as u64).to_ne_bytes());
        self.bytes
            .extend_from_slice(&(pointer as u64).to_ne_bytes());
        self.bytes.extend_from_slice(payload);
        Some(&self.bytes)
    }
}

/// Decodes a job: the shared state pointer and the job.
fn decode_job(bytes: &[u8]) -> Option<(*const Shared, Job<'_>)> {
    let word = |at: usize| Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let long = |at: usize| Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?));
    let (tag, arg) = (word(0)?, word(4)?);
    let shared = long(8)? as usize as *const Shared;
    let pointer = long(16)? as usize;
    let payload = bytes.get(HEADER_BYTES..)?;
    let job = match tag {
        JOB_LOAD => Job::Load {
            slot: FileSlot::from_index(arg as usize)?,
            path: std::str::from_utf8(payload).ok()?,
        },
        JOB_PROGRAM => Job::Program(u8::try_from(arg).ok()?),
        JOB_FREE => Job::Free(pointer as *mut Rig),
        _ => return None,
    };
    Some((shared, job))
}

/// The worker's answer, delivered to the audio thread.
pub enum Reply {
    /// A new rig, ready to play.
    Ready(Box<Rig>),
    /// Loading into this slot failed (logged); the old file stays.
    Failed(FileSlot),
}

const REPLY_READY: u32 = 1;
const REPLY_FAILED: u32 = 2;

impl Reply {
    fn into_bytes(self) -> [u8; 16] {
        let (tag, arg, pointer) = match self {
            Reply::Ready(rig) => (REPLY_READY, 0, Box::into_raw(rig) as usize),
            Reply::Failed(slot) => (REPLY_FAILED, slot.index() as u32, 0),
        };
        let mut bytes = [0; 16];
        bytes[..4].copy_from_slice(&tag.to_ne_bytes());
        bytes[4..8].copy_from_slice(&arg.to_ne_bytes());
        bytes[8..].copy_from_slice(&(pointer as u64).to_ne_bytes());
        bytes
    }

    /// # Safety
    /// `bytes` must come from [`Reply::into_bytes`], delivered once.
    unsafe fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        let tag = u32::from_ne_bytes(bytes[..4].try_into().ok()?);
        let arg = u32::from_ne_bytes(bytes[4..8].try_into().ok()?);
        let pointer = u64::from_ne_bytes(bytes[8..].try_into().ok()?) as usize;
        match tag {
            REPLY_READY if pointer != 0 => {
                // SAFETY: the pointer came from Box::into_raw in into_bytes and
                // is delivered exactly once (caller's contract).
                Some(Reply::Ready(unsafe { Box::from_raw(pointer as *mut Rig) }))
            }
            REPLY_FAILED => FileSlot::from_index(arg as usize).map(Reply::Failed),
            _ => None,
        }
    }
}

/// A job as the loading thread runs it: owned, so it can travel.
enum Task {
    /// Build a rig with this file in `slot` (an empty path clears it).
    Load { slot: FileSlot, path: String },
    /// Load the N-th model of the current model's folder.
    Program(u8),
    /// Drop a rig the audio thread no longer uses.
    Free(Box<Rig>),
}

impl Task {
    /// The task for `job`; `None` for nothing to do (a null rig to free).
    ///
    /// # Safety
    /// A `Job::Free` pointer must be null or come from `Box::into_raw`, given
    /// up by its owner, and be turned into a task only once.
    unsafe fn from_job(job: Job) -> Option<Self> {
        Some(match job {
            Job::Load { slot, path } => Task::Load {
                slot,
                path: path.to_owned(),
            },
            Job::Program(program) => Task::Program(program),
            Job::Free(rig) if rig.is_null() => return None,
            // SAFETY: the caller's contract.
            Job::Free(rig) => Task::Free(unsafe { Box::from_raw(rig) }),
        })
    }
}

/// Runs one task; returns the reply to deliver, if any.
fn run_task(shared: &Shared, task: Task) -> Option<Reply> {
    let (slot, path) = match task {
        Task::Free(rig) => {
            drop(rig);
            return None;
        }
        Task::Load { slot, path } if !path.is_empty() && !Path::new(&path).is_absolute() => {
            shared.logger.log(
                Level::Error,
                &format!("{} refused: `{path}` is not an absolute path", slot.label()),
            );
            return Some(Reply::Failed(slot));
        }
        Task::Load { slot, path } => (slot, (!path.is_empty()).then(|| PathBuf::from(path))),
        Task::Program(program) => match shared.program_model(program) {
            Ok(path) => (FileSlot::Model, Some(path)),
            Err(message) => {
                shared.logger.log(Level::Warning, &message);
                return None;
            }
        },
    };
    Some(match shared.load(slot, path) {
        Ok(rig) => Reply::Ready(rig),
        Err(_) => Reply::Failed(slot),
    })
}

/// A plugin that takes the worker's replies on its audio thread.
pub trait ReplyHandler: Plugin {
    /// Takes a reply (audio thread, between `run()` calls), with the audio
    /// features (to schedule more work). Allocation-free.
    fn on_reply(&mut self, reply: Reply, features: &mut Self::AudioFeatures);
}

/// The `worker:interface` extension for plugin type `P`.
pub struct WorkerDescriptor<P>(PhantomData<P>);

impl<P: ReplyHandler> WorkerDescriptor<P> {
    /// The interface returned from `extension_data`.
    pub const INTERFACE: &'static sys::LV2_Worker_Interface = &sys::LV2_Worker_Interface {
        work: Some(Self::work),
        work_response: Some(Self::work_response),
        end_run: None,
    };

    unsafe extern "C" fn work(
        _instance: sys::LV2_Handle,
        respond: sys::LV2_Worker_Respond_Function,
        handle: sys::LV2_Worker_Respond_Handle,
        size: u32,
        data: *const c_void,
    ) -> sys::LV2_Worker_Status {
        if data.is_null() {
            return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN;
        }
        // SAFETY: the host hands back the bytes we scheduled.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) };
        let Some((shared, job)) = decode_job(bytes) else {
            return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN;
        };
        // SAFETY: `shared` points into the instance's `Arc<Shared>`, which the
        // plugin holds until cleanup, which the host never runs concurrently
        // with work(); Shared is Sync, and only shared borrows are made of it.
        let shared = unsafe { &*shared };
        // SAFETY: the audio thread sends each retired Box<Rig> once, as
        // Box::into_raw, and never touches it again.
        let Some(task) = (unsafe { Task::from_job(job) }) else {
            return sys::LV2_Worker_Status_LV2_WORKER_SUCCESS;
        };
        let reply = match shared
            .loader
            .run(shared, move |shared| run_task(shared, task))
        {
            Some(reply) => reply,
            None => {
                shared.logger.log(
                    Level::Error,
                    "internal error while loading (a bug): the previous sound keeps playing",
                );
                None
            }
        };
        let (Some(reply), Some(respond)) = (reply, respond) else {
            return sys::LV2_Worker_Status_LV2_WORKER_SUCCESS;
        };
        let bytes = reply.into_bytes();
        // SAFETY: the host copies the bytes before returning.
        let status = unsafe { respond(handle, bytes.len() as u32, bytes.as_ptr().cast()) };
        if status != sys::LV2_Worker_Status_LV2_WORKER_SUCCESS {
            // Not delivered: take the rig back so it is freed here.
            // SAFETY: the bytes were not delivered, so we still own the rig.
            drop(unsafe { Reply::from_bytes(&bytes) });
        }
        status
    }

    unsafe extern "C" fn work_response(
        instance: sys::LV2_Handle,
        size: u32,
        body: *const c_void,
    ) -> sys::LV2_Worker_Status {
        if instance.is_null() || body.is_null() {
            return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN;
        }
        // SAFETY: the host delivers our reply bytes once each.
        let reply = unsafe {
            Reply::from_bytes(std::slice::from_raw_parts(body.cast::<u8>(), size as usize))
        };
        let Some(reply) = reply else {
            return sys::LV2_Worker_Status_LV2_WORKER_ERR_UNKNOWN;
        };
        // SAFETY: the handle is the PluginInstance lv2-core created; the host
        // calls work_response in the audio context, never concurrently with
        // run(). save() may run meanwhile, but replies follow run(), hence
        // activate(), after which save() reads only the registered Shared
        // (`state::register`), never the instance.
        let instance = unsafe { &mut *(instance as *mut PluginInstance<P>) };
        let (plugin, features) = instance.audio_class_handle();
        plugin.on_reply(reply, features);
        sys::LV2_Worker_Status_LV2_WORKER_SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_bytes() {
        let mut encoder = JobEncoder::default();
        let shared = 0x1234usize as *const Shared;
        for job in [
            Job::Load {
                slot: FileSlot::CabIr,
                path: "/tmp/ä cab.wav",
            },
            Job::Load {
                slot: FileSlot::Model,
                path: "",
            },
            Job::Program(127),
            Job::Free(0x5678usize as *mut Rig),
        ] {
            let bytes = encoder.encode(shared, &job).unwrap().to_vec();
            assert_eq!(decode_job(&bytes), Some((shared, job)));
        }
    }

    #[test]
    fn malformed_jobs_are_refused() {
        assert_eq!(decode_job(&[]), None);
        assert_eq!(decode_job(&[9; 24]), None);
        let long = "x".repeat(MAX_PATH_BYTES + 1);
        let job = Job::Load {
            slot: FileSlot::Model,
            path: &long,
        };
        assert!(JobEncoder::default()
            .encode(std::ptr::null(), &job)
            .is_none());
    }
}
