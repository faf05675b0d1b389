#!/usr/bin/env bash
# Runs scripts/ardour/session.lua in a headless Ardour 7 (`ardour7-lua`, Debian's
# `ardour` package) for scripts/test-lv2.sh.
#
# usage: scripts/ardour/run.sh create|reopen SESSION_DIR OUT.wav
# env:   PLUGIN_URI (or "none"), PRESET_LABEL (an LV2 preset's label, or "none"),
#        SR (48000), TRACK_CH (1), LV2_PATH (must keep /usr/lib/lv2)
#
# Ardour 7.3 aborts at exit in about a third of runs (also with only its own
# plugins), after the export; an abort can also leave a WAV whose header has no
# length. So the exit status is not the verdict: a run counts when it printed
# "exported:" (or aborted inside the export after the latency report) and
# OUT.wav holds the 2 s sox can read. Otherwise it is run again, three times at
# most; then this script fails, showing the last log (OUT.wav.log).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=$1 session=$2 out=$3
rate=${SR:-48000}
command -v ardour7-lua >/dev/null || { echo "error: ardour7-lua not found (apt-get install ardour)" >&2; exit 1; }

# A private configuration: the dummy backend shown, and an export preset for
# 32-bit float WAV without dither at the session's rate (Ardour's own format
# "BWAV 32float Export"), so exports compare sample by sample.
cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT
mkdir -p "$cfg/ardour7/export"
cat >"$cfg/ardour7/config" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Ardour><Config><Option name="hide-dummy-backend" value="0"/></Config></Ardour>
XML
cat >"$cfg/ardour7/export/nam-graph-test.preset" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<ExportPreset id="8d0b5b0e-6a2c-4d8f-9a51-6e2c0a4e7f31" name="nam-graph test: float WAV">
  <ExportFormat id="20b4ab09-6452-4cb3-bd66-b921cdbd2942"/>
  <ExportFilename>
    <Folder relative="1" path="export"/>
    <Field name="timespan" enabled="1"/>
  </ExportFilename>
</ExportPreset>
XML

log=$out.log
mkdir -p "$(dirname "$out")"
rm -f "$log" "$log".*
for attempt in 1 2 3; do
  [ "$mode" = create ] && rm -rf "$session"
  rm -f "$out"
  rc=0
  MODE=$mode SESSION_DIR=$session EXPORT_DIR=$(dirname "$out") EXPORT_NAME=$(basename "$out" .wav) \
    XDG_CONFIG_HOME=$cfg timeout 300 stdbuf -oL -eL ardour7-lua "$here/session.lua" >"$log.$attempt" 2>&1 || rc=$?
  cat "$log.$attempt" >>"$log"
  frames=$(soxi -s "$out" 2>/dev/null || echo 0)
  if grep -q '^exported: ' "$log.$attempt" && [ "$frames" = $((2 * rate)) ]; then
    [ $rc = 0 ] || echo "ardour7-lua $mode: exit status $rc after a complete export (Ardour 7.3's abort at exit; the WAV is complete)"
    grep -E '^(session rate|latency|exported):' "$log.$attempt"
    exit 0
  fi
  # The abort can also come inside run_export, after the WAV is written and
  # closed (its header holds all 2 s): that export counts too. The callers
  # compare every exported sample with the plugin's output, so a damaged file
  # still fails there.
  if [ $rc != 0 ] && grep -q '^latency: ' "$log.$attempt" && ! grep -q '^Error: ' "$log.$attempt" \
    && [ "$frames" = $((2 * rate)) ]; then
    echo "ardour7-lua $mode: exit status $rc inside the export, after writing all $frames frames of $out (Ardour 7.3's abort)"
    grep -E '^(session rate|latency):' "$log.$attempt"
    echo "exported: $out"
    exit 0
  fi
  # a failed step of the script (a Lua error) is not the abort at exit: no retry
  grep -q '^Error: ' "$log.$attempt" && { grep '^Error: ' "$log.$attempt"; echo "error: ardour7-lua $mode failed (log: $log)" >&2; exit 1; }
  echo "ardour7-lua $mode, attempt $attempt: exit status $rc, $frames frames in $out (expected $((2 * rate)))"
done
grep -vE '^(lilv_|error: failed to open file|\[ERROR\]: Ignored format)' "$log.3" | tail -30
echo "error: Ardour did not export $out in 3 attempts (logs: $log)" >&2
exit 1
