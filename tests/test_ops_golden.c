/* Golden per-op tests through the ONNX loader and the session: for every case listed in
 * tests/data/ops/cases.txt, loads <case>.onnx (one ONNX node), runs the forward pass on
 * <case>.in<i>.npy and the reverse pass with <case>.seed.npy, and compares the output and the
 * gradient of every graph input with the PyTorch float64 references <case>.out.npy and
 * <case>.grad<i>.npy under the case's atol/rtol.
 *
 * The references come from tools/gen_op_refs.py (PyTorch autograd, ONNX semantics; forward
 * outputs also checked against onnxruntime by `node tools/ort_ref.js --ops`), never from segcam.
 * This test does not check hostile inputs or error paths (the per-op unit tests do).
 *
 * Environment: SEGCAM_SRC (repository root, default "."), SEGCAM_OPS_DIR (overrides the data
 * directory), SEGCAM_OPS_ONLY (run only the case of that name), SEGCAM_VERBOSE (one line per
 * case). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/session.h"
#include "image/image.h"
#include "load/load.h"
#include "test.h"

#define MAX_INPUTS 4

static double *to_double(const float *f, size_t n) {
  double *d = malloc((n ? n : 1) * sizeof *d);
  if (!d) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  for (size_t i = 0; i < n; i++) d[i] = f[i];
  return d;
}

static size_t npy_numel(const sc_npy *a) {
  size_t n = 1;
  for (int i = 0; i < a->ndim; i++) n *= (size_t)a->shape[i];
  return n;
}

/* Shape of a value (session tensor) equal to the shape of a reference array. */
static int same_shape(const sc_shape *s, const sc_npy *a) {
  if (s->ndim != a->ndim) return 0;
  for (int i = 0; i < s->ndim; i++)
    if (s->d[i] != a->shape[i]) return 0;
  return 1;
}

static const char *npy_shape_str(const sc_npy *a, char *buf, size_t size) {
  sc_shape s = {0};
  s.ndim = a->ndim;
  for (int i = 0; i < a->ndim && i < SEGCAM_MAX_DIMS; i++) s.d[i] = a->shape[i];
  return sc_shape_str(&s, buf, size);
}

/* Reads <dir>/<name><suffix>; a missing or unreadable file is a test failure. */
static int read_ref(const char *dir, const char *name, const char *suffix, sc_npy *out) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
  segcam_status st = sc_npy_read(path, out);
  CHECK(st == SEGCAM_OK, "%s: %s", path, segcam_last_error());
  return st == SEGCAM_OK;
}

/* Compares a float buffer of shape `shape` with a reference array; returns 1 when it passes. */
static int compare(const char *what, const sc_shape *shape, const float *got, const sc_npy *ref,
                   double atol, double rtol) {
  char b1[128], b2[128];
  if (!same_shape(shape, ref)) {
    CHECK(0, "%s: shape %s, reference %s", what, sc_shape_str(shape, b1, sizeof b1),
          npy_shape_str(ref, b2, sizeof b2));
    return 0;
  }
  size_t n = npy_numel(ref);
  double *r = to_double(ref->data, n);
  int ok = t_close(what, got, r, n, atol, rtol);
  free(r);
  return ok;
}

static void run_case(const char *dir, const char *name, int n_in, double atol, double rtol) {
  char path[2048], what[320];
  sc_graph g;
  memset(&g, 0, sizeof g);
  sc_session *s = NULL;
  sc_npy in[MAX_INPUTS], out, seed, grad;
  float *grads[MAX_INPUTS] = {0};
  int n_read = 0, fails_before = t_fail;
  memset(in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  memset(&seed, 0, sizeof seed);
  memset(&grad, 0, sizeof grad);

  snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
  segcam_status st = sc_load_model(path, &g);
  CHECK(st == SEGCAM_OK, "%s: load: %s", name, segcam_last_error());
  if (st != SEGCAM_OK) return;
  CHECK(g.n_inputs == n_in && g.n_outputs == 1, "%s: graph has %d inputs, %d outputs; want %d, 1",
        name, g.n_inputs, g.n_outputs, n_in);
  if (g.n_inputs != n_in || n_in > MAX_INPUTS || g.n_outputs != 1) goto done;

  sc_shape shapes[MAX_INPUTS];
  for (int i = 0; i < n_in; i++) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".in%d.npy", i);
    if (!read_ref(dir, name, suffix, &in[i])) goto done;
    n_read++;
    memset(&shapes[i], 0, sizeof shapes[i]);
    shapes[i].ndim = in[i].ndim;
    for (int k = 0; k < in[i].ndim; k++) shapes[i].d[k] = in[i].shape[k];
  }

  st = sc_session_create(&g, shapes, NULL, 0, &s);
  CHECK(st == SEGCAM_OK, "%s: session: %s", name, segcam_last_error());
  if (st != SEGCAM_OK) goto done;
  for (int i = 0; i < n_in; i++) {
    st = sc_session_set_input(s, i, in[i].data, npy_numel(&in[i]));
    CHECK(st == SEGCAM_OK, "%s: set input %d: %s", name, i, segcam_last_error());
    if (st != SEGCAM_OK) goto done;
  }
  st = sc_session_forward(s);
  CHECK(st == SEGCAM_OK, "%s: forward: %s", name, segcam_last_error());
  if (st != SEGCAM_OK) goto done;

  /* forward */
  if (!read_ref(dir, name, ".out.npy", &out)) goto done;
  const sc_tensor *y = sc_session_tensor(s, g.outputs[0]);
  CHECK(y && y->data && y->dtype == SC_F32, "%s: no float output data after the run", name);
  if (!y || !y->data || y->dtype != SC_F32) goto done;
  snprintf(what, sizeof what, "%s output", name);
  if (!compare(what, &y->shape, y->data, &out, atol, rtol)) goto done;

  /* reverse: gradient of sum(seed * y) with respect to every graph input.  The final op is not
   * treated as a logit-producing activation here (through_final_activation = 0): its own
   * backward is under test. */
  if (!read_ref(dir, name, ".seed.npy", &seed)) goto done;
  for (int i = 0; i < n_in; i++) {
    grads[i] = calloc(npy_numel(&in[i]), sizeof(float));
    if (!grads[i]) {
      fprintf(stderr, "out of memory\n");
      exit(2);
    }
  }
  st = sc_session_backward(s, seed.data, n_in, g.inputs, grads, 0);
  CHECK(st == SEGCAM_OK, "%s: backward: %s", name, segcam_last_error());
  if (st != SEGCAM_OK) goto done;
  for (int i = 0; i < n_in; i++) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".grad%d.npy", i);
    if (!read_ref(dir, name, suffix, &grad)) goto done;
    snprintf(what, sizeof what, "%s d/d(input %d)", name, i);
    compare(what, &shapes[i], grads[i], &grad, atol, rtol);
    sc_npy_free(&grad);
  }

done:
  if (t_fail > fails_before)
    fprintf(stderr, "  ^ case %s (references: tools/gen_op_refs.py)\n", name);
  else if (getenv("SEGCAM_VERBOSE"))
    printf("ok %s\n", name);
  for (int i = 0; i < MAX_INPUTS; i++) free(grads[i]);
  for (int i = 0; i < n_read; i++) sc_npy_free(&in[i]);
  sc_npy_free(&out);
  sc_npy_free(&seed);
  sc_npy_free(&grad);
  sc_session_free(s);
  sc_graph_free(&g);
}

int main(void) {
  char dir[1536], list[2048], line[512];
  const char *ops_dir = getenv("SEGCAM_OPS_DIR");
  if (ops_dir && *ops_dir)
    snprintf(dir, sizeof dir, "%s", ops_dir);
  else
    snprintf(dir, sizeof dir, "%s/tests/data/ops", t_env("SEGCAM_SRC", "."));
  const char *only = getenv("SEGCAM_OPS_ONLY");

  snprintf(list, sizeof list, "%s/cases.txt", dir);
  FILE *f = fopen(list, "r");
  CHECK(f != NULL, "cannot open %s (set SEGCAM_SRC to the repository root)", list);
  if (!f) TEST_MAIN_END();
  int n_cases = 0, n_run = 0;
  while (fgets(line, sizeof line, f)) {
    char name[256];
    int n_in;
    double atol, rtol;
    if (line[0] == '#' || line[0] == '\n') continue;
    if (sscanf(line, "%255s %d %lf %lf", name, &n_in, &atol, &rtol) != 4) {
      CHECK(0, "%s: malformed line: %s", list, line);
      continue;
    }
    n_cases++;
    if (only && *only && strcmp(only, name) != 0) continue;
    run_case(dir, name, n_in, atol, rtol);
    n_run++;
  }
  fclose(f);
  CHECK(n_cases > 0, "%s lists no cases", list);
  CHECK(n_run > 0, "no case matched SEGCAM_OPS_ONLY=%s", only ? only : "");
  printf("%d of %d op cases run\n", n_run, n_cases);
  TEST_MAIN_END();
}
