/* Status codes and the per-thread error message.
 *
 * Rule (after libvips): the message is set once, where the error is detected, naming the file and
 * the node/layer; callers only propagate the status.  Nothing here prints, exits or aborts. */
#ifndef SC_ERROR_H
#define SC_ERROR_H

#include "segcam.h"

/* Sets the thread's last-error message (printf format) and returns `status`, so a detecting site
 * can write `return sc_error(SEGCAM_E_FORMAT, "onnx: %s: truncated", path);`. */
segcam_status sc_error(segcam_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prefixes the current message with "<prefix>: " (used when a lower layer does not know the file). */
void sc_error_prefix(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Warnings are collected per thread (the library never prints); the CLI reads and prints them. */
void sc_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#define SC_TRY(expr)                                                                               \
  do {                                                                                             \
    segcam_status sc_try_s_ = (expr);                                                              \
    if (sc_try_s_ != SEGCAM_OK) return sc_try_s_;                                                  \
  } while (0)

/* Allocation helpers: return NULL and set SEGCAM_E_NOMEM with a message on failure.
 * sc_calloc_n checks n*size for overflow. */
void *sc_malloc(size_t size);
void *sc_calloc_n(size_t n, size_t size);
void *sc_realloc_n(void *p, size_t n, size_t size);
char *sc_strdup(const char *s);

#endif
