/* Test driver for the JSON Schema validator (ctest and the integration tests run it).
 *
 *   jsonschema_tool suite REPORT REMOTES METASCHEMAS SUITE_DIR FOCUSED_DIR
 *     Runs every case of the JSON-Schema-Test-Suite draft-07 directory SUITE_DIR (the required
 *     keyword files, then optional/ and optional/format/, the latter with format assertion on)
 *     and of the draft 2020-12 cases in FOCUSED_DIR, then writes the pass rate per file as
 *     Markdown to REPORT. Remote references (http://localhost:1234/...) are served from
 *     REMOTES, the json-schema.org metaschemas from METASCHEMAS/draft7.json and friends. Exits
 *     1 when a required file or a focused file is below 100%.
 *
 *   jsonschema_tool pairs FILE
 *     FILE holds a JSON array of {"schema": ..., "instances": [...]}; prints, per schema, one
 *     line of '1' (valid), '0' (invalid) or 'E' (schema refused) per instance.
 *
 *   jsonschema_tool bench SCHEMA VALUES [SECONDS [STEPS]]
 *     Micro-benchmark of validation on produce: VALUES holds records as herald_bench --values
 *     reads them (a 4-byte big-endian length, then the record in the schema registry's wire
 *     format), SCHEMA the JSON Schema they are checked against. Prints one JSON line with the
 *     microseconds per record of each step: jansson's parse, the walk over its tree, freeing it
 *     (the path validation on produce took before the flat document), and the flat document's
 *     parse and walk (the path it takes now).
 *
 * In `suite` and `pairs`, every instance is also validated as JSON text through the flat
 * document (registry__js_validate_text), which must give the same answer and the same error
 * (keyword, message, both paths) as the walk over the jansson tree: a difference fails the
 * case ("FAIL ... text path differs") and, in `pairs`, prints 'D'. */
#include "registry/registry.h"
#include "registry/registry_int.h"
#include "util/err.h"

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct remotes {
    const char *dir;
    const char *meta;
    json_t *cache; /* uri -> document */
} remotes_t;

static json_t *load(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &e);
    if (!j) /* big integers (optional/bignum.json): read them as reals */
        j = json_load_file(path, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
    return j;
}

static json_t *resolve(void *ctx, const char *uri)
{
    remotes_t *r = ctx;
    json_t *hit = json_object_get(r->cache, uri);
    if (hit)
        return hit;
    char path[4096];
    static const char local[] = "http://localhost:1234/";
    static const struct {
        const char *uri, *file;
    } metas[] = {{"http://json-schema.org/draft-07/schema", "draft7.json"},
                 {"https://json-schema.org/draft/2020-12/schema", "draft2020-12.json"}};
    path[0] = '\0';
    if (!strncmp(uri, local, sizeof local - 1) && !strstr(uri, ".."))
        snprintf(path, sizeof path, "%s/%s", r->dir, uri + sizeof local - 1);
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++)
        if (!strcmp(uri, metas[i].uri))
            snprintf(path, sizeof path, "%s/%s", r->meta, metas[i].file);
    if (!path[0])
        return NULL;
    json_t *doc = load(path);
    if (!doc)
        return NULL;
    json_object_set_new(r->cache, uri, doc);
    return doc;
}

typedef struct tally {
    char name[512];
    int cases, passed;
} tally_t;

/* Validates `inst` again as JSON text through the flat document; returns whether the answer
 * and the error equal (rc, err) of the walk over the jansson tree. */
static bool text_path_agrees(const registry_jsonschema_t *s, const json_t *inst, int rc,
                             const registry_error_t *err, registry_error_t *got, int *got_rc)
{
    char *text = json_dumps(inst, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text)
        return false;
    json_error_t je;
    *got_rc = registry__js_validate_text(s, text, strlen(text), got, &je);
    free(text);
    if (*got_rc != rc)
        return false;
    return rc == 0 || (!strcmp(err->keyword, got->keyword) && !strcmp(err->message, got->message) &&
                       !strcmp(err->instance_path, got->instance_path) &&
                       !strcmp(err->schema_path, got->schema_path));
}

/* Runs one suite file; returns its tally. Failures go to stderr. */
static tally_t run_file(const char *path, const char *name, unsigned flags, remotes_t *rem)
{
    tally_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    json_t *groups = load(path);
    if (!json_is_array(groups)) {
        fprintf(stderr, "%s: not a test file\n", path);
        t.cases = 1;
        json_decref(groups);
        return t;
    }
    size_t gi;
    json_t *g;
    json_array_foreach(groups, gi, g)
    {
        json_t *tests = json_object_get(g, "tests");
        registry_jsonschema_t *s = NULL;
        registry_error_t err;
        int crc = registry_jsonschema_compile(json_object_get(g, "schema"), resolve, rem, flags, &s,
                                              &err);
        size_t ti;
        json_t *tc;
        json_array_foreach(tests, ti, tc)
        {
            t.cases++;
            bool want = json_is_true(json_object_get(tc, "valid"));
            int rc = crc ? crc : registry_jsonschema_validate(s, json_object_get(tc, "data"), &err);
            bool got = rc == 0;
            registry_error_t terr;
            int trc = rc;
            if (!crc && !text_path_agrees(s, json_object_get(tc, "data"), rc, &err, &terr, &trc)) {
                fprintf(stderr,
                        "FAIL %s: %s / %s: text path differs: %s (%s at %s, %s: %s) against %s "
                        "(%s at %s, %s: %s)\n",
                        name, json_string_value(json_object_get(g, "description")),
                        json_string_value(json_object_get(tc, "description")), hd_strerror(trc),
                        terr.keyword, terr.instance_path, terr.schema_path, terr.message,
                        hd_strerror(rc), err.keyword, err.instance_path, err.schema_path,
                        err.message);
                continue;
            }
            if (got == want && (rc == 0 || rc == HD_EINVAL)) {
                t.passed++;
                continue;
            }
            fprintf(stderr, "FAIL %s: %s / %s: expected %s, got %s (%s at %s, %s: %s)\n", name,
                    json_string_value(json_object_get(g, "description")),
                    json_string_value(json_object_get(tc, "description")),
                    want ? "valid" : "invalid", hd_strerror(rc), err.keyword, err.instance_path,
                    err.schema_path, err.message);
        }
        registry_jsonschema_free(s);
    }
    json_decref(groups);
    return t;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every *.json directly in dir, in name order, appending tallies. */
static size_t run_dir(const char *dir, const char *prefix, unsigned flags, remotes_t *rem,
                      tally_t *out, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char *names[512];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512) {
        size_t l = strlen(e->d_name);
        if (l > 5 && !strcmp(e->d_name + l - 5, ".json"))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], name_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < cap) {
            char path[4096], label[512];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            snprintf(label, sizeof label, "%s%.*s", prefix, (int)(strlen(names[i]) - 5), names[i]);
            out[k++] = run_file(path, label, flags, rem);
        }
        free(names[i]);
    }
    return k;
}

static void section(FILE *f, const char *title, const tally_t *t, size_t n, int *cases, int *passed)
{
    fprintf(f, "\n## %s\n\n| file | cases | passed | rate |\n|---|---:|---:|---:|\n", title);
    int c = 0, p = 0;
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "| %s | %d | %d | %.1f%% |\n", t[i].name, t[i].cases, t[i].passed,
                t[i].cases ? 100.0 * t[i].passed / t[i].cases : 100.0);
        c += t[i].cases;
        p += t[i].passed;
    }
    fprintf(f, "| **total** | %d | %d | %.1f%% |\n", c, p, c ? 100.0 * p / c : 100.0);
    *cases = c;
    *passed = p;
}

static bool all_pass(const tally_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].passed != t[i].cases)
            return false;
    return true;
}

static int cmd_suite(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s suite REPORT REMOTES METASCHEMAS SUITE_DIR FOCUSED_DIR\n",
                argv[0]);
        return 2;
    }
    const char *report = argv[2], *suite = argv[5], *focused = argv[6];
    remotes_t rem = {argv[3], argv[4], json_object()};
    static tally_t req[256], opt[64], fmt[64], foc[64];
    char dir[4096];
    size_t nreq = run_dir(suite, "", 0, &rem, req, 256);
    snprintf(dir, sizeof dir, "%s/optional", suite);
    size_t nopt = run_dir(dir, "optional/", REGISTRY_JSONSCHEMA_FORMAT_ASSERT, &rem, opt, 64);
    snprintf(dir, sizeof dir, "%s/optional/format", suite);
    size_t nfmt =
        run_dir(dir, "optional/format/", REGISTRY_JSONSCHEMA_FORMAT_ASSERT, &rem, fmt, 64);
    size_t nfoc = run_dir(focused, "", REGISTRY_JSONSCHEMA_DEFAULT_2020_12, &rem, foc, 64);
    json_decref(rem.cache);
    if (nreq == 0 || nfoc == 0) {
        fprintf(stderr, "no test files found under %s or %s\n", suite, focused);
        return 1;
    }

    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", report);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        return 1;
    }
    int c, p;
    fprintf(f, "# JSON Schema conformance\n\n"
               "Herald's JSON Schema validator (src/registry/) against every draft-07 case of "
               "the official JSON-Schema-Test-Suite (Debian package `json-schema-test-suite`), and "
               "against Herald's own draft 2020-12 cases in tests/data/jsonschema/. Written by "
               "`jsonschema_tool suite`, which ctest runs (test `jsonschema_suite`); the test "
               "fails when a required keyword file or a 2020-12 file drops below 100%%.\n\n"
               "The optional files are reported apart: `format` is only an annotation unless a "
               "schema is compiled with format assertion, which the optional files use. "
               "Formats Herald does not check (iri, iri-reference, idn-email, idn-hostname, "
               "uri-template) pass every valid case and fail the invalid ones; contentEncoding and "
               "contentMediaType are annotations only (optional/content). Integers too big "
               "for 64 bits (optional/bignum) are read as doubles.\n");
    section(f, "Draft-07: required keywords", req, nreq, &c, &p);
    section(f, "Draft-07: optional", opt, nopt, &c, &p);
    section(f, "Draft-07: optional formats (format assertion on)", fmt, nfmt, &c, &p);
    section(f, "Draft 2020-12: focused cases (tests/data/jsonschema/)", foc, nfoc, &c, &p);
    if (fclose(f) != 0 || rename(tmp, report) != 0) {
        perror(report);
        return 1;
    }
    bool ok = all_pass(req, nreq) && all_pass(foc, nfoc);
    int cr = 0, pr = 0;
    for (size_t i = 0; i < nreq; i++) {
        cr += req[i].cases;
        pr += req[i].passed;
    }
    printf("draft-07 required: %d/%d passed; report in %s\n", pr, cr, report);
    return ok ? 0 : 1;
}

static int cmd_pairs(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s pairs FILE\n", argv[0]);
        return 2;
    }
    json_t *all = load(argv[2]);
    if (!json_is_array(all)) {
        fprintf(stderr, "%s: not a JSON array\n", argv[2]);
        return 1;
    }
    size_t i;
    json_t *pair;
    json_array_foreach(all, i, pair)
    {
        registry_jsonschema_t *s = NULL;
        registry_error_t err;
        int crc =
            registry_jsonschema_compile(json_object_get(pair, "schema"), NULL, NULL, 0, &s, &err);
        json_t *insts = json_object_get(pair, "instances");
        for (size_t k = 0; k < json_array_size(insts); k++) {
            int rc = crc ? crc : registry_jsonschema_validate(s, json_array_get(insts, k), &err);
            registry_error_t terr;
            int trc;
            if (!crc && !text_path_agrees(s, json_array_get(insts, k), rc, &err, &terr, &trc)) {
                fprintf(stderr,
                        "pair %zu instance %zu: text path differs: %s (%s) against %s (%s)\n", i, k,
                        hd_strerror(trc), terr.message, hd_strerror(rc), err.message);
                putchar('D');
                continue;
            }
            putchar(crc ? 'E' : rc == 0 ? '1' : rc == HD_EINVAL ? '0' : 'L');
        }
        putchar('\n');
        registry_jsonschema_free(s);
    }
    json_decref(all);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine may be busy */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct rec {
    const char *p;
    size_t len;
} rec_t;

static int cmd_bench(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s bench SCHEMA VALUES [SECONDS [STEPS]]\n", argv[0]);
        return 2;
    }
    double secs = argc > 4 ? atof(argv[4]) : 2.0;
    const char *steps = argc > 5 ? argv[5] : "0123"; /* which measurements (for profiling) */
    json_t *schema = load(argv[2]);
    registry_jsonschema_t *s = NULL;
    registry_error_t err;
    if (!schema || registry_jsonschema_compile(schema, NULL, NULL, 0, &s, &err) < 0) {
        fprintf(stderr, "%s: not a schema\n", argv[2]);
        return 1;
    }
    FILE *f = fopen(argv[3], "rb");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    size_t cap = 0, n = 0;
    rec_t *recs = NULL;
    unsigned char hdr[4];
    while (fread(hdr, 1, 4, f) == 4) {
        size_t len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
        char *p = malloc(len ? len : 1);
        if (!p || fread(p, 1, len, f) != len || len < 5) {
            fprintf(stderr, "%s: truncated record\n", argv[3]);
            return 1;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            recs = realloc(recs, cap * sizeof *recs);
        }
        recs[n++] = (rec_t){p + 5, len - 5}; /* past the wire-format header */
    }
    fclose(f);
    if (!n)
        return 1;
    size_t total_bytes = 0;
    for (size_t i = 0; i < n; i++)
        total_bytes += recs[i].len;
    /* Each measurement loops over the records for about `secs` seconds. */
    double t_jparse = 0, t_jfull = 0, t_fast = 0, t_fparse = 0;
    long bad = 0;
    for (int m = 0; m < 4; m++) {
        if (!strchr(steps, '0' + m))
            continue;
        size_t done = 0;
        double t0 = now_s(), t;
        registry__jdoc_t doc;
        registry__jdoc_init(&doc);
        do {
            for (size_t i = 0; i < n; i++) {
                const rec_t *r = &recs[i];
                if (m == 0) {
                    json_t *j = json_loadb(r->p, r->len, JSON_DECODE_ANY, NULL);
                    json_decref(j);
                } else if (m == 1) {
                    json_t *j = json_loadb(r->p, r->len, JSON_DECODE_ANY, NULL);
                    bad += registry_jsonschema_validate(s, j, &err) != 0;
                    json_decref(j);
                } else if (m == 2) {
                    bad += registry__jdoc_parse(&doc, r->p, r->len) != 0;
                } else {
                    json_error_t je;
                    bad += registry__js_validate_text(s, r->p, r->len, &err, &je) != 0;
                }
            }
            done += n;
            t = now_s() - t0;
        } while (t < secs);
        registry__jdoc_deinit(&doc);
        double us = t * 1e6 / (double)done;
        if (m == 0)
            t_jparse = us;
        else if (m == 1)
            t_jfull = us;
        else if (m == 2)
            t_fparse = us;
        else
            t_fast = us;
    }
    printf("{\"records\": %zu, \"mean_bytes\": %.0f, \"jansson_parse_free_us\": %.3f, "
           "\"jansson_path_us\": %.3f, \"flat_parse_us\": %.3f, \"flat_path_us\": %.3f, "
           "\"invalid\": %ld}\n",
           n, (double)total_bytes / (double)n, t_jparse, t_jfull, t_fparse, t_fast, bad);
    for (size_t i = 0; i < n; i++)
        free((char *)recs[i].p - 5);
    free(recs);
    registry_jsonschema_free(s);
    json_decref(schema);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "suite"))
        return cmd_suite(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "pairs"))
        return cmd_pairs(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "bench"))
        return cmd_bench(argc, argv);
    fprintf(stderr, "usage: %s suite ... | pairs FILE | bench SCHEMA VALUES [SECONDS]\n", argv[0]);
    return 2;
}
