/* Unit tests of the elementwise kernels: every activation kind (forward values and gradients
 * against PyTorch float64, TF conventions at the kinks, finite-difference checks), PRelu,
 * Softmax (both axis semantics), BatchNorm, LayerNorm and the binary ops with numpy broadcasting
 * (against a naive double-precision reference written here), plus the errors they must raise. */
#include <stdint.h>

#include "op_check.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static oc_case mk(int op, void *params) {
  oc_case k;
  memset(&k, 0, sizeof k);
  k.op = op;
  k.params = params;
  k.n_out = 1;
  return k;
}

static void add_in(oc_case *k, int ndim, const int64_t *dims, void *data, int is_const) {
  k->in[k->n_in] = oc_tensor(ndim, dims, data);
  k->in_const[k->n_in] = is_const;
  k->n_in++;
}

static void add_in_i64(oc_case *k, int ndim, const int64_t *dims, int64_t *data, int is_const) {
  add_in(k, ndim, dims, data, is_const);
  k->in[k->n_in - 1].dtype = SC_I64;
}

/* The error names the node (oc_run names it after its `type` argument). */
static int names_node(const char *name) {
  char want[128];
  snprintf(want, sizeof want, "node '%s'", name);
  return strstr(segcam_last_error(), want) != NULL;
}

static void expect_error(oc_case *k, const char *name, segcam_status want) {
  segcam_status s = oc_run(k, name);
  CHECK(s == want, "%s: status %d, want %d (%s)", name, (int)s, (int)want, segcam_last_error());
  CHECK(names_node(name), "%s: error does not name the node: %s", name, segcam_last_error());
  oc_free(k);
}

/* Moves values that lie within 0.02 of a kink 0.05 away from it. */
static void avoid(float *x, int64_t n, const float *kinks, int nk) {
  for (int64_t i = 0; i < n; i++)
    for (int k = 0; k < nk; k++)
      if (fabsf(x[i] - kinks[k]) < 0.02f) x[i] = kinks[k] + (x[i] < kinks[k] ? -0.05f : 0.05f);
}

/* ---- activations ---------------------------------------------------------------------------- */

/* PyTorch float64 on the float32-rounded inputs X (forward) and XG (gradient of sum(y), no kinks
 * there); the RELU_TF rows write tf_keras backend.relu out in torch ops; SQRT runs on |x|.
 * Produced by this script (/usr/bin/python3), which prints the rows of act_refs[]:
 *
 *   import torch
 *   F = torch.nn.functional
 *   def relu_tf(v, alpha, thr, mx):  # tf_keras backend.relu, written out
 *       t = torch.where(v > thr, v, torch.zeros_like(v))
 *       if mx is not None: t = t.clamp(0, mx)
 *       return t - alpha * torch.relu(thr - v)
 *   kinds = [  # (C params, function, input transform)
 *    ("{SC_ACT_RELU, 0, 0, 0, 0}", F.relu, None),
 *    ("{SC_ACT_LEAKY_RELU, 0.1f, 0, 0, 0}", lambda x: F.leaky_relu(x, 0.1), None),
 *    ("{SC_ACT_ELU, 1.0f, 0, 0, 0}", lambda x: F.elu(x, 1.0), None),
 *    ("{SC_ACT_ELU, 0.5f, 0, 0, 0}", lambda x: F.elu(x, 0.5), None),
 *    ("{SC_ACT_SELU, 1.6732632423543772f, 1.0507009873554805f, 0, 0}", F.selu, None),
 *    ("{SC_ACT_SIGMOID, 0, 0, 0, 0}", torch.sigmoid, None),
 *    ("{SC_ACT_TANH, 0, 0, 0, 0}", torch.tanh, None),
 *    ("{SC_ACT_CLIP, 0, 0, -1.0f, 2.0f}", lambda x: x.clamp(-1, 2), None),
 *    ("{SC_ACT_HARD_SIGMOID, 0.2f, 0.5f, 0, 0}", lambda x: (0.2*x+0.5).clamp(0, 1), None),
 *    ("{SC_ACT_HARD_SWISH, 0, 0, 0, 0}", F.hardswish, None),
 *    ("{SC_ACT_SOFTPLUS, 0, 0, 0, 0}", F.softplus, None),
 *    ("{SC_ACT_SOFTSIGN, 0, 0, 0, 0}", F.softsign, None),
 *    ("{SC_ACT_GELU, 0, 0, 0, 0}", F.gelu, None),
 *    ("{SC_ACT_GELU_TANH, 0, 0, 0, 0}", lambda x: F.gelu(x, approximate="tanh"), None),
 *    ("{SC_ACT_SWISH, 0, 0, 0, 0}", F.silu, None),
 *    ("{SC_ACT_EXP, 0, 0, 0, 0}", torch.exp, None),
 *    ("{SC_ACT_FLOOR, 0, 0, 0, 0}", torch.floor, None),
 *    ("{SC_ACT_NEG, 0, 0, 0, 0}", torch.neg, None),
 *    ("{SC_ACT_SQRT, 0, 0, 0, 0}", torch.sqrt, "abs"),
 *    ("{SC_ACT_ABS, 0, 0, 0, 0}", torch.abs, None),
 *    ("{SC_ACT_RELU_TF, 0.1f, 1.0f, 0, 4.0f}", lambda x: relu_tf(x, 0.1, 1.0, 4.0), None),
 *    ("{SC_ACT_RELU_TF, 0.2f, 0, 0, INFINITY}", lambda x: relu_tf(x, 0.2, 0.0, None), None),
 *    ("{SC_ACT_SCALE_SHIFT, 1.0f / 127.5f, -1.0f, 0, 0}", lambda x: x/127.5 - 1, None),
 *    ("{SC_ACT_ERF, 0, 0, 0, 0}", torch.erf, None)]
 *   X = [-3.5, -1.25, -0.3, 0.0, 0.4, 1.1, 2.7, 6.0, 7.5]
 *   XG = [-3.5, -1.25, -0.3, 0.4, 1.1, 2.7, 7.5]
 *   f32 = lambda v: torch.tensor(v, dtype=torch.float32).double()
 *   for p, f, tr in kinds:
 *       x = f32(X); xg = f32(XG)
 *       if tr: x = x.abs(); xg = xg.abs()
 *       y = f(x)
 *       if "FLOOR" in p: g = torch.zeros(7, dtype=torch.float64)
 *       else: xg.requires_grad_(); f(xg).sum().backward(); g = xg.grad
 *       print("{%s, %d, {%s}, {%s}}," % (p, 1 if tr else 0,
 *             ", ".join("%.10g" % t for t in y.tolist()),
 *             ", ".join("%.10g" % t for t in g.tolist())))
 */
static const float act_x[9] = {-3.5f, -1.25f, -0.3f, 0.0f, 0.4f, 1.1f, 2.7f, 6.0f, 7.5f};
static const float act_xg[7] = {-3.5f, -1.25f, -0.3f, 0.4f, 1.1f, 2.7f, 7.5f};

typedef struct act_ref {
  sc_act_params p;
  int abs_input;
  double fwd[9], bwd[7];
} act_ref;

static const act_ref act_refs[] = {
    {{SC_ACT_RELU, 0, 0, 0, 0},
     0,
     {0, 0, 0, 0, 0.400000006, 1.100000024, 2.700000048, 6, 7.5},
     {0, 0, 0, 1, 1, 1, 1}},
    {{SC_ACT_LEAKY_RELU, 0.1f, 0, 0, 0},
     0,
     {-0.35, -0.125, -0.03000000119, 0, 0.400000006, 1.100000024, 2.700000048, 6, 7.5},
     {0.1, 0.1, 0.1, 1, 1, 1, 1}},
    {{SC_ACT_ELU, 1.0f, 0, 0, 0},
     0,
     {-0.9698026166, -0.7134952031, -0.2591817881, 0, 0.400000006, 1.100000024, 2.700000048, 6,
      7.5},
     {0.03019738342, 0.2865047969, 0.7408182119, 1, 1, 1, 1}},
    {{SC_ACT_ELU, 0.5f, 0, 0, 0},
     0,
     {-0.4849013083, -0.3567476016, -0.1295908941, 0, 0.400000006, 1.100000024, 2.700000048, 6,
      7.5},
     {0.01509869171, 0.1432523984, 0.3704091059, 1, 1, 1, 1}},
    {{SC_ACT_SELU, 1.6732632423543772f, 1.0507009873554805f, 0, 0},
     0,
     {-1.705009341, -1.254395446, -0.4556673309, 0, 0.4202804012, 1.155771111, 2.836892716,
      6.304205924, 7.880257405},
     {0.05308999989, 0.5037038945, 1.30243201, 1.050700987, 1.050700987, 1.050700987, 1.050700987}},
    {{SC_ACT_SIGMOID, 0, 0, 0, 0},
     0,
     {0.02931223075, 0.2227001388, 0.4255574803, 0.5, 0.5986876615, 0.7502601101, 0.9370266468,
      0.9975273768, 0.9994472214},
     {0.02845302388, 0.173104787, 0.2444583113, 0.2402607455, 0.1873698773, 0.05900771002,
      0.0005524730727}},
    {{SC_ACT_TANH, 0, 0, 0, 0},
     0,
     {-0.9981778976, -0.84828364, -0.2913126234, 0, 0.3799489674, 0.8004990303, 0.9910074545,
      0.9999877117, 0.9999993882},
     {0.00364088472, 0.2804148662, 0.9151369555, 0.8556387822, 0.3592013024, 0.01790422506,
      1.223608533e-06}},
    {{SC_ACT_CLIP, 0, 0, -1.0f, 2.0f},
     0,
     {-1, -1, -0.3000000119, 0, 0.400000006, 1.100000024, 2, 2, 2},
     {0, 0, 1, 1, 1, 0, 0}},
    {{SC_ACT_HARD_SIGMOID, 0.2f, 0.5f, 0, 0},
     0,
     {0, 0.25, 0.4399999976, 0.5, 0.5800000012, 0.7200000048, 1, 1, 1},
     {0, 0.2, 0.2, 0.2, 0.2, 0, 0}},
    {{SC_ACT_HARD_SWISH, 0, 0, 0, 0},
     0,
     {-0, -0.3645833333, -0.1350000048, 0, 0.2266666704, 0.7516666873, 2.565000067, 6, 7.5},
     {0, 0.08333333333, 0.399999996, 0.6333333353, 0.8666666746, 1.400000016, 1}},
    {{SC_ACT_SOFTPLUS, 0, 0, 0, 0},
     0,
     {0.02975041827, 0.2519290813, 0.5543552394, 0.6931471806, 0.913015256, 1.387335343,
      2.765043606, 6.002475685, 7.500552931},
     {0.02931223075, 0.2227001388, 0.4255574803, 0.5986876615, 0.7502601101, 0.9370266468,
      0.9994472214}},
    {{SC_ACT_SOFTSIGN, 0, 0, 0, 0},
     0,
     {-0.7777777778, -0.5555555556, -0.2307692378, 0, 0.2857142888, 0.5238095292, 0.7297297332,
      0.8571428571, 0.8823529412},
     {0.04938271605, 0.1975308642, 0.5917159655, 0.5102040773, 0.2267573645, 0.07304601711,
      0.01384083045}},
    {{SC_ACT_GELU, 0, 0, 0, 0},
     0,
     {-0.0008142017766, -0.1320622171, -0.1146265765, 0, 0.2621687014, 0.9507673593, 2.69063922,
      5.999999994, 7.5},
     {-0.002821760354, -0.1226615831, 0.2676722245, 0.8027298018, 1.103971338, 1.024669548, 1}},
    {{SC_ACT_GELU_TANH, 0, 0, 0, 0},
     0,
     {-0.0006161976554, -0.132285797, -0.1146290796, 0, 0.2621611742, 0.9505810725, 2.691112454, 6,
      7.5},
     {-0.00242264376, -0.1224926322, 0.2677045397, 0.8026588385, 1.103659467, 1.024667863, 1}},
    {{SC_ACT_SWISH, 0, 0, 0, 0},
     0,
     {-0.1025928076, -0.2783751735, -0.1276672492, 0, 0.2394750682, 0.825286139, 2.529971991,
      5.985164261, 7.49585416},
     {-0.07027335283, 0.006319155085, 0.352219984, 0.6947919612, 0.9563669796, 1.096347467,
      1.003590769}},
    {{SC_ACT_EXP, 0, 0, 0, 0},
     0,
     {0.03019738342, 0.2865047969, 0.7408182119, 1, 1.491824707, 3.004166096, 14.87973243,
      403.4287935, 1808.042414},
     {0.03019738342, 0.2865047969, 0.7408182119, 1.491824707, 3.004166096, 14.87973243,
      1808.042414}},
    {{SC_ACT_FLOOR, 0, 0, 0, 0}, 0, {-4, -2, -1, 0, 0, 1, 2, 6, 7}, {0, 0, 0, 0, 0, 0, 0}},
    {{SC_ACT_NEG, 0, 0, 0, 0},
     0,
     {3.5, 1.25, 0.3000000119, -0, -0.400000006, -1.100000024, -2.700000048, -6, -7.5},
     {-1, -1, -1, -1, -1, -1, -1}},
    {{SC_ACT_SQRT, 0, 0, 0, 0},
     1,
     {1.870828693, 1.118033989, 0.5477225684, 0, 0.6324555367, 1.04880886, 1.643167687, 2.449489743,
      2.738612788},
     {0.2672612419, 0.4472135955, 0.912870911, 0.7905694092, 0.4767312895, 0.304290307,
      0.1825741858}},
    {{SC_ACT_ABS, 0, 0, 0, 0},
     0,
     {3.5, 1.25, 0.3000000119, 0, 0.400000006, 1.100000024, 2.700000048, 6, 7.5},
     {-1, -1, -1, 1, 1, 1, 1}},
    {{SC_ACT_RELU_TF, 0.1f, 1.0f, 0, 4.0f},
     0,
     {-0.45, -0.225, -0.1300000012, -0.1, -0.0599999994, 1.100000024, 2.700000048, 4, 4},
     {0.1, 0.1, 0.1, 0.1, 1, 1, 0}},
    {{SC_ACT_RELU_TF, 0.2f, 0, 0, INFINITY},
     0,
     {-0.7, -0.25, -0.06000000238, 0, 0.400000006, 1.100000024, 2.700000048, 6, 7.5},
     {0.2, 0.2, 0.2, 1, 1, 1, 1}},
    {{SC_ACT_SCALE_SHIFT, 1.0f / 127.5f, -1.0f, 0, 0},
     0,
     {-1.02745098, -1.009803922, -1.002352941, -1, -0.9968627451, -0.9913725488, -0.978823529,
      -0.9529411765, -0.9411764706},
     {0.007843137255, 0.007843137255, 0.007843137255, 0.007843137255, 0.007843137255,
      0.007843137255, 0.007843137255}},
    /* ONNX Erf (sweep: PyTorch 1.13 exports nn.GELU() as x*0.5*(1 + Erf(x/sqrt 2))) */
    {{SC_ACT_ERF, 0, 0, 0, 0},
     0,
     {-0.9999992569, -0.9229001283, -0.3286267718, 0, 0.4283923608, 0.8802050776, 0.9998656673, 1,
      1},
     {5.399426777e-06, 0.2365211224, 1.031260902, 0.9615412943, 0.3364795801, 0.0007699245616,
      4.201365378e-25}},
};

static void test_act_refs(void) {
  for (size_t c = 0; c < sizeof act_refs / sizeof act_refs[0]; c++) {
    const act_ref *r = &act_refs[c];
    sc_act_params p = r->p;
    char name[64];
    snprintf(name, sizeof name, "act_kind_%d_case_%zu", (int)p.kind, c);
    float x[9], xg[7], g[7] = {1, 1, 1, 1, 1, 1, 1}, dx[7];
    for (int i = 0; i < 9; i++) x[i] = r->abs_input ? fabsf(act_x[i]) : act_x[i];
    for (int i = 0; i < 7; i++) xg[i] = r->abs_input ? fabsf(act_xg[i]) : act_xg[i];
    int64_t d9[1] = {9}, d7[1] = {7};
    oc_case k = mk(SC_OP_ACT, &p);
    add_in(&k, 1, d9, x, 0);
    segcam_status s = oc_run(&k, name);
    CHECK(s == SEGCAM_OK, "%s: %s", name, segcam_last_error());
    if (s == SEGCAM_OK) t_close(name, k.out[0].data, r->fwd, 9, 1e-6, 1e-6);
    oc_free(&k);
    k = mk(SC_OP_ACT, &p);
    add_in(&k, 1, d7, xg, 0);
    s = oc_run(&k, name);
    float *din[SC_MAX_IO] = {dx};
    if (s == SEGCAM_OK) s = oc_backward(&k, g, din);
    if (p.kind == SC_ACT_FLOOR) {
      CHECK(s == SEGCAM_E_UNSUPPORTED && names_node(name), "%s: Floor backward must fail: %s", name,
            segcam_last_error());
    } else {
      CHECK(s == SEGCAM_OK, "%s backward: %s", name, segcam_last_error());
      if (s == SEGCAM_OK) t_close(name, dx, r->bwd, 7, 1e-6, 1e-6);
    }
    oc_free(&k);
  }
}

/* Finite differences for every differentiable kind, inputs moved away from the kinks. */
static void test_act_gradcheck(void) {
  struct {
    sc_act_params p;
    float lo, hi;
    float kinks[2];
    int nk;
  } cases[] = {
      {{SC_ACT_RELU, 0, 0, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_LEAKY_RELU, 0.3f, 0, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_ELU, 1.0f, 0, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_ELU, 0.7f, 0, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_SELU, 1.6732632f, 1.0507010f, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_SIGMOID, 0, 0, 0, 0}, -5, 5, {0}, 0},
      {{SC_ACT_TANH, 0, 0, 0, 0}, -3, 3, {0}, 0},
      {{SC_ACT_CLIP, 0, 0, 0.0f, 6.0f}, -2, 8, {0, 6}, 2},
      {{SC_ACT_HARD_SIGMOID, 0.2f, 0.5f, 0, 0}, -4, 4, {-2.5f, 2.5f}, 2},
      {{SC_ACT_HARD_SIGMOID, 1.0f / 6, 0.5f, 0, 0}, -4, 4, {-3, 3}, 2},
      {{SC_ACT_HARD_SWISH, 0, 0, 0, 0}, -5, 5, {-3, 3}, 2},
      {{SC_ACT_SOFTPLUS, 0, 0, 0, 0}, -5, 5, {0}, 0},
      {{SC_ACT_SOFTSIGN, 0, 0, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_GELU, 0, 0, 0, 0}, -4, 4, {0}, 0},
      {{SC_ACT_GELU_TANH, 0, 0, 0, 0}, -4, 4, {0}, 0},
      {{SC_ACT_SWISH, 0, 0, 0, 0}, -5, 5, {0}, 0},
      {{SC_ACT_EXP, 0, 0, 0, 0}, -3, 2, {0}, 0},
      {{SC_ACT_NEG, 0, 0, 0, 0}, -3, 3, {0}, 0},
      {{SC_ACT_SQRT, 0, 0, 0, 0}, 0.3f, 4, {0}, 0},
      {{SC_ACT_ABS, 0, 0, 0, 0}, -3, 3, {0}, 1},
      {{SC_ACT_RELU_TF, 0.1f, 1.0f, 0, 4.0f}, -2, 6, {1, 4}, 2},
      {{SC_ACT_RELU_TF, 0, 0, 0, 6.0f}, -2, 8, {0, 6}, 2},
      {{SC_ACT_RELU_TF, 0.2f, 0, 0, INFINITY}, -3, 3, {0}, 1},
      {{SC_ACT_SCALE_SHIFT, 1.0f / 127.5f, -1.0f, 0, 0}, 0, 255, {0}, 0},
      {{SC_ACT_ERF, 0, 0, 0, 0}, -2.5f, 2.5f, {0}, 0},
  };
  int64_t dims[4] = {2, 3, 4, 5};
  float x[120];
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char name[64];
    snprintf(name, sizeof name, "gradcheck_act_kind_%d_case_%zu", (int)cases[c].p.kind, c);
    oc_fill(x, 120, 11 + c, cases[c].lo, cases[c].hi);
    avoid(x, 120, cases[c].kinks, cases[c].nk);
    oc_case k = mk(SC_OP_ACT, &cases[c].p);
    add_in(&k, 4, dims, x, 0);
    oc_gradcheck_acc(&k, name, 1e-3, 1e-2);
    oc_free(&k);
  }
}

static float act1(sc_act_params p, float x, float *grad) {
  int64_t d[1] = {1};
  float g = 1, dx = 0, y = NAN;
  float *din[SC_MAX_IO] = {&dx};
  oc_case k = mk(SC_OP_ACT, &p);
  add_in(&k, 1, d, &x, 0);
  if (oc_run(&k, "act1") == SEGCAM_OK) {
    y = ((float *)k.out[0].data)[0];
    if (oc_backward(&k, &g, din) != SEGCAM_OK) dx = NAN;
  }
  oc_free(&k);
  *grad = dx;
  return y;
}

/* Values and gradients at the kinks follow TF (FORMATS_AND_NUMERICS 4.6). */
static void test_act_kinks(void) {
  float g, y;
  sc_act_params relu = {SC_ACT_RELU, 0, 0, 0, 0};
  act1(relu, 0.0f, &g);
  CHECK(g == 0, "ReluGrad at 0 is 0, got %g", g);
  sc_act_params relu6 = {SC_ACT_CLIP, 0, 0, 0.0f, 6.0f};
  act1(relu6, 0.0f, &g);
  CHECK(g == 0, "Relu6Grad at 0 is 0, got %g", g);
  y = act1(relu6, 6.0f, &g);
  CHECK(g == 0 && y == 6, "Relu6 at 6: y %g (6), grad %g (0)", y, g);
  act1(relu6, 3.0f, &g);
  CHECK(g == 1, "Relu6Grad at 3 is 1, got %g", g);
  /* ONNX Clip with min > max: every output is max, no gradient */
  sc_act_params inv = {SC_ACT_CLIP, 0, 0, 2.0f, 1.0f};
  float xs[4] = {-5, 1.5f, 1.0f, 9};
  for (int i = 0; i < 4; i++) {
    y = act1(inv, xs[i], &g);
    CHECK(y == 1.0f && g == 0, "Clip(2,1)(%g) = %g (1), grad %g (0)", xs[i], y, g);
  }
  sc_act_params elu = {SC_ACT_ELU, 1.0f, 0, 0, 0};
  act1(elu, 0.0f, &g);
  CHECK(g == 1, "TF EluGrad at 0 is g (y < 0 is false), got %g", g);
  /* Keras ReLU(max_value=6): relu6, 0 gradient at 6 */
  sc_act_params k6 = {SC_ACT_RELU_TF, 0, 0, 0, 6.0f};
  y = act1(k6, 6.0f, &g);
  CHECK(y == 6 && g == 0, "Keras ReLU(6) at 6: y %g grad %g", y, g);
  y = act1(k6, 7.0f, &g);
  CHECK(y == 6 && g == 0, "Keras ReLU(6) at 7: y %g grad %g", y, g);
  /* another max_value: relu then clip_by_value, whose gradient passes at t == max */
  sc_act_params k4 = {SC_ACT_RELU_TF, 0, 0, 0, 4.0f};
  y = act1(k4, 4.0f, &g);
  CHECK(y == 4 && g == 1, "Keras ReLU(4) at 4: y %g (4) grad %g (1)", y, g);
  /* leaky_relu path: alpha at exactly 0 */
  sc_act_params kl = {SC_ACT_RELU_TF, 0.2f, 0, 0, INFINITY};
  act1(kl, 0.0f, &g);
  CHECK(fabsf(g - 0.2f) < 1e-7f, "Keras ReLU(negative_slope=0.2) grad at 0 is 0.2, got %g", g);
  /* threshold: x * (x > thr), so exactly at the threshold the output is 0 */
  sc_act_params kt = {SC_ACT_RELU_TF, 0, 1.0f, 0, INFINITY};
  y = act1(kt, 1.0f, &g);
  CHECK(y == 0 && g == 0, "Keras ReLU(threshold=1) at 1: y %g (0) grad %g (0)", y, g);
  y = act1(kt, 1.5f, &g);
  CHECK(y == 1.5f && g == 1, "Keras ReLU(threshold=1) at 1.5: y %g grad %g", y, g);
  /* hi = INFINITY or hi <= 0 both mean "no max_value" */
  sc_act_params k0 = {SC_ACT_RELU_TF, 0, 0, 0, 0.0f};
  y = act1(k0, 100.0f, &g);
  CHECK(y == 100 && g == 1, "RELU_TF with hi = 0 has no max: y %g grad %g", y, g);
  sc_act_params aabs = {SC_ACT_ABS, 0, 0, 0, 0};
  act1(aabs, 0.0f, &g);
  CHECK(g == 0, "Abs gradient at 0 is 0, got %g", g);
  /* softplus stays finite and accurate far out */
  sc_act_params sp = {SC_ACT_SOFTPLUS, 0, 0, 0, 0};
  y = act1(sp, 100.0f, &g);
  CHECK(y == 100.0f && g == 1.0f, "softplus(100) = %g, grad %g", y, g);
  y = act1(sp, -100.0f, &g);
  CHECK(y > 0 && y < 1e-40f + 4e-44f * 1e6f && g >= 0, "softplus(-100) = %g", y);
  sc_act_params sg = {SC_ACT_SIGMOID, 0, 0, 0, 0};
  y = act1(sg, -100.0f, &g);
  CHECK(y >= 0 && y < 1e-40f && isfinite(g), "sigmoid(-100) = %g grad %g", y, g);
}

/* Clip-11: min and max from constant scalar inputs override the params. */
static void test_clip_inputs(void) {
  sc_act_params p = {SC_ACT_CLIP, 0, 0, -1e30f, 1e30f};
  float x[5] = {-3, -0.5f, 2, 5, 9}, lo = 0, hi = 6;
  int64_t d[1] = {5};
  oc_case k = mk(SC_OP_ACT, &p);
  add_in(&k, 1, d, x, 0);
  add_in(&k, 0, d, &lo, 1);
  add_in(&k, 0, d, &hi, 1);
  CHECK(oc_run(&k, "clip_inputs") == SEGCAM_OK, "%s", segcam_last_error());
  double ref[5] = {0, 0, 2, 5, 6};
  t_close("clip from inputs", k.out[0].data, ref, 5, 0, 0);
  oc_free(&k);
  /* max omitted (empty input name): only min applies */
  k = mk(SC_OP_ACT, &p);
  add_in(&k, 1, d, x, 0);
  add_in(&k, 0, d, &lo, 1);
  add_in(&k, 0, d, NULL, 1);
  CHECK(oc_run(&k, "clip_min_only") == SEGCAM_OK, "%s", segcam_last_error());
  double ref2[5] = {0, 0, 2, 5, 9};
  t_close("clip min only", k.out[0].data, ref2, 5, 0, 0);
  oc_free(&k);
  /* a computed bound cannot be resolved at plan time */
  k = mk(SC_OP_ACT, &p);
  add_in(&k, 1, d, x, 0);
  add_in(&k, 0, d, &lo, 0);
  expect_error(&k, "clip_dynamic_min", SEGCAM_E_UNSUPPORTED);
}

static void test_act_int64(void) {
  int64_t x[5] = {-7, -1, 0, 3, INT64_MAX}, d[1] = {5};
  struct {
    sc_act_kind kind;
    int64_t want[5];
  } cases[] = {{SC_ACT_FLOOR, {-7, -1, 0, 3, INT64_MAX}},
               {SC_ACT_NEG, {7, 1, 0, -3, -INT64_MAX}},
               {SC_ACT_ABS, {7, 1, 0, 3, INT64_MAX}}};
  for (int c = 0; c < 3; c++) {
    sc_act_params p = {cases[c].kind, 0, 0, 0, 0};
    oc_case k = mk(SC_OP_ACT, &p);
    add_in_i64(&k, 1, d, x, 1);
    CHECK(oc_run(&k, "act_i64") == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(k.out[0].dtype == SC_I64, "int64 in, int64 out");
    const int64_t *y = k.out[0].data;
    for (int i = 0; i < 5; i++)
      CHECK(y[i] == cases[c].want[i], "kind %d [%d]: %lld want %lld", (int)cases[c].kind, i,
            (long long)y[i], (long long)cases[c].want[i]);
    oc_free(&k);
  }
  sc_act_params p = {SC_ACT_RELU, 0, 0, 0, 0};
  oc_case k = mk(SC_OP_ACT, &p);
  add_in_i64(&k, 1, d, x, 1);
  expect_error(&k, "relu_on_int64", SEGCAM_E_UNSUPPORTED);
  sc_act_params bad = {(sc_act_kind)99, 0, 0, 0, 0};
  float xf[5] = {0};
  k = mk(SC_OP_ACT, &bad);
  add_in(&k, 1, d, xf, 0);
  expect_error(&k, "act_bad_kind", SEGCAM_E_UNSUPPORTED);
}

/* ---- prelu ---------------------------------------------------------------------------------- */

/* Naive reference: slope index by right-aligned broadcasting of a rank-4 X. */
static void prelu_ref(const float *x, const int64_t *xd, const float *w, int wr, const int64_t *wd,
                      double *y) {
  int64_t n = xd[0] * xd[1] * xd[2] * xd[3];
  for (int64_t e = 0; e < n; e++) {
    int64_t c[4] = {e / (xd[1] * xd[2] * xd[3]), e / (xd[2] * xd[3]) % xd[1], e / xd[3] % xd[2],
                    e % xd[3]};
    int64_t wi = 0;
    for (int k = 0; k < wr; k++) {
      int a = 4 - wr + k;
      wi = wi * wd[k] + (wd[k] == 1 ? 0 : c[a]);
    }
    y[e] = x[e] < 0 ? (double)w[wi] * x[e] : x[e];
  }
}

static void test_prelu(void) {
  struct {
    int64_t xd[4];
    int wr;
    int64_t wd[4];
  } cases[] = {
      {{1, 3, 4, 5}, 3, {3, 1, 1}},    /* PyTorch PReLU(C), NCHW */
      {{1, 3, 4, 5}, 1, {1}},          /* one shared slope */
      {{1, 4, 5, 3}, 3, {1, 1, 3}},    /* Keras PReLU(shared_axes=[1,2]), NHWC */
      {{1, 4, 5, 3}, 3, {4, 5, 3}},    /* Keras PReLU without shared axes */
      {{2, 3, 4, 5}, 4, {1, 3, 1, 5}}, /* mixed */
  };
  float x[120], w[60];
  double ref[120];
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char name[48];
    snprintf(name, sizeof name, "prelu_case_%zu", c);
    int64_t n = cases[c].xd[0] * cases[c].xd[1] * cases[c].xd[2] * cases[c].xd[3], nw = 1;
    for (int k = 0; k < cases[c].wr; k++) nw *= cases[c].wd[k];
    oc_fill(x, n, 3 + c, -2, 2);
    oc_fill(w, nw, 5 + c, -0.5f, 0.8f);
    float kink = 0;
    avoid(x, n, &kink, 1);
    oc_case k = mk(SC_OP_PRELU, NULL);
    add_in(&k, 4, cases[c].xd, x, 0);
    add_in(&k, cases[c].wr, cases[c].wd, w, 1);
    CHECK(oc_run(&k, name) == SEGCAM_OK, "%s: %s", name, segcam_last_error());
    prelu_ref(x, cases[c].xd, w, cases[c].wr, cases[c].wd, ref);
    t_close(name, k.out[0].data, ref, (size_t)n, 1e-7, 1e-6);
    oc_gradcheck_acc(&k, name, 1e-3, 1e-3);
    oc_free(&k);
  }
  int64_t xd[4] = {1, 3, 2, 2}, wd[3] = {4, 1, 1};
  oc_case k = mk(SC_OP_PRELU, NULL);
  add_in(&k, 4, xd, x, 0);
  add_in(&k, 3, wd, w, 1);
  expect_error(&k, "prelu_bad_slope", SEGCAM_E_SHAPE);
}

/* ---- softmax -------------------------------------------------------------------------------- */

/* Softmax of x [outer, L, inner] over L, in double. */
static void softmax_ref(const float *x, int64_t outer, int64_t L, int64_t inner, double *y) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      double mx = -INFINITY, s = 0;
      for (int64_t l = 0; l < L; l++) mx = fmax(mx, x[(o * L + l) * inner + j]);
      for (int64_t l = 0; l < L; l++) s += exp(x[(o * L + l) * inner + j] - mx);
      for (int64_t l = 0; l < L; l++)
        y[(o * L + l) * inner + j] = exp(x[(o * L + l) * inner + j] - mx) / s;
    }
}

static void test_softmax(void) {
  int64_t dims[4] = {2, 3, 4, 5};
  float x[120];
  double ref[120];
  oc_fill(x, 120, 21, -4, 4);
  struct {
    int axis, coerce;
    int64_t outer, L, inner;
  } cases[] = {
      {1, 0, 2, 3, 20},  /* opset 13: the channel axis of NCHW logits */
      {1, 1, 2, 60, 1},  /* opset < 13: everything from axis 1 on */
      {-1, 0, 24, 5, 1}, /* Keras default, NHWC channels */
      {-2, 0, 6, 4, 5},  {2, 1, 6, 20, 1}, {0, 0, 1, 2, 60},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char name[48];
    snprintf(name, sizeof name, "softmax_case_%zu", c);
    sc_softmax_params p = {cases[c].axis, cases[c].coerce};
    oc_case k = mk(SC_OP_SOFTMAX, &p);
    add_in(&k, 4, dims, x, 0);
    CHECK(oc_run(&k, name) == SEGCAM_OK, "%s: %s", name, segcam_last_error());
    softmax_ref(x, cases[c].outer, cases[c].L, cases[c].inner, ref);
    t_close(name, k.out[0].data, ref, 120, 1e-7, 1e-5);
    oc_gradcheck_acc(&k, name, 1e-3, 1e-2);
    oc_free(&k);
  }
  /* large logits: subtracting the max keeps it finite */
  float big[3] = {1000, 999, -1000};
  int64_t d1[1] = {3};
  sc_softmax_params p = {0, 0};
  oc_case k = mk(SC_OP_SOFTMAX, &p);
  add_in(&k, 1, d1, big, 0);
  CHECK(oc_run(&k, "softmax_big") == SEGCAM_OK, "%s", segcam_last_error());
  double rb[3] = {1 / (1 + exp(-1.0)), exp(-1.0) / (1 + exp(-1.0)), 0};
  t_close("softmax large logits", k.out[0].data, rb, 3, 1e-7, 1e-6);
  oc_free(&k);
  /* a wide softmax to exercise the parallel blocked path: [1, 21, 40, 40] over the channels */
  int64_t dw[4] = {1, 21, 40, 40};
  float *xw = malloc(33600 * sizeof *xw);
  double *rw = malloc(33600 * sizeof *rw);
  oc_fill(xw, 33600, 23, -6, 6);
  sc_softmax_params pw = {1, 0};
  k = mk(SC_OP_SOFTMAX, &pw);
  add_in(&k, 4, dw, xw, 0);
  CHECK(oc_run(&k, "softmax_wide") == SEGCAM_OK, "%s", segcam_last_error());
  softmax_ref(xw, 1, 21, 1600, rw);
  t_close("softmax wide", k.out[0].data, rw, 33600, 1e-7, 1e-5);
  oc_gradcheck_acc(&k, "softmax_wide", 1e-3, 1e-2);
  oc_free(&k);
  free(xw);
  free(rw);
  sc_softmax_params bad = {4, 0};
  k = mk(SC_OP_SOFTMAX, &bad);
  add_in(&k, 4, dims, x, 0);
  expect_error(&k, "softmax_bad_axis", SEGCAM_E_SHAPE);
}

/* ---- batchnorm / layernorm ------------------------------------------------------------------ */

static void test_batchnorm(void) {
  int64_t xd[4] = {2, 3, 4, 5}, cd[1] = {3};
  float x[120], scale[3] = {1.5f, -0.5f, 2}, bias[3] = {0.1f, 0.2f, -0.3f}, mean[3] = {0.5f, -1, 0},
                var[3] = {0.25f, 2, 0.01f};
  double ref[120];
  oc_fill(x, 120, 31, -3, 3);
  sc_batchnorm_params p = {1e-3f};
  for (int e = 0; e < 120; e++) {
    int ch = e / 20 % 3;
    ref[e] = ((double)x[e] - mean[ch]) / sqrt((double)var[ch] + (double)p.epsilon) * scale[ch] +
             bias[ch];
  }
  oc_case k = mk(SC_OP_BATCHNORM, &p);
  add_in(&k, 4, xd, x, 0);
  add_in(&k, 1, cd, scale, 1);
  add_in(&k, 1, cd, bias, 1);
  add_in(&k, 1, cd, mean, 1);
  add_in(&k, 1, cd, var, 1);
  CHECK(oc_run(&k, "batchnorm") == SEGCAM_OK, "%s", segcam_last_error());
  t_close("batchnorm", k.out[0].data, ref, 120, 1e-6, 1e-6);
  oc_gradcheck_acc(&k, "batchnorm", 1e-3, 1e-3);
  /* gradient is g * scale / sqrt(var + eps), exactly */
  float g[120], dx[120];
  float *din[SC_MAX_IO] = {dx};
  oc_fill(g, 120, 32, -1, 1);
  oc_backward(&k, g, din);
  for (int e = 0; e < 120; e++) {
    int ch = e / 20 % 3;
    ref[e] = g[e] * scale[ch] / sqrt((double)var[ch] + (double)p.epsilon);
  }
  t_close("batchnorm backward", dx, ref, 120, 1e-7, 1e-6);
  oc_free(&k);
  /* scale and B omitted (Keras scale=False, center=False) */
  k = mk(SC_OP_BATCHNORM, &p);
  add_in(&k, 4, xd, x, 0);
  add_in(&k, 1, cd, NULL, 1);
  add_in(&k, 1, cd, NULL, 1);
  add_in(&k, 1, cd, mean, 1);
  add_in(&k, 1, cd, var, 1);
  CHECK(oc_run(&k, "batchnorm_plain") == SEGCAM_OK, "%s", segcam_last_error());
  for (int e = 0; e < 120; e++) {
    int ch = e / 20 % 3;
    ref[e] = ((double)x[e] - mean[ch]) / sqrt((double)var[ch] + (double)p.epsilon);
  }
  t_close("batchnorm without scale/B", k.out[0].data, ref, 120, 1e-6, 1e-6);
  oc_free(&k);
  int64_t bd[1] = {4};
  float v4[4] = {1, 1, 1, 1};
  k = mk(SC_OP_BATCHNORM, &p);
  add_in(&k, 4, xd, x, 0);
  add_in(&k, 1, cd, scale, 1);
  add_in(&k, 1, cd, bias, 1);
  add_in(&k, 1, cd, mean, 1);
  add_in(&k, 1, bd, v4, 1);
  expect_error(&k, "batchnorm_bad_var", SEGCAM_E_SHAPE);
}

static void layernorm_ref(const float *x, int64_t outer, int64_t M, const float *scale,
                          const float *bias, float eps, double *y) {
  for (int64_t o = 0; o < outer; o++) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < M; i++) m += x[o * M + i];
    m /= (double)M;
    for (int64_t i = 0; i < M; i++) v += (x[o * M + i] - m) * (x[o * M + i] - m);
    v /= (double)M;
    for (int64_t i = 0; i < M; i++)
      y[o * M + i] = (x[o * M + i] - m) / sqrt(v + eps) * scale[i] + (bias ? bias[i] : 0);
  }
}

static void test_layernorm(void) {
  int64_t xd[3] = {2, 3, 4};
  float x[24], s12[12], b12[12], s4[4], b4[4], s4x3[12];
  double ref[24];
  oc_fill(x, 24, 41, -2, 3);
  oc_fill(s12, 12, 42, 0.5f, 1.5f);
  oc_fill(b12, 12, 43, -1, 1);
  oc_fill(s4, 4, 44, 0.5f, 1.5f);
  oc_fill(b4, 4, 45, -1, 1);
  for (int i = 0; i < 12; i++) s4x3[i] = s4[i % 4];
  /* axis -1, scale and bias [4] */
  sc_layernorm_params p = {-1, 1e-5f};
  int64_t d4[1] = {4}, d34[2] = {3, 4}, d14[2] = {1, 4};
  oc_case k = mk(SC_OP_LAYERNORM, &p);
  add_in(&k, 3, xd, x, 0);
  add_in(&k, 1, d4, s4, 1);
  add_in(&k, 1, d4, b4, 1);
  CHECK(oc_run(&k, "layernorm_last") == SEGCAM_OK, "%s", segcam_last_error());
  layernorm_ref(x, 6, 4, s4, b4, p.epsilon, ref);
  t_close("layernorm axis -1", k.out[0].data, ref, 24, 1e-6, 1e-5);
  oc_gradcheck_acc(&k, "layernorm_last", 1e-3, 1e-2);
  oc_free(&k);
  /* axis 1 over [3,4], scale [3,4], no bias */
  sc_layernorm_params p1 = {1, 1e-3f};
  k = mk(SC_OP_LAYERNORM, &p1);
  add_in(&k, 3, xd, x, 0);
  add_in(&k, 2, d34, s12, 1);
  CHECK(oc_run(&k, "layernorm_axis1") == SEGCAM_OK, "%s", segcam_last_error());
  layernorm_ref(x, 2, 12, s12, NULL, p1.epsilon, ref);
  t_close("layernorm axis 1", k.out[0].data, ref, 24, 1e-6, 1e-5);
  oc_gradcheck_acc(&k, "layernorm_axis1", 1e-3, 1e-2);
  oc_free(&k);
  /* axis 1, scale [1,4] broadcast over [3,4] */
  k = mk(SC_OP_LAYERNORM, &p1);
  add_in(&k, 3, xd, x, 0);
  add_in(&k, 2, d14, s4, 1);
  add_in(&k, 2, d34, b12, 1);
  CHECK(oc_run(&k, "layernorm_bcast") == SEGCAM_OK, "%s", segcam_last_error());
  layernorm_ref(x, 2, 12, s4x3, b12, p1.epsilon, ref);
  t_close("layernorm broadcast scale", k.out[0].data, ref, 24, 1e-6, 1e-5);
  oc_gradcheck_acc(&k, "layernorm_bcast", 1e-3, 1e-2);
  oc_free(&k);
  /* scale [3] does not broadcast to [4] */
  int64_t d3[1] = {3};
  k = mk(SC_OP_LAYERNORM, &p);
  add_in(&k, 3, xd, x, 0);
  add_in(&k, 1, d3, s4, 1);
  expect_error(&k, "layernorm_bad_scale", SEGCAM_E_SHAPE);
}

/* ---- binary --------------------------------------------------------------------------------- */

static double bin_ref1(sc_binary_kind kind, double a, double b) {
  switch (kind) {
  case SC_BIN_ADD: return a + b;
  case SC_BIN_SUB: return a - b;
  case SC_BIN_MUL: return a * b;
  case SC_BIN_DIV: return a / b;
  case SC_BIN_MAX: return a > b ? a : b;
  case SC_BIN_MIN: return a < b ? a : b;
  case SC_BIN_POW: return pow(a, b);
  }
  return NAN;
}

/* Index of output element e (output rank r, dims od) in an input of rank ri, dims id. */
static int64_t bcast_index(int64_t e, int r, const int64_t *od, int ri, const int64_t *id) {
  int64_t c[8], idx = 0;
  for (int k = r - 1; k >= 0; k--) c[k] = e % od[k], e /= od[k];
  for (int k = 0; k < ri; k++) idx = idx * id[k] + (id[k] == 1 ? 0 : c[r - ri + k]);
  return idx;
}

typedef struct bin_shape {
  int ra;
  int64_t a[4];
  int rb;
  int64_t b[4];
  int ro;
  int64_t o[4];
} bin_shape;

static void test_binary(void) {
  const bin_shape shapes[] = {
      {4, {1, 3, 4, 5}, 4, {1, 3, 4, 5}, 4, {1, 3, 4, 5}}, /* same shape */
      {4, {1, 3, 4, 5}, 3, {3, 1, 1}, 4, {1, 3, 4, 5}},    /* per channel */
      {4, {1, 3, 4, 5}, 1, {1}, 4, {1, 3, 4, 5}},          /* scalar as [1] */
      {4, {1, 3, 4, 5}, 0, {0}, 4, {1, 3, 4, 5}},          /* rank-0 scalar */
      {4, {1, 3, 4, 5}, 1, {5}, 4, {1, 3, 4, 5}},          /* last axis */
      {4, {1, 3, 4, 5}, 4, {1, 1, 4, 1}, 4, {1, 3, 4, 5}}, /* middle axis */
      {3, {3, 1, 1}, 4, {1, 3, 4, 5}, 4, {1, 3, 4, 5}},    /* the broadcast one first */
      {2, {3, 1}, 2, {1, 4}, 2, {3, 4}},                   /* both ways */
      {4, {2, 3, 1, 5}, 3, {3, 4, 1}, 4, {2, 3, 4, 5}},    /* interleaved */
  };
  float a[120], b[120];
  double ref[120];
  for (int kind = SC_BIN_ADD; kind <= SC_BIN_POW; kind++) {
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
      const bin_shape *s = &shapes[c];
      char name[48];
      snprintf(name, sizeof name, "binary_kind_%d_shape_%zu", kind, c);
      int64_t na = 1, nb = 1, no = 1;
      for (int i = 0; i < s->ra; i++) na *= s->a[i];
      for (int i = 0; i < s->rb; i++) nb *= s->b[i];
      for (int i = 0; i < s->ro; i++) no *= s->o[i];
      if (kind == SC_BIN_POW) {
        oc_fill(a, na, 50 + c, 0.5f, 2.0f);
        oc_fill(b, nb, 60 + c, -1.5f, 1.5f);
      } else {
        oc_fill(a, na, 50 + c, -2, 2);
        oc_fill(b, nb, 60 + c, -2, 2);
      }
      if (kind == SC_BIN_DIV)
        for (int64_t i = 0; i < nb; i++) b[i] = b[i] < 0 ? b[i] - 0.5f : b[i] + 0.5f;
      sc_binary_params p = {(sc_binary_kind)kind};
      oc_case k = mk(SC_OP_BINARY, &p);
      add_in(&k, s->ra, s->a, a, 0);
      add_in(&k, s->rb, s->b, b, 0);
      segcam_status st = oc_run(&k, name);
      CHECK(st == SEGCAM_OK, "%s: %s", name, segcam_last_error());
      if (st) continue;
      CHECK(k.out[0].shape.ndim == s->ro && !memcmp(k.out[0].shape.d, s->o, 8 * (size_t)s->ro),
            "%s: output shape", name);
      for (int64_t e = 0; e < no; e++)
        ref[e] = bin_ref1((sc_binary_kind)kind, a[bcast_index(e, s->ro, s->o, s->ra, s->a)],
                          b[bcast_index(e, s->ro, s->o, s->rb, s->b)]);
      t_close(name, k.out[0].data, ref, (size_t)no, 1e-6, 1e-6);
      oc_gradcheck_acc(&k, name, 1e-3, 1e-2);
      oc_free(&k);
    }
  }
}

/* The reduction over broadcast axes, element by element: Mul [1,3,4,5] x [3,1,1] and
 * Sub [1,1,4,1] - [1,3,4,5]. */
static void test_binary_reduce(void) {
  int64_t ad[4] = {1, 3, 4, 5}, bd[3] = {3, 1, 1}, cd[4] = {1, 1, 4, 1};
  float a[60], b[3], c4[4], g[60], da[60], db[3], dc[4];
  double ref[60];
  oc_fill(a, 60, 71, -2, 2);
  oc_fill(c4, 4, 74, -2, 2);
  oc_fill(b, 3, 72, -2, 2);
  oc_fill(g, 60, 73, -1, 1);
  sc_binary_params mul = {SC_BIN_MUL};
  oc_case k = mk(SC_OP_BINARY, &mul);
  add_in(&k, 4, ad, a, 0);
  add_in(&k, 3, bd, b, 0);
  CHECK(oc_run(&k, "mul_reduce") == SEGCAM_OK, "%s", segcam_last_error());
  float *din[SC_MAX_IO] = {da, db};
  CHECK(oc_backward(&k, g, din) == SEGCAM_OK, "%s", segcam_last_error());
  for (int e = 0; e < 60; e++) ref[e] = (double)g[e] * b[e / 20];
  t_close("mul da", da, ref, 60, 1e-7, 1e-6);
  for (int ch = 0; ch < 3; ch++) {
    ref[ch] = 0;
    for (int i = 0; i < 20; i++) ref[ch] += (double)g[ch * 20 + i] * a[ch * 20 + i];
  }
  t_close("mul db (sum over H, W)", db, ref, 3, 1e-6, 1e-6);
  oc_free(&k);
  sc_binary_params sub = {SC_BIN_SUB};
  k = mk(SC_OP_BINARY, &sub);
  add_in(&k, 4, cd, c4, 0);
  add_in(&k, 4, ad, a, 0);
  CHECK(oc_run(&k, "sub_reduce") == SEGCAM_OK, "%s", segcam_last_error());
  float *din2[SC_MAX_IO] = {dc, da};
  CHECK(oc_backward(&k, g, din2) == SEGCAM_OK, "%s", segcam_last_error());
  for (int h = 0; h < 4; h++) {
    ref[h] = 0;
    for (int ch = 0; ch < 3; ch++)
      for (int w = 0; w < 5; w++) ref[h] += g[ch * 20 + h * 5 + w];
  }
  t_close("sub d(first) summed over C, W", dc, ref, 4, 1e-6, 1e-6);
  for (int e = 0; e < 60; e++) ref[e] = -g[e];
  t_close("sub d(second) = -g", da, ref, 60, 0, 0);
  oc_free(&k);
  /* accumulation: backward adds to what is there */
  float acc[3] = {10, 20, 30};
  k = mk(SC_OP_BINARY, &mul);
  add_in(&k, 4, ad, a, 0);
  add_in(&k, 3, bd, b, 0);
  oc_run(&k, "mul_accumulate");
  sc_opctx c;
  memset(&c, 0, sizeof c);
  c.graph = &k.graph;
  c.node = &k.node;
  c.state = &k.state;
  c.scratch = k.scratch;
  c.in[0] = &k.in[0];
  c.in[1] = &k.in[1];
  c.out[0] = &k.out[0];
  c.dout[0] = g;
  c.din[1] = acc;
  sc_opdefs[SC_OP_BINARY]->backward(&c);
  for (int ch = 0; ch < 3; ch++) {
    ref[ch] = 10.0 * (ch + 1);
    for (int i = 0; i < 20; i++) ref[ch] += (double)g[ch * 20 + i] * a[ch * 20 + i];
  }
  t_close("backward accumulates (+=)", acc, ref, 3, 1e-5, 1e-6);
  oc_free(&k);
}

/* Max/Min route a tie to the first input (TF MaximumGrad: x >= y). */
static void test_binary_ties(void) {
  int64_t d[1] = {3};
  float a[3] = {1, 2, 3}, b[3] = {1, 5, 0}, g[3] = {1, 1, 1}, da[3], db[3];
  for (int kind = SC_BIN_MAX; kind <= SC_BIN_MIN; kind++) {
    sc_binary_params p = {(sc_binary_kind)kind};
    oc_case k = mk(SC_OP_BINARY, &p);
    add_in(&k, 1, d, a, 0);
    add_in(&k, 1, d, b, 0);
    oc_run(&k, "ties");
    float *din[SC_MAX_IO] = {da, db};
    oc_backward(&k, g, din);
    CHECK(da[0] == 1 && db[0] == 0, "tie goes to the first input: da %g db %g", da[0], db[0]);
    int first1 = kind == SC_BIN_MAX ? 0 : 1; /* 2 vs 5 */
    CHECK(da[1] == first1 && db[1] == 1 - first1, "kind %d [1]: da %g db %g", kind, da[1], db[1]);
    oc_free(&k);
  }
}

/* A tensor large enough for the parallel and chunked paths: [1,8,64,64] against [1,8,1,1] and
 * [1,1,64,64], and same-shape. */
static void test_binary_large(void) {
  const int64_t n = 8 * 64 * 64;
  int64_t ad[4] = {1, 8, 64, 64}, bd1[4] = {1, 8, 1, 1}, bd2[4] = {1, 1, 64, 64};
  float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  double *ref = malloc((size_t)n * sizeof *ref);
  const int64_t *bds[3] = {bd1, bd2, ad};
  for (int c = 0; c < 3; c++) {
    for (int kind = SC_BIN_ADD; kind <= SC_BIN_DIV; kind += 2) { /* add, mul */
      char name[48];
      snprintf(name, sizeof name, "binary_large_%d_kind_%d", c, kind);
      int64_t nb = bds[c][0] * bds[c][1] * bds[c][2] * bds[c][3];
      oc_fill(a, n, 80 + c, -2, 2);
      oc_fill(b, nb, 90 + c, -2, 2);
      sc_binary_params p = {(sc_binary_kind)kind};
      oc_case k = mk(SC_OP_BINARY, &p);
      add_in(&k, 4, ad, a, 0);
      add_in(&k, 4, bds[c], b, 0);
      CHECK(oc_run(&k, name) == SEGCAM_OK, "%s: %s", name, segcam_last_error());
      for (int64_t e = 0; e < n; e++)
        ref[e] = bin_ref1((sc_binary_kind)kind, a[e], b[bcast_index(e, 4, ad, 4, bds[c])]);
      t_close(name, k.out[0].data, ref, (size_t)n, 1e-6, 1e-6);
      oc_gradcheck_acc(&k, name, 1e-3, 1e-2);
      oc_free(&k);
    }
  }
  free(a);
  free(b);
  free(ref);
}

static void test_binary_int64(void) {
  int64_t ad[1] = {4}, bd[1] = {1}, d0[1] = {0};
  int64_t a[4] = {-7, 7, 9, -9}, b2[1] = {2}, bm2[1] = {-2}, zero[1] = {0};
  struct {
    sc_binary_kind kind;
    int64_t *b;
    int64_t want[4];
  } cases[] = {
      {SC_BIN_DIV, b2, {-3, 3, 4, -4}}, /* truncation toward zero, as C and onnxruntime */
      {SC_BIN_DIV, bm2, {3, -3, -4, 4}},  {SC_BIN_ADD, b2, {-5, 9, 11, -7}},
      {SC_BIN_SUB, b2, {-9, 5, 7, -11}},  {SC_BIN_MUL, bm2, {14, -14, -18, 18}},
      {SC_BIN_MAX, b2, {2, 7, 9, 2}},     {SC_BIN_MIN, b2, {-7, 2, 2, -9}},
      {SC_BIN_POW, b2, {49, 49, 81, 81}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    sc_binary_params p = {cases[c].kind};
    oc_case k = mk(SC_OP_BINARY, &p);
    add_in_i64(&k, 1, ad, a, 1);
    add_in_i64(&k, 1, bd, cases[c].b, 1);
    CHECK(oc_run(&k, "binary_i64") == SEGCAM_OK, "%s", segcam_last_error());
    CHECK(k.out[0].dtype == SC_I64, "int64 output");
    const int64_t *y = k.out[0].data;
    for (int i = 0; i < 4; i++)
      CHECK(y[i] == cases[c].want[i], "int64 kind %d [%d]: %lld want %lld", (int)cases[c].kind, i,
            (long long)y[i], (long long)cases[c].want[i]);
    oc_free(&k);
  }
  /* shape arithmetic: Shape [1,3,H,W] * 2 over a [2]-vector against a scalar, and empty inputs */
  int64_t hw[2] = {37, 50}, two = 2, dhw[1] = {2};
  sc_binary_params mul = {SC_BIN_MUL};
  oc_case k = mk(SC_OP_BINARY, &mul);
  add_in_i64(&k, 1, dhw, hw, 1);
  add_in_i64(&k, 0, dhw, &two, 1);
  CHECK(oc_run(&k, "shape_mul") == SEGCAM_OK, "%s", segcam_last_error());
  CHECK(((int64_t *)k.out[0].data)[0] == 74 && ((int64_t *)k.out[0].data)[1] == 100, "[37,50]*2");
  oc_free(&k);
  k = mk(SC_OP_BINARY, &mul);
  add_in_i64(&k, 1, d0, a, 1);
  add_in_i64(&k, 1, bd, b2, 1);
  CHECK(oc_run(&k, "empty_mul") == SEGCAM_OK && k.out[0].shape.d[0] == 0, "[0] * [1] is [0]: %s",
        segcam_last_error());
  oc_free(&k);
  sc_binary_params div = {SC_BIN_DIV};
  k = mk(SC_OP_BINARY, &div);
  add_in_i64(&k, 1, ad, a, 1);
  add_in_i64(&k, 1, bd, zero, 1);
  expect_error(&k, "div_by_zero", SEGCAM_E_ARG);
}

static void test_binary_errors(void) {
  int64_t d3[1] = {3}, d4[1] = {4}, d23[2] = {2, 3}, d32[2] = {3, 2};
  float x[12] = {0};
  int64_t xi[12] = {0};
  sc_binary_params p = {SC_BIN_ADD};
  oc_case k = mk(SC_OP_BINARY, &p);
  add_in(&k, 1, d3, x, 0);
  add_in(&k, 1, d4, x, 0);
  expect_error(&k, "add_3_4", SEGCAM_E_SHAPE);
  k = mk(SC_OP_BINARY, &p);
  add_in(&k, 2, d23, x, 0);
  add_in(&k, 2, d32, x, 0);
  expect_error(&k, "add_23_32", SEGCAM_E_SHAPE);
  k = mk(SC_OP_BINARY, &p);
  add_in(&k, 1, d3, x, 0);
  add_in_i64(&k, 1, d3, xi, 1);
  expect_error(&k, "add_mixed_types", SEGCAM_E_UNSUPPORTED);
  int64_t neg[1] = {-1};
  k = mk(SC_OP_BINARY, &p);
  add_in(&k, 1, neg, x, 0);
  add_in(&k, 1, d3, x, 0);
  expect_error(&k, "add_negative_dim", SEGCAM_E_SHAPE);
}

int main(void) {
  test_act_refs();
  test_act_gradcheck();
  test_act_kinks();
  test_clip_inputs();
  test_act_int64();
  test_prelu();
  test_softmax();
  test_batchnorm();
  test_layernorm();
  test_binary();
  test_binary_reduce();
  test_binary_ties();
  test_binary_large();
  test_binary_int64();
  test_binary_errors();
  TEST_MAIN_END();
}
