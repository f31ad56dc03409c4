#!/bin/sh
# Build the self-contained tracehound bundle into DIST (default: ./dist/tracehound):
#   DIST/bin/tracehound  ->  copy DIST to /opt/tracehound in the tracehound image.
# Needs tracehound's dependencies and the bundle extra in $PYTHON:
#   pip install ".[bundle]" && deploy/bundle/build.sh /opt/tracehound
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dist=${1:-dist/tracehound}
work=${2:-$(mktemp -d)}
python=${PYTHON:-python3}

# PyInstaller cannot see through an editable install's import hook, so install
# the package as pip lays it out (tracehound/agent, tracehound/config, ...) into
# WORK/site, without dependencies (those come from $PYTHON), and bundle that.
site="$work/site"
rm -rf "$site"
"$python" -m pip install -q --disable-pip-version-check --no-deps \
    --target "$site" "$repo"

PYTHONPATH="$site" "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work/build" "$here/tracehound.spec"
# Smoke test: the frozen binary parses its own CLI and finds its package data.
"$dist/bin/tracehound" print-config >/dev/null
echo "built $dist/bin/tracehound"
