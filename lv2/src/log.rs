//! The LV2 log extension (`log:log`), which the `lv2` crates do not wrap.
//!
//! Messages go to the host's log (Ardour's and Carla's message windows, MOD's
//! web UI, jalv's console), or to stderr when the host offers no log. The
//! extension allows logging from non-real-time threads only, so the plugin
//! logs from its worker and from instantiate/restore, never from `run()`.

use std::ffi::{c_void, CString};

use lv2_core::feature::{Feature, ThreadingClass};
use lv2_sys as sys;
use urid::{Map, UriBound, URID};

/// The host's `log:log` feature, as handed to `instantiate`.
pub struct LogFeature(*const sys::LV2_Log_Log);

// SAFETY: the URI is the log extension's feature URI, NUL-terminated.
unsafe impl UriBound for LogFeature {
    const URI: &'static [u8] = sys::LV2_LOG__log;
}

// SAFETY: the host passes an `LV2_Log_Log` for this URI; we only keep the
// pointer, which the host keeps valid for the instance's lifetime.
unsafe impl Feature for LogFeature {
    unsafe fn from_feature_ptr(feature: *const c_void, _class: ThreadingClass) -> Option<Self> {
        let log = feature as *const sys::LV2_Log_Log;
        (!log.is_null()).then_some(Self(log))
    }
}

/// How serious a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Something failed (a file was refused).
    Error,
    /// Something unexpected that the plugin worked around.
    Warning,
    /// Information (a file was loaded).
    Note,
}

/// Writes messages to the host's log, or to stderr without one. Thread-safe
/// for non-real-time threads.
pub struct Logger {
    log: Option<*const sys::LV2_Log_Log>,
    types: [u32; 3],
}

// SAFETY: the log spec makes `printf` callable from any non-real-time thread;
// the pointer stays valid for the instance's lifetime.
unsafe impl Send for Logger {}
// SAFETY: as above; the logger holds no mutable state.
unsafe impl Sync for Logger {}

impl Logger {
    /// A logger on the host's feature (if any), mapping the level URIs with `map`.
    pub fn new(feature: Option<&LogFeature>, map: &impl Map) -> Self {
        let uri = |bytes: &'static [u8]| {
            std::ffi::CStr::from_bytes_with_nul(bytes)
                .ok()
                .and_then(|uri| map.map_uri(uri))
                .map_or(0, URID::get)
        };
        let types = [
            uri(sys::LV2_LOG__Error),
            uri(sys::LV2_LOG__Warning),
            uri(sys::LV2_LOG__Note),
        ];
        Self {
            log: feature.map(|f| f.0),
            types,
        }
    }

    /// A logger writing to stderr only.
    pub fn stderr() -> Self {
        Self {
            log: None,
            types: [0; 3],
        }
    }

    /// Logs one line. Never call from the audio thread.
    pub fn log(&self, level: Level, message: &str) {
        let type_ = self.types[level as usize];
        let printf = self
            .log
            // SAFETY: the pointer came non-null from the host, valid while the
            // instance lives.
            .and_then(|log| unsafe { (*log).printf.map(|f| (log, f)) });
        match (printf, CString::new(message.replace('\0', " "))) {
            (Some((log, printf)), Ok(text)) if type_ != 0 => {
                // SAFETY: a printf-style call with a constant "%s\n" format and
                // one NUL-terminated string argument.
                unsafe {
                    printf(
                        (*log).handle,
                        type_,
                        c"nam-graph: %s\n".as_ptr(),
                        text.as_ptr(),
                    );
                }
            }
            _ => eprintln!("nam-graph: {message}"),
        }
    }
}
