/* CHECK(x) for the fuzz targets: aborts (a finding for libFuzzer) when an invariant fails. */
#ifndef HD_FUZZ_CHECK_H
#define HD_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #x, __LINE__);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
