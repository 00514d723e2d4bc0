#!/usr/bin/python3
"""Writes the small ONNX files under tests/data/onnx/ used by tests/test_onnx_load.c.

Run with Debian's Python (it has the onnx package):  /usr/bin/python3 tools/make_bad_onnx.py

The files are encoded by the real onnx library (onnx.helper), independently of segcam's own
schema and reader, and are committed so the C tests need no Python.  Negative cases:
  unsupported_op.onnx      a NonMaxSuppression node named 'Foo_3' (op segcam does not have)
  foreign_domain.onnx      node 'MyRelu_1' of domain 'com.example'
  external_escape.onnx     an initializer whose external data location is '../escape.bin'
Positive cases (op translation by opset; the test checks the parameters set here):
  external_ok.onnx (+ external_ok.bin)  a Conv weight stored as external data at an offset
  ops_op13.onnx            Conv SAME_UPPER/group/dilations, BN, Clip-11 inputs, Resize-13, Pad-11,
                           Slice-10, Squeeze/Unsqueeze-13, Gemm, Softmax-13, Dropout mask,
                           Concat of 10 inputs, Max of 3, FLOAT16/INT32/DOUBLE/float_data tensors,
                           Constant / ConstantOfShape / Cast / Shape / Gather / Range
  ops_op17.onnx            LayerNormalization, Shape-15 start/end, BatchNormalization-15,
                           Reshape-14 allowzero
  ops_op9.onnx             Upsample-9, Clip-6 attributes, Softmax-1 default axis, Pad-2, Slice-1,
                           Unsqueeze-1 attribute axes, AveragePool, BatchNormalization
  ops_op10.onnx            Resize-10 (X, scales) and MaxPool ceil_mode, ConvTranspose
  ops_op7.onnx             Upsample-7 with a scales attribute, BatchNormalization-7 spatial=1
  ops_op11.onnx            Resize-11 with empty roi/scales Constants and a sizes initializer
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "onnx")


def model(nodes, inputs, outputs, inits=(), opset=13, extra_opsets=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=ops, producer_name="segcam-tests")
    m.ir_version = 7
    # Outputs declared without a type get the one onnx shape inference finds, so that the
    # positive models pass onnx.checker (full_check).
    if not extra_opsets and any(not o.type.HasField("tensor_type") for o in m.graph.output):
        inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(m).graph.value_info}
        for o in m.graph.output:
            if not o.type.HasField("tensor_type") and o.name in inferred:
                o.CopyFrom(inferred[o.name])
    return m


def vi(name, dims, t=TensorProto.FLOAT):
    if dims is None:  # an output whose type and shape are left to shape inference
        return helper.make_empty_tensor_value_info(name)
    return helper.make_tensor_value_info(name, t, dims)


def save(m, name):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    print(path, os.path.getsize(path))


def external(name, dims, location, offset, length):
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def f32(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def i64(name, a):
    return numpy_helper.from_array(np.asarray(a, np.int64), name)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)

    # --- negative cases ---
    save(model([helper.make_node("Relu", ["boxes"], ["r"], name="relu"),
                helper.make_node("NonMaxSuppression", ["r", "scores"], ["sel"], name="Foo_3")],
               [vi("boxes", [1, 4, 4]), vi("scores", [1, 1, 4])],
               [vi("sel", [None, 3], TensorProto.INT64)], opset=13), "unsupported_op.onnx")

    save(model([helper.make_node("Relu", ["x"], ["y"], name="MyRelu_1", domain="com.example")],
               [vi("x", [1, 3, 4, 4])], [vi("y", [1, 3, 4, 4])], opset=13,
               extra_opsets=[("com.example", 1)]), "foreign_domain.onnx")

    w = external("w", [2, 3, 1, 1], "../escape.bin", 0, 24)
    save(model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
               [vi("x", [1, 3, 4, 4])], [vi("y", [1, 2, 4, 4])], [w]), "external_escape.onnx")

    # --- external data that is fine: 16 bytes of padding, then the weight ---
    wv = np.arange(6, dtype=np.float32).reshape(2, 3, 1, 1) * 0.5 - 1.0
    with open(os.path.join(OUT, "external_ok.bin"), "wb") as f:
        f.write(b"\0" * 16 + wv.tobytes())
    w = external("w", [2, 3, 1, 1], "external_ok.bin", 16, 24)
    save(model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
               [vi("x", [1, 3, 4, 4])], [vi("y", [1, 2, 4, 4])], [w]), "external_ok.onnx")

    # --- opset 13 coverage ---
    # FLOAT16 values; onnx.helper stores their bit patterns in int32_data
    conv_w = helper.make_tensor("conv_w", TensorProto.FLOAT16, [4, 1, 3, 3],
                                np.linspace(-1, 1, 36).astype(np.float16).tolist())
    conv_b = helper.make_tensor("conv_b", TensorProto.DOUBLE, [4], [0.5, -0.25, 1.0, 2.0])
    bn = [f32("bn_s", [1, 2, 3, 4]), f32("bn_b", [0, 0, 0, 0]), f32("bn_m", [0, 0, 0, 0]),
          f32("bn_v", [1, 1, 1, 1])]
    bn[0] = helper.make_tensor("bn_s", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])  # float_data
    gather_i32 = helper.make_tensor("gather_i32", TensorProto.INT32, [2], [1, -2])
    nodes = [
        helper.make_node("Cast", ["conv_w"], ["conv_wf"], name="cast_w", to=TensorProto.FLOAT),
        helper.make_node("Cast", ["conv_b"], ["conv_bf"], name="cast_b", to=TensorProto.FLOAT),
        helper.make_node("Conv", ["x", "conv_wf", "conv_bf"], ["c1"], name="conv_same",
                         auto_pad="SAME_UPPER", strides=[2, 2], dilations=[1, 1], group=2,
                         kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["b1"],
                         name="bn", epsilon=1e-3),
        helper.make_node("Constant", [], ["clip_lo"], name="k_lo", value_float=0.0),
        helper.make_node("Clip", ["b1", "clip_lo", "six"], ["r1"], name="relu6"),
        helper.make_node("Resize", ["r1", "", "rs_scales"], ["u1"], name="resize",
                         mode="linear", coordinate_transformation_mode="align_corners"),
        helper.make_node("Pad", ["u1", "pads", ""], ["p1"], name="pad", mode="reflect"),
        helper.make_node("Slice", ["p1", "sl_st", "sl_en", "sl_ax"], ["s1"], name="slice"),
        helper.make_node("Dropout", ["s1"], ["d1", "d1_mask"], name="drop"),
        helper.make_node("LeakyRelu", ["d1"], ["l1"], name="lrelu", alpha=0.2),
        helper.make_node("Concat", ["l1"] * 10, ["cat"], name="cat10", axis=1),
        helper.make_node("Max", ["cat", "cat", "cat"], ["mx"], name="max3"),
        helper.make_node("GlobalAveragePool", ["mx"], ["gap"], name="gap"),
        helper.make_node("Squeeze", ["gap", "sq_axes"], ["sq"], name="squeeze"),
        helper.make_node("Gemm", ["sq", "fc_w"], ["fc"], name="fc", alpha=0.5, transB=1),
        helper.make_node("Softmax", ["fc"], ["prob"], name="softmax"),
        helper.make_node("Unsqueeze", ["prob", "sq_axes"], ["prob4"], name="unsq"),
        helper.make_node("Reshape", ["prob4", "shape64"], ["flat"], name="reshape"),
        helper.make_node("Transpose", ["x"], ["xt"], name="tr", perm=[0, 2, 3, 1]),
        helper.make_node("Shape", ["xt"], ["shp"], name="shape"),
        helper.make_node("Constant", [], ["idx"], name="k_idx", value_ints=[1, 2]),
        helper.make_node("Gather", ["shp", "gather_i32"], ["hw"], name="gather", axis=0),
        helper.make_node("Cast", ["hw"], ["hwf"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("ConstantOfShape", ["idx"], ["cos"], name="cos",
                         value=helper.make_tensor("v", TensorProto.INT64, [1], [7])),
        helper.make_node("Range", ["r_start", "r_lim", "r_delta"], ["rng"], name="range"),
    ]
    inits = [conv_w, conv_b, *bn, f32("six", 6.0), f32("rs_scales", [1, 1, 2, 2]),
             i64("pads", [0, 0, 1, 1, 0, 0, 1, 1]), i64("sl_st", [1]), i64("sl_en", [-1]),
             i64("sl_ax", [3]), i64("sq_axes", [2, 3]),
             f32("fc_w", rng.standard_normal((5, 40)).round(2)), gather_i32,
             i64("shape64", [1, -1]),
             f32("r_start", 0.0), f32("r_lim", 3.0), f32("r_delta", 1.0)]
    save(model(nodes, [vi("x", ["N", 2, 8, 8])],
               [vi("flat", None), vi("hwf", None), vi("cos", None), vi("rng", None)], inits,
               opset=13), "ops_op13.onnx")

    # --- opset 17 (the newest the Debian onnx package checks) ---
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["b1"], name="bn15",
                         training_mode=0),
        helper.make_node("LayerNormalization", ["b1", "ln_s"], ["ln"], name="ln", axis=-1,
                         epsilon=1e-6),
        helper.make_node("Shape", ["ln"], ["shp"], name="shape15", start=-2, end=-1),
        helper.make_node("Reshape", ["ln", "rs_shape"], ["flat"], name="reshape14", allowzero=1),
    ]
    inits = [f32("s", [1, 1]), f32("b", [0, 0]), f32("m", [0, 0]), f32("v", [1, 1]),
             f32("ln_s", [1.0, 1.0, 1.0]), i64("rs_shape", [1, 2, 9])]
    save(model(nodes, [vi("x", [1, 2, 3, 3])], [vi("flat", None), vi("shp", None)], inits,
               opset=17), "ops_op17.onnx")

    # --- opset 9 ---
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["b1"], name="bn9"),
        helper.make_node("Clip", ["b1"], ["c1"], name="clip6", min=-1.0, max=1.5),
        helper.make_node("Upsample", ["c1", "up_scales"], ["u1"], name="up9", mode="nearest"),
        helper.make_node("Pad", ["u1"], ["p1"], name="pad2", pads=[0, 0, 1, 2, 0, 0, 3, 4],
                         value=0.25),
        helper.make_node("Slice", ["p1"], ["s1"], name="slice1", starts=[1, 0], ends=[-1, 5],
                         axes=[2, 3]),
        helper.make_node("AveragePool", ["s1"], ["a1"], name="avg", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1], strides=[1, 1], count_include_pad=1),
        helper.make_node("Max", ["a1"], ["m1"], name="max1"),
        helper.make_node("Softmax", ["m1"], ["sm"], name="softmax1"),
        helper.make_node("Unsqueeze", ["sm"], ["un"], name="unsq1", axes=[0]),
    ]
    inits = [f32("s", [1, 1]), f32("b", [0, 0]), f32("m", [0, 0]), f32("v", [1, 1]),
             f32("up_scales", [1, 1, 2, 2])]
    save(model(nodes, [vi("x", [1, 2, 4, 4])], [vi("un", None)], inits, opset=9),
         "ops_op9.onnx")

    # --- opset 10 ---
    nodes = [
        helper.make_node("Resize", ["x", "rs"], ["r1"], name="resize10", mode="linear"),
        helper.make_node("MaxPool", ["r1"], ["m1", "m1_idx"], name="pool10",
                         kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        helper.make_node("ConvTranspose", ["m1", "tw", "tb"], ["t1"], name="deconv",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                         output_padding=[1, 1]),
    ]
    inits = [f32("rs", [1, 1, 2, 2]), f32("tw", np.ones((3, 2, 3, 3)) * 0.1), f32("tb", [1, 2])]
    save(model(nodes, [vi("x", [1, 3, 5, 5])], [vi("t1", None)], inits, opset=10),
         "ops_op10.onnx")

    # --- opset 7 ---
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["b1"], name="bn7",
                         spatial=1, epsilon=1e-4),
        helper.make_node("Upsample", ["b1"], ["y"], name="up7", mode="linear",
                         scales=[1.0, 1.0, 2.0, 3.0]),
    ]
    inits = [f32("s", [1]), f32("b", [0]), f32("m", [0]), f32("v", [1])]
    save(model(nodes, [vi("x", [1, 1, 2, 2])], [vi("y", None)], inits, opset=7), "ops_op7.onnx")

    # --- opset 11: Resize with empty roi/scales Constants and sizes (torch.onnx style) ---
    empty = helper.make_tensor("e", TensorProto.FLOAT, [0], [])
    nodes = [
        helper.make_node("Constant", [], ["roi"], name="k_roi", value=empty),
        helper.make_node("Constant", [], ["scl"], name="k_scl", value=empty),
        helper.make_node("Resize", ["x", "roi", "scl", "sizes"], ["y"], name="resize11",
                         mode="nearest", coordinate_transformation_mode="asymmetric",
                         nearest_mode="floor"),
    ]
    save(model(nodes, [vi("x", [1, 3, 4, 4])], [vi("y", None)], [i64("sizes", [1, 3, 8, 12])],
               opset=11), "ops_op11.onnx")


if __name__ == "__main__":
    main()
