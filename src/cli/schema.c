/* `herald schema register|get|list|check|delete`: the schema registry from the command line,
 * over its REST API (Herald's, or any Confluent-compatible registry) with libcurl. Answers are
 * printed as the registry gives them (schemas as JSON text); registry errors are printed as
 * "herald schema: <message> (error <code>)" and exit 1. */
#include "cli/cli.h"
#include "cli/http.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REFS 64
#define MAX_FILE (16 << 20)
#define SR_TYPE "application/vnd.schemaregistry.v1+json"

static const char usage[] =
    "usage: herald schema register SUBJECT (--file F | --schema TEXT) [--type AVRO|JSON]\n"
    "                              [--ref NAME=SUBJECT:VERSION]...\n"
    "       herald schema get SUBJECT [VERSION]       the schema of a version (default latest)\n"
    "       herald schema get --id ID                 the schema with that id\n"
    "       herald schema list [SUBJECT]              subjects, or the versions of one\n"
    "       herald schema check SUBJECT (--file F | --schema TEXT) [--version V] [--type T]\n"
    "       herald schema delete SUBJECT [VERSION] [--permanent]\n"
    "\n"
    "  -r, --registry URL     registry base URL (default $HERALD_REGISTRY_URL or\n"
    "                         http://127.0.0.1:8080)\n"
    "  -f, --file F           read the schema from file F ('-': standard input)\n"
    "  -s, --schema TEXT      the schema itself\n"
    "  -t, --type T           AVRO (default) or JSON\n"
    "      --ref N=S:V        a reference: name N is version V of subject S\n"
    "      --id ID            look a schema up by its id\n"
    "  -v, --version V        check against version V only (default: what the subject's\n"
    "                         compatibility level names)\n"
    "      --deleted          include soft-deleted subjects and versions\n"
    "      --permanent        delete for good (after a soft delete)\n"
    "check exits 0 when compatible, 3 when not (the reasons are printed).\n";

enum { OPT_REF = 256, OPT_ID, OPT_DELETED, OPT_PERMANENT };

typedef struct opts {
    const char *registry;
    const char *file, *schema, *type, *version;
    const char *refs[MAX_REFS];
    int nrefs;
    long id;
    bool deleted, permanent;
} opts_t;

typedef cli_resp_t resp_t;

/* Performs one request; returns 0 with the answer in *r, or -1 after printing why. */
static int call(const opts_t *o, const char *method, const char *path, const char *body, resp_t *r)
{
    return cli_http_call("schema", o->registry, method, path, SR_TYPE, SR_TYPE ", application/json",
                         body, r);
}

static char *seg(const char *s) { return cli_http_seg(s); }

/* Prints a registry error answer and returns CLI_EXIT_FAIL. */
static int fail_answer(const resp_t *r)
{
    json_t *j = r->body ? json_loads(r->body, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(j, "detail"));
    long code = (long)json_integer_value(json_object_get(j, "error_code"));
    if (msg)
        fprintf(stderr, "herald schema: %s (error %ld)\n", msg, code ? code : r->status);
    else
        fprintf(stderr, "herald schema: HTTP %ld: %.200s\n", r->status, r->body ? r->body : "");
    json_decref(j);
    return CLI_EXIT_FAIL;
}

static char *read_all(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "herald schema: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    size_t got;
    while ((got = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            if (cap >= MAX_FILE) {
                fprintf(stderr, "herald schema: %s is larger than %d bytes\n", path, MAX_FILE);
                free(b);
                b = NULL;
                break;
            }
            cap *= 2;
            b = realloc(b, cap);
        }
    }
    if (b)
        b[len] = '\0';
    if (f != stdin)
        fclose(f);
    return b;
}

/* The request body {"schema", "schemaType", "references"}; NULL after printing why. */
static char *schema_body(const opts_t *o)
{
    if (!o->file == !o->schema) {
        fprintf(stderr, "herald schema: give the schema with exactly one of --file or --schema\n");
        return NULL;
    }
    char *text = o->file ? read_all(o->file) : strdup(o->schema);
    if (!text)
        return NULL;
    json_t *j = json_object();
    json_object_set_new(j, "schema", json_string(text));
    free(text);
    if (!json_object_get(j, "schema")) {
        fprintf(stderr, "herald schema: the schema is not UTF-8 text\n");
        json_decref(j);
        return NULL;
    }
    if (o->type)
        json_object_set_new(j, "schemaType", json_string(o->type));
    if (o->nrefs) {
        json_t *a = json_array();
        for (int i = 0; i < o->nrefs; i++) {
            const char *eq = strchr(o->refs[i], '='), *colon = strrchr(o->refs[i], ':');
            char *end;
            long v = colon ? strtol(colon + 1, &end, 10) : 0;
            if (!eq || !colon || colon < eq || eq == o->refs[i] || colon == eq + 1 || *end ||
                v < 1) {
                fprintf(stderr, "herald schema: --ref wants NAME=SUBJECT:VERSION, got '%s'\n",
                        o->refs[i]);
                json_decref(a);
                json_decref(j);
                return NULL;
            }
            json_t *r = json_object();
            json_object_set_new(r, "name", json_stringn(o->refs[i], (size_t)(eq - o->refs[i])));
            json_object_set_new(r, "subject", json_stringn(eq + 1, (size_t)(colon - eq - 1)));
            json_object_set_new(r, "version", json_integer(v));
            json_array_append_new(a, r);
        }
        json_object_set_new(j, "references", a);
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int cmd_register(const opts_t *o, const char *subject)
{
    char *body = schema_body(o);
    if (!body)
        return CLI_EXIT_USAGE;
    char *s = seg(subject), path[1024];
    snprintf(path, sizeof path, "/subjects/%s/versions", s);
    free(s);
    resp_t r;
    int rc = CLI_EXIT_FAIL;
    if (call(o, "POST", path, body, &r) == 0) {
        json_t *j = r.status == 200 ? json_loads(r.body ? r.body : "", 0, NULL) : NULL;
        if (json_is_integer(json_object_get(j, "id"))) {
            printf("%lld\n", (long long)json_integer_value(json_object_get(j, "id")));
            rc = CLI_EXIT_OK;
        } else {
            rc = fail_answer(&r);
        }
        json_decref(j);
    }
    free(r.body);
    free(body);
    return rc;
}

static int print_schema_answer(const resp_t *r)
{
    if (r->status != 200)
        return fail_answer(r);
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    const char *schema = json_string_value(json_object_get(j, "schema"));
    int rc = CLI_EXIT_OK;
    if (!schema) {
        rc = fail_answer(r);
    } else {
        json_t *id = json_object_get(j, "id"), *ver = json_object_get(j, "version");
        if (json_is_integer(id) && json_is_integer(ver))
            fprintf(stderr, "subject %s version %lld id %lld\n",
                    json_string_value(json_object_get(j, "subject")),
                    (long long)json_integer_value(ver), (long long)json_integer_value(id));
        printf("%s\n", schema);
    }
    json_decref(j);
    return rc;
}

static int cmd_get(const opts_t *o, const char *subject, const char *version)
{
    char path[1024];
    if (o->id > 0) {
        snprintf(path, sizeof path, "/schemas/ids/%ld", o->id);
    } else {
        char *s = seg(subject), *v = seg(version ? version : "latest");
        snprintf(path, sizeof path, "/subjects/%s/versions/%s%s", s, v,
                 o->deleted ? "?deleted=true" : "");
        free(s);
        free(v);
    }
    resp_t r;
    int rc = CLI_EXIT_FAIL;
    if (call(o, "GET", path, NULL, &r) == 0)
        rc = print_schema_answer(&r);
    free(r.body);
    return rc;
}

static int print_array(const resp_t *r)
{
    json_t *j = r->status == 200 ? json_loads(r->body ? r->body : "", 0, NULL) : NULL;
    if (!json_is_array(j)) {
        json_decref(j);
        return fail_answer(r);
    }
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v)
    {
        if (json_is_string(v))
            printf("%s\n", json_string_value(v));
        else if (json_is_integer(v))
            printf("%lld\n", (long long)json_integer_value(v));
    }
    json_decref(j);
    return CLI_EXIT_OK;
}

static int cmd_list(const opts_t *o, const char *subject)
{
    char path[1024];
    const char *q = o->deleted ? "?deleted=true" : "";
    if (subject) {
        char *s = seg(subject);
        snprintf(path, sizeof path, "/subjects/%s/versions%s", s, q);
        free(s);
    } else {
        snprintf(path, sizeof path, "/subjects%s", q);
    }
    resp_t r;
    int rc = CLI_EXIT_FAIL;
    if (call(o, "GET", path, NULL, &r) == 0)
        rc = print_array(&r);
    free(r.body);
    return rc;
}

static int cmd_check(const opts_t *o, const char *subject)
{
    char *body = schema_body(o);
    if (!body)
        return CLI_EXIT_USAGE;
    char *s = seg(subject), path[1024];
    if (o->version) {
        char *v = seg(o->version);
        snprintf(path, sizeof path, "/compatibility/subjects/%s/versions/%s?verbose=true", s, v);
        free(v);
    } else {
        snprintf(path, sizeof path, "/compatibility/subjects/%s/versions?verbose=true", s);
    }
    free(s);
    resp_t r;
    int rc = CLI_EXIT_FAIL;
    if (call(o, "POST", path, body, &r) == 0) {
        json_t *j = r.status == 200 ? json_loads(r.body ? r.body : "", 0, NULL) : NULL;
        json_t *ok = json_object_get(j, "is_compatible");
        if (!json_is_boolean(ok)) {
            rc = fail_answer(&r);
        } else {
            printf("%s\n", json_is_true(ok) ? "compatible" : "incompatible");
            size_t i;
            json_t *m;
            json_array_foreach(json_object_get(j, "messages"), i, m)
                printf("  %s\n", json_string_value(m) ? json_string_value(m) : "");
            rc = json_is_true(ok) ? CLI_EXIT_OK : 3;
        }
        json_decref(j);
    }
    free(r.body);
    free(body);
    return rc;
}

static int cmd_delete(const opts_t *o, const char *subject, const char *version)
{
    char path[1024];
    char *s = seg(subject);
    const char *q = o->permanent ? "?permanent=true" : "";
    if (version) {
        char *v = seg(version);
        snprintf(path, sizeof path, "/subjects/%s/versions/%s%s", s, v, q);
        free(v);
    } else {
        snprintf(path, sizeof path, "/subjects/%s%s", s, q);
    }
    free(s);
    resp_t r;
    int rc = CLI_EXIT_FAIL;
    if (call(o, "DELETE", path, NULL, &r) == 0) {
        json_t *j =
            r.status == 200 ? json_loads(r.body ? r.body : "", JSON_DECODE_ANY, NULL) : NULL;
        if (json_is_integer(j)) {
            printf("%lld\n", (long long)json_integer_value(j));
            rc = CLI_EXIT_OK;
        } else if (json_is_array(j)) {
            rc = print_array(&r);
        } else {
            rc = fail_answer(&r);
        }
        json_decref(j);
    }
    free(r.body);
    return rc;
}

int cli_schema_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"registry", required_argument, NULL, 'r'},
        {"file", required_argument, NULL, 'f'},
        {"schema", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 't'},
        {"version", required_argument, NULL, 'v'},
        {"ref", required_argument, NULL, OPT_REF},
        {"id", required_argument, NULL, OPT_ID},
        {"deleted", no_argument, NULL, OPT_DELETED},
        {"permanent", no_argument, NULL, OPT_PERMANENT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    opts_t o = {0};
    o.registry = getenv("HERALD_REGISTRY_URL");
    if (!o.registry || !*o.registry)
        o.registry = "http://127.0.0.1:8080";
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    argc--;
    argv++;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "r:f:s:t:v:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.registry = optarg;
            break;
        case 'f':
            o.file = optarg;
            break;
        case 's':
            o.schema = optarg;
            break;
        case 't':
            o.type = optarg;
            break;
        case 'v':
            o.version = optarg;
            break;
        case OPT_REF:
            if (o.nrefs == MAX_REFS) {
                fprintf(stderr, "herald schema: at most %d --ref\n", MAX_REFS);
                return CLI_EXIT_USAGE;
            }
            o.refs[o.nrefs++] = optarg;
            break;
        case OPT_ID: {
            char *end;
            o.id = strtol(optarg, &end, 10);
            if (*end || o.id < 1) {
                fprintf(stderr, "herald schema: --id wants a positive integer\n");
                return CLI_EXIT_USAGE;
            }
            break;
        }
        case OPT_DELETED:
            o.deleted = true;
            break;
        case OPT_PERMANENT:
            o.permanent = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "herald schema: unknown or incomplete option '%s'\n%s",
                    argv[optind - 1], usage);
            return CLI_EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    int rc = CLI_EXIT_USAGE;
    if (!strcmp(sub, "register") && nargs == 1)
        rc = cmd_register(&o, args[0]);
    else if (!strcmp(sub, "get") &&
             ((o.id > 0 && nargs == 0) || (!o.id && (nargs == 1 || nargs == 2))))
        rc = cmd_get(&o, nargs ? args[0] : NULL, nargs == 2 ? args[1] : NULL);
    else if (!strcmp(sub, "list") && nargs <= 1)
        rc = cmd_list(&o, nargs ? args[0] : NULL);
    else if (!strcmp(sub, "check") && nargs == 1)
        rc = cmd_check(&o, args[0]);
    else if (!strcmp(sub, "delete") && (nargs == 1 || nargs == 2))
        rc = cmd_delete(&o, args[0], nargs == 2 ? args[1] : NULL);
    else
        fprintf(stderr, "herald schema: bad arguments for '%s'\n%s", sub, usage);
    return rc;
}
