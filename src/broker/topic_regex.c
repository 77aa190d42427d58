/* Topic regular expressions of KIP-848 subscriptions (ConsumerGroupHeartbeat's
 * SubscribedTopicRegex, which the Java client sends for `subscribe(SubscriptionPattern)`).
 * Loop thread only.
 *
 * Kafka evaluates these on the broker with RE2/J; Herald uses PCRE2, which it links already. The
 * two agree on the syntax clients use for topic patterns (literals, `.`, classes, `*` `+` `?`
 * `{n,m}`, alternation, groups, `(?i)`-style flags, `\d` `\w` `\s` and their negations), and a
 * topic is taken when the whole name matches, as RE2/J's `matches()` (PCRE2_ANCHORED and
 * PCRE2_ENDANCHORED). Where PCRE2 is larger, Herald refuses what RE2/J refuses, so a pattern
 * Kafka rejects is rejected here too: backreferences (`\1`, `\k<n>`), lookahead and lookbehind,
 * atomic groups, recursion and subroutine calls, callouts and backtracking verbs (`(*...)`)
 * answer INVALID_REGULAR_EXPRESSION. A few PCRE2-only escapes (`\K`, `\R`, `\X`, `\h`, `\v` as
 * a class, `\G`) are accepted where RE2/J would refuse them; they never occur in topic
 * patterns in practice. Error messages are PCRE2's, not RE2/J's.
 *
 * Matching is bounded (match and depth limits), so a pathological pattern cannot stall the loop:
 * a match that hits a limit counts as no match and is logged. */
#include "broker/broker_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <string.h>

static pcre2_match_context *match_ctx;
static pcre2_match_data *match_data;

/* Whether the pattern uses a construct RE2/J does not have, which only a backtracking engine
 * can run: "(?=" "(?!" "(?<=" "(?<!" "(?>" "(?|" "(?R" "(?&" "(?P>" "(?P=" "(?C" "(?+1" "(?1"
 * "(?-1" and "(*". Escaped characters and character classes are skipped. */
static bool uses_backtracking_syntax(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (p[i] == '[') {
            /* A class: a leading '^' and a leading ']' are literal parts of it. */
            size_t j = i + 1;
            if (j < n && p[j] == '^')
                j++;
            if (j < n && p[j] == ']')
                j++;
            for (; j < n && p[j] != ']'; j++)
                if (p[j] == '\\')
                    j++;
            i = j;
            continue;
        }
        if (p[i] != '(' || i + 1 >= n)
            continue;
        if (p[i + 1] == '*')
            return true;
        if (p[i + 1] != '?' || i + 2 >= n)
            continue;
        char c = p[i + 2];
        char d = i + 3 < n ? p[i + 3] : '\0';
        if (strchr("=!>|R&C+0123456789", c))
            return true;
        if (c == '<' && (d == '=' || d == '!'))
            return true;
        if (c == 'P' && (d == '>' || d == '='))
            return true;
        if (c == '-' && d >= '0' && d <= '9')
            return true;
    }
    return false;
}

int broker__topic_regex_compile(const char *pattern, broker__topic_regex_t **out, char *why,
                                size_t whylen)
{
    size_t n = strlen(pattern);
    int err = 0;
    PCRE2_SIZE at = 0;
    pcre2_code *code = NULL;
    if (n > BROKER_TOPIC_REGEX_MAX) {
        snprintf(why, whylen, "longer than %d bytes", BROKER_TOPIC_REGEX_MAX);
        return HD_EINVAL;
    }
    if (uses_backtracking_syntax(pattern, n)) {
        snprintf(why, whylen, "invalid or unsupported Perl syntax");
        return HD_EINVAL;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (!cc) {
        snprintf(why, whylen, "out of memory");
        return HD_EINVAL;
    }
    pcre2_set_parens_nest_limit(cc, 100);
    code = pcre2_compile((PCRE2_SPTR)pattern, n,
                         PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C,
                         &err, &at, cc);
    pcre2_compile_context_free(cc);
    if (!code) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", err);
        snprintf(why, whylen, "%s at offset %zu", (const char *)msg, (size_t)at);
        return HD_EINVAL;
    }
    uint32_t backrefs = 0;
    pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &backrefs);
    if (backrefs) {
        pcre2_code_free(code);
        snprintf(why, whylen, "invalid escape sequence (backreference)");
        return HD_EINVAL;
    }
    *out = (broker__topic_regex_t *)code;
    return 0;
}

bool broker__topic_regex_matches(const broker__topic_regex_t *re, const char *topic)
{
    if (!match_ctx) {
        match_ctx = pcre2_match_context_create(NULL);
        match_data = pcre2_match_data_create(1, NULL);
        HD_ASSERT(match_ctx && match_data);
        pcre2_set_match_limit(match_ctx, 100000);
        pcre2_set_depth_limit(match_ctx, 2000);
        pcre2_set_heap_limit(match_ctx, 4096); /* KiB */
    }
    int rc = pcre2_match((const pcre2_code *)re, (PCRE2_SPTR)topic, strlen(topic), 0, 0, match_data,
                         match_ctx);
    if (rc >= 0)
        return true;
    if (rc != PCRE2_ERROR_NOMATCH)
        say_warn_every(60, "topic regex: matching topic %s failed (PCRE2 error %d); not taken",
                       topic, rc);
    return false;
}

void broker__topic_regex_free(broker__topic_regex_t *re) { pcre2_code_free((pcre2_code *)re); }
