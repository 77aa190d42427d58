/* The descriptor tables and the API table, expanded from the X-macro tables in kafka/proto_*.def
 * (see the row format there). The C structs themselves are expanded in kafka/schema.h. */
#include "kafka/schema.h"
#include "util/mem.h"

#include <stddef.h>

/* offsetof the count member of an array field, or 0. */
#define OFFN_I8(S, N) 0
#define OFFN_I16(S, N) 0
#define OFFN_I32(S, N) 0
#define OFFN_I64(S, N) 0
#define OFFN_U16(S, N) 0
#define OFFN_BOOL(S, N) 0
#define OFFN_F64(S, N) 0
#define OFFN_UUID(S, N) 0
#define OFFN_STR(S, N) 0
#define OFFN_BYTES(S, N) 0
#define OFFN_SBYTES(S, N) 0
#define OFFN_RECORDS(S, N) 0
#define OFFN_ARR_I8(S, N) offsetof(kafka_##S##_t, N##_n)
#define OFFN_ARR_I32(S, N) offsetof(kafka_##S##_t, N##_n)
#define OFFN_ARR_I64(S, N) offsetof(kafka_##S##_t, N##_n)
#define OFFN_ARR_STR(S, N) offsetof(kafka_##S##_t, N##_n)
#define OFFN_ARR_STRUCT(S, N) offsetof(kafka_##S##_t, N##_n)
#define OFFN_STRUCT(S, N) 0

/* The element schema of an array of structs, or NULL. */
#define CHILD_I8(C) NULL
#define CHILD_I16(C) NULL
#define CHILD_I32(C) NULL
#define CHILD_I64(C) NULL
#define CHILD_U16(C) NULL
#define CHILD_BOOL(C) NULL
#define CHILD_F64(C) NULL
#define CHILD_UUID(C) NULL
#define CHILD_STR(C) NULL
#define CHILD_BYTES(C) NULL
#define CHILD_SBYTES(C) NULL
#define CHILD_RECORDS(C) NULL
#define CHILD_ARR_I8(C) NULL
#define CHILD_ARR_I32(C) NULL
#define CHILD_ARR_I64(C) NULL
#define CHILD_ARR_STR(C) NULL
#define CHILD_ARR_STRUCT(C) (&kafka_schema_##C)
#define CHILD_STRUCT(C) (&kafka_schema_##C)

#define FIELD_ROW(S, K, N, lo, hi, nul, tg, df, C)                                                 \
    {#N,                                                                                           \
     offsetof(kafka_##S##_t, N),                                                                   \
     OFFN_##K(S, N),                                                                               \
     KAFKA_K_##K,                                                                                  \
     (lo),                                                                                         \
     (hi),                                                                                         \
     (nul),                                                                                        \
     (tg),                                                                                         \
     (df),                                                                                         \
     CHILD_##K(C)},

#define KAFKA_EACH_STRUCT_(S)                                                                      \
    static const kafka_field_t fields_##S[] = {KAFKA_FIELDS_##S(FIELD_ROW, S)};                    \
    const kafka_schema_t kafka_schema_##S = {#S, sizeof(kafka_##S##_t), fields_##S,                \
                                             HD_ARRAY_LEN(fields_##S)};
KAFKA_APIS(KAFKA_API_STRUCTS_)
#undef KAFKA_EACH_STRUCT_

#define API_ROW(Name, key, lo, hi, flex)                                                           \
    {(key),                                                                                        \
     #Name,                                                                                        \
     (lo),                                                                                         \
     (hi),                                                                                         \
     (flex),                                                                                       \
     &kafka_schema_##Name##Request,                                                                \
     &kafka_schema_##Name##Response,                                                               \
     sizeof(kafka_##Name##Request_t),                                                              \
     sizeof(kafka_##Name##Response_t)},

const kafka_api_t kafka_apis[] = {KAFKA_APIS(API_ROW)};
const size_t kafka_apis_n = HD_ARRAY_LEN(kafka_apis);

const kafka_api_t *kafka_api_find(int16_t key)
{
    for (size_t i = 0; i < kafka_apis_n; i++) {
        if (kafka_apis[i].key == key)
            return &kafka_apis[i];
    }
    return NULL;
}
