#!/usr/bin/python3
"""Per-op golden references for segcam's ONNX ops: forward outputs and vector-Jacobian products.

For every case below this writes, into tests/data/ops/:
  <case>.onnx        a single-node ONNX model built with onnx.helper (float graph inputs x0, x1, ..;
                     weights and other constant operands as initializers; output y)
  <case>.in<i>.npy   graph input i (float32)
  <case>.out.npy     the reference output (computed in float64, stored as float32)
  <case>.seed.npy    a random output gradient (float32, the output's shape)
  <case>.grad<i>.npy d<seed . y>/d(input i) for every graph input (float64 autograd, stored float32)
  cases.txt          one line per case: name n_inputs atol rtol

How the references are computed (never from segcam): PyTorch 1.13 functional ops in float64, on
the float32 data cast to float64 (exact), composed so that they implement the ONNX semantics of
docs FORMATS_AND_NUMERICS.md section 5.2 -- explicit asymmetric padding through F.pad, ceil-mode
windows by padding, ConvTranspose as the full transposed convolution followed by an explicit
output_padding/pads crop, and so on.  Where PyTorch has no equivalent (ONNX Resize coordinate
modes, nearest rounding modes, cubic with exclude_outside) the reference builds, in NumPy float64,
one dense interpolation matrix per spatial axis and applies them with an einsum: a whole-array
formulation, deliberately unlike the gather loop a C kernel uses.  Gradients come from
torch.autograd.grad through those float64 graphs.

Self-checks run on every generation (the script stops on a failure):
  - where PyTorch has a direct op for a case's semantics (symmetric pads, bilinear interpolate,
    avg_pool2d, ...), the reference is compared with it;
  - for nearest-neighbour Resize, every source index is recomputed in float32 arithmetic (both
    x/scale and x*(1/scale)) and must equal the float64 index, so a float32 C kernel cannot
    legitimately land on another pixel (ties such as x.5 are exact in both);
  - the tolerance of each case is checked: the same reference evaluated in float32 by PyTorch (a
    different float32 implementation) must pass with a margin of 10x below atol/rtol.

Tolerances (atol + rtol*|ref| per element, for a float32 implementation against this float64
reference), by op family:
  reductions over many products (Conv, ConvTranspose, Gemm, MatMul): atol 1e-5, rtol 1e-4
  smooth pointwise / small reductions (activations, BN, pools, Softmax, binary): 2e-6, 1e-5
  Resize / Upsample (float32 coordinates and cubic weights): 5e-6, 2e-5
  pure data movement (Identity, Reshape, Transpose, Concat, Pad constant, ...): 1e-7, 1e-6
The data are O(1) (standard normal / uniform), so these bound ~100x the float32 rounding of the
longest sums involved; the 10x-margin check above is the evidence.

Usage:  /usr/bin/python3 tools/gen_op_refs.py [--out tests/data/ops] [--only NAME ...]
Deterministic: each case draws from its own generator seeded by a CRC of its name.
The ONNX semantics helpers (onnx_conv, onnx_resize, ...) are importable: tools/onnx_torch_ref.py
uses them.
"""

import argparse
import glob
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------
# ONNX semantics in float64 PyTorch
# ------------------------------------------------------------------------------------------------

SAME_MODES = ("SAME_UPPER", "SAME_LOWER")


def _s(v):
    """ONNX attribute strings may arrive as bytes."""
    return v.decode() if isinstance(v, bytes) else v


def same_split(total, auto_pad):
    """Splits a total padding: SAME_UPPER puts the odd pixel at the end (= TF 'SAME'), SAME_LOWER
    at the beginning.  Operators.md Conv/MaxPool 'auto_pad'."""
    small = total // 2
    return (small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small)


def resolve_pads(in_hw, kernel, strides, dilations, pads, auto_pad):
    """ONNX pads [h_begin, w_begin, h_end, w_end] for Conv and pools, honouring auto_pad.
    SAME: output ceil(in/s) and total padding max(0, (out-1)*s + (k-1)*d + 1 - in)."""
    auto_pad = _s(auto_pad) or "NOTSET"
    if auto_pad in SAME_MODES:
        out = []
        for ax in range(2):
            o = -(-in_hw[ax] // strides[ax])
            total = max(0, (o - 1) * strides[ax] + (kernel[ax] - 1) * dilations[ax] + 1 - in_hw[ax])
            out.append(same_split(total, auto_pad))
        return [out[0][0], out[1][0], out[0][1], out[1][1]]
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    return list(pads) if pads is not None else [0, 0, 0, 0]


def fpad(p):
    """ONNX [h_begin, w_begin, h_end, w_end] -> F.pad's (w_begin, w_end, h_begin, h_end)."""
    return (p[1], p[3], p[0], p[2])


def onnx_conv(x, w, b=None, strides=(1, 1), dilations=(1, 1), pads=None, group=1,
              auto_pad="NOTSET", kernel_shape=None):
    """Conv: explicit (possibly asymmetric) zero padding first, then an unpadded correlation."""
    strides = list(strides or (1, 1))
    dilations = list(dilations or (1, 1))
    p = resolve_pads(x.shape[2:], w.shape[2:], strides, dilations, pads, auto_pad)
    return F.conv2d(F.pad(x, fpad(p)), w, b, stride=strides, dilation=dilations, groups=group)


def convt_pads(in_hw, kernel, strides, dilations, output_padding, pads, auto_pad, output_shape):
    """ConvTranspose pads (ConvTranspose-11 spec): with output_shape, or with auto_pad SAME_* (then
    output = in*stride), total = s*(in-1) + output_padding + (k-1)*d + 1 - out, split
    begin = total/2 for SAME_UPPER, begin = total - total/2 otherwise."""
    auto_pad = _s(auto_pad) or "NOTSET"
    if output_shape is not None or auto_pad in SAME_MODES:
        res = []
        for ax in range(2):
            full = strides[ax] * (in_hw[ax] - 1) + output_padding[ax] + \
                (kernel[ax] - 1) * dilations[ax] + 1
            out = output_shape[-2 + ax] if output_shape is not None else in_hw[ax] * strides[ax]
            total = full - out
            small = total // 2
            upper = auto_pad == "SAME_UPPER"
            res.append((small, total - small) if upper else (total - small, small))
        return [res[0][0], res[1][0], res[0][1], res[1][1]]
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    return list(pads) if pads is not None else [0, 0, 0, 0]


def onnx_conv_transpose(x, w, b=None, strides=(1, 1), dilations=(1, 1), pads=None, group=1,
                        output_padding=(0, 0), output_shape=None, auto_pad="NOTSET",
                        kernel_shape=None):
    """ConvTranspose as: the full transposed convolution (size s*(in-1) + (k-1)*d + 1), then
    output_padding zero rows/columns appended at the high end (no input reaches them; they get
    only the bias), then pads cropped from each side, then the bias.  Output size
    s*(in-1) + output_padding + (k-1)*d + 1 - pad_begin - pad_end (Operators.md)."""
    strides = list(strides or (1, 1))
    dilations = list(dilations or (1, 1))
    op = list(output_padding or (0, 0))
    p = convt_pads(x.shape[2:], w.shape[2:], strides, dilations, op, pads, auto_pad, output_shape)
    full = F.conv_transpose2d(x, w, None, stride=strides, groups=group, dilation=dilations)
    full = F.pad(full, (0, op[1], 0, op[0]))
    hf, wf = full.shape[2:]
    y = full[:, :, p[0]:hf - p[2], p[1]:wf - p[3]]
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y


def pool_geometry(in_len, k, s, d, pb, pe, ceil_mode):
    """Output length and the extra high-end padding that ceil-mode windows overhang.
    ceil_mode: ceil((in + pb + pe - keff)/s) + 1, minus one if the last window would start in the
    end padding (Operators.md MaxPool/AveragePool; the same rule as PyTorch)."""
    keff = (k - 1) * d + 1
    num = in_len + pb + pe - keff
    if ceil_mode:
        out = -(-num // s) + 1
        if (out - 1) * s >= in_len + pb:
            out -= 1
    else:
        out = num // s + 1
    extra = max(0, (out - 1) * s + keff - (in_len + pb + pe))
    return out, extra


def _pool_setup(x, kernel_shape, strides, dilations, pads, auto_pad, ceil_mode):
    kernel = list(kernel_shape)
    strides = list(strides or (1, 1))
    dilations = list(dilations or (1, 1))
    p = resolve_pads(x.shape[2:], kernel, strides, dilations, pads, auto_pad)
    geo = [pool_geometry(x.shape[2 + ax], kernel[ax], strides[ax], dilations[ax], p[ax], p[2 + ax],
                         ceil_mode) for ax in range(2)]
    return kernel, strides, dilations, p, geo


def onnx_maxpool(x, kernel_shape, strides=None, dilations=None, pads=None, auto_pad="NOTSET",
                 ceil_mode=0, storage_order=0):
    """MaxPool: pad with -inf (padding never wins), including the ceil-mode overhang, then an
    unpadded floor-mode max_pool2d."""
    kernel, strides, dilations, p, geo = _pool_setup(x, kernel_shape, strides, dilations, pads,
                                                     auto_pad, ceil_mode)
    xp = F.pad(x, (p[1], p[3] + geo[1][1], p[0], p[2] + geo[0][1]), value=float("-inf"))
    y = F.max_pool2d(xp, kernel, strides, 0, dilations)
    assert tuple(y.shape[2:]) == (geo[0][0], geo[1][0])
    return y


def onnx_avgpool(x, kernel_shape, strides=None, pads=None, auto_pad="NOTSET", ceil_mode=0,
                 count_include_pad=0, dilations=None):
    """AveragePool as (window sum of zero-padded x) / (window sum of a 0/1 'counted' mask).
    The mask is 1 on the input, 1 on the explicit pads only if count_include_pad, and 0 on the
    ceil-mode overhang beyond the end pads (PyTorch's divisor rule: the window clipped to the
    padded extent; ORT after microsoft/onnxruntime#16203 agrees)."""
    kernel, strides, dilations, p, geo = _pool_setup(x, kernel_shape, strides, dilations, pads,
                                                     auto_pad, ceil_mode)
    assert dilations == [1, 1]
    ov = (0, geo[1][1], 0, geo[0][1])
    xp = F.pad(F.pad(x, fpad(p)), ov)
    ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype)
    mask = F.pad(ones, fpad(p), value=1.0 if count_include_pad else 0.0)
    mask = F.pad(mask, ov, value=0.0)
    sums = F.avg_pool2d(xp, kernel, strides, 0, divisor_override=1)
    counts = F.avg_pool2d(mask, kernel, strides, 0, divisor_override=1)
    assert tuple(sums.shape[2:]) == (geo[0][0], geo[1][0])
    return sums / counts


# ---- Resize ------------------------------------------------------------------------------------

def resize_source_coords(out_len, in_len, scale, coord):
    """x_original per output index (Operators.md Resize 'coordinate_transformation_mode');
    scale = the given scale, or out/in when sizes are given."""
    x = np.arange(out_len, dtype=np.float64)
    if coord == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if coord == "pytorch_half_pixel":
        # ONNX spec and onnxruntime: 0 when the output length is 1.
        return (x + 0.5) / scale - 0.5 if out_len > 1 else np.zeros(out_len)
    if coord == "align_corners":
        return x * (in_len - 1) / (out_len - 1) if out_len > 1 else np.zeros(out_len)
    if coord == "asymmetric":
        return x / scale
    if coord == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    raise ValueError(coord)


def nearest_index(xo, nearest_mode, downsampling):
    """Source index of nearest-neighbour Resize before clamping to [0, in-1]."""
    if nearest_mode == "round_prefer_floor":
        return np.ceil(xo - 0.5)
    if nearest_mode == "round_prefer_ceil":
        return np.floor(xo + 0.5)
    if nearest_mode == "floor":
        return np.floor(xo)
    if nearest_mode == "ceil":
        return np.ceil(xo)
    if nearest_mode == "simple":
        # Resize-10 / Upsample: the spec does not say; onnxruntime (upsample.h, opset <= 10)
        # truncates when upsampling and takes ceil when downsampling.
        return np.ceil(xo) if downsampling else np.floor(xo)
    raise ValueError(nearest_mode)


def cubic_weights(t, a):
    """Keys cubic convolution weights for taps at offsets -1, 0, 1, 2 from floor(x), t = frac."""
    d = np.stack([1 + t, t, 1 - t, 2 - t], axis=-1)
    ad = np.abs(d)
    near = ((a + 2) * ad - (a + 3)) * ad * ad + 1
    far = ((a * ad - 5 * a) * ad + 8 * a) * ad - 4 * a
    return np.where(ad <= 1, near, np.where(ad < 2, far, 0.0))


def resize_matrix(in_len, out_len, scale, mode, coord, nearest_mode="round_prefer_floor",
                  cubic_a=-0.75, exclude_outside=0, check_f32=True):
    """Dense [out_len, in_len] matrix M with y = M @ x along one axis.  Taps that fall outside
    [0, in-1] take the edge value (the ONNX reference pads with 'edge'), unless exclude_outside,
    which zeroes them and renormalises the remaining weights."""
    xo = resize_source_coords(out_len, in_len, scale, coord)
    m = np.zeros((out_len, in_len))
    rows = np.arange(out_len)
    if mode == "nearest":
        idx = nearest_index(xo, nearest_mode, scale < 1)
        if check_f32 and coord in ("half_pixel", "asymmetric", "tf_half_pixel_for_nn",
                                   "pytorch_half_pixel") and out_len > 1:
            x32 = np.arange(out_len, dtype=np.float32)
            s32 = np.float32(scale)
            off = np.float32(0.5) if coord != "asymmetric" else np.float32(0)
            half = coord in ("half_pixel", "pytorch_half_pixel")
            sub = np.float32(0.5) if half else np.float32(0)
            for xo32 in ((x32 + off) / s32 - sub, (x32 + off) * (np.float32(1) / s32) - sub):
                idx32 = nearest_index(xo32.astype(np.float64), nearest_mode, scale < 1)
                assert np.array_equal(idx32, idx), (coord, nearest_mode, scale, xo, xo32)
        idx = np.clip(idx, 0, in_len - 1).astype(np.int64)
        m[rows, idx] = 1.0
        return m
    x0 = np.floor(xo)
    t = xo - x0
    if mode == "linear":
        taps = np.stack([x0, x0 + 1], axis=-1)
        w = np.stack([1 - t, t], axis=-1)
    elif mode == "cubic":
        taps = np.stack([x0 - 1, x0, x0 + 1, x0 + 2], axis=-1)
        w = cubic_weights(t, cubic_a)
        if exclude_outside:
            w = np.where((taps < 0) | (taps > in_len - 1), 0.0, w)
            w = w / w.sum(axis=-1, keepdims=True)
    else:
        raise ValueError(mode)
    taps = np.clip(taps, 0, in_len - 1).astype(np.int64)
    for j in range(taps.shape[1]):
        np.add.at(m, (rows, taps[:, j]), w[:, j])
    return m


def onnx_resize(x, scales=None, sizes=None, mode="nearest", coord="half_pixel",
                nearest_mode="round_prefer_floor", cubic_a=-0.75, exclude_outside=0):
    """Resize of the two spatial axes of an NCHW tensor (scales for N and C must be 1):
    y = M_h x M_w^T with the per-axis matrices of resize_matrix.  Output size floor(in*scale)
    when scales are given (scales as stored, float32); scale = out/in when sizes are given."""
    in_hw = x.shape[2:]
    mats = []
    for ax in range(2):
        n = in_hw[ax]
        if sizes is not None:
            out = int(sizes[2 + ax])
            sc = out / n
        else:
            assert float(scales[0]) == 1 and float(scales[1]) == 1
            sc = float(scales[2 + ax])
            out = int(np.floor(n * sc))
        mats.append(torch.from_numpy(resize_matrix(n, out, sc, mode, coord, nearest_mode,
                                                   cubic_a, exclude_outside)).to(x.dtype))
    return torch.einsum("ph,nchw,qw->ncpq", mats[0], x, mats[1])


def onnx_softmax(x, axis, opset):
    """Softmax-1/11: the input is coerced to 2-D [prod(d<axis), prod(d>=axis)], so the softmax runs
    over all trailing dims; Softmax-13: over the single axis (default -1)."""
    if opset < 13:
        axis = axis % x.dim()
        lead = int(np.prod(x.shape[:axis]))
        return torch.softmax(x.reshape(lead, -1), dim=1).reshape(x.shape)
    return torch.softmax(x, dim=axis)


def onnx_depth_to_space(x, b, mode="DCR"):
    """DepthToSpace as the reshape / transpose / reshape of Operators.md (DepthToSpace-13)."""
    n, c, h, w = x.shape
    if mode == "DCR":
        t = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
    else:
        t = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
    return t.reshape(n, c // (b * b), h * b, w * b)


def onnx_space_to_depth(x, b):
    """SpaceToDepth as the reshape / transpose / reshape of Operators.md (SpaceToDepth-13)."""
    n, c, h, w = x.shape
    t = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


def onnx_pad(x, pads, mode="constant", value=0.0):
    """Pad with ONNX pads [begin_0..begin_{r-1}, end_0..end_{r-1}]; negative pads crop."""
    r = x.dim()
    pads = [int(p) for p in pads]
    if mode == "constant":
        fp = []
        for ax in reversed(range(r)):
            fp += [pads[ax], pads[r + ax]]
        return F.pad(x, fp, value=float(value))
    assert r == 4 and pads[0] == pads[1] == pads[4] == pads[5] == 0
    tmode = {"reflect": "reflect", "edge": "replicate"}[mode]
    return F.pad(x, (pads[3], pads[7], pads[2], pads[6]), mode=tmode)


# ------------------------------------------------------------------------------------------------
# The cases
# ------------------------------------------------------------------------------------------------

TOL_GEMM = (1e-5, 1e-4)
TOL_SMOOTH = (2e-6, 1e-5)
TOL_COPY = (1e-7, 1e-6)
# Resize: float32 kernels compute coordinates and cubic weights in float32 (onnxruntime's cubic
# lands at ~0.3 of TOL_SMOOTH), so a little more room.
TOL_RESIZE = (5e-6, 2e-5)

CASES = []


def case(name, opset, op, inputs, attrs=None, ref=None, tol=TOL_SMOOTH, check=None, nodes=None):
    """inputs: per node input slot, in order: ('x', array) graph input, ('c', array) initializer,
    or None for an omitted optional input.  ref(*slots) -> output, slots as float64 tensors
    (int64 initializers as numpy arrays, omitted as None).  check(*slots, y): extra assertion.
    nodes(names) -> [NodeProto]: a small graph (ending in output "y") instead of the one node
    `op`, for ops whose inputs only another op makes (MaxUnpool's indices)."""
    CASES.append(dict(name=name, opset=opset, op=op, inputs=inputs, attrs=attrs or {}, ref=ref,
                      tol=tol, check=check, nodes=nodes))


class Rng:
    """Per-case generator: the data of one case does not depend on the others."""

    def __init__(self, name):
        self.g = np.random.default_rng(zlib.crc32(name.encode()))

    def normal(self, *shape, scale=1.0):
        return (self.g.standard_normal(shape) * scale).astype(np.float32)

    def uniform(self, lo, hi, *shape):
        return self.g.uniform(lo, hi, shape).astype(np.float32)

    def distinct(self, *shape):
        """Values that are all different (max-pool references need no ties)."""
        n = int(np.prod(shape))
        v = (self.g.permutation(n) - n / 2) / (n / 4) + self.g.uniform(-0.1, 0.1, n) / n
        return v.reshape(shape).astype(np.float32)

    def away_from(self, *shape, points=(0.0,), gap=0.05):
        """Normal values at least `gap` away from the given kink points."""
        v = self.g.standard_normal(shape)
        for p in points:
            near = np.abs(v - p) < gap
            v = np.where(near, p + np.sign(v - p + 1e-12) * (gap + np.abs(v - p)), v)
        return v.astype(np.float32)


def i64(*v):
    return np.array(v, dtype=np.int64)


def f32(*v):
    return np.array(v, dtype=np.float32)


def define_cases():
    # ---- Conv ------------------------------------------------------------------------------
    def conv_case(name, n, c, h, w, k, kh, kw, opset=11, bias=True, check_sym=False, **attrs):
        r = Rng(name)
        g = attrs.get("group", 1)
        ins = [("x", r.normal(n, c, h, w)), ("c", r.normal(k, c // g, kh, kw, scale=0.5))]
        if bias:
            ins.append(("c", r.normal(k)))

        def check(x, wt, *rest):
            y = rest[-1]
            b = rest[0] if len(rest) > 1 else None
            p = attrs.get("pads", [0, 0, 0, 0])
            if check_sym:
                z = F.conv2d(x, wt, b, attrs.get("strides", 1), (p[0], p[1]),
                             attrs.get("dilations", 1), g)
                assert torch.allclose(y, z, atol=1e-12), name
        case(name, opset, "Conv", ins, dict(kernel_shape=[kh, kw], **attrs),
             lambda x, wt, b=None: onnx_conv(x, wt, b, **attrs), TOL_GEMM, check)

    conv_case("conv_pads_asym", 1, 3, 9, 11, 4, 3, 3, pads=[1, 0, 2, 1])
    conv_case("conv_stride_dil", 1, 2, 13, 10, 3, 3, 3, strides=[2, 3], dilations=[2, 1],
              pads=[2, 1, 1, 3])
    conv_case("conv_sym_batch2", 2, 3, 7, 5, 4, 3, 3, pads=[1, 1, 1, 1], check_sym=True)
    conv_case("conv_groups", 1, 6, 7, 9, 4, 3, 2, group=2, strides=[2, 2], pads=[1, 1, 1, 0])
    conv_case("conv_depthwise", 2, 3, 7, 8, 6, 3, 3, group=3, pads=[1, 1, 1, 1], check_sym=True)
    conv_case("conv_same_upper", 1, 2, 10, 7, 3, 4, 3, auto_pad="SAME_UPPER", strides=[2, 2])
    conv_case("conv_same_lower", 1, 2, 10, 7, 3, 4, 3, auto_pad="SAME_LOWER", strides=[2, 2])
    conv_case("conv_same_upper_dil", 1, 2, 9, 8, 2, 3, 2, auto_pad="SAME_UPPER",
              dilations=[2, 3], strides=[1, 2])
    conv_case("conv_valid", 1, 3, 11, 6, 2, 5, 3, bias=False, auto_pad="VALID", strides=[2, 1])
    conv_case("conv_big_pads", 1, 2, 3, 4, 3, 3, 3, pads=[3, 2, 3, 4])
    conv_case("conv_1x1_spatial", 1, 4, 1, 1, 5, 3, 3, pads=[1, 1, 1, 1])
    conv_case("conv_1x1_kernel_s2", 2, 5, 7, 9, 3, 1, 1, strides=[2, 2], check_sym=True)
    conv_case("conv_opset1_nopads", 1, 2, 6, 5, 2, 2, 3, opset=7)

    # ---- ConvTranspose ---------------------------------------------------------------------
    def convt_case(name, n, c, h, w, k, kh, kw, bias=True, check_sym=False, **attrs):
        r = Rng(name)
        g = attrs.get("group", 1)
        ins = [("x", r.normal(n, c, h, w)), ("c", r.normal(c, k // g, kh, kw, scale=0.5))]
        if bias:
            ins.append(("c", r.normal(k)))

        def check(x, wt, *rest):
            y = rest[-1]
            b = rest[0] if len(rest) > 1 else None
            if check_sym:
                p = attrs.get("pads", [0, 0, 0, 0])
                z = F.conv_transpose2d(x, wt, b, attrs.get("strides", 1), (p[0], p[1]),
                                       attrs.get("output_padding", 0), g,
                                       attrs.get("dilations", 1))
                assert torch.allclose(y, z, atol=1e-12), name
        case(name, 11, "ConvTranspose", ins, dict(kernel_shape=[kh, kw], **attrs),
             lambda x, wt, b=None: onnx_conv_transpose(x, wt, b, **attrs), TOL_GEMM, check)

    convt_case("convt_pads_outpad", 1, 3, 5, 6, 4, 3, 3, strides=[2, 2], pads=[1, 0, 1, 2],
               output_padding=[1, 1])
    convt_case("convt_sym_outpad", 1, 3, 5, 4, 2, 3, 3, strides=[2, 2], pads=[1, 1, 1, 1],
               output_padding=[1, 1], check_sym=True)
    convt_case("convt_groups", 1, 4, 3, 5, 6, 3, 2, group=2, strides=[2, 3], check_sym=True)
    convt_case("convt_dilation", 1, 2, 4, 5, 3, 3, 3, strides=[2, 2], dilations=[2, 2],
               pads=[2, 1, 0, 1], output_padding=[1, 0])
    convt_case("convt_outshape_same_upper", 1, 2, 5, 4, 3, 3, 3, strides=[2, 2],
               output_shape=[10, 8], auto_pad="SAME_UPPER")
    convt_case("convt_same_lower", 1, 2, 5, 4, 3, 4, 3, strides=[2, 2], auto_pad="SAME_LOWER")
    convt_case("convt_same_upper", 1, 2, 5, 4, 3, 4, 3, strides=[2, 2], auto_pad="SAME_UPPER")
    convt_case("convt_outshape", 1, 2, 5, 4, 3, 3, 3, strides=[2, 2], output_shape=[9, 8])
    convt_case("convt_unet_batch2", 2, 4, 3, 3, 2, 2, 2, strides=[2, 2], check_sym=True)
    convt_case("convt_1x1_spatial", 1, 3, 1, 1, 2, 3, 3, bias=False, strides=[2, 2],
               check_sym=True)

    # ---- BatchNormalization --------------------------------------------------------------
    for name, opset, eps in (("batchnorm_op9", 9, 1e-5), ("batchnorm_op15_eps", 15, 1e-3)):
        r = Rng(name)
        ins = [("x", r.normal(2, 5, 3, 7)), ("c", r.normal(5)), ("c", r.normal(5)),
               ("c", r.normal(5)), ("c", r.uniform(0.2, 2.0, 5))]
        case(name, opset, "BatchNormalization", ins, dict(epsilon=eps),
             lambda x, s, b, m, v, eps=eps: F.batch_norm(x, m, v, s, b, False, 0.0, eps))

    # ---- activations --------------------------------------------------------------------
    def act(name, opset, op, ref, attrs=None, shape=(1, 3, 5, 7), points=(0.0,), extra=()):
        r = Rng(name)
        case(name, opset, op, [("x", r.away_from(*shape, points=points))] + list(extra), attrs,
             ref)

    act("relu", 13, "Relu", F.relu, shape=(2, 3, 5, 7))
    act("leakyrelu", 10, "LeakyRelu", lambda x: F.leaky_relu(x, 0.2), dict(alpha=0.2))
    act("leakyrelu_default", 10, "LeakyRelu", lambda x: F.leaky_relu(x, 0.01))
    r = Rng("prelu")
    act("prelu", 9, "PRelu", lambda x, s: torch.where(x >= 0, x, s * x),
        extra=[("c", r.normal(3, 1, 1))])
    act("sigmoid", 13, "Sigmoid", torch.sigmoid, points=())
    act("tanh", 13, "Tanh", torch.tanh, points=())
    act("elu", 10, "Elu", lambda x: F.elu(x, 0.7), dict(alpha=0.7))
    act("clip_op6", 10, "Clip", lambda x: torch.clamp(x, -0.4, 0.7), dict(min=-0.4, max=0.7),
        points=(-0.4, 0.7))
    act("clip_op13", 13, "Clip", lambda x, lo, hi: torch.clamp(x, lo, hi),
        extra=[("c", f32(-0.6).reshape(())), ("c", f32(0.3).reshape(()))], points=(-0.6, 0.3))
    act("clip_op13_min_only", 13, "Clip", lambda x, lo, hi: torch.clamp(x, min=lo),
        extra=[("c", f32(-0.2).reshape(())), None], points=(-0.2,))
    act("clip_op11_relu6", 11, "Clip", lambda x, lo, hi: torch.clamp(x, lo, hi),
        extra=[("c", f32(0).reshape(())), ("c", f32(1.5).reshape(()))], points=(0.0, 1.5))
    act("clip_op13_min_gt_max", 13, "Clip", lambda x, lo, hi: torch.clamp(x, lo, hi),
        extra=[("c", f32(0.5).reshape(())), ("c", f32(-0.5).reshape(()))], points=(0.5, -0.5))

    # ---- Softmax --------------------------------------------------------------------------
    for name, opset, axis in (("softmax_op11_axis1_coerced", 11, 1),
                              ("softmax_op11_axis2_coerced", 11, 2),
                              ("softmax_op13_axis1", 13, 1),
                              ("softmax_op13_default", 13, None)):
        r = Rng(name)
        attrs = {} if axis is None else dict(axis=axis)
        ax = axis if axis is not None else (-1 if opset >= 13 else 1)
        case(name, opset, "Softmax", [("x", r.normal(1, 3, 4, 5, scale=2.0))], attrs,
             lambda x, ax=ax, opset=opset: onnx_softmax(x, ax, opset))

    # ---- MaxPool --------------------------------------------------------------------------
    def pool_case(name, op, opset, shape, check_torch=None, **attrs):
        r = Rng(name)
        x = r.distinct(*shape) if op == "MaxPool" else r.normal(*shape)
        f = onnx_maxpool if op == "MaxPool" else onnx_avgpool

        def check(x, y):
            if check_torch is not None:
                z = check_torch(x)
                assert z.shape == y.shape and torch.allclose(y, z, atol=1e-12), name
        case(name, opset, op, [("x", x)], attrs, lambda x: f(x, **attrs), TOL_SMOOTH, check)

    pool_case("maxpool_pads_asym", "MaxPool", 11, (1, 3, 9, 8), kernel_shape=[3, 2],
              strides=[2, 2], pads=[1, 0, 2, 1])
    pool_case("maxpool_ceil", "MaxPool", 11, (1, 2, 10, 7), kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1], ceil_mode=1,
              check_torch=lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True))
    pool_case("maxpool_ceil_drop", "MaxPool", 11, (1, 2, 4, 7), kernel_shape=[2, 2],
              strides=[3, 3], pads=[1, 1, 1, 1], ceil_mode=1,
              check_torch=lambda x: F.max_pool2d(x, 2, 3, 1, ceil_mode=True))
    pool_case("maxpool_dilation", "MaxPool", 11, (2, 2, 11, 9), kernel_shape=[3, 3],
              strides=[1, 2], dilations=[2, 2], pads=[1, 1, 1, 1],
              check_torch=lambda x: F.max_pool2d(x, 3, (1, 2), 1, (2, 2)))
    pool_case("maxpool_same_upper", "MaxPool", 11, (1, 2, 7, 6), kernel_shape=[2, 3],
              strides=[2, 2], auto_pad="SAME_UPPER")
    pool_case("maxpool_2x2_unet", "MaxPool", 8, (1, 3, 6, 8), kernel_shape=[2, 2],
              strides=[2, 2], check_torch=lambda x: F.max_pool2d(x, 2))
    pool_case("maxpool_global_window", "MaxPool", 11, (1, 3, 5, 5), kernel_shape=[5, 5])

    # ---- MaxPool's Indices + MaxUnpool (SegNet) -------------------------------------------
    # A two-node graph MaxPool (outputs Y, Indices) -> MaxUnpool, referenced by PyTorch's
    # max_pool2d(return_indices=True) + max_unpool2d, whose indices count within each (n, c)
    # plane while ONNX's count over the whole tensor: the output is the same.  Non-overlapping
    # windows: with repeated indices PyTorch's autograd is not the derivative of its forward.
    def unpool_case(name, opset, shape, k, s, pads, out_hw=None, storage_order=0):
        from onnx import helper
        r = Rng(name)
        pa = dict(kernel_shape=[k, k], strides=[s, s], pads=[pads] * 4)
        ins = [("x", r.distinct(*shape))]
        if out_hw is not None:
            ins.append(("c", i64(shape[0], shape[1], *out_hw)))

        def nodes(nm):
            mp = dict(pa, storage_order=storage_order) if storage_order else pa
            return [helper.make_node("MaxPool", [nm[0]], ["pooled", "indices"], name="pool", **mp),
                    helper.make_node("MaxUnpool", ["pooled", "indices"] + nm[1:], ["y"],
                                     name=name, **pa)]

        def ref(x, *rest):
            y, idx = F.max_pool2d(x, k, s, pads, return_indices=True)
            if storage_order:  # column-major offsets, scattered as row-major ones by MaxUnpool
                n, c, h, w = x.shape
                cm = (idx % w) * h + idx // w
                z = torch.zeros(n, c, h * w, dtype=x.dtype)
                return z.scatter(2, cm.reshape(n, c, -1), y.reshape(n, c, -1)).reshape(x.shape)
            return F.max_unpool2d(y, idx, k, s, pads, output_size=out_hw)

        def check(x, *rest):
            y, idx = F.max_pool2d(x, k, s, pads, return_indices=True)
            assert torch.equal(y, onnx_maxpool(x, [k, k], [s, s], pads=[pads] * 4)), name
            rows = idx.reshape(idx.shape[0] * idx.shape[1], -1).tolist()
            assert all(len(set(v)) == len(v) for v in rows), name  # no repeats in a plane
        case(name, opset, "MaxUnpool", ins, pa, ref, TOL_COPY, check, nodes)

    unpool_case("maxunpool_2x2", 11, (2, 3, 6, 8), 2, 2, 0)
    unpool_case("maxunpool_op9_pads_output_shape", 9, (1, 2, 7, 9), 2, 2, 1, out_hw=(7, 9))
    unpool_case("maxunpool_k3s3_output_shape", 11, (1, 2, 8, 7), 3, 3, 0, out_hw=(8, 7))
    unpool_case("maxpool_indices_storage_order1", 11, (1, 2, 4, 6), 2, 2, 0, storage_order=1)

    # ---- AveragePool ----------------------------------------------------------------------
    pool_case("avgpool_exclude_pad", "AveragePool", 11, (1, 3, 9, 8), kernel_shape=[3, 3],
              strides=[2, 2], pads=[1, 0, 2, 1])
    pool_case("avgpool_include_pad", "AveragePool", 11, (1, 3, 9, 8), kernel_shape=[3, 3],
              strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1,
              check_torch=lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=True))
    pool_case("avgpool_include_pad_asym", "AveragePool", 11, (1, 2, 7, 6), kernel_shape=[3, 2],
              strides=[1, 2], pads=[2, 0, 0, 1], count_include_pad=1)
    pool_case("avgpool_ceil_exclude", "AveragePool", 11, (1, 2, 10, 7), kernel_shape=[3, 3],
              strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
              check_torch=lambda x: F.avg_pool2d(x, 3, 2, 1, True, count_include_pad=False))
    pool_case("avgpool_ceil_include", "AveragePool", 11, (1, 2, 10, 7), kernel_shape=[3, 3],
              strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1,
              check_torch=lambda x: F.avg_pool2d(x, 3, 2, 1, True, count_include_pad=True))
    pool_case("avgpool_ceil_nopad", "AveragePool", 11, (1, 2, 5, 7), kernel_shape=[2, 2],
              strides=[2, 2], ceil_mode=1,
              check_torch=lambda x: F.avg_pool2d(x, 2, 2, 0, True))
    pool_case("avgpool_same_upper", "AveragePool", 11, (1, 2, 7, 6), kernel_shape=[2, 3],
              strides=[2, 2], auto_pad="SAME_UPPER")

    for name, shape in (("globalavgpool", (2, 3, 5, 7)), ("globalavgpool_1x1", (1, 4, 1, 1))):
        r = Rng(name)
        case(name, 7, "GlobalAveragePool", [("x", r.normal(*shape))], {},
             lambda x: x.mean(dim=(2, 3), keepdim=True))

    # ---- Resize / Upsample ----------------------------------------------------------------
    def resize_case(name, opset, shape, mode, scales=None, sizes=None, coord="half_pixel",
                    nearest="round_prefer_floor", cubic_a=-0.75, exclude_outside=0,
                    check_torch=None):
        r = Rng(name)
        x = r.normal(*shape)
        attrs = dict(mode=mode)
        if opset >= 11:
            attrs["coordinate_transformation_mode"] = coord
            if mode == "nearest":
                attrs["nearest_mode"] = nearest
            if mode == "cubic":
                attrs["cubic_coeff_a"] = cubic_a
                attrs["exclude_outside"] = exclude_outside
        else:
            coord = "asymmetric"
            nearest = "simple"
        sc = f32(*scales) if scales is not None else None
        sz = i64(*sizes) if sizes is not None else None
        if opset == 10:
            ins = [("x", x), ("c", sc)]
        elif opset == 11:
            empty = np.zeros(0, dtype=np.float32)
            ins = [("x", x), ("c", empty), ("c", sc if sc is not None else empty)]
            if sz is not None:
                ins.append(("c", sz))
        else:
            ins = [("x", x), None, ("c", sc) if sc is not None else None]
            if sz is not None:
                ins.append(("c", sz))

        def ref(x, *rest):
            return onnx_resize(x, sc, sz, mode, coord, nearest, cubic_a, exclude_outside)

        def check(x, *rest):
            y = rest[-1]
            if check_torch is not None:
                z = check_torch(x)
                assert z.shape == y.shape and torch.allclose(y, z, atol=1e-12), name
        case(name, opset, "Resize", ins, attrs, ref, TOL_RESIZE, check)

    resize_case("resize10_nearest_up", 10, (1, 2, 5, 4), "nearest", scales=(1, 1, 2, 3),
                check_torch=lambda x: F.interpolate(x, scale_factor=(2, 3), mode="nearest"))
    resize_case("resize10_nearest_down", 10, (1, 2, 9, 6), "nearest", scales=(1, 1, 0.75, 0.5))
    resize_case("resize10_linear_up", 10, (1, 2, 5, 4), "linear", scales=(1, 1, 2, 1.5))
    resize_case("resize10_linear_down", 10, (1, 2, 9, 7), "linear", scales=(1, 1, 0.5, 0.75))
    resize_case("resize13_linear_half_pixel", 13, (1, 2, 5, 7), "linear", scales=(1, 1, 2, 1.5),
                check_torch=lambda x: F.interpolate(x, scale_factor=(2, 1.5), mode="bilinear",
                                                    align_corners=False))
    resize_case("resize11_linear_half_pixel", 11, (1, 2, 5, 7), "linear", scales=(1, 1, 3, 2),
                check_torch=lambda x: F.interpolate(x, scale_factor=(3, 2), mode="bilinear",
                                                    align_corners=False))
    resize_case("resize13_linear_pytorch_half_pixel", 13, (1, 2, 5, 4), "linear",
                sizes=(1, 2, 8, 7), coord="pytorch_half_pixel",
                check_torch=lambda x: F.interpolate(x, size=(8, 7), mode="bilinear",
                                                    align_corners=False))
    resize_case("resize13_linear_pytorch_half_pixel_size1", 13, (1, 2, 5, 4), "linear",
                sizes=(1, 2, 1, 6), coord="pytorch_half_pixel")
    resize_case("resize13_linear_align_corners", 13, (1, 2, 5, 7), "linear", sizes=(1, 2, 9, 4),
                coord="align_corners",
                check_torch=lambda x: F.interpolate(x, size=(9, 4), mode="bilinear",
                                                    align_corners=True))
    resize_case("resize13_linear_asymmetric", 13, (1, 2, 5, 7), "linear", scales=(1, 1, 2, 0.5),
                coord="asymmetric")
    resize_case("resize13_linear_down_sizes", 13, (1, 2, 9, 7), "linear", sizes=(1, 2, 4, 3))
    resize_case("resize11_linear_sizes", 11, (1, 2, 5, 3), "linear", sizes=(1, 2, 8, 7))
    resize_case("resize13_nearest_rpf", 13, (1, 2, 7, 6), "nearest", scales=(1, 1, 0.5, 2.5),
                nearest="round_prefer_floor")
    resize_case("resize13_nearest_rpc", 13, (1, 2, 7, 6), "nearest", scales=(1, 1, 0.5, 2.5),
                nearest="round_prefer_ceil")
    resize_case("resize13_nearest_asym_rpf", 13, (1, 2, 4, 5), "nearest", scales=(1, 1, 2, 2),
                coord="asymmetric", nearest="round_prefer_floor")
    resize_case("resize13_nearest_floor", 13, (1, 2, 4, 9), "nearest", scales=(1, 1, 3, 0.75),
                coord="asymmetric", nearest="floor",
                check_torch=lambda x: F.interpolate(x, scale_factor=(3, 0.75), mode="nearest"))
    resize_case("resize13_nearest_ceil", 13, (1, 2, 4, 5), "nearest", scales=(1, 1, 3, 1.5),
                nearest="ceil")
    resize_case("resize13_nearest_align_corners", 13, (1, 2, 5, 4), "nearest", sizes=(1, 2, 9, 7),
                coord="align_corners", nearest="round_prefer_ceil")
    resize_case("resize11_nearest_tf_half_pixel", 11, (1, 2, 5, 8), "nearest",
                scales=(1, 1, 2, 0.75), coord="tf_half_pixel_for_nn", nearest="floor")
    resize_case("resize13_cubic", 13, (1, 2, 5, 6), "cubic", scales=(1, 1, 2, 1.5))
    resize_case("resize13_cubic_tf", 13, (1, 2, 5, 6), "cubic", scales=(1, 1, 2, 1.5),
                cubic_a=-0.5, exclude_outside=1)
    resize_case("resize13_cubic_align_corners", 13, (1, 2, 4, 5), "cubic", sizes=(1, 2, 7, 9),
                coord="align_corners",
                check_torch=lambda x: F.interpolate(x, size=(7, 9), mode="bicubic",
                                                    align_corners=True))
    resize_case("resize13_cubic_down_tf", 13, (1, 2, 9, 8), "cubic", sizes=(1, 2, 5, 3),
                cubic_a=-0.5, exclude_outside=1)

    def upsample_case(name, opset, shape, mode, scales, check_torch=None):
        r = Rng(name)
        sc = f32(*scales)
        if opset == 7:
            ins, attrs = [("x", r.normal(*shape))], dict(mode=mode, scales=[float(s) for s in sc])
        else:
            ins, attrs = [("x", r.normal(*shape)), ("c", sc)], dict(mode=mode)

        def check(x, *rest):
            if check_torch is not None:
                z = check_torch(x)
                assert z.shape == rest[-1].shape and torch.allclose(rest[-1], z, atol=1e-12)
        case(name, opset, "Upsample", ins, attrs,
             lambda x, *rest: onnx_resize(x, sc, None, mode, "asymmetric", "simple"),
             TOL_RESIZE, check)

    upsample_case("upsample7_nearest", 7, (1, 2, 3, 5), "nearest", (1, 1, 2, 3),
                  check_torch=lambda x: F.interpolate(x, scale_factor=(2, 3), mode="nearest"))
    upsample_case("upsample9_linear", 9, (1, 2, 5, 4), "linear", (1, 1, 2, 1.5))
    upsample_case("upsample9_nearest", 9, (1, 2, 5, 4), "nearest", (1, 1, 1.5, 2))

    # ---- Concat, binary, data movement ----------------------------------------------------
    r = Rng("concat_axis1")
    case("concat_axis1", 11, "Concat",
         [("x", r.normal(1, 2, 3, 5)), ("x", r.normal(1, 1, 3, 5)), ("x", r.normal(1, 3, 3, 5))],
         dict(axis=1), lambda *xs: torch.cat(xs, 1), TOL_COPY)
    r = Rng("concat_axis_neg1")
    case("concat_axis_neg1", 13, "Concat", [("x", r.normal(2, 3, 4)), ("x", r.normal(2, 3, 1))],
         dict(axis=-1), lambda *xs: torch.cat(xs, -1), TOL_COPY)

    binops = dict(Add=torch.add, Sub=torch.sub, Mul=torch.mul, Div=torch.div)
    for op, (sa, sb) in (("Add", ((2, 3, 4, 5), (3, 1, 5))), ("Sub", ((1, 3, 1, 5), (2, 1, 4, 1))),
                         ("Mul", ((2, 3, 4, 5), (1,))), ("Div", ((3, 4, 5), (2, 3, 1, 5))),
                         ("Add", ((1, 4, 3, 3), (1, 4, 3, 3)))):
        name = f"{op.lower()}_bcast_" + "x".join(map(str, sb)) if sa != sb else "add_same_shape"
        r = Rng(name)
        b = r.normal(*sb)
        if op == "Div":
            b = (np.sign(b) * (0.5 + np.abs(b))).astype(np.float32)
        case(name, 13, op, [("x", r.normal(*sa)), ("x", b)], {}, binops[op])
    r = Rng("add_const")
    case("add_const", 13, "Add", [("x", r.normal(1, 3, 2, 4)), ("c", r.normal(3, 1, 1))], {},
         torch.add)

    r = Rng("identity")
    case("identity", 13, "Identity", [("x", r.normal(1, 3, 5, 7))], {}, lambda x: x, TOL_COPY)
    r = Rng("dropout_op12")
    case("dropout_op12", 12, "Dropout", [("x", r.normal(1, 3, 5, 7)), ("c", f32(0.3).reshape(()))],
         {}, lambda x, ratio: x, TOL_COPY)
    r = Rng("dropout_op10")
    case("dropout_op10", 10, "Dropout", [("x", r.normal(1, 3, 5, 7))], dict(ratio=0.4),
         lambda x: x, TOL_COPY)
    r = Rng("flatten")
    case("flatten", 13, "Flatten", [("x", r.normal(2, 3, 5, 7))], {},
         lambda x: x.reshape(2, -1), TOL_COPY)
    r = Rng("flatten_axis2")
    case("flatten_axis2", 13, "Flatten", [("x", r.normal(2, 3, 5, 7))], dict(axis=2),
         lambda x: x.reshape(6, 35), TOL_COPY)
    r = Rng("reshape")
    case("reshape", 13, "Reshape", [("x", r.normal(2, 3, 5, 7)), ("c", i64(0, -1, 7))], {},
         lambda x, s: x.reshape(2, 15, 7), TOL_COPY)
    r = Rng("transpose_nhwc")
    case("transpose_nhwc", 13, "Transpose", [("x", r.normal(2, 3, 5, 7))], dict(perm=[0, 2, 3, 1]),
         lambda x: x.permute(0, 2, 3, 1), TOL_COPY)
    r = Rng("transpose_default")
    case("transpose_default", 13, "Transpose", [("x", r.normal(2, 3, 5))], {},
         lambda x: x.permute(2, 1, 0), TOL_COPY)

    def pad_case(name, opset, shape, pads, mode, value=None):
        r = Rng(name)
        x = r.normal(*shape)
        if opset < 11:
            attrs = dict(mode=mode, pads=list(pads))
            if value is not None:
                attrs["value"] = value
            ins = [("x", x)]
        else:
            attrs = dict(mode=mode)
            ins = [("x", x), ("c", i64(*pads))]
            if value is not None:
                ins.append(("c", f32(value).reshape(())))
        case(name, opset, "Pad", ins, attrs,
             lambda x, *rest: onnx_pad(x, pads, mode, value or 0.0),
             TOL_COPY if mode == "constant" else TOL_SMOOTH)

    pad_case("pad_constant", 11, (1, 2, 5, 4), (0, 1, 2, 0, 0, 0, 1, 3), "constant", 0.5)
    pad_case("pad_constant_crop", 13, (1, 2, 5, 4), (0, 0, -1, 2, 0, 1, 1, -2), "constant")
    pad_case("pad_reflect", 11, (1, 2, 5, 4), (0, 0, 2, 3, 0, 0, 4, 1), "reflect")
    pad_case("pad_edge", 13, (1, 2, 5, 4), (0, 0, 3, 1, 0, 0, 0, 5), "edge")
    pad_case("pad_op2_attrs", 10, (1, 2, 3, 4), (0, 0, 1, 2, 0, 0, 2, 1), "constant", -1.25)

    # ---- 1-D windows ([N, C, L]; segcam runs them as 2-D with H = 1) -----------------------
    r = Rng("conv1d_pads_stride_dil")
    case("conv1d_pads_stride_dil", 11, "Conv",
         [("x", r.normal(2, 3, 11)), ("c", r.normal(4, 3, 3, scale=0.5)), ("c", r.normal(4))],
         dict(kernel_shape=[3], pads=[1, 2], strides=[2], dilations=[2]),
         lambda x, w, b: F.conv1d(F.pad(x, (1, 2)), w, b, stride=2, dilation=2), TOL_GEMM)
    r = Rng("conv1d_group_kernel_from_w")
    case("conv1d_group_kernel_from_w", 13, "Conv",
         [("x", r.normal(1, 4, 9)), ("c", r.normal(6, 2, 3, scale=0.5))],
         dict(group=2, pads=[1, 1]), lambda x, w: F.conv1d(x, w, None, padding=1, groups=2),
         TOL_GEMM)
    r = Rng("convtranspose1d")
    case("convtranspose1d", 11, "ConvTranspose",
         [("x", r.normal(1, 3, 6)), ("c", r.normal(3, 2, 4, scale=0.5)), ("c", r.normal(2))],
         dict(kernel_shape=[4], strides=[2], pads=[1, 1], output_padding=[1]),
         lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
         TOL_GEMM)
    r = Rng("maxpool1d")
    case("maxpool1d", 11, "MaxPool", [("x", r.distinct(1, 3, 10))],
         dict(kernel_shape=[3], strides=[2], pads=[1, 1]), lambda x: F.max_pool1d(x, 3, 2, 1))
    r = Rng("avgpool1d_include_pad")
    case("avgpool1d_include_pad", 11, "AveragePool", [("x", r.normal(2, 2, 9))],
         dict(kernel_shape=[3], strides=[2], pads=[1, 1], count_include_pad=1),
         lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=True))
    r = Rng("avgpool1d_asym_exclude_pad")
    case("avgpool1d_asym_exclude_pad", 11, "AveragePool", [("x", r.normal(1, 3, 8))],
         dict(kernel_shape=[2], strides=[3], pads=[1, 0]),
         lambda x: onnx_avgpool(x.unsqueeze(2), [1, 2], [1, 3], pads=[0, 1, 0, 0]).squeeze(2))

    # ---- DepthToSpace / SpaceToDepth ------------------------------------------------------
    def d2s_case(name, opset, shape, b, mode=None):
        r = Rng(name)
        attrs = dict(blocksize=b)
        if mode is not None:
            attrs["mode"] = mode

        def check(x, y):
            if mode == "CRD":  # PyTorch's PixelShuffle is CRD
                assert torch.equal(y, F.pixel_shuffle(x, b)), name
        case(name, opset, "DepthToSpace", [("x", r.normal(*shape))], attrs,
             lambda x: onnx_depth_to_space(x, b, mode or "DCR"), TOL_COPY, check)

    d2s_case("depthtospace_dcr", 13, (2, 12, 3, 4), 2, "DCR")
    d2s_case("depthtospace_crd_b3", 11, (1, 18, 2, 3), 3, "CRD")
    d2s_case("depthtospace_op9_default", 9, (1, 8, 3, 2), 2)

    def s2d_case(name, opset, shape, b):
        r = Rng(name)

        def check(x, y):  # pixel_unshuffle is the CRD order: regroup its channels to DCR
            n, c, h, w = x.shape
            u = F.pixel_unshuffle(x, b).reshape(n, c, b * b, h // b, w // b).transpose(1, 2)
            assert torch.equal(y, u.reshape(y.shape)), name
        case(name, opset, "SpaceToDepth", [("x", r.normal(*shape))], dict(blocksize=b),
             lambda x: onnx_space_to_depth(x, b), TOL_COPY, check)

    s2d_case("spacetodepth", 13, (2, 3, 4, 6), 2)
    s2d_case("spacetodepth_op9_b3", 9, (1, 2, 6, 3), 3)

    # ---- Gemm / MatMul --------------------------------------------------------------------
    r = Rng("gemm_transb_bias")
    case("gemm_transb_bias", 13, "Gemm",
         [("x", r.normal(3, 5)), ("c", r.normal(4, 5)), ("c", r.normal(4))], dict(transB=1),
         lambda a, b, c: a @ b.T + c, TOL_GEMM)
    r = Rng("gemm_alpha_beta")
    case("gemm_alpha_beta", 11, "Gemm",
         [("x", r.normal(5, 3)), ("c", r.normal(5, 4)), ("c", r.normal(1, 4))],
         dict(transA=1, alpha=0.7, beta=1.3), lambda a, b, c: 0.7 * a.T @ b + 1.3 * c, TOL_GEMM)
    r = Rng("gemm_nobias")
    case("gemm_nobias", 13, "Gemm", [("x", r.normal(2, 6)), ("c", r.normal(6, 3))], {},
         lambda a, b: a @ b, TOL_GEMM)
    r = Rng("matmul_dense_nd")
    case("matmul_dense_nd", 13, "MatMul", [("x", r.normal(2, 3, 4, 5)), ("c", r.normal(5, 6))],
         {}, torch.matmul, TOL_GEMM)
    r = Rng("matmul_2d")
    case("matmul_2d", 13, "MatMul", [("x", r.normal(1, 12)), ("c", r.normal(12, 7))], {},
         torch.matmul, TOL_GEMM)
    r = Rng("matmul_two_inputs")
    case("matmul_two_inputs", 13, "MatMul", [("x", r.normal(2, 1, 3, 4)), ("x", r.normal(3, 4, 2))],
         {}, torch.matmul, TOL_GEMM)


# ------------------------------------------------------------------------------------------------
# Model building, evaluation, checks, output
# ------------------------------------------------------------------------------------------------

def build_model(c, out_shape):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    names, graph_inputs, inits = [], [], []
    nx = nc = 0
    for slot in c["inputs"]:
        if slot is None:
            names.append("")
            continue
        kind, arr = slot
        if kind == "x":
            nm = f"x{nx}"
            nx += 1
            graph_inputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, arr.shape))
        else:
            nm = f"c{nc}"
            nc += 1
            inits.append(numpy_helper.from_array(arr, nm))
        names.append(nm)
    while names and names[-1] == "":
        names.pop()
    if c["nodes"] is not None:
        nodes = c["nodes"](names)
    else:
        nodes = [helper.make_node(c["op"], names, ["y"], name=c["name"], **c["attrs"])]
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)
    graph = helper.make_graph(nodes, c["name"], graph_inputs, [out], initializer=inits)
    model = helper.make_model(graph, producer_name="segcam tools/gen_op_refs.py",
                              opset_imports=[helper.make_opsetid("", c["opset"])])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def evaluate(c, dtype):
    """Runs the reference in `dtype`; returns (slots, graph-input tensors, output)."""
    slots, xs = [], []
    for slot in c["inputs"]:
        if slot is None:
            slots.append(None)
            continue
        kind, arr = slot
        if arr.dtype == np.int64:
            slots.append(arr)
            continue
        t = torch.from_numpy(arr).to(dtype)
        if kind == "x":
            t.requires_grad_(True)
            xs.append(t)
        slots.append(t)
    y = c["ref"](*slots)
    return slots, xs, y


def worst_excess(got, ref, atol, rtol):
    """max over elements of |got-ref| / (atol + rtol |ref|) (<= 1 passes)."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(got - ref) / (atol + rtol * np.abs(ref)), initial=0.0))


def run_case(c, out_dir):
    name = c["name"]
    slots, xs, y = evaluate(c, torch.float64)
    if c["check"] is not None:
        with torch.no_grad():
            c["check"](*slots, y)
    seed = Rng(name + ".seed").normal(*y.shape)
    grads = torch.autograd.grad(y, xs, torch.from_numpy(seed).double()) if xs else []

    # Tolerance evidence: PyTorch float32 through the same formulation must pass 10x inside.
    atol, rtol = c["tol"]
    _, xs32, y32 = evaluate(c, torch.float32)
    g32 = torch.autograd.grad(y32, xs32, torch.from_numpy(seed)) if xs32 else []
    margin = worst_excess(y32.detach(), y.detach(), atol, rtol)
    for a, b in zip(g32, grads):
        margin = max(margin, worst_excess(a, b, atol, rtol))
    if margin > 0.1:
        raise SystemExit(f"{name}: float32 PyTorch uses {margin:.3g} of the tolerance (> 0.1)")

    model = build_model(c, list(y.shape))

    def save(fname, a):
        # C order always: a permuted view would otherwise be stored with fortran_order True.
        np.save(os.path.join(out_dir, fname), np.ascontiguousarray(a, dtype=np.float32))
    with open(os.path.join(out_dir, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, t in enumerate(xs):
        save(f"{name}.in{i}.npy", t.detach().numpy())
    save(f"{name}.out.npy", y.detach().numpy())
    save(f"{name}.seed.npy", seed)
    for i, gr in enumerate(grads):
        save(f"{name}.grad{i}.npy", gr.numpy())
    print(f"{name:42s} opset {c['opset']:2d} {c['op']:18s} out {list(y.shape)}  "
          f"f32 uses {margin:.2g} of tol")
    return f"{name} {len(xs)} {atol:g} {rtol:g}"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "data", "ops"))
    ap.add_argument("--only", nargs="*", help="generate only these cases (cases.txt untouched)")
    args = ap.parse_args()
    torch.manual_seed(0)
    define_cases()
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    os.makedirs(args.out, exist_ok=True)
    selected = [c for c in CASES if not args.only or c["name"] in args.only]
    if not args.only:
        for p in glob.glob(os.path.join(args.out, "*.onnx")) + \
                glob.glob(os.path.join(args.out, "*.npy")):
            os.remove(p)
    lines = [run_case(c, args.out) for c in selected]
    if not args.only:
        with open(os.path.join(args.out, "cases.txt"), "w") as f:
            f.write("# Generated by /usr/bin/python3 tools/gen_op_refs.py -- do not edit.\n"
                    "# name n_inputs atol rtol   (pass: |got-ref| <= atol + rtol*|ref|, for the\n"
                    "# output and for every graph input's gradient)\n")
            f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} cases written to {os.path.normpath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
