/* Keras layers the real model files do not use, end to end through the Keras loaders.
 *
 * For every line `ref file atol rtol` of tests/data/keras_layers/cases.txt this loads <file> (a
 * small model written the way tf.keras 2.15, standalone Keras 2.2.4/2.1.6 or Keras 3 write
 * legacy .h5 and .keras files), runs the forward pass on <ref>.input.npy and compares the output
 * with <ref>.out.npy, then runs the reverse pass with <ref>.seed.npy and compares the gradient
 * with respect to the model input (g->inputs[0], the Keras-order input ahead of the loader's
 * transpose) with <ref>.grad.npy, each within atol + rtol*|ref|.  Files sharing a <ref> hold the
 * same model in different containers and must give bit-identical outputs and gradients.  The
 * public API (segcam_model_load / segcam_session_run) must give the same output as well.
 *
 * References: tools/make_keras_layer_models.py -- TensorFlow.js 4.22 loading each file's Keras 2
 * config, and an explicit NumPy float64 port of TensorFlow's definitions with hand-written
 * adjoints checked by finite differences where tfjs's gradients are wrong; never segcam (see
 * tests/data/keras_layers/README.md).  Layer-level coverage of the loaders' structure is in
 * test_keras_load.c.
 *
 * Environment: SEGCAM_SRC (repository root, default "."), SEGCAM_KERAS_LAYERS_DIR (overrides
 * the data directory), SEGCAM_VERBOSE (one line per file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/session.h"
#include "image/image.h"
#include "load/load.h"
#include "segcam.h"
#include "test.h"

static size_t npy_numel(const sc_npy *a) {
  size_t n = 1;
  for (int i = 0; i < a->ndim; i++) n *= (size_t)a->shape[i];
  return n;
}

static int same_shape(const sc_shape *s, const sc_npy *a) {
  if (s->ndim != a->ndim) return 0;
  for (int i = 0; i < s->ndim; i++)
    if (s->d[i] != a->shape[i]) return 0;
  return 1;
}

static double *to_double(const float *f, size_t n) {
  double *d = malloc((n ? n : 1) * sizeof *d);
  if (!d) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < n; i++) d[i] = f[i];
  return d;
}

/* The four reference arrays of one <ref>. */
typedef struct refs {
  sc_npy in, out, seed, grad;
} refs;

static int read_refs(const char *dir, const char *ref, refs *r) {
  static const char *const suffix[4] = {".input.npy", ".out.npy", ".seed.npy", ".grad.npy"};
  sc_npy *dst[4] = {&r->in, &r->out, &r->seed, &r->grad};
  memset(r, 0, sizeof *r);
  for (int i = 0; i < 4; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s%s", dir, ref, suffix[i]);
    segcam_status st = sc_npy_read(path, dst[i]);
    CHECK(st == SEGCAM_OK, "%s: %s", path, segcam_last_error());
    if (st != SEGCAM_OK) return 0;
  }
  return 1;
}

static void free_refs(refs *r) {
  sc_npy_free(&r->in);
  sc_npy_free(&r->out);
  sc_npy_free(&r->seed);
  sc_npy_free(&r->grad);
}

/* Output and input gradient of one file, kept to compare the containers of one <ref>. */
typedef struct result {
  char ref[128], file[256];
  float *out, *grad;
  size_t n_out, n_grad;
} result;

/* Runs one file; fills res (caller frees) or leaves it empty on failure. */
static int n_1d; /* 1-D models whose output interpretation was checked */

static void run_file(const char *dir, const char *ref, const char *file, double atol, double rtol,
                     const refs *r, result *res) {
  char path[2048], what[512];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  memset(res, 0, sizeof *res);
  snprintf(res->ref, sizeof res->ref, "%s", ref);
  snprintf(res->file, sizeof res->file, "%s", file);
  sc_graph g;
  segcam_status st = sc_load_model(path, &g);
  CHECK(st == SEGCAM_OK, "%s: load: %s", file, segcam_last_error());
  if (st != SEGCAM_OK) return;
  CHECK(g.n_inputs == 1 && g.n_outputs == 1, "%s: %d inputs, %d outputs", file, g.n_inputs,
        g.n_outputs);
  /* the declared input is the Keras-order shape with a free batch */
  sc_shape ishape = g.values[g.inputs[0]].shape;
  int ok = ishape.ndim == r->in.ndim;
  for (int i = 1; ok && i < ishape.ndim; i++) ok = ishape.d[i] == r->in.shape[i];
  char b1[128], b2[128];
  CHECK(ok, "%s: declared input %s does not match the reference input", file,
        sc_shape_str(&ishape, b1, sizeof b1));
  if (!ok) {
    sc_graph_free(&g);
    return;
  }
  ishape.d[0] = 1;
  sc_session *s = NULL;
  st = sc_session_create(&g, &ishape, NULL, 0, &s);
  CHECK(st == SEGCAM_OK, "%s: session: %s", file, segcam_last_error());
  if (st == SEGCAM_OK) st = sc_session_set_input(s, 0, r->in.data, npy_numel(&r->in));
  if (st == SEGCAM_OK) st = sc_session_forward(s);
  CHECK(st == SEGCAM_OK, "%s: forward: %s", file, segcam_last_error());
  const sc_tensor *t = st == SEGCAM_OK ? sc_session_tensor(s, g.outputs[0]) : NULL;
  if (t && t->data) {
    sc_shape os = t->shape;
    CHECK(same_shape(&os, &r->out), "%s: output shape %s, reference %d-D", file,
          sc_shape_str(&os, b2, sizeof b2), r->out.ndim);
    if (same_shape(&os, &r->out)) {
      size_t n = npy_numel(&r->out);
      double *ref_out = to_double(r->out.data, n);
      snprintf(what, sizeof what, "%s: output", file);
      t_close(what, t->data, ref_out, n, atol, rtol);
      free(ref_out);
      res->out = malloc(n * sizeof *res->out);
      if (res->out) memcpy(res->out, t->data, n * sizeof *res->out), res->n_out = n;
      /* reverse pass from the output with the seed to the Keras-order model input */
      size_t ng = npy_numel(&r->grad);
      float *grad = calloc(ng, sizeof *grad);
      const int target = g.inputs[0];
      CHECK(npy_numel(&r->seed) == n && ng == npy_numel(&r->in), "%s: seed/grad sizes", file);
      st = grad ? sc_session_backward(s, r->seed.data, 1, &target, &grad, 0) : SEGCAM_E_NOMEM;
      CHECK(st == SEGCAM_OK, "%s: backward: %s", file, segcam_last_error());
      if (st == SEGCAM_OK) {
        double *ref_grad = to_double(r->grad.data, ng);
        snprintf(what, sizeof what, "%s: input gradient", file);
        t_close(what, grad, ref_grad, ng, atol, rtol);
        free(ref_grad);
        res->grad = grad, res->n_grad = ng;
        grad = NULL;
      }
      free(grad);
    }
  }
  sc_session_free(s);
  sc_graph_free(&g);

  /* the public API on the same file: same output */
  segcam_model *model = NULL;
  segcam_session *ps = NULL;
  st = segcam_model_load(path, &model);
  if (st == SEGCAM_OK) st = segcam_session_create(model, -1, -1, &ps);
  if (st == SEGCAM_OK) st = segcam_session_run(ps, r->in.data, npy_numel(&r->in));
  CHECK(st == SEGCAM_OK, "%s: public API: %s", file, segcam_last_error());
  segcam_output po;
  if (st == SEGCAM_OK && segcam_session_output(ps, &po) == SEGCAM_OK && res->out) {
    size_t n = 1;
    for (int i = 0; i < po.ndim; i++) n *= (size_t)po.shape[i];
    CHECK(n == res->n_out && memcmp(po.data, res->out, n * sizeof *res->out) == 0,
          "%s: the public API's output differs from the session's", file);
    /* a 1-D model's [N, L, K] (channels_last) or [N, K, L] output is a 1 x L map of K classes */
    segcam_input_info ii;
    if (segcam_model_input(model, &ii) == SEGCAM_OK && ii.signal_1d && po.ndim == 3) {
      /* the test models' names say their data_format */
      int cl = strstr(file, "_cf") == NULL;
      CHECK(po.height == 1 && po.width == po.shape[cl ? 1 : 2] &&
                po.classes == po.shape[cl ? 2 : 1] &&
                po.layout == (cl ? SEGCAM_LAYOUT_NHWC : SEGCAM_LAYOUT_NCHW),
            "%s: 1-D output %lldx%lldx%lld read as %lld classes over %lldx%lld", file,
            (long long)po.shape[0], (long long)po.shape[1], (long long)po.shape[2],
            (long long)po.classes, (long long)po.height, (long long)po.width);
      n_1d++;
    }
  }
  segcam_session_free(ps);
  segcam_model_free(model);
}

/* Containers of one model: identical results. */
static void compare_results(const result *a, const result *b) {
  if (!a->out || !b->out) return;
  CHECK(a->n_out == b->n_out && memcmp(a->out, b->out, a->n_out * sizeof *a->out) == 0,
        "%s and %s (model %s) give different outputs", a->file, b->file, a->ref);
  if (a->grad && b->grad)
    CHECK(a->n_grad == b->n_grad && memcmp(a->grad, b->grad, a->n_grad * sizeof *a->grad) == 0,
          "%s and %s (model %s) give different input gradients", a->file, b->file, a->ref);
}

int main(void) {
  char dir[1024], list[1200];
  const char *over = getenv("SEGCAM_KERAS_LAYERS_DIR");
  if (over && *over)
    snprintf(dir, sizeof dir, "%s", over);
  else
    snprintf(dir, sizeof dir, "%s/tests/data/keras_layers", t_env("SEGCAM_SRC", "."));
  int verbose = getenv("SEGCAM_VERBOSE") != NULL;
  snprintf(list, sizeof list, "%s/cases.txt", dir);
  FILE *f = fopen(list, "r");
  CHECK(f != NULL, "cannot open %s", list);
  if (!f) TEST_MAIN_END();
  enum { MAX_FILES = 128 };
  static result res[MAX_FILES];
  int n_res = 0, n_lines = 0;
  char line[1024], cur_ref[128] = "";
  refs r;
  int have_refs = 0;
  while (fgets(line, sizeof line, f)) {
    char ref[128], file[256];
    double atol, rtol;
    if (line[0] == '#' || line[0] == '\n') continue;
    if (sscanf(line, "%127s %255s %lf %lf", ref, file, &atol, &rtol) != 4) {
      CHECK(0, "bad line in cases.txt: %s", line);
      continue;
    }
    n_lines++;
    if (strcmp(ref, cur_ref) != 0) {
      if (have_refs) free_refs(&r);
      have_refs = read_refs(dir, ref, &r);
      snprintf(cur_ref, sizeof cur_ref, "%s", ref);
    }
    if (!have_refs || n_res >= MAX_FILES) continue;
    int fails = t_fail;
    run_file(dir, ref, file, atol, rtol, &r, &res[n_res]);
    for (int i = 0; i < n_res; i++)
      if (strcmp(res[i].ref, ref) == 0) {
        compare_results(&res[i], &res[n_res]);
        break;
      }
    if (verbose || t_fail != fails)
      printf("%-26s %-28s %s\n", ref, file, t_fail != fails ? "FAILED" : "ok");
    n_res++;
  }
  fclose(f);
  if (have_refs) free_refs(&r);
  CHECK(n_lines >= 30, "cases.txt lists only %d files", n_lines);
  for (int i = 0; i < n_res; i++) free(res[i].out), free(res[i].grad);
  CHECK(n_1d >= 4, "only %d 1-D models had their output interpretation checked", n_1d);
  TEST_MAIN_END();
}
