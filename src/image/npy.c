/* NumPy .npy files: reading (format 1.0, 2.0, 3.0; numeric little-endian dtypes converted to
 * float32; C order) and writing float32 arrays (format 1.0).
 *
 * The header is a Python dict literal.  It is parsed here with a small recursive-descent parser
 * that accepts what numpy writes (and any spacing, either quote style, trailing commas and
 * Python 2 "L" suffixes) but never evaluates anything.  All sizes are checked against the file's
 * length before any allocation, so a hostile header cannot make us allocate more than the file
 * holds.  Byte order is decoded explicitly, so this also works on big-endian hosts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "image/image.h"

/* numpy itself refuses headers over 10000 bytes by default; be a little more generous. */
#define NPY_MAX_HEADER (1 << 20)
#define NPY_CHUNK 65536

typedef enum npy_type { T_F4, T_F8, T_U1, T_I1, T_I2, T_U2, T_I4, T_I8 } npy_type;

/* ---- header parsing --------------------------------------------------------------------- */

typedef struct hparser {
  const char *s;
  size_t n, i;
  const char *err; /* first problem found */
} hparser;

static void skip_ws(hparser *p) {
  while (p->i < p->n &&
         (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
    p->i++;
}

static int peek(hparser *p) {
  skip_ws(p);
  return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int expect(hparser *p, char ch, const char *err) {
  if (peek(p) != ch) {
    if (!p->err) p->err = err;
    return 0;
  }
  p->i++;
  return 1;
}

/* A quoted string without escapes (numpy never writes any) into buf. */
static int parse_str(hparser *p, char *buf, size_t cap) {
  int q = peek(p);
  if (q != '\'' && q != '"') {
    if (!p->err) p->err = "expected a quoted string";
    return 0;
  }
  size_t start = ++p->i, len = 0;
  while (p->i < p->n && p->s[p->i] != q) {
    if (p->s[p->i] == '\\') {
      if (!p->err) p->err = "escape sequences in strings are not supported";
      return 0;
    }
    p->i++;
  }
  if (p->i >= p->n) {
    if (!p->err) p->err = "unterminated string";
    return 0;
  }
  len = p->i - start;
  p->i++;
  if (len >= cap) {
    if (!p->err) p->err = "string too long";
    return 0;
  }
  memcpy(buf, p->s + start, len);
  buf[len] = '\0';
  return 1;
}

static int parse_word(hparser *p, const char *w) {
  size_t len = strlen(w);
  skip_ws(p);
  if (p->n - p->i >= len && memcmp(p->s + p->i, w, len) == 0) {
    p->i += len;
    return 1;
  }
  return 0;
}

static int parse_bool(hparser *p, int *v) {
  if (parse_word(p, "True")) return *v = 1, 1;
  if (parse_word(p, "False")) return *v = 0, 1;
  if (!p->err) p->err = "fortran_order is not True or False";
  return 0;
}

static int parse_int(hparser *p, int64_t *v) {
  skip_ws(p);
  int64_t x = 0;
  size_t start = p->i;
  while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
    int d = p->s[p->i] - '0';
    if (x > (INT64_MAX - d) / 10) {
      if (!p->err) p->err = "dimension too large";
      return 0;
    }
    x = x * 10 + d;
    p->i++;
  }
  if (p->i == start) {
    if (!p->err) p->err = "expected a non-negative integer in shape";
    return 0;
  }
  if (p->i < p->n && (p->s[p->i] == 'L' || p->s[p->i] == 'l')) p->i++; /* Python 2 long */
  *v = x;
  return 1;
}

/* A Python tuple of non-negative ints: (), (5,), (3, 4), (3, 4,). "(5)" is an int, not a
 * tuple, and is rejected as numpy would. */
static int parse_shape(hparser *p, int *ndim, int64_t *shape) {
  if (!expect(p, '(', "shape is not a tuple")) return 0;
  int n = 0, trailing_comma = 0;
  while (peek(p) != ')') {
    if (n == SEGCAM_MAX_DIMS) {
      if (!p->err) p->err = "too many dimensions";
      return 0;
    }
    if (!parse_int(p, &shape[n])) return 0;
    n++;
    trailing_comma = 0;
    if (peek(p) == ',') {
      p->i++;
      trailing_comma = 1;
    } else if (peek(p) != ')') {
      if (!p->err) p->err = "malformed shape tuple";
      return 0;
    }
  }
  p->i++;
  if (n == 1 && !trailing_comma) {
    if (!p->err) p->err = "shape is not a tuple";
    return 0;
  }
  *ndim = n;
  return 1;
}

typedef struct npy_header {
  char descr[32];
  int fortran;
  int ndim;
  int64_t shape[SEGCAM_MAX_DIMS];
} npy_header;

static int parse_header(hparser *p, npy_header *h) {
  int have_descr = 0, have_fortran = 0, have_shape = 0;
  if (!expect(p, '{', "header is not a dict")) return 0;
  while (peek(p) != '}') {
    char key[32];
    if (!parse_str(p, key, sizeof key)) return 0;
    if (!expect(p, ':', "expected ':' after a key")) return 0;
    if (strcmp(key, "descr") == 0 && !have_descr) {
      if (peek(p) == '[') {
        if (!p->err) p->err = "structured dtypes are not supported";
        return 0;
      }
      if (!parse_str(p, h->descr, sizeof h->descr)) return 0;
      have_descr = 1;
    } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
      if (!parse_bool(p, &h->fortran)) return 0;
      have_fortran = 1;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      if (!parse_shape(p, &h->ndim, h->shape)) return 0;
      have_shape = 1;
    } else {
      if (!p->err) p->err = "unexpected or repeated key in header";
      return 0;
    }
    if (peek(p) == ',')
      p->i++;
    else if (peek(p) != '}') {
      if (!p->err) p->err = "expected ',' or '}' in header";
      return 0;
    }
  }
  p->i++;
  if (peek(p) != -1) {
    if (!p->err) p->err = "trailing characters after the header dict";
    return 0;
  }
  if (!have_descr || !have_fortran || !have_shape) {
    if (!p->err) p->err = "header lacks 'descr', 'fortran_order' or 'shape'";
    return 0;
  }
  return 1;
}

/* Maps a descr to a type; returns a status and sets the message on failure. */
static segcam_status parse_descr(const char *path, const char *d, npy_type *t, size_t *size) {
  static const struct {
    char kind;
    size_t size;
    npy_type type;
  } types[] = {{'f', 4, T_F4}, {'f', 8, T_F8}, {'u', 1, T_U1}, {'i', 1, T_I1},
               {'i', 2, T_I2}, {'u', 2, T_U2}, {'i', 4, T_I4}, {'i', 8, T_I8}};
  size_t len = strlen(d);
  char order = len ? d[0] : 0;
  if (order != '<' && order != '>' && order != '|' && order != '=')
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: malformed dtype '%s'", path, d);
  if (len >= 2 && d[1] == 'O')
    return sc_error(SEGCAM_E_UNSUPPORTED, "npy: %s: object arrays ('%s') are not supported", path,
                    d);
  /* The item size follows the kind letter as a decimal number ("<f4", "|u1", "<U12"). */
  size_t sz = 0;
  for (size_t i = 2; i < len && i < 6; i++) {
    if (d[i] < '0' || d[i] > '9') {
      sz = 0;
      break;
    }
    sz = sz * 10 + (size_t)(d[i] - '0');
  }
  for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
    if (sz != types[i].size || d[1] != types[i].kind) continue;
    /* Byte order matters only for multi-byte types; '=' (native) is never written by numpy
     * and would make the file's meaning depend on the writer's machine. */
    if (sz > 1 && order != '<')
      return sc_error(SEGCAM_E_UNSUPPORTED,
                      "npy: %s: dtype '%s': only little-endian ('<') data "
                      "is supported",
                      path, d);
    *t = types[i].type;
    *size = sz;
    return SEGCAM_OK;
  }
  return sc_error(SEGCAM_E_UNSUPPORTED,
                  "npy: %s: dtype '%s' is not supported (use float32, "
                  "float64 or an integer type)",
                  path, d);
}

/* ---- reading ---------------------------------------------------------------------------- */

static uint64_t load_le(const uint8_t *b, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v |= (uint64_t)b[i] << (8 * i);
  return v;
}

static float convert(const uint8_t *b, npy_type t) {
  switch (t) {
  case T_F4: {
    uint32_t u = (uint32_t)load_le(b, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  case T_F8: {
    uint64_t u = load_le(b, 8);
    double d;
    memcpy(&d, &u, 8);
    return (float)d;
  }
  case T_U1: return (float)b[0];
  case T_I1: {
    int8_t v;
    memcpy(&v, b, 1);
    return (float)v;
  }
  case T_U2: return (float)load_le(b, 2);
  case T_I2: {
    uint16_t u = (uint16_t)load_le(b, 2);
    int16_t v;
    memcpy(&v, &u, 2);
    return (float)v;
  }
  case T_I4: {
    uint32_t u = (uint32_t)load_le(b, 4);
    int32_t v;
    memcpy(&v, &u, 4);
    return (float)v;
  }
  case T_I8: {
    uint64_t u = load_le(b, 8);
    int64_t v;
    memcpy(&v, &u, 8);
    return (float)v;
  }
  }
  return 0.0f;
}

static segcam_status npy_read_file(const char *path, FILE *f, sc_npy *out) {
  uint8_t pre[12];
  if (fread(pre, 1, 8, f) != 8 || memcmp(pre, "\x93NUMPY", 6) != 0)
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: not a .npy file", path);
  int major = pre[6], minor = pre[7];
  size_t lenbytes;
  if (major == 1)
    lenbytes = 2;
  else if (major == 2 || major == 3)
    lenbytes = 4;
  else
    return sc_error(SEGCAM_E_UNSUPPORTED, "npy: %s: format version %d.%d is not supported", path,
                    major, minor);
  if (fread(pre + 8, 1, lenbytes, f) != lenbytes)
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: truncated header", path);
  uint64_t hlen = load_le(pre + 8, lenbytes);
  if (hlen > NPY_MAX_HEADER)
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: header of %llu bytes is implausibly long", path,
                    (unsigned long long)hlen);
  char *hdr = sc_malloc((size_t)hlen + 1);
  if (!hdr) {
    sc_error_prefix("npy: %s", path);
    return SEGCAM_E_NOMEM;
  }
  if (fread(hdr, 1, (size_t)hlen, f) != (size_t)hlen) {
    free(hdr);
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: truncated header", path);
  }
  hdr[hlen] = '\0';
  if (memchr(hdr, '\0', (size_t)hlen)) {
    free(hdr);
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: NUL byte in header", path);
  }
  npy_header h;
  memset(&h, 0, sizeof h);
  hparser p = {hdr, (size_t)hlen, 0, NULL};
  int ok = parse_header(&p, &h);
  free(hdr);
  if (!ok)
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: malformed header: %s (at byte %zu)", path, p.err,
                    p.i);

  npy_type type = T_F4;
  size_t isize = 4;
  SC_TRY(parse_descr(path, h.descr, &type, &isize));
  if (h.fortran)
    return sc_error(SEGCAM_E_UNSUPPORTED,
                    "npy: %s: fortran_order arrays are not supported "
                    "(save a C-contiguous array)",
                    path);

  /* Element count, then the data length the file must have. */
  uint64_t count = 1;
  for (int i = 0; i < h.ndim; i++) {
    uint64_t d = (uint64_t)h.shape[i];
    if (d != 0 && count > UINT64_MAX / 8 / d)
      return sc_error(SEGCAM_E_FORMAT, "npy: %s: absurd shape (element count overflows)", path);
    count *= d;
  }
  long here = ftell(f);
  if (here < 0 || fseek(f, 0, SEEK_END) != 0)
    return sc_error(SEGCAM_E_IO, "npy: %s: cannot seek: %s", path, strerror(errno));
  long end = ftell(f);
  if (end < here || fseek(f, here, SEEK_SET) != 0)
    return sc_error(SEGCAM_E_IO, "npy: %s: cannot seek: %s", path, strerror(errno));
  uint64_t have = (uint64_t)(end - here), need = count * isize;
  if (have != need)
    return sc_error(SEGCAM_E_FORMAT, "npy: %s: header promises %llu bytes of data, file has %llu",
                    path, (unsigned long long)need, (unsigned long long)have);
  if (count > SIZE_MAX / sizeof(float))
    return sc_error(SEGCAM_E_NOMEM, "npy: %s: array too large", path);

  float *data = sc_calloc_n((size_t)count, sizeof *data);
  uint8_t *buf = sc_malloc(NPY_CHUNK * 8);
  if (!data || !buf) {
    free(data);
    free(buf);
    sc_error_prefix("npy: %s", path);
    return SEGCAM_E_NOMEM;
  }
  for (uint64_t done = 0; done < count;) {
    size_t k = count - done < NPY_CHUNK ? (size_t)(count - done) : NPY_CHUNK;
    if (fread(buf, isize, k, f) != k) {
      int io = ferror(f);
      free(data);
      free(buf);
      return io ? sc_error(SEGCAM_E_IO, "npy: %s: read error", path)
                : sc_error(SEGCAM_E_FORMAT, "npy: %s: truncated data", path);
    }
    for (size_t j = 0; j < k; j++) data[done + j] = convert(buf + j * isize, type);
    done += k;
  }
  free(buf);
  out->ndim = h.ndim;
  for (int i = 0; i < h.ndim; i++) out->shape[i] = h.shape[i];
  out->data = data;
  return SEGCAM_OK;
}

segcam_status sc_npy_read(const char *path, sc_npy *out) {
  if (!out) return sc_error(SEGCAM_E_ARG, "npy: no output");
  memset(out, 0, sizeof *out);
  if (!path) return sc_error(SEGCAM_E_ARG, "npy: no file name");
  FILE *f = fopen(path, "rb");
  if (!f) return sc_error(SEGCAM_E_IO, "npy: %s: cannot open: %s", path, strerror(errno));
  segcam_status s = npy_read_file(path, f, out);
  fclose(f);
  return s;
}

void sc_npy_free(sc_npy *a) {
  if (!a) return;
  free(a->data);
  a->data = NULL;
  a->ndim = 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

segcam_status sc_npy_write_f32(const char *path, const float *data, const int64_t *shape,
                               int ndim) {
  if (!path) return sc_error(SEGCAM_E_ARG, "npy: no file name");
  if (ndim < 0 || ndim > SEGCAM_MAX_DIMS || (ndim > 0 && !shape))
    return sc_error(SEGCAM_E_ARG, "npy: %s: invalid number of dimensions %d", path, ndim);
  uint64_t count = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (shape[i] != 0 && count > (uint64_t)INT64_MAX / 4 / (uint64_t)shape[i]))
      return sc_error(SEGCAM_E_ARG, "npy: %s: invalid shape", path);
    count *= (uint64_t)shape[i];
  }
  if (count > 0 && !data) return sc_error(SEGCAM_E_ARG, "npy: %s: no data", path);

  /* Header: magic, version 1.0, length, then the dict padded with spaces and ended by '\n' so
   * that the data starts at a multiple of 64 bytes, as numpy does. */
  char dict[64 + 24 * SEGCAM_MAX_DIMS];
  int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  for (int i = 0; i < ndim; i++)
    len += snprintf(dict + len, sizeof dict - len, "%s%lld", i ? ", " : "", (long long)shape[i]);
  len += snprintf(dict + len, sizeof dict - len, "%s), }", ndim == 1 ? "," : "");
  size_t total = 10 + (size_t)len + 1;
  size_t padded = (total + 63) / 64 * 64;
  uint8_t hdr[10 + sizeof dict + 64];
  memcpy(hdr, "\x93NUMPY\x01\x00", 8);
  size_t hlen = padded - 10;
  hdr[8] = (uint8_t)(hlen & 0xFF);
  hdr[9] = (uint8_t)(hlen >> 8);
  memcpy(hdr + 10, dict, (size_t)len);
  memset(hdr + 10 + len, ' ', padded - total);
  hdr[padded - 1] = '\n';

  FILE *f = fopen(path, "wb");
  if (!f) return sc_error(SEGCAM_E_IO, "npy: %s: cannot create: %s", path, strerror(errno));
  int bad = fwrite(hdr, 1, padded, f) != padded;
  uint8_t buf[4 * 4096];
  for (uint64_t done = 0; !bad && done < count;) {
    size_t k = count - done < 4096 ? (size_t)(count - done) : 4096;
    for (size_t j = 0; j < k; j++) {
      uint32_t u;
      memcpy(&u, &data[done + j], 4);
      for (int b = 0; b < 4; b++) buf[4 * j + b] = (uint8_t)(u >> (8 * b));
    }
    bad = fwrite(buf, 4, k, f) != k;
    done += k;
  }
  if (fclose(f) != 0) bad = 1;
  if (bad) /* partial file left in place, as in sc_png_write */
    return sc_error(SEGCAM_E_IO, "npy: %s: write error", path);
  return SEGCAM_OK;
}
