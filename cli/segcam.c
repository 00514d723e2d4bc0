/* segcam: the command-line front end.  `segcam layers` lists a model's layers, `segcam predict`
 * writes the predicted class mask, `segcam explain` writes Grad-CAM maps (docs/CLI.md).
 *
 * This file holds the dispatcher, the help texts and `layers`; predict and explain live in
 * cli/predict.c and cli/explain.c, the shared input pipeline in cli/input.c. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char HELP_MAIN[] =
    "segcam " SEGCAM_VERSION " - Grad-CAM explanations for semantic-segmentation networks\n"
    "\n"
    "usage: segcam <command> [options]\n"
    "\n"
    "commands:\n"
    "  layers MODEL     list the model's layers with output shapes; marks the default target\n"
    "  predict          write the predicted class mask and class pixel counts\n"
    "  explain          write Grad-CAM heatmaps, overlays, raw maps (.npy) and summary.json\n"
    "  help [COMMAND]   this text, or a command's help\n"
    "\n"
    "  segcam --version prints the version.  segcam <command> --help explains a command.\n"
    "  Models: ONNX (.onnx), Keras (.h5, .keras); the format is read from the file's content.\n"
    "  Exit status: 0 success, 1 an error (one line on stderr), 2 a usage error.\n";

static const char HELP_PREP[] =
    "preprocessing (images; a .npy input is used as it is, see below):\n"
    "  --channels MODE      rgb | bgr | gray | keep. Default from the model's input channels:\n"
    "                       1 -> gray (0.299R+0.587G+0.114B), 3 -> rgb, other -> keep (the\n"
    "                       image's own channels, which must then equal the model's)\n"
    "  --scale S            multiply pixel values (0..255) by S (default 0.00392156862745098,\n"
    "                       i.e. 1/255)\n"
    "  --mean M[,M...]      subtract, per channel, after scaling: (x*scale - mean) / std\n"
    "  --std S[,S...]       divide, per channel, after subtracting the mean (default: none)\n"
    "  --layout nchw|nhwc   the input's layout when the guess is wrong (ambiguous shapes)\n"
    "  --size HxW           input size for models with a dynamic height/width. Default: the\n"
    "                       image size rounded to the nearest multiple of 32 (at least 32), since\n"
    "                       U-Nets need sizes divisible by 2^levels. Images are resized to the\n"
    "                       input size (bilinear, half-pixel centres); maps and masks are written\n"
    "                       at the original image size.\n"
    "  --threads N          worker threads (default: all cores)\n"
    "  --save-input         also write each model input as <stem>.input.npy (float32, the\n"
    "                       model's layout with batch 1) to compare preprocessing with others\n"
    "\n"
    "inputs:\n"
    "  --image may be a PNG or JPEG (gray, gray+alpha, RGB, RGBA; 8 or 16 bit), a NumPy .npy\n"
    "  array, or a directory (every .png/.jpg/.jpeg/.npy in it, sorted by name; outputs are named\n"
    "  by each file's stem; a failing file is reported and the others continue; the exit status\n"
    "  is 1 if any failed). --image may be given several times.\n"
    "  A .npy array (float32/float64/uint8/...) is the model input as it is: no resize, no\n"
    "  scaling. Shapes: the model's layout with or without the batch ([1,C,H,W] or [C,H,W]\n"
    "  for NCHW, [1,H,W,C] or [H,W,C] for NHWC), HxWxC (transposed when the model is NCHW),\n"
    "  or HxW for 1-channel models. Its H and W set the input size of a dynamic model and\n"
    "  must equal a fixed one.\n";

static const char HELP_LAYERS[] =
    "usage: segcam layers MODEL [--size HxW] [--layout nchw|nhwc]\n"
    "\n"
    "Lists every layer (ONNX node or Keras layer) with its index, name, type, output shape\n"
    "(batch 1), number of weights and role marks:\n"
    "  default      the layer `segcam explain` uses unless --layer is given (the last conv\n"
    "               block before the model's final upsampling step)\n"
    "  candidate    a conv feature map that makes a good Grad-CAM target\n"
    "  bottleneck   the lowest-resolution feature map (--layer bottleneck)\n"
    "  head         the classifier head (its map is the prediction itself)\n"
    "  output       produces the model output\n"
    "\n"
    "options:\n"
    "  --size HxW           input size used to compute shapes when the model's input height/width\n"
    "                       are dynamic (default 256x256, with a note)\n"
    "  --layout nchw|nhwc   override the guessed input layout\n"
    "  -h, --help           this help\n";

static const char HELP_PREDICT[] =
    "usage: segcam predict --model MODEL --image IMAGE|DIR --out DIR [options]\n"
    "\n"
    "Runs the model and writes, for each image, in DIR (created if missing):\n"
    "  <stem>.mask.png     the predicted class per pixel, one colour per class (0 is black),\n"
    "                      at the original image size (nearest-neighbour from the model output)\n"
    "  <stem>.labels.png   the class index per pixel as 8-bit gray (models with <= 256 classes)\n"
    "  predict.json        per image and class: pixel counts (they sum to width*height)\n"
    "and prints the class pixel counts. A single-channel output is binary (label 1 where the\n"
    "logit > 0, or the probability > 0.5 after a sigmoid). A classifier prints its scores.\n"
    "\n"
    "options:\n"
    "  --model FILE         the model (.onnx, .h5, .keras)\n"
    "  --image FILE|DIR     input image(s) or .npy array(s)\n"
    "  --out DIR            output directory\n"
    "  --class-names FILE   one class name per line (for printing and predict.json)\n"
    "  -h, --help           this help\n"
    "\n";

static const char HELP_EXPLAIN[] =
    "usage: segcam explain --model MODEL --image IMAGE|DIR --class K|K1,K2|all --out DIR "
    "[options]\n"
    "\n"
    "Seg-Grad-CAM: for each class, the score S = sum over a region of the class output (logits\n"
    "by default) is differentiated with respect to a layer's activations; all classes share one\n"
    "forward pass. Writes in DIR (created if missing), for each image and class K:\n"
    "  <stem>.class<K>.overlay.png   the map in the colormap blended with the image\n"
    "  <stem>.class<K>.heatmap.png   the map in the colormap alone\n"
    "  <stem>.class<K>.npy           the map, float32 [H, W] at the image size, normalised\n"
    "and summary.json (model, layer, method, per image and class: region pixels, score, map\n"
    "statistics, energy in the region, files, timings, warnings).\n"
    "\n"
    "options:\n"
    "  --model FILE         the model (.onnx, .h5, .keras)\n"
    "  --image FILE|DIR     input image(s) or .npy array(s)\n"
    "  --out DIR            output directory\n"
    "  --class LIST         class index, comma-separated indices, or 'all' (required). For a\n"
    "                       single-channel (binary) output the only class is 0.\n"
    "  --layer L            layer name (as `segcam layers` prints it, or an ONNX output tensor\n"
    "                       name), #INDEX, 'default' or 'bottleneck' (default: default)\n"
    "  --method M           gradcam | hirescam | gradcam-elementwise | xgradcam | layercam |\n"
    "                       gradcam++ (default gradcam)\n"
    "  --region R           predicted (pixels predicted as the class; default) | all\n"
    "  --mask FILE          region = the nonzero pixels of this PNG/JPEG or .npy [H,W] array\n"
    "                       (resized, nearest, to the model output size)\n"
    "  --probabilities      score on the probabilities instead of the logits (before a final\n"
    "                       softmax/sigmoid)\n"
    "  --upsample U         bilinear | bicubic | nearest (default bilinear)\n"
    "  --normalize N        minmax (per map, default) | max | none (raw values in the .npy) |\n"
    "                       shared (one min-max scale over the classes of an image)\n"
    "  --colormap C         jet | turbo | viridis | inferno | gray (default jet)\n"
    "  --alpha A            overlay = (1-A)*colormap + A*image, 0..1 (default 0.5)\n"
    "  --class-names FILE   one class name per line (used in summary.json and printed output)\n"
    "  -h, --help           this help\n"
    "\n";

int cli_help(const char *cmd) {
  if (!cmd) return fputs(HELP_MAIN, stdout), CLI_OK;
  if (strcmp(cmd, "layers") == 0) return fputs(HELP_LAYERS, stdout), CLI_OK;
  /* the preprocessing part is shared, and kept apart: C11 promises string literals of 4095 bytes */
  if (strcmp(cmd, "predict") == 0 || strcmp(cmd, "explain") == 0) {
    fputs(cmd[0] == 'p' ? HELP_PREDICT : HELP_EXPLAIN, stdout);
    fputs(HELP_PREP, stdout);
    return CLI_OK;
  }
  return cli_usage(NULL, "unknown command '%s'", cmd);
}

/* ---- layers --------------------------------------------------------------------------------- */

static void roles_str(unsigned r, char *buf, size_t cap) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{SEGCAM_ROLE_DEFAULT, "default"},
               {SEGCAM_ROLE_CANDIDATE, "candidate"},
               {SEGCAM_ROLE_BOTTLENECK, "bottleneck"},
               {SEGCAM_ROLE_HEAD, "head"},
               {SEGCAM_ROLE_OUTPUT, "output"}};
  buf[0] = '\0';
  size_t k = 0;
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if ((r & names[i].bit) && k < cap)
      k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? "," : "", names[i].name);
}

int cli_cmd_layers(int argc, char **argv) {
  enum { O_HELP = 1, O_MODEL };
  static const cli_opt opts[] = {{"--help", 0, O_HELP},
                                 {"-h", 0, O_HELP},
                                 {"--model", 1, O_MODEL},
                                 CLI_PREP_OPTS,
                                 {NULL, 0, 0}};
  cli_parser p = {argc, argv, 0, "layers"};
  cli_prep pp;
  cli_prep_init(&pp);
  const char *model = NULL, *v;
  int id;
  while ((id = cli_next(&p, opts, &v)) != CLI_ARG_END) {
    if (id == CLI_ARG_ERROR) return CLI_USAGE;
    if (id == O_HELP) return cli_help("layers");
    if (id == CLI_ARG_POSITIONAL || id == O_MODEL) {
      if (model) return cli_usage("layers", "more than one model given ('%s' and '%s')", model, v);
      model = v;
    } else if (id == CLI_OPT_SIZE || id == CLI_OPT_LAYOUT || id == CLI_OPT_THREADS) {
      if (cli_prep_option(&pp, id, v, "layers")) return CLI_USAGE;
    } else {
      return cli_usage("layers", "option %s does not apply to layers", argv[p.i - 1]);
    }
  }
  if (!model) return cli_usage("layers", "no model given");
  cli_set_threads(pp.threads);

  cli_model m;
  if (cli_model_open(&m, model, &pp)) return CLI_FAIL;
  const segcam_input_info *in = &m.info;
  int64_t h = -1, w = -1;
  int dyn = 0;
  if (in->ndim >= 3) {
    int hi = in->ndim == 3 ? 1 : (in->layout == SEGCAM_LAYOUT_NCHW ? 2 : 1);
    dyn = in->dims[hi] <= 0 || in->dims[hi + 1] <= 0;
    if (pp.size_h)
      h = pp.size_h, w = pp.size_w;
    else if (dyn)
      h = w = 256;
  }
  segcam_session *ss = NULL;
  if (segcam_session_create(m.model, h, w, &ss)) {
    cli_model_close(&m);
    return cli_lib_error();
  }
  char decl[128], used[128];
  cli_dims_str(decl, sizeof decl, in->dims, in->ndim);
  int nd;
  int64_t dims[SEGCAM_MAX_DIMS];
  segcam_session_input_shape(ss, &nd, dims);
  cli_dims_str(used, sizeof used, dims, nd);
  printf("model: %s (%s)\n", segcam_model_path(m.model), segcam_model_format(m.model));
  printf("input: '%s' %s %s, shapes below for %s\n", in->name, decl, cli_layout_name(in->layout),
         used);
  if (dyn && !pp.size_h)
    cli_note("%s: the input height/width are dynamic; shapes are shown for 256x256 (use --size "
             "HxW)",
             model);

  size_t n = segcam_session_num_layers(ss);
  int name_w = 4, type_w = 4, shape_w = 12;
  for (size_t i = 0; i < n; i++) {
    segcam_layer L;
    if (segcam_session_layer(ss, i, &L)) continue;
    char sh[128];
    cli_dims_str(sh, sizeof sh, L.shape, L.ndim);
    int a = (int)strlen(L.name), b = (int)strlen(L.type), c = (int)strlen(sh);
    name_w = a > name_w ? (a < 60 ? a : 60) : name_w;
    type_w = b > type_w ? (b < 24 ? b : 24) : type_w;
    shape_w = c > shape_w ? c : shape_w;
  }
  printf("\n%5s  %-*s  %-*s  %-*s  %10s  %s\n", "#", name_w, "name", type_w, "type", shape_w,
         "output shape", "params", "roles");
  int64_t total = 0;
  long def = -1;
  segcam_layer D;
  memset(&D, 0, sizeof D);
  for (size_t i = 0; i < n; i++) {
    segcam_layer L;
    if (segcam_session_layer(ss, i, &L)) {
      segcam_session_free(ss);
      cli_model_close(&m);
      return cli_lib_error();
    }
    char sh[128], roles[96];
    cli_dims_str(sh, sizeof sh, L.shape, L.ndim);
    roles_str(L.roles, roles, sizeof roles);
    printf("%5zu  %-*s  %-*s  %-*s  %10lld%s%s\n", i, name_w, L.name, type_w, L.type, shape_w, sh,
           (long long)L.params, roles[0] ? "  " : "", roles);
    total += L.params;
    if ((L.roles & SEGCAM_ROLE_DEFAULT) && def < 0) def = (long)i, D = L;
  }
  printf("\n%zu layers, %lld parameters\n", n, (long long)total);
  if (def >= 0) {
    char sh[128];
    cli_dims_str(sh, sizeof sh, D.shape, D.ndim);
    printf("default layer: #%ld %s (%s %s)\n", def, D.name, D.type, sh);
  } else {
    printf("default layer: none (name one with --layer)\n");
  }
  cli_flush_warnings(model, NULL, NULL);
  segcam_session_free(ss);
  cli_model_close(&m);
  return CLI_OK;
}

/* ---- main ----------------------------------------------------------------------------------- */

/* Between parallel regions libgomp's threads spin (by default ~300000 iterations) and then sleep.
 * Long spins are fastest on an idle machine but collapse when other processes compete for the
 * cores (the demo forward went from 16 ms to 400 ms at load 7); OMP_WAIT_POLICY=passive never
 * spins and is robust, but pays a wake-up per region (1.6x on the small demo model).  A short
 * spin, GOMP_SPINCOUNT=3000, measured as fast as the default when idle and as robust as passive
 * under load (docs/PERFORMANCE.md).  The runtime reads these once when it loads, so the command
 * sets the spin count for itself by running itself again; a user's own OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT is left alone. */
static void prefer_short_spin(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", "3000", 1) != 0) return;
  execv("/proc/self/exe", argv);
  /* exec failed: carry on with the runtime's default policy */
}

int main(int argc, char **argv) {
  prefer_short_spin(argv);
  if (argc < 2) {
    fputs(HELP_MAIN, stderr);
    return CLI_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0) {
    printf("segcam %s\n", SEGCAM_VERSION);
    return CLI_OK;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
    return cli_help(argc > 2 ? argv[2] : NULL);
  if (strcmp(cmd, "layers") == 0) return cli_cmd_layers(argc - 2, argv + 2);
  if (strcmp(cmd, "predict") == 0) return cli_cmd_predict(argc - 2, argv + 2);
  if (strcmp(cmd, "explain") == 0) return cli_cmd_explain(argc - 2, argv + 2);
  return cli_usage(NULL, "unknown command '%s'", cmd);
}
