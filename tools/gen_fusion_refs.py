#!/usr/bin/python3
"""Golden references for the convolution chains segcam fuses (Conv or ConvTranspose ->
BatchNormalization -> Relu/LeakyRelu/Clip) and for the chains it must NOT fuse (an intermediate
read twice), including geometries oneDNN needs help with (an unread last row).

Writes tests/data/fusion/ in the format of tests/data/ops (see tools/gen_op_refs.py):
<case>.onnx (a small multi-node graph, input x0, output y), <case>.in0.npy, <case>.out.npy,
<case>.seed.npy, <case>.grad0.npy and cases.txt; tests/test_ops_golden.c reads it when
SEGCAM_OPS_DIR points there (ctest: test_fusion_golden).

The reference is tools/onnx_torch_ref.py's float64 PyTorch interpreter of the same ONNX graph
(node by node, unfused) with torch.autograd for the input gradient: independent of how segcam
folds the BatchNorm into the weights or applies the ReLU's gradient from its output.
Tolerance: atol 1e-5, rtol 1e-4 as for Conv in gen_op_refs.py (two chained convolutions at most,
O(1) data).

Usage: /usr/bin/python3 tools/gen_fusion_refs.py [--out tests/data/fusion]
"""

import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_op_refs as R  # noqa: E402
import onnx_torch_ref as T  # noqa: E402

ATOL, RTOL = 1e-5, 1e-4


def bn_params(rng, prefix, ch):
    """scale, bias, mean, var initializers (var > 0, some scales negative)."""
    return {
        prefix + "_s": rng.normal(ch),
        prefix + "_b": rng.normal(ch),
        prefix + "_m": rng.normal(ch),
        prefix + "_v": (np.abs(rng.normal(ch)) + 0.2).astype(np.float32),
    }


def conv_w(rng, k, c, r, s):
    return rng.normal(k, c, r, s, scale=1.0 / np.sqrt(c * r * s))


def define_cases():
    cases = []

    def case(name, x_shape, nodes, inits):
        cases.append(dict(name=name, x_shape=x_shape, nodes=nodes, inits=inits))

    # Conv -> BN -> Relu, 3x3 pad 1: the U-Net block, everything fused
    rng = R.Rng("conv_bn_relu")
    ini = {"w": conv_w(rng, 6, 3, 3, 3), "b": rng.normal(6), **bn_params(rng, "bn", 6)}
    case("conv_bn_relu", (1, 3, 9, 11), [
        ("Conv", ["x0", "w", "b"], ["c"], dict(pads=[1, 1, 1, 1])),
        ("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["n"], dict(epsilon=1e-3)),
        ("Relu", ["n"], ["y"], {}),
    ], ini)
    # Conv (no bias) -> BN, strided, asymmetric pads, dilation, groups
    rng = R.Rng("conv_bn_groups")
    ini = {"w": conv_w(rng, 8, 2, 3, 3), **bn_params(rng, "bn", 8)}
    case("conv_bn_groups", (1, 4, 13, 10), [
        ("Conv", ["x0", "w"], ["c"], dict(pads=[2, 1, 1, 2], strides=[2, 1], dilations=[2, 1],
                                          group=2)),
        ("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["y"], {}),
    ], ini)
    # Conv -> LeakyRelu, then Conv -> Relu: two fused nodes in a row, batch 2
    rng = R.Rng("conv_leaky_conv_relu")
    ini = {"w1": conv_w(rng, 5, 3, 3, 3), "b1": rng.normal(5), "w2": conv_w(rng, 4, 5, 1, 1),
           "b2": rng.normal(4)}
    case("conv_leaky_conv_relu", (2, 3, 7, 7), [
        ("Conv", ["x0", "w1", "b1"], ["c1"], dict(pads=[1, 1, 1, 1])),
        ("LeakyRelu", ["c1"], ["a1"], dict(alpha=0.2)),
        ("Conv", ["a1", "w2", "b2"], ["c2"], {}),
        ("Relu", ["c2"], ["y"], {}),
    ], ini)
    # ConvTranspose stride 2 with output_padding -> Relu
    rng = R.Rng("convt_relu")
    ini = {"w": conv_w(rng, 4, 3, 3, 3), "b": rng.normal(3)}
    case("convt_relu", (1, 4, 5, 6), [
        ("ConvTranspose", ["x0", "w", "b"], ["c"], dict(strides=[2, 2], pads=[1, 1, 1, 1],
                                                         output_padding=[1, 0])),
        ("Relu", ["c"], ["y"], {}),
    ], ini)
    # Conv -> BN whose output is read twice (Relu and Add): BN fuses, Relu must not
    rng = R.Rng("conv_bn_shared")
    ini = {"w": conv_w(rng, 4, 4, 3, 3), "b": rng.normal(4), **bn_params(rng, "bn", 4)}
    case("conv_bn_shared", (1, 4, 8, 9), [
        ("Conv", ["x0", "w", "b"], ["c"], dict(pads=[1, 1, 1, 1])),
        ("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["n"], {}),
        ("Relu", ["n"], ["r"], {}),
        ("Add", ["r", "n"], ["y"], {}),
    ], ini)
    # Conv output read by BN and by the residual Add: nothing fuses into the Conv
    rng = R.Rng("conv_read_twice")
    ini = {"w": conv_w(rng, 3, 3, 3, 3), "b": rng.normal(3), **bn_params(rng, "bn", 3)}
    case("conv_read_twice", (1, 3, 6, 6), [
        ("Conv", ["x0", "w", "b"], ["c"], dict(pads=[1, 1, 1, 1])),
        ("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["n"], {}),
        ("Relu", ["n"], ["r"], {}),
        ("Add", ["r", "c"], ["y"], {}),
    ], ini)
    # 1x1 stride 2 on an even size (the last row and column are never read) -> BN -> Relu, and a
    # depthwise 3x3 -> Clip (ReLU6, not fused)
    rng = R.Rng("conv_s2_dw_clip")
    ini = {"w1": conv_w(rng, 6, 3, 1, 1), **bn_params(rng, "bn", 6),
           "w2": conv_w(rng, 6, 1, 3, 3), "lo": np.array(0, np.float32),
           "hi": np.array(0.5, np.float32)}
    case("conv_s2_dw_clip", (1, 3, 10, 8), [
        ("Conv", ["x0", "w1"], ["c1"], dict(strides=[2, 2])),
        ("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["n1"], {}),
        ("Relu", ["n1"], ["a1"], {}),
        ("Conv", ["a1", "w2"], ["c2"], dict(pads=[1, 1, 1, 1], group=6)),
        ("Clip", ["c2", "lo", "hi"], ["y"], {}),
    ], ini)
    # ConvTranspose with groups -> BN -> Relu: the BatchNorm folded along W's second axis
    rng = R.Rng("convt_groups_bn_relu")
    ini = {"w": conv_w(rng, 6, 2, 3, 3), "b": rng.normal(4), **bn_params(rng, "bn", 4)}
    case("convt_groups_bn_relu", (1, 6, 5, 4), [
        ("ConvTranspose", ["x0", "w", "b"], ["c"], dict(strides=[2, 2], pads=[0, 1, 1, 0],
                                                         group=2)),
        ("BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["n"], {}),
        ("Relu", ["n"], ["y"], {}),
    ], ini)
    return cases


def build(c, path, y_shape=None):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node(op, ins, outs, name=f"{op.lower()}_{i}", **at)
             for i, (op, ins, outs, at) in enumerate(c["nodes"])]
    inits = [numpy_helper.from_array(a, k) for k, a in c["inits"].items()]
    x = helper.make_tensor_value_info("x0", TensorProto.FLOAT, list(c["x_shape"]))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)
    g = helper.make_graph(nodes, c["name"], [x], [y], initializer=inits)
    m = helper.make_model(g, producer_name="segcam tools/gen_fusion_refs.py",
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    if y_shape is not None:  # the first build only tells the reference the graph
        onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "fusion"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lines = []
    for c in define_cases():
        name = c["name"]
        path = os.path.join(args.out, name + ".onnx")
        build(c, path)
        x = R.Rng(name + ".x").normal(*c["x_shape"])
        xt = torch.from_numpy(x).double().requires_grad_(True)
        g = T.Graph(path)
        y = g.run({"x0": xt})["y"]
        seed = R.Rng(name + ".seed").normal(*y.shape)
        gx, = torch.autograd.grad(y, xt, torch.from_numpy(seed).double())
        build(c, path, list(y.shape))

        def save(suffix, a):
            np.save(os.path.join(args.out, name + suffix),
                    np.ascontiguousarray(np.asarray(a), dtype=np.float32))
        save(".in0.npy", x)
        save(".out.npy", y.detach().numpy())
        save(".seed.npy", seed)
        save(".grad0.npy", gx.numpy())
        lines.append(f"{name} 1 {ATOL:g} {RTOL:g}")
        print(f"{name:24s} out {list(y.shape)}")
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("# name n_inputs atol rtol  (tools/gen_fusion_refs.py)\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
