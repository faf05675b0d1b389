//! Prints the plugin's chain as `chain.toml`, for `nam-graph run` to play
//! exactly what the plugin plays with these files and controls.
//!
//! ```text
//! nam-lv2-chain [--model PATH] [--input-ir PATH] [--cab PATH] [SYMBOL=VALUE ...]
//! ```
//!
//! Controls are given by port symbol (`bass=7`, `output_mode=1`) and made
//! valid as the plugin makes a host's values; the others keep their defaults.

use std::path::PathBuf;
use std::process::ExitCode;

use nam_lv2::controls::{Control, Controls};
use nam_lv2::rig::{chain_spec, FileSlot, RigFiles};

const USAGE: &str =
    "usage: nam-lv2-chain [--model PATH] [--input-ir PATH] [--cab PATH] [SYMBOL=VALUE ...]";

fn main() -> ExitCode {
    match chain_toml(std::env::args().skip(1)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// The chain for the command line's files and controls, as TOML.
fn chain_toml(mut args: impl Iterator<Item = String>) -> Result<String, String> {
    let mut files = RigFiles::default();
    let mut controls = Controls::default();
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--model" => Some(FileSlot::Model),
            "--input-ir" => Some(FileSlot::InputIr),
            "--cab" => Some(FileSlot::CabIr),
            _ => None,
        };
        if let Some(slot) = slot {
            let path = args.next().ok_or(format!("{arg} needs a path"))?;
            files.set(slot, Some(PathBuf::from(path)));
            continue;
        }
        let (symbol, value) = arg
            .split_once('=')
            .ok_or(format!("`{arg}`: expected SYMBOL=VALUE or a file option"))?;
        let control = Control::from_symbol(symbol).ok_or(format!("unknown control `{symbol}`"))?;
        let value: f32 = value
            .parse()
            .map_err(|_| format!("`{arg}`: {value} is not a number"))?;
        controls.set(control, value);
    }
    toml::to_string(&chain_spec(&files, &controls)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nam_graph::ChainSpec;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn prints_the_plugins_spec_for_the_files_and_controls_given() {
        let text = chain_toml(args(&[
            "--model",
            "/m/a \"b\".nam",
            "--cab",
            "/c/cab.wav",
            "bass=7",
            "output_mode=2",
        ]))
        .unwrap();
        let mut files = RigFiles::default();
        files.set(FileSlot::Model, Some(PathBuf::from("/m/a \"b\".nam")));
        files.set(FileSlot::CabIr, Some(PathBuf::from("/c/cab.wav")));
        let mut controls = Controls::default();
        controls.set(Control::Bass, 7.0);
        controls.set(Control::OutputMode, 2.0);
        let spec: ChainSpec = toml::from_str(&text).unwrap();
        assert_eq!(spec, chain_spec(&files, &controls), "{text}");
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [&["--cab"][..], &["treble"], &["nope=1"], &["bass=loud"]] {
            assert!(chain_toml(args(bad)).is_err(), "{bad:?}");
        }
    }
}
