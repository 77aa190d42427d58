/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) and the default partitioner's
 * key-to-partition mapping. The arithmetic is Java's 32-bit int arithmetic done on uint32_t, so
 * that overflow wraps the same way and `>>>` is a plain unsigned shift. */
#include "util/murmur2.h"

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M 0x5bd1e995u
#define MURMUR2_R 24

uint32_t hd_murmur2(const void *key, size_t len)
{
    const uint8_t *d = key;
    /* Java hashes an int length; byte arrays never reach 2^31, so the cast changes nothing. */
    uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
    size_t len4 = len / 4;
    for (size_t i = 0; i < len4; i++) {
        const uint8_t *p = d + i * 4;
        uint32_t k =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= MURMUR2_M;
        k ^= k >> MURMUR2_R;
        k *= MURMUR2_M;
        h *= MURMUR2_M;
        h ^= k;
    }
    const uint8_t *tail = d + (len & ~(size_t)3);
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= MURMUR2_M;
    }
    h ^= h >> 13;
    h *= MURMUR2_M;
    h ^= h >> 15;
    return h;
}

int32_t hd_murmur2_partition(const void *key, size_t len, int32_t partitions)
{
    /* Utils.toPositive: masks the sign bit rather than taking abs(), so INT_MIN maps to 0. */
    return (int32_t)((hd_murmur2(key, len) & 0x7fffffffu) % (uint32_t)partitions);
}
