/* The registry's model and operations: subjects and their versions, schemas by id and by
 * identity, compatibility levels, registration, lookups, deletion and compatibility checks.
 *
 * Identity: two submissions are the same schema when their type, their references and their
 * text normalized as JSON (parsed and printed compactly, members in their given order, so
 * whitespace does not count) are equal. The same schema under several subjects shares one id;
 * ids are never reused, not even after a permanent deletion.
 *
 * Every change goes through store.c: it is appended to the registry's log, applied to memory at
 * once, and answered once durable (registry_wait). Reads see applied changes. */
#include "registry/registry_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/say.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_DEPTH 16

void registry__err(registry_err_t *err, int code, const char *fmt, ...)
{
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

int registry_err_status(int code)
{
    if (code == REGISTRY_EINCOMPATIBLE)
        return 409;
    if (code >= 10000)
        return code / 100;
    return code >= 100 && code < 600 ? code : 500;
}

/* ---- names ---- */

const char *registry_type_name(int type)
{
    switch (type) {
    case REGISTRY_AVRO:
        return "AVRO";
    case REGISTRY_JSON:
        return "JSON";
    case REGISTRY_PROTOBUF:
        return "PROTOBUF";
    }
    return "?";
}

int registry_type_parse(const char *name)
{
    if (!name)
        return -1;
    for (int t = REGISTRY_AVRO; t <= REGISTRY_PROTOBUF; t++)
        if (!strcmp(name, registry_type_name(t)))
            return t;
    return -1;
}

const registry__type_t *registry__type(int type)
{
    if (type == REGISTRY_AVRO)
        return registry__type_avro();
    if (type == REGISTRY_JSON)
        return registry__type_json();
    return NULL;
}

bool registry_type_supported(int type) { return registry__type(type) != NULL; }

static const char *const compat_names[] = {
    "NONE", "BACKWARD",        "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
    "FULL", "FULL_TRANSITIVE",
};

const char *registry_compat_name(int level)
{
    return level >= 0 && level < (int)HD_ARRAY_LEN(compat_names) ? compat_names[level] : "?";
}

int registry_compat_parse(const char *name)
{
    for (int i = 0; name && i < (int)HD_ARRAY_LEN(compat_names); i++)
        if (!strcmp(name, compat_names[i]))
            return i;
    return -1;
}

static int level_direction(int level)
{
    switch (level) {
    case REGISTRY_BACKWARD:
    case REGISTRY_BACKWARD_TRANSITIVE:
        return REGISTRY_DIR_BACKWARD;
    case REGISTRY_FORWARD:
    case REGISTRY_FORWARD_TRANSITIVE:
        return REGISTRY_DIR_FORWARD;
    case REGISTRY_FULL:
    case REGISTRY_FULL_TRANSITIVE:
        return REGISTRY_DIR_FULL;
    }
    return 0;
}

static bool level_transitive(int level)
{
    return level == REGISTRY_BACKWARD_TRANSITIVE || level == REGISTRY_FORWARD_TRANSITIVE ||
           level == REGISTRY_FULL_TRANSITIVE;
}

bool registry_subject_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REGISTRY_MAX_SUBJECT)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* ---- accessors ---- */

int32_t registry_schema_id(const registry_schema_t *s) { return s->id; }
int registry_schema_type(const registry_schema_t *s) { return s->type; }
const char *registry_schema_text(const registry_schema_t *s) { return s->text; }
int registry_schema_refs(const registry_schema_t *s, const registry_ref_t **refs)
{
    *refs = s->refs;
    return s->nrefs;
}

/* ---- the model ---- */

registry_t *registry__new(broker_t *b, broker_partition_t *log)
{
    registry_t *reg = hd_calloc(1, sizeof *reg);
    reg->broker = b;
    reg->log = log;
    hd_strmap_init(&reg->subjects);
    hd_strmap_init(&reg->by_key);
    hd_strmap_init(&reg->by_id);
    hd_buf_init(&reg->scratch);
    reg->global_compat = -1;
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&reg->lock, &a);
    pthread_rwlockattr_destroy(&a);
    pthread_mutex_init(&reg->compile_lock, NULL);
    return reg;
}

void registry_read_begin(registry_t *reg) { pthread_rwlock_rdlock(&reg->lock); }

void registry_read_end(registry_t *reg) { pthread_rwlock_unlock(&reg->lock); }

int registry_open(broker_t *b, registry_t **out)
{
    broker_partition_t *log;
    int rc = broker_internal_log_open(b, "__schemas", &log);
    if (rc < 0) {
        say_error("schema registry: cannot open its log: %s", hd_strerror(rc));
        return rc;
    }
    registry_t *reg = registry__new(b, log);
    rc = registry__store_replay(reg);
    if (rc < 0) {
        say_error("schema registry: replay failed: %s", hd_strerror(rc));
        registry_close(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

static void schema_free(registry_schema_t *s)
{
    const registry__type_t *t = registry__type(s->type);
    if (s->compiled && t)
        t->free(s->compiled);
    for (int i = 0; i < s->nrefs; i++) {
        free((char *)s->refs[i].name);
        free((char *)s->refs[i].subject);
    }
    free(s->refs);
    free(s->text);
    free(s->key);
    json_decref(s->doc);
    free(s);
}

void registry_close(registry_t *reg)
{
    if (!reg)
        return;
    for (int i = 0; i < reg->nsubj; i++) {
        free(reg->subj[i]->v);
        free(reg->subj[i]->name);
        free(reg->subj[i]);
    }
    free(reg->subj);
    for (int i = 0; i < reg->nschemas; i++)
        schema_free(reg->schemas[i]);
    free(reg->schemas);
    hd_strmap_deinit(&reg->subjects);
    hd_strmap_deinit(&reg->by_key);
    hd_strmap_deinit(&reg->by_id);
    hd_buf_deinit(&reg->scratch);
    pthread_rwlock_destroy(&reg->lock);
    pthread_mutex_destroy(&reg->compile_lock);
    free(reg);
}

registry__subject_t *registry__subject(registry_t *reg, const char *name, bool create)
{
    registry__subject_t *s = hd_strmap_get(&reg->subjects, name);
    if (s || !create)
        return s;
    s = hd_calloc(1, sizeof *s);
    s->name = hd_strdup(name);
    s->compat = -1;
    if (reg->nsubj == reg->cap_subj) {
        reg->cap_subj = reg->cap_subj ? 2 * reg->cap_subj : 16;
        reg->subj = hd_realloc(reg->subj, sizeof *reg->subj * (size_t)reg->cap_subj);
    }
    reg->subj[reg->nsubj++] = s;
    hd_strmap_put(&reg->subjects, s->name, s);
    return s;
}

registry_schema_t *registry__schema_by_id(registry_t *reg, int32_t id)
{
    char k[12];
    snprintf(k, sizeof k, "%d", id);
    return hd_strmap_get(&reg->by_id, k);
}

char *registry__identity(int type, const char *text, const registry_ref_t *refs, int nrefs)
{
    hd_buf_t b;
    hd_buf_init(&b);
    const char *tn = registry_type_name(type);
    hd_buf_put(&b, tn, strlen(tn));
    for (int i = 0; i < nrefs; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", refs[i].version);
        hd_buf_put_u8(&b, '\n');
        hd_buf_put(&b, refs[i].name, strlen(refs[i].name));
        hd_buf_put_u8(&b, '\t');
        hd_buf_put(&b, refs[i].subject, strlen(refs[i].subject));
        hd_buf_put_u8(&b, '\t');
        hd_buf_put(&b, v, strlen(v));
    }
    hd_buf_put(&b, "\n\n", 2);
    hd_buf_put(&b, text, strlen(text));
    hd_buf_put_u8(&b, '\0');
    return (char *)b.p;
}

json_t *registry__parse_text(const char *text, size_t len, char **normalized, char *why,
                             size_t whylen)
{
    json_error_t e;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        snprintf(why, whylen, "the schema is not valid JSON: %.100s (line %d, column %d)", e.text,
                 e.line, e.column);
        return NULL;
    }
    if (normalized) {
        *normalized = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!*normalized) {
            json_decref(j);
            snprintf(why, whylen, "the schema cannot be printed as JSON");
            return NULL;
        }
    }
    return j;
}

static registry_schema_t *schema_add(registry_t *reg, const registry__entry_t *e, char *key)
{
    registry_schema_t *s = hd_calloc(1, sizeof *s);
    s->id = e->id;
    s->type = e->type;
    s->text = hd_strdup(e->text);
    s->key = key;
    s->nrefs = e->nrefs;
    s->refs = hd_calloc((size_t)(e->nrefs ? e->nrefs : 1), sizeof *s->refs);
    for (int i = 0; i < e->nrefs; i++) {
        s->refs[i].name = hd_strdup(e->refs[i].name);
        s->refs[i].subject = hd_strdup(e->refs[i].subject);
        s->refs[i].version = e->refs[i].version;
    }
    snprintf(s->idstr, sizeof s->idstr, "%d", s->id);
    /* Parsed now, on the loop thread, so that the document never changes once other threads
     * may read it (a text that does not parse is reported when the schema is used). */
    char why[200];
    s->doc = registry__parse_text(s->text, strlen(s->text), NULL, why, sizeof why);
    if (reg->nschemas == reg->cap_schemas) {
        reg->cap_schemas = reg->cap_schemas ? 2 * reg->cap_schemas : 16;
        reg->schemas = hd_realloc(reg->schemas, sizeof *reg->schemas * (size_t)reg->cap_schemas);
    }
    reg->schemas[reg->nschemas++] = s;
    hd_strmap_put(&reg->by_id, s->idstr, s);
    if (!hd_strmap_get(&reg->by_key, s->key))
        hd_strmap_put(&reg->by_key, s->key, s);
    if (s->id > reg->max_id)
        reg->max_id = s->id;
    return s;
}

static registry__ver_t *find_ver(registry__subject_t *s, int32_t version)
{
    for (int i = 0; s && i < s->nv; i++)
        if (s->v[i].version == version)
            return &s->v[i];
    return NULL;
}

static bool apply_locked(registry_t *reg, const registry__entry_t *e);

bool registry__apply(registry_t *reg, const registry__entry_t *e)
{
    pthread_rwlock_wrlock(&reg->lock);
    bool ok = apply_locked(reg, e);
    pthread_rwlock_unlock(&reg->lock);
    return ok;
}

static bool apply_locked(registry_t *reg, const registry__entry_t *e)
{
    if (e->kind == REGISTRY__E_CONFIG) {
        if (!e->subject) {
            reg->global_compat = e->compat;
            return true;
        }
        if (!registry_subject_valid(e->subject))
            return false;
        registry__subject(reg, e->subject, true)->compat = e->compat;
        return true;
    }
    if (e->kind == REGISTRY__E_DELETE) {
        registry__subject_t *s = registry__subject(reg, e->subject, false);
        registry__ver_t *v = find_ver(s, e->version);
        if (!v)
            return false;
        if (!e->permanent) {
            v->deleted = true;
            return true;
        }
        v->schema->uses--;
        int i = (int)(v - s->v);
        memmove(&s->v[i], &s->v[i + 1], sizeof *s->v * (size_t)(s->nv - i - 1));
        s->nv--;
        return true;
    }
    if (!registry_subject_valid(e->subject) || e->id <= 0 || e->version <= 0 || !e->text ||
        e->type < 0 || e->nrefs < 0 || e->nrefs > REGISTRY_MAX_REFS)
        return false;
    for (int i = 0; i < e->nrefs; i++)
        if (!e->refs[i].name || !e->refs[i].subject)
            return false;
    registry__subject_t *existing = registry__subject(reg, e->subject, false);
    if (find_ver(existing, e->version))
        return false;
    char *key = registry__identity(e->type, e->text, e->refs, e->nrefs);
    registry_schema_t *sc = registry__schema_by_id(reg, e->id);
    if (sc) {
        bool same = !strcmp(sc->key, key);
        free(key);
        if (!same)
            return false;
    } else {
        sc = schema_add(reg, e, key);
    }
    registry__subject_t *s = registry__subject(reg, e->subject, true);
    if (s->nv == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->v = hd_realloc(s->v, sizeof *s->v * (size_t)s->cap);
    }
    int at = s->nv;
    while (at > 0 && s->v[at - 1].version > e->version)
        at--;
    memmove(&s->v[at + 1], &s->v[at], sizeof *s->v * (size_t)(s->nv - at));
    s->v[at] = (registry__ver_t){e->version, false, sc};
    s->nv++;
    sc->uses++;
    return true;
}

/* ---- reads ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool subject_visible(const registry__subject_t *s, bool deleted)
{
    for (int i = 0; i < s->nv; i++)
        if (deleted || !s->v[i].deleted)
            return true;
    return false;
}

int registry_subjects(registry_t *reg, bool deleted, const char ***out)
{
    const char **names = hd_malloc(sizeof *names * (size_t)(reg->nsubj ? reg->nsubj : 1));
    int n = 0;
    for (int i = 0; i < reg->nsubj; i++)
        if (subject_visible(reg->subj[i], deleted))
            names[n++] = reg->subj[i]->name;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    *out = names;
    return n;
}

/* The subject, or NULL with 40401 when it has no version visible. */
static registry__subject_t *visible_subject(registry_t *reg, const char *name, bool deleted,
                                            registry_err_t *err)
{
    registry__subject_t *s = registry__subject(reg, name, false);
    if (!s || !subject_visible(s, deleted)) {
        registry__err(err, REGISTRY_ESUBJECT_NOT_FOUND, "Subject '%s' not found.", name);
        return NULL;
    }
    return s;
}

int registry_versions(registry_t *reg, const char *subject, bool deleted, int32_t **out,
                      registry_err_t *err)
{
    registry__subject_t *s = visible_subject(reg, subject, deleted, err);
    if (!s)
        return -1;
    int32_t *v = hd_malloc(sizeof *v * (size_t)s->nv);
    int n = 0;
    for (int i = 0; i < s->nv; i++)
        if (deleted || !s->v[i].deleted)
            v[n++] = s->v[i].version;
    *out = v;
    return n;
}

/* Parses a version: 1..2^31-1, "latest" or -1 (0 for latest). -1 with 42202 otherwise. */
static int parse_version(const char *vs, int32_t *out, registry_err_t *err)
{
    if (!strcmp(vs, "latest") || !strcmp(vs, "-1")) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(vs, &end, 10);
    if (!*vs || *end || errno || v < 1 || v > INT32_MAX) {
        registry__err(err, REGISTRY_EINVALID_VERSION,
                      "The specified version '%s' is not a valid version id. Allowed values are "
                      "between [1, 2^31-1] and the string \"latest\"",
                      vs);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static registry__ver_t *latest(registry__subject_t *s, bool deleted)
{
    for (int i = s->nv; i-- > 0;)
        if (deleted || !s->v[i].deleted)
            return &s->v[i];
    return NULL;
}

/* Finds a version of a visible subject; sets err when there is none. */
static registry__ver_t *get_ver(registry_t *reg, const char *subject, const char *vs, bool deleted,
                                registry__subject_t **sp, registry_err_t *err)
{
    int32_t v;
    if (parse_version(vs, &v, err) < 0)
        return NULL;
    registry__subject_t *s = visible_subject(reg, subject, deleted, err);
    if (!s)
        return NULL;
    registry__ver_t *ver = v == 0 ? latest(s, deleted) : find_ver(s, v);
    if (!ver || (ver->deleted && !deleted)) {
        registry__err(err, REGISTRY_EVERSION_NOT_FOUND, "Version %s not found.", vs);
        return NULL;
    }
    if (sp)
        *sp = s;
    return ver;
}

static void fill(registry_version_t *out, const registry__subject_t *s, const registry__ver_t *v)
{
    out->subject = s->name;
    out->version = v->version;
    out->deleted = v->deleted;
    out->schema = v->schema;
}

int registry_version_get(registry_t *reg, const char *subject, const char *vs, bool deleted,
                         registry_version_t *out, registry_err_t *err)
{
    registry__subject_t *s;
    registry__ver_t *v = get_ver(reg, subject, vs, deleted, &s, err);
    if (!v)
        return -1;
    fill(out, s, v);
    return 0;
}

int registry_schema_get(registry_t *reg, int32_t id, const registry_schema_t **out,
                        registry_err_t *err)
{
    registry_schema_t *s = registry__schema_by_id(reg, id);
    if (!s || s->uses == 0) {
        registry__err(err, REGISTRY_ESCHEMA_NOT_FOUND, "Schema %d not found", id);
        return -1;
    }
    *out = s;
    return 0;
}

int registry_schema_versions(registry_t *reg, int32_t id, bool deleted, registry_version_t **out,
                             registry_err_t *err)
{
    const registry_schema_t *sc;
    if (registry_schema_get(reg, id, &sc, err) < 0)
        return -1;
    int n = 0, cap = 4;
    registry_version_t *v = hd_malloc(sizeof *v * (size_t)cap);
    const char **names;
    int ns = registry_subjects(reg, true, &names);
    for (int i = 0; i < ns; i++) {
        registry__subject_t *s = registry__subject(reg, names[i], false);
        for (int k = 0; k < s->nv; k++) {
            if (s->v[k].schema != sc || (s->v[k].deleted && !deleted))
                continue;
            if (n == cap)
                v = hd_realloc(v, sizeof *v * (size_t)(cap *= 2));
            fill(&v[n++], s, &s->v[k]);
        }
    }
    free(names);
    *out = v;
    return n;
}

/* ---- a submitted schema, prepared ---- */

typedef struct cand {
    int type;
    json_t *doc;
    char *text;
    char *key;
    /* The referenced schemas, dependencies first (for Avro: types defined before use). */
    json_t *ref_docs[REGISTRY_MAX_REFS];
    const char *ref_names[REGISTRY_MAX_REFS];
    int nref_docs;
} cand_t;

static void cand_deinit(cand_t *c)
{
    json_decref(c->doc);
    free(c->text);
    free(c->key);
    for (int i = 0; i < c->nref_docs; i++)
        json_decref(c->ref_docs[i]);
}

/* Adds the schemas refs name (and theirs, first), each once. */
static int collect_refs(registry_t *reg, const registry_ref_t *refs, int nrefs, cand_t *c,
                        int depth, registry_err_t *err)
{
    if (depth > REF_DEPTH) {
        registry__err(err, REGISTRY_EINVALID_SCHEMA, "Invalid schema: references nest too deeply");
        return -1;
    }
    for (int i = 0; i < nrefs; i++) {
        registry__subject_t *s = registry__subject(reg, refs[i].subject, false);
        registry__ver_t *v = find_ver(s, refs[i].version);
        if (!v) {
            registry__err(err, REGISTRY_EINVALID_SCHEMA,
                          "Invalid schema: the reference '%s' names subject '%s' version %d, "
                          "which does not exist",
                          refs[i].name, refs[i].subject, refs[i].version);
            return -1;
        }
        registry_schema_t *rs = v->schema;
        if (rs->type != c->type) {
            registry__err(err, REGISTRY_EINVALID_SCHEMA,
                          "Invalid schema: the reference '%s' is a %s schema, not %s", refs[i].name,
                          registry_type_name(rs->type), registry_type_name(c->type));
            return -1;
        }
        if (collect_refs(reg, rs->refs, rs->nrefs, c, depth + 1, err) < 0)
            return -1;
        if (!rs->doc) {
            char why[200];
            json_decref(registry__parse_text(rs->text, strlen(rs->text), NULL, why, sizeof why));
            registry__err(err, REGISTRY_EINVALID_SCHEMA, "Invalid schema: reference '%s': %s",
                          refs[i].name, why);
            return -1;
        }
        bool have = false;
        for (int k = 0; k < c->nref_docs && !have; k++)
            have = c->ref_docs[k] == rs->doc;
        if (have)
            continue;
        if (c->nref_docs == REGISTRY_MAX_REFS) {
            registry__err(err, REGISTRY_EINVALID_SCHEMA, "Invalid schema: too many references");
            return -1;
        }
        c->ref_docs[c->nref_docs] = json_incref(rs->doc);
        c->ref_names[c->nref_docs] = refs[i].name;
        c->nref_docs++;
    }
    return 0;
}

/* Parses and normalizes a submission; checks the type and size. The schema's own validity is
 * checked by check_cand (registration and compatibility checks need it; lookups do not). */
static int cand_init(registry_t *reg, const registry_schema_in_t *in, cand_t *c,
                     registry_err_t *err)
{
    memset(c, 0, sizeof *c);
    c->type = in->type;
    if (!registry_type_supported(in->type)) {
        registry__err(err, REGISTRY_EINVALID_SCHEMA,
                      "Invalid schema: schema type %s is not supported here (supported: AVRO%s)",
                      registry_type_name(in->type),
                      registry_type_supported(REGISTRY_JSON) ? ", JSON" : "");
        return -1;
    }
    if (in->len > REGISTRY_MAX_SCHEMA_BYTES) {
        registry__err(err, REGISTRY_ESCHEMA_TOO_LARGE, "Schema too large: %zu bytes (at most %d)",
                      in->len, REGISTRY_MAX_SCHEMA_BYTES);
        return -1;
    }
    if (in->nrefs > REGISTRY_MAX_REFS) {
        registry__err(err, REGISTRY_EINVALID_SCHEMA, "Invalid schema: more than %d references",
                      REGISTRY_MAX_REFS);
        return -1;
    }
    char why[300];
    c->doc = registry__parse_text(in->text, in->len, &c->text, why, sizeof why);
    if (!c->doc) {
        registry__err(err, REGISTRY_EINVALID_SCHEMA, "Invalid schema: %s", why);
        return -1;
    }
    c->key = registry__identity(in->type, c->text, in->refs, in->nrefs);
    return collect_refs(reg, in->refs, in->nrefs, c, 0, err);
}

static int check_cand(cand_t *c, registry_err_t *err)
{
    char why[400];
    const registry__type_t *t = registry__type(c->type);
    if (t->check(c->doc, c->ref_docs, c->ref_names, c->nref_docs, why, sizeof why) < 0) {
        registry__err(err, REGISTRY_EINVALID_SCHEMA, "Invalid schema: %s", why);
        return -1;
    }
    return 0;
}

/* The parsed documents of a stored schema's references (references' references first). */
static int stored_refs(registry_t *reg, registry_schema_t *s, cand_t *c, registry_err_t *err)
{
    memset(c, 0, sizeof *c);
    c->type = s->type;
    if (!s->doc) {
        char why[200];
        json_decref(registry__parse_text(s->text, strlen(s->text), NULL, why, sizeof why));
        registry__err(err, REGISTRY_ESTORE, "Stored schema %d does not parse: %s", s->id, why);
        return -1;
    }
    c->doc = json_incref(s->doc);
    return collect_refs(reg, s->refs, s->nrefs, c, 0, err);
}

/* ---- compatibility ---- */

/* Checks c against the stored version v in direction dir; reasons into msgs. */
static bool compatible_with(registry_t *reg, cand_t *c, registry__ver_t *v, int dir, int level,
                            json_t *msgs)
{
    registry_err_t err;
    if (v->schema->type != c->type) {
        if (json_is_array(msgs))
            json_array_append_new(
                msgs, json_sprintf("{errorType:'TYPE_MISMATCH', description:'The schema type %s "
                                   "differs from the type %s of version %d'}",
                                   registry_type_name(c->type), registry_type_name(v->schema->type),
                                   v->version));
        return false;
    }
    cand_t old;
    if (stored_refs(reg, v->schema, &old, &err) < 0) {
        if (json_is_array(msgs))
            json_array_append_new(msgs, json_string(err.message));
        cand_deinit(&old);
        return false;
    }
    const registry__type_t *t = registry__type(c->type);
    bool ok = t->compatible(old.doc, old.ref_docs, old.ref_names, old.nref_docs, c->doc,
                            c->ref_docs, c->ref_names, c->nref_docs, dir, msgs);
    cand_deinit(&old);
    if (!ok && json_is_array(msgs)) {
        json_array_append_new(msgs, json_sprintf("{oldSchemaVersion: %d}", v->version));
        json_array_append_new(msgs, json_sprintf("{oldSchema: '%s'}", v->schema->text));
        json_array_append_new(msgs,
                              json_sprintf("{compatibility: '%s'}", registry_compat_name(level)));
    }
    return ok;
}

static int subject_level(registry_t *reg, registry__subject_t *s)
{
    if (s && s->compat >= 0)
        return s->compat;
    return reg->global_compat >= 0 ? reg->global_compat : REGISTRY_BACKWARD;
}

/* Checks c against what the subject's level names: the latest live version, or every live
 * version for the transitive levels. */
static bool compatible_by_level(registry_t *reg, registry__subject_t *s, cand_t *c, json_t *msgs)
{
    int level = subject_level(reg, s);
    int dir = level_direction(level);
    if (!s || !dir)
        return true;
    if (!level_transitive(level)) {
        registry__ver_t *v = latest(s, false);
        return !v || compatible_with(reg, c, v, dir, level, msgs);
    }
    bool ok = true;
    for (int i = s->nv; i-- > 0 && ok;)
        if (!s->v[i].deleted)
            ok = compatible_with(reg, c, &s->v[i], dir, level, msgs);
    return ok;
}

int registry_check(registry_t *reg, const char *subject, const char *vs,
                   const registry_schema_in_t *in, bool *ok, json_t *messages, registry_err_t *err)
{
    registry__subject_t *s = registry__subject(reg, subject, false);
    registry__ver_t *v = NULL;
    if (vs && !(v = get_ver(reg, subject, vs, false, &s, err)))
        return -1;
    cand_t c;
    int rc = -1;
    if (cand_init(reg, in, &c, err) < 0 || check_cand(&c, err) < 0)
        goto out;
    if (v) {
        int level = subject_level(reg, s);
        int dir = level_direction(level);
        *ok = !dir || compatible_with(reg, &c, v, dir, level, messages);
    } else {
        *ok = compatible_by_level(reg, s, &c, messages);
    }
    rc = 0;
out:
    cand_deinit(&c);
    return rc;
}

/* ---- lookups and registration ---- */

int registry_lookup(registry_t *reg, const char *subject, const registry_schema_in_t *in,
                    bool deleted, registry_version_t *out, registry_err_t *err)
{
    registry__subject_t *s = visible_subject(reg, subject, deleted, err);
    if (!s)
        return -1;
    cand_t c;
    int rc = cand_init(reg, in, &c, err);
    if (rc == 0) {
        rc = -1;
        registry_schema_t *sc = hd_strmap_get(&reg->by_key, c.key);
        for (int i = s->nv; sc && i-- > 0;)
            if (s->v[i].schema == sc && (deleted || !s->v[i].deleted)) {
                fill(out, s, &s->v[i]);
                rc = 0;
                break;
            }
        if (rc < 0)
            registry__err(err, REGISTRY_ESCHEMA_NOT_FOUND, "Schema not found");
    }
    cand_deinit(&c);
    return rc;
}

int registry_register(registry_t *reg, const char *subject, const registry_schema_in_t *in,
                      int32_t *id, int64_t *durable_at, registry_err_t *err)
{
    if (!registry_subject_valid(subject)) {
        registry__err(err, REGISTRY_EINVALID_SUBJECT, "The specified subject is not valid.");
        return -1;
    }
    cand_t c;
    int rc = -1;
    if (cand_init(reg, in, &c, err) < 0)
        goto out;
    registry__subject_t *s = registry__subject(reg, subject, false);
    registry_schema_t *same = hd_strmap_get(&reg->by_key, c.key);
    for (int i = 0; same && s && i < s->nv; i++)
        if (s->v[i].schema == same && !s->v[i].deleted) {
            /* Already registered: answer once everything written so far is durable. */
            *id = same->id;
            *durable_at = registry_log_end(reg);
            rc = 0;
            goto out;
        }
    if (check_cand(&c, err) < 0)
        goto out;
    json_t *msgs = json_array();
    bool ok = compatible_by_level(reg, s, &c, msgs);
    if (!ok) {
        char *details = json_dumps(msgs, JSON_COMPACT);
        registry__err(err, REGISTRY_EINCOMPATIBLE,
                      "Schema being registered is incompatible with an earlier schema for "
                      "subject \"%s\", details: %s",
                      subject, details ? details : "[]");
        free(details);
        json_decref(msgs);
        goto out;
    }
    json_decref(msgs);
    registry__entry_t e = {.kind = REGISTRY__E_SCHEMA,
                           .subject = subject,
                           .version = 1,
                           .id = same ? same->id : reg->max_id + 1,
                           .type = in->type,
                           .text = c.text,
                           .refs = in->refs,
                           .nrefs = in->nrefs};
    if (e.id <= 0) {
        registry__err(err, REGISTRY_ESTORE, "Error in the backend data store: schema ids ran out");
        goto out;
    }
    if (s && s->nv)
        e.version = s->v[s->nv - 1].version + 1;
    if (e.version <= 0) {
        registry__err(err, REGISTRY_ESTORE, "Error in the backend data store: versions ran out");
        goto out;
    }
    int src = registry__store_append(reg, &e, 1, durable_at);
    if (src < 0) {
        registry__err(err, REGISTRY_ESTORE, "Error in the backend data store: %s",
                      hd_strerror(src));
        goto out;
    }
    *id = e.id;
    rc = 0;
out:
    cand_deinit(&c);
    return rc;
}

/* ---- deletion ---- */

/* Names a schema that references version v of subject, or NULL. */
static const char *referenced_by(registry_t *reg, const char *subject, int32_t version)
{
    for (int i = 0; i < reg->nsubj; i++) {
        registry__subject_t *s = reg->subj[i];
        for (int k = 0; k < s->nv; k++) {
            registry_schema_t *sc = s->v[k].schema;
            for (int r = 0; r < sc->nrefs; r++)
                if (sc->refs[r].version == version && !strcmp(sc->refs[r].subject, subject))
                    return s->name;
        }
    }
    return NULL;
}

int registry_delete_subject(registry_t *reg, const char *subject, bool permanent,
                            int32_t **versions, int64_t *durable_at, registry_err_t *err)
{
    registry__subject_t *s = visible_subject(reg, subject, true, err);
    if (!s)
        return -1;
    bool all_soft = !subject_visible(s, false);
    if (!permanent && all_soft) {
        registry__err(err, REGISTRY_ESUBJECT_SOFT_DELETED,
                      "Subject '%s' was soft deleted.Set permanent=true to delete permanently",
                      subject);
        return -1;
    }
    if (permanent && !all_soft) {
        registry__err(err, REGISTRY_ESUBJECT_NOT_SOFT_DELETED,
                      "Subject '%s' was not deleted first before being permanently deleted",
                      subject);
        return -1;
    }
    for (int i = 0; i < s->nv; i++) {
        const char *by = referenced_by(reg, subject, s->v[i].version);
        if (by) {
            registry__err(err, REGISTRY_EREFERENCE_EXISTS,
                          "One or more references exist to the schema {subject=%s,version=%d} "
                          "(from subject '%s')",
                          subject, s->v[i].version, by);
            return -1;
        }
    }
    registry__entry_t *e = hd_calloc((size_t)s->nv, sizeof *e);
    int32_t *v = hd_malloc(sizeof *v * (size_t)s->nv);
    int n = 0;
    for (int i = 0; i < s->nv; i++) {
        if (!permanent && s->v[i].deleted)
            continue;
        e[n] = (registry__entry_t){.kind = REGISTRY__E_DELETE,
                                   .subject = s->name,
                                   .version = s->v[i].version,
                                   .permanent = permanent};
        v[n++] = s->v[i].version;
    }
    /* Entries name the subject by s->name, which a permanent delete leaves in place. */
    int rc = registry__store_append(reg, e, n, durable_at);
    free(e);
    if (rc < 0) {
        free(v);
        registry__err(err, REGISTRY_ESTORE, "Error in the backend data store: %s", hd_strerror(rc));
        return -1;
    }
    *versions = v;
    return n;
}

int registry_delete_version(registry_t *reg, const char *subject, const char *vs, bool permanent,
                            int32_t *version, int64_t *durable_at, registry_err_t *err)
{
    registry__subject_t *s;
    registry__ver_t *v = get_ver(reg, subject, vs, true, &s, err);
    if (!v)
        return -1;
    if (!strcmp(vs, "latest") || !strcmp(vs, "-1")) {
        /* "latest" means the latest live version for a soft delete. */
        if (!permanent && !(v = latest(s, false))) {
            registry__err(err, REGISTRY_EVERSION_NOT_FOUND, "Version %s not found.", vs);
            return -1;
        }
    }
    if (!permanent && v->deleted) {
        registry__err(err, REGISTRY_EVERSION_SOFT_DELETED,
                      "Subject '%s' Version %d was soft deleted.Set permanent=true to delete "
                      "permanently",
                      subject, v->version);
        return -1;
    }
    if (permanent && !v->deleted) {
        registry__err(err, REGISTRY_EVERSION_NOT_SOFT_DELETED,
                      "Subject '%s' Version %d was not deleted first before being permanently "
                      "deleted",
                      subject, v->version);
        return -1;
    }
    const char *by = referenced_by(reg, subject, v->version);
    if (by) {
        registry__err(err, REGISTRY_EREFERENCE_EXISTS,
                      "One or more references exist to the schema {subject=%s,version=%d} (from "
                      "subject '%s')",
                      subject, v->version, by);
        return -1;
    }
    int32_t num = v->version;
    registry__entry_t e = {
        .kind = REGISTRY__E_DELETE, .subject = s->name, .version = num, .permanent = permanent};
    int rc = registry__store_append(reg, &e, 1, durable_at);
    if (rc < 0) {
        registry__err(err, REGISTRY_ESTORE, "Error in the backend data store: %s", hd_strerror(rc));
        return -1;
    }
    *version = num;
    return 0;
}

/* ---- config ---- */

int registry_config_get(registry_t *reg, const char *subject, bool fallback, int *level,
                        registry_err_t *err)
{
    if (!subject) {
        *level = reg->global_compat >= 0 ? reg->global_compat : REGISTRY_BACKWARD;
        return 0;
    }
    registry__subject_t *s = registry__subject(reg, subject, false);
    if (s && s->compat >= 0) {
        *level = s->compat;
        return 0;
    }
    if (fallback) {
        *level = subject_level(reg, NULL);
        return 0;
    }
    registry__err(err, REGISTRY_ECOMPAT_NOT_CONFIGURED,
                  "Subject '%s' does not have subject-level compatibility configured", subject);
    return -1;
}

int registry_config_set(registry_t *reg, const char *subject, int level, int *old,
                        int64_t *durable_at, registry_err_t *err)
{
    if (subject && !registry_subject_valid(subject)) {
        registry__err(err, REGISTRY_EINVALID_SUBJECT, "The specified subject is not valid.");
        return -1;
    }
    if (level < -1 || level > REGISTRY_FULL_TRANSITIVE) {
        registry__err(err, REGISTRY_EINVALID_COMPAT, "Invalid compatibility level");
        return -1;
    }
    if (level < 0) {
        if (registry_config_get(reg, subject, false, old, err) < 0)
            return -1;
    }
    registry__entry_t e = {.kind = REGISTRY__E_CONFIG, .subject = subject, .compat = level};
    int rc = registry__store_append(reg, &e, 1, durable_at);
    if (rc < 0) {
        registry__err(err, REGISTRY_ESTORE, "Error in the backend data store: %s", hd_strerror(rc));
        return -1;
    }
    return 0;
}

void registry_wait(registry_t *reg, int64_t durable_at, broker_waiter_t *w)
{
    w->target = durable_at;
    broker_waiter_add(reg->log, w);
}

int64_t registry_log_end(registry_t *reg) { return broker_partition_end(reg->log); }

void *registry__compiled(registry_t *reg, registry_schema_t *s, char *why, size_t whylen)
{
    void *done = __atomic_load_n(&s->compiled, __ATOMIC_ACQUIRE);
    if (done)
        return done;
    const registry__type_t *t = registry__type(s->type);
    if (!t) {
        snprintf(why, whylen, "schema %d is of type %s, which cannot be validated here", s->id,
                 registry_type_name(s->type));
        return NULL;
    }
    /* Any thread may be first; one builds while the others wait for its result. */
    pthread_mutex_lock(&reg->compile_lock);
    void *compiled = s->compiled;
    if (!compiled && s->compile_failed) {
        snprintf(why, whylen, "schema %d cannot be compiled for validation", s->id);
    } else if (!compiled) {
        registry_err_t err;
        cand_t c;
        if (stored_refs(reg, s, &c, &err) == 0)
            compiled = t->compile(c.doc, c.ref_docs, c.ref_names, c.nref_docs, why, whylen);
        else
            snprintf(why, whylen, "%s", err.message);
        cand_deinit(&c);
        s->compile_failed = !compiled;
        __atomic_store_n(&s->compiled, compiled, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&reg->compile_lock);
    return compiled;
}
