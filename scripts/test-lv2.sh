#!/usr/bin/env bash
# The LV2 plugin against real hosts (issue #4). Builds and installs the bundle into a
# private LV2 folder (target/lv2-test-home/.lv2), then checks it with:
#
#   - serdi, lv2_validate (sord_validate with the LV2 specs and MOD's vocabulary), lv2lint;
#   - the MOD GUI (scripts/check-modgui.py): files, port symbols, selectors, image sizes; with
#     MOD_BUNDLE set (scripts/test.sh sets it), the MOD Dwarf bundle too: the same Turtle and
#     GUI as the bundle tested here, lv2_validate, check-modgui.py;
#   - lv2ls/lv2info: the plugins and every port (symbol, direction, type, range, default);
#   - lv2patchhost (../shared/tools/lv2patchhost, deterministic): a WAV at 44.1, 48 and 96 kHz
#     through the plugin with model and IRs set by patch:Set, fixed and random block sizes,
#     latency compensated, equal to `nam-graph run` on the same chain within 1e-5; state
#     save/restore; a model swap while playing; bad files refused with log:Error; patch:Get;
#     bypass (lv2:enabled); the stereo plugin; AIDA-X / RTNeural models (.json, .aidax) in the
#     same model parameter; valgrind memcheck of all that;
#   - jalv (JACK dummy backend), restoring a saved state;
#   - Carla (headless, offline engine): each file parameter set through the state, the model
#     through Carla's path parameter, project saved and reloaded;
#   - mod-host (MOD's host): patch_set of model and cab IR, echo, render, bypass.
#   - Ardour 7 (headless, scripts/ardour/): mono and stereo plugin with model and cab IR from a
#     preset, exported, saved, reopened in a second process, exported again: the same sound, not
#     silent, not dry, below 0 dBFS, at 48 and 44.1 kHz (latency compensated); a moved model is
#     reported by the user's path.
#
# Prints "N passed, M failed" at the end; exits non-zero if a check failed or none ran.
# usage: scripts/test-lv2.sh [-k PATTERN]   (-k: run only checks whose name contains PATTERN)
# env: SHARED (default ../shared), LV2_TEST_KEEP=1 keeps target/lv2-test/ for inspection,
#      MOD_BUNDLE=DIR also checks the MOD bundle built by scripts/lv2-bundle.sh --mod.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TERM_COLOR=never

die() { printf '\nerror: test-lv2: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }
only=
[ "${1:-}" = -k ] && { only=${2:?-k needs a pattern}; }

shared=$(cd "${SHARED:-../shared}" 2>/dev/null && pwd) || die "the team's shared folder is not at ${SHARED:-../shared} (set SHARED)"

# ---------------------------------------------------------------------------------------
step "hosts (scripts/lv2-hosts.sh)"
scripts/lv2-hosts.sh || die "could not install or build the hosts"
# shellcheck disable=SC1091
source .cache/hosts/env

step "plugin bundle and nam-graph (release)"
home=$root/target/lv2-test-home
lv2dir=$home/.lv2
rm -rf "$lv2dir"
mkdir -p "$lv2dir"
if [ -x scripts/lv2-install.sh ]; then
  LV2_INSTALL_DIR=$lv2dir scripts/lv2-install.sh || die "scripts/lv2-install.sh failed"
else
  bundle_out=$(scripts/lv2-bundle.sh | tail -1) || die "scripts/lv2-bundle.sh failed"
  cp -r "$bundle_out" "$lv2dir/"
fi
bundle=$lv2dir/nam-graph.lv2
[ -f "$bundle/manifest.ttl" ] || die "no bundle installed at $bundle"
# nam-graph (the reference the plugin is compared with) and nam-lv2-chain (the plugin's chain
# as chain.toml): as built by the caller (scripts/test.sh passes cargo test's, which saves a
# release build; their arithmetic is the same in every profile), or built here in release.
if [ -n "${NAM_GRAPH_BIN:-}${NAM_LV2_CHAIN_BIN:-}" ]; then
  NG=${NAM_GRAPH_BIN:?set both NAM_GRAPH_BIN and NAM_LV2_CHAIN_BIN}
  RIG_CHAIN=${NAM_LV2_CHAIN_BIN:?set both NAM_GRAPH_BIN and NAM_LV2_CHAIN_BIN}
  for b in "$NG" "$RIG_CHAIN"; do [ -x "$b" ] || die "$b is not an executable"; done
  echo "nam-graph: $NG; nam-lv2-chain: $RIG_CHAIN (given)"
else
  cargo build --release --locked -p nam-graph --bin nam-graph -p nam-lv2 --bin nam-lv2-chain \
    || die "cargo build of nam-graph and nam-lv2-chain failed"
  NG=$root/target/release/nam-graph
  RIG_CHAIN=$root/target/release/nam-lv2-chain
fi
ARDOUR_RUN=$root/scripts/ardour/run.sh          # one headless Ardour process
command -v ardour7-lua >/dev/null || die "ardour7-lua not found (scripts/lv2-hosts.sh installs Debian's ardour)"
echo "bundle: $bundle"

work=$root/target/lv2-test
rm -rf "$work"
mkdir -p "$work"
[ "${LV2_TEST_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT

# Hosts see only our bundle; lv2info and lv2lint also need the LV2 specs and MOD's vocabulary.
export LV2_PATH=$lv2dir
spec_path=$lv2dir:/usr/lib/lv2:$LV2_SPECS
URI=urn:nam-graph:amp
URI_ST=urn:nam-graph:amp-stereo
P_MODEL=urn:nam-graph:amp_model
P_INIR=urn:nam-graph:input_ir
P_CAB=urn:nam-graph:cab_ir

# ---------------------------------------------------------------------------------------
# WAV helpers (python3 standard library only)
WAVPY=$work/wav.py
cat >"$WAVPY" <<'PYEOF'
"""WAV helpers for scripts/test-lv2.sh (standard library only: no numpy on CI).

  stats FILE                       frames, channels, rate, rms, peak, non-finite count
  cmp OUT REF [--out-from N] [--ref-from M] [--trim-end T] [--tol X] [--min-frames K]
                                   max |OUT[N+i] - REF[M+i]| over all channels <= X (exit 1 if not)
  differs A B --from N [--min-rms X] A and B differ after frame N (rms of the difference >= X)
  aligned A B [--max-lag L] [--from N] [--tol X]
                                   each channel of A equals B's shifted by the lag (|lag| <= L)
                                   that fits it best (two recordings of one periodic input
                                   started at other times): max |A[i] - B[i + lag]| <= X from
                                   frame N + L on
  check FILE [--min-rms X] [--max-peak Y] [--dry IN [--min-wet-db D] [--max-corr C]]
                                   finite, not silent, and (with --dry) processed: D dB or more
                                   from IN's level, or no delayed copy of IN (the best normalized
                                   correlation over lags 0..4096 on IN's loudest 1024 frames,
                                   channel 0, below C, default 0.99)
  first-block SPEC                 the first block size of lv2patchhost -b SPEC
  effect-frame SPEC FRAME          the first frame of the block after the one holding FRAME
                                   (where a patch:Set sent at FRAME takes effect: lv2patchhost's
                                   worker answers between two run() calls)
"""
import array, math, struct, sys


def die(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(1)


def read(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        die(f"{path}: {e.strerror}")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        die(f"{path}: not a RIFF/WAVE file")
    pos, fmt, raw = 12, None, None
    while pos + 8 <= len(data):
        cid = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]  # a streaming writer may leave the size too large
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            raw = body
        pos += 8 + size + (size & 1)
    if fmt is None or raw is None:
        die(f"{path}: no fmt or data chunk")
    tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the subformat's first two bytes (jack-record
        tag = struct.unpack("<H", fmt[24:26])[0] if len(fmt) >= 26 else 3  # may omit it: float)
    width = bits // 8
    n = len(raw) // (width * ch) * ch
    raw = raw[:n * width]
    if tag == 3 and bits == 32:
        a = array.array("f"); a.frombytes(raw)
    elif tag == 3 and bits == 64:
        a = array.array("d"); a.frombytes(raw)
    elif tag == 1 and bits == 16:
        a = array.array("h"); a.frombytes(raw); a = [v / 32768.0 for v in a]
    elif tag == 1 and bits == 32:
        a = array.array("i"); a.frombytes(raw); a = [v / 2147483648.0 for v in a]
    elif tag == 1 and bits == 24:
        b = bytearray(n * 4)
        b[1::4] = raw[0::3]; b[2::4] = raw[1::3]; b[3::4] = raw[2::3]
        a = array.array("i"); a.frombytes(bytes(b)); a = [v / 2147483648.0 for v in a]
    else:
        die(f"{path}: unsupported WAV format (tag {tag}, {bits} bits)")
    return ch, rate, a


def finite(x):
    return not (math.isnan(x) or math.isinf(x))


def summary(path):
    ch, rate, a = read(path)
    bad = sum(1 for v in a if not finite(v))
    good = [v for v in a if finite(v)]
    rms = math.sqrt(sum(v * v for v in good) / len(good)) if good else 0.0
    peak = max((abs(v) for v in good), default=0.0)
    return dict(frames=len(a) // ch, channels=ch, rate=rate, rms=rms, peak=peak, nonfinite=bad)


def opt(args, name, default, conv=float):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return conv(v)
    return default


def db(x):
    return 20 * math.log10(x) if x > 0 else -math.inf


def best_correlation(path, dry_path, max_lag=4096, window=1024):
    """The largest normalized correlation of channel 0 of `path` with `dry_path`'s
    loudest `window` frames (channel 0), over output delays 0..max_lag, and its lag."""
    ca, _, a = read(path)
    cd, _, d = read(dry_path)
    a, d = a[0::ca], d[0::cd]
    n = min(len(a) - max_lag, len(d)) - window
    if n <= 0:
        die(f"{path} and {dry_path} are too short to correlate")
    step = window // 4
    energy = lambda i: sum(v * v for v in d[i:i + window])
    start = max(range(0, n, step), key=energy)
    probe = d[start:start + window]
    norm_d = math.sqrt(sum(v * v for v in probe))
    best, best_lag = 0.0, 0
    for lag in range(max_lag + 1):
        seg = a[start + lag:start + lag + window]
        norm_a = math.sqrt(sum(v * v for v in seg))
        if norm_a == 0.0 or norm_d == 0.0:
            continue
        c = abs(sum(x * y for x, y in zip(seg, probe))) / (norm_a * norm_d)
        if c > best:
            best, best_lag = c, lag
    return best, best_lag


def blocks(spec):
    """The block sizes of lv2patchhost -b SPEC, in order (its own generator)."""
    if spec.startswith("var:"):
        lo, hi, seed = (int(v) for v in spec[4:].split(":"))
        rng = seed or 1
        while True:
            rng = (rng * 1103515245 + 12345) & 0xFFFFFFFF
            yield lo + (rng >> 8) % (hi - lo + 1)
    else:
        while True:
            yield int(spec)


def main():
    if len(sys.argv) < 2:
        die(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stats":
        s = summary(args[0])
        print(" ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()))
    elif cmd == "cmp":
        a_from = opt(args, "--out-from", 0, int)
        b_from = opt(args, "--ref-from", 0, int)
        trim = opt(args, "--trim-end", 0, int)
        tol = opt(args, "--tol", 1e-5)
        min_frames = opt(args, "--min-frames", 1000, int)
        ca, ra, a = read(args[0])
        cb, rb, b = read(args[1])
        if ca != cb or ra != rb:
            die(f"{args[0]} has {ca} ch @ {ra} Hz, {args[1]} has {cb} ch @ {rb} Hz")
        n = min(len(a) // ca - a_from, len(b) // cb - b_from) - trim
        if n < min_frames:
            die(f"only {n} frames to compare (at least {min_frames} needed)")
        worst, at, sq, nonfinite = 0.0, -1, 0.0, 0
        ao, bo = a_from * ca, b_from * ca
        for i in range(n * ca):
            d = abs(a[ao + i] - b[bo + i])
            if not finite(d):
                nonfinite += 1
                continue
            sq += d * d
            if d > worst:
                worst, at = d, i // ca
        ref_rms = math.sqrt(sum(v * v for v in b[bo:bo + n * ca]) / (n * ca))
        where = a_from + at if at >= 0 else "-"
        print(f"compared {n} frames x {ca} ch (out from {a_from}, ref from {b_from}): "
              f"max|diff| = {worst:.3g} at out frame {where}, rms(diff) = {math.sqrt(sq / (n * ca)):.3g}, "
              f"ref rms = {ref_rms:.4g}, non-finite = {nonfinite}, tolerance {tol:g}")
        if nonfinite or worst > tol:
            sys.exit(1)
    elif cmd == "differs":
        start = opt(args, "--from", 0, int)
        min_rms = opt(args, "--min-rms", 1e-3)
        ca, _, a = read(args[0])
        cb, _, b = read(args[1])
        n = min(len(a), len(b)) - start * ca
        sq = sum((a[start * ca + i] - b[start * ca + i]) ** 2 for i in range(n))
        rms = math.sqrt(sq / max(n, 1))
        print(f"rms of the difference after frame {start}: {rms:.4g} (at least {min_rms:g} wanted)")
        if not rms >= min_rms:
            sys.exit(1)
    elif cmd == "aligned":
        max_lag = opt(args, "--max-lag", 2400, int)
        start = opt(args, "--from", 4800, int) + max_lag
        tol = opt(args, "--tol", 1e-5)
        ca, _, a = read(args[0])
        cb, _, b = read(args[1])
        if ca != cb:
            die(f"{args[0]} has {ca} channels, {args[1]} has {cb}")
        n = min(len(a), len(b)) // ca - max_lag
        if n - start < 1000:
            die(f"only {n - start} frames to compare")
        probe = range(start, start + 400)
        bad = False
        for c in range(ca):  # each channel on its own (a host may start their generators apart)
            lag = min(range(-max_lag, max_lag + 1),
                      key=lambda k: sum((a[i * ca + c] - b[(i + k) * ca + c]) ** 2 for i in probe))
            worst = max(abs(a[i * ca + c] - b[(i + lag) * ca + c]) for i in range(start, n))
            print(f"channel {c}: best lag {lag} frames, max|diff| = {worst:.3g} over {n - start} "
                  f"frames (tolerance {tol:g})")
            bad = bad or not worst <= tol
        if bad:
            sys.exit(1)
    elif cmd == "check":
        min_rms = opt(args, "--min-rms", 1e-4)
        max_peak = opt(args, "--max-peak", 100.0)
        dry = opt(args, "--dry", None, str)
        min_wet_db = opt(args, "--min-wet-db", 3.0)
        max_corr = opt(args, "--max-corr", 0.99)
        s = summary(args[0])
        print(f"{args[0]}: frames={s['frames']} ch={s['channels']} rate={s['rate']} rms={s['rms']:.5g} "
              f"({db(s['rms']):.1f} dBFS) peak={s['peak']:.5g} non-finite={s['nonfinite']}")
        ok = True
        if s["nonfinite"]:
            print("FAIL: non-finite samples"); ok = False
        if not s["rms"] >= min_rms:
            print(f"FAIL: silent (rms below {min_rms:g})"); ok = False
        if s["peak"] > max_peak:
            print(f"FAIL: peak above {max_peak:g}"); ok = False
        if dry:
            d = summary(dry)
            gap = abs(db(s["rms"]) - db(d["rms"]))
            print(f"dry input {dry}: rms={d['rms']:.5g}; wet and dry levels differ by {gap:.1f} dB "
                  f"(processed if at least {min_wet_db:g})")
            if not gap >= min_wet_db:
                # A model near unity gain: processed if the output is no delayed copy of the input.
                corr, lag = best_correlation(args[0], dry)
                print(f"best correlation with the dry input: {corr:.4f} at lag {lag} "
                      f"(processed if below {max_corr:g})")
                if not corr < max_corr:
                    print("FAIL: the output is the input: not processed (no model loaded?)"); ok = False
        sys.exit(0 if ok else 1)
    elif cmd == "first-block":
        print(next(blocks(args[0])))
    elif cmd == "effect-frame":
        frame, pos = int(args[1]), 0
        for n in blocks(args[0]):
            pos += n
            if pos > frame:
                break
        print(pos)
    else:
        die(f"unknown command {cmd}\n{__doc__}")


main()
PYEOF
wav() { python3 "$WAVPY" "$@"; }

# ---------------------------------------------------------------------------------------
# test data
demo=$root/examples/demo
DI=$demo/di.wav
CAB=$demo/cab.wav
DRIVE=$demo/drive.nam
STANDARD=$shared/peers/models/wavenet_standard.nam   # random weights, standard size
LSTM=$shared/fixtures/lstm_1x16.nam
AIDAX_REAL=$root/nam-kernel/tests/rtneural/tw40_british_lead_deerinkstudios.json  # a real AIDA-X capture
AIDAX_GRU44=$root/nam-kernel/tests/rtneural/gen_gru40.json   # GRU 40, states 44.1 kHz
for f in "$DI" "$CAB" "$DRIVE" "$STANDARD" "$LSTM" "$AIDAX_REAL" "$AIDAX_GRU44"; do [ -f "$f" ] || die "missing test file $f"; done
data=$work/data
mkdir -p "$data"
# -D: no dither, so every host reads the same samples
sox -D "$DI" "$data/di44.wav" trim 0 3 rate -v 44100 || die "sox failed"
sox -D "$DI" "$data/di96.wav" trim 0 2 rate -v 96000 || die "sox failed"
sox -D "$DI" "$data/di1s.wav" trim 0 1 || die "sox failed"
sox -D "$DI" "$data/di3.wav" trim 0 3 && sox -D "$data/di3.wav" "$data/di3r.wav" reverse \
  && sox -D -M "$data/di3.wav" "$data/di3r.wav" "$data/di_st.wav" || die "sox failed"   # stereo: L != R
head -c 700 "$DRIVE" >"$data/truncated.nam"                     # invalid JSON
cp "$root/nam-kernel/tests/rtneural/gen_lstm20_dense_tanh.json" "$data/lstm_dense.aidax"  # loaded by content
printf '{"name": "not a model"}' >"$data/not-a-model.json"
: >"$data/empty.wav"
printf 'this is not a wav file\n' >"$data/text.wav"
# The cab IR as FLAC and AIFF (the same 24-bit samples), one FLAC named .wav (the plugin
# tells the format by content), and a FLAC cut in half.
sox -D "$CAB" "$data/cab.flac" && sox -D "$CAB" "$data/cab.aiff" \
  || die "sox cannot write FLAC or AIFF (Debian's sox can)"
cp "$data/cab.flac" "$data/cab-flac-named.wav"
head -c "$(( $(stat -c %s "$data/cab.flac") / 2 ))" "$data/cab.flac" >"$data/truncated.flac"

# ---------------------------------------------------------------------------------------
# check runner
passed=0 failed=0
failures=()
check() { # check NAME FUNCTION ARGS...: runs one check in its own folder, logs to it
  local name=$1; shift
  if [ -n "$only" ] && [[ $name != *"$only"* ]]; then return; fi
  local dir; dir=$work/checks/$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_')
  mkdir -p "$dir"
  local t0=$SECONDS rc=0
  ( cd "$dir" && "$@" ) >"$dir/log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then
    passed=$((passed + 1))
    printf 'ok    %-58s %3ds\n' "$name" $((SECONDS - t0))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %-58s %3ds\n' "$name" $((SECONDS - t0))
    sed 's/^/      | /' "$dir/log" | tail -60
  fi
}
fail() { echo "FAIL: $*"; return 1; }

# lv2patchhost wrapper: ph OUT.wav URI IN.wav [options...] -> log in OUT.log, exit code kept
ph() {
  local out=$1 uri=$2 in=$3; shift 3
  echo "+ lv2patchhost -N 200 $* $uri $in $out" >"$out.log"
  "$LV2PATCHHOST" -N 200 "$@" "$uri" "$in" "$out" >>"$out.log" 2>&1
}
latency_of() { sed -n 's/^reported latency: \([0-9.]*\) frames$/\1/p' "$1" | head -1 | cut -d. -f1; }
# nam-graph run on the chain the plugin should be playing: ng OUT.wav IN.wav CHAIN_ARGS...
# (CHAIN_ARGS: --model P, --input-ir P, --cab P, SYMBOL=VALUE; the chain is the plugin's own
# spec, printed by nam-lv2-chain)
ng() {
  local out=$1 in=$2; shift 2
  "$RIG_CHAIN" "$@" >"$out.toml" || fail "nam-lv2-chain $*" || return 1
  "$NG" run "$out.toml" "$in" -o "$out" --format f32 --quiet >"$out.ng.log" 2>&1 \
    || { cat "$out.ng.log"; fail "nam-graph run $out.toml $in"; }
}
rate_of() { soxi -r "$1"; }
# chain arguments (as for ng) -> lv2patchhost -p/-c options, in the array PH_ARGS
to_ph_args() {
  PH_ARGS=()
  while [ $# -gt 0 ]; do
    case $1 in
      --model) PH_ARGS+=(-p "$P_MODEL=$2"); shift ;;
      --input-ir) PH_ARGS+=(-p "$P_INIR=$2"); shift ;;
      --cab) PH_ARGS+=(-p "$P_CAB=$2"); shift ;;
      *=*) PH_ARGS+=(-c "$1") ;;
    esac
    shift
  done
}
expect_echo() { # expect_echo LOG PROPERTY PATH: the plugin reported PATH for PROPERTY on notify
  grep -qF "patch:Set <$2> = \"$3\"" "$1" || { grep '^notify' "$1" | tail -8; fail "no patch:Set echo of <$2> = \"$3\" on notify"; }
}

# ---------------------------------------------------------------------------------------
# TTL
t_serdi() {
  local f n=0
  while IFS= read -r f; do
    serdi -q -i turtle -o ntriples "$f" >/dev/null || fail "$f does not parse" || return 1
    n=$((n + 1))
  done < <(find "$bundle" -name '*.ttl')
  echo "$n Turtle files parse"
  [ "$n" -ge 2 ] || fail "expected manifest.ttl and the plugin's .ttl"
}
t_lv2_validate() { # t_lv2_validate [BUNDLE]
  # lv2_validate = sord_validate with every LV2 spec; MOD's vocabulary (mod:, modgui:) added
  local out rc=0
  out=$(lv2_validate "$LV2_SPECS"/*/*.ttl $(find "${1:-$bundle}" -name '*.ttl' | sort) 2>&1) || rc=$?
  echo "$out"
  if echo "$out" | grep -q '^error'; then fail "sord_validate found errors"; return 1; fi
  echo "$out" | grep -q 'Found 0 errors' || fail "lv2_validate did not report 0 errors (exit $rc)"
}
t_modgui() { # t_modgui BUNDLE: the MOD GUI against the bundle's Turtle and MOD's conventions
  python3 "$root/scripts/check-modgui.py" "$1" "$root/ttl/modgui-art"
}
t_mod_bundle() { # the MOD Dwarf bundle: what the tests here check, apart from the binary
  [ -f "$MOD_BUNDLE/libnam_lv2.so" ] || fail "no MOD bundle at $MOD_BUNDLE" || return 1
  diff -r -x libnam_lv2.so "$bundle" "$MOD_BUNDLE" || fail "the MOD bundle's Turtle or GUI differs from the bundle tested here" || return 1
  t_lv2_validate "$MOD_BUNDLE" && t_modgui "$MOD_BUNDLE"
}
t_lv2lint() {
  local uri=$1 out rc=0
  # -Mpack: skip packager-only tests; -Swarn: show warnings (they do not fail the check)
  out=$(LV2_PATH=$spec_path timeout 120 "$LV2LINT" -Mpack -Swarn "$uri" 2>&1) || rc=$?
  echo "$out"
  if echo "$out" | grep -q '\[FAIL\]'; then fail "lv2lint reports failures"; return 1; fi
  [ $rc = 0 ] || fail "lv2lint exited with $rc"
}
t_lv2info() {
  local uri=$1 stereo=${2:-} info
  LV2_PATH=$spec_path lv2ls | grep -qx "$uri" || fail "lv2ls does not list $uri" || return 1
  info=$(LV2_PATH=$spec_path lv2info "$uri") || fail "lv2info $uri failed" || return 1
  echo "$info" >lv2info.txt
  LV2INFO=lv2info.txt STEREO=$stereo python3 - <<'PY'
import os, re, sys
text = open(os.environ["LV2INFO"]).read()
ports = {}
for block in re.split(r"\n\s*Port \d+:\n", text)[1:]:
    f = {}
    for line in block.splitlines():
        m = re.match(r"\s*(Type|Symbol|Minimum|Maximum|Default|Properties|Name):\s*(.*)", line)
        if m:
            key = m.group(1); cur = f.setdefault(key, [])
            cur.append(m.group(2).strip())
        elif line.strip() and key in ("Type", "Properties"):
            f[key].append(line.strip())
    ports[f["Symbol"][0]] = f
LV2 = "http://lv2plug.in/ns/lv2core#"
ATOM = "http://lv2plug.in/ns/ext/atom#AtomPort"
want = {  # symbol: (type, direction, min, max, default)
    "in": (LV2 + "AudioPort", "Input", None), "out": (LV2 + "AudioPort", "Output", None),
    "control": (ATOM, "Input", None), "notify": (ATOM, "Output", None),
    "enabled": (LV2 + "ControlPort", "Input", (0, 1, 1)),
    "latency": (LV2 + "ControlPort", "Output", None),
    "input_gain_db": (LV2 + "ControlPort", "Input", (-24, 24, 0)),
    "gate_threshold_db": (LV2 + "ControlPort", "Input", (-100, 0, -80)),
    "bass": (LV2 + "ControlPort", "Input", (0, 10, 5)),
    "middle": (LV2 + "ControlPort", "Input", (0, 10, 5)),
    "treble": (LV2 + "ControlPort", "Input", (0, 10, 5)),
    "output_mode": (LV2 + "ControlPort", "Input", (0, 2, 0)),
    "target_loudness_db": (LV2 + "ControlPort", "Input", None),
    "input_level_dbu": (LV2 + "ControlPort", "Input", None),
    "output_level_dbu": (LV2 + "ControlPort", "Input", None),
    "input_ir_enabled": (LV2 + "ControlPort", "Input", (0, 1, 1)),
    "cab_enabled": (LV2 + "ControlPort", "Input", (0, 1, 1)),
    "output_gain_db": (LV2 + "ControlPort", "Input", (-40, 24, 0)),
    "model_size": (LV2 + "ControlPort", "Input", (0, 1, 1)),
}
if os.environ.get("STEREO"):
    want["in_r"] = (LV2 + "AudioPort", "Input", None)
    want["out_r"] = (LV2 + "AudioPort", "Output", None)
bad = []
for sym, (typ, direction, rng) in want.items():
    p = ports.get(sym)
    if p is None:
        bad.append(f"port '{sym}' missing"); continue
    if typ not in p["Type"] or LV2 + direction + "Port" not in p["Type"]:
        bad.append(f"port '{sym}': type {p['Type']}, expected {typ} + {direction}Port")
    if rng:
        got = tuple(float(p.get(k, ["nan"])[0]) for k in ("Minimum", "Maximum", "Default"))
        if got != tuple(float(v) for v in rng):
            bad.append(f"port '{sym}': min/max/default {got}, expected {rng}")
extra = sorted(set(ports) - set(want))
if extra:
    bad.append(f"unexpected ports {extra}")
if "latency" in ports and LV2 + "reportsLatency" not in ports["latency"].get("Properties", []):
    bad.append("port 'latency' lacks lv2:reportsLatency")
if "enabled" in ports and LV2 + "toggled" not in ports["enabled"].get("Properties", []):
    bad.append("port 'enabled' is not lv2:toggled")
for feature in ("http://lv2plug.in/ns/ext/urid#map",):
    if feature not in text:
        bad.append(f"{feature} not listed")
for ext in ("http://lv2plug.in/ns/ext/worker#interface", "http://lv2plug.in/ns/ext/state#interface"):
    if ext not in text:
        bad.append(f"extension data {ext} not listed")
print(f"{len(ports)} ports: {', '.join(ports)}")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
}
t_writable() {
  # the three file parameters: patch:writable, rdfs:range atom:Path (what mod-host and Carla need)
  local nt; nt=$(cat "$bundle"/*.ttl | serdi -q -i turtle -o ntriples -p x - "file://$bundle/" 2>/dev/null) \
    || nt=$(for f in "$bundle"/*.ttl; do serdi -q -i turtle -o ntriples "$f"; done)
  local uri p ok=0
  for uri in "$URI" "$URI_ST"; do
    for p in "$P_MODEL" "$P_INIR" "$P_CAB"; do
      echo "$nt" | grep -qF "<$uri> <http://lv2plug.in/ns/ext/patch#writable> <$p>" \
        || { echo "FAIL: <$uri> has no patch:writable <$p>"; ok=1; }
    done
  done
  for p in "$P_MODEL" "$P_INIR" "$P_CAB"; do
    echo "$nt" | grep -qF "<$p> <http://www.w3.org/2000/01/rdf-schema#range> <http://lv2plug.in/ns/ext/atom#Path>" \
      || { echo "FAIL: <$p> has no rdfs:range atom:Path"; ok=1; }
  done
  [ $ok = 0 ] && echo "patch:writable model, input_ir, cab_ir (atom:Path) on both plugins"
  return $ok
}

# ---------------------------------------------------------------------------------------
# lv2patchhost against nam-graph run
#
# A file set by patch:Set at frame 0 takes effect at the start of the second block (the worker
# answers between run() calls), in a fresh chain, crossfaded in over a few ms. So from
# B + margin on (B = the first block, margin = 50 ms, longer than the crossfade) the plugin's
# output equals `nam-graph run` on the input without its first B frames, exactly (1e-5).
# Latency (a model at another rate runs between resamplers) is compensated on both sides
# (lv2patchhost -L, nam-graph run always); the last LATENCY frames are lv2patchhost's padding.
t_parity() { # t_parity URI IN.wav BLOCKSPEC CHAIN_ARGS...
  local uri=$1 in=$2 spec=$3; shift 3
  to_ph_args "$@"
  ph out.wav "$uri" "$in" -E -L -b "$spec" "${PH_ARGS[@]}" || { cat out.wav.log; fail "lv2patchhost exited with $?"; return 1; }
  grep -E '^(reported latency|out rms|worker)' out.wav.log
  local lat rate first margin
  lat=$(latency_of out.wav.log); rate=$(rate_of "$in")
  first=$(wav first-block "$spec"); margin=$((rate / 20))
  sox -D "$in" cut.wav trim "${first}s" || return 1
  ng ref.wav cut.wav "$@" || return 1
  echo "latency $lat frames; first block $first frames; comparing from frame $((first + margin))"
  wav cmp out.wav ref.wav --out-from $((first + margin)) --ref-from "$margin" --trim-end "$lat" --tol 1e-5 || fail "plugin output != nam-graph run" || return 1
  # the plugin tells the host (UI) which files it now plays
  local a
  while [ $# -gt 0 ]; do
    case $1 in
      --model) expect_echo out.wav.log "$P_MODEL" "$2" || return 1; shift ;;
      --input-ir) expect_echo out.wav.log "$P_INIR" "$2" || return 1; shift ;;
      --cab) expect_echo out.wav.log "$P_CAB" "$2" || return 1; shift ;;
    esac
    shift
  done
  a=$(grep -c '\[plugin Error\]' out.wav.log); [ "$a" = 0 ] || fail "the plugin logged errors"
}

# Out of the box (default controls), the demo model and cab through the plugin peak below
# 0 dBFS on the demo DI: the cab IR is normalized and trimmed as in the demo chain
# (examples/demo/chain.toml: normalize = true, level_db = -12). The output equals
# `nam-graph run` of that chain, written here by hand (not by nam-lv2-chain).
t_out_of_box() {
  ph out.wav "$URI" "$DI" -E -b 256 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" || { cat out.wav.log; fail "lv2patchhost"; return 1; }
  wav check out.wav --max-peak 0.999 --dry "$DI" --min-wet-db 3 || return 1
  cat >chain.toml <<EOF
[[node]]
id = "gate"
kind = "noise_gate"
threshold_db = -80.0
[[node]]
id = "amp"
kind = "nam"
model = "$DRIVE"
[[node]]
id = "eq"
kind = "tone_stack"
[[node]]
id = "cab"
kind = "ir"
file = "$CAB"
normalize = true
level_db = -12.0
EOF
  sox -D "$DI" cut.wav trim 256s || return 1
  "$NG" run chain.toml cut.wav -o ref.wav --format f32 --quiet || fail "nam-graph run chain.toml" || return 1
  wav cmp out.wav ref.wav --out-from $((256 + 2400)) --ref-from 2400 --tol 1e-5 || fail "plugin output != nam-graph run of the demo's cab settings"
}

# State: files set by patch:Set and saved (-s); restored (-l) in a new instance the plugin plays
# them from frame 0, equal to nam-graph run on the whole input; a second save/restore gives the
# same output again.
t_state() { # t_state IN.wav CHAIN_ARGS...
  local in=$1; shift
  to_ph_args "$@"
  ph a.wav "$URI" "$in" -E -L -b 256 "${PH_ARGS[@]}" -s stA || { cat a.wav.log; fail "lv2patchhost (save) exited with $?"; return 1; }
  echo "--- saved state:"; cat stA/state.ttl; ls -l stA
  local c=()
  local x; for x in "$@"; do case $x in *=*) c+=(-c "$x") ;; esac; done
  # controls come back from the state's port values; -c again would hide a missing port value
  ph b.wav "$URI" "$in" -E -L -b var:1:1024:9 -l stA/state.ttl -s stB || { cat b.wav.log; fail "lv2patchhost (restore) exited with $?"; return 1; }
  grep -E '^(reported latency|out rms|worker)|restored' b.wav.log
  local lat; lat=$(latency_of b.wav.log)
  ng ref.wav "$in" "$@" || return 1
  wav cmp b.wav ref.wav --trim-end "$lat" --tol 1e-5 || fail "restored state: output != nam-graph run from frame 0" || return 1
  ph c.wav "$URI" "$in" -E -L -b 64 -l stB/state.ttl || { cat c.wav.log; fail "lv2patchhost (restore 2) exited with $?"; return 1; }
  wav cmp c.wav b.wav --tol 1e-6 || fail "second restore: output differs from the first"
}

# Model swap while playing: the old model plays until the new one is in; from the swap (plus
# crossfade) on, the new chain plays exactly as nam-graph run from that frame.
t_swap() {
  local at=144000 spec=256 eff margin=2400
  ph one.wav "$URI" "$DI" -E -L -b $spec -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" || { cat one.wav.log; fail "lv2patchhost"; return 1; }
  ph swap.wav "$URI" "$DI" -E -L -b $spec -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" -p "@$at:$P_MODEL=$STANDARD" \
    || { cat swap.wav.log; fail "lv2patchhost exited with $?"; return 1; }
  grep -E '^(notify|reported latency|out rms|worker)' swap.wav.log
  wav check swap.wav || return 1
  eff=$(wav effect-frame $spec $at)
  echo "swap sent at frame $at, effective at frame $eff"
  wav cmp swap.wav one.wav --min-frames 100 --trim-end $((288000 - eff)) --tol 0 || fail "output changed before the swap" || return 1
  wav differs swap.wav one.wav --from "$eff" --min-rms 1e-3 || fail "output did not change after the swap" || return 1
  sox -D "$DI" cut.wav trim "${eff}s" || return 1
  ng ref.wav cut.wav --model "$STANDARD" --cab "$CAB" || return 1
  wav cmp swap.wav ref.wav --out-from $((eff + margin)) --ref-from $margin --tol 1e-5 || fail "after the swap: output != nam-graph run of the new chain" || return 1
  expect_echo swap.wav.log "$P_MODEL" "$STANDARD"
}

# A bad file is refused: log:Error (lv2patchhost -E exits 7), the chain keeps playing the old
# file (output unchanged, finite), and the plugin reports the file still in use.
t_bad_file() { # t_bad_file PROPERTY BADFILE
  local prop=$1 bad=$2 rc=0
  ph good.wav "$URI" "$DI" -E -b 256 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" || { cat good.wav.log; fail "lv2patchhost"; return 1; }
  ph bad.wav "$URI" "$DI" -E -b 256 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" -p "@96000:$prop=$bad" || rc=$?
  cat bad.wav.log
  [ $rc = 7 ] || fail "lv2patchhost -E exited with $rc, expected 7 (the plugin logs log:Error for $bad)" || return 1
  grep -q '\[plugin Error\].*' bad.wav.log || fail "no [plugin Error] line" || return 1
  grep '\[plugin Error\]' bad.wav.log | grep -qF "$(basename "$bad")" || fail "the error does not name the file" || return 1
  wav check bad.wav || return 1
  wav cmp bad.wav good.wav --tol 0 || fail "the refused file changed the output" || return 1
  local old=$DRIVE; [ "$prop" = "$P_CAB" ] && old=$CAB; [ "$prop" = "$P_INIR" ] && old=
  grep -E "^notify @(9[6-9][0-9]{3}|[1-9][0-9]{5}):" bad.wav.log | grep -qF "patch:Set <$prop> = \"$old\"" \
    || fail "after refusing $bad the plugin did not report <$prop> = \"$old\" (the file still in use)"
}

t_cab_container() { # t_cab_container CAB: the plugin plays the cab IR file CAB as it plays the WAV cab
  local cab=$1
  ph wav.wav "$URI" "$data/di1s.wav" -E -L -b 128 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" \
    || { cat wav.wav.log; fail "lv2patchhost (WAV cab) exited with $?"; return 1; }
  ph other.wav "$URI" "$data/di1s.wav" -E -L -b 128 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$cab" \
    || { cat other.wav.log; fail "lv2patchhost ($cab) exited with $?"; return 1; }
  grep -E '^(out rms|worker)' other.wav.log
  expect_echo other.wav.log "$P_CAB" "$cab" || return 1
  wav check other.wav || return 1
  wav cmp other.wav wav.wav --tol 0 || fail "the plugin plays $(basename "$cab") unlike the WAV cab"
}

# Minutes of audio in random blocks with a file change every 3 s (models of every kind, cab and
# input IRs), every third one a bad file: the output is the run without the bad files, sample
# for sample, and the host's peak memory does not grow with the number of swaps (the same
# length with the swaps of its first third only: a leaked chain per swap would show).
t_long_run() { # t_long_run SECONDS
  local seconds=$1 step=144000 di_frames total loops
  di_frames=$(soxi -s "$DI") && total=$((seconds * 48000)) && loops=$(((total + di_frames - 1) / di_frames))
  local goods=("$P_MODEL=$STANDARD" "$P_CAB=$CAB" "$P_MODEL=$LSTM" "$P_INIR=$CAB" "$P_MODEL=$DRIVE"
               "$P_MODEL=$shared/fixtures/wavenet_feather.nam" "$P_MODEL=$shared/fixtures/wavenet_a2.nam")
  local bads=("$P_MODEL=$data/truncated.nam" "$P_CAB=$data/text.wav" "$P_INIR=$data/empty.wav"
              "$P_MODEL=$data/no-such-model.nam")
  local spec
  for spec in "${goods[@]}"; do
    [ -f "${spec#*=}" ] || fail "missing test file ${spec#*=} (a good file of the long run)" || return 1
  done
  local all=() clean=() early=() i=1 good=0 bad=0 at
  while [ $((i * step)) -lt $((loops * di_frames)) ]; do
    at=$((i * step))
    if [ $((i % 3)) = 0 ]; then
      all+=(-p "@$at:${bads[bad % ${#bads[@]}]}"); bad=$((bad + 1))
    else
      all+=(-p "@$at:${goods[good % ${#goods[@]}]}"); clean+=(-p "@$at:${goods[good % ${#goods[@]}]}")
      [ $((at * 3)) -lt $((loops * di_frames)) ] && early+=(-p "@$at:${goods[good % ${#goods[@]}]}")
      good=$((good + 1))
    fi
    i=$((i + 1))
  done
  echo "$((loops * di_frames)) frames ($loops x di.wav), $good good and $bad bad file changes, blocks var:16:1024"
  local start=(-b var:16:1024:21 -n "$loops" -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB") t0=$SECONDS
  /usr/bin/time -f '%M' -o all.rss "$LV2PATCHHOST" "${start[@]}" "${all[@]}" "$URI" "$DI" all.wav >all.log 2>&1 \
    || { tail -20 all.log; fail "lv2patchhost (with bad files) exited with an error"; return 1; }
  echo "with bad files: $((SECONDS - t0)) s"
  [ "$(grep -c '\[plugin Error\]' all.log)" = "$bad" ] \
    || { grep '\[plugin Error\]' all.log | head; fail "expected $bad logged errors, one per bad file"; return 1; }
  "$LV2PATCHHOST" "${start[@]}" "${clean[@]}" "$URI" "$DI" clean.wav >clean.log 2>&1 \
    || { tail -20 clean.log; fail "lv2patchhost (good files only) exited with an error"; return 1; }
  # the samples, bit for bit (the files' headers differ: libsndfile's PEAK chunk has a time stamp)
  local bytes=$((loops * di_frames * 4))
  cmp -s <(tail -c $bytes all.wav) <(tail -c $bytes clean.wav) \
    || fail "the bad files changed the output (all.wav != clean.wav)" || return 1
  /usr/bin/time -f '%M' -o early.rss "$LV2PATCHHOST" "${start[@]}" "${early[@]}" "$URI" "$DI" early.wav >early.log 2>&1 \
    || { tail -20 early.log; fail "lv2patchhost (first third's swaps) exited with an error"; return 1; }
  local rss_all rss_early
  rss_all=$(tail -1 all.rss) rss_early=$(tail -1 early.rss)
  echo "peak RSS: $rss_all KiB with $((good + bad)) file changes, $rss_early KiB with $((${#early[@]} / 2)) (same length)"
  [ $((rss_all - rss_early)) -lt 8192 ] || fail "peak memory grew by $((rss_all - rss_early)) KiB with more swaps (a leak?)"
}

# A model that fails on restore: error logged, no crash, finite output.
t_bad_state() {
  ph a.wav "$URI" "$data/di1s.wav" -E -p "$P_MODEL=$DRIVE" -s st || { cat a.wav.log; fail "lv2patchhost"; return 1; }
  cp "$data/truncated.nam" st/gone.nam
  sed -i 's|<urn:nam-graph:amp_model> <[^>]*>|<urn:nam-graph:amp_model> <gone.nam>|' st/state.ttl
  grep -q 'gone.nam' st/state.ttl || fail "could not edit the state" || return 1
  local rc=0
  ph b.wav "$URI" "$data/di1s.wav" -E -l st/state.ttl || rc=$?
  cat b.wav.log
  [ $rc = 7 ] || fail "restoring a bad model: lv2patchhost -E exited with $rc, expected 7 (log:Error)" || return 1
  wav check b.wav
}

# patch:Get (no property) is answered with a patch:Set for each file parameter.
t_get() {
  ph out.wav "$URI" "$data/di1s.wav" -E -b 128 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" -g @24000 || { cat out.wav.log; fail "lv2patchhost"; return 1; }
  grep -E '^notify|patch:Get' out.wav.log
  local blk=$((24000 / 128 * 128)) p
  for p in "$P_MODEL=\"$DRIVE\"" "$P_INIR=\"\"" "$P_CAB=\"$CAB\""; do
    grep -E "^notify @($blk|$((blk + 128))):" out.wav.log | grep -qF "patch:Set <${p%%=*}> = ${p#*=}" \
      || fail "patch:Get at frame 24000: no answer for <${p%%=*}> = ${p#*=}" || return 1
  done
}

# lv2:enabled = 0: the dry signal, aligned (latency-compensated like the wet one), after a
# short crossfade.
t_bypass() {
  ph out.wav "$URI" "$data/di44.wav" -E -L -b 256 -c enabled=0 -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" \
    || { cat out.wav.log; fail "lv2patchhost"; return 1; }
  grep -E '^(reported latency|out rms)' out.wav.log
  local lat; lat=$(latency_of out.wav.log)
  [ "${lat:-0}" -gt 0 ] || fail "a 48 kHz model at 44.1 kHz should report latency (resampling), got '$lat'" || return 1
  wav cmp out.wav "$data/di44.wav" --out-from 4410 --ref-from 4410 --trim-end "$lat" --tol 1e-6 || fail "bypassed output != input"
}

# Less common rates run too (the model between resamplers).
t_odd_rates() {
  local r rc
  for r in 22050 192000; do
    sox -D "$data/di1s.wav" "in$r.wav" rate -v $r || return 1
    rc=0; ph "o$r.wav" "$URI" "in$r.wav" -E -L -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" || rc=$?
    tail -4 "o$r.wav.log"
    [ $rc = 0 ] || fail "at $r Hz lv2patchhost exited with $rc" || return 1
    wav check "o$r.wav" || return 1
  done
}

# Memory errors (invalid reads/writes, uninitialised values) anywhere in instantiate, run,
# the worker, state save/restore, with loads, swaps, a refused file and patch:Get.
t_memcheck() {
  sox -D "$data/di1s.wav" short.wav trim 0 0.3 || return 1
  local rc=0
  valgrind --leak-check=no --error-exitcode=9 --log-file=vg-save.txt "$LV2PATCHHOST" -N 0 -b var:1:512:3 \
    -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" -p "@4000:$P_MODEL=$LSTM" -p "@4000:$P_INIR=$CAB" \
    -p "@8000:$P_MODEL=$data/truncated.nam" -g @9000 -s st "$URI" short.wav a.wav >a.log 2>&1 || rc=$?
  grep 'ERROR SUMMARY' vg-save.txt
  [ $rc = 0 ] || { grep -v '^==[0-9]*== *$' vg-save.txt | head -60; fail "valgrind/lv2patchhost exited with $rc"; return 1; }
  valgrind --leak-check=no --error-exitcode=9 --log-file=vg-restore.txt "$LV2PATCHHOST" -N 0 -b 64 \
    -l st/state.ttl "$URI" short.wav b.wav >b.log 2>&1 || rc=$?
  grep 'ERROR SUMMARY' vg-restore.txt
  [ $rc = 0 ] || { grep -v '^==[0-9]*== *$' vg-restore.txt | head -60; fail "valgrind/lv2patchhost (restore) exited with $rc"; }
}

# ---------------------------------------------------------------------------------------
# other hosts
t_jalv() {
  ph st.wav "$URI" "$data/di1s.wav" -E -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" -s st || { cat st.wav.log; fail "lv2patchhost"; return 1; }
  timeout 60 sh "$JALV_JACK_DUMMY" "$URI" "$PWD/st" "$DI" "$PWD/jalv.wav" 3 || fail "jalv-jack-dummy.sh exited with $?" || return 1
  [ -f jalv.wav ] || fail "jalv recorded nothing" || return 1
  # wet: the drive model and the cab change the DI's level or its shape (see `wav check`)
  wav check jalv.wav --dry "$DI" --min-wet-db 3
}
t_carla() { # t_carla patch|state PARAM FILE
  local via=$1 param=$2 file=$3 out
  out=$(CARLA=$CARLA PY=$CARLA_PY timeout 180 "$CARLA_HOST_TEST" offline "$URI" "$param" "$file" "$DI" \
    "$PWD/out.wav" "$PWD/proj/p.carxp" "$LV2_PATH" "" "$via" 2>&1); local rc=$?
  echo "$out"
  [ $rc = 0 ] || fail "host-test.sh exited with $rc" || return 1
  echo "$out" | grep -q 'RESULT: PASS' || fail "no RESULT: PASS" || return 1
  local ab; ab=$(echo "$out" | sed -n 's/^max|A-B| = //p')
  python3 -c "import sys; sys.exit(0 if float('$ab') <= 1e-4 else 1)" || fail "the reloaded project renders differently (max|A-B| = $ab)" || return 1
  wav check out.wav && wav check out.reload.wav
}
t_modhost() { # t_modhost PARAM FILE CHAIN_ARGS... (the chain mod-host should be playing)
  local param=$1 file=$2 out rc attempt; shift 2
  ng ref.wav "$DI" "$@" output_gain_db=-3 || return 1
  for attempt in 1 2 3; do
    rm -rf mh
    out=$(LV2_PATH=$LV2_PATH MODHOST=$MODHOST PY=$CARLA_PY WORKDIR=$PWD/mh PORT=$((5600 + RANDOM % 300 * 2)) \
      timeout 180 "$MODHOST_TEST" "$URI" "$param" "$file" "$DI" "$PWD/out.wav" \
      --freewheel --load-timeout 15 --bypass-out "$PWD/bypass.wav" --set output_gain_db=-3 --ref "$PWD/ref.wav" 2>&1); rc=$?
    # JACK xruns (a busy machine) fail a pass with no other problem: try again
    if [ $rc != 0 ] && echo "$out" | grep -q 'XRun messages during this pass: [1-9]' && ! echo "$out" | grep -q '^FAIL'; then
      echo "(attempt $attempt: JACK xruns, the machine is busy; again)"
      continue
    fi
    break
  done
  echo "$out"
  [ $rc = 0 ] || fail "modhost_test.sh exited with $rc" || return 1
  echo "$out" | grep -q 'OK: plugin echoed the new value' || fail "no patch_set echo from the plugin" || return 1
  echo "$out" | grep -q 'RESULT: PASS' || fail "no RESULT: PASS" || return 1
  if echo "$out" | grep -q '^  plugin error'; then fail "the plugin logged an error or warning"; return 1; fi
  wav check out.wav || return 1
  # the chain plays as nam-graph run plays it (sample-aligned in freewheel; not bit-exact:
  # mod-host runs the plugin on silence before the file starts)
  local rel; rel=$(echo "$out" | sed -n 's/.*output-vs-ref (lag 0): .* rel=\([^ ]*\) .*/\1/p')
  python3 -c "import sys; sys.exit(0 if float('${rel:-nan}') <= 1e-4 else 1)" \
    || fail "output vs nam-graph run: relative rms error ${rel:-?} (at most 1e-4 wanted)" || return 1
  # bypass (mod-host sets lv2:enabled = 0): the input comes back, unchanged
  local bd; bd=$(echo "$out" | sed -n 's/.*bypass-vs-input: max|diff|=\([^ ]*\) .*/\1/p')
  python3 -c "import sys; sys.exit(0 if float('$bd') <= 1e-4 else 1)" || fail "bypassed output differs from the input by $bd"
}

# ---------------------------------------------------------------------------------------
# Ardour 7 (Debian's, headless: scripts/ardour/run.sh): the files come from an LV2 preset
# (Ardour's Lua cannot set patch:writable parameters); the input is the dummy backend's
# generator, so a session's exports are compared with each other and with a dry export.
#
# ardour_preset URI: a preset bundle presets/nam-test.lv2 for URI (label "nam-test") with a
# copy of the demo model and cab in user/ (the user's files, which Ardour links to)
ardour_preset() {
  local uri=$1 b=$PWD/presets/nam-test.lv2
  mkdir -p "$b" user && cp "$DRIVE" "$CAB" user/ || return 1
  cat >"$b/manifest.ttl" <<EOF
@prefix lv2: <http://lv2plug.in/ns/lv2core#> .
@prefix pset: <http://lv2plug.in/ns/ext/presets#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<test.ttl> a pset:Preset ; lv2:appliesTo <$uri> ; rdfs:seeAlso <test.ttl> .
EOF
  cat >"$b/test.ttl" <<EOF
@prefix atom: <http://lv2plug.in/ns/ext/atom#> .
@prefix lv2: <http://lv2plug.in/ns/lv2core#> .
@prefix pset: <http://lv2plug.in/ns/ext/presets#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix state: <http://lv2plug.in/ns/ext/state#> .
<> a pset:Preset ; lv2:appliesTo <$uri> ; rdfs:label "nam-test" ;
  state:state [ <$P_MODEL> "$PWD/user/$(basename "$DRIVE")"^^atom:Path ;
                <$P_CAB> "$PWD/user/$(basename "$CAB")"^^atom:Path ] .
EOF
}
ardour() { # ardour create|reopen SESSION OUT.wav [VAR=VALUE...]: one headless Ardour process
  local mode=$1 session=$2 out=$3; shift 3
  env LV2_PATH="$LV2_PATH:$PWD/presets:/usr/lib/lv2" "$@" "$ARDOUR_RUN" "$mode" "$session" "$out"
}
ardour_latency() { sed -n 's/^latency: plugin=\([0-9]*\)$/\1/p' "$1" | head -1; }
# The plugin with the demo model and cab in an Ardour session: exported, saved, reopened in a
# second process and exported again. Both exports are the same sound (aligned: each process
# starts the generator at another time), finite, not silent, below 0 dBFS (the cab is
# normalized), and the plugin's sound (with the preset's files) of the dry export (no plugin). Ardour compensates the latency the
# plugin reports (as lv2patchhost reads it), above 0 at 44.1 kHz (the 48 kHz model between
# resamplers).
t_ardour() { # t_ardour URI TRACK_CHANNELS RATE
  local uri=$1 ch=$2 rate=$3 in
  ardour_preset "$uri" || return 1
  ardour create dry dry.wav PLUGIN_URI=none TRACK_CH="$ch" SR="$rate" || return 1
  ardour create sess first.wav PLUGIN_URI="$uri" PRESET_LABEL=nam-test TRACK_CH="$ch" SR="$rate" || return 1
  ardour reopen sess second.wav SR="$rate" || return 1
  ls -l sess/externals/
  if grep -h '\[ERROR\]: nam-graph' first.wav.log second.wav.log; then fail "the plugin logged an error"; return 1; fi
  wav check first.wav --max-peak 0.999 || return 1
  wav check second.wav --max-peak 0.999 || return 1
  # Wet, exactly: the export is the plugin's own sound (lv2patchhost, same files) of the dry
  # export, up to where each process started the generator. A mono track's panner lowers the
  # signal by 3 dB after the plugin; that is undone on both exports (in float, no dither), so
  # lv2patchhost's plugin sees the level Ardour's did.
  local remix=() undo_pan=1
  [ "$ch" = 1 ] && { remix=(remix 1); undo_pan=1.41253754; }  # 10^(3/20)
  sox -D dry.wav -e floating-point -b 32 plugin-in.wav "${remix[@]}" vol "$undo_pan" \
    && sox -D first.wav -e floating-point -b 32 plugin-out.wav "${remix[@]}" vol "$undo_pan" || return 1
  ph expected.wav "$uri" plugin-in.wav -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" \
    || { cat expected.wav.log; fail "lv2patchhost"; return 1; }
  wav aligned plugin-out.wav expected.wav --max-lag $((rate / 20)) --tol 1e-5 \
    || fail "Ardour's export is not the plugin's sound of the dry export (files not loaded?)" || return 1
  wav aligned second.wav first.wav --max-lag $((rate / 20)) --tol 1e-4 \
    || fail "the reopened session sounds different" || return 1
  local lat_a lat_b lat_ph
  lat_a=$(ardour_latency first.wav.log); lat_b=$(ardour_latency second.wav.log)
  [ -n "$lat_a" ] && [ "$lat_a" = "$lat_b" ] || fail "latency in Ardour: '$lat_a', then '$lat_b' after reopening" || return 1
  in=$data/di1s.wav
  [ "$rate" = 44100 ] && in=$data/di44.wav
  [ "$ch" = 2 ] && { sox -D -M "$in" "$in" st.wav && in=st.wav || return 1; }
  ph ref.wav "$uri" "$in" -p "$P_MODEL=$DRIVE" -p "$P_CAB=$CAB" || { cat ref.wav.log; fail "lv2patchhost"; return 1; }
  lat_ph=$(latency_of ref.wav.log)
  echo "latency: Ardour compensates $lat_a frames for the plugin, which reports $lat_ph (lv2patchhost)"
  [ "$lat_a" = "${lat_ph:-none}" ] || fail "Ardour's latency for the plugin is not the one it reports" || return 1
  if [ "$rate" = 44100 ]; then [ "$lat_a" -gt 0 ] || fail "a 48 kHz model at 44.1 kHz must report latency"; fi
}
# The user's model moved after the session was saved: reopening logs "not restored" naming the
# user's path (not the link Ardour keeps in the session), and the rest of the chain plays.
t_ardour_moved() {
  ardour_preset "$URI" || return 1
  ardour create sess first.wav PLUGIN_URI="$URI" PRESET_LABEL=nam-test || return 1
  mv user/drive.nam user/moved.nam || return 1
  ardour reopen sess second.wav || return 1
  local user; user=$(cd user && pwd -P)/drive.nam
  grep -F 'not restored' second.wav.log | sort -u
  grep -F 'model not restored' second.wav.log | grep -qF "no file at $user" \
    || fail "no 'model not restored' message naming $user" || return 1
  if grep -F 'not restored' second.wav.log | grep -q 'plugins/\|externals/'; then
    fail "the message names Ardour's link in the session"; return 1
  fi
  wav check second.wav   # the rest of the chain (the cab) still plays
}

# ---------------------------------------------------------------------------------------
step "checks"
check "ttl: every .ttl parses (serdi)" t_serdi
check "ttl: lv2_validate / sord_validate, 0 errors" t_lv2_validate
check "ttl: file parameters writable, atom:Path" t_writable
check "MOD GUI: modgui.ttl, template, stylesheet, PNGs" t_modgui "$bundle"
[ -n "${MOD_BUNDLE:-}" ] && check "MOD bundle: same Turtle and GUI, lv2_validate, MOD GUI" t_mod_bundle
check "lv2lint $URI" t_lv2lint "$URI"
check "lv2lint $URI_ST" t_lv2lint "$URI_ST"
check "lv2info: ports of $URI" t_lv2info "$URI"
check "lv2info: ports of $URI_ST" t_lv2info "$URI_ST" stereo

check "parity 48k drive+cab, block 64" t_parity "$URI" "$DI" 64 --model "$DRIVE" --cab "$CAB"
check "parity 48k drive+cab, blocks var:1:1024" t_parity "$URI" "$DI" var:1:1024:7 --model "$DRIVE" --cab "$CAB"
check "parity 48k drive+cab, block 1" t_parity "$URI" "$data/di1s.wav" 1 --model "$DRIVE" --cab "$CAB"
check "parity 48k standard+in IR+cab, controls, var" t_parity "$URI" "$DI" var:16:512:5 \
  --model "$STANDARD" --input-ir "$CAB" --cab "$CAB" input_gain_db=3 gate_threshold_db=-60 bass=7 middle=4 \
  treble=6 output_mode=1 target_loudness_db=-20 output_gain_db=-6
check "parity 48k lstm, calibrated, cab off" t_parity "$URI" "$DI" 512 \
  --model "$LSTM" --cab "$CAB" output_mode=2 input_level_dbu=6 output_level_dbu=18 cab_enabled=0
check "parity 44.1k standard+cab, block 256" t_parity "$URI" "$data/di44.wav" 256 --model "$STANDARD" --cab "$CAB"
check "parity 44.1k drive+cab, blocks var:1:700" t_parity "$URI" "$data/di44.wav" var:1:700:3 --model "$DRIVE" --cab "$CAB"
check "parity 96k drive+in IR+cab, block 128" t_parity "$URI" "$data/di96.wav" 128 --model "$DRIVE" --input-ir "$CAB" --cab "$CAB"
check "parity 96k standard, blocks var:1:4096" t_parity "$URI" "$data/di96.wav" var:1:4096:11 --model "$STANDARD"
check "parity 48k no files (gain, gate, tone stack)" t_parity "$URI" "$data/di1s.wav" 100 bass=2 treble=8 output_gain_db=6
check "out of the box: drive + cab below 0 dBFS, cab as the demo's" t_out_of_box
check "parity stereo 48k drive+cab, var:1:1024" t_parity "$URI_ST" "$data/di_st.wav" var:1:1024:13 --model "$DRIVE" --cab "$CAB"
check "parity 48k AIDA-X capture (LSTM 12) + cab, var:1:1024" t_parity "$URI" "$DI" var:1:1024:5 --model "$AIDAX_REAL" --cab "$CAB"
check "parity 48k AIDA-X .aidax (LSTM, dense tanh), block 64" t_parity "$URI" "$data/di1s.wav" 64 --model "$data/lstm_dense.aidax"
check "parity 48k AIDA-X GRU of a 44.1k model (resampled), block 256" t_parity "$URI" "$data/di1s.wav" 256 --model "$AIDAX_GRU44" --cab "$CAB"
check "state: AIDA-X model save, restore = nam-graph run" t_state "$data/di1s.wav" --model "$AIDAX_REAL" --cab "$CAB"
check "state: save, restore = nam-graph run from frame 0" t_state "$DI" --model "$STANDARD" --input-ir "$CAB" --cab "$CAB"
check "state: restore with controls and 44.1k" t_state "$data/di44.wav" --model "$DRIVE" --cab "$CAB" bass=8 output_gain_db=-3
check "model swap while playing" t_swap
check "bad model (truncated .nam) refused" t_bad_file "$P_MODEL" "$data/truncated.nam"
check "missing model file refused" t_bad_file "$P_MODEL" "$data/no-such-model.nam"
check "JSON that is neither .nam nor AIDA-X refused" t_bad_file "$P_MODEL" "$data/not-a-model.json"
check "bad cab IR (not a WAV) refused" t_bad_file "$P_CAB" "$data/text.wav"
check "bad cab IR (truncated FLAC) refused" t_bad_file "$P_CAB" "$data/truncated.flac"
check "FLAC cab IR plays like the WAV cab" t_cab_container "$data/cab.flac"
check "AIFF cab IR plays like the WAV cab" t_cab_container "$data/cab.aiff"
check "FLAC cab IR named .wav plays like the WAV cab" t_cab_container "$data/cab-flac-named.wav"
check "parity 48k drive+FLAC in IR+AIFF cab, block 64" t_parity "$URI" "$data/di1s.wav" 64 \
  --model "$DRIVE" --input-ir "$data/cab.flac" --cab "$data/cab.aiff"
check "empty input IR file refused" t_bad_file "$P_INIR" "$data/empty.wav"
check "bad model in a restored state" t_bad_state
check "long run: 3 min, swaps every 3 s, bad files, memory flat" t_long_run 180
check "patch:Get answered" t_get
check "bypass (enabled = 0) passes the input through" t_bypass
check "other sample rates (22.05k, 192k)" t_odd_rates
check "valgrind memcheck: loads, swaps, errors, state" t_memcheck

check "jalv (JACK dummy): restores state, renders wet" t_jalv
check "carla offline: model via state, save+reload" t_carla state "$P_MODEL" "$DRIVE"
check "carla offline: input IR via state, save+reload" t_carla state "$P_INIR" "$CAB"
check "carla offline: cab IR via state, save+reload" t_carla state "$P_CAB" "$CAB"
check "carla offline: model via path parameter (patch)" t_carla patch "$P_MODEL" "$DRIVE"
check "mod-host: patch_set model, echo, render, bypass" t_modhost "$P_MODEL" "$DRIVE" --model "$DRIVE"
check "mod-host: patch_set cab IR, echo, render, bypass" t_modhost "$P_CAB" "$CAB" --cab "$CAB"
check "mod-host: patch_set AIDA-X model, echo, render, bypass" t_modhost "$P_MODEL" "$AIDAX_REAL" --model "$AIDAX_REAL"
check "ardour: mono, 48k, export, save, reopen, export" t_ardour "$URI" 1 48000
check "ardour: mono, 44.1k, reopen, latency compensated" t_ardour "$URI" 1 44100
check "ardour: stereo track, 48k, export, save, reopen, export" t_ardour "$URI_ST" 2 48000
check "ardour: stereo track, 44.1k, reopen, latency compensated" t_ardour "$URI_ST" 2 44100
check "ardour: moved model named by the user's path" t_ardour_moved

echo
if [ $failed -gt 0 ]; then
  echo "failed checks:"
  printf '  - %s\n' "${failures[@]}"
  [ "${LV2_TEST_KEEP:-0}" = 1 ] && echo "(logs and WAVs kept in $work/checks)"
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ] || exit 1
[ $passed -gt 0 ] || die "no check ran"
