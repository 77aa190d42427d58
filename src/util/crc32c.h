/* CRC-32C (Castagnoli), as used by Kafka RecordBatch v2. */
#ifndef HD_CRC32C_H
#define HD_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0. Uses SSE4.2 when the CPU has it. */
uint32_t hd_crc32c(uint32_t crc, const void *p, size_t len);
/* The CRC of A followed by B, from crc1 = CRC(A), crc2 = CRC(B) and len2 = |B|. */
uint32_t hd_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);
/* The portable table-driven version (exposed for tests). */
uint32_t hd_crc32c_sw(uint32_t crc, const void *p, size_t len);

#endif
