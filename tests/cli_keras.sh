#!/usr/bin/env bash
# The segcam command on Keras files (legacy .h5 and Keras 3 .keras): `layers` against the files'
# stored configs (Keras layer names in model order, classes, NHWC output shapes, counts and
# parameters as model.summary() gives them), predict and explain on the sample images and on .npy
# arrays, layers chosen by Keras name (also nested "outer/inner" and shared "name:1" ones),
# end-to-end agreement with the TensorFlow.js references in tests/data/keras, format detection by
# content, and the one-line errors for files segcam cannot run (tests/data/keras_bad, made by
# tools/make_keras_bad.py).  Files are checked with the shell alone, as in cli_basic.sh.  No
# Python or Node.
#
# Environment (set by ctest): SEGCAM_BIN (the binary), SEGCAM_SRC (source tree), SEGCAM_MODELS
# (../shared/models).  Prints one line per check and "N passed, M failed"; exits 1 on failure.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
cli_setup cli_keras

IMG=$MODELS/images
KREF=$SRC/tests/data/keras          # TensorFlow.js references for the real files
KLAYERS=$SRC/tests/data/keras_layers # small generated models (nested and shared layers)
KBAD=$SRC/tests/data/keras_bad       # files segcam must refuse
NUCLEI=$MODELS/k3132_nuclei_unet.h5
LAND=$MODELS/tfk215_land_unet7.h5
STEEL=$MODELS/k341_steel_unet4.keras
MNIST=$MODELS/k231_mnist_cnn.h5
DOC=$MODELS/tfk213_doc_denoise.h5
K38=$MODELS/k38_unet.keras
NUCLEI_PNG=$IMG/img_nuclei_04_3.png # RGBA 256x256
RGB_PNG=$IMG/img_sed_input_00050.png # RGB 224x224 (gray content)
SCENE=$SRC/examples/demo/scene3.png  # RGB 200x160, coloured
PT26=$MODELS/pt26_sed_unet_op18.onnx

pass=0
fail=0

le() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a <= b)}'; }
# The numbers of a JSON field over the file (one per line).
jnums() { sed -nE "s/.*\"$2\":[[:space:]]*(-?[0-9.e+-]+).*/\1/p" "$1"; }
jsum() { jnums "$1" "$2" | awk '{s += $1} END {print s + 0}'; }
pixel_sum() { jsum "$1" pixels; }
footer_params() { sed -nE 's/^[0-9]+ layers, ([0-9]+) parameters.*/\1/p' "$1"; }
# has_row FILE "INDEX NAME CLASS SHAPE": the table has exactly this row (columns 1-4).
has_row() { rows "$1" | awk '{print $1, $2, $3, $4}' | grep -qxF -- "$2"; }
# The table without its first line (the model path) -- to compare two copies of one model.
table() { tail -n +2 "$1"; }

# ---- layers: the real files against their stored configs --------------------------------------
# For each file: "<file> <rows> <parameters> <format>", then rows "index name class shape".
# Names, classes and shapes are model.summary()'s, from the configs stored in the files:
#   /usr/bin/python3 tools/make_keras_bad.py --summary ../shared/models/<file>
# (a static shape inference over the config written from the Keras definitions, cross-checked
# against the shapes Keras 3 configs record; segcam is not involved).  Keras prints
# (None, h, w, c), segcam [1,h,w,c]: batch 1, Keras axis order.  A Functional model's rows are
# model.summary()'s one for one (its InputLayer included).  model.summary() of a Sequential
# model does not list the input; segcam lists it anyway, as row 0 named as Keras names the model
# input (an InputLayer entry of the config, else "<first layer>_input"), so the rows of the two
# Sequential files here (k208, k231_mnist_cnn) are model.summary()'s shifted by one, and their
# row count is the config's layer count + 1.  Parameters: the number of weights the file stores
# (model.summary()'s "Total params"), counted with h5py over /model_weights and the .keras
# model.weights.h5 datasets.
EXPECT='
k208_lane_fcn.h5 32 181693 keras-h5
  0 batch_normalization_1_input InputLayer [1,80,160,3]
  1 batch_normalization_1 BatchNormalization [1,80,160,3]
  2 Conv1 Conv2D [1,78,158,8]
  15 dropout_5 Dropout [1,12,32,64]
  18 Deconv1 Conv2DTranspose [1,14,34,64]
  29 up_sampling2d_3 UpSampling2D [1,76,156,16]
  31 Final Conv2DTranspose [1,80,160,1]
k224_unet_gen.h5 17 107507 keras-h5
  0 input_1 InputLayer [1,64,64,3]
  7 conv2d_8 Conv2D [1,8,8,64]
  9 concatenate_1 Concatenate [1,16,16,128]
  16 conv2d_11 Conv2D [1,64,64,3]
k231_mnist_cnn.h5 9 93322 keras-h5
  0 conv2d_1_input InputLayer [1,28,28,1]
  1 conv2d_1 Conv2D [1,26,26,32]
  5 conv2d_3 Conv2D [1,3,3,64]
  6 flatten_1 Flatten [1,576]
  8 dense_2 Dense [1,10]
k231_unet_mnist.h5 28 90567 keras-h5
  0 input_1 InputLayer [1,28,28,1]
  15 conv2d_transpose_1 Conv2DTranspose [1,14,14,28]
  16 concatenate_1 Concatenate [1,14,14,56]
  20 batch_normalization_8 BatchNormalization [1,14,14,28]
  27 conv2d_11 Conv2D [1,28,28,1]
k3132_nuclei_unet.h5 15 69489 keras-h5
  0 input_layer InputLayer [1,256,256,1]
  7 conv2d_4 Conv2D [1,64,64,64]
  9 concatenate Concatenate [1,128,128,96]
  10 conv2d_5 Conv2D [1,128,128,32]
  14 conv2d_7 Conv2D [1,256,256,1]
k341_steel_unet4.keras 77 197412 keras-zip
  0 input_layer InputLayer [1,256,256,3]
  3 activation Activation [1,256,256,32]
  4 dropout Dropout [1,256,256,32]
  39 activation_9 Activation [1,16,16,32]
  68 concatenate_3 Concatenate [1,256,256,64]
  76 conv2d_18 Conv2D [1,256,256,4]
k38_unet.keras 16 53633 keras-zip
  0 input_layer_1 InputLayer [1,128,128,3]
  1 conv2d_9 Conv2D [1,128,128,16]
  6 max_pooling2d_3 MaxPooling2D [1,32,32,32]
  10 conv2d_14 Conv2D [1,64,64,32]
  15 conv2d_17 Conv2D [1,128,128,1]
tfk213_doc_denoise.h5 10 56337 keras-h5
  0 input_1 InputLayer [1,420,540,1]
  4 Max_Pool_Layer_3 MaxPooling2D [1,210,270,64]
  6 Conv_Transpose_Layer_5 Conv2DTranspose [1,210,270,64]
  7 Conv-Transpose_Layer_6 Conv2DTranspose [1,210,270,32]
  9 Conv_Layer_8 Conv2D [1,420,540,1]
tfk215_land_unet7.h5 18 118375 keras-h5
  0 input_1 InputLayer [1,64,64,3]
  8 conv2d_5 Conv2D [1,16,16,64]
  14 concatenate_1 Concatenate [1,64,64,48]
  17 conv2d_10 Conv2D [1,64,64,7]
tfk24_unet_leaky.hdf5 21 16385 keras-h5
  0 input_1 InputLayer [1,512,512,1]
  2 leaky_re_lu LeakyReLU [1,512,512,16]
  17 add Add [1,512,512,16]
  20 activation Activation [1,512,512,1]
'
L=
while read -r a b c d; do
  case "$a" in
  '') continue ;;
  *.h5 | *.keras | *.hdf5)
    m=${a%.*}
    L=$T/layers_$m
    run_ok "layers $a" layers "$MODELS/$a"
    cp "$T/out" "$L"
    check "layers $m: $b rows" test "$(rows "$L" | wc -l)" -eq "$b"
    check "layers $m: footer says $b layers" test "$(footer_count "$L")" = "$b"
    check "layers $m: $c parameters (the weights in the file)" test "$(footer_params "$L")" = "$c"
    check "layers $m: format $d in the header" grep -q "^model: .*$a ($d)\$" "$L"
    check "layers $m: NHWC input in the header" grep -qE "^input: '[^']+' \[-1,.*\] NHWC" "$L"
    check "layers $m: exactly one default mark" test "$(n_default "$L")" -eq 1
    check "layers $m: indices 0..$((b - 1)) in order" \
      test "$(rows "$L" | awk '$1 != NR - 1 {bad = 1} END {print bad + 0}')" -eq 0
    check "layers $m: every shape is batch 1" \
      test "$(rows "$L" | awk '$4 !~ /^\[1,/' | wc -l)" -eq 0
    ;;
  *) check "layers $m: row $a $b $c $d" has_row "$L" "$a $b $c $d" ;;
  esac
done <<<"$EXPECT"
# the header names the input as the row 0 InputLayer does
check "layers k231_mnist_cnn: input named conv2d_1_input" \
  grep -q "^input: 'conv2d_1_input' \[-1,28,28,1\] NHWC" "$T/layers_k231_mnist_cnn"
check "layers k341_steel_unet4: input_layer [-1,256,256,3]" \
  grep -q "^input: 'input_layer' \[-1,256,256,3\] NHWC" "$T/layers_k341_steel_unet4"
# the classifier: its Dense head produces the output, the default is the last Conv2D
check "layers k231_mnist_cnn: dense_2 marked output" \
  grep -qE '^ +8  dense_2 .* output$' "$T/layers_k231_mnist_cnn"
check "layers k231_mnist_cnn: default is conv2d_3" \
  grep -q '^default layer: #5 conv2d_3 ' "$T/layers_k231_mnist_cnn"

# The input is row 0 whatever the model: an InputLayer named as Keras names the model input, also
# for a channels_first input (no NHWC transpose behind it) and for Sequential configs with and
# without an InputLayer entry (tf.keras 2.15 "conv2d_input"; Keras 2.1.6 bare list: Keras's
# "<first layer>_input" name) -- the two Sequential files give the same table.
for f in "$KLAYERS"/*.h5 "$KLAYERS"/*.keras; do
  run layers "$f"
  check "layers $(basename "$f"): row 0 is an InputLayer" \
    test "$(rows "$T/out" | awk 'NR == 1 {print $1, $3}')" = "0 InputLayer"
done
run_ok "layers channels_first.h5" layers "$KLAYERS/channels_first.h5"
check "layers channels_first: row 0 input_1 InputLayer [1,3,13,11]" \
  has_row "$T/out" "0 input_1 InputLayer [1,3,13,11]"
# 8 = len(config.layers): /usr/bin/python3 -c "import h5py, json; print(len(json.loads(h5py.File(
#   'tests/data/keras_layers/channels_first.h5').attrs['model_config'])['config']['layers']))"
check "layers channels_first: 8 rows, the config's 8 layers" test "$(footer_count "$T/out")" = 8
run_ok "layers sequential.h5 (InputLayer entry)" layers "$KLAYERS/sequential.h5"
cp "$T/out" "$T/layers_seq"
check "layers sequential.h5: row 0 conv2d_input" \
  has_row "$T/layers_seq" "0 conv2d_input InputLayer [1,13,11,3]"
run_ok "layers sequential.k216.h5 (bare list)" layers "$KLAYERS/sequential.k216.h5"
check "layers sequential: bare list = InputLayer entry" cmp -s <(table "$T/out") \
  <(table "$T/layers_seq")

# Nested models and shared layers (tests/data/keras_layers/nested_shared: a Functional
# "backbone" of bb_conv, bb_bn, bb_relu, bb_conv2 used as a layer, and a 1x1 Conv2D "shared"
# called twice): nested layers are "outer/inner", the nested model's own row is its output, and
# the second call of a shared layer is "shared:1".  The .h5 and the .keras list the same table.
NS_H5=$KLAYERS/nested_shared.h5
NS_K=$KLAYERS/nested_shared.keras
run_ok "layers nested_shared.h5" layers "$NS_H5"
cp "$T/out" "$T/layers_ns_h5"
for r in "1 backbone/bb_conv Conv2D [1,13,11,4]" "3 backbone/bb_relu ReLU [1,13,11,4]" \
  "4 backbone/bb_conv2 Conv2D [1,7,6,4]" "5 backbone Functional [1,7,6,4]" \
  "8 shared Conv2D [1,7,6,4]" "9 shared:1 Conv2D [1,7,6,4]" "10 add Add [1,7,6,4]"; do
  check "layers nested_shared: row $r" has_row "$T/layers_ns_h5" "$r"
done
run_ok "layers nested_shared.keras" layers "$NS_K"
check "layers nested_shared: .keras table = .h5 table" cmp -s <(table "$T/out") \
  <(table "$T/layers_ns_h5")

# ---- predict and explain on pictures -----------------------------------------------------------
# k3132_nuclei_unet: 256x256x1, sigmoid output; the RGBA sample is converted to gray/255
O=$T/nuclei
run_ok "predict nuclei (RGBA PNG -> gray)" predict --model "$NUCLEI" --image "$NUCLEI_PNG" \
  --save-input --out "$O"
check "predict nuclei: mask 256x256" test "$(png_wh "$O/img_nuclei_04_3.mask.png")" = "256 256"
check "predict nuclei: labels written" test -s "$O/img_nuclei_04_3.labels.png"
check "predict nuclei: binary output, 2 labels" test "$(grep -c '"pixels"' "$O/predict.json")" -eq 2
check "predict nuclei: counts sum to 256*256" test "$(pixel_sum "$O/predict.json")" -eq 65536
check "predict nuclei: format keras-h5" jhas "$O/predict.json" format '"keras-h5"'
check "predict nuclei: gray channels chosen from the model" jhas "$O/predict.json" channels '"gray"'
check "predict nuclei: NHWC input shape" jhas "$O/predict.json" input_shape '\[1, 256, 256, 1\]'
# the preprocessed PNG equals the reference input (gray = 0.299R + 0.587G + 0.114B, /255)
check "nuclei: preprocessed PNG = reference input" \
  cmp -s "$O/img_nuclei_04_3.input.npy" "$KREF/k3132_nuclei_unet.input.npy"
run_ok "explain nuclei --class 0" explain --model "$NUCLEI" --image "$NUCLEI_PNG" --class 0 \
  --out "$O"
for f in overlay.png heatmap.png; do
  check "explain nuclei: $f 256x256" \
    test "$(png_wh "$O/img_nuclei_04_3.class0.$f")" = "256 256"
done
check "explain nuclei: map [256, 256] <f4" \
  test "$(npy_shape "$O/img_nuclei_04_3.class0.npy")" = "256,256"
check "explain nuclei: map is float32" npy_is_f4 "$O/img_nuclei_04_3.class0.npy"
check "explain nuclei: summary names the Keras default layer conv2d_5" \
  jhas "$O/summary.json" name '"conv2d_5"'
check "explain nuclei: layer type Conv2D" jhas "$O/summary.json" type '"Conv2D"'
check "explain nuclei: layer shape NHWC" jhas "$O/summary.json" shape '\[1, 128, 128, 32\]'
check "explain nuclei: binary output" jhas "$O/summary.json" kind '"binary"'
check "explain nuclei: final sigmoid found" jhas "$O/summary.json" final_activation '"sigmoid"'
check "explain nuclei: region of 541 pixels (as the reference)" \
  jhas "$O/summary.json" region_pixels '541,'
run_ok "explain nuclei --mask (ground truth)" explain --model "$NUCLEI" --image "$NUCLEI_PNG" \
  --class 0 --mask "$IMG/img_nuclei_04_3_mask.png" --out "$O/mask"
check "explain nuclei --mask: region mode mask" jhas "$O/mask/summary.json" mode '"mask"'
check "explain nuclei --mask: region not empty" jhas "$O/mask/summary.json" region_pixels '[1-9]'

# tfk215_land_unet7: 64x64x3, 7 classes (softmax fused into the last Conv2D); the 200x160 RGB
# demo scene is resized to 64x64 and the maps come back at 200x160 (H 160, W 200)
O=$T/land
seq 0 6 | sed 's/^/land_/' >"$T/land_names.txt"
run_ok "predict land (7 classes, resized)" predict --model "$LAND" --image "$SCENE" --out "$O"
check "predict land: 7 labels listed" test "$(grep -c '"pixels"' "$O/predict.json")" -eq 7
check "predict land: counts sum to 200*160" test "$(pixel_sum "$O/predict.json")" -eq 32000
check "predict land: mask at the image size" test "$(png_wh "$O/scene3.mask.png")" = "200 160"
run_ok "explain land --class all" explain --model "$LAND" --image "$SCENE" --class all \
  --class-names "$T/land_names.txt" --out "$O"
check "explain land: 7 maps" test "$(ls "$O"/scene3.class*.npy | wc -l)" -eq 7
check "explain land: 21 pictures and maps" test "$(ls "$O"/scene3.class* | wc -l)" -eq 21
for k in 0 6; do
  check "explain land: class $k map [160, 200]" \
    test "$(npy_shape "$O/scene3.class$k.npy")" = "160,200"
  check "explain land: class $k overlay 200x160" \
    test "$(png_wh "$O/scene3.class$k.overlay.png")" = "200 160"
done
check "explain land: multiclass, 7 classes" jhas "$O/summary.json" classes '7'
check "explain land: final softmax found" jhas "$O/summary.json" final_activation '"softmax"'
check "explain land: the predicted regions partition the 64x64 output" \
  test "$(jsum "$O/summary.json" region_pixels)" -eq 4096
check "explain land: class names used" jhas "$O/summary.json" name '"land_6"'
check "explain land: one printed line per class" \
  test "$(grep -c 'class [0-6] (land_[0-6]):' "$T/out")" -eq 7

# k341_steel_unet4 (.keras): 256x256x3, 4 classes, trained on OpenCV BGR /255; the coloured
# 256x256 RGBA nuclei picture (alpha dropped) needs no resize
O=$T/steel
run_ok "predict steel --channels bgr" predict --model "$STEEL" --image "$NUCLEI_PNG" \
  --channels bgr --save-input --out "$O/bgr"
check "predict steel: format keras-zip" jhas "$O/bgr/predict.json" format '"keras-zip"'
check "predict steel: bgr recorded" jhas "$O/bgr/predict.json" channels '"bgr"'
check "predict steel: 4 labels" test "$(grep -c '"pixels"' "$O/bgr/predict.json")" -eq 4
check "predict steel: counts sum to 256*256" test "$(pixel_sum "$O/bgr/predict.json")" -eq 65536
run_ok "predict steel (default rgb)" predict --model "$STEEL" --image "$NUCLEI_PNG" --save-input \
  --out "$O/rgb"
check "steel: saved input [1, 256, 256, 3]" \
  test "$(npy_shape "$O/bgr/img_nuclei_04_3.input.npy")" = "1,256,256,3"
# element i*3+c of the NHWC input: bgr channel 0 = rgb channel 2 and so on, and the sample is
# not gray (R differs from B somewhere), so the swap is visible
swap=$(paste <(npy_data "$O/rgb/img_nuclei_04_3.input.npy") \
  <(npy_data "$O/bgr/img_nuclei_04_3.input.npy") |
  awk '{a[NR % 3] = $1; b[NR % 3] = $2}
       NR % 3 == 0 {n++; if (a[1] != b[0] || a[2] != b[2] || a[0] != b[1]) bad++;
                    if (a[1] != a[0]) color++}
       END {print n + 0, bad + 0, color + 0}')
check "steel: --channels bgr reverses the channels of every pixel ($swap)" \
  awk -v s="$swap" 'BEGIN {split(s, v, " "); exit !(v[1] == 65536 && v[2] == 0 && v[3] > 0)}'
run_ok "explain steel --class 0,2 --channels bgr" explain --model "$STEEL" \
  --image "$NUCLEI_PNG" --channels bgr --class 0,2 --out "$O/ex"
check "explain steel: class 2 map [256, 256]" \
  test "$(npy_shape "$O/ex/img_nuclei_04_3.class2.npy")" = "256,256"
check "explain steel: default layer activation_15" \
  jhas "$O/ex/summary.json" name '"activation_15"'

# k231_mnist_cnn: a classifier ([1, 10]); the 151x161 palette PNG is resized to 28x28 gray
O=$T/mnist
run_ok "predict mnist (classifier)" predict --model "$MNIST" \
  --image "$IMG/img_mnist_digit_test.png" --out "$O"
check "predict mnist: prints the class and 10 scores" \
  grep -qE 'class [0-9], scores \(softmax probabilities\):( [-0-9.e]+){10}$' "$T/out"
check "predict mnist: no mask for a classifier" test ! -e "$O/img_mnist_digit_test.mask.png"
run_ok "explain mnist --class 3" explain --model "$MNIST" --image "$IMG/img_mnist_digit_test.png" \
  --class 3 --out "$O"
check "explain mnist: map at the image size [161, 151]" \
  test "$(npy_shape "$O/img_mnist_digit_test.class3.npy")" = "161,151"
check "explain mnist: overlay 151x161" \
  test "$(png_wh "$O/img_mnist_digit_test.class3.overlay.png")" = "151 161"
check "explain mnist: kind classifier" jhas "$O/summary.json" kind '"classifier"'
check "explain mnist: energy null" jhas "$O/summary.json" energy_in_region null
check "explain mnist: default layer conv2d_3" jhas "$O/summary.json" name '"conv2d_3"'

# tfk213_doc_denoise: 420x540x1 image-to-image (sigmoid); the page is exactly that size
O=$T/doc
run_ok "explain doc --class 0 --save-input" explain --model "$DOC" \
  --image "$IMG/img_doc_test_145.png" --class 0 --save-input --out "$O"
check "doc: preprocessed PNG = reference input" \
  cmp -s "$O/img_doc_test_145.input.npy" "$KREF/tfk213_doc_denoise.input.npy"
check "explain doc: map [420, 540]" test "$(npy_shape "$O/img_doc_test_145.class0.npy")" = "420,540"
check "explain doc: heatmap 540x420" \
  test "$(png_wh "$O/img_doc_test_145.class0.heatmap.png")" = "540 420"
check "explain doc: the Keras layer Conv_Layer_4" jhas "$O/summary.json" name '"Conv_Layer_4"'
check "explain doc: region of 226789 pixels (as the reference)" \
  jhas "$O/summary.json" region_pixels '226789,'

# ---- .npy inputs (NHWC) ------------------------------------------------------------------------
O=$T/npy
SNPY=$KREF/k341_steel_unet4.input.npy # [1, 256, 256, 3]
npy_reshape "$SNPY" "(256, 256, 3)" >"$T/steel_hwc.npy"
run_ok "explain steel [1,H,W,C] .npy" explain --model "$STEEL" --image "$SNPY" --class 0 \
  --out "$O"
run_ok "explain steel [H,W,C] .npy" explain --model "$STEEL" --image "$T/steel_hwc.npy" \
  --class 0 --out "$O"
check "steel .npy: map [256, 256]" test "$(npy_shape "$O/steel_hwc.class0.npy")" = "256,256"
check "steel .npy: [H,W,C] and [1,H,W,C] give the same map" \
  cmp -s "$O/steel_hwc.class0.npy" "$O/k341_steel_unet4.input.class0.npy"
check "steel .npy: kind npy" jhas "$O/summary.json" kind '"npy"'
NNPY=$KREF/k3132_nuclei_unet.input.npy # [1, 256, 256, 1]
npy_reshape "$NNPY" "(256, 256)" >"$T/nuclei_hw.npy"
run_ok "explain nuclei [H,W] .npy" explain --model "$NUCLEI" --image "$T/nuclei_hw.npy" \
  --class 0 --out "$O"
run_ok "explain nuclei [1,H,W,1] .npy" explain --model "$NUCLEI" --image "$NNPY" --class 0 \
  --out "$O"
check "nuclei .npy: [H,W] and [1,H,W,1] give the same map" \
  cmp -s "$O/nuclei_hw.class0.npy" "$O/k3132_nuclei_unet.input.class0.npy"
check "nuclei .npy = the same picture as PNG: same map" \
  cmp -s "$O/k3132_nuclei_unet.input.class0.npy" "$T/nuclei/img_nuclei_04_3.class0.npy"

# ---- choosing the layer ------------------------------------------------------------------------
O=$T/layer
EXN=(explain --model "$NUCLEI" --image "$NNPY" --class 0)
run_ok "explain --layer conv2d_4 (Keras name)" "${EXN[@]}" --layer conv2d_4 --out "$O/name"
check "--layer conv2d_4: summary names it" jhas "$O/name/summary.json" name '"conv2d_4"'
check "--layer conv2d_4: shape [1, 64, 64, 64]" \
  jhas "$O/name/summary.json" shape '\[1, 64, 64, 64\]'
check "--layer conv2d_4: low-resolution map 64x64" \
  jhas "$O/name/summary.json" low_res_shape '\[64, 64\]'
run_ok "explain --layer '#7'" "${EXN[@]}" --layer '#7' --out "$O/index"
check "--layer #7 = conv2d_4" cmp -s "$O/index/k3132_nuclei_unet.input.class0.npy" \
  "$O/name/k3132_nuclei_unet.input.class0.npy"
run_ok "explain --layer bottleneck" "${EXN[@]}" --layer bottleneck --out "$O/bottleneck"
check "--layer bottleneck = conv2d_4" jhas "$O/bottleneck/summary.json" name '"conv2d_4"'
run_ok "explain --layer max_pooling2d_1 (a pooling layer)" "${EXN[@]}" --layer max_pooling2d_1 \
  --out "$O/pool"
check "--layer max_pooling2d_1: 64x64" jhas "$O/pool/summary.json" low_res_shape '\[64, 64\]'
# nested and shared layer names, and the same layer in the .h5 and the .keras
NSNPY=$KLAYERS/nested_shared.input.npy
for ly in backbone/bb_relu shared:1 backbone; do
  d=$O/ns_$(echo "$ly" | tr '/:' '__')
  run_ok "explain nested_shared.h5 --layer $ly" explain --model "$NS_H5" --image "$NSNPY" \
    --class 0 --region all --layer "$ly" --out "$d/h5"
  check "--layer $ly: summary names it" jhas "$d/h5/summary.json" name "\"$ly\""
  run_ok "explain nested_shared.keras --layer $ly" explain --model "$NS_K" --image "$NSNPY" \
    --class 0 --region all --layer "$ly" --out "$d/k"
  dd=$(max_abs_diff "$d/h5/nested_shared.input.class0.npy" "$d/k/nested_shared.input.class0.npy")
  check "--layer $ly: .h5 and .keras maps agree (max |diff| $dd <= 1e-6)" le "$dd" 1e-6
done
check "--layer shared:1 is the second call (#9)" \
  jhas "$O/ns_shared_1/h5/summary.json" index '9,'

# ---- every method and option on a Keras model --------------------------------------------------
O=$T/opts
for m in gradcam hirescam gradcam-elementwise xgradcam layercam gradcam++; do
  run_ok "explain nuclei --method $m" "${EXN[@]}" --method "$m" --out "$O/$m"
  check "--method $m: map [256, 256]" \
    test "$(npy_shape "$O/$m/k3132_nuclei_unet.input.class0.npy")" = "256,256"
done
run_ok "explain k38 (.keras) with every option" explain --model "$K38" \
  --image "$KREF/k38_unet.input.npy" --class 0 --probabilities --region all --upsample bicubic \
  --normalize none --colormap viridis --alpha 0.25 --threads 1 --out "$O/all"
check "every option: target probabilities" jhas "$O/all/summary.json" target '"probabilities"'
check "every option: region all" jhas "$O/all/summary.json" region_pixels '16384,'
check "every option: bicubic" jhas "$O/all/summary.json" upsample '"bicubic"'
# a directory mixing a PNG and a .npy
D=$T/dir
mkdir -p "$D"
cp "$NUCLEI_PNG" "$D/a_png.png"
cp "$NNPY" "$D/b_npy.npy"
run_ok "explain nuclei on a directory" explain --model "$NUCLEI" --image "$D" --class 0 \
  --out "$O/dir"
check "directory: two maps" test "$(ls "$O/dir"/*.class0.npy | wc -l)" -eq 2
check "directory: the PNG and the .npy give the same map" \
  cmp -s "$O/dir/a_png.class0.npy" "$O/dir/b_npy.class0.npy"

# ---- agreement with the TensorFlow.js references (tests/data/keras) ----------------------------
# cams.txt: model_file layer_name class region_pixels node_name file_stem score low_h low_w.
# The reference input of every real file, explained at the reference layer (by its Keras name):
# the predicted region's size |M| equal to the reference's, except where the reference output has
# near-ties (tfk215: 20 of its 62 pixels are within 1e-4 of another class, so +-20; steel: pixel
# 498 is an exact float32 tie between classes 0 and 2, so +-1); then, with the reference region
# given as --mask so that ties cannot move it, S within 1e-4 relative, the low-resolution map's
# size, and the map within 1e-4 where .cam.npy exists.
O=$T/refs
while read -r model _ cls pixels node stem score lh lw; do
  case "$model" in '#'* | '') continue ;; esac
  f=$(basename "$model")
  name=${f%.*}
  run_ok "$name @ $node: explain the reference input" explain --model "$MODELS/$f" \
    --image "$KREF/$name.input.npy" --class "$cls" --layer "$node" --out "$O/$stem"
  S=$O/$stem/summary.json
  got=$(jnums "$S" region_pixels | head -1)
  tol=0
  [ "$name" = tfk215_land_unet7 ] && tol=20
  [ "$name" = k341_steel_unet4 ] && tol=1
  check "$name @ $node: region of $pixels pixels (got ${got:-none})" \
    awk -v g="${got:-x}" -v w="$pixels" -v t="$tol" \
    'BEGIN {d = g - w; if (d < 0) d = -d; exit !(g ~ /^[0-9]+$/ && d <= t)}'
  if [ -f "$KREF/$stem.region.npy" ]; then
    run_ok "$name @ $node: explain with the reference region" explain --model "$MODELS/$f" \
      --image "$KREF/$name.input.npy" --class "$cls" --layer "$node" \
      --mask "$KREF/$stem.region.npy" --out "$O/$stem.mask"
    S=$O/$stem.mask/summary.json
    check "$name @ $node: --mask region of $pixels pixels" jhas "$S" region_pixels "$pixels,"
  fi
  gs=$(jnums "$S" score | head -1)
  check "$name @ $node: S = $score (got ${gs:-none})" \
    awk -v g="${gs:-x}" -v w="$score" \
    'BEGIN {d = g - w; if (d < 0) d = -d; a = w < 0 ? -w : w; exit !(g != "x" && d <= 1e-4 * a)}'
  check "$name @ $node: layer ${lh}x$lw" jhas "$S" low_res_shape "\\[$lh, $lw\\]"
  if [ -f "$KREF/$stem.cam.npy" ]; then
    d=$(max_abs_diff "$(dirname "$S")/$name.input.class$cls.npy" "$KREF/$stem.cam.npy")
    check "$name @ $node: map = reference (max |diff| $d <= 1e-4)" le "$d" 1e-4
  fi
done <"$KREF/cams.txt"

# ---- the format comes from the content, not the name -------------------------------------------
O=$T/names
mkdir -p "$O"
cp "$NUCLEI" "$O/model.onnx"
cp "$PT26" "$O/model.h5"
cp "$K38" "$O/k38.h5"
cp "$NUCLEI" "$O/nuclei_no_extension"
run_ok "layers nuclei copied to model.onnx" layers "$O/model.onnx"
check "model.onnx (an .h5 inside): format keras-h5" grep -q '^model: .*model.onnx (keras-h5)$' \
  "$T/out"
check "model.onnx: same table as the original" cmp -s <(table "$T/out") \
  <(table "$T/layers_k3132_nuclei_unet")
run_ok "layers nuclei without an extension" layers "$O/nuclei_no_extension"
check "no extension: same table as the original" cmp -s <(table "$T/out") \
  <(table "$T/layers_k3132_nuclei_unet")
run_ok "layers k38 (.keras) copied to k38.h5" layers "$O/k38.h5"
check "k38.h5 (a .keras inside): format keras-zip" grep -q '^model: .*k38.h5 (keras-zip)$' "$T/out"
check "k38.h5: same table as the original" cmp -s <(table "$T/out") <(table "$T/layers_k38_unet")
run_ok "layers pt26 (original)" layers "$PT26"
cp "$T/out" "$T/layers_pt26"
run_ok "layers pt26 copied to model.h5" layers "$O/model.h5"
check "model.h5 (an ONNX inside): format onnx" grep -q '^model: .*model.h5 (onnx)$' "$T/out"
check "model.h5: same table as the original" cmp -s <(table "$T/out") <(table "$T/layers_pt26")
run_ok "explain with the renamed Keras model" explain --model "$O/model.onnx" --image "$NNPY" \
  --class 0 --out "$O/ex"
check "renamed model: same map as the original" cmp -s \
  "$O/ex/k3132_nuclei_unet.input.class0.npy" "$T/npy/k3132_nuclei_unet.input.class0.npy"

# ---- files segcam cannot run: one error line naming the file (and the layer), what to do -------
head -c 5000 "$MNIST" >"$T/truncated.h5"
head -c $(($(stat -c %s "$NUCLEI") - 4096)) "$NUCLEI" >"$T/tail_cut.h5"
head -c 5000 "$K38" >"$T/truncated.keras"
expect "weights-only .h5: save the full model" 1 \
  "neg_weights_only_unet.h5|weights-only|save the full model" -- \
  layers "$MODELS/neg_weights_only_unet.h5"
expect "weights-only .h5 (explain)" 1 "neg_weights_only_unet.h5|weights-only" -- \
  explain --model "$MODELS/neg_weights_only_unet.h5" --image "$NUCLEI_PNG" --class 0 --out "$T/e"
expect "Keras 3 .weights.h5: save the full model" 1 \
  "k3_weights.weights.h5|Keras 3 weights file|model.save" -- layers "$KBAD/k3_weights.weights.h5"
expect "PyTorch ZIP named .h5" 1 "neg_torch_zip_as_h5.h5|PyTorch|torch.onnx.export" -- \
  layers "$MODELS/neg_torch_zip_as_h5.h5"
expect "truncated .h5 (first 5000 bytes)" 1 "truncated.h5|truncated or corrupt" -- \
  layers "$T/truncated.h5"
expect "truncated .h5 (last 4 KB missing)" 1 "tail_cut.h5|truncated or corrupt" -- \
  predict --model "$T/tail_cut.h5" --image "$NUCLEI_PNG" --out "$T/e"
expect "truncated .keras" 1 "truncated.keras|truncated or corrupt" -- layers "$T/truncated.keras"
expect ".keras without config.json" 1 "no_config.keras|without config.json" -- \
  layers "$KBAD/no_config.keras"
# corrupt files on which libhdf5 itself crashes (tests/data/h5_corrupt, SIGSEGV without the
# probe): the load runs first in a child process (src/load/h5_probe.c), so each is one error line
# and exit status 1, not a signal (>= 128)
n_corrupt=0
for f in "$SRC"/tests/data/h5_corrupt/*.h5 "$SRC"/tests/data/h5_corrupt/*.keras; do
  b=$(basename "$f")
  expect "libhdf5 crash refused: $b" 1 "$b|corrupt HDF5 file|the HDF5 library crashed" -- \
    layers "$f"
  n_corrupt=$((n_corrupt + 1))
done
check "tests/data/h5_corrupt holds at least 4 files" test "$n_corrupt" -ge 4
expect "libhdf5 crash refused (predict, .keras)" 1 \
  "keras_vars_name_heap_index_segv.keras|model.weights.h5|corrupt HDF5 file" -- \
  predict --model "$SRC/tests/data/h5_corrupt/keras_vars_name_heap_index_segv.keras" \
  --image "$RGB_PNG" --out "$T/e"
# a 1-D (signal) model: layers lists it; predict and explain take images, so they refuse it
run_ok "layers of a 1-D model (conv1d.h5)" layers "$KLAYERS/conv1d.h5"
expect "predict refuses a 1-D model" 1 "conv1d.h5|a 1-D (signal) model|input 'input_1'" -- \
  predict --model "$KLAYERS/conv1d.h5" --image "$KLAYERS/conv1d.input.npy" --out "$T/e"
expect "explain refuses a 1-D model" 1 "conv1d.keras|a 1-D (signal) model" -- \
  explain --model "$KLAYERS/conv1d.keras" --image "$KLAYERS/conv1d.input.npy" --class 0 \
  --out "$T/e"
# the probe's time limit: no load finishes within a microsecond
SEGCAM_H5_PROBE_TIMEOUT=0.000001 expect "HDF5 probe time limit" 1 \
  "pooling.h5|did not finish reading it within 1e-06 s" -- layers "$KLAYERS/pooling.h5"
if command -v zip >/dev/null; then
  cp "$K38" "$T/k38_nocfg.keras"
  zip -q -d "$T/k38_nocfg.keras" config.json
  expect "k38 with config.json deleted (zip -d)" 1 "k38_nocfg.keras|without config.json" -- \
    layers "$T/k38_nocfg.keras"
else
  echo "skip k38 with config.json deleted (no zip; tests/data/keras_bad/no_config.keras covers it)"
fi
expect "Lambda layer (.h5): names the layer, says what to do" 1 \
  "lambda.h5|layer 'lambda' (Lambda)|Python bytecode|built-in layers|ONNX" -- \
  layers "$KBAD/lambda.h5"
expect "Lambda layer (.keras)" 1 "lambda.keras|layer 'lambda' (Lambda)|Python bytecode" -- \
  explain --model "$KBAD/lambda.keras" --image "$RGB_PNG" --class 0 --out "$T/e"
expect "custom class (.h5)" 1 \
  "custom_layer.h5|layer 'my_custom_layer' (MyCustomLayer)|custom|export the model to ONNX" -- \
  layers "$KBAD/custom_layer.h5"
expect "custom class (.keras, registered name)" 1 \
  "custom_layer.keras|layer 'my_custom_layer' (MyCustomLayer)|MyLayers>MyCustomLayer|ONNX" -- \
  predict --model "$KBAD/custom_layer.keras" --image "$RGB_PNG" --out "$T/e"
expect "custom activation function" 1 \
  "custom_activation.h5|layer 'conv2d' (Conv2D)|'my_swish'|export it to ONNX" -- \
  layers "$KBAD/custom_activation.h5"
expect "Theano backend" 1 "theano.h5|Theano|flipped|TensorFlow backend and save it again" -- \
  layers "$KBAD/theano.h5"
expect "Keras 1 file" 1 "keras1.h5|Keras 1|re-save it with Keras 2 or 3" -- layers "$KBAD/keras1.h5"
expect "subclassed model (.keras)" 1 "subclassed.keras|'MyUNet'|subclassed|ONNX" -- \
  layers "$KBAD/subclassed.keras"
cp "$KBAD/lambda.h5" "$T/lambda_named.onnx"
expect "Lambda .h5 named .onnx: still read as Keras" 1 "lambda_named.onnx|layer 'lambda' (Lambda)" \
  -- layers "$T/lambda_named.onnx"
# errors of the command on Keras models
{
  printf '\223NUMPY\001\000\166\000'
  printf '%-117s\n' "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 256, 256), }"
  head -c $((4 * 3 * 256 * 256)) /dev/zero
} >"$T/nchw.npy"
expect "NCHW .npy for an NHWC Keras model: names the fitting shapes" 1 \
  "nchw.npy|[1,3,256,256]|k341_steel_unet4.keras|[1,256,256,3]" -- \
  explain --model "$STEEL" --image "$T/nchw.npy" --class 0 --out "$T/e"
expect "class out of range (7-class Keras model)" 1 "tfk215_land_unet7.h5|class 7|0..6" -- \
  explain --model "$LAND" --image "$RGB_PNG" --class 7 --out "$T/e"
expect "unknown Keras layer name" 1 "k3132_nuclei_unet.h5|conv2d_99" -- \
  "${EXN[@]}" --layer conv2d_99 --out "$T/e"
expect "Dense layer without spatial axes" 1 "k231_mnist_cnn.h5|dense_1|no spatial axes" -- \
  explain --model "$MNIST" --image "$IMG/img_mnist_digit_test.png" --class 3 --layer dense_1 \
  --out "$T/e"
expect "--size against a fixed Keras input" 1 "tfk215_land_unet7.h5|64" -- \
  predict --model "$LAND" --image "$RGB_PNG" --size 128x128 --out "$T/e"
expect "RGB image into a 1-channel Keras model (--channels keep)" 1 \
  "img_sed_input_00050.png|k3132_nuclei_unet.h5|needs 1" -- \
  predict --model "$NUCLEI" --image "$RGB_PNG" --channels keep --out "$T/e"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
