#!/usr/bin/python3
"""Small Keras model files for the layers the real models do not use, with TF-semantics references.

Writes tests/data/keras_layers/ (read by tests/test_keras_layers.c):
  <file>.h5 / <file>.keras   tiny models (a few layers, random weights, odd input sizes) written
                             the way Keras writes them -- no Keras or TensorFlow is involved:
      .h5 tf.keras 2.15  root attrs keras_version/backend (vlen UTF-8), model_config (vlen ASCII
                         JSON, legacy {"class_name","config"} layer dicts, list-style
                         inbound_nodes), /model_weights with layer_names (vlen ASCII list),
                         backend/keras_version (vlen ASCII), one group per layer with
                         weight_names ("layer/var:0", trainable weights first; an empty list is an
                         empty float64 attribute), nested datasets, top_level_model_weights;
      .k224.h5 / .k216.h5  standalone Keras 2.2.4 / 2.1.6 under h5py 2: "Model" class, no dtype in
                         layer configs, old initializer dicts, fixed-length NUL-padded string
                         arrays; 2.1.6 stores a Sequential config as a bare list;
      .k3.h5             Keras 3 writing the legacy format: Keras 3 layer configs without
                         module/registered_name, dict inbound nodes, weights named "layer/var";
      .keras             Keras 3.8 zip (stored members): metadata.json, config.json (module /
                         class_name / config / registered_name objects, DTypePolicy dtypes,
                         build_config, {"args","kwargs"} nodes with __keras_tensor__),
                         model.weights.h5 (layers/<snake_case class + counter>/vars/0.., each vars
                         group with attribute name = layer.name; root vars).
  <ref>.input.npy   the model input in Keras axis order (NHWC; NCHW for the channels_first model)
  <ref>.out.npy     the model output (Keras axis order)
  <ref>.seed.npy    a random output gradient
  <ref>.grad.npy    d sum(seed * output) / d input
  cases.txt         `ref file atol rtol` per line: each file is checked against reference <ref>;
                    files sharing a <ref> must also agree with each other.
  README.md         this description, per-case notes and where each reference comes from.

References (never from segcam):
  * NumPy float64 (tools/tf_semantics_ref.py): an explicit port of TensorFlow's op definitions
    with hand-written adjoints; every gradient is checked against central finite differences of
    that float64 forward (the tie-breaking max-pooling case against its routing rule instead);
  * TensorFlow.js 4.22 (tools/keras_layers_tfjs.js, node): the Keras 2 model config of each .h5
    file and the weights read back from the written file are loaded with
    tf.models.modelFromJSON (tfjs-layers' own deserializer and defaults), then the output and
    tf.grad of sum(seed * output).  Layers tfjs lacks or computes differently from TF are
    replaced, for tfjs only, by small custom layers over tfjs ops (listed in that script).
  The stored output is tfjs's where tfjs implements every layer of the model as TF does, the
  stored gradient is tfjs's where its gradients are right (REFERENCES.md lists the wrong ones:
  half-pixel bilinear resize, 'same' average pooling, max-pooling ties, dilated convolutions);
  otherwise NumPy's.  Both are always computed and must agree (the generator stops otherwise).

Usage: /usr/bin/python3 tools/make_keras_layer_models.py [--out DIR] [--no-tfjs] [--only REF ...]
Deterministic: weights and data come from generators seeded by a CRC of the model/layer name;
member dates in .keras archives are fixed.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tf_semantics_ref as R  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rng_for(*names):
    return np.random.default_rng(zlib.crc32('/'.join(names).encode()))


def f32(v):
    """A Python float holding the float32 value Keras 2 writes for a float parameter."""
    return float(np.float32(v))


# ------------------------------------------------------------------------------------------------
# model description
# ------------------------------------------------------------------------------------------------


class T:
    """A Keras tensor: output `index` of call `call` of `layer`."""

    def __init__(self, layer, call, index, shape):
        self.layer, self.call, self.index, self.shape = layer, call, index, tuple(shape)

    @property
    def key(self):
        return (self.layer.name, self.call, self.index)


class Layer:
    def __init__(self, cls, name, p, model):
        self.cls, self.name, self.p, self.model = cls, name, p, model
        self.weights = []  # [(var name, float32 array)] in the layer's own (creation) order
        self.calls = []    # [[T, ...]] inputs per call
        self.sub = None    # nested Model

    def trainable_names(self):
        if self.cls == 'BatchNormalization':
            return [n for n, _ in self.weights if n in ('gamma', 'beta')]
        return [n for n, _ in self.weights]


class Model:
    """A Functional (or Sequential) model built eagerly: every call is run on the example input by
    the NumPy reference at once, which gives the shapes the configs need."""

    def __init__(self, name, x, kind='functional', input_name='input_1', k3=False,
                 legacy_resize=False, seed_name=None):
        self.name, self.kind = name, kind
        self.k3, self.legacy_resize = k3, legacy_resize  # semantics the reference runs with
        self.seed_name = seed_name or name
        self.layers, self.order = [], []  # order: (layer, call index) as executed
        self.G = R.Graph()
        inp = Layer('InputLayer', input_name, {'shape': x.shape}, self)
        self.layers.append(inp)
        self.input = T(inp, 0, 0, x.shape)
        self.G.set(self.input.key, x.astype(np.float64))
        self.outputs = []

    # weights -------------------------------------------------------------------------------
    def _w(self, layer, var, shape, kind):
        g = rng_for(self.seed_name, layer.name, var)
        if kind == 'kernel':
            fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
            w = g.normal(0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
        elif kind == 'bias':
            w = g.normal(0, 0.2, shape)
        elif kind == 'gamma':
            w = g.uniform(0.5, 1.5, shape)
        elif kind == 'var':
            w = g.uniform(0.4, 1.6, shape)
        elif kind == 'alpha':
            w = g.uniform(0.05, 0.6, shape)
        else:
            w = g.normal(0, 0.3, shape)
        layer.weights.append((var, w.astype(np.float32)))

    def _make_weights(self, L, ins):
        p, cls = L.p, L.cls
        if cls in ('Conv2D', 'Conv2DTranspose', 'DepthwiseConv2D', 'SeparableConv2D'):
            cf = p.get('data_format', 'channels_last') == 'channels_first'
            C = ins[0].shape[0 if cf else -1]
            k = tuple(p['kernel_size'])
            if cls == 'Conv2D':
                self._w(L, 'kernel', k + (C // p.get('groups', 1), p['filters']), 'kernel')
            elif cls == 'Conv2DTranspose':
                self._w(L, 'kernel', k + (p['filters'], C), 'kernel')
            elif cls == 'DepthwiseConv2D':
                self._w(L, 'depthwise_kernel', k + (C, p['depth_multiplier']), 'kernel')
            else:
                self._w(L, 'depthwise_kernel', k + (C, p['depth_multiplier']), 'kernel')
                self._w(L, 'pointwise_kernel', (1, 1, C * p['depth_multiplier'], p['filters']),
                        'kernel')
            if p.get('use_bias', True):
                n = C * p['depth_multiplier'] if cls == 'DepthwiseConv2D' else p['filters']
                self._w(L, 'bias', (n,), 'bias')
        elif cls in ('Conv1D', 'Conv1DTranspose', 'DepthwiseConv1D', 'SeparableConv1D'):
            cf = p.get('data_format', 'channels_last') == 'channels_first'
            C = ins[0].shape[0 if cf else -1]
            k, dm = p['kernel_size'], p.get('depth_multiplier', 1)
            if cls == 'Conv1D':
                self._w(L, 'kernel', (k, C // p.get('groups', 1), p['filters']), 'kernel')
            elif cls == 'Conv1DTranspose':
                self._w(L, 'kernel', (k, p['filters'], C), 'kernel')
            else:
                self._w(L, 'depthwise_kernel', (k, C, dm), 'kernel')
                if cls == 'SeparableConv1D':
                    self._w(L, 'pointwise_kernel', (1, C * dm, p['filters']), 'kernel')
            if p.get('use_bias', True):
                n = C * dm if cls == 'DepthwiseConv1D' else p['filters']
                self._w(L, 'bias', (n,), 'bias')
        elif cls == 'Dense':
            self._w(L, 'kernel', (ins[0].shape[-1], p['units']), 'kernel')
            if p.get('use_bias', True):
                self._w(L, 'bias', (p['units'],), 'bias')
        elif cls == 'BatchNormalization':
            C = ins[0].shape[p['axis'] - 1]
            if p.get('scale', True):
                self._w(L, 'gamma', (C,), 'gamma')
            if p.get('center', True):
                self._w(L, 'beta', (C,), 'bias')
            self._w(L, 'moving_mean', (C,), 'mean')
            self._w(L, 'moving_variance', (C,), 'var')
        elif cls == 'LayerNormalization':
            shape = tuple(ins[0].shape[a - 1] for a in p['axis'])
            if p.get('scale', True):
                self._w(L, 'gamma', shape, 'gamma')
            if p.get('center', True):
                self._w(L, 'beta', shape, 'bias')
        elif cls == 'PReLU':
            shape = list(ins[0].shape)
            for a in p.get('shared_axes') or []:
                shape[a - 1] = 1
            self._w(L, 'alpha', tuple(shape), 'alpha')

    # building --------------------------------------------------------------------------------
    def add(self, cls, name, inputs, **p):
        ins = inputs if isinstance(inputs, list) else [inputs]
        L = Layer(cls, name, p, self)
        self._make_weights(L, ins)
        self.layers.append(L)
        return self.call(L, inputs)

    def call(self, L, inputs):
        ins = inputs if isinstance(inputs, list) else [inputs]
        L.calls.append(ins)
        ci = len(L.calls) - 1
        self.order.append((L, ci))
        run_call(self.G, L, ci, '')
        out = T(L, ci, 0, self.G.val[(L.name, ci, 0)].shape)
        return out

    def add_model(self, sub, inputs):
        L = Layer('Functional', sub.name, {}, self)
        L.sub = sub
        self.layers.append(L)
        return self.call(L, inputs)

    def output(self, t):
        self.outputs = [t]
        return self

    # evaluation --------------------------------------------------------------------------------
    def run(self, x):
        """Forward on another input; returns the Graph."""
        G = R.Graph()
        G.set(self.input.key, x.astype(np.float64))
        for L, ci in self.order:
            run_call(G, L, ci, '')
        return G


def _cf_in(G, key, prefix, cf):
    """Channels_first layers compute in HWC here: a transposed copy with its adjoint."""
    if not cf:
        return key
    tk = ('cf_in',) + key + (prefix,)
    G.apply(tk, [key], lambda v: (np.transpose(v, (1, 2, 0)),
                                  lambda g: [np.transpose(g, (2, 0, 1))]))
    return tk


def _cf_out(G, key, out_key, cf):
    if cf:
        G.apply(out_key, [key], lambda v: (np.transpose(v, (2, 0, 1)),
                                           lambda g: [np.transpose(g, (1, 2, 0))]))
    else:
        G.apply(out_key, [key], lambda v: (v, lambda g: [g]))


def _view1d_in(G, key, tag, cf):
    """1-D layers computed as 2-D ones on a (1, L, C) view (channels_first (C, L) transposed)."""
    vk = ('view1d',) + key + (tag,)
    if cf:
        G.apply(vk, [key], lambda v: (np.ascontiguousarray(v.T[None]),
                                      lambda g: [np.ascontiguousarray(g[0].T)]))
    else:
        G.apply(vk, [key], lambda v: (v[None], lambda g: [g[0]]))
    return vk


def _view1d_out(G, key, out_key, cf):
    if cf:
        G.apply(out_key, [key], lambda v: (np.ascontiguousarray(v[0].T),
                                           lambda g: [np.ascontiguousarray(g.T[None])]))
    else:
        G.apply(out_key, [key], lambda v: (v[0], lambda g: [g[None]]))


def _repeat_steps(x, size):
    """UpSampling1D: backend.repeat_elements along the steps; the adjoint sums each run."""
    def vjp(g):
        return [g.reshape(x.shape[0], size, x.shape[1]).sum(axis=1)]
    return np.repeat(x, size, axis=0), vjp


def _global_pool(x, axes, is_max, keepdims):
    """GlobalAverage/MaxPooling over `axes` (no ties in these tests: the max adjoint goes to the
    maximum)."""
    if is_max:
        y = x.max(axis=axes, keepdims=True)
        mask = (x == y).astype(float)

        def vjp(g):
            return [mask * g.reshape(y.shape)]
    else:
        y = x.mean(axis=axes, keepdims=True)
        n = np.prod([x.shape[a] for a in axes])

        def vjp(g):
            return [np.ones_like(x) * g.reshape(y.shape) / n]
    return (y if keepdims else y.reshape([d for i, d in enumerate(x.shape) if i not in axes]),
            vjp)


def _act(G, key, name, k3, tag):
    if name in (None, 'linear'):
        return key
    ok = key + ('act', tag)
    if name == 'softmax':
        G.apply(ok, [key], R.softmax, -1)
    else:
        G.apply(ok, [key], lambda v: R.unary(v, R.activation(v, name, k3)))
    return ok


def run_call(G, L, ci, prefix):
    """Runs call `ci` of layer L in graph G (values keyed (prefix+name, call, index))."""
    p, cls = L.p, L.cls
    k3 = L.model.k3
    in_keys = [(prefix + t.layer.name, t.call, t.index) for t in L.calls[ci]]
    out_key = (prefix + L.name, ci, 0)
    W = {n: w.astype(np.float64) for n, w in L.weights}
    cf = p.get('data_format', 'channels_last') == 'channels_first'
    tag = out_key

    if cls == 'Functional':
        sub = L.sub
        pre = prefix + sub.name + '/'
        G.apply((pre + sub.input.layer.name, 0, 0), in_keys, lambda v: (v, lambda g: [g]))
        for SL, sci in sub.order:
            run_call(G, SL, sci, pre)
        o = sub.outputs[0]
        G.apply(out_key, [(pre + o.layer.name, o.call, o.index)], lambda v: (v, lambda g: [g]))
        return

    if cls in ('Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose'):
        x = _cf_in(G, in_keys[0], prefix, cf)
        st, dil = tuple(p.get('strides', (1, 1))), tuple(p.get('dilation_rate', (1, 1)))
        pad = p.get('padding', 'valid')
        k = x + ('conv', tag)
        if cls == 'Conv2D':
            G.apply(k, [x], R.conv2d, W['kernel'], st, dil, pad, p.get('groups', 1))
        elif cls == 'DepthwiseConv2D':
            C = W['depthwise_kernel'].shape[2]
            G.apply(k, [x], R.conv2d, R.depthwise_kernel_as_grouped(W['depthwise_kernel']), st,
                    dil, pad, C)
        elif cls == 'SeparableConv2D':
            C = W['depthwise_kernel'].shape[2]
            k0 = x + ('dw', tag)
            G.apply(k0, [x], R.conv2d, R.depthwise_kernel_as_grouped(W['depthwise_kernel']), st,
                    dil, pad, C)
            G.apply(k, [k0], R.conv2d, W['pointwise_kernel'], (1, 1), (1, 1), 'valid', 1)
        else:
            H, Wd = G.val[x].shape[:2]
            op = p.get('output_padding') or (None, None)
            out_hw = tuple(R.deconv_length(n, kk, s, d, pad, o) for n, kk, s, d, o in
                           zip((H, Wd), p['kernel_size'], st, dil, op))
            G.apply(k, [x], R.conv2d_transpose, W['kernel'], out_hw, st, dil, pad)
        if 'bias' in W:
            kb = k + ('bias',)
            G.apply(kb, [k], R.affine, 1.0, W['bias'])
            k = kb
        k = _act(G, k, p.get('activation'), k3, tag)
        _cf_out(G, k, out_key, cf)
    elif cls in ('Conv1D', 'SeparableConv1D', 'DepthwiseConv1D', 'Conv1DTranspose'):
        # the 2-D op on the (1, L, C) view with the kernel expanded to height 1, as tf.keras does
        # (expand_dims, then conv2d / separable_conv2d / depthwise_conv2d, or conv1d_transpose);
        # 'causal' = (k-1)*d zeros before, then 'valid'
        x = _view1d_in(G, in_keys[0], tag, cf)
        kk, s, d = p['kernel_size'], p.get('strides', 1), p.get('dilation_rate', 1)
        pad = p.get('padding', 'valid')
        if pad == 'causal':
            xc = x + ('causal',)
            G.apply(xc, [x], R.zero_pad, ((0, 0), ((kk - 1) * d, 0)))
            x, pad = xc, 'valid'
        k = x + ('conv1d', tag)
        if cls == 'Conv1D':
            G.apply(k, [x], R.conv2d, W['kernel'][None], (1, s), (1, d), pad, p.get('groups', 1))
        elif cls == 'Conv1DTranspose':
            n = R.deconv_length(G.val[x].shape[1], kk, s, d, pad, p.get('output_padding'))
            G.apply(k, [x], R.conv2d_transpose, W['kernel'][None], (1, n), (1, s), (1, d), pad)
        else:
            dk = W['depthwise_kernel'][None]
            C = dk.shape[2]
            k0 = k if cls == 'DepthwiseConv1D' else x + ('dw1d', tag)
            G.apply(k0, [x], R.conv2d, R.depthwise_kernel_as_grouped(dk), (1, s), (1, d), pad, C)
            if cls == 'SeparableConv1D':
                G.apply(k, [k0], R.conv2d, W['pointwise_kernel'][None], (1, 1), (1, 1), 'valid',
                        1)
        if 'bias' in W:
            kb = k + ('bias',)
            G.apply(kb, [k], R.affine, 1.0, W['bias'])
            k = kb
        k = _act(G, k, p.get('activation'), k3, tag)
        _view1d_out(G, k, out_key, cf)
    elif cls in ('MaxPooling1D', 'AveragePooling1D'):
        x = _view1d_in(G, in_keys[0], tag, cf)
        k = x + ('pool1d', tag)
        ps = p.get('pool_size', 2)
        G.apply(k, [x], R.pool2d, (1, ps), (1, p.get('strides') or ps), p.get('padding', 'valid'),
                'max' if cls == 'MaxPooling1D' else 'avg')
        _view1d_out(G, k, out_key, cf)
    elif cls == 'UpSampling1D':
        G.apply(out_key, in_keys, _repeat_steps, p.get('size', 2))
    elif cls in ('ZeroPadding1D', 'Cropping1D'):
        # (left, right) along the steps; neither has a data_format in tf.keras (channels_last)
        x = _view1d_in(G, in_keys[0], tag, False)
        k = x + ('padcrop1d', tag)
        if cls == 'ZeroPadding1D':
            G.apply(k, [x], R.zero_pad, ((0, 0), tuple(p['padding'])))
        else:
            G.apply(k, [x], R.crop, ((0, 0), tuple(p['cropping'])))
        _view1d_out(G, k, out_key, False)
    elif cls in ('GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D',
                 'GlobalMaxPooling2D'):
        n_sp = 1 if cls.endswith('1D') else 2
        axes = tuple(range(1, 1 + n_sp)) if cf else tuple(range(n_sp))
        G.apply(out_key, in_keys, _global_pool, axes, cls.startswith('GlobalMax'),
                p.get('keepdims', False))
    elif cls in ('Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise',
                 'GaussianDropout', 'ActivityRegularization'):
        G.apply(out_key, in_keys, lambda v: (v, lambda g: [g]))
    elif cls == 'Flatten':
        G.apply(out_key, in_keys, lambda v: (v.reshape(-1), lambda g: [g.reshape(v.shape)]))
    elif cls == 'Reshape':
        ts = tuple(p['target_shape'])
        G.apply(out_key, in_keys, lambda v: (v.reshape(ts), lambda g: [g.reshape(v.shape)]))
    elif cls == 'Permute':
        perm = tuple(d - 1 for d in p['dims'])
        G.apply(out_key, in_keys, lambda v: (np.transpose(v, perm),
                                             lambda g: [np.transpose(g, np.argsort(perm))]))
    elif cls == 'Dense':
        k = in_keys[0] + ('dense', tag)
        G.apply(k, in_keys, R.dense, W['kernel'], W.get('bias'))
        k = _act(G, k, p.get('activation'), k3, tag)
        _cf_out(G, k, out_key, False)
    elif cls == 'BatchNormalization':
        C = W['moving_mean'].shape[0]
        ga = W.get('gamma', np.ones(C))
        be = W.get('beta', np.zeros(C))
        eps = float(np.float32(p.get('epsilon', 1e-3)))
        if not k3 and eps < 1.001e-5:
            eps = 1.001e-5  # fused_batch_norm's floor (F4.4)
        G.apply(out_key, in_keys, R.batch_norm, ga, be, W['moving_mean'], W['moving_variance'],
                eps, p['axis'] - 1)
    elif cls == 'LayerNormalization':
        G.apply(out_key, in_keys, R.layer_norm, W.get('gamma'), W.get('beta'),
                float(np.float32(p.get('epsilon', 1e-3))), [a - 1 for a in p['axis']])
    elif cls in ('MaxPooling2D', 'AveragePooling2D'):
        x = _cf_in(G, in_keys[0], prefix, cf)
        k = x + ('pool', tag)
        ps = tuple(p.get('pool_size', (2, 2)))
        G.apply(k, [x], R.pool2d, ps, tuple(p.get('strides') or ps), p.get('padding', 'valid'),
                'max' if cls == 'MaxPooling2D' else 'avg')
        _cf_out(G, k, out_key, cf)
    elif cls == 'UpSampling2D':
        x = _cf_in(G, in_keys[0], prefix, cf)
        k = x + ('up', tag)
        size = tuple(p['size'])
        if p.get('interpolation', 'nearest') == 'nearest':
            G.apply(k, [x], R.upsample_nearest, size)
        else:
            H, Wd = G.val[x].shape[:2]
            G.apply(k, [x], R.resize_bilinear, (H * size[0], Wd * size[1]),
                    not L.model.legacy_resize)
        _cf_out(G, k, out_key, cf)
    elif cls == 'ZeroPadding2D':
        G.apply(out_key, in_keys, R.zero_pad, p['padding'])
    elif cls == 'Cropping2D':
        G.apply(out_key, in_keys, R.crop, p['cropping'])
    elif cls == 'Concatenate':
        G.apply_list(out_key, in_keys, R.concat, p.get('axis', -1))
    elif cls in ('Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum'):
        G.apply_list(out_key, in_keys, R.merge, cls.lower())
    elif cls == 'Activation':
        name = p['activation']
        if name == 'softmax':
            G.apply(out_key, in_keys, R.softmax, -1)
        else:
            G.apply(out_key, in_keys, lambda v: R.unary(v, R.activation(v, name, k3)))
    elif cls == 'ReLU':
        mv = p.get('max_value')
        G.apply(out_key, in_keys, lambda v: R.unary(v, R.keras_relu(
            v, None if mv is None else f32(mv), f32(p.get('negative_slope', 0.0)),
            f32(p.get('threshold', 0.0)))))
    elif cls == 'LeakyReLU':
        G.apply(out_key, in_keys, R.leaky_relu, f32(p.get('alpha', 0.3)))
    elif cls == 'ELU':
        G.apply(out_key, in_keys, R.elu_layer, f32(p.get('alpha', 1.0)))
    elif cls == 'PReLU':
        G.apply(out_key, in_keys, R.prelu, W['alpha'])
    elif cls == 'Softmax':
        ax = p.get('axis', -1)  # a list: one softmax over the joint axes (reduce_logsumexp)
        ax = tuple(a - 1 for a in ax) if isinstance(ax, (list, tuple)) else (
            ax - 1 if ax > 0 else ax)
        G.apply(out_key, in_keys, R.softmax, ax)
    elif cls == 'Rescaling':
        G.apply(out_key, in_keys, R.affine, f32(p['scale']), f32(p.get('offset', 0.0)))
    else:
        raise ValueError(cls)


# ------------------------------------------------------------------------------------------------
# configs
# ------------------------------------------------------------------------------------------------

STYLE_TF215, STYLE_K224, STYLE_K216, STYLE_K3 = 'tf215', 'k224', 'k216', 'k3'

KERAS_VERSION = {STYLE_TF215: '2.15.0', STYLE_K224: '2.2.4', STYLE_K216: '2.1.6',
                 STYLE_K3: '3.8.0'}


class Cfg:
    """Emits one model's config in one style."""

    def __init__(self, style):
        self.style = style
        self.policy_id = None

    # small pieces ------------------------------------------------------------------------------
    def init(self, cls, conf=None):
        conf = {} if conf is None else conf
        if self.style in (STYLE_K224, STYLE_K216):
            if cls == 'GlorotUniform':
                return {'class_name': 'VarianceScaling',
                        'config': {'scale': 1.0, 'mode': 'fan_avg', 'distribution': 'uniform',
                                   'seed': None}}
            return {'class_name': cls, 'config': conf}
        return {'module': 'keras.initializers', 'class_name': cls, 'config': conf,
                'registered_name': None}

    def glorot(self):
        return self.init('GlorotUniform', {'seed': None})

    def dtype(self):
        if self.style != STYLE_K3:
            return 'float32'
        d = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'},
             'registered_name': None}
        if self.policy_id is None:
            self.policy_id = 140211781623424  # the first layer holds it; later ones refer to it
        else:
            d['shared_object_id'] = self.policy_id
        return d

    def base(self, L, extra_first=None):
        c = {'name': L.name, 'trainable': True}
        if extra_first:
            c.update(extra_first)
        # standalone Keras 2.x writes dtype only next to batch_input_shape
        if self.style not in (STYLE_K224, STYLE_K216) or extra_first:
            c['dtype'] = self.dtype()
        return c

    # per class ---------------------------------------------------------------------------------
    def layer_config(self, L, first_seq_shape=None):
        p, cls, k3 = L.p, L.cls, self.style == STYLE_K3
        old = self.style in (STYLE_K224, STYLE_K216)
        extra = {'batch_input_shape': [None] + list(first_seq_shape)} if first_seq_shape else None
        c = self.base(L, extra)
        rank1 = cls.endswith('1D') or cls.endswith('1DTranspose')
        pair = (lambda v: [v]) if rank1 else (lambda v: list(v))  # per-axis values as a list
        one = 1 if rank1 else (1, 1)
        reg = {'kernel_regularizer': None, 'bias_regularizer': None, 'activity_regularizer': None,
               'kernel_constraint': None, 'bias_constraint': None}
        df = p.get('data_format', 'channels_last')
        if cls in ('Conv1D', 'Conv2D', 'Conv1DTranspose', 'Conv2DTranspose'):
            c.update({'filters': p['filters'], 'kernel_size': pair(p['kernel_size']),
                      'strides': pair(p.get('strides', one)),
                      'padding': p.get('padding', 'valid'), 'data_format': df,
                      'dilation_rate': pair(p.get('dilation_rate', one))})
            if not old:
                c['groups'] = p.get('groups', 1)
            c.update({'activation': p.get('activation', 'linear'),
                      'use_bias': p.get('use_bias', True),
                      'kernel_initializer': self.glorot(), 'bias_initializer': self.init('Zeros')})
            c.update(reg)
            if cls.endswith('Transpose'):
                op = p.get('output_padding')
                c['output_padding'] = None if op is None else pair(op)
        elif cls in ('ZeroPadding1D', 'Cropping1D'):
            key = 'padding' if cls == 'ZeroPadding1D' else 'cropping'
            c[key] = list(p[key])
            if k3 and cls == 'ZeroPadding1D':
                c['data_format'] = 'channels_last'  # Keras >= 3.5
        elif cls in ('MaxPooling1D', 'AveragePooling1D'):
            ps = p.get('pool_size', 2)
            c.update({'pool_size': [ps], 'padding': p.get('padding', 'valid'),
                      'strides': [p.get('strides') or ps], 'data_format': df})
        elif cls == 'UpSampling1D':
            c['size'] = p.get('size', 2)
        elif cls in ('GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling1D',
                     'GlobalMaxPooling2D'):
            c.update({'data_format': df, 'keepdims': p.get('keepdims', False)})
        elif cls == 'Dropout':
            c.update({'rate': p.get('rate', 0.5), 'noise_shape': None, 'seed': None})
        elif cls == 'SpatialDropout2D':
            c.update({'rate': p.get('rate', 0.5), 'noise_shape': None, 'seed': None,
                      'data_format': df})
        elif cls == 'GaussianNoise':
            c.update({'stddev': p.get('stddev', 0.1), 'seed': None})
        elif cls == 'GaussianDropout':
            c.update({'rate': p.get('rate', 0.1), 'seed': None})
        elif cls == 'ActivityRegularization':
            c.update({'l1': p.get('l1', 0.0), 'l2': p.get('l2', 0.0)})
        elif cls == 'Flatten':
            c['data_format'] = df
        elif cls == 'Reshape':
            c['target_shape'] = list(p['target_shape'])
        elif cls == 'Permute':
            c['dims'] = list(p['dims'])
        elif cls in ('DepthwiseConv2D', 'DepthwiseConv1D'):
            if k3:
                c.update({'depth_multiplier': p['depth_multiplier'],
                          'kernel_size': pair(p['kernel_size']),
                          'strides': pair(p.get('strides', one)),
                          'padding': p.get('padding', 'valid'), 'data_format': df,
                          'dilation_rate': pair(p.get('dilation_rate', one)),
                          'activation': p.get('activation', 'linear'),
                          'use_bias': p.get('use_bias', True),
                          'depthwise_initializer': self.glorot(),
                          'bias_initializer': self.init('Zeros'), 'depthwise_regularizer': None,
                          'bias_regularizer': None, 'activity_regularizer': None,
                          'depthwise_constraint': None, 'bias_constraint': None})
            else:
                c.update({'kernel_size': pair(p['kernel_size']),
                          'strides': pair(p.get('strides', one)),
                          'padding': p.get('padding', 'valid'), 'data_format': df,
                          'dilation_rate': pair(p.get('dilation_rate', one)), 'groups': 1,
                          'activation': p.get('activation', 'linear'),
                          'use_bias': p.get('use_bias', True),
                          'bias_initializer': self.init('Zeros'), 'bias_regularizer': None,
                          'activity_regularizer': None, 'bias_constraint': None,
                          'depth_multiplier': p['depth_multiplier'],
                          'depthwise_initializer': self.glorot(), 'depthwise_regularizer': None,
                          'depthwise_constraint': None})
        elif cls in ('SeparableConv2D', 'SeparableConv1D'):
            c.update({'filters': p['filters'], 'kernel_size': pair(p['kernel_size']),
                      'strides': pair(p.get('strides', one)),
                      'padding': p.get('padding', 'valid'), 'data_format': df,
                      'dilation_rate': pair(p.get('dilation_rate', one))})
            if not k3:
                c['groups'] = 1
            c.update({'depth_multiplier': p['depth_multiplier'],
                      'activation': p.get('activation', 'linear'),
                      'use_bias': p.get('use_bias', True),
                      'depthwise_initializer': self.glorot(),
                      'pointwise_initializer': self.glorot(),
                      'bias_initializer': self.init('Zeros'), 'depthwise_regularizer': None,
                      'pointwise_regularizer': None, 'bias_regularizer': None,
                      'activity_regularizer': None, 'depthwise_constraint': None,
                      'pointwise_constraint': None, 'bias_constraint': None})
        elif cls == 'Dense':
            c.update({'units': p['units'], 'activation': p.get('activation', 'linear'),
                      'use_bias': p.get('use_bias', True),
                      'kernel_initializer': self.glorot(), 'bias_initializer': self.init('Zeros')})
            c.update(reg)
        elif cls == 'BatchNormalization':
            # tf.keras >= 2.4 stores the built axis as a list; Keras 3 and 2.2.4 as given
            ax = p['axis']
            c['axis'] = (ax - 4 if ax == 3 else ax) if k3 else ([ax] if not old else -1
                                                                 if ax == 3 else ax)
            c.update({'momentum': 0.99, 'epsilon': p.get('epsilon', 0.001),
                      'center': p.get('center', True), 'scale': p.get('scale', True),
                      'beta_initializer': self.init('Zeros'),
                      'gamma_initializer': self.init('Ones'),
                      'moving_mean_initializer': self.init('Zeros'),
                      'moving_variance_initializer': self.init('Ones'),
                      'beta_regularizer': None, 'gamma_regularizer': None,
                      'beta_constraint': None, 'gamma_constraint': None})
            if k3:
                c['synchronized'] = False
        elif cls == 'LayerNormalization':
            ax = list(p['axis'])
            c['axis'] = (-1 if ax == [3] else ax) if k3 else ax
            c.update({'epsilon': p.get('epsilon', 0.001), 'center': p.get('center', True),
                      'scale': p.get('scale', True)})
            if k3:
                c['rms_scaling'] = False
            c.update({'beta_initializer': self.init('Zeros'),
                      'gamma_initializer': self.init('Ones'), 'beta_regularizer': None,
                      'gamma_regularizer': None, 'beta_constraint': None,
                      'gamma_constraint': None})
        elif cls in ('MaxPooling2D', 'AveragePooling2D'):
            ps = p.get('pool_size', (2, 2))
            c.update({'pool_size': pair(ps), 'padding': p.get('padding', 'valid'),
                      'strides': pair(p.get('strides') or ps), 'data_format': df})
        elif cls == 'UpSampling2D':
            c.update({'size': pair(p['size']), 'data_format': df,
                      'interpolation': p.get('interpolation', 'nearest')})
        elif cls == 'ZeroPadding2D':
            c.update({'padding': [list(v) for v in p['padding']], 'data_format': df})
        elif cls == 'Cropping2D':
            c.update({'cropping': [list(v) for v in p['cropping']], 'data_format': df})
        elif cls == 'Concatenate':
            c['axis'] = p.get('axis', -1)
        elif cls == 'Activation':
            c['activation'] = p['activation']
        elif cls == 'ReLU':
            mv = p.get('max_value')
            if k3:
                c.update({'max_value': mv, 'negative_slope': p.get('negative_slope', 0.0),
                          'threshold': p.get('threshold', 0.0)})
            else:  # tf.keras casts them to float32 numpy values
                c.update({'max_value': None if mv is None else f32(mv),
                          'negative_slope': f32(p.get('negative_slope', 0.0)),
                          'threshold': f32(p.get('threshold', 0.0))})
        elif cls == 'LeakyReLU':
            if k3:
                c['negative_slope'] = p.get('alpha', 0.3)
            else:
                c['alpha'] = f32(p.get('alpha', 0.3))
        elif cls == 'ELU':
            c['alpha'] = p.get('alpha', 1.0) if k3 else f32(p.get('alpha', 1.0))
        elif cls == 'PReLU':
            c.update({'alpha_initializer': self.init('Zeros'), 'alpha_regularizer': None,
                      'alpha_constraint': None, 'shared_axes': p.get('shared_axes')})
        elif cls == 'Softmax':
            ax = p.get('axis', -1)
            c['axis'] = list(ax) if isinstance(ax, (list, tuple)) else ax
        elif cls == 'Rescaling':
            c.update({'scale': p['scale'], 'offset': p.get('offset', 0.0)})
        elif cls in ('Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum'):
            pass
        else:
            raise ValueError(cls)
        return c

    # references --------------------------------------------------------------------------------
    @staticmethod
    def node_index(t, k3_history):
        """Index of the call producing t as a consumer refers to it (F3.1, F3.2)."""
        if t.layer.cls == 'InputLayer':
            return 0
        if t.layer.cls == 'Functional':
            # Keras 2 and Keras 3 input/output lists count the nested model's own node 0;
            # Keras 3 keras_history drops it (serialize_node)
            return t.call if k3_history else t.call + 1
        return t.call

    def keras_tensor(self, t):
        return {'class_name': '__keras_tensor__',
                'config': {'shape': [None] + list(t.shape), 'dtype': 'float32',
                           'keras_history': [t.layer.name, self.node_index(t, True), t.index]}}

    def inbound(self, L):
        nodes = []
        for ins in L.calls:
            if self.style == STYLE_K3:
                args = [self.keras_tensor(t) for t in ins]
                nodes.append({'args': [args] if len(ins) > 1 else args, 'kwargs': {}})
            else:
                nodes.append([[t.layer.name, self.node_index(t, False), t.index, {}]
                              for t in ins])
        return nodes

    def io_ref(self, t):
        return [t.layer.name, self.node_index(t, False), t.index]

    # models ------------------------------------------------------------------------------------
    def wrap(self, cls, config, module='keras.layers', registered=None, build=None):
        if self.style != STYLE_K3:
            return {'class_name': cls, 'config': config}
        d = {'module': module, 'class_name': cls, 'config': config,
             'registered_name': registered}
        if build is not None:
            d['build_config'] = {'input_shape': build}
        return d

    def input_layer(self, L):
        shape = [None] + list(L.p['shape'])
        if self.style == STYLE_K3:
            c = {'batch_shape': shape, 'dtype': 'float32', 'sparse': False, 'name': L.name}
        elif self.style in (STYLE_K224, STYLE_K216):
            c = {'batch_input_shape': shape, 'dtype': 'float32', 'sparse': False,
                 'name': L.name}
        else:
            c = {'batch_input_shape': shape, 'dtype': 'float32', 'sparse': False,
                 'ragged': False, 'name': L.name}
        return c

    def functional(self, m, legacy_k3_h5=False):
        layers = []
        for L in m.layers:
            if L.cls == 'InputLayer':
                entry = self.wrap('InputLayer', self.input_layer(L))
            elif L.cls == 'Functional':
                # a Functional model is built when constructed: build_config input_shape None
                entry = self.wrap('Functional', self.functional(L.sub)['config'],
                                  module='keras.src.models.functional', registered='Functional')
                if self.style == STYLE_K3:
                    entry['build_config'] = {'input_shape': None}
            else:
                ins = L.calls[0]
                build = ([[None] + list(t.shape) for t in ins] if len(ins) > 1 else
                         [None] + list(ins[0].shape))
                entry = self.wrap(L.cls, self.layer_config(L), build=build)
            if self.style in (STYLE_K224, STYLE_K216):
                entry = {'name': L.name, 'class_name': entry['class_name'],
                         'config': entry['config']}
            else:
                entry['name'] = L.name
            entry['inbound_nodes'] = [] if L.cls == 'InputLayer' else self.inbound(L)
            layers.append(entry)
        o = m.outputs[0]
        if self.style == STYLE_K3:
            # a single-tensor model stores flat triples (map_structure over the tensor itself)
            ins, outs = self.io_ref(m.input), self.io_ref(o)
        else:
            ins, outs = [self.io_ref(m.input)], [self.io_ref(o)]
        cfg = {'name': m.name}
        if self.style not in (STYLE_K224, STYLE_K216):
            cfg['trainable'] = True
        cfg.update({'layers': layers, 'input_layers': ins, 'output_layers': outs})
        cls = 'Model' if self.style in (STYLE_K224, STYLE_K216) else 'Functional'
        if self.style == STYLE_K3 and not legacy_k3_h5:
            # (an uncompiled model has no compile_config)
            return {'module': 'keras.src.models.functional', 'class_name': cls, 'config': cfg,
                    'registered_name': 'Functional', 'build_config': {'input_shape': None}}
        return {'class_name': cls, 'config': cfg}

    def sequential(self, m, with_input=True):
        """Keras 2: {"name", "layers"} (2.1.6: a bare list, batch_input_shape in the first
        layer); Keras 3: InputLayer first, build_input_shape."""
        shape = list(m.input.shape)
        layers = []
        if self.style == STYLE_K3:
            layers.append(self.wrap('InputLayer', self.input_layer(m.layers[0])))
        elif with_input:
            layers.append({'class_name': 'InputLayer', 'config': self.input_layer(m.layers[0])})
        first = True
        for L in m.layers[1:]:
            t = L.calls[0][0]
            fs = shape if (first and self.style != STYLE_K3) else None
            first = False
            layers.append(self.wrap(L.cls, self.layer_config(L, fs),
                                    build=[None] + list(t.shape)))
        if self.style == STYLE_K216:
            return {'class_name': 'Sequential', 'config': layers}
        cfg = {'name': m.name}
        if self.style == STYLE_K3:
            cfg.update({'trainable': True, 'dtype': self.dtype(), 'layers': layers,
                        'build_input_shape': [None] + shape})
            return {'module': 'keras', 'class_name': 'Sequential', 'config': cfg,
                    'registered_name': None, 'build_config': {'input_shape': [None] + shape}}
        cfg['layers'] = layers
        return {'class_name': 'Sequential', 'config': cfg}

    def model(self, m, legacy_k3_h5=False):
        if m.kind == 'sequential':
            c = self.sequential(m)
            if legacy_k3_h5:
                c = {'class_name': c['class_name'], 'config': c['config']}
            return c
        return self.functional(m, legacy_k3_h5)


def strip_k3_objects(v):
    """Keras 3 writing legacy .h5: layer dicts without module/registered_name/build_config (the
    legacy serializer), DTypePolicy objects and dict nodes kept (k3132_nuclei_unet.h5)."""
    if isinstance(v, dict):
        if 'class_name' in v and 'config' in v and 'module' in v and v['class_name'] not in (
                'DTypePolicy', '__keras_tensor__'):
            v = {k: x for k, x in v.items() if k not in ('module', 'registered_name',
                                                          'build_config', 'compile_config')}
        return {k: strip_k3_objects(x) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_k3_objects(x) for x in v]
    return v


# ------------------------------------------------------------------------------------------------
# writers
# ------------------------------------------------------------------------------------------------


def legacy_weights(L):
    """(name, array) in Keras 2's legacy order: trainable weights first (F1.3, 1.4).  A nested
    model lists every trainable weight of its layers, then every non-trainable one."""
    if L.sub is not None:
        tr, nt = [], []
        for SL in L.sub.layers:
            for n, w in SL.weights:
                (tr if n in SL.trainable_names() else nt).append((SL.name + '/' + n, w))
        return tr + nt
    tr = [(L.name + '/' + n, w) for n, w in L.weights if n in L.trainable_names()]
    nt = [(L.name + '/' + n, w) for n, w in L.weights if n not in L.trainable_names()]
    return tr + nt


def k3_var_name(L, n):
    depthwise = L.cls in ('DepthwiseConv1D', 'DepthwiseConv2D')
    return 'kernel' if (depthwise and n == 'depthwise_kernel') else n


def write_h5(path, m, style):
    """A legacy full-model .h5 as hdf5_format.save_model_to_hdf5 writes it."""
    cfg = Cfg(style)
    k3 = style == STYLE_K3
    mc = cfg.model(m, legacy_k3_h5=k3)
    if k3:
        mc = strip_k3_objects(mc)
    old = style in (STYLE_K224, STYLE_K216)
    if style == STYLE_K216:
        mc = Cfg(style).sequential(m, with_input=False)
    with h5py.File(path, 'w') as f:
        ver = KERAS_VERSION[style]
        if old:  # Keras 2.x under h5py 2: bytes everywhere
            f.attrs['keras_version'] = ver.encode()
            f.attrs['backend'] = b'tensorflow'
        else:
            f.attrs['keras_version'] = ver
            f.attrs['backend'] = 'tensorflow'
        f.attrs['model_config'] = json.dumps(mc).encode('utf8')
        g = f.create_group('model_weights')
        layers = [L for L in m.layers if not (m.kind == 'sequential' and L.cls == 'InputLayer')]
        names = [L.name.encode('utf8') for L in layers]
        # h5py 3 stores a list of bytes as a vlen ASCII array, h5py 2 (np.asarray) fixed-length
        g.attrs['layer_names'] = np.array(names) if old else names
        g.attrs['backend'] = b'tensorflow'
        g.attrs['keras_version'] = ver.encode()
        for L in sorted(layers, key=lambda x: x.name):
            lg = g.create_group(L.name)
            ws = legacy_weights(L)
            if L.sub is not None:
                wn = [n + ':0' for n, _ in ws]
            elif k3:
                wn = [L.name + '/' + k3_var_name(L, n.split('/')[-1]) for n, _ in ws]
            else:
                wn = [n + ':0' for n, _ in ws]
            enc = [n.encode('utf8') for n in wn]
            if not enc:
                lg.attrs['weight_names'] = []
            else:
                lg.attrs['weight_names'] = np.array(enc) if old else enc
            for n, (_, w) in zip(wn, ws):
                d = lg.create_dataset(n, w.shape, dtype=w.dtype)
                if w.shape:
                    d[:] = w
                else:
                    d[()] = w
        if not old:
            tg = g.create_group('top_level_model_weights')
            tg.attrs['weight_names'] = []


def snake_case(name):
    """keras/src/utils/naming.py to_snake_case."""
    import re
    name = re.sub(r'\W+', '', name)
    name = re.sub('(.)([A-Z][a-z]+)', r'\1_\2', name)
    name = re.sub('([a-z])([A-Z])', r'\1_\2', name).lower()
    return name


def _vars_group(parent, path, name):
    grp = parent.create_group(path)
    grp.attrs['name'] = name  # Keras >= 3.6: the layer name, a vlen UTF-8 scalar
    return grp


def _save_container(f, prefix, m):
    layers = [L for L in m.layers if not (m.kind == 'sequential' and L.cls == 'InputLayer')]
    seen = {}
    for L in layers:
        base = snake_case(L.cls)
        k = seen.get(base, 0)
        seen[base] = k + 1
        key = base if k == 0 else '%s_%d' % (base, k)
        lp = prefix + 'layers/' + key
        vg = _vars_group(f, lp + '/vars', L.name)
        if L.sub is not None:
            _save_container(f, lp + '/', L.sub)
            continue
        for i, (n, w) in enumerate(L.weights):
            vg.create_dataset(str(i), data=w)
    return f


def write_keras(path, m):
    cfg = Cfg(STYLE_K3).model(m)
    buf = io.BytesIO()
    with h5py.File(buf, 'w') as f:
        _save_container(f, '', m)
        _vars_group(f, 'vars', m.name)
    zi = lambda n, t: zipfile.ZipInfo(n, date_time=t)  # noqa: E731
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr(zi('metadata.json', (1980, 1, 1, 0, 0, 0)),
                   json.dumps({'keras_version': KERAS_VERSION[STYLE_K3],
                               'date_saved': '2025-06-01@12:00:00'}))
        z.writestr(zi('config.json', (1980, 1, 1, 0, 0, 0)), json.dumps(cfg))
        z.writestr(zi('model.weights.h5', (2025, 6, 1, 12, 0, 0)), buf.getvalue())


# ------------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------------


def input_gradient(m, x, seed):
    G = m.run(x)
    o = m.outputs[0]
    return G.val[o.key], G.backward(o.key, seed.astype(np.float64), m.input.key)


def first_max_check(m, name):
    """For models whose max pooling sees ties (no finite differences there): each MaxPooling2D
    call's adjoint must route every window's gradient to the first maximum in row-major order,
    recomputed here with np.argmax over each window (it returns the first occurrence) on the
    -inf padded input: a formulation independent of tf_semantics_ref.pool2d's scan."""
    G = m.run(m.G.val[m.input.key])
    for L, ci in m.order:
        if L.cls != 'MaxPooling2D':
            continue
        t = L.calls[ci][0]
        x = G.val[t.key]
        ps = tuple(L.p.get('pool_size', (2, 2)))
        st = tuple(L.p.get('strides') or ps)
        pad = L.p.get('padding', 'valid')
        y, vjp = R.pool2d(x, ps, st, pad, 'max')
        dy = rng_for(name, L.name, 'dy').normal(0, 1, y.shape)
        (oh, pt, pb), (ow, pl, pr) = (R.conv_geom(x.shape[0], ps[0], st[0], 1, pad),
                                      R.conv_geom(x.shape[1], ps[1], st[1], 1, pad))
        xp = np.pad(x, ((pt, pb), (pl, pr), (0, 0)), constant_values=-np.inf)
        want = np.zeros_like(xp)
        ties = 0
        for i in range(oh):
            for j in range(ow):
                win = xp[i * st[0]:i * st[0] + ps[0], j * st[1]:j * st[1] + ps[1]]
                for c in range(x.shape[2]):
                    w = win[:, :, c].reshape(-1)
                    k = int(np.argmax(w))
                    ties += int((w == w[k]).sum() > 1)
                    want[i * st[0] + k // ps[1], j * st[1] + k % ps[1], c] += dy[i, j, c]
        got = vjp(dy)[0]
        if not np.array_equal(got, want[pt:pt + x.shape[0], pl:pl + x.shape[1]]):
            raise SystemExit('%s: max-pooling adjoint of %s is not first-max routing' % (
                name, L.name))
        print('%-26s %s: %d of %d windows tie; first-max routing checked' % (
            name, L.name, ties, oh * ow * x.shape[2]))


def finite_difference_check(m, x, seed, grad, name, h=1e-5):
    """Central differences of sum(seed * f(x)) for every input element, in float64."""
    xd = x.astype(np.float64)
    fd = np.zeros_like(xd)
    s = seed.astype(np.float64)
    flat = xd.reshape(-1)
    for i in range(flat.size):
        v = flat[i]
        flat[i] = v + h
        yp = (m.run(xd).val[m.outputs[0].key] * s).sum()
        flat[i] = v - h
        ym = (m.run(xd).val[m.outputs[0].key] * s).sum()
        flat[i] = v
        fd.reshape(-1)[i] = (yp - ym) / (2 * h)
    err = np.abs(fd - grad).max()
    scale = max(1.0, np.abs(grad).max())
    if err > 1e-5 * scale:
        raise SystemExit('%s: finite differences disagree with the adjoint by %g' % (name, err))
    return err


# ------------------------------------------------------------------------------------------------
# the cases
# ------------------------------------------------------------------------------------------------


def normal_input(name, shape):
    return rng_for(name, 'input').normal(0, 1, shape).astype(np.float32)


CASES = []


def case(ref, files, note, grad='tfjs', fd=True):
    """Registers a builder.  files: [(file name, style)] with style tf215 / k224 / k216 (legacy
    .h5 of that Keras), k3h5 (Keras 3 legacy .h5) or keras (.keras zip).  grad: where the stored
    gradient comes from ('tfjs', or the reason tfjs's is wrong -> NumPy)."""
    def deco(fn):
        CASES.append(dict(ref=ref, files=files, note=note, grad=grad, fd=fd, build=fn))
        return fn
    return deco


@case('conv_strided', [('conv_strided.h5', STYLE_TF215), ('conv_strided.keras', 'keras')],
      "Conv2D stride 2 'same' on odd sizes (TF puts the odd padding pixel at the end: kernel "
      "(4, 2) on 13x11 pads (1, 2) x (0, 1)), then 3x3 stride 2 'same' on 7x6, then 'valid'")
def build_conv_strided():
    m = Model('conv_strided', normal_input('conv_strided', (13, 11, 3)))
    a = m.add('Conv2D', 'conv2d', m.input, filters=5, kernel_size=(4, 2), strides=(2, 2),
              padding='same', activation='relu')
    b = m.add('Conv2D', 'conv2d_1', a, filters=4, kernel_size=(3, 3), strides=(2, 2),
              padding='same')
    return m.output(m.add('Conv2D', 'conv2d_2', b, filters=3, kernel_size=(2, 2),
                          padding='valid', activation='tanh'))


@case('conv_dilated', [('conv_dilated.h5', STYLE_TF215), ('conv_dilated.keras', 'keras')],
      "Conv2D dilation_rate 2 'same', then dilation (2, 3) 'valid'",
      grad='numpy: tfjs has no gradient for dilated convolutions')
def build_conv_dilated():
    m = Model('conv_dilated', normal_input('conv_dilated', (13, 11, 3)))
    a = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(3, 3), dilation_rate=(2, 2),
              padding='same', activation='relu')
    return m.output(m.add('Conv2D', 'conv2d_1', a, filters=3, kernel_size=(3, 2),
                          dilation_rate=(2, 3), padding='valid'))


@case('depthwise', [('depthwise.h5', STYLE_TF215), ('depthwise.keras', 'keras')],
      "DepthwiseConv2D depth_multiplier 2 'same' with bias, then (3, 2) stride 2 'same' without "
      "bias + relu, then a 1x1 Conv2D (K2 weight name depthwise_kernel, K3 kernel)")
def build_depthwise():
    m = Model('depthwise', normal_input('depthwise', (13, 11, 3)))
    a = m.add('DepthwiseConv2D', 'depthwise_conv2d', m.input, kernel_size=(3, 3),
              depth_multiplier=2, padding='same')
    b = m.add('DepthwiseConv2D', 'depthwise_conv2d_1', a, kernel_size=(3, 2), strides=(2, 2),
              depth_multiplier=1, padding='same', use_bias=False, activation='relu')
    return m.output(m.add('Conv2D', 'conv2d', b, filters=3, kernel_size=(1, 1)))


@case('separable', [('separable.h5', STYLE_TF215), ('separable.keras', 'keras')],
      "SeparableConv2D dm 2 'same' + relu; stride 2 'valid' without bias; dilation 2 'same'",
      grad='numpy: tfjs has no gradient for dilated convolutions')
def build_separable():
    m = Model('separable', normal_input('separable', (13, 11, 3)))
    a = m.add('SeparableConv2D', 'separable_conv2d', m.input, filters=4, kernel_size=(3, 3),
              depth_multiplier=2, padding='same', activation='relu')
    b = m.add('SeparableConv2D', 'separable_conv2d_1', a, filters=3, kernel_size=(3, 3),
              strides=(2, 2), depth_multiplier=1, padding='valid', use_bias=False)
    return m.output(m.add('SeparableConv2D', 'separable_conv2d_2', b, filters=2,
                          kernel_size=(2, 2), dilation_rate=(2, 2), depth_multiplier=1,
                          padding='same'))


@case('conv_transpose', [('conv_transpose.h5', STYLE_TF215), ('conv_transpose.keras', 'keras')],
      "Conv2DTranspose k3 s2 'same' (TF crops the extra row/column at the END), k3 s2 'same' "
      "output_padding (0, 1), k(4, 3) s(2, 1) 'valid' output_padding (1, 0) on 5x4")
def build_conv_transpose():
    m = Model('conv_transpose', normal_input('conv_transpose', (5, 4, 3)))
    a = m.add('Conv2DTranspose', 'conv2d_transpose', m.input, filters=4, kernel_size=(3, 3),
              strides=(2, 2), padding='same')
    b = m.add('Conv2DTranspose', 'conv2d_transpose_1', a, filters=3, kernel_size=(3, 3),
              strides=(2, 2), padding='same', output_padding=(0, 1), activation='relu')
    return m.output(m.add('Conv2DTranspose', 'conv2d_transpose_2', b, filters=2,
                          kernel_size=(4, 3), strides=(2, 1), padding='valid',
                          output_padding=(1, 0)))


@case('normalization', [('normalization.h5', STYLE_TF215), ('normalization.keras', 'keras')],
      "BatchNormalization with scale=False and center=False (only the moving stats stored), "
      "center=False (epsilon 0.01), scale=False; LayerNormalization over the channels (K2 axis "
      "[3], K3 -1), then over [1, 2, 3] without center (gamma of shape (H, W, C))")
def build_normalization():
    m = Model('normalization', normal_input('normalization', (13, 11, 3)))
    a = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(3, 3), padding='same')
    b = m.add('BatchNormalization', 'batch_normalization', a, axis=3, scale=False, center=False)
    c = m.add('BatchNormalization', 'batch_normalization_1', b, axis=3, center=False,
              epsilon=0.01)
    d = m.add('BatchNormalization', 'batch_normalization_2', c, axis=3, scale=False)
    e = m.add('LayerNormalization', 'layer_normalization', d, axis=[3])
    f = m.add('LayerNormalization', 'layer_normalization_1', e, axis=[1, 2, 3], center=False,
              epsilon=0.01)
    return m.output(m.add('Activation', 'activation', f, activation='tanh'))


@case('pooling', [('pooling.h5', STYLE_TF215), ('pooling.keras', 'keras')],
      "AveragePooling2D 3 stride 2 'same' (divisor counts only cells inside the image) and "
      "MaxPooling2D 3 stride 2 'same' on 13x11, concatenated; MaxPooling2D 2 'same' on 7x6; "
      "AveragePooling2D (2, 3) stride 1 'valid'",
      grad="numpy: tfjs's 'same' average-pooling gradient counts the padding")
def build_pooling():
    m = Model('pooling', normal_input('pooling', (13, 11, 3)))
    a = m.add('AveragePooling2D', 'average_pooling2d', m.input, pool_size=(3, 3),
              strides=(2, 2), padding='same')
    b = m.add('MaxPooling2D', 'max_pooling2d', m.input, pool_size=(3, 3), strides=(2, 2),
              padding='same')
    c = m.add('Concatenate', 'concatenate', [a, b], axis=-1)
    d = m.add('MaxPooling2D', 'max_pooling2d_1', c, pool_size=(2, 2), padding='same')
    return m.output(m.add('AveragePooling2D', 'average_pooling2d_1', d, pool_size=(2, 3),
                          strides=(1, 1), padding='valid'))


@case('maxpool_ties', [('maxpool_ties.h5', STYLE_TF215), ('maxpool_ties.keras', 'keras')],
      "MaxPooling2D 3 stride 2 'same' then 2 stride 1 on an input with many equal values: TF's "
      "CPU gradient goes to the first maximum of each window in row-major order",
      grad='numpy: tfjs does not route tied maxima to the first one', fd=False)
def build_maxpool_ties():
    x = (rng_for('maxpool_ties', 'input').integers(-1, 2, (13, 11, 2)) * 0.5).astype(np.float32)
    m = Model('maxpool_ties', x)
    a = m.add('MaxPooling2D', 'max_pooling2d', m.input, pool_size=(3, 3), strides=(2, 2),
              padding='same')
    b = m.add('MaxPooling2D', 'max_pooling2d_1', a, pool_size=(2, 2), strides=(1, 1),
              padding='valid')
    return m.output(m.add('Conv2D', 'conv2d', b, filters=2, kernel_size=(1, 1)))


@case('pad_crop_dense', [('pad_crop_dense.h5', STYLE_TF215), ('pad_crop_dense.keras', 'keras')],
      "ZeroPadding2D ((1, 2), (0, 3)), Conv2D 'valid', Cropping2D ((2, 0), (1, 1)); Dense on a "
      "4-D tensor (contracts the channel axis) with relu, then Dense + softmax")
def build_pad_crop_dense():
    m = Model('pad_crop_dense', normal_input('pad_crop_dense', (13, 11, 3)))
    a = m.add('ZeroPadding2D', 'zero_padding2d', m.input, padding=((1, 2), (0, 3)))
    b = m.add('Conv2D', 'conv2d', a, filters=4, kernel_size=(3, 3), padding='valid')
    c = m.add('Cropping2D', 'cropping2d', b, cropping=((2, 0), (1, 1)))
    d = m.add('Dense', 'dense', c, units=5, activation='relu')
    return m.output(m.add('Dense', 'dense_1', d, units=3, activation='softmax'))


@case('merges', [('merges.h5', STYLE_TF215), ('merges.keras', 'keras')],
      "Add, Subtract, Multiply, Average (3 inputs), Maximum, Minimum of two conv branches, "
      "Concatenate, 1x1 Conv2D")
def build_merges():
    m = Model('merges', normal_input('merges', (13, 11, 3)))
    a = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(3, 3), padding='same')
    b = m.add('Conv2D', 'conv2d_1', m.input, filters=4, kernel_size=(1, 1), activation='tanh')
    s = m.add('Add', 'add', [a, b])
    d = m.add('Subtract', 'subtract', [a, b])
    p = m.add('Multiply', 'multiply', [a, b])
    v = m.add('Average', 'average', [a, b, s])
    mx = m.add('Maximum', 'maximum', [a, b])
    mn = m.add('Minimum', 'minimum', [a, b])
    c = m.add('Concatenate', 'concatenate', [s, d, p, v, mx, mn], axis=-1)
    return m.output(m.add('Conv2D', 'conv2d_2', c, filters=3, kernel_size=(1, 1)))


ACT_COMMON = ['gelu', 'swish', 'elu', 'selu', 'softplus', 'softsign', 'tanh', 'sigmoid',
              'hard_sigmoid']


def build_activations(name, k3):
    m = Model(name, normal_input('activations', (6, 5, 3)), k3=k3, seed_name='activations')
    c = m.add('Conv2D', 'conv2d', m.input, filters=3, kernel_size=(3, 3), padding='same')
    outs = []
    acts = ACT_COMMON + (['relu6', 'leaky_relu', 'hard_silu'] if k3 else [])
    for i, a in enumerate(acts):
        outs.append(m.add('Activation', 'act_' + a, c, activation=a))
    outs.append(m.add('LeakyReLU', 'leaky_re_lu', c, alpha=0.3))
    outs.append(m.add('ReLU', 're_lu', c, max_value=6.0))
    outs.append(m.add('ReLU', 're_lu_1', c, max_value=1.5, negative_slope=0.1, threshold=0.2))
    outs.append(m.add('PReLU', 'p_re_lu', c, shared_axes=[1, 2]))
    outs.append(m.add('ELU', 'elu', c, alpha=0.7))
    outs.append(m.add('Softmax', 'softmax', c, axis=-1))
    return m.output(m.add('Concatenate', 'concatenate', outs, axis=-1))


@case('activations_k2', [('activations_k2.h5', STYLE_TF215)],
      "Activation layers gelu (exact), swish, elu, selu, softplus, softsign, tanh, sigmoid, "
      "hard_sigmoid (Keras 2: clip(0.2x + 0.5)); LeakyReLU (alpha 0.3 as Keras writes it), "
      "ReLU(6), ReLU(max 1.5, negative_slope 0.1, threshold 0.2), PReLU shared over H, W, "
      "ELU(0.7), Softmax; tf.keras 2.15 file")
def build_act_k2():
    return build_activations('activations_k2', False)


@case('activations_k3', [('activations_k3.keras', 'keras'), ('activations_k3.k3.h5', 'k3h5')],
      "the same in Keras 3 (hard_sigmoid = relu6(x + 3)/6; LeakyReLU negative_slope) plus "
      "Activation relu6, leaky_relu (0.2) and hard_silu; a .keras and a Keras 3 legacy .h5")
def build_act_k3():
    return build_activations('activations_k3', True)


def build_upsample(legacy):
    # a square input: tfjs's cpu ResizeBilinear gradient swaps H and W otherwise
    m = Model('upsample_bilinear', normal_input('upsample_bilinear', (5, 5, 3)),
              legacy_resize=legacy)
    a = m.add('Conv2D', 'conv2d', m.input, filters=3, kernel_size=(1, 1))
    b = m.add('UpSampling2D', 'up_sampling2d', a, size=(2, 3), interpolation='bilinear')
    return m.output(m.add('Conv2D', 'conv2d_1', b, filters=2, kernel_size=(3, 3),
                          padding='same'))


@case('upsample_bilinear', [('upsample_bilinear.h5', STYLE_TF215),
                            ('upsample_bilinear.keras', 'keras')],
      "UpSampling2D size (2, 3) bilinear: tf.image.resize with half-pixel centres (tf.keras "
      ">= 2.4 / TF >= 1.15, Keras 3)",
      grad='numpy: tfjs\'s half-pixel bilinear gradient uses the legacy mapping')
def build_upsample_tf2():
    return build_upsample(False)


@case('upsample_bilinear_legacy', [('upsample_bilinear.k224.h5', STYLE_K224)],
      "the same model (same weights) saved by standalone Keras 2.2.4: resize_bilinear without "
      "half-pixel centres (asymmetric source coordinates)")
def build_upsample_legacy():
    return build_upsample(True)


@case('channels_first', [('channels_first.h5', STYLE_TF215), ('channels_first.keras', 'keras')],
      "every layer channels_first (input and output in Keras order N, C, H, W): Rescaling, "
      "Conv2D stride 2 'same', BatchNormalization axis 1, MaxPooling2D 'same', UpSampling2D, "
      "AveragePooling2D 3 stride 1 'same', Conv2D 1x1",
      grad="numpy: tfjs's 'same' average-pooling gradient counts the padding")
def build_channels_first():
    cf = 'channels_first'
    m = Model('channels_first', normal_input('channels_first', (3, 13, 11)))
    a = m.add('Rescaling', 'rescaling', m.input, scale=0.5, offset=-0.25)
    b = m.add('Conv2D', 'conv2d', a, filters=4, kernel_size=(3, 3), strides=(2, 2),
              padding='same', data_format=cf, activation='relu')
    c = m.add('BatchNormalization', 'batch_normalization', b, axis=1)
    d = m.add('MaxPooling2D', 'max_pooling2d', c, pool_size=(2, 2), padding='same',
              data_format=cf)
    e = m.add('UpSampling2D', 'up_sampling2d', d, size=(2, 2), data_format=cf)
    f = m.add('AveragePooling2D', 'average_pooling2d', e, pool_size=(3, 3), strides=(1, 1),
              padding='same', data_format=cf)
    return m.output(m.add('Conv2D', 'conv2d_1', f, filters=2, kernel_size=(1, 1),
                          data_format=cf))


@case('nested_shared', [('nested_shared.h5', STYLE_TF215), ('nested_shared.keras', 'keras')],
      "a Functional backbone (Conv2D, BatchNormalization, ReLU, Conv2D stride 2) used as a layer "
      "(K2 weights: all trainable then the BN moving stats; consumers refer to its node 1), and "
      "a shared 1x1 Conv2D called on the backbone output and on a pooled branch, then Add")
def build_nested_shared():
    x = normal_input('nested_shared', (13, 11, 3))
    bb = Model('backbone', x, input_name='backbone_input')
    t = bb.add('Conv2D', 'bb_conv', bb.input, filters=4, kernel_size=(3, 3), padding='same')
    t = bb.add('BatchNormalization', 'bb_bn', t, axis=3)
    t = bb.add('ReLU', 'bb_relu', t)
    bb.output(bb.add('Conv2D', 'bb_conv2', t, filters=4, kernel_size=(3, 3), strides=(2, 2),
                     padding='same'))
    m = Model('nested_shared', x)
    f = m.add_model(bb, m.input)
    p = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(1, 1))
    p = m.add('MaxPooling2D', 'max_pooling2d', p, pool_size=(2, 2), padding='same')
    s1 = m.add('Conv2D', 'shared', f, filters=4, kernel_size=(1, 1), activation='tanh')
    s2 = m.call(next(L for L in m.layers if L.name == 'shared'), p)
    return m.output(m.add('Add', 'add', [s1, s2]))


@case('sequential', [('sequential.k216.h5', STYLE_K216), ('sequential.h5', STYLE_TF215),
                     ('sequential.keras', 'keras')],
      "Sequential: Keras 2.1.6 bare-list config (input shape in the first layer), tf.keras 2.15 "
      "{name, layers} with an InputLayer, Keras 3; Conv2D, MaxPooling2D, Conv2DTranspose k2 s2, "
      "sigmoid")
def build_sequential():
    m = Model('sequential', normal_input('sequential', (13, 11, 3)), kind='sequential',
              input_name='conv2d_input')
    a = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(3, 3), padding='same',
              activation='relu')
    b = m.add('MaxPooling2D', 'max_pooling2d', a, pool_size=(2, 2))
    c = m.add('Conv2DTranspose', 'conv2d_transpose', b, filters=3, kernel_size=(2, 2),
              strides=(2, 2), padding='valid')
    return m.output(m.add('Activation', 'activation', c, activation='sigmoid'))


@case('conv1d', [('conv1d.h5', STYLE_TF215), ('conv1d.keras', 'keras')],
      "Conv1D (a 2-D convolution on an [N, C, 1, L] view) k3 stride 2 'same' + relu on 17 steps "
      "(odd padding step at the end), k3 dilation 2 'causal' ((k-1)*d zeros before), "
      "MaxPooling1D 2 'same', UpSampling1D 3, AveragePooling1D 3 stride 1 'same', Conv1D k2 "
      "'valid' groups 2 + tanh",
      grad="numpy: tfjs has no gradient for dilated convolutions, and its 'same' average-pooling "
      "gradient counts the padding")
def build_conv1d():
    m = Model('conv1d', normal_input('conv1d', (17, 4)))
    a = m.add('Conv1D', 'conv1d', m.input, filters=5, kernel_size=3, strides=2, padding='same',
              activation='relu')
    b = m.add('Conv1D', 'conv1d_1', a, filters=4, kernel_size=3, dilation_rate=2,
              padding='causal')
    c = m.add('MaxPooling1D', 'max_pooling1d', b, pool_size=2, padding='same')
    d = m.add('UpSampling1D', 'up_sampling1d', c, size=3)
    e = m.add('AveragePooling1D', 'average_pooling1d', d, pool_size=3, strides=1,
              padding='same')
    return m.output(m.add('Conv1D', 'conv1d_2', e, filters=6, kernel_size=2, padding='valid',
                          groups=2, activation='tanh'))


@case('conv1d_cf', [('conv1d_cf.h5', STYLE_TF215), ('conv1d_cf.keras', 'keras')],
      "channels_first 1-D layers (input N, C, L): Conv1D k4 stride 3 'same' + elu, Conv1D k3 "
      "'causal' stride 2, MaxPooling1D 3 stride 2 'valid', GlobalAveragePooling1D")
def build_conv1d_cf():
    cf = 'channels_first'
    m = Model('conv1d_cf', normal_input('conv1d_cf', (3, 19)))
    a = m.add('Conv1D', 'conv1d', m.input, filters=5, kernel_size=4, strides=3, padding='same',
              data_format=cf, activation='elu')
    b = m.add('Conv1D', 'conv1d_1', a, filters=4, kernel_size=3, strides=2, padding='causal',
              data_format=cf)
    c = m.add('MaxPooling1D', 'max_pooling1d', b, pool_size=3, strides=2, padding='valid',
              data_format=cf)
    return m.output(m.add('GlobalAveragePooling1D', 'global_average_pooling1d', c,
                          data_format=cf))


@case('conv1d_layers', [('conv1d_layers.h5', STYLE_TF215), ('conv1d_layers.keras', 'keras')],
      "ZeroPadding1D (1, 2); SeparableConv1D k3 dm 2 'same' + relu (depthwise then pointwise on "
      "the [N, C, 1, L] view); DepthwiseConv1D k3 stride 2 dm 2 'valid' without bias (K2 weight "
      "name depthwise_kernel, K3 kernel); Conv1DTranspose k3 s2 'same' (TF crops the extra step "
      "at the END), k4 s2 'valid' output_padding 1 + tanh; Cropping1D (2, 3)")
def build_conv1d_layers():
    m = Model('conv1d_layers', normal_input('conv1d_layers', (15, 3)))
    a = m.add('ZeroPadding1D', 'zero_padding1d', m.input, padding=(1, 2))
    b = m.add('SeparableConv1D', 'separable_conv1d', a, filters=4, kernel_size=3,
              depth_multiplier=2, padding='same', activation='relu')
    c = m.add('DepthwiseConv1D', 'depthwise_conv1d', b, kernel_size=3, strides=2,
              depth_multiplier=2, padding='valid', use_bias=False)
    d = m.add('Conv1DTranspose', 'conv1d_transpose', c, filters=3, kernel_size=3, strides=2,
              padding='same')
    e = m.add('Conv1DTranspose', 'conv1d_transpose_1', d, filters=2, kernel_size=4, strides=2,
              padding='valid', output_padding=1, activation='tanh')
    return m.output(m.add('Cropping1D', 'cropping1d', e, cropping=(2, 3)))


@case('conv1d_layers_cf', [('conv1d_layers_cf.h5', STYLE_TF215),
                           ('conv1d_layers_cf.keras', 'keras')],
      "channels_first (input N, C, L): SeparableConv1D k3 stride 2 dm 2 'same' without bias, "
      "Conv1DTranspose k3 s2 'valid', DepthwiseConv1D k2 'same' + relu, Conv1DTranspose k2 s3 "
      "'same' output_padding 2")
def build_conv1d_layers_cf():
    cf = 'channels_first'
    m = Model('conv1d_layers_cf', normal_input('conv1d_layers_cf', (3, 14)))
    a = m.add('SeparableConv1D', 'separable_conv1d', m.input, filters=4, kernel_size=3,
              strides=2, depth_multiplier=2, padding='same', use_bias=False, data_format=cf)
    b = m.add('Conv1DTranspose', 'conv1d_transpose', a, filters=3, kernel_size=3, strides=2,
              padding='valid', data_format=cf)
    c = m.add('DepthwiseConv1D', 'depthwise_conv1d', b, kernel_size=2, depth_multiplier=1,
              padding='same', activation='relu', data_format=cf)
    return m.output(m.add('Conv1DTranspose', 'conv1d_transpose_1', c, filters=2, kernel_size=2,
                          strides=3, padding='same', output_padding=2, data_format=cf))


@case('conv1d_causal_k2', [('conv1d_causal_k2.h5', STYLE_TF215)],
      "tf.keras 2 only (Keras 3 refuses 'causal' here): SeparableConv1D k3 dilation 2 dm 2 "
      "'causal' ((k-1)*d zeros before), then DepthwiseConv1D k3 dilation 2 'same'",
      grad='numpy: tfjs has no gradient for dilated convolutions')
def build_conv1d_causal_k2():
    m = Model('conv1d_causal_k2', normal_input('conv1d_causal_k2', (12, 2)))
    a = m.add('SeparableConv1D', 'separable_conv1d', m.input, filters=3, kernel_size=3,
              dilation_rate=2, depth_multiplier=2, padding='causal')
    return m.output(m.add('DepthwiseConv1D', 'depthwise_conv1d', a, kernel_size=3,
                          dilation_rate=2, depth_multiplier=1, padding='same'))


@case('groups_softmax', [('groups_softmax.h5', STYLE_TF215), ('groups_softmax.keras', 'keras')],
      "Conv2D groups 2 (6 -> 4 channels) + exponential, Softmax axis 1 (over H), Softmax axis "
      "[1, 2] (one softmax over H and W jointly: exp(x - reduce_logsumexp)), Permute (2, 1, 3), "
      "Conv2D groups 4 'same' stride 2")
def build_groups_softmax():
    m = Model('groups_softmax', normal_input('groups_softmax', (7, 6, 6)))
    a = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(3, 3), padding='valid',
              groups=2, activation='exponential')
    b = m.add('Softmax', 'softmax', a, axis=1)
    c = m.add('Softmax', 'softmax_1', b, axis=[1, 2])
    d = m.add('Permute', 'permute', c, dims=(2, 1, 3))
    return m.output(m.add('Conv2D', 'conv2d_1', d, filters=8, kernel_size=(2, 3),
                          strides=(2, 2), padding='same', groups=4))


@case('heads', [('heads.h5', STYLE_TF215), ('heads.keras', 'keras')],
      "inference identities Dropout, SpatialDropout2D, GaussianNoise, GaussianDropout, "
      "ActivityRegularization between convolutions; GlobalAveragePooling2D and "
      "GlobalMaxPooling2D (keepdims) concatenated; Reshape, Flatten, Dense on 2-D + softmax")
def build_heads():
    m = Model('heads', normal_input('heads', (9, 7, 3)))
    a = m.add('Conv2D', 'conv2d', m.input, filters=4, kernel_size=(3, 3), padding='same',
              activation='relu')
    a = m.add('Dropout', 'dropout', a, rate=0.3)
    a = m.add('SpatialDropout2D', 'spatial_dropout2d', a, rate=0.2)
    a = m.add('GaussianNoise', 'gaussian_noise', a, stddev=0.1)
    a = m.add('GaussianDropout', 'gaussian_dropout', a, rate=0.1)
    a = m.add('ActivityRegularization', 'activity_regularization', a, l1=0.01)
    g1 = m.add('GlobalAveragePooling2D', 'global_average_pooling2d', a, keepdims=True)
    g2 = m.add('GlobalMaxPooling2D', 'global_max_pooling2d', a, keepdims=True)
    c = m.add('Concatenate', 'concatenate', [g1, g2], axis=-1)
    r = m.add('Reshape', 'reshape', c, target_shape=(2, 4))
    f = m.add('Flatten', 'flatten', r)
    return m.output(m.add('Dense', 'dense', f, units=3, activation='softmax'))


# ------------------------------------------------------------------------------------------------
# TensorFlow.js
# ------------------------------------------------------------------------------------------------


def read_back_h5(path):
    """The model config and every weight as the written file holds them (h5py)."""
    with h5py.File(path, 'r') as f:
        mc = json.loads(f.attrs['model_config'])
        g = f['model_weights']
        out = []
        for ln in g.attrs['layer_names']:
            ln = ln.decode() if isinstance(ln, bytes) else str(ln)
            lg = g[ln]
            for wn in lg.attrs['weight_names']:
                wn = wn.decode() if isinstance(wn, bytes) else str(wn)
                parts = wn.split(':')[0].split('/')
                p = [ln] if parts[0] == ln else [ln, parts[0]]
                out.append({'path': p, 'var': parts[-1], 'shape': list(lg[wn].shape),
                            'data': [float(v) for v in np.asarray(lg[wn]).reshape(-1)]})
        return mc, out


def tfjs_topology(v, legacy_resize, k3):
    """The rewrites tfjs-layers 4.22 needs, and TF-semantics stand-ins (keras_layers_tfjs.js)."""
    if isinstance(v, list):
        return [tfjs_topology(e, legacy_resize, k3) for e in v]
    if not isinstance(v, dict):
        return v
    v = {k: tfjs_topology(x, legacy_resize, k3) for k, x in v.items()}
    c = v.get('config')
    if isinstance(c, dict):
        for k in list(c):
            if k.endswith('_initializer'):
                c[k] = {'class_name': 'Zeros', 'config': {}}
        cls = v.get('class_name')
        if cls == 'BatchNormalization' and isinstance(c.get('axis'), list):
            c['axis'] = c['axis'][0]
        if cls == 'UpSampling2D' and c.get('interpolation') == 'bilinear' and not legacy_resize:
            v['class_name'] = 'TfUpSampling2D'
        if cls == 'ReLU' and (c.get('negative_slope') or c.get('threshold')):
            v['class_name'] = 'TfReLU'
        if cls == 'Conv2DTranspose' and c.get('output_padding') is not None:
            v['class_name'] = 'TfConv2DTranspose'
        if cls == 'Subtract':
            v['class_name'] = 'TfSubtract'
        if cls == 'ELU' and c.get('alpha') != 1.0:
            v['class_name'] = 'TfELU'
        if cls in ('BatchNormalization', 'LayerNormalization'):
            c['scale'] = c['center'] = True  # gamma/beta added by bn_fill
        if cls == 'BatchNormalization' and c['axis'] not in (-1, 3):
            v['class_name'] = 'TfBatchNormalization'
        if cls in ('Conv1D', 'Conv2D') and (c.get('groups', 1) > 1 or
                                            c.get('activation') == 'exponential' or
                                            c.get('padding') == 'causal' or
                                            (cls == 'Conv1D' and
                                             c.get('data_format') == 'channels_first')):
            v['class_name'] = 'TfConv'
            c['rank'] = 1 if cls == 'Conv1D' else 2
        if cls == 'UpSampling1D':
            v['class_name'] = 'TfUpSampling1D'
        if cls in ('SeparableConv1D', 'DepthwiseConv1D', 'Conv1DTranspose'):
            c['kind'] = {'SeparableConv1D': 'separable', 'DepthwiseConv1D': 'depthwise',
                         'Conv1DTranspose': 'transpose'}[cls]
            c['rank'] = 1
            v['class_name'] = 'TfConv'
        if cls in ('ZeroPadding1D', 'Cropping1D'):
            c['crop'] = cls == 'Cropping1D'
            v['class_name'] = 'TfPadCrop1D'
        if cls == 'Softmax' and c.get('axis', -1) != -1:
            v['class_name'] = 'TfSoftmax'
        cf1d = cls.endswith('1D') and c.get('data_format') == 'channels_first'
        if cls in ('MaxPooling1D', 'AveragePooling1D') and cf1d:
            c['is_max'] = cls == 'MaxPooling1D'
            v['class_name'] = 'TfPooling1D'
        if cls.startswith('Global') and (c.get('keepdims') or cf1d):
            c['is_max'] = cls.startswith('GlobalMax')
            v['class_name'] = 'TfGlobalPooling'
        if cls in ('SpatialDropout2D', 'ActivityRegularization'):
            v['class_name'] = 'TfIdentity'
        if cls == 'Activation' and k3 and c['activation'] in ('hard_sigmoid', 'leaky_relu',
                                                               'hard_silu', 'relu6'):
            v['class_name'] = 'TfActivation'
    return v


def bn_fill(m, weights):
    """Ones/zeros for the gamma/beta a Batch/LayerNormalization without scale/center lacks
    (tfjs's batchNorm gradient fails without them)."""
    out = list(weights)
    for L in m.layers:
        for SL in ([L] if L.sub is None else L.sub.layers):
            path = [SL.name] if L.sub is None else [L.name, SL.name]
            if SL.cls == 'BatchNormalization':
                shape = list(dict(SL.weights)['moving_mean'].shape)
            elif SL.cls == 'LayerNormalization':
                shape = list(SL.weights[0][1].shape)
            else:
                continue
            for var, flag, val in (('gamma', 'scale', 1.0), ('beta', 'center', 0.0)):
                if not SL.p.get(flag, True):
                    out.append({'path': path, 'var': var, 'shape': shape,
                                'data': [val] * int(np.prod(shape))})
    return out


def tfjs_bundle(outdir, tag, mc, weights, m, x, seed, grad):
    doc = {'topology': tfjs_topology(mc, m.legacy_resize, m.k3), 'weights': bn_fill(m, weights),
           'input': {'shape': [1] + list(x.shape), 'data': [float(v) for v in x.reshape(-1)]},
           'seed': {'shape': [1] + list(seed.shape),
                    'data': [float(v) for v in seed.reshape(-1)]},
           'grad': grad}
    with open(os.path.join(outdir, tag + '.json'), 'w') as f:
        json.dump(doc, f)


def dsl_weights(m):
    out = []
    for L in m.layers:
        if L.sub is not None:
            for SL in L.sub.layers:
                for n, w in SL.weights:
                    out.append({'path': [L.name, SL.name], 'var': n, 'shape': list(w.shape),
                                'data': [float(v) for v in w.reshape(-1)]})
        for n, w in L.weights:
            out.append({'path': [L.name], 'var': n, 'shape': list(w.shape),
                        'data': [float(v) for v in w.reshape(-1)]})
    return out


def load_tfjs(outdir, tag):
    with open(os.path.join(outdir, tag + '.tfjs.json')) as f:
        r = json.load(f)
    conv = lambda d: None if d is None else np.array(d['data'], np.float64).reshape(  # noqa
        d['shape'][1:])
    return conv(r['out']), conv(r['grad'])


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------


def tolerances(out, grad):
    """atol scales with the largest value of the case; rtol 1e-4.  A float32 evaluation
    (tfjs) must pass with a 10x margin (checked below)."""
    scale = max(1.0, float(np.abs(out).max()), float(np.abs(grad).max()))
    return 2e-5 * scale, 1e-4


def within(a, ref, atol, rtol):
    return bool(np.all(np.abs(a - ref) <= atol + rtol * np.abs(ref)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'tests', 'data', 'keras_layers'))
    ap.add_argument('--no-tfjs', action='store_true', help='NumPy references only (no node)')
    ap.add_argument('--only', nargs='*', help='references to regenerate')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='keras_layers_tfjs_')
    selected = [c for c in CASES if not args.only or c['ref'] in args.only]
    results = {}
    for c in selected:
        m = c['build']()
        x = m.G.val[m.input.key].astype(np.float32)
        o = m.outputs[0]
        seed = rng_for(c['ref'], 'seed').normal(0, 1, o.shape).astype(np.float32)
        out, grad = input_gradient(m, x, seed)
        fd = finite_difference_check(m, x, seed, grad, c['ref']) if c['fd'] else None
        if not c['fd']:
            first_max_check(m, c['ref'])
        for fname, style in c['files']:
            path = os.path.join(args.out, fname)
            if style == 'keras':
                write_keras(path, m)
            elif style == 'k3h5':
                write_h5(path, m, STYLE_K3)
            else:
                write_h5(path, m, style)
        tags = []
        want_grad = c['grad'] == 'tfjs'
        k2_files = [f for f, s in c['files'] if s in (STYLE_TF215, STYLE_K224, STYLE_K216)]
        for fname in k2_files:
            mc, ws = read_back_h5(os.path.join(args.out, fname))
            tag = fname.replace('.', '_')
            tfjs_bundle(tmp, tag, mc, ws, m, x, seed, want_grad)
            tags.append(tag)
        if not k2_files:  # a Keras 3 semantics model: its Keras 2 rendering for tfjs
            tag = c['ref'] + '_k2form'
            tfjs_bundle(tmp, tag, Cfg(STYLE_TF215).model(m), dsl_weights(m), m, x, seed,
                        want_grad)
            tags.append(tag)
        results[c['ref']] = dict(c=c, m=m, x=x, seed=seed, out=out, grad=grad, fd=fd, tags=tags,
                                 want_grad=want_grad)
        print('%-26s numpy: out %s, |grad| max %.3g, finite differences %s' % (
            c['ref'], out.shape, np.abs(grad).max(), 'skipped' if fd is None else '%.2g' % fd))

    have_tfjs = not args.no_tfjs and os.path.isdir(
        os.path.join(HERE, 'node_modules', '@tensorflow', 'tfjs'))
    if have_tfjs:
        r = subprocess.run(['node', os.path.join(HERE, 'keras_layers_tfjs.js'), tmp], cwd=HERE)
        if r.returncode != 0:
            raise SystemExit('keras_layers_tfjs.js failed')
    elif not args.no_tfjs:
        raise SystemExit('tools/node_modules has no @tensorflow/tfjs (npm install), or pass '
                         '--no-tfjs')

    lines = []
    for ref, r in results.items():
        out, grad = r['out'], r['grad']
        atol, rtol = tolerances(out, grad)
        src_out, src_grad = 'numpy', 'numpy'
        store_out, store_grad = out, grad
        for tag in r['tags'] if have_tfjs else []:
            tout, tgrad = load_tfjs(tmp, tag)
            if tout.shape != out.shape or not within(tout, out, atol / 10, rtol / 10):
                raise SystemExit('%s (%s): tfjs output differs from NumPy by %g' % (
                    ref, tag, np.abs(tout - out).max() if tout.shape == out.shape else -1))
            gerr = np.abs(tgrad - grad).max() if tgrad is not None else float('nan')
            if r['want_grad'] and not within(tgrad, grad, atol / 10, rtol / 10):
                raise SystemExit('%s (%s): tfjs gradient differs from NumPy by %g' % (
                    ref, tag, gerr))
            print('%-26s tfjs %-28s |out diff| %.2g, |grad diff| %.2g%s' % (
                ref, tag, np.abs(tout - out).max(), gerr,
                '' if r['want_grad'] else ' (tfjs gradient not used)'))
            if tag == r['tags'][0]:
                store_out, src_out = tout, 'tfjs'
                if r['want_grad']:
                    store_grad, src_grad = tgrad, 'tfjs'
        r.update(src_out=src_out, src_grad=src_grad)
        np.save(os.path.join(args.out, ref + '.input.npy'), r['x'][None])
        np.save(os.path.join(args.out, ref + '.out.npy'), store_out.astype(np.float32)[None])
        np.save(os.path.join(args.out, ref + '.seed.npy'), r['seed'][None])
        np.save(os.path.join(args.out, ref + '.grad.npy'), store_grad.astype(np.float32)[None])
        for fname, _ in r['c']['files']:
            lines.append('%-26s %-28s %.3g %.3g' % (ref, fname, atol, rtol))
    if not args.only:
        with open(os.path.join(args.out, 'cases.txt'), 'w') as f:
            f.write('# reference file atol rtol  (tools/make_keras_layer_models.py; '
                    'see README.md)\n')
            f.write('\n'.join(lines) + '\n')
        write_readme(args.out, results)
    shutil.rmtree(tmp)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print('%d references, %d files, %d bytes in %s' % (len(results), len(lines), total,
                                                       args.out))


def write_readme(outdir, results):
    doc = __doc__.split('Usage:')[0]
    rows = []
    for ref, r in results.items():
        c = r['c']
        files = ', '.join('`%s`' % f for f, _ in c['files'])
        grad = r['src_grad'] + ('' if c['grad'] == 'tfjs' else ' (' + c['grad'].split(': ', 1)[-1]
                                                              + ')')
        rows.append('| `%s` | %s | %s | out: %s; grad: %s%s |' % (
            ref, files, c['note'], r['src_out'], grad,
            '' if c['fd'] else '; no finite differences (ties)'))
    notes = (
        '\n## Notes\n\n'
        '- Input and output arrays carry the batch axis (1) and are in Keras axis order: NHWC, '
        'except `channels_first` (NCHW, as that model declares its input).\n'
        '- Tolerances: atol = 2e-5 x max(1, max |out|, max |grad|), rtol = 1e-4 per element '
        '(`|got - ref| <= atol + rtol |ref|`); the float32 tfjs results agree with the float64 '
        'NumPy ones within a tenth of that (checked on every generation).\n'
        '- Where tfjs lacks a layer or computes it unlike TensorFlow, the tfjs run uses a small '
        'stand-in layer written over tfjs ops (tools/keras_layers_tfjs.js): half-pixel '
        '`UpSampling2D` bilinear (tfjs\'s layer is legacy), `ReLU` with negative_slope/threshold, '
        '`Conv2DTranspose` with output_padding (ignored by tfjs), `Subtract` (absent), `ELU` with '
        'alpha != 1 (refused), Keras 3 `hard_sigmoid`/`leaky_relu`/`hard_silu`, '
        '`Conv1D`/`Conv2D` with groups, `causal` padding, channels_first (1-D) or the '
        '`exponential` activation, `UpSampling1D`, `SeparableConv1D`, `DepthwiseConv1D`, '
        '`Conv1DTranspose`, `ZeroPadding1D`, `Cropping1D`, `SpatialDropout2D` and '
        '`ActivityRegularization` (absent), `Softmax` on a non-last axis or an axis list, global '
        'pooling with keepdims, channels_first 1-D pooling, and '
        '`BatchNormalization` on a non-last axis (tfjs 4.22\'s cpu batchNorm kernel indexes the '
        'per-channel parameters by i % C, i.e. always along the last axis: wrong for '
        'channels_first).  Batch/LayerNormalization without gamma/beta get ones/zeros for tfjs '
        '(its gradient fails on a missing scale/offset).\n'
        '- `activations_k3` has no Keras 2 file: tfjs runs a Keras 2 rendering of the same model '
        '(same weights) with the Keras 3 activation definitions.\n'
        '- The upsampling model has a square input because tfjs\'s cpu ResizeBilinear gradient '
        'swaps H and W otherwise.\n'
        '- `conv1d_causal_k2` has no .keras file: Keras 3 refuses `causal` padding in '
        '`SeparableConv1D` (tf.keras 2 accepts it).\n'
        '- Not covered here: bicubic/area resizing, Resizing, TFOpLambda, '
        'Normalization (forward-only checks in test_keras_load.c); a nested Sequential or a '
        'nested model called twice; dilated `Conv1DTranspose`/`Conv2DTranspose` (tfjs has no '
        'dilated transposed convolution); the tf.keras 2 fused-BN epsilon floor (1.001e-5); .keras '
        'files without the vars `name` attribute (Keras < 3.6, the real k341 file has that).\n')
    text = ('# Small Keras models for the layers the real files do not use\n\n'
            'Generated by `tools/make_keras_layer_models.py` (run with `/usr/bin/python3`; the\n'
            'TensorFlow.js part needs `cd tools && npm install` once).  Checked by\n'
            '`tests/test_keras_layers.c`.\n\n```\n' + doc.strip() + '\n```\n\n'
            '| reference | files | what it covers | reference source |\n|---|---|---|---|\n' +
            '\n'.join(rows) + '\n' + notes)
    with open(os.path.join(outdir, 'README.md'), 'w') as f:
        f.write(text)


if __name__ == '__main__':
    main()
