/* The registry's durable state: an internal log of the broker, DATA_DIR/__schemas/, holding
 * every change as it was made, replayed at start.
 *
 * The log is a log/ partition like any topic's (segment files of RecordBatch v2 frames, with
 * their index files), so it has the log's crash guarantees: appends are fsynced by the flusher
 * thread (the loop never syncs), an answer is given only once the change is durable, and at
 * start recovery cuts a torn or corrupt tail batch. One change is one batch, so it survives a
 * crash whole or not at all. A batch, as written (all integers big-endian):
 *
 *   offset  size  field
 *        0     8  baseOffset            assigned by the log
 *        8     4  batchLength           bytes after this field
 *       12     4  partitionLeaderEpoch  -1
 *       16     1  magic                 2
 *       17     4  crc                   CRC-32C of bytes 21..end
 *       21     2  attributes            0 (uncompressed, CreateTime)
 *       23     4  lastOffsetDelta       records - 1
 *       27     8  baseTimestamp         ms since the epoch
 *       35     8  maxTimestamp
 *       43     8  producerId            -1
 *       51     2  producerEpoch         -1
 *       53     4  baseSequence          -1
 *       57     4  recordsCount
 *       61     .  records, each: varint length, i8 attributes 0, varint timestampDelta,
 *                 varint offsetDelta, varint keyLength -1 (null key), varint valueLength,
 *                 value, varint headerCount 0   (varints are zigzag, as Kafka's)
 *
 * Each record's value is one entry, a compact JSON object in UTF-8:
 *
 *   {"t":"schema","subject":S,"version":V,"id":I,"schemaType":"AVRO"|"JSON","schema":TEXT,
 *    "references":[{"name":N,"subject":S,"version":V},...]}
 *        version V of subject S is the schema with id I (the first entry naming an id defines
 *        its type, text and references; TEXT is the normalized schema text)
 *   {"t":"delete","subject":S,"version":V,"permanent":false|true}
 *        soft-deletes version V, or removes it for good
 *   {"t":"config","subject":S|null,"compatibility":"BACKWARD"|...|null}
 *        sets (or, with null, removes) the compatibility level of S, or the global one
 *
 * Replay applies the entries in log order. An entry that does not parse or does not fit the
 * state (an unknown subject, a version out of order, an id redefined differently) is skipped
 * with a warning; it never stops the broker from starting. */
#include "registry/registry_int.h"
#include "broker/records.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/monotime.h"
#include "util/say.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_READ_BYTES (8 << 20)
#define REPLAY_MAX_INFLATED (BROKER_INTERNAL_MAX_BATCH * 2)
#define MAX_ENTRIES 100000
/* The log of a Produce request's version whose rules our batches follow. */
#define STORE_API_VERSION 9

static json_t *entry_json(const registry__entry_t *e)
{
    json_t *j = json_object();
    switch (e->kind) {
    case REGISTRY__E_SCHEMA: {
        json_object_set_new(j, "t", json_string("schema"));
        json_object_set_new(j, "subject", json_string(e->subject));
        json_object_set_new(j, "version", json_integer(e->version));
        json_object_set_new(j, "id", json_integer(e->id));
        json_object_set_new(j, "schemaType", json_string(registry_type_name(e->type)));
        json_object_set_new(j, "schema", json_string(e->text));
        json_t *refs = json_array();
        for (int i = 0; i < e->nrefs; i++) {
            json_t *r = json_object();
            json_object_set_new(r, "name", json_string(e->refs[i].name));
            json_object_set_new(r, "subject", json_string(e->refs[i].subject));
            json_object_set_new(r, "version", json_integer(e->refs[i].version));
            json_array_append_new(refs, r);
        }
        json_object_set_new(j, "references", refs);
        break;
    }
    case REGISTRY__E_DELETE:
        json_object_set_new(j, "t", json_string("delete"));
        json_object_set_new(j, "subject", json_string(e->subject));
        json_object_set_new(j, "version", json_integer(e->version));
        json_object_set_new(j, "permanent", json_boolean(e->permanent));
        break;
    case REGISTRY__E_CONFIG:
        json_object_set_new(j, "t", json_string("config"));
        json_object_set_new(j, "subject", e->subject ? json_string(e->subject) : json_null());
        json_object_set_new(j, "compatibility",
                            e->compat >= 0 ? json_string(registry_compat_name(e->compat))
                                           : json_null());
        break;
    }
    return j;
}

int registry__store_append(registry_t *reg, const registry__entry_t *e, int n, int64_t *durable_at)
{
    if (n <= 0 || n > MAX_ENTRIES)
        return HD_EINVAL;
    char **texts = hd_calloc((size_t)n, sizeof *texts);
    broker_record_in_t *recs = hd_calloc((size_t)n, sizeof *recs);
    int64_t now = hd_wall_ms();
    int rc = 0;
    for (int i = 0; i < n; i++) {
        json_t *j = entry_json(&e[i]);
        texts[i] = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!texts[i]) {
            rc = HD_EINVAL;
            goto out;
        }
        recs[i].key_null = true;
        recs[i].value = hd_slice_str(texts[i]);
        recs[i].timestamp = now;
    }
    hd_buf_reset(&reg->scratch);
    ssize_t len = broker_batch_build(recs, n, BROKER_INTERNAL_MAX_BATCH, &reg->scratch);
    if (len < 0) {
        rc = (int)len;
        goto out;
    }
    broker_append_t res;
    const char *why = NULL;
    rc = broker_partition_append(reg->log, reg->scratch.p, (size_t)len, STORE_API_VERSION, &res,
                                 &why);
    if (rc < 0) {
        say_warn_every(5, "schema registry: appending to its log failed: %s (%s)", hd_strerror(rc),
                       why ? why : "");
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (!registry__apply(reg, &e[i]))
            say_warn("schema registry: an entry just written does not apply (bug)");
    *durable_at = res.end_offset;
out:
    for (int i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(recs);
    return rc;
}

/* ---- replay ---- */

static bool int_in(json_t *v, int64_t lo, int64_t hi, int32_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return false;
    *out = (int32_t)json_integer_value(v);
    return true;
}

/* Decodes one entry; false when it is not one. Strings point into j. */
static bool entry_parse(json_t *j, registry__entry_t *e, registry_ref_t *refs)
{
    memset(e, 0, sizeof *e);
    const char *t = json_string_value(json_object_get(j, "t"));
    json_t *subject = json_object_get(j, "subject");
    if (!t)
        return false;
    if (!strcmp(t, "config")) {
        e->kind = REGISTRY__E_CONFIG;
        if (!json_is_null(subject) && !json_is_string(subject))
            return false;
        e->subject = json_string_value(subject);
        json_t *c = json_object_get(j, "compatibility");
        e->compat = json_is_null(c) ? -1 : registry_compat_parse(json_string_value(c));
        return json_is_null(c) || e->compat >= 0;
    }
    if (!json_is_string(subject) || !registry_subject_valid(json_string_value(subject)))
        return false;
    e->subject = json_string_value(subject);
    if (!int_in(json_object_get(j, "version"), 1, INT32_MAX, &e->version))
        return false;
    if (!strcmp(t, "delete")) {
        e->kind = REGISTRY__E_DELETE;
        json_t *p = json_object_get(j, "permanent");
        if (!json_is_boolean(p))
            return false;
        e->permanent = json_is_true(p);
        return true;
    }
    if (strcmp(t, "schema"))
        return false;
    e->kind = REGISTRY__E_SCHEMA;
    if (!int_in(json_object_get(j, "id"), 1, INT32_MAX, &e->id))
        return false;
    const char *type = json_string_value(json_object_get(j, "schemaType"));
    e->type = type ? registry_type_parse(type) : -1;
    e->text = json_string_value(json_object_get(j, "schema"));
    json_t *jr = json_object_get(j, "references");
    if (e->type < 0 || !e->text || (jr && !json_is_array(jr)) ||
        json_array_size(jr) > REGISTRY_MAX_REFS)
        return false;
    size_t i;
    json_t *r;
    json_array_foreach(jr, i, r)
    {
        refs[i].name = json_string_value(json_object_get(r, "name"));
        refs[i].subject = json_string_value(json_object_get(r, "subject"));
        if (!refs[i].name || !refs[i].subject ||
            !int_in(json_object_get(r, "version"), 1, INT32_MAX, &refs[i].version))
            return false;
    }
    e->refs = refs;
    e->nrefs = (int)json_array_size(jr);
    return true;
}

typedef struct replay {
    registry_t *reg;
    int64_t applied;
} replay_t;

static int replay_record(void *ctx, const broker_record_t *rec)
{
    replay_t *rp = ctx;
    registry_t *reg = rp->reg;
    json_t *j = NULL;
    registry__entry_t e;
    registry_ref_t refs[REGISTRY_MAX_REFS];
    if (!rec->value_null)
        j = json_loadb((const char *)rec->value.p, rec->value.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j) || !entry_parse(j, &e, refs) || !registry__apply(reg, &e)) {
        reg->skipped++;
        say_warn_every(10, "schema registry: skipping an entry of its log at offset %" PRId64,
                       rec->offset);
    } else {
        rp->applied++;
    }
    json_decref(j);
    return 0;
}

int registry__store_apply_batch(registry_t *reg, hd_slice_t batch)
{
    replay_t rp = {reg, 0};
    hd_buf_t scratch;
    hd_buf_init(&scratch);
    int rc = broker_batch_for_each(batch, REPLAY_MAX_INFLATED, &scratch, replay_record, &rp);
    hd_buf_deinit(&scratch);
    return rc;
}

int registry__store_replay(registry_t *reg)
{
    int64_t off = broker_partition_start(reg->log), end = broker_partition_hwm(reg->log);
    hd_buf_t buf, scratch;
    hd_buf_init(&buf);
    hd_buf_init(&scratch);
    replay_t rp = {reg, 0};
    int rc = 0;
    while (off < end) {
        hd_buf_reset(&buf);
        ssize_t n = broker_partition_read(reg->log, off, REPLAY_READ_BYTES, &buf);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        size_t pos = 0;
        int64_t next = off;
        while (pos + BROKER_BATCH_HEADER_LEN <= buf.len) {
            broker_batch_hdr_t h;
            broker_batch_hdr_decode(buf.p + pos, &h);
            size_t blen = (size_t)h.batch_length + 12;
            if (h.batch_length < 49 || pos + blen > buf.len) {
                rc = HD_ECORRUPT;
                break;
            }
            if (h.base_offset + h.last_offset_delta >= off) {
                int brc = broker_batch_for_each(hd_slice(buf.p + pos, blen), REPLAY_MAX_INFLATED,
                                                &scratch, replay_record, &rp);
                if (brc < 0)
                    say_warn("schema registry: batch at %" PRId64 " of its log unreadable: %s",
                             h.base_offset, hd_strerror(brc));
            }
            next = h.base_offset + h.last_offset_delta + 1;
            pos += blen;
        }
        if (rc < 0 || next <= off)
            break;
        off = next;
    }
    hd_buf_deinit(&buf);
    hd_buf_deinit(&scratch);
    say_info("schema registry: replayed %" PRId64 " entries (%" PRId64
             " skipped): %d subjects, %d schemas",
             rp.applied, reg->skipped, reg->nsubj, reg->nschemas);
    return rc;
}
