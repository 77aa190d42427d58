/* CloudEvents v1.0 over HTTP: POST /topics/{topic}/events in the three HTTP content modes, GET
 * /topics/{topic}/events as a long-polled JSON batch, and the conversion of stored records to
 * and from CloudEvents. Loop thread only.
 *
 * Storage follows the CloudEvents Kafka protocol binding, binary content mode, whatever mode
 * the event arrived in over HTTP, so a Kafka consumer sees an ordinary CloudEvent:
 *
 *   record header "ce_<attribute>"  every context attribute and extension but datacontenttype,
 *                                   in its canonical string form (UTF-8): ce_specversion, ce_id,
 *                                   ce_source and ce_type first, then the others in the order
 *                                   they came; integers in decimal, booleans "true" / "false"
 *   record header "content-type"    datacontenttype, when the event has one. A structured
 *                                   event with `data` and no datacontenttype gets
 *                                   "application/json", which the JSON format implies and asks
 *                                   to make explicit when an event changes binding.
 *   record value                    the data bytes; null when the event has no data
 *                                     JSON format `data`, JSON content type: its JSON text
 *                                     JSON format `data`, other content type: the string's
 *                                       characters (a non-string is refused)
 *                                     JSON format `data_base64`: the decoded bytes
 *                                     HTTP binary mode: the body (an empty body is no data)
 *   record key                      the `partitionkey` extension (kept as ce_partitionkey too,
 *                                   as the binding's key mapper must not change the event);
 *                                   null when absent, so keyless events are spread
 *   record timestamp                the time of the append (CreateTime), not the event's `time`
 *
 * Reading a record back as a CloudEvent (http__record_ce_json) accepts both Kafka modes: a
 * content-type header of application/cloudevents+json means structured mode (the value is the
 * JSON event, passed through); otherwise a record with the four required ce_* headers is a
 * binary-mode event. Its data becomes `data` as a JSON value when the content type is JSON (or
 * absent) and the value parses, `data` as a string when the content type is textual and the
 * value is UTF-8, and `data_base64` otherwise. Extensions read from headers are strings, as the
 * header carries no type. A binary-mode event with no ce_traceparent but a valid traceparent
 * record header (and tracestate) gets them as its distributed-tracing extension.
 *
 * Trace context on POST: ce-traceparent / ce-tracestate (binary mode) and the traceparent /
 * tracestate members (structured mode) are the event's distributed-tracing extension and are
 * stored, unchanged, as ce_traceparent / ce_tracestate like any extension. A W3C traceparent
 * header on the request itself is added to each record as the header traceparent
 * (http/produce.c), which leaves the event's own attributes alone.
 *
 * HTTP binary mode: ce-<name> headers are the attributes (names lowercased; values unquoted
 * when double-quoted, then percent-decoded once and checked to be UTF-8, as the HTTP binding
 * says), Content-Type is datacontenttype, the body is the data. A request that is not
 * structured or batched and carries no ce- header at all is answered 415: its body is no
 * CloudEvent in any mode. One with some ce- headers but no ce-specversion is answered 400
 * naming the attribute, since the client evidently meant binary mode. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"
#include "util/utf8.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CE_MAX_ATTRS 64           /* attributes and extensions of one event */
#define CE_MAX_BATCH 10000        /* events of one batched request */
#define CE_MAX_NAME 64            /* attribute name length (the spec suggests at most 20) */
#define CE_READ_CHUNK (1u << 20)  /* bytes per broker_partition_read() */
#define CE_READ_BUDGET (4u << 20) /* stored bytes examined by one GET */
#define CE_MAX_INFLATED (64u << 20)

#define CE_STRUCTURED "application/cloudevents+json"
#define CE_BATCH "application/cloudevents-batch+json"

/* ---- attribute checks ---- */

static bool name_valid(const char *s, size_t n)
{
    if (n == 0 || n > CE_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* The type system forbids the control characters U+0000-U+001F and U+007F-U+009F in strings;
 * s must be valid UTF-8 (U+0080-U+009F is C2 80 .. C2 9F). */
static bool chars_allowed(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
        if (ch == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), T and Z in either case,
 * second 60 allowed for leap seconds. */
bool http__ce_time_valid(const char *s, size_t n)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return false;
    int year = digits(s, 4), mon = digits(s + 5, 2), day = digits(s + 8, 2);
    int hour = digits(s + 11, 2), min = digits(s + 14, 2), sec = digits(s + 17, 2);
    if (year < 0 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour < 0 ||
        hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i + 6 != n || (s[i] != '+' && s[i] != '-') || s[i + 3] != ':')
        return false;
    int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
    return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
}

/* A media type (parameters, case and surrounding blanks ignored) equals `want`. */
static bool media_is(const char *ct, size_t n, const char *want)
{
    while (n > 0 && (*ct == ' ' || *ct == '\t'))
        ct++, n--;
    size_t m = 0;
    while (m < n && ct[m] != ';')
        m++;
    while (m > 0 && (ct[m - 1] == ' ' || ct[m - 1] == '\t'))
        m--;
    return m == strlen(want) && strncasecmp(ct, want, m) == 0;
}

/* The media type's subtype is json or ends in +json (the JSON format's test). */
static bool media_json(const char *ct, size_t n)
{
    size_t m = 0;
    while (m < n && ct[m] != ';')
        m++;
    while (m > 0 && (ct[m - 1] == ' ' || ct[m - 1] == '\t'))
        m--;
    const char *slash = memchr(ct, '/', m);
    if (!slash)
        return false;
    size_t sub = m - (size_t)(slash + 1 - ct);
    const char *end = ct + m;
    return (sub == 4 && strncasecmp(slash + 1, "json", 4) == 0) ||
           (sub > 5 && strncasecmp(end - 5, "+json", 5) == 0);
}

/* Text that is safe to show as a JSON string: text/x, x/xml, x/x+xml. */
static bool media_text(const char *ct, size_t n)
{
    size_t m = 0;
    while (m < n && ct[m] != ';')
        m++;
    while (m > 0 && (ct[m - 1] == ' ' || ct[m - 1] == '\t'))
        m--;
    const char *slash = memchr(ct, '/', m);
    if (!slash)
        return false;
    size_t sub = m - (size_t)(slash + 1 - ct);
    const char *end = ct + m;
    return (slash - ct == 4 && strncasecmp(ct, "text", 4) == 0) ||
           (sub == 3 && strncasecmp(slash + 1, "xml", 3) == 0) ||
           (sub > 4 && strncasecmp(end - 4, "+xml", 4) == 0);
}

/* ---- an event being converted to a record ---- */

typedef struct ce_attr {
    const char *name;
    const char *value;
    size_t len;
} ce_attr_t;

typedef struct ce_event {
    ce_attr_t attrs[CE_MAX_ATTRS];
    int n;
    const char *content_type; /* datacontenttype, or NULL */
    hd_slice_t data;
    bool has_data;
} ce_event_t;

/* Adds one attribute (name and value borrowed; they must outlive the record). */
static int ev_add(ce_event_t *ev, const char *name, const char *value, size_t len, const char **why,
                  const char **attr)
{
    *attr = name;
    if (!name_valid(name, strlen(name))) {
        *why = "invalid name: attribute names are 1 to 64 lowercase letters a-z or digits";
        return HD_EINVAL;
    }
    if (strcmp(name, "data") == 0) {
        *why = "reserved for the event data, not an attribute name";
        return HD_EINVAL;
    }
    if (!hd_utf8_valid(value, len) || !chars_allowed(value, len)) {
        *why = "value is not valid UTF-8 or holds control characters";
        return HD_EINVAL;
    }
    for (int i = 0; i < ev->n; i++) {
        if (strcmp(ev->attrs[i].name, name) == 0) {
            *why = "given twice";
            return HD_EINVAL;
        }
    }
    if (ev->n >= CE_MAX_ATTRS) {
        *why = "one too many: an event has at most 64 attributes";
        return HD_EINVAL;
    }
    ev->attrs[ev->n++] = (ce_attr_t){name, value, len};
    *attr = NULL;
    return 0;
}

static const ce_attr_t *ev_get(const ce_event_t *ev, const char *name)
{
    for (int i = 0; i < ev->n; i++)
        if (strcmp(ev->attrs[i].name, name) == 0)
            return &ev->attrs[i];
    return NULL;
}

static const char *const required[] = {"specversion", "id", "source", "type"};

/* The checks of the core specification on attribute values. */
static int ev_check(const ce_event_t *ev, const char **why, const char **attr)
{
    for (size_t i = 0; i < HD_ARRAY_LEN(required); i++) {
        const ce_attr_t *a = ev_get(ev, required[i]);
        *attr = required[i];
        if (!a) {
            *why = "required but missing";
            return HD_EINVAL;
        }
        if (a->len == 0) {
            *why = "must not be empty";
            return HD_EINVAL;
        }
    }
    const ce_attr_t *sv = ev_get(ev, "specversion");
    if (sv->len != 3 || memcmp(sv->value, "1.0", 3) != 0) {
        *attr = "specversion";
        *why = "must be \"1.0\" (only CloudEvents 1.0 is supported)";
        return HD_EINVAL;
    }
    const ce_attr_t *a = ev_get(ev, "time");
    if (a && !http__ce_time_valid(a->value, a->len)) {
        *attr = "time";
        *why = "not an RFC 3339 timestamp";
        return HD_EINVAL;
    }
    static const char *const non_empty[] = {"subject", "dataschema"};
    for (size_t i = 0; i < HD_ARRAY_LEN(non_empty); i++) {
        a = ev_get(ev, non_empty[i]);
        if (a && a->len == 0) {
            *attr = non_empty[i];
            *why = "must not be empty";
            return HD_EINVAL;
        }
    }
    if (ev->content_type && ev->content_type[0] == '\0') {
        *attr = "datacontenttype";
        *why = "must not be empty";
        return HD_EINVAL;
    }
    *attr = NULL;
    return 0;
}

static bool is_required(const char *name)
{
    for (size_t i = 0; i < HD_ARRAY_LEN(required); i++)
        if (strcmp(name, required[i]) == 0)
            return true;
    return false;
}

/* Kafka's header for the attribute: "ce_" + name, in the arena. */
static int put_attr(hd_arena_t *a, const ce_attr_t *at, broker_header_t *h)
{
    size_t nl = strlen(at->name);
    char *name = hd_arena_alloc(a, nl + 4);
    if (!name)
        return HD_ETOOBIG;
    memcpy(name, "ce_", 3);
    memcpy(name + 3, at->name, nl + 1);
    *h = (broker_header_t){hd_slice(name, nl + 3), hd_slice(at->value, at->len), false};
    return 0;
}

/* Builds the record of a checked event (module comment). Memory from the arena. */
static int ev_to_record(hd_arena_t *a, const ce_event_t *ev, int64_t ts, broker_record_in_t *out)
{
    int nh = ev->n + (ev->content_type ? 1 : 0);
    broker_header_t *h = hd_arena_alloc(a, sizeof *h * (size_t)nh);
    if (!h)
        return HD_ETOOBIG;
    int k = 0;
    /* The required attributes first, in a fixed order, so raw headers read well. */
    for (size_t i = 0; i < HD_ARRAY_LEN(required); i++)
        if (put_attr(a, ev_get(ev, required[i]), &h[k++]) < 0)
            return HD_ETOOBIG;
    for (int j = 0; j < ev->n; j++)
        if (!is_required(ev->attrs[j].name) && put_attr(a, &ev->attrs[j], &h[k++]) < 0)
            return HD_ETOOBIG;
    if (ev->content_type)
        h[k++] =
            (broker_header_t){hd_slice_str("content-type"), hd_slice_str(ev->content_type), false};
    memset(out, 0, sizeof *out);
    out->headers = h;
    out->nheaders = k;
    const ce_attr_t *pk = ev_get(ev, "partitionkey");
    out->key_null = pk == NULL;
    if (pk)
        out->key = hd_slice(pk->value, pk->len);
    out->value_null = !ev->has_data;
    out->value = ev->data;
    out->timestamp = ts;
    return 0;
}

/* ---- JSON format event -> record ---- */

static const char *arena_copy(hd_arena_t *a, const void *p, size_t n)
{
    char *c = hd_arena_alloc(a, n + 1);
    if (c) {
        memcpy(c, p, n);
        c[n] = '\0';
    }
    return c;
}

/* Decodes one event of the JSON format into a record to produce (module comment). Returns 0,
 * HD_EINVAL with a static reason in *why and the attribute concerned in *attr (or NULL; it
 * points into `j`), or HD_ETOOBIG when the arena is exhausted. */
int http__ce_from_json(hd_arena_t *a, json_t *j, int64_t ts, broker_record_in_t *out,
                       const char **why, const char **attr)
{
    ce_event_t ev;
    ev.n = 0;
    ev.content_type = NULL;
    ev.has_data = false;
    ev.data = hd_slice(NULL, 0);
    *attr = NULL;
    if (!json_is_object(j)) {
        *why = "an event must be a JSON object";
        return HD_EINVAL;
    }
    json_t *data = NULL, *data_b64 = NULL;
    const char *k;
    json_t *v;
    char num[32];
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "data") == 0) {
            data = v;
            continue;
        }
        if (strcmp(k, "data_base64") == 0) {
            if (!json_is_null(v))
                data_b64 = v;
            continue;
        }
        if (json_is_null(v))
            continue; /* null means unset */
        const char *val;
        size_t len;
        bool core = strcmp(k, "specversion") == 0 || strcmp(k, "id") == 0 ||
                    strcmp(k, "source") == 0 || strcmp(k, "type") == 0 ||
                    strcmp(k, "subject") == 0 || strcmp(k, "time") == 0 ||
                    strcmp(k, "dataschema") == 0 || strcmp(k, "datacontenttype") == 0;
        if (json_is_string(v)) {
            val = json_string_value(v);
            len = json_string_length(v);
        } else if (core) {
            *attr = k;
            *why = "must be a JSON string";
            return HD_EINVAL;
        } else if (json_is_integer(v)) {
            json_int_t x = json_integer_value(v);
            if (x < INT32_MIN || x > INT32_MAX) {
                *attr = k;
                *why = "integer outside the 32-bit signed range";
                return HD_EINVAL;
            }
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, x);
            val = arena_copy(a, num, strlen(num));
            if (!val)
                return HD_ETOOBIG;
            len = strlen(num);
        } else if (json_is_boolean(v)) {
            val = json_is_true(v) ? "true" : "false";
            len = strlen(val);
        } else {
            *attr = k;
            *why = "must be a string, an integer or a boolean";
            return HD_EINVAL;
        }
        if (strcmp(k, "datacontenttype") == 0) {
            if (!hd_utf8_valid(val, len) || !chars_allowed(val, len) || strlen(val) != len) {
                *attr = k;
                *why = "not valid text (control characters)";
                return HD_EINVAL;
            }
            ev.content_type = val;
            continue;
        }
        int rc = ev_add(&ev, k, val, len, why, attr);
        if (rc < 0)
            return rc;
    }
    int rc = ev_check(&ev, why, attr);
    if (rc < 0)
        return rc;
    if (data && data_b64) {
        *why = "an event has either data or data_base64, not both";
        return HD_EINVAL;
    }
    if (data_b64) {
        if (!json_is_string(data_b64)) {
            *attr = "data_base64";
            *why = "must be a base64 string";
            return HD_EINVAL;
        }
        hd_buf_t b;
        hd_buf_init(&b);
        rc = hd_base64_decode(hd_slice(json_string_value(data_b64), json_string_length(data_b64)),
                              &b);
        const char *bytes = rc < 0 ? NULL : arena_copy(a, b.p ? (const char *)b.p : "", b.len);
        size_t blen = b.len;
        hd_buf_deinit(&b);
        if (rc < 0) {
            *attr = "data_base64";
            *why = "not valid base64 (standard alphabet, with padding)";
            return HD_EINVAL;
        }
        if (!bytes)
            return HD_ETOOBIG;
        ev.data = hd_slice(bytes, blen);
        ev.has_data = true;
    } else if (data) {
        if (!ev.content_type)
            ev.content_type = "application/json";
        if (media_json(ev.content_type, strlen(ev.content_type))) {
            hd_buf_t b;
            hd_buf_init(&b);
            rc = http__json_dump(data, &b);
            const char *text = rc < 0 ? NULL : arena_copy(a, b.p, b.len);
            size_t tlen = b.len;
            hd_buf_deinit(&b);
            if (rc < 0) {
                *attr = "data";
                *why = "cannot be written as JSON text";
                return HD_EINVAL;
            }
            if (!text)
                return HD_ETOOBIG;
            ev.data = hd_slice(text, tlen);
        } else if (json_is_string(data)) {
            ev.data = hd_slice(json_string_value(data), json_string_length(data));
        } else {
            *attr = "data";
            *why = "must be a string when datacontenttype is not JSON";
            return HD_EINVAL;
        }
        ev.has_data = true;
    }
    return ev_to_record(a, &ev, ts, out);
}

/* ---- HTTP binary mode -> record ---- */

/* A ce- header value as the HTTP binding decodes it: a double-quoted string is unquoted
 * (backslash escapes), then one round of percent-decoding; the result must be UTF-8. NULL when
 * malformed. */
char *http__ce_header_value(hd_arena_t *a, const char *v)
{
    size_t n = strlen(v);
    const char *s = v;
    if (n > 0 && v[0] == '"') {
        char *u = hd_arena_alloc(a, n);
        if (!u)
            return NULL;
        size_t o = 0, i = 1;
        for (; i < n && v[i] != '"'; i++) {
            if (v[i] == '\\') {
                if (++i >= n)
                    return NULL;
            }
            u[o++] = v[i];
        }
        if (i != n - 1) /* no closing quote, or text after it */
            return NULL;
        u[o] = '\0';
        s = u;
        n = o;
    }
    char *d = http_pct_decode(a, s, n, false);
    if (!d || !hd_utf8_valid(d, strlen(d)))
        return NULL;
    return d;
}

/* Decodes an HTTP binary-mode event: the ce- headers among hdrs, the Content-Type header and
 * the body. Same results as http__ce_from_json(); *attr may point into the arena. */
int http__ce_from_binary(hd_arena_t *a, const http_header_t *hdrs, int nhdrs, hd_slice_t body,
                         int64_t ts, broker_record_in_t *out, const char **why, const char **attr)
{
    ce_event_t ev;
    ev.n = 0;
    ev.content_type = NULL;
    *attr = NULL;
    for (int i = 0; i < nhdrs; i++) {
        const char *hn = hdrs[i].name;
        if (strcasecmp(hn, "content-type") == 0) {
            const char *ct = hdrs[i].value;
            while (*ct == ' ' || *ct == '\t')
                ct++;
            if (*ct) {
                if (!hd_utf8_valid(ct, strlen(ct)) || !chars_allowed(ct, strlen(ct))) {
                    *attr = "datacontenttype";
                    *why = "Content-Type is not valid text";
                    return HD_EINVAL;
                }
                ev.content_type = ct;
            }
            continue;
        }
        if (strncasecmp(hn, "ce-", 3) != 0)
            continue;
        size_t nl = strlen(hn + 3);
        char *name = hd_arena_alloc(a, nl + 1);
        if (!name)
            return HD_ETOOBIG;
        for (size_t j = 0; j < nl; j++)
            name[j] = (char)tolower((unsigned char)hn[3 + j]);
        name[nl] = '\0';
        if (strcmp(name, "datacontenttype") == 0) {
            *attr = name;
            *why = "binary mode carries it in Content-Type, not in a ce- header";
            return HD_EINVAL;
        }
        char *val = http__ce_header_value(a, hdrs[i].value);
        if (!val) {
            *attr = name;
            *why = "malformed header value (quoting, percent-encoding or UTF-8)";
            return HD_EINVAL;
        }
        int rc = ev_add(&ev, name, val, strlen(val), why, attr);
        if (rc < 0)
            return rc;
    }
    int rc = ev_check(&ev, why, attr);
    if (rc < 0)
        return rc;
    ev.has_data = body.len > 0;
    ev.data = body;
    return ev_to_record(a, &ev, ts, out);
}

/* ---- stored record -> CloudEvent ---- */

/* What the headers of a record say about it. */
typedef struct ce_view {
    hd_slice_t content_type;
    bool has_content_type;
    bool structured; /* content-type is application/cloudevents+json */
    int required;    /* bit i: required[i] present as a UTF-8 ce_ header */
    hd_slice_t type;
} ce_view_t;

static bool is_ce_header(hd_slice_t name, const char **attr, size_t *alen)
{
    if (name.len < 4 || memcmp(name.p, "ce_", 3) != 0)
        return false;
    *attr = (const char *)name.p + 3;
    *alen = name.len - 3;
    return name_valid(*attr, *alen);
}

static int view_record(const broker_record_t *rec, ce_view_t *v)
{
    memset(v, 0, sizeof *v);
    hd_slice_t area = rec->headers;
    for (int32_t i = 0; i < rec->headers_count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            return HD_EMALFORMED;
        if (h.value_null)
            continue;
        if (hd_slice_eq_str(h.name, "content-type")) {
            v->content_type = h.value;
            v->has_content_type = true;
            continue;
        }
        const char *an;
        size_t al;
        if (!is_ce_header(h.name, &an, &al) || !hd_utf8_valid(h.value.p, h.value.len))
            continue;
        for (size_t k = 0; k < HD_ARRAY_LEN(required); k++) {
            if (al == strlen(required[k]) && memcmp(an, required[k], al) == 0) {
                v->required |= 1 << k;
                if (k == 3)
                    v->type = h.value;
            }
        }
    }
    v->structured = v->has_content_type &&
                    media_is((const char *)v->content_type.p, v->content_type.len, CE_STRUCTURED);
    return 0;
}

/* The value of a structured-mode record as a JSON event: an object with the four required
 * attributes as non-empty strings. NULL otherwise. */
static json_t *structured_event(const broker_record_t *rec)
{
    if (rec->value_null)
        return NULL;
    json_t *j =
        json_loadb((const char *)rec->value.p, rec->value.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j))
        goto fail;
    for (size_t k = 0; k < HD_ARRAY_LEN(required); k++) {
        json_t *s = json_object_get(j, required[k]);
        if (!json_is_string(s) || json_string_length(s) == 0)
            goto fail;
    }
    return j;
fail:
    json_decref(j);
    return NULL;
}

bool http__record_ce_type(const broker_record_t *rec, hd_buf_t *scratch, hd_slice_t *type)
{
    ce_view_t v;
    if (view_record(rec, &v) < 0)
        return false;
    if (v.structured) {
        json_t *j = structured_event(rec);
        if (!j)
            return false;
        json_t *t = json_object_get(j, "type");
        hd_buf_reset(scratch);
        hd_buf_put(scratch, json_string_value(t), json_string_length(t));
        *type = hd_buf_slice(scratch);
        json_decref(j);
        return true;
    }
    if (v.required != 0xf)
        return false;
    *type = v.type;
    return true;
}

/* An event without the distributed-tracing extension, stored with the record headers
 * traceparent / tracestate (added from an HTTP request, or by a Kafka producer's tracing), is
 * read with them as its traceparent / tracestate attributes: the extension carries the trace
 * context of the hop that delivered the event, as the extension's spec asks. Invalid values are
 * left out. */
static void trace_from_headers(const broker_record_t *rec, json_t *ev)
{
    hd_slice_t area = rec->headers;
    hd_slice_t tp = {0}, ts = {0};
    for (int32_t i = 0; i < rec->headers_count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            return;
        if (h.value_null)
            continue;
        if (!tp.p && hd_slice_eq_str(h.name, "traceparent") &&
            obs_traceparent_parse((const char *)h.value.p, h.value.len, NULL))
            tp = h.value;
        else if (!ts.p && hd_slice_eq_str(h.name, "tracestate") &&
                 obs_tracestate_valid((const char *)h.value.p, h.value.len))
            ts = h.value;
    }
    if (!tp.p)
        return;
    json_object_set_new(ev, "traceparent", json_stringn((const char *)tp.p, tp.len));
    if (ts.p)
        json_object_set_new(ev, "tracestate", json_stringn((const char *)ts.p, ts.len));
}

json_t *http__record_ce_json(const broker_record_t *rec)
{
    ce_view_t v;
    if (view_record(rec, &v) < 0)
        return NULL;
    if (v.structured)
        return structured_event(rec);
    if (v.required != 0xf)
        return NULL;
    json_t *ev = json_object();
    /* Required attributes first, as a reader expects; json_object_set keeps the first place. */
    for (size_t k = 0; k < HD_ARRAY_LEN(required); k++)
        json_object_set_new(ev, required[k], json_null());
    hd_slice_t area = rec->headers;
    char name[CE_MAX_NAME + 1];
    for (int32_t i = 0; i < rec->headers_count; i++) {
        broker_header_t h;
        if (broker_header_next(&area, &h) < 0)
            goto fail;
        const char *an;
        size_t al;
        if (h.value_null || !is_ce_header(h.name, &an, &al))
            continue;
        memcpy(name, an, al);
        name[al] = '\0';
        if (strcmp(name, "data") == 0)
            continue;
        /* jansson checks UTF-8; a value that is not is left out. A later duplicate wins. */
        json_t *s = json_stringn((const char *)h.value.p, h.value.len);
        if (s)
            json_object_set_new(ev, name, s);
    }
    if (!json_object_get(ev, "traceparent"))
        trace_from_headers(rec, ev);
    const char *ct = NULL;
    size_t ctl = 0;
    if (v.has_content_type) {
        json_t *s = json_stringn((const char *)v.content_type.p, v.content_type.len);
        if (s) {
            json_object_set_new(ev, "datacontenttype", s);
            ct = json_string_value(s);
            ctl = json_string_length(s);
        }
    }
    if (!rec->value_null) {
        json_t *data = NULL;
        if (!ct || media_json(ct, ctl))
            data = json_loadb((const char *)rec->value.p, rec->value.len, JSON_DECODE_ANY, NULL);
        if (!data && ct && media_text(ct, ctl))
            data = json_stringn((const char *)rec->value.p, rec->value.len);
        if (data) {
            json_object_set_new(ev, "data", data);
        } else {
            hd_buf_t b;
            hd_buf_init(&b);
            hd_base64_encode(rec->value, &b);
            json_object_set_new(ev, "data_base64",
                                json_stringn(b.p ? (const char *)b.p : "", b.len));
            hd_buf_deinit(&b);
        }
    }
    return ev;
fail:
    json_decref(ev);
    return NULL;
}

/* ---- POST /topics/{topic}/events ---- */

static void problem_attr(http_req_t *r, const char *where, const char *why, const char *attr)
{
    if (attr)
        http_problem(r, 400, "%sattribute '%s': %s", where, attr, why);
    else
        http_problem(r, 400, "%s%s", where, why);
}

void http__events_post(http_req_t *r)
{
    broker_topic_t *t = broker_topic_find(r->broker, r->params[0]);
    if (!t) {
        http_problem(r, 404, "topic '%s' does not exist", r->params[0]);
        return;
    }
    const char *m = http_req_media_type(r);
    int64_t now = hd_wall_ms();
    const char *why = NULL, *attr = NULL;
    int rc = 0;
    if (strcmp(m, CE_STRUCTURED) == 0 || strcmp(m, CE_BATCH) == 0) {
        bool batch = strcmp(m, CE_BATCH) == 0;
        json_t *body = http_req_json(r);
        if (!body)
            return;
        size_t n = 1;
        if (batch) {
            if (!json_is_array(body)) {
                json_decref(body);
                http_problem(r, 400, "a batch (%s) must be a JSON array of events", CE_BATCH);
                return;
            }
            n = json_array_size(body);
            if (n > CE_MAX_BATCH) {
                json_decref(body);
                http_problem(r, 413, "a batch holds at most %d events, got %zu", CE_MAX_BATCH, n);
                return;
            }
            if (n == 0) {
                json_decref(body);
                json_t *res = json_object();
                json_object_set_new(res, "offsets", json_array());
                http_respond_json(r, 200, res);
                return;
            }
        }
        http_produce_rec_t *recs = hd_arena_alloc(&r->arena, sizeof *recs * n);
        for (size_t i = 0; recs && i < n; i++) {
            json_t *ev = batch ? json_array_get(body, i) : body;
            rc = http__ce_from_json(&r->arena, ev, now, &recs[i].rec, &why, &attr);
            recs[i].partition = -1;
            if (rc == HD_ETOOBIG)
                break;
            if (rc < 0) {
                char where[48] = "";
                if (batch)
                    snprintf(where, sizeof where, "event %zu: ", i);
                problem_attr(r, where, why, attr);
                json_decref(body);
                return;
            }
        }
        if (!recs || rc == HD_ETOOBIG) {
            json_decref(body);
            http_problem(r, 413, "the events do not fit in the request's memory");
            return;
        }
        /* Record values may point into jansson strings: http__produce keeps a reference. */
        http__produce(r, t, recs, (int)n, body);
        json_decref(body);
        return;
    }
    if (strncmp(m, "application/cloudevents", 23) == 0) {
        http_problem(r, 415, "event format '%s' is not supported (use %s or %s)", m, CE_STRUCTURED,
                     CE_BATCH);
        return;
    }
    bool any_ce = false;
    for (int i = 0; i < r->nheaders; i++)
        any_ce |= strncasecmp(r->headers[i].name, "ce-", 3) == 0;
    if (!any_ce) {
        http_problem(r, 415,
                     "not a CloudEvent: expected Content-Type %s or %s, or binary mode with "
                     "ce-specversion, ce-id, ce-source and ce-type headers (got Content-Type "
                     "'%s')",
                     CE_STRUCTURED, CE_BATCH, m);
        return;
    }
    http_produce_rec_t *rec = hd_arena_alloc(&r->arena, sizeof *rec);
    rc = rec ? http__ce_from_binary(&r->arena, r->headers, r->nheaders, hd_buf_slice(&r->body), now,
                                    &rec->rec, &why, &attr)
             : HD_ETOOBIG;
    if (rc == HD_ETOOBIG) {
        http_problem(r, 413, "the event does not fit in the request's memory");
        return;
    }
    if (rc < 0) {
        problem_attr(r, "binary mode: ", why, attr);
        return;
    }
    rec->partition = -1;
    http__produce(r, t, rec, 1, NULL);
}

/* ---- GET /topics/{topic}/events ---- */

typedef struct ev_get {
    http_req_t *r;
    broker_topic_t *t;
    broker_partition_t *p;
    int64_t offset;
    int64_t limit;
    broker_waiter_t w;
    bool registering; /* inside broker_waiter_add, which may fire at once */
    bool woken;
} ev_get_t;

typedef struct ev_collect {
    json_t *events;
    int64_t next;   /* the offset after the last record examined */
    int64_t limit;  /* events still wanted */
    int64_t max_ts; /* newest timestamp of the events collected, or -1 */
    obs_span_op_t op;
} ev_collect_t;

static int collect_record(void *ctx, const broker_record_t *rec)
{
    ev_collect_t *c = ctx;
    if (rec->offset < c->next)
        return 0; /* before the asked offset, in the same batch */
    if (c->limit == 0)
        return 1;
    json_t *ev = http__record_ce_json(rec);
    if (ev) {
        json_array_append_new(c->events, ev);
        c->limit--;
        if (rec->timestamp > c->max_ts)
            c->max_ts = rec->timestamp;
        obs_trace_ctx_t tc;
        if (obs_otlp_on && obs_record_trace(rec, &tc))
            obs_trace_span(&c->op, &tc, rec->offset, 1);
    }
    c->next = rec->offset + 1;
    return 0;
}

/* Reads from st->offset and answers with the CloudEvents found. */
static void get_answer(ev_get_t *st)
{
    http_req_t *r = st->r;
    ev_collect_t c = {json_array(), st->offset, st->limit, -1, {0}};
    c.op = (obs_span_op_t){.deliver = true,
                           .via = "http",
                           .topic = broker_topic_name(st->t),
                           .partition = broker_partition_index(st->p),
                           .start_ns = r->t0_ns,
                           .base_offset = -1};
    hd_buf_t data, scratch;
    hd_buf_init(&data);
    hd_buf_init(&scratch);
    int64_t mm = broker_topic_config(st->t)->max_message_bytes;
    size_t max_inflated = (size_t)mm * 16 + (1u << 20);
    if (mm < 0 || max_inflated > CE_MAX_INFLATED)
        max_inflated = CE_MAX_INFLATED;
    size_t budget = 0;
    int status = 200;
    while (c.limit > 0 && c.next < broker_partition_hwm(st->p) && budget < CE_READ_BUDGET) {
        hd_buf_reset(&data);
        ssize_t got = broker_partition_read(st->p, c.next, CE_READ_CHUNK, &data);
        if (got == HD_ERANGE && budget == 0) {
            status = 416;
            break;
        }
        if (got <= 0) {
            if (got < 0 && got != HD_ERANGE) {
                say_warn("http %s: events read at %" PRId64 ": %s", http_conn_peer(r->conn), c.next,
                         hd_strerror((int)got));
                status = budget == 0 ? 500 : 200;
            }
            break;
        }
        budget += (size_t)got;
        int64_t before = c.next;
        size_t pos = 0;
        while (pos + BROKER_BATCH_HEADER_LEN <= data.len && c.limit > 0) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(data.p + pos, &h);
            size_t total = 12 + (size_t)h.batch_length;
            if (h.batch_length < 49 || pos + total > data.len)
                break;
            int64_t end = h.base_offset + h.last_offset_delta + 1;
            if (end > c.next && !(h.attributes & BROKER_ATTR_CONTROL)) {
                int rc = broker_batch_for_each(hd_slice(data.p + pos, total), max_inflated,
                                               &scratch, collect_record, &c);
                if (rc < 0)
                    say_warn("http: events skip the batch at offset %" PRId64 ": %s", h.base_offset,
                             hd_strerror(rc));
                if (rc != 1 && end > c.next)
                    c.next = end;
            } else if (end > c.next) {
                c.next = end;
            }
            pos += total;
        }
        if (c.next == before)
            break; /* no progress: do not spin */
    }
    hd_buf_deinit(&data);
    hd_buf_deinit(&scratch);
    if (status != 200) {
        json_decref(c.events);
        if (status == 416)
            http_problem(r, 416, "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]", c.next,
                         broker_partition_start(st->p), broker_partition_hwm(st->p));
        else
            http_problem(r, 500, "reading the partition failed");
        return;
    }
    if (c.max_ts >= 0)
        obs_e2e_observe(OBS_DELIVERY_HTTP_READ, "", c.max_ts);
    char next[24];
    snprintf(next, sizeof next, "%" PRId64, c.next);
    http_req_add_header(r, "Herald-Next-Offset", next);
    http_respond_json_type(r, 200, CE_BATCH, c.events);
}

static void get_wake(broker_waiter_t *w, int err);

/* Answers when records are there (or `final`), else parks on the partition. True when
 * answered. */
static bool get_step(ev_get_t *st, bool final)
{
    for (;;) {
        if (final || st->offset < broker_partition_hwm(st->p)) {
            broker_waiter_cancel(&st->w);
            get_answer(st);
            return true;
        }
        /* The high watermark can move between the check and the registration: then the waiter
         * fires at once, and we look again. */
        st->w.target = st->offset + 1;
        st->w.cb = get_wake;
        st->w.ctx = st;
        st->registering = true;
        st->woken = false;
        broker_waiter_add(st->p, &st->w);
        st->registering = false;
        if (!st->woken)
            return false;
        broker_waiter_cancel(&st->w);
    }
}

static void get_wake(broker_waiter_t *w, int err)
{
    ev_get_t *st = w->ctx;
    if (st->registering) {
        st->woken = true;
        return;
    }
    broker_waiter_cancel(w);
    if (err == HD_ENOTFOUND) {
        http_problem(st->r, 404, "the topic was deleted");
        return;
    }
    if (err < 0) {
        http_problem(st->r, 503, "the broker is stopping");
        return;
    }
    get_step(st, true);
}

static void get_timer(http_req_t *r)
{
    ev_get_t *st = r->state;
    get_step(st, true);
}

static void get_abort(http_req_t *r)
{
    ev_get_t *st = r->state;
    broker_waiter_cancel(&st->w);
}

/* The Accept header lists text/event-stream (case-insensitive). */
static bool accepts_event_stream(const char *accept)
{
    static const char want[] = "text/event-stream";
    size_t n = strlen(accept), w = sizeof want - 1;
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(accept + i, want, w) == 0)
            return true;
    return false;
}

void http__events_get(http_req_t *r)
{
    const char *accept = http_req_header(r, "accept");
    if (accept && accepts_event_stream(accept)) {
        http__sse_start(r);
        return;
    }
    broker_topic_t *t = broker_topic_find(r->broker, r->params[0]);
    if (!t) {
        http_problem(r, 404, "topic '%s' does not exist", r->params[0]);
        return;
    }
    int64_t part, limit, timeout, offset;
    if (http_query_int(r, "partition", 0, 0, INT32_MAX, &part) < 0)
        return;
    if (part >= broker_topic_partitions(t)) {
        http_problem(r, 404, "topic '%s' has no partition %" PRId64 " (it has %d)", r->params[0],
                     part, (int)broker_topic_partitions(t));
        return;
    }
    broker_partition_t *p = broker_topic_partition(t, (int32_t)part);
    if (http_query_int(r, "limit", 100, 1, 1000, &limit) < 0 ||
        http_query_int(r, "timeout_ms", 0, 0, 30000, &timeout) < 0 ||
        http_query_int(r, "offset", broker_partition_start(p), 0, INT64_MAX, &offset) < 0)
        return;
    if (offset < broker_partition_start(p) || offset > broker_partition_hwm(p)) {
        http_problem(r, 416, "offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]", offset,
                     broker_partition_start(p), broker_partition_hwm(p));
        return;
    }
    ev_get_t *st = hd_arena_alloc(&r->arena, sizeof *st);
    if (!st) {
        http_problem(r, 500, "out of request memory");
        return;
    }
    st->r = r;
    st->t = t;
    st->p = p;
    st->offset = offset;
    st->limit = limit;
    r->state = st;
    if (get_step(st, timeout == 0))
        return;
    r->on_timer = get_timer;
    r->on_abort = get_abort;
    http_req_arm_timer(r, timeout);
}
