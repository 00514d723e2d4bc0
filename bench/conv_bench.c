/* Conv kernel throughput on the 3x3 shapes that dominate a base-32 U-Net (32->32 at 256x256,
 * 64->64 at 128x128): GFLOP/s of forward and backward-data, next to a bare cblas_sgemm of the
 * same [K x C*9] . [C*9 x P*Q] product as the reference ratio.  Not a test: it checks nothing. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* OpenBLAS's own threading, for the reference (segcam switches it to one thread per call). */
void openblas_set_num_threads(int num_threads);

/* Runs fn for about a second; returns the fastest call's seconds (the least disturbed by other
 * processes on a shared machine). */
static double timeit(void (*fn)(void *), void *arg) {
  fn(arg); /* warm-up */
  double best = 1e30, t0 = omp_get_wtime();
  while (omp_get_wtime() - t0 < 1.0) {
    double t = omp_get_wtime();
    fn(arg);
    t = omp_get_wtime() - t;
    best = t < best ? t : best;
  }
  return best;
}

typedef struct run {
  sc_opctx *c;
  int ch, hw;
  float *a, *b, *y;
} run;

static void fwd(void *p) {
  sc_opdefs[SC_OP_CONV]->forward(((run *)p)->c);
}
static void bwd(void *p) {
  run *r = p;
  memset(r->c->din[0], 0, sizeof(float) * (size_t)r->ch * r->hw * r->hw);
  sc_opdefs[SC_OP_CONV]->backward(r->c);
}
static void gemm(void *p) {
  run *r = p;
  int n = r->hw * r->hw, k = r->ch * 9;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r->ch, n, k, 1.0f, r->a, k, r->b, n, 0.0f,
              r->y, n);
}

static float *buf(size_t n) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = (float)(i % 17) / 17.0f - 0.5f;
  return x;
}

static void bench(int ch, int hw) {
  const size_t nx = (size_t)ch * hw * hw;
  sc_conv_params prm = {{3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, SC_PAD_EXPLICIT, {0, 0}, {0, 0}};
  sc_tensor x = {SC_F32, {4, {1, ch, hw, hw}}, buf(nx)};
  sc_tensor w = {SC_F32, {4, {ch, ch, 3, 3}}, buf((size_t)ch * ch * 9)};
  sc_tensor b = {SC_F32, {1, {ch}}, buf((size_t)ch)};
  sc_tensor y = {SC_F32, {0, {0}}, NULL};
  int in_idx[3] = {0, 1, 2}, out_idx[1] = {3};
  sc_graph graph = {.path = "bench"};
  sc_node node = {.name = "conv",
                  .type = "Conv",
                  .op = SC_OP_CONV,
                  .n_in = 3,
                  .n_out = 1,
                  .in = in_idx,
                  .out = out_idx,
                  .params = &prm};
  sc_node_state state;
  sc_opctx c = {.graph = &graph,
                .node = &node,
                .in = {&x, &w, &b},
                .out = {&y},
                .in_const = {0, 1, 1},
                .state = &state};
  if (sc_opdefs[SC_OP_CONV]->infer(&c)) {
    fprintf(stderr, "%s\n", segcam_last_error());
    exit(1);
  }
  y.data = buf(nx);
  c.scratch = aligned_alloc(64, (c.scratch_size + 63) / 64 * 64 + 64);
  float *dy = buf(nx), *dx = buf(nx);
  c.dout[0] = dy;
  c.din[0] = dx;
  run r = {&c, ch, hw, w.data, buf(nx * 9), y.data};
  double gflop = 2.0 * ch * ch * 9 * hw * hw * 1e-9;
  openblas_set_num_threads(omp_get_max_threads());
  double tg = timeit(gemm, &r);
  openblas_set_num_threads(1);
  double tf = timeit(fwd, &r), tb = timeit(bwd, &r);
  printf("3x3 %3d->%-3d %3dx%-3d  forward %6.1f GFLOP/s (%5.2f ms)  backward %6.1f (%5.2f ms)  "
         "sgemm %6.1f (%5.2f ms)  fwd/sgemm %.2f\n",
         ch, ch, hw, hw, gflop / tf, tf * 1e3, gflop / tb, tb * 1e3, gflop / tg, tg * 1e3, tg / tf);
  free(x.data), free(w.data), free(b.data), free(y.data), free(c.scratch), free(dy), free(dx);
  free(r.b);
}

int main(void) {
  bench(32, 256);
  bench(64, 128);
  return 0;
}
