/* Helpers around a request: JSON and problem answers (RFC 9457), extra response headers, and
 * reading headers, query parameters and JSON bodies. HTTP statuses are named here once. */
#include "http/http_int.h"
#include "util/err.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

void http_respond_json_type(http_req_t *r, int status, const char *content_type, json_t *j)
{
    hd_buf_t text;
    hd_buf_init(&text);
    int rc = http__json_dump(j, &text);
    json_decref(j);
    if (rc < 0) {
        hd_buf_deinit(&text);
        http_respond(r, 500, NULL, NULL, 0);
        return;
    }
    /* A trailing newline makes curl output readable and costs nothing to JSON parsers. */
    hd_buf_put_u8(&text, '\n');
    http_respond(r, status, content_type, text.p, text.len);
    hd_buf_deinit(&text);
}

void http_respond_json(http_req_t *r, int status, json_t *j)
{
    http_respond_json_type(r, status, "application/json", j);
}

void http_problem(http_req_t *r, int status, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    json_t *j = json_object();
    json_object_set_new(j, "type", json_string("about:blank"));
    json_object_set_new(j, "title", json_string(http_status_text(status)));
    json_object_set_new(j, "status", json_integer(status));
    /* Peer text may not be valid UTF-8: jansson refuses such strings, so fall back. */
    json_t *d = json_string(detail);
    json_object_set_new(j, "detail", d ? d : json_string("(detail not valid UTF-8)"));
    if (r->path) {
        json_t *inst = json_string(r->path);
        if (inst)
            json_object_set_new(j, "instance", inst);
    }
    http_respond_json_type(r, status, "application/problem+json", j);
}

void http_req_add_header(http_req_t *r, const char *name, const char *value)
{
    hd_buf_put(&r->extra, name, strlen(name));
    hd_buf_put(&r->extra, ": ", 2);
    hd_buf_put(&r->extra, value, strlen(value));
    hd_buf_put(&r->extra, "\r\n", 2);
}

const char *http__client_id(http_req_t *r)
{
    const char *id = http_req_header(r, "herald-client-id");
    if (!id || !*id)
        id = http_query(r, "client_id");
    if (!id || !*id)
        id = http_req_header(r, "user-agent");
    return id && *id ? id : NULL;
}

const char *http_req_header(const http_req_t *r, const char *name)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

char *http_pct_decode(hd_arena_t *a, const char *s, size_t n, bool plus_space)
{
    char *out = hd_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return NULL;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            ch = (char)(hi << 4 | lo);
            if (ch == '\0')
                return NULL;
            i += 2;
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    return out;
}

const char *http_query(http_req_t *r, const char *name)
{
    const char *q = r->query;
    if (!q)
        return NULL;
    size_t nlen = strlen(name);
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq ? (size_t)(eq - q) : len;
        char *key = http_pct_decode(&r->arena, q, klen, true);
        if (key && strlen(key) == nlen && memcmp(key, name, nlen) == 0) {
            if (!eq)
                return "";
            return http_pct_decode(&r->arena, eq + 1, len - klen - 1, true);
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    return NULL;
}

int http_query_int(http_req_t *r, const char *name, int64_t def, int64_t min, int64_t max,
                   int64_t *out)
{
    const char *v = http_query(r, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        http_problem(r, 400, "query parameter '%s' must be an integer in [%lld, %lld]", name,
                     (long long)min, (long long)max);
        return HD_EINVAL;
    }
    *out = x;
    return 0;
}

const char *http_req_media_type(http_req_t *r)
{
    const char *ct = http_req_header(r, "content-type");
    if (!ct)
        return "";
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    char *m = hd_arena_strndup(&r->arena, ct, n);
    for (char *p = m; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return m;
}

static bool media_is_json(const char *m)
{
    size_t n = strlen(m);
    return n == 0 || strcmp(m, "application/json") == 0 ||
           (n > 5 && strcmp(m + n - 5, "+json") == 0);
}

json_t *http_req_json(http_req_t *r)
{
    const char *m = http_req_media_type(r);
    if (!media_is_json(m)) {
        http_problem(r, 415, "expected a JSON body (application/json), got '%s'", m);
        return NULL;
    }
    if (r->body.len == 0) {
        http_problem(r, 400, "expected a JSON body, got an empty one");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb((const char *)r->body.p, r->body.len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        http_problem(r, 400, "malformed JSON at line %d, column %d: %s", err.line, err.column,
                     err.text);
        return NULL;
    }
    return j;
}
