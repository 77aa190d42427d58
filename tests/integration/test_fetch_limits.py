"""KIP-74: consumers whose fetch.max.bytes and max.partition.fetch.bytes are far below the size
of the records still make progress, because the first batch of a fetch is always returned whole.
Checked with confluent-kafka from Debian (librdkafka 2.0.2) and from PyPI (librdkafka 2.1x) and
with the Java consumer."""
import json
import subprocess

import pytest

from clients import consume, create_topic, produce_all
from compat import VENV_PY, JavaDriver, require

BIG = 60_000  # each record; the consumers below ask for at most 2,000 bytes a fetch
COUNT = 12


def value(i):
    return (b"%04d" % i) * (BIG // 4)


@pytest.fixture
def big_topic(broker):
    create_topic(broker.addr, "kip74", partitions=3)
    # One record per batch (linger 0, no compression), spread over the partitions.
    produce_all(broker.addr, [{"topic": "kip74", "value": value(i), "key": b"%d" % i,
                               "partition": i % 3} for i in range(COUNT)],
                linger_ms=0, batch_num_messages=1, compression_type="none")
    return "kip74"


def check(values):
    assert sorted(values) == sorted(value(i) for i in range(COUNT))


def test_small_fetch_limits_librdkafka_debian(broker, big_topic):
    got = consume(broker.addr, big_topic, [0, 1, 2], COUNT, timeout=30,
                  fetch_max_bytes=1000, message_max_bytes=1000, max_partition_fetch_bytes=500)
    check([m.value() for m in got])


PYPI_CONSUME = r'''
import json, sys, time
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "kip74", "enable.auto.commit": False,
              "fetch.max.bytes": 1000, "message.max.bytes": 1000,
              "max.partition.fetch.bytes": 500, "fetch.wait.max.ms": 100})
c.assign([TopicPartition("kip74", p, -2) for p in range(3)])
got, deadline = [], time.monotonic() + 30
while len(got) < int(sys.argv[2]) and time.monotonic() < deadline:
    m = c.poll(0.2)
    if m is not None and m.error() is None:
        got.append(m.value().hex())
c.close()
print(json.dumps(got))
'''


def test_small_fetch_limits_librdkafka_pypi(broker, big_topic):
    require(VENV_PY, "the PyPI confluent-kafka virtualenv")
    p = subprocess.run([str(VENV_PY), "-c", PYPI_CONSUME, broker.addr, str(COUNT)],
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    check([bytes.fromhex(v) for v in json.loads(p.stdout)])


def test_small_fetch_limits_java(broker, big_topic, tmp_path):
    java = JavaDriver(tmp_path / "driver.log")
    try:
        got = java.ok("consume", broker.addr, big_topic, COUNT, 30000, "fetch.max.bytes=1000",
                      "max.partition.fetch.bytes=500")["records"]
    finally:
        java.close()
    check([r["v"].encode() for r in got])
