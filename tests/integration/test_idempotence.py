"""Idempotent producers: librdkafka end to end, and retries/sequence gaps by hand."""
import kafkaraw as kr
from clients import consume, produce_all


def test_confluent_idempotent_producer(broker):
    topic = "idem"
    n = 3000
    msgs = [{"topic": topic, "key": b"%d" % i, "value": b"idempotent-%d" % i,
             "partition": i % 2} for i in range(n)]
    from clients import create_topic
    create_topic(broker.addr, topic, partitions=2)
    reps = produce_all(broker.addr, msgs, enable_idempotence=True, linger_ms=2,
                       batch_num_messages=100, timeout=60)
    for p in (0, 1):
        assert sorted(r["offset"] for r, m in zip(reps, msgs) if m["partition"] == p) == \
            list(range(n // 2))
    got = consume(broker.addr, topic, [0, 1], n, timeout=60)
    assert len(got) == n
    assert sorted(m.value() for m in got) == sorted(m["value"] for m in msgs)
    # Batches carry the producer id and contiguous sequences starting at 0.
    for p in (0, 1):
        batches = kr.fetch_all_batches(broker.addr, topic, p)
        pids = {b.producer_id for b in batches}
        assert len(pids) == 1 and min(pids) >= 0
        assert [b.base_sequence for b in batches] == [b.base_offset for b in batches]


def make_topic(conn, topic):
    _brokers, _ctrl, topics = kr.metadata_v1(conn, [topic])  # auto-creates
    err, parts = topics[topic]
    assert err == 0 and len(parts) == 1, (err, parts)


def test_raw_retry_is_deduplicated_and_gap_rejected(broker):
    topic = "idem-raw"
    with kr.Conn(broker.addr) as c:
        make_topic(c, topic)
        err, pid, epoch = kr.init_producer_id_v1(c)
        assert err == 0 and pid >= 0 and epoch >= 0, (err, pid, epoch)

        # A plain batch first, so the idempotent one does not start at offset 0.
        err, base = kr.produce(c, topic, 0, kr.record_batch([(b"p", b"plain")]))
        assert (err, base) == (0, 0)

        recs = [(b"k%d" % i, b"first-%d" % i, [("h", b"%d" % i)]) for i in range(3)]
        b1 = kr.record_batch(recs, producer_id=pid, producer_epoch=epoch, base_sequence=0)
        assert kr.produce(c, topic, 0, b1) == (0, 1)
        # The same batch again, as a client retry: success with the original base offset.
        assert kr.produce(c, topic, 0, b1) == (0, 1)
        b2 = kr.record_batch([(b"k3", b"second-3"), (b"k4", b"second-4")], producer_id=pid,
                             producer_epoch=epoch, base_sequence=3)
        assert kr.produce(c, topic, 0, b2) == (0, 4)
        # b1 is still within the last five batches: a late retry of it is deduplicated too.
        assert kr.produce(c, topic, 0, b1) == (0, 1)
        assert kr.produce(c, topic, 0, b2) == (0, 4)
        # Sequence 10 when 5 is expected: OUT_OF_ORDER_SEQUENCE_NUMBER, nothing appended.
        gap = kr.record_batch([(b"k10", b"gap")], producer_id=pid, producer_epoch=epoch,
                              base_sequence=10)
        err, _ = kr.produce(c, topic, 0, gap)
        assert err == kr.OUT_OF_ORDER_SEQUENCE_NUMBER
        # The producer can carry on with the right sequence.
        b3 = kr.record_batch([(b"k5", b"third-5")], producer_id=pid, producer_epoch=epoch,
                             base_sequence=5)
        assert kr.produce(c, topic, 0, b3) == (0, 6)

        # A second producer gets a different id.
        err2, pid2, _ = kr.init_producer_id_v1(c)
        assert err2 == 0 and pid2 != pid

        err, _ts, end = kr.list_offsets_v1(c, topic, 0, -1)
        assert (err, end) == (0, 7)

    values = [(m.offset(), m.key(), m.value()) for m in consume(broker.addr, topic, [0], 7)]
    assert values == [(0, b"p", b"plain"), (1, b"k0", b"first-0"), (2, b"k1", b"first-1"),
                      (3, b"k2", b"first-2"), (4, b"k3", b"second-3"), (5, b"k4", b"second-4"),
                      (6, b"k5", b"third-5")]
    batches = kr.fetch_all_batches(broker.addr, topic, 0)
    assert [(b.base_offset, b.count, b.base_sequence) for b in batches] == \
        [(0, 1, -1), (1, 3, 0), (4, 2, 3), (6, 1, 5)]
    assert all(b.crc_ok for b in batches)


def test_raw_duplicate_after_restart(broker):
    """Producer state is rebuilt from the log on restart, so a retry that arrives after a
    restart is still recognised."""
    topic = "idem-restart"
    with kr.Conn(broker.addr) as c:
        make_topic(c, topic)
        _err, pid, epoch = kr.init_producer_id_v1(c)
        b1 = kr.record_batch([(None, b"a"), (None, b"b")], producer_id=pid,
                             producer_epoch=epoch, base_sequence=0)
        assert kr.produce(c, topic, 0, b1) == (0, 0)
    broker.restart()
    with kr.Conn(broker.addr) as c:
        assert kr.produce(c, topic, 0, b1) == (0, 0)
        b2 = kr.record_batch([(None, b"c")], producer_id=pid, producer_epoch=epoch,
                             base_sequence=2)
        assert kr.produce(c, topic, 0, b2) == (0, 2)
        err, _ts, end = kr.list_offsets_v1(c, topic, 0, -1)
        assert (err, end) == (0, 3)
