/* Plumbing for the segcam command: one-line messages, option parsing, value parsers, the shared
 * preprocessing options, input lists (files and directories), output directories and class-name
 * files.  Nothing here touches a model; see cli/input.c for that. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"

/* ---- messages ------------------------------------------------------------------------------- */

/* Library messages are one line by contract; make sure of it, since scripts parse stderr. */
static char last_error[2048];

static void put_line(const char *kind, const char *msg, const char *suffix) {
  if (strcmp(kind, "error") == 0) {
    size_t k = 0;
    for (const char *c = msg; *c && k + 1 < sizeof last_error; c++)
      last_error[k++] = *c == '\n' || *c == '\r' ? ' ' : *c;
    last_error[k] = '\0';
  }
  fprintf(stderr, "segcam: %s: ", kind);
  for (const char *c = msg; *c; c++) fputc(*c == '\n' || *c == '\r' ? ' ' : *c, stderr);
  fprintf(stderr, "%s\n", suffix ? suffix : "");
}

const char *cli_last_error(void) {
  return last_error;
}

int cli_error(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  put_line("error", buf, NULL);
  return CLI_FAIL;
}

int cli_lib_error(void) {
  const char *m = segcam_last_error();
  put_line("error", m && *m ? m : "unknown error", NULL);
  return CLI_FAIL;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  char buf[2048], hint[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  snprintf(hint, sizeof hint, " (see: segcam %s%s--help)", cmd ? cmd : "", cmd ? " " : "");
  put_line("error", buf, hint);
  return CLI_USAGE;
}

void cli_note(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  put_line("note", buf, NULL);
}

void cli_flush_warnings(const char *prefix, void (*sink)(void *ctx, const char *msg), void *ctx) {
  const char *w = segcam_warnings();
  while (w && *w) {
    const char *nl = strchr(w, '\n');
    size_t len = nl ? (size_t)(nl - w) : strlen(w);
    if (len) {
      char line[1024];
      snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), w);
      char full[1200];
      if (prefix)
        snprintf(full, sizeof full, "%s: %s", prefix, line);
      else
        snprintf(full, sizeof full, "%s", line);
      put_line("warning", full, NULL);
      if (sink) sink(ctx, line);
    }
    w = nl ? nl + 1 : w + len;
  }
  segcam_clear_warnings();
}

/* ---- option parsing ------------------------------------------------------------------------- */

int cli_next(cli_parser *p, const cli_opt *opts, const char **val) {
  *val = NULL;
  if (p->i >= p->argc) return CLI_ARG_END;
  const char *a = p->argv[p->i++];
  if (strcmp(a, "--") == 0) {
    if (p->i >= p->argc) return CLI_ARG_END;
    *val = p->argv[p->i++];
    return CLI_ARG_POSITIONAL;
  }
  if (a[0] != '-' || a[1] == '\0') {
    *val = a;
    return CLI_ARG_POSITIONAL;
  }
  const char *eq = strchr(a, '=');
  size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
  for (const cli_opt *o = opts; o->name; o++) {
    if (strlen(o->name) != nlen || strncmp(o->name, a, nlen) != 0) continue;
    if (!o->has_value) {
      if (eq) {
        cli_usage(p->cmd, "option %s takes no value", o->name);
        return CLI_ARG_ERROR;
      }
      return o->id;
    }
    if (eq) {
      *val = eq + 1;
    } else {
      if (p->i >= p->argc) {
        cli_usage(p->cmd, "option %s needs a value", o->name);
        return CLI_ARG_ERROR;
      }
      *val = p->argv[p->i++];
    }
    return o->id;
  }
  cli_usage(p->cmd, "unknown option '%.*s'", (int)nlen, a);
  return CLI_ARG_ERROR;
}

int cli_parse_int(const char *s, long *out) {
  if (!s || !*s) return 0;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s) return 0;
  *out = v;
  return 1;
}

int cli_parse_double(const char *s, double *out) {
  if (!s || !*s) return 0;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || end == s || !isfinite(v)) return 0;
  *out = v;
  return 1;
}

/* "HxW" (also "H,W"), each side 1..SC_IMAGE_MAX_SIDE. */
int cli_parse_size(const char *s, int64_t *h, int64_t *w) {
  if (!s) return 0;
  char *end;
  errno = 0;
  long long a = strtoll(s, &end, 10);
  if (errno || end == s || (*end != 'x' && *end != 'X' && *end != ',')) return 0;
  const char *t = end + 1;
  long long b = strtoll(t, &end, 10);
  if (errno || end == t || *end) return 0;
  if (a < 1 || b < 1 || a > SC_IMAGE_MAX_SIDE || b > SC_IMAGE_MAX_SIDE ||
      (int64_t)a * (int64_t)b > SC_IMAGE_MAX_PIXELS)
    return 0;
  *h = a, *w = b;
  return 1;
}

/* Comma-separated numbers; returns how many (0 on a syntax error or too many). */
int cli_parse_doubles(const char *s, double *out, int max) {
  int n = 0;
  const char *c = s;
  while (c && *c) {
    if (n >= max) return 0;
    char *end;
    errno = 0;
    double v = strtod(c, &end);
    if (errno || end == c || !isfinite(v)) return 0;
    out[n++] = v;
    while (*end == ' ') end++;
    if (*end == ',') {
      c = end + 1;
      if (!*c) return 0;
    } else if (*end) {
      return 0;
    } else {
      c = end;
    }
  }
  return n;
}

/* ---- preprocessing options ------------------------------------------------------------------ */

void cli_prep_init(cli_prep *pp) {
  memset(pp, 0, sizeof *pp);
  pp->scale = 1.0 / 255.0;
  pp->channels = CLI_CH_AUTO;
  pp->layout = -1;
}

const char *cli_channels_name(cli_channels c) {
  switch (c) {
  case CLI_CH_AUTO: return "auto";
  case CLI_CH_RGB: return "rgb";
  case CLI_CH_BGR: return "bgr";
  case CLI_CH_GRAY: return "gray";
  case CLI_CH_KEEP: return "keep";
  }
  return "?";
}

int cli_prep_option(cli_prep *pp, int id, const char *val, const char *cmd) {
  switch (id) {
  case CLI_OPT_SCALE:
    if (!cli_parse_double(val, &pp->scale) || pp->scale == 0)
      return cli_usage(cmd, "--scale '%s': give a non-zero number such as 0.00392156862745098",
                       val);
    pp->scale_set = 1;
    return CLI_OK;
  case CLI_OPT_MEAN:
    pp->n_mean = cli_parse_doubles(val, pp->mean, CLI_MAX_CHANNELS);
    if (!pp->n_mean)
      return cli_usage(cmd, "--mean '%s': give one number or one per channel, comma-separated",
                       val);
    return CLI_OK;
  case CLI_OPT_STD:
    pp->n_std = cli_parse_doubles(val, pp->std, CLI_MAX_CHANNELS);
    if (!pp->n_std)
      return cli_usage(cmd, "--std '%s': give one number or one per channel, comma-separated", val);
    for (int i = 0; i < pp->n_std; i++)
      if (pp->std[i] == 0) return cli_usage(cmd, "--std '%s': a standard deviation is 0", val);
    return CLI_OK;
  case CLI_OPT_CHANNELS:
    if (strcmp(val, "rgb") == 0)
      pp->channels = CLI_CH_RGB;
    else if (strcmp(val, "bgr") == 0)
      pp->channels = CLI_CH_BGR;
    else if (strcmp(val, "gray") == 0 || strcmp(val, "grey") == 0)
      pp->channels = CLI_CH_GRAY;
    else if (strcmp(val, "keep") == 0)
      pp->channels = CLI_CH_KEEP;
    else
      return cli_usage(cmd, "--channels '%s': use rgb, bgr, gray or keep", val);
    return CLI_OK;
  case CLI_OPT_LAYOUT:
    if (strcmp(val, "nchw") == 0 || strcmp(val, "NCHW") == 0)
      pp->layout = SEGCAM_LAYOUT_NCHW;
    else if (strcmp(val, "nhwc") == 0 || strcmp(val, "NHWC") == 0)
      pp->layout = SEGCAM_LAYOUT_NHWC;
    else
      return cli_usage(cmd, "--layout '%s': use nchw or nhwc", val);
    return CLI_OK;
  case CLI_OPT_SIZE:
    if (!cli_parse_size(val, &pp->size_h, &pp->size_w))
      return cli_usage(cmd,
                       "--size '%s': give HxW with each side from 1 to %d and at most %lld "
                       "pixels",
                       val, SC_IMAGE_MAX_SIDE, (long long)SC_IMAGE_MAX_PIXELS);
    return CLI_OK;
  case CLI_OPT_SAVE_INPUT: pp->save_input = 1; return CLI_OK;
  case CLI_OPT_THREADS: {
    long n;
    if (!cli_parse_int(val, &n) || n < 1 || n > 1024)
      return cli_usage(cmd, "--threads '%s': give a number from 1 to 1024", val);
    pp->threads = (int)n;
    return CLI_OK;
  }
  default: return cli_usage(cmd, "internal: unhandled option %d", id);
  }
}

/* Both pools: OpenMP (segcam's own loops) and OpenBLAS (its own pthreads in Debian's build). */
void cli_set_threads(int n) {
  if (n <= 0) return;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  openblas_set_num_threads(n);
}

/* ---- inputs --------------------------------------------------------------------------------- */

static int has_input_ext(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot) return 0;
  static const char *const exts[] = {".png", ".jpg", ".jpeg", ".npy"};
  for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
    size_t n = strlen(exts[i]);
    if (strlen(dot) != n) continue;
    size_t k = 0;
    while (k < n && tolower((unsigned char)dot[k]) == exts[i][k]) k++;
    if (k == n) return 1;
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push(cli_input_list *l, size_t *cap, char *path) {
  if (!path) return 0;
  if (l->n == *cap) {
    size_t nc = *cap ? 2 * *cap : 16;
    char **np = realloc(l->paths, nc * sizeof *np);
    if (!np) {
      free(path);
      return 0;
    }
    l->paths = np, *cap = nc;
  }
  l->paths[l->n++] = path;
  return 1;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char *cli_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p) return NULL;
  memcpy(p, dir, a);
  size_t k = a;
  if (a && dir[a - 1] != '/') p[k++] = '/';
  memcpy(p + k, name, b + 1);
  return p;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

static char *stem_of(const char *path) {
  const char *b = base_name(path);
  const char *dot = strrchr(b, '.');
  size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, b, n);
  s[n] = '\0';
  return s;
}

int cli_inputs_collect(const char *const *args, size_t n_args, cli_input_list *out) {
  memset(out, 0, sizeof *out);
  size_t cap = 0;
  for (size_t a = 0; a < n_args; a++) {
    struct stat st;
    if (stat(args[a], &st) != 0) return cli_error("%s: cannot open: %s", args[a], strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
      if (!push(out, &cap, dup_str(args[a]))) return cli_error("out of memory");
      continue;
    }
    DIR *d = opendir(args[a]);
    if (!d) return cli_error("%s: cannot read the directory: %s", args[a], strerror(errno));
    size_t first = out->n;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.' || !has_input_ext(e->d_name)) continue;
      char *p = cli_join(args[a], e->d_name);
      struct stat fs;
      if (p && (stat(p, &fs) != 0 || S_ISDIR(fs.st_mode))) {
        free(p);
        continue;
      }
      if (!push(out, &cap, p)) {
        closedir(d);
        return cli_error("out of memory");
      }
    }
    closedir(d);
    if (out->n == first)
      return cli_error("%s: the directory has no .png, .jpg, .jpeg or .npy file", args[a]);
    qsort(out->paths + first, out->n - first, sizeof *out->paths, cmp_str);
  }
  out->stems = calloc(out->n ? out->n : 1, sizeof *out->stems);
  if (!out->stems) return cli_error("out of memory");
  for (size_t i = 0; i < out->n; i++) {
    out->stems[i] = stem_of(out->paths[i]);
    if (!out->stems[i]) return cli_error("out of memory");
  }
  /* two inputs with one stem (a.png and a.npy) would overwrite each other's files: those keep
   * their whole base name */
  for (size_t i = 0; i < out->n; i++) {
    int clash = 0;
    for (size_t j = 0; j < out->n; j++)
      if (j != i && strcmp(out->stems[i], out->stems[j]) == 0) clash = 1;
    if (!clash) continue;
    char *b = dup_str(base_name(out->paths[i]));
    if (!b) return cli_error("out of memory");
    free(out->stems[i]);
    out->stems[i] = b;
  }
  for (size_t i = 0; i < out->n; i++)
    for (size_t j = i + 1; j < out->n; j++)
      if (strcmp(out->stems[i], out->stems[j]) == 0)
        return cli_error("%s and %s would write the same output files; give each input once",
                         out->paths[i], out->paths[j]);
  return CLI_OK;
}

void cli_inputs_free(cli_input_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->paths[i]);
    if (l->stems) free(l->stems[i]);
  }
  free(l->paths);
  free(l->stems);
  memset(l, 0, sizeof *l);
}

int cli_mkdir_p(const char *dir) {
  char *p = dup_str(dir);
  if (!p) return cli_error("out of memory");
  size_t n = strlen(p);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    char c = p[i];
    p[i] = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
      int e = errno;
      p[i] = c;
      free(p);
      return cli_error("%s: cannot create the output directory: %s", dir, strerror(e));
    }
    p[i] = c;
  }
  free(p);
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return cli_error("%s: not a directory", dir);
  return CLI_OK;
}

/* ---- class names ---------------------------------------------------------------------------- */

int cli_names_load(const char *path, cli_names *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "r");
  if (!f) return cli_error("%s: cannot open the class-name file: %s", path, strerror(errno));
  char line[1024];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                 line[n - 1] == '\t'))
      line[--n] = '\0';
    if (out->n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nn = realloc(out->names, cap * sizeof *nn);
      if (!nn) {
        fclose(f);
        return cli_error("out of memory");
      }
      out->names = nn;
    }
    out->names[out->n] = dup_str(line);
    if (!out->names[out->n]) {
      fclose(f);
      return cli_error("out of memory");
    }
    out->n++;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) return cli_error("%s: read error", path);
  /* trailing blank lines are not names */
  while (out->n && out->names[out->n - 1][0] == '\0') free(out->names[--out->n]);
  if (!out->n) return cli_error("%s: the class-name file is empty", path);
  return CLI_OK;
}

void cli_names_free(cli_names *n) {
  for (size_t i = 0; i < n->n; i++) free(n->names[i]);
  free(n->names);
  memset(n, 0, sizeof *n);
}

const char *cli_name(const cli_names *n, int64_t k) {
  if (!n || k < 0 || (uint64_t)k >= n->n || !n->names[k][0]) return NULL;
  return n->names[k];
}

/* ---- small things --------------------------------------------------------------------------- */

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *cli_layout_name(segcam_layout l) {
  return l == SEGCAM_LAYOUT_NHWC ? "NHWC" : "NCHW";
}

const char *cli_output_kind_name(segcam_output_kind k) {
  switch (k) {
  case SEGCAM_OUTPUT_MULTICLASS: return "multiclass";
  case SEGCAM_OUTPUT_BINARY: return "binary";
  case SEGCAM_OUTPUT_CLASSIFIER: return "classifier";
  }
  return "?";
}

const char *cli_final_activation_name(int a) {
  return a == 1 ? "softmax" : a == 2 ? "sigmoid" : "none";
}

void cli_dims_str(char *buf, size_t cap, const int64_t *d, int n) {
  size_t k = 0;
  if (cap == 0) return;
  buf[0] = '\0';
  k += (size_t)snprintf(buf + k, cap - k, "[");
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)d[i]);
  if (k < cap) snprintf(buf + k, cap - k, "]");
}
