#!/usr/bin/env python3
"""Writes the hand-made seeds of the fuzz targets: tiny WAV files for
`ir_wav` and control-port atoms for `patch_atom`, into fuzz/seeds/.

The atoms use the fixed URID numbers of `URIS` in
fuzz_targets/patch_atom.rs (1 = atom:Object ... 13 = urn:nam-graph:cab_ir).
The other seeds (`.nam` files, chains, the FLAC and AIFF files of `ir_wav`,
copied from graph/tests/data/audio/) are copies and hand-written files.
Run it again after changing either; the output is deterministic.
"""

import math
import struct
from pathlib import Path

SEEDS = Path(__file__).resolve().parent / "seeds"

# URIDs: the order of URIS in fuzz_targets/patch_atom.rs, from 1.
OBJECT, BLANK, URID, PATH, STRING, MIDI_EVENT = 1, 2, 3, 4, 5, 6
PATCH_SET, PATCH_GET, PATCH_PROPERTY, PATCH_VALUE = 7, 8, 9, 10
AMP_MODEL, INPUT_IR, CAB_IR = 11, 12, 13


def pad8(data: bytes) -> bytes:
    return data + bytes(-len(data) % 8)


def atom(type_: int, body: bytes) -> bytes:
    """An atom: header {size, type} and its body (unpadded)."""
    return struct.pack("<II", len(body), type_) + body


def obj(otype: int, properties, kind: int = OBJECT) -> bytes:
    """An atom:Object (or Blank) of type `otype` with (key, value atom) pairs."""
    body = struct.pack("<II", 0, otype)
    for key, value in properties:
        body += pad8(struct.pack("<II", key, 0) + value)
    return atom(kind, body)


def urid(value: int) -> bytes:
    return atom(URID, struct.pack("<I", value))


def text(type_: int, value: str) -> bytes:
    return atom(type_, value.encode() + b"\0")


def atoms():
    return {
        "set_model_path": obj(PATCH_SET, [(PATCH_PROPERTY, urid(AMP_MODEL)),
                                          (PATCH_VALUE, text(PATH, "/models/amp.nam"))]),
        "set_cab_string_blank": obj(PATCH_SET, [(PATCH_PROPERTY, urid(CAB_IR)),
                                                (PATCH_VALUE, text(STRING, "/irs/cab.wav"))],
                                    kind=BLANK),
        "set_input_ir_clear": obj(PATCH_SET, [(PATCH_VALUE, text(PATH, "")),
                                              (PATCH_PROPERTY, urid(INPUT_IR))]),
        "set_unknown_property": obj(PATCH_SET, [(PATCH_PROPERTY, urid(99)),
                                                (PATCH_VALUE, text(PATH, "/x"))]),
        "get_all": obj(PATCH_GET, []),
        "get_model": obj(PATCH_GET, [(PATCH_PROPERTY, urid(AMP_MODEL))]),
        "program_change": atom(MIDI_EVENT, bytes([0xC0, 5])),
        "note_on": atom(MIDI_EVENT, bytes([0x90, 60, 100])),
    }


def wav(fmt: int, channels: int, rate: int, bits: int, samples: bytes) -> bytes:
    """A RIFF/WAVE file with a plain fmt chunk (1 = PCM, 3 = IEEE float)."""
    align = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", fmt, channels, rate, rate * align, align, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    chunks += b"data" + struct.pack("<I", len(samples)) + pad_even(samples)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def pad_even(data: bytes) -> bytes:
    return data + bytes(len(data) % 2)


def decay(frames: int):
    """A short decaying resonance, like a tiny cabinet IR, peak 0.9."""
    return [0.9 * math.exp(-i / 6) * math.cos(i * 0.9) for i in range(frames)]


def wavs():
    ir = decay(24)
    pcm16 = b"".join(struct.pack("<h", round(x * 32767)) for x in ir)
    pcm24 = b"".join(struct.pack("<i", round(x * 8388607))[:3] * 2 for x in ir[:12])
    pcm8 = bytes(round(128 + x * 127) for x in ir[:16])
    pcm32 = b"".join(struct.pack("<i", round(x * 2147483647)) for x in ir[:8])
    float32 = b"".join(struct.pack("<f", x) for x in ir[:16])
    return {
        "pcm16_mono_48k": wav(1, 1, 48000, 16, pcm16),
        "pcm24_stereo_44k": wav(1, 2, 44100, 24, pcm24),
        "pcm8_mono_22k": wav(1, 1, 22050, 8, pcm8),
        "pcm32_mono_96k": wav(1, 1, 96000, 32, pcm32),
        "float32_mono_48k": wav(3, 1, 48000, 32, float32),
    }


def main():
    for folder, files, ext in (("patch_atom", atoms(), "bin"), ("ir_wav", wavs(), "wav")):
        out = SEEDS / folder
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / f"{name}.{ext}").write_bytes(data)
            print(f"{out / name}.{ext}: {len(data)} bytes")


if __name__ == "__main__":
    main()
