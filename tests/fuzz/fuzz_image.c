/* libFuzzer harness: the bytes are one image file (PNG or JPEG) for sc_image_load.
 * The entry code is shared with the regression replay (tests/test_fuzz_regress.c); see
 * fuzz_entry.h.  Build: docs/FUZZING.md. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_image_one(data, size);
  return 0;
}
