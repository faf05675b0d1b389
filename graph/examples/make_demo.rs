//! Writes the bundled demo's audio into `examples/demo/`: a synthetic
//! guitar-cabinet impulse response (`cab.wav`) and a DI guitar clip (`di.wav`,
//! Karplus–Strong strings). Everything is computed here, deterministically;
//! nothing is downloaded. Run through `scripts/make-examples.sh`. The demo's amp
//! model (`drive.nam`) is trained by `nam-tools train` on a real reamped amp
//! (`scripts/make-demo-model.sh`).

use std::f64::consts::PI;
use std::path::Path;

const RATE: u32 = 48_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/demo".to_owned());
    let out = Path::new(&out);
    std::fs::create_dir_all(out)?;
    write_wav(&out.join("cab.wav"), &cabinet_ir(), 24)?;
    write_wav(&out.join("di.wav"), &di_clip(), 24)?;
    println!("wrote cab.wav and di.wav to {}", out.display());
    Ok(())
}

/// 2048 taps: damped low and presence resonances, band-limited, faded out.
fn cabinet_ir() -> Vec<f32> {
    let n = 2048;
    let rate = f64::from(RATE);
    let resonances = [
        (110.0, 0.012, 0.6),
        (450.0, 0.006, 0.4),
        (1800.0, 0.003, 0.5),
        (3200.0, 0.002, 0.35),
    ];
    let mut ir: Vec<f64> = (0..n)
        .map(|t| {
            let time = t as f64 / rate;
            resonances
                .iter()
                .map(|&(freq, decay, amp)| {
                    amp * (-time / decay).exp() * (2.0 * PI * freq * time).sin()
                })
                .sum()
        })
        .collect();
    // Two one-pole low-passes at about 5 kHz: a speaker's top-end roll-off.
    let a = (-2.0 * PI * 5000.0 / rate).exp();
    for _ in 0..2 {
        let mut state = 0.0;
        for x in &mut ir {
            state = (1.0 - a) * *x + a * state;
            *x = state;
        }
    }
    let peak = ir.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    ir.iter()
        .enumerate()
        .map(|(t, x)| {
            let fade = 0.5 * (1.0 + (PI * t as f64 / n as f64).cos());
            (0.5 * x / peak * fade) as f32
        })
        .collect()
}

/// A plucked string (Karplus–Strong) added into `out` from `start`.
fn pluck(out: &mut [f64], start: usize, freq: f64, amp: f64, seed: &mut u32) {
    let period = (f64::from(RATE) / freq).round() as usize;
    let mut line: Vec<f64> = (0..period)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 17;
            *seed ^= *seed << 5;
            (f64::from(*seed) / f64::from(u32::MAX)) * 2.0 - 1.0
        })
        .collect();
    for (elapsed, out) in out[start..].iter_mut().enumerate() {
        let i = elapsed % period;
        let next = line[(i + 1) % period];
        let sample = line[i];
        line[i] = 0.996 * 0.5 * (sample + next);
        *out += amp * sample;
    }
}

/// Six seconds: two strummed power chords, then a single-note line.
fn di_clip() -> Vec<f32> {
    let rate = f64::from(RATE);
    let mut out = vec![0.0; 6 * RATE as usize];
    let mut seed = 0x1234_5678;
    let at = |seconds: f64| (seconds * rate) as usize;
    for (chord_start, root) in [(0.1, 82.41), (1.6, 110.0)] {
        for (string, ratio) in [1.0, 1.498, 2.0].iter().enumerate() {
            pluck(
                &mut out,
                at(chord_start + 0.012 * string as f64),
                root * ratio,
                0.25,
                &mut seed,
            );
        }
    }
    for (i, freq) in [164.8, 196.0, 220.0, 246.9, 220.0, 196.0, 164.8, 146.8]
        .iter()
        .enumerate()
    {
        pluck(&mut out, at(3.2 + 0.3 * i as f64), *freq, 0.3, &mut seed);
    }
    let peak = out.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    out.iter().map(|x| (0.5 * x / peak) as f32).collect()
}

fn write_wav(path: &Path, samples: &[f32], bits: u16) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: RATE,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    let full_scale = f64::from(1_u32 << (bits - 1));
    for &x in samples {
        writer.write_sample(
            (f64::from(x) * full_scale)
                .round()
                .clamp(-full_scale, full_scale - 1.0) as i32,
        )?;
    }
    writer.finalize()
}
