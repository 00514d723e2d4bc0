/* Runs one op kernel directly (infer -> forward -> backward) on hand-made tensors, and checks its
 * backward against central finite differences of its forward (computed in float64 from float32
 * evaluations along a random direction, so kinks are rarely hit).  For unit tests of kernels;
 * model-level tests go through the public API. */
#ifndef SC_OP_CHECK_H
#define SC_OP_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"
#include "test.h"

typedef struct oc_case {
  int op;
  void *params;         /* borrowed */
  int n_in;
  sc_tensor in[SC_MAX_IO]; /* data owned by the caller; dtype/shape set; data NULL = omitted */
  int in_const[SC_MAX_IO]; /* weights and parameters: constant, no gradient */
  int n_out;
  sc_tensor out[SC_MAX_IO]; /* filled by oc_run (data malloc'ed; free with oc_free) */
  sc_node node;
  sc_graph graph;
  sc_node_state state;
  void *scratch;
  int in_idx[SC_MAX_IO], out_idx[SC_MAX_IO];
} oc_case;

static inline uint64_t oc_rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}
/* Uniform in [lo, hi). */
static inline void oc_fill(float *x, int64_t n, uint64_t seed, float lo, float hi) {
  uint64_t s = seed * 2654435761u + 88172645463325252ull;
  for (int64_t i = 0; i < n; i++)
    x[i] = lo + (hi - lo) * (float)((oc_rng_next(&s) >> 11) * (1.0 / 9007199254740992.0));
}

static inline sc_tensor oc_tensor(int ndim, const int64_t *dims, float *data) {
  sc_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = SC_F32;
  t.shape.ndim = ndim;
  for (int i = 0; i < ndim; i++) t.shape.d[i] = dims[i];
  t.data = data;
  return t;
}

static inline void oc_ctx(oc_case *k, sc_opctx *c) {
  memset(c, 0, sizeof *c);
  c->graph = &k->graph;
  c->node = &k->node;
  c->state = &k->state;
  for (int i = 0; i < k->n_in; i++) {
    c->in[i] = k->in[i].data ? &k->in[i] : NULL;
    c->in_const[i] = k->in_const[i];
  }
  for (int j = 0; j < k->n_out; j++) c->out[j] = &k->out[j];
}

/* infer + forward. Returns the status of the first failing step. */
static inline segcam_status oc_run(oc_case *k, const char *type) {
  static char path[] = "<test>";
  memset(&k->graph, 0, sizeof k->graph);
  k->graph.path = path;
  memset(&k->node, 0, sizeof k->node);
  k->node.name = (char *)type;
  k->node.type = (char *)type;
  k->node.op = k->op;
  k->node.n_in = k->n_in;
  k->node.n_out = k->n_out;
  for (int i = 0; i < k->n_in; i++) k->in_idx[i] = k->in[i].data ? i : -1;
  for (int j = 0; j < k->n_out; j++) k->out_idx[j] = j;
  k->node.in = k->in_idx;
  k->node.out = k->out_idx;
  k->node.params = k->params;
  sc_opctx c;
  oc_ctx(k, &c);
  /* at infer time only constant inputs carry data */
  void *saved[SC_MAX_IO];
  for (int i = 0; i < k->n_in; i++) {
    saved[i] = k->in[i].data;
    if (c.in[i] && !k->in_const[i]) k->in[i].data = NULL;
  }
  memset(&k->state, 0, sizeof k->state);
  segcam_status s = sc_opdefs[k->op]->infer(&c);
  for (int i = 0; i < k->n_in; i++) k->in[i].data = saved[i];
  if (s) return s;
  for (int j = 0; j < k->n_out; j++) {
    int64_t n = sc_shape_numel(&k->out[j].shape);
    free(k->out[j].data);
    k->out[j].data = calloc((size_t)(n ? n : 1), 8);
  }
  free(k->scratch);
  k->scratch = c.scratch_size ? aligned_alloc(64, (c.scratch_size + 63) / 64 * 64) : NULL;
  oc_ctx(k, &c);
  c.scratch = k->scratch;
  c.scratch_size = c.scratch_size;
  return sc_opdefs[k->op]->forward(&c);
}

/* backward with output gradient dout (for output 0); din[i] receives (zeroed first) the input
 * gradients for non-constant inputs. */
static inline segcam_status oc_backward(oc_case *k, const float *dout, float **din) {
  sc_opctx c;
  oc_ctx(k, &c);
  c.scratch = k->scratch;
  c.dout[0] = dout;
  for (int i = 0; i < k->n_in; i++) {
    if (!k->in[i].data || k->in_const[i] || !din[i]) continue;
    memset(din[i], 0, (size_t)sc_shape_numel(&k->in[i].shape) * sizeof(float));
    c.din[i] = din[i];
  }
  return sc_opdefs[k->op]->backward(&c);
}

static inline void oc_free(oc_case *k) {
  for (int j = 0; j < k->n_out; j++) {
    free(k->out[j].data);
    k->out[j].data = NULL;
  }
  free(k->scratch);
  k->scratch = NULL;
}

/* Checks backward against finite differences: for a random direction v over every non-constant
 * input and a random seed g over output 0, compares <g, (f(x+eps v) - f(x-eps v)) / 2eps> with
 * sum_i <din_i, v_i>.  Returns 1 on success (and counts a pass), 0 on failure. */
static inline int oc_gradcheck(oc_case *k, const char *what, double eps, double rtol) {
  if (oc_run(k, what)) {
    CHECK(0, "%s: forward failed: %s", what, segcam_last_error());
    return 0;
  }
  int64_t ny = sc_shape_numel(&k->out[0].shape);
  float *g = malloc((size_t)ny * sizeof *g);
  oc_fill(g, ny, 7, -1, 1);
  float *din[SC_MAX_IO] = {0}, *v[SC_MAX_IO] = {0}, *x0[SC_MAX_IO] = {0};
  double analytic = 0;
  for (int i = 0; i < k->n_in; i++) {
    if (!k->in[i].data || k->in_const[i]) continue;
    int64_t n = sc_shape_numel(&k->in[i].shape);
    din[i] = malloc((size_t)n * sizeof(float));
    v[i] = malloc((size_t)n * sizeof(float));
    x0[i] = malloc((size_t)n * sizeof(float));
    memcpy(x0[i], k->in[i].data, (size_t)n * sizeof(float));
    oc_fill(v[i], n, 100 + (uint64_t)i, -1, 1);
  }
  segcam_status s = oc_backward(k, g, din);
  if (s) {
    CHECK(0, "%s: backward failed: %s", what, segcam_last_error());
    return 0;
  }
  for (int i = 0; i < k->n_in; i++)
    if (din[i])
      for (int64_t e = 0; e < sc_shape_numel(&k->in[i].shape); e++)
        analytic += (double)din[i][e] * v[i][e];
  double fplus = 0, fminus = 0;
  for (int sign = -1; sign <= 1; sign += 2) {
    for (int i = 0; i < k->n_in; i++)
      if (x0[i]) {
        float *x = k->in[i].data;
        for (int64_t e = 0; e < sc_shape_numel(&k->in[i].shape); e++)
          x[e] = (float)(x0[i][e] + sign * eps * v[i][e]);
      }
    oc_run(k, what);
    double f = 0;
    const float *y = k->out[0].data;
    for (int64_t e = 0; e < ny; e++) f += (double)g[e] * y[e];
    if (sign < 0) fminus = f;
    else fplus = f;
  }
  for (int i = 0; i < k->n_in; i++)
    if (x0[i]) memcpy(k->in[i].data, x0[i], (size_t)sc_shape_numel(&k->in[i].shape) * 4);
  oc_run(k, what); /* restore outputs */
  double numeric = (fplus - fminus) / (2 * eps);
  double err = fabs(numeric - analytic), lim = rtol * (fabs(numeric) + fabs(analytic)) + 1e-4;
  int ok = err <= lim;
  CHECK(ok, "%s: gradient check: analytic %.8g numeric %.8g", what, analytic, numeric);
  for (int i = 0; i < SC_MAX_IO; i++) {
    free(din[i]);
    free(v[i]);
    free(x0[i]);
  }
  free(g);
  return ok;
}

/* Backward must ACCUMULATE: with every input gradient pre-filled with 1, the result is 1 plus the
 * gradient computed into zeros. */
static inline void oc_check_accumulates(oc_case *k, const char *name) {
  if (oc_run(k, name) != SEGCAM_OK) {
    CHECK(0, "%s: %s", name, segcam_last_error());
    return;
  }
  int64_t ny = sc_shape_numel(&k->out[0].shape);
  float *g = malloc((size_t)(ny ? ny : 1) * sizeof *g);
  float *d0[SC_MAX_IO] = {0}, *d1[SC_MAX_IO] = {0};
  oc_fill(g, ny, 9, -1, 1);
  for (int i = 0; i < k->n_in; i++) {
    if (!k->in[i].data || k->in_const[i]) continue;
    int64_t n = sc_shape_numel(&k->in[i].shape);
    d0[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
    d1[i] = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t e = 0; e < n; e++) d1[i][e] = 1.0f;
  }
  CHECK(oc_backward(k, g, d0) == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  sc_opctx c;
  oc_ctx(k, &c);
  c.scratch = k->scratch;
  c.dout[0] = g;
  for (int i = 0; i < k->n_in; i++) c.din[i] = d1[i];
  CHECK(sc_opdefs[k->op]->backward(&c) == SEGCAM_OK, "%s: %s", name, segcam_last_error());
  int ok = 1;
  for (int i = 0; i < k->n_in; i++) {
    if (!d0[i]) continue;
    for (int64_t e = 0; e < sc_shape_numel(&k->in[i].shape); e++)
      if (fabsf(d1[i][e] - (1.0f + d0[i][e])) > 1e-5f * (1.0f + fabsf(d0[i][e]))) ok = 0;
    free(d0[i]);
    free(d1[i]);
  }
  CHECK(ok, "%s: backward overwrites instead of accumulating (+=)", name);
  free(g);
}

/* Finite differences, then the accumulation check. */
static inline void oc_gradcheck_acc(oc_case *k, const char *name, double eps, double rtol) {
  oc_gradcheck(k, name, eps, rtol);
  oc_check_accumulates(k, name);
}

/* Runs the case expecting status `want` and, on failure, a message naming the node (the case's
 * node is named `what`); frees the case. */
static inline void oc_expect_error(const char *what, oc_case *k, segcam_status want) {
  segcam_status s = oc_run(k, what);
  char name[128];
  snprintf(name, sizeof name, "node '%s'", what);
  CHECK(s == want, "%s: status %d, want %d (%s)", what, (int)s, (int)want, segcam_last_error());
  CHECK(s == SEGCAM_OK || strstr(segcam_last_error(), name), "%s: message '%s'", what,
        segcam_last_error());
  oc_free(k);
}

#endif
