/* A session: one graph at one input size.
 *
 * Creating a session infers every shape, folds whatever can be computed before the run (constants
 * and the shape arithmetic exporters emit around Resize), and plans memory once: every activation
 * gets an offset in one arena, and a buffer is reused once its last reader has run — except
 * values the reverse pass reads (sc_opdef.bw_needs), graph inputs and outputs, and values the
 * caller asked to keep, which live until the end of the run.
 *
 * The reverse pass runs only the nodes on a path from the requested values to output 0, computes
 * data gradients only, and can be repeated with different seeds after one forward pass (one per
 * class). Its gradient buffers are planned the same way, in reverse order. */
#ifndef SC_SESSION_H
#define SC_SESSION_H

#include "graph/graph.h"
#include "ops/ops.h"

typedef struct sc_session sc_session;

/* input_shapes: one per graph input (g->inputs order). `keep`: value indices whose data must
 * stay readable after the run (may be NULL/0). */
segcam_status sc_session_create(const sc_graph *g, const sc_shape *input_shapes, const int *keep,
                                int n_keep, sc_session **out);
void sc_session_free(sc_session *s);

/* Adds values to keep and re-plans (activations are lost: run again). */
segcam_status sc_session_keep(sc_session *s, const int *values, int n);
int sc_session_is_kept(const sc_session *s, int value);

segcam_status sc_session_set_input(sc_session *s, int input_index, const float *data, size_t n);
segcam_status sc_session_forward(sc_session *s);

/* Shape/dtype of any value, and its data when it is constant, folded, or kept/live after a run
 * (data NULL otherwise). */
const sc_tensor *sc_session_tensor(const sc_session *s, int value);
/* 1 if the value is known before the run (a constant, or folded). */
int sc_session_is_const(const sc_session *s, int value);

/* Index of a trailing Softmax/Sigmoid node that only layout ops (Transpose, Reshape, Identity)
 * separate from output 0, or -1.  *kind = 1 softmax, 2 sigmoid. */
int sc_session_final_activation(const sc_session *s, int *kind);

/* Reverse pass from output 0 with gradient `seed` (size of output 0) to each target value;
 * grads[i] (caller buffers, the target's size) receive dS/d(target).  With
 * through_final_activation, the trailing activation (see above) is treated as the identity, so
 * the seed applies to the logits. Requires a forward run. */
segcam_status sc_session_backward(sc_session *s, const float *seed, int n_targets,
                                  const int *target_values, float **grads,
                                  int through_final_activation);

/* How node ni runs in the current plan (for tests and benchmarks): SC_RUN_* bits. */
#define SC_RUN_FOLDED 1u /* computed before the run */
#define SC_RUN_SKIPPED 2u /* fused into another node */
#define SC_RUN_FUSED 4u   /* runs with other nodes fused into it */
#define SC_RUN_KERNEL 8u  /* prepare() made a kernel object (the oneDNN convolution path) */
unsigned sc_session_node_run(const sc_session *s, int ni);

/* Per-node timing (bench/profile_nodes.c): on = 1 starts accumulating each node's seconds in
 * forward and in backward (from zero); 0 stops. */
segcam_status sc_session_profile(sc_session *s, int on);
void sc_session_node_seconds(const sc_session *s, int ni, double *fwd, double *bwd);

/* Bytes planned for activations, gradients and scratch (the gradient part of the last plan). */
size_t sc_session_bytes(const sc_session *s);

const sc_graph *sc_session_graph(const sc_session *s);

#endif
