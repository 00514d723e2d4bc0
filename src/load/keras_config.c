/* Keras model config (JSON) -> internal graph, shared by the .h5 and .keras containers.
 *
 * Accepted configs (F§3): Sequential (a bare list of layers, or {"name", "layers"} with or
 * without an InputLayer, the input shape in the first layer's batch_input_shape otherwise);
 * Functional / Model with Keras 2 list-style inbound nodes ([name, node, tensor, kwargs]) or
 * Keras 3 dict-style ones ({"args", "kwargs"} holding __keras_tensor__ objects); flat or nested
 * input_layers/output_layers; shared layers (several calls, chosen by node index); nested
 * Functional/Sequential models, inlined with their layers named "outer/inner".
 *
 * Layout.  Internal 4-D tensors are NCHW.  A Keras tensor is tracked as a `kt` holding up to two
 * graph values: vk in Keras axis order, and vc, the NCHW transpose of a channels_last (NHWC)
 * 4-D tensor.  channels_last conv-family layers (and Dense on 4-D, as a 1x1 conv) read and write
 * vc, channels_first ones vk; layers that depend on element order (Flatten, Reshape, Permute,
 * Dense on rank 3, LayerNormalization) read vk; elementwise layers keep whichever exists.  The
 * missing form is made on demand by a hidden Transpose and cached, so a model input gets one
 * Transpose [0,3,1,2] and a 4-D output one [0,2,3,1]: the graph's inputs and outputs are in Keras
 * order (NHWC), as the user feeds and reads them.
 *
 * Naming.  One Keras layer may become several nodes; the last carries the layer's name and class
 * (node->name, node->type) and user_nhwc when its output is vc; helper nodes before it have no
 * name.  A layer that computes nothing (Dropout, linear Activation) becomes an Identity.  Calls
 * of a shared layer after the first are named "name:1", "name:2", ...; the output of a nested
 * model is an Identity named after it.
 *
 * Numerics follow TensorFlow (F§4): 'same' = SAME_UPPER, Conv2DTranspose as explicit pads (F§4.2),
 * AveragePooling excludes padding, tf.keras 2 fused BN epsilon >= 1.001e-5, resize semantics by
 * Keras version, activation definitions per version.
 *
 * 1-D layers (Conv1D, SeparableConv1D, DepthwiseConv1D, Conv1DTranspose, the 1-D poolings,
 * UpSampling1D, ZeroPadding1D, Cropping1D) share the 2-D layers' translators and run as 2-D ones on
 * an [N, C, 1, L] view.
 *
 * Not here: the containers (keras_h5.c, keras_zip.c); layers with Python code (Lambda), custom
 * classes, 3-D and the other 1-D layers (LocallyConnected1D, ...), recurrent and attention layers:
 * they are refused naming the layer. */
#define _POSIX_C_SOURCE 200809L

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "load/keras.h"
#include "ops/ops.h"

#define KMAX_IN 32 /* tensors in one layer call */
#define KMAX_OUT 8 /* outputs of a nested model */

/* One Keras tensor (see the file comment). */
typedef struct kt {
  int vk;   /* value in Keras axis order, or -1 */
  int vc;   /* NCHW value of a channels_last 4-D tensor, or -1 */
  int rank; /* Keras rank, batch included */
} kt;

typedef struct kmodel kmodel;

/* A layer entry of one (possibly nested) model. */
typedef struct klayer {
  const cJSON *j, *cfg;
  const char *cls, *name;
  char *full;         /* user-visible name: the model prefix + name */
  char key[128];      /* .keras weights key (F§2.2) */
  const cJSON *nodes; /* inbound_nodes (Functional only) */
  int n_calls, done;  /* calls listed in the config, calls translated */
  kt ***outs;         /* [call][tensor] */
  int *n_outs;
  int is_input, is_model;
  int wloaded; /* weights read and converted (shared by every call) */
  int wv[8];   /* converted weight values */
  kmodel *owner;
} klayer;

struct kmodel {
  kr_layer_ref *path; /* from the top-level model to this container (depth entries) */
  int depth;
  char *prefix; /* "" or "backbone/" */
  klayer *layers;
  int n;
};

/* One resolved layer call. */
typedef struct kcall {
  kt *in[KMAX_IN];             /* tensors of the first argument; NULL for a constant */
  const cJSON *konst[KMAX_IN]; /* the constant where in[i] is NULL (TFOpLambda) */
  int n_in;
  const cJSON *kwargs; /* call keyword arguments (may be NULL) */
  int list_style;      /* Keras 2 inbound node */
} kcall;

typedef struct kx {
  sc_graph *g;
  const kr_info *info;
  const kr_source *src;
  int k3;            /* Keras 3 semantics (activation definitions, config spellings) */
  int legacy_resize; /* bilinear resize without half-pixel centres (F§4.5) */
  int resize_guess;  /* keras_version does not settle the resize semantics */
  int channels_last; /* the models's data format (F§3.3) */
  kt **pool;         /* every kt, freed at the end */
  int n_pool, cap_pool;
  const klayer *cur; /* the layer being translated, for messages and node types */
  segcam_status err; /* the status of the last message set by a helper returning -1 */
  kmodel *curm;
} kx;

/* ---- messages ----------------------------------------------------------------------------- */

static segcam_status lerr(kx *x, segcam_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static segcam_status lerr(kx *x, segcam_status st, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  x->err = st;
  if (x->cur)
    return sc_error(st, "%s: layer '%s' (%s): %s", x->info->path, x->cur->full, x->cur->cls, msg);
  return sc_error(st, "%s: %s", x->info->path, msg);
}

/* ---- JSON helpers --------------------------------------------------------------------------- */

static const cJSON *jget(const cJSON *o, const char *k) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *jstr(const cJSON *o, const char *k, const char *def) {
  const cJSON *v = jget(o, k);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

static double jnum(const cJSON *o, const char *k, double def) {
  const cJSON *v = jget(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/* An integer field.  JSON numbers are doubles and (int) of one outside int's range is undefined
 * behaviour (C11 6.3.1.4), so values beyond +-1e9, which no valid config holds, are clamped there
 * and the caller's own checks reject them. */
static int jint(const cJSON *o, const char *k, int def) {
  double v = jnum(o, k, def);
  if (v != v) return def;
  return v > 1e9 ? 1000000000 : v < -1e9 ? -1000000000 : (int)v;
}

static int jbool(const cJSON *o, const char *k, int def) {
  const cJSON *v = jget(o, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static int is_int(const cJSON *v) {
  return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 1e9;
}

/* An int, or a list of ints whose length must be `n` (e.g. kernel_size 3 or [3, 3]). */
static segcam_status jints(kx *x, const cJSON *o, const char *k, int n, const int *def, int *out) {
  const cJSON *v = jget(o, k);
  if (!v || cJSON_IsNull(v)) {
    if (!def) return lerr(x, SEGCAM_E_FORMAT, "config has no '%s'", k);
    memcpy(out, def, (size_t)n * sizeof *out);
    return SEGCAM_OK;
  }
  if (is_int(v)) {
    for (int i = 0; i < n; i++) out[i] = (int)v->valuedouble;
    return SEGCAM_OK;
  }
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == n) {
    for (int i = 0; i < n; i++) {
      const cJSON *e = cJSON_GetArrayItem(v, i);
      if (!is_int(e)) return lerr(x, SEGCAM_E_FORMAT, "'%s' must hold integers", k);
      out[i] = (int)e->valuedouble;
    }
    return SEGCAM_OK;
  }
  return lerr(x, SEGCAM_E_FORMAT, "'%s' must be an integer or a list of %d integers", k, n);
}

/* A 2-D padding/cropping spec: int, [a, b] (symmetric per axis) or [[t, b], [l, r]] (F§4.7);
 * out = {top, bottom, left, right}. */
static segcam_status jpairs(kx *x, const cJSON *o, const char *k, const int *def, int *out) {
  const cJSON *v = jget(o, k);
  if (!v || cJSON_IsNull(v)) {
    memcpy(out, def, 4 * sizeof *out);
    return SEGCAM_OK;
  }
  if (is_int(v)) {
    for (int i = 0; i < 4; i++) out[i] = (int)v->valuedouble;
    return SEGCAM_OK;
  }
  if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 2) {
    for (int a = 0; a < 2; a++) {
      const cJSON *e = cJSON_GetArrayItem(v, a);
      if (is_int(e)) {
        out[2 * a] = out[2 * a + 1] = (int)e->valuedouble;
      } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                 is_int(cJSON_GetArrayItem(e, 0)) && is_int(cJSON_GetArrayItem(e, 1))) {
        out[2 * a] = (int)cJSON_GetArrayItem(e, 0)->valuedouble;
        out[2 * a + 1] = (int)cJSON_GetArrayItem(e, 1)->valuedouble;
      } else {
        return lerr(x, SEGCAM_E_FORMAT, "'%s' is not a valid 2-D spec", k);
      }
    }
    for (int i = 0; i < 4; i++)
      if (out[i] < 0 || out[i] > (1 << 20))
        return lerr(x, SEGCAM_E_FORMAT, "'%s' holds an invalid value %d", k, out[i]);
    return SEGCAM_OK;
  }
  return lerr(x, SEGCAM_E_FORMAT, "'%s' is not a valid 2-D spec", k);
}

static int streq(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* Python's json writes NaN/Infinity/-Infinity, which are not JSON; they become null (a config
 * number that is not finite means "none" wherever Keras accepts one, e.g. ReLU max_value). */
static char *json_sanitize(const char *s) {
  size_t n = strlen(s);
  char *o = sc_malloc(n + n / 2 + 8);
  if (!o) return NULL;
  size_t k = 0;
  int in_str = 0;
  for (size_t i = 0; i < n;) {
    char ch = s[i];
    if (in_str) {
      o[k++] = s[i++];
      if (ch == '\\' && i < n)
        o[k++] = s[i++];
      else if (ch == '"')
        in_str = 0;
      continue;
    }
    if (ch == '"') in_str = 1;
    size_t skip = strncmp(s + i, "-Infinity", 9) == 0  ? 9
                  : strncmp(s + i, "Infinity", 8) == 0 ? 8
                  : strncmp(s + i, "NaN", 3) == 0      ? 3
                                                       : 0;
    if (skip) {
      memcpy(o + k, "null", 4);
      k += 4;
      i += skip;
    } else {
      o[k++] = s[i++];
    }
  }
  o[k] = '\0';
  return o;
}

/* ---- graph helpers ------------------------------------------------------------------------- */

static kt *kt_new(kx *x, int vk, int vc, int rank) {
  if (x->n_pool == x->cap_pool) {
    int cap = x->cap_pool ? 2 * x->cap_pool : 256;
    kt **p = sc_realloc_n(x->pool, (size_t)cap, sizeof *p);
    if (!p) return NULL;
    x->pool = p;
    x->cap_pool = cap;
  }
  kt *t = sc_malloc(sizeof *t);
  if (!t) return NULL;
  t->vk = vk;
  t->vc = vc;
  t->rank = rank;
  x->pool[x->n_pool++] = t;
  return t;
}

/* Adds a node of `op` with one new output value; `type` NULL = the current layer's class. */
static int emit_t(kx *x, const char *type, int op, const int *in, int n_in, void *params) {
  int v = sc_graph_add_value(x->g, NULL, SC_F32, NULL);
  if (v < 0) {
    free(params);
    return -1;
  }
  if (!type) type = x->cur ? x->cur->cls : "Keras";
  if (sc_graph_add_node(x->g, NULL, type, op, in, n_in, &v, 1, params) < 0) {
    x->err = n_in > SC_MAX_IO ? SEGCAM_E_UNSUPPORTED : SEGCAM_E_NOMEM;
    return -1;
  }
  return v;
}

static int emit(kx *x, int op, const int *in, int n_in, void *params) {
  return emit_t(x, NULL, op, in, n_in, params);
}

#define NEWP(T) ((T *)sc_calloc_n(1, sizeof(T)))

/* A float32 constant named "<layer>/<suffix>"; takes ownership of data. */
static int cst(kx *x, const char *suffix, float *data, int ndim, const int64_t *dims) {
  sc_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = ndim;
  for (int i = 0; i < ndim; i++) s.d[i] = dims[i];
  char name[512];
  snprintf(name, sizeof name, "%s/%s", x->cur ? x->cur->full : "keras", suffix);
  return sc_graph_add_const(x->g, name, SC_F32, &s, data);
}

static int emit_transpose(kx *x, const char *type, int v, const int *perm, int n) {
  sc_transpose_params *p = NEWP(sc_transpose_params);
  if (!p) return -1;
  p->n_perm = n;
  memcpy(p->perm, perm, (size_t)n * sizeof *perm);
  return emit_t(x, type, SC_OP_TRANSPOSE, &v, 1, p);
}

/* The NCHW form of a 4-D channels_last tensor (made once). */
static int kt_nchw(kx *x, kt *t) {
  static const int to_nchw[4] = {0, 3, 1, 2};
  if (t->vc >= 0) return t->vc;
  if (t->rank != 4 || t->vk < 0) {
    lerr(x, SEGCAM_E_UNSUPPORTED, "needs a 4-D input, got rank %d", t->rank);
    return -1;
  }
  t->vc = emit_transpose(x, "Transpose", t->vk, to_nchw, 4);
  return t->vc;
}

/* The Keras-order form (made once). */
static int kt_keras(kx *x, kt *t) {
  static const int to_nhwc[4] = {0, 2, 3, 1};
  if (t->vk >= 0) return t->vk;
  if (t->vc < 0) {
    lerr(x, SEGCAM_E_INTERNAL, "a tensor without a value");
    return -1;
  }
  t->vk = emit_transpose(x, "Transpose", t->vc, to_nhwc, 4);
  return t->vk;
}

/* Keras axis (may be negative) -> internal axis of the vc (nchw) or vk form; -1 if invalid. */
static int map_axis(int rank, int kaxis, int nchw) {
  static const int nhwc_to_nchw[4] = {0, 2, 3, 1};
  int a = kaxis < 0 ? kaxis + rank : kaxis;
  if (a < 0 || a >= rank) return -1;
  return nchw && rank == 4 ? nhwc_to_nchw[a] : a;
}

/* The form elementwise work uses for a set of tensors: NCHW when any of them (4-D) has it. */
static int pick_nchw(kt *const *t, int n) {
  for (int i = 0; i < n; i++)
    if (t[i] && t[i]->rank == 4 && t[i]->vc >= 0) return 1;
  return 0;
}

static int kt_form(kx *x, kt *t, int nchw) {
  return nchw ? kt_nchw(x, t) : kt_keras(x, t);
}

static void set_out(kt *out, int v, int nchw, int rank) {
  out->vk = nchw ? -1 : v;
  out->vc = nchw ? v : -1;
  out->rank = rank;
}

/* The layer's data_format: 1 = channels_last. */
static segcam_status data_format(kx *x, const cJSON *cfg, int *cl) {
  const char *df = jstr(cfg, "data_format", NULL);
  if (!df)
    *cl = x->channels_last;
  else if (streq(df, "channels_last"))
    *cl = 1;
  else if (streq(df, "channels_first"))
    *cl = 0;
  else
    return lerr(x, SEGCAM_E_FORMAT, "unknown data_format '%s'", df);
  return SEGCAM_OK;
}

/* The 4-D spatial input of a conv-family layer in the layout the layer computes in: NCHW, i.e.
 * vc for channels_last and the Keras-order tensor itself for channels_first. */
static int spatial_in(kx *x, kt *t, int cl) {
  if (t->rank != 4) {
    lerr(x, SEGCAM_E_UNSUPPORTED,
         "only 2-D layers (4-D tensors) are supported; the input has "
         "rank %d",
         t->rank);
    return -1;
  }
  return cl ? kt_nchw(x, t) : kt_keras(x, t);
}

static segcam_status padding_mode(kx *x, const cJSON *cfg, sc_autopad *ap) {
  const char *p = jstr(cfg, "padding", "valid");
  char low[16];
  size_t i = 0;
  for (; p[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)p[i]);
  low[i] = '\0';
  /* 'same' is TF's split with the odd pixel at the end (F§4.1) */
  if (streq(low, "same"))
    *ap = SC_PAD_SAME_UPPER;
  else if (streq(low, "valid"))
    *ap = SC_PAD_VALID;
  else
    return lerr(x, SEGCAM_E_UNSUPPORTED, "padding '%s' is not supported here", p);
  return SEGCAM_OK;
}

/* ---- weights ------------------------------------------------------------------------------ */

/* Reads the layer's weights and binds them to roles ("kernel", "bias", ...; "a|b" accepts either
 * spelling): by the variable name where the file has one (F§1.3 recommends it: the file order
 * puts trainable weights first), then by position.  Roles with want[i] = 0 are absent (e.g. the
 * bias of use_bias=False); out[i] = NULL for them. */
static segcam_status get_weights(kx *x, klayer *L, const char *const *roles, const int *want,
                                 int n_roles, kr_weights *ws, kr_weight **out) {
  kr_layer_ref path[64];
  kmodel *m = L->owner;
  if (m->depth + 1 > 64) return lerr(x, SEGCAM_E_UNSUPPORTED, "models nested too deeply");
  memcpy(path, m->path, (size_t)m->depth * sizeof *path);
  path[m->depth] = (kr_layer_ref){L->name, L->cls, L->key};
  SC_TRY(x->src->load(x->src->ctx, path, m->depth + 1, ws));
  int n_want = 0;
  char list[256] = "";
  for (int r = 0; r < n_roles; r++) {
    out[r] = NULL;
    if (!want[r]) continue;
    n_want++;
    size_t l = strlen(list);
    snprintf(list + l, sizeof list - l, "%s%s", l ? ", " : "", roles[r]);
  }
  if (ws->n != n_want) {
    segcam_status st = lerr(x, SEGCAM_E_FORMAT,
                            "the file holds %d weight tensors for it, the "
                            "config implies %d (%s)",
                            ws->n, n_want, list);
    kr_weights_free(ws);
    return st;
  }
  int used[64] = {0};
  for (int i = 0; i < ws->n && i < 64; i++) {
    if (!ws->w[i].name) continue;
    char base[256];
    const char *slash = strrchr(ws->w[i].name, '/');
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : ws->w[i].name);
    char *colon = strrchr(base, ':');
    if (colon) *colon = '\0';
    for (int r = 0; r < n_roles; r++) {
      if (!want[r] || out[r]) continue;
      const char *p = roles[r];
      while (*p) {
        size_t len = strcspn(p, "|");
        if (strlen(base) == len && strncmp(base, p, len) == 0) break;
        p += len + (p[len] == '|');
      }
      if (*p) {
        out[r] = &ws->w[i];
        used[i] = 1;
        break;
      }
    }
  }
  for (int r = 0, i = 0; r < n_roles; r++) {
    if (!want[r] || out[r]) continue;
    while (i < ws->n && used[i]) i++;
    if (i >= ws->n) break;
    out[r] = &ws->w[i];
    used[i++] = 1;
  }
  return SEGCAM_OK;
}

/* Checks a weight's shape; -1 in `dims` accepts any size. */
static segcam_status check_w(kx *x, const kr_weight *w, const char *role, int ndim,
                             const int64_t *dims) {
  int ok = w->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = dims[i] < 0 || w->dims[i] == dims[i];
  for (int i = 0; ok && i < ndim; i++) ok = w->dims[i] > 0;
  if (ok) return SEGCAM_OK;
  char got[128], exp[128];
  sc_shape a, b;
  a.ndim = w->ndim;
  b.ndim = ndim;
  for (int i = 0; i < w->ndim; i++) a.d[i] = w->dims[i];
  for (int i = 0; i < ndim; i++) b.d[i] = dims[i];
  return lerr(x, SEGCAM_E_FORMAT, "weight '%s' has shape %s, expected %s (-1 = any)", role,
              sc_shape_str(&a, got, sizeof got), sc_shape_str(&b, exp, sizeof exp));
}

static int64_t numel_w(const kr_weight *w) {
  int64_t n = 1;
  for (int i = 0; i < w->ndim; i++) n *= w->dims[i];
  return n;
}

/* Moves a weight's data into a constant with the given shape. */
static int take_const(kx *x, const char *suffix, kr_weight *w, int ndim, const int64_t *dims) {
  float *d = w->data;
  w->data = NULL;
  return cst(x, suffix, d, ndim, dims);
}

/* A 1-D constant of n copies of `v` (absent BN gamma/beta). */
static int fill_const(kx *x, const char *suffix, int64_t n, float v) {
  float *d = sc_calloc_n((size_t)n, sizeof *d);
  if (!d) return -1;
  for (int64_t i = 0; i < n; i++) d[i] = v;
  return cst(x, suffix, d, 1, &n);
}

/* ---- activations (F§4.6) ----------------------------------------------------------------------
 */

enum { ACT_NONE = 0, ACT_ELEMENTWISE, ACT_SOFTMAX, ACT_MISH };

typedef struct actspec {
  int kind;
  sc_act_params p;
  int axis; /* softmax: Keras axis */
} actspec;

static segcam_status parse_act_name(kx *x, const char *a, actspec *s) {
  memset(s, 0, sizeof *s);
  s->p.hi = INFINITY;
  s->kind = ACT_ELEMENTWISE;
  if (!a || !*a || streq(a, "linear"))
    s->kind = ACT_NONE;
  else if (streq(a, "relu"))
    s->p.kind = SC_ACT_RELU;
  else if (streq(a, "sigmoid"))
    s->p.kind = SC_ACT_SIGMOID;
  else if (streq(a, "tanh"))
    s->p.kind = SC_ACT_TANH;
  else if (streq(a, "softmax"))
    s->kind = ACT_SOFTMAX, s->axis = -1;
  else if (streq(a, "elu"))
    s->p.kind = SC_ACT_ELU, s->p.alpha = 1.0f;
  else if (streq(a, "selu")) {
    s->p.kind = SC_ACT_SELU;
    s->p.alpha = 1.67326324235437728481f;
    s->p.beta = 1.05070098735548049342f;
  } else if (streq(a, "softplus"))
    s->p.kind = SC_ACT_SOFTPLUS;
  else if (streq(a, "softsign"))
    s->p.kind = SC_ACT_SOFTSIGN;
  else if (streq(a, "exponential"))
    s->p.kind = SC_ACT_EXP;
  else if (streq(a, "hard_sigmoid")) {
    /* Keras 2: clip(0.2x + 0.5); Keras 3: relu6(x + 3) / 6 */
    s->p.kind = SC_ACT_HARD_SIGMOID;
    s->p.alpha = x->k3 ? 1.0f / 6.0f : 0.2f;
    s->p.beta = 0.5f;
  } else if (streq(a, "swish") || streq(a, "silu"))
    s->p.kind = SC_ACT_SWISH;
  else if (streq(a, "gelu"))
    s->p.kind = SC_ACT_GELU; /* activations.gelu: approximate=False */
  else if (streq(a, "relu6"))
    s->p.kind = SC_ACT_RELU_TF, s->p.hi = 6.0f;
  else if (streq(a, "leaky_relu"))
    s->p.kind = SC_ACT_LEAKY_RELU, s->p.alpha = 0.2f;
  else if (streq(a, "hard_swish") || streq(a, "hard_silu"))
    s->p.kind = SC_ACT_HARD_SWISH;
  else if (streq(a, "mish"))
    s->kind = ACT_MISH;
  else
    return lerr(x, SEGCAM_E_UNSUPPORTED,
                "activation '%s' is not supported (a custom function, or a built-in segcam "
                "lacks); re-save the model with a supported activation or export it to ONNX",
                a);
  return SEGCAM_OK;
}

/* An activation as configs store it: a string, null, or a serialized function object. */
static segcam_status parse_act(kx *x, const cJSON *a, actspec *s) {
  if (!a || cJSON_IsNull(a)) return parse_act_name(x, NULL, s);
  if (cJSON_IsString(a)) return parse_act_name(x, a->valuestring, s);
  if (cJSON_IsObject(a)) {
    const char *n = jstr(a, "config", NULL);
    if (!n) n = jstr(a, "class_name", NULL);
    if (n && !streq(n, "function")) return parse_act_name(x, n, s);
  }
  return lerr(x, SEGCAM_E_UNSUPPORTED,
              "the activation is not a built-in Keras activation (a custom function); re-save "
              "the model with a built-in activation or export it to ONNX");
}

static int emit_act(kx *x, int v, const sc_act_params *ap) {
  sc_act_params *p = NEWP(sc_act_params);
  if (!p) return -1;
  *p = *ap;
  return emit(x, SC_OP_ACT, &v, 1, p);
}

static int emit_binary(kx *x, sc_binary_kind k, int a, int b) {
  sc_binary_params *p = NEWP(sc_binary_params);
  if (!p) return -1;
  p->kind = k;
  int in[2] = {a, b};
  return emit(x, SC_OP_BINARY, in, 2, p);
}

static int emit_softmax(kx *x, int v, int axis) {
  sc_softmax_params *p = NEWP(sc_softmax_params);
  if (!p) return -1;
  p->axis = axis;
  return emit(x, SC_OP_SOFTMAX, &v, 1, p);
}

/* Applies `s` to value v (a tensor of Keras rank `rank` in the nchw or Keras form). */
static int apply_act(kx *x, const actspec *s, int v, int rank, int nchw) {
  if (v < 0) return -1;
  switch (s->kind) {
  case ACT_NONE: return v;
  case ACT_ELEMENTWISE: return emit_act(x, v, &s->p);
  case ACT_SOFTMAX: {
    int a = map_axis(rank, s->axis, nchw);
    if (a < 0) {
      lerr(x, SEGCAM_E_SHAPE, "softmax axis %d is invalid for rank %d", s->axis, rank);
      return -1;
    }
    return emit_softmax(x, v, a);
  }
  case ACT_MISH: {
    /* x * tanh(softplus(x)) */
    sc_act_params sp = {.kind = SC_ACT_SOFTPLUS}, th = {.kind = SC_ACT_TANH};
    int t = emit_act(x, v, &sp);
    if (t >= 0) t = emit_act(x, t, &th);
    return t < 0 ? -1 : emit_binary(x, SC_BIN_MUL, v, t);
  }
  }
  return -1;
}

/* ---- layer translators ---------------------------------------------------------------------- */

typedef segcam_status (*handler_fn)(kx *x, klayer *L, kcall *c, kt *out);

/* Graph helpers return -1 after setting the message (and x->err); NOMEM when nothing else. */
static segcam_status xfail(const kx *x) {
  return x->err != SEGCAM_OK ? x->err : SEGCAM_E_NOMEM;
}

#define TRYV(v)                                                                                    \
  do {                                                                                             \
    if ((v) < 0) return xfail(x);                                                                  \
  } while (0)

static segcam_status need_inputs(kx *x, kcall *c, int lo, int hi) {
  if (c->n_in < lo || c->n_in > hi)
    return lerr(x, SEGCAM_E_FORMAT, "called with %d input tensors (expected %d..%d)", c->n_in, lo,
                hi);
  for (int i = 0; i < c->n_in; i++)
    if (!c->in[i])
      return lerr(x, SEGCAM_E_UNSUPPORTED, "a constant input is supported only for TF ops");
  return SEGCAM_OK;
}

static segcam_status h_identity(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  SC_TRY(need_inputs(x, c, 1, 1));
  *out = *c->in[0];
  if (out->vc >= 0) out->vk = -1;
  return SEGCAM_OK;
}

/* ---- spatial layers, 1-D and 2-D ----------------------------------------------------------------
 * One translator per layer kind serves the 1-D and the 2-D Keras layer (Conv1D and Conv2D,
 * MaxPooling1D and MaxPooling2D, ...; the class name tells which).  A 1-D layer runs as the 2-D one
 * on an [N, C, 1, L] view of its Keras tensor ([N, L, C] channels_last, [N, C, L] channels_first):
 * a Transpose (channels_last only) and a Reshape before, a Reshape and a Transpose back after.
 * These helper nodes have no name; the layer's last node is named after it.  The height of the
 * view is 1 and gets a kernel, stride and dilation of 1 and no padding, which makes every 2-D rule
 * (TF's 'same' split with the odd pixel at the end, the pooling divisor that excludes padding,
 * TF's transposed-convolution output size) the 1-D one along the steps. */

/* 1 for a 1-D layer class (Conv1D, MaxPooling1D, ...), else 2. */
static int spatial_rank(const klayer *L) {
  return strstr(L->cls, "1D") ? 1 : 2;
}

static int emit_reshape(kx *x, int v, const int64_t *shape, int n) {
  sc_reshape_params *p = NEWP(sc_reshape_params);
  if (!p) return -1;
  p->kind = SC_RESHAPE_SHAPE;
  p->n_shape = n;
  memcpy(p->shape, shape, (size_t)n * sizeof *shape);
  return emit(x, SC_OP_RESHAPE, &v, 1, p);
}

/* The [N, C, 1, L] view of a rank-3 Keras tensor. */
static int view1d_in(kx *x, kt *t, int cl) {
  static const int swap[3] = {0, 2, 1};
  static const int64_t to4[4] = {0, 0, 1, -1}; /* Reshape: 0 copies the dimension */
  if (!x->g->windows_1d) x->g->windows_1d = cl ? 2 : 1;
  if (t->rank != 3) {
    lerr(x, SEGCAM_E_UNSUPPORTED,
         "a 1-D layer needs a 3-D input (batch, steps, channels), got rank %d", t->rank);
    return -1;
  }
  int v = kt_keras(x, t);
  if (v >= 0 && cl) v = emit_transpose(x, NULL, v, swap, 3);
  return v < 0 ? -1 : emit_reshape(x, v, to4, 4);
}

/* [N, C, 1, L] back to the Keras rank-3 form. */
static int view1d_out(kx *x, int v, int cl) {
  static const int swap[3] = {0, 2, 1};
  static const int64_t to3[3] = {0, 0, -1};
  if (v >= 0) v = emit_reshape(x, v, to3, 3);
  if (v >= 0 && cl) v = emit_transpose(x, NULL, v, swap, 3);
  return v;
}

/* The data_format of an nd-D layer: a 1-D layer without one is channels_last whatever the model's
 * format (Keras's 1-D layers default to channels_last, and ZeroPadding1D/Cropping1D of Keras 2 have
 * no data_format at all). */
static segcam_status sp_format(kx *x, const cJSON *cfg, int nd, int *cl) {
  if (nd == 1 && !jstr(cfg, "data_format", NULL)) {
    *cl = 1;
    return SEGCAM_OK;
  }
  return data_format(x, cfg, cl);
}

/* The NCHW input of an nd-D layer: the 1-D view, or the 4-D tensor in the layout the layer
 * computes in. */
static int sp_in(kx *x, kt *t, int nd, int cl) {
  return nd == 1 ? view1d_in(x, t, cl) : spatial_in(x, t, cl);
}

/* Finishes an nd-D layer whose NCHW result is v: back to the Keras rank-3 form for 1-D, then the
 * activation (NULL: none) in the form the output is kept in -- the NCHW form of a channels_last
 * 2-D layer, else the Keras form (a softmax activation is over the last Keras axis: the channels,
 * or W for channels_first). */
static segcam_status sp_out(kx *x, int v, int nd, int cl, const actspec *act, kt *out) {
  if (nd == 1) v = view1d_out(x, v, cl);
  if (act && v >= 0) v = apply_act(x, act, v, nd + 2, nd == 2 && cl);
  TRYV(v);
  set_out(out, v, nd == 2 && cl, nd + 2);
  return SEGCAM_OK;
}

/* A per-axis integer spec of an nd-D layer (kernel_size, strides, ...) as the {height, width} of
 * the 2-D computation: a 1-D layer's value goes on the width, the height gets `h`.  `def` holds
 * the 2-D defaults (a 1-D layer uses def[1]); NULL makes the key required. */
static segcam_status sp_ints(kx *x, const cJSON *cfg, const char *k, int nd, const int *def, int h,
                             int *out) {
  if (nd == 2) return jints(x, cfg, k, 2, def, out);
  out[0] = h;
  return jints(x, cfg, k, 1, def ? def + 1 : NULL, out + 1);
}

/* The Keras shape of an nd-D kernel: kernel_size {h, w} (w only for 1-D) followed by a, b. */
static int kernel_dims(int nd, const int *ks, int64_t a, int64_t b, int64_t *d) {
  int n = 0;
  for (int i = 2 - nd; i < 2; i++) d[n++] = ks[i];
  d[n++] = a;
  d[n++] = b;
  return n;
}

/* padding: 'same'/'valid', and where causal_ok (Conv1D, SeparableConv1D) 'causal' (*causal = 1,
 * computed as explicit padding of (k-1)*dilation zeros before the first step and a 'valid'
 * convolution, as Keras's _compute_causal_padding does). */
static segcam_status sp_padding(kx *x, const cJSON *cfg, int causal_ok, sc_autopad *ap,
                                int *causal) {
  *causal = causal_ok && streq(jstr(cfg, "padding", "valid"), "causal");
  if (*causal) {
    *ap = SC_PAD_EXPLICIT;
    return SEGCAM_OK;
  }
  return padding_mode(x, cfg, ap);
}

/* Fills the geometry of a convolution on the NCHW (or 1-D view) input. */
static void conv_geometry(sc_conv_params *p, const int *ks, const int *st, const int *dil,
                          sc_autopad ap, int causal) {
  for (int a = 0; a < 2; a++) {
    p->kernel[a] = ks[a];
    p->stride[a] = st[a];
    p->dilation[a] = dil[a];
  }
  p->auto_pad = ap;
  if (causal) p->pads[1] = (ks[1] - 1) * dil[1]; /* w_begin */
}

/* The settings shared by the convolution layers (Conv, DepthwiseConv, SeparableConv and
 * ConvTranspose, 1-D and 2-D); allow_causal: the 1-D layer accepts padding 'causal'. */
typedef struct convcfg {
  int nd, cl, ks[2], st[2], dil[2], causal, use_bias;
  sc_autopad ap;
  actspec act;
} convcfg;

static segcam_status conv_config(kx *x, const klayer *L, int allow_causal, convcfg *k) {
  static const int one2[2] = {1, 1};
  const cJSON *cfg = L->cfg;
  k->nd = spatial_rank(L);
  k->use_bias = jbool(cfg, "use_bias", 1);
  SC_TRY(sp_ints(x, cfg, "kernel_size", k->nd, NULL, 1, k->ks));
  SC_TRY(sp_ints(x, cfg, "strides", k->nd, one2, 1, k->st));
  SC_TRY(sp_ints(x, cfg, "dilation_rate", k->nd, one2, 1, k->dil));
  SC_TRY(sp_format(x, cfg, k->nd, &k->cl));
  SC_TRY(sp_padding(x, cfg, allow_causal && k->nd == 1, &k->ap, &k->causal));
  SC_TRY(parse_act(x, jget(cfg, "activation"), &k->act));
  for (int a = 0; a < 2; a++)
    if (k->ks[a] < 1 || k->st[a] < 1 || k->dil[a] < 1)
      return lerr(x, SEGCAM_E_FORMAT, "invalid kernel_size/strides/dilation_rate");
  return SEGCAM_OK;
}

/* A Keras kernel (R, S, A, B) -- a convolution's (R, S, C/G, F), a transposed convolution's
 * (R, S, F, C), a 1x1 kernel or a Dense matrix with R = S = 1 -- as the constant (B, A, R, S) the
 * NCHW ops take (F§1.3).  Returns the constant, or -1. */
static int kernel_const(kx *x, const char *suffix, const float *w, int64_t R, int64_t S, int64_t A,
                        int64_t B) {
  float *o = sc_calloc_n((size_t)(R * S * A * B), sizeof *o);
  if (!o) return -1;
  for (int64_t rs = 0; rs < R * S; rs++)
    for (int64_t a = 0; a < A; a++)
      for (int64_t b = 0; b < B; b++) o[(b * A + a) * R * S + rs] = w[(rs * A + a) * B + b];
  const int64_t od[4] = {B, A, R, S};
  return cst(x, suffix, o, 4, od);
}

/* Conv1D/Conv2D (F§1.3 kernel (R, S, C/G, F) -> (F, C/G, R, S), R = 1 for 1-D; F§4.1). */
static segcam_status h_conv(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *cfg = L->cfg;
  convcfg k;
  SC_TRY(conv_config(x, L, 1, &k));
  int filters = jint(cfg, "filters", -1), groups = jint(cfg, "groups", 1), nd = k.nd;
  if (filters < 1 || groups < 1 || filters % groups)
    return lerr(x, SEGCAM_E_FORMAT, "invalid filters/groups");
  if (!L->wloaded) {
    static const char *const roles[2] = {"kernel", "bias"};
    int want[2] = {1, k.use_bias};
    kr_weights ws;
    kr_weight *w[2];
    SC_TRY(get_weights(x, L, roles, want, 2, &ws, w));
    int64_t kd[4];
    const int64_t bd[1] = {filters};
    segcam_status s = check_w(x, w[0], "kernel", kernel_dims(nd, k.ks, -1, filters, kd), kd);
    if (s == SEGCAM_OK && w[1]) s = check_w(x, w[1], "bias", 1, bd);
    if (s == SEGCAM_OK) {
      L->wv[0] = kernel_const(x, "kernel", w[0]->data, k.ks[0], k.ks[1], w[0]->dims[nd], filters);
      L->wv[1] = w[1] ? take_const(x, "bias", w[1], 1, bd) : -1;
      if (L->wv[0] < 0 || (w[1] && L->wv[1] < 0)) s = xfail(x);
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  int xin = sp_in(x, c->in[0], nd, k.cl);
  TRYV(xin);
  sc_conv_params *p = NEWP(sc_conv_params);
  if (!p) return SEGCAM_E_NOMEM;
  conv_geometry(p, k.ks, k.st, k.dil, k.ap, k.causal);
  p->group = groups;
  int in[3] = {xin, L->wv[0], L->wv[1]};
  int v = emit(x, SC_OP_CONV, in, k.use_bias ? 3 : 2, p);
  return sp_out(x, v, nd, k.cl, &k.act, out);
}

/* The depthwise kernel (R, S, C, M) as a Conv group=C weight W[c*M + m, 0] (F§1.3); R = 1 for
 * 1-D.  Returns the constant, or -1. */
static int depthwise_const(kx *x, const char *suffix, const kr_weight *w, const int *ks, int64_t C,
                           int64_t M) {
  int64_t R = ks[0], S = ks[1];
  float *o = sc_calloc_n((size_t)(R * S * C * M), sizeof *o);
  if (!o) return -1;
  for (int64_t r = 0; r < R; r++)
    for (int64_t q = 0; q < S; q++)
      for (int64_t ci = 0; ci < C; ci++)
        for (int64_t m = 0; m < M; m++)
          o[((ci * M + m) * R + r) * S + q] = w->data[((r * S + q) * C + ci) * M + m];
  const int64_t od[4] = {C * M, 1, R, S};
  return cst(x, suffix, o, 4, od);
}

/* DepthwiseConv1D/2D: a Conv with group = C (F§1.3).  Keras refuses 'causal' for
 * DepthwiseConv1D (tf.keras and Keras 3), and so does this. */
static segcam_status h_dwconv(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  convcfg k;
  SC_TRY(conv_config(x, L, 0, &k));
  int dm = jint(L->cfg, "depth_multiplier", 1), nd = k.nd;
  if (dm < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid depth_multiplier");
  if (!L->wloaded) {
    /* Keras 2 names the kernel depthwise_kernel, Keras 3 kernel */
    static const char *const roles[2] = {"depthwise_kernel|kernel", "bias"};
    int want[2] = {1, k.use_bias};
    kr_weights ws;
    kr_weight *w[2];
    SC_TRY(get_weights(x, L, roles, want, 2, &ws, w));
    int64_t kd[4];
    segcam_status s = check_w(x, w[0], "depthwise_kernel", kernel_dims(nd, k.ks, -1, dm, kd), kd);
    int64_t C = w[0]->ndim == nd + 2 ? w[0]->dims[nd] : 0, bd[1] = {C * dm};
    if (s == SEGCAM_OK && w[1]) s = check_w(x, w[1], "bias", 1, bd);
    if (s == SEGCAM_OK) {
      L->wv[0] = depthwise_const(x, "kernel", w[0], k.ks, C, dm);
      L->wv[1] = w[1] ? take_const(x, "bias", w[1], 1, bd) : -1;
      L->wv[2] = (int)C;
      if (L->wv[0] < 0 || (w[1] && L->wv[1] < 0)) s = xfail(x);
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  int xin = sp_in(x, c->in[0], nd, k.cl);
  TRYV(xin);
  sc_conv_params *p = NEWP(sc_conv_params);
  if (!p) return SEGCAM_E_NOMEM;
  conv_geometry(p, k.ks, k.st, k.dil, k.ap, k.causal);
  p->group = L->wv[2];
  int in[3] = {xin, L->wv[0], L->wv[1]};
  int v = emit(x, SC_OP_CONV, in, k.use_bias ? 3 : 2, p);
  return sp_out(x, v, nd, k.cl, &k.act, out);
}

/* SeparableConv1D/2D = depthwise conv (no bias) + 1x1 pointwise conv with the bias (F§4.1). */
static segcam_status h_sepconv(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  static const int one2[2] = {1, 1};
  convcfg k;
  SC_TRY(conv_config(x, L, 1, &k));
  int dm = jint(L->cfg, "depth_multiplier", 1), filters = jint(L->cfg, "filters", -1), nd = k.nd;
  if (dm < 1 || filters < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid depth_multiplier/filters");
  if (!L->wloaded) {
    static const char *const roles[3] = {"depthwise_kernel", "pointwise_kernel", "bias"};
    int want[3] = {1, 1, k.use_bias};
    kr_weights ws;
    kr_weight *w[3];
    SC_TRY(get_weights(x, L, roles, want, 3, &ws, w));
    int64_t kd[4], pd[4];
    segcam_status s = check_w(x, w[0], "depthwise_kernel", kernel_dims(nd, k.ks, -1, dm, kd), kd);
    int64_t C = w[0]->ndim == nd + 2 ? w[0]->dims[nd] : 0, F = filters, CM = C * dm;
    const int64_t bd[1] = {F};
    if (s == SEGCAM_OK)
      s = check_w(x, w[1], "pointwise_kernel", kernel_dims(nd, one2, CM, F, pd), pd);
    if (s == SEGCAM_OK && w[2]) s = check_w(x, w[2], "bias", 1, bd);
    if (s == SEGCAM_OK) {
      L->wv[0] = depthwise_const(x, "depthwise_kernel", w[0], k.ks, C, dm);
      L->wv[1] = kernel_const(x, "pointwise_kernel", w[1]->data, 1, 1, CM, F);
      L->wv[2] = w[2] ? take_const(x, "bias", w[2], 1, bd) : -1;
      L->wv[3] = (int)C;
      if (L->wv[0] < 0 || L->wv[1] < 0 || (w[2] && L->wv[2] < 0)) s = xfail(x);
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  int xin = sp_in(x, c->in[0], nd, k.cl);
  TRYV(xin);
  sc_conv_params *p = NEWP(sc_conv_params);
  sc_conv_params *p2 = NEWP(sc_conv_params);
  if (!p || !p2) {
    free(p);
    free(p2);
    return SEGCAM_E_NOMEM;
  }
  conv_geometry(p, k.ks, k.st, k.dil, k.ap, k.causal);
  p->group = L->wv[3];
  conv_geometry(p2, one2, one2, one2, SC_PAD_EXPLICIT, 0);
  p2->group = 1;
  int in1[2] = {xin, L->wv[0]};
  int v = emit(x, SC_OP_CONV, in1, 2, p);
  if (v < 0) {
    free(p2);
    return xfail(x);
  }
  int in2[3] = {v, L->wv[1], L->wv[2]};
  v = emit(x, SC_OP_CONV, in2, k.use_bias ? 3 : 2, p2);
  return sp_out(x, v, nd, k.cl, &k.act, out);
}

/* Conv1DTranspose/Conv2DTranspose: kernel (R, S, K, C) -> (C, K, R, S), R = 1 for 1-D; TF's
 * output size and crop (F§4.2) as explicit pads: they do not depend on the input size, so no
 * auto_pad is needed. */
static segcam_status h_convt(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *cfg = L->cfg;
  convcfg k;
  SC_TRY(conv_config(x, L, 0, &k));
  int filters = jint(cfg, "filters", -1), opad[2] = {-1, -1}, nd = k.nd;
  const cJSON *op = jget(cfg, "output_padding");
  if (op && !cJSON_IsNull(op)) SC_TRY(sp_ints(x, cfg, "output_padding", nd, NULL, 0, opad));
  if (jnum(cfg, "groups", 1) != 1)
    return lerr(x, SEGCAM_E_UNSUPPORTED, "grouped transposed convolution is not supported");
  if (filters < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid filters");
  if (!L->wloaded) {
    static const char *const roles[2] = {"kernel", "bias"};
    int want[2] = {1, k.use_bias};
    kr_weights ws;
    kr_weight *w[2];
    SC_TRY(get_weights(x, L, roles, want, 2, &ws, w));
    int64_t kd[4];
    const int64_t bd[1] = {filters};
    segcam_status s = check_w(x, w[0], "kernel", kernel_dims(nd, k.ks, filters, -1, kd), kd);
    if (s == SEGCAM_OK && w[1]) s = check_w(x, w[1], "bias", 1, bd);
    if (s == SEGCAM_OK) {
      L->wv[0] =
          kernel_const(x, "kernel", w[0]->data, k.ks[0], k.ks[1], filters, w[0]->dims[nd + 1]);
      L->wv[1] = w[1] ? take_const(x, "bias", w[1], 1, bd) : -1;
      if (L->wv[0] < 0 || (w[1] && L->wv[1] < 0)) s = xfail(x);
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  sc_conv_params *p = NEWP(sc_conv_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->kernel[0] = k.ks[0], p->kernel[1] = k.ks[1];
  p->group = 1;
  p->auto_pad = SC_PAD_EXPLICIT;
  for (int a = 0; a < 2; a++) {
    int keff = (k.ks[a] - 1) * k.dil[a] + 1, s = k.st[a], pb, pe, o;
    if (opad[a] >= 0) {
      /* output (in-1)*s + keff - 2*pad + op with pad = keff/2 ('same') or 0, cropped at
       * pad_fwd = max(0, 2*pad - op)/2 from the start (conv_utils.deconv_output_length) */
      int pad = k.ap == SC_PAD_SAME_UPPER ? keff / 2 : 0, P = 2 * pad - opad[a];
      if (opad[a] >= s && opad[a] >= k.dil[a]) {
        free(p);
        return lerr(x, SEGCAM_E_FORMAT, "output_padding %d must be smaller than the stride %d",
                    opad[a], s);
      }
      pb = (P > 0 ? P : 0) / 2;
      pe = 2 * pad - pb;
      o = opad[a];
    } else if (k.ap == SC_PAD_SAME_UPPER) {
      /* output in*s; TF's forward padding P = max(0, keff - s), pad_fwd = P/2 */
      int P = keff - s > 0 ? keff - s : 0;
      pb = P / 2;
      pe = P - pb;
      o = s - keff > 0 ? s - keff : 0;
    } else {
      /* output in*s + max(keff - s, 0) */
      pb = pe = 0;
      o = s - keff > 0 ? s - keff : 0;
    }
    p->stride[a] = s;
    p->dilation[a] = k.dil[a];
    p->pads[a] = pb;
    p->pads[a + 2] = pe;
    p->output_padding[a] = o;
  }
  int xin = sp_in(x, c->in[0], nd, k.cl);
  if (xin < 0) {
    free(p);
    return xfail(x);
  }
  int in[3] = {xin, L->wv[0], L->wv[1]};
  int v = emit(x, SC_OP_CONV_TRANSPOSE, in, k.use_bias ? 3 : 2, p);
  return sp_out(x, v, nd, k.cl, &k.act, out);
}

/* Dense: (in, units).  Rank 2: Gemm.  Rank 4 channels_last: a 1x1 conv on the NCHW form (the
 * same contraction over the last Keras axis).  Other ranks: MatMul + bias on the Keras form. */
static segcam_status h_dense(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *cfg = L->cfg;
  int units = jint(cfg, "units", -1), use_bias = jbool(cfg, "use_bias", 1);
  actspec act;
  SC_TRY(parse_act(x, jget(cfg, "activation"), &act));
  if (units < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid units");
  kt *t = c->in[0];
  if (t->rank < 2) return lerr(x, SEGCAM_E_UNSUPPORTED, "Dense on a rank-%d tensor", t->rank);
  int conv = t->rank == 4 && (t->vc >= 0 || x->channels_last);
  if (!L->wloaded) {
    static const char *const roles[2] = {"kernel", "bias"};
    int want[2] = {1, use_bias};
    kr_weights ws;
    kr_weight *w[2];
    SC_TRY(get_weights(x, L, roles, want, 2, &ws, w));
    const int64_t kd[2] = {-1, units}, bd[1] = {units};
    segcam_status s = check_w(x, w[0], "kernel", 2, kd);
    if (s == SEGCAM_OK && w[1]) s = check_w(x, w[1], "bias", 1, bd);
    if (s == SEGCAM_OK) {
      const int64_t md[2] = {w[0]->dims[0], units};
      L->wv[0] = take_const(x, "kernel", w[0], 2, md);
      L->wv[1] = w[1] ? take_const(x, "bias", w[1], 1, bd) : -1;
      if (L->wv[0] < 0 || (w[1] && L->wv[1] < 0)) s = xfail(x);
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  if (conv && L->wv[2] < 0) {
    /* (in, units) -> (units, in, 1, 1) for the 1x1 conv, made only when a call needs it */
    const sc_value *kv = &x->g->values[L->wv[0]];
    L->wv[2] = kernel_const(x, "kernel_oihw", kv->cdata, 1, 1, kv->shape.d[0], units);
    TRYV(L->wv[2]);
  }
  int v;
  if (conv) {
    int xin = kt_nchw(x, t);
    TRYV(xin);
    sc_conv_params *p = NEWP(sc_conv_params);
    if (!p) return SEGCAM_E_NOMEM;
    p->kernel[0] = p->kernel[1] = 1;
    p->stride[0] = p->stride[1] = p->dilation[0] = p->dilation[1] = p->group = 1;
    int in[3] = {xin, L->wv[2], L->wv[1]};
    v = emit(x, SC_OP_CONV, in, use_bias ? 3 : 2, p);
  } else if (t->rank == 2) {
    int xin = kt_keras(x, t);
    TRYV(xin);
    sc_gemm_params *p = NEWP(sc_gemm_params);
    if (!p) return SEGCAM_E_NOMEM;
    p->alpha = p->beta = 1.0f;
    int in[3] = {xin, L->wv[0], L->wv[1]};
    v = emit(x, SC_OP_GEMM, in, use_bias ? 3 : 2, p);
  } else {
    int xin = kt_keras(x, t);
    TRYV(xin);
    int in[2] = {xin, L->wv[0]};
    v = emit(x, SC_OP_MATMUL, in, 2, NULL);
    if (v >= 0 && use_bias) v = emit_binary(x, SC_BIN_ADD, v, L->wv[1]);
  }
  v = apply_act(x, &act, v, t->rank, conv);
  TRYV(v);
  set_out(out, v, conv, t->rank);
  return SEGCAM_OK;
}

/* Keras axis spec (int or list) -> one normalised axis; -1 with a message if not one axis. */
static int one_axis(kx *x, const cJSON *cfg, const char *k, int def, int rank) {
  const cJSON *v = jget(cfg, k);
  int a = def;
  if (cJSON_IsArray(v)) {
    if (cJSON_GetArraySize(v) != 1 || !is_int(cJSON_GetArrayItem(v, 0))) {
      lerr(x, SEGCAM_E_UNSUPPORTED, "'%s' over several axes is not supported", k);
      return -1;
    }
    a = (int)cJSON_GetArrayItem(v, 0)->valuedouble;
  } else if (is_int(v)) {
    a = (int)v->valuedouble;
  }
  if (a < 0) a += rank;
  if (a < 0 || a >= rank) {
    lerr(x, SEGCAM_E_FORMAT, "'%s' %d is out of range for rank %d", k, a, rank);
    return -1;
  }
  return a;
}

/* Broadcast shape of a per-axis constant of length n on Keras axis `a` of a rank-r tensor in the
 * form used (the batch axis included; NCHW form for nchw). */
static int bshape(int r, int a, int64_t n, int nchw, int64_t *dims) {
  for (int i = 0; i < r; i++) dims[i] = 1;
  dims[map_axis(r, a, nchw)] = n;
  return r;
}

/* BatchNormalization at inference (F§4.4). */
static segcam_status h_bn(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *cfg = L->cfg;
  kt *t = c->in[0];
  int a = one_axis(x, cfg, "axis", -1, t->rank);
  if (a < 0) return xfail(x);
  int scale = jbool(cfg, "scale", 1), center = jbool(cfg, "center", 1);
  double eps = jnum(cfg, "epsilon", 1e-3);
  if (jbool(cfg, "renorm", 0))
    return lerr(x, SEGCAM_E_UNSUPPORTED, "batch renormalization (renorm=True) is not supported");
  /* tf.keras 2 runs 4-D BN with the channel axis 1 or 3 through fused_batch_norm, whose wrapper
   * raises epsilon to at least 1.001e-5 */
  if (!x->k3 && t->rank == 4 && (a == 1 || a == 3) && jbool(cfg, "fused", 1) && eps < 1.001e-5)
    eps = 1.001e-5;
  if (!(eps >= 0)) return lerr(x, SEGCAM_E_FORMAT, "invalid epsilon");
  if (!L->wloaded) {
    static const char *const roles[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    int want[4] = {scale, center, 1, 1};
    kr_weights ws;
    kr_weight *w[4];
    SC_TRY(get_weights(x, L, roles, want, 4, &ws, w));
    int64_t C = w[2]->ndim == 1 ? w[2]->dims[0] : -1;
    const int64_t cd[1] = {C};
    segcam_status s = SEGCAM_OK;
    for (int r = 0; r < 4 && s == SEGCAM_OK; r++)
      if (w[r]) s = check_w(x, w[r], roles[r], 1, cd);
    if (s == SEGCAM_OK && C < 1) s = lerr(x, SEGCAM_E_FORMAT, "empty moving_mean");
    if (s == SEGCAM_OK) {
      L->wv[0] = w[0] ? take_const(x, "gamma", w[0], 1, cd) : fill_const(x, "gamma", C, 1.0f);
      L->wv[1] = w[1] ? take_const(x, "beta", w[1], 1, cd) : fill_const(x, "beta", C, 0.0f);
      L->wv[2] = take_const(x, "moving_mean", w[2], 1, cd);
      L->wv[3] = take_const(x, "moving_variance", w[3], 1, cd);
      L->wv[4] = (int)C;
      for (int r = 0; r < 4; r++)
        if (L->wv[r] < 0) s = xfail(x);
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  int nchw = t->rank == 4 && a == 3 && (t->vc >= 0 || x->channels_last);
  int internal = map_axis(t->rank, a, nchw);
  int v;
  if (internal == 1) {
    int xin = kt_form(x, t, nchw);
    TRYV(xin);
    sc_batchnorm_params *p = NEWP(sc_batchnorm_params);
    if (!p) return SEGCAM_E_NOMEM;
    p->epsilon = (float)eps;
    int in[5] = {xin, L->wv[0], L->wv[1], L->wv[2], L->wv[3]};
    v = emit(x, SC_OP_BATCHNORM, in, 5, p);
  } else {
    /* y = x * scale + shift, scale = gamma / sqrt(var + eps), shift = beta - mean * scale, with
     * constants shaped to broadcast along the axis */
    int xin = kt_keras(x, t);
    TRYV(xin);
    int64_t d[SEGCAM_MAX_DIMS], C = L->wv[4];
    int r = bshape(t->rank, a, C, 0, d);
    float *m = sc_calloc_n((size_t)C, sizeof *m), *b = sc_calloc_n((size_t)C, sizeof *b);
    if (!m || !b) {
      free(m);
      free(b);
      return SEGCAM_E_NOMEM;
    }
    const float *ga = x->g->values[L->wv[0]].cdata, *be = x->g->values[L->wv[1]].cdata;
    const float *mu = x->g->values[L->wv[2]].cdata, *va = x->g->values[L->wv[3]].cdata;
    for (int64_t i = 0; i < C; i++) {
      double inv = ga[i] / sqrt((double)va[i] + eps);
      m[i] = (float)inv;
      b[i] = (float)(be[i] - mu[i] * inv);
    }
    int cm = cst(x, "scale_b", m, r, d), cb = cst(x, "shift_b", b, r, d);
    TRYV(cm);
    TRYV(cb);
    v = emit_binary(x, SC_BIN_MUL, xin, cm);
    if (v >= 0) v = emit_binary(x, SC_BIN_ADD, v, cb);
    nchw = 0;
  }
  TRYV(v);
  set_out(out, v, nchw, t->rank);
  return SEGCAM_OK;
}

/* LayerNormalization over the trailing Keras axes, on the Keras form. */
static segcam_status h_ln(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *cfg = L->cfg, *ax = jget(cfg, "axis");
  kt *t = c->in[0];
  int r = t->rank, lo = r, mark[SEGCAM_MAX_DIMS] = {0};
  if (jbool(cfg, "rms_scaling", 0))
    return lerr(x, SEGCAM_E_UNSUPPORTED, "rms_scaling is not supported");
  const cJSON *e = NULL;
  int n_ax = 0;
  if (is_int(ax)) {
    int a = (int)ax->valuedouble;
    if (a < 0) a += r;
    if (a < 0 || a >= r) return lerr(x, SEGCAM_E_FORMAT, "axis out of range");
    mark[a] = 1, n_ax = 1, lo = a;
  } else if (cJSON_IsArray(ax)) {
    cJSON_ArrayForEach(e, ax) {
      if (!is_int(e)) return lerr(x, SEGCAM_E_FORMAT, "invalid axis");
      int a = (int)e->valuedouble;
      if (a < 0) a += r;
      if (a < 1 || a >= r) return lerr(x, SEGCAM_E_FORMAT, "axis out of range");
      if (!mark[a]) mark[a] = 1, n_ax++;
      if (a < lo) lo = a;
    }
  } else {
    mark[r - 1] = 1, n_ax = 1, lo = r - 1;
  }
  if (lo + n_ax != r)
    return lerr(x, SEGCAM_E_UNSUPPORTED, "normalising over axes other than the trailing ones");
  int scale = jbool(cfg, "scale", 1), center = jbool(cfg, "center", 1);
  double eps = jnum(cfg, "epsilon", 1e-3);
  if (!L->wloaded) {
    static const char *const roles[2] = {"gamma", "beta"};
    int want[2] = {scale, center};
    kr_weights ws;
    kr_weight *w[2];
    SC_TRY(get_weights(x, L, roles, want, 2, &ws, w));
    segcam_status s = SEGCAM_OK;
    kr_weight *ref = w[0] ? w[0] : w[1];
    int64_t n = ref ? numel_w(ref) : -1;
    if (w[0] && w[1] && numel_w(w[1]) != n) s = lerr(x, SEGCAM_E_FORMAT, "gamma/beta differ");
    if (s == SEGCAM_OK && ref) {
      L->wv[0] = w[0] ? take_const(x, "gamma", w[0], w[0]->ndim, w[0]->dims) : -1;
      L->wv[1] = w[1] ? take_const(x, "beta", w[1], w[1]->ndim, w[1]->dims) : -1;
      if (!w[0]) L->wv[0] = fill_const(x, "gamma", n, 1.0f);
      if (L->wv[0] < 0 || (w[1] && L->wv[1] < 0)) s = xfail(x);
    } else if (s == SEGCAM_OK) {
      s = lerr(x, SEGCAM_E_UNSUPPORTED, "LayerNormalization without scale and center");
    }
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  int xin = kt_keras(x, t);
  TRYV(xin);
  sc_layernorm_params *p = NEWP(sc_layernorm_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->axis = lo;
  p->epsilon = (float)eps;
  int in[3] = {xin, L->wv[0], L->wv[1]};
  int v = emit(x, SC_OP_LAYERNORM, in, L->wv[1] >= 0 ? 3 : 2, p);
  TRYV(v);
  set_out(out, v, 0, r);
  return SEGCAM_OK;
}

/* Elementwise activation layers keep the input's form. */
static segcam_status act_layer(kx *x, kcall *c, const actspec *s, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  kt *t = c->in[0];
  if (s->kind == ACT_NONE) {
    *out = *t;
    if (out->vc >= 0) out->vk = -1;
    return SEGCAM_OK;
  }
  int nchw = pick_nchw(&t, 1);
  int v = kt_form(x, t, nchw);
  v = apply_act(x, s, v, t->rank, nchw);
  TRYV(v);
  set_out(out, v, nchw, t->rank);
  return SEGCAM_OK;
}

static segcam_status h_activation(kx *x, klayer *L, kcall *c, kt *out) {
  actspec s;
  SC_TRY(parse_act(x, jget(L->cfg, "activation"), &s));
  return act_layer(x, c, &s, out);
}

/* ReLU(max_value, negative_slope, threshold) as tf.keras backend.relu (F§4.6). */
static segcam_status h_relu(kx *x, klayer *L, kcall *c, kt *out) {
  const cJSON *mv = jget(L->cfg, "max_value");
  double slope = jnum(L->cfg, "negative_slope", 0), thr = jnum(L->cfg, "threshold", 0);
  actspec s;
  memset(&s, 0, sizeof s);
  s.kind = ACT_ELEMENTWISE;
  if (cJSON_IsNumber(mv) && mv->valuedouble < 0)
    return lerr(x, SEGCAM_E_FORMAT, "negative max_value");
  if (!cJSON_IsNumber(mv) && slope == 0 && thr == 0) {
    s.p.kind = SC_ACT_RELU;
  } else {
    s.p.kind = SC_ACT_RELU_TF;
    s.p.alpha = (float)slope;
    s.p.beta = (float)thr;
    s.p.hi = cJSON_IsNumber(mv) ? (float)mv->valuedouble : INFINITY;
  }
  return act_layer(x, c, &s, out);
}

static segcam_status h_leaky(kx *x, klayer *L, kcall *c, kt *out) {
  /* the layer's default slope is 0.3 in Keras 2 (alpha) and 3 (negative_slope) */
  double a = jnum(L->cfg, "negative_slope", jnum(L->cfg, "alpha", 0.3));
  actspec s = {.kind = ACT_ELEMENTWISE, .p = {.kind = SC_ACT_LEAKY_RELU, .alpha = (float)a}};
  return act_layer(x, c, &s, out);
}

static segcam_status h_elu(kx *x, klayer *L, kcall *c, kt *out) {
  actspec s = {.kind = ACT_ELEMENTWISE,
               .p = {.kind = SC_ACT_ELU, .alpha = (float)jnum(L->cfg, "alpha", 1.0)}};
  return act_layer(x, c, &s, out);
}

static segcam_status h_thresh(kx *x, klayer *L, kcall *c, kt *out) {
  actspec s = {
      .kind = ACT_ELEMENTWISE,
      .p = {.kind = SC_ACT_RELU_TF, .beta = (float)jnum(L->cfg, "theta", 1.0), .hi = INFINITY}};
  return act_layer(x, c, &s, out);
}

/* Softmax over several axes (tf.keras 2's Softmax layer with an axis list of length > 1:
 * exp(x - reduce_logsumexp(x, axis)), i.e. one softmax over the joint axes): the axes are moved
 * to the end, flattened into one, and the result is reshaped and moved back. */
static segcam_status softmax_axes(kx *x, kcall *c, const cJSON *ax, kt *out) {
  kt *t = c->in[0];
  int r = t->rank, mark[SEGCAM_MAX_DIMS] = {0}, perm[SEGCAM_MAX_DIMS], inv[SEGCAM_MAX_DIMS];
  int n = 0, k = 0, ident = 1;
  const cJSON *e;
  cJSON_ArrayForEach(e, ax) {
    int a = is_int(e) ? (int)e->valuedouble : -100;
    if (a < 0) a += r;
    if (a < 1 || a >= r)
      return lerr(x, SEGCAM_E_FORMAT, "softmax axis out of range for rank %d", r);
    mark[a] = 1;
  }
  for (int i = 0; i < r; i++)
    if (!mark[i]) perm[k++] = i;
  n = k;
  for (int i = 0; i < r; i++)
    if (mark[i]) perm[k++] = i;
  for (int i = 0; i < r; i++) {
    inv[perm[i]] = i;
    ident = ident && perm[i] == i;
  }
  int v = kt_keras(x, t);
  TRYV(v);
  if (!ident) v = emit_transpose(x, NULL, v, perm, r);
  TRYV(v);
  int shp = emit(x, SC_OP_SHAPE, &v, 1, NULL);
  int64_t flat[SEGCAM_MAX_DIMS];
  for (int i = 0; i < n; i++) flat[i] = 0;
  flat[n] = -1;
  if (shp >= 0) v = emit_reshape(x, v, flat, n + 1);
  if (shp >= 0 && v >= 0) v = emit_softmax(x, v, n);
  if (shp >= 0 && v >= 0) {
    sc_reshape_params *p = NEWP(sc_reshape_params);
    if (!p) return SEGCAM_E_NOMEM;
    p->kind = SC_RESHAPE_SHAPE; /* target from input 1, the transposed input's shape */
    int in[2] = {v, shp};
    v = emit(x, SC_OP_RESHAPE, in, 2, p);
  }
  if (shp >= 0 && v >= 0 && !ident) v = emit_transpose(x, NULL, v, inv, r);
  if (shp < 0) v = -1;
  TRYV(v);
  set_out(out, v, 0, r);
  return SEGCAM_OK;
}

static segcam_status h_softmax(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *ax = jget(L->cfg, "axis");
  if (cJSON_IsArray(ax) && cJSON_GetArraySize(ax) > 1) return softmax_axes(x, c, ax, out);
  int a = one_axis(x, L->cfg, "axis", -1, c->in[0]->rank);
  if (a < 0) return xfail(x);
  actspec s = {.kind = ACT_SOFTMAX, .axis = a};
  return act_layer(x, c, &s, out);
}

/* PReLU: alpha has the input's shape without the batch (1 on shared_axes). */
static segcam_status h_prelu(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  kt *t = c->in[0];
  /* the slope's layout is fixed by the first call; later calls of a shared layer follow it */
  int nchw = L->wloaded ? L->wv[1] : t->rank == 4 && (t->vc >= 0 || x->channels_last);
  if (!L->wloaded) {
    static const char *const roles[1] = {"alpha"};
    int want[1] = {1};
    kr_weights ws;
    kr_weight *w[1];
    SC_TRY(get_weights(x, L, roles, want, 1, &ws, w));
    segcam_status s = SEGCAM_OK;
    if (w[0]->ndim != t->rank - 1) {
      s = lerr(x, SEGCAM_E_FORMAT, "alpha has rank %d for a rank-%d input", w[0]->ndim, t->rank);
    } else if (nchw) {
      /* (H, W, C) -> (C, H, W) to broadcast over the NCHW form */
      int64_t H = w[0]->dims[0], W = w[0]->dims[1], C = w[0]->dims[2];
      float *o = sc_calloc_n((size_t)(H * W * C), sizeof *o);
      for (int64_t i = 0; o && i < H * W; i++)
        for (int64_t k = 0; k < C; k++) o[k * H * W + i] = w[0]->data[i * C + k];
      const int64_t d[3] = {C, H, W};
      L->wv[0] = o ? cst(x, "alpha", o, 3, d) : -1;
    } else {
      L->wv[0] = take_const(x, "alpha", w[0], w[0]->ndim, w[0]->dims);
    }
    if (s == SEGCAM_OK && L->wv[0] < 0) s = xfail(x);
    L->wv[1] = nchw;
    kr_weights_free(&ws);
    SC_TRY(s);
    L->wloaded = 1;
  }
  int in[2] = {kt_form(x, t, nchw), L->wv[0]};
  TRYV(in[0]);
  int v = emit(x, SC_OP_PRELU, in, 2, NULL);
  TRYV(v);
  set_out(out, v, nchw, t->rank);
  return SEGCAM_OK;
}

/* MaxPooling1D/2D, AveragePooling1D/2D (F§4.3: padding never counts, TF split). */
static segcam_status pool(kx *x, klayer *L, kcall *c, kt *out, int is_max) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *cfg = L->cfg;
  static const int two2[2] = {2, 2};
  int nd = spatial_rank(L), ps[2], st[2], cl;
  sc_autopad ap;
  SC_TRY(sp_ints(x, cfg, "pool_size", nd, two2, 1, ps));
  SC_TRY(sp_ints(x, cfg, "strides", nd, ps, 1, st));
  SC_TRY(sp_format(x, cfg, nd, &cl));
  SC_TRY(padding_mode(x, cfg, &ap));
  for (int a = 0; a < 2; a++)
    if (ps[a] < 1 || st[a] < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid pool_size/strides");
  int xin = sp_in(x, c->in[0], nd, cl);
  TRYV(xin);
  sc_pool_params *p = NEWP(sc_pool_params);
  if (!p) return SEGCAM_E_NOMEM;
  for (int a = 0; a < 2; a++) {
    p->kernel[a] = ps[a];
    p->stride[a] = st[a];
    p->dilation[a] = 1;
  }
  p->auto_pad = ap;
  p->count_include_pad = 0;
  int v = emit(x, is_max ? SC_OP_MAXPOOL : SC_OP_AVGPOOL, &xin, 1, p);
  return sp_out(x, v, nd, cl, NULL, out);
}

static segcam_status h_maxpool(kx *x, klayer *L, kcall *c, kt *out) {
  return pool(x, L, c, out, 1);
}
static segcam_status h_avgpool(kx *x, klayer *L, kcall *c, kt *out) {
  return pool(x, L, c, out, 0);
}

/* GlobalAverage/MaxPooling1D/2D: [N, C], or with keepdims the Keras rank kept: 2-D [N, C, 1, 1]
 * (the NCHW form of Keras's [N, 1, 1, C], or Keras's own for channels_first), 1-D a reshape of
 * [N, C] to [N, 1, C] (channels_first [N, C, 1]). */
static segcam_status gpool(kx *x, klayer *L, kcall *c, kt *out, int is_max) {
  SC_TRY(need_inputs(x, c, 1, 1));
  int nd = spatial_rank(L), cl, keep = jbool(L->cfg, "keepdims", 0);
  SC_TRY(sp_format(x, L->cfg, nd, &cl));
  int xin = sp_in(x, c->in[0], nd, cl);
  TRYV(xin);
  sc_globalpool_params *p = NEWP(sc_globalpool_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->is_max = is_max;
  p->keepdims = keep && nd == 2;
  int v = emit(x, SC_OP_GLOBALPOOL, &xin, 1, p);
  if (keep && nd == 1) {
    const int64_t s1[3] = {0, 1, -1}, s2[3] = {0, -1, 1};
    if (v >= 0) v = emit_reshape(x, v, cl ? s1 : s2, 3);
  }
  TRYV(v);
  set_out(out, v, keep && cl && nd == 2, keep ? nd + 2 : 2);
  return SEGCAM_OK;
}

static segcam_status h_gap(kx *x, klayer *L, kcall *c, kt *out) {
  return gpool(x, L, c, out, 0);
}
static segcam_status h_gmp(kx *x, klayer *L, kcall *c, kt *out) {
  return gpool(x, L, c, out, 1);
}

/* Resize settings for a TF interpolation name (F§4.5, §5.2 equivalences); half_pixel = 0 gives
 * the legacy (align_corners=False, half_pixel_centers=False) kernels. */
static segcam_status resize_mode(kx *x, const char *interp, int half_pixel, sc_resize_params *p) {
  p->cubic_a = -0.75f;
  if (streq(interp, "nearest")) {
    p->mode = SC_RESIZE_NEAREST;
    p->coord = half_pixel ? SC_COORD_TF_HALF_PIXEL_FOR_NN : SC_COORD_ASYMMETRIC;
    p->nearest = SC_NEAREST_FLOOR;
  } else if (streq(interp, "bilinear")) {
    p->mode = SC_RESIZE_LINEAR;
    p->coord = half_pixel ? SC_COORD_HALF_PIXEL : SC_COORD_ASYMMETRIC;
  } else if (streq(interp, "bicubic") && half_pixel) {
    /* TF v2 bicubic: a = -0.5, outside taps dropped (its 1/1024 weight table is not copied) */
    p->mode = SC_RESIZE_CUBIC;
    p->coord = SC_COORD_HALF_PIXEL;
    p->cubic_a = -0.5f;
    p->exclude_outside = 1;
  } else {
    return lerr(x, SEGCAM_E_UNSUPPORTED, "interpolation '%s' is not supported", interp);
  }
  return SEGCAM_OK;
}

static segcam_status resize_common(kx *x, kcall *c, int nd, int cl, sc_resize_params *p, kt *out) {
  int xin = sp_in(x, c->in[0], nd, cl);
  if (xin < 0) {
    free(p);
    return xfail(x);
  }
  int in[4] = {xin, -1, -1, -1};
  int v = emit(x, SC_OP_RESIZE, in, 4, p);
  return sp_out(x, v, nd, cl, NULL, out);
}

/* UpSampling1D/2D: integer factors; nearest is the same pixel choice in every TF version (for
 * UpSampling1D, backend.repeat_elements: each step `size` times), bilinear depends on the Keras
 * version (F§4.5).  UpSampling1D has neither data_format nor interpolation: channels_last,
 * nearest. */
static segcam_status h_upsample(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  static const int two2[2] = {2, 2};
  int nd = spatial_rank(L), sz[2], cl = 1;
  SC_TRY(sp_ints(x, L->cfg, "size", nd, two2, 1, sz));
  if (nd == 2) SC_TRY(data_format(x, L->cfg, &cl));
  if (sz[0] < 1 || sz[1] < 1 || sz[0] > 4096 || sz[1] > 4096)
    return nd == 1 ? lerr(x, SEGCAM_E_FORMAT, "invalid size %d", sz[1])
                   : lerr(x, SEGCAM_E_FORMAT, "invalid size [%d, %d]", sz[0], sz[1]);
  const char *interp = nd == 1 ? "nearest" : jstr(L->cfg, "interpolation", "nearest");
  sc_resize_params *p = NEWP(sc_resize_params);
  if (!p) return SEGCAM_E_NOMEM;
  int half = !x->legacy_resize;
  if (streq(interp, "nearest")) half = 0; /* integer factors: asymmetric + floor = repeat */
  segcam_status s = resize_mode(x, interp, half, p);
  if (s != SEGCAM_OK) {
    free(p);
    return s;
  }
  if (p->mode != SC_RESIZE_NEAREST && x->resize_guess)
    sc_warn("%s: layer '%s': keras_version '%s' does not tell whether TensorFlow resized with "
            "half-pixel centres (TF >= 1.15) or not; assuming it did",
            x->info->path, L->full, x->info->version);
  p->n_fixed = 2;
  p->fixed_scales[0] = (float)sz[0];
  p->fixed_scales[1] = (float)sz[1];
  return resize_common(x, c, nd, cl, p, out);
}

/* Resizing layer: tf.image.resize to a fixed size (half-pixel, no antialias). */
static segcam_status h_resizing(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  int h = jint(L->cfg, "height", -1), w = jint(L->cfg, "width", -1), cl;
  SC_TRY(data_format(x, L->cfg, &cl));
  if (h < 1 || w < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid height/width");
  if (jbool(L->cfg, "crop_to_aspect_ratio", 0) || jbool(L->cfg, "pad_to_aspect_ratio", 0) ||
      jbool(L->cfg, "antialias", 0))
    return lerr(x, SEGCAM_E_UNSUPPORTED,
                "crop_to_aspect_ratio, pad_to_aspect_ratio and antialias "
                "are not supported");
  sc_resize_params *p = NEWP(sc_resize_params);
  if (!p) return SEGCAM_E_NOMEM;
  segcam_status s = resize_mode(x, jstr(L->cfg, "interpolation", "bilinear"), 1, p);
  if (s != SEGCAM_OK) {
    free(p);
    return s;
  }
  p->n_fixed = 2;
  p->fixed_sizes[0] = h;
  p->fixed_sizes[1] = w;
  return resize_common(x, c, 2, cl, p, out);
}

/* ZeroPadding1D/2D and Cropping1D/2D amounts {top, bottom, left, right}: the 2-D spec (F§4.7), or
 * a 1-D int or (left, right) on the width. */
static segcam_status sp_pairs(kx *x, const cJSON *cfg, const char *k, int nd, const int *def,
                              int *out) {
  if (nd == 2) return jpairs(x, cfg, k, def, out);
  out[0] = out[1] = 0;
  SC_TRY(jints(x, cfg, k, 2, def + 2, out + 2));
  for (int i = 2; i < 4; i++)
    if (out[i] < 0 || out[i] > (1 << 20))
      return lerr(x, SEGCAM_E_FORMAT, "'%s' holds an invalid value %d", k, out[i]);
  return SEGCAM_OK;
}

/* ZeroPadding1D/2D (Keras's default padding 1 on every side). */
static segcam_status h_zeropad(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  static const int one4[4] = {1, 1, 1, 1};
  int nd = spatial_rank(L), pd[4], cl;
  SC_TRY(sp_pairs(x, L->cfg, "padding", nd, one4, pd));
  SC_TRY(sp_format(x, L->cfg, nd, &cl));
  int xin = sp_in(x, c->in[0], nd, cl);
  TRYV(xin);
  sc_pad_params *p = NEWP(sc_pad_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->mode = SC_PADMODE_CONSTANT;
  p->n_pads = 8;
  /* NCHW: begins [0, 0, top, left], ends [0, 0, bottom, right] */
  p->pads[2] = pd[0], p->pads[6] = pd[1], p->pads[3] = pd[2], p->pads[7] = pd[3];
  int v = emit(x, SC_OP_PAD, &xin, 1, p);
  return sp_out(x, v, nd, cl, NULL, out);
}

/* Cropping1D/2D (Keras's defaults: none for 2-D, one step at each end for 1-D). */
static segcam_status h_crop(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  static const int zero4[4] = {0, 0, 0, 0}, one4[4] = {1, 1, 1, 1};
  int nd = spatial_rank(L), cr[4], cl;
  SC_TRY(sp_pairs(x, L->cfg, "cropping", nd, nd == 1 ? one4 : zero4, cr));
  SC_TRY(sp_format(x, L->cfg, nd, &cl));
  int xin = sp_in(x, c->in[0], nd, cl);
  TRYV(xin);
  sc_slice_params *p = NEWP(sc_slice_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->n = 2;
  for (int a = 0; a < 2; a++) {
    p->axes[a] = 2 + a;
    p->starts[a] = cr[2 * a];
    p->ends[a] = cr[2 * a + 1] ? -(int64_t)cr[2 * a + 1] : INT64_MAX;
  }
  int v = emit(x, SC_OP_SLICE, &xin, 1, p);
  return sp_out(x, v, nd, cl, NULL, out);
}

static segcam_status h_flatten(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  kt *t = c->in[0];
  int v = kt_keras(x, t);
  TRYV(v);
  const char *df = jstr(L->cfg, "data_format", NULL);
  if (streq(df, "channels_first") && t->rank > 2) {
    /* Keras moves the channel axis last before flattening */
    int perm[SEGCAM_MAX_DIMS], r = t->rank;
    perm[0] = 0;
    for (int i = 1; i < r - 1; i++) perm[i] = i + 1;
    perm[r - 1] = 1;
    v = emit_transpose(x, NULL, v, perm, r);
    TRYV(v);
  }
  sc_reshape_params *p = NEWP(sc_reshape_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->kind = SC_RESHAPE_FLATTEN;
  p->axis = 1;
  v = emit(x, SC_OP_RESHAPE, &v, 1, p);
  TRYV(v);
  set_out(out, v, 0, 2);
  return SEGCAM_OK;
}

static segcam_status h_reshape(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *ts = jget(L->cfg, "target_shape"), *e;
  int n = cJSON_GetArraySize(ts);
  if (!cJSON_IsArray(ts) || n < 1 || n + 1 > SEGCAM_MAX_DIMS)
    return lerr(x, SEGCAM_E_FORMAT, "invalid target_shape");
  sc_reshape_params *p = NEWP(sc_reshape_params);
  if (!p) return SEGCAM_E_NOMEM;
  p->kind = SC_RESHAPE_SHAPE;
  p->n_shape = n + 1;
  p->shape[0] = 0; /* ONNX Reshape: 0 copies the batch */
  int i = 1;
  cJSON_ArrayForEach(e, ts) {
    if (!is_int(e) || (e->valuedouble < 1 && e->valuedouble != -1)) {
      free(p);
      return lerr(x, SEGCAM_E_FORMAT, "invalid target_shape");
    }
    p->shape[i++] = (int64_t)e->valuedouble;
  }
  int v = kt_keras(x, c->in[0]);
  if (v < 0) {
    free(p);
    return xfail(x);
  }
  v = emit(x, SC_OP_RESHAPE, &v, 1, p);
  TRYV(v);
  set_out(out, v, 0, n + 1);
  return SEGCAM_OK;
}

static segcam_status h_permute(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  const cJSON *dims = jget(L->cfg, "dims"), *e;
  kt *t = c->in[0];
  int perm[SEGCAM_MAX_DIMS], n = 1, seen[SEGCAM_MAX_DIMS] = {0};
  perm[0] = 0;
  if (!cJSON_IsArray(dims) || cJSON_GetArraySize(dims) != t->rank - 1)
    return lerr(x, SEGCAM_E_FORMAT, "invalid dims");
  cJSON_ArrayForEach(e, dims) {
    int d = is_int(e) ? (int)e->valuedouble : -1;
    if (d < 1 || d >= t->rank || seen[d]) return lerr(x, SEGCAM_E_FORMAT, "invalid dims");
    seen[d] = 1;
    perm[n++] = d;
  }
  int v = kt_keras(x, t);
  TRYV(v);
  v = emit_transpose(x, NULL, v, perm, n);
  TRYV(v);
  set_out(out, v, 0, t->rank);
  return SEGCAM_OK;
}

static segcam_status same_rank(kx *x, kcall *c) {
  for (int i = 1; i < c->n_in; i++)
    if (c->in[i]->rank != c->in[0]->rank)
      return lerr(x, SEGCAM_E_UNSUPPORTED, "inputs of different ranks (%d and %d)", c->in[0]->rank,
                  c->in[i]->rank);
  return SEGCAM_OK;
}

/* Concatenation of n values along `axis`.  A node takes at most SC_MAX_IO inputs, so a longer
 * list becomes a chain (the running result first, then the next inputs), which is the same
 * concatenation. */
static int emit_concat(kx *x, const int *in, int n, int axis) {
  int v = -1;
  for (int i = 0; i < n;) {
    int part[SC_MAX_IO], k = 0;
    if (v >= 0) part[k++] = v;
    while (k < SC_MAX_IO && i < n) part[k++] = in[i++];
    sc_concat_params *p = NEWP(sc_concat_params);
    if (!p) return -1;
    p->axis = axis;
    v = emit(x, SC_OP_CONCAT, part, k, p);
    if (v < 0) return -1;
  }
  return v;
}

static segcam_status h_concat(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, KMAX_IN));
  SC_TRY(same_rank(x, c));
  int r = c->in[0]->rank, nchw = r == 4 && (pick_nchw(c->in, c->n_in) || x->channels_last);
  int a = map_axis(r, jint(L->cfg, "axis", -1), nchw), in[KMAX_IN];
  if (a < 0) return lerr(x, SEGCAM_E_FORMAT, "axis out of range for rank %d", r);
  for (int i = 0; i < c->n_in; i++) {
    in[i] = kt_form(x, c->in[i], nchw);
    TRYV(in[i]);
  }
  int v = emit_concat(x, in, c->n_in, a);
  TRYV(v);
  set_out(out, v, nchw, r);
  return SEGCAM_OK;
}

/* Add/Subtract/Multiply/Maximum/Minimum/Average: a chain of binary nodes (Average divides the
 * sum by n, as Keras does). */
static segcam_status merge(kx *x, kcall *c, kt *out, sc_binary_kind k, int average) {
  SC_TRY(need_inputs(x, c, k == SC_BIN_SUB ? 2 : 1, k == SC_BIN_SUB ? 2 : KMAX_IN));
  SC_TRY(same_rank(x, c));
  int r = c->in[0]->rank, nchw = r == 4 && pick_nchw(c->in, c->n_in);
  int v = kt_form(x, c->in[0], nchw);
  TRYV(v);
  for (int i = 1; i < c->n_in; i++) {
    int b = kt_form(x, c->in[i], nchw);
    TRYV(b);
    v = emit_binary(x, k, v, b);
    TRYV(v);
  }
  if (average) {
    float *d = sc_malloc(sizeof *d);
    if (!d) return SEGCAM_E_NOMEM;
    *d = (float)c->n_in;
    const int64_t one = 1;
    int cn = cst(x, "count", d, 1, &one);
    TRYV(cn);
    v = emit_binary(x, SC_BIN_DIV, v, cn);
    TRYV(v);
  }
  set_out(out, v, nchw, r);
  return SEGCAM_OK;
}

static segcam_status h_add(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  return merge(x, c, out, SC_BIN_ADD, 0);
}
static segcam_status h_sub(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  return merge(x, c, out, SC_BIN_SUB, 0);
}
static segcam_status h_mul(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  return merge(x, c, out, SC_BIN_MUL, 0);
}
static segcam_status h_max(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  return merge(x, c, out, SC_BIN_MAX, 0);
}
static segcam_status h_min(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  return merge(x, c, out, SC_BIN_MIN, 0);
}
static segcam_status h_avg(kx *x, klayer *L, kcall *c, kt *out) {
  (void)L;
  return merge(x, c, out, SC_BIN_ADD, 1);
}

/* Reads a number or a list of numbers (a per-channel parameter); *n = 1 for a scalar. */
static segcam_status num_list(kx *x, const cJSON *v, const char *k, double def, double *out,
                              int max, int *n) {
  if (!v || cJSON_IsNull(v)) {
    out[0] = def;
    *n = 1;
    return SEGCAM_OK;
  }
  if (cJSON_IsNumber(v)) {
    out[0] = v->valuedouble;
    *n = 1;
    return SEGCAM_OK;
  }
  /* Keras 3 may serialize arrays as {"class_name": "__numpy__", "config": {"value": [...]}} */
  if (cJSON_IsObject(v)) v = jget(jget(v, "config"), "value");
  int m = 0;
  const cJSON *e;
  if (cJSON_IsArray(v)) {
    cJSON_ArrayForEach(e, v) {
      /* [[[0.5, 0.5, 0.5]]] style nesting of broadcast arrays */
      while (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 1 && !cJSON_IsNumber(e))
        e = cJSON_GetArrayItem(e, 0);
      if (cJSON_IsArray(e) && cJSON_GetArraySize(v) == 1) {
        v = e;
        m = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, v) {
          if (!cJSON_IsNumber(f) || m >= max) return lerr(x, SEGCAM_E_UNSUPPORTED, "'%s'", k);
          out[m++] = f->valuedouble;
        }
        break;
      }
      if (!cJSON_IsNumber(e) || m >= max)
        return lerr(x, SEGCAM_E_UNSUPPORTED, "'%s' must be a number or a list of numbers", k);
      out[m++] = e->valuedouble;
    }
  }
  if (m < 1) return lerr(x, SEGCAM_E_UNSUPPORTED, "'%s' must be a number or a list of numbers", k);
  *n = m;
  return SEGCAM_OK;
}

/* A per-channel constant (n values on the last Keras axis) in the form used. */
static int chan_const(kx *x, const char *suffix, const double *vals, int n, int rank, int nchw) {
  float *d = sc_calloc_n((size_t)n, sizeof *d);
  if (!d) return -1;
  for (int i = 0; i < n; i++) d[i] = (float)vals[i];
  int64_t dims[SEGCAM_MAX_DIMS];
  int r = bshape(rank, rank - 1, n, nchw, dims);
  return cst(x, suffix, d, r, dims);
}

/* Rescaling: x * scale + offset (per-channel lists allowed). */
static segcam_status h_rescale(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  double sc[4096], of[4096];
  int ns, no;
  SC_TRY(num_list(x, jget(L->cfg, "scale"), "scale", 1.0, sc, 4096, &ns));
  SC_TRY(num_list(x, jget(L->cfg, "offset"), "offset", 0.0, of, 4096, &no));
  kt *t = c->in[0];
  int nchw = pick_nchw(&t, 1), v = kt_form(x, t, nchw);
  TRYV(v);
  if (ns == 1 && no == 1) {
    actspec s = {.kind = ACT_ELEMENTWISE,
                 .p = {.kind = SC_ACT_SCALE_SHIFT, .alpha = (float)sc[0], .beta = (float)of[0]}};
    v = apply_act(x, &s, v, t->rank, nchw);
  } else {
    int cs = chan_const(x, "scale", sc, ns, t->rank, nchw);
    int co = chan_const(x, "offset", of, no, t->rank, nchw);
    TRYV(cs);
    TRYV(co);
    v = emit_binary(x, SC_BIN_MUL, v, cs);
    if (v >= 0) v = emit_binary(x, SC_BIN_ADD, v, co);
  }
  TRYV(v);
  set_out(out, v, nchw, t->rank);
  return SEGCAM_OK;
}

/* Normalization: (x - mean) / max(sqrt(variance), 1e-7) over the last axis (F§1.3). */
static segcam_status h_norm(kx *x, klayer *L, kcall *c, kt *out) {
  SC_TRY(need_inputs(x, c, 1, 1));
  kt *t = c->in[0];
  if (jbool(L->cfg, "invert", 0))
    return lerr(x, SEGCAM_E_UNSUPPORTED, "invert=True is not supported");
  const cJSON *ax = jget(L->cfg, "axis");
  int a = t->rank - 1;
  if (is_int(ax) || (cJSON_IsArray(ax) && cJSON_GetArraySize(ax) == 1)) {
    a = one_axis(x, L->cfg, "axis", -1, t->rank);
    if (a < 0) return xfail(x);
  } else if (ax && !cJSON_IsNull(ax)) {
    return lerr(x, SEGCAM_E_UNSUPPORTED, "normalising over several axes is not supported");
  }
  if (a != t->rank - 1) return lerr(x, SEGCAM_E_UNSUPPORTED, "only the last axis is supported");
  int nchw = pick_nchw(&t, 1);
  if (!L->wloaded) {
    double *mv = sc_calloc_n(2 * 4096, sizeof *mv);
    if (!mv) return SEGCAM_E_NOMEM;
    int nm = 0, nv = 0;
    segcam_status s = SEGCAM_OK;
    const cJSON *cm = jget(L->cfg, "mean"), *cv = jget(L->cfg, "variance");
    if (cm && !cJSON_IsNull(cm)) {
      /* mean/variance given in the config: no weights */
      s = num_list(x, cm, "mean", 0, mv, 4096, &nm);
      if (s == SEGCAM_OK) s = num_list(x, cv, "variance", 1, mv + 4096, 4096, &nv);
    } else {
      static const char *const roles[3] = {"mean", "variance", "count"};
      kr_weights ws;
      kr_weight *w[3];
      int want3[3] = {1, 1, 1}, want2[3] = {1, 1, 0};
      /* Keras 3 may store only mean and variance */
      s = get_weights(x, L, roles, want3, 3, &ws, w);
      if (s != SEGCAM_OK) s = get_weights(x, L, roles, want2, 3, &ws, w);
      if (s == SEGCAM_OK) {
        nm = (int)numel_w(w[0]);
        nv = (int)numel_w(w[1]);
        if (nm > 4096 || nv != nm) {
          s = lerr(x, SEGCAM_E_UNSUPPORTED, "mean/variance of %d/%d values", nm, nv);
        } else {
          for (int i = 0; i < nm; i++) mv[i] = w[0]->data[i], mv[4096 + i] = w[1]->data[i];
        }
        kr_weights_free(&ws);
      }
    }
    if (s == SEGCAM_OK) {
      for (int i = 0; i < nv; i++) {
        /* TF: maximum(sqrt(variance), epsilon) in float32 */
        float sd = sqrtf((float)mv[4096 + i]);
        mv[4096 + i] = sd > 1e-7f ? sd : 1e-7f;
      }
      L->wv[0] = chan_const(x, "mean", mv, nm, t->rank, nchw);
      L->wv[1] = chan_const(x, "stddev", mv + 4096, nv, t->rank, nchw);
      L->wv[2] = nchw;
      if (L->wv[0] < 0 || L->wv[1] < 0) s = xfail(x);
    }
    free(mv);
    SC_TRY(s);
    L->wloaded = 1;
  }
  nchw = L->wv[2];
  int v = kt_form(x, t, nchw);
  TRYV(v);
  v = emit_binary(x, SC_BIN_SUB, v, L->wv[0]);
  if (v >= 0) v = emit_binary(x, SC_BIN_DIV, v, L->wv[1]);
  TRYV(v);
  set_out(out, v, nchw, t->rank);
  return SEGCAM_OK;
}

/* ---- TFOpLambda (tf.keras 2: TF functions applied to Keras tensors, F§3.1) ------------------- */

static int is_ref(const cJSON *v) {
  return cJSON_IsArray(v) && cJSON_GetArraySize(v) == 3 &&
         cJSON_IsString(cJSON_GetArrayItem(v, 0)) && is_int(cJSON_GetArrayItem(v, 1)) &&
         is_int(cJSON_GetArrayItem(v, 2));
}

static int lookup(kx *x, kmodel *m, const char *name, int ni, int ti, int mode, kt **out);

/* An operand: a Keras tensor reference or a number (a scalar constant in the form used). */
static int operand(kx *x, const cJSON *v, kt *t, int nchw, const char *what) {
  if (t) return kt_form(x, t, nchw);
  if (cJSON_IsNumber(v)) {
    float *d = sc_malloc(sizeof *d);
    if (!d) return -1;
    *d = (float)v->valuedouble;
    const int64_t one = 1;
    return cst(x, what, d, 1, &one);
  }
  lerr(x, SEGCAM_E_UNSUPPORTED, "operand '%s' is neither a tensor nor a number", what);
  return -1;
}

static segcam_status h_tfop(kx *x, klayer *L, kcall *c, kt *out) {
  const char *fn = jstr(L->cfg, "function", "");
  const cJSON *kw = c->kwargs;
  static const struct {
    const char *name;
    sc_binary_kind k;
  } bins[] = {{"__operators__.add", SC_BIN_ADD},     {"math.add", SC_BIN_ADD},
              {"math.subtract", SC_BIN_SUB},         {"__operators__.sub", SC_BIN_SUB},
              {"math.multiply", SC_BIN_MUL},         {"__operators__.mul", SC_BIN_MUL},
              {"math.truediv", SC_BIN_DIV},          {"math.divide", SC_BIN_DIV},
              {"__operators__.truediv", SC_BIN_DIV}, {"math.maximum", SC_BIN_MAX},
              {"math.minimum", SC_BIN_MIN}};
  static const struct {
    const char *name;
    sc_act_kind k;
  } unas[] = {{"nn.relu", SC_ACT_RELU},         {"math.sigmoid", SC_ACT_SIGMOID},
              {"nn.sigmoid", SC_ACT_SIGMOID},   {"math.tanh", SC_ACT_TANH},
              {"nn.tanh", SC_ACT_TANH},         {"math.exp", SC_ACT_EXP},
              {"math.abs", SC_ACT_ABS},         {"math.sqrt", SC_ACT_SQRT},
              {"math.negative", SC_ACT_NEG},    {"nn.silu", SC_ACT_SWISH},
              {"nn.swish", SC_ACT_SWISH},       {"math.softplus", SC_ACT_SOFTPLUS},
              {"nn.softplus", SC_ACT_SOFTPLUS}, {"nn.elu", SC_ACT_ELU}};
  if (c->n_in < 1) return lerr(x, SEGCAM_E_FORMAT, "no input");
  int r = c->in[0] ? c->in[0]->rank : 0;
  for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
    if (!streq(fn, bins[i].name)) continue;
    const cJSON *y = jget(kw, "y");
    kt *ty = NULL;
    if (is_ref(y) && lookup(x, x->curm, cJSON_GetArrayItem(y, 0)->valuestring,
                            (int)cJSON_GetArrayItem(y, 1)->valuedouble,
                            (int)cJSON_GetArrayItem(y, 2)->valuedouble, 0, &ty) != 0)
      return lerr(x, SEGCAM_E_FORMAT, "operand y refers to an unknown tensor");
    if (c->n_in == 2 && !ty) ty = c->in[1];
    kt *ts[2] = {c->in[0], ty};
    if (!c->in[0] && !ty) return lerr(x, SEGCAM_E_UNSUPPORTED, "both operands are constants");
    if (c->in[0] && ty && ty->rank != c->in[0]->rank)
      return lerr(x, SEGCAM_E_UNSUPPORTED, "operands of different ranks");
    if (!c->in[0]) r = ty->rank;
    int nchw = r == 4 && pick_nchw(ts, 2);
    int a = operand(x, c->konst[0], c->in[0], nchw, "x");
    TRYV(a);
    int b = operand(x, y, ty, nchw, "y");
    TRYV(b);
    int v = emit_binary(x, bins[i].k, a, b);
    TRYV(v);
    set_out(out, v, nchw, r);
    return SEGCAM_OK;
  }
  if (!c->in[0]) return lerr(x, SEGCAM_E_UNSUPPORTED, "a constant first argument to %s", fn);
  for (size_t i = 0; i < sizeof unas / sizeof unas[0]; i++) {
    if (!streq(fn, unas[i].name)) continue;
    actspec s = {.kind = ACT_ELEMENTWISE, .p = {.kind = unas[i].k, .alpha = 1.0f, .hi = INFINITY}};
    kcall one = *c;
    one.n_in = 1;
    return act_layer(x, &one, &s, out);
  }
  if (streq(fn, "nn.relu6") || streq(fn, "nn.leaky_relu") || streq(fn, "nn.gelu")) {
    actspec s = {.kind = ACT_ELEMENTWISE, .p = {.hi = INFINITY}};
    if (streq(fn, "nn.relu6"))
      s.p.kind = SC_ACT_RELU_TF, s.p.hi = 6.0f;
    else if (streq(fn, "nn.leaky_relu"))
      s.p.kind = SC_ACT_LEAKY_RELU, s.p.alpha = (float)jnum(kw, "alpha", 0.2);
    else
      s.p.kind = jbool(kw, "approximate", 0) ? SC_ACT_GELU_TANH : SC_ACT_GELU;
    kcall one = *c;
    one.n_in = 1;
    return act_layer(x, &one, &s, out);
  }
  if (streq(fn, "nn.softmax") || streq(fn, "math.softmax")) {
    actspec s = {.kind = ACT_SOFTMAX, .axis = jint(kw, "axis", -1)};
    kcall one = *c;
    one.n_in = 1;
    return act_layer(x, &one, &s, out);
  }
  if (streq(fn, "concat")) {
    kcall cc = *c;
    for (int i = 0; i < c->n_in; i++)
      if (!c->in[i]) return lerr(x, SEGCAM_E_UNSUPPORTED, "concat of a constant");
    SC_TRY(same_rank(x, &cc));
    int nchw = r == 4 && (pick_nchw(c->in, c->n_in) || x->channels_last);
    int a = map_axis(r, jint(kw, "axis", 0), nchw), in[KMAX_IN];
    if (a < 0) return lerr(x, SEGCAM_E_FORMAT, "concat axis out of range");
    for (int i = 0; i < c->n_in; i++) {
      in[i] = kt_form(x, c->in[i], nchw);
      TRYV(in[i]);
    }
    int v = emit_concat(x, in, c->n_in, a);
    TRYV(v);
    set_out(out, v, nchw, r);
    return SEGCAM_OK;
  }
  int v1 = streq(fn, "compat.v1.image.resize_bilinear") || streq(fn, "image.resize_bilinear") ||
           streq(fn, "compat.v1.image.resize_nearest_neighbor") ||
           streq(fn, "image.resize_nearest_neighbor");
  if (streq(fn, "image.resize") || v1) {
    const cJSON *size = jget(kw, "size");
    if (!cJSON_IsArray(size) || cJSON_GetArraySize(size) != 2 ||
        !is_int(cJSON_GetArrayItem(size, 0)) || !is_int(cJSON_GetArrayItem(size, 1)))
      return lerr(x, SEGCAM_E_UNSUPPORTED, "%s: only a constant size [h, w] is supported", fn);
    int h = (int)cJSON_GetArrayItem(size, 0)->valuedouble;
    int w = (int)cJSON_GetArrayItem(size, 1)->valuedouble;
    if (h < 1 || w < 1) return lerr(x, SEGCAM_E_FORMAT, "invalid resize size");
    sc_resize_params *p = NEWP(sc_resize_params);
    if (!p) return SEGCAM_E_NOMEM;
    segcam_status s;
    if (v1) {
      const char *m = strstr(fn, "bilinear") ? "bilinear" : "nearest";
      s = resize_mode(x, m, jbool(kw, "half_pixel_centers", 0), p);
      if (s == SEGCAM_OK && jbool(kw, "align_corners", 0)) {
        p->coord = SC_COORD_ALIGN_CORNERS;
        if (p->mode == SC_RESIZE_NEAREST) p->nearest = SC_NEAREST_ROUND_PREFER_CEIL;
      }
    } else {
      if (jbool(kw, "antialias", 0) || jbool(kw, "preserve_aspect_ratio", 0)) {
        free(p);
        return lerr(x, SEGCAM_E_UNSUPPORTED, "antialias/preserve_aspect_ratio");
      }
      s = resize_mode(x, jstr(kw, "method", "bilinear"), 1, p);
    }
    if (s != SEGCAM_OK) {
      free(p);
      return s;
    }
    p->n_fixed = 2;
    p->fixed_sizes[0] = h;
    p->fixed_sizes[1] = w;
    kcall one = *c;
    one.n_in = 1;
    return resize_common(x, &one, 2, 1, p, out);
  }
  return lerr(x, SEGCAM_E_UNSUPPORTED,
              "the TensorFlow function '%s' is not supported; export the model to ONNX "
              "(tf2onnx) or rebuild it with Keras layers",
              fn);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static const struct {
  const char *cls;
  handler_fn fn;
} handlers[] = {
    {"Conv2D", h_conv},
    {"Convolution2D", h_conv},
    {"Conv1D", h_conv},
    {"Convolution1D", h_conv},
    {"MaxPooling1D", h_maxpool},
    {"MaxPool1D", h_maxpool},
    {"AveragePooling1D", h_avgpool},
    {"AvgPool1D", h_avgpool},
    {"GlobalAveragePooling1D", h_gap},
    {"GlobalAvgPool1D", h_gap},
    {"GlobalMaxPooling1D", h_gmp},
    {"GlobalMaxPool1D", h_gmp},
    {"UpSampling1D", h_upsample},
    {"Conv2DTranspose", h_convt},
    {"Convolution2DTranspose", h_convt},
    {"Conv1DTranspose", h_convt},
    {"Convolution1DTranspose", h_convt},
    {"DepthwiseConv2D", h_dwconv},
    {"DepthwiseConv1D", h_dwconv},
    {"SeparableConv2D", h_sepconv},
    {"SeparableConvolution2D", h_sepconv},
    {"SeparableConv1D", h_sepconv},
    {"SeparableConvolution1D", h_sepconv},
    {"Dense", h_dense},
    {"BatchNormalization", h_bn},
    {"BatchNormalizationV1", h_bn},
    {"BatchNormalizationV2", h_bn},
    {"SyncBatchNormalization", h_bn},
    {"LayerNormalization", h_ln},
    {"Activation", h_activation},
    {"ReLU", h_relu},
    {"LeakyReLU", h_leaky},
    {"PReLU", h_prelu},
    {"ELU", h_elu},
    {"ThresholdedReLU", h_thresh},
    {"Softmax", h_softmax},
    {"Dropout", h_identity},
    {"SpatialDropout1D", h_identity},
    {"SpatialDropout2D", h_identity},
    {"SpatialDropout3D", h_identity},
    {"GaussianNoise", h_identity},
    {"GaussianDropout", h_identity},
    {"AlphaDropout", h_identity},
    {"ActivityRegularization", h_identity},
    {"Identity", h_identity},
    {"MaxPooling2D", h_maxpool},
    {"MaxPool2D", h_maxpool},
    {"AveragePooling2D", h_avgpool},
    {"AvgPool2D", h_avgpool},
    {"GlobalAveragePooling2D", h_gap},
    {"GlobalAvgPool2D", h_gap},
    {"GlobalMaxPooling2D", h_gmp},
    {"GlobalMaxPool2D", h_gmp},
    {"UpSampling2D", h_upsample},
    {"Resizing", h_resizing},
    {"ZeroPadding2D", h_zeropad},
    {"ZeroPadding1D", h_zeropad},
    {"Cropping2D", h_crop},
    {"Cropping1D", h_crop},
    {"Flatten", h_flatten},
    {"Reshape", h_reshape},
    {"Permute", h_permute},
    {"Concatenate", h_concat},
    {"Add", h_add},
    {"Subtract", h_sub},
    {"Multiply", h_mul},
    {"Maximum", h_max},
    {"Minimum", h_min},
    {"Average", h_avg},
    {"Rescaling", h_rescale},
    {"Normalization", h_norm},
    {"TFOpLambda", h_tfop},
};

static int is_model_class(const char *cls) {
  return streq(cls, "Functional") || streq(cls, "Model") || streq(cls, "Sequential");
}

static segcam_status unknown_class(kx *x, const klayer *L) {
  const char *reg = jstr(L->j, "registered_name", NULL);
  if (streq(L->cls, "Lambda"))
    return lerr(x, SEGCAM_E_UNSUPPORTED,
                "a Lambda layer stores Python bytecode, which segcam "
                "cannot run; rebuild the model with built-in layers (or export it to ONNX)");
  if (strstr(L->cls, "1D") || strstr(L->cls, "3D"))
    return lerr(x, SEGCAM_E_UNSUPPORTED,
                "this 1-D or 3-D layer is not supported (of the 1-D layers only Conv1D, "
                "SeparableConv1D, DepthwiseConv1D, Conv1DTranspose, Max/AveragePooling1D, "
                "GlobalMax/AveragePooling1D, UpSampling1D, ZeroPadding1D, Cropping1D and "
                "SpatialDropout1D are)");
  return lerr(x, SEGCAM_E_UNSUPPORTED,
              "the layer class '%s'%s%s%s is not supported (a custom "
              "or unsupported layer); export the model to ONNX or replace the layer",
              L->cls, reg ? " (registered as '" : "", reg ? reg : "", reg ? "')" : "");
}

/* ---- models ------------------------------------------------------------------------------- */

static segcam_status build_model(kx *x, kmodel *m, const cJSON *model, const cJSON *root, kt **in,
                                 int n_in, kt **outs, int *n_outs);

/* Keras's to_snake_case (keras/src/utils/naming.py): drop non-word characters, then '_' before
 * each capitalised word that follows a character, then between a lower and an upper letter. */
static void snake_case(const char *cls, char *out, size_t size) {
  char a[256], b[512];
  size_t n = 0, m = 0;
  for (const char *p = cls; *p && n + 1 < sizeof a; p++)
    if (isalnum((unsigned char)*p) || *p == '_') a[n++] = *p;
  a[n] = '\0';
  for (size_t i = 0; i < n && m + 3 < sizeof b;) {
    if (i + 2 < n && isupper((unsigned char)a[i + 1]) && islower((unsigned char)a[i + 2])) {
      size_t j = i + 2;
      while (j < n && islower((unsigned char)a[j])) j++;
      b[m++] = a[i];
      b[m++] = '_';
      for (size_t k = i + 1; k < j && m + 1 < sizeof b; k++) b[m++] = a[k];
      i = j;
    } else {
      b[m++] = a[i++];
    }
  }
  b[m] = '\0';
  size_t k = 0;
  /* room for the three bytes one step may write, and the terminator */
  for (size_t i = 0; i < m && k + 3 < size;) {
    if (i + 1 < m && islower((unsigned char)b[i]) && isupper((unsigned char)b[i + 1])) {
      out[k++] = b[i];
      out[k++] = '_';
      out[k++] = (char)tolower((unsigned char)b[i + 1]);
      i += 2;
    } else {
      out[k++] = (char)tolower((unsigned char)b[i++]);
    }
  }
  out[k] = '\0';
}

/* Assigns .keras keys: snake_case(class) plus a counter per name, in container order, skipping
 * the InputLayer of a Sequential (F§2.2). */
static void assign_keys(kmodel *m, int sequential) {
  for (int i = 0; i < m->n; i++) {
    klayer *L = &m->layers[i];
    if (sequential && L->is_input) continue;
    char base[96];
    snake_case(L->cls, base, sizeof base);
    int seen = 0;
    for (int k = 0; k < i; k++) {
      if (sequential && m->layers[k].is_input) continue;
      char other[96];
      snake_case(m->layers[k].cls, other, sizeof other);
      if (strcmp(other, base) == 0) seen++;
    }
    if (seen)
      snprintf(L->key, sizeof L->key, "%s_%d", base, seen);
    else
      snprintf(L->key, sizeof L->key, "%s", base);
  }
}

static klayer *find_layer(kmodel *m, const char *name) {
  for (int i = 0; i < m->n; i++)
    if (streq(m->layers[i].name, name)) return &m->layers[i];
  return NULL;
}

/* Reference modes: inbound nodes in Keras 2 list style, Keras 3 keras_history, and the model's
 * input/output lists.  They differ only for a nested model called more than once.  Keras counts
 * the built-in node that links a nested model's own input to its output as node 0, so the config
 * numbers its calls from 1, except where the nested model has no such node (a Keras 2 Sequential
 * built without an input shape; a Keras 3 Sequential) and in Keras 3 keras_history, which drops
 * the nodes of other models (F§3.1, §3.2; tf_keras/engine/functional.py _should_skip_first_node,
 * keras/src/models/functional.py get_config and serialize_node). */
enum { REF_LIST = 0, REF_HISTORY = 1, REF_IO = 2 };

static int node_offset(const kx *x, const klayer *L, int mode) {
  if (mode == REF_HISTORY) return 0;
  if (!streq(L->cls, "Sequential")) return 1;
  if (x->k3) return 0;
  const cJSON *layers = cJSON_IsArray(L->cfg) ? L->cfg : jget(L->cfg, "layers");
  const cJSON *first = cJSON_GetArrayItem(layers, 0);
  return streq(jstr(first, "class_name", NULL), "InputLayer") ||
         jget(jget(first, "config"), "batch_input_shape") != NULL;
}

/* 0 = found, 1 = not produced yet, -1 = invalid (unknown layer, index out of range). */
static int lookup(kx *x, kmodel *m, const char *name, int ni, int ti, int mode, kt **out) {
  klayer *L = find_layer(m, name);
  if (!L) return -1;
  int call = ni;
  if (L->is_input) {
    call = 0;
    if (!L->outs || !L->outs[0]) return -1;
  } else if (L->is_model) {
    call = L->n_calls == 1 ? 0 : ni - node_offset(x, L, mode);
    if (call < 0 || call >= L->n_calls) call = ni;
  }
  if (call < 0 || call >= (L->is_input ? 1 : L->n_calls)) return -1;
  if (!L->is_input && call >= L->done) return 1;
  if (ti < 0 || ti >= L->n_outs[call]) return -1;
  *out = L->outs[call][ti];
  return 0;
}

/* Collects the __keras_tensor__ references of a Keras 3 argument structure, in order. */
static int k3_refs(const cJSON *v, const cJSON **refs, int n, int max) {
  if (!v) return n;
  if (cJSON_IsObject(v)) {
    if (streq(jstr(v, "class_name", NULL), "__keras_tensor__")) {
      if (n < max) refs[n] = jget(jget(v, "config"), "keras_history");
      return n + 1;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, v) n = k3_refs(e, refs, n, max);
    return n;
  }
  if (cJSON_IsArray(v)) {
    const cJSON *e;
    cJSON_ArrayForEach(e, v) n = k3_refs(e, refs, n, max);
  }
  return n;
}

/* Resolves one inbound node into a call: 1 ready, 0 an input is not produced yet, -1 error. */
static int gather(kx *x, kmodel *m, klayer *L, const cJSON *node, kcall *c) {
  memset(c, 0, sizeof *c);
  x->cur = L;
  if (cJSON_IsObject(node)) {
    /* Keras 3: {"args": [...], "kwargs": {...}} */
    const cJSON *refs[KMAX_IN];
    int n = k3_refs(jget(node, "args"), refs, 0, KMAX_IN);
    if (n > KMAX_IN) {
      lerr(x, SEGCAM_E_UNSUPPORTED, "more than %d input tensors", KMAX_IN);
      return -1;
    }
    c->kwargs = jget(node, "kwargs");
    for (int i = 0; i < n; i++) {
      const cJSON *h = refs[i];
      if (!is_ref(h)) {
        lerr(x, SEGCAM_E_FORMAT, "an inbound tensor has no valid keras_history");
        return -1;
      }
      int r = lookup(x, m, cJSON_GetArrayItem(h, 0)->valuestring,
                     (int)cJSON_GetArrayItem(h, 1)->valuedouble,
                     (int)cJSON_GetArrayItem(h, 2)->valuedouble, REF_HISTORY, &c->in[i]);
      if (r == 1) return 0;
      if (r < 0) {
        lerr(x, SEGCAM_E_FORMAT, "input '%s' (node %d, tensor %d) does not exist",
             cJSON_GetArrayItem(h, 0)->valuestring, (int)cJSON_GetArrayItem(h, 1)->valuedouble,
             (int)cJSON_GetArrayItem(h, 2)->valuedouble);
        return -1;
      }
    }
    c->n_in = n;
    return 1;
  }
  /* Keras 2: [[name, node, tensor, kwargs], ...] */
  c->list_style = 1;
  int n = cJSON_GetArraySize(node);
  if (!cJSON_IsArray(node) || n > KMAX_IN) {
    lerr(x, SEGCAM_E_FORMAT, "an inbound node is not a list of at most %d tensors", KMAX_IN);
    return -1;
  }
  for (int i = 0; i < n; i++) {
    const cJSON *e = cJSON_GetArrayItem(node, i);
    int len = cJSON_GetArraySize(e);
    if (!cJSON_IsArray(e) || len < 3 || len > 4 || !cJSON_IsString(cJSON_GetArrayItem(e, 0))) {
      lerr(x, SEGCAM_E_FORMAT, "an inbound tensor is not [layer, node, tensor(, kwargs)]");
      return -1;
    }
    if (i == 0 && len == 4) c->kwargs = cJSON_GetArrayItem(e, 3);
    const char *name = cJSON_GetArrayItem(e, 0)->valuestring;
    if (streq(name, "_CONSTANT_VALUE")) {
      c->konst[i] = cJSON_GetArrayItem(e, 2);
      continue;
    }
    if (!is_int(cJSON_GetArrayItem(e, 1)) || !is_int(cJSON_GetArrayItem(e, 2))) {
      lerr(x, SEGCAM_E_FORMAT, "an inbound tensor has non-integer indices");
      return -1;
    }
    int r = lookup(x, m, name, (int)cJSON_GetArrayItem(e, 1)->valuedouble,
                   (int)cJSON_GetArrayItem(e, 2)->valuedouble, REF_LIST, &c->in[i]);
    if (r == 1) return 0;
    if (r < 0) {
      lerr(x, SEGCAM_E_FORMAT, "input '%s' (node %d, tensor %d) does not exist", name,
           (int)cJSON_GetArrayItem(e, 1)->valuedouble, (int)cJSON_GetArrayItem(e, 2)->valuedouble);
      return -1;
    }
  }
  c->n_in = n;
  /* TF-op layers may take tensors through kwargs (e.g. y of math.add): wait for them too */
  const cJSON *kv;
  cJSON_ArrayForEach(kv, c->kwargs) {
    kt *dummy;
    if (is_ref(kv) && find_layer(m, cJSON_GetArrayItem(kv, 0)->valuestring) &&
        lookup(x, m, cJSON_GetArrayItem(kv, 0)->valuestring,
               (int)cJSON_GetArrayItem(kv, 1)->valuedouble,
               (int)cJSON_GetArrayItem(kv, 2)->valuedouble, REF_LIST, &dummy) == 1)
      return 0;
  }
  return 1;
}

/* Stores one call's outputs on the layer. */
static segcam_status store_outs(klayer *L, int call, kt **outs, int n) {
  L->outs[call] = sc_calloc_n((size_t)n + 1, sizeof **L->outs);
  if (!L->outs[call]) return SEGCAM_E_NOMEM;
  memcpy(L->outs[call], outs, (size_t)n * sizeof *outs);
  L->n_outs[call] = n;
  return SEGCAM_OK;
}

/* The user-visible name of a call: "name", then "name:1", "name:2", ... */
static void call_name(const klayer *L, int call, char *buf, size_t size) {
  if (call == 0)
    snprintf(buf, size, "%s", L->full);
  else
    snprintf(buf, size, "%s:%d", L->full, call);
}

/* Names the node producing the layer's output; adds an Identity when the layer made no node of
 * its own for it (Dropout, linear Activation) or the value is an input's. */
static segcam_status name_output(kx *x, const klayer *L, int call, int first_node, kcall *c,
                                 kt *o) {
  int nchw = o->vc >= 0, v = nchw ? o->vc : o->vk;
  if (v < 0) return lerr(x, SEGCAM_E_INTERNAL, "the translation produced no output");
  int fresh = x->g->values[v].producer >= first_node;
  for (int i = 0; i < c->n_in && fresh; i++)
    if (c->in[i] && (c->in[i]->vk == v || c->in[i]->vc == v)) fresh = 0;
  if (!fresh) {
    v = emit(x, SC_OP_IDENTITY, &v, 1, NULL);
    TRYV(v);
  }
  set_out(o, v, nchw, o->rank);
  sc_node *n = &x->g->nodes[x->g->values[v].producer];
  char name[1024];
  call_name(L, call, name, sizeof name);
  free(n->name);
  n->name = sc_strdup(name);
  if (!n->name) return SEGCAM_E_NOMEM;
  n->user_nhwc = nchw && o->rank == 4;
  return SEGCAM_OK;
}

/* Translates one call of a layer (a nested model is inlined). */
static segcam_status translate(kx *x, kmodel *m, klayer *L, int call, kcall *c) {
  x->cur = L;
  x->curm = m;
  if (L->is_model) {
    kmodel sub;
    memset(&sub, 0, sizeof sub);
    if (m->depth + 1 > 63) return lerr(x, SEGCAM_E_UNSUPPORTED, "models nested too deeply");
    kr_layer_ref path[64];
    memcpy(path, m->path, (size_t)m->depth * sizeof *path);
    path[m->depth] = (kr_layer_ref){L->name, L->cls, L->key};
    sub.path = path;
    sub.depth = m->depth + 1;
    char pre[1024];
    call_name(L, call, pre, sizeof pre - 1);
    strcat(pre, "/");
    sub.prefix = pre;
    for (int i = 0; i < c->n_in; i++)
      if (!c->in[i]) return lerr(x, SEGCAM_E_UNSUPPORTED, "a constant input to a nested model");
    kt *outs[KMAX_OUT];
    int n_outs = 0;
    SC_TRY(build_model(x, &sub, L->j, NULL, c->in, c->n_in, outs, &n_outs));
    x->cur = L;
    x->curm = m;
    /* the nested model as one layer: an Identity of its first output, named after it */
    int first = x->g->n_nodes;
    kt *o = kt_new(x, -1, -1, 0);
    if (!o || n_outs < 1) return o ? lerr(x, SEGCAM_E_FORMAT, "no outputs") : SEGCAM_E_NOMEM;
    *o = *outs[0];
    if (o->vc >= 0) o->vk = -1;
    kcall none;
    memset(&none, 0, sizeof none);
    none.n_in = 1;
    none.in[0] = outs[0];
    SC_TRY(name_output(x, L, call, first, &none, o));
    outs[0] = o;
    return store_outs(L, call, outs, n_outs);
  }
  handler_fn fn = NULL;
  for (size_t i = 0; i < sizeof handlers / sizeof handlers[0] && !fn; i++)
    if (streq(L->cls, handlers[i].cls)) fn = handlers[i].fn;
  if (!fn) return unknown_class(x, L);
  int first = x->g->n_nodes;
  kt o = {-1, -1, 0};
  x->err = SEGCAM_OK;
  SC_TRY(fn(x, L, c, &o));
  SC_TRY(name_output(x, L, call, first, c, &o));
  kt *p = kt_new(x, o.vk, o.vc, o.rank);
  if (!p) return SEGCAM_E_NOMEM;
  return store_outs(L, call, &p, 1);
}

/* A model input from an InputLayer config: a graph input in Keras order and a node that stands
 * for the InputLayer (so that every model lists its input as a layer, as model.summary() does
 * for Functional models): for a 4-D channels_last model its NCHW transpose, else an Identity. */
static segcam_status make_input(kx *x, const char *name, const char *full, const cJSON *shape,
                                kt **out) {
  int r = cJSON_GetArraySize(shape);
  if (!cJSON_IsArray(shape) || r < 1 || r > SEGCAM_MAX_DIMS)
    return lerr(x, SEGCAM_E_FORMAT, "input '%s' has no valid batch shape", name);
  sc_shape s;
  memset(&s, 0, sizeof s);
  s.ndim = r;
  for (int i = 0; i < r; i++) {
    const cJSON *e = cJSON_GetArrayItem(shape, i);
    s.d[i] = cJSON_IsNull(e) ? -1 : is_int(e) && e->valuedouble >= 1 ? (int64_t)e->valuedouble : 0;
    if (s.d[i] == 0) return lerr(x, SEGCAM_E_FORMAT, "input '%s' has an invalid dimension", name);
  }
  if (x->g->n_inputs >= 4) return lerr(x, SEGCAM_E_UNSUPPORTED, "more than 4 model inputs");
  if (sc_graph_find_value(x->g, name) >= 0)
    return lerr(x, SEGCAM_E_FORMAT, "two inputs are named '%s'", name);
  int v = sc_graph_add_value(x->g, name, SC_F32, &s);
  TRYV(v);
  x->g->inputs[x->g->n_inputs++] = v;
  kt *t = kt_new(x, v, -1, r);
  if (!t) return SEGCAM_E_NOMEM;
  if (x->g->n_inputs == 1)
    x->g->input_layout = r == 4 && x->channels_last ? SEGCAM_LAYOUT_NHWC : SEGCAM_LAYOUT_NCHW;
  int nhwc = r == 4 && x->channels_last;
  if (nhwc) {
    if (kt_nchw(x, t) < 0) return xfail(x);
  } else {
    t->vk = emit_t(x, "InputLayer", SC_OP_IDENTITY, &v, 1, NULL);
    TRYV(t->vk);
  }
  sc_node *n = &x->g->nodes[x->g->values[nhwc ? t->vc : t->vk].producer];
  free(n->type);
  n->type = sc_strdup("InputLayer");
  n->name = sc_strdup(full);
  if (!n->type || !n->name) return SEGCAM_E_NOMEM;
  n->user_nhwc = nhwc;
  *out = t;
  return SEGCAM_OK;
}

static const cJSON *batch_shape(const cJSON *cfg) {
  const cJSON *s = jget(cfg, "batch_shape");
  if (!cJSON_IsArray(s)) s = jget(cfg, "batch_input_shape");
  return cJSON_IsArray(s) ? s : NULL;
}

/* Fills m->layers from a config "layers" list. */
static segcam_status load_layers(kx *x, kmodel *m, const cJSON *layers, int sequential) {
  int n = cJSON_GetArraySize(layers);
  if (!cJSON_IsArray(layers) || n < 1)
    return lerr(x, SEGCAM_E_FORMAT, "a model config without layers");
  m->layers = sc_calloc_n((size_t)n, sizeof *m->layers);
  if (!m->layers) return SEGCAM_E_NOMEM;
  m->n = n;
  for (int i = 0; i < n; i++) {
    klayer *L = &m->layers[i];
    const cJSON *j = cJSON_GetArrayItem(layers, i);
    L->j = j;
    L->owner = m;
    L->cfg = jget(j, "config");
    L->cls = jstr(j, "class_name", NULL);
    L->name = jstr(j, "name", jstr(L->cfg, "name", NULL));
    if (!L->cls || !L->name || !cJSON_IsObject(L->cfg))
      return lerr(x, SEGCAM_E_FORMAT, "layer %d of the config has no class_name, name or config",
                  i);
    L->full = sc_malloc(strlen(m->prefix) + strlen(L->name) + 1);
    if (!L->full) return SEGCAM_E_NOMEM;
    strcpy(L->full, m->prefix);
    strcat(L->full, L->name);
    for (int k = 0; k < i; k++)
      if (streq(m->layers[k].name, L->name))
        return lerr(x, SEGCAM_E_FORMAT, "two layers are named '%s'", L->name);
    L->is_input = streq(L->cls, "InputLayer");
    L->is_model =
        is_model_class(L->cls) && (cJSON_IsArray(L->cfg) || cJSON_IsArray(jget(L->cfg, "layers")));
    L->nodes = sequential ? NULL : jget(j, "inbound_nodes");
    L->n_calls = sequential ? 1 : cJSON_GetArraySize(L->nodes);
    if (!sequential && !L->is_input && !cJSON_IsArray(L->nodes))
      return lerr(x, SEGCAM_E_FORMAT, "layer '%s' has no inbound_nodes", L->name);
    int slots = L->n_calls > 0 ? L->n_calls : 1;
    L->outs = sc_calloc_n((size_t)slots, sizeof *L->outs);
    L->n_outs = sc_calloc_n((size_t)slots, sizeof *L->n_outs);
    if (!L->outs || !L->n_outs) return SEGCAM_E_NOMEM;
    for (int k = 0; k < 8; k++) L->wv[k] = -1;
  }
  assign_keys(m, sequential);
  return SEGCAM_OK;
}

static void free_layers(kmodel *m) {
  for (int i = 0; i < m->n; i++) {
    klayer *L = &m->layers[i];
    free(L->full);
    if (L->outs)
      for (int k = 0; k < (L->n_calls > 0 ? L->n_calls : 1); k++) free(L->outs[k]);
    free(L->outs);
    free(L->n_outs);
  }
  free(m->layers);
  m->layers = NULL;
  m->n = 0;
}

/* Flattens input_layers/output_layers (a flat triple, a list of triples, or a dict of them). */
static int io_refs(const cJSON *v, const cJSON **refs, int n, int max) {
  if (is_ref(v)) {
    if (n < max) refs[n] = v;
    return n + 1;
  }
  const cJSON *e;
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) cJSON_ArrayForEach(e, v) n = io_refs(e, refs, n, max);
  return n;
}

static segcam_status build_functional(kx *x, kmodel *m, const cJSON *cfg, kt **in, int n_in,
                                      kt **outs, int *n_outs) {
  SC_TRY(load_layers(x, m, jget(cfg, "layers"), 0));
  const cJSON *irefs[8], *orefs[KMAX_OUT];
  int ni = io_refs(jget(cfg, "input_layers"), irefs, 0, 8);
  int no = io_refs(jget(cfg, "output_layers"), orefs, 0, KMAX_OUT);
  x->cur = NULL;
  if (ni < 1 || ni > 8) return lerr(x, SEGCAM_E_FORMAT, "the model lists %d inputs", ni);
  if (no < 1 || no > KMAX_OUT)
    return lerr(x, SEGCAM_E_UNSUPPORTED, "the model lists %d outputs", no);
  if (in && ni != n_in)
    return lerr(x, SEGCAM_E_FORMAT, "nested model '%s' takes %d inputs but is called with %d",
                m->prefix, ni, n_in);
  for (int i = 0; i < ni; i++) {
    klayer *L = find_layer(m, cJSON_GetArrayItem(irefs[i], 0)->valuestring);
    if (!L || !L->is_input)
      return lerr(x, SEGCAM_E_FORMAT, "input '%s' is not an InputLayer of the model",
                  cJSON_GetArrayItem(irefs[i], 0)->valuestring);
    x->cur = L;
    kt *t = in ? in[i] : NULL;
    if (!t) SC_TRY(make_input(x, L->name, L->full, batch_shape(L->cfg), &t));
    SC_TRY(store_outs(L, 0, &t, 1));
    L->done = 1;
  }
  /* process calls whose inputs exist until none is left (layers may precede their inputs when
   * layers are shared or nested; F§3.3) */
  for (;;) {
    int pending = 0, progress = 0;
    for (int i = 0; i < m->n; i++) {
      klayer *L = &m->layers[i];
      if (L->is_input) continue;
      while (L->done < L->n_calls) {
        kcall c;
        int r = gather(x, m, L, cJSON_GetArrayItem(L->nodes, L->done), &c);
        if (r < 0) return xfail(x);
        if (r == 0) break;
        SC_TRY(translate(x, m, L, L->done, &c));
        L->done++;
        progress = 1;
      }
      if (L->done < L->n_calls) pending++;
    }
    if (!pending) break;
    if (!progress) {
      for (int i = 0; i < m->n; i++)
        if (!m->layers[i].is_input && m->layers[i].done < m->layers[i].n_calls) {
          x->cur = &m->layers[i];
          break;
        }
      return lerr(x, SEGCAM_E_FORMAT,
                  "its inputs can never be computed (a cycle or a reference "
                  "to a missing layer)");
    }
  }
  x->cur = NULL;
  for (int i = 0; i < no; i++) {
    const cJSON *r = orefs[i];
    int st = lookup(x, m, cJSON_GetArrayItem(r, 0)->valuestring,
                    (int)cJSON_GetArrayItem(r, 1)->valuedouble,
                    (int)cJSON_GetArrayItem(r, 2)->valuedouble, REF_IO, &outs[i]);
    if (st != 0)
      return lerr(x, SEGCAM_E_FORMAT, "output '%s' does not exist",
                  cJSON_GetArrayItem(r, 0)->valuestring);
  }
  *n_outs = no;
  return SEGCAM_OK;
}

/* The input shape of a top-level Sequential model (F§3.1): an InputLayer, the first layer's
 * batch_input_shape, or the build shape. */
static const cJSON *seq_input_shape(const cJSON *layers, const cJSON *cfg, const cJSON *root) {
  const cJSON *first = cJSON_GetArrayItem(layers, 0), *s = batch_shape(jget(first, "config"));
  if (!s) s = jget(cfg, "build_input_shape");
  if (!cJSON_IsArray(s)) s = jget(jget(root, "build_config"), "input_shape");
  return cJSON_IsArray(s) ? s : NULL;
}

static segcam_status build_sequential(kx *x, kmodel *m, const cJSON *cfg, const cJSON *root, kt *in,
                                      kt **out) {
  const cJSON *layers = cJSON_IsArray(cfg) ? cfg : jget(cfg, "layers");
  SC_TRY(load_layers(x, m, layers, 1));
  kt *cur = in;
  if (!cur) {
    const cJSON *shape = seq_input_shape(layers, cfg, root);
    klayer *L0 = &m->layers[0];
    x->cur = L0;
    if (!shape)
      return lerr(x, SEGCAM_E_FORMAT,
                  "the Sequential model has no input shape (it was saved "
                  "before being built)");
    char name[512];
    if (L0->is_input)
      snprintf(name, sizeof name, "%s", L0->name);
    else
      snprintf(name, sizeof name, "%s_input", L0->name); /* Keras's automatic input name */
    SC_TRY(make_input(x, name, name, shape, &cur));
  }
  for (int i = 0; i < m->n; i++) {
    klayer *L = &m->layers[i];
    if (L->is_input) continue;
    kcall c;
    memset(&c, 0, sizeof c);
    c.in[0] = cur;
    c.n_in = 1;
    SC_TRY(translate(x, m, L, 0, &c));
    L->done = 1;
    cur = L->outs[0][0];
  }
  *out = cur;
  return SEGCAM_OK;
}

static segcam_status build_model(kx *x, kmodel *m, const cJSON *model, const cJSON *root, kt **in,
                                 int n_in, kt **outs, int *n_outs) {
  const char *cls = jstr(model, "class_name", "");
  const cJSON *cfg = jget(model, "config");
  segcam_status st;
  if (streq(cls, "Sequential")) {
    if (in && n_in != 1) {
      st = lerr(x, SEGCAM_E_FORMAT, "a nested Sequential model called with %d inputs", n_in);
    } else {
      st = build_sequential(x, m, cfg, root, in ? in[0] : NULL, &outs[0]);
      *n_outs = 1;
    }
  } else if (streq(cls, "Functional") || streq(cls, "Model")) {
    if (!cJSON_IsArray(jget(cfg, "layers")))
      st = sc_error(SEGCAM_E_UNSUPPORTED,
                    "%s: model class '%s' has no layer graph in its config "
                    "(a subclassed model); only Sequential and Functional models can be loaded",
                    x->info->path, cls);
    else
      st = build_functional(x, m, cfg, in, n_in, outs, n_outs);
  } else {
    st = sc_error(SEGCAM_E_UNSUPPORTED,
                  "%s: model class '%s' is not Sequential or Functional (a "
                  "subclassed model has no graph segcam can read); export it to ONNX instead",
                  x->info->path, cls);
  }
  free_layers(m);
  return st;
}

/* ---- entry ------------------------------------------------------------------------------- */

/* Counts data_format values anywhere in the config. */
static void count_formats(const cJSON *v, int *cl, int *cf) {
  const cJSON *e;
  if (cJSON_IsObject(v)) {
    const char *df = jstr(v, "data_format", NULL);
    if (streq(df, "channels_last")) (*cl)++;
    if (streq(df, "channels_first")) (*cf)++;
  }
  if (cJSON_IsObject(v) || cJSON_IsArray(v)) cJSON_ArrayForEach(e, v) count_formats(e, cl, cf);
}

segcam_status sc_keras_build(sc_graph *g, const char *config_json, const kr_info *info,
                             const kr_source *src) {
  kx x;
  memset(&x, 0, sizeof x);
  x.g = g;
  x.info = info;
  x.src = src;
  int zip = g->format && streq(g->format, "keras-zip");
  x.k3 = info->major >= 3 || (info->major == 0 && zip);
  /* bilinear resizes without half-pixel centres: standalone Keras (no "-tf", before 2.4, when
   * Keras became a wrapper of tf.keras) and tf.keras up to TF 1.14; "2.2.4-tf" spans TF 1.13 to
   * 2.1, across the change (F§4.5) */
  if (info->major == 2) {
    int v = info->minor * 1000 + info->patch;
    if (info->tf_suffix) {
      x.legacy_resize = v < 2004;
      x.resize_guess = v == 2004;
    } else {
      x.legacy_resize = info->minor < 4;
    }
  }
  if (streq(info->backend, "cntk"))
    sc_warn("%s: saved with the CNTK backend; segcam computes with TensorFlow semantics",
            info->path);
  char *clean = json_sanitize(config_json);
  if (!clean) return SEGCAM_E_NOMEM;
  cJSON *root = cJSON_Parse(clean);
  segcam_status st = SEGCAM_OK;
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= clean && at <= clean + strlen(clean) ? (long)(at - clean) : -1;
    st = sc_error(SEGCAM_E_FORMAT, "%s: the model config is not valid JSON (near byte %ld)",
                  info->path, off);
  } else if (!cJSON_IsObject(root) || !jget(root, "config")) {
    st = sc_error(SEGCAM_E_FORMAT, "%s: the model config has no class_name/config", info->path);
  }
  if (st == SEGCAM_OK) {
    int cl = 0, cf = 0;
    count_formats(root, &cl, &cf);
    x.channels_last = !(cf > 0 && cl == 0);
    kmodel top;
    memset(&top, 0, sizeof top);
    top.prefix = "";
    kr_layer_ref none[1];
    top.path = none;
    kt *outs[KMAX_OUT];
    int n_outs = 0;
    st = build_model(&x, &top, root, root, NULL, 0, outs, &n_outs);
    x.cur = NULL;
    if (st == SEGCAM_OK && n_outs > 4)
      st = sc_error(SEGCAM_E_UNSUPPORTED, "%s: %d model outputs (at most 4)", info->path, n_outs);
    for (int i = 0; i < n_outs && st == SEGCAM_OK; i++) {
      /* graph outputs in Keras order, as the user reads them */
      int v = kt_keras(&x, outs[i]);
      if (v < 0)
        st = xfail(&x);
      else
        g->outputs[g->n_outputs++] = v;
    }
  }
  if (st == SEGCAM_OK && g->n_inputs < 1)
    st = sc_error(SEGCAM_E_FORMAT, "%s: the model has no input", info->path);
  if (st == SEGCAM_OK) st = sc_graph_validate(g);
  cJSON_Delete(root);
  free(clean);
  for (int i = 0; i < x.n_pool; i++) free(x.pool[i]);
  free(x.pool);
  return st;
}
