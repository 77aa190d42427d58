/* Fuzz target: a subscription's state-log replay (delivery/state.c), i.e. the parser of what
 * Herald reads back from DATA_DIR/__subscriptions/<name>/state/ at startup. The input is one
 * RecordBatch whose records are applied to a live subscription; a damaged disk must never crash
 * it. The state is then used (stats, a receive with acks) and, every 64 inputs, compacted into a
 * snapshot and reopened, which replays what was written. Settings that name another topic id
 * make the subscription start over, as for a topic deleted and created again. */
#include "delivery/delivery_int.h"
#include "util/config.h"
#include "util/crc32c.h"
#include "util/say.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hd_config_t cfg;
static broker_t *b;
static delivery_t *d;
static unsigned runs;

static void noop(void *ctx) { (void)ctx; }

static void ack_cb(void *ctx, const delivery_msg_t *m)
{
    delivery_sub_t *s = ctx;
    const char *r[1] = {m->receipt};
    int res;
    int64_t at;
    delivery_ack(s, r, 1, &res, &at);
}

static delivery_sub_t *ensure_sub(void);

static void open_all(void)
{
    if (!cfg.data_dir) {
        hd_config_init(&cfg);
        free(cfg.data_dir);
        cfg.data_dir = fuzz_tmpdir("delivery");
        cfg.preallocate = false;
        say_level = SAY_ERROR;
    }
    if (broker_open(&cfg, noop, NULL, &b) < 0)
        abort();
    if (!broker_topic_find(b, "jobs")) {
        broker_topic_t *t;
        const char *why;
        if (broker_topic_create(b, "jobs", 2, NULL, 0, false, &t, &why) < 0)
            abort();
    }
    if (delivery_open(b, &d) < 0)
        abort();
    ensure_sub();
}

/* The subscription "w", created when missing (first start, or a start-over of it that could not
 * be created again under the settings an input gave it). */
static delivery_sub_t *ensure_sub(void)
{
    delivery_sub_t *s = delivery_sub_find(d, "w");
    if (!s) {
        delivery_settings_t st;
        delivery_settings_defaults(&st);
        st.name = "w";
        st.topic = "jobs";
        st.ordering = DELIVERY_ORDER_KEY;
        st.max_deliveries = 3;
        int64_t at;
        const char *why;
        if (delivery_sub_create(d, &st, &s, &at, &why) < 0)
            abort();
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    if (!d)
        open_all();
    delivery_sub_t *s = ensure_sub();
    /* Random bytes almost never carry a right CRC; fix the length and the CRC so that the
     * records behind them are what gets exercised. */
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    if (size >= 61) {
        uint32_t len = (uint32_t)(size - 12);
        for (int i = 0; i < 4; i++)
            copy[8 + i] = (uint8_t)(len >> (24 - 8 * i));
        uint32_t crc = hd_crc32c(0, copy + 21, size - 21);
        for (int i = 0; i < 4; i++)
            copy[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
    }
    dl__st_apply(s, hd_slice(copy, size));
    free(copy);
    delivery_stats_t st;
    delivery_sub_stats(s, &st);
    delivery_tick(d);
    /* A topic id other than the topic's makes the subscription start over (a new one). */
    s = ensure_sub();
    delivery_receive(s, 4, ack_cb, s);
    if (++runs % 64 == 0) {
        dl__st_maybe_compact(s, true);
        delivery_close(d);
        broker_close(b);
        d = NULL;
        open_all();
    }
    return 0;
}
