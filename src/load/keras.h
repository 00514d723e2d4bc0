/* Keras loaders: the interface between the two containers and the config translator.
 *
 *   keras_h5.c      legacy HDF5 full models (model.save("x.h5")): root attribute model_config and
 *                   the /model_weights group; also the HDF5 helpers keras_zip.c reuses.
 *   keras_zip.c     Keras 3 .keras archives: config.json, metadata.json, model.weights.h5.
 *   keras_config.c  the model config (JSON) -> internal graph, shared by both containers.  It asks
 *                   the container for a layer's weights through a kr_source.
 *   h5_probe.c      runs each HDF5 load first in a child process, so that a corrupt file on which
 *                   libhdf5 crashes or hangs gives an error instead (both containers use it).
 *
 * Facts and sources: ../shared/docs/FORMATS_AND_NUMERICS.md §1-4 (cited as F§n below and in the
 * .c files).  Nothing here runs a model or fixes an input size. */
#ifndef SC_LOAD_KERAS_H
#define SC_LOAD_KERAS_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

/* One weight tensor as the file stores it (Keras axis order), float32. */
typedef struct kr_weight {
  char *name; /* the weight name ("conv2d/kernel:0"); NULL where the file has none (.keras) */
  int ndim;
  int64_t dims[SEGCAM_MAX_DIMS];
  float *data;
} kr_weight;

typedef struct kr_weights {
  kr_weight *w;
  int n;
} kr_weights;

void kr_weights_free(kr_weights *ws);

/* One step of the path from the top-level model to a layer: the layer's name, its class, and
 * its key in the .keras weights file (snake_case(class) plus a per-container counter: "conv2d",
 * "conv2d_1", ...; F§2.2). */
typedef struct kr_layer_ref {
  const char *name;
  const char *class_name;
  const char *key;
} kr_layer_ref;

/* Where weights come from.  `load` fills `out` with the weights of the layer at path[depth-1]
 * (path[0] a top-level layer, path[1..] layers of nested models), in file order. */
typedef struct kr_source {
  void *ctx;
  segcam_status (*load)(void *ctx, const kr_layer_ref *path, int depth, kr_weights *out);
} kr_source;

/* What the container says about the writer. */
typedef struct kr_info {
  const char *path; /* the model file, for messages */
  char version[64]; /* keras_version ("2.2.4-tf", "2.13.1", "3.8.0"); "" if absent */
  char backend[32]; /* "tensorflow", "jax", ...; "" if absent */
  int major, minor, patch;
  int tf_suffix; /* "-tf": the tf.keras bundled with TF 1.x/2.0-2.2 */
} kr_info;

/* Parses info->version into major/minor/patch/tf_suffix (0s when it does not parse). */
void kr_info_parse_version(kr_info *info);

/* Translates a model config (the JSON {"class_name": ..., "config": ...} of model_config or
 * config.json) into `g` (initialised, empty), reading weights through `src`. */
segcam_status sc_keras_build(sc_graph *g, const char *config_json, const kr_info *info,
                             const kr_source *src);

/* The two containers (load.c dispatches here once the content says which it is). */
segcam_status sc_keras_h5_load(const char *path, sc_graph *g);
segcam_status sc_keras_zip_load(const char *path, sc_graph *g);

/* ---- the HDF5 probe (h5_probe.c) ------------------------------------------------------------ */

/* A whole load of one HDF5 file into `g` (libhdf5 reads and the graph built from them). */
typedef segcam_status (*kr_h5_load_fn)(void *ctx, sc_graph *g);

/* Runs load(ctx, g) first in a forked child with its memory capped (data_bytes: the HDF5 data's
 * size), then, when the child loaded it, in this process; when the child failed with an ordinary
 * error, returns that error; when it crashed or hung, refuses the file with one line naming
 * `what`; `g` is left as it was unless the load here ran.  Call with kr_h5_lock held.
 * SEGCAM_H5_PROBE=0 turns the child off; SEGCAM_H5_PROBE_TIMEOUT (seconds, default 60) bounds
 * it. */
segcam_status kr_h5_probed(const char *what, uint64_t data_bytes, kr_h5_load_fn load, void *ctx,
                           sc_graph *g);

/* ---- HDF5 helpers (keras_h5.c) --------------------------------------------------------------- */

/* Declared only where <hdf5.h> is included first, so that load.c needs no HDF5 headers. */
#ifdef H5_VERS_MAJOR

/* libhdf5 (serial build) may be used by one thread at a time: hold this lock around every call. */
void kr_h5_lock(void);
void kr_h5_unlock(void);

/* Turns off libhdf5's automatic error printing (it writes to stderr by default); under the lock. */
void kr_h5_quiet(void);

/* Reads a string attribute of `obj` as a list: scalar or 1-D, variable-length or fixed-length
 * (NUL- or space-padded), and the empty float64 attribute Keras writes for an empty list (F§1.6).
 * *found = 0 (and OK) when the attribute does not exist.  The caller frees with kr_strings_free. */
segcam_status kr_h5_strings(const char *path, hid_t obj, const char *attr, char ***out, int *n,
                            int *found);
/* The same for a list Keras may have split into attr0, attr1, ... (F§1.2). */
segcam_status kr_h5_string_list(const char *path, hid_t obj, const char *attr, char ***out, int *n,
                                int *found);
void kr_strings_free(char **s, int n);

/* Reads the dataset `name` (relative to `loc`) as float32 into w (w->name is not set).  Datasets
 * larger than `max_bytes` are refused as corrupt. */
segcam_status kr_h5_read_dataset(const char *path, hid_t loc, const char *name, uint64_t max_bytes,
                                 kr_weight *w);

/* Refuses an HDF5 file image `b[0..n)` whose global heap collections would send libhdf5 1.10
 * into an endless loop or out of its buffer (see keras_h5.c); call before H5Fopen.  `what`
 * names the file in the message. */
segcam_status kr_h5_check_heaps(const char *what, const uint8_t *b, size_t n);
#endif

#endif
