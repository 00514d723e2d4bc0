/* Upsampling a single-channel low-resolution map to the image size (CAM_METHODS.md §3).
 *   bilinear: half-pixel centres, edge clamp (TF2 tf.image.resize, OpenCV INTER_LINEAR)
 *   bicubic:  Keys kernel a = -0.5 with half-pixel centres; taps outside the map get weight 0 and
 *             the remaining weights are renormalised (TF2 ResizeBicubic, FORMATS §4.5), computed
 *             exactly rather than from TF's 1/1024 table
 *   nearest:  half-pixel centres, floor((dst + 0.5) * scale) (TF2 nearest) */
#include "cam/cam.h"

#include <math.h>
#include <stdlib.h>

#include "image/image.h"

static double cubic_w(double x, double a) {
  x = fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

/* Per output index: 4 source indices and weights along one axis. */
static void cubic_axis(int64_t in, int64_t out, int64_t *idx, double *w) {
  double scale = (double)in / (double)out;
  for (int64_t o = 0; o < out; o++) {
    double src = (o + 0.5) * scale - 0.5, f = floor(src), t = src - f, sum = 0;
    for (int k = 0; k < 4; k++) {
      int64_t j = (int64_t)f - 1 + k;
      double wk = (j < 0 || j >= in) ? 0 : cubic_w(t - (k - 1), -0.5);
      idx[o * 4 + k] = j < 0 ? 0 : j >= in ? in - 1 : j;
      w[o * 4 + k] = wk;
      sum += wk;
    }
    for (int k = 0; k < 4; k++) w[o * 4 + k] = sum != 0 ? w[o * 4 + k] / sum : 0;
  }
}

segcam_status sc_cam_resample(const float *src, int64_t h, int64_t w, float *dst, int64_t H,
                              int64_t W, segcam_resample mode) {
  if (mode == SEGCAM_RESAMPLE_BILINEAR) {
    sc_resize_bilinear_hwc(src, h, w, 1, dst, H, W);
    return SEGCAM_OK;
  }
  if (mode == SEGCAM_RESAMPLE_NEAREST) {
    for (int64_t y = 0; y < H; y++) {
      int64_t sy = (int64_t)floor((y + 0.5) * (double)h / (double)H);
      if (sy > h - 1) sy = h - 1;
      for (int64_t x = 0; x < W; x++) {
        int64_t sx = (int64_t)floor((x + 0.5) * (double)w / (double)W);
        if (sx > w - 1) sx = w - 1;
        dst[y * W + x] = src[sy * w + sx];
      }
    }
    return SEGCAM_OK;
  }
  int64_t *iy = sc_calloc_n((size_t)H * 4, sizeof *iy), *ix = sc_calloc_n((size_t)W * 4, sizeof *ix);
  double *wy = sc_calloc_n((size_t)H * 4, sizeof *wy), *wx = sc_calloc_n((size_t)W * 4, sizeof *wx);
  double *row = sc_calloc_n((size_t)h * (size_t)W, sizeof *row);
  if (!iy || !ix || !wy || !wx || !row) {
    free(iy), free(ix), free(wy), free(wx), free(row);
    return SEGCAM_E_NOMEM;
  }
  cubic_axis(h, H, iy, wy);
  cubic_axis(w, W, ix, wx);
  for (int64_t y = 0; y < h; y++)
    for (int64_t x = 0; x < W; x++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += wx[x * 4 + k] * src[y * w + ix[x * 4 + k]];
      row[y * W + x] = s;
    }
  for (int64_t y = 0; y < H; y++)
    for (int64_t x = 0; x < W; x++) {
      double s = 0;
      for (int k = 0; k < 4; k++) s += wy[y * 4 + k] * row[iy[y * 4 + k] * W + x];
      dst[y * W + x] = (float)s;
    }
  free(iy), free(ix), free(wy), free(wx), free(row);
  return SEGCAM_OK;
}
