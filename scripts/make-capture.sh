#!/usr/bin/env bash
# A second reamp capture, of different gear than ../shared/data's, for measuring
# training on a capture nothing was tuned on (scripts/compare-trainer.sh
# --capture): the same DI (../shared/data/input.wav) through Guitarix's Tube
# Screamer (drive 0.7) into its JCM800 preamp (at its defaults: under lv2apply
# its controls change nothing), each run with lv2apply as ../shared/data's target
# was. A sample-aligned digital capture, like a pedal into an amp simulation:
# strongly non-linear (the best gain alone leaves an ESR of 0.72), RMS -37 dBFS.
#
#   scripts/make-capture.sh [OUT_DIR]    (default .cache/captures/ts9-jcm800)
#
# Needs Debian's guitarix-lv2 and lilv-utils (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.cache/captures/ts9-jcm800}
DI=$(realpath "${NAM_DATA_DIR:-../shared/data}/input.wav")
TS9=http://guitarix.sourceforge.net/plugins/gxts9#ts9sim
JCM800=http://guitarix.sourceforge.net/plugins/gx_jcm800pre_#_jcm800pre_
if ! command -v lv2apply >/dev/null || ! lv2info "$JCM800" >/dev/null 2>&1; then
    sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq guitarix-lv2 lilv-utils
fi
mkdir -p "$OUT"
cp "$DI" "$OUT/input.wav"
lv2apply -i "$DI" -o "$OUT/pedal.wav" -c fslider2_ 0.7 "$TS9"
lv2apply -i "$OUT/pedal.wav" -o "$OUT/target.wav" "$JCM800"
rm "$OUT/pedal.wav"
echo "$OUT: input.wav (the DI) and target.wav (Guitarix TS9 into JCM800 preamp)"
