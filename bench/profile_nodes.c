/* Where a session's time goes, node by node: one forward pass and one Grad-CAM reverse pass
 * (region = all pixels, class 0) after a warm-up, summed over REPEATS runs, per node and per op
 * type, largest first.  A tool for finding what to optimise, not a benchmark against anything.
 * Usage: bench_profile_nodes MODEL SIZE REPEATS [LAYER] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "bench_common.h"
#include "graph/session.h"

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", segcam_last_error()); return 1; } while (0)

typedef struct row {
  const char *name, *type;
  double f, b;
  unsigned run;
} row;

static int by_total(const void *a, const void *b) {
  const row *x = a, *y = b;
  double tx = x->f + x->b, ty = y->f + y->b;
  return tx < ty ? 1 : tx > ty ? -1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_profile_nodes MODEL SIZE REPEATS [LAYER]\n");
    return 2;
  }
  int64_t size = atoll(argv[2]);
  int reps = atoi(argv[3]);
  bench_setup b;
  if (bench_open(argv[1], size, argc > 4 ? argv[4] : "bottleneck", &b)) return 1;
  segcam_session *s = b.session;
  const float *x = b.x;
  size_t n = b.n, layer = b.layer;
  segcam_cam_options o;
  segcam_cam_options_init(&o);
  o.region = SEGCAM_REGION_ALL;
  int64_t cls = 0;
  segcam_cam cam;
  for (int r = 0; r < reps + 1; r++) {
    if (r == 1 && sc_session_profile(s->s, 1)) DIE("profile"); /* after the warm-up */
    if (segcam_session_run(s, x, n) || segcam_explain(s, layer, &cls, 1, &o, &cam)) DIE("run");
    segcam_cam_release(&cam);
  }
  const sc_graph *g = sc_session_graph(s->s);
  row *rows = calloc((size_t)g->n_nodes, sizeof *rows);
  double tf = 0, tb = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    rows[i].name = g->nodes[i].name ? g->nodes[i].name : "(internal)";
    rows[i].type = g->nodes[i].type;
    sc_session_node_seconds(s->s, i, &rows[i].f, &rows[i].b);
    rows[i].f *= 1e3 / reps, rows[i].b *= 1e3 / reps;
    rows[i].run = sc_session_node_run(s->s, i);
    tf += rows[i].f, tb += rows[i].b;
  }
  printf("per run: forward %.2f ms, reverse pass %.2f ms (node time only)\n\nby op type:\n", tf,
         tb);
  /* per type: fold rows of the same type into the first of them (copy, then sort) */
  row *types = calloc((size_t)g->n_nodes, sizeof *types);
  int nt = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    int t = 0;
    while (t < nt && strcmp(types[t].type, rows[i].type) != 0) t++;
    if (t == nt) types[nt++] = (row){.type = rows[i].type};
    types[t].f += rows[i].f, types[t].b += rows[i].b, types[t].run++;
  }
  qsort(types, (size_t)nt, sizeof *types, by_total);
  for (int t = 0; t < nt; t++)
    printf("  %-22s %4u nodes  fwd %8.2f ms  bwd %8.2f ms\n", types[t].type, types[t].run,
           types[t].f, types[t].b);
  qsort(rows, (size_t)g->n_nodes, sizeof *rows, by_total);
  printf("\nslowest nodes (F = runs fused, S = fused away):\n");
  for (int i = 0; i < g->n_nodes && i < 25; i++)
    printf("  %-40s %-20s %c fwd %7.2f ms  bwd %7.2f ms\n", rows[i].name, rows[i].type,
           rows[i].run & SC_RUN_FUSED ? 'F' : rows[i].run & SC_RUN_SKIPPED ? 'S' : ' ', rows[i].f,
           rows[i].b);
  free(rows);
  free(types);
  bench_close(&b);
  return 0;
}
