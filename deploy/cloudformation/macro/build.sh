#!/bin/sh
# Lay out the macro's Lambda package in DIR (default ./build): the handler and
# tracehound.agent.ecs from this repository (pure Python, no dependencies), then
#   aws cloudformation package --template-file macro.yaml --s3-bucket BUCKET ...
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${1:-$here/build}
rm -rf "$out"
mkdir -p "$out/tracehound/agent/ecs"
cp "$here/tracehound_macro.py" "$out/"
cp "$repo/src/tracehound/__init__.py" "$out/tracehound/"
cp "$repo/agent/__init__.py" "$repo/agent/config_env.py" "$out/tracehound/agent/"
cp "$repo"/agent/ecs/__init__.py "$repo"/agent/ecs/instrument.py "$repo"/agent/ecs/taskdef.py \
    "$repo"/agent/ecs/registry.py \
    "$out/tracehound/agent/ecs/"
echo "macro package in $out"
