#!/usr/bin/python3
"""TensorFlow's forward definitions of Keras layers, in NumPy float64, with explicit adjoints.

A reference for segcam's Keras loader (tests/data/keras_layers/, written by
tools/make_keras_layer_models.py).  Every op here is an explicit port of TensorFlow's CPU
definition as docs FORMATS_AND_NUMERICS.md section 4 states it (sources cited there), for one image
(batch 1) in NHWC without the batch axis, and each forward returns its exact vector-Jacobian
product (the adjoint TensorFlow's registered gradient computes), written by hand:

  conv2d          'same' = ceil(n/s) with the odd padding pixel at the end (F4.1); dilation; groups
  depthwise       tf.nn.depthwise_conv2d: output channel c*M + m
  conv2d_transpose  Conv2DBackpropInput for an output size: the adjoint of conv2d at that size
  pool2d          max: padding never wins, gradient to the FIRST maximum of each window in (h, w)
                  scan order (maxpooling_op.cc); avg: divisor = cells inside the image (F4.3)
  resize_bilinear half-pixel (TF2) or legacy asymmetric source coordinates computed in float32
                  like image_resizer_state.h; gradient = the transposed interpolation (F4.5)
  activations     relu/relu6/leaky/elu/selu/gelu/swish/softplus/hard_sigmoid (Keras 2 and 3),
                  backend.relu(max_value, negative_slope, threshold) as tf_keras/backend.py (F4.6)
  batch_norm, layer_norm, prelu, dense (tensordot on the last axis), merges (tf.maximum gives a tie
  to the first operand), pad/crop, concat, nearest upsampling, softmax.

Nothing here reads a model file or runs segcam.  The graph runner at the end (`Graph`) records
each op's adjoint and replays them in reverse, so a model's input gradient is the composition of
these hand-written adjoints (checked against central finite differences by the generator).
"""

import math

import numpy as np

# ------------------------------------------------------------------------------------------------
# geometry
# ------------------------------------------------------------------------------------------------


def conv_geom(n, k, s, d, padding):
    """TF windowed output size and padding (GetWindowedOutputSizeVerbose): (out, pad_before,
    pad_after)."""
    keff = (k - 1) * d + 1
    if padding == 'same':
        out = -(-n // s)
        total = max(0, (out - 1) * s + keff - n)
        return out, total // 2, total - total // 2
    if padding == 'valid':
        out = (n - keff + s) // s
        if out < 1:
            raise ValueError('window larger than the input')
        return out, 0, 0
    raise ValueError(padding)


def deconv_length(n, k, s, d, padding, output_padding):
    """tf_keras/utils/conv_utils.py deconv_output_length."""
    keff = (k - 1) * d + 1
    if output_padding is None:
        if padding == 'valid':
            return n * s + max(keff - s, 0)
        return n * s
    pad = keff // 2 if padding == 'same' else 0
    return (n - 1) * s + keff - 2 * pad + output_padding


# ------------------------------------------------------------------------------------------------
# convolutions (x: [H, W, C]; kernels in Keras layout)
# ------------------------------------------------------------------------------------------------


def _conv_core(xp, k, oh, ow, s, d, groups):
    """Unpadded correlation of padded xp [Hp, Wp, C] with k [R, S, C/g, F]."""
    R, S, Cg, F = k.shape
    Fg = F // groups
    y = np.zeros((oh, ow, F))
    for r in range(R):
        for q in range(S):
            patch = xp[r * d[0]:r * d[0] + (oh - 1) * s[0] + 1:s[0],
                       q * d[1]:q * d[1] + (ow - 1) * s[1] + 1:s[1], :]
            for g in range(groups):
                y[:, :, g * Fg:(g + 1) * Fg] += np.tensordot(
                    patch[:, :, g * Cg:(g + 1) * Cg], k[r, q, :, g * Fg:(g + 1) * Fg],
                    axes=([2], [0]))
    return y


def _conv_core_adjoint(dy, k, xp_shape, s, d, groups):
    R, S, Cg, F = k.shape
    Fg = F // groups
    oh, ow = dy.shape[:2]
    dxp = np.zeros(xp_shape)
    for r in range(R):
        for q in range(S):
            sl = (slice(r * d[0], r * d[0] + (oh - 1) * s[0] + 1, s[0]),
                  slice(q * d[1], q * d[1] + (ow - 1) * s[1] + 1, s[1]))
            for g in range(groups):
                dxp[sl + (slice(g * Cg, (g + 1) * Cg),)] += np.tensordot(
                    dy[:, :, g * Fg:(g + 1) * Fg], k[r, q, :, g * Fg:(g + 1) * Fg], axes=([2], [1]))
    return dxp


def conv2d(x, k, strides=(1, 1), dilation=(1, 1), padding='valid', groups=1):
    """tf.nn.convolution, NHWC, kernel [R, S, C/groups, F]."""
    H, W, C = x.shape
    R, S = k.shape[:2]
    oh, pt, pb = conv_geom(H, R, strides[0], dilation[0], padding)
    ow, pl, pr = conv_geom(W, S, strides[1], dilation[1], padding)
    xp = np.pad(x, ((pt, pb), (pl, pr), (0, 0)))
    y = _conv_core(xp, k, oh, ow, strides, dilation, groups)

    def vjp(dy):
        dxp = _conv_core_adjoint(dy, k, xp.shape, strides, dilation, groups)
        return [dxp[pt:pt + H, pl:pl + W, :]]
    return y, vjp


def depthwise_kernel_as_grouped(dk):
    """[R, S, C, M] -> grouped conv kernel [R, S, 1, C*M] with output channel c*M + m."""
    R, S, C, M = dk.shape
    return dk.reshape(R, S, 1, C * M)


def conv2d_transpose(x, k, out_hw, strides, dilation=(1, 1), padding='valid'):
    """TF Conv2DBackpropInput: the adjoint of conv2d(y) -> x for y of spatial size out_hw; kernel
    [R, S, F_out, C_in] (Keras Conv2DTranspose layout).  TF requires conv2d's output size at out_hw
    to equal x's size."""
    H, W, C = x.shape
    R, S, F, Cin = k.shape
    assert Cin == C
    oh, pt, pb = conv_geom(out_hw[0], R, strides[0], dilation[0], padding)
    ow, pl, pr = conv_geom(out_hw[1], S, strides[1], dilation[1], padding)
    if (oh, ow) != (H, W):
        raise ValueError('conv2d_transpose: output size %s does not map back to %s' %
                         (out_hw, (H, W)))
    yp_shape = (out_hw[0] + pt + pb, out_hw[1] + pl + pr, F)
    # forward conv of y [.., F] with kernel [R, S, F, C]; its adjoint w.r.t. y
    ypad = _conv_core_adjoint(x, k, yp_shape, strides, dilation, 1)
    y = ypad[pt:pt + out_hw[0], pl:pl + out_hw[1], :]

    def vjp(dy):
        dyp = np.pad(dy, ((pt, pb), (pl, pr), (0, 0)))
        return [_conv_core(dyp, k, H, W, strides, dilation, 1)]
    return y, vjp


# ------------------------------------------------------------------------------------------------
# pooling
# ------------------------------------------------------------------------------------------------


def pool2d(x, pool, strides, padding, kind):
    H, W, C = x.shape
    oh, pt, _ = conv_geom(H, pool[0], strides[0], 1, padding)
    ow, pl, _ = conv_geom(W, pool[1], strides[1], 1, padding)
    y = np.zeros((oh, ow, C))
    arg = np.zeros((oh, ow, C, 2), dtype=np.int64)
    cnt = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, w0 = i * strides[0] - pt, j * strides[1] - pl
            hs = [h for h in range(h0, h0 + pool[0]) if 0 <= h < H]
            ws = [w for w in range(w0, w0 + pool[1]) if 0 <= w < W]
            cnt[i, j] = len(hs) * len(ws)
            if kind == 'avg':
                y[i, j] = x[hs[0]:hs[-1] + 1, ws[0]:ws[-1] + 1].sum(axis=(0, 1)) / cnt[i, j]
                continue
            for c in range(C):
                best, bh, bw = -np.inf, -1, -1
                for h in hs:          # row-major scan, strict '<' update: the first max wins
                    for w in ws:
                        if best < x[h, w, c]:
                            best, bh, bw = x[h, w, c], h, w
                y[i, j, c] = best
                arg[i, j, c] = (bh, bw)

    def vjp(dy):
        dx = np.zeros_like(x)
        for i in range(oh):
            for j in range(ow):
                if kind == 'avg':
                    h0, w0 = i * strides[0] - pt, j * strides[1] - pl
                    h1, w1 = max(h0, 0), max(w0, 0)
                    h2, w2 = min(h0 + pool[0], H), min(w0 + pool[1], W)
                    dx[h1:h2, w1:w2] += dy[i, j] / cnt[i, j]
                else:
                    for c in range(C):
                        dx[arg[i, j, c, 0], arg[i, j, c, 1], c] += dy[i, j, c]
        return [dx]
    return y, vjp


# ------------------------------------------------------------------------------------------------
# resizing
# ------------------------------------------------------------------------------------------------


def _bilinear_matrix(n_in, n_out, half_pixel):
    """[n_out, n_in] interpolation weights of TF's ResizeBilinear along one axis.  The scale and
    the source coordinate are float32 computations in TF (CalculateResizeScale, HalfPixelScaler /
    LegacyScaler, compute_interpolation_weights)."""
    scale = np.float32(n_in) / np.float32(n_out)
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        if half_pixel:
            src = (np.float32(o) + np.float32(0.5)) * scale - np.float32(0.5)
        else:
            src = np.float32(o) * scale
        src = np.float32(src)
        fl = math.floor(float(src))
        lo = max(fl, 0)
        hi = min(math.ceil(float(src)), n_in - 1)
        lerp = float(np.float32(src - np.float32(fl)))
        m[o, lo] += 1.0 - lerp
        m[o, hi] += lerp
    return m


def resize_bilinear(x, out_hw, half_pixel):
    H, W, _ = x.shape
    mh = _bilinear_matrix(H, out_hw[0], half_pixel)
    mw = _bilinear_matrix(W, out_hw[1], half_pixel)
    y = np.einsum('oh,hwc,pw->opc', mh, x, mw)

    def vjp(dy):
        return [np.einsum('oh,opc,pw->hwc', mh, dy, mw)]
    return y, vjp


def upsample_nearest(x, size):
    y = np.repeat(np.repeat(x, size[0], axis=0), size[1], axis=1)

    def vjp(dy):
        H, W, C = x.shape
        return [dy.reshape(H, size[0], W, size[1], C).sum(axis=(1, 3))]
    return y, vjp


# ------------------------------------------------------------------------------------------------
# elementwise
# ------------------------------------------------------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _erf(v):
    return np.vectorize(math.erf)(v)


def activation(x, name, k3=False):
    """f(x) and f'(x) of a Keras activation name, as the TF backend computes them.  hard_sigmoid
    differs: Keras 2 clip(0.2x + 0.5, 0, 1), Keras 3 relu6(x + 3)/6 (F4.6)."""
    sig = 1.0 / (1.0 + np.exp(-x))
    if name == 'linear':
        return x, np.ones_like(x)
    if name == 'relu':
        return np.maximum(x, 0), (x > 0).astype(float)
    if name == 'relu6':
        return np.clip(x, 0, 6), ((x > 0) & (x < 6)).astype(float)
    if name == 'sigmoid':
        return sig, sig * (1 - sig)
    if name == 'tanh':
        t = np.tanh(x)
        return t, 1 - t * t
    if name == 'elu':
        return np.where(x < 0, np.expm1(x), x), np.where(x < 0, np.exp(x), 1.0)
    if name == 'selu':
        return (SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
                SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(x)))
    if name == 'softplus':
        return np.log1p(np.exp(x)), sig
    if name == 'softsign':
        return x / (1 + np.abs(x)), 1 / (1 + np.abs(x)) ** 2
    if name in ('swish', 'silu'):
        return x * sig, sig + x * sig * (1 - sig)
    if name == 'gelu':  # activations.gelu(approximate=False) in Keras 2 and 3
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return x * cdf, cdf + x * pdf
    if name == 'hard_sigmoid':
        if k3:  # relu6(x + 3) / 6; relu6's gradient is 0 at both ends
            return np.clip(x + 3, 0, 6) / 6, ((x + 3 > 0) & (x + 3 < 6)) / 6.0
        v = 0.2 * x + 0.5  # clip_by_value passes the gradient on the closed interval
        return np.clip(v, 0, 1), 0.2 * ((v >= 0) & (v <= 1))
    if name in ('hard_silu', 'hard_swish'):  # Keras 3: x * hard_sigmoid(x)
        h, dh = activation(x, 'hard_sigmoid', k3=True)
        return x * h, h + x * dh
    if name == 'leaky_relu':  # Keras 3 activations.leaky_relu: negative_slope 0.2
        return np.where(x > 0, x, 0.2 * x), np.where(x > 0, 1.0, 0.2)
    if name == 'exponential':
        return np.exp(x), np.exp(x)
    raise ValueError('activation ' + name)


def keras_relu(x, max_value=None, negative_slope=0.0, threshold=0.0):
    """tf_keras backend.relu / Keras 3 ReLU.static_call, with its gradient."""
    if negative_slope != 0 and max_value is None and threshold == 0:
        return np.where(x > 0, x, negative_slope * x), np.where(x > 0, 1.0, negative_slope)
    if threshold != 0:
        m = (x > threshold).astype(float)
        y, dy = x * m, m.copy()
    elif max_value == 6:
        # tf.nn.relu6, whose gradient is 0 at both ends
        y, dy = np.clip(x, 0, 6), ((x > 0) & (x < 6)).astype(float)
        max_value = None
    else:
        y, dy = np.maximum(x, 0), (x > 0).astype(float)
    if max_value is not None:
        # clip_by_value(y, 0, max): gradient passes where 0 <= y <= max
        dy = dy * ((y >= 0) & (y <= max_value))
        y = np.clip(y, 0, max_value)
    if negative_slope != 0:
        neg = np.maximum(-x + threshold, 0)
        y = y - negative_slope * neg
        dy = dy + negative_slope * ((-x + threshold) > 0)
    return y, dy


def unary(x, fd):
    """Wraps an elementwise (f, f') pair as an op."""
    y, d = fd

    def vjp(g):
        return [g * d]
    return y, vjp


def leaky_relu(x, alpha):
    return unary(x, (np.where(x > 0, x, alpha * x), np.where(x > 0, 1.0, alpha)))


def elu_layer(x, alpha):
    """backend.elu(x, alpha): elu(x) where x > 0, alpha * elu(x) elsewhere."""
    e = np.where(x < 0, np.expm1(x), x)
    de = np.where(x < 0, np.exp(x), 1.0)
    return unary(x, (np.where(x > 0, e, alpha * e), np.where(x > 0, de, alpha * de)))


def prelu(x, alpha):
    """relu(x) - alpha * relu(-x); alpha broadcasts over the shared axes."""
    return unary(x, (np.where(x > 0, x, 0) - alpha * np.maximum(-x, 0),
                     np.where(x > 0, 1.0, 0.0) + np.where(x < 0, alpha, 0.0)))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)

    def vjp(g):
        return [y * (g - (g * y).sum(axis=axis, keepdims=True))]
    return y, vjp


def affine(x, scale, shift):
    """x * scale + shift with broadcasting constants (inference BatchNormalization, Rescaling)."""
    def vjp(g):
        return [g * scale * np.ones_like(x)]
    return x * scale + shift, vjp


def batch_norm(x, gamma, beta, mean, var, eps, axis=-1):
    shape = [1] * x.ndim
    shape[axis] = -1
    inv = (gamma / np.sqrt(var + eps)).reshape(shape)
    return affine(x, inv, beta.reshape(shape) - mean.reshape(shape) * inv)


def layer_norm(x, gamma, beta, eps, axes):
    """Population moments over `axes`; gamma/beta shaped like those axes."""
    axes = tuple(axes)
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    g = np.ones(shape) if gamma is None else gamma.reshape(shape)
    b = np.zeros(shape) if beta is None else beta.reshape(shape)

    def vjp(dy):
        dxhat = dy * g
        m1 = dxhat.mean(axis=axes, keepdims=True)
        m2 = (dxhat * xhat).mean(axis=axes, keepdims=True)
        return [rstd * (dxhat - m1 - xhat * m2)]
    return xhat * g + b, vjp


def dense(x, k, b):
    y = np.tensordot(x, k, axes=([x.ndim - 1], [0]))
    if b is not None:
        y = y + b

    def vjp(g):
        return [np.tensordot(g, k, axes=([g.ndim - 1], [1]))]
    return y, vjp


def zero_pad(x, pads):
    (t, b), (l, r) = pads
    y = np.pad(x, ((t, b), (l, r), (0, 0)))

    def vjp(g):
        return [g[t:t + x.shape[0], l:l + x.shape[1]]]
    return y, vjp


def crop(x, crops):
    (t, b), (l, r) = crops
    H, W = x.shape[:2]
    y = x[t:H - b, l:W - r]

    def vjp(g):
        dx = np.zeros_like(x)
        dx[t:H - b, l:W - r] = g
        return [dx]
    return y, vjp


def concat(xs, axis):
    y = np.concatenate(xs, axis=axis)
    sizes = np.cumsum([v.shape[axis] for v in xs])[:-1]

    def vjp(g):
        return list(np.split(g, sizes, axis=axis))
    return y, vjp


def merge(xs, kind):
    """Keras merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum (a left fold of
    tf.maximum/minimum, whose gradient gives ties to the first operand)."""
    if kind == 'add':
        return sum(xs), lambda g: [g for _ in xs]
    if kind == 'subtract':
        return xs[0] - xs[1], lambda g: [g, -g]
    if kind == 'average':
        return sum(xs) / len(xs), lambda g: [g / len(xs) for _ in xs]
    if kind == 'multiply':
        y = np.ones_like(xs[0])
        for v in xs:
            y = y * v

        def vjp(g):
            out = []
            for i in range(len(xs)):
                p = np.ones_like(xs[0])
                for j, v in enumerate(xs):
                    if j != i:
                        p = p * v
                out.append(g * p)
            return out
        return y, vjp
    if kind in ('maximum', 'minimum'):
        cmp = np.greater_equal if kind == 'maximum' else np.less_equal
        acc, masks = xs[0], []
        for v in xs[1:]:
            m = cmp(acc, v)
            masks.append(m)
            acc = np.where(m, acc, v)

        def vjp(g):
            out = [None] * len(xs)
            run = g
            for i in range(len(xs) - 1, 0, -1):
                m = masks[i - 1]
                out[i] = np.where(m, 0.0, run)
                run = np.where(m, run, 0.0)
            out[0] = run
            return out
        return acc, vjp
    raise ValueError(kind)


# ------------------------------------------------------------------------------------------------
# a tiny reverse-mode runner
# ------------------------------------------------------------------------------------------------


class Graph:
    """Values by key; `apply` runs an op on keyed inputs and records its adjoint."""

    def __init__(self):
        self.val = {}
        self.tape = []

    def set(self, key, v):
        self.val[key] = v

    def apply(self, out_key, in_keys, fn, *args, **kw):
        ins = [self.val[k] for k in in_keys]
        y, vjp = fn(*(ins + list(args)), **kw)
        self.val[out_key] = y
        self.tape.append((out_key, list(in_keys), vjp))
        return y

    def apply_list(self, out_key, in_keys, fn, *args, **kw):
        """For ops taking a list (concat, merge)."""
        ins = [self.val[k] for k in in_keys]
        y, vjp = fn(ins, *args, **kw)
        self.val[out_key] = y
        self.tape.append((out_key, list(in_keys), vjp))
        return y

    def backward(self, out_key, seed, wrt):
        grads = {out_key: seed}
        for key, in_keys, vjp in reversed(self.tape):
            if key not in grads:
                continue
            gin = vjp(grads[key])
            for k, gk in zip(in_keys, gin):
                grads[k] = grads[k] + gk if k in grads else gk
        return grads.get(wrt, np.zeros_like(self.val[wrt]))
