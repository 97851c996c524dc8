// FUZZ_CHECK: the assertion of fuzz targets. A broken invariant prints what
// and where, then aborts, which libFuzzer (and the corpus replay driver, via
// the test's failure) reports as a finding. Independent of NDEBUG, so it
// works in Release builds. Thread-safety: stateless.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);    \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
