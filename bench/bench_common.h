/* What the benchmark programs share: one model at one square size, a deterministic input, and
 * the target layer.  Header-only (each .c file in bench/ is its own program). */
#ifndef SC_BENCH_COMMON_H
#define SC_BENCH_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "segcam.h"

typedef struct bench_setup {
  segcam_model *model;
  segcam_session *session;
  float *x; /* the input: a fixed hash pattern in [0, 1) */
  size_t n;
  size_t layer;
} bench_setup;

/* Loads `path`, makes a size x size session, the input and the layer `query`; prints what failed
 * and returns 1 on error. */
static inline int bench_open(const char *path, int64_t size, const char *query, bench_setup *b) {
  const char *what = "load";
  int nd;
  int64_t dims[SEGCAM_MAX_DIMS];
  if (segcam_model_load(path, &b->model)) goto fail;
  what = "session";
  if (segcam_session_create(b->model, size, size, &b->session)) goto fail;
  segcam_session_input_shape(b->session, &nd, dims);
  b->n = 1;
  for (int i = 0; i < nd; i++) b->n *= (size_t)dims[i];
  what = "input";
  b->x = malloc(b->n * sizeof *b->x);
  if (!b->x) goto fail;
  for (size_t i = 0; i < b->n; i++) b->x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f;
  what = "layer";
  if (segcam_session_find_layer(b->session, query, &b->layer)) goto fail;
  return 0;
fail:
  fprintf(stderr, "%s: %s\n", what, segcam_last_error());
  return 1;
}

static inline void bench_close(bench_setup *b) {
  free(b->x);
  segcam_session_free(b->session);
  segcam_model_free(b->model);
}

#endif
