#!/usr/bin/python3
"""Float64 PyTorch interpreter of ONNX graphs, and Seg-Grad-CAM references for real models.

The interpreter walks an ONNX graph's nodes in order, evaluating each with PyTorch functional
ops in float64 (the ONNX semantics helpers of tools/gen_op_refs.py, which its op cases check
against onnxruntime), so torch.autograd gives exact-arithmetic-quality gradients with respect to
any intermediate tensor.  Integer shape arithmetic (Shape, Gather, Unsqueeze, Cast, Slice,
Concat, Mul, ...) is evaluated on NumPy int64 arrays, as a loader would fold it.

For each model below this writes into tests/data/models/ (file names use the model's stem):
  <model>.input.npy                 the exact model input (float32, the model's own layout)
  <model>.output.npy                the float64 output (stored float32), only when small
  <model>.<layer>.c<k>.region.npy   uint8 [H, W]: the target region M (1 = in M)
  <model>.<layer>.c<k>.low.npy      float32 [h, w]: ReLU(sum_k w_k A_k) before upsampling
  <model>.<layer>.c<k>.cam.npy      float32 [H, W]: the normalised Grad-CAM at the input size
  cams.txt                          manifest, one line per (model, layer, class); see its header
where <layer> is the ONNX tensor name of the target layer's output with every character outside
[A-Za-z0-9._-] replaced by '_' and leading '_' removed.

Seg-Grad-CAM (docs CAM_METHODS.md, segcam's defaults):
  y   the class logits: output 0, or the input of a trailing Softmax/Sigmoid (only Transpose,
      Reshape or Identity between it and the output);
  M   single-channel output: pixels with logit > 0; K >= 2 classes: pixels whose argmax over the
      channel axis (1, NCHW) is c (ties: the first maximum, as numpy/torch argmax);
  S   sum over M of y_c;  g = dS/dA by autograd, A = the layer's output (batch 1);
  w_k = mean over (i, j) of g_kij;  L = ReLU(sum_k w_k A_k);
  L upsampled to the input's H x W by bilinear interpolation with half-pixel centres
      (F.interpolate, align_corners=False, no antialiasing; = TF2 tf.image.resize / OpenCV);
  min-max normalised: (L - min) / (max - min), all zeros when max == min.

Cross-check: when tests/data/models/<model>.ort.npy exists (written by tools/ort_ref.js from
the same input), the float64 forward output is compared with onnxruntime's and the maximum
absolute difference is printed.  Order of regeneration:
    /usr/bin/python3 tools/onnx_torch_ref.py      # inputs, CAMs (and the check, if .ort.npy exist)
    node tools/ort_ref.js                         # onnxruntime outputs
    /usr/bin/python3 tools/onnx_torch_ref.py --check-only
"""

import argparse
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_op_refs as R  # noqa: E402  (ONNX semantics helpers, checked against onnxruntime)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "models"))
OUT_DIR = os.path.join(ROOT, "tests", "data", "models")
SMALL_OUTPUT = 4096  # elements: write <model>.output.npy only up to this size


# ------------------------------------------------------------------------------------------------
# Interpreter
# ------------------------------------------------------------------------------------------------

class Graph:
    def __init__(self, path):
        import onnx
        from onnx import numpy_helper
        self.path = path
        self.model = onnx.load(path)
        g = self.model.graph
        self.opset = next(o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx"))
        self.inits = {}
        for t in g.initializer:
            a = numpy_helper.to_array(t)
            self.inits[t.name] = a
        self.inputs = [i.name for i in g.input if i.name not in self.inits]
        self.outputs = [o.name for o in g.output]
        self.nodes = list(g.node)
        self.producer = {o: n for n in self.nodes for o in n.output}

    def attrs(self, node):
        from onnx import helper
        out = {}
        for a in node.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            out[a.name] = v
        return out

    def logits_name(self):
        """Output 0, or the input of a trailing Softmax/Sigmoid seen through layout ops."""
        name = self.outputs[0]
        while name in self.producer:
            n = self.producer[name]
            if n.op_type in ("Softmax", "Sigmoid"):
                return n.input[0], n.op_type
            if n.op_type in ("Transpose", "Reshape", "Identity"):
                name = n.input[0]
                continue
            break
        return self.outputs[0], None

    def run(self, feeds):
        """feeds: name -> float64 tensor.  Returns every value (float tensors or int64 arrays)."""
        env = {}
        for k, a in self.inits.items():
            env[k] = torch.from_numpy(a.astype(np.float64)) if a.dtype.kind == "f" else a
        env.update(feeds)
        for node in self.nodes:
            args = [env[i] if i else None for i in node.input]
            outs = eval_node(node.op_type, args, self.attrs(node), self.opset)
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for name, v in zip(node.output, outs):
                if name:
                    env[name] = v
        return env


def _is_int(v):
    return isinstance(v, np.ndarray) and v.dtype.kind in "iub"


def _f(v):
    """A float operand as a float64 tensor."""
    if isinstance(v, torch.Tensor):
        return v
    return torch.from_numpy(np.asarray(v, dtype=np.float64))


def _ints(v):
    if v is None:
        return None
    if isinstance(v, torch.Tensor):
        return [int(x) for x in v.reshape(-1).tolist()]
    return [int(x) for x in np.asarray(v).reshape(-1)]


def _floats(v):
    if v is None:
        return None
    if isinstance(v, torch.Tensor):
        return [float(x) for x in v.reshape(-1).tolist()]
    return [float(x) for x in np.asarray(v).reshape(-1)]


def _given(v):
    """An optional input that is present and non-empty."""
    return v is not None and int(np.prod(v.shape)) > 0


def eval_node(op, a, at, opset):
    x = a[0] if a else None
    if op == "Conv":
        return R.onnx_conv(x, a[1], a[2] if len(a) > 2 else None, at.get("strides"),
                           at.get("dilations"), at.get("pads"), at.get("group", 1),
                           at.get("auto_pad", "NOTSET"))
    if op == "ConvTranspose":
        return R.onnx_conv_transpose(x, a[1], a[2] if len(a) > 2 else None, at.get("strides"),
                                     at.get("dilations"), at.get("pads"), at.get("group", 1),
                                     at.get("output_padding"), at.get("output_shape"),
                                     at.get("auto_pad", "NOTSET"))
    if op == "BatchNormalization":
        return F.batch_norm(x, a[3], a[4], a[1], a[2], False, 0.0, at.get("epsilon", 1e-5))
    if op == "Relu":
        return F.relu(x)
    if op == "LeakyRelu":
        return F.leaky_relu(x, at.get("alpha", 0.01))
    if op == "Elu":
        return F.elu(x, at.get("alpha", 1.0))
    if op == "Sigmoid":
        return torch.sigmoid(x)
    if op == "Tanh":
        return torch.tanh(x)
    if op == "PRelu":
        return torch.where(x >= 0, x, a[1] * x)
    if op == "Clip":
        if opset < 11:
            return torch.clamp(x, at.get("min", -3.4028234663852886e38),
                               at.get("max", 3.4028234663852886e38))
        lo = a[1] if len(a) > 1 and a[1] is not None else None
        hi = a[2] if len(a) > 2 and a[2] is not None else None
        return torch.clamp(x, lo, hi)
    if op == "Softmax":
        return R.onnx_softmax(x, at.get("axis", -1 if opset >= 13 else 1), opset)
    if op == "MaxPool":
        return R.onnx_maxpool(x, at["kernel_shape"], at.get("strides"), at.get("dilations"),
                              at.get("pads"), at.get("auto_pad", "NOTSET"), at.get("ceil_mode", 0))
    if op == "AveragePool":
        return R.onnx_avgpool(x, at["kernel_shape"], at.get("strides"), at.get("pads"),
                              at.get("auto_pad", "NOTSET"), at.get("ceil_mode", 0),
                              at.get("count_include_pad", 0))
    if op == "GlobalAveragePool":
        return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)
    if op == "GlobalMaxPool":
        return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)
    if op in ("Resize", "Upsample"):
        if op == "Upsample" or opset < 11:
            scales = at["scales"] if op == "Upsample" and opset < 9 else _floats(a[1])
            nm = "simple" if at.get("mode", "nearest") == "nearest" else None
            return R.onnx_resize(x, scales, None, at.get("mode", "nearest"), "asymmetric", nm)
        scales = _floats(a[2]) if len(a) > 2 and _given(a[2]) else None
        sizes = _ints(a[3]) if len(a) > 3 and _given(a[3]) else None
        return R.onnx_resize(x, scales, sizes, at.get("mode", "nearest"),
                             at.get("coordinate_transformation_mode", "half_pixel"),
                             at.get("nearest_mode", "round_prefer_floor"),
                             at.get("cubic_coeff_a", -0.75), at.get("exclude_outside", 0))
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"):
        if all(_is_int(v) for v in a):
            fn = dict(Add=np.add, Sub=np.subtract, Mul=np.multiply, Pow=np.power,
                      Max=np.maximum, Min=np.minimum,
                      Div=lambda p, q: np.trunc(p / q).astype(np.int64))[op]
            out = a[0]
            for v in a[1:]:
                out = fn(out, v)
            return out
        fn = dict(Add=torch.add, Sub=torch.sub, Mul=torch.mul, Div=torch.div, Pow=torch.pow,
                  Max=torch.maximum, Min=torch.minimum)[op]
        out = _f(a[0])
        for v in a[1:]:
            out = fn(out, _f(v))
        return out
    if op == "MatMul":
        return torch.matmul(_f(a[0]), _f(a[1]))
    if op == "Gemm":
        A = a[0].T if at.get("transA", 0) else a[0]
        B = a[1].T if at.get("transB", 0) else a[1]
        y = at.get("alpha", 1.0) * (A @ B)
        if len(a) > 2 and a[2] is not None:
            y = y + at.get("beta", 1.0) * a[2]
        return y
    if op == "Concat":
        if all(_is_int(v) for v in a):
            return np.concatenate([np.asarray(v) for v in a], axis=at["axis"])
        return torch.cat([_f(v) for v in a], dim=at["axis"])
    if op in ("Identity", "Dropout"):
        return x
    if op == "Flatten":
        ax = at.get("axis", 1) % max(x.dim(), 1)
        return x.reshape(int(np.prod(x.shape[:ax])), -1)
    if op == "Reshape":
        shape = _ints(a[1]) if len(a) > 1 else list(at["shape"])
        if not at.get("allowzero", 0):
            shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return x.reshape(shape)
    if op == "Transpose":
        perm = at.get("perm", list(reversed(range(len(x.shape)))))
        return np.transpose(x, perm) if _is_int(x) else x.permute(*perm)
    if op == "Pad":
        if opset < 11:
            return R.onnx_pad(x, at["pads"], at.get("mode", "constant"), at.get("value", 0.0))
        value = float(_floats(a[2])[0]) if len(a) > 2 and a[2] is not None else 0.0
        return R.onnx_pad(x, _ints(a[1]), at.get("mode", "constant"), value)
    # ---- shape arithmetic on int64 arrays --------------------------------------------------
    if op == "Constant":
        from onnx import numpy_helper
        if "value" in at:
            v = numpy_helper.to_array(at["value"])
        elif "value_float" in at:
            v = np.array(at["value_float"], dtype=np.float32)
        elif "value_floats" in at:
            v = np.array(at["value_floats"], dtype=np.float32)
        elif "value_int" in at:
            v = np.array(at["value_int"], dtype=np.int64)
        else:
            v = np.array(at["value_ints"], dtype=np.int64)
        return torch.from_numpy(v.astype(np.float64)) if v.dtype.kind == "f" else v.astype(np.int64)
    if op == "Shape":
        shape = np.array(list(x.shape), dtype=np.int64)
        return shape[at.get("start", 0):at.get("end", len(shape))]
    if op == "Gather":
        idx = np.asarray(a[1]).astype(np.int64)
        if _is_int(x):
            return np.take(x, idx, axis=at.get("axis", 0))
        t = torch.from_numpy(idx.reshape(-1))
        out = torch.index_select(x, at.get("axis", 0), t % x.shape[at.get("axis", 0)])
        shape = list(x.shape)
        ax = at.get("axis", 0) % x.dim()
        return out.reshape(shape[:ax] + list(idx.shape) + shape[ax + 1:])
    if op == "Unsqueeze":
        axes = at["axes"] if opset < 13 else _ints(a[1])
        v = x
        rank = len(x.shape) + len(axes)
        for ax in sorted(ax % rank for ax in axes):
            v = np.expand_dims(v, ax) if _is_int(v) else v.unsqueeze(ax)
        return v
    if op == "Squeeze":
        axes = at.get("axes") if opset < 13 else (_ints(a[1]) if len(a) > 1 else None)
        if axes is None:
            axes = [i for i, d in enumerate(x.shape) if d == 1]
        axes = tuple(sorted(ax % len(x.shape) for ax in axes))
        return np.squeeze(x, axis=axes) if _is_int(x) else x.reshape(
            [d for i, d in enumerate(x.shape) if i not in axes])
    if op == "Cast":
        to = at["to"]
        if to in (6, 7, 9):  # INT32, INT64, BOOL -> int64 shape arithmetic
            return (x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)) \
                .astype(np.int64)
        return _f(np.asarray(x, dtype=np.float64)) if not isinstance(x, torch.Tensor) else x
    if op == "Floor":
        return np.floor(x) if not isinstance(x, torch.Tensor) else torch.floor(x)
    if op == "Slice":
        if opset < 10:
            starts, ends = at["starts"], at["ends"]
            axes = at.get("axes", list(range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts, ends = _ints(a[1]), _ints(a[2])
            axes = _ints(a[3]) if len(a) > 3 and a[3] is not None else list(range(len(starts)))
            steps = _ints(a[4]) if len(a) > 4 and a[4] is not None else [1] * len(starts)
        sl = [slice(None)] * len(x.shape)
        for s, e, ax, st in zip(starts, ends, axes, steps):
            n = x.shape[ax]
            s = max(-n - 1, min(n, s))
            e = max(-n - 1, min(n, e))
            sl[ax] = slice(s, e, st)
        assert all(s.step is None or s.step > 0 for s in sl), "negative Slice steps"
        return x[tuple(sl)]
    if op == "ConstantOfShape":
        from onnx import numpy_helper
        v = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
        out = np.full(_ints(x), v.reshape(-1)[0], dtype=v.dtype)
        return torch.from_numpy(out.astype(np.float64)) if out.dtype.kind == "f" else out
    raise NotImplementedError(f"op {op} (opset {opset})")


# ------------------------------------------------------------------------------------------------
# Seg-Grad-CAM
# ------------------------------------------------------------------------------------------------

def seg_gradcam(graph, x, layer, cls):
    """Returns dict(region, low, cam, score, pixels, margin_pixels, out) for one class."""
    x = x.detach().clone().requires_grad_(True)  # so that autograd records the graph
    env = graph.run({graph.inputs[0]: x})
    A = env[layer]
    lname, _ = graph.logits_name()
    y = env[lname]
    assert y.dim() == 4 and y.shape[0] == 1, "NCHW output of batch 1 expected"
    if y.shape[1] == 1:
        logit = y[0, 0]
        region = logit > 0
        margin = (logit.abs() < 1e-4).sum().item()
    else:
        logit = y[0, cls]
        region = y[0].argmax(0) == cls
        top2 = torch.topk(y[0], 2, dim=0).values
        margin = ((top2[0] - top2[1]) < 1e-4).sum().item()
    score = (logit * region.to(logit.dtype)).sum()
    g, = torch.autograd.grad(score, A)
    with torch.no_grad():
        w = g.mean(dim=(2, 3), keepdim=True)
        low = F.relu((w * A).sum(dim=1, keepdim=True))
        hw = tuple(x.shape[2:]) if graph.layout == "NCHW" else tuple(x.shape[1:3])
        up = F.interpolate(low, size=hw, mode="bilinear", align_corners=False)[0, 0]
        lo, hi = up.min(), up.max()
        cam = (up - lo) / (hi - lo) if hi > lo else torch.zeros_like(up)
    return dict(region=region.numpy().astype(np.uint8), low=low[0, 0].numpy(), cam=cam.numpy(),
                score=float(score), pixels=int(region.sum()), margin_pixels=int(margin),
                out=env[graph.outputs[0]].detach())


def stem_of(tensor_name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", tensor_name).lstrip("_")


def save(path, a, dtype=np.float32):
    np.save(path, np.ascontiguousarray(a, dtype=dtype))


# ------------------------------------------------------------------------------------------------
# The models
# ------------------------------------------------------------------------------------------------

def gray_input(png, size):
    from PIL import Image
    im = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    assert im.shape[:2] == size, im.shape
    g = (0.299 * im[..., 0] + 0.587 * im[..., 1] + 0.114 * im[..., 2]) / 255.0
    return g[None, None].astype(np.float32)


def rgb_input(png):
    from PIL import Image
    im = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(im.transpose(2, 0, 1)[None])


# (model stem, path relative to the repository root, input builder, layout,
#  [(layer tensor, why)], classes).  Classes index the output channel; a single-channel output
# has class 0 (its foreground, logit > 0).
MODELS = [
    dict(stem="pt26_sed_unet_op18", path="../shared/models/pt26_sed_unet_op18.onnx",
         input=lambda: gray_input(os.path.join(SHARED, "images", "img_sed_input_00050.png"),
                                  (224, 224)),
         input_doc="img_sed_input_00050.png -> gray (0.299R+0.587G+0.114B)/255, [1,1,224,224]",
         layout="NCHW",
         layers=["/decoder2/decoder2.3/Relu_output_0",      # last conv block before upconv1
                 "/bottleneck/bottleneck.3/Relu_output_0"],  # the bottleneck
         classes=[0]),
    dict(stem="pt113_cloud_unet_op10", path="../shared/models/pt113_cloud_unet_op10.onnx",
         input=lambda: np.random.default_rng(113).uniform(0, 1, (1, 4, 224, 224))
         .astype(np.float32),
         input_doc="numpy default_rng(113).uniform(0, 1, (1,4,224,224)) as float32",
         layout="NCHW",
         # upconv1's convs have one channel; the last multi-channel block before the final
         # upsampling steps is upconv2, and conv3's pooled output is the bottleneck.
         layers=["upconv2/upconv2.5/Relu_output_0",
                 "conv3/conv3.6/MaxPool_output_0"],
         classes=[0]),
    dict(stem="unet_shapes", path="examples/demo/unet_shapes.onnx",
         input=lambda: rgb_input(os.path.join(ROOT, "examples", "demo", "scene1.png")),
         input_doc="examples/demo/scene1.png -> RGB/255, NCHW [1,3,128,128]",
         layout="NCHW",
         layers=None,  # chosen from the graph: see demo_layers()
         classes=[1, 2]),
    dict(stem="tf2onnx_emotion_op15", path="../shared/models/tf2onnx_emotion_op15.onnx",
         input=None,  # written by tools/ort_ref.js (deterministic random NHWC [1,48,48,1])
         input_doc="tools/ort_ref.js mulberry32 random in [0,1), NHWC [1,48,48,1]",
         layout="NHWC", layers=[], classes=[]),
]


def demo_layers(graph):
    """The demo U-Net (tools/make_demo.py): the output of dec2 (the last conv block before the
    final upsampling up1) and of the bottleneck block: the ReLU feeding the last
    ConvTranspose, and the ReLU feeding the first one."""
    convt = [n for n in graph.nodes if n.op_type == "ConvTranspose"]
    return [convt[-1].input[0], convt[0].input[0]]


def process(m, args, manifest):
    path = os.path.normpath(os.path.join(ROOT, m["path"]))
    if not os.path.exists(path):
        print(f"skip {m['path']}: not present")
        return
    graph = Graph(path)
    graph.layout = m["layout"]
    in_file = os.path.join(OUT_DIR, m["stem"] + ".input.npy")
    if m["input"] is not None:
        xin = m["input"]()
        if not args.check_only:
            save(in_file, xin)
    elif os.path.exists(in_file):
        xin = np.load(in_file)
    else:
        print(f"skip {m['stem']}: {in_file} missing (run node tools/ort_ref.js)")
        return
    x = torch.from_numpy(xin.astype(np.float64))
    with torch.no_grad():
        env = graph.run({graph.inputs[0]: x})
    out = env[graph.outputs[0]]
    print(f"{m['stem']}: opset {graph.opset}, input {list(x.shape)} -> output {list(out.shape)} "
          f"range [{float(out.min()):.5g}, {float(out.max()):.5g}]")
    if not args.check_only and out.numel() <= SMALL_OUTPUT:
        save(os.path.join(OUT_DIR, m["stem"] + ".output.npy"), out.numpy())
    ort_file = os.path.join(OUT_DIR, m["stem"] + ".ort.npy")
    if os.path.exists(ort_file):
        o = np.load(ort_file).astype(np.float64)
        d = np.abs(o - out.numpy())
        print(f"  torch float64 vs onnxruntime: max |diff| {d.max():.3g} (max |out| "
              f"{np.abs(out.numpy()).max():.3g}), mean |diff| {d.mean():.3g}")
        m["ort_diff"] = float(d.max())
    else:
        print(f"  no {os.path.relpath(ort_file, ROOT)} yet: run node tools/ort_ref.js, then "
              "--check-only")
    if args.check_only:
        return
    layers = m["layers"] if m["layers"] is not None else demo_layers(graph)
    node_of = {o: n for n in graph.nodes for o in n.output}
    for layer in layers:
        node = node_of[layer]
        for cls in m["classes"]:
            r = seg_gradcam(graph, x, layer, cls)
            base = os.path.join(OUT_DIR, f"{m['stem']}.{stem_of(layer)}.c{cls}")
            save(base + ".region.npy", r["region"], np.uint8)
            save(base + ".low.npy", r["low"])
            save(base + ".cam.npy", r["cam"])
            h, w = r["low"].shape
            manifest.append(f"{m['path']} {layer} {cls} {r['pixels']} {node.name or '-'} "
                            f"{m['stem']}.{stem_of(layer)}.c{cls} {r['score']:.9g} {h} {w}")
            print(f"  {layer} ({node.op_type} '{node.name}') class {cls}: |M| = {r['pixels']} "
                  f"({r['margin_pixels']} within 1e-4 of the decision boundary), S = "
                  f"{r['score']:.6g}, low map {h}x{w} max {r['low'].max():.4g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check-only", action="store_true",
                    help="only compare forward outputs with the onnxruntime files; write nothing")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(OUT_DIR, exist_ok=True)
    manifest = []
    for m in MODELS:
        process(m, args, manifest)
    if not args.check_only:
        with open(os.path.join(OUT_DIR, "cams.txt"), "w") as f:
            f.write(
                "# Generated by /usr/bin/python3 tools/onnx_torch_ref.py -- do not edit.\n"
                "# Seg-Grad-CAM references (PyTorch float64 autograd); see tests/data/README.md.\n"
                "# model_file layer_name class region_pixels node_name file_stem score "
                "low_h low_w\n"
                "#   model_file   path relative to the repository root\n"
                "#   layer_name   ONNX tensor name of the target layer's output\n"
                "#   class        output channel (0 = the foreground of a single-channel output)\n"
                "#   region_pixels |M|; the mask is <file_stem>.region.npy (uint8 HxW)\n"
                "#   node_name    the ONNX node producing layer_name\n"
                "#   file_stem    <file_stem>.region.npy / .low.npy / .cam.npy in this directory\n"
                "#   score        S = sum over M of the class logit (float64)\n"
                "#   low_h low_w  the layer's spatial size (= the shape of .low.npy)\n")
            f.write("\n".join(manifest) + ("\n" if manifest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
