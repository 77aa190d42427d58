/* The blocking HTTP request of the REST commands (see http.h), with libcurl. */
#include "cli/http.h"

#include <curl/curl.h>
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
    CURL *c = curl_easy_init();
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
    h = curl_slist_append(h, ac);
    h = curl_slist_append(h, ct);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    int out = 0;
    if (rc != CURLE_OK) {
        fprintf(stderr, "herald %s: %s %s: %s\n", who, method, url, curl_easy_strerror(rc));
        free(r->body);
        memset(r, 0, sizeof *r);
        out = -1;
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(url);
    return out;
}

char *cli_http_seg(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        abort();
    return e;
}
