/* Runs every libhdf5 read of a user's file first in a child process (the "probe").
 *
 * libhdf5 1.10 (Debian 12's) is not safe on hostile files: a corrupt object header, vlen heap ID
 * or B-tree makes it read outside its buffers (SIGSEGV, SIGBUS), abort, loop or allocate without
 * bound, inside the library where no check of ours can reach (docs/FUZZING.md, C1).  A crash must
 * not take the caller's process with it, so the whole load -- libhdf5's reads and our translation
 * of what it returns -- runs first in a fork()ed child, into the child's copy of the graph, which
 * the parent never sees.  When the child dies from a signal, stops without finishing, or overruns
 * the time limit, the parent refuses the file with one line.  When the load fails in the child
 * with an ordinary error, the parent returns that error (sent back through the pipe) without
 * loading again; when it succeeds, the parent runs the same load itself to get the graph.
 * libhdf5 reads a file deterministically, so a file that did not crash the child does not crash
 * the parent.
 *
 * Memory: some corrupt files make libhdf5 allocate and zero many gigabytes (a corrupt string
 * length: 8 to 21 GB seen) and then load "normally".  The child's address space is therefore
 * capped (RLIMIT_AS) at what it already uses plus 1 GiB plus 4x the HDF5 data's size -- far more
 * than a real model needs (float16 weights become float32: 2x) -- so such an allocation fails in
 * the child, which reports an ordinary out-of-memory error that the parent passes on.  Not in
 * sanitizer builds, whose shadow memory reserves terabytes of address space.
 *
 * Threads: only the calling thread exists in the child; the caller holds kr_h5_lock, so no other
 * thread of the parent (OpenMP workers, another load) is inside libhdf5 at the fork.  The child
 * runs only single-threaded loader code (libhdf5, the config translator: no OpenMP, no stdio)
 * and glibc's malloc is safe to use after fork().  (A sanitizer's allocator may not be: GCC 12's
 * libasan does not lock it around fork(), so in an ASan build a child forked while another thread
 * is allocating can wait forever for that thread's lock, and the file is refused at the time
 * limit.  Release builds are not affected; tests that load from several threads at once turn the
 * probe off in sanitizer builds.)  The child leaves with _exit, so no atexit handler, no stdio
 * flush and no LeakSanitizer run happens in it.
 *
 * Environment: SEGCAM_H5_PROBE=0 loads directly without the probe (to debug a load with gdb);
 * SEGCAM_H5_PROBE_TIMEOUT=<seconds> replaces the 60 s limit. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "load/keras.h"

#define PROBE_TIMEOUT_S 60.0

static double probe_timeout(void) {
  const char *e = getenv("SEGCAM_H5_PROBE_TIMEOUT");
  char *end;
  double t = e ? strtod(e, &end) : 0;
  return e && end != e && t > 0 && t <= 1e6 ? t : PROBE_TIMEOUT_S;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGBUS: return "SIGBUS";
  case SIGABRT: return "SIGABRT";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGKILL: return "SIGKILL";
  }
  return "";
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The child's address-space cap (see the top of the file). */
static void cap_memory(uint64_t data_bytes) {
#ifndef SANITIZED
  unsigned long long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return;
  int ok = fscanf(f, "%llu", &pages) == 1;
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  if (!ok || page <= 0 || data_bytes > ((uint64_t)1 << 40)) return;
  uint64_t cap = (uint64_t)pages * (uint64_t)page + ((uint64_t)1 << 30) + 4 * data_bytes;
  struct rlimit as = {(rlim_t)cap, (rlim_t)cap};
  setrlimit(RLIMIT_AS, &as);
#else
  (void)data_bytes;
#endif
}

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w, n -= (size_t)w;
  }
}

/* In the child: the load, then its outcome on `fd` -- 'o', or 'e' + the status as one byte + the
 * error message -- then _exit. */
static void run_child(int fd, kr_h5_load_fn load, void *ctx, sc_graph *g, uint64_t data_bytes) {
  /* a crash ends the child by its signal, without a core file and without the handlers of the
   * parent (an application's crash reporter, a sanitizer's report) */
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
  for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
    signal(crash_signals[i], SIG_DFL);
  cap_memory(data_bytes);
  segcam_status st = load(ctx, g);
  unsigned char head[2] = {st == SEGCAM_OK ? 'o' : 'e', (unsigned char)st};
  write_all(fd, head, st == SEGCAM_OK ? 1 : 2);
  if (st != SEGCAM_OK) {
    const char *msg = segcam_last_error();
    write_all(fd, msg, strlen(msg));
  }
  _exit(st == SEGCAM_OK ? 0 : 1);
}

/* What the child reported: its first byte ('o', 'e' or 0 for nothing), and for 'e' the status
 * and message. */
typedef struct child_report {
  unsigned char outcome;
  int status;
  char msg[1024];
  size_t len;
} child_report;

/* Waits for the child until `deadline`, reading its report until the pipe closes; returns 1 when
 * it finished the load, 0 when it did not, with *status its wait status (-1 when unknown) and
 * *timed_out set. */
static int wait_child(pid_t pid, int fd, double deadline, child_report *rep, int *status,
                      int *timed_out) {
  int finished = 0, eof = 0;
  size_t got = 0;
  memset(rep, 0, sizeof *rep);
  *status = -1;
  *timed_out = 0;
  /* the child's end of the pipe closes when it exits, however it exits */
  while (!eof) {
    double left = deadline - now_s();
    if (left <= 0) {
      *timed_out = 1;
      break;
    }
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
    if (r < 0 && errno != EINTR) {
      struct timespec pause = {0, 10 * 1000 * 1000}; /* poll cannot fail here; if it does, wait */
      nanosleep(&pause, NULL);
    }
    if (r <= 0) continue;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = 1;
      continue;
    }
    for (ssize_t i = 0; i < n; i++, got++) {
      if (got == 0)
        rep->outcome = (unsigned char)buf[i];
      else if (got == 1)
        rep->status = (unsigned char)buf[i];
      else if (rep->len + 1 < sizeof rep->msg)
        rep->msg[rep->len++] = buf[i];
    }
    finished = rep->outcome == 'o' || (rep->outcome == 'e' && got >= 2);
  }
  if (*timed_out) kill(pid, SIGKILL);
  int ws;
  pid_t r;
  do r = waitpid(pid, &ws, 0);
  while (r < 0 && errno == EINTR);
  /* r < 0 (ECHILD): the application reaps children itself (SIGCHLD ignored or handled); the byte
   * on the pipe still tells whether the load finished */
  if (r == pid) *status = ws;
  /* a child that died from a signal on its own just before the deadline did crash */
  if (*timed_out && r == pid && WIFSIGNALED(ws) && WTERMSIG(ws) != SIGKILL) *timed_out = 0;
  return finished;
}

segcam_status kr_h5_probed(const char *what, uint64_t data_bytes, kr_h5_load_fn load, void *ctx,
                           sc_graph *g) {
  const char *e = getenv("SEGCAM_H5_PROBE");
  if (e && strcmp(e, "0") == 0) return load(ctx, g);
  int fds[2];
  if (pipe(fds) != 0) return load(ctx, g); /* as when fork fails, below */
  /* not inherited by programs another thread may start meanwhile */
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  double timeout = probe_timeout(), deadline = now_s() + timeout;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    run_child(fds[1], load, ctx, g, data_bytes);
  }
  close(fds[1]);
  if (pid < 0) {
    /* no process to spare (fork fails only for lack of memory or a process limit): load
     * directly, unprotected, rather than refuse every HDF5 file */
    close(fds[0]);
    return load(ctx, g);
  }
  int status, timed_out;
  child_report rep;
  int finished = wait_child(pid, fds[0], deadline, &rep, &status, &timed_out);
  close(fds[0]);
  if (finished && rep.outcome == 'o') return load(ctx, g);
  if (finished) /* the child's ordinary error, as the load here would give it (or worse) */
    return sc_error(rep.status > 0 ? (segcam_status)rep.status : SEGCAM_E_FORMAT, "%s",
                    rep.len ? rep.msg : "HDF5 load failed");
  if (timed_out)
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: corrupt HDF5 file? the HDF5 library did not finish reading it within "
                    "%g s (SEGCAM_H5_PROBE_TIMEOUT sets the limit)",
                    what, timeout);
  if (status != -1 && WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: corrupt HDF5 file: the HDF5 library crashed (signal %d%s%s) reading it",
                    what, sig, *signal_name(sig) ? ", " : "", signal_name(sig));
  }
  if (status != -1 && WIFEXITED(status))
    return sc_error(SEGCAM_E_FORMAT,
                    "%s: corrupt HDF5 file: reading it stopped the process (exit status %d) "
                    "before the load finished",
                    what, WEXITSTATUS(status));
  return sc_error(SEGCAM_E_FORMAT, "%s: corrupt HDF5 file: the HDF5 library crashed reading it",
                  what);
}
