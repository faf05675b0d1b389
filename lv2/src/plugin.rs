//! The LV2 plugin: ports, instantiation and `run()`, on `lv2-core`.
//!
//! Two plugin types share this code: mono (`urn:nam-graph:amp`) and stereo
//! (`urn:nam-graph:amp-stereo`, one chain per channel). Their ports differ
//! only by the right channel's two audio ports, which come last.

use std::any::Any;
use std::sync::Arc;

use lv2_atom::prelude::*;
use lv2_core::prelude::*;
use lv2_sys as sys;
use lv2_urid::LV2Map;
use nam_graph::ReadFiles;
use urid::{Uri, UriBound};

use crate::controls::{Control, Controls};
use crate::denormals::DenormalGuard;
use crate::log::{Level, LogFeature, Logger};
use crate::patch::{decode, Incoming, NotifyPort, Urids};
use crate::player::RigPlayer;
use crate::rig::{FileSlot, Rig, RigFiles};
use crate::shared::Shared;
use crate::state::{self, StateDescriptor, StateHost};
use crate::worker::{Job, JobEncoder, Reply, ReplyHandler, ScheduleFeature, WorkerDescriptor};

/// The plugin's ports, in port index order (see `ttl/`).
#[derive(PortCollection)]
pub struct Ports {
    input: InputPort<Audio>,
    output: OutputPort<Audio>,
    control: Option<InputPort<AtomPort>>,
    notify: Option<OutputPort<NotifyPort>>,
    enabled: Option<InputPort<lv2_core::port::Control>>,
    latency: Option<OutputPort<lv2_core::port::Control>>,
    input_gain_db: Option<InputPort<lv2_core::port::Control>>,
    gate_threshold_db: Option<InputPort<lv2_core::port::Control>>,
    bass: Option<InputPort<lv2_core::port::Control>>,
    middle: Option<InputPort<lv2_core::port::Control>>,
    treble: Option<InputPort<lv2_core::port::Control>>,
    output_mode: Option<InputPort<lv2_core::port::Control>>,
    target_loudness_db: Option<InputPort<lv2_core::port::Control>>,
    input_level_dbu: Option<InputPort<lv2_core::port::Control>>,
    output_level_dbu: Option<InputPort<lv2_core::port::Control>>,
    input_ir_enabled: Option<InputPort<lv2_core::port::Control>>,
    cab_enabled: Option<InputPort<lv2_core::port::Control>>,
    output_gain_db: Option<InputPort<lv2_core::port::Control>>,
    model_size: Option<InputPort<lv2_core::port::Control>>,
    input_right: Option<InputPort<Audio>>,
    output_right: Option<OutputPort<Audio>>,
}

impl Ports {
    /// The control inputs in [`Control::ALL`] order.
    fn controls(&self) -> [Option<f32>; 13] {
        [
            &self.input_gain_db,
            &self.gate_threshold_db,
            &self.bass,
            &self.middle,
            &self.treble,
            &self.output_mode,
            &self.target_loudness_db,
            &self.input_level_dbu,
            &self.output_level_dbu,
            &self.input_ir_enabled,
            &self.cab_enabled,
            &self.output_gain_db,
            &self.model_size,
        ]
        .map(|port| port.as_ref().map(|p| **p))
    }
}

/// Host features used while instantiating.
#[derive(FeatureCollection)]
pub struct InitFeatures<'a> {
    map: LV2Map<'a>,
    log: Option<LogFeature>,
    schedule: Option<ScheduleFeature>,
}

/// Host features used in `run()`.
#[derive(FeatureCollection)]
pub struct AudioFeatures {
    schedule: Option<ScheduleFeature>,
}

/// The rig player, touched only from the host's serialized audio-context calls
/// (`run`, `work_response`, `activate`, `restore`).
struct PlayerCell(RigPlayer);

// SAFETY: LV2 never calls run/work_response/activate/restore concurrently
// for one instance; `save` (which may be concurrent) reads only `Shared`,
// found through `state::register`, never through the plugin.
unsafe impl Sync for PlayerCell {}

/// The NAM amp plugin; `STEREO` selects the stereo variant.
pub struct NamPlugin<const STEREO: bool> {
    /// Also held by the state registry once activated, for `save()`.
    shared: Arc<Shared>,
    player: PlayerCell,
    urids: Urids,
    jobs: JobEncoder,
    /// File slots whose `patch:Set` echo is due (bit per [`FileSlot`]).
    pending_echo: u8,
    /// `run()` panicked once (a bug): outputs silence from then on.
    failed: bool,
}

impl<const STEREO: bool> Drop for NamPlugin<STEREO> {
    fn drop(&mut self) {
        state::unregister(self as *const Self as usize);
    }
}

/// The mono plugin.
pub type MonoPlugin = NamPlugin<false>;
/// The stereo plugin.
pub type StereoPlugin = NamPlugin<true>;

// SAFETY: the plugin URIs, NUL-terminated, as in ttl/nam-graph.ttl.
unsafe impl UriBound for MonoPlugin {
    const URI: &'static [u8] = b"urn:nam-graph:amp\0";
}

// SAFETY: as above.
unsafe impl UriBound for StereoPlugin {
    const URI: &'static [u8] = b"urn:nam-graph:amp-stereo\0";
}

const ALL_SLOTS: u8 = 0b111;

impl<const STEREO: bool> NamPlugin<STEREO>
where
    Self: UriBound,
{
    const CHANNELS: usize = if STEREO { 2 } else { 1 };

    fn new_instance(info: &PluginInfo, features: &mut InitFeatures<'static>) -> Option<Self> {
        let logger = Logger::new(features.log.as_ref(), &features.map);
        let Some(urids) = Urids::new(&features.map) else {
            logger.log(Level::Error, "the host could not map the plugin's URIs");
            return None;
        };
        let rate = info.sample_rate();
        if !(8_000.0..=768_000.0).contains(&rate) {
            logger.log(
                Level::Error,
                &format!("sample rate {rate} Hz is not supported (8 kHz to 768 kHz)"),
            );
            return None;
        }
        if features.schedule.is_none() {
            logger.log(
                Level::Warning,
                "the host offers no worker: model and IR files cannot be loaded, the chain runs without them",
            );
        }
        let file_keys = urids.files.map(|u| u.get());
        let shared = Arc::new(Shared::new(
            rate,
            Self::CHANNELS,
            logger,
            file_keys,
            urids.path.get(),
        ));
        let controls = Controls::default();
        // No files yet: nothing is read.
        let no_files = RigFiles::default();
        let rig = match Rig::build(&no_files, &controls, rate, Self::CHANNELS, &mut ReadFiles) {
            Ok(rig) => Box::new(rig),
            Err(error) => {
                shared
                    .logger
                    .log(Level::Error, &format!("cannot build the chain: {error}"));
                return None;
            }
        };
        Some(Self {
            player: PlayerCell(RigPlayer::new(rig, controls, Self::CHANNELS, rate)),
            shared,
            urids,
            jobs: JobEncoder::default(),
            pending_echo: 0,
            failed: false,
        })
    }

    fn schedule(&mut self, features: &AudioFeatures, job: Job) -> bool {
        let shared: *const Shared = &*self.shared;
        match (&features.schedule, self.jobs.encode(shared, &job)) {
            (Some(schedule), Some(bytes)) => schedule.schedule(bytes),
            _ => false,
        }
    }

    fn handle_events(&mut self, ports: &Ports, features: &AudioFeatures) {
        let Some(control) = &ports.control else {
            return;
        };
        let Some(sequence) = control.read(self.urids.atom.sequence, self.urids.units.beat) else {
            return;
        };
        for (_, atom) in sequence {
            match decode(atom, &self.urids) {
                Some(Incoming::SetFile { slot, path }) => {
                    if !self.schedule(features, Job::Load { slot, path }) {
                        // Not loaded (no worker, queue full, path too long):
                        // tell the UI which file is still in use.
                        self.pending_echo |= 1 << slot.index();
                    }
                }
                Some(Incoming::Get(Some(slot))) => self.pending_echo |= 1 << slot.index(),
                Some(Incoming::Get(None)) => self.pending_echo = ALL_SLOTS,
                Some(Incoming::Program(program)) => {
                    self.schedule(features, Job::Program(program));
                }
                Some(Incoming::SetUnknown) | None => {}
            }
        }
    }

    fn hand_off_retired(&mut self, features: &AudioFeatures) {
        while let Some(rig) = self.player.0.take_retired() {
            let pointer = Box::into_raw(rig);
            if !self.schedule(features, Job::Free(pointer)) {
                // SAFETY: not scheduled, so we still own it; retried next run.
                self.player
                    .0
                    .keep_retired(unsafe { Box::from_raw(pointer) });
                break;
            }
        }
    }

    fn write_echoes(&mut self, ports: &mut Ports) {
        let Some(notify) = &mut ports.notify else {
            return;
        };
        // SAFETY: `ports` are the ones lv2-core built for this run() call,
        // and the handle never leaves them; the writer dies with this call.
        let mut notify = unsafe { notify.writer() };
        if !notify.begin(&self.urids) {
            return;
        }
        let files = self.player.0.current().files();
        for slot in FileSlot::ALL {
            let bit = 1 << slot.index();
            if self.pending_echo & bit == 0 {
                continue;
            }
            let path = files.get(slot).and_then(|p| p.to_str()).unwrap_or("");
            if !notify.push_set(&self.urids, slot, path) {
                break; // port buffer full: the rest goes out next run
            }
            self.pending_echo &= !bit;
        }
    }

    fn run_inner(&mut self, ports: &mut Ports, features: &mut AudioFeatures) {
        let player = &mut self.player.0;
        for (control, value) in Control::ALL.into_iter().zip(ports.controls()) {
            if let Some(value) = value {
                player.set_control(control, value);
            }
        }
        self.shared.store_controls(player.controls());
        player.set_enabled(ports.enabled.as_ref().is_none_or(|v| **v > 0.5));
        self.handle_events(ports, features);
        self.hand_off_retired(features);

        let player = &mut self.player.0;
        match (STEREO, &ports.input_right, &mut ports.output_right) {
            (true, Some(input_right), Some(output_right)) => player.process(
                &[&ports.input, input_right],
                &mut [&mut ports.output, output_right],
            ),
            _ => player.process(&[&ports.input], &mut [&mut ports.output]),
        }
        if let Some(latency) = &mut ports.latency {
            ***latency = player.latency_frames() as f32;
        }
        self.hand_off_retired(features);
        self.write_echoes(ports);
    }
}

impl<const STEREO: bool> Plugin for NamPlugin<STEREO>
where
    Self: UriBound,
{
    type Ports = Ports;
    type InitFeatures = InitFeatures<'static>;
    type AudioFeatures = AudioFeatures;

    fn new(info: &PluginInfo, features: &mut InitFeatures<'static>) -> Option<Self> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::new_instance(info, features)
        }))
        .ok()
        .flatten()
    }

    fn activate(&mut self, _features: &mut InitFeatures<'static>) {
        // The plugin's address is the instance handle: lv2-core's
        // PluginInstance is repr(C) with the plugin first.
        state::register(self as *const Self as usize, &self.shared);
        self.player.0.reset();
        self.pending_echo = ALL_SLOTS;
    }

    fn run(&mut self, ports: &mut Ports, features: &mut AudioFeatures, _sample_count: u32) {
        let _flush = DenormalGuard::new();
        if !self.failed {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.run_inner(ports, features)
            }));
            self.failed = result.is_err();
        }
        if self.failed {
            ports.output.fill(0.0);
            if let Some(right) = &mut ports.output_right {
                right.fill(0.0);
            }
        }
    }

    fn extension_data(uri: &Uri) -> Option<&'static dyn Any> {
        let uri = uri.to_bytes_with_nul();
        if uri == sys::LV2_WORKER__interface {
            Some(WorkerDescriptor::<Self>::INTERFACE)
        } else if uri == sys::LV2_STATE__interface {
            Some(StateDescriptor::<Self>::INTERFACE)
        } else {
            None
        }
    }
}

impl<const STEREO: bool> ReplyHandler for NamPlugin<STEREO>
where
    Self: UriBound,
{
    fn on_reply(&mut self, reply: Reply, features: &mut AudioFeatures) {
        match reply {
            Reply::Ready(rig) => {
                self.player.0.install(rig);
                self.pending_echo = ALL_SLOTS;
                // Several replies can arrive between two runs: each install
                // may retire a rig, so hand them off at once.
                self.hand_off_retired(features);
            }
            Reply::Failed(slot) => self.pending_echo |= 1 << slot.index(),
        }
    }
}

impl<const STEREO: bool> StateHost for NamPlugin<STEREO>
where
    Self: UriBound,
{
    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn restored(&mut self, rig: Box<Rig>) {
        drop(self.player.0.replace(rig));
        self.pending_echo = ALL_SLOTS;
    }
}
