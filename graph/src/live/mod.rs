//! `nam-graph live`: plays a chain in real time as a JACK client (JACK 1/2 or
//! PipeWire's JACK), with ports named after the chain's channels, optional
//! connection to the sound card, a status line, reload on request (SIGHUP or
//! Enter) and a clean stop on Ctrl-C.
//!
//! Threads: JACK's process thread runs the [`player::Player`]; the main thread
//! builds chains, hands them over lock-free and drops the old ones; a stdin
//! thread turns Enter into a reload request; signals set flags.

mod player;
mod status;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nam_graph::{Chain, Graph};
use player::{Player, Remote};
use status::Status;

/// How often the main thread looks at the flags and collects old graphs.
const POLL: Duration = Duration::from_millis(50);

/// How often the status line is refreshed.
const STATUS_PERIOD: Duration = Duration::from_secs(1);

/// Exit status after a second Ctrl-C, when the first did not stop in time
/// (128 + SIGINT, as shells report it).
const FORCED_EXIT: i32 = 130;

/// What `nam-graph live` was asked to do.
pub struct Options {
    /// The chain file.
    pub chain: PathBuf,
    /// The JACK client name; `None`: from the chain file (see [`client_name`]).
    pub name: Option<String>,
    /// Two channels in and out instead of one.
    pub stereo: bool,
    /// Connect the ports to the sound card's (physical) ports.
    pub connect: bool,
    /// No status line.
    pub quiet: bool,
}

/// Flags set by signals, the stdin thread and JACK's notification thread.
#[derive(Default)]
struct Flags {
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
    server_gone: AtomicBool,
    xruns: AtomicU64,
}

/// JACK's notifications: counts xruns, notices the server going away.
struct Notifications(Arc<Flags>);

impl jack::NotificationHandler for Notifications {
    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.0.xruns.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }

    unsafe fn shutdown(&mut self, _status: jack::ClientStatus, _reason: &str) {
        // Only async-signal-safe work here (JACK's rules): set a flag.
        self.0.server_gone.store(true, Ordering::Relaxed);
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// JACK's process callback: the ports and the player.
struct Process {
    inputs: Vec<jack::Port<jack::AudioIn>>,
    outputs: Vec<jack::Port<jack::AudioOut>>,
    player: Player,
}

impl jack::ProcessHandler for Process {
    fn process(&mut self, _: &jack::Client, scope: &jack::ProcessScope) -> jack::Control {
        let (inputs, outputs) = (self.inputs.len(), self.outputs.len());
        let mut ins: [&[f32]; 2] = [&[], &[]];
        for (slot, port) in ins.iter_mut().zip(&self.inputs) {
            *slot = port.as_slice(scope);
        }
        let mut outs: [&mut [f32]; 2] = [&mut [], &mut []];
        for (slot, port) in outs.iter_mut().zip(&mut self.outputs) {
            *slot = port.as_mut_slice(scope);
        }
        self.player.process(&ins[..inputs], &mut outs[..outputs]);
        jack::Control::Continue
    }
}

/// Runs `nam-graph live` until Ctrl-C (or SIGTERM, or the server stopping).
pub fn live(options: &Options) -> Result<(), String> {
    let chain_path = &options.chain;
    let chain = Chain::load(chain_path).map_err(|e| e.to_string())?;
    let channels = if options.stereo { 2 } else { 1 };
    let flags = Arc::new(Flags::default());
    watch_signals(&flags)?;

    let name = options
        .name
        .clone()
        .unwrap_or_else(|| client_name(chain_path));
    let (client, _) =
        jack::Client::new(&name, jack::ClientOptions::NO_START_SERVER).map_err(|e| {
            format!(
                "cannot open a JACK client ({e}): is a JACK server running? Start jackd \
                 (or qjackctl), or run under PipeWire with `pw-jack nam-graph live ...`"
            )
        })?;
    let rate = client.sample_rate();
    let graph = build(&chain, chain_path, rate, channels)?;
    let latency = graph.latency_frames();
    let (player, mut remote) = Player::new(Box::new(graph), channels, f64::from(rate));

    let names = port_names(channels);
    let register = |e: jack::Error| format!("cannot register a JACK port: {e}");
    let inputs = names
        .0
        .iter()
        .map(|n| client.register_port(n, jack::AudioIn::default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(register)?;
    let outputs = names
        .1
        .iter()
        .map(|n| client.register_port(n, jack::AudioOut::default()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(register)?;
    let process = Process {
        inputs,
        outputs,
        player,
    };
    let active = client
        .activate_async(Notifications(Arc::clone(&flags)), process)
        .map_err(|e| format!("cannot activate the JACK client: {e}"))?;
    let client = active.as_client();
    eprintln!(
        "playing {} as JACK client `{}`: {} Hz, buffer {} frames, ports {} -> {}, chain latency {latency} frames",
        chain_path.display(),
        client.name(),
        rate,
        client.buffer_size(),
        names.0.join(" "),
        names.1.join(" "),
    );
    if options.connect {
        connect(client, &names);
    }
    let enter = if spawn_stdin_reader(Arc::clone(&flags.reload)) {
        "Enter or "
    } else {
        ""
    };
    eprintln!(
        "reload the chain file: {enter}`kill -HUP {}`; stop: Ctrl-C",
        std::process::id()
    );

    let mut status = Status::new(!options.quiet);
    let mut latency = latency;
    let mut next_status = Instant::now() + STATUS_PERIOD;
    while !flags.stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
        remote.drop_retired();
        if flags.reload.swap(false, Ordering::Relaxed) {
            if let Some(new_latency) = reload(chain_path, rate, channels, &mut remote, &mut status)
            {
                latency = new_latency;
            }
        }
        if Instant::now() >= next_status {
            next_status += STATUS_PERIOD;
            let (input_peak, output_peak) = remote.meters().take_peaks();
            status.show(&status::Line {
                xruns: flags.xruns.load(Ordering::Relaxed),
                dsp_load_percent: client.cpu_load(),
                input_peak,
                output_peak,
                recoveries: remote.meters().recoveries(),
                latency_frames: latency,
                rate,
            });
        }
    }
    status.finish();
    let deactivated = active.deactivate();
    if flags.server_gone.load(Ordering::Relaxed) {
        return Err("the JACK server stopped".into());
    }
    deactivated.map_err(|e| format!("cannot deactivate the JACK client: {e}"))?;
    remote.drop_retired();
    eprintln!("stopped");
    Ok(())
}

/// The default JACK client name: the chain file's stem, or its folder's name
/// when the file is called `chain.toml` (`examples/demo/chain.toml` plays as
/// `demo`).
fn client_name(chain: &Path) -> String {
    let stem = chain.file_stem().map(|s| s.to_string_lossy().into_owned());
    let folder = || {
        std::path::absolute(chain).ok().and_then(|p| {
            p.parent()?
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
        })
    };
    match stem.as_deref() {
        Some("chain") | None => folder().unwrap_or_else(|| "nam-graph".into()),
        Some(stem) => stem.into(),
    }
}

/// The input and output port names: `in`/`out`, or `in_L in_R`/`out_L out_R`.
fn port_names(channels: usize) -> (Vec<String>, Vec<String>) {
    let names = |base: &str| match channels {
        1 => vec![base.to_string()],
        _ => vec![format!("{base}_L"), format!("{base}_R")],
    };
    (names("in"), names("out"))
}

/// Builds the chain at the server's rate; reports its warnings.
fn build(chain: &Chain, path: &Path, rate: u32, channels: usize) -> Result<Graph, String> {
    let graph = chain
        .build(f64::from(rate), channels)
        .map_err(|e| e.to_string())?;
    crate::print_warnings(&graph.warnings());
    if graph.inputs() != channels || graph.outputs() != channels {
        return Err(format!(
            "{}: the chain has {} input(s) and {} output(s), expected {channels}",
            path.display(),
            graph.inputs(),
            graph.outputs()
        ));
    }
    Ok(graph)
}

/// Rebuilds the chain from its file and hands it to the audio thread; on any
/// problem the playing chain stays. Returns the new chain's latency.
fn reload(
    path: &Path,
    rate: u32,
    channels: usize,
    remote: &mut Remote,
    status: &mut Status,
) -> Option<usize> {
    status.interrupt();
    let graph = Chain::load(path)
        .map_err(|e| e.to_string())
        .and_then(|chain| build(&chain, path, rate, channels));
    match graph {
        Err(message) => {
            eprintln!("reload failed: {message}; still playing the previous chain");
            None
        }
        Ok(graph) => {
            let latency = graph.latency_frames();
            match remote.send(Box::new(graph)) {
                Ok(()) => {
                    eprintln!(
                        "reloaded {}: chain latency {latency} frames",
                        path.display()
                    );
                    Some(latency)
                }
                Err(_) => {
                    eprintln!("reload skipped: the previous reload is not playing yet");
                    None
                }
            }
        }
    }
}

/// Connects the sound card's capture ports to the inputs and the outputs to
/// its playback ports (a mono output feeds the first two). Problems are
/// reported, not fatal: the ports can still be connected by hand.
fn connect(client: &jack::Client, names: &(Vec<String>, Vec<String>)) {
    let physical = |direction| {
        client.ports(
            None,
            Some(jack::jack_sys::FLOAT_MONO_AUDIO),
            jack::PortFlags::IS_PHYSICAL | direction,
        )
    };
    let capture = physical(jack::PortFlags::IS_OUTPUT);
    let playback = physical(jack::PortFlags::IS_INPUT);
    let own = |port: &str| format!("{}:{port}", client.name());
    let mut pairs: Vec<(String, String)> = names
        .0
        .iter()
        .zip(&capture)
        .map(|(port, source)| (source.clone(), own(port)))
        .collect();
    for (i, sink) in playback.iter().take(2).enumerate() {
        let port = &names.1[i.min(names.1.len() - 1)];
        pairs.push((own(port), sink.clone()));
    }
    if capture.is_empty() || playback.is_empty() {
        eprintln!("warning: --connect: the JACK server has no physical capture or playback ports");
    }
    for (from, to) in pairs {
        match client.connect_ports_by_name(&from, &to) {
            Ok(()) => eprintln!("connected {from} -> {to}"),
            Err(e) => eprintln!("warning: cannot connect {from} -> {to}: {e}"),
        }
    }
}

/// Ctrl-C and SIGTERM stop; a second Ctrl-C exits at once. SIGHUP reloads.
fn watch_signals(flags: &Flags) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::flag;
    let failed = |e: std::io::Error| format!("cannot install the signal handlers: {e}");
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it sees the flag before the second handler sets it.
        flag::register_conditional_shutdown(signal, FORCED_EXIT, Arc::clone(&flags.stop))
            .map_err(failed)?;
        flag::register(signal, Arc::clone(&flags.stop)).map_err(failed)?;
    }
    flag::register(SIGHUP, Arc::clone(&flags.reload)).map_err(failed)?;
    Ok(())
}

/// Each line read on stdin (Enter) requests a reload; ends at end of input.
/// Not started when stdin is the terminal of a background job (`nam-graph
/// live chain.toml &`): reading it would stop the whole process (SIGTTIN).
/// Returns whether it started.
fn spawn_stdin_reader(reload: Arc<AtomicBool>) -> bool {
    if background_on_terminal() {
        return false;
    }
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if line.is_err() {
                break;
            }
            reload.store(true, Ordering::Relaxed);
        }
    });
    true
}

/// Whether stdin is a terminal whose foreground process group is not ours.
fn background_on_terminal() -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    // SAFETY: plain syscalls reading the terminal's foreground process group
    // and our own; no memory is passed.
    let (foreground, ours) = unsafe { (libc::tcgetpgrp(libc::STDIN_FILENO), libc::getpgrp()) };
    foreground != ours
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_come_from_the_chain_file() {
        assert_eq!(client_name(Path::new("rigs/plexi.toml")), "plexi");
        assert_eq!(client_name(Path::new("examples/demo/chain.toml")), "demo");
    }

    #[test]
    fn ports_are_named_after_the_channels() {
        assert_eq!(port_names(1), (vec!["in".into()], vec!["out".into()]));
        let stereo = port_names(2);
        assert_eq!(stereo.0, ["in_L", "in_R"]);
        assert_eq!(stereo.1, ["out_L", "out_R"]);
    }
}
