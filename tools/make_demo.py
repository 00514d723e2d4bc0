#!/usr/bin/python3
"""Build segcam's bundled demo: a small shape-segmentation U-Net and example images.

What it does, deterministically from --seed:
  1. draws synthetic scenes (textured backgrounds + discs, squares/rectangles and triangles of
     random colour, size, rotation and position; colour says nothing about the class);
  2. trains a small U-Net (PyTorch, CPU) on freshly drawn scenes;
  3. exports it to ONNX (opset 13, BatchNormalization kept as nodes, dynamic height/width);
  4. writes example scenes, their ground-truth masks, classes.txt and README.md;
  5. verifies the ONNX file: onnx.checker, an independent NumPy evaluation of the graph compared
     with PyTorch, and pixel accuracy on the example scenes.

Usage (Debian's python3 with python3-torch, python3-onnx, python3-numpy, python3-pil):
    /usr/bin/python3 tools/make_demo.py                 # everything, into examples/demo
    /usr/bin/python3 tools/make_demo.py --verify-only   # only step 5, on the existing files
    /usr/bin/python3 tools/make_demo.py --verify-only --gradcam-check /tmp/cam.png
    /usr/bin/python3 tools/make_demo.py --reuse-model   # all but training, weights from the file
"""

import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = ["background", "circle", "square", "triangle"]
NUM_CLASSES = len(CLASSES)
SIZE = 128          # training / nominal input size
DOWNSAMPLES = 3     # input height and width must be multiples of 2**DOWNSAMPLES
REGEN_COMMAND = "/usr/bin/python3 tools/make_demo.py"

# The example scenes: (file stem, height, width, seed of the scene generator). Seeds picked for
# their content: scene1 has two discs, a square and a triangle; the others have every class.
EXAMPLES = [("scene1", 128, 128, 4), ("scene2", 128, 128, 9), ("scene3", 160, 200, 1)]


# --------------------------------------------------------------------------------------------
# Synthetic scenes
# --------------------------------------------------------------------------------------------

def random_colour(rng):
    return rng.uniform(0.0, 1.0, size=3)


def background(rng, h, w):
    """A textured background: a two-colour gradient, maybe stripes and blotches."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Linear gradient between two colours along a random direction.
    ang = rng.uniform(0, 2 * math.pi)
    t = (xx * math.cos(ang) + yy * math.sin(ang))
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    c0, c1 = random_colour(rng), random_colour(rng)
    img = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]

    if rng.random() < 0.6:
        # Stripes of a random colour, at a random angle and period, hard or soft edged.
        ang = rng.uniform(0, math.pi)
        period = rng.uniform(6, 30)
        phase = (xx * math.cos(ang) + yy * math.sin(ang)) / period * 2 * math.pi
        wave = 0.5 + 0.5 * np.sin(phase + rng.uniform(0, 2 * math.pi))
        if rng.random() < 0.5:
            wave = (wave > rng.uniform(0.3, 0.7)).astype(np.float32)
        strength = rng.uniform(0.3, 0.9)
        sc = random_colour(rng)
        a = (wave * strength)[..., None]
        img = img * (1 - a) + sc[None, None, :] * a

    if rng.random() < 0.5:
        # Low-frequency colour blotches: coarse random grid, bilinearly enlarged.
        g = rng.integers(3, 8)
        coarse = rng.uniform(-0.3, 0.3, size=(1, 3, g, g)).astype(np.float32)
        blot = F.interpolate(torch.from_numpy(coarse), size=(h, w), mode="bilinear",
                             align_corners=False)[0].permute(1, 2, 0).numpy()
        img = img + blot
    return np.clip(img, 0, 1).astype(np.float32)


def shape_mask(rng, cls, h, w, cy, cx, r):
    """Boolean mask of one shape of class `cls`, centred at (cy, cx), of radius about r."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    if cls == 1:  # disc
        return dx * dx + dy * dy <= r * r
    rot = rng.uniform(0, 2 * math.pi)
    if cls == 2:  # square or rectangle, rotated
        half_a = r * rng.uniform(0.75, 0.95)
        half_b = half_a * (1.0 if rng.random() < 0.5 else rng.uniform(0.55, 0.95))
        u = dx * math.cos(rot) + dy * math.sin(rot)
        v = -dx * math.sin(rot) + dy * math.cos(rot)
        return (np.abs(u) <= half_a) & (np.abs(v) <= half_b)
    # cls == 3: triangle, roughly equilateral with jittered corners, rotated
    angles = rot + np.array([0.0, 2 * math.pi / 3, 4 * math.pi / 3]) + rng.uniform(-0.3, 0.3, 3)
    radii = r * rng.uniform(1.0, 1.25, 3)
    px, py = cx + radii * np.cos(angles), cy + radii * np.sin(angles)
    inside = np.ones((h, w), dtype=bool)
    sign = None
    for i in range(3):
        j = (i + 1) % 3
        # Cross product tells on which side of edge i->j the pixel lies.
        cross = (px[j] - px[i]) * (yy - py[i]) - (py[j] - py[i]) * (xx - px[i])
        if sign is None:
            # Orientation of the triangle: the side on which the third corner lies.
            k = (i + 2) % 3
            sign = np.sign((px[j] - px[i]) * (py[k] - py[i]) - (py[j] - py[i]) * (px[k] - px[i]))
        inside &= cross * sign >= 0
    return inside


def make_scene(rng, h=SIZE, w=SIZE):
    """Returns (image float32 HxWx3 in [0,1], mask uint8 HxW of class ids)."""
    img = background(rng, h, w)
    mask = np.zeros((h, w), dtype=np.uint8)
    inst = np.zeros((h, w), dtype=np.int32)   # which object owns each pixel (0 = none)
    visible = {}                              # object id -> its visible pixel count
    # Objects keep the training size whatever the image size; larger images get more of them.
    n_objects = int(rng.integers(2, 7)) + int(round(3 * (h * w / SIZE ** 2 - 1)))
    for obj in range(1, n_objects + 1):
        cls = int(rng.integers(1, NUM_CLASSES))
        for _try in range(20):
            r = rng.uniform(9, 24)
            cy, cx = rng.uniform(0.08 * h, 0.92 * h), rng.uniform(0.08 * w, 0.92 * w)
            m = shape_mask(rng, cls, h, w, cy, cx, r)
            area = int(m.sum())
            if area < 40:
                continue
            # Overlap is allowed, but no object may hide more than 40% of an earlier one
            # or have more than 40% of itself drawn over others.
            covered = inst[m]
            if np.count_nonzero(covered) > 0.4 * area:
                continue
            ok = True
            for other, count in zip(*np.unique(covered[covered > 0], return_counts=True)):
                if count > 0.4 * visible[int(other)]:
                    ok = False
                    break
            if ok:
                break
        else:
            continue  # could not place this object; draw fewer
        # Colour: random, but different enough from what lies beneath to be visible.
        under = img[m].mean(axis=0)
        for _try in range(20):
            colour = random_colour(rng)
            if np.linalg.norm(colour - under) > 0.35:
                break
        fill = np.broadcast_to(colour, (h, w, 3)).copy()
        if rng.random() < 0.4:
            # A gentle gradient across the object so fills are not always flat.
            ang = rng.uniform(0, 2 * math.pi)
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            t = ((xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)) / (2 * r)
            fill = fill + (t[..., None] * rng.uniform(-0.25, 0.25, 3)[None, None, :])
        img[m] = fill[m]
        for other, count in zip(*np.unique(inst[m], return_counts=True)):
            if other > 0:
                visible[int(other)] -= int(count)
        inst[m] = obj
        visible[obj] = area
        mask[m] = cls
    # Sensor-like noise over everything.
    img = img + rng.normal(0, rng.uniform(0.01, 0.08), size=img.shape)
    return np.clip(img, 0, 1).astype(np.float32), mask


def make_batch(rng, n):
    xs, ys = [], []
    for _ in range(n):
        img, mask = make_scene(rng)
        xs.append(img.transpose(2, 0, 1))
        ys.append(mask)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys).astype(np.int64))


def to_uint8(img):
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def preprocess(img_uint8):
    """The model's preprocessing: RGB, x/255, NCHW, no mean/std."""
    return torch.from_numpy(img_uint8.astype(np.float32) / 255.0).permute(2, 0, 1)[None]


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

class ConvBlock(nn.Sequential):
    """Two 3x3 Conv-BN-ReLU layers."""

    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNet(nn.Module):
    """Four resolution levels (128, 64, 32, 16 for a 128 input), base width `base`.

    Down: 2x2 max pooling. Up: 2x2 stride-2 transposed convolution, then concatenation with the
    encoder's feature map of the same size. Head: 1x1 conv to raw class logits (no softmax)."""

    def __init__(self, base=12, classes=NUM_CLASSES):
        super().__init__()
        c1, c2, c3, c4 = base, 2 * base, 4 * base, 8 * base
        self.enc1 = ConvBlock(3, c1)
        self.enc2 = ConvBlock(c1, c2)
        self.enc3 = ConvBlock(c2, c3)
        self.bottleneck = ConvBlock(c3, c4)
        self.up3 = nn.ConvTranspose2d(c4, c3, 2, stride=2)
        self.dec3 = ConvBlock(2 * c3, c3)
        self.up2 = nn.ConvTranspose2d(c3, c2, 2, stride=2)
        self.dec2 = ConvBlock(2 * c2, c2)
        self.up1 = nn.ConvTranspose2d(c2, c1, 2, stride=2)
        self.dec1 = ConvBlock(2 * c1, c1)
        self.head = nn.Conv2d(c1, classes, 1)

    def forward(self, x, keep=None):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        e3 = self.enc3(F.max_pool2d(e2, 2))
        b = self.bottleneck(F.max_pool2d(e3, 2))
        d3 = self.dec3(torch.cat([self.up3(b), e3], 1))
        d2 = self.dec2(torch.cat([self.up2(d3), e2], 1))
        if keep is not None:
            keep["dec2"] = d2  # the last block before the final upsampling (for Grad-CAM)
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------

def confusion(pred, target, k=NUM_CLASSES):
    idx = target.reshape(-1).astype(np.int64) * k + pred.reshape(-1).astype(np.int64)
    return np.bincount(idx, minlength=k * k).reshape(k, k)


def iou_from_confusion(cm):
    """Per-class IoU; NaN for a class absent from both prediction and ground truth."""
    inter = np.diag(cm).astype(np.float64)
    union = (cm.sum(0) + cm.sum(1) - np.diag(cm)).astype(np.float64)
    return np.divide(inter, union, out=np.full(len(inter), np.nan), where=union > 0)


def fmt_iou(values):
    return " ".join("-" if np.isnan(v) else f"{v:.3f}" for v in values)


def evaluate(model, xs, ys, batch=25):
    model.eval()
    cm = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    with torch.no_grad():
        for i in range(0, len(xs), batch):
            pred = model(xs[i:i + batch]).argmax(1).numpy()
            cm += confusion(pred, ys[i:i + batch].numpy())
    return iou_from_confusion(cm)


def train(model, rng, steps, batch, lr, log_every=50):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    model.train()
    t0 = time.time()
    running = 0.0
    for step in range(1, steps + 1):
        x, y = make_batch(rng, batch)  # fresh scenes every step: no overfitting to a fixed set
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running += loss.item()
        if step % log_every == 0:
            print(f"  step {step:5d}/{steps}  loss {running / log_every:.4f}  "
                  f"{time.time() - t0:6.0f}s", flush=True)
            running = 0.0


# --------------------------------------------------------------------------------------------
# ONNX export and an independent NumPy evaluator for checking it
# --------------------------------------------------------------------------------------------

def export_onnx(model, path, meta):
    """Exports `model` (eval mode, BatchNorm kept) and stores `meta` as metadata_props."""
    import onnx
    model.eval()
    dummy = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(
        model, dummy, path, opset_version=13,
        input_names=["image"], output_names=["logits"],
        dynamic_axes={"image": {2: "height", 3: "width"}, "logits": {2: "height", 3: "width"}},
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    # Drop initializers no node reads (e.g. BatchNorm's num_batches_tracked counters).
    m = onnx.load(path)
    used = {name for node in m.graph.node for name in node.input}
    unused = [init for init in m.graph.initializer if init.name not in used]
    for init in unused:
        m.graph.initializer.remove(init)
    m.doc_string = "segcam demo: U-Net for synthetic shapes (" + ", ".join(
        f"{i} {n}" for i, n in enumerate(CLASSES)) + "); input RGB x/255, NCHW; output logits"
    onnx.helper.set_model_props(m, {k: str(v) for k, v in meta.items()})
    onnx.save(m, path)


def gradcam_layer_name(model_proto):
    """Name of the node that outputs the dec2 block (its last ReLU)."""
    return [n.name for n in model_proto.graph.node
            if n.name.startswith("/dec2/") and n.op_type == "Relu"][-1]


def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _conv2d(x, w, b, pads, strides=(1, 1), dilations=(1, 1), group=1):
    """Direct NCHW convolution in NumPy (im2col over the kernel taps)."""
    assert group == 1 and tuple(dilations) == (1, 1)
    n, c, h, wd = x.shape
    o, ci, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    sh, sw = strides
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    out = np.zeros((n, o, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]       # n, c, oh, ow
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j], optimize=True)
    if b is not None:
        out += b[None, :, None, None]
    return out


def run_onnx_numpy(model_proto, image):
    """Evaluates the demo graph in float64 NumPy; knows only the ops the demo uses."""
    from onnx import numpy_helper
    env = {init.name: numpy_helper.to_array(init).astype(np.float64)
           for init in model_proto.graph.initializer}
    env[model_proto.graph.input[0].name] = image.astype(np.float64)
    for node in model_proto.graph.node:
        a = _attrs(node)
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Conv":
            y = _conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                        a.get("pads", [0, 0, 0, 0]), a.get("strides", [1, 1]),
                        a.get("dilations", [1, 1]), a.get("group", 1))
        elif op == "BatchNormalization":
            x, scale, bias, mean, var = ins
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            y = (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) * scale.reshape(sh) \
                + bias.reshape(sh)
        elif op == "Relu":
            y = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            assert list(a["kernel_shape"]) == [2, 2] and list(a.get("strides", [2, 2])) == [2, 2]
            x = ins[0]
            n, c, h, w = x.shape
            y = x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max((3, 5))
        elif op == "ConvTranspose":
            x, w = ins[0], ins[1]
            assert list(a["strides"]) == [2, 2] and w.shape[2:] == (2, 2)
            assert not any(a.get("pads", [0, 0, 0, 0]))
            n, c, h, wd = x.shape
            # Each input pixel spreads over its own 2x2 output block (kernel == stride).
            y = np.einsum("nchw,coij->nohiwj", x, w, optimize=True).reshape(
                n, w.shape[1], 2 * h, 2 * wd)
            if len(ins) > 2:
                y = y + ins[2][None, :, None, None]
        elif op == "Concat":
            y = np.concatenate(ins, axis=a["axis"])
        else:
            raise NotImplementedError(f"NumPy evaluator: op {op}")
        env[node.output[0]] = y
    return env[model_proto.graph.output[0].name]


def model_from_onnx(model_proto, base):
    """Rebuilds the PyTorch module from the ONNX initializers (named like the state_dict)."""
    from onnx import numpy_helper
    model = UNet(base)
    weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy())
               for init in model_proto.graph.initializer}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise RuntimeError(f"ONNX initializers do not match the module: missing {missing}, "
                           f"unexpected {unexpected}")
    return model.eval()


# --------------------------------------------------------------------------------------------
# Grad-CAM sanity check (PyTorch) and colour maps
# --------------------------------------------------------------------------------------------

def jet(v):
    """Jet colour map for v in [0,1] -> float RGB."""
    v = np.clip(v, 0, 1)[..., None]
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return np.concatenate([r, g, b], -1)


def gradcam(model, x, cls):
    """Seg-Grad-CAM on the dec2 block for class `cls` over the pixels predicted as `cls`."""
    keep = {}
    logits = model(x, keep=keep)
    feat = keep["dec2"]
    region = (logits.argmax(1, keepdim=True) == cls).float()
    score = (logits[:, cls:cls + 1] * region).sum()
    grads, = torch.autograd.grad(score, feat)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * feat).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    cam = cam.detach().numpy()
    return cam / cam.max() if cam.max() > 0 else cam, int(region.sum().item())


# --------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------

def write_examples(out_dir):
    from PIL import Image
    for stem, h, w, seed in EXAMPLES:
        img, mask = make_scene(np.random.default_rng(seed), h, w)
        Image.fromarray(to_uint8(img), "RGB").save(os.path.join(out_dir, stem + ".png"),
                                                   optimize=True)
        Image.fromarray(mask, "L").save(os.path.join(out_dir, stem + "_mask.png"), optimize=True)
    with open(os.path.join(out_dir, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")


def write_readme(out_dir, info):
    iou_rows = "\n".join(f"| {i} | {name} | {iou:.3f} |"
                         for i, (name, iou) in enumerate(zip(CLASSES, info["iou"])))
    class_rows = "\n".join(f"| {i} | {name} |" for i, name in enumerate(CLASSES))
    acc_rows = "\n".join(f"| {k} | {v * 100:.2f}% |" for k, v in info["example_acc"].items())
    b = info["base"]
    text = f"""# segcam demo model and images

A small U-Net that segments simple shapes in synthetic scenes, with example images, so that
segcam can be tried without downloading anything. Everything here was generated by
`tools/make_demo.py` (seed {info['seed']}); nothing comes from an external data set.

## Files

| file | what |
| --- | --- |
| `unet_shapes.onnx` | the model (ONNX opset 13, {info['params']:,} parameters) |
| `classes.txt` | class names, one per line; line *i* (from 0) is class id *i* |
| `scene1.png`, `scene2.png` | 128x128 RGB example scenes |
| `scene3.png` | a 200x160 (width x height) RGB scene, for other input sizes and resizing |
| `sceneN_mask.png` | ground truth: 8-bit grayscale PNG whose pixel values are the class ids |

## Classes

| id | name |
| --- | --- |
{class_rows}

Objects are discs, rotated squares/rectangles and triangles of random size (radius about 9-24
pixels), position and colour, drawn over textured backgrounds (colour gradients, stripes,
blotches, noise); they may overlap. Colour is not tied to class, so the network has to use shape.

## Model input and output

- Input `image`: float32 `[1, 3, H, W]` (NCHW), RGB, values `x / 255` (no mean/std
  normalisation). Trained at H = W = {SIZE}. H and W are dynamic in the file; any multiple of
  {2 ** DOWNSAMPLES} works, e.g. 160x200 for `scene3.png` without resizing. Objects are drawn at
  the training scale in every scene, so running `scene3.png` at its own size is in
  distribution, while squeezing it to 128x128 changes the aspect ratio (see the accuracies below).
- Output `logits`: float32 `[1, {NUM_CLASSES}, H, W]`, raw class scores (no softmax in the graph);
  argmax over axis 1 gives the class.
- Ops: {', '.join(info['ops'])}. BatchNormalization is kept as separate nodes (inference mode,
  running mean/variance as initializers), not folded into the convolutions.
- Architecture: encoder blocks of two Conv3x3-BN-ReLU with {b}, {2 * b} and {4 * b} channels, a
  {8 * b}-channel bottleneck at 1/8 resolution, 2x2 max pooling down, 2x2 stride-2 ConvTranspose
  up with skip concatenation, decoder blocks like the encoder's, 1x1 conv head.
- Grad-CAM layer: `{info['layer']}`, the output of the `dec2` block ({2 * b} channels at 1/2
  resolution, the last block before the final upsampling). On `scene1.png`, class 1 (circle)
  lights up the discs there.
- The file's metadata_props repeat the class names, preprocessing, this layer name and the
  held-out IoU.

## Training result

Trained on CPU for {info['steps']} steps of {info['batch']} freshly generated 128x128 scenes
(AdamW, one-cycle learning rate with maximum {info['lr']}, cross-entropy). Intersection over union
on {info['n_val']} held-out generated scenes:

| id | class | IoU |
| --- | --- | --- |
{iou_rows}

Mean IoU: **{np.mean(info['iou']):.3f}**.

Pixel accuracy of the exported ONNX graph (evaluated independently in NumPy) on the examples:

| image | pixel accuracy |
| --- | --- |
{acc_rows}

## Regenerate

```
{REGEN_COMMAND}
```

It needs Debian's `python3-torch`, `python3-onnx`, `python3-numpy` and `python3-pil`. Training
takes about 0.6 s per step on 2 idle CPU cores, about 10 minutes in all (longer on a busy
machine). With the same seed and PyTorch build the result is the same.
`{REGEN_COMMAND} --verify-only` re-checks the existing files (ONNX checker, an independent NumPy
evaluation of the graph against PyTorch, accuracy on the examples); add
`--gradcam-check out.png` to also draw a PyTorch Grad-CAM of class 1 on `scene1.png`.
`--reuse-model` rewrites everything but the weights without training again.

## Licence

Generated by segcam's own script; the model, images and masks are released under the same terms
as segcam (MIT-style): use, copy, modify and redistribute freely, with no warranty.
"""
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)


# --------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------

def verify(out_dir, base, gradcam_path=None):
    """Checks the ONNX file and returns (op types, pixel accuracy per example)."""
    import onnx
    from PIL import Image
    path = os.path.join(out_dir, "unet_shapes.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    ops = []
    for node in proto.graph.node:
        if node.op_type not in ops:
            ops.append(node.op_type)
    counts = {op: sum(n.op_type == op for n in proto.graph.node) for op in ops}
    print(f"onnx: {path}: {os.path.getsize(path)} bytes, opset "
          f"{proto.opset_import[0].version}, {len(proto.graph.node)} nodes")
    print("  op types: " + ", ".join(f"{op} x{counts[op]}" for op in ops))
    io = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    print(f"  input {proto.graph.input[0].name} {io(proto.graph.input[0])}, "
          f"output {proto.graph.output[0].name} {io(proto.graph.output[0])}")
    bn = [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    inits = {i.name: i for i in proto.graph.initializer}
    assert bn and all(len(n.input) == 5 and all(i in inits for i in n.input[1:]) for n in bn), \
        "BatchNormalization nodes must read scale, bias, mean and variance initializers"
    assert all(len(n.output) == 1 for n in bn), "BatchNormalization must be in inference mode"

    model = model_from_onnx(proto, base)
    acc = {}
    for stem, h, w, _seed in EXAMPLES:
        img = np.array(Image.open(os.path.join(out_dir, stem + ".png")).convert("RGB"))
        gt = np.array(Image.open(os.path.join(out_dir, stem + "_mask.png")))
        x = preprocess(img)
        with torch.no_grad():
            ref = model(x).numpy()
        got = run_onnx_numpy(proto, x.numpy())
        diff = np.abs(got - ref).max()
        pred = got.argmax(1)[0]
        acc[stem] = float((pred == gt).mean())
        print(f"  {stem} ({w}x{h}): NumPy ONNX vs PyTorch max |diff| {diff:.2e}; "
              f"pixel accuracy {acc[stem] * 100:.2f}%; class IoU "
              + fmt_iou(iou_from_confusion(confusion(pred, gt))))
        assert diff < 1e-3, "ONNX graph does not reproduce the PyTorch model"
        if (h, w) != (SIZE, SIZE):
            # What a tool that resizes every input to 128x128 would see: bilinear (half-pixel
            # centres, no antialiasing) down to 128x128, logits resized back (bilinear).
            small = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
            logits = torch.from_numpy(run_onnx_numpy(proto, small.numpy()).astype(np.float32))
            back = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            pred = back.argmax(1)[0].numpy()
            key = f"{stem} resized to {SIZE}x{SIZE}"
            acc[key] = float((pred == gt).mean())
            print(f"  {key}: pixel accuracy {acc[key] * 100:.2f}%; class IoU "
                  + fmt_iou(iou_from_confusion(confusion(pred, gt))))

    if gradcam_path:
        img = np.array(Image.open(os.path.join(out_dir, "scene1.png")).convert("RGB"))
        gt = np.array(Image.open(os.path.join(out_dir, "scene1_mask.png")))
        cam, n_pix = gradcam(model, preprocess(img), 1)
        inside = cam[gt == 1].mean() if (gt == 1).any() else float("nan")
        outside = cam[gt != 1].mean()
        print(f"  Grad-CAM class 1 (circle) on scene1 at dec2: {n_pix} pixels predicted circle; "
              f"mean CAM on discs {inside:.3f}, elsewhere {outside:.3f}")
        overlay = 0.5 * img / 255.0 + 0.5 * jet(cam)
        gt_rgb = np.array([[0, 0, 0], [255, 80, 80], [80, 255, 80], [80, 80, 255]],
                          np.uint8)[gt]
        panel = np.concatenate([img, gt_rgb, to_uint8(jet(cam)), to_uint8(overlay)], axis=1)
        Image.fromarray(panel).resize((panel.shape[1] * 2, panel.shape[0] * 2),
                                      Image.NEAREST).save(gradcam_path)
        print(f"  wrote {gradcam_path} (image | mask | CAM | overlay)")
    return ops, acc


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "examples", "demo"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=900)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--base", type=int, default=12, help="channels of the first U-Net level")
    ap.add_argument("--val", type=int, default=200, help="held-out scenes for IoU")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verify-only", action="store_true",
                    help="only check the existing files")
    ap.add_argument("--reuse-model", action="store_true",
                    help="skip training: take the weights from the existing unet_shapes.onnx, "
                         "then re-export it and rewrite the examples and README")
    ap.add_argument("--gradcam-check", metavar="PNG",
                    help="also save a PyTorch Grad-CAM overlay (class 1 on scene1) here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    out_dir = os.path.normpath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "unet_shapes.onnx")
    if args.verify_only:
        verify(out_dir, args.base, args.gradcam_check)
        return

    import onnx
    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    train_rng = np.random.default_rng(args.seed)
    val_rng = np.random.default_rng(args.seed + 1_000_000)  # held out: a separate stream

    print(f"generating {args.val} held-out scenes ...")
    val_x, val_y = make_batch(val_rng, args.val)
    if args.reuse_model:
        model = model_from_onnx(onnx.load(onnx_path), args.base)
        print(f"weights from {onnx_path} (training skipped; --seed/--steps/--batch/--lr must be "
              "the ones it was trained with)")
    else:
        model = UNet(args.base)
        print(f"training {args.steps} steps x {args.batch} scenes ...")
        t_train = time.time()
        train(model, train_rng, args.steps, args.batch, args.lr)
        print(f"trained in {time.time() - t_train:.0f} s")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"U-Net base {args.base}: {n_params:,} parameters "
          f"({n_params * 4 / 1e6:.2f} MB as float32)")
    iou = evaluate(model, val_x, val_y)
    print("held-out IoU: " + ", ".join(f"{n} {v:.3f}" for n, v in zip(CLASSES, iou))
          + f"; mean {iou.mean():.3f}")

    meta = {"segcam.classes": ",".join(CLASSES),
            "segcam.preprocess": "RGB, x/255, no mean/std, NCHW",
            "segcam.gradcam_layer": "/dec2/dec2.5/Relu",
            "training": f"seed {args.seed}, {args.steps} steps x {args.batch}, lr {args.lr}",
            "heldout_iou": ",".join(f"{v:.4f}" for v in iou)}
    export_onnx(model, onnx_path, meta)
    assert gradcam_layer_name(onnx.load(onnx_path)) == meta["segcam.gradcam_layer"]
    write_examples(out_dir)
    ops, acc = verify(out_dir, args.base, args.gradcam_check)

    # The module rebuilt from the file must match the trained module exactly.
    again = model_from_onnx(onnx.load(onnx_path), args.base)
    with torch.no_grad():
        x = val_x[:4]
        assert torch.equal(again(x), model.eval()(x)), "ONNX weights differ from the trained ones"

    info = dict(seed=args.seed, params=n_params, base=args.base, steps=args.steps,
                batch=args.batch, lr=args.lr, n_val=args.val, iou=iou, ops=ops,
                example_acc=acc, layer=meta["segcam.gradcam_layer"])
    write_readme(out_dir, info)
    total = 0
    for name in sorted(os.listdir(out_dir)):
        size = os.path.getsize(os.path.join(out_dir, name))
        total += size
        print(f"  {name:20s} {size:9d} bytes")
    print(f"  total {total} bytes; done in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
