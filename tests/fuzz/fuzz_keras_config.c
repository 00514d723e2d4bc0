/* libFuzzer harness: the bytes are a Keras model_config JSON text (plus an optional sidecar
 * describing weights), translated by load/keras_config.c without libhdf5, then run and
 * explained.  The entry code is shared with the regression replay (tests/test_fuzz_regress.c);
 * see fuzz_entry.h.  Build: docs/FUZZING.md. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_keras_config_one(data, size);
  return 0;
}
