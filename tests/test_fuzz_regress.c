/* Replays every file under tests/fuzz/regress/<harness>/ through the fuzz harnesses' own entry
 * code (tests/fuzz/fuzz_entry.h), in the normal and the ASan/UBSan builds, without libFuzzer.
 * Each file is an input that once crashed, hung or leaked; see docs/FUZZING.md for what each
 * one was.  A regression shows up as a sanitizer report, an abort() from the entry's error-
 * contract checks (naming the file printed just before), or the ctest timeout.
 *
 * Also checks that tests/fuzz/regress exists and holds files, so the test cannot pass vacuously
 * when run from the wrong place.  The memory bound the harness sets (SEGCAM_MAX_MEMORY_MB, see
 * fuzz_entry.h) applies here too. */
#include "fuzz/fuzz_entry.h"

#include <dirent.h>
#include <time.h>

#include "test.h"

typedef void (*entry_fn)(const uint8_t *, size_t);

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, len = 0;
  uint8_t *b = malloc(cap);
  for (size_t r; b && (r = fread(b + len, 1, cap - len, f)) > 0;) {
    len += r;
    if (len == cap) {
      uint8_t *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  fclose(f);
  *n = len;
  return b;
}

/* Replays the files of one harness directory in name order; returns how many. */
static int replay_dir(const char *root, const char *harness, entry_fn fn) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/%s", root, harness);
  DIR *d = opendir(dir);
  if (!d) return 0; /* git keeps no empty directory: a harness without regressions yet */
  char **names = NULL;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    names = realloc(names, (size_t)(n + 1) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n > 1) qsort(names, (size_t)n, sizeof *names, cmp_str);
  for (int i = 0; i < n; i++) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    size_t len = 0;
    uint8_t *data = read_all(path, &len);
    CHECK(data != NULL, "cannot read %s", path);
    if (data) {
      printf("replay %s/%s (%zu bytes)\n", harness, names[i], len);
      fflush(stdout);
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      fn(data, len);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
      /* the fuzzers ran with -timeout=10; sanitized Debug builds are slower, so allow 30 s */
      CHECK(sec < 30.0, "%s took %.1f s", path, sec);
      free(data);
    }
    free(names[i]);
  }
  free(names);
  return n;
}

int main(void) {
  char root[1024];
  snprintf(root, sizeof root, "%s/tests/fuzz/regress", t_env("SEGCAM_SRC", "."));
  DIR *r = opendir(root);
  CHECK(r != NULL, "cannot open %s (set SEGCAM_SRC to the source tree)", root);
  if (r) closedir(r);
  int n_model = replay_dir(root, "fuzz_model", fuzz_model_one);
  int n_image = replay_dir(root, "fuzz_image", fuzz_image_one);
  int n_npy = replay_dir(root, "fuzz_npy", fuzz_npy_one);
  int n_kc = replay_dir(root, "fuzz_keras_config", fuzz_keras_config_one);
  printf("replayed %d model, %d keras config, %d image, %d npy inputs\n", n_model, n_kc, n_image,
         n_npy);
  CHECK(n_model + n_kc + n_image + n_npy > 0, "no regression inputs under %s", root);
  TEST_MAIN_END();
}
