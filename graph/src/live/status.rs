//! The status line of `nam-graph live` on stderr: rewritten in place on a
//! terminal, one line per refresh otherwise (logs).

use std::io::{IsTerminal, Write};

/// What the status line shows.
pub struct Line {
    /// Xruns (JACK's count of late or missed cycles) since the start.
    pub xruns: u64,
    /// JACK's DSP load: the share of each cycle spent by all clients, percent.
    pub dsp_load_percent: f32,
    /// Largest |input sample| since the last refresh.
    pub input_peak: f32,
    /// Largest |output sample| since the last refresh.
    pub output_peak: f32,
    /// Times the chain produced NaN or infinity and was reset.
    pub recoveries: u64,
    /// The chain's latency, in frames.
    pub latency_frames: usize,
    /// The server's sample rate.
    pub rate: u32,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "xruns {} | DSP load {:.1}% | peak in {} out {} | latency {} frames ({:.1} ms)",
            self.xruns,
            self.dsp_load_percent,
            dbfs(self.input_peak),
            dbfs(self.output_peak),
            self.latency_frames,
            self.latency_frames as f64 * 1000.0 / f64::from(self.rate.max(1)),
        )?;
        if self.recoveries > 0 {
            write!(
                f,
                " | chain reset {} time(s) after NaN/inf",
                self.recoveries
            )?;
        }
        Ok(())
    }
}

/// A peak in dBFS, `-inf` for silence, `CLIP` marked at or above 0 dBFS.
fn dbfs(peak: f32) -> String {
    if peak <= 0.0 {
        return "-inf dBFS".into();
    }
    let db = 20.0 * peak.log10();
    let clip = if db >= 0.0 { " CLIP" } else { "" };
    format!("{db:.1} dBFS{clip}")
}

/// Writes the status line.
pub struct Status {
    enabled: bool,
    terminal: bool,
    /// A line is on screen without its newline (terminal only).
    open: bool,
}

impl Status {
    /// A status line; `enabled = false` shows nothing.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            open: false,
        }
    }

    /// Shows `line`, replacing the previous one on a terminal.
    pub fn show(&mut self, line: &Line) {
        if !self.enabled {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        // A failed write to stderr leaves nothing to report it to.
        let _ = if self.terminal {
            self.open = true;
            write!(stderr, "\r\x1b[K{line}")
        } else {
            writeln!(stderr, "{line}")
        };
        let _ = stderr.flush();
    }

    /// Ends the line on screen so that a message can follow on its own line.
    pub fn interrupt(&mut self) {
        if self.open {
            self.open = false;
            eprintln!();
        }
    }

    /// Ends the status display.
    pub fn finish(&mut self) {
        self.interrupt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_each_figure() {
        let line = Line {
            xruns: 2,
            dsp_load_percent: 12.34,
            input_peak: 0.5,
            output_peak: 1.0,
            recoveries: 0,
            latency_frames: 96,
            rate: 48_000,
        };
        assert_eq!(
            line.to_string(),
            "xruns 2 | DSP load 12.3% | peak in -6.0 dBFS out 0.0 dBFS CLIP | latency 96 frames (2.0 ms)"
        );
        let silent = Line {
            input_peak: 0.0,
            recoveries: 1,
            ..line
        };
        assert!(silent.to_string().contains("peak in -inf dBFS"));
        assert!(silent
            .to_string()
            .ends_with("chain reset 1 time(s) after NaN/inf"));
    }
}
