/* Unit tests of DepthToSpace / SpaceToDepth (src/ops/depth_space.c): a reference written as the
 * 6-D reshape + transpose of Operators.md (a generic strided transpose here, unlike the kernel's
 * per-block loops), round trips, finite-difference gradient checks and refused shapes. */
#include "op_check.h"

static sc_depth_space_params dsp(int to_space, int crd, int b) {
  sc_depth_space_params p = {to_space, crd, b};
  return p;
}

static void ds_case(oc_case *k, sc_depth_space_params *p, const int64_t *dims, float *x) {
  memset(k, 0, sizeof *k);
  k->op = SC_OP_DEPTH_SPACE;
  k->params = p;
  k->n_in = 1;
  k->in[0] = oc_tensor(4, dims, x);
  k->n_out = 1;
}

/* y = transpose(reshape(x, d6), perm) flattened: y's 6-D index (row-major over the permuted dims)
 * element t reads x's 6-D element with t's coordinates put back in place. */
static void transpose6(const float *x, const int64_t *d6, const int *perm, float *y) {
  int64_t st[6], od[6], n = 1;
  for (int i = 5; i >= 0; i--) st[i] = n, n *= d6[i];
  for (int i = 0; i < 6; i++) od[i] = d6[perm[i]];
  for (int64_t t = 0; t < n; t++) {
    int64_t r = t, src = 0;
    for (int i = 5; i >= 0; i--) {
      src += (r % od[i]) * st[perm[i]];
      r /= od[i];
    }
    y[t] = x[src];
  }
}

/* Operators.md DepthToSpace-13 / SpaceToDepth-13 reference formulas. */
static void ref_d2s(const float *x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t b, int crd,
                    float *y) {
  if (crd) {
    const int64_t d6[6] = {N, C / (b * b), b, b, H, W};
    const int perm[6] = {0, 1, 4, 2, 5, 3};
    transpose6(x, d6, perm, y);
  } else {
    const int64_t d6[6] = {N, b, b, C / (b * b), H, W};
    const int perm[6] = {0, 3, 4, 1, 5, 2};
    transpose6(x, d6, perm, y);
  }
}

static void ref_s2d(const float *x, int64_t N, int64_t C, int64_t H, int64_t W, int64_t b,
                    float *y) {
  const int64_t d6[6] = {N, C, H / b, b, W / b, b};
  const int perm[6] = {0, 3, 5, 1, 2, 4};
  transpose6(x, d6, perm, y);
}

static void test_forward(void) {
  int n_cases = 0;
  float x[2 * 18 * 4 * 6], want[2 * 18 * 4 * 6];
  for (int i = 0; i < (int)(sizeof x / sizeof x[0]); i++) x[i] = (float)i;
  for (int to_space = 0; to_space <= 1; to_space++)
    for (int crd = 0; crd <= to_space; crd++)
      for (int64_t b = 1; b <= 3; b++)
        for (int64_t N = 1; N <= 2; N++) {
          /* depth form [N, 2*b*b, 2, 3] <-> space form [N, 2, 2b, 3b] */
          const int64_t C = 2, H = 2, W = 3;
          int64_t dims[4];
          if (to_space) {
            dims[0] = N, dims[1] = C * b * b, dims[2] = H, dims[3] = W;
            ref_d2s(x, N, C * b * b, H, W, b, crd, want);
          } else {
            dims[0] = N, dims[1] = C, dims[2] = H * b, dims[3] = W * b;
            ref_s2d(x, N, C, H * b, W * b, b, want);
          }
          sc_depth_space_params p = dsp(to_space, crd, (int)b);
          oc_case k;
          ds_case(&k, &p, dims, x);
          char what[96];
          snprintf(what, sizeof what, "%s %s b%d N%d", to_space ? "d2s" : "s2d",
                   crd ? "CRD" : "DCR", (int)b, (int)N);
          segcam_status st = oc_run(&k, what);
          CHECK(st == SEGCAM_OK, "%s: %s", what, segcam_last_error());
          if (st == SEGCAM_OK) {
            const sc_shape *o = &k.out[0].shape;
            int64_t od[4] = {N, to_space ? C : C * b * b, to_space ? H * b : H,
                             to_space ? W * b : W};
            CHECK(o->ndim == 4 && o->d[0] == od[0] && o->d[1] == od[1] && o->d[2] == od[2] &&
                      o->d[3] == od[3],
                  "%s: output shape", what);
            int64_t n = N * C * b * b * H * W;
            CHECK(memcmp(k.out[0].data, want, (size_t)n * sizeof(float)) == 0, "%s: values", what);
            n_cases++;
          }
          oc_free(&k);
        }
  CHECK(n_cases == 18, "%d cases", n_cases);
}

/* The example of Operators.md DepthToSpace (x[0,c,h,w] = 9c + 3h + w as [1,8,2,3], blocksize 2),
 * with the outputs the spec lists for DCR and CRD. */
static void test_spec_example(void) {
  float x[48];
  for (int c = 0; c < 8; c++)
    for (int i = 0; i < 6; i++) x[c * 6 + i] = (float)(9 * c + 3 * (i / 3) + i % 3);
  const int64_t d[4] = {1, 8, 2, 3};
  const float dcr[48] = {0,  18, 1,  19, 2,  20, 36, 54, 37, 55, 38, 56, 3,  21, 4,  22,
                         5,  23, 39, 57, 40, 58, 41, 59, 9,  27, 10, 28, 11, 29, 45, 63,
                         46, 64, 47, 65, 12, 30, 13, 31, 14, 32, 48, 66, 49, 67, 50, 68};
  const float crd[48] = {0,  9,  1,  10, 2,  11, 18, 27, 19, 28, 20, 29, 3,  12, 4,  13,
                         5,  14, 21, 30, 22, 31, 23, 32, 36, 45, 37, 46, 38, 47, 54, 63,
                         55, 64, 56, 65, 39, 48, 40, 49, 41, 50, 57, 66, 58, 67, 59, 68};
  for (int m = 0; m < 2; m++) {
    sc_depth_space_params p = dsp(1, m, 2);
    oc_case k;
    ds_case(&k, &p, d, x);
    segcam_status st = oc_run(&k, m ? "spec_crd" : "spec_dcr");
    CHECK(st == SEGCAM_OK, "%s", segcam_last_error());
    if (st == SEGCAM_OK)
      CHECK(memcmp(k.out[0].data, m ? crd : dcr, sizeof dcr) == 0, "spec example %s",
            m ? "CRD" : "DCR");
    oc_free(&k);
  }
}

/* SpaceToDepth undoes DepthToSpace (DCR). */
static void test_round_trip(void) {
  float x[3 * 8 * 5 * 2];
  oc_fill(x, 3 * 8 * 5 * 2, 3, -1, 1);
  const int64_t d[4] = {3, 8, 5, 2};
  sc_depth_space_params p = dsp(1, 0, 2), q = dsp(0, 0, 2);
  oc_case k, k2;
  ds_case(&k, &p, d, x);
  CHECK(oc_run(&k, "rt_d2s") == SEGCAM_OK, "%s", segcam_last_error());
  int64_t sd[4] = {3, 2, 10, 4};
  ds_case(&k2, &q, sd, k.out[0].data);
  CHECK(oc_run(&k2, "rt_s2d") == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(k2.out[0].data && memcmp(k2.out[0].data, x, sizeof x) == 0, "round trip");
  oc_free(&k2);
  oc_free(&k);
}

static void test_gradcheck(void) {
  static float x[2 * 18 * 6 * 6];
  oc_fill(x, 2 * 18 * 6 * 6, 11, -1, 1);
  const int64_t dd[4] = {2, 18, 2, 3}, ds[4] = {2, 2, 6, 6};
  sc_depth_space_params p;
  oc_case k;
  p = dsp(1, 0, 3);
  ds_case(&k, &p, dd, x);
  oc_gradcheck_acc(&k, "grad_d2s_dcr", 1e-2, 1e-4);
  oc_free(&k);
  p = dsp(1, 1, 3);
  ds_case(&k, &p, dd, x);
  oc_gradcheck_acc(&k, "grad_d2s_crd", 1e-2, 1e-4);
  oc_free(&k);
  p = dsp(0, 0, 2);
  ds_case(&k, &p, ds, x);
  oc_gradcheck_acc(&k, "grad_s2d", 1e-2, 1e-4);
  oc_free(&k);
}

static void test_errors(void) {
  float x[64] = {0};
  oc_case k;
  const int64_t d6[4] = {1, 6, 2, 2}, d3[3] = {1, 8, 2}, dodd[4] = {1, 1, 3, 4};
  sc_depth_space_params p = dsp(1, 0, 2);
  ds_case(&k, &p, d6, x); /* 6 channels, blocksize^2 = 4 */
  oc_expect_error("channels", &k, SEGCAM_E_SHAPE);
  p = dsp(0, 0, 2);
  ds_case(&k, &p, dodd, x); /* height 3 */
  oc_expect_error("odd_height", &k, SEGCAM_E_SHAPE);
  ds_case(&k, &p, d6, x);
  k.in[0] = oc_tensor(3, d3, x);
  oc_expect_error("rank3", &k, SEGCAM_E_SHAPE);
  p = dsp(1, 0, 0);
  ds_case(&k, &p, d6, x);
  oc_expect_error("block0", &k, SEGCAM_E_FORMAT);
  p = dsp(1, 0, 2);
  ds_case(&k, &p, d6, x);
  k.in[0].dtype = SC_I64;
  oc_expect_error("int64", &k, SEGCAM_E_UNSUPPORTED);
  const int64_t big[4] = {1, 4, (int64_t)1 << 40, (int64_t)1 << 30};
  ds_case(&k, &p, big, x);
  oc_expect_error("huge", &k, SEGCAM_E_NOMEM);
}

int main(void) {
  test_forward();
  test_spec_example();
  test_round_trip();
  test_gradcheck();
  test_errors();
  TEST_MAIN_END();
}
