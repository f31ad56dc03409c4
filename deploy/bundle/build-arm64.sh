#!/bin/sh
# The Graviton (arm64) tracehound image and bundle: deploy/docker/tracehound.Dockerfile
# built for linux/arm64, then its /opt/tracehound copied out to OUT.
#   deploy/bundle/build-arm64.sh [TAG] [OUT]     (from the repository's root)
# PyInstaller does not cross-build: the build stage runs as arm64, natively on an arm64
# host (a Graviton instance, CodeBuild's ARM images), elsewhere under QEMU user-mode
# emulation registered with binfmt_misc (Debian: qemu-user-static), several times
# slower. The capture core's arm64 build and tables are checked on x86_64 by
# tests/arm64 (cross compiler, aarch64 kernel headers).
# BUILDER=podman uses podman build instead of docker buildx; BUILDER=offline builds
# with podman from arm64 base images made here (deploy/docker/build-offline.sh, ARCH=arm64:
# no registry needed, only Debian's mirror and PyPI).
set -eu
tag=${1:-tracehound:0.1.0-arm64}
out=${2:-dist/tracehound-arm64}
builder=${BUILDER:-docker}

case $builder in
  docker) docker buildx build --platform linux/arm64 --load \
            -f deploy/docker/tracehound.Dockerfile -t "$tag" . ;;
  podman) podman build --platform linux/arm64 \
            -f deploy/docker/tracehound.Dockerfile -t "$tag" . ;;
  offline) ARCH=arm64 BUNDLE_OUT=$out sh deploy/docker/build-offline.sh "$tag" ;;
  *) echo "BUILDER must be docker, podman or offline" >&2; exit 2 ;;
esac

if [ "$builder" != offline ]; then
  cid=$("$builder" create --platform linux/arm64 "$tag")
  trap '"$builder" rm "$cid" >/dev/null' EXIT
  rm -rf "$out"
  mkdir -p "$(dirname "$out")"
  "$builder" cp "$cid:/opt/tracehound" "$out"
fi
# The ELF machine field (bytes 18-19) of the launcher: 183 (0xb7) is EM_AARCH64.
machine=$(od -An -j18 -N2 -tu2 "$out/bin/tracehound" | tr -d ' ')
[ "$machine" = 183 ] || { echo "$out/bin/tracehound is not an arm64 binary" >&2; exit 1; }
echo "arm64 bundle in $out (image $tag)"
