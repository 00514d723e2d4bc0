/* Real models end to end through the public API, against independent references:
 *  - every ONNX file in ../shared/models (and the demo model) loads; its forward output matches
 *    onnxruntime's on the same input (tests/data/models/<model>.ort.npy, tools/ort_ref.js);
 *  - Grad-CAM maps match a PyTorch float64 autograd reference (tools/onnx_torch_ref.py) at two
 *    layers per model, with the region fixed to the reference's (REFERENCES.md: argmax regions
 *    are rounding-sensitive), within 1e-4 on the normalised map; the region chosen by segcam's
 *    own prediction is compared separately. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "segcam.h"
#include "test.h"

static char g_src[1024], g_models[1200];

static const char *stem_of(const char *path, char *buf, size_t n) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  snprintf(buf, n, "%s", b);
  char *dot = strrchr(buf, '.');
  if (dot) *dot = '\0';
  return buf;
}

static int load_npy(const char *path, sc_npy *a) {
  if (sc_npy_read(path, a) != SEGCAM_OK) {
    CHECK(0, "cannot read %s: %s", path, segcam_last_error());
    return 0;
  }
  return 1;
}

static double *to_double(const float *x, size_t n) {
  double *d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

/* Opens a session sized for `input` (model layout, batch 1) and runs it. */
static segcam_session *run_model(segcam_model *m, const sc_npy *input) {
  segcam_input_info info;
  segcam_model_input(m, &info);
  int nd = input->ndim;
  int64_t h = info.layout == SEGCAM_LAYOUT_NCHW ? input->shape[nd - 2] : input->shape[nd - 3];
  int64_t w = info.layout == SEGCAM_LAYOUT_NCHW ? input->shape[nd - 1] : input->shape[nd - 2];
  segcam_session *s = NULL;
  if (segcam_session_create(m, h, w, &s)) {
    CHECK(0, "session %s: %s", segcam_model_path(m), segcam_last_error());
    return NULL;
  }
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)input->shape[i];
  if (segcam_session_run(s, input->data, n)) {
    CHECK(0, "run %s: %s", segcam_model_path(m), segcam_last_error());
    segcam_session_free(s);
    return NULL;
  }
  return s;
}

static void check_forward(const char *model_path) {
  char stem[256], p[2048];
  stem_of(model_path, stem, sizeof stem);
  segcam_model *m = NULL;
  segcam_status st = segcam_model_load(model_path, &m);
  CHECK(st == SEGCAM_OK, "load %s: %s", model_path, segcam_last_error());
  if (st) return;
  snprintf(p, sizeof p, "%s/tests/data/models/%s.input.npy", g_src, stem);
  sc_npy in, ref;
  FILE *f = fopen(p, "rb");
  if (!f) { /* no reference input: loading is what is checked */
    printf("  %s: loaded (no reference input)\n", stem);
    segcam_model_free(m);
    return;
  }
  fclose(f);
  if (!load_npy(p, &in)) return;
  snprintf(p, sizeof p, "%s/tests/data/models/%s.ort.npy", g_src, stem);
  if (!load_npy(p, &ref)) return;
  segcam_session *s = run_model(m, &in);
  if (s) {
    segcam_output o;
    segcam_session_output(s, &o);
    size_t n = 1, nr = 1;
    for (int i = 0; i < o.ndim; i++) n *= (size_t)o.shape[i];
    for (int i = 0; i < ref.ndim; i++) nr *= (size_t)ref.shape[i];
    CHECK(n == nr, "%s: output has %zu values, onnxruntime %zu", stem, n, nr);
    if (n == nr) {
      double *r = to_double(ref.data, n), amax = 0;
      for (size_t i = 0; i < n; i++) amax = fabs(r[i]) > amax ? fabs(r[i]) : amax;
      char what[300];
      snprintf(what, sizeof what, "%s forward vs onnxruntime", stem);
      /* float32 conv chains in a different summation order: 1e-4 of the output's scale */
      t_close(what, o.data, r, n, 1e-4 * (amax > 1 ? amax : 1), 1e-4);
      free(r);
    }
    printf("  %s: forward compared with onnxruntime (%zu values)\n", stem, n);
    segcam_session_free(s);
  }
  sc_npy_free(&in);
  sc_npy_free(&ref);
  segcam_model_free(m);
}

/* One line of cams.txt. */
static void check_cam(const char *line) {
  char model_file[512], layer[256], node[256], fstem[400];
  long long cls, region;
  double score;
  long long lh, lw;
  if (sscanf(line, "%511s %255s %lld %lld %255s %399s %lf %lld %lld", model_file, layer, &cls,
             &region, node, fstem, &score, &lh, &lw) != 9) {
    CHECK(0, "bad cams.txt line: %s", line);
    return;
  }
  char path[2048], stem[256], p[2048];
  if (strncmp(model_file, "../shared/models/", 17) == 0)
    snprintf(path, sizeof path, "%s/%s", g_models, model_file + 17);
  else
    snprintf(path, sizeof path, "%s/%s", g_src, model_file);
  stem_of(path, stem, sizeof stem);
  segcam_model *m = NULL;
  if (segcam_model_load(path, &m)) {
    CHECK(0, "load %s: %s", path, segcam_last_error());
    return;
  }
  sc_npy in, reg, cam, low;
  snprintf(p, sizeof p, "%s/tests/data/models/%s.input.npy", g_src, stem);
  int ok = load_npy(p, &in);
  snprintf(p, sizeof p, "%s/tests/data/models/%s.region.npy", g_src, fstem);
  ok = ok && load_npy(p, &reg);
  snprintf(p, sizeof p, "%s/tests/data/models/%s.cam.npy", g_src, fstem);
  ok = ok && load_npy(p, &cam);
  snprintf(p, sizeof p, "%s/tests/data/models/%s.low.npy", g_src, fstem);
  ok = ok && load_npy(p, &low);
  segcam_session *s = ok ? run_model(m, &in) : NULL;
  size_t li = 0;
  if (s && segcam_session_find_layer(s, layer, &li)) {
    CHECK(0, "%s: layer %s: %s", stem, layer, segcam_last_error());
    segcam_session_free(s);
    s = NULL;
  }
  if (s) {
    segcam_output o;
    segcam_session_output(s, &o);
    size_t hw = (size_t)(o.height * o.width);
    uint8_t *mask = malloc(hw);
    long long nreg = 0;
    for (size_t i = 0; i < hw; i++) mask[i] = reg.data[i] != 0, nreg += mask[i];
    CHECK(nreg == region, "%s: region file has %lld pixels, manifest %lld", fstem, nreg, region);
    segcam_cam_options opt;
    segcam_cam_options_init(&opt);
    opt.region = SEGCAM_REGION_MASK;
    opt.mask = mask;
    int64_t k = cls;
    segcam_cam c;
    segcam_status st = segcam_explain(s, li, &k, 1, &opt, &c);
    CHECK(st == SEGCAM_OK, "%s: explain: %s", fstem, segcam_last_error());
    if (!st) {
      char what[600];
      CHECK(fabs(c.score - score) <= 1e-4 * fabs(score) + 1e-3, "%s: score %.6f, reference %.6f",
            fstem, c.score, score);
      CHECK(c.low_h == lh && c.low_w == lw, "%s: layer size %lldx%lld, reference %lldx%lld", fstem,
            (long long)c.low_h, (long long)c.low_w, lh, lw);
      size_t nl = (size_t)(lh * lw), nm = (size_t)(c.height * c.width);
      double *rl = to_double(low.data, nl), lmax = 0;
      for (size_t i = 0; i < nl; i++) lmax = rl[i] > lmax ? rl[i] : lmax;
      snprintf(what, sizeof what, "%s low-res map", fstem);
      if (c.low_h == lh && c.low_w == lw) t_close(what, c.low_map, rl, nl, 1e-4 * lmax + 1e-12, 0);
      double *rc = to_double(cam.data, nm);
      snprintf(what, sizeof what, "%s normalised map", fstem);
      t_close(what, c.map, rc, nm, 1e-4, 0);
      free(rl);
      free(rc);
      segcam_cam_release(&c);
      /* segcam's own region: report and bound its difference from the float64 one */
      opt.region = SEGCAM_REGION_PREDICTED;
      if (segcam_explain(s, li, &k, 1, &opt, &c) == SEGCAM_OK) {
        long long d = llabs((long long)c.region_pixels - region);
        CHECK(d <= 2 + region / 1000, "%s: own region %lld pixels, reference %lld", fstem,
              (long long)c.region_pixels, region);
        segcam_cam_release(&c);
      }
      printf("  %s: %s class %lld: map compared (%zu px), region %lld px\n", stem, layer, cls, nm,
             region);
    }
    free(mask);
    segcam_session_free(s);
  }
  if (ok) {
    sc_npy_free(&in), sc_npy_free(&reg), sc_npy_free(&cam), sc_npy_free(&low);
  }
  segcam_model_free(m);
}

int main(void) {
  snprintf(g_src, sizeof g_src, "%s", t_env("SEGCAM_SRC", "."));
  char def[1100];
  snprintf(def, sizeof def, "%s/../shared/models", g_src);
  snprintf(g_models, sizeof g_models, "%s", t_env("SEGCAM_MODELS", def));

  /* every ONNX file in the shared folder, and the demo */
  DIR *d = opendir(g_models);
  CHECK(d != NULL, "cannot open %s", g_models);
  int n_onnx = 0;
  if (d) {
    struct dirent *e;
    char *names[64];
    int nn = 0;
    while ((e = readdir(d)) && nn < 64) {
      size_t l = strlen(e->d_name);
      if (l > 5 && strcmp(e->d_name + l - 5, ".onnx") == 0) {
        names[nn] = malloc(l + 1);
        memcpy(names[nn++], e->d_name, l + 1);
      }
    }
    closedir(d);
    for (int i = 0; i < nn; i++) {
      char p[2300];
      snprintf(p, sizeof p, "%s/%s", g_models, names[i]);
      check_forward(p);
      n_onnx++;
      free(names[i]);
    }
  }
  CHECK(n_onnx >= 3, "expected at least 3 ONNX files in %s, found %d", g_models, n_onnx);
  char p[2048];
  snprintf(p, sizeof p, "%s/examples/demo/unet_shapes.onnx", g_src);
  check_forward(p);

  snprintf(p, sizeof p, "%s/tests/data/models/cams.txt", g_src);
  FILE *f = fopen(p, "r");
  CHECK(f != NULL, "cannot open %s", p);
  int n_cams = 0;
  if (f) {
    char line[2048];
    while (fgets(line, sizeof line, f)) {
      if (line[0] == '#' || line[0] == '\n') continue;
      check_cam(line);
      n_cams++;
    }
    fclose(f);
  }
  CHECK(n_cams >= 4, "expected at least 4 CAM references, found %d", n_cams);
  TEST_MAIN_END();
}
