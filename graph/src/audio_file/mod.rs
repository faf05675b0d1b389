//! Reading audio files, for every part of the project that reads one: impulse
//! responses (the `ir` node, the plugin's cabinet and input IRs), the input of
//! `nam-graph run`, and `nam-tools train`'s recordings. Off the audio thread
//! only: it opens files and allocates. Writing stays with `hound`.
//!
//! # Formats
//! Told from the file's first bytes, never from its name ([`sniff`]):
//! WAV (`RIFF`…`WAVE`: 8/16/24/32-bit integer, 32/64-bit float,
//! `WAVE_FORMAT_EXTENSIBLE`, A-law/µ-law), FLAC (`fLaC`: any bit depth and block
//! size) and AIFF/AIFF-C (`FORM`…`AIFF`/`AIFC`: big-endian PCM, `sowt`
//! little-endian PCM, `fl32`/`fl64` float, A-law/µ-law), decoded with
//! `symphonia`. RF64/BW64, RIFX and Wave64 files are refused by name; any
//! other file is refused with what it looks like (text, Ogg, MP3, bytes...).
//!
//! # Rules
//! - Scaling: a W-bit integer sample is divided by 2^(W−1), so full scale is
//!   \[−1, 1) (unsigned 8-bit is centred first); the same b-bit sample reads
//!   the same in every container. Float samples are taken as they are.
//! - Finiteness: every sample kept must be finite (a float file may hold NaN
//!   or infinity); the first that is not is named, by frame and channel.
//! - Channels: every channel up to [`Limits::max_channels`] is decoded; the
//!   caller keeps the first `n` (an IR keeps channel 0, the left channel of a
//!   stereo IR; `nam-graph run` keeps mono or stereo; training needs mono).
//! - Limits ([`Limits`]): the file's size, checked before it is read; its
//!   length in seconds, checked against the header before decoding and again
//!   while decoding; an uncompressed file announcing more frames than its
//!   bytes can hold is refused before anything is reserved; a file whose
//!   header announces a frame count it does not hold is refused.

mod decode;
mod sniff;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use sniff::{sniff, Container, Sniffed};

/// Largest impulse-response file, checked before reading it: 64 MiB holds
/// 10 s of 8 channels of 32-bit samples at 192 kHz.
pub const MAX_IR_FILE_BYTES: u64 = 64 << 20;

/// What a read accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Largest file, in bytes.
    pub max_file_bytes: u64,
    /// Longest audio, in seconds at the file's own rate.
    pub max_seconds: f64,
    /// Most channels.
    pub max_channels: usize,
}

impl Limits {
    /// Impulse responses: [`MAX_IR_FILE_BYTES`],
    /// [`crate::nodes::convolver::MAX_IR_SECONDS`], up to 64 channels (only
    /// the first is used).
    pub const IMPULSE_RESPONSE: Self = Self {
        max_file_bytes: MAX_IR_FILE_BYTES,
        max_seconds: crate::nodes::convolver::MAX_IR_SECONDS,
        max_channels: 64,
    };

    /// Recordings to process or train on: up to 4 GiB (the most a WAV file
    /// can hold), two hours, mono or stereo.
    pub const RECORDING: Self = Self {
        max_file_bytes: 4 << 30,
        max_seconds: 7200.0,
        max_channels: 2,
    };
}

/// The samples of an audio file, planar.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioFile {
    /// The channels kept, each full scale ±1, all of the same length.
    pub samples: Vec<Vec<f32>>,
    /// The file's sample rate in Hz.
    pub sample_rate_hz: u32,
    /// How many channels the file has (perhaps more than were kept).
    pub channels: usize,
    /// The container it was read from.
    pub container: Container,
    /// How its samples were stored.
    pub encoding: Encoding,
}

/// How a file's samples are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Integers of this many bits.
    Int {
        /// Bits per sample.
        bits: u32,
    },
    /// Floating point numbers of this many bits.
    Float {
        /// Bits per sample.
        bits: u32,
    },
}

impl AudioFile {
    /// Frames per channel.
    pub fn frames(&self) -> usize {
        self.samples.first().map_or(0, Vec::len)
    }
}

/// One channel of an audio file (an impulse response).
#[derive(Clone, Debug, PartialEq)]
pub struct AudioChannel {
    /// The samples, full scale ±1, all finite.
    pub samples: Vec<f32>,
    /// The file's sample rate.
    pub sample_rate_hz: f64,
    /// How many channels the file has (only the first was read).
    pub channels: usize,
}

/// An audio file that cannot be used: which, and why.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct AudioFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: Problem,
}

/// What is wrong with an audio file.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    /// The file cannot be opened or read.
    #[error("cannot read the file: {0}")]
    Io(String),
    /// The file is larger than the limit.
    #[error("the file is {bytes} bytes, more than the {limit}-byte limit for this audio file")]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// An audio container that is recognised but not decoded.
    #[error("{0} is not supported; save it as WAV, FLAC or AIFF")]
    UnsupportedContainer(&'static str),
    /// Not an audio file of any known kind.
    #[error("not an audio file this program reads (WAV, FLAC, AIFF): it looks like {0}")]
    Unrecognized(String),
    /// The container's structure is broken.
    #[error("cannot read as {container}: {message}")]
    Malformed {
        /// The container.
        container: Container,
        /// What the decoder said.
        message: String,
    },
    /// The container holds an encoding that is not decoded (e.g. ADPCM).
    #[error("{container} file with an unsupported encoding: {message}")]
    UnsupportedEncoding {
        /// The container.
        container: Container,
        /// What the decoder said.
        message: String,
    },
    /// The sample rate is 0 or missing.
    #[error("the file's sample rate is 0 Hz")]
    ZeroRate,
    /// No audio at all.
    #[error(
        "the file has no samples (in a file of {file_bytes} bytes: if it holds audio, its \
         header was never completed, as in a recording that was cut off; re-save it in an \
         audio editor)"
    )]
    NoSamples {
        /// The file's size.
        file_bytes: u64,
    },
    /// More channels than the limit.
    #[error("{channels} channels; at most {limit} are supported here")]
    TooManyChannels {
        /// The file's channel count.
        channels: usize,
        /// The limit.
        limit: usize,
    },
    /// Longer than the limit.
    #[error("{frames} frames at {sample_rate_hz} Hz is longer than the {max_seconds} s limit")]
    TooLong {
        /// The frames announced or decoded.
        frames: u64,
        /// The file's rate.
        sample_rate_hz: u32,
        /// The limit.
        max_seconds: f64,
    },
    /// An uncompressed file announcing more frames than its bytes hold.
    #[error("the header announces {announced} frames but the file has room for at most {room}")]
    AnnouncedBeyondFile {
        /// Frames announced.
        announced: u64,
        /// Frames the file's size allows.
        room: u64,
    },
    /// Fewer (or more) frames than announced: a truncated or corrupt file.
    #[error("the header announces {announced} frames but {decoded} could be read")]
    Truncated {
        /// Frames announced.
        announced: u64,
        /// Frames decoded.
        decoded: u64,
    },
    /// A sample that is NaN or infinite.
    #[error("sample {frame} of channel {channel} is not finite ({value})")]
    NotFinite {
        /// Its frame.
        frame: usize,
        /// Its channel.
        channel: usize,
        /// The value.
        value: f32,
    },
}

impl Problem {
    fn malformed(container: Container, message: &str) -> Self {
        Self::Malformed {
            container,
            message: message.to_owned(),
        }
    }
}

/// Reads the audio file at `path` within `limits`, keeping its first
/// `keep_channels` channels (every rule of the module applies).
pub fn read(
    path: &Path,
    limits: &Limits,
    keep_channels: usize,
) -> Result<AudioFile, AudioFileError> {
    read_checked(path, limits, keep_channels).map_err(|problem| AudioFileError {
        path: path.to_owned(),
        problem,
    })
}

/// Reads an audio file held in memory (`name` is what errors call it), like
/// [`read`].
pub fn read_bytes(
    name: &Path,
    bytes: Vec<u8>,
    limits: &Limits,
    keep_channels: usize,
) -> Result<AudioFile, AudioFileError> {
    let size = bytes.len() as u64;
    let container = check_head(size, &bytes, limits);
    container
        .and_then(|container| {
            let source = Box::new(std::io::Cursor::new(bytes));
            decode::decode(source, size, container, limits, keep_channels.max(1))
        })
        .and_then(check_finite)
        .map_err(|problem| AudioFileError {
            path: name.to_owned(),
            problem,
        })
}

/// Reads the first channel of the audio file at `path` within `limits`.
pub fn read_first_channel(path: &Path, limits: &Limits) -> Result<AudioChannel, AudioFileError> {
    let file = read(path, limits, 1)?;
    let AudioFile {
        mut samples,
        sample_rate_hz,
        channels,
        ..
    } = file;
    Ok(AudioChannel {
        samples: samples.swap_remove(0),
        sample_rate_hz: f64::from(sample_rate_hz),
        channels,
    })
}

fn read_checked(path: &Path, limits: &Limits, keep_channels: usize) -> Result<AudioFile, Problem> {
    let io = |e: std::io::Error| Problem::Io(e.to_string());
    let mut file = File::open(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if metadata.is_dir() {
        return Err(Problem::Io("it is a directory".into()));
    }
    let mut head = Vec::with_capacity(sniff::SNIFF_BYTES);
    (&mut file)
        .take(sniff::SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let container = check_head(metadata.len(), &head, limits)?;
    if container != Container::Flac {
        // The decoders trust the format chunk's channel count and sample
        // size in their own arithmetic (absurd ones overflow there): refuse
        // them first.
        // (FLAC stores 1 to 8 channels in 3 bits.)
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut header = Vec::new();
        (&mut file)
            .take(HEADER_SCAN)
            .read_to_end(&mut header)
            .map_err(io)?;
        if let Some(format) = declared_format(container, &header) {
            check_declared_format(container, format, limits)?;
        }
    }
    // The decoder reads the same open file from its start.
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let audio = decode::decode(
        Box::new(file),
        metadata.len(),
        container,
        limits,
        keep_channels.max(1),
    )?;
    check_finite(audio)
}

/// The container of a file of `bytes` bytes starting with `head`, if its
/// size is within the limits and the container is one this module decodes.
fn check_head(bytes: u64, head: &[u8], limits: &Limits) -> Result<Container, Problem> {
    if bytes > limits.max_file_bytes {
        return Err(Problem::TooLarge {
            bytes,
            limit: limits.max_file_bytes,
        });
    }
    match sniff(&head[..head.len().min(sniff::SNIFF_BYTES)]) {
        Sniffed::Supported(container) => Ok(container),
        Sniffed::Unsupported(what) => Err(Problem::UnsupportedContainer(what)),
        Sniffed::Unknown(looks_like) => Err(Problem::Unrecognized(looks_like)),
    }
}

/// Bytes at the start of a WAV or AIFF file searched for its format chunk.
const HEADER_SCAN: u64 = 1 << 16;

/// The format chunk of a container whose chunks follow a 12-byte header
/// (RIFF/WAVE little-endian, FORM/AIFF big-endian): its tag, where the
/// channel count and the bits per sample sit in its data, and the byte order.
struct FormatChunk {
    tag: &'static [u8; 4],
    channels_at: usize,
    bits_at: usize,
    big_endian: bool,
}

impl FormatChunk {
    fn of(container: Container) -> Option<Self> {
        match container {
            // fmt: format tag, channels, rate, byte rate, block align, bits.
            Container::Wav => Some(Self {
                tag: b"fmt ",
                channels_at: 2,
                bits_at: 14,
                big_endian: false,
            }),
            // COMM: channels, frames (4 bytes), sample size, rate.
            Container::Aiff => Some(Self {
                tag: b"COMM",
                channels_at: 0,
                bits_at: 6,
                big_endian: true,
            }),
            Container::Flac => None,
        }
    }

    /// The chunk's tag without its padding, as named in messages.
    fn name(&self) -> &'static str {
        std::str::from_utf8(self.tag).map_or("format", str::trim_end)
    }

    fn read_u32(&self, bytes: &[u8]) -> Option<usize> {
        let bytes: [u8; 4] = bytes.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        } as usize)
    }

    fn read_u16(&self, bytes: Option<&[u8]>) -> Option<usize> {
        let bytes: [u8; 2] = bytes?.try_into().ok()?;
        Some(usize::from(if self.big_endian {
            u16::from_be_bytes(bytes)
        } else {
            u16::from_le_bytes(bytes)
        }))
    }
}

/// The channel count and, where the chunk holds it, the bits per sample that
/// the format chunk (WAV `fmt `, AIFF `COMM`) declares, if that chunk starts
/// within `header` (the file's first bytes).
fn declared_format(container: Container, header: &[u8]) -> Option<(usize, Option<usize>)> {
    let chunk = FormatChunk::of(container)?;
    let mut at = 12usize;
    while at.checked_add(8)? <= header.len() {
        let size = chunk.read_u32(&header[at + 4..at + 8])?;
        if &header[at..at + 4] == chunk.tag {
            let field = |offset: usize| header.get(at + 8 + offset..at + 10 + offset);
            let channels = chunk.read_u16(field(chunk.channels_at))?;
            return Some((channels, chunk.read_u16(field(chunk.bits_at))));
        }
        // Chunks are padded to an even size.
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}

/// Most bits per sample a format chunk may declare (64-bit float).
const MAX_BITS_PER_SAMPLE: usize = 64;

/// Refuses a declared channel count of 0 or above the limit, and bits per
/// sample above [`MAX_BITS_PER_SAMPLE`] (0 is left to the decoder: compressed
/// WAV formats declare it, and it overflows nothing).
fn check_declared_format(
    container: Container,
    (channels, bits): (usize, Option<usize>),
    limits: &Limits,
) -> Result<(), Problem> {
    let chunk = FormatChunk::of(container).map_or("format", |chunk| chunk.name());
    if channels == 0 {
        return Err(Problem::malformed(
            container,
            &format!("the {chunk} chunk declares 0 channels"),
        ));
    }
    if channels > limits.max_channels {
        return Err(Problem::TooManyChannels {
            channels,
            limit: limits.max_channels,
        });
    }
    match bits {
        Some(bits) if bits > MAX_BITS_PER_SAMPLE => Err(Problem::malformed(
            container,
            &format!("the {chunk} chunk declares {bits} bits per sample"),
        )),
        _ => Ok(()),
    }
}

/// `audio`, if every sample kept is finite.
fn check_finite(audio: AudioFile) -> Result<AudioFile, Problem> {
    for (channel, samples) in audio.samples.iter().enumerate() {
        if let Some((frame, &value)) = samples.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Problem::NotFinite {
                frame,
                channel,
                value,
            });
        }
    }
    Ok(audio)
}
