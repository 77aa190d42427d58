/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
#ifndef HD_UTF8_H
#define HD_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool hd_utf8_valid(const void *p, size_t len);

#endif
