/* `segcam predict`: the predicted class mask of each image, at the image's own size, with the
 * pixel count of every class (printed and in predict.json).  Classifiers print their scores.
 * No Grad-CAM here; see cli/explain.c. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

static void add_warning(void *ctx, const char *msg) {
  cJSON_AddItemToArray((cJSON *)ctx, cJSON_CreateString(msg));
}

/* Labels at the image size (nearest from the output grid), with per-label counts. */
static int predict_segmentation(cli_model *m, const cli_image *img, const segcam_output *o,
                                const char *out_dir, const char *stem, const cli_names *names,
                                cJSON *jimg) {
  size_t hw = (size_t)(o->height * o->width);
  int64_t n_labels = o->kind == SEGCAM_OUTPUT_BINARY ? 2 : o->classes;
  int64_t H = img->h, W = img->w;
  int32_t *lab = malloc(hw * sizeof *lab);
  int32_t *full = malloc((size_t)(H * W) * sizeof *full);
  int64_t *count = calloc((size_t)n_labels, sizeof *count);
  uint8_t *rgb = malloc((size_t)(H * W) * 3);
  uint8_t *gray = n_labels <= 256 ? malloc((size_t)(H * W)) : NULL;
  char *mask_name = NULL, *labels_name = NULL, *mask_path = NULL, *labels_path = NULL;
  int rc = CLI_OK;
  if (!lab || !full || !count || !rgb || (n_labels <= 256 && !gray)) {
    rc = cli_error("%s: out of memory", img->path);
    goto done;
  }
  if (segcam_session_predict(m->ss, lab, hw)) {
    rc = cli_lib_error();
    goto done;
  }
  for (int64_t y = 0; y < H; y++) {
    int64_t sy = cli_nearest(y, o->height, H);
    for (int64_t x = 0; x < W; x++) {
      int32_t k = lab[sy * o->width + cli_nearest(x, o->width, W)];
      full[y * W + x] = k;
      count[k]++;
      uint8_t c[3];
      sc_class_color(k, c);
      memcpy(rgb + 3 * (y * W + x), c, 3);
      if (gray) gray[y * W + x] = (uint8_t)k;
    }
  }
  size_t sl = strlen(stem) + 16;
  mask_name = malloc(sl), labels_name = malloc(sl);
  if (!mask_name || !labels_name) {
    rc = cli_error("%s: out of memory", img->path);
    goto done;
  }
  snprintf(mask_name, sl, "%s.mask.png", stem);
  snprintf(labels_name, sl, "%s.labels.png", stem);
  mask_path = cli_join(out_dir, mask_name);
  labels_path = cli_join(out_dir, labels_name);
  if (!mask_path || !labels_path) {
    rc = cli_error("%s: out of memory", img->path);
    goto done;
  }
  if (sc_png_write(mask_path, rgb, W, H, 3) || (gray && sc_png_write(labels_path, gray, W, H, 1))) {
    rc = cli_lib_error();
    goto done;
  }
  cJSON_AddStringToObject(jimg, "output_kind", cli_output_kind_name(o->kind));
  cJSON_AddItemToObject(jimg, "output_shape", cli_json_dims(o->shape, o->ndim));
  cJSON *jl = cJSON_AddArrayToObject(jimg, "labels");
  printf("%s: %lldx%lld (HxW)", img->path, (long long)H, (long long)W);
  for (int64_t k = 0; k < n_labels; k++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "index", (double)k);
    const char *nm = cli_name(names, k);
    if (!nm && o->kind == SEGCAM_OUTPUT_BINARY) nm = k ? "foreground" : "background";
    if (nm)
      cJSON_AddStringToObject(e, "name", nm);
    else
      cJSON_AddNullToObject(e, "name");
    cJSON_AddNumberToObject(e, "pixels", (double)count[k]);
    cJSON_AddNumberToObject(e, "fraction", (double)count[k] / (double)(H * W));
    cJSON_AddItemToArray(jl, e);
    if (count[k] || n_labels <= 16) {
      printf("%s class %lld", k ? "," : ":", (long long)k);
      if (nm) printf(" (%s)", nm);
      printf(" %lld px (%.1f%%)", (long long)count[k], 100.0 * (double)count[k] / (double)(H * W));
    }
  }
  printf("\n");
  cJSON *files = cJSON_AddObjectToObject(jimg, "files");
  cJSON_AddStringToObject(files, "mask", mask_name);
  if (gray)
    cJSON_AddStringToObject(files, "labels", labels_name);
  else
    cJSON_AddNullToObject(files, "labels");
done:
  free(lab);
  free(full);
  free(count);
  free(rgb);
  free(gray);
  free(mask_name);
  free(labels_name);
  free(mask_path);
  free(labels_path);
  return rc;
}

static void predict_classifier(const cli_image *img, const segcam_output *o, const cli_names *names,
                               cJSON *jimg) {
  int64_t best = 0;
  for (int64_t k = 1; k < o->classes; k++)
    if (o->data[k] > o->data[best]) best = k;
  cJSON_AddStringToObject(jimg, "output_kind", cli_output_kind_name(o->kind));
  cJSON_AddItemToObject(jimg, "output_shape", cli_json_dims(o->shape, o->ndim));
  cJSON_AddNumberToObject(jimg, "predicted_class", (double)best);
  const char *bn = cli_name(names, best);
  if (bn) cJSON_AddStringToObject(jimg, "predicted_name", bn);
  cJSON *js = cJSON_AddArrayToObject(jimg, "scores");
  for (int64_t k = 0; k < o->classes; k++)
    cJSON_AddItemToArray(js, cJSON_CreateNumber((double)o->data[k]));
  printf("%s: class %lld", img->path, (long long)best);
  if (bn) printf(" (%s)", bn);
  printf(", scores (%s):", o->final_activation == 1 ? "softmax probabilities" : "model output");
  for (int64_t k = 0; k < o->classes; k++) printf(" %.4g", (double)o->data[k]);
  printf("\n");
}

int cli_cmd_predict(int argc, char **argv) {
  enum { O_HELP = 1, O_MODEL, O_IMAGE, O_OUT, O_NAMES };
  static const cli_opt opts[] = {{"--help", 0, O_HELP},   {"-h", 0, O_HELP},
                                 {"--model", 1, O_MODEL}, {"--image", 1, O_IMAGE},
                                 {"--out", 1, O_OUT},     {"--class-names", 1, O_NAMES},
                                 CLI_PREP_OPTS,           {NULL, 0, 0}};
  const char *cmd = "predict";
  cli_parser p = {argc, argv, 0, cmd};
  cli_prep pp;
  cli_prep_init(&pp);
  const char *model = NULL, *out = NULL, *names_path = NULL, *v;
  const char **images = calloc((size_t)argc + 1, sizeof *images);
  size_t n_images = 0;
  if (!images) return cli_error("out of memory");
  int id, rc = CLI_OK;
  while ((id = cli_next(&p, opts, &v)) != CLI_ARG_END) {
    if (id == CLI_ARG_ERROR)
      rc = CLI_USAGE;
    else if (id == O_HELP) {
      free(images);
      return cli_help(cmd);
    } else if (id == O_MODEL)
      model = v;
    else if (id == O_IMAGE)
      images[n_images++] = v;
    else if (id == O_OUT)
      out = v;
    else if (id == O_NAMES)
      names_path = v;
    else if (id == CLI_ARG_POSITIONAL)
      rc = cli_usage(cmd, "unexpected argument '%s'", v);
    else
      rc = cli_prep_option(&pp, id, v, cmd);
    if (rc) break;
  }
  if (!rc && !model) rc = cli_usage(cmd, "no --model given");
  if (!rc && !n_images) rc = cli_usage(cmd, "no --image given");
  if (!rc && !out) rc = cli_usage(cmd, "no --out directory given");
  if (rc) {
    free(images);
    return rc;
  }
  cli_set_threads(pp.threads);

  cli_input_list inputs;
  cli_names names = {0, NULL};
  cli_model m;
  memset(&m, 0, sizeof m);
  cJSON *root = NULL;
  int failed = 0;
  rc = cli_inputs_collect(images, n_images, &inputs);
  if (!rc && names_path) rc = cli_names_load(names_path, &names);
  if (!rc) rc = cli_model_open(&m, model, &pp);
  if (!rc) rc = cli_model_images_only(&m);
  if (!rc) rc = cli_mkdir_p(out);
  if (!rc && !(root = cli_report_new(cmd, &m, &pp))) rc = cli_error("out of memory");
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
    cJSON *jimg = cli_report_image(r ? NULL : &img, inputs.paths[i]);
    segcam_output o;
    if (!r && segcam_session_output(m.ss, &o)) r = cli_lib_error();
    if (!r) {
      if (o.kind == SEGCAM_OUTPUT_CLASSIFIER)
        predict_classifier(&img, &o, &names, jimg);
      else
        r = predict_segmentation(&m, &img, &o, out, inputs.stems[i], &names, jimg);
    }
    cli_flush_warnings(inputs.paths[i], add_warning, jwarn);
    if (!r) {
      cJSON *js = cJSON_AddObjectToObject(jimg, "seconds");
      cJSON_AddNumberToObject(js, "load", img.sec_load);
      cJSON_AddNumberToObject(js, "preprocess", img.sec_preprocess);
      cJSON_AddNumberToObject(js, "session", img.sec_session);
      cJSON_AddNumberToObject(js, "forward", img.sec_forward);
      cJSON_AddNumberToObject(js, "total", cli_now() - t0);
    } else {
      cJSON_AddStringToObject(jimg, "error", cli_last_error());
      failed++;
    }
    cJSON_AddItemToObject(jimg, "warnings", jwarn);
    cJSON_AddItemToArray(jimages, jimg);
    cli_image_free(&img);
  }
  rc = cli_report_finish(root, jimages, out, "predict.json", rc, failed, inputs.n);
  cli_model_close(&m);
  cli_names_free(&names);
  cli_inputs_free(&inputs);
  free(images);
  return rc;
}
