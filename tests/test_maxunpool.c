/* Unit tests of MaxPool's Indices output and of MaxUnpool (src/ops/pool.c): indices against a
 * brute-force argmax over the explicitly padded window (both storage orders), MaxUnpool against
 * a direct scatter, the MaxPool -> MaxUnpool round trip, finite-difference gradient checks
 * (also with repeated indices, where only the element written last gets the gradient) and
 * refused inputs. */
#include "op_check.h"

static sc_pool_params pool(int k, int s, int pad) {
  sc_pool_params p;
  memset(&p, 0, sizeof p);
  p.kernel[0] = p.kernel[1] = k;
  p.stride[0] = p.stride[1] = s;
  p.dilation[0] = p.dilation[1] = 1;
  for (int i = 0; i < 4; i++) p.pads[i] = pad;
  return p;
}

static sc_tensor i64_tensor(int ndim, const int64_t *dims, int64_t *data) {
  sc_tensor t = oc_tensor(ndim, dims, NULL);
  t.dtype = SC_I64;
  t.data = data;
  return t;
}

/* MaxPool with both outputs. */
static void maxpool_case(oc_case *k, sc_pool_params *p, const int64_t *dims, float *x) {
  memset(k, 0, sizeof *k);
  k->op = SC_OP_MAXPOOL;
  k->params = p;
  k->n_in = 1;
  k->in[0] = oc_tensor(4, dims, x);
  k->n_out = 2;
}

/* MaxUnpool(X, I[, output_shape]); the indices and the shape are constants (no gradient). */
static void unpool_case(oc_case *k, sc_pool_params *p, const int64_t *dims, float *x, int64_t *idx,
                        int64_t *out_shape) {
  static const int64_t four[1] = {4};
  memset(k, 0, sizeof *k);
  k->op = SC_OP_MAXUNPOOL;
  k->params = p;
  k->n_in = out_shape ? 3 : 2;
  k->in[0] = oc_tensor(4, dims, x);
  k->in[1] = i64_tensor(4, dims, idx);
  k->in_const[1] = 1;
  if (out_shape) {
    k->in[2] = i64_tensor(1, four, out_shape);
    k->in_const[2] = 1;
  }
  k->n_out = 1;
}

/* Distinct values in a shuffled order, 0.05 apart: a 1e-3 step never changes an argmax. */
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

/* ---- Indices --------------------------------------------------------------------------------- */

/* Every geometry of a small sweep: the indices are the first maximum (row-major scan) among the
 * window's cells inside the input, as an offset in the whole tensor. */
static void test_indices(void) {
  enum { N = 2, C = 2, H = 5, W = 6 };
  float x[N * C * H * W];
  int n_ok = 0, n_bad = 0;
  for (int t = 0; t < N * C * H * W; t++) x[t] = (float)((t * 37) % 29); /* ties on purpose */
  for (int k = 1; k <= 3; k++)
    for (int s = 1; s <= 3; s++)
      for (int pad = 0; pad < k; pad++)
        for (int d = 1; d <= 2; d++)
          for (int ceil_mode = 0; ceil_mode <= 1; ceil_mode++)
            for (int so = 0; so <= 1; so++) {
              sc_pool_params p = pool(k, s, pad);
              p.dilation[0] = p.dilation[1] = d;
              p.ceil_mode = ceil_mode;
              p.storage_order = so;
              const int64_t dims[4] = {N, C, H, W};
              oc_case kc;
              maxpool_case(&kc, &p, dims, x);
              if (oc_run(&kc, "indices") != SEGCAM_OK) { /* windows entirely in the padding */
                oc_free(&kc);
                continue;
              }
              const sc_shape *ys = &kc.out[0].shape;
              int good = kc.out[1].dtype == SC_I64 && sc_shape_equal(&kc.out[1].shape, ys);
              const int64_t P = ys->d[2], Q = ys->d[3];
              const float *y = kc.out[0].data;
              const int64_t *I = kc.out[1].data;
              for (int64_t b = 0; good && b < N * C; b++)
                for (int64_t i = 0; i < P; i++)
                  for (int64_t j = 0; j < Q; j++) {
                    int64_t bh = -1, bw = -1;
                    for (int r = 0; r < k; r++)
                      for (int q = 0; q < k; q++) {
                        int64_t h = i * s - pad + r * d, w = j * s - pad + q * d;
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        if (bh < 0 || x[b * H * W + h * W + w] > x[b * H * W + bh * W + bw])
                          bh = h, bw = w;
                      }
                    int64_t want = b * H * W + (so ? bw * H + bh : bh * W + bw);
                    int64_t e = (b * P + i) * Q + j;
                    if (I[e] != want || y[e] != x[b * H * W + bh * W + bw]) good = 0;
                  }
              if (good) {
                n_ok++;
              } else {
                n_bad++;
                CHECK(0, "indices k%d s%d pad%d d%d ceil%d order%d", k, s, pad, d, ceil_mode, so);
              }
              oc_free(&kc);
            }
  CHECK(n_bad == 0 && n_ok > 100, "indices sweep: %d ok, %d bad", n_ok, n_bad);
}

/* MaxPool's VJP is the same with and without the Indices output. */
static void test_maxpool_grad_with_indices(void) {
  static float x[2 * 3 * 9 * 8];
  fill_shuffled(x, 2 * 3 * 9 * 8, 5);
  const int64_t dims[4] = {2, 3, 9, 8};
  sc_pool_params p = pool(3, 2, 1);
  oc_case k;
  maxpool_case(&k, &p, dims, x);
  oc_gradcheck_acc(&k, "maxpool_indices_grad", 1e-3, 1e-3);
  oc_free(&k);
}

/* ---- MaxUnpool ------------------------------------------------------------------------------- */

static void test_unpool_hand(void) {
  /* X [1,2,1,2], output 2x3 by output_shape (default would be 2x4 for k2 s2... here k2 s1:
   * (2-1)*1 + 2 = 3 wide, 2 high); indices into each channel's 6-cell plane. */
  float x[4] = {1.5f, -2, 3, 4};
  int64_t idx[4] = {4, 0, 6 + 5, 6 + 2}, os[4] = {1, 2, 2, 3};
  const int64_t d[4] = {1, 2, 1, 2};
  sc_pool_params p = pool(2, 1, 0);
  oc_case k;
  unpool_case(&k, &p, d, x, idx, NULL);
  segcam_status st = oc_run(&k, "unpool_hand");
  CHECK(st == SEGCAM_OK, "%s", segcam_last_error());
  const float want[12] = {-2, 0, 0, 0, 1.5f, 0, 0, 0, 4, 0, 0, 3};
  if (st == SEGCAM_OK) {
    const sc_shape *o = &k.out[0].shape;
    CHECK(o->ndim == 4 && o->d[2] == 2 && o->d[3] == 3, "default output size 2x3");
    CHECK(memcmp(k.out[0].data, want, sizeof want) == 0, "unpool_hand values");
  }
  oc_free(&k);
  /* the same with output_shape [1,2,3,2] (another 6-cell plane): same flat placement */
  os[2] = 3, os[3] = 2;
  unpool_case(&k, &p, d, x, idx, os);
  st = oc_run(&k, "unpool_os");
  CHECK(st == SEGCAM_OK, "%s", segcam_last_error());
  if (st == SEGCAM_OK) {
    CHECK(k.out[0].shape.d[2] == 3 && k.out[0].shape.d[3] == 2, "output_shape 3x2");
    CHECK(memcmp(k.out[0].data, want, sizeof want) == 0, "unpool_os values");
  }
  oc_free(&k);
  /* repeated index: the element later in scan order wins */
  int64_t rep[4] = {1, 1, 6, 6};
  unpool_case(&k, &p, d, x, rep, NULL);
  st = oc_run(&k, "unpool_repeat");
  CHECK(st == SEGCAM_OK, "%s", segcam_last_error());
  if (st == SEGCAM_OK) {
    const float *y = k.out[0].data;
    CHECK(y[1] == -2 && y[6] == 4 && y[0] == 0, "last write wins: %g %g", y[1], y[6]);
  }
  oc_free(&k);
}

/* MaxPool -> MaxUnpool: every pooled maximum returns to where it came from, zeros elsewhere. */
static void test_round_trip(void) {
  static float x[2 * 3 * 7 * 9];
  fill_shuffled(x, 2 * 3 * 7 * 9, 9);
  for (int e = 0; e < 2 * 3 * 7 * 9; e++) x[e] += 20; /* no zero among them */
  const int64_t dims[4] = {2, 3, 7, 9};
  sc_pool_params p = pool(2, 2, 1);
  oc_case kp, ku;
  maxpool_case(&kp, &p, dims, x);
  CHECK(oc_run(&kp, "rt_pool") == SEGCAM_OK, "%s", segcam_last_error());
  int64_t os[4] = {2, 3, 7, 9};
  const int64_t *pd = kp.out[0].shape.d;
  unpool_case(&ku, &p, pd, kp.out[0].data, kp.out[1].data, os);
  CHECK(oc_run(&ku, "rt_unpool") == SEGCAM_OK, "%s", segcam_last_error());
  const float *y = ku.out[0].data;
  int good = y != NULL, kept = 0;
  for (int64_t e = 0; good && e < 2 * 3 * 7 * 9; e++) {
    if (y[e] == 0) continue;
    good = y[e] == x[e];
    kept++;
  }
  CHECK(good && kept == pd[0] * pd[1] * pd[2] * pd[3], "round trip: %d kept", kept);
  oc_free(&ku);
  oc_free(&kp);
}

static void test_unpool_grad(void) {
  static float x[2 * 3 * 4 * 5];
  static int64_t idx[2 * 3 * 4 * 5];
  oc_fill(x, 2 * 3 * 4 * 5, 21, -1, 1);
  const int64_t d[4] = {2, 3, 4, 5};
  /* distinct indices (a permutation within each 9x11 plane) */
  sc_pool_params p = pool(3, 2, 1);
  int64_t os[4] = {2, 3, 9, 11};
  uint64_t s = 77;
  for (int64_t b = 0; b < 6; b++)
    for (int64_t e = 0; e < 20; e++) idx[b * 20 + e] = b * 99 + (e * 37 + 5) % 99;
  oc_case k;
  unpool_case(&k, &p, d, x, idx, os);
  oc_gradcheck_acc(&k, "unpool_grad", 1e-2, 1e-4);
  oc_free(&k);
  /* many repeats: each plane's indices drawn from only 7 cells */
  for (int64_t b = 0; b < 6; b++)
    for (int64_t e = 0; e < 20; e++) idx[b * 20 + e] = b * 99 + (int64_t)(oc_rng_next(&s) % 7);
  unpool_case(&k, &p, d, x, idx, os);
  oc_gradcheck_acc(&k, "unpool_grad_repeats", 1e-2, 1e-4);
  oc_free(&k);
  /* overlapping MaxPool windows (3x3 stride 1) feeding MaxUnpool: repeats from a real pool */
  static float xp[1 * 2 * 6 * 6];
  fill_shuffled(xp, 72, 4);
  const int64_t dp[4] = {1, 2, 6, 6};
  sc_pool_params pp = pool(3, 1, 1);
  oc_case kp;
  maxpool_case(&kp, &pp, dp, xp);
  CHECK(oc_run(&kp, "overlap_pool") == SEGCAM_OK, "%s", segcam_last_error());
  int64_t os2[4] = {1, 2, 6, 6};
  unpool_case(&k, &pp, kp.out[0].shape.d, kp.out[0].data, kp.out[1].data, os2);
  oc_gradcheck_acc(&k, "unpool_grad_overlap", 1e-2, 1e-4);
  oc_free(&k);
  oc_free(&kp);
}

static void test_errors(void) {
  float x[8] = {0};
  int64_t idx[8] = {0, 1, 2, 3, 16, 17, 18, 19}, os[4] = {1, 2, 4, 4};
  const int64_t d[4] = {1, 2, 2, 2}, d3[3] = {1, 2, 4};
  sc_pool_params p = pool(2, 2, 0);
  oc_case k;
  unpool_case(&k, &p, d, x, idx, NULL); /* planes of 16: channel 1 is [16, 32) */
  CHECK(oc_run(&k, "ok") == SEGCAM_OK, "%s", segcam_last_error());
  oc_free(&k);
  idx[4] = 15; /* channel 1 pointing into channel 0 */
  unpool_case(&k, &p, d, x, idx, NULL);
  oc_expect_error("other_plane", &k, SEGCAM_E_ARG);
  idx[4] = 32; /* past the end */
  unpool_case(&k, &p, d, x, idx, NULL);
  oc_expect_error("past_end", &k, SEGCAM_E_ARG);
  idx[4] = -1;
  unpool_case(&k, &p, d, x, idx, NULL);
  oc_expect_error("negative", &k, SEGCAM_E_ARG);
  idx[4] = 16;
  unpool_case(&k, &p, d, x, idx, NULL);
  k.in[1].shape = k.in[0].shape;
  k.in[1].shape.d[3] = 1;
  oc_expect_error("index_shape", &k, SEGCAM_E_SHAPE);
  unpool_case(&k, &p, d, x, idx, NULL);
  k.in[1].dtype = SC_F32;
  oc_expect_error("float_indices", &k, SEGCAM_E_UNSUPPORTED);
  unpool_case(&k, &p, d, x, idx, NULL);
  k.in[0] = oc_tensor(3, d3, x);
  k.in[1] = i64_tensor(3, d3, idx);
  oc_expect_error("rank3", &k, SEGCAM_E_SHAPE);
  os[1] = 3; /* C differs from X */
  unpool_case(&k, &p, d, x, idx, os);
  oc_expect_error("os_channels", &k, SEGCAM_E_SHAPE);
  os[1] = 2, os[3] = 0;
  unpool_case(&k, &p, d, x, idx, os);
  oc_expect_error("os_zero", &k, SEGCAM_E_SHAPE);
  os[3] = 4;
  unpool_case(&k, &p, d, x, idx, os);
  k.in_const[2] = 0; /* output_shape computed at run time */
  oc_expect_error("os_runtime", &k, SEGCAM_E_UNSUPPORTED);
  unpool_case(&k, &p, d, x, idx, os);
  k.in[2].shape.d[0] = 3;
  oc_expect_error("os_length", &k, SEGCAM_E_SHAPE);
  sc_pool_params q = pool(1, 1, 1); /* (2-1)*1 + 1 - 2 = 0 rows */
  unpool_case(&k, &q, d, x, idx, NULL);
  oc_expect_error("empty_output", &k, SEGCAM_E_SHAPE);
  q = pool(0, 1, 0);
  unpool_case(&k, &q, d, x, idx, NULL);
  oc_expect_error("kernel0", &k, SEGCAM_E_SHAPE);
  q = pool(2, 1 << 30, 0); /* 2^30 rows x 2^30 cols per plane */
  unpool_case(&k, &q, d, x, idx, NULL);
  oc_expect_error("huge", &k, SEGCAM_E_SHAPE);
}

int main(void) {
  test_indices();
  test_maxpool_grad_with_indices();
  test_unpool_hand();
  test_round_trip();
  test_unpool_grad();
  test_errors();
  TEST_MAIN_END();
}
