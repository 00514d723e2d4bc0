#!/usr/bin/env bash
# The whole test suite: installs build dependencies if missing, then builds and runs every test
# twice — a normal optimised build and an ASan/UBSan build.  Needs ../shared/models beside the
# checkout for the real-model tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
(cd build && ctest --output-on-failure -j2)
./scripts/build.sh --asan
# OpenBLAS/libgomp keep thread pools alive at exit; leak reports are checked on our own code in
# the normal run of each test, so LSan stays on but ignores allocations made by those runtimes.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
(cd build-asan && ctest --output-on-failure -j2)
