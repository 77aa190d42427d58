"""Schema validation in dlq mode with idempotent producers (confluent-kafka with
enable.idempotence, the Java client, franz-go, and raw Produce requests): a batch with bad records
keeps its sequence range and offsets, its good records land at their own offsets (the bad ones'
offsets are gaps, as after log compaction), an all-bad batch leaves an empty batch, the producer's
next batches follow in sequence, retries are duplicates, and every reader (Kafka consumers, the
HTTP records API, subscriptions) sees the same offsets, before and after a restart."""
import json
import re
import struct
import time

import pytest
import requests

import kafkaraw as kr
from clients import consume, make_producer, produce_all
from compat import JavaDriver
from test_franz_go import franz

T = 10
SR = "application/vnd.schemaregistry.v1+json"
ORDER = {"type": "record", "name": "Order", "namespace": "shop",
         "fields": [{"name": "id", "type": "int"}, {"name": "note", "type": "string"}]}


def zigzag(n):
    z = (n << 1) ^ (n >> 63)
    out = b""
    while True:
        b = z & 0x7F
        z >>= 7
        if z:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def setup_topic(broker, topic, **config):
    """Registers the Order schema as <topic>-value and makes a one-partition topic validating in
    dlq mode (and any other config). Returns the schema id."""
    r = requests.post(broker.http + "/subjects/%s-value/versions" % topic,
                      headers={"Content-Type": SR},
                      data=json.dumps({"schema": json.dumps(ORDER)}), timeout=T)
    assert r.status_code == 200, r.text
    sid = r.json()["id"]
    r = requests.post(broker.http + "/topics", json={
        "name": topic, "partitions": 1,
        "config": dict({"confluent.value.schema.validation": "true",
                        "herald.schema.validation.mode": "dlq"}, **config)}, timeout=T)
    assert r.status_code == 201, r.text
    return sid


def good(sid, i):
    note = b"n%d" % i
    return b"\x00" + struct.pack(">i", sid) + zigzag(i) + zigzag(len(note)) + note


def bad(i):
    return b"not an order %d" % i


def http_records(broker, topic, offset=0, limit=100):
    r = requests.get(broker.http + "/topics/%s/records" % topic,
                     params={"partition": 0, "offset": offset, "limit": limit}, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()


def hwm(broker, topic):
    r = requests.get(broker.http + "/topics/" + topic, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()["partitions"][0]["high_watermark"]


def batches(broker, topic):
    return [(b.base_offset, b.count, b.last_offset_delta, b.producer_id, b.base_sequence,
             [r[0] for r in b.records()]) for b in kr.fetch_all_batches(broker.addr, topic, 0)]


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    d = JavaDriver(tmp_path_factory.mktemp("java") / "driver.log")
    yield d
    d.close()


def test_confluent_idempotent_batches_keep_offsets_and_sequences(broker, java):
    topic = "pay"
    sid = setup_topic(broker, topic)
    p = make_producer(broker.addr, enable_idempotence=True, linger_ms=100)
    # Four batches (flushed one by one), with keys and headers: mixed, all good, all bad, good.
    plan = [[good(sid, 0), bad(1), good(sid, 2), bad(3), good(sid, 4)],
            [good(sid, 5), good(sid, 6)],
            [bad(7), bad(8)],
            [good(sid, 9)]]
    offsets = []
    for batch in plan:
        msgs = [{"topic": topic, "partition": 0, "value": v, "key": b"k%d" % (len(offsets) + i),
                 "headers": [("h", b"%d" % (len(offsets) + i))]} for i, v in enumerate(batch)]
        offsets += [r["offset"] for r in produce_all(broker.addr, msgs, producer=p)]
    # Every record is answered at its own offset, the bad ones too: no OutOfOrderSequence.
    assert offsets == list(range(10))

    # As stored: one batch per produced batch, the producer's sequence range and offsets kept.
    got = batches(broker, topic)
    pid = got[0][3]
    assert pid >= 0
    assert got == [(0, 3, 4, pid, 0, [0, 2, 4]), (5, 2, 1, pid, 5, [5, 6]),
                   (7, 0, 1, pid, 7, []), (9, 1, 0, pid, 9, [9])]

    kept = [0, 2, 4, 5, 6, 9]
    want = [(o, b"k%d" % o, good(sid, o), [("h", b"%d" % o)]) for o in kept]
    msgs = consume(broker.addr, topic, [0], len(kept), timeout=20)
    assert [(m.offset(), m.key(), m.value(), m.headers()) for m in msgs] == want
    recs = java.ok("consume", broker.addr, topic, len(kept), 30000)["records"]
    assert [(r["o"], r["k"], r["v"], r["h"]) for r in recs] == \
        [(o, "k%d" % o, good(sid, o).decode(), [["h", "%d" % o]]) for o in kept]

    # The bad ones are dead-lettered with their key, headers and why.
    dl = consume(broker.addr, topic + ".dlq", [0], 4, timeout=20)
    assert [(m.offset(), m.key(), m.value()) for m in dl] == \
        [(i, b"k%d" % o, bad(o)) for i, o in enumerate([1, 3, 7, 8])]
    for m, o in zip(dl, [1, 3, 7, 8]):
        h = dict(m.headers())
        assert h["h"] == b"%d" % o
        assert b"not in the schema registry wire format" in h["herald.dlq.reason"]
        assert (h["herald.dlq.topic"], h["herald.dlq.partition"]) == (b"pay", b"0")

    def check_http():
        j = http_records(broker, topic)
        assert [(r["offset"], r["key"], r["headers"]) for r in j["records"]] == \
            [(o, "k%d" % o, {"h": "%d" % o}) for o in kept]
        assert (j["next_offset"], j["high_watermark"]) == (10, 10)
        # Reading from a gap starts at the next record; a limit stops inside a batch.
        j = http_records(broker, topic, offset=1, limit=1)
        assert [r["offset"] for r in j["records"]] == [2] and j["next_offset"] == 3
        j = http_records(broker, topic, offset=7)
        assert [r["offset"] for r in j["records"]] == [9] and j["next_offset"] == 10

    check_http()
    # A subscription reads the same records and, once they are acked, has nothing left: the
    # gaps are settled, not waited for.
    r = requests.post(broker.http + "/subscriptions", json={"name": "w", "topic": topic,
                                                            "start": "earliest"}, timeout=T)
    assert r.status_code == 201, r.text
    got_msgs = []
    deadline = time.monotonic() + 10
    while len(got_msgs) < len(kept) and time.monotonic() < deadline:
        r = requests.post(broker.http + "/subscriptions/w/receive",
                          json={"max": 100, "wait_ms": 200}, timeout=T)
        assert r.status_code == 200, r.text
        got_msgs += r.json()["messages"]
    assert [m["offset"] for m in got_msgs] == kept
    r = requests.post(broker.http + "/subscriptions/w/ack",
                      json={"receipts": [m["receipt"] for m in got_msgs]}, timeout=T)
    assert r.status_code == 200, r.text
    st = requests.get(broker.http + "/subscriptions/w", timeout=T).json()["stats"]
    assert (st["backlog"], st["in_flight"]) == (0, 0), st

    p.flush(5)
    del p
    # After a restart (recovery of the stored batches), the same offsets everywhere.
    broker.restart()
    check_http()
    assert batches(broker, topic) == got
    msgs = consume(broker.addr, topic, [0], len(kept), timeout=20)
    assert [(m.offset(), m.key(), m.value(), m.headers()) for m in msgs] == want
    # A new idempotent producer lands after the gaps.
    p2 = make_producer(broker.addr, enable_idempotence=True)
    reps = produce_all(broker.addr, [{"topic": topic, "partition": 0, "value": good(sid, 10)},
                                     {"topic": topic, "partition": 0, "value": bad(11)}],
                       producer=p2)
    assert [r["offset"] for r in reps] == [10, 11]
    assert hwm(broker, topic) == 12


def produce_raw(c, topic, batch):
    return kr.produce(c, topic, 0, batch, version=8)


@pytest.mark.parametrize("journal", [False, True])
def test_raw_retries_of_a_dead_lettered_batch_are_duplicates(broker_factory, journal):
    # With the journal on, the kill -9 below leaves the batches to its replay.
    broker = broker_factory(*(("--journal",) if journal else ()))
    topic = "raw"
    sid = setup_topic(broker, topic)
    with kr.Conn(broker.addr) as c:
        err, pid, epoch = kr.init_producer_id_v1(c)
        assert err == 0 and pid >= 0

        def batch(values, seq):
            return kr.record_batch([(b"k", v, [("x", b"y")]) for v in values], producer_id=pid,
                                   producer_epoch=epoch, base_sequence=seq)

        b1 = batch([good(sid, 0), bad(1), good(sid, 2)], 0)
        assert produce_raw(c, topic, b1) == (0, 0)
        assert hwm(broker, topic) == 3
        # A retry: the original base offset, nothing appended, nothing dead-lettered again.
        assert produce_raw(c, topic, b1) == (0, 0)
        assert hwm(broker, topic) == 3 and hwm(broker, topic + ".dlq") == 1
        b2 = batch([bad(3), bad(4)], 3)  # every record bad: an empty batch keeps the sequence
        assert produce_raw(c, topic, b2) == (0, 3)
        assert produce_raw(c, topic, b2) == (0, 3)
        b3 = batch([good(sid, 5)], 5)
        assert produce_raw(c, topic, b3) == (0, 5)
        assert produce_raw(c, topic, b1) == (0, 0)  # still among the last five
        assert hwm(broker, topic) == 6 and hwm(broker, topic + ".dlq") == 3
        # Out of order stays out of order, and nothing of it is dead-lettered.
        assert produce_raw(c, topic, batch([bad(9)], 9))[0] == kr.OUT_OF_ORDER_SEQUENCE_NUMBER
        assert hwm(broker, topic + ".dlq") == 3
        # A producer's batch shaped like a kept one is refused: only the broker makes gaps.
        recs = [kr.encode_record(d, 0, None, good(sid, d)) for d in (0, 2)]
        ts = int(time.time() * 1000)
        body = (kr.i16(0) + kr.i32(2) + kr.i64(ts) + kr.i64(ts) + kr.i64(-1) + kr.i16(-1)
                + kr.i32(-1) + kr.i32(2) + b"".join(recs))
        tail = kr.i32(0) + kr.i8(2) + struct.pack(">I", kr.crc32c(body)) + body
        gappy = kr.i64(0) + kr.i32(len(tail)) + tail
        assert produce_raw(c, topic, gappy)[0] == kr.INVALID_RECORD
        # Deltas that are not the record's index are refused too.
        recs = [kr.encode_record(d, 0, None, good(sid, d)) for d in (1, 0)]
        body = (kr.i16(0) + kr.i32(1) + kr.i64(ts) + kr.i64(ts) + kr.i64(-1) + kr.i16(-1)
                + kr.i32(-1) + kr.i32(2) + b"".join(recs))
        tail = kr.i32(0) + kr.i8(2) + struct.pack(">I", kr.crc32c(body)) + body
        swapped = kr.i64(0) + kr.i32(len(tail)) + tail
        assert produce_raw(c, topic, swapped)[0] == kr.INVALID_RECORD
        assert hwm(broker, topic) == 6

    stored = batches(broker, topic)
    assert stored == [(0, 2, 2, pid, 0, [0, 2]), (3, 0, 1, pid, 3, []), (5, 1, 0, pid, 5, [5])]
    # kill -9: recovery scans the stored batches (or replays the journal); the producer state is
    # rebuilt from them.
    broker.kill9()
    broker.start()
    if journal:
        assert re.search(r"replayed from .* batches applied, .* 0 gaps", broker.log_text())
    assert batches(broker, topic) == stored
    with kr.Conn(broker.addr) as c:
        assert produce_raw(c, topic, b1) == (0, 0)
        assert produce_raw(c, topic, b2) == (0, 3)
        assert produce_raw(c, topic, batch([good(sid, 6), bad(7)], 6)) == (0, 6)
    assert hwm(broker, topic) == 8 and hwm(broker, topic + ".dlq") == 4
    j = http_records(broker, topic)
    assert [(r["offset"], r["key"], r["headers"]) for r in j["records"]] == \
        [(o, "k", {"x": "y"}) for o in (0, 2, 5, 6)]
    assert j["next_offset"] == 8
    msgs = consume(broker.addr, topic, [0], 4, timeout=20)
    assert [(m.offset(), m.value()) for m in msgs] == \
        [(0, good(sid, 0)), (2, good(sid, 2)), (5, good(sid, 5)), (6, good(sid, 6))]


def test_java_idempotent_producer_and_consumer(broker, java):
    topic = "jpay"
    sid = setup_topic(broker, topic)
    # The Java producer is idempotent by default; one linger window makes one batch.
    vals = [good(sid, 0), bad(1), good(sid, 2), bad(3)]
    res = java.ok("send", broker.addr, topic, 0, *[v.hex() for v in vals])["results"]
    assert res == [{"offset": i} for i in range(4)]
    res = java.ok("send", broker.addr, topic, 0, bad(4).hex(), bad(5).hex())["results"]
    assert res == [{"offset": 4}, {"offset": 5}]
    res = java.ok("send", broker.addr, topic, 0, good(sid, 6).hex())["results"]
    assert res == [{"offset": 6}]
    got = [(b[0], b[1], b[2], b[5]) for b in batches(broker, topic)]
    assert got == [(0, 2, 3, [0, 2]), (4, 0, 1, []), (6, 1, 0, [6])]
    recs = java.ok("consume", broker.addr, topic, 3, 30000)["records"]
    assert [(r["o"], r["v"]) for r in recs] == \
        [(o, good(sid, o).decode("latin-1")) for o in (0, 2, 6)]
    assert hwm(broker, topic + ".dlq") == 4


def test_franz_go_all_bad_batches_keep_the_sequence(broker):
    topic = "fpay"
    sid = setup_topic(broker, topic)
    # franz-go is idempotent by default; none of its generated values is in the wire format,
    # so every batch is all bad: each leaves an empty batch, and the sequence carries on.
    n = 40
    offs = franz("produce", broker.addr, topic, "none", n, 1)["offsets"]
    assert offs == [[0, i] for i in range(n)]
    assert all(b[1] == 0 and b[4] == b[0] for b in batches(broker, topic))
    assert hwm(broker, topic) == n and hwm(broker, topic + ".dlq") == n
    produce_all(broker.addr, [{"topic": topic, "partition": 0, "value": good(sid, 1)}])
    recs = franz("consume", broker.addr, topic, 1, 1)["records"]
    assert [(r["p"], r["o"]) for r in recs] == [(0, n)]


def test_kept_batch_recompressed_by_topic_compression(broker):
    topic = "zpay"
    sid = setup_topic(broker, topic, **{"compression.type": "gzip"})
    p = make_producer(broker.addr, enable_idempotence=True, linger_ms=100)
    vals = [bad(0), good(sid, 1), bad(2), good(sid, 3), bad(4), bad(5)]
    reps = produce_all(broker.addr, [{"topic": topic, "partition": 0, "value": v} for v in vals],
                       producer=p)
    assert [r["offset"] for r in reps] == list(range(6))
    stored = kr.fetch_all_batches(broker.addr, topic, 0)
    assert [(b.base_offset, b.count, b.last_offset_delta, b.codec, b.base_sequence)
            for b in stored] == [(0, 2, 5, kr.CODEC_GZIP, 0)]
    assert [r[0] for r in stored[0].records()] == [1, 3]
    msgs = consume(broker.addr, topic, [0], 2, timeout=20)
    assert [(m.offset(), m.value()) for m in msgs] == [(1, good(sid, 1)), (3, good(sid, 3))]
    reps = produce_all(broker.addr, [{"topic": topic, "partition": 0, "value": bad(6)}],
                       producer=p)
    assert reps[0]["offset"] == 6
    stored = kr.fetch_all_batches(broker.addr, topic, 0)
    # The empty batch stays uncompressed: nothing to compress.
    assert [(b.base_offset, b.count, b.codec, b.base_sequence) for b in stored[1:]] == \
        [(6, 0, 0, 6)]
