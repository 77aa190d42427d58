/* Kafka protocol schemas: the C structs, descriptor tables and API descriptors generated from the
 * X-macro tables in kafka/proto_*.def.
 *
 * For an API <Api> (Produce, Fetch, ...) the request body is `kafka_<Api>Request_t` and the
 * response body `kafka_<Api>Response_t`. A nested struct is named after the message and Kafka's
 * struct type, e.g. `kafka_ProduceRequest_TopicProduceData_t`. Members use Kafka's field names.
 *
 *   ints, bool, double    int8_t .. int64_t, uint16_t, bool, double
 *   uuid                  uint8_t Name[16]
 *   string                const char *Name (NUL-terminated, arena copy on decode; NULL = null)
 *   string as bytes       kafka_bytes_t Name (kind SBYTES: a string on the wire whose bytes must
 *                         survive exactly, NUL bytes included, e.g. committed offset metadata)
 *   bytes, records        kafka_bytes_t Name (slice into the request frame on decode)
 *   array of T            T *Name; int32_t Name_n;  (Name_n == -1 means null)
 *   struct T              T *Name (NULL = null; a non-nullable NULL is sent with defaults)
 *
 * Descriptors: `kafka_schema_<S>` describes struct S (e.g. kafka_schema_ProduceRequest). */
#ifndef KAFKA_SCHEMA_H
#define KAFKA_SCHEMA_H

#include "util/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A Kafka bytes or records value. On decode `v` points into the request frame. */
typedef struct kafka_bytes {
    hd_slice_t v;
    bool is_null;
} kafka_bytes_t;

/* "This field exists in every version from min_ver on." */
#define KV_OPEN INT16_MAX

#define KAFKA_KINDS(X)                                                                             \
    X(I8)                                                                                          \
    X(I16)                                                                                         \
    X(I32)                                                                                         \
    X(I64)                                                                                         \
    X(U16)                                                                                         \
    X(BOOL)                                                                                        \
    X(F64)                                                                                         \
    X(UUID)                                                                                        \
    X(STR)                                                                                         \
    X(BYTES)                                                                                       \
    X(SBYTES)                                                                                      \
    X(RECORDS)                                                                                     \
    X(ARR_I8)                                                                                      \
    X(ARR_I32)                                                                                     \
    X(ARR_I64)                                                                                     \
    X(ARR_STR)                                                                                     \
    X(ARR_STRUCT)                                                                                  \
    X(STRUCT)

typedef enum kafka_kind {
#define KAFKA_KIND_ENUM(k) KAFKA_K_##k,
    KAFKA_KINDS(KAFKA_KIND_ENUM)
#undef KAFKA_KIND_ENUM
} kafka_kind_t;

struct kafka_schema;

/* One row of a schema: a member of the C struct and the versions it is on the wire in. */
typedef struct kafka_field {
    const char *name;
    size_t off;   /* offsetof the member */
    size_t off_n; /* offsetof Name_n for arrays, else 0 */
    kafka_kind_t kind;
    int16_t min_ver, max_ver;
    int16_t nullable_from;            /* -1: never nullable */
    int32_t tag;                      /* -1: not a tagged field */
    int64_t def;                      /* default for ints and bools */
    const struct kafka_schema *child; /* element struct of ARR_STRUCT */
} kafka_field_t;

typedef struct kafka_schema {
    const char *name; /* "ProduceRequest_TopicProduceData" */
    size_t size;      /* sizeof the C struct */
    const kafka_field_t *fields;
    size_t nfields;
} kafka_schema_t;

#include "kafka/proto_produce_fetch.def"
#include "kafka/proto_offsets.def"
#include "kafka/proto_groups.def"
#include "kafka/proto_admin.def"
#include "kafka/proto_share.def"

/* Every API herald advertises: X(Name, key, min_version, max_version, first flexible version).
 * The ApiVersions response is built from this list, so what is advertised is what is parsed. */
#define KAFKA_APIS(X)                                                                              \
    X(Produce, 0, 0, 9, 9)                                                                         \
    X(Fetch, 1, 4, 11, 12)                                                                         \
    X(ListOffsets, 2, 1, 7, 6)                                                                     \
    X(Metadata, 3, 0, 12, 9)                                                                       \
    X(OffsetCommit, 8, 0, 9, 8)                                                                    \
    X(OffsetFetch, 9, 0, 9, 6)                                                                     \
    X(FindCoordinator, 10, 0, 2, 3)                                                                \
    X(JoinGroup, 11, 0, 5, 6)                                                                      \
    X(Heartbeat, 12, 0, 3, 4)                                                                      \
    X(LeaveGroup, 13, 0, 3, 4)                                                                     \
    X(SyncGroup, 14, 0, 3, 4)                                                                      \
    X(DescribeGroups, 15, 0, 6, 5)                                                                 \
    X(ListGroups, 16, 0, 5, 3)                                                                     \
    X(ApiVersions, 18, 0, 3, 3)                                                                    \
    X(CreateTopics, 19, 0, 4, 5)                                                                   \
    X(DeleteTopics, 20, 0, 3, 4)                                                                   \
    X(DeleteRecords, 21, 0, 2, 2)                                                                  \
    X(InitProducerId, 22, 0, 4, 2)                                                                 \
    X(DescribeConfigs, 32, 0, 2, 4)                                                                \
    X(AlterConfigs, 33, 0, 2, 2)                                                                   \
    X(CreatePartitions, 37, 0, 1, 2)                                                               \
    X(DeleteGroups, 42, 0, 3, 2)                                                                   \
    X(IncrementalAlterConfigs, 44, 0, 1, 1)                                                        \
    X(OffsetDelete, 47, 0, 0, 1)                                                                   \
    X(DescribeCluster, 60, 0, 1, 0)                                                                \
    X(ConsumerGroupHeartbeat, 68, 0, 1, 0)                                                         \
    X(ConsumerGroupDescribe, 69, 0, 1, 0)                                                          \
    X(ShareGroupHeartbeat, 76, 1, 1, 0)                                                            \
    X(ShareGroupDescribe, 77, 1, 1, 0)                                                             \
    X(ShareFetch, 78, 1, 1, 0)                                                                     \
    X(ShareAcknowledge, 79, 1, 1, 0)

/* Every generated struct, over all APIs. */
#define KAFKA_API_STRUCTS_(Name, key, lo, hi, flex) KAFKA_STRUCTS_##Name(KAFKA_EACH_STRUCT_)

/* KAFKA_API_<Name> key constants. */
enum {
#define KAFKA_API_KEY_ENUM(Name, key, lo, hi, flex) KAFKA_API_##Name = (key),
    KAFKA_APIS(KAFKA_API_KEY_ENUM)
#undef KAFKA_API_KEY_ENUM
};

/* Member declarations, by kind. */
#define KAFKA_DECL_I8(N, C) int8_t N;
#define KAFKA_DECL_I16(N, C) int16_t N;
#define KAFKA_DECL_I32(N, C) int32_t N;
#define KAFKA_DECL_I64(N, C) int64_t N;
#define KAFKA_DECL_U16(N, C) uint16_t N;
#define KAFKA_DECL_BOOL(N, C) bool N;
#define KAFKA_DECL_F64(N, C) double N;
#define KAFKA_DECL_UUID(N, C) uint8_t N[16];
#define KAFKA_DECL_STR(N, C) const char *N;
#define KAFKA_DECL_BYTES(N, C) kafka_bytes_t N;
#define KAFKA_DECL_SBYTES(N, C) kafka_bytes_t N;
#define KAFKA_DECL_RECORDS(N, C) kafka_bytes_t N;
#define KAFKA_DECL_ARR_I8(N, C)                                                                    \
    int8_t *N;                                                                                     \
    int32_t N##_n;
#define KAFKA_DECL_ARR_I32(N, C)                                                                   \
    int32_t *N;                                                                                    \
    int32_t N##_n;
#define KAFKA_DECL_ARR_I64(N, C)                                                                   \
    int64_t *N;                                                                                    \
    int32_t N##_n;
#define KAFKA_DECL_ARR_STR(N, C)                                                                   \
    const char **N;                                                                                \
    int32_t N##_n;
#define KAFKA_DECL_STRUCT(N, C) kafka_##C##_t *N;
#define KAFKA_DECL_ARR_STRUCT(N, C)                                                                \
    kafka_##C##_t *N;                                                                              \
    int32_t N##_n;

#define KAFKA_FIELD_DECL_(S, K, N, lo, hi, nul, tag, def, C) KAFKA_DECL_##K(N, C)

/* Pass 1: typedefs, so structs can refer to each other in any order. */
#define KAFKA_EACH_STRUCT_(S) typedef struct kafka_##S kafka_##S##_t;
KAFKA_APIS(KAFKA_API_STRUCTS_)
#undef KAFKA_EACH_STRUCT_

/* Pass 2: the struct bodies. */
#define KAFKA_EACH_STRUCT_(S)                                                                      \
    struct kafka_##S {                                                                             \
        KAFKA_FIELDS_##S(KAFKA_FIELD_DECL_, S)                                                     \
    };
KAFKA_APIS(KAFKA_API_STRUCTS_)
#undef KAFKA_EACH_STRUCT_

/* Pass 3: the descriptors (defined in schema.c). */
#define KAFKA_EACH_STRUCT_(S) extern const kafka_schema_t kafka_schema_##S;
KAFKA_APIS(KAFKA_API_STRUCTS_)
#undef KAFKA_EACH_STRUCT_

/* One advertised API: its key, name, version range and request/response schemas. */
typedef struct kafka_api {
    int16_t key;
    const char *name;
    int16_t min_version, max_version, flex_version;
    const kafka_schema_t *req, *resp;
    size_t req_size, resp_size;
} kafka_api_t;

/* All advertised APIs in key order, for iteration (ApiVersions). */
extern const kafka_api_t kafka_apis[];
extern const size_t kafka_apis_n;

/* Returns the descriptor of an advertised API, or NULL for a key herald does not serve. */
const kafka_api_t *kafka_api_find(int16_t key);

/* Whether `version` of the API uses the flexible (compact, tagged) encoding. */
static inline bool kafka_api_flexible(const kafka_api_t *api, int16_t version)
{
    return version >= api->flex_version;
}

/* Whether `version` is in the advertised range of the API. */
static inline bool kafka_api_supports(const kafka_api_t *api, int16_t version)
{
    return version >= api->min_version && version <= api->max_version;
}

#endif
