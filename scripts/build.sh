#!/usr/bin/env bash
# Configures and builds segcam into build/ (Release) or, with --asan, build-asan/ (Debug with
# AddressSanitizer + UndefinedBehaviorSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--asan" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSEGCAM_SANITIZE=ON -DSEGCAM_WERROR=ON >/dev/null
  cmake --build build-asan -j"$(nproc)"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSEGCAM_WERROR=ON >/dev/null
  cmake --build build -j"$(nproc)"
fi
