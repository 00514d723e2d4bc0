/* Graph construction and validation (no shapes beyond the declared ones; see session.c). */
#include "graph/graph.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/ops.h"

int64_t sc_shape_numel(const sc_shape *s) {
  int64_t n = 1;
  for (int i = 0; i < s->ndim; i++) n *= s->d[i];
  return n;
}

int sc_shape_equal(const sc_shape *a, const sc_shape *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->d[i] != b->d[i]) return 0;
  return 1;
}

const char *sc_shape_str(const sc_shape *s, char *buf, size_t size) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, size - k, "[");
  for (int i = 0; i < s->ndim && k < size; i++)
    k += (size_t)snprintf(buf + k, size - k, i ? ",%" PRId64 : "%" PRId64, s->d[i]);
  if (k < size) snprintf(buf + k, size - k, "]");
  return buf;
}

segcam_status sc_graph_init(sc_graph *g, const char *path, const char *format) {
  memset(g, 0, sizeof *g);
  g->path = sc_strdup(path ? path : "");
  g->format = format;
  return g->path ? SEGCAM_OK : SEGCAM_E_NOMEM;
}

void sc_graph_free(sc_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_values; i++) {
    free(g->values[i].name);
    free(g->values[i].cdata);
  }
  for (int i = 0; i < g->n_nodes; i++) {
    sc_node *n = &g->nodes[i];
    free(n->name);
    free(n->type);
    free(n->in);
    free(n->out);
    if (n->params) {
      const sc_opdef *d = n->op >= 0 && n->op < SC_OP_COUNT ? sc_opdefs[n->op] : NULL;
      if (d && d->free_params) d->free_params(n->params);
      else free(n->params);
    }
  }
  free(g->values);
  free(g->nodes);
  free(g->path);
  memset(g, 0, sizeof *g);
}

int sc_graph_find_value(const sc_graph *g, const char *name) {
  for (int i = g->n_values - 1; i >= 0; i--)
    if (strcmp(g->values[i].name, name) == 0) return i;
  return -1;
}

int sc_graph_add_value(sc_graph *g, const char *name, sc_dtype dtype, const sc_shape *shape) {
  if (g->n_values == g->cap_values) {
    int cap = g->cap_values ? 2 * g->cap_values : 64;
    sc_value *v = sc_realloc_n(g->values, (size_t)cap, sizeof *v);
    if (!v) return -1;
    g->values = v;
    g->cap_values = cap;
  }
  sc_value *v = &g->values[g->n_values];
  memset(v, 0, sizeof *v);
  char tmp[32];
  if (!name) {
    snprintf(tmp, sizeof tmp, "_v%d", g->n_values);
    name = tmp;
  }
  v->name = sc_strdup(name);
  if (!v->name) return -1;
  v->dtype = dtype;
  if (shape) v->shape = *shape;
  v->producer = -1;
  return g->n_values++;
}

int sc_graph_add_const(sc_graph *g, const char *name, sc_dtype dtype, const sc_shape *shape,
                       void *data) {
  int v = sc_graph_add_value(g, name, dtype, shape);
  if (v < 0) {
    free(data);
    return -1;
  }
  g->values[v].cdata = data;
  return v;
}

static int *copy_ints(const int *a, int n) {
  int *c = sc_calloc_n((size_t)(n ? n : 1), sizeof *c);
  if (c && n) memcpy(c, a, (size_t)n * sizeof *c);
  return c;
}

int sc_graph_add_node(sc_graph *g, const char *name, const char *type, int op, const int *in,
                      int n_in, const int *out, int n_out, void *params) {
  if (n_in > SC_MAX_IO || n_out > SC_MAX_IO || n_out < 1) {
    sc_error(SEGCAM_E_UNSUPPORTED, "%s: node '%s' (%s): %d inputs / %d outputs (at most %d)",
             g->path, name ? name : "?", type, n_in, n_out, SC_MAX_IO);
    free(params);
    return -1;
  }
  for (int j = 0; j < n_out; j++) {
    if (out[j] < 0 || out[j] >= g->n_values || g->values[out[j]].producer >= 0 ||
        g->values[out[j]].cdata) {
      sc_error(SEGCAM_E_FORMAT, "%s: node '%s' (%s): output %d is already defined", g->path,
               name ? name : "?", type, j);
      free(params);
      return -1;
    }
  }
  if (g->n_nodes == g->cap_nodes) {
    int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
    sc_node *nn = sc_realloc_n(g->nodes, (size_t)cap, sizeof *nn);
    if (!nn) {
      free(params);
      return -1;
    }
    g->nodes = nn;
    g->cap_nodes = cap;
  }
  sc_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->params = params;
  n->n_in = n_in;
  n->n_out = n_out;
  n->name = name ? sc_strdup(name) : NULL;
  n->type = sc_strdup(type);
  n->in = copy_ints(in, n_in);
  n->out = copy_ints(out, n_out);
  g->n_nodes++; /* counted now so sc_graph_free releases partial allocations */
  if ((name && !n->name) || !n->type || !n->in || !n->out) return -1;
  for (int j = 0; j < n_out; j++) g->values[out[j]].producer = g->n_nodes - 1;
  return g->n_nodes - 1;
}

segcam_status sc_graph_validate(const sc_graph *g) {
  for (int i = 0; i < g->n_nodes; i++) {
    const sc_node *n = &g->nodes[i];
    const char *nm = n->name ? n->name : n->type;
    if (n->op < 0 || n->op >= SC_OP_COUNT || !sc_opdefs[n->op])
      return sc_error(SEGCAM_E_INTERNAL, "%s: node '%s': invalid op %d", g->path, nm, n->op);
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v < -1 || v >= g->n_values)
        return sc_error(SEGCAM_E_FORMAT, "%s: node '%s' (%s): input %d out of range", g->path, nm,
                        n->type, k);
      if (v >= 0 && g->values[v].producer >= i)
        return sc_error(SEGCAM_E_FORMAT,
                        "%s: node '%s' (%s): input '%s' is produced later (graph not in "
                        "topological order, or a cycle)",
                        g->path, nm, n->type, g->values[v].name);
      if (v >= 0 && g->values[v].producer < 0 && !g->values[v].cdata) {
        int is_input = 0;
        for (int q = 0; q < g->n_inputs; q++) is_input |= g->inputs[q] == v;
        if (!is_input)
          return sc_error(SEGCAM_E_FORMAT, "%s: node '%s' (%s): input '%s' is never produced",
                          g->path, nm, n->type, g->values[v].name);
      }
    }
  }
  if (g->n_inputs < 1) return sc_error(SEGCAM_E_FORMAT, "%s: the model has no input", g->path);
  if (g->n_outputs < 1) return sc_error(SEGCAM_E_FORMAT, "%s: the model has no output", g->path);
  return SEGCAM_OK;
}
