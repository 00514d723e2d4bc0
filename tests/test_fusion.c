/* The session's fusion plan (graph/session.c plan_fusion) on the graphs of tests/data/fusion:
 * which nodes fuse, that keeping a value stops the fusion through it, that a fused-away value
 * cannot be a gradient target until kept, and that the kept value then has its own numbers.
 * The numbers of the fused chains themselves are checked against PyTorch by test_ops_golden on
 * tests/data/fusion (ctest test_fusion_golden); this test checks the structure.
 *
 * With SEGCAM_CONV=blas (ctest test_fusion_blas) nothing may fuse and no kernel object exists.
 * Also the reverse plan's reachability: a gradient does not flow through int64 values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/session.h"
#include "image/image.h"
#include "load/load.h"
#include "test.h"

static int blas_only;

typedef struct model {
  sc_graph g;
  sc_session *s;
  sc_npy x;
} model;

static int open_case(const char *name, model *m) {
  char path[2048];
  memset(m, 0, sizeof *m);
  snprintf(path, sizeof path, "%s/tests/data/fusion/%s.onnx", t_env("SEGCAM_SRC", "."), name);
  int ok = sc_load_model(path, &m->g) == SEGCAM_OK;
  CHECK(ok, "load %s: %s", path, segcam_last_error());
  snprintf(path, sizeof path, "%s/tests/data/fusion/%s.in0.npy", t_env("SEGCAM_SRC", "."), name);
  ok = ok && sc_npy_read(path, &m->x) == SEGCAM_OK;
  CHECK(ok, "read %s", path);
  sc_shape sh = {0};
  if (ok) {
    sh.ndim = m->x.ndim;
    for (int i = 0; i < sh.ndim; i++) sh.d[i] = m->x.shape[i];
    ok = sc_session_create(&m->g, &sh, NULL, 0, &m->s) == SEGCAM_OK;
    CHECK(ok, "session %s: %s", name, segcam_last_error());
  }
  return ok;
}

static void close_case(model *m) {
  sc_session_free(m->s);
  sc_graph_free(&m->g);
  sc_npy_free(&m->x);
}

static int node_of(const sc_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) return i;
  CHECK(0, "no node %s", name);
  return 0;
}

static unsigned run_of(const model *m, const char *node) {
  return sc_session_node_run(m->s, node_of(&m->g, node));
}

/* Expected plan of one node: fused (runs with others in it), skipped (fused away), or neither. */
static void expect(const model *m, const char *node, int fused, int skipped, const char *what) {
  unsigned r = run_of(m, node);
  if (blas_only) fused = skipped = 0;
  CHECK(!!(r & SC_RUN_FUSED) == fused, "%s: %s fused %d, expected %d", what, node,
        !!(r & SC_RUN_FUSED), fused);
  CHECK(!!(r & SC_RUN_SKIPPED) == skipped, "%s: %s skipped %d, expected %d", what, node,
        !!(r & SC_RUN_SKIPPED), skipped);
}

static void test_plans(void) {
  model m;
  if (open_case("conv_bn_relu", &m)) {
    expect(&m, "conv_0", 1, 0, "conv_bn_relu");
    expect(&m, "batchnormalization_1", 0, 1, "conv_bn_relu");
    expect(&m, "relu_2", 0, 1, "conv_bn_relu");
    CHECK(!!(run_of(&m, "conv_0") & SC_RUN_KERNEL) == !blas_only, "conv_0 kernel object");
  }
  close_case(&m);
  if (open_case("convt_groups_bn_relu", &m)) {
    expect(&m, "convtranspose_0", 1, 0, "convt_groups_bn_relu");
    expect(&m, "batchnormalization_1", 0, 1, "convt_groups_bn_relu");
    expect(&m, "relu_2", 0, 1, "convt_groups_bn_relu");
  }
  close_case(&m);
  if (open_case("conv_bn_shared", &m)) { /* BN's output is read twice: the Relu stays */
    expect(&m, "conv_0", 1, 0, "conv_bn_shared");
    expect(&m, "batchnormalization_1", 0, 1, "conv_bn_shared");
    expect(&m, "relu_2", 0, 0, "conv_bn_shared");
  }
  close_case(&m);
  if (open_case("conv_read_twice", &m)) { /* the Conv's own output is read twice */
    expect(&m, "conv_0", 0, 0, "conv_read_twice");
    expect(&m, "batchnormalization_1", 0, 0, "conv_read_twice");
  }
  close_case(&m);
  if (open_case("conv_leaky_conv_relu", &m)) {
    expect(&m, "conv_0", 1, 0, "conv_leaky_conv_relu");
    expect(&m, "leakyrelu_1", 0, 1, "conv_leaky_conv_relu");
    expect(&m, "conv_2", 1, 0, "conv_leaky_conv_relu");
    expect(&m, "relu_3", 0, 1, "conv_leaky_conv_relu");
  }
  close_case(&m);
  if (open_case("convt_relu", &m)) {
    expect(&m, "convtranspose_0", 1, 0, "convt_relu");
    expect(&m, "relu_1", 0, 1, "convt_relu");
  }
  close_case(&m);
  if (open_case("conv_s2_dw_clip", &m)) {
    /* 1x1 stride 2 on an even size: oneDNN takes it with the unread last row/column cropped */
    expect(&m, "conv_0", 1, 0, "conv_s2_dw_clip");
    expect(&m, "batchnormalization_1", 0, 1, "conv_s2_dw_clip");
    expect(&m, "relu_2", 0, 1, "conv_s2_dw_clip");
    CHECK(!!(run_of(&m, "conv_0") & SC_RUN_KERNEL) == !blas_only, "cropped conv on oneDNN");
    /* the depthwise conv with its Clip (min/max as inputs) */
    expect(&m, "conv_3", 1, 0, "conv_s2_dw_clip");
    expect(&m, "clip_4", 0, 1, "conv_s2_dw_clip");
    CHECK(!!(run_of(&m, "conv_3") & SC_RUN_KERNEL) == !blas_only, "depthwise conv on oneDNN");
  }
  close_case(&m);
}

/* Keeping an intermediate of a fused chain: the chain is cut there, the value is stored, and it is
 * a valid gradient target; before that, asking for its gradient is an error, not zeros. */
static void test_keep(void) {
  model m;
  if (!open_case("conv_bn_relu", &m)) {
    close_case(&m);
    return;
  }
  int c = sc_graph_find_value(&m.g, "c"), n = sc_graph_find_value(&m.g, "n");
  int y = m.g.outputs[0];
  size_t nx = (size_t)sc_shape_numel(&sc_session_tensor(m.s, m.g.inputs[0])->shape);
  size_t ny = (size_t)sc_shape_numel(&sc_session_tensor(m.s, y)->shape);
  size_t nn = (size_t)sc_shape_numel(&sc_session_tensor(m.s, n)->shape);
  float *seed = calloc(ny, sizeof *seed), *gn = calloc(nn, sizeof *gn);
  float *y_fused = calloc(ny, sizeof *y_fused);
  for (size_t i = 0; i < ny; i++) seed[i] = 1.0f;
  CHECK(sc_session_set_input(m.s, 0, m.x.data, nx) == SEGCAM_OK, "set input");
  CHECK(sc_session_forward(m.s) == SEGCAM_OK, "forward");
  memcpy(y_fused, sc_session_tensor(m.s, y)->data, ny * sizeof *y_fused);
  if (!blas_only) {
    segcam_status st = sc_session_backward(m.s, seed, 1, &n, &gn, 0);
    CHECK(st == SEGCAM_E_ARG, "gradient at a fused-away value: an error (got %d)", (int)st);
    CHECK(strstr(segcam_last_error(), "fused") != NULL, "error says why: %s",
          segcam_last_error());
  }
  CHECK(sc_session_keep(m.s, &n, 1) == SEGCAM_OK, "keep n");
  expect(&m, "conv_0", 1, 0, "conv_bn_relu, n kept"); /* Conv+BN still fuse: c is not kept */
  expect(&m, "batchnormalization_1", 0, 1, "conv_bn_relu, n kept");
  expect(&m, "relu_2", 0, 0, "conv_bn_relu, n kept");
  CHECK(sc_session_set_input(m.s, 0, m.x.data, nx) == SEGCAM_OK, "set input");
  CHECK(sc_session_forward(m.s) == SEGCAM_OK, "forward with n kept");
  const float *nv = sc_session_tensor(m.s, n)->data, *yv = sc_session_tensor(m.s, y)->data;
  CHECK(nv != NULL, "n is stored");
  /* y = relu(n), and the same y as the fully fused plan gave */
  double dmax = 0, dfus = 0;
  for (size_t i = 0; nv && i < ny; i++) {
    double r = nv[i] > 0 ? nv[i] : 0;
    dmax = fmax(dmax, fabs(r - yv[i]));
    dfus = fmax(dfus, fabs((double)y_fused[i] - yv[i]));
  }
  CHECK(dmax == 0, "y = relu(kept n) exactly (max diff %g)", dmax);
  CHECK(dfus <= 1e-5, "same y fused and cut (max diff %g)", dfus);
  /* d(sum y)/dn = [n > 0] */
  CHECK(sc_session_backward(m.s, seed, 1, &n, &gn, 0) == SEGCAM_OK, "gradient at kept n: %s",
        segcam_last_error());
  int bad = 0;
  for (size_t i = 0; nv && i < nn; i++) bad += gn[i] != (nv[i] > 0 ? 1.0f : 0.0f);
  CHECK(bad == 0, "d(sum y)/dn = [n > 0] (%d wrong)", bad);
  CHECK(sc_session_keep(m.s, &c, 1) == SEGCAM_OK, "keep c");
  expect(&m, "conv_0", 0, 0, "conv_bn_relu, c kept");
  expect(&m, "batchnormalization_1", 0, 0, "conv_bn_relu, c kept");
  free(seed);
  free(gn);
  free(y_fused);
  close_case(&m);
}

/* The public API on a fused-away layer: activation fails until kept, keep_layer makes it readable,
 * and the gradient (which keeps it itself) equals the chain rule through BN and ReLU:
 * d(sum y)/dc = [n > 0] * scale / sqrt(var + eps), n = BN(c). */
static void test_api(void) {
  char path[2048];
  snprintf(path, sizeof path, "%s/tests/data/fusion/conv_bn_relu.onnx", t_env("SEGCAM_SRC", "."));
  model m;
  if (!open_case("conv_bn_relu", &m)) {
    close_case(&m);
    return;
  }
  segcam_model *md = NULL;
  segcam_session *ss = NULL;
  CHECK(segcam_model_load(path, &md) == SEGCAM_OK, "load: %s", segcam_last_error());
  CHECK(md && segcam_session_create(md, -1, -1, &ss) == SEGCAM_OK, "session: %s",
        segcam_last_error());
  size_t li = 0;
  CHECK(ss && segcam_session_find_layer(ss, "conv_0", &li) == SEGCAM_OK, "find conv_0");
  size_t nx = 1 * 3 * 9 * 11, ny = 1 * 6 * 9 * 11;
  const float *a = NULL;
  int nd = 0;
  int64_t dims[SEGCAM_MAX_DIMS];
  float *seed = calloc(ny, sizeof *seed), *g = calloc(ny, sizeof *g), *c = calloc(ny, sizeof *c);
  for (size_t i = 0; i < ny; i++) seed[i] = 1.0f;
  if (ss) {
    CHECK(segcam_session_run(ss, m.x.data, nx) == SEGCAM_OK, "run: %s", segcam_last_error());
    if (!blas_only)
      CHECK(segcam_session_activation(ss, li, &a, &nd, dims) != SEGCAM_OK,
            "conv_0 is fused away: its activation is not stored");
    CHECK(segcam_session_gradient(ss, seed, ny, 0, li, g, ny) == SEGCAM_OK, "gradient: %s",
          segcam_last_error());
    CHECK(segcam_session_keep_layer(ss, li) == SEGCAM_OK, "keep_layer: %s", segcam_last_error());
    CHECK(segcam_session_activation(ss, li, &a, &nd, dims) == SEGCAM_OK && nd == 4,
          "conv_0 kept: %s", segcam_last_error());
    if (a) memcpy(c, a, ny * sizeof *c);
  }
  /* the chain rule from the model's own BN constants */
  const float *sc = m.g.values[sc_graph_find_value(&m.g, "bn_s")].cdata;
  const float *bb = m.g.values[sc_graph_find_value(&m.g, "bn_b")].cdata;
  const float *mu = m.g.values[sc_graph_find_value(&m.g, "bn_m")].cdata;
  const float *var = m.g.values[sc_graph_find_value(&m.g, "bn_v")].cdata;
  double worst = 0;
  for (size_t i = 0; a && i < ny; i++) {
    size_t k = i / (9 * 11);
    double f = sc[k] / sqrt((double)var[k] + 1e-3);
    double n = (c[i] - mu[k]) * f + bb[k];
    double want = n > 0 ? f : 0;
    if (fabs(n) > 1e-4) worst = fmax(worst, fabs(want - g[i]));
  }
  CHECK(a && worst <= 1e-5, "API gradient at conv_0 = [n > 0] * BN factor (max diff %g)", worst);
  free(seed);
  free(g);
  free(c);
  segcam_session_free(ss);
  segcam_model_free(md);
  close_case(&m);
}

/* x -> Cast(int64) -> Cast(float) -> y: y does not depend differentiably on x, so dS/dx is zero
 * (the reverse plan once left x's gradient buffer unwritten: stale data). */
static void test_int_path(void) {
  sc_graph g;
  CHECK(sc_graph_init(&g, "int_path", "test") == SEGCAM_OK, "init");
  sc_shape sh = {2, {1, 5}};
  int x = sc_graph_add_value(&g, "x", SC_F32, &sh), i = sc_graph_add_value(&g, "i", SC_I64, &sh);
  int y = sc_graph_add_value(&g, "y", SC_F32, &sh);
  sc_cast_params *p1 = calloc(1, sizeof *p1), *p2 = calloc(1, sizeof *p2);
  p1->to = SC_I64, p2->to = SC_F32;
  sc_graph_add_node(&g, "to_int", "Cast", SC_OP_CAST, &x, 1, &i, 1, p1);
  sc_graph_add_node(&g, "to_float", "Cast", SC_OP_CAST, &i, 1, &y, 1, p2);
  g.inputs[g.n_inputs++] = x;
  g.outputs[g.n_outputs++] = y;
  sc_session *s = NULL;
  CHECK(sc_session_create(&g, &sh, NULL, 0, &s) == SEGCAM_OK, "session: %s", segcam_last_error());
  float in[5] = {1.5f, -2.25f, 3, 0, 7.75f}, seed[5] = {1, 1, 1, 1, 1};
  float grad[5] = {9, 9, 9, 9, 9}, *gp = grad;
  if (s) {
    CHECK(sc_session_set_input(s, 0, in, 5) == SEGCAM_OK && sc_session_forward(s) == SEGCAM_OK,
          "forward: %s", segcam_last_error());
    const float *yv = sc_session_tensor(s, y)->data;
    CHECK(yv[0] == 1 && yv[1] == -2 && yv[4] == 7, "Cast truncates: %g %g %g", yv[0], yv[1], yv[4]);
    CHECK(sc_session_backward(s, seed, 1, &x, &gp, 0) == SEGCAM_OK, "backward: %s",
          segcam_last_error());
    int nz = 0;
    for (int k = 0; k < 5; k++) nz += grad[k] != 0;
    CHECK(nz == 0, "dS/dx through int64 is zero (%d nonzero)", nz);
  }
  sc_session_free(s);
  sc_graph_free(&g);
}

/* Reverse passes reuse the gradient buffers: a convolution that overwrites its input gradient
 * (SC_OPF_BW_OVERWRITE, no zeroing) must give the same result on the second pass as on the first,
 * and a pass with the seed doubled must give twice the gradient (linearity). */
static void test_repeat_passes(void) {
  model m;
  if (!open_case("conv_leaky_conv_relu", &m)) {
    close_case(&m);
    return;
  }
  int x = m.g.inputs[0], y = m.g.outputs[0];
  size_t nx = (size_t)sc_shape_numel(&sc_session_tensor(m.s, x)->shape);
  size_t ny = (size_t)sc_shape_numel(&sc_session_tensor(m.s, y)->shape);
  float *seed = calloc(ny, sizeof *seed), *g1 = calloc(nx, sizeof *g1), *g2 = calloc(nx, sizeof *g2);
  float *g3 = calloc(nx, sizeof *g3);
  for (size_t i = 0; i < ny; i++) seed[i] = (float)((i * 7) % 5) - 2.0f;
  CHECK(sc_session_set_input(m.s, 0, m.x.data, nx) == SEGCAM_OK && sc_session_forward(m.s) == 0,
        "forward: %s", segcam_last_error());
  CHECK(sc_session_backward(m.s, seed, 1, &x, &g1, 0) == SEGCAM_OK, "pass 1");
  CHECK(sc_session_backward(m.s, seed, 1, &x, &g2, 0) == SEGCAM_OK, "pass 2");
  for (size_t i = 0; i < ny; i++) seed[i] *= 2;
  CHECK(sc_session_backward(m.s, seed, 1, &x, &g3, 0) == SEGCAM_OK, "pass 3");
  int same = 0, doubled = 0, nonzero = 0;
  for (size_t i = 0; i < nx; i++) {
    same += g1[i] == g2[i];
    doubled += fabsf(g3[i] - 2 * g1[i]) <= 1e-5f * (1 + fabsf(g3[i]));
    nonzero += g1[i] != 0;
  }
  CHECK(same == (int)nx, "second pass differs from the first at %d of %zu", (int)nx - same, nx);
  CHECK(doubled == (int)nx, "doubled seed: %d of %zu elements doubled", doubled, nx);
  CHECK(nonzero > 0, "the gradient is all zeros");
  free(seed), free(g1), free(g2), free(g3);
  close_case(&m);
}

int main(void) {
  const char *e = getenv("SEGCAM_CONV");
  blas_only = e && strcmp(e, "blas") == 0;
  test_plans();
  test_keep();
  test_api();
  test_int_path();
  test_repeat_passes();
  TEST_MAIN_END();
}
