/* The dispatch table generated from ops.def, and the node error helper. */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"

#define SC_OP(E, n) extern const sc_opdef sc_op_##n;
#include "ops/ops.def"
#undef SC_OP

const sc_opdef *const sc_opdefs[SC_OP_COUNT] = {
#define SC_OP(E, n) [SC_OP_##E] = &sc_op_##n,
#include "ops/ops.def"
#undef SC_OP
};

segcam_status sc_node_error(const sc_opctx *c, segcam_status status, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const sc_node *n = c->node;
  if (n->name)
    return sc_error(status, "%s: node '%s' (%s): %s", c->graph->path, n->name, n->type, msg);
  /* An unnamed helper node (a loader's internal step of a layer, e.g. the reshapes around a
   * Keras 1-D layer): name the layer -- the nearest named node of the same type -- and the step. */
  const char *step = n->n_out > 0 ? c->graph->values[n->out[0]].name : "?";
  const sc_graph *g = c->graph;
  ptrdiff_t at = n - g->nodes, best = -1;
  for (ptrdiff_t d = 1; at >= 0 && at < g->n_nodes && best < 0 && d <= 8; d++)
    for (int side = 0; side < 2 && best < 0; side++) {
      ptrdiff_t j = side ? at - d : at + d;
      if (j >= 0 && j < g->n_nodes && g->nodes[j].name && strcmp(g->nodes[j].type, n->type) == 0)
        best = j;
    }
  if (best >= 0)
    return sc_error(status, "%s: node '%s' (%s, internal step '%s'): %s", g->path,
                    g->nodes[best].name, n->type, step, msg);
  return sc_error(status, "%s: node '%s' (%s): %s", g->path, step, n->type, msg);
}

segcam_status sc_check_tensor(const sc_opctx *c, const sc_tensor *t, const char *what,
                              unsigned dtypes) {
  char buf[160];
  if (t->shape.ndim < 0 || t->shape.ndim > SEGCAM_MAX_DIMS)
    return sc_node_error(c, SEGCAM_E_SHAPE, "%s has invalid rank %d", what, t->shape.ndim);
  double n = 1;
  for (int i = 0; i < t->shape.ndim; i++) {
    if (t->shape.d[i] < 0)
      return sc_node_error(c, SEGCAM_E_SHAPE, "%s has an unknown or negative dimension %s", what,
                           sc_shape_str(&t->shape, buf, sizeof buf));
    n *= (double)t->shape.d[i];
  }
  if (n > 4e12)
    return sc_node_error(c, SEGCAM_E_NOMEM, "%s is absurdly large %s", what,
                         sc_shape_str(&t->shape, buf, sizeof buf));
  unsigned have = t->dtype == SC_F32 ? SC_DT_F32 : t->dtype == SC_I64 ? SC_DT_I64 : 0;
  if (!(have & dtypes))
    return sc_node_error(c, SEGCAM_E_UNSUPPORTED, "%s has type %s; %s is needed", what,
                         t->dtype == SC_I64 ? "int64" : t->dtype == SC_F32 ? "float32" : "unknown",
                         dtypes == SC_DT_F32 ? "float32" : "float32 or int64");
  return SEGCAM_OK;
}
