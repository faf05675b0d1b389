//! Reamps a WAV file through a `.nam` model with nam-kernel alone (the
//! `nam-graph run` command adds resampling, cabinet IRs and gain staging).
//!
//! ```text
//! cargo run --release -p nam-kernel --example reamp -- MODEL.nam INPUT.wav OUTPUT.wav
//! ```
//!
//! Every channel of the input runs through its own instance of the model; the
//! output is 32-bit float at the input's sample rate.

use std::process::ExitCode;
use std::time::Instant;

use nam_kernel::Model;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, input_path, output_path] = args.as_slice() else {
        eprintln!("usage: reamp MODEL.nam INPUT.wav OUTPUT.wav");
        return ExitCode::from(2);
    };
    match reamp(model_path, input_path, output_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn read_channels(path: &str) -> Result<(hound::WavSpec, Vec<Vec<f32>>), String> {
    let mut reader = hound::WavReader::open(path).map_err(|e| format!("{path}: {e}"))?;
    let spec = reader.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1_i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
        }
    }
    .map_err(|e| format!("{path}: {e}"))?;
    let channels = usize::from(spec.channels.max(1));
    let planar = (0..channels)
        .map(|c| samples.iter().skip(c).step_by(channels).copied().collect())
        .collect();
    Ok((spec, planar))
}

fn reamp(model_path: &str, input_path: &str, output_path: &str) -> Result<(), String> {
    let (spec, channels) = read_channels(input_path)?;
    let mut models = (0..channels.len())
        .map(|_| Model::load(model_path).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let model_rate = models[0].sample_rate_hz();
    if (model_rate - f64::from(spec.sample_rate)).abs() > 0.5 {
        eprintln!(
            "warning: the model expects {model_rate} Hz but {input_path} is {} Hz; \
             this example does not resample (nam-graph does)",
            spec.sample_rate
        );
    }
    let started = Instant::now();
    let outputs: Vec<Vec<f32>> = channels
        .iter()
        .zip(&mut models)
        .map(|(input, model)| {
            let mut output = vec![0.0; input.len()];
            model.process(input, &mut output);
            output
        })
        .collect();
    let seconds = started.elapsed().as_secs_f64();

    let out_spec = hound::WavSpec {
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(output_path, out_spec)
        .map_err(|e| format!("{output_path}: {e}"))?;
    let frames = outputs.first().map_or(0, Vec::len);
    for t in 0..frames {
        for channel in &outputs {
            writer
                .write_sample(channel[t])
                .map_err(|e| format!("{output_path}: {e}"))?;
        }
    }
    writer
        .finalize()
        .map_err(|e| format!("{output_path}: {e}"))?;
    let audio_seconds = frames as f64 / f64::from(spec.sample_rate);
    println!(
        "{output_path}: {frames} frames x {} channel(s) through {} ({}) in {seconds:.2} s, {:.1}x real time",
        outputs.len(),
        model_path,
        models[0].architecture(),
        audio_seconds / seconds.max(1e-9)
    );
    Ok(())
}
