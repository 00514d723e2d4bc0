/* Elementwise activations (sc_op_act, every sc_act_kind) and PRelu: forward and backward.
 *
 * act works on float32; FLOOR, NEG and ABS also run on int64 (constant folding of shape
 * arithmetic).  Backward reads only the input x (bw_needs IN(0)) and recomputes what it needs
 * (sigmoid, exp, ...), so the planner keeps one tensor per activation whatever the kind.  FLOOR
 * has no gradient: its backward returns an error naming the node.  Clip takes its bounds from the
 * params or from constant scalar inputs 1 and 2 (ONNX Clip-11+).
 * Not here: Softmax (softmax.c), normalisations (norm.c). */
#include <math.h>
#include <stdint.h>

#include "ops/ops.h"

#define SC_SQRT1_2 0.70710678118654752440f      /* 1/sqrt(2) */
#define SC_INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2 pi) */
#define SC_SQRT_2_PI 0.79788456080286535588f    /* sqrt(2/pi) */
#define SC_GELU_C 0.044715f
#define SC_2_SQRT_PI 1.12837916709551257390f /* 2/sqrt(pi) */

/* state->f[] slots filled by act_infer (ops.h). */
enum { ST_LO = SC_ACT_STATE_LO, ST_HI = SC_ACT_STATE_HI };
/* state->i[] slots for RELU_TF. */
enum { ST_RELU_VARIANT = 0, ST_HAS_MAX = 1, ST_RELU6 = 2 };


static inline float sigmoidf_(float x) {
  if (x >= 0) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

/* Reads a constant scalar (float or int64) input as float. */
static segcam_status scalar_input(const sc_opctx *c, int i, float *v) {
  const sc_tensor *t = c->in[i];
  if (!t->data)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "input %d must be a constant (got a computed tensor)", i);
  if (sc_shape_numel(&t->shape) != 1)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input %d must be a scalar", i);
  if (t->dtype == SC_F32)
    *v = *(const float *)t->data;
  else if (t->dtype == SC_I64)
    *v = (float)*(const int64_t *)t->data;
  else
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "input %d has an unsupported type", i);
  return SEGCAM_OK;
}

/* ---- act ------------------------------------------------------------------------------------ */

static segcam_status act_infer(sc_opctx *c) {
  const sc_act_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing activation parameters");
  if (c->node->n_in < 1 || !c->in[0] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs one input and one output");
  if ((unsigned)p->kind > SC_ACT_ERF)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown activation kind %d", (int)p->kind);
  const sc_tensor *x = c->in[0];
  SC_TRY(sc_check_tensor(c, x, "input", SC_DT_F32 | SC_DT_I64));
  if (x->dtype == SC_I64) {
    if (p->kind != SC_ACT_FLOOR && p->kind != SC_ACT_NEG && p->kind != SC_ACT_ABS)
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                           "int64 input is supported only by Floor, Neg and Abs");
  } else if (x->dtype != SC_F32) {
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "input type %d is not float32 or int64",
                         (int)x->dtype);
  }
  float lo = p->lo, hi = p->hi;
  for (int i = 1; i < c->node->n_in && i < SC_MAX_IO; i++) {
    if (!c->in[i]) continue;
    if (p->kind != SC_ACT_CLIP || i > 2)
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unexpected input %d", i);
    SC_TRY(scalar_input(c, i, i == 1 ? &lo : &hi));
  }
  c->state->f[ST_LO] = lo;
  c->state->f[ST_HI] = hi;
  if (p->kind == SC_ACT_RELU_TF) {
    /* "No max_value" is hi = INFINITY; NaN and hi <= 0 are read the same way (Keras rejects a
     * negative max_value, and max_value = 0 would zero the layer). */
    int has_max = isfinite(hi) && hi > 0;
    float thr = p->beta;
    c->state->i[ST_HAS_MAX] = has_max;
    /* tf_keras backend.relu: leaky_relu when alpha != 0 with no max and threshold 0; relu6 when
     * max_value == 6 and threshold 0; otherwise x*(x>thr), clip_by_value(0, max), -alpha*relu. */
    c->state->i[ST_RELU_VARIANT] = (p->alpha != 0 && !has_max && thr == 0) ? 0 : 1;
    c->state->i[ST_RELU6] = has_max && hi == 6.0f && thr == 0;
    if (!has_max) c->state->f[ST_HI] = INFINITY;
  }
  c->out[0]->dtype = x->dtype;
  c->out[0]->shape = x->shape;
  return SEGCAM_OK;
}

/* One loop per kind so the kind switch stays outside the element loop. */
/* clang-format off */
#define ACT_LOOP(expr)                                                                             \
  do {                                                                                             \
    _Pragma("omp parallel for schedule(static) if (n > 16384)")                                   \
    for (int64_t i = 0; i < n; i++) {                                                              \
      const float x = X[i];                                                                        \
      Y[i] = (expr);                                                                               \
    }                                                                                              \
  } while (0)
/* clang-format on */

static inline float gelu_tanh_f(float x) {
  float u = SC_SQRT_2_PI * (x + SC_GELU_C * x * x * x);
  return 0.5f * x * (1.0f + tanhf(u));
}

/* Keras ReLU(max_value, negative_slope, threshold) as tf_keras backend.relu (and Keras 3
 * ReLU.static_call) computes it: t = x * (x > thr), clip t to [0, max], t -= alpha*relu(thr - x).
 * The layer docstring's x >= max ? max : x >= thr ? x : alpha*(x - thr) differs only at x == thr
 * (0 here) and, with a negative threshold and a max_value, on (thr, 0) (clipped to 0 here). */
static inline float relu_tf_f(float x, float alpha, float thr, int has_max, float hi) {
  float t = x > thr ? x : 0.0f;
  if (has_max) t = t < 0 ? 0 : (t > hi ? hi : t);
  if (alpha != 0) t -= alpha * (thr - x > 0 ? thr - x : 0.0f);
  return t;
}

static segcam_status act_forward(sc_opctx *c) {
  const sc_act_params *p = c->node->params;
  const int64_t n = sc_shape_numel(&c->in[0]->shape);
  if (c->in[0]->dtype == SC_I64) {
    const int64_t *X = c->in[0]->data; /* [n] */
    int64_t *Y = c->out[0]->data;      /* [n] */
    for (int64_t i = 0; i < n; i++) {
      int64_t v = X[i];
      if (p->kind == SC_ACT_NEG)
        v = (int64_t)(0 - (uint64_t)v);
      else if (p->kind == SC_ACT_ABS && v < 0)
        v = (int64_t)(0 - (uint64_t)v);
      Y[i] = v; /* FLOOR of an integer is itself */
    }
    return SEGCAM_OK;
  }
  const float *X = c->in[0]->data; /* [n] */
  float *Y = c->out[0]->data;      /* [n] */
  const float a = p->alpha, b = p->beta;
  const float lo = (float)c->state->f[ST_LO], hi = (float)c->state->f[ST_HI];
  switch (p->kind) {
  case SC_ACT_RELU: ACT_LOOP(x > 0 ? x : 0.0f); break;
  case SC_ACT_LEAKY_RELU: ACT_LOOP(x > 0 ? x : a * x); break;
  /* ONNX Elu / Keras elu(alpha): alpha*(exp(x)-1) below 0 */
  case SC_ACT_ELU: ACT_LOOP(x > 0 ? x : a * expm1f(x)); break;
  /* alpha = alpha, beta = gamma (scale) */
  case SC_ACT_SELU: ACT_LOOP(b * (x > 0 ? x : a * expm1f(x))); break;
  case SC_ACT_SIGMOID: ACT_LOOP(sigmoidf_(x)); break;
  case SC_ACT_TANH: ACT_LOOP(tanhf(x)); break;
  /* numpy clip = minimum(maximum(x, lo), hi): every output is hi when lo > hi (ONNX Clip); the
   * comparisons let NaN through as numpy does */
  case SC_ACT_CLIP: ACT_LOOP((x < lo ? lo : x) > hi ? hi : (x < lo ? lo : x)); break;
  case SC_ACT_HARD_SIGMOID: ACT_LOOP(fmaxf(0.0f, fminf(1.0f, a * x + b))); break;
  case SC_ACT_HARD_SWISH: ACT_LOOP(x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f))); break;
  /* log(1+e^x) = max(x,0) + log1p(e^-|x|): no overflow for large x, no underflow loss */
  case SC_ACT_SOFTPLUS: ACT_LOOP(fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)))); break;
  case SC_ACT_SOFTSIGN: ACT_LOOP(x / (1.0f + fabsf(x))); break;
  case SC_ACT_GELU: ACT_LOOP(0.5f * x * (1.0f + erff(x * SC_SQRT1_2))); break;
  case SC_ACT_GELU_TANH: ACT_LOOP(gelu_tanh_f(x)); break;
  case SC_ACT_SWISH: ACT_LOOP(x * sigmoidf_(x)); break;
  case SC_ACT_EXP: ACT_LOOP(expf(x)); break;
  case SC_ACT_FLOOR: ACT_LOOP(floorf(x)); break;
  case SC_ACT_NEG: ACT_LOOP(-x); break;
  case SC_ACT_SQRT: ACT_LOOP(sqrtf(x)); break;
  case SC_ACT_ABS: ACT_LOOP(fabsf(x)); break;
  case SC_ACT_RELU_TF: {
    const int has_max = (int)c->state->i[ST_HAS_MAX];
    ACT_LOOP(relu_tf_f(x, a, b, has_max, hi));
    break;
  }
  case SC_ACT_SCALE_SHIFT: ACT_LOOP(a * x + b); break;
  case SC_ACT_ERF: ACT_LOOP(erff(x)); break;
  }
  return SEGCAM_OK;
}

/* clang-format off */
#define ACT_GRAD_LOOP(expr)                                                                        \
  do {                                                                                             \
    _Pragma("omp parallel for schedule(static) if (n > 16384)")                                   \
    for (int64_t i = 0; i < n; i++) {                                                              \
      const float x = X[i], g = G[i];                                                              \
      (void)x;                                                                                     \
      dX[i] += (expr);                                                                             \
    }                                                                                              \
  } while (0)
/* clang-format on */

/* sigmoid' = y(1-y) (TF SigmoidGrad), tanh' = 1-y^2, from y recomputed from x */
static inline float sigmoid_grad(float x) {
  float y = sigmoidf_(x);
  return y * (1.0f - y);
}

static inline float tanh_grad(float x) {
  float y = tanhf(x);
  return 1.0f - y * y;
}

static inline float swish_grad(float x) {
  float s = sigmoidf_(x);
  return s + x * s * (1.0f - s);
}

static inline float gelu_grad(float x) {
  float cdf = 0.5f * (1.0f + erff(x * SC_SQRT1_2));
  float pdf = SC_INV_SQRT_2PI * expf(-0.5f * x * x);
  return cdf + x * pdf;
}

static inline float gelu_tanh_grad(float x) {
  float x2 = x * x;
  float t = tanhf(SC_SQRT_2_PI * (x + SC_GELU_C * x2 * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * SC_SQRT_2_PI * (1.0f + 3 * SC_GELU_C * x2);
}

/* Gradient of relu_tf_f as TF autodiff gives it: ReluGrad/Relu6Grad are 0 at the kinks, while
 * clip_by_value passes the gradient at t == lo and t == hi; LeakyReluGrad uses alpha at x == 0. */
static inline float relu_tf_grad(float x, float alpha, float thr, int variant, int has_max,
                                 int relu6, float hi) {
  if (variant == 0) return x > 0 ? 1.0f : alpha;
  float d = 0;
  if (x > thr) {
    if (!has_max)
      d = 1;
    else if (relu6)
      d = x < 6.0f ? 1.0f : 0.0f;
    else
      d = (x >= 0 && x <= hi) ? 1.0f : 0.0f;
  }
  if (x < thr) d += alpha;
  return d;
}

static segcam_status act_backward(sc_opctx *c) {
  const sc_act_params *p = c->node->params;
  if (!c->din[0]) return SEGCAM_OK;
  if (p->kind == SC_ACT_FLOOR)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "Floor is not differentiable (a gradient must pass through it)");
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  const int64_t n = sc_shape_numel(&c->in[0]->shape);
  const float *X = c->in[0]->data; /* [n] */
  const float *G = c->dout[0];     /* [n] */
  float *dX = c->din[0];           /* [n] */
  const float a = p->alpha, b = p->beta;
  const float lo = (float)c->state->f[ST_LO], hi = (float)c->state->f[ST_HI];
  switch (p->kind) {
  /* TF ReluGrad: 0 at x == 0 */
  case SC_ACT_RELU: ACT_GRAD_LOOP(x > 0 ? g : 0.0f); break;
  case SC_ACT_LEAKY_RELU: ACT_GRAD_LOOP(x > 0 ? g : a * g); break;
  /* d/dx alpha*(e^x - 1) = alpha*e^x = y + alpha (TF EluGrad with alpha = 1: g*(y+1) for y < 0,
   * g at x == 0) */
  case SC_ACT_ELU: ACT_GRAD_LOOP(x < 0 ? g * a * expf(x) : g); break;
  case SC_ACT_SELU: ACT_GRAD_LOOP(x > 0 ? g * b : g * b * a * expf(x)); break;
  case SC_ACT_SIGMOID: ACT_GRAD_LOOP(g * sigmoid_grad(x)); break;
  case SC_ACT_TANH: ACT_GRAD_LOOP(g * tanh_grad(x)); break;
  /* TF Relu6Grad / clip: gradient only strictly inside (lo, hi); none when lo > hi */
  case SC_ACT_CLIP: ACT_GRAD_LOOP(x > lo && x < hi ? g : 0.0f); break;
  case SC_ACT_HARD_SIGMOID: {
    ACT_GRAD_LOOP((a * x + b > 0 && a * x + b < 1) ? a * g : 0.0f);
    break;
  }
  /* PyTorch hardswish_backward: 0 below -3, x/3 + 1/2 on [-3, 3], 1 above */
  case SC_ACT_HARD_SWISH:
    ACT_GRAD_LOOP(x < -3.0f ? 0.0f : (x <= 3.0f ? g * (x / 3.0f + 0.5f) : g));
    break;
  case SC_ACT_SOFTPLUS: ACT_GRAD_LOOP(g * sigmoidf_(x)); break;
  case SC_ACT_SOFTSIGN: ACT_GRAD_LOOP(g / ((1.0f + fabsf(x)) * (1.0f + fabsf(x)))); break;
  case SC_ACT_GELU: ACT_GRAD_LOOP(g * gelu_grad(x)); break;
  case SC_ACT_GELU_TANH: ACT_GRAD_LOOP(g * gelu_tanh_grad(x)); break;
  case SC_ACT_SWISH: ACT_GRAD_LOOP(g * swish_grad(x)); break;
  case SC_ACT_EXP: ACT_GRAD_LOOP(g * expf(x)); break;
  case SC_ACT_FLOOR: break;
  case SC_ACT_NEG: ACT_GRAD_LOOP(-g); break;
  /* 1/(2 sqrt(x)): inf at 0 as in PyTorch and TF */
  case SC_ACT_SQRT: ACT_GRAD_LOOP(g * 0.5f / sqrtf(x)); break;
  /* sign(0) = 0 (TF and PyTorch) */
  case SC_ACT_ABS: ACT_GRAD_LOOP(x > 0 ? g : (x < 0 ? -g : 0.0f)); break;
  case SC_ACT_RELU_TF: {
    const int variant = (int)c->state->i[ST_RELU_VARIANT], has_max = (int)c->state->i[ST_HAS_MAX];
    const int relu6 = (int)c->state->i[ST_RELU6];
    ACT_GRAD_LOOP(g * relu_tf_grad(x, a, b, variant, has_max, relu6, hi));
    break;
  }
  case SC_ACT_SCALE_SHIFT: ACT_GRAD_LOOP(a * g); break;
  /* d/dx erf(x) = 2/sqrt(pi) exp(-x^2) */
  case SC_ACT_ERF: ACT_GRAD_LOOP(g * SC_2_SQRT_PI * expf(-x * x)); break;
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_act = {
    .name = "act",
    .infer = act_infer,
    .forward = act_forward,
    .backward = act_backward,
    .bw_needs = SC_NEEDS_IN(0),
};

/* ---- prelu ---------------------------------------------------------------------------------- */

/* PRelu (ONNX): y = x < 0 ? slope*x : x, slope broadcast to X unidirectionally (numpy rules,
 * right-aligned; typical slope [C,1,1] for NCHW or Keras [1,1,C] for NHWC).  infer stores the
 * collapsed iteration space in the state: m dims, their sizes and the slope's strides; X and Y are
 * contiguous. */
enum { PR_M = 0, PR_D = 1, PR_S = 1 + SEGCAM_MAX_DIMS };

static segcam_status prelu_infer(sc_opctx *c) {
  if (c->node->n_in < 2 || !c->in[0] || !c->in[1] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs inputs X and slope");
  const sc_tensor *x = c->in[0], *w = c->in[1];
  SC_TRY(sc_check_tensor(c, x, "input", SC_DT_F32 | SC_DT_I64));
  SC_TRY(sc_check_tensor(c, w, "slope", SC_DT_F32 | SC_DT_I64));
  if (x->dtype != SC_F32 || w->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "PRelu needs float32 X and slope");
  char b1[160], b2[160];
  int r = x->shape.ndim, rw = w->shape.ndim;
  if (rw > r)
    return sc_node_error(c, SEGCAM_E_SHAPE, "slope %s does not broadcast to X %s",
                         sc_shape_str(&w->shape, b1, sizeof b1),
                         sc_shape_str(&x->shape, b2, sizeof b2));
  /* slope strides over X's dims (0 where broadcast) */
  int64_t ws[SEGCAM_MAX_DIMS], st = 1;
  for (int i = r - 1; i >= 0; i--) {
    int k = i - (r - rw);
    int64_t dw = k >= 0 ? w->shape.d[k] : 1;
    if (dw != 1 && dw != x->shape.d[i])
      return sc_node_error(c, SEGCAM_E_SHAPE, "slope %s does not broadcast to X %s",
                           sc_shape_str(&w->shape, b1, sizeof b1),
                           sc_shape_str(&x->shape, b2, sizeof b2));
    ws[i] = dw == 1 ? 0 : st;
    st *= dw;
  }
  /* collapse: drop size-1 dims, merge neighbours whose slope strides stay contiguous */
  int m = 0;
  int64_t d[SEGCAM_MAX_DIMS], s[SEGCAM_MAX_DIMS];
  for (int i = 0; i < r; i++) {
    if (x->shape.d[i] == 1) continue;
    if (m > 0 && s[m - 1] == ws[i] * x->shape.d[i]) {
      d[m - 1] *= x->shape.d[i];
      s[m - 1] = ws[i];
    } else {
      d[m] = x->shape.d[i];
      s[m] = ws[i];
      m++;
    }
  }
  if (m == 0) d[0] = 1, s[0] = 0, m = 1;
  c->state->i[PR_M] = m;
  for (int i = 0; i < m; i++) c->state->i[PR_D + i] = d[i], c->state->i[PR_S + i] = s[i];
  c->out[0]->dtype = SC_F32;
  c->out[0]->shape = x->shape;
  return SEGCAM_OK;
}

/* Slope offset of row `row` (all collapsed dims but the last). */
static inline int64_t prelu_row_offset(const sc_node_state *st, int64_t row) {
  int m = (int)st->i[PR_M];
  int64_t off = 0;
  for (int k = m - 2; k >= 0; k--) {
    int64_t dk = st->i[PR_D + k];
    off += (row % dk) * st->i[PR_S + k];
    row /= dk;
  }
  return off;
}

static segcam_status prelu_forward(sc_opctx *c) {
  const sc_node_state *st = c->state;
  const int m = (int)st->i[PR_M];
  const int64_t inner = st->i[PR_D + m - 1], ws = st->i[PR_S + m - 1];
  const int64_t rows = sc_shape_numel(&c->in[0]->shape) / (inner ? inner : 1);
  const float *X = c->in[0]->data; /* [rows, inner] */
  const float *W = c->in[1]->data; /* slope, broadcast */
  float *Y = c->out[0]->data;      /* [rows, inner] */
  if (inner == 0) return SEGCAM_OK;
#pragma omp parallel for schedule(static) if (rows * inner > 16384)
  for (int64_t r = 0; r < rows; r++) {
    const float *x = X + r * inner, *w = W + prelu_row_offset(st, r);
    float *y = Y + r * inner;
    for (int64_t i = 0; i < inner; i++) y[i] = x[i] < 0 ? w[i * ws] * x[i] : x[i];
  }
  return SEGCAM_OK;
}

/* Data gradient only (the slope is a weight).  PyTorch prelu backward: g for x > 0, slope*g
 * otherwise. */
static segcam_status prelu_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const sc_node_state *st = c->state;
  const int m = (int)st->i[PR_M];
  const int64_t inner = st->i[PR_D + m - 1], ws = st->i[PR_S + m - 1];
  const int64_t rows = sc_shape_numel(&c->in[0]->shape) / (inner ? inner : 1);
  const float *X = c->in[0]->data; /* [rows, inner] */
  const float *W = c->in[1]->data;
  const float *G = c->dout[0]; /* [rows, inner] */
  float *dX = c->din[0];       /* [rows, inner] */
  if (inner == 0) return SEGCAM_OK;
#pragma omp parallel for schedule(static) if (rows * inner > 16384)
  for (int64_t r = 0; r < rows; r++) {
    const float *x = X + r * inner, *g = G + r * inner, *w = W + prelu_row_offset(st, r);
    float *dx = dX + r * inner;
    for (int64_t i = 0; i < inner; i++) dx[i] += x[i] > 0 ? g[i] : w[i * ws] * g[i];
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_prelu = {
    .name = "prelu",
    .infer = prelu_infer,
    .forward = prelu_forward,
    .backward = prelu_backward,
    .bw_needs = SC_NEEDS_IN(0) | SC_NEEDS_IN(1),
};
