/* Internal ops: the op table, the kernel interface, and every op's parameter struct.
 *
 * An op is a set of functions side by side in one file: infer (output shapes, validation,
 * per-session resolved parameters, scratch size), forward, and backward (the vector-Jacobian
 * product for data inputs only; never weight gradients).  Loaders fill the parameter structs;
 * kernels never see file formats.
 *
 * Dimension letters: N batch, C input channels, K output channels, H/W spatial (input),
 * P/Q spatial (output), R/S kernel height/width, G groups. */
#ifndef SC_OPS_H
#define SC_OPS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "graph/graph.h"

enum {
#define SC_OP(E, n) SC_OP_##E,
#include "ops/ops.def"
#undef SC_OP
  SC_OP_COUNT
};

#define SC_MAX_IO 8

typedef struct sc_tensor {
  sc_dtype dtype;
  sc_shape shape;
  void *data; /* float* or int64_t*; at infer time non-NULL only for constants */
} sc_tensor;

/* Per-session, per-node resolved parameters (e.g. 'SAME' padding for this input size). */
typedef struct sc_node_state {
  int64_t i[32];
  double f[16];
  void *priv;                /* kernel objects made by sc_opdef.prepare (e.g. oneDNN primitives) */
  void (*priv_free)(void *); /* frees priv; called when the session is re-planned or freed */
} sc_node_state;

enum { SC_FUSE_NONE = 0, SC_FUSE_RELU, SC_FUSE_CLIP };

/* What the session asks an op's prepare() to fuse into it (plan time): a BatchNormalization
 * (inference, constant parameters) on its output, then a (leaky) ReLU or a Clip.  The fused node
 * writes the last fused node's output; the intermediates are never materialised. */
typedef struct sc_fusion {
  const sc_tensor *bn_scale, *bn_bias, *bn_mean, *bn_var; /* bn_var NULL: no BatchNorm; scale or
                                                             bias NULL: 1 or 0 */
  float bn_epsilon;
  int act;          /* SC_FUSE_* */
  float alpha;      /* SC_FUSE_RELU: y = x > 0 ? x : alpha * x (alpha >= 0) */
  float lo, hi;     /* SC_FUSE_CLIP: y = min(max(x, lo), hi), lo < hi */
} sc_fusion;

typedef struct sc_opctx {
  const sc_graph *graph;           /* for error messages (graph->path) */
  const sc_node *node;
  sc_tensor *in[SC_MAX_IO];        /* NULL where an optional input is omitted */
  sc_tensor *out[SC_MAX_IO];
  int in_const[SC_MAX_IO];         /* input data known before the run (constant or folded) */
  sc_node_state *state;
  size_t scratch_size;             /* infer sets the bytes it needs in forward and backward */
  void *scratch;                   /* forward/backward: scratch_size bytes, 64-byte aligned */
  const float *dout[SC_MAX_IO];    /* backward: gradient w.r.t. each output */
  float *din[SC_MAX_IO];           /* backward: ACCUMULATE (+=) into these; NULL = not needed */
  unsigned din_fresh;              /* backward, ops with SC_OPF_BW_OVERWRITE: bit k set = din[k]
                                    * was not zeroed and this node is its only writer: write
                                    * every element instead of accumulating */
  const sc_fusion *fuse;           /* prepare: what to fuse (NULL: nothing) */
  int fused;                       /* prepare sets 1 when it took `fuse`; forward/backward: 1 when
                                    * this node runs fused (out[0] is then the fused output) */
} sc_opctx;

/* Backward needs (sc_opdef.bw_needs): which data the VJP reads, so the planner keeps it. */
#define SC_NEEDS_IN(i) (1u << (i))
#define SC_NEEDS_OUT(j) (1u << (8 + (j)))

/* Op flags. */
#define SC_OPF_SHAPE_ONLY 1u /* output depends only on input SHAPES: foldable before the run */
#define SC_OPF_BW_OVERWRITE 2u /* backward honours c->din_fresh (the session then skips zeroing) */

typedef struct sc_opdef {
  const char *name;
  /* Sets out[j]->dtype and ->shape from the inputs; validates; may fill c->state and
   * c->scratch_size.  Errors name the node (sc_node_error). */
  segcam_status (*infer)(sc_opctx *c);
  segcam_status (*forward)(sc_opctx *c);
  /* NULL: not differentiable (an error if a gradient must pass through it). */
  segcam_status (*backward)(sc_opctx *c);
  unsigned bw_needs;
  unsigned flags;
  void (*free_params)(void *params); /* NULL: free() */
  /* Optional, at plan time for nodes that run (not folded), after infer: may create kernel
   * objects in c->state->priv, set c->scratch_size, and accept c->fuse (set c->fused). */
  segcam_status (*prepare)(sc_opctx *c);

} sc_opdef;

extern const sc_opdef *const sc_opdefs[SC_OP_COUNT];

/* Sets an error "<file>: node '<name>' (<type>): <message>" and returns status. */
segcam_status sc_node_error(const sc_opctx *c, segcam_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Shared infer-time validation: rank within SEGCAM_MAX_DIMS, no unknown or negative dimension,
 * no absurd element count, and a dtype in `dtypes` (SC_DT_* bits).  Errors name the node. */
#define SC_DT_F32 1u
#define SC_DT_I64 2u
segcam_status sc_check_tensor(const sc_opctx *c, const sc_tensor *t, const char *what,
                              unsigned dtypes);

/* ---- parameter structs ---------------------------------------------------------------------- */

typedef enum sc_autopad {
  SC_PAD_EXPLICIT = 0, /* use pads[] */
  SC_PAD_SAME_UPPER,   /* odd pixel at the end (= TF 'SAME') */
  SC_PAD_SAME_LOWER,   /* odd pixel at the beginning */
  SC_PAD_VALID
} sc_autopad;

/* Conv: inputs X [N,C,H,W], W [K, C/G, R, S], optional B [K].
 * ConvTranspose: inputs X [N,C,H,W], W [C, K/G, R, S], optional B [K].
 * 1-D convolutions are expressed with H = R = 1 by the loader. */
typedef struct sc_conv_params {
  int kernel[2];  /* R, S (0: take from W) */
  int stride[2];
  int dilation[2];
  int pads[4];    /* h_begin, w_begin, h_end, w_end */
  int group;
  sc_autopad auto_pad;
  int output_padding[2];  /* ConvTranspose only */
  int64_t output_shape[2]; /* ConvTranspose only; 0 = not given */
} sc_conv_params;

/* Gemm (ONNX): Y = alpha * A' * B' + beta * C, A' = trans_a ? A^T : A. */
typedef struct sc_gemm_params {
  float alpha, beta;
  int trans_a, trans_b;
} sc_gemm_params;

/* BatchNormalization (inference): inputs X, scale, B, mean, var (constants) on axis 1. */
typedef struct sc_batchnorm_params {
  float epsilon;
} sc_batchnorm_params;

/* BatchNorm's per-channel factor scale / sqrt(var + eps), computed in double and rounded once
 * (scale NULL: 1).  Shared by the BatchNorm kernels and the convolutions that fold it in. */
static inline float sc_bn_factor(const float *scale, const float *var, float eps, int64_t ch) {
  double s = scale ? scale[ch] : 1.0;
  return (float)(s / sqrt((double)var[ch] + (double)eps));
}

/* LayerNormalization: inputs X, scale, optional B; normalises over axes [axis, rank). */
typedef struct sc_layernorm_params {
  int axis;
  float epsilon;
} sc_layernorm_params;

typedef enum sc_act_kind {
  SC_ACT_RELU = 0,
  SC_ACT_LEAKY_RELU,   /* alpha */
  SC_ACT_ELU,          /* alpha */
  SC_ACT_SELU,         /* alpha, beta = gamma */
  SC_ACT_SIGMOID,
  SC_ACT_TANH,
  SC_ACT_CLIP,         /* lo, hi */
  SC_ACT_HARD_SIGMOID, /* max(0, min(1, alpha*x + beta)) */
  SC_ACT_HARD_SWISH,   /* x * max(0, min(1, x/6 + 1/2)) */
  SC_ACT_SOFTPLUS,
  SC_ACT_SOFTSIGN,
  SC_ACT_GELU,         /* exact, erf */
  SC_ACT_GELU_TANH,
  SC_ACT_SWISH,        /* x * sigmoid(x) */
  SC_ACT_EXP,
  SC_ACT_FLOOR,        /* float or int64; not differentiable */
  SC_ACT_NEG,
  SC_ACT_SQRT,
  SC_ACT_ABS,
  SC_ACT_RELU_TF,      /* Keras ReLU(max_value=hi, negative_slope=alpha, threshold=beta);
                        * hi = INFINITY (or <= 0) means no max_value */
  SC_ACT_SCALE_SHIFT,  /* alpha * x + beta (Keras Rescaling) */
  SC_ACT_ERF           /* erf(x): ONNX Erf (PyTorch exports exact GELU with it before opset 20) */
} sc_act_kind;

typedef struct sc_act_params {
  sc_act_kind kind;
  float alpha, beta, lo, hi;
} sc_act_params;

/* After infer, an activation node's state->f[] holds its resolved bounds (Clip's min/max from the
 * attributes or the constant inputs). */
enum { SC_ACT_STATE_LO = 0, SC_ACT_STATE_HI = 1 };

/* PRelu: inputs X, slope (broadcast to X). */

/* Softmax: over `axis`; coerce_2d = 1 for ONNX opset < 13 (all dims from axis on, as one). */
typedef struct sc_softmax_params {
  int axis;
  int coerce_2d;
} sc_softmax_params;

/* ReduceMean/Max/Min/Sum: over `axes` (n_axes > 0) or constant input 1 (int64); negative axes
 * count from the end; no axes = all axes, or the identity with noop_with_empty_axes. */
typedef enum sc_reduce_kind {
  SC_REDUCE_MEAN = 0,
  SC_REDUCE_MAX,
  SC_REDUCE_MIN,
  SC_REDUCE_SUM
} sc_reduce_kind;

typedef struct sc_reduce_params {
  int kind; /* sc_reduce_kind */
  int keepdims;
  int noop_with_empty_axes;
  int n_axes;
  int64_t axes[SEGCAM_MAX_DIMS];
} sc_reduce_params;

/* MaxPool / AveragePool on NCHW.  MaxPool's optional output 1 (Indices, int64) holds each
 * maximum's offset in the whole input, ((n*C + c)*H + h)*W + w, or with storage_order 1
 * (n*C + c)*H*W + w*H + h.  MaxUnpool uses kernel, stride and pads only. */
typedef struct sc_pool_params {
  int kernel[2];
  int stride[2];
  int dilation[2];
  int pads[4];  /* h_begin, w_begin, h_end, w_end */
  sc_autopad auto_pad;
  int ceil_mode;
  int count_include_pad;
  int storage_order;
} sc_pool_params;

/* GlobalAveragePool / GlobalMaxPool on [N,C,H,W] -> [N,C,1,1] (keepdims) or [N,C]. */
typedef struct sc_globalpool_params {
  int is_max;
  int keepdims;
} sc_globalpool_params;

typedef enum sc_resize_mode { SC_RESIZE_NEAREST = 0, SC_RESIZE_LINEAR, SC_RESIZE_CUBIC } sc_resize_mode;
typedef enum sc_coord_mode {
  SC_COORD_HALF_PIXEL = 0,
  SC_COORD_PYTORCH_HALF_PIXEL,
  SC_COORD_ALIGN_CORNERS,
  SC_COORD_ASYMMETRIC,
  SC_COORD_TF_HALF_PIXEL_FOR_NN,
  SC_COORD_TF_CROP_AND_RESIZE,
  SC_COORD_HALF_PIXEL_SYMMETRIC
} sc_coord_mode;
typedef enum sc_nearest_mode {
  SC_NEAREST_ROUND_PREFER_FLOOR = 0,
  SC_NEAREST_ROUND_PREFER_CEIL,
  SC_NEAREST_FLOOR,
  SC_NEAREST_CEIL,
  SC_NEAREST_SIMPLE /* ORT's opset<=10 nearest: ceil when downsampling, else floor */
} sc_nearest_mode;

/* Resize (ONNX 10..19; Upsample 7/9 maps here): inputs X, roi, scales, sizes — any of the last
 * three may be omitted (-1) or given by constants/folded shape arithmetic.  Alternatively the
 * loader fixes the factors: `fixed_scales` (per axis, 0 = none) or `fixed_sizes`. */
typedef struct sc_resize_params {
  sc_resize_mode mode;
  sc_coord_mode coord;
  sc_nearest_mode nearest;
  float cubic_a;
  int exclude_outside;
  float extrapolation_value;
  int n_fixed;
  float fixed_scales[SEGCAM_MAX_DIMS];
  int64_t fixed_sizes[SEGCAM_MAX_DIMS];
} sc_resize_params;

typedef enum sc_binary_kind {
  SC_BIN_ADD = 0,
  SC_BIN_SUB,
  SC_BIN_MUL,
  SC_BIN_DIV,
  SC_BIN_MAX,
  SC_BIN_MIN,
  SC_BIN_POW
} sc_binary_kind;

/* Elementwise with numpy broadcasting; float or int64 (int64 only folded). */
typedef struct sc_binary_params {
  sc_binary_kind kind;
} sc_binary_params;

typedef struct sc_concat_params {
  int axis; /* may be negative */
} sc_concat_params;

typedef enum sc_reshape_kind {
  SC_RESHAPE_SHAPE = 0, /* ONNX Reshape: target from input 1 (or `shape` if n_shape > 0) */
  SC_RESHAPE_FLATTEN,   /* [prod(d < axis), prod(d >= axis)] */
  SC_RESHAPE_SQUEEZE,   /* axes from `axes` or input 1; none = all 1-dims */
  SC_RESHAPE_UNSQUEEZE  /* axes from `axes` or input 1 */
} sc_reshape_kind;

typedef struct sc_reshape_params {
  sc_reshape_kind kind;
  int axis;
  int allowzero;
  int n_shape;
  int64_t shape[SEGCAM_MAX_DIMS];
  int n_axes;
  int64_t axes[SEGCAM_MAX_DIMS];
} sc_reshape_params;

/* DepthToSpace / SpaceToDepth on NCHW with block size b.  The depth form is [N, C*b*b, H, W], the
 * space form [N, C, H*b, W*b]; pixel (h*b + i, w*b + j) of channel c of the space form is pixel
 * (h, w) of depth channel (i*b + j)*C + c (DCR: ONNX's default, and SpaceToDepth's only order) or
 * c*b*b + i*b + j (CRD: PyTorch's PixelShuffle). */
typedef struct sc_depth_space_params {
  int to_space; /* 1: DepthToSpace (depth form in), 0: SpaceToDepth (space form in) */
  int crd;
  int blocksize;
} sc_depth_space_params;

typedef struct sc_transpose_params {
  int n_perm; /* 0 = reverse the axes */
  int perm[SEGCAM_MAX_DIMS];
} sc_transpose_params;

typedef enum sc_pad_mode { SC_PADMODE_CONSTANT = 0, SC_PADMODE_REFLECT, SC_PADMODE_EDGE, SC_PADMODE_WRAP } sc_pad_mode;

/* Pad: pads from `pads` (n_pads > 0) or from input 1; value from `value` or input 2;
 * optional axes input 3 (opset 18). pads = [begin_0.., end_0..]; negative pads crop. */
typedef struct sc_pad_params {
  sc_pad_mode mode;
  float value;
  int n_pads;
  int64_t pads[2 * SEGCAM_MAX_DIMS];
} sc_pad_params;

/* Slice: starts/ends/axes/steps from the params (n > 0, opset < 10) or inputs 1..4. */
typedef struct sc_slice_params {
  int n;
  int64_t starts[SEGCAM_MAX_DIMS], ends[SEGCAM_MAX_DIMS], axes[SEGCAM_MAX_DIMS];
} sc_slice_params;

/* Shape (opset 15 start/end). */
typedef struct sc_shape_params {
  int64_t start, end; /* end = INT64_MAX: to the last dim */
} sc_shape_params;

typedef struct sc_gather_params {
  int axis;
} sc_gather_params;

typedef struct sc_cast_params {
  sc_dtype to;
} sc_cast_params;

/* ConstantOfShape: input = shape (int64); value and dtype. */
typedef struct sc_constant_of_shape_params {
  sc_dtype dtype;
  double value;
} sc_constant_of_shape_params;

#endif
