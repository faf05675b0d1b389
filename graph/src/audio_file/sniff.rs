//! Which container a file holds, from its first bytes (never its name), and a
//! short description of what an unreadable file looks like.

use std::fmt;

/// How many leading bytes [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 16;

/// An audio container this module decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// RIFF/WAVE (PCM, IEEE float, `WAVE_FORMAT_EXTENSIBLE`).
    Wav,
    /// Native FLAC (`fLaC`).
    Flac,
    /// AIFF (`FORM`/`AIFF`) or AIFF-C (`FORM`/`AIFC`).
    Aiff,
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Wav => "WAV",
            Self::Flac => "FLAC",
            Self::Aiff => "AIFF",
        })
    }
}

/// What the first bytes of a file say it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sniffed {
    /// A container this module decodes.
    Supported(Container),
    /// A recognised audio container this module does not decode (its name).
    Unsupported(&'static str),
    /// Nothing this module recognises: what the bytes look like.
    Unknown(String),
}

/// Tells the container from the file's first bytes (up to `SNIFF_BYTES`).
pub fn sniff(head: &[u8]) -> Sniffed {
    let tag = |at: usize, what: &[u8]| head.get(at..at + what.len()) == Some(what);
    if tag(8, b"WAVE") {
        if tag(0, b"RIFF") {
            return Sniffed::Supported(Container::Wav);
        }
        if tag(0, b"RIFX") {
            return Sniffed::Unsupported("a big-endian WAV (RIFX)");
        }
        if tag(0, b"RF64") || tag(0, b"BW64") {
            return Sniffed::Unsupported("an RF64/BW64 WAV (for files over 4 GB)");
        }
    }
    if tag(0, b"fLaC") {
        return Sniffed::Supported(Container::Flac);
    }
    if tag(0, b"FORM") && (tag(8, b"AIFF") || tag(8, b"AIFC")) {
        return Sniffed::Supported(Container::Aiff);
    }
    if tag(0, b"riff\x2e\x91\xcf\x11") {
        return Sniffed::Unsupported("a Sony Wave64 (W64) file");
    }
    Sniffed::Unknown(describe(head))
}

/// A few words on what `head`, a file's first bytes, looks like.
fn describe(head: &[u8]) -> String {
    let tag = |what: &[u8]| head.starts_with(what);
    let known = if head.is_empty() {
        Some("an empty file")
    } else if tag(b"OggS") {
        Some("an Ogg file (Vorbis, Opus or Ogg FLAC)")
    } else if tag(b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        Some("an MP3 file (or a file with an ID3 tag in front)")
    } else if tag(b"caff") {
        Some("a Core Audio (CAF) file")
    } else if head.get(4..8) == Some(b"ftyp") {
        Some("an MP4/M4A file")
    } else if tag(b"RIFF") {
        Some("a RIFF file that is not WAVE (AVI, WebP, ...)")
    } else if tag(b"FORM") {
        Some("an IFF file that is not AIFF")
    } else {
        None
    };
    if let Some(known) = known {
        return known.to_owned();
    }
    if head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        let text = String::from_utf8_lossy(head);
        return format!("text starting with {:?}", text.trim_end());
    }
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("data starting with the bytes {}", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_told_by_their_magic() {
        assert_eq!(
            sniff(b"RIFF\0\0\0\0WAVEfmt "),
            Sniffed::Supported(Container::Wav)
        );
        assert_eq!(
            sniff(b"fLaC\0\0\0\x22"),
            Sniffed::Supported(Container::Flac)
        );
        assert_eq!(
            sniff(b"FORM\0\0\0\0AIFCFVER"),
            Sniffed::Supported(Container::Aiff)
        );
        assert!(
            matches!(sniff(b"RF64\xff\xff\xff\xffWAVE"), Sniffed::Unsupported(s) if s.contains("RF64"))
        );
        assert!(
            matches!(sniff(b"RIFX\0\0\0\0WAVE"), Sniffed::Unsupported(s) if s.contains("RIFX"))
        );
    }

    #[test]
    fn unknown_files_are_described() {
        assert_eq!(sniff(b""), Sniffed::Unknown("an empty file".into()));
        assert!(matches!(sniff(b"OggS\0\x02"), Sniffed::Unknown(s) if s.contains("Ogg")));
        assert!(
            matches!(sniff(b"{\"version\": \"0.5"), Sniffed::Unknown(s) if s.contains("text starting with \"{\\\"version"))
        );
        assert!(
            matches!(sniff(&[0, 1, 0xfe]), Sniffed::Unknown(s) if s.ends_with("bytes 00 01 fe"))
        );
    }
}
