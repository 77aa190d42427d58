/* CRC-32C: slicing-by-8 tables, and the SSE4.2 crc32 instruction when available.
 *
 * The crc32 instruction has a latency of 3 cycles but issues one per cycle, so one dependent
 * chain runs at a third of its speed. Buffers are cut in blocks of three lanes of a fixed length
 * (LANE_LONG, then LANE_SHORT bytes) whose CRCs run interleaved and are then joined as
 * hd_crc32c_combine() joins two CRCs (GF(2) polynomial arithmetic modulo the CRC polynomial, as
 * zlib's crc32_combine does for CRC-32). Joining shifts a CRC past a lane, a linear map, which
 * for the two fixed lengths is precomputed as four tables of 256 entries, one per byte of the
 * CRC: four loads instead of the bit-by-bit arithmetic, which for lanes of a length known only
 * at the call cost more than the lanes saved below some 8 KiB. */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#define POLY 0x82f63b78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

/* a * b modulo the polynomial, in the reflected bit order the CRC uses (x^0 is bit 31). */
static uint32_t multmodp(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, prod = 0;
    for (;;) {
        if (a & m) {
            prod ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return prod;
}

/* x^(2^k) modulo the polynomial, k = 0..63: enough for any length below 2^61 bytes. */
static uint32_t x2n_table[64];
static pthread_once_t x2n_once = PTHREAD_ONCE_INIT;

static void x2n_init(void)
{
    uint32_t p = 1u << 30; /* x^1 */
    x2n_table[0] = p;
    for (int k = 1; k < 64; k++)
        x2n_table[k] = p = multmodp(p, p);
}

/* x^(8 * len) modulo the polynomial: the operator that appends len zero bytes. */
static uint32_t x8nmodp(size_t len)
{
    pthread_once(&x2n_once, x2n_init);
    uint32_t p = 1u << 31; /* x^0 */
    unsigned k = 3;
    while (len && k < 64) {
        if (len & 1)
            p = multmodp(x2n_table[k], p);
        len >>= 1;
        k++;
    }
    return p;
}

uint32_t hd_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2)
{
    return multmodp(x8nmodp(len2), crc1) ^ crc2;
}

uint32_t hd_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, table_init);
    const uint8_t *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= crc;
        crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
              table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
              table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
/* Lane lengths (bytes; multiples of 8): blocks of 3 * LANE_LONG while they fit, then of
 * 3 * LANE_SHORT, then one chain for the rest. */
#define LANE_LONG 8192
#define LANE_SHORT 256

/* shift_*[k][b]: what shifting a CRC past a lane makes of byte k of it having value b. */
static uint32_t shift_long[4][256], shift_short[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

static void shift_init(void)
{
    uint32_t op_long = x8nmodp(LANE_LONG), op_short = x8nmodp(LANE_SHORT);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            shift_long[k][b] = multmodp(op_long, b << (8 * k));
            shift_short[k][b] = multmodp(op_short, b << (8 * k));
        }
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t crc)
{
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

/* crc continued over three lanes of `lane` bytes at p, joined with the tables t. */
__attribute__((target("sse4.2"))) static inline uint32_t
crc32c_block(uint32_t crc, const uint8_t *p, size_t lane, const uint32_t t[4][256])
{
    uint64_t c0 = ~crc, c1 = 0xffffffffu, c2 = 0xffffffffu;
    for (size_t i = 0; i < lane; i += 8) {
        uint64_t v0, v1, v2;
        memcpy(&v0, p + i, 8);
        memcpy(&v1, p + lane + i, 8);
        memcpy(&v2, p + 2 * lane + i, 8);
        c0 = __builtin_ia32_crc32di(c0, v0);
        c1 = __builtin_ia32_crc32di(c1, v1);
        c2 = __builtin_ia32_crc32di(c2, v2);
    }
    crc = shift(t, ~(uint32_t)c0) ^ ~(uint32_t)c1;
    return shift(t, crc) ^ ~(uint32_t)c2;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                            size_t len)
{
    const uint8_t *p = data;
    if (len >= 3 * LANE_SHORT) {
        pthread_once(&shift_once, shift_init);
        for (; len >= 3 * LANE_LONG; p += 3 * LANE_LONG, len -= 3 * LANE_LONG)
            crc = crc32c_block(crc, p, LANE_LONG, shift_long);
        for (; len >= 3 * LANE_SHORT; p += 3 * LANE_SHORT, len -= 3 * LANE_SHORT)
            crc = crc32c_block(crc, p, LANE_SHORT, shift_short);
    }
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

uint32_t hd_crc32c(uint32_t crc, const void *p, size_t len)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    return have ? crc32c_hw(crc, p, len) : hd_crc32c_sw(crc, p, len);
}
#else
uint32_t hd_crc32c(uint32_t crc, const void *p, size_t len) { return hd_crc32c_sw(crc, p, len); }
#endif
