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

# PyInstaller cannot see through an editable install's import hook, and the package
# tracehound_config exists only once installed (it is config/ in the tree). So lay
# out the packages as pyproject.toml installs them, in WORK/site, and bundle those.
site="$work/site"
rm -rf "$site"
mkdir -p "$site"
for pkg in agent sinks filters; do
    (cd "$repo" && tar cf - --exclude=__pycache__ "$pkg") | (cd "$site" && tar xf -)
done
mkdir "$site/tracehound_config"
cp "$repo"/config/*.py "$repo"/config/*.toml "$site/tracehound_config/"
for f in "$repo"/config/*.yaml; do
    if [ -e "$f" ]; then cp "$f" "$site/tracehound_config/"; fi
done

PYTHONPATH="$site" "$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$dist" --workpath "$work/build" "$here/tracehound.spec"
# Smoke test: the frozen binary parses its own CLI and finds its package data.
"$dist/bin/tracehound" print-config >/dev/null
echo "built $dist/bin/tracehound"
