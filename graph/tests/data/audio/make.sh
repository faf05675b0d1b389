#!/usr/bin/env bash
# Regenerates the audio-file fixtures of graph/tests/audio_file.rs from the demo
# cabinet IR (examples/demo/cab.wav: 2048 frames, 24-bit, 48 kHz) with SoX
# (Debian's sox writes WAV, FLAC, AIFF and AIFF-C). -D: no dither, so the
# 16-bit files are the 24-bit samples rounded, identically in every container.
#   graph/tests/data/audio/make.sh
set -euo pipefail
cd "$(dirname "$0")"
cab=../../../../examples/demo/cab.wav
sox -D "$cab" -b 24 -e signed-integer cab_s24.wav
sox -D "$cab" -b 16 -e signed-integer cab_s16.wav
sox -D "$cab" -b 32 -e floating-point cab_f32.wav
# FLAC at two block sizes: compression 0 uses 1152-frame blocks, 8 uses 4096.
sox -D "$cab" -b 24 -C 8 cab_s24.flac
sox -D "$cab" -b 16 -C 0 cab_s16.flac
sox -D "$cab" -b 24 -e signed-integer cab_s24.aiff
sox -D "$cab" -b 16 -e signed-integer cab_s16.aiff
sox -D "$cab" -b 16 -e signed-integer -t aifc cab_s16.aifc
ls -l cab_*
# lpc_overflow.flac, mask_overflow.wav and channels_overflow.aiff are not made here: fuzzer
# findings, kept as found.
