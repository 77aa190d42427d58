"""A clean restart (SIGTERM, start again on the same data dir) keeps topics, records, offsets,
configs and timestamps."""
import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource

from clients import admin, consume, create_topic, make_consumer, produce_all

BASE_TS = 1_600_000_000_000


@pytest.fixture(autouse=True, params=["segments", "journal", "journal-only"])
def storage(request, monkeypatch):
    """Every test here runs three times: partitions synced on their own, with the journal (its
    adaptive write path: partitions with large rounds write straight to their segments), and with
    every batch journaled (log.journal.direct.bytes -1)."""
    # All explicit, whichever is the default.
    monkeypatch.setenv("HERALD_LOG_JOURNAL_ENABLE", "0" if request.param == "segments" else "1")
    monkeypatch.setenv("HERALD_LOG_JOURNAL_DIRECT_BYTES",
                       "-1" if request.param == "journal-only" else "-3")
    return request.param


def snapshot(addr, topic, partitions, count):
    got = consume(addr, topic, partitions, count, timeout=30)
    assert len(got) == count
    return sorted((m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1],
                   tuple(m.headers() or ())) for m in got)


def list_offsets(addr, topic, partitions, times):
    """{partition: (low, high)} and the offsets_for_times answers for each (partition, ts)."""
    c = make_consumer(addr)
    try:
        marks = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                 for p in partitions}
        out = []
        for p, ts in times:  # one lookup per request: duplicate partitions would be merged
            (tp,) = c.offsets_for_times([TopicPartition(topic, p, ts)], timeout=10)
            assert tp.error is None, tp.error
            out.append((tp.partition, tp.offset))
        return marks, out
    finally:
        c.close()


def topic_retention(addr, topic):
    a = admin(addr)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = a.describe_configs([res], request_timeout=10)[res].result(10)
    return configs["retention.ms"].value


def test_restart_keeps_everything(broker):
    create_topic(broker.addr, "explicit", partitions=2, config={"retention.ms": "123456789"})
    msgs = [{"topic": "explicit", "key": b"e%d" % i, "value": b"explicit value %d" % i,
             "partition": i % 2, "timestamp": BASE_TS + i * 1000,
             "headers": [("n", b"%d" % i)]} for i in range(20)]
    # Several records per batch, so by-time lookups must look inside batches.
    produce_all(broker.addr, msgs, linger_ms=50)
    auto = [{"topic": "auto-made", "value": b"auto %d" % i, "timestamp": BASE_TS + i}
            for i in range(10)]
    reps = produce_all(broker.addr, auto)
    assert [r["offset"] for r in reps] == list(range(10))

    # Partition 0 holds i = 0, 2, ..., 18 at offsets 0..9 with timestamps BASE_TS + 2000*off.
    times = [(0, BASE_TS + 4500), (0, 0), (0, BASE_TS + 10**7), (1, BASE_TS + 1000),
             (1, BASE_TS + 1001)]
    expected_times = [(0, 3), (0, 0), (0, -1), (1, 0), (1, 1)]
    marks, by_time = list_offsets(broker.addr, "explicit", [0, 1], times)
    assert marks == {0: (0, 10), 1: (0, 10)}
    assert by_time == expected_times

    before = snapshot(broker.addr, "explicit", [0, 1], 20)
    before_auto = snapshot(broker.addr, "auto-made", [0], 10)
    assert [(p, o, k) for p, o, k, *_ in before] == sorted(
        (i % 2, i // 2, b"e%d" % i) for i in range(20))
    assert topic_retention(broker.addr, "explicit") == "123456789"

    assert broker.stop() == 0, "herald did not exit 0 on SIGTERM"
    assert "herald stopped cleanly" in broker.log_text()
    broker.start()
    assert broker.log_text().count("herald serving: kafka=") == 2

    md = admin(broker.addr).list_topics(timeout=10)
    assert {"explicit", "auto-made"} <= set(md.topics)
    assert len(md.topics["explicit"].partitions) == 2
    assert len(md.topics["auto-made"].partitions) == 1
    assert topic_retention(broker.addr, "explicit") == "123456789"

    assert snapshot(broker.addr, "explicit", [0, 1], 20) == before
    assert snapshot(broker.addr, "auto-made", [0], 10) == before_auto
    marks, by_time = list_offsets(broker.addr, "explicit", [0, 1], times)
    assert marks == {0: (0, 10), 1: (0, 10)}
    assert by_time == expected_times

    # New records continue at the next offset, and survive one more restart.
    reps = produce_all(broker.addr, [{"topic": "explicit", "value": b"after %d" % i,
                                      "partition": 0, "timestamp": BASE_TS + 10**6 + i}
                                     for i in range(5)])
    assert [r["offset"] for r in reps] == list(range(10, 15))
    reps = produce_all(broker.addr, [{"topic": "auto-made", "value": b"more"}])
    assert reps[0]["offset"] == 10
    broker.restart()
    marks, by_time = list_offsets(broker.addr, "explicit", [0, 1],
                                  [(0, BASE_TS + 10**6 + 2)])
    assert marks == {0: (0, 15), 1: (0, 10)}
    assert by_time == [(0, 12)]
    got = consume(broker.addr, "explicit", [0], 5, offset=10, timeout=20)
    assert [(m.offset(), m.value()) for m in got] == [(10 + i, b"after %d" % i) for i in range(5)]


def test_restart_empty_and_idle_topics(broker):
    create_topic(broker.addr, "empty-one", partitions=3)
    broker.restart()
    md = admin(broker.addr).list_topics(timeout=10)
    assert len(md.topics["empty-one"].partitions) == 3
    marks, _ = list_offsets(broker.addr, "empty-one", [0, 1, 2], [])
    assert marks == {0: (0, 0), 1: (0, 0), 2: (0, 0)}
    reps = produce_all(broker.addr, [{"topic": "empty-one", "value": b"x", "partition": 2}])
    assert reps[0]["offset"] == 0


def test_backfill_with_old_timestamps_rolls_by_record_time(broker):
    """Records stamped years ago (a backfill) fill segments as usual: a segment rolls when a
    batch's timestamp is segment.ms past the segment's first one, not at every batch because
    the wall clock is far ahead. An idempotent producer's state survives the restart."""
    topic = "backfill"
    create_topic(broker.addr, topic, config={"segment.ms": "3600000"})
    part = broker.data_dir / "topics" / (topic + "-0")
    # 30 batches, a minute apart in record time, then one 2 hours after the first.
    stamps = [BASE_TS + i * 60_000 for i in range(30)] + [BASE_TS + 7_200_000]
    from clients import make_producer
    p = make_producer(broker.addr, linger_ms=0, enable_idempotence=True)
    for i, ts in enumerate(stamps):
        (rep,) = produce_all(broker.addr, [{"topic": topic, "value": b"old %d" % i,
                                            "timestamp": ts}], producer=p)
        assert rep["offset"] == i
    p.flush(10)
    assert len(list(part.glob("*.log"))) == 2
    broker.stop()
    # The clean shutdown wrote the idempotent-producer state for the next start.
    snap = (part / "producers.snapshot").read_bytes()
    assert snap[:4] == b"HDPS" and int.from_bytes(snap[6:14], "big") == 31
    broker.start()
    more = [{"topic": topic, "value": b"new %d" % i, "timestamp": BASE_TS + 7_200_000 + i}
            for i in range(5)]
    reps = produce_all(broker.addr, more, enable_idempotence=True)
    assert [r["offset"] for r in reps] == list(range(31, 36))
    assert len(list(part.glob("*.log"))) == 2
    got = consume(broker.addr, topic, [0], 36, timeout=30)
    assert [m.value() for m in got] == [b"old %d" % i for i in range(31)] + \
        [b"new %d" % i for i in range(5)]
    assert [m.timestamp()[1] for m in got[:31]] == stamps
