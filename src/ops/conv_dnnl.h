/* Conv and ConvTranspose on oneDNN: forward and data gradient, with an optional fused (leaky)
 * ReLU or Clip.  The tensors the rest of segcam sees stay NCHW; oneDNN picks its own (blocked) layout for
 * the convolution itself and the data is reordered on the way in and out, in the session scratch.
 * Weights are reordered once, when the session is planned.
 *
 * sc_dnnl_conv_create returns NULL whenever oneDNN cannot take the convolution (no
 * implementation for the geometry, a negative end padding it refuses, SEGCAM_CONV=blas in the
 * environment): the caller then runs its own OpenBLAS path, which handles everything. */
#ifndef SC_CONV_DNNL_H
#define SC_CONV_DNNL_H

#include <stddef.h>
#include <stdint.h>

typedef struct sc_dnnl_conv sc_dnnl_conv;

typedef struct sc_dnnl_conv_geom {
  int transpose;           /* 0: Conv, 1: ConvTranspose */
  int64_t n, c, h, w;      /* input X [N, C, H, W] */
  int64_t k, p, q;         /* output Y [N, K, P, Q] */
  int64_t groups, r, s;    /* kernel R x S */
  int64_t stride[2];       /* H, W */
  int64_t dil[2];          /* ONNX convention: 1 = dense */
  int64_t pad[2];          /* leading pads (H, W); the trailing ones follow from the sizes */
  int act;                 /* fused activation after the bias, SC_FUSE_* (ops.h): */
  float alpha;             /*   RELU: y = x > 0 ? x : alpha*x, alpha >= 0 */
  float lo, hi;            /*   CLIP: y = min(max(x, lo), hi), lo < hi */
} sc_dnnl_conv_geom;

/* w: ONNX layout ([K, C/G, R, S] for Conv, [C, K/G, R, S] for ConvTranspose), b: [K] or NULL;
 * both are copied.  *scratch_bytes: what forward and backward need in their scratch. */
sc_dnnl_conv *sc_dnnl_conv_create(const sc_dnnl_conv_geom *g, const float *w, const float *b,
                                  size_t *scratch_bytes);
void sc_dnnl_conv_free(void *d);

/* y = act(conv(x) + b).  scratch: *scratch_bytes, 64-byte aligned.  Returns 0 if oneDNN failed
 * (e.g. out of memory in a primitive's creation). */
int sc_dnnl_conv_forward(sc_dnnl_conv *d, const float *x, float *y, void *scratch);

/* dx += dL/dx given dy = dL/dy (overwrite: dx = dL/dx, dx's old contents ignored); y (the
 * forward output) is read only with a fused activation.  Returns 0 if oneDNN failed. */
int sc_dnnl_conv_backward(sc_dnnl_conv *d, const float *y, const float *dy, float *dx,
                          void *scratch, int overwrite);

#endif
