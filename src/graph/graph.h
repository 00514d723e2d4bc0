/* The model graph: values (tensors) and nodes (ops) in topological order.
 *
 * A graph is built once by a loader and is then immutable; it can be shared by many sessions.
 * Everything that depends on the input size (shapes, resolved padding, folded shape arithmetic,
 * memory) lives in a session (graph/session.h), not here.
 *
 * Layout: tensors are float32 (or int64 for shape arithmetic), row-major, with the shapes the
 * graph itself declares. Convolution-family ops work on NCHW (ONNX semantics); loaders of
 * channels-last formats insert explicit Transposes. */
#ifndef SC_GRAPH_H
#define SC_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "segcam.h"

typedef enum sc_dtype { SC_F32 = 1, SC_I64 = 7 } sc_dtype;

typedef struct sc_shape {
  int ndim;
  int64_t d[SEGCAM_MAX_DIMS]; /* -1 = unknown until a session fixes the input size */
} sc_shape;

int64_t sc_shape_numel(const sc_shape *s);
int sc_shape_equal(const sc_shape *a, const sc_shape *b);
/* "[1,3,224,224]" into buf. */
const char *sc_shape_str(const sc_shape *s, char *buf, size_t size);

typedef struct sc_value {
  char *name;
  sc_dtype dtype;
  sc_shape shape;  /* declared shape (graph inputs may hold -1), or the constant's shape */
  int producer;    /* node index, or -1 for graph inputs and constants */
  void *cdata;     /* constant data (owned): float or int64 per dtype; NULL if not a constant */
} sc_value;

typedef struct sc_node {
  char *name;    /* user-visible layer name; NULL for internal helper nodes of a Keras layer */
  char *type;    /* user-visible type: ONNX op_type or Keras class name */
  int op;        /* SC_OP_* */
  int n_in, n_out;
  int *in;       /* value indices; -1 = omitted optional input */
  int *out;
  void *params;  /* op-specific struct from ops/ops.h, owned; may be NULL */
  int user_nhwc; /* the user sees this 4-D output as NHWC (Keras) while it is NCHW inside */
} sc_node;

typedef struct sc_graph {
  char *path;          /* the model file, for error messages */
  const char *format;  /* "onnx", "keras-h5", "keras-zip" */
  sc_value *values;
  int n_values, cap_values;
  sc_node *nodes;
  int n_nodes, cap_nodes;
  int inputs[4], n_inputs;   /* non-constant graph inputs */
  int outputs[4], n_outputs; /* graph outputs */
  segcam_layout input_layout;
  int windows_1d;      /* a loader ran a 1-D window op (Conv1D, ...) as its 2-D form: 1 on
                        * [N, C, L] tensors (ONNX, channels_first), 2 on [N, L, C] (the first
                        * such Keras layer's channels_last); 0: none */
} sc_graph;

segcam_status sc_graph_init(sc_graph *g, const char *path, const char *format);
void sc_graph_free(sc_graph *g);

/* Returns the index of the value named `name`, or -1. */
int sc_graph_find_value(const sc_graph *g, const char *name);
/* Adds a value (name copied; NULL makes a unique internal name). Returns its index or -1
 * (error set). */
int sc_graph_add_value(sc_graph *g, const char *name, sc_dtype dtype, const sc_shape *shape);
/* Adds a constant value taking ownership of `data` (float or int64 per dtype), even on failure. */
int sc_graph_add_const(sc_graph *g, const char *name, sc_dtype dtype, const sc_shape *shape,
                       void *data);
/* Adds a node; names and index arrays are copied, `params` ownership moves to the graph (even on
 * failure). Output values must already exist and have no producer. Returns node index or -1. */
int sc_graph_add_node(sc_graph *g, const char *name, const char *type, int op, const int *in,
                      int n_in, const int *out, int n_out, void *params);

/* Checks that every node's inputs are produced earlier (topological order), that op and
 * arity are valid; names the node on failure. */
segcam_status sc_graph_validate(const sc_graph *g);

#endif
