//! The audio-thread side of `nam-graph live`, independent of JACK: runs the
//! current graph over host buffers of any length, takes a new graph from the
//! main thread without locking and crossfades to it, hands the old one back to
//! be dropped off the audio thread, keeps the output finite and meters peaks.
//!
//! Nothing here allocates, locks or blocks after [`Player::new`].

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use nam_graph::Graph;

/// Frames processed per internal step: host buffers of any size are split
/// into steps this long (the graph splits them further into its own blocks).
const CHUNK_FRAMES: usize = 256;

/// Length of the crossfade to a reloaded graph, in seconds: the graph's own
/// parameter ramp time, as in the LV2 plugin.
const FADE_SECONDS: f64 = nam_graph::param::RAMP_MS / 1000.0;

/// Graphs the audio thread can hold for the main thread to drop. The main
/// thread sends one graph at a time and collects retired ones every 50 ms,
/// so two at most wait at once.
const RETIRED_SLOTS: usize = 4;

/// Levels and counters the audio thread publishes for the status line.
#[derive(Default)]
pub struct Meters {
    /// Largest |input sample| since the last [`Meters::take_peaks`], as f32 bits.
    input_peak: AtomicU32,
    /// Largest |output sample| since the last [`Meters::take_peaks`], as f32 bits.
    output_peak: AtomicU32,
    /// Times a graph produced NaN or infinity (it was reset, the output muted).
    recoveries: AtomicU64,
}

impl Meters {
    /// The input and output peaks (linear, ≥ 0) since the last call, and resets them.
    pub fn take_peaks(&self) -> (f32, f32) {
        let take = |peak: &AtomicU32| f32::from_bits(peak.swap(0, Ordering::Relaxed));
        (take(&self.input_peak), take(&self.output_peak))
    }

    /// How many times a graph produced a non-finite sample and was reset.
    pub fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }

    /// Raises a peak to `value` (≥ 0): the bits of non-negative floats
    /// order like the floats themselves.
    fn raise(peak: &AtomicU32, value: f32) {
        peak.fetch_max(value.to_bits(), Ordering::Relaxed);
    }
}

/// The main thread's end of a [`Player`]: sends new graphs, drops old ones.
pub struct Remote {
    incoming: rtrb::Producer<Box<Graph>>,
    retired: rtrb::Consumer<Box<Graph>>,
    meters: Arc<Meters>,
}

impl Remote {
    /// Hands `graph` to the audio thread, which crossfades to it at its next
    /// buffer. Gives it back if the previous one has not been taken yet.
    pub fn send(&mut self, graph: Box<Graph>) -> Result<(), Box<Graph>> {
        self.incoming
            .push(graph)
            .map_err(|rtrb::PushError::Full(g)| g)
    }

    /// Drops the graphs the audio thread is done with; returns how many.
    pub fn drop_retired(&mut self) -> usize {
        let mut count = 0;
        while let Ok(graph) = self.retired.pop() {
            drop(graph);
            count += 1;
        }
        count
    }

    /// The levels and counters the audio thread publishes.
    pub fn meters(&self) -> &Meters {
        &self.meters
    }
}

/// Plays a graph in real time (see the module documentation).
pub struct Player {
    channels: usize,
    fade_frames: usize,
    current: Box<Graph>,
    /// The graph being faded out after a reload, and how far the fade has gone.
    previous: Option<(Box<Graph>, usize)>,
    incoming: rtrb::Consumer<Box<Graph>>,
    retired: rtrb::Producer<Box<Graph>>,
    meters: Arc<Meters>,
    /// The host's input with non-finite samples replaced by silence.
    input_buffers: [Vec<f32>; 2],
    /// The fading-out graph's output.
    fade_buffers: [Vec<f32>; 2],
}

impl Player {
    /// A player of `graph` (1 or 2 channels in and out) at `sample_rate_hz`,
    /// and its main-thread end. Allocates: call off the audio thread.
    pub fn new(graph: Box<Graph>, channels: usize, sample_rate_hz: f64) -> (Self, Remote) {
        let (incoming_tx, incoming_rx) = rtrb::RingBuffer::new(1);
        let (retired_tx, retired_rx) = rtrb::RingBuffer::new(RETIRED_SLOTS);
        let meters = Arc::new(Meters::default());
        let buffers = || [vec![0.0; CHUNK_FRAMES], vec![0.0; CHUNK_FRAMES]];
        let player = Self {
            channels: channels.clamp(1, 2),
            fade_frames: ((sample_rate_hz * FADE_SECONDS) as usize).max(1),
            current: graph,
            previous: None,
            incoming: incoming_rx,
            retired: retired_tx,
            meters: Arc::clone(&meters),
            input_buffers: buffers(),
            fade_buffers: buffers(),
        };
        let remote = Remote {
            incoming: incoming_tx,
            retired: retired_rx,
            meters,
        };
        (player, remote)
    }

    /// Processes one host buffer per channel (any length; missing channels
    /// read as silence, frames beyond the shortest buffer are zeroed).
    /// Audio thread; allocation-free; the output is always finite.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        if let Ok(graph) = self.incoming.pop() {
            self.install(graph);
        }
        let frames = inputs
            .iter()
            .map(|b| b.len())
            .chain(outputs.iter().map(|b| b.len()))
            .min()
            .unwrap_or(0);
        for out in outputs.iter_mut() {
            out[frames..].fill(0.0);
        }
        let mut start = 0;
        while start < frames {
            let n = CHUNK_FRAMES.min(frames - start);
            self.process_chunk(start, n, inputs, outputs);
            start += n;
        }
    }

    /// Starts playing `graph`, crossfading from the current one; a graph
    /// still fading out from an earlier reload is retired at once.
    fn install(&mut self, graph: Box<Graph>) {
        let old = std::mem::replace(&mut self.current, graph);
        if let Some((older, _)) = self.previous.replace((old, 0)) {
            self.retire(older);
        }
    }

    fn retire(&mut self, graph: Box<Graph>) {
        if let Err(rtrb::PushError::Full(graph)) = self.retired.push(graph) {
            // The main thread has not collected for a long time. Dropping
            // here would free memory on the audio thread: leaking is the
            // lesser harm.
            std::mem::forget(graph);
        }
    }

    fn process_chunk(
        &mut self,
        start: usize,
        n: usize,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
    ) {
        let channels = self.channels;
        let mut input_peak = 0.0_f32;
        for (c, buffer) in self.input_buffers[..channels].iter_mut().enumerate() {
            let input = inputs.get(c).map(|b| &b[start..start + n]);
            for (i, y) in buffer[..n].iter_mut().enumerate() {
                let x = input.map_or(0.0, |b| b[i]);
                *y = if x.is_finite() { x } else { 0.0 };
                input_peak = input_peak.max(y.abs());
            }
        }
        Meters::raise(&self.meters.input_peak, input_peak);

        let [left, right] = &self.input_buffers;
        let ins: [&[f32]; 2] = [&left[..n], &right[..n]];
        let mut slots: [&mut [f32]; 2] = [&mut [], &mut []];
        let mut ports = 0;
        for (slot, output) in slots.iter_mut().zip(outputs.iter_mut()) {
            *slot = &mut output[start..start + n];
            ports += 1;
        }
        let outs = &mut slots[..ports.min(channels)];
        run_finite(&mut self.current, &ins[..channels], outs, &self.meters);

        if let Some((previous, done)) = &mut self.previous {
            let [a, b] = &mut self.fade_buffers;
            let mut faded: [&mut [f32]; 2] = [&mut a[..n], &mut b[..n]];
            let faded = &mut faded[..outs.len()];
            run_finite(previous, &ins[..channels], faded, &self.meters);
            let total = self.fade_frames;
            for (new, old) in outs.iter_mut().zip(faded.iter()) {
                for (i, (w, &o)) in new.iter_mut().zip(old.iter()).enumerate() {
                    let t = ((*done + i) as f32 / total as f32).min(1.0);
                    *w = o + (*w - o) * t;
                }
            }
            *done += n;
            if *done >= total {
                if let Some((graph, _)) = self.previous.take() {
                    self.retire(graph);
                }
            }
        }

        let output_peak = outs
            .iter()
            .flat_map(|b| b.iter())
            .fold(0.0_f32, |peak, x| peak.max(x.abs()));
        Meters::raise(&self.meters.output_peak, output_peak);
    }
}

/// Runs `graph`; if it produces NaN or infinity, resets it, mutes this step
/// and counts a recovery.
fn run_finite(graph: &mut Graph, ins: &[&[f32]], outs: &mut [&mut [f32]], meters: &Meters) {
    graph.process(ins, outs);
    // `x * 0` is NaN exactly for NaN and infinite samples.
    let finite = outs
        .iter()
        .all(|b| b.iter().fold(0.0_f32, |acc, &x| acc + x * 0.0) == 0.0);
    if !finite {
        meters.recoveries.fetch_add(1, Ordering::Relaxed);
        graph.reset();
        for out in outs.iter_mut() {
            out.fill(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assert_no_alloc::{assert_no_alloc, violation_count};
    use nam_graph::Chain;
    use std::path::Path;

    const RATE: f64 = 48_000.0;

    fn demo_graph(channels: usize) -> Box<Graph> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/chain.toml");
        let chain = Chain::load(path).unwrap();
        Box::new(chain.build(RATE, channels).unwrap())
    }

    fn gain_graph(gain_db: f32) -> Box<Graph> {
        let text = format!("[[node]]\nid = \"level\"\nkind = \"gain\"\ngain_db = {gain_db}\n");
        let chain = Chain::parse(&text, Path::new("gain.toml")).unwrap();
        Box::new(chain.build(RATE, 1).unwrap())
    }

    fn signal(n: usize, phase: f32) -> Vec<f32> {
        (0..n)
            .map(|i| 0.4 * (i as f32 * 0.031 + phase).sin() + 0.1 * (i as f32 * 0.47).sin())
            .collect()
    }

    /// Plays `input` (one buffer per channel, 1 or 2) through `player` in
    /// buffers of the given sizes, cycling, and checks that it allocates nothing.
    fn play(player: &mut Player, input: &[Vec<f32>], sizes: &[usize]) -> Vec<Vec<f32>> {
        let channels = input.len();
        let frames = input[0].len();
        let mut output = vec![vec![0.0; frames]; channels];
        let before = violation_count();
        assert_no_alloc(|| {
            let mut start = 0;
            for &size in sizes.iter().cycle() {
                if start >= frames {
                    break;
                }
                let n = size.min(frames - start);
                let ins: [&[f32]; 2] = [
                    &input[0][start..start + n],
                    &input[channels - 1][start..start + n],
                ];
                let (left, right) = output.split_at_mut(1);
                let mut outs: [&mut [f32]; 2] = [
                    &mut left[0][start..start + n],
                    right
                        .first_mut()
                        .map_or(&mut [][..], |r| &mut r[start..start + n]),
                ];
                player.process(&ins[..channels], &mut outs[..channels]);
                start += n;
            }
        });
        assert_eq!(violation_count(), before, "the player allocated");
        output
    }

    #[test]
    fn plays_like_the_graph_at_any_host_buffer_size() {
        for channels in [1, 2] {
            let input: Vec<Vec<f32>> = (0..channels).map(|c| signal(12_000, c as f32)).collect();
            let mut reference = demo_graph(channels);
            let mut expected = vec![vec![0.0; 12_000]; channels];
            let ins: Vec<&[f32]> = input.iter().map(Vec::as_slice).collect();
            let mut outs: Vec<&mut [f32]> = expected.iter_mut().map(Vec::as_mut_slice).collect();
            reference.process(&ins, &mut outs);
            for sizes in [&[1024][..], &[17], &[256], &[4096, 3, 0, 700]] {
                let (mut player, _remote) = Player::new(demo_graph(channels), channels, RATE);
                let output = play(&mut player, &input, sizes);
                let diff = output
                    .iter()
                    .flatten()
                    .zip(expected.iter().flatten())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(
                    diff <= 1e-5,
                    "{channels} ch, buffers {sizes:?}: |diff| {diff}"
                );
            }
        }
    }

    #[test]
    fn a_sent_graph_crossfades_in_and_the_old_one_comes_back() {
        let (mut player, mut remote) = Player::new(gain_graph(0.0), 1, RATE);
        let input = vec![vec![0.5_f32; 8192]];
        let before = play(&mut player, &input, &[512]);
        assert!((before[0][8191] - 0.5).abs() < 1e-6);
        assert!(remote.send(gain_graph(-6.0)).is_ok());
        assert!(
            remote.send(gain_graph(-12.0)).is_err(),
            "one graph in flight"
        );
        let after = play(&mut player, &input, &[512]);
        let target = 0.5 * 10f32.powf(-6.0 / 20.0);
        assert!((after[0][8191] - target).abs() < 1e-5, "{}", after[0][8191]);
        let fade = (RATE * FADE_SECONDS) as usize;
        let steps = after[0][..fade + 1].windows(2);
        let largest = steps.map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
        assert!(
            largest < 2.0 * (0.5 - target) / fade as f32,
            "no jump: {largest}"
        );
        assert_eq!(remote.drop_retired(), 1, "the old graph came back");
        assert_eq!(remote.drop_retired(), 0);
    }

    #[test]
    fn non_finite_input_gives_finite_output_and_peaks_are_metered() {
        let (mut player, remote) = Player::new(demo_graph(1), 1, RATE);
        let mut input = vec![signal(4096, 0.0)];
        input[0][100] = f32::NAN;
        input[0][2000] = f32::INFINITY;
        let output = play(&mut player, &input, &[256]);
        assert!(output[0].iter().all(|x| x.is_finite()));
        assert_eq!(
            remote.meters().recoveries(),
            0,
            "sanitized before the graph"
        );
        let (input_peak, output_peak) = remote.meters().take_peaks();
        assert!((input_peak - 0.5).abs() < 0.01, "{input_peak}");
        let largest = output[0].iter().fold(0.0_f32, |m, x| m.max(x.abs()));
        assert_eq!(output_peak, largest);
        assert_eq!(remote.meters().take_peaks(), (0.0, 0.0), "reset when taken");
    }
}
