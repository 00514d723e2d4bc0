/* Times segcam on one model: forward, forward + Grad-CAM for 1 class, forward + 4 classes (region
 * = all pixels, so every class does a full reverse pass), best of N runs; reports the planned
 * activation+gradient memory and the process's peak RSS.  One JSON line on stdout.
 * Usage: bench_cam MODEL SIZE REPEATS [LAYER]   (LAYER default "bottleneck") */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"
#include "segcam.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

#define DIE(...) do { fprintf(stderr, __VA_ARGS__); fprintf(stderr, ": %s\n", segcam_last_error()); return 1; } while (0)

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_cam MODEL SIZE REPEATS [LAYER]\n");
    return 2;
  }
  int64_t size = atoll(argv[2]);
  int reps = atoi(argv[3]);
  bench_setup b;
  if (bench_open(argv[1], size, argc > 4 ? argv[4] : "bottleneck", &b)) return 1;
  segcam_session *s = b.session;
  const float *x = b.x;
  size_t n = b.n, layer = b.layer;
  segcam_output out;
  segcam_session_run(s, x, n);
  segcam_session_output(s, &out);
  int64_t classes[4] = {0, 1, 2, 3};
  int nc = out.classes < 4 ? (int)out.classes : 4;
  segcam_cam_options o;
  segcam_cam_options_init(&o);
  o.region = SEGCAM_REGION_ALL;
  segcam_cam cams[4];
  double fwd = 1e30, one = 1e30, four = 1e30;
  for (int r = 0; r < reps + 1; r++) { /* the first round warms up */
    double t0 = now_ms();
    if (segcam_session_run(s, x, n)) DIE("run");
    double t1 = now_ms();
    if (segcam_session_run(s, x, n) || segcam_explain(s, layer, classes, 1, &o, cams)) DIE("explain");
    double t2 = now_ms();
    segcam_cam_release(&cams[0]);
    if (segcam_session_run(s, x, n) || segcam_explain(s, layer, classes, (size_t)nc, &o, cams))
      DIE("explain4");
    double t3 = now_ms();
    for (int c = 0; c < nc; c++) segcam_cam_release(&cams[c]);
    if (r == 0) continue;
    fwd = t1 - t0 < fwd ? t1 - t0 : fwd;
    one = t2 - t1 < one ? t2 - t1 : one;
    four = t3 - t2 < four ? t3 - t2 : four;
  }
  segcam_layer li;
  segcam_session_layer(s, layer, &li);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"size\": %lld, \"layer\": \"%s\", \"segcam_forward_ms\": %.1f, \"segcam_gradcam1_ms\": "
         "%.1f, \"segcam_gradcam%d_ms\": %.1f, \"planned_mb\": %.1f, \"peak_rss_mb\": %.1f}\n",
         (long long)size, li.name, fwd, one, nc, four, segcam_session_memory(s) / 1048576.0,
         ru.ru_maxrss / 1024.0);
  bench_close(&b);
  return 0;
}
