#!/usr/bin/env node
// TensorFlow.js reference for the small Keras layer models (tools/make_keras_layer_models.py).
//
// Usage: node tools/keras_layers_tfjs.js DIR
//   DIR/<case>.json  {"topology": Keras 2 model config (the one stored in the .h5 file, with the
//                    rewrites below), "weights": [{"path": [layer, (sublayer)], "var": "kernel",
//                    "shape": [...], "data": [...]}], "input": {"shape", "data"},
//                    "seed": {"shape", "data"}, "grad": true|false}
//   writes DIR/<case>.tfjs.json  {"out": {"shape", "data"}, "grad": {"shape", "data"} | null}
//
// The model is rebuilt by tfjs-layers' own deserializer (tf.models.modelFromJSON), weights are
// written into its variables by name, then out = model.apply(x) and, when asked,
// grad = tf.grad(x -> sum(seed * model.apply(x))).  Nothing here reads segcam's output.
//
// tfjs-layers 4.22 lacks some Keras layers or computes them unlike TensorFlow; the generator
// renames those layers' classes in the topology it hands over, and this script registers small
// layers over tfjs ops with TensorFlow's definitions (docs FORMATS_AND_NUMERICS.md section 4):
//   TfUpSampling2D     tf.image.resize v2 (half-pixel bilinear); tfjs's UpSampling2D is legacy
//   TfReLU             backend.relu(x, negative_slope, max_value, threshold); tfjs has max only
//   TfConv2DTranspose  Keras deconv_output_length with output_padding; tfjs ignores it
//   TfSubtract         tfjs has no Subtract layer
//   TfELU              backend.elu(x, alpha): tfjs's ELU layer refuses alpha != 1
//   TfBatchNormalization  inference BN on a non-last axis: tfjs's cpu batchNorm kernel indexes
//                      the per-channel parameters by i % C, i.e. always along the last axis
//   TfActivation       Keras 3 definitions: hard_sigmoid = relu6(x+3)/6, leaky_relu (0.2),
//                      hard_silu; tfjs's hardSigmoid is Keras 2's
//   TfConv             Conv1D/Conv2D with groups > 1 (tfjs has no groups: one convolution per
//                      group on its slice of the channels, concatenated) or the 'exponential'
//                      activation (unknown to tfjs); Conv1D 'causal' = (k-1)*d zeros before;
//                      SeparableConv1D, DepthwiseConv1D and Conv1DTranspose (absent), as tf.keras
//                      computes them: the 2-D op (separableConv2d, depthwiseConv2d, conv2dTranspose
//                      to Keras's deconv_output_length) on the input expanded to [N, 1, L, C] with
//                      the kernel expanded to height 1
//   TfUpSampling1D     backend.repeat_elements along the steps (tfjs has no UpSampling1D)
//   TfSoftmax          Softmax over a non-last axis (tfjs's softmax is last-axis only) or an axis
//                      list (tf.keras 2: exp(x - reduce_logsumexp(x, axis)))
//   TfGlobalPooling    GlobalAverage/MaxPooling with keepdims (tfjs ignores keepdims), and
//                      the 1-D ones channels_first (tfjs pools axis 1 whatever the format)
//   TfPooling1D        Max/AveragePooling1D channels_first (tfjs pools axis 1 whatever the
//                      format)
//   TfIdentity         SpatialDropout2D and ActivityRegularization (absent): identity at inference
//   TfPadCrop1D        ZeroPadding1D and Cropping1D (absent): (left, right) along axis 1
// (Their gradients are tfjs's autodiff of those ops.)  A BatchNormalization without gamma or beta
// gets scale/center = true and weights of ones/zeros instead (the same function), because tfjs's
// batchNorm gradient fails without them; LayerNormalization without center likewise gets beta =
// zeros.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function classOf(instance) {
  return Object.getPrototypeOf(instance).constructor;
}
function one(inputs) {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

const UpSampling2D = classOf(tf.layers.upSampling2d({}));
class TfUpSampling2D extends UpSampling2D {
  call(inputs) {
    return tf.tidy(() => {
      let x = one(inputs);
      const cf = this.dataFormat === 'channelsFirst';
      if (cf) x = tf.transpose(x, [0, 2, 3, 1]);
      const size = [x.shape[1] * this.size[0], x.shape[2] * this.size[1]];
      let y = this.interpolation === 'nearest'
        ? tf.image.resizeNearestNeighbor(x, size, false, true)
        : tf.image.resizeBilinear(x, size, false, true);
      if (cf) y = tf.transpose(y, [0, 3, 1, 2]);
      return y;
    });
  }
}
TfUpSampling2D.className = 'TfUpSampling2D';
tf.serialization.registerClass(TfUpSampling2D);

class TfReLU extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.maxValue = args.maxValue == null ? null : args.maxValue;
    this.negativeSlope = args.negativeSlope || 0;
    this.threshold = args.threshold || 0;
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs);
      const a = this.negativeSlope, t = this.threshold, mv = this.maxValue;
      let neg = null;
      if (a !== 0) {
        if (mv == null && t === 0) return tf.leakyRelu(x, a);
        neg = tf.relu(tf.add(tf.neg(x), t));
      }
      let clip = mv != null, y;
      if (t !== 0) {
        y = tf.mul(x, tf.step(tf.sub(x, t)));  // (x > t), with a zero gradient
      } else if (mv === 6) {
        y = tf.relu6(x);
        clip = false;
      } else {
        y = tf.relu(x);
      }
      if (clip) y = tf.clipByValue(y, 0, mv);
      if (a !== 0) y = tf.sub(y, tf.mul(a, neg));
      return y;
    });
  }
  computeOutputShape(s) {
    return s;
  }
  getConfig() {
    return Object.assign({maxValue: this.maxValue, negativeSlope: this.negativeSlope,
                          threshold: this.threshold}, super.getConfig());
  }
}
TfReLU.className = 'TfReLU';
tf.serialization.registerClass(TfReLU);

const Conv2DTranspose = classOf(tf.layers.conv2dTranspose({filters: 1, kernelSize: 1}));
class TfConv2DTranspose extends Conv2DTranspose {
  constructor(args) {
    super(args);
    this.outputPaddingTf = args.outputPadding == null ? null : args.outputPadding;
  }
  outLen(n, a) {
    const k = this.kernelSize[a], s = this.strides[a], d = this.dilationRate[a];
    const keff = (k - 1) * d + 1, op = this.outputPaddingTf ? this.outputPaddingTf[a] : null;
    if (op == null) return this.padding === 'valid' ? n * s + Math.max(keff - s, 0) : n * s;
    const pad = this.padding === 'same' ? Math.floor(keff / 2) : 0;
    return (n - 1) * s + keff - 2 * pad + op;
  }
  computeOutputShape(inputShape) {
    const s = inputShape.slice();
    const cf = this.dataFormat === 'channelsFirst';
    const h = cf ? 2 : 1, w = cf ? 3 : 2, c = cf ? 1 : 3;
    s[h] = this.outLen(s[h], 0);
    s[w] = this.outLen(s[w], 1);
    s[c] = this.filters;
    return s;
  }
  call(inputs) {
    return tf.tidy(() => {
      let x = one(inputs);
      const cf = this.dataFormat === 'channelsFirst';
      if (cf) x = tf.transpose(x, [0, 2, 3, 1]);
      const oshape = [x.shape[0], this.outLen(x.shape[1], 0), this.outLen(x.shape[2], 1),
                      this.filters];
      let y = tf.conv2dTranspose(x, this.kernel.read(), oshape, this.strides, this.padding);
      if (this.bias) y = tf.add(y, this.bias.read());
      if (this.activation) y = this.activation.apply(y);
      if (cf) y = tf.transpose(y, [0, 3, 1, 2]);
      return y;
    });
  }
}
TfConv2DTranspose.className = 'TfConv2DTranspose';
tf.serialization.registerClass(TfConv2DTranspose);

class TfSubtract extends tf.layers.Layer {
  call(inputs) {
    return tf.tidy(() => tf.sub(inputs[0], inputs[1]));
  }
  computeOutputShape(s) {
    return s[0];
  }
}
TfSubtract.className = 'TfSubtract';
tf.serialization.registerClass(TfSubtract);

class TfELU extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.alpha = args.alpha == null ? 1 : args.alpha;
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs), e = tf.elu(x), pos = tf.step(x);  // where(x > 0, e, alpha * e)
      return tf.add(tf.mul(pos, e), tf.mul(tf.sub(1, pos), tf.mul(this.alpha, e)));
    });
  }
  computeOutputShape(s) {
    return s;
  }
  getConfig() {
    return Object.assign({alpha: this.alpha}, super.getConfig());
  }
}
TfELU.className = 'TfELU';
tf.serialization.registerClass(TfELU);

const BatchNormalization = classOf(tf.layers.batchNormalization({}));
class TfBatchNormalization extends BatchNormalization {
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs);
      const shape = x.shape.map(() => 1);
      const axis = this.axis >= 0 ? this.axis : this.axis + x.shape.length;
      shape[axis] = x.shape[axis];
      const r = (v) => tf.reshape(v.read(), shape);
      const inv = tf.mul(r(this.gamma), tf.rsqrt(tf.add(r(this.movingVariance), this.epsilon)));
      return tf.add(tf.mul(tf.sub(x, r(this.movingMean)), inv), r(this.beta));
    });
  }
}
TfBatchNormalization.className = 'TfBatchNormalization';
tf.serialization.registerClass(TfBatchNormalization);

function hardSigmoidK3(x) {
  return tf.div(tf.relu6(tf.add(x, 3)), 6);
}
class TfActivation extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.act = args.activation;
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs);
      // tfjs's deserializer turns snake_case strings into camelCase
      switch (this.act) {
        case 'hard_sigmoid': case 'hardSigmoid': return hardSigmoidK3(x);
        case 'hard_silu': case 'hardSilu': return tf.mul(x, hardSigmoidK3(x));
        case 'leaky_relu': case 'leakyRelu': return tf.leakyRelu(x, 0.2);
        case 'relu6': return tf.relu6(x);
        default: throw new Error('TfActivation: ' + this.act);
      }
    });
  }
  computeOutputShape(s) {
    return s;
  }
  getConfig() {
    return Object.assign({activation: this.act}, super.getConfig());
  }
}
TfActivation.className = 'TfActivation';
tf.serialization.registerClass(TfActivation);

function activate(name, x) {
  switch (name == null ? 'linear' : name) {
    case 'linear': return x;
    case 'relu': return tf.relu(x);
    case 'tanh': return tf.tanh(x);
    case 'elu': return tf.elu(x);
    case 'exponential': return tf.exp(x);
    default: throw new Error('activate: ' + name);
  }
}

class TfConv extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.rank = args.rank;
    this.kind = args.kind || 'conv';
    this.filters = args.filters;
    const arr = (v) => (Array.isArray(v) ? v : [v]);
    this.kernelSize = arr(args.kernelSize);
    this.stridesTf = arr(args.strides == null ? 1 : args.strides);
    this.dil = arr(args.dilationRate == null ? 1 : args.dilationRate);
    this.paddingTf = args.padding || 'valid';
    this.groups = args.groups || 1;
    this.dm = args.depthMultiplier || 1;
    this.outPad = args.outputPadding == null ? null : arr(args.outputPadding);
    this.useBias = args.useBias == null ? true : args.useBias;
    this.act = args.activation;
    this.cf = args.dataFormat === 'channelsFirst' || args.dataFormat === 'channels_first';
  }
  outChannels(C) {
    return this.kind === 'depthwise' ? C * this.dm : this.filters;
  }
  build(inputShape) {
    const C = inputShape[this.cf ? 1 : inputShape.length - 1], ks = this.kernelSize;
    const w = (name, shape) => this.addWeight(name, shape, 'float32', tf.initializers.zeros());
    if (this.kind === 'conv') {
      this.kernel = w('kernel', ks.concat([C / this.groups, this.filters]));
    } else if (this.kind === 'transpose') {
      this.kernel = w('kernel', ks.concat([this.filters, C]));
    } else {
      this.dk = w('depthwise_kernel', ks.concat([C, this.dm]));
      if (this.kind === 'separable') {
        this.pk = w('pointwise_kernel', ks.map(() => 1).concat([C * this.dm, this.filters]));
      }
    }
    if (this.useBias) this.bias = w('bias', [this.outChannels(C)]);
    this.built = true;
  }
  outLen(n, a) {
    const keff = (this.kernelSize[a] - 1) * this.dil[a] + 1, s = this.stridesTf[a];
    if (this.kind === 'transpose') {  // conv_utils.deconv_output_length
      const op = this.outPad ? this.outPad[a] : null;
      if (op == null) return this.paddingTf === 'valid' ? n * s + Math.max(keff - s, 0) : n * s;
      return (n - 1) * s + keff - 2 * (this.paddingTf === 'same' ? Math.floor(keff / 2) : 0) + op;
    }
    if (this.paddingTf === 'valid') return Math.floor((n - keff + s) / s);
    return Math.ceil(n / s); // 'same', and 'causal' (n + keff - 1 padded, then 'valid')
  }
  computeOutputShape(s) {
    const o = s.slice(), r = this.rank, c = this.cf ? 1 : r + 1;
    for (let a = 0; a < r; a++) o[(this.cf ? 2 : 1) + a] = this.outLen(s[(this.cf ? 2 : 1) + a], a);
    o[c] = this.outChannels(s[c]);
    return o;
  }
  // SeparableConv1D, DepthwiseConv1D and Conv1DTranspose as tf.keras computes them: the 2-D op on
  // the input [N, 1, L, C] and the kernel expanded to height 1
  view1d(x, pad) {
    const x4 = tf.expandDims(x, 1), up = (v) => tf.expandDims(v.read(), 0);
    const s = [1, this.stridesTf[0]], d = [1, this.dil[0]];
    let y;
    if (this.kind === 'separable') {
      y = tf.separableConv2d(x4, up(this.dk), up(this.pk), s, pad, d, 'NHWC');
    } else if (this.kind === 'depthwise') {
      y = tf.depthwiseConv2d(x4, up(this.dk), s, pad, 'NHWC', d);
    } else {
      if (d[1] !== 1) throw new Error('TfConv: tfjs has no dilated conv2dTranspose');
      const oshape = [x.shape[0], 1, this.outLen(x.shape[1], 0), this.filters];
      y = tf.conv2dTranspose(x4, up(this.kernel), oshape, s, pad);
    }
    return tf.squeeze(y, [1]);
  }
  call(inputs) {
    return tf.tidy(() => {
      let x = one(inputs);
      const r = this.rank;
      if (this.cf) x = tf.transpose(x, r === 1 ? [0, 2, 1] : [0, 2, 3, 1]);
      let pad = this.paddingTf;
      if (pad === 'causal') {
        x = tf.pad(x, [[0, 0], [(this.kernelSize[0] - 1) * this.dil[0], 0], [0, 0]]);
        pad = 'valid';
      }
      let y;
      if (this.kind !== 'conv') {
        y = this.view1d(x, pad);
      } else {
        const k = this.kernel.read(), G = this.groups, F = this.filters / G;
        const xs = G > 1 ? tf.split(x, G, r + 1) : [x], ys = [];
        for (let g = 0; g < G; g++) {
          const kg = tf.slice(k, Array(r + 1).fill(0).concat([g * F]), k.shape.slice(0, r + 1)
            .concat([F]));
          ys.push(r === 1 ? tf.conv1d(xs[g], kg, this.stridesTf[0], pad, 'NWC', this.dil[0])
                          : tf.conv2d(xs[g], kg, this.stridesTf, pad, 'NHWC', this.dil));
        }
        y = G > 1 ? tf.concat(ys, r + 1) : ys[0];
      }
      if (this.useBias) y = tf.add(y, this.bias.read());
      y = activate(this.act, y);
      if (this.cf) y = tf.transpose(y, r === 1 ? [0, 2, 1] : [0, 3, 1, 2]);
      return y;
    });
  }
}
TfConv.className = 'TfConv';
tf.serialization.registerClass(TfConv);

class TfUpSampling1D extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.size = args.size == null ? 2 : args.size;
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs), [n, l, c] = x.shape;
      return tf.reshape(tf.tile(tf.expandDims(x, 2), [1, 1, this.size, 1]), [n, l * this.size, c]);
    });
  }
  computeOutputShape(s) {
    return [s[0], s[1] == null ? null : s[1] * this.size, s[2]];
  }
}
TfUpSampling1D.className = 'TfUpSampling1D';
tf.serialization.registerClass(TfUpSampling1D);

class TfSoftmax extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.axes = Array.isArray(args.axis) ? args.axis : [args.axis == null ? -1 : args.axis];
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs);
      return tf.exp(tf.sub(x, tf.logSumExp(x, this.axes, true)));
    });
  }
  computeOutputShape(s) {
    return s;
  }
}
TfSoftmax.className = 'TfSoftmax';
tf.serialization.registerClass(TfSoftmax);

class TfGlobalPooling extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.isMax = args.isMax;
    this.cf = args.dataFormat === 'channelsFirst' || args.dataFormat === 'channels_first';
    this.keepdims = !!args.keepdims;
  }
  axesFor(rank) {
    const a = [];
    for (let i = this.cf ? 2 : 1; i < (this.cf ? rank : rank - 1); i++) a.push(i);
    return a;
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs), ax = this.axesFor(x.shape.length);
      return this.isMax ? tf.max(x, ax, this.keepdims) : tf.mean(x, ax, this.keepdims);
    });
  }
  computeOutputShape(s) {
    const ax = this.axesFor(s.length);
    return this.keepdims ? s.map((d, i) => (ax.includes(i) ? 1 : d))
                         : s.filter((d, i) => !ax.includes(i));
  }
}
TfGlobalPooling.className = 'TfGlobalPooling';
tf.serialization.registerClass(TfGlobalPooling);

class TfPooling1D extends tf.layers.Layer {
  constructor(args) {
    super(args);
    const first = (v) => (Array.isArray(v) ? v[0] : v);
    this.isMax = args.isMax;
    this.pool = first(args.poolSize == null ? 2 : args.poolSize);
    this.stride = first(args.strides == null ? this.pool : args.strides);
    this.paddingTf = args.padding || 'valid';
    this.cf = args.dataFormat === 'channelsFirst' || args.dataFormat === 'channels_first';
  }
  call(inputs) {
    return tf.tidy(() => {
      let x = one(inputs);
      if (this.cf) x = tf.transpose(x, [0, 2, 1]);
      const x4 = tf.expandDims(x, 1), k = [1, this.pool], s = [1, this.stride];
      let y = tf.squeeze(this.isMax ? tf.maxPool(x4, k, s, this.paddingTf)
                                    : tf.avgPool(x4, k, s, this.paddingTf), [1]);
      if (this.cf) y = tf.transpose(y, [0, 2, 1]);
      return y;
    });
  }
  computeOutputShape(s) {
    const n = s[this.cf ? 2 : 1];
    const o = this.paddingTf === 'same' ? Math.ceil(n / this.stride)
                                        : Math.floor((n - this.pool + this.stride) / this.stride);
    return this.cf ? [s[0], s[1], o] : [s[0], o, s[2]];
  }
}
TfPooling1D.className = 'TfPooling1D';
tf.serialization.registerClass(TfPooling1D);

class TfIdentity extends tf.layers.Layer {
  call(inputs) {
    return tf.tidy(() => tf.clone(one(inputs)));
  }
  computeOutputShape(s) {
    return s;
  }
}
TfIdentity.className = 'TfIdentity';
tf.serialization.registerClass(TfIdentity);

class TfPadCrop1D extends tf.layers.Layer {
  constructor(args) {
    super(args);
    this.crop = !!args.crop;
    const v = this.crop ? args.cropping : args.padding;
    this.lr = Array.isArray(v) ? v : [v, v];
  }
  call(inputs) {
    return tf.tidy(() => {
      const x = one(inputs), [l, r] = this.lr;
      if (!this.crop) return tf.pad(x, [[0, 0], [l, r], [0, 0]]);
      return tf.slice(x, [0, l, 0], [-1, x.shape[1] - l - r, -1]);
    });
  }
  computeOutputShape(s) {
    const n = this.lr[0] + this.lr[1];
    return [s[0], s[1] == null ? null : s[1] + (this.crop ? -n : n), s[2]];
  }
}
TfPadCrop1D.className = 'TfPadCrop1D';
tf.serialization.registerClass(TfPadCrop1D);

function findWeight(model, entry) {
  let layer = model.getLayer(entry.path[0]);
  for (let i = 1; i < entry.path.length; i++) layer = layer.getLayer(entry.path[i]);
  const w = layer.weights.find((v) => v.originalName.endsWith('/' + entry.var));
  if (!w) {
    throw new Error(`no variable '${entry.var}' in layer ${entry.path.join('/')}: ` +
                    layer.weights.map((v) => v.originalName).join(', '));
  }
  return w;
}

async function runCase(file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const model = await tf.models.modelFromJSON({modelTopology: doc.topology});
  let n = 0;
  for (const e of doc.weights) {
    const w = findWeight(model, e);
    if (JSON.stringify(w.shape) !== JSON.stringify(e.shape)) {
      throw new Error(`${e.path.join('/')}/${e.var}: tfjs shape ${w.shape}, file ${e.shape}`);
    }
    w.write(tf.tensor(e.data, e.shape, 'float32'));
    n++;
  }
  const nvars = model.weights.length;
  if (n !== nvars) throw new Error(`set ${n} of the model's ${nvars} variables`);
  const x = tf.tensor(doc.input.data, doc.input.shape, 'float32');
  const seed = tf.tensor(doc.seed.data, doc.seed.shape, 'float32');
  const y = model.apply(x, {training: false});
  const res = {out: {shape: y.shape, data: Array.from(await y.data())}, grad: null};
  if (doc.grad) {
    const g = tf.grad((v) => tf.sum(tf.mul(model.apply(v, {training: false}), seed)))(x);
    res.grad = {shape: g.shape, data: Array.from(await g.data())};
  }
  fs.writeFileSync(file.replace(/\.json$/, '.tfjs.json'), JSON.stringify(res));
  return `${path.basename(file)}: ${tf.getBackend()}, out ${y.shape}${doc.grad ? ', grad' : ''}`;
}

(async () => {
  await tf.setBackend('cpu');
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node keras_layers_tfjs.js DIR');
    process.exit(2);
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.tfjs.json'));
  let failed = 0;
  for (const f of files.sort()) {
    try {
      console.log(await runCase(path.join(dir, f)));
    } catch (e) {
      failed++;
      console.error(`${f}: ${e.stack || e}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
