#!/usr/bin/env bash
# Benchmark: segcam vs onnxruntime (forward) and PyTorch autograd (Grad-CAM), same machine, same
# run, on the benchmark U-Net (4 levels, base 32, 4 classes) at 256x256 and 512x512 and on the
# bundled demo model.  Needs: a Release build in build/, /usr/bin/python3 with torch, and
# onnxruntime-node in tools/node_modules (cd tools && ONNXRUNTIME_NODE_INSTALL=skip npm install).
# Usage: bench/run.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
mkdir -p bench/out
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
# the segcam command's own choice (cli/segcam.c), for every program here that uses libgomp
[ -n "${OMP_WAIT_POLICY:-}" ] || export GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-3000}
printf '%-10s %10s %10s %8s %12s %12s %12s %10s %10s\n' model ort_fwd segcam_fwd ratio segcam_1cls \
  "1cls/ortfwd" segcam_4cls torch_4cls "4cls/torch"
for size in 256 512; do
  m=bench/out/unet4_b32_$size.onnx
  [ -f "$m" ] || /usr/bin/python3 bench/export_unet.py "$size" "$m" >/dev/null
  sc=$(./build/bench_bench_cam "$m" "$size" "$reps" bottleneck)
  ort=$(node bench/ort_ref.js "$m" "$size" "$reps")
  tr=$(/usr/bin/python3 bench/torch_ref.py "$size" "$reps")
  echo "$sc" >> bench/out/results.jsonl; echo "$ort" >> bench/out/results.jsonl; echo "$tr" >> bench/out/results.jsonl
  /usr/bin/python3 - "$sc" "$ort" "$tr" <<'PY'
import json, sys
s, o, t = (json.loads(a) for a in sys.argv[1:4])
print('%-10s %10.1f %10.1f %8.2f %12.1f %12.2f %12.1f %10.1f %10.2f' % (
    'unet%d' % s['size'], o['ort_forward_ms'], s['segcam_forward_ms'], s['segcam_forward_ms'] / o['ort_forward_ms'],
    s['segcam_gradcam1_ms'], s['segcam_gradcam1_ms'] / o['ort_forward_ms'], s['segcam_gradcam4_ms'],
    t['torch_gradcam4_ms'], s['segcam_gradcam4_ms'] / t['torch_gradcam4_ms']))
print('           torch forward %.1f ms, torch 1 class %.1f ms; segcam planned %.0f MB, peak RSS %.0f MB' % (
    t['torch_forward_ms'], t['torch_gradcam1_ms'], s['planned_mb'], s['peak_rss_mb']))
PY
done
demo=examples/demo/unet_shapes.onnx
if [ -f "$demo" ]; then
  sc=$(./build/bench_bench_cam "$demo" 128 "$reps" default)
  ort=$(node bench/ort_ref.js "$demo" 128 "$reps")
  echo "demo (128x128): $sc"
  echo "demo (128x128): $ort"
fi
