/* Model loading: detects a model file's format from its content and dispatches to the loader for
 * that format (ONNX protobuf, Keras HDF5, Keras 3 .keras ZIP).
 *
 * Loaders only translate a file into the internal graph (graph/graph.h) with internal ops and
 * parameter structs (ops/ops.h); they run nothing and fix no input size. */
#ifndef SC_LOAD_H
#define SC_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "graph/graph.h"

/* Files larger than this are refused before anything is read (ONNX protobufs are limited to
 * 2 GiB; a Keras model of this size is beyond what segcam is meant for). */
#define SC_LOAD_MAX_FILE_BYTES ((uint64_t)4 << 30)

/* Loads the model at `path` into `g` (which this initialises; on failure `g` is left freed and
 * zeroed, with the error message naming the file).  The format comes from the content:
 *   HDF5 signature at 0, 512, 1024, ...      -> Keras .h5 (legacy full model)
 *   ZIP with a top-level config.json         -> Keras 3 .keras archive
 *   anything else that parses as ModelProto  -> ONNX
 * Sets g->format to "onnx", "keras-h5" or "keras-zip". */
segcam_status sc_load_model(const char *path, sc_graph *g);

/* The ONNX loader (load/onnx.c): translates the serialized ModelProto `bytes[0..n)` read from
 * `path` (used for messages and to resolve external data) into `g`, which must have been
 * initialised with sc_graph_init.  On failure `g` may hold a partial graph; the caller frees it. */
segcam_status sc_onnx_load(const char *path, const uint8_t *bytes, size_t n, sc_graph *g);

#endif
