/* Softmax over one axis (ONNX opset >= 13, Keras, tf.nn.softmax) or over all dims from `axis` on
 * (coerce_2d: ONNX opset < 13 flattens the input to [prod(d < axis), prod(d >= axis)]), forward
 * and backward.  Numerically stable: the max along the reduced axis is subtracted before exp.
 *
 * The tensor is seen as [outer, L, inner] with the softmax over L.  For NCHW channel softmax
 * (axis 1) inner = H*W, so the loops run over blocks of `inner` to stay contiguous.  Float32
 * only; sums are accumulated in double. */
#include <math.h>
#include <stdint.h>

#include "ops/ops.h"

enum { ST_OUTER = 0, ST_L = 1, ST_INNER = 2 };
#define SM_BLOCK 256

static segcam_status softmax_infer(sc_opctx *c) {
  const sc_softmax_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing softmax parameters");
  if (c->node->n_in < 1 || !c->in[0] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs one input and one output");
  const sc_tensor *x = c->in[0];
  char buf[160];
  if (x->dtype != SC_F32) return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "input is not float32");
  int r = x->shape.ndim;
  if (r < 1 || r > SEGCAM_MAX_DIMS)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input rank %d is not supported", r);
  int axis = p->axis;
  if (axis < -r || axis >= r)
    return sc_node_error(c, SEGCAM_E_SHAPE, "axis %d is out of range for input %s", p->axis,
                         sc_shape_str(&x->shape, buf, sizeof buf));
  if (axis < 0) axis += r;
  double total = 1;
  int64_t outer = 1, L = 1, inner = 1;
  for (int i = 0; i < r; i++) {
    int64_t d = x->shape.d[i];
    if (d < 0)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input has an unknown or negative dimension %s",
                           sc_shape_str(&x->shape, buf, sizeof buf));
    total *= (double)d;
    if (total > 4e12)
      return sc_node_error(c, SEGCAM_E_NOMEM, "input %s is absurdly large",
                           sc_shape_str(&x->shape, buf, sizeof buf));
    if (i < axis)
      outer *= d;
    else if (i == axis || p->coerce_2d)
      L *= d;
    else
      inner *= d;
  }
  c->state->i[ST_OUTER] = outer;
  c->state->i[ST_L] = L;
  c->state->i[ST_INNER] = inner;
  c->out[0]->dtype = SC_F32;
  c->out[0]->shape = x->shape;
  return SEGCAM_OK;
}

static segcam_status softmax_forward(sc_opctx *c) {
  const int64_t outer = c->state->i[ST_OUTER], L = c->state->i[ST_L], inner = c->state->i[ST_INNER];
  const float *X = c->in[0]->data; /* [outer, L, inner] */
  float *Y = c->out[0]->data;      /* [outer, L, inner] */
  if (L == 0 || inner == 0) return SEGCAM_OK;
  const int64_t nb = (inner + SM_BLOCK - 1) / SM_BLOCK, tasks = outer * nb;
#pragma omp parallel for schedule(static) if (outer * L * inner > 16384)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t o = t / nb, j0 = (t % nb) * SM_BLOCK;
    const int64_t jn = inner - j0 < SM_BLOCK ? inner - j0 : SM_BLOCK;
    const float *x = X + o * L * inner + j0;
    float *y = Y + o * L * inner + j0;
    float mx[SM_BLOCK];
    double sum[SM_BLOCK];
    for (int64_t j = 0; j < jn; j++) mx[j] = x[j], sum[j] = 0;
    for (int64_t l = 1; l < L; l++)
      for (int64_t j = 0; j < jn; j++)
        if (x[l * inner + j] > mx[j]) mx[j] = x[l * inner + j];
    for (int64_t l = 0; l < L; l++)
      for (int64_t j = 0; j < jn; j++) {
        float e = expf(x[l * inner + j] - mx[j]);
        y[l * inner + j] = e;
        sum[j] += e;
      }
    for (int64_t j = 0; j < jn; j++) mx[j] = (float)(1.0 / sum[j]); /* reuse as 1/sum */
    for (int64_t l = 0; l < L; l++)
      for (int64_t j = 0; j < jn; j++) y[l * inner + j] *= mx[j];
  }
  return SEGCAM_OK;
}

/* dx = y * (g - sum_L(g*y)) along the softmax axis. */
static segcam_status softmax_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const int64_t outer = c->state->i[ST_OUTER], L = c->state->i[ST_L], inner = c->state->i[ST_INNER];
  const float *Y = c->out[0]->data; /* [outer, L, inner] */
  const float *G = c->dout[0];      /* [outer, L, inner] */
  float *dX = c->din[0];            /* [outer, L, inner] */
  if (L == 0 || inner == 0) return SEGCAM_OK;
  const int64_t nb = (inner + SM_BLOCK - 1) / SM_BLOCK, tasks = outer * nb;
#pragma omp parallel for schedule(static) if (outer * L * inner > 16384)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t o = t / nb, j0 = (t % nb) * SM_BLOCK;
    const int64_t jn = inner - j0 < SM_BLOCK ? inner - j0 : SM_BLOCK;
    const int64_t base = o * L * inner + j0;
    const float *y = Y + base, *g = G + base;
    float *dx = dX + base;
    double dot[SM_BLOCK];
    float dotf[SM_BLOCK];
    for (int64_t j = 0; j < jn; j++) dot[j] = 0;
    for (int64_t l = 0; l < L; l++)
      for (int64_t j = 0; j < jn; j++) dot[j] += (double)g[l * inner + j] * y[l * inner + j];
    for (int64_t j = 0; j < jn; j++) dotf[j] = (float)dot[j];
    for (int64_t l = 0; l < L; l++)
      for (int64_t j = 0; j < jn; j++)
        dx[l * inner + j] += y[l * inner + j] * (g[l * inner + j] - dotf[j]);
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_softmax = {
    .name = "softmax",
    .infer = softmax_infer,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .bw_needs = SC_NEEDS_OUT(0),
};
