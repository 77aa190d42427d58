/* The schema registry: schemas (Avro, JSON Schema) registered under subjects as numbered
 * versions, with global ids shared by identical schemas, compatibility rules between versions,
 * and the validation of produced records against them. Its state is kept durably in an internal
 * log of the broker (store.c documents the format). Everything here runs on the loop thread.
 *
 * Answers follow the Confluent Schema Registry's data model and error codes, so that its REST
 * API (http/rest_registry.c) can be served unchanged on top. */
#ifndef REGISTRY_H
#define REGISTRY_H

#include "broker/broker.h"
#include "util/slice.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct registry registry_t;
typedef struct registry_schema registry_schema_t;

/* ---- errors (answered as data, with the Confluent error codes) ---- */

enum {
    REGISTRY_OK = 0,
    REGISTRY_ESUBJECT_NOT_FOUND = 40401,
    REGISTRY_EVERSION_NOT_FOUND = 40402,
    REGISTRY_ESCHEMA_NOT_FOUND = 40403,
    REGISTRY_ESUBJECT_SOFT_DELETED = 40404,
    REGISTRY_ESUBJECT_NOT_SOFT_DELETED = 40405,
    REGISTRY_EVERSION_SOFT_DELETED = 40406,
    REGISTRY_EVERSION_NOT_SOFT_DELETED = 40407,
    REGISTRY_ECOMPAT_NOT_CONFIGURED = 40408,
    REGISTRY_EINCOMPATIBLE = 409,
    REGISTRY_EINVALID_SCHEMA = 42201,
    REGISTRY_EINVALID_VERSION = 42202,
    REGISTRY_EINVALID_COMPAT = 42203,
    REGISTRY_EREFERENCE_EXISTS = 42206,
    REGISTRY_EINVALID_SUBJECT = 42208,
    REGISTRY_ESCHEMA_TOO_LARGE = 42209,
    REGISTRY_ESTORE = 50001,
};

/* The outcome of an operation: code 0, or one of the codes above with a message in the
 * registry's own words ("Subject 'orders-value' not found."). */
typedef struct registry_err {
    int code;
    char message[512];
} registry_err_t;

/* The HTTP status of an error code (40401 -> 404, 409 -> 409, 42201 -> 422, 50001 -> 500). */
int registry_err_status(int code);

/* ---- schema types and compatibility levels ---- */

enum { REGISTRY_AVRO = 0, REGISTRY_JSON = 1, REGISTRY_PROTOBUF = 2 };

/* "AVRO", "JSON", "PROTOBUF". */
const char *registry_type_name(int type);
/* The type of a name (case-sensitive, as the API), or -1. */
int registry_type_parse(const char *name);
/* The type can be registered (Avro always; JSON Schema once its validator is built in). */
bool registry_type_supported(int type);

enum {
    REGISTRY_NONE = 0,
    REGISTRY_BACKWARD,
    REGISTRY_BACKWARD_TRANSITIVE,
    REGISTRY_FORWARD,
    REGISTRY_FORWARD_TRANSITIVE,
    REGISTRY_FULL,
    REGISTRY_FULL_TRANSITIVE,
};
const char *registry_compat_name(int level);
/* The level of a name ("BACKWARD", ...), or -1. */
int registry_compat_parse(const char *name);

/* Directions of one compatibility check between two schemas. BACKWARD: the new schema reads
 * data written with the old one; FORWARD: the old reads the new; FULL: both. */
enum { REGISTRY_DIR_BACKWARD = 1, REGISTRY_DIR_FORWARD = 2, REGISTRY_DIR_FULL = 3 };

/* ---- lifecycle ---- */

/* Opens the registry's log (DATA_DIR/__schemas) and replays it. The broker must outlive the
 * registry. Returns 0 or a negative error (logged). */
int registry_open(broker_t *b, registry_t **out);
/* Frees the registry (the broker closes its log). NULL is a no-op. */
void registry_close(registry_t *reg);

/* ---- schemas ---- */

/* A reference to a schema of another subject, by the name the referring schema uses. */
typedef struct registry_ref {
    const char *name;
    const char *subject;
    int32_t version;
} registry_ref_t;

/* A schema as a client submits it. */
typedef struct registry_schema_in {
    int type;
    const char *text;
    size_t len;
    const registry_ref_t *refs;
    int nrefs;
} registry_schema_in_t;

int32_t registry_schema_id(const registry_schema_t *s);
int registry_schema_type(const registry_schema_t *s);
/* The schema text, normalized: compact JSON with the members in their given order. */
const char *registry_schema_text(const registry_schema_t *s);
int registry_schema_refs(const registry_schema_t *s, const registry_ref_t **refs);

/* One version of a subject. Pointers stay valid until the next change to the registry. */
typedef struct registry_version {
    const char *subject;
    int32_t version;
    bool deleted; /* soft-deleted */
    const registry_schema_t *schema;
} registry_version_t;

/* Subject names: printable, 1..255 bytes, no control characters. */
bool registry_subject_valid(const char *subject);

/* ---- reads ---- */

/* Subjects with at least one live version (or, with deleted, a soft-deleted one), sorted.
 * *out is a malloc'ed array of borrowed names (free it). Returns the count. */
int registry_subjects(registry_t *reg, bool deleted, const char ***out);
/* Version numbers of a subject, ascending; malloc'ed into *out. Returns the count, or -1 with
 * err (40401). */
int registry_versions(registry_t *reg, const char *subject, bool deleted, int32_t **out,
                      registry_err_t *err);
/* One version: vs is a number (1..2^31-1), "latest" or "-1". Returns 0 or -1 with err (40401,
 * 40402, 42202). A soft-deleted version is found only with deleted. */
int registry_version_get(registry_t *reg, const char *subject, const char *vs, bool deleted,
                         registry_version_t *out, registry_err_t *err);
/* The schema with that id (40403 when no version, live or soft-deleted, uses it). */
int registry_schema_get(registry_t *reg, int32_t id, const registry_schema_t **out,
                        registry_err_t *err);
/* The versions that use schema id (deleted: soft-deleted ones too), as a malloc'ed array.
 * Returns the count, or -1 with err (40403). */
int registry_schema_versions(registry_t *reg, int32_t id, bool deleted, registry_version_t **out,
                             registry_err_t *err);
/* Finds the version of subject whose schema equals `in` (POST /subjects/{s}). Returns 0, or -1
 * with err (40401, 40403, 42201). */
int registry_lookup(registry_t *reg, const char *subject, const registry_schema_in_t *in,
                    bool deleted, registry_version_t *out, registry_err_t *err);

/* ---- changes (durable once the registry's log reaches *durable_at: see registry_wait) ---- */

/* Registers `in` under subject: the existing id if the subject already has it as a live
 * version, else a new version after checking the schema (42201) and its compatibility with
 * the subject's versions (409, with the reasons in err). The id is shared with any identical
 * schema of another subject. */
int registry_register(registry_t *reg, const char *subject, const registry_schema_in_t *in,
                      int32_t *id, int64_t *durable_at, registry_err_t *err);
/* Deletes every version of subject: soft (they stay readable with deleted=true), or, when
 * permanent, for good (they must be soft-deleted first: 40405). The deleted version numbers go
 * to *versions (malloc'ed). Returns the count, or -1 with err. */
int registry_delete_subject(registry_t *reg, const char *subject, bool permanent,
                            int32_t **versions, int64_t *durable_at, registry_err_t *err);
/* Deletes one version ("latest" allowed), soft or permanent (after soft: 40407). A version
 * referenced by another schema cannot be deleted (42206). */
int registry_delete_version(registry_t *reg, const char *subject, const char *vs, bool permanent,
                            int32_t *version, int64_t *durable_at, registry_err_t *err);
/* The compatibility level of subject (NULL: the global level). Without a subject level,
 * 40408 unless fallback, which answers the global level. */
int registry_config_get(registry_t *reg, const char *subject, bool fallback, int *level,
                        registry_err_t *err);
/* Sets (level >= 0) or removes (level -1; *old gets the level removed) a compatibility level,
 * global when subject is NULL (removing the global level restores BACKWARD). */
int registry_config_set(registry_t *reg, const char *subject, int level, int *old,
                        int64_t *durable_at, registry_err_t *err);
/* Calls w->cb once the registry's log is durable up to durable_at (at once if it already is).
 * Cancel with broker_waiter_cancel(). */
void registry_wait(registry_t *reg, int64_t durable_at, broker_waiter_t *w);
/* The log end now: waiting for it makes every answer given so far durable. */
int64_t registry_log_end(registry_t *reg);

/* ---- compatibility ---- */

/* Checks `in` against version vs of subject, or (vs NULL) against the versions the subject's
 * level names (the latest, or all for *_TRANSITIVE). Sets *ok; when messages is an array,
 * appends one string per reason. Returns 0, or -1 with err (40401, 40402, 42201, 42202). */
int registry_check(registry_t *reg, const char *subject, const char *vs,
                   const registry_schema_in_t *in, bool *ok, json_t *messages, registry_err_t *err);

/* ---- validation of produced records (validate.c) ---- */

/* The CloudEvents attributes validation looks at, taken from a record's headers. */
typedef struct registry_ce {
    hd_slice_t dataschema; /* the ce_dataschema header (binary mode) */
    bool has_dataschema;
    bool structured; /* content-type application/cloudevents+json: the value is the event */
} registry_ce_t;
/* From a stored record's raw header area (count entries). */
void registry_ce_from_area(hd_slice_t area, int32_t count, registry_ce_t *out);
/* From decoded headers. */
void registry_ce_from_headers(const broker_header_t *h, int32_t n, registry_ce_t *out);

/* Validates one payload for subject: the Confluent wire format (magic byte 0, a big-endian i32
 * schema id that is a live version of subject, then the payload, which must decode with that
 * schema), or a CloudEvent whose dataschema names such a schema. A null payload (tombstone)
 * passes. Returns 0, or HD_EINVAL with a sentence naming the failing rule in why[0..whylen). */
int registry_validate(registry_t *reg, const char *subject, hd_slice_t payload, bool is_null,
                      const registry_ce_t *ce, char *why, size_t whylen);
/* What validating a topic's records needs of its configs: copied on the loop thread, so that
 * another thread can validate while the topic changes or goes away. */
typedef struct registry_target {
    bool value, key; /* which parts are validated */
    char value_subject[300], key_subject[300];
} registry_target_t;
void registry_target_of(const broker_topic_t *t, registry_target_t *out);
/* registry_validate_record() for a target. Safe on any thread between registry_read_begin() and
 * registry_read_end() (the loop thread itself needs neither). */
int registry_validate_target(registry_t *reg, const registry_target_t *tg,
                             const broker_record_in_t *rec, const registry_ce_t *ce, char *why,
                             size_t whylen);
/* A thread other than the loop's reads the registry (validates) only between these; changes
 * (registrations, deletions) wait meanwhile, so keep each span short (a few hundred records). */
void registry_read_begin(registry_t *reg);
void registry_read_end(registry_t *reg);
/* Validates a record for topic t by its topic configs (value and/or key, with the subjects
 * herald.value.schema.subject / herald.key.schema.subject or <topic>-value / <topic>-key).
 * why starts with "value " or "key ". */
int registry_validate_record(registry_t *reg, const broker_topic_t *t,
                             const broker_record_in_t *rec, const registry_ce_t *ce, char *why,
                             size_t whylen);
/* Appends records refused by validation to topic t's dead-letter topic (herald.dead.letter.topic,
 * or <topic>.dlq, created with one partition when missing), as they were, with the headers
 * herald.dlq.reason (whys[i]), herald.dlq.topic and herald.dlq.partition added. The append is
 * not awaited for durability. Returns 0 or a negative error. */
int registry_dead_letter(registry_t *reg, broker_topic_t *t, int32_t partition,
                         const broker_record_in_t *recs, const char *const *whys, int n);

/* ---- Avro (avro.c, avro_compat.c) ---- */

/* Checks that writer-side data can be read with the reader schema under the Avro
 * specification's resolution rules. Both are parsed JSON schemas, with references already
 * inlined. Returns true when compatible; otherwise appends reasons to msgs (when an array). */
bool registry_avro_compatible(json_t *reader, json_t *writer, json_t *msgs);

/* ---- JSON Schema (jsonschema*.c), plugged into the registry by type_json.c ---- */

#define REGISTRY_ERROR_TEXT_MAX 256

/* Why a record (or a schema) was refused: the first failing keyword, where it failed in the
 * instance and in the schema (JSON pointers; the schema path follows the evaluation through
 * $ref, so it may pass through several documents), and a readable sentence. Paths too long for
 * their buffer end in "...". Every field is a NUL-terminated string, "" when not known. */
typedef struct registry_error {
    char keyword[32];
    char instance_path[REGISTRY_ERROR_TEXT_MAX];
    char schema_path[REGISTRY_ERROR_TEXT_MAX];
    char message[REGISTRY_ERROR_TEXT_MAX];
} registry_error_t;

#define REGISTRY_COMPAT_MAX_MSGS 16
#define REGISTRY_COMPAT_MSG_MAX 256

/* Readable reasons why two schemas are incompatible, at most REGISTRY_COMPAT_MAX_MSGS of them;
 * `dropped` counts the reasons that did not fit. Caller's storage. */
typedef struct registry_compat_msgs {
    size_t n;
    size_t dropped;
    char msg[REGISTRY_COMPAT_MAX_MSGS][REGISTRY_COMPAT_MSG_MAX];
} registry_compat_msgs_t;

void registry_compat_msgs_init(registry_compat_msgs_t *m);
/* Appends one printf-formatted reason (truncated to REGISTRY_COMPAT_MSG_MAX - 1 bytes), or counts
 * it in `dropped` when the list is full. */
void registry_compat_msgs_add(registry_compat_msgs_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

typedef struct registry_jsonschema registry_jsonschema_t;

/* Returns the document named by an absolute or relative URI without its fragment (a $ref such
 * as "other.json#/$defs/x" asks for "other.json", resolved against the referring document's
 * base), or NULL when there is none. The result is borrowed: compile takes its own reference.
 * Called only during registry_jsonschema_compile, on the caller's thread. */
typedef json_t *(*registry_ref_resolver_fn)(void *ctx, const char *uri);

/* Flags for registry_jsonschema_compile. */
enum {
    /* `format` asserts (date-time, date, time, email, hostname, ipv4, ipv6, uri,
     * uri-reference, uuid, json-pointer, relative-json-pointer, regex) instead of annotating. */
    REGISTRY_JSONSCHEMA_FORMAT_ASSERT = 1u << 0,
    /* A schema without $schema is read as draft 2020-12 rather than draft-07. */
    REGISTRY_JSONSCHEMA_DEFAULT_2020_12 = 1u << 1,
};

/* Work bounds: a schema or an instance from a peer must never hang or crash the broker. */
#define REGISTRY_JSONSCHEMA_MAX_DEPTH 200         /* nested evaluations (schema x instance) */
#define REGISTRY_JSONSCHEMA_MAX_WORK 2000000      /* evaluation steps per validate call */
#define REGISTRY_JSONSCHEMA_MAX_BYTES (64u << 20) /* memory of one compiled schema */
#define REGISTRY_JSONSCHEMA_MAX_PATTERN 4096      /* bytes of one regular expression */

/* Compiles `schema` (an object or a boolean) into a validator. The dialect comes from $schema:
 * draft-04, -06 and -07 URIs select draft-07 rules, 2019-09 and 2020-12 URIs the 2020-12 rules;
 * without $schema draft-07 is used, as the Confluent registry does, unless
 * REGISTRY_JSONSCHEMA_DEFAULT_2020_12 is set. Every $ref is resolved now: within the document
 * (JSON pointers, $id, $anchor), then through `resolve` (may be NULL) for other documents.
 * Returns 0 and sets *out, or HD_EMALFORMED (the schema breaks a keyword's rules: wrong value
 * type, bad regular expression, ...), HD_ENOTFOUND (a $ref names nothing) or HD_ETOOBIG (over
 * REGISTRY_JSONSCHEMA_MAX_BYTES), with the reason and the schema location in *err (may be NULL).
 * Takes its own references on `schema` and on resolved documents; they must not be modified
 * while the validator lives. */
int registry_jsonschema_compile(json_t *schema, registry_ref_resolver_fn resolve, void *ctx,
                                unsigned flags, registry_jsonschema_t **out, registry_error_t *err);

/* Validates `instance` (read only). Returns 0 when it conforms, HD_EINVAL when it does not, or
 * HD_ERANGE when a work bound was hit (too deep, too much work, a $ref cycle that consumes no
 * input, a regular expression over its match limit); both failures fill *err (may be NULL)
 * with the first failing keyword. A compiled schema is immutable: any thread may validate. */
int registry_jsonschema_validate(const registry_jsonschema_t *s, const json_t *instance,
                                 registry_error_t *err);

void registry_jsonschema_free(registry_jsonschema_t *s);

/* Checks that data valid under the writer side is valid under the reader side, per `direction`
 * (REGISTRY_DIR_BACKWARD: new_schema reads old_schema's data; REGISTRY_DIR_FORWARD: the
 * reverse; REGISTRY_DIR_FULL: both). The rules (docs/jsonschema-compat.md) are conservative: a
 * change they cannot prove safe is reported. Returns 0 when compatible, HD_EINVAL when not, with
 * the reasons appended to *msgs (may be NULL), each prefixed by the direction and the schema
 * location. */
int registry_jsonschema_compat(const registry_jsonschema_t *old_schema,
                               const registry_jsonschema_t *new_schema, int direction,
                               registry_compat_msgs_t *msgs);

#endif
