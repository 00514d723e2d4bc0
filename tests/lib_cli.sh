#!/usr/bin/env bash
# Shared helpers of the CLI test scripts (tests/cli_*.sh source this file; it is not a test).
# They use the sourcing script's variables: BIN (the segcam binary), T (its temporary directory),
# both set by cli_setup, and the counters pass/fail.  Each check prints one line: "ok   NAME" or "FAIL NAME (why)".

# cli_setup NAME: BIN, SRC and MODELS from the environment ctest sets (SEGCAM_BIN, SEGCAM_SRC,
# SEGCAM_MODELS), and T, a temporary directory removed when the script exits.
cli_setup() {
  BIN=${SEGCAM_BIN:?set SEGCAM_BIN}
  SRC=${SEGCAM_SRC:?set SEGCAM_SRC}
  MODELS=${SEGCAM_MODELS:?set SEGCAM_MODELS}
  T=$(mktemp -d "${TMPDIR:-/tmp}/segcam_$1.XXXXXX")
  trap 'rm -rf "$T"' EXIT
}

ok() { echo "ok   $1"; pass=$((pass + 1)); }

bad() { echo "FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }

check() { # check NAME COMMAND...: passes when COMMAND succeeds
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

# Runs the binary; stdout in $T/out, stderr in $T/err, exit status in $rc.
run() {
  "$BIN" "$@" >"$T/out" 2>"$T/err"
  rc=$?
}

run_ok() { # run_ok NAME ARGS...: the command must exit 0
  local name=$1
  shift
  run "$@"
  if [ "$rc" -eq 0 ]; then ok "$name"; else bad "$name" "exit $rc: $(head -c 300 "$T/err")"; fi
}

oneline() { head -c 400 "$1" | tr '\n' ' '; }

# expect NAME RC NEEDLES -- ARGS...  (as in cli_errors.sh)
#   The command must exit RC and print exactly ONE line "segcam: error: ..." (other stderr lines
#   only notes and warnings) containing every '|'-separated fixed string of NEEDLES.
expect() {
  local name=$1 want=$2 needles=$3
  shift 4
  "$BIN" "$@" >"$T/out" 2>"$T/err"
  local rc=$? n line why="" lines tagged
  n=$(grep -c '^segcam: error: ' "$T/err")
  line=$(grep '^segcam: error: ' "$T/err" | head -1)
  lines=$(grep -c . "$T/err")
  tagged=$(grep -c '^segcam: \(error\|warning\|note\): ' "$T/err")
  if [ "$rc" -ne "$want" ]; then
    why="exit $rc, wanted $want"
  elif [ "$n" -ne 1 ]; then
    why="$n error lines"
  elif [ "$lines" -ne "$tagged" ]; then
    why="stray stderr output"
  else
    local IFS='|'
    for s in $needles; do
      case "$line" in *"$s"*) ;; *) why="'$s' missing" ;; esac
    done
  fi
  if [ -z "$why" ]; then ok "$name"; else bad "$name" "$why: $(oneline "$T/err")"; fi
}

# "W H" from a PNG's IHDR (bytes 16..23, big-endian).
png_wh() {
  od -An -tu1 -j16 -N8 "$1" |
    awk '{print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8}'
}

# jhas FILE KEY VALUE: the JSON file has "KEY": VALUE (VALUE an extended regex, cJSON spacing).
jhas() { grep -qE "\"$2\":[[:space:]]*$3" "$1"; }

max_abs_diff() {
  paste <(npy_data "$1") <(npy_data "$2") |
    awk 'NF != 2 {bad = 1} {d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d}
         END {print bad ? "inf" : m + 0}'
}

n_default() { rows "$1" | grep -cE '(  |,)default(,|$)'; }

# The data of a float32 .npy as one number per line, and the largest |a - b| of two of them
# ("inf" when their sizes differ).
npy_data() { od -An -v -tf4 -w4 -j$((10 + $(od -An -tu2 -j8 -N2 "$1" | tr -d ' '))) "$1"; }

npy_is_f4() { head -c 256 "$1" | tr -d '\000' | grep -aq "'descr': '<f4'"; }

# Writes a .npy with the data of $1 (a float32 v1.0 file) and the shape $2, e.g. "(256, 256)".
npy_reshape() {
  local hlen dict pad total n
  hlen=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')
  dict="{'descr': '<f4', 'fortran_order': False, 'shape': $2, }"
  total=$((10 + ${#dict} + 1))
  pad=$(((64 - total % 64) % 64))
  n=$((${#dict} + pad + 1))
  printf '\223NUMPY\001\000'
  printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256)))"
  printf '%s%*s\n' "$dict" "$pad" ""
  tail -c +$((11 + hlen)) "$1"
}

# "H,W" (or "1,H,W,C", ...) from a .npy header.
npy_shape() {
  head -c 256 "$1" | tr -d '\000' | grep -ao "'shape': ([0-9, ]*)" |
    sed "s/'shape': (//; s/[ )]//g; s/,$//"
}

footer_count() { sed -nE 's/^([0-9]+) layers, .*/\1/p' "$1"; }

# Rows of a `segcam layers` table (lines starting with an index), the footer's counts.
rows() { grep -E '^ +[0-9]+  ' "$1"; }
