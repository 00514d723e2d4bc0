/* Pooling on NCHW: MaxPool and AveragePool (ONNX semantics; with SAME_UPPER padding and
 * count_include_pad = 0 they are also TF's), and GlobalAveragePool / GlobalMaxPool.
 *
 * Windows are resolved once per session in infer (output size, padding) and each window's valid
 * taps are computed on the fly, so padding is never materialised: padded cells never win a max
 * (TF pads with -FLT_MAX, ONNX with -inf) and are counted in an average only with
 * count_include_pad = 1.  The max backward recomputes each window's argmax from the input (hence
 * bw_needs = input 0) instead of storing indices, also when the Indices output is produced.
 * MaxUnpool scatters each value to the position its index names and routes the gradient back from
 * there.
 * Not here: LpPool, 1-D/3-D pools (loaders express a 1-D pool with H = 1). */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "ops/ops.h"

/* Resolved geometry of one pool node for this session (kept in sc_node_state.i). */
typedef struct pool_geom {
  int64_t N, C, H, W, P, Q;
  int64_t kh, kw, sh, sw, dh, dw;
  int64_t ph, pw; /* padding before (top, left) */
  int64_t eh, ew; /* end of the padded input, H + pad_bottom / W + pad_right */
} pool_geom;

static void geom_store(sc_node_state *st, const pool_geom *g) {
  const int64_t v[16] = {g->N,  g->C,  g->H,  g->W,  g->P,  g->Q,  g->kh, g->kw,
                         g->sh, g->sw, g->dh, g->dw, g->ph, g->pw, g->eh, g->ew};
  memcpy(st->i, v, sizeof v);
}

static pool_geom geom_load(const sc_node_state *st) {
  const int64_t *v = st->i;
  pool_geom g = {v[0], v[1], v[2],  v[3],  v[4],  v[5],  v[6],  v[7],
                 v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
  return g;
}

/* Taps r in [*lo, *hi) (r < k) of a window starting at `start` with dilation d whose position
 * start + r*d lies in [a, b).  Empty ranges come back as lo == hi. */
static void tap_range(int64_t start, int64_t d, int64_t k, int64_t a, int64_t b, int64_t *lo,
                      int64_t *hi) {
  int64_t l = start >= a ? 0 : (a - start + d - 1) / d;
  int64_t h = start >= b ? 0 : (b - start - 1) / d + 1;
  if (h > k) h = k;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

/* Largest accepted size, kernel, stride, dilation or pad: keeps every product in int64. */
#define POOL_DIM_MAX ((int64_t)1 << 30)

/* Resolves one spatial axis (`name` is "height"/"width" for messages): output length and the
 * padding before/after.  Output sizes follow ONNX MaxPool/AveragePool: explicit pads give
 * floor((in + pads - k_eff) / s) + 1, or with ceil_mode the ceiling, minus a last window that
 * would start inside the right padding (Operators.md, PyTorch's pooling_output_shape); SAME_*
 * gives ceil(in / s) with the TF split of FORMATS §4.1 (odd pixel at the end for SAME_UPPER);
 * VALID gives ceil((in - k_eff + 1) / s). */
static segcam_status pool_axis(const sc_opctx *c, const char *name, int64_t in, int k, int s, int d,
                               int pb, int pe, sc_autopad ap, int ceil_mode, int need_valid_tap,
                               int64_t *out, int64_t *pad_before, int64_t *pad_end) {
  if (s == 0) s = 1; /* a zeroed attribute means the ONNX default */
  if (d == 0) d = 1;
  if (k < 1 || k > POOL_DIM_MAX)
    return sc_node_error(c, SEGCAM_E_SHAPE, "kernel %s %d is not in [1, 2^30]", name, k);
  if (s < 0 || d < 0 || s > POOL_DIM_MAX || d > POOL_DIM_MAX)
    return sc_node_error(c, SEGCAM_E_SHAPE, "stride %d / dilation %d along %s must be positive", s,
                         d, name);
  if (in < 1 || in > POOL_DIM_MAX)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input %s %lld is not in [1, 2^30]", name,
                         (long long)in);
  int64_t keff = (int64_t)(k - 1) * d + 1, o, b, e;
  switch (ap) {
  case SC_PAD_SAME_UPPER:
  case SC_PAD_SAME_LOWER: {
    o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + keff - in;
    if (total < 0) total = 0;
    b = ap == SC_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    e = total - b;
    break;
  }
  case SC_PAD_VALID:
    if (in < keff)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "kernel extent %lld along %s is larger than the input (%lld) with "
                           "VALID padding",
                           (long long)keff, name, (long long)in);
    o = (in - keff) / s + 1;
    b = e = 0;
    break;
  case SC_PAD_EXPLICIT: {
    if (pb < 0 || pe < 0 || pb > POOL_DIM_MAX || pe > POOL_DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "pads along %s (%d, %d) must be non-negative", name,
                           pb, pe);
    int64_t span = in + pb + pe;
    if (span < keff)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "kernel extent %lld along %s is larger than the padded input %lld",
                           (long long)keff, name, (long long)span);
    b = pb;
    e = pe;
    if (ceil_mode) {
      o = (span - keff + s - 1) / s + 1;
      if ((o - 1) * s >= in + pb) o--; /* that window would start in the right padding */
    } else {
      o = (span - keff) / s + 1;
    }
    break;
  }
  default: return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown auto_pad %d", (int)ap);
  }
  /* A window with no input cell has no max and, without counted padding, no average: ONNX
   * leaves it undefined (ORT returns -FLT_MAX or divides by zero), so reject the node. */
  if (need_valid_tap)
    for (int64_t i = 0; i < o; i++) {
      int64_t lo, hi;
      tap_range(i * s - b, d, k, 0, in, &lo, &hi);
      if (lo == hi)
        return sc_node_error(c, SEGCAM_E_SHAPE,
                             "pooling window %lld along %s lies entirely in the padding "
                             "(pads %lld, %lld, kernel %d, dilation %d)",
                             (long long)i, name, (long long)b, (long long)e, k, d);
    }
  *out = o;
  *pad_before = b;
  *pad_end = e;
  return SEGCAM_OK;
}

static segcam_status pool_infer(sc_opctx *c, int is_max) {
  const sc_pool_params *pp = c->node->params;
  const sc_tensor *x = c->in[0];
  if (!pp) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing pool parameters");
  if (!x || x->dtype != SC_F32 || x->shape.ndim != 4)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input must be a float [N,C,H,W] tensor");
  const int want_idx = is_max && c->node->n_out > 1 && c->out[1];
  pool_geom g;
  g.N = x->shape.d[0];
  g.C = x->shape.d[1];
  g.H = x->shape.d[2];
  g.W = x->shape.d[3];
  if (g.N < 1 || g.C < 1 || g.N > POOL_DIM_MAX || g.C > POOL_DIM_MAX)
    return sc_node_error(c, SEGCAM_E_SHAPE, "bad batch/channel size %lld x %lld", (long long)g.N,
                         (long long)g.C);
  int need_valid_tap = is_max || !pp->count_include_pad;
  int64_t eh, ew;
  SC_TRY(pool_axis(c, "height", g.H, pp->kernel[0], pp->stride[0], pp->dilation[0], pp->pads[0],
                   pp->pads[2], pp->auto_pad, pp->ceil_mode, need_valid_tap, &g.P, &g.ph, &eh));
  SC_TRY(pool_axis(c, "width", g.W, pp->kernel[1], pp->stride[1], pp->dilation[1], pp->pads[1],
                   pp->pads[3], pp->auto_pad, pp->ceil_mode, need_valid_tap, &g.Q, &g.pw, &ew));
  g.kh = pp->kernel[0];
  g.kw = pp->kernel[1];
  g.sh = pp->stride[0] ? pp->stride[0] : 1;
  g.sw = pp->stride[1] ? pp->stride[1] : 1;
  g.dh = pp->dilation[0] ? pp->dilation[0] : 1;
  g.dw = pp->dilation[1] ? pp->dilation[1] : 1;
  g.eh = g.H + eh;
  g.ew = g.W + ew;
  if (g.N * g.C > ((int64_t)1 << 40) / (g.P * g.Q > g.H * g.W ? g.P * g.Q : g.H * g.W))
    return sc_node_error(c, SEGCAM_E_NOMEM, "tensor too large");
  geom_store(c->state, &g);
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = 4;
  y->shape.d[0] = g.N;
  y->shape.d[1] = g.C;
  y->shape.d[2] = g.P;
  y->shape.d[3] = g.Q;
  if (want_idx) {
    if (g.N * g.C * g.H * g.W > ((int64_t)1 << 53))
      return sc_node_error(c, SEGCAM_E_NOMEM, "tensor too large for Indices");
    c->out[1]->dtype = SC_I64;
    c->out[1]->shape = y->shape;
  }
  return SEGCAM_OK;
}

static segcam_status maxpool_infer(sc_opctx *c) {
  return pool_infer(c, 1);
}
static segcam_status avgpool_infer(sc_opctx *c) {
  return pool_infer(c, 0);
}

/* ---- MaxPool --------------------------------------------------------------------------------- */

/* Offset in the [H,W] plane of window (p,q)'s maximum: the FIRST maximum in row-major scan order
 * (strict >), the cell TF's CPU kernel and PyTorch route the gradient to (FORMATS §4.3).
 * pool_infer guarantees at least one valid tap. */
static int64_t window_argmax(const float *x, const pool_geom *g, int64_t p, int64_t q) {
  int64_t h0 = p * g->sh - g->ph, w0 = q * g->sw - g->pw, r0, r1, s0, s1;
  tap_range(h0, g->dh, g->kh, 0, g->H, &r0, &r1);
  tap_range(w0, g->dw, g->kw, 0, g->W, &s0, &s1);
  int64_t best = (h0 + r0 * g->dh) * g->W + w0 + s0 * g->dw;
  float bv = x[best];
  for (int64_t r = r0; r < r1; r++) {
    const float *row = x + (h0 + r * g->dh) * g->W;
    for (int64_t s = s0; s < s1; s++) {
      int64_t w = w0 + s * g->dw;
      if (row[w] > bv) {
        bv = row[w];
        best = (h0 + r * g->dh) * g->W + w;
      }
    }
  }
  return best;
}

/* Output 1 (Indices), when produced: the argmax as an offset in the whole input tensor, in the
 * row-major (storage_order 0) or column-major (1) order of each [H,W] plane (ONNX MaxPool-8+). */
static segcam_status maxpool_forward(sc_opctx *c) {
  const sc_pool_params *pp = c->node->params;
  const pool_geom g = geom_load(c->state);
  const float *X = c->in[0]->data; /* [N,C,H,W] */
  float *Y = c->out[0]->data;      /* [N,C,P,Q] */
  int64_t *I = NULL;               /* [N,C,P,Q] */
  if (c->node->n_out > 1 && c->out[1]) I = c->out[1]->data;
  const int col_major = pp->storage_order != 0;
  int64_t planes = g.N * g.C;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < planes; b++)
    for (int64_t p = 0; p < g.P; p++) {
      const float *x = X + b * g.H * g.W;
      float *y = Y + (b * g.P + p) * g.Q;
      for (int64_t q = 0; q < g.Q; q++) {
        int64_t a = window_argmax(x, &g, p, q);
        y[q] = x[a];
        if (I)
          I[(b * g.P + p) * g.Q + q] = b * g.H * g.W + (col_major ? a % g.W * g.H + a / g.W : a);
      }
    }
  return SEGCAM_OK;
}

/* Each window's gradient goes to its one argmax; overlapping windows accumulate. */
static segcam_status maxpool_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const pool_geom g = geom_load(c->state);
  const float *X = c->in[0]->data; /* [N,C,H,W] */
  const float *dY = c->dout[0];    /* [N,C,P,Q] */
  float *dX = c->din[0];           /* [N,C,H,W] */
  int64_t planes = g.N * g.C;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < planes; b++) {
    const float *x = X + b * g.H * g.W;
    const float *dy = dY + b * g.P * g.Q;
    float *dx = dX + b * g.H * g.W;
    for (int64_t p = 0; p < g.P; p++)
      for (int64_t q = 0; q < g.Q; q++) dx[window_argmax(x, &g, p, q)] += dy[p * g.Q + q];
  }
  return SEGCAM_OK;
}

/* ---- AveragePool ----------------------------------------------------------------------------- */

/* Divisor of window (p,q).  count_include_pad = 0: the input cells only (TF's divisor, ONNX's
 * default).  count_include_pad = 1: input and padding cells, but never the part of a ceil_mode
 * window that hangs past the padded input (ONNX reference and PyTorch avg_pool2d). */
static float window_divisor(const pool_geom *g, int include_pad, int64_t p, int64_t q) {
  int64_t h0 = p * g->sh - g->ph, w0 = q * g->sw - g->pw, r0, r1, s0, s1;
  if (include_pad) {
    tap_range(h0, g->dh, g->kh, -g->ph, g->eh, &r0, &r1);
    tap_range(w0, g->dw, g->kw, -g->pw, g->ew, &s0, &s1);
  } else {
    tap_range(h0, g->dh, g->kh, 0, g->H, &r0, &r1);
    tap_range(w0, g->dw, g->kw, 0, g->W, &s0, &s1);
  }
  return (float)((r1 - r0) * (s1 - s0));
}

static segcam_status avgpool_forward(sc_opctx *c) {
  const sc_pool_params *pp = c->node->params;
  const pool_geom g = geom_load(c->state);
  const float *X = c->in[0]->data; /* [N,C,H,W] */
  float *Y = c->out[0]->data;      /* [N,C,P,Q] */
  int64_t planes = g.N * g.C;
  int include_pad = pp->count_include_pad != 0;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < planes; b++)
    for (int64_t p = 0; p < g.P; p++) {
      const float *x = X + b * g.H * g.W;
      float *y = Y + (b * g.P + p) * g.Q;
      int64_t h0 = p * g.sh - g.ph, r0, r1;
      tap_range(h0, g.dh, g.kh, 0, g.H, &r0, &r1);
      for (int64_t q = 0; q < g.Q; q++) {
        int64_t w0 = q * g.sw - g.pw, s0, s1;
        tap_range(w0, g.dw, g.kw, 0, g.W, &s0, &s1);
        float sum = 0;
        for (int64_t r = r0; r < r1; r++) {
          const float *row = x + (h0 + r * g.dh) * g.W + w0;
          for (int64_t s = s0; s < s1; s++) sum += row[s * g.dw];
        }
        float div = window_divisor(&g, include_pad, p, q);
        y[q] = div > 0 ? sum / div : 0.0f;
      }
    }
  return SEGCAM_OK;
}

/* dX[cell] += dY[window] / divisor for every input cell of every window. */
static segcam_status avgpool_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const sc_pool_params *pp = c->node->params;
  const pool_geom g = geom_load(c->state);
  const float *dY = c->dout[0]; /* [N,C,P,Q] */
  float *dX = c->din[0];        /* [N,C,H,W] */
  int64_t planes = g.N * g.C;
  int include_pad = pp->count_include_pad != 0;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < planes; b++) {
    const float *dy = dY + b * g.P * g.Q;
    float *dx = dX + b * g.H * g.W;
    for (int64_t p = 0; p < g.P; p++) {
      int64_t h0 = p * g.sh - g.ph, r0, r1;
      tap_range(h0, g.dh, g.kh, 0, g.H, &r0, &r1);
      for (int64_t q = 0; q < g.Q; q++) {
        int64_t w0 = q * g.sw - g.pw, s0, s1;
        tap_range(w0, g.dw, g.kw, 0, g.W, &s0, &s1);
        float div = window_divisor(&g, include_pad, p, q);
        if (!(div > 0)) continue;
        float gv = dy[p * g.Q + q] / div;
        for (int64_t r = r0; r < r1; r++) {
          float *row = dx + (h0 + r * g.dh) * g.W + w0;
          for (int64_t s = s0; s < s1; s++) row[s * g.dw] += gv;
        }
      }
    }
  }
  return SEGCAM_OK;
}

/* ---- MaxUnpool ------------------------------------------------------------------------------- */

/* MaxUnpool (ONNX 9/11): X [N,C,P,Q] float, I [N,C,P,Q] int64, optional output_shape (int64, 4
 * values, constant or folded).  Y is zero except Y.flat[I[e]] = X[e].  Output size: output_shape,
 * or (P - 1) * stride + kernel - pads along each axis.  Every index must point into its element's
 * own (n, c) plane of Y, as MaxPool's do, so that planes are independent; others are refused at
 * run time.  Where indices repeat (overlapping pool windows) the last element in scan order wins,
 * as in onnxruntime's loop and PyTorch's CPU kernel, and the VJP sends dY at that cell to that
 * element only: the exact derivative of this forward (PyTorch's autograd instead gathers dY for
 * every element, which differs only on repeats).
 * state: i[0] N*C planes, i[1] P*Q, i[2] H*W (an output plane), i[3] threads of the scratch. */
static segcam_status maxunpool_infer(sc_opctx *c) {
  const sc_pool_params *pp = c->node->params;
  if (!pp) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing MaxUnpool parameters");
  if (c->node->n_in < 2 || !c->in[0] || !c->in[1] || c->node->n_out < 1 || !c->out[0])
    return sc_node_error(c, SEGCAM_E_FORMAT, "needs inputs X and I and one output");
  const sc_tensor *x = c->in[0], *ix = c->in[1];
  char b1[160], b2[160];
  SC_TRY(sc_check_tensor(c, x, "input X", SC_DT_F32));
  SC_TRY(sc_check_tensor(c, ix, "input I", SC_DT_I64));
  if (x->shape.ndim != 4)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input X must be [N,C,H,W], got %s",
                         sc_shape_str(&x->shape, b1, sizeof b1));
  if (!sc_shape_equal(&x->shape, &ix->shape))
    return sc_node_error(c, SEGCAM_E_SHAPE, "indices %s do not have the shape of X %s",
                         sc_shape_str(&ix->shape, b1, sizeof b1),
                         sc_shape_str(&x->shape, b2, sizeof b2));
  const int64_t N = x->shape.d[0], C = x->shape.d[1];
  int64_t out[4] = {N, C, 0, 0};
  for (int a = 0; a < 2; a++) {
    int64_t in = x->shape.d[2 + a], k = pp->kernel[a], s = pp->stride[a] ? pp->stride[a] : 1;
    int64_t pb = pp->pads[a], pe = pp->pads[a + 2];
    if (k < 1 || k > POOL_DIM_MAX || s < 1 || s > POOL_DIM_MAX || pb < 0 || pe < 0 ||
        pb > POOL_DIM_MAX || pe > POOL_DIM_MAX || in < 1 || in > POOL_DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "bad %s geometry: input %" PRId64 ", kernel %" PRId64 ", stride %" PRId64
                           ", pads %" PRId64 ", %" PRId64,
                           a ? "width" : "height", in, k, s, pb, pe);
    out[2 + a] = (in - 1) * s + k - pb - pe;
  }
  if (c->node->n_in > 2 && c->in[2]) {
    const sc_tensor *os = c->in[2];
    if (!os->data)
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                           "output_shape (input 2) must be a constant or folded before the run");
    if (os->dtype != SC_I64 || os->shape.ndim != 1 || os->shape.d[0] != 4)
      return sc_node_error(c, SEGCAM_E_SHAPE, "output_shape must be 4 int64 values, got %s",
                           sc_shape_str(&os->shape, b1, sizeof b1));
    const int64_t *v = os->data;
    if (v[0] != N || v[1] != C)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "output_shape [%" PRId64 ",%" PRId64 ",...] does not keep N, C of X %s",
                           v[0], v[1], sc_shape_str(&x->shape, b1, sizeof b1));
    out[2] = v[2];
    out[3] = v[3];
  }
  if (out[2] < 1 || out[3] < 1 || out[2] > POOL_DIM_MAX || out[3] > POOL_DIM_MAX)
    return sc_node_error(c, SEGCAM_E_SHAPE, "output size %" PRId64 " x %" PRId64 " is not valid",
                         out[2], out[3]);
  const int64_t planes = N * C, PQ = x->shape.d[2] * x->shape.d[3], HW = out[2] * out[3];
  if (planes > ((int64_t)1 << 40) / (HW > PQ ? HW : PQ))
    return sc_node_error(c, SEGCAM_E_NOMEM, "tensor too large");
  const int64_t nt = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
  c->state->i[0] = planes;
  c->state->i[1] = PQ;
  c->state->i[2] = HW;
  c->state->i[3] = nt;
  c->scratch_size = (size_t)(nt * HW); /* backward: one byte per output cell per thread */
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = 4;
  for (int i = 0; i < 4; i++) y->shape.d[i] = out[i];
  return SEGCAM_OK;
}

static segcam_status maxunpool_forward(sc_opctx *c) {
  const int64_t planes = c->state->i[0], PQ = c->state->i[1], HW = c->state->i[2];
  const float *X = c->in[0]->data;   /* [planes, PQ] */
  const int64_t *I = c->in[1]->data; /* [planes, PQ] */
  float *Y = c->out[0]->data;        /* [planes, HW] */
  int64_t bad = -1;                  /* first element whose index leaves its plane */
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < planes; b++) {
    const float *x = X + b * PQ;
    const int64_t *ib = I + b * PQ;
    float *y = Y + b * HW;
    memset(y, 0, (size_t)HW * sizeof *y);
    for (int64_t e = 0; e < PQ; e++) {
      const int64_t l = ib[e] - b * HW;
      if (l < 0 || l >= HW) {
#pragma omp critical(maxunpool_bad)
        if (bad < 0 || b * PQ + e < bad) bad = b * PQ + e;
        break;
      }
      y[l] = x[e];
    }
  }
  if (bad >= 0) {
    const int64_t b = bad / PQ;
    return sc_node_error(c, SEGCAM_E_ARG,
                         "index %" PRId64 " of element %" PRId64
                         " is outside its channel plane [%" PRId64 ", %" PRId64
                         ") of the output (indices must come from a MaxPool over the same N, C)",
                         I[bad], bad, b * HW, (b + 1) * HW);
  }
  return SEGCAM_OK;
}

/* dX[e] += dY[I[e]] for the element e that the forward wrote last to that cell: a reverse scan of
 * each plane takes the first element that reaches a cell and marks the cell in a per-thread byte
 * map (cleared again by a second pass over the same indices). */
static segcam_status maxunpool_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const int64_t planes = c->state->i[0], PQ = c->state->i[1], HW = c->state->i[2];
  const int nt = (int)c->state->i[3];
  const int64_t *I = c->in[1]->data; /* [planes, PQ] */
  const float *dY = c->dout[0];      /* [planes, HW] */
  float *dX = c->din[0];             /* [planes, PQ] */
  unsigned char *seen = c->scratch;
  memset(seen, 0, (size_t)(nt * HW));
#pragma omp parallel num_threads(nt)
  {
    unsigned char *mark = seen + (int64_t)omp_get_thread_num() * HW;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < planes; b++) {
      const int64_t *ib = I + b * PQ;
      const float *dy = dY + b * HW;
      float *dx = dX + b * PQ;
      for (int64_t e = PQ - 1; e >= 0; e--) {
        const int64_t l = ib[e] - b * HW;
        if (l < 0 || l >= HW || mark[l]) continue;
        mark[l] = 1;
        dx[e] += dy[l];
      }
      for (int64_t e = 0; e < PQ; e++) {
        const int64_t l = ib[e] - b * HW;
        if (l >= 0 && l < HW) mark[l] = 0;
      }
    }
  }
  return SEGCAM_OK;
}

/* ---- GlobalAveragePool / GlobalMaxPool ------------------------------------------------------- */

/* [N,C,D1..Dk] -> [N,C,1..1] (keepdims) or [N,C]; state: i[0] = N*C planes, i[1] = spatial size. */
static segcam_status globalpool_infer(sc_opctx *c) {
  const sc_globalpool_params *pp = c->node->params;
  const sc_tensor *x = c->in[0];
  if (!pp) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing global pool parameters");
  if (!x || x->dtype != SC_F32 || x->shape.ndim < 3)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input must be a float [N,C,spatial...] tensor");
  int64_t planes = 1, S = 1;
  for (int i = 0; i < x->shape.ndim; i++) {
    int64_t d = x->shape.d[i];
    if (d < 1 || d > POOL_DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input dimension %d is %lld", i, (long long)d);
    if (i < 2)
      planes *= d;
    else
      S *= d;
    if (planes > POOL_DIM_MAX || S > ((int64_t)1 << 40) / planes)
      return sc_node_error(c, SEGCAM_E_NOMEM, "tensor too large");
  }
  c->state->i[0] = planes;
  c->state->i[1] = S;
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = pp->keepdims ? x->shape.ndim : 2;
  y->shape.d[0] = x->shape.d[0];
  y->shape.d[1] = x->shape.d[1];
  for (int i = 2; i < y->shape.ndim; i++) y->shape.d[i] = 1;
  return SEGCAM_OK;
}

/* First maximum in scan order, as for MaxPool. */
static int64_t plane_argmax(const float *x, int64_t S) {
  int64_t best = 0;
  for (int64_t i = 1; i < S; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

static segcam_status globalpool_forward(sc_opctx *c) {
  const sc_globalpool_params *pp = c->node->params;
  int64_t planes = c->state->i[0], S = c->state->i[1];
  const float *X = c->in[0]->data; /* [planes, S] */
  float *Y = c->out[0]->data;      /* [planes] */
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < planes; b++) {
    const float *x = X + b * S;
    if (pp->is_max) {
      Y[b] = x[plane_argmax(x, S)];
    } else {
      double sum = 0; /* double: large maps would lose digits in a float running sum */
      for (int64_t i = 0; i < S; i++) sum += x[i];
      Y[b] = (float)(sum / (double)S);
    }
  }
  return SEGCAM_OK;
}

static segcam_status globalpool_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const sc_globalpool_params *pp = c->node->params;
  int64_t planes = c->state->i[0], S = c->state->i[1];
  const float *X = c->in[0]->data; /* [planes, S] */
  const float *dY = c->dout[0];    /* [planes] */
  float *dX = c->din[0];           /* [planes, S] */
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < planes; b++) {
    float *dx = dX + b * S;
    if (pp->is_max) {
      dx[plane_argmax(X + b * S, S)] += dY[b];
    } else {
      float gv = (float)((double)dY[b] / (double)S);
      for (int64_t i = 0; i < S; i++) dx[i] += gv;
    }
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_maxpool = {.name = "maxpool",
                                .infer = maxpool_infer,
                                .forward = maxpool_forward,
                                .backward = maxpool_backward,
                                .bw_needs = SC_NEEDS_IN(0)};
const sc_opdef sc_op_avgpool = {.name = "avgpool",
                                .infer = avgpool_infer,
                                .forward = avgpool_forward,
                                .backward = avgpool_backward};
/* The max variant reads the input in backward; the average one does not, but bw_needs is per op. */
const sc_opdef sc_op_maxunpool = {.name = "maxunpool",
                                  .infer = maxunpool_infer,
                                  .forward = maxunpool_forward,
                                  .backward = maxunpool_backward,
                                  .bw_needs = SC_NEEDS_IN(1)};
const sc_opdef sc_op_globalpool = {.name = "globalpool",
                                   .infer = globalpool_infer,
                                   .forward = globalpool_forward,
                                   .backward = globalpool_backward,
                                   .bw_needs = SC_NEEDS_IN(0)};
