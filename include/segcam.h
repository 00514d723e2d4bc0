/* segcam — Grad-CAM explanations for semantic-segmentation networks, in C.
 *
 * Overview
 *   segcam_model    an immutable, loaded model (graph + weights). Load once, share across threads.
 *   segcam_session  a per-thread run context for one input size: owns activation and gradient
 *                   memory, planned once when it is created.
 *
 *   segcam_model_load()        ONNX (.onnx) or Keras (.h5 / .keras); the format is detected from
 *                              the file's content, not its name.
 *   segcam_session_create()    fixes the input size (batch 1), infers every shape, plans memory.
 *   segcam_session_run()       forward pass; keeps what the reverse pass needs.
 *   segcam_session_output()    the model output (scores/probabilities) and how to read it.
 *   segcam_explain()           one reverse pass per requested class from that single forward pass,
 *                              then a CAM method, upsampling and normalisation.
 *
 * Conventions
 *   Every fallible call returns a segcam_status; on failure segcam_last_error() (per thread) says
 *   what failed and where ("onnx: model.onnx: node 'Conv_12': unsupported auto_pad 'FOO'").
 *   Constructors set *out = NULL on failure. _free(NULL) is a no-op. The library never prints,
 *   exits or aborts; warnings (e.g. an empty class region) are collected per thread and read with
 *   segcam_warnings().
 *   Tensors are float32, row-major, batch 1. Sizes are int64_t / size_t.
 */
#ifndef SEGCAM_H
#define SEGCAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEGCAM_VERSION "0.1.0"
#define SEGCAM_MAX_DIMS 8

typedef enum segcam_status {
  SEGCAM_OK = 0,
  SEGCAM_E_IO,          /* a file could not be opened, read or written */
  SEGCAM_E_FORMAT,      /* a file is corrupt, truncated or not of the expected kind */
  SEGCAM_E_UNSUPPORTED, /* a valid model uses an op, layer or option segcam cannot run */
  SEGCAM_E_SHAPE,       /* shapes do not fit (input size, channels, op shapes) */
  SEGCAM_E_ARG,         /* an invalid argument: class out of range, unknown layer, ... */
  SEGCAM_E_NOMEM,       /* allocation failed or an absurd size was requested */
  SEGCAM_E_INTERNAL     /* a bug in segcam */
} segcam_status;

const char *segcam_last_error(void);
const char *segcam_status_str(segcam_status status);
/* Newline-separated warnings collected on this thread since the last clear. */
const char *segcam_warnings(void);
void segcam_clear_warnings(void);

/* ---- models -------------------------------------------------------------------------------- */

typedef struct segcam_model segcam_model;

typedef enum segcam_layout {
  SEGCAM_LAYOUT_NCHW = 0, /* channels before the spatial axes (PyTorch, most ONNX exports) */
  SEGCAM_LAYOUT_NHWC = 1  /* channels last (Keras, tf2onnx exports) */
} segcam_layout;

/* The model's (first) input as declared in the file. Dynamic dimensions are -1. */
typedef struct segcam_input_info {
  const char *name;
  int ndim;
  int64_t dims[SEGCAM_MAX_DIMS];
  segcam_layout layout; /* guessed from the dims (a channel axis of 1..4 next to larger ones) */
  int64_t channels, height, width; /* -1 where dynamic or not an image input */
  int signal_1d; /* 1: a 1-D (signal) model, input [N, C, L] or [N, L, C]: its 3-D output is read
                  * as a 1 x L map of classes (segcam_output); the CLI takes images only */
} segcam_input_info;

segcam_status segcam_model_load(const char *path, segcam_model **out);
void segcam_model_free(segcam_model *model);
/* "onnx", "keras-h5" or "keras-zip". */
const char *segcam_model_format(const segcam_model *model);
const char *segcam_model_path(const segcam_model *model);
segcam_status segcam_model_input(const segcam_model *model, segcam_input_info *out);
/* Overrides the guessed input layout (for ambiguous shapes such as 1x3x3x3). */
segcam_status segcam_model_set_input_layout(segcam_model *model, segcam_layout layout);

/* ---- sessions ------------------------------------------------------------------------------ */

typedef struct segcam_session segcam_session;

/* height/width: the input's spatial size; pass -1 to use the size fixed in the model file.
 * Everything else about the input comes from the model. */
segcam_status segcam_session_create(const segcam_model *model, int64_t height, int64_t width,
                                    segcam_session **out);
void segcam_session_free(segcam_session *session);

/* The concrete input shape of this session (model layout, batch 1). */
segcam_status segcam_session_input_shape(const segcam_session *session, int *ndim,
                                         int64_t dims[SEGCAM_MAX_DIMS]);

/* Role flags of a layer, for choosing a Grad-CAM target. */
#define SEGCAM_ROLE_DEFAULT 1u    /* the default Grad-CAM target layer */
#define SEGCAM_ROLE_CANDIDATE 2u  /* a good target: a conv feature map in the decoder/encoder */
#define SEGCAM_ROLE_BOTTLENECK 4u /* the lowest-resolution feature map */
#define SEGCAM_ROLE_HEAD 8u       /* the classifier head (its map is the prediction itself) */
#define SEGCAM_ROLE_OUTPUT 16u    /* produces the model output */

/* A layer as the user sees it: an ONNX node (named by its node name, or its first output name
 * when unnamed) or a Keras layer (named as Keras names it). */
typedef struct segcam_layer {
  const char *name;
  const char *type;   /* ONNX op type or Keras class name */
  int ndim;
  int64_t shape[SEGCAM_MAX_DIMS]; /* output shape, batch 1 */
  unsigned roles;     /* SEGCAM_ROLE_* */
  int64_t params;     /* number of weights */
} segcam_layer;

size_t segcam_session_num_layers(const segcam_session *session);
segcam_status segcam_session_layer(const segcam_session *session, size_t index, segcam_layer *out);
/* Finds a layer by exact name, by index ("#12"), or by role ("default", "bottleneck"). */
segcam_status segcam_session_find_layer(const segcam_session *session, const char *query,
                                        size_t *index);

/* Runs the forward pass on `input` (the session's input shape in the model's layout, batch 1,
 * n = product of dims). */
segcam_status segcam_session_run(segcam_session *session, const float *input, size_t n);

typedef enum segcam_output_kind {
  SEGCAM_OUTPUT_MULTICLASS = 0, /* [1, K, H, W] or [1, H, W, K], K >= 2: argmax gives the class */
  SEGCAM_OUTPUT_BINARY = 1,     /* one channel: logit > 0 (probability > 0.5) is the foreground */
  SEGCAM_OUTPUT_CLASSIFIER = 2  /* [1, K]: image classification */
} segcam_output_kind;

/* The model output after the last segcam_session_run(). `data` stays valid until the next run or
 * until the session is freed. */
typedef struct segcam_output {
  const float *data;
  int ndim;
  int64_t shape[SEGCAM_MAX_DIMS];
  segcam_output_kind kind;
  segcam_layout layout;    /* where the class axis is, for 4-D outputs */
  int64_t classes;         /* K (1 for binary) */
  int64_t height, width;   /* 1 x 1 for classifiers */
  int final_activation;    /* 0 none, 1 softmax, 2 sigmoid: a trailing activation segcam sees */
} segcam_output;

segcam_status segcam_session_output(const segcam_session *session, segcam_output *out);

/* Predicted class per output pixel (height*width bytes/ints; for binary outputs 0/1). */
segcam_status segcam_session_predict(const segcam_session *session, int32_t *labels, size_t n);

/* Keeps a layer's activations readable after each run (the memory plan otherwise reuses their
 * buffer, and may fuse a convolution's BatchNorm/ReLU so that its own output is never stored).
 * Re-plans the session; after a run, runs the last input again so the activations are there. */
segcam_status segcam_session_keep_layer(segcam_session *session, size_t layer);

/* Activations of a layer after the last run (pointer into session memory, valid until the next
 * run). Fails if the memory plan did not keep that layer (see segcam_session_keep_layer). */
segcam_status segcam_session_activation(const segcam_session *session, size_t layer,
                                        const float **data, int *ndim,
                                        int64_t shape[SEGCAM_MAX_DIMS]);

/* Gradient of the score  S = sum_i seed[i] * y[i]  with respect to a layer's activations, where y
 * is the output or, when use_logits != 0, the output before a trailing softmax/sigmoid.
 * seed has the output's size; grad receives the layer's size. Requires a prior run; keeps the
 * layer (segcam_session_keep_layer) if it was not kept. */
segcam_status segcam_session_gradient(segcam_session *session, const float *seed, size_t n_seed,
                                      int use_logits, size_t layer, float *grad, size_t n_grad);

/* ---- Grad-CAM ------------------------------------------------------------------------------ */

typedef enum segcam_method {
  SEGCAM_METHOD_GRADCAM = 0,
  SEGCAM_METHOD_HIRESCAM,
  SEGCAM_METHOD_GRADCAM_ELEMENTWISE,
  SEGCAM_METHOD_XGRADCAM,
  SEGCAM_METHOD_LAYERCAM,
  SEGCAM_METHOD_GRADCAMPP
} segcam_method;

typedef enum segcam_region {
  SEGCAM_REGION_PREDICTED = 0, /* pixels predicted as the class (default) */
  SEGCAM_REGION_ALL,           /* every pixel */
  SEGCAM_REGION_MASK           /* a caller-supplied mask over output pixels */
} segcam_region;

typedef enum segcam_resample {
  SEGCAM_RESAMPLE_BILINEAR = 0, /* half-pixel centres, as TF2 tf.image.resize / OpenCV */
  SEGCAM_RESAMPLE_BICUBIC,      /* TF's a = -0.5, outside taps dropped and renormalised */
  SEGCAM_RESAMPLE_NEAREST
} segcam_resample;

typedef enum segcam_normalize {
  SEGCAM_NORM_MINMAX = 0, /* per map to [0,1]; a constant map becomes zeros */
  SEGCAM_NORM_MAX,        /* divide by the max (zeros when max <= 0) */
  SEGCAM_NORM_NONE,       /* raw values */
  SEGCAM_NORM_SHARED      /* one min-max scale over all requested classes */
} segcam_normalize;

typedef struct segcam_cam_options {
  segcam_method method;          /* default GRADCAM */
  int use_probabilities;         /* 0 (default): score on logits before a trailing softmax/sigmoid */
  segcam_region region;          /* default PREDICTED */
  const uint8_t *mask;           /* REGION_MASK: output height*width bytes, nonzero = in region */
  segcam_resample resample;      /* default BILINEAR */
  segcam_normalize normalize;    /* default MINMAX */
  int64_t out_height, out_width; /* map size; <= 0 means the model input size */
} segcam_cam_options;

void segcam_cam_options_init(segcam_cam_options *options);

/* One class's explanation. Arrays are owned by the struct; release with segcam_cam_release. */
typedef struct segcam_cam {
  int64_t class_index;
  int64_t region_pixels; /* |M|; 0 gives a zero map and a warning */
  double score;          /* S */
  int64_t low_h, low_w;  /* the target layer's spatial size */
  float *low_map;        /* low_h*low_w, raw (after ReLU, before upsampling/normalisation) */
  int64_t height, width; /* map size */
  float *map;            /* height*width, normalised as requested */
  float raw_min, raw_max;   /* of the upsampled raw map, before normalisation */
  double seconds_backward;  /* time of this class's reverse pass */
} segcam_cam;

/* Explains `n_classes` classes at `layer` from the session's last forward run. `cams` must hold
 * n_classes entries. Classes out of range are an error (SEGCAM_E_ARG) before any work is done. */
segcam_status segcam_explain(segcam_session *session, size_t layer, const int64_t *classes,
                             size_t n_classes, const segcam_cam_options *options,
                             segcam_cam *cams);
void segcam_cam_release(segcam_cam *cam);

/* Peak bytes of activation + gradient memory planned for this session. */
size_t segcam_session_memory(const segcam_session *session);

#ifdef __cplusplus
}
#endif
#endif
