/* ONNX loader tests: graph structure and op parameters from real exported models, from small
 * models written by the real onnx library (tests/data/onnx, tools/make_bad_onnx.py), and from
 * protobuf bytes encoded by hand below, plus every kind of bad input the loader must refuse with
 * a message naming the file (and the node).
 *
 * The hand encoder uses the ONNX field numbers from the spec (FORMATS §5.1) and is independent of
 * the loader's schema (src/load/onnx.proto), so a wrong field number on either side shows up.
 * Expected numbers for the real models come from the onnx Python package:
 *   /usr/bin/python3 -c "import onnx; from onnx import numpy_helper; m = onnx.load(F); ..."
 * (the exact commands are given next to each literal). */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load/load.h"
#include "ops/ops.h"
#include "test.h"

/* ---- paths and files ----------------------------------------------------------------------- */

static char tmp_dir[64];
static char models_dir[1024], data_dir[1024];
static char tmp_files[64][300];
static int n_tmp_files;

static const char *tmp_path(const char *name) {
  static char p[8][300];
  static int k;
  k = (k + 1) % 8;
  snprintf(p[k], sizeof p[k], "%s/%s", tmp_dir, name);
  return p[k];
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  if (n) fwrite(data, 1, n, f);
  fclose(f);
  if (strncmp(path, tmp_dir, strlen(tmp_dir)) != 0) return;
  for (int i = 0; i < n_tmp_files; i++)
    if (strcmp(tmp_files[i], path) == 0) return;
  if (n_tmp_files < 64) snprintf(tmp_files[n_tmp_files++], sizeof tmp_files[0], "%s", path);
}

static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *d = malloc(len > 0 ? (size_t)len : 1);
  *n = fread(d, 1, (size_t)len, f);
  fclose(f);
  return d;
}

static const char *model_path(const char *name) {
  static char p[4][1200];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", models_dir, name);
  return p[k];
}

static const char *data_path(const char *name) {
  static char p[4][1200];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", data_dir, name);
  return p[k];
}

/* ---- a minimal protobuf encoder ------------------------------------------------------------ */

typedef struct pb {
  uint8_t *d;
  size_t n, cap;
} pb;

static void pb_raw(pb *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = 2 * (b->n + n) + 64;
    b->d = realloc(b->d, b->cap);
  }
  if (n) memcpy(b->d + b->n, p, n);
  b->n += n;
}

static void pb_varint(pb *b, uint64_t v) {
  do {
    uint8_t c = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (v) c |= 0x80;
    pb_raw(b, &c, 1);
  } while (v);
}

static void pb_key(pb *b, int field, int wire) {
  pb_varint(b, (uint64_t)field << 3 | (unsigned)wire);
}
static void pb_int(pb *b, int field, int64_t v) {
  pb_key(b, field, 0);
  pb_varint(b, (uint64_t)v);
}
static void pb_lenp(pb *b, int field, const void *p, size_t n) {
  pb_key(b, field, 2);
  pb_varint(b, n);
  pb_raw(b, p, n);
}
static void pb_str(pb *b, int field, const char *s) {
  pb_lenp(b, field, s, strlen(s));
}
static void pb_f32(pb *b, int field, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
  pb_key(b, field, 5);
  pb_raw(b, le, 4);
}
/* Appends `sub` as a length-delimited field and frees it. */
static void pb_sub(pb *b, int field, pb *sub) {
  pb_lenp(b, field, sub->d, sub->n);
  free(sub->d);
  memset(sub, 0, sizeof *sub);
}

/* ONNX field numbers (onnx.proto, FORMATS §5.1). */
enum { M_IR = 1, M_GRAPH = 7, M_OPSET = 8 };
enum { OS_DOMAIN = 1, OS_VERSION = 2 };
enum { G_NODE = 1, G_NAME = 2, G_INIT = 5, G_INPUT = 11, G_OUTPUT = 12, G_SPARSE = 15 };
enum { N_INPUT = 1, N_OUTPUT = 2, N_NAME = 3, N_OP = 4, N_ATTR = 5, N_DOMAIN = 7 };
enum {
  A_NAME = 1,
  A_F = 2,
  A_I = 3,
  A_S = 4,
  A_T = 5,
  A_G = 6,
  A_FLOATS = 7,
  A_INTS = 8,
  A_TYPE = 20
};
enum {
  T_DIMS = 1,
  T_TYPE = 2,
  T_FLOAT = 4,
  T_INT32 = 5,
  T_INT64 = 7,
  T_NAME = 8,
  T_RAW = 9,
  T_DOUBLE = 10,
  T_EXT = 13,
  T_LOC = 14
};
enum {
  VI_NAME = 1,
  VI_TYPE = 2,
  TP_TENSOR = 1,
  TT_ELEM = 1,
  TT_SHAPE = 2,
  SH_DIM = 1,
  DIM_VALUE = 1,
  DIM_PARAM = 2
};
/* TensorProto.DataType */
enum {
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11
};

/* A TensorProto header (name, type, dims); the caller adds the data. */
static pb tensor(const char *name, int dtype, const int64_t *dims, int nd) {
  pb t = {0};
  for (int i = 0; i < nd; i++) pb_int(&t, T_DIMS, dims[i]); /* unpacked, as ONNX writes dims */
  pb_int(&t, T_TYPE, dtype);
  if (name) pb_str(&t, T_NAME, name);
  return t;
}

static pb tensor_f32(const char *name, const int64_t *dims, int nd, const float *v, size_t n) {
  pb t = tensor(name, FLOAT, dims, nd);
  uint8_t *raw = malloc(4 * n + 1);
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; k++) raw[4 * i + (size_t)k] = (uint8_t)(u >> (8 * k));
  }
  pb_lenp(&t, T_RAW, raw, 4 * n);
  free(raw);
  return t;
}

static pb tensor_i64(const char *name, const int64_t *dims, int nd, const int64_t *v, size_t n) {
  pb t = tensor(name, INT64, dims, nd);
  pb packed = {0};
  for (size_t i = 0; i < n; i++) pb_varint(&packed, (uint64_t)v[i]);
  pb_sub(&t, T_INT64, &packed);
  return t;
}

/* Attributes are written straight into a node's attribute list (field 5 entries). */
static void attr_begin(pb *a, const char *name, int type) {
  pb_str(a, A_NAME, name);
  pb_int(a, A_TYPE, type);
}
static void a_int(pb *attrs, const char *name, int64_t v) {
  pb a = {0};
  attr_begin(&a, name, 2);
  pb_int(&a, A_I, v);
  pb_sub(attrs, N_ATTR, &a);
}
static void a_float(pb *attrs, const char *name, float v) {
  pb a = {0};
  attr_begin(&a, name, 1);
  pb_f32(&a, A_F, v);
  pb_sub(attrs, N_ATTR, &a);
}
static void a_str(pb *attrs, const char *name, const char *s) {
  pb a = {0};
  attr_begin(&a, name, 3);
  pb_str(&a, A_S, s);
  pb_sub(attrs, N_ATTR, &a);
}
static void a_ints(pb *attrs, const char *name, const int64_t *v, int n) {
  pb a = {0};
  attr_begin(&a, name, 7);
  for (int i = 0; i < n; i++) pb_int(&a, A_INTS, v[i]);
  pb_sub(attrs, N_ATTR, &a);
}
static void a_tensor(pb *attrs, const char *name, pb *t) {
  pb a = {0};
  attr_begin(&a, name, 4);
  pb_sub(&a, A_T, t);
  pb_sub(attrs, N_ATTR, &a);
}

/* A node; ins/outs are comma-separated names ("x,,s": the second input omitted). */
static void node_d(pb *graph, const char *op, const char *name, const char *ins, const char *outs,
                   pb *attrs, const char *domain) {
  pb n = {0};
  const char *lists[2] = {ins, outs};
  for (int l = 0; l < 2; l++) {
    const char *s = lists[l];
    while (*s) {
      size_t len = strcspn(s, ",");
      pb_lenp(&n, l ? N_OUTPUT : N_INPUT, s, len);
      s += len;
      if (*s == ',') {
        s++;
        if (!*s) pb_lenp(&n, l ? N_OUTPUT : N_INPUT, "", 0);
      }
    }
  }
  if (name) pb_str(&n, N_NAME, name);
  pb_str(&n, N_OP, op);
  if (attrs) {
    pb_raw(&n, attrs->d, attrs->n);
    free(attrs->d);
    memset(attrs, 0, sizeof *attrs);
  }
  if (domain) pb_str(&n, N_DOMAIN, domain);
  pb_sub(graph, G_NODE, &n);
}
static void node(pb *graph, const char *op, const char *name, const char *ins, const char *outs,
                 pb *attrs) {
  node_d(graph, op, name, ins, outs, attrs, NULL);
}

/* A graph input/output; dims -1 = dim_param "N", -2 = a Dimension with neither field. */
static void value_info(pb *graph, int field, const char *name, int elem, const int64_t *dims,
                       int nd) {
  pb shape = {0}, tt = {0}, tp = {0}, vi = {0};
  for (int i = 0; i < nd; i++) {
    pb d = {0};
    if (dims[i] >= 0)
      pb_int(&d, DIM_VALUE, dims[i]);
    else if (dims[i] == -1)
      pb_str(&d, DIM_PARAM, "N");
    pb_sub(&shape, SH_DIM, &d);
  }
  pb_int(&tt, TT_ELEM, elem);
  if (nd >= 0) pb_sub(&tt, TT_SHAPE, &shape);
  free(shape.d);
  pb_sub(&tp, TP_TENSOR, &tt);
  pb_str(&vi, VI_NAME, name);
  pb_sub(&vi, VI_TYPE, &tp);
  pb_sub(graph, field, &vi);
}

static pb model_bytes(int64_t opset, pb *graph) {
  pb m = {0}, os = {0};
  pb_int(&m, M_IR, 7);
  pb_str(&os, OS_DOMAIN, "");
  pb_int(&os, OS_VERSION, opset);
  pb_sub(&m, M_OPSET, &os);
  pb_sub(&m, M_GRAPH, graph);
  return m;
}

/* Writes the model into the temp dir as `name` and loads it. */
static segcam_status load_model_pb(const char *name, pb *m, sc_graph *g) {
  const char *p = tmp_path(name);
  write_file(p, m->d, m->n);
  free(m->d);
  memset(m, 0, sizeof *m);
  return sc_load_model(p, g);
}

static const int64_t X4[4] = {1, 3, 8, 8};

/* A graph "x [1,3,8,8] -> (nodes added by the caller) -> y". */
static pb base_graph(void) {
  pb g = {0};
  pb_str(&g, G_NAME, "g");
  value_info(&g, G_INPUT, "x", FLOAT, X4, 4);
  return g;
}

static void finish_graph(pb *g) {
  value_info(g, G_OUTPUT, "y", FLOAT, NULL, -1);
}

/* ---- graph queries ------------------------------------------------------------------------- */

static const sc_node *find_node(const sc_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) return &g->nodes[i];
  return NULL;
}

static const sc_value *find_value(const sc_graph *g, const char *name) {
  int v = sc_graph_find_value(g, name);
  return v >= 0 ? &g->values[v] : NULL;
}

static int shape_is(const sc_shape *s, int nd, const int64_t *d) {
  if (s->ndim != nd) return 0;
  for (int i = 0; i < nd; i++)
    if (s->d[i] != d[i]) return 0;
  return 1;
}

/* The value feeding input k of node n, by name (or "" when omitted). */
static const char *in_name(const sc_graph *g, const sc_node *n, int k) {
  return k < n->n_in && n->in[k] >= 0 ? g->values[n->in[k]].name : "";
}

static int producer_named(const sc_graph *g, int v, const char *name) {
  if (v < 0 || g->values[v].producer < 0) return 0;
  const sc_node *p = &g->nodes[g->values[v].producer];
  return name ? p->name && strcmp(p->name, name) == 0 : p->name == NULL;
}

/* Loads a file that must fail with `status`; the message must name the file and contain `a` and
 * `b` (when given). */
static void expect_fail(const char *path, segcam_status status, const char *a, const char *b) {
  sc_graph g;
  segcam_status st = sc_load_model(path, &g);
  const char *msg = segcam_last_error();
  CHECK(st == status, "%s: status %s, expected %s (%s)", path, segcam_status_str(st),
        segcam_status_str(status), msg);
  CHECK(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
  if (a) CHECK(strstr(msg, a) != NULL, "message lacks '%s': %s", a, msg);
  if (b) CHECK(strstr(msg, b) != NULL, "message lacks '%s': %s", b, msg);
  CHECK(g.n_nodes == 0 && g.values == NULL, "%s: graph not freed on failure", path);
  if (st == SEGCAM_OK) sc_graph_free(&g);
}

static void expect_fail_pb(const char *name, pb *m, segcam_status status, const char *a,
                           const char *b) {
  const char *p = tmp_path(name);
  write_file(p, m->d, m->n);
  free(m->d);
  memset(m, 0, sizeof *m);
  expect_fail(p, status, a, b);
}

/* ---- real models ---------------------------------------------------------------------------- */

/* Types of every node, in order:
 *   python3 -c "import onnx; print(','.join(n.op_type for n in onnx.load(F).graph.node))" */
static void check_types(const sc_graph *g, const char *types) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", types);
  int i = 0;
  for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","), i++)
    CHECK(i < g->n_nodes && strcmp(g->nodes[i].type, t) == 0, "node %d type %s, expected %s", i,
          i < g->n_nodes ? g->nodes[i].type : "(none)", t);
  CHECK(i == g->n_nodes, "%d nodes, expected %d", g->n_nodes, i);
}

/* Checks a float constant's shape and a few values. `sum` is the float64 sum of all elements. */
static void check_const(const sc_graph *g, const char *name, int nd, const int64_t *dims,
                        double first, double last, double sum) {
  const sc_value *v = find_value(g, name);
  CHECK(v && v->cdata && v->dtype == SC_F32, "constant %s missing", name);
  if (!v || !v->cdata) return;
  CHECK(shape_is(&v->shape, nd, dims), "constant %s has the wrong shape", name);
  const float *f = v->cdata;
  int64_t n = sc_shape_numel(&v->shape);
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += f[i];
  double got[3] = {f[0], f[n - 1], s}, ref[3] = {first, last, sum};
  float gotf[3] = {(float)got[0], (float)got[1], (float)got[2]};
  t_close(name, gotf, ref, 3, 1e-6, 1e-6);
}

static void check_conv(const sc_node *n, int k, int s, int p, int op) {
  CHECK(n && n->params, "conv node missing");
  if (!n || !n->params) return;
  const sc_conv_params *c = n->params;
  CHECK(c->kernel[0] == k && c->kernel[1] == k, "%s: kernel %d,%d", n->name, c->kernel[0],
        c->kernel[1]);
  CHECK(c->stride[0] == s && c->stride[1] == s, "%s: stride", n->name);
  CHECK(c->dilation[0] == 1 && c->dilation[1] == 1, "%s: dilation", n->name);
  CHECK(c->pads[0] == p && c->pads[1] == p && c->pads[2] == p && c->pads[3] == p, "%s: pads",
        n->name);
  CHECK(c->group == 1 && c->auto_pad == SC_PAD_EXPLICIT, "%s: group/auto_pad", n->name);
  CHECK(c->output_padding[0] == op && c->output_padding[1] == op, "%s: output_padding %d,%d",
        n->name, c->output_padding[0], c->output_padding[1]);
}

static void check_pool(const sc_node *n, int k, int s, int p) {
  CHECK(n && n->op == SC_OP_MAXPOOL && n->params, "maxpool node missing");
  if (!n || !n->params) return;
  const sc_pool_params *q = n->params;
  CHECK(q->kernel[0] == k && q->kernel[1] == k && q->stride[0] == s && q->stride[1] == s,
        "%s: kernel/stride", n->name);
  CHECK(q->pads[0] == p && q->pads[3] == p && q->ceil_mode == 0, "%s: pads/ceil", n->name);
}

static void test_pt26(void) {
  /* python3: len(graph.node)=27, len(initializer)=26, input ['N',1,224,224], output 'output' */
  sc_graph g;
  const char *path = model_path("pt26_sed_unet_op18.onnx");
  segcam_status st = sc_load_model(path, &g);
  CHECK(st == SEGCAM_OK, "%s: %s", path, segcam_last_error());
  if (st) return;
  CHECK(strcmp(g.format, "onnx") == 0, "format %s", g.format);
  check_types(&g, "Conv,Relu,Conv,Relu,MaxPool,Conv,Relu,Conv,Relu,MaxPool,Conv,Relu,Conv,Relu,"
                  "ConvTranspose,Concat,Conv,Relu,Conv,Relu,ConvTranspose,Concat,Conv,Relu,Conv,"
                  "Relu,Conv");
  CHECK(g.n_values == 1 + 26 + 27, "%d values", g.n_values);
  CHECK(g.n_inputs == 1 && strcmp(g.values[g.inputs[0]].name, "input") == 0, "input");
  const int64_t in_dims[4] = {-1, 1, 224, 224};
  CHECK(shape_is(&g.values[g.inputs[0]].shape, 4, in_dims), "input dims");
  CHECK(g.values[g.inputs[0]].dtype == SC_F32 && g.input_layout == SEGCAM_LAYOUT_NCHW, "layout");
  CHECK(g.n_outputs == 1 && strcmp(g.values[g.outputs[0]].name, "output") == 0 &&
            g.values[g.outputs[0]].producer == 26,
        "output");
  /* python3: w = numpy_helper.to_array(init['encoder1.0.weight']); w.flat[0], w.flat[-1],
   * w.astype(float64).sum(); b.flat[0] */
  const int64_t wd[4] = {16, 1, 3, 3}, bd[1] = {16};
  check_const(&g, "encoder1.0.weight", 4, wd, -0.17293413, 0.0744076297, -0.224504484);
  const sc_value *b = find_value(&g, "encoder1.0.bias");
  CHECK(b && shape_is(&b->shape, 1, bd) && fabsf(((float *)b->cdata)[0] - 0.187722519f) < 1e-7f,
        "encoder1.0.bias");
  const sc_node *c = find_node(&g, "/encoder1/encoder1.0/Conv");
  check_conv(c, 3, 1, 1, 0);
  CHECK(c && c->op == SC_OP_CONV && c->n_in == 3 && strcmp(in_name(&g, c, 0), "input") == 0 &&
            strcmp(in_name(&g, c, 1), "encoder1.0.weight") == 0,
        "first conv inputs");
  const sc_node *r = find_node(&g, "/encoder1/encoder1.1/Relu");
  CHECK(r && r->op == SC_OP_ACT && ((sc_act_params *)r->params)->kind == SC_ACT_RELU, "relu");
  check_pool(find_node(&g, "/pool1/MaxPool"), 2, 2, 0);
  const sc_node *t = find_node(&g, "/upconv2/ConvTranspose");
  CHECK(t && t->op == SC_OP_CONV_TRANSPOSE, "convtranspose op");
  check_conv(t, 2, 2, 0, 0);
  const sc_node *cat = find_node(&g, "/Concat");
  CHECK(cat && cat->op == SC_OP_CONCAT && ((sc_concat_params *)cat->params)->axis == 1 &&
            cat->n_in == 2 && strcmp(in_name(&g, cat, 0), "/upconv2/ConvTranspose_output_0") == 0 &&
            strcmp(in_name(&g, cat, 1), "/encoder2/encoder2.3/Relu_output_0") == 0,
        "concat");
  CHECK(sc_graph_validate(&g) == SEGCAM_OK, "validate");
  sc_graph_free(&g);
}

static void test_pt113(void) {
  /* python3: 32 nodes, 30 initializers (all FLOAT raw_data), input ['batch_size',4,224,224] */
  sc_graph g;
  const char *path = model_path("pt113_cloud_unet_op10.onnx");
  segcam_status st = sc_load_model(path, &g);
  CHECK(st == SEGCAM_OK, "%s: %s", path, segcam_last_error());
  if (st) return;
  check_types(&g, "Conv,Relu,Conv,Relu,MaxPool,Conv,Relu,Conv,Relu,MaxPool,Conv,Relu,Conv,Relu,"
                  "MaxPool,Conv,Relu,Conv,Relu,ConvTranspose,Concat,Conv,Relu,Conv,Relu,"
                  "ConvTranspose,Concat,Conv,Relu,Conv,Relu,ConvTranspose");
  const int64_t in_dims[4] = {-1, 4, 224, 224};
  CHECK(g.n_inputs == 1 && shape_is(&g.values[g.inputs[0]].shape, 4, in_dims), "input dims");
  CHECK(g.input_layout == SEGCAM_LAYOUT_NCHW, "layout");
  CHECK(g.n_values == 1 + 30 + 32, "%d values", g.n_values);
  /* python3: init['onnx::Conv_136'] (32,4,7,7): flat[0], flat[-1], sum */
  const int64_t wd[4] = {32, 4, 7, 7};
  check_const(&g, "onnx::Conv_136", 4, wd, -0.00132038735, 0.0161698051, -4.71765256);
  check_conv(find_node(&g, "conv1/conv1.0/Conv"), 7, 1, 3, 0);
  check_pool(find_node(&g, "conv1/conv1.6/MaxPool"), 3, 2, 1);
  /* ConvTranspose k3 s2 p1 output_padding 1 (PyTorch ConvTranspose2d(..., output_padding=1)) */
  const sc_node *t = find_node(&g, "upconv3/upconv3.6/ConvTranspose");
  CHECK(t && t->op == SC_OP_CONV_TRANSPOSE, "convtranspose");
  check_conv(t, 3, 2, 1, 1);
  const sc_node *last = find_node(&g, "upconv1/upconv1.6/ConvTranspose");
  CHECK(last && g.n_outputs == 1 && g.values[g.outputs[0]].producer == (int)(last - g.nodes) &&
            strcmp(g.values[g.outputs[0]].name, "output") == 0,
        "output");
  /* An unnamed-output node keeps the ONNX name ("Concat_20" -> value "input.92"). */
  const sc_node *cat = find_node(&g, "Concat_20");
  CHECK(cat && strcmp(g.values[cat->out[0]].name, "input.92") == 0, "Concat_20 output");
  sc_graph_free(&g);
}

static void test_tf2onnx(void) {
  /* python3: 15 nodes, input ['unk__25',48,48,1], output 'dense_1' [unk__26,7];
   * new_shape__23 = [-1,1,48,48] (INT64), Transpose perm [0,2,3,1] */
  sc_graph g;
  const char *path = model_path("tf2onnx_emotion_op15.onnx");
  segcam_status st = sc_load_model(path, &g);
  CHECK(st == SEGCAM_OK, "%s: %s", path, segcam_last_error());
  if (st) return;
  check_types(&g, "Reshape,Conv,Relu,MaxPool,Conv,Relu,MaxPool,Transpose,Reshape,MatMul,Add,"
                  "Relu,MatMul,Add,Softmax");
  const int64_t in_dims[4] = {-1, 48, 48, 1};
  CHECK(g.n_inputs == 1 && shape_is(&g.values[g.inputs[0]].shape, 4, in_dims), "input dims");
  CHECK(g.input_layout == SEGCAM_LAYOUT_NHWC, "NHWC layout expected");
  CHECK(g.n_outputs == 1 && strcmp(g.values[g.outputs[0]].name, "dense_1") == 0, "output");
  const sc_value *ns = find_value(&g, "new_shape__23");
  const int64_t ns_ref[4] = {-1, 1, 48, 48}, d4[1] = {4};
  CHECK(ns && ns->dtype == SC_I64 && shape_is(&ns->shape, 1, d4) &&
            memcmp(ns->cdata, ns_ref, sizeof ns_ref) == 0,
        "new_shape__23");
  const sc_node *rs = find_node(&g, "sequential/conv2d/BiasAdd__6");
  CHECK(rs && rs->op == SC_OP_RESHAPE &&
            ((sc_reshape_params *)rs->params)->kind == SC_RESHAPE_SHAPE && rs->n_in == 2 &&
            strcmp(in_name(&g, rs, 1), "new_shape__23") == 0,
        "reshape");
  const sc_node *tr = find_node(&g, "sequential/max_pooling2d_1/MaxPool__20");
  const sc_transpose_params *tp = tr ? tr->params : NULL;
  CHECK(tp && tp->n_perm == 4 && tp->perm[0] == 0 && tp->perm[1] == 2 && tp->perm[2] == 3 &&
            tp->perm[3] == 1,
        "transpose perm");
  check_conv(find_node(&g, "sequential/conv2d/BiasAdd"), 3, 1, 0, 0);
  const int64_t wd[4] = {32, 1, 3, 3}, dd[2] = {6400, 128};
  check_const(&g, "sequential/conv2d/Conv2D/ReadVariableOp:0", 4, wd, 0.105200909, -0.368213654,
              -1.57428592);
  const sc_value *dw = find_value(&g, "sequential/dense/MatMul/ReadVariableOp:0");
  CHECK(dw && shape_is(&dw->shape, 2, dd), "dense weight shape");
  const sc_node *sm = find_node(&g, "sequential/dense_1/Softmax");
  const sc_softmax_params *sp = sm ? sm->params : NULL;
  CHECK(sp && sp->axis == -1 && sp->coerce_2d == 0, "softmax-13 axis");
  const sc_node *add = find_node(&g, "sequential/dense/BiasAdd");
  CHECK(add && add->op == SC_OP_BINARY && ((sc_binary_params *)add->params)->kind == SC_BIN_ADD,
        "add");
  CHECK(find_node(&g, "sequential/dense/MatMul")->op == SC_OP_MATMUL, "matmul");
  sc_graph_free(&g);
}

/* ---- small models written by onnx.helper (tools/make_bad_onnx.py) -------------------------- */

static segcam_status load_data(const char *name, sc_graph *g) {
  segcam_status st = sc_load_model(data_path(name), g);
  CHECK(st == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  return st;
}

static const void *params_of(const sc_graph *g, const char *name, int op) {
  const sc_node *n = find_node(g, name);
  CHECK(n && n->op == op, "node %s missing or op %d", name, n ? n->op : -1);
  return n && n->op == op ? n->params : NULL;
}

static void test_ops_op13(void) {
  sc_graph g;
  if (load_data("ops_op13.onnx", &g)) return;
  /* 26 ONNX nodes - 2 Constants + 1 Concat helper + 1 Max helper */
  CHECK(g.n_nodes == 26, "%d nodes", g.n_nodes);
  CHECK(g.n_outputs == 4 && g.input_layout == SEGCAM_LAYOUT_NCHW, "outputs/layout");
  const sc_conv_params *cv = params_of(&g, "conv_same", SC_OP_CONV);
  CHECK(cv && cv->auto_pad == SC_PAD_SAME_UPPER && cv->stride[0] == 2 && cv->stride[1] == 2 &&
            cv->group == 2 && cv->kernel[0] == 3 && cv->pads[0] == 0,
        "conv SAME_UPPER");
  /* FLOAT16 in int32_data: np.linspace(-1,1,36).astype(float16)[[0,1,17,35]] */
  const sc_value *w = find_value(&g, "conv_w");
  const int64_t wd[4] = {4, 1, 3, 3};
  CHECK(w && w->dtype == SC_F32 && shape_is(&w->shape, 4, wd), "conv_w");
  if (w) {
    const float *f = w->cdata;
    CHECK(f[0] == -1.0f && f[1] == -0.94287109375f && f[17] == -0.028564453125f &&
              f[20] == 0.142822265625f && f[35] == 1.0f,
          "float16 values %g %g %g", f[0], f[1], f[17]);
  }
  const sc_value *b = find_value(&g, "conv_b"); /* DOUBLE in double_data */
  CHECK(b && b->dtype == SC_F32 && ((float *)b->cdata)[1] == -0.25f &&
            ((float *)b->cdata)[3] == 2.0f,
        "double bias");
  const sc_value *s = find_value(&g, "bn_s"); /* FLOAT in float_data */
  CHECK(s && ((float *)s->cdata)[0] == 1.0f && ((float *)s->cdata)[3] == 4.0f, "float_data");
  const sc_value *si = find_value(&g, "gather_i32"); /* INT32 -> int64 */
  CHECK(si && si->dtype == SC_I64 && ((int64_t *)si->cdata)[0] == 1 &&
            ((int64_t *)si->cdata)[1] == -2,
        "int32 tensor");
  const sc_node *cw = find_node(&g, "cast_w");
  CHECK(cw && cw->op == SC_OP_CAST && ((sc_cast_params *)cw->params)->to == SC_F32 &&
            strcmp(in_name(&g, cw, 0), "conv_w") == 0,
        "cast of a float16 weight");
  const sc_batchnorm_params *bn = params_of(&g, "bn", SC_OP_BATCHNORM);
  CHECK(bn && bn->epsilon == 1e-3f, "bn epsilon");
  const sc_node *clip = find_node(&g, "relu6");
  const sc_act_params *cp = clip ? clip->params : NULL;
  CHECK(cp && cp->kind == SC_ACT_CLIP && cp->lo == 0.0f && cp->hi == 6.0f && clip->n_in == 1,
        "clip-11 constant inputs");
  const sc_node *rz = find_node(&g, "resize");
  const sc_resize_params *rp = rz ? rz->params : NULL;
  CHECK(rp && rp->mode == SC_RESIZE_LINEAR && rp->coord == SC_COORD_ALIGN_CORNERS &&
            rp->nearest == SC_NEAREST_ROUND_PREFER_FLOOR && rp->cubic_a == -0.75f &&
            rp->n_fixed == 0,
        "resize-13 params");
  CHECK(rz && rz->n_in == 4 && rz->in[1] == -1 && rz->in[3] == -1 &&
            strcmp(in_name(&g, rz, 2), "rs_scales") == 0,
        "resize inputs");
  const sc_node *pad = find_node(&g, "pad");
  const sc_pad_params *pp = pad ? pad->params : NULL;
  CHECK(pp && pp->mode == SC_PADMODE_REFLECT && pp->n_pads == 0 && pad->n_in == 2 &&
            strcmp(in_name(&g, pad, 1), "pads") == 0,
        "pad-11");
  const sc_node *sl = find_node(&g, "slice");
  CHECK(sl && sl->op == SC_OP_SLICE && ((sc_slice_params *)sl->params)->n == 0 && sl->n_in == 4,
        "slice-10");
  const sc_node *dr = find_node(&g, "drop");
  CHECK(dr && dr->op == SC_OP_IDENTITY && dr->n_in == 1 && dr->n_out == 1, "dropout");
  CHECK(!find_value(&g, "d1_mask"), "unused dropout mask must be dropped");
  const sc_act_params *lr = params_of(&g, "lrelu", SC_OP_ACT);
  CHECK(lr && lr->kind == SC_ACT_LEAKY_RELU && lr->alpha == 0.2f, "leaky alpha");
  /* Concat of 10 inputs: a helper concat of 8, then the named node of 3. */
  const sc_node *cat = find_node(&g, "cat10");
  CHECK(cat && cat->op == SC_OP_CONCAT && cat->n_in == 3 && producer_named(&g, cat->in[0], NULL) &&
            ((sc_concat_params *)cat->params)->axis == 1,
        "concat chain");
  if (cat && cat->in[0] >= 0 && g.values[cat->in[0]].producer >= 0) {
    const sc_node *h = &g.nodes[g.values[cat->in[0]].producer];
    CHECK(h->op == SC_OP_CONCAT && h->n_in == 8 && strcmp(h->type, "Concat") == 0 &&
              ((sc_concat_params *)h->params)->axis == 1,
          "concat helper");
  }
  const sc_node *mx = find_node(&g, "max3");
  CHECK(mx && mx->op == SC_OP_BINARY && ((sc_binary_params *)mx->params)->kind == SC_BIN_MAX &&
            mx->n_in == 2 && producer_named(&g, mx->in[0], NULL),
        "max chain");
  const sc_globalpool_params *gp = params_of(&g, "gap", SC_OP_GLOBALPOOL);
  CHECK(gp && gp->is_max == 0 && gp->keepdims == 1, "gap");
  const sc_node *sq = find_node(&g, "squeeze");
  CHECK(sq && ((sc_reshape_params *)sq->params)->kind == SC_RESHAPE_SQUEEZE &&
            ((sc_reshape_params *)sq->params)->n_axes == 0 && sq->n_in == 2,
        "squeeze-13");
  const sc_gemm_params *gm = params_of(&g, "fc", SC_OP_GEMM);
  CHECK(gm && gm->alpha == 0.5f && gm->beta == 1.0f && gm->trans_a == 0 && gm->trans_b == 1,
        "gemm");
  const sc_softmax_params *sm = params_of(&g, "softmax", SC_OP_SOFTMAX);
  CHECK(sm && sm->axis == -1 && sm->coerce_2d == 0, "softmax-13");
  const sc_node *un = find_node(&g, "unsq");
  CHECK(un && ((sc_reshape_params *)un->params)->kind == SC_RESHAPE_UNSQUEEZE && un->n_in == 2,
        "unsqueeze-13");
  const sc_reshape_params *rs = params_of(&g, "reshape", SC_OP_RESHAPE);
  CHECK(rs && rs->kind == SC_RESHAPE_SHAPE && rs->allowzero == 0, "reshape");
  const sc_transpose_params *tp = params_of(&g, "tr", SC_OP_TRANSPOSE);
  CHECK(tp && tp->n_perm == 4 && tp->perm[1] == 2 && tp->perm[3] == 1, "transpose");
  const sc_shape_params *sh = params_of(&g, "shape", SC_OP_SHAPE);
  CHECK(sh && sh->start == 0 && sh->end == INT64_MAX, "shape");
  CHECK(find_value(&g, "shp") && find_value(&g, "shp")->dtype == SC_I64, "shape output dtype");
  const sc_value *idx = find_value(&g, "idx"); /* Constant value_ints */
  const int64_t d2[1] = {2};
  CHECK(idx && idx->cdata && idx->dtype == SC_I64 && shape_is(&idx->shape, 1, d2) &&
            ((int64_t *)idx->cdata)[0] == 1 && ((int64_t *)idx->cdata)[1] == 2,
        "value_ints");
  const sc_value *lo = find_value(&g, "clip_lo"); /* Constant value_float: a scalar */
  CHECK(lo && lo->cdata && lo->dtype == SC_F32 && lo->shape.ndim == 0 &&
            ((float *)lo->cdata)[0] == 0.0f,
        "value_float");
  const sc_gather_params *ga = params_of(&g, "gather", SC_OP_GATHER);
  CHECK(ga && ga->axis == 0, "gather");
  const sc_cast_params *ca = params_of(&g, "cast", SC_OP_CAST);
  CHECK(ca && ca->to == SC_F32, "cast");
  const sc_constant_of_shape_params *co = params_of(&g, "cos", SC_OP_CONSTANT_OF_SHAPE);
  CHECK(co && co->dtype == SC_I64 && co->value == 7.0, "constant of shape");
  const sc_node *rg = find_node(&g, "range");
  CHECK(rg && rg->op == SC_OP_RANGE && rg->n_in == 3, "range");
  sc_graph_free(&g);
}

static void test_ops_old_opsets(void) {
  sc_graph g;
  if (load_data("ops_op9.onnx", &g) == SEGCAM_OK) {
    const sc_batchnorm_params *bn = params_of(&g, "bn9", SC_OP_BATCHNORM);
    CHECK(bn && bn->epsilon == 1e-5f, "bn default epsilon");
    const sc_node *c = find_node(&g, "clip6");
    const sc_act_params *cp = c ? c->params : NULL;
    CHECK(cp && cp->kind == SC_ACT_CLIP && cp->lo == -1.0f && cp->hi == 1.5f, "clip-6 attrs");
    const sc_node *up = find_node(&g, "up9");
    const sc_resize_params *rp = up ? up->params : NULL;
    CHECK(rp && up->op == SC_OP_RESIZE && rp->mode == SC_RESIZE_NEAREST &&
              rp->coord == SC_COORD_ASYMMETRIC && rp->nearest == SC_NEAREST_SIMPLE &&
              rp->n_fixed == 0 && up->n_in == 4 && up->in[1] == -1 && up->in[3] == -1 &&
              strcmp(in_name(&g, up, 2), "up_scales") == 0,
          "upsample-9");
    const sc_node *pd = find_node(&g, "pad2");
    const sc_pad_params *pp = pd ? pd->params : NULL;
    const int64_t pads[8] = {0, 0, 1, 2, 0, 0, 3, 4};
    CHECK(pp && pp->n_pads == 8 && memcmp(pp->pads, pads, sizeof pads) == 0 && pp->value == 0.25f &&
              pp->mode == SC_PADMODE_CONSTANT && pd->n_in == 1,
          "pad-2");
    const sc_slice_params *sp = params_of(&g, "slice1", SC_OP_SLICE);
    CHECK(sp && sp->n == 2 && sp->starts[0] == 1 && sp->starts[1] == 0 && sp->ends[0] == -1 &&
              sp->ends[1] == 5 && sp->axes[0] == 2 && sp->axes[1] == 3,
          "slice-1");
    const sc_pool_params *ap = params_of(&g, "avg", SC_OP_AVGPOOL);
    CHECK(ap && ap->count_include_pad == 1 && ap->kernel[0] == 3 && ap->pads[2] == 1 &&
              ap->ceil_mode == 0,
          "avgpool");
    CHECK(find_node(&g, "max1") && find_node(&g, "max1")->op == SC_OP_IDENTITY, "max of one");
    const sc_softmax_params *sm = params_of(&g, "softmax1", SC_OP_SOFTMAX);
    CHECK(sm && sm->axis == 1 && sm->coerce_2d == 1, "softmax-1 default axis 1, coerced");
    const sc_node *u = find_node(&g, "unsq1");
    const sc_reshape_params *up2 = u ? u->params : NULL;
    CHECK(up2 && up2->kind == SC_RESHAPE_UNSQUEEZE && up2->n_axes == 1 && up2->axes[0] == 0 &&
              u->n_in == 1,
          "unsqueeze-1 attribute");
    sc_graph_free(&g);
  }
  if (load_data("ops_op17.onnx", &g) == SEGCAM_OK) {
    const sc_layernorm_params *ln = params_of(&g, "ln", SC_OP_LAYERNORM);
    CHECK(ln && ln->axis == -1 && ln->epsilon == 1e-6f, "layernorm");
    const sc_shape_params *sh = params_of(&g, "shape15", SC_OP_SHAPE);
    CHECK(sh && sh->start == -2 && sh->end == -1, "shape-15 start/end");
    const sc_reshape_params *rs = params_of(&g, "reshape14", SC_OP_RESHAPE);
    CHECK(rs && rs->kind == SC_RESHAPE_SHAPE && rs->allowzero == 1, "reshape-14 allowzero");
    const sc_batchnorm_params *bn = params_of(&g, "bn15", SC_OP_BATCHNORM);
    CHECK(bn && bn->epsilon == 1e-5f, "bn-15 training_mode=0");
    sc_graph_free(&g);
  }
  if (load_data("ops_op10.onnx", &g) == SEGCAM_OK) {
    const sc_node *rz = find_node(&g, "resize10");
    const sc_resize_params *rp = rz ? rz->params : NULL;
    CHECK(rp && rp->mode == SC_RESIZE_LINEAR && rp->coord == SC_COORD_ASYMMETRIC &&
              rp->nearest == SC_NEAREST_SIMPLE && rz->n_in == 4 &&
              strcmp(in_name(&g, rz, 2), "rs") == 0 && rz->in[1] == -1,
          "resize-10");
    const sc_pool_params *mp = params_of(&g, "pool10", SC_OP_MAXPOOL);
    CHECK(mp && mp->ceil_mode == 1 && mp->kernel[0] == 2 && mp->stride[1] == 2, "maxpool ceil");
    CHECK(!find_value(&g, "m1_idx"), "unused Indices output dropped");
    const sc_conv_params *ct = params_of(&g, "deconv", SC_OP_CONV_TRANSPOSE);
    CHECK(ct && ct->output_padding[0] == 1 && ct->output_padding[1] == 1 && ct->pads[0] == 1 &&
              ct->stride[0] == 2 && ct->kernel[1] == 3 && ct->output_shape[0] == 0,
          "deconv");
    sc_graph_free(&g);
  }
  if (load_data("ops_op7.onnx", &g) == SEGCAM_OK) {
    const sc_batchnorm_params *bn = params_of(&g, "bn7", SC_OP_BATCHNORM);
    CHECK(bn && bn->epsilon == 1e-4f, "bn-7 spatial=1");
    const sc_node *up = find_node(&g, "up7");
    const sc_resize_params *rp = up ? up->params : NULL;
    CHECK(rp && rp->mode == SC_RESIZE_LINEAR && rp->n_fixed == 4 && rp->fixed_scales[0] == 1.0f &&
              rp->fixed_scales[2] == 2.0f && rp->fixed_scales[3] == 3.0f &&
              rp->coord == SC_COORD_ASYMMETRIC && up->in[2] == -1,
          "upsample-7 scales attr");
    sc_graph_free(&g);
  }
  if (load_data("ops_op11.onnx", &g) == SEGCAM_OK) {
    const sc_node *rz = find_node(&g, "resize11");
    const sc_resize_params *rp = rz ? rz->params : NULL;
    CHECK(rp && rp->mode == SC_RESIZE_NEAREST && rp->coord == SC_COORD_ASYMMETRIC &&
              rp->nearest == SC_NEAREST_FLOOR,
          "resize-11 attrs");
    CHECK(rz && rz->in[1] == -1 && rz->in[2] == -1 && strcmp(in_name(&g, rz, 3), "sizes") == 0,
          "empty roi/scales constants become omitted inputs");
    sc_graph_free(&g);
  }
  if (load_data("external_ok.onnx", &g) == SEGCAM_OK) {
    /* external_ok.bin: 16 zero bytes, then np.arange(6)*0.5-1 as float32 */
    const sc_value *w = find_value(&g, "w");
    const int64_t wd[4] = {2, 3, 1, 1};
    CHECK(w && w->cdata && shape_is(&w->shape, 4, wd), "external weight");
    if (w && w->cdata) {
      const float *f = w->cdata;
      CHECK(f[0] == -1.0f && f[1] == -0.5f && f[2] == 0.0f && f[5] == 1.5f, "external values");
    }
    sc_graph_free(&g);
  }
}

/* ---- hand-encoded models -------------------------------------------------------------------- */

static void test_hand_encoded(void) {
  sc_graph g;
  /* Tensor decoding: FLOAT16 raw, DOUBLE raw, INT8/UINT8/BOOL raw, INT32 raw, unpacked
   * float_data, FLOAT raw little-endian. */
  {
    pb gr = base_graph();
    const int64_t d5[1] = {5}, d3[1] = {3};
    pb t = tensor("h", FLOAT16, d5, 1);
    const uint8_t h[10] = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x38};
    pb_lenp(&t, T_RAW, h, sizeof h); /* 1, -2, 65504, 2^-24, 0.5 */
    pb_sub(&gr, G_INIT, &t);
    t = tensor("dbl", DOUBLE, d3, 1);
    const double dv[3] = {1.5, -3.25, 1e-3};
    uint8_t draw[24];
    for (int i = 0; i < 3; i++) {
      uint64_t u;
      memcpy(&u, &dv[i], 8);
      for (int k = 0; k < 8; k++) draw[8 * i + k] = (uint8_t)(u >> (8 * k));
    }
    pb_lenp(&t, T_RAW, draw, 24);
    pb_sub(&gr, G_INIT, &t);
    t = tensor("i8", INT8, d3, 1);
    pb_lenp(&t, T_RAW, "\xff\x80\x07", 3); /* -1, -128, 7 */
    pb_sub(&gr, G_INIT, &t);
    t = tensor("u8", UINT8, d3, 1);
    pb_lenp(&t, T_RAW, "\xff\x80\x07", 3); /* 255, 128, 7 */
    pb_sub(&gr, G_INIT, &t);
    t = tensor("bo", BOOL, d3, 1);
    pb_lenp(&t, T_RAW, "\x00\x01\x02", 3);
    pb_sub(&gr, G_INIT, &t);
    t = tensor("i32", INT32, d3, 1);
    pb_lenp(&t, T_RAW, "\xfe\xff\xff\xff\x00\x00\x01\x00\x05\x00\x00\x00", 12); /* -2, 65536, 5 */
    pb_sub(&gr, G_INIT, &t);
    t = tensor("fu", FLOAT, d3, 1); /* float_data written unpacked (fixed32 each) */
    pb_f32(&t, T_FLOAT, 1.0f);
    pb_f32(&t, T_FLOAT, -2.0f);
    pb_f32(&t, T_FLOAT, 3.5f);
    pb_sub(&gr, G_INIT, &t);
    t = tensor("i32d", INT32, d3, 1); /* int32_data unpacked varints; negative = 10 bytes */
    pb_int(&t, T_INT32, -7);
    pb_int(&t, T_INT32, 0);
    pb_int(&t, T_INT32, 9);
    pb_sub(&gr, G_INIT, &t);
    node(&gr, "Relu", "r", "x", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    segcam_status st = load_model_pb("tensors.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "tensors.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const float *f = find_value(&g, "h")->cdata;
      double ref[5] = {1.0, -2.0, 65504.0, 5.9604644775390625e-08, 0.5};
      t_close("float16 raw", f, ref, 5, 0, 0);
      double dref[3] = {1.5, -3.25, (float)1e-3};
      t_close("double raw", find_value(&g, "dbl")->cdata, dref, 3, 0, 0);
      const int64_t *q = find_value(&g, "i8")->cdata;
      CHECK(q[0] == -1 && q[1] == -128 && q[2] == 7, "int8 %lld %lld %lld", (long long)q[0],
            (long long)q[1], (long long)q[2]);
      q = find_value(&g, "u8")->cdata;
      CHECK(q[0] == 255 && q[1] == 128 && q[2] == 7, "uint8");
      q = find_value(&g, "bo")->cdata;
      CHECK(q[0] == 0 && q[1] == 1 && q[2] == 1, "bool");
      q = find_value(&g, "i32")->cdata;
      CHECK(q[0] == -2 && q[1] == 65536 && q[2] == 5, "int32 raw");
      q = find_value(&g, "i32d")->cdata;
      CHECK(q[0] == -7 && q[1] == 0 && q[2] == 9, "int32_data");
      double fref[3] = {1.0, -2.0, 3.5};
      t_close("unpacked float_data", find_value(&g, "fu")->cdata, fref, 3, 0, 0);
      CHECK(find_value(&g, "h")->dtype == SC_F32 && find_value(&g, "i8")->dtype == SC_I64,
            "dtypes");
      sc_graph_free(&g);
    }
  }
  /* Input shapes: dim_param and missing dims are dynamic; an input that is also an initializer
   * is a constant; layout guesses. */
  {
    struct {
      int64_t d[4];
      segcam_layout want;
    } cases[] = {
        {{1, 224, 224, 3}, SEGCAM_LAYOUT_NHWC}, {{-1, 3, 224, 224}, SEGCAM_LAYOUT_NCHW},
        {{1, -1, -1, 3}, SEGCAM_LAYOUT_NHWC},   {{1, 3, 3, 3}, SEGCAM_LAYOUT_NCHW},
        {{-1, -2, -2, 1}, SEGCAM_LAYOUT_NHWC},  {{1, 64, 64, 64}, SEGCAM_LAYOUT_NCHW},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
      pb gr = {0};
      value_info(&gr, G_INPUT, "img", FLOAT, cases[c].d, 4);
      value_info(&gr, G_INPUT, "w", FLOAT, (const int64_t[]){2}, 1);
      pb t = tensor_f32("w", (const int64_t[]){2}, 1, (const float[]){1, 2}, 2);
      pb_sub(&gr, G_INIT, &t);
      node(&gr, "Mul", "m", "img,w", "y", NULL);
      finish_graph(&gr);
      pb m = model_bytes(13, &gr);
      segcam_status st = load_model_pb("layout.onnx", &m, &g);
      CHECK(st == SEGCAM_OK, "layout.onnx: %s", segcam_last_error());
      if (st) continue;
      CHECK(g.input_layout == cases[c].want, "case %zu: layout %d", c, g.input_layout);
      CHECK(g.n_inputs == 1 && find_value(&g, "w")->cdata, "initializer input is a constant");
      const sc_shape *s = &g.values[g.inputs[0]].shape;
      for (int i = 0; i < 4; i++)
        CHECK(s->d[i] == (cases[c].d[i] < 0 ? -1 : cases[c].d[i]), "case %zu dim %d", c, i);
      sc_graph_free(&g);
    }
  }
  /* Constant with a 'value' tensor (FLOAT16 raw), used by a node. */
  {
    pb gr = base_graph(), a = {0};
    pb t = tensor(NULL, FLOAT16, (const int64_t[]){2}, 1);
    pb_lenp(&t, T_RAW, "\x00\x3c\x00\xc4", 4); /* 1, -4 */
    a_tensor(&a, "value", &t);
    node(&gr, "Constant", "k", "", "kv", &a);
    node(&gr, "Add", "add", "x,kv", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    if (load_model_pb("constant.onnx", &m, &g) == SEGCAM_OK) {
      const sc_value *kv = find_value(&g, "kv");
      CHECK(kv && kv->cdata && kv->producer == -1 && kv->shape.ndim == 1 && kv->shape.d[0] == 2 &&
                ((float *)kv->cdata)[0] == 1.0f && ((float *)kv->cdata)[1] == -4.0f,
            "Constant value tensor");
      CHECK(g.n_nodes == 1 && !find_node(&g, "k"), "Constant is not a node");
      sc_graph_free(&g);
    } else {
      CHECK(0, "constant.onnx: %s", segcam_last_error());
    }
  }
  /* Unnamed node: named after its first output. */
  {
    pb gr = base_graph();
    node(&gr, "Sigmoid", NULL, "x", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    if (load_model_pb("unnamed.onnx", &m, &g) == SEGCAM_OK) {
      CHECK(find_node(&g, "y") && strcmp(find_node(&g, "y")->type, "Sigmoid") == 0,
            "unnamed node takes its output's name");
      sc_graph_free(&g);
    }
  }
}

/* Builds "x -> <op> -> y" with the given attributes/extra initializers and expects failure. */
static void bad_node(const char *file, int opset, const char *op, const char *ins, pb *attrs,
                     pb *init, segcam_status st, const char *a, const char *b) {
  pb gr = base_graph();
  if (init) {
    pb_raw(&gr, init->d, init->n);
    free(init->d);
    memset(init, 0, sizeof *init);
  }
  node(&gr, op, "bad_node", ins, "y", attrs);
  finish_graph(&gr);
  pb m = model_bytes(opset, &gr);
  expect_fail_pb(file, &m, st, a, b);
}

static void test_hand_encoded_bad(void) {
  pb a = {0}, init = {0}, t;
  const int64_t k3[2] = {3, 3}, kneg[2] = {-1, 3}, p3[3] = {1, 1, 1}, s1[2] = {1, 1};
  const int64_t w4[4] = {4, 3, 3, 3};
  float wv[108] = {0};

  /* element count does not match dims (raw_data of 3 floats for [2,2]) */
  t = tensor_f32("short_w", (const int64_t[]){2, 2}, 2, wv, 3);
  pb_sub(&init, G_INIT, &t);
  bad_node("count.onnx", 13, "Add", "x,short_w", NULL, &init, SEGCAM_E_FORMAT, "'short_w'",
           "raw_data");
  /* typed field count mismatch */
  t = tensor_i64("short_i", (const int64_t[]){4}, 1, (const int64_t[]){1, 2, 3}, 3);
  pb_sub(&init, G_INIT, &t);
  bad_node("count2.onnx", 13, "Add", "x,short_i", NULL, &init, SEGCAM_E_FORMAT, "'short_i'",
           "3 values");
  /* absurd dims: 2^16 * 2^16 * 2 elements */
  t = tensor("huge", FLOAT, (const int64_t[]){65536, 65536, 2}, 3);
  pb_sub(&init, G_INIT, &t);
  bad_node("huge.onnx", 13, "Add", "x,huge", NULL, &init, SEGCAM_E_FORMAT, "'huge'", "2^31");
  t = tensor("negdim", FLOAT, (const int64_t[]){-4}, 1);
  pb_sub(&init, G_INIT, &t);
  bad_node("negdim.onnx", 13, "Add", "x,negdim", NULL, &init, SEGCAM_E_FORMAT, "'negdim'",
           "negative");
  t = tensor("str", STRING, (const int64_t[]){1}, 1);
  pb_sub(&init, G_INIT, &t);
  bad_node("string.onnx", 13, "Add", "x,str", NULL, &init, SEGCAM_E_UNSUPPORTED, "'str'", "STRING");
  /* negative kernel, wrong pads count, 1-D conv, bad auto_pad, attribute of the wrong type */
  t = tensor_f32("w", w4, 4, wv, 108);
  pb_sub(&init, G_INIT, &t);
  a_ints(&a, "kernel_shape", kneg, 2);
  bad_node("negkernel.onnx", 13, "Conv", "x,w", &a, &init, SEGCAM_E_FORMAT, "'bad_node'",
           "kernel_shape");
  t = tensor_f32("w", w4, 4, wv, 108);
  pb_sub(&init, G_INIT, &t);
  a_ints(&a, "kernel_shape", k3, 2);
  a_ints(&a, "pads", p3, 3);
  bad_node("pads.onnx", 13, "Conv", "x,w", &a, &init, SEGCAM_E_FORMAT, "'bad_node' (Conv)",
           "'pads'");
  t = tensor_f32("w", (const int64_t[]){4, 3, 1, 1, 3}, 5, wv, 36);
  pb_sub(&init, G_INIT, &t);
  bad_node("conv3d.onnx", 13, "Conv", "x,w", NULL, &init, SEGCAM_E_UNSUPPORTED, "'bad_node'",
           "3 spatial");
  t = tensor_f32("w", w4, 4, wv, 108);
  pb_sub(&init, G_INIT, &t);
  a_str(&a, "auto_pad", "FOO");
  bad_node("autopad.onnx", 13, "Conv", "x,w", &a, &init, SEGCAM_E_UNSUPPORTED, "'bad_node'",
           "auto_pad 'FOO'");
  t = tensor_f32("w", w4, 4, wv, 108);
  pb_sub(&init, G_INIT, &t);
  a_float(&a, "group", 1.0f);
  bad_node("attrtype.onnx", 13, "Conv", "x,w", &a, &init, SEGCAM_E_FORMAT, "'group'", "INT");
  a_ints(&a, "strides", s1, 2);
  a_int(&a, "storage_order", 0);
  bad_node("pool_nokernel.onnx", 13, "MaxPool", "x", &a, NULL, SEGCAM_E_FORMAT, "'bad_node'",
           "kernel_shape");
  /* missing / undefined inputs */
  bad_node("missing.onnx", 13, "Conv", "x", NULL, NULL, SEGCAM_E_FORMAT, "'bad_node'",
           "at least 2");
  bad_node("undefined.onnx", 13, "Add", "x,nowhere", NULL, NULL, SEGCAM_E_FORMAT, "'bad_node'",
           "'nowhere'");
  bad_node("hole.onnx", 13, "Add", ",x", NULL, NULL, SEGCAM_E_FORMAT, "'bad_node'",
           "required input 0");
  /* Clip-11 with a computed min */
  bad_node("clipdyn.onnx", 13, "Clip", "x,x", NULL, NULL, SEGCAM_E_UNSUPPORTED, "'bad_node'",
           "constant");
  /* Cast to STRING, Resize antialias, keep_aspect_ratio_policy, BN training mode */
  a_int(&a, "to", STRING);
  bad_node("cast.onnx", 13, "Cast", "x", &a, NULL, SEGCAM_E_UNSUPPORTED, "'bad_node'", "STRING");
  t = tensor_f32("sc", (const int64_t[]){4}, 1, (const float[]){1, 1, 2, 2}, 4);
  pb_sub(&init, G_INIT, &t);
  a_int(&a, "antialias", 1);
  bad_node("antialias.onnx", 18, "Resize", "x,,sc", &a, &init, SEGCAM_E_UNSUPPORTED,
           "'bad_node' (Resize)", "antialias");
  t = tensor_f32("sc", (const int64_t[]){4}, 1, (const float[]){1, 1, 2, 2}, 4);
  pb_sub(&init, G_INIT, &t);
  a_str(&a, "keep_aspect_ratio_policy", "not_larger");
  bad_node("karp.onnx", 18, "Resize", "x,,sc", &a, &init, SEGCAM_E_UNSUPPORTED, "'bad_node'",
           "not_larger");
  bad_node("resize_none.onnx", 13, "Resize", "x", NULL, NULL, SEGCAM_E_FORMAT, "'bad_node'",
           "scales");
  a_int(&a, "training_mode", 1);
  bad_node("bntrain.onnx", 14, "BatchNormalization", "x,x,x,x,x", &a, NULL, SEGCAM_E_UNSUPPORTED,
           "'bad_node'", "training_mode");
  a_str(&a, "mode", "cubic");
  bad_node("upcubic.onnx", 9, "Upsample", "x,x", &a, NULL, SEGCAM_E_UNSUPPORTED, "'bad_node'",
           "cubic");
  /* ConstantOfShape whose value holds two elements; Constant with an unsupported attribute */
  t = tensor("v", FLOAT, (const int64_t[]){2}, 1);
  pb_lenp(&t, T_RAW, "\0\0\0\0\0\0\0\0", 8);
  a_tensor(&a, "value", &t);
  bad_node("cos.onnx", 13, "ConstantOfShape", "x", &a, NULL, SEGCAM_E_FORMAT, "'bad_node'",
           "one element");
  a_str(&a, "value_string", "hello");
  bad_node("conststr.onnx", 13, "Constant", "", &a, NULL, SEGCAM_E_UNSUPPORTED, "'bad_node'",
           "value_string");
  /* opsets outside 7..20 */
  bad_node("opset6.onnx", 6, "Relu", "x", NULL, NULL, SEGCAM_E_UNSUPPORTED, "opset 6", NULL);
  bad_node("opset21.onnx", 21, "Relu", "x", NULL, NULL, SEGCAM_E_UNSUPPORTED, "opset 21", NULL);
  /* unsupported op named by file, node and type */
  bad_node("unsup.onnx", 13, "NonMaxSuppression", "x,x", NULL, NULL, SEGCAM_E_UNSUPPORTED,
           "node 'bad_node' (NonMaxSuppression)", "unsupported op type");
  /* a used extra output: Dropout's mask read by a later node */
  {
    pb gr = base_graph();
    node(&gr, "Dropout", "drop", "x", "d,mask", NULL);
    node(&gr, "Add", "add", "d,mask", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("mask.onnx", &m, SEGCAM_E_UNSUPPORTED, "'drop' (Dropout)", "'mask'");
  }
  /* foreign domain, subgraph attribute, duplicate output, nodes out of order */
  {
    pb gr = base_graph();
    node_d(&gr, "Relu", "custom", "x", "y", NULL, "com.microsoft");
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("domain.onnx", &m, SEGCAM_E_UNSUPPORTED, "'custom' (Relu)", "com.microsoft");
  }
  {
    pb gr = base_graph(), at = {0};
    attr_begin(&at, "then_branch", 5);
    pb_lenp(&at, A_G, "\x12\x01g", 3);
    pb_sub(&a, N_ATTR, &at);
    node(&gr, "Relu", "withgraph", "x", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("subgraph.onnx", &m, SEGCAM_E_UNSUPPORTED, "'withgraph'", "subgraph");
  }
  {
    pb gr = base_graph();
    node(&gr, "Relu", "r1", "x", "y", NULL);
    node(&gr, "Relu", "r2", "x", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("dupout.onnx", &m, SEGCAM_E_FORMAT, "'r2'", "already defined");
  }
  {
    pb gr = base_graph();
    node(&gr, "Relu", "second", "h", "y", NULL);
    node(&gr, "Relu", "first", "x", "h", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("order.onnx", &m, SEGCAM_E_FORMAT, "'second'", "'h'");
  }
  {
    pb gr = base_graph();
    node(&gr, "Relu", "r", "x", "h", NULL);
    finish_graph(&gr); /* output 'y' is never produced */
    pb m = model_bytes(13, &gr);
    expect_fail_pb("noout.onnx", &m, SEGCAM_E_FORMAT, "'y'", "not produced");
  }
  {
    pb gr = base_graph();
    pb_lenp(&gr, G_SPARSE, "\x0a\x00", 2);
    node(&gr, "Relu", "r", "x", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("sparse.onnx", &m, SEGCAM_E_UNSUPPORTED, "sparse", NULL);
  }
  /* a parseable protobuf with no graph, and one with a graph but no nodes */
  {
    pb m = {0};
    pb_int(&m, M_IR, 7);
    expect_fail_pb("nograph.onnx", &m, SEGCAM_E_FORMAT, "not an ONNX", NULL);
    pb gr = base_graph();
    finish_graph(&gr);
    m = model_bytes(13, &gr);
    expect_fail_pb("nonodes.onnx", &m, SEGCAM_E_FORMAT, "not an ONNX", NULL);
  }
  /* A graph input with a dimension beyond 2^31 elements. */
  {
    pb gr = {0};
    value_info(&gr, G_INPUT, "x", FLOAT, (const int64_t[]){1, 3, 100000, 100000}, 4);
    node(&gr, "Relu", "r", "x", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("hugein.onnx", &m, SEGCAM_E_FORMAT, "'x'", "2^31");
  }
  free(a.d);
  free(init.d);
}

/* External data: locations that leave the model's directory, reads beyond the end. */
/* Writes `m` as `name`, runs it through the public API at its own input size on `x`, and
 * compares output 0 with `ref` (n values). */
static void run_expect(const char *name, pb *m, const float *x, size_t nx, const double *ref,
                       size_t n) {
  const char *p = tmp_path(name);
  write_file(p, m->d, m->n);
  free(m->d);
  memset(m, 0, sizeof *m);
  segcam_model *model = NULL;
  segcam_session *ss = NULL;
  segcam_output o;
  segcam_status st = segcam_model_load(p, &model);
  if (st == SEGCAM_OK) st = segcam_session_create(model, -1, -1, &ss);
  if (st == SEGCAM_OK) st = segcam_session_run(ss, x, nx);
  if (st == SEGCAM_OK) st = segcam_session_output(ss, &o);
  CHECK(st == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  if (st == SEGCAM_OK) {
    size_t no = 1;
    for (int i = 0; i < o.ndim; i++) no *= (size_t)o.shape[i];
    CHECK(no == n, "%s: output has %zu values, expected %zu", name, no, n);
    if (no == n) t_close(name, o.data, ref, n, 1e-6, 1e-6);
  }
  segcam_session_free(ss);
  segcam_model_free(model);
}

/* The producer of node input k, or NULL. */
static const sc_node *producer_of(const sc_graph *g, const sc_node *n, int k) {
  if (k >= n->n_in || n->in[k] < 0 || g->values[n->in[k]].producer < 0) return NULL;
  return &g->nodes[g->values[n->in[k]].producer];
}

/* Regressions found by tools/sweep_exports.py (torch.onnx.export of random-weight nets; see
 * docs/ONNX_COVERAGE.md).  Expected values: hand-computed, or PyTorch float64 as noted. */
static void test_sweep_regressions(void) {
  /* nn.GELU() exported by PyTorch 1.13 at opsets 9..13: x * 0.5 * (1 + Erf(x / sqrt 2)) */
  {
    sc_graph g;
    pb gr = base_graph();
    node(&gr, "Erf", "erf", "x", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    segcam_status st = load_model_pb("erf.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "erf.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_act_params *e = params_of(&g, "erf", SC_OP_ACT);
      CHECK(e && e->kind == SC_ACT_ERF, "Erf -> act ERF");
      sc_graph_free(&g);
    }
  }
  /* Expand (x.expand_as(y)): x [1,2,1,3] against shape [2,1] -> [1,2,2,3] (multidirectional:
   * the output is larger than `shape`), as Mul by ConstantOfShape(shape, 1). */
  {
    const int64_t xd[4] = {1, 2, 1, 3}, sd[1] = {2}, shp[2] = {2, 1};
    pb gr = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, xd, 4);
    pb t = tensor_i64("shape", sd, 1, shp, 2);
    pb_sub(&gr, G_INIT, &t);
    node(&gr, "Expand", "ex", "x,shape", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    pb m2 = {0};
    pb_raw(&m2, m.d, m.n);
    sc_graph g;
    segcam_status st = load_model_pb("expand.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "expand.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_node *ex = find_node(&g, "ex"), *ones = ex ? producer_of(&g, ex, 1) : NULL;
      CHECK(ex && ex->op == SC_OP_BINARY && ((sc_binary_params *)ex->params)->kind == SC_BIN_MUL &&
                ones && ones->op == SC_OP_CONSTANT_OF_SHAPE &&
                ((sc_constant_of_shape_params *)ones->params)->value == 1.0 &&
                ((sc_constant_of_shape_params *)ones->params)->dtype == SC_F32,
            "Expand -> Mul(x, ConstantOfShape(shape, 1))");
      sc_graph_free(&g);
    }
    const float x[6] = {1, -2, 3, 0.5f, 4, -6};
    const double ref[12] = {1, -2, 3, 1, -2, 3, 0.5, 4, -6, 0.5, 4, -6};
    run_expect("expand_run.onnx", &m2, x, 6, ref, 12);
  }
  /* InstanceNormalization (nn.InstanceNorm2d; nn.GroupNorm exports through it) ->
   * LayerNormalization(axis 2) + BatchNormalization(mean 0, var 1, eps 0).  Reference:
   *   x = torch.tensor([0.5,-1,2,0.25, 3,1.5,-0.5,1], dtype=torch.float64).reshape(1,2,2,2)
   *   F.instance_norm(x, weight=torch.tensor([2.,-1.]), bias=torch.tensor([.5,1.]), eps=0.01) */
  {
    const int64_t xd[4] = {1, 2, 2, 2}, cd[1] = {2};
    const float sv[2] = {2, -1}, bv[2] = {0.5f, 1};
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, xd, 4);
    pb t = tensor_f32("s", cd, 1, sv, 2);
    pb_sub(&gr, G_INIT, &t);
    t = tensor_f32("b", cd, 1, bv, 2);
    pb_sub(&gr, G_INIT, &t);
    a_float(&a, "epsilon", 0.01f);
    node(&gr, "InstanceNormalization", "in", "x,s,b", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    pb m2 = {0};
    pb_raw(&m2, m.d, m.n);
    sc_graph g;
    segcam_status st = load_model_pb("instnorm.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "instnorm.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_node *bn = find_node(&g, "in"), *ln = bn ? producer_of(&g, bn, 0) : NULL;
      CHECK(bn && bn->op == SC_OP_BATCHNORM && ((sc_batchnorm_params *)bn->params)->epsilon == 0 &&
                ln && ln->op == SC_OP_LAYERNORM && !ln->name &&
                ((sc_layernorm_params *)ln->params)->axis == 2 &&
                ((sc_layernorm_params *)ln->params)->epsilon == 0.01f,
            "InstanceNormalization -> LayerNormalization(axis 2) + BatchNormalization");
      sc_graph_free(&g);
    }
    const float x[8] = {0.5f, -1, 2, 0.25f, 3, 1.5f, -0.5f, 1};
    const double ref[8] = {0.6167297502, -2.184784255, 3.418243755, 0.1498107494,
                           -0.39554139,  0.8006369443, 2.39554139,  1.199363056};
    run_expect("instnorm_run.onnx", &m2, x, 8, ref, 8);
  }
  /* Split (torch.split / chunk at opsets < 11, and tf2onnx): sizes from the attribute (opset 11)
   * and from the constant input (opset 13); outputs 1.. come from helper Slices.  y = the
   * outputs concatenated in reverse, so x's channels [0 | 1 2 | 3] come back as [3 | 1 2 | 0]. */
  for (int v = 0; v < 2; v++) {
    const int64_t xd[4] = {1, 4, 1, 2}, sd[1] = {3}, sizes[3] = {1, 2, 1};
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, xd, 4);
    a_int(&a, "axis", -3);
    if (v == 0) {
      a_ints(&a, "split", sizes, 3);
      node(&gr, "Split", "sp", "x", "p,q,r", &a);
    } else {
      pb t = tensor_i64("sizes", sd, 1, sizes, 3);
      pb_sub(&gr, G_INIT, &t);
      node(&gr, "Split", "sp", "x,sizes", "p,q,r", &a);
    }
    pb ca = {0};
    a_int(&ca, "axis", 1);
    node(&gr, "Concat", "cat", "r,q,p", "y", &ca);
    finish_graph(&gr);
    pb m = model_bytes(v ? 13 : 11, &gr);
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const double ref[8] = {7, 8, 3, 4, 5, 6, 1, 2};
    run_expect(v ? "split13.onnx" : "split11.onnx", &m, x, 8, ref, 8);
  }
  {
    pb gr = base_graph(), a = {0};
    a_int(&a, "axis", 1);
    node(&gr, "Split", "sp", "x", "y,z", &a);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("split_equal.onnx", &m, SEGCAM_E_UNSUPPORTED, "'sp' (Split)", "equal parts");
  }
  {
    const int64_t sizes[2] = {1, 1};
    pb gr = base_graph(), a = {0};
    a_ints(&a, "split", sizes, 2);
    node(&gr, "Split", "sp", "x", "y,z,w", &a);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    expect_fail_pb("split_count.onnx", &m, SEGCAM_E_FORMAT, "'sp' (Split)", "2 sizes for 3");
  }
}

/* A model "x [xd] -> nodes -> y" at `opset` with the graph built by the caller; runs it through the
 * public API on x and expects the run to fail with `status` and a message naming `node`. */
static void run_expect_fail(const char *name, pb *m, const float *x, size_t nx,
                            segcam_status status, const char *node_name) {
  const char *p = tmp_path(name);
  write_file(p, m->d, m->n);
  free(m->d);
  memset(m, 0, sizeof *m);
  segcam_model *model = NULL;
  segcam_session *ss = NULL;
  segcam_status st = segcam_model_load(p, &model);
  if (st == SEGCAM_OK) st = segcam_session_create(model, -1, -1, &ss);
  if (st == SEGCAM_OK) st = segcam_session_run(ss, x, nx);
  CHECK(st == status, "%s: status %s, expected %s (%s)", name, segcam_status_str(st),
        segcam_status_str(status), segcam_last_error());
  CHECK(strstr(segcam_last_error(), node_name) != NULL, "%s: message lacks %s: %s", name, node_name,
        segcam_last_error());
  segcam_session_free(ss);
  segcam_model_free(model);
}

/* DepthToSpace / SpaceToDepth (nn.PixelShuffle at opsets >= 11) and MaxPool's Indices with
 * MaxUnpool (SegNet).  Expected values are hand-computed from Operators.md. */
static void test_space_and_unpool(void) {
  /* DepthToSpace of x = 0..7 as [1,8,1,1], blocksize 2 -> [1,2,2,2]:
   * DCR (default; the only order before opset 11): y[c,i,j] = x[(2i + j)*2 + c];
   * CRD: y[c,i,j] = x[4c + 2i + j]. */
  const int64_t d8[4] = {1, 8, 1, 1};
  const float x8[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (int v = 0; v < 3; v++) {
    const char *mode = v == 0 ? NULL : v == 1 ? "DCR" : "CRD";
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, d8, 4);
    a_int(&a, "blocksize", 2);
    if (mode) a_str(&a, "mode", mode);
    node(&gr, "DepthToSpace", "d2s", "x", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(v == 0 ? 9 : 11, &gr);
    pb m2 = {0};
    pb_raw(&m2, m.d, m.n);
    sc_graph g;
    segcam_status st = load_model_pb("d2s.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "d2s %d: %s", v, segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_depth_space_params *p = params_of(&g, "d2s", SC_OP_DEPTH_SPACE);
      CHECK(p && p->to_space == 1 && p->blocksize == 2 && p->crd == (v == 2), "d2s %d params", v);
      sc_graph_free(&g);
    }
    const double dcr[8] = {0, 2, 4, 6, 1, 3, 5, 7}, crd[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    run_expect(v == 2 ? "d2s_crd_run.onnx" : "d2s_dcr_run.onnx", &m2, x8, 8, v == 2 ? crd : dcr, 8);
  }
  /* SpaceToDepth of x [1,2,2,2] (channel 0 = 0..3, channel 1 = 4..7), blocksize 2 -> [1,8,1,1]:
   * y[(2i + j)*2 + c] = x[c,i,j]. */
  {
    const int64_t d[4] = {1, 2, 2, 2};
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, d, 4);
    a_int(&a, "blocksize", 2);
    node(&gr, "SpaceToDepth", "s2d", "x", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    const double ref[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    run_expect("s2d_run.onnx", &m, x8, 8, ref, 8);
  }
  {
    pb a = {0};
    bad_node("d2s_noblock.onnx", 13, "DepthToSpace", "x", NULL, NULL, SEGCAM_E_FORMAT,
             "'bad_node' (DepthToSpace)", "blocksize");
    a_int(&a, "blocksize", 0);
    bad_node("d2s_block0.onnx", 13, "DepthToSpace", "x", &a, NULL, SEGCAM_E_FORMAT,
             "'bad_node' (DepthToSpace)", "blocksize");
    a_int(&a, "blocksize", 2);
    a_str(&a, "mode", "RDC");
    bad_node("d2s_mode.onnx", 13, "DepthToSpace", "x", &a, NULL, SEGCAM_E_UNSUPPORTED,
             "'bad_node' (DepthToSpace)", "RDC");
    /* 3 channels are not a multiple of 2^2: refused when the session infers shapes */
    a_int(&a, "blocksize", 2);
    pb gr = base_graph();
    node(&gr, "DepthToSpace", "d2s", "x", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    float x[192] = {0};
    run_expect_fail("d2s_channels.onnx", &m, x, 192, SEGCAM_E_SHAPE, "'d2s' (DepthToSpace)");
  }

  /* MaxPool 2x2/2 with Indices -> MaxUnpool on x [1,1,2,4] = [1 5 2 0; 3 4 8 7]: the maxima 5
   * at (0,1) and 8 at (1,2) have indices 1 and 6 (row-major), or with storage_order 1 (column
   * major, w*H + h) 2 and 5, which MaxUnpool reads as row-major offsets. */
  const int64_t d24[4] = {1, 1, 2, 4}, k2[2] = {2, 2};
  const float x24[8] = {1, 5, 2, 0, 3, 4, 8, 7};
  for (int so = 0; so < 2; so++) {
    pb gr = {0}, a = {0}, b = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, d24, 4);
    a_ints(&a, "kernel_shape", k2, 2);
    a_ints(&a, "strides", k2, 2);
    if (so) a_int(&a, "storage_order", 1);
    node(&gr, "MaxPool", "pool", "x", "p,idx", &a);
    a_ints(&b, "kernel_shape", k2, 2);
    a_ints(&b, "strides", k2, 2);
    node(&gr, "MaxUnpool", "unpool", "p,idx", "y", &b);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    pb m2 = {0};
    pb_raw(&m2, m.d, m.n);
    sc_graph g;
    segcam_status st = load_model_pb("unpool.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "unpool.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_node *mp = find_node(&g, "pool"), *up = find_node(&g, "unpool");
      const sc_value *iv = find_value(&g, "idx");
      CHECK(mp && mp->op == SC_OP_MAXPOOL && mp->n_out == 2 &&
                ((const sc_pool_params *)mp->params)->storage_order == so,
            "MaxPool with Indices: two outputs");
      CHECK(iv && iv->dtype == SC_I64, "Indices value is int64");
      CHECK(up && up->op == SC_OP_MAXUNPOOL && up->n_in == 2 &&
                ((const sc_pool_params *)up->params)->kernel[1] == 2 &&
                ((const sc_pool_params *)up->params)->stride[0] == 2,
            "MaxUnpool params");
      sc_graph_free(&g);
    }
    const double ref0[8] = {0, 5, 0, 0, 0, 0, 8, 0}, ref1[8] = {0, 0, 5, 0, 0, 8, 0, 0};
    run_expect(so ? "unpool_so1_run.onnx" : "unpool_run.onnx", &m2, x24, 8, so ? ref1 : ref0, 8);
  }
  /* output_shape input (constant) [1,1,3,5]: the same indices, now read in a 3x5 plane
   * (offsets 1 and 6 are (0,1) and (1,1)) */
  {
    const int64_t od[1] = {4}, os[4] = {1, 1, 3, 5};
    pb gr = {0}, a = {0}, b = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, d24, 4);
    pb t = tensor_i64("os", od, 1, os, 4);
    pb_sub(&gr, G_INIT, &t);
    a_ints(&a, "kernel_shape", k2, 2);
    a_ints(&a, "strides", k2, 2);
    node(&gr, "MaxPool", "pool", "x", "p,idx", &a);
    a_ints(&b, "kernel_shape", k2, 2);
    a_ints(&b, "strides", k2, 2);
    node(&gr, "MaxUnpool", "unpool", "p,idx,os", "y", &b);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    const double ref[15] = {0, 5, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0};
    run_expect("unpool_os_run.onnx", &m, x24, 8, ref, 15);
  }
  /* MaxPool Indices as a graph output: produced (int64) */
  {
    pb gr = base_graph(), a = {0};
    a_ints(&a, "kernel_shape", k2, 2);
    node(&gr, "MaxPool", "mp", "x", "y,idx", &a);
    finish_graph(&gr);
    value_info(&gr, G_OUTPUT, "idx", INT64, NULL, -1);
    pb m = model_bytes(13, &gr);
    sc_graph g;
    segcam_status st = load_model_pb("indices.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "indices.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_value *iv = find_value(&g, "idx");
      CHECK(g.n_outputs == 2 && iv && iv->dtype == SC_I64 &&
                g.outputs[1] == sc_graph_find_value(&g, "idx"),
            "Indices as a graph output");
      sc_graph_free(&g);
    }
  }
  /* bad MaxUnpool nodes */
  {
    pb a = {0}, init = {0};
    const int64_t i4[4] = {1, 3, 8, 8};
    bad_node("unpool_nokernel.onnx", 11, "MaxUnpool", "x,x", NULL, NULL, SEGCAM_E_FORMAT,
             "'bad_node' (MaxUnpool)", "kernel_shape");
    a_ints(&a, "kernel_shape", k2, 2);
    bad_node("unpool_float_idx.onnx", 11, "MaxUnpool", "x,x", &a, NULL, SEGCAM_E_FORMAT,
             "'bad_node' (MaxUnpool)", "integer");
    a_ints(&a, "kernel_shape", k2, 2);
    a_ints(&a, "dilations", k2, 2);
    bad_node("unpool_dil.onnx", 11, "MaxUnpool", "x,x", &a, NULL, SEGCAM_E_FORMAT,
             "'bad_node' (MaxUnpool)", "dilations");
    a_ints(&a, "kernel_shape", k2, 2);
    bad_node("unpool_1in.onnx", 11, "MaxUnpool", "x", &a, NULL, SEGCAM_E_FORMAT,
             "'bad_node' (MaxUnpool)", "at least 2");
    /* indices shaped unlike X: refused at session creation */
    pb t = tensor_i64("I", (const int64_t[]){4}, 1, i4, 4);
    pb_sub(&init, G_INIT, &t);
    a_ints(&a, "kernel_shape", k2, 2);
    pb gr = base_graph();
    pb_raw(&gr, init.d, init.n);
    free(init.d);
    node(&gr, "MaxUnpool", "unpool", "x,I", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    float x[192] = {0};
    run_expect_fail("unpool_ishape.onnx", &m, x, 192, SEGCAM_E_SHAPE, "'unpool' (MaxUnpool)");
  }
  /* an index outside its element's channel plane: refused when the run reaches it */
  {
    const int64_t d[4] = {1, 2, 1, 1}, iv[2] = {0, 0}; /* channel 1's index points into channel 0 */
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, d, 4);
    pb t = tensor_i64("I", d, 4, iv, 2);
    pb_sub(&gr, G_INIT, &t);
    a_ints(&a, "kernel_shape", k2, 2);
    node(&gr, "MaxUnpool", "unpool", "x,I", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    const float x[2] = {1, 2};
    run_expect_fail("unpool_plane.onnx", &m, x, 2, SEGCAM_E_ARG, "'unpool' (MaxUnpool)");
  }
}

/* 1-D Conv / ConvTranspose / pools on [N,C,L]: the node runs as its 2-D form with H = 1 between an
 * Unsqueeze(axis 2) helper and a Squeeze(axis 2) helper; a constant rank-3 weight is stored as
 * [A,B,1,R].  (Numbers: the conv1d / maxpool1d / avgpool1d golden cases.) */
static void test_one_d(void) {
  const int64_t xd[3] = {1, 3, 10}, wd[3] = {4, 3, 3}, k3[1] = {3}, s2[1] = {2}, p12[2] = {1, 2};
  float wv[36] = {0};
  {
    pb gr = {0}, a = {0}, b = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, xd, 3);
    pb t = tensor_f32("w", wd, 3, wv, 36);
    pb_sub(&gr, G_INIT, &t);
    a_ints(&a, "kernel_shape", k3, 1);
    a_ints(&a, "strides", s2, 1);
    a_ints(&a, "pads", p12, 2);
    node(&gr, "Conv", "conv1d", "x,w", "c", &a);
    a_ints(&b, "kernel_shape", k3, 1);
    a_ints(&b, "pads", p12, 2);
    node(&gr, "MaxPool", "pool1d", "c", "y", &b);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    sc_graph g;
    segcam_status st = load_model_pb("conv1d.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "conv1d.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_node *cv = find_node(&g, "conv1d"), *mp = find_node(&g, "pool1d");
      const sc_conv_params *cp = cv ? cv->params : NULL;
      CHECK(cp && cv->op == SC_OP_CONV && cp->kernel[0] == 1 && cp->kernel[1] == 3 &&
                cp->stride[0] == 1 && cp->stride[1] == 2 && cp->pads[0] == 0 && cp->pads[1] == 1 &&
                cp->pads[2] == 0 && cp->pads[3] == 2,
            "1-D conv as 2-D with H = 1");
      const sc_node *un = cv ? producer_of(&g, cv, 0) : NULL;
      const sc_reshape_params *up = un ? un->params : NULL;
      CHECK(un && !un->name && un->op == SC_OP_RESHAPE && up->kind == SC_RESHAPE_UNSQUEEZE &&
                up->n_axes == 1 && up->axes[0] == 2 && strcmp(in_name(&g, un, 0), "x") == 0,
            "Unsqueeze helper before the conv");
      const sc_value *w4 = cv && cv->n_in > 1 && cv->in[1] >= 0 ? &g.values[cv->in[1]] : NULL;
      const int64_t w4d[4] = {4, 3, 1, 3};
      CHECK(w4 && w4->cdata && shape_is(&w4->shape, 4, w4d), "weight stored as [4,3,1,3]");
      const sc_node *un2 = mp ? producer_of(&g, mp, 0) : NULL; /* the pool's own Unsqueeze */
      const sc_node *sq = un2 && !un2->name ? producer_of(&g, un2, 0) : NULL;
      const sc_reshape_params *sp = sq ? sq->params : NULL;
      CHECK(sq && !sq->name && sq->op == SC_OP_RESHAPE && sp->kind == SC_RESHAPE_SQUEEZE &&
                sp->axes[0] == 2 && g.values[sq->out[0]].name &&
                strcmp(g.values[sq->out[0]].name, "c") == 0 && producer_of(&g, sq, 0) == cv,
            "Squeeze helper gives the conv's ONNX output 'c'");
      const sc_pool_params *pp = mp ? mp->params : NULL;
      CHECK(pp && mp->op == SC_OP_MAXPOOL && pp->kernel[0] == 1 && pp->kernel[1] == 3 &&
                pp->pads[1] == 1 && pp->pads[3] == 2,
            "1-D MaxPool");
      const sc_value *yv = find_value(&g, "y");
      CHECK(yv && g.values[g.outputs[0]].name == yv->name && yv->producer >= 0 &&
                g.nodes[yv->producer].op == SC_OP_RESHAPE,
            "graph output after a Squeeze helper");
      sc_graph_free(&g);
    }
  }
  /* ConvTranspose 1-D: output_shape [L] (or [N,C,L]) and output_padding [op] */
  for (int v = 0; v < 2; v++) {
    const int64_t os1[1] = {13}, os3[3] = {1, 2, 13}, op1[1] = {1}, wtd[3] = {3, 2, 4};
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, (const int64_t[]){1, 3, 6}, 3);
    pb t = tensor_f32("w", wtd, 3, wv, 24);
    pb_sub(&gr, G_INIT, &t);
    a_ints(&a, "strides", s2, 1);
    if (v)
      a_ints(&a, "output_shape", os3, 3);
    else
      a_ints(&a, "output_shape", os1, 1);
    a_ints(&a, "output_padding", op1, 1);
    node(&gr, "ConvTranspose", "deconv1d", "x,w", "y", &a);
    finish_graph(&gr);
    pb m = model_bytes(11, &gr);
    sc_graph g;
    segcam_status st = load_model_pb("deconv1d.onnx", &m, &g);
    CHECK(st == SEGCAM_OK, "deconv1d.onnx: %s", segcam_last_error());
    if (st == SEGCAM_OK) {
      const sc_conv_params *cp = params_of(&g, "deconv1d", SC_OP_CONV_TRANSPOSE);
      CHECK(cp && cp->output_shape[0] == 1 && cp->output_shape[1] == 13 &&
                cp->output_padding[0] == 0 && cp->output_padding[1] == 1 && cp->kernel[0] == 1 &&
                cp->kernel[1] == 0,
            "1-D ConvTranspose params");
      sc_graph_free(&g);
    }
  }
  /* refused: the Indices of a 1-D MaxPool, 3-D windows, 1-D MaxUnpool */
  {
    pb gr = {0}, a = {0};
    pb_str(&gr, G_NAME, "g");
    value_info(&gr, G_INPUT, "x", FLOAT, xd, 3);
    a_ints(&a, "kernel_shape", k3, 1);
    node(&gr, "MaxPool", "mp", "x", "y,idx", &a);
    finish_graph(&gr);
    value_info(&gr, G_OUTPUT, "idx", INT64, NULL, -1);
    pb m = model_bytes(13, &gr);
    expect_fail_pb("pool1d_idx.onnx", &m, SEGCAM_E_UNSUPPORTED, "'mp' (MaxPool)", "1-D");
    const int64_t k333[3] = {3, 3, 3};
    a_ints(&a, "kernel_shape", k333, 3);
    bad_node("pool3d.onnx", 13, "MaxPool", "x", &a, NULL, SEGCAM_E_UNSUPPORTED,
             "'bad_node' (MaxPool)", "3 spatial");
    a_ints(&a, "kernel_shape", k3, 1);
    bad_node("unpool1d.onnx", 11, "MaxUnpool", "x,x", &a, NULL, SEGCAM_E_UNSUPPORTED,
             "'bad_node' (MaxUnpool)", "2-D");
  }
}

static void test_external(void) {
  const char *locs[] = {"/etc/passwd", "../x.bin",  "a/../../x.bin",
                        "..\\x.bin",   "C:\\x.bin", "sub/.."};
  write_file(tmp_path("w.bin"), "\0\0\0\0\0\0\0\0", 8);
  for (size_t i = 0; i < sizeof locs / sizeof locs[0] + 3; i++) {
    pb gr = base_graph(), t = tensor("w", FLOAT, (const int64_t[]){2}, 1), e = {0};
    const char *loc = i < 6 ? locs[i] : "w.bin";
    const char *off = i == 7 ? "4" : "0", *len = i == 8 ? "12" : "8";
    pb_str(&e, 1, "location");
    pb_str(&e, 2, loc);
    pb_sub(&t, T_EXT, &e);
    pb_str(&e, 1, "offset");
    pb_str(&e, 2, off);
    pb_sub(&t, T_EXT, &e);
    pb_str(&e, 1, "length");
    pb_str(&e, 2, len);
    pb_sub(&t, T_EXT, &e);
    pb_int(&t, T_LOC, 1);
    pb_sub(&gr, G_INIT, &t);
    node(&gr, "Add", "add", "x,w", "y", NULL);
    finish_graph(&gr);
    pb m = model_bytes(13, &gr);
    if (i < 6) {
      expect_fail_pb("ext.onnx", &m, SEGCAM_E_FORMAT, "'w'", loc);
    } else if (i == 6) { /* inside the directory: fine */
      sc_graph g;
      segcam_status st = load_model_pb("ext.onnx", &m, &g);
      CHECK(st == SEGCAM_OK, "external w.bin: %s", segcam_last_error());
      if (st == SEGCAM_OK) sc_graph_free(&g);
    } else if (i == 7) {
      expect_fail_pb("ext.onnx", &m, SEGCAM_E_FORMAT, "'w'", "beyond the end");
    } else {
      expect_fail_pb("ext.onnx", &m, SEGCAM_E_FORMAT, "'w'", "length");
    }
  }
  expect_fail(data_path("external_escape.onnx"), SEGCAM_E_FORMAT, "'w'", "../escape.bin");
}

/* ---- files that are not (whole) models ----------------------------------------------------- */

static void test_bad_files(void) {
  write_file(tmp_path("empty.onnx"), "", 0);
  expect_fail(tmp_path("empty.onnx"), SEGCAM_E_FORMAT, "empty", NULL);
  const char *text = "This is not a model.\nJust some text, 42 lines of it.\n";
  write_file(tmp_path("text.onnx"), text, strlen(text));
  expect_fail(tmp_path("text.onnx"), SEGCAM_E_FORMAT, "not an ONNX, Keras .h5 or .keras model",
              NULL);
  expect_fail(tmp_path("does_not_exist.onnx"), SEGCAM_E_IO, "cannot open", NULL);
  expect_fail(tmp_dir, SEGCAM_E_IO, "not a regular file", NULL);
  size_t n = 0;
  uint8_t *real = read_all(model_path("pt26_sed_unet_op18.onnx"), &n);
  CHECK(real && n > 100000, "cannot read pt26");
  if (real) {
    write_file(tmp_path("trunc1000.onnx"), real, 1000);
    expect_fail(tmp_path("trunc1000.onnx"), SEGCAM_E_FORMAT, "not an ONNX", NULL);
    write_file(tmp_path("trunchalf.onnx"), real, n / 2);
    expect_fail(tmp_path("trunchalf.onnx"), SEGCAM_E_FORMAT, "not an ONNX", NULL);
    /* Many truncation points and byte flips: any status, but never a crash, and a failure
     * always names the file (ASan/UBSan runs catch memory errors). */
    uint32_t seed = 12345;
    int failures_named = 1;
    for (int it = 0; it < 120; it++) {
      size_t len = n;
      uint8_t *cp = malloc(n);
      memcpy(cp, real, n);
      if (it < 40) {
        len = (size_t)((double)n * (it + 0.5) / 40.0);
      } else {
        for (int f = 0; f < 1 + it % 8; f++) {
          seed = seed * 1664525u + 1013904223u;
          size_t pos = (seed >> 8) % (it < 80 ? 4096 : n);
          seed = seed * 1664525u + 1013904223u;
          cp[pos] ^= (uint8_t)(1u << (seed >> 29));
        }
      }
      const char *p = tmp_path("fuzz.onnx");
      write_file(p, cp, len);
      free(cp);
      sc_graph g;
      segcam_status st = sc_load_model(p, &g);
      if (st == SEGCAM_OK)
        sc_graph_free(&g);
      else if (!strstr(segcam_last_error(), p)) {
        failures_named = 0;
        fprintf(stderr, "fuzz %d: %s\n", it, segcam_last_error());
      }
    }
    CHECK(failures_named, "a corrupt-file error did not name the file");
    free(real);
  }
  /* Other formats: a ZIP that is not Keras; Keras files go to the Keras loaders by content. */
  expect_fail(model_path("neg_torch_zip_as_h5.h5"), SEGCAM_E_FORMAT, "ZIP", "not a Keras");
  {
    const char *kf[2] = {"k231_mnist_cnn.h5", "k38_unet.keras"};
    const char *fmt[2] = {"keras-h5", "keras-zip"};
    for (int i = 0; i < 2; i++) {
      sc_graph g;
      segcam_status st = sc_load_model(model_path(kf[i]), &g);
      CHECK(st == SEGCAM_OK, "%s: %s", kf[i], segcam_last_error());
      if (st == SEGCAM_OK) {
        CHECK(strcmp(g.format, fmt[i]) == 0, "%s detected as %s", kf[i], g.format);
        sc_graph_free(&g);
      }
    }
  }
  const uint8_t zip_empty[22] = {'P', 'K', 5, 6};
  write_file(tmp_path("empty.zip"), zip_empty, sizeof zip_empty);
  expect_fail(tmp_path("empty.zip"), SEGCAM_E_FORMAT, "ZIP", NULL);
  uint8_t hdf[1024] = {0};
  memcpy(hdf + 512, "\x89HDF\r\n\x1a\n", 8); /* HDF5 signature after a 512-byte user block */
  write_file(tmp_path("userblock.h5"), hdf, sizeof hdf);
  expect_fail(tmp_path("userblock.h5"), SEGCAM_E_FORMAT, "userblock.h5", NULL);
  /* the small data files */
  expect_fail(data_path("unsupported_op.onnx"), SEGCAM_E_UNSUPPORTED,
              "node 'Foo_3' (NonMaxSuppression)", "unsupported op type");
  expect_fail(data_path("foreign_domain.onnx"), SEGCAM_E_UNSUPPORTED, "node 'MyRelu_1'",
              "'com.example'");
}

int main(void) {
  const char *src = t_env("SEGCAM_SRC", ".");
  snprintf(models_dir, sizeof models_dir, "%s", t_env("SEGCAM_MODELS", ""));
  if (!*models_dir) snprintf(models_dir, sizeof models_dir, "%s/../shared/models", src);
  snprintf(data_dir, sizeof data_dir, "%s/tests/data/onnx", src);
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/segcam_onnx_XXXXXX");
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 2;
  }

  test_pt26();
  test_pt113();
  test_tf2onnx();
  test_ops_op13();
  test_ops_old_opsets();
  test_hand_encoded();
  test_hand_encoded_bad();
  test_sweep_regressions();
  test_space_and_unpool();
  test_one_d();
  test_external();
  test_bad_files();

  for (int i = 0; i < n_tmp_files; i++) remove(tmp_files[i]);
  rmdir(tmp_dir);
  TEST_MAIN_END();
}
