/* Minimal test harness: checks count failures, tolerances print the worst element.
 * Each test_*.c is one executable registered with ctest; it exits non-zero if any check failed. */
#ifndef SC_TEST_H
#define SC_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_fail = 0, t_pass = 0;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      t_pass++;                                                                                    \
    } else {                                                                                       \
      t_fail++;                                                                                    \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

/* |got-ref| <= atol + rtol*|ref| elementwise; prints the worst element on failure. */
static inline int t_close(const char *what, const float *got, const double *ref, size_t n,
                          double atol, double rtol) {
  size_t worst = 0;
  double worst_excess = -1e300;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    double lim = atol + rtol * fabs(ref[i]);
    if (!(d <= lim)) bad = 1;
    double ex = (isnan(d) ? 1e300 : d - lim);
    if (ex > worst_excess) worst_excess = ex, worst = i;
  }
  if (bad) {
    t_fail++;
    fprintf(stderr, "FAIL %s: %zu elements, worst [%zu] got %.9g ref %.9g (atol %g rtol %g)\n",
            what, n, worst, (double)got[worst], ref[worst], atol, rtol);
  } else {
    t_pass++;
  }
  return !bad;
}

static inline const char *t_env(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

#define TEST_MAIN_END()                                                                            \
  do {                                                                                             \
    printf("%d passed, %d failed\n", t_pass, t_fail);                                              \
    return t_fail ? 1 : 0;                                                                         \
  } while (0)

#endif
