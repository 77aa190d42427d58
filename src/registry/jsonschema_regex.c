/* Regular expressions of JSON Schema (pattern, patternProperties, format "regex"): ECMA-262
 * patterns compiled with PCRE2 (and its JIT), and a small matcher for the simple patterns that
 * payload schemas mostly use, which the walk over flat documents (jsonschema_fast.c) runs
 * instead of PCRE2 on ASCII subjects.
 *
 * A simple pattern is anchored at the start (^), optionally at the end ($), and otherwise a
 * sequence of atoms, each one ASCII character class (a literal, an escaped punctuation mark,
 * ".", \d, \w, \D, \W, or a bracket class of those and ranges, possibly negated) with a greedy
 * quantifier (?, *, +, {m}, {m,}, {m,n}). It is matched in one greedy pass, without
 * backtracking, which gives PCRE2's answer only when no backtracking could change it: so a
 * pattern qualifies only when every atom with a variable count is the last one, or is followed
 * by an atom with at least one occurrence whose class shares no character with it. Anything
 * else (groups, alternation, lookaround, backreferences, lazy quantifiers, other escapes, POSIX
 * classes) is left to PCRE2, as are subjects with non-ASCII characters or longer than
 * REGISTRY__JS_SIMPLE_MAX_SUBJECT bytes (where PCRE2's match limit could decide). Both walks
 * are checked against each other by jsonschema_tool on the test suite and by the fuzz target
 * jsonschema_text. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* ---- Simple patterns ---- */

static inline void set_add(registry__js_simple_atom_t *a, unsigned c)
{
    a->set[c >> 6] |= 1ULL << (c & 63);
}

static void set_range(registry__js_simple_atom_t *a, unsigned lo, unsigned hi)
{
    for (unsigned c = lo; c <= hi; c++)
        set_add(a, c);
}

static void set_word(registry__js_simple_atom_t *a)
{
    set_range(a, '0', '9');
    set_range(a, 'A', 'Z');
    set_range(a, 'a', 'z');
    set_add(a, '_');
}

static void set_not(registry__js_simple_atom_t *a)
{
    a->set[0] = ~a->set[0];
    a->set[1] = ~a->set[1];
}

static bool is_punct(char c)
{
    return c > 0x20 && c < 0x7f &&
           !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

/* An escape after '\' at s[*i]: adds its characters to `a`, advances *i; false when it is not
 * one of the escapes simple patterns take. */
static bool escape(const char *s, size_t len, size_t *i, registry__js_simple_atom_t *a,
                   bool *is_class)
{
    if (*i >= len)
        return false;
    char c = s[(*i)++];
    registry__js_simple_atom_t t;
    memset(&t, 0, sizeof t);
    *is_class = true;
    switch (c) {
    case 'd':
    case 'D':
        set_range(&t, '0', '9');
        break;
    case 'w':
    case 'W':
        set_word(&t);
        break;
    default:
        if (!is_punct(c))
            return false;
        *is_class = false;
        set_add(a, (unsigned char)c);
        return true;
    }
    if (c == 'D' || c == 'W')
        set_not(&t);
    a->set[0] |= t.set[0];
    a->set[1] |= t.set[1];
    return true;
}

/* A bracket class from s[*i] (just past '['). */
static bool bracket(const char *s, size_t len, size_t *i, registry__js_simple_atom_t *a)
{
    bool neg = *i < len && s[*i] == '^';
    if (neg)
        (*i)++;
    if (*i < len && s[*i] == ']')
        return false; /* [] and [^]: ECMA-262's empty and full classes */
    while (*i < len && s[*i] != ']') {
        char c = s[(*i)++];
        unsigned lo;
        if (c == '\\') {
            bool cls;
            registry__js_simple_atom_t t;
            memset(&t, 0, sizeof t);
            if (!escape(s, len, i, &t, &cls))
                return false;
            a->set[0] |= t.set[0];
            a->set[1] |= t.set[1];
            if (cls)
                continue;
            lo = (unsigned)__builtin_ctzll(t.set[0] ? t.set[0] : t.set[1]) + (t.set[0] ? 0 : 64);
        } else if (c == '[' || c < 0x20 || c >= 0x7f) {
            return false; /* POSIX classes, control and non-ASCII characters */
        } else {
            lo = (unsigned char)c;
            set_add(a, lo);
        }
        if (*i + 1 < len && s[*i] == '-' && s[*i + 1] != ']') {
            char d = s[*i + 1];
            if (d == '\\' || d == '[' || d < 0x20 || d >= 0x7f || (unsigned char)d < lo)
                return false;
            set_range(a, lo, (unsigned char)d);
            *i += 2;
        }
    }
    if (*i >= len)
        return false;
    (*i)++;
    if (neg)
        set_not(a);
    return true;
}

static bool number(const char *s, size_t len, size_t *i, unsigned *out)
{
    size_t start = *i;
    unsigned v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        v = v * 10 + (unsigned)(s[(*i)++] - '0');
        if (v >= REGISTRY__JS_SIMPLE_INF)
            return false;
    }
    *out = v;
    return *i > start;
}

static bool simple_read(const char *s, size_t len, registry__js_simple_t *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || s[0] != '^')
        return false;
    size_t i = 1;
    while (i < len) {
        char c = s[i];
        if (c == '$' && i == len - 1) {
            out->end = true;
            break;
        }
        if (out->natoms == REGISTRY__JS_SIMPLE_MAX_ATOMS)
            return false;
        registry__js_simple_atom_t *a = &out->atoms[out->natoms++];
        i++;
        bool cls;
        if (c == '\\') {
            if (!escape(s, len, &i, a, &cls))
                return false;
        } else if (c == '[') {
            if (!bracket(s, len, &i, a))
                return false;
        } else if (c == '.') {
            set_range(a, 0, 127);
            a->set[0] &= ~(1ULL << '\n' | 1ULL << '\r');
        } else if (c < 0x20 || c >= 0x7f || strchr("^$|()[]{}?*+", c)) {
            return false;
        } else {
            set_add(a, (unsigned char)c);
        }
        a->min = a->max = 1;
        if (i < len && (s[i] == '?' || s[i] == '*' || s[i] == '+' || s[i] == '{')) {
            char q = s[i++];
            unsigned lo = 0, hi = REGISTRY__JS_SIMPLE_INF;
            if (q == '+')
                lo = 1;
            else if (q == '?')
                hi = 1;
            else if (q == '{') {
                if (!number(s, len, &i, &lo))
                    return false;
                hi = lo;
                if (i < len && s[i] == ',') {
                    i++;
                    hi = REGISTRY__JS_SIMPLE_INF;
                    if (i < len && s[i] != '}' && !number(s, len, &i, &hi))
                        return false;
                }
                if (i >= len || s[i] != '}' || hi < lo)
                    return false;
                i++;
            }
            if (i < len && (s[i] == '?' || s[i] == '+'))
                return false; /* lazy or possessive */
            a->min = (uint16_t)lo;
            a->max = (uint16_t)hi;
        }
    }
    /* One greedy pass decides only if no backtracking could help (see the top). */
    for (size_t k = 0; k + 1 < out->natoms; k++) {
        const registry__js_simple_atom_t *a = &out->atoms[k], *b = &out->atoms[k + 1];
        if (a->min == a->max)
            continue;
        if (b->min == 0 || (a->set[0] & b->set[0]) || (a->set[1] & b->set[1]))
            return false;
    }
    return true;
}

bool registry__js_simple_compile(const char *s, size_t len, registry__js_simple_t *out)
{
    if (!simple_read(s, len, out))
        return false;
    /* The tables of the matcher (REGISTRY__JS_SIMPLE_MAX_ATOMS fits the 32 bits of cbits). */
    size_t fixed = 0;
    bool by_pos = out->end;
    for (unsigned k = 0; k < out->natoms; k++) {
        const registry__js_simple_atom_t *a = &out->atoms[k];
        for (unsigned c = 0; c < 128; c++)
            if (a->set[c >> 6] >> (c & 63) & 1)
                out->cbits[c] |= 1u << k;
        if (a->min == a->max && fixed + a->min <= REGISTRY__JS_SIMPLE_MAX_FIXED) {
            for (unsigned j = 0; j < a->min; j++)
                out->atom_at[fixed++] = 1u << k;
        } else if (k + 1 == out->natoms && a->min != a->max) {
            out->tail_bit = 1u << k; /* the last atom, with a variable count */
            out->tail_min = a->min;
            out->tail_max = a->max;
        } else {
            by_pos = false;
        }
    }
    out->by_pos = by_pos;
    out->fixed_len = (uint16_t)fixed;
    return true;
}

/* The class bits of byte c (none for non-ASCII). */
static inline uint32_t class_bits(const registry__js_simple_t *re, unsigned char c)
{
    return re->cbits[c];
}

bool registry__js_simple_match(const registry__js_simple_t *re, const char *s, size_t len)
{
    if (re->by_pos)
        return registry__js_simple_match_pos(re, s, len);
    size_t p = 0;
    for (unsigned k = 0; k < re->natoms; k++) {
        const registry__js_simple_atom_t *a = &re->atoms[k];
        uint32_t bit = 1u << k;
        unsigned c = 0;
        while (c < a->max && p < len && (class_bits(re, (unsigned char)s[p]) & bit)) {
            c++;
            p++;
        }
        if (c < a->min)
            return false;
    }
    return !re->end || p == len;
}

/* ---- ECMA-262 through PCRE2 ---- */

static pthread_once_t match_ctx_once = PTHREAD_ONCE_INIT;
static pcre2_match_context *match_ctx;

static void match_ctx_init(void)
{
    match_ctx = pcre2_match_context_create(NULL);
    HD_ASSERT(match_ctx);
    /* Bounds on one match, so a catastrophic pattern fails fast instead of stalling the loop. */
    pcre2_set_match_limit(match_ctx, 200000);
    pcre2_set_depth_limit(match_ctx, 5000);
    pcre2_set_heap_limit(match_ctx, 8192); /* KiB */
}

static int regex_search(const registry__js_regex_t *re, const char *s, size_t len, void *md,
                        uint32_t options)
{
    pthread_once(&match_ctx_once, match_ctx_init);
    pcre2_match_data *own = NULL;
    if (!md)
        md = own = pcre2_match_data_create(1, NULL);
    HD_ASSERT(md);
    /* pcre2_jit_match skips pcre2_match's checks of its arguments, the UTF check among them,
     * so only a subject known to be valid UTF-8 goes there directly. */
    int rc = re->jit && (options & PCRE2_NO_UTF_CHECK)
                 ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, match_ctx)
                 : pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, options, md, match_ctx);
    pcre2_match_data_free(own);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_NOMEMORY ||
        rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return HD_ERANGE;
    return 0; /* invalid UTF-8 in the subject: it matches nothing */
}

int registry__js_regex_search(const registry__js_regex_t *re, const char *s, size_t len, void *md)
{
    return regex_search(re, s, len, md, 0);
}

int registry__js_regex_search_utf8(const registry__js_regex_t *re, const char *s, size_t len,
                                   void *md)
{
    return regex_search(re, s, len, md, PCRE2_NO_UTF_CHECK);
}

/* ECMA-262 \s is Unicode white space and line terminators; PCRE2's, without UCP (which would
 * also widen \d and \w, unlike ECMA-262), is ASCII only. */
#define ECMA_SPACE                                                                                 \
    "\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"

/* Compiles an ECMA-262 pattern. Returns 0, or HD_EMALFORMED with a static reason in *why. */
int registry__js_regex_compile(registry_jsonschema_t *s, const char *src, size_t len,
                               registry__js_regex_t *out, const char **why)
{
    if (len > REGISTRY_JSONSCHEMA_MAX_PATTERN) {
        *why = "regular expression too long";
        return HD_EMALFORMED;
    }
    /* Rewrite \s, \S and \v; refuse letter escapes ECMA-262 does not have (\Z, \A, \h, ...),
     * which PCRE2 would read as its own. Everything else maps one to one under the options
     * below (\uXXXX through ALT_BSUX, [^] through ALLOW_EMPTY_CLASS). */
    char *t = hd_malloc(len * (sizeof ECMA_SPACE + 8) + 1);
    size_t n = 0;
    bool in_class = false;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '\\' && i + 1 < len) {
            char d = src[i + 1];
            if (d == 's' || (d == 'S' && !in_class)) {
                const char *rep =
                    in_class ? ECMA_SPACE : (d == 's' ? "[" ECMA_SPACE "]" : "[^" ECMA_SPACE "]");
                memcpy(t + n, rep, strlen(rep));
                n += strlen(rep);
            } else if (d == 'v') {
                memcpy(t + n, "\\x0b", 4);
                n += 4;
            } else if (((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z')) &&
                       !strchr("bBdDwWsSfnrtcxukpP", d)) {
                free(t);
                *why = "not an ECMA-262 escape";
                return HD_EMALFORMED;
            } else {
                t[n++] = c;
                t[n++] = d;
            }
            i++;
            continue;
        }
        if (c == '[' && !in_class)
            in_class = true;
        else if (c == ']' && in_class)
            in_class = false;
        t[n++] = c;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    HD_ASSERT(cc);
    pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
    pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
    pcre2_set_parens_nest_limit(cc, 100);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)t, n,
                      PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX | PCRE2_ALLOW_EMPTY_CLASS,
                      &err, &off, cc);
    pcre2_compile_context_free(cc);
    free(t);
    if (!code) {
        *why = "not a valid regular expression";
        return HD_EMALFORMED;
    }
    /* Compiled to machine code where PCRE2 can (same answers; the match limit still applies,
     * and a match that outgrows the JIT stack is a work bound hit, as in the interpreter). */
    out->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    if (s->ncodes == s->capcodes) {
        s->capcodes = s->capcodes ? s->capcodes * 2 : 8;
        s->codes = hd_realloc(s->codes, s->capcodes * sizeof *s->codes);
    }
    s->codes[s->ncodes++] = code;
    out->code = code;
    return 0;
}

bool registry__js_regex_valid(const char *src, size_t len)
{
    registry_jsonschema_t tmp;
    memset(&tmp, 0, sizeof tmp);
    registry__js_regex_t re;
    const char *why = "";
    bool ok = registry__js_regex_compile(&tmp, src, len, &re, &why) == 0;
    for (size_t i = 0; i < tmp.ncodes; i++)
        pcre2_code_free(tmp.codes[i]);
    free(tmp.codes);
    return ok;
}
