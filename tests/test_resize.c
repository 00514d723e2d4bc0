/* Unit tests of Resize (src/ops/resize.c): hand-computed 1-D cases for every coordinate and nearest
 * mode, the ONNX Resize examples, PyTorch float64 values, the transpose in backward (by hand and by
 * finite differences for every mode) and hostile parameters. */
#include "op_check.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static sc_resize_params rp(sc_resize_mode mode, sc_coord_mode coord, sc_nearest_mode nearest) {
  sc_resize_params p;
  memset(&p, 0, sizeof p);
  p.mode = mode;
  p.coord = coord;
  p.nearest = nearest;
  p.cubic_a = -0.75f;
  return p;
}

/* Constant inputs of a case: roi / scales (float) and sizes (int64); n = 0 omits one. */
typedef struct rz_inputs {
  int n_roi, n_scales, n_sizes;
  float roi[16], scales[8];
  int64_t sizes[8];
} rz_inputs;

static void rz_case(oc_case *k, sc_resize_params *p, int ndim, const int64_t *dims, float *x,
                    rz_inputs *in) {
  memset(k, 0, sizeof *k);
  k->op = SC_OP_RESIZE;
  k->params = p;
  k->n_in = 4;
  k->n_out = 1;
  k->in[0] = oc_tensor(ndim, dims, x);
  if (in && in->n_roi) {
    const int64_t n = in->n_roi;
    k->in[1] = oc_tensor(1, &n, in->roi);
    k->in_const[1] = 1;
  }
  if (in && in->n_scales) {
    const int64_t n = in->n_scales;
    k->in[2] = oc_tensor(1, &n, in->scales);
    k->in_const[2] = 1;
  }
  if (in && in->n_sizes) {
    const int64_t n = in->n_sizes;
    k->in[3] = oc_tensor(1, &n, (float *)in->sizes);
    k->in[3].dtype = SC_I64;
    k->in_const[3] = 1;
  }
}

static rz_inputs sizes4(int64_t a, int64_t b, int64_t c, int64_t d) {
  rz_inputs in;
  memset(&in, 0, sizeof in);
  in.n_sizes = 4;
  in.sizes[0] = a, in.sizes[1] = b, in.sizes[2] = c, in.sizes[3] = d;
  return in;
}

static rz_inputs scales4(float a, float b, float c, float d) {
  rz_inputs in;
  memset(&in, 0, sizeof in);
  in.n_scales = 4;
  in.scales[0] = a, in.scales[1] = b, in.scales[2] = c, in.scales[3] = d;
  return in;
}

/* Runs the case and compares the output shape (odims) and values with ref. */
static void expect_rz(const char *what, oc_case *k, int ndim, const int64_t *odims,
                      const double *ref, double atol, double rtol) {
  segcam_status s = oc_run(k, what);
  CHECK(s == SEGCAM_OK, "%s: %s", what, segcam_last_error());
  if (s == SEGCAM_OK) {
    const sc_shape *o = &k->out[0].shape;
    int same = o->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = o->d[i] == odims[i];
    char buf[64];
    CHECK(same, "%s: output shape %s", what, sc_shape_str(o, buf, sizeof buf));
    if (same) t_close(what, k->out[0].data, ref, (size_t)sc_shape_numel(o), atol, rtol);
  }
  oc_free(k);
}

/* ---- hand-computed 1-D cases (shape [1,1,1,L]) ----------------------------------------------- */

/* x = [0,10,20,40] resized 4 -> 7 (sizes, scale 7/4 = 1.75 exactly) and x5 = [0,10,20,30,50]
 * resized 5 -> 3 (scale 0.6).  Source coordinates per mode, rounded for reading:
 *   half_pixel       (x+0.5)/1.75-0.5 = -0.214 0.357 0.929 1.5 2.071 2.643 3.214
 *   asymmetric       x/1.75           =  0 0.571 1.143 1.714 2.286 2.857 3.429
 *   align_corners    x*3/6            =  0 0.5 1 1.5 2 2.5 3
 *   tf_half_pixel_for_nn (x+0.5)/1.75 =  0.286 0.857 1.429 2 2.571 3.143 3.714
 *   tf_crop_and_resize, roi [-0.2, 1.2]: -0.6 + 0.7x = -0.6 0.1 0.8 1.5 2.2 2.9 3.6
 *   5 -> 3 half_pixel (x+0.5)/0.6-0.5 = 0.333 2 3.667;  asymmetric x/0.6 = 0 1.667 3.333
 * Linear clamps the coordinate to [0, L-1]; nearest rounds per nearest_mode, then clamps. */
static void test_hand(void) {
  float x[4] = {0, 10, 20, 40}, x5[5] = {0, 10, 20, 30, 50};
  const int64_t d[4] = {1, 1, 1, 4}, o7[4] = {1, 1, 1, 7}, d5[4] = {1, 1, 1, 5};
  const int64_t o3[4] = {1, 1, 1, 3}, o2[4] = {1, 1, 1, 2};
  oc_case k;
  rz_inputs s7 = sizes4(1, 1, 1, 7), s3 = sizes4(1, 1, 1, 3);
  sc_resize_params p;

  static const double lin_half[7] = {0, 3.5714286, 9.2857143, 15, 21.428571, 32.857143, 40};
  static const double lin_asym[7] = {0, 5.7142857, 11.428571, 17.142857, 25.714286, 37.142857, 40};
  static const double lin_align[7] = {0, 5, 10, 15, 20, 30, 40};
  const struct {
    const char *name;
    sc_coord_mode coord;
    const double *ref;
  } lin[] = {{"linear half_pixel", SC_COORD_HALF_PIXEL, lin_half},
             {"linear pytorch_half_pixel", SC_COORD_PYTORCH_HALF_PIXEL, lin_half},
             {"linear half_pixel_symmetric sizes", SC_COORD_HALF_PIXEL_SYMMETRIC, lin_half},
             {"linear asymmetric", SC_COORD_ASYMMETRIC, lin_asym},
             {"linear align_corners", SC_COORD_ALIGN_CORNERS, lin_align}};
  for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++) {
    p = rp(SC_RESIZE_LINEAR, lin[i].coord, 0);
    rz_case(&k, &p, 4, d, x, &s7);
    expect_rz(lin[i].name, &k, 4, o7, lin[i].ref, 1e-5, 1e-6);
  }

  /* half_pixel_symmetric with scale 1.9: out = floor(7.6) = 7, adjustment = 7/7.6, offset =
   * 2*(1 - 7/7.6) = 0.158: coordinates -0.079 0.447 0.974 1.5 2.026 2.553 3.079 */
  static const double lin_sym[7] = {0, 4.4736842, 9.7368421, 15, 20.526316, 31.052632, 40};
  rz_inputs sc19 = scales4(1, 1, 1, 1.9f);
  p = rp(SC_RESIZE_LINEAR, SC_COORD_HALF_PIXEL_SYMMETRIC, 0);
  rz_case(&k, &p, 4, d, x, &sc19);
  expect_rz("linear half_pixel_symmetric 1.9", &k, 4, o7, lin_sym, 1e-5, 1e-5);
  /* plain half_pixel with the same scale uses (x+0.5)/1.9-0.5 (no offset): the given scale,
   * not out/in, drives the coordinates: -0.237 0.289 0.816 1.342 1.868 2.395 2.921 */
  static const double lin_19[7] = {0,         2.8947368, 8.1578947, 13.421053,
                                   18.684211, 27.894737, 38.421053};
  p = rp(SC_RESIZE_LINEAR, SC_COORD_HALF_PIXEL, 0);
  rz_case(&k, &p, 4, d, x, &sc19);
  expect_rz("linear half_pixel scale 1.9", &k, 4, o7, lin_19, 1e-5, 1e-5);

  /* tf_crop_and_resize: coordinates outside [0, 3] take extrapolation_value */
  static const double lin_crop[7] = {-1, 1, 8, 15, 24, 38, -1};
  rz_inputs cr = s7;
  cr.n_roi = 8;
  const float roi[8] = {0, 0, 0, -0.2f, 1, 1, 1, 1.2f};
  memcpy(cr.roi, roi, sizeof roi);
  p = rp(SC_RESIZE_LINEAR, SC_COORD_TF_CROP_AND_RESIZE, 0);
  p.extrapolation_value = -1;
  rz_case(&k, &p, 4, d, x, &cr);
  expect_rz("linear tf_crop_and_resize", &k, 4, o7, lin_crop, 1e-5, 1e-6);
  /* floor, not a rounding mode: with the float32 roi (-0.2f, 1.2f) the middle coordinate is
   * 1.5000001, not a tie: 0.1 0.8 1.5 2.2 2.9 -> 0 0 1 2 2 */
  p = rp(SC_RESIZE_NEAREST, SC_COORD_TF_CROP_AND_RESIZE, SC_NEAREST_FLOOR);
  p.extrapolation_value = -1;
  static const double nn_crop[7] = {-1, 0, 0, 10, 20, 20, -1};
  rz_case(&k, &p, 4, d, x, &cr);
  expect_rz("nearest tf_crop_and_resize", &k, 4, o7, nn_crop, 0, 0);

  /* nearest, half_pixel: round_prefer_floor sends the tie 1.5 to 1, round_prefer_ceil to 2 */
  static const double nn_rpf[7] = {0, 0, 10, 10, 20, 40, 40};
  static const double nn_rpc[7] = {0, 0, 10, 20, 20, 40, 40};
  static const double nn_floor[7] = {0, 0, 0, 10, 20, 20, 40};
  static const double nn_ceil[7] = {0, 10, 10, 20, 40, 40, 40};
  const struct {
    const char *name;
    sc_nearest_mode mode;
    const double *ref;
  } nn[] = {{"nearest round_prefer_floor", SC_NEAREST_ROUND_PREFER_FLOOR, nn_rpf},
            {"nearest round_prefer_ceil", SC_NEAREST_ROUND_PREFER_CEIL, nn_rpc},
            {"nearest floor", SC_NEAREST_FLOOR, nn_floor},
            {"nearest ceil", SC_NEAREST_CEIL, nn_ceil}};
  for (size_t i = 0; i < sizeof nn / sizeof nn[0]; i++) {
    p = rp(SC_RESIZE_NEAREST, SC_COORD_HALF_PIXEL, nn[i].mode);
    rz_case(&k, &p, 4, d, x, &s7);
    expect_rz(nn[i].name, &k, 4, o7, nn[i].ref, 0, 0);
  }
  /* tf_half_pixel_for_nn + floor: 0 0 1 2 2 3 3 (TF2 nearest) */
  p = rp(SC_RESIZE_NEAREST, SC_COORD_TF_HALF_PIXEL_FOR_NN, SC_NEAREST_FLOOR);
  rz_case(&k, &p, 4, d, x, &s7);
  expect_rz("nearest tf_half_pixel_for_nn floor", &k, 4, o7, nn_rpc, 0, 0);
  /* An axis of scale 1 is copied one-to-one (onnxruntime): with tf_half_pixel_for_nn and
   * round_prefer_ceil the H coordinates 0.5, 1.5 would otherwise pick rows 1, 1.  W (scale 2):
   * (x+0.5)/2 = 0.25 0.75 1.25 1.75 2.25 2.75 3.25 3.75 -> 0 1 1 2 2 3 3 3 */
  float x24[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const int64_t d24[4] = {1, 1, 2, 4}, o28[4] = {1, 1, 2, 8};
  static const double nn_unit[16] = {1, 2, 2, 3, 3, 4, 4, 4, 5, 6, 6, 7, 7, 8, 8, 8};
  rz_inputs s12 = scales4(1, 1, 1, 2);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_TF_HALF_PIXEL_FOR_NN, SC_NEAREST_ROUND_PREFER_CEIL);
  rz_case(&k, &p, 4, d24, x24, &s12);
  expect_rz("nearest scale-1 axis is an identity", &k, 4, o28, nn_unit, 0, 0);

  /* asymmetric: floor, and SIMPLE (truncation when upsampling): 0 0 1 1 2 2 3 */
  static const double nn_asym[7] = {0, 0, 10, 10, 20, 20, 40};
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_FLOOR);
  rz_case(&k, &p, 4, d, x, &s7);
  expect_rz("nearest asymmetric floor", &k, 4, o7, nn_asym, 0, 0);
  p.nearest = SC_NEAREST_SIMPLE;
  rz_case(&k, &p, 4, d, x, &s7);
  expect_rz("nearest asymmetric SIMPLE up", &k, 4, o7, nn_asym, 0, 0);

  /* 6 -> 4 nearest asymmetric floor: x / (4/6.f) = 0 1.5 3 4.5 in float32 (the float64
   * quotient 2.9999999 would floor to 2); PyTorch gives the same:
   *   F.interpolate(torch.arange(6.).reshape(1,1,1,6), size=(1,4), mode='nearest')
   *   -> [0, 1, 3, 4] */
  float x6[6] = {0, 1, 2, 3, 4, 5};
  const int64_t d6[4] = {1, 1, 1, 6}, o4[4] = {1, 1, 1, 4};
  static const double nn6[4] = {0, 1, 3, 4};
  rz_inputs s4 = sizes4(1, 1, 1, 4);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_FLOOR);
  rz_case(&k, &p, 4, d6, x6, &s4);
  expect_rz("nearest 6->4 asymmetric floor (float32 coordinates)", &k, 4, o4, nn6, 0, 0);

  /* downsampling 5 -> 3 */
  static const double lin5_half[3] = {3.3333333, 20, 43.333333};
  static const double lin5_asym[3] = {0, 16.666667, 36.666667};
  static const double lin5_align[3] = {0, 20, 50};
  p = rp(SC_RESIZE_LINEAR, SC_COORD_HALF_PIXEL, 0);
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("linear 5->3 half_pixel", &k, 4, o3, lin5_half, 1e-5, 1e-6);
  p.coord = SC_COORD_ASYMMETRIC;
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("linear 5->3 asymmetric", &k, 4, o3, lin5_asym, 1e-5, 1e-6);
  p.coord = SC_COORD_ALIGN_CORNERS;
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("linear 5->3 align_corners", &k, 4, o3, lin5_align, 1e-5, 1e-6);
  /* nearest half_pixel 0.333 2 3.667.  The middle coordinate is exactly 2 in float32
   * (1.5f / 0.6f rounds to 2.5f), as onnxruntime computes it; float64 would give 1.9999999. */
  static const double nn5_rpf[3] = {0, 20, 50}, nn5_floor[3] = {0, 20, 30},
                      nn5_ceil[3] = {10, 20, 50};
  p = rp(SC_RESIZE_NEAREST, SC_COORD_HALF_PIXEL, SC_NEAREST_ROUND_PREFER_FLOOR);
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("nearest 5->3 round_prefer_floor", &k, 4, o3, nn5_rpf, 0, 0);
  p.nearest = SC_NEAREST_FLOOR;
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("nearest 5->3 floor", &k, 4, o3, nn5_floor, 0, 0);
  p.nearest = SC_NEAREST_CEIL;
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("nearest 5->3 ceil", &k, 4, o3, nn5_ceil, 0, 0);
  /* SIMPLE downsampling rounds up: asymmetric 0 1.667 3.333 -> 0 2 4; with scale 0.4
   * (out = floor(0.4f*5) = 2) 0 2.5 -> 0 3 */
  static const double nn5_simple[3] = {0, 20, 50}, nn5_simple2[2] = {0, 30};
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_SIMPLE);
  rz_case(&k, &p, 4, d5, x5, &s3);
  expect_rz("nearest 5->3 SIMPLE", &k, 4, o3, nn5_simple, 0, 0);
  rz_inputs sc04 = scales4(1, 1, 1, 0.4f);
  rz_case(&k, &p, 4, d5, x5, &sc04);
  expect_rz("nearest 5->2 SIMPLE", &k, 4, o2, nn5_simple2, 0, 0);

  /* output length 1: pytorch_half_pixel and align_corners use coordinate 0 */
  static const double one[1] = {0};
  const int64_t o1[4] = {1, 1, 1, 1};
  rz_inputs s1 = sizes4(1, 1, 1, 1);
  p = rp(SC_RESIZE_LINEAR, SC_COORD_PYTORCH_HALF_PIXEL, 0);
  rz_case(&k, &p, 4, d5, x5, &s1);
  expect_rz("linear pytorch_half_pixel out 1", &k, 4, o1, one, 0, 0);
  p.coord = SC_COORD_ALIGN_CORNERS;
  rz_case(&k, &p, 4, d5, x5, &s1);
  expect_rz("linear align_corners out 1", &k, 4, o1, one, 0, 0);
  static const double one_half[1] = {20}; /* half_pixel: (0.5)/0.2-0.5 = 2 */
  p.coord = SC_COORD_HALF_PIXEL;
  rz_case(&k, &p, 4, d5, x5, &s1);
  expect_rz("linear half_pixel out 1", &k, 4, o1, one_half, 1e-6, 0);

  /* rank 1 and rank 2 inputs resize their last axes */
  const int64_t r1[1] = {4}, r1o[1] = {7};
  rz_inputs s7r1;
  memset(&s7r1, 0, sizeof s7r1);
  s7r1.n_sizes = 1;
  s7r1.sizes[0] = 7;
  p = rp(SC_RESIZE_LINEAR, SC_COORD_HALF_PIXEL, 0);
  rz_case(&k, &p, 1, r1, x, &s7r1);
  expect_rz("linear rank 1", &k, 1, r1o, lin_half, 1e-5, 1e-6);
}

/* ---- ONNX Operators.md Resize examples ------------------------------------------------------- */

/* Values from the ONNX reference implementation (onnx 1.12,
 * onnx/backend/test/case/node/resize.py interpolate_nd, float64), printed by /usr/bin/python3 with
 * the same data, scales/sizes and attributes as the example of the same name, e.g.
 *   interpolate_nd(data, cubic_coeffs, scale_factors=np.array([1, 1, 2, 2], np.float32))
 * The examples' data are [[1,2],[3,4]], [[1,2,3,4],[5,6,7,8]] or 1..16 as 4x4. */
static void test_onnx_examples(void) {
  static const double up_scales_nearest[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                               3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
  static const double down_scales_nearest[2] = {1, 3};
  static const double up_sizes_nearest[56] = {
      1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1,
      2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4};
  static const double down_sizes_nearest[3] = {1, 2, 4};
  static const double up_linear_align[16] = {1,          1.33333333, 1.66666667, 2,
                                             1.66666667, 2,          2.33333333, 2.66666667,
                                             2.33333333, 2.66666667, 3,          3.33333333,
                                             3,          3.33333333, 3.66666667, 4};
  static const double down_scales_linear[2] = {2.6666665, 4.3333331};
  static const double up_scales_linear[16] = {1,   1.25, 1.75, 2,   1.5, 1.75, 2.25, 2.5,
                                              2.5, 2.75, 3.25, 3.5, 3,   3.25, 3.75, 4};
  static const double up_cubic[64] = {
      0.47265625, 0.76953125, 1.24609375, 1.875,    2.28125,  2.91015625, 3.38671875, 3.68359375,
      1.66015625, 1.95703125, 2.43359375, 3.0625,   3.46875,  4.09765625, 4.57421875, 4.87109375,
      3.56640625, 3.86328125, 4.33984375, 4.96875,  5.375,    6.00390625, 6.48046875, 6.77734375,
      6.08203125, 6.37890625, 6.85546875, 7.484375, 7.890625, 8.51953125, 8.99609375, 9.29296875,
      7.70703125, 8.00390625, 8.48046875, 9.109375, 9.515625, 10.1445312, 10.6210938, 10.9179688,
      10.2226562, 10.5195312, 10.9960938, 11.625,   12.03125, 12.6601562, 13.1367188, 13.4335938,
      12.1289062, 12.4257812, 12.9023438, 13.53125, 13.9375,  14.5664062, 15.0429688, 15.3398438,
      13.3164062, 13.6132812, 14.0898438, 14.71875, 15.125,   15.7539062, 16.2304688, 16.5273438};
  static const double up_cubic_a05_excl[64] = {
      0.558823529, 0.814942035, 1.35698249, 1.89705882, 2.39705882, 2.93713516, 3.47917561,
      3.73529412,  1.58329755,  1.83941606, 2.38145651, 2.92153285, 3.42153285, 3.96160918,
      4.50364964,  4.75976814,  3.75145936, 4.00757787, 4.54961832, 5.08969466, 5.58969466,
      6.12977099,  6.67181144,  6.92792995, 5.91176471, 6.16788321, 6.70992366, 7.25,
      7.75,        8.29007634,  8.83211679, 9.08823529, 7.91176471, 8.16788321, 8.70992366,
      9.25,        9.75,        10.2900763, 10.8321168, 11.0882353, 10.07207,   10.3281886,
      10.870229,   11.4103053,  11.9103053, 12.4503817, 12.9924221, 13.2485406, 12.2402319,
      12.4963504,  13.0383908,  13.5784672, 14.0784672, 14.6185435, 15.1605839, 15.4167024,
      13.2647059,  13.5208244,  14.0628648, 14.6029412, 15.1029412, 15.6430175, 16.185058,
      16.4411765};
  static const double down_cubic[9] = {1.47119137, 2.78124995, 4.08251946, 6.71142569, 8.02148426,
                                       9.32275378, 11.9165037, 13.2265623, 14.5278318};
  static const double down_cubic_a05_excl[9] = {1.36812672, 2.66950134, 4.01333663,
                                                6.57362523, 7.87499986, 9.21883515,
                                                11.9489664, 13.250341,  14.5941763};
  static const double up_cubic_asym[64] = {
      1,      1.40625,  2,      2.5,      3,      3.59375,  4,      4.09375,  2.625,  3.03125,
      3.625,  4.125,    4.625,  5.21875,  5.625,  5.71875,  5,      5.40625,  6,      6.5,
      7,      7.59375,  8,      8.09375,  7,      7.40625,  8,      8.5,      9,      9.59375,
      10,     10.09375, 9,      9.40625,  10,     10.5,     11,     11.59375, 12,     12.09375,
      11.375, 11.78125, 12.375, 12.875,   13.375, 13.96875, 14.375, 14.46875, 13,     13.40625,
      14,     14.5,     15,     15.59375, 16,     16.09375, 13.375, 13.78125, 14.375, 14.875,
      15.375, 15.96875, 16.375, 16.46875};
  static const double crop[9] = {7.60000014, 7.90000013, 8.20000011, 8.80000025, 9.10000023,
                                 9.40000021, 10.0000004, 10.3000003, 10.6000003};
  static const double crop_extra[9] = {7.60000014, 10, 10, 12.4000006, 10, 10, 10, 10, 10};
  static const double down_linear_pt[3] = {1.66666667, 7, 12.3333333};
  static const double up_nearest_floor_align[64] = {
      1,  1,  1,  2,  2, 3, 3, 4,  1,  1,  1,  2,  2,  3,  3,  4,  1,  1,  1,  2, 2, 3,
      3,  4,  5,  5,  5, 6, 6, 7,  7,  8,  5,  5,  5,  6,  6,  7,  7,  8,  9,  9, 9, 10,
      10, 11, 11, 12, 9, 9, 9, 10, 10, 11, 11, 12, 13, 13, 13, 14, 14, 15, 15, 16};
  static const double up_nearest_ceil[64] = {
      1,  2,  2,  3,  3,  4,  4,  4,  5,  6,  6,  7,  7,  8,  8,  8,  5,  6,  6,  7,  7,  8,
      8,  8,  9,  10, 10, 11, 11, 12, 12, 12, 9,  10, 10, 11, 11, 12, 12, 12, 13, 14, 14, 15,
      15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16};

  float d4[4] = {1, 2, 3, 4}, d24[8] = {1, 2, 3, 4, 5, 6, 7, 8}, d44[16];
  for (int i = 0; i < 16; i++) d44[i] = (float)(i + 1);
  const int64_t s22[4] = {1, 1, 2, 2}, s24[4] = {1, 1, 2, 4}, s44[4] = {1, 1, 4, 4};
  oc_case k;
  sc_resize_params p;
  rz_inputs in;

  p = rp(SC_RESIZE_NEAREST, SC_COORD_HALF_PIXEL, SC_NEAREST_ROUND_PREFER_FLOOR);
  in = scales4(1, 1, 2, 3);
  rz_case(&k, &p, 4, s22, d4, &in);
  expect_rz("onnx upsample_scales_nearest", &k, 4, (const int64_t[]){1, 1, 4, 6}, up_scales_nearest,
            0, 0);
  in = scales4(1, 1, 0.6f, 0.6f);
  rz_case(&k, &p, 4, s24, d24, &in);
  expect_rz("onnx downsample_scales_nearest", &k, 4, (const int64_t[]){1, 1, 1, 2},
            down_scales_nearest, 0, 0);
  in = sizes4(1, 1, 7, 8);
  rz_case(&k, &p, 4, s22, d4, &in);
  expect_rz("onnx upsample_sizes_nearest", &k, 4, (const int64_t[]){1, 1, 7, 8}, up_sizes_nearest,
            0, 0);
  in = sizes4(1, 1, 1, 3);
  rz_case(&k, &p, 4, s24, d24, &in);
  expect_rz("onnx downsample_sizes_nearest", &k, 4, (const int64_t[]){1, 1, 1, 3},
            down_sizes_nearest, 0, 0);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ALIGN_CORNERS, SC_NEAREST_FLOOR);
  in = sizes4(1, 1, 8, 8);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx upsample_sizes_nearest_floor_align_corners", &k, 4, (const int64_t[]){1, 1, 8, 8},
            up_nearest_floor_align, 0, 0);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_ROUND_PREFER_CEIL);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx upsample_sizes_nearest_round_prefer_ceil_asymmetric", &k, 4,
            (const int64_t[]){1, 1, 8, 8}, up_nearest_ceil, 0, 0);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_HALF_PIXEL, SC_NEAREST_CEIL);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx upsample_sizes_nearest_ceil_half_pixel", &k, 4, (const int64_t[]){1, 1, 8, 8},
            up_nearest_ceil, 0, 0);

  p = rp(SC_RESIZE_LINEAR, SC_COORD_HALF_PIXEL, 0);
  in = scales4(1, 1, 2, 2);
  rz_case(&k, &p, 4, s22, d4, &in);
  expect_rz("onnx upsample_scales_linear", &k, 4, s44, up_scales_linear, 1e-6, 1e-6);
  in = scales4(1, 1, 0.6f, 0.6f);
  rz_case(&k, &p, 4, s24, d24, &in);
  expect_rz("onnx downsample_scales_linear", &k, 4, (const int64_t[]){1, 1, 1, 2},
            down_scales_linear, 1e-6, 1e-6);
  p.coord = SC_COORD_ALIGN_CORNERS;
  in = scales4(1, 1, 2, 2);
  rz_case(&k, &p, 4, s22, d4, &in);
  expect_rz("onnx upsample_scales_linear_align_corners", &k, 4, s44, up_linear_align, 1e-6, 1e-6);
  p.coord = SC_COORD_PYTORCH_HALF_PIXEL;
  in = sizes4(1, 1, 3, 1);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx downsample_sizes_linear_pytorch_half_pixel", &k, 4, (const int64_t[]){1, 1, 3, 1},
            down_linear_pt, 1e-6, 1e-6);

  p = rp(SC_RESIZE_LINEAR, SC_COORD_TF_CROP_AND_RESIZE, 0);
  in = sizes4(1, 1, 3, 3);
  in.n_roi = 8;
  const float roi[8] = {0, 0, 0.4f, 0.6f, 1, 1, 0.6f, 0.8f};
  memcpy(in.roi, roi, sizeof roi);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx tf_crop_and_resize", &k, 4, (const int64_t[]){1, 1, 3, 3}, crop, 1e-5, 1e-6);
  const float roi2[8] = {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f};
  memcpy(in.roi, roi2, sizeof roi2);
  p.extrapolation_value = 10;
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx tf_crop_and_resize_extrapolation_value", &k, 4, (const int64_t[]){1, 1, 3, 3},
            crop_extra, 1e-5, 1e-6);

  p = rp(SC_RESIZE_CUBIC, SC_COORD_HALF_PIXEL, 0);
  in = scales4(1, 1, 2, 2);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx upsample_scales_cubic", &k, 4, (const int64_t[]){1, 1, 8, 8}, up_cubic, 1e-5,
            1e-6);
  p.coord = SC_COORD_ASYMMETRIC;
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx upsample_scales_cubic_asymmetric", &k, 4, (const int64_t[]){1, 1, 8, 8},
            up_cubic_asym, 1e-5, 1e-6);
  p.coord = SC_COORD_HALF_PIXEL;
  in = scales4(1, 1, 0.8f, 0.8f);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx downsample_scales_cubic", &k, 4, (const int64_t[]){1, 1, 3, 3}, down_cubic, 1e-5,
            1e-6);
  p.cubic_a = -0.5f;
  p.exclude_outside = 1;
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx downsample_scales_cubic_A_n0p5_exclude_outside", &k, 4,
            (const int64_t[]){1, 1, 3, 3}, down_cubic_a05_excl, 1e-5, 1e-6);
  in = scales4(1, 1, 2, 2);
  rz_case(&k, &p, 4, s44, d44, &in);
  expect_rz("onnx upsample_scales_cubic_A_n0p5_exclude_outside", &k, 4,
            (const int64_t[]){1, 1, 8, 8}, up_cubic_a05_excl, 1e-5, 1e-6);

  /* The same factors fixed by a loader (Upsample-7 attribute scales; Keras sizes), and sizes
   * given next to an EMPTY scales tensor (opset 11 exporters): same results. */
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_SIMPLE);
  p.n_fixed = 4;
  p.fixed_scales[0] = p.fixed_scales[1] = 1;
  p.fixed_scales[2] = 2;
  p.fixed_scales[3] = 3;
  rz_case(&k, &p, 4, s22, d4, NULL);
  expect_rz("fixed_scales (Upsample-7)", &k, 4, (const int64_t[]){1, 1, 4, 6}, up_scales_nearest, 0,
            0);
  p = rp(SC_RESIZE_CUBIC, SC_COORD_HALF_PIXEL, 0);
  p.n_fixed = 2;
  p.fixed_sizes[0] = p.fixed_sizes[1] = 8;
  rz_case(&k, &p, 4, s44, d44, NULL);
  expect_rz("fixed_sizes", &k, 4, (const int64_t[]){1, 1, 8, 8}, up_cubic, 1e-5, 1e-6);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_HALF_PIXEL, SC_NEAREST_ROUND_PREFER_FLOOR);
  in = sizes4(1, 1, 7, 8);
  float dummy_roi[1] = {0}, dummy_scales[1] = {0};
  rz_case(&k, &p, 4, s22, d4, &in);
  const int64_t zero = 0;
  k.in[1] = oc_tensor(1, &zero, dummy_roi);
  k.in_const[1] = 1;
  k.in[2] = oc_tensor(1, &zero, dummy_scales);
  k.in_const[2] = 1;
  expect_rz("empty roi and scales, sizes given", &k, 4, (const int64_t[]){1, 1, 7, 8},
            up_sizes_nearest, 0, 0);
}

/* ---- PyTorch float64 ------------------------------------------------------------------------- */

/* Values from /usr/bin/python3 (torch 1.13, float64):
 *   x = torch.tensor([((i*37) % 71)*0.125 - 4 for i in range(24)], dtype=torch.float64)
 *         .reshape(1, 2, 3, 4)
 *   F.interpolate(x, size=(5, 7), mode='bilinear', align_corners=False)   # pt_bilinear
 *   F.interpolate(x, size=(6, 9), mode='bicubic', align_corners=False)    # pt_bicubic
 *   F.interpolate(x, size=(7, 9), mode='nearest')                         # pt_nearest
 *   F.interpolate(x, size=(5, 6), mode='bicubic', align_corners=True)     # pt_bicubic_align
 *   y = torch.tensor([((i*29) % 71)*0.125 - 4 for i in range(35)], dtype=torch.float64)
 *         .reshape(1, 1, 5, 7)
 *   F.interpolate(y, size=(4, 5), mode='bilinear', align_corners=True)    # pt_bilinear_align_down
 *   F.interpolate(y, size=(3, 4), mode='bilinear', align_corners=False)   # pt_bilinear_down
 * torch.onnx maps bilinear(align_corners=False) to linear + pytorch_half_pixel (= half_pixel for
 * outputs longer than 1), bicubic to cubic with a = -0.75, nearest to asymmetric + floor. */
static void test_torch(void) {
  static const double pt_bilinear[70] = {-4,
                                         -2.348214285714286,
                                         0.29464285714285676,
                                         -1.5,
                                         -3.2946428571428585,
                                         -0.65178571428571463,
                                         1,
                                         -3.7000000000000002,
                                         -2.0482142857142862,
                                         0.5946428571428567,
                                         -1.2000000000000002,
                                         -2.9946428571428587,
                                         -0.35178571428571465,
                                         1.3,
                                         -3.25,
                                         -1.598214285714286,
                                         1.0446428571428568,
                                         -0.75,
                                         -2.5446428571428585,
                                         0.098214285714285532,
                                         1.75,
                                         -2.7999999999999998,
                                         -1.1482142857142861,
                                         1.4946428571428567,
                                         -0.3000000000000001,
                                         -2.0946428571428584,
                                         0.54821428571428532,
                                         2.1999999999999997,
                                         -2.5,
                                         -0.84821428571428603,
                                         1.7946428571428568,
                                         0,
                                         -1.7946428571428583,
                                         0.84821428571428537,
                                         2.5,
                                         -1.75,
                                         -0.098214285714285893,
                                         2.5446428571428568,
                                         0.75,
                                         -1.0446428571428583,
                                         1.5982142857142854,
                                         3.25,
                                         -1.4500000000000002,
                                         0.20178571428571407,
                                         2.844642857142857,
                                         1.05,
                                         -0.74464285714285838,
                                         1.8982142857142856,
                                         3.5500000000000003,
                                         -1,
                                         0.65178571428571408,
                                         3.2946428571428568,
                                         1.5,
                                         -0.29464285714285832,
                                         2.3482142857142856,
                                         4,
                                         -0.55000000000000004,
                                         1.1017857142857139,
                                         3.7446428571428565,
                                         1.9499999999999997,
                                         0.15535714285714161,
                                         2.7982142857142858,
                                         4.4499999999999993,
                                         -0.25,
                                         1.401785714285714,
                                         4.0446428571428568,
                                         2.25,
                                         0.45535714285714168,
                                         3.0982142857142856,
                                         4.75};
  static const double pt_bicubic[108] = {
      -4.5816896540637826,  -3.3415436921296302,  -0.72871790337791464, 0.52112134559327938,
      -1.5791015625,        -3.6793244705932797,  -2.4294852216220852,  0.1833405671296281,
      1.4234865290637837,   -4.3590334040637817,  -3.1188874421296302,  -0.50606165337791476,
      0.74377759559327927,  -1.3564453125,        -3.4566682205932797,  -2.2068289716220852,
      0.40599681712962804,  1.6461427790637837,   -4.0016115290637826,  -2.7614655671296302,
      -0.14863977837791481, 1.1011994705932788,   -0.9990234375,        -3.0992463455932793,
      -1.8494070966220857,  0.7634186921296281,   2.0035646540637835,   -3.503564654063783,
      -2.2634186921296302,  0.34940709662208513,  1.5992463455932791,   -0.5009765625,
      -2.6011994705932793,  -1.3513602216220857,  1.261465567129628,    2.5016115290637835,
      -3.1461427790637835,  -1.9059968171296302,  0.70682897162208524,  1.9566682205932791,
      -0.1435546875,        -2.2437775955932788,  -0.9939383466220858,  1.618887442129628,
      2.859033404063783,    -2.9234865290637835,  -1.68334056712963,    0.92948522162208524,
      2.1793244705932793,   0.0791015625,         -2.0211213455932793,  -0.77128209662208591,
      1.841543692129628,    3.081689654063783,    -2.3316896540637835,  -1.0915436921296295,
      1.5212820966220852,   2.7711213455932784,   0.6708984375,         -1.4293244705932784,
      -0.17948522162208602, 2.433340567129628,    3.6734865290637826,   -2.1090334040637835,
      -0.86888744212962965, 1.743938346622085,    2.9937775955932788,   0.8935546875,
      -1.2066682205932784,  0.043171028377913895, 2.655996817129628,    3.896142779063783,
      -1.7516115290637835,  -0.51146556712962965, 2.1013602216220848,   3.3511994705932784,
      1.2509765625,         -0.84924634559327816, 0.40059290337791376,  3.0134186921296275,
      4.2535646540637826,   -1.2535646540637837,  -0.01341869212962956, 2.5994070966220848,
      3.8492463455932784,   1.7490234375,         -0.35119947059327805, 0.89863977837791365,
      3.5114655671296275,   4.7516115290637817,   -0.89614277906378392, 0.34400318287037057,
      2.9568289716220852,   4.2066682205932775,   2.1064453125,         0.0062224044067220518,
      1.2560616533779136,   3.868887442129628,    5.1090334040637817,   -0.67348652906378392,
      0.56665943287037057,  3.1794852216220852,   4.4293244705932775,   2.3291015625,
      0.22887865440672214,  1.4787179033779134,   4.0915436921296271,   5.3316896540637808};
  static const double pt_nearest[126] = {
      -4,     -4,    -4,     0.625,  0.625, -3.625, -3.625, 1,     1,      -4,     -4,    -4,
      0.625,  0.625, -3.625, -3.625, 1,     1,      -4,     -4,    -4,     0.625,  0.625, -3.625,
      -3.625, 1,     1,      -3.25,  -3.25, -3.25,  1.375,  1.375, -2.875, -2.875, 1.75,  1.75,
      -3.25,  -3.25, -3.25,  1.375,  1.375, -2.875, -2.875, 1.75,  1.75,   -2.5,   -2.5,  -2.5,
      2.125,  2.125, -2.125, -2.125, 2.5,   2.5,    -2.5,   -2.5,  -2.5,   2.125,  2.125, -2.125,
      -2.125, 2.5,   2.5,    -1.75,  -1.75, -1.75,  2.875,  2.875, -1.375, -1.375, 3.25,  3.25,
      -1.75,  -1.75, -1.75,  2.875,  2.875, -1.375, -1.375, 3.25,  3.25,   -1.75,  -1.75, -1.75,
      2.875,  2.875, -1.375, -1.375, 3.25,  3.25,   -1,     -1,    -1,     3.625,  3.625, -0.625,
      -0.625, 4,     4,      -1,     -1,    -1,     3.625,  3.625, -0.625, -0.625, 4,     4,
      -0.25,  -0.25, -0.25,  4.375,  4.375, 0.125,  0.125,  4.75,  4.75,   -0.25,  -0.25, -0.25,
      4.375,  4.375, 0.125,  0.125,  4.75,  4.75};
  static const double pt_bicubic_align[60] = {-4,
                                              -0.71049999999999791,
                                              0.2100000000000001,
                                              -3.2100000000000035,
                                              -2.2895000000000012,
                                              1,
                                              -3.6953125,
                                              -0.40581249999999824,
                                              0.51468749999999985,
                                              -2.9053125000000035,
                                              -1.9848125000000019,
                                              1.3046875,
                                              -3.25,
                                              0.039500000000001478,
                                              0.95999999999999963,
                                              -2.4600000000000035,
                                              -1.5395000000000021,
                                              1.75,
                                              -2.8046875,
                                              0.4848125000000012,
                                              1.4053124999999995,
                                              -2.0146875000000031,
                                              -1.0941875000000023,
                                              2.1953125,
                                              -2.5,
                                              0.7895000000000012,
                                              1.7099999999999993,
                                              -1.7100000000000029,
                                              -0.78950000000000231,
                                              2.5,
                                              -1.75,
                                              1.5395000000000008,
                                              2.4599999999999986,
                                              -0.96000000000000263,
                                              -0.039500000000002561,
                                              3.25,
                                              -1.4453125,
                                              1.8441875000000008,
                                              2.7646874999999982,
                                              -0.65531250000000252,
                                              0.26518749999999719,
                                              3.5546875,
                                              -1,
                                              2.2895000000000003,
                                              3.2099999999999982,
                                              -0.2100000000000023,
                                              0.71049999999999691,
                                              4,
                                              -0.5546875,
                                              2.7348124999999999,
                                              3.6553124999999982,
                                              0.23531249999999793,
                                              1.1558124999999968,
                                              4.4453125,
                                              -0.25,
                                              3.0394999999999999,
                                              3.9599999999999986,
                                              0.53999999999999804,
                                              1.4604999999999966,
                                              4.75};
  static const double pt_bilinear_align_down[20] = {-4,
                                                    1.4375,
                                                    -2,
                                                    -1,
                                                    0,
                                                    3.2083333333333335,
                                                    -0.2291666666666666,
                                                    -0.70833333333333393,
                                                    1.7708333333333335,
                                                    -1.6666666666666665,
                                                    1.5416666666666667,
                                                    1.0624999999999996,
                                                    3.541666666666667,
                                                    0.10416666666666685,
                                                    -3.333333333333333,
                                                    -0.125,
                                                    0.875,
                                                    1.875,
                                                    -1.5625,
                                                    3.875};
  static const double pt_bilinear_down[12] = {-1.208333333333333,
                                              2.1770833333333335,
                                              0.75520833333333326,
                                              -0.66666666666666674,
                                              0.40625,
                                              1.203125,
                                              -0.21875,
                                              -0.53125,
                                              1.6510416666666663,
                                              -0.88020833333333359,
                                              -2.3020833333333335,
                                              1.0833333333333346};

  float x[24], y[35];
  for (int i = 0; i < 24; i++) x[i] = (float)((i * 37) % 71) * 0.125f - 4;
  for (int i = 0; i < 35; i++) y[i] = (float)((i * 29) % 71) * 0.125f - 4;
  const int64_t dx[4] = {1, 2, 3, 4}, dy[4] = {1, 1, 5, 7};
  oc_case k;
  sc_resize_params p;
  rz_inputs in;

  p = rp(SC_RESIZE_LINEAR, SC_COORD_PYTORCH_HALF_PIXEL, 0);
  in = sizes4(1, 2, 5, 7);
  rz_case(&k, &p, 4, dx, x, &in);
  expect_rz("torch bilinear", &k, 4, in.sizes, pt_bilinear, 1e-5, 1e-5);
  p.coord = SC_COORD_HALF_PIXEL;
  rz_case(&k, &p, 4, dx, x, &in);
  expect_rz("torch bilinear (half_pixel)", &k, 4, in.sizes, pt_bilinear, 1e-5, 1e-5);
  p = rp(SC_RESIZE_CUBIC, SC_COORD_HALF_PIXEL, 0);
  in = sizes4(1, 2, 6, 9);
  rz_case(&k, &p, 4, dx, x, &in);
  expect_rz("torch bicubic", &k, 4, in.sizes, pt_bicubic, 1e-5, 1e-5);
  p.coord = SC_COORD_ALIGN_CORNERS;
  in = sizes4(1, 2, 5, 6);
  rz_case(&k, &p, 4, dx, x, &in);
  expect_rz("torch bicubic align_corners", &k, 4, in.sizes, pt_bicubic_align, 1e-5, 1e-5);
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_FLOOR);
  in = sizes4(1, 2, 7, 9);
  rz_case(&k, &p, 4, dx, x, &in);
  expect_rz("torch nearest", &k, 4, in.sizes, pt_nearest, 0, 0);
  p = rp(SC_RESIZE_LINEAR, SC_COORD_ALIGN_CORNERS, 0);
  in = sizes4(1, 1, 4, 5);
  rz_case(&k, &p, 4, dy, y, &in);
  expect_rz("torch bilinear align_corners down", &k, 4, in.sizes, pt_bilinear_align_down, 1e-5,
            1e-5);
  p.coord = SC_COORD_PYTORCH_HALF_PIXEL;
  in = sizes4(1, 1, 3, 4);
  rz_case(&k, &p, 4, dy, y, &in);
  expect_rz("torch bilinear down", &k, 4, in.sizes, pt_bilinear_down, 1e-5, 1e-5);
}

/* ---- backward -------------------------------------------------------------------------------- */

static void test_backward_hand(void) {
  oc_case k;
  sc_resize_params p;
  float x2[2] = {1, 2}, dx2[2];
  float *din[SC_MAX_IO] = {dx2};
  const int64_t d2[4] = {1, 1, 1, 2};

  /* nearest asymmetric floor 2 -> 4 picks 0 0 1 1: dx = [g0+g1, g2+g3] */
  p = rp(SC_RESIZE_NEAREST, SC_COORD_ASYMMETRIC, SC_NEAREST_FLOOR);
  rz_inputs in = sizes4(1, 1, 1, 4);
  rz_case(&k, &p, 4, d2, x2, &in);
  CHECK(oc_run(&k, "bw nearest") == SEGCAM_OK, "%s", segcam_last_error());
  const float g4[4] = {1, 10, 100, 1000};
  CHECK(oc_backward(&k, g4, din) == SEGCAM_OK, "%s", segcam_last_error());
  const double w_nn[2] = {11, 1100};
  t_close("bw nearest", dx2, w_nn, 2, 0, 0);
  oc_free(&k);

  /* linear align_corners 2 -> 3: y = [x0, (x0+x1)/2, x1], dx = [g0 + g1/2, g1/2 + g2] */
  p = rp(SC_RESIZE_LINEAR, SC_COORD_ALIGN_CORNERS, 0);
  in = sizes4(1, 1, 1, 3);
  rz_case(&k, &p, 4, d2, x2, &in);
  CHECK(oc_run(&k, "bw linear") == SEGCAM_OK, "%s", segcam_last_error());
  const float g3[3] = {1, 10, 100};
  CHECK(oc_backward(&k, g3, din) == SEGCAM_OK, "%s", segcam_last_error());
  const double w_lin[2] = {6, 105};
  t_close("bw linear", dx2, w_lin, 2, 1e-6, 0);
  oc_free(&k);

  /* tf_crop_and_resize: extrapolated outputs pass no gradient.  x = 4 values, roi [-0.2, 1.2],
   * out 7: coordinates -0.6(ext) 0.1 0.8 1.5 2.2 2.9 3.6(ext); with g = 1 everywhere
   * dx0 = 0.9 + 0.2, dx1 = 0.1 + 0.8 + 0.5, dx2 = 0.5 + 0.8 + 0.1, dx3 = 0.2 + 0.9 */
  float x4[4] = {0, 1, 2, 3}, dx4[4];
  din[0] = dx4;
  const int64_t d4[4] = {1, 1, 1, 4};
  p = rp(SC_RESIZE_LINEAR, SC_COORD_TF_CROP_AND_RESIZE, 0);
  in = sizes4(1, 1, 1, 7);
  in.n_roi = 8;
  const float roi[8] = {0, 0, 0, -0.2f, 1, 1, 1, 1.2f};
  memcpy(in.roi, roi, sizeof roi);
  rz_case(&k, &p, 4, d4, x4, &in);
  CHECK(oc_run(&k, "bw crop") == SEGCAM_OK, "%s", segcam_last_error());
  const float g7[7] = {1, 1, 1, 1, 1, 1, 1};
  CHECK(oc_backward(&k, g7, din) == SEGCAM_OK, "%s", segcam_last_error());
  const double w_crop[4] = {1.1, 1.4, 1.4, 1.1};
  t_close("bw crop", dx4, w_crop, 4, 1e-5, 0);
  oc_free(&k);
}

/* Finite-difference check of every mode on [2,3,5,6] -> [2,3,9,4] (up along H, down along W),
 * plus a scales case with non-integer factors. */
static void test_gradcheck(void) {
  float x[2 * 3 * 5 * 6];
  const int64_t d[4] = {2, 3, 5, 6};
  oc_fill(x, 180, 3, -1, 1);
  const sc_coord_mode coords[] = {SC_COORD_HALF_PIXEL,           SC_COORD_PYTORCH_HALF_PIXEL,
                                  SC_COORD_ALIGN_CORNERS,        SC_COORD_ASYMMETRIC,
                                  SC_COORD_TF_HALF_PIXEL_FOR_NN, SC_COORD_TF_CROP_AND_RESIZE,
                                  SC_COORD_HALF_PIXEL_SYMMETRIC};
  const char *cname[] = {"half_pixel",          "pytorch_half_pixel",   "align_corners",
                         "asymmetric",          "tf_half_pixel_for_nn", "tf_crop_and_resize",
                         "half_pixel_symmetric"};
  const char *mname[] = {"nearest", "linear", "cubic"};
  for (int m = 0; m < 3; m++)
    for (int ci = 0; ci < 7; ci++)
      for (int variant = 0; variant < (m == 0 ? 5 : m == 2 ? 2 : 1); variant++) {
        sc_resize_params p = rp((sc_resize_mode)m, coords[ci], SC_NEAREST_ROUND_PREFER_FLOOR);
        if (m == 0) p.nearest = (sc_nearest_mode)variant;
        if (m == 2) p.exclude_outside = variant;
        p.extrapolation_value = 0.5f;
        rz_inputs in = sizes4(2, 3, 9, 4);
        if (coords[ci] == SC_COORD_TF_CROP_AND_RESIZE) {
          const float roi[8] = {0, 0, -0.1f, 0.2f, 1, 1, 1.3f, 0.7f};
          in.n_roi = 8;
          memcpy(in.roi, roi, sizeof roi);
        }
        oc_case k;
        rz_case(&k, &p, 4, d, x, &in);
        char what[96];
        snprintf(what, sizeof what, "grad %s %s variant %d", mname[m], cname[ci], variant);
        oc_gradcheck(&k, what, 1e-2, 1e-3);
        oc_free(&k);
      }
  sc_resize_params p = rp(SC_RESIZE_CUBIC, SC_COORD_HALF_PIXEL, 0);
  rz_inputs in = scales4(1, 1, 1.7f, 0.45f); /* out 8 x 2 */
  oc_case k;
  rz_case(&k, &p, 4, d, x, &in);
  oc_gradcheck(&k, "grad cubic scales 1.7 x 0.45", 1e-2, 1e-3);
  oc_free(&k);
}

/* Each [H,W] plane is resized on its own: the [2,3,5,6] result equals the six rank-2 results. */
static void test_planes(void) {
  float x[180];
  oc_fill(x, 180, 11, -2, 2);
  const int64_t d[4] = {2, 3, 5, 6}, dp[2] = {5, 6};
  sc_resize_params p = rp(SC_RESIZE_CUBIC, SC_COORD_HALF_PIXEL, 0);
  rz_inputs in = sizes4(2, 3, 7, 11), in2;
  memset(&in2, 0, sizeof in2);
  in2.n_sizes = 2;
  in2.sizes[0] = 7;
  in2.sizes[1] = 11;
  oc_case k, kp;
  rz_case(&k, &p, 4, d, x, &in);
  CHECK(oc_run(&k, "planes") == SEGCAM_OK, "%s", segcam_last_error());
  for (int b = 0; b < 6; b++) {
    rz_case(&kp, &p, 2, dp, x + b * 30, &in2);
    CHECK(oc_run(&kp, "plane") == SEGCAM_OK, "%s", segcam_last_error());
    double ref[77];
    for (int i = 0; i < 77; i++) ref[i] = ((float *)kp.out[0].data)[i];
    t_close("plane independence", (float *)k.out[0].data + b * 77, ref, 77, 0, 0);
    oc_free(&kp);
  }
  oc_free(&k);
}

/* ---- hostile parameters ---------------------------------------------------------------------- */

static void test_errors(void) {
  float x[16] = {0};
  const int64_t d[4] = {1, 1, 4, 4};
  oc_case k;
  sc_resize_params p = rp(SC_RESIZE_LINEAR, SC_COORD_HALF_PIXEL, 0);
  rz_inputs in = scales4(1, 1, 0.1f, 1); /* floor(0.4) = 0 rows */
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("zero_output", &k, SEGCAM_E_SHAPE);
  in = sizes4(1, 1, 0, 4);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("zero_size", &k, SEGCAM_E_SHAPE);
  in = sizes4(1, 1, -3, 4);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("negative_size", &k, SEGCAM_E_SHAPE);
  in = scales4(1, 1, 2, 2);
  rz_case(&k, &p, 4, d, x, &in);
  k.in_const[2] = 0; /* scales computed at run time */
  oc_expect_error("runtime_scales", &k, SEGCAM_E_UNSUPPORTED);
  in = sizes4(1, 1, 8, 8);
  rz_case(&k, &p, 4, d, x, &in);
  k.in_const[3] = 0;
  oc_expect_error("runtime_sizes", &k, SEGCAM_E_UNSUPPORTED);
  in = scales4(1, 1, -2, 2);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("negative_scale", &k, SEGCAM_E_SHAPE);
  in = scales4(1, 1, 1e30f, 2);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("absurd_scale", &k, SEGCAM_E_SHAPE);
  in = scales4(1, 1, NAN, 2);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("nan_scale", &k, SEGCAM_E_SHAPE);
  in = scales4(1, 1, 2, 2);
  in.n_scales = 3;
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("short_scales", &k, SEGCAM_E_SHAPE);
  in = sizes4(1, 1, 8, 8);
  in.n_scales = 4;
  in.scales[0] = in.scales[1] = in.scales[2] = in.scales[3] = 2;
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("scales_and_sizes", &k, SEGCAM_E_SHAPE);
  rz_case(&k, &p, 4, d, x, NULL);
  oc_expect_error("no_scales", &k, SEGCAM_E_SHAPE);
  in = scales4(1, 2, 2, 2); /* channels */
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("channel_axis", &k, SEGCAM_E_UNSUPPORTED);
  const int64_t d2[4] = {1, 2, 4, 4};
  float x2[32] = {0};
  in = scales4(1, 1.2f, 2, 2); /* out = floor(2.4) = 2 channels, but not an identity map */
  rz_case(&k, &p, 4, d2, x2, &in);
  oc_expect_error("channel_scale_not_identity", &k, SEGCAM_E_UNSUPPORTED);
  in = scales4(1, 1, 2, 2);
  rz_case(&k, &p, 4, d2, x2, &in);
  CHECK(oc_run(&k, "identity_channels") == SEGCAM_OK, "%s", segcam_last_error());
  oc_free(&k);
  p.coord = SC_COORD_TF_CROP_AND_RESIZE; /* needs a roi */
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("crop_without_roi", &k, SEGCAM_E_SHAPE);
  p.coord = SC_COORD_HALF_PIXEL;
  const int64_t dz[4] = {1, 0, 4, 4};
  rz_case(&k, &p, 4, dz, x, &in);
  oc_expect_error("zero_input_dim", &k, SEGCAM_E_SHAPE);
  in = sizes4(1, 1, (int64_t)1 << 40, 4);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("huge_size", &k, SEGCAM_E_SHAPE);
  in = sizes4(1, 1, 1 << 20, 1 << 20);
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("huge_numel", &k, SEGCAM_E_NOMEM);
  in = sizes4(1, 1, 8, 8);
  p.mode = (sc_resize_mode)7;
  rz_case(&k, &p, 4, d, x, &in);
  oc_expect_error("bad_mode", &k, SEGCAM_E_UNSUPPORTED);
}

int main(void) {
  test_hand();
  test_onnx_examples();
  test_torch();
  test_backward_hand();
  test_gradcheck();
  test_planes();
  test_errors();
  TEST_MAIN_END();
}
