/* JSON Schema `format` checks, used when a schema is compiled with
 * REGISTRY_JSONSCHEMA_FORMAT_ASSERT (otherwise `format` only annotates). Each check follows the
 * grammar its format names: RFC 3339 for date-time, date and time; RFC 5321's addr-spec shape
 * for email (dot-atom local part, hostname domain); RFC 1123 for hostname; dotted quads and
 * RFC 4291 for IP addresses; RFC 3986 for uri and uri-reference; RFC 4122 for uuid; RFC 6901
 * and its relative draft for JSON pointers. Formats not listed here are not checked. */
#include "registry/registry_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool full_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
        !digits(s + 8, 2))
        return false;
    int y = num(s, 4), m = num(s + 5, 2), d = num(s + 8, 2);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* partial-time time-offset; leap seconds only where they can occur (23:59:60 UTC). */
static bool full_time(const char *s, size_t len)
{
    if (len < 9 || s[2] != ':' || s[5] != ':' || !digits(s, 2) || !digits(s + 3, 2) ||
        !digits(s + 6, 2))
        return false;
    int h = num(s, 2), mi = num(s + 3, 2), sec = num(s + 6, 2);
    if (h > 23 || mi > 59 || sec > 60)
        return false;
    size_t i = 8;
    if (s[i] == '.') {
        size_t j = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == j)
            return false;
    }
    if (i >= len)
        return false;
    int off = 0; /* offset in minutes east of UTC */
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
        off = 0;
    } else if ((s[i] == '+' || s[i] == '-') && len - i == 6 && s[i + 3] == ':' &&
               digits(s + i + 1, 2) && digits(s + i + 4, 2)) {
        int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);
        if (oh > 23 || om > 59)
            return false;
        off = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
    } else {
        return false;
    }
    if (sec == 60) {
        int utc = ((h * 60 + mi - off) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

static bool date_time(const char *s, size_t len)
{
    if (len < 20 || (s[10] != 'T' && s[10] != 't'))
        return false;
    return full_date(s, 10) && full_time(s + 11, len - 11);
}

static bool hostname(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            if (!isalnum((unsigned char)s[i]) && s[i] != '-')
                return false;
            continue;
        }
        size_t l = i - start;
        if (l == 0 || l > 63 || s[start] == '-' || s[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

static bool email(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    if (!at || memchr(at + 1, '@', len - (size_t)(at - s) - 1))
        return false;
    size_t ll = (size_t)(at - s);
    if (ll == 0 || ll > 64 || s[0] == '.' || s[ll - 1] == '.')
        return false;
    for (size_t i = 0; i < ll; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.' && s[i + 1] == '.')
            return false;
        if (!isalnum(c) && !strchr("!#$%&'*+-/=?^_`{|}~.", c))
            return false;
    }
    const char *d = at + 1;
    size_t dl = len - ll - 1;
    if (dl > 2 && d[0] == '[' && d[dl - 1] == ']') {
        char buf[64];
        if (dl - 2 >= sizeof buf)
            return false;
        memcpy(buf, d + 1, dl - 2);
        buf[dl - 2] = '\0';
        unsigned char out[16];
        if (!strncmp(buf, "IPv6:", 5))
            return inet_pton(AF_INET6, buf + 5, out) == 1;
        return inet_pton(AF_INET, buf, out) == 1;
    }
    return hostname(d, dl);
}

static bool ipv4(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t j = i;
        while (i < len && s[i] >= '0' && s[i] <= '9' && i - j < 4)
            i++;
        size_t l = i - j;
        if (l == 0 || l > 3 || (l > 1 && s[j] == '0') || num(s + j, l) > 255)
            return false;
        if (part < 3) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
    }
    return i == len;
}

static bool ipv6(const char *s, size_t len)
{
    char buf[64];
    unsigned char out[16];
    if (len == 0 || len >= sizeof buf || memchr(s, '%', len))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET6, buf, out) == 1;
}

static bool is_hex(char c) { return isxdigit((unsigned char)c) != 0; }

/* Characters of RFC 3986 (unreserved, reserved, and '%' HEXDIG HEXDIG). */
static bool uri_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            i += 2;
            continue;
        }
        if (!isalnum(c) && !strchr("-._~:/?#[]@!$&'()*+,;=", c))
            return false;
        if (c == 0)
            return false;
    }
    /* '#' once at most; '[' and ']' only around an IP literal host. */
    const char *h = memchr(s, '#', len);
    if (h && memchr(h + 1, '#', len - (size_t)(h - s) - 1))
        return false;
    return true;
}

static size_t scheme_len(const char *s, size_t len)
{
    if (len == 0 || !isalpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (i < len && (isalnum((unsigned char)s[i]) || strchr("+-.", s[i])))
        i++;
    return (i < len && s[i] == ':') ? i : 0;
}

static bool uri_ref(const char *s, size_t len)
{
    if (!uri_chars(s, len))
        return false;
    size_t sl = scheme_len(s, len);
    const char *rest = s + (sl ? sl + 1 : 0);
    size_t rl = len - (sl ? sl + 1 : 0);
    if (rl >= 2 && rest[0] == '/' && rest[1] == '/') {
        /* authority: [userinfo@]host[:port] */
        size_t a = strcspn(rest + 2, "/?#");
        if (a > rl - 2)
            a = rl - 2;
        const char *auth = rest + 2;
        const char *at = memchr(auth, '@', a);
        const char *host = at ? at + 1 : auth;
        size_t hl = a - (size_t)(host - auth);
        if (hl && host[0] == '[') {
            const char *close = memchr(host, ']', hl);
            if (!close)
                return false;
            size_t after = hl - (size_t)(close - host) - 1;
            if (after && (close[1] != ':' || !digits(close + 2, after - 1)))
                return false;
        } else {
            if (memchr(host, '[', hl) || memchr(host, ']', hl))
                return false;
            const char *colon = memchr(host, ':', hl);
            if (colon && !digits(colon + 1, hl - (size_t)(colon - host) - 1))
                return false;
        }
    } else if (memchr(s, '[', len) || memchr(s, ']', len)) {
        return false;
    }
    if (!sl) {
        /* A relative reference's first segment may not hold ':'. */
        size_t seg = strcspn(s, "/?#");
        if (memchr(s, ':', seg < len ? seg : len))
            return false;
    }
    return true;
}

static bool uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

static bool json_pointer(const char *s, size_t len)
{
    if (len == 0)
        return true;
    if (s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')))
            return false;
    return true;
}

static bool relative_json_pointer(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == 0 || (i > 1 && s[0] == '0'))
        return false;
    if (i == len)
        return true;
    if (s[i] == '#')
        return i + 1 == len;
    return json_pointer(s + i, len - i);
}

bool registry__js_format_check(const char *format, const char *s, size_t len)
{
    if (!strcmp(format, "date-time"))
        return date_time(s, len);
    if (!strcmp(format, "date"))
        return full_date(s, len);
    if (!strcmp(format, "time"))
        return full_time(s, len);
    if (!strcmp(format, "email"))
        return email(s, len);
    if (!strcmp(format, "hostname"))
        return hostname(s, len);
    if (!strcmp(format, "ipv4"))
        return ipv4(s, len);
    if (!strcmp(format, "ipv6"))
        return ipv6(s, len);
    if (!strcmp(format, "uri"))
        return scheme_len(s, len) > 0 && uri_ref(s, len);
    if (!strcmp(format, "uri-reference"))
        return uri_ref(s, len);
    if (!strcmp(format, "uuid"))
        return uuid(s, len);
    if (!strcmp(format, "json-pointer"))
        return json_pointer(s, len);
    if (!strcmp(format, "relative-json-pointer"))
        return relative_json_pointer(s, len);
    if (!strcmp(format, "regex"))
        return registry__js_regex_valid(s, len);
    return true;
}
