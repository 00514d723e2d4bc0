#!/usr/bin/python3
"""Extracts a Keras model file's config and weights for TensorFlow.js (tools/keras_tfjs_ref.js).

TensorFlow.js cannot read .h5 or .keras files, so this helper (h5py + json + zipfile only, the
Debian packages) writes into OUTDIR:
  model.json    {"source", "format", "keras_version", "modelTopology", "weights": [...]}
                modelTopology = the model config rewritten into the Keras 2 form that
                tf.models.modelFromJSON() accepts (rules below); weights = one entry per variable:
                {"layer": <Keras layer name>, "name": kernel|bias|gamma|..., "shape", "offset"}
                (offset in float32 elements into weights.bin)
  weights.bin   every variable, float32 little-endian, C order, in the stored shape (Conv2D HWIO,
                Conv2DTranspose (kh, kw, out, in), Dense (in, out))

Where the weights come from (docs FORMATS_AND_NUMERICS.md §1-2):
  legacy .h5   /model_weights/<layer>/: the datasets listed in the layer group's `weight_names`
               attribute (chunked `weight_names0..` too); the variable name is the last path
               component without ":0".
  .keras zip   config.json + model.weights.h5: group layers/<key>/vars/0..n-1, where <key> is
               snake_case(class name) with a per-class counter in model.layers order (NOT the
               layer name: k38_unet.keras names its layers conv2d_9.. but stores conv2d..). Since
               Keras 3.6 each vars group also carries attribute name = layer.name; when present it
               must agree with the counter rule (checked).  Variable order: the layer's own
               order (Conv/Dense: kernel, bias; BatchNormalization: gamma (scale), beta (center),
               moving_mean, moving_variance).

Config rewriting (what tfjs-layers 4.22 accepts; it follows the Keras 2 legacy serialization):
  - Keras 3 object dicts {module, class_name, config, registered_name} -> {class_name, config};
    a DTypePolicy dtype -> its name; build_config / compile_config dropped;
  - Keras 3 inbound_nodes [{"args": [...], "kwargs": {...}}] -> Keras 2 lists
    [[[layer, node_index, tensor_index, {}], ...]] (the __keras_tensor__ keras_history triples, in
    argument order); a flat input_layers/output_layers triple -> a list of triples;
  - InputLayer batch_shape -> batch_input_shape; "optional" dropped;
  - BatchNormalization axis [3] (a list, tf.keras >= 2.4) -> 3 (tfjs wants one int);
  - every *_initializer -> Zeros, every regularizer/constraint -> null: the stored weights replace
    the initial values, and tfjs would otherwise spend seconds on random initialisation and
    refuse Keras 3 initializer forms.
Anything else (an unknown layer class, a Lambda, a nested model) is left to tfjs to accept or
refuse; this helper does not interpret the graph.

Second use: --image PNG --out X.npy [--gray] [--size H W] [--crop Y X H W] [--scale S] writes a
model input [1, H, W, C] float32 from a sample image: gray = (0.299 R + 0.587 G + 0.114 B) in
float64, or RGB; optional crop, then optional resize (PIL bilinear), then divided by S.

Usage: keras_extract.py MODEL OUTDIR
       keras_extract.py --image PNG --out X.npy [options]
"""

import argparse
import io
import json
import os
import re
import sys
import zipfile

import h5py
import numpy as np


def _str(v):
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _str(v[()])
    return str(v)


def _str_list(group, attr):
    """A string-list attribute, or its chunks attr0, attr1, ... (docs §1.2)."""
    if attr in group.attrs:
        vals = group.attrs[attr]
    else:
        vals, k = [], 0
        while f"{attr}{k}" in group.attrs:
            vals.extend(list(group.attrs[f"{attr}{k}"]))
            k += 1
    if isinstance(vals, np.ndarray) and vals.dtype.kind == "f":  # empty list: float64, 0 elements
        return []
    return [_str(v).rstrip("\0") for v in vals]


# ---- config rewriting ---------------------------------------------------------------------------

def _plain_object(d):
    """A Keras 3 serialized object -> the Keras 2 {class_name, config} form."""
    if isinstance(d, dict) and "class_name" in d and "config" in d:
        return {"class_name": d["class_name"], "config": d["config"]}
    return d


def _inbound_k2(nodes):
    """Keras 3 dict nodes -> Keras 2 nested lists; Keras 2 lists pass through."""
    out = []
    for node in nodes:
        if not isinstance(node, dict):
            out.append(node)
            continue
        triples = []

        def walk(v):
            if isinstance(v, dict):
                if v.get("class_name") == "__keras_tensor__":
                    name, ni, ti = v["config"]["keras_history"]
                    triples.append([name, ni, ti, {}])
                else:
                    for x in v.values():
                        walk(x)
            elif isinstance(v, (list, tuple)):
                for x in v:
                    walk(x)

        walk(node.get("args", []))
        walk(node.get("kwargs", {}))
        out.append(triples)
    return out


def _rewrite_layer_config(cls, cfg):
    cfg = dict(cfg)
    for k in list(cfg):
        if k.endswith("_initializer"):
            cfg[k] = {"class_name": "Zeros", "config": {}}
        elif k.endswith("_regularizer") or k.endswith("_constraint"):
            cfg[k] = None
    if isinstance(cfg.get("dtype"), dict):
        cfg["dtype"] = cfg["dtype"].get("config", {}).get("name", "float32")
    if cls == "InputLayer":
        if "batch_shape" in cfg and "batch_input_shape" not in cfg:
            cfg["batch_input_shape"] = cfg.pop("batch_shape")
        cfg.pop("optional", None)
    if cls == "BatchNormalization" and isinstance(cfg.get("axis"), list):
        if len(cfg["axis"]) != 1:
            raise ValueError(f"BatchNormalization over axes {cfg['axis']}")
        cfg["axis"] = cfg["axis"][0]
    if cls in ("Functional", "Model", "Sequential"):
        cfg = _rewrite_model_config(cfg)
    return cfg


def _rewrite_model_config(cfg):
    if isinstance(cfg, list):  # Sequential stored as a bare list (Keras <= 2.2.2)
        return [_rewrite_layer(l) for l in cfg]
    cfg = dict(cfg)
    cfg["layers"] = [_rewrite_layer(l) for l in cfg["layers"]]
    for k in ("input_layers", "output_layers"):
        v = cfg.get(k)
        if isinstance(v, list) and len(v) == 3 and isinstance(v[0], str):
            cfg[k] = [v]
    return cfg


def _rewrite_layer(layer):
    layer = _plain_object(dict(layer)) | {k: v for k, v in layer.items()
                                          if k in ("name", "inbound_nodes")}
    layer["config"] = _rewrite_layer_config(layer["class_name"], layer["config"])
    if "inbound_nodes" in layer:
        layer["inbound_nodes"] = _inbound_k2(layer["inbound_nodes"])
    return layer


def rewrite_topology(model_config):
    return {"class_name": model_config["class_name"],
            "config": _rewrite_model_config(model_config["config"])}


# ---- weights ------------------------------------------------------------------------------------

def _config_layers(model_config):
    c = model_config["config"]
    return c if isinstance(c, list) else c["layers"]


def weights_h5(f, model_config):
    mw = f["model_weights"] if "model_weights" in f else f
    out = []
    for lname in _str_list(mw, "layer_names"):
        g = mw[lname]
        for wname in _str_list(g, "weight_names"):
            var = wname.split("/")[-1].split(":")[0]
            out.append((lname, var, np.asarray(g[wname], dtype=np.float32)))
    return out


def _snake(name):
    # Keras 3 keras/src/utils/naming.py to_snake_case (the same three substitutions)
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _var_names(cls, cfg, n):
    if cls in ("Conv2D", "Conv2DTranspose", "Dense", "Conv1D"):
        names = ["kernel"] + (["bias"] if cfg.get("use_bias", True) else [])
    elif cls == "BatchNormalization":
        names = ((["gamma"] if cfg.get("scale", True) else [])
                 + (["beta"] if cfg.get("center", True) else [])
                 + ["moving_mean", "moving_variance"])
    else:
        names = [f"var{i}" for i in range(n)]
    if len(names) != n:
        raise ValueError(f"{cls} '{cfg.get('name')}': {n} stored variables, expected {names}")
    return names


def weights_keras_zip(h5, model_config):
    out = []
    counters = {}
    layers = _config_layers(model_config)
    if model_config["class_name"] == "Sequential":
        layers = [l for l in layers if l["class_name"] != "InputLayer"]
    root = h5["layers"] if "layers" in h5 else h5["_layer_checkpoint_dependencies"]
    for l in layers:
        key = _snake(l["class_name"])
        k = counters.get(key, 0)
        counters[key] = k + 1
        gname = key if k == 0 else f"{key}_{k}"
        if gname not in root:
            raise ValueError(f"no weight group layers/{gname} for layer '{l['config']['name']}'")
        vars_ = root[gname]["vars"]
        stored = vars_.attrs.get("name")
        if stored is not None and _str(stored) != l["config"]["name"]:
            raise ValueError(f"layers/{gname}/vars names '{_str(stored)}', expected "
                             f"'{l['config']['name']}'")
        n = len(vars_.keys())
        for i, var in enumerate(_var_names(l["class_name"], l["config"], n)):
            out.append((l["config"]["name"], var, np.asarray(vars_[str(i)], dtype=np.float32)))
    return out


def extract(model_path, out_dir):
    with open(model_path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK"):
        z = zipfile.ZipFile(model_path)
        model_config = json.loads(z.read("config.json"))
        version = json.loads(z.read("metadata.json")).get("keras_version", "?")
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as h5:
            weights = weights_keras_zip(h5, model_config)
        fmt = "keras-zip"
    else:
        with h5py.File(model_path, "r") as f:
            if "model_config" not in f.attrs:
                raise ValueError(f"{model_path}: no model_config (weights-only file)")
            model_config = json.loads(_str(f.attrs["model_config"]))
            version = _str(f.attrs.get("keras_version", "?"))
            weights = weights_h5(f, model_config)
        fmt = "keras-h5"
    os.makedirs(out_dir, exist_ok=True)
    entries, off = [], 0
    with open(os.path.join(out_dir, "weights.bin"), "wb") as fb:
        for lname, var, a in weights:
            fb.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
            entries.append({"layer": lname, "name": var, "shape": list(a.shape), "offset": off})
            off += a.size
    doc = {"source": os.path.abspath(model_path), "format": fmt, "keras_version": version,
           "modelTopology": rewrite_topology(model_config), "weights": entries}
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(doc, f)
    return doc


# ---- image inputs -------------------------------------------------------------------------------

def image_input(args):
    from PIL import Image
    im = Image.open(args.image)
    if args.crop:
        y, x, h, w = args.crop
        im = im.crop((x, y, x + w, y + h))
    if args.gray:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float64)
        a = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])[..., None]
        if args.size:
            g = Image.fromarray(a[..., 0].astype(np.float32), mode="F")
            a = np.asarray(g.resize((args.size[1], args.size[0]), Image.BILINEAR),
                           dtype=np.float64)[..., None]
    else:
        if args.size:
            im = im.convert("RGB").resize((args.size[1], args.size[0]), Image.BILINEAR)
        a = np.asarray(im.convert("RGB"), dtype=np.float64)
    a = (a / args.scale)[None].astype(np.float32)
    np.save(args.out, np.ascontiguousarray(a))
    print(f"{args.out}: {list(a.shape)} range [{a.min():.4g}, {a.max():.4g}]")


def main():
    if "--image" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--image", required=True)
        ap.add_argument("--out", required=True)
        ap.add_argument("--gray", action="store_true")
        ap.add_argument("--size", type=int, nargs=2)
        ap.add_argument("--crop", type=int, nargs=4)
        ap.add_argument("--scale", type=float, default=255.0)
        image_input(ap.parse_args())
        return 0
    if len(sys.argv) != 3:
        print(__doc__.split("Usage:")[1], file=sys.stderr)
        return 2
    doc = extract(sys.argv[1], sys.argv[2])
    print(f"{sys.argv[1]}: {doc['format']} keras {doc['keras_version']}, "
          f"{len(doc['weights'])} variables -> {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
