#!/usr/bin/env bash
# CPU cost of the LV2 plugin per run() call, like lv2bench but with a model and a cab IR
# loaded: ../shared/tools/lv2patchhost -T times every run() of the release build at each
# block size and prints percentiles; this prints them as a table with ns per sample and the
# share of the block's real-time budget (block / rate).
#
# usage: scripts/lv2-bench.sh [--model M.nam] [--ir CAB.wav] [--rate HZ] [--loops N]
#                             [--repeat R] [--blocks "16 32 ..."] [--uri URI]
# defaults: the standard-size WaveNet from ../shared/peers/models, examples/demo/cab.wav,
# 48000 Hz, the 6 s demo DI looped 3 times, blocks 16 to 1024, 3 runs per block size (the
# run with the median mean is shown). Wall-clock time of run(): use an idle machine; on a
# busy one the p50 column is the robust figure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
die() { printf 'error: lv2-bench: %s\n' "$*" >&2; exit 1; }
shared=$(cd "${SHARED:-../shared}" 2>/dev/null && pwd) || die "the team's shared folder is not at ${SHARED:-../shared}"

model=$shared/peers/models/wavenet_standard.nam
ir=$root/examples/demo/cab.wav
rate=48000 loops=3 repeat=3 blocks="16 32 64 128 256 512 1024" uri=urn:nam-graph:amp
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift ;;
    --ir) ir=$2; shift ;;
    --rate) rate=$2; shift ;;
    --loops) loops=$2; shift ;;
    --repeat) repeat=$2; shift ;;
    --blocks) blocks=$2; shift ;;
    --uri) uri=$2; shift ;;
    -h|--help) sed -n 2,13p "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
model=$(realpath "$model"); ir=$(realpath "$ir")
[ -f "$model" ] || die "no model $model"
[ -f "$ir" ] || die "no IR $ir"

scripts/lv2-hosts.sh --quiet || die "could not build the hosts"
# shellcheck disable=SC1091
source .cache/hosts/env
bundle=$(scripts/lv2-bundle.sh | tail -1) || die "scripts/lv2-bundle.sh failed"
export LV2_PATH=$root/$(dirname "$bundle")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
in=$work/in.wav
sox -D "$root/examples/demo/di.wav" "$in" rate -v "$rate"
frames=$(soxi -s "$in")

echo "plugin:  $uri ($root/$bundle, release)"
echo "model:   $model"
echo "cab IR:  $ir"
echo "input:   examples/demo/di.wav at $rate Hz, $frames frames x $loops loops; $repeat runs per block size"
echo "cpu:     $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible"
echo "timing:  wall-clock time of each run() (lv2patchhost -T), first 0.5 s of blocks excluded;"
echo "         ns/sample = mean (or p50) us per block / block; % budget = mean (or p99) / (block / rate)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average: other work skews the mean and tails)"
echo
printf '| %6s | %9s | %8s | %8s | %8s | %8s | %9s | %10s | %10s | %9s | %9s |\n' \
  block "budget us" "mean us" "p50 us" "p95 us" "p99 us" "max us" "ns/sample" "ns/s (p50)" "% budget" "% (p99)"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------: ----------: ---------: ---------: ---------: ---------: ----------: -----------: -----------: ----------: ----------:
for b in $blocks; do
  warm=$(( rate / 2 / b + 1 ))
  lines=()
  for r in $(seq "$repeat"); do
    out=$("$LV2PATCHHOST" -T -W "$warm" -n "$loops" -b "$b" -p "urn:nam-graph:amp_model=$model" \
      -p "urn:nam-graph:cab_ir=$ir" "$uri" "$in" "$work/out.wav" 2>"$work/err") \
      || { cat "$work/err" >&2; die "lv2patchhost failed at block $b"; }
    if grep -q '\[plugin Error\]' "$work/err"; then cat "$work/err" >&2; die "the plugin logged an error"; fi
    line=$(echo "$out" | grep '^timing:') || die "no timing line from lv2patchhost at block $b"
    lines+=("$line")
  done
  printf '%s\n' "${lines[@]}" | python3 -c '
import re, sys
runs = []
for line in sys.stdin:
    m = re.search(r"block (\d+) @ ([\d.]+) Hz, (\d+) blocks timed: mean ([\d.]+) us, p50 ([\d.]+), p95 ([\d.]+), "
                  r"p99 ([\d.]+), max ([\d.]+) us; budget ([\d.]+) us", line)
    if not m:
        sys.exit("cannot parse: " + line)
    runs.append([float(v) for v in m.groups()])
runs.sort(key=lambda r: r[3])
b, rate, n, mean, p50, p95, p99, mx, budget = runs[len(runs) // 2]
print(f"| {int(b):6d} | {budget:9.1f} | {mean:8.2f} | {p50:8.2f} | {p95:8.2f} | {p99:8.2f} | {mx:9.1f} | "
      f"{mean * 1000 / b:10.1f} | {p50 * 1000 / b:10.1f} | {100 * mean / budget:8.2f}% | {100 * p99 / budget:8.2f}% |")
'
done
