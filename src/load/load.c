/* Model format detection and dispatch.
 *
 * The format is decided from the file's content, never from its name: Keras files are often
 * named .h5 whatever they hold, and a PyTorch checkpoint saved as "model.h5" is a ZIP.  Each
 * format is one row of `formats[]` (a signature probe and a loader); ONNX has no signature (a
 * protobuf starts with any field tag), so it is the last row and catches everything else.
 *
 * This file reads only what detection needs (a few headers, a ZIP's central directory); the ONNX
 * row then reads the whole file.  It does not parse any format beyond that. */
#define _POSIX_C_SOURCE 200809L

#include "load/load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/error.h"
#include "load/keras.h"

/* An open model file and its size, shared by the probes and loaders. */
typedef struct sc_probe_file {
  const char *path;
  FILE *f;
  uint64_t size;
} sc_probe_file;

/* Reads n bytes at `off`; 0 when the range is outside the file or the read fails. */
static int read_at(const sc_probe_file *pf, uint64_t off, void *buf, size_t n) {
  if (off > pf->size || n > pf->size - off) return 0;
  if (fseeko(pf->f, (off_t)off, SEEK_SET) != 0) return 0;
  return fread(buf, 1, n, pf->f) == n;
}

static uint32_t le16(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t le32(const uint8_t *p) {
  return le16(p) | (uint32_t)le16(p + 2) << 16;
}
static uint64_t le64(const uint8_t *p) {
  return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* ---- HDF5 (Keras .h5) --------------------------------------------------------------------- */

/* The HDF5 superblock signature is at offset 0 or at 512, 1024, 2048, ... (a user block may
 * precede it). [HDF5 File Format Specification, "Format Signature"] */
static int probe_hdf5(const sc_probe_file *pf) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  uint8_t b[8];
  for (uint64_t off = 0; off + 8 <= pf->size; off = off ? 2 * off : 512)
    if (read_at(pf, off, b, 8) && memcmp(b, sig, 8) == 0) return 1;
  return 0;
}

static segcam_status load_keras_h5(const sc_probe_file *pf, sc_graph *g) {
  return sc_keras_h5_load(pf->path, g);
}

/* ---- ZIP (Keras 3 .keras) ----------------------------------------------------------------- */

static int probe_zip(const sc_probe_file *pf) {
  uint8_t b[4];
  if (!read_at(pf, 0, b, 4)) return 0;
  /* A local file header, or the end-of-central-directory record of an empty archive. */
  return memcmp(b, "PK\x03\x04", 4) == 0 || memcmp(b, "PK\x05\x06", 4) == 0;
}

/* What a ZIP's central directory says about it. */
typedef struct zip_summary {
  int readable;   /* the central directory was found and walked */
  int has_config; /* a top-level "config.json" (Keras 3 .keras) */
  int has_pickle; /* an entry ".../data.pkl" (torch.save's zip format) */
} zip_summary;

/* Finds the central directory (offset, size) from the end-of-central-directory record, with the
 * ZIP64 variant when the 32-bit fields are saturated. [PKWARE APPNOTE.TXT 4.3.14-4.3.16] */
static int zip_find_cd(const sc_probe_file *pf, uint64_t *cd_off, uint64_t *cd_size) {
  enum { EOCD = 22, MAX_COMMENT = 65535 };
  if (pf->size < EOCD) return 0;
  uint64_t tail = pf->size < EOCD + MAX_COMMENT ? pf->size : EOCD + MAX_COMMENT;
  uint8_t *buf = malloc((size_t)tail);
  if (!buf) return 0;
  uint64_t base = pf->size - tail;
  int ok = 0;
  if (read_at(pf, base, buf, (size_t)tail)) {
    for (uint64_t i = tail - EOCD + 1; i-- > 0;) {
      const uint8_t *e = buf + i;
      if (memcmp(e, "PK\x05\x06", 4) != 0) continue;
      *cd_size = le32(e + 12);
      *cd_off = le32(e + 16);
      ok = 1;
      if (*cd_size == 0xffffffffu || *cd_off == 0xffffffffu) {
        uint8_t loc[20], z[56];
        uint64_t at = base + i;
        ok = at >= 20 && read_at(pf, at - 20, loc, 20) && memcmp(loc, "PK\x06\x07", 4) == 0 &&
             read_at(pf, le64(loc + 8), z, 56) && memcmp(z, "PK\x06\x06", 4) == 0;
        if (ok) {
          *cd_size = le64(z + 40);
          *cd_off = le64(z + 48);
        }
      }
      break;
    }
  }
  free(buf);
  return ok && *cd_off <= pf->size && *cd_size <= pf->size - *cd_off;
}

static zip_summary zip_summarize(const sc_probe_file *pf) {
  zip_summary s = {0, 0, 0};
  uint64_t cd_off, cd_size;
  if (!zip_find_cd(pf, &cd_off, &cd_size) || cd_size > ((uint64_t)256 << 20)) return s;
  uint8_t *cd = malloc(cd_size ? (size_t)cd_size : 1);
  if (!cd) return s;
  if (read_at(pf, cd_off, cd, (size_t)cd_size)) {
    size_t p = 0;
    s.readable = 1;
    /* Central directory file headers: 46 fixed bytes, then name, extra field and comment. */
    while (p + 46 <= cd_size && memcmp(cd + p, "PK\x01\x02", 4) == 0) {
      size_t name_len = le16(cd + p + 28);
      size_t next = p + 46 + name_len + le16(cd + p + 30) + le16(cd + p + 32);
      if (next > cd_size) break;
      const char *name = (const char *)cd + p + 46;
      if (name_len == 11 && memcmp(name, "config.json", 11) == 0) s.has_config = 1;
      if ((name_len == 8 && memcmp(name, "data.pkl", 8) == 0) ||
          (name_len > 9 && memcmp(name + name_len - 9, "/data.pkl", 9) == 0))
        s.has_pickle = 1;
      p = next;
    }
  }
  free(cd);
  return s;
}

static segcam_status load_keras_zip(const sc_probe_file *pf, sc_graph *g) {
  zip_summary s = zip_summarize(pf);
  if (s.has_config) return sc_keras_zip_load(pf->path, g);
  if (s.has_pickle)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: a ZIP archive holding a pickled PyTorch checkpoint (torch.save), not a "
                    "Keras model; export the network to ONNX with torch.onnx.export",
                    pf->path);
  if (!s.readable)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: a ZIP archive whose central directory is unreadable "
                    "(truncated or corrupt), not a model segcam can read",
                    pf->path);
  return sc_error(SEGCAM_E_FORMAT,
                  "%s: a ZIP archive without config.json, so not a Keras .keras model (a PyTorch "
                  ".pt checkpoint is also a ZIP)",
                  pf->path);
}

/* ---- ONNX --------------------------------------------------------------------------------- */

static int probe_any(const sc_probe_file *pf) {
  (void)pf;
  return 1;
}

static segcam_status load_onnx(const sc_probe_file *pf, sc_graph *g) {
  size_t n = (size_t)pf->size;
  uint8_t *bytes = malloc(n);
  if (!bytes) return sc_error(SEGCAM_E_NOMEM, "%s: out of memory reading %zu bytes", pf->path, n);
  if (!read_at(pf, 0, bytes, n)) {
    free(bytes);
    return sc_error(SEGCAM_E_IO, "%s: read error: %s", pf->path, strerror(errno));
  }
  segcam_status st = sc_onnx_load(pf->path, bytes, n, g);
  free(bytes);
  return st;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

typedef struct sc_format {
  const char *name; /* g->format */
  int (*probe)(const sc_probe_file *pf);
  segcam_status (*load)(const sc_probe_file *pf, sc_graph *g);
} sc_format;

/* First matching probe wins; keep probe_any last. */
static const sc_format formats[] = {
    {"keras-h5", probe_hdf5, load_keras_h5},
    {"keras-zip", probe_zip, load_keras_zip},
    {"onnx", probe_any, load_onnx},
};

segcam_status sc_load_model(const char *path, sc_graph *g) {
  memset(g, 0, sizeof *g);
  if (!path || !*path) return sc_error(SEGCAM_E_ARG, "no model path given");
  sc_probe_file pf = {path, NULL, 0};
  pf.f = fopen(path, "rb");
  if (!pf.f) return sc_error(SEGCAM_E_IO, "%s: cannot open: %s", path, strerror(errno));
  segcam_status st = SEGCAM_OK;
  struct stat sb;
  if (fstat(fileno(pf.f), &sb) != 0)
    st = sc_error(SEGCAM_E_IO, "%s: cannot stat: %s", path, strerror(errno));
  else if (!S_ISREG(sb.st_mode))
    st = sc_error(SEGCAM_E_IO, "%s: not a regular file", path);
  else if (sb.st_size == 0)
    st = sc_error(SEGCAM_E_FORMAT, "%s: empty file, not a model", path);
  else if ((uint64_t)sb.st_size > SC_LOAD_MAX_FILE_BYTES)
    st = sc_error(SEGCAM_E_UNSUPPORTED, "%s: %lld bytes: model files over 4 GiB are refused", path,
                  (long long)sb.st_size);
  if (st != SEGCAM_OK) {
    fclose(pf.f);
    return st;
  }
  pf.size = (uint64_t)sb.st_size;

  const sc_format *fmt = NULL;
  for (size_t i = 0; i < sizeof formats / sizeof formats[0] && !fmt; i++)
    if (formats[i].probe(&pf)) fmt = &formats[i];
  st = sc_graph_init(g, path, fmt->name);
  if (st == SEGCAM_OK) st = fmt->load(&pf, g);
  fclose(pf.f);
  if (st != SEGCAM_OK) sc_graph_free(g);
  return st;
}
