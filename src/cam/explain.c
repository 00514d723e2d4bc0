/* segcam_explain: Seg-Grad-CAM for several classes from one forward pass.
 *
 * Target (CAM_METHODS.md §1): S = sum over the region M of the class-c output, on the logits
 * (before a trailing softmax/sigmoid) unless probabilities are asked for.  M = pixels predicted as
 * c (argmax; for a single-channel output, logit > 0), all pixels, or a caller mask.  A classifier
 * ([1, K] output) uses the class score itself.  An empty M gives a zero map and a warning. */
/* clock_gettime and CLOCK_MONOTONIC are POSIX, hidden by -std=c11 unless asked for (gcc's -fopenmp
 * happened to expose them; clang's does not). */
#define _POSIX_C_SOURCE 200809L

#include <float.h>
#include <math.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "cam/cam.h"
#include "core/error.h"

void segcam_cam_options_init(segcam_cam_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->method = SEGCAM_METHOD_GRADCAM;
  o->region = SEGCAM_REGION_PREDICTED;
  o->resample = SEGCAM_RESAMPLE_BILINEAR;
  o->normalize = SEGCAM_NORM_MINMAX;
}

void segcam_cam_release(segcam_cam *c) {
  if (!c) return;
  free(c->low_map);
  free(c->map);
  c->low_map = c->map = NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Index of output element (class k, pixel i). */
static size_t out_index(const segcam_output *o, int64_t k, size_t i) {
  size_t hw = (size_t)(o->height * o->width);
  return o->layout == SEGCAM_LAYOUT_NCHW ? (size_t)k * hw + i : i * (size_t)o->classes + (size_t)k;
}

segcam_status segcam_explain(segcam_session *ss, size_t layer, const int64_t *classes,
                             size_t n_classes, const segcam_cam_options *opt_in, segcam_cam *cams) {
  if (!ss || !cams || (n_classes && !classes))
    return sc_error(SEGCAM_E_ARG, "segcam_explain: NULL argument");
  const sc_graph *g = &ss->model->g;
  segcam_cam_options opt;
  if (opt_in) opt = *opt_in;
  else segcam_cam_options_init(&opt);
  for (size_t c = 0; c < n_classes; c++) memset(&cams[c], 0, sizeof cams[c]);
  if (!ss->has_input) return sc_error(SEGCAM_E_ARG, "%s: run the model before explaining", g->path);
  if (layer >= (size_t)ss->n_layers)
    return sc_error(SEGCAM_E_ARG, "%s: no layer #%zu", g->path, layer);
  const segcam_output *o = &ss->out;
  int64_t K = o->classes;
  for (size_t c = 0; c < n_classes; c++)
    if (classes[c] < 0 || classes[c] >= K)
      return sc_error(SEGCAM_E_ARG, "%s: class %" PRId64 " is out of range: the model has %" PRId64
                      " output class%s (0..%" PRId64 ")", g->path, classes[c], K, K == 1 ? "" : "es",
                      K - 1);
  if (opt.region == SEGCAM_REGION_MASK && !opt.mask)
    return sc_error(SEGCAM_E_ARG, "segcam_explain: region MASK without a mask");
  const char *lname = g->nodes[ss->layer_node[layer]].name;
  int av = sc_layer_value(ss, layer);
  const sc_tensor *at = sc_session_tensor(ss->s, av);
  if (at->shape.ndim != 4)
    return sc_error(SEGCAM_E_ARG, "%s: layer '%s' has no spatial axes (rank %d); choose a "
                    "convolutional feature map", g->path, lname, at->shape.ndim);
  /* the maps below are [K, h, w]: a layer whose first axis is not a batch of 1 (a Pad or Reshape
   * over axis 0) has more values than that */
  if (at->shape.d[0] != 1)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: layer '%s' has %" PRId64 " on its batch axis for "
                    "an input of batch 1; choose a layer with batch 1", g->path, lname,
                    at->shape.d[0]);
  if (!sc_session_is_kept(ss->s, av)) {
    SC_TRY(sc_session_keep(ss->s, &av, 1));
    SC_TRY(sc_rerun(ss));
    at = sc_session_tensor(ss->s, av);
  }
  int64_t AK = at->shape.d[1], h = at->shape.d[2], w = at->shape.d[3], Z = h * w;
  int64_t H = opt.out_height > 0 ? opt.out_height : o->height;
  int64_t W = opt.out_width > 0 ? opt.out_width : o->width;
  if (o->kind == SEGCAM_OUTPUT_CLASSIFIER) {
    H = opt.out_height > 0 ? opt.out_height : (ss->in_shape.ndim == 4 ? ss->in_shape.d[
        ss->model->layout == SEGCAM_LAYOUT_NCHW ? 2 : 1] : h);
    W = opt.out_width > 0 ? opt.out_width : (ss->in_shape.ndim == 4 ? ss->in_shape.d[
        ss->model->layout == SEGCAM_LAYOUT_NCHW ? 3 : 2] : w);
  }
  if (H <= 0 || W <= 0 || H > 65536 || W > 65536 || H * W > ((int64_t)1 << 28))
    return sc_error(SEGCAM_E_ARG, "segcam_explain: map size %" PRId64 "x%" PRId64 " is invalid",
                    H, W);

  size_t n_out = (size_t)sc_shape_numel(&sc_session_tensor(ss->s, ss->out_value)->shape);
  size_t hw = (size_t)(o->height * o->width);
  float *seed = sc_calloc_n(n_out, sizeof *seed);
  float *grad = sc_calloc_n((size_t)(AK * Z), sizeof *grad);
  int32_t *labels = sc_calloc_n(hw, sizeof *labels);
  segcam_status st = (!seed || !grad || !labels) ? SEGCAM_E_NOMEM : SEGCAM_OK;
  if (!st && o->kind != SEGCAM_OUTPUT_CLASSIFIER) st = segcam_session_predict(ss, labels, hw);
  int use_logits = !opt.use_probabilities;
  int kind, fa = sc_session_final_activation(ss->s, &kind);
  /* the logits share the output's coordinates when the activation produces the output itself */
  const float *score_src = o->data;
  /* S on the logits: the activation's input may sit behind Transpose/Reshape nodes (a Keras
   * model's NCHW -> NHWC output transpose), so S = <seed mapped back to the logits, logits>,
   * the mapped seed being the reverse pass's gradient at the logits (activation skipped). */
  int lv = -1, n_t = 1, tv[2] = {av, -1};
  float *glog = NULL;
  if (!st && use_logits && fa >= 0) {
    lv = g->nodes[fa].in[0];
    if (!sc_session_is_kept(ss->s, lv)) {
      st = sc_session_keep(ss->s, &lv, 1);
      if (!st) st = sc_rerun(ss);
      at = sc_session_tensor(ss->s, av);
    }
    if (!st && lv != av) {
      glog = sc_calloc_n((size_t)sc_shape_numel(&sc_session_tensor(ss->s, lv)->shape),
                         sizeof *glog);
      if (!glog) st = SEGCAM_E_NOMEM;
      tv[1] = lv, n_t = 2;
    }
  }
  float glo = FLT_MAX, ghi = -FLT_MAX;
  for (size_t c = 0; !st && c < n_classes; c++) {
    segcam_cam *cam = &cams[c];
    int64_t k = classes[c];
    cam->class_index = k;
    cam->low_h = h, cam->low_w = w, cam->height = H, cam->width = W;
    cam->low_map = sc_calloc_n((size_t)Z, sizeof(float));
    cam->map = sc_calloc_n((size_t)(H * W), sizeof(float));
    if (!cam->low_map || !cam->map) {
      st = SEGCAM_E_NOMEM;
      break;
    }
    memset(seed, 0, n_out * sizeof *seed);
    int64_t count = 0;
    double score = 0;
    if (o->kind == SEGCAM_OUTPUT_CLASSIFIER) {
      seed[k] = 1, count = 1, score = score_src[k];
    } else {
      for (size_t i = 0; i < hw; i++) {
        int in = opt.region == SEGCAM_REGION_ALL    ? 1
                 : opt.region == SEGCAM_REGION_MASK ? opt.mask[i] != 0
                 : o->kind == SEGCAM_OUTPUT_BINARY  ? labels[i] == 1
                                                    : labels[i] == k;
        if (!in) continue;
        size_t e = out_index(o, k, i);
        seed[e] = 1;
        score += score_src[e];
        count++;
      }
    }
    cam->region_pixels = count;
    cam->score = score;
    if (count == 0) {
      sc_warn("class %" PRId64 ": no pixel is in the target region (the class is not predicted); "
              "its map is all zeros", k);
      glo = glo < 0 ? glo : 0, ghi = ghi > 0 ? ghi : 0;
      continue;
    }
    double t0 = now_s();
    float *gbufs[2] = {grad, glog};
    st = sc_session_backward(ss->s, seed, n_t, tv, gbufs, use_logits);
    cam->seconds_backward = now_s() - t0;
    if (st) break;
    if (lv >= 0) {
      const sc_tensor *lt = sc_session_tensor(ss->s, lv);
      const float *gl = lv == av ? grad : glog;
      double sl = 0;
      const float *ld = lt->data;
      for (int64_t e = 0; e < sc_shape_numel(&lt->shape); e++) sl += (double)gl[e] * ld[e];
      cam->score = sl;
    }
    st = sc_cam_method(opt.method, at->data, grad, AK, Z, cam->low_map);
    if (!st) st = sc_cam_resample(cam->low_map, h, w, cam->map, H, W, opt.resample);
    if (st) break;
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int64_t i = 0; i < H * W; i++) {
      if (!isfinite(cam->map[i])) {
        st = sc_error(SEGCAM_E_INTERNAL, "%s: layer '%s': the map for class %" PRId64
                      " is not finite", g->path, lname, k);
        break;
      }
      lo = cam->map[i] < lo ? cam->map[i] : lo;
      hi = cam->map[i] > hi ? cam->map[i] : hi;
    }
    cam->raw_min = lo, cam->raw_max = hi;
    glo = lo < glo ? lo : glo, ghi = hi > ghi ? hi : ghi;
    if (!st && opt.normalize != SEGCAM_NORM_SHARED)
      sc_cam_normalize(cam->map, H * W, opt.normalize, lo, hi);
  }
  if (!st && opt.normalize == SEGCAM_NORM_SHARED)
    for (size_t c = 0; c < n_classes; c++)
      if (cams[c].region_pixels) sc_cam_normalize(cams[c].map, H * W, SEGCAM_NORM_MINMAX, glo, ghi);
  free(seed);
  free(grad);
  free(glog);
  free(labels);
  if (st)
    for (size_t c = 0; c < n_classes; c++) segcam_cam_release(&cams[c]);
  return st;
}
