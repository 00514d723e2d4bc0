#!/usr/bin/python3
"""Keras files segcam must refuse, for tests/cli_keras.sh; and a model.summary()-style listing of a
Keras file's stored config, the source of the expected `segcam layers` rows in that test.

Writes tests/data/keras_bad/ (each file a small tests/data/keras_layers/ model, made by
tools/make_keras_layer_models.py, copied and patched the way Keras would have written it; no
Keras or TensorFlow is involved):
  lambda.h5             tf.keras 2.15 legacy .h5 with a Lambda layer 'lambda' (marshalled Python
                        bytecode in config.function, as tf.keras func_dump writes it)
  lambda.keras          the same in a Keras 3.8 .keras ({"class_name": "__lambda__"} function)
  custom_layer.h5       tf.keras 2.15 .h5 with a layer of an unregistered custom class
                        'MyCustomLayer' (named 'my_custom_layer')
  custom_layer.keras    Keras 3.8 .keras with a registered custom class (module 'my_layers',
                        registered_name 'MyLayers>MyCustomLayer')
  custom_activation.h5  tf.keras 2.15 .h5 whose Conv2D 'conv2d' has the custom activation
                        function 'my_swish' (legacy serialisation stores its name)
  theano.h5             standalone Keras 2.1.6 .h5 saved with the Theano backend (flipped kernels)
  keras1.h5             the same file without keras_version (what Keras 1 wrote)
  subclassed.keras      Keras 3.8 .keras of a subclassed model: config.json has no layer graph
  no_config.keras       a .keras archive without config.json
  k3_weights.weights.h5 Keras 3 save_weights output (the layout of model.weights.h5, no config)
The bases: pooling.h5 / pooling.keras (Functional, no weights: 13x11x3 input, AveragePooling2D
and MaxPooling2D, Concatenate, MaxPooling2D, AveragePooling2D), sequential.h5 (tf.keras 2.15
Sequential: Conv2D, MaxPooling2D, Conv2DTranspose, Activation) and sequential.k216.h5.

Usage:
  /usr/bin/python3 tools/make_keras_bad.py [--out DIR]     write the files (default
                                                           tests/data/keras_bad); deterministic
  /usr/bin/python3 tools/make_keras_bad.py --summary FILE...
      for each Keras file (.h5 or .keras, told apart by content): the model input's name, then one
      line per layer in model order, "name class (None, h, w, c)", as model.summary() lists them.
      Output shapes come from a static shape inference over the stored config written here from
      the Keras definitions (conv_utils.conv_output_length / deconv_output_length, pooling,
      UpSampling2D, Concatenate, Flatten, Dense); for Keras 3 configs they are cross-checked
      against the shapes the config itself records in each consumer's __keras_tensor__ arguments.
      Nothing of segcam is used.
"""

import argparse
import io
import json
import os
import shutil
import sys
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LAYERS = os.path.join(ROOT, 'tests', 'data', 'keras_layers')

# marshal.dumps((lambda x: x * 2.0).__code__), base64-encoded with codecs.encode (tf.keras
# generic_utils.func_dump), made once with CPython 3.11 and kept as a constant so that the files do
# not depend on the Python running this script.  segcam never decodes it.
LAMBDA_CODE = ('4wEAAAAAAAAAAAAAAAIAAAADAAAA8wwAAACXAHwAZAF6BQAAUwApAk7nAAAAAAAAAECpACkB2gF4\n'
               'cwEAAAAg+gg8c3RyaW5nPvoIPGxhbWJkYT5yBgAAAAMAAABzCgAAAIAAsCGwY7EngADzAAAAAA==\n')
DTYPE_K3 = {'module': 'keras', 'class_name': 'DTypePolicy', 'config': {'name': 'float32'},
            'registered_name': None}


# ------------------------------------------------------------------------------------------------
# writing the refused files
# ------------------------------------------------------------------------------------------------


def attr_str(v):
    return v.decode('utf8') if isinstance(v, bytes) else str(v)


def patch_h5(src, dst, edit_config=None, add_layer=None, attrs=None, drop_attrs=()):
    """Copies src to dst, then rewrites model_config through edit_config(cfg), adds an empty
    weight group for add_layer (a layer without weights, listed after `after` in layer_names),
    sets root attributes and deletes attributes from the root and /model_weights."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, 'r+') as f:
        if edit_config:
            cfg = json.loads(attr_str(f.attrs['model_config']))
            edit_config(cfg)
            f.attrs['model_config'] = json.dumps(cfg).encode('utf8')  # vlen ASCII, as Keras
        if add_layer:
            name, after = add_layer
            mw = f['model_weights']
            names = [attr_str(n) for n in mw.attrs['layer_names']]
            names.insert(names.index(after) + 1, name)
            mw.attrs['layer_names'] = [n.encode('utf8') for n in names]
            g = mw.create_group(name)
            g.attrs['weight_names'] = []  # an empty list: a float64 attribute of 0 elements
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        for k in drop_attrs:
            for o in (f, f.get('model_weights')):
                if o is not None and k in o.attrs:
                    del o.attrs[k]


def insert_after(layers, after, layer, relink):
    """Inserts `layer` after the layer named `after` and makes the layer named `relink` take the
    new layer's output instead of `after`'s (list-style or dict-style inbound nodes)."""
    i = next(k for k, L in enumerate(layers) if L['name'] == after)
    layers.insert(i + 1, layer)
    L = next(L for L in layers if L['name'] == relink)
    s = json.dumps(L['inbound_nodes'])
    s = s.replace('["%s", 0, 0' % after, '["%s", 0, 0' % layer['name'])
    L['inbound_nodes'] = json.loads(s)


def k2_node(src):
    return [[[src, 0, 0, {}]]]


def k3_node(src, shape):
    return [{'args': [{'class_name': '__keras_tensor__',
                       'config': {'shape': shape, 'dtype': 'float32',
                                  'keras_history': [src, 0, 0]}}], 'kwargs': {}}]


def lambda_h5(dst):
    layer = {'class_name': 'Lambda',
             'config': {'name': 'lambda', 'trainable': True, 'dtype': 'float32',
                        'function': [LAMBDA_CODE, None, None], 'function_type': 'lambda',
                        'module': '__main__', 'output_shape': None, 'output_shape_type': 'raw',
                        'output_shape_module': None, 'arguments': {}},
             'name': 'lambda', 'inbound_nodes': k2_node('concatenate')}
    patch_h5(os.path.join(LAYERS, 'pooling.h5'), dst,
             lambda c: insert_after(c['config']['layers'], 'concatenate', layer, 'max_pooling2d_1'),
             add_layer=('lambda', 'concatenate'))


def custom_layer_h5(dst):
    layer = {'class_name': 'MyCustomLayer',
             'config': {'name': 'my_custom_layer', 'trainable': True, 'dtype': 'float32',
                        'factor': 2.0},
             'name': 'my_custom_layer', 'inbound_nodes': k2_node('concatenate')}
    patch_h5(os.path.join(LAYERS, 'pooling.h5'), dst,
             lambda c: insert_after(c['config']['layers'], 'concatenate', layer, 'max_pooling2d_1'),
             add_layer=('my_custom_layer', 'concatenate'))


def custom_activation_h5(dst):
    def edit(c):
        conv = next(L for L in c['config']['layers'] if L['class_name'] == 'Conv2D')
        conv['config']['activation'] = 'my_swish'
    patch_h5(os.path.join(LAYERS, 'sequential.h5'), dst, edit)


def theano_h5(dst):
    # standalone Keras 2.1.6 wrote bytes attributes (h5py 2)
    patch_h5(os.path.join(LAYERS, 'sequential.k216.h5'), dst, attrs={'backend': b'theano'})
    with h5py.File(dst, 'r+') as f:
        f['model_weights'].attrs['backend'] = b'theano'


def keras1_h5(dst):
    patch_h5(os.path.join(LAYERS, 'sequential.k216.h5'), dst, drop_attrs=('keras_version',))


def read_keras(src):
    with zipfile.ZipFile(src) as z:
        return {i.filename: (i.date_time, z.read(i.filename)) for i in z.infolist()}


def write_keras(dst, members):
    with zipfile.ZipFile(dst, 'w') as z:  # stored members, fixed dates (as make_keras_layer_models)
        for name, (when, data) in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=when), data)


def add_vars_group(weights, key, name):
    """model.weights.h5 with an empty layers/<key>/vars group (attribute name, Keras >= 3.6)."""
    src = io.BytesIO(weights)
    out = io.BytesIO()
    with h5py.File(src, 'r') as a, h5py.File(out, 'w') as b:
        for k in a:
            a.copy(a[k], b, k)
        g = b.create_group('layers/%s/vars' % key)
        g.attrs['name'] = name
    return out.getvalue()


def patch_keras(dst, layer, key):
    m = read_keras(os.path.join(LAYERS, 'pooling.keras'))
    when, cfg = m['config.json']
    cfg = json.loads(cfg)
    insert_after(cfg['config']['layers'], 'concatenate', layer, 'max_pooling2d_1')
    m['config.json'] = (when, json.dumps(cfg).encode())
    when, w = m['model.weights.h5']
    m['model.weights.h5'] = (when, add_vars_group(w, key, layer['name']))
    write_keras(dst, m)


def lambda_keras(dst):
    layer = {'module': 'keras.layers', 'class_name': 'Lambda',
             'config': {'name': 'lambda', 'trainable': True, 'dtype': DTYPE_K3,
                        'function': {'class_name': '__lambda__',
                                     'config': {'code': LAMBDA_CODE, 'defaults': None,
                                                'closure': None}},
                        'arguments': {}},
             'registered_name': None, 'build_config': {'input_shape': [None, 7, 6, 6]},
             'name': 'lambda', 'inbound_nodes': k3_node('concatenate', [None, 7, 6, 6])}
    patch_keras(dst, layer, 'lambda')


def custom_layer_keras(dst):
    layer = {'module': 'my_layers', 'class_name': 'MyCustomLayer',
             'config': {'name': 'my_custom_layer', 'trainable': True, 'dtype': DTYPE_K3,
                        'factor': 2.0},
             'registered_name': 'MyLayers>MyCustomLayer',
             'build_config': {'input_shape': [None, 7, 6, 6]},
             'name': 'my_custom_layer', 'inbound_nodes': k3_node('concatenate', [None, 7, 6, 6])}
    patch_keras(dst, layer, 'my_custom_layer')


def subclassed_keras(dst):
    m = read_keras(os.path.join(LAYERS, 'pooling.keras'))
    when, _ = m['config.json']
    # Model.get_config of a subclassed model: its constructor arguments, no layer graph
    cfg = {'module': 'my_models', 'class_name': 'MyUNet',
           'config': {'name': 'my_u_net', 'trainable': True, 'filters': 16},
           'registered_name': 'MyModels>MyUNet', 'build_config': {'input_shape': [None, 13, 11, 3]}}
    m['config.json'] = (when, json.dumps(cfg).encode())
    write_keras(dst, m)


def no_config_keras(dst):
    m = read_keras(os.path.join(LAYERS, 'pooling.keras'))
    del m['config.json']
    write_keras(dst, m)


def k3_weights(dst):
    with open(dst, 'wb') as f:
        f.write(read_keras(os.path.join(LAYERS, 'pooling.keras'))['model.weights.h5'][1])


FILES = [
    ('lambda.h5', lambda_h5), ('lambda.keras', lambda_keras),
    ('custom_layer.h5', custom_layer_h5), ('custom_layer.keras', custom_layer_keras),
    ('custom_activation.h5', custom_activation_h5),
    ('theano.h5', theano_h5), ('keras1.h5', keras1_h5),
    ('subclassed.keras', subclassed_keras), ('no_config.keras', no_config_keras),
    ('k3_weights.weights.h5', k3_weights),
]


# ------------------------------------------------------------------------------------------------
# --summary: model.summary() rows from the stored config
# ------------------------------------------------------------------------------------------------


def load_config(path):
    with open(path, 'rb') as f:
        head = f.read(8)
    if head[:2] == b'PK':
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read('config.json'))
    with h5py.File(path, 'r') as f:
        return json.loads(attr_str(f.attrs['model_config']))


def pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


def conv_len(n, k, s, d, pad):
    """tf_keras/utils/conv_utils.py conv_output_length."""
    ke = (k - 1) * d + 1
    if pad in ('same', 'causal'):
        m = n
    elif pad == 'valid':
        m = n - ke + 1
    else:
        m = n + ke - 1
    return (m + s - 1) // s


def deconv_len(n, k, s, d, pad, op):
    """tf_keras/utils/conv_utils.py deconv_output_length."""
    ke = (k - 1) * d + 1
    if op is None:
        if pad == 'valid':
            return n * s + max(ke - s, 0)
        if pad == 'full':
            return n * s - (s + ke - 2)
        return n * s
    p = {'same': ke // 2, 'valid': 0, 'full': ke - 1}[pad]
    return (n - 1) * s + ke - 2 * p + op


def infer(cls, c, ins):
    """Output shape (batch first, None for the batch) of one layer call, channels_last."""
    x = ins[0]
    if c.get('data_format', 'channels_last') != 'channels_last':
        raise SystemExit('channels_first is not handled by --summary')
    if cls in ('Conv2D', 'Conv2DTranspose'):
        k, s, d = pair(c['kernel_size']), pair(c.get('strides', 1)), pair(c.get('dilation_rate', 1))
        pad = c.get('padding', 'valid')
        if cls == 'Conv2D':
            hw = [conv_len(x[1 + i], k[i], s[i], d[i], pad) for i in range(2)]
        else:
            op = c.get('output_padding')
            op = pair(op) if op is not None else [None, None]
            hw = [deconv_len(x[1 + i], k[i], s[i], d[i], pad, op[i]) for i in range(2)]
        return [None] + hw + [c['filters']]
    if cls in ('MaxPooling2D', 'AveragePooling2D'):
        p = pair(c.get('pool_size', 2))
        s = pair(c.get('strides') or p)
        pad = c.get('padding', 'valid')
        return [None] + [conv_len(x[1 + i], p[i], s[i], 1, pad) for i in range(2)] + [x[3]]
    if cls == 'UpSampling2D':
        f = pair(c.get('size', 2))
        return [None, x[1] * f[0], x[2] * f[1], x[3]]
    if cls == 'Concatenate':
        ax = c.get('axis', -1)
        out = list(x)
        out[ax] = sum(t[ax] for t in ins)
        return out
    if cls == 'Flatten':
        return [None, int(np.prod(x[1:]))]
    if cls == 'Dense':
        return list(x[:-1]) + [c['units']]
    if cls in ('BatchNormalization', 'Dropout', 'Activation', 'LeakyReLU', 'ReLU', 'Add',
               'Multiply', 'SpatialDropout2D'):
        return list(x)
    raise SystemExit('--summary: no shape rule for %s' % cls)


def tensor_refs(node):
    """(layer, node, tensor) of every input of one inbound node, either config style."""
    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        return [(t[0], t[1], t[2], None) for t in node]
    out = []

    def walk(v):
        if isinstance(v, dict):
            if v.get('class_name') == '__keras_tensor__':
                h = v['config']['keras_history']
                out.append((h[0], h[1], h[2], v['config'].get('shape')))
                return
            for e in v.values():
                walk(e)
        elif isinstance(v, list):
            for e in v:
                walk(e)
    walk(node['args'])
    return out


def summary(path):
    top = load_config(path)
    cls, cfg = top['class_name'], top['config']
    rows = []
    if cls == 'Sequential':
        layers = cfg if isinstance(cfg, list) else cfg['layers']
        if layers[0]['class_name'] == 'InputLayer':
            c = layers[0]['config']
            shape = c.get('batch_input_shape') or c.get('batch_shape')
            in_name = c['name']
            layers = layers[1:]
        else:  # Keras 2 Sequential.add: an InputLayer named <first layer>_input
            c = layers[0]['config']
            shape = c['batch_input_shape']
            in_name = c['name'] + '_input'
        x = list(shape)
        for L in layers:
            x = infer(L['class_name'], L['config'], [x])
            rows.append((L['config']['name'], L['class_name'], x))
        return in_name, rows
    shapes = {}
    in_name = None
    for L in cfg['layers']:
        c = L['config']
        if L['class_name'] == 'InputLayer':
            y = list(c.get('batch_input_shape') or c.get('batch_shape'))
            in_name = in_name or L['name']
        else:
            if len(L['inbound_nodes']) != 1:
                raise SystemExit('--summary: shared layers are not handled')
            ins = []
            for name, _, _, recorded in tensor_refs(L['inbound_nodes'][0]):
                ins.append(shapes[name])
                if recorded is not None and list(recorded) != shapes[name]:
                    raise SystemExit('%s: inferred %s for %s, the config records %s' % (
                        path, shapes[name], name, recorded))
            y = infer(L['class_name'], c, ins)
        shapes[L['name']] = y
        rows.append((L['name'], L['class_name'], y))
    return in_name, rows


def fmt(shape):
    return '(' + ', '.join('None' if v is None else str(v) for v in shape) + ')'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'tests', 'data', 'keras_bad'))
    ap.add_argument('--summary', nargs='+', metavar='FILE')
    a = ap.parse_args()
    if a.summary:
        for p in a.summary:
            in_name, rows = summary(p)
            print('%s: input %s, %d layers' % (os.path.basename(p), in_name, len(rows)))
            for name, cls, shape in rows:
                print('  %-24s %-20s %s' % (name, cls, fmt(shape)))
        return
    os.makedirs(a.out, exist_ok=True)
    for name, make in FILES:
        make(os.path.join(a.out, name))
        print('%-24s %6d bytes' % (name, os.path.getsize(os.path.join(a.out, name))))


if __name__ == '__main__':
    sys.exit(main())
