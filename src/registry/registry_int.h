/* Private to registry/: the in-memory model, the schema types, and the Avro schema tree.
 * The model is changed on the loop thread only (registry__apply, under `lock` held for writing);
 * worker threads read it to validate produced records (registry_read_begin/end). */
#ifndef REGISTRY_INT_H
#define REGISTRY_INT_H

#include "registry/registry.h"
#include "util/buf.h"
#include "util/strmap.h"
#include "util/arena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

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
    bool (*compatible)(json_t *old_doc, json_t *const *old_refs, const char *const *old_ref_names,
                       int old_nrefs, json_t *new_doc, json_t *const *new_refs,
                       const char *const *new_ref_names, int new_nrefs, int direction,
                       json_t *msgs);
    /* A compiled form for validating payloads, or NULL with why. */
    void *(*compile)(json_t *doc, json_t *const *refs, const char *const *ref_names, int nrefs,
                     char *why, size_t whylen);
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
    json_t *doc;    /* parsed text (NULL only if a stored text does not parse); never replaced */
    /* For payload validation, built on first use by whichever thread needs it first (under
     * registry.compile_lock; read with an acquire load). */
    void *compiled;
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
    /* Held for writing by registry__apply, for reading by threads other than the loop's while
     * they validate (writers first: a stream of validations never starves a change). */
    pthread_rwlock_t lock;
    pthread_mutex_t compile_lock; /* building a schema's compiled form */
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

/* ---- A flat JSON document (jsonschema_doc.c): payloads parsed for validation without a
 * jansson tree. Layout and reading rules at the top of that file. ---- */

enum {
    REGISTRY__JV_NULL,
    REGISTRY__JV_TRUE,
    REGISTRY__JV_FALSE,
    REGISTRY__JV_INT,
    REGISTRY__JV_REAL,
    REGISTRY__JV_STRING,
    REGISTRY__JV_ARRAY,
    REGISTRY__JV_OBJECT,
};

/* Deeper documents are left to jansson (which allows 2048 levels). */
#define REGISTRY__JDOC_MAX_DEPTH 512

typedef struct registry__jv {
    uint8_t kind;  /* REGISTRY__JV_* */
    bool ascii;    /* a string known to be ASCII only (its length is its code points) */
    uint32_t n;    /* string: bytes; array: items; object: members */
    uint32_t skip; /* nodes of this subtree, itself included: the next sibling is at this + skip */
    uint32_t hash; /* an object key: registry__js_key_hash of it (low 32 bits); else unset */
    union {
        int64_t i;
        double d;
        const char *s; /* not NUL-terminated when it points into the parsed text */
    } u;
} registry__jv_t;

/* One document's nodes and decoded strings; reused from one parse to the next. Not shared. */
typedef struct registry__jdoc {
    registry__jv_t *v;
    size_t n, cap;
    char *str; /* decoded strings (those with escapes) */
    size_t nstr, capstr;
} registry__jdoc_t;

void registry__jdoc_init(registry__jdoc_t *d);
void registry__jdoc_deinit(registry__jdoc_t *d);
/* Frees the buffers when a large document made them grow past what is worth keeping. */
void registry__jdoc_trim(registry__jdoc_t *d);
/* Empties d and sizes its buffers for parsing `len` bytes of text (nodes and decoded strings
 * never need more). HD_EMALFORMED when the text is too long to parse. */
int registry__jdoc_reserve(registry__jdoc_t *d, size_t len);
/* Parses JSON text into d (replacing what it held); strings may point into `text`, which must
 * outlive the use of d. Returns 0, or HD_EMALFORMED when the text is not JSON or is a case
 * left to jansson (see jsonschema_doc.c): then d holds nothing usable. */
int registry__jdoc_parse(registry__jdoc_t *d, const char *text, size_t len);
/* Builds d from a jansson value, which must outlive the use of d. */
void registry__jdoc_from_json(registry__jdoc_t *d, const json_t *j);
/* The nodes a jansson value takes, and the value written as nodes into out (that many);
 * strings are borrowed from j. */
size_t registry__jv_count(const json_t *j);
void registry__jv_fill(registry__jv_t *out, const json_t *j);

/* memcmp(a, b, n) == 0 for the short keys of objects, without a call. */
static inline bool registry__bytes_equal(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t x0, x1, y0, y1;
        memcpy(&x0, a, 8);
        memcpy(&y0, b, 8);
        memcpy(&x1, a + n - 8, 8);
        memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x0, x1, y0, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    return !memcmp(a, b, n);
}

/* The hash of an object key in the property tables of registry__js_node_t (prop_slots). */
static inline uint64_t registry__js_key_hash(const char *s, size_t n)
{
    /* Fixed-size loads inside the key only (a payload's key may end its buffer). */
    uint64_t a, b;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        a = x;
        b = y;
    } else {
        a = n ? (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[n / 2] << 8 | (uint8_t)s[n - 1]
              : 0;
        b = 0;
    }
    uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ULL) ^ n) * 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 29);
}

/* ---- JSON Schema: the compiled form (jsonschema.c builds it, jsonschema_validate.c and
 * jsonschema_compat.c read it). Nodes live in the schema's arena and never change after
 * compile, so any thread may read them. ---- */

enum registry__js_dialect { REGISTRY__JS_DRAFT7 = 7, REGISTRY__JS_2020 = 2020 };

/* Bits of registry__js_node_t.types. INTEGER is also set whenever NUMBER is. */
enum {
    REGISTRY__JS_NULL = 1u << 0,
    REGISTRY__JS_BOOLEAN = 1u << 1,
    REGISTRY__JS_OBJECT = 1u << 2,
    REGISTRY__JS_ARRAY = 1u << 3,
    REGISTRY__JS_NUMBER = 1u << 4,
    REGISTRY__JS_STRING = 1u << 5,
    REGISTRY__JS_INTEGER = 1u << 6,
    REGISTRY__JS_ALL = (1u << 7) - 1,
};

/* Bits of registry__js_node_t.kw. */
enum {
    REGISTRY__JS_KW_VALUES = 1u << 0, /* enum, const */
    REGISTRY__JS_KW_NUMBER = 1u << 1,
    REGISTRY__JS_KW_STRING = 1u << 2,
    REGISTRY__JS_KW_ARRAY = 1u << 3,
    REGISTRY__JS_KW_OBJECT = 1u << 4,
    REGISTRY__JS_KW_APPLY = 1u << 5, /* allOf, anyOf, oneOf, not, if */
};

typedef struct registry__js_node registry__js_node_t;

/* A property whose name is 1 to 16 plain bytes (ASCII from 0x20, not '"' or '\\'), keyed by
 * the name's bytes as two words, zero-padded (registry__js_key_words): the check while parsing
 * finds such a property from the key's text without hashing it byte by byte. */
typedef struct registry__js_key_slot {
    uint64_t w[2];
    const registry__js_node_t *node;
    uint32_t idx;  /* index in props + 1; 0: empty */
    uint32_t next; /* the slot of the next such property in `properties` (key_mask + 1: none) */
} registry__js_key_slot_t;

/* A name (object key; may hold NUL bytes) with the subschema that applies to it. */
typedef struct registry__js_named {
    const char *name;
    size_t len;
    registry__js_node_t *node;
} registry__js_named_t;

/* A simple pattern (jsonschema_regex.c): a sequence of ASCII classes with counts. */
#define REGISTRY__JS_SIMPLE_MAX_ATOMS 24
#define REGISTRY__JS_SIMPLE_INF 0xFFFF       /* an unbounded count */
#define REGISTRY__JS_SIMPLE_MAX_SUBJECT 1024 /* longer subjects go to PCRE2 */

typedef struct registry__js_simple_atom {
    uint64_t set[2]; /* the class: bit c for ASCII character c */
    uint16_t min, max;
} registry__js_simple_atom_t;

#define REGISTRY__JS_SIMPLE_MAX_FIXED 64 /* longest fixed-length pattern matched by position */

typedef struct registry__js_simple {
    registry__js_simple_atom_t atoms[REGISTRY__JS_SIMPLE_MAX_ATOMS];
    uint8_t natoms;
    bool end; /* anchored at the end */
    /* Derived from the atoms: bit k of cbits[c] says whether byte c is in atom k's class.
     * by_pos: the pattern is anchored at the end and every count is fixed but perhaps the last
     * atom's, so it is matched by position: the fixed atoms' fixed_len positions (at most
     * REGISTRY__JS_SIMPLE_MAX_FIXED; atom_at has the bit of each one's atom), then, when
     * tail_bit is set, tail_min to tail_max characters of the last atom's class. */
    bool by_pos;
    uint16_t fixed_len, tail_min, tail_max;
    uint32_t tail_bit;
    uint32_t atom_at[REGISTRY__JS_SIMPLE_MAX_FIXED];
    uint32_t cbits[256]; /* none for bytes from 0x80 */
} registry__js_simple_t;

/* The match of an ASCII subject against a simple pattern with by_pos set: a fixed atom of m
 * occurrences takes exactly m characters of its class (greedy, it takes at most m; fewer
 * fail), and the last atom, anchored at the end, must take all the rest: its length within the
 * atom's counts and each character in its class. No branch per character. */
static inline bool registry__js_simple_match_pos(const registry__js_simple_t *re, const char *s,
                                                 size_t len)
{
    if (len < re->fixed_len || len - re->fixed_len < re->tail_min ||
        len - re->fixed_len > re->tail_max)
        return false;
    uint32_t miss = 0;
    size_t i = 0;
    for (; i < re->fixed_len; i++)
        miss |= re->atom_at[i] & ~re->cbits[(uint8_t)s[i]];
    for (; i < len; i++)
        miss |= re->tail_bit & ~re->cbits[(uint8_t)s[i]];
    return !miss;
}

/* Reads an ECMA-262 pattern as a simple pattern; false when it is not one. */
bool registry__js_simple_compile(const char *src, size_t len, registry__js_simple_t *out);
/* Whether an ASCII subject matches (PCRE2's answer for subjects up to
 * REGISTRY__JS_SIMPLE_MAX_SUBJECT bytes). */
bool registry__js_simple_match(const registry__js_simple_t *re, const char *s, size_t len);

/* A compiled regular expression (pcre2_code *, kept opaque here) with its source. */
typedef struct registry__js_regex {
    void *code;
    const char *src;
    bool jit;                            /* compiled to machine code too */
    const registry__js_simple_t *simple; /* NULL: not a simple pattern */
} registry__js_regex_t;

typedef struct registry__js_pattern_prop {
    registry__js_regex_t re;
    registry__js_node_t *node;
} registry__js_pattern_prop_t;

/* dependentRequired / dependencies with an array: when `name` is present, `req` must be. */
typedef struct registry__js_dep_req {
    const char *name;
    size_t len;
    const char **req; /* NUL-terminated copies; lengths in req_len */
    size_t *req_len;
    size_t nreq;
} registry__js_dep_req_t;

/* A numeric bound: present, its value, and whether it excludes the value itself. */
typedef struct registry__js_bound {
    bool set;
    bool exclusive;
    double v;
} registry__js_bound_t;

/* Bits of registry__js_node_t.plan: what the first, pass-or-fail walk over a flat document
 * (jsonschema_fast.c) runs for an instance of one kind. Built once the schema is compiled. */
enum {
    REGISTRY__JS_P_FAIL = 1u << 0,     /* every instance of this kind fails (type, `false`) */
    REGISTRY__JS_P_INTEGRAL = 1u << 1, /* type integer: a real fails unless it is integral */
    REGISTRY__JS_P_VALUES = 1u << 2,   /* const, enum */
    REGISTRY__JS_P_NUMBER = 1u << 3,
    REGISTRY__JS_P_STRING = 1u << 4,
    REGISTRY__JS_P_ARRAY = 1u << 5,
    REGISTRY__JS_P_OBJECT = 1u << 6,
    REGISTRY__JS_P_APPLY = 1u << 7,
    REGISTRY__JS_P_REF = 1u << 8,  /* $ref (2020-12, after the other keywords), $dynamicRef */
    REGISTRY__JS_P_SLOW = 1u << 9, /* annotations are collected: left to the full walk */
};

struct registry__js_node {
    /* The plan of the pass-or-fail walk, per REGISTRY__JV_* kind of the instance, and a draft-07
     * node that is only `$ref` resolved to the end of its chain: plan_hops nodes that only refer
     * on, then plan_target (hops 0 for every other node). */
    uint16_t plan[8];
    /* Bit k: the plan for kind k is one the check while parsing evaluates inline (type,
     * integrality, enum of a string, the bounds, the string keywords). */
    uint8_t plan_inline;
    uint32_t plan_hops;
    const registry__js_node_t *plan_target;
    /* The fields are grouped by what reads them, the groups the walks read most first, so that
     * an evaluation touches few cache lines: every evaluation, then strings, numbers, objects,
     * arrays, applicators, and last what only compilation, compatibility and messages read. */
    int dialect;
    int boolean;    /* -1: an object schema; 0: false; 1: true */
    uint32_t types; /* REGISTRY__JS_*; REGISTRY__JS_ALL when `type` is absent */
    unsigned kw;    /* REGISTRY__JS_KW_*: which groups of keywords this node has */
    bool has_type;
    bool collects; /* has unevaluatedProperties or unevaluatedItems */
    bool has_const;
    bool unique_items;
    registry__js_node_t *ref;
    registry__js_node_t *dynamic_ref;
    /* enum (an array) and const as flat values, for the walk over flat documents */
    const registry__jv_t *enum_v, *const_v;

    int64_t min_length, max_length; /* -1: absent; counted in code points */
    registry__js_regex_t pattern;   /* code NULL: absent */
    const char *format;             /* NULL: absent */

    registry__js_bound_t minimum, maximum;
    double multiple_of; /* 0: absent */
    json_t *multiple_of_json;

    registry__js_named_t *props; /* sorted by (len, bytes) for binary search */
    size_t nprops;
    /* The plain short names of props by their words (key_mask + 1 slots, then one whose
     * words match no key, the end of the `next` chain; NULL: none), and the slot of the first
     * such property in `properties`. */
    registry__js_key_slot_t *key_slots;
    uint32_t key_mask;
    uint32_t key_first;
    /* props as an open addressing table (index + 1; 0: empty; prop_mask + 1 slots, keyed by
     * registry__js_key_hash), and each required name's index in props (-1: not among them);
     * built at compile for the walk over flat documents */
    uint32_t *prop_slots;
    uint32_t prop_mask;
    int32_t *required_prop;
    bool required_in_props; /* every required name is among props (required_prop all >= 0) */
    registry__js_named_t *required; /* node unused */
    size_t nrequired;
    registry__js_node_t *additional_props;
    int64_t min_props, max_props; /* -1: absent */
    registry__js_pattern_prop_t *pattern_props;
    size_t npattern_props;
    registry__js_node_t *property_names;
    registry__js_dep_req_t *dep_required;
    size_t ndep_required;
    registry__js_named_t *dep_schemas;
    size_t ndep_schemas;
    registry__js_node_t *unevaluated_props;

    registry__js_node_t **prefix; /* prefixItems, or items as an array (tuple form) */
    size_t nprefix;
    registry__js_node_t *items;   /* items past the prefix (items or additionalItems) */
    int64_t min_items, max_items; /* -1: absent */
    registry__js_node_t *contains;
    int64_t min_contains, max_contains; /* min 1 and max -1 when absent */
    registry__js_node_t *unevaluated_items;

    registry__js_node_t **all_of, **any_of, **one_of;
    size_t nall_of, nany_of, none_of;
    registry__js_node_t *not_;
    registry__js_node_t *if_, *then_, *else_;

    const json_t *enum_; /* array or NULL */
    const json_t *const_;
    json_t *json;                /* the schema object or boolean, borrowed from its document */
    registry__js_node_t *parent; /* the node that first reached this one (for locations) */
    const char *seg;             /* this node's pointer segments below `parent`, "/items/0" */
    const char *base;            /* base URI ("" for a document without $id) */
};

struct registry_jsonschema {
    hd_arena_t arena;
    registry__js_node_t *root;
    unsigned flags;
    json_t **held; /* documents this schema keeps a reference on */
    size_t nheld, capheld;
    void **codes; /* pcre2_code * to free */
    size_t ncodes, capcodes;
};

/* The property of object node n named (k, kl), whose registry__js_key_hash is h, through the
 * node's slots (n->nprops > 0): its index in n->props plus one, or 0 when it has none. */
static inline uint32_t registry__js_prop_slot(const registry__js_node_t *n, const char *k,
                                              size_t kl, uint32_t h)
{
    uint32_t at;
    for (; (at = n->prop_slots[h & n->prop_mask]); h++) {
        const registry__js_named_t *p = &n->props[at - 1];
        if (p->len == kl && registry__bytes_equal(p->name, k, kl))
            return at;
    }
    return 0;
}

/* The first k bytes of a 16-byte block as two word masks, for k from 0 to 16. */
extern const uint64_t registry__js_key_masks[17][2];

/* The words of a key of 1 to 16 bytes at s, zero-padded, for key_slots. The caller must be
 * able to read 16 bytes at s (the bytes past the key are masked out). */
static inline void registry__js_key_words(const char *s, size_t len, uint64_t w[2])
{
    uint64_t a, b;
    memcpy(&a, s, 8);
    memcpy(&b, s + 8, 8);
    w[0] = a & registry__js_key_masks[len][0];
    w[1] = b & registry__js_key_masks[len][1];
}

/* The slot of key_slots to probe first for words w. */
static inline uint32_t registry__js_key_words_hash(const uint64_t w[2])
{
    uint64_t h = (w[0] ^ (w[1] * 0x9E3779B97F4A7C15ULL)) * 0xFF51AFD7ED558CCDULL;
    return (uint32_t)(h >> 40);
}

/* Finds `name` in a sorted named list; NULL when absent. */
const registry__js_named_t *registry__js_named_find(const registry__js_named_t *v, size_t n,
                                                    const char *name, size_t len);
/* Runs a compiled regular expression over `s` (unanchored search, as ECMA-262 `test`). Returns
 * 1 on a match, 0 on none, HD_ERANGE when the match limit was hit. `md` is a
 * pcre2_match_data * sized for one pair, or NULL to use a temporary one. */
int registry__js_regex_search(const registry__js_regex_t *re, const char *s, size_t len, void *md);
/* The same for a subject known to be valid UTF-8 (it skips PCRE2's check of the subject). */
int registry__js_regex_search_utf8(const registry__js_regex_t *re, const char *s, size_t len,
                                   void *md);
/* Compiles an ECMA-262 pattern into out (code and jit; the pcre2_code goes to s->codes).
 * Returns 0, or HD_EMALFORMED with a static reason in *why. */
int registry__js_regex_compile(registry_jsonschema_t *s, const char *src, size_t len,
                               registry__js_regex_t *out, const char **why);
/* Returns whether `src` is an ECMA-262 regular expression this module accepts. */
bool registry__js_regex_valid(const char *src, size_t len);
/* JSON Schema equality: numbers by value (1 == 1.0), objects regardless of key order. */
bool registry__js_equal(const json_t *a, const json_t *b);
/* Validates `inst` against node `n` of schema `s` (registry_jsonschema_validate's answers, no
 * error detail). */
int registry__js_validate_at(const registry_jsonschema_t *s, const registry__js_node_t *n,
                             const json_t *inst);
/* Returns whether string `s` is a valid instance of `format`; unknown formats are valid. */
bool registry__js_format_check(const char *format, const char *s, size_t len);
/* Writes the node's location as "<pointer>" from its document root into buf. */
void registry__js_node_location(const registry__js_node_t *n, char *buf, size_t cap);

/* Validates JSON text against a compiled schema with the flat document (jsonschema_fast.c):
 * the answers and errors of registry_jsonschema_validate over json_loadb(text,
 * JSON_DECODE_ANY), without building the jansson tree. Returns 0, HD_EINVAL, HD_ERANGE, or
 * HD_EMALFORMED when the text is not JSON (jansson's reason in *jerr). Any thread. */
int registry__js_validate_text(const registry_jsonschema_t *s, const char *text, size_t len,
                               registry_error_t *err, json_error_t *jerr);

/* The evaluation context of the walks over flat documents (jsonschema_fast.c), one per thread.
 * Declared here so that the check made while parsing (jsonschema_stream.c) can evaluate the
 * common scalar checks inline, with the walk's accounting of work, depth and references. */
#define REGISTRY__JS_MAX_SEGS 512

typedef struct registry__js_seg {
    const char *s; /* NULL: an index */
    size_t len;
    size_t idx;
} registry__js_seg_t;

typedef struct registry__js_segs {
    registry__js_seg_t v[REGISTRY__JS_MAX_SEGS];
    size_t n;
    bool truncated;
} registry__js_segs_t;

typedef struct registry__js_ref_frame {
    const registry__js_node_t *n;
    const registry__jv_t *inst;
} registry__js_ref_frame_t;

typedef struct registry__js_vctx {
    const registry_jsonschema_t *s;
    registry_error_t *err;
    int quiet;     /* > 0: inside a branch whose failure does not decide the answer */
    bool recorded; /* the deciding failure is recorded; the levels above add their steps */
    int rc;        /* HD_ERANGE once a bound was hit: every evaluation fails from then on */
    int depth;
    long work;
    void *md; /* pcre2_match_data * */
    registry__js_ref_frame_t refs[REGISTRY_JSONSCHEMA_MAX_DEPTH];
    size_t nrefs;
    registry__js_segs_t ipath, spath;
} registry__js_vctx_t;

/* The pass-or-fail walk's steps (jsonschema_fast.c), for the check made while parsing. The
 * context is the walk's (quiet, no error detail). */
/* Whether instance inst (any kind; a container's nodes follow it) passes node n. */
bool registry__js_feval(registry__js_vctx_t *v, const registry__js_node_t *n,
                        const registry__jv_t *inst);
/* uniqueItems over array node arr (its items follow it). */
bool registry__js_funique(registry__js_vctx_t *v, const registry__jv_t *arr);
/* Set once a bound was reached or a case cannot be followed: the full walk must decide. */
bool registry__js_fabandoned(const registry__js_vctx_t *v);
/* Counts entering node n for an instance read while it is parsed, as feval counts it: returns
 * the node whose plan applies (the end of a draft-07 $ref chain), or NULL when a bound is
 * reached (abandoned); registry__js_fleave(v, *hops) once the instance is done. */
const registry__js_node_t *registry__js_fenter(registry__js_vctx_t *v, const registry__js_node_t *n,
                                               uint32_t *hops);
void registry__js_fleave(registry__js_vctx_t *v, uint32_t hops);

/* Builds node n's plans (plan, plan_inline, the resolved draft-07 $ref chain) once the schema
 * is compiled (jsonschema_fast.c: they are that walk's and the check while parsing's). */
void registry__js_plan_node(registry__js_node_t *n);

/* Objects whose schema has more properties than this are not checked by property slots. */
#define REGISTRY__JS_LOOKUP_MAX_PROPS 256

/* Checks JSON text against node `root` while parsing it (jsonschema_stream.c), with no
 * document: 1 when it passes, 0 when it does not, -1 when this check cannot decide (text it
 * leaves to the flat parser or jansson, keywords it leaves to the walks, a bound reached). On
 * anything but 1 the caller validates the usual way, for the answer and its message. `d`
 * lends its buffers (decoded strings, the keys of open objects). */
int registry__js_stream_check(registry__js_vctx_t *v, const registry__js_node_t *root,
                              registry__jdoc_t *d, const char *text, size_t len);

#endif
