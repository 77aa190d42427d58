/* Shared pieces of the load generators (herald_bench, nats_bench, redis_bench): command-line
 * options, clocks, payloads, latency samples and the one-JSON-line-per-run result format that
 * bench/report.py aggregates. Nothing here knows about a particular broker. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Options every driver understands. Counts are per run unless said otherwise. */
typedef struct bench_opts {
    const char *mode;   /* produce, latency, fanout, catchup (plus driver-specific helpers) */
    const char *addr;   /* bootstrap servers, NATS URL or redis host:port */
    const char *system; /* label written to the result line, e.g. "redis-always" */
    const char *topic;  /* topic/stream/key prefix; a unique one is made when NULL */
    int64_t records;    /* records to produce in produce, fanout and catchup */
    int size;           /* value bytes per record (at least 8 in latency mode) */
    int inflight;       /* unacknowledged records allowed per producer */
    int partitions;     /* Kafka partitions, NATS streams or Redis stream keys */
    int producers;      /* producer connections, each with its own thread */
    int consumers;      /* independent consumers in fanout mode */
    int rate;           /* records/s in latency mode */
    double duration;    /* seconds of paced sending in latency mode */
    double warmup;      /* seconds at the start of latency mode whose samples are dropped */
    double linger_ms;   /* Kafka linger.ms (librdkafka takes fractions) */
    int connections;    /* idle TCP connections in herald_bench's connections mode */
    double hold;        /* seconds to hold those connections (0: until SIGTERM) */
    double timeout;     /* seconds without progress before a run gives up */
} bench_opts_t;

/* Options and clocks */

/* Fills `o` from argv (long options only, e.g. --records 1000). Returns 0, 1 for --help (print
 * the usage and exit 0), or -1 with `*why` set to a static message. `default_addr` is used when
 * --addr is absent. */
int bench_opts_parse(bench_opts_t *o, int argc, char **argv, const char *default_addr,
                     const char **why);

/* Prints the option summary shared by all drivers. */
void bench_opts_usage(FILE *f, const char *prog, const char *modes);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

/* CLOCK_REALTIME in nanoseconds, for comparing with timestamps taken by other processes. */
int64_t bench_wall_ns(void);

/* Sleeps until bench_now_ns() >= t. */
void bench_sleep_until_ns(int64_t t);

/* Fills `p` with incompressible pseudo-random bytes derived from `seed`. */
void bench_payload_fill(uint8_t *p, size_t n, uint64_t seed);

/* Writes a topic/stream name unique to this process and moment into `buf`. */
void bench_unique_name(char *buf, size_t len, const char *prefix, const char *mode);

/* Writes the 8-byte send timestamp at the start of a latency record; reads it back. */
void bench_stamp_put(uint8_t *p, int64_t t_ns);
int64_t bench_stamp_get(const void *p, size_t len);

/* Latency samples */

/* A growable array of latency samples in nanoseconds. Sorted once, when percentiles are read.
 * Owned by one consumer thread at a time. */
typedef struct bench_samples {
    int64_t *v;
    size_t n, cap;
    bool sorted;
} bench_samples_t;

void bench_samples_init(bench_samples_t *s);
void bench_samples_deinit(bench_samples_t *s);
void bench_samples_add(bench_samples_t *s, int64_t ns);
/* Appends all of `src` to `dst`. */
void bench_samples_merge(bench_samples_t *dst, const bench_samples_t *src);
/* The q-quantile (0..1) in milliseconds by the nearest-rank method; 0 when empty. */
double bench_samples_quantile_ms(bench_samples_t *s, double q);

/* Results */

/* One run's outcome. Fields that do not apply to a mode stay 0 and are still printed. */
typedef struct bench_result {
    const bench_opts_t *opts;
    int partitions;     /* partitions actually used (a broker may create fewer) */
    int64_t records;    /* records acknowledged (produce) or read per consumer (catchup) */
    int64_t deliveries; /* records received, summed over consumers */
    int64_t bytes;      /* value bytes moved in the timed phase */
    double secs;        /* length of the timed phase */
    int64_t errors;     /* failed publishes or consumer errors */
    bench_samples_t *lat;
    const char *note; /* static text, e.g. why a run stopped early */
} bench_result_t;

/* Prints `r` as one JSON object on one line to stdout and flushes. */
void bench_result_print(const bench_result_t *r);

/* ---- Reader threads and the modes built on them (herald_bench, redis_bench) ---- */

/* One consumer that runs on its own thread until it has read `expected` records. */
typedef struct bench_reader {
    void *run;           /* the driver's own run state */
    int64_t expected;    /* records to read before returning */
    _Atomic int64_t got; /* records read so far (other threads poll it) */
    int64_t bytes, errors;
    int64_t warm_ns; /* latency: records stamped before this are not sampled */
    int64_t done_ns; /* when it stopped reading */
    bool want_lat;   /* sample producer stamp to receipt into `lat` */
    bench_samples_t lat;
    pthread_t thread;
} bench_reader_t;

void bench_reader_init(bench_reader_t *c, void *run, int64_t expected);

/* What a driver supplies for the bench_mode_*() functions. */
typedef struct bench_driver {
    const char *name; /* for messages, e.g. "herald_bench" */
    const bench_opts_t *o;
    void *run;
    int partitions; /* as used (a broker may create fewer than asked) */
    /* The reader thread body: `arg` is a bench_reader_t whose run is `run` (NULL for a driver
     * whose consumers are not bench_reader_t threads; it then runs only bench_mode_produce). */
    void *(*reader_main)(void *arg);
    /* Produces `records` records with o->producers producers; returns elapsed seconds. */
    double (*produce)(void *run, int64_t records, int64_t *acked, int64_t *failed);
} bench_driver_t;

/* (a) and (e) The producers write o->records records; records/s acknowledged. */
int bench_mode_produce(const bench_driver_t *d);
/* (c) o->consumers readers start, then the producers write o->records records; deliveries/s
 * from the start to the last reader's last record. Prints the result; returns 0 without errors. */
int bench_mode_fanout(const bench_driver_t *d);
/* (d) The producers write o->records records, then one reader reads them all from the start. */
int bench_mode_catchup(const bench_driver_t *d);

#endif
