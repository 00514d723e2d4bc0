#!/usr/bin/python3
"""Independent float64 NumPy check of the TensorFlow.js references in tests/data/keras/.

For every Keras model that tools/keras_tfjs_ref.js wrote references for, this script builds the
network from the file (weights and config through tools/keras_extract.py) and evaluates it in
float64 with its own NumPy layers, written from the TensorFlow definitions (docs
FORMATS_AND_NUMERICS.md §4), not from tfjs or segcam:
  Conv2D               'same' padding split floor(P/2) before, the rest after (§4.1)
  Conv2DTranspose      the full transposed convolution of length (in-1)*s + k, then the
                       output y[j] = full[j + floor(P/2)] with P from the forward rule applied
                       with input = output (§4.2); output length by Keras deconv_output_length
  MaxPooling2D         padded cells never win; gradient to the FIRST maximum of each window in
                       row-major order, summed over windows (TF CPU, §4.3)
  BatchNormalization   (x - mean) * (rsqrt(var + eps) * gamma) + beta (§4.4)
  UpSampling2D         nearest = repeat (integer factors, §4.5)
  Concatenate, Add, Dropout (identity), Flatten, Dense, Activation/fused activations, LeakyReLU
and a hand-written reverse pass (adjoint of each layer above) for dS/dA.

It prints, per model: max |float64 - tfjs| of the output (and relative to max |output|), and per
line of tests/data/keras/cams.txt: the score S and the low-resolution map ReLU(sum_k w_k A_k)
recomputed in float64 with the reference's region (<stem>.region.npy), against the tfjs values.
Exit status 1 when a difference exceeds its bound (forward 1e-4 of max |output|; low map 1e-4
of its max; score 1e-4 relative).  Writes nothing.

Usage: /usr/bin/python3 tools/keras_numpy_ref.py [--only STEM]
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import keras_extract  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
DATA = os.path.join(ROOT, "tests", "data", "keras")


def pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


def same_pads(n, k, s):
    out = -(-n // s)
    p = max(0, (out - 1) * s + k - n)
    return p // 2, p - p // 2


# ---- layers: forward and adjoint (x: [H, W, C] float64, batch 1 dropped) ------------------------

def act_fwd(name, z):
    if name in (None, "linear"):
        return z
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise NotImplementedError(f"activation {name}")


def act_bwd(name, z, y, dy):
    if name in (None, "linear"):
        return dy
    if name == "relu":
        return dy * (z > 0)
    if name == "sigmoid":
        return dy * y * (1 - y)
    if name == "tanh":
        return dy * (1 - y * y)
    if name == "softmax":
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))
    raise NotImplementedError(f"activation {name}")


def conv_fwd(x, k, b, padding):
    kh, kw = k.shape[:2]
    if padding == "same":
        (t, bo), (l, r) = same_pads(x.shape[0], kh, 1), same_pads(x.shape[1], kw, 1)
        x = np.pad(x, ((t, bo), (l, r), (0, 0)))
    win = sliding_window_view(x, (kh, kw), axis=(0, 1))  # [OH, OW, C, kh, kw]
    y = np.einsum("hwcij,ijck->hwk", win, k, optimize=True)
    return y + b if b is not None else y


def conv_bwd(dy, xshape, k, padding):
    kh, kw = k.shape[:2]
    H, W, _ = xshape
    t = l = 0
    if padding == "same":
        t, bo = same_pads(H, kh, 1)
        l, r = same_pads(W, kw, 1)
    else:
        bo = r = 0
    OH, OW = dy.shape[:2]
    dxp = np.zeros((H + t + bo, W + l + r, k.shape[2]))
    for i in range(kh):
        for j in range(kw):
            dxp[i:i + OH, j:j + OW] += dy @ k[i, j].T
    return dxp[t:t + H, l:l + W]


def deconv_len(n, k, s, padding, op):
    if op is None:
        return n * s + max(k - s, 0) if padding == "valid" else n * s
    pad = k // 2 if padding == "same" else 0
    return (n - 1) * s + k - 2 * pad + op


def deconv_geom(xshape, k, strides, padding, out_pad):
    kh, kw = k.shape[:2]
    sh, sw = strides
    op = (None, None) if out_pad is None else pair(out_pad)
    OH = deconv_len(xshape[0], kh, sh, padding, op[0])
    OW = deconv_len(xshape[1], kw, sw, padding, op[1])
    ph = max(0, (xshape[0] - 1) * sh + kh - OH) // 2
    pw = max(0, (xshape[1] - 1) * sw + kw - OW) // 2
    FH = max((xshape[0] - 1) * sh + kh, OH + ph)
    FW = max((xshape[1] - 1) * sw + kw, OW + pw)
    return OH, OW, ph, pw, FH, FW


def deconv_fwd(x, k, b, strides, padding, out_pad):
    # k: (kh, kw, out, in); full[i*s + ti] += x[i] @ k[ti].T
    H, W, _ = x.shape
    kh, kw = k.shape[:2]
    sh, sw = strides
    OH, OW, ph, pw, FH, FW = deconv_geom(x.shape, k, strides, padding, out_pad)
    full = np.zeros((FH, FW, k.shape[2]))
    for i in range(kh):
        for j in range(kw):
            full[i:i + (H - 1) * sh + 1:sh, j:j + (W - 1) * sw + 1:sw] += x @ k[i, j].T
    y = full[ph:ph + OH, pw:pw + OW]
    return y + b if b is not None else y


def deconv_bwd(dy, xshape, k, strides, padding, out_pad):
    H, W, _ = xshape
    kh, kw = k.shape[:2]
    sh, sw = strides
    OH, OW, ph, pw, FH, FW = deconv_geom(xshape, k, strides, padding, out_pad)
    dfull = np.zeros((FH, FW, k.shape[2]))
    dfull[ph:ph + OH, pw:pw + OW] = dy
    dx = np.zeros(xshape)
    for i in range(kh):
        for j in range(kw):
            dx += dfull[i:i + (H - 1) * sh + 1:sh, j:j + (W - 1) * sw + 1:sw] @ k[i, j]
    return dx


def pool_geom(x, pool, strides, padding):
    H, W, _ = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        OH, OW = -(-H // sh), -(-W // sw)
        t = max(0, (OH - 1) * sh + ph - H) // 2
        l = max(0, (OW - 1) * sw + pw - W) // 2
    else:
        OH, OW = (H - ph) // sh + 1, (W - pw) // sw + 1
        t = l = 0
    return OH, OW, t, l


def pool_argmax(x, pool, strides, padding):
    """Flat index (into x) of the first maximum of every window: [OH, OW, C]."""
    H, W, C = x.shape
    (ph, pw), (sh, sw) = pool, strides
    OH, OW, t, l = pool_geom(x, pool, strides, padding)
    best = np.full((OH, OW, C), -np.inf)
    idx = np.full((OH, OW, C), -1, dtype=np.int64)
    for ky in range(ph):  # row-major scan, strict '>' keeps the first maximum
        for kx in range(pw):
            for oy in range(OH):
                iy = oy * sh - t + ky
                if iy < 0 or iy >= H:
                    continue
                ox = np.arange(OW)
                ix = ox * sw - l + kx
                ok = (ix >= 0) & (ix < W)
                v = x[iy, ix[ok]]
                upd = v > best[oy, ok]
                cur = best[oy, ok]
                cur[upd] = v[upd]
                best[oy, ok] = cur
                ci = idx[oy, ok]
                ci[upd] = ((iy * W + ix[ok])[:, None] * C + np.arange(C)[None, :])[upd]
                idx[oy, ok] = ci
    return best, idx


def run(nodes, weights, x, stop_bare=False, keep=None):
    """Forward; returns env of layer outputs (and pre-activations under name+'/z')."""
    env = {nodes["__input__"]: x}
    for n in nodes["order"]:
        c, cls, w = n["cfg"], n["cls"], weights.get(n["name"], {})
        xs = [env[i] for i in n["inputs"]]
        x0 = xs[0]
        z = None
        if cls == "Conv2D":
            if pair(c["strides"]) != (1, 1) or pair(c.get("dilation_rate", 1)) != (1, 1):
                raise NotImplementedError("strided or dilated Conv2D")
            z = conv_fwd(x0, w["kernel"], w.get("bias"), c["padding"])
        elif cls == "Conv2DTranspose":
            z = deconv_fwd(x0, w["kernel"], w.get("bias"), pair(c["strides"]), c["padding"],
                           c.get("output_padding"))
        elif cls == "Dense":
            z = x0 @ w["kernel"] + (w["bias"] if "bias" in w else 0)
        if z is not None:
            env[n["name"] + "/z"] = z
            bare = stop_bare and n is nodes["order"][-1]
            y = z if bare else act_fwd(c.get("activation"), z)
        elif cls == "BatchNormalization":
            inv = 1 / np.sqrt(w["moving_variance"] + c["epsilon"]) * w.get("gamma", 1)
            y = (x0 - w["moving_mean"]) * inv + w.get("beta", 0)
        elif cls == "MaxPooling2D":
            pool = pair(c["pool_size"])
            y, _ = pool_argmax(x0, pool, pair(c.get("strides") or pool), c["padding"])
        elif cls == "UpSampling2D":
            if c.get("interpolation", "nearest") != "nearest":
                raise NotImplementedError("bilinear UpSampling2D")
            fh, fw = pair(c["size"])
            y = np.repeat(np.repeat(x0, fh, axis=0), fw, axis=1)
        elif cls == "Concatenate":
            y = np.concatenate(xs, axis=c["axis"] - 1 if c["axis"] > 0 else c["axis"])
        elif cls == "Add":
            y = sum(xs)
        elif cls == "Dropout":
            y = x0
        elif cls == "Activation":
            bare = stop_bare and n is nodes["order"][-1] and c["activation"] in ("softmax",
                                                                                "sigmoid")
            y = x0 if bare else act_fwd(c["activation"], x0)
        elif cls == "LeakyReLU":
            a = c.get("alpha", c.get("negative_slope", 0.3))
            y = np.where(x0 > 0, x0, a * x0)
        elif cls == "Flatten":
            y = x0.reshape(-1)
        else:
            raise NotImplementedError(cls)
        env[n["name"]] = y
    return env


def backward(nodes, weights, env, target, seed, bare_last):
    """d(sum(seed * logits)) / d(env[target]) through the layers that depend on target."""
    order = nodes["order"]
    dep = {target}
    for n in order:
        if any(i in dep for i in n["inputs"]):
            dep.add(n["name"])
    grads = {order[-1]["name"]: seed}
    for n in reversed(order):
        name = n["name"]
        if name not in dep or name == target or name not in grads:
            continue
        dy = grads.pop(name)
        c, cls, w = n["cfg"], n["cls"], weights.get(name, {})
        xs = [env[i] for i in n["inputs"]]
        x0 = xs[0]
        is_last = n is order[-1]
        if cls in ("Conv2D", "Conv2DTranspose", "Dense"):
            z = env[name + "/z"]
            if not (is_last and bare_last):
                dy = act_bwd(c.get("activation"), z, env[name], dy)
            if cls == "Conv2D":
                dxs = [conv_bwd(dy, x0.shape, w["kernel"], c["padding"])]
            elif cls == "Conv2DTranspose":
                dxs = [deconv_bwd(dy, x0.shape, w["kernel"], pair(c["strides"]), c["padding"],
                                  c.get("output_padding"))]
            else:
                dxs = [dy @ w["kernel"].T]
        elif cls == "BatchNormalization":
            dxs = [dy / np.sqrt(w["moving_variance"] + c["epsilon"]) * w.get("gamma", 1)]
        elif cls == "MaxPooling2D":
            pool = pair(c["pool_size"])
            _, idx = pool_argmax(x0, pool, pair(c.get("strides") or pool), c["padding"])
            dx = np.zeros(x0.size)
            np.add.at(dx, idx.reshape(-1), dy.reshape(-1))
            dxs = [dx.reshape(x0.shape)]
        elif cls == "UpSampling2D":
            fh, fw = pair(c["size"])
            H, W, C = x0.shape
            dxs = [dy.reshape(H, fh, W, fw, C).sum(axis=(1, 3))]
        elif cls == "Concatenate":
            ax = c["axis"] - 1 if c["axis"] > 0 else c["axis"]
            cuts = np.cumsum([t.shape[ax] for t in xs])[:-1]
            dxs = np.split(dy, cuts, axis=ax)
        elif cls == "Add":
            dxs = [dy] * len(xs)
        elif cls == "Dropout":
            dxs = [dy]
        elif cls == "Activation":
            bare = is_last and bare_last and c["activation"] in ("softmax", "sigmoid")
            dxs = [dy if bare else act_bwd(c["activation"], x0, env[name], dy)]
        elif cls == "LeakyReLU":
            a = c.get("alpha", c.get("negative_slope", 0.3))
            dxs = [np.where(x0 > 0, dy, a * dy)]
        elif cls == "Flatten":
            dxs = [dy.reshape(x0.shape)]
        else:
            raise NotImplementedError(cls)
        for i, d in zip(n["inputs"], dxs):
            if i in dep:
                grads[i] = grads[i] + d if i in grads else d
    return grads[target]


# ---- models -------------------------------------------------------------------------------------

def load(model_path):
    with tempfile.TemporaryDirectory() as d:
        doc = keras_extract.extract(model_path, d)
        raw = np.fromfile(os.path.join(d, "weights.bin"), dtype="<f4")
    weights = {}
    for e in doc["weights"]:
        n = int(np.prod(e["shape"]))
        weights.setdefault(e["layer"], {})[e["name"]] = \
            raw[e["offset"]:e["offset"] + n].reshape(e["shape"]).astype(np.float64)
    topo = doc["modelTopology"]
    seq = isinstance(topo["config"], list) or topo["class_name"] == "Sequential"
    layers = topo["config"] if isinstance(topo["config"], list) else topo["config"]["layers"]
    order, prev, inp = [], "__in__", "__in__"
    for l in layers:
        if l["class_name"] == "InputLayer":
            inp = prev = l["config"]["name"]
            continue
        ins = [prev] if seq else [t[0] for t in l["inbound_nodes"][0]]
        order.append({"name": l["config"]["name"], "cls": l["class_name"], "cfg": l["config"],
                      "inputs": ins})
        prev = l["config"]["name"]
    return {"order": order, "__input__": inp}, weights


def bare_last(nodes):
    last = nodes["order"][-1]
    return last["cfg"].get("activation") in ("softmax", "sigmoid") and \
        last["cls"] in ("Conv2D", "Conv2DTranspose", "Dense", "Activation")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only")
    args = ap.parse_args()
    lines = [l.split() for l in open(os.path.join(DATA, "cams.txt")) if l.strip() and
             not l.startswith("#")]
    models = []
    for l in lines:
        if l[0] not in models:
            models.append(l[0])
    bad = 0
    for mf in models:
        stem = os.path.splitext(os.path.basename(mf))[0]
        if args.only and not stem.startswith(args.only):
            continue
        nodes, weights = load(os.path.normpath(os.path.join(ROOT, mf)))
        x = np.load(os.path.join(DATA, stem + ".input.npy")).astype(np.float64)[0]
        ref = np.load(os.path.join(DATA, stem + ".tfjs.npy")).astype(np.float64)[0]
        env = run(nodes, weights, x, stop_bare=False)
        y = env[nodes["order"][-1]["name"]]
        d = np.abs(y - ref).max()
        amax = np.abs(y).max()
        ok = d <= 1e-4 * max(amax, 1)
        bad += not ok
        print(f"{stem}: forward float64 vs tfjs max|d| {d:.3g} (max |out| {amax:.4g}, "
              f"relative {d / amax:.2g}) {'ok' if ok else 'DIFF'}")
        envl = run(nodes, weights, x, stop_bare=bare_last(nodes))
        logits = envl[nodes["order"][-1]["name"]]
        for l in lines:
            if l[0] != mf:
                continue
            layer, cls, fstem, score_ref = l[1], int(l[2]), l[5], float(l[6])
            region = np.load(os.path.join(DATA, fstem + ".region.npy")).astype(bool)
            seed = np.zeros_like(logits)
            if logits.ndim == 1:
                seed[cls] = 1
            else:
                seed[..., cls] = region
            score = float((seed * logits).sum())
            g = backward(nodes, weights, envl, layer, seed, bare_last(nodes))
            A = envl[layer]
            low = np.maximum((A * g.mean(axis=(0, 1))).sum(axis=-1), 0)
            lref = np.load(os.path.join(DATA, fstem + ".low.npy")).astype(np.float64)
            dl = np.abs(low - lref).max()
            lmax = low.max()
            ds = abs(score - score_ref)
            ok = dl <= 1e-4 * lmax + 1e-12 and ds <= 1e-4 * abs(score) + 1e-6
            bad += not ok
            # which pixels does the float64 model put in the region?
            if logits.ndim == 1:
                own = 1
            elif logits.shape[-1] == 1:
                own = int((logits[..., 0] > 0).sum())
            else:
                own = int((logits.argmax(-1) == cls).sum())
            print(f"  {layer} class {cls}: S {score:.9g} (tfjs {score_ref:.9g}); low map max|d| "
                  f"{dl:.3g} of max {lmax:.4g} (relative {dl / max(lmax, 1e-300):.2g}); "
                  f"float64 region {own} px, tfjs {int(region.sum())} px "
                  f"{'ok' if ok else 'DIFF'}")
    print("all within bounds" if not bad else f"{bad} comparison(s) out of bounds")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
