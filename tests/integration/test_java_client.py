"""Apache Kafka's Java client (kafka-clients 4.x, tests/java) against the real herald: the
idempotent producer with every codec, consumer groups on the classic protocol and on the consumer
protocol of KIP-848 (group.protocol=consumer), and the AdminClient. One JVM serves the whole
module (see compat.JavaDriver). The application-level cases run against herald and against Apache
Kafka itself (the kafka_target fixture) with the same assertions."""
import re
import time

import pytest

import kafkaraw
from compat import JavaDriver
from conftest import unique

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BASE_TS = 1_700_000_000_000


@pytest.fixture(scope="module")
def java(tmp_path_factory):
    d = JavaDriver(tmp_path_factory.mktemp("java") / "driver.log")
    yield d
    d.close()


def expected(i, codec):
    """Record i as the driver's `produce` writes it (see Driver.java)."""
    return {"k": None if i % 10 == 9 else "k-%d" % i,
            "v": "v-%d-%s-%s" % (i, codec, "abc" * (i % 50)),
            "ts": BASE_TS + i, "h": [["idx", str(i)], ["codec", codec]]}


def produce(java, broker, topic, codec, count, partitions):
    """Produces with the driver; asserts offsets are contiguous per partition in send order and
    returns {(partition, offset): record index}."""
    offs = java.ok("produce", broker.addr, topic, codec, count, partitions)["offsets"]
    assert len(offs) == count
    where = {}
    for p in range(partitions):
        got = [o for (pp, o) in offs if pp == p]
        assert all(offs[i][0] == i % partitions for i in range(count))
        assert got == sorted(got) and len(set(got)) == len(got), (p, got)
    for i, (p, o) in enumerate(offs):
        where[(p, o)] = i
    return where


@pytest.mark.parametrize("codec", list(CODECS))
def test_idempotent_producer_each_codec(java, kafka_target, codec):
    broker = kafka_target
    topic = unique("jc-" + codec)
    java.ok("admin", broker.addr, "create-topic", topic, 3)
    n = 60
    where = produce(java, broker, topic, codec, n, 3)
    # A fresh topic: offsets start at 0 and have no gaps.
    for p in range(3):
        assert sorted(o for (pp, o) in where if pp == p) == list(range(n // 3))

    got = java.ok("consume", broker.addr, topic, n, 30000)["records"]
    assert len(got) == n
    seen = set()
    for r in got:
        i = where[(r["p"], r["o"])]
        want = expected(i, codec)
        assert (r["k"], r["v"], r["ts"], r["h"]) == (want["k"], want["v"], want["ts"],
                                                     want["h"]), (i, r)
        seen.add(i)
    assert seen == set(range(n))

    # On the wire: batches compressed with the codec asked for, stamped with one producer id,
    # and sequence numbers that continue from batch to batch (the producer is idempotent).
    pids = set()
    for p in range(3):
        batches = kafkaraw.fetch_all_batches(broker.addr, topic, p)
        seq = 0
        for b in batches:
            assert b.codec == CODECS[codec], (p, b.base_offset, b.attributes)
            assert b.producer_id >= 0 and b.producer_epoch >= 0
            assert b.base_sequence == seq, (p, b.base_offset, b.base_sequence, seq)
            assert b.crc_ok
            seq += b.count
            pids.add(b.producer_id)
        assert seq == n // 3
    assert len(pids) == 1


def test_classic_group_split_commit_resume(java, kafka_target):
    broker = kafka_target
    topic, group = unique("jg"), unique("java-group")
    java.ok("admin", broker.addr, "create-topic", topic, 4)

    # Two members share the four partitions.
    java.ok("group-open", "a", broker.addr, group, topic, 2)
    asg = java.ok("group-wait", "a", 4, 30000, timeout=45)["assignments"]
    assert sorted(asg[0] + asg[1]) == [0, 1, 2, 3] and asg[0] and asg[1], asg

    where = produce(java, broker, topic, "lz4", 40, 4)
    out = java.ok("group-poll", "a", 40, 30000, timeout=45)
    assert out["assignments"] == asg
    pairs = []
    for member, recs in enumerate(out["records"]):
        for r in recs:
            assert r["p"] in asg[member], (member, r["p"], asg)
            pairs.append((r["p"], r["o"]))
    assert sorted(pairs) == sorted(where), "each record exactly once"

    offsets = java.ok("admin", broker.addr, "group-offsets", group)["offsets"]
    assert offsets == {"%s:%d" % (topic, p): 10 for p in range(4)}

    d = java.ok("admin", broker.addr, "describe-group", group)
    assert (d["state"], d["type"], d["assignor"], d["simple"]) == ("Stable", "Classic", "range",
                                                                 False)
    assert sorted(m["partitions"] for m in d["members"]) == sorted(asg)
    assert sorted(m["clientId"] for m in d["members"]) == ["a-0", "a-1"]
    listed = {g["groupId"]: g for g in java.ok("admin", broker.addr, "list-groups")["groups"]}
    assert (listed[group]["state"], listed[group]["protocol"], listed[group]["type"]) == \
        ("Stable", "consumer", "Classic")

    # A group with members cannot be deleted.
    r = java.send("admin", broker.addr, "delete-group", group)
    assert not r["ok"] and "GroupNotEmpty" in r["error"], r
    java.ok("group-close", "a")
    assert java.ok("admin", broker.addr, "describe-group", group)["state"] == "Empty"

    # New records, a broker restart and a new member: it resumes at the committed offsets.
    more = produce(java, broker, topic, "none", 20, 4)
    assert sorted(more) == [(p, o) for p in range(4) for o in range(10, 15)]
    broker.restart()
    java.ok("group-open", "b", broker.addr, group, topic, 1)
    java.ok("group-wait", "b", 4, 30000, timeout=45)
    out = java.ok("group-poll", "b", 20, 30000, timeout=45)
    assert sorted((r["p"], r["o"]) for r in out["records"][0]) == sorted(more)
    java.ok("group-close", "b")
    offsets = java.ok("admin", broker.addr, "group-offsets", group)["offsets"]
    assert offsets == {"%s:%d" % (topic, p): 15 for p in range(4)}

    java.ok("admin", broker.addr, "delete-group", group)
    listed = java.ok("admin", broker.addr, "list-groups")["groups"]
    assert group not in [g["groupId"] for g in listed]


def test_describe_unknown_group(java, kafka_target):
    """DescribeGroups v6 (KIP-1043): an unknown group is GROUP_ID_NOT_FOUND, which the Admin
    client raises, after ConsumerGroupDescribe answered the same."""
    r = java.send("admin", kafka_target.addr, "describe-group", unique("never-seen"))
    assert not r["ok"] and "GroupIdNotFoundException" in r["error"], r


def regex_topics(base):
    """Topic names for the regex cases, and the regex (Java and RE2/J syntax alike) that takes
    exactly the first three and any later "<base>.<letter>": not a longer name, not a prefix."""
    return ([base + ".a", base + ".b", base + ".c", base + ".a.x", "z" + base + ".a"],
            re.escape(base) + r"\.[a-z]")


@pytest.mark.parametrize("kind", ["re2", "pattern"])
def test_regex_subscription_picks_up_new_topics(java, kafka_target, kind):
    """group.protocol=consumer with a regex: "re2" is subscribe(SubscriptionPattern), evaluated by
    the broker from ConsumerGroupHeartbeat's SubscribedTopicRegex (KIP-848); "pattern" is
    subscribe(java.util.regex.Pattern), evaluated by the client against metadata. Both take the
    matching topics, and a matching topic created later is assigned without a new subscription."""
    a = kafka_target.addr
    base = unique("jrx-" + kind)
    (ta, tb, tc, longer, prefixed), regex = regex_topics(base)
    java.ok("admin", a, "create-topic", ta, 2)
    java.ok("admin", a, "create-topic", tb, 1)
    java.ok("admin", a, "create-topic", longer, 1)
    java.ok("admin", a, "create-topic", prefixed, 1)
    group = unique("jrx-g")
    java.ok("group-open", "rx", a, group, "%s:%s" % (kind, regex), 1, "consumer")
    try:
        w = java.ok("group-wait", "rx", 3, 45000, timeout=60)
        assert w["topicAssignments"] == [sorted(["%s:0" % ta, "%s:1" % ta, "%s:0" % tb])], w
        produce(java, kafka_target, ta, "none", 4, 2)
        produce(java, kafka_target, tb, "none", 3, 1)
        produce(java, kafka_target, longer, "none", 2, 1)
        out = java.ok("group-poll", "rx", 7, 30000, timeout=45)
        got = sorted((r["t"], r["p"], r["o"]) for r in out["records"][0])
        assert got == sorted([(ta, p, o) for p in range(2) for o in range(2)] +
                             [(tb, 0, o) for o in range(3)]), got

        # A topic created after the subscription joins it.
        java.ok("admin", a, "create-topic", tc, 2)
        w = java.ok("group-wait", "rx", 5, 60000, timeout=75)
        assert w["topicAssignments"] == [sorted(["%s:0" % ta, "%s:1" % ta, "%s:0" % tb,
                                                 "%s:0" % tc, "%s:1" % tc])], w
        produce(java, kafka_target, tc, "gzip", 4, 2)
        out = java.ok("group-poll", "rx", 4, 30000, timeout=45)
        assert sorted((r["t"], r["p"], r["o"]) for r in out["records"][0]) == \
            [(tc, p, o) for p in range(2) for o in range(2)]
        offsets = java.ok("admin", a, "group-offsets", group)["offsets"]
        assert offsets == {"%s:0" % ta: 2, "%s:1" % ta: 2, "%s:0" % tb: 3, "%s:0" % tc: 2,
                           "%s:1" % tc: 2}, offsets
    finally:
        java.ok("group-close", "rx")


def test_invalid_regex_subscription(java, kafka_target):
    """A SubscriptionPattern the broker cannot compile fails the consumer's poll with
    InvalidRegularExpression (error 128), on herald as on Kafka."""
    a = kafka_target.addr
    java.ok("group-open", "badrx", a, unique("jrx-bad"), "re2:jrx-(", 1, "consumer")
    try:
        r = java.send("group-wait", "badrx", 1, 20000, timeout=40)
    finally:
        java.send("group-close", "badrx")
    assert not r["ok"] and "InvalidRegularExpression" in r["error"], r


def test_admin_topics_configs_partitions(java, kafka_target):
    broker = kafka_target
    a = broker.addr
    ja, jbad = unique("ja"), unique("jbad")
    cluster = java.ok("admin", a, "describe-cluster")
    assert len(cluster["nodes"]) == 1 and cluster["clusterId"]
    node, host, port = cluster["nodes"][0]
    assert (host, port) == ("127.0.0.1", broker.port) and cluster["controller"] == node

    java.ok("admin", a, "create-topic", ja, 2, "retention.ms=3600000", "segment.bytes=1048576")
    r = java.send("admin", a, "create-topic", ja, 2)
    assert not r["ok"] and "TopicExists" in r["error"], r
    r = java.send("admin", a, "create-topic", jbad, 1, "no.such.config=1")
    assert not r["ok"] and "InvalidConfiguration" in r["error"], r
    assert ja in java.ok("admin", a, "list-topics")["topics"]

    d = java.ok("admin", a, "describe-topic", ja)
    assert d["internal"] is False
    assert d["partitions"] == [{"partition": p, "leader": node, "replicas": [node], "isr": [node]}
                               for p in range(2)]

    cfg = java.ok("admin", a, "describe-configs", "topic", ja)["configs"]
    assert cfg["retention.ms"] == {"value": "3600000", "source": "DYNAMIC_TOPIC_CONFIG",
                                   "readOnly": False, "sensitive": False}
    assert cfg["segment.bytes"]["value"] == "1048576"
    assert cfg["cleanup.policy"]["value"] == "delete"
    assert cfg["cleanup.policy"]["source"] == "DEFAULT_CONFIG"
    bcfg = java.ok("admin", a, "describe-configs", "broker", node)["configs"]
    assert bcfg["auto.create.topics.enable"]["value"] == "true"

    java.ok("admin", a, "create-partitions", ja, 5)
    assert len(java.ok("admin", a, "describe-topic", ja)["partitions"]) == 5
    r = java.send("admin", a, "create-partitions", ja, 3)
    assert not r["ok"] and "InvalidPartitions" in r["error"], r

    java.ok("admin", a, "delete-topic", ja)
    assert ja not in java.ok("admin", a, "list-topics")["topics"]
    r = java.send("admin", a, "describe-topic", ja)
    assert not r["ok"] and "UnknownTopicOrPartition" in r["error"], r


def test_admin_list_offsets(java, kafka_target):
    a = kafka_target.addr
    jo = unique("jo")
    java.ok("admin", a, "create-topic", jo, 2)
    produce(java, kafka_target, jo, "gzip", 20, 2)  # record i: partition i % 2, offset i // 2

    def lo(spec):
        return java.ok("admin", a, "list-offsets", jo, spec)["offsets"]

    assert lo("earliest") == {"0": [0, -1], "1": [0, -1]}
    assert lo("latest") == {"0": [10, -1], "1": [10, -1]}
    # The first record at or after the timestamp: i = 6 (p0, offset 3) and i = 5 (p1, offset 2).
    assert lo(str(BASE_TS + 5)) == {"0": [3, BASE_TS + 6], "1": [2, BASE_TS + 5]}
    assert lo(str(BASE_TS + 100)) == {"0": [-1, -1], "1": [-1, -1]}
    # KIP-734: the record with the largest timestamp.
    assert lo("max-timestamp") == {"0": [9, BASE_TS + 18], "1": [9, BASE_TS + 19]}


# KIP-848 groups: short heartbeats so that reassignments take a fraction of a second, and a
# short session so that a crashed member's partitions move within the test.
CG_SESSION_S = 4
CG_ARGS = ("--group-consumer-heartbeat-interval-ms", "300",
           "--group-consumer-session-timeout-ms", str(CG_SESSION_S * 1000))


def replay(owner, events, skip=()):
    """Replays rebalance callbacks (in the order the members saw them) onto owner, {partition:
    client}: a partition is assigned only while no other member holds it, and revoked or lost
    only by its holder. Events of the clients in skip are ignored."""
    for client, what, ps in events:
        if client in skip:
            continue
        for p in ps:
            if what == "assigned":
                assert owner.get(p) is None, \
                    "partition %d assigned to %s while %s holds it: %r" % (p, client, owner[p],
                                                                          events)
                owner[p] = client
            else:
                assert owner.get(p) == client, (p, client, what, owner, events)
                del owner[p]


def owners_of(answer):
    return {p: c for c, ps in zip(answer["clients"], answer["assignments"]) for p in ps}


def poll_exactly_once(java, broker, handle, topic, codec, n, owner):
    """Produces n records, polls them with the group and checks each was read once, by the
    member owning its partition; the group commits at the end (group-poll)."""
    where = produce(java, broker, topic, codec, n, 4)
    out = java.ok("group-poll", handle, n, 30000, timeout=45)
    replay(owner, out["events"])
    assert owners_of(out) == owner
    pairs = []
    for client, recs in zip(out["clients"], out["records"]):
        for r in recs:
            assert owner[r["p"]] == client, (client, r["p"], owner)
            pairs.append((r["p"], r["o"]))
    assert sorted(pairs) == sorted(where), "each record exactly once"
    return where


def test_consumer_protocol_group(java, broker_factory):
    broker = broker_factory(*CG_ARGS)
    topic, group = "jk", "java-kip848"
    java.ok("admin", broker.addr, "create-topic", topic, 4)

    # Two members split the four partitions evenly (the "uniform" assignor).
    java.ok("group-open", "k", broker.addr, group, topic, 2, "consumer")
    w = java.ok("group-wait", "k", 4, 30000, timeout=45)
    assert sorted(len(a) for a in w["assignments"]) == [2, 2], w
    owner = {}
    replay(owner, w["events"])
    assert owner == owners_of(w)
    poll_exactly_once(java, broker, "k", topic, "lz4", 40, owner)
    offsets = java.ok("admin", broker.addr, "group-offsets", group)["offsets"]
    assert offsets == {"%s:%d" % (topic, p): 10 for p in range(4)}

    d = java.ok("admin", broker.addr, "describe-group", group)
    assert (d["state"], d["type"], d["assignor"], d["simple"]) == ("Stable", "Consumer",
                                                                 "uniform", False)
    assert d["groupEpoch"] == d["targetAssignmentEpoch"] and d["groupEpoch"] >= 2
    byclient = {m["clientId"]: m for m in d["members"]}
    assert sorted(byclient) == ["k-0", "k-1"]
    for c, m in byclient.items():
        assert m["partitions"] == m["target"] == sorted(p for p in owner if owner[p] == c)
        assert m["epoch"] == d["groupEpoch"]
    listed = {g["groupId"]: g for g in java.ok("admin", broker.addr, "list-groups")["groups"]}
    assert (listed[group]["state"], listed[group]["protocol"], listed[group]["type"]) == \
        ("Stable", "consumer", "Consumer")
    r = java.send("admin", broker.addr, "delete-group", group)
    assert not r["ok"] and "GroupNotEmpty" in r["error"], r

    # A third member (a static one) joins: partitions move to it, each revoked by its old owner
    # before the new one gets it (replay checks the order), and the two old members keep the rest.
    before = dict(owner)
    java.ok("group-add", "k", broker.addr, group, topic, "consumer", "static-2")
    w = java.ok("group-wait", "k", 4, 30000, timeout=45)
    assert sorted(len(a) for a in w["assignments"]) == [1, 1, 2], w
    assert any(e[1] == "revoked" and e[2] for e in w["events"]), w["events"]
    replay(owner, w["events"])
    assert owner == owners_of(w)
    assert all(before[p] == c for p, c in owner.items() if c != "k-2"), (before, owner)
    poll_exactly_once(java, broker, "k", topic, "none", 40, owner)
    offsets = java.ok("admin", broker.addr, "group-offsets", group)["offsets"]
    assert offsets == {"%s:%d" % (topic, p): 20 for p in range(4)}

    # The static member goes away saying it will be back (epoch -2): its partitions stay with it
    # until its session ends, then move to the others.
    assert w["clients"][2] == "k-2"
    crashed = "k-2"
    t0 = time.monotonic()
    java.ok("group-crash", "k", 2)
    w = java.ok("group-wait", "k", 4, 30000, timeout=45)
    assert time.monotonic() - t0 >= CG_SESSION_S - 1, "moved before the session ended"
    owner = {p: c for p, c in owner.items() if c != crashed}
    replay(owner, w["events"], skip=(crashed,))
    assert owner == owners_of(w) and sorted(owner) == [0, 1, 2, 3]
    assert sorted(len(a) for a in w["assignments"]) == [2, 2], w
    poll_exactly_once(java, broker, "k", topic, "zstd", 20, owner)
    d = java.ok("admin", broker.addr, "describe-group", group)
    assert sorted(m["clientId"] for m in d["members"]) == sorted(w["clients"])

    # The broker restarts under the two members: group state is not persisted, so their next
    # heartbeats answer UNKNOWN_MEMBER_ID; they lose their partitions, rejoin, and read on from
    # the committed offsets.
    # (Kafka persists group state, so this is where the two differ.)
    broker.restart()
    lost, deadline = set(), time.monotonic() + 30
    while lost != set(w["clients"]):
        assert time.monotonic() < deadline, "the members did not notice the restart"
        w = java.ok("group-wait", "k", 4, 30000, timeout=45)
        lost |= {e[0] for e in w["events"] if e[1] == "lost"}
    owner = owners_of(w)
    poll_exactly_once(java, broker, "k", topic, "none", 20, owner)
    offsets = java.ok("admin", broker.addr, "group-offsets", group)["offsets"]
    assert offsets == {"%s:%d" % (topic, p): 30 for p in range(4)}

    # The last members leave; a restart later, a new member resumes at the committed offsets.
    java.ok("group-leave", "k", 0)
    java.ok("group-close", "k")
    d = java.ok("admin", broker.addr, "describe-group", group)
    assert (d["state"], d["type"], d["members"]) == ("Empty", "Consumer", [])
    more = produce(java, broker, topic, "gzip", 20, 4)
    assert sorted(more) == [(p, o) for p in range(4) for o in range(30, 35)]
    broker.restart()
    java.ok("group-open", "r", broker.addr, group, topic, 1, "consumer")
    java.ok("group-wait", "r", 4, 30000, timeout=45)
    out = java.ok("group-poll", "r", 20, 30000, timeout=45)
    assert sorted((r["p"], r["o"]) for r in out["records"][0]) == sorted(more)
    java.ok("group-close", "r")
    offsets = java.ok("admin", broker.addr, "group-offsets", group)["offsets"]
    assert offsets == {"%s:%d" % (topic, p): 35 for p in range(4)}
    java.ok("admin", broker.addr, "delete-group", group)
    r = java.send("admin", broker.addr, "describe-group", group)
    assert not r["ok"] and "GroupIdNotFoundException" in r["error"], r


def test_admin_incremental_alter_configs(java, broker):
    """Admin.incrementalAlterConfigs (IncrementalAlterConfigs v1, flexible): SET, DELETE, APPEND,
    SUBTRACT, validateOnly, and the errors Kafka gives; the result survives a restart."""
    a = broker.addr
    java.ok("admin", a, "create-topic", "jalt", 1, "retention.ms=3600000")

    def cfg():
        return java.ok("admin", a, "describe-configs", "topic", "jalt")["configs"]

    java.ok("admin", a, "alter-configs", "topic", "jalt", "segment.ms=60000",
            "max.message.bytes=2000000", "-retention.ms", "+cleanup.policy=delete")
    c = cfg()
    assert c["segment.ms"]["value"] == "60000"
    assert c["segment.ms"]["source"] == "DYNAMIC_TOPIC_CONFIG"
    assert c["max.message.bytes"]["value"] == "2000000"
    assert c["retention.ms"]["source"] == "DEFAULT_CONFIG"
    assert c["cleanup.policy"] == {"value": "delete", "source": "DYNAMIC_TOPIC_CONFIG",
                                   "readOnly": False, "sensitive": False}

    java.ok("admin", a, "alter-configs", "topic", "jalt", "--validate-only", "segment.ms=1")
    assert cfg()["segment.ms"]["value"] == "60000"

    r = java.send("admin", a, "alter-configs", "topic", "jalt", "retention.ms=later")
    assert not r["ok"] and "InvalidConfigurationException" in r["error"], r
    r = java.send("admin", a, "alter-configs", "topic", "jalt", "~retention.ms=1")
    assert not r["ok"] and "InvalidConfigurationException" in r["error"], r
    r = java.send("admin", a, "alter-configs", "topic", "jalt", "no.such=1")
    assert not r["ok"] and "InvalidConfigurationException" in r["error"], r
    r = java.send("admin", a, "alter-configs", "topic", "jalt-missing", "segment.ms=1")
    assert not r["ok"] and "UnknownTopicOrPartition" in r["error"], r
    node = java.ok("admin", a, "describe-cluster")["nodes"][0][0]
    r = java.send("admin", a, "alter-configs", "broker", node, "log.retention.ms=1")
    assert not r["ok"] and "InvalidRequestException" in r["error"], r

    broker.restart()
    c = cfg()
    assert (c["segment.ms"]["value"], c["max.message.bytes"]["value"]) == ("60000", "2000000")
    assert c["retention.ms"]["source"] == "DEFAULT_CONFIG"


def test_admin_delete_records_and_authorized_operations(java, broker):
    """Admin.deleteRecords (KIP-107) moves the log start durably; describeCluster and
    describeTopics with includeAuthorizedOperations report every operation (no authorizer)."""
    a = broker.addr
    java.ok("admin", a, "create-topic", "jdr", 1)
    produce(java, broker, "jdr", "lz4", 30, 1)
    assert java.ok("admin", a, "delete-records", "jdr", 0, 10)["lowWatermark"] == 10
    assert java.ok("admin", a, "list-offsets", "jdr", "earliest")["offsets"] == {"0": [10, -1]}
    got = java.ok("consume", a, "jdr", 20, 30000)["records"]
    assert [r["o"] for r in got] == list(range(10, 30))
    # Below the current start: nothing changes; above the high watermark: out of range.
    assert java.ok("admin", a, "delete-records", "jdr", 0, 5)["lowWatermark"] == 10
    r = java.send("admin", a, "delete-records", "jdr", 0, 31)
    assert not r["ok"] and "OffsetOutOfRange" in r["error"], r
    broker.restart()
    assert java.ok("admin", a, "list-offsets", "jdr", "earliest")["offsets"] == {"0": [10, -1]}
    assert java.ok("admin", a, "delete-records", "jdr", 0, 30)["lowWatermark"] == 30
    assert java.ok("admin", a, "list-offsets", "jdr", "earliest")["offsets"] == {"0": [30, -1]}

    c = java.ok("admin", a, "describe-cluster", "--ops")
    assert c["authorizedOperations"] == ["ALTER", "ALTER_CONFIGS", "CLUSTER_ACTION", "CREATE",
                                         "DESCRIBE", "DESCRIBE_CONFIGS", "IDEMPOTENT_WRITE"]
    t = java.ok("admin", a, "describe-topic", "jdr", "--ops")
    assert t["authorizedOperations"] == ["ALTER", "ALTER_CONFIGS", "CREATE", "DELETE", "DESCRIBE",
                                         "DESCRIBE_CONFIGS", "READ", "WRITE"]
    assert java.ok("admin", a, "describe-topic", "jdr")["partitions"][0]["leader"] == \
        c["nodes"][0][0]


@pytest.mark.parametrize("topic_codec,sent", [("gzip", "none"), ("snappy", "zstd"),
                                               ("lz4", "none"), ("zstd", "gzip"),
                                               ("uncompressed", "lz4")])
def test_topic_compression_type_recompresses(java, broker, topic_codec, sent):
    """A topic-level compression.type: the Java idempotent producer's batches are stored with
    the topic's codec, keeping producer id and sequences, and read back unchanged."""
    topic = "jz-" + topic_codec
    java.ok("admin", broker.addr, "create-topic", topic, 1, "compression.type=" + topic_codec)
    cfg = java.ok("admin", broker.addr, "describe-configs", "topic", topic)["configs"]
    assert cfg["compression.type"]["value"] == topic_codec
    n = 40
    where = produce(java, broker, topic, sent, n, 1)
    got = java.ok("consume", broker.addr, topic, n, 30000)["records"]
    assert len(got) == n
    for r in got:
        want = expected(where[(r["p"], r["o"])], sent)
        assert (r["k"], r["v"], r["ts"], r["h"]) == (want["k"], want["v"], want["ts"], want["h"])
    seq, pids = 0, set()
    for b in kafkaraw.fetch_all_batches(broker.addr, topic, 0):
        assert b.codec == CODECS["none" if topic_codec == "uncompressed" else topic_codec]
        assert b.base_sequence == seq and b.crc_ok
        seq += b.count
        pids.add(b.producer_id)
    assert seq == n and len(pids) == 1 and min(pids) >= 0
