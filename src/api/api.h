/* Internal definitions behind the public handles (include/segcam.h).  Shared by src/api (models,
 * sessions, layers, output) and src/cam (explanations). */
#ifndef SC_API_H
#define SC_API_H

#include "graph/graph.h"
#include "graph/session.h"
#include "segcam.h"

struct segcam_model {
  sc_graph g;
  segcam_layout layout;
};

struct segcam_session {
  const segcam_model *model;
  sc_session *s;
  sc_shape in_shape;
  float *input;   /* copy of the last input, so a re-planned session can run again */
  int has_input;
  int n_layers;
  int *layer_node; /* layer -> node index */
  unsigned *roles;
  segcam_output out; /* shape interpretation (data filled after a run) */
  int out_value;
};

/* Fills roles[] for every layer (cam/layers.c). */
void sc_assign_roles(segcam_session *ss);

/* Output value of a layer. */
static inline int sc_layer_value(const segcam_session *ss, size_t layer) {
  return ss->model->g.nodes[ss->layer_node[layer]].out[0];
}

/* Re-runs the forward pass with the stored input (after a re-plan). */
segcam_status sc_rerun(segcam_session *ss);

#endif
