/* Shared helpers of the convolution family: im2col / col2im for 2-D sliding windows, and a
 * row-major sgemm split across the OpenMP threads.
 *
 * Window geometry: a grid of GH x GW positions slides over an image of IC channels, IH x IW
 * pixels; grid position (p, q) with kernel tap (r, s) reads image pixel
 *     h = p*sh - pt + r*dh,   w = q*sw - pl + s*dw
 * (zero outside the image).  The column matrix has IC*R*S rows, one per (c, r, s), and one column
 * per grid position; a chunk holds grid rows [p0, p1) only, so its row length is (p1-p0)*GW.
 * Conv reads X as the image and writes Y on the grid; ConvTranspose is the same geometry with the
 * roles exchanged (the image is its output).  The pads may be negative (a ConvTranspose
 * output_shape larger than the full result).  im2col/col2im run on the calling thread (callers
 * give each thread its own chunk) and do no validation: the op's infer has checked every size.
 *
 * Threads: segcam runs one thread pool, OpenMP's.  Mixing it with OpenBLAS's own pthreads makes
 * each pool spin while the other works (libgomp spins for milliseconds after a parallel region
 * by default), which on 2 cores cost 5-10x in measurements of the conv kernels.  So a pthreads
 * OpenBLAS is switched to one thread per call (sc_blas_serial), and the heavy matrix products
 * are split across OpenMP threads by their callers or by sc_sgemm. */
#ifndef SC_IM2COL_H
#define SC_IM2COL_H

#include <stdint.h>

typedef struct sc_win2d {
  int64_t ic, ih, iw; /* image: channels (of one group), height, width */
  int64_t gh, gw;     /* window grid */
  int64_t r, s;       /* kernel height, width */
  int64_t sh, sw;     /* strides */
  int64_t dh, dw;     /* dilations */
  int64_t pt, pl;     /* padding before (top, left) */
} sc_win2d;

/* col[(c*R + r)*S + s][(p - p0)*GW + q] = img[c][h][w] for grid rows p in [p0, p1). */
void sc_im2col(const sc_win2d *g, const float *img, int64_t p0, int64_t p1, float *col);

/* img[c][h][w] += col[...] (the adjoint of sc_im2col) for grid rows p in [p0, p1).  Touches image
 * rows [p0*sh - pt, (p1-1)*sh - pt + (R-1)*dh] only. */
void sc_col2im_add(const sc_win2d *g, const float *col, int64_t p0, int64_t p1, float *img);

/* The grid columns q whose tap at offset `off` (= s*dw - pl) lands inside [0, width):
 * q in [*lo, *hi), clamped to [0, gw). */
void sc_win_range(int64_t off, int64_t stride, int64_t width, int64_t gw, int64_t *lo, int64_t *hi);

/* Makes a pthreads build of OpenBLAS compute each call on the calling thread (process-wide, once;
 * OpenMP and sequential builds are left alone: they already run serially inside a parallel
 * region).  Call before any cblas_* call made from inside an OpenMP parallel region. */
void sc_blas_serial(void);

/* Row-major C = alpha * op(A) . op(B) + beta * C (op = transpose when trans_*), as cblas_sgemm,
 * with C's rows or columns split across the OpenMP threads when the product is large enough to
 * pay for it.  Sizes must fit in int (callers' infer checks). */
void sc_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc);

#endif
