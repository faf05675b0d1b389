//! Where and how `nam-graph run` writes its output (part of the command, not
//! of the library): never onto its input, through a symbolic link rather than
//! over it, and via a temporary file renamed into place, which no run leaves
//! behind for long.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The file to write for the requested `output`: `output` itself or, when it
/// is a symbolic link, the file it points to (so the link is kept and its
/// target replaced). Refuses the input under any name (another spelling of
/// its path, `..`, a link or a hard link to it) and a link to nothing.
pub fn destination(output: &Path, input: &Path) -> Result<PathBuf, String> {
    let name = output.display();
    let is_link = std::fs::symlink_metadata(output).is_ok_and(|m| m.file_type().is_symlink());
    let target = if is_link {
        std::fs::canonicalize(output).map_err(|e| {
            format!(
                "{name}: a symbolic link whose target cannot be reached ({e}); \
                 give the target's path or remove the link"
            )
        })?
    } else {
        output.to_path_buf()
    };
    if same_file(input, &target) {
        return Err(format!(
            "{name}: this is the input file {}; choose another output",
            input.display()
        ));
    }
    Ok(target)
}

/// Whether both paths name one existing file (same device and inode).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether both paths name one existing file (same canonical path).
#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(a), Ok(b)) if a == b
    )
}

/// Writes through a temporary file renamed into place, so a failure never
/// leaves a truncated file that looks valid, and removes the temporary on
/// any error. A run killed while writing leaves its temporary until the next
/// run writing the same file removes it. Returns the number of clipped samples.
pub fn write_wav(path: &Path, spec: hound::WavSpec, planar: &[Vec<f32>]) -> Result<usize, String> {
    let name = path.display();
    remove_stale_temporaries(path);
    let temporary = temporary_path(path, std::process::id());
    let result = write_samples(&temporary, spec, planar)
        .map_err(|e| format!("{name}: {e}"))
        .and_then(|clipped| {
            std::fs::rename(&temporary, path)
                .map(|()| clipped)
                .map_err(|e| format!("{name}: {e}"))
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn write_samples(path: &Path, spec: hound::WavSpec, planar: &[Vec<f32>]) -> hound::Result<usize> {
    let mut writer = hound::WavWriter::create(path, spec)?;
    let frames = planar.first().map_or(0, Vec::len);
    let full_scale = (1_i64 << (spec.bits_per_sample - 1)) as f32;
    let mut clipped = 0;
    for t in 0..frames {
        for channel in planar {
            let x = channel[t];
            match spec.sample_format {
                hound::SampleFormat::Float => writer.write_sample(x)?,
                hound::SampleFormat::Int => {
                    let scaled = (x * full_scale).round();
                    let limited = scaled.clamp(-full_scale, full_scale - 1.0);
                    clipped += usize::from(limited != scaled);
                    writer.write_sample(limited as i32)?;
                }
            }
        }
    }
    writer.finalize()?;
    Ok(clipped)
}

/// The prefix of every temporary for `path`: hidden, in the same folder (a
/// rename is atomic only within one file system).
fn temporary_prefix(path: &Path) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".partial-");
    prefix
}

/// The temporary the process `pid` writes for `path`.
fn temporary_path(path: &Path, pid: u32) -> PathBuf {
    let mut name = temporary_prefix(path);
    name.push(pid.to_string());
    path.with_file_name(name)
}

/// Removes the temporaries for `path` whose process no longer runs.
fn remove_stale_temporaries(path: &Path) {
    let prefix = temporary_prefix(path);
    let Some(prefix) = prefix.to_str() else {
        return;
    };
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_runs(pid)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` runs (assumed when it cannot be told).
fn process_runs(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}
