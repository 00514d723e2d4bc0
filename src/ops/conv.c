/* Conv and ConvTranspose (ONNX semantics, NCHW, 2-D; 1-D arrives with H = R = 1).
 *
 * Both ops are one computation seen from two sides.  A Conv slides windows over its input X and
 * writes its output Y on the window grid; ConvTranspose slides the same windows over its OUTPUT
 * and reads its input on the grid.  So each op resolves one plan (image side, grid side, kernel,
 * strides, pads) at infer and uses two drivers:
 *   win_apply      grid  (+)= A . im2col(image)      (A = the weights of one group)
 *   win_apply_t    image  += col2im(A^T . grid)      (its adjoint)
 * Conv forward = win_apply, Conv backward (dX) = win_apply_t; ConvTranspose swaps them.
 *
 * Paths: 1x1 stride-1 unpadded windows (im2col is the identity: one sgemm per image and group);
 * one image channel per group with several groups (depthwise: direct loops, since a product with
 * one inner dimension would be mostly overhead); otherwise im2col + sgemm in chunks of grid rows,
 * with column buffers in the session scratch (chunk_rows).  The adjoint with stride 1 is itself a
 * window sum with the kernel flipped (flipped()), so it runs like a forward, without col2im.
 * Threads: OpenMP only; OpenBLAS runs one thread per call (im2col.h says why).
 *
 * With constant weights, prepare() hands the convolution to oneDNN instead (conv_dnnl.h: its
 * blocked-layout kernels are 1.5-2.5x faster here), folding a following BatchNormalization into
 * the weights and bias and a following (leaky) ReLU or Clip into the kernel when the session asks;
 * the paths above remain for what oneDNN does not take and for SEGCAM_CONV=blas.
 *
 * Only data gradients are computed: a gradient request for W or B (weights that are not
 * constant) is refused rather than silently dropped.  3-D convolutions are not supported. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv_dnnl.h"
#include "ops/im2col.h"
#include "ops/ops.h"

/* Column-buffer budgets of the GEMM path (chunk_rows). */
#define COL_CHUNK_BYTES ((int64_t)1 << 20)
/* Per-thread chunks narrower than this many grid columns make thin, weight-bound products. */
#define MIN_THREAD_COLS 256
#define WHOLE_CHUNK_BYTES ((int64_t)16 << 20)
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
  int64_t nt;   /* threads the scratch holds column buffers for (PATH_GEMM) */
  int64_t path;
  int64_t flip;           /* stride 1: the adjoint runs as a flipped window sum (see flipped()) */
  int64_t rows_t;         /* grid rows per chunk of that flipped window sum */
  int64_t whole, whole_t; /* chunks one after the other, each product split (chunk_rows) */
} conv_plan;

_Static_assert(sizeof(conv_plan) <= sizeof(((sc_node_state *)0)->i), "conv_plan fits the state");

static void plan_save(sc_opctx *c, const conv_plan *p) {
  memcpy(c->state->i, p, sizeof *p);
}
static void plan_load(const sc_opctx *c, conv_plan *p) {
  memcpy(p, c->state->i, sizeof *p);
}

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
  static const sc_conv_params defaults = {.stride = {1, 1}, .dilation = {1, 1}, .group = 1};
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
      return sc_node_error(c, SEGCAM_E_SHAPE, "invalid pads [%d,%d,%d,%d]", p->pads[0], p->pads[1],
                           p->pads[2], p->pads[3]);
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

/* How the GEMM path cuts the grid into chunks of rows.  Large grids: each thread takes whole
 * chunks, with its own column buffer of about COL_CHUNK_BYTES (in its core's L2 when sgemm reads
 * it); at least 2*nt chunks per image, so that both phases of win_apply_t keep every thread busy;
 * and chunks at least as tall as the kernel's reach (rows*sh >= keff-1), so that chunks two apart
 * never touch one image row.  Small grids (deep layers: few columns, large weight matrices) would
 * give each thread a thin sgemm that rereads all the weights; there the chunks (up to
 * WHOLE_CHUNK_BYTES, usually the whole grid) are taken one after the other and each product is
 * split across threads by sc_sgemm ('whole' mode).  Returns the scratch bytes, or -1 if absurd. */
static int64_t chunk_rows(const sc_win2d *g, int64_t nt, int64_t *rows_out, int64_t *whole) {
  int64_t row_bytes = mul_capped(mul_capped(mul_capped(mul_capped(g->ic, g->r), g->s), g->gw), 4);
  if (row_bytes < 1) return -1;
  int64_t rows, keff = (g->r - 1) * g->dh + 1;
  *whole = nt == 1 || g->gh * g->gw < MIN_THREAD_COLS * 2 * nt;
  if (*whole) {
    rows = WHOLE_CHUNK_BYTES / row_bytes;
    rows = rows < 1 ? 1 : rows > g->gh ? g->gh : rows;
    *rows_out = rows;
    return mul_capped(rows, row_bytes);
  }
  rows = COL_CHUNK_BYTES / row_bytes;
  if (rows < 1) rows = 1;
  int64_t nck = (g->gh + rows - 1) / rows;
  nck = (nck + 2 * nt - 1) / (2 * nt) * (2 * nt);
  rows = (g->gh + nck - 1) / nck;
  if (rows * g->sh < keff - 1) rows = (keff - 1 + g->sh - 1) / g->sh;
  if (rows > g->gh) rows = g->gh;
  *rows_out = rows;
  return mul_capped(mul_capped(rows, row_bytes), nt);
}

/* Stride 1: the adjoint of the window sum is itself a window sum over the grid side with the
 * kernel flipped and the channel roles swapped (a 'full' correlation):
 *   image[c, h, w] += sum_{j,r,s} A[j, c, R-1-r, S-1-s] grid[j, h - pt' + r*dh, w - pl' + s*dw]
 * with pt' = (R-1)*dh - pt.  It runs as im2col + sgemm with an inner dimension of M*R*S instead
 * of M, and needs no col2im. */
static sc_win2d flipped(const conv_plan *p) {
  const sc_win2d *g = &p->win;
  sc_win2d f = {.ic = p->m,
                .ih = g->gh,
                .iw = g->gw,
                .gh = g->ih,
                .gw = g->iw,
                .r = g->r,
                .s = g->s,
                .sh = 1,
                .sw = 1,
                .dh = g->dh,
                .dw = g->dw,
                .pt = (g->r - 1) * g->dh - g->pt,
                .pl = (g->s - 1) * g->dw - g->pl};
  return f;
}

/* Bytes of the flipped weights at the start of the scratch (64-byte multiple). */
static int64_t flip_weight_bytes(const conv_plan *p) {
  return (p->groups * p->m * p->win.ic * p->win.r * p->win.s * 4 + 63) / 64 * 64;
}

/* Picks the paths and the chunking; sets the output shape and the scratch size. */
static segcam_status finish_plan(sc_opctx *c, conv_plan *p, int64_t oc, int64_t oh, int64_t ow) {
  const sc_win2d *g = &p->win;
  int64_t numel = mul_capped(mul_capped(mul_capped(p->n, oc), oh), ow);
  int64_t crs = mul_capped(mul_capped(g->ic, g->r), g->s);
  int64_t crs_t = mul_capped(mul_capped(p->m, g->r), g->s);
  if (numel < 0 || crs < 0 || crs_t < 0)
    return sc_node_error(c, SEGCAM_E_NOMEM, "absurd output or im2col size");
  /* BLAS dimensions are int */
  if (crs > INT_MAX || crs_t > INT_MAX || g->gh * g->gw > INT_MAX || g->ih * g->iw > INT_MAX ||
      p->m > INT_MAX || g->ic > INT_MAX)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "convolution too large for 32-bit BLAS");
  c->scratch_size = 0;
  p->rows = p->rows_t = p->flip = p->whole = p->whole_t = 0;
  p->nt = omp_get_max_threads();
  p->nt = p->nt < 1 ? 1 : p->nt > 64 ? 64 : p->nt;
  if (g->r == 1 && g->s == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 &&
      g->gh == g->ih && g->gw == g->iw) {
    p->path = PATH_1X1;
  } else if (g->ic == 1 && p->groups > 1) {
    p->path = PATH_DIRECT;
  } else {
    p->path = PATH_GEMM;
    int64_t bytes = chunk_rows(g, p->nt, &p->rows, &p->whole);
    if (g->sh == 1 && g->sw == 1) {
      p->flip = 1;
      sc_win2d f = flipped(p);
      int64_t bt = chunk_rows(&f, p->nt, &p->rows_t, &p->whole_t);
      bt = bt < 0 ? -1 : mul_capped(1, bt + flip_weight_bytes(p));
      bytes = bytes < 0 || bt < 0 ? -1 : bytes > bt ? bytes : bt;
    }
    if (bytes < 0) return sc_node_error(c, SEGCAM_E_NOMEM, "absurd im2col buffer size");
    c->scratch_size = (size_t)bytes;
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
static segcam_status conv_dim(sc_opctx *c, const conv_attrs *a, int ax, int64_t in, int64_t *out,
                              int64_t *pad_begin) {
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
    return sc_node_error(
        c, SEGCAM_E_SHAPE,
        "kernel extent %lld (kernel %lld, dilation %lld) is larger than the padded "
        "input %lld along %s",
        (long long)keff, (long long)k, (long long)a->dil[ax], (long long)(in + pb + pe),
        ax ? "W" : "H");
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
  p.win = (sc_win2d){.ic = ch / a.group,
                     .ih = x->shape.d[2],
                     .iw = x->shape.d[3],
                     .gh = oh,
                     .gw = ow,
                     .r = a.r,
                     .s = a.s,
                     .sh = a.stride[0],
                     .sw = a.stride[1],
                     .dh = a.dil[0],
                     .dw = a.dil[1],
                     .pt = pt,
                     .pl = pl};
  return finish_plan(c, &p, k, oh, ow);
}

/* ConvTranspose output size and leading pad along one axis (ONNX ConvTranspose-11 formulas,
 * FORMATS_AND_NUMERICS.md 5.2).  With output_shape or SAME_*, total = full - out may be negative
 * (an output larger than the full result); C division then truncates toward zero, which for
 * SAME_UPPER keeps pad_begin = 0 as TF's Conv2DBackpropInput does (its forward padding is
 * clamped at 0, 4.2). */
static segcam_status convt_dim(sc_opctx *c, const conv_attrs *a, int ax, int64_t in, int64_t *out,
                               int64_t *pad_begin) {
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
  p.win = (sc_win2d){.ic = kg,
                     .ih = oh,
                     .iw = ow,
                     .gh = x->shape.d[2],
                     .gw = x->shape.d[3],
                     .r = a.r,
                     .s = a.s,
                     .sh = a.stride[0],
                     .sw = a.stride[1],
                     .dh = a.dil[0],
                     .dw = a.dil[1],
                     .pt = pt,
                     .pl = pl};
  return finish_plan(c, &p, p.k, oh, ow);
}

/* ---- drivers -------------------------------------------------------------------------------- */

/* y[n,k,:] = b[k] (or 0), for the paths that accumulate into their output. */
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

/* im2col / col2im of a whole chunk with the image channels spread over the threads (one image
 * channel's columns are a contiguous block of R*S rows; col2im of channel c writes plane c only).
 */
static void im2col_par(const sc_win2d *g, const float *img, int64_t p0, int64_t p1, float *col) {
  const int64_t len = (p1 - p0) * g->gw;
  sc_win2d g1 = *g;
  g1.ic = 1;
#pragma omp parallel for schedule(static) if (g->ic * g->r * g->s * len >= 32768)
  for (int64_t c = 0; c < g->ic; c++)
    sc_im2col(&g1, img + c * g->ih * g->iw, p0, p1, col + c * g->r * g->s * len);
}

static void col2im_par(const sc_win2d *g, const float *col, int64_t p0, int64_t p1, float *img) {
  const int64_t len = (p1 - p0) * g->gw;
  sc_win2d g1 = *g;
  g1.ic = 1;
#pragma omp parallel for schedule(static) if (g->ic * g->r * g->s * len >= 32768)
  for (int64_t c = 0; c < g->ic; c++)
    sc_col2im_add(&g1, col + c * g->r * g->s * len, p0, p1, img + c * g->ih * g->iw);
}

/* Direct loops for one image channel per group (depthwise): grid plane (n, g, j) +=
 * sum_{r,s} A[g*M + j, r, s] * shifted image rows.  Threads own grid planes. */
static void direct_apply(const conv_plan *p, const float *a, const float *image, float *grid) {
  const sc_win2d *g = &p->win;
  const int64_t planes = p->n * p->groups * p->m, gsz = g->gh * g->gw;
#pragma omp parallel for schedule(static)
  for (int64_t pi = 0; pi < planes; pi++) {
    const float *x = image + pi / p->m * g->ih * g->iw;          /* [IH, IW] */
    const float *wk = a + pi % (p->groups * p->m) * g->r * g->s; /* [R, S] */
    float *y = grid + pi * gsz;                                  /* [GH, GW] */
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
}

/* The adjoint of direct_apply: image plane (n, g) += the M grid planes scattered back along
 * their taps.  Threads own image planes, so overlapping windows do not race. */
static void direct_apply_t(const conv_plan *p, const float *a, const float *grid, float *image) {
  const sc_win2d *g = &p->win;
  const int64_t planes = p->n * p->groups, gsz = g->gh * g->gw;
#pragma omp parallel for schedule(static)
  for (int64_t pi = 0; pi < planes; pi++) {
    float *x = image + pi * g->ih * g->iw; /* [IH, IW] */
    for (int64_t j = 0; j < p->m; j++) {
      const float *wk = a + (pi % p->groups * p->m + j) * g->r * g->s; /* [R, S] */
      const float *y = grid + (pi * p->m + j) * gsz;                   /* [GH, GW] */
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
}

/* One chunk of win_apply's GEMM path, grid rows [p0, p1) of one image and group:
 * out (+)= A_g . im2col(img).  `split`: spread this chunk over the threads ('whole' mode) instead
 * of running it on the calling thread (sc_sgemm stays serial inside a parallel region). */
static void apply_chunk(const conv_plan *p, const float *ag, const float *img, int64_t p0,
                        int64_t p1, float *col, float *out, int overwrite, const float *bg,
                        int split) {
  const sc_win2d *g = &p->win;
  const int64_t crs = g->ic * g->r * g->s, gsz = g->gh * g->gw, len = (p1 - p0) * g->gw;
  if (split)
    im2col_par(g, img, p0, p1, col); /* col: [IC*R*S, len] */
  else
    sc_im2col(g, img, p0, p1, col);
  if (overwrite && bg)
    for (int64_t j = 0; j < p->m; j++)
      for (int64_t e = 0; e < len; e++) out[j * gsz + e] = bg[j];
  sc_sgemm(0, 0, p->m, len, crs, 1.0f, ag, crs, col, len, overwrite && !bg ? 0.0f : 1.0f, out, gsz);
}

/* One chunk of win_apply_t's GEMM path: img += col2im(A_g^T . grid rows [p0, p1)). */
static void apply_t_chunk(const conv_plan *p, const float *ag, const float *src, int64_t p0,
                          int64_t p1, float *col, float *img, int split) {
  const sc_win2d *g = &p->win;
  const int64_t crs = g->ic * g->r * g->s, gsz = g->gh * g->gw, len = (p1 - p0) * g->gw;
  sc_sgemm(1, 0, crs, len, p->m, 1.0f, ag, crs, src, gsz, 0.0f, col, len);
  if (split)
    col2im_par(g, col, p0, p1, img);
  else
    sc_col2im_add(g, col, p0, p1, img);
}

/* grid[n,g] = bias + A_g . im2col(image[n,g])   (overwrite; bias may be NULL), or
 * grid[n,g] += A_g . im2col(image[n,g])          (!overwrite),
 * for every image n and group g.  a: [G*M, IC*R*S] (the weights), image: [N, G*IC, IH, IW],
 * grid: [N, G*M, GH, GW].  The GEMM path either hands each thread whole chunks of grid rows (its
 * own im2col buffer, in cache when sgemm reads it, and a disjoint block of the grid) or, in
 * 'whole' mode, takes the chunks in turn and splits each across the threads. */
static void win_apply(const conv_plan *p, const float *a, const float *image, float *grid,
                      float *scratch, int overwrite, const float *bias) {
  const sc_win2d *g = &p->win;
  const int64_t crs = g->ic * g->r * g->s, isz = g->ic * g->ih * g->iw, gsz = g->gh * g->gw;
  if (p->path == PATH_DIRECT) {
    if (overwrite) init_output(grid, bias, p->n, p->groups * p->m, gsz);
    direct_apply(p, a, image, grid);
    return;
  }
  if (p->path == PATH_1X1) {
    if (overwrite && bias) init_output(grid, bias, p->n, p->groups * p->m, gsz);
    for (int64_t ng = 0; ng < p->n * p->groups; ng++)
      sc_sgemm(0, 0, p->m, gsz, g->ic, 1.0f, a + ng % p->groups * p->m * crs, crs, image + ng * isz,
               gsz, overwrite && !bias ? 0.0f : 1.0f, grid + ng * p->m * gsz, gsz);
    return;
  }
  const int64_t nck = (g->gh + p->rows - 1) / p->rows, col_floats = crs * p->rows * g->gw;
  sc_blas_serial();
#pragma omp parallel for num_threads((int)p->nt) schedule(dynamic, 1) if (!p->whole)
  for (int64_t i = 0; i < p->n * p->groups * nck; i++) {
    const int64_t ng = i / nck, gi = ng % p->groups, p0 = i % nck * p->rows;
    const int64_t p1 = p0 + p->rows < g->gh ? p0 + p->rows : g->gh;
    float *col = scratch + (p->whole ? 0 : omp_get_thread_num() * col_floats);
    apply_chunk(p, a + gi * p->m * crs, image + ng * isz, p0, p1, col,
                grid + ng * p->m * gsz + p0 * g->gw, overwrite, bias ? bias + gi * p->m : NULL,
                (int)p->whole);
  }
}

/* image[n,g] += col2im(A_g^T . grid[n,g]): the adjoint of win_apply (same shapes).  With stride
 * 1 it runs as win_apply of the flipped kernel (flipped()).  Otherwise chunks of one image
 * overlap at their borders, so with per-thread chunks the even chunks run first, then the odd
 * ones: chunk_rows makes chunks at least as tall as the kernel's reach, so chunks two apart never
 * touch the same image row. */
static void win_apply_t(const conv_plan *p, const float *a, const float *grid, float *image,
                        float *scratch) {
  const sc_win2d *g = &p->win;
  const int64_t crs = g->ic * g->r * g->s, isz = g->ic * g->ih * g->iw, gsz = g->gh * g->gw;
  if (p->path == PATH_DIRECT) {
    direct_apply_t(p, a, grid, image);
    return;
  }
  if (p->path == PATH_1X1) {
    for (int64_t ng = 0; ng < p->n * p->groups; ng++)
      sc_sgemm(1, 0, g->ic, gsz, p->m, 1.0f, a + ng % p->groups * p->m * crs, crs,
               grid + ng * p->m * gsz, gsz, 1.0f, image + ng * isz, gsz);
    return;
  }
  if (p->flip) {
    /* a_f[g*IC + c, (j*R + r)*S + s] = a[g*M + j, (c*R + R-1-r)*S + S-1-s] */
    float *af = scratch, *cols = scratch + flip_weight_bytes(p) / 4;
    const int64_t rs = g->r * g->s;
#pragma omp parallel for schedule(static) if (p->groups * g->ic * crs >= 32768)
    for (int64_t row = 0; row < p->groups * g->ic; row++) {
      const int64_t gi = row / g->ic, ci = row % g->ic;
      for (int64_t j = 0; j < p->m; j++)
        for (int64_t t = 0; t < rs; t++)
          af[row * p->m * rs + j * rs + t] = a[(gi * p->m + j) * crs + ci * rs + (rs - 1 - t)];
    }
    conv_plan f = *p;
    f.m = g->ic;
    f.win = flipped(p);
    f.rows = p->rows_t;
    f.whole = p->whole_t;
    win_apply(&f, af, grid, image, cols, 0, NULL);
    return;
  }
  const int64_t nck = (g->gh + p->rows - 1) / p->rows, col_floats = crs * p->rows * g->gw;
  if (p->whole) {
    for (int64_t i = 0; i < p->n * p->groups * nck; i++) {
      const int64_t ng = i / nck, gi = ng % p->groups, p0 = i % nck * p->rows;
      const int64_t p1 = p0 + p->rows < g->gh ? p0 + p->rows : g->gh;
      apply_t_chunk(p, a + gi * p->m * crs, grid + ng * p->m * gsz + p0 * g->gw, p0, p1, scratch,
                    image + ng * isz, 1);
    }
    return;
  }
  const int64_t half = (nck + 1) / 2;
  sc_blas_serial();
  for (int64_t phase = 0; phase < 2; phase++) {
#pragma omp parallel for num_threads((int)p->nt) schedule(dynamic, 1)
    for (int64_t i = 0; i < p->n * p->groups * half; i++) {
      const int64_t ng = i / half, gi = ng % p->groups, ck = i % half * 2 + phase;
      if (ck >= nck) continue;
      const int64_t p0 = ck * p->rows, p1 = p0 + p->rows < g->gh ? p0 + p->rows : g->gh;
      apply_t_chunk(p, a + gi * p->m * crs, grid + ng * p->m * gsz + p0 * g->gw, p0, p1,
                    scratch + omp_get_thread_num() * col_floats, image + ng * isz, 0);
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

/* ---- oneDNN path (prepare) ------------------------------------------------------------------ */

/* Weights and bias with a BatchNormalization folded in: y = (conv(x) + b - mean) * a + B
 * = conv_{W*a}(x) + (b - mean) * a + B, a = scale / sqrt(var + eps) per output channel.  Output
 * channel o is W's axis 0 for Conv ([K, C/G, R, S]); for ConvTranspose ([C, K/G, R, S]) it is
 * g*K/G + j for W[c, j] with g = c / (C/G). */
static segcam_status fold_bn(sc_opctx *c, const sc_fusion *f, const conv_plan *p, int transpose,
                             float **w_out, float **b_out) {
  const sc_tensor *w = c->in[1];
  const float *w0 = w->data, *b = bias_data(c), *mean = f->bn_mean->data;
  const float *beta = f->bn_bias ? (const float *)f->bn_bias->data : NULL;
  const int64_t k = p->k, nw = sc_shape_numel(&w->shape);
  float *w2 = sc_calloc_n((size_t)nw, sizeof *w2), *b2 = sc_calloc_n((size_t)k, sizeof *b2);
  float *a = sc_calloc_n((size_t)k, sizeof *a);
  if (!w2 || !b2 || !a) {
    free(w2), free(b2), free(a);
    return SEGCAM_E_NOMEM;
  }
  for (int64_t o = 0; o < k; o++) {
    a[o] = sc_bn_factor(f->bn_scale ? f->bn_scale->data : NULL, f->bn_var->data, f->bn_epsilon,
                        o);
    b2[o] = ((b ? b[o] : 0.0f) - mean[o]) * a[o] + (beta ? beta[o] : 0.0f);
  }
  const int64_t rs = w->shape.d[2] * w->shape.d[3], d0 = w->shape.d[0], d1 = w->shape.d[1];
  const int64_t cg = transpose ? d0 / p->groups : 1; /* ConvTranspose: input channels per group */
  for (int64_t i0 = 0; i0 < d0; i0++)
    for (int64_t i1 = 0; i1 < d1; i1++) {
      const int64_t o = transpose ? i0 / cg * d1 + i1 : i0;
      const int64_t base = (i0 * d1 + i1) * rs;
      for (int64_t e = 0; e < rs; e++) w2[base + e] = w0[base + e] * a[o];
    }
  free(a);
  *w_out = w2, *b_out = b2;
  return SEGCAM_OK;
}

static segcam_status prepare(sc_opctx *c, int transpose) {
  conv_plan p;
  plan_load(c, &p);
  c->fused = 0;
  if (!c->in_const[1] || (c->node->n_in > 2 && c->in[2] && !c->in_const[2])) return SEGCAM_OK;
  const sc_win2d *g = &p.win;
  sc_dnnl_conv_geom geom = {.transpose = transpose,
                            .n = p.n,
                            .k = p.k,
                            .groups = p.groups,
                            .r = g->r,
                            .s = g->s,
                            .stride = {g->sh, g->sw},
                            .dil = {g->dh, g->dw},
                            .pad = {g->pt, g->pl}};
  if (!transpose) { /* image = X, grid = Y */
    geom.c = p.groups * g->ic, geom.h = g->ih, geom.w = g->iw, geom.p = g->gh, geom.q = g->gw;
  } else { /* image = Y, grid = X */
    geom.c = p.groups * p.m, geom.h = g->gh, geom.w = g->gw, geom.p = g->ih, geom.q = g->iw;
  }
  const sc_fusion *f = c->fuse;
  float *w2 = NULL, *b2 = NULL;
  if (f && f->bn_var) SC_TRY(fold_bn(c, f, &p, transpose, &w2, &b2));
  if (f) geom.act = f->act, geom.alpha = f->alpha, geom.lo = f->lo, geom.hi = f->hi;
  size_t bytes = 0;
  sc_dnnl_conv *d = sc_dnnl_conv_create(&geom, w2 ? w2 : c->in[1]->data, w2 ? b2 : bias_data(c),
                                        &bytes);
  free(w2);
  free(b2);
  if (!d) return SEGCAM_OK; /* the OpenBLAS path, unfused */
  c->state->priv = d;
  c->state->priv_free = sc_dnnl_conv_free;
  c->scratch_size = bytes;
  c->fused = f != NULL;
  return SEGCAM_OK;
}

static segcam_status conv_prepare(sc_opctx *c) { return prepare(c, 0); }
static segcam_status convt_prepare(sc_opctx *c) { return prepare(c, 1); }

static segcam_status dnnl_forward(sc_opctx *c) {
  if (!sc_dnnl_conv_forward(c->state->priv, c->in[0]->data, c->out[0]->data, c->scratch))
    return sc_node_error(c, SEGCAM_E_NOMEM, "oneDNN could not run this convolution");
  return SEGCAM_OK;
}

static segcam_status dnnl_backward(sc_opctx *c) {
  if (!sc_dnnl_conv_backward(c->state->priv, c->out[0]->data, c->dout[0], c->din[0], c->scratch,
                             c->din_fresh & 1u))
    return sc_node_error(c, SEGCAM_E_NOMEM, "oneDNN could not run this convolution's gradient");
  return SEGCAM_OK;
}

/* ---- Conv ----------------------------------------------------------------------------------- */

static segcam_status conv_forward(sc_opctx *c) {
  if (c->state->priv) return dnnl_forward(c);
  conv_plan p;
  plan_load(c, &p);
  const float *x = c->in[0]->data; /* [N, C, H, W] */
  const float *w = c->in[1]->data; /* [K, C/G, R, S] */
  float *y = c->out[0]->data;      /* [N, K, P, Q] */
  win_apply(&p, w, x, y, c->scratch, 1, bias_data(c));
  return SEGCAM_OK;
}

/* dX = ConvTranspose(dY, W): dX += col2im(W_g^T . dY_g). */
static segcam_status conv_backward(sc_opctx *c) {
  SC_TRY(no_weight_grads(c));
  if (!c->din[0]) return SEGCAM_OK;
  if (c->state->priv) return dnnl_backward(c);
  if (c->din_fresh & 1u)
    memset(c->din[0], 0, sizeof(float) * (size_t)sc_shape_numel(&c->in[0]->shape));
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
    .prepare = conv_prepare,
    .bw_needs = SC_NEEDS_IN(1),
    .flags = SC_OPF_BW_OVERWRITE,
};

/* ---- ConvTranspose -------------------------------------------------------------------------- */

static segcam_status convt_forward(sc_opctx *c) {
  if (c->state->priv) return dnnl_forward(c);
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
  if (c->state->priv) return dnnl_backward(c);
  if (c->din_fresh & 1u)
    memset(c->din[0], 0, sizeof(float) * (size_t)sc_shape_numel(&c->in[0]->shape));
  conv_plan p;
  plan_load(c, &p);
  win_apply(&p, c->in[1]->data, c->dout[0], c->din[0], c->scratch, 0, NULL);
  return SEGCAM_OK;
}

const sc_opdef sc_op_conv_transpose = {
    .name = "conv_transpose",
    .infer = convt_infer,
    .forward = convt_forward,
    .backward = convt_backward,
    .prepare = convt_prepare,
    .bw_needs = SC_NEEDS_IN(1),
    .flags = SC_OPF_BW_OVERWRITE,
};
