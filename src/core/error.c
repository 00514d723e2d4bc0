/* Per-thread error message and warnings; checked allocation. */
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SC_MSG_MAX 1024
#define SC_WARN_MAX 4096

static _Thread_local char tl_msg[SC_MSG_MAX];
static _Thread_local char tl_warn[SC_WARN_MAX];

segcam_status sc_error(segcam_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
  va_end(ap);
  return status;
}

void sc_error_prefix(const char *fmt, ...) {
  char pre[SC_MSG_MAX], old[SC_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  memcpy(old, tl_msg, sizeof old);
  /* pre + ": " + old, truncated to the message size */
  size_t np = strlen(pre), no = strlen(old), k = 0;
  for (size_t i = 0; i < np && k + 1 < sizeof tl_msg; i++) tl_msg[k++] = pre[i];
  for (size_t i = 0; i < 2 && k + 1 < sizeof tl_msg; i++) tl_msg[k++] = ": "[i];
  for (size_t i = 0; i < no && k + 1 < sizeof tl_msg; i++) tl_msg[k++] = old[i];
  tl_msg[k] = '\0';
}

void sc_warn(const char *fmt, ...) {
  size_t len = strlen(tl_warn);
  if (len + 2 >= sizeof tl_warn) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_warn + len, sizeof tl_warn - len - 1, fmt, ap);
  va_end(ap);
  len = strlen(tl_warn);
  tl_warn[len] = '\n';
  tl_warn[len + 1] = '\0';
}

const char *segcam_last_error(void) { return tl_msg; }

const char *segcam_warnings(void) { return tl_warn; }

void segcam_clear_warnings(void) { tl_warn[0] = '\0'; }

const char *segcam_status_str(segcam_status s) {
  switch (s) {
  case SEGCAM_OK: return "ok";
  case SEGCAM_E_IO: return "i/o error";
  case SEGCAM_E_FORMAT: return "bad file format";
  case SEGCAM_E_UNSUPPORTED: return "unsupported";
  case SEGCAM_E_SHAPE: return "shape mismatch";
  case SEGCAM_E_ARG: return "invalid argument";
  case SEGCAM_E_NOMEM: return "out of memory";
  case SEGCAM_E_INTERNAL: return "internal error";
  }
  return "unknown status";
}

void *sc_malloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p) sc_error(SEGCAM_E_NOMEM, "out of memory allocating %zu bytes", size);
  return p;
}

void *sc_calloc_n(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) {
    sc_error(SEGCAM_E_NOMEM, "allocation size overflow (%zu x %zu)", n, size);
    return NULL;
  }
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) sc_error(SEGCAM_E_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
  return p;
}

void *sc_realloc_n(void *p, size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) {
    sc_error(SEGCAM_E_NOMEM, "allocation size overflow (%zu x %zu)", n, size);
    return NULL;
  }
  void *q = realloc(p, (n * size) != 0 ? n * size : 1);
  if (!q) sc_error(SEGCAM_E_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
  return q;
}

char *sc_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = sc_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
