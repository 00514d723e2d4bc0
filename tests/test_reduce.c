/* Unit tests of ReduceMean/Max/Min/Sum (src/ops/reduce.c): hand-computed values (keepdims 0/1,
 * negative axes, all axes, axes from a constant input, noop_with_empty_axes, int64), first-extreme
 * gradient routing for Max/Min, finite-difference gradient checks for every kind over several
 * axis sets, hostile axes, and two tiny ONNX files through the loader and a session. */
#include "graph/session.h"
#include "load/load.h"
#include "op_check.h"

static sc_reduce_params rp(int kind, int keepdims, int n_axes, const int64_t *axes) {
  sc_reduce_params p;
  memset(&p, 0, sizeof p);
  p.kind = kind;
  p.keepdims = keepdims;
  p.n_axes = n_axes;
  for (int i = 0; i < n_axes; i++) p.axes[i] = axes[i];
  return p;
}

static void rcase(oc_case *k, sc_reduce_params *p, int ndim, const int64_t *dims, float *x) {
  memset(k, 0, sizeof *k);
  k->op = SC_OP_REDUCE;
  k->params = p;
  k->n_in = 1;
  k->in[0] = oc_tensor(ndim, dims, x);
  k->n_out = 1;
}

/* Runs and compares the output shape (ondim, odims) and values. */
static void expect(const char *what, oc_case *k, int ondim, const int64_t *odims,
                   const double *ref) {
  segcam_status s = oc_run(k, what);
  CHECK(s == SEGCAM_OK, "%s: %s", what, segcam_last_error());
  if (s) return;
  int same = k->out[0].shape.ndim == ondim;
  for (int i = 0; same && i < ondim; i++) same = k->out[0].shape.d[i] == odims[i];
  CHECK(same, "%s: output shape", what);
  if (same) t_close(what, k->out[0].data, ref, (size_t)sc_shape_numel(&k->out[0].shape), 1e-6, 1e-6);
}

/* x = [[1,5,2],[7,3,3]] */
static void test_values(void) {
  float x[6] = {1, 5, 2, 7, 3, 3};
  const int64_t d[2] = {2, 3};
  oc_case k;
  sc_reduce_params p;

  p = rp(SC_REDUCE_MEAN, 0, 1, (int64_t[]){1});
  rcase(&k, &p, 2, d, x);
  expect("mean axis 1", &k, 1, (int64_t[]){2}, (double[]){8.0 / 3, 13.0 / 3});
  p = rp(SC_REDUCE_MAX, 1, 1, (int64_t[]){-1});
  expect("max axis -1 keepdims", &k, 2, (int64_t[]){2, 1}, (double[]){5, 7});
  p = rp(SC_REDUCE_MIN, 1, 1, (int64_t[]){0});
  expect("min axis 0 keepdims", &k, 2, (int64_t[]){1, 3}, (double[]){1, 3, 2});
  p = rp(SC_REDUCE_SUM, 1, 0, NULL);
  expect("sum all keepdims", &k, 2, (int64_t[]){1, 1}, (double[]){21});
  p = rp(SC_REDUCE_MAX, 0, 2, (int64_t[]){1, -2});
  expect("max all keepdims 0", &k, 0, NULL, (double[]){7});
  p = rp(SC_REDUCE_SUM, 0, 0, NULL);
  p.noop_with_empty_axes = 1;
  expect("sum noop", &k, 2, d, (double[]){1, 5, 2, 7, 3, 3});
  oc_free(&k);

  /* backward by hand: g = [10, 20] */
  float din[6];
  float *dd[SC_MAX_IO] = {din};
  const float g[2] = {10, 20};
  p = rp(SC_REDUCE_MEAN, 0, 1, (int64_t[]){1});
  rcase(&k, &p, 2, d, x);
  oc_run(&k, "mean bw");
  oc_backward(&k, g, dd);
  double r1[6] = {10.0 / 3, 10.0 / 3, 10.0 / 3, 20.0 / 3, 20.0 / 3, 20.0 / 3};
  t_close("mean backward", din, r1, 6, 1e-6, 1e-6);
  p = rp(SC_REDUCE_SUM, 0, 1, (int64_t[]){1});
  oc_run(&k, "sum bw");
  oc_backward(&k, g, dd);
  t_close("sum backward", din, (double[]){10, 10, 10, 20, 20, 20}, 6, 0, 0);
  /* row 1 = [7,3,3]: min 3 is tied; the first one (index 4) gets the gradient */
  p = rp(SC_REDUCE_MIN, 0, 1, (int64_t[]){1});
  oc_run(&k, "min bw");
  oc_backward(&k, g, dd);
  t_close("min backward first tie", din, (double[]){10, 0, 0, 0, 20, 0}, 6, 0, 0);
  /* max over axis 0: columns [1,7] [5,3] [2,3] */
  p = rp(SC_REDUCE_MAX, 1, 1, (int64_t[]){0});
  oc_run(&k, "max bw");
  const float g3[3] = {1, 2, 3};
  oc_backward(&k, g3, dd);
  t_close("max backward axis 0", din, (double[]){0, 2, 0, 1, 0, 3}, 6, 0, 0);
  /* max of all with a tie: first in row-major order */
  float xt[6] = {1, 7, 2, 7, 3, 7};
  k.in[0].data = xt;
  p = rp(SC_REDUCE_MAX, 0, 0, NULL);
  oc_run(&k, "max all tie");
  oc_backward(&k, (float[]){5}, dd);
  t_close("max backward all first tie", din, (double[]){0, 5, 0, 0, 0, 0}, 6, 0, 0);
  oc_free(&k);

  /* axes from constant input 1, non-trailing axes of a [2,3,2] tensor */
  float y[12];
  for (int i = 0; i < 12; i++) y[i] = (float)(i * i % 7);
  /* y = 0 1 4 2 2 4 | 1 0 1 4 2 2  ; sum over axes {0,2} -> per axis-1 index:
   * j=0: 0+1+1+0 = 2; j=1: 4+2+1+4 = 11; j=2: 2+4+2+2 = 10; total 23 */
  int64_t ax[2] = {-1, 0};
  p = rp(SC_REDUCE_SUM, 0, 0, NULL);
  memset(&k, 0, sizeof k);
  k.op = SC_OP_REDUCE;
  k.params = &p;
  k.n_in = 2;
  k.in[0] = oc_tensor(3, (int64_t[]){2, 3, 2}, y);
  k.in[1] = oc_tensor(1, (int64_t[]){2}, (float *)ax);
  k.in[1].dtype = SC_I64;
  k.in_const[1] = 1;
  k.n_out = 1;
  expect("sum axes input", &k, 1, (int64_t[]){3}, (double[]){2, 11, 10});
  p.kind = SC_REDUCE_MEAN;
  p.keepdims = 1;
  expect("mean axes input keepdims", &k, 3, (int64_t[]){1, 3, 1},
         (double[]){0.5, 11.0 / 4, 10.0 / 4});
  /* an empty axes input = all axes */
  k.in[1].shape.d[0] = 0;
  expect("mean empty axes input", &k, 3, (int64_t[]){1, 1, 1}, (double[]){23.0 / 12});
  /* a non-constant axes input is refused */
  k.in[1].shape.d[0] = 2;
  k.in_const[1] = 0;
  CHECK(oc_run(&k, "axes not const") != SEGCAM_OK, "non-constant axes accepted");
  oc_free(&k);

  /* int64 sum/max (folded shape arithmetic) */
  int64_t xi[6] = {4, -2, 9, 1, 1, 1};
  p = rp(SC_REDUCE_SUM, 0, 1, (int64_t[]){1});
  rcase(&k, &p, 2, d, (float *)xi);
  k.in[0].dtype = SC_I64;
  k.in_const[0] = 1;
  CHECK(oc_run(&k, "i64 sum") == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(((int64_t *)k.out[0].data)[0] == 11 && ((int64_t *)k.out[0].data)[1] == 3, "i64 sum");
  p.kind = SC_REDUCE_MAX;
  CHECK(oc_run(&k, "i64 max") == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(((int64_t *)k.out[0].data)[0] == 9 && ((int64_t *)k.out[0].data)[1] == 1, "i64 max");
  CHECK(k.out[0].dtype == SC_I64, "i64 dtype");
  oc_free(&k);
}

static void test_gradcheck(void) {
  const int64_t d[4] = {2, 3, 4, 5};
  float x[120];
  oc_fill(x, 120, 3, -2, 2);
  static const struct {
    int n;
    int64_t a[4];
  } sets[] = {{1, {1}}, {2, {-1, 0}}, {0, {0}}, {2, {1, 3}}, {2, {2, 3}}, {1, {-4}}};
  static const char *names[] = {"mean", "max", "min", "sum"};
  char what[96];
  for (int kind = 0; kind < 4; kind++)
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
      for (int keep = 0; keep <= 1; keep++) {
        sc_reduce_params p = rp(kind, keep, sets[s].n, sets[s].a);
        oc_case k;
        rcase(&k, &p, 4, d, x);
        snprintf(what, sizeof what, "gradcheck %s set %zu keepdims %d", names[kind], s, keep);
        oc_gradcheck(&k, what, 1e-3, 1e-3);
        oc_free(&k);
      }
  /* parallel path (nout * count > 16384): mean/sum over H,W and max/min over C of [1,8,48,48] */
  static float big[8 * 48 * 48];
  const int64_t db[4] = {1, 8, 48, 48};
  /* channel values 0.25 apart (in a pixel-dependent order) plus noise < 0.01: no near-ties for
   * the finite differences to straddle */
  oc_fill(big, 8 * 48 * 48, 11, 0, 0.01f);
  for (int c = 0; c < 8; c++)
    for (int i = 0; i < 48 * 48; i++) big[c * 48 * 48 + i] += (float)((c * 3 + i * 5) % 8) * 0.25f;
  for (int kind = 0; kind < 4; kind++) {
    sc_reduce_params p = kind == SC_REDUCE_MAX || kind == SC_REDUCE_MIN
                             ? rp(kind, 1, 1, (int64_t[]){1})
                             : rp(kind, 0, 2, (int64_t[]){2, 3});
    oc_case k;
    rcase(&k, &p, 4, db, big);
    snprintf(what, sizeof what, "gradcheck big %s", names[kind]);
    oc_gradcheck(&k, what, 1e-3, 2e-3);
    oc_free(&k);
  }
}

static void test_hostile(void) {
  float x[6] = {0};
  oc_case k;
  sc_reduce_params p = rp(SC_REDUCE_MEAN, 1, 1, (int64_t[]){2});
  rcase(&k, &p, 2, (int64_t[]){2, 3}, x);
  CHECK(oc_run(&k, "axis 2") == SEGCAM_E_SHAPE, "axis out of range accepted");
  CHECK(strstr(segcam_last_error(), "out of range") != NULL, "%s", segcam_last_error());
  p = rp(SC_REDUCE_MEAN, 1, 2, (int64_t[]){1, -1});
  CHECK(oc_run(&k, "repeat") == SEGCAM_E_SHAPE, "repeated axis accepted");
  p = rp(SC_REDUCE_MEAN, 1, 1, (int64_t[]){-3});
  CHECK(oc_run(&k, "axis -3") == SEGCAM_E_SHAPE, "axis -3 accepted");
  k.in[0].shape.d[1] = -1;
  p = rp(SC_REDUCE_SUM, 1, 1, (int64_t[]){1});
  CHECK(oc_run(&k, "neg dim") != SEGCAM_OK, "negative dimension accepted");
  /* empty reduction: the ONNX identity values */
  k.in[0].shape.d[1] = 0;
  CHECK(oc_run(&k, "empty sum") == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(((float *)k.out[0].data)[0] == 0 && ((float *)k.out[0].data)[1] == 0, "empty sum");
  p.kind = SC_REDUCE_MAX;
  CHECK(oc_run(&k, "empty max") == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(isinf(((float *)k.out[0].data)[0]) && ((float *)k.out[0].data)[0] < 0, "empty max");
  oc_free(&k);
}

/* Loads one of the tiny models (x [1,2,3,4] -> y) and compares y with numpy's values. */
static void run_file(const char *name, const double *ref, int ondim, const int64_t *odims) {
  char path[1200];
  snprintf(path, sizeof path, "%s/tests/data/onnx/%s", t_env("SEGCAM_SRC", "."), name);
  sc_graph g;
  segcam_status st = sc_load_model(path, &g);
  CHECK(st == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  if (st) return;
  sc_shape in = {4, {1, 2, 3, 4}};
  sc_session *s = NULL;
  st = sc_session_create(&g, &in, g.outputs, 1, &s);
  CHECK(st == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  float x[24];
  for (int i = 0; i < 24; i++) x[i] = (float)((i * 0.5 - 3) * (i * 0.5 - 3));
  if (!st) st = sc_session_set_input(s, 0, x, 24);
  if (!st) st = sc_session_forward(s);
  CHECK(st == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  if (!st) {
    const sc_tensor *y = sc_session_tensor(s, g.outputs[0]);
    int same = y->shape.ndim == ondim;
    for (int i = 0; same && i < ondim; i++) same = y->shape.d[i] == odims[i];
    CHECK(same, "%s: output shape", name);
    if (same) t_close(name, y->data, ref, (size_t)sc_shape_numel(&y->shape), 1e-5, 1e-6);
  }
  sc_session_free(s);
  sc_graph_free(&g);
}

/* Values: x = (np.arange(24).reshape(1,2,3,4) * 0.5 - 3) ** 2 (float64);
 * x.mean(axis=(1,3), keepdims=True) and x.sum(axis=2). */
static void test_loader(void) {
  run_file("reduce_mean_op13.onnx", (double[]){9.875, 16.875, 31.875}, 4,
           (int64_t[]){1, 1, 3, 1});
  run_file("reduce_sum_op13.onnx", (double[]){11.0, 8.75, 8.0, 8.75, 83.0, 98.75, 116.0, 134.75},
           3, (int64_t[]){1, 2, 4});
}

int main(void) {
  test_values();
  test_gradcheck();
  test_hostile();
  test_loader();
  TEST_MAIN_END();
}
