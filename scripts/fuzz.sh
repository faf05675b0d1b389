#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ on stable Rust (libFuzzer with coverage
# instrumentation, no sanitizer) and runs each for SECONDS_PER_TARGET seconds
# (default 300) over a working copy of its corpus, then prints per target the
# executions, the coverage reached and the findings. Exits non-zero if a
# target found a crash, a timeout or an out-of-memory input, or ran no input;
# each crash is minimised and printed with the command that replays it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Targets: nam_file, ir_wav, chain_toml, patch_atom, ckpt_file (default: all). Working
# corpora grow across runs in .cache/fuzz/TARGET/corpus (seeded from
# fuzz/seeds/TARGET, the example chains and models, the checkpoints of
# tools/tests/ckpt, and the fixtures of
# ../shared/fixtures up to 64 KiB), with fuzz/dicts/TARGET.dict as libFuzzer
# dictionary where there is one; findings of the last run are in
# .cache/fuzz/TARGET/artifacts. Binaries: $CARGO_TARGET_DIR/fuzz (default
# target/fuzz), apart from the workspace's own builds.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

seconds=${1:-300}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "SECONDS_PER_TARGET must be a positive number of seconds, not '$seconds'"
shift $(( $# > 0 ? 1 : 0 ))
all_targets=(nam_file ir_wav chain_toml patch_atom ckpt_file)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || die "unknown target '$t' (known: ${all_targets[*]})"
done

# libFuzzer's runtime is C++: the libfuzzer-sys build script compiles it.
if ! command -v c++ >/dev/null; then
  echo "installing g++ (libFuzzer is compiled from C++)"
  sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++
fi

# Coverage for libFuzzer through stable codegen options (those `cargo fuzz`
# passes, without a sanitizer); --target keeps them off build scripts and proc
# macros. Debug assertions and overflow checks: fuzz/Cargo.toml's profile.
host=$(rustc -vV | sed -n 's/^host: //p')
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")/fuzz
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
echo "building the fuzz targets into $target_dir"
RUSTFLAGS=$flags cargo build --manifest-path fuzz/Cargo.toml --release --locked \
  --target "$host" --target-dir "$target_dir" --bins
bin_dir=$target_dir/$host/release

# Per target: the largest input, the time one input may take (s), extra seeds.
declare -A max_len=([nam_file]=65536 [ir_wav]=8192 [chain_toml]=4096 [patch_atom]=1024 [ckpt_file]=65536)
declare -A timeout=([nam_file]=20 [ir_wav]=10 [chain_toml]=20 [patch_atom]=5 [ckpt_file]=20)
extra_seeds() {
  local fixtures=${NAM_FIXTURES_DIR:-../shared/fixtures}
  case $1 in
    nam_file)
      echo examples/demo/drive.nam
      [ -d "$fixtures" ] && find "$fixtures" -maxdepth 1 -name '*.nam' -size -65537c | sort ;;
    ir_wav) echo examples/demo/cab.wav; ls graph/tests/data/audio/*.{wav,flac,aiff,aifc} ;;
    chain_toml) find examples -name '*.toml' | sort ;;
    patch_atom) ;;
    ckpt_file) find tools/tests/ckpt -name '*.ckpt' -size -65537c | sort ;;
  esac
}

# Stats from a libFuzzer log: a field (cov, ft, corp) of the status line once
# the corpus is loaded (INITED) or of the last one, and the executions.
first_status() { grep -m1 -E '^#[0-9]+[[:space:]]+INITED ' "$1"; }
last_status() { grep -E '^#[0-9]+[[:space:]]+(INITED|NEW|REDUCE|pulse|DONE|RELOAD) ' "$1" | tail -1; }
field() { grep -oE "$1: [0-9]+" | head -1 | cut -d' ' -f2 || true; }
executions() { sed -n 's/^stat::number_of_executed_units: //p' "$1" | tail -1; }

work=.cache/fuzz
failed=0
passed=0
report=()
for t in "${targets[@]}"; do
  dir=$work/$t
  mkdir -p "$dir/corpus"
  rm -rf "$dir/artifacts" "$dir/tmp"
  mkdir -p "$dir/artifacts" "$dir/tmp"
  cp fuzz/seeds/"$t"/* "$dir/corpus/"
  while read -r seed; do
    [ -n "$seed" ] && cp "$seed" "$dir/corpus/$(basename "$(dirname "$seed")")-$(basename "$seed")"
  done < <(extra_seeds "$t")
  log=$dir/fuzz.log
  echo
  echo "==> $t: ${seconds}s over $(ls "$dir/corpus" | wc -l) inputs (log: $log)"
  status=0
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=(-dict="fuzz/dicts/$t.dict")
  # TMPDIR: the targets' scratch files, removed with the run's folder.
  TMPDIR=$PWD/$dir/tmp "$bin_dir/$t" "$dir/corpus" "${dict[@]}" \
    -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout="${timeout[$t]}" \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+.*(INITED|DONE)' "$log" || true
  runs=$(executions "$log")
  runs=${runs:-0}
  start=$(first_status "$log") || true
  end=$(last_status "$log") || true
  cov="cov $(field cov <<<"$start") -> $(field cov <<<"$end"), features $(field ft <<<"$start") -> $(field ft <<<"$end"), corpus $(field corp <<<"$end")"
  findings=()
  while IFS= read -r -d '' artifact; do
    findings+=("$artifact")
  done < <(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) -print0 | sort -z)
  line="$t: $runs executions, $cov, ${#findings[@]} finding(s), exit status $status"
  if [ "${#findings[@]}" -gt 0 ] || [ "$runs" -eq 0 ] || [ "$status" -ne 0 ]; then
    failed=$((failed + 1))
    report+=("FAIL $line")
    tail -n 40 "$log" | sed 's/^/    /'
    for artifact in "${findings[@]}"; do
      case $(basename "$artifact") in
        crash-*)
          minimized=$dir/artifacts/minimized-$(basename "$artifact")
          # libFuzzer's -minimize_crash starts one run of up to -max_total_time
          # after another for as long as each finds a smaller crash (a CI run
          # spent 45 minutes there on a .nam file): `timeout` bounds the whole,
          # its process group with those runs. The smallest crash found so far
          # stays in $minimized.
          budget=$(( seconds < 60 ? seconds : 60 ))
          TMPDIR=$PWD/$dir/tmp timeout --kill-after=10 $(( 3 * budget )) \
            "$bin_dir/$t" -minimize_crash=1 -max_total_time=$budget -timeout="${timeout[$t]}" \
            -rss_limit_mb=2048 -exact_artifact_path="$minimized" "$artifact" >"$dir/minimize.log" 2>&1 || true
          [ -f "$minimized" ] || minimized=$artifact
          report+=("     crash: $artifact; minimised: $minimized; replay: $bin_dir/$t $minimized") ;;
        *) report+=("     $(basename "$artifact" | cut -d- -f1): $artifact; replay: $bin_dir/$t -timeout=${timeout[$t]} $artifact") ;;
      esac
    done
  else
    passed=$((passed + 1))
    report+=("ok   $line")
  fi
  rm -rf "$dir/tmp"
done

echo
echo "fuzzing summary (${seconds}s per target):"
printf '  %s\n' "${report[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
