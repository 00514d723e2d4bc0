/* Conv and ConvTranspose (ONNX semantics, NCHW, 2-D; 1-D arrives with H = R = 1).
 *
 * Both ops are one computation seen from two sides.  A Conv slides windows over its input X and
 * writes its output Y on the window grid; ConvTranspose slides the same windows over its OUTPUT
 * and reads its input on the grid.  So each op resolves one plan (image side, grid side, kernel,
 * strides, pads) and uses two drivers:
 *   win_apply      grid[m] += sum W_g[m, (c,r,s)] * image(window)   = A . im2col(image)
 *   win_apply_t    image   += col2im(A^T . grid)                     (its adjoint)
 * Conv forward = win_apply, Conv backward (dX) = win_apply_t; ConvTranspose swaps them.
 *
 * Each driver has three paths: 1x1 stride-1 unpadded windows (im2col is the identity, one sgemm
 * per image and group), one image channel per group with several groups (depthwise: direct loops,
 * a GEMM with one inner dimension would be mostly overhead), and im2col/col2im + cblas_sgemm in
 * chunks of grid rows whose column buffer comes from the session scratch (bounded by
 * COL_CHUNK_BYTES).  Only data gradients are computed: a gradient request for W or B (a weight
 * that is not constant) is refused rather than silently dropped.  3-D convolutions are not
 * supported. */
#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "ops/im2col.h"
#include "ops/ops.h"

/* Upper bound of one im2col chunk: large enough that each sgemm has thousands of columns, small
 * enough to stay in the last-level cache between the im2col write and the sgemm read. */
#define COL_CHUNK_BYTES ((int64_t)6 << 20)
/* Bounds that keep every size product below 2^62 (hostile attributes are errors, not UB). */
#define DIM_MAX ((int64_t)1 << 30)
#define ATTR_MAX ((int64_t)1 << 20)
#define ELEMS_MAX ((int64_t)1 << 40)

enum { PATH_GEMM = 0, PATH_1X1, PATH_DIRECT };

/* Resolved per session, stored in c->state (sc_node_state.i). */
typedef struct conv_plan {
  int64_t n, groups;
  int64_t m;    /* rows of one group's weight matrix: K/G (Conv) or C/G (ConvTranspose) */
  int64_t k;    /* output channels = bias length */
  sc_win2d win; /* per group: the image is X (Conv) or Y (ConvTranspose) */
  int64_t rows; /* grid rows per im2col chunk (PATH_GEMM) */
  int64_t path;
} conv_plan;

_Static_assert(sizeof(conv_plan) <= sizeof(((sc_node_state *)0)->i), "conv_plan fits the state");

static void plan_save(sc_opctx *c, const conv_plan *p) { memcpy(c->state->i, p, sizeof *p); }
static void plan_load(const sc_opctx *c, conv_plan *p) { memcpy(p, c->state->i, sizeof *p); }

/* a*b, or -1 when either is negative or the product exceeds ELEMS_MAX. */
static int64_t mul_capped(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || (a && b > ELEMS_MAX / a)) return -1;
  return a * b;
}

/* ---- infer ---------------------------------------------------------------------------------- */

static segcam_status check_4d(sc_opctx *c, const sc_tensor *t, const char *what) {
  char buf[96];
  if (!t) return sc_node_error(c, SEGCAM_E_SHAPE, "missing input %s", what);
  if (t->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "input %s must be float32", what);
  if (t->shape.ndim != 4)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "input %s has shape %s; only 2-D convolutions (4-D tensors) are supported",
                         what, sc_shape_str(&t->shape, buf, sizeof buf));
  for (int i = 0; i < 4; i++)
    if (t->shape.d[i] < 1 || t->shape.d[i] > DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input %s has invalid shape %s", what,
                           sc_shape_str(&t->shape, buf, sizeof buf));
  return SEGCAM_OK;
}

/* Attributes shared by both ops, with ONNX defaults for zeros (unset) and bounds checks. */
typedef struct conv_attrs {
  int64_t group, r, s, stride[2], dil[2], pads[4], opad[2], oshape[2];
  sc_autopad auto_pad;
} conv_attrs;

static segcam_status read_attrs(sc_opctx *c, const sc_tensor *w, conv_attrs *a) {
  static const sc_conv_params defaults = {{0, 0}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 1,
                                          SC_PAD_EXPLICIT, {0, 0}, {0, 0}};
  const sc_conv_params *p = c->node->params ? c->node->params : &defaults;
  a->r = w->shape.d[2];
  a->s = w->shape.d[3];
  if ((p->kernel[0] && p->kernel[0] != a->r) || (p->kernel[1] && p->kernel[1] != a->s))
    return sc_node_error(c, SEGCAM_E_SHAPE, "kernel_shape [%d,%d] does not match W's [%lld,%lld]",
                         p->kernel[0], p->kernel[1], (long long)a->r, (long long)a->s);
  a->group = p->group ? p->group : 1;
  if (a->group < 1) return sc_node_error(c, SEGCAM_E_SHAPE, "invalid group %d", p->group);
  for (int i = 0; i < 2; i++) {
    a->stride[i] = p->stride[i] ? p->stride[i] : 1;
    a->dil[i] = p->dilation[i] ? p->dilation[i] : 1;
    a->opad[i] = p->output_padding[i];
    a->oshape[i] = p->output_shape[i];
    if (a->stride[i] < 1 || a->stride[i] > ATTR_MAX || a->dil[i] < 1 || a->dil[i] > ATTR_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "invalid strides [%d,%d] or dilations [%d,%d]",
                           p->stride[0], p->stride[1], p->dilation[0], p->dilation[1]);
    if (a->opad[i] < 0 || a->opad[i] > ATTR_MAX || a->oshape[i] < 0 || a->oshape[i] > DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "invalid output_padding or output_shape");
  }
  for (int i = 0; i < 4; i++) {
    a->pads[i] = p->pads[i];
    if (a->pads[i] < 0 || a->pads[i] > ATTR_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "invalid pads [%d,%d,%d,%d]", p->pads[0],
                           p->pads[1], p->pads[2], p->pads[3]);
  }
  a->auto_pad = p->auto_pad;
  if (a->auto_pad < SC_PAD_EXPLICIT || a->auto_pad > SC_PAD_VALID)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown auto_pad %d", (int)p->auto_pad);
  return SEGCAM_OK;
}

static segcam_status check_bias(sc_opctx *c, int64_t k) {
  const sc_tensor *b = c->node->n_in > 2 ? c->in[2] : NULL;
  if (!b) return SEGCAM_OK;
  if (b->dtype != SC_F32 || sc_shape_numel(&b->shape) != k)
    return sc_node_error(c, SEGCAM_E_SHAPE, "bias B must be float32 with %lld elements",
                         (long long)k);
  return SEGCAM_OK;
}

/* Picks the path and the chunking; sets the output shape and the scratch size. */
static segcam_status finish_plan(sc_opctx *c, conv_plan *p, int64_t oc, int64_t oh, int64_t ow) {
  const sc_win2d *g = &p->win;
  int64_t numel = mul_capped(mul_capped(mul_capped(p->n, oc), oh), ow);
  int64_t crs = mul_capped(mul_capped(g->ic, g->r), g->s);
  int64_t row_bytes = mul_capped(mul_capped(crs, g->gw), (int64_t)sizeof(float));
  if (numel < 0 || row_bytes < 0)
    return sc_node_error(c, SEGCAM_E_NOMEM, "absurd output or im2col size");
  /* BLAS dimensions are int */
  if (crs > INT_MAX || g->gh * g->gw > INT_MAX || g->ih * g->iw > INT_MAX || p->m > INT_MAX)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "convolution too large for 32-bit BLAS");
  c->scratch_size = 0;
  p->rows = 0;
  if (g->r == 1 && g->s == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
      g->gh == g->ih && g->gw == g->iw) {
    p->path = PATH_1X1;
  } else if (g->ic == 1 && p->groups > 1) {
    p->path = PATH_DIRECT;
  } else {
    p->path = PATH_GEMM;
    p->rows = COL_CHUNK_BYTES / row_bytes;
    if (p->rows < 1) p->rows = 1;
    if (p->rows > g->gh) p->rows = g->gh;
    c->scratch_size = (size_t)(p->rows * row_bytes);
  }
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = 4;
  y->shape.d[0] = p->n;
  y->shape.d[1] = oc;
  y->shape.d[2] = oh;
  y->shape.d[3] = ow;
  plan_save(c, p);
  return SEGCAM_OK;
}

/* Conv output size along one axis (ONNX Conv; 'SAME' as TF, FORMATS_AND_NUMERICS.md 4.1). */
static segcam_status conv_dim(sc_opctx *c, const conv_attrs *a, int ax, int64_t in,
                              int64_t *out, int64_t *pad_begin) {
  int64_t k = ax ? a->s : a->r, st = a->stride[ax], keff = (k - 1) * a->dil[ax] + 1;
  int64_t pb = a->pads[ax], pe = a->pads[ax + 2];
  if (a->auto_pad == SC_PAD_SAME_UPPER || a->auto_pad == SC_PAD_SAME_LOWER) {
    *out = (in + st - 1) / st;
    int64_t total = (*out - 1) * st + keff - in;
    if (total < 0) total = 0;
    /* SAME_UPPER: the odd pixel goes at the end (TF 'SAME'); SAME_LOWER: at the beginning */
    *pad_begin = a->auto_pad == SC_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    return SEGCAM_OK;
  }
  if (a->auto_pad == SC_PAD_VALID) pb = pe = 0;
  if (in + pb + pe < keff)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "kernel extent %lld (kernel %lld, dilation %lld) is larger than the padded "
                         "input %lld along %s",
                         (long long)keff, (long long)k, (long long)a->dil[ax],
                         (long long)(in + pb + pe), ax ? "W" : "H");
  *out = (in + pb + pe - keff) / st + 1;
  *pad_begin = pb;
  return SEGCAM_OK;
}

static segcam_status conv_infer(sc_opctx *c) {
  if (c->node->n_in < 2) return sc_node_error(c, SEGCAM_E_SHAPE, "needs inputs X and W");
  const sc_tensor *x = c->in[0], *w = c->in[1];
  SC_TRY(check_4d(c, x, "X"));
  SC_TRY(check_4d(c, w, "W"));
  conv_attrs a;
  SC_TRY(read_attrs(c, w, &a));
  const int64_t n = x->shape.d[0], ch = x->shape.d[1], k = w->shape.d[0];
  if (ch % a.group || k % a.group)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "group %lld does not divide the input channels %lld and output channels "
                         "%lld",
                         (long long)a.group, (long long)ch, (long long)k);
  if (w->shape.d[1] * a.group != ch)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "channel mismatch: X has %lld channels but W [%lld,%lld,%lld,%lld] with "
                         "group %lld expects %lld",
                         (long long)ch, (long long)w->shape.d[0], (long long)w->shape.d[1],
                         (long long)a.r, (long long)a.s, (long long)a.group,
                         (long long)(w->shape.d[1] * a.group));
  SC_TRY(check_bias(c, k));
  int64_t oh, ow, pt, pl;
  SC_TRY(conv_dim(c, &a, 0, x->shape.d[2], &oh, &pt));
  SC_TRY(conv_dim(c, &a, 1, x->shape.d[3], &ow, &pl));
  conv_plan p = {.n = n, .groups = a.group, .m = k / a.group, .k = k};
  p.win = (sc_win2d){.ic = ch / a.group, .ih = x->shape.d[2], .iw = x->shape.d[3], .gh = oh,
                     .gw = ow, .r = a.r, .s = a.s, .sh = a.stride[0], .sw = a.stride[1],
                     .dh = a.dil[0], .dw = a.dil[1], .pt = pt, .pl = pl};
  return finish_plan(c, &p, k, oh, ow);
}

/* ConvTranspose output size and leading pad along one axis (ONNX ConvTranspose-11 formulas,
 * FORMATS_AND_NUMERICS.md 5.2).  With output_shape or SAME_*, total = full - out may be negative
 * (an output larger than the full result); C division then truncates toward zero, which for
 * SAME_UPPER keeps pad_begin = 0 as TF's Conv2DBackpropInput does (its forward padding is
 * clamped at 0, 4.2). */
static segcam_status convt_dim(sc_opctx *c, const conv_attrs *a, int ax, int64_t in,
                               int64_t *out, int64_t *pad_begin) {
  int64_t k = ax ? a->s : a->r, st = a->stride[ax], d = a->dil[ax], op = a->opad[ax];
  int64_t keff = (k - 1) * d + 1, full = st * (in - 1) + op + keff;
  if (op >= st && op >= d)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "output_padding %lld must be smaller than the stride %lld or the "
                         "dilation %lld",
                         (long long)op, (long long)st, (long long)d);
  int same = a->auto_pad == SC_PAD_SAME_UPPER || a->auto_pad == SC_PAD_SAME_LOWER;
  if (a->oshape[ax] > 0 || same) {
    *out = a->oshape[ax] > 0 ? a->oshape[ax] : in * st;
    int64_t total = full - *out;
    /* the spec's 'Else' branch (SAME_LOWER, or an output_shape without auto_pad) puts the larger
     * half at the beginning */
    *pad_begin = a->auto_pad == SC_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    return SEGCAM_OK;
  }
  int64_t pb = a->pads[ax], pe = a->pads[ax + 2];
  if (a->auto_pad == SC_PAD_VALID) pb = pe = 0;
  *out = full - pb - pe;
  *pad_begin = pb;
  if (*out < 1)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "pads %lld+%lld leave no output along %s (full size %lld)", (long long)pb,
                         (long long)pe, ax ? "W" : "H", (long long)full);
  return SEGCAM_OK;
}

static segcam_status convt_infer(sc_opctx *c) {
  if (c->node->n_in < 2) return sc_node_error(c, SEGCAM_E_SHAPE, "needs inputs X and W");
  const sc_tensor *x = c->in[0], *w = c->in[1];
  SC_TRY(check_4d(c, x, "X"));
  SC_TRY(check_4d(c, w, "W"));
  conv_attrs a;
  SC_TRY(read_attrs(c, w, &a));
  const int64_t n = x->shape.d[0], ch = x->shape.d[1], kg = w->shape.d[1];
  if (ch % a.group)
    return sc_node_error(c, SEGCAM_E_SHAPE, "group %lld does not divide the input channels %lld",
                         (long long)a.group, (long long)ch);
  if (w->shape.d[0] != ch)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "channel mismatch: X has %lld channels but W [%lld,%lld,%lld,%lld] "
                         "expects %lld",
                         (long long)ch, (long long)w->shape.d[0], (long long)kg, (long long)a.r,
                         (long long)a.s, (long long)w->shape.d[0]);
  SC_TRY(check_bias(c, kg * a.group));
  int64_t oh, ow, pt, pl;
  SC_TRY(convt_dim(c, &a, 0, x->shape.d[2], &oh, &pt));
  SC_TRY(convt_dim(c, &a, 1, x->shape.d[3], &ow, &pl));
  conv_plan p = {.n = n, .groups = a.group, .m = ch / a.group, .k = kg * a.group};
  p.win = (sc_win2d){.ic = kg, .ih = oh, .iw = ow, .gh = x->shape.d[2], .gw = x->shape.d[3],
                     .r = a.r, .s = a.s, .sh = a.stride[0], .sw = a.stride[1], .dh = a.dil[0],
                     .dw = a.dil[1], .pt = pt, .pl = pl};
  return finish_plan(c, &p, p.k, oh, ow);
}

/* ---- drivers -------------------------------------------------------------------------------- */

/* grid[n,g] += A_g . im2col(image[n,g]) for every image n and group g.
 * a: [G*M, IC*R*S] (the weights), image: [N, G*IC, IH, IW], grid: [N, G*M, GH, GW]. */
static void win_apply(const conv_plan *p, const float *a, const float *image, float *grid,
                      float *col) {
  const sc_win2d *g = &p->win;
  const int64_t crs = g->ic * g->r * g->s, isz = g->ic * g->ih * g->iw, gsz = g->gh * g->gw;
  if (p->path == PATH_DIRECT) {
    /* one image channel per group: each grid plane is a weighted sum of shifted image rows */
    const int64_t planes = p->n * p->groups * p->m;
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
      const int64_t img_plane = pl / p->m, mrow = pl % (p->groups * p->m);
      const float *x = image + img_plane * g->ih * g->iw; /* [IH, IW] */
      const float *wk = a + mrow * g->r * g->s;            /* [R, S] */
      float *y = grid + pl * gsz;                          /* [GH, GW] */
      for (int64_t prow = 0; prow < g->gh; prow++) {
        float *yrow = y + prow * g->gw;
        for (int64_t r = 0; r < g->r; r++) {
          const int64_t h = prow * g->sh - g->pt + r * g->dh;
          if (h < 0 || h >= g->ih) continue;
          const float *xrow = x + h * g->iw;
          for (int64_t s = 0; s < g->s; s++) {
            const int64_t off = s * g->dw - g->pl;
            const float wv = wk[r * g->s + s];
            int64_t lo, hi;
            sc_win_range(off, g->sw, g->iw, g->gw, &lo, &hi);
            if (g->sw == 1) {
              for (int64_t q = lo; q < hi; q++) yrow[q] += wv * xrow[q + off];
            } else {
              for (int64_t q = lo; q < hi; q++) yrow[q] += wv * xrow[q * g->sw + off];
            }
          }
        }
      }
    }
    return;
  }
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t gi = 0; gi < p->groups; gi++) {
      const float *ag = a + gi * p->m * crs;                      /* [M, IC*R*S] */
      const float *img = image + (n * p->groups + gi) * isz;      /* [IC, IH, IW] */
      float *out = grid + (n * p->groups + gi) * p->m * gsz;      /* [M, GH*GW] */
      if (p->path == PATH_1X1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->m, (int)gsz, (int)g->ic,
                    1.0f, ag, (int)crs, img, (int)gsz, 1.0f, out, (int)gsz);
        continue;
      }
      for (int64_t p0 = 0; p0 < g->gh; p0 += p->rows) {
        const int64_t p1 = p0 + p->rows < g->gh ? p0 + p->rows : g->gh, len = (p1 - p0) * g->gw;
        sc_im2col(g, img, p0, p1, col); /* [IC*R*S, len] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->m, (int)len, (int)crs,
                    1.0f, ag, (int)crs, col, (int)len, 1.0f, out + p0 * g->gw, (int)gsz);
      }
    }
}

/* image[n,g] += col2im(A_g^T . grid[n,g]): the adjoint of win_apply (same shapes). */
static void win_apply_t(const conv_plan *p, const float *a, const float *grid, float *image,
                        float *col) {
  const sc_win2d *g = &p->win;
  const int64_t crs = g->ic * g->r * g->s, isz = g->ic * g->ih * g->iw, gsz = g->gh * g->gw;
  if (p->path == PATH_DIRECT) {
    /* each thread owns image planes, so the scatter of overlapping windows has no races */
    const int64_t planes = p->n * p->groups;
#pragma omp parallel for schedule(static)
    for (int64_t pl = 0; pl < planes; pl++) {
      float *x = image + pl * g->ih * g->iw; /* [IH, IW] */
      for (int64_t j = 0; j < p->m; j++) {
        const int64_t mrow = pl % p->groups * p->m + j;
        const float *wk = a + mrow * g->r * g->s;        /* [R, S] */
        const float *y = grid + (pl * p->m + j) * gsz;   /* [GH, GW] */
        for (int64_t prow = 0; prow < g->gh; prow++) {
          const float *yrow = y + prow * g->gw;
          for (int64_t r = 0; r < g->r; r++) {
            const int64_t h = prow * g->sh - g->pt + r * g->dh;
            if (h < 0 || h >= g->ih) continue;
            float *xrow = x + h * g->iw;
            for (int64_t s = 0; s < g->s; s++) {
              const int64_t off = s * g->dw - g->pl;
              const float wv = wk[r * g->s + s];
              int64_t lo, hi;
              sc_win_range(off, g->sw, g->iw, g->gw, &lo, &hi);
              if (g->sw == 1) {
                for (int64_t q = lo; q < hi; q++) xrow[q + off] += wv * yrow[q];
              } else {
                for (int64_t q = lo; q < hi; q++) xrow[q * g->sw + off] += wv * yrow[q];
              }
            }
          }
        }
      }
    }
    return;
  }
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t gi = 0; gi < p->groups; gi++) {
      const float *ag = a + gi * p->m * crs;                       /* [M, IC*R*S] */
      const float *src = grid + (n * p->groups + gi) * p->m * gsz; /* [M, GH*GW] */
      float *img = image + (n * p->groups + gi) * isz;             /* [IC, IH, IW] */
      if (p->path == PATH_1X1) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)g->ic, (int)gsz, (int)p->m,
                    1.0f, ag, (int)crs, src, (int)gsz, 1.0f, img, (int)gsz);
        continue;
      }
      for (int64_t p0 = 0; p0 < g->gh; p0 += p->rows) {
        const int64_t p1 = p0 + p->rows < g->gh ? p0 + p->rows : g->gh, len = (p1 - p0) * g->gw;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)crs, (int)len, (int)p->m, 1.0f,
                    ag, (int)crs, src + p0 * g->gw, (int)gsz, 0.0f, col, (int)len);
        sc_col2im_add(g, col, p0, p1, img);
      }
    }
}

/* y[n,k,:] = b[k] (or 0): the outputs are accumulated into. */
static void init_output(float *y, const float *b, int64_t n, int64_t k, int64_t plane) {
#pragma omp parallel for schedule(static) if (n * k * plane >= 32768)
  for (int64_t i = 0; i < n * k; i++) {
    float *dst = y + i * plane;
    if (!b) {
      memset(dst, 0, (size_t)plane * sizeof *dst);
    } else {
      const float v = b[i % k];
      for (int64_t e = 0; e < plane; e++) dst[e] = v;
    }
  }
}

static segcam_status no_weight_grads(sc_opctx *c) {
  if (c->din[1] || (c->node->n_in > 2 && c->din[2]))
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "a gradient with respect to non-constant weights or bias was requested; "
                         "only data gradients are supported");
  return SEGCAM_OK;
}

static const float *bias_data(const sc_opctx *c) {
  return c->node->n_in > 2 && c->in[2] ? (const float *)c->in[2]->data : NULL;
}

/* ---- Conv ----------------------------------------------------------------------------------- */

static segcam_status conv_forward(sc_opctx *c) {
  conv_plan p;
  plan_load(c, &p);
  const float *x = c->in[0]->data; /* [N, C, H, W] */
  const float *w = c->in[1]->data; /* [K, C/G, R, S] */
  float *y = c->out[0]->data;      /* [N, K, P, Q] */
  init_output(y, bias_data(c), p.n, p.k, p.win.gh * p.win.gw);
  win_apply(&p, w, x, y, c->scratch);
  return SEGCAM_OK;
}

/* dX = ConvTranspose(dY, W): dX += col2im(W_g^T . dY_g). */
static segcam_status conv_backward(sc_opctx *c) {
  SC_TRY(no_weight_grads(c));
  if (!c->din[0]) return SEGCAM_OK;
  conv_plan p;
  plan_load(c, &p);
  win_apply_t(&p, c->in[1]->data, c->dout[0], c->din[0], c->scratch);
  return SEGCAM_OK;
}

const sc_opdef sc_op_conv = {
    .name = "conv",
    .infer = conv_infer,
    .forward = conv_forward,
    .backward = conv_backward,
    .bw_needs = SC_NEEDS_IN(1),
};

/* ---- ConvTranspose -------------------------------------------------------------------------- */

static segcam_status convt_forward(sc_opctx *c) {
  conv_plan p;
  plan_load(c, &p);
  const float *x = c->in[0]->data; /* [N, C, H, W] */
  const float *w = c->in[1]->data; /* [C, K/G, R, S] */
  float *y = c->out[0]->data;      /* [N, K, P, Q] */
  init_output(y, bias_data(c), p.n, p.k, p.win.ih * p.win.iw);
  win_apply_t(&p, w, x, y, c->scratch);
  return SEGCAM_OK;
}

/* dX = Conv(dY, W) with the same geometry: dX_g += W_g . im2col(dY_g). */
static segcam_status convt_backward(sc_opctx *c) {
  SC_TRY(no_weight_grads(c));
  if (!c->din[0]) return SEGCAM_OK;
  conv_plan p;
  plan_load(c, &p);
  win_apply(&p, c->in[1]->data, c->dout[0], c->din[0], c->scratch);
  return SEGCAM_OK;
}

const sc_opdef sc_op_conv_transpose = {
    .name = "conv_transpose",
    .infer = convt_infer,
    .forward = convt_forward,
    .backward = convt_backward,
    .bw_needs = SC_NEEDS_IN(1),
};
