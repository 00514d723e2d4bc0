#!/usr/bin/python3
"""Corrupt HDF5 files on which libhdf5 1.10 (Debian 12) itself crashes or hangs, for the tests of
segcam's HDF5 probe (src/load/h5_probe.c, docs/FUZZING.md C1).

Each file is a small model of tests/data/keras_layers (made by tools/make_keras_layer_models.py)
with a few bytes of its HDF5 metadata overwritten; a .keras file is rebuilt with its
model.weights.h5 member patched the same way.  The patches (the RECIPES below) were found with
--search: random byte patches, kept when `segcam layers FILE` with the probe disabled
(SEGCAM_H5_PROBE=0) died from a signal or ran past the time limit.

Usage:
  /usr/bin/python3 tools/make_h5_corrupt.py [--out DIR]     write the files (default
                                                            tests/data/h5_corrupt); deterministic
  /usr/bin/python3 tools/make_h5_corrupt.py --check BIN     run BIN (segcam) on each written file
                                                            with and without the probe; print what
                                                            happened
  /usr/bin/python3 tools/make_h5_corrupt.py --search BIN [--trials N] [--seed S] [--base FILE]
      try N random patches of each base file, print the recipes of those that crash or hang
"""

import argparse
import io
import os
import random
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = os.path.join(ROOT, "tests", "data", "keras_layers")
TIMEOUT = 10  # seconds; a load of these files takes milliseconds

# name: (base file in tests/data/keras_layers, [(offset in the HDF5 bytes, new bytes)], what it
# breaks).  Offsets are into the HDF5 file itself (for a .keras base: into its model.weights.h5).
# The layouts (v1 object headers, attribute messages, variable-length heap IDs of 4-byte length,
# 8-byte collection address, 4-byte object index) are the HDF5 File Format Specification's, read
# off the base files with h5py.
RECIPES = {
    "h5_attr_datatype_size_segv.h5": (
        "pooling.h5", [(837, b"\xff")],
        "root attribute keras_version: datatype size 72 -> 65352; H5Aexists reads past the "
        "message (SIGSEGV)"),
    "h5_model_config_heap_index_segv.h5": (
        "pooling.h5", [(1053, b"\xff")],
        "root attribute model_config: its heap ID's object index 1 -> 65281; H5HG_read indexes "
        "past the collection's object table (SIGSEGV)"),
    "h5_layer_names_heap_index_segv.h5": (
        "pooling.h5", [(1877, b"\xff")],
        "/model_weights layer_names, first entry: object index +0xff00 (H5HG_read, SIGSEGV)"),
    "h5_weight_names_heap_index_segv.h5": (
        "sequential.h5", [(13285, b"\xff")],
        "weight_names of conv2d_transpose, first entry: object index +0xff00; read while the "
        "config is translated (H5HG_read, SIGSEGV)"),
    "h5_k216_attr_dataspace_size_segv.h5": (
        "sequential.k216.h5", [(918, b"\xff\xff\xff\xff")],
        "Keras 2.1.6 file, root attribute backend: dataspace size 0xffff and the first name "
        "bytes; H5Aexists copies past the message (memcpy, SIGSEGV)"),
    "keras_vars_name_heap_index_segv.keras": (
        "conv_dilated.keras", [(9918, b"\xff")],
        ".keras, model.weights.h5, attribute name of layers/conv2d/vars: object index "
        "+0xff0000 (H5HG_read, SIGSEGV)"),
}


def read_base(base):
    """The HDF5 bytes of a base file (for a .keras: its model.weights.h5) and the archive."""
    path = os.path.join(LAYERS, base)
    with open(path, "rb") as f:
        data = f.read()
    if base.endswith(".keras"):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return z.read("model.weights.h5"), data
    return data, None


def build(base, patches):
    h5, archive = read_base(base)
    b = bytearray(h5)
    for off, new in patches:
        b[off:off + len(new)] = new
    if archive is None:
        return bytes(b)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = bytes(b) if info.filename == "model.weights.h5" else zin.read(info.filename)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = info.compress_type
            zout.writestr(zi, body)
    return out.getvalue()


def run(binary, path, probe):
    env = dict(os.environ, SEGCAM_H5_PROBE="1" if probe else "0", OMP_NUM_THREADS="1")
    try:
        p = subprocess.run([binary, "layers", path], env=env, capture_output=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "hang", ""
    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
    if p.returncode < 0:
        return "signal %d" % -p.returncode, ""
    if p.returncode >= 128:
        return "exit %d" % p.returncode, ""
    return ("loads" if p.returncode == 0 else "error"), (err[-1] if err else "")


def search(binary, bases, trials, seed, tmp):
    rng = random.Random(seed)
    found = 0
    for base in bases:
        h5, _ = read_base(base)
        ext = ".keras" if base.endswith(".keras") else ".h5"
        for t in range(trials):
            kind = rng.randrange(3)
            off = rng.randrange(0, len(h5) - 8)
            if kind == 0:
                new = bytes([rng.randrange(256)])
            elif kind == 1:
                new = bytes([0xff] * rng.choice((1, 2, 4, 8)))
            else:
                new = bytes(rng.choice((1, 2, 4, 8)))
            path = os.path.join(tmp, "trial" + ext)
            with open(path, "wb") as f:
                f.write(build(base, [(off, new)]))
            what, _ = run(binary, path, probe=False)
            if what not in ("loads", "error"):
                found += 1
                print("%-26s %-9s (%d, %r)," % (base, what, off, new), flush=True)
    print("%d of %d trials crashed or hung" % (found, trials * len(bases)), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "h5_corrupt"))
    ap.add_argument("--check", metavar="BIN")
    ap.add_argument("--search", metavar="BIN")
    ap.add_argument("--trials", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base", action="append")
    ap.add_argument("--tmp", default="/tmp")
    a = ap.parse_args()
    if a.search:
        bases = a.base or ["pooling.h5", "sequential.h5", "sequential.k216.h5", "pooling.keras"]
        search(a.search, bases, a.trials, a.seed, a.tmp)
        return
    if a.check:
        for name in sorted(RECIPES):
            path = os.path.join(a.out, name)
            without, _ = run(a.check, path, probe=False)
            with_probe, msg = run(a.check, path, probe=True)
            print("%-40s without probe: %-10s with probe: %-6s %s" % (name, without, with_probe,
                                                                     msg))
        return
    os.makedirs(a.out, exist_ok=True)
    for name, (base, patches, _) in sorted(RECIPES.items()):
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(build(base, patches))
    print("wrote %d files to %s" % (len(RECIPES), a.out))


if __name__ == "__main__":
    main()
