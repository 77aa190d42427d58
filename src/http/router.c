/* Routing: the table of every route, matched segment by segment. "{name}" matches one non-empty
 * segment (percent-decoded into r->params), a final "*" matches the rest of the path (also
 * passed as a param). A path that matches under another method answers 405 with Allow. */
#include "http/http_int.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

typedef struct route {
    int method;
    const char *pattern;
    void (*fn)(http_req_t *r);
} route_t;

static const route_t routes[] = {
    {HTTP_GET, "/metrics", http__metrics},
    {HTTP_GET, "/health", http__health},
    {HTTP_GET, "/topics", http__topics_list},
    {HTTP_POST, "/topics", http__topics_create},
    {HTTP_GET, "/topics/{topic}", http__topic_get},
    {HTTP_DELETE, "/topics/{topic}", http__topic_delete},
    {HTTP_POST, "/topics/{topic}/records", http__records_produce},
    {HTTP_GET, "/topics/{topic}/records", http__records_fetch},
    {HTTP_POST, "/topics/{topic}/events", http__events_post},
    {HTTP_GET, "/topics/{topic}/events", http__events_get},
    {HTTP_GET, "/topics/{topic}/ws", http__ws_start},
    {HTTP_GET, "/subscriptions", http__subs_list},
    {HTTP_POST, "/subscriptions", http__subs_create},
    {HTTP_GET, "/subscriptions/{name}", http__sub_get},
    {HTTP_DELETE, "/subscriptions/{name}", http__sub_delete},
    {HTTP_POST, "/subscriptions/{name}/receive", http__sub_receive},
    {HTTP_POST, "/subscriptions/{name}/ack", http__sub_ack},
    {HTTP_POST, "/subscriptions/{name}/nack", http__sub_nack},
    {HTTP_POST, "/subscriptions/{name}/extend", http__sub_extend},
    {HTTP_POST, "/subscriptions/{name}/redrive", http__sub_redrive},
    {HTTP_POST, "/subscriptions/{name}/purge", http__sub_purge},
    {HTTP_GET, "/subscriptions/{name}/ws", http__sub_ws_start},
    {HTTP_GET, "/", http__index},
    {HTTP_GET, "/openapi.json", http__openapi},
    {HTTP_GET, "/examples/*", http__static},
    /* the event catalog and the console (rest_console.c, assets.c) */
    {HTTP_GET, "/catalog", http__catalog},
    {HTTP_GET, "/health/architecture", http__architecture},
    {HTTP_GET, "/asyncapi.json", http__asyncapi},
    {HTTP_GET, "/console/api/overview", http__console_overview},
    {HTTP_GET, "/console/api/history", http__console_history},
    {HTTP_GET, "/console/*", http__console_static},
    /* the schema registry (rest_registry.c) */
    {HTTP_GET, "/schemas/types", http__sr_types},
    {HTTP_GET, "/schemas/ids/{id}", http__sr_schema_by_id},
    {HTTP_GET, "/schemas/ids/{id}/schema", http__sr_schema_text_by_id},
    {HTTP_GET, "/schemas/ids/{id}/versions", http__sr_schema_versions},
    {HTTP_GET, "/schemas/ids/{id}/subjects", http__sr_schema_subjects},
    {HTTP_GET, "/subjects", http__sr_subjects},
    {HTTP_POST, "/subjects/{subject}", http__sr_lookup},
    {HTTP_DELETE, "/subjects/{subject}", http__sr_subject_delete},
    {HTTP_GET, "/subjects/{subject}/versions", http__sr_versions},
    {HTTP_POST, "/subjects/{subject}/versions", http__sr_register},
    {HTTP_GET, "/subjects/{subject}/versions/{version}", http__sr_version_get},
    {HTTP_DELETE, "/subjects/{subject}/versions/{version}", http__sr_version_delete},
    {HTTP_GET, "/subjects/{subject}/versions/{version}/schema", http__sr_version_schema},
    {HTTP_POST, "/compatibility/subjects/{subject}/versions", http__sr_compat_all},
    {HTTP_POST, "/compatibility/subjects/{subject}/versions/{version}", http__sr_compat_version},
    {HTTP_GET, "/config", http__sr_config_get},
    {HTTP_PUT, "/config", http__sr_config_put},
    {HTTP_DELETE, "/config", http__sr_config_delete},
    {HTTP_GET, "/config/{subject}", http__sr_subject_config_get},
    {HTTP_PUT, "/config/{subject}", http__sr_subject_config_put},
    {HTTP_DELETE, "/config/{subject}", http__sr_subject_config_delete},
    {HTTP_GET, "/mode", http__sr_mode},
};

/* Matches path against pattern; fills params. Returns true on a match. */
static bool match(http_req_t *r, const char *pattern, const char *path)
{
    const char *pp = pattern, *sp = path;
    int np = 0;
    const char *params[HTTP_MAX_PARAMS];
    for (;;) {
        if (*pp == '\0' || *sp == '\0') {
            /* A trailing slash on the path is tolerated. */
            if (*pp == '\0' && (*sp == '\0' || (sp[0] == '/' && sp[1] == '\0')))
                break;
            return false;
        }
        if (*pp != '/' || *sp != '/')
            return false;
        pp++;
        sp++;
        size_t plen = strcspn(pp, "/");
        size_t slen = strcspn(sp, "/");
        if (plen == 1 && pp[0] == '*') {
            if (np >= HTTP_MAX_PARAMS)
                return false;
            const char *rest = http_pct_decode(&r->arena, sp, strlen(sp), false);
            if (!rest)
                return false;
            params[np++] = rest;
            sp += strlen(sp);
            pp += 1;
            break;
        }
        if (plen >= 2 && pp[0] == '{' && pp[plen - 1] == '}') {
            if (slen == 0 || np >= HTTP_MAX_PARAMS)
                return false;
            const char *v = http_pct_decode(&r->arena, sp, slen, false);
            if (!v)
                return false;
            params[np++] = v;
        } else if (plen != slen || memcmp(pp, sp, plen) != 0) {
            return false;
        }
        pp += plen;
        sp += slen;
    }
    memcpy(r->params, params, sizeof params[0] * (size_t)np);
    r->nparams = np;
    return true;
}

/* Whether every %-escape of the query is two hex digits and decodes to a non-NUL byte. */
static bool query_valid(const char *q)
{
    for (; q && *q; q++) {
        if (*q != '%')
            continue;
        if (!isxdigit((unsigned char)q[1]) || !isxdigit((unsigned char)q[2]) ||
            (q[1] == '0' && q[2] == '0'))
            return false;
        q += 2;
    }
    return true;
}

void http__route(http_req_t *r)
{
    if (!query_valid(r->query)) {
        http_problem(r, 400, "malformed percent-escape in the query string");
        return;
    }
    char allow[128] = "";
    bool path_known = false;
    for (size_t i = 0; i < HD_ARRAY_LEN(routes); i++) {
        const route_t *rt = &routes[i];
        if (!match(r, rt->pattern, r->path))
            continue;
        if (rt->method == r->method) {
            r->route = rt->pattern;
            rt->fn(r);
            return;
        }
        path_known = true;
        const char *m = http_method_str((enum http_method)rt->method);
        if (!strstr(allow, m)) {
            size_t l = strlen(allow);
            snprintf(allow + l, sizeof allow - l, "%s%s", l ? ", " : "", m);
            if (rt->method == HTTP_GET) {
                l = strlen(allow);
                snprintf(allow + l, sizeof allow - l, ", HEAD");
            }
        }
    }
    if (path_known) {
        http_req_add_header(r, "Allow", allow);
        http_problem(r, 405, "%s is not allowed on %s (allowed: %s)",
                     r->head ? "HEAD" : http_method_str((enum http_method)r->method), r->path,
                     allow);
        return;
    }
    http_problem(r, 404, "no resource at %s", r->path);
}
