//! `nam-graph live` against a real JACK server: jackd on its dummy backend
//! (48 kHz, 256-frame periods, no sound card, synchronous), a test client that plays a
//! signal into the live client's input and records its output.
//!
//! Checks: the live output equals `nam-graph run` on the same input (after
//! the delay JACK adds), in mono and stereo; `--connect` connects the
//! dummy sound card's ports; a reload on SIGHUP takes the changed chain file, a
//! broken chain file on reload (Enter on stdin) is reported and the old chain
//! keeps playing, the status line is shown, Ctrl-C stops with exit status 0,
//! and without a server or without the chain file the command fails with a
//! clear message.
//!
//! Needs `jackd` (Debian's jackd2); fails, never skips, without it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RATE: u32 = 48_000;
const PERIOD: usize = 256;
const NAM_GRAPH: &str = env!("CARGO_BIN_EXE_nam-graph");

/// A jackd on the dummy backend, killed when dropped.
struct Server(Child);

impl Server {
    /// Starts jackd under the name in `JACK_DEFAULT_SERVER` and waits until a
    /// client can connect; panics with jackd's log otherwise.
    fn start(log: &Path) -> Self {
        let log_file = std::fs::File::create(log).unwrap();
        // Synchronous mode: a cycle waits for every client to finish, so a
        // client late on a loaded machine delays the cycle instead of
        // missing it (which would drop audio and make the comparison fail).
        let child = Command::new("jackd")
            .args(["--no-realtime", "--sync", "--timeout", "5000"])
            .args(["-d", "dummy", "-r", &RATE.to_string()])
            .args(["-p", &PERIOD.to_string()])
            .env("JACK_NO_AUDIO_RESERVATION", "1")
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start jackd ({e}): install Debian's jackd2 (scripts/test.sh does)")
            });
        let server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if jack::Client::new("probe", jack::ClientOptions::NO_START_SERVER).is_ok() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "jackd did not start within 15 s; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    /// Stops jackd with SIGTERM so that it removes its shared memory and its
    /// entry in JACK's server registry (a killed jackd leaves them, and
    /// after eight such entries no server starts on the machine).
    fn drop(&mut self) {
        terminate(&mut self.0);
    }
}

/// Stops `child` with SIGTERM, or SIGKILL if it is still running 10 s later.
fn terminate(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A running `nam-graph live`, its stdin, and its stderr lines as they come.
struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Live {
    fn start(chain: &Path, name: &str, options: &[&str]) -> Self {
        let mut child = Command::new(NAM_GRAPH)
            .args(["live", chain.to_str().unwrap(), "--name", name])
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("  live: {line}");
                lines.lock().unwrap().push(line);
            }
        });
        let live = Self {
            child,
            stdin,
            stderr,
        };
        live.wait_for(&format!("JACK client `{name}`"));
        live
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Waits (10 s at most) until stderr has a line containing `text`.
    fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stderr.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(
                Instant::now() < deadline,
                "`nam-graph live` did not print `{text}`; its stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn press_enter(&mut self) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Stops it with Ctrl-C (SIGINT); returns its exit status and stderr.
    fn interrupt(mut self) -> (std::process::ExitStatus, String) {
        self.signal("INT");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "`nam-graph live` did not stop within 10 s of Ctrl-C"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Live {
    /// Stops it cleanly (its JACK client closed) if a check failed first.
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// The test's own JACK client: plays `signals` (one per channel, looped or
/// once, then silence) from the cycle after `start` is set, and records the
/// same cycles.
struct Tester {
    play: Vec<jack::Port<jack::AudioOut>>,
    record: Vec<jack::Port<jack::AudioIn>>,
    signals: Vec<Vec<f32>>,
    looped: bool,
    position: usize,
    recordings: Vec<Vec<f32>>,
    start: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl jack::ProcessHandler for Tester {
    fn process(&mut self, _: &jack::Client, scope: &jack::ProcessScope) -> jack::Control {
        let started = self.start.load(Ordering::Acquire);
        for (port, signal) in self.play.iter_mut().zip(&self.signals) {
            let out = port.as_mut_slice(scope);
            for (i, y) in out.iter_mut().enumerate() {
                let at = self.position + i;
                *y = match signal.get(at) {
                    _ if !started => 0.0,
                    Some(&x) => x,
                    None if self.looped => signal[at % signal.len()],
                    None => 0.0,
                };
            }
        }
        if !started {
            return jack::Control::Continue;
        }
        self.position += scope.n_frames() as usize;
        for (port, recording) in self.record.iter().zip(&mut self.recordings) {
            let room = recording.capacity() - recording.len();
            let input = port.as_slice(scope);
            recording.extend_from_slice(&input[..input.len().min(room)]);
        }
        if self.recordings.iter().all(|r| r.len() == r.capacity()) {
            self.done.store(true, Ordering::Release);
        }
        jack::Control::Continue
    }
}

/// The live client's port names for `channels` (1 or 2): inputs, outputs.
fn live_ports(channels: usize) -> (Vec<&'static str>, Vec<&'static str>) {
    match channels {
        1 => (vec!["in"], vec!["out"]),
        _ => (vec!["in_L", "in_R"], vec!["out_L", "out_R"]),
    }
}

/// Plays `signals` (one per channel) into the inputs of the live client
/// `live` and records its outputs for `seconds`; `during` runs on this thread
/// meanwhile.
fn play_and_record(
    live: &str,
    signals: Vec<Vec<f32>>,
    looped: bool,
    seconds: f64,
    during: impl FnOnce(),
) -> Vec<Vec<f32>> {
    let channels = signals.len();
    let (client, _) = jack::Client::new("tester", jack::ClientOptions::NO_START_SERVER).unwrap();
    let start = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let frames = (seconds * f64::from(RATE)) as usize;
    let tester = Tester {
        play: (0..channels)
            .map(|c| client.register_port(&format!("play_{c}"), jack::AudioOut::default()))
            .collect::<Result<_, _>>()
            .unwrap(),
        record: (0..channels)
            .map(|c| client.register_port(&format!("record_{c}"), jack::AudioIn::default()))
            .collect::<Result<_, _>>()
            .unwrap(),
        signals,
        looped,
        position: 0,
        recordings: (0..channels).map(|_| Vec::with_capacity(frames)).collect(),
        start: Arc::clone(&start),
        done: Arc::clone(&done),
    };
    let active = client.activate_async((), tester).unwrap();
    let me = active.as_client().name().to_string();
    let connect = |from: &str, to: &str| {
        active
            .as_client()
            .connect_ports_by_name(from, to)
            .unwrap_or_else(|e| panic!("cannot connect {from} -> {to}: {e}"));
    };
    let (inputs, outputs) = live_ports(channels);
    for c in 0..channels {
        connect(&format!("{me}:play_{c}"), &format!("{live}:{}", inputs[c]));
        connect(
            &format!("{live}:{}", outputs[c]),
            &format!("{me}:record_{c}"),
        );
    }
    start.store(true, Ordering::Release);
    let began = Instant::now();
    during();
    let deadline = began + Duration::from_secs_f64(seconds + 10.0);
    while !done.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the recording did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, _, tester) = active.deactivate().unwrap();
    tester.recordings
}

/// A guitar-like test signal: plucked, decaying notes with harmonics.
fn guitar(frames: usize) -> Vec<f32> {
    let rate = RATE as f32;
    (0..frames)
        .map(|i| {
            let t = i as f32 / rate;
            let note = (t * 4.0) as usize;
            let since = t - note as f32 / 4.0;
            let f0 = [82.4, 110.0, 146.8, 196.0][note % 4];
            let tone: f32 = (1..=5)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum();
            0.3 * tone * (-since * 6.0).exp()
        })
        .collect()
}

/// Writes planar `channels` as a 32-bit float WAV.
fn write_wav(path: &Path, channels: &[Vec<f32>]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        for channel in channels {
            writer.write_sample(channel[i]).unwrap();
        }
    }
    writer.finalize().unwrap();
}

/// A float WAV's samples, planar.
fn read_wav(path: &Path) -> Vec<Vec<f32>> {
    let mut reader = hound::WavReader::open(path).unwrap();
    let channels = usize::from(reader.spec().channels);
    let interleaved: Vec<f32> = reader.samples::<f32>().collect::<Result<_, _>>().unwrap();
    (0..channels)
        .map(|c| {
            interleaved
                .iter()
                .skip(c)
                .step_by(channels)
                .copied()
                .collect()
        })
        .collect()
}

/// The offset at which `expected[from..]` best matches inside `recorded`
/// (`recorded[offset + from..]`), and the largest difference there.
fn align(recorded: &[f32], expected: &[f32], from: usize, max_offset: usize) -> (usize, f32) {
    (0..=max_offset)
        .map(|offset| {
            let diff = expected[from..]
                .iter()
                .zip(&recorded[offset + from..])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            (offset, diff)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
}

fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn demo_chain() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/chain.toml")
}

/// One server for every check, run in sequence (the server name is
/// process-wide).
#[test]
fn live_on_jack_dummy() {
    let dir = std::env::temp_dir().join(format!("nam-graph-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // No server: a clear error, a failure status.
    let output = Command::new(NAM_GRAPH)
        .args(["live", demo_chain().to_str().unwrap()])
        .env("JACK_DEFAULT_SERVER", "nam-graph-no-such-server")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("is a JACK server running?"), "{stderr}");

    // A missing chain file: named, before any JACK client is opened.
    let missing = dir.join("no-such-chain.toml");
    let output = Command::new(NAM_GRAPH)
        .args(["live", missing.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("no-such-chain.toml"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let server_name = format!("nam-graph-test-{}", std::process::id());
    // Set before any JACK client or child process exists; read by libjack.
    std::env::set_var("JACK_DEFAULT_SERVER", &server_name);
    let _server = Server::start(&dir.join("jackd.log"));

    same_output_as_run(&dir, 1);
    same_output_as_run(&dir, 2);
    reload_on_request(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The demo chain live (mono, and stereo with `--stereo`) gives `nam-graph
/// run`'s output on the same input, delayed by whole JACK periods. The input
/// starts with silence: the live chain has been running on silence since it
/// started and `run`'s starts from its reset state, which differ by the
/// model's DC offset held in the cabinet IR's history; after the silence
/// (longer than the IR) both are in the same state.
fn same_output_as_run(dir: &Path, channels: usize) {
    let lead = RATE as usize / 2;
    let input: Vec<Vec<f32>> = (0..channels)
        .map(|c| {
            let mut signal = vec![0.0; lead];
            // A different signal per channel: the right one half a note later.
            signal.extend(&guitar(RATE as usize + c * RATE as usize / 8)[c * RATE as usize / 8..]);
            signal
        })
        .collect();
    let in_wav = dir.join(format!("in-{channels}.wav"));
    let out_wav = dir.join(format!("out-{channels}.wav"));
    write_wav(&in_wav, &input);
    let run = Command::new(NAM_GRAPH)
        .args([
            "run",
            demo_chain().to_str().unwrap(),
            in_wav.to_str().unwrap(),
        ])
        .args([
            "-o",
            out_wav.to_str().unwrap(),
            "--format",
            "f32",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let expected = read_wav(&out_wav);
    assert_eq!(expected.len(), channels);
    assert!(
        expected.iter().all(|c| peak(c) > 0.01),
        "the demo chain's output is silent"
    );

    let name = format!("live-demo-{channels}");
    // --connect too: the dummy backend's capture ports carry silence, so
    // the comparison holds; the connections are checked below.
    let options = if channels == 2 {
        &["--stereo", "--connect"][..]
    } else {
        &["--connect"]
    };
    let live = Live::start(&demo_chain(), &name, options);
    live.wait_for("-> system:playback_2"); // the last connection made
    let connections = |port: &str| {
        let (probe, _) = jack::Client::new("probe", jack::ClientOptions::NO_START_SERVER).unwrap();
        let mut found = probe
            .port_by_name(&format!("{name}:{port}"))
            .unwrap_or_else(|| panic!("no port {name}:{port}"))
            .get_connections();
        found.sort();
        found
    };
    let (inputs, outputs) = live_ports(channels);
    for (c, port) in inputs.iter().enumerate() {
        assert_eq!(connections(port), [format!("system:capture_{}", c + 1)]);
    }
    if channels == 1 {
        assert_eq!(
            connections("out"),
            ["system:playback_1", "system:playback_2"]
        );
    } else {
        assert_eq!(connections(outputs[0]), ["system:playback_1"]);
        assert_eq!(connections(outputs[1]), ["system:playback_2"]);
    }
    let recorded = play_and_record(&name, input, false, 2.0, || {});
    for (c, (recorded, expected)) in recorded.iter().zip(&expected).enumerate() {
        let (offset, diff) = align(recorded, expected, lead, 4 * PERIOD);
        eprintln!(
            "live vs run, channel {c} of {channels}: offset {offset} frames, max |diff| {diff:e}"
        );
        assert!(
            diff <= 1e-5,
            "channel {c} of {channels}: live output differs from `nam-graph run`: \
             max |diff| {diff} at the best offset {offset}"
        );
        assert_eq!(offset % PERIOD, 0, "a whole number of JACK periods late");
    }
    let (status, stderr) = live.interrupt();
    assert_eq!(
        status.code(),
        Some(0),
        "Ctrl-C exit status; stderr:\n{stderr}"
    );
    assert!(stderr.ends_with("stopped"), "{stderr}");
}

/// SIGHUP reloads a changed chain file; a broken one (reloaded with Enter)
/// is reported and the old chain keeps playing; the status line shows.
fn reload_on_request(dir: &Path) {
    let chain = dir.join("level.toml");
    let gain_chain =
        |db: f32| format!("[[node]]\nid = \"level\"\nkind = \"gain\"\ngain_db = {db}\n");
    std::fs::write(&chain, gain_chain(0.0)).unwrap();
    let mut live = Live::start(&chain, "live-level", &[]);
    let tone: Vec<f32> = (0..RATE as usize)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 441.0 * i as f32 / RATE as f32).sin())
        .collect();
    let recorded = play_and_record("live-level", vec![tone], true, 4.0, || {
        std::thread::sleep(Duration::from_millis(1200));
        std::fs::write(&chain, gain_chain(-20.0 * 2f32.log10())).unwrap();
        live.signal("HUP");
        live.wait_for("reloaded");
        std::thread::sleep(Duration::from_millis(1200));
        std::fs::write(&chain, "[[node]]\nkind = \"no-such-kind\"\n").unwrap();
        live.press_enter();
        live.wait_for("reload failed");
    });
    let at = |seconds: f64| (seconds * f64::from(RATE)) as usize;
    let before = peak(&recorded[0][at(0.2)..at(1.0)]);
    let end = peak(&recorded[0][at(3.2)..]);
    eprintln!("reload: peak {before} before, {end} at the end");
    assert!((before - 0.5).abs() < 1e-3, "before the reload: {before}");
    assert!(
        (end - 0.25).abs() < 1e-3,
        "after the reload (and the broken one): {end}"
    );
    let stderr = live.stderr();
    assert!(
        stderr.contains("still playing the previous chain"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no-such-kind"),
        "the error names the problem: {stderr}"
    );
    assert!(
        stderr.contains("xruns ") && stderr.contains("DSP load"),
        "status line: {stderr}"
    );
    let (status, stderr) = live.interrupt();
    assert_eq!(
        status.code(),
        Some(0),
        "Ctrl-C exit status; stderr:\n{stderr}"
    );
}
