"""GET /metrics, parsed with the Prometheus client library's own text parser, against known
traffic: records and bytes in and out per topic, consumer-group lag, requests per Kafka API and
per HTTP route, sync latency, connections."""
import os
import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from clients import consume, make_consumer, produce_all
from confluent_kafka import TopicPartition
from conftest import wait_until


def scrape(broker):
    r = requests.get(broker.http + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    return fams


def value(fams, family, sample_name=None, **labels):
    f = fams[family]
    name = sample_name or f.name
    hits = [s.value for s in f.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (family, name, labels, [s for s in f.samples][:10])
    return hits[0]


def test_metrics_match_known_traffic(broker):
    r = requests.post(broker.http + "/topics", json={"name": "m", "partitions": 2}, timeout=10)
    assert r.status_code == 201
    # 5 records over HTTP to partition 0, 7 over Kafka to partition 1.
    r = requests.post(broker.http + "/topics/m/records",
                      json={"records": [{"value": "h%d" % i, "partition": 0} for i in range(5)]},
                      timeout=10)
    assert r.status_code == 200
    reps = produce_all(broker.addr, [{"topic": "m", "partition": 1, "value": b"k" * 100}
                                     for _ in range(7)])
    assert [x["offset"] for x in reps] == list(range(7))
    # A group reads everything and commits 3 of partition 1 and nothing of partition 0... then
    # commits partition 0 fully.
    c = make_consumer(broker.addr, group_id="billing")
    c.assign([TopicPartition("m", 0, 0), TopicPartition("m", 1, 0)])
    got = consume(broker.addr, "m", [0, 1], 12, consumer=c, close=False)
    assert len(got) == 12
    c.commit(offsets=[TopicPartition("m", 0, 5), TopicPartition("m", 1, 3)], asynchronous=False)
    c.close()
    requests.get(broker.http + "/topics/nope", timeout=10)

    fams = scrape(broker)
    assert value(fams, "herald_records_in", "herald_records_in_total", topic="m") == 12
    bytes_in = value(fams, "herald_bytes_in", "herald_bytes_in_total", topic="m")
    assert bytes_in > 7 * 100 + 5 * 2
    assert value(fams, "herald_records_out", "herald_records_out_total", topic="m") >= 12
    assert value(fams, "herald_consumer_group_lag_records", group="billing", topic="m",
                 partition="0") == 0
    assert value(fams, "herald_consumer_group_lag_records", group="billing", topic="m",
                 partition="1") == 4
    lag_s = value(fams, "herald_consumer_group_lag_seconds", group="billing", topic="m",
                  partition="1")
    assert 0 <= lag_s < 120
    assert value(fams, "herald_consumer_group_lag_seconds", group="billing", topic="m",
                 partition="0") == 0
    assert value(fams, "herald_partition_high_watermark", topic="m", partition="0") == 5
    assert value(fams, "herald_partition_high_watermark", topic="m", partition="1") == 7
    assert value(fams, "herald_http_requests", "herald_http_requests_total",
                 route="/topics/{topic}/records", method="POST", code="200") == 1
    assert value(fams, "herald_http_requests", "herald_http_requests_total",
                 route="/topics/{topic}", method="GET", code="404") == 1
    assert value(fams, "herald_kafka_requests", "herald_kafka_requests_total", api="Produce") >= 1
    assert value(fams, "herald_kafka_requests", "herald_kafka_requests_total",
                 api="OffsetCommit") >= 1
    # Histograms: cumulative buckets ending in +Inf == count, and at least one sync per produce.
    f = fams["herald_fsync_duration_seconds"]
    assert f.type == "histogram"
    buckets = [s for s in f.samples if s.name.endswith("_bucket")]
    counts = [s.value for s in buckets]
    assert counts == sorted(counts) and buckets[-1].labels["le"] == "+Inf"
    assert counts[-1] == value(fams, "herald_fsync_duration_seconds",
                               "herald_fsync_duration_seconds_count") >= 2
    h = value(fams, "herald_kafka_request_duration_seconds",
              "herald_kafka_request_duration_seconds_count", api="Produce")
    assert h >= 1
    assert value(fams, "herald_connections", listener="http") >= 1
    assert value(fams, "herald_memory_resident_bytes") > 1 << 20
    start = value(fams, "herald_start_time_seconds")
    assert abs(start - time.time()) < 600


def test_connections_gauge_follows_clients(broker):
    before = value(scrape(broker), "herald_connections", listener="kafka")
    c = make_consumer(broker.addr)
    c.list_topics(timeout=10)
    wait_until(lambda: value(scrape(broker), "herald_connections", listener="kafka") > before,
               10, what="kafka connection counted")
    c.close()
    wait_until(lambda: value(scrape(broker), "herald_connections", listener="kafka") == before,
               10, what="kafka connection released")


def test_threads_carry_their_names(broker):
    """Herald's own threads are named (see docs/architecture.md), so that `top -H`, `ps -L` and
    `perf` tell the flusher, the segment writer and the checkpoint thread apart; the loop thread
    keeps the program's name."""
    pid = broker.proc.pid

    def names():
        got = []
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    got.append(f.read().strip())
            except FileNotFoundError:
                pass  # the thread ended meanwhile
        return sorted(got)

    wait_until(lambda: "hd-flusher" in names(), timeout=10)
    got = names()
    assert "herald" in got, got
    for name in ("hd-flusher", "hd-segwriter", "hd-checkpoint"):
        assert got.count(name) == 1, got


def test_journal_metrics_follow_rounds_checkpoints_and_recovery(broker_factory):
    # Every batch journaled, and checkpoints only when asked for by the interval below.
    b = broker_factory("--journal-direct-bytes", "-1", "--checkpoint-interval-ms", "300")
    fams = scrape(b)
    assert value(fams, "herald_journal_rounds", "herald_journal_rounds_total") == 0
    est = value(fams, "herald_journal_sync_estimate_seconds")
    assert est == 0.00015  # the model's starting point, before any sync was timed
    reps = produce_all(b.addr, [{"topic": "jm", "value": b"v" * 1000} for _ in range(40)],
                       **{"linger.ms": 0, "batch.num.messages": 1})
    assert [r["offset"] for r in reps] == list(range(40))
    fams = scrape(b)
    assert value(fams, "herald_journal_rounds", "herald_journal_rounds_total") >= 1
    journaled = value(fams, "herald_journal_bytes", "herald_journal_bytes_total", path="journal")
    assert journaled >= 40 * 1000
    assert value(fams, "herald_journal_bytes", "herald_journal_bytes_total", path="direct") == 0
    est = value(fams, "herald_journal_sync_estimate_seconds")
    assert 0 < est < 1 and est != 0.00015  # timed from this disk's syncs now
    wait_until(lambda: value(scrape(b), "herald_journal_checkpoints",
                             "herald_journal_checkpoints_total") >= 1, 10, what="a checkpoint")
    fams = scrape(b)
    assert value(fams, "herald_journal_checkpoint_duration_seconds",
                 "herald_journal_checkpoint_duration_seconds_count") >= 1
    assert value(fams, "herald_journal_checkpoint_failures",
                 "herald_journal_checkpoint_failures_total") == 0

    # A crash after more batches: the next start replays them, and says how long it took.
    b.stop()
    b.extra_args = ["--journal-direct-bytes", "-1", "--checkpoint-interval-ms", "3600000"]
    b.start()
    assert value(scrape(b), "herald_journal_recovered_batches") == 0  # a clean stop
    produce_all(b.addr, [{"topic": "jm", "value": b"w" * 1000} for _ in range(25)],
                **{"linger.ms": 0, "batch.num.messages": 1})
    b.kill9()
    b.start()
    fams = scrape(b)
    assert value(fams, "herald_journal_recovered_batches") >= 1
    assert value(fams, "herald_journal_recovery_seconds") > 0
    got = consume(b.addr, "jm", [0], 65)
    assert [m.offset() for m in got] == list(range(65))
