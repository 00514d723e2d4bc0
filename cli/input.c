/* The input pipeline of `segcam predict` and `segcam explain`: one file (PNG, JPEG or .npy) to a
 * model input tensor, a session of the right size, and a forward run.
 *
 * Images: decoded to HWC floats in [0,255]; channels mapped (--channels) at the image's own size;
 * bilinear resize with half-pixel centres to the input size; x*scale, then (x-mean)/std per
 * channel; laid out as the model wants (NCHW or NHWC).  .npy arrays are used as they are (no
 * resize, no scaling), only transposed from HWC when the model is NCHW.  See docs/CLI.md. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_model_open(cli_model *m, const char *path, const cli_prep *pp) {
  memset(m, 0, sizeof *m);
  m->path = path;
  m->ss_h = m->ss_w = -2;
  if (segcam_model_load(path, &m->model)) return cli_lib_error();
  if (pp->layout >= 0 && segcam_model_set_input_layout(m->model, (segcam_layout)pp->layout)) {
    cli_lib_error();
    segcam_model_free(m->model);
    m->model = NULL;
    return CLI_FAIL;
  }
  if (segcam_model_input(m->model, &m->info)) {
    cli_lib_error();
    segcam_model_free(m->model);
    m->model = NULL;
    return CLI_FAIL;
  }
  return CLI_OK;
}

int cli_model_images_only(const cli_model *m) {
  if (!m->info.signal_1d) return CLI_OK;
  char dims[128];
  cli_dims_str(dims, sizeof dims, m->info.dims, m->info.ndim);
  return cli_error("%s: a 1-D (signal) model (input '%s' %s): predict and explain take images; "
                   "1-D models run through the library API (segcam_session_*)",
                   m->path, m->info.name, dims);
}

void cli_model_close(cli_model *m) {
  segcam_session_free(m->ss);
  segcam_model_free(m->model);
  memset(m, 0, sizeof *m);
}

void cli_image_free(cli_image *img) {
  sc_image_free(&img->display);
  memset(img, 0, sizeof *img);
}

/* Where channel / height / width sit in the model input; 0 when it is not an image input. */
typedef struct in_axes {
  int rank, c, h, w; /* c = -1 for [N, H, W] inputs */
  int64_t channels;
} in_axes;

static int input_axes(const segcam_input_info *info, in_axes *ax) {
  memset(ax, 0, sizeof *ax);
  ax->rank = info->ndim;
  if (info->ndim == 4) {
    int nchw = info->layout == SEGCAM_LAYOUT_NCHW;
    ax->c = nchw ? 1 : 3, ax->h = nchw ? 2 : 1, ax->w = nchw ? 3 : 2;
    ax->channels = info->dims[ax->c];
    return 1;
  }
  if (info->ndim == 3) {
    ax->c = -1, ax->h = 1, ax->w = 2, ax->channels = 1;
    return 1;
  }
  return 0;
}

/* The session for an input of h x w (-1: the model's own size); reused while the size stays. */
static int ensure_session(cli_model *m, int64_t h, int64_t w, cli_image *img) {
  if (m->ss && m->ss_h == h && m->ss_w == w) return CLI_OK;
  segcam_session_free(m->ss);
  m->ss = NULL;
  double t0 = cli_now();
  if (segcam_session_create(m->model, h, w, &m->ss)) {
    m->ss_h = m->ss_w = -2;
    return cli_lib_error();
  }
  img->sec_session = cli_now() - t0;
  m->ss_h = h, m->ss_w = w;
  m->session_serial++;
  return CLI_OK;
}

/* ---- images --------------------------------------------------------------------------------- */

static const char *channels_desc(int64_t c) {
  return c == 1 ? "gray" : c == 2 ? "gray+alpha" : c == 3 ? "RGB" : c == 4 ? "RGBA" : "?";
}

/* Luminance as in ITU-R BT.601 (what PIL's convert("L") and OpenCV's COLOR_RGB2GRAY use), in
 * double so that an unresized image gives the float32 a float64 NumPy pipeline gives. */
static double luma(const float *px, int64_t c) {
  if (c < 3) return px[0];
  return 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
}

/* Maps the image's channels to the model's C channels (at the image's size). */
static int map_channels(const cli_model *m, const cli_prep *pp, const char *path,
                        const sc_image *im, int64_t C, double **out) {
  cli_channels mode = pp->channels;
  if (mode == CLI_CH_AUTO) mode = C == 1 ? CLI_CH_GRAY : C == 3 ? CLI_CH_RGB : CLI_CH_KEEP;
  const char *iname = m->info.name ? m->info.name : "?";
  if ((mode == CLI_CH_GRAY && C != 1 && C != 3) ||
      ((mode == CLI_CH_RGB || mode == CLI_CH_BGR) && C != 3))
    return cli_error("%s: --channels %s gives %d channel%s but input '%s' of %s needs %lld", path,
                     cli_channels_name(mode), mode == CLI_CH_GRAY ? 1 : 3,
                     mode == CLI_CH_GRAY ? "" : "s", iname, m->path, (long long)C);
  if (mode == CLI_CH_KEEP && im->c != C)
    return cli_error("%s: the image has %lld channels (%s) but input '%s' of %s needs %lld "
                     "(--channels %s; give a .npy array for other data)",
                     path, (long long)im->c, channels_desc(im->c), iname, m->path, (long long)C,
                     pp->channels == CLI_CH_AUTO ? "keep, the default for this model" : "keep");
  int64_t n = im->h * im->w;
  double *d = malloc((size_t)(n * C) * sizeof *d);
  if (!d) return cli_error("%s: out of memory", path);
  const int64_t c = im->c;
  for (int64_t i = 0; i < n; i++) {
    const float *s = im->data + i * c;
    double *t = d + i * C;
    switch (mode) {
    case CLI_CH_GRAY: {
      double y = luma(s, c);
      for (int64_t k = 0; k < C; k++) t[k] = y;
      break;
    }
    case CLI_CH_RGB:
    case CLI_CH_BGR: {
      double rgb[3];
      for (int k = 0; k < 3; k++) rgb[k] = c >= 3 ? s[k] : s[0]; /* gray is replicated */
      for (int k = 0; k < 3; k++) t[k] = mode == CLI_CH_RGB ? rgb[k] : rgb[2 - k];
      break;
    }
    default:
      for (int64_t k = 0; k < C; k++) t[k] = s[k];
      break;
    }
  }
  *out = d;
  return CLI_OK;
}

static int check_norm_counts(const cli_model *m, const cli_prep *pp, int64_t C) {
  if (pp->n_mean > 1 && pp->n_mean != C)
    return cli_error("%s: --mean has %d values but input '%s' has %lld channels", m->path,
                     pp->n_mean, m->info.name, (long long)C);
  if (pp->n_std > 1 && pp->n_std != C)
    return cli_error("%s: --std has %d values but input '%s' has %lld channels", m->path, pp->n_std,
                     m->info.name, (long long)C);
  return CLI_OK;
}

/* Dynamic sizes: U-Nets halve the size once per level and concatenate skips, so H and W must be
 * divisible by 2^levels; 32 covers five levels. */
static int64_t round32(int64_t x) {
  int64_t r = (x + 16) / 32 * 32;
  return r < 32 ? 32 : r;
}

/* Writes the model input (--save-input) and runs it. */
static int run_input(cli_model *m, const char *save_input, const float *x, size_t n,
                     cli_image *img) {
  if (save_input && sc_npy_write_f32(save_input, x, img->in_dims, img->n_in))
    return cli_lib_error();
  double t0 = cli_now();
  segcam_status st = segcam_session_run(m->ss, x, n);
  img->sec_forward = cli_now() - t0;
  return st ? cli_lib_error() : CLI_OK;
}

static int run_picture(cli_model *m, const cli_prep *pp, const char *path, const char *save_input,
                       cli_image *img) {
  in_axes ax;
  char dims[128];
  cli_dims_str(dims, sizeof dims, m->info.dims, m->info.ndim);
  if (!input_axes(&m->info, &ax))
    return cli_error("%s: input '%s' %s of %s is not an image input; give a .npy array", path,
                     m->info.name, dims, m->path);
  if (ax.channels < 1)
    return cli_error("%s: input '%s' %s of %s has a dynamic channel count", path, m->info.name,
                     dims, m->path);
  double t0 = cli_now();
  if (sc_image_load(path, &img->display)) return cli_lib_error();
  img->sec_load = cli_now() - t0;
  img->h = img->display.h, img->w = img->display.w;

  /* --size wins (the library refuses it when it contradicts a fixed size); otherwise a fixed
   * side is the model's and a dynamic one the image's, rounded */
  int64_t mh = m->info.dims[ax.h], mw = m->info.dims[ax.w];
  int64_t h = pp->size_h > 0 ? pp->size_h : mh > 0 ? mh : round32(img->h);
  int64_t w = pp->size_w > 0 ? pp->size_w : mw > 0 ? mw : round32(img->w);
  if ((mh <= 0 || mw <= 0) && !pp->size_h && (h != img->h || w != img->w))
    cli_note(
        "%s: %lldx%lld (HxW) image resized to %lldx%lld for the dynamic input of %s (multiples "
        "of 32; set --size HxW to choose)",
        path, (long long)img->h, (long long)img->w, (long long)h, (long long)w, m->path);
  if (ensure_session(m, h, w, img)) return CLI_FAIL;
  if (segcam_session_input_shape(m->ss, &img->n_in, img->in_dims)) return cli_lib_error();
  img->in_h = img->in_dims[ax.h], img->in_w = img->in_dims[ax.w];
  int64_t C = ax.channels;
  if (check_norm_counts(m, pp, C)) return CLI_FAIL;

  t0 = cli_now();
  double *mapped = NULL;
  if (map_channels(m, pp, path, &img->display, C, &mapped)) return CLI_FAIL;
  int64_t H = img->in_h, W = img->in_w;
  float *sized = NULL; /* the resized image, when the sizes differ (the resize works in float) */
  if (H != img->h || W != img->w) {
    float *f = malloc((size_t)(img->h * img->w * C) * sizeof *f);
    sized = malloc((size_t)(H * W * C) * sizeof *sized);
    if (!f || !sized) {
      free(f);
      free(sized);
      free(mapped);
      return cli_error("%s: out of memory", path);
    }
    for (int64_t i = 0; i < img->h * img->w * C; i++) f[i] = (float)mapped[i];
    sc_resize_bilinear_hwc(f, img->h, img->w, C, sized, H, W);
    free(f);
  }
  size_t n = (size_t)(H * W * C);
  float *x = malloc(n * sizeof *x);
  if (!x) {
    free(sized);
    free(mapped);
    return cli_error("%s: out of memory", path);
  }
  int nchw = ax.rank == 4 && m->info.layout == SEGCAM_LAYOUT_NCHW;
  for (int64_t i = 0; i < H * W; i++)
    for (int64_t k = 0; k < C; k++) {
      double v = (sized ? (double)sized[i * C + k] : mapped[i * C + k]) * pp->scale;
      if (pp->n_mean) v -= pp->mean[pp->n_mean == 1 ? 0 : k];
      if (pp->n_std) v /= pp->std[pp->n_std == 1 ? 0 : k];
      x[nchw ? k * H * W + i : i * C + k] = (float)v;
    }
  free(sized);
  free(mapped);
  img->sec_preprocess = cli_now() - t0;
  int rc = run_input(m, save_input, x, n, img);
  free(x);
  return rc;
}

/* ---- .npy arrays ---------------------------------------------------------------------------- */

/* A picture to draw overlays on: the first three channels (or the first one), each min-max scaled
 * over the whole array to [0,255]. `a` is HWC or CHW as `chw` says. */
static int npy_display(const float *a, int64_t H, int64_t W, int64_t C, int chw, sc_image *out) {
  int64_t dc = C >= 3 ? 3 : 1;
  out->data = malloc((size_t)(H * W * dc) * sizeof(float));
  if (!out->data) return 0;
  out->h = H, out->w = W, out->c = dc;
  for (int64_t k = 0; k < dc; k++) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int64_t i = 0; i < H * W; i++) {
      float v = chw ? a[k * H * W + i] : a[i * C + k];
      if (v == v) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
    }
    float s = hi > lo ? 255.0f / (hi - lo) : 0.0f;
    for (int64_t i = 0; i < H * W; i++) {
      float v = chw ? a[k * H * W + i] : a[i * C + k];
      out->data[i * dc + k] = v == v ? (v - lo) * s : 0.0f;
    }
  }
  return 1;
}

static void shape_str(char *buf, size_t cap, const sc_npy *a) {
  cli_dims_str(buf, cap, a->shape, a->ndim);
}

static int run_npy(cli_model *m, const cli_prep *pp, const char *path, const char *save_input,
                   cli_image *img) {
  sc_npy a;
  double t0 = cli_now();
  if (sc_npy_read(path, &a)) return cli_lib_error();
  img->sec_load = cli_now() - t0;
  img->is_npy = 1;
  char ashape[160], mdims[128];
  shape_str(ashape, sizeof ashape, &a);
  cli_dims_str(mdims, sizeof mdims, m->info.dims, m->info.ndim);
  in_axes ax;
  int is_image = input_axes(&m->info, &ax);
  int64_t C = is_image ? ax.channels : 0;
  int64_t H = -1, W = -1;
  int transpose = 0; /* HWC array for an NCHW model */
  int chw = 0;       /* the array (as used) is CHW */
  const int64_t *s = a.shape;
  if (is_image && ax.rank == 4 && C > 0) {
    int nchw = m->info.layout == SEGCAM_LAYOUT_NCHW;
    if (a.ndim == 4 && s[0] == 1 && nchw && s[1] == C)
      H = s[2], W = s[3], chw = 1;
    else if (a.ndim == 4 && s[0] == 1 && !nchw && s[3] == C)
      H = s[1], W = s[2];
    else if (a.ndim == 3 && nchw && s[0] == C)
      H = s[1], W = s[2], chw = 1;
    else if (a.ndim == 3 && s[2] == C)
      H = s[0], W = s[1], transpose = nchw;
    else if (a.ndim == 2 && C == 1)
      H = s[0], W = s[1];
  } else if (is_image && ax.rank == 3) {
    if (a.ndim == 3 && s[0] == 1)
      H = s[1], W = s[2];
    else if (a.ndim == 2)
      H = s[0], W = s[1];
  }
  int64_t mh = is_image ? m->info.dims[ax.h] : -1, mw = is_image ? m->info.dims[ax.w] : -1;
  if (H > 0 && W > 0 && ((mh > 0 && mh != H) || (mw > 0 && mw != W))) H = W = -1;
  if (H > 0 && W > 0 && pp->size_h > 0 && (pp->size_h != H || pp->size_w != W)) {
    sc_npy_free(&a);
    return cli_error("%s: the array is %lldx%lld (HxW) but --size asks for %lldx%lld; .npy inputs "
                     "are used as they are (no resize)", path, (long long)H, (long long)W,
                     (long long)pp->size_h, (long long)pp->size_w);
  }
  if (H <= 0 || W <= 0) {
    char want[512];
    if (is_image && ax.rank == 4 && C > 0) {
      const char *hs = "H", *ws = "W";
      char hb[24], wb[24];
      if (mh > 0) snprintf(hb, sizeof hb, "%lld", (long long)mh), hs = hb;
      if (mw > 0) snprintf(wb, sizeof wb, "%lld", (long long)mw), ws = wb;
      if (m->info.layout == SEGCAM_LAYOUT_NCHW)
        snprintf(want, sizeof want, "[1,%lld,%s,%s], [%lld,%s,%s]%s[%s,%s,%lld]%s%s%s%s",
                 (long long)C, hs, ws, (long long)C, hs, ws, C == 1 ? ", " : " or ", hs, ws,
                 (long long)C, C == 1 ? " or [" : "", C == 1 ? hs : "", C == 1 ? "," : "",
                 C == 1 ? ws : "");
      else
        snprintf(want, sizeof want, "[1,%s,%s,%lld]%s[%s,%s,%lld]%s%s%s%s", hs, ws, (long long)C,
                 C == 1 ? ", " : " or ", hs, ws, (long long)C, C == 1 ? " or [" : "",
                 C == 1 ? hs : "", C == 1 ? "," : "", C == 1 ? ws : "");
      if (C == 1) strncat(want, "]", sizeof want - strlen(want) - 1);
    } else if (is_image) {
      snprintf(want, sizeof want, "[1,%lld,%lld] or [%lld,%lld] (-1: any size)", (long long)mh,
               (long long)mw, (long long)mh, (long long)mw);
    } else {
      snprintf(want, sizeof want, "%s", mdims);
    }
    if (!is_image) {
      /* not an image input: the array must be the input itself, with or without the batch */
      int ok = a.ndim == m->info.ndim || a.ndim == m->info.ndim - 1;
      int off = a.ndim == m->info.ndim ? 0 : 1;
      for (int i = 0; ok && i < a.ndim; i++) {
        int64_t d = m->info.dims[i + off];
        if (d > 0 && d != s[i]) ok = 0;
      }
      if (ok && off == 0 && s[0] != 1) ok = 0;
      if (ok) {
        if (ensure_session(m, -1, -1, img)) {
          sc_npy_free(&a);
          return CLI_FAIL;
        }
        if (segcam_session_input_shape(m->ss, &img->n_in, img->in_dims)) {
          sc_npy_free(&a);
          return cli_lib_error();
        }
        size_t n = 1;
        for (int i = 0; i < a.ndim; i++) n *= (size_t)s[i];
        img->h = img->w = img->in_h = img->in_w = 1;
        int rc = run_input(m, save_input, a.data, n, img);
        sc_npy_free(&a);
        return rc;
      }
    }
    sc_npy_free(&a);
    return cli_error("%s: array of shape %s does not fit input '%s' %s (%s) of %s: expected %s",
                     path, ashape, m->info.name, mdims, cli_layout_name(m->info.layout), m->path,
                     want);
  }
  if (C <= 0) C = 1;
  img->h = H, img->w = W;
  if (ensure_session(m, H, W, img)) {
    sc_npy_free(&a);
    return CLI_FAIL;
  }
  if (segcam_session_input_shape(m->ss, &img->n_in, img->in_dims)) {
    sc_npy_free(&a);
    return cli_lib_error();
  }
  img->in_h = H, img->in_w = W;
  t0 = cli_now();
  size_t n = (size_t)(H * W * C);
  float *x = a.data;
  if (transpose) {
    x = malloc(n * sizeof *x);
    if (!x) {
      sc_npy_free(&a);
      return cli_error("%s: out of memory", path);
    }
    for (int64_t i = 0; i < H * W; i++)
      for (int64_t k = 0; k < C; k++) x[k * H * W + i] = a.data[i * C + k];
    chw = 1;
  }
  if (!npy_display(x, H, W, C, chw, &img->display)) {
    if (x != a.data) free(x);
    sc_npy_free(&a);
    return cli_error("%s: out of memory", path);
  }
  img->sec_preprocess = cli_now() - t0;
  int rc = run_input(m, save_input, x, n, img);
  if (x != a.data) free(x);
  sc_npy_free(&a);
  return rc;
}

/* .npy by its magic bytes, so a renamed file is still read as what it is. */
int cli_is_npy(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char b[6];
  size_t n = fread(b, 1, 6, f);
  fclose(f);
  return n == 6 && memcmp(b, "\x93NUMPY", 6) == 0;
}

char *cli_input_npy_path(const char *out, const char *stem) {
  size_t n = strlen(stem) + 16;
  char *name = malloc(n);
  if (!name) return NULL;
  snprintf(name, n, "%s.input.npy", stem);
  char *p = cli_join(out, name);
  free(name);
  return p;
}

int cli_run_image(cli_model *m, const cli_prep *pp, const char *path, const char *save_input,
                  cli_image *img) {
  memset(img, 0, sizeof *img);
  img->path = path;
  FILE *f = fopen(path, "rb");
  if (!f) return cli_error("%s: cannot open: %s", path, strerror(errno));
  fclose(f);
  return cli_is_npy(path) ? run_npy(m, pp, path, save_input, img)
                          : run_picture(m, pp, path, save_input, img);
}
