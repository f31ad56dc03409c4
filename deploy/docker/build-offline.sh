#!/bin/sh
# Build the shipped images with podman where no container registry can be reached:
# the base images they name are made locally from Debian packages (mmdebstrap, then
# podman import) and tagged with the names the Dockerfiles use. The RUN steps still
# fetch Debian packages (apt-get) and Python packages (pip), so Debian's mirror and
# PyPI must be reachable; a TLS-intercepting proxy's CA is taken from this machine
# (/etc/ssl/certs, /etc/pip.conf), never baked into an image.
#   deploy/docker/build-offline.sh [TAG]        (from the repository's root; root)
# Stand-ins, not the real images: python:3.11-slim-bookworm is Debian 12's Python
# 3.11 with pip (PEP 668 marker removed, as the official image has none);
# debian:12-slim is Debian 12 minbase. Measured here: ~5 min each for the bases,
# ~5 min for tracehound.Dockerfile.
set -eu
tag=${1:-tracehound:0.1.0}
cache=${TRACEHOUND_TEST_CACHE:-/var/cache/tracehound-tests}/bases
mkdir -p "$cache"
# podman's default open-file limit needs CAP_SYS_RESOURCE; crun refuses hybrid cgroups.
run_opts="--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"

base() {  # NAME TAR MMDEBSTRAP-ARGS...
  name=$1 tar=$cache/$2; shift 2
  if ! podman image exists "$name"; then
    [ -s "$tar" ] || mmdebstrap --variant=minbase "$@" bookworm "$tar"
    podman import --change 'CMD ["bash"]' "$tar" "$name"
  fi
}
base docker.io/library/debian:12-slim debian-standin.tar
base docker.io/library/python:3.11-slim-bookworm python-standin.tar \
  --include=python3,python3-pip,python3-dev,python3-venv \
  --customize-hook='rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED; ln -sf python3 "$1"/usr/bin/python'

mounts=""
[ -d /etc/ssl/certs ] && mounts="$mounts -v /etc/ssl/certs:/etc/ssl/certs:ro"
[ -f /etc/pip.conf ] && mounts="$mounts -v /etc/pip.conf:/etc/pip.conf:ro"
# shellcheck disable=SC2086  # word splitting of the option lists is meant
podman build $run_opts $mounts --pull=never --network host \
  -f deploy/docker/tracehound.Dockerfile -t "$tag" .
# The image's default command is the init container's: copy the bundle into a volume.
vol=tracehound-offline-$$
podman volume create "$vol" >/dev/null
trap 'podman volume rm -f "$vol" >/dev/null' EXIT
# shellcheck disable=SC2086
podman run --rm $run_opts --read-only -v "$vol:/tracehound" "$tag"
# shellcheck disable=SC2086
podman run --rm $run_opts -v "$vol:/opt/tracehound:ro" "$tag" /opt/tracehound/bin/tracehound print-config >/dev/null
echo "built $tag with local base images"
