#!/usr/bin/env bash
# What would a model cost on a MOD Dwarf (4x Cortex-A35 at 1.3 GHz)? Counts executed
# aarch64 instructions of our harness under qemu, with ../shared/tools/aarch64-cost.
#
# usage: scripts/aarch64-cost.sh [--models LIST] [--block N] [--table NAME] [--size S]
#                                [--samples N1,N2] [--ipc X] [--mca]
#   --models LIST    comma-separated model file stems from the peers' models/ folder
#                    (the wavenet_ prefix may be left out) or paths to .nam files
#                    (default: every model there but the *_legacy.nam copies)
#   --block N        frames per process call (default 64)
#   --table NAME     our kernel table (default neon)
#   --size S         play slimmable models at size S in [0, 1] (passed to the harness,
#                    which refuses a model without sizes); default: every size of a
#                    slimmable model (`anchor sizes`), the whole model otherwise
#   --samples N1,N2  the two run lengths (default 8192,40960)
#   --ipc X          instructions per cycle assumed for the Dwarf estimate (default 0.5,
#                    the calibration in ../shared/tools/aarch64-cost/README.md; 0.4 to be safe)
#   --mca            also each model's own IPC from LLVM's in-order Cortex-A53 model
#                    (llvm-mca, through the tool's mca_ipc.py, over the harness's 600 hottest
#                    blocks, each weighted by what it executed more in the longer run; the C
#                    library's blocks are left out) and its share of a Dwarf core at that IPC:
#                    a second, model-specific estimate
# Quick run: scripts/aarch64-cost.sh --models nano
#
# Method: our harness (nam-kernel/examples/anchor.rs) is cross-built for
# aarch64-unknown-linux-gnu with -C target-cpu=cortex-a35 (release, into
# target/aarch64-cost) and run under qemu-aarch64 -cpu cortex-a35 with the
# instruction-counting plugin (built into .cache/aarch64-cost) for two lengths:
# instructions/sample = (I2 - I1) / (N2 - N1), so loading and prewarm cancel out.
# Printed per model: that figure, NeuralAmpModelerCore's calibration figure (same
# method, -mcpu=cortex-a35 -O3 -Ofast, block 64), ours / NAM Core, the estimated share
# of one Dwarf core at 48 kHz, load = insns/sample / IPC * 48000 / 1.3e9, and the
# goal of issue #10. A count of zero or a non-increasing count fails the script.
# Environment: NAM_PEERS_DIR (default ../shared/peers), NAM_AARCH64_COST_DIR (the
# tool, default ../shared/tools/aarch64-cost).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'aarch64-cost: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

models=
block=64
table=neon
size=
samples=8192,40960
ipc=0.5
mca=
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models=${2:?}; shift ;;
    --block) block=${2:?}; shift ;;
    --table) table=${2:?}; shift ;;
    --size) size=${2:?}; shift ;;
    --samples) samples=${2:?}; shift ;;
    --ipc) ipc=${2:?}; shift ;;
    --mca) mca=1 ;;
    -h|--help) usage ;;
    *) echo "aarch64-cost: unknown argument $1" >&2; usage ;;
  esac
  shift
done
[[ $block =~ ^[1-9][0-9]*$ ]] || die "--block $block: give a whole number of at least 1"
[[ $samples =~ ^[1-9][0-9]*,[1-9][0-9]*$ ]] || die "--samples $samples: give two lengths like 8192,40960"
IFS=, read -r n1 n2 <<<"$samples"
# Whole blocks only: the harness rounds lengths down to whole blocks.
n1=$((n1 / block * block)); n2=$((n2 / block * block))
[ "$n2" -gt "$n1" ] && [ "$n1" -gt 0 ] || die "--samples $samples: need 0 < N1 < N2 (in whole blocks of $block)"
[[ $ipc =~ ^[0-9]*\.?[0-9]+$ ]] || die "--ipc $ipc: not a number"

peers_src=$(cd "${NAM_PEERS_DIR:-../shared/peers}" 2>/dev/null && pwd) || peers_src=
tool=$(cd "${NAM_AARCH64_COST_DIR:-../shared/tools/aarch64-cost}" 2>/dev/null && pwd) \
  || die "aarch64-cost tool not found in ${NAM_AARCH64_COST_DIR:-../shared/tools/aarch64-cost}"

# --- models -----------------------------------------------------------------
declare -a names=() paths=()
add_model() { names+=("$1"); paths+=("$2"); }
if [ -z "$models" ]; then
  [ -n "$peers_src" ] || die "peers' models not found (set NAM_PEERS_DIR or give --models)"
  for f in "$peers_src"/models/*.nam; do
    stem=$(basename "$f" .nam)
    [[ $stem == *_legacy ]] || add_model "$stem" "$f"
  done
else
  IFS=, read -r -a wanted <<<"$models"
  for name in "${wanted[@]}"; do
    if [[ $name == *.nam ]] && [ -f "$name" ]; then add_model "$(basename "$name" .nam)" "$name"
    elif [ -n "$peers_src" ] && [ -f "$peers_src/models/$name.nam" ]; then add_model "$name" "$peers_src/models/$name.nam"
    elif [ -n "$peers_src" ] && [ -f "$peers_src/models/wavenet_$name.nam" ]; then
      add_model "wavenet_$name" "$peers_src/models/wavenet_$name.nam"
    else die "no model $name (a .nam path, or a stem in the models folder of ${peers_src:-NAM_PEERS_DIR})"
    fi
  done
fi
[ "${#names[@]}" -gt 0 ] || die "no models to count"

# --- tools ------------------------------------------------------------------
missing=$(for p in qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross ${mca:+llvm}; do
  dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  $sudo apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >&2
fi
triple=aarch64-unknown-linux-gnu
rustup target list --installed | grep -qx $triple || rustup target add $triple >&2

plugin_dir=.cache/aarch64-cost
plugin=$plugin_dir/libinsncount.so
if [ ! -f "$plugin" ] || [ "$tool/insncount.c" -nt "$plugin" ]; then
  sh "$tool/build.sh" "$plugin_dir" >&2
fi
plugin=$(cd "$plugin_dir" && pwd)/libinsncount.so

echo "cross-building the harness for $triple, target-cpu=cortex-a35" >&2
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=cortex-a35" \
  cargo build --release --locked -q -p nam-kernel --example anchor --target $triple \
  --target-dir target/aarch64-cost >&2
anchor=target/aarch64-cost/$triple/release/examples/anchor
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
# The harness under qemu, uncounted (listing tables and sizes).
anchor_a64() { qemu-aarch64 -cpu cortex-a35 "$anchor" "$@"; }
a64_tables=$(anchor_a64 tables) || die "the aarch64 harness does not run under qemu-aarch64"
grep -qx "$table" <<<"$a64_tables" \
  || die "the aarch64 harness has no table $table (it has: $(tr '\n' ' ' <<<"$a64_tables"))"

# Executed instructions of one harness run: count MODEL SAMPLES [--size S].
count() {
  local out insns
  out=$(PLUGIN=$plugin sh "$tool/count.sh" "$anchor" bench "$1" "$block" "$2" 0 --table "$table" "${@:3}") \
    || die "the harness failed under qemu on $1 ($2 samples)"
  insns=$(sed -n 's/^insns=\([0-9]*\)$/\1/p' <<<"$out")
  [ -n "$insns" ] && [ "$insns" -gt 0 ] || die "qemu counted no instruction on $1: ${out:-no output}"
  echo "$insns"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rows=$work/rows
: >"$rows"
if [ -n "$mca" ]; then
  command -v llvm-mca >/dev/null || die "--mca needs llvm-mca (Debian package llvm)"
  aarch64-linux-gnu-objdump -d --no-show-raw-insn "$anchor" >"$work/anchor.dis" \
    || die "cannot disassemble $anchor"
fi

# qemu-user maps a 64-bit position-independent guest at this address.
qemu_load_base=0x5500000000

# LLVM's IPC of the per-sample work: mca_ipc MODEL [--size S]. Both run lengths
# list their hottest blocks (the shorter run more of them, so that every block
# of the longer run's 600 is found there too); the difference of each block's
# executed instructions is what the extra samples ran (loading and warm-up
# cancel, as in the counts). Blocks are moved from qemu's addresses to the
# binary's; those outside it (the C library, the loader) are dropped.
mca_ipc() {
  local dir out ipc
  dir=$(mktemp -d -p "$work")
  PLUGIN=$plugin HOT=2000 sh "$tool/count.sh" "$anchor" bench "$1" "$block" "$n1" 0 \
    --table "$table" "${@:2}" >"$dir/short.txt" \
    || die "the harness failed under qemu on $1 ($n1 samples, hot blocks)"
  PLUGIN=$plugin HOT=600 sh "$tool/count.sh" "$anchor" bench "$1" "$block" "$n2" 0 \
    --table "$table" "${@:2}" >"$dir/long.txt" \
    || die "the harness failed under qemu on $1 ($n2 samples, hot blocks)"
  python3 - "$work/anchor.dis" "$dir/short.txt" "$dir/long.txt" "$qemu_load_base" \
    >"$dir/hot.txt" <<'PY' \
    || die "$1: no hot block of the per-sample work lies in the harness (has qemu's load address changed from $qemu_load_base?)"
import re, sys
dis, short, long, base = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4], 16)
text = [int(m.group(1), 16) for m in map(re.compile(r"\s+([0-9a-f]+):\s").match, open(dis)) if m]
low, high = min(text), max(text)
def hot(path):
    total, blocks = None, {}
    for line in open(path):
        if line.startswith("insns="):
            total = int(line[6:])
        m = re.match(r"hot vaddr=0x([0-9a-f]+) ninsn=(\d+) execinsns=(\d+)", line)
        if m and low <= int(m.group(1), 16) - base <= high:
            blocks[(int(m.group(1), 16) - base, int(m.group(2)))] = int(m.group(3))
    return total, blocks
(total1, blocks1), (total2, blocks2) = hot(short), hot(long)
print(f"insns={total2 - total1}")
kept = 0
for (vaddr, n), executed in sorted(blocks2.items()):
    extra = executed - blocks1.get((vaddr, n), 0)
    if extra > 0:
        print(f"hot vaddr={vaddr:#x} ninsn={n} execinsns={extra}")
        kept += 1
sys.exit(0 if kept else 1)
PY
  out=$(python3 "$tool/mca_ipc.py" "$work/anchor.dis" "$dir/hot.txt" cortex-a35) \
    || die "llvm-mca failed on $1"
  ipc=$(sed -n 's/.*weighted IPC = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  [ -n "$ipc" ] || die "mca_ipc.py gave no IPC for $1: $out"
  echo "$ipc"
}
for i in "${!names[@]}"; do
  name=${names[$i]} path=${paths[$i]}
  if [ -n "$size" ]; then sizes=("$size")
  else
    listed=$(anchor_a64 sizes "$path") || die "the harness cannot load $path"
    mapfile -t sizes <<<"$listed"
    [ -n "$listed" ] || sizes=()
  fi
  [ "${#sizes[@]}" -gt 0 ] || sizes=("")
  for s in "${sizes[@]}"; do
    size_args=(); [ -n "$s" ] && size_args=(--size "$s")
    echo "counting $name${s:+ at size $s}" >&2
    i1=$(count "$path" "$n1" "${size_args[@]}")
    i2=$(count "$path" "$n2" "${size_args[@]}")
    [ "$i2" -gt "$i1" ] || die "$name: $n2 samples counted $i2 instructions, not more than $n1 samples ($i1)"
    model_ipc=-
    [ -n "$mca" ] && model_ipc=$(mca_ipc "$path" "${size_args[@]}")
    printf '%s\t%s\t%s\t%s\n' "$name" "${s:-full}" "$(( (i2 - i1) / (n2 - n1) ))" "$model_ipc" >>"$rows"
  done
done

python3 - "$rows" "$ipc" "$block" "$table" "$n1" "$n2" "$mca" <<'EOF'
import sys
rows, ipc, block, table, n1, n2, mca = sys.argv[1:]
ipc = float(ipc)
# NeuralAmpModelerCore daae2d0, -mcpu=cortex-a35 -O3 -Ofast, block 64, same method
# (../shared/tools/aarch64-cost/README.md), and the goals of issue #10, by model.
nam_core = {"wavenet_nano": 6433, "wavenet_feather": 8269, "wavenet_lite": 13063,
            "wavenet_standard": 16370, "wavenet_a2_full": 14907, "wavenet_a2_lite": 1532,
            "lstm_standard": 2670}
goal = {"wavenet_nano": 1300, "wavenet_feather": 3000, "wavenet_lite": 5500,
        "wavenet_standard": 8000, "wavenet_a2_full": 7000, "wavenet_a2_lite": 770,
        "lstm_standard": 1335}
def load(insns, at_ipc=ipc):
    return insns / at_ipc * 48000 / 1.3e9 * 100
print(f"aarch64 instructions per sample, block {block}, table {table}, target-cpu=cortex-a35, "
      f"qemu count of ({n2} - {n1} samples); Dwarf share = insns/sample / IPC {ipc:g} * 48000 / 1.3e9")
if mca:
    print("llvm-mca IPC: LLVM's in-order Cortex-A53 model over the harness's hottest blocks, "
          f"each weighted by what it ran in the {int(n2) - int(n1)} extra samples of the longer run "
          "(../shared/tools/aarch64-cost/mca_ipc.py)")
print()
mca_head, mca_rule = (" | llvm-mca IPC | ours, % of one A35 core at that IPC", "---|---|") if mca else ("", "")
print(f"| model | size | ours insns/sample | NAM Core insns/sample | ours / NAM Core "
      f"| ours, % of one A35 core at IPC {ipc:g} | NAM Core, % | goal (issue #10) | goal met{mca_head} |")
print(f"|---|---|---|---|---|---|---|---|---|{mca_rule}")
for line in open(rows).read().splitlines():
    name, size, insns, model_ipc = line.split("\t")
    insns = int(insns)
    key = name.removesuffix("_legacy")
    ref, target = nam_core.get(key), goal.get(key)
    cells = [name, size, f"{insns:,}".replace(",", " "),
             f"{ref:,}".replace(",", " ") if ref else "-",
             f"{insns / ref:.2f}" if ref else "-",
             f"{load(insns):.0f}%",
             f"{load(ref):.0f}%" if ref else "-",
             f"<= {target:,} ({load(target):.0f}%)".replace(",", " ") if target else "-",
             ("yes" if insns <= target else "no") if target and size == "full" else "-"]
    if mca:
        cells += [model_ipc, f"{load(insns, float(model_ipc)):.0f}%"]
    print("| " + " | ".join(cells) + " |")
EOF
