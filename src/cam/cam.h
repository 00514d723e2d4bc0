/* CAM internals: the methods on plain tensors, resampling, normalisation.  They see activations
 * and gradients as arrays, never the graph. */
#ifndef SC_CAM_H
#define SC_CAM_H

#include <stdint.h>

#include "core/error.h"
#include "segcam.h"

/* A = activations [K, Z], G = dS/dA [K, Z] (Z = h*w), out = low-res map [Z] (after its ReLU). */
segcam_status sc_cam_method(segcam_method method, const float *A, const float *G, int64_t K,
                            int64_t Z, float *out);

/* Single-channel resampling h x w -> H x W. */
segcam_status sc_cam_resample(const float *src, int64_t h, int64_t w, float *dst, int64_t H,
                              int64_t W, segcam_resample mode);

/* In-place normalisation with a given range; a zero range gives zeros (never NaN). */
void sc_cam_normalize(float *map, int64_t n, segcam_normalize mode, float lo, float hi);

#endif
