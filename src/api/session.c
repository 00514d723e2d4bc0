/* segcam_session: fixes the input size, lists layers, runs the model, reads its output. */
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/error.h"
#include "ops/ops.h"

/* Where the class axis of a 4-D output is: outputs whose spatial size equals the input's
 * settle it; otherwise follow the input layout. */
static void interpret_output(segcam_session *ss) {
  const sc_tensor *t = sc_session_tensor(ss->s, ss->out_value);
  segcam_output *o = &ss->out;
  memset(o, 0, sizeof *o);
  o->ndim = t->shape.ndim;
  for (int i = 0; i < t->shape.ndim; i++) o->shape[i] = t->shape.d[i];
  int kind = 0;
  sc_session_final_activation(ss->s, &kind);
  o->final_activation = kind;
  const int64_t *d = t->shape.d;
  int64_t ih = -1, iw = -1;
  if (ss->in_shape.ndim == 4) {
    int h = ss->model->layout == SEGCAM_LAYOUT_NCHW ? 2 : 1;
    ih = ss->in_shape.d[h], iw = ss->in_shape.d[h + 1];
  }
  if (t->shape.ndim == 4) {
    segcam_layout l = ss->model->layout;
    if (d[2] == ih && d[3] == iw) l = SEGCAM_LAYOUT_NCHW;
    else if (d[1] == ih && d[2] == iw) l = SEGCAM_LAYOUT_NHWC;
    o->layout = l;
    o->classes = l == SEGCAM_LAYOUT_NCHW ? d[1] : d[3];
    o->height = l == SEGCAM_LAYOUT_NCHW ? d[2] : d[1];
    o->width = l == SEGCAM_LAYOUT_NCHW ? d[3] : d[2];
  } else if (t->shape.ndim == 3 && ss->model->g.windows_1d && ss->in_shape.ndim == 3) {
    /* a 1-D (signal) model on [N, C, L] (ONNX, channels_first) or [N, L, C] tensors: the output
     * [N, K, L] or [N, L, K] is a 1 x L "image" of K classes */
    int ncl = ss->model->g.windows_1d == 1;
    o->layout = ncl ? SEGCAM_LAYOUT_NCHW : SEGCAM_LAYOUT_NHWC;
    o->classes = ncl ? d[1] : d[2];
    o->height = 1;
    o->width = ncl ? d[2] : d[1];
  } else if (t->shape.ndim == 3) { /* [N, H, W]: one channel */
    o->layout = SEGCAM_LAYOUT_NCHW;
    o->classes = 1;
    o->height = d[1];
    o->width = d[2];
  } else {
    o->layout = SEGCAM_LAYOUT_NCHW;
    o->classes = t->shape.ndim >= 2 ? sc_shape_numel(&t->shape) / d[0] : sc_shape_numel(&t->shape);
    o->height = o->width = 1;
    o->kind = SEGCAM_OUTPUT_CLASSIFIER;
    return;
  }
  o->kind = o->classes == 1 ? SEGCAM_OUTPUT_BINARY : SEGCAM_OUTPUT_MULTICLASS;
}

static segcam_status list_layers(segcam_session *ss) {
  const sc_graph *g = &ss->model->g;
  ss->layer_node = sc_calloc_n((size_t)g->n_nodes + 1, sizeof *ss->layer_node);
  ss->roles = sc_calloc_n((size_t)g->n_nodes + 1, sizeof *ss->roles);
  if (!ss->layer_node || !ss->roles) return SEGCAM_E_NOMEM;
  for (int i = 0; i < g->n_nodes; i++) {
    const sc_node *n = &g->nodes[i];
    if (!n->name || sc_session_is_const(ss->s, n->out[0])) continue;
    if (sc_session_tensor(ss->s, n->out[0])->dtype != SC_F32) continue;
    ss->layer_node[ss->n_layers++] = i;
  }
  sc_assign_roles(ss);
  return SEGCAM_OK;
}

segcam_status segcam_session_create(const segcam_model *m, int64_t height, int64_t width,
                                    segcam_session **out) {
  if (!out) return sc_error(SEGCAM_E_ARG, "segcam_session_create: out is NULL");
  *out = NULL;
  if (!m) return sc_error(SEGCAM_E_ARG, "segcam_session_create: model is NULL");
  const sc_graph *g = &m->g;
  if (g->n_inputs != 1)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: the model has %d inputs; segcam runs models "
                    "with one image input", g->path, g->n_inputs);
  const sc_value *in = &g->values[g->inputs[0]];
  sc_shape shape = in->shape;
  if (shape.ndim < 2)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: input '%s' has rank %d; an image input is needed",
                    g->path, in->name, shape.ndim);
  if (shape.d[0] < 0) shape.d[0] = 1;
  if (shape.d[0] != 1)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: input '%s' has a fixed batch of %" PRId64
                    "; segcam runs batch 1", g->path, in->name, shape.d[0]);
  if (shape.ndim == 4 || shape.ndim == 3) {
    int h = shape.ndim == 3 ? 1 : (m->layout == SEGCAM_LAYOUT_NCHW ? 2 : 1);
    int64_t want[2] = {height, width};
    for (int k = 0; k < 2; k++) {
      int64_t *dim = &shape.d[h + k];
      if (want[k] > 0) {
        if (*dim > 0 && *dim != want[k])
          return sc_error(SEGCAM_E_SHAPE, "%s: input '%s' has a fixed %s of %" PRId64
                          ", not %" PRId64, g->path, in->name, k ? "width" : "height", *dim,
                          want[k]);
        *dim = want[k];
      } else if (*dim < 0) {
        return sc_error(SEGCAM_E_ARG, "%s: input '%s' has a dynamic %s: give the input size",
                        g->path, in->name, k ? "width" : "height");
      }
    }
    if (shape.ndim == 4) {
      int c = m->layout == SEGCAM_LAYOUT_NCHW ? 1 : 3;
      if (shape.d[c] < 0)
        return sc_error(SEGCAM_E_UNSUPPORTED, "%s: input '%s' has a dynamic channel count",
                        g->path, in->name);
    }
  }
  for (int i = 0; i < shape.ndim; i++)
    if (shape.d[i] < 0)
      return sc_error(SEGCAM_E_UNSUPPORTED, "%s: input '%s' has a dynamic dimension %d", g->path,
                      in->name, i);

  segcam_session *ss = sc_calloc_n(1, sizeof *ss);
  if (!ss) return SEGCAM_E_NOMEM;
  ss->model = m;
  ss->in_shape = shape;
  ss->out_value = g->outputs[0];
  segcam_status st = sc_session_create(g, &shape, NULL, 0, &ss->s);
  if (!st) {
    ss->input = sc_calloc_n((size_t)sc_shape_numel(&shape), sizeof(float));
    if (!ss->input) st = SEGCAM_E_NOMEM;
  }
  if (!st) {
    /* outputs are read as [1, ...]: a model whose output's first axis is not a batch of 1 (a Pad
     * or Reshape over axis 0, or an export that dropped the batch axis) would be misread */
    const sc_tensor *ot = sc_session_tensor(ss->s, ss->out_value);
    if (ot->shape.ndim >= 2 && ot->shape.d[0] != 1) {
      char b[96];
      st = sc_error(SEGCAM_E_UNSUPPORTED, "%s: output '%s' has shape %s for an input of batch 1; "
                    "segcam reads outputs with a leading batch axis of 1", g->path,
                    g->values[ss->out_value].name, sc_shape_str(&ot->shape, b, sizeof b));
    }
  }
  if (!st) {
    interpret_output(ss);
    st = list_layers(ss);
  }
  if (!st) {
    /* keep the default target's activations so the common explain needs no second forward */
    int keep[2], nk = 0, kind;
    for (int i = 0; i < ss->n_layers; i++)
      if (ss->roles[i] & SEGCAM_ROLE_DEFAULT) keep[nk++] = sc_layer_value(ss, (size_t)i);
    int fa = sc_session_final_activation(ss->s, &kind);
    if (fa >= 0) keep[nk++] = g->nodes[fa].in[0]; /* the logits, for reporting the score */
    st = sc_session_keep(ss->s, keep, nk);
  }
  if (st) {
    segcam_session_free(ss);
    return st;
  }
  *out = ss;
  return SEGCAM_OK;
}

void segcam_session_free(segcam_session *ss) {
  if (!ss) return;
  sc_session_free(ss->s);
  free(ss->input);
  free(ss->layer_node);
  free(ss->roles);
  free(ss);
}

segcam_status segcam_session_input_shape(const segcam_session *ss, int *ndim,
                                         int64_t dims[SEGCAM_MAX_DIMS]) {
  if (!ss || !ndim || !dims) return sc_error(SEGCAM_E_ARG, "segcam_session_input_shape: NULL");
  *ndim = ss->in_shape.ndim;
  for (int i = 0; i < ss->in_shape.ndim; i++) dims[i] = ss->in_shape.d[i];
  return SEGCAM_OK;
}

size_t segcam_session_num_layers(const segcam_session *ss) { return ss ? (size_t)ss->n_layers : 0; }

segcam_status segcam_session_layer(const segcam_session *ss, size_t i, segcam_layer *out) {
  if (!ss || !out || i >= (size_t)ss->n_layers)
    return sc_error(SEGCAM_E_ARG, "segcam_session_layer: no layer %zu", i);
  const sc_graph *g = &ss->model->g;
  const sc_node *n = &g->nodes[ss->layer_node[i]];
  const sc_tensor *t = sc_session_tensor(ss->s, n->out[0]);
  memset(out, 0, sizeof *out);
  out->name = n->name;
  out->type = n->type;
  out->ndim = t->shape.ndim;
  for (int d = 0; d < t->shape.ndim; d++) out->shape[d] = t->shape.d[d];
  if (n->user_nhwc && t->shape.ndim == 4) { /* shown as the framework shows it (Keras NHWC) */
    out->shape[1] = t->shape.d[2];
    out->shape[2] = t->shape.d[3];
    out->shape[3] = t->shape.d[1];
  }
  out->roles = ss->roles[i];
  /* weights of this node and of the unnamed helper nodes a loader put before it for the same
   * layer (a Keras Conv2D with an activation is a conv node + an activation node) */
  for (int ni = ss->layer_node[i]; ni >= 0; ni--) {
    const sc_node *m = &g->nodes[ni];
    if (ni != ss->layer_node[i] && m->name) break;
    int weighted = m->op == SC_OP_CONV || m->op == SC_OP_CONV_TRANSPOSE || m->op == SC_OP_GEMM ||
                   m->op == SC_OP_MATMUL || m->op == SC_OP_BATCHNORM || m->op == SC_OP_LAYERNORM ||
                   m->op == SC_OP_PRELU;
    for (int k = 0; weighted && k < m->n_in; k++) {
      int v = m->in[k];
      if (v < 0 || !g->values[v].cdata || g->values[v].dtype != SC_F32) continue;
      /* a shared layer's later calls reuse the first call's weights: count them once */
      int seen = 0;
      for (int e = 0; e < ni && !seen; e++)
        for (int q = 0; q < g->nodes[e].n_in; q++) seen |= g->nodes[e].in[q] == v;
      if (!seen) out->params += sc_shape_numel(&g->values[v].shape);
    }
  }
  return SEGCAM_OK;
}

segcam_status segcam_session_find_layer(const segcam_session *ss, const char *q, size_t *index) {
  if (!ss || !q || !index) return sc_error(SEGCAM_E_ARG, "segcam_session_find_layer: NULL");
  const sc_graph *g = &ss->model->g;
  for (int i = 0; i < ss->n_layers; i++)
    if (strcmp(g->nodes[ss->layer_node[i]].name, q) == 0) return *index = (size_t)i, SEGCAM_OK;
  /* an ONNX user may also name a node's output tensor */
  for (int i = 0; i < ss->n_layers; i++)
    if (strcmp(g->values[sc_layer_value(ss, (size_t)i)].name, q) == 0)
      return *index = (size_t)i, SEGCAM_OK;
  if (q[0] == '#') {
    char *end;
    long k = strtol(q + 1, &end, 10);
    if (*end == '\0' && end != q + 1 && k >= 0 && k < ss->n_layers)
      return *index = (size_t)k, SEGCAM_OK;
    return sc_error(SEGCAM_E_ARG, "%s: no layer %s (there are %d layers)", g->path, q,
                    ss->n_layers);
  }
  unsigned role = strcmp(q, "default") == 0      ? SEGCAM_ROLE_DEFAULT
                  : strcmp(q, "bottleneck") == 0 ? SEGCAM_ROLE_BOTTLENECK
                  : strcmp(q, "head") == 0       ? SEGCAM_ROLE_HEAD
                                                 : 0;
  if (role)
    for (int i = ss->n_layers - 1; i >= 0; i--)
      if (ss->roles[i] & role) return *index = (size_t)i, SEGCAM_OK;
  if (role)
    return sc_error(SEGCAM_E_ARG, "%s: the model has no %s layer; name one (segcam layers)",
                    g->path, q);
  return sc_error(SEGCAM_E_ARG, "%s: no layer named '%s' (list them with: segcam layers)",
                  g->path, q);
}

segcam_status segcam_session_run(segcam_session *ss, const float *input, size_t n) {
  if (!ss || !input) return sc_error(SEGCAM_E_ARG, "segcam_session_run: NULL argument");
  size_t want = (size_t)sc_shape_numel(&ss->in_shape);
  if (n != want) {
    char b[96];
    return sc_error(SEGCAM_E_SHAPE, "%s: the input needs %zu values (%s), got %zu",
                    ss->model->g.path, want, sc_shape_str(&ss->in_shape, b, sizeof b), n);
  }
  memcpy(ss->input, input, n * sizeof(float));
  ss->has_input = 1;
  return sc_rerun(ss);
}

segcam_status sc_rerun(segcam_session *ss) {
  if (!ss->has_input) return sc_error(SEGCAM_E_ARG, "%s: no input has been run",
                                      ss->model->g.path);
  SC_TRY(sc_session_set_input(ss->s, 0, ss->input, (size_t)sc_shape_numel(&ss->in_shape)));
  SC_TRY(sc_session_forward(ss->s));
  const float *y = sc_session_tensor(ss->s, ss->out_value)->data;
  size_t m = (size_t)sc_shape_numel(&sc_session_tensor(ss->s, ss->out_value)->shape);
  for (size_t i = 0; i < m; i++)
    if (y[i] != y[i])
      return sc_error(SEGCAM_E_SHAPE, "%s: the model output contains NaN (check the input "
                      "values and preprocessing)", ss->model->g.path);
  ss->out.data = y;
  return SEGCAM_OK;
}

segcam_status segcam_session_output(const segcam_session *ss, segcam_output *out) {
  if (!ss || !out) return sc_error(SEGCAM_E_ARG, "segcam_session_output: NULL argument");
  *out = ss->out;
  if (!ss->has_input) out->data = NULL;
  return SEGCAM_OK;
}

segcam_status segcam_session_predict(const segcam_session *ss, int32_t *labels, size_t n) {
  if (!ss || !labels) return sc_error(SEGCAM_E_ARG, "segcam_session_predict: NULL argument");
  const segcam_output *o = &ss->out;
  if (!ss->has_input || !o->data)
    return sc_error(SEGCAM_E_ARG, "%s: run the model first", ss->model->g.path);
  size_t hw = (size_t)(o->height * o->width);
  if (n != hw)
    return sc_error(SEGCAM_E_ARG, "segcam_session_predict: %zu labels requested, output has %zu",
                    n, hw);
  int64_t K = o->classes;
  if (o->kind == SEGCAM_OUTPUT_BINARY) {
    float thr = o->final_activation == 2 ? 0.5f : 0.0f; /* sigmoid probability, or a logit */
    for (size_t i = 0; i < hw; i++) labels[i] = o->data[i] > thr;
    return SEGCAM_OK;
  }
  /* argmax over classes; ties go to the lowest class index (numpy's argmax) */
  for (size_t i = 0; i < hw; i++) {
    int32_t best = 0;
    float bv = -FLT_MAX;
    for (int64_t k = 0; k < K; k++) {
      float v = o->layout == SEGCAM_LAYOUT_NCHW ? o->data[(size_t)k * hw + i]
                                                : o->data[i * (size_t)K + (size_t)k];
      if (v > bv || k == 0) bv = v, best = (int32_t)k;
    }
    labels[i] = best;
  }
  return SEGCAM_OK;
}

segcam_status segcam_session_activation(const segcam_session *ss, size_t layer, const float **data,
                                        int *ndim, int64_t shape[SEGCAM_MAX_DIMS]) {
  if (!ss || !data || !ndim || !shape || layer >= (size_t)ss->n_layers)
    return sc_error(SEGCAM_E_ARG, "segcam_session_activation: invalid argument");
  int v = sc_layer_value(ss, layer);
  const sc_tensor *t = sc_session_tensor(ss->s, v);
  if (!sc_session_is_kept(ss->s, v) || !ss->has_input)
    return sc_error(SEGCAM_E_ARG, "%s: activations of layer '%s' were not kept by this run",
                    ss->model->g.path, ss->model->g.nodes[ss->layer_node[layer]].name);
  *data = t->data;
  *ndim = t->shape.ndim;
  for (int i = 0; i < t->shape.ndim; i++) shape[i] = t->shape.d[i];
  return SEGCAM_OK;
}

segcam_status segcam_session_keep_layer(segcam_session *ss, size_t layer) {
  if (!ss || layer >= (size_t)ss->n_layers)
    return sc_error(SEGCAM_E_ARG, "segcam_session_keep_layer: invalid argument");
  int v = sc_layer_value(ss, layer);
  if (sc_session_is_kept(ss->s, v)) return SEGCAM_OK;
  SC_TRY(sc_session_keep(ss->s, &v, 1));
  return ss->has_input ? sc_rerun(ss) : SEGCAM_OK;
}

segcam_status segcam_session_gradient(segcam_session *ss, const float *seed, size_t n_seed,
                                      int use_logits, size_t layer, float *grad, size_t n_grad) {
  if (!ss || !seed || !grad || layer >= (size_t)ss->n_layers)
    return sc_error(SEGCAM_E_ARG, "segcam_session_gradient: invalid argument");
  if (!ss->has_input)
    return sc_error(SEGCAM_E_ARG, "%s: run the session before asking for a gradient",
                    ss->model->g.path);
  SC_TRY(segcam_session_keep_layer(ss, layer));
  int v = sc_layer_value(ss, layer);
  size_t no = (size_t)sc_shape_numel(&sc_session_tensor(ss->s, ss->out_value)->shape);
  size_t nl = (size_t)sc_shape_numel(&sc_session_tensor(ss->s, v)->shape);
  if (n_seed != no || n_grad != nl)
    return sc_error(SEGCAM_E_ARG, "segcam_session_gradient: sizes %zu/%zu, expected %zu/%zu",
                    n_seed, n_grad, no, nl);
  return sc_session_backward(ss->s, seed, 1, &v, &grad, use_logits);
}

size_t segcam_session_memory(const segcam_session *ss) { return ss ? sc_session_bytes(ss->s) : 0; }
