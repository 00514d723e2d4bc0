#!/usr/bin/env bash
# The segcam command on working inputs: help texts, `layers`, `predict`, `explain` (class lists,
# layers by name and index, .npy inputs, directories, masks, options), and end-to-end agreement
# with the independent references in tests/data/models.  Files are checked with the shell alone
# (od, head, grep, awk): PNG sizes from the IHDR chunk, .npy shapes from the header, JSON fields
# by pattern.  No Python or Node.
#
# Environment (set by ctest): SEGCAM_BIN (the binary), SEGCAM_SRC (source tree), SEGCAM_MODELS
# (../shared/models).  Prints one line per check and "N passed, M failed"; exits 1 on failure.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
cli_setup cli_basic

DEMO=$SRC/examples/demo
DEMO_MODEL=$DEMO/unet_shapes.onnx
PT26=$MODELS/pt26_sed_unet_op18.onnx
PT113=$MODELS/pt113_cloud_unet_op10.onnx
EMO=$MODELS/tf2onnx_emotion_op15.onnx
SED_PNG=$MODELS/images/img_sed_input_00050.png
REF=$SRC/tests/data/models

pass=0
fail=0

same_size() { [ "$(png_wh "$1")" = "$(png_wh "$2")" ]; }
# An 8x8 uint8 .npy filled with the byte $1 (an octal escape such as '\001').
u8_npy() {
  printf '\223NUMPY\001\000\166\000'
  printf '%-117s\n' "{'descr': '|u1', 'fortran_order': False, 'shape': (8, 8), }"
  head -c 64 /dev/zero | tr '\000' "$1"
}
pixel_sum() { awk -F: '/"pixels"/ {gsub(/[ \t,]/, "", $2); s += $2} END {print s + 0}' "$1"; }
mentions_all() { # mentions_all FILE WORD...: every WORD occurs in FILE
  local f=$1
  shift
  for w in "$@"; do grep -q -- "$w" "$f" || return 1; done
}

# ---- version and help ------------------------------------------------------------------------
run_ok "--version exits 0" --version
check "--version prints the version" grep -qE '^segcam [0-9]+\.[0-9]+\.[0-9]+' "$T/out"
run_ok "help exits 0" help
check "help lists the commands" mentions_all "$T/out" layers predict explain
run_ok "layers --help exits 0" layers --help
check "layers --help mentions --size and the roles" mentions_all "$T/out" --size --layout \
  default candidate bottleneck head output
run_ok "predict --help exits 0" predict --help
check "predict --help mentions its options" mentions_all "$T/out" --model --image --out --scale \
  --mean --std --channels --layout --size --class-names --threads --save-input
run_ok "explain --help exits 0" explain --help
check "explain --help mentions its options" mentions_all "$T/out" --model --image --out --class \
  --layer --method --region --mask --probabilities --upsample --normalize --colormap --alpha \
  --class-names --threads --size --save-input "multiple of 32"
run_ok "help explain exits 0" help explain
check "help explain = explain --help" grep -q -- '--colormap' "$T/out"

# ---- layers ----------------------------------------------------------------------------------
# pt26 has 27 ONNX nodes, all with float outputs (/usr/bin/python3 -c "import onnx;
# print(len(onnx.load('pt26_sed_unet_op18.onnx').graph.node))"); the emotion model has 15.
run_ok "layers pt26" layers "$PT26"
L=$T/layers_pt26
cp "$T/out" "$L"
check "layers pt26: 27 rows" test "$(rows "$L" | wc -l)" -eq 27
check "layers pt26: footer says 27 layers" test "$(footer_count "$L")" = 27
check "layers pt26: exactly one default mark" test "$(n_default "$L")" -eq 1
check "layers pt26: header names the input and layout" \
  grep -qE "^input: 'input' \[-1,1,224,224\] NCHW" "$L"
check "layers pt26: a bottleneck and a head are marked" mentions_all "$L" bottleneck head
check "layers pt26: shapes printed" grep -qE '\[1,64,56,56\]' "$L"
check "layers pt26: default layer footer" grep -qE '^default layer: #[0-9]+ ' "$L"

run_ok "layers emotion (NHWC classifier)" layers "$EMO"
check "layers emotion: NHWC in the header" grep -q 'NHWC' "$T/out"
check "layers emotion: 15 rows" test "$(rows "$T/out" | wc -l)" -eq 15

run_ok "layers demo" layers "$DEMO_MODEL"
L=$T/layers_demo
cp "$T/out" "$L"
check "layers demo: rows match the footer" test "$(rows "$L" | wc -l)" = "$(footer_count "$L")"
check "layers demo: one default mark" test "$(n_default "$L")" -eq 1
check "layers demo: dynamic size note on stderr" grep -q 'note:.*256x256' "$T/err"
run_ok "layers demo --size 64x96" layers "$DEMO_MODEL" --size 64x96
check "layers demo --size: shapes for 64x96" grep -q ',64,96\]' "$T/out"
DEMO_DEFAULT=$(sed -nE 's/^default layer: #([0-9]+) ([^ ]+) .*/\2/p' "$L")
BOTTLENECK=$(rows "$L" | grep -E '(  |,)bottleneck(,|$)' | awk '{print $2}' | head -1)
BOTTLENECK_IDX=$(rows "$L" | grep -E '(  |,)bottleneck(,|$)' | awk '{print $1}' | head -1)
check "demo classes.txt has 4 classes" test "$(grep -c . "$DEMO/classes.txt")" -eq 4

# ---- predict ---------------------------------------------------------------------------------
O=$T/predict
run_ok "predict demo scene1" predict --model "$DEMO_MODEL" --image "$DEMO/scene1.png" \
  --out "$O" --class-names "$DEMO/classes.txt"
check "predict: mask written" test -s "$O/scene1.mask.png"
check "predict: labels written" test -s "$O/scene1.labels.png"
check "predict: predict.json written" test -s "$O/predict.json"
check "predict: mask has the image size" same_size "$O/scene1.mask.png" "$DEMO/scene1.png"
read -r W H <<<"$(png_wh "$DEMO/scene1.png")"
check "predict: class counts sum to W*H" test "$(pixel_sum "$O/predict.json")" -eq $((W * H))
check "predict: 4 classes listed" test "$(grep -c '"pixels"' "$O/predict.json")" -eq 4
check "predict: counts printed with names" grep -q 'circle' "$T/out"
check "predict: the mask is RGB (colour type 2)" \
  test "$(od -An -tu1 -j25 -N1 "$O/scene1.mask.png" | tr -d ' ')" = 2
check "predict: labels are 8-bit gray (colour type 0)" \
  test "$(od -An -tu1 -j24 -N2 "$O/scene1.labels.png" | tr -s ' ' | sed 's/^ //')" = "8 0"

# a size that is not a multiple of 32: resized for the model, the mask back at the image size
S3=$DEMO/scene3.png
read -r W3 H3 <<<"$(png_wh "$S3")"
run_ok "predict demo scene3 (dynamic size rounding)" predict --model "$DEMO_MODEL" --image "$S3" \
  --out "$O"
check "predict scene3: mask has the image size" same_size "$O/scene3.mask.png" "$S3"
check "predict scene3: counts sum to W*H" test "$(pixel_sum "$O/predict.json")" -eq $((W3 * H3))
run_ok "predict demo scene3 --size 64x64" predict --model "$DEMO_MODEL" --image "$S3" \
  --out "$O" --size 64x64
check "predict --size: input shape recorded" jhas "$O/predict.json" input_shape '\[1, 3, 64, 64\]'
check "predict --size: mask still at the image size" same_size "$O/scene3.mask.png" "$S3"

run_ok "predict pt26 (binary output)" predict --model "$PT26" --image "$SED_PNG" --out "$O"
check "predict pt26: 224x224 mask" test "$(png_wh "$O/img_sed_input_00050.mask.png")" = "224 224"
check "predict pt26: two labels" test "$(grep -c '"pixels"' "$O/predict.json")" -eq 2
check "predict pt26: counts sum to 224*224" test "$(pixel_sum "$O/predict.json")" -eq 50176

run_ok "predict emotion (classifier, palette PNG resized to 48x48)" predict --model "$EMO" \
  --image "$MODELS/images/img_mnist_digit_test.png" --out "$O"
check "predict classifier: prints the class and scores" grep -qE 'class [0-6], scores' "$T/out"
check "predict classifier: predict.json has 7 scores" test "$(tr -d ' \t\n' <"$O/predict.json" |
  grep -o '"scores":\[[^]]*\]' | tr ',' '\n' | wc -l)" -eq 7

# ---- explain ---------------------------------------------------------------------------------
O=$T/explain
EX1=(explain --model "$DEMO_MODEL" --image "$DEMO/scene1.png")
run_ok "explain demo --class 1,2" "${EX1[@]}" --class 1,2 --out "$O" \
  --class-names "$DEMO/classes.txt"
for k in 1 2; do
  for f in overlay.png heatmap.png npy; do
    check "explain: scene1.class$k.$f written" test -s "$O/scene1.class$k.$f"
  done
  check "explain: class $k overlay has the image size" \
    test "$(png_wh "$O/scene1.class$k.overlay.png")" = "$W $H"
  check "explain: class $k heatmap has the image size" \
    test "$(png_wh "$O/scene1.class$k.heatmap.png")" = "$W $H"
  check "explain: class $k .npy is [H, W]" test "$(npy_shape "$O/scene1.class$k.npy")" = "$H,$W"
  check "explain: class $k .npy is <f4" npy_is_f4 "$O/scene1.class$k.npy"
  check "explain: class $k .npy size = header + 4*H*W" \
    test $(($(stat -c %s "$O/scene1.class$k.npy") - 128)) -eq $((4 * W * H))
  check "summary.json lists class $k files" \
    jhas "$O/summary.json" overlay "\"scene1.class$k.overlay.png\""
done
check "explain: class 0 not written" test ! -e "$O/scene1.class0.npy"
check "summary.json: the layer is the default layer" \
  jhas "$O/summary.json" name "\"${DEMO_DEFAULT:-none}\""
check "summary.json: class names" jhas "$O/summary.json" name '"circle"'
check "summary.json: method" jhas "$O/summary.json" method '"gradcam"'
check "summary.json: target" jhas "$O/summary.json" target '"logits"'
check "summary.json: normalisation" jhas "$O/summary.json" normalize '"minmax"'
check "summary.json: region pixels" jhas "$O/summary.json" region_pixels '[1-9]'
check "summary.json: energy in region" jhas "$O/summary.json" energy_in_region '[0-9]'
check "summary.json: timings" jhas "$O/summary.json" forward '[0-9]'
check "summary.json: version" jhas "$O/summary.json" segcam_version '"[0-9.]+"'
check "explain prints one line per class" test "$(grep -c 'class [12] ' "$T/out")" -eq 2

O=$T/explain_all
run_ok "explain --class all" "${EX1[@]}" --class all --out "$O"
check "explain --class all: 4 maps" test "$(ls "$O"/scene1.class*.npy | wc -l)" -eq 4
check "explain --class all: 12 images+maps" test "$(ls "$O"/scene1.class* | wc -l)" -eq 12

O=$T/explain_layer
run_ok "explain --layer NAME (the bottleneck)" "${EX1[@]}" --class 1 \
  --layer "${BOTTLENECK:-missing}" --out "$O"
check "explain --layer NAME: summary names the layer" \
  jhas "$O/summary.json" name "\"${BOTTLENECK:-missing}\""
run_ok "explain --layer #INDEX" "${EX1[@]}" --class 1 --layer "#${BOTTLENECK_IDX:-x}" --out "$O"
check "explain --layer #INDEX: same layer" jhas "$O/summary.json" name "\"${BOTTLENECK:-missing}\""
check "explain --layer #INDEX: index recorded" jhas "$O/summary.json" index "${BOTTLENECK_IDX:-x},"
run_ok "explain --layer bottleneck" "${EX1[@]}" --class 1 --layer bottleneck --out "$O"
check "explain --layer bottleneck: same layer" \
  jhas "$O/summary.json" name "\"${BOTTLENECK:-missing}\""
check "explain --layer bottleneck: map at the image size" \
  test "$(npy_shape "$O/scene1.class1.npy")" = "$H,$W"

O=$T/explain_opts
run_ok "explain with every option" explain --model "$DEMO_MODEL" --image "$S3" --class 3 \
  --method gradcam++ --upsample bicubic --normalize none --colormap viridis --alpha 0.25 \
  --probabilities --region all --threads 1 --out "$O"
check "explain options: map at scene3's size" test "$(npy_shape "$O/scene3.class3.npy")" = "$H3,$W3"
check "explain options: method recorded" jhas "$O/summary.json" method '"gradcam\+\+"'
check "explain options: target recorded" jhas "$O/summary.json" target '"probabilities"'
check "explain options: colormap recorded" jhas "$O/summary.json" colormap '"viridis"'
check "explain options: region recorded" jhas "$O/summary.json" mode '"all"'
check "explain options: alpha recorded" jhas "$O/summary.json" alpha '0.25'
for m in hirescam gradcam-elementwise xgradcam layercam; do
  run_ok "explain --method $m" "${EX1[@]}" --class 1 --method "$m" --upsample nearest \
    --normalize max --colormap turbo --out "$O"
done
run_ok "explain --normalize shared" "${EX1[@]}" --class 1,2,3 --normalize shared \
  --colormap inferno --out "$O"

run_ok "explain --mask (ground truth as the region)" "${EX1[@]}" --class 1 \
  --mask "$DEMO/scene1_mask.png" --out "$O"
check "explain --mask: region mode mask" jhas "$O/summary.json" mode '"mask"'
check "explain --mask: region not empty" jhas "$O/summary.json" region_pixels '[1-9]'

# masks as .npy (uint8 [8, 8], nearest-resized to the output grid): all zeros gives an empty
# region (zero map, a warning, exit 0); all ones gives every output pixel and energy 1
u8_npy '\000' >"$T/zeros.npy"
u8_npy '\001' >"$T/ones.npy"
run_ok "explain --mask zeros.npy (empty region) exits 0" "${EX1[@]}" --class 2 \
  --mask "$T/zeros.npy" --out "$O/empty"
check "empty region: warning on stderr" grep -q '^segcam: warning: .*scene1.png' "$T/err"
check "empty region: region_pixels 0" jhas "$O/empty/summary.json" region_pixels '0,'
check "empty region: warning in summary.json" grep -q 'empty region' "$O/empty/summary.json"
check "empty region: the map is all zeros" \
  test "$(tail -c +129 "$O/empty/scene1.class2.npy" | tr -d '\000' | wc -c)" -eq 0
check "empty region: energy null" jhas "$O/empty/summary.json" energy_in_region null
run_ok "explain --mask ones.npy (every pixel)" "${EX1[@]}" --class 2 --mask "$T/ones.npy" \
  --out "$O/ones"
check "mask of ones: region = every output pixel" \
  jhas "$O/ones/summary.json" region_pixels "$((W * H)),"
check "mask of ones: energy 1" jhas "$O/ones/summary.json" energy_in_region '1,'
check "mask of ones: the map is not all zeros" \
  test "$(tail -c +129 "$O/ones/scene1.class2.npy" | tr -d '\000' | wc -c)" -gt 0

O=$T/explain_pt26
run_ok "explain pt26 PNG" explain --model "$PT26" --image "$SED_PNG" --class 0 --out "$O"
check "explain pt26: 224x224 map" \
  test "$(npy_shape "$O/img_sed_input_00050.class0.npy")" = "224,224"

# ---- .npy inputs -----------------------------------------------------------------------------
O=$T/explain_npy
NPY26=$REF/pt26_sed_unet_op18.input.npy
run_ok "explain pt26 with a [1,1,224,224] .npy" explain --model "$PT26" --image "$NPY26" \
  --class 0 --out "$O"
M26=$O/pt26_sed_unet_op18.input.class0.npy
check "explain .npy: map [224, 224]" test "$(npy_shape "$M26")" = "224,224"
check "explain .npy: overlay drawn" \
  test "$(png_wh "$O/pt26_sed_unet_op18.input.class0.overlay.png")" = "224 224"
check "summary.json: kind npy" jhas "$O/summary.json" kind '"npy"'
# the same array as [224, 224] and [224, 224, 1] (headers rewritten here), and renamed: the magic
# bytes decide, not the name
cp "$NPY26" "$T/renamed.dat"
npy_reshape "$NPY26" "(224, 224)" >"$T/hw.npy"
npy_reshape "$NPY26" "(224, 224, 1)" >"$T/hwc.npy"
run_ok "explain .npy [H, W]" explain --model "$PT26" --image "$T/hw.npy" --class 0 --out "$O"
check "explain .npy [H, W]: map [224, 224]" test "$(npy_shape "$O/hw.class0.npy")" = "224,224"
run_ok "explain .npy [H, W, 1]" explain --model "$PT26" --image "$T/hwc.npy" --class 0 --out "$O"
check "explain .npy [H, W, 1]: map [224, 224]" test "$(npy_shape "$O/hwc.class0.npy")" = "224,224"
check "[H,W] and [1,1,H,W] give the same map" cmp -s "$O/hw.class0.npy" "$M26"
check "[H,W,1] and [1,1,H,W] give the same map" cmp -s "$O/hwc.class0.npy" "$M26"
run_ok "explain .npy by magic bytes (renamed)" explain --model "$PT26" --image "$T/renamed.dat" \
  --class 0 --out "$O"
check "renamed .npy: map written" test -s "$O/renamed.class0.npy"
NPYEMO=$REF/tf2onnx_emotion_op15.input.npy
run_ok "explain emotion (classifier, NHWC .npy)" explain --model "$EMO" --image "$NPYEMO" \
  --class 0,6 --out "$O"
check "explain classifier: map [48, 48]" \
  test "$(npy_shape "$O/tf2onnx_emotion_op15.input.class6.npy")" = "48,48"
check "explain classifier: energy null" jhas "$O/summary.json" energy_in_region null

# ---- agreement with independent references (tests/data/models, PyTorch float64) --------------
# The preprocessed inputs of the sample PNGs equal the reference inputs byte for byte (pt26:
# gray = 0.299R + 0.587G + 0.114B, /255, NCHW; demo: RGB/255, NCHW), and the Grad-CAM maps
# written for the reference inputs equal the reference maps within 1e-4.
O=$T/refs
run_ok "predict pt26 --save-input" predict --model "$PT26" --image "$SED_PNG" --save-input \
  --out "$O"
check "pt26: preprocessed PNG = reference input" \
  cmp -s "$O/img_sed_input_00050.input.npy" "$REF/pt26_sed_unet_op18.input.npy"
run_ok "predict demo scene1 --save-input" predict --model "$DEMO_MODEL" \
  --image "$DEMO/scene1.png" --save-input --out "$O"
if [ -f "$REF/unet_shapes.input.npy" ]; then
  check "demo: preprocessed scene1.png = reference input" \
    cmp -s "$O/scene1.input.npy" "$REF/unet_shapes.input.npy"
else
  echo "skip demo: preprocessed scene1.png = reference input (no $REF/unet_shapes.input.npy)"
fi
cp "$REF/pt113_cloud_unet_op10.input.npy" "$T/p113.npy"
npy_reshape "$T/p113.npy" "(4, 224, 224)" >"$T/p113_chw.npy"
run_ok "predict pt113 with a [4,224,224] .npy --save-input" predict --model "$PT113" \
  --image "$T/p113_chw.npy" --save-input --out "$O"
check "pt113: [C,H,W] array used as [1,C,H,W]" cmp -s "$O/p113_chw.input.npy" "$T/p113.npy"
# cams.txt: model_file layer_name class region_pixels node_name file_stem score low_h low_w
while read -r model _ cls pixels node stem _; do
  case "$model" in '#'* | '') continue ;; esac
  name=$(basename "$model" .onnx)
  mfile=$MODELS/$(basename "$model")
  [ -f "$mfile" ] || mfile=$SRC/$model
  run_ok "$name @ $node: explain the reference input" explain --model "$mfile" \
    --image "$REF/$name.input.npy" --class "$cls" --layer "$node" --out "$O/$stem"
  check "$name @ $node: region of $pixels pixels" \
    jhas "$O/$stem/summary.json" region_pixels "$pixels,"
  d=$(max_abs_diff "$O/$stem/$name.input.class$cls.npy" "$REF/$stem.cam.npy")
  check "$name @ $node: map = reference (max |diff| $d <= 1e-4)" \
    awk -v d="$d" 'BEGIN {exit !(d <= 1e-4)}'
done <"$REF/cams.txt"

# ---- directories -----------------------------------------------------------------------------
D=$T/dir
mkdir -p "$D"
cp "$DEMO/scene1.png" "$DEMO/scene2.png" "$D/"
cp "$S3" "$D/scene3.PNG"
echo "not an image" >"$D/readme.txt"
O=$T/explain_dir
run_ok "explain a directory" explain --model "$DEMO_MODEL" --image "$D" --class 1 --out "$O"
check "directory: three images explained" test "$(ls "$O"/*.class1.npy | wc -l)" -eq 3
check "directory: summary has three images" \
  test "$(grep -cE '"kind":[[:space:]]*"image"' "$O/summary.json")" -eq 3
check "directory: sorted order" test "$(grep -o '"path":[[:space:]]*"[^"]*"' "$O/summary.json" |
  grep "$D/" | sed 's/.*\///; s/"//' | tr '\n' ' ')" = "scene1.png scene2.png scene3.PNG "
run_ok "predict a directory" predict --model "$DEMO_MODEL" --image "$D" --out "$O"
check "predict directory: three masks" test "$(ls "$O"/*.mask.png | wc -l)" -eq 3

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
