/* Image and array files, colormaps and overlays.  Knows nothing of models or graphs.
 *
 * Images are decoded to float HWC with values in [0, 255] (16-bit PNGs are scaled to that range),
 * channels 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) as stored.  Every function returns a
 * segcam_status and sets the message (naming the file) where the error is found. */
#ifndef SC_IMAGE_H
#define SC_IMAGE_H

#include <stdint.h>

#include "segcam.h"

/* Upper bound on decoded image dimensions; larger files are treated as hostile (stb's habit). */
#define SC_IMAGE_MAX_SIDE 32768
#define SC_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

typedef struct sc_image {
  int64_t w, h, c;
  float *data; /* h*w*c, row-major HWC */
} sc_image;

/* PNG or JPEG, chosen by the file's magic bytes (not its name). */
segcam_status sc_image_load(const char *path, sc_image *out);
void sc_image_free(sc_image *img);

/* Writes 8-bit PNG; channels 1, 3 or 4; pixels h*w*channels. */
segcam_status sc_png_write(const char *path, const uint8_t *pixels, int64_t w, int64_t h,
                           int channels);

/* Bilinear resize with half-pixel centres (TF2 tf.image.resize / OpenCV INTER_LINEAR, no
 * antialiasing), HWC float. dst must hold dh*dw*c floats. */
void sc_resize_bilinear_hwc(const float *src, int64_t sh, int64_t sw, int64_t c, float *dst,
                            int64_t dh, int64_t dw);

/* ---- .npy ---- */
typedef struct sc_npy {
  int ndim;
  int64_t shape[SEGCAM_MAX_DIMS];
  float *data; /* converted to float32, C order */
} sc_npy;

/* Reads NumPy .npy v1/v2/v3: dtypes <f4 <f8 |u1 |i1 <i2 <u2 <i4 <i8 (converted to float32),
 * C order only (fortran_order True is an error). */
segcam_status sc_npy_read(const char *path, sc_npy *out);
void sc_npy_free(sc_npy *a);
/* Writes a float32 little-endian C-order .npy (format 1.0). */
segcam_status sc_npy_write_f32(const char *path, const float *data, const int64_t *shape,
                               int ndim);

/* ---- colormaps ---- */
typedef enum sc_colormap {
  SC_CMAP_JET = 0,
  SC_CMAP_TURBO,
  SC_CMAP_VIRIDIS,
  SC_CMAP_INFERNO,
  SC_CMAP_GRAY
} sc_colormap;

/* Returns -1 for an unknown name. */
int sc_colormap_from_name(const char *name);
const char *sc_colormap_name(sc_colormap cmap);
/* values in [0,1] (clamped; NaN -> 0) -> RGB bytes, n pixels. */
void sc_colormap_apply(sc_colormap cmap, const float *values, int64_t n, uint8_t *rgb);

/* out = (1-alpha)*heat + alpha*image, per channel, rounded; image is HWC float [0,255] with
 * c = 1..4 (gray is replicated, alpha channel ignored); heat and out are RGB bytes. */
void sc_overlay(const uint8_t *heat_rgb, const float *image, int64_t n_pixels, int64_t c,
                float alpha, uint8_t *out_rgb);

/* Distinct colour for class k in a mask image (k = 0 is black). */
void sc_class_color(int64_t k, uint8_t rgb[3]);

#endif
