/* segcam_model: load a file into a graph and describe its input. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/error.h"
#include "load/load.h"

segcam_status segcam_model_load(const char *path, segcam_model **out) {
  if (!out) return sc_error(SEGCAM_E_ARG, "segcam_model_load: out is NULL");
  *out = NULL;
  if (!path) return sc_error(SEGCAM_E_ARG, "segcam_model_load: path is NULL");
  segcam_model *m = sc_calloc_n(1, sizeof *m);
  if (!m) return SEGCAM_E_NOMEM;
  segcam_status st = sc_load_model(path, &m->g);
  if (st) {
    sc_graph_free(&m->g);
    free(m);
    return st;
  }
  m->layout = m->g.input_layout;
  *out = m;
  return SEGCAM_OK;
}

void segcam_model_free(segcam_model *m) {
  if (!m) return;
  sc_graph_free(&m->g);
  free(m);
}

const char *segcam_model_format(const segcam_model *m) { return m ? m->g.format : ""; }

const char *segcam_model_path(const segcam_model *m) { return m ? m->g.path : ""; }

segcam_status segcam_model_input(const segcam_model *m, segcam_input_info *info) {
  if (!m || !info) return sc_error(SEGCAM_E_ARG, "segcam_model_input: NULL argument");
  memset(info, 0, sizeof *info);
  const sc_value *v = &m->g.values[m->g.inputs[0]];
  info->name = v->name;
  info->ndim = v->shape.ndim;
  for (int i = 0; i < v->shape.ndim; i++) info->dims[i] = v->shape.d[i];
  info->layout = m->layout;
  info->channels = info->height = info->width = -1;
  if (v->shape.ndim == 4) {
    int c = m->layout == SEGCAM_LAYOUT_NCHW ? 1 : 3, h = m->layout == SEGCAM_LAYOUT_NCHW ? 2 : 1;
    info->channels = v->shape.d[c];
    info->height = v->shape.d[h];
    info->width = v->shape.d[h + 1];
  } else if (v->shape.ndim == 3 && m->g.windows_1d) {
    info->signal_1d = 1;
  } else if (v->shape.ndim == 3) { /* [N, H, W] single-channel */
    info->channels = 1;
    info->height = v->shape.d[1];
    info->width = v->shape.d[2];
  }
  return SEGCAM_OK;
}

segcam_status segcam_model_set_input_layout(segcam_model *m, segcam_layout layout) {
  if (!m || (layout != SEGCAM_LAYOUT_NCHW && layout != SEGCAM_LAYOUT_NHWC))
    return sc_error(SEGCAM_E_ARG, "segcam_model_set_input_layout: invalid argument");
  m->layout = layout;
  return SEGCAM_OK;
}
