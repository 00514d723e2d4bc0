/* Session: shape inference, constant folding, memory planning, forward and reverse drivers.
 *
 * Memory: one arena for activations, one for gradients, one shared scratch buffer.  Offsets are
 * assigned by a greedy interval allocator (largest first, lowest free offset whose lifetime does
 * not overlap).  Kernels never allocate on the hot path.
 *
 * Bound: folded constants, arena, scratch and gradient arena together may not exceed the machine's
 * physical memory (or SEGCAM_MAX_MEMORY_MB when set): a plan larger than that cannot run, and a
 * few hundred bytes of hostile model (a Pad of millions, a Concat of copies) can ask for it.  It
 * is refused when planned, naming the largest tensor, instead of thrashing for minutes. */
#define _POSIX_C_SOURCE 200809L /* sysconf */

#include "graph/session.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

#define SC_ALIGN 64
#define SC_NOT_PLANNED ((size_t)-1)

struct sc_session {
  const sc_graph *g;
  int nv, nn;
  sc_tensor *t;          /* per value */
  unsigned char *cst;    /* per value: known before the run */
  unsigned char *folded; /* per node: computed at plan time */
  void **owned;          /* per value: folded data owned by the session */
  size_t owned_bytes;    /* their total */
  size_t mem_limit;      /* bytes the whole plan may take */
  sc_node_state *state;  /* per node */
  size_t *scratch_need;  /* per node: scratch of the kernel that runs (after prepare) */
  size_t *scratch_infer; /* per node: scratch infer asked for (the unprepared kernel) */
  /* fusion (plan_fusion): a node that runs fused writes xout0 instead of its own output 0; the
   * nodes fused into it are skipped and their intermediate values are 'gone' (never stored) */
  unsigned char *skip;   /* per node */
  unsigned char *fused;  /* per node: runs with c->fused */
  int *xout0;            /* per node: value written as output 0, or -1 */
  unsigned *xneeds;      /* per node: bw_needs added by the fusion */
  unsigned char *gone;   /* per value */
  unsigned char *keep;   /* per value: caller asked to keep */
  /* forward plan */
  size_t *off;           /* per value: arena offset, or SC_NOT_PLANNED */
  char *arena;
  size_t arena_bytes;
  void *scratch;
  size_t scratch_bytes;
  int ran;
  /* reverse plan for the last target set */
  int *bw_targets;
  int n_bw_targets;
  int bw_through;
  unsigned char *need;   /* per value: gradient needed */
  unsigned char *active; /* per node: runs backward */
  size_t *goff;          /* per value: grad arena offset */
  int *zero_first;       /* per value: node index at which its gradient starts (latest consumer) */
  int *writers;          /* per value: input slots of active backward nodes that read it */
  char *garena;
  size_t garena_bytes;
  int final_act, final_kind;
  double *prof;          /* per node: seconds in forward [2*ni] and backward [2*ni+1]; NULL = off */
};

/* ---- interval allocator ------------------------------------------------------------------- */

typedef struct iv {
  size_t size;
  int start, end; /* inclusive lifetime in some step order */
  int id;
  size_t off;
} iv;

static int iv_cmp(const void *a, const void *b) {
  const iv *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->id - y->id;
}

static int iv_off_cmp(const void *a, const void *b) {
  const iv *const *x = a, *const *y = b;
  return (*x)->off < (*y)->off ? -1 : (*x)->off > (*y)->off;
}

/* Assigns offsets; returns the total size, or SC_NOT_PLANNED on allocation failure. */
static size_t iv_place(iv *v, int n) {
  qsort(v, (size_t)n, sizeof *v, iv_cmp);
  iv **placed = sc_calloc_n((size_t)n + 1, sizeof *placed);
  iv **conf = sc_calloc_n((size_t)n + 1, sizeof *conf);
  if (!placed || !conf) {
    free(placed);
    free(conf);
    return SC_NOT_PLANNED;
  }
  int np = 0;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    /* the placed intervals alive at the same time, by offset; take the lowest gap that fits */
    int nc = 0;
    for (int j = 0; j < np; j++)
      if (!(placed[j]->end < v[i].start || v[i].end < placed[j]->start)) conf[nc++] = placed[j];
    qsort(conf, (size_t)nc, sizeof *conf, iv_off_cmp);
    size_t off = 0;
    for (int j = 0; j < nc; j++) {
      if (conf[j]->off >= off + v[i].size) break;
      size_t e = conf[j]->off + conf[j]->size;
      if (e > off) off = e;
    }
    v[i].off = off;
    if (off + v[i].size > total) total = off + v[i].size;
    placed[np++] = &v[i];
  }
  free(placed);
  free(conf);
  return total;
}

static size_t align_up(size_t n) { return (n + SC_ALIGN - 1) / SC_ALIGN * SC_ALIGN; }

static size_t value_bytes(const sc_tensor *t) {
  int64_t n = sc_shape_numel(&t->shape);
  return align_up((size_t)(n > 0 ? n : 1) * (t->dtype == SC_I64 ? 8 : 4));
}

/* The memory bound (see the top of the file); SEGCAM_MAX_MEMORY_MB, a positive integer, overrides
 * physical memory (e.g. to share a machine, or in the fuzz harnesses). */
static size_t memory_limit(void) {
  const char *e = getenv("SEGCAM_MAX_MEMORY_MB");
  if (e && *e) {
    char *end;
    unsigned long long mb = strtoull(e, &end, 10);
    if (*end == '\0' && mb > 0) return mb > (SIZE_MAX >> 20) ? SIZE_MAX : (size_t)mb << 20;
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0 && (size_t)pages <= SIZE_MAX / (size_t)page)
    return (size_t)pages * (size_t)page;
  return (size_t)64 << 30;
}

static double gib(size_t b) { return (double)b / (double)(1u << 30); }

/* The error for a plan over the bound, naming the largest tensor and the node producing it. */
static segcam_status over_limit(const sc_session *s, const char *what, size_t need, int value) {
  const sc_graph *g = s->g;
  char b[96];
  int prod = value >= 0 ? g->values[value].producer : -1;
  const sc_node *n = prod >= 0 ? &g->nodes[prod] : NULL;
  return sc_error(SEGCAM_E_NOMEM,
                  "%s: this input size needs %.2f GiB of %s, over the limit of %.2f GiB (physical "
                  "memory, or SEGCAM_MAX_MEMORY_MB); the largest tensor is '%s' %s, output of "
                  "node '%s' (%s)",
                  g->path, gib(need), what, gib(s->mem_limit),
                  value >= 0 ? g->values[value].name : "?",
                  value >= 0 ? sc_shape_str(&s->t[value].shape, b, sizeof b) : "",
                  n && n->name ? n->name : "?", n ? n->type : "?");
}

/* ---- context building ---------------------------------------------------------------------- */

static void build_ctx(sc_session *s, int ni, sc_opctx *c) {
  const sc_node *n = &s->g->nodes[ni];
  memset(c, 0, sizeof *c);
  c->graph = s->g;
  c->node = n;
  c->state = &s->state[ni];
  for (int k = 0; k < n->n_in; k++) {
    int v = n->in[k];
    c->in[k] = v >= 0 ? &s->t[v] : NULL;
    c->in_const[k] = v >= 0 ? s->cst[v] : 0;
  }
  for (int j = 0; j < n->n_out; j++) c->out[j] = &s->t[n->out[j]];
  if (s->xout0 && s->xout0[ni] >= 0) c->out[0] = &s->t[s->xout0[ni]];
  c->fused = s->fused ? s->fused[ni] : 0;
}

/* Output j of node ni as the run sees it (a fused node writes its last fused node's output). */
static int out_value(const sc_session *s, int ni, int j) {
  return j == 0 && s->xout0[ni] >= 0 ? s->xout0[ni] : s->g->nodes[ni].out[j];
}

/* Not run by forward or backward: folded before the run, or fused into another node. */
static int not_run(const sc_session *s, int ni) { return s->folded[ni] || s->skip[ni]; }

/* The node that writes value v in the run (its graph producer, or the node it was fused into). */
static int run_producer(const sc_session *s, int v) {
  int p = s->g->values[v].producer;
  if (p < 0 || !s->skip[p]) return p;
  for (int ni = 0; ni < s->nn; ni++)
    if (s->xout0[ni] == v) return ni;
  return p;
}

static int is_graph_output(const sc_graph *g, int v) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == v) return 1;
  return 0;
}

/* ---- shape inference and folding ------------------------------------------------------------ */

static segcam_status infer_all(sc_session *s, const sc_shape *input_shapes) {
  const sc_graph *g = s->g;
  char b1[96], b2[96];
  for (int v = 0; v < s->nv; v++) {
    s->t[v].dtype = g->values[v].dtype;
    s->t[v].shape = g->values[v].shape;
    s->t[v].data = g->values[v].cdata;
    s->cst[v] = g->values[v].cdata != NULL;
  }
  for (int i = 0; i < g->n_inputs; i++) {
    int v = g->inputs[i];
    const sc_shape *decl = &g->values[v].shape, *want = &input_shapes[i];
    int ok = decl->ndim == want->ndim || decl->ndim == 0;
    for (int d = 0; ok && d < decl->ndim; d++)
      ok = decl->d[d] < 0 || decl->d[d] == want->d[d];
    for (int d = 0; ok && d < want->ndim; d++) ok = want->d[d] > 0 && want->d[d] <= (1 << 24);
    if (!ok || sc_shape_numel(want) > ((int64_t)1 << 31))
      return sc_error(SEGCAM_E_SHAPE, "%s: input '%s' is declared %s; %s does not fit", g->path,
                      g->values[v].name, sc_shape_str(decl, b1, sizeof b1),
                      sc_shape_str(want, b2, sizeof b2));
    s->t[v].shape = *want;
  }
  for (int ni = 0; ni < s->nn; ni++) {
    const sc_node *n = &g->nodes[ni];
    const sc_opdef *d = sc_opdefs[n->op];
    sc_opctx c;
    build_ctx(s, ni, &c);
    for (int j = 0; j < n->n_out; j++) s->t[n->out[j]].data = NULL;
    SC_TRY(d->infer(&c));
    for (int j = 0; j < n->n_out; j++) {
      const sc_shape *sh = &s->t[n->out[j]].shape;
      for (int q = 0; q < sh->ndim; q++)
        if (sh->d[q] < 0 || (sh->d[q] == 0 && n->op != SC_OP_SHAPE))
          return sc_node_error(&c, SEGCAM_E_SHAPE, "output %d has shape %s", j,
                               sc_shape_str(sh, b1, sizeof b1));
      if (sc_shape_numel(sh) > ((int64_t)1 << 31))
        return sc_node_error(&c, SEGCAM_E_NOMEM, "output %d of shape %s is too large", j,
                             sc_shape_str(sh, b1, sizeof b1));
    }
    s->scratch_need[ni] = s->scratch_infer[ni] = c.scratch_size;
    int foldable = 1;
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] >= 0 && !s->cst[n->in[k]]) foldable = 0;
    if (d->flags & SC_OPF_SHAPE_ONLY) foldable = 1;
    if (!foldable) continue;
    /* run it now, once, with private buffers */
    for (int j = 0; j < n->n_out; j++) {
      int v = n->out[j];
      size_t vb = value_bytes(&s->t[v]);
      if (vb > s->mem_limit - s->owned_bytes)
        return over_limit(s, "constants folded before the run", s->owned_bytes + vb, v);
      s->owned[v] = sc_calloc_n(vb, 1);
      if (!s->owned[v]) return SEGCAM_E_NOMEM;
      s->owned_bytes += vb;
      s->t[v].data = s->owned[v];
    }
    void *scratch = c.scratch_size ? aligned_alloc(SC_ALIGN, align_up(c.scratch_size)) : NULL;
    if (c.scratch_size && !scratch) return sc_error(SEGCAM_E_NOMEM, "out of memory (scratch)");
    build_ctx(s, ni, &c);
    c.scratch = scratch;
    c.scratch_size = s->scratch_need[ni];
    segcam_status st = d->forward(&c);
    free(scratch);
    if (st) return st;
    for (int j = 0; j < n->n_out; j++) s->cst[n->out[j]] = 1;
    s->folded[ni] = 1;
  }
  return SEGCAM_OK;
}

/* ---- fusion and kernel preparation --------------------------------------------------------- */

static void release_kernels(sc_session *s) {
  for (int ni = 0; ni < s->nn; ni++) {
    sc_node_state *st = &s->state[ni];
    if (st->priv && st->priv_free) st->priv_free(st->priv);
    st->priv = NULL;
    st->priv_free = NULL;
  }
}

/* The single node reading value v, if v has exactly one reader among the nodes that run and is
 * not a graph output, a kept value or a graph input; else -1. */
static int sole_reader(const sc_session *s, int v) {
  const sc_graph *g = s->g;
  if (v < 0 || s->keep[v] || is_graph_output(g, v) || g->values[v].producer < 0) return -1;
  int who = -1;
  for (int ni = 0; ni < s->nn; ni++) {
    if (s->folded[ni]) continue;
    const sc_node *n = &g->nodes[ni];
    for (int k = 0; k < n->n_in; k++)
      if (n->in[k] == v) {
        if (who >= 0) return -1;
        who = ni;
      }
  }
  return who;
}

/* Conv/ConvTranspose -> BatchNormalization (constant parameters) -> Relu / LeakyRelu (alpha >= 0)
 * / Clip (lo < hi), as long as no intermediate value is read by anything else or asked for (kept,
 * an output, or a gradient target, which callers keep).  Fills f and the nodes; returns 1 if
 * anything fuses. */
static int fusion_chain(const sc_session *s, int ni, sc_fusion *f, int *bn_node, int *act_node) {
  const sc_graph *g = s->g;
  memset(f, 0, sizeof *f);
  *bn_node = *act_node = -1;
  int op = g->nodes[ni].op;
  if (op != SC_OP_CONV && op != SC_OP_CONV_TRANSPOSE) return 0;
  int v = g->nodes[ni].out[0], r = sole_reader(s, v);
  if (r >= 0 && g->nodes[r].op == SC_OP_BATCHNORM && g->nodes[r].in[0] == v &&
      g->nodes[r].params) {
    const sc_node *b = &g->nodes[r];
    int ok = b->n_in >= 5 && b->in[3] >= 0 && b->in[4] >= 0;
    for (int k = 1; ok && k < 5; k++) ok = b->in[k] < 0 || s->cst[b->in[k]];
    if (ok) {
      f->bn_scale = b->in[1] >= 0 ? &s->t[b->in[1]] : NULL;
      f->bn_bias = b->in[2] >= 0 ? &s->t[b->in[2]] : NULL;
      f->bn_mean = &s->t[b->in[3]];
      f->bn_var = &s->t[b->in[4]];
      f->bn_epsilon = ((const sc_batchnorm_params *)b->params)->epsilon;
      *bn_node = r;
      v = b->out[0];
      r = sole_reader(s, v);
    }
  }
  if (r >= 0 && g->nodes[r].op == SC_OP_ACT && g->nodes[r].in[0] == v && g->nodes[r].params) {
    const sc_act_params *a = g->nodes[r].params;
    /* Clip's bounds as its infer resolved them (attributes or constant inputs) */
    float lo = (float)s->state[r].f[SC_ACT_STATE_LO], hi = (float)s->state[r].f[SC_ACT_STATE_HI];
    if (a->kind == SC_ACT_RELU || (a->kind == SC_ACT_LEAKY_RELU && a->alpha >= 0)) {
      f->act = SC_FUSE_RELU;
      f->alpha = a->kind == SC_ACT_RELU ? 0.0f : a->alpha;
      *act_node = r;
    } else if (a->kind == SC_ACT_CLIP && lo < hi) {
      f->act = SC_FUSE_CLIP;
      f->lo = lo, f->hi = hi;
      *act_node = r;
    }
  }
  return *bn_node >= 0 || *act_node >= 0;
}

/* Decides the fusions for the current keep set and lets every op that has one prepare its kernel
 * (sc_opdef.prepare) for this input size. */
static segcam_status plan_fusion(sc_session *s) {
  const sc_graph *g = s->g;
  release_kernels(s);
  for (int ni = 0; ni < s->nn; ni++) {
    s->skip[ni] = s->fused[ni] = 0;
    s->xout0[ni] = -1;
    s->xneeds[ni] = 0;
    s->scratch_need[ni] = s->scratch_infer[ni];
  }
  memset(s->gone, 0, (size_t)s->nv);
  for (int ni = 0; ni < s->nn; ni++) {
    const sc_opdef *d = sc_opdefs[g->nodes[ni].op];
    if (not_run(s, ni) || !d->prepare) continue;
    sc_fusion f;
    int bn, act, want = fusion_chain(s, ni, &f, &bn, &act);
    sc_opctx c;
    build_ctx(s, ni, &c);
    c.scratch_size = s->scratch_infer[ni];
    c.fuse = want ? &f : NULL;
    SC_TRY(d->prepare(&c));
    s->scratch_need[ni] = c.scratch_size;
    if (!want || !c.fused) continue;
    s->fused[ni] = 1;
    int last = act >= 0 ? act : bn;
    s->xout0[ni] = g->nodes[last].out[0];
    s->gone[g->nodes[ni].out[0]] = 1;
    if (bn >= 0) s->skip[bn] = 1;
    if (act >= 0) {
      s->skip[act] = 1;
      s->xneeds[ni] = SC_NEEDS_OUT(0); /* the activation's gradient reads the output */
      if (bn >= 0) s->gone[g->nodes[bn].out[0]] = 1;
    }
  }
  return SEGCAM_OK;
}

/* ---- forward memory plan ------------------------------------------------------------------- */

static segcam_status plan_forward(sc_session *s) {
  const sc_graph *g = s->g;
  int nv = s->nv, nn = s->nn;
  s->n_bw_targets = -1; /* the fusion may change: the reverse plan must be made again */
  SC_TRY(plan_fusion(s));
  int *first = sc_calloc_n((size_t)nv, sizeof *first), *last = sc_calloc_n((size_t)nv, sizeof *last);
  iv *ivs = sc_calloc_n((size_t)nv, sizeof *ivs);
  if (!first || !last || !ivs) {
    free(first), free(last), free(ivs);
    return SEGCAM_E_NOMEM;
  }
  for (int v = 0; v < nv; v++) first[v] = last[v] = -2;
  for (int i = 0; i < g->n_inputs; i++) first[g->inputs[i]] = 0, last[g->inputs[i]] = nn;
  for (int ni = 0; ni < nn; ni++) {
    if (not_run(s, ni)) continue;
    const sc_node *n = &g->nodes[ni];
    unsigned needs = sc_opdefs[n->op]->bw_needs | s->xneeds[ni];
    for (int j = 0; j < n->n_out; j++) {
      int v = out_value(s, ni, j);
      first[v] = ni;
      last[v] = ni;
      if ((needs & SC_NEEDS_OUT(j)) || is_graph_output(g, v) || s->keep[v]) last[v] = nn;
    }
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v < 0 || s->cst[v]) continue;
      if (last[v] < ni) last[v] = ni;
      if (needs & SC_NEEDS_IN(k)) last[v] = nn;
    }
  }
  int n_iv = 0;
  size_t scratch = 0;
  for (int ni = 0; ni < nn; ni++)
    if (!not_run(s, ni) && s->scratch_need[ni] > scratch) scratch = s->scratch_need[ni];
  for (int v = 0; v < nv; v++) {
    s->off[v] = SC_NOT_PLANNED;
    if (s->cst[v] || first[v] == -2) continue;
    ivs[n_iv].size = value_bytes(&s->t[v]);
    ivs[n_iv].start = first[v];
    ivs[n_iv].end = last[v];
    ivs[n_iv].id = v;
    n_iv++;
  }
  size_t total = iv_place(ivs, n_iv);
  free(first);
  free(last);
  if (total == SC_NOT_PLANNED) {
    free(ivs);
    return SEGCAM_E_NOMEM;
  }
  /* iv_place sorted ivs largest first */
  if (total > s->mem_limit - s->owned_bytes || scratch > s->mem_limit - s->owned_bytes - total) {
    int big = n_iv ? ivs[0].id : -1;
    free(ivs);
    return over_limit(s, "activation memory", s->owned_bytes + total + scratch, big);
  }
  for (int i = 0; i < n_iv; i++) s->off[ivs[i].id] = ivs[i].off;
  free(ivs);
  free(s->arena);
  free(s->scratch);
  s->arena = aligned_alloc(SC_ALIGN, total ? total : SC_ALIGN);
  s->scratch = scratch ? aligned_alloc(SC_ALIGN, align_up(scratch)) : NULL;
  if (!s->arena || (scratch && !s->scratch))
    return sc_error(SEGCAM_E_NOMEM, "%s: out of memory planning %zu bytes of activations",
                    g->path, total + scratch);
  s->arena_bytes = total;
  s->scratch_bytes = scratch;
  for (int v = 0; v < nv; v++) {
    if (s->off[v] != SC_NOT_PLANNED) s->t[v].data = s->arena + s->off[v];
    else if (s->gone[v]) s->t[v].data = NULL;
  }
  s->ran = 0;
  return SEGCAM_OK;
}

/* ---- final activation ---------------------------------------------------------------------- */

static int n_consumers(const sc_graph *g, int v) {
  int c = 0;
  for (int ni = 0; ni < g->n_nodes; ni++)
    for (int k = 0; k < g->nodes[ni].n_in; k++) c += g->nodes[ni].in[k] == v;
  return c;
}

static void find_final_activation(sc_session *s) {
  const sc_graph *g = s->g;
  s->final_act = -1;
  s->final_kind = 0;
  int v = g->outputs[0];
  while (v >= 0 && g->values[v].producer >= 0) {
    int ni = g->values[v].producer;
    const sc_node *n = &g->nodes[ni];
    if (v != g->outputs[0] && n_consumers(g, v) != 1) return;
    if (n->op == SC_OP_SOFTMAX ||
        (n->op == SC_OP_ACT && ((const sc_act_params *)n->params)->kind == SC_ACT_SIGMOID)) {
      s->final_act = ni;
      s->final_kind = n->op == SC_OP_SOFTMAX ? 1 : 2;
      return;
    }
    if (n->op != SC_OP_TRANSPOSE && n->op != SC_OP_RESHAPE && n->op != SC_OP_IDENTITY) return;
    v = n->in[0];
  }
}

/* ---- public (internal) API ----------------------------------------------------------------- */

segcam_status sc_session_create(const sc_graph *g, const sc_shape *input_shapes, const int *keep,
                                int n_keep, sc_session **out) {
  *out = NULL;
  sc_session *s = sc_calloc_n(1, sizeof *s);
  if (!s) return SEGCAM_E_NOMEM;
  s->g = g;
  s->mem_limit = memory_limit();
  s->nv = g->n_values;
  s->nn = g->n_nodes;
  size_t nv = (size_t)s->nv + 1, nn = (size_t)s->nn + 1;
  s->t = sc_calloc_n(nv, sizeof *s->t);
  s->cst = sc_calloc_n(nv, 1);
  s->folded = sc_calloc_n(nn, 1);
  s->owned = sc_calloc_n(nv, sizeof *s->owned);
  s->state = sc_calloc_n(nn, sizeof *s->state);
  s->scratch_need = sc_calloc_n(nn, sizeof *s->scratch_need);
  s->scratch_infer = sc_calloc_n(nn, sizeof *s->scratch_infer);
  s->skip = sc_calloc_n(nn, 1);
  s->fused = sc_calloc_n(nn, 1);
  s->xout0 = sc_calloc_n(nn, sizeof *s->xout0);
  s->xneeds = sc_calloc_n(nn, sizeof *s->xneeds);
  s->gone = sc_calloc_n(nv, 1);
  s->keep = sc_calloc_n(nv, 1);
  s->off = sc_calloc_n(nv, sizeof *s->off);
  s->need = sc_calloc_n(nv, 1);
  s->active = sc_calloc_n(nn, 1);
  s->goff = sc_calloc_n(nv, sizeof *s->goff);
  s->zero_first = sc_calloc_n(nv, sizeof *s->zero_first);
  s->writers = sc_calloc_n(nv, sizeof *s->writers);
  if (!s->t || !s->cst || !s->folded || !s->owned || !s->state || !s->scratch_need || !s->keep ||
      !s->scratch_infer || !s->skip || !s->fused || !s->xout0 || !s->xneeds || !s->gone ||
      !s->off || !s->need || !s->active || !s->goff || !s->zero_first || !s->writers) {
    sc_session_free(s);
    return SEGCAM_E_NOMEM;
  }
  for (int i = 0; i < n_keep; i++)
    if (keep[i] >= 0 && keep[i] < s->nv) s->keep[keep[i]] = 1;
  for (int ni = 0; ni < s->nn; ni++) s->xout0[ni] = -1;
  segcam_status st = infer_all(s, input_shapes);
  if (!st) st = plan_forward(s);
  if (st) {
    sc_session_free(s);
    return st;
  }
  find_final_activation(s);
  *out = s;
  return SEGCAM_OK;
}

void sc_session_free(sc_session *s) {
  if (!s) return;
  if (s->state) release_kernels(s);
  if (s->owned)
    for (int v = 0; v < s->nv; v++) free(s->owned[v]);
  free(s->t);
  free(s->cst);
  free(s->folded);
  free(s->owned);
  free(s->state);
  free(s->scratch_need);
  free(s->scratch_infer);
  free(s->skip);
  free(s->fused);
  free(s->xout0);
  free(s->xneeds);
  free(s->gone);
  free(s->keep);
  free(s->off);
  free(s->arena);
  free(s->scratch);
  free(s->bw_targets);
  free(s->need);
  free(s->active);
  free(s->goff);
  free(s->zero_first);
  free(s->writers);
  free(s->garena);
  free(s->prof);
  free(s);
}

segcam_status sc_session_keep(sc_session *s, const int *values, int n) {
  int changed = 0;
  for (int i = 0; i < n; i++)
    if (values[i] >= 0 && values[i] < s->nv && !s->keep[values[i]]) s->keep[values[i]] = 1, changed = 1;
  return changed ? plan_forward(s) : SEGCAM_OK;
}

int sc_session_is_kept(const sc_session *s, int v) {
  if (v < 0 || v >= s->nv) return 0;
  if (s->cst[v] || s->keep[v] || is_graph_output(s->g, v)) return 1;
  for (int i = 0; i < s->g->n_inputs; i++)
    if (s->g->inputs[i] == v) return 1;
  return 0;
}

segcam_status sc_session_set_input(sc_session *s, int i, const float *data, size_t n) {
  if (i < 0 || i >= s->g->n_inputs)
    return sc_error(SEGCAM_E_ARG, "%s: no input %d", s->g->path, i);
  sc_tensor *t = &s->t[s->g->inputs[i]];
  size_t want = (size_t)sc_shape_numel(&t->shape);
  if (n != want)
    return sc_error(SEGCAM_E_SHAPE, "%s: input '%s' needs %zu values, got %zu", s->g->path,
                    s->g->values[s->g->inputs[i]].name, want, n);
  if (t->dtype != SC_F32)
    return sc_error(SEGCAM_E_UNSUPPORTED, "%s: input '%s' is not float", s->g->path,
                    s->g->values[s->g->inputs[i]].name);
  memcpy(t->data, data, n * sizeof(float));
  return SEGCAM_OK;
}

segcam_status sc_session_forward(sc_session *s) {
  for (int ni = 0; ni < s->nn; ni++) {
    if (not_run(s, ni)) continue;
    sc_opctx c;
    build_ctx(s, ni, &c);
    c.scratch = s->scratch;
    c.scratch_size = s->scratch_need[ni];
    double t0 = s->prof ? omp_get_wtime() : 0;
    segcam_status st = sc_opdefs[s->g->nodes[ni].op]->forward(&c);
    if (s->prof) s->prof[2 * ni] += omp_get_wtime() - t0;
    if (st) {
      s->ran = 0;
      return st;
    }
  }
  s->ran = 1;
  return SEGCAM_OK;
}

const sc_tensor *sc_session_tensor(const sc_session *s, int v) {
  return v >= 0 && v < s->nv ? &s->t[v] : NULL;
}

int sc_session_is_const(const sc_session *s, int v) { return v >= 0 && v < s->nv && s->cst[v]; }

int sc_session_final_activation(const sc_session *s, int *kind) {
  if (kind) *kind = s->final_kind;
  return s->final_act;
}

const sc_graph *sc_session_graph(const sc_session *s) { return s->g; }

segcam_status sc_session_profile(sc_session *s, int on) {
  free(s->prof);
  s->prof = on ? sc_calloc_n(2 * (size_t)s->nn + 1, sizeof *s->prof) : NULL;
  return on && !s->prof ? SEGCAM_E_NOMEM : SEGCAM_OK;
}

void sc_session_node_seconds(const sc_session *s, int ni, double *fwd, double *bwd) {
  *fwd = s->prof && ni >= 0 && ni < s->nn ? s->prof[2 * ni] : 0;
  *bwd = s->prof && ni >= 0 && ni < s->nn ? s->prof[2 * ni + 1] : 0;
}

unsigned sc_session_node_run(const sc_session *s, int ni) {
  if (ni < 0 || ni >= s->nn) return 0;
  return (s->folded[ni] ? SC_RUN_FOLDED : 0u) | (s->skip[ni] ? SC_RUN_SKIPPED : 0u) |
         (s->fused[ni] ? SC_RUN_FUSED : 0u) | (s->state[ni].priv ? SC_RUN_KERNEL : 0u);
}

size_t sc_session_bytes(const sc_session *s) {
  return s->arena_bytes + s->scratch_bytes + s->garena_bytes;
}

/* ---- reverse pass -------------------------------------------------------------------------- */

static segcam_status plan_backward(sc_session *s, int n_targets, const int *targets, int through) {
  const sc_graph *g = s->g;
  int nv = s->nv, nn = s->nn;
  unsigned char *down = sc_calloc_n((size_t)nv, 1), *up = sc_calloc_n((size_t)nv, 1);
  iv *ivs = sc_calloc_n((size_t)nv, sizeof *ivs);
  int *latest = sc_calloc_n((size_t)nv, sizeof *latest);
  if (!down || !up || !ivs || !latest) {
    free(down), free(up), free(ivs), free(latest);
    return SEGCAM_E_NOMEM;
  }
  for (int i = 0; i < n_targets; i++) down[targets[i]] = 1;
  for (int ni = 0; ni < nn; ni++) {
    const sc_node *n = &g->nodes[ni];
    if (not_run(s, ni)) continue;
    int any = 0;
    for (int k = 0; k < n->n_in; k++) any |= n->in[k] >= 0 && down[n->in[k]];
    if (any)
      for (int j = 0; j < n->n_out; j++) down[out_value(s, ni, j)] = 1;
  }
  /* gradients flow back only along float values: a path through int64 (Cast to int and back)
   * carries none, and a value reached only that way must get a zero gradient, not a stale one */
  up[g->outputs[0]] = 1;
  for (int ni = nn - 1; ni >= 0; ni--) {
    const sc_node *n = &g->nodes[ni];
    if (not_run(s, ni)) continue;
    int any = 0;
    for (int j = 0; j < n->n_out; j++) {
      int v = out_value(s, ni, j);
      any |= up[v] && s->t[v].dtype == SC_F32;
    }
    if (any)
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && !s->cst[n->in[k]] && s->t[n->in[k]].dtype == SC_F32)
          up[n->in[k]] = 1;
  }
  for (int v = 0; v < nv; v++) {
    s->need[v] = down[v] && up[v] && !s->cst[v] && s->t[v].dtype == SC_F32;
    latest[v] = -1;
    s->writers[v] = 0;
  }
  for (int ni = 0; ni < nn; ni++) {
    const sc_node *n = &g->nodes[ni];
    int out_need = 0, in_need = 0;
    for (int j = 0; j < n->n_out; j++) out_need |= s->need[out_value(s, ni, j)];
    for (int k = 0; k < n->n_in; k++) in_need |= n->in[k] >= 0 && s->need[n->in[k]];
    s->active[ni] = !not_run(s, ni) && out_need && in_need;
    if (s->active[ni])
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0) s->writers[n->in[k]]++;
    if (s->active[ni])
      for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && s->need[n->in[k]] && latest[n->in[k]] < ni) latest[n->in[k]] = ni;
  }
  /* reverse time r = nn - 1 - node; the seed exists from r = 0; targets live to the end */
  int n_iv = 0;
  for (int v = 0; v < nv; v++) {
    if (!s->need[v]) continue;
    int is_target = 0;
    for (int i = 0; i < n_targets; i++) is_target |= targets[i] == v;
    int start = v == g->outputs[0] ? 0 : nn - 1 - latest[v];
    int prod = run_producer(s, v);
    int end = is_target || prod < 0 ? nn : nn - 1 - prod;
    if (latest[v] < 0 && v != g->outputs[0]) start = end; /* target that is the output itself */
    s->zero_first[v] = v == g->outputs[0] ? nn : latest[v];
    ivs[n_iv].size = value_bytes(&s->t[v]);
    ivs[n_iv].start = start < end ? start : end;
    ivs[n_iv].end = end;
    ivs[n_iv].id = v;
    n_iv++;
  }
  size_t total = iv_place(ivs, n_iv);
  free(down);
  free(up);
  free(latest);
  /* need/active now describe the new targets: a failure must force the next call to re-plan */
  if (total == SC_NOT_PLANNED) {
    free(ivs);
    s->n_bw_targets = -1;
    return SEGCAM_E_NOMEM;
  }
  size_t fwd = s->owned_bytes + s->arena_bytes + s->scratch_bytes;
  if (total > s->mem_limit - (fwd < s->mem_limit ? fwd : s->mem_limit)) {
    int big = n_iv ? ivs[0].id : -1;
    free(ivs);
    s->n_bw_targets = -1;
    return over_limit(s, "activation and gradient memory", fwd + total, big);
  }
  for (int v = 0; v < nv; v++) s->goff[v] = SC_NOT_PLANNED;
  for (int i = 0; i < n_iv; i++) s->goff[ivs[i].id] = ivs[i].off;
  free(ivs);
  free(s->garena);
  s->garena = aligned_alloc(SC_ALIGN, total ? total : SC_ALIGN);
  s->garena_bytes = total;
  free(s->bw_targets);
  s->bw_targets = sc_calloc_n((size_t)n_targets + 1, sizeof *s->bw_targets);
  if (!s->garena || !s->bw_targets) {
    s->n_bw_targets = -1;
    return sc_error(SEGCAM_E_NOMEM, "%s: out of memory planning %zu bytes of gradients",
                    g->path, total);
  }
  memcpy(s->bw_targets, targets, (size_t)n_targets * sizeof *targets);
  s->n_bw_targets = n_targets;
  s->bw_through = through;
  return SEGCAM_OK;
}

static float *gbuf(sc_session *s, int v) {
  return v >= 0 && s->need[v] ? (float *)(s->garena + s->goff[v]) : NULL;
}

segcam_status sc_session_backward(sc_session *s, const float *seed, int n_targets,
                                  const int *targets, float **grads, int through) {
  const sc_graph *g = s->g;
  if (!s->ran) return sc_error(SEGCAM_E_ARG, "%s: run the forward pass first", g->path);
  for (int i = 0; i < n_targets; i++)
    if (targets[i] < 0 || targets[i] >= s->nv || s->t[targets[i]].dtype != SC_F32)
      return sc_error(SEGCAM_E_ARG, "%s: invalid gradient target", g->path);
  for (int i = 0; i < n_targets; i++)
    if (s->gone[targets[i]])
      return sc_error(SEGCAM_E_ARG, "%s: '%s' was fused into a convolution and is not stored; "
                      "keep it (sc_session_keep) before asking for its gradient", g->path,
                      g->values[targets[i]].name);
  int same = s->n_bw_targets == n_targets && s->bw_through == through;
  for (int i = 0; same && i < n_targets; i++) same = s->bw_targets[i] == targets[i];
  if (!same) SC_TRY(plan_backward(s, n_targets, targets, through));

  int out = g->outputs[0];
  size_t nout = (size_t)sc_shape_numel(&s->t[out].shape);
  if (s->need[out]) memcpy(gbuf(s, out), seed, nout * sizeof(float));
  for (int ni = s->nn - 1; ni >= 0; ni--) {
    if (!s->active[ni]) continue;
    const sc_node *n = &g->nodes[ni];
    const sc_opdef *d = sc_opdefs[n->op];
    /* a gradient buffer starts at zero, unless its only writer overwrites it (a whole-buffer
     * memset and an accumulating read saved, e.g. a convolution's input gradient) */
    unsigned fresh = 0;
    for (int k = 0; k < n->n_in; k++) {
      int v = n->in[k];
      if (v < 0 || !s->need[v] || s->zero_first[v] != ni) continue;
      if ((d->flags & SC_OPF_BW_OVERWRITE) && s->writers[v] == 1 &&
          !(through && ni == s->final_act))
        fresh |= 1u << k;
      else
        memset(gbuf(s, v), 0, (size_t)sc_shape_numel(&s->t[v].shape) * sizeof(float));
    }
    sc_opctx c;
    build_ctx(s, ni, &c);
    c.scratch = s->scratch;
    c.scratch_size = s->scratch_need[ni];
    for (int j = 0; j < n->n_out; j++) c.dout[j] = gbuf(s, out_value(s, ni, j));
    for (int k = 0; k < n->n_in; k++) c.din[k] = gbuf(s, n->in[k]);
    c.din_fresh = fresh;
    if (through && ni == s->final_act) {
      /* the trailing activation as identity: the seed is on the logits */
      size_t m = (size_t)sc_shape_numel(&s->t[out_value(s, ni, 0)].shape);
      if (c.din[0])
        for (size_t e = 0; e < m; e++) c.din[0][e] += c.dout[0][e];
      continue;
    }
    if (!d->backward)
      return sc_node_error(&c, SEGCAM_E_UNSUPPORTED, "no gradient through this op");
    double t0 = s->prof ? omp_get_wtime() : 0;
    SC_TRY(d->backward(&c));
    if (s->prof) s->prof[2 * ni + 1] += omp_get_wtime() - t0;
  }
  for (int i = 0; i < n_targets; i++) {
    size_t m = (size_t)sc_shape_numel(&s->t[targets[i]].shape);
    const float *gsrc = gbuf(s, targets[i]);
    if (gsrc) memcpy(grads[i], gsrc, m * sizeof(float));
    else memset(grads[i], 0, m * sizeof(float)); /* the output does not depend on it */
  }
  return SEGCAM_OK;
}
