#!/usr/bin/env node
// Forward outputs and Seg-Grad-CAM references from TensorFlow.js for every real Keras file.
//
// For each model in MODELS below (../shared/models), writes into tests/data/keras/:
//   <model>.input.npy                 the model input, NHWC [1, H, W, C] float32
//   <model>.tfjs.npy                  the model output (tfjs layers model, float32)
//   <model>.<layer>.c<k>.region.npy   uint8 [H, W]: the target region M ([1, 1] for a classifier)
//   <model>.<layer>.c<k>.low.npy      float32 [h, w]: ReLU(sum_k w_k A_k) before upsampling
//   <model>.<layer>.c<k>.cam.npy      float32 [H, W]: the normalised Grad-CAM at the input size
//                                     (inputs up to 256x256 only, see CAM_MAX_PIXELS)
//   cams.txt                          manifest, same columns as tests/data/models/cams.txt
// <layer> is the Keras layer name; cams.txt's node_name column repeats it.
//
// How the model is built: tools/keras_extract.py (h5py) writes the config, rewritten into the
// Keras 2 form tfjs accepts, and the weights into a temporary directory; tf.models.modelFromJSON
// builds the layers model and each layer's weights are set by variable name.  Inputs have the
// size the file fixes (segcam runs fixed-size models at that size only).  The forward output is
// the layers model's predict().
//
// Seg-Grad-CAM (docs CAM_METHODS.md; as tools/onnx_torch_ref.py):
//   y   the logits: the output before a trailing softmax/sigmoid, whether that is fused into the
//       last Conv2D/Dense (the layer is re-run without its activation) or an Activation layer;
//       other final activations (relu, tanh, linear) are part of y, as segcam treats them;
//   M   one channel: y > 0; K >= 2 channels: argmax over channels == c (first maximum);
//       a classifier ([1, K]) has no region: S = y_c and M is the single "pixel" [1, 1];
//   S   sum over M of y_c;  g = dS/dA by tf.grad, A = the layer's output;
//   w_k = mean over (i, j) of g_kij;  L = ReLU(sum_k w_k A_k)  (float64 from here on);
//   L upsampled to the input H x W: tf.image.resizeBilinear(L, [H, W], alignCorners=false,
//   halfPixelCenters=true) = TF2 tf.image.resize (checked against a float64 port of TF's
//   ResizeBilinear below); min-max normalised, zeros when max == min.
//
// The gradient (docs REFERENCES.md): layers after the target are re-run inside tf.grad with
// plain tfjs ops (tf.conv2d, tf.conv2dTranspose, ...) using each layer's weights, never through
// tf.layers (which would also compute every filter gradient); the layers that do not depend on
// the target (skip connections from before it) are constants from the forward pass.  The plain-op
// re-run of the whole network is checked against the layers model's output.  MaxPooling2D's
// gradient is our own, routed to the first maximum of each window in row-major order as TF's CPU
// kernel does (maxpooling_op.cc, docs FORMATS_AND_NUMERICS.md §4.3): the wasm backend's
// MaxPoolGrad is wrong wherever a window holds tied or non-positive values (measured on a 4x4
// input: a window [-3 -1; -4 -6] sends its gradient to the -3, [-5 -2; -7 -8] and [0 0; 0 0] lose
// it, [1 1; 1 1] sends it to the last 1), and ReLU outputs tie at 0 all the time; the script
// prints how far tf.maxPool's own gradient would be from ours (the cpu backend's agrees with
// ours).  Nothing in these models needs the other ops REFERENCES.md lists as wrong in tfjs
// (half-pixel bilinear resize, 'same' average pooling, dilated convolution): the plain ops refuse
// them.  The softmax of tfjs computes exp(x - logsumexp(x)) in float32, which loses about
// |x| * 6e-8 of relative accuracy: k341_steel_unet4's logits reach 600, so its probabilities are
// only good to about 1e-4 (its logits-based maps are not affected).
// tools/keras_numpy_ref.py checks the forward outputs and the low-resolution maps against an
// independent float64 NumPy implementation.
//
// Setup (once):  cd tools && ONNXRUNTIME_NODE_INSTALL=skip npm install
// Usage:         node tools/keras_tfjs_ref.js [--backend wasm|cpu] [--only STEM] [--models DIR]
//                                            [--out DIR] [--all-maps]
// KREF_DEBUG=1 also prints every layer's plain-op vs layers-model difference.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');

const ROOT = path.resolve(__dirname, '..');
// .cam.npy files are written for inputs up to this many pixels only (--all-maps: always): the
// 420x540 and 512x512 maps would add 4 MB to the repository and test the same upsampling code
// as the smaller ones; their low-resolution maps, regions and outputs are always written.
const CAM_MAX_PIXELS = 256 * 256;
let allMaps = false;
const PYTHON = '/usr/bin/python3'; // Debian's h5py is visible only to it
const EXTRACT = path.join(__dirname, 'keras_extract.py');
let SHARED = path.join(ROOT, '..', 'shared', 'models');
let OUT_DIR = path.join(ROOT, 'tests', 'data', 'keras');

// file: the model; input: an image (keras_extract.py --image arguments) or a random input
// (mulberry32(seed) uniform [0, 1) times `scale`, NHWC shape); layers: Keras layer names, the
// default layer first (`segcam layers` marks it); classes: output channels to explain ('pred' =
// the classifier's predicted class; 'first' = class 0 or the first class with pixels).
const MODELS = [
  { file: 'k208_lane_fcn.h5',
    // MANIFEST: raw 0-255 RGB (the first layer is a BatchNormalization); no sample image
    input: { random: [1, 80, 160, 3], seed: 208, scale: 255 },
    layers: ['dropout_5', // default: bottleneck (Conv7 + Dropout), then MaxPooling2D
      'Deconv5'], // last Conv2DTranspose before the final UpSampling2D
    classes: 'first' },
  { file: 'k224_unet_gen.h5',
    input: { random: [1, 64, 64, 3], seed: 224, scale: 1 },
    layers: ['conv2d_10', 'conv2d_8'], // default; bottleneck
    classes: 'first' },
  { file: 'k231_mnist_cnn.h5',
    input: { image: 'img_mnist_digit_test.png', args: ['--gray', '--size', '28', '28'] },
    layers: ['conv2d_3', 'conv2d_2'], // default; the one before it (through MaxPooling2D)
    classes: 'pred' },
  { file: 'k231_unet_mnist.h5',
    input: { image: 'img_mnist_digit_test.png', args: ['--gray', '--size', '28', '28'] },
    layers: ['batch_normalization_8', 'batch_normalization_6'], // default; bottleneck
    classes: 'first' },
  { file: 'k3132_nuclei_unet.h5',
    input: { image: 'img_nuclei_04_3.png', args: ['--gray'] },
    layers: ['conv2d_5', 'conv2d_4'], // default; bottleneck
    classes: 'first' },
  { file: 'k341_steel_unet4.keras',
    input: { random: [1, 256, 256, 3], seed: 341, scale: 1 },
    layers: ['activation_15', 'activation_9'], // default; bottleneck
    classes: 'first' },
  { file: 'k38_unet.keras',
    input: { random: [1, 128, 128, 3], seed: 38, scale: 1 },
    layers: ['conv2d_14', // default (= bottleneck)
      'conv2d_12'], // encoder: through MaxPooling2D and the skip connection
    classes: 'first' },
  { file: 'tfk213_doc_denoise.h5',
    input: { image: 'img_doc_test_145.png', args: ['--gray'] },
    layers: ['Conv_Layer_4', // default (= bottleneck)
      'Conv-Transpose_Layer_6'], // decoder (a '-' in the name)
    classes: 'first' },
  { file: 'tfk215_land_unet7.h5',
    input: { random: [1, 64, 64, 3], seed: 215, scale: 1 },
    layers: ['conv2d_7', 'conv2d_5'], // default; bottleneck
    classes: 'first' },
  { file: 'tfk24_unet_leaky.hdf5',
    input: { random: [1, 512, 512, 1], seed: 24, scale: 1 },
    layers: ['leaky_re_lu_2', // default
      'leaky_re_lu_1'], // encoder: through MaxPooling2D and the skip connection
    classes: 'first' },
];

// ---- .npy (format 1.0, little-endian, C order) ---------------------------------------------

function npyRead(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x934e554d || buf.toString('latin1', 4, 6) !== 'PY') {
    throw new Error(`${file}: not a .npy file`);
  }
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim())
    .filter((s) => s).map(Number);
  if (descr !== '<f4') throw new Error(`${file}: dtype ${descr} not handled`);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const off = start + hlen;
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { shape, data };
}

function npyWrite(file, shape, data, descr = '<f4') {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const total = Math.ceil((10 + header.length + 1) / 64) * 64; // data on a 64-byte boundary
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const size = descr === '|u1' ? 1 : 4;
  const out = Buffer.alloc(total + size * data.length);
  out.writeUInt8(0x93, 0);
  out.write('NUMPY', 1, 'latin1');
  out.writeUInt8(1, 6);
  out.writeUInt8(0, 7);
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) {
    if (size === 1) out.writeUInt8(data[i], total + i);
    else out.writeFloatLE(data[i], total + 4 * i);
  }
  fs.writeFileSync(file, out);
}

function mulberry32(seed) { // the generator of tools/ort_ref.js
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- model building ------------------------------------------------------------------------

function layerList(topology) {
  const c = topology.config;
  return Array.isArray(c) ? c : c.layers;
}

// segcam runs a model whose file fixes the input size at exactly that size (docs/CLI.md), and
// every Keras file here fixes it: the reference input must have it too.
function checkInputSize(topology, shape) {
  const layers = layerList(topology);
  const first = layers.find((l) => l.class_name === 'InputLayer') || layers[0];
  const bis = first.config.batch_input_shape;
  if (!bis || bis.length !== 4) throw new Error('no 4-D batch_input_shape in the config');
  for (let i = 1; i < 4; i++) {
    if (bis[i] !== null && bis[i] !== shape[i]) {
      throw new Error(`input [${shape}] does not fit the model's [${bis}]`);
    }
  }
}

async function buildModel(file, inputShape) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keras-tfjs-'));
  try {
    execFileSync(PYTHON, [EXTRACT, file, dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    const bin = fs.readFileSync(path.join(dir, 'weights.bin'));
    const all = new Float32Array(bin.buffer, bin.byteOffset, bin.length / 4);
    checkInputSize(doc.modelTopology, inputShape);
    const model = await tf.models.modelFromJSON({ modelTopology: doc.modelTopology });
    const byLayer = new Map();
    for (const w of doc.weights) {
      if (!byLayer.has(w.layer)) byLayer.set(w.layer, new Map());
      const n = w.shape.reduce((a, b) => a * b, 1);
      byLayer.get(w.layer).set(w.name, { shape: w.shape, data: all.slice(w.offset, w.offset + n) });
    }
    let used = 0;
    for (const layer of model.layers) {
      if (!layer.weights.length) continue;
      const stored = byLayer.get(layer.name);
      if (!stored) throw new Error(`no stored weights for layer ${layer.name}`);
      const vals = layer.weights.map((v) => {
        const short = v.originalName.split('/').pop();
        const s = stored.get(short);
        if (!s) throw new Error(`layer ${layer.name}: no stored variable '${short}'`);
        if (s.shape.join() !== v.shape.join()) {
          throw new Error(`layer ${layer.name}/${short}: stored [${s.shape}], tfjs [${v.shape}]`);
        }
        used++;
        return tf.tensor(s.data, s.shape);
      });
      layer.setWeights(vals);
      vals.forEach((t) => t.dispose());
    }
    if (used !== doc.weights.length) {
      throw new Error(`${doc.weights.length} stored variables, ${used} used`);
    }
    return { model, doc, config: layerList(doc.modelTopology) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The graph as Keras defines it: each layer's inputs by name.  Sequential = a chain.
function graphOf(doc, config, model) {
  const seq = Array.isArray(doc.modelTopology.config) || doc.modelTopology.class_name ===
    'Sequential';
  const input = model.inputs[0].sourceLayer.name;
  const nodes = [];
  let prev = input;
  for (const l of config) {
    if (l.class_name === 'InputLayer') {
      if (l.config.name !== input) throw new Error(`input ${l.config.name} vs tfjs ${input}`);
      continue;
    }
    let inputs;
    if (seq) {
      inputs = [prev];
    } else {
      if (l.inbound_nodes.length !== 1) throw new Error(`layer ${l.name}: shared layers`);
      inputs = l.inbound_nodes[0].map((t) => {
        if (t[1] !== 0 || t[2] !== 0) throw new Error(`layer ${l.name}: node/tensor index`);
        return t[0];
      });
    }
    nodes.push({ name: l.config.name, cls: l.class_name, cfg: l.config, inputs });
    prev = l.config.name;
  }
  return { nodes, input };
}

// ---- plain-op layers (TF semantics; used inside tf.grad) -----------------------------------

const pair = (v) => (Array.isArray(v) ? v : [v, v]);

function activation(name, x) {
  switch (name) {
    case undefined: case null: case 'linear': return x;
    case 'relu': return tf.relu(x);
    case 'sigmoid': return tf.sigmoid(x);
    case 'tanh': return tf.tanh(x);
    case 'softmax': return tf.softmax(x, -1);
    default: throw new Error(`activation ${name}`);
  }
}

// MaxPooling2D whose gradient goes to the FIRST maximum of each window in row-major scan order
// (TF CPU SpatialMaxPoolWithArgMaxHelper, strict '<' update; padded cells never win), summed
// over overlapping windows.
const poolStats = { windows: 0, tfjsDiffers: 0 };
let nativePool = false; // true: tf.maxPool's own gradient, to show how it differs
const summaryUp = []; // tfjs resizeBilinear vs the float64 port, relative to the map's max
function maxPoolFirst(x, pool, strides, padding) {
  const f = tf.customGrad((xin, save) => {
    const y = tf.maxPool(xin, pool, strides, padding);
    save([xin]);
    return {
      value: y,
      gradFunc: (dy, [xs]) => {
        const [, H, W, C] = xs.shape;
        const [, OH, OW] = dy.shape;
        const [ph, pw] = pool;
        const [sh, sw] = strides;
        let pt = 0;
        let pl = 0;
        if (padding === 'same') {
          pt = Math.floor(Math.max(0, (OH - 1) * sh + ph - H) / 2);
          pl = Math.floor(Math.max(0, (OW - 1) * sw + pw - W) / 2);
        }
        const xv = xs.dataSync();
        const dv = dy.dataSync();
        const dx = new Float32Array(xv.length);
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            for (let c = 0; c < C; c++) {
              let best = -1;
              let bv = -Infinity;
              let ties = 0;
              for (let ky = 0; ky < ph; ky++) {
                const iy = oy * sh - pt + ky;
                if (iy < 0 || iy >= H) continue;
                for (let kx = 0; kx < pw; kx++) {
                  const ix = ox * sw - pl + kx;
                  if (ix < 0 || ix >= W) continue;
                  const i = (iy * W + ix) * C + c;
                  if (best < 0 || xv[i] > bv) {
                    best = i;
                    bv = xv[i];
                    ties = 1;
                  } else if (xv[i] === bv) {
                    ties++;
                  }
                }
              }
              dx[best] += dv[(oy * OW + ox) * C + c];
              poolStats.windows++;
              if (ties > 1) poolStats.tfjsDiffers++;
            }
          }
        }
        return tf.tensor(dx, xs.shape);
      },
    };
  });
  return f(x);
}

// Keras deconv_output_length (tf_keras/utils/conv_utils.py), dilation 1
function deconvLength(n, k, s, padding, outPad) {
  if (outPad == null) {
    if (padding === 'valid') return n * s + Math.max(k - s, 0);
    if (padding === 'same') return n * s;
    throw new Error(`Conv2DTranspose padding ${padding}`);
  }
  const pad = padding === 'same' ? Math.floor(k / 2) : 0;
  return (n - 1) * s + k - 2 * pad + outPad;
}

function checkCommon(node) {
  const c = node.cfg;
  if (c.data_format && c.data_format !== 'channels_last') {
    throw new Error(`${node.name}: data_format ${c.data_format}`);
  }
  if (c.dilation_rate && pair(c.dilation_rate).some((d) => d !== 1)) {
    throw new Error(`${node.name}: dilated convolution (tfjs has no gradient for it)`);
  }
  if (c.groups && c.groups !== 1) throw new Error(`${node.name}: groups`);
}

// One layer on plain ops; w = the layer's weights by variable name; bare = skip the activation.
function applyLayer(node, w, xs, bare) {
  const c = node.cfg;
  const x = xs[0];
  checkCommon(node);
  const act = (y) => (bare ? y : activation(c.activation, y));
  switch (node.cls) {
    case 'Conv2D': {
      let y = tf.conv2d(x, w.kernel, pair(c.strides), c.padding, 'NHWC');
      if (c.use_bias !== false) y = tf.add(y, w.bias);
      return act(y);
    }
    case 'Conv2DTranspose': {
      const [kh, kw] = pair(c.kernel_size);
      const [sh, sw] = pair(c.strides);
      const op = c.output_padding == null ? [null, null] : pair(c.output_padding);
      const oshape = [x.shape[0], deconvLength(x.shape[1], kh, sh, c.padding, op[0]),
        deconvLength(x.shape[2], kw, sw, c.padding, op[1]), c.filters];
      if (op[0] != null && (c.padding !== 'valid' || op.some((v) => v !== 0))) {
        throw new Error(`${node.name}: output_padding`);
      }
      let y = tf.conv2dTranspose(x, w.kernel, oshape, [sh, sw], c.padding);
      if (c.use_bias !== false) y = tf.add(y, w.bias);
      return act(y);
    }
    case 'Dense': {
      let y = tf.matMul(x, w.kernel);
      if (c.use_bias !== false) y = tf.add(y, w.bias);
      return act(y);
    }
    case 'BatchNormalization': {
      // inference: (x - mean) * (rsqrt(var + eps) * gamma) + beta (docs §4.4)
      const axis = c.axis < 0 ? c.axis + x.rank : c.axis;
      if (axis !== x.rank - 1) throw new Error(`${node.name}: BN axis ${c.axis}`);
      let inv = tf.rsqrt(tf.add(w.moving_variance, c.epsilon));
      if (w.gamma) inv = tf.mul(inv, w.gamma);
      let y = tf.mul(tf.sub(x, w.moving_mean), inv);
      if (w.beta) y = tf.add(y, w.beta);
      return y;
    }
    case 'MaxPooling2D': {
      const pool = pair(c.pool_size);
      const strides = c.strides ? pair(c.strides) : pool;
      if (nativePool) return tf.maxPool(x, pool, strides, c.padding);
      return maxPoolFirst(x, pool, strides, c.padding);
    }
    case 'UpSampling2D': {
      if (c.interpolation && c.interpolation !== 'nearest') {
        throw new Error(`${node.name}: UpSampling2D ${c.interpolation} (tfjs gradient is wrong)`);
      }
      const [fh, fw] = pair(c.size);
      const [n, h, wd, ch] = x.shape; // nearest with integer factors = repeat (docs §4.5)
      return tf.mul(tf.reshape(x, [n * h, 1, wd, 1, ch]), tf.ones([1, fh, 1, fw, 1]))
        .reshape([n, h * fh, wd * fw, ch]);
    }
    case 'Concatenate': return tf.concat(xs, c.axis);
    case 'Add': return xs.slice(1).reduce((a, b) => tf.add(a, b), x);
    case 'Dropout': return x;
    case 'Activation': return bare ? x : activation(c.activation, x);
    case 'LeakyReLU': return tf.leakyRelu(x, c.alpha != null ? c.alpha : c.negative_slope);
    case 'ReLU': {
      if (c.max_value != null || c.threshold || c.negative_slope) throw new Error('ReLU args');
      return tf.relu(x);
    }
    case 'Flatten': return tf.reshape(x, [x.shape[0], -1]);
    default: throw new Error(`layer class ${node.cls} has no plain-op version here`);
  }
}

// ---- Seg-Grad-CAM --------------------------------------------------------------------------

// TF ResizeBilinear with half-pixel centres in float64 (docs §4.5), for the cross-check.
function resizeBilinear64(src, h, w, H, W) {
  const out = new Float64Array(H * W);
  const sy = h / H;
  const sx = w / W;
  const axis = (dst, scale, n) => {
    const s = (dst + 0.5) * scale - 0.5;
    const f = Math.floor(s);
    return [Math.max(f, 0), Math.min(Math.ceil(s), n - 1), s - f];
  };
  for (let Y = 0; Y < H; Y++) {
    const [y0, y1, ly] = axis(Y, sy, h);
    for (let X = 0; X < W; X++) {
      const [x0, x1, lx] = axis(X, sx, w);
      const tl = src[y0 * w + x0];
      const tr = src[y0 * w + x1];
      const bl = src[y1 * w + x0];
      const br = src[y1 * w + x1];
      const top = tl + (tr - tl) * lx;
      const bot = bl + (br - bl) * lx;
      out[Y * W + X] = top + (bot - top) * ly;
    }
  }
  return out;
}

function maxAbsDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function maxAbs(a) {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

async function processModel(spec, manifest, summary) {
  const file = path.join(SHARED, spec.file);
  const stem = spec.file.replace(/\.[^.]+$/, '');
  // input
  let input;
  const inFile = path.join(OUT_DIR, `${stem}.input.npy`);
  if (spec.input.image) {
    execFileSync(PYTHON, [EXTRACT, '--image', path.join(SHARED, 'images', spec.input.image),
      '--out', inFile, ...spec.input.args], { stdio: ['ignore', 'ignore', 'inherit'] });
    input = npyRead(inFile);
  } else {
    const shape = spec.input.random;
    const rnd = mulberry32(spec.input.seed);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rnd() * spec.input.scale;
    input = { shape, data };
    npyWrite(inFile, shape, data);
  }
  const { model, doc, config } = await buildModel(file, input.shape);
  const g = graphOf(doc, config, model);
  const x = tf.tensor(input.data, input.shape);

  // forward through the layers model, keeping every layer's output
  const names = g.nodes.map((n) => n.name);
  const probe = tf.model({ inputs: model.inputs,
    outputs: names.map((n) => model.getLayer(n).output) });
  const outs = probe.predict(x);
  const env = new Map([[g.input, x]]);
  names.forEach((n, i) => env.set(n, outs[i]));
  const yModel = model.predict(x);
  const last = g.nodes[g.nodes.length - 1];
  const yv = yModel.dataSync();
  if (maxAbsDiff(yv, env.get(last.name).dataSync()) !== 0) {
    throw new Error('layer outputs and predict() disagree');
  }
  npyWrite(path.join(OUT_DIR, `${stem}.tfjs.npy`), yModel.shape, yv);

  // weights of each layer by variable name
  const weights = new Map();
  for (const n of g.nodes) {
    const layer = model.getLayer(n.name);
    const m = {};
    layer.weights.forEach((v) => { m[v.originalName.split('/').pop()] = v.read(); });
    weights.set(n.name, m);
  }

  // the logits: before a trailing softmax/sigmoid (fused or an Activation layer)
  const bare = ['softmax', 'sigmoid'].includes(last.cfg.activation) &&
    ['Activation', 'Conv2D', 'Conv2DTranspose', 'Dense'].includes(last.cls);
  const finalAct = bare ? last.cfg.activation : 'none';

  // plain-op re-run of the whole network: checks the plain ops against the layers model
  const runFrom = (start, A, stripLast) => {
    const e = new Map(env);
    const dep = new Set([start]);
    e.set(start, A);
    for (const n of g.nodes) {
      if (!n.inputs.some((i) => dep.has(i))) continue;
      dep.add(n.name);
      e.set(n.name, applyLayer(n, weights.get(n.name), n.inputs.map((i) => e.get(i)),
        stripLast && n === last && bare));
    }
    return e.get(last.name);
  };
  if (process.env.KREF_DEBUG) {
    for (const n of g.nodes) {
      const d = tf.tidy(() => maxAbsDiff(applyLayer(n, weights.get(n.name),
        n.inputs.map((i) => env.get(i)), false).dataSync(), env.get(n.name).dataSync()));
      const m = maxAbs(env.get(n.name).dataSync());
      console.log(`    ${n.name} ${n.cls}: ${d.toExponential(2)} (max ${m.toPrecision(3)})`);
    }
  }
  const plain = tf.tidy(() => runFrom(g.input, x, false).dataSync());
  const ymax = maxAbs(yv);
  const plainDiff = maxAbsDiff(plain, yv);
  const logits = tf.tidy(() => runFrom(g.input, x, true));
  const lv = logits.dataSync();
  if (process.env.KREF_DEBUG) console.log(`    logits max abs ${maxAbs(lv)}`);
  const classifier = logits.rank === 2;
  const K = logits.shape[logits.rank - 1];
  const [H, W] = [input.shape[1], input.shape[2]];
  const hw = classifier ? 1 : H * W;
  console.log(`${stem}: ${doc.format} keras ${doc.keras_version} (${model.constructor.name}, ` +
    `${g.nodes.length} layers), input [${input.shape}] -> output [${yModel.shape}], ` +
    `range [${yv.reduce((m, v) => Math.min(m, v), Infinity).toPrecision(5)}, ` +
    `${yv.reduce((m, v) => Math.max(m, v), -Infinity).toPrecision(5)}]; ` +
    `final activation ${finalAct}; plain ops vs layers model max|d| ${plainDiff.toExponential(2)}`);
  if (!(plainDiff <= 2e-4 * Math.max(ymax, 1))) { // float32 softmax of logits near 600: ~5e-5
    throw new Error(`${stem}: plain-op forward differs from the layers model`);
  }
  summary.push({ stem, plainDiff, ymax });

  // regions
  const labels = new Int32Array(hw);
  let margin = 0;
  for (let i = 0; i < hw; i++) {
    if (K === 1) {
      labels[i] = lv[i] > 0 ? 1 : 0;
      if (lv[i] !== 0 && Math.abs(lv[i]) < 1e-4) margin++; // an exact 0 is a ReLU's
    } else {
      let best = 0;
      let second = -Infinity;
      for (let k = 1; k < K; k++) {
        const v = lv[i * K + k];
        if (v > lv[i * K + best]) {
          second = lv[i * K + best];
          best = k;
        } else if (v > second) {
          second = v;
        }
      }
      labels[i] = best;
      if (lv[i * K + best] - second < 1e-4) margin++;
    }
  }
  const regionOf = (k) => {
    const r = new Uint8Array(hw);
    for (let i = 0; i < hw; i++) {
      r[i] = classifier || (K === 1 ? labels[i] === 1 : labels[i] === k) ? 1 : 0;
    }
    return r;
  };
  // Candidate classes in order: the classifier's by descending logit, else 0, 1, ... with a
  // non-empty region.  The first candidate whose map is non-zero at every chosen layer is used
  // (an all-zero map, e.g. every weighted channel sum negative, would test nothing).
  let order = [...Array(K).keys()];
  if (spec.classes === 'pred') order.sort((p, q) => lv[q] - lv[p]);
  else order = order.filter((k) => regionOf(k).some((v) => v));
  if (!order.length) throw new Error(`${stem}: no class has pixels`);

  const camFor = async (lname, k) => {
    if (!env.has(lname)) throw new Error(`${stem}: no layer ${lname}`);
    const A = env.get(lname);
    const [, h, w, C] = A.shape;
    const region = regionOf(k);
    let pixels = 0;
    region.forEach((v) => { pixels += v; });
    const seed = new Float32Array(lv.length);
    for (let i = 0; i < hw; i++) if (region[i]) seed[i * K + k] = 1;
    const seedT = tf.tensor(seed, logits.shape);
    poolStats.windows = 0;
    poolStats.tfjsDiffers = 0;
    const t0 = Date.now();
    const S = (a) => tf.sum(tf.mul(runFrom(lname, a, true), seedT));
    const grad = tf.grad(S)(A);
    const score = tf.tidy(() => S(A).dataSync()[0]);
    const gv = grad.dataSync();
    const av = A.dataSync();
    const ms = Date.now() - t0;
    const pool = { ...poolStats };
    if (pool.windows) { // what tfjs's own MaxPool gradient would give
      nativePool = true;
      const gn = tf.grad(S)(A);
      nativePool = false;
      const d = maxAbsDiff(gn.dataSync(), gv);
      pool.nativeDiff = d / Math.max(maxAbs(gv), 1e-30);
      gn.dispose();
    }
    tf.dispose([grad, seedT]);
    // channel weights and the map, float64
    const wk = new Float64Array(C);
    for (let i = 0; i < h * w; i++) for (let c = 0; c < C; c++) wk[c] += gv[i * C + c];
    for (let c = 0; c < C; c++) wk[c] /= h * w;
    const low = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += wk[c] * av[i * C + c];
      low[i] = Math.max(s, 0);
    }
    return { lname, k, h, w, C, region, pixels, score, low, ms, pool };
  };

  let chosen = null;
  for (const k of order) {
    const cams = [];
    for (const l of spec.layers) cams.push(await camFor(l, k));
    if (!chosen) chosen = cams;
    if (cams.every((c) => maxAbs(c.low) > 0)) {
      chosen = cams;
      break;
    }
    console.log(`  class ${k}: a map is all zeros (${cams.map((c) => `${c.lname} ` +
      `${maxAbs(c.low)}`).join(', ')}); trying the next class`);
  }

  for (const r of chosen) {
    const { lname, k, h, w, C, region, pixels, score, low } = r;
    const upT = tf.image.resizeBilinear(tf.tensor(low, [1, h, w, 1]), [H, W], false, true);
    const up = upT.dataSync();
    upT.dispose();
    const up64 = resizeBilinear64(low, h, w, H, W);
    const upDiff = maxAbsDiff(up, up64);
    summaryUp.push(upDiff / Math.max(maxAbs(up64), 1e-30));
    if (!(upDiff <= 1e-5 * Math.max(maxAbs(up64), 1e-30))) {
      throw new Error(`${stem}/${lname}: tfjs resizeBilinear vs float64 port: ${upDiff}`);
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of up) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const cam = new Float32Array(H * W);
    if (hi > lo) for (let i = 0; i < H * W; i++) cam[i] = (up[i] - lo) / (hi - lo);
    const fstem = `${stem}.${lname.replace(/[^A-Za-z0-9._-]/g, '_')}.c${k}`;
    npyWrite(path.join(OUT_DIR, `${fstem}.region.npy`), classifier ? [1, 1] : [H, W], region,
      '|u1');
    npyWrite(path.join(OUT_DIR, `${fstem}.low.npy`), [h, w], low);
    if (H * W <= CAM_MAX_PIXELS || allMaps) {
      npyWrite(path.join(OUT_DIR, `${fstem}.cam.npy`), [H, W], cam);
    }
    manifest.push(`../shared/models/${spec.file} ${lname} ${k} ${pixels} ${lname} ${fstem} ` +
      `${Number(score.toPrecision(9))} ${h} ${w}`);
    console.log(`  ${lname} [${h}x${w}x${C}] class ${k}: |M| = ${pixels} (${margin} within ` +
      `1e-4 of the decision boundary), S = ${score.toPrecision(6)}, low max ` +
      `${maxAbs(low).toPrecision(4)}, ${r.ms} ms` + (r.pool.windows ? `; max-pool windows ` +
      `${r.pool.windows}, ${r.pool.tfjsDiffers} with tied maxima; tf.maxPool's own gradient ` +
      `differs by ${r.pool.nativeDiff.toExponential(2)} of max |dS/dA|` : ''));
  }
  tf.dispose([x, yModel, logits, ...outs]);
  model.dispose();
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (flag, def) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : def;
  };
  SHARED = opt('--models', SHARED);
  OUT_DIR = opt('--out', OUT_DIR);
  const only = opt('--only', null);
  await tf.setBackend(opt('--backend', 'wasm'));
  await tf.ready();
  console.log(`tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}`);
  allMaps = args.includes('--all-maps');
  fs.mkdirSync(OUT_DIR, { recursive: true });
  if (!only) { // a full run rewrites everything this script owns
    for (const f of fs.readdirSync(OUT_DIR)) {
      if (f.endsWith('.npy') || f === 'cams.txt') fs.rmSync(path.join(OUT_DIR, f));
    }
  }
  const manifest = [];
  const summary = [];
  for (const spec of MODELS) {
    if (only && !spec.file.startsWith(only)) continue;
    await processModel(spec, manifest, summary);
  }
  const worst = summary.reduce((a, r) => (r.plainDiff / Math.max(r.ymax, 1) > a.d ?
    { d: r.plainDiff / Math.max(r.ymax, 1), stem: r.stem } : a), { d: 0, stem: '-' });
  console.log(`plain ops vs layers model: worst ${worst.d.toExponential(2)} of max(|y|, 1) ` +
    `(${worst.stem}); tfjs resizeBilinear vs the float64 port: worst ` +
    `${summaryUp.reduce((a, v) => Math.max(a, v), 0).toExponential(2)} of the map's max`);
  if (only) return; // a partial run does not rewrite the manifest
  fs.writeFileSync(path.join(OUT_DIR, 'cams.txt'),
    '# Generated by node tools/keras_tfjs_ref.js -- do not edit.\n' +
    '# Seg-Grad-CAM references (TensorFlow.js 4.22 float32, tf.grad); see tests/data/README.md.\n' +
    '# model_file layer_name class region_pixels node_name file_stem score low_h low_w\n' +
    '#   model_file   path relative to the repository root\n' +
    '#   layer_name   Keras layer name of the target layer\n' +
    '#   class        output channel (0 = the foreground of a single-channel output)\n' +
    '#   region_pixels |M|; the mask is <file_stem>.region.npy (uint8 HxW; 1x1 for a ' +
    'classifier)\n' +
    '#   node_name    the Keras layer name again (the column of tests/data/models/cams.txt)\n' +
    '#   file_stem    <file_stem>.region.npy / .low.npy / .cam.npy in this directory\n' +
    '#   score        S = sum over M of the class logit\n' +
    '#   low_h low_w  the layer\'s spatial size (= the shape of .low.npy)\n' +
    manifest.join('\n') + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
