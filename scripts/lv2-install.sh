#!/usr/bin/env bash
# Builds the LV2 bundle and installs it into ~/.lv2 (or $LV2_INSTALL_DIR),
# where Ardour, Carla, jalv and other hosts find it.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=$(scripts/lv2-bundle.sh "$@")
dest=${LV2_INSTALL_DIR:-$HOME/.lv2}
mkdir -p "$dest"
rm -rf "$dest/nam-graph.lv2"
cp -r "$bundle" "$dest/"
echo "installed $dest/nam-graph.lv2"
