"""Produce and consume with every client and codec; what comes back must be byte-identical."""
import json
import logging
import subprocess
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition

import kafkaraw
from clients import consume, make_consumer, produce_all

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BASE_TS = 1_700_000_000_000


def sample_records(topic, n, partitions=3):
    """Binary keys and values, including empty and null ones, headers with a null value, and
    explicit, distinct timestamps. Values are partly compressible so codecs do work."""
    msgs = []
    for i in range(n):
        key = [None, b"", bytes([i % 256, 0, 255, 10]) + b"key-%d" % i][i % 3]
        if i % 7 == 3:
            value = None
        elif i % 7 == 5:
            value = b""
        else:
            value = bytes(range(256))[i % 256:] + (b"herald-%d " % i) * (i % 40)
        headers = [("h-idx", b"%d" % i), ("h-bin", b"\x00\x01\xfe\xff"), ("h-null", None)]
        if i % 4 == 0:
            headers = []
        msgs.append({"topic": topic, "key": key, "value": value, "headers": headers,
                     "partition": i % partitions, "timestamp": BASE_TS + i * 1000})
    return msgs


def norm_headers(h):
    return [(k, v) for k, v in (h or [])]


@pytest.fixture
def broker3(broker_factory):
    return broker_factory("--num-partitions", "3")


@pytest.mark.parametrize("codec", list(CODECS))
def test_confluent_roundtrip_each_codec(broker3, codec):
    topic = "pc-" + codec
    n = 60
    msgs = sample_records(topic, n)
    reps = produce_all(broker3.addr, msgs, compression_type=codec, linger_ms=20)
    # Offsets are contiguous per partition in send order.
    for p in range(3):
        offs = [r["offset"] for r, m in zip(reps, msgs) if m["partition"] == p]
        assert offs == list(range(len(offs))), (p, offs)
        assert all(r["partition"] == p for r, m in zip(reps, msgs) if m["partition"] == p)

    got = consume(broker3.addr, topic, [0, 1, 2], n, timeout=30)
    assert len(got) == n
    by_pos = {(m.partition(), m.offset()): m for m in got}
    assert len(by_pos) == n, "duplicates delivered"
    for r, m in zip(reps, msgs):
        c = by_pos[(r["partition"], r["offset"])]
        assert c.key() == m["key"]
        assert c.value() == m["value"]
        assert norm_headers(c.headers()) == m["headers"]
        assert c.timestamp() == (1, m["timestamp"])  # TIMESTAMP_CREATE_TIME

    # The codec reached the broker: stored batches carry it, and they are valid (CRC intact).
    batches = kafkaraw.fetch_all_batches(broker3.addr, topic, 0)
    assert batches and all(b.crc_ok and b.magic == 2 for b in batches)
    # librdkafka sends a batch uncompressed when compressing would not shrink it.
    codecs = {b.codec for b in batches}
    assert CODECS[codec] in codecs and codecs <= {0, CODECS[codec]}, codecs
    assert sum(b.count for b in batches) == n // 3


def test_kcat_produce_then_confluent_and_kcat_consume(broker):
    topic = "kcat-in"
    lines = ["k%d:value number %d" % (i, i) for i in range(10)]
    r = subprocess.run(["kcat", "-b", broker.addr, "-P", "-t", topic, "-p", "0", "-K", ":",
                        "-H", "origin=kcat", "-H", "n=1", "-X", "acks=all",
                        "-X", "enable.idempotence=true"],
                       input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr

    got = consume(broker.addr, topic, [0], 10, timeout=20)
    assert [(m.offset(), m.key(), m.value()) for m in got] == \
        [(i, b"k%d" % i, b"value number %d" % i) for i in range(10)]
    assert all(norm_headers(m.headers()) == [("origin", b"kcat"), ("n", b"1")] for m in got)

    r = subprocess.run(["kcat", "-b", broker.addr, "-C", "-t", topic, "-o", "beginning", "-e",
                        "-f", "%p|%o|%k|%s|%h\n"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "0|%d|k%d|value number %d|origin=kcat,n=1" % (i, i, i) for i in range(10)]


def test_confluent_produce_kcat_consume(broker):
    topic = "kcat-out"
    msgs = [{"topic": topic, "key": b"key%d" % i, "value": b"val%d" % i, "partition": 0,
             "headers": [("a", b"x%d" % i)], "timestamp": BASE_TS + i}
            for i in range(8)]
    produce_all(broker.addr, msgs, compression_type="gzip")
    r = subprocess.run(["kcat", "-b", broker.addr, "-C", "-t", topic, "-o", "beginning", "-e",
                        "-f", "%o %k %s %h %T\n"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "%d key%d val%d a=x%d %d" % (i, i, i, i, BASE_TS + i) for i in range(8)]
    # -o -3: the last three, which needs ListOffsets (latest) on the broker.
    r = subprocess.run(["kcat", "-b", broker.addr, "-C", "-t", topic, "-o", "-3", "-e",
                        "-f", "%o\n"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["5", "6", "7"]
    # kcat -L lists the topic (Metadata).
    r = subprocess.run(["kcat", "-b", broker.addr, "-L", "-t", topic], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert 'topic "%s" with 1 partitions' % topic in r.stdout


@pytest.mark.parametrize("acks", [0, 1, "all"])
def test_kafka_python_producer_and_consumer(broker, acks, caplog):
    caplog.set_level(logging.INFO, logger="kafka")
    topic = "kp-acks-%s" % acks
    prod = KafkaProducer(bootstrap_servers=broker.addr, acks=acks, request_timeout_ms=10000,
                         max_block_ms=15000, linger_ms=5)
    try:
        version = prod.config["api_version"]
        # Magic-2 batches need an inferred release of at least 0.11; herald's ranges give 2.3.
        assert tuple(version) >= (2, 0), version
        futs = [prod.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0,
                          headers=[("i", b"%d" % i)], timestamp_ms=BASE_TS + i)
                for i in range(20)]
        prod.flush(timeout=20)
        metas = [f.get(timeout=10) for f in futs]
    finally:
        prod.close(timeout=10)
    if acks == 0:
        assert all(m.offset == -1 for m in metas)  # no answer is sent for acks=0
    else:
        assert [m.offset for m in metas] == list(range(20))
    assert any("Broker version identified as" in r.getMessage() for r in caplog.records)

    cons = KafkaConsumer(bootstrap_servers=broker.addr, group_id=None, enable_auto_commit=False,
                         request_timeout_ms=15000, fetch_max_wait_ms=100,
                         consumer_timeout_ms=1000, api_version_auto_timeout_ms=10000)
    try:
        tp = KpTopicPartition(topic, 0)
        cons.assign([tp])
        cons.seek(tp, 5)
        got = []
        deadline = time.monotonic() + 20
        while len(got) < 15 and time.monotonic() < deadline:
            for recs in cons.poll(timeout_ms=500).values():
                got.extend(recs)
        assert [(r.offset, r.key, r.value, r.timestamp, list(r.headers)) for r in got] == \
            [(i, b"k%d" % i, b"v%d" % i, BASE_TS + i, [("i", b"%d" % i)])
             for i in range(5, 20)]
        assert cons.end_offsets([tp])[tp] == 20  # ListOffsets v1 latest
        assert cons.beginning_offsets([tp])[tp] == 0
    finally:
        cons.close()


def test_kafkajs_idempotent_gzip(broker, js_dir):
    topic = "kjs-topic"
    n = 40
    r = subprocess.run(["node", str(js_dir / "roundtrip.js"), broker.addr, topic, str(n)],
                       capture_output=True, text=True, timeout=120, cwd=js_dir)
    assert r.returncode == 0, "node failed:\n%s\n%s" % (r.stdout[-3000:], r.stderr[-3000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["created"] is True
    # Every send acknowledged without error, at contiguous offsets per partition.
    for p in (0, 1):
        bases = sorted(int(x["baseOffset"]) for x in out["produced"]
                       if x["partition"] == p and x["errorCode"] == 0)
        assert bases == list(range(0, n // 2, 5)), bases
    assert sorted((o["partition"], int(o["high"])) for o in out["offsets"]) == \
        [(0, n // 2), (1, n // 2)]
    recs = sorted(out["records"], key=lambda x: (x["partition"], int(x["offset"])))
    expected = []
    for p in (0, 1):
        for j in range(n // 2):
            i = p * (n // 2) + j
            expected.append({"partition": p, "offset": str(j), "key": (b"k%d" % i).hex(),
                             "value": (b"\x00value %d\xff" % i).hex(),
                             "headers": {"idx": (b"%d" % i).hex()},
                             "timestamp": str(BASE_TS + i)})
    assert recs == expected
    # Stored as the client sent them: gzip, idempotent (pid set, sequences contiguous).
    for p in (0, 1):
        batches = kafkaraw.fetch_all_batches(broker.addr, topic, p)
        assert {b.codec for b in batches} == {1}
        assert all(b.producer_id >= 0 and b.crc_ok for b in batches)
        assert [b.base_sequence for b in batches] == [b.base_offset for b in batches]

    # And librdkafka reads what kafkajs wrote.
    got = consume(broker.addr, topic, [0, 1], n, timeout=20)
    assert sorted((m.partition(), m.offset(), m.key(), m.value()) for m in got) == sorted(
        (e["partition"], int(e["offset"]), bytes.fromhex(e["key"]), bytes.fromhex(e["value"]))
        for e in expected)

    # admin.createTopics with kafkajs's defaults (replicationFactor -1 on CreateTopics v3) must
    # work as it does against Kafka: the broker substitutes its defaults.
    assert out["defaultCreate"] == {"created": True}, out["defaultCreate"]


def test_consumer_from_explicit_offset(broker):
    topic = "seek"
    produce_all(broker.addr, [{"topic": topic, "value": b"%d" % i, "partition": 0}
                              for i in range(30)])
    c = make_consumer(broker.addr)
    try:
        from confluent_kafka import TopicPartition
        c.assign([TopicPartition(topic, 0, 17)])
        got = consume(broker.addr, topic, [0], 13, consumer=c)
        assert [(m.offset(), m.value()) for m in got] == [(i, b"%d" % i) for i in range(17, 30)]
    finally:
        c.close()


def test_raw_acks0_gets_no_response(broker):
    topic = "acks0"
    with kafkaraw.Conn(broker.addr) as c:
        kafkaraw.metadata_v1(c, [topic])
        for i in range(3):
            c.send(kafkaraw.PRODUCE, 7, kafkaraw.produce_body(
                topic, 0, kafkaraw.record_batch([(None, b"fire-%d" % i)]), acks=0))
        # The next frame on this connection must answer the ApiVersions request, not a Produce.
        corr = c.send(kafkaraw.API_VERSIONS, 0, b"")
        got, r = c.recv()
        assert got == corr and r.i16() == 0
        deadline = time.monotonic() + 10
        while kafkaraw.list_offsets_v1(c, topic, 0, -1)[2] != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert kafkaraw.list_offsets_v1(c, topic, 0, -1)[2] == 3
    # An acks=0 produce that fails closes the connection (the client then refreshes metadata).
    with kafkaraw.Conn(broker.addr) as c:
        c.send(kafkaraw.PRODUCE, 7, kafkaraw.produce_body(
            topic, 9, kafkaraw.record_batch([(None, b"nowhere")]), acks=0))
        assert c.closed_by_peer(), "failed acks=0 produce did not close the connection"
    got = consume(broker.addr, topic, [0], 3)
    assert [(m.offset(), m.value()) for m in got] == [(i, b"fire-%d" % i) for i in range(3)]
