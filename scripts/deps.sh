#!/usr/bin/env bash
# Installs the Debian 12 packages segcam needs to build and test (run as root, or with sudo).
# Nothing else is downloaded: the build uses only these packages.
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libopenblas-dev libprotobuf-c-dev protobuf-c-compiler
      libpng-dev libjpeg-dev libcjson-dev libhdf5-dev libzip-dev libdnnl-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
