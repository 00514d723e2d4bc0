/* DepthToSpace and SpaceToDepth on NCHW float tensors (one op, sc_depth_space_params): block
 * rearrangements between the depth form [N, C*b*b, H, W] and the space form [N, C, H*b, W*b], in
 * DCR or CRD channel order (ops.h; ONNX Operators.md DepthToSpace-1/11/13, SpaceToDepth-1/13).
 * PyTorch exports nn.PixelShuffle as DepthToSpace with mode CRD from opset 11 on.
 *
 * Both are permutations of the elements, so the VJP is the inverse permutation: the backward
 * moves the output gradient back along the same index map, accumulating.  Each (n, c, i, j) task
 * owns one depth plane and one (i, j) sub-lattice of a space plane, so tasks never write the same
 * element. */
#include <inttypes.h>
#include <stdint.h>

#include "ops/ops.h"

/* state i[]: N, C (space channels), H, W (depth-form spatial size), b, crd */
typedef struct ds_geom {
  int64_t N, C, H, W, b, crd;
} ds_geom;

static ds_geom geom_load(const sc_node_state *st) {
  ds_geom g = {st->i[0], st->i[1], st->i[2], st->i[3], st->i[4], st->i[5]};
  return g;
}

static segcam_status depth_space_infer(sc_opctx *c) {
  const sc_depth_space_params *p = c->node->params;
  if (!p)
    return sc_node_error(c, SEGCAM_E_INTERNAL, "missing DepthToSpace/SpaceToDepth parameters");
  if (c->node->n_in < 1 || !c->in[0] || c->node->n_out < 1 || !c->out[0])
    return sc_node_error(c, SEGCAM_E_INTERNAL, "needs one input and one output");
  const sc_tensor *x = c->in[0];
  SC_TRY(sc_check_tensor(c, x, "input", SC_DT_F32));
  if (x->shape.ndim != 4)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input must be [N,C,H,W], got rank %d", x->shape.ndim);
  const int64_t b = p->blocksize, N = x->shape.d[0], C = x->shape.d[1];
  const int64_t H = x->shape.d[2], W = x->shape.d[3];
  if (b < 1 || b > 32768)
    return sc_node_error(c, SEGCAM_E_FORMAT, "blocksize %" PRId64 " is not in [1, 32768]", b);
  if (N < 1 || C < 1 || H < 1 || W < 1)
    return sc_node_error(c, SEGCAM_E_SHAPE, "input has an empty dimension");
  ds_geom g;
  sc_tensor *y = c->out[0];
  y->dtype = SC_F32;
  y->shape.ndim = 4;
  y->shape.d[0] = N;
  if (p->to_space) {
    if (C % (b * b))
      return sc_node_error(
          c, SEGCAM_E_SHAPE,
          "%" PRId64 " input channels are not a multiple of blocksize^2 = %" PRId64, C, b * b);
    g = (ds_geom){N, C / (b * b), H, W, b, p->crd != 0};
    y->shape.d[1] = g.C;
    y->shape.d[2] = H * b;
    y->shape.d[3] = W * b;
  } else {
    if (H % b || W % b)
      return sc_node_error(c, SEGCAM_E_SHAPE,
                           "input height %" PRId64 " and width %" PRId64
                           " must be multiples of blocksize %" PRId64,
                           H, W, b);
    g = (ds_geom){N, C, H / b, W / b, b, p->crd != 0};
    y->shape.d[1] = C * b * b;
    y->shape.d[2] = g.H;
    y->shape.d[3] = g.W;
  }
  const int64_t v[6] = {g.N, g.C, g.H, g.W, g.b, g.crd};
  for (int i = 0; i < 6; i++) c->state->i[i] = v[i];
  return SEGCAM_OK;
}

/* Moves every element between the forms: src_is_depth ? space <- depth : depth <- space, with
 * `acc` adding into the destination instead of assigning. */
static void depth_space_move(const ds_geom *g, const float *src, float *dst, int src_is_depth,
                             int acc) {
  const int64_t b = g->b, C = g->C, H = g->H, W = g->W, Wb = W * b;
  const int64_t tasks = g->N * C * b * b, plane = H * W;
#pragma omp parallel for schedule(static) if (tasks * plane > 16384)
  for (int64_t t = 0; t < tasks; t++) {
    const int64_t j = t % b, i = t / b % b, c = t / (b * b) % C, n = t / (b * b * C);
    const int64_t dc = g->crd ? c * b * b + i * b + j : (i * b + j) * C + c;
    const int64_t doff = (n * C * b * b + dc) * plane;             /* depth plane */
    const int64_t soff = (n * C + c) * plane * b * b + i * Wb + j; /* first (i, j) cell */
    for (int64_t h = 0; h < H; h++) {
      const int64_t drow = doff + h * W, srow = soff + h * b * Wb;
      if (src_is_depth) {
        const float *s = src + drow;
        float *d = dst + srow;
        if (acc)
          for (int64_t w = 0; w < W; w++) d[w * b] += s[w];
        else
          for (int64_t w = 0; w < W; w++) d[w * b] = s[w];
      } else {
        const float *s = src + srow;
        float *d = dst + drow;
        if (acc)
          for (int64_t w = 0; w < W; w++) d[w] += s[w * b];
        else
          for (int64_t w = 0; w < W; w++) d[w] = s[w * b];
      }
    }
  }
}

static segcam_status depth_space_forward(sc_opctx *c) {
  const sc_depth_space_params *p = c->node->params;
  const ds_geom g = geom_load(c->state);
  depth_space_move(&g, c->in[0]->data, c->out[0]->data, p->to_space, 0);
  return SEGCAM_OK;
}

/* The inverse permutation of the forward, accumulated into din[0]. */
static segcam_status depth_space_backward(sc_opctx *c) {
  if (!c->din[0]) return SEGCAM_OK;
  const sc_depth_space_params *p = c->node->params;
  const ds_geom g = geom_load(c->state);
  depth_space_move(&g, c->dout[0], c->din[0], !p->to_space, 1);
  return SEGCAM_OK;
}

const sc_opdef sc_op_depth_space = {.name = "depth_space",
                                    .infer = depth_space_infer,
                                    .forward = depth_space_forward,
                                    .backward = depth_space_backward};
