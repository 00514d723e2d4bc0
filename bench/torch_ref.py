"""PyTorch reference timings for bench/run.sh: forward, Grad-CAM for one class (gradient to the
bottleneck only), and four classes from one forward, on the benchmark U-Net.
Usage: /usr/bin/python3 bench/torch_ref.py SIZE REPEATS  -> one JSON line."""
import json, sys, time
import torch
sys.path.insert(0, __file__.rsplit('/', 1)[0])
from unet_bench_model import make

torch.set_num_threads(2)
size, reps = int(sys.argv[1]), int(sys.argv[2])
m = make()
x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))


def cams(n_classes):
    out = m(x)
    a = m.bottleneck_out
    res = []
    for c in range(n_classes):
        score = out[0, c].sum()  # every pixel: the same work whatever the prediction
        g, = torch.autograd.grad(score, a, retain_graph=c + 1 < n_classes)
        w = g.mean((2, 3), keepdim=True)
        res.append(torch.relu((w * a).sum(1)))
    return res


def best(fn):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts) * 1e3

with torch.no_grad():
    m(x)
    fwd = best(lambda: m(x))
one = best(lambda: cams(1))
four = best(lambda: cams(4))
print(json.dumps({"size": size, "torch_forward_ms": fwd, "torch_gradcam1_ms": one, "torch_gradcam4_ms": four}))
