/* Elementwise binary ops (Add, Sub, Mul, Div, Max, Min, Pow) with numpy multidirectional
 * broadcasting up to SEGCAM_MAX_DIMS dims, on float32 or int64 (both inputs of one type), forward
 * and backward.
 *
 * The output index space is collapsed once: size-1 dims are dropped and neighbours merged while
 * both inputs stay contiguous (or broadcast) across them, so same-shape inputs become one flat
 * loop, a per-channel operand [1,C,1,1] against [1,C,H,W] becomes [C, H*W] with a scalar per row,
 * and a scalar operand becomes one flat loop with a constant.  The innermost stride of each input
 * is then 0 or 1.
 *
 * Backward accumulates into each requested input gradient; a broadcast input receives the sum
 * over its broadcast axes (the per-element term is materialised in scratch, then reduced).  Max
 * and Min route ties to the first input (TF MaximumGrad/MinimumGrad use x >= y / x <= y).  Pow
 * follows PyTorch: no gradient to the base where the exponent is 0, none to the exponent where the
 * base is 0 and the exponent >= 0.
 *
 * int64 (shape arithmetic): Add/Sub/Mul wrap around instead of overflowing; Div truncates toward
 * zero as C and onnxruntime do (numpy would floor), and a zero divisor is an error; Pow with a
 * negative exponent gives the truncated result (0 unless the base is 1 or -1).  No gradients
 * through int64.  Mixed float/int64 inputs are an error (ONNX requires one type). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/ops.h"

/* Collapsed broadcast iteration space: m dims of sizes d[], input strides s[0] (A), s[1] (B). */
typedef struct bc_space {
  int m;
  int64_t d[SEGCAM_MAX_DIMS];
  int64_t s[2][SEGCAM_MAX_DIMS];
} bc_space;

/* Strides of input t over the dims of `out` (right-aligned, 0 where broadcast). */
static void bc_strides(const sc_shape *t, const sc_shape *out, int64_t *st) {
  int64_t acc = 1;
  for (int i = out->ndim - 1; i >= 0; i--) {
    int k = i - (out->ndim - t->ndim);
    int64_t d = k >= 0 ? t->d[k] : 1;
    st[i] = d == 1 ? 0 : acc;
    acc *= d;
  }
}

/* Drops size-1 dims of `out` and merges neighbours where each of the n stride arrays stays
 * consistent (s[prev] == s[i] * d[i], which also holds for two broadcast dims). */
static int bc_collapse(const sc_shape *out, int n, int64_t st[][SEGCAM_MAX_DIMS], int64_t *d,
                       int64_t cs[][SEGCAM_MAX_DIMS]) {
  int m = 0;
  for (int i = 0; i < out->ndim; i++) {
    if (out->d[i] == 1) continue;
    int merge = m > 0;
    for (int k = 0; k < n && merge; k++) merge = cs[k][m - 1] == st[k][i] * out->d[i];
    if (merge) {
      d[m - 1] *= out->d[i];
      for (int k = 0; k < n; k++) cs[k][m - 1] = st[k][i];
    } else {
      d[m] = out->d[i];
      for (int k = 0; k < n; k++) cs[k][m] = st[k][i];
      m++;
    }
  }
  if (m == 0) {
    d[0] = 1;
    for (int k = 0; k < n; k++) cs[k][0] = 0;
    m = 1;
  }
  return m;
}

static void bc_setup(const sc_opctx *c, bc_space *sp) {
  int64_t st[2][SEGCAM_MAX_DIMS];
  bc_strides(&c->in[0]->shape, &c->out[0]->shape, st[0]);
  bc_strides(&c->in[1]->shape, &c->out[0]->shape, st[1]);
  sp->m = bc_collapse(&c->out[0]->shape, 2, st, sp->d, sp->s);
}

/* Offsets of A and B for row `row` (every collapsed dim but the last). */
static inline void bc_row(const bc_space *sp, int64_t row, int64_t *oa, int64_t *ob) {
  int64_t a = 0, b = 0;
  for (int k = sp->m - 2; k >= 0; k--) {
    int64_t q = row % sp->d[k];
    row /= sp->d[k];
    a += q * sp->s[0][k];
    b += q * sp->s[1][k];
  }
  *oa = a;
  *ob = b;
}

#define BC_CHUNK 4096

static segcam_status binary_infer(sc_opctx *c) {
  const sc_binary_params *p = c->node->params;
  if (!p) return sc_node_error(c, SEGCAM_E_INTERNAL, "missing binary-op parameters");
  if ((unsigned)p->kind > SC_BIN_POW)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "unknown binary op kind %d", (int)p->kind);
  if (c->node->n_in < 2 || !c->in[0] || !c->in[1] || c->node->n_out < 1)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs two inputs and one output");
  const sc_tensor *a = c->in[0], *b = c->in[1];
  char b1[160], b2[160];
  if ((a->dtype != SC_F32 && a->dtype != SC_I64) || a->dtype != b->dtype)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED,
                         "input types %d and %d: need two float32 or two int64 inputs",
                         (int)a->dtype, (int)b->dtype);
  for (int k = 0; k < 2; k++) {
    const sc_shape *s = &c->in[k]->shape;
    if (s->ndim < 0 || s->ndim > SEGCAM_MAX_DIMS)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input %d has invalid rank %d", k, s->ndim);
    for (int i = 0; i < s->ndim; i++)
      if (s->d[i] < 0)
        return sc_node_error(c, SEGCAM_E_SHAPE, "input %d has an unknown or negative dimension %s",
                             k, sc_shape_str(s, b1, sizeof b1));
  }
  sc_shape out;
  out.ndim = a->shape.ndim > b->shape.ndim ? a->shape.ndim : b->shape.ndim;
  double total = 1;
  for (int i = 0; i < out.ndim; i++) {
    int ka = i - (out.ndim - a->shape.ndim), kb = i - (out.ndim - b->shape.ndim);
    int64_t da = ka >= 0 ? a->shape.d[ka] : 1, db = kb >= 0 ? b->shape.d[kb] : 1;
    if (da != db && da != 1 && db != 1)
      return sc_node_error(c, SEGCAM_E_SHAPE, "shapes %s and %s do not broadcast",
                           sc_shape_str(&a->shape, b1, sizeof b1),
                           sc_shape_str(&b->shape, b2, sizeof b2));
    out.d[i] = da == 1 ? db : da;
    total *= (double)out.d[i];
  }
  if (total > 4e12)
    return sc_node_error(c, SEGCAM_E_NOMEM, "output %s is absurdly large",
                         sc_shape_str(&out, b1, sizeof b1));
  c->out[0]->dtype = a->dtype;
  c->out[0]->shape = out;
  /* backward materialises the gradient term of a broadcast input over the output, except for
   * Add/Sub whose term is +-g itself */
  int64_t n = sc_shape_numel(&out);
  int bcast = sc_shape_numel(&a->shape) != n || sc_shape_numel(&b->shape) != n;
  if (a->dtype == SC_F32 && bcast && p->kind != SC_BIN_ADD && p->kind != SC_BIN_SUB)
    c->scratch_size = (size_t)n * sizeof(float);
  return SEGCAM_OK;
}

/* ---- forward -------------------------------------------------------------------------------- */

#define OP_ADD(x, y) ((x) + (y))
#define OP_SUB(x, y) ((x) - (y))
#define OP_MUL(x, y) ((x) * (y))
#define OP_DIV(x, y) ((x) / (y))
#define OP_MAXF(x, y) fmaxf((x), (y))
#define OP_MINF(x, y) fminf((x), (y))
#define OP_POWF(x, y) powf((x), (y))
#define OP_MAXI(x, y) ((x) >= (y) ? (x) : (y))
#define OP_MINI(x, y) ((x) <= (y) ? (x) : (y))
#define OP_ADDI(x, y) ((int64_t)((uint64_t)(x) + (uint64_t)(y)))
#define OP_SUBI(x, y) ((int64_t)((uint64_t)(x) - (uint64_t)(y)))
#define OP_MULI(x, y) ((int64_t)((uint64_t)(x) * (uint64_t)(y)))
#define OP_DIVI(x, y) idiv64((x), (y))
#define OP_POWI(x, y) ipow64((x), (y))

/* Divisors were checked for 0 before the loop; INT64_MIN / -1 wraps to INT64_MIN. */
static inline int64_t idiv64(int64_t x, int64_t y) {
  if (y == -1) return (int64_t)(0 - (uint64_t)x);
  return x / y;
}

static inline int64_t ipow64(int64_t x, int64_t e) {
  if (e < 0) return x == 1 ? 1 : (x == -1 ? ((e & 1) ? -1 : 1) : 0);
  uint64_t r = 1, b = (uint64_t)x;
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return (int64_t)r;
}

/* y[0..n) = OP(a[i*ia], b[i*ib]) with ia, ib in {0, 1}. */
#define BIN_LOOPS(T, OP)                                                                           \
  do {                                                                                             \
    if (ia && ib) {                                                                                \
      for (int64_t i = 0; i < n; i++) y[i] = OP(a[i], b[i]);                                       \
    } else if (ia) {                                                                               \
      const T bv = b[0];                                                                           \
      for (int64_t i = 0; i < n; i++) y[i] = OP(a[i], bv);                                         \
    } else if (ib) {                                                                               \
      const T av = a[0];                                                                           \
      for (int64_t i = 0; i < n; i++) y[i] = OP(av, b[i]);                                         \
    } else {                                                                                       \
      for (int64_t i = 0; i < n; i++) y[i] = OP(a[0], b[0]);                                       \
    }                                                                                              \
  } while (0)

static void run_f32(sc_binary_kind kind, int64_t n, const float *a, int64_t ia, const float *b,
                    int64_t ib, float *y) {
  switch (kind) {
  case SC_BIN_ADD: BIN_LOOPS(float, OP_ADD); break;
  case SC_BIN_SUB: BIN_LOOPS(float, OP_SUB); break;
  case SC_BIN_MUL: BIN_LOOPS(float, OP_MUL); break;
  case SC_BIN_DIV: BIN_LOOPS(float, OP_DIV); break;
  case SC_BIN_MAX: BIN_LOOPS(float, OP_MAXF); break;
  case SC_BIN_MIN: BIN_LOOPS(float, OP_MINF); break;
  case SC_BIN_POW: BIN_LOOPS(float, OP_POWF); break;
  }
}

static void run_i64(sc_binary_kind kind, int64_t n, const int64_t *a, int64_t ia, const int64_t *b,
                    int64_t ib, int64_t *y) {
  switch (kind) {
  case SC_BIN_ADD: BIN_LOOPS(int64_t, OP_ADDI); break;
  case SC_BIN_SUB: BIN_LOOPS(int64_t, OP_SUBI); break;
  case SC_BIN_MUL: BIN_LOOPS(int64_t, OP_MULI); break;
  case SC_BIN_DIV: BIN_LOOPS(int64_t, OP_DIVI); break;
  case SC_BIN_MAX: BIN_LOOPS(int64_t, OP_MAXI); break;
  case SC_BIN_MIN: BIN_LOOPS(int64_t, OP_MINI); break;
  case SC_BIN_POW: BIN_LOOPS(int64_t, OP_POWI); break;
  }
}

static segcam_status binary_forward(sc_opctx *c) {
  const sc_binary_params *p = c->node->params;
  const int64_t total = sc_shape_numel(&c->out[0]->shape);
  if (total == 0) return SEGCAM_OK;
  const int is_f32 = c->in[0]->dtype == SC_F32;
  if (!is_f32 && p->kind == SC_BIN_DIV) {
    const int64_t *b = c->in[1]->data, nb = sc_shape_numel(&c->in[1]->shape);
    for (int64_t i = 0; i < nb; i++)
      if (b[i] == 0) return sc_node_error(c, SEGCAM_E_ARG, "integer division by zero");
  }
  bc_space sp;
  bc_setup(c, &sp);
  const int64_t inner = sp.d[sp.m - 1], rows = total / inner;
  const int64_t ia = sp.s[0][sp.m - 1], ib = sp.s[1][sp.m - 1];
  const int64_t nch = (inner + BC_CHUNK - 1) / BC_CHUNK, tasks = rows * nch;
  const void *A = c->in[0]->data, *B = c->in[1]->data; /* broadcast to [rows, inner] */
  void *Y = c->out[0]->data;                           /* [rows, inner] */
#pragma omp parallel for schedule(static) if (total > 16384)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t r = t / nch, i0 = (t % nch) * BC_CHUNK;
    const int64_t n = inner - i0 < BC_CHUNK ? inner - i0 : BC_CHUNK;
    int64_t oa, ob;
    bc_row(&sp, r, &oa, &ob);
    oa += i0 * ia;
    ob += i0 * ib;
    const int64_t oy = r * inner + i0;
    if (is_f32)
      run_f32(p->kind, n, (const float *)A + oa, ia, (const float *)B + ob, ib, (float *)Y + oy);
    else
      run_i64(p->kind, n, (const int64_t *)A + oa, ia, (const int64_t *)B + ob, ib,
              (int64_t *)Y + oy);
  }
  return SEGCAM_OK;
}

/* ---- backward ------------------------------------------------------------------------------- */

/* Gradient term of input `which` (0 = A, 1 = B) for n elements; ASSIGN is = (materialising into
 * scratch) or += (accumulating into a non-broadcast input gradient). */
#define TERM_LOOP(ASSIGN, EXPR)                                                                    \
  for (int64_t i = 0; i < n; i++) {                                                                \
    const float gv = g[i], av = a[i * ia], bv = b[i * ib];                                         \
    (void)av, (void)bv;                                                                            \
    o[i] ASSIGN(EXPR);                                                                             \
  }

#define TERM_CASES(ASSIGN)                                                                         \
  switch (kind * 2 + which) {                                                                      \
  case SC_BIN_ADD * 2: TERM_LOOP(ASSIGN, gv); break;                                               \
  case SC_BIN_ADD * 2 + 1: TERM_LOOP(ASSIGN, gv); break;                                           \
  case SC_BIN_SUB * 2: TERM_LOOP(ASSIGN, gv); break;                                               \
  case SC_BIN_SUB * 2 + 1: TERM_LOOP(ASSIGN, -gv); break;                                          \
  case SC_BIN_MUL * 2: TERM_LOOP(ASSIGN, gv *bv); break;                                           \
  case SC_BIN_MUL * 2 + 1: TERM_LOOP(ASSIGN, gv *av); break;                                       \
  case SC_BIN_DIV * 2: TERM_LOOP(ASSIGN, gv / bv); break;                                          \
  case SC_BIN_DIV * 2 + 1: TERM_LOOP(ASSIGN, -gv *av / (bv * bv)); break;                          \
  case SC_BIN_MAX * 2: TERM_LOOP(ASSIGN, av >= bv ? gv : 0.0f); break;                             \
  case SC_BIN_MAX * 2 + 1: TERM_LOOP(ASSIGN, av >= bv ? 0.0f : gv); break;                         \
  case SC_BIN_MIN * 2: TERM_LOOP(ASSIGN, av <= bv ? gv : 0.0f); break;                             \
  case SC_BIN_MIN * 2 + 1: TERM_LOOP(ASSIGN, av <= bv ? 0.0f : gv); break;                         \
  case SC_BIN_POW * 2: TERM_LOOP(ASSIGN, bv == 0 ? 0.0f : gv * bv * powf(av, bv - 1)); break;      \
  case SC_BIN_POW * 2 + 1:                                                                         \
    TERM_LOOP(ASSIGN, (av == 0 && bv >= 0) ? 0.0f : gv *powf(av, bv) * logf(av));                  \
    break;                                                                                         \
  }

static void term_f32(int kind, int which, int accumulate, int64_t n, const float *g, const float *a,
                     int64_t ia, const float *b, int64_t ib, float *o) {
  if (accumulate) {
    TERM_CASES(+=)
  } else {
    TERM_CASES(=)
  }
}

/* Offset of the idx-th element of the listed dims (row-major over them) along `strides`. */
static inline int64_t dims_offset(int64_t idx, int nl, const int *list, const int64_t *e,
                                  const int64_t *strides) {
  int64_t off = 0;
  for (int k = nl - 1; k >= 0; k--) {
    int64_t q = idx % e[list[k]];
    idx /= e[list[k]];
    off += q * strides[list[k]];
  }
  return off;
}

/* dX += sign * T summed over the axes along which input X (shape xs) was broadcast to the
 * output. */
static void reduce_to(const float *T, const sc_shape *out, const sc_shape *xs, float sign,
                      float *dX) {
  int64_t st[1][SEGCAM_MAX_DIMS], e[SEGCAM_MAX_DIMS], xst[1][SEGCAM_MAX_DIMS];
  bc_strides(xs, out, st[0]);
  /* a reduced (stride 0) dim never merges with a kept one since kept strides are >= 1 */
  const int q = bc_collapse(out, 1, st, e, xst);
  int64_t ot[SEGCAM_MAX_DIMS], acc = 1; /* T's strides over the collapsed dims */
  for (int k = q - 1; k >= 0; k--) ot[k] = acc, acc *= e[k];
  const int64_t total = acc;
  int kept[SEGCAM_MAX_DIMS], red[SEGCAM_MAX_DIMS], nk = 0, nr = 0;
  int64_t nkept = 1, nred = 1;
  for (int k = 0; k < q; k++) {
    if (xst[0][k])
      kept[nk++] = k, nkept *= e[k];
    else if (e[k] > 1)
      red[nr++] = k, nred *= e[k];
  }
  if (nk == 0) {
    double s = 0;
#pragma omp parallel for schedule(static) reduction(+ : s) if (total > 16384)
    for (int64_t i = 0; i < total; i++) s += T[i];
    dX[0] += sign * (float)s;
  } else if (xst[0][q - 1]) {
    /* innermost dim kept: add contiguous runs of T into contiguous runs of dX */
    const int64_t L = e[q - 1], nch = (L + BC_CHUNK - 1) / BC_CHUNK;
    const int64_t tasks = (nkept / L) * nch;
#pragma omp parallel for schedule(static) if (total > 16384)
    for (int64_t t = 0; t < tasks; t++) {
      const int64_t ko = t / nch, l0 = (t % nch) * BC_CHUNK;
      const int64_t n = L - l0 < BC_CHUNK ? L - l0 : BC_CHUNK;
      float *dx = dX + dims_offset(ko, nk - 1, kept, e, xst[0]) + l0;
      const int64_t tb = dims_offset(ko, nk - 1, kept, e, ot) + l0;
      for (int64_t r = 0; r < nred; r++) {
        const float *tr = T + tb + dims_offset(r, nr, red, e, ot);
        for (int64_t i = 0; i < n; i++) dx[i] += sign * tr[i];
      }
    }
  } else {
    /* innermost dim reduced: each kept element sums contiguous runs of T */
    const int64_t L = e[q - 1], nouter = nred / L;
#pragma omp parallel for schedule(static) if (total > 16384)
    for (int64_t j = 0; j < nkept; j++) {
      const int64_t tb = dims_offset(j, nk, kept, e, ot);
      double s = 0;
      for (int64_t r = 0; r < nouter; r++) {
        const float *tr = T + tb + dims_offset(r, nr - 1, red, e, ot);
        for (int64_t i = 0; i < L; i++) s += tr[i];
      }
      dX[dims_offset(j, nk, kept, e, xst[0])] += sign * (float)s;
    }
  }
}

static segcam_status binary_backward(sc_opctx *c) {
  const sc_binary_params *p = c->node->params;
  if (!c->din[0] && !c->din[1]) return SEGCAM_OK;
  if (c->in[0]->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "no gradient through an int64 tensor");
  const int64_t total = sc_shape_numel(&c->out[0]->shape);
  if (total == 0) return SEGCAM_OK;
  bc_space sp;
  bc_setup(c, &sp);
  const int64_t inner = sp.d[sp.m - 1], rows = total / inner;
  const int64_t ia = sp.s[0][sp.m - 1], ib = sp.s[1][sp.m - 1];
  const int64_t nch = (inner + BC_CHUNK - 1) / BC_CHUNK, tasks = rows * nch;
  const float *A = c->in[0]->data, *B = c->in[1]->data; /* broadcast to [rows, inner] */
  const float *G = c->dout[0];                          /* [rows, inner] */
  for (int which = 0; which < 2; which++) {
    float *dX = c->din[which];
    if (!dX) continue;
    const int bcast = sc_shape_numel(&c->in[which]->shape) != total;
    /* Add/Sub: the term is +-g itself; reduce g directly */
    if (bcast && (p->kind == SC_BIN_ADD || p->kind == SC_BIN_SUB)) {
      const float sign = p->kind == SC_BIN_SUB && which == 1 ? -1.0f : 1.0f;
      reduce_to(G, &c->out[0]->shape, &c->in[which]->shape, sign, dX);
      continue;
    }
    float *O = bcast ? c->scratch : dX; /* [rows, inner] */
#pragma omp parallel for schedule(static) if (total > 16384)
    for (int64_t t = 0; t < tasks; t++) {
      const int64_t r = t / nch, i0 = (t % nch) * BC_CHUNK;
      const int64_t n = inner - i0 < BC_CHUNK ? inner - i0 : BC_CHUNK;
      int64_t oa, ob;
      bc_row(&sp, r, &oa, &ob);
      const int64_t oy = r * inner + i0;
      term_f32(p->kind, which, !bcast, n, G + oy, A + oa + i0 * ia, ia, B + ob + i0 * ib, ib,
               O + oy);
    }
    if (bcast) reduce_to(O, &c->out[0]->shape, &c->in[which]->shape, 1.0f, dX);
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_binary = {
    .name = "binary",
    .infer = binary_infer,
    .forward = binary_forward,
    .backward = binary_backward,
    .bw_needs = SC_NEEDS_IN(0) | SC_NEEDS_IN(1),
};
