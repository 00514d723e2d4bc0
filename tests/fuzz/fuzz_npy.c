/* libFuzzer harness: the bytes are one .npy file for sc_npy_read.
 * The entry code is shared with the regression replay (tests/test_fuzz_regress.c); see
 * fuzz_entry.h.  Build: docs/FUZZING.md. */
#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_npy_one(data, size);
  return 0;
}
