/* Fuzz target: the replay of __consumer_offsets (broker/offsets.c, offsets_format.c), i.e. the
 * parsers of the records Herald reads back from DATA_DIR/__consumer_offsets at startup: Kafka's
 * OffsetCommit and GroupMetadata records, and the format before them. The input is one byte
 * choosing the format (odd: the old one) and one RecordBatch whose records are replayed into a
 * broker's group tables (groups restored with their members); a damaged disk must never crash
 * it. Every 256 inputs the broker is compacted and reopened (which replays what it wrote). */
#include "broker/broker_int.h"
#include "util/config.h"
#include "util/say.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hd_config_t cfg;
static broker_t *b;
static unsigned runs;

static void noop(void *ctx) { (void)ctx; }

static int count(void *ctx, const char *topic, int32_t partition, const broker_offset_t *o)
{
    (void)partition;
    *(size_t *)ctx += strlen(topic) + strlen(o->metadata) + 1;
    return 0;
}

static void open_broker(void)
{
    if (!cfg.data_dir) {
        hd_config_init(&cfg);
        free(cfg.data_dir);
        cfg.data_dir = fuzz_tmpdir("offsets");
        cfg.preallocate = false;
        say_level = SAY_ERROR;
    }
    if (broker_open(&cfg, noop, NULL, &b) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    if (!b)
        open_broker();
    broker__offsets_apply(b, hd_slice(data + 1, size - 1), data[0] & 1);
    /* Restored members expire, empty groups are written and dropped, as after a start. */
    broker_group_tick(b);
    /* Whatever was applied must be consistent enough to snapshot and read back. */
    size_t n = 0;
    for (int i = 0; i < broker_group_count(b); i++)
        broker_offsets_each(b, broker_group_id(broker_group_at(b, i)), count, &n);
    if (++runs % 256 == 0) {
        broker_offsets_compact(b, true);
        broker_close(b);
        open_broker();
    }
    return 0;
}
