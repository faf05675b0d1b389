//! A minimal in-process LV2 host for the plugin's tests: it drives the plugin
//! only through the LV2 C ABI (`lv2_descriptor` → `LV2_Descriptor`), with
//! host features written here: `urid:map`/`urid:unmap`, `worker:schedule`
//! (a preallocated queue served synchronously after each `run()`, like a
//! host's worker thread between two cycles) and, for state, `state:mapPath`
//! and `state:freePath`. No `log:log`: its `printf` is C-variadic, which
//! stable Rust cannot implement, so the plugin prints to stderr and the tests
//! judge errors by the plugin's behaviour.
//!
//! Every `run()` and `work_response()` call runs inside
//! `assert_no_alloc::assert_no_alloc`; the violations are counted in
//! [`Host::alloc_violations`] (the test binary installs the allocator).

#![allow(dead_code)]

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, violation_count};
use lv2_sys as sys;
use nam_graph::Chain;
use nam_lv2::controls::Controls;
use nam_lv2::rig::{chain_spec, RigFiles};

/// The plugins, by `lv2_descriptor` index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `urn:nam-graph:amp`, index 0.
    Mono,
    /// `urn:nam-graph:amp-stereo`, index 1.
    Stereo,
}

impl Kind {
    pub fn index(self) -> u32 {
        match self {
            Kind::Mono => 0,
            Kind::Stereo => 1,
        }
    }
    pub fn uri(self) -> &'static str {
        match self {
            Kind::Mono => "urn:nam-graph:amp",
            Kind::Stereo => "urn:nam-graph:amp-stereo",
        }
    }
    pub fn channels(self) -> usize {
        match self {
            Kind::Mono => 1,
            Kind::Stereo => 2,
        }
    }
}

/// Port indices (ttl/nam-graph.ttl).
pub mod port {
    pub const IN: u32 = 0;
    pub const OUT: u32 = 1;
    pub const CONTROL: u32 = 2;
    pub const NOTIFY: u32 = 3;
    pub const ENABLED: u32 = 4;
    pub const LATENCY: u32 = 5;
    pub const FIRST_CONTROL: u32 = 6;
    pub const CONTROLS: usize = 13;
    pub const IN_R: u32 = 19;
    pub const OUT_R: u32 = 20;
}

/// Longest host block the tests use.
pub const MAX_BLOCK: usize = 8192;
/// Bytes of each atom port buffer.
const ATOM_PORT_BYTES: usize = 65536;

pub const MODEL: &str = "urn:nam-graph:amp_model";
pub const INPUT_IR: &str = "urn:nam-graph:input_ir";
pub const CAB_IR: &str = "urn:nam-graph:cab_ir";

pub fn atom_uri(name: &str) -> String {
    format!("http://lv2plug.in/ns/ext/atom#{name}")
}
pub fn patch_uri(name: &str) -> String {
    format!("http://lv2plug.in/ns/ext/patch#{name}")
}
pub const MIDI_EVENT: &str = "http://lv2plug.in/ns/ext/midi#MidiEvent";

// ---------------------------------------------------------------- URID map

/// The host's URI ↔ URID table (URID = index + 1).
#[derive(Default)]
pub struct UridMap {
    uris: RefCell<Vec<CString>>,
}

impl UridMap {
    pub fn map(&self, uri: &str) -> u32 {
        let mut uris = self.uris.borrow_mut();
        if let Some(i) = uris.iter().position(|u| u.to_bytes() == uri.as_bytes()) {
            return i as u32 + 1;
        }
        uris.push(CString::new(uri).unwrap());
        uris.len() as u32
    }

    pub fn unmap(&self, urid: u32) -> Option<String> {
        let uris = self.uris.borrow();
        let i = (urid as usize).checked_sub(1)?;
        uris.get(i).map(|u| u.to_str().unwrap().to_owned())
    }
}

unsafe extern "C" fn map_uri(handle: sys::LV2_URID_Map_Handle, uri: *const c_char) -> u32 {
    if handle.is_null() || uri.is_null() {
        return 0;
    }
    // SAFETY: the handle is the host's UridMap; the URI a C string.
    let (map, uri) = unsafe { (&*(handle as *const UridMap), CStr::from_ptr(uri)) };
    match uri.to_str() {
        Ok(uri) => map.map(uri),
        Err(_) => 0,
    }
}

unsafe extern "C" fn unmap_uri(handle: sys::LV2_URID_Unmap_Handle, urid: u32) -> *const c_char {
    // SAFETY: the handle is the host's UridMap.
    let map = unsafe { &*(handle as *const UridMap) };
    let uris = map.uris.borrow();
    match (urid as usize).checked_sub(1).and_then(|i| uris.get(i)) {
        // The CString's heap buffer never moves while the map lives.
        Some(uri) => uri.as_ptr(),
        None => std::ptr::null(),
    }
}

// ---------------------------------------------------------------- worker

/// Jobs scheduled by `run()`: copied into preallocated bytes (the schedule
/// call is in the audio threading class and must not allocate).
struct JobQueue {
    bytes: Vec<u8>,
    capacity: usize,
    /// When false, every schedule call is refused (a stuck or full worker).
    accepting: bool,
    refused: usize,
    scheduled: usize,
    /// Allocate inside schedule_work (to prove the detector watches run()).
    allocate: bool,
}

unsafe extern "C" fn schedule_work(
    handle: sys::LV2_Worker_Schedule_Handle,
    size: u32,
    data: *const c_void,
) -> sys::LV2_Worker_Status {
    // SAFETY: the handle is the host's JobQueue, used by one thread at a time.
    let queue = unsafe { &mut *(handle as *mut JobQueue) };
    let size = size as usize;
    if !queue.accepting || data.is_null() || queue.bytes.len() + 4 + size > queue.capacity {
        queue.refused += 1;
        return sys::LV2_Worker_Status_LV2_WORKER_ERR_NO_SPACE;
    }
    if queue.allocate {
        drop(std::hint::black_box(vec![0u8; 16]));
    }
    // SAFETY: the plugin passes `size` readable bytes.
    let job = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size) };
    queue.bytes.extend_from_slice(&(size as u32).to_ne_bytes());
    queue.bytes.extend_from_slice(job);
    queue.scheduled += 1;
    sys::LV2_Worker_Status_LV2_WORKER_SUCCESS
}

unsafe extern "C" fn respond(
    handle: sys::LV2_Worker_Respond_Handle,
    size: u32,
    data: *const c_void,
) -> sys::LV2_Worker_Status {
    // SAFETY: the handle is the Vec the host passed to work().
    let responses = unsafe { &mut *(handle as *mut Vec<Vec<u8>>) };
    // SAFETY: the plugin passes `size` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), size as usize) };
    responses.push(bytes.to_vec());
    sys::LV2_Worker_Status_LV2_WORKER_SUCCESS
}

// ---------------------------------------------------------------- atoms

/// Pads `bytes` with zeros to a multiple of 8.
pub fn pad8(bytes: &mut Vec<u8>) {
    while !bytes.len().is_multiple_of(8) {
        bytes.push(0);
    }
}

/// An atom: header `{size, type}` and body (unpadded).
pub fn atom(type_: u32, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&(body.len() as u32).to_ne_bytes());
    bytes.extend_from_slice(&type_.to_ne_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// An `LV2_Atom_Object` of type `otype` (`kind` is atom:Object or
/// atom:Blank) with `(key, value atom)` properties.
pub fn object(kind: u32, otype: u32, properties: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0u32.to_ne_bytes()); // id
    body.extend_from_slice(&otype.to_ne_bytes());
    for (key, value) in properties {
        body.extend_from_slice(&key.to_ne_bytes());
        body.extend_from_slice(&0u32.to_ne_bytes()); // context
        body.extend_from_slice(value);
        pad8(&mut body);
    }
    atom(kind, &body)
}

/// A string-like atom body: the text and its NUL.
pub fn c_text(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// The notify port's `patch:Set` echoes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Echo {
    /// The property's URI.
    pub property: String,
    /// The value's text.
    pub path: String,
    /// The value atom's type URI.
    pub value_type: String,
    /// The run (0-based count of `run()` calls) it came from.
    pub run: usize,
}

// ---------------------------------------------------------------- state

/// One property stored by the plugin's `save`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub value: Vec<u8>,
    pub type_: String,
    pub flags: u32,
}

impl Stored {
    /// The value as text (up to its NUL).
    pub fn text(&self) -> String {
        let end = self
            .value
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.value.len());
        String::from_utf8(self.value[..end].to_vec()).unwrap()
    }
}

unsafe extern "C" fn store(
    handle: sys::LV2_State_Handle,
    key: u32,
    value: *const c_void,
    size: usize,
    type_: u32,
    flags: u32,
) -> sys::LV2_State_Status {
    // SAFETY: the handle is the Vec the host passed to save().
    let entries = unsafe { &mut *(handle as *mut Vec<(u32, Vec<u8>, u32, u32)>) };
    // SAFETY: the plugin passes `size` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(value.cast::<u8>(), size) };
    entries.push((key, bytes.to_vec(), type_, flags));
    sys::LV2_State_Status_LV2_STATE_SUCCESS
}

unsafe extern "C" fn retrieve(
    handle: sys::LV2_State_Handle,
    key: u32,
    size: *mut usize,
    type_: *mut u32,
    flags: *mut u32,
) -> *const c_void {
    // SAFETY: the handle is the Vec the host passed to restore().
    let entries = unsafe { &*(handle as *const Vec<(u32, Vec<u8>, u32, u32)>) };
    let Some((_, value, t, f)) = entries.iter().find(|e| e.0 == key) else {
        return std::ptr::null();
    };
    // SAFETY: out pointers from the plugin, each null or valid.
    unsafe {
        if !size.is_null() {
            *size = value.len();
        }
        if !type_.is_null() {
            *type_ = *t;
        }
        if !flags.is_null() {
            *flags = *f;
        }
    }
    value.as_ptr().cast()
}

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(pointer: *mut c_void);
}

/// `state:mapPath` (and optionally `state:freePath`): paths inside `folder`
/// are saved relative to it, relative paths are restored inside it.
pub struct PathMapper {
    pub folder: PathBuf,
    /// Strings handed out by the mapping functions.
    pub handed_out: usize,
    /// Strings freed through `state:freePath`.
    pub freed: usize,
}

fn malloc_c_string(text: &str) -> *mut c_char {
    let bytes = c_text(text);
    // SAFETY: malloc'd so that the plugin may free it with free().
    unsafe {
        let pointer = malloc(bytes.len()).cast::<u8>();
        assert!(!pointer.is_null());
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), pointer, bytes.len());
        pointer.cast()
    }
}

unsafe extern "C" fn abstract_path(handle: *mut c_void, path: *const c_char) -> *mut c_char {
    // SAFETY: the handle is the host's PathMapper; the path a C string.
    let (mapper, path) = unsafe { (&mut *(handle as *mut PathMapper), CStr::from_ptr(path)) };
    let path = Path::new(path.to_str().unwrap());
    let mapped = path.strip_prefix(&mapper.folder).unwrap_or(path);
    mapper.handed_out += 1;
    malloc_c_string(mapped.to_str().unwrap())
}

unsafe extern "C" fn absolute_path(handle: *mut c_void, path: *const c_char) -> *mut c_char {
    // SAFETY: as above.
    let (mapper, path) = unsafe { (&mut *(handle as *mut PathMapper), CStr::from_ptr(path)) };
    let path = Path::new(path.to_str().unwrap());
    let mapped = if path.is_absolute() {
        path.to_owned()
    } else {
        mapper.folder.join(path)
    };
    mapper.handed_out += 1;
    malloc_c_string(mapped.to_str().unwrap())
}

unsafe extern "C" fn free_path(handle: *mut c_void, path: *mut c_char) {
    // SAFETY: the handle is the host's PathMapper; the path one we malloc'd.
    unsafe {
        (*(handle as *mut PathMapper)).freed += 1;
        free(path.cast());
    }
}

/// How the state calls see paths.
pub enum PathFeatures<'a> {
    /// No `state:mapPath`: paths are saved as they are.
    None,
    /// `state:mapPath` only (the plugin frees with `free()`).
    Map(&'a mut PathMapper),
    /// `state:mapPath` and `state:freePath`.
    MapAndFree(&'a mut PathMapper),
}

/// Calls `f` with a null-terminated feature array for `paths`.
fn with_path_features<R>(
    paths: PathFeatures<'_>,
    f: impl FnOnce(*const *const sys::LV2_Feature) -> R,
) -> R {
    let (mapper, with_free): (*mut PathMapper, bool) = match paths {
        PathFeatures::None => return f([std::ptr::null()].as_ptr()),
        PathFeatures::Map(m) => (m, false),
        PathFeatures::MapAndFree(m) => (m, true),
    };
    let mut map = sys::LV2_State_Map_Path {
        handle: mapper.cast(),
        abstract_path: Some(abstract_path),
        absolute_path: Some(absolute_path),
    };
    let mut free_feature = sys::LV2_State_Free_Path {
        handle: mapper.cast(),
        free_path: Some(free_path),
    };
    let features = [
        sys::LV2_Feature {
            URI: sys::LV2_STATE__mapPath.as_ptr().cast(),
            data: (&mut map as *mut sys::LV2_State_Map_Path).cast(),
        },
        sys::LV2_Feature {
            URI: sys::LV2_STATE__freePath.as_ptr().cast(),
            data: (&mut free_feature as *mut sys::LV2_State_Free_Path).cast(),
        },
    ];
    let pointers: Vec<*const sys::LV2_Feature> = if with_free {
        vec![&features[0], &features[1], std::ptr::null()]
    } else {
        vec![&features[0], std::ptr::null()]
    };
    f(pointers.as_ptr())
}

// ---------------------------------------------------------------- host

/// What the host offers at instantiation.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Offer `worker:schedule`.
    pub worker: bool,
    /// Bytes of the job queue.
    pub queue_bytes: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            worker: true,
            queue_bytes: 1 << 16,
        }
    }
}

/// One plugin instance and everything a host keeps for it.
pub struct Host {
    pub kind: Kind,
    pub rate: f64,
    descriptor: &'static sys::LV2_Descriptor,
    handle: sys::LV2_Handle,
    /// Feature data, freed after `cleanup` (raw: the plugin aliases them).
    map: *mut UridMap,
    map_feature: *mut sys::LV2_URID_Map,
    unmap_feature: *mut sys::LV2_URID_Unmap,
    schedule_feature: *mut sys::LV2_Worker_Schedule,
    queue: *mut JobQueue,
    worker: Option<&'static sys::LV2_Worker_Interface>,
    state: Option<&'static sys::LV2_State_Interface>,
    control: Vec<u64>,
    notify: Vec<u64>,
    /// Sequence events (frames + atom, padded) for the next run.
    pending: Vec<u8>,
    /// A whole control port buffer for the next run, overriding `pending`.
    raw_control: Option<Vec<u8>>,
    /// Bytes the notify port offers the plugin (at most the buffer's size).
    pub notify_capacity: usize,
    /// Values of the 13 control ports (6..18).
    pub controls: [f32; port::CONTROLS],
    pub enabled: f32,
    pub latency: f32,
    /// Every echo received so far.
    pub echoes: Vec<Echo>,
    /// `run()` calls so far.
    pub runs: usize,
    /// Frames processed so far.
    pub frames: usize,
    /// Frame positions at which worker responses were delivered (they
    /// take effect from that frame on).
    pub responses_at: Vec<usize>,
    /// Allocations seen inside run()/work_response().
    pub alloc_violations: u32,
    /// Page faults taken by the calling (audio) thread inside each run()
    /// and the worker responses delivered after it, one entry per run.
    pub audio_faults: Vec<u64>,
    /// CPU time of the calling thread inside each run() and its responses,
    /// in ns, one entry per run (for measurements, never for assertions).
    pub audio_cpu_ns: Vec<u64>,
    /// Worker jobs run.
    pub jobs_run: usize,
    /// Worker jobs that hand a retired rig back to be freed (white box: the
    /// plugin's job tag 3, see lv2/src/worker.rs).
    pub free_jobs: usize,
    /// Worker responses delivered.
    pub responses: usize,
    /// Events that were not a patch:Set on the notify port.
    pub other_notify: usize,
    /// Notify sequences whose events overrun the sequence's size.
    pub malformed_notify: usize,
}

impl Host {
    /// Instantiates `kind` at `rate` with the default setup, then activates.
    pub fn new(kind: Kind, rate: f64) -> Self {
        let mut host = Self::instantiate(kind, rate, Setup::default()).expect("instantiate");
        host.activate();
        host
    }

    /// Instantiates without activating (e.g. to restore state first).
    pub fn instantiate(kind: Kind, rate: f64, setup: Setup) -> Option<Self> {
        // SAFETY: the plugin's exported descriptor function.
        let descriptor = unsafe { nam_lv2::descriptors::lv2_descriptor(kind.index()) };
        assert!(!descriptor.is_null(), "no descriptor {}", kind.index());
        // SAFETY: descriptors are static.
        let descriptor: &'static sys::LV2_Descriptor = unsafe { &*descriptor };
        // SAFETY: a C string.
        let uri = unsafe { CStr::from_ptr(descriptor.URI) };
        assert_eq!(uri.to_str().unwrap(), kind.uri());

        let map = Box::into_raw(Box::<UridMap>::default());
        let map_feature = Box::into_raw(Box::new(sys::LV2_URID_Map {
            handle: map.cast(),
            map: Some(map_uri),
        }));
        let unmap_feature = Box::into_raw(Box::new(sys::LV2_URID_Unmap {
            handle: map.cast(),
            unmap: Some(unmap_uri),
        }));
        let queue = Box::into_raw(Box::new(JobQueue {
            bytes: Vec::with_capacity(setup.queue_bytes),
            capacity: setup.queue_bytes,
            accepting: true,
            refused: 0,
            scheduled: 0,
            allocate: false,
        }));
        let schedule_feature = Box::into_raw(Box::new(sys::LV2_Worker_Schedule {
            handle: queue.cast(),
            schedule_work: Some(schedule_work),
        }));
        let mut features = vec![
            sys::LV2_Feature {
                URI: sys::LV2_URID__map.as_ptr().cast(),
                data: map_feature.cast(),
            },
            sys::LV2_Feature {
                URI: sys::LV2_URID__unmap.as_ptr().cast(),
                data: unmap_feature.cast(),
            },
        ];
        if setup.worker {
            features.push(sys::LV2_Feature {
                URI: sys::LV2_WORKER__schedule.as_ptr().cast(),
                data: schedule_feature.cast(),
            });
        }
        let mut pointers: Vec<*const sys::LV2_Feature> =
            features.iter().map(|f| f as *const _).collect();
        pointers.push(std::ptr::null());
        let bundle = c"/usr/lib/lv2/nam-graph.lv2/";
        // SAFETY: a host's instantiate call with a valid feature array (the
        // plugin copies what it keeps; the feature data outlive the instance).
        let handle = unsafe {
            (descriptor.instantiate.unwrap())(descriptor, rate, bundle.as_ptr(), pointers.as_ptr())
        };
        let free_features = || {
            // SAFETY: allocated above; no instance refers to them.
            unsafe {
                drop(Box::from_raw(map));
                drop(Box::from_raw(map_feature));
                drop(Box::from_raw(unmap_feature));
                drop(Box::from_raw(queue));
                drop(Box::from_raw(schedule_feature));
            }
        };
        if handle.is_null() {
            free_features();
            return None;
        }
        let extension = |uri: &'static [u8]| {
            // SAFETY: the plugin's extension_data with a C string URI.
            unsafe { (descriptor.extension_data.unwrap())(uri.as_ptr().cast()) }
        };
        let worker = extension(sys::LV2_WORKER__interface);
        let state = extension(sys::LV2_STATE__interface);
        assert!(extension(b"urn:nothing\0").is_null());
        let mut host = Self {
            kind,
            rate,
            descriptor,
            handle,
            map,
            map_feature,
            unmap_feature,
            schedule_feature,
            queue,
            // SAFETY: the interfaces are static structs of the plugin.
            worker: unsafe { worker.cast::<sys::LV2_Worker_Interface>().as_ref() },
            // SAFETY: as above.
            state: unsafe { state.cast::<sys::LV2_State_Interface>().as_ref() },
            control: vec![0; ATOM_PORT_BYTES / 8],
            notify: vec![0; ATOM_PORT_BYTES / 8],
            pending: Vec::with_capacity(ATOM_PORT_BYTES),
            raw_control: None,
            notify_capacity: ATOM_PORT_BYTES - 8,
            controls: [0.0; port::CONTROLS],
            enabled: 1.0,
            latency: -1.0,
            echoes: Vec::new(),
            runs: 0,
            frames: 0,
            responses_at: Vec::new(),
            alloc_violations: 0,
            audio_faults: Vec::new(),
            audio_cpu_ns: Vec::new(),
            jobs_run: 0,
            free_jobs: 0,
            responses: 0,
            other_notify: 0,
            malformed_notify: 0,
        };
        host.controls = default_controls();
        assert!(host.worker.is_some(), "no worker interface");
        assert!(host.state.is_some(), "no state interface");
        Some(host)
    }

    /// `activate()`.
    pub fn activate(&mut self) {
        // SAFETY: a live instance.
        unsafe { (self.descriptor.activate.unwrap())(self.handle) }
    }

    /// `deactivate()`.
    pub fn deactivate(&mut self) {
        // SAFETY: a live instance.
        unsafe { (self.descriptor.deactivate.unwrap())(self.handle) }
    }

    pub fn urid_map(&self) -> &UridMap {
        // SAFETY: alive until drop.
        unsafe { &*self.map }
    }

    /// The URID of `uri` in this host.
    pub fn urid(&self, uri: &str) -> u32 {
        self.urid_map().map(uri)
    }

    fn queue(&mut self) -> &mut JobQueue {
        // SAFETY: alive until drop; the plugin only touches it inside run(),
        // which does not overlap with the host's own use.
        unsafe { &mut *self.queue }
    }

    fn queue_ref(&self) -> &JobQueue {
        // SAFETY: as above.
        unsafe { &*self.queue }
    }

    /// Makes the worker refuse (or accept again) every job.
    pub fn set_worker_accepting(&mut self, accepting: bool) {
        self.queue().accepting = accepting;
    }

    /// Makes the host's schedule function allocate (a misbehaving host).
    pub fn set_schedule_allocates(&mut self, allocate: bool) {
        self.queue().allocate = allocate;
    }

    /// Schedule calls refused so far.
    pub fn jobs_refused(&self) -> usize {
        self.queue_ref().refused
    }

    /// Jobs accepted so far.
    pub fn jobs_scheduled(&self) -> usize {
        self.queue_ref().scheduled
    }

    // ------------------------------------------------------------ messages

    /// Queues `atom` (header + body) as an event at `frame` of the next run.
    pub fn send_at(&mut self, frame: i64, atom: &[u8]) {
        self.pending.extend_from_slice(&frame.to_ne_bytes());
        self.pending.extend_from_slice(atom);
        pad8(&mut self.pending);
    }

    /// Queues `atom` at frame 0 of the next run.
    pub fn send(&mut self, atom: &[u8]) {
        self.send_at(0, atom);
    }

    /// Uses `bytes` as the whole control port buffer of the next run
    /// (for malformed sequences); padded to 8-byte words.
    pub fn send_raw_buffer(&mut self, bytes: &[u8]) {
        self.raw_control = Some(bytes.to_vec());
    }

    /// A `patch:Set` of `property` to an atom:Path `path`.
    pub fn patch_set_atom(&self, property: &str, path: &str) -> Vec<u8> {
        let value = atom(self.urid(&atom_uri("Path")), &c_text(path));
        self.patch_set_value(property, value)
    }

    /// A `patch:Set` of `property` to the atom `value`.
    pub fn patch_set_value(&self, property: &str, value: Vec<u8>) -> Vec<u8> {
        let urid_atom = atom(
            self.urid(&atom_uri("URID")),
            &self.urid(property).to_ne_bytes(),
        );
        object(
            self.urid(&atom_uri("Object")),
            self.urid(&patch_uri("Set")),
            &[
                (self.urid(&patch_uri("property")), urid_atom),
                (self.urid(&patch_uri("value")), value),
            ],
        )
    }

    /// Sends `patch:Set property = atom:Path path`.
    pub fn set_file(&mut self, property: &str, path: &str) {
        let message = self.patch_set_atom(property, path);
        self.send(&message);
    }

    /// Sends `patch:Get` (of one property, or of all).
    pub fn get(&mut self, property: Option<&str>) {
        let mut properties = Vec::new();
        if let Some(property) = property {
            let value = atom(
                self.urid(&atom_uri("URID")),
                &self.urid(property).to_ne_bytes(),
            );
            properties.push((self.urid(&patch_uri("property")), value));
        }
        let message = object(
            self.urid(&atom_uri("Object")),
            self.urid(&patch_uri("Get")),
            &properties,
        );
        self.send(&message);
    }

    /// Sends a MIDI event.
    pub fn midi(&mut self, bytes: &[u8]) {
        let message = atom(self.urid(MIDI_EVENT), bytes);
        self.send(&message);
    }

    // ------------------------------------------------------------ running

    /// One `run()` of `inputs.len()` channels (the plugin's count), then the
    /// worker's round trip. Returns nothing; `outputs` receive the audio.
    pub fn run(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let channels = self.kind.channels();
        assert_eq!(inputs.len(), channels);
        assert_eq!(outputs.len(), channels);
        let frames = inputs[0].len();
        assert!(frames <= MAX_BLOCK);
        assert!(inputs.iter().all(|b| b.len() == frames));
        assert!(outputs.iter().all(|b| b.len() == frames));

        let atom_sequence = self.urid(&atom_uri("Sequence"));
        let atom_chunk = self.urid(&atom_uri("Chunk"));
        let raw = self.raw_control.take();
        let descriptor = self.descriptor;
        let handle = self.handle;
        let capacity = self.notify_capacity.min(ATOM_PORT_BYTES - 8) as u32;
        let before = violation_count();
        let usage = AudioThreadUsage::now();
        {
            let control: &mut [u8] = bytemuck_bytes(&mut self.control);
            let notify: &mut [u8] = bytemuck_bytes(&mut self.notify);
            let pending = &self.pending;
            let controls = &mut self.controls;
            let enabled = &mut self.enabled;
            let latency = &mut self.latency;
            assert_no_alloc(|| {
                // Control port: a sequence of the pending events.
                match &raw {
                    Some(bytes) => {
                        control.fill(0);
                        control[..bytes.len()].copy_from_slice(bytes);
                    }
                    None => {
                        let size = 8 + pending.len() as u32;
                        control[..4].copy_from_slice(&size.to_ne_bytes());
                        control[4..8].copy_from_slice(&atom_sequence.to_ne_bytes());
                        control[8..16].fill(0); // unit 0 (frames), pad
                        control[16..16 + pending.len()].copy_from_slice(pending);
                    }
                }
                // Notify port: an empty chunk of the buffer's capacity.
                // Garbage where the plugin writes (it must not rely on zeros).
                let dirty = (capacity as usize + 8).min(2048);
                notify[..dirty].fill(0xAA);
                notify[..4].copy_from_slice(&capacity.to_ne_bytes());
                notify[4..8].copy_from_slice(&atom_chunk.to_ne_bytes());
                // SAFETY: connecting live buffers of the right types and
                // sizes, then one run() of `frames` frames.
                unsafe {
                    let connect = descriptor.connect_port.unwrap();
                    connect(handle, port::IN, inputs[0].as_ptr() as *mut c_void);
                    connect(handle, port::OUT, outputs[0].as_mut_ptr().cast());
                    connect(handle, port::CONTROL, control.as_mut_ptr().cast());
                    connect(handle, port::NOTIFY, notify.as_mut_ptr().cast());
                    connect(handle, port::ENABLED, (enabled as *mut f32).cast());
                    connect(handle, port::LATENCY, (latency as *mut f32).cast());
                    for (i, value) in controls.iter_mut().enumerate() {
                        connect(
                            handle,
                            port::FIRST_CONTROL + i as u32,
                            (value as *mut f32).cast(),
                        );
                    }
                    if channels == 2 {
                        connect(handle, port::IN_R, inputs[1].as_ptr() as *mut c_void);
                        connect(handle, port::OUT_R, outputs[1].as_mut_ptr().cast());
                    }
                    (descriptor.run.unwrap())(handle, frames as u32);
                }
            });
        }
        let mut usage = usage.since();
        self.alloc_violations += violation_count() - before;
        self.pending.clear();
        self.read_notify();
        self.runs += 1;
        self.frames += frames;
        self.serve_worker(&mut usage);
        self.audio_faults.push(usage.faults);
        self.audio_cpu_ns.push(usage.cpu_ns);
    }

    /// Runs the plugin over whole signals in blocks of `block` frames.
    pub fn run_signal(&mut self, inputs: &[&[f32]], block: usize) -> Vec<Vec<f32>> {
        assert!(block > 0);
        let len = inputs[0].len();
        let mut outputs = vec![vec![0.0f32; len]; inputs.len()];
        let mut start = 0;
        while start < len {
            let n = block.min(len - start);
            let ins: Vec<&[f32]> = inputs.iter().map(|b| &b[start..start + n]).collect();
            let mut outs: Vec<&mut [f32]> = outputs
                .iter_mut()
                .map(|b| &mut b[start..start + n])
                .collect();
            self.run(&ins, &mut outs);
            start += n;
        }
        outputs
    }

    /// Mono convenience for [`Host::run_signal`].
    pub fn run_mono(&mut self, input: &[f32], block: usize) -> Vec<f32> {
        self.run_signal(&[input], block).remove(0)
    }

    /// Runs the queued jobs (as the worker thread would) and delivers the
    /// responses (as the host does between two cycles).
    fn serve_worker(&mut self, audio: &mut AudioThreadUsage) {
        let worker = self.worker.unwrap();
        loop {
            let queue = self.queue();
            if queue.bytes.is_empty() {
                break;
            }
            let bytes = std::mem::take(&mut queue.bytes);
            queue.bytes = Vec::with_capacity(queue.capacity);
            let mut responses: Vec<Vec<u8>> = Vec::new();
            let mut at = 0;
            while at < bytes.len() {
                let size = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                let job = &bytes[at + 4..at + 4 + size];
                at += 4 + size;
                if job.get(..4) == Some(&3u32.to_ne_bytes()[..]) {
                    self.free_jobs += 1;
                }
                // SAFETY: the plugin's work() with its own job bytes and our
                // respond function (worker context: may allocate).
                let status = unsafe {
                    (worker.work.unwrap())(
                        self.handle,
                        Some(respond),
                        (&mut responses as *mut Vec<Vec<u8>>).cast(),
                        size as u32,
                        job.as_ptr().cast(),
                    )
                };
                assert_eq!(status, sys::LV2_Worker_Status_LV2_WORKER_SUCCESS);
                self.jobs_run += 1;
            }
            if responses.is_empty() {
                continue;
            }
            let handle = self.handle;
            let before = violation_count();
            let usage = AudioThreadUsage::now();
            assert_no_alloc(|| {
                for response in &responses {
                    // SAFETY: delivering the plugin's own response bytes once.
                    let status = unsafe {
                        (worker.work_response.unwrap())(
                            handle,
                            response.len() as u32,
                            response.as_ptr().cast(),
                        )
                    };
                    assert_eq!(status, sys::LV2_Worker_Status_LV2_WORKER_SUCCESS);
                }
                if let Some(end_run) = worker.end_run {
                    // SAFETY: a live instance.
                    unsafe { end_run(handle) };
                }
            });
            audio.add(usage.since());
            self.alloc_violations += violation_count() - before;
            self.responses += responses.len();
            self.responses_at.push(self.frames);
        }
    }

    fn read_notify(&mut self) {
        let bytes: Vec<u8> = bytemuck_bytes(&mut self.notify).to_vec();
        let word = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let size = word(0) as usize;
        let type_ = word(4);
        let sequence = self.urid(&atom_uri("Sequence"));
        if type_ != sequence {
            // Nothing written (still the host's chunk) is fine too.
            assert_eq!(type_, self.urid(&atom_uri("Chunk")), "notify type");
            return;
        }
        let end = 8 + size;
        assert!(end <= 8 + self.notify_capacity.min(ATOM_PORT_BYTES - 8));
        if size < 8 {
            // No room even for the sequence's body header: no events.
            return;
        }
        let mut at = 16; // atom header + sequence body header
        let mut events = Vec::new();
        while at < end {
            // An event: time stamp (8), atom header (8), body. The whole
            // event must lie inside the sequence's size (the last one's
            // padding may be left out: rust-lv2 does, LV2's forge does not;
            // hosts' iterators accept both).
            if at + 16 > end {
                self.malformed_notify += 1;
                break;
            }
            let atom_size = word(at + 8) as usize;
            let atom_type = word(at + 12);
            if at + 16 + atom_size > end {
                self.malformed_notify += 1;
                break;
            }
            let body = bytes[at + 16..at + 16 + atom_size].to_vec();
            events.push((atom_type, body));
            at += 16 + atom_size.div_ceil(8) * 8;
        }
        for (atom_type, body) in events {
            match self.parse_patch_set(atom_type, &body) {
                Some(echo) => self.echoes.push(echo),
                None => self.other_notify += 1,
            }
        }
    }

    /// A complete `patch:Set {property: URID, value: NUL-terminated text}`
    /// object; anything else (incomplete, other types) gives `None`.
    fn parse_patch_set(&self, atom_type: u32, body: &[u8]) -> Option<Echo> {
        if atom_type != self.urid(&atom_uri("Object")) {
            return None;
        }
        let word = |at: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(body.get(at..at + 4)?.try_into().ok()?))
        };
        if word(4)? != self.urid(&patch_uri("Set")) {
            return None;
        }
        let mut at = 8;
        let (mut property, mut value) = (None, None);
        while at < body.len() {
            let key = word(at)?;
            let size = word(at + 8)? as usize;
            let type_ = word(at + 12)?;
            let data = body.get(at + 16..at + 16 + size)?;
            if key == self.urid(&patch_uri("property")) {
                if type_ != self.urid(&atom_uri("URID")) || size != 4 {
                    return None;
                }
                property = self.urid_map().unmap(word(at + 16)?);
            } else if key == self.urid(&patch_uri("value")) {
                let end = data.iter().position(|&b| b == 0)?;
                value = Some((
                    String::from_utf8(data[..end].to_vec()).ok()?,
                    self.urid_map().unmap(type_)?,
                ));
            }
            at += 16 + size.div_ceil(8) * 8;
        }
        let (path, value_type) = value?;
        Some(Echo {
            property: property?,
            path,
            value_type,
            run: self.runs,
        })
    }

    /// The echoes received since `since` (an index into [`Host::echoes`]).
    pub fn echoes_since(&self, since: usize) -> &[Echo] {
        &self.echoes[since..]
    }

    /// The latest echoed path of `property`.
    pub fn echoed(&self, property: &str) -> Option<&str> {
        self.echoes
            .iter()
            .rev()
            .find(|e| e.property == property)
            .map(|e| e.path.as_str())
    }

    // ------------------------------------------------------------ state

    /// `save()`: the stored properties, keys and types as URIs.
    pub fn save(&mut self, paths: PathFeatures<'_>) -> (sys::LV2_State_Status, Vec<Stored>) {
        let state = self.state.unwrap();
        let mut entries: Vec<(u32, Vec<u8>, u32, u32)> = Vec::new();
        let handle = self.handle;
        let status = with_path_features(paths, |features| {
            // SAFETY: the plugin's save with our store function and handle.
            unsafe {
                (state.save.unwrap())(
                    handle,
                    Some(store),
                    (&mut entries as *mut Vec<(u32, Vec<u8>, u32, u32)>).cast(),
                    (sys::LV2_State_Flags::LV2_STATE_IS_POD
                        | sys::LV2_State_Flags::LV2_STATE_IS_PORTABLE)
                        .0,
                    features,
                )
            }
        });
        let map = self.urid_map();
        let stored = entries
            .into_iter()
            .map(|(key, value, type_, flags)| Stored {
                key: map.unmap(key).expect("key mapped"),
                value,
                type_: map.unmap(type_).expect("type mapped"),
                flags,
            })
            .collect();
        (status, stored)
    }

    /// `restore()` of properties (keys and types mapped in this host).
    pub fn restore(&mut self, stored: &[Stored], paths: PathFeatures<'_>) -> sys::LV2_State_Status {
        let state = self.state.unwrap();
        let entries: Vec<(u32, Vec<u8>, u32, u32)> = stored
            .iter()
            .map(|s| {
                (
                    self.urid(&s.key),
                    s.value.clone(),
                    self.urid(&s.type_),
                    s.flags,
                )
            })
            .collect();
        let handle = self.handle;
        with_path_features(paths, |features| {
            // SAFETY: the plugin's restore with our retrieve function; no
            // flags, like jalv and lilv.
            unsafe {
                (state.restore.unwrap())(
                    handle,
                    Some(retrieve),
                    (&entries as *const Vec<(u32, Vec<u8>, u32, u32)>)
                        .cast_mut()
                        .cast(),
                    0,
                    features,
                )
            }
        })
    }

    /// A `Stored` atom:Path property, as a host would read it from a session.
    pub fn path_property(key: &str, path: &str) -> Stored {
        Stored {
            key: key.to_owned(),
            value: c_text(path),
            type_: atom_uri("Path"),
            flags: 0,
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // SAFETY: a live instance, cleaned up once; then the feature data
        // nothing refers to any more.
        unsafe {
            (self.descriptor.deactivate.unwrap())(self.handle);
            (self.descriptor.cleanup.unwrap())(self.handle);
            drop(Box::from_raw(self.map));
            drop(Box::from_raw(self.map_feature));
            drop(Box::from_raw(self.unmap_feature));
            drop(Box::from_raw(self.queue));
            drop(Box::from_raw(self.schedule_feature));
        }
    }
}

fn bytemuck_bytes(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 has no padding and any byte pattern is valid for u8.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 8) }
}

// ---------------------------------------------------------------- signals

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

pub fn demo(name: &str) -> PathBuf {
    root().join("examples/demo").join(name)
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("../shared/fixtures").join(name)
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `seconds` of the bundled DI recording (mono, as f32), from `offset` s.
pub fn di(offset: f64, seconds: f64) -> Vec<f32> {
    let mut reader = hound::WavReader::open(demo("di.wav")).expect("di.wav");
    let spec = reader.spec();
    let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(|s| s.unwrap()).collect(),
        hound::SampleFormat::Int => reader
            .samples::<i32>()
            .map(|s| s.unwrap() as f32 * scale)
            .collect(),
    };
    let channels = spec.channels as usize;
    let mono: Vec<f32> = samples.chunks(channels).map(|c| c[0]).collect();
    let rate = spec.sample_rate as f64;
    let start = (offset * rate) as usize;
    let end = (start + (seconds * rate) as usize).min(mono.len());
    mono[start..end].to_vec()
}

/// A sine of `amplitude` at `hz`.
pub fn sine(len: usize, rate: f64, hz: f64, amplitude: f32) -> Vec<f32> {
    (0..len)
        .map(|i| (amplitude as f64 * (std::f64::consts::TAU * hz * i as f64 / rate).sin()) as f32)
        .collect()
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("nam-lv2-in-process-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------- reference

/// The files of a rig: (model, input IR, cab IR).
pub fn files(model: Option<&Path>, input_ir: Option<&Path>, cab: Option<&Path>) -> RigFiles {
    use nam_lv2::rig::FileSlot;
    let mut files = RigFiles::default();
    files.set(FileSlot::Model, model.map(Path::to_owned));
    files.set(FileSlot::InputIr, input_ir.map(Path::to_owned));
    files.set(FileSlot::CabIr, cab.map(Path::to_owned));
    files
}

/// The plugin's chain for `files` (default controls) as `nam-graph run` builds
/// it from its `chain.toml` ([`reference_chain`]), run over `inputs` cut the way the plugin cuts them:
/// host blocks of `block` frames, each split into 256-frame steps.
pub fn reference(files: &RigFiles, rate: f64, inputs: &[&[f32]], block: usize) -> Vec<Vec<f32>> {
    reference_with(files, &Controls::default(), rate, inputs, block)
}

/// [`reference`] with other control values.
pub fn reference_with(
    files: &RigFiles,
    controls: &Controls,
    rate: f64,
    inputs: &[&[f32]],
    block: usize,
) -> Vec<Vec<f32>> {
    let mut graph = reference_chain(files, controls)
        .build(rate, inputs.len())
        .unwrap();
    let len = inputs[0].len();
    let mut outputs = vec![vec![0.0f32; len]; inputs.len()];
    let mut start = 0;
    while start < len {
        let end = (start + block).min(len);
        let mut at = start;
        while at < end {
            let n = 256.min(end - at);
            let ins: Vec<&[f32]> = inputs.iter().map(|b| &b[at..at + n]).collect();
            let mut outs: Vec<&mut [f32]> =
                outputs.iter_mut().map(|b| &mut b[at..at + n]).collect();
            graph.process(&ins, &mut outs);
            at += n;
        }
        start = end;
    }
    outputs
}

/// Latency of the reference chain for `files` at `rate`.
pub fn reference_latency(files: &RigFiles, rate: f64) -> usize {
    reference_chain(files, &Controls::default())
        .build(rate, 1)
        .unwrap()
        .latency_frames()
}

/// The plugin's chain written as `chain.toml` and read back, as `nam-graph
/// run` reads it; it must be the plugin's spec exactly.
pub fn reference_chain(files: &RigFiles, controls: &Controls) -> Chain {
    let spec = chain_spec(files, controls);
    let text = toml::to_string(&spec).unwrap();
    let chain = Chain::parse(&text, Path::new("/reference/chain.toml")).unwrap();
    assert_eq!(chain.spec(), &spec, "the spec survives chain.toml:\n{text}");
    chain
}

/// The control ports' default values.
pub fn default_controls() -> [f32; port::CONTROLS] {
    nam_lv2::controls::Control::ALL.map(|c| c.spec().default)
}

/// Largest absolute difference.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Largest sample-to-sample step.
pub fn max_step(a: &[f32]) -> f32 {
    a.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

pub fn rms(a: &[f32]) -> f32 {
    (a.iter().map(|x| x * x).sum::<f32>() / a.len().max(1) as f32).sqrt()
}

pub fn all_finite(a: &[f32]) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Page faults and CPU time of the calling thread (`getrusage` and the
/// thread's CPU clock: neither allocates, so they may bracket a `run()`).
#[derive(Clone, Copy, Default)]
pub struct AudioThreadUsage {
    pub faults: u64,
    pub cpu_ns: u64,
}

impl AudioThreadUsage {
    /// The calling thread's totals so far.
    pub fn now() -> Self {
        // SAFETY: plain calls filling caller-owned structs.
        unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
            let mut time: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time);
            Self {
                faults: (usage.ru_minflt + usage.ru_majflt) as u64,
                cpu_ns: time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64,
            }
        }
    }

    /// What the calling thread used since `self` was taken.
    pub fn since(self) -> Self {
        let now = Self::now();
        Self {
            faults: now.faults - self.faults,
            cpu_ns: now.cpu_ns - self.cpu_ns,
        }
    }

    /// Adds `other`'s usage to this one.
    pub fn add(&mut self, other: Self) {
        self.faults += other.faults;
        self.cpu_ns += other.cpu_ns;
    }
}
