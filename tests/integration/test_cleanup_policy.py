"""cleanup.policy: herald accepts delete, compact and both (Kafka Streams creates its changelog
topics compacted). Compaction itself is not performed: a compacted topic keeps every record,
and one without "delete" is never trimmed by retention.bytes / retention.ms."""
import time

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource

import kafkaraw as kr
from clients import admin, create_topic

INVALID_CONFIG = 40


def policy(addr, topic):
    ac = admin(addr)
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    e = ac.describe_configs([res])[res].result(20)["cleanup.policy"]
    return e.value, e.is_default


def test_values_are_checked_normalized_and_durable(broker):
    a = broker.addr
    create_topic(a, "c1", 1, {"cleanup.policy": "compact"})
    create_topic(a, "c2", 1, {"cleanup.policy": " delete , compact"})
    create_topic(a, "c3", 1)
    for bad in ("compactx", "", "delete,", "none"):
        with pytest.raises(KafkaException) as e:
            create_topic(a, "cbad", 1, {"cleanup.policy": bad})
        assert e.value.args[0].code() == INVALID_CONFIG, bad
    want = {"c1": ("compact", False), "c2": ("compact,delete", False), "c3": ("delete", True)}
    assert {t: policy(a, t) for t in want} == want
    broker.restart()
    assert {t: policy(a, t) for t in want} == want


def test_retention_spares_compacted_topics(broker_factory):
    b = broker_factory("--segment-bytes", "1048576", "--retention-check-ms", "200")
    conf = {"retention.bytes": "1100000"}
    create_topic(b.addr, "pol-delete", 1, dict(conf, **{"cleanup.policy": "delete"}))
    create_topic(b.addr, "pol-compact", 1, dict(conf, **{"cleanup.policy": "compact"}))
    create_topic(b.addr, "pol-both", 1, dict(conf, **{"cleanup.policy": "compact,delete"}))
    value = bytes(range(256)) * 64  # 16 KiB: 150 records fill more than two segments
    with kr.Conn(b.addr) as c:
        for topic in ("pol-delete", "pol-compact", "pol-both"):
            for i in range(150):
                assert kr.produce(c, topic, 0, kr.record_batch([(b"k", value)])) == (0, i)

        def start(topic):
            err, _ts, off = kr.list_offsets_v1(c, topic, 0, -2)
            assert err == 0
            return off

        deadline = time.monotonic() + 20
        while (start("pol-delete") == 0 or start("pol-both") == 0) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        assert start("pol-delete") > 0 and start("pol-both") > 0, "retention never ran"
        time.sleep(0.6)  # three more retention passes
        assert start("pol-compact") == 0


def test_altered_with_append_and_subtract(broker):
    """IncrementalAlterConfigs APPEND / SUBTRACT on the list setting (kadm, see test_franz_go)."""
    from test_franz_go import franz
    a = broker.addr
    create_topic(a, "calt", 1)
    assert franz("admin", a, "alter-configs", "calt", "+cleanup.policy=compact")["error"] is None
    assert policy(a, "calt") == ("compact,delete", False)
    assert franz("admin", a, "alter-configs", "calt", "~cleanup.policy=delete")["error"] is None
    assert policy(a, "calt") == ("compact", False)
    assert "INVALID_CONFIG" in franz("admin", a, "alter-configs", "calt",
                                     "cleanup.policy=compacted")["error"]
    broker.restart()
    assert policy(a, "calt") == ("compact", False)
