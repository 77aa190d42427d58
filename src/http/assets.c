/* Static files built into the binary: GET /examples/... (example pages), GET /console/... (the
 * web console), GET /openapi.json (the API's description) and GET / (the console's page for a
 * browser, a JSON index of links for anyone else).
 *
 * The files themselves live in examples/ and src/http/assets/ and are compiled in by
 * cmake/embed_assets.cmake as http__assets[], so the binary serves them without touching the
 * disk. Each answer carries a strong ETag (a hash of the bytes, computed at build time) and
 * Cache-Control: no-cache, so a browser revalidates every time and gets 304 while the binary is
 * unchanged. A folder URL ending in '/' serves its index.html; the folder without the slash is
 * redirected to it so relative links in the page resolve inside the folder. */
#include "http/http_int.h"

#include <stdio.h>
#include <string.h>

#define EXAMPLES_PREFIX "/examples/"
#define CONSOLE_PREFIX "/console/"
#define INDEX_FILE "index.html"
/* Longest asset path looked up; longer request paths cannot name an asset. */
#define MAX_ASSET_PATH 1024

const http_asset_t *http__asset_find(const char *path)
{
    size_t lo = 0, hi = http__nassets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, http__assets[mid].path);
        if (c == 0)
            return &http__assets[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Whether an If-None-Match value (RFC 9110 13.1.2: "*" or a list of entity tags, compared
 * weakly) names etag. A malformed list matches nothing, so the full answer is sent. */
static bool etag_listed(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            return false;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false;
        const char *end = strchr(p + 1, '"');
        if (!end)
            return false;
        size_t n = (size_t)(end - p) + 1;
        if (n == elen && memcmp(p, etag, n) == 0)
            return true;
        p = end + 1;
    }
}

void http__asset_serve(http_req_t *r, const http_asset_t *a)
{
    http_req_add_header(r, "ETag", a->etag);
    http_req_add_header(r, "Cache-Control", "no-cache");
    http_req_add_header(r, "X-Content-Type-Options", "nosniff");
    const char *inm = http_req_header(r, "if-none-match");
    if (inm && etag_listed(inm, a->etag)) {
        http_respond(r, 304, NULL, NULL, 0);
        return;
    }
    http_respond(r, 200, a->content_type, a->bytes, a->len);
}

void http__openapi(http_req_t *r)
{
    const http_asset_t *a = http__asset_find("/openapi.json");
    if (!a) {
        http_problem(r, 404, "this build has no OpenAPI document");
        return;
    }
    http__asset_serve(r, a);
}

/* Whether the relative path has a "." or ".." segment. Assets are looked up in a table, so such
 * a path could not escape anyway; it is refused so no client comes to rely on it. */
static bool has_dot_segment(const char *rel)
{
    const char *s = rel;
    for (;;) {
        size_t n = strcspn(s, "/");
        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return true;
        if (s[n] == '\0')
            return false;
        s += n + 1;
    }
}

/* Serves the asset under prefix named by the route's wildcard. */
static void serve_under(http_req_t *r, const char *prefix, const char *what)
{
    const char *rel = r->nparams > 0 ? r->params[0] : "";
    if (has_dot_segment(rel) || strchr(rel, '\\')) {
        http_problem(r, 400, "the path must not contain '.' or '..' segments or backslashes");
        return;
    }
    size_t rlen = strlen(rel);
    char path[MAX_ASSET_PATH];
    const char *index = (rlen == 0 || rel[rlen - 1] == '/') ? INDEX_FILE : "";
    int n = snprintf(path, sizeof path, "%s%s%s", prefix, rel, index);
    if (n < 0 || (size_t)n >= sizeof path) {
        http_problem(r, 404, "no %s at %s", what, r->path);
        return;
    }
    const http_asset_t *a = http__asset_find(path);
    if (a) {
        http__asset_serve(r, a);
        return;
    }
    /* A folder named without its trailing slash: send the browser to the folder. */
    if (*index == '\0') {
        n = snprintf(path, sizeof path, "%s%s/%s", prefix, rel, INDEX_FILE);
        if (n > 0 && (size_t)n < sizeof path && http__asset_find(path)) {
            /* The asset exists, so rel is made of safe characters only (see embed_assets). */
            path[n - strlen(INDEX_FILE)] = '\0';
            http_req_add_header(r, "Location", path);
            http_respond(r, 302, NULL, NULL, 0);
            return;
        }
    }
    http_problem(r, 404, "no %s at %s", what, r->path);
}

void http__static(http_req_t *r) { serve_under(r, EXAMPLES_PREFIX, "example file"); }

void http__console_static(http_req_t *r) { serve_under(r, CONSOLE_PREFIX, "console file"); }

/* Whether the client asks for HTML: its Accept header names text/html (as browsers' does for a
 * page). Any other Accept (curl's and scripts' wildcard, application/json) gets the JSON index. */
static bool wants_html(http_req_t *r)
{
    const char *accept = http_req_header(r, "accept");
    return accept && strstr(accept, "text/html") != NULL;
}

void http__index(http_req_t *r)
{
    http_req_add_header(r, "Vary", "Accept");
    if (wants_html(r)) {
        const http_asset_t *a = http__asset_find(CONSOLE_PREFIX INDEX_FILE);
        if (a) {
            http__asset_serve(r, a);
            return;
        }
    }
    json_t *links = json_object();
    json_object_set_new(links, "topics", json_string("/topics"));
    json_object_set_new(links, "openapi", json_string("/openapi.json"));
    json_object_set_new(links, "metrics", json_string("/metrics"));
    json_object_set_new(links, "console", json_string("/console/"));
    json_object_set_new(links, "catalog", json_string("/catalog"));
    json_object_set_new(links, "asyncapi", json_string("/asyncapi.json"));
    /* Every example folder with an index page, by folder name. */
    json_t *examples = json_object();
    size_t plen = strlen(EXAMPLES_PREFIX);
    for (size_t i = 0; i < http__nassets; i++) {
        const char *p = http__assets[i].path;
        if (strncmp(p, EXAMPLES_PREFIX, plen) != 0)
            continue;
        const char *name = p + plen;
        const char *slash = strchr(name, '/');
        if (!slash || strcmp(slash + 1, INDEX_FILE) != 0)
            continue;
        char key[256], url[MAX_ASSET_PATH];
        int klen = (int)(slash - name);
        if (klen <= 0 || (size_t)klen >= sizeof key)
            continue;
        snprintf(key, sizeof key, "%.*s", klen, name);
        snprintf(url, sizeof url, "%s%s/", EXAMPLES_PREFIX, key);
        json_object_set_new(examples, key, json_string(url));
    }
    json_object_set_new(links, "examples", examples);
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string("herald"));
    json_object_set_new(j, "links", links);
    http_respond_json(r, 200, j);
}
