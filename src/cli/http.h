/* Private to src/cli/: one HTTP request with libcurl, for the commands that talk to Herald's
 * HTTP API rather than to Kafka (`herald schema`, `herald doctor`). */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H

#include <stddef.h>

/* Largest answer kept (a longer one fails the request). */
#define CLI_HTTP_MAX_BODY (16 << 20)

/* An answer: the HTTP status and the body (NUL-terminated, NULL when empty; free it). */
typedef struct cli_resp {
    long status;
    char *body;
    size_t len;
} cli_resp_t;

/* Performs method on base + path (a trailing slash on base is tolerated), with the Accept and
 * Content-Type headers `accept` and `ctype` (NULL: none) and body (NULL: none), within 30 s.
 * Returns 0 with the answer in *r (whatever its status), or -1 after printing
 * "herald <cmd>: <method> <url>: <why>" to stderr (r->body freed). */
int cli__http_call(const char *cmd, const char *base, const char *method, const char *path,
                   const char *accept, const char *ctype, const char *body, cli_resp_t *r);

#endif
