/* The Kafka wire protocol: framing, request/response headers, and the table-driven codec that
 * turns request bodies into the structs of kafka/schema.h and response structs back into bytes.
 * Everything here is sans-I/O and may be called from any thread (no shared state). */
#ifndef KAFKA_KAFKA_H
#define KAFKA_KAFKA_H

#include "kafka/errors.h"
#include "kafka/schema.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/reader.h"
#include "util/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most elements any one array may have; a larger count is HD_ETOOBIG. */
#define KAFKA_MAX_ARRAY (1 << 20)
/* Smallest request header herald accepts (v1: key, version, correlation id, client id length). */
#define KAFKA_REQUEST_HEADER_MIN 10
/* Kafka's socket.request.max.bytes default. */
#define KAFKA_FRAME_MAX_DEFAULT (100 * 1024 * 1024)

/* ---- Framing ---- */

/* Finds one size-prefixed frame at the start of `in`. On success sets *body to the frame body (a
 * slice into `in`, no copy) and *consumed to 4 + its size, and returns 0. Returns HD_EINCOMPLETE
 * until the whole frame is there, HD_ETOOBIG if the size is over max_frame (known as soon as the
 * 4 size bytes are, before waiting for the body), or HD_EMALFORMED for a negative size or one
 * smaller than KAFKA_REQUEST_HEADER_MIN. */
int kafka_frame_decode(hd_slice_t in, size_t max_frame, hd_slice_t *body, size_t *consumed);

/* ---- Request and response headers ---- */

typedef struct kafka_request_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    kafka_bytes_t client_id; /* classic nullable string; slice into the frame */
    const kafka_api_t *api;  /* NULL when herald does not serve api_key */
    bool flexible;           /* request header v2 and flexible body */
} kafka_request_header_t;

/* Decodes a request header (v1, or v2 for flexible versions: client_id keeps its int16 length
 * and a tag buffer follows). api_key, api_version and correlation_id are read first and are set
 * in *h whenever this returns 0 or HD_EUNSUPPORTED, so the caller can always answer:
 * HD_EUNSUPPORTED means the key is unknown (h->api == NULL) or the version is outside the
 * advertised range (h->api set); nothing after the correlation id is read then.
 * HD_EMALFORMED means the header is cut short or invalid. */
int kafka_request_header_decode(hd_reader_t *r, kafka_request_header_t *h);

/* Writes a request header (v2 if the API version is flexible, else v1). For clients and tests. */
void kafka_request_header_encode(hd_buf_t *out, const kafka_api_t *api, int16_t version,
                                 int32_t correlation_id, const char *client_id);

/* Writes a response header: v0 (correlation id), or v1 (plus an empty tag buffer) for flexible
 * versions, except ApiVersions, whose response header is always v0. */
void kafka_response_header_encode(hd_buf_t *out, const kafka_api_t *api, int16_t version,
                                  int32_t correlation_id);

/* ---- The generic codec ---- */

/* Decodes a body of schema `s` at `version` into `out` (a struct of s->size bytes, which is
 * zeroed first). Strings and arrays are allocated from `a`; bytes and records point into the
 * reader's buffer. Fields absent in `version` get their defaults. The body must end exactly where
 * the reader does: leftover bytes are HD_EMALFORMED (Kafka never sends trailing bytes, and
 * accepting them would hide a schema mistake). Returns 0, HD_EMALFORMED (truncated, bad length,
 * null where not nullable, varint overflow) or HD_ETOOBIG (array over KAFKA_MAX_ARRAY, or the
 * arena's limit reached). On failure *out may be partly filled; the arena keeps what it gave. */
int kafka_decode(const kafka_schema_t *s, int16_t version, bool flexible, hd_reader_t *r, void *out,
                 hd_arena_t *a);
/* The same, but bytes after the body are left in the reader (kafka_request_decode() uses it:
 * Kafka ignores them, and librdkafka 2.0.2 sends some after flexible ListGroups and
 * OffsetFetch bodies). */
int kafka_decode_prefix(const kafka_schema_t *s, int16_t version, bool flexible, hd_reader_t *r,
                        void *out, hd_arena_t *a);

/* Appends the encoding of `in` (a struct of schema `s`) at `version`. Fields absent in `version`
 * are skipped; tagged fields are written only in their versions and only when not default. A
 * NULL string, null bytes or null array where the version does not allow null is written empty.
 * Returns 0, or HD_EINVAL (string over 32767 bytes, array count below -1, array count > 0 with
 * a NULL pointer), in which case `out` is restored to its previous length. */
int kafka_encode(const kafka_schema_t *s, int16_t version, bool flexible, const void *in,
                 hd_buf_t *out);

/* Zeroes a struct of schema `s` and sets every int and bool to its Kafka default (e.g. -1 for
 * LeaderEpoch). Start response structs with it: a tagged field whose default is not 0 (such as
 * ApiVersions' FinalizedFeaturesEpoch, default -1) is otherwise sent because 0 is not its default.
 * Nested structs are not touched; call it for each array element that needs defaults. */
void kafka_defaults(const kafka_schema_t *s, void *out);

/* Decodes the body of a request to `api` at `version` (which the caller has checked is
 * supported) into `out`, a struct of api->req_size bytes (kafka_<Api>Request_t). */
int kafka_request_decode(const kafka_api_t *api, int16_t version, hd_reader_t *r, void *out,
                         hd_arena_t *a);

/* Appends a complete response frame: size, response header, and `resp` (kafka_<Api>Response_t)
 * encoded at `version`. Returns 0 or an error of kafka_encode() with `out` unchanged. */
int kafka_response_encode(const kafka_api_t *api, int16_t version, int32_t correlation_id,
                          const void *resp, hd_buf_t *out);

/* Records bytes left out of an encoded buffer, to be sent from where they already are. */
typedef struct kafka_splice {
    size_t at; /* position in the encoded buffer where the bytes belong */
    const uint8_t *p;
    size_t len;
} kafka_splice_t;

typedef struct kafka_splices {
    kafka_splice_t *v;
    int n, cap;
    size_t total; /* sum of len */
} kafka_splices_t;

/* As kafka_response_encode(), but records fields of at least `min_len` bytes are not copied:
 * their length prefix is written and the bytes are recorded in `sp` (appended; the caller frees
 * sp->v with free()). The frame's size prefix counts them. The frame on the wire is `out` with
 * each splice's bytes inserted at its `at`, in order. */
int kafka_response_encode_spliced(const kafka_api_t *api, int16_t version, int32_t correlation_id,
                                  const void *resp, hd_buf_t *out, size_t min_len,
                                  kafka_splices_t *sp);

/* The client-side pair, for tests, fuzz seeds and the CLI: a complete request frame, and a
 * response body decoder (after the caller has read the response header). */
int kafka_request_encode(const kafka_api_t *api, int16_t version, int32_t correlation_id,
                         const char *client_id, const void *req, hd_buf_t *out);
int kafka_response_decode(const kafka_api_t *api, int16_t version, hd_reader_t *r, void *out,
                          hd_arena_t *a);

/* ---- Special cases ---- */

/* Appends the complete framed answer to an ApiVersions request at a version herald does not
 * serve (older or newer): response header v0, then a v0 body with ErrorCode 35
 * (UNSUPPORTED_VERSION) and ApiKeys = [{18, min, max}] of ApiVersions, and no throttle time (COMPAT
 * §3, KIP-511). */
void kafka_apiversions_fallback_encode(int32_t correlation_id, hd_buf_t *out);

/* ---- Debugging ---- */

/* Appends a one-line "Name=value ..." rendering of a struct of schema `s` at `version`. Peer
 * strings are escaped; bytes are shown by length. */
void kafka_dump(const kafka_schema_t *s, int16_t version, const void *in, hd_buf_t *out);

#endif
