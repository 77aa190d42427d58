/* The blocking HTTP request of the REST commands (see http.h), with libcurl (loaded at run time,
 * util/curl_dl.h). */
#include "cli/http.h"

#include "util/curl_dl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    cli_resp_t *r = ctx;
    size_t add = size * n;
    if (r->len + add > CLI_HTTP_MAX_BODY)
        return 0;
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    r->body = nb;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

int cli_http_call(const char *who, const char *base, const char *method, const char *path,
                  const char *content_type, const char *accept, const char *body, cli_resp_t *r)
{
    memset(r, 0, sizeof *r);
    const char *why = "";
    const hd_curl_t *cu = hd_curl(&why);
    if (!cu) {
        fprintf(stderr, "herald %s: %s\n", who, why);
        return -1;
    }
    CURL *c = cu->easy_init();
    if (!c) {
        fprintf(stderr, "herald %s: cannot start libcurl\n", who);
        return -1;
    }
    size_t bl = strlen(base);
    if (bl && base[bl - 1] == '/')
        bl--;
    size_t n = bl + strlen(path) + 1;
    char *url = malloc(n);
    if (!url)
        abort();
    snprintf(url, n, "%.*s%s", (int)bl, base, path);
    char ct[256], ac[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    snprintf(ac, sizeof ac, "Accept: %s", accept);
    struct curl_slist *h = NULL;
    h = cu->slist_append(h, ac);
    h = cu->slist_append(h, ct);
    cu->easy_setopt(c, CURLOPT_URL, url);
    cu->easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    cu->easy_setopt(c, CURLOPT_HTTPHEADER, h);
    cu->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    cu->easy_setopt(c, CURLOPT_WRITEDATA, r);
    cu->easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    cu->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body)
        cu->easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = cu->easy_perform(c);
    int out = 0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "herald %s: %s %s: %s\n", who, method, url, cu->easy_strerror(rc));
        free(r->body);
        memset(r, 0, sizeof *r);
        out = -1;
    } else {
        cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    }
    cu->slist_free_all(h);
    cu->easy_cleanup(c);
    free(url);
    return out;
}

char *cli_http_seg(const char *s)
{
    /* RFC 3986: everything but the unreserved characters is percent-encoded. */
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *e = malloc(3 * n + 1);
    if (!e)
        abort();
    char *o = e;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return e;
}
