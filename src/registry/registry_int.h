/* Private to registry/: the in-memory model, the schema types, and the Avro schema tree.
 * Loop thread only. */
#ifndef REGISTRY_INT_H
#define REGISTRY_INT_H

#include "registry/registry.h"
#include "util/buf.h"
#include "util/strmap.h"

#include <stdarg.h>

/* Largest schema text accepted (42209 above). */
#define REGISTRY_MAX_SCHEMA_BYTES (1 << 20)
#define REGISTRY_MAX_REFS 64
#define REGISTRY_MAX_SUBJECT 255

/* ---- schema types (one table entry per schemaType) ---- */

/* What the registry needs of a schema type. `doc` is the parsed schema; `refs` the parsed
 * schemas it references (by name), in order. */
typedef struct registry__type {
    int type;
    /* Checks the schema; returns 0 or HD_EINVAL with a sentence in why. */
    int (*check)(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                 char *why, size_t whylen);
    /* Compatibility of new against old in direction REGISTRY_DIR_*; reasons go to msgs. */
    bool (*compatible)(json_t *old_doc, json_t *const *old_refs, int old_nrefs, json_t *new_doc,
                       json_t *const *new_refs, int new_nrefs, int direction, json_t *msgs);
    /* A compiled form for validating payloads, or NULL with why. */
    void *(*compile)(json_t *doc, json_t *const *refs, int nrefs, char *why, size_t whylen);
    void (*free)(void *compiled);
    /* Validates one payload (the bytes after the wire-format header). */
    int (*validate)(void *compiled, hd_slice_t payload, char *why, size_t whylen);
} registry__type_t;

const registry__type_t *registry__type_avro(void);
/* NULL until the JSON Schema validator is built in (type_json.c). */
const registry__type_t *registry__type_json(void);
const registry__type_t *registry__type(int type);

/* ---- the model (registry.c, store.c) ---- */

struct registry_schema {
    int32_t id;
    int type;
    char *text; /* normalized */
    registry_ref_t *refs;
    int nrefs;
    char *key;      /* identity: type, references and text */
    char idstr[12]; /* decimal id, the key of by_id */
    json_t *doc;    /* parsed text */
    void *compiled; /* for payload validation, built on first use */
    bool compile_failed;
    int uses; /* versions (live or soft-deleted) that have this schema */
};

typedef struct registry__ver {
    int32_t version;
    bool deleted;
    registry_schema_t *schema;
} registry__ver_t;

typedef struct registry__subject {
    char *name;
    registry__ver_t *v; /* ascending versions, hard-deleted ones removed */
    int nv, cap;
    int compat; /* -1: not set */
} registry__subject_t;

struct registry {
    broker_t *broker;
    broker_partition_t *log;
    hd_strmap_t subjects; /* name -> registry__subject_t */
    registry__subject_t **subj;
    int nsubj, cap_subj;
    hd_strmap_t by_key; /* identity -> schema */
    hd_strmap_t by_id;  /* idstr -> schema */
    registry_schema_t **schemas;
    int nschemas, cap_schemas;
    int32_t max_id;
    int global_compat; /* -1: not set (BACKWARD) */
    hd_buf_t scratch;
    int64_t skipped; /* replayed entries that did not apply */
};

/* store.c: entries of the registry's log. Each change is one batch of entries, appended and
 * then applied to memory (so memory always equals a replay). */
typedef struct registry__entry {
    enum { REGISTRY__E_SCHEMA, REGISTRY__E_DELETE, REGISTRY__E_CONFIG } kind;
    const char *subject; /* NULL: the global config */
    int32_t version;
    int32_t id;
    int type;
    const char *text;
    const registry_ref_t *refs;
    int nrefs;
    bool permanent;
    int compat; /* -1: remove */
} registry__entry_t;

/* Appends the entries as one batch and applies them. Returns 0 and the durable point, or a
 * negative error (nothing applied). */
int registry__store_append(registry_t *reg, const registry__entry_t *e, int n, int64_t *durable_at);
/* Applies one entry to memory; false when it does not fit the state (skipped on replay). */
bool registry__apply(registry_t *reg, const registry__entry_t *e);
/* Replays every batch of the log (at open). */
int registry__store_replay(registry_t *reg);
/* Applies one stored batch, as replay does (fuzz target). */
int registry__store_apply_batch(registry_t *reg, hd_slice_t batch);
/* An empty registry over an open log (registry_open, tests, fuzzing). */
registry_t *registry__new(broker_t *b, broker_partition_t *log);

/* registry.c */
registry__subject_t *registry__subject(registry_t *reg, const char *name, bool create);
registry_schema_t *registry__schema_by_id(registry_t *reg, int32_t id);
/* The compiled form of a schema for validating payloads (built once); NULL with why. */
void *registry__compiled(registry_t *reg, registry_schema_t *s, char *why, size_t whylen);
/* Parses and normalizes schema text; NULL with why when it is not JSON. */
json_t *registry__parse_text(const char *text, size_t len, char **normalized, char *why,
                             size_t whylen);
/* The identity key of a schema (malloc'ed). */
char *registry__identity(int type, const char *text, const registry_ref_t *refs, int nrefs);

/* Formats into an error. */
void registry__err(registry_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Avro (avro.c, avro_compat.c) ---- */

enum {
    AVRO_K_NULL,
    AVRO_K_BOOLEAN,
    AVRO_K_INT,
    AVRO_K_LONG,
    AVRO_K_FLOAT,
    AVRO_K_DOUBLE,
    AVRO_K_BYTES,
    AVRO_K_STRING,
    AVRO_K_RECORD,
    AVRO_K_ENUM,
    AVRO_K_FIXED,
    AVRO_K_ARRAY,
    AVRO_K_MAP,
    AVRO_K_UNION,
};

typedef struct avro_node avro_node_t;

typedef struct avro_field {
    const char *name;
    json_t *aliases; /* array of strings or NULL */
    avro_node_t *type;
    json_t *def; /* the default, or NULL when there is none */
} avro_field_t;

struct avro_node {
    int kind;
    const char *fullname; /* named types */
    const char *name;     /* unqualified */
    json_t *aliases;
    avro_node_t **sub; /* union branches; items (array) or values (map) in sub[0] */
    int nsub;
    avro_field_t *fields;
    int nfields;
    json_t *symbols; /* enum */
    bool has_enum_default;
    int64_t size; /* fixed */
};

/* A parsed Avro schema: a graph of nodes (named types may be recursive). */
typedef struct registry__avro registry__avro_t;
/* Parses an Avro schema (with the named types of its references); NULL with why. */
registry__avro_t *registry__avro_parse(json_t *doc, json_t *const *refs, int nrefs, char *why,
                                       size_t whylen);
void registry__avro_free(registry__avro_t *a);
const avro_node_t *registry__avro_root(const registry__avro_t *a);
/* Decodes an Avro binary payload against the schema, bounded; 0 or HD_EINVAL with why. */
int registry__avro_decode(const registry__avro_t *a, hd_slice_t payload, char *why, size_t whylen);
/* Reader/writer compatibility of two parsed schemas; reasons appended to msgs. */
bool registry__avro_resolve(const avro_node_t *reader, const avro_node_t *writer, json_t *msgs);
const char *registry__avro_kind_name(int kind);

#endif
