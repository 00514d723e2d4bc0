/* Resize (ONNX Resize 10..19 and Upsample 7/9; Keras UpSampling2D / Resizing through the
 * loaders): nearest, linear and cubic interpolation with every ONNX coordinate_transformation_mode,
 * and the backward pass as the exact transpose of the forward.
 *
 * Interpolation is separable.  Each resized axis gets a table of taps (source index, weight) per
 * output index; the output is the sum over the outer product of the two tables, and the backward
 * scatters the output gradient through the same tables.  Coordinates are computed in float32 as
 * onnxruntime does (FORMATS_AND_NUMERICS §5.2); this also agrees with PyTorch where float64 would
 * not (nearest 6 -> 4, asymmetric: 2 / (4/6.f) is 3 in float32, 2.9999999 in float64, and
 * PyTorch picks source 3).  Only the last two axes may change (H, W of
 * NCHW, or the last axes of a rank-1..3 tensor); infer rejects a resize along any other axis that
 * is not an exact identity.
 * Not here: opset 18's antialias, keep_aspect_ratio_policy and `axes` (the loader expands `axes`
 * into full-rank scales/sizes or rejects the node), and TF's 1/1024 bicubic weight table. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

enum { IN_X = 0, IN_ROI = 1, IN_SCALES = 2, IN_SIZES = 3 };

#define MAX_TAPS 4
/* Largest accepted output length along one axis and output element count. */
#define RESIZE_DIM_MAX ((int64_t)1 << 30)
#define RESIZE_NUMEL_MAX ((int64_t)1 << 36)

/* One axis: lengths, the scale used by the coordinate transform and the roi of
 * tf_crop_and_resize. */
typedef struct axis_map {
  int64_t in, out;
  float scale; /* the given scale, or out/in in float32 when sizes are given (as ORT) */
  float roi0, roi1;
} axis_map;

static int n_taps(sc_resize_mode m) {
  return m == SC_RESIZE_NEAREST ? 1 : m == SC_RESIZE_LINEAR ? 2 : 4;
}

/* Source coordinate of output index o (Operators.md Resize, coordinate_transformation_mode),
 * evaluated in float32 like onnxruntime's get_original_coordinate. */
static float source_coord(const sc_resize_params *pr, const axis_map *m, int64_t o) {
  float x = (float)o, s = m->scale, in = (float)m->in, out = (float)m->out;
  switch (pr->coord) {
  case SC_COORD_HALF_PIXEL: return (x + 0.5f) / s - 0.5f;
  case SC_COORD_PYTORCH_HALF_PIXEL: return m->out > 1 ? (x + 0.5f) / s - 0.5f : 0.0f;
  case SC_COORD_ALIGN_CORNERS: return m->out > 1 ? x * (in - 1) / (out - 1) : 0.0f;
  case SC_COORD_ASYMMETRIC: return x / s;
  case SC_COORD_TF_HALF_PIXEL_FOR_NN: return (x + 0.5f) / s;
  case SC_COORD_TF_CROP_AND_RESIZE:
    return m->out > 1 ? m->roi0 * (in - 1) + x * (m->roi1 - m->roi0) * (in - 1) / (out - 1)
                      : 0.5f * (m->roi0 + m->roi1) * (in - 1);
  case SC_COORD_HALF_PIXEL_SYMMETRIC: {
    /* opset 19: centre the (possibly fractional) scaled extent when out was floored */
    float adjustment = out / (s * in), offset = in / 2 * (1 - adjustment);
    return offset + (x + 0.5f) / s - 0.5f;
  }
  }
  return 0.0f;
}

/* Nearest source index before clamping (ORT's GetNearestPixelFromOriginal); x is finite. */
static double nearest_pixel(sc_nearest_mode mode, float x, int downsampling) {
  switch (mode) {
  case SC_NEAREST_ROUND_PREFER_FLOOR: return x == floorf(x) + 0.5f ? floorf(x) : roundf(x);
  case SC_NEAREST_ROUND_PREFER_CEIL: return roundf(x);
  case SC_NEAREST_FLOOR: return floorf(x);
  case SC_NEAREST_CEIL: return ceilf(x);
  case SC_NEAREST_SIMPLE: return downsampling ? ceilf(x) : truncf(x);
  }
  return floorf(x);
}

static int64_t clamp_index(double v, int64_t in) {
  if (!(v > 0)) return 0; /* also NaN */
  if (v > (double)(in - 1)) return in - 1;
  return (int64_t)v;
}

/* Keys cubic convolution kernel at distance t >= 0 with coefficient a (cubic_coeff_a). */
static double keys_weight(double t, double a) {
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/* Taps of output index o along one axis: source indices in [0, in) and weights (n_taps of the
 * mode).  Returns 1 when the output takes extrapolation_value instead (tf_crop_and_resize with a
 * source coordinate outside [0, in-1]), else 0. */
static int axis_taps(const sc_resize_params *pr, const axis_map *m, int64_t o, int64_t *idx,
                     float *w) {
  if (pr->mode == SC_RESIZE_NEAREST && m->scale == 1.0f && m->out == m->in) {
    /* onnxruntime maps a nearest axis of scale 1 one-to-one without any coordinate transform,
     * which matters for tf_half_pixel_for_nn + round_prefer_ceil and for a roi on that axis */
    idx[0] = o;
    w[0] = 1;
    return 0;
  }
  float x = source_coord(pr, m, o);
  float last = (float)(m->in - 1);
  if (pr->coord == SC_COORD_TF_CROP_AND_RESIZE && !(x >= 0 && x <= last)) return 1;
  if (!isfinite(x)) x = 0;
  switch (pr->mode) {
  case SC_RESIZE_NEAREST:
    idx[0] = clamp_index(nearest_pixel(pr->nearest, x, m->scale < 1), m->in);
    w[0] = 1;
    return 0;
  case SC_RESIZE_LINEAR: {
    /* out-of-range coordinates take the edge value (ORT clamps; the reference pads 'edge') */
    if (x < 0) x = 0;
    if (x > last) x = last;
    int64_t i0 = clamp_index(floorf(x), m->in);
    float f = x - (float)i0;
    idx[0] = i0;
    idx[1] = i0 + 1 < m->in ? i0 + 1 : i0;
    w[0] = 1 - f;
    w[1] = f;
    return 0;
  }
  case SC_RESIZE_CUBIC: {
    double fl = floor(x), f = (double)x - fl, a = pr->cubic_a, sum = 0;
    const double dist[MAX_TAPS] = {1 + f, f, 1 - f, 2 - f};
    double wd[MAX_TAPS];
    for (int t = 0; t < MAX_TAPS; t++) {
      double src = fl - 1 + t;
      wd[t] = keys_weight(dist[t], a);
      /* exclude_outside: taps outside the image get weight 0 and the rest are renormalised;
       * otherwise out-of-range taps read the edge pixel */
      if (pr->exclude_outside && (src < 0 || src > (double)(m->in - 1))) wd[t] = 0;
      sum += wd[t];
      idx[t] = clamp_index(src, m->in);
    }
    for (int t = 0; t < MAX_TAPS; t++)
      w[t] = (float)(pr->exclude_outside && sum != 0 ? wd[t] / sum : wd[t]);
    return 0;
  }
  }
  return 1;
}

/* Whether the axis maps every output index to the same input index with weight 1. */
static int axis_is_identity(const sc_resize_params *pr, const axis_map *m) {
  if (m->in != m->out) return 0;
  int64_t idx[MAX_TAPS];
  float w[MAX_TAPS];
  int T = n_taps(pr->mode);
  for (int64_t o = 0; o < m->out; o++) {
    if (axis_taps(pr, m, o, idx, w)) return 0;
    float self = 0;
    for (int t = 0; t < T; t++) {
      if (idx[t] == o)
        self += w[t];
      else if (w[t] != 0)
        return 0;
    }
    if (self != 1) return 0;
  }
  return 1;
}

/* Reads a constant optional input: 0 if omitted or empty (ONNX: an empty tensor is omitted),
 * else its element count; non-constant data is an error. */
static segcam_status const_input(const sc_opctx *c, int i, const char *what, sc_dtype dtype,
                                 int64_t *n) {
  *n = 0;
  if (i >= c->node->n_in || !c->in[i]) return SEGCAM_OK;
  const sc_tensor *t = c->in[i];
  int64_t numel = sc_shape_numel(&t->shape);
  if (numel == 0) return SEGCAM_OK;
  if (!c->in_const[i] || !t->data)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "%s must be a constant (or constant-foldable) tensor", what);
  if (t->dtype != dtype)
    return sc_node_error(c, SEGCAM_E_SHAPE, "%s must be %s", what,
                         dtype == SC_F32 ? "float" : "int64");
  *n = numel;
  return SEGCAM_OK;
}

/* Session state: i[0] planes (product of the leading axes), i[1..2] H, W, i[3..4] P, Q;
 * f[0..1] scale_h, scale_w, f[2..5] roi h0, h1, w0, w1.  Rank-1 inputs use H = P = 1. */
static void state_axes(const sc_node_state *st, axis_map *ah, axis_map *aw) {
  ah->in = st->i[1];
  aw->in = st->i[2];
  ah->out = st->i[3];
  aw->out = st->i[4];
  ah->scale = (float)st->f[0];
  aw->scale = (float)st->f[1];
  ah->roi0 = (float)st->f[2];
  ah->roi1 = (float)st->f[3];
  aw->roi0 = (float)st->f[4];
  aw->roi1 = (float)st->f[5];
}

static segcam_status resize_infer(sc_opctx *c) {
  const sc_resize_params *pr = c->node->params;
  const sc_tensor *x = c->in[IN_X];
  if (!pr) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing resize parameters");
  if (!x || x->dtype != SC_F32 || x->shape.ndim < 1)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input X must be a float tensor of rank >= 1");
  if ((unsigned)pr->mode > SC_RESIZE_CUBIC || (unsigned)pr->coord > SC_COORD_HALF_PIXEL_SYMMETRIC ||
      (unsigned)pr->nearest > SC_NEAREST_SIMPLE)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown mode/coordinate/nearest setting");
  const int r = x->shape.ndim;
  for (int a = 0; a < r; a++)
    if (x->shape.d[a] < 1 || x->shape.d[a] > RESIZE_DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input dimension %d is %lld", a,
                           (long long)x->shape.d[a]);

  int64_t n_roi, n_scales, n_sizes;
  SC_TRY(const_input(c, IN_SCALES, "scales", SC_F32, &n_scales));
  SC_TRY(const_input(c, IN_SIZES, "sizes", SC_I64, &n_sizes));
  if (n_scales && n_sizes)
    return sc_node_error(c, SEGCAM_E_SHAPE, "only one of scales and sizes may be given");
  if ((n_scales && n_scales != r) || (n_sizes && n_sizes != r))
    return sc_node_error(c, SEGCAM_E_SHAPE, "%s has %lld elements for a rank-%d input",
                         n_scales ? "scales" : "sizes", (long long)(n_scales + n_sizes), r);
  if (!n_scales && !n_sizes && (pr->n_fixed < 1 || pr->n_fixed > r))
    return sc_node_error(c, SEGCAM_E_SHAPE, "neither scales nor sizes given (%d fixed axes)",
                         pr->n_fixed);
  const float *roi = NULL;
  if (pr->coord == SC_COORD_TF_CROP_AND_RESIZE) {
    SC_TRY(const_input(c, IN_ROI, "roi", SC_F32, &n_roi));
    if (n_roi != 2 * r)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "tf_crop_and_resize needs a constant roi of %d elements (got %lld)",
                           2 * r, (long long)n_roi);
    roi = c->in[IN_ROI]->data;
  }

  axis_map ax[SEGCAM_MAX_DIMS];
  int64_t numel = 1;
  for (int a = 0; a < r; a++) {
    axis_map *m = &ax[a];
    m->in = x->shape.d[a];
    m->out = m->in;
    m->scale = 1;
    m->roi0 = roi ? roi[a] : 0;
    m->roi1 = roi ? roi[r + a] : 1;
    float s = 0;
    int64_t size = 0;
    if (n_scales) {
      s = ((const float *)c->in[IN_SCALES]->data)[a];
    } else if (n_sizes) {
      size = ((const int64_t *)c->in[IN_SIZES]->data)[a];
    } else if (a >= r - pr->n_fixed) {
      int k = a - (r - pr->n_fixed);
      if (pr->fixed_sizes[k] > 0)
        size = pr->fixed_sizes[k];
      else
        s = pr->fixed_scales[k] > 0 ? pr->fixed_scales[k] : 1.0f;
    } else {
      s = 1.0f;
    }
    if (size != 0 || n_sizes) {
      if (size < 1 || size > RESIZE_DIM_MAX)
        return sc_node_error(c, SEGCAM_E_SHAPE,
                             "output size %lld along axis %d is not in [1, 2^30]", (long long)size,
                             a);
      m->out = size;
      m->scale = (float)size / (float)m->in;
    } else {
      if (!(s > 0) || !isfinite(s))
        return sc_node_error(c, SEGCAM_E_SHAPE, "scale %g along axis %d must be positive", s, a);
      /* ORT truncates scale * in computed in float32 */
      float o = s * (float)m->in;
      if (!(o < (float)RESIZE_DIM_MAX))
        return sc_node_error(c, SEGCAM_E_SHAPE, "scale %g along axis %d gives an absurd size", s,
                             a);
      m->out = (int64_t)o;
      m->scale = s;
      if (m->out < 1)
        return sc_node_error(c, SEGCAM_E_SHAPE,
                             "scale %g along axis %d gives an output size of 0 (input %lld)", s, a,
                             (long long)m->in);
    }
    numel *= m->out;
    if (numel > RESIZE_NUMEL_MAX)
      return sc_node_error(c, SEGCAM_E_NOMEM, "output of more than 2^36 elements");
  }

  /* The kernel resizes the last two axes; a leading axis must map onto itself. */
  int64_t planes = 1;
  for (int a = 0; a < r - 2; a++) {
    /* a leading axis of scale 1 is left alone whatever the coordinate mode, as onnxruntime's
     * bilinear/bicubic kernels (which only look at H, W) and its nearest kernel do */
    int keep = ax[a].scale == 1.0f && ax[a].out == ax[a].in;
    if (!keep && !axis_is_identity(pr, &ax[a]))
      return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                           "resizing axis %d (%lld -> %lld) is not supported: only the last two "
                           "axes may be resized",
                           a, (long long)ax[a].in, (long long)ax[a].out);
    planes *= ax[a].in;
  }
  axis_map one = {1, 1, 1.0f, 0.0f, 1.0f};
  const axis_map *ah = r >= 2 ? &ax[r - 2] : &one, *aw = &ax[r - 1];
  sc_node_state *st = c->state;
  st->i[0] = planes;
  st->i[1] = ah->in;
  st->i[2] = aw->in;
  st->i[3] = ah->out;
  st->i[4] = aw->out;
  st->f[0] = ah->scale;
  st->f[1] = aw->scale;
  st->f[2] = ah->roi0;
  st->f[3] = ah->roi1;
  st->f[4] = aw->roi0;
  st->f[5] = aw->roi1;

  /* scratch: index, weight and extrapolation tables for the P + Q output rows/columns */
  size_t n = (size_t)(ah->out + aw->out), T = (size_t)n_taps(pr->mode);
  c->scratch_size = n * T * (sizeof(int64_t) + sizeof(float)) + n;

  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = r;
  for (int a = 0; a < r; a++) y->shape.d[a] = ax[a].out;
  return SEGCAM_OK;
}

/* The per-axis tables, carved out of scratch: for output index o, taps idx[o*T + t] with weights
 * w[o*T + t], and ext[o] = 1 when o takes extrapolation_value. */
typedef struct axis_table {
  const int64_t *idx;
  const float *w;
  const unsigned char *ext;
} axis_table;

static void build_tables(const sc_opctx *c, axis_table *th, axis_table *tw) {
  const sc_resize_params *pr = c->node->params;
  axis_map ah, aw;
  state_axes(c->state, &ah, &aw);
  int T = n_taps(pr->mode);
  size_t n = (size_t)(ah.out + aw.out);
  int64_t *idx = c->scratch;
  float *w = (float *)(idx + n * T);
  unsigned char *ext = (unsigned char *)(w + n * T);
  for (int64_t o = 0; o < ah.out; o++)
    ext[o] = (unsigned char)axis_taps(pr, &ah, o, idx + o * T, w + o * T);
  for (int64_t o = 0; o < aw.out; o++) {
    size_t k = (size_t)(ah.out + o);
    ext[k] = (unsigned char)axis_taps(pr, &aw, o, idx + k * T, w + k * T);
  }
  th->idx = idx;
  th->w = w;
  th->ext = ext;
  tw->idx = idx + ah.out * T;
  tw->w = w + ah.out * T;
  tw->ext = ext + ah.out;
}

static segcam_status resize_forward(sc_opctx *c) {
  const sc_resize_params *pr = c->node->params;
  const sc_node_state *st = c->state;
  const int64_t planes = st->i[0], H = st->i[1], W = st->i[2], P = st->i[3], Q = st->i[4];
  const int T = n_taps(pr->mode);
  const float ev = pr->extrapolation_value;
  axis_table th, tw;
  build_tables(c, &th, &tw);
  const float *X = c->in[IN_X]->data; /* [planes, H, W] */
  float *Y = c->out[0]->data;         /* [planes, P, Q] */
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < planes; b++)
    for (int64_t p = 0; p < P; p++) {
      const float *x = X + b * H * W;
      float *y = Y + (b * P + p) * Q;
      if (th.ext[p]) {
        for (int64_t q = 0; q < Q; q++) y[q] = ev;
        continue;
      }
      for (int64_t q = 0; q < Q; q++) {
        if (tw.ext[q]) {
          y[q] = ev;
          continue;
        }
        const int64_t *iw = tw.idx + q * T;
        const float *ww = tw.w + q * T;
        float acc = 0;
        for (int i = 0; i < T; i++) {
          float wh = th.w[p * T + i];
          if (wh == 0) continue;
          const float *row = x + th.idx[p * T + i] * W;
          float racc = 0;
          for (int j = 0; j < T; j++) racc += ww[j] * row[iw[j]];
          acc += wh * racc;
        }
        y[q] = acc;
      }
    }
  return SEGCAM_OK;
}

/* Transpose of the forward: dX[b, ih, iw] += wh * ww * dY[b, p, q] through the same tables;
 * extrapolated outputs are constants and pass no gradient.  Planes are independent. */
static segcam_status resize_backward(sc_opctx *c) {
  if (!c->din[IN_X]) return SEGCAM_OK;
  const sc_resize_params *pr = c->node->params;
  const sc_node_state *st = c->state;
  const int64_t planes = st->i[0], H = st->i[1], W = st->i[2], P = st->i[3], Q = st->i[4];
  const int T = n_taps(pr->mode);
  axis_table th, tw;
  build_tables(c, &th, &tw);
  const float *dY = c->dout[0]; /* [planes, P, Q] */
  float *dX = c->din[IN_X];     /* [planes, H, W] */
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < planes; b++) {
    float *dx = dX + b * H * W;
    for (int64_t p = 0; p < P; p++) {
      if (th.ext[p]) continue;
      const float *dy = dY + (b * P + p) * Q;
      for (int i = 0; i < T; i++) {
        float wh = th.w[p * T + i];
        if (wh == 0) continue;
        float *row = dx + th.idx[p * T + i] * W;
        for (int64_t q = 0; q < Q; q++) {
          if (tw.ext[q]) continue;
          float g = wh * dy[q];
          for (int j = 0; j < T; j++) row[tw.idx[q * T + j]] += tw.w[q * T + j] * g;
        }
      }
    }
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_resize = {.name = "resize",
                               .infer = resize_infer,
                               .forward = resize_forward,
                               .backward = resize_backward};
