/* Entry code shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c) and the regression replay
 * (tests/test_fuzz_regress.c), so a minimised input replays through exactly the calls that found
 * it, in the normal build, without libFuzzer.
 *
 * Each entry takes the raw bytes of one file, writes them to a private temporary file (the
 * library reads paths, not buffers) and drives the public or loader API on it with every return
 * code checked.  Results are never asserted on: a hostile file may legitimately load, or fail
 * with any status.  What IS checked is the library's error contract (include/segcam.h): a failure
 * returns a status in the enum's range with a non-empty message, and a constructor leaves *out
 * NULL.  A breach of the contract calls abort(), which the fuzzer reports as a crash.
 *
 * Not here: anything that judges numerics (the golden tests do that). */
#ifndef SC_FUZZ_ENTRY_H
#define SC_FUZZ_ENTRY_H

/* mkdtemp, access, unlink, rmdir: include this header before any system header. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "core/error.h"
#include "image/image.h"
#include "load/keras.h"
#include "segcam.h"

/* Inputs the model harness is willing to run: fixed model inputs over this many elements are
 * skipped (they are valid, just slow to fuzz); dynamic H/W get FUZZ_DYN_SIDE. */
#define FUZZ_MAX_INPUT_ELEMS (64 * 64 * 8)
#define FUZZ_DYN_SIDE 16
/* The library's memory bound in the harness (SEGCAM_MAX_MEMORY_MB), under the fuzzer's
 * -rss_limit_mb=2048 with room for ASan's own overhead. */
#define FUZZ_MAX_MEMORY_MB "256"
/* Sessions planning more than this are not run: valid, just slow to fuzz. */
#define FUZZ_MAX_SESSION_BYTES ((size_t)32 << 20)

static char fuzz_dir[64];

static inline void fuzz_cleanup(void) {
  char p[96];
  const char *names[] = {"model", "image", "array"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", fuzz_dir, names[i]);
    unlink(p);
  }
  if (fuzz_dir[0]) rmdir(fuzz_dir);
}

/* Writes data to <private dir>/<name>; the directory is made once per process (in /dev/shm when
 * it exists, so the fuzzer's thousands of writes per second stay in memory) and holds nothing
 * else, so an ONNX file naming external data finds no file beside it. */
static inline int fuzz_write_temp(const uint8_t *data, size_t n, const char *name, char *path,
                                  size_t cap) {
  if (!fuzz_dir[0]) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/segcam_fuzz_XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
      perror("fuzz: mkdtemp");
      abort();
    }
    atexit(fuzz_cleanup);
  }
  snprintf(path, cap, "%s/%s", fuzz_dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
    perror("fuzz: writing the temporary file");
    abort();
  }
  return 0;
}

/* The error contract of a failed call. */
static inline void fuzz_check_failure(segcam_status st, const char *call) {
  const char *msg = segcam_last_error();
  if (st < SEGCAM_E_IO || st > SEGCAM_E_INTERNAL || !msg || !msg[0]) {
    fprintf(stderr, "fuzz: %s failed with status %d and message '%s'\n", call, (int)st,
            msg ? msg : "(null)");
    abort();
  }
  if (st == SEGCAM_E_INTERNAL) { /* "a bug in segcam" by the API's own definition */
    fprintf(stderr, "fuzz: %s: internal error: %s\n", call, msg);
    abort();
  }
}

/* Volatile sink so reading a decoded buffer is not optimised away (ASan then checks its bounds). */
static volatile float fuzz_sink;

static inline void fuzz_touch(const float *p, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; i++) s += p[i];
  fuzz_sink = s;
}

/* ---- model: load, session, run, explain ------------------------------------------------------ */

static inline void fuzz_model_run(segcam_model *m) {
  segcam_input_info info;
  segcam_status st = segcam_model_input(m, &info);
  if (st) {
    fuzz_check_failure(st, "segcam_model_input");
    return;
  }
  /* The size to ask for: the file's own where fixed, a small one where dynamic. */
  int64_t h = info.height < 0 ? FUZZ_DYN_SIDE : -1, w = info.width < 0 ? FUZZ_DYN_SIDE : -1;
  double elems = 1;
  for (int i = 0; i < info.ndim && i < SEGCAM_MAX_DIMS; i++) {
    int64_t d = info.dims[i];
    if (d <= 0) d = i == 0 ? 1 : FUZZ_DYN_SIDE;
    elems *= (double)d;
  }
  if (elems > FUZZ_MAX_INPUT_ELEMS) return;

  segcam_session *s = (segcam_session *)1;
  st = segcam_session_create(m, h, w, &s);
  if (st) {
    fuzz_check_failure(st, "segcam_session_create");
    if (s) abort();
    return;
  }
  int ndim;
  int64_t dims[SEGCAM_MAX_DIMS];
  st = segcam_session_input_shape(s, &ndim, dims);
  if (st) abort(); /* cannot fail on a created session */
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
  if (n > FUZZ_MAX_INPUT_ELEMS || segcam_session_memory(s) > FUZZ_MAX_SESSION_BYTES) {
    segcam_session_free(s);
    return;
  }
  size_t n_layers = segcam_session_num_layers(s);
  for (size_t i = 0; i < n_layers; i++) {
    segcam_layer L;
    st = segcam_session_layer(s, i, &L);
    if (st)
      fuzz_check_failure(st, "segcam_session_layer");
    else if (!L.name || !L.type)
      abort();
  }
  float *zeros = (float *)calloc(n ? n : 1, sizeof *zeros);
  if (!zeros) abort();
  st = segcam_session_run(s, zeros, n);
  free(zeros);
  if (st) {
    fuzz_check_failure(st, "segcam_session_run");
    segcam_session_free(s);
    return;
  }
  segcam_output o;
  st = segcam_session_output(s, &o);
  if (st) {
    fuzz_check_failure(st, "segcam_session_output");
  } else if (o.height > 0 && o.width > 0 && o.height * o.width <= (1 << 24)) {
    size_t hw = (size_t)(o.height * o.width);
    int32_t *labels = (int32_t *)malloc(hw * sizeof *labels);
    if (!labels) abort();
    st = segcam_session_predict(s, labels, hw);
    if (st) fuzz_check_failure(st, "segcam_session_predict");
    free(labels);
  }
  size_t layer;
  st = segcam_session_find_layer(s, "default", &layer);
  if (st) {
    fuzz_check_failure(st, "segcam_session_find_layer");
    /* no default target (the one-op test models have no conv): explain at the last 4-D layer
     * anyway, so the reverse pass of every op gets fuzzed too */
    for (size_t i = n_layers; st && i-- > 0;) {
      segcam_layer L;
      if (segcam_session_layer(s, i, &L) == SEGCAM_OK && L.ndim == 4) layer = i, st = SEGCAM_OK;
    }
  }
  if (st == SEGCAM_OK) {
    int64_t cls = 0;
    segcam_cam cam; /* default options: the map has the (capped) model input size */
    st = segcam_explain(s, layer, &cls, 1, NULL, &cam);
    if (st) {
      fuzz_check_failure(st, "segcam_explain");
    } else {
      if (cam.map) fuzz_touch(cam.map, (size_t)(cam.height * cam.width));
      if (cam.low_map) fuzz_touch(cam.low_map, (size_t)(cam.low_h * cam.low_w));
    }
    segcam_cam_release(&cam);
  }
  segcam_session_free(s);
}

static inline void fuzz_model_one(const uint8_t *data, size_t size) {
  /* A plan over this is refused by the library itself (graph/session.c); the default bound, the
   * machine's memory, is far above the fuzzer's RSS limit. */
  setenv("SEGCAM_MAX_MEMORY_MB", FUZZ_MAX_MEMORY_MB, 0);
  /* libhdf5 runs in a child first (load/h5_probe.c): stop a child stuck in it well before the
   * fuzzer's own 10 s timeout, so such a file counts as refused, not as a hang of ours */
  setenv("SEGCAM_H5_PROBE_TIMEOUT", "5", 0);
  char path[128];
  fuzz_write_temp(data, size, "model", path, sizeof path);
  segcam_model *m = (segcam_model *)1;
  segcam_status st = segcam_model_load(path, &m);
  if (st) {
    fuzz_check_failure(st, "segcam_model_load");
    if (m) abort();
  } else {
    fuzz_model_run(m);
    segcam_model_free(m);
  }
  segcam_clear_warnings();
}

/* ---- Keras model config, without libhdf5 --------------------------------------------------------
 *
 * The config translator (load/keras_config.c) reached through a real .h5 or .keras file sits
 * behind libhdf5, which corrupt inputs crash first (docs/FUZZING.md), and behind ZIP CRCs.  So
 * this entry feeds it directly.  Input: the model_config JSON text, optionally followed by a NUL
 * byte and a sidecar JSON object
 *   {"keras_version": "2.13.1", "backend": "tensorflow", "format": "keras-h5",
 *    "weights": {"<layer name>": [{"name": "conv2d/kernel:0", "shape": [3,3,1,4]}, ...]}}
 * whose weights the source below makes up (deterministic small values) in the stated shapes.
 * tests/fuzz/make_seeds.py writes such inputs from the real .h5 test models.  The graph is then
 * run and explained exactly like a loaded model. */

#define FUZZ_MAX_WEIGHT_ELEMS ((int64_t)1 << 22)

static inline segcam_status fuzz_weights_load(void *ctx, const kr_layer_ref *path, int depth,
                                              kr_weights *out) {
  memset(out, 0, sizeof *out);
  const cJSON *all = (const cJSON *)ctx;
  const cJSON *list = all && path[depth - 1].name
                          ? cJSON_GetObjectItemCaseSensitive(all, path[depth - 1].name)
                          : NULL;
  int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
  if (n == 0) return SEGCAM_OK;
  if (n > 64) return sc_error(SEGCAM_E_FORMAT, "fuzz: more than 64 weights");
  out->w = (kr_weight *)calloc((size_t)n, sizeof *out->w);
  if (!out->w) abort();
  out->n = n;
  for (int i = 0; i < n; i++) {
    const cJSON *e = cJSON_GetArrayItem(list, i);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    kr_weight *w = &out->w[i];
    int nd = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (nd > SEGCAM_MAX_DIMS) nd = -1;
    int64_t numel = 1;
    for (int k = 0; k < nd; k++) {
      double d = cJSON_GetArrayItem(shape, k)->valuedouble;
      if (!(d >= 1 && d <= FUZZ_MAX_WEIGHT_ELEMS) || numel * (int64_t)d > FUZZ_MAX_WEIGHT_ELEMS) {
        nd = -1;
        break;
      }
      w->dims[k] = (int64_t)d;
      numel *= (int64_t)d;
    }
    if (nd < 0) {
      kr_weights_free(out);
      return sc_error(SEGCAM_E_FORMAT, "fuzz: weight %d of '%s' has a bad shape", i,
                      path[depth - 1].name);
    }
    w->ndim = nd;
    w->name = cJSON_IsString(name) ? sc_strdup(name->valuestring) : NULL;
    w->data = (float *)malloc((size_t)numel * sizeof *w->data);
    if (!w->data || (cJSON_IsString(name) && !w->name)) abort();
    for (int64_t j = 0; j < numel; j++)
      w->data[j] = (float)((j * 7919) % 13 + 1) * 0.05f; /* > 0: variances */
  }
  return SEGCAM_OK;
}

static inline void fuzz_keras_config_one(const uint8_t *data, size_t size) {
  setenv("SEGCAM_MAX_MEMORY_MB", FUZZ_MAX_MEMORY_MB, 0);
  size_t k = 0;
  while (k < size && data[k]) k++;
  char *config = (char *)malloc(k + 1);
  char *side = (char *)malloc(size - k + 1);
  if (!config || !side) abort();
  memcpy(config, data, k);
  config[k] = '\0';
  size_t ns = k < size ? size - k - 1 : 0;
  if (ns) memcpy(side, data + k + 1, ns);
  side[ns] = '\0';
  cJSON *sc = cJSON_Parse(side);
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(sc, "keras_version");
  const cJSON *be = cJSON_GetObjectItemCaseSensitive(sc, "backend");
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(sc, "format");
  kr_info info;
  memset(&info, 0, sizeof info);
  info.path = "fuzz-config.json";
  snprintf(info.version, sizeof info.version, "%s",
           cJSON_IsString(ver) ? ver->valuestring : "2.13.1");
  snprintf(info.backend, sizeof info.backend, "%s", cJSON_IsString(be) ? be->valuestring : "");
  kr_info_parse_version(&info);
  kr_source src = {cJSON_GetObjectItemCaseSensitive(sc, "weights"), fuzz_weights_load};

  segcam_model *m = (segcam_model *)calloc(1, sizeof *m);
  if (!m) abort();
  const char *format =
      cJSON_IsString(fmt) && strcmp(fmt->valuestring, "keras-zip") == 0 ? "keras-zip" : "keras-h5";
  segcam_status st = sc_graph_init(&m->g, info.path, format);
  if (st == SEGCAM_OK) st = sc_keras_build(&m->g, config, &info, &src);
  if (st) {
    fuzz_check_failure(st, "sc_keras_build");
    sc_graph_free(&m->g);
    free(m);
  } else {
    m->layout = m->g.input_layout;
    fuzz_model_run(m);
    segcam_model_free(m);
  }
  cJSON_Delete(sc);
  free(config);
  free(side);
  segcam_clear_warnings();
}

/* ---- images and arrays ----------------------------------------------------------------------- */

static inline void fuzz_image_one(const uint8_t *data, size_t size) {
  char path[128];
  fuzz_write_temp(data, size, "image", path, sizeof path);
  sc_image img;
  memset(&img, 0xab, sizeof img);
  segcam_status st = sc_image_load(path, &img);
  if (st) {
    fuzz_check_failure(st, "sc_image_load");
    return;
  }
  if (img.w <= 0 || img.h <= 0 || img.c < 1 || img.c > 4 || !img.data ||
      img.w * img.h > SC_IMAGE_MAX_PIXELS)
    abort();
  fuzz_touch(img.data, (size_t)(img.w * img.h * img.c));
  sc_image_free(&img);
}

static inline void fuzz_npy_one(const uint8_t *data, size_t size) {
  char path[128];
  fuzz_write_temp(data, size, "array", path, sizeof path);
  sc_npy a;
  memset(&a, 0xab, sizeof a);
  segcam_status st = sc_npy_read(path, &a);
  if (st) {
    fuzz_check_failure(st, "sc_npy_read");
    return;
  }
  if (a.ndim < 0 || a.ndim > SEGCAM_MAX_DIMS) abort();
  size_t n = 1;
  for (int i = 0; i < a.ndim; i++) {
    if (a.shape[i] < 0) abort();
    n *= (size_t)a.shape[i];
  }
  if (n && !a.data) abort();
  if (n) fuzz_touch(a.data, n);
  sc_npy_free(&a);
}

#endif
