/* Real Keras models end to end through the public API, against TensorFlow.js references
 * (tests/data/keras/, written by tools/keras_tfjs_ref.js and checked against an independent
 * float64 NumPy implementation by tools/keras_numpy_ref.py):
 *  - every Keras file in ../shared/models (.h5, .hdf5, .keras; not the neg_ files, whose errors
 *    tests/test_keras_load.c checks) loads; where a reference input exists, the forward output
 *    matches tfjs's (<model>.tfjs.npy) within 1e-4 of the output's scale, as tests/test_models.c
 *    compares ONNX models with onnxruntime;
 *  - for each line of tests/data/keras/cams.txt, Seg-Grad-CAM at that Keras layer with the region
 *    fixed to the reference's mask (REFERENCES.md: argmax regions are rounding-sensitive): the
 *    score, the low-resolution map (1e-4 of its max) and the normalised map (1e-4 absolute); the
 *    region segcam picks itself is compared separately. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "segcam.h"
#include "test.h"

static char g_src[1024], g_models[1200], g_data[1100];

static const char *stem_of(const char *path, char *buf, size_t n) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  snprintf(buf, n, "%s", b);
  char *dot = strrchr(buf, '.');
  if (dot) *dot = '\0';
  return buf;
}

static int is_keras_file(const char *name) {
  size_t l = strlen(name);
  if (strncmp(name, "neg_", 4) == 0) return 0;
  return (l > 3 && strcmp(name + l - 3, ".h5") == 0) ||
         (l > 5 && strcmp(name + l - 5, ".hdf5") == 0) ||
         (l > 6 && strcmp(name + l - 6, ".keras") == 0);
}

static int load_npy(const char *path, sc_npy *a) {
  if (sc_npy_read(path, a) != SEGCAM_OK) {
    CHECK(0, "cannot read %s: %s", path, segcam_last_error());
    return 0;
  }
  return 1;
}

static size_t numel(const sc_npy *a) {
  size_t n = 1;
  for (int i = 0; i < a->ndim; i++) n *= (size_t)a->shape[i];
  return n;
}

static double *to_double(const float *x, size_t n) {
  double *d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

static double max_abs_diff(const float *a, const double *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

/* Opens a session sized for `input` (NHWC, batch 1) and runs it. */
static segcam_session *run_model(segcam_model *m, const sc_npy *input) {
  segcam_input_info info;
  segcam_model_input(m, &info);
  CHECK(info.layout == SEGCAM_LAYOUT_NHWC, "%s: input layout is not NHWC", segcam_model_path(m));
  CHECK(input->ndim == 4, "%s: reference input is not 4-D", segcam_model_path(m));
  if (input->ndim != 4) return NULL;
  segcam_session *s = NULL;
  if (segcam_session_create(m, input->shape[1], input->shape[2], &s)) {
    CHECK(0, "session %s: %s", segcam_model_path(m), segcam_last_error());
    return NULL;
  }
  if (segcam_session_run(s, input->data, numel(input))) {
    CHECK(0, "run %s: %s", segcam_model_path(m), segcam_last_error());
    segcam_session_free(s);
    return NULL;
  }
  return s;
}

/* Returns 1 when a reference was compared. */
static int check_forward(const char *model_path) {
  char stem[256], p[2400];
  stem_of(model_path, stem, sizeof stem);
  segcam_model *m = NULL;
  segcam_status st = segcam_model_load(model_path, &m);
  CHECK(st == SEGCAM_OK, "load %s: %s", model_path, segcam_last_error());
  if (st) return 0;
  snprintf(p, sizeof p, "%s/%s.input.npy", g_data, stem);
  FILE *f = fopen(p, "rb");
  if (!f) { /* no reference input: loading is what is checked */
    printf("  %s: loaded (no reference input)\n", stem);
    segcam_model_free(m);
    return 0;
  }
  fclose(f);
  sc_npy in, ref;
  int compared = 0;
  if (!load_npy(p, &in)) {
    segcam_model_free(m);
    return 0;
  }
  snprintf(p, sizeof p, "%s/%s.tfjs.npy", g_data, stem);
  if (!load_npy(p, &ref)) {
    sc_npy_free(&in);
    segcam_model_free(m);
    return 0;
  }
  segcam_session *s = run_model(m, &in);
  if (s) {
    segcam_output o;
    segcam_session_output(s, &o);
    int same = o.ndim == ref.ndim;
    for (int i = 0; same && i < o.ndim; i++) same = o.shape[i] == ref.shape[i];
    CHECK(same, "%s: output rank %d [%lld, ...] differs from the reference's (rank %d)", stem,
          o.ndim, (long long)o.shape[0], ref.ndim);
    CHECK(o.ndim != 4 || o.layout == SEGCAM_LAYOUT_NHWC, "%s: 4-D output is not NHWC", stem);
    if (same) {
      size_t n = numel(&ref);
      double *r = to_double(ref.data, n), amax = 0;
      for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(r[i]));
      char what[300];
      snprintf(what, sizeof what, "%s forward vs tfjs", stem);
      /* float32 chains in another summation order: 1e-4 of the output's scale (as for ONNX) */
      t_close(what, o.data, r, n, 1e-4 * (amax > 1 ? amax : 1), 1e-4);
      printf("  %s: forward vs tfjs max|d| %.3g (max |out| %.4g, %zu values)\n", stem,
             max_abs_diff(o.data, r, n), amax, n);
      free(r);
      compared = 1;
    }
    segcam_session_free(s);
  }
  sc_npy_free(&in);
  sc_npy_free(&ref);
  segcam_model_free(m);
  return compared;
}

/* One line of cams.txt. */
static void check_cam(const char *line) {
  char model_file[512], layer[256], node[256], fstem[400];
  long long cls, region, lh, lw;
  double score;
  if (sscanf(line, "%511s %255s %lld %lld %255s %399s %lf %lld %lld", model_file, layer, &cls,
             &region, node, fstem, &score, &lh, &lw) != 9) {
    CHECK(0, "bad cams.txt line: %s", line);
    return;
  }
  char path[2048], stem[256], p[2400];
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
  sc_npy in, reg, cam = {0}, low;
  snprintf(p, sizeof p, "%s/%s.input.npy", g_data, stem);
  int ok = load_npy(p, &in);
  snprintf(p, sizeof p, "%s/%s.region.npy", g_data, fstem);
  ok = ok && load_npy(p, &reg);
  /* the generator stores normalised maps only for inputs up to 256x256 (repository size) */
  snprintf(p, sizeof p, "%s/%s.cam.npy", g_data, fstem);
  FILE *fc = fopen(p, "rb");
  int has_cam = fc != NULL;
  if (fc) fclose(fc);
  ok = ok && (!has_cam || load_npy(p, &cam));
  snprintf(p, sizeof p, "%s/%s.low.npy", g_data, fstem);
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
    CHECK(numel(&reg) == hw, "%s: region file has %zu pixels, the output %zu", fstem, numel(&reg),
          hw);
    uint8_t *mask = calloc(hw, 1);
    long long nreg = 0;
    for (size_t i = 0; i < hw && i < numel(&reg); i++) mask[i] = reg.data[i] != 0, nreg += mask[i];
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
      double c_score = c.score;
      CHECK(fabs(c.score - score) <= 1e-4 * fabs(score) + 1e-3, "%s: score %.6f, reference %.6f",
            fstem, c.score, score);
      CHECK(c.low_h == lh && c.low_w == lw, "%s: layer size %lldx%lld, reference %lldx%lld", fstem,
            (long long)c.low_h, (long long)c.low_w, lh, lw);
      CHECK(c.height == in.shape[1] && c.width == in.shape[2], "%s: map %lldx%lld, input %lldx%lld",
            fstem, (long long)c.height, (long long)c.width, (long long)in.shape[1],
            (long long)in.shape[2]);
      size_t nl = (size_t)(lh * lw), nm = (size_t)(c.height * c.width);
      double dl = -1, dm = -1, lmax = 0;
      double *rl = to_double(low.data, nl);
      for (size_t i = 0; i < nl; i++) lmax = fmax(lmax, rl[i]);
      if (c.low_h == lh && c.low_w == lw) {
        snprintf(what, sizeof what, "%s low-res map", fstem);
        t_close(what, c.low_map, rl, nl, 1e-4 * lmax + 1e-12, 0);
        dl = max_abs_diff(c.low_map, rl, nl);
      }
      if (has_cam) {
        CHECK(nm == numel(&cam), "%s: map has %zu pixels, reference %zu", fstem, nm, numel(&cam));
        if (nm == numel(&cam)) {
          double *rc = to_double(cam.data, nm);
          snprintf(what, sizeof what, "%s normalised map", fstem);
          t_close(what, c.map, rc, nm, 1e-4, 0);
          dm = max_abs_diff(c.map, rc, nm);
          free(rc);
        }
      } else { /* no stored map: at least a min-max normalised one */
        float lo = 1, hi = 0;
        for (size_t i = 0; i < nm; i++) lo = fminf(lo, c.map[i]), hi = fmaxf(hi, c.map[i]);
        CHECK(lo == 0 && hi == 1, "%s: normalised map spans [%g, %g]", fstem, lo, hi);
      }
      free(rl);
      segcam_cam_release(&c);
      /* segcam's own region: bound its difference from the reference's */
      long long own = -1;
      opt.region = SEGCAM_REGION_PREDICTED;
      if (segcam_explain(s, li, &k, 1, &opt, &c) == SEGCAM_OK) {
        own = (long long)c.region_pixels;
        CHECK(llabs(own - region) <= 2 + region / 1000, "%s: own region %lld pixels, "
              "reference %lld", fstem, own, region);
        segcam_cam_release(&c);
      } else {
        CHECK(0, "%s: explain (own region): %s", fstem, segcam_last_error());
      }
      printf("  %s: %s class %lld: S %.9g (tfjs %.9g); low map max|d| %.3g (of max %.4g), map "
             "max|d| %s; region %lld px (own %lld)\n", stem, layer, cls, c_score, score, dl, lmax,
             has_cam ? (snprintf(what, sizeof what, "%.3g", dm), what) : "(not stored)", region,
             own);
    }
    free(mask);
    segcam_session_free(s);
  }
  if (ok) {
    sc_npy_free(&in), sc_npy_free(&reg), sc_npy_free(&low);
    if (has_cam) sc_npy_free(&cam);
  }
  segcam_model_free(m);
}

int main(void) {
  snprintf(g_src, sizeof g_src, "%s", t_env("SEGCAM_SRC", "."));
  char def[1100];
  snprintf(def, sizeof def, "%s/../shared/models", g_src);
  snprintf(g_models, sizeof g_models, "%s", t_env("SEGCAM_MODELS", def));
  snprintf(g_data, sizeof g_data, "%s/tests/data/keras", g_src);

  DIR *d = opendir(g_models);
  CHECK(d != NULL, "cannot open %s", g_models);
  int n_keras = 0, n_compared = 0;
  if (d) {
    struct dirent *e;
    char *names[64];
    int nn = 0;
    while ((e = readdir(d)) && nn < 64) {
      if (!is_keras_file(e->d_name)) continue;
      size_t l = strlen(e->d_name);
      names[nn] = malloc(l + 1);
      memcpy(names[nn++], e->d_name, l + 1);
    }
    closedir(d);
    for (int i = 0; i < nn; i++) {
      char p[2300];
      snprintf(p, sizeof p, "%s/%s", g_models, names[i]);
      n_compared += check_forward(p);
      n_keras++;
      free(names[i]);
    }
  }
  CHECK(n_keras >= 10, "expected at least 10 Keras files in %s, found %d", g_models, n_keras);
  CHECK(n_compared >= 10, "expected tfjs references for at least 10 models, found %d",
        n_compared);

  char p[1300];
  snprintf(p, sizeof p, "%s/cams.txt", g_data);
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
  CHECK(n_cams >= 20, "expected at least 20 CAM references, found %d", n_cams);
  TEST_MAIN_END();
}
