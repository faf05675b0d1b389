//! Decoding a sniffed container with `symphonia`, under the module's limits.

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_FLAC, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_F32BE, CODEC_ID_PCM_F32LE, CODEC_ID_PCM_F64BE,
    CODEC_ID_PCM_F64LE, CODEC_ID_PCM_MULAW,
};
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::default::formats::{AiffReader, FlacReader, WavReader};

use super::sniff::Container;
use super::{AudioFile, Encoding, Limits, Problem};

/// Decodes `file` (`file_bytes` long, already checked against the limits'
/// size, read from its start) as `container`, keeping its first
/// `keep_channels` channels.
pub fn decode(
    file: Box<dyn MediaSource>,
    file_bytes: u64,
    container: Container,
    limits: &Limits,
    keep_channels: usize,
) -> Result<AudioFile, Problem> {
    let malformed = |e: SymphoniaError| Problem::Malformed {
        container,
        message: e.to_string(),
    };
    let stream = MediaSourceStream::new(file, MediaSourceStreamOptions::default());
    let options = FormatOptions::default();
    let mut reader: Box<dyn FormatReader> = match container {
        Container::Wav => Box::new(WavReader::try_new(stream, options).map_err(malformed)?),
        Container::Flac => Box::new(FlacReader::try_new(stream, options).map_err(malformed)?),
        Container::Aiff => Box::new(AiffReader::try_new(stream, options).map_err(malformed)?),
    };
    let track = reader
        .first_track(TrackType::Audio)
        .ok_or_else(|| Problem::malformed(container, "no audio track"))?;
    let (track_id, announced) = (track.id, track.num_frames);
    let Some(CodecParameters::Audio(params)) = track.codec_params.clone() else {
        return Err(Problem::malformed(container, "no audio parameters"));
    };
    let sample_rate_hz = params.sample_rate.unwrap_or(0);
    if sample_rate_hz == 0 {
        return Err(Problem::ZeroRate);
    }
    let channels = params.channels.as_ref().map_or(0, |c| c.count());
    if channels == 0 {
        return Err(Problem::malformed(container, "no channels"));
    }
    if channels > limits.max_channels {
        return Err(Problem::TooManyChannels {
            channels,
            limit: limits.max_channels,
        });
    }
    let max_frames = (limits.max_seconds * f64::from(sample_rate_hz)) as u64;
    let too_long = |frames: u64| Problem::TooLong {
        frames,
        sample_rate_hz,
        max_seconds: limits.max_seconds,
    };
    if announced == Some(0) {
        return Err(Problem::NoSamples { file_bytes });
    }
    // The samples are reserved from the header's count: a corrupt header of a
    // few bytes must not reserve gigabytes (a failed reservation aborts). An
    // uncompressed file cannot hold more frames than its bytes allow; a FLAC
    // file can, and grows its buffers as it decodes.
    let stored_bytes = stored_bytes_per_sample(&params);
    let bytes_per_frame = channels as u64 * stored_bytes.unwrap_or(1);
    let room = file_bytes / bytes_per_frame;
    if let Some(announced) = announced {
        if announced > max_frames {
            return Err(too_long(announced));
        }
        if stored_bytes.is_some() && announced > room {
            return Err(Problem::AnnouncedBeyondFile { announced, room });
        }
    }
    let reserve = announced.unwrap_or(0).min(room).min(max_frames) as usize;
    let keep = keep_channels.min(channels);
    let mut samples: Vec<Vec<f32>> = (0..keep).map(|_| Vec::with_capacity(reserve)).collect();

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| Problem::UnsupportedEncoding {
            container,
            message: e.to_string(),
        })?;
    let mut decoded: u64 = 0;
    let mut encoding = None;
    let mut planes: Vec<Vec<f32>> = Vec::new();
    while let Some(packet) = next_packet(reader.as_mut()).map_err(malformed)? {
        if packet.track_id != track_id {
            continue;
        }
        let buffer = decoder.decode(&packet).map_err(malformed)?;
        encoding.get_or_insert(encoding_of(&buffer, params.bits_per_sample));
        // Full scale ±1: symphonia divides a W-bit integer by 2^(W−1), and
        // FLAC's samples come left-aligned in 32 bits, so a b-bit sample gets
        // the same value in every container.
        buffer.copy_to_vecs_planar::<f32>(&mut planes);
        decoded += buffer.frames() as u64;
        if decoded > max_frames {
            return Err(too_long(decoded));
        }
        for (kept, plane) in samples.iter_mut().zip(&planes) {
            kept.extend_from_slice(plane);
        }
    }
    if let Some(announced) = announced.filter(|&a| a != decoded) {
        return Err(Problem::Truncated { announced, decoded });
    }
    let Some(encoding) = encoding.filter(|_| decoded > 0) else {
        return Err(Problem::NoSamples { file_bytes });
    };
    Ok(AudioFile {
        samples,
        sample_rate_hz,
        channels,
        container,
        encoding,
    })
}

/// The next packet, or `None` at the end of the stream (also where the file
/// ends early: the frame count check then reports it).
fn next_packet(
    reader: &mut dyn FormatReader,
) -> Result<Option<symphonia::core::packet::Packet>, SymphoniaError> {
    match reader.next_packet() {
        Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Ok(None)
        }
        other => other,
    }
}

/// Bytes each sample takes in the file, for uncompressed encodings (`None`
/// for FLAC).
fn stored_bytes_per_sample(params: &AudioCodecParameters) -> Option<u64> {
    match params.codec {
        CODEC_ID_FLAC => None,
        CODEC_ID_PCM_F32LE | CODEC_ID_PCM_F32BE => Some(4),
        CODEC_ID_PCM_F64LE | CODEC_ID_PCM_F64BE => Some(8),
        CODEC_ID_PCM_ALAW | CODEC_ID_PCM_MULAW => Some(1),
        _ => Some(u64::from(
            params
                .bits_per_coded_sample
                .or(params.bits_per_sample)
                .unwrap_or(8)
                .div_ceil(8)
                .max(1),
        )),
    }
}

/// How the samples of `buffer` were stored: its sample type, with the
/// header's bit depth where it says one (a 24-bit FLAC decodes to 32 bits).
fn encoding_of(buffer: &GenericAudioBufferRef<'_>, header_bits: Option<u32>) -> Encoding {
    type B<'a> = GenericAudioBufferRef<'a>;
    let width = match buffer {
        B::F32(_) => return Encoding::Float { bits: 32 },
        B::F64(_) => return Encoding::Float { bits: 64 },
        B::U8(_) | B::S8(_) => 8,
        B::U16(_) | B::S16(_) => 16,
        B::U24(_) | B::S24(_) => 24,
        B::U32(_) | B::S32(_) => 32,
    };
    Encoding::Int {
        bits: header_bits.map_or(width, |bits| bits.min(width)),
    }
}
