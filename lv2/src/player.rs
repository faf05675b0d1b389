//! The audio-thread side of the plugin, independent of LV2: runs the current
//! [`Rig`], crossfades to a new one when it arrives, crossfades to the dry
//! signal on bypass, and guarantees finite output.
//!
//! Nothing here allocates, locks or blocks after [`RigPlayer::new`]; rigs arrive
//! built (from the worker) and leave through [`RigPlayer::take_retired`] so they
//! are dropped off the audio thread.

use crate::controls::{Control, Controls};
use crate::rig::Rig;

/// Frames processed per internal step (host buffers of any size are split).
const CHUNK_FRAMES: usize = 256;

/// Length of the crossfades (rig swap, bypass), in seconds: the graph's ramp time.
const FADE_SECONDS: f64 = nam_graph::param::RAMP_MS / 1000.0;

/// The largest latency the dry path can be delayed by to stay aligned with
/// the wet path while bypassing (far above the resampler's 96 frames).
const MAX_DRY_DELAY_FRAMES: usize = 8192;

/// Rigs that can wait for the worker to free them. The plugin hands each
/// retired rig to the worker right away, so more than two wait only while the
/// host's worker queue refuses work.
const RETIRED_SLOTS: usize = 8;

/// Mono or stereo audio processing around the current rig.
pub struct RigPlayer {
    channels: usize,
    fade_frames: usize,
    current: Box<Rig>,
    /// The rig being faded out after a swap, and how far the fade has gone.
    previous: Option<(Box<Rig>, usize)>,
    /// Rigs done with, waiting to be handed to a non-real-time thread.
    retired: [Option<Box<Rig>>; RETIRED_SLOTS],
    controls: Controls,
    /// Bypass crossfade: 1 = fully processed, 0 = fully dry.
    wet: f32,
    enabled: bool,
    /// The next processing starts at the current control values and bypass
    /// state without ramps (set when the player starts afresh: instantiation,
    /// activation, state restore).
    snap_pending: bool,
    dry_delay: [DelayLine; 2],
    wet_buffers: [Vec<f32>; 2],
    fade_buffers: [Vec<f32>; 2],
    dry_buffers: [Vec<f32>; 2],
    /// The host's input with non-finite samples replaced by silence.
    input_buffers: [Vec<f32>; 2],
    /// Number of times a rig produced a non-finite sample (and was reset).
    recoveries: u64,
}

impl RigPlayer {
    /// Creates the player for `channels` (1 or 2) at `sample_rate_hz`, playing
    /// `rig`. Allocates: call off the audio thread.
    pub fn new(rig: Box<Rig>, controls: Controls, channels: usize, sample_rate_hz: f64) -> Self {
        let buffers = || [vec![0.0; CHUNK_FRAMES], vec![0.0; CHUNK_FRAMES]];
        let mut player = Self {
            channels: channels.clamp(1, 2),
            fade_frames: ((sample_rate_hz * FADE_SECONDS) as usize).max(1),
            current: rig,
            previous: None,
            retired: Default::default(),
            controls,
            wet: 1.0,
            enabled: true,
            snap_pending: true,
            dry_delay: [
                DelayLine::new(MAX_DRY_DELAY_FRAMES),
                DelayLine::new(MAX_DRY_DELAY_FRAMES),
            ],
            wet_buffers: buffers(),
            fade_buffers: buffers(),
            dry_buffers: buffers(),
            input_buffers: buffers(),
            recoveries: 0,
        };
        player.current.set_controls(&controls);
        player
    }

    /// The rig playing now (or fading in).
    pub fn current(&self) -> &Rig {
        &self.current
    }

    /// Latency of the output relative to the input, in frames.
    pub fn latency_frames(&self) -> usize {
        self.current.latency_frames()
    }

    /// How often a rig produced NaN/Inf and was reset (output stays finite).
    pub fn recoveries(&self) -> u64 {
        self.recoveries
    }

    /// Sets a control on every live rig. Audio thread.
    pub fn set_control(&mut self, control: Control, value: f32) {
        if self.controls.set(control, value) {
            let value = self.controls.get(control);
            self.current.set_control(control, value);
            if let Some((rig, _)) = &mut self.previous {
                rig.set_control(control, value);
            }
        }
    }

    /// The current control values.
    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    /// Turns processing on or off (`lv2:enabled`); the change is crossfaded.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Starts playing `rig`, crossfading from the current one. If a previous
    /// swap is still fading, that older rig is retired at once. Audio thread;
    /// allocation-free.
    pub fn install(&mut self, mut rig: Box<Rig>) {
        rig.set_controls(&self.controls);
        let old = std::mem::replace(&mut self.current, rig);
        if let Some((older, _)) = self.previous.replace((old, 0)) {
            self.retire(older);
        }
    }

    /// Replaces the rig at once, without crossfade (e.g. on state restore,
    /// while the host is not running the plugin). Returns the old rigs.
    pub fn replace(&mut self, mut rig: Box<Rig>) -> Vec<Box<Rig>> {
        rig.set_controls(&self.controls);
        self.snap_pending = true;
        let mut old = vec![std::mem::replace(&mut self.current, rig)];
        old.extend(self.previous.take().map(|(r, _)| r));
        old.extend(self.retired.iter_mut().filter_map(Option::take));
        old
    }

    /// A rig no longer used, to be dropped off the audio thread.
    pub fn take_retired(&mut self) -> Option<Box<Rig>> {
        self.retired.iter_mut().find_map(Option::take)
    }

    /// Puts a rig back after it could not be handed off; it is offered again.
    pub fn keep_retired(&mut self, rig: Box<Rig>) {
        self.retire(rig);
    }

    fn retire(&mut self, rig: Box<Rig>) {
        match self.retired.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(rig),
            // Every slot full: the host's worker has refused work for a long
            // time. Dropping here would free memory on the audio thread;
            // leaking the oldest rig is the lesser harm.
            None => std::mem::forget(self.retired[0].replace(rig)),
        }
    }

    /// Clears all state of the live rigs and delay lines. Audio thread.
    pub fn reset(&mut self) {
        self.current.reset();
        if let Some((rig, _)) = self.previous.take() {
            self.retire(rig);
        }
        for line in &mut self.dry_delay {
            line.clear();
        }
        self.snap_pending = true;
    }

    /// Processes one host buffer per channel (any length, all equal).
    /// Audio thread; allocation-free; the output is always finite.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if self.snap_pending {
            // The host has just set every control and the bypass for the
            // first time since a fresh start: no ramps from the defaults.
            self.snap_pending = false;
            self.current.snap_controls();
            self.wet = if self.enabled { 1.0 } else { 0.0 };
        }
        let channels = self.channels.min(inputs.len()).min(outputs.len());
        let frames = inputs[..channels]
            .iter()
            .map(|b| b.len())
            .chain(outputs[..channels].iter().map(|b| b.len()))
            .min()
            .unwrap_or(0);
        let mut start = 0;
        while start < frames {
            let n = CHUNK_FRAMES.min(frames - start);
            self.process_chunk(channels, start, n, inputs, outputs);
            start += n;
        }
    }

    fn process_chunk(
        &mut self,
        channels: usize,
        start: usize,
        n: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) {
        let latency = self.latency_frames().min(MAX_DRY_DELAY_FRAMES);
        // A NaN or Inf from the host would poison every filter; it becomes 0.
        for (input, buffer) in inputs[..channels].iter().zip(&mut self.input_buffers) {
            for (x, y) in input[start..start + n].iter().zip(&mut buffer[..n]) {
                *y = if x.is_finite() { *x } else { 0.0 };
            }
        }
        // Dry path, delayed like the wet one so bypass stays aligned.
        let dry = self.dry_delay.iter_mut().zip(&mut self.dry_buffers);
        for (input, (line, buffer)) in self.input_buffers[..channels].iter().zip(dry) {
            line.process(latency, &input[..n], &mut buffer[..n]);
        }
        // The chain keeps running while bypassed, so that turning it back on
        // crossfades into a chain in its steady state (resetting a model
        // costs a receptive field of computation in one callback).
        self.run_rigs(channels, n);
        let step = 1.0 / self.fade_frames as f32;
        let target = if self.enabled { 1.0 } else { 0.0 };
        let mut wet = self.wet;
        for (c, output) in outputs[..channels].iter_mut().enumerate() {
            let out = &mut output[start..start + n];
            let dry = &self.dry_buffers[c][..n];
            let wet_buffer = &self.wet_buffers[c][..n];
            wet = self.wet;
            for ((o, &d), &w) in out.iter_mut().zip(dry).zip(wet_buffer) {
                wet = approach(wet, target, step);
                *o = if wet >= 1.0 {
                    w
                } else if wet <= 0.0 {
                    d
                } else {
                    d + (w - d) * wet
                };
            }
        }
        self.wet = wet;
    }

    fn run_rigs(&mut self, channels: usize, n: usize) {
        let [left, right] = &self.input_buffers;
        let ins: [&[f32]; 2] = [&left[..n], &right[..n]];
        {
            let [a, b] = &mut self.wet_buffers;
            let mut outs: [&mut [f32]; 2] = [&mut a[..n], &mut b[..n]];
            self.current
                .process(&ins[..channels], &mut outs[..channels]);
            if !all_finite(&outs[..channels]) {
                self.recoveries += 1;
                self.current.reset();
                for out in &mut outs[..channels] {
                    out.fill(0.0);
                }
            }
        }
        let Some((previous, done)) = &mut self.previous else {
            return;
        };
        {
            let [a, b] = &mut self.fade_buffers;
            let mut outs: [&mut [f32]; 2] = [&mut a[..n], &mut b[..n]];
            previous.process(&ins[..channels], &mut outs[..channels]);
            if !all_finite(&outs[..channels]) {
                self.recoveries += 1;
                for out in &mut outs[..channels] {
                    out.fill(0.0);
                }
            }
        }
        let total = self.fade_frames;
        for c in 0..channels {
            let new = &mut self.wet_buffers[c][..n];
            let old = &self.fade_buffers[c][..n];
            for (i, (w, &o)) in new.iter_mut().zip(old).enumerate() {
                let t = ((*done + i) as f32 / total as f32).min(1.0);
                *w = o + (*w - o) * t;
            }
        }
        *done += n;
        if *done >= total {
            if let Some((rig, _)) = self.previous.take() {
                self.retire(rig);
            }
        }
    }
}

fn approach(value: f32, target: f32, step: f32) -> f32 {
    if value < target {
        (value + step).min(target)
    } else {
        (value - step).max(target)
    }
}

/// Whether every sample is finite (a branch-free sum over `x * 0`, which is
/// NaN exactly for NaN and infinite samples).
fn all_finite(buffers: &[&mut [f32]]) -> bool {
    buffers
        .iter()
        .all(|b| b.iter().fold(0.0f32, |acc, &x| acc + x * 0.0) == 0.0)
}

/// A delay line whose delay may change between calls (up to its capacity).
struct DelayLine {
    buffer: Vec<f32>,
    write: usize,
}

impl DelayLine {
    fn new(capacity: usize) -> Self {
        Self {
            buffer: vec![0.0; capacity + CHUNK_FRAMES],
            write: 0,
        }
    }

    fn clear(&mut self) {
        self.buffer.fill(0.0);
    }

    /// Writes `input` and reads it back `delay` frames late into `output`.
    fn process(&mut self, delay: usize, input: &[f32], output: &mut [f32]) {
        let len = self.buffer.len();
        for (x, y) in input.iter().zip(output.iter_mut()) {
            self.buffer[self.write] = *x;
            *y = self.buffer[(self.write + len - delay) % len];
            self.write = (self.write + 1) % len;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rig::RigFiles;
    use nam_graph::ReadFiles;

    fn player(rate: f64) -> RigPlayer {
        let controls = Controls::default();
        let rig = Rig::build(&RigFiles::default(), &controls, rate, 1, &mut ReadFiles).unwrap();
        RigPlayer::new(Box::new(rig), controls, 1, rate)
    }

    #[test]
    fn non_finite_input_gives_finite_output() {
        let mut player = player(48_000.0);
        let mut input: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        input[100] = f32::NAN;
        input[2000] = f32::INFINITY;
        input[3000] = f32::NEG_INFINITY;
        let mut output = vec![0.0; input.len()];
        player.process(&[&input], &mut [&mut output]);
        assert!(output.iter().all(|x| x.is_finite()));
        assert_eq!(player.recoveries(), 0, "sanitized before the chain");
        assert!(output[3500].abs() > 0.0, "signal still passes");
    }

    #[test]
    fn bypass_crossfades_to_the_input_without_a_jump() {
        let rate = 48_000.0;
        let mut player = player(rate);
        player.set_control(Control::OutputGainDb, -20.0);
        let input = vec![0.5f32; 48_000];
        let mut output = vec![0.0; input.len()];
        player.process(&[&input[..24_000]], &mut [&mut output[..24_000]]);
        assert!(
            (output[23_999] - 0.05).abs() < 1e-3,
            "processed: {}",
            output[23_999]
        );
        player.set_enabled(false);
        player.process(&[&input[24_000..]], &mut [&mut output[24_000..]]);
        let fade = (rate * FADE_SECONDS) as usize;
        assert_eq!(output[24_000 + fade + 10], 0.5, "fully dry after the fade");
        let steps = output[23_999..24_000 + fade + 2].windows(2);
        let largest = steps.map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
        assert!(largest < 0.45 / fade as f32 * 1.5, "no jump: {largest}");
    }
}
