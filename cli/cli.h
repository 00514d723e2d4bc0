/* Shared pieces of the `segcam` command: option parsing, messages, and the input pipeline
 * (image or .npy file -> model input tensor -> forward run) used by `predict` and `explain`.
 *
 * The command is built only on the public API (include/segcam.h) plus src/image/image.h for
 * image, .npy and colormap files; it never reaches into graphs or sessions. */
#ifndef SEGCAM_CLI_H
#define SEGCAM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "image/image.h"
#include "segcam.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* ---- messages ---------------------------------------------------------------------------------
 * Every error is one line on stderr: "segcam: error: ...". Usage errors end with a pointer to the
 * command's help on the same line. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_lib_error(void);
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The last error line printed (without the "segcam: error: " prefix), for the JSON reports. */
const char *cli_last_error(void);
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the library's pending warnings as "segcam: warning: <prefix>: ...", hands each to
 * `sink` (may be NULL) and clears them. */
void cli_flush_warnings(const char *prefix, void (*sink)(void *ctx, const char *msg), void *ctx);

/* ---- option parsing ------------------------------------------------------------------------- */
typedef struct cli_opt {
  const char *name; /* "--model" */
  int has_value;
  int id; /* > 0 */
} cli_opt;

typedef struct cli_parser {
  int argc;
  char **argv;
  int i;
  const char *cmd;
} cli_parser;

enum { CLI_ARG_END = -1, CLI_ARG_ERROR = -2, CLI_ARG_POSITIONAL = 0 };
/* The next argument: an option id (its value in *val when it takes one), CLI_ARG_POSITIONAL
 * (*val = the argument), CLI_ARG_END, or CLI_ARG_ERROR (already reported). Accepts "--name value"
 * and "--name=value"; "--" ends the options. */
int cli_next(cli_parser *p, const cli_opt *opts, const char **val);

int cli_parse_size(const char *s, int64_t *h, int64_t *w);
int cli_parse_doubles(const char *s, double *out, int max);
int cli_parse_double(const char *s, double *out);
int cli_parse_int(const char *s, long *out);

/* ---- preprocessing options (shared by layers, predict, explain) ----------------------------- */
typedef enum cli_channels {
  CLI_CH_AUTO = 0,
  CLI_CH_RGB,
  CLI_CH_BGR,
  CLI_CH_GRAY,
  CLI_CH_KEEP
} cli_channels;

#define CLI_MAX_CHANNELS 64

typedef struct cli_prep {
  double scale;
  int scale_set;
  int n_mean, n_std;
  double mean[CLI_MAX_CHANNELS], std[CLI_MAX_CHANNELS];
  cli_channels channels;
  int layout;             /* -1: the model's guess; else a segcam_layout */
  int64_t size_h, size_w; /* 0: not given */
  int threads;            /* 0: the runtime's default */
  int save_input;         /* write each model input as <stem>.input.npy */
} cli_prep;

/* Option ids 100..199 are the shared preprocessing ones. */
enum {
  CLI_OPT_SCALE = 100,
  CLI_OPT_MEAN,
  CLI_OPT_STD,
  CLI_OPT_CHANNELS,
  CLI_OPT_LAYOUT,
  CLI_OPT_SIZE,
  CLI_OPT_THREADS,
  CLI_OPT_SAVE_INPUT
};
/* clang-format off */
#define CLI_PREP_OPTS                                                                              \
  {"--scale", 1, CLI_OPT_SCALE}, {"--mean", 1, CLI_OPT_MEAN}, {"--std", 1, CLI_OPT_STD},           \
  {"--channels", 1, CLI_OPT_CHANNELS}, {"--layout", 1, CLI_OPT_LAYOUT},                            \
  {"--size", 1, CLI_OPT_SIZE}, {"--threads", 1, CLI_OPT_THREADS},                                 \
  {"--save-input", 0, CLI_OPT_SAVE_INPUT}
/* clang-format on */

void cli_prep_init(cli_prep *pp);
/* Handles a shared option id; returns CLI_OK, or CLI_USAGE after printing the error. */
int cli_prep_option(cli_prep *pp, int id, const char *val, const char *cmd);
const char *cli_channels_name(cli_channels c);
void cli_set_threads(int n);

/* ---- inputs --------------------------------------------------------------------------------- */
typedef struct cli_input_list {
  size_t n;
  char **paths;
  char **stems; /* unique output-file stems */
} cli_input_list;

/* Expands --image arguments (files or directories) into a sorted list of inputs. */
int cli_inputs_collect(const char *const *args, size_t n_args, cli_input_list *out);
void cli_inputs_free(cli_input_list *l);

int cli_mkdir_p(const char *dir);
char *cli_join(const char *dir, const char *name);

/* ---- model + session + one image ------------------------------------------------------------ */
typedef struct cli_model {
  segcam_model *model;
  segcam_input_info info;
  const char *path;
  segcam_session *ss;
  int64_t ss_h, ss_w;      /* size the current session was made for (-1: model's own) */
  unsigned session_serial; /* counts the sessions made, so callers see a new one */
} cli_model;

/* Loads the model and applies --layout. */
int cli_model_open(cli_model *m, const char *path, const cli_prep *pp);
/* CLI_OK for an image model; an error line and CLI_FAIL for a 1-D (signal) model, which predict
 * and explain cannot read from pictures or write maps for. */
int cli_model_images_only(const cli_model *m);
void cli_model_close(cli_model *m);

typedef struct cli_image {
  const char *path;
  int is_npy;
  sc_image display;   /* what overlays are drawn on: the image as loaded (HWC, 0..255); for .npy a
                         picture made from the array */
  int64_t h, w;       /* original size: the size of every map and mask written */
  int64_t in_h, in_w; /* the model input's spatial size used */
  int n_in;
  int64_t in_dims[SEGCAM_MAX_DIMS];
  double sec_load, sec_preprocess, sec_session, sec_forward;
} cli_image;

/* Whether the file starts with the .npy magic bytes. */
int cli_is_npy(const char *path);
/* Loads `path`, makes (or reuses) a session of the right size, preprocesses and runs the forward
 * pass; writes the model input to `save_input` (a .npy path) unless it is NULL. On failure the
 * error has been printed. */
int cli_run_image(cli_model *m, const cli_prep *pp, const char *path, const char *save_input,
                  cli_image *img);
/* "<out>/<stem>.input.npy" (malloc'ed). */
char *cli_input_npy_path(const char *out, const char *stem);
void cli_image_free(cli_image *img);

/* Nearest-neighbour index map from `n_out` destination samples to `n_in` sources
 * (half-pixel centres). */
static inline int64_t cli_nearest(int64_t i, int64_t n_in, int64_t n_out) {
  int64_t s = ((2 * i + 1) * n_in) / (2 * n_out);
  return s < n_in ? s : n_in - 1;
}

double cli_now(void);
const char *cli_layout_name(segcam_layout l);
const char *cli_output_kind_name(segcam_output_kind k);
const char *cli_final_activation_name(int a);
/* "[1,3,-1,-1]" */
void cli_dims_str(char *buf, size_t cap, const int64_t *d, int n);

/* --class-names FILE: one name per line. */
typedef struct cli_names {
  size_t n;
  char **names;
} cli_names;
int cli_names_load(const char *path, cli_names *out);
void cli_names_free(cli_names *n);
const char *cli_name(const cli_names *n, int64_t k);

/* ---- JSON reports (cli/report.c) ------------------------------------------------------------ */
struct cJSON;
/* The fields every report starts with: version, command, model, input, preprocessing. */
struct cJSON *cli_report_new(const char *command, const cli_model *m, const cli_prep *pp);
struct cJSON *cli_report_image(const cli_image *img, const char *path);
struct cJSON *cli_json_dims(const int64_t *d, int n);
int cli_report_write(struct cJSON *root, const char *path);
/* Ends a command's report: attaches the per-image array to root (or drops it when root is NULL),
 * writes <out>/<name> unless an error already happened, turns failed inputs into CLI_FAIL, and
 * frees root. Returns the command's exit code. */
int cli_report_finish(struct cJSON *root, struct cJSON *jimages, const char *out,
                      const char *name, int rc, int failed, size_t n_inputs);

/* commands; cli_help(NULL) is the general help */
int cli_help(const char *cmd);
int cli_cmd_layers(int argc, char **argv);
int cli_cmd_predict(int argc, char **argv);
int cli_cmd_explain(int argc, char **argv);

#endif
