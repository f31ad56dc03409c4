#!/bin/sh
# Build the shipped images with podman where no container registry can be reached:
# the base images they name are made locally from Debian packages (mmdebstrap, then
# podman import) and tagged with the names the Dockerfiles use. The RUN steps still
# fetch Debian packages (apt-get) and Python packages (pip), so Debian's mirror and
# PyPI must be reachable; a TLS-intercepting proxy's CA is taken from this machine
# (/etc/ssl/certs, /etc/pip.conf), never baked into an image.
#   deploy/docker/build-offline.sh [TAG]        (from the repository's root; root)
#   ARCH=arm64 deploy/docker/build-offline.sh   (Graviton; see deploy/bundle/build-arm64.sh)
# ARCH other than this machine's: the bases are made for ARCH and every RUN step runs
# under QEMU user-mode emulation (qemu-user-static, registered with binfmt_misc), in a
# podman storage of its own (the same image names, another architecture).
# BUNDLE_OUT=DIR: copy the image's /opt/tracehound out to DIR as well.
# EXAMPLES=1: then build deploy/examples/nginx and python-app on it, from stand-ins
# (nginx:1.27-bookworm: Debian 12's nginx 1.22 and an entrypoint that only execs its
# arguments; python:3.12-slim-bookworm: the Python 3.11 stand-in above), and run
# each image's entrypoint once. nginx-alpine cannot be: no Alpine packages here.
# Stand-ins, not the real images: python:3.11-slim-bookworm is Debian 12's Python
# 3.11 with pip (PEP 668 marker removed, as the official image has none);
# debian:12-slim is Debian 12 minbase. Measured here: ~5 min each for the bases,
# ~5 min for tracehound.Dockerfile.
set -eu
tag=${1:-tracehound:0.1.0}
cache=${TRACEHOUND_TEST_CACHE:-/var/cache/tracehound-tests}/bases
mkdir -p "$cache"
host_arch=$(dpkg --print-architecture)
arch=${ARCH:-$host_arch}
sfx="" storage=""
if [ "$arch" != "$host_arch" ]; then
  qemu=$(case $arch in arm64) echo aarch64 ;; *) echo "$arch" ;; esac)
  if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ]; then
    echo "build-offline: no QEMU binfmt_misc handler for $arch (/proc/sys/fs/binfmt_misc/qemu-$qemu):" >&2
    echo "  apt-get install qemu-user-static; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" >&2
    echo "  cat /usr/lib/binfmt.d/qemu-$qemu.conf > /proc/sys/fs/binfmt_misc/register" >&2
    exit 1
  fi
  sfx=-$arch
  storage="--root $cache/podman$sfx --runroot /run/tracehound-podman$sfx"
fi
pm() {  # podman in this architecture's storage
  # shellcheck disable=SC2086
  podman $storage "$@"
}
# podman's default open-file limit needs CAP_SYS_RESOURCE; crun refuses hybrid cgroups.
run_opts="--runtime runc --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"

base() {  # NAME TAR MMDEBSTRAP-ARGS...
  name=$1 tar=$cache/$2; shift 2
  if ! pm image exists "$name"; then
    [ -s "$tar" ] || mmdebstrap --variant=minbase --arch="$arch" "$@" bookworm "$tar"
    pm import --arch "$arch" --change 'CMD ["bash"]' "$tar" "$name"
  fi
}
base docker.io/library/debian:12-slim "debian-standin$sfx.tar"
base docker.io/library/python:3.11-slim-bookworm "python-standin$sfx.tar" \
  --include=python3,python3-pip,python3-dev,python3-venv \
  --customize-hook='rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED; ln -sf python3 "$1"/usr/bin/python'

mounts=""
[ -d /etc/ssl/certs ] && mounts="$mounts -v /etc/ssl/certs:/etc/ssl/certs:ro"
[ -f /etc/pip.conf ] && mounts="$mounts -v /etc/pip.conf:/etc/pip.conf:ro"
# shellcheck disable=SC2086  # word splitting of the option lists is meant
pm build $run_opts $mounts --pull=never --network host --platform "linux/$arch" \
  -f deploy/docker/tracehound.Dockerfile -t "$tag" .
# The image's default command is the init container's: copy the bundle into a volume.
vol=tracehound-offline-$$
pm volume create "$vol" >/dev/null
trap 'pm volume rm -f "$vol" >/dev/null' EXIT
# shellcheck disable=SC2086
pm run --rm $run_opts --read-only -v "$vol:/tracehound" "$tag"
# shellcheck disable=SC2086
pm run --rm $run_opts -v "$vol:/opt/tracehound:ro" "$tag" /opt/tracehound/bin/tracehound print-config >/dev/null
if [ -n "${BUNDLE_OUT:-}" ]; then
  cid=$(pm create "$tag")
  rm -rf "$BUNDLE_OUT"
  mkdir -p "$(dirname "$BUNDLE_OUT")"
  pm cp "$cid:/opt/tracehound" "$BUNDLE_OUT"
  pm rm "$cid" >/dev/null
fi
echo "built $tag ($arch) with local base images"
[ -n "${EXAMPLES:-}" ] || exit 0

base docker.io/library/nginx:1.27-bookworm "nginx-standin$sfx.tar" --include=nginx \
  --customize-hook='printf "#!/bin/sh\nexec \"\$@\"\n" > "$1"/docker-entrypoint.sh; chmod 755 "$1"/docker-entrypoint.sh' \
  --customize-hook='ln -sf /dev/stdout "$1"/var/log/nginx/access.log; ln -sf /dev/stderr "$1"/var/log/nginx/error.log'
pm image exists docker.io/library/python:3.12-slim-bookworm ||
  pm tag docker.io/library/python:3.11-slim-bookworm docker.io/library/python:3.12-slim-bookworm
for ex in nginx python-app; do
  # shellcheck disable=SC2086
  pm build $run_opts --pull=never --platform "linux/$arch" --build-arg "TRACEHOUND_IMAGE=$tag" \
    -f "deploy/examples/$ex/Dockerfile" -t "tracehound-example-$ex$sfx" deploy
done
# The entrypoint as ECS runs it (tracehound, PID 1, then the application): here the
# application is a check that the image's own program is there and runs. Not under
# QEMU user-mode emulation, which has no ptrace and no seccomp of its own.
if [ -n "$sfx" ]; then
  echo "built tracehound-example-nginx$sfx and tracehound-example-python-app$sfx (not run)"
  exit 0
fi
# The shipped config's sinks need AWS and a token: a console-only one stands in.
smoke=$cache/example-smoke.toml
printf '[sinks.console]\ntype = "console"\ntarget = "stderr"\ninputs = ["alerts"]\n' > "$smoke"
ex_opts="$run_opts --cap-add SYS_PTRACE -v $smoke:/etc/tracehound/tracehound.toml:ro"
# shellcheck disable=SC2086
pm run --rm $ex_opts "tracehound-example-nginx$sfx" nginx -t
# shellcheck disable=SC2086
pm run --rm $ex_opts "tracehound-example-python-app$sfx" \
  setpriv --reuid=app --regid=app --init-groups python3 -c 'import os; assert os.getuid() == 10001'
echo "built tracehound-example-nginx$sfx and tracehound-example-python-app$sfx"
