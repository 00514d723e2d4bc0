/* The JSON reports of the segcam command (predict.json, summary.json): the fields they share and
 * writing them.  Field meanings are documented in docs/CLI.md. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"

cJSON *cli_json_dims(const int64_t *d, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)d[i]));
  return a;
}

cJSON *cli_report_new(const char *command, const cli_model *m, const cli_prep *pp) {
  cJSON *r = cJSON_CreateObject();
  if (!r) return NULL;
  cJSON_AddStringToObject(r, "segcam_version", SEGCAM_VERSION);
  cJSON_AddStringToObject(r, "command", command);
  cJSON *mo = cJSON_AddObjectToObject(r, "model");
  cJSON_AddStringToObject(mo, "path", segcam_model_path(m->model));
  cJSON_AddStringToObject(mo, "format", segcam_model_format(m->model));
  cJSON *in = cJSON_AddObjectToObject(mo, "input");
  cJSON_AddStringToObject(in, "name", m->info.name ? m->info.name : "");
  cJSON_AddItemToObject(in, "declared_shape", cli_json_dims(m->info.dims, m->info.ndim));
  cJSON_AddStringToObject(in, "layout", cli_layout_name(m->info.layout));
  cJSON *p = cJSON_AddObjectToObject(r, "preprocessing");
  cli_channels ch = pp->channels;
  if (ch == CLI_CH_AUTO)
    ch = m->info.channels == 1 ? CLI_CH_GRAY : m->info.channels == 3 ? CLI_CH_RGB : CLI_CH_KEEP;
  cJSON_AddStringToObject(p, "channels", cli_channels_name(ch));
  cJSON_AddBoolToObject(p, "channels_from_model", pp->channels == CLI_CH_AUTO);
  cJSON_AddStringToObject(p, "formula",
                          "(x * scale - mean) / std, x in 0..255; .npy inputs are "
                          "used as they are");
  cJSON_AddNumberToObject(p, "scale", pp->scale);
  cJSON *mean = cJSON_AddArrayToObject(p, "mean");
  for (int i = 0; i < pp->n_mean; i++) cJSON_AddItemToArray(mean, cJSON_CreateNumber(pp->mean[i]));
  cJSON *sd = cJSON_AddArrayToObject(p, "std");
  for (int i = 0; i < pp->n_std; i++) cJSON_AddItemToArray(sd, cJSON_CreateNumber(pp->std[i]));
  cJSON_AddStringToObject(p, "resize", "bilinear, half-pixel centres");
  if (pp->size_h) {
    char b[64];
    snprintf(b, sizeof b, "%lldx%lld", (long long)pp->size_h, (long long)pp->size_w);
    cJSON_AddStringToObject(p, "size", b);
  } else {
    cJSON_AddNullToObject(p, "size");
  }
  return r;
}

/* The per-image fields known after the forward run (or the path alone when it failed early). */
cJSON *cli_report_image(const cli_image *img, const char *path) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "path", path);
  if (!img) return o;
  cJSON_AddStringToObject(o, "kind", img->is_npy ? "npy" : "image");
  cJSON_AddNumberToObject(o, "width", (double)img->w);
  cJSON_AddNumberToObject(o, "height", (double)img->h);
  if (!img->is_npy) cJSON_AddNumberToObject(o, "channels", (double)img->display.c);
  cJSON_AddItemToObject(o, "input_shape", cli_json_dims(img->in_dims, img->n_in));
  return o;
}

int cli_report_write(cJSON *root, const char *path) {
  char *text = cJSON_Print(root);
  if (!text) return cli_error("%s: out of memory formatting the report", path);
  FILE *f = fopen(path, "w");
  if (!f) {
    free(text);
    return cli_error("%s: cannot create: %s", path, strerror(errno));
  }
  int bad = fputs(text, f) < 0 || fputc('\n', f) == EOF;
  bad |= fclose(f) != 0;
  free(text);
  if (bad) return cli_error("%s: write error", path);
  return CLI_OK;
}

int cli_report_finish(cJSON *root, cJSON *jimages, const char *out, const char *name, int rc,
                      int failed, size_t n_inputs) {
  if (root)
    cJSON_AddItemToObject(root, "images", jimages);
  else
    cJSON_Delete(jimages);
  if (root && !rc) {
    char *path = cli_join(out, name);
    rc = path ? cli_report_write(root, path) : cli_error("out of memory");
    free(path);
  }
  if (!rc && failed) {
    if (n_inputs > 1) cli_note("%d of %zu inputs failed", failed, n_inputs);
    rc = CLI_FAIL;
  }
  cJSON_Delete(root);
  return rc;
}
