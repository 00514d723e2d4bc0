/* Tests of src/image: PNG/JPEG decoding (incl. 16-bit, palette, interlaced, CMYK), PNG writing,
 * hostile and truncated files, .npy reading/writing, bilinear resizing, colormaps, overlays and
 * class colours.  Every input file is made here at run time, under $TMPDIR (default /tmp). */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "core/error.h"
#include "image/image.h"
#include "test.h"

static char tmp_dir[512];

/* Paths under a private directory made by mkdtemp, so parallel runs do not collide; every name
 * handed out is remembered and removed at the end. */
enum { MAX_TMP = 96 };
static char tmp_names[MAX_TMP][640];
static int n_tmp = 0;

static const char *tmp_path(const char *name) {
  char p[640];
  snprintf(p, sizeof p, "%s/%s", tmp_dir, name);
  for (int i = 0; i < n_tmp; i++)
    if (strcmp(tmp_names[i], p) == 0) return tmp_names[i];
  if (n_tmp == MAX_TMP) {
    fprintf(stderr, "too many temporary files\n");
    exit(2);
  }
  memcpy(tmp_names[n_tmp], p, sizeof p);
  return tmp_names[n_tmp++];
}

static void tmp_cleanup(void) {
  for (int i = 0; i < n_tmp; i++) remove(tmp_names[i]);
  rmdir(tmp_dir);
}

static int has_bytes(const uint8_t *hay, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(hay + i, needle, k) == 0) return 1;
  return 0;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
  *n = fread(b, 1, (size_t)len, f);
  fclose(f);
  return b;
}

static int msg_has(const char *needle) {
  return strstr(segcam_last_error(), needle) != NULL;
}

/* ---- files made with libpng / libjpeg directly (formats sc_png_write does not produce) ---- */

/* Writes a PNG of any colour type, depth and interlacing; rows are packed as libpng expects. */
static void write_png_raw(const char *path, int w, int h, int depth, int color, int interlace,
                          uint8_t **rows, const png_color *palette, int npal,
                          const uint8_t *trns_alpha, int ntrns, const png_color_16 *trns_color) {
  FILE *f = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (!f || !png || !info || setjmp(png_jmpbuf(png))) {
    fprintf(stderr, "libpng write failed for %s\n", path);
    exit(2);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (palette) png_set_PLTE(png, info, palette, npal);
  if (ntrns || trns_color) png_set_tRNS(png, info, trns_alpha, ntrns, trns_color);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  fclose(f);
}

/* Writes a JPEG at quality 95 from 8-bit samples (1, 3 or 4 = CMYK components), baseline or
 * progressive. */
static void write_jpeg_opt(const char *path, const uint8_t *px, int w, int h, int comps,
                           int progressive) {
  struct jpeg_compress_struct ci;
  struct jpeg_error_mgr jerr;
  FILE *f = fopen(path, "wb");
  if (!f) exit(2);
  ci.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&ci);
  jpeg_stdio_dest(&ci, f);
  ci.image_width = (JDIMENSION)w;
  ci.image_height = (JDIMENSION)h;
  ci.input_components = comps;
  ci.in_color_space = comps == 1 ? JCS_GRAYSCALE : comps == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&ci);
  jpeg_set_quality(&ci, 95, TRUE);
  if (progressive) jpeg_simple_progression(&ci);
  jpeg_start_compress(&ci, TRUE);
  while (ci.next_scanline < ci.image_height) {
    JSAMPROW r = (JSAMPROW)(px + (size_t)ci.next_scanline * w * comps);
    jpeg_write_scanlines(&ci, &r, 1);
  }
  jpeg_finish_compress(&ci);
  jpeg_destroy_compress(&ci);
  fclose(f);
}

static void write_jpeg(const char *path, const uint8_t *px, int w, int h, int comps) {
  write_jpeg_opt(path, px, w, h, comps, 0);
}

static uint32_t crc32_bytes(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* ---- PNG round trips ---------------------------------------------------------------------- */

/* A 7x5 RGB test card: an "F" glyph in pure red on a background whose three channels follow
 * different functions of x and y.  A mirrored, flipped, transposed or channel-swapped decode
 * cannot match it. */
static void make_card(uint8_t *px, int w, int h) {
  static const char *glyph[5] = {"#####..", "#......", "####...", "#......", "#......"};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = px + 3 * (y * w + x);
      if (y < 5 && x < 7 && glyph[y][x] == '#') {
        p[0] = 255, p[1] = 0, p[2] = 0;
      } else {
        p[0] = (uint8_t)(10 * x + 3 * y), p[1] = (uint8_t)(200 - 20 * y),
        p[2] = (uint8_t)(x * y * 7);
      }
    }
}

static int same_as_bytes(const sc_image *img, const uint8_t *ref, int64_t w, int64_t h, int64_t c) {
  if (img->w != w || img->h != h || img->c != c || !img->data) return 0;
  for (int64_t i = 0; i < w * h * c; i++)
    if (img->data[i] != (float)ref[i]) return 0;
  return 1;
}

static void test_png_roundtrip(void) {
  enum { W = 7, H = 5 };
  uint8_t rgb[W * H * 3];
  make_card(rgb, W, H);
  const char *path = tmp_path("card.png");
  CHECK(sc_png_write(path, rgb, W, H, 3) == SEGCAM_OK, "%s", segcam_last_error());
  sc_image img;
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(same_as_bytes(&img, rgb, W, H, 3), "RGB card differs after the round trip (%lldx%lldx%lld)",
        (long long)img.w, (long long)img.h, (long long)img.c);
  /* Spot checks that name the convention: row-major HWC, top row first, R first. */
  CHECK(img.data[0] == 255.0f && img.data[1] == 0.0f, "top-left is the red glyph");
  CHECK(img.data[3 * 6 + 0] == 60.0f && img.data[3 * 6 + 1] == 200.0f, "top-right background");
  CHECK(img.data[3 * (4 * W + 6) + 1] == 120.0f, "bottom-right green = 200 - 20*4");
  sc_image_free(&img);
  CHECK(img.data == NULL, "sc_image_free clears data");

  /* Gray: a ramp with a marker in one corner. */
  uint8_t gray[W * H];
  for (int i = 0; i < W * H; i++) gray[i] = (uint8_t)(i * 7);
  gray[W * H - 1] = 255;
  path = tmp_path("gray.png");
  CHECK(sc_png_write(path, gray, W, H, 1) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(same_as_bytes(&img, gray, W, H, 1), "gray differs after the round trip");
  sc_image_free(&img);

  /* RGBA with every alpha level distinct; gray+alpha (2 channels). */
  uint8_t rgba[W * H * 4], ga[W * H * 2];
  for (int i = 0; i < W * H; i++) {
    rgba[4 * i] = (uint8_t)(i * 3), rgba[4 * i + 1] = (uint8_t)(255 - i),
             rgba[4 * i + 2] = (uint8_t)(i * 5 + 1), rgba[4 * i + 3] = (uint8_t)(i * 7 + 2);
    ga[2 * i] = (uint8_t)(i * 6), ga[2 * i + 1] = (uint8_t)(250 - i * 2);
  }
  path = tmp_path("rgba.png");
  CHECK(sc_png_write(path, rgba, W, H, 4) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(same_as_bytes(&img, rgba, W, H, 4), "RGBA differs after the round trip");
  sc_image_free(&img);
  path = tmp_path("ga.png");
  CHECK(sc_png_write(path, ga, W, H, 2) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(same_as_bytes(&img, ga, W, H, 2), "gray+alpha differs after the round trip");
  sc_image_free(&img);

  /* Invalid arguments. */
  CHECK(sc_png_write(tmp_path("bad.png"), rgb, W, H, 5) == SEGCAM_E_ARG, "5 channels");
  CHECK(sc_png_write(tmp_path("bad.png"), rgb, 0, H, 3) == SEGCAM_E_ARG, "zero width");
  CHECK(sc_png_write("/nonexistent-dir/x.png", rgb, W, H, 3) == SEGCAM_E_IO, "unwritable path");
  CHECK(msg_has("/nonexistent-dir/x.png"), "message names the file: %s", segcam_last_error());
  FILE *full = fopen("/dev/full", "wb"); /* Linux: every write fails with ENOSPC */
  if (full) {
    fclose(full);
    CHECK(sc_png_write("/dev/full", rgb, W, H, 3) == SEGCAM_E_IO, "png write to a full disk: %s",
          segcam_last_error());
    const int64_t shape[1] = {4};
    const float v[4] = {1, 2, 3, 4};
    CHECK(sc_npy_write_f32("/dev/full", v, shape, 1) == SEGCAM_E_IO, "npy write to a full disk");
  }
}

/* PNG flavours that sc_png_write never produces. */
static void test_png_flavours(void) {
  sc_image img;
  enum { W = 9, H = 7 };

  /* 16-bit gray: 257*v decodes to exactly v; others scale by 255/65535. */
  {
    uint8_t buf[H][W * 2];
    uint8_t *rows[H];
    double ref[W * H];
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W; x++) {
        unsigned v = (unsigned)((y * W + x) * 1013) % 65536;
        if (y == 0 && x == 0) v = 65535;
        if (y == 0 && x == 1) v = 257 * 100;
        buf[y][2 * x] = (uint8_t)(v >> 8), buf[y][2 * x + 1] = (uint8_t)v;
        ref[y * W + x] = v * 255.0 / 65535.0;
      }
    }
    const char *path = tmp_path("g16.png");
    write_png_raw(path, W, H, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
                  NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(img.w == W && img.h == H && img.c == 1, "16-bit gray shape");
    if (img.data) {
      t_close("16-bit gray", img.data, ref, W * H, 1e-4, 0);
      CHECK(img.data[0] == 255.0f && img.data[1] == 100.0f, "16-bit 65535 -> 255, 25700 -> 100");
    }
    sc_image_free(&img);
  }

  /* 16-bit RGBA, interlaced. */
  {
    uint8_t buf[H][W * 8];
    uint8_t *rows[H];
    double ref[W * H * 4];
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W * 4; x++) {
        unsigned v = (unsigned)(y * 7919 + x * 4111 + 17) % 65536;
        buf[y][2 * x] = (uint8_t)(v >> 8), buf[y][2 * x + 1] = (uint8_t)v;
        ref[y * W * 4 + x] = v * 255.0 / 65535.0;
      }
    }
    const char *path = tmp_path("rgba16i.png");
    write_png_raw(path, W, H, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_ADAM7, rows, NULL, 0,
                  NULL, 0, NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(img.w == W && img.h == H && img.c == 4, "16-bit RGBA shape");
    if (img.data && img.c == 4)
      t_close("16-bit interlaced RGBA", img.data, ref, W * H * 4, 1e-4, 0);
    sc_image_free(&img);
  }

  /* 8-bit RGB, Adam7 interlaced, every sample distinct. */
  {
    uint8_t buf[H][W * 3], flat[W * H * 3];
    uint8_t *rows[H];
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W * 3; x++) flat[y * W * 3 + x] = buf[y][x] = (uint8_t)(y * 27 + x);
    }
    const char *path = tmp_path("rgbi.png");
    write_png_raw(path, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rows, NULL, 0, NULL, 0,
                  NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(same_as_bytes(&img, flat, W, H, 3), "interlaced RGB differs");
    sc_image_free(&img);
  }

  /* 2-bit palette with tRNS: becomes RGBA, entries without tRNS alpha are opaque. */
  {
    static const png_color pal[4] = {{10, 20, 30}, {200, 0, 0}, {0, 150, 0}, {1, 2, 250}};
    static const uint8_t alpha[2] = {0, 128};
    uint8_t buf[H][(W * 2 + 7) / 8], flat[W * H * 4];
    uint8_t *rows[H];
    memset(buf, 0, sizeof buf);
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W; x++) {
        int idx = (x + 2 * y) % 4;
        buf[y][x / 4] |= (uint8_t)(idx << (6 - 2 * (x % 4))); /* leftmost pixel in high bits */
        uint8_t *p = flat + 4 * (y * W + x);
        p[0] = pal[idx].red, p[1] = pal[idx].green, p[2] = pal[idx].blue;
        p[3] = idx < 2 ? alpha[idx] : 255;
      }
    }
    const char *path = tmp_path("pal2.png");
    write_png_raw(path, W, H, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, rows, pal, 4, alpha, 2,
                  NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(same_as_bytes(&img, flat, W, H, 4), "palette+tRNS differs (c=%lld)", (long long)img.c);
    sc_image_free(&img);
  }

  /* 8-bit palette without transparency: RGB. */
  {
    png_color pal[256];
    for (int i = 0; i < 256; i++)
      pal[i].red = (png_byte)i, pal[i].green = (png_byte)(255 - i),
      pal[i].blue = (png_byte)(i ^ 0x55);
    uint8_t buf[H][W], flat[W * H * 3];
    uint8_t *rows[H];
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W; x++) {
        int idx = (y * W + x) * 4 % 256;
        buf[y][x] = (uint8_t)idx;
        flat[3 * (y * W + x)] = pal[idx].red, flat[3 * (y * W + x) + 1] = pal[idx].green;
        flat[3 * (y * W + x) + 2] = pal[idx].blue;
      }
    }
    const char *path = tmp_path("pal8.png");
    write_png_raw(path, W, H, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_ADAM7, rows, pal, 256, NULL,
                  0, NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(same_as_bytes(&img, flat, W, H, 3), "8-bit palette differs (c=%lld)", (long long)img.c);
    sc_image_free(&img);
  }

  /* 1-bit gray: 0 -> 0, 1 -> 255. */
  {
    uint8_t buf[H][(W + 7) / 8], flat[W * H];
    uint8_t *rows[H];
    memset(buf, 0, sizeof buf);
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W; x++) {
        int bit = (x * 3 + y) % 5 == 0;
        buf[y][x / 8] |= (uint8_t)(bit << (7 - x % 8));
        flat[y * W + x] = bit ? 255 : 0;
      }
    }
    const char *path = tmp_path("g1.png");
    write_png_raw(path, W, H, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
                  NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(same_as_bytes(&img, flat, W, H, 1), "1-bit gray differs");
    sc_image_free(&img);
  }

  /* 8-bit gray with a tRNS colour key: gray+alpha, alpha 0 exactly where the key matches. */
  {
    uint8_t buf[H][W], flat[W * H * 2];
    uint8_t *rows[H];
    png_color_16 key;
    memset(&key, 0, sizeof key);
    key.gray = 42;
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < W; x++) {
        uint8_t v = (x + y) % 3 == 0 ? 42 : (uint8_t)(x * 20 + y);
        buf[y][x] = v;
        flat[2 * (y * W + x)] = v, flat[2 * (y * W + x) + 1] = v == 42 ? 0 : 255;
      }
    }
    const char *path = tmp_path("gtrns.png");
    write_png_raw(path, W, H, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
                  &key);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(same_as_bytes(&img, flat, W, H, 2), "gray+tRNS differs (c=%lld)", (long long)img.c);
    sc_image_free(&img);
  }
}

/* ---- JPEG --------------------------------------------------------------------------------- */

static double max_abs_diff(const float *got, const uint8_t *ref, size_t n, double *mean) {
  double worst = 0, sum = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    sum += d;
    if (d > worst) worst = d;
  }
  *mean = n ? sum / n : 0;
  return worst;
}

static void test_jpeg(void) {
  enum { W = 40, H = 24 };
  sc_image img;
  double mean, worst;

  /* Smooth RGB gradients in different directions per channel, so a channel swap or flip is far
   * outside the compression error. */
  uint8_t rgb[W * H * 3];
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      uint8_t *p = rgb + 3 * (y * W + x);
      p[0] = (uint8_t)(x * 6), p[1] = (uint8_t)(y * 10), p[2] = (uint8_t)(230 - 3 * x - 4 * y);
    }
  const char *path = tmp_path("rgb.jpg");
  write_jpeg(path, rgb, W, H, 3);
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(img.w == W && img.h == H && img.c == 3, "JPEG RGB shape %lldx%lldx%lld", (long long)img.w,
        (long long)img.h, (long long)img.c);
  if (img.data && img.c == 3) {
    worst = max_abs_diff(img.data, rgb, W * H * 3, &mean);
    CHECK(worst <= 12 && mean <= 2.0, "JPEG RGB error: max %.1f mean %.2f", worst, mean);
  }
  sc_image_free(&img);

  /* Gray. */
  uint8_t gray[W * H];
  for (int i = 0; i < W * H; i++) gray[i] = (uint8_t)(i % W * 5 + i / W * 2);
  path = tmp_path("gray.jpg");
  write_jpeg(path, gray, W, H, 1);
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(img.w == W && img.h == H && img.c == 1, "JPEG gray shape");
  if (img.data && img.c == 1) {
    worst = max_abs_diff(img.data, gray, W * H, &mean);
    CHECK(worst <= 8 && mean <= 1.5, "JPEG gray error: max %.1f mean %.2f", worst, mean);
  }
  sc_image_free(&img);

  /* CMYK as Photoshop stores it (inverted, Adobe marker, which libjpeg writes for CMYK):
   * stored (255, 0, 0, 255) is no cyan, full magenta and yellow, no black = red; stored K = 128
   * halves it. */
  uint8_t cmyk[W * H * 4], want[W * H * 3];
  for (int i = 0; i < W * H; i++) {
    int top = i / W < H / 2;
    cmyk[4 * i] = 255, cmyk[4 * i + 1] = 0, cmyk[4 * i + 2] = 0, cmyk[4 * i + 3] = top ? 255 : 128;
    want[3 * i] = top ? 255 : 128, want[3 * i + 1] = 0, want[3 * i + 2] = 0;
  }
  path = tmp_path("cmyk.jpg");
  write_jpeg(path, cmyk, W, H, 4);
  CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(img.w == W && img.h == H && img.c == 3, "CMYK JPEG becomes RGB (c=%lld)", (long long)img.c);
  if (img.data && img.c == 3) {
    /* Rows next to the edge between the two halves ring; compare away from it. */
    uint8_t *w2 = want;
    double worst_top = max_abs_diff(img.data, w2, W * 3 * 8, &mean);
    double worst_bot = max_abs_diff(img.data + W * 3 * 16, w2 + W * 3 * 16, W * 3 * 8, &mean);
    CHECK(worst_top <= 4 && worst_bot <= 4, "CMYK->RGB error: %.1f / %.1f", worst_top, worst_bot);
  }
  sc_image_free(&img);
}

/* Adam7 at every small size, where some of the seven passes are empty (a 1x1 image has only the
 * first): 8-bit RGB and 16-bit gray+alpha, every sample distinct. */
static void test_png_interlace_sizes(void) {
  enum { N = 10 };
  const char *path = tmp_path("adam7.png");
  int bad8 = 0, bad16 = 0;
  for (int h = 1; h <= N; h++)
    for (int w = 1; w <= N; w++) {
      uint8_t buf8[N][N * 3], buf16[N][N * 4], *rows8[N], *rows16[N];
      double ref16[N * N * 2];
      uint8_t flat8[N * N * 3];
      for (int y = 0; y < h; y++) {
        rows8[y] = buf8[y], rows16[y] = buf16[y];
        for (int i = 0; i < w * 3; i++) flat8[y * w * 3 + i] = buf8[y][i] = (uint8_t)(y * 31 + i);
        for (int i = 0; i < w * 2; i++) {
          unsigned v = (unsigned)(y * 4099 + i * 257 + 1) % 65536;
          buf16[y][2 * i] = (uint8_t)(v >> 8), buf16[y][2 * i + 1] = (uint8_t)v;
          ref16[y * w * 2 + i] = v * 255.0 / 65535.0;
        }
      }
      sc_image img;
      write_png_raw(path, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rows8, NULL, 0, NULL, 0,
                    NULL);
      if (sc_image_load(path, &img) != SEGCAM_OK || !same_as_bytes(&img, flat8, w, h, 3)) {
        if (!bad8++) CHECK(0, "Adam7 8-bit RGB %dx%d differs: %s", w, h, segcam_last_error());
      }
      sc_image_free(&img);
      write_png_raw(path, w, h, 16, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_ADAM7, rows16, NULL, 0,
                    NULL, 0, NULL);
      int ok = sc_image_load(path, &img) == SEGCAM_OK && img.w == w && img.h == h && img.c == 2;
      for (int i = 0; ok && i < w * h * 2; i++) ok = fabs(img.data[i] - ref16[i]) <= 1e-4;
      if (!ok && !bad16++) CHECK(0, "Adam7 16-bit gray+alpha %dx%d differs", w, h);
      sc_image_free(&img);
    }
  CHECK(bad8 == 0 && bad16 == 0, "Adam7 1..%d x 1..%d: %d 8-bit and %d 16-bit sizes differ", N, N,
        bad8, bad16);
}

/* Images larger than the 4 MiB the decoders start with, so their buffers grow (twice) as rows
 * arrive: 8-bit RGB PNG, plain and Adam7 (whose passes are buffered as they come), 16-bit RGBA
 * Adam7, gray JPEG baseline and progressive. */
static void test_large_images(void) {
  sc_image img;
  {
    enum { W = 1024, H = 700 };
    uint8_t *px = malloc((size_t)W * H * 3), **rows = malloc(H * sizeof *rows);
    for (int y = 0; y < H; y++) {
      rows[y] = px + (size_t)y * W * 3;
      for (int i = 0; i < W * 3; i++) rows[y][i] = (uint8_t)((i * 7 + y * 13 + (y >> 8)) & 255);
    }
    for (int interlace = 0; interlace <= 1; interlace++) {
      const char *path = tmp_path("large_rgb.png");
      write_png_raw(path, W, H, 8, PNG_COLOR_TYPE_RGB,
                    interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
                    NULL);
      CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
      CHECK(same_as_bytes(&img, px, W, H, 3), "large RGB PNG (%s) differs",
            interlace ? "Adam7" : "plain");
      sc_image_free(&img);
      remove(path);
    }
    free(rows);
    free(px);
  }
  {
    enum { W = 1000, H = 700 };
    uint8_t *px = malloc((size_t)W * H * 8), **rows = malloc(H * sizeof *rows);
    for (int y = 0; y < H; y++) {
      rows[y] = px + (size_t)y * W * 8;
      for (int i = 0; i < W * 4; i++) {
        unsigned v = (unsigned)(i * 131 + y * 2053 + 7) % 65536;
        rows[y][2 * i] = (uint8_t)(v >> 8), rows[y][2 * i + 1] = (uint8_t)v;
      }
    }
    const char *path = tmp_path("large_rgba16i.png");
    write_png_raw(path, W, H, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_ADAM7, rows, NULL, 0,
                  NULL, 0, NULL);
    CHECK(sc_image_load(path, &img) == SEGCAM_OK, "%s", segcam_last_error());
    int ok = img.w == W && img.h == H && img.c == 4;
    for (int y = 0; ok && y < H; y++)
      for (int i = 0; ok && i < W * 4; i++) {
        unsigned v = (unsigned)(i * 131 + y * 2053 + 7) % 65536;
        ok = fabs(img.data[(size_t)y * W * 4 + i] - v * 255.0 / 65535.0) <= 1e-4;
      }
    CHECK(ok, "large 16-bit RGBA Adam7 PNG differs");
    sc_image_free(&img);
    remove(path);
    free(rows);
    free(px);
  }
  {
    enum { W = 2048, H = 1100 };
    uint8_t *px = malloc((size_t)W * H);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        px[(size_t)y * W + x] = (uint8_t)(128 + 100 * sin(x / 40.0) * cos(y / 30.0));
    const char *base = tmp_path("large_gray.jpg"), *prog = tmp_path("large_gray_prog.jpg");
    write_jpeg_opt(base, px, W, H, 1, 0);
    write_jpeg_opt(prog, px, W, H, 1, 1);
    sc_image b, p;
    CHECK(sc_image_load(base, &b) == SEGCAM_OK && b.w == W && b.h == H && b.c == 1, "%s",
          segcam_last_error());
    CHECK(sc_image_load(prog, &p) == SEGCAM_OK && p.w == W && p.h == H && p.c == 1, "%s",
          segcam_last_error());
    if (b.data && b.c == 1) {
      double mean, worst = max_abs_diff(b.data, px, (size_t)W * H, &mean);
      CHECK(worst <= 8 && mean <= 1.0, "large gray JPEG error: max %.1f mean %.2f", worst, mean);
    }
    int same = b.data && p.data && b.c == 1 && p.c == 1;
    for (size_t i = 0; same && i < (size_t)W * H; i++) same = fabsf(b.data[i] - p.data[i]) <= 1.0f;
    CHECK(same, "large progressive and baseline JPEG decode alike");
    sc_image_free(&b);
    sc_image_free(&p);
    remove(base);
    remove(prog);
    free(px);
  }
}

/* ---- broken and hostile files ------------------------------------------------------------- */

static void check_bad_file(const char *path, const char *what) {
  sc_image img;
  img.data = (float *)&img; /* must be reset by the loader */
  segcam_status s = sc_image_load(path, &img);
  CHECK(s == SEGCAM_E_FORMAT || s == SEGCAM_E_IO, "%s: status %d", what, (int)s);
  CHECK(img.data == NULL, "%s: no data on failure", what);
  CHECK(msg_has(path), "%s: message names the file: '%s'", what, segcam_last_error());
  sc_image_free(&img);
}

static void test_truncated(const char *valid, const char *tag) {
  size_t n = 0;
  uint8_t *bytes = read_bytes(valid, &n);
  CHECK(bytes && n > 100, "%s: reference file", tag);
  if (!bytes || n <= 100) return;
  const size_t cuts[] = {0, 2, 5, 8, 20, 33, 60, n / 3, n / 2, n - 40, n - 12, n - 2, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    char name[64], what[96];
    snprintf(name, sizeof name, "truncated.%s", tag);
    const char *path = tmp_path(name);
    write_bytes(path, bytes, cuts[i]);
    snprintf(what, sizeof what, "%s cut to %zu of %zu bytes", tag, cuts[i], n);
    check_bad_file(path, what);
    remove(path);
  }
  free(bytes);
}

static void test_bad_files(void) {
  /* Valid files large enough that a cut lands inside the pixel data. */
  enum { W = 64, H = 48 };
  static uint8_t px[W * H * 3];
  for (int i = 0; i < W * H * 3; i++) px[i] = (uint8_t)((i * 2654435761u) >> 24);
  const char *png = tmp_path("noise.png"), *jpg = tmp_path("noise.jpg");
  CHECK(sc_png_write(png, px, W, H, 3) == SEGCAM_OK, "%s", segcam_last_error());
  write_jpeg(jpg, px, W, H, 3);
  test_truncated(png, "png");
  test_truncated(jpg, "jpeg");
  /* Progressive: a cut leaves whole scans missing rather than a partial row.  The same
   * coefficients are only entropy-coded differently, so it decodes like the baseline file. */
  const char *pjpg = tmp_path("noise_progressive.jpg");
  write_jpeg_opt(pjpg, px, W, H, 3, 1);
  sc_image base, prog;
  CHECK(sc_image_load(jpg, &base) == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(sc_image_load(pjpg, &prog) == SEGCAM_OK && prog.w == W && prog.h == H && prog.c == 3,
        "progressive JPEG: %s", segcam_last_error());
  int same = base.data && prog.data;
  for (int i = 0; same && i < W * H * 3; i++) same = fabsf(base.data[i] - prog.data[i]) <= 1.0f;
  CHECK(same, "progressive and baseline JPEG decode alike");
  sc_image_free(&base);
  sc_image_free(&prog);
  test_truncated(pjpg, "progressive-jpeg");

  /* Corrupt PNG: one flipped byte inside IDAT fails its CRC. */
  size_t n;
  uint8_t *b = read_bytes(png, &n);
  if (b) {
    b[n / 2] ^= 0x5A;
    const char *path = tmp_path("flipped.png");
    write_bytes(path, b, n);
    check_bad_file(path, "PNG with a flipped byte");
    free(b);
  }

  /* JPEG whose frame header claims a zero height. */
  b = read_bytes(jpg, &n);
  if (b) {
    for (size_t i = 2; i + 8 < n; i++)
      if (b[i] == 0xFF && b[i + 1] == 0xC0) {
        b[i + 5] = 0, b[i + 6] = 0;
        break;
      }
    const char *path = tmp_path("zeroheight.jpg");
    write_bytes(path, b, n);
    check_bad_file(path, "JPEG with height 0");
    free(b);
  }

  /* Oversized dimensions are refused from the header, before any allocation. */
  b = read_bytes(png, &n);
  if (b) {
    /* IHDR data starts at byte 16; its CRC covers the type and data (bytes 12..28). */
    const uint32_t dims[2][2] = {{40000, 10}, {20000, 20000}};
    for (int k = 0; k < 2; k++) {
      put_be32(b + 16, dims[k][0]);
      put_be32(b + 20, dims[k][1]);
      put_be32(b + 29, crc32_bytes(b + 12, 17));
      const char *path = tmp_path(k ? "huge2.png" : "huge1.png");
      write_bytes(path, b, n);
      check_bad_file(path, "PNG with huge dimensions");
      CHECK(msg_has("exceeds"), "huge PNG: '%s'", segcam_last_error());
    }
    free(b);
  }
  b = read_bytes(jpg, &n);
  if (b) {
    for (size_t i = 2; i + 8 < n; i++)
      if (b[i] == 0xFF && b[i + 1] == 0xC0) {
        b[i + 7] = 40000 >> 8, b[i + 8] = 40000 & 0xFF; /* width */
        break;
      }
    const char *path = tmp_path("huge.jpg");
    write_bytes(path, b, n);
    check_bad_file(path, "JPEG with huge width");
    CHECK(msg_has("exceeds"), "huge JPEG: '%s'", segcam_last_error());
    free(b);
  }

  /* Not an image; empty; missing; a directory. */
  const char *txt = tmp_path("notes.txt");
  write_bytes(txt, "hello, this is not an image\n", 28);
  check_bad_file(txt, "text file");
  CHECK(msg_has("not a PNG or JPEG"), "text file: '%s'", segcam_last_error());
  const char *empty = tmp_path("empty.png");
  write_bytes(empty, "", 0);
  check_bad_file(empty, "empty file");
  const char *missing = tmp_path("does-not-exist.png");
  sc_image img;
  CHECK(sc_image_load(missing, &img) == SEGCAM_E_IO, "missing file is an I/O error");
  CHECK(msg_has(missing), "missing: '%s'", segcam_last_error());
  CHECK(sc_image_load(tmp_dir, &img) == SEGCAM_E_IO, "a directory is an I/O error");
  remove(txt);
  remove(empty);
  remove(png);
  remove(jpg);
}

/* ---- .npy --------------------------------------------------------------------------------- */

/* Writes an .npy with a hand-made header: version major.0, dict text padded to a 64-byte
 * boundary, then `data`. */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t n) {
  size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
  size_t total = (pre + len + 1 + 63) / 64 * 64, hlen = total - pre;
  uint8_t *b = calloc(1, total + n);
  memcpy(b, "\x93NUMPY", 6);
  b[6] = (uint8_t)major, b[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (uint8_t)(hlen >> (8 * i));
  memcpy(b + pre, dict, len);
  memset(b + pre + len, ' ', total - pre - len - 1);
  b[total - 1] = '\n';
  if (n) memcpy(b + total, data, n);
  write_bytes(path, b, total + n);
  free(b);
}

static void le_store(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void test_npy(void) {
  sc_npy a;
  /* float32 round trip, 3-D, with negative zero, infinity and a denormal. */
  {
    float data[2 * 3 * 4];
    for (int i = 0; i < 24; i++) data[i] = (float)i * 0.5f - 3.0f;
    data[5] = -0.0f, data[7] = INFINITY, data[11] = 1e-40f;
    const int64_t shape[3] = {2, 3, 4};
    const char *path = tmp_path("a.npy");
    CHECK(sc_npy_write_f32(path, data, shape, 3) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(sc_npy_read(path, &a) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4, "npy shape");
    CHECK(a.data && memcmp(a.data, data, sizeof data) == 0, "npy float32 data bit-exact");
    sc_npy_free(&a);
    size_t n;
    uint8_t *b = read_bytes(path, &n);
    CHECK(b && n == 128 + 24 * 4, "npy size %zu: header padded to 128", n);
    if (b) {
      CHECK(b[6] == 1 && b[7] == 0 && b[8] + 256 * b[9] == 118 && b[127] == '\n', "npy v1 header");
      CHECK(has_bytes(b, n, "'shape': (2, 3, 4)"), "npy shape text");
      CHECK(b[128] == 0 && b[129] == 0 && b[130] == 0x40 && b[131] == 0xC0, "-3.0f little-endian");
    }
    free(b);
  }
  /* 1-D and 0-D shapes as numpy writes them. */
  {
    const float v5[5] = {1, 2, 3, 4, 5}, s = 7.25f;
    const int64_t shape5[1] = {5};
    const char *path = tmp_path("v5.npy");
    CHECK(sc_npy_write_f32(path, v5, shape5, 1) == SEGCAM_OK, "%s", segcam_last_error());
    size_t n;
    uint8_t *b = read_bytes(path, &n);
    CHECK(b && has_bytes(b, n, "'shape': (5,), }"), "(5,) written with a comma");
    free(b);
    CHECK(sc_npy_read(path, &a) == SEGCAM_OK && a.ndim == 1 && a.shape[0] == 5 && a.data[4] == 5,
          "1-D round trip: %s", segcam_last_error());
    sc_npy_free(&a);
    path = tmp_path("s.npy");
    CHECK(sc_npy_write_f32(path, &s, NULL, 0) == SEGCAM_OK, "%s", segcam_last_error());
    b = read_bytes(path, &n);
    CHECK(b && has_bytes(b, n, "'shape': (), }") && n == 128 + 4, "0-D header");
    free(b);
    CHECK(sc_npy_read(path, &a) == SEGCAM_OK && a.ndim == 0 && a.data[0] == 7.25f,
          "0-D round trip: %s", segcam_last_error());
    sc_npy_free(&a);
  }
  /* float64, v1 header as numpy writes it. */
  {
    const double vals[4] = {1.5, -2.25, 1e10, 0.1};
    uint8_t raw[32];
    for (int i = 0; i < 4; i++) {
      uint64_t u;
      memcpy(&u, &vals[i], 8);
      le_store(raw + 8 * i, u, 8);
    }
    const char *path = tmp_path("f8.npy");
    write_npy_raw(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", raw, 32);
    CHECK(sc_npy_read(path, &a) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 2, "f8 shape");
    if (a.data) {
      const double ref[4] = {1.5, -2.25, 1e10, 0.1};
      t_close("float64 npy", a.data, ref, 4, 0, 1e-7);
    }
    sc_npy_free(&a);
  }
  /* uint8, v2 header, keys reordered, double quotes, no trailing comma, odd spacing. */
  {
    const uint8_t raw[3] = {0, 128, 255};
    const char *path = tmp_path("u1.npy");
    write_npy_raw(path, 2, "{\"shape\":(3 ,) ,\"fortran_order\" :False,'descr':'|u1'}", raw, 3);
    CHECK(sc_npy_read(path, &a) == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(a.ndim == 1 && a.shape[0] == 3 && a.data && a.data[0] == 0 && a.data[1] == 128 &&
              a.data[2] == 255,
          "uint8 npy values");
    sc_npy_free(&a);
  }
  /* Signed integers (v3 header): int8, int16, int32, int64 with negatives; uint16. */
  {
    struct {
      const char *descr;
      int size;
      int64_t vals[3];
    } cases[] = {{"|i1", 1, {-128, -1, 127}},
                 {"<i2", 2, {-32768, -1, 300}},
                 {"<u2", 2, {0, 40000, 65535}},
                 {"<i4", 4, {-2000000000, -7, 123456}},
                 {"<i8", 8, {-((int64_t)1 << 40), -3, 5}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
      uint8_t raw[24];
      for (int i = 0; i < 3; i++)
        le_store(raw + i * cases[c].size, (uint64_t)cases[c].vals[i], cases[c].size);
      char dict[128];
      snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (1, 3), }",
               cases[c].descr);
      const char *path = tmp_path("int.npy");
      write_npy_raw(path, 3, dict, raw, 3 * (size_t)cases[c].size);
      CHECK(sc_npy_read(path, &a) == SEGCAM_OK, "%s: %s", cases[c].descr, segcam_last_error());
      if (a.data) {
        double ref[3] = {(double)cases[c].vals[0], (double)cases[c].vals[1],
                         (double)cases[c].vals[2]};
        t_close(cases[c].descr, a.data, ref, 3, 0, 1e-7);
      }
      sc_npy_free(&a);
    }
  }
  /* Malformed and unsupported files. */
  {
    static const uint8_t zeros[64];
    struct {
      const char *dict;
      size_t ndata;
      segcam_status want;
      const char *why;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False}", 4, SEGCAM_E_FORMAT, "missing shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5), }", 20, SEGCAM_E_FORMAT,
         "(5) is not a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, SEGCAM_E_FORMAT,
         "extra key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", 24, SEGCAM_E_FORMAT,
         "unterminated dict"},
        {"{'descr': '<f4', 'fortran_order': Flase, 'shape': (2,), }", 8, SEGCAM_E_FORMAT,
         "bad bool"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, SEGCAM_E_FORMAT,
         "negative dim"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8,
         SEGCAM_E_FORMAT, "repeated key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23, SEGCAM_E_FORMAT,
         "data one byte short"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25, SEGCAM_E_FORMAT,
         "data one byte long"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }", 16,
         SEGCAM_E_FORMAT, "absurd shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4,
         SEGCAM_E_FORMAT, "dimension overflows int64"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4,
         SEGCAM_E_FORMAT, "too many dims"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, SEGCAM_E_UNSUPPORTED,
         "big-endian"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, SEGCAM_E_UNSUPPORTED,
         "object dtype"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, SEGCAM_E_UNSUPPORTED,
         "complex dtype"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, SEGCAM_E_FORMAT,
         "structured dtype"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, SEGCAM_E_UNSUPPORTED,
         "fortran order"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
      const char *path = tmp_path("bad.npy");
      write_npy_raw(path, 1, bad[i].dict, zeros, bad[i].ndata);
      a.data = (float *)&a;
      segcam_status s = sc_npy_read(path, &a);
      CHECK(s == bad[i].want, "%s: status %d want %d (%s)", bad[i].why, (int)s, (int)bad[i].want,
            segcam_last_error());
      CHECK(a.data == NULL && msg_has(path), "%s: message '%s'", bad[i].why, segcam_last_error());
      sc_npy_free(&a);
    }
    /* Bad magic, unknown version, header length past the end of the file. */
    const char *path = tmp_path("bad2.npy");
    write_bytes(path, "\x93NUMPZ\x01\x00\x10\x00{}", 12);
    CHECK(sc_npy_read(path, &a) == SEGCAM_E_FORMAT, "bad magic");
    write_bytes(path, "\x93NUMPY\x09\x00\x10\x00{}", 12);
    CHECK(sc_npy_read(path, &a) == SEGCAM_E_UNSUPPORTED, "version 9");
    write_bytes(path, "\x93NUMPY\x01\x00\xff\x7f{'descr'", 17);
    CHECK(sc_npy_read(path, &a) == SEGCAM_E_FORMAT, "header longer than the file");
    CHECK(msg_has(path), "truncated header message: %s", segcam_last_error());
    CHECK(sc_npy_read(tmp_path("missing.npy"), &a) == SEGCAM_E_IO, "missing npy");
    CHECK(sc_npy_write_f32(path, NULL, NULL, 9) == SEGCAM_E_ARG, "9 dims refused");
    remove(path);
  }
}

/* ---- headers that promise more than the file holds ---------------------------------------- */

/* Sets a PNG's IHDR width and height (bytes 16..23) and its CRC (over bytes 12..28). */
static void patch_ihdr(uint8_t *b, uint32_t w, uint32_t h) {
  put_be32(b + 16, w);
  put_be32(b + 20, h);
  put_be32(b + 29, crc32_bytes(b + 12, 17));
}

/* Sets a JPEG's frame height and width (SOF0 or SOF2), walking the marker segments. */
static int patch_sof(uint8_t *b, size_t n, unsigned w, unsigned h) {
  for (size_t i = 2; i + 9 < n && b[i] == 0xFF;) {
    size_t len = (size_t)b[i + 2] << 8 | b[i + 3];
    if (b[i + 1] == 0xC0 || b[i + 1] == 0xC2) {
      b[i + 5] = (uint8_t)(h >> 8), b[i + 6] = (uint8_t)h;
      b[i + 7] = (uint8_t)(w >> 8), b[i + 8] = (uint8_t)w;
      return 1;
    }
    i += 2 + len;
  }
  return 0;
}

/* A file whose header promises a huge image (within the pixel limit, so the promise itself is
 * allowed) but which holds a small one must fail with a clear error naming the file and saying
 * where the data ran out (or, for PNG, that the file is too small for it).  The memory this
 * costs is not measured here; see the report in docs/FUZZING.md (C2). */
static void check_lying(const char *path, const char *what, const char *needle) {
  sc_image img;
  img.data = (float *)&img;
  segcam_status s = sc_image_load(path, &img);
  CHECK(s == SEGCAM_E_FORMAT && img.data == NULL, "%s: status %d: %s", what, (int)s,
        segcam_last_error());
  CHECK(msg_has(path) && msg_has(needle), "%s: message '%s' (wanted '%s')", what,
        segcam_last_error(), needle);
  sc_image_free(&img);
}

static void test_lying_headers(void) {
  enum { S = 16384 }; /* S x S is exactly the 2^28-pixel limit */
  /* Tiny PNGs, plain and Adam7: refused from the file's size before anything is allocated. */
  {
    uint8_t buf[16][16], *rows[16];
    for (int y = 0; y < 16; y++) {
      rows[y] = buf[y];
      for (int x = 0; x < 16; x++) buf[y][x] = (uint8_t)(x * 16 + y);
    }
    for (int interlace = 0; interlace <= 1; interlace++) {
      const char *path = tmp_path("lying_small.png");
      write_png_raw(path, 16, 16, 8, PNG_COLOR_TYPE_GRAY,
                    interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
                    NULL);
      size_t n;
      uint8_t *b = read_bytes(path, &n);
      if (!b) continue;
      patch_ihdr(b, S, S);
      write_bytes(path, b, n);
      free(b);
      check_lying(path,
                  interlace ? "tiny Adam7 PNG promising 16384x16384"
                            : "tiny PNG promising 16384x16384",
                  "16384x16384 pixels");
      CHECK(msg_has("holds even compressed"), "tiny PNG: '%s'", segcam_last_error());
    }
  }
  /* A 1-bit PNG of 8192x64 noise claiming 8192 rows: 64 KB can hold 8 MB of deflated data, so
   * the size check passes and the decoder must stop where the data does.  The Adam7 one stops
   * in the first pass (its data no longer lines up with the passes the header implies). */
  {
    enum { W = 8192, H = 64 };
    static uint8_t buf[H][W / 8];
    uint8_t *rows[H];
    uint32_t r = 12345;
    for (int y = 0; y < H; y++) {
      rows[y] = buf[y];
      for (int i = 0; i < W / 8; i++) buf[y][i] = (uint8_t)((r = r * 1103515245u + 12345u) >> 24);
    }
    for (int interlace = 0; interlace <= 1; interlace++) {
      const char *path = tmp_path("lying_1bit.png");
      write_png_raw(path, W, H, 1, PNG_COLOR_TYPE_GRAY,
                    interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, rows, NULL, 0, NULL, 0,
                    NULL);
      size_t n;
      uint8_t *b = read_bytes(path, &n);
      if (!b) continue;
      patch_ihdr(b, W, W);
      write_bytes(path, b, n);
      free(b);
      if (interlace)
        check_lying(path, "1-bit Adam7 PNG of 64 rows claiming 8192", "in interlace pass 1 of 7");
      else
        check_lying(path, "1-bit PNG of 64 rows claiming 8192", "at row 64 of 8192");
    }
  }
  /* 16x16 JPEGs, baseline and progressive, claiming 16384x16384.  libjpeg finds the data
   * missing in the first row of MCUs (baseline) or while reading the scans (progressive). */
  {
    uint8_t px[16 * 16 * 3];
    for (int i = 0; i < 16 * 16 * 3; i++) px[i] = (uint8_t)(i * 37);
    for (int progressive = 0; progressive <= 1; progressive++) {
      const char *path = tmp_path("lying.jpg");
      write_jpeg_opt(path, px, 16, 16, 3, progressive);
      size_t n;
      uint8_t *b = read_bytes(path, &n);
      if (!b) continue;
      CHECK(patch_sof(b, n, S, S), "JPEG frame header found");
      write_bytes(path, b, n);
      free(b);
      if (progressive)
        check_lying(path, "progressive 16x16 JPEG claiming 16384x16384", "corrupt or truncated");
      else
        check_lying(path, "16x16 JPEG claiming 16384x16384", "at row 0 of 16384");
    }
  }
  /* .npy: a float32 (16384, 16384, 3) header with 16 bytes of data is refused from the file's
   * size, before the 3 GiB array is allocated. */
  {
    static const uint8_t zeros[16];
    const char *path = tmp_path("lying.npy");
    write_npy_raw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (16384, 16384, 3), }",
                  zeros, sizeof zeros);
    sc_npy a;
    a.data = (float *)&a;
    CHECK(sc_npy_read(path, &a) == SEGCAM_E_FORMAT && a.data == NULL, "lying npy: %s",
          segcam_last_error());
    CHECK(msg_has(path) && msg_has("promises 3221225472 bytes of data, file has 16"),
          "lying npy: '%s'", segcam_last_error());
    sc_npy_free(&a);
  }
}

/* ---- resizing ----------------------------------------------------------------------------- */

static void test_resize(void) {
  /* 2x2 -> 4x4, one channel.  src = [[0, 10], [20, 70]].  Per axis, src = (d+0.5)*2/4 - 0.5
   * = 0.5d - 0.25 -> -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1), so the weights are
   * p = {0, 0.25, 0.75, 1} on each axis.  The bilinear surface through the corners is
   * f(px, py) = 10 px + 20 py + 40 px py:
   *   py = 0:    0, 2.5, 7.5, 10
   *   py = 0.25: 5, 10, 20, 25       (20 px + 5)
   *   py = 0.75: 15, 25, 45, 55      (40 px + 15)
   *   py = 1:    20, 32.5, 57.5, 70  (50 px + 20) */
  const float s22[4] = {0, 10, 20, 70};
  const double r44[16] = {0, 2.5, 7.5, 10, 5, 10, 20, 25, 15, 25, 45, 55, 20, 32.5, 57.5, 70};
  float d44[16];
  sc_resize_bilinear_hwc(s22, 2, 2, 1, d44, 4, 4);
  t_close("resize 2x2 -> 4x4", d44, r44, 16, 1e-5, 0);

  /* 3x5 -> 2x3, two channels: channel 0 is x^2 + 10 y^2, channel 1 its negative.
   *   src c0 = [[0, 1, 4, 9, 16], [10, 11, 14, 19, 26], [40, 41, 44, 49, 56]]
   * Rows: src = (d+0.5)*3/2 - 0.5 -> 0.25, 1.75.
   *   y = 0.25: row0 + 0.25*(row1 - row0) = row0 + 2.5  = [2.5, 3.5, 6.5, 11.5, 18.5]
   *   y = 1.75: row1 + 0.75*(row2 - row1) = row1 + 22.5 = [32.5, 33.5, 36.5, 41.5, 48.5]
   * Columns: src = (d+0.5)*5/3 - 0.5 -> 1/3, 2, 11/3.
   *   x = 1/3:  r[0] + (r[1]-r[0])/3:   2.5 + 1/3 = 2.833333,   32.5 + 1/3 = 32.833333
   *   x = 2:    r[2]:                   6.5,                    36.5
   *   x = 11/3: r[3] + 2(r[4]-r[3])/3:  11.5 + 14/3 = 16.166667, 41.5 + 14/3 = 46.166667 */
  float s35[3 * 5 * 2];
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++) {
      s35[(y * 5 + x) * 2] = (float)(x * x + 10 * y * y);
      s35[(y * 5 + x) * 2 + 1] = -(float)(x * x + 10 * y * y);
    }
  const double t = 1.0 / 3.0, u = 14.0 / 3.0;
  const double r23[12] = {2.5 + t,  -(2.5 + t),  6.5,  -6.5,  11.5 + u, -(11.5 + u),
                          32.5 + t, -(32.5 + t), 36.5, -36.5, 41.5 + u, -(41.5 + u)};
  float d23[12];
  sc_resize_bilinear_hwc(s35, 3, 5, 2, d23, 2, 3);
  t_close("resize 3x5x2 -> 2x3x2", d23, r23, 12, 1e-5, 0);

  /* Same size is the identity; 1x1 fills. */
  float same[30];
  sc_resize_bilinear_hwc(s35, 3, 5, 2, same, 3, 5);
  CHECK(memcmp(same, s35, sizeof same) == 0, "same-size resize is the identity");
  const float one[3] = {1, 2, 3};
  float fill[2 * 3 * 3];
  sc_resize_bilinear_hwc(one, 1, 1, 3, fill, 2, 3);
  int ok = 1;
  for (int i = 0; i < 6; i++)
    ok &= fill[3 * i] == 1 && fill[3 * i + 1] == 2 && fill[3 * i + 2] == 3;
  CHECK(ok, "1x1 -> 2x3 replicates the pixel");
}

/* ---- colormaps, overlay, class colours ---------------------------------------------------- */

static int rgb_is(const uint8_t *p, int r, int g, int b) {
  return p[0] == r && p[1] == g && p[2] == b;
}

static void test_colormaps(void) {
  /* v = 0, 0.25, 0.5, 0.75, 1 pick entries 0, 64, 128, 192, 255 (floor(v*256)). */
  const float v[5] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f};
  uint8_t out[15];
  /* matplotlib's jet segment data at x = i/255, times 255, rounded:
   *   i=0: (0, 0, 0.5) -> (0, 0, 128)        i=128: (0.4902, 1, 0.47755) -> (125, 255, 122)
   *   i=192: (1, 0.5817, 0) -> (255, 148, 0)  i=255: (0.5, 0, 0) -> (128, 0, 0) */
  sc_colormap_apply(SC_CMAP_JET, v, 5, out);
  CHECK(rgb_is(out, 0, 0, 128), "jet(0) = %d %d %d", out[0], out[1], out[2]);
  CHECK(rgb_is(out + 6, 125, 255, 122), "jet(0.5) = %d %d %d", out[6], out[7], out[8]);
  CHECK(rgb_is(out + 9, 255, 148, 0), "jet(0.75) = %d %d %d", out[9], out[10], out[11]);
  CHECK(rgb_is(out + 12, 128, 0, 0), "jet(1) = %d %d %d", out[12], out[13], out[14]);
  /* On jet's rising green segment 255*g(i/255) = 4i - 127.5 is always a tie, so entry 64 may
   * round either way: (0, 128.5, 1) -> (0, 128 or 129, 255). */
  CHECK(out[3] == 0 && (out[4] == 128 || out[4] == 129) && out[5] == 255, "jet(0.25) = %d %d %d",
        out[3], out[4], out[5]);
  /* More entries, one per remaining segment:
   *   i=16:  x=0.062745, b = 0.5 + 0.5*x/0.11 = 0.785205 -> (0, 0, 200)
   *   i=96:  x=0.376471, r = (x-0.35)/0.31 = 0.085389, b = 1 - (x-0.34)/0.31 = 0.882353
   *          -> (22, 255, 225)
   *   i=160: x=0.627451, r = 0.895003, b = (0.65-x)/0.31 = 0.072739 -> (228, 255, 19)
   *   i=240: x=0.941176, r = 1 - 0.5*(x-0.89)/0.11 = 0.767380, g = 0 -> (196, 0, 0) */
  const float v2[4] = {16.0f / 256, 96.0f / 256, 160.0f / 256, 240.0f / 256};
  sc_colormap_apply(SC_CMAP_JET, v2, 4, out);
  CHECK(rgb_is(out, 0, 0, 200), "jet[16] = %d %d %d", out[0], out[1], out[2]);
  CHECK(rgb_is(out + 3, 22, 255, 225), "jet[96] = %d %d %d", out[3], out[4], out[5]);
  CHECK(rgb_is(out + 6, 228, 255, 19), "jet[160] = %d %d %d", out[6], out[7], out[8]);
  CHECK(rgb_is(out + 9, 196, 0, 0), "jet[240] = %d %d %d", out[9], out[10], out[11]);
  /* Published tables: viridis[0] = (0.267004, 0.004874, 0.329415) = #440154,
   * viridis[128] = (0.127568, 0.566949, 0.550556) = #21918c, viridis[255] = #fde725;
   * viridis[64] = (0.229739, 0.322361, 0.545706). */
  sc_colormap_apply(SC_CMAP_VIRIDIS, v, 5, out);
  CHECK(rgb_is(out, 68, 1, 84), "viridis(0) = %d %d %d", out[0], out[1], out[2]);
  CHECK(rgb_is(out + 3, 59, 82, 139), "viridis(0.25) = %d %d %d", out[3], out[4], out[5]);
  CHECK(rgb_is(out + 6, 33, 145, 140), "viridis(0.5) = %d %d %d", out[6], out[7], out[8]);
  CHECK(rgb_is(out + 12, 253, 231, 37), "viridis(1) = %d %d %d", out[12], out[13], out[14]);
  /* inferno[0] = (0.001462, 0.000466, 0.013866) = #000004, inferno[128] = (0.735683, 0.215906,
   * 0.330245), inferno[255] = (0.988362, 0.998364, 0.644924) = #fcffa4. */
  sc_colormap_apply(SC_CMAP_INFERNO, v, 5, out);
  CHECK(rgb_is(out, 0, 0, 4), "inferno(0) = %d %d %d", out[0], out[1], out[2]);
  CHECK(rgb_is(out + 6, 188, 55, 84), "inferno(0.5) = %d %d %d", out[6], out[7], out[8]);
  CHECK(rgb_is(out + 12, 252, 255, 164), "inferno(1) = %d %d %d", out[12], out[13], out[14]);
  /* Google's turbo: [0] = (0.18995, 0.07176, 0.23217), [64] = (0.15844, 0.73551, 0.92305),
   * [128] = (0.64362, 0.98999, 0.23356), [255] = (0.47960, 0.01583, 0.01055). */
  sc_colormap_apply(SC_CMAP_TURBO, v, 5, out);
  CHECK(rgb_is(out, 48, 18, 59), "turbo(0) = %d %d %d", out[0], out[1], out[2]);
  CHECK(rgb_is(out + 3, 40, 188, 235), "turbo(0.25) = %d %d %d", out[3], out[4], out[5]);
  CHECK(rgb_is(out + 6, 164, 252, 60), "turbo(0.5) = %d %d %d", out[6], out[7], out[8]);
  CHECK(rgb_is(out + 12, 122, 4, 3), "turbo(1) = %d %d %d", out[12], out[13], out[14]);
  sc_colormap_apply(SC_CMAP_GRAY, v, 5, out);
  CHECK(rgb_is(out, 0, 0, 0) && rgb_is(out + 3, 64, 64, 64) && rgb_is(out + 6, 128, 128, 128) &&
            rgb_is(out + 12, 255, 255, 255),
        "gray ramp");

  /* Clamping, NaN, and the entry boundary: 127.9/256 is still entry 127. */
  const float odd[5] = {-3.0f, NAN, 7.0f, 127.9f / 256.0f, 128.0f / 256.0f};
  sc_colormap_apply(SC_CMAP_GRAY, odd, 5, out);
  CHECK(out[0] == 0 && out[3] == 0 && out[6] == 255 && out[9] == 127 && out[12] == 128,
        "gray clamp/NaN/boundary: %d %d %d %d %d", out[0], out[3], out[6], out[9], out[12]);

  CHECK(sc_colormap_from_name("jet") == SC_CMAP_JET, "jet by name");
  CHECK(sc_colormap_from_name("Turbo") == SC_CMAP_TURBO, "names ignore case");
  CHECK(sc_colormap_from_name("grey") == SC_CMAP_GRAY, "grey alias");
  CHECK(sc_colormap_from_name("jets") == -1 && sc_colormap_from_name("") == -1, "unknown names");
  for (int c = SC_CMAP_JET; c <= SC_CMAP_GRAY; c++)
    CHECK(sc_colormap_from_name(sc_colormap_name((sc_colormap)c)) == c, "name round trip %d", c);
}

static void test_overlay_and_classes(void) {
  /* out = 0.75*heat + 0.25*image: heat (255, 0, 0) over gray 100 -> 191.25 + 25 = 216.25 -> 216,
   * 25, 25; over RGBA (0, 40, 200, alpha ignored) -> 191.25, 10, 50. */
  const uint8_t heat[6] = {255, 0, 0, 255, 0, 0};
  const float gray[2] = {100, 100}, rgba[8] = {0, 40, 200, 7, 0, 40, 200, 7};
  const float ga[4] = {100, 3, 100, 3};
  uint8_t out[6];
  sc_overlay(heat, gray, 2, 1, 0.25f, out);
  CHECK(rgb_is(out, 216, 25, 25) && rgb_is(out + 3, 216, 25, 25), "overlay gray: %d %d %d", out[0],
        out[1], out[2]);
  sc_overlay(heat, ga, 2, 2, 0.25f, out);
  CHECK(rgb_is(out, 216, 25, 25), "overlay gray+alpha: %d %d %d", out[0], out[1], out[2]);
  sc_overlay(heat, rgba, 2, 4, 0.25f, out);
  CHECK(rgb_is(out, 191, 10, 50), "overlay RGBA: %d %d %d", out[0], out[1], out[2]);
  sc_overlay(heat, rgba, 1, 4, 0.0f, out);
  CHECK(rgb_is(out, 255, 0, 0), "alpha 0 is the heatmap");
  sc_overlay(heat, rgba, 1, 4, 1.0f, out);
  CHECK(rgb_is(out, 0, 40, 200), "alpha 1 is the image");

  uint8_t c0[3], ca[3], cb[3];
  sc_class_color(0, c0);
  CHECK(rgb_is(c0, 0, 0, 0), "class 0 is black");
  int distinct = 1, visible = 1;
  for (int64_t i = 1; i <= 300; i++) {
    sc_class_color(i, ca);
    if (ca[0] + ca[1] + ca[2] < 100 && !(ca[0] > 100 || ca[1] > 100 || ca[2] > 100)) visible = 0;
    if (i <= 20)
      for (int64_t j = 1; j < i; j++) {
        sc_class_color(j, cb);
        if (abs(ca[0] - cb[0]) + abs(ca[1] - cb[1]) + abs(ca[2] - cb[2]) < 50) distinct = 0;
      }
    sc_class_color(i + 1, cb);
    if (rgb_is(ca, cb[0], cb[1], cb[2])) distinct = 0;
  }
  CHECK(distinct, "the first 20 class colours are far apart and neighbours differ");
  CHECK(visible, "no class colour is near black");
  sc_class_color(1000, ca);
  sc_class_color(1000, cb);
  CHECK(rgb_is(ca, cb[0], cb[1], cb[2]), "class colours are deterministic");
}

int main(void) {
  snprintf(tmp_dir, sizeof tmp_dir, "%s/segcam_test_image_XXXXXX", t_env("TMPDIR", "/tmp"));
  if (!mkdtemp(tmp_dir)) {
    perror("mkdtemp");
    return 2;
  }
  test_png_roundtrip();
  test_png_flavours();
  test_jpeg();
  test_png_interlace_sizes();
  test_large_images();
  test_bad_files();
  test_npy();
  test_lying_headers();
  test_resize();
  test_colormaps();
  test_overlay_and_classes();
  tmp_cleanup();
  TEST_MAIN_END();
}
