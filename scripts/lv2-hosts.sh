#!/usr/bin/env bash
# Real LV2 hosts for the plugin's tests (scripts/test-lv2.sh, scripts/lv2-bench.sh).
#
# Installs the Debian packages they need (Ardour 7 among them, run headless by
# scripts/ardour/run.sh) (only the missing ones, with apt-get) and
# builds the team's headless hosts from ../shared/tools into .cache/hosts/, where
# later runs reuse them (a run with everything cached takes about a second):
#
#   .cache/hosts/bin/lv2patchhost     deterministic host: patch:Set, worker, state, -T timing
#   .cache/hosts/bin/lv2lint          the LV2 linter (meson build)
#   .cache/hosts/carla/               headless Carla + venv (numpy, soundfile, JACK-Client)
#   .cache/hosts/mod-host/            MOD's mod-host (built from bundled source)
#   .cache/hosts/env                  shell variables naming all of the above (source it)
#
# Usage: scripts/lv2-hosts.sh [--quiet]   (SHARED=... overrides ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
shared=$(cd "${SHARED:-../shared}" 2>/dev/null && pwd) || {
  echo "error: the team's shared folder is not at ${SHARED:-../shared} (set SHARED)" >&2
  exit 1
}
tools=$shared/tools
cache=$root/.cache/hosts
quiet=${1:-}
say() { [ "$quiet" = --quiet ] || printf '%s\n' "$*"; }
die() { printf 'error: lv2-hosts: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -----------------------------------------------------------------
apt_packages="lilv-utils lv2-dev jalv jackd2 jack-tools sox sordi serdi \
  liblilv-dev libsndfile1-dev libjack-jackd2-dev libreadline-dev libfftw3-dev libelf-dev \
  meson ninja-build pkg-config gcc g++ make python3 python3-venv python3-pip valgrind time librsvg2-bin ardour"
missing=$(for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  say "installing Debian packages:" $missing
  sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  # jackd2 asks about real-time priority; answer without a terminal
  echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections 2>/dev/null || true
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || die "apt-get install failed for: $missing"
fi

mkdir -p "$cache/bin"

# Rebuild a tool only when its recipe (the files in its shared folder) changed:
# a stamp holds their checksum.
stamp_of() { (cd "$1" && find . -maxdepth 1 -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-16; }
# build NAME COMMAND...: the build's output goes to .cache/hosts/NAME.log, shown on failure
build() {
  local name=$1; shift
  if ! "$@" >"$cache/$name.log" 2>&1; then
    tail -40 "$cache/$name.log" >&2
    die "$name build failed (full log: $cache/$name.log)"
  fi
}
fresh() { [ -f "$cache/$1.stamp" ] && [ "$(cat "$cache/$1.stamp")" = "$2" ]; }

# --- lv2patchhost ----------------------------------------------------------------------
s=$(stamp_of "$tools/lv2patchhost")
if ! fresh lv2patchhost "$s" || [ ! -x "$cache/bin/lv2patchhost" ]; then
  say "building lv2patchhost"
  build lv2patchhost "$tools/lv2patchhost/build.sh" "$cache/bin/lv2patchhost"
  echo "$s" >"$cache/lv2patchhost.stamp"
fi

# --- lv2lint ---------------------------------------------------------------------------
s=$(stamp_of "$tools/lv2lint")
if ! fresh lv2lint "$s" || [ ! -x "$cache/lv2lint/lv2lint/build/lv2lint" ]; then
  say "building lv2lint (meson)"
  rm -rf "$cache/lv2lint"
  build lv2lint "$tools/lv2lint/build.sh" "$cache/lv2lint"
  echo "$s" >"$cache/lv2lint.stamp"
fi
ln -sf "$cache/lv2lint/lv2lint/build/lv2lint" "$cache/bin/lv2lint"

# --- Carla (headless, no Qt) + its python venv ----------------------------------------
s=$(stamp_of "$tools/hosts/carla")
if ! fresh carla "$s" || [ ! -f "$cache/carla/carla/bin/libcarla_host-plugin.so" ] \
  || ! "$cache/carla/venv/bin/python" -c 'import numpy, soundfile' 2>/dev/null; then
  say "building Carla (about a minute on 2 cores)"
  if ! fresh carla "$s"; then rm -rf "$cache/carla"; fi
  # a half-made venv (an interrupted pip) would be kept by build.sh: start it again
  if [ -d "$cache/carla/venv" ] && ! "$cache/carla/venv/bin/python" -c 'import numpy, soundfile' 2>/dev/null; then
    rm -rf "$cache/carla/venv"
  fi
  build carla "$tools/hosts/carla/build.sh" "$cache/carla"
  echo "$s" >"$cache/carla.stamp"
fi

# --- mod-host ----------------------------------------------------------------------------
s=$(stamp_of "$tools/hosts/mod-host")
if ! fresh mod-host "$s" || [ ! -x "$cache/mod-host/mod-host/mod-host" ]; then
  say "building mod-host"
  rm -rf "$cache/mod-host"
  build mod-host "$tools/hosts/mod-host/build.sh" "$cache/mod-host"
  echo "$s" >"$cache/mod-host.stamp"
fi

cat >"$cache/env" <<EOF
# written by scripts/lv2-hosts.sh
LV2PATCHHOST=$cache/bin/lv2patchhost
LV2LINT=$cache/bin/lv2lint
CARLA=$cache/carla/carla
CARLA_PY=$cache/carla/venv/bin/python
CARLA_HOST_TEST=$tools/hosts/carla/host-test.sh
MODHOST=$cache/mod-host/mod-host/mod-host
MODHOST_TEST=$tools/hosts/mod-host/modhost_test.sh
JALV_JACK_DUMMY=$tools/hosts/jalv-jack-dummy.sh
LV2_SPECS=$shared/lv2-specs/bundles
EOF

say "lv2patchhost: $cache/bin/lv2patchhost"
say "lv2lint:      $cache/bin/lv2lint"
say "carla:        $cache/carla/carla (python: $cache/carla/venv/bin/python)"
say "mod-host:     $cache/mod-host/mod-host/mod-host"
say "jalv:         $(command -v jalv) (with $tools/hosts/jalv-jack-dummy.sh)"
say "variables:    $cache/env"
