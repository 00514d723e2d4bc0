/* Choosing the Grad-CAM target layer (../shared/docs/CAM_METHODS.md §4).
 *
 * A "conv block" is a convolution followed by the ops that finish it (BatchNorm, LayerNorm —
 * which ONNX InstanceNorm becomes —, activation, Dropout/Identity) along a single-consumer chain;
 * its output is what users mean by "the conv layer" (Keras Conv2D(activation=...) outputs are
 * post-activation, PyTorch users hook the block module).  Roles:
 *   candidate   every conv block feeding the output
 *   head        the last block when its channels are the output classes (before or after the
 *               final upsampling)
 *   default     the last block before the final upsampling step (falling back to the last block
 *               before the head when nothing upsamples)
 *   bottleneck  the block with the lowest spatial resolution (the last of them) */
#include <stdlib.h>

#include "api/api.h"
#include "ops/ops.h"

static int consumers(const sc_graph *g, int v, int *only) {
  int c = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_in; k++)
      if (g->nodes[i].in[k] == v) c++, *only = i;
  return c;
}

static int finishes_block(const sc_node *n) {
  switch (n->op) {
  case SC_OP_BATCHNORM: case SC_OP_LAYERNORM: case SC_OP_PRELU: case SC_OP_IDENTITY: return 1;
  case SC_OP_ACT: {
    sc_act_kind k = ((const sc_act_params *)n->params)->kind;
    return k != SC_ACT_SIGMOID && k != SC_ACT_FLOOR;
  }
  default: return 0;
  }
}

static int64_t spatial(const sc_tensor *t) {
  return t->shape.ndim == 4 ? t->shape.d[2] * t->shape.d[3] : -1;
}

void sc_assign_roles(segcam_session *ss) {
  const sc_graph *g = &ss->model->g;
  int nn = g->n_nodes, nl = ss->n_layers;
  int *layer_of = malloc(sizeof(int) * (size_t)(nn + 1));
  unsigned char *anc = calloc((size_t)g->n_values + 1, 1);
  int *block_end = malloc(sizeof(int) * (size_t)(nl + 1)); /* per layer: is a block output */
  if (!layer_of || !anc || !block_end) goto done;
  for (int i = 0; i < nn; i++) layer_of[i] = -1;
  for (int l = 0; l < nl; l++) layer_of[ss->layer_node[l]] = l, block_end[l] = -1;

  anc[g->outputs[0]] = 1;
  for (int i = nn - 1; i >= 0; i--) {
    const sc_node *n = &g->nodes[i];
    int any = 0;
    for (int j = 0; j < n->n_out; j++) any |= anc[n->out[j]];
    if (any)
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0) anc[n->in[k]] = 1;
  }
  for (int l = 0; l < nl; l++)
    if (g->nodes[ss->layer_node[l]].out[0] == g->outputs[0]) ss->roles[l] |= SEGCAM_ROLE_OUTPUT;

  int kind, final_act = sc_session_final_activation(ss->s, &kind);
  /* the final upsampling step: the last resize / strided transposed conv / DepthToSpace (pixel
   * shuffle) / MaxUnpool feeding the output */
  int last_up = -1;
  for (int i = 0; i < nn; i++) {
    const sc_node *n = &g->nodes[i];
    if ((n->op != SC_OP_RESIZE && n->op != SC_OP_CONV_TRANSPOSE && n->op != SC_OP_DEPTH_SPACE &&
         n->op != SC_OP_MAXUNPOOL) ||
        !anc[n->out[0]])
      continue;
    const sc_tensor *x = sc_session_tensor(ss->s, n->in[0]), *y = sc_session_tensor(ss->s, n->out[0]);
    if (spatial(x) > 0 && spatial(y) > spatial(x)) last_up = i;
  }
  /* blocks, in node order */
  int n_blocks = 0, last_block = -1, head = -1;
  for (int i = 0; i < nn; i++) {
    const sc_node *n = &g->nodes[i];
    if (n->op != SC_OP_CONV || !anc[n->out[0]]) continue;
    if (sc_session_tensor(ss->s, n->out[0])->shape.ndim != 4) continue;
    int end = i, cur = i, nxt;
    while (consumers(g, g->nodes[cur].out[0], &nxt) == 1 && finishes_block(&g->nodes[nxt]) &&
           nxt != final_act)
      cur = nxt, end = layer_of[cur] >= 0 ? cur : end;
    /* an unnamed node is a helper of the layer that follows it (a Keras Conv2D with a fused
     * activation is a conv node + the named activation node): the layer's output is that one */
    while (layer_of[end] < 0 && !g->nodes[end].name &&
           consumers(g, g->nodes[end].out[0], &nxt) == 1)
      end = nxt;
    if (layer_of[end] < 0) continue;
    int l = layer_of[end];
    ss->roles[l] |= SEGCAM_ROLE_CANDIDATE;
    block_end[l] = i; /* remember the conv that starts it */
    n_blocks++;
    last_block = l;
  }
  if (!n_blocks) goto done;
  /* head: the last block when its channels are the classes — after the final upsampling (a U-Net's
   * 1x1 classifier) or before it (FCN / DeepLab heads whose logits are resized to the input) */
  {
    const sc_tensor *t = sc_session_tensor(ss->s, sc_layer_value(ss, (size_t)last_block));
    int64_t k = t->shape.d[1];
    if ((k == ss->out.classes || (ss->out.kind == SEGCAM_OUTPUT_BINARY && k == 1)) &&
        ss->out.kind != SEGCAM_OUTPUT_CLASSIFIER)
      head = last_block, ss->roles[head] |= SEGCAM_ROLE_HEAD;
  }
  int def = -1;
  for (int l = 0; l < nl; l++) {
    if (!(ss->roles[l] & SEGCAM_ROLE_CANDIDATE) || l == head) continue;
    if (last_up >= 0 && ss->layer_node[l] >= last_up) continue;
    def = l;
  }
  if (def < 0) def = head >= 0 ? head : last_block;
  ss->roles[def] |= SEGCAM_ROLE_DEFAULT;
  int64_t best = -1;
  int bott = -1;
  for (int l = 0; l < nl; l++) {
    if (!(ss->roles[l] & SEGCAM_ROLE_CANDIDATE) || l == head) continue;
    int64_t a = spatial(sc_session_tensor(ss->s, sc_layer_value(ss, (size_t)l)));
    if (best < 0 || a <= best) best = a, bott = l;
  }
  if (bott >= 0) ss->roles[bott] |= SEGCAM_ROLE_BOTTLENECK;
done:
  free(layer_of);
  free(anc);
  free(block_end);
}
