"""The same application-level checks with Debian's confluent-kafka (1.7.0, librdkafka 2.0.2) and
a current one from PyPI (tests/python/requirements.txt, built by `make compat-py`), each run in
its own Python process: the idempotent producer with every codec, and a consumer group that
splits partitions, commits and resumes from its commits. Every case runs against herald and
against Apache Kafka itself (the kafka_target fixture) with the same assertions."""
import json
import subprocess
import time

import pytest

import kafkaraw
from clients import create_topic
from compat import VENV_PY, require
from conftest import unique, wait_until
from test_consumer_protocol import list_groups
from test_groups import HERE, PY, Worker, produce_range, workers  # noqa: F401 (fixture)

CLIENTS = {"debian": PY, "pypi": str(VENV_PY)}
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def python_for(client):
    if client == "pypi":
        require(VENV_PY, "the PyPI confluent-kafka virtualenv")
    return CLIENTS[client]


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_idempotent_roundtrip_each_codec(kafka_target, client, codec):
    broker = kafka_target
    py = python_for(client)
    topic = unique("ck-%s-%s" % (client, codec))
    create_topic(broker.addr, topic, 3)
    n = 90
    r = subprocess.run([py, str(HERE / "ck_roundtrip.py"), broker.addr, topic, codec, str(n),
                        "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "%s\n%s" % (r.stdout, r.stderr[-3000:])
    out = json.loads(r.stdout.splitlines()[-1])
    print("\nconfluent-kafka %s, librdkafka %s" % (out["version"], out["librdkafka"]))
    if client == "pypi":
        assert out["librdkafka"] >= "2.1", out

    # Stored batches: valid, with the codec (librdkafka sends a batch uncompressed when that is
    # smaller), one producer id, and sequences that continue from batch to batch.
    pids = set()
    for p in range(3):
        seq = 0
        codecs = set()
        for b in kafkaraw.fetch_all_batches(broker.addr, topic, p):
            assert b.crc_ok and b.magic == 2
            assert b.producer_id >= 0 and b.base_sequence == seq, (p, b.base_offset)
            seq += b.count
            pids.add(b.producer_id)
            codecs.add(b.codec)
        assert seq == n // 3
        assert CODECS[codec] in codecs and codecs <= {0, CODECS[codec]}, codecs
    assert len(pids) == 1


@pytest.mark.parametrize("assignor", ["range", "cooperative-sticky"])
@pytest.mark.parametrize("client", list(CLIENTS))
def test_group_splits_commits_and_resumes(kafka_target, tmp_path, workers, client,  # noqa: F811
                                          assignor):
    broker = kafka_target
    py = python_for(client)
    topic, group = unique("gr"), unique("g-%s" % client)
    create_topic(broker.addr, topic, 6)
    expected = produce_range(broker.addr, topic, 0, 300)
    args = ("--assignor", assignor)
    w1 = Worker(tmp_path, broker.addr, group, topic, "w1", *args, py=py).start()
    w2 = Worker(tmp_path, broker.addr, group, topic, "w2", *args, py=py).start()
    workers += [w1, w2]
    wait_until(lambda: len(w1.assignment()) == 3 and len(w2.assignment()) == 3, 30,
               what="a 3/3 split")
    assert w1.assignment() | w2.assignment() == set(range(6))
    wait_until(lambda: set(w1.records()) | set(w2.records()) >= expected, 30, what="300 records")
    w1.stop()
    w2.stop()
    got = w1.records() + w2.records()
    assert set(got) == set(expected)
    # At-least-once: a record is delivered twice only when its commit was refused (the worker
    # logs "E" then, e.g. REBALANCE_IN_PROGRESS while a cooperative rebalance completes).
    fenced = [ln for w in (w1, w2) for ln in w.lines() if ln.startswith("E ")]
    if not fenced:
        assert sorted(got) == sorted(expected), "each record once"
    else:
        assert len(got) - len(expected) <= len(fenced), (len(got), len(fenced))
    # Commits were synchronous per record: a new member starts exactly after them.
    fresh = produce_range(broker.addr, topic, 300, 60)
    w3 = Worker(tmp_path, broker.addr, group, topic, "w3", *args, py=py).start()
    workers.append(w3)
    wait_until(lambda: set(w3.records()) >= fresh, 30, what="the new records")
    w3.stop()
    assert sorted(w3.records()) == sorted(fresh)


def test_consumer_protocol_group_and_crash(broker_factory, tmp_path, workers):  # noqa: F811
    """librdkafka's KIP-848 consumer (group.protocol=consumer, PyPI build): two members split six
    partitions, each record is processed once, a member killed with SIGKILL (no leave) loses its
    partitions only when its session ends, and the survivor resumes them at the commits."""
    py = python_for("pypi")
    broker = broker_factory("--group-consumer-heartbeat-interval-ms", "300",
                            "--group-consumer-session-timeout-ms", "4000")
    topic, group = "gk", "g-kip848"
    create_topic(broker.addr, topic, 6)
    expected = produce_range(broker.addr, topic, 0, 300)
    args = ("--protocol", "consumer", "--assignor", "uniform")
    w1 = Worker(tmp_path, broker.addr, group, topic, "w1", *args, py=py).start()
    w2 = Worker(tmp_path, broker.addr, group, topic, "w2", *args, py=py).start()
    workers += [w1, w2]
    wait_until(lambda: len(w1.assignment()) == 3 and len(w2.assignment()) == 3, 30,
               what="a 3/3 split")
    assert w1.assignment() | w2.assignment() == set(range(6))
    with kafkaraw.Conn(broker.addr) as c:
        assert list_groups(c)[group] == ("consumer", "Stable", "consumer")
    wait_until(lambda: set(w1.records()) | set(w2.records()) >= expected, 30, what="300 records")
    assert sorted(w1.records() + w2.records()) == sorted(expected), "each record once"

    # w2 dies without a word: its partitions stay assigned until its session (4 s) ends.
    lost = w2.assignment()
    w2.kill()
    fresh = produce_range(broker.addr, topic, 300, 60)
    t0 = time.monotonic()
    wait_until(lambda: w1.assignment() == set(range(6)), 30, what="w1 owning all six")
    assert time.monotonic() - t0 >= 3, "w2's partitions moved before its session ended"
    wait_until(lambda: set(w1.records()) >= fresh, 30, what="the new records")
    w1.stop()
    # The killed member had committed everything it processed: nothing is read twice.
    assert sorted(w1.records() + w2.records()) == sorted(expected | fresh), "each record once"
    assert lost
