/* Standard base64 (RFC 4648 section 4, with padding), as used by the HTTP API's key_b64,
 * value_b64 and CloudEvents' data_base64. */
#ifndef HD_BASE64_H
#define HD_BASE64_H

#include "util/buf.h"
#include "util/slice.h"

#include <stddef.h>

/* The length of the encoding of n bytes, without a terminating NUL. */
size_t hd_base64_encoded_len(size_t n);
/* Appends the encoding of `in` to out (no NUL). */
void hd_base64_encode(hd_slice_t in, hd_buf_t *out);
/* Appends the decoded bytes of `in` to out. Strict: only the standard alphabet, padding required
 * to a multiple of 4, no whitespace, and the unused bits of the last group must be zero. Returns
 * 0, or HD_EMALFORMED with out unchanged. */
int hd_base64_decode(hd_slice_t in, hd_buf_t *out);

#endif
