#!/usr/bin/env bash
# The project's test command (CI runs exactly this through .ci/run):
# formatting, lints, every test of every crate, and the benchmarks compiled and
# smoke-run once. Installs what it needs on a fresh Debian/Ubuntu machine that
# has rustup's Rust toolchain. Fails loudly if any step runs zero tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# Each step's wall time, printed as it starts and summed up at the end, so that a
# slow CI run shows where its time went.
step_names=()
step_starts=()
step() {
  step_names+=("$*")
  step_starts+=("$SECONDS")
  printf '\n==> %s (at %d s)\n' "$*" "$SECONDS"
}
step_times() {
  local i end
  echo "time per step:"
  for i in "${!step_names[@]}"; do
    end=${step_starts[$((i + 1))]:-$SECONDS}
    printf '%6d s  %s\n' "$((end - step_starts[i]))" "${step_names[i]%%:*}"
  done
  printf '%6d s  in all\n' "$SECONDS"
}
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

step "toolchain"
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first (Debian's rustc is too old)"
cargo --version
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

step "system packages and rustup targets"
# aarch64 (MOD Dwarf) cross-testing: Debian's cross linker and qemu-user; rsvg-convert renders
# the MOD GUI's images (scripts/lv2-bundle.sh). `nam-graph live` (graph/tests/live.rs): a JACK
# server (jackd2, run on its dummy backend) and libjack (found through pkg-config). llvm-mca
# (llvm) for scripts/aarch64-cost.sh --mca.
apt_packages="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user llvm librsvg2-bin jackd2 libjack-jackd2-dev pkg-config"
missing=$(for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  $sudo apt-get update -qq
  # jackd2 asks about real-time priority; answer without a terminal (as lv2-hosts.sh does)
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections 2>/dev/null || true
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi
rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu

step "reference fixtures"
fixtures=${NAM_FIXTURES_DIR:-../shared/fixtures}
[ -f "$fixtures/cases.json" ] || die "reference fixtures not found in $fixtures (set NAM_FIXTURES_DIR)"
echo "$(ls "$fixtures"/*.nam | wc -l) cases in $fixtures"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (a broken or private intra-doc link fails)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "cargo test"
log=$(mktemp)
harness_dir=
# On any exit: remove the scratch files; after a failure, say where the time went.
on_exit() {
  local rc=$?
  rm -f "$log"
  [ -z "$harness_dir" ] || rm -rf "$harness_dir"
  [ "$rc" = 0 ] || step_times >&2
}
trap on_exit EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$log")
[ "$passed" -gt 0 ] || die "cargo test ran no test"
grep -q '^test live_on_jack_dummy \.\.\. ok$' "$log" \
  || die "nam-graph live's test on JACK's dummy backend (graph/tests/live.rs) did not run and pass"
echo "cargo test: $passed tests passed"

step "aarch64 under qemu: kernel unit tests, every fixture with every table, kernel equivalence, RTNeural and GuitarML parity, plugin unit tests"
cargo test -p nam-kernel -p nam-lv2 --locked --target aarch64-unknown-linux-gnu --lib --test fixtures --test kernels --test rtneural --test guitarml 2>&1 | tee "$log"
aarch64_passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) s += $i } END { print s + 0 }' "$log")
[ "$aarch64_passed" -gt 0 ] || die "the aarch64 run ran no test"
passed=$((passed + aarch64_passed))

step "MOD Dwarf bundle (aarch64, glibc 2.27)"
mod_bundle=$(scripts/lv2-bundle.sh --mod)
mod_so=$mod_bundle/libnam_lv2.so
aarch64-linux-gnu-objdump -f "$mod_so" | grep -q "aarch64" || die "$mod_so is not an aarch64 binary"
newest_glibc=$(aarch64-linux-gnu-objdump -T "$mod_so" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
[ "$(printf '%s\nGLIBC_2.27\n' "$newest_glibc" | sort -V | tail -1)" = GLIBC_2.27 ] \
  || die "$mod_so needs $newest_glibc; MOD OS has glibc 2.27"
exports=$(aarch64-linux-gnu-nm -D --defined-only "$mod_so" | awk '{print $3}' | tr '\n' ' ')
[ "$exports" = "lv2_descriptor " ] || die "$mod_so exports more than lv2_descriptor: $exports"
# Cargo records each unit's flags in its fingerprint: the plugin must be tuned for the A35.
mod_fingerprint=$(ls -t "${CARGO_TARGET_DIR:-target}"/aarch64-unknown-linux-gnu/release/.fingerprint/nam-lv2-*/lib-nam_lv2.json | head -1)
grep -q '"target-cpu=cortex-a35"' "$mod_fingerprint" \
  || die "$mod_so was not compiled with -C target-cpu=cortex-a35 (flags in $mod_fingerprint)"
# The plugin and nam-tools link the graph library without its command line
# (clap, indicatif, and `live`'s JACK, ring buffer and signal crates).
cli_crates='^(clap|indicatif|jack|jack-sys|rtrb|signal-hook) '
cli_deps=$(cargo tree -p nam-lv2 -e normal --prefix none --locked | grep -E "$cli_crates" || true)
[ -z "$cli_deps" ] || die "the plugin depends on the command line's crates: $cli_deps"
tools_jack=$(cargo tree -p nam-tools -e normal --prefix none --locked | grep -E '^(jack|jack-sys) ' || true)
[ -z "$tools_jack" ] || die "nam-tools depends on JACK: $tools_jack"
echo "$mod_bundle: aarch64, target-cpu=cortex-a35, needs at most $newest_glibc, exports only lv2_descriptor, no command-line crates"
passed=$((passed + 1))

step "measurement harness (nam-kernel/examples/anchor.rs): dump on every table and block"
# The harness scripts/bench-peers.sh and scripts/aarch64-cost.sh time; cargo test built it.
anchor=${CARGO_TARGET_DIR:-target}/debug/examples/anchor
[ -x "$anchor" ] || die "cargo test did not build $anchor"
harness_dir=$(mktemp -d)
# The peers' pinned nano model (not a fixture: the fixtures folder may hold other cases).
harness_model=${NAM_PEERS_DIR:-../shared/peers}/models/wavenet_nano.nam
[ -f "$harness_model" ] || die "$harness_model not found (set NAM_PEERS_DIR)"
mapfile -t harness_tables < <("$anchor" tables)
[ "${#harness_tables[@]}" -gt 0 ] || die "$anchor lists no kernel table"
"$anchor" dump "$harness_model" 64 "$harness_dir/reference.f32" --table scalar
for table in "${harness_tables[@]}"; do
  for block in 16 64 256; do
    "$anchor" dump "$harness_model" "$block" "$harness_dir/out.f32" --table "$table"
    printf '%s block %s vs scalar block 64: ' "$table" "$block"
    scripts/compare-f32.py "$harness_dir/out.f32" "$harness_dir/reference.f32" --tol 1e-5 \
      || die "the harness's $table output at block $block differs from the scalar table's"
    passed=$((passed + 1))
  done
done
namcore=${NAM_PEERS_BUILD:-.cache/peers}/namcore-default/tools/anchor_bench
if [ -x "$namcore" ]; then
  "$namcore" dump "$harness_model" 64 "$harness_dir/namcore.f32" >/dev/null
  # Its harness turns on NAM Core's fast tanh, about 1% of the output apart on tanh models.
  printf 'scalar block 64 vs NeuralAmpModelerCore (fast tanh): '
  scripts/compare-f32.py "$harness_dir/reference.f32" "$harness_dir/namcore.f32" --rel-tol 2e-2 \
    || die "the harness's output differs from NeuralAmpModelerCore's on the same signal"
  passed=$((passed + 1))
else
  echo "NeuralAmpModelerCore not built in ${namcore%/namcore-default/*}: comparison with it skipped (scripts/bench-peers.sh builds it)"
fi
# An AIDA-X capture through the harness, against RTNeural run live by NeuralAudio when it is
# built (nam-kernel/tests/rtneural.rs checks the same against committed references always).
aidax_model=nam-kernel/tests/rtneural/tw40_california_clean_deerinkstudios.json
"$anchor" dump "$aidax_model" 64 "$harness_dir/aidax.f32"
neuralaudio=${NAM_PEERS_BUILD:-.cache/peers}/neuralaudio-default/Utils/AnchorBench/AnchorBench
if [ -x "$neuralaudio" ]; then
  "$neuralaudio" dump "$aidax_model" 64 "$harness_dir/aidax-rtneural.f32" rtneural >/dev/null 2>&1
  printf 'AIDA-X capture, detected table block 64 vs RTNeural (NeuralAudio): '
  scripts/compare-f32.py "$harness_dir/aidax.f32" "$harness_dir/aidax-rtneural.f32" --tol 1e-5 \
    || die "the harness's output of $aidax_model differs from RTNeural's"
  passed=$((passed + 1))
else
  echo "NeuralAudio not built in ${neuralaudio%/neuralaudio-default/*}: live RTNeural comparison skipped (scripts/bench-peers.sh builds it)"
fi

step "aarch64 instruction count and llvm-mca IPC of one small model (scripts/aarch64-cost.sh --mca)"
scripts/aarch64-cost.sh --models "$harness_model" --samples 4096,12288 --mca 2>&1 | tee "$log"
grep -Eq '^\| wavenet_nano \| full \| [1-9][0-9 ]* \|' "$log" || die "scripts/aarch64-cost.sh printed no count for wavenet_nano"
grep -Eq '^\| wavenet_nano \| full \|.*\| [0-9]+\.[0-9]{3} \| [0-9]+% \|$' "$log" \
  || die "scripts/aarch64-cost.sh --mca printed no llvm-mca IPC for wavenet_nano"
passed=$((passed + 1))

step "LV2 plugin in real hosts: validators, lv2patchhost parity with nam-graph, jalv, Carla, mod-host, Ardour"
# The reference binaries as cargo test built them (no second release build).
debug_bin=${CARGO_TARGET_DIR:-target}/debug
NAM_GRAPH_BIN=$(realpath "$debug_bin/nam-graph") NAM_LV2_CHAIN_BIN=$(realpath "$debug_bin/nam-lv2-chain") \
  MOD_BUNDLE=$PWD/$mod_bundle scripts/test-lv2.sh 2>&1 | tee "$log"
lv2_passed=$(awk '/^[0-9]+ passed, 0 failed$/ { n = $1 } END { print n + 0 }' "$log")
[ "$lv2_passed" -gt 0 ] || die "scripts/test-lv2.sh ran no check"
passed=$((passed + lv2_passed))

step "nam-tools train with libtorch (CPU): clippy and tests with the train feature"
scripts/test-train.sh 2>&1 | tee "$log"
train_passed=$(awk '/^[0-9]+ passed$/ { n = $1 } END { print n + 0 }' "$log")
[ "$train_passed" -gt 0 ] || die "scripts/test-train.sh ran no test"
passed=$((passed + train_passed))

step "benchmarks (each run once, built in the test profile)"
# Criterion and nam-kernel's models bench run each benchmark once under cargo test; an
# optimised `cargo bench` build would add a full LTO build of the workspace for no check.
cargo test --workspace --benches --locked 2>&1 | tee "$log"
grep -q '^Testing ' "$log" || die "cargo test --benches ran no benchmark"

step "fuzz targets, 20 s each (scripts/fuzz.sh): .nam loader, IR WAV reader, chain.toml, plugin atom messages"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
# fuzz/ is its own workspace: the main clippy step does not see it
cargo clippy --manifest-path fuzz/Cargo.toml --release --locked --target "$(rustc -vV | sed -n 's/^host: //p')" \
  --target-dir target/fuzz --all-targets -- -D warnings || die "clippy found problems in fuzz/"
scripts/fuzz.sh 20 2>&1 | tee "$log" \
  || die "a fuzz target crashed, timed out, ran out of memory or ran no input (summary above; inputs in .cache/fuzz/*/artifacts)"
fuzz_passed=$(awk '/^[0-9]+ passed, 0 failed$/ { n = $1 } END { print n + 0 }' "$log")
[ "$fuzz_passed" -gt 0 ] || die "scripts/fuzz.sh ran no fuzz target"
passed=$((passed + fuzz_passed))

echo
step_times
echo
echo "$passed passed, 0 failed"
