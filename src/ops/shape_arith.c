/* Shape arithmetic that exporters emit around dynamic sizes (torch.onnx Resize-with-size chains,
 * Shape -> Gather -> Unsqueeze -> Concat): Shape, Gather, Cast, ConstantOfShape and Range.
 * These are usually folded at plan time on constants, mostly int64.
 *
 * Shape is SC_OPF_SHAPE_ONLY: the planner runs its forward before the run with only shapes known,
 * so it reads c->in[0]->shape and never the data.  ConstantOfShape and Range determine their
 * output shape from input values, so those inputs must be constant (or folded).  Gather and Cast
 * can also sit on the float data path and have a backward (Gather scatters, Cast float->float is
 * the identity); the others have none.  Only float32 and int64 exist here: a Cast to any other type
 * is an error. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

static size_t esize(sc_dtype t) { return t == SC_I64 ? 8 : 4; }


static segcam_status check_io(const sc_opctx *c, int n_in) {
  if (c->node->n_in < n_in || c->node->n_out < 1 || !c->out[0])
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs %d input(s) and one output", n_in);
  for (int i = 0; i < n_in; i++)
    if (!c->in[i]) return sc_node_error(c, SEGCAM_E_FORMAT, "input %d is missing", i);
  return SEGCAM_OK;
}

/* ---- shape ---------------------------------------------------------------------------------- */

/* Shape-15: dims [start, end) of the input; negative start/end count from the end, both clamp to
 * [0, rank].  No params = the whole shape.  State i[0] = resolved start. */
static segcam_status shape_infer(sc_opctx *c) {
  const sc_shape_params *p = c->node->params;
  SC_TRY(check_io(c, 1));
  SC_TRY(sc_check_tensor(c, c->in[0], "input", SC_DT_F32 | SC_DT_I64));
  const int64_t r = c->in[0]->shape.ndim;
  int64_t s = p ? p->start : 0, e = p ? p->end : INT64_MAX;
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : (s > r ? r : s);
  e = e < 0 ? 0 : (e > r ? r : e);
  c->state->i[0] = s;
  c->out[0]->dtype = SC_I64;
  c->out[0]->shape.ndim = 1;
  c->out[0]->shape.d[0] = e > s ? e - s : 0;
  return SEGCAM_OK;
}

static segcam_status shape_forward(sc_opctx *c) {
  int64_t *Y = c->out[0]->data; /* [n] */
  const int64_t n = c->out[0]->shape.d[0], s = c->state->i[0];
  for (int64_t k = 0; k < n; k++) Y[k] = c->in[0]->shape.d[s + k];
  return SEGCAM_OK;
}

const sc_opdef sc_op_shape = {
    .name = "shape",
    .infer = shape_infer,
    .forward = shape_forward,
    .flags = SC_OPF_SHAPE_ONLY,
};

/* ---- gather --------------------------------------------------------------------------------- */

/* Gather (ONNX): data [outer, D, inner] along axis, indices int64 of any shape (scalar indices
 * drop the axis); negative indices count from the end.  out = data.d[<axis] ++ indices.d ++
 * data.d[>axis].  State i[0] = normalised axis. */
static segcam_status gather_check_indices(const sc_opctx *c, const int64_t *idx, int64_t n,
                                          int64_t D) {
  for (int64_t j = 0; j < n; j++)
    if (idx[j] < -D || idx[j] >= D)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "index %" PRId64 " is out of range for an axis of size %" PRId64, idx[j],
                           D);
  return SEGCAM_OK;
}

static segcam_status gather_infer(sc_opctx *c) {
  const sc_gather_params *p = c->node->params;
  SC_TRY(check_io(c, 2));
  SC_TRY(sc_check_tensor(c, c->in[0], "data", SC_DT_F32 | SC_DT_I64));
  SC_TRY(sc_check_tensor(c, c->in[1], "indices", SC_DT_F32 | SC_DT_I64));
  const sc_shape *ds = &c->in[0]->shape, *is = &c->in[1]->shape;
  const int r = ds->ndim;
  if (c->in[1]->dtype != SC_I64)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "indices must be int64");
  if (r < 1) return sc_node_error(c, SEGCAM_E_SHAPE, "cannot gather from a scalar");
  int axis = p ? p->axis : 0;
  if (axis < -r || axis >= r)
    return sc_node_error(c, SEGCAM_E_SHAPE, "axis %d is out of range for rank %d", axis, r);
  if (axis < 0) axis += r;
  if (r - 1 + is->ndim > SEGCAM_MAX_DIMS)
    return sc_node_error(c, SEGCAM_E_SHAPE, "output rank %d exceeds %d", r - 1 + is->ndim,
                         SEGCAM_MAX_DIMS);
  if (c->in[1]->data)
    SC_TRY(gather_check_indices(c, c->in[1]->data, sc_shape_numel(is), ds->d[axis]));
  sc_shape out;
  out.ndim = 0;
  for (int k = 0; k < axis; k++) out.d[out.ndim++] = ds->d[k];
  for (int k = 0; k < is->ndim; k++) out.d[out.ndim++] = is->d[k];
  for (int k = axis + 1; k < r; k++) out.d[out.ndim++] = ds->d[k];
  c->state->i[0] = axis;
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape = out;
  return SEGCAM_OK;
}

static void gather_dims(const sc_opctx *c, int64_t *outer, int64_t *D, int64_t *inner) {
  const sc_shape *ds = &c->in[0]->shape;
  const int axis = (int)c->state->i[0];
  *outer = *inner = 1;
  for (int k = 0; k < ds->ndim; k++) {
    if (k < axis) *outer *= ds->d[k];
    if (k > axis) *inner *= ds->d[k];
  }
  *D = ds->d[axis];
}

static segcam_status gather_forward(sc_opctx *c) {
  int64_t outer, D, inner;
  gather_dims(c, &outer, &D, &inner);
  const int64_t n = sc_shape_numel(&c->in[1]->shape);
  const int64_t *idx = c->in[1]->data; /* [n] */
  SC_TRY(gather_check_indices(c, idx, n, D));
  const size_t es = esize(c->in[0]->dtype);
  const char *X = c->in[0]->data; /* [outer, D, inner] */
  char *Y = c->out[0]->data;      /* [outer, n, inner] */
  if (inner == 0) return SEGCAM_OK;
#pragma omp parallel for schedule(static) if (outer * n * inner > 16384)
  for (int64_t t = 0; t < outer * n; t++) {
    const int64_t o = t / n, j = t % n, k = idx[j] < 0 ? idx[j] + D : idx[j];
    memcpy(Y + t * inner * (int64_t)es, X + (o * D + k) * inner * (int64_t)es, (size_t)inner * es);
  }
  return SEGCAM_OK;
}

/* dx[o, idx_j, :] += g[o, j, :]; repeated indices accumulate, so each outer slab runs serially. */
static segcam_status gather_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  int64_t outer, D, inner;
  gather_dims(c, &outer, &D, &inner);
  const int64_t n = sc_shape_numel(&c->in[1]->shape);
  const int64_t *idx = c->in[1]->data; /* [n] */
  const float *G = c->dout[0];         /* [outer, n, inner] */
  float *dX = c->din[0];               /* [outer, D, inner] */
#pragma omp parallel for schedule(static) if (outer * n * inner > 16384)
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < n; j++) {
      const int64_t k = idx[j] < 0 ? idx[j] + D : idx[j];
      float *dx = dX + (o * D + k) * inner;
      const float *g = G + (o * n + j) * inner;
      for (int64_t i = 0; i < inner; i++) dx[i] += g[i];
    }
  return SEGCAM_OK;
}

const sc_opdef sc_op_gather = {
    .name = "gather",
    .infer = gather_infer,
    .forward = gather_forward,
    .backward = gather_backward,
    .bw_needs = SC_NEEDS_IN(1),
};

/* ---- cast ----------------------------------------------------------------------------------- */

static segcam_status cast_infer(sc_opctx *c) {
  const sc_cast_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing cast parameters");
  SC_TRY(check_io(c, 1));
  SC_TRY(sc_check_tensor(c, c->in[0], "input", SC_DT_F32 | SC_DT_I64));
  if (p->to != SC_F32 && p->to != SC_I64)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "Cast to ONNX type %d is not supported (only float32 and int64)",
                         (int)p->to);
  c->out[0]->dtype = p->to;
  c->out[0]->shape = c->in[0]->shape;
  return SEGCAM_OK;
}

/* float -> int64 truncates toward zero (C conversion, as onnxruntime's static_cast); NaN gives 0
 * and values beyond the int64 range saturate, where C would be undefined. */
static segcam_status cast_forward(sc_opctx *c) {
  const int64_t n = sc_shape_numel(&c->in[0]->shape);
  const sc_dtype from = c->in[0]->dtype, to = c->out[0]->dtype;
  if (from == to) {
    if (n && c->out[0]->data != c->in[0]->data)
      memcpy(c->out[0]->data, c->in[0]->data, (size_t)n * esize(from));
  } else if (from == SC_F32) {
    const float *X = c->in[0]->data;
    int64_t *Y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) {
      float v = X[i];
      Y[i] = isnan(v) ? 0
                      : (v >= 9.2233720368547758e18f
                             ? INT64_MAX
                             : (v <= -9.2233720368547758e18f ? INT64_MIN : (int64_t)v));
    }
  } else {
    const int64_t *X = c->in[0]->data;
    float *Y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) Y[i] = (float)X[i];
  }
  return SEGCAM_OK;
}

static segcam_status cast_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32 || c->out[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through a Cast to or from int64");
  const int64_t n = sc_shape_numel(&c->in[0]->shape);
  const float *G = c->dout[0];
  float *dX = c->din[0];
#pragma omp parallel for schedule(static) if (n > 16384)
  for (int64_t i = 0; i < n; i++) dX[i] += G[i];
  return SEGCAM_OK;
}

const sc_opdef sc_op_cast = {
    .name = "cast",
    .infer = cast_infer,
    .forward = cast_forward,
    .backward = cast_backward,
};

/* ---- constant_of_shape ---------------------------------------------------------------------- */

/* ConstantOfShape: the output shape is the VALUE of input 0 (int64, 1-D; an empty tensor gives a
 * scalar).  No params = float32 zeros (the ONNX default). */
static segcam_status constant_of_shape_infer(sc_opctx *c) {
  const sc_constant_of_shape_params *p = c->node->params;
  SC_TRY(check_io(c, 1));
  SC_TRY(sc_check_tensor(c, c->in[0], "shape", SC_DT_F32 | SC_DT_I64));
  const sc_tensor *s = c->in[0];
  const sc_dtype dt = p ? p->dtype : SC_F32;
  if (dt != SC_F32 && dt != SC_I64)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "value type %d is not supported (only float32 and int64)", (int)dt);
  if (s->dtype != SC_I64 || s->shape.ndim != 1)
    return sc_node_error(c, SEGCAM_E_SHAPE, "the shape input must be a 1-D int64 tensor");
  if (!s->data)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "the shape input must be a constant or folded before the run");
  const int64_t n = s->shape.d[0];
  if (n > SEGCAM_MAX_DIMS)
    return sc_node_error(c, SEGCAM_E_SHAPE, "output rank %" PRId64 " exceeds %d", n,
                         SEGCAM_MAX_DIMS);
  sc_tensor out = {dt, {(int)n, {0}}, NULL};
  for (int64_t k = 0; k < n; k++) out.shape.d[k] = ((const int64_t *)s->data)[k];
  SC_TRY(sc_check_tensor(c, &out, "output", SC_DT_F32 | SC_DT_I64));
  c->out[0]->dtype = dt;
  c->out[0]->shape = out.shape;
  return SEGCAM_OK;
}

static segcam_status constant_of_shape_forward(sc_opctx *c) {
  const sc_constant_of_shape_params *p = c->node->params;
  const int64_t n = sc_shape_numel(&c->out[0]->shape);
  const double v = p ? p->value : 0.0;
  if (c->out[0]->dtype == SC_F32) {
    float *Y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) Y[i] = (float)v;
  } else {
    int64_t *Y = c->out[0]->data;
    const int64_t vi =
        isnan(v) ? 0 : (v >= 9.2e18 ? INT64_MAX : (v <= -9.2e18 ? INT64_MIN : (int64_t)v));
    for (int64_t i = 0; i < n; i++) Y[i] = vi;
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_constant_of_shape = {
    .name = "constant_of_shape",
    .infer = constant_of_shape_infer,
    .forward = constant_of_shape_forward,
};

/* ---- range ---------------------------------------------------------------------------------- */

/* Range(start, limit, delta), scalars of one type: n = max(ceil((limit - start) / delta), 0)
 * elements start + i*delta (computed per element, not accumulated, so float ranges do not
 * drift).  The inputs must be constant or folded: they fix the output size. */
#define RANGE_MAX ((int64_t)1 << 31)

static segcam_status range_infer(sc_opctx *c) {
  SC_TRY(check_io(c, 3));
  const sc_dtype dt = c->in[0]->dtype;
  static const char *names[3] = {"start", "limit", "delta"};
  for (int i = 0; i < 3; i++) {
    SC_TRY(sc_check_tensor(c, c->in[i], names[i], SC_DT_F32 | SC_DT_I64));
    if (c->in[i]->dtype != dt)
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "start, limit and delta differ in type");
    if (sc_shape_numel(&c->in[i]->shape) != 1)
      return sc_node_error(c, SEGCAM_E_SHAPE, "%s must be a scalar", names[i]);
    if (!c->in[i]->data)
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                           "%s must be a constant or folded before the run", names[i]);
  }
  int64_t n;
  if (dt == SC_I64) {
    const int64_t s = *(const int64_t *)c->in[0]->data, l = *(const int64_t *)c->in[1]->data;
    const int64_t d = *(const int64_t *)c->in[2]->data;
    if (d == 0) return sc_node_error(c, SEGCAM_E_ARG, "delta is 0");
    /* in uint64 so that no difference overflows */
    uint64_t diff = 0, step = d > 0 ? (uint64_t)d : 0 - (uint64_t)d;
    if (d > 0 && l > s) diff = (uint64_t)l - (uint64_t)s;
    if (d < 0 && s > l) diff = (uint64_t)s - (uint64_t)l;
    uint64_t un = diff ? (diff - 1) / step + 1 : 0;
    n = un > (uint64_t)RANGE_MAX ? RANGE_MAX + 1 : (int64_t)un;
  } else {
    const double s = *(const float *)c->in[0]->data, l = *(const float *)c->in[1]->data;
    const double d = *(const float *)c->in[2]->data;
    if (d == 0) return sc_node_error(c, SEGCAM_E_ARG, "delta is 0");
    double q = ceil((l - s) / d);
    if (isnan(q)) return sc_node_error(c, SEGCAM_E_ARG, "start, limit or delta is not finite");
    n = q <= 0 ? 0 : (q > (double)RANGE_MAX ? RANGE_MAX + 1 : (int64_t)q);
  }
  if (n > RANGE_MAX)
    return sc_node_error(c, SEGCAM_E_NOMEM, "the range has more than %" PRId64 " elements",
                         RANGE_MAX);
  c->out[0]->dtype = dt;
  c->out[0]->shape.ndim = 1;
  c->out[0]->shape.d[0] = n;
  return SEGCAM_OK;
}

static segcam_status range_forward(sc_opctx *c) {
  const int64_t n = c->out[0]->shape.d[0];
  if (c->out[0]->dtype == SC_I64) {
    const int64_t s = *(const int64_t *)c->in[0]->data, d = *(const int64_t *)c->in[2]->data;
    int64_t *Y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) Y[i] = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
  } else {
    const float s = *(const float *)c->in[0]->data, d = *(const float *)c->in[2]->data;
    float *Y = c->out[0]->data;
    for (int64_t i = 0; i < n; i++) Y[i] = (float)((double)s + (double)i * (double)d);
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_range = {
    .name = "range",
    .infer = range_infer,
    .forward = range_forward,
};
