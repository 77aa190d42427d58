"""Fetch semantics: long polling, out-of-range offsets, size limits, mid-batch offsets."""
import threading
import time

from confluent_kafka import KafkaError, TopicPartition

import kafkaraw as kr
from clients import consume, make_consumer, produce_all


def seed(addr, topic, batches):
    """Appends each list of values as one raw batch; returns the end offset."""
    with kr.Conn(addr) as c:
        kr.metadata_v1(c, [topic])
        end = 0
        for values in batches:
            err, base = kr.produce(c, topic, 0, kr.record_batch([(None, v) for v in values]))
            assert (err, base) == (0, end)
            end += len(values)
        return end


def test_long_poll_wakes_on_produce(broker):
    topic = "lp"
    end = seed(broker.addr, topic, [[b"a", b"b"]])
    result = {}

    def waiter():
        with kr.Conn(broker.addr, timeout=30) as c:
            t0 = time.monotonic()
            result["resp"] = kr.fetch(c, topic, 0, end, max_wait_ms=15000, version=11)
            result["elapsed"] = time.monotonic() - t0

    th = threading.Thread(target=waiter, daemon=True)
    th.start()
    time.sleep(0.7)
    assert th.is_alive(), "fetch at the end returned before max_wait without data"
    with kr.Conn(broker.addr) as c:
        assert kr.produce(c, topic, 0, kr.record_batch([(b"k", b"late")])) == (0, end)
    th.join(20)
    assert not th.is_alive()
    d = result["resp"]
    assert d["error"] == 0 and d["high_watermark"] == end + 1
    recs = [r for b in kr.split_batches(d["records"]) for r in b.records()]
    assert [(off, key, value) for off, _ts, key, value, _h in recs] == [(end, b"k", b"late")]
    assert result["elapsed"] < 12, "the parked fetch was not woken by the append"


def test_long_poll_times_out_empty(broker):
    topic = "lp-empty"
    end = seed(broker.addr, topic, [[b"x"]])
    with kr.Conn(broker.addr) as c:
        t0 = time.monotonic()
        d = kr.fetch(c, topic, 0, end, max_wait_ms=800, version=11)
        elapsed = time.monotonic() - t0
    assert d["error"] == 0 and d["high_watermark"] == end
    assert d["records"] in (b"", None) and not kr.split_batches(d["records"])
    assert 0.3 < elapsed < 10, elapsed


def test_parked_fetch_does_not_block_other_clients(broker):
    topic = "lp-other"
    end = seed(broker.addr, topic, [[b"x"]])
    with kr.Conn(broker.addr, timeout=30) as parked:
        parked.send(kr.FETCH, 4, kr.i32(-1) + kr.i32(10000) + kr.i32(1) + kr.i32(1 << 20)
                    + kr.i8(0) + kr.array([kr.string(topic) + kr.array(
                        [kr.i32(0) + kr.i64(end) + kr.i32(1 << 20)])]))
        time.sleep(0.2)
        t0 = time.monotonic()
        with kr.Conn(broker.addr) as c:
            assert kr.api_versions(c)[0] == 0
            assert kr.list_offsets_v1(c, topic, 0, -1)[2] == end
        assert time.monotonic() - t0 < 5


def test_confluent_consumer_waiting_at_end_gets_new_record(broker):
    topic = "lp-confluent"
    seed(broker.addr, topic, [[b"old"]])
    c = make_consumer(broker.addr)
    try:
        c.assign([TopicPartition(topic, 0, 1)])
        assert c.poll(1.0) is None
        produce_all(broker.addr, [{"topic": topic, "value": b"new", "partition": 0}])
        got = consume(broker.addr, topic, [0], 1, consumer=c, timeout=15)
        assert [(m.offset(), m.value()) for m in got] == [(1, b"new")]
    finally:
        c.close()


def test_offset_out_of_range_raw(broker):
    topic = "oor"
    end = seed(broker.addr, topic, [[b"a", b"b", b"c"]])
    with kr.Conn(broker.addr) as c:
        for version in (4, 11):
            t0 = time.monotonic()
            d = kr.fetch(c, topic, 0, end + 5, max_wait_ms=5000, version=version)
            assert d["error"] == kr.OFFSET_OUT_OF_RANGE
            assert d["high_watermark"] == end
            assert time.monotonic() - t0 < 4, "an out-of-range fetch must not wait"
        d = kr.fetch(c, topic, 0, -7, version=11)
        assert d["error"] == kr.OFFSET_OUT_OF_RANGE
        d = kr.fetch(c, topic, 0, end, max_wait_ms=10, version=11)  # exactly the end is fine
        assert d["error"] == 0
        d = kr.fetch(c, "no-such-topic-here", 0, 0, max_wait_ms=5000, version=11)
        assert d["error"] == kr.UNKNOWN_TOPIC_OR_PARTITION
        assert kr.list_offsets_v1(c, topic, 9, -1)[0] == kr.UNKNOWN_TOPIC_OR_PARTITION


def test_offset_out_of_range_confluent(broker):
    topic = "oor-confluent"
    seed(broker.addr, topic, [[b"a", b"b"]])
    c = make_consumer(broker.addr, **{"auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic, 0, 50)])
        deadline = time.monotonic() + 15
        err = None
        while err is None and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is not None:
                assert m.error() is not None, "got a record from beyond the end"
                err = m.error()
        assert err is not None, "no error reported for an out-of-range offset"
        assert err.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE)
    finally:
        c.close()
    # With auto.offset.reset=earliest the same position recovers to offset 0.
    got = consume(broker.addr, topic, [0], 2, offset=50, timeout=15)
    assert [(m.offset(), m.value()) for m in got] == [(0, b"a"), (1, b"b")]


def test_record_bigger_than_fetch_max_bytes_is_delivered(broker):
    topic = "bigrec"
    big = bytes(range(256)) * 2400  # ~600 KB
    end = seed(broker.addr, topic, [[big], [b"small-1", b"small-2"]])
    with kr.Conn(broker.addr, timeout=30) as c:
        d = kr.fetch(c, topic, 0, 0, max_bytes=1000, partition_max_bytes=1000, version=11)
        assert d["error"] == 0
        bs = kr.split_batches(d["records"])
        assert bs and bs[0].base_offset == 0 and bs[0].records()[0][3] == big
        d = kr.fetch(c, topic, 0, 0, max_bytes=1000, partition_max_bytes=1000, version=4)
        assert kr.split_batches(d["records"])[0].records()[0][3] == big
    got = consume(broker.addr, topic, [0], end, timeout=30,
                  **{"fetch.max.bytes": 100000, "max.partition.fetch.bytes": 100000,
                     "message.max.bytes": 100000})
    assert [m.value() for m in got] == [big, b"small-1", b"small-2"]


def test_fetch_limits_whole_batches(broker):
    topic = "limits"
    seed(broker.addr, topic, [[b"a" * 3000], [b"b" * 3000], [b"c" * 3000]])
    with kr.Conn(broker.addr) as c:
        d = kr.fetch(c, topic, 0, 0, max_bytes=4000, partition_max_bytes=4000, version=11)
        bs = kr.split_batches(d["records"])
        # At least the first batch, whole; never more than fits after the first one.
        assert [b.base_offset for b in bs] == [0]
        assert len(d["records"]) < 8000
        d = kr.fetch(c, topic, 0, 0, version=11)
        assert [b.base_offset for b in kr.split_batches(d["records"])] == [0, 1, 2]


def test_fetch_from_middle_of_batch(broker):
    topic = "midbatch"
    end = seed(broker.addr, topic, [[b"v%d" % i for i in range(10)], [b"tail"]])
    with kr.Conn(broker.addr) as c:
        d = kr.fetch(c, topic, 0, 5, version=11)
        bs = kr.split_batches(d["records"])
        assert bs[0].base_offset == 0 and bs[0].count == 10  # the batch containing offset 5
        d = kr.fetch(c, topic, 0, 10, version=11)
        assert kr.split_batches(d["records"])[0].base_offset == 10
    got = consume(broker.addr, topic, [0], end - 5, offset=5)
    assert [(m.offset(), m.value()) for m in got] == \
        [(i, b"v%d" % i) for i in range(5, 10)] + [(10, b"tail")]


def test_retention_moves_log_start(broker_factory):
    b = broker_factory("--segment-bytes", "1048576", "--retention-bytes", "1100000",
                       "--retention-check-ms", "200")
    topic = "retained"
    value = bytes(range(256)) * 64  # 16 KiB
    with kr.Conn(b.addr) as c:
        kr.metadata_v1(c, [topic])
        for i in range(150):
            assert kr.produce(c, topic, 0, kr.record_batch([(b"%d" % i, value)])) == (0, i)
        deadline = time.monotonic() + 20
        start = 0
        while start == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            err, _ts, start = kr.list_offsets_v1(c, topic, 0, -2)
            assert err == 0
        assert 0 < start < 150, "retention never deleted a segment"
        d = kr.fetch(c, topic, 0, 0, version=11)
        assert d["error"] == kr.OFFSET_OUT_OF_RANGE
        assert d["log_start_offset"] == start and d["high_watermark"] == 150
        d = kr.fetch(c, topic, 0, start, version=11)
        assert d["error"] == 0 and d["log_start_offset"] == start
        assert kr.split_batches(d["records"])[0].base_offset == start
    got = consume(b.addr, topic, [0], 150 - start, timeout=30)
    assert [m.offset() for m in got] == list(range(start, 150))
    assert all(m.key() == b"%d" % m.offset() for m in got)
    b.restart()
    with kr.Conn(b.addr) as c:
        assert kr.list_offsets_v1(c, topic, 0, -2)[2] == start


def test_list_offsets_every_version_and_max_timestamp(broker):
    """ListOffsets v1-7: flexible encoding from v6, LeaderEpoch from v4, and v7's MAX_TIMESTAMP
    (-3, KIP-734): the first record with the largest timestamp, inside a compressed batch."""
    topic = "lomax"
    with kr.Conn(broker.addr) as c:
        kr.metadata_v1(c, [topic])
        for v in range(1, 8):
            want_epoch = -1 if v >= 4 else None
            assert kr.list_offsets(c, topic, 0, -3, v) == (0, -1, -1, want_epoch), v
            assert kr.list_offsets(c, topic, 0, -1, v)[2] == 0, v
        b1 = kr.record_batch([(None, b"a", (), 100), (None, b"b", (), 300), (None, b"c", (), 200)],
                             base_timestamp=100, codec=kr.CODEC_GZIP)
        b2 = kr.record_batch([(None, b"d", (), 250), (None, b"e", (), 300)], base_timestamp=250)
        assert kr.produce(c, topic, 0, b1) == (0, 0)
        assert kr.produce(c, topic, 0, b2) == (0, 3)
        for v in range(1, 8):
            epoch = 0 if v >= 4 else None
            assert kr.list_offsets(c, topic, 0, -1, v) == (0, -1, 5, epoch), v
            assert kr.list_offsets(c, topic, 0, -2, v) == (0, -1, 0, epoch), v
            # The earliest offset whose timestamp reaches t, as Kafka: offset 1 (300) for 220.
            assert kr.list_offsets(c, topic, 0, 220, v) == (0, 300, 1, epoch), v
            assert kr.list_offsets(c, topic, 0, 50, v) == (0, 100, 0, epoch), v
            assert kr.list_offsets(c, topic, 0, 301, v) == (0, -1, -1, -1 if epoch == 0 else None)
            assert kr.list_offsets(c, topic, 0, -3, v) == (0, 300, 1, epoch), v
        # The current leader epoch is fenced as in Fetch: this broker's epoch is 0.
        assert kr.list_offsets(c, topic, 0, -1, 7, current_leader_epoch=0)[0] == 0
        assert kr.list_offsets(c, topic, 0, -1, 7, current_leader_epoch=3)[0] == \
            kr.UNKNOWN_LEADER_EPOCH
        assert kr.list_offsets(c, topic, 0, -1, 4, current_leader_epoch=-7)[0] == \
            kr.FENCED_LEADER_EPOCH
        assert kr.list_offsets(c, topic, 0, -9, 7)[0] == kr.INVALID_REQUEST
        assert kr.list_offsets(c, "nope", 0, -1, 7)[0] == kr.UNKNOWN_TOPIC_OR_PARTITION
