"""Kafka admin behaviours that operations tools rely on: reserved internal topic names,
AlterConfigs / IncrementalAlterConfigs, DeleteRecords, DescribeCluster and authorized operations,
checked with raw requests and confluent_kafka's AdminClient."""
import pytest
from confluent_kafka.admin import NewTopic

import kafkaraw as kr
from clients import admin, error_code

INVALID_TOPIC_EXCEPTION = 17
INVALID_REQUEST = 42


def create_topics_v4(conn, name, partitions=1, configs=()):
    body = (kr.array([kr.string(name) + kr.i32(partitions) + kr.i16(1) + kr.array([])
                      + kr.array([kr.string(k) + kr.string(v) for k, v in configs])])
            + kr.i32(10000) + kr.i8(0))
    r = conn.request(kr.CREATE_TOPICS, 4, body)
    r.i32()  # throttle
    (res,) = r.array(lambda r: (r.string(), r.i16(), r.string()))
    return res


# ---- reserved names ----


@pytest.mark.parametrize("name", ["__consumer_offsets", "__transaction_state"])
def test_reserved_names_are_never_user_topics(broker, name):
    with kr.Conn(broker.addr) as c:
        # Metadata v1 (auto-creation on): the name is not created, the answer says so.
        _b, _ctrl, topics = kr.metadata_v1(c, [name])
        assert topics[name][0] == kr.UNKNOWN_TOPIC_OR_PARTITION
        # Metadata v4 allowing auto-creation: the same.
        r = c.request(kr.METADATA, 4, kr.array([name], kr.string) + b"\x01")
        r.i32()
        r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
        r.string(), r.i32()
        (err, got, internal, parts), = r.array(
            lambda r: (r.i16(), r.string(), r.bool(), r.array(lambda r: None)))
        assert (err, got, internal, parts) == (kr.UNKNOWN_TOPIC_OR_PARTITION, name, True, [])
        # Produce is refused as Kafka refuses appends to internal topics, and creates nothing.
        err, _ = kr.produce(c, name, 0, kr.record_batch([(None, b"x")]))
        assert err == INVALID_TOPIC_EXCEPTION
        # CreateTopics refuses the name.
        got, err, msg = create_topics_v4(c, name, 3)
        assert (got, err) == (name, INVALID_REQUEST) and "internal" in msg
        _b, _ctrl, topics = kr.metadata_v1(c, None)
        assert name not in topics
    a = admin(broker.addr)
    fs = a.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    with pytest.raises(Exception) as e:
        fs[name].result(15)
    assert error_code(e.value) == INVALID_REQUEST
    assert name not in a.list_topics(timeout=10).topics
    assert broker.running()
