/* Data-movement ops: Concat, Identity, Reshape (Reshape / Flatten / Squeeze / Unsqueeze),
 * Transpose, Pad and Slice, forward and backward.  Forward works on float32 and int64 (shape
 * arithmetic is folded through these too); backward only on float32.
 *
 * Shape-determining inputs (Reshape's shape, Squeeze/Unsqueeze axes, Pad's pads and axes, Slice's
 * starts/ends/axes/steps) must be constants or folded before the run: infer reads them and keeps
 * the resolved numbers in the node state.  Transpose and Slice share one strided-copy routine,
 * with a tiled path for the 2-D transposes NCHW <-> NHWC reduce to.
 * Not here: Split, Tile, Expand (loader translations), DepthToSpace (depth_space.c). */
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

#define PAR_MIN 16384
#define CHUNK 4096
#define TILE 32

static size_t esize(sc_dtype t) { return t == SC_I64 ? 8 : 4; }


static segcam_status check_io(const sc_opctx *c, int n_in) {
  if (c->node->n_in < n_in || !c->in[0] || c->node->n_out < 1 || !c->out[0])
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs at least %d input(s) and one output", n_in);
  return sc_check_tensor(c, c->in[0], "input", SC_DT_F32 | SC_DT_I64);
}

/* Reads constant int64 1-D (or scalar) input i into v[0..*n); max entries `cap`. */
static segcam_status const_ints(const sc_opctx *c, int i, const char *what, int64_t *v, int *n,
                                int cap) {
  const sc_tensor *t = c->in[i];
  if (!t->data)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "%s (input %d) must be a constant or folded before the run", what, i);
  if (t->dtype != SC_I64)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "%s (input %d) must be int64", what, i);
  if (t->shape.ndim > 1)
    return sc_node_error(c, SEGCAM_E_SHAPE, "%s (input %d) must be 1-D", what, i);
  int64_t k = sc_shape_numel(&t->shape);
  if (k < 0 || k > cap)
    return sc_node_error(c, SEGCAM_E_SHAPE, "%s has %" PRId64 " entries (at most %d)", what, k,
                         cap);
  memcpy(v, t->data, (size_t)k * sizeof(int64_t));
  *n = (int)k;
  return SEGCAM_OK;
}

static void contiguous_strides(const sc_shape *s, int64_t *st) {
  int64_t acc = 1;
  for (int i = s->ndim - 1; i >= 0; i--) st[i] = acc, acc *= s->d[i];
}

/* Backward helper: dx[0..n) += g[0..n). */
static void add_into(float *dx, const float *g, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
  for (int64_t i = 0; i < n; i++) dx[i] += g[i];
}

/* ---- strided copy (Transpose, Slice) -------------------------------------------------------- */

/* Walks a tensor of `dims` laid out contiguously in `cp` and, element for element, a strided view
 * `sp` (element strides, may be negative).  mode 0: cp[i] = sp[off(i)] (any element size);
 * mode 1: float sp[off(i)] += cp[i] (backward; the view never repeats an element). */
static void nd_strided(int nd, const int64_t *dims, const int64_t *strides, void *sp, void *cp,
                       size_t es, int mode) {
  int m = 0;
  int64_t d[SEGCAM_MAX_DIMS], s[SEGCAM_MAX_DIMS];
  for (int i = 0; i < nd; i++) {
    if (dims[i] == 0) return;
    if (dims[i] == 1) continue;
    if (m > 0 && s[m - 1] == strides[i] * dims[i]) {
      d[m - 1] *= dims[i];
      s[m - 1] = strides[i];
    } else {
      d[m] = dims[i];
      s[m] = strides[i];
      m++;
    }
  }
  if (m == 0) d[0] = 1, s[0] = 1, m = 1;
  int64_t total = 1;
  for (int i = 0; i < m; i++) total *= d[i];
  if (m >= 2 && s[m - 1] != 1 && s[m - 2] == 1) {
    /* a batch of 2-D transposes [P, Q] with view strides [1, sq]: 32x32 tiles */
    const int64_t P = d[m - 2], Q = d[m - 1], sq = s[m - 1];
    const int64_t rows = total / (P * Q), pt = (P + TILE - 1) / TILE, qt = (Q + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
    for (int64_t t = 0; t < rows * pt * qt; t++) {
      const int64_t r = t / (pt * qt), p0 = (t / qt % pt) * TILE, q0 = (t % qt) * TILE;
      int64_t off = 0, rr = r;
      for (int k = m - 3; k >= 0; k--) off += (rr % d[k]) * s[k], rr /= d[k];
      const int64_t p1 = p0 + TILE < P ? p0 + TILE : P, q1 = q0 + TILE < Q ? q0 + TILE : Q;
      const int64_t cb = r * P * Q;
      for (int64_t q = q0; q < q1; q++)
        for (int64_t p = p0; p < p1; p++) {
          const int64_t so = off + p + q * sq, co = cb + p * Q + q;
          if (mode == 1)
            ((float *)sp)[so] += ((const float *)cp)[co];
          else if (es == 4)
            ((uint32_t *)cp)[co] = ((const uint32_t *)sp)[so];
          else
            ((uint64_t *)cp)[co] = ((const uint64_t *)sp)[so];
        }
    }
    return;
  }
  const int64_t inner = d[m - 1], si = s[m - 1], rows = total / inner;
  const int64_t nch = (inner + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
  for (int64_t t = 0; t < rows * nch; t++) {
    int64_t r = t / nch, i0 = (t % nch) * CHUNK, off = 0, rr = r;
    for (int k = m - 2; k >= 0; k--) off += (rr % d[k]) * s[k], rr /= d[k];
    const int64_t n = inner - i0 < CHUNK ? inner - i0 : CHUNK;
    off += i0 * si;
    const int64_t co = r * inner + i0;
    if (mode == 1) {
      float *x = (float *)sp + off;
      const float *g = (const float *)cp + co;
      for (int64_t i = 0; i < n; i++) x[i * si] += g[i];
    } else if (si == 1) {
      memcpy((char *)cp + co * (int64_t)es, (const char *)sp + off * (int64_t)es, (size_t)n * es);
    } else if (es == 4) {
      const uint32_t *x = (const uint32_t *)sp + off;
      uint32_t *y = (uint32_t *)cp + co;
      for (int64_t i = 0; i < n; i++) y[i] = x[i * si];
    } else {
      const uint64_t *x = (const uint64_t *)sp + off;
      uint64_t *y = (uint64_t *)cp + co;
      for (int64_t i = 0; i < n; i++) y[i] = x[i * si];
    }
  }
}

/* ---- identity ------------------------------------------------------------------------------- */

static segcam_status identity_infer(sc_opctx *c) {
  SC_TRY(check_io(c, 1));
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape = c->in[0]->shape;
  return SEGCAM_OK;
}

/* Shared by Identity and Reshape: the bytes do not change. */
static segcam_status copy_forward(sc_opctx *c) {
  const size_t bytes = (size_t)sc_shape_numel(&c->in[0]->shape) * esize(c->in[0]->dtype);
  if (c->out[0]->data != c->in[0]->data && bytes) memcpy(c->out[0]->data, c->in[0]->data, bytes);
  return SEGCAM_OK;
}

static segcam_status copy_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  add_into(c->din[0], c->dout[0], sc_shape_numel(&c->in[0]->shape));
  return SEGCAM_OK;
}

const sc_opdef sc_op_identity = {
    .name = "identity",
    .infer = identity_infer,
    .forward = copy_forward,
    .backward = copy_backward,
};

/* ---- reshape -------------------------------------------------------------------------------- */

/* Axes of Squeeze/Unsqueeze from the params or constant input 1; *given = 0 if neither. */
static segcam_status reshape_axes(const sc_opctx *c, const sc_reshape_params *p, int64_t *axes,
                                  int *n, int *given) {
  *n = 0;
  *given = 0;
  if (p->n_axes > 0) {
    if (p->n_axes > SEGCAM_MAX_DIMS)
      return sc_node_error(c, SEGCAM_E_SHAPE, "too many axes (%d)", p->n_axes);
    memcpy(axes, p->axes, (size_t)p->n_axes * sizeof(int64_t));
    *n = p->n_axes;
    *given = 1;
  } else if (c->node->n_in > 1 && c->in[1]) {
    SC_TRY(const_ints(c, 1, "axes", axes, n, SEGCAM_MAX_DIMS));
    *given = 1;
  }
  return SEGCAM_OK;
}

/* Normalises axes against rank r (negative count from the end); rejects out-of-range and
 * repeated axes; sets mark[axis] = 1. */
static segcam_status norm_axes(const sc_opctx *c, int64_t *axes, int n, int r, int *mark) {
  for (int i = 0; i < r; i++) mark[i] = 0;
  for (int k = 0; k < n; k++) {
    int64_t a = axes[k];
    if (a < -r || a >= r)
      return sc_node_error(c, SEGCAM_E_SHAPE, "axis %" PRId64 " is out of range for rank %d", a, r);
    if (a < 0) a += r;
    if (mark[a]) return sc_node_error(c, SEGCAM_E_SHAPE, "axis %" PRId64 " is repeated", axes[k]);
    mark[a] = 1;
    axes[k] = a;
  }
  return SEGCAM_OK;
}

static segcam_status reshape_infer(sc_opctx *c) {
  const sc_reshape_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing reshape parameters");
  SC_TRY(check_io(c, 1));
  const sc_shape *in = &c->in[0]->shape;
  const int r = in->ndim;
  const int64_t numel = sc_shape_numel(in);
  char b1[160], b2[160];
  sc_shape out;
  memset(&out, 0, sizeof out);
  switch (p->kind) {
  case SC_RESHAPE_SHAPE: {
    int64_t t[SEGCAM_MAX_DIMS];
    int n;
    if (p->n_shape > 0) {
      if (p->n_shape > SEGCAM_MAX_DIMS)
        return sc_node_error(c, SEGCAM_E_SHAPE, "target rank %d is too large", p->n_shape);
      memcpy(t, p->shape, (size_t)p->n_shape * sizeof(int64_t));
      n = p->n_shape;
    } else {
      if (c->node->n_in < 2 || !c->in[1])
        return sc_node_error(c, SEGCAM_E_FORMAT, "no target shape (input 1 missing)");
      SC_TRY(const_ints(c, 1, "shape", t, &n, SEGCAM_MAX_DIMS));
    }
    int infer_at = -1, has_zero = 0;
    int64_t known = 1;
    out.ndim = n;
    for (int i = 0; i < n; i++) {
      int64_t v = t[i];
      if (v == 0 && !p->allowzero) {
        /* ONNX Reshape: 0 copies the input's dim at the same index */
        if (i >= r)
          return sc_node_error(c, SEGCAM_E_SHAPE,
                               "target dim %d is 0 (copy) but the input %s has only %d dims", i,
                               sc_shape_str(in, b1, sizeof b1), r);
        v = in->d[i];
      } else if (v == -1) {
        if (infer_at >= 0)
          return sc_node_error(c, SEGCAM_E_SHAPE, "target shape has more than one -1");
        infer_at = i;
        continue;
      } else if (v < 0) {
        return sc_node_error(c, SEGCAM_E_SHAPE, "target dim %d is %" PRId64, i, v);
      }
      if (v == 0) has_zero = 1;
      out.d[i] = v;
      if (v > 0 && known > INT64_MAX / v)
        return sc_node_error(c, SEGCAM_E_SHAPE, "target shape is absurdly large");
      known *= v;
    }
    if (infer_at >= 0) {
      if (has_zero && p->allowzero)
        return sc_node_error(c, SEGCAM_E_SHAPE, "target shape has both -1 and 0 with allowzero");
      if (known == 0 || numel % known != 0) {
        out.d[infer_at] = -1;
        return sc_node_error(c, SEGCAM_E_SHAPE, "cannot reshape %s to %s",
                             sc_shape_str(in, b1, sizeof b1), sc_shape_str(&out, b2, sizeof b2));
      }
      out.d[infer_at] = numel / known;
    } else if (known != numel) {
      return sc_node_error(c, SEGCAM_E_SHAPE, "cannot reshape %s (%" PRId64 " elements) to %s",
                           sc_shape_str(in, b1, sizeof b1), numel,
                           sc_shape_str(&out, b2, sizeof b2));
    }
    break;
  }
  case SC_RESHAPE_FLATTEN: {
    int axis = p->axis;
    if (axis < -r || axis > r)
      return sc_node_error(c, SEGCAM_E_SHAPE, "axis %d is out of range for input %s", p->axis,
                           sc_shape_str(in, b1, sizeof b1));
    if (axis < 0) axis += r;
    out.ndim = 2;
    out.d[0] = out.d[1] = 1;
    for (int i = 0; i < r; i++) out.d[i < axis ? 0 : 1] *= in->d[i];
    break;
  }
  case SC_RESHAPE_SQUEEZE: {
    int64_t axes[SEGCAM_MAX_DIMS];
    int n, given, mark[SEGCAM_MAX_DIMS];
    SC_TRY(reshape_axes(c, p, axes, &n, &given));
    SC_TRY(norm_axes(c, axes, n, r, mark));
    for (int i = 0; i < r; i++) {
      if (given && mark[i] && in->d[i] != 1)
        return sc_node_error(c, SEGCAM_E_SHAPE, "cannot squeeze axis %d of %s (size is not 1)", i,
                             sc_shape_str(in, b1, sizeof b1));
      if (given ? !mark[i] : in->d[i] != 1) out.d[out.ndim++] = in->d[i];
    }
    break;
  }
  case SC_RESHAPE_UNSQUEEZE: {
    int64_t axes[SEGCAM_MAX_DIMS];
    int n, given, mark[SEGCAM_MAX_DIMS];
    SC_TRY(reshape_axes(c, p, axes, &n, &given));
    if (!given) return sc_node_error(c, SEGCAM_E_FORMAT, "Unsqueeze without axes");
    const int R = r + n;
    if (R > SEGCAM_MAX_DIMS)
      return sc_node_error(c, SEGCAM_E_SHAPE, "output rank %d exceeds %d", R, SEGCAM_MAX_DIMS);
    SC_TRY(norm_axes(c, axes, n, R, mark));
    out.ndim = R;
    for (int i = 0, k = 0; i < R; i++) out.d[i] = mark[i] ? 1 : in->d[k++];
    break;
  }
  default: return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown reshape kind %d", (int)p->kind);
  }
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape = out;
  return SEGCAM_OK;
}

const sc_opdef sc_op_reshape = {
    .name = "reshape",
    .infer = reshape_infer,
    .forward = copy_forward,
    .backward = copy_backward,
};

/* ---- transpose ------------------------------------------------------------------------------ */

/* out.d[i] = in.d[perm[i]]; no perm reverses the axes (ONNX default).  State i[0..r) = perm. */
static segcam_status transpose_infer(sc_opctx *c) {
  const sc_transpose_params *p = c->node->params;
  SC_TRY(check_io(c, 1));
  const sc_shape *in = &c->in[0]->shape;
  const int r = in->ndim;
  int perm[SEGCAM_MAX_DIMS], seen[SEGCAM_MAX_DIMS] = {0};
  char b1[160];
  if (p && p->n_perm > 0) {
    if (p->n_perm != r)
      return sc_node_error(c, SEGCAM_E_SHAPE, "perm has %d entries for input %s of rank %d",
                           p->n_perm, sc_shape_str(in, b1, sizeof b1), r);
    for (int i = 0; i < r; i++) {
      int a = p->perm[i];
      if (a < 0 || a >= r || seen[a])
        return sc_node_error(c, SEGCAM_E_SHAPE,
                             "perm is not a permutation of 0..%d (entry %d is %d)", r - 1, i, a);
      seen[a] = 1;
      perm[i] = a;
    }
  } else {
    for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
  }
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape.ndim = r;
  for (int i = 0; i < r; i++) {
    c->out[0]->shape.d[i] = in->d[perm[i]];
    c->state->i[i] = perm[i];
  }
  return SEGCAM_OK;
}

/* The input viewed in output order: strides of input axis perm[i] for output axis i. */
static void transpose_view(const sc_opctx *c, int64_t *vs) {
  int64_t st[SEGCAM_MAX_DIMS];
  contiguous_strides(&c->in[0]->shape, st);
  for (int i = 0; i < c->in[0]->shape.ndim; i++) vs[i] = st[c->state->i[i]];
}

static segcam_status transpose_forward(sc_opctx *c) {
  int64_t vs[SEGCAM_MAX_DIMS];
  transpose_view(c, vs);
  nd_strided(c->out[0]->shape.ndim, c->out[0]->shape.d, vs, c->in[0]->data, c->out[0]->data,
             esize(c->in[0]->dtype), 0);
  return SEGCAM_OK;
}

/* The inverse permutation: dx[perm-view] += g. */
static segcam_status transpose_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  int64_t vs[SEGCAM_MAX_DIMS];
  transpose_view(c, vs);
  nd_strided(c->out[0]->shape.ndim, c->out[0]->shape.d, vs, c->din[0], (void *)c->dout[0], 4, 1);
  return SEGCAM_OK;
}

const sc_opdef sc_op_transpose = {
    .name = "transpose",
    .infer = transpose_infer,
    .forward = transpose_forward,
    .backward = transpose_backward,
};

/* ---- concat --------------------------------------------------------------------------------- */

/* Every input [.., d_i, ..] along `axis`; the output is [outer, sum d_i * inner].  State i[0] =
 * normalised axis. */
static segcam_status concat_infer(sc_opctx *c) {
  const sc_concat_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing concat parameters");
  SC_TRY(check_io(c, 1));
  const int n = c->node->n_in < SC_MAX_IO ? c->node->n_in : SC_MAX_IO;
  const sc_shape *s0 = &c->in[0]->shape;
  const int r = s0->ndim;
  char b1[160], b2[160];
  if (c->node->n_in > SC_MAX_IO)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "%d inputs (at most %d)", c->node->n_in,
                         SC_MAX_IO);
  if (r < 1) return sc_node_error(c, SEGCAM_E_SHAPE, "cannot concatenate scalars");
  int axis = p->axis;
  if (axis < -r || axis >= r)
    return sc_node_error(c, SEGCAM_E_SHAPE, "axis %d is out of range for rank %d", p->axis, r);
  if (axis < 0) axis += r;
  sc_shape out = *s0;
  out.d[axis] = 0;
  for (int i = 0; i < n; i++) {
    if (!c->in[i]) return sc_node_error(c, SEGCAM_E_FORMAT, "input %d is missing", i);
    SC_TRY(sc_check_tensor(c, c->in[i], "input", SC_DT_F32 | SC_DT_I64));
    const sc_shape *s = &c->in[i]->shape;
    if (c->in[i]->dtype != c->in[0]->dtype)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input %d has another type than input 0", i);
    int ok = s->ndim == r;
    for (int k = 0; k < r && ok; k++) ok = k == axis || s->d[k] == s0->d[k];
    if (!ok)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "input %d %s does not match input 0 %s outside axis %d", i,
                           sc_shape_str(s, b1, sizeof b1), sc_shape_str(s0, b2, sizeof b2), axis);
    out.d[axis] += s->d[axis];
  }
  c->state->i[0] = axis;
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape = out;
  return SEGCAM_OK;
}

static void concat_dims(const sc_opctx *c, int64_t *outer, int64_t *inner) {
  const int axis = (int)c->state->i[0];
  const sc_shape *s = &c->out[0]->shape;
  *outer = *inner = 1;
  for (int k = 0; k < s->ndim; k++) {
    if (k < axis) *outer *= s->d[k];
    if (k > axis) *inner *= s->d[k];
  }
}

static segcam_status concat_forward(sc_opctx *c) {
  const int axis = (int)c->state->i[0], n = c->node->n_in;
  const size_t es = esize(c->in[0]->dtype);
  int64_t outer, inner, off[SC_MAX_IO + 1] = {0};
  concat_dims(c, &outer, &inner);
  for (int i = 0; i < n; i++) off[i + 1] = off[i] + c->in[i]->shape.d[axis] * inner;
  const int64_t row = off[n]; /* output [outer, row] */
  char *Y = c->out[0]->data;
#pragma omp parallel for schedule(static) if (outer * row > PAR_MIN)
  for (int64_t t = 0; t < outer * n; t++) {
    const int64_t o = t / n;
    const int i = (int)(t % n);
    const int64_t len = off[i + 1] - off[i]; /* input i is [outer, len] */
    if (len)
      memcpy(Y + (o * row + off[i]) * (int64_t)es,
             (const char *)c->in[i]->data + o * len * (int64_t)es, (size_t)len * es);
  }
  return SEGCAM_OK;
}

/* Splits the gradient: dx_i += g[:, off_i : off_i + len_i]. */
static segcam_status concat_backward(sc_opctx *c) {
  const int axis = (int)c->state->i[0], n = c->node->n_in;
  if (c->in[0]->dtype != SC_F32) {
    for (int i = 0; i < n; i++)
      if (c->din[i])
        return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
    return SEGCAM_OK;
  }
  int64_t outer, inner, off[SC_MAX_IO + 1] = {0};
  concat_dims(c, &outer, &inner);
  for (int i = 0; i < n; i++) off[i + 1] = off[i] + c->in[i]->shape.d[axis] * inner;
  const int64_t row = off[n];
  const float *G = c->dout[0]; /* [outer, row] */
#pragma omp parallel for schedule(static) if (outer * row > PAR_MIN)
  for (int64_t t = 0; t < outer * n; t++) {
    const int64_t o = t / n;
    const int i = (int)(t % n);
    if (!c->din[i]) continue;
    const int64_t len = off[i + 1] - off[i];
    float *dx = c->din[i] + o * len;
    const float *g = G + o * row + off[i];
    for (int64_t k = 0; k < len; k++) dx[k] += g[k];
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_concat = {
    .name = "concat",
    .infer = concat_infer,
    .forward = concat_forward,
    .backward = concat_backward,
};

/* ---- pad ------------------------------------------------------------------------------------ */

/* ONNX Pad (2, 11, 18, 19) and Keras ZeroPadding: out.d = d + begin + end; negative pads crop.
 * Output coordinate o reads input coordinate s = o - begin when 0 <= s < d; outside, constant
 * mode writes the value, edge clamps, wrap takes s mod d, and reflect mirrors without repeating
 * the edge (numpy 'reflect'; pads wider than d-1 keep reflecting, period 2(d-1); a size-1 axis
 * repeats its element).  State: i[0..8) begin, i[8..16) end per axis. */
enum { PD_BEGIN = 0, PD_END = SEGCAM_MAX_DIMS };

static segcam_status pad_infer(sc_opctx *c) {
  const sc_pad_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing pad parameters");
  SC_TRY(check_io(c, 1));
  if ((unsigned)p->mode > SC_PADMODE_WRAP)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown pad mode %d", (int)p->mode);
  const sc_shape *in = &c->in[0]->shape;
  const int r = in->ndim;
  char b1[160];
  int64_t pads[2 * SEGCAM_MAX_DIMS], axes[SEGCAM_MAX_DIMS];
  int np, na = r, mark[SEGCAM_MAX_DIMS];
  if (p->n_pads > 0) {
    if (p->n_pads > 2 * SEGCAM_MAX_DIMS)
      return sc_node_error(c, SEGCAM_E_SHAPE, "too many pads (%d)", p->n_pads);
    memcpy(pads, p->pads, (size_t)p->n_pads * sizeof(int64_t));
    np = p->n_pads;
  } else {
    if (c->node->n_in < 2 || !c->in[1])
      return sc_node_error(c, SEGCAM_E_FORMAT, "no pads (input 1 missing)");
    SC_TRY(const_ints(c, 1, "pads", pads, &np, 2 * SEGCAM_MAX_DIMS));
  }
  if (c->node->n_in > 3 && c->in[3]) {
    SC_TRY(const_ints(c, 3, "axes", axes, &na, SEGCAM_MAX_DIMS));
    SC_TRY(norm_axes(c, axes, na, r, mark));
  } else {
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  if (np != 2 * na)
    return sc_node_error(c, SEGCAM_E_SHAPE, "%d pads for %d axes of input %s (need %d)", np, na,
                         sc_shape_str(in, b1, sizeof b1), 2 * na);
  if (c->node->n_in > 2 && c->in[2] && sc_shape_numel(&c->in[2]->shape) != 1)
    return sc_node_error(c, SEGCAM_E_SHAPE, "constant_value must be a scalar");
  sc_shape out = *in;
  for (int i = 0; i < r; i++) c->state->i[PD_BEGIN + i] = c->state->i[PD_END + i] = 0;
  for (int k = 0; k < na; k++) {
    const int a = (int)axes[k];
    const int64_t b = pads[k], e = pads[na + k];
    if (b < -(int64_t)1e12 || b > (int64_t)1e12 || e < -(int64_t)1e12 || e > (int64_t)1e12)
      return sc_node_error(c, SEGCAM_E_SHAPE, "absurd pads on axis %d", a);
    out.d[a] = in->d[a] + b + e;
    if (out.d[a] < 0)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "pads %" PRId64 ",%" PRId64 " crop more than the %" PRId64
                           " elements of axis %d",
                           b, e, in->d[a], a);
    if (p->mode != SC_PADMODE_CONSTANT && in->d[a] == 0 && out.d[a] > 0)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "cannot pad the empty axis %d in reflect, edge or wrap mode", a);
    c->state->i[PD_BEGIN + a] = b;
    c->state->i[PD_END + a] = e;
  }
  sc_tensor tmp = {c->in[0]->dtype, out, NULL};
  SC_TRY(sc_check_tensor(c, &tmp, "output", SC_DT_F32 | SC_DT_I64));
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape = out;
  return SEGCAM_OK;
}

/* Input coordinate for output coordinate o on an axis of size d padded by b at the start; -1 for
 * a constant cell. */
static inline int64_t pad_src(int64_t o, int64_t b, int64_t d, sc_pad_mode mode) {
  int64_t s = o - b;
  if (s >= 0 && s < d) return s;
  switch (mode) {
  case SC_PADMODE_CONSTANT: return -1;
  case SC_PADMODE_EDGE: return s < 0 ? 0 : d - 1;
  case SC_PADMODE_WRAP: s %= d; return s < 0 ? s + d : s;
  case SC_PADMODE_REFLECT: {
    if (d == 1) return 0;
    int64_t per = 2 * (d - 1);
    s %= per;
    if (s < 0) s += per;
    return s < d ? s : per - s;
  }
  }
  return -1;
}

/* Input row offset (elements) of output row `row` (all dims but the last), or -1. */
static inline int64_t pad_row(const sc_opctx *c, int64_t row, const int64_t *ist) {
  const sc_pad_params *p = c->node->params;
  const sc_shape *in = &c->in[0]->shape, *out = &c->out[0]->shape;
  int64_t off = 0;
  for (int k = out->ndim - 2; k >= 0; k--) {
    int64_t o = row % out->d[k];
    row /= out->d[k];
    int64_t s = pad_src(o, c->state->i[PD_BEGIN + k], in->d[k], p->mode);
    if (s < 0) return -1;
    off += s * ist[k];
  }
  return off;
}

static segcam_status pad_forward(sc_opctx *c) {
  const sc_pad_params *p = c->node->params;
  const sc_shape *in = &c->in[0]->shape, *out = &c->out[0]->shape;
  const int64_t total = sc_shape_numel(out);
  if (total == 0) return SEGCAM_OK;
  const int is_f32 = c->in[0]->dtype == SC_F32;
  double value = p->value;
  if (c->node->n_in > 2 && c->in[2] && c->in[2]->data)
    value = c->in[2]->dtype == SC_I64 ? (double)*(const int64_t *)c->in[2]->data
                                      : (double)*(const float *)c->in[2]->data;
  if (out->ndim == 0) return copy_forward(c);
  int64_t ist[SEGCAM_MAX_DIMS];
  contiguous_strides(in, ist);
  const int r = out->ndim;
  const int64_t W = out->d[r - 1], w = in->d[r - 1], b = c->state->i[PD_BEGIN + r - 1];
  const int64_t rows = total / W;
  /* output columns [m0, m1) read input columns [m0 - b, m1 - b) contiguously */
  const int64_t m0 = b > 0 ? b : 0, m1 = b + w < W ? b + w : W;
  const float vf = (float)value;
  const int64_t vi = (int64_t)value;
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
  for (int64_t row = 0; row < rows; row++) {
    const int64_t src = pad_row(c, row, ist);
    if (is_f32) {
      float *y = (float *)c->out[0]->data + row * W;
      if (src < 0) {
        for (int64_t o = 0; o < W; o++) y[o] = vf;
        continue;
      }
      const float *x = (const float *)c->in[0]->data + src;
      for (int64_t o = 0; o < W; o++) {
        if (o == m0 && m1 > m0) {
          memcpy(y + m0, x + (m0 - b), (size_t)(m1 - m0) * sizeof(float));
          o = m1 - 1;
          continue;
        }
        int64_t s = pad_src(o, b, w, p->mode);
        y[o] = s < 0 ? vf : x[s];
      }
    } else {
      int64_t *y = (int64_t *)c->out[0]->data + row * W;
      const int64_t *x = (const int64_t *)c->in[0]->data;
      for (int64_t o = 0; o < W; o++) {
        int64_t s = src < 0 ? -1 : pad_src(o, b, w, p->mode);
        y[o] = s < 0 ? vi : x[src + s];
      }
    }
  }
  return SEGCAM_OK;
}

/* dx[src(o)] += g[o] for every output cell that reads an input cell.  Constant mode reads each
 * input cell at most once (the gradient is a slice of g); edge/reflect/wrap may read one cell
 * many times, so only rows that differ in the leading unpadded axes run in parallel. */
static segcam_status pad_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  const sc_pad_params *p = c->node->params;
  const sc_shape *in = &c->in[0]->shape, *out = &c->out[0]->shape;
  const int64_t total = sc_shape_numel(out);
  if (total == 0) return SEGCAM_OK;
  if (out->ndim == 0) return copy_backward(c);
  int64_t ist[SEGCAM_MAX_DIMS];
  contiguous_strides(in, ist);
  const int r = out->ndim;
  const int64_t W = out->d[r - 1], w = in->d[r - 1], b = c->state->i[PD_BEGIN + r - 1];
  const int64_t rows = total / W;
  int64_t groups = rows;
  if (p->mode != SC_PADMODE_CONSTANT) {
    groups = 1;
    for (int k = 0; k < r - 1; k++) {
      if (c->state->i[PD_BEGIN + k] || c->state->i[PD_END + k]) break;
      groups *= out->d[k];
    }
  }
  const int64_t per = rows / groups;
  const float *G = c->dout[0]; /* [rows, W] */
  float *dX = c->din[0];
#pragma omp parallel for schedule(static) if (total > PAR_MIN)
  for (int64_t gi = 0; gi < groups; gi++)
    for (int64_t row = gi * per; row < (gi + 1) * per; row++) {
      const int64_t src = pad_row(c, row, ist);
      if (src < 0) continue;
      float *dx = dX + src;
      const float *g = G + row * W;
      for (int64_t o = 0; o < W; o++) {
        int64_t s = pad_src(o, b, w, p->mode);
        if (s >= 0) dx[s] += g[o];
      }
    }
  return SEGCAM_OK;
}

const sc_opdef sc_op_pad = {
    .name = "pad",
    .infer = pad_infer,
    .forward = pad_forward,
    .backward = pad_backward,
};

/* ---- slice ---------------------------------------------------------------------------------- */

/* ONNX Slice-1/10/13: for each listed axis, negative starts/ends count from the end, then with
 * step > 0 start and end clamp to [0, d], with step < 0 start clamps to [0, d-1] and end to
 * [-1, d-1]; the length is ceil((end - start) / step), at least 0.  INT64_MAX / INT64_MIN ends
 * ("to the end") fall out of the clamping.  State: i[0..8) start, i[8..16) step per axis. */
enum { SL_START = 0, SL_STEP = SEGCAM_MAX_DIMS };

static segcam_status slice_infer(sc_opctx *c) {
  const sc_slice_params *p = c->node->params;
  SC_TRY(check_io(c, 1));
  const sc_shape *in = &c->in[0]->shape;
  const int r = in->ndim;
  int64_t starts[SEGCAM_MAX_DIMS], ends[SEGCAM_MAX_DIMS], axes[SEGCAM_MAX_DIMS],
      steps[SEGCAM_MAX_DIMS];
  int n, ne, na, ns, mark[SEGCAM_MAX_DIMS];
  if (p && p->n > 0) {
    if (p->n > SEGCAM_MAX_DIMS) return sc_node_error(c, SEGCAM_E_SHAPE, "too many axes (%d)", p->n);
    n = ne = na = ns = p->n;
    memcpy(starts, p->starts, (size_t)n * sizeof(int64_t));
    memcpy(ends, p->ends, (size_t)n * sizeof(int64_t));
    memcpy(axes, p->axes, (size_t)n * sizeof(int64_t));
    for (int k = 0; k < n; k++) steps[k] = 1;
  } else {
    if (c->node->n_in < 3 || !c->in[1] || !c->in[2])
      return sc_node_error(c, SEGCAM_E_FORMAT, "needs starts and ends (inputs 1 and 2)");
    SC_TRY(const_ints(c, 1, "starts", starts, &n, SEGCAM_MAX_DIMS));
    SC_TRY(const_ints(c, 2, "ends", ends, &ne, SEGCAM_MAX_DIMS));
    if (c->node->n_in > 3 && c->in[3]) {
      SC_TRY(const_ints(c, 3, "axes", axes, &na, SEGCAM_MAX_DIMS));
    } else {
      na = n;
      for (int k = 0; k < n; k++) axes[k] = k;
    }
    if (c->node->n_in > 4 && c->in[4]) {
      SC_TRY(const_ints(c, 4, "steps", steps, &ns, SEGCAM_MAX_DIMS));
    } else {
      ns = n;
      for (int k = 0; k < n; k++) steps[k] = 1;
    }
  }
  if (ne != n || na != n || ns != n)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "starts, ends, axes and steps differ in length (%d, %d, %d, %d)", n, ne,
                         na, ns);
  SC_TRY(norm_axes(c, axes, n, r, mark));
  sc_shape out = *in;
  for (int i = 0; i < r; i++) c->state->i[SL_START + i] = 0, c->state->i[SL_STEP + i] = 1;
  for (int k = 0; k < n; k++) {
    const int a = (int)axes[k];
    const int64_t d = in->d[a];
    int64_t st = steps[k], s = starts[k], e = ends[k], len;
    if (st == 0) return sc_node_error(c, SEGCAM_E_SHAPE, "step 0 on axis %d", a);
    if (st == INT64_MIN) st = -INT64_MAX;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (st > 0) {
      s = s < 0 ? 0 : (s > d ? d : s);
      e = e < 0 ? 0 : (e > d ? d : e);
      len = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = s < 0 ? 0 : (s > d - 1 ? d - 1 : s);
      e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
      len = s > e ? (s - e - 1) / -st + 1 : 0;
    }
    out.d[a] = len;
    c->state->i[SL_START + a] = len ? s : 0;
    c->state->i[SL_STEP + a] = st;
  }
  c->out[0]->dtype = c->in[0]->dtype;
  c->out[0]->shape = out;
  return SEGCAM_OK;
}

/* The input viewed as the output: base offset and per-axis strides step * stride. */
static int64_t slice_view(const sc_opctx *c, int64_t *vs) {
  int64_t st[SEGCAM_MAX_DIMS], base = 0;
  contiguous_strides(&c->in[0]->shape, st);
  for (int i = 0; i < c->in[0]->shape.ndim; i++) {
    base += c->state->i[SL_START + i] * st[i];
    vs[i] = c->state->i[SL_STEP + i] * st[i];
  }
  return base;
}

static segcam_status slice_forward(sc_opctx *c) {
  int64_t vs[SEGCAM_MAX_DIMS];
  const size_t es = esize(c->in[0]->dtype);
  const int64_t base = slice_view(c, vs);
  if (sc_shape_numel(&c->out[0]->shape) == 0) return SEGCAM_OK;
  nd_strided(c->out[0]->shape.ndim, c->out[0]->shape.d, vs,
             (char *)c->in[0]->data + base * (int64_t)es, c->out[0]->data, es, 0);
  return SEGCAM_OK;
}

/* Scatter: dx[view] += g (a slice never reads an element twice). */
static segcam_status slice_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  int64_t vs[SEGCAM_MAX_DIMS];
  const int64_t base = slice_view(c, vs);
  if (sc_shape_numel(&c->out[0]->shape) == 0) return SEGCAM_OK;
  nd_strided(c->out[0]->shape.ndim, c->out[0]->shape.d, vs, c->din[0] + base, (void *)c->dout[0], 4,
             1);
  return SEGCAM_OK;
}

const sc_opdef sc_op_slice = {
    .name = "slice",
    .infer = slice_infer,
    .forward = slice_forward,
    .backward = slice_backward,
};
