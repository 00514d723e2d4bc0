/* `segcam explain`: Seg-Grad-CAM maps for the requested classes of each image, from one forward
 * pass per image (segcam_explain), written as overlay and heatmap PNGs, raw .npy maps and one
 * summary.json.  Maps are computed at the original image size so overlays line up with the
 * user's pixels.  The CAM itself is the library's; this file only chooses options and writes. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

typedef struct explain_opts {
  const char *layer; /* query for segcam_session_find_layer */
  int all_classes;
  int64_t *classes; /* parsed list (when !all_classes) */
  size_t n_classes;
  segcam_cam_options cam;
  int region_given;
  const char *mask_path;
  sc_image mask; /* --mask, as loaded */
  sc_colormap cmap;
  float alpha;
  const char *method_name, *upsample_name, *normalize_name, *region_name;
} explain_opts;

static const struct {
  const char *name;
  segcam_method m;
} METHODS[] = {{"gradcam", SEGCAM_METHOD_GRADCAM},
               {"hirescam", SEGCAM_METHOD_HIRESCAM},
               {"gradcam-elementwise", SEGCAM_METHOD_GRADCAM_ELEMENTWISE},
               {"xgradcam", SEGCAM_METHOD_XGRADCAM},
               {"layercam", SEGCAM_METHOD_LAYERCAM},
               {"gradcam++", SEGCAM_METHOD_GRADCAMPP}};

/* "all", or comma-separated class indices (duplicates dropped, order kept). */
static int parse_classes(const char *s, explain_opts *o) {
  if (strcmp(s, "all") == 0) {
    o->all_classes = 1;
    return CLI_OK;
  }
  size_t cap = 1;
  for (const char *c = s; *c; c++) cap += *c == ',';
  o->classes = calloc(cap, sizeof *o->classes);
  if (!o->classes) return cli_error("out of memory");
  const char *c = s;
  for (;;) {
    const char *e = strchr(c, ',');
    size_t len = e ? (size_t)(e - c) : strlen(c);
    char buf[32];
    long v;
    if (len == 0 || len >= sizeof buf)
      return cli_usage("explain", "--class '%s': give an index, a comma-separated list or 'all'",
                       s);
    memcpy(buf, c, len);
    buf[len] = '\0';
    if (!cli_parse_int(buf, &v) || v < 0)
      return cli_usage("explain", "--class '%s': '%s' is not a class index (0, 1, 2, ...)", s, buf);
    int dup = 0;
    for (size_t i = 0; i < o->n_classes; i++) dup |= o->classes[i] == v;
    if (!dup) o->classes[o->n_classes++] = v;
    if (!e) break;
    c = e + 1;
  }
  return CLI_OK;
}

static int parse_enum(const char *opt, const char *val, const char *const *names, int n, int *out) {
  for (int i = 0; i < n; i++)
    if (strcmp(val, names[i]) == 0) return *out = i, CLI_OK;
  char list[256];
  size_t k = 0;
  for (int i = 0; i < n && k < sizeof list; i++)
    k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
  return cli_usage("explain", "%s '%s': use one of %s", opt, val, list);
}

static void add_warning(void *ctx, const char *msg) {
  cJSON_AddItemToArray((cJSON *)ctx, cJSON_CreateString(msg));
}

/* The layer and class checks that depend only on the model: done once per session, and fatal
 * (every image would fail the same way). */
static int check_session(cli_model *m, explain_opts *eo, size_t *layer, segcam_layer *L,
                         int64_t **classes, size_t *n_classes) {
  if (segcam_session_find_layer(m->ss, eo->layer, layer)) return cli_lib_error();
  if (segcam_session_layer(m->ss, *layer, L)) return cli_lib_error();
  if (L->ndim != 4) {
    char sh[128];
    cli_dims_str(sh, sizeof sh, L->shape, L->ndim);
    return cli_error("%s: layer '%s' (%s, output %s) has no spatial axes; choose a convolutional "
                     "feature map (see: segcam layers %s)",
                     m->path, L->name, L->type, sh, m->path);
  }
  segcam_output o;
  if (segcam_session_output(m->ss, &o)) return cli_lib_error();
  int64_t K = o.classes;
  if (eo->all_classes) {
    free(*classes);
    *classes = calloc((size_t)K, sizeof **classes);
    if (!*classes) return cli_error("out of memory");
    for (int64_t k = 0; k < K; k++) (*classes)[k] = k;
    *n_classes = (size_t)K;
    return CLI_OK;
  }
  for (size_t i = 0; i < eo->n_classes; i++)
    if (eo->classes[i] >= K)
      return cli_error(
          "%s: class %lld is out of range: the model has %lld output class%s "
          "(0..%lld)%s",
          m->path, (long long)eo->classes[i], (long long)K, K == 1 ? "" : "es", (long long)(K - 1),
          o.kind == SEGCAM_OUTPUT_BINARY ? "; a single-channel output has class 0" : "");
  if (!*classes) {
    *classes = calloc(eo->n_classes, sizeof **classes);
    if (!*classes) return cli_error("out of memory");
    memcpy(*classes, eo->classes, eo->n_classes * sizeof **classes);
    *n_classes = eo->n_classes;
  }
  return CLI_OK;
}

static char *out_name(const char *stem, int64_t k, const char *suffix) {
  size_t n = strlen(stem) + strlen(suffix) + 32;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s.class%lld.%s", stem, (long long)k, suffix);
  return s;
}

/* Writes one class's files; fills `files` with their names. */
static int write_class(const char *out_dir, const char *stem, const cli_image *img,
                       const segcam_cam *cam, const explain_opts *eo, cJSON *files) {
  int64_t H = cam->height, W = cam->width, n = H * W;
  int rc = CLI_OK;
  char *nm[3] = {out_name(stem, cam->class_index, "overlay.png"),
                 out_name(stem, cam->class_index, "heatmap.png"),
                 out_name(stem, cam->class_index, "npy")};
  char *path[3] = {NULL, NULL, NULL};
  float *disp = malloc((size_t)n * sizeof *disp);
  uint8_t *heat = malloc((size_t)n * 3), *over = malloc((size_t)n * 3);
  for (int i = 0; i < 3; i++) path[i] = nm[i] ? cli_join(out_dir, nm[i]) : NULL;
  if (!disp || !heat || !over || !path[0] || !path[1] || !path[2]) {
    rc = cli_error("%s: out of memory", img->path);
    goto done;
  }
  const int64_t shape[2] = {H, W};
  if (sc_npy_write_f32(path[2], cam->map, shape, 2)) {
    rc = cli_lib_error();
    goto done;
  }
  /* raw maps (--normalize none) are drawn min-max scaled; the .npy keeps the raw values */
  float lo = 0, hi = 1;
  if (eo->cam.normalize == SEGCAM_NORM_NONE) {
    lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++)
      lo = cam->map[i] < lo ? cam->map[i] : lo, hi = cam->map[i] > hi ? cam->map[i] : hi;
    if (!(hi > lo)) lo = 0, hi = 1;
  }
  for (int64_t i = 0; i < n; i++) disp[i] = (cam->map[i] - lo) / (hi - lo);
  sc_colormap_apply(eo->cmap, disp, n, heat);
  if (img->display.h != H || img->display.w != W) {
    rc = cli_error("%s: internal: map %lldx%lld but image %lldx%lld", img->path, (long long)H,
                   (long long)W, (long long)img->display.h, (long long)img->display.w);
    goto done;
  }
  sc_overlay(heat, img->display.data, n, img->display.c, eo->alpha, over);
  if (sc_png_write(path[0], over, W, H, 3) || sc_png_write(path[1], heat, W, H, 3)) {
    rc = cli_lib_error();
    goto done;
  }
  cJSON_AddStringToObject(files, "overlay", nm[0]);
  cJSON_AddStringToObject(files, "heatmap", nm[1]);
  cJSON_AddStringToObject(files, "npy", nm[2]);
done:
  for (int i = 0; i < 3; i++) free(nm[i]), free(path[i]);
  free(disp);
  free(heat);
  free(over);
  return rc;
}

/* Nonzero pixels of the --mask image (any colour channel; alpha ignored, so an opaque RGBA mask
 * works), nearest-resized to the model output grid. */
static uint8_t *mask_at(const sc_image *mk, int64_t oh, int64_t ow) {
  uint8_t *r = malloc((size_t)(oh * ow));
  if (!r) return NULL;
  int64_t colour = mk->c == 2 || mk->c == 4 ? mk->c - 1 : mk->c;
  for (int64_t y = 0; y < oh; y++) {
    int64_t sy = cli_nearest(y, mk->h, oh);
    for (int64_t x = 0; x < ow; x++) {
      const float *px = mk->data + (sy * mk->w + cli_nearest(x, mk->w, ow)) * mk->c;
      int on = 0;
      for (int64_t k = 0; k < colour; k++) on |= px[k] != 0.0f;
      r[y * ow + x] = (uint8_t)on;
    }
  }
  return r;
}

/* --mask: a PNG/JPEG, or a .npy array [H,W], [H,W,1] or [1,H,W] (read as a 1-channel image). */
static int load_mask(const char *path, sc_image *out) {
  if (!cli_is_npy(path)) return sc_image_load(path, out) ? cli_lib_error() : CLI_OK;
  sc_npy a;
  if (sc_npy_read(path, &a)) return cli_lib_error();
  int64_t h = -1, w = -1;
  if (a.ndim == 2)
    h = a.shape[0], w = a.shape[1];
  else if (a.ndim == 3 && a.shape[2] == 1)
    h = a.shape[0], w = a.shape[1];
  else if (a.ndim == 3 && a.shape[0] == 1)
    h = a.shape[1], w = a.shape[2];
  if (h <= 0 || w <= 0) {
    char sh[160];
    cli_dims_str(sh, sizeof sh, a.shape, a.ndim);
    sc_npy_free(&a);
    return cli_error("%s: a mask array must be [H,W], [H,W,1] or [1,H,W], not %s", path, sh);
  }
  out->h = h, out->w = w, out->c = 1;
  out->data = a.data; /* ownership moves to the image (both are malloc'ed float arrays) */
  return CLI_OK;
}

/* Fraction of the (normalised) map's sum inside the region, the region being taken on the model
 * output grid and mapped to the map's pixels by nearest neighbour.  -1 when undefined. */
static double energy_in_region(const segcam_cam *cam, const segcam_output *o,
                               const explain_opts *eo, const int32_t *labels, const uint8_t *mask) {
  if (o->kind == SEGCAM_OUTPUT_CLASSIFIER) return -1;
  double in = 0, all = 0;
  for (int64_t y = 0; y < cam->height; y++) {
    int64_t sy = cli_nearest(y, o->height, cam->height);
    for (int64_t x = 0; x < cam->width; x++) {
      size_t s = (size_t)(sy * o->width + cli_nearest(x, o->width, cam->width));
      int r = eo->cam.region == SEGCAM_REGION_ALL    ? 1
              : eo->cam.region == SEGCAM_REGION_MASK ? mask[s] != 0
              : o->kind == SEGCAM_OUTPUT_BINARY      ? labels[s] == 1
                                                     : labels[s] == cam->class_index;
      double v = cam->map[y * cam->width + x];
      all += v;
      if (r) in += v;
    }
  }
  return all > 0 ? in / all : -1;
}

static int explain_image(cli_model *m, explain_opts *eo, const cli_image *img, size_t layer,
                         const int64_t *classes, size_t n_classes, const char *out_dir,
                         const char *stem, const cli_names *names, cJSON *jimg) {
  segcam_output o;
  if (segcam_session_output(m->ss, &o)) return cli_lib_error();
  segcam_cam_options opt = eo->cam;
  opt.out_height = img->h, opt.out_width = img->w;
  uint8_t *mask = NULL;
  int32_t *labels = NULL;
  segcam_cam *cams = calloc(n_classes, sizeof *cams);
  size_t ohw = (size_t)(o.height * o.width);
  int rc = CLI_OK;
  if (!cams) return cli_error("%s: out of memory", img->path);
  if (opt.region == SEGCAM_REGION_MASK) {
    mask = mask_at(&eo->mask, o.height, o.width);
    if (!mask) {
      free(cams);
      return cli_error("%s: out of memory", eo->mask_path);
    }
    opt.mask = mask;
  }
  double t0 = cli_now();
  if (segcam_explain(m->ss, layer, classes, n_classes, &opt, cams)) {
    rc = cli_lib_error();
    goto done;
  }
  double sec_explain = cli_now() - t0;
  if (o.kind != SEGCAM_OUTPUT_CLASSIFIER) {
    labels = malloc(ohw * sizeof *labels);
    if (!labels || segcam_session_predict(m->ss, labels, ohw)) {
      rc = labels ? cli_lib_error() : cli_error("%s: out of memory", img->path);
      goto done;
    }
  }
  segcam_layer L;
  if (segcam_session_layer(m->ss, layer, &L)) {
    rc = cli_lib_error();
    goto done;
  }
  cJSON_AddItemToObject(jimg, "layer_shape", cli_json_dims(L.shape, L.ndim));
  cJSON_AddItemToObject(jimg, "output_shape", cli_json_dims(o.shape, o.ndim));
  t0 = cli_now();
  cJSON *jc = cJSON_AddArrayToObject(jimg, "classes");
  for (size_t c = 0; c < n_classes && !rc; c++) {
    const segcam_cam *cam = &cams[c];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(jc, e);
    int64_t k = cam->class_index;
    const char *nm = cli_name(names, k);
    cJSON_AddNumberToObject(e, "index", (double)k);
    if (nm)
      cJSON_AddStringToObject(e, "name", nm);
    else
      cJSON_AddNullToObject(e, "name");
    cJSON_AddNumberToObject(e, "region_pixels", (double)cam->region_pixels);
    cJSON_AddNumberToObject(e, "score", cam->score);
    cJSON_AddNumberToObject(e, "raw_min", cam->raw_min);
    cJSON_AddNumberToObject(e, "raw_max", cam->raw_max);
    const int64_t low[2] = {cam->low_h, cam->low_w};
    cJSON_AddItemToObject(e, "low_res_shape", cli_json_dims(low, 2));
    double sum = 0;
    int64_t n = cam->height * cam->width;
    for (int64_t i = 0; i < n; i++) sum += cam->map[i];
    cJSON_AddNumberToObject(e, "map_mean", n ? sum / (double)n : 0);
    double en = energy_in_region(cam, &o, eo, labels, mask);
    if (en >= 0)
      cJSON_AddNumberToObject(e, "energy_in_region", en);
    else
      cJSON_AddNullToObject(e, "energy_in_region");
    cJSON_AddNumberToObject(e, "seconds_backward", cam->seconds_backward);
    cJSON *files = cJSON_AddObjectToObject(e, "files");
    cJSON *warn = cJSON_AddArrayToObject(e, "warnings");
    if (cam->region_pixels == 0)
      cJSON_AddItemToArray(
          warn, cJSON_CreateString(opt.region == SEGCAM_REGION_MASK
                                       ? "empty region: the mask selects no output pixel; the "
                                         "map is all zeros"
                                       : "empty region: no pixel is predicted as this class; "
                                         "the map is all zeros"));
    rc = write_class(out_dir, stem, img, cam, eo, files);
    if (rc) break;
    printf("%s: class %lld", img->path, (long long)k);
    if (nm) printf(" (%s)", nm);
    if (o.kind == SEGCAM_OUTPUT_CLASSIFIER)
      printf(": score %.5g", cam->score);
    else
      printf(": region %lld px, score %.5g", (long long)cam->region_pixels, cam->score);
    if (en >= 0) printf(", energy in region %.3f", en);
    printf(" -> %s/%s.class%lld.*\n", out_dir, stem, (long long)k);
  }
  if (!rc) {
    cJSON *js = cJSON_AddObjectToObject(jimg, "seconds");
    cJSON_AddNumberToObject(js, "load", img->sec_load);
    cJSON_AddNumberToObject(js, "preprocess", img->sec_preprocess);
    cJSON_AddNumberToObject(js, "session", img->sec_session);
    cJSON_AddNumberToObject(js, "forward", img->sec_forward);
    cJSON_AddNumberToObject(js, "explain", sec_explain);
    cJSON_AddNumberToObject(js, "write", cli_now() - t0);
  }
done:
  for (size_t c = 0; c < n_classes; c++) segcam_cam_release(&cams[c]);
  free(cams);
  free(mask);
  free(labels);
  return rc;
}

static void layer_json(cJSON *root, const char *query, size_t index, const segcam_layer *L) {
  cJSON *jl = cJSON_AddObjectToObject(root, "layer");
  cJSON_AddStringToObject(jl, "query", query);
  cJSON_AddNumberToObject(jl, "index", (double)index);
  cJSON_AddStringToObject(jl, "name", L->name);
  cJSON_AddStringToObject(jl, "type", L->type);
  cJSON_AddItemToObject(jl, "shape", cli_json_dims(L->shape, L->ndim));
  cJSON *r = cJSON_AddArrayToObject(jl, "roles");
  static const char *const rn[] = {"default", "candidate", "bottleneck", "head", "output"};
  for (int i = 0; i < 5; i++)
    if (L->roles & (1u << i)) cJSON_AddItemToArray(r, cJSON_CreateString(rn[i]));
}

int cli_cmd_explain(int argc, char **argv) {
  enum {
    O_HELP = 1,
    O_MODEL,
    O_IMAGE,
    O_OUT,
    O_NAMES,
    O_CLASS,
    O_LAYER,
    O_METHOD,
    O_REGION,
    O_MASK,
    O_PROB,
    O_UPSAMPLE,
    O_NORMALIZE,
    O_COLORMAP,
    O_ALPHA
  };
  static const cli_opt opts[] = {{"--help", 0, O_HELP},
                                 {"-h", 0, O_HELP},
                                 {"--model", 1, O_MODEL},
                                 {"--image", 1, O_IMAGE},
                                 {"--out", 1, O_OUT},
                                 {"--class-names", 1, O_NAMES},
                                 {"--class", 1, O_CLASS},
                                 {"--layer", 1, O_LAYER},
                                 {"--method", 1, O_METHOD},
                                 {"--region", 1, O_REGION},
                                 {"--mask", 1, O_MASK},
                                 {"--probabilities", 0, O_PROB},
                                 {"--upsample", 1, O_UPSAMPLE},
                                 {"--normalize", 1, O_NORMALIZE},
                                 {"--colormap", 1, O_COLORMAP},
                                 {"--alpha", 1, O_ALPHA},
                                 CLI_PREP_OPTS,
                                 {NULL, 0, 0}};
  static const char *const method_names[] = {"gradcam",  "hirescam", "gradcam-elementwise",
                                             "xgradcam", "layercam", "gradcam++"};
  static const char *const region_names[] = {"predicted", "all"};
  static const char *const upsample_names[] = {"bilinear", "bicubic", "nearest"};
  static const char *const normalize_names[] = {"minmax", "max", "none", "shared"};
  const char *cmd = "explain";
  cli_parser p = {argc, argv, 0, cmd};
  cli_prep pp;
  cli_prep_init(&pp);
  explain_opts eo;
  memset(&eo, 0, sizeof eo);
  segcam_cam_options_init(&eo.cam);
  eo.layer = "default";
  eo.cmap = SC_CMAP_JET;
  eo.alpha = 0.5f;
  eo.method_name = "gradcam", eo.upsample_name = "bilinear", eo.normalize_name = "minmax";
  eo.region_name = "predicted";
  const char *model = NULL, *out = NULL, *names_path = NULL, *class_arg = NULL, *v;
  const char **images = calloc((size_t)argc + 1, sizeof *images);
  size_t n_images = 0;
  if (!images) return cli_error("out of memory");
  int id, rc = CLI_OK, e;
  while (!rc && (id = cli_next(&p, opts, &v)) != CLI_ARG_END) {
    switch (id) {
    case CLI_ARG_ERROR: rc = CLI_USAGE; break;
    case O_HELP:
      free(images);
      free(eo.classes);
      return cli_help(cmd);
    case O_MODEL: model = v; break;
    case O_IMAGE: images[n_images++] = v; break;
    case O_OUT: out = v; break;
    case O_NAMES: names_path = v; break;
    case O_CLASS:
      if (class_arg) {
        rc = cli_usage(cmd, "--class is given twice; list the classes in one --class 1,2");
        break;
      }
      class_arg = v;
      rc = parse_classes(v, &eo);
      break;
    case O_LAYER: eo.layer = v; break;
    case O_METHOD:
      rc = parse_enum("--method", v, method_names, 6, &e);
      if (!rc) eo.cam.method = METHODS[e].m, eo.method_name = METHODS[e].name;
      break;
    case O_REGION:
      rc = parse_enum("--region", v, region_names, 2, &e);
      if (!rc) {
        eo.cam.region = e ? SEGCAM_REGION_ALL : SEGCAM_REGION_PREDICTED;
        eo.region_name = region_names[e], eo.region_given = 1;
      }
      break;
    case O_MASK: eo.mask_path = v; break;
    case O_PROB: eo.cam.use_probabilities = 1; break;
    case O_UPSAMPLE:
      rc = parse_enum("--upsample", v, upsample_names, 3, &e);
      if (!rc) eo.cam.resample = (segcam_resample)e, eo.upsample_name = upsample_names[e];
      break;
    case O_NORMALIZE:
      rc = parse_enum("--normalize", v, normalize_names, 4, &e);
      if (!rc) eo.cam.normalize = (segcam_normalize)e, eo.normalize_name = normalize_names[e];
      break;
    case O_COLORMAP: {
      int c = sc_colormap_from_name(v);
      if (c < 0)
        rc = cli_usage(cmd, "--colormap '%s': use jet, turbo, viridis, inferno or gray", v);
      else
        eo.cmap = (sc_colormap)c;
      break;
    }
    case O_ALPHA: {
      double a;
      if (!cli_parse_double(v, &a) || a < 0 || a > 1)
        rc = cli_usage(cmd, "--alpha '%s': give a number from 0 (heatmap only) to 1 (image only)",
                       v);
      else
        eo.alpha = (float)a;
      break;
    }
    case CLI_ARG_POSITIONAL: rc = cli_usage(cmd, "unexpected argument '%s'", v); break;
    default: rc = cli_prep_option(&pp, id, v, cmd); break;
    }
  }
  if (!rc && !model) rc = cli_usage(cmd, "no --model given");
  if (!rc && !n_images) rc = cli_usage(cmd, "no --image given");
  if (!rc && !class_arg)
    rc = cli_usage(cmd, "no --class given (an index, a list such as 0,2, "
                        "or all)");
  if (!rc && !out) rc = cli_usage(cmd, "no --out directory given");
  if (!rc && eo.mask_path && eo.region_given)
    rc = cli_usage(cmd, "--mask and --region exclude each other (--mask sets the region)");
  if (rc) {
    free(images);
    free(eo.classes);
    return rc;
  }
  if (eo.mask_path) eo.cam.region = SEGCAM_REGION_MASK, eo.region_name = "mask";
  cli_set_threads(pp.threads);

  cli_input_list inputs;
  cli_names names = {0, NULL};
  cli_model m;
  memset(&m, 0, sizeof m);
  cJSON *root = NULL;
  int64_t *classes = NULL;
  size_t n_classes = 0, layer = 0;
  int failed = 0, layer_reported = 0;
  unsigned checked_serial = 0;
  rc = cli_inputs_collect(images, n_images, &inputs);
  if (!rc && names_path) rc = cli_names_load(names_path, &names);
  if (!rc && eo.mask_path) rc = load_mask(eo.mask_path, &eo.mask);
  if (!rc) rc = cli_model_open(&m, model, &pp);
  if (!rc) rc = cli_model_images_only(&m);
  if (!rc) rc = cli_mkdir_p(out);
  if (!rc && !(root = cli_report_new(cmd, &m, &pp))) rc = cli_error("out of memory");
  if (root) {
    cJSON_AddStringToObject(root, "method", eo.method_name);
    cJSON_AddStringToObject(root, "target", eo.cam.use_probabilities ? "probabilities" : "logits");
    cJSON_AddStringToObject(root, "score", "sum over the region of the class output");
    cJSON *jr = cJSON_AddObjectToObject(root, "region");
    cJSON_AddStringToObject(jr, "mode", eo.region_name);
    if (eo.mask_path) cJSON_AddStringToObject(jr, "mask", eo.mask_path);
    cJSON_AddStringToObject(root, "upsample", eo.upsample_name);
    cJSON_AddStringToObject(root, "normalize", eo.normalize_name);
    cJSON_AddStringToObject(root, "colormap", sc_colormap_name(eo.cmap));
    cJSON_AddNumberToObject(root, "alpha", eo.alpha);
    cJSON_AddStringToObject(root, "energy_in_region",
                            "fraction of the sum of the normalised map (image size) that lies in "
                            "the region; the region is taken on the model output grid and mapped "
                            "to image pixels by nearest neighbour; null for classifiers or a zero "
                            "map");
  }
  cJSON *jimages = cJSON_CreateArray(); /* added last, after the per-run fields */
  for (size_t i = 0; !rc && i < inputs.n; i++) {
    double t0 = cli_now();
    segcam_clear_warnings();
    cli_image img;
    memset(&img, 0, sizeof img);
    cJSON *jwarn = cJSON_CreateArray();
    char *save = pp.save_input ? cli_input_npy_path(out, inputs.stems[i]) : NULL;
    int r = pp.save_input && !save ? cli_error("out of memory")
                                   : cli_run_image(&m, &pp, inputs.paths[i], save, &img);
    free(save);
    if (!r && m.session_serial != checked_serial) {
      segcam_layer L;
      rc = check_session(&m, &eo, &layer, &L, &classes, &n_classes);
      if (rc) {
        cJSON_Delete(jwarn);
        cli_image_free(&img);
        break;
      }
      checked_serial = m.session_serial;
      if (!layer_reported) {
        layer_json(root, eo.layer, layer, &L);
        segcam_output o;
        if (!segcam_session_output(m.ss, &o)) {
          cJSON *jo = cJSON_AddObjectToObject(root, "output");
          cJSON_AddStringToObject(jo, "kind", cli_output_kind_name(o.kind));
          cJSON_AddNumberToObject(jo, "classes", (double)o.classes);
          cJSON_AddStringToObject(jo, "final_activation",
                                  cli_final_activation_name(o.final_activation));
          if (eo.cam.use_probabilities && o.final_activation == 0)
            cli_note("%s: the model ends in no softmax/sigmoid; --probabilities scores its raw "
                     "output",
                     m.path);
        }
        layer_reported = 1;
      }
    }
    cJSON *jimg = cli_report_image(r ? NULL : &img, inputs.paths[i]);
    if (!r)
      r = explain_image(&m, &eo, &img, layer, classes, n_classes, out, inputs.stems[i], &names,
                        jimg);
    cli_flush_warnings(inputs.paths[i], add_warning, jwarn);
    if (!r) {
      cJSON *js = cJSON_GetObjectItemCaseSensitive(jimg, "seconds");
      if (js) cJSON_AddNumberToObject(js, "total", cli_now() - t0);
    } else {
      cJSON_AddStringToObject(jimg, "error", cli_last_error());
      failed++;
    }
    cJSON_AddItemToObject(jimg, "warnings", jwarn);
    cJSON_AddItemToArray(jimages, jimg);
    cli_image_free(&img);
  }
  rc = cli_report_finish(root, jimages, out, "summary.json", rc, failed, inputs.n);
  cli_model_close(&m);
  cli_names_free(&names);
  cli_inputs_free(&inputs);
  sc_image_free(&eo.mask);
  free(eo.classes);
  free(classes);
  free(images);
  return rc;
}
