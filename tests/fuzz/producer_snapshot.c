/* Fuzz target: the idempotent-producer snapshot parser (broker__producers_parse). The input is
 * taken as a snapshot file twice: as given, and with its trailing CRC made right, so that the
 * fuzzer gets past the checksum to the structure. Aborts on any broken invariant. */
#include "broker/broker_int.h"
#include "fuzz_check.h"
#include "util/crc32c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_one(const uint8_t *b, size_t len)
{
    int64_t offset = -1;
    broker__producer_t *v = NULL;
    int n = -1;
    int rc = broker__producers_parse(b, len, &offset, &v, &n);
    if (rc < 0) {
        CHECK(v == NULL && n == 0);
        return;
    }
    CHECK(offset >= 0 && n >= 0 && (n == 0 || v != NULL));
    for (int i = 0; i < n; i++) {
        CHECK(v[i].pid >= 0 && v[i].n >= 0 && v[i].n <= BROKER_PRODUCER_BATCHES);
        for (int k = 0; k < v[i].n; k++)
            CHECK(v[i].b[k].end_offset > v[i].b[k].base_offset && v[i].b[k].base_offset >= 0);
    }
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_one(data, size);
    if (size >= 4) {
        uint8_t *b = malloc(size);
        memcpy(b, data, size);
        uint32_t crc = hd_crc32c(0, b, size - 4);
        b[size - 4] = (uint8_t)(crc >> 24);
        b[size - 3] = (uint8_t)(crc >> 16);
        b[size - 2] = (uint8_t)(crc >> 8);
        b[size - 1] = (uint8_t)crc;
        parse_one(b, size);
        free(b);
    }
    return 0;
}
