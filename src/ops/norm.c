/* Normalisations at inference: BatchNormalization (per channel on axis 1, moving statistics) and
 * LayerNormalization (statistics over the axes [axis, rank) of each sample), forward and the data
 * backward (never gradients of scale, bias or statistics).  Float32; LayerNorm accumulates in
 * double.  Not here: training-mode BatchNorm (batch statistics), GroupNorm/InstanceNorm. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"


/* ---- batchnorm ------------------------------------------------------------------------------ */

/* Inputs X [N,C,...], scale [C], B [C], mean [C], var [C].  scale or B may be omitted (1 / 0),
 * which Keras' BatchNormalization(scale=False / center=False) needs.  State: N, C, S (the product
 * of the dims after C). */
enum { BN_N = 0, BN_C = 1, BN_S = 2 };

static segcam_status batchnorm_infer(sc_opctx *c) {
  const sc_batchnorm_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing batchnorm parameters");
  if (c->node->n_in < 5 || !c->in[0] || !c->in[3] || !c->in[4] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs inputs X, scale, B, mean, var");
  const sc_tensor *x = c->in[0];
  SC_TRY(sc_check_tensor(c, x, "input", SC_DT_F32));
  char buf[160];
  if (x->shape.ndim < 2)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input %s has no channel axis",
                         sc_shape_str(&x->shape, buf, sizeof buf));
  const int64_t C = x->shape.d[1];
  static const char *names[5] = {"X", "scale", "B", "mean", "var"};
  for (int i = 1; i < 5; i++) {
    if (!c->in[i]) continue;
    SC_TRY(sc_check_tensor(c, c->in[i], names[i], SC_DT_F32));
    if (sc_shape_numel(&c->in[i]->shape) != C)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "%s %s does not match the %" PRId64 " channels of input %s", names[i],
                           sc_shape_str(&c->in[i]->shape, buf, sizeof buf), C,
                           sc_shape_str(&x->shape, buf + 80, 80));
  }
  int64_t S = 1;
  for (int i = 2; i < x->shape.ndim; i++) S *= x->shape.d[i];
  c->state->i[BN_N] = x->shape.d[0];
  c->state->i[BN_C] = C;
  c->state->i[BN_S] = S;
  c->out[0]->dtype = SC_F32;
  c->out[0]->shape = x->shape;
  return SEGCAM_OK;
}

/* Per-channel factor scale/sqrt(var+eps) (sc_bn_factor). */
static inline float bn_factor(const sc_opctx *c, int64_t ch) {
  const sc_batchnorm_params *p = c->node->params;
  return sc_bn_factor(c->in[1] ? c->in[1]->data : NULL, c->in[4]->data, p->epsilon, ch);
}

/* y = (x - mean) * (scale / sqrt(var + eps)) + B: ONNX BatchNormalization and the TF fused CPU
 * kernel (FORMATS_AND_NUMERICS 4.4) in the same order of operations. */
static segcam_status batchnorm_forward(sc_opctx *c) {
  const int64_t N = c->state->i[BN_N], C = c->state->i[BN_C], S = c->state->i[BN_S];
  const float *X = c->in[0]->data; /* [N, C, S] */
  const float *B = c->in[2] ? c->in[2]->data : NULL, *mean = c->in[3]->data;
  float *Y = c->out[0]->data; /* [N, C, S] */
#pragma omp parallel for schedule(static) if (N * C * S > 16384)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const int64_t ch = nc % C;
    const float a = bn_factor(c, ch), m = mean[ch], b = B ? B[ch] : 0.0f;
    const float *x = X + nc * S;
    float *y = Y + nc * S;
    for (int64_t i = 0; i < S; i++) y[i] = (x[i] - m) * a + b;
  }
  return SEGCAM_OK;
}

/* dx = g * scale / sqrt(var + eps) (FORMATS_AND_NUMERICS 4.4). */
static segcam_status batchnorm_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const int64_t N = c->state->i[BN_N], C = c->state->i[BN_C], S = c->state->i[BN_S];
  const float *G = c->dout[0]; /* [N, C, S] */
  float *dX = c->din[0];       /* [N, C, S] */
#pragma omp parallel for schedule(static) if (N * C * S > 16384)
  for (int64_t nc = 0; nc < N * C; nc++) {
    const float a = bn_factor(c, nc % C);
    const float *g = G + nc * S;
    float *dx = dX + nc * S;
    for (int64_t i = 0; i < S; i++) dx[i] += g[i] * a;
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_batchnorm = {
    .name = "batchnorm",
    .infer = batchnorm_infer,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .bw_needs = SC_NEEDS_IN(1) | SC_NEEDS_IN(4),
};

/* ---- layernorm ------------------------------------------------------------------------------ */

/* ONNX LayerNormalization-17 / Keras LayerNormalization over the trailing axes [axis, rank):
 * mean and biased variance per sample, y = (x - mean) / sqrt(var + eps) * scale + B, where scale
 * and B broadcast (numpy, right-aligned) to the normalised shape.  Optional outputs 1 and 2 are
 * Mean and InvStdDev (shape: X's with the normalised dims set to 1); they carry no gradient.
 * The tensor is seen as [outer, M].  State: outer, M, the normalised rank and the strides of
 * scale and B over the normalised dims; scratch holds scale and B expanded to [M]. */
enum {
  LN_OUTER = 0,
  LN_M = 1,
  LN_R = 2,
  LN_D = 3,
  LN_SS = 3 + SEGCAM_MAX_DIMS,
  LN_BS = 3 + 2 * SEGCAM_MAX_DIMS
};

static segcam_status ln_strides(const sc_opctx *c, const sc_tensor *t, const char *what,
                                const int64_t *nd, int nr, int64_t *strides) {
  char b1[160], b2[160];
  sc_shape ns;
  ns.ndim = nr;
  for (int i = 0; i < nr; i++) ns.d[i] = nd[i];
  const int rt = t->shape.ndim;
  /* right-aligned; extra leading dims must be 1 ([1,1,C] for axis -1 broadcasts) */
  for (int k = 0; k < rt - nr; k++)
    if (t->shape.d[k] != 1)
      return sc_node_error(c, SEGCAM_E_SHAPE, "%s %s does not broadcast to the normalised shape %s",
                           what, sc_shape_str(&t->shape, b1, sizeof b1),
                           sc_shape_str(&ns, b2, sizeof b2));
  int64_t st = 1;
  for (int i = nr - 1; i >= 0; i--) {
    int k = rt - nr + i;
    int64_t d = k >= 0 ? t->shape.d[k] : 1;
    if (d != 1 && d != nd[i])
      return sc_node_error(c, SEGCAM_E_SHAPE, "%s %s does not broadcast to the normalised shape %s",
                           what, sc_shape_str(&t->shape, b1, sizeof b1),
                           sc_shape_str(&ns, b2, sizeof b2));
    strides[i] = d == 1 ? 0 : st;
    st *= d;
  }
  return SEGCAM_OK;
}

static segcam_status layernorm_infer(sc_opctx *c) {
  const sc_layernorm_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing layernorm parameters");
  if (c->node->n_in < 2 || !c->in[0] || !c->in[1] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs inputs X and scale");
  const sc_tensor *x = c->in[0];
  SC_TRY(sc_check_tensor(c, x, "input", SC_DT_F32));
  SC_TRY(sc_check_tensor(c, c->in[1], "scale", SC_DT_F32));
  if (c->node->n_in > 2 && c->in[2]) SC_TRY(sc_check_tensor(c, c->in[2], "B", SC_DT_F32));
  char buf[160];
  const int r = x->shape.ndim;
  int axis = p->axis;
  if (axis < -r || axis >= r)
    return sc_node_error(c, SEGCAM_E_SHAPE, "axis %d is out of range for input %s", p->axis,
                         sc_shape_str(&x->shape, buf, sizeof buf));
  if (axis < 0) axis += r;
  int64_t outer = 1, M = 1;
  for (int i = 0; i < r; i++) {
    if (i < axis)
      outer *= x->shape.d[i];
    else
      M *= x->shape.d[i];
  }
  const int nr = r - axis;
  const int64_t *nd = x->shape.d + axis;
  c->state->i[LN_OUTER] = outer;
  c->state->i[LN_M] = M;
  c->state->i[LN_R] = nr;
  for (int i = 0; i < nr; i++) c->state->i[LN_D + i] = nd[i];
  SC_TRY(ln_strides(c, c->in[1], "scale", nd, nr, &c->state->i[LN_SS]));
  if (c->node->n_in > 2 && c->in[2])
    SC_TRY(ln_strides(c, c->in[2], "B", nd, nr, &c->state->i[LN_BS]));
  c->scratch_size = (size_t)(2 * M) * sizeof(float);
  c->out[0]->dtype = SC_F32;
  c->out[0]->shape = x->shape;
  for (int j = 1; j < 3 && j < c->node->n_out; j++) {
    if (!c->out[j]) continue;
    c->out[j]->dtype = SC_F32;
    c->out[j]->shape = x->shape;
    for (int i = axis; i < r; i++) c->out[j]->shape.d[i] = 1;
  }
  return SEGCAM_OK;
}

/* Expands a broadcast parameter to [M] (row-major over the normalised dims). */
static void ln_expand(const sc_node_state *st, const float *src, const int64_t *strides,
                      float *dst) {
  const int nr = (int)st->i[LN_R];
  const int64_t M = st->i[LN_M];
  for (int64_t e = 0; e < M; e++) {
    int64_t rem = e, off = 0;
    for (int i = nr - 1; i >= 0; i--) {
      int64_t d = st->i[LN_D + i];
      off += (rem % d) * strides[i];
      rem /= d;
    }
    dst[e] = src[off];
  }
}

/* Fills scale and bias [M] in scratch. */
static void ln_params(sc_opctx *c, float **scale, float **bias) {
  const int64_t M = c->state->i[LN_M];
  *scale = c->scratch;
  *bias = *scale + M;
  ln_expand(c->state, c->in[1]->data, &c->state->i[LN_SS], *scale);
  if (c->node->n_in > 2 && c->in[2])
    ln_expand(c->state, c->in[2]->data, &c->state->i[LN_BS], *bias);
  else
    memset(*bias, 0, (size_t)M * sizeof(float));
}

static void ln_moments(const float *x, int64_t M, double *mean, double *inv, float eps) {
  double s = 0, v = 0;
  for (int64_t i = 0; i < M; i++) s += x[i];
  s /= (double)M;
  for (int64_t i = 0; i < M; i++) v += ((double)x[i] - s) * ((double)x[i] - s);
  v /= (double)M;
  *mean = s;
  *inv = 1.0 / sqrt(v + (double)eps);
}

static segcam_status layernorm_forward(sc_opctx *c) {
  const sc_layernorm_params *p = c->node->params;
  const int64_t outer = c->state->i[LN_OUTER], M = c->state->i[LN_M];
  if (M == 0) return SEGCAM_OK;
  float *scale, *bias;
  ln_params(c, &scale, &bias);
  const float *X = c->in[0]->data;                                        /* [outer, M] */
  float *Y = c->out[0]->data;                                             /* [outer, M] */
  float *Mean = c->node->n_out > 1 && c->out[1] ? c->out[1]->data : NULL; /* [outer] */
  float *Inv = c->node->n_out > 2 && c->out[2] ? c->out[2]->data : NULL;  /* [outer] */
#pragma omp parallel for schedule(static) if (outer * M > 16384)
  for (int64_t o = 0; o < outer; o++) {
    const float *x = X + o * M;
    float *y = Y + o * M;
    double mean, inv;
    ln_moments(x, M, &mean, &inv, p->epsilon);
    for (int64_t i = 0; i < M; i++)
      y[i] = (float)(((double)x[i] - mean) * inv) * scale[i] + bias[i];
    if (Mean) Mean[o] = (float)mean;
    if (Inv) Inv[o] = (float)inv;
  }
  return SEGCAM_OK;
}

/* With xh = (x - mean) * inv and gs = g * scale:
 *   dx = inv * (gs - mean(gs) - xh * mean(gs * xh))   (the full LayerNorm VJP). */
static segcam_status layernorm_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  for (int j = 1; j < 3 && j < c->node->n_out; j++)
    if (c->dout[j])
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                           "no gradient through the Mean/InvStdDev outputs");
  const sc_layernorm_params *p = c->node->params;
  const int64_t outer = c->state->i[LN_OUTER], M = c->state->i[LN_M];
  if (M == 0) return SEGCAM_OK;
  float *scale, *bias;
  ln_params(c, &scale, &bias);
  const float *X = c->in[0]->data; /* [outer, M] */
  const float *G = c->dout[0];     /* [outer, M] */
  float *dX = c->din[0];           /* [outer, M] */
#pragma omp parallel for schedule(static) if (outer * M > 16384)
  for (int64_t o = 0; o < outer; o++) {
    const float *x = X + o * M, *g = G + o * M;
    float *dx = dX + o * M;
    double mean, inv, mg = 0, mgx = 0;
    ln_moments(x, M, &mean, &inv, p->epsilon);
    for (int64_t i = 0; i < M; i++) {
      double gs = (double)g[i] * scale[i], xh = ((double)x[i] - mean) * inv;
      mg += gs;
      mgx += gs * xh;
    }
    mg /= (double)M;
    mgx /= (double)M;
    for (int64_t i = 0; i < M; i++) {
      double gs = (double)g[i] * scale[i], xh = ((double)x[i] - mean) * inv;
      dx[i] += (float)(inv * (gs - mg - xh * mgx));
    }
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_layernorm = {
    .name = "layernorm",
    .infer = layernorm_infer,
    .forward = layernorm_forward,
    .backward = layernorm_backward,
    .bw_needs = SC_NEEDS_IN(0) | SC_NEEDS_IN(1),
};
