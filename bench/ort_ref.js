// onnxruntime-node forward timing for bench/run.sh (2 intra-op threads, best of N).
// Usage: node bench/ort_ref.js MODEL.onnx SIZE REPEATS  -> one JSON line.
const path = require('path');
const ort = require(path.join(__dirname, '..', 'tools', 'node_modules', 'onnxruntime-node'));
(async () => {
  const [model, size, reps] = [process.argv[2], +process.argv[3], +process.argv[4]];
  const s = await ort.InferenceSession.create(model, {intraOpNumThreads: 2, interOpNumThreads: 1});
  const x = new Float32Array(3 * size * size).map((_, i) => ((i * 2654435761) % 1000) / 1000);
  const feeds = {[s.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, size, size])};
  await s.run(feeds);
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    await s.run(feeds);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  console.log(JSON.stringify({size, ort_forward_ms: best}));
})();
