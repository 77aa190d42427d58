/* The record format of __consumer_offsets: Apache Kafka's own (its group coordinator's
 * OffsetCommitKey/Value and GroupMetadataKey/Value), which is also Herald's durable store of
 * committed offsets and classic-group state (offsets.c), and the format Herald wrote before
 * (read once, to convert an old data directory). Also Kafka's partitioning of the topic.
 *
 * Every record is one Kafka record (RecordBatch v2, offsets.c builds the batches). All integers
 * are big-endian; "str" is i16 length + UTF-8 bytes, "nstr" the same with length -1 for null,
 * "bytes" is i32 length + bytes. The record key starts with an i16 key version naming the type:
 *
 *   key version 0 or 1, OffsetCommitKey:   str group, str topic, i32 partition
 *     value (null: the offset was deleted or expired), OffsetCommitValue:
 *       i16 version, then by version
 *         0, 2:  i64 offset, str metadata, i64 commit timestamp (ms)
 *         1:     i64 offset, str metadata, i64 commit timestamp, i64 expire timestamp
 *         3:     i64 offset, i32 leader epoch (-1: none), str metadata, i64 commit timestamp
 *                (metadata: the client's bytes exactly, NUL bytes included)
 *         4:     as 3 in Kafka's flexible encoding (compact strings: uvarint length + 1, and
 *                an empty tagged-field section: uvarint 0)
 *       Herald writes key version 1 and value version 3, as Kafka 4.x does.
 *
 *   key version 2, GroupMetadataKey:   str group
 *     value (null: the group was deleted), GroupMetadataValue:
 *       i16 version (0..3), str protocol type, i32 generation, nstr protocol, nstr leader,
 *       [version 2+] i64 current-state timestamp (ms),
 *       i32 member count, per member: str member id, [3+] nstr group instance id,
 *         str client id, str client host, [1+] i32 rebalance timeout (ms),
 *         i32 session timeout (ms), bytes subscription, bytes assignment
 *       Herald writes version 3, as Kafka does for classic groups; a group without members
 *       has a null protocol and leader and no members.
 *
 *   other key versions (Kafka's consumer-protocol and share-group records): skipped.
 *
 * Partitioning, as Kafka's: a group's records all go to partition
 *   abs(h) % offsets.topic.num.partitions, with h Java's String.hashCode() of the group id
 *   (s[0]*31^(n-1) + ... + s[n-1] over its UTF-16 code units, 32-bit wrapping; abs of
 *   INT32_MIN is 0). Invalid UTF-8 counts as one U+FFFD per bad byte.
 *
 * The format before this one (one log partition, DATA_DIR/__consumer_offsets/ itself): keys
 *   i16 type; type 0 offset: str group, str topic, i32 partition; type 1 group deleted:
 *   str group; type 2 snapshot start (forget everything before). Value of type 0 (null
 *   deletes): i16 0, i64 offset, i32 leader epoch, i64 commit ms, str metadata. */
#include "broker/broker_int.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/reader.h"

#include <stdlib.h>
#include <string.h>

/* ---- partitioning ---- */

/* Decodes one UTF-8 sequence at s[*i] (advancing *i); a bad byte is U+FFFD. */
static uint32_t next_code_point(const uint8_t *s, size_t n, size_t *i)
{
    uint8_t c = s[*i];
    int len = c < 0x80             ? 1
              : (c & 0xe0) == 0xc0 ? 2
              : (c & 0xf0) == 0xe0 ? 3
              : (c & 0xf8) == 0xf0 ? 4
                                   : 0;
    uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    if (len == 0 || *i + (size_t)len > n) {
        (*i)++;
        return 0xfffd;
    }
    for (int k = 1; k < len; k++) {
        if ((s[*i + (size_t)k] & 0xc0) != 0x80) {
            (*i)++;
            return 0xfffd;
        }
        cp = (cp << 6) | (s[*i + (size_t)k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        (*i)++;
        return 0xfffd;
    }
    *i += (size_t)len;
    return cp;
}

int32_t broker__offsets_partition_for(const char *group, int32_t nparts)
{
    const uint8_t *s = (const uint8_t *)group;
    size_t n = strlen(group), i = 0;
    uint32_t h = 0;
    while (i < n) {
        uint32_t cp = next_code_point(s, n, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = h * 31u + (0xd800u + (cp >> 10));
            h = h * 31u + (0xdc00u + (cp & 0x3ff));
        } else {
            h = h * 31u + cp;
        }
    }
    int32_t v = (int32_t)h;
    uint32_t a = v == INT32_MIN ? 0u : (uint32_t)(v < 0 ? -v : v);
    return nparts > 0 ? (int32_t)(a % (uint32_t)nparts) : 0;
}

/* ---- encoding ---- */

static void put_str(hd_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    hd_buf_put_i16be(b, (int16_t)n);
    hd_buf_put(b, s, n);
}

static void put_nstr(hd_buf_t *b, const char *s)
{
    if (s)
        put_str(b, s);
    else
        hd_buf_put_i16be(b, -1);
}

static void put_bytes(hd_buf_t *b, hd_slice_t s)
{
    hd_buf_put_i32be(b, (int32_t)s.len);
    hd_buf_put(b, s.p, s.len);
}

void broker__okey_offset(hd_buf_t *k, const char *group, const char *topic, int32_t partition)
{
    hd_buf_reset(k);
    hd_buf_put_i16be(k, BROKER__OKEY_OFFSET);
    put_str(k, group);
    put_str(k, topic);
    hd_buf_put_i32be(k, partition);
}

void broker__oval_offset(hd_buf_t *v, int64_t offset, int32_t epoch, const char *meta,
                         size_t meta_len, int64_t commit_ms)
{
    hd_buf_reset(v);
    hd_buf_put_i16be(v, 3);
    hd_buf_put_i64be(v, offset);
    hd_buf_put_i32be(v, epoch);
    hd_buf_put_i16be(v, (int16_t)(meta ? meta_len : 0)); /* the client's bytes, NULs included */
    if (meta && meta_len)
        hd_buf_put(v, meta, meta_len);
    hd_buf_put_i64be(v, commit_ms);
}

void broker__okey_group(hd_buf_t *k, const char *group)
{
    hd_buf_reset(k);
    hd_buf_put_i16be(k, BROKER__OKEY_GROUP);
    put_str(k, group);
}

void broker__gmeta_encode(hd_buf_t *v, const broker__gmeta_t *m)
{
    hd_buf_reset(v);
    hd_buf_put_i16be(v, 3);
    put_str(v, m->protocol_type ? m->protocol_type : "");
    hd_buf_put_i32be(v, m->generation);
    put_nstr(v, m->protocol);
    put_nstr(v, m->leader);
    hd_buf_put_i64be(v, m->state_ms);
    hd_buf_put_i32be(v, m->nmembers);
    for (int i = 0; i < m->nmembers; i++) {
        const broker__gmember_t *x = &m->members[i];
        put_str(v, x->member_id);
        put_nstr(v, x->instance_id);
        put_str(v, x->client_id ? x->client_id : "");
        put_str(v, x->client_host ? x->client_host : "");
        hd_buf_put_i32be(v, x->rebalance_ms);
        hd_buf_put_i32be(v, x->session_ms);
        put_bytes(v, x->subscription);
        put_bytes(v, x->assignment);
    }
}

/* ---- decoding ---- */

/* A string field: classic (i16 length, -1 null when nullable) or compact (uvarint length + 1,
 * 0 null). Sets *is_null; a null where none is allowed is malformed. */
static hd_slice_t read_str(hd_reader_t *r, bool compact, bool nullable, bool *is_null)
{
    int64_t n;
    if (compact)
        n = (int64_t)hd_read_uvarint32(r) - 1;
    else
        n = hd_read_i16(r);
    *is_null = false;
    if (r->err)
        return hd_slice(NULL, 0);
    if (n < 0) {
        if (n != -1 || !nullable)
            hd_reader_fail(r, HD_EMALFORMED);
        *is_null = true;
        return hd_slice(NULL, 0);
    }
    return hd_read_bytes(r, (size_t)n);
}

static hd_slice_t read_s(hd_reader_t *r, bool compact)
{
    bool null;
    return read_str(r, compact, false, &null);
}

/* A string that becomes a C string: it must not contain NUL. */
static bool c_string(hd_slice_t s) { return !memchr(s.p ? s.p : (const uint8_t *)"", 0, s.len); }

int broker__orec_parse(const broker_record_t *rec, broker__orec_t *out)
{
    memset(out, 0, sizeof *out);
    if (rec->key_null)
        return HD_EMALFORMED;
    hd_reader_t r = hd_reader_init(rec->key);
    int16_t kv = hd_read_i16(&r);
    if (r.err)
        return HD_EMALFORMED;
    if (kv != BROKER__OKEY_LEGACY_OFFSET && kv != BROKER__OKEY_OFFSET && kv != BROKER__OKEY_GROUP) {
        out->type = BROKER__OREC_OTHER;
        return 0;
    }
    out->group = read_s(&r, false);
    if (kv == BROKER__OKEY_GROUP) {
        out->type = BROKER__OREC_GROUP;
    } else {
        out->type = BROKER__OREC_OFFSET;
        out->topic = read_s(&r, false);
        out->partition = hd_read_i32(&r);
    }
    if (r.err || hd_reader_left(&r) || !out->group.len || !c_string(out->group) ||
        !c_string(out->topic))
        return HD_EMALFORMED;
    out->tombstone = rec->value_null;
    if (rec->value_null)
        return 0;
    if (out->type == BROKER__OREC_GROUP) {
        out->value = rec->value; /* decoded by broker__gmeta_decode() */
        return 0;
    }
    hd_reader_t v = hd_reader_init(rec->value);
    int16_t ver = hd_read_i16(&v);
    bool compact = ver >= 4;
    if (v.err || ver < 0 || ver > 4)
        return HD_EMALFORMED;
    out->offset = hd_read_i64(&v);
    out->leader_epoch = ver >= 3 ? hd_read_i32(&v) : -1;
    out->metadata = read_s(&v, compact);
    out->commit_ms = hd_read_i64(&v);
    if (ver == 1)
        hd_read_i64(&v); /* expire timestamp: Herald expires by offsets.retention.minutes */
    if (compact) {
        /* Tagged fields: none are defined; each is skipped. */
        uint32_t ntags = hd_read_uvarint32(&v);
        for (uint32_t i = 0; i < ntags && !v.err; i++) {
            hd_read_uvarint32(&v);
            hd_read_skip(&v, hd_read_uvarint32(&v));
        }
    }
    if (v.err) /* metadata is kept byte for byte: it may hold NUL bytes */
        return HD_EMALFORMED;
    return 0;
}

int broker__orec_parse_legacy(const broker_record_t *rec, broker__orec_t *out)
{
    memset(out, 0, sizeof *out);
    if (rec->key_null)
        return HD_EMALFORMED;
    hd_reader_t r = hd_reader_init(rec->key);
    int16_t type = hd_read_i16(&r);
    if (r.err)
        return HD_EMALFORMED;
    if (type == 2) {
        out->type = BROKER__OREC_SNAPSHOT;
        return 0;
    }
    if (type != 0 && type != 1)
        return HD_EMALFORMED;
    out->group = read_s(&r, false);
    if (type == 1) {
        out->type = BROKER__OREC_GROUP;
        out->tombstone = true;
    } else {
        out->type = BROKER__OREC_OFFSET;
        out->topic = read_s(&r, false);
        out->partition = hd_read_i32(&r);
    }
    if (r.err || !out->group.len || !c_string(out->group) || !c_string(out->topic))
        return HD_EMALFORMED;
    if (type == 1 || rec->value_null) {
        out->tombstone = true;
        return 0;
    }
    hd_reader_t v = hd_reader_init(rec->value);
    int16_t ver = hd_read_i16(&v);
    out->offset = hd_read_i64(&v);
    out->leader_epoch = hd_read_i32(&v);
    out->commit_ms = hd_read_i64(&v);
    out->metadata = read_s(&v, false);
    if (v.err || ver != 0)
        return HD_EMALFORMED;
    return 0;
}

static char *dup_slice(hd_slice_t s) { return hd_strndup((const char *)s.p, s.len); }

static char *dup_nslice(hd_slice_t s, bool is_null) { return is_null ? NULL : dup_slice(s); }

void broker__gmeta_free(broker__gmeta_t *m)
{
    free(m->protocol_type);
    free(m->protocol);
    free(m->leader);
    for (int i = 0; i < m->nmembers; i++) {
        free(m->members[i].member_id);
        free(m->members[i].instance_id);
        free(m->members[i].client_id);
        free(m->members[i].client_host);
    }
    free(m->members);
    memset(m, 0, sizeof *m);
}

/* The smallest encoding of one member (empty strings and bytes, version 0). */
#define MEMBER_MIN_BYTES (3 * 2 + 4 + 2 * 4)

int broker__gmeta_decode(hd_slice_t value, broker__gmeta_t *out)
{
    memset(out, 0, sizeof *out);
    hd_reader_t r = hd_reader_init(value);
    int16_t ver = hd_read_i16(&r);
    if (r.err || ver < 0 || ver > 3)
        return HD_EMALFORMED;
    bool null_proto, null_leader, null_iid = true;
    hd_slice_t ptype = read_s(&r, false);
    out->generation = hd_read_i32(&r);
    hd_slice_t proto = read_str(&r, false, true, &null_proto);
    hd_slice_t leader = read_str(&r, false, true, &null_leader);
    out->state_ms = ver >= 2 ? hd_read_i64(&r) : -1;
    int32_t n = hd_read_count(&r, (int32_t)(value.len / MEMBER_MIN_BYTES + 1));
    if (r.err || n < 0 || !c_string(ptype) || !c_string(proto) || !c_string(leader))
        return HD_EMALFORMED; /* n -1 (a null array) is not a member list */
    out->protocol_type = dup_slice(ptype);
    out->protocol = dup_nslice(proto, null_proto);
    out->leader = dup_nslice(leader, null_leader);
    out->members = hd_calloc((size_t)(n ? n : 1), sizeof *out->members);
    for (int32_t i = 0; i < n; i++) {
        broker__gmember_t *x = &out->members[i];
        hd_slice_t id = read_s(&r, false);
        hd_slice_t iid = ver >= 3 ? read_str(&r, false, true, &null_iid) : hd_slice(NULL, 0);
        hd_slice_t cid = read_s(&r, false);
        hd_slice_t host = read_s(&r, false);
        x->rebalance_ms = ver >= 1 ? hd_read_i32(&r) : 0;
        x->session_ms = hd_read_i32(&r);
        int32_t sl = hd_read_i32(&r);
        x->subscription = hd_read_bytes(&r, sl < 0 ? 0 : (size_t)sl);
        int32_t al = hd_read_i32(&r);
        x->assignment = hd_read_bytes(&r, al < 0 ? 0 : (size_t)al);
        if (r.err || sl < 0 || al < 0 || !id.len || !c_string(id) || !c_string(iid) ||
            !c_string(cid) || !c_string(host)) {
            broker__gmeta_free(out);
            return HD_EMALFORMED;
        }
        x->member_id = dup_slice(id);
        x->instance_id = dup_nslice(iid, null_iid);
        x->client_id = dup_slice(cid);
        x->client_host = dup_slice(host);
        out->nmembers++;
    }
    if (out->nmembers && (!out->leader || !out->protocol)) {
        broker__gmeta_free(out);
        return HD_EMALFORMED;
    }
    return 0;
}
