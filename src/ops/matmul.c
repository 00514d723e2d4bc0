/* Gemm and MatMul (ONNX semantics) on float32, through sc_sgemm (cblas_sgemm split across the
 * OpenMP threads, ops/im2col.h).
 *
 * Gemm: Y = alpha * A' . B' + beta * C with A' = trans_a ? A^T : A (same for B), A and B 2-D, and
 * C optional and unidirectionally broadcast to [M, N] (scalar, [N], [1|M, 1|N]).
 * MatMul: numpy matmul: a 1-D A is [1, K] and a 1-D B is [K, 1] with the added axis removed from
 * the result; leading (batch) axes broadcast.  When B has no real batch axes (a Dense layer on
 * [1, H, W, C]) A's batches fold into one sgemm; many small products (attention heads) run one per
 * thread.
 *
 * Backward gives the gradients of every non-constant input (A, B, and Gemm's C): MatMul of two
 * activations (attention) needs both.  int64 matrices (shape arithmetic) are not supported. */
#include <cblas.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "ops/im2col.h"
#include "ops/ops.h"

#define DIM_MAX ((int64_t)INT_MAX)

static segcam_status check_f32(sc_opctx *c, const sc_tensor *t, const char *what, int min_nd,
                               int max_nd) {
  char buf[96];
  if (!t) return sc_node_error(c, SEGCAM_E_SHAPE, "missing input %s", what);
  if (t->dtype != SC_F32)
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "input %s must be float32", what);
  if (t->shape.ndim < min_nd || t->shape.ndim > max_nd)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input %s has rank %d (shape %s), expected %d..%d",
                         what, t->shape.ndim, sc_shape_str(&t->shape, buf, sizeof buf), min_nd,
                         max_nd);
  for (int i = 0; i < t->shape.ndim; i++)
    if (t->shape.d[i] < 1 || t->shape.d[i] > DIM_MAX)
      return sc_node_error(c, SEGCAM_E_SHAPE, "input %s has invalid shape %s", what,
                           sc_shape_str(&t->shape, buf, sizeof buf));
  return SEGCAM_OK;
}

/* ---- Gemm ----------------------------------------------------------------------------------- */

/* state->i: [0] M, [1] N, [2] K, [3] rows of C (1 or M), [4] columns of C (1 or N). */

/* ONNX defaults when the loader gave no parameters. */
static const sc_gemm_params *gemm_params(const sc_opctx *c) {
  static const sc_gemm_params defaults = {.alpha = 1.0f, .beta = 1.0f};
  return c->node->params ? c->node->params : &defaults;
}

static const sc_tensor *gemm_c(const sc_opctx *c) {
  return c->node->n_in > 2 ? c->in[2] : NULL;
}

static segcam_status gemm_infer(sc_opctx *c) {
  const sc_gemm_params *p = gemm_params(c);
  char b1[96], b2[96];
  if (c->node->n_in < 2) return sc_node_error(c, SEGCAM_E_SHAPE, "needs inputs A and B");
  const sc_tensor *a = c->in[0], *b = c->in[1], *cc = gemm_c(c);
  SC_TRY(check_f32(c, a, "A", 2, 2));
  SC_TRY(check_f32(c, b, "B", 2, 2));
  int64_t m = p->trans_a ? a->shape.d[1] : a->shape.d[0];
  int64_t ka = p->trans_a ? a->shape.d[0] : a->shape.d[1];
  int64_t kb = p->trans_b ? b->shape.d[1] : b->shape.d[0];
  int64_t n = p->trans_b ? b->shape.d[0] : b->shape.d[1];
  if (ka != kb)
    return sc_node_error(c, SEGCAM_E_SHAPE,
                         "inner dimensions differ: A %s (transA %d), B %s (transB %d)",
                         sc_shape_str(&a->shape, b1, sizeof b1), p->trans_a,
                         sc_shape_str(&b->shape, b2, sizeof b2), p->trans_b);
  if ((double)m * (double)n > (double)INT_MAX * 4)
    return sc_node_error(c, SEGCAM_E_NOMEM, "absurd output size %lld x %lld", (long long)m,
                         (long long)n);
  int64_t cr = 1, ccols = 1;
  if (cc) {
    SC_TRY(check_f32(c, cc, "C", 0, 2));
    const int nd = cc->shape.ndim;
    if (nd >= 1) ccols = cc->shape.d[nd - 1];
    if (nd == 2) cr = cc->shape.d[0];
    if ((ccols != 1 && ccols != n) || (cr != 1 && cr != m))
      return sc_node_error(c, SEGCAM_E_SHAPE, "C %s does not broadcast to [%lld,%lld]",
                           sc_shape_str(&cc->shape, b1, sizeof b1), (long long)m, (long long)n);
  }
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = 2;
  y->shape.d[0] = m;
  y->shape.d[1] = n;
  c->state->i[0] = m;
  c->state->i[1] = n;
  c->state->i[2] = ka;
  c->state->i[3] = cr;
  c->state->i[4] = ccols;
  return SEGCAM_OK;
}

static segcam_status gemm_forward(sc_opctx *c) {
  const sc_gemm_params *p = gemm_params(c);
  const int64_t m = c->state->i[0], n = c->state->i[1], k = c->state->i[2];
  const int64_t cr = c->state->i[3], ccols = c->state->i[4];
  const float *a = c->in[0]->data; /* [M, K] or [K, M] */
  const float *b = c->in[1]->data; /* [K, N] or [N, K] */
  const sc_tensor *ct = gemm_c(c);
  float *y = c->out[0]->data; /* [M, N] */
  float beta = 0.0f;
  if (ct) {
    const float *cv = ct->data; /* [1|M, 1|N] */
#pragma omp parallel for schedule(static) if (m * n >= 32768)
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        y[i * n + j] = p->beta * cv[(cr == 1 ? 0 : i) * ccols + (ccols == 1 ? 0 : j)];
    beta = 1.0f;
  }
  sc_sgemm(p->trans_a, p->trans_b, m, n, k, p->alpha, a, c->in[0]->shape.d[1], b,
           c->in[1]->shape.d[1], beta, y, n);
  return SEGCAM_OK;
}

/* With Y = alpha A'B' + beta C:  dA' = alpha dY B'^T,  dB' = alpha A'^T dY,  dC = beta sum(dY)
 * over the broadcast axes; dA = dA'^T when trans_a (and the same for B). */
static segcam_status gemm_backward(sc_opctx *c) {
  const sc_gemm_params *p = gemm_params(c);
  const int64_t m = c->state->i[0], n = c->state->i[1], k = c->state->i[2];
  const int64_t cr = c->state->i[3], ccols = c->state->i[4];
  const float *a = c->in[0]->data, *b = c->in[1]->data;
  const int64_t lda = c->in[0]->shape.d[1], ldb = c->in[1]->shape.d[1];
  const float *dy = c->dout[0]; /* [M, N] */
  float *da = c->din[0], *db = c->din[1];
  if (da) {
    if (!p->trans_a) /* dA [M, K] += alpha dY . B'^T */
      sc_sgemm(0, !p->trans_b, m, k, n, p->alpha, dy, n, b, ldb, 1.0f, da, k);
    else /* dA [K, M] += alpha B' . dY^T */
      sc_sgemm(p->trans_b, 1, k, m, n, p->alpha, b, ldb, dy, n, 1.0f, da, m);
  }
  if (db) {
    if (!p->trans_b) /* dB [K, N] += alpha A'^T . dY */
      sc_sgemm(!p->trans_a, 0, k, n, m, p->alpha, a, lda, dy, n, 1.0f, db, n);
    else /* dB [N, K] += alpha dY^T . A' */
      sc_sgemm(1, p->trans_a, n, k, m, p->alpha, dy, n, a, lda, 1.0f, db, k);
  }
  float *dc = c->node->n_in > 2 ? c->din[2] : NULL; /* [1|M, 1|N] */
  if (dc) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        dc[(cr == 1 ? 0 : i) * ccols + (ccols == 1 ? 0 : j)] += p->beta * dy[i * n + j];
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_gemm = {
    .name = "gemm",
    .infer = gemm_infer,
    .forward = gemm_forward,
    .backward = gemm_backward,
    .bw_needs = SC_NEEDS_IN(0) | SC_NEEDS_IN(1),
};

/* ---- MatMul --------------------------------------------------------------------------------- */

/* The batched product, recomputed from the input shapes (cheap) wherever it is needed. */
typedef struct mm_plan {
  int64_t m, n, k;
  int nb;                      /* batch rank of the output */
  int64_t bd[SEGCAM_MAX_DIMS]; /* output batch dims */
  int64_t as[SEGCAM_MAX_DIMS]; /* A's matrix-index stride per batch axis (0 = broadcast) */
  int64_t bs[SEGCAM_MAX_DIMS];
  int64_t batch;    /* product of bd */
  int fold;         /* B shared by every batch: one sgemm */
  int a_vec, b_vec; /* 1-D operands */
} mm_plan;

/* Returns 0, or 1 when the batch axes do not broadcast / the inner dimensions differ. */
static int mm_make(const sc_shape *sa, const sc_shape *sb, mm_plan *p) {
  memset(p, 0, sizeof *p);
  p->a_vec = sa->ndim == 1;
  p->b_vec = sb->ndim == 1;
  int64_t ka = sa->d[sa->ndim - 1], kb = p->b_vec ? sb->d[0] : sb->d[sb->ndim - 2];
  p->m = p->a_vec ? 1 : sa->d[sa->ndim - 2];
  p->n = p->b_vec ? 1 : sb->d[sb->ndim - 1];
  p->k = ka;
  if (ka != kb) return 1;
  int na = sa->ndim > 2 ? sa->ndim - 2 : 0, nbb = sb->ndim > 2 ? sb->ndim - 2 : 0;
  p->nb = na > nbb ? na : nbb;
  int64_t sta = 1, stb = 1, b_batch = 1;
  p->batch = 1;
  for (int i = p->nb - 1; i >= 0; i--) { /* right-aligned, as numpy */
    int ia = i - (p->nb - na), ib = i - (p->nb - nbb);
    int64_t da = ia >= 0 ? sa->d[ia] : 1, db = ib >= 0 ? sb->d[ib] : 1;
    if (da != db && da != 1 && db != 1) return 1;
    p->bd[i] = da > db ? da : db;
    p->as[i] = da == 1 ? 0 : sta;
    p->bs[i] = db == 1 ? 0 : stb;
    sta *= da;
    stb *= db;
    b_batch *= db;
    p->batch *= p->bd[i];
  }
  p->fold = b_batch == 1; /* then the batch axes are A's own, none broadcast */
  return 0;
}

/* Matrix indices of A and B for output batch t. */
static void mm_index(const mm_plan *p, int64_t t, int64_t *ai, int64_t *bi) {
  *ai = *bi = 0;
  for (int i = p->nb - 1; i >= 0; i--) {
    int64_t v = t % p->bd[i];
    t /= p->bd[i];
    *ai += v * p->as[i];
    *bi += v * p->bs[i];
  }
}

static segcam_status matmul_infer(sc_opctx *c) {
  char b1[96], b2[96];
  if (c->node->n_in < 2) return sc_node_error(c, SEGCAM_E_SHAPE, "needs inputs A and B");
  const sc_tensor *a = c->in[0], *b = c->in[1];
  SC_TRY(check_f32(c, a, "A", 1, SEGCAM_MAX_DIMS));
  SC_TRY(check_f32(c, b, "B", 1, SEGCAM_MAX_DIMS));
  mm_plan p;
  if (mm_make(&a->shape, &b->shape, &p))
    return sc_node_error(c, SEGCAM_E_SHAPE, "shapes %s and %s do not match for MatMul",
                         sc_shape_str(&a->shape, b1, sizeof b1),
                         sc_shape_str(&b->shape, b2, sizeof b2));
  double total = (double)p.batch * (double)p.m * (double)p.n;
  if (total > (double)((int64_t)1 << 40) || (p.fold && (double)p.batch * p.m > INT_MAX))
    return sc_node_error(c, SEGCAM_E_NOMEM, "absurd MatMul output size");
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = 0;
  for (int i = 0; i < p.nb; i++) y->shape.d[y->shape.ndim++] = p.bd[i];
  if (!p.a_vec) y->shape.d[y->shape.ndim++] = p.m;
  if (!p.b_vec) y->shape.d[y->shape.ndim++] = p.n;
  return SEGCAM_OK;
}

static segcam_status matmul_forward(sc_opctx *c) {
  mm_plan p;
  mm_make(&c->in[0]->shape, &c->in[1]->shape, &p);
  const float *a = c->in[0]->data; /* [..., M, K] */
  const float *b = c->in[1]->data; /* [..., K, N] */
  float *y = c->out[0]->data;      /* [..., M, N] */
  if (p.fold) {
    sc_sgemm(0, 0, p.batch * p.m, p.n, p.k, 1.0f, a, p.k, b, p.n, 0.0f, y, p.n);
    return SEGCAM_OK;
  }
  if (2.0 * (double)p.m * (double)p.n * (double)p.k < 4e6) {
    /* many small products (attention heads): one per thread, each output written once */
    sc_blas_serial();
#pragma omp parallel for schedule(static) if (p.batch > 1)
    for (int64_t t = 0; t < p.batch; t++) {
      int64_t ai, bi;
      mm_index(&p, t, &ai, &bi);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p.m, (int)p.n, (int)p.k, 1.0f,
                  a + ai * p.m * p.k, (int)p.k, b + bi * p.k * p.n, (int)p.n, 0.0f,
                  y + t * p.m * p.n, (int)p.n);
    }
    return SEGCAM_OK;
  }
  for (int64_t t = 0; t < p.batch; t++) {
    int64_t ai, bi;
    mm_index(&p, t, &ai, &bi);
    sc_sgemm(0, 0, p.m, p.n, p.k, 1.0f, a + ai * p.m * p.k, p.k, b + bi * p.k * p.n, p.n, 0.0f,
             y + t * p.m * p.n, p.n);
  }
  return SEGCAM_OK;
}

/* dA_t += dY_t . B_t^T,  dB_t += A_t^T . dY_t, summed over the batches an operand is broadcast
 * to (sequential sgemm calls with beta = 1). */
static segcam_status matmul_backward(sc_opctx *c) {
  mm_plan p;
  mm_make(&c->in[0]->shape, &c->in[1]->shape, &p);
  const float *a = c->in[0]->data, *b = c->in[1]->data;
  const float *dy = c->dout[0];
  float *da = c->din[0], *db = c->din[1];
  if (p.fold) {
    const int64_t mm = p.batch * p.m;
    if (da) sc_sgemm(0, 1, mm, p.k, p.n, 1.0f, dy, p.n, b, p.n, 1.0f, da, p.k);
    if (db) sc_sgemm(1, 0, p.k, p.n, mm, 1.0f, a, p.k, dy, p.n, 1.0f, db, p.n);
    return SEGCAM_OK;
  }
  for (int64_t t = 0; t < p.batch; t++) {
    int64_t ai, bi;
    mm_index(&p, t, &ai, &bi);
    const float *dyt = dy + t * p.m * p.n; /* [M, N] */
    if (da)
      sc_sgemm(0, 1, p.m, p.k, p.n, 1.0f, dyt, p.n, b + bi * p.k * p.n, p.n, 1.0f,
               da + ai * p.m * p.k, p.k);
    if (db)
      sc_sgemm(1, 0, p.k, p.n, p.m, 1.0f, a + ai * p.m * p.k, p.k, dyt, p.n, 1.0f,
               db + bi * p.k * p.n, p.n);
  }
  return SEGCAM_OK;
}

const sc_opdef sc_op_matmul = {
    .name = "matmul",
    .infer = matmul_infer,
    .forward = matmul_forward,
    .backward = matmul_backward,
    .bw_needs = SC_NEEDS_IN(0) | SC_NEEDS_IN(1),
};
