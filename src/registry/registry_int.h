/* Internal interfaces of the registry module, shared by its files. */
#ifndef HD_REGISTRY_INT_H
#define HD_REGISTRY_INT_H

#include "registry/registry.h"
#include "util/arena.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

typedef struct registry__js_node registry__js_node_t;

/* A name (object key; may hold NUL bytes) with the subschema that applies to it. */
typedef struct registry__js_named {
    const char *name;
    size_t len;
    registry__js_node_t *node;
} registry__js_named_t;

/* A compiled regular expression (pcre2_code *, kept opaque here) with its source. */
typedef struct registry__js_regex {
    void *code;
    const char *src;
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

struct registry__js_node {
    json_t *json;                /* the schema object or boolean, borrowed from its document */
    registry__js_node_t *parent; /* the node that first reached this one (for locations) */
    const char *seg;             /* this node's pointer segments below `parent`, "/items/0" */
    const char *base;            /* base URI ("" for a document without $id) */
    int dialect;
    int boolean; /* -1: an object schema; 0: false; 1: true */

    uint32_t types; /* REGISTRY__JS_*; REGISTRY__JS_ALL when `type` is absent */
    bool has_type;
    const json_t *enum_; /* array or NULL */
    const json_t *const_;
    bool has_const;

    registry__js_bound_t minimum, maximum;
    double multiple_of; /* 0: absent */
    json_t *multiple_of_json;

    int64_t min_length, max_length; /* -1: absent; counted in code points */
    registry__js_regex_t pattern;   /* code NULL: absent */
    const char *format;             /* NULL: absent */

    registry__js_node_t **prefix; /* prefixItems, or items as an array (tuple form) */
    size_t nprefix;
    registry__js_node_t *items; /* items past the prefix (items or additionalItems) */
    registry__js_node_t *contains;
    int64_t min_contains, max_contains; /* min 1 and max -1 when absent */
    int64_t min_items, max_items;       /* -1: absent */
    bool unique_items;
    registry__js_node_t *unevaluated_items;

    registry__js_named_t *props; /* sorted by (len, bytes) for binary search */
    size_t nprops;
    registry__js_pattern_prop_t *pattern_props;
    size_t npattern_props;
    registry__js_node_t *additional_props;
    registry__js_node_t *property_names;
    registry__js_node_t *unevaluated_props;
    registry__js_named_t *required; /* node unused */
    size_t nrequired;
    int64_t min_props, max_props; /* -1: absent */
    registry__js_dep_req_t *dep_required;
    size_t ndep_required;
    registry__js_named_t *dep_schemas;
    size_t ndep_schemas;

    registry__js_node_t **all_of, **any_of, **one_of;
    size_t nall_of, nany_of, none_of;
    registry__js_node_t *not_;
    registry__js_node_t *if_, *then_, *else_;
    registry__js_node_t *ref;
    registry__js_node_t *dynamic_ref;

    bool collects; /* has unevaluatedProperties or unevaluatedItems */
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

/* Finds `name` in a sorted named list; NULL when absent. */
const registry__js_named_t *registry__js_named_find(const registry__js_named_t *v, size_t n,
                                                    const char *name, size_t len);
/* Runs a compiled regular expression over `s` (unanchored search, as ECMA-262 `test`). Returns
 * 1 on a match, 0 on none, HD_ERANGE when the match limit was hit. `md` is a
 * pcre2_match_data * sized for one pair, or NULL to use a temporary one. */
int registry__js_regex_search(const registry__js_regex_t *re, const char *s, size_t len, void *md);
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

#endif
