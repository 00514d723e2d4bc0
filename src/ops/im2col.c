/* im2col / col2im and the OpenMP-split sgemm of the convolution family (see im2col.h).
 *
 * im2col and col2im are plain memory-bound copies on the calling thread; the conv drivers give
 * each thread its own chunk.  sc_sgemm splits one product into per-thread column (or row) blocks,
 * each a single-threaded cblas_sgemm, so the results do not depend on the thread count beyond
 * OpenBLAS's own blocking. */
#include "ops/im2col.h"

#include <cblas.h>
#include <omp.h>
#include <string.h>
#include <threads.h>

/* OpenBLAS extensions (declared again here in case cblas.h is another vendor's). */
int openblas_get_parallel(void);
void openblas_set_num_threads(int num_threads);

/* Products below this many flops stay on one thread: waking the team costs microseconds. */
#define PAR_MIN_FLOPS 4e6

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void sc_win_range(int64_t off, int64_t stride, int64_t width, int64_t gw, int64_t *lo,
                  int64_t *hi) {
  /* q*stride + off >= 0  <=>  q >= ceil(-off / stride);  q*stride + off <= width - 1 */
  int64_t a = -floor_div(off, stride), b = floor_div(width - 1 - off, stride) + 1;
  if (a < 0) a = 0;
  if (b > gw) b = gw;
  if (b < a) b = a;
  *lo = a;
  *hi = b;
}

void sc_im2col(const sc_win2d *g, const float *img, int64_t p0, int64_t p1, float *col) {
  const int64_t rows = g->ic * g->r * g->s, len = (p1 - p0) * g->gw;
  for (int64_t row = 0; row < rows; row++) {
    const int64_t c = row / (g->r * g->s), r = row / g->s % g->r, s = row % g->s;
    const int64_t off = s * g->dw - g->pl;
    int64_t lo, hi;
    sc_win_range(off, g->sw, g->iw, g->gw, &lo, &hi);
    const float *plane = img + c * g->ih * g->iw; /* [IH, IW] */
    float *dst = col + row * len;                 /* [(p1-p0), GW] */
    for (int64_t p = p0; p < p1; p++, dst += g->gw) {
      const int64_t h = p * g->sh - g->pt + r * g->dh;
      if (h < 0 || h >= g->ih) {
        memset(dst, 0, (size_t)g->gw * sizeof *dst);
        continue;
      }
      const float *src = plane + h * g->iw; /* pixel (h, q*sw + off) for q in [lo, hi) */
      if (lo > 0) memset(dst, 0, (size_t)lo * sizeof *dst);
      if (g->sw == 1) {
        if (hi > lo) memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof *dst);
      } else {
        for (int64_t q = lo; q < hi; q++) dst[q] = src[q * g->sw + off];
      }
      if (hi < g->gw) memset(dst + hi, 0, (size_t)(g->gw - hi) * sizeof *dst);
    }
  }
}

void sc_col2im_add(const sc_win2d *g, const float *col, int64_t p0, int64_t p1, float *img) {
  const int64_t len = (p1 - p0) * g->gw;
  for (int64_t c = 0; c < g->ic; c++)
    for (int64_t r = 0; r < g->r; r++)
      for (int64_t s = 0; s < g->s; s++) {
        const int64_t off = s * g->dw - g->pl;
        int64_t lo, hi;
        sc_win_range(off, g->sw, g->iw, g->gw, &lo, &hi);
        const float *src = col + ((c * g->r + r) * g->s + s) * len; /* [(p1-p0), GW] */
        for (int64_t p = p0; p < p1; p++, src += g->gw) {
          const int64_t h = p * g->sh - g->pt + r * g->dh;
          if (h < 0 || h >= g->ih) continue;
          float *dst = img + (c * g->ih + h) * g->iw; /* pixel (h, q*sw + off) */
          if (g->sw == 1) {
            for (int64_t q = lo; q < hi; q++) dst[q + off] += src[q];
          } else {
            for (int64_t q = lo; q < hi; q++) dst[q * g->sw + off] += src[q];
          }
        }
      }
}

static once_flag blas_once = ONCE_FLAG_INIT;

static void blas_serial_once(void) {
  /* 1 = pthreads build: its pool would compete with OpenMP's (im2col.h).  2 = OpenMP build, which
   * already runs serially inside our parallel regions; setting it would change OpenMP's count. */
  if (openblas_get_parallel() == 1) openblas_set_num_threads(1);
}

void sc_blas_serial(void) {
  call_once(&blas_once, blas_serial_once);
}

void sc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc) {
  const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  sc_blas_serial();
  int nt = omp_get_max_threads();
  if (nt < 2 || omp_in_parallel() || 2.0 * (double)m * (double)n * (double)k < PAR_MIN_FLOPS) {
    cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb,
                beta, c, (int)ldc);
    return;
  }
  /* split the longer side of C into nt blocks, multiples of 16 to keep full vector tiles */
  const int by_cols = n >= m;
  const int64_t len = by_cols ? n : m;
  const int64_t step = ((len + nt - 1) / nt + 15) / 16 * 16;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int t = 0; t < nt; t++) {
    const int64_t i0 = t * step, i1 = i0 + step < len ? i0 + step : len;
    if (i0 >= i1) continue;
    if (by_cols) /* C[:, i0:i1] = op(A) . op(B)[:, i0:i1] */
      cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)(i1 - i0), (int)k, alpha, a, (int)lda,
                  trans_b ? b + i0 * ldb : b + i0, (int)ldb, beta, c + i0, (int)ldc);
    else /* C[i0:i1, :] = op(A)[i0:i1, :] . op(B) */
      cblas_sgemm(CblasRowMajor, ta, tb, (int)(i1 - i0), (int)n, (int)k, alpha,
                  trans_a ? a + i0 : a + i0 * lda, (int)lda, b, (int)ldb, beta, c + i0 * ldc,
                  (int)ldc);
  }
}
