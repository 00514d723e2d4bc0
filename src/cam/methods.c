/* The gradient-based CAM methods (CAM_METHODS.md §2), on plain arrays.
 * A and G are [K, Z] (channel-major, Z = h*w); every method ends with a map of Z values >= 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cam/cam.h"

static float relu(float x) { return x > 0 ? x : 0; }

/* map = ReLU(sum_k w_k A_k) */
static void weighted_sum(const float *A, const double *w, int64_t K, int64_t Z, float *out) {
  #pragma omp parallel for schedule(static)
  for (int64_t z = 0; z < Z; z++) {
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += w[k] * A[k * Z + z];
    out[z] = relu((float)s);
  }
}

segcam_status sc_cam_method(segcam_method method, const float *A, const float *G, int64_t K,
                            int64_t Z, float *out) {
  double *w = sc_calloc_n((size_t)K, sizeof *w);
  if (!w) return SEGCAM_E_NOMEM;
  switch (method) {
  case SEGCAM_METHOD_GRADCAM: /* w_k = mean over space of g */
    for (int64_t k = 0; k < K; k++) {
      double s = 0;
      for (int64_t z = 0; z < Z; z++) s += G[k * Z + z];
      w[k] = s / (double)Z;
    }
    weighted_sum(A, w, K, Z, out);
    break;
  case SEGCAM_METHOD_XGRADCAM: /* w_k = sum g*A / (sum A + eps) */
    for (int64_t k = 0; k < K; k++) {
      double ga = 0, a = 0;
      for (int64_t z = 0; z < Z; z++) ga += (double)G[k * Z + z] * A[k * Z + z], a += A[k * Z + z];
      w[k] = ga / (a + 1e-7);
    }
    weighted_sum(A, w, K, Z, out);
    break;
  case SEGCAM_METHOD_GRADCAMPP: /* alpha = g^2 / (2 g^2 + sum(A) g^3), 0 where g = 0 */
    for (int64_t k = 0; k < K; k++) {
      double asum = 0, s = 0;
      for (int64_t z = 0; z < Z; z++) asum += A[k * Z + z];
      for (int64_t z = 0; z < Z; z++) {
        double g = G[k * Z + z], g2 = g * g, den = 2 * g2 + asum * g2 * g;
        double alpha = (g != 0 && den != 0) ? g2 / den : 0;
        s += alpha * (g > 0 ? g : 0);
      }
      w[k] = s;
    }
    weighted_sum(A, w, K, Z, out);
    break;
  case SEGCAM_METHOD_HIRESCAM:
  case SEGCAM_METHOD_GRADCAM_ELEMENTWISE:
  case SEGCAM_METHOD_LAYERCAM:
    #pragma omp parallel for schedule(static)
    for (int64_t z = 0; z < Z; z++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) {
        double g = G[k * Z + z], a = A[k * Z + z];
        if (method == SEGCAM_METHOD_HIRESCAM) s += g * a;
        else if (method == SEGCAM_METHOD_GRADCAM_ELEMENTWISE) s += g * a > 0 ? g * a : 0;
        else s += (g > 0 ? g : 0) * a;
      }
      out[z] = relu((float)s);
    }
    break;
  default:
    free(w);
    return sc_error(SEGCAM_E_ARG, "unknown CAM method %d", (int)method);
  }
  free(w);
  return SEGCAM_OK;
}

void sc_cam_normalize(float *map, int64_t n, segcam_normalize mode, float lo, float hi) {
  if (mode == SEGCAM_NORM_NONE) return;
  if (mode == SEGCAM_NORM_MAX) {
    for (int64_t i = 0; i < n; i++) map[i] = hi > 0 ? map[i] / hi : 0;
    return;
  }
  /* min-max (per map or shared): divide by the exact range; a constant map becomes zeros */
  double range = (double)hi - (double)lo;
  for (int64_t i = 0; i < n; i++) map[i] = range > 0 ? (float)((map[i] - (double)lo) / range) : 0;
}
