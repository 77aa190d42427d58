"""A topic-level compression.type other than `producer`: the broker stores every batch with that
codec (recompressing what producers send), keeps idempotent producers' fields, and consumers read
the records back unchanged; DescribeConfigs shows the setting, which can also be altered."""
import pytest
from confluent_kafka.admin import ConfigResource, NewTopic

import kafkaraw as kr
from clients import admin, consume, produce_all

CODECS = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
SENT_WITH = {"uncompressed": "gzip", "gzip": "none", "snappy": "zstd", "lz4": "none",
             "zstd": "snappy"}


def described(a, topic):
    (f,) = a.describe_configs([ConfigResource("topic", topic)]).values()
    return {k: v.value for k, v in f.result(15).items()}


@pytest.mark.parametrize("codec", list(CODECS))
def test_topic_codec_recompresses_batches(broker, codec):
    topic = "tc-" + codec
    a = admin(broker.addr)
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1,
                              config={"compression.type": codec})])[topic].result(15)
    assert described(a, topic)["compression.type"] == codec
    msgs = [{"topic": topic, "partition": 0, "key": b"k%d" % i,
             "value": b"value-%d-" % i + b"xyz" * (i % 40), "headers": [("i", b"%d" % i)]}
            for i in range(200)]
    produce_all(broker.addr, msgs, compression_type=SENT_WITH[codec], enable_idempotence=True,
                linger_ms=20)
    batches = kr.fetch_all_batches(broker.addr, topic, 0)
    assert sum(b.last_offset_delta + 1 for b in batches) == 200
    assert {b.attributes & 7 for b in batches} == {CODECS[codec]}
    # Idempotent producer fields survive: one producer, contiguous sequences from 0.
    assert len({b.producer_id for b in batches}) == 1 and batches[0].producer_id >= 0
    seq = 0
    for b in batches:
        assert b.base_sequence == seq
        seq += b.last_offset_delta + 1
    got = consume(broker.addr, topic, [0], 200, timeout=20)
    assert [(m.key(), m.value(), m.headers()) for m in got] == \
        [(m["key"], m["value"], m["headers"]) for m in msgs]


def test_compression_type_altered_and_refused_values(broker):
    a = admin(broker.addr)
    bad = a.create_topics([NewTopic("tc-bad", num_partitions=1, replication_factor=1,
                                    config={"compression.type": "brotli"})])["tc-bad"]
    with pytest.raises(Exception) as e:
        bad.result(15)
    assert e.value.args[0].code() == 40  # INVALID_CONFIG
    a.create_topics([NewTopic("tc-alt", num_partitions=1,
                              replication_factor=1)])["tc-alt"].result(15)
    assert described(a, "tc-alt")["compression.type"] == "producer"
    produce_all(broker.addr, [{"topic": "tc-alt", "partition": 0, "value": b"a" * 500}],
                compression_type="gzip")
    for f in a.alter_configs([ConfigResource("topic", "tc-alt", set_config={
            "compression.type": "zstd"})]).values():
        f.result(15)
    produce_all(broker.addr, [{"topic": "tc-alt", "partition": 0, "value": b"b" * 500}],
                compression_type="gzip")
    broker.restart()
    a = admin(broker.addr)
    assert described(a, "tc-alt")["compression.type"] == "zstd"
    produce_all(broker.addr, [{"topic": "tc-alt", "partition": 0, "value": b"c" * 500}],
                compression_type="none")
    batches = kr.fetch_all_batches(broker.addr, "tc-alt", 0)
    assert [b.attributes & 7 for b in batches] == [1, 4, 4]
    assert [m.value() for m in consume(broker.addr, "tc-alt", [0], 3)] == [b"a" * 500, b"b" * 500, b"c" * 500]
