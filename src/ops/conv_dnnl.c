/* Conv / ConvTranspose on oneDNN (see conv_dnnl.h).
 *
 * Per convolution: a forward primitive and a data-gradient primitive (created on the first
 * backward call, since many runs never need it; for a stride-1 Conv a forward convolution with
 * the flipped kernel, see flipped_desc, else oneDNN's backward-data), both with format 'any' for
 * the activations so that oneDNN chooses its fast blocked layouts, and reorder primitives between
 * those layouts and NCHW.  The data gradient is accumulated into the caller's buffer by a reorder
 * with a 'sum' post-op.  Everything runs in the caller's scratch (oneDNN's own scratchpad included,
 * in 'user' mode), so nothing is allocated while a session runs.
 *
 * Threads: oneDNN here is built on OpenMP (libgomp), the same runtime as the rest of segcam, and
 * uses omp_get_max_threads() threads. */
#define _POSIX_C_SOURCE 200809L /* getenv, pthread_once */

#include "ops/conv_dnnl.h"

#include "ops/ops.h" /* SC_FUSE_* */

#include <dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

static dnnl_engine_t engine;
static int engine_ok;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void) {
  const char *e = getenv("SEGCAM_CONV");
  if (e && strcmp(e, "blas") == 0) return; /* tests run the OpenBLAS path this way */
  engine_ok = dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success;
}

/* One reorder between two layouts, with its two memory objects (data set per call). */
typedef struct reorder {
  dnnl_primitive_t prim; /* NULL: the layouts are equal, no reorder */
  dnnl_memory_t from, to;
} reorder;

struct sc_dnnl_conv {
  sc_dnnl_conv_geom g;
  dnnl_stream_t stream;
  dnnl_memory_desc_t user_x, user_y; /* NCHW */
  /* forward */
  dnnl_primitive_desc_t fpd;
  dnnl_primitive_t fwd;
  dnnl_memory_t src, dst, wei, bias, fpad; /* fpad: scratchpad */
  reorder in_x, out_y;
  size_t f_src, f_dst, f_pad; /* scratch offsets, (size_t)-1 = not used */
  /* backward data (primitive and reorders made on first use) */
  dnnl_primitive_desc_t bpd;
  dnnl_primitive_t bwd;
  dnnl_memory_t dsrc, ddst, bwei, bpad;
  reorder in_dy, out_dx, set_dx; /* set_dx: out_dx without the sum (NULL prim: same layout) */
  int cropped;                   /* X is a view without its last rows/columns (window()) */
  size_t b_mask, b_ddst, b_dsrc, b_pad;
  int bwd_ready;
  int flip; /* the data gradient runs as a forward convolution (bpd is then a forward pd) */
};

#define OK(x) ((x) == dnnl_success)

static size_t align_up(size_t n) {
  return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* Reserves `bytes` at *end; returns the offset. */
static size_t take(size_t *end, size_t bytes) {
  size_t off = *end;
  *end += align_up(bytes);
  return off;
}

static int reorder_init(reorder *r, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        int accumulate) {
  memset(r, 0, sizeof *r);
  if (!accumulate && dnnl_memory_desc_equal(from, to)) return 1;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  dnnl_primitive_desc_t pd = NULL;
  int ok = OK(dnnl_primitive_attr_create(&attr));
  if (ok && accumulate) {
    ok = OK(dnnl_post_ops_create(&po)) && OK(dnnl_post_ops_append_sum(po, 1.0f)) &&
         OK(dnnl_primitive_attr_set_post_ops(attr, po));
  }
  ok = ok && OK(dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, attr)) &&
       OK(dnnl_primitive_create(&r->prim, pd)) &&
       OK(dnnl_memory_create(&r->from, from, engine, DNNL_MEMORY_NONE)) &&
       OK(dnnl_memory_create(&r->to, to, engine, DNNL_MEMORY_NONE));
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (po) dnnl_post_ops_destroy(po);
  if (attr) dnnl_primitive_attr_destroy(attr);
  return ok;
}

static void reorder_free(reorder *r) {
  if (r->prim) dnnl_primitive_destroy(r->prim);
  if (r->from) dnnl_memory_destroy(r->from);
  if (r->to) dnnl_memory_destroy(r->to);
}

static int reorder_run(dnnl_stream_t st, reorder *r, const void *from, void *to) {
  if (!r->prim) return 1;
  dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, r->from}, {DNNL_ARG_TO, r->to}};
  return OK(dnnl_memory_set_data_handle(r->from, (void *)from)) &&
         OK(dnnl_memory_set_data_handle(r->to, to)) &&
         OK(dnnl_primitive_execute(r->prim, st, 2, a));
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
  return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* Copies a weight tensor from layout `user` into a new memory in layout `want`. */
static int load_weights(dnnl_stream_t st, const dnnl_memory_desc_t *user, const void *w,
                        const dnnl_memory_desc_t *want, dnnl_memory_t *out) {
  if (!OK(dnnl_memory_create(out, want, engine, DNNL_MEMORY_ALLOCATE))) return 0;
  void *h = NULL;
  if (!OK(dnnl_memory_get_data_handle(*out, &h))) return 0;
  if (dnnl_memory_desc_equal(user, want)) {
    memcpy(h, w, dnnl_memory_desc_get_size(user));
    return 1;
  }
  reorder r;
  int ok = reorder_init(&r, user, want, 0) && reorder_run(st, &r, w, h) && OK(dnnl_stream_wait(st));
  reorder_free(&r);
  return ok;
}

void sc_dnnl_conv_free(void *p) {
  sc_dnnl_conv *d = p;
  if (!d) return;
  dnnl_memory_t mems[] = {d->src,  d->dst,  d->wei,  d->bias, d->fpad,
                          d->dsrc, d->ddst, d->bwei, d->bpad};
  for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
    if (mems[i]) dnnl_memory_destroy(mems[i]);
  reorder_free(&d->in_x);
  reorder_free(&d->out_y);
  reorder_free(&d->in_dy);
  reorder_free(&d->out_dx);
  reorder_free(&d->set_dx);
  if (d->fwd) dnnl_primitive_destroy(d->fwd);
  if (d->bwd) dnnl_primitive_destroy(d->bwd);
  if (d->fpd) dnnl_primitive_desc_destroy(d->fpd);
  if (d->bpd) dnnl_primitive_desc_destroy(d->bpd);
  if (d->stream) dnnl_stream_destroy(d->stream);
  free(d);
}

/* The weights' logical oneDNN shape and the tag of segcam's (ONNX) layout of them. */
static void weight_desc(const sc_dnnl_conv_geom *g, dnnl_memory_desc_t *user,
                        dnnl_memory_desc_t *any, int *ok) {
  const int64_t G = g->groups, K = g->k, C = g->c;
  dnnl_dims_t wd;
  int nd;
  dnnl_format_tag_t tag;
  if (G == 1) {
    nd = 4;
    wd[0] = K, wd[1] = C, wd[2] = g->r, wd[3] = g->s;
    tag = g->transpose ? dnnl_iohw : dnnl_oihw; /* ConvTranspose stores [C, K, R, S] */
  } else {
    nd = 5;
    wd[0] = G, wd[1] = K / G, wd[2] = C / G, wd[3] = g->r, wd[4] = g->s;
    tag = g->transpose ? dnnl_giohw : dnnl_goihw;
  }
  *ok = *ok && OK(dnnl_memory_desc_init_by_tag(user, nd, wd, dnnl_f32, tag)) &&
        OK(dnnl_memory_desc_init_by_tag(any, nd, wd, dnnl_f32, dnnl_format_tag_any));
}

/* Strides, dilations and pads in oneDNN's terms.  oneDNN refuses a negative trailing pad, which a
 * Conv has when its stride never reaches the last rows or columns (a 1x1 stride-2 convolution on
 * an even size): those are cropped from the input instead (crop[], a strided view of the NCHW
 * tensor; their gradient is zero).  Returns 0 when oneDNN cannot take the geometry. */
static int window(const sc_dnnl_conv_geom *g, dnnl_dims_t st, dnnl_dims_t dil, dnnl_dims_t pl,
                  dnnl_dims_t pr, int64_t crop[2]) {
  const int64_t in[2] = {g->h, g->w}, out[2] = {g->p, g->q}, k[2] = {g->r, g->s};
  for (int a = 0; a < 2; a++) {
    int64_t keff = (k[a] - 1) * g->dil[a] + 1;
    st[a] = g->stride[a];
    dil[a] = g->dil[a] - 1;
    pl[a] = g->pad[a];
    /* Conv: out = (in + pl + pr - keff) / stride + 1; ConvTranspose swaps in and out */
    pr[a] = g->transpose ? (in[a] - 1) * g->stride[a] + keff - g->pad[a] - out[a]
                         : (out[a] - 1) * g->stride[a] + keff - in[a] - g->pad[a];
    crop[a] = 0;
    if (pr[a] < 0 && !g->transpose && in[a] + pr[a] >= 1) crop[a] = -pr[a], pr[a] = 0;
    if (pl[a] < 0 || pr[a] < 0) return 0;
  }
  return 1;
}

/* A stride-1 Conv's data gradient is itself a forward convolution: of dY with the kernel
 * reversed and input/output channels swapped per group, leading pad (R-1)*d - pad (a 'full'
 * correlation).  oneDNN's forward kernels run it faster than its backward-data ones here
 * (docs/PERFORMANCE.md).  Makes that forward descriptor in *pd;
 * returns 0 when the geometry does not allow it (stride > 1, a crop, pads beyond the kernel)
 * or oneDNN refuses it. */
static int flipped_desc(const sc_dnnl_conv_geom *g, dnnl_primitive_desc_t *pd,
                        const_dnnl_primitive_attr_t attr, const int64_t crop[2]) {
  if (g->transpose || g->stride[0] != 1 || g->stride[1] != 1 || crop[0] || crop[1]) return 0;
  const int64_t in[2] = {g->h, g->w}, out[2] = {g->p, g->q}, k[2] = {g->r, g->s};
  dnnl_dims_t st = {1, 1}, dil, pl, pr;
  for (int a = 0; a < 2; a++) {
    int64_t ext = (k[a] - 1) * g->dil[a];
    dil[a] = g->dil[a] - 1;
    pl[a] = ext - g->pad[a];
    pr[a] = ext - ((out[a] - 1) + ext + 1 - in[a] - g->pad[a]); /* ext - the forward's end pad */
    if (pl[a] < 0 || pr[a] < 0) return 0;
  }
  const int64_t G = g->groups;
  dnnl_dims_t sd = {g->n, g->k, g->p, g->q}, dd = {g->n, g->c, g->h, g->w}, wd;
  if (G == 1)
    wd[0] = g->c, wd[1] = g->k, wd[2] = g->r, wd[3] = g->s;
  else
    wd[0] = G, wd[1] = g->c / G, wd[2] = g->k / G, wd[3] = g->r, wd[4] = g->s;
  dnnl_memory_desc_t s_any, d_any, w_any;
  dnnl_convolution_desc_t cd;
  return OK(dnnl_memory_desc_init_by_tag(&s_any, 4, sd, dnnl_f32, dnnl_format_tag_any)) &&
         OK(dnnl_memory_desc_init_by_tag(&d_any, 4, dd, dnnl_f32, dnnl_format_tag_any)) &&
         OK(dnnl_memory_desc_init_by_tag(&w_any, G == 1 ? 4 : 5, wd, dnnl_f32,
                                         dnnl_format_tag_any)) &&
         OK(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                       dnnl_convolution_direct, &s_any, &w_any,
                                                       NULL, &d_any, st, dil, pl, pr)) &&
         OK(dnnl_primitive_desc_create(pd, &cd, attr, engine, NULL));
}

/* The data-gradient primitive's dY (DNNL_ARG_DIFF_DST) or dX (DNNL_ARG_DIFF_SRC) layout. */
static const dnnl_memory_desc_t *bwd_md(const sc_dnnl_conv *d, int which) {
  if (d->flip)
    return query(d->bpd, which == DNNL_ARG_DIFF_DST ? dnnl_query_src_md : dnnl_query_dst_md);
  return query(d->bpd,
               which == DNNL_ARG_DIFF_DST ? dnnl_query_diff_dst_md : dnnl_query_diff_src_md);
}

sc_dnnl_conv *sc_dnnl_conv_create(const sc_dnnl_conv_geom *g, const float *w, const float *b,
                                  size_t *scratch_bytes) {
  *scratch_bytes = 0;
  pthread_once(&engine_once, engine_init);
  if (!engine_ok) return NULL;
  sc_dnnl_conv *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->g = *g;
  dnnl_dims_t xd = {g->n, g->c, g->h, g->w}, yd = {g->n, g->k, g->p, g->q}, bd = {g->k};
  dnnl_dims_t st, dil, pl, pr;
  int64_t crop[2];
  dnnl_memory_desc_t x_any, y_any, w_user, w_any, b_md;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_post_ops_t po = NULL;
  int ok = window(g, st, dil, pl, pr, crop) &&
           OK(dnnl_stream_create(&d->stream, engine, dnnl_stream_default_flags));
  /* X as oneDNN sees it: NCHW, possibly without its last rows/columns (a view) */
  dnnl_dims_t xstr = {g->c * g->h * g->w, g->h * g->w, g->w, 1};
  xd[2] -= crop[0], xd[3] -= crop[1];
  d->cropped = crop[0] || crop[1];
  ok = ok && OK(dnnl_memory_desc_init_by_strides(&d->user_x, 4, xd, dnnl_f32, xstr)) &&
       OK(dnnl_memory_desc_init_by_tag(&d->user_y, 4, yd, dnnl_f32, dnnl_nchw)) &&
       OK(dnnl_memory_desc_init_by_tag(&x_any, 4, xd, dnnl_f32, dnnl_format_tag_any)) &&
       OK(dnnl_memory_desc_init_by_tag(&y_any, 4, yd, dnnl_f32, dnnl_format_tag_any)) &&
       OK(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
  weight_desc(g, &w_user, &w_any, &ok);
  ok = ok && OK(dnnl_primitive_attr_create(&attr)) &&
       OK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  if (ok && g->act)
    ok = OK(dnnl_post_ops_create(&po)) &&
         OK(dnnl_post_ops_append_eltwise(
             po, 1.0f, g->act == SC_FUSE_CLIP ? dnnl_eltwise_clip : dnnl_eltwise_relu,
             g->act == SC_FUSE_CLIP ? g->lo : g->alpha, g->act == SC_FUSE_CLIP ? g->hi : 0.0f)) &&
         OK(dnnl_primitive_attr_set_post_ops(attr, po));
  /* forward and backward-data descriptors */
  dnnl_convolution_desc_t fd, bdsc;
  if (ok && !g->transpose)
    ok = OK(dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                       dnnl_convolution_direct, &x_any, &w_any,
                                                       &b_md, &y_any, st, dil, pl, pr)) &&
         OK(dnnl_dilated_convolution_backward_data_desc_init(&bdsc, dnnl_convolution_direct, &x_any,
                                                             &w_any, &y_any, st, dil, pl, pr));
  else if (ok)
    ok = OK(dnnl_dilated_deconvolution_forward_desc_init(&fd, dnnl_forward_training,
                                                         dnnl_deconvolution_direct, &x_any, &w_any,
                                                         &b_md, &y_any, st, dil, pl, pr)) &&
         OK(dnnl_dilated_deconvolution_backward_data_desc_init(
             &bdsc, dnnl_deconvolution_direct, &x_any, &w_any, &y_any, st, dil, pl, pr));
  ok = ok && OK(dnnl_primitive_desc_create(&d->fpd, &fd, attr, engine, NULL));
  if (po) dnnl_post_ops_destroy(po);
  if (attr) {
    /* the backward pass has no post-ops: the activation's gradient is applied before it */
    dnnl_primitive_attr_destroy(attr);
    attr = NULL;
  }
  ok = ok && OK(dnnl_primitive_attr_create(&attr)) &&
       OK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
  if (ok) d->flip = flipped_desc(g, &d->bpd, attr, crop);
  ok = ok && (d->flip || OK(dnnl_primitive_desc_create(&d->bpd, &bdsc, attr, engine, d->fpd)));
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (!ok) {
    sc_dnnl_conv_free(d);
    return NULL;
  }
  const dnnl_memory_desc_t *src = query(d->fpd, dnnl_query_src_md),
                           *dst = query(d->fpd, dnnl_query_dst_md),
                           *wei = query(d->fpd, dnnl_query_weights_md),
                           *fpad = query(d->fpd, dnnl_query_scratchpad_md),
                           *dsrc = bwd_md(d, DNNL_ARG_DIFF_SRC),
                           *ddst = bwd_md(d, DNNL_ARG_DIFF_DST),
                           *bwei = query(d->bpd, dnnl_query_weights_md),
                           *bpad = query(d->bpd, dnnl_query_scratchpad_md);
  ok = src && dst && wei && dsrc && ddst && bwei;
  if (fpad && dnnl_memory_desc_get_size(fpad) == 0) fpad = NULL;
  if (bpad && dnnl_memory_desc_get_size(bpad) == 0) bpad = NULL;
  /* scratch: forward [src][dst][pad], backward [mask][ddst][dsrc][pad], overlapping */
  size_t fend = 0, bend = 0, none = (size_t)-1;
  if (ok) {
    d->f_src = dnnl_memory_desc_equal(src, &d->user_x)
                   ? none
                   : take(&fend, dnnl_memory_desc_get_size(src));
    d->f_dst = dnnl_memory_desc_equal(dst, &d->user_y)
                   ? none
                   : take(&fend, dnnl_memory_desc_get_size(dst));
    d->f_pad = fpad ? take(&fend, dnnl_memory_desc_get_size(fpad)) : none;
    d->b_mask = g->act ? take(&bend, dnnl_memory_desc_get_size(&d->user_y)) : none;
    d->b_ddst = dnnl_memory_desc_equal(ddst, &d->user_y)
                    ? none
                    : take(&bend, dnnl_memory_desc_get_size(ddst));
    d->b_dsrc = take(&bend, dnnl_memory_desc_get_size(dsrc));
    d->b_pad = bpad ? take(&bend, dnnl_memory_desc_get_size(bpad)) : none;
  }
  ok = ok && OK(dnnl_primitive_create(&d->fwd, d->fpd)) &&
       OK(dnnl_memory_create(&d->src, src, engine, DNNL_MEMORY_NONE)) &&
       OK(dnnl_memory_create(&d->dst, dst, engine, DNNL_MEMORY_NONE)) &&
       (!fpad || OK(dnnl_memory_create(&d->fpad, fpad, engine, DNNL_MEMORY_NONE))) &&
       reorder_init(&d->in_x, &d->user_x, src, 0) && reorder_init(&d->out_y, dst, &d->user_y, 0) &&
       load_weights(d->stream, &w_user, w, wei, &d->wei) &&
       OK(dnnl_memory_create(&d->bias, &b_md, engine, DNNL_MEMORY_ALLOCATE));
  if (ok) {
    void *h = NULL;
    ok = OK(dnnl_memory_get_data_handle(d->bias, &h));
    if (ok && b)
      memcpy(h, b, (size_t)g->k * sizeof(float));
    else if (ok)
      memset(h, 0, (size_t)g->k * sizeof(float));
  }
  if (!ok) {
    sc_dnnl_conv_free(d);
    return NULL;
  }
  *scratch_bytes = fend > bend ? fend : bend;
  return d;
}

static void *at(void *scratch, size_t off) {
  return (char *)scratch + off;
}

int sc_dnnl_conv_forward(sc_dnnl_conv *d, const float *x, float *y, void *scratch) {
  const size_t none = (size_t)-1;
  void *src = d->f_src == none ? (void *)x : at(scratch, d->f_src);
  void *dst = d->f_dst == none ? (void *)y : at(scratch, d->f_dst);
  dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, d->src},
                          {DNNL_ARG_WEIGHTS, d->wei},
                          {DNNL_ARG_BIAS, d->bias},
                          {DNNL_ARG_DST, d->dst},
                          {DNNL_ARG_SCRATCHPAD, d->fpad}};
  int ok = reorder_run(d->stream, &d->in_x, x, src) &&
           OK(dnnl_memory_set_data_handle(d->src, src)) &&
           OK(dnnl_memory_set_data_handle(d->dst, dst)) &&
           (!d->fpad || OK(dnnl_memory_set_data_handle(d->fpad, at(scratch, d->f_pad)))) &&
           OK(dnnl_primitive_execute(d->fwd, d->stream, d->fpad ? 5 : 4, a)) &&
           reorder_run(d->stream, &d->out_y, dst, y) && OK(dnnl_stream_wait(d->stream));
  return ok;
}

/* The flipped weights of the data gradient as a forward convolution (flipped_desc), from the
 * forward's: W'[g, c, j, r, s] = W[g, j, c, R-1-r, S-1-s] in plain (g)oihw layouts. */
static int load_flipped_weights(sc_dnnl_conv *d) {
  const sc_dnnl_conv_geom *g = &d->g;
  const int64_t G = g->groups, kg = g->k / G, cg = g->c / G, rs = g->r * g->s;
  dnnl_memory_desc_t user, any, fl;
  int ok = 1;
  weight_desc(g, &user, &any, &ok);
  dnnl_dims_t fd;
  if (G == 1)
    fd[0] = g->c, fd[1] = g->k, fd[2] = g->r, fd[3] = g->s;
  else
    fd[0] = G, fd[1] = cg, fd[2] = kg, fd[3] = g->r, fd[4] = g->s;
  ok = ok && OK(dnnl_memory_desc_init_by_tag(&fl, G == 1 ? 4 : 5, fd, dnnl_f32,
                                             G == 1 ? dnnl_oihw : dnnl_goihw));
  size_t n = (size_t)(G * kg * cg * rs);
  float *w = ok ? malloc(n * sizeof *w) : NULL, *f = ok ? malloc(n * sizeof *f) : NULL;
  void *h = NULL;
  reorder r = {0};
  ok = ok && w && f && OK(dnnl_memory_get_data_handle(d->wei, &h)) &&
       reorder_init(&r, query(d->fpd, dnnl_query_weights_md), &user, 0) &&
       (r.prim ? reorder_run(d->stream, &r, h, w) && OK(dnnl_stream_wait(d->stream))
               : (memcpy(w, h, n * sizeof *w), 1));
  reorder_free(&r);
  if (ok) /* w: [G, Kg, Cg, R, S] -> f: [G, Cg, Kg, R, S], kernel reversed */
    for (int64_t gi = 0; gi < G; gi++)
      for (int64_t j = 0; j < kg; j++)
        for (int64_t c = 0; c < cg; c++)
          for (int64_t t = 0; t < rs; t++)
            f[((gi * cg + c) * kg + j) * rs + t] = w[((gi * kg + j) * cg + c) * rs + rs - 1 - t];
  ok = ok && load_weights(d->stream, &fl, f, query(d->bpd, dnnl_query_weights_md), &d->bwei);
  free(w);
  free(f);
  return ok;
}

static int backward_init(sc_dnnl_conv *d) {
  const dnnl_memory_desc_t *dsrc = bwd_md(d, DNNL_ARG_DIFF_SRC),
                           *ddst = bwd_md(d, DNNL_ARG_DIFF_DST),
                           *bpad = query(d->bpd, dnnl_query_scratchpad_md);
  if (bpad && dnnl_memory_desc_get_size(bpad) == 0) bpad = NULL;
  void *w = NULL;
  /* the gradient's weights, in its own layout, from the forward's (only for the convolutions a
   * reverse pass crosses) */
  int wok = d->flip ? load_flipped_weights(d)
                    : OK(dnnl_memory_get_data_handle(d->wei, &w)) &&
                          load_weights(d->stream, query(d->fpd, dnnl_query_weights_md), w,
                                       query(d->bpd, dnnl_query_weights_md), &d->bwei);
  return wok && OK(dnnl_primitive_create(&d->bwd, d->bpd)) &&
         OK(dnnl_memory_create(&d->dsrc, dsrc, engine, DNNL_MEMORY_NONE)) &&
         OK(dnnl_memory_create(&d->ddst, ddst, engine, DNNL_MEMORY_NONE)) &&
         (!bpad || OK(dnnl_memory_create(&d->bpad, bpad, engine, DNNL_MEMORY_NONE))) &&
         reorder_init(&d->in_dy, &d->user_y, ddst, 0) &&
         reorder_init(&d->out_dx, dsrc, &d->user_x, 1) &&
         reorder_init(&d->set_dx, dsrc, &d->user_x, 0);
}

int sc_dnnl_conv_backward(sc_dnnl_conv *d, const float *y, const float *dy, float *dx,
                          void *scratch, int overwrite) {
  const size_t none = (size_t)-1;
  if (!d->bwd_ready) {
    if (!backward_init(d)) return 0;
    d->bwd_ready = 1;
  }
  if (d->g.act) {
    /* the activation's gradient, from its output: y > 0 exactly where x > 0 (alpha >= 0), and
     * lo < y < hi exactly where lo < x < hi (Clip's gradient is 0 at and beyond its bounds) */
    float *m = at(scratch, d->b_mask);
    const float alpha = d->g.alpha, lo = d->g.lo, hi = d->g.hi;
    const int64_t n = d->g.n * d->g.k * d->g.p * d->g.q;
    if (d->g.act == SC_FUSE_CLIP) {
#pragma omp parallel for schedule(static) if (n >= 32768)
      for (int64_t i = 0; i < n; i++) m[i] = y[i] > lo && y[i] < hi ? dy[i] : 0.0f;
    } else {
#pragma omp parallel for schedule(static) if (n >= 32768)
      for (int64_t i = 0; i < n; i++) m[i] = y[i] > 0 ? dy[i] : alpha * dy[i];
    }
    dy = m;
  }
  void *ddst = d->b_ddst == none ? (void *)dy : at(scratch, d->b_ddst);
  /* overwrite: straight into dx when the layouts agree, else a reorder without the sum; a cropped
   * view leaves rows to zero, so it accumulates into a cleared dx */
  if (overwrite && d->cropped) {
    memset(dx, 0, (size_t)(d->g.n * d->g.c * d->g.h * d->g.w) * sizeof *dx);
    overwrite = 0;
  }
  void *dsrc = overwrite && !d->set_dx.prim ? (void *)dx : at(scratch, d->b_dsrc);
  dnnl_exec_arg_t a[4] = {{d->flip ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, d->ddst},
                          {DNNL_ARG_WEIGHTS, d->bwei},
                          {d->flip ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC, d->dsrc},
                          {DNNL_ARG_SCRATCHPAD, d->bpad}};
  int ok = reorder_run(d->stream, &d->in_dy, dy, ddst) &&
           OK(dnnl_memory_set_data_handle(d->ddst, ddst)) &&
           OK(dnnl_memory_set_data_handle(d->dsrc, dsrc)) &&
           (!d->bpad || OK(dnnl_memory_set_data_handle(d->bpad, at(scratch, d->b_pad)))) &&
           OK(dnnl_primitive_execute(d->bwd, d->stream, d->bpad ? 4 : 3, a)) &&
           (dsrc == dx || reorder_run(d->stream, overwrite ? &d->set_dx : &d->out_dx, dsrc, dx)) &&
           OK(dnnl_stream_wait(d->stream));
  return ok;
}
