/* SHA-1 (FIPS 180-4), for the one place the protocols require it: the WebSocket handshake's
 * Sec-WebSocket-Accept (RFC 6455). Not for anything that needs collision resistance. Written
 * here rather than taken from libcrypto, which would cost every broker 1.5 MiB of resident
 * memory for twenty bytes per handshake. */
#ifndef HD_SHA1_H
#define HD_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define HD_SHA1_LEN 20

typedef struct hd_sha1 {
    uint32_t h[5];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes waiting in block */
} hd_sha1_t;

void hd_sha1_init(hd_sha1_t *s);
void hd_sha1_update(hd_sha1_t *s, const void *p, size_t n);
/* Writes the digest to out and leaves s unusable until hd_sha1_init. */
void hd_sha1_final(hd_sha1_t *s, uint8_t out[HD_SHA1_LEN]);
/* The digest of p[0..n) in one call. */
void hd_sha1(const void *p, size_t n, uint8_t out[HD_SHA1_LEN]);

#endif
