/* Keras legacy HDF5 full models (model.save("x.h5") in Keras 2, tf.keras and Keras 3), read with
 * libhdf5, plus the HDF5 helpers the .keras loader shares.
 *
 * The file holds the architecture as JSON in the root attribute model_config and the weights in
 * /model_weights: one group per layer whose attribute weight_names lists dataset paths relative
 * to the group ("conv2d/kernel:0" in Keras 2, "conv2d/kernel" in Keras 3; F§1.2).  Strings come in
 * every encoding h5py has used: variable-length, fixed-length NUL-padded, lists split into
 * layer_names0, layer_names1, ... and the empty list stored as a float64 attribute (F§1.6).
 * A nested model is one group listing the weights of all its sublayers; a sublayer's weights are
 * the entries whose second-to-last path component is its name (F§1.4).
 *
 * libhdf5's serial build (Debian's) is not thread-safe: every use goes through kr_h5_lock.  Nor is
 * it safe on corrupt files: every load runs first in a child process (h5_probe.c).
 *
 * Not here: the config translation (keras_config.c), weights-only files (refused with a message:
 * they have no architecture), Keras 1 files and Theano-backend files (flipped kernels, F§1.5). */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/error.h"
#include "load/keras.h"

/* Attribute lists and strings beyond these sizes are treated as corrupt. */
#define MAX_LIST_ITEMS (1 << 24)
#define MAX_STRING_BYTES ((size_t)256 << 20)

static pthread_mutex_t h5_mutex = PTHREAD_MUTEX_INITIALIZER;

void kr_h5_lock(void) {
  pthread_mutex_lock(&h5_mutex);
}

void kr_h5_unlock(void) {
  pthread_mutex_unlock(&h5_mutex);
}

void kr_h5_quiet(void) {
  static int done = 0;
  if (!done) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    done = 1;
  }
}

void kr_strings_free(char **s, int n) {
  if (!s) return;
  for (int i = 0; i < n; i++) free(s[i]);
  free(s);
}

void kr_weights_free(kr_weights *ws) {
  if (!ws) return;
  for (int i = 0; i < ws->n; i++) {
    free(ws->w[i].name);
    free(ws->w[i].data);
  }
  free(ws->w);
  ws->w = NULL;
  ws->n = 0;
}

static char *dup_n(const char *s, size_t n) {
  char *d = sc_malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Variable-length strings: read through a memory type with the file's character set (libhdf5
 * does not convert between ASCII and UTF-8), copy, then let libhdf5 free its buffers. */
static segcam_status read_vlen(const char *path, const char *attr, hid_t a, hid_t ft, hid_t sp,
                               char **res, hssize_t cnt) {
  segcam_status st = SEGCAM_OK;
  hid_t mt = H5Tcopy(H5T_C_S1);
  char **buf = sc_calloc_n((size_t)cnt, sizeof *buf);
  if (mt < 0 || !buf || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(ft)) < 0) {
    st = buf ? sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s': unusable string type", path, attr)
             : SEGCAM_E_NOMEM;
  } else if (H5Aread(a, mt, buf) < 0) {
    st = sc_error(SEGCAM_E_FORMAT, "%s: cannot read attribute '%s' (corrupt HDF5 file?)", path,
                  attr);
  } else {
    for (hssize_t i = 0; i < cnt && st == SEGCAM_OK; i++) {
      const char *s = buf[i] ? buf[i] : "";
      res[i] = dup_n(s, strlen(s));
      if (!res[i]) st = SEGCAM_E_NOMEM;
    }
    H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, buf);
  }
  if (mt >= 0) H5Tclose(mt);
  free(buf);
  return st;
}

/* Fixed-length strings: `size` bytes each, padded with NULs (NULLPAD/NULLTERM) or spaces. */
static segcam_status read_fixed(const char *path, const char *attr, hid_t a, hid_t ft, char **res,
                                hssize_t cnt) {
  size_t size = H5Tget_size(ft);
  if (size == 0 || size > MAX_STRING_BYTES || (size_t)cnt > MAX_STRING_BYTES / size)
    return sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s' has an absurd size", path, attr);
  H5T_str_t pad = H5Tget_strpad(ft);
  hid_t mt = H5Tcopy(ft);
  char *buf = sc_malloc(size * (size_t)cnt + 1);
  segcam_status st = SEGCAM_OK;
  if (mt < 0 || !buf) {
    st = buf ? sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s': unusable string type", path, attr)
             : SEGCAM_E_NOMEM;
  } else if (H5Aread(a, mt, buf) < 0) {
    st = sc_error(SEGCAM_E_FORMAT, "%s: cannot read attribute '%s' (corrupt HDF5 file?)", path,
                  attr);
  } else {
    for (hssize_t i = 0; i < cnt && st == SEGCAM_OK; i++) {
      const char *s = buf + (size_t)i * size;
      size_t len = 0;
      while (len < size && s[len]) len++;
      if (pad == H5T_STR_SPACEPAD)
        while (len > 0 && s[len - 1] == ' ') len--;
      res[i] = dup_n(s, len);
      if (!res[i]) st = SEGCAM_E_NOMEM;
    }
  }
  if (mt >= 0) H5Tclose(mt);
  free(buf);
  return st;
}

segcam_status kr_h5_strings(const char *path, hid_t obj, const char *attr, char ***out, int *n,
                            int *found) {
  *out = NULL;
  *n = 0;
  *found = 0;
  htri_t ex = H5Aexists(obj, attr);
  if (ex < 0)
    return sc_error(SEGCAM_E_FORMAT, "%s: cannot look up attribute '%s' (corrupt HDF5 file?)", path,
                    attr);
  if (ex == 0) return SEGCAM_OK;
  *found = 1;
  hid_t a = H5Aopen(obj, attr, H5P_DEFAULT);
  if (a < 0)
    return sc_error(SEGCAM_E_FORMAT, "%s: cannot open attribute '%s' (corrupt HDF5 file?)", path,
                    attr);
  hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
  segcam_status st = SEGCAM_OK;
  char **res = NULL;
  hssize_t cnt = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  if (ft < 0 || sp < 0 || cnt < 0 || cnt > MAX_LIST_ITEMS) {
    st = sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s' has an unreadable type or size", path, attr);
  } else if (H5Tget_class(ft) != H5T_STRING) {
    /* Keras stores an empty list as a float64 attribute with no elements */
    if (cnt != 0)
      st = sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s' is not a string or a list of strings",
                    path, attr);
  } else if (cnt > 0) {
    res = sc_calloc_n((size_t)cnt, sizeof *res);
    if (!res) {
      st = SEGCAM_E_NOMEM;
    } else {
      htri_t var = H5Tis_variable_str(ft);
      if (var < 0)
        st = sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s': unusable string type", path, attr);
      else if (var)
        st = read_vlen(path, attr, a, ft, sp, res, cnt);
      else
        st = read_fixed(path, attr, a, ft, res, cnt);
    }
  }
  if (ft >= 0) H5Tclose(ft);
  if (sp >= 0) H5Sclose(sp);
  H5Aclose(a);
  if (st != SEGCAM_OK) {
    kr_strings_free(res, (int)cnt);
    return st;
  }
  *out = res;
  *n = (int)cnt;
  return SEGCAM_OK;
}

segcam_status kr_h5_string_list(const char *path, hid_t obj, const char *attr, char ***out, int *n,
                                int *found) {
  SC_TRY(kr_h5_strings(path, obj, attr, out, n, found));
  if (*found) return SEGCAM_OK;
  /* save_attributes_to_hdf5_group splits long lists into attr0, attr1, ... (F§1.2) */
  char **all = NULL;
  int total = 0;
  for (int chunk = 0;; chunk++) {
    char name[256], **part;
    int np, f;
    snprintf(name, sizeof name, "%s%d", attr, chunk);
    segcam_status st = kr_h5_strings(path, obj, name, &part, &np, &f);
    if (st != SEGCAM_OK) {
      kr_strings_free(all, total);
      return st;
    }
    if (!f) break;
    *found = 1;
    char **grown = sc_realloc_n(all, (size_t)(total + np + 1), sizeof *grown);
    if (!grown) {
      kr_strings_free(part, np);
      kr_strings_free(all, total);
      return SEGCAM_E_NOMEM;
    }
    all = grown;
    memcpy(all + total, part, (size_t)np * sizeof *part);
    total += np;
    free(part);
  }
  *out = all;
  *n = total;
  return SEGCAM_OK;
}

/* Is the dataset's string attribute `attr` equal to `want`? */
static int attr_is(const char *path, hid_t obj, const char *attr, const char *want) {
  char **s;
  int n, found, eq = 0;
  if (kr_h5_strings(path, obj, attr, &s, &n, &found) != SEGCAM_OK) return 0;
  if (found && n == 1) eq = strcmp(s[0], want) == 0;
  kr_strings_free(s, n);
  return eq;
}

segcam_status kr_h5_read_dataset(const char *path, hid_t loc, const char *name, uint64_t max_bytes,
                                 kr_weight *w) {
  memset(w, 0, sizeof *w);
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0)
    return sc_error(SEGCAM_E_FORMAT, "%s: weight dataset '%s' is missing or unreadable", path,
                    name);
  hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
  segcam_status st = SEGCAM_OK;
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  hsize_t dims[SEGCAM_MAX_DIMS];
  uint64_t numel = 1;
  if (ft < 0 || nd < 0) {
    st = sc_error(SEGCAM_E_FORMAT, "%s: weight '%s' has an unreadable shape or type", path, name);
  } else if (nd > SEGCAM_MAX_DIMS) {
    st = sc_error(SEGCAM_E_UNSUPPORTED, "%s: weight '%s' has %d dimensions (at most %d)", path,
                  name, nd, SEGCAM_MAX_DIMS);
  } else if (H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
    st = sc_error(SEGCAM_E_FORMAT, "%s: weight '%s' has an unreadable shape", path, name);
  } else {
    for (int i = 0; i < nd && st == SEGCAM_OK; i++) {
      if (dims[i] > 0 && numel > (max_bytes / 4) / dims[i])
        st = sc_error(SEGCAM_E_FORMAT, "%s: weight '%s' claims more data than the file holds", path,
                      name);
      numel *= dims[i];
      w->dims[i] = (int64_t)dims[i];
    }
    w->ndim = nd;
  }
  if (st == SEGCAM_OK) {
    w->data = sc_calloc_n(numel ? (size_t)numel : 1, sizeof(float));
    if (!w->data) st = SEGCAM_E_NOMEM;
  }
  if (st == SEGCAM_OK) {
    H5T_class_t tc = H5Tget_class(ft);
    if (tc == H5T_FLOAT) {
      /* float64/float16 datasets convert to float32 in the read */
      if (numel && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data) < 0)
        st = sc_error(SEGCAM_E_FORMAT, "%s: cannot read weight '%s' (corrupt file?)", path, name);
    } else if (tc == H5T_INTEGER && H5Tget_size(ft) == 2 && attr_is(path, d, "dtype", "bfloat16")) {
      /* Keras 3 stores bfloat16 variables as their 16-bit patterns (F§2.2): the upper half of
       * a float32 */
      uint16_t *b = sc_calloc_n(numel ? (size_t)numel : 1, sizeof *b);
      if (!b) {
        st = SEGCAM_E_NOMEM;
      } else if (numel && H5Dread(d, H5T_NATIVE_UINT16, H5S_ALL, H5S_ALL, H5P_DEFAULT, b) < 0) {
        st = sc_error(SEGCAM_E_FORMAT, "%s: cannot read weight '%s' (corrupt file?)", path, name);
      } else {
        for (uint64_t i = 0; i < numel; i++) {
          uint32_t u = (uint32_t)b[i] << 16;
          memcpy(&w->data[i], &u, sizeof u);
        }
      }
      free(b);
    } else {
      st = sc_error(SEGCAM_E_UNSUPPORTED, "%s: weight '%s' is not a floating-point dataset", path,
                    name);
    }
  }
  if (ft >= 0) H5Tclose(ft);
  if (sp >= 0) H5Sclose(sp);
  H5Dclose(d);
  if (st != SEGCAM_OK) {
    free(w->data);
    w->data = NULL;
  }
  return st;
}

/* ---- weights of /model_weights ------------------------------------------------------------- */

typedef struct h5_source {
  const char *path;
  hid_t mw; /* /model_weights */
  uint64_t max_bytes;
  char **layer_names; /* its layer_names attribute (the layers that have a group) */
  int n_layer_names;
} h5_source;

/* Splits a weight name into components; the variable name loses its ":0" suffix. */
static int split_name(char *s, char **comp, int max) {
  int n = 0;
  for (char *p = s; n < max;) {
    comp[n++] = p;
    char *q = strchr(p, '/');
    if (!q) break;
    *q = '\0';
    p = q + 1;
  }
  if (n > 0) {
    char *colon = strrchr(comp[n - 1], ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) *colon = '\0';
  }
  return n;
}

/* How well weight `wname` fits the sublayer path[1..depth-1] of a nested model: -1 when its layer
 * component (second to last) is not the sublayer's name, else the number of enclosing nested
 * model names that also appear in it (to tell apart equal names in different submodels). */
static int sublayer_score(const char *wname, const kr_layer_ref *path, int depth) {
  char buf[1024], *comp[64];
  if (strlen(wname) >= sizeof buf) return -1;
  strcpy(buf, wname);
  int n = split_name(buf, comp, 64);
  if (n < 2 || strcmp(comp[n - 2], path[depth - 1].name) != 0) return -1;
  int score = 0;
  for (int k = 1; k < depth - 1; k++)
    for (int i = 0; i < n - 2; i++)
      if (strcmp(comp[i], path[k].name) == 0) {
        score++;
        break;
      }
  return score;
}

/* The part of a weight name before the variable ("backbone/conv1" of "backbone/conv1/kernel:0"). */
static size_t prefix_len(const char *wname) {
  const char *slash = strrchr(wname, '/');
  return slash ? (size_t)(slash - wname) : 0;
}

static segcam_status h5_load_layer(void *ctx, const kr_layer_ref *path, int depth,
                                   kr_weights *out) {
  h5_source *s = ctx;
  memset(out, 0, sizeof *out);
  int listed = 0;
  for (int i = 0; i < s->n_layer_names && !listed; i++)
    listed = strcmp(s->layer_names[i], path[0].name) == 0;
  if (!listed)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: layer '%s' is not in the layer_names of /model_weights "
                    "(were these weights saved from another architecture?)",
                    s->path, path[0].name);
  hid_t grp = -1;
  htri_t ex = H5Lexists(s->mw, path[0].name, H5P_DEFAULT);
  if (ex > 0) grp = H5Gopen2(s->mw, path[0].name, H5P_DEFAULT);
  if (grp < 0)
    return sc_error(SEGCAM_E_FORMAT, "%s: layer '%s' has no weight group in /model_weights",
                    s->path, path[0].name);
  char **names = NULL;
  int n = 0, found = 0;
  segcam_status st = kr_h5_string_list(s->path, grp, "weight_names", &names, &n, &found);
  int *pick = st == SEGCAM_OK ? sc_calloc_n((size_t)n + 1, sizeof *pick) : NULL;
  if (st == SEGCAM_OK && !pick) st = SEGCAM_E_NOMEM;
  int n_pick = 0;
  if (st == SEGCAM_OK && depth == 1) {
    for (int i = 0; i < n; i++) pick[n_pick++] = i;
  } else if (st == SEGCAM_OK) {
    /* a sublayer of a nested model: its entries in the nested model's list (F§1.4) */
    int best = -1;
    for (int i = 0; i < n; i++) {
      int sc = sublayer_score(names[i], path, depth);
      if (sc > best) best = sc, n_pick = 0;
      if (sc == best && sc >= 0) pick[n_pick++] = i;
    }
    for (int k = 1; k < n_pick; k++) {
      size_t l0 = prefix_len(names[pick[0]]), lk = prefix_len(names[pick[k]]);
      if (l0 != lk || strncmp(names[pick[0]], names[pick[k]], l0) != 0) {
        st = sc_error(SEGCAM_E_FORMAT,
                      "%s: the weights of nested layer '%s' are ambiguous in "
                      "group '%s' ('%s' and '%s')",
                      s->path, path[depth - 1].name, path[0].name, names[pick[0]], names[pick[k]]);
        break;
      }
    }
  }
  if (st == SEGCAM_OK && n_pick > 0) {
    out->w = sc_calloc_n((size_t)n_pick, sizeof *out->w);
    if (!out->w) st = SEGCAM_E_NOMEM;
    for (int k = 0; k < n_pick && st == SEGCAM_OK; k++) {
      st = kr_h5_read_dataset(s->path, grp, names[pick[k]], s->max_bytes, &out->w[k]);
      if (st == SEGCAM_OK) {
        out->n++;
        out->w[k].name = dup_n(names[pick[k]], strlen(names[pick[k]]));
        if (!out->w[k].name) st = SEGCAM_E_NOMEM;
      }
    }
  }
  free(pick);
  kr_strings_free(names, n);
  H5Gclose(grp);
  if (st != SEGCAM_OK) kr_weights_free(out);
  return st;
}

/* ---- the file ------------------------------------------------------------------------------- */

/* Reads an attribute holding one string (*out = NULL when absent; the caller frees). */
static segcam_status read_one(const char *path, hid_t obj, const char *attr, char **out) {
  char **s;
  int n, found;
  *out = NULL;
  SC_TRY(kr_h5_strings(path, obj, attr, &s, &n, &found));
  if (!found) return SEGCAM_OK;
  if (n != 1) {
    kr_strings_free(s, n);
    return sc_error(SEGCAM_E_FORMAT, "%s: attribute '%s' holds %d strings, expected one", path,
                    attr, n);
  }
  *out = s[0];
  free(s);
  return SEGCAM_OK;
}

static int link_exists(hid_t loc, const char *name) {
  return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

/* A file without model_config: say what it is and what to do instead. */
static segcam_status explain_no_config(const char *path, hid_t f) {
  if (H5Aexists(f, "layer_names") > 0 || H5Aexists(f, "layer_names0") > 0 ||
      link_exists(f, "model_weights"))
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: no model_config: this is a Keras weights-only file (model.save_weights), "
                    "which holds layer weights but not the architecture; save the full model "
                    "instead (model.save(\"model.keras\") or model.save(\"model.h5\")) and load "
                    "that file",
                    path);
  if (link_exists(f, "layers") || link_exists(f, "vars"))
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: no model_config: this is a Keras 3 weights file (.weights.h5 from "
                    "save_weights), which has no architecture; save the full model with "
                    "model.save(\"model.keras\") and load the .keras file",
                    path);
  return sc_error(SEGCAM_E_FORMAT,
                  "%s: an HDF5 file without a model_config attribute: not a Keras model file",
                  path);
}

/* ---- guarding libhdf5 against corrupt global heaps ------------------------------------------ */

/* Variable-length strings (model_config, layer_names, ...) live in global heap collections:
 * "GCOL", version 1, 3 reserved bytes, the collection size (a "size of lengths" field), then
 * objects of [index u16, refcount u16, 4 reserved, size, data padded to 8], object 0 being the
 * free space, whose size already includes its header. [HDF5 File Format Specification, III.E]
 * libhdf5 1.10 (Debian 12's) decodes a collection by advancing over each object's declared size
 * with no check (H5HGcache.c): a free-space object of size 0 never advances, so H5Aread spins
 * forever, and a size running past the collection leaves its buffer.  A corrupt file must give
 * an error, so every collection is walked here the same way first and the file refused when one
 * is malformed.  Well-formed collections tile exactly, so nothing valid is refused. */

static uint64_t h5_len(const uint8_t *p, unsigned L) {
  uint64_t v = 0;
  for (unsigned k = 0; k < L; k++) {
    if (k >= 8 && p[k]) return UINT64_MAX; /* a 16-byte length beyond 2^64 */
    if (k < 8) v |= (uint64_t)p[k] << (8 * k);
  }
  return v;
}

segcam_status kr_h5_check_heaps(const char *what, const uint8_t *b, size_t n) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  size_t sb = 0;
  while (sb + 16 <= n && memcmp(b + sb, sig, 8) != 0) sb = sb ? 2 * sb : 512;
  if (sb + 16 > n) return SEGCAM_OK; /* no superblock: libhdf5 refuses the file itself */
  /* "size of lengths": byte 14 of a version 0/1 superblock, byte 10 of version 2/3 */
  unsigned L = b[sb + 8] < 2 ? b[sb + 14] : b[sb + 10];
  if (L != 2 && L != 4 && L != 8 && L != 16) return SEGCAM_OK; /* libhdf5 refuses it */
  const size_t hdr = (8 + L + 7) / 8 * 8, objhdr = (8 + L + 7) / 8 * 8;
  for (size_t i = 0; i + hdr <= n; i++) {
    if (b[i] != 'G' || memcmp(b + i, "GCOL\x01\0\0\0", 8) != 0) continue;
    uint64_t size = h5_len(b + i + 8, L);
    if (size > n - i) continue; /* past the end: libhdf5's read fails with an error */
    size_t end = i + (size_t)size;
    for (size_t p = i + hdr; p < end && end - p >= objhdr;) {
      unsigned idx = (unsigned)b[p] | (unsigned)b[p + 1] << 8;
      uint64_t osz = h5_len(b + p + 8, L), need = osz;
      if (idx > 0) need = osz > UINT64_MAX - objhdr - 7 ? UINT64_MAX : objhdr + (osz + 7) / 8 * 8;
      if (need == 0 || need > end - p)
        return sc_error(SEGCAM_E_FORMAT,
                        "%s: corrupt HDF5 file: global heap collection at byte %zu has an object "
                        "of size %llu at byte %zu (%s)",
                        what, i, (unsigned long long)osz, p,
                        need == 0 ? "an empty free-space entry" : "it runs past the collection");
      p += (size_t)need;
    }
  }
  return SEGCAM_OK;
}

/* kr_h5_check_heaps on a file, mapped rather than read (it may be large; only one pass). */
static segcam_status check_heaps_file(const char *path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return SEGCAM_OK; /* H5Fopen then reports it */
  struct stat sb;
  segcam_status st = SEGCAM_OK;
  if (fstat(fd, &sb) == 0 && sb.st_size > 0 && (uint64_t)sb.st_size <= SIZE_MAX) {
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      st = kr_h5_check_heaps(path, m, (size_t)sb.st_size);
      munmap(m, (size_t)sb.st_size);
    }
  }
  close(fd);
  return st;
}

static segcam_status h5_load_locked(const char *path, sc_graph *g) {
  kr_h5_quiet();
  SC_TRY(check_heaps_file(path));
  struct stat sb;
  uint64_t size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  /* close every object still open when the file is closed, whatever path we leave by */
  if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
  hid_t f = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : -1;
  if (fapl >= 0) H5Pclose(fapl);
  if (f < 0)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: libhdf5 cannot open this HDF5 file (truncated or "
                    "corrupt?)",
                    path);
  char *config = NULL, *version = NULL, *backend = NULL;
  segcam_status st = SEGCAM_OK;
  htri_t has = H5Aexists(f, "model_config");
  if (has < 0)
    st =
        sc_error(SEGCAM_E_FORMAT, "%s: cannot read the root attributes (corrupt HDF5 file?)", path);
  else if (!has)
    st = explain_no_config(path, f);
  if (st == SEGCAM_OK) st = read_one(path, f, "model_config", &config);
  if (st == SEGCAM_OK) st = read_one(path, f, "keras_version", &version);
  if (st == SEGCAM_OK) st = read_one(path, f, "backend", &backend);
  kr_info info;
  memset(&info, 0, sizeof info);
  info.path = path;
  if (st == SEGCAM_OK) {
    snprintf(info.version, sizeof info.version, "%s", version ? version : "");
    snprintf(info.backend, sizeof info.backend, "%s", backend ? backend : "");
    kr_info_parse_version(&info);
    if (!config || !*config) {
      st = sc_error(SEGCAM_E_FORMAT, "%s: the model_config attribute is empty", path);
    } else if (!version) {
      /* Keras 1 wrote no keras_version and used other layer layouts (F§1.5) */
      st = sc_error(SEGCAM_E_UNSUPPORTED,
                    "%s: no keras_version attribute: a Keras 1 model, "
                    "which segcam does not read; re-save it with Keras 2 or 3",
                    path);
    } else if (strcmp(info.backend, "theano") == 0) {
      st = sc_error(SEGCAM_E_UNSUPPORTED,
                    "%s: saved with the Theano backend, whose convolution kernels are flipped "
                    "relative to TensorFlow's; load it in Keras with the TensorFlow backend and "
                    "save it again",
                    path);
    } else if (info.major == 1) {
      st = sc_error(SEGCAM_E_UNSUPPORTED,
                    "%s: keras_version %s: Keras 1 models are not "
                    "supported; re-save it with Keras 2 or 3",
                    path, info.version);
    }
  }
  hid_t mw = -1;
  if (st == SEGCAM_OK) {
    if (link_exists(f, "model_weights")) mw = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    if (mw < 0)
      st = sc_error(SEGCAM_E_FORMAT,
                    "%s: model_config is present but the /model_weights group "
                    "is missing or unreadable",
                    path);
  }
  /* Keras writes float32 weights contiguously: a dataset cannot hold much more than the file;
   * the margin admits compressed datasets from other writers */
  h5_source src = {path, mw, size * 16 + ((uint64_t)64 << 20), NULL, 0};
  if (st == SEGCAM_OK) {
    int found;
    st = kr_h5_string_list(path, mw, "layer_names", &src.layer_names, &src.n_layer_names, &found);
    if (st == SEGCAM_OK && !found)
      st = sc_error(SEGCAM_E_FORMAT, "%s: /model_weights has no layer_names attribute", path);
  }
  if (st == SEGCAM_OK) {
    kr_source ks = {&src, h5_load_layer};
    st = sc_keras_build(g, config, &info, &ks);
  }
  kr_strings_free(src.layer_names, src.n_layer_names);
  if (mw >= 0) H5Gclose(mw);
  H5Fclose(f);
  free(config);
  free(version);
  free(backend);
  return st;
}

static segcam_status h5_load_cb(void *ctx, sc_graph *g) {
  return h5_load_locked(ctx, g);
}

segcam_status sc_keras_h5_load(const char *path, sc_graph *g) {
  kr_h5_lock();
  /* first in a child process: libhdf5 may crash or hang on a corrupt file (h5_probe.c) */
  struct stat sb;
  uint64_t bytes = stat(path, &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
  segcam_status st = kr_h5_probed(path, bytes, h5_load_cb, (void *)path, g);
  kr_h5_unlock();
  return st;
}

/* "2.2.4-tf" -> 2, 2, 4, tf_suffix; "3.13.2" -> 3, 13, 2. */
void kr_info_parse_version(kr_info *info) {
  const char *p = info->version;
  int v[3] = {0, 0, 0};
  for (int i = 0; i < 3 && isdigit((unsigned char)*p); i++) {
    long x = strtol(p, (char **)&p, 10);
    v[i] = x > 100000 ? 100000 : (int)x;
    if (*p == '.')
      p++;
    else
      break;
  }
  info->major = v[0];
  info->minor = v[1];
  info->patch = v[2];
  info->tf_suffix = strstr(info->version, "-tf") != NULL;
}
