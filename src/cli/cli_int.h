/* Private to src/cli/: the options every command shares, client setup, and the pure helpers of
 * format.c (parsing and record formatting, unit-tested without a broker). */
#ifndef CLI_CLI_INT_H
#define CLI_CLI_INT_H

#include "cli/rdk.h"
#include "util/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure helpers (format.c) */

/* Splits "key=value" at the first '='. The key must not be empty; the value may be.
 * Returns 0 with *key (a heap copy, caller frees) and *value (points into s), or HD_EINVAL. */
int cli__kv_parse(const char *s, char **key, const char **value, const char **why);

/* Parses a decimal integer in [min, max] with nothing after it. Returns 0 or HD_EINVAL. */
int cli__int_parse(const char *s, int64_t min, int64_t max, int64_t *out, const char **why);

typedef enum {
    CLI_FROM_BEGINNING,
    CLI_FROM_END,
    CLI_FROM_OFFSET,    /* value = absolute offset */
    CLI_FROM_TIMESTAMP, /* value = milliseconds since the epoch */
} cli_from_kind_t;

typedef struct cli_from {
    cli_from_kind_t kind;
    int64_t value;
} cli_from_t;

/* Parses a start position: "beginning" (or "earliest"), "end" (or "latest"), an offset >= 0, or
 * "@" followed by a timestamp in ms >= 0. Returns 0 or HD_EINVAL. */
int cli__from_parse(const char *s, cli_from_t *out, const char **why);

/* Parses --acks: "all" (or "-1"), "1" or "0". Sets *out to the librdkafka value of `acks`. */
int cli__acks_parse(const char *s, const char **out, const char **why);
/* Accepts none|gzip|snappy|lz4|zstd; the name is also librdkafka's compression.codec value. */
int cli__compression_parse(const char *s, const char **why);
/* A key delimiter is one byte, or one of the escapes "\t", "\\". Returns 0 or HD_EINVAL. */
int cli__delim_parse(const char *s, char *out, const char **why);

/* True if p[0..len) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), which is exactly what jansson accepts as a string. */
bool cli__utf8_check(const void *p, size_t len);

/* A record in neutral form, so formatting does not need a librdkafka message. Slices with p ==
 * NULL are null (a null key, a tombstone value, a header without a value). */
typedef struct cli_header {
    const char *name;
    size_t name_len;
    hd_slice_t value;
} cli_header_t;

typedef struct cli_record {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* -1 when the record has none */
    hd_slice_t key;
    hd_slice_t value;
    const cli_header_t *headers;
    size_t nheaders;
} cli_record_t;

/* Formats one record as a single-line JSON object (no trailing newline):
 *   {"topic":..,"partition":N,"offset":N,"timestamp":N,"key":..|null,"value":..|null,
 *    "headers":[{"key":..,"value":..|null}, ...]}
 * A key, value or header that is not valid UTF-8 is written as base64 and flagged with a sibling
 * field "key_encoding", "value_encoding" (or, in a header, "key_encoding"/"value_encoding") set to
 * "base64". Returns a heap string (caller frees with free()). */
char *cli__record_format_json(const cli_record_t *r);

/* Shared command plumbing (common.c) */

#define CLI_DEFAULT_BOOTSTRAP "127.0.0.1:9092"
#define CLI_DEFAULT_TIMEOUT_MS 10000
#define CLI_MAX_PROPS 64

/* Options every command accepts, and state for its one librdkafka handle. Main thread only. */
typedef struct cli_common {
    const char *prog; /* "herald topic", the prefix of every error line */
    const char *bootstrap;
    int timeout_ms;
    bool verbose;
    const char *props[CLI_MAX_PROPS]; /* -X key=value, borrowed from argv */
    size_t nprops;
    char last_error[512]; /* the latest error reported by librdkafka's error_cb, or "" */
    bool brokers_down;    /* set by error_cb on "all brokers down"; cleared by whoever checks */
} cli_common_t;

/* getopt_long codes of the shared long-only options, and their table entries. */
enum { CLI_OPT_TIMEOUT = 1000, CLI_OPT_HELP, CLI_OPT_VERBOSE, CLI_OPT_FIRST_LOCAL };
#define CLI_COMMON_SHORTOPTS "b:X:v"
#define CLI_COMMON_LONGOPTS                                                                        \
    {"bootstrap", required_argument, NULL, 'b'},                                                   \
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},                                     \
        {"help", no_argument, NULL, CLI_OPT_HELP},                                                 \
    {                                                                                              \
        "verbose", no_argument, NULL, 'v'                                                          \
    }

#define CLI_COMMON_HELP                                                                            \
    "common options:\n"                                                                            \
    "  -b, --bootstrap HOST:PORT  broker to contact (default $HERALD_BOOTSTRAP "                   \
    "or " CLI_DEFAULT_BOOTSTRAP ")\n"                                                              \
    "  -X KEY=VALUE               set any librdkafka property (repeatable)\n"                      \
    "      --timeout MS           give up after MS milliseconds (default 10000)\n"                 \
    "  -v, --verbose              show librdkafka's own log lines\n"                               \
    "      --help                 show this help\n"

/* Sets the defaults (bootstrap from $HERALD_BOOTSTRAP). */
void cli__common_init(cli_common_t *c, const char *prog);

/* Handles one getopt_long result if it is a common option. Returns 1 if handled, 0 if not one of
 * ours, or -1 after printing a usage error. CLI_OPT_HELP is left to the caller (returns 0). */
int cli__common_opt(cli_common_t *c, int opt, const char *arg);

/* Prints the error line for getopt_long's '?' or ':' result and returns CLI_EXIT_USAGE. */
int cli__getopt_error(const cli_common_t *c, int opt, char **argv);

/* Prints "<prog>: <message>" to stderr. */
void cli__fail(const cli_common_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like cli__fail, for a librdkafka error: "<prog>: <what>: <err string>", followed by the last
 * broker error seen (e.g. "Connection refused") when there is one. */
void cli__fail_rk(const cli_common_t *c, const char *what, rd_kafka_resp_err_t err);

/* Like cli__fail_rk, for an rd_kafka_error_t; the last broker error is added to timeouts and
 * transport failures, where it is the real cause. */
void cli__fail_error(const cli_common_t *c, const char *what, const rd_kafka_error_t *e);

/* Usage error: prints "<prog>: <message> (see <prog> --help)" and returns CLI_EXIT_USAGE. */
int cli__usage_error(const cli_common_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Builds a configuration: bootstrap, the error/log callbacks and bounded timeouts, then the -X
 * properties (which may override the defaults). Returns NULL after printing the error. */
rd_kafka_conf_t *cli__conf_new(cli_common_t *c);
/* Sets one property; prints the error and returns -1 if librdkafka rejects it. */
int cli__conf_set(cli_common_t *c, rd_kafka_conf_t *conf, const char *key, const char *value);
/* Creates the handle; takes `conf` in every case. Returns NULL after printing the error. */
rd_kafka_t *cli__client_new(cli_common_t *c, rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* Fetches metadata for all topics, bounded by the timeout. Returns 0 or -1 after printing. */
int cli__metadata_get(cli_common_t *c, rd_kafka_t *rk, const struct rd_kafka_metadata **md);
/* Finds a topic in metadata; NULL if it is absent. */
const rd_kafka_metadata_topic_t *cli__metadata_topic(const struct rd_kafka_metadata *md,
                                                     const char *topic);

/* Admin options for `op` with request and operation timeouts set from --timeout. */
rd_kafka_AdminOptions_t *cli__admin_options_new(cli_common_t *c, rd_kafka_t *rk,
                                                rd_kafka_admin_op_t op);
/* Waits on `q` for the result of one admin request, serving error callbacks meanwhile.
 * Returns the event (caller destroys), or NULL after printing an error (timeout or the request's
 * own error). `what` names the request in messages. */
rd_kafka_event_t *cli__admin_wait(cli_common_t *c, rd_kafka_t *rk, rd_kafka_queue_t *q,
                                  const char *what);

/* SIGINT/SIGTERM set a flag instead of killing the process, so consumers can close cleanly. */
void cli__signals_install(void);
void cli__signals_restore(void);
bool cli__signals_stop(void);

#endif
