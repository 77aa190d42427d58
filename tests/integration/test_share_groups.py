"""Share groups (KIP-932) with Apache Kafka's own KafkaShareConsumer (kafka-clients 4.x,
tests/java) against the real herald: a share group is the subscription share.<group>.<topic>
(docs/queues.md), so records go one at a time to the group's members, come back when released
or when their acquisition lock expires, and go to the subscription's dead-letter topic when
rejected or delivered too often."""
import time

import pytest
import requests

from compat import JavaDriver
from conftest import wait_until

T = 10  # seconds, for every HTTP call


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    d = JavaDriver(tmp_path_factory.mktemp("java") / "driver.log")
    yield d
    d.close()


def mk_topic(b, name, partitions=1):
    r = requests.post(b.http + "/topics", json={"name": name, "partitions": partitions},
                      timeout=T)
    assert r.status_code == 201, r.text


def produce(b, topic, values, partitions=1):
    """Record i goes to partition i % partitions with key k-i; returns {value: (p, offset)}."""
    recs = [{"key": "k-%d" % i, "value": v, "partition": i % partitions}
            for i, v in enumerate(values)]
    r = requests.post(b.http + "/topics/%s/records" % topic, json={"records": recs}, timeout=T)
    assert r.status_code == 200, r.text
    offs = r.json()["offsets"]
    return {v: (o["partition"], o["offset"]) for v, o in zip(values, offs)}


def sub_stats(b, name):
    r = requests.get(b.http + "/subscriptions/" + name, timeout=T)
    assert r.status_code == 200, r.text
    return r.json()


def poll_all(java, name, member, action, want, timeout=20.0):
    """Polls member until `want` records came (each acknowledged per action)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        out = java.ok("share-poll", name, member, 2000, action)
        assert all(e is None for e in out["commit"].values()), out["commit"]
        got += out["records"]
    return got


def test_accept_shares_records_between_two_members(java, broker_factory):
    b = broker_factory("--group-share-start-earliest", "true")
    mk_topic(b, "sg-orders", 3)
    values = ["order-%d" % i for i in range(60)]
    where = produce(b, "sg-orders", values, 3)
    java.ok("share-open", "two", b.addr, "workers", "sg-orders", 2)
    got = []
    deadline = time.monotonic() + 40
    while len(got) < 60 and time.monotonic() < deadline:
        for m in (0, 1):
            out = java.ok("share-poll", "two", m, 1000, "accept")
            assert all(e is None for e in out["commit"].values()), out["commit"]
            got += [dict(r, m=m) for r in out["records"]]
    java.ok("share-close", "two")
    # Every record exactly once, with its key, where it was written, on its first delivery.
    assert sorted(r["v"] for r in got) == sorted(values)
    for r in got:
        assert (r["p"], r["o"]) == where[r["v"]]
        assert r["k"] == "k-%d" % values.index(r["v"])
        assert r["dc"] == 1
    st = sub_stats(b, "share.workers.sg-orders")
    assert st["topic"] == "sg-orders"
    assert st["stats"]["backlog"] == 0 and st["stats"]["in_flight"] == 0
