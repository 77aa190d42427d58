/* The HTTP client the REST commands share (`herald schema`, `herald sub`): one blocking request
 * with libcurl, loaded on first use (util/curl_dl.h). */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H

#include <stddef.h>

/* An answer: status and body (NUL-terminated, NULL when empty; free() it). */
typedef struct cli_resp {
    long status;
    char *body;
    size_t len;
} cli_resp_t;

/* Most bytes of an answer that are kept (a longer one fails the call). */
#define CLI_HTTP_MAX_BODY (16 << 20)

/* Performs method on base + path (a trailing '/' of base is tolerated) with body (NULL: none),
 * sending Content-Type: content_type and Accept: accept, with a 30 s timeout. Returns 0 with
 * the answer in *r, or -1 after printing "herald <who>: <why>" (then r->body is NULL). */
int cli_http_call(const char *who, const char *base, const char *method, const char *path,
                  const char *content_type, const char *accept, const char *body, cli_resp_t *r);
/* Percent-encodes a path segment (every byte but RFC 3986's unreserved ones); free with free().
 * Out of memory aborts. */
char *cli_http_seg(const char *s);

#endif
