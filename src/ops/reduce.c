/* ReduceMean / ReduceMax / ReduceMin / ReduceSum (ONNX) over any set of axes, forward and
 * backward.  Axes come from the parameters (attribute, ONNX opset < 18 for Mean/Max/Min, < 13
 * for Sum) or from constant input 1 (later opsets); negative axes count from the end; empty axes
 * reduce every axis unless noop_with_empty_axes, which makes the op the identity.
 * [Operators.md ReduceMean-18, ReduceSum-13]
 *
 * Each output element is one "kept" index; its reduced elements are visited in row-major order,
 * so Max/Min's backward sends the gradient to the FIRST extreme element in that order (the
 * subgradient PyTorch's amax does not pick: it splits ties; a tie is rare on real activations).
 * An empty reduction gives the ONNX identity: sum 0, max -inf, min +inf, mean NaN (0/0).
 * Float32; sum/max/min also take int64 (folded shape arithmetic).  Not differentiable for int64.
 * Sums are accumulated in double. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

enum { ST_RANK = 0, ST_MASK = 1, ST_NOOP = 2, ST_COUNT = 3, ST_NOUT = 4, ST_DIMS = 8 };

static segcam_status reduce_infer(sc_opctx *c) {
  const sc_reduce_params *p = c->node->params;
  char buf[160];
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing reduce parameters");
  if (p->kind < SC_REDUCE_MEAN || p->kind > SC_REDUCE_SUM)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "unknown reduction kind %d", p->kind);
  if (c->node->n_in < 1 || !c->in[0] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs one input and one output");
  const sc_tensor *x = c->in[0];
  SC_TRY(sc_check_tensor(c, x, "input", p->kind == SC_REDUCE_MEAN ? SC_DT_F32
                                                                  : SC_DT_F32 | SC_DT_I64));
  const int r = x->shape.ndim;
  /* axes: input 1 (opset 18 / Sum 13) if given, else the parameters */
  int n_axes = p->n_axes;
  const int64_t *src = p->axes;
  if (n_axes < 0 || n_axes > SEGCAM_MAX_DIMS)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "bad axes count %d", n_axes);
  if (c->node->n_in > 1 && c->in[1]) {
    const sc_tensor *a = c->in[1];
    if (!c->in_const[1] || !a->data)
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                           "input 'axes' must be a constant (or computable before the run)");
    if (a->dtype != SC_I64 || a->shape.ndim > 1)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input 'axes' must be a 1-D int64 tensor");
    int64_t n = sc_shape_numel(&a->shape);
    if (n > r || n > SEGCAM_MAX_DIMS)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input 'axes' has %" PRId64 " entries for input %s",
                           n, sc_shape_str(&x->shape, buf, sizeof buf));
    n_axes = (int)n;
    src = a->data;
  }
  unsigned mask = 0;
  for (int i = 0; i < n_axes; i++) {
    int64_t ax = src[i];
    if (ax < -r || ax >= r)
      return sc_node_error(c, SEGCAM_E_SHAPE, "axis %" PRId64 " is out of range for input %s", ax,
                           sc_shape_str(&x->shape, buf, sizeof buf));
    if (ax < 0) ax += r;
    if (mask >> ax & 1)
      return sc_node_error(c, SEGCAM_E_SHAPE, "axis %" PRId64 " is repeated", src[i]);
    mask |= 1u << ax;
  }
  int noop = 0;
  if (n_axes == 0) {
    if (p->noop_with_empty_axes)
      noop = 1;
    else
      mask = r ? (1u << r) - 1 : 0;
  }
  int64_t count = 1, nout = 1;
  sc_shape os;
  os.ndim = 0;
  for (int i = 0; i < r; i++) {
    int64_t d = x->shape.d[i];
    c->state->i[ST_DIMS + i] = d;
    if (!noop && (mask >> i & 1)) {
      count *= d;
      if (p->keepdims) os.d[os.ndim++] = 1;
    } else {
      nout *= d;
      os.d[os.ndim++] = d;
    }
  }
  if (noop) mask = 0;
  c->state->i[ST_RANK] = r;
  c->state->i[ST_MASK] = mask;
  c->state->i[ST_NOOP] = noop;
  c->state->i[ST_COUNT] = count;
  c->state->i[ST_NOUT] = nout;
  c->out[0]->dtype = x->dtype;
  c->out[0]->shape = os;
  return SEGCAM_OK;
}

/* Iteration geometry: the kept and reduced axes of the input with their sizes and strides. */
typedef struct geom {
  int nk, nr;
  int64_t kd[SEGCAM_MAX_DIMS], ks[SEGCAM_MAX_DIMS]; /* kept dims / input strides */
  int64_t rd[SEGCAM_MAX_DIMS], rs[SEGCAM_MAX_DIMS]; /* reduced dims / input strides */
} geom;

static void get_geom(const sc_node_state *st, geom *g) {
  const int r = (int)st->i[ST_RANK];
  const unsigned mask = (unsigned)st->i[ST_MASK];
  int64_t stride[SEGCAM_MAX_DIMS], s = 1;
  for (int i = r - 1; i >= 0; i--) stride[i] = s, s *= st->i[ST_DIMS + i];
  g->nk = g->nr = 0;
  for (int i = 0; i < r; i++) {
    if (mask >> i & 1)
      g->rd[g->nr] = st->i[ST_DIMS + i], g->rs[g->nr++] = stride[i];
    else
      g->kd[g->nk] = st->i[ST_DIMS + i], g->ks[g->nk++] = stride[i];
  }
}

/* Input offset of the first element of output index o. */
static int64_t base_of(const geom *g, int64_t o) {
  int64_t b = 0;
  for (int k = g->nk - 1; k >= 0; k--) {
    b += (o % g->kd[k]) * g->ks[k];
    o /= g->kd[k];
  }
  return b;
}

/* Input offset of the e-th reduced element (row-major over the reduced axes) from base 0. */
static int64_t red_off(const geom *g, int64_t e) {
  int64_t b = 0;
  for (int k = g->nr - 1; k >= 0; k--) {
    b += (e % g->rd[k]) * g->rs[k];
    e /= g->rd[k];
  }
  return b;
}

/* Offsets of the reduced elements are the same for every output element: computed per element
 * (a few divisions) rather than stored, since count may be the whole tensor. When the reduced
 * axes are the trailing ones they are contiguous and the offset is just e. */
static int trailing(const geom *g) {
  int64_t s = 1;
  for (int k = g->nr - 1; k >= 0; k--) {
    if (g->rs[k] != s) return 0;
    s *= g->rd[k];
  }
  return 1;
}

#define OFF(e) (contig ? (e) : red_off(&g, (e)))

static segcam_status reduce_forward(sc_opctx *c) {
  const sc_reduce_params *p = c->node->params;
  const sc_node_state *st = c->state;
  const int64_t nout = st->i[ST_NOUT], count = st->i[ST_COUNT];
  geom g;
  get_geom(st, &g);
  const int contig = trailing(&g);
  const int kind = p->kind;
  if (st->i[ST_NOOP]) {
    memcpy(c->out[0]->data, c->in[0]->data,
           (size_t)nout * (c->in[0]->dtype == SC_F32 ? sizeof(float) : sizeof(int64_t)));
    return SEGCAM_OK;
  }
  if (c->in[0]->dtype == SC_I64) { /* folded shape arithmetic: small, serial */
    const int64_t *X = c->in[0]->data;
    int64_t *Y = c->out[0]->data;
    for (int64_t o = 0; o < nout; o++) {
      const int64_t *x = X + base_of(&g, o);
      int64_t acc = kind == SC_REDUCE_SUM ? 0 : kind == SC_REDUCE_MAX ? INT64_MIN : INT64_MAX;
      for (int64_t e = 0; e < count; e++) {
        int64_t v = x[OFF(e)];
        if (kind == SC_REDUCE_SUM) acc += v;
        else if (kind == SC_REDUCE_MAX ? v > acc : v < acc) acc = v;
      }
      Y[o] = acc;
    }
    return SEGCAM_OK;
  }
  const float *X = c->in[0]->data;
  float *Y = c->out[0]->data;
#pragma omp parallel for schedule(static) if (nout * count > 16384 && nout > 1)
  for (int64_t o = 0; o < nout; o++) {
    const float *x = X + base_of(&g, o);
    if (kind == SC_REDUCE_MEAN || kind == SC_REDUCE_SUM) {
      double s = 0;
      for (int64_t e = 0; e < count; e++) s += x[OFF(e)];
      Y[o] = (float)(kind == SC_REDUCE_MEAN ? s / (double)count : s);
    } else {
      float m = kind == SC_REDUCE_MAX ? -INFINITY : INFINITY;
      for (int64_t e = 0; e < count; e++) {
        float v = x[OFF(e)];
        if (kind == SC_REDUCE_MAX ? v > m : v < m) m = v;
      }
      Y[o] = m;
    }
  }
  return SEGCAM_OK;
}

/* mean: dx = g / count on every reduced element; sum: dx = g; max/min: dx = g on the first
 * element (row-major) equal to the output, 0 elsewhere.  Output index o's elements are disjoint
 * from every other o's, so the parallel loop writes without races. */
static segcam_status reduce_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const sc_reduce_params *p = c->node->params;
  const sc_node_state *st = c->state;
  const int64_t nout = st->i[ST_NOUT], count = st->i[ST_COUNT];
  const float *G = c->dout[0];
  float *dX = c->din[0];
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "int64 reduction is not differentiable");
  if (st->i[ST_NOOP]) {
    for (int64_t o = 0; o < nout; o++) dX[o] += G[o];
    return SEGCAM_OK;
  }
  geom g;
  get_geom(st, &g);
  const int contig = trailing(&g);
  const int kind = p->kind;
  const float *X = c->in[0]->data, *Y = c->out[0]->data;
#pragma omp parallel for schedule(static) if (nout * count > 16384 && nout > 1)
  for (int64_t o = 0; o < nout; o++) {
    const int64_t b = base_of(&g, o);
    float *dx = dX + b;
    if (kind == SC_REDUCE_MEAN || kind == SC_REDUCE_SUM) {
      const float go = kind == SC_REDUCE_MEAN ? (float)(G[o] / (double)count) : G[o];
      for (int64_t e = 0; e < count; e++) dx[OFF(e)] += go;
    } else {
      const float *x = X + b;
      for (int64_t e = 0; e < count; e++) {
        int64_t off = OFF(e);
        if (x[off] == Y[o]) {
          dx[off] += G[o];
          break;
        }
      }
    }
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_reduce = {
    .name = "reduce",
    .infer = reduce_infer,
    .forward = reduce_forward,
    .backward = reduce_backward,
    .bw_needs = SC_NEEDS_IN(0) | SC_NEEDS_OUT(0),
};
