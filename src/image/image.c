/* Image files: PNG (libpng) and JPEG (libjpeg-turbo) decoding to float HWC in [0,255], 8-bit PNG
 * writing, and half-pixel bilinear resizing.
 *
 * Both codecs report errors by longjmp out of a callback.  Each decoder keeps everything that
 * must be released after such a jump in a state struct owned by the caller of the function that
 * calls setjmp, so no automatic variable changed after setjmp is read after the jump (C11
 * 7.13.2.1), and cleanup happens in one place.  A corrupt or truncated file gives
 * SEGCAM_E_FORMAT (SEGCAM_E_IO for a read error) with the codec's message, the file name and
 * the row where the data ran out; libjpeg's default error_exit, which calls exit(), is replaced.
 *
 * Both decode row by row into a buffer that grows as rows arrive (grow), never from the header's
 * dimensions alone, so a small file claiming a huge image costs little memory.  Adam7 PNGs are
 * read pass by pass as the sub-images they are, kept as decoded, and scattered into the image
 * once all have arrived.  A PNG whose declared image data exceeds what deflate can expand its
 * file to is refused before any allocation.  (libjpeg
 * itself allocates a whole-image coefficient buffer for progressive and multi-scan files at
 * jpeg_start_decompress, 2 bytes per sample, but touches it only as scans are decoded.) */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include <jerror.h> /* after jpeglib.h: which codes exist depends on its configuration */

#include "core/error.h"
#include "image/image.h"

/* A progressive JPEG can hold thousands of tiny scans that each cost a pass over the whole
 * coefficient buffer; real files have at most a few dozen. */
#define SC_JPEG_MAX_SCANS 1000

#define PNG_MSG_LEN 256

static segcam_status check_dims(const char *kind, const char *path, int64_t w, int64_t h) {
  if (w <= 0 || h <= 0)
    return sc_error(SEGCAM_E_FORMAT, "%s: %s: empty image (%lldx%lld)", kind, path, (long long)w,
                    (long long)h);
  if (w > SC_IMAGE_MAX_SIDE || h > SC_IMAGE_MAX_SIDE || w * h > SC_IMAGE_MAX_PIXELS)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: %s: image of %lldx%lld pixels exceeds the limit (%d per side, %lld in "
                    "all)",
                    kind, path, (long long)w, (long long)h, SC_IMAGE_MAX_SIDE,
                    (long long)SC_IMAGE_MAX_PIXELS);
  return SEGCAM_OK;
}

/* ---- buffers grown as rows arrive ----------------------------------------------------- */

/* A header's dimensions are only a promise.  Decoded rows go to a buffer that starts at 4 MiB
 * (or the whole image when smaller) and doubles, up to the size the header declares, as rows
 * actually arrive.  A file that lies about its size fails on its missing data, having allocated
 * at most twice what the data it does hold decodes to. */
#define SC_IMAGE_FIRST_BYTES ((size_t)4 << 20)

/* Returns buf enlarged so that it holds at least need <= max bytes (*cap is its size), or NULL
 * with SEGCAM_E_NOMEM set (buf is then still the caller's to free). */
static void *grow(void *buf, size_t *cap, size_t need, size_t max) {
  if (need <= *cap) return buf;
  size_t n = *cap ? *cap : SC_IMAGE_FIRST_BYTES;
  while (n < need && n < max) n = n > max / 2 ? max : 2 * n;
  if (n > max) n = max;
  void *p = sc_realloc_n(buf, n, 1);
  if (p) *cap = n;
  return p;
}

/* ---- PNG reading ------------------------------------------------------------------------ */

/* Deflate never expands more than 1032:1 (a 258-byte match coded in 2 bits), so image data of
 * more than 1032 times the file's size cannot be in the file. */
#define SC_DEFLATE_MAX_RATIO 1032

typedef struct png_rstate {
  const char *path;
  FILE *f;
  int64_t file_size; /* -1 when not known (a pipe) */
  png_structp png;
  png_infop info;
  uint8_t *row; /* one decoded row (of an interlace pass), rowbytes */
  uint8_t *raw; /* interlaced: the pass sub-images one after another, as decoded */
  size_t raw_cap, raw_len;
  float *data; /* the image; when not interlaced, grown as rows arrive */
  size_t cap;  /* bytes */
  int64_t w, h, c;
  int interlaced;
  int pass;         /* where the data ran out, for the message */
  int64_t pass_row; /* -1 before the pixel data */
  int64_t pass_rows;
  segcam_status status;  /* set when we (not libpng) found the error; message already set */
  char msg[PNG_MSG_LEN]; /* libpng's message */
} png_rstate;

/* The error pointer is the state's msg buffer (PNG_MSG_LEN bytes). */
static void png_error_cb(png_structp png, png_const_charp msg) {
  char *buf = png_get_error_ptr(png);
  snprintf(buf, PNG_MSG_LEN, "%s", msg ? msg : "unknown libpng error");
  png_longjmp(png, 1);
}

/* libpng warnings (odd ICC profiles, unknown chunks) do not affect the pixels; the library never
 * prints, so they are dropped. */
static void png_warning_cb(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;
}

/* Rows and columns of Adam7 pass p (0..6) of a w x h image, or of the one pass of a
 * non-interlaced image. */
static int64_t pass_rows(int interlaced, int p, int64_t h) {
  return interlaced ? (int64_t)PNG_PASS_ROWS((uint64_t)h, p) : h;
}
static int64_t pass_cols(int interlaced, int p, int64_t w) {
  return interlaced ? (int64_t)PNG_PASS_COLS((uint64_t)w, p) : w;
}

/* Bytes of filtered image data the IHDR promises: one filter byte and the packed pixels per row
 * of every non-empty pass. */
static uint64_t png_data_bytes(int64_t w, int64_t h, int interlaced, int bits_per_pixel) {
  uint64_t n = 0;
  for (int p = 0; p < (interlaced ? 7 : 1); p++) {
    uint64_t rows = (uint64_t)pass_rows(interlaced, p, h),
             cols = (uint64_t)pass_cols(interlaced, p, w);
    if (rows && cols) n += rows * (1 + (cols * (uint64_t)bits_per_pixel + 7) / 8);
  }
  return n;
}

/* n samples of 8 or 16 bits (big-endian) to floats in [0, 255]. */
static void samples_to_float(const uint8_t *src, size_t n, int bits, float *dst) {
  if (bits == 8) {
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
  } else { /* scale 0..65535 to 0..255 */
    for (size_t i = 0; i < n; i++) {
      unsigned v = ((unsigned)src[2 * i] << 8) | src[2 * i + 1];
      dst[i] = (float)((double)v * (255.0 / 65535.0));
    }
  }
}

static int png_nomem(png_rstate *st) {
  sc_error_prefix("png: %s", st->path);
  st->status = SEGCAM_E_NOMEM;
  return -1;
}

static int png_decode(png_rstate *st) {
  if (setjmp(png_jmpbuf(st->png))) return -1;
  png_init_io(st->png, st->f);
  png_set_sig_bytes(st->png, 8);
  png_read_info(st->png, st->info);

  png_uint_32 w, h;
  int depth, color, interlace;
  png_get_IHDR(st->png, st->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
  if ((st->status = check_dims("png", st->path, w, h)) != SEGCAM_OK) return -1;
  st->interlaced = interlace == PNG_INTERLACE_ADAM7;
  uint64_t need = png_data_bytes(w, h, st->interlaced, depth * png_get_channels(st->png, st->info));
  if (st->file_size >= 0 && need > (uint64_t)st->file_size * SC_DEFLATE_MAX_RATIO) {
    st->status = sc_error(SEGCAM_E_FORMAT,
                          "png: %s: header promises %lux%lu pixels, %llu bytes of image data, "
                          "more than a file of %lld bytes holds even compressed",
                          st->path, (unsigned long)w, (unsigned long)h, (unsigned long long)need,
                          (long long)st->file_size);
    return -1;
  }

  /* Normalise to 8- or 16-bit samples of 1 (G), 2 (GA), 3 (RGB) or 4 (RGBA) channels.  Adam7
   * passes are read as the sub-images they are, without png_set_interlace_handling (which needs
   * the whole image in memory for the first pass), and scattered into place at the end. */
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(st->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(st->png);
  if (png_get_valid(st->png, st->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(st->png);
  png_read_update_info(st->png, st->info);

  int c = png_get_channels(st->png, st->info);
  int bits = png_get_bit_depth(st->png, st->info);
  size_t rowbytes = png_get_rowbytes(st->png, st->info);
  size_t bps = bits == 16 ? 2 : 1;
  if (c < 1 || c > 4 || (bits != 8 && bits != 16) || rowbytes != (size_t)w * c * bps) {
    st->status = sc_error(SEGCAM_E_INTERNAL,
                          "png: %s: unexpected layout after transforms "
                          "(%d channels, %d bits)",
                          st->path, c, bits);
    return -1;
  }
  st->w = w, st->h = h, st->c = c;
  if (!(st->row = sc_malloc(rowbytes))) return png_nomem(st);
  size_t row_len = (size_t)w * c, image_bytes = row_len * h * sizeof(float);
  size_t px_bytes = (size_t)c * bps, raw_bytes = (size_t)w * h * px_bytes;
  for (int p = 0; p < (st->interlaced ? 7 : 1); p++) {
    int64_t rows = pass_rows(st->interlaced, p, h), cols = pass_cols(st->interlaced, p, w);
    if (rows == 0 || cols == 0) continue; /* libpng skips empty passes too */
    st->pass = p, st->pass_rows = rows;
    for (int64_t r = 0; r < rows; r++) {
      st->pass_row = r;
      png_read_row(st->png, st->row, NULL);
      void *q;
      if (!st->interlaced) {
        if (!(q = grow(st->data, &st->cap, (size_t)(r + 1) * row_len * sizeof(float), image_bytes)))
          return png_nomem(st);
        st->data = q;
        samples_to_float(st->row, row_len, bits, st->data + (size_t)r * row_len);
      } else {
        size_t n = (size_t)cols * px_bytes;
        if (!(q = grow(st->raw, &st->raw_cap, st->raw_len + n, raw_bytes))) return png_nomem(st);
        st->raw = q;
        memcpy(st->raw + st->raw_len, st->row, n);
        st->raw_len += n;
      }
    }
  }
  st->pass_row = -1;
  /* Reading up to IEND makes a file cut off after its last IDAT an error too. */
  png_read_end(st->png, NULL);
  if (st->interlaced) {
    /* Every pixel has arrived: scatter the passes (Adam7 tiles the image exactly). */
    if (st->raw_len != raw_bytes) { /* cannot happen: libpng returned every row asked for */
      st->status = sc_error(SEGCAM_E_INTERNAL, "png: %s: %zu of %zu bytes of interlaced data",
                            st->path, st->raw_len, raw_bytes);
      return -1;
    }
    if (!(st->data = sc_malloc(image_bytes))) return png_nomem(st);
    const uint8_t *src = st->raw;
    for (int p = 0; p < 7; p++) {
      int64_t rows = pass_rows(1, p, h), cols = pass_cols(1, p, w);
      for (int64_t r = 0; r < rows && cols > 0; r++) {
        size_t y = PNG_ROW_FROM_PASS_ROW((size_t)r, p);
        for (int64_t i = 0; i < cols; i++, src += px_bytes) {
          size_t x = PNG_COL_FROM_PASS_COL((size_t)i, p);
          samples_to_float(src, (size_t)c, bits, st->data + (y * w + x) * c);
        }
      }
    }
  }
  return 0;
}

static segcam_status load_png(const char *path, FILE *f, int64_t file_size, sc_image *out) {
  png_rstate st;
  memset(&st, 0, sizeof st);
  st.path = path;
  st.f = f;
  st.file_size = file_size;
  st.pass_row = -1;
  st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st.msg, png_error_cb, png_warning_cb);
  if (!st.png) return sc_error(SEGCAM_E_NOMEM, "png: %s: cannot create a decoder", path);
  st.info = png_create_info_struct(st.png);
  if (!st.info) {
    png_destroy_read_struct(&st.png, NULL, NULL);
    return sc_error(SEGCAM_E_NOMEM, "png: %s: cannot create a decoder", path);
  }
  int rc = png_decode(&st);
  png_destroy_read_struct(&st.png, &st.info, NULL);
  free(st.row);
  free(st.raw);
  if (rc != 0) {
    free(st.data);
    if (st.status != SEGCAM_OK) return st.status;
    /* Where the pixel data stopped, when it did. */
    char at[96] = "";
    if (st.pass_row >= 0 && st.interlaced)
      snprintf(at, sizeof at, " in interlace pass %d of 7, at its row %lld of %lld", st.pass + 1,
               (long long)st.pass_row, (long long)st.pass_rows);
    else if (st.pass_row >= 0)
      snprintf(at, sizeof at, " at row %lld of %lld", (long long)st.pass_row, (long long)st.h);
    if (ferror(f)) return sc_error(SEGCAM_E_IO, "png: %s: read error%s", path, at);
    if (feof(f)) return sc_error(SEGCAM_E_FORMAT, "png: %s: truncated file%s", path, at);
    return sc_error(SEGCAM_E_FORMAT, "png: %s: corrupt or truncated file%s (%s)", path, at, st.msg);
  }
  out->w = st.w, out->h = st.h, out->c = st.c, out->data = st.data;
  return SEGCAM_OK;
}

/* ---- JPEG reading ----------------------------------------------------------------------- */

typedef struct jpeg_rstate {
  const char *path;
  FILE *f;
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr jerr;
  struct jpeg_progress_mgr progress;
  jmp_buf jmp;
  int created;
  uint8_t *row;
  float *data; /* grown as rows arrive */
  size_t cap;  /* bytes */
  int64_t w, h, c;
  int64_t at_row; /* -1 before the scanlines are read */
  segcam_status status;
  char msg[JMSG_LENGTH_MAX];
} jpeg_rstate;

/* libjpeg's own allocations (the whole-image coefficient buffer of a progressive file is the
 * large one) failing is not a fault of the file. */
static void jpeg_error_exit_cb(j_common_ptr cinfo) {
  jpeg_rstate *st = cinfo->client_data;
  (*cinfo->err->format_message)(cinfo, st->msg);
  if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY)
    st->status =
        sc_error(SEGCAM_E_NOMEM, "jpeg: %s: out of memory in the decoder (%s)", st->path, st->msg);
  longjmp(st->jmp, 1);
}

/* Warnings that mean pixels were lost or made up (libjpeg fills a truncated file with grey and
 * carries on) are errors here; the rest become segcam warnings.  Trace messages are dropped. */
static void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  jpeg_rstate *st = cinfo->client_data;
  switch (cinfo->err->msg_code) {
  case JWRN_JPEG_EOF:
  case JWRN_HIT_MARKER:
  case JWRN_MUST_RESYNC:
  case JWRN_HUFF_BAD_CODE:
  case JWRN_ARITH_BAD_CODE:
  case JWRN_NOT_SEQUENTIAL: (*cinfo->err->format_message)(cinfo, st->msg); longjmp(st->jmp, 1);
  default:
    if (cinfo->err->num_warnings++ == 0) {
      char buf[JMSG_LENGTH_MAX];
      (*cinfo->err->format_message)(cinfo, buf);
      sc_warn("jpeg: %s: %s", st->path, buf);
    }
  }
}

static void jpeg_output_message_cb(j_common_ptr cinfo) {
  (void)cinfo;
}

static void jpeg_progress_cb(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->input_scan_number > SC_JPEG_MAX_SCANS) {
    jpeg_rstate *st = cinfo->client_data;
    snprintf(st->msg, sizeof st->msg, "more than %d scans", SC_JPEG_MAX_SCANS);
    longjmp(st->jmp, 1);
  }
}

static uint8_t mul255(unsigned a, unsigned b) {
  return (uint8_t)((a * b + 127) / 255);
}

static int jpeg_nomem(jpeg_rstate *st) {
  sc_error_prefix("jpeg: %s", st->path);
  st->status = SEGCAM_E_NOMEM;
  return -1;
}

static int jpeg_decode(jpeg_rstate *st) {
  struct jpeg_decompress_struct *ci = &st->cinfo;
  if (setjmp(st->jmp)) return -1;
  jpeg_create_decompress(ci);
  st->created = 1;
  jpeg_stdio_src(ci, st->f);
  st->progress.progress_monitor = jpeg_progress_cb;
  ci->progress = &st->progress;
  (void)jpeg_read_header(ci, TRUE);
  if ((st->status = check_dims("jpeg", st->path, ci->image_width, ci->image_height)) != SEGCAM_OK)
    return -1;

  int cmyk = 0;
  switch (ci->jpeg_color_space) {
  case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; break;
  case JCS_CMYK:
  case JCS_YCCK: /* converted to RGB below, without colour management */
    ci->out_color_space = JCS_CMYK;
    cmyk = 1;
    break;
  default: ci->out_color_space = JCS_RGB; break;
  }
  jpeg_start_decompress(ci);

  int64_t w = ci->output_width, h = ci->output_height;
  int comps = ci->output_components;
  if ((cmyk && comps != 4) || (!cmyk && comps != 1 && comps != 3)) {
    st->status = sc_error(SEGCAM_E_UNSUPPORTED, "jpeg: %s: %d output components", st->path, comps);
    return -1;
  }
  int c = cmyk ? 3 : comps;
  st->w = w, st->h = h, st->c = c;
  if (!(st->row = sc_calloc_n((size_t)w, (size_t)comps))) return jpeg_nomem(st);
  /* Photoshop (which writes the Adobe marker) stores CMYK inverted: 0 means full ink. */
  int inverted = ci->saw_Adobe_marker;
  while (ci->output_scanline < ci->output_height) {
    int64_t y = ci->output_scanline;
    st->at_row = y;
    JSAMPROW r = st->row;
    if (jpeg_read_scanlines(ci, &r, 1) != 1) {
      snprintf(st->msg, sizeof st->msg, "no data");
      return -1;
    }
    void *q = grow(st->data, &st->cap, (size_t)((y + 1) * w * c) * sizeof(float),
                   (size_t)(h * w * c) * sizeof(float));
    if (!q) return jpeg_nomem(st);
    st->data = q;
    float *dst = st->data + y * w * c;
    if (!cmyk) {
      for (int64_t i = 0; i < w * c; i++) dst[i] = (float)st->row[i];
    } else {
      for (int64_t x = 0; x < w; x++) {
        const uint8_t *p = st->row + 4 * x;
        unsigned k = inverted ? p[3] : 255u - p[3];
        for (int ch = 0; ch < 3; ch++) {
          unsigned v = inverted ? p[ch] : 255u - p[ch];
          dst[3 * x + ch] = (float)mul255(v, k);
        }
      }
    }
  }
  st->at_row = -1;
  (void)jpeg_finish_decompress(ci);
  return 0;
}

static segcam_status load_jpeg(const char *path, FILE *f, sc_image *out) {
  jpeg_rstate *st = calloc(1, sizeof *st); /* jmp_buf + libjpeg structs: keep off the stack */
  if (!st) return sc_error(SEGCAM_E_NOMEM, "jpeg: %s: out of memory", path);
  st->path = path;
  st->f = f;
  st->cinfo.err = jpeg_std_error(&st->jerr);
  st->jerr.error_exit = jpeg_error_exit_cb;
  st->jerr.emit_message = jpeg_emit_message_cb;
  st->jerr.output_message = jpeg_output_message_cb;
  st->cinfo.client_data = st;
  st->at_row = -1;
  int rc = jpeg_decode(st);
  if (st->created) jpeg_destroy_decompress(&st->cinfo);
  free(st->row);
  segcam_status s = SEGCAM_OK;
  if (rc != 0) {
    free(st->data);
    /* Where the pixel data stopped, when it did while rows were being read. */
    char at[64] = "";
    if (st->at_row >= 0)
      snprintf(at, sizeof at, " at row %lld of %lld", (long long)st->at_row, (long long)st->h);
    if (st->status != SEGCAM_OK)
      s = st->status;
    else if (ferror(f))
      s = sc_error(SEGCAM_E_IO, "jpeg: %s: read error%s", path, at);
    else
      s = sc_error(SEGCAM_E_FORMAT, "jpeg: %s: corrupt or truncated file%s (%s)", path, at,
                   st->msg);
  } else {
    out->w = st->w, out->h = st->h, out->c = st->c, out->data = st->data;
  }
  free(st);
  return s;
}

/* ---- loading by magic bytes ------------------------------------------------------------- */

/* The length of a seekable file, -1 when it cannot be known (a pipe), or -2 when the position
 * could not be restored. */
static int64_t stream_size(FILE *f) {
  long here = ftell(f);
  if (here < 0 || fseek(f, 0, SEEK_END) != 0) {
    clearerr(f);
    return -1;
  }
  long end = ftell(f);
  if (fseek(f, here, SEEK_SET) != 0) return -2;
  return end >= here ? (int64_t)end : -1;
}

segcam_status sc_image_load(const char *path, sc_image *out) {
  if (!out) return sc_error(SEGCAM_E_ARG, "image: no output");
  memset(out, 0, sizeof *out);
  if (!path) return sc_error(SEGCAM_E_ARG, "image: no file name");
  FILE *f = fopen(path, "rb");
  if (!f) return sc_error(SEGCAM_E_IO, "image: %s: cannot open: %s", path, strerror(errno));
  static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t magic[8];
  size_t n = fread(magic, 1, sizeof magic, f);
  segcam_status s;
  if (ferror(f)) {
    s = sc_error(SEGCAM_E_IO, "image: %s: cannot read: %s", path, strerror(errno));
  } else if (n == 8 && memcmp(magic, png_sig, 8) == 0) {
    int64_t size = stream_size(f);
    if (size == -2)
      s = sc_error(SEGCAM_E_IO, "image: %s: cannot seek: %s", path, strerror(errno));
    else
      s = load_png(path, f, size, out);
  } else if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) {
    rewind(f);
    s = load_jpeg(path, f, out);
  } else {
    s = sc_error(SEGCAM_E_FORMAT, "image: %s: not a PNG or JPEG file", path);
  }
  fclose(f);
  return s;
}

void sc_image_free(sc_image *img) {
  if (!img) return;
  free(img->data);
  img->data = NULL;
  img->w = img->h = img->c = 0;
}

/* ---- PNG writing ------------------------------------------------------------------------ */

typedef struct png_wstate {
  FILE *f;
  png_structp png;
  png_infop info;
  const uint8_t *pixels;
  png_uint_32 w, h;
  int channels;
  char msg[PNG_MSG_LEN];
} png_wstate;

static int png_encode(png_wstate *st) {
  static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                     PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  if (setjmp(png_jmpbuf(st->png))) return -1;
  png_init_io(st->png, st->f);
  png_set_IHDR(st->png, st->info, st->w, st->h, 8, color_types[st->channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(st->png, st->info);
  size_t stride = (size_t)st->w * st->channels;
  for (png_uint_32 y = 0; y < st->h; y++) png_write_row(st->png, st->pixels + y * stride);
  png_write_end(st->png, st->info);
  return 0;
}

segcam_status sc_png_write(const char *path, const uint8_t *pixels, int64_t w, int64_t h,
                           int channels) {
  if (!path || !pixels) return sc_error(SEGCAM_E_ARG, "png: no file name or no pixels");
  /* 2 (gray+alpha) works too, though the header promises only 1, 3 and 4. */
  if (channels < 1 || channels > 4)
    return sc_error(SEGCAM_E_ARG, "png: %s: cannot write %d channels", path, channels);
  if (w <= 0 || h <= 0 || w > SC_IMAGE_MAX_SIDE || h > SC_IMAGE_MAX_SIDE)
    return sc_error(SEGCAM_E_ARG, "png: %s: cannot write a %lldx%lld image", path, (long long)w,
                    (long long)h);
  png_wstate st;
  memset(&st, 0, sizeof st);
  st.pixels = pixels;
  st.w = (png_uint_32)w, st.h = (png_uint_32)h, st.channels = channels;
  st.f = fopen(path, "wb");
  if (!st.f) return sc_error(SEGCAM_E_IO, "png: %s: cannot create: %s", path, strerror(errno));
  st.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, st.msg, png_error_cb, png_warning_cb);
  st.info = st.png ? png_create_info_struct(st.png) : NULL;
  int rc = st.info ? png_encode(&st) : -1;
  if (!st.info) snprintf(st.msg, sizeof st.msg, "cannot create an encoder");
  if (st.png) png_destroy_write_struct(&st.png, st.info ? &st.info : NULL);
  int write_failed = ferror(st.f);
  if (fclose(st.f) != 0) write_failed = 1;
  /* A partial file is left in place: the path may not be a regular file of ours (/dev/stdout). */
  if (rc != 0 || write_failed) {
    if (write_failed) return sc_error(SEGCAM_E_IO, "png: %s: write error", path);
    return sc_error(SEGCAM_E_INTERNAL, "png: %s: %s", path, st.msg);
  }
  return SEGCAM_OK;
}

/* ---- resizing --------------------------------------------------------------------------- */

/* Source coordinate of a destination index with half-pixel centres, clamped to the valid range
 * (equivalent to TF's and OpenCV's edge handling). */
static void src_coord(int64_t d, int64_t in, int64_t out, int64_t *i0, int64_t *i1, float *t) {
  double s = ((double)d + 0.5) * (double)in / (double)out - 0.5;
  if (s < 0.0) s = 0.0;
  if (s > (double)(in - 1)) s = (double)(in - 1);
  int64_t lo = (int64_t)s;
  *i0 = lo;
  *i1 = lo + 1 < in ? lo + 1 : lo;
  *t = (float)(s - (double)lo);
}

void sc_resize_bilinear_hwc(const float *src, int64_t sh, int64_t sw, int64_t c, float *dst,
                            int64_t dh, int64_t dw) {
  if (sh <= 0 || sw <= 0 || c <= 0 || dh <= 0 || dw <= 0) return;
  for (int64_t y = 0; y < dh; y++) {
    int64_t y0, y1;
    float ty;
    src_coord(y, sh, dh, &y0, &y1, &ty);
    const float *r0 = src + y0 * sw * c, *r1 = src + y1 * sw * c;
    float *out = dst + y * dw * c;
    for (int64_t x = 0; x < dw; x++) {
      int64_t x0, x1;
      float tx;
      src_coord(x, sw, dw, &x0, &x1, &tx);
      for (int64_t k = 0; k < c; k++) {
        float top = r0[x0 * c + k] + tx * (r0[x1 * c + k] - r0[x0 * c + k]);
        float bot = r1[x0 * c + k] + tx * (r1[x1 * c + k] - r1[x0 * c + k]);
        out[x * c + k] = top + ty * (bot - top);
      }
    }
  }
}
