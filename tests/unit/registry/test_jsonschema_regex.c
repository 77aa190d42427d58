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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_patterns_are_simple),
        cmocka_unit_test(test_simple_matches_agree_with_pcre2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
