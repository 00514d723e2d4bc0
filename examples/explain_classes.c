/* Example: Grad-CAM for every class of a segmentation model, using only include/segcam.h.
 *
 *   example_explain_classes MODEL.onnx [HEIGHT WIDTH]
 *
 * Feeds a synthetic input (a smooth gradient; a real application passes its preprocessed image),
 * runs one forward pass, explains all classes at the default layer from that single pass, and
 * prints each class's region size and map statistics.  Exit code 0 on success. */
#include <stdio.h>
#include <stdlib.h>

#include "segcam.h"

static int fail(const char *what) {
  fprintf(stderr, "example: %s: %s\n", what, segcam_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [HEIGHT WIDTH]\n", argv[0]);
    return 2;
  }
  segcam_model *model = NULL;
  segcam_session *session = NULL;
  if (segcam_model_load(argv[1], &model)) return fail("load");
  int64_t h = argc > 3 ? atoll(argv[2]) : -1, w = argc > 3 ? atoll(argv[3]) : -1;
  if (segcam_session_create(model, h, w, &session)) {
    segcam_model_free(model);
    return fail("session");
  }

  int ndim;
  int64_t dims[SEGCAM_MAX_DIMS];
  segcam_session_input_shape(session, &ndim, dims);
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
  float *input = malloc(n * sizeof *input);
  for (size_t i = 0; i < n; i++) input[i] = (float)(i % 97) / 97.0f;

  int rc = 0;
  segcam_output out;
  size_t layer;
  if (segcam_session_run(session, input, n) || segcam_session_output(session, &out) ||
      segcam_session_find_layer(session, "default", &layer)) {
    rc = fail("run");
  } else {
    segcam_layer info;
    segcam_session_layer(session, layer, &info);
    printf("layer %s (%s), %lld classes\n", info.name, info.type, (long long)out.classes);
    int64_t *classes = malloc((size_t)out.classes * sizeof *classes);
    segcam_cam *cams = calloc((size_t)out.classes, sizeof *cams);
    for (int64_t k = 0; k < out.classes; k++) classes[k] = k;
    segcam_cam_options options;
    segcam_cam_options_init(&options); /* Grad-CAM on logits, predicted region, bilinear */
    if (segcam_explain(session, layer, classes, (size_t)out.classes, &options, cams)) {
      rc = fail("explain");
    } else {
      for (int64_t k = 0; k < out.classes; k++) {
        double sum = 0;
        for (int64_t i = 0; i < cams[k].height * cams[k].width; i++) sum += cams[k].map[i];
        printf("class %lld: region %lld px, score %.4g, map mean %.4f\n", (long long)k,
               (long long)cams[k].region_pixels, cams[k].score,
               sum / (double)(cams[k].height * cams[k].width));
        segcam_cam_release(&cams[k]);
      }
    }
    const char *warnings = segcam_warnings();
    if (*warnings) fprintf(stderr, "%s", warnings);
    free(classes);
    free(cams);
  }
  free(input);
  segcam_session_free(session);
  segcam_model_free(model);
  return rc;
}
