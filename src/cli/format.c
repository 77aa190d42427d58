/* Pure helpers of the client commands: option value parsing and record formatting. Nothing here
 * touches the network, so tests/unit/cli/test_format.c covers it without a broker.
 *
 * JSON record format (one object per line, see cli__record_format_json):
 *   {"topic":"t","partition":0,"offset":42,"timestamp":1700000000000,
 *    "key":"k"|null,"value":"v"|null,"headers":[{"key":"h","value":"x"|null}]}
 * Strings are emitted as JSON strings when they are valid UTF-8 (control characters and NUL are
 * \u-escaped by jansson). Bytes that are not valid UTF-8 are emitted as standard base64 and the
 * object gets "<field>_encoding":"base64" next to the field, so a reader can always get the exact
 * bytes back. */
#include "cli/cli_int.h"

#include "util/base64.h"
#include "util/err.h"
#include "util/mem.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int cli__kv_parse(const char *s, char **key, const char **value, const char **why)
{
    const char *eq = strchr(s, '=');
    if (!eq) {
        *why = "expected KEY=VALUE";
        return HD_EINVAL;
    }
    if (eq == s) {
        *why = "empty key in KEY=VALUE";
        return HD_EINVAL;
    }
    *key = hd_strndup(s, (size_t)(eq - s));
    *value = eq + 1;
    return 0;
}

int cli__int_parse(const char *s, int64_t min, int64_t max, int64_t *out, const char **why)
{
    if (!s || !*s) {
        *why = "empty number";
        return HD_EINVAL;
    }
    /* strtoll accepts leading spaces and '+'; a command-line number should be plain digits. */
    if (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
        *why = "not a number";
        return HD_EINVAL;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
        *why = "not a number";
        return HD_EINVAL;
    }
    if (errno == ERANGE || v < min || v > max) {
        *why = "number out of range";
        return HD_EINVAL;
    }
    *out = v;
    return 0;
}

int cli__from_parse(const char *s, cli_from_t *out, const char **why)
{
    int64_t v;
    if (strcmp(s, "beginning") == 0 || strcmp(s, "earliest") == 0) {
        out->kind = CLI_FROM_BEGINNING;
        out->value = 0;
        return 0;
    }
    if (strcmp(s, "end") == 0 || strcmp(s, "latest") == 0) {
        out->kind = CLI_FROM_END;
        out->value = 0;
        return 0;
    }
    if (s[0] == '@') {
        if (cli__int_parse(s + 1, 0, INT64_MAX, &v, why) != 0) {
            *why = "expected @TIMESTAMP_MS with a timestamp >= 0";
            return HD_EINVAL;
        }
        out->kind = CLI_FROM_TIMESTAMP;
        out->value = v;
        return 0;
    }
    if (cli__int_parse(s, 0, INT64_MAX, &v, why) != 0) {
        *why = "expected beginning, end, an offset >= 0 or @TIMESTAMP_MS";
        return HD_EINVAL;
    }
    out->kind = CLI_FROM_OFFSET;
    out->value = v;
    return 0;
}

int cli__acks_parse(const char *s, const char **out, const char **why)
{
    if (strcmp(s, "all") == 0 || strcmp(s, "-1") == 0)
        *out = "all";
    else if (strcmp(s, "1") == 0)
        *out = "1";
    else if (strcmp(s, "0") == 0)
        *out = "0";
    else {
        *why = "expected all, 1 or 0";
        return HD_EINVAL;
    }
    return 0;
}

int cli__compression_parse(const char *s, const char **why)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    for (size_t i = 0; i < HD_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return 0;
    *why = "expected none, gzip, snappy, lz4 or zstd";
    return HD_EINVAL;
}

int cli__delim_parse(const char *s, char *out, const char **why)
{
    if (strcmp(s, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strcmp(s, "\\\\") == 0) {
        *out = '\\';
        return 0;
    }
    if (strlen(s) != 1 || s[0] == '\n') {
        *why = "the delimiter must be one character (or \\t)";
        return HD_EINVAL;
    }
    *out = s[0];
    return 0;
}

bool cli__utf8_check(const void *p, size_t len)
{
    const uint8_t *s = p;
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false; /* continuation byte first, overlong 0xc0/0xc1, or 0xf5.. */
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

/* Sets obj[field] to the bytes as a string, null, or base64 plus obj[field_encoding]. */
static void json_set_bytes(json_t *obj, const char *field, const void *p, size_t len)
{
    if (!p) {
        json_object_set_new(obj, field, json_null());
        return;
    }
    if (cli__utf8_check(p, len)) {
        json_object_set_new(obj, field, json_stringn(len ? p : "", len));
        return;
    }
    hd_buf_t b64;
    hd_buf_init(&b64);
    hd_base64_encode(hd_slice(p, len), &b64);
    hd_buf_put_u8(&b64, '\0');
    char enc_field[64];
    snprintf(enc_field, sizeof enc_field, "%s_encoding", field);
    json_object_set_new(obj, field, json_string((const char *)b64.p));
    json_object_set_new(obj, enc_field, json_string("base64"));
    hd_buf_deinit(&b64);
}

char *cli__record_format_json(const cli_record_t *r)
{
    json_t *obj = json_object();
    json_t *headers = json_array();
    HD_ASSERT(obj && headers);
    json_set_bytes(obj, "topic", r->topic, r->topic ? strlen(r->topic) : 0);
    json_object_set_new(obj, "partition", json_integer(r->partition));
    json_object_set_new(obj, "offset", json_integer(r->offset));
    json_object_set_new(obj, "timestamp", json_integer(r->timestamp));
    json_set_bytes(obj, "key", r->key.p, r->key.len);
    json_set_bytes(obj, "value", r->value.p, r->value.len);
    for (size_t i = 0; i < r->nheaders; i++) {
        const cli_header_t *h = &r->headers[i];
        json_t *hobj = json_object();
        HD_ASSERT(hobj);
        json_set_bytes(hobj, "key", h->name ? h->name : "", h->name ? h->name_len : 0);
        json_set_bytes(hobj, "value", h->value.p, h->value.len);
        json_array_append_new(headers, hobj);
    }
    json_object_set_new(obj, "headers", headers);
    char *out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    HD_ASSERT(out);
    return out;
}
