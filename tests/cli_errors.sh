#!/usr/bin/env bash
# The segcam command on bad input: each case must exit non-zero and print exactly ONE line
# starting "segcam: error:" (and nothing else on stderr but notes and warnings), naming the
# offending file (and the node or layer where there is one).  Usage errors (bad options) exit 2,
# other errors 1.
#
# Environment (set by ctest): SEGCAM_BIN, SEGCAM_SRC, SEGCAM_MODELS.  Prints one line per check
# and "N passed, M failed"; exits 1 on failure.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
cli_setup cli_errors

DEMO=$SRC/examples/demo
DEMO_MODEL=$DEMO/unet_shapes.onnx
PT26=$MODELS/pt26_sed_unet_op18.onnx
PT113=$MODELS/pt113_cloud_unet_op10.onnx
EMO=$MODELS/tf2onnx_emotion_op15.onnx
SED_PNG=$MODELS/images/img_sed_input_00050.png
RGBA_PNG=$MODELS/images/img_nuclei_04_3.png
EMO_NPY=$SRC/tests/data/models/tf2onnx_emotion_op15.input.npy
UNSUPPORTED=$SRC/tests/data/onnx/unsupported_op.onnx # node 'Foo_3' is a NonMaxSuppression
O=$T/out_dir
# common command prefixes
P26=(predict --model "$PT26" --image "$SED_PNG" --out "$O")
E26=(explain --model "$PT26" --image "$SED_PNG" --out "$O")
EDEMO=(explain --model "$DEMO_MODEL" --image "$DEMO/scene1.png" --out "$O")

pass=0
fail=0

echo "hello, I am not a model" >"$T/notes.txt"
head -c 1000 "$PT26" >"$T/truncated.onnx"
head -c 100 "$SED_PNG" >"$T/truncated.png"
echo "not a png either" >"$T/fake.png"
# a PNG signature and an IHDR claiming 4294967295 x 1 pixels, then nothing
printf '\211PNG\r\n\032\n\000\000\000\015IHDR\377\377\377\377\000\000\000\001' >"$T/huge.png"
printf '\010\002\000\000\000' >>"$T/huge.png"
# a well-formed 65-byte PNG whose IHDR promises 16384 x 16384 gray pixels (the 2^28-pixel limit,
# so allowed) and whose IDAT is an empty zlib stream
printf '\211PNG\r\n\032\n\000\000\000\015IHDR\000\000@\000\000\000@\000\010\000\000\000\000\214\243OX' \
  >"$T/promise.png"
printf '\000\000\000\010IDATx\234\003\000\000\000\000\001H\006\211\322\000\000\000\000IEND\256B`\202' \
  >>"$T/promise.png"
: >"$T/empty.onnx"
mkdir -p "$T/emptydir" "$T/mixed"
cp "$SED_PNG" "$T/mixed/a.png"
cp "$T/truncated.png" "$T/mixed/b.png"
cp "$SED_PNG" "$T/mixed/c.png"
# a float32 [5, 6, 7] array: 10 bytes of magic, version and header length (118), the header
# padded to 128 bytes, 840 bytes of zeros
{
  printf '\223NUMPY\001\000\166\000'
  printf '%-117s\n' "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 6, 7), }"
  head -c 840 /dev/zero
} >"$T/wrong.npy"
head -c 200 "$SRC/tests/data/models/pt26_sed_unet_op18.input.npy" >"$T/short.npy"

# ---- models ----------------------------------------------------------------------------------
expect "text file as a model" 1 "notes.txt" -- layers "$T/notes.txt"
expect "empty model file" 1 "empty.onnx" -- layers "$T/empty.onnx"
expect "truncated ONNX" 1 "truncated.onnx" -- layers "$T/truncated.onnx"
expect "truncated ONNX (explain)" 1 "truncated.onnx" -- \
  explain --model "$T/truncated.onnx" --image "$SED_PNG" --class 0 --out "$O"
expect "unsupported op names node and op" 1 "unsupported_op.onnx|Foo_3|NonMaxSuppression" -- \
  layers "$UNSUPPORTED"
expect "missing model" 1 "nope.onnx" -- \
  predict --model "$T/nope.onnx" --image "$SED_PNG" --out "$O"
expect "a directory as the model" 1 "emptydir" -- layers "$T/emptydir"

# ---- images ----------------------------------------------------------------------------------
expect "missing image" 1 "missing.png" -- \
  explain --model "$PT26" --image "$T/missing.png" --class 0 --out "$O"
expect "truncated PNG" 1 "truncated.png" -- \
  explain --model "$PT26" --image "$T/truncated.png" --class 0 --out "$O"
expect "text file named .png" 1 "fake.png" -- \
  predict --model "$PT26" --image "$T/fake.png" --out "$O"
expect "PNG with absurd dimensions" 1 "huge.png" -- \
  predict --model "$PT26" --image "$T/huge.png" --out "$O"
expect "small PNG promising 16384x16384 pixels" 1 "promise.png|16384x16384" -- \
  predict --model "$PT26" --image "$T/promise.png" --out "$O"
expect "RGB image into a 4-channel model (default keep)" 1 \
  "img_sed_input_00050.png|pt113_cloud_unet_op10.onnx|3 channels|needs 4" -- \
  predict --model "$PT113" --image "$SED_PNG" --out "$O"
expect "RGB image into a 4-channel model (--channels keep)" 1 \
  "img_sed_input_00050.png|pt113_cloud_unet_op10.onnx" -- \
  explain --model "$PT113" --image "$SED_PNG" --channels keep --class 0 --out "$O"
expect "--channels rgb for a 1-channel model" 1 "img_sed_input_00050.png|--channels rgb" -- \
  "${P26[@]}" --channels rgb
expect "--channels keep: RGBA into a 1-channel model" 1 "img_nuclei_04_3.png|RGBA" -- \
  predict --model "$PT26" --image "$RGBA_PNG" --channels keep --out "$O"
expect "--mean count does not match the channels" 1 "pt26_sed_unet_op18.onnx|--mean" -- \
  "${P26[@]}" --mean 0.1,0.2
expect "empty image directory" 1 "emptydir" -- \
  predict --model "$PT26" --image "$T/emptydir" --out "$O"
expect "missing --mask file" 1 "nomask.png" -- "${E26[@]}" --class 0 --mask "$T/nomask.png"
expect "--mask array of a wrong shape" 1 "wrong.npy" -- "${E26[@]}" --class 0 --mask "$T/wrong.npy"
expect "missing --class-names file" 1 "names.txt" -- \
  "${E26[@]}" --class 0 --class-names "$T/names.txt"

# ---- .npy inputs -----------------------------------------------------------------------------
expect "npy of the wrong shape names file and shapes" 1 "wrong.npy|[5,6,7]|[1,1,224,224]" -- \
  explain --model "$PT26" --image "$T/wrong.npy" --class 0 --out "$O"
expect "truncated npy" 1 "short.npy" -- \
  explain --model "$PT26" --image "$T/short.npy" --class 0 --out "$O"
expect "--size that contradicts an .npy input" 1 "pt26_sed_unet_op18.input.npy|224x224|128x128" -- \
  explain --model "$PT26" --image "$SRC/tests/data/models/pt26_sed_unet_op18.input.npy" \
  --size 128x128 --class 0 --out "$O"

# ---- classes and layers ----------------------------------------------------------------------
expect "class out of range (binary model)" 1 "pt26_sed_unet_op18.onnx|class 3" -- \
  "${E26[@]}" --class 3
expect "class out of range (demo)" 1 "unet_shapes.onnx|class 9|0..3" -- "${EDEMO[@]}" --class 1,9
expect "class out of range (classifier)" 1 "tf2onnx_emotion_op15.onnx|class 7" -- \
  explain --model "$EMO" --image "$EMO_NPY" --class 7 --out "$O"
expect "unknown layer name" 1 "pt26_sed_unet_op18.onnx|no_such_layer" -- \
  "${E26[@]}" --class 0 --layer no_such_layer
expect "layer index out of range" 1 "pt26_sed_unet_op18.onnx|#999" -- \
  "${E26[@]}" --class 0 --layer '#999'
expect "layer without spatial axes" 1 "tf2onnx_emotion_op15.onnx|sequential/dense/Relu" -- \
  explain --model "$EMO" --image "$EMO_NPY" --class 0 --layer sequential/dense/Relu --out "$O"

# ---- sizes -----------------------------------------------------------------------------------
expect "--size 0x0" 2 "--size|0x0" -- "${EDEMO[@]}" --class 1 --size 0x0
expect "--size 100000x100000" 2 "--size|100000x100000" -- "${EDEMO[@]}" --class 1 \
  --size 100000x100000
expect "--size 30000x30000 (too many pixels)" 2 "--size|30000x30000" -- "${EDEMO[@]}" --class 1 \
  --size 30000x30000
expect "--size garbage" 2 "--size|big" -- layers "$DEMO_MODEL" --size big
expect "--size against a fixed input" 1 "pt26_sed_unet_op18.onnx|input" -- \
  "${P26[@]}" --size 64x64

# ---- option values ---------------------------------------------------------------------------
expect "--alpha 2" 2 "--alpha|2" -- "${E26[@]}" --class 0 --alpha 2
expect "--alpha abc" 2 "--alpha|abc" -- "${E26[@]}" --class 0 --alpha abc
expect "--alpha=-0.1" 2 "--alpha" -- "${E26[@]}" --class 0 --alpha=-0.1
expect "--class abc" 2 "--class|abc" -- "${E26[@]}" --class abc
expect "--class -1" 2 "--class" -- "${E26[@]}" --class -1
expect "--class 1,,2" 2 "--class" -- "${E26[@]}" --class 1,,2
expect "--class twice" 2 "--class" -- "${E26[@]}" --class 0 --class 0
expect "--method bogus" 2 "--method|bogus" -- "${E26[@]}" --class 0 --method bogus
expect "--colormap bogus" 2 "--colormap|bogus" -- "${E26[@]}" --class 0 --colormap bogus
expect "--normalize bogus" 2 "--normalize" -- "${E26[@]}" --class 0 --normalize bogus
expect "--upsample bogus" 2 "--upsample" -- "${E26[@]}" --class 0 --upsample bogus
expect "--region bogus" 2 "--region" -- "${E26[@]}" --class 0 --region bogus
expect "--mask with --region" 2 "--mask" -- "${E26[@]}" --class 0 --region all --mask "$SED_PNG"
expect "--scale 0" 2 "--scale" -- "${P26[@]}" --scale 0
expect "--std with a zero" 2 "--std" -- "${P26[@]}" --std 0
expect "--mean garbage" 2 "--mean" -- "${P26[@]}" --mean 1,x
expect "--channels bogus" 2 "--channels|bogus" -- "${P26[@]}" --channels bogus
expect "--layout bogus" 2 "--layout|bogus" -- "${P26[@]}" --layout bogus
expect "--threads 0" 2 "--threads" -- "${P26[@]}" --threads 0

# ---- usage -----------------------------------------------------------------------------------
expect "unknown command" 2 "frobnicate" -- frobnicate
expect "unknown option" 2 "--bogus|segcam explain --help" -- explain --bogus
expect "missing --model" 2 "--model|segcam predict --help" -- \
  predict --image "$SED_PNG" --out "$O"
expect "missing --class" 2 "--class" -- "${E26[@]}"
expect "missing --out" 2 "--out" -- explain --model "$PT26" --image "$SED_PNG" --class 0
expect "option without its value" 2 "--image" -- predict --model "$PT26" --out "$O" --image
expect "layers without a model" 2 "model" -- layers
expect "layers with an explain option" 2 "--alpha|segcam layers --help" -- \
  layers "$PT26" --alpha 0.5
expect "flag given a value" 2 "--probabilities" -- "${E26[@]}" --class 0 --probabilities=1

# ---- output directory ------------------------------------------------------------------------
: >"$T/afile"
expect "--out is a file" 1 "afile" -- predict --model "$PT26" --image "$SED_PNG" --out "$T/afile"

# ---- a directory with one bad file: the others are written, the bad one is named, exit 1 ------
name="directory with a corrupt file: others done, exit 1"
"$BIN" predict --model "$PT26" --image "$T/mixed" --out "$T/mixed_out" >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" -eq 1 ] && [ -s "$T/mixed_out/a.mask.png" ] && [ -s "$T/mixed_out/c.mask.png" ] &&
  [ ! -e "$T/mixed_out/b.mask.png" ] && [ "$(grep -c '^segcam: error: ' "$T/err")" -eq 1 ] &&
  grep -q '^segcam: error: .*b\.png' "$T/err" && grep -q '"error"' "$T/mixed_out/predict.json"
then
  ok "$name"
else
  bad "$name" "exit $rc: $(oneline "$T/err")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
