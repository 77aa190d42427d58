/* The configuration table's runtime: defaults, parsing of values, properties files, environment.
 *
 * Properties file format (Java .properties subset, as Kafka's server.properties):
 *   one setting per line, `key=value` or `key: value` or `key value`; blank lines and lines whose
 *   first non-blank character is # or ! are comments; whitespace around key and value is trimmed.
 *   Keys are the Kafka names of the table (or the flag names). No line continuations. */
#include "util/config.h"
#include "util/err.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { T_INT, T_BOOL, T_STR };

typedef struct row {
    int type;
    size_t off;
    const char *key, *flag, *env;
    int64_t def_int;
    const char *def_str;
    int64_t lo, hi;
    const char *help;
} row_t;

#define T_OF_INT T_INT
#define T_OF_BOOL T_BOOL
#define T_OF_STR T_STR
#define DEF_INT_INT(d) (d)
#define DEF_INT_BOOL(d) (d)
#define DEF_INT_STR(d) 0
#define DEF_STR_INT(d) NULL
#define DEF_STR_BOOL(d) NULL
#define DEF_STR_STR(d) (d)

static const row_t rows[] = {
#define ROW(type, m, key, flag, env, def, lo, hi, help)                                            \
    {T_OF_##type,         offsetof(hd_config_t, m), key, flag, env,                                \
     DEF_INT_##type(def), DEF_STR_##type(def),      lo,  hi,   help},
    HD_CONFIG_TABLE(ROW)
#undef ROW
};

#define NROWS (sizeof rows / sizeof rows[0])

void hd_config_init(hd_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NROWS; i++) {
        char *base = (char *)c + rows[i].off;
        switch (rows[i].type) {
        case T_INT:
            *(int64_t *)base = rows[i].def_int;
            break;
        case T_BOOL:
            *(bool *)base = rows[i].def_int != 0;
            break;
        default:
            *(char **)base = hd_strdup(rows[i].def_str);
            break;
        }
    }
}

void hd_config_deinit(hd_config_t *c)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].type == T_STR) {
            char **p = (char **)((char *)c + rows[i].off);
            free(*p);
            *p = NULL;
        }
}

static const row_t *find_row(const char *key)
{
    for (size_t i = 0; i < NROWS; i++)
        if (strcmp(rows[i].key, key) == 0 || strcmp(rows[i].flag, key) == 0)
            return &rows[i];
    return NULL;
}

bool hd_config_has_flag(const char *flag, bool *is_bool)
{
    for (size_t i = 0; i < NROWS; i++)
        if (strcmp(rows[i].flag, flag) == 0) {
            *is_bool = rows[i].type == T_BOOL;
            return true;
        }
    return false;
}

/* Parses an integer with an optional binary suffix (k, m, g = 1024^n). */
static int parse_int(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || errno)
        return HD_EINVAL;
    int64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024 * 1024 * 1024, end++;
    if (*end != '\0')
        return HD_EINVAL;
    if (mul > 1 && (v > INT64_MAX / mul || v < INT64_MIN / mul))
        return HD_EINVAL;
    *out = (int64_t)v * mul;
    return 0;
}

int hd_config_set(hd_config_t *c, const char *key, const char *value, const char **why)
{
    const row_t *r = find_row(key);
    if (!r) {
        *why = "unknown setting";
        return HD_ENOTFOUND;
    }
    char *base = (char *)c + r->off;
    switch (r->type) {
    case T_INT: {
        int64_t v;
        if (parse_int(value, &v) < 0) {
            *why = "not an integer";
            return HD_EINVAL;
        }
        if (v < r->lo || v > r->hi) {
            *why = "out of range";
            return HD_EINVAL;
        }
        *(int64_t *)base = v;
        return 0;
    }
    case T_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes")) {
            *(bool *)base = true;
        } else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no")) {
            *(bool *)base = false;
        } else {
            *why = "not a boolean (true or false)";
            return HD_EINVAL;
        }
        return 0;
    default: {
        char **p = (char **)base;
        free(*p);
        *p = hd_strdup(value);
        return 0;
    }
    }
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

int hd_config_parse_properties(hd_config_t *c, const char *text, size_t len, int *line_no,
                               const char **why)
{
    size_t pos = 0;
    int line = 0;
    while (pos < len) {
        line++;
        size_t eol = pos;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t a = pos, b = eol;
        pos = eol + 1;
        while (a < b && is_space(text[a]))
            a++;
        while (b > a && is_space(text[b - 1]))
            b--;
        if (a == b || text[a] == '#' || text[a] == '!')
            continue;
        if (memchr(text + a, '\0', b - a)) {
            *line_no = line;
            *why = "NUL byte in line";
            return HD_EINVAL;
        }
        size_t k = a;
        while (k < b && text[k] != '=' && text[k] != ':' && !is_space(text[k]))
            k++;
        size_t v = k;
        while (v < b && is_space(text[v]))
            v++;
        if (v < b && (text[v] == '=' || text[v] == ':'))
            v++;
        while (v < b && is_space(text[v]))
            v++;
        char *key = hd_strndup(text + a, k - a);
        char *val = hd_strndup(text + v, b - v);
        int rc = hd_config_set(c, key, val, why);
        free(key);
        free(val);
        if (rc < 0) {
            *line_no = line;
            return rc;
        }
    }
    return 0;
}

int hd_config_apply_env(hd_config_t *c, const char **bad_env, const char **why)
{
    for (size_t i = 0; i < NROWS; i++) {
        const char *v = getenv(rows[i].env);
        if (!v)
            continue;
        int rc = hd_config_set(c, rows[i].key, v, why);
        if (rc < 0) {
            *bad_env = rows[i].env;
            return rc;
        }
    }
    return 0;
}

static void print_default(FILE *out, const row_t *r)
{
    if (r->type == T_STR)
        fprintf(out, "%s", r->def_str[0] ? r->def_str : "(empty)");
    else if (r->type == T_BOOL)
        fprintf(out, "%s", r->def_int ? "true" : "false");
    else
        fprintf(out, "%" PRId64, r->def_int);
}

void hd_config_print_help(FILE *out)
{
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &rows[i];
        fprintf(out, "  --%s %s\n      %s (%s, $%s, default ", r->flag,
                r->type == T_BOOL ? "[true|false]" : (r->type == T_INT ? "N" : "VALUE"), r->help,
                r->key, r->env);
        print_default(out, r);
        fprintf(out, ")\n");
    }
}

void hd_config_print_markdown(FILE *out)
{
    fprintf(out, "| setting | flag | environment | default | meaning |\n");
    fprintf(out, "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *r = &rows[i];
        fprintf(out, "| `%s` | `--%s` | `%s` | `", r->key, r->flag, r->env);
        print_default(out, r);
        fprintf(out, "` | %s |\n", r->help);
    }
}

int hd_config_entries(const hd_config_t *c, hd_config_entry_t *out, int max)
{
    int n = 0;
    for (size_t i = 0; i < NROWS && n < max; i++) {
        const row_t *r = &rows[i];
        const char *base = (const char *)c + r->off;
        hd_config_entry_t *e = &out[n++];
        e->name = r->key;
        switch (r->type) {
        case T_INT:
            snprintf(e->value, sizeof e->value, "%" PRId64, *(const int64_t *)base);
            e->is_default = *(const int64_t *)base == r->def_int;
            break;
        case T_BOOL:
            snprintf(e->value, sizeof e->value, "%s", *(const bool *)base ? "true" : "false");
            e->is_default = *(const bool *)base == (r->def_int != 0);
            break;
        default:
            snprintf(e->value, sizeof e->value, "%s", *(char *const *)base);
            e->is_default = strcmp(*(char *const *)base, r->def_str) == 0;
            break;
        }
    }
    return n;
}
