/* Keras 3 .keras archives (and tf-keras 2.13+ "v3" saves): a ZIP holding config.json,
 * metadata.json and model.weights.h5 (F§2.1), read with libzip; the weights file is opened from
 * memory with libhdf5's core driver.
 *
 * In model.weights.h5 a layer's variables are datasets "0", "1", ... in the group
 * <container>/layers/<key>/vars, where <key> is snake_case(class name) plus a counter per
 * container in model.layers order ("conv2d", "conv2d_1", ...), not the layer name (F§2.2).
 * Since Keras 3.6 each vars group also carries the layer name as an attribute `name`; when a
 * container has those, they decide (the counter and the name can differ), else the counter does.
 * Nested models recurse: layers/functional/layers/conv2d/vars/0.
 *
 * Not here: weights saved as .npz or sharded across several files (refused with a message), the
 * unzipped directory form, and assets. */
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include <hdf5.h>

#include "core/error.h"
#include "load/keras.h"
#include "load/load.h"

#define MAX_JSON_BYTES ((uint64_t)256 << 20)

/* Reads a whole archive member; *found = 0 when it is absent. */
static segcam_status zip_read(const char *path, zip_t *z, const char *name, uint64_t max,
                              char **out, size_t *len, int *found) {
  *out = NULL;
  *len = 0;
  *found = 0;
  zip_int64_t idx = zip_name_locate(z, name, 0);
  if (idx < 0) return SEGCAM_OK;
  *found = 1;
  zip_stat_t zs;
  zip_stat_init(&zs);
  if (zip_stat_index(z, (zip_uint64_t)idx, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
    return sc_error(SEGCAM_E_FORMAT, "%s: cannot read the size of '%s' in the archive", path, name);
  if (zs.size > max)
    return sc_error(SEGCAM_E_FORMAT, "%s: archive member '%s' is implausibly large (%llu bytes)",
                    path, name, (unsigned long long)zs.size);
  char *buf = sc_malloc((size_t)zs.size + 1);
  if (!buf) return SEGCAM_E_NOMEM;
  zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)idx, 0);
  zip_int64_t got = zf ? zip_fread(zf, buf, zs.size) : -1;
  /* libzip compares the CRC-32 when a read reaches the end of the member: ask for one more byte */
  char extra;
  if (got >= 0 && zip_fread(zf, &extra, 1) != 0) got = -1;
  if (zf) zip_fclose(zf);
  if (got < 0 || (zip_uint64_t)got != zs.size) {
    free(buf);
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: cannot read '%s' from the archive (corrupt or "
                    "truncated?)",
                    path, name);
  }
  buf[zs.size] = '\0';
  *out = buf;
  *len = (size_t)zs.size;
  return SEGCAM_OK;
}

/* ---- the weights file ---------------------------------------------------------------------- */

typedef struct zip_source {
  const char *path;
  hid_t f;
  uint64_t max_bytes;
} zip_source;

/* Finds the child group of `layers` that holds the layer `ref`: by the vars `name` attribute when
 * the container's groups have one (Keras >= 3.6), else by the class-counter key. */
static segcam_status find_child(zip_source *s, hid_t layers, const kr_layer_ref *ref, char *out,
                                size_t size) {
  H5G_info_t gi;
  if (H5Gget_info(layers, &gi) < 0)
    return sc_error(SEGCAM_E_FORMAT, "%s: model.weights.h5: unreadable layers group", s->path);
  int any_named = 0, hit = 0;
  for (hsize_t i = 0; i < gi.nlinks && !hit; i++) {
    char child[512];
    ssize_t len = H5Lget_name_by_idx(layers, ".", H5_INDEX_NAME, H5_ITER_INC, i, child,
                                     sizeof child, H5P_DEFAULT);
    if (len < 0 || (size_t)len >= sizeof child) continue;
    char vars[600];
    snprintf(vars, sizeof vars, "%s/vars", child);
    if (H5Lexists(layers, child, H5P_DEFAULT) <= 0 || H5Lexists(layers, vars, H5P_DEFAULT) <= 0)
      continue;
    hid_t vg = H5Gopen2(layers, vars, H5P_DEFAULT);
    if (vg < 0) continue;
    char **nm;
    int n, found;
    if (kr_h5_strings(s->path, vg, "name", &nm, &n, &found) == SEGCAM_OK && found) {
      any_named = 1;
      if (n == 1 && strcmp(nm[0], ref->name) == 0) {
        snprintf(out, size, "%s", child);
        hit = 1;
      }
      kr_strings_free(nm, n);
    }
    H5Gclose(vg);
  }
  if (hit) return SEGCAM_OK;
  if (any_named)
    return sc_error(SEGCAM_E_FORMAT, "%s: model.weights.h5 has no variables named for layer '%s'",
                    s->path, ref->name);
  snprintf(out, size, "%s", ref->key);
  return SEGCAM_OK;
}

/* Opens the container group of the next level: "layers", or the name tf-keras 2.13 used. */
static hid_t open_layers(hid_t g) {
  if (H5Lexists(g, "layers", H5P_DEFAULT) > 0) return H5Gopen2(g, "layers", H5P_DEFAULT);
  if (H5Lexists(g, "_layer_checkpoint_dependencies", H5P_DEFAULT) > 0)
    return H5Gopen2(g, "_layer_checkpoint_dependencies", H5P_DEFAULT);
  return -1;
}

static segcam_status zip_load_layer(void *ctx, const kr_layer_ref *path, int depth,
                                    kr_weights *out) {
  zip_source *s = ctx;
  memset(out, 0, sizeof *out);
  segcam_status st = SEGCAM_OK;
  hid_t cur = H5Gopen2(s->f, "/", H5P_DEFAULT);
  for (int k = 0; k < depth && st == SEGCAM_OK; k++) {
    hid_t layers = cur >= 0 ? open_layers(cur) : -1;
    char child[512];
    if (layers < 0) {
      st = sc_error(SEGCAM_E_FORMAT, "%s: model.weights.h5 has no layers group for '%s'", s->path,
                    path[k].name);
    } else {
      st = find_child(s, layers, &path[k], child, sizeof child);
      hid_t next = -1;
      if (st == SEGCAM_OK && H5Lexists(layers, child, H5P_DEFAULT) > 0)
        next = H5Gopen2(layers, child, H5P_DEFAULT);
      if (st == SEGCAM_OK && next < 0)
        st = sc_error(SEGCAM_E_FORMAT,
                      "%s: model.weights.h5 has no group layers/%s for layer "
                      "'%s' (%s)",
                      s->path, child, path[k].name, path[k].class_name);
      H5Gclose(layers);
      H5Gclose(cur);
      cur = next;
    }
  }
  hid_t vars = -1;
  if (st == SEGCAM_OK && cur >= 0 && H5Lexists(cur, "vars", H5P_DEFAULT) > 0)
    vars = H5Gopen2(cur, "vars", H5P_DEFAULT);
  if (st == SEGCAM_OK && vars < 0)
    st = sc_error(SEGCAM_E_FORMAT, "%s: model.weights.h5 has no variables for layer '%s'", s->path,
                  path[depth - 1].name);
  H5G_info_t gi;
  if (st == SEGCAM_OK && H5Gget_info(vars, &gi) < 0)
    st = sc_error(SEGCAM_E_FORMAT, "%s: model.weights.h5: unreadable vars of layer '%s'", s->path,
                  path[depth - 1].name);
  if (st == SEGCAM_OK && gi.nlinks > 0) {
    if (gi.nlinks > 64) {
      st = sc_error(SEGCAM_E_FORMAT, "%s: layer '%s' has %llu variables", s->path,
                    path[depth - 1].name, (unsigned long long)gi.nlinks);
    } else {
      out->w = sc_calloc_n((size_t)gi.nlinks, sizeof *out->w);
      if (!out->w) st = SEGCAM_E_NOMEM;
    }
    /* save_own_variables numbers them "0", "1", ... (F§2.2) */
    for (hsize_t i = 0; i < gi.nlinks && st == SEGCAM_OK; i++) {
      char name[32];
      snprintf(name, sizeof name, "%llu", (unsigned long long)i);
      if (H5Lexists(vars, name, H5P_DEFAULT) <= 0) {
        st = sc_error(SEGCAM_E_FORMAT,
                      "%s: layer '%s': variable %s is missing from its vars "
                      "group",
                      s->path, path[depth - 1].name, name);
        break;
      }
      st = kr_h5_read_dataset(s->path, vars, name, s->max_bytes, &out->w[i]);
      if (st == SEGCAM_OK) out->n++;
    }
  }
  if (vars >= 0) H5Gclose(vars);
  if (cur >= 0) H5Gclose(cur);
  if (st != SEGCAM_OK) kr_weights_free(out);
  return st;
}

/* ---- metadata ------------------------------------------------------------------------------ */

/* Pulls "keras_version" out of metadata.json without a full parse (it is a flat object). */
static void metadata_version(const char *json, char *out, size_t size) {
  const char *k = json ? strstr(json, "\"keras_version\"") : NULL;
  out[0] = '\0';
  if (!k) return;
  k = strchr(k + 15, '"');
  if (!k) return;
  const char *e = strchr(k + 1, '"');
  if (!e || (size_t)(e - k - 1) >= size) return;
  memcpy(out, k + 1, (size_t)(e - k - 1));
  out[e - k - 1] = '\0';
}

/* What open_and_build needs, for kr_h5_probed. */
typedef struct zip_build {
  const char *path, *weights, *meta, *config;
  size_t weights_len;
} zip_build;

/* Opens the weights bytes with libhdf5's core driver (it copies them) and translates the model;
 * the caller holds kr_h5_lock. */
static segcam_status open_and_build(void *ctx, sc_graph *g) {
  const zip_build *zb = ctx;
  const char *path = zb->path, *weights = zb->weights, *meta = zb->meta, *config = zb->config;
  size_t weights_len = zb->weights_len;
  kr_h5_quiet();
  char what[1024];
  snprintf(what, sizeof what, "%s: model.weights.h5", path);
  SC_TRY(kr_h5_check_heaps(what, (const uint8_t *)weights, weights_len));
  hid_t f = -1;
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_core(fapl, 1 << 20, 0) >= 0 &&
      H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
      H5Pset_file_image(fapl, (void *)weights, weights_len) >= 0)
    f = H5Fopen("model.weights.h5", H5F_ACC_RDONLY, fapl);
  if (fapl >= 0) H5Pclose(fapl);
  if (f < 0)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: model.weights.h5 inside the archive is not a readable HDF5 file", path);
  kr_info info;
  memset(&info, 0, sizeof info);
  info.path = path;
  metadata_version(meta, info.version, sizeof info.version);
  kr_info_parse_version(&info);
  zip_source src = {path, f, (uint64_t)weights_len * 16 + ((uint64_t)64 << 20)};
  kr_source ks = {&src, zip_load_layer};
  segcam_status st = sc_keras_build(g, config, &info, &ks);
  H5Fclose(f);
  return st;
}

segcam_status sc_keras_zip_load(const char *path, sc_graph *g) {
  int zerr = 0;
  zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
  if (!z)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: libzip cannot open this ZIP archive (error %d: corrupt "
                    "or truncated?)",
                    path, zerr);
  char *config = NULL, *meta = NULL, *weights = NULL;
  size_t config_len, meta_len, weights_len = 0;
  int found;
  segcam_status st = zip_read(path, z, "config.json", MAX_JSON_BYTES, &config, &config_len, &found);
  if (st == SEGCAM_OK && !found)
    st = sc_error(SEGCAM_E_FORMAT, "%s: a ZIP archive without config.json: not a .keras model",
                  path);
  if (st == SEGCAM_OK)
    st = zip_read(path, z, "metadata.json", MAX_JSON_BYTES, &meta, &meta_len, &found);
  if (st == SEGCAM_OK)
    st = zip_read(path, z, "model.weights.h5", SC_LOAD_MAX_FILE_BYTES, &weights, &weights_len,
                  &found);
  if (st == SEGCAM_OK && !found) {
    if (zip_name_locate(z, "model.weights.npz", 0) >= 0)
      st = sc_error(SEGCAM_E_UNSUPPORTED,
                    "%s: the weights are stored as model.weights.npz; "
                    "segcam reads only the default HDF5 weights (save without weights_format="
                    "\"npz\")",
                    path);
    else if (zip_name_locate(z, "model.weights.json", 0) >= 0)
      st = sc_error(SEGCAM_E_UNSUPPORTED,
                    "%s: the weights are sharded over several files; save "
                    "the model without max_shard_size",
                    path);
    else
      st = sc_error(SEGCAM_E_FORMAT, "%s: the archive has config.json but no model.weights.h5",
                    path);
  }
  zip_discard(z);
  if (st == SEGCAM_OK) {
    zip_build zb = {path, weights, meta, config, weights_len};
    char what[1024];
    snprintf(what, sizeof what, "%s: model.weights.h5", path);
    kr_h5_lock();
    /* first in a child process: libhdf5 may crash or hang on a corrupt file (h5_probe.c) */
    st = kr_h5_probed(what, weights_len, open_and_build, &zb, g);
    kr_h5_unlock();
  }
  free(weights);
  free(config);
  free(meta);
  return st;
}
