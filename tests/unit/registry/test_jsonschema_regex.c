/* Simple patterns (registry/jsonschema_regex.c): which ECMA-262 patterns qualify, and that the
 * greedy matcher gives PCRE2's answer on every short subject for thousands of generated
 * patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "registry/registry_int.h"
#include "util/err.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool simple(const char *src)
{
    registry__js_simple_t re;
    return registry__js_simple_compile(src, strlen(src), &re);
}

static void test_which_patterns_are_simple(void **state)
{
    (void)state;
    static const char *const yes[] = {
        "^ORD-[0-9]{10}$",
        "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        "^[A-Z0-9][A-Z0-9 -]{2,9}$",
        "^\\+[0-9]{7,15}$",
        "^[a-z][a-z0-9-]{0,31}$",
        "^[A-Z]{2}$",
        "^\\d+\\.\\d{2}$",
        "^[^@]+@",
        "^x",
        "^",
        "^$",
        "^.{1,3}$",
        "^\\w*$",
        "^a?b"};
    static const char *const no[] = {"ORD-[0-9]{10}$", /* not anchored at the start */
                                     "^(a|b)$",        "^a|b$",         "^[a-z]*[a-z0-9]$",
                                     "^a*a$",          "^a+?$",         "^a{2,}+$",
                                     "^\\s+$",         "^\\bx",         "^[[:alpha:]]$",
                                     "^[]$",           "^[^]$",         "^a{,3}$",
                                     "^a{3,2}$",       "^\\1$",         "^a$b",
                                     "^\\u0041$",      "^caf\xc3\xa9$", "^[z-a]$",
                                     "^x{70000}$"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!simple(yes[i]))
            fail_msg("not simple: %s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (simple(no[i]))
            fail_msg("simple: %s", no[i]);
}

static const char *const atoms[] = {"a",    "b",    "1",      "-",      "\\-",    "[ab]", "[a-c]",
                                    "\\d",  "\\D",  "\\w",    "\\W",    ".",      "[^a]", "[^\\d]",
                                    "[-a]", "[a-]", "[b\\d]", "[\\w-]", "[0-9-]", "\\."};
static const char *const quants[] = {"", "", "?", "*", "+", "{2}", "{1,2}", "{0,}", "{0,1}"};
static const char alphabet[] = "ab1-.c_";

/* Every subject over `alphabet` up to 4 characters: PCRE2 and the simple matcher agree. */
static void test_simple_matches_agree_with_pcre2(void **state)
{
    (void)state;
    registry_jsonschema_t tmp;
    memset(&tmp, 0, sizeof tmp);
    srand(14);
    int compared = 0;
    for (int k = 0; k < 3000; k++) {
        char pat[128];
        size_t n = (size_t)snprintf(pat, sizeof pat, "^");
        int na = rand() % 4;
        for (int i = 0; i < na; i++)
            n += (size_t)snprintf(pat + n, sizeof pat - n, "%s%s",
                                  atoms[rand() % (sizeof atoms / sizeof atoms[0])],
                                  quants[rand() % (sizeof quants / sizeof quants[0])]);
        if (rand() % 3)
            n += (size_t)snprintf(pat + n, sizeof pat - n, "$");
        registry__js_simple_t re;
        if (!registry__js_simple_compile(pat, n, &re))
            continue;
        registry__js_regex_t pre;
        memset(&pre, 0, sizeof pre);
        const char *why = "";
        assert_int_equal(registry__js_regex_compile(&tmp, pat, n, &pre, &why), 0);
        char subj[8];
        size_t an = sizeof alphabet - 1;
        for (size_t len = 0; len <= 4; len++) {
            size_t total = 1;
            for (size_t i = 0; i < len; i++)
                total *= an;
            for (size_t c = 0; c < total; c++) {
                size_t x = c;
                for (size_t i = 0; i < len; i++, x /= an)
                    subj[i] = alphabet[x % an];
                bool want = registry__js_regex_search(&pre, subj, len, NULL) == 1;
                bool got = registry__js_simple_match(&re, subj, len);
                if (want != got)
                    fail_msg("%s on \"%.*s\": PCRE2 %d, simple %d", pat, (int)len, subj, want, got);
                compared++;
            }
        }
    }
    assert_true(compared > 100000);
    for (size_t i = 0; i < tmp.ncodes; i++)
        pcre2_code_free(tmp.codes[i]);
    free(tmp.codes);
}

/* Patterns matched by position (fixed counts, the last perhaps variable, anchored at the end):
 * every one-character change of a matching subject, and the subject one character shorter and
 * longer, answered as PCRE2 answers them. */
static void test_fixed_length_patterns_agree_with_pcre2(void **state)
{
    (void)state;
    registry_jsonschema_t tmp;
    memset(&tmp, 0, sizeof tmp);
    static const struct {
        const char *pattern, *subject;
        bool fixed;
    } cases[] = {
        {"^[A-Z]{3}-[0-9]{6}$", "WZX-552716", true},
        {"^ORD-[0-9]{10}$", "ORD-0001000000", true},
        {"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
         "64d0b50f-c70b-4e8a-8793-39274375d034", true},
        {"^[A-Z]{2}$", "FR", true},
        {"^\\d{64}$", "0123456789012345678901234567890123456789012345678901234567890123", true},
        {"^\\d{65}$", "01234567890123456789012345678901234567890123456789012345678901234", false},
        {"^[A-Z]{3}-[0-9]{6}", "WZX-552716", false},
        {"^[A-Z0-9][A-Z0-9 -]{2,9}$", "69002", true},
        {"^\\+[0-9]{7,15}$", "+225515355173123", true},
        {"^\\+[0-9]{7,15}$", "+2255153", true},
        {"^[a-z][a-z0-9-]{0,31}$", "pebble-0123456789-0123456789-012", true},
        {"^[a-z][a-z0-9-]*$", "pebble", true},
        {"^[a-z]{2,3}[0-9]$", "ab1", false},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *pat = cases[k].pattern;
        registry__js_simple_t re;
        assert_true(registry__js_simple_compile(pat, strlen(pat), &re));
        assert_int_equal(re.by_pos, cases[k].fixed);
        registry__js_regex_t pre;
        memset(&pre, 0, sizeof pre);
        const char *why = "";
        assert_int_equal(registry__js_regex_compile(&tmp, pat, strlen(pat), &pre, &why), 0);
        char subj[80];
        size_t len = strlen(cases[k].subject);
        assert_true(registry__js_simple_match(&re, cases[k].subject, len));
        for (size_t at = 0; at <= len; at++) {
            for (int c = 0x20; c < 0x7f; c++) {
                /* Changed at `at`, or shorter (at == len: longer) by one. */
                for (int form = 0; form < 2; form++) {
                    size_t n;
                    memcpy(subj, cases[k].subject, len);
                    if (form == 0 && at < len) {
                        subj[at] = (char)c;
                        n = len;
                    } else if (form == 1 && at < len) {
                        memmove(subj + at, subj + at + 1, len - at - 1);
                        n = len - 1;
                    } else {
                        subj[len] = (char)c;
                        n = len + 1;
                    }
                    bool want = registry__js_regex_search(&pre, subj, n, NULL) == 1;
                    bool got = registry__js_simple_match(&re, subj, n);
                    if (want != got)
                        fail_msg("%s on \"%.*s\": PCRE2 %d, simple %d", pat, (int)n, subj, want,
                                 got);
                }
            }
        }
    }
    for (size_t i = 0; i < tmp.ncodes; i++)
        pcre2_code_free(tmp.codes[i]);
    free(tmp.codes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_patterns_are_simple),
        cmocka_unit_test(test_simple_matches_agree_with_pcre2),
        cmocka_unit_test(test_fixed_length_patterns_agree_with_pcre2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
