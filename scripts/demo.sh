#!/usr/bin/env bash
# Sets up, builds and runs segcam on the bundled example: a small U-Net trained on synthetic
# shapes (examples/demo/).  Writes per-class overlays, heatmaps, .npy maps and summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
out=${1:-demo-out}
./build/segcam layers examples/demo/unet_shapes.onnx --size 128x128
./build/segcam predict --model examples/demo/unet_shapes.onnx --image examples/demo/scene1.png \
  --class-names examples/demo/classes.txt --out "$out"
./build/segcam explain --model examples/demo/unet_shapes.onnx --image examples/demo/scene1.png \
  --class 1,2,3 --class-names examples/demo/classes.txt --out "$out"
echo "demo: wrote $(ls "$out" | wc -l) files to $out/ (open the *.overlay.png files)"
