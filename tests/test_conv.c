/* Conv, ConvTranspose, Gemm and MatMul kernels (src/ops/conv.c, matmul.c, im2col.c).
 *
 * References, none of them the code under test:
 *   - hand-computed tiny cases;
 *   - direct-loop implementations in double written here: Conv forward as the ONNX sum over
 *     taps, Conv backward and ConvTranspose forward as scatters over every (output, tap) pair;
 *     the expected output sizes and leading pads of 'SAME'/output_shape cases are written by hand
 *     in the case tables, so the reference does not reuse the kernels' padding rules;
 *   - PyTorch float64 results pasted as literals (script in the comment above them);
 *   - finite differences (oc_gradcheck) for every backward.
 * The cases cover every kernel path (1x1 sgemm, depthwise direct loops, im2col + sgemm with
 * per-thread chunks or 'whole' chunks, col2im or flipped-kernel adjoints), with the case table run
 * at three thread counts since the chunking depends on it. */
#include <omp.h>

#include "op_check.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static float *frand(int64_t n, uint64_t seed) {
  float *x = malloc((size_t)(n ? n : 1) * sizeof *x);
  oc_fill(x, n, seed, -1, 1);
  return x;
}

/* ((i*a + b) mod m - off) / div: exact small dyadic values, shared with the PyTorch script. */
static float *fpat(int64_t n, int a, int b, int m, int off, double div) {
  float *x = malloc((size_t)n * sizeof *x);
  for (int64_t i = 0; i < n; i++) x[i] = (float)((double)((i * a + b) % m - off) / div);
  return x;
}

static int has_node_name(const char *name) {
  return strstr(segcam_last_error(), name) != NULL;
}

/* Backward must ACCUMULATE into din: runs it once onto zeroed buffers (oc_backward), then
 * directly onto buffers holding 1.0, and expects 1 + the first result for every non-constant
 * input.  Call after a successful oc_run. */
static void check_accumulates(oc_case *k, const char *what) {
  int64_t ny = sc_shape_numel(&k->out[0].shape);
  float *dy = frand(ny, 99), *d0[SC_MAX_IO] = {0}, *d1[SC_MAX_IO] = {0};
  for (int i = 0; i < k->n_in; i++) {
    if (!k->in[i].data || k->in_const[i]) continue;
    size_t n = (size_t)sc_shape_numel(&k->in[i].shape);
    d0[i] = malloc(n * sizeof(float));
    d1[i] = malloc(n * sizeof(float));
    for (size_t e = 0; e < n; e++) d1[i][e] = 1.0f;
  }
  CHECK(oc_backward(k, dy, d0) == SEGCAM_OK, "%s: %s", what, segcam_last_error());
  sc_opctx c;
  oc_ctx(k, &c);
  c.scratch = k->scratch;
  c.dout[0] = dy;
  for (int i = 0; i < k->n_in; i++) c.din[i] = d1[i];
  CHECK(sc_opdefs[k->op]->backward(&c) == SEGCAM_OK, "%s: %s", what, segcam_last_error());
  for (int i = 0; i < k->n_in; i++) {
    if (!d0[i]) continue;
    size_t n = (size_t)sc_shape_numel(&k->in[i].shape);
    double *ref = malloc(n * sizeof *ref);
    for (size_t e = 0; e < n; e++) ref[e] = 1.0 + d0[i][e];
    char buf[160];
    snprintf(buf, sizeof buf, "%s: backward accumulates into input %d", what, i);
    t_close(buf, d1[i], ref, n, 1e-6, 1e-6);
    free(ref);
  }
  for (int i = 0; i < SC_MAX_IO; i++) free(d0[i]), free(d1[i]);
  free(dy);
}

/* ---- reference convolutions (double) -------------------------------------------------------- */

typedef struct geom {
  int n, c, h, w;     /* input */
  int k, r, s, group; /* W: Conv [K, C/G, R, S]; ConvTranspose [C, K/G, R, S] */
  int sh, sw, dh, dw;
  int pt, pl; /* leading pads the reference uses */
  int p, q;   /* output size */
} geom;

/* y[n,k,p,q] = b[k] + sum_{c in group, r, s} x[n, c, p*sh - pt + r*dh, q*sw - pl + s*dw]
 *                                            * w[k, c, r, s] */
static void ref_conv(const geom *g, const float *x, const float *w, const float *b, double *y) {
  int cg = g->c / g->group, kg = g->k / g->group;
  for (int n = 0; n < g->n; n++)
    for (int k = 0; k < g->k; k++)
      for (int p = 0; p < g->p; p++)
        for (int q = 0; q < g->q; q++) {
          double acc = b ? b[k] : 0.0;
          for (int ci = 0; ci < cg; ci++) {
            int ch = k / kg * cg + ci;
            for (int r = 0; r < g->r; r++)
              for (int s = 0; s < g->s; s++) {
                int ih = p * g->sh - g->pt + r * g->dh, iw = q * g->sw - g->pl + s * g->dw;
                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                acc += (double)x[((n * g->c + ch) * g->h + ih) * g->w + iw] *
                       w[((k * cg + ci) * g->r + r) * g->s + s];
              }
          }
          y[((n * g->k + k) * g->p + p) * g->q + q] = acc;
        }
}

/* Conv data gradient by scattering every output gradient along its taps. */
static void ref_conv_dx(const geom *g, const float *dy, const float *w, double *dx) {
  int cg = g->c / g->group, kg = g->k / g->group;
  memset(dx, 0, sizeof(double) * (size_t)(g->n * g->c * g->h * g->w));
  for (int n = 0; n < g->n; n++)
    for (int k = 0; k < g->k; k++)
      for (int p = 0; p < g->p; p++)
        for (int q = 0; q < g->q; q++)
          for (int ci = 0; ci < cg; ci++)
            for (int r = 0; r < g->r; r++)
              for (int s = 0; s < g->s; s++) {
                int ch = k / kg * cg + ci;
                int ih = p * g->sh - g->pt + r * g->dh, iw = q * g->sw - g->pl + s * g->dw;
                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                dx[((n * g->c + ch) * g->h + ih) * g->w + iw] +=
                    (double)dy[((n * g->k + k) * g->p + p) * g->q + q] *
                    w[((k * cg + ci) * g->r + r) * g->s + s];
              }
}

/* ConvTranspose (ONNX / PyTorch definition): every input pixel scatters x * W[c, j] onto
 * y[g*K/G + j, h*sh - pt + r*dh, w*sw - pl + s*dw]. */
static void ref_convt(const geom *g, const float *x, const float *w, const float *b, double *y) {
  int cg = g->c / g->group, kg = g->k / g->group;
  for (int i = 0; i < g->n * g->k * g->p * g->q; i++) y[i] = b ? b[i / (g->p * g->q) % g->k] : 0;
  for (int n = 0; n < g->n; n++)
    for (int ch = 0; ch < g->c; ch++)
      for (int ih = 0; ih < g->h; ih++)
        for (int iw = 0; iw < g->w; iw++)
          for (int j = 0; j < kg; j++)
            for (int r = 0; r < g->r; r++)
              for (int s = 0; s < g->s; s++) {
                int oh = ih * g->sh - g->pt + r * g->dh, ow = iw * g->sw - g->pl + s * g->dw;
                if (oh < 0 || oh >= g->p || ow < 0 || ow >= g->q) continue;
                int k = ch / cg * kg + j;
                y[((n * g->k + k) * g->p + oh) * g->q + ow] +=
                    (double)x[((n * g->c + ch) * g->h + ih) * g->w + iw] *
                    w[((ch * kg + j) * g->r + r) * g->s + s];
              }
}

/* ConvTranspose data gradient: dx[c, h, w] = sum over the same pairs of dy * W. */
static void ref_convt_dx(const geom *g, const float *dy, const float *w, double *dx) {
  int cg = g->c / g->group, kg = g->k / g->group;
  for (int n = 0; n < g->n; n++)
    for (int ch = 0; ch < g->c; ch++)
      for (int ih = 0; ih < g->h; ih++)
        for (int iw = 0; iw < g->w; iw++) {
          double acc = 0;
          for (int j = 0; j < kg; j++)
            for (int r = 0; r < g->r; r++)
              for (int s = 0; s < g->s; s++) {
                int oh = ih * g->sh - g->pt + r * g->dh, ow = iw * g->sw - g->pl + s * g->dw;
                if (oh < 0 || oh >= g->p || ow < 0 || ow >= g->q) continue;
                int k = ch / cg * kg + j;
                acc += (double)dy[((n * g->k + k) * g->p + oh) * g->q + ow] *
                       w[((ch * kg + j) * g->r + r) * g->s + s];
              }
          dx[((n * g->c + ch) * g->h + ih) * g->w + iw] = acc;
        }
}

/* ---- one configuration against the references ----------------------------------------------- */

typedef struct conv_case {
  const char *name;
  int transpose;
  int n, c, h, w, k, r, s, bias;
  sc_conv_params prm;
  int expect_p, expect_q; /* hand-computed output size */
  int pt, pl;             /* hand-computed leading pads */
} conv_case;

static void run_conv_case(const conv_case *cc) {
  const sc_conv_params *prm = &cc->prm;
  int group = prm->group ? prm->group : 1;
  geom g = {cc->n,
            cc->c,
            cc->h,
            cc->w,
            cc->k,
            cc->r,
            cc->s,
            group,
            prm->stride[0] ? prm->stride[0] : 1,
            prm->stride[1] ? prm->stride[1] : 1,
            prm->dilation[0] ? prm->dilation[0] : 1,
            prm->dilation[1] ? prm->dilation[1] : 1,
            cc->pt,
            cc->pl,
            cc->expect_p,
            cc->expect_q};
  int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w};
  int64_t wd[4] = {cc->transpose ? cc->c : cc->k, cc->transpose ? cc->k / group : cc->c / group,
                   cc->r, cc->s};
  int64_t bd[1] = {cc->k};
  int64_t nx = xd[0] * xd[1] * xd[2] * xd[3], nw = wd[0] * wd[1] * wd[2] * wd[3];
  int64_t ny = (int64_t)cc->n * cc->k * cc->expect_p * cc->expect_q;
  float *x = frand(nx, 1), *w = frand(nw, 2), *b = cc->bias ? frand(cc->k, 3) : NULL;
  float *dy = frand(ny, 4), *dx = malloc((size_t)nx * sizeof *dx);
  double *yref = malloc((size_t)ny * sizeof *yref), *dxref = malloc((size_t)nx * sizeof *dxref);

  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = cc->transpose ? SC_OP_CONV_TRANSPOSE : SC_OP_CONV;
  k.params = (void *)prm;
  k.n_in = cc->bias ? 3 : 2;
  k.in[0] = oc_tensor(4, xd, x);
  k.in[1] = oc_tensor(4, wd, w);
  k.in_const[1] = 1;
  if (b) k.in[2] = oc_tensor(1, bd, b), k.in_const[2] = 1;
  k.n_out = 1;
  segcam_status s = oc_run(&k, cc->name);
  CHECK(s == SEGCAM_OK, "%s: %s", cc->name, segcam_last_error());
  if (s != SEGCAM_OK) goto done;
  const sc_shape *ys = &k.out[0].shape;
  CHECK(ys->ndim == 4 && ys->d[0] == cc->n && ys->d[1] == cc->k && ys->d[2] == cc->expect_p &&
            ys->d[3] == cc->expect_q,
        "%s: output shape [%lld,%lld,%lld,%lld], expected [%d,%d,%d,%d]", cc->name,
        (long long)ys->d[0], (long long)ys->d[1], (long long)ys->d[2], (long long)ys->d[3], cc->n,
        cc->k, cc->expect_p, cc->expect_q);
  if (sc_shape_numel(ys) != ny) goto done;

  char what[160];
  if (cc->transpose) {
    ref_convt(&g, x, w, b, yref);
    ref_convt_dx(&g, dy, w, dxref);
  } else {
    ref_conv(&g, x, w, b, yref);
    ref_conv_dx(&g, dy, w, dxref);
  }
  /* float32 rounding grows with the number of summed terms (forward) or scattered taps (dX) */
  double terms = (double)(cc->c / group) * cc->r * cc->s;
  double terms_dx = (double)(cc->k / group) * cc->r * cc->s;
  double atol = 1e-5 * sqrt(terms > 9 ? terms / 9 : 1);
  double atol_dx = 1e-5 * sqrt(terms_dx > 9 ? terms_dx / 9 : 1);
  snprintf(what, sizeof what, "%s forward", cc->name);
  t_close(what, k.out[0].data, yref, (size_t)ny, atol, 1e-5);

  float *din[SC_MAX_IO] = {dx};
  s = oc_backward(&k, dy, din);
  CHECK(s == SEGCAM_OK, "%s backward: %s", cc->name, segcam_last_error());
  snprintf(what, sizeof what, "%s backward dX", cc->name);
  t_close(what, dx, dxref, (size_t)nx, atol_dx, 1e-5);

  check_accumulates(&k, cc->name);

  snprintf(what, sizeof what, "%s gradcheck", cc->name);
  oc_gradcheck(&k, what, 0.1, 1e-3);
done:
  oc_free(&k);
  free(x), free(w), free(b), free(dy), free(dx), free(yref), free(dxref);
}

/* clang-format off */
/* Shorthand for parameter structs: P(kh,kw, sh,sw, dh,dw, pt,pl,pb,pr, group, auto_pad) and, for
 * ConvTranspose, PT(sh,sw, dh,dw, pt,pl,pb,pr, group, auto_pad, output_padding, output_shape). */
#define P(kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, grp, ap) \
  { {kh, kw}, {sh, sw}, {dh, dw}, {pt, pl, pb, pr}, grp, ap, {0, 0}, {0, 0} }
#define PT(sh, sw, dh, dw, pt, pl, pb, pr, grp, ap, oph, opw, osh, osw) \
  { {0, 0}, {sh, sw}, {dh, dw}, {pt, pl, pb, pr}, grp, ap, {oph, opw}, {osh, osw} }
#define EX SC_PAD_EXPLICIT
#define SU SC_PAD_SAME_UPPER
#define SL SC_PAD_SAME_LOWER
#define VALID SC_PAD_VALID

static const conv_case conv_cases[] = {
    /* name, transpose, N, C, H, W, K, R, S, bias, params, expected P, Q, leading pads */
    {"conv_3x3_pad1", 0, 1, 3, 5, 7, 4, 3, 3, 1,
     P(0,0, 1,1, 1,1, 1,1,1,1, 1, EX), 5, 7, 1, 1},
    {"conv_s2_pad_gt_half_k", 0, 1, 2, 7, 9, 3, 3, 3, 1,
     P(3,3, 2,2, 1,1, 2,2,2,2, 1, EX), 5, 6, 2, 2},
    {"conv_asym_pads", 0, 1, 2, 6, 5, 3, 3, 2, 0,
     P(0,0, 1,1, 1,1, 0,1,2,3, 1, EX), 6, 8, 0, 1},
    {"conv_groups2", 0, 1, 4, 5, 6, 6, 3, 3, 1,
     P(0,0, 1,1, 1,1, 1,1,1,1, 2, EX), 5, 6, 1, 1},
    {"conv_depthwise_s2", 0, 1, 3, 9, 8, 3, 3, 3, 1,
     P(0,0, 2,2, 1,1, 1,1,1,1, 3, EX), 5, 4, 1, 1},
    {"conv_depthwise_mult2", 0, 1, 3, 7, 7, 6, 3, 3, 0,
     P(0,0, 1,1, 2,2, 2,2,2,2, 3, EX), 7, 7, 2, 2},
    {"conv_dilation_2_3", 0, 1, 2, 8, 10, 3, 3, 3, 1,
     P(0,0, 1,1, 2,3, 2,3,2,3, 1, EX), 8, 10, 2, 3},
    {"conv_1x1_batch2", 0, 2, 5, 6, 7, 4, 1, 1, 1,
     P(0,0, 1,1, 1,1, 0,0,0,0, 1, EX), 6, 7, 0, 0},
    {"conv_1x1_groups", 0, 1, 6, 3, 5, 4, 1, 1, 0,
     P(0,0, 1,1, 1,1, 0,0,0,0, 2, EX), 3, 5, 0, 0},
    {"conv_1x1_stride2", 0, 1, 4, 7, 6, 3, 1, 1, 1,
     P(0,0, 2,2, 1,1, 0,0,0,0, 1, EX), 4, 3, 0, 0},
    {"conv_1x1_spatial_in", 0, 1, 3, 1, 1, 2, 3, 3, 1,
     P(0,0, 1,1, 1,1, 1,1,1,1, 1, EX), 1, 1, 1, 1},
    {"conv_kernel_gt_input", 0, 1, 2, 2, 3, 2, 5, 5, 0,
     P(0,0, 1,1, 1,1, 2,2,1,2, 1, EX), 1, 3, 2, 2},
    /* SAME: P = ceil(7/1) = 7, total 6+4-7 = 3; Q = ceil(8/2) = 4, total 3*2+3-8 = 1 */
    {"conv_same_upper", 0, 1, 2, 7, 8, 3, 4, 3, 1,
     P(0,0, 1,2, 1,1, 9,9,9,9, 1, SU), 7, 4, 1, 0},
    {"conv_same_lower", 0, 1, 2, 7, 8, 3, 4, 3, 1,
     P(0,0, 1,2, 1,1, 9,9,9,9, 1, SL), 7, 4, 2, 1},
    /* SAME with dilation and a kernel wider than the input: keff 5 > 3, total 2+5-3 = 4 */
    {"conv_same_dilated", 0, 1, 1, 3, 3, 2, 3, 3, 0,
     P(0,0, 1,1, 2,2, 0,0,0,0, 1, SU), 3, 3, 2, 2},
    /* SAME, stride 2, odd sizes: P = ceil(7/2) = 4, total 3*2+4-7 = 3;
     * Q = ceil(9/2) = 5, total 4*2+3-9 = 2 */
    {"conv_same_upper_s2", 0, 1, 2, 7, 9, 3, 4, 3, 1,
     P(0,0, 2,2, 1,1, 0,0,0,0, 1, SU), 4, 5, 1, 1},
    {"conv_same_lower_s2", 0, 1, 2, 7, 9, 3, 4, 3, 1,
     P(0,0, 2,2, 1,1, 0,0,0,0, 1, SL), 4, 5, 2, 1},
    /* SAME 1x1 stride 2: total (4-1)*2+1-8 = -1 is clamped to 0, for either split */
    {"conv_same_lower_1x1_s2",0, 1, 3, 8, 7, 2, 1, 1, 0,
     P(0,0, 2,2, 1,1, 0,0,0,0, 1, SL), 4, 4, 0, 0},
    {"conv_valid_ignores_pads",0,1, 2, 6, 5, 2, 3, 3, 0,
     P(0,0, 2,2, 1,1, 1,1,1,1, 1, VALID), 2, 2, 0, 0},
    /* stride 1 with pads beyond the kernel's reach: the flipped adjoint has negative pads */
    {"conv_pads_gt_kernel", 0, 1, 2, 5, 4, 3, 3, 3, 1,
     P(0,0, 1,1, 1,1, 3,4,2,3, 1, EX), 8, 9, 3, 4},
    {"conv_kernel_attr", 0, 1, 2, 5, 5, 2, 3, 3, 0,
     P(3,3, 1,1, 1,1, 0,0,0,0, 1, EX), 3, 3, 0, 0},
    {"conv_1d", 0, 1, 2, 1, 11, 3, 1, 5, 1,
     P(0,0, 1,2, 1,1, 0,2,0,2, 1, EX), 1, 6, 0, 2},
    {"conv_batch2_groups_s2", 0, 2, 6, 9, 7, 4, 3, 3, 1,
     P(0,0, 2,2, 1,1, 1,0,0,1, 2, EX), 4, 3, 1, 0},
    {"conv_single_in_channel",0, 1, 1, 6, 5, 4, 3, 3, 1,
     P(0,0, 1,1, 1,1, 1,1,1,1, 1, EX), 6, 5, 1, 1},
    /* 288 x 192 floats per grid row > 6 MiB / 28 rows: three column chunks */
    {"conv_chunked", 0, 1, 32, 64, 192, 4, 3, 3, 1,
     P(0,0, 1,1, 1,1, 1,1,1,1, 1, EX), 64, 192, 1, 1},
    /* stride 2, many chunks: the col2im backward runs in two phases */
    {"conv_chunked_s2", 0, 1, 32, 128, 192, 4, 3, 3, 0,
     P(0,0, 2,2, 1,1, 1,1,1,1, 1, EX), 64, 96, 1, 1},

    /* ConvTranspose: P = s*(H-1) + op + (R-1)*d + 1 - pads */
    {"convt_s1_pads_gt", 1, 1, 2, 6, 5, 3, 3, 3, 1,
     PT(1,1, 1,1, 2,0,1,2, 1, EX, 0,0, 0,0), 5, 5, 2, 0},
    {"convt_s1_dil2", 1, 1, 3, 4, 5, 2, 3, 3, 0,
     PT(1,1, 2,2, 1,1,1,1, 1, EX, 0,0, 0,0), 6, 7, 1, 1},
    {"convt_3x3_pad1", 1, 1, 2, 4, 5, 3, 3, 3, 1,
     PT(1,1, 1,1, 1,1,1,1, 1, EX, 0,0, 0,0), 4, 5, 1, 1},
    {"convt_s2_outpad1", 1, 1, 3, 3, 4, 2, 3, 3, 1,
     PT(2,2, 1,1, 1,1,1,1, 1, EX, 1,1, 0,0), 6, 8, 1, 1},
    {"convt_k2_s2", 1, 1, 4, 3, 5, 2, 2, 2, 1,
     PT(2,2, 1,1, 0,0,0,0, 1, EX, 0,0, 0,0), 6, 10, 0, 0},
    {"convt_groups_dilation", 1, 1, 4, 3, 4, 6, 3, 3, 0,
     PT(2,2, 2,2, 1,2,0,1, 2, EX, 0,0, 0,0), 8, 8, 1, 2},
    /* output_shape (6,7): full = (7, 9), total = (1, 2); UPPER begins with (0, 1), LOWER (1, 1) */
    {"convt_oshape_upper", 1, 1, 2, 3, 4, 2, 3, 3, 1,
     PT(2,2, 1,1, 0,0,0,0, 1, SU, 0,0, 6,7), 6, 7, 0, 1},
    {"convt_oshape_lower", 1, 1, 2, 3, 4, 2, 3, 3, 1,
     PT(2,2, 1,1, 0,0,0,0, 1, SL, 0,0, 6,7), 6, 7, 1, 1},
    /* output_shape without auto_pad: the spec's 'Else' branch (larger half first) */
    {"convt_oshape_notset", 1, 1, 2, 3, 4, 2, 3, 3, 0,
     PT(2,2, 1,1, 5,5,5,5, 1, EX, 0,0, 6,8), 6, 8, 1, 1},
    /* output_shape with output_padding: full = 2*2+1+3 = 8, total 8-7 = 1 */
    {"convt_oshape_outpad", 1, 1, 2, 3, 3, 2, 3, 3, 0,
     PT(2,2, 1,1, 0,0,0,0, 1, SU, 1,1, 7,7), 7, 7, 0, 0},
    /* SAME without output_shape: out = in*s = (6, 8), total = (1, 1) */
    {"convt_same_upper", 1, 1, 2, 3, 4, 2, 3, 3, 1,
     PT(2,2, 1,1, 0,0,0,0, 1, SU, 0,0, 0,0), 6, 8, 0, 0},
    /* k=1, s=2, SAME: out 6 > full 5, total -1: no leading pad, the last row only gets the bias */
    {"convt_same_negative", 1, 1, 2, 3, 3, 2, 1, 1, 1,
     PT(2,2, 1,1, 0,0,0,0, 1, SU, 0,0, 0,0), 6, 6, 0, 0},
    {"convt_depthwise", 1, 1, 3, 4, 3, 3, 3, 3, 1,
     PT(2,2, 1,1, 1,1,1,1, 3, EX, 1,1, 0,0), 8, 6, 1, 1},
    {"convt_groups_cg1", 1, 2, 2, 3, 3, 4, 2, 3, 0,
     PT(1,2, 1,1, 0,1,1,0, 2, EX, 0,1, 0,0), 3, 7, 0, 1},
    {"convt_1x1_batch2", 1, 2, 4, 5, 6, 3, 1, 1, 1,
     PT(1,1, 1,1, 0,0,0,0, 1, EX, 0,0, 0,0), 5, 6, 0, 0},
    {"convt_1x1_stride2", 1, 1, 3, 3, 4, 2, 1, 1, 0,
     PT(2,2, 1,1, 0,0,0,0, 1, EX, 1,0, 0,0), 6, 7, 0, 0},
    {"convt_1d", 1, 1, 2, 1, 5, 3, 1, 4, 1,
     PT(1,2, 1,1, 0,1,0,1, 1, EX, 0,1, 0,0), 1, 11, 0, 1},
    /* small grid with a big column matrix: 'whole' mode with two sequential chunks (and the
     * col2im backward, stride 2) */
    {"conv_whole_chunks_s2", 0, 1, 512, 80, 48, 2, 3, 3, 1,
     P(0,0, 2,2, 1,1, 1,1,1,1, 1, EX), 40, 24, 1, 1},
    {"convt_chunked_s2", 1, 1, 4, 32, 96, 32, 3, 3, 1,
     PT(2,2, 1,1, 1,1,1,1, 1, EX, 1,1, 0,0), 64, 192, 1, 1},
    {"convt_chunked", 1, 1, 4, 64, 192, 32, 3, 3, 0,
     PT(1,1, 1,1, 1,1,1,1, 1, EX, 0,0, 0,0), 64, 192, 1, 1},
};
/* clang-format on */

/* ---- hand-computed cases -------------------------------------------------------------------- */

static void test_conv_by_hand(void) {
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 1, 2, 2}, bd[1] = {1};
  {
    /* W = [[1,0],[0,-1]]: y = x[p][q] - x[p+1][q+1] = -4, plus the bias 0.5 */
    float w[4] = {1, 0, 0, -1}, b[1] = {0.5f};
    sc_conv_params prm = P(0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, EX);
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_CONV, k.params = &prm, k.n_in = 3, k.n_out = 1;
    k.in[0] = oc_tensor(4, xd, x);
    k.in[1] = oc_tensor(4, wd, w), k.in_const[1] = 1;
    k.in[2] = oc_tensor(1, bd, b), k.in_const[2] = 1;
    CHECK(oc_run(&k, "hand_conv") == SEGCAM_OK, "%s", segcam_last_error());
    double ref[4] = {-3.5, -3.5, -3.5, -3.5};
    t_close("hand conv diff kernel", k.out[0].data, ref, 4, 0, 0);
    /* dX of dY = ones: +1 where a window's top-left tap reads, -1 at its bottom-right tap */
    float dy[4] = {1, 1, 1, 1}, dx[9];
    float *din[SC_MAX_IO] = {dx};
    CHECK(oc_backward(&k, dy, din) == SEGCAM_OK, "%s", segcam_last_error());
    double dref[9] = {1, 1, 0, 1, 0, -1, 0, -1, -1};
    t_close("hand conv dX", dx, dref, 9, 0, 0);
    oc_free(&k);
  }
  {
    /* 2x2 ones, stride 2, pads 1: windows cover rows {-1,0},{1,2} and the same columns */
    float w[4] = {1, 1, 1, 1};
    sc_conv_params prm = P(0, 0, 2, 2, 1, 1, 1, 1, 1, 1, 1, EX);
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_CONV, k.params = &prm, k.n_in = 2, k.n_out = 1;
    k.in[0] = oc_tensor(4, xd, x);
    k.in[1] = oc_tensor(4, wd, w), k.in_const[1] = 1;
    CHECK(oc_run(&k, "hand_conv_s2") == SEGCAM_OK, "%s", segcam_last_error());
    double ref[4] = {1, 2 + 3, 4 + 7, 5 + 6 + 8 + 9};
    t_close("hand conv stride 2 pads 1", k.out[0].data, ref, 4, 0, 0);
    oc_free(&k);
  }
  {
    /* ConvTranspose 2x2 ones, stride 2, output_padding 1, bias 0.5: each input pixel becomes a
     * 2x2 block; the extra last row and column receive only the bias */
    float xt[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, b[1] = {0.5f};
    int64_t xtd[4] = {1, 1, 2, 2};
    sc_conv_params prm = PT(2, 2, 1, 1, 0, 0, 0, 0, 1, EX, 1, 1, 0, 0);
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_CONV_TRANSPOSE, k.params = &prm, k.n_in = 3, k.n_out = 1;
    k.in[0] = oc_tensor(4, xtd, xt);
    k.in[1] = oc_tensor(4, wd, w), k.in_const[1] = 1;
    k.in[2] = oc_tensor(1, bd, b), k.in_const[2] = 1;
    CHECK(oc_run(&k, "hand_convt") == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(k.out[0].shape.d[2] == 5 && k.out[0].shape.d[3] == 5, "hand convt shape");
    double ref[25] = {1.5, 1.5, 2.5, 2.5, 0.5, 1.5, 1.5, 2.5, 2.5, 0.5, 3.5, 3.5, 4.5,
                      4.5, 0.5, 3.5, 3.5, 4.5, 4.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5};
    if (sc_shape_numel(&k.out[0].shape) == 25) t_close("hand convt", k.out[0].data, ref, 25, 0, 0);
    oc_free(&k);
  }
}

/* ---- PyTorch float64 references ------------------------------------------------------------- */

/* Generated with /usr/bin/python3 (torch 1.13, float64):
 *   import torch, torch.nn.functional as F
 *   torch.set_default_dtype(torch.float64)
 *   def pat(n, a, b, m, off, div): return torch.tensor([((i*a+b) % m - off)/div for i in range(n)])
 *   # A
 *   x = pat(60, 7, 3, 11, 5, 4.0).reshape(1, 2, 5, 6).requires_grad_()
 *   w = pat(36, 5, 1, 9, 4, 8.0).reshape(4, 1, 3, 3); b = pat(4, 1, 0, 3, 1, 2.0)
 *   y = F.conv2d(F.pad(x, (0, 1, 2, 1)), w, b, stride=(2, 1), dilation=(1, 2), groups=2)
 *   dy = pat(y.numel(), 3, 2, 7, 3, 2.0).reshape(y.shape); y.backward(dy)   # y, x.grad
 *   # B
 *   x = pat(12, 7, 3, 11, 5, 4.0).reshape(1, 2, 2, 3).requires_grad_()
 *   w = pat(18, 5, 1, 9, 4, 8.0).reshape(2, 1, 3, 3); b = pat(2, 1, 0, 3, 1, 2.0)
 *   y = F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2)
 *   dy = pat(y.numel(), 3, 2, 7, 3, 2.0).reshape(y.shape); y.backward(dy)   # y, x.grad
 *   # C
 *   a = pat(12, 7, 3, 11, 5, 4.0).reshape(2, 1, 2, 3).requires_grad_()
 *   bb = pat(18, 5, 1, 9, 4, 8.0).reshape(3, 3, 2).requires_grad_()
 *   y = torch.matmul(a, bb); dy = pat(y.numel(), 3, 2, 7, 3, 2.0).reshape(y.shape)
 *   y.backward(dy)                                                          # y, a.grad, bb.grad
 * The inputs are small dyadic fractions, so float32 sums are exact and the tolerance is tight. */
static const double torch_a_y[36] = {
    -0.5,     -0.125,   -1.0,   -0.21875, -1.59375, -0.5,     -1.59375, 0.46875,  -0.125,
    0.0,      0.375,    -0.5,   0.28125,  -1.09375, 0.0,      -1.09375, 0.96875,  0.375,
    0.40625,  0.78125,  -0.125, 0.78125,  0.4375,   0.40625,  0.4375,   0.09375,  0.78125,
    -0.59375, -0.21875, -1.125, -0.21875, -0.5625,  -0.59375, -0.5625,  -0.90625, -0.21875};
static const double torch_a_dx[60] = {
    -0.1875, 0.0,     1.0625,  -0.75,  0.8125,  0.1875,  0.1875,  0.0,    -0.25,   0.0,
    0.3125,  0.0,     -0.9375, 0.5625, -0.1875, -0.375,  0.0625,  0.375,  0.9375,  -0.5625,
    0.25,    0.1875,  1.0625,  -0.75,  0.0,     0.0,     -1.25,   0.75,   -0.4375, -0.1875,
    0.5625,  -0.5625, 0.5625,  0.625,  -1.5,    -0.4375, -0.5625, 0.5625, -0.75,   -0.1875,
    -0.4375, 0.75,    -0.1875, 0.0,    1.0625,  -0.75,   0.8125,  0.1875, 0.1875,  0.0,
    -0.25,   0.0,     0.3125,  0.0,    0.0,     0.0,     -0.25,   0.0,    0.3125,  0.0};
static const double torch_b_y[48] = {
    -0.4375, -0.28125, -0.65625, 0.21875,  -0.53125, -0.375,   -0.4375,  -0.75,   -0.875,  -0.59375,
    -0.625,  -0.46875, -0.40625, -0.5,     -0.625,   0.0,      -0.5,     -0.5,    -0.125,  -0.59375,
    -1.0,    -0.375,   -0.5,     -0.5,     0.125,    -0.21875, -0.09375, 0.28125, 0.03125, -0.125,
    0.1875,  0.0,      -0.25,    0.15625,  0.0,      0.09375,  0.15625,  -0.4375, -0.0625, 0.0625,
    0.0625,  -0.25,    0.625,    -0.15625, -0.25,    0.0625,   0.25,     -0.0625};
static const double torch_b_dx[12] = {-0.25, 0.125,  -0.0625, 2.0,    1.0,     1.0,
                                      -0.25, 0.9375, 0.3125,  -0.625, -1.1875, 1.4375};
static const double torch_c_y[24] = {-0.15625, 0.46875,  0.03125, 0.1875,  0.21875, -0.28125,
                                     0.125,    0.0,      0.3125,  0.09375, 0.21875, 0.09375,
                                     0.21875,  -0.09375, 0.40625, -0.375,  0.03125, 0.28125,
                                     -0.0625,  0.5625,   0.125,   0.09375, 0.03125, 0.09375};
static const double torch_c_da[12] = {0.9375, 0.8125, -0.4375, 1.125,  1.0625, 0.4375,
                                      0.75,   1.0,    -0.4375, 0.9375, 0.8125, -0.4375};
static const double torch_c_db[18] = {1.625,  -3.625, -1.875, 3.375,  0.125,  -0.625,
                                      2.5,    -0.125, -1.875, -0.125, 0.625,  -0.125,
                                      -3.625, 3.375,  3.375,  -3.625, -0.625, 0.375};

/* Runs op on (x, w, b) and compares the output and dX (for dy = pat(3, 2, 7, 3, 2)). */
static void torch_conv_case(const char *name, int op, const sc_conv_params *prm, const int64_t *xd,
                            const int64_t *wd, int64_t kb, const double *yref, int64_t ny,
                            const double *dxref) {
  int64_t nx = xd[0] * xd[1] * xd[2] * xd[3], nw = wd[0] * wd[1] * wd[2] * wd[3];
  float *x = fpat(nx, 7, 3, 11, 5, 4.0), *w = fpat(nw, 5, 1, 9, 4, 8.0);
  float *b = fpat(kb, 1, 0, 3, 1, 2.0), *dy = fpat(ny, 3, 2, 7, 3, 2.0);
  float *dx = malloc((size_t)nx * sizeof *dx);
  int64_t bd[1] = {kb};
  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = op, k.params = (void *)prm, k.n_in = 3, k.n_out = 1;
  k.in[0] = oc_tensor(4, xd, x);
  k.in[1] = oc_tensor(4, wd, w), k.in_const[1] = 1;
  k.in[2] = oc_tensor(1, bd, b), k.in_const[2] = 1;
  segcam_status s = oc_run(&k, name);
  CHECK(s == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  if (s == SEGCAM_OK && sc_shape_numel(&k.out[0].shape) == ny) {
    char what[96];
    snprintf(what, sizeof what, "%s vs torch forward", name);
    t_close(what, k.out[0].data, yref, (size_t)ny, 1e-6, 1e-6);
    float *din[SC_MAX_IO] = {dx};
    CHECK(oc_backward(&k, dy, din) == SEGCAM_OK, "%s", segcam_last_error());
    snprintf(what, sizeof what, "%s vs torch dX", name);
    t_close(what, dx, dxref, (size_t)nx, 1e-6, 1e-6);
  } else {
    CHECK(0, "%s: unexpected output size %lld", name, (long long)sc_shape_numel(&k.out[0].shape));
  }
  oc_free(&k);
  free(x), free(w), free(b), free(dy), free(dx);
}

static void test_torch_refs(void) {
  /* A: pads (top 2, left 0, bottom 1, right 1) in ONNX order [h_begin, w_begin, h_end, w_end] */
  sc_conv_params pa = P(0, 0, 2, 1, 1, 2, 2, 0, 1, 1, 2, EX);
  int64_t xa[4] = {1, 2, 5, 6}, wa[4] = {4, 1, 3, 3};
  torch_conv_case("torch_conv_groups_dil_asym", SC_OP_CONV, &pa, xa, wa, 4, torch_a_y, 36,
                  torch_a_dx);
  sc_conv_params pb = PT(2, 2, 1, 1, 1, 1, 1, 1, 2, EX, 1, 1, 0, 0);
  int64_t xb[4] = {1, 2, 2, 3}, wb[4] = {2, 1, 3, 3};
  torch_conv_case("torch_convt_groups_outpad", SC_OP_CONV_TRANSPOSE, &pb, xb, wb, 2, torch_b_y, 48,
                  torch_b_dx);

  /* C: MatMul [2,1,2,3] x [3,3,2] -> [2,3,2,2], both operands activations */
  int64_t ad[4] = {2, 1, 2, 3}, bd[3] = {3, 3, 2};
  float *a = fpat(12, 7, 3, 11, 5, 4.0), *b = fpat(18, 5, 1, 9, 4, 8.0);
  float *dy = fpat(24, 3, 2, 7, 3, 2.0), da[12], db[18];
  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = SC_OP_MATMUL, k.n_in = 2, k.n_out = 1;
  k.in[0] = oc_tensor(4, ad, a);
  k.in[1] = oc_tensor(3, bd, b);
  CHECK(oc_run(&k, "torch_matmul") == SEGCAM_OK, "%s", segcam_last_error());
  const sc_shape *ys = &k.out[0].shape;
  CHECK(ys->ndim == 4 && ys->d[0] == 2 && ys->d[1] == 3 && ys->d[2] == 2 && ys->d[3] == 2,
        "matmul broadcast shape");
  if (sc_shape_numel(ys) == 24) {
    t_close("torch matmul forward", k.out[0].data, torch_c_y, 24, 1e-6, 1e-6);
    float *din[SC_MAX_IO] = {da, db};
    CHECK(oc_backward(&k, dy, din) == SEGCAM_OK, "%s", segcam_last_error());
    t_close("torch matmul dA", da, torch_c_da, 12, 1e-6, 1e-6);
    t_close("torch matmul dB", db, torch_c_db, 18, 1e-6, 1e-6);
  }
  oc_free(&k);
  free(a), free(b), free(dy);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void expect_error(const char *name, int op, const sc_conv_params *prm, const int64_t *xd,
                         const int64_t *wd, int64_t nb, segcam_status want) {
  float *x = calloc((size_t)(xd[0] * xd[1] * (xd[2] > 0 ? xd[2] : 1) * (xd[3] > 0 ? xd[3] : 1) + 1),
                    sizeof *x);
  float *w = calloc((size_t)(wd[0] * wd[1] * wd[2] * wd[3] + 1), sizeof *w);
  float *b = calloc((size_t)(nb + 1), sizeof *b);
  int64_t bd[1] = {nb};
  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = op, k.params = (void *)prm, k.n_in = nb ? 3 : 2, k.n_out = 1;
  k.in[0] = oc_tensor(4, xd, x);
  k.in[1] = oc_tensor(4, wd, w), k.in_const[1] = 1;
  if (nb) k.in[2] = oc_tensor(1, bd, b), k.in_const[2] = 1;
  segcam_status s = oc_run(&k, name);
  CHECK(s == want, "%s: status %d (%s), expected %d", name, (int)s, segcam_last_error(), (int)want);
  CHECK(has_node_name(name), "%s: error message does not name the node: %s", name,
        segcam_last_error());
  oc_free(&k);
  free(x), free(w), free(b);
}

static void test_errors(void) {
  sc_conv_params p1 = P(0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, EX);
  int64_t x3[4] = {1, 3, 5, 5}, w_c2[4] = {4, 2, 3, 3};
  expect_error("err_channel_mismatch", SC_OP_CONV, &p1, x3, w_c2, 0, SEGCAM_E_SHAPE);
  sc_conv_params pk = P(0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, EX);
  int64_t x2[4] = {1, 3, 2, 2}, w5[4] = {2, 3, 5, 5};
  expect_error("err_kernel_gt_padded", SC_OP_CONV, &pk, x2, w5, 0, SEGCAM_E_SHAPE);
  sc_conv_params pd = P(0, 0, 1, 1, 4, 4, 0, 0, 0, 0, 1, EX); /* 3x3 dilated 4: extent 9 > 5 */
  int64_t w3[4] = {2, 3, 3, 3};
  expect_error("err_dilated_extent", SC_OP_CONV, &pd, x3, w3, 0, SEGCAM_E_SHAPE);
  sc_conv_params pg = P(0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 2, EX);
  int64_t w_g[4] = {4, 1, 3, 3};
  expect_error("err_groups_not_dividing", SC_OP_CONV, &pg, x3, w_g, 0, SEGCAM_E_SHAPE);
  int64_t x4[4] = {1, 4, 5, 5}, w_k3[4] = {3, 2, 3, 3};
  expect_error("err_groups_not_dividing_k", SC_OP_CONV, &pg, x4, w_k3, 0, SEGCAM_E_SHAPE);
  expect_error("err_bias_length", SC_OP_CONV, &p1, x3, w3, 3, SEGCAM_E_SHAPE);
  sc_conv_params pka = P(5, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, EX);
  expect_error("err_kernel_attr_mismatch", SC_OP_CONV, &pka, x3, w3, 0, SEGCAM_E_SHAPE);
  int64_t x0[4] = {1, 3, 0, 5};
  expect_error("err_zero_dim", SC_OP_CONV, &p1, x0, w3, 0, SEGCAM_E_SHAPE);
  sc_conv_params pneg = P(0, 0, -1, 1, 1, 1, 0, 0, 0, 0, 1, EX);
  expect_error("err_negative_stride", SC_OP_CONV, &pneg, x3, w3, 0, SEGCAM_E_SHAPE);
  sc_conv_params pnp = P(0, 0, 1, 1, 1, 1, -2, 0, 0, 0, 1, EX);
  expect_error("err_negative_pad", SC_OP_CONV, &pnp, x3, w3, 0, SEGCAM_E_SHAPE);
  sc_conv_params phuge = P(0, 0, 1, 1, 1 << 30, 1, 0, 0, 0, 0, 1, EX);
  expect_error("err_absurd_dilation", SC_OP_CONV, &phuge, x3, w3, 0, SEGCAM_E_SHAPE);

  /* ConvTranspose: W [C, K/G, R, S] */
  sc_conv_params t1 = PT(1, 1, 1, 1, 0, 0, 0, 0, 1, EX, 0, 0, 0, 0);
  int64_t wt_bad[4] = {2, 4, 3, 3};
  expect_error("err_convt_channel_mismatch", SC_OP_CONV_TRANSPOSE, &t1, x3, wt_bad, 0,
               SEGCAM_E_SHAPE);
  sc_conv_params tg = PT(1, 1, 1, 1, 0, 0, 0, 0, 2, EX, 0, 0, 0, 0);
  int64_t wt3[4] = {3, 2, 3, 3};
  expect_error("err_convt_groups_not_dividing", SC_OP_CONV_TRANSPOSE, &tg, x3, wt3, 0,
               SEGCAM_E_SHAPE);
  sc_conv_params tp = PT(1, 1, 1, 1, 2, 2, 2, 2, 1, EX, 0, 0, 0, 0); /* 5 + 2 - 4 - 4 < 1 */
  int64_t x1[4] = {1, 3, 1, 1};
  expect_error("err_convt_pads_eat_output", SC_OP_CONV_TRANSPOSE, &tp, x1, wt3, 0, SEGCAM_E_SHAPE);
  sc_conv_params top = PT(2, 2, 1, 1, 0, 0, 0, 0, 1, EX, 2, 0, 0, 0);
  expect_error("err_convt_outpad_ge_stride", SC_OP_CONV_TRANSPOSE, &top, x3, wt3, 0,
               SEGCAM_E_SHAPE);

  /* 3-D convolutions are not supported */
  {
    float x[32] = {0}, w[8] = {0};
    int64_t xd[5] = {1, 1, 2, 2, 2}, wd[5] = {1, 1, 2, 2, 2};
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_CONV, k.params = &p1, k.n_in = 2, k.n_out = 1;
    k.in[0] = oc_tensor(5, xd, x);
    k.in[1] = oc_tensor(5, wd, w), k.in_const[1] = 1;
    segcam_status s = oc_run(&k, "err_conv3d");
    CHECK(s == SEGCAM_E_UNSUPPORTED && has_node_name("err_conv3d"), "3-D conv: %d %s", (int)s,
          segcam_last_error());
    oc_free(&k);
  }
  /* a gradient request for non-constant weights is refused, not dropped */
  {
    float x[25] = {0}, w[9] = {0}, dy[9] = {0}, dx[25], dw[9];
    int64_t xd[4] = {1, 1, 5, 5}, wd[4] = {1, 1, 3, 3};
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_CONV, k.params = &p1, k.n_in = 2, k.n_out = 1;
    k.in[0] = oc_tensor(4, xd, x);
    k.in[1] = oc_tensor(4, wd, w);
    CHECK(oc_run(&k, "err_weight_grad") == SEGCAM_OK, "%s", segcam_last_error());
    float *din[SC_MAX_IO] = {dx, dw};
    segcam_status s = oc_backward(&k, dy, din);
    CHECK(s == SEGCAM_E_UNSUPPORTED && has_node_name("err_weight_grad"), "weight grad: %d %s",
          (int)s, segcam_last_error());
    oc_free(&k);
  }
}

/* ---- Gemm ----------------------------------------------------------------------------------- */

static void ref_gemm(const sc_gemm_params *p, int64_t m, int64_t n, int64_t kk, const float *a,
                     const float *b, const float *cv, int64_t cr, int64_t cc, double *y) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double acc = 0;
      for (int64_t t = 0; t < kk; t++) {
        double av = p->trans_a ? a[t * m + i] : a[i * kk + t];
        double bv = p->trans_b ? b[j * kk + t] : b[t * n + j];
        acc += av * bv;
      }
      y[i * n + j] =
          p->alpha * acc + (cv ? p->beta * cv[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)] : 0.0);
    }
}

static void test_gemm(void) {
  {
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, cv[2] = {1, 10};
    int64_t d2[2] = {2, 2}, dc[1] = {2};
    sc_gemm_params p = {1.0f, 1.0f, 0, 0};
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_GEMM, k.params = &p, k.n_in = 3, k.n_out = 1;
    k.in[0] = oc_tensor(2, d2, a);
    k.in[1] = oc_tensor(2, d2, b), k.in_const[1] = 1;
    k.in[2] = oc_tensor(1, dc, cv), k.in_const[2] = 1;
    CHECK(oc_run(&k, "hand_gemm") == SEGCAM_OK, "%s", segcam_last_error());
    double ref[4] = {19 + 1, 22 + 10, 43 + 1, 50 + 10};
    t_close("hand gemm", k.out[0].data, ref, 4, 0, 0);
    p.trans_a = 1; /* A^T B = [[1,3],[2,4]] [[5,6],[7,8]] */
    CHECK(oc_run(&k, "hand_gemm") == SEGCAM_OK, "%s", segcam_last_error());
    double reft[4] = {26 + 1, 30 + 10, 38 + 1, 44 + 10};
    t_close("hand gemm transA", k.out[0].data, reft, 4, 0, 0);
    oc_free(&k);
  }
  /* every transpose combination and C broadcast, against the reference and finite differences */
  const int64_t m = 5, n = 7, kk = 3;
  const int64_t cshapes[][3] = {{0, 0, 0}, {0, 1, 1}, {1, n, 0}, {2, 1, n}, {2, m, 1}, {2, m, n}};
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (size_t ci = 0; ci < sizeof cshapes / sizeof *cshapes; ci++) {
        sc_gemm_params p = {0.75f, -1.5f, ta, tb};
        int64_t ad[2] = {ta ? kk : m, ta ? m : kk}, bd[2] = {tb ? n : kk, tb ? kk : n};
        int cnd = (int)cshapes[ci][0];
        int has_c = ci > 0;
        int64_t cdims[2] = {cshapes[ci][1], cshapes[ci][2]};
        int64_t cr = cnd == 2 ? cdims[0] : 1, cc = cnd >= 1 ? cdims[cnd - 1] : 1;
        float *a = frand(m * kk, 10), *b = frand(kk * n, 11), *cv = frand(m * n, 12);
        double y[35];
        char what[96];
        snprintf(what, sizeof what, "gemm ta%d tb%d c%zu", ta, tb, ci);
        oc_case k;
        memset(&k, 0, sizeof k);
        k.op = SC_OP_GEMM, k.params = &p, k.n_in = has_c ? 3 : 2, k.n_out = 1;
        k.in[0] = oc_tensor(2, ad, a);
        k.in[1] = oc_tensor(2, bd, b);
        if (has_c) k.in[2] = oc_tensor(cnd, cdims, cv);
        CHECK(oc_run(&k, what) == SEGCAM_OK, "%s: %s", what, segcam_last_error());
        ref_gemm(&p, m, n, kk, a, b, has_c ? cv : NULL, cr, cc, y);
        t_close(what, k.out[0].data, y, (size_t)(m * n), 1e-5, 1e-5);
        oc_gradcheck(&k, what, 0.05, 1e-3);
        check_accumulates(&k, what);
        oc_free(&k);
        free(a), free(b), free(cv);
      }
  /* products big enough for sc_sgemm to split C by columns (n >= m) and by rows (m > n) */
  const int64_t big[2][3] = {{120, 170, 100}, {170, 120, 100}};
  for (int bi = 0; bi < 2; bi++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        const int64_t bm = big[bi][0], bn = big[bi][1], bk = big[bi][2];
        sc_gemm_params p = {1.25f, 0.5f, ta, tb};
        int64_t ad[2] = {ta ? bk : bm, ta ? bm : bk}, bd[2] = {tb ? bn : bk, tb ? bk : bn};
        int64_t cd[2] = {bm, bn};
        float *a = frand(bm * bk, 30), *b = frand(bk * bn, 31), *cv = frand(bm * bn, 32);
        double *y = malloc((size_t)(bm * bn) * sizeof *y);
        char what[96];
        snprintf(what, sizeof what, "gemm split %lldx%lld ta%d tb%d", (long long)bm, (long long)bn,
                 ta, tb);
        oc_case k;
        memset(&k, 0, sizeof k);
        k.op = SC_OP_GEMM, k.params = &p, k.n_in = 3, k.n_out = 1;
        k.in[0] = oc_tensor(2, ad, a);
        k.in[1] = oc_tensor(2, bd, b);
        k.in[2] = oc_tensor(2, cd, cv), k.in_const[2] = 1;
        CHECK(oc_run(&k, what) == SEGCAM_OK, "%s: %s", what, segcam_last_error());
        ref_gemm(&p, bm, bn, bk, a, b, cv, bm, bn, y);
        t_close(what, k.out[0].data, y, (size_t)(bm * bn), 1e-4, 1e-5);
        oc_gradcheck(&k, what, 0.05, 1e-3);
        check_accumulates(&k, what);
        oc_free(&k);
        free(a), free(b), free(cv), free(y);
      }
  /* errors */
  {
    float z[64] = {0};
    int64_t ad[2] = {2, 3}, bd[2] = {4, 5}, cd[2] = {3, 5};
    sc_gemm_params p = {1, 1, 0, 0};
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_GEMM, k.params = &p, k.n_in = 2, k.n_out = 1;
    k.in[0] = oc_tensor(2, ad, z);
    k.in[1] = oc_tensor(2, bd, z);
    CHECK(oc_run(&k, "err_gemm_inner") == SEGCAM_E_SHAPE && has_node_name("err_gemm_inner"),
          "gemm inner mismatch: %s", segcam_last_error());
    bd[0] = 3;
    k.n_in = 3;
    k.in[1] = oc_tensor(2, bd, z);
    k.in[2] = oc_tensor(2, cd, z);
    CHECK(oc_run(&k, "err_gemm_c") == SEGCAM_E_SHAPE && has_node_name("err_gemm_c"),
          "gemm C broadcast: %s", segcam_last_error());
    oc_free(&k);
  }
}

/* ---- MatMul --------------------------------------------------------------------------------- */

/* Reference with explicit numpy rules for the shapes used here (rank <= 4). */
static void ref_matmul(const sc_shape *sa, const float *a, const sc_shape *sb, const float *b,
                       const sc_shape *sy, double *y) {
  int64_t m = sa->ndim == 1 ? 1 : sa->d[sa->ndim - 2], kk = sa->d[sa->ndim - 1];
  int64_t n = sb->ndim == 1 ? 1 : sb->d[sb->ndim - 1];
  int nb = sy->ndim - (sa->ndim > 1) - (sb->ndim > 1);
  int64_t nbatch = 1;
  for (int i = 0; i < nb; i++) nbatch *= sy->d[i];
  for (int64_t t = 0; t < nbatch; t++) {
    /* batch multi-index -> offsets in A and B (right-aligned, size-1 axes broadcast) */
    int64_t idx[8], rem = t, ao = 0, bo = 0, sta = m * kk, stb = kk * n;
    for (int i = nb - 1; i >= 0; i--) idx[i] = rem % sy->d[i], rem /= sy->d[i];
    for (int i = nb - 1, ia = sa->ndim - 3, ib = sb->ndim - 3; i >= 0; i--, ia--, ib--) {
      if (ia >= 0) {
        if (sa->d[ia] > 1) ao += idx[i] * sta;
        sta *= sa->d[ia];
      }
      if (ib >= 0) {
        if (sb->d[ib] > 1) bo += idx[i] * stb;
        stb *= sb->d[ib];
      }
    }
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t q = 0; q < kk; q++) acc += (double)a[ao + i * kk + q] * b[bo + q * n + j];
        y[(t * m + i) * n + j] = acc;
      }
  }
}

static void matmul_case(const char *name, int na, const int64_t *ad, int nbd, const int64_t *bd,
                        int b_const, int ny_dims, const int64_t *yd) {
  oc_case k;
  memset(&k, 0, sizeof k);
  sc_shape sa = {na, {0}}, sb = {nbd, {0}};
  for (int i = 0; i < na; i++) sa.d[i] = ad[i];
  for (int i = 0; i < nbd; i++) sb.d[i] = bd[i];
  float *a = frand(sc_shape_numel(&sa), 20), *b = frand(sc_shape_numel(&sb), 21);
  k.op = SC_OP_MATMUL, k.n_in = 2, k.n_out = 1;
  k.in[0] = oc_tensor(na, ad, a);
  k.in[1] = oc_tensor(nbd, bd, b);
  k.in_const[1] = b_const;
  segcam_status s = oc_run(&k, name);
  CHECK(s == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  if (s == SEGCAM_OK) {
    const sc_shape *ys = &k.out[0].shape;
    int same = ys->ndim == ny_dims;
    for (int i = 0; same && i < ny_dims; i++) same = ys->d[i] == yd[i];
    CHECK(same, "%s: output shape", name);
    if (same) {
      int64_t ny = sc_shape_numel(ys);
      double *y = malloc((size_t)ny * sizeof *y);
      ref_matmul(&sa, a, &sb, b, ys, y);
      t_close(name, k.out[0].data, y, (size_t)ny, 1e-5, 1e-5);
      free(y);
      oc_gradcheck(&k, name, 0.05, 1e-3);
      check_accumulates(&k, name);
    }
  }
  oc_free(&k);
  free(a), free(b);
}

static void test_matmul(void) {
  {
    /* [1,2] . [[1,2,3],[4,5,6]] = [9,12,15], shape [3] */
    float a[2] = {1, 2}, b[6] = {1, 2, 3, 4, 5, 6};
    int64_t ad[1] = {2}, bd[2] = {2, 3};
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_MATMUL, k.n_in = 2, k.n_out = 1;
    k.in[0] = oc_tensor(1, ad, a);
    k.in[1] = oc_tensor(2, bd, b), k.in_const[1] = 1;
    CHECK(oc_run(&k, "hand_matmul") == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(k.out[0].shape.ndim == 1 && k.out[0].shape.d[0] == 3, "1-D promotion shape");
    double ref[3] = {9, 12, 15};
    t_close("hand matmul 1-D", k.out[0].data, ref, 3, 0, 0);
    oc_free(&k);
  }
  int64_t a2[2] = {4, 6}, b2[2] = {6, 5}, y2[2] = {4, 5};
  matmul_case("matmul_2d", 2, a2, 2, b2, 0, 2, y2);
  int64_t a1[1] = {6}, y1a[1] = {5};
  matmul_case("matmul_vec_mat", 1, a1, 2, b2, 0, 1, y1a);
  int64_t b1[1] = {6}, y1b[1] = {4};
  matmul_case("matmul_mat_vec", 2, a2, 1, b1, 0, 1, y1b);
  int64_t y0[1] = {0};
  matmul_case("matmul_vec_vec", 1, a1, 1, b1, 0, 0, y0);
  /* Dense on NHWC: batches fold into one sgemm */
  int64_t a4[4] = {1, 3, 4, 6}, y4[4] = {1, 3, 4, 5};
  matmul_case("matmul_dense_fold", 4, a4, 2, b2, 1, 4, y4);
  matmul_case("matmul_dense_fold_act_b", 4, a4, 2, b2, 0, 4, y4);
  /* attention-like: both batched activations, and broadcast on either side */
  int64_t ab[3] = {2, 4, 6}, bb[3] = {2, 6, 5}, yb[3] = {2, 4, 5};
  matmul_case("matmul_batched", 3, ab, 3, bb, 0, 3, yb);
  int64_t abc[4] = {2, 1, 4, 6}, bbc[3] = {3, 6, 5}, ybc[4] = {2, 3, 4, 5};
  matmul_case("matmul_broadcast", 4, abc, 3, bbc, 0, 4, ybc);
  int64_t bbat[3] = {3, 6, 5}, ybat[3] = {3, 4, 5};
  matmul_case("matmul_a_broadcast", 2, a2, 3, bbat, 0, 3, ybat);
  int64_t avb[3] = {3, 4, 6}, y_avb[2] = {3, 4};
  matmul_case("matmul_batched_mat_vec", 3, avb, 1, b1, 0, 2, y_avb);

  /* big enough for sc_sgemm's split: folded batches, and separate batched products */
  int64_t abf[3] = {2, 128, 96}, bbf[2] = {96, 200}, ybf[3] = {2, 128, 200};
  matmul_case("matmul_big_fold", 3, abf, 2, bbf, 0, 3, ybf);
  int64_t abb[3] = {2, 200, 64}, bbb[3] = {2, 64, 180}, ybb[3] = {2, 200, 180};
  matmul_case("matmul_big_batched", 3, abb, 3, bbb, 0, 3, ybb);
  int64_t abs_[4] = {3, 4, 8, 8}, bbs[3] = {4, 8, 5}, ybs[4] = {3, 4, 8, 5};
  matmul_case("matmul_many_small", 4, abs_, 3, bbs, 0, 4, ybs);

  float z[256] = {0};
  struct {
    const char *name;
    int na;
    int64_t ad[4];
    int nb;
    int64_t bd[4];
  } bad[] = {{"err_matmul_inner", 2, {4, 6}, 2, {5, 5}},
             {"err_matmul_batch", 3, {2, 4, 6}, 3, {3, 6, 5}},
             {"err_matmul_vec", 1, {4}, 1, {5}}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    oc_case k;
    memset(&k, 0, sizeof k);
    k.op = SC_OP_MATMUL, k.n_in = 2, k.n_out = 1;
    k.in[0] = oc_tensor(bad[i].na, bad[i].ad, z);
    k.in[1] = oc_tensor(bad[i].nb, bad[i].bd, z);
    segcam_status s = oc_run(&k, bad[i].name);
    CHECK(s == SEGCAM_E_SHAPE && has_node_name(bad[i].name), "%s: %d %s", bad[i].name, (int)s,
          segcam_last_error());
    oc_free(&k);
  }
}

int main(void) {
  test_conv_by_hand();
  /* the GEMM path cuts work differently with one thread (always 'whole' mode), two, and an odd
   * count; every cut must give the same result */
  const int threads[3] = {omp_get_max_threads(), 1, 3};
  for (int t = 0; t < 3; t++) {
    omp_set_num_threads(threads[t]);
    for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++)
      run_conv_case(&conv_cases[i]);
  }
  omp_set_num_threads(threads[0]);
  test_torch_refs();
  test_errors();
  test_gemm();
  test_matmul();
  TEST_MAIN_END();
}
