"""Committed offset metadata round-trips byte for byte: leading and trailing spaces (librdkafka's
own test commits "       Hello"), whitespace controls, the empty string, multi-byte UTF-8 and
the largest metadata Kafka accepts by default (offset.metadata.max.bytes = 4096). Committed with
Apache Kafka's Java client and with confluent-kafka from PyPI, read back with each client's
committed(), with the Java AdminClient and with raw OffsetFetch v1 to v9; on herald also after a
restart (the offsets log replayed). Runs against herald and Apache Kafka (kafka_target)."""
import json
import subprocess
import time

import pytest

from compat import VENV_PY, JavaDriver, require
from conftest import unique
from clients import create_topic
from kafkaraw import Conn, array, i8, i32, i64, string, uvarint
from test_group_api_versions import coordinator_ready
from test_groups import HERE

OFFSET_FETCH = 9
METADATA = ["       Hello", "Hello       ", "", " ", "\t tab and newline\n ",
            "h\u00e9llo \u2713 \u65e5\u672c \U0001F600", "m" * 4096, "  x" * 1365 + " "]
assert len(METADATA[-1].encode()) == 4096


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    d = JavaDriver(tmp_path_factory.mktemp("java") / "driver.log")
    yield d
    d.close()


def cstr(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def rcstr(r):
    n = r.uvarint() - 1
    return None if n < 0 else r.take(n)


def skip_tags(r):
    for _ in range(r.uvarint()):
        r.uvarint()
        r.take(r.uvarint())


def offset_fetch(addr, group, topic, partitions, version):
    """Raw OffsetFetch v1-9 for one group and topic: {partition: (offset, metadata bytes)}."""
    flex = version >= 6
    s = cstr if flex else string

    def arr(items):
        return (uvarint(len(items) + 1) if flex else i32(len(items))) + b"".join(items)

    tag = b"\x00" if flex else b""
    topics = arr([s(topic) + arr([i32(p) for p in partitions]) + tag])
    if version >= 8:
        member = (b"\x00" + i32(-1)) if version >= 9 else b""  # null member id, epoch -1
        body = arr([s(group) + member + topics + tag]) + i8(0) + tag
    else:
        body = s(group) + topics + (i8(0) if version >= 7 else b"") + tag
    with Conn(addr) as c:
        r = c.request(OFFSET_FETCH, version, body, flexible=flex)
    if flex:
        skip_tags(r)
    if version >= 3:
        r.i32()
    n = r.uvarint() - 1 if flex else r.i32()
    if version >= 8:
        assert n == 1
        assert (rcstr(r)) == group.encode()
        n = r.uvarint() - 1
    out = {}
    for _ in range(n):
        name = rcstr(r) if flex else r.string().encode()
        assert name == topic.encode()
        np = r.uvarint() - 1 if flex else r.i32()
        for _ in range(np):
            p, off = r.i32(), r.i64()
            if version >= 5:
                r.i32()  # leader epoch
            md = rcstr(r) if flex else (lambda n: None if n < 0 else r.take(n))(r.i16())
            err = r.i16()
            assert err == 0, (version, p, err)
            if flex:
                skip_tags(r)
            out[p] = (off, md)
        if flex:
            skip_tags(r)
    if version >= 2:
        assert r.i16() == 0  # the group's (v8+) or the top-level error
    return out


def check_raw(addr, group, topic, base, metadata=METADATA, suffix=b""):
    want = {p: (base + p, m.encode() + suffix) for p, m in enumerate(metadata)}
    for v in range(1, 10):
        assert offset_fetch(addr, group, topic, list(range(len(metadata))), v) == want, v


def test_java_client_metadata_round_trips(java, kafka_target):
    topic, group = unique("md-java"), unique("md-java-g")
    java.ok("admin", kafka_target.addr, "create-topic", topic, len(METADATA))
    hexes = [m.encode().hex() for m in METADATA]
    out = java.ok("commit-metadata", kafka_target.addr, group, topic, *hexes)
    want = [[10 + p, h] for p, h in enumerate(hexes)]
    assert out["committed"] == want
    assert out["admin"] == want
    check_raw(kafka_target.addr, group, topic, 10)
    if kafka_target.kind == "herald":
        kafka_target.restart()
        check_raw(kafka_target.addr, group, topic, 10)


def test_confluent_kafka_metadata_round_trips(java, kafka_target):
    """librdkafka (through confluent-kafka's TopicPartition) commits the metadata's C string
    terminator too, so the broker stores one NUL byte more than the string and must give it
    back: committed() then returns the string exactly (Herald used to drop that byte, and
    confluent-kafka read past the end of the metadata). Strings of 4095 bytes, the most that fits
    offset.metadata.max.bytes with the terminator."""
    require(VENV_PY, "the PyPI confluent-kafka virtualenv")
    topic, group = unique("md-ck"), unique("md-ck-g")
    metadata = [m if len(m.encode()) < 4096 else m[:4095] for m in METADATA]
    java.ok("admin", kafka_target.addr, "create-topic", topic, len(metadata))
    hexes = [m.encode().hex() for m in metadata]
    r = subprocess.run([str(VENV_PY), str(HERE / "ck_offset_metadata.py"), kafka_target.addr,
                        group, topic] + hexes, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "%s\n%s" % (r.stdout, r.stderr[-3000:])
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["committed"] == [[20 + p, h] for p, h in enumerate(hexes)]
    check_raw(kafka_target.addr, group, topic, 20, metadata, b"\x00")
    if kafka_target.kind == "herald":
        kafka_target.restart()
        check_raw(kafka_target.addr, group, topic, 20, metadata, b"\x00")


def test_metadata_over_the_limit_is_refused(kafka_target):
    """4097 bytes: OFFSET_METADATA_TOO_LARGE (12) on both, and nothing is stored."""
    addr = kafka_target.addr
    topic, group = unique("md-big"), unique("md-big-g")
    create_topic(addr, topic, 1)
    # OffsetCommit v2: group, generation -1, member "", retention -1, offset 5 with metadata.
    body = (string(group) + i32(-1) + string("") + i64(-1) +
            array([string(topic) + array([i32(0) + i64(5) + string("x" * 4097)])]))
    coordinator_ready(addr, group)  # as clients do: FindCoordinator first
    deadline = time.monotonic() + 30
    while True:
        with Conn(addr) as c:
            r = c.request(8, 2, body)
            (_, ((_, err),)), = r.array(lambda r: (r.string(), r.array(
                lambda r: (r.i32(), r.i16()))))
        # A fresh Kafka answers coordinator errors (or an unknown partition) for a moment.
        if err not in (3, 14, 15, 16) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert err == 12
    assert offset_fetch(addr, group, topic, [0], 1) == {0: (-1, b"")}
