/* Unit tests of MaxPool, AveragePool and GlobalPool (src/ops/pool.c): hand-computed cases,
 * PyTorch float64 values, a sweep against a brute-force reference over the explicitly padded
 * input, first-max gradient routing, finite-difference gradient checks and hostile shapes. */
#include "op_check.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static sc_pool_params pool(int kh, int kw, int sh, int sw, int ph, int pw, int ceil_mode,
                           int count_include_pad) {
  sc_pool_params p;
  memset(&p, 0, sizeof p);
  p.kernel[0] = kh;
  p.kernel[1] = kw;
  p.stride[0] = sh;
  p.stride[1] = sw;
  p.dilation[0] = p.dilation[1] = 1;
  p.pads[0] = p.pads[2] = ph;
  p.pads[1] = p.pads[3] = pw;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = count_include_pad;
  return p;
}

static void pool_case(oc_case *k, int op, void *params, const int64_t *dims, float *x) {
  memset(k, 0, sizeof *k);
  k->op = op;
  k->params = params;
  k->n_in = 1;
  k->in[0] = oc_tensor(4, dims, x);
  k->n_out = 1;
}

/* Runs the op and compares the output shape and values with ref (float64). */
static void expect_pool(const char *what, int op, sc_pool_params *pp, const int64_t *dims, float *x,
                        const int64_t *odims, const double *ref, double atol) {
  oc_case k;
  pool_case(&k, op, pp, dims, x);
  segcam_status s = oc_run(&k, what);
  CHECK(s == SEGCAM_OK, "%s: %s", what, segcam_last_error());
  if (s == SEGCAM_OK) {
    const sc_shape *o = &k.out[0].shape;
    int same = o->ndim == 4;
    for (int i = 0; same && i < 4; i++) same = o->d[i] == odims[i];
    char buf[64];
    CHECK(same, "%s: output shape %s", what, sc_shape_str(o, buf, sizeof buf));
    if (same)
      t_close(what, k.out[0].data, ref, (size_t)(odims[0] * odims[1] * odims[2] * odims[3]), atol,
              1e-6);
  }
  oc_free(&k);
}

/* 70 distinct multiples of 1/8 (exact in float32): x[i] = ((37 i) mod 71) / 8 - 4. */
static void fill_distinct(float *x, int n) {
  for (int i = 0; i < n; i++) x[i] = (float)((i * 37) % 71) * 0.125f - 4.0f;
}

/* Distinct values 0.05 apart in a shuffled order, so a finite-difference step of 1e-3 never
 * changes which element of a window is the maximum. */
static void fill_shuffled(float *x, int n, uint64_t seed) {
  for (int i = 0; i < n; i++) x[i] = 0.05f * (float)i - 0.025f * (float)n;
  uint64_t s = seed * 2654435761u + 1;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(oc_rng_next(&s) % (uint64_t)(i + 1));
    float t = x[i];
    x[i] = x[j];
    x[j] = t;
  }
}

/* ---- hand-computed cases --------------------------------------------------------------------- */

static void test_hand(void) {
  /* 4x4, kernel 2, stride 2: the max / mean of each 2x2 block. */
  float x[16] = {1, 2, 5, 3, 4, 0, 7, 8, -1, -2, 9, 6, -3, -4, 6, 6};
  const int64_t d[4] = {1, 1, 4, 4}, od[4] = {1, 1, 2, 2};
  sc_pool_params p = pool(2, 2, 2, 2, 0, 0, 0, 0);
  const double mx[4] = {4, 8, -1, 9}, av[4] = {7 / 4.0, 23 / 4.0, -10 / 4.0, 27 / 4.0};
  expect_pool("max 4x4 k2 s2", SC_OP_MAXPOOL, &p, d, x, od, mx, 0);
  expect_pool("avg 4x4 k2 s2", SC_OP_AVGPOOL, &p, d, x, od, av, 1e-6);

  /* 1x6 rows with a (1,3) kernel, stride 2: SAME_UPPER pads (0,1), SAME_LOWER (1,0) (total
   * (3-1)*2 + 3 - 6 = 1), VALID none.  x = 1..6. */
  float r[6] = {1, 2, 3, 4, 5, 6};
  const int64_t rd[4] = {1, 1, 1, 6}, o3[4] = {1, 1, 1, 3}, o2[4] = {1, 1, 1, 2};
  sc_pool_params q = pool(1, 3, 1, 2, 0, 0, 0, 0);
  q.auto_pad = SC_PAD_SAME_UPPER; /* windows [1,2,3] [3,4,5] [5,6,pad] */
  const double up_max[3] = {3, 5, 6}, up_avg[3] = {2, 4, 5.5};
  expect_pool("max SAME_UPPER", SC_OP_MAXPOOL, &q, rd, r, o3, up_max, 0);
  expect_pool("avg SAME_UPPER", SC_OP_AVGPOOL, &q, rd, r, o3, up_avg, 1e-6);
  q.count_include_pad = 1; /* [5,6,pad] / 3 */
  const double up_avg1[3] = {2, 4, 11 / 3.0};
  expect_pool("avg SAME_UPPER cip1", SC_OP_AVGPOOL, &q, rd, r, o3, up_avg1, 1e-6);
  q.count_include_pad = 0;
  q.auto_pad = SC_PAD_SAME_LOWER; /* windows [pad,1,2] [2,3,4] [4,5,6] */
  const double lo_max[3] = {2, 4, 6}, lo_avg[3] = {1.5, 3, 5};
  expect_pool("max SAME_LOWER", SC_OP_MAXPOOL, &q, rd, r, o3, lo_max, 0);
  expect_pool("avg SAME_LOWER", SC_OP_AVGPOOL, &q, rd, r, o3, lo_avg, 1e-6);
  q.auto_pad = SC_PAD_VALID; /* windows [1,2,3] [3,4,5] */
  const double va_max[2] = {3, 5}, va_avg[2] = {2, 4};
  expect_pool("max VALID", SC_OP_MAXPOOL, &q, rd, r, o2, va_max, 0);
  expect_pool("avg VALID", SC_OP_AVGPOOL, &q, rd, r, o2, va_avg, 1e-6);

  /* Asymmetric explicit pads (W: 2 before, 0 after), kernel 3, stride 2, dilation 2:
   * window starts -2, 0, (2 would need cells up to 6): out = (6+2-5)/2+1 = 2.
   * taps at -2,0,2 -> {1,3}; at 0,2,4 -> {1,3,5}. */
  sc_pool_params a = pool(1, 3, 1, 2, 0, 0, 0, 0);
  a.pads[1] = 2;
  a.dilation[1] = 2;
  const double dm[2] = {3, 5}, da0[2] = {2, 3}, da1[2] = {4 / 3.0, 3};
  expect_pool("max dilated asym pads", SC_OP_MAXPOOL, &a, rd, r, o2, dm, 0);
  expect_pool("avg dilated asym pads cip0", SC_OP_AVGPOOL, &a, rd, r, o2, da0, 1e-6);
  a.count_include_pad = 1;
  expect_pool("avg dilated asym pads cip1", SC_OP_AVGPOOL, &a, rd, r, o2, da1, 1e-6);
  /* ceil_mode: out = ceil((8-5)/2)+1 = 3, window 2 starts at 2 < 6+2: kept; taps 2,4,6 (6 is past
   * the padded input, never counted): {3,5} -> max 5, mean 4 with either divisor rule. */
  a.ceil_mode = 1;
  const double cm[3] = {3, 5, 5}, ca1[3] = {4 / 3.0, 3, 4};
  expect_pool("avg dilated ceil cip1", SC_OP_AVGPOOL, &a, rd, r, o3, ca1, 1e-6);
  expect_pool("max dilated ceil", SC_OP_MAXPOOL, &a, rd, r, o3, cm, 0);
}

/* ---- PyTorch float64 ------------------------------------------------------------------------- */

/* Values from /usr/bin/python3 (torch 1.13, float64) on x = fill_distinct, shape [1,2,5,7]:
 *   x = torch.tensor([((i*37) % 71)*0.125 - 4 for i in range(70)], dtype=torch.float64)
 *         .reshape(1, 2, 5, 7)
 *   F.max_pool2d(x, k, s, p, dilation=d, ceil_mode=c)
 *   F.avg_pool2d(x, k, s, p, ceil_mode=c, count_include_pad=cip)
 * PyTorch's symmetric padding, ceil_mode rule (drop a window starting in the right padding) and
 * count_include_pad divisor (clipped to the padded input) are ONNX's. */
static void test_torch(void) {
  float x[70];
  fill_distinct(x, 70);
  const int64_t d[4] = {1, 2, 5, 7};
  const int64_t o34[4] = {1, 2, 3, 4}, o23[4] = {1, 2, 2, 3}, o33[4] = {1, 2, 3, 3};
  static const double max_k3s2p1[24] = {1.75,  2.125, 2.5,   2.875, 4.375, 4.75, 4,     4,
                                        4.375, 4.75,  2,     2.375, 3.875, 4.25, 4.625, 3.5,
                                        3.875, 4.25,  4.625, 3,     3.375, 3.75, 4.125, 4.5};
  static const double max_k2s3p1d2_ceil[12] = {-2.5,   2.5,   -1.75, 3.25,   2,     4,
                                               -0.375, 4.625, 0.375, -0.875, 4.125, -0.125};
  static const double avg_k3s2p1_cip1[24] = {-0.45833333333333331,
                                             -0.5,
                                             -0.25,
                                             -0.041666666666666664,
                                             0.625,
                                             0.97222222222222221,
                                             0.3611111111111111,
                                             0.2638888888888889,
                                             0.30555555555555558,
                                             0.15277777777777779,
                                             -0.58333333333333337,
                                             -0.2638888888888889,
                                             0.4861111111111111,
                                             0.91666666666666663,
                                             1.1666666666666667,
                                             -0.083333333333333329,
                                             0.069444444444444448,
                                             0.1388888888888889,
                                             0.51388888888888884,
                                             -0.29166666666666669,
                                             0.2638888888888889,
                                             0.58333333333333337,
                                             0.83333333333333337,
                                             0.68055555555555558};
  static const double avg_k3s2p1_cip0[24] = {-1.03125,
                                             -0.75,
                                             -0.375,
                                             -0.09375,
                                             0.9375,
                                             0.97222222222222221,
                                             0.3611111111111111,
                                             0.39583333333333331,
                                             0.6875,
                                             0.22916666666666666,
                                             -0.875,
                                             -0.59375,
                                             1.09375,
                                             1.375,
                                             1.75,
                                             -0.1875,
                                             0.10416666666666667,
                                             0.1388888888888889,
                                             0.51388888888888884,
                                             -0.4375,
                                             0.59375,
                                             0.875,
                                             1.25,
                                             1.53125};
  static const double avg_k32s23p1_ceil_cip0[18] = {-1.125,   -0.65625,
                                                    -0.09375, 1.5833333333333333,
                                                    1.3125,   0.39583333333333331,
                                                    2.8125,   1.0625,
                                                    -0.59375, 1,
                                                    1.46875,  -0.1875,
                                                    0.75,     0.47916666666666669,
                                                    -0.4375,  0.5,
                                                    0.96875,  1.53125};
  static const double avg_k32s23p1_ceil_cip1[18] = {-0.375,
                                                    -0.4375,
                                                    -0.0625,
                                                    0.79166666666666663,
                                                    1.3125,
                                                    0.39583333333333331,
                                                    0.9375,
                                                    0.70833333333333337,
                                                    -0.39583333333333331,
                                                    0.33333333333333331,
                                                    0.97916666666666663,
                                                    -0.125,
                                                    0.375,
                                                    0.47916666666666669,
                                                    -0.4375,
                                                    0.16666666666666666,
                                                    0.64583333333333337,
                                                    1.0208333333333333};
  static const double avg_k2s3p0_ceil_cip1[12] = {-1.03125, -0.46875, 0,       0.6875,
                                                  -0.96875, -0.5,     1.09375, 1.65625,
                                                  -2.3125,  0.59375,  1.15625, 1.625};
  static const double max_k2s2p0_ceil[24] = {1.75, 2.125, 2.5, 2.875, 4.375, 4.75, 4,     -0.25,
                                             1.25, 1.625, 2,   2.375, 3.875, 4.25, 4.625, -0.75,
                                             2.25, 2.625, 3,   1.875, 3.375, 3.75, 4.125, 4.5};
  static const double avg_k2s2p0_cip0[12] = {-1.03125, -0.65625, -0.28125, 1.59375,
                                             1.96875,  0.125,    1.09375,  1.46875,
                                             1.84375,  -0.71875, -0.34375, 0.03125};
  static const double avg_k2s2p0_ceil_cip0[24] = {
      -1.03125, -0.65625, -0.28125, 0,      1.59375, 1.96875, 0.125,   -1.8125,
      -0.875,   -0.5,     -0.125,   2.375,  1.09375, 1.46875, 1.84375, -2.3125,
      -0.71875, -0.34375, 0.03125,  0.3125, 1.25,    1.625,   2,       4.5};
  static const double max_k4s3p1_ceil[12] = {3.25, 4,     4,   4.75, 4.75,  4,
                                             4.25, 4.625, 3.5, 3.75, 4.125, 4.5};
  static const double avg_k4s3p1_ceil_cip1[12] = {-0.296875, 0.140625,  0.28125,
                                                  0.625,     0.4453125, 0.11458333333333333,
                                                  0.34375,   0.625,     -0.13541666666666666,
                                                  0.15625,   0.375,     0.4375};
  static const double avg_k4s3p1_ceil_cip0[12] = {-0.52777777777777779,
                                                  0.1875,
                                                  0.5625,
                                                  1.1111111111111112,
                                                  0.59375,
                                                  0.22916666666666666,
                                                  0.61111111111111116,
                                                  0.83333333333333337,
                                                  -0.27083333333333331,
                                                  0.27777777777777779,
                                                  0.5,
                                                  0.875};
  static const double avg_k2s2p1_ceil_cip1[24] = {
      -1,      -0.75, -0.5625,  -0.375,   0.09375,  0.46875, 0.84375, 1.21875,
      1.40625, 0.875, -0.96875, -0.59375, -0.46875, 0.3125,  0.5,     0.6875,
      1.15625, 0.375, 0.75,     -1.09375, 0.25,     0.78125, 1.15625, 1.53125};

  sc_pool_params p = pool(3, 3, 2, 2, 1, 1, 0, 0);
  expect_pool("torch max k3 s2 p1", SC_OP_MAXPOOL, &p, d, x, o34, max_k3s2p1, 0);
  p.ceil_mode = 1; /* (5+2-3)/2 and (7+2-3)/2 are exact: same windows */
  expect_pool("torch max k3 s2 p1 ceil", SC_OP_MAXPOOL, &p, d, x, o34, max_k3s2p1, 0);
  p.count_include_pad = 1;
  expect_pool("torch avg k3 s2 p1 ceil cip1", SC_OP_AVGPOOL, &p, d, x, o34, avg_k3s2p1_cip1, 1e-6);
  p.ceil_mode = 0;
  expect_pool("torch avg k3 s2 p1 cip1", SC_OP_AVGPOOL, &p, d, x, o34, avg_k3s2p1_cip1, 1e-6);
  p.count_include_pad = 0;
  p.ceil_mode = 1;
  expect_pool("torch avg k3 s2 p1 ceil cip0", SC_OP_AVGPOOL, &p, d, x, o34, avg_k3s2p1_cip0, 1e-6);

  p = pool(2, 2, 3, 3, 1, 1, 1, 0); /* stride > kernel, dilation 2 */
  p.dilation[0] = p.dilation[1] = 2;
  expect_pool("torch max k2 s3 p1 d2 ceil", SC_OP_MAXPOOL, &p, d, x, o23, max_k2s3p1d2_ceil, 0);

  p = pool(3, 2, 2, 3, 1, 1, 1, 0); /* stride 3 > kernel 2 along W */
  expect_pool("torch avg k(3,2) s(2,3) ceil cip0", SC_OP_AVGPOOL, &p, d, x, o33,
              avg_k32s23p1_ceil_cip0, 1e-6);
  p.count_include_pad = 1;
  expect_pool("torch avg k(3,2) s(2,3) ceil cip1", SC_OP_AVGPOOL, &p, d, x, o33,
              avg_k32s23p1_ceil_cip1, 1e-6);

  p = pool(2, 2, 3, 3, 0, 0, 1, 1); /* last W window hangs past the input, no padding */
  expect_pool("torch avg k2 s3 ceil cip1", SC_OP_AVGPOOL, &p, d, x, o23, avg_k2s3p0_ceil_cip1,
              1e-6);

  p = pool(2, 2, 2, 2, 0, 0, 1, 0); /* odd sizes: ceil_mode adds a partial last window */
  expect_pool("torch max k2 s2 ceil", SC_OP_MAXPOOL, &p, d, x, o34, max_k2s2p0_ceil, 0);
  expect_pool("torch avg k2 s2 ceil cip0", SC_OP_AVGPOOL, &p, d, x, o34, avg_k2s2p0_ceil_cip0,
              1e-6);
  p.ceil_mode = 0;
  expect_pool("torch avg k2 s2 cip0", SC_OP_AVGPOOL, &p, d, x, o23, avg_k2s2p0_cip0, 1e-6);

  p = pool(4, 4, 3, 3, 1, 1, 1, 0); /* ceil window along W: taps 5, 6, pad 7, past-pad 8 */
  expect_pool("torch max k4 s3 p1 ceil", SC_OP_MAXPOOL, &p, d, x, o23, max_k4s3p1_ceil, 0);
  expect_pool("torch avg k4 s3 p1 ceil cip0", SC_OP_AVGPOOL, &p, d, x, o23, avg_k4s3p1_ceil_cip0,
              1e-6);
  p.count_include_pad = 1;
  expect_pool("torch avg k4 s3 p1 ceil cip1", SC_OP_AVGPOOL, &p, d, x, o23, avg_k4s3p1_ceil_cip1,
              1e-6);

  p = pool(2, 2, 2, 2, 1, 1, 1, 1); /* ceil would add windows starting in the right padding:
                                       both are dropped */
  expect_pool("torch avg k2 s2 p1 ceil cip1", SC_OP_AVGPOOL, &p, d, x, o34, avg_k2s2p1_ceil_cip1,
              1e-6);
}

/* ---- sweep against a brute-force reference --------------------------------------------------- */

/* Reference over the explicitly padded axis: position t of window o is o*s + t*d in padded
 * coordinates; cells [pb, pb+in) are input, [0, pb) and [pb+in, pb+in+pe) padding, anything
 * further is outside the padded input.  Returns the cell class: 0 input, 1 padding, 2 outside. */
static int cell_class(int64_t pos, int64_t in, int pb, int pe) {
  if (pos >= pb && pos < pb + in) return 0;
  if (pos < pb + in + pe) return 1;
  return 2;
}

/* Output length by the ONNX rule, or -1 if the op must reject the configuration. */
static int64_t ref_out_len(int64_t in, int k, int s, int d, int pb, int pe, int ceil_mode) {
  int64_t keff = (int64_t)(k - 1) * d + 1, span = in + pb + pe;
  if (span < keff) return -1;
  int64_t o = ceil_mode ? (span - keff + s - 1) / s + 1 : (span - keff) / s + 1;
  if (ceil_mode && (o - 1) * s >= in + pb) o--;
  return o;
}

static void test_sweep(void) {
  int n_ok = 0, n_rejected = 0, n_bad = 0;
  float x[64];
  fill_distinct(x, 64);
  for (int H = 1; H <= 5; H += 2)
    for (int W = 1; W <= 6; W++)
      for (int k = 1; k <= 3; k++)
        for (int s = 1; s <= 3; s++)
          for (int d = 1; d <= 2; d++)
            for (int pads = 0; pads < 9; pads++)
              for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++)
                for (int op = 0; op < 3; op++) {
                  /* W pads (pb, pe) in {0,1,2}^2; H pads (pe, pb) mirrored */
                  int pb = pads / 3, pe = pads % 3, cip = op == 2;
                  int is_max = op == 0;
                  sc_pool_params p = pool(k, k, s, s, 0, 0, ceil_mode, cip);
                  p.dilation[0] = p.dilation[1] = d;
                  p.pads[0] = pe;
                  p.pads[2] = pb;
                  p.pads[1] = pb;
                  p.pads[3] = pe;
                  int64_t P = ref_out_len(H, k, s, d, pe, pb, ceil_mode);
                  int64_t Q = ref_out_len(W, k, s, d, pb, pe, ceil_mode);
                  const int64_t dims[4] = {1, 1, H, W};
                  double ref[128];
                  int reject = P < 1 || Q < 1;
                  for (int64_t i = 0; !reject && i < P; i++)
                    for (int64_t j = 0; !reject && j < Q; j++) {
                      double best = -INFINITY, sum = 0;
                      int n_in = 0, n_pad = 0;
                      for (int r = 0; r < k; r++)
                        for (int t = 0; t < k; t++) {
                          int64_t ph = i * s + r * d, pw = j * s + t * d;
                          int ch = cell_class(ph, H, pe, pb), cw = cell_class(pw, W, pb, pe);
                          if (ch == 0 && cw == 0) {
                            double v = x[(ph - pe) * W + (pw - pb)];
                            n_in++;
                            sum += v;
                            if (v > best) best = v;
                          } else if (ch < 2 && cw < 2) {
                            n_pad++;
                          }
                        }
                      if (n_in == 0 && !cip) reject = 1;
                      ref[i * Q + j] = is_max ? best : sum / (cip ? n_in + n_pad : n_in);
                    }
                  oc_case kc;
                  pool_case(&kc, is_max ? SC_OP_MAXPOOL : SC_OP_AVGPOOL, &p, dims, x);
                  segcam_status st = oc_run(&kc, "sweep");
                  if (reject) {
                    if (st == SEGCAM_E_SHAPE) {
                      n_rejected++;
                    } else {
                      n_bad++;
                      CHECK(0, "sweep H%d W%d k%d s%d d%d pads%d ceil%d op%d: accepted", H, W, k, s,
                            d, pads, ceil_mode, op);
                    }
                  } else if (st != SEGCAM_OK || kc.out[0].shape.d[2] != P ||
                             kc.out[0].shape.d[3] != Q) {
                    n_bad++;
                    CHECK(0, "sweep H%d W%d k%d s%d d%d pads%d ceil%d op%d: %s", H, W, k, s, d,
                          pads, ceil_mode, op, st ? segcam_last_error() : "wrong shape");
                  } else {
                    char what[128];
                    snprintf(what, sizeof what, "sweep H%d W%d k%d s%d d%d pads%d ceil%d op%d", H,
                             W, k, s, d, pads, ceil_mode, op);
                    const float *y = kc.out[0].data;
                    int good = 1;
                    for (int64_t e = 0; e < P * Q; e++)
                      if (fabs(y[e] - ref[e]) > 1e-6 + 1e-6 * fabs(ref[e])) good = 0;
                    if (!good) {
                      t_close(what, y, ref, (size_t)(P * Q), 1e-6, 1e-6);
                      n_bad++;
                    } else {
                      n_ok++;
                    }
                  }
                  oc_free(&kc);
                }
  CHECK(n_bad == 0 && n_ok > 1000 && n_rejected > 50, "sweep: %d ok, %d rejected, %d bad", n_ok,
        n_rejected, n_bad);
}

/* ---- gradients ------------------------------------------------------------------------------- */

static void test_max_ties(void) {
  /* Two 2x2 windows with tied maxima: the gradient goes to the FIRST maximum in row-major
   * order, (0,1) in the left window (not (1,0)) and (0,2) in the right one (not (0,3) or (1,2)). */
  float x[8] = {1, 3, 2, 2, 3, 0, 2, 1};
  const int64_t d[4] = {1, 1, 2, 4};
  sc_pool_params p = pool(2, 2, 2, 2, 0, 0, 0, 0);
  oc_case k;
  pool_case(&k, SC_OP_MAXPOOL, &p, d, x);
  CHECK(oc_run(&k, "ties") == SEGCAM_OK, "%s", segcam_last_error());
  float dy[2] = {10, 100}, dx[8];
  float *din[SC_MAX_IO] = {dx};
  CHECK(oc_backward(&k, dy, din) == SEGCAM_OK, "%s", segcam_last_error());
  const double want[8] = {0, 10, 100, 0, 0, 0, 0, 0};
  t_close("max tie routing", dx, want, 8, 0, 0);
  oc_free(&k);

  /* Overlapping windows (kernel 2, stride 1) on [1,4,4,2]: windows [1,4] [4,4] [4,2] have their
   * first maxima at 1, 1, 2, so dx = [0, g0+g1, g2, 0]; accumulation, not overwrite. */
  float r[4] = {1, 4, 4, 2};
  const int64_t rd[4] = {1, 1, 1, 4};
  sc_pool_params q = pool(1, 2, 1, 1, 0, 0, 0, 0);
  pool_case(&k, SC_OP_MAXPOOL, &q, rd, r);
  CHECK(oc_run(&k, "overlap") == SEGCAM_OK, "%s", segcam_last_error());
  float g3[3] = {1, 10, 100}, dr[4] = {5, 5, 5, 5};
  din[0] = dr;
  CHECK(oc_backward(&k, g3, din) == SEGCAM_OK, "%s", segcam_last_error());
  const double wr[4] = {0, 11, 100, 0};
  t_close("max overlapping windows accumulate", dr, wr, 4, 0, 0);
  oc_free(&k);
}

static void gradcheck_pool(const char *what, int op, sc_pool_params p, int64_t H, int64_t W,
                           uint64_t seed) {
  float x[2 * 3 * 9 * 11];
  const int64_t d[4] = {2, 3, H, W};
  fill_shuffled(x, (int)(6 * H * W), seed);
  oc_case k;
  pool_case(&k, op, &p, d, x);
  oc_gradcheck(&k, what, op == SC_OP_AVGPOOL ? 3e-2 : 1e-3, 1e-3);
  oc_free(&k);
}

static void test_gradcheck(void) {
  for (int op = 0; op < 2; op++) {
    int o = op ? SC_OP_AVGPOOL : SC_OP_MAXPOOL;
    sc_pool_params p = pool(3, 3, 2, 2, 1, 1, 0, 0);
    gradcheck_pool(op ? "grad avg k3 s2 p1" : "grad max k3 s2 p1", o, p, 9, 11, 1);
    p.ceil_mode = 1;
    p.count_include_pad = 1;
    gradcheck_pool(op ? "grad avg ceil cip1" : "grad max ceil", o, p, 8, 10, 2);
    p = pool(2, 3, 3, 4, 0, 2, 1, 0); /* stride > kernel, asymmetric kernel */
    p.pads[3] = 0;
    gradcheck_pool(op ? "grad avg stride>kernel" : "grad max stride>kernel", o, p, 9, 11, 3);
    p = pool(3, 2, 1, 2, 1, 0, 0, 0);
    p.dilation[0] = 2;
    p.dilation[1] = 3;
    gradcheck_pool(op ? "grad avg dilated" : "grad max dilated", o, p, 9, 11, 4);
    p = pool(3, 3, 2, 2, 0, 0, 0, 0);
    p.auto_pad = SC_PAD_SAME_LOWER;
    gradcheck_pool(op ? "grad avg SAME_LOWER" : "grad max SAME_LOWER", o, p, 8, 9, 5);
    p.auto_pad = SC_PAD_SAME_UPPER;
    gradcheck_pool(op ? "grad avg SAME_UPPER" : "grad max SAME_UPPER", o, p, 8, 9, 6);
  }
}

/* ---- GlobalPool ------------------------------------------------------------------------------ */

static void test_global(void) {
  /* [1,2,2,3]: channel 0 = 1..6 (mean 3.5, max 6), channel 1 has a tied max 4 at (0,1), (1,0). */
  float x[12] = {1, 2, 3, 4, 5, 6, 0, 4, -2, 4, 1, 1};
  const int64_t d[4] = {1, 2, 2, 3};
  for (int is_max = 0; is_max <= 1; is_max++)
    for (int keep = 0; keep <= 1; keep++) {
      sc_globalpool_params gp = {is_max, keep};
      oc_case k;
      memset(&k, 0, sizeof k);
      k.op = SC_OP_GLOBALPOOL;
      k.params = &gp;
      k.n_in = 1;
      k.in[0] = oc_tensor(4, d, x);
      k.n_out = 1;
      char what[64];
      snprintf(what, sizeof what, "global %s keepdims=%d", is_max ? "max" : "avg", keep);
      CHECK(oc_run(&k, what) == SEGCAM_OK, "%s: %s", what, segcam_last_error());
      const sc_shape *o = &k.out[0].shape;
      CHECK(o->ndim == (keep ? 4 : 2) && o->d[0] == 1 && o->d[1] == 2 &&
                (!keep || (o->d[2] == 1 && o->d[3] == 1)),
            "%s: shape", what);
      const double ref[2] = {is_max ? 6 : 3.5, is_max ? 4 : 8 / 6.0};
      t_close(what, k.out[0].data, ref, 2, 1e-6, 1e-6);
      float dy[2] = {6, 12}, dx[12];
      float *din[SC_MAX_IO] = {dx};
      CHECK(oc_backward(&k, dy, din) == SEGCAM_OK, "%s", segcam_last_error());
      double want[12];
      for (int i = 0; i < 12; i++) want[i] = is_max ? 0 : (i < 6 ? 1 : 2);
      if (is_max) want[5] = 6, want[7] = 12; /* first max of channel 1 */
      t_close(what, dx, want, 12, 1e-6, 0);
      oc_free(&k);
    }

  /* gradient checks, including a rank-3 [N,C,L] input */
  float g[2 * 3 * 5 * 7];
  const int64_t d4[4] = {2, 3, 5, 7}, d3[3] = {2, 3, 35};
  for (int is_max = 0; is_max <= 1; is_max++)
    for (int rank = 3; rank <= 4; rank++) {
      sc_globalpool_params gp = {is_max, 1};
      fill_shuffled(g, 210, 9 + (uint64_t)rank);
      oc_case k;
      memset(&k, 0, sizeof k);
      k.op = SC_OP_GLOBALPOOL;
      k.params = &gp;
      k.n_in = 1;
      k.in[0] = oc_tensor(rank, rank == 4 ? d4 : d3, g);
      k.n_out = 1;
      oc_gradcheck(&k, is_max ? "grad global max" : "grad global avg", 1e-3, 1e-3);
      oc_free(&k);
    }

  /* hostile: rank 2, a zero dimension */
  sc_globalpool_params gp = {0, 1};
  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = SC_OP_GLOBALPOOL;
  k.params = &gp;
  k.n_in = 1;
  k.n_out = 1;
  const int64_t d2[2] = {1, 4}, dz[4] = {1, 2, 0, 3};
  k.in[0] = oc_tensor(2, d2, x);
  oc_expect_error("gp_rank2", &k, SEGCAM_E_SHAPE);
  k.in[0] = oc_tensor(4, dz, x);
  oc_expect_error("gp_zero", &k, SEGCAM_E_SHAPE);
}

/* ---- hostile shapes -------------------------------------------------------------------------- */

static void test_errors(void) {
  float x[25] = {0};
  const int64_t d[4] = {1, 1, 5, 5};
  oc_case k;
  sc_pool_params p = pool(7, 7, 1, 1, 0, 0, 0, 0); /* kernel larger than the (padded) input */
  pool_case(&k, SC_OP_MAXPOOL, &p, d, x);
  oc_expect_error("big_kernel", &k, SEGCAM_E_SHAPE);
  p.pads[0] = p.pads[2] = 1; /* padded input 7 x 5: still too narrow */
  pool_case(&k, SC_OP_AVGPOOL, &p, d, x);
  oc_expect_error("big_kernel_padded", &k, SEGCAM_E_SHAPE);
  p = pool(7, 7, 1, 1, 0, 0, 0, 0);
  p.auto_pad = SC_PAD_VALID;
  pool_case(&k, SC_OP_AVGPOOL, &p, d, x);
  oc_expect_error("big_kernel_valid", &k, SEGCAM_E_SHAPE);
  p = pool(2, 2, 1, 1, 3, 0, 0, 0); /* first window entirely in the padding */
  pool_case(&k, SC_OP_MAXPOOL, &p, d, x);
  oc_expect_error("all_padding", &k, SEGCAM_E_SHAPE);
  pool_case(&k, SC_OP_AVGPOOL, &p, d, x); /* no divisor without counted padding */
  oc_expect_error("all_padding_avg", &k, SEGCAM_E_SHAPE);
  p.count_include_pad = 1; /* counted padding: that window's mean is 0 */
  pool_case(&k, SC_OP_AVGPOOL, &p, d, x);
  CHECK(oc_run(&k, "all_padding_cip1") == SEGCAM_OK, "%s", segcam_last_error());
  oc_free(&k);
  p = pool(0, 2, 1, 1, 0, 0, 0, 0);
  pool_case(&k, SC_OP_MAXPOOL, &p, d, x);
  oc_expect_error("zero_kernel", &k, SEGCAM_E_SHAPE);
  p = pool(2, 2, -1, 1, 0, 0, 0, 0);
  pool_case(&k, SC_OP_MAXPOOL, &p, d, x);
  oc_expect_error("negative_stride", &k, SEGCAM_E_SHAPE);
  p = pool(2, 2, 1, 1, -1, 0, 0, 0);
  pool_case(&k, SC_OP_MAXPOOL, &p, d, x);
  oc_expect_error("negative_pad", &k, SEGCAM_E_SHAPE);
  p = pool(2, 2, 1, 1, 0, 0, 0, 0);
  const int64_t dz[4] = {1, 1, 0, 5}, dn[4] = {1, -3, 5, 5}, d3[3] = {1, 5, 5};
  pool_case(&k, SC_OP_MAXPOOL, &p, dz, x);
  oc_expect_error("zero_height", &k, SEGCAM_E_SHAPE);
  pool_case(&k, SC_OP_AVGPOOL, &p, dn, x);
  oc_expect_error("negative_channels", &k, SEGCAM_E_SHAPE);
  pool_case(&k, SC_OP_AVGPOOL, &p, d, x);
  k.in[0] = oc_tensor(3, d3, x);
  oc_expect_error("rank3", &k, SEGCAM_E_SHAPE);
  const int64_t huge[4] = {1, 1, (int64_t)1 << 50, 5};
  pool_case(&k, SC_OP_MAXPOOL, &p, huge, x);
  oc_expect_error("huge", &k, SEGCAM_E_SHAPE);
}

int main(void) {
  test_hand();
  test_torch();
  test_sweep();
  test_max_ties();
  test_gradcheck();
  test_global();
  test_errors();
  TEST_MAIN_END();
}
