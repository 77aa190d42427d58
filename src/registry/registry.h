/* The schema registry module: schemas, validation of records against them, and compatibility
 * between versions. This header is the module's only public interface. */
#ifndef HD_REGISTRY_H
#define HD_REGISTRY_H

#include <jansson.h>

#include <stddef.h>

/* ---- Errors and compatibility messages, shared by every schema type ---- */

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

/* Compatibility directions, as the registry's compatibility levels use them. The _TRANSITIVE
 * levels are the caller's loop over older versions. */
enum registry_compat_direction {
    REGISTRY_COMPAT_BACKWARD = 1, /* the new schema reads data written with the old one */
    REGISTRY_COMPAT_FORWARD = 2,  /* the old schema reads data written with the new one */
    REGISTRY_COMPAT_FULL = 3,     /* both */
};

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

/* ---- JSON Schema (draft-07 and draft 2020-12) ---- */

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
 * (REGISTRY_COMPAT_BACKWARD: new_schema reads old_schema's data; FORWARD: the reverse; FULL:
 * both). The rules (docs/jsonschema-compat.md) are conservative: a change they cannot prove
 * safe is reported. Returns 0 when compatible, HD_EINVAL when not, with the reasons appended to
 * *msgs (may be NULL), each prefixed by the direction and the schema location. */
int registry_jsonschema_compat(const registry_jsonschema_t *old_schema,
                               const registry_jsonschema_t *new_schema, int direction,
                               registry_compat_msgs_t *msgs);

#endif
