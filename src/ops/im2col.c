/* im2col / col2im for the convolution family (see im2col.h for the geometry).
 *
 * Both are memory-bound copies; they split work across threads by destination rows so that no two
 * threads write the same element and the summation order (hence the result) does not depend on the
 * thread count.  Small problems stay on one thread: a parallel region costs microseconds. */
#include "ops/im2col.h"

#include <string.h>

/* Elements below which a copy is not worth waking the other threads. */
#define SC_PAR_MIN 32768

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
#pragma omp parallel for schedule(static) if (rows * len >= SC_PAR_MIN)
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
  /* Gather form: each image row (c, h) collects the taps (r, p) with p*sh - pt + r*dh = h, so
   * rows are independent and can go to different threads. */
  const int64_t rows = g->ic * g->ih, len = (p1 - p0) * g->gw;
#pragma omp parallel for schedule(static) if (g->ic * g->r * g->s * len >= SC_PAR_MIN)
  for (int64_t row = 0; row < rows; row++) {
    const int64_t c = row / g->ih, h = row % g->ih;
    float *dst = img + row * g->iw; /* [IW] */
    for (int64_t r = 0; r < g->r; r++) {
      const int64_t num = h + g->pt - r * g->dh;
      if (num < p0 * g->sh || num % g->sh != 0) continue;
      const int64_t p = num / g->sh;
      if (p >= p1) continue;
      for (int64_t s = 0; s < g->s; s++) {
        const int64_t off = s * g->dw - g->pl;
        int64_t lo, hi;
        sc_win_range(off, g->sw, g->iw, g->gw, &lo, &hi);
        const float *src = col + ((c * g->r + r) * g->s + s) * len + (p - p0) * g->gw;
        if (g->sw == 1) {
          for (int64_t q = lo; q < hi; q++) dst[q + off] += src[q];
        } else {
          for (int64_t q = lo; q < hi; q++) dst[q * g->sw + off] += src[q];
        }
      }
    }
  }
}
