/* Which consumer group a Kafka client belongs to, for end-to-end latency and delivery spans of
 * its fetches.
 *
 * A Fetch request names no group. Clients send group requests (JoinGroup, SyncGroup, Heartbeat,
 * OffsetCommit, OffsetFetch) on a connection to the group coordinator, which Java and librdkafka
 * open apart from the connection they fetch on, even when both go to the same broker. So the
 * group is remembered per client rather than per connection: the key is the client id with the
 * peer's address without its port, and the value is the last group that client named. A fetch
 * from a client that never named one (assign() without commits) is attributed to group "".
 * Clients that share a client id on one host and consume for different groups are attributed
 * to whichever named its group last.
 *
 * The table is bounded: KAFKA_GROUP_SEEN_SLOTS entries, open addressing over a short probe run;
 * when the run is full, the entry seen longest ago is replaced. Loop thread only. */
#include "kafka/handler_int.h"
#include "util/mem.h"
#include "util/monotime.h"

#include <stdlib.h>
#include <string.h>

#define KAFKA_GROUP_SEEN_SLOTS 4096
#define KAFKA_GROUP_SEEN_PROBE 8
#define KAFKA_GROUP_MAX 255

typedef struct seen {
    uint64_t key; /* 0: free */
    int64_t when_ms;
    char group[KAFKA_GROUP_MAX + 1];
} seen_t;

static seen_t *slots;

/* FNV-1a over the client id, a separator, and the peer without its port. */
static uint64_t client_key(const kafka_req_t *r)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *s = r->client_id ? r->client_id : ""; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    const char *peer = r->peer ? r->peer : "";
    const char *colon = strrchr(peer, ':');
    size_t n = colon ? (size_t)(colon - peer) : strlen(peer);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)peer[i]) * 1099511628211ull;
    return h ? h : 1;
}

void kafka__group_note(kafka_req_t *r, const char *group)
{
    if (!group || !group[0])
        return;
    if (!slots)
        slots = hd_calloc(KAFKA_GROUP_SEEN_SLOTS, sizeof *slots);
    uint64_t key = client_key(r);
    size_t base = (size_t)(key % KAFKA_GROUP_SEEN_SLOTS);
    seen_t *victim = NULL;
    for (int i = 0; i < KAFKA_GROUP_SEEN_PROBE; i++) {
        seen_t *s = &slots[(base + (size_t)i) % KAFKA_GROUP_SEEN_SLOTS];
        if (s->key == key || s->key == 0) {
            victim = s;
            break;
        }
        if (!victim || s->when_ms < victim->when_ms)
            victim = s;
    }
    victim->key = key;
    victim->when_ms = hd_mono_ms();
    if (strncmp(victim->group, group, KAFKA_GROUP_MAX) != 0) {
        strncpy(victim->group, group, KAFKA_GROUP_MAX);
        victim->group[KAFKA_GROUP_MAX] = '\0';
    }
}

const char *kafka__group_of(const kafka_req_t *r)
{
    if (!slots)
        return "";
    uint64_t key = client_key(r);
    size_t base = (size_t)(key % KAFKA_GROUP_SEEN_SLOTS);
    for (int i = 0; i < KAFKA_GROUP_SEEN_PROBE; i++) {
        seen_t *s = &slots[(base + (size_t)i) % KAFKA_GROUP_SEEN_SLOTS];
        if (s->key == key)
            return s->group;
        if (s->key == 0)
            break;
    }
    return "";
}
