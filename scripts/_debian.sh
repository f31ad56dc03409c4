# Shared by scripts/install and scripts/test: install Debian packages, only those
# missing. Usage: need_packages PKG=PROOF_FILE ...  (PROOF_FILE shows PKG is there)
need_packages() {
  local missing=() pkg proof
  for spec in "$@"; do
    pkg=${spec%%=*}; proof=${spec#*=}
    [ -e "$proof" ] || missing+=("$pkg")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  echo "installing system packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# The capture core is C: a compiler and this Python's headers.
need_build_tools() {
  local header
  header=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h
  need_packages gcc=/usr/bin/gcc libc6-dev=/usr/include/stdio.h python3-dev="$header"
}
