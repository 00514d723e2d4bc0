/* Unit tests of the data-movement and shape-arithmetic kernels: Reshape (0 / -1 / allowzero,
 * Flatten, Squeeze, Unsqueeze), Transpose (incl. 5-D and the tiled NCHW <-> NHWC path), Pad (every
 * mode, negative pads, pads/value/axes from inputs), Slice (negative steps, clamped ends), Concat
 * (float and int64), Gather, Shape, Cast, ConstantOfShape and Range, with finite-difference
 * checks of the backward passes and the errors bad shapes must raise.  Pad and Slice references
 * are numpy's (np.pad, basic slicing), pasted as literals. */
#include <stdint.h>

#include "op_check.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static oc_case mk(int op, void *params) {
  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = op;
  k.params = params;
  k.n_out = 1;
  return k;
}

static void add_in(oc_case *k, int ndim, const int64_t *dims, void *data, int is_const) {
  k->in[k->n_in] = oc_tensor(ndim, dims, data);
  k->in_const[k->n_in] = is_const;
  k->n_in++;
}

static void add_in_i64(oc_case *k, int ndim, const int64_t *dims, int64_t *data, int is_const) {
  add_in(k, ndim, dims, data, is_const);
  k->in[k->n_in - 1].dtype = SC_I64;
}

static int names_node(const char *name) {
  char want[128];
  snprintf(want, sizeof want, "node '%s'", name);
  return strstr(segcam_last_error(), want) != NULL;
}

static void expect_error(oc_case *k, const char *name, segcam_status want) {
  segcam_status s = oc_run(k, name);
  CHECK(s == want, "%s: status %d, want %d (%s)", name, (int)s, (int)want, segcam_last_error());
  CHECK(names_node(name), "%s: error does not name the node: %s", name, segcam_last_error());
  oc_free(k);
}

static int shape_is(const oc_case *k, int ndim, const int64_t *d) {
  const sc_shape *s = &k->out[0].shape;
  if (s->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (s->d[i] != d[i]) return 0;
  return 1;
}

static void iota(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)i;
}

/* Output equals the integers `want` exactly (float outputs hold small integers). */
static void expect_values(const char *what, const oc_case *k, const int64_t *want, int64_t n) {
  int bad = 0;
  for (int64_t i = 0; i < n && !bad; i++) {
    double got = k->out[0].dtype == SC_I64 ? (double)((const int64_t *)k->out[0].data)[i]
                                           : ((const float *)k->out[0].data)[i];
    if (got != (double)want[i]) {
      CHECK(0, "%s: [%lld] = %g, want %lld", what, (long long)i, got, (long long)want[i]);
      bad = 1;
    }
  }
  if (!bad) CHECK(1, "%s", what);
}

/* ---- reshape -------------------------------------------------------------------------------- */

static void test_reshape(void) {
  int64_t xd[3] = {2, 3, 4};
  float x[24];
  iota(x, 24);
  struct {
    const char *name;
    int n;
    int64_t shape[4];
    int allowzero;
    int ndim;
    int64_t want[4];
  } ok[] = {
      {"reshape_0_m1", 2, {0, -1}, 0, 2, {2, 12}},      {"reshape_m1_4", 2, {-1, 4}, 0, 2, {6, 4}},
      {"reshape_4_0_2", 3, {4, 0, 2}, 0, 3, {4, 3, 2}}, {"reshape_flat", 1, {-1}, 0, 1, {24}},
      {"reshape_0_0_0", 3, {0, 0, 0}, 0, 3, {2, 3, 4}},
  };
  for (size_t c = 0; c < sizeof ok / sizeof ok[0]; c++) {
    /* once from the params, once from a constant int64 input 1 */
    for (int from_input = 0; from_input < 2; from_input++) {
      sc_reshape_params p;
      memset(&p, 0, sizeof p);
      p.kind = SC_RESHAPE_SHAPE;
      p.allowzero = ok[c].allowzero;
      int64_t sd[1] = {ok[c].n}, shp[4];
      memcpy(shp, ok[c].shape, sizeof shp);
      if (!from_input) {
        p.n_shape = ok[c].n;
        memcpy(p.shape, ok[c].shape, sizeof ok[c].shape);
      }
      oc_case k = mk(SC_OP_RESHAPE, &p);
      add_in(&k, 3, xd, x, 0);
      if (from_input) add_in_i64(&k, 1, sd, shp, 1);
      CHECK(oc_run(&k, ok[c].name) == SEGCAM_OK, "%s: %s", ok[c].name, segcam_last_error());
      CHECK(shape_is(&k, ok[c].ndim, ok[c].want), "%s: wrong shape", ok[c].name);
      CHECK(!memcmp(k.out[0].data, x, sizeof x), "%s: data must not change", ok[c].name);
      if (from_input) oc_gradcheck_acc(&k, ok[c].name, 1e-2, 1e-3);
      oc_free(&k);
    }
  }
  /* allowzero: a 0 is a real 0 */
  int64_t zd[2] = {0, 3};
  sc_reshape_params pz;
  memset(&pz, 0, sizeof pz);
  pz.kind = SC_RESHAPE_SHAPE;
  pz.allowzero = 1;
  pz.n_shape = 3;
  pz.shape[0] = 3, pz.shape[1] = 0, pz.shape[2] = 5;
  oc_case k = mk(SC_OP_RESHAPE, &pz);
  add_in(&k, 2, zd, x, 0);
  int64_t wz[3] = {3, 0, 5};
  CHECK(oc_run(&k, "reshape_allowzero") == SEGCAM_OK && shape_is(&k, 3, wz), "allowzero: %s",
        segcam_last_error());
  oc_free(&k);
  /* errors */
  struct {
    const char *name;
    int n;
    int64_t shape[4];
    int allowzero;
  } bad[] = {
      {"reshape_size_mismatch", 2, {5, 5}, 0},
      {"reshape_two_minus_one", 3, {-1, -1, 2}, 0},
      {"reshape_minus_two", 2, {-2, 12}, 0},
      {"reshape_indivisible", 2, {-1, 5}, 0},
      {"reshape_zero_beyond_rank", 4, {0, 0, 0, 0}, 0},
      {"reshape_allowzero_minus_one", 2, {0, -1}, 1},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    sc_reshape_params p;
    memset(&p, 0, sizeof p);
    p.kind = SC_RESHAPE_SHAPE;
    p.allowzero = bad[c].allowzero;
    p.n_shape = bad[c].n;
    memcpy(p.shape, bad[c].shape, sizeof bad[c].shape);
    k = mk(SC_OP_RESHAPE, &p);
    add_in(&k, 3, xd, x, 0);
    expect_error(&k, bad[c].name, SEGCAM_E_SHAPE);
  }
  /* a computed shape input cannot be resolved at plan time */
  sc_reshape_params pd;
  memset(&pd, 0, sizeof pd);
  int64_t sd[1] = {2}, shp[2] = {6, 4};
  k = mk(SC_OP_RESHAPE, &pd);
  add_in(&k, 3, xd, x, 0);
  add_in_i64(&k, 1, sd, shp, 0);
  expect_error(&k, "reshape_dynamic", SEGCAM_E_UNSUPPORTED);
}

static void test_flatten_squeeze(void) {
  int64_t xd[4] = {2, 3, 4, 5};
  float x[120];
  iota(x, 120);
  struct {
    int axis;
    int64_t want[2];
  } fl[] = {{2, {6, 20}}, {-1, {24, 5}}, {0, {1, 120}}, {4, {120, 1}}, {1, {2, 60}}};
  for (size_t c = 0; c < sizeof fl / sizeof fl[0]; c++) {
    sc_reshape_params p;
    memset(&p, 0, sizeof p);
    p.kind = SC_RESHAPE_FLATTEN;
    p.axis = fl[c].axis;
    oc_case k = mk(SC_OP_RESHAPE, &p);
    add_in(&k, 4, xd, x, 0);
    CHECK(oc_run(&k, "flatten") == SEGCAM_OK && shape_is(&k, 2, fl[c].want), "flatten axis %d: %s",
          fl[c].axis, segcam_last_error());
    oc_free(&k);
  }
  sc_reshape_params pf;
  memset(&pf, 0, sizeof pf);
  pf.kind = SC_RESHAPE_FLATTEN;
  pf.axis = 5;
  oc_case k = mk(SC_OP_RESHAPE, &pf);
  add_in(&k, 4, xd, x, 0);
  expect_error(&k, "flatten_bad_axis", SEGCAM_E_SHAPE);

  int64_t sd[4] = {1, 3, 1, 4};
  struct {
    sc_reshape_kind kind;
    int n;
    int64_t axes[3];
    int from_input;
    int ndim;
    int64_t want[6];
  } sq[] = {
      {SC_RESHAPE_SQUEEZE, 0, {0}, 0, 2, {3, 4}},     /* all 1-dims */
      {SC_RESHAPE_SQUEEZE, 1, {-2}, 0, 3, {1, 3, 4}}, /* negative axis */
      {SC_RESHAPE_SQUEEZE, 2, {0, 2}, 1, 2, {3, 4}},  /* axes from input 1 (opset 13) */
      {SC_RESHAPE_UNSQUEEZE, 1, {0}, 0, 5, {1, 1, 3, 1, 4}},
      {SC_RESHAPE_UNSQUEEZE, 2, {-1, 1}, 1, 6, {1, 1, 3, 1, 4, 1}},
  };
  float y[12];
  iota(y, 12);
  for (size_t c = 0; c < sizeof sq / sizeof sq[0]; c++) {
    sc_reshape_params p;
    memset(&p, 0, sizeof p);
    p.kind = sq[c].kind;
    int64_t ad[1] = {sq[c].n}, axes[3];
    memcpy(axes, sq[c].axes, sizeof axes);
    if (!sq[c].from_input) {
      p.n_axes = sq[c].n;
      memcpy(p.axes, sq[c].axes, sizeof sq[c].axes);
    }
    k = mk(SC_OP_RESHAPE, &p);
    add_in(&k, 4, sd, y, 0);
    if (sq[c].from_input) add_in_i64(&k, 1, ad, axes, 1);
    CHECK(oc_run(&k, "squeeze") == SEGCAM_OK && shape_is(&k, sq[c].ndim, sq[c].want),
          "squeeze/unsqueeze case %zu: %s", c, segcam_last_error());
    CHECK(!memcmp(k.out[0].data, y, sizeof y), "squeeze keeps the data");
    oc_gradcheck_acc(&k, "squeeze", 1e-2, 1e-3);
    oc_free(&k);
  }
  /* unsqueeze of a scalar (shape arithmetic) */
  int64_t s0 = 42, ax0 = 0, d1[1] = {1};
  sc_reshape_params pu;
  memset(&pu, 0, sizeof pu);
  pu.kind = SC_RESHAPE_UNSQUEEZE;
  k = mk(SC_OP_RESHAPE, &pu);
  add_in_i64(&k, 0, d1, &s0, 1);
  add_in_i64(&k, 1, d1, &ax0, 1);
  CHECK(oc_run(&k, "unsqueeze_scalar") == SEGCAM_OK && shape_is(&k, 1, d1) &&
            ((int64_t *)k.out[0].data)[0] == 42,
        "unsqueeze scalar: %s", segcam_last_error());
  oc_free(&k);
  /* errors: squeezing a dim that is not 1, repeated axes, out of range */
  struct {
    const char *name;
    sc_reshape_kind kind;
    int n;
    int64_t axes[2];
  } bad[] = {{"squeeze_not_one", SC_RESHAPE_SQUEEZE, 1, {1}},
             {"squeeze_repeated", SC_RESHAPE_SQUEEZE, 2, {0, -4}},
             {"squeeze_out_of_range", SC_RESHAPE_SQUEEZE, 1, {4}},
             {"unsqueeze_repeated", SC_RESHAPE_UNSQUEEZE, 2, {1, 1}},
             {"unsqueeze_out_of_range", SC_RESHAPE_UNSQUEEZE, 1, {6}}};
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    sc_reshape_params p;
    memset(&p, 0, sizeof p);
    p.kind = bad[c].kind;
    p.n_axes = bad[c].n;
    memcpy(p.axes, bad[c].axes, sizeof bad[c].axes);
    k = mk(SC_OP_RESHAPE, &p);
    add_in(&k, 4, sd, y, 0);
    expect_error(&k, bad[c].name, SEGCAM_E_SHAPE);
  }
}

/* ---- transpose ------------------------------------------------------------------------------ */

/* Naive transpose of x (rank r, dims d) by perm, in double. */
static void transpose_ref(const float *x, int r, const int64_t *d, const int *perm, double *y) {
  int64_t n = 1, st[8], od[8];
  for (int i = r - 1; i >= 0; i--) st[i] = n, n *= d[i];
  for (int i = 0; i < r; i++) od[i] = d[perm[i]];
  for (int64_t e = 0; e < n; e++) {
    int64_t rem = e, src = 0;
    for (int i = r - 1; i >= 0; i--) {
      src += (rem % od[i]) * st[perm[i]];
      rem /= od[i];
    }
    y[e] = x[src];
  }
}

static void test_transpose(void) {
  struct {
    const char *name;
    int r;
    int64_t d[5];
    int n_perm;
    int perm[5];
    int grad;
  } cases[] = {
      {"transpose_3d", 3, {2, 3, 4}, 3, {2, 0, 1}, 1},
      {"transpose_reverse", 3, {2, 3, 4}, 0, {2, 1, 0}, 1},
      {"transpose_5d", 5, {2, 3, 2, 4, 3}, 5, {4, 1, 3, 0, 2}, 1},
      {"transpose_nchw_nhwc", 4, {1, 5, 37, 41}, 4, {0, 2, 3, 1}, 1},
      {"transpose_nhwc_nchw", 4, {1, 37, 41, 5}, 4, {0, 3, 1, 2}, 1},
      {"transpose_big_nchw_nhwc", 4, {2, 33, 70, 45}, 4, {0, 2, 3, 1}, 0},
      {"transpose_identity", 4, {2, 3, 4, 5}, 4, {0, 1, 2, 3}, 1},
      {"transpose_2d", 2, {67, 45}, 2, {1, 0}, 1},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t n = 1;
    for (int i = 0; i < cases[c].r; i++) n *= cases[c].d[i];
    float *x = malloc((size_t)n * sizeof *x);
    double *ref = malloc((size_t)n * sizeof *ref);
    oc_fill(x, n, 200 + c, -1, 1);
    sc_transpose_params p;
    memset(&p, 0, sizeof p);
    p.n_perm = cases[c].n_perm;
    memcpy(p.perm, cases[c].perm, sizeof cases[c].perm);
    oc_case k = mk(SC_OP_TRANSPOSE, &p);
    add_in(&k, cases[c].r, cases[c].d, x, 0);
    CHECK(oc_run(&k, cases[c].name) == SEGCAM_OK, "%s: %s", cases[c].name, segcam_last_error());
    transpose_ref(x, cases[c].r, cases[c].d, cases[c].perm, ref);
    t_close(cases[c].name, k.out[0].data, ref, (size_t)n, 0, 0);
    if (cases[c].grad) oc_gradcheck_acc(&k, cases[c].name, 1e-2, 1e-3);
    oc_free(&k);
    free(x);
    free(ref);
  }
  /* int64 */
  int64_t xi[6] = {1, 2, 3, 4, 5, 6}, d23[2] = {2, 3}, want[6] = {1, 4, 2, 5, 3, 6};
  sc_transpose_params p2 = {2, {1, 0}};
  oc_case k = mk(SC_OP_TRANSPOSE, &p2);
  add_in_i64(&k, 2, d23, xi, 1);
  CHECK(oc_run(&k, "transpose_i64") == SEGCAM_OK, "%s", segcam_last_error());
  expect_values("transpose int64", &k, want, 6);
  oc_free(&k);
  /* bad perms */
  int64_t d3[3] = {2, 3, 4};
  float x[24] = {0};
  sc_transpose_params bad[] = {{3, {0, 0, 1}}, {2, {0, 1}}, {3, {0, 1, 3}}, {3, {-1, 0, 1}}};
  for (int c = 0; c < 4; c++) {
    char name[32];
    snprintf(name, sizeof name, "transpose_bad_perm_%d", c);
    k = mk(SC_OP_TRANSPOSE, &bad[c]);
    add_in(&k, 3, d3, x, 0);
    expect_error(&k, name, SEGCAM_E_SHAPE);
  }
}

/* ---- pad ------------------------------------------------------------------------------------ */

/* np.pad(np.arange(24).reshape(2, 3, 4), ((0,0),(1,2),(2,1)), mode=...), and two more cases:
 *   /usr/bin/python3 -c 'import numpy as np; x = np.arange(24).reshape(2,3,4);
 *     print(np.pad(x, ((0,0),(1,2),(2,1)), mode="reflect").flatten().tolist())'  (etc.) */
static const int64_t pad_constant[84] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  -1, -1, -1, 4,  5,  6,  7,  -1,
    -1, -1, 8,  9,  10, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, 12, 13, 14, 15, -1, -1, -1, 16, 17, 18, 19, -1,
    -1, -1, 20, 21, 22, 23, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
static const int64_t pad_reflect[84] = {
    6,  5,  4,  5,  6,  7,  6,  2,  1,  0,  1,  2,  3,  2,  6,  5,  4,  5,  6,  7,  6,
    10, 9,  8,  9,  10, 11, 10, 6,  5,  4,  5,  6,  7,  6,  2,  1,  0,  1,  2,  3,  2,
    18, 17, 16, 17, 18, 19, 18, 14, 13, 12, 13, 14, 15, 14, 18, 17, 16, 17, 18, 19, 18,
    22, 21, 20, 21, 22, 23, 22, 18, 17, 16, 17, 18, 19, 18, 14, 13, 12, 13, 14, 15, 14};
static const int64_t pad_edge[84] = {
    0,  0,  0,  1,  2,  3,  3,  0,  0,  0,  1,  2,  3,  3,  4,  4,  4,  5,  6,  7,  7,
    8,  8,  8,  9,  10, 11, 11, 8,  8,  8,  9,  10, 11, 11, 8,  8,  8,  9,  10, 11, 11,
    12, 12, 12, 13, 14, 15, 15, 12, 12, 12, 13, 14, 15, 15, 16, 16, 16, 17, 18, 19, 19,
    20, 20, 20, 21, 22, 23, 23, 20, 20, 20, 21, 22, 23, 23, 20, 20, 20, 21, 22, 23, 23};
static const int64_t pad_wrap[84] = {
    10, 11, 8,  9,  10, 11, 8,  2,  3,  0,  1,  2,  3,  0,  6,  7,  4,  5,  6,  7,  4,
    10, 11, 8,  9,  10, 11, 8,  2,  3,  0,  1,  2,  3,  0,  6,  7,  4,  5,  6,  7,  4,
    22, 23, 20, 21, 22, 23, 20, 14, 15, 12, 13, 14, 15, 12, 18, 19, 16, 17, 18, 19, 16,
    22, 23, 20, 21, 22, 23, 20, 14, 15, 12, 13, 14, 15, 12, 18, 19, 16, 17, 18, 19, 16};
/* np.pad(x, ((0,0),(0,0),(5,4)), mode="reflect"): pads wider than the axis keep reflecting */
static const int64_t pad_reflect_wide[78] = {
    1,  2,  3,  2,  1,  0,  1,  2,  3,  2,  1,  0,  1,  5,  6,  7,  6,  5,  4,  5,
    6,  7,  6,  5,  4,  5,  9,  10, 11, 10, 9,  8,  9,  10, 11, 10, 9,  8,  9,  13,
    14, 15, 14, 13, 12, 13, 14, 15, 14, 13, 12, 13, 17, 18, 19, 18, 17, 16, 17, 18,
    19, 18, 17, 16, 17, 21, 22, 23, 22, 21, 20, 21, 22, 23, 22, 21, 20, 21};
/* pads [0,-1,1, 0,2,-2] = np.pad(x[:, 1:, :-2], ((0,0),(0,2),(1,0)), constant_values=-1) */
static const int64_t pad_negative[24] = {-1, 4,  5,  -1, 8,  9,  -1, -1, -1, -1, -1, -1,
                                         -1, 16, 17, -1, 20, 21, -1, -1, -1, -1, -1, -1};

static void test_pad(void) {
  int64_t xd[3] = {2, 3, 4};
  float x[24];
  iota(x, 24);
  struct {
    const char *name;
    sc_pad_mode mode;
    int64_t pads[6];
    const int64_t *want;
    int ndim;
    int64_t od[3];
  } cases[] = {
      {"pad_constant", SC_PADMODE_CONSTANT, {0, 1, 2, 0, 2, 1}, pad_constant, 3, {2, 6, 7}},
      {"pad_reflect", SC_PADMODE_REFLECT, {0, 1, 2, 0, 2, 1}, pad_reflect, 3, {2, 6, 7}},
      {"pad_edge", SC_PADMODE_EDGE, {0, 1, 2, 0, 2, 1}, pad_edge, 3, {2, 6, 7}},
      {"pad_wrap", SC_PADMODE_WRAP, {0, 1, 2, 0, 2, 1}, pad_wrap, 3, {2, 6, 7}},
      {"pad_reflect_wide", SC_PADMODE_REFLECT, {0, 0, 5, 0, 0, 4}, pad_reflect_wide, 3, {2, 3, 13}},
      {"pad_negative", SC_PADMODE_CONSTANT, {0, -1, 1, 0, 2, -2}, pad_negative, 3, {2, 4, 3}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t n = cases[c].od[0] * cases[c].od[1] * cases[c].od[2];
    /* once with pads/value in the params, once from inputs 1 and 2 (opset 11) */
    for (int from_inputs = 0; from_inputs < 2; from_inputs++) {
      sc_pad_params p;
      memset(&p, 0, sizeof p);
      p.mode = cases[c].mode;
      int64_t pd[1] = {6}, pads[6];
      float value = -1;
      memcpy(pads, cases[c].pads, sizeof pads);
      if (!from_inputs) {
        p.value = -1;
        p.n_pads = 6;
        memcpy(p.pads, cases[c].pads, sizeof pads);
      } else {
        p.value = 123; /* input 2 wins */
      }
      oc_case k = mk(SC_OP_PAD, &p);
      add_in(&k, 3, xd, x, 0);
      if (from_inputs) {
        add_in_i64(&k, 1, pd, pads, 1);
        add_in(&k, 0, pd, &value, 1);
      }
      CHECK(oc_run(&k, cases[c].name) == SEGCAM_OK, "%s: %s", cases[c].name, segcam_last_error());
      CHECK(shape_is(&k, cases[c].ndim, cases[c].od), "%s: output shape", cases[c].name);
      expect_values(cases[c].name, &k, cases[c].want, n);
      oc_free(&k);
    }
  }
  /* gradients: constant (a slice of g, with crops) and the modes that read a cell many times */
  int64_t gd[4] = {2, 3, 5, 6};
  float xg[180];
  oc_fill(xg, 180, 300, -1, 1);
  struct {
    const char *name;
    sc_pad_mode mode;
    int64_t pads[8];
  } grads[] = {
      {"pad_grad_constant", SC_PADMODE_CONSTANT, {0, 0, 2, -1, 0, 1, -2, 3}},
      {"pad_grad_reflect", SC_PADMODE_REFLECT, {0, 1, 3, 2, 0, 2, 4, 5}},
      {"pad_grad_edge", SC_PADMODE_EDGE, {0, 0, 3, 2, 0, 0, 4, 5}},
      {"pad_grad_wrap", SC_PADMODE_WRAP, {1, 0, 3, 2, 1, 0, 4, 7}},
  };
  for (size_t c = 0; c < sizeof grads / sizeof grads[0]; c++) {
    sc_pad_params p;
    memset(&p, 0, sizeof p);
    p.mode = grads[c].mode;
    p.value = 0.5f;
    p.n_pads = 8;
    memcpy(p.pads, grads[c].pads, sizeof grads[c].pads);
    oc_case k = mk(SC_OP_PAD, &p);
    add_in(&k, 4, gd, xg, 0);
    oc_gradcheck_acc(&k, grads[c].name, 1e-2, 1e-3);
    oc_free(&k);
  }
  /* axes input (opset 18): pad only the last axis by (2, 1); same as the full pads */
  {
    int64_t pads[2] = {2, 1}, axes[1] = {-1}, d2[1] = {2}, d1[1] = {1};
    sc_pad_params p;
    memset(&p, 0, sizeof p);
    oc_case k = mk(SC_OP_PAD, &p);
    add_in(&k, 3, xd, x, 0);
    add_in_i64(&k, 1, d2, pads, 1);
    add_in(&k, 1, d1, NULL, 1);
    add_in_i64(&k, 1, d1, axes, 1);
    int64_t od[3] = {2, 3, 7};
    CHECK(oc_run(&k, "pad_axes") == SEGCAM_OK && shape_is(&k, 3, od), "pad axes: %s",
          segcam_last_error());
    const float *y = k.out[0].data;
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[5] == 3 && y[6] == 0 && y[9] == 4,
          "pad axes values");
    oc_free(&k);
  }
  /* int64 constant pad (shape arithmetic) */
  {
    int64_t xi[3] = {7, 8, 9}, d3[1] = {3}, want[5] = {0, 7, 8, 9, 0};
    sc_pad_params p;
    memset(&p, 0, sizeof p);
    p.n_pads = 2;
    p.pads[0] = 1, p.pads[1] = 1;
    oc_case k = mk(SC_OP_PAD, &p);
    add_in_i64(&k, 1, d3, xi, 1);
    CHECK(oc_run(&k, "pad_i64") == SEGCAM_OK, "%s", segcam_last_error());
    expect_values("pad int64", &k, want, 5);
    oc_free(&k);
  }
  /* errors */
  struct {
    const char *name;
    int n;
    int64_t pads[6];
    sc_pad_mode mode;
  } bad[] = {{"pad_crop_too_much", 6, {0, -2, 0, 0, -2, 0}, SC_PADMODE_CONSTANT},
             {"pad_wrong_count", 4, {0, 1, 0, 1}, SC_PADMODE_CONSTANT}};
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    sc_pad_params p;
    memset(&p, 0, sizeof p);
    p.mode = bad[c].mode;
    p.n_pads = bad[c].n;
    memcpy(p.pads, bad[c].pads, sizeof bad[c].pads);
    oc_case k = mk(SC_OP_PAD, &p);
    add_in(&k, 3, xd, x, 0);
    expect_error(&k, bad[c].name, SEGCAM_E_SHAPE);
  }
  int64_t ed[2] = {2, 0};
  sc_pad_params pe;
  memset(&pe, 0, sizeof pe);
  pe.mode = SC_PADMODE_EDGE;
  pe.n_pads = 4;
  pe.pads[1] = 1;
  oc_case k = mk(SC_OP_PAD, &pe);
  add_in(&k, 2, ed, x, 0);
  expect_error(&k, "pad_edge_of_empty", SEGCAM_E_SHAPE);
}

/* ---- slice ---------------------------------------------------------------------------------- */

/* numpy basic slicing of y = np.arange(60).reshape(3, 4, 5). */
static const int64_t slice_a[24] = {1,  2,  3,  4,  6,  7,  8,  9,  21, 22, 23, 24,
                                    26, 27, 28, 29, 41, 42, 43, 44, 46, 47, 48, 49};
static const int64_t slice_b[60] = {40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54,
                                    55, 56, 57, 58, 59, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                    30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 0,  1,  2,  3,  4,
                                    5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
static const int64_t slice_c[24] = {24, 22, 20, 29, 27, 25, 34, 32, 30, 39, 37, 35,
                                    44, 42, 40, 49, 47, 45, 54, 52, 50, 59, 57, 55};
static const int64_t slice_f[24] = {0,  3,  5,  8,  10, 13, 15, 18, 20, 23, 25, 28,
                                    30, 33, 35, 38, 40, 43, 45, 48, 50, 53, 55, 58};
static const int64_t slice_g[24] = {18, 17, 16, 15, 8,  7,  6,  5,  38, 37, 36, 35,
                                    28, 27, 26, 25, 58, 57, 56, 55, 48, 47, 46, 45};

static void test_slice(void) {
  int64_t xd[3] = {3, 4, 5};
  float x[60];
  iota(x, 60);
  struct {
    const char *name;
    int n;
    int64_t starts[2], ends[2], axes[2], steps[2];
    const int64_t *want;
    int64_t od[3];
  } cases[] = {
      /* x[:, 0:2, 1:] with an end far beyond the axis */
      {"slice_a", 2, {0, 1}, {2, 1000}, {1, 2}, {1, 1}, slice_a, {3, 2, 4}},
      /* x[::-1]: end INT64_MIN means "through the first element" */
      {"slice_b", 1, {-1}, {INT64_MIN}, {0}, {-1}, slice_b, {3, 4, 5}},
      /* x[1:, :, ::-2]: INT64_MAX end, negative axis, -INT64_MAX end with a negative step */
      {"slice_c", 2, {1, -1}, {INT64_MAX, -INT64_MAX}, {0, -1}, {1, -2}, slice_c, {2, 4, 3}},
      /* x[:, :, 0::3] with starts/ends clamped from far outside */
      {"slice_f", 1, {-100}, {100}, {2}, {3}, slice_f, {3, 4, 2}},
      /* x[:, 3:0:-2, -2:-100:-1] */
      {"slice_g", 2, {3, -2}, {0, -100}, {1, 2}, {-2, -1}, slice_g, {3, 2, 4}},
      /* start past end with a positive step: empty */
      {"slice_empty", 1, {3}, {1}, {2}, {1}, slice_a, {3, 4, 0}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int64_t nd[1] = {cases[c].n}, st[2], en[2], ax[2], sp[2];
    memcpy(st, cases[c].starts, sizeof st);
    memcpy(en, cases[c].ends, sizeof en);
    memcpy(ax, cases[c].axes, sizeof ax);
    memcpy(sp, cases[c].steps, sizeof sp);
    oc_case k = mk(SC_OP_SLICE, NULL);
    add_in(&k, 3, xd, x, 0);
    add_in_i64(&k, 1, nd, st, 1);
    add_in_i64(&k, 1, nd, en, 1);
    add_in_i64(&k, 1, nd, ax, 1);
    add_in_i64(&k, 1, nd, sp, 1);
    CHECK(oc_run(&k, cases[c].name) == SEGCAM_OK, "%s: %s", cases[c].name, segcam_last_error());
    CHECK(shape_is(&k, 3, cases[c].od), "%s: output shape [%lld,%lld,%lld]", cases[c].name,
          (long long)k.out[0].shape.d[0], (long long)k.out[0].shape.d[1],
          (long long)k.out[0].shape.d[2]);
    int64_t n = cases[c].od[0] * cases[c].od[1] * cases[c].od[2];
    expect_values(cases[c].name, &k, cases[c].want, n);
    if (n) {
      oc_gradcheck_acc(&k, cases[c].name, 1e-2, 1e-3);
    } else {
      float g = 0, dx[60];
      float *din[SC_MAX_IO] = {dx};
      CHECK(oc_backward(&k, &g, din) == SEGCAM_OK, "empty slice backward");
    }
    oc_free(&k);
  }
  /* opset < 10: starts/ends/axes in the params, step 1; axes omitted = 0.. */
  sc_slice_params p;
  memset(&p, 0, sizeof p);
  p.n = 2;
  p.starts[0] = 0, p.starts[1] = 0, p.ends[0] = 3, p.ends[1] = 2, p.axes[0] = 1, p.axes[1] = 2;
  oc_case k = mk(SC_OP_SLICE, &p);
  add_in(&k, 3, xd, x, 0);
  int64_t od[3] = {3, 3, 2};
  CHECK(oc_run(&k, "slice_params") == SEGCAM_OK && shape_is(&k, 3, od), "slice params: %s",
        segcam_last_error());
  CHECK(((float *)k.out[0].data)[0] == 0 && ((float *)k.out[0].data)[3] == 6 &&
            ((float *)k.out[0].data)[6] == 20,
        "slice params values");
  oc_free(&k);
  int64_t sh[4] = {1, 3, 224, 224}, d4[1] = {4}, s0[1] = {0}, e2[1] = {2}, one[1] = {1};
  int64_t want[2] = {1, 3};
  k = mk(SC_OP_SLICE, NULL);
  add_in_i64(&k, 1, d4, sh, 1);
  add_in_i64(&k, 1, one, s0, 1);
  add_in_i64(&k, 1, one, e2, 1);
  CHECK(oc_run(&k, "slice_i64") == SEGCAM_OK, "%s", segcam_last_error());
  expect_values("slice of an int64 shape", &k, want, 2);
  oc_free(&k);
  /* errors */
  int64_t zero[1] = {0}, ax5[1] = {5}, st1[1] = {0}, en1[1] = {2};
  k = mk(SC_OP_SLICE, NULL);
  add_in(&k, 3, xd, x, 0);
  add_in_i64(&k, 1, one, st1, 1);
  add_in_i64(&k, 1, one, en1, 1);
  add_in_i64(&k, 1, one, s0, 1);
  add_in_i64(&k, 1, one, zero, 1);
  expect_error(&k, "slice_step_zero", SEGCAM_E_SHAPE);
  k = mk(SC_OP_SLICE, NULL);
  add_in(&k, 3, xd, x, 0);
  add_in_i64(&k, 1, one, st1, 1);
  add_in_i64(&k, 1, one, en1, 1);
  add_in_i64(&k, 1, one, ax5, 1);
  expect_error(&k, "slice_bad_axis", SEGCAM_E_SHAPE);
  int64_t two[1] = {2}, st2[2] = {0, 0};
  k = mk(SC_OP_SLICE, NULL);
  add_in(&k, 3, xd, x, 0);
  add_in_i64(&k, 1, two, st2, 1);
  add_in_i64(&k, 1, one, en1, 1);
  expect_error(&k, "slice_length_mismatch", SEGCAM_E_SHAPE);
}

/* ---- concat --------------------------------------------------------------------------------- */

static void test_concat(void) {
  int64_t d0[3] = {2, 3, 4}, d1[3] = {2, 1, 4}, d2[3] = {2, 2, 4};
  float a[24], b[8], c[16];
  oc_fill(a, 24, 400, -1, 1);
  oc_fill(b, 8, 401, -1, 1);
  oc_fill(c, 16, 402, -1, 1);
  for (int axis = 1; axis >= -2; axis -= 3) {
    sc_concat_params p = {axis};
    oc_case k = mk(SC_OP_CONCAT, &p);
    add_in(&k, 3, d0, a, 0);
    add_in(&k, 3, d1, b, 0);
    add_in(&k, 3, d2, c, 0);
    CHECK(oc_run(&k, "concat") == SEGCAM_OK, "%s", segcam_last_error());
    int64_t od[3] = {2, 6, 4};
    CHECK(shape_is(&k, 3, od), "concat shape");
    double ref[48];
    for (int n = 0; n < 2; n++)
      for (int ch = 0; ch < 6; ch++)
        for (int w = 0; w < 4; w++)
          ref[(n * 6 + ch) * 4 + w] = ch < 3   ? a[(n * 3 + ch) * 4 + w]
                                      : ch < 4 ? b[n * 4 + w]
                                               : c[(n * 2 + ch - 4) * 4 + w];
    t_close("concat axis 1", k.out[0].data, ref, 48, 0, 0);
    oc_gradcheck_acc(&k, "concat", 1e-2, 1e-3);
    oc_free(&k);
  }
  /* int64 along axis 0 (building a sizes vector), with an empty piece */
  int64_t x[2] = {1, 3}, y[2] = {64, 64}, dd[1] = {2}, de[1] = {0}, want[4] = {1, 3, 64, 64};
  sc_concat_params p0 = {0};
  oc_case k = mk(SC_OP_CONCAT, &p0);
  add_in_i64(&k, 1, dd, x, 1);
  add_in_i64(&k, 1, de, y, 1);
  add_in_i64(&k, 1, dd, y, 1);
  CHECK(oc_run(&k, "concat_i64") == SEGCAM_OK, "%s", segcam_last_error());
  expect_values("concat int64", &k, want, 4);
  oc_free(&k);
  /* errors */
  int64_t r2[2] = {2, 3}, bad1[3] = {3, 1, 4};
  sc_concat_params p1 = {1};
  k = mk(SC_OP_CONCAT, &p1);
  add_in(&k, 3, d0, a, 0);
  add_in(&k, 2, r2, b, 0);
  expect_error(&k, "concat_rank_mismatch", SEGCAM_E_SHAPE);
  k = mk(SC_OP_CONCAT, &p1);
  add_in(&k, 3, d0, a, 0);
  add_in(&k, 3, bad1, a, 0);
  expect_error(&k, "concat_dim_mismatch", SEGCAM_E_SHAPE);
  sc_concat_params p3 = {3};
  k = mk(SC_OP_CONCAT, &p3);
  add_in(&k, 3, d0, a, 0);
  add_in(&k, 3, d0, a, 0);
  expect_error(&k, "concat_bad_axis", SEGCAM_E_SHAPE);
  k = mk(SC_OP_CONCAT, &p0);
  add_in(&k, 1, dd, a, 0);
  add_in_i64(&k, 1, dd, x, 1);
  expect_error(&k, "concat_mixed_types", SEGCAM_E_SHAPE);
}

/* ---- identity, gather, shape, cast, constant_of_shape, range -------------------------------- */

static void test_identity_gather(void) {
  int64_t d[2] = {3, 4};
  float x[12];
  iota(x, 12);
  oc_case k = mk(SC_OP_IDENTITY, NULL);
  add_in(&k, 2, d, x, 0);
  CHECK(oc_run(&k, "identity") == SEGCAM_OK && shape_is(&k, 2, d) &&
            !memcmp(k.out[0].data, x, sizeof x),
        "identity: %s", segcam_last_error());
  oc_gradcheck_acc(&k, "identity", 1e-2, 1e-3);
  oc_free(&k);

  /* rows [2, 0] of a [3,4] */
  int64_t idx2[2] = {2, -3}, di[1] = {2}, w1[8] = {8, 9, 10, 11, 0, 1, 2, 3};
  sc_gather_params g0 = {0};
  k = mk(SC_OP_GATHER, &g0);
  add_in(&k, 2, d, x, 0);
  add_in_i64(&k, 1, di, idx2, 1);
  int64_t od[2] = {2, 4};
  CHECK(oc_run(&k, "gather_rows") == SEGCAM_OK && shape_is(&k, 2, od), "gather rows: %s",
        segcam_last_error());
  expect_values("gather rows", &k, w1, 8);
  oc_free(&k);
  /* scalar index -1 on axis 1 (drops the axis) */
  int64_t last = -1, d1[1] = {3}, w2[3] = {3, 7, 11};
  sc_gather_params g1 = {-1};
  k = mk(SC_OP_GATHER, &g1);
  add_in(&k, 2, d, x, 0);
  add_in_i64(&k, 0, d1, &last, 1);
  CHECK(oc_run(&k, "gather_scalar") == SEGCAM_OK && shape_is(&k, 1, d1), "gather scalar: %s",
        segcam_last_error());
  expect_values("gather scalar index", &k, w2, 3);
  oc_free(&k);
  /* int64 data (Shape -> Gather), 2-D indices */
  int64_t shp[4] = {1, 3, 480, 640}, sd[1] = {4}, ii[4] = {2, 3, 3, 2}, id2[2] = {2, 2};
  int64_t w3[4] = {480, 640, 640, 480};
  sc_gather_params ga = {0};
  k = mk(SC_OP_GATHER, &ga);
  add_in_i64(&k, 1, sd, shp, 1);
  add_in_i64(&k, 2, id2, ii, 1);
  CHECK(oc_run(&k, "gather_i64") == SEGCAM_OK && shape_is(&k, 2, id2), "gather int64: %s",
        segcam_last_error());
  expect_values("gather int64", &k, w3, 4);
  oc_free(&k);
  /* repeated indices accumulate in backward */
  int64_t rep[3] = {0, 2, 0}, dr[1] = {3};
  float xg[12];
  oc_fill(xg, 12, 500, -1, 1);
  k = mk(SC_OP_GATHER, &g1);
  add_in(&k, 2, d, xg, 0);
  add_in_i64(&k, 1, dr, rep, 1);
  oc_gradcheck_acc(&k, "gather_grad", 1e-2, 1e-3);
  oc_free(&k);
  int64_t oob = 3;
  k = mk(SC_OP_GATHER, &g0);
  add_in(&k, 2, d, x, 0);
  add_in_i64(&k, 0, d1, &oob, 1);
  expect_error(&k, "gather_out_of_range", SEGCAM_E_SHAPE);
}

static void test_shape(void) {
  int64_t d[4] = {2, 3, 4, 5};
  float x[120] = {0};
  struct {
    int64_t start, end;
    int n;
    int64_t want[4];
  } cases[] = {{0, INT64_MAX, 4, {2, 3, 4, 5}},
               {1, INT64_MAX, 3, {3, 4, 5}},
               {-2, -1, 1, {4}},
               {2, 100, 2, {4, 5}},
               {-100, 1, 1, {2}},
               {3, 1, 0, {0}}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    sc_shape_params p = {cases[c].start, cases[c].end};
    oc_case k = mk(SC_OP_SHAPE, &p);
    add_in(&k, 4, d, x, 0);
    int64_t nd[1] = {cases[c].n};
    CHECK(oc_run(&k, "shape") == SEGCAM_OK && shape_is(&k, 1, nd) && k.out[0].dtype == SC_I64,
          "shape case %zu: %s", c, segcam_last_error());
    expect_values("shape values", &k, cases[c].want, cases[c].n);
    oc_free(&k);
  }
  /* SHAPE_ONLY: forward must work with no input data at all */
  CHECK(sc_opdefs[SC_OP_SHAPE]->flags & SC_OPF_SHAPE_ONLY, "Shape is SC_OPF_SHAPE_ONLY");
  sc_shape_params p = {0, INT64_MAX};
  oc_case k = mk(SC_OP_SHAPE, &p);
  add_in(&k, 4, d, x, 0);
  oc_run(&k, "shape_only");
  sc_tensor in = k.in[0];
  in.data = NULL;
  int64_t out[4] = {0};
  sc_opctx c;
  memset(&c, 0, sizeof c);
  c.graph = &k.graph;
  c.node = &k.node;
  c.state = &k.state;
  c.in[0] = &in;
  sc_tensor y = k.out[0];
  y.data = out;
  c.out[0] = &y;
  CHECK(sc_opdefs[SC_OP_SHAPE]->forward(&c) == SEGCAM_OK && out[2] == 4 && out[3] == 5,
        "Shape forward from the shape alone");
  oc_free(&k);
}

static void test_cast(void) {
  int64_t d[1] = {7};
  float x[7] = {1.7f, -1.7f, 2.5f, -0.0f, NAN, 1e30f, -1e30f};
  int64_t want[7] = {1, -1, 2, 0, 0, INT64_MAX, INT64_MIN};
  sc_cast_params to_i = {SC_I64};
  oc_case k = mk(SC_OP_CAST, &to_i);
  add_in(&k, 1, d, x, 1);
  CHECK(oc_run(&k, "cast_f2i") == SEGCAM_OK && k.out[0].dtype == SC_I64, "%s", segcam_last_error());
  expect_values("cast float -> int64 (truncate, NaN 0, saturate)", &k, want, 7);
  oc_free(&k);
  int64_t xi[3] = {-3, 0, 16777217}, d3[1] = {3};
  sc_cast_params to_f = {SC_F32};
  k = mk(SC_OP_CAST, &to_f);
  add_in_i64(&k, 1, d3, xi, 1);
  CHECK(oc_run(&k, "cast_i2f") == SEGCAM_OK && k.out[0].dtype == SC_F32, "%s", segcam_last_error());
  double rf[3] = {-3, 0, 16777216};
  t_close("cast int64 -> float", k.out[0].data, rf, 3, 0, 0);
  oc_free(&k);
  /* float -> float on the data path: identity with a gradient */
  float xg[7];
  oc_fill(xg, 7, 600, -1, 1);
  k = mk(SC_OP_CAST, &to_f);
  add_in(&k, 1, d, xg, 0);
  oc_gradcheck_acc(&k, "cast_f2f", 1e-2, 1e-3);
  oc_free(&k);
  sc_cast_params to_bool = {(sc_dtype)9};
  k = mk(SC_OP_CAST, &to_bool);
  add_in(&k, 1, d, x, 0);
  expect_error(&k, "cast_to_bool", SEGCAM_E_UNSUPPORTED);
}

static void test_constant_of_shape_range(void) {
  int64_t shp[2] = {2, 3}, d2[1] = {2}, d0[1] = {0};
  sc_constant_of_shape_params pf = {SC_F32, 2.5};
  oc_case k = mk(SC_OP_CONSTANT_OF_SHAPE, &pf);
  add_in_i64(&k, 1, d2, shp, 1);
  CHECK(oc_run(&k, "cos_f32") == SEGCAM_OK && shape_is(&k, 2, shp), "%s", segcam_last_error());
  double r6[6] = {2.5, 2.5, 2.5, 2.5, 2.5, 2.5};
  t_close("constant_of_shape float", k.out[0].data, r6, 6, 0, 0);
  oc_free(&k);
  sc_constant_of_shape_params pi = {SC_I64, 7};
  k = mk(SC_OP_CONSTANT_OF_SHAPE, &pi);
  add_in_i64(&k, 1, d0, shp, 1);
  int64_t seven[1] = {7};
  CHECK(oc_run(&k, "cos_scalar") == SEGCAM_OK && k.out[0].shape.ndim == 0, "%s",
        segcam_last_error());
  expect_values("constant_of_shape int64 scalar", &k, seven, 1);
  oc_free(&k);
  k = mk(SC_OP_CONSTANT_OF_SHAPE, &pf);
  add_in_i64(&k, 1, d2, shp, 0);
  expect_error(&k, "cos_dynamic", SEGCAM_E_UNSUPPORTED);
  int64_t negs[2] = {2, -3};
  k = mk(SC_OP_CONSTANT_OF_SHAPE, &pf);
  add_in_i64(&k, 1, d2, negs, 1);
  expect_error(&k, "cos_negative", SEGCAM_E_SHAPE);

  struct {
    int64_t s, l, d;
    int n;
    int64_t want[4];
  } ri[] = {{0, 10, 3, 4, {0, 3, 6, 9}},
            {10, 0, -3, 4, {10, 7, 4, 1}},
            {5, 1, 1, 0, {0}},
            {-2, 2, 2, 2, {-2, 0}}};
  int64_t one[1] = {1};
  for (size_t c = 0; c < sizeof ri / sizeof ri[0]; c++) {
    k = mk(SC_OP_RANGE, NULL);
    add_in_i64(&k, 0, one, &ri[c].s, 1);
    add_in_i64(&k, 0, one, &ri[c].l, 1);
    add_in_i64(&k, 0, one, &ri[c].d, 1);
    int64_t nd[1] = {ri[c].n};
    CHECK(oc_run(&k, "range_i64") == SEGCAM_OK && shape_is(&k, 1, nd), "range case %zu: %s", c,
          segcam_last_error());
    expect_values("range int64", &k, ri[c].want, ri[c].n);
    oc_free(&k);
  }
  float fs = 1.0f, fl = 2.0f, fd = 0.25f;
  k = mk(SC_OP_RANGE, NULL);
  add_in(&k, 0, one, &fs, 1);
  add_in(&k, 0, one, &fl, 1);
  add_in(&k, 0, one, &fd, 1);
  int64_t n4[1] = {4};
  CHECK(oc_run(&k, "range_f32") == SEGCAM_OK && shape_is(&k, 1, n4), "%s", segcam_last_error());
  double rr[4] = {1, 1.25, 1.5, 1.75};
  t_close("range float", k.out[0].data, rr, 4, 0, 0);
  oc_free(&k);
  int64_t s0 = 0, l0 = 5, z = 0;
  k = mk(SC_OP_RANGE, NULL);
  add_in_i64(&k, 0, one, &s0, 1);
  add_in_i64(&k, 0, one, &l0, 1);
  add_in_i64(&k, 0, one, &z, 1);
  expect_error(&k, "range_delta_zero", SEGCAM_E_ARG);
  int64_t big = INT64_MAX, lo = INT64_MIN, step1 = 1;
  k = mk(SC_OP_RANGE, NULL);
  add_in_i64(&k, 0, one, &lo, 1);
  add_in_i64(&k, 0, one, &big, 1);
  add_in_i64(&k, 0, one, &step1, 1);
  expect_error(&k, "range_absurd", SEGCAM_E_NOMEM);
}

int main(void) {
  test_reshape();
  test_flatten_squeeze();
  test_transpose();
  test_pad();
  test_slice();
  test_concat();
  test_identity_gather();
  test_shape();
  test_cast();
  test_constant_of_shape_range();
  TEST_MAIN_END();
}
