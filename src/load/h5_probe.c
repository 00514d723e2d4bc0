/* Runs every libhdf5 read of a user's file first in a child process (the "probe").
 *
 * libhdf5 1.10 (Debian 12's) is not safe on hostile files: a corrupt object header, vlen heap ID
 * or B-tree makes it read outside its buffers (SIGSEGV, SIGBUS), abort, loop or allocate without
 * bound, inside the library where no check of ours can reach (docs/FUZZING.md, C1).  A crash must
 * not take the caller's process with it, so the whole load -- libhdf5's reads and our translation
 * of what it returns -- runs first in a fork()ed child, into the child's copy of the graph, which
 * the parent never sees.  When the child dies from a signal, stops without finishing, or overruns
 * the time limit, the parent refuses the file with one line; when it finishes (loaded or failed
 * with an ordinary error), the parent runs the same load itself, which gives the graph or the
 * normal message.  libhdf5 reads a file deterministically, so a file that did not crash the child
 * does not crash the parent.
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

/* In the child: the load, its outcome as one byte on `fd`, then _exit. */
static void run_child(int fd, kr_h5_load_fn load, void *ctx, sc_graph *g) {
  /* a crash ends the child by its signal, without a core file and without the handlers of the
   * parent (an application's crash reporter, a sanitizer's report) */
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
  for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
    signal(crash_signals[i], SIG_DFL);
  unsigned char done = load(ctx, g) == SEGCAM_OK ? 'o' : 'e';
  ssize_t w;
  do w = write(fd, &done, 1);
  while (w < 0 && errno == EINTR);
  _exit(done == 'o' ? 0 : 1);
}

/* Waits for the child until `deadline`; returns 1 when it finished the load (wrote its byte),
 * 0 when it did not, with *status its wait status (-1 when unknown) and *timed_out set. */
static int wait_child(pid_t pid, int fd, double deadline, int *status, int *timed_out) {
  int finished = 0, eof = 0;
  *status = -1;
  *timed_out = 0;
  /* the child's end of the pipe closes when it exits, however it exits */
  while (!finished && !eof) {
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
    unsigned char b;
    ssize_t n = read(fd, &b, 1);
    if (n == 1)
      finished = b == 'o' || b == 'e';
    else if (n == 0 || errno != EINTR)
      eof = 1;
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

segcam_status kr_h5_probed(const char *what, kr_h5_load_fn load, void *ctx, sc_graph *g) {
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
    run_child(fds[1], load, ctx, g);
  }
  close(fds[1]);
  if (pid < 0) {
    /* no process to spare (fork fails only for lack of memory or a process limit): load
     * directly, unprotected, rather than refuse every HDF5 file */
    close(fds[0]);
    return load(ctx, g);
  }
  int status, timed_out;
  int finished = wait_child(pid, fds[0], deadline, &status, &timed_out);
  close(fds[0]);
  if (finished) return load(ctx, g);
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
