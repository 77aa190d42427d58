/* `herald doctor`: the architecture check of a running broker (GET /health/architecture over
 * its HTTP API, see docs/doctor.md) as a readable report, grouped by category, each finding
 * with the topics, types, groups, subscriptions and producers behind it. Exit status: 0 when
 * no finding has severity "error" (with --strict: none is a warning either), 3 when one does,
 * 1 when the broker cannot be asked, 2 for bad usage. */
#include "cli/cli.h"
#include "cli/http.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCTOR_EXIT_FINDINGS 3

static const char usage[] =
    "usage: herald doctor [--http URL] [--json] [--strict]\n"
    "\n"
    "  -u, --http URL   the broker's HTTP API (default $HERALD_HTTP_URL or\n"
    "                   http://127.0.0.1:8080)\n"
    "      --json       print the check as the broker answers it (JSON)\n"
    "      --strict     exit 3 on warnings too, not only on errors\n"
    "Exits 0 when healthy, 3 when a finding has severity error (or, with --strict, warning),\n"
    "1 when the broker cannot be asked.\n";

static const char *const categories[][2] = {
    {"event_explosion", "Event explosion"},
    {"weak_contracts", "Weak contracts"},
    {"observability", "Observability"},
    {"fragile_consumers", "Fragile consumers"},
    {"coupling", "Coupling"},
};

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* "topic t · type x · producers a, b": what stands behind a finding. */
static void print_subjects(const json_t *f)
{
    static const char *const keys[] = {"topic", "type", "group", "subscription", "subject"};
    char line[1024];
    size_t n = 0;
    line[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = str(f, keys[i]);
        if (v && n < sizeof line)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %s", n ? " · " : "", keys[i], v);
    }
    static const char *const lists[] = {"producers", "consumers"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *a = json_object_get(f, lists[i]);
        if (json_array_size(a) == 0 || n >= sizeof line)
            continue;
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s ", n ? " · " : "", lists[i]);
        size_t k;
        json_t *x;
        json_array_foreach(a, k, x)
        {
            const char *v = json_is_string(x) ? json_string_value(x) : str(x, "id");
            if (v && n < sizeof line)
                n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", k ? ", " : "", v);
        }
    }
    if (n)
        printf("           %s\n", line);
}

static void print_report(const char *url, const json_t *j)
{
    const json_t *c = json_object_get(j, "counts");
    long long ne = json_integer_value(json_object_get(c, "error"));
    long long nw = json_integer_value(json_object_get(c, "warning"));
    long long ni = json_integer_value(json_object_get(c, "info"));
    const char *status = str(j, "status");
    printf("Architecture health of %s: %s (%lld error%s, %lld warning%s, %lld info)\n", url,
           status ? status : "?", ne, ne == 1 ? "" : "s", nw, nw == 1 ? "" : "s", ni);
    long long samples = json_integer_value(json_object_get(j, "samples"));
    long long every = json_integer_value(json_object_get(j, "sample_interval_ms"));
    printf("History: %lld sample%s every %lld s", samples, samples == 1 ? "" : "s", every / 1000);
    if (!json_is_true(json_object_get(j, "catalog")))
        printf("; the event catalog is off (catalog.enable), so types are not checked");
    printf("\n");
    const json_t *findings = json_object_get(j, "findings");
    for (size_t ci = 0; ci < sizeof categories / sizeof categories[0]; ci++) {
        printf("\n%s\n", categories[ci][1]);
        int shown = 0;
        static const char *const order[] = {"error", "warning", "info"};
        for (int s = 0; s < 3; s++) {
            size_t i;
            json_t *f;
            json_array_foreach(findings, i, f)
            {
                const char *cat = str(f, "category"), *sev = str(f, "severity");
                if (!cat || !sev || strcmp(cat, categories[ci][0]) || strcmp(sev, order[s]))
                    continue;
                char up[16];
                size_t k = 0;
                for (; sev[k] && k < sizeof up - 1; k++)
                    up[k] = (char)(sev[k] >= 'a' && sev[k] <= 'z' ? sev[k] - 32 : sev[k]);
                up[k] = '\0';
                printf("  %-8s %s\n", up, str(f, "message") ? str(f, "message") : "");
                print_subjects(f);
                shown++;
            }
        }
        if (!shown)
            printf("  ok\n");
    }
    const json_t *tc = json_object_get(j, "trace_context");
    const json_t *share = json_object_get(tc, "untraced_share");
    if (json_is_number(share))
        printf("\nTrace context: %.0f%% of %lld records classified carry none\n",
               json_number_value(share) * 100.0,
               (long long)json_integer_value(json_object_get(tc, "records")));
}

int cli_doctor_main(int argc, char **argv)
{
    const char *url = getenv("HERALD_HTTP_URL");
    if (!url || !*url)
        url = "http://127.0.0.1:8080";
    bool as_json = false, strict = false;
    enum { OPT_JSON = 256, OPT_STRICT };
    static const struct option longs[] = {{"http", required_argument, NULL, 'u'},
                                          {"json", no_argument, NULL, OPT_JSON},
                                          {"strict", no_argument, NULL, OPT_STRICT},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "u:h", longs, NULL)) != -1) {
        switch (ch) {
        case 'u':
            url = optarg;
            break;
        case OPT_JSON:
            as_json = true;
            break;
        case OPT_STRICT:
            strict = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            fputs(usage, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    cli_resp_t r;
    if (cli_http_call("doctor", url, "GET", "/health/architecture", NULL, "application/json", NULL,
                      &r) < 0)
        return CLI_EXIT_FAIL;
    json_error_t jerr;
    json_t *j = r.body ? json_loads(r.body, 0, &jerr) : NULL;
    if (r.status != 200 || !json_is_object(j) || !json_is_array(json_object_get(j, "findings"))) {
        fprintf(stderr, "herald doctor: GET %s/health/architecture: HTTP %ld: %.200s\n", url,
                r.status, r.body ? r.body : "");
        json_decref(j);
        free(r.body);
        return CLI_EXIT_FAIL;
    }
    if (as_json)
        printf("%s\n", r.body);
    else
        print_report(url, j);
    free(r.body);
    const json_t *c = json_object_get(j, "counts");
    bool bad = json_integer_value(json_object_get(c, "error")) > 0 ||
               (strict && json_integer_value(json_object_get(c, "warning")) > 0);
    json_decref(j);
    return bad ? DOCTOR_EXIT_FINDINGS : CLI_EXIT_OK;
}
