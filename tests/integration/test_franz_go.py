"""franz-go (kgo and kadm, tests/go, built by `make compat-go`) against the real herald: the
idempotent producer with every codec, a consumer group that splits partitions, commits and
resumes, and admin calls. Every case runs against herald and against Apache Kafka itself (the
kafka_target fixture) with the same assertions."""
import json
import subprocess

import pytest

import kafkaraw
from compat import GO_BIN, require
from conftest import unique

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BASE_TS = 1_700_000_000_000


def franz(*args, timeout=60):
    """Runs herald-franz; returns its JSON answer."""
    require(GO_BIN, "the franz-go driver")
    r = subprocess.run([str(GO_BIN), "-timeout", "%ds" % (timeout - 5)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, "herald-franz %s failed:\n%s" % (" ".join(map(str, args[:3])),
                                                              r.stderr[-3000:])
    return json.loads(r.stdout)


def expected(i, codec):
    """Record i as herald-franz writes it (see tests/go/main.go)."""
    return {"k": None if i % 10 == 9 else "k-%d" % i,
            "v": "fz-%d-%s-%s" % (i, codec, "xyz" * (i % 40)),
            "ts": BASE_TS + i, "h": [["idx", str(i)], ["codec", codec]]}


@pytest.mark.parametrize("codec", list(CODECS))
def test_idempotent_produce_consume_each_codec(kafka_target, codec):
    broker = kafka_target
    topic = unique("fz-" + codec)
    assert franz("admin", broker.addr, "create-topic", topic, 3)["error"] is None
    n = 60
    offs = franz("produce", broker.addr, topic, codec, n, 3)["offsets"]
    where = {tuple(po): i for i, po in enumerate(offs)}
    assert sorted(where) == [(p, o) for p in range(3) for o in range(n // 3)]
    assert all(offs[i][0] == i % 3 for i in range(n))

    got = franz("consume", broker.addr, topic, 3, n)["records"]
    assert len(got) == n
    assert sorted(where[(r["p"], r["o"])] for r in got) == list(range(n))
    for r in got:
        want = expected(where[(r["p"], r["o"])], codec)
        assert (r["k"], r["v"], r["ts"], r["h"]) == (want["k"], want["v"], want["ts"],
                                                     want["h"]), r

    pids = set()
    for p in range(3):
        seq, codecs = 0, set()
        for b in kafkaraw.fetch_all_batches(broker.addr, topic, p):
            assert b.crc_ok and b.producer_id >= 0 and b.base_sequence == seq, (p, b.base_offset)
            seq += b.count
            pids.add(b.producer_id)
            codecs.add(b.codec)
        assert seq == n // 3
        assert CODECS[codec] in codecs and codecs <= {0, CODECS[codec]}, codecs
    assert len(pids) == 1


def test_group_splits_commits_and_resumes(kafka_target):
    a = kafka_target.addr
    fg, fgrp = unique("fg"), unique("fgrp")
    assert franz("admin", a, "create-topic", fg, 4)["error"] is None
    out = franz("group", a, fgrp, fg, 4, 2, 40, 0)
    asg = out["assignments"]
    assert sorted(asg[0] + asg[1]) == [0, 1, 2, 3] and asg[0] and asg[1], asg
    pairs = []
    for member, recs in enumerate(out["records"]):
        for r in recs:
            assert r["p"] in asg[member], (member, r, asg)
            pairs.append((r["p"], r["o"]))
    assert sorted(pairs) == sorted(map(tuple, out["produced"])), "each record once"
    assert franz("admin", a, "fetch-offsets", fgrp)["offsets"] == \
        {fg + ":%d" % p: 10 for p in range(4)}
    assert franz("admin", a, "list-groups")["groups"][fgrp] == ["Empty", "consumer", "classic"]
    g = franz("admin", a, "describe-group", fgrp)["group"]
    assert (g["state"], g["members"], g["error"]) == ("Empty", [], None)

    # A new member resumes after the commits: it sees only the 20 new records.
    out = franz("group", a, fgrp, fg, 4, 1, 20, 40)
    assert out["assignments"] == [[0, 1, 2, 3]]
    assert sorted((r["p"], r["o"]) for r in out["records"][0]) == \
        [(p, o) for p in range(4) for o in range(10, 15)]
    assert franz("admin", a, "fetch-offsets", fgrp)["offsets"] == \
        {fg + ":%d" % p: 15 for p in range(4)}
    assert franz("admin", a, "delete-group", fgrp)["error"] is None
    assert fgrp not in franz("admin", a, "list-groups")["groups"]


def test_admin_topics_configs_offsets(kafka_target):
    a = kafka_target.addr
    fa = unique("fa")
    assert franz("admin", a, "create-topic", fa, 2, "retention.ms=7200000")["error"] is None
    assert "TOPIC_ALREADY_EXISTS" in franz("admin", a, "create-topic", fa, 2)["error"]
    cfg = franz("admin", a, "describe-configs", fa)["configs"]
    assert cfg["retention.ms"] == ["7200000", "DYNAMIC_TOPIC_CONFIG"]
    assert cfg["cleanup.policy"] == ["delete", "DEFAULT_CONFIG"]

    franz("produce", a, fa, "lz4", 20, 2)  # record i: partition i % 2, offset i // 2
    lo = lambda spec: franz("admin", a, "list-offsets", fa, spec)["offsets"]  # noqa: E731
    assert lo("start") == {"0": [0, -1, 0], "1": [0, -1, 0]}
    assert lo("end") == {"0": [10, -1, 0], "1": [10, -1, 0]}
    assert lo("max") == {"0": [9, BASE_TS + 18, 0], "1": [9, BASE_TS + 19, 0]}
    assert lo(str(BASE_TS + 5)) == {"0": [3, BASE_TS + 6, 0], "1": [2, BASE_TS + 5, 0]}

    assert franz("admin", a, "update-partitions", fa, 5)["error"] is None
    assert franz("admin", a, "list-topics")["topics"][fa] == 5
    assert franz("admin", a, "delete-topic", fa)["error"] is None
    assert fa not in franz("admin", a, "list-topics")["topics"]


def test_consumer_protocol_group(broker_factory):
    """franz-go's KIP-848 consumer (kgo.ServerSideBalancer): the broker assigns, the members
    split the partitions, commit with their member epochs, and a later member resumes."""
    broker = broker_factory("--group-consumer-heartbeat-interval-ms", "300")
    a = broker.addr
    assert franz("admin", a, "create-topic", "fk", 4)["error"] is None
    out = franz("group", a, "fkgrp", "fk", 4, 2, 40, 0, "consumer")
    asg = out["assignments"]
    assert sorted(asg[0] + asg[1]) == [0, 1, 2, 3] and len(asg[0]) == len(asg[1]) == 2, asg
    pairs = []
    for member, recs in enumerate(out["records"]):
        for r in recs:
            assert r["p"] in asg[member], (member, r, asg)
            pairs.append((r["p"], r["o"]))
    assert sorted(pairs) == sorted(map(tuple, out["produced"])), "each record once"
    assert franz("admin", a, "fetch-offsets", "fkgrp")["offsets"] == \
        {"fk:%d" % p: 10 for p in range(4)}
    # The members left: an empty group of the consumer type, with its offsets.
    assert franz("admin", a, "list-groups")["groups"] == {"fkgrp": ["Empty", "consumer",
                                                                    "consumer"]}

    out = franz("group", a, "fkgrp", "fk", 4, 1, 20, 40, "consumer")
    assert out["assignments"] == [[0, 1, 2, 3]]
    assert sorted((r["p"], r["o"]) for r in out["records"][0]) == \
        [(p, o) for p in range(4) for o in range(10, 15)]
    assert franz("admin", a, "fetch-offsets", "fkgrp")["offsets"] == \
        {"fk:%d" % p: 15 for p in range(4)}
    assert franz("admin", a, "delete-group", "fkgrp")["error"] is None
    assert franz("admin", a, "list-groups")["groups"] == {}


def test_admin_alter_configs_and_delete_records(broker):
    """kadm's AlterTopicConfigs (IncrementalAlterConfigs) and DeleteRecords."""
    a = broker.addr
    assert franz("admin", a, "create-topic", "fz", 1, "retention.ms=7200000")["error"] is None
    assert franz("admin", a, "alter-configs", "fz", "segment.ms=90000", "-retention.ms",
                 "+cleanup.policy=delete", "compression.type=zstd")["error"] is None
    cfg = franz("admin", a, "describe-configs", "fz")["configs"]
    assert cfg["segment.ms"] == ["90000", "DYNAMIC_TOPIC_CONFIG"]
    assert cfg["retention.ms"][1] == "DEFAULT_CONFIG"
    assert cfg["compression.type"] == ["zstd", "DYNAMIC_TOPIC_CONFIG"]
    assert "INVALID_CONFIG" in franz("admin", a, "alter-configs", "fz", "segment.ms=x")["error"]
    assert "INVALID_CONFIG" in franz("admin", a, "alter-configs", "fz", "~segment.ms=1")["error"]

    franz("produce", a, "fz", "none", 10, 1)
    r = franz("admin", a, "delete-records", "fz", 0, 4)
    assert (r["error"], r["low"]) == (None, 4)
    lo = franz("admin", a, "list-offsets", "fz", "start")["offsets"]
    assert lo["0"][0] == 4
    assert "OFFSET_OUT_OF_RANGE" in franz("admin", a, "delete-records", "fz", 0, 11)["error"]
