/* The dispatch table generated from ops.def, and the node error helper. */
#include <stdarg.h>
#include <stdio.h>

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
  const char *name = n->name ? n->name : (n->n_out > 0 ? c->graph->values[n->out[0]].name : "?");
  return sc_error(status, "%s: node '%s' (%s): %s", c->graph->path, name, n->type, msg);
}
