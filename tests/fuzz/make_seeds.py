#!/usr/bin/python3
"""Builds the seed corpora for the fuzz harnesses (docs/FUZZING.md) under OUT/<harness>/.

  /usr/bin/python3 tests/fuzz/make_seeds.py OUT

fuzz_model: the small real models of the test suite (tests/data/onnx, tests/data/ops, the Keras
layer models in tests/data/keras_layers: ONNX protobufs, Keras .h5 (HDF5) and .keras (ZIP)).
fuzz_keras_config: the model_config of each of those .h5 models with a sidecar listing its
weight shapes (the harness makes the weights up; see tests/fuzz/fuzz_entry.h).
fuzz_image: tiny PNGs (gray/gray+alpha/RGB/RGBA/palette/1-bit/16-bit/Adam7-interlaced) and JPEGs
(gray/RGB, baseline/progressive, 4:4:4/4:2:0, CMYK) made here with Pillow.
fuzz_npy: tiny .npy files of every dtype sc_npy_read takes, format versions 1.0-3.0, plus a few
it must refuse (Fortran order, big-endian, object dtype).

Needs Debian's python3-numpy, python3-pil and python3-h5py (so /usr/bin/python3).  Small on
purpose: libFuzzer mutates the seeds, and small seeds mean fast executions."""
import io
import json
import os
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
MAX_MODEL_BYTES = 70_000


def model_seeds(out):
    data = ROOT / "tests" / "data"
    files = sorted((data / "onnx").glob("*.onnx")) + sorted((data / "ops").glob("*.onnx"))
    files += sorted((data / "keras_layers").glob("*.h5"))
    files += sorted((data / "keras_layers").glob("*.keras"))
    n = 0
    for f in files:
        if f.stat().st_size <= MAX_MODEL_BYTES:
            shutil.copy(f, out / f"{f.parent.name}_{f.name}")
            n += 1
    return n


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def adam7_gray_png(w, h):
    """An 8-bit gray Adam7-interlaced PNG, written by hand (Pillow writes no interlaced PNGs):
    the seven passes' reduced images one after another, each row with filter byte 0.
    [PNG spec, 8.2 Interlace methods]"""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        for y in range(y0, h, dy):
            if len(xs):
                raw.append(0)
                raw.extend((x * 37 + y * 11) & 255 for x in xs)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(bytes(raw))) + png_chunk(b"IEND", b""))


def image_seeds(out):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    seeds = {}

    def save(name, img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        seeds[name] = b.getvalue()

    save("gray.png", Image.fromarray(rgb[:, :, 0], "L"), "PNG")
    save("gray_alpha.png", Image.fromarray(rgb[:, :, :2].copy(), "LA"), "PNG")
    save("rgb.png", Image.fromarray(rgb, "RGB"), "PNG")
    save("rgba.png", Image.fromarray(np.dstack([rgb, rgb[:, :, :1]]), "RGBA"), "PNG")
    save("palette.png", Image.fromarray(rgb, "RGB").convert("P", colors=4), "PNG",
         transparency=1)
    save("bilevel.png", Image.fromarray(rgb[:, :, 0] > 127), "PNG")
    save("gray16.png", Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257, "I;16"), "PNG")
    seeds["interlaced.png"] = adam7_gray_png(9, 6)
    im = Image.fromarray(np.kron(rgb, np.ones((2, 2, 1), np.uint8)), "RGB")
    save("rgb444.jpg", im, "JPEG", quality=90, subsampling=0)
    save("rgb420.jpg", im, "JPEG", quality=50, subsampling=2)
    save("progressive.jpg", im, "JPEG", quality=75, progressive=True)
    save("gray.jpg", im.convert("L"), "JPEG", quality=80)
    save("cmyk.jpg", im.convert("CMYK"), "JPEG", quality=80)
    for name, b in seeds.items():
        (out / name).write_bytes(b)
    return len(seeds)


def npy_seeds(out):
    a = np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5
    seeds = {}

    def save(name, arr, version=None):
        b = io.BytesIO()
        np.lib.format.write_array(b, arr, version=version, allow_pickle=False)
        seeds[name] = b.getvalue()

    for dt in ["<f4", "<f8", "|u1", "|i1", "<i2", "<u2", "<i4", "<i8"]:
        save(f"{dt[1:]}.npy", a.astype(dt))
    save("scalar.npy", np.array(2.5, dtype="<f4"))
    save("empty.npy", np.zeros((0, 3), dtype="<f4"))
    save("rank5.npy", np.ones((1, 2, 1, 2, 2), dtype="<f4"))
    save("v2.npy", a.astype("<f4"), version=(2, 0))
    save("v3.npy", a.astype("<f4"), version=(3, 0))
    save("fortran.npy", np.asfortranarray(a.astype("<f4")))
    save("bigendian.npy", a.astype(">f4"))
    save("bool.npy", a > 0)
    for name, b in seeds.items():
        (out / name).write_bytes(b)
    return len(seeds)


def keras_config_seeds(out):
    """model_config + a sidecar with the weight shapes of every legacy .h5 test model (the input
    format of fuzz_keras_config, tests/fuzz/fuzz_entry.h).  A weight named ".../<layer>/<var>"
    belongs to <layer> (the loader's rule for nested models too)."""
    import h5py
    n = 0
    for f in sorted((ROOT / "tests" / "data" / "keras_layers").glob("*.h5")):
        with h5py.File(f, "r") as h:
            def text(v):
                return v.decode() if isinstance(v, bytes) else str(v)
            config = text(h.attrs["model_config"])
            side = {"keras_version": text(h.attrs.get("keras_version", "")),
                    "backend": text(h.attrs.get("backend", "tensorflow")),
                    "format": "keras-h5", "weights": {}}
            mw = h["model_weights"]
            for layer in mw.attrs.get("layer_names", []):
                g = mw[text(layer)]
                for wn in g.attrs.get("weight_names", []):
                    wn = text(wn)
                    parts = wn.split("/")
                    owner = parts[-2] if len(parts) >= 2 else text(layer)
                    side["weights"].setdefault(owner, []).append(
                        {"name": wn, "shape": list(g[wn].shape)})
        (out / (f.stem + ".cfg")).write_bytes(
            config.encode() + b"\0" + json.dumps(side, separators=(",", ":")).encode())
        n += 1
    return n


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    counts = {}
    for harness, fn in [("fuzz_model", model_seeds), ("fuzz_keras_config", keras_config_seeds),
                        ("fuzz_image", image_seeds), ("fuzz_npy", npy_seeds)]:
        d = out / harness
        os.makedirs(d, exist_ok=True)
        counts[harness] = fn(d)
    print(" ".join(f"{k}: {v} seeds" for k, v in counts.items()))


if __name__ == "__main__":
    main()
