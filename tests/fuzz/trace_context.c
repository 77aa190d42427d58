/* Fuzz target: the W3C traceparent and tracestate checks, on raw bytes (not NUL-terminated).
 * Invariants: whatever is accepted as a traceparent has the documented shape and non-zero ids,
 * and accepted inputs round-trip to the same ids when re-encoded. */
#include "fuzz_check.h"
#include "obs/obs.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    obs_trace_ctx_t tc;
    if (obs_traceparent_parse(s, size, &tc)) {
        CHECK(size >= OBS_TRACEPARENT_LEN);
        CHECK(s[2] == '-' && s[35] == '-' && s[52] == '-');
        CHECK(!(s[0] == 'f' && s[1] == 'f'));
        uint8_t zero[16] = {0};
        CHECK(memcmp(tc.trace_id, zero, 16) != 0);
        CHECK(memcmp(tc.parent_id, zero, 8) != 0);
        char again[OBS_TRACEPARENT_LEN + 1];
        int n = snprintf(again, sizeof again, "%.2s-", s);
        for (int i = 0; i < 16; i++)
            n += snprintf(again + n, sizeof again - (size_t)n, "%02x", tc.trace_id[i]);
        again[n++] = '-';
        for (int i = 0; i < 8; i++)
            n += snprintf(again + n, sizeof again - (size_t)n, "%02x", tc.parent_id[i]);
        snprintf(again + n, sizeof again - (size_t)n, "-%02x", tc.flags);
        CHECK(memcmp(again, s, OBS_TRACEPARENT_LEN) == 0);
    }
    if (obs_tracestate_valid(s, size)) {
        CHECK(size >= 1 && size <= OBS_TRACESTATE_MAX);
        for (size_t i = 0; i < size; i++)
            CHECK(data[i] >= 0x20 && data[i] <= 0x7e);
    }
    return 0;
}
