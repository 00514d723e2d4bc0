#!/usr/bin/env node
// Forward references from onnxruntime (onnxruntime-node, CPU, float32) for segcam's tests.
//
// Default mode: runs every .onnx in ../shared/models plus the bundled demo model
// (examples/demo/unet_shapes.onnx, when present) on a fixed input and writes
// tests/data/models/<model>.ort.npy (output 0, float32).  The input is
// tests/data/models/<model>.input.npy when it exists (tools/onnx_torch_ref.py writes those from
// the sample images); otherwise a deterministic pseudo-random input in [0, 1) (mulberry32, seed
// 20240607 + model index in INPUTS below) is generated and written to <model>.input.npy.
// Models with no input file and no entry in INPUTS are skipped (reported).
//
// --ops mode: runs every case of tests/data/ops/cases.txt (written by tools/gen_op_refs.py) and
// compares onnxruntime's output with the PyTorch float64 reference <case>.out.npy under the
// case's tolerance: an independent check that the references implement ONNX semantics as a
// production runtime reads them.  Writes nothing.  Exit status 1 if a case disagrees.
//
// Setup (once):  cd tools && ONNXRUNTIME_NODE_INSTALL=skip npm install
// Usage:         node tools/ort_ref.js [--ops] [--models DIR] [--out DIR]
// It never computes gradients (onnxruntime runs forward passes only).
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const ROOT = path.resolve(__dirname, '..');
const SESSION_OPTIONS = { logSeverityLevel: 3 }; // errors only: no legacy-opset warnings

// Inputs generated here (model file -> shape, layout as the model declares it).  Models whose
// input comes from an image are written by tools/onnx_torch_ref.py instead.
const INPUTS = {
  'tf2onnx_emotion_op15.onnx': [1, 48, 48, 1], // NHWC, the model's own layout
};

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
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)[1];
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (descr === '<f4') data[i] = buf.readFloatLE(off + 4 * i);
    else if (descr === '<f8') data[i] = buf.readDoubleLE(off + 8 * i);
    else if (descr === '|u1') data[i] = buf[off + i];
    else throw new Error(`${file}: dtype ${descr} not handled`);
  }
  return { shape, data };
}

function npyWriteF32(file, shape, data) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad with spaces so that the data starts on a 64-byte boundary; the header ends with '\n'.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const out = Buffer.alloc(total + 4 * data.length);
  out.writeUInt8(0x93, 0);
  out.write('NUMPY', 1, 'latin1');
  out.writeUInt8(1, 6);
  out.writeUInt8(0, 7);
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], total + 4 * i);
  fs.writeFileSync(file, out);
}

// ---- deterministic inputs ------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInput(shape, seed) {
  const rnd = mulberry32(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rnd();
  return data;
}

// ---- modes ---------------------------------------------------------------------------------

async function runModels(modelsDir, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  const files = fs.readdirSync(modelsDir).filter((f) => f.endsWith('.onnx')).sort()
    .map((f) => path.join(modelsDir, f));
  const demo = path.join(ROOT, 'examples', 'demo', 'unet_shapes.onnx');
  if (fs.existsSync(demo)) files.push(demo);
  else console.log(`skip ${path.relative(ROOT, demo)}: not present`);
  const names = Object.keys(INPUTS);
  for (const file of files) {
    const base = path.basename(file);
    const stem = base.replace(/\.onnx$/, '');
    const inFile = path.join(outDir, `${stem}.input.npy`);
    let input;
    if (fs.existsSync(inFile)) {
      input = npyRead(inFile);
    } else if (INPUTS[base]) {
      const shape = INPUTS[base];
      input = { shape, data: randomInput(shape, 20240607 + names.indexOf(base)) };
      npyWriteF32(inFile, shape, input.data);
    } else {
      console.log(`skip ${base}: no ${path.relative(ROOT, inFile)} and no entry in INPUTS ` +
        '(run tools/onnx_torch_ref.py first)');
      continue;
    }
    const session = await ort.InferenceSession.create(file, SESSION_OPTIONS);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) };
    const result = await session.run(feeds);
    const y = result[session.outputNames[0]];
    const outFile = path.join(outDir, `${stem}.ort.npy`);
    npyWriteF32(outFile, y.dims, y.data);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of y.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    console.log(`${base}: input [${input.shape}] -> ${session.outputNames[0]} [${y.dims}] ` +
      `range [${lo.toPrecision(5)}, ${hi.toPrecision(5)}] -> ${path.relative(ROOT, outFile)}`);
  }
}

async function runOps(opsDir) {
  const lines = fs.readFileSync(path.join(opsDir, 'cases.txt'), 'utf8').split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  let bad = 0;
  for (const line of lines) {
    const [name, nIn, atolS, rtolS] = line.trim().split(/\s+/);
    const atol = Number(atolS);
    const rtol = Number(rtolS);
    let session;
    try {
      session = await ort.InferenceSession.create(path.join(opsDir, `${name}.onnx`),
        SESSION_OPTIONS);
    } catch (e) {
      console.log(`${name.padEnd(42)} ORT refuses the model: ${e.message.split('\n')[0]}`);
      bad++;
      continue;
    }
    const feeds = {};
    for (let i = 0; i < Number(nIn); i++) {
      const a = npyRead(path.join(opsDir, `${name}.in${i}.npy`));
      feeds[session.inputNames[i]] = new ort.Tensor('float32', a.data, a.shape);
    }
    let y;
    try {
      y = (await session.run(feeds))[session.outputNames[0]];
    } catch (e) {
      console.log(`${name.padEnd(42)} ORT fails: ${e.message.split('\n')[0]}`);
      bad++;
      continue;
    }
    const ref = npyRead(path.join(opsDir, `${name}.out.npy`));
    if (y.dims.join(',') !== ref.shape.join(',')) {
      console.log(`${name.padEnd(42)} SHAPE ort [${y.dims}] ref [${ref.shape}]`);
      bad++;
      continue;
    }
    let worst = 0;
    let at = 0;
    let maxAbs = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs(y.data[i] - ref.data[i]);
      const r = d / (atol + rtol * Math.abs(ref.data[i]));
      maxAbs = Math.max(maxAbs, d);
      if (!(r <= worst)) { worst = r; at = i; }
    }
    const ok = worst <= 1;
    if (!ok) bad++;
    console.log(`${name.padEnd(42)} ${ok ? 'ok  ' : 'DIFF'} max|d| ${maxAbs.toExponential(2)} ` +
      `uses ${worst.toPrecision(2)} of tol` +
      (ok ? '' : ` (worst [${at}] ort ${y.data[at]} ref ${ref.data[at]})`));
  }
  console.log(`${lines.length - bad} agree, ${bad} disagree`);
  return bad;
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (flag, def) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : def;
  };
  if (args.includes('--ops')) {
    const bad = await runOps(opt('--dir', path.join(ROOT, 'tests', 'data', 'ops')));
    process.exitCode = bad ? 1 : 0;
    return;
  }
  await runModels(opt('--models', path.join(ROOT, '..', 'shared', 'models')),
    opt('--out', path.join(ROOT, 'tests', 'data', 'models')));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
