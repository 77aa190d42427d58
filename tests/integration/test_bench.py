"""The benchmark tools behind `make bench` and docs/benchmarks.md: the load generator
(herald_bench) against a real broker, the stall probe, and the report built from known runs.
Nothing here measures speed; it checks that what the tools count and print is right."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from conftest import HERALD_BIN, REPO

BIN_DIR = Path(HERALD_BIN).resolve().parent
HERALD_BENCH = BIN_DIR / "herald_bench"
STALL_PROBE = BIN_DIR / "stall_probe"


def need(path):
    if not path.exists():
        pytest.skip("%s is not built next to the broker binary" % path.name)


def bench(broker, *args, timeout=120):
    need(HERALD_BENCH)
    r = subprocess.run([str(HERALD_BENCH), "--addr", broker.addr, "--system", "herald",
                        "--timeout", "30", *args], capture_output=True, timeout=timeout)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return r.returncode, (json.loads(lines[-1]) if lines else None), r.stderr.decode()


def read_all(addr, topic, partitions, expect):
    c = Consumer({"bootstrap.servers": addr, "group.id": "bench-check",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < expect and time.monotonic() < deadline:
        for m in c.consume(500, 1.0):
            assert m.error() is None, m.error()
            got.append(m)
    c.close()
    return got


def test_produce_counts_match_what_the_log_holds(broker):
    rc, res, err = bench(broker, "--mode", "produce", "--records", "3000", "--size", "200",
                         "--partitions", "3", "--inflight", "500", "--topic", "bench-p",
                         "-X", "client.id=bench-check", "-X", "batch.num.messages=100")
    assert rc == 0, err
    assert (res["records"], res["errors"], res["bytes"], res["partitions"]) == (3000, 0, 600000, 3)
    assert res["records_per_s"] > 0
    got = read_all(broker.addr, "bench-p", 3, 3000)
    assert len(got) == 3000
    per_part = {}
    for m in got:
        per_part[m.partition()] = per_part.get(m.partition(), 0) + 1
    assert per_part == {0: 1000, 1: 1000, 2: 1000}  # round-robin
    values = {m.value() for m in got}
    assert len(values) == 1 and len(values.pop()) == 200  # one shared payload, sent whole


def test_catchup_and_latency_count_every_record(broker):
    rc, res, err = bench(broker, "--mode", "catchup", "--records", "2000", "--size", "512")
    assert rc == 0, err
    assert (res["deliveries"], res["bytes"], res["errors"]) == (2000, 2000 * 512, 0)
    rc, res, err = bench(broker, "--mode", "latency", "--rate", "1000", "--duration", "1",
                         "--warmup", "0")
    assert rc == 0, err
    assert (res["deliveries"], res["samples"], res["errors"]) == (1000, 1000, 0)
    assert 0 < res["p50_ms"] <= res["p99_ms"] <= res["p999_ms"] <= res["max_ms"]


def test_bad_client_properties_are_refused(broker):
    rc, res, err = bench(broker, "--mode", "produce", "--records", "10",
                         "-X", "no.such.property=1")
    assert rc == 2 and res is None and "no.such.property" in err
    rc, res, err = bench(broker, "--mode", "produce", "--records", "10", "-X", "acks")
    assert rc == 2 and "key=value" in err


def test_help_goes_to_stdout_and_exits_zero():
    need(HERALD_BENCH)
    r = subprocess.run([str(HERALD_BENCH), "--help"], capture_output=True, timeout=30)
    out = r.stdout.decode()
    assert r.returncode == 0 and r.stderr == b""
    assert out.startswith("usage: herald_bench --mode MODE") and "-X key=value" in out
    r = subprocess.run([str(HERALD_BENCH), "--records", "5"], capture_output=True, timeout=30)
    assert r.returncode == 2 and b"--mode is required" in r.stderr


def test_stall_probe_reports_its_wakeups():
    need(STALL_PROBE)
    r = subprocess.run([str(STALL_PROBE), "0.3"], capture_output=True, timeout=30)
    assert r.returncode == 0
    d = json.loads(r.stdout)
    # 1 ms sleeps for 0.3 s: at most 300 wake-ups, and a stall-free machine manages most of them.
    assert 30 <= d["wakeups"] <= 300
    assert 0 <= d["late_5ms"] <= d["late_2ms"] <= d["wakeups"]
    assert d["max_late_ms"] >= 0 and d["stalled_ms"] >= 0
    # Without a duration it runs until SIGTERM and still reports.
    p = subprocess.Popen([str(STALL_PROBE)], stdout=subprocess.PIPE)
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0 and json.loads(out)["wakeups"] >= 10


def test_report_medians_ratios_and_probe_table(tmp_path):
    def run(scenario, rep, system, result, probe=None):
        line = {"scenario": scenario, "rep": rep, "system": system, "cmd": "x", "ok": True,
                "result": dict(result, errors=0)}
        if probe:
            line["probe"] = probe
        return json.dumps(line)

    lines = []
    for rep, (h, n) in enumerate([(100000, 40000), (300000, 60000), (200000, 50000)], 1):
        lines.append(run("produce-1k", rep, "herald", {"records_per_s": h, "mb_per_s": h / 1000}))
        lines.append(run("produce-1k", rep, "nats", {"records_per_s": n, "mb_per_s": n / 1000}))
        lines.append(run("latency", rep, "herald",
                         {"p50_ms": rep, "p99_ms": 2 * rep, "p999_ms": 3 * rep, "max_ms": 4 * rep},
                         {"wakeups": 900, "late_2ms": rep, "late_5ms": rep - 1,
                          "max_late_ms": 2.5 * rep, "stalled_ms": 3.0 * rep}))
    lines.append(json.dumps({"scenario": "catchup", "rep": 1, "system": "nats", "cmd": "x",
                             "ok": False, "why": "driver exited 1 without a result"}))
    # Partition scaling: the franz-go scenarios against their peers and against 1 partition.
    for scenario, system, v in (("partitions-1000-franz", "herald", 150000),
                                ("partitions-1000", "nats", 50000),
                                ("partitions-1000", "redis-always", 40000),
                                ("partitions-1-franz", "herald", 400000),
                                ("partitions-100-franz", "herald", 200000),
                                ("producers-16-franz", "herald", 900000)):
        lines.append(run(scenario, 1, system, {"records_per_s": v, "mb_per_s": v / 1000}))
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "machine.json").write_text(json.dumps({"reps": 3, "inflight": 1000}))
    r = subprocess.run([sys.executable, str(REPO / "bench" / "report.py"), str(tmp_path)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    md = (tmp_path / "benchmarks.md").read_text()
    assert "| herald | 200,000 (100,000–300,000) | 200 (100–300) | 1.00× |" in md
    assert "| nats | 50,000 (40,000–60,000) | 50.0 (40.0–60.0) | 0.25× |" in md
    assert "| herald | 2.00 (1.00–3.00) | 4.00 (2.00–6.00) |" in md
    assert "| herald | 2 (1–3) | 1 (0–2) | 6 (3–9) | 7.5 |" in md
    assert "| catchup | nats | 1 | driver exited 1 without a result |" in md
    # The targets are checked against the same medians.
    assert "| durable produce, 1 KiB: at least 4× NATS JetStream | 4.00× | met |  |" in md
    assert ("| latency at 5,000 records/s: p50 at most 0.5 ms | 2.00 ms | **not met** | with no disk"
            in md)
    assert "| catch-up read: at least 1 GB/s | not measured | – |  |" in md
    assert ("| 1,000 partitions (franz-go): at least 2× NATS JetStream (1,000 streams) | 3.00× | "
            "met |  |") in md
    assert ("| 1,000 partitions (franz-go): at least 3× Redis (appendfsync always, 1,000 keys) | "
            "3.75× | met |  |") in md
    assert ("| 100 partitions: at least 70% of 1 partition (franz-go) | 50% | **not met** | "
            "the client: against a broker that stores nothing") in md
    assert ("| 16 producers over 16 partitions: at least 2× 1 producer over 1 partition "
            "(franz-go) | 2.25× | met |  |") in md
    assert "| 100 partitions: at least 70% of 1 partition (librdkafka) | not measured |" in md
    assert "| 1,000 partitions | 150,000 | 150 |" in md
    assert not os.path.isabs(md.split("Raw results: `")[1].split("`")[0])


def franz_bench_path():
    for d in (BIN_DIR, REPO / "build"):
        if (d / "franz_bench").exists():
            return d / "franz_bench"
    pytest.skip("franz_bench is not built (make bench-franz)")


def test_franz_producer_counts_match_what_the_log_holds(broker):
    """bench/franz (franz-go, many partitions per Produce request): what it reports acknowledged
    is what the log holds, spread round-robin over the partitions."""
    r = subprocess.run([str(franz_bench_path()), "--mode", "produce", "--addr", broker.addr,
                        "--system", "herald", "--records", "3000", "--size", "200",
                        "--partitions", "3", "--producers", "2", "--inflight", "500",
                        "--topic", "bench-franz", "--timeout", "60s"],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    res = json.loads([l for l in r.stdout.decode().splitlines() if l.startswith("{")][-1])
    assert (res["records"], res["errors"], res["bytes"], res["partitions"], res["producers"],
            res["note"]) == (3000, 0, 600000, 3, 2, "franz-go")
    got = read_all(broker.addr, "bench-franz", 3, 3000)
    assert len(got) == 3000
    per_part = {}
    for m in got:
        assert len(m.value()) == 200
        per_part.setdefault(m.partition(), []).append(m.offset())
    assert {p: sorted(v) for p, v in per_part.items()} == {p: list(range(1000)) for p in range(3)}


def test_franz_producer_refuses_an_in_flight_limit_below_one():
    """--requests (Produce requests in flight per producer) must be at least 1; the driver
    checks it with its other options, before it connects anywhere."""
    r = subprocess.run([str(franz_bench_path()), "--mode", "produce", "--addr", "127.0.0.1:9",
                        "--records", "10", "--requests", "0", "--timeout", "10s"],
                       capture_output=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.decode() == "franz_bench: an option is out of range\n"
    assert r.stdout == b""


KAFKA_LIB = Path(os.environ.get("HERALD_COMPAT_DIR", str(REPO / "build" / "compat"))) / "kafka" / "lib"


def need_kafka():
    """Apache Kafka's jars from `make compat-kafka`: under `make test` (which sets
    HERALD_COMPAT_DIR after fetching them) their absence is a failure, elsewhere a skip."""
    if list(KAFKA_LIB.glob("kafka_2.13-*.jar")):
        return
    msg = "Apache Kafka's jars are not in %s: run `make compat-kafka`" % KAFKA_LIB
    if os.environ.get("HERALD_COMPAT_DIR"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


def run_sh(tmp_path, **env):
    out = tmp_path / "out"
    e = dict(os.environ, BUILD=str(BIN_DIR), KAFKA_LIB=str(KAFKA_LIB), BENCH_QUICK="2",
             BENCH_REPS="1", BENCH_FOOTPRINT="0", BENCH_NO_DOCS="1", BENCH_OUT=str(out),
             BENCH_DIR=str(tmp_path))
    e.update(env)
    r = subprocess.run(["bash", str(REPO / "bench" / "run.sh")], env=e, capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    runs = [json.loads(l) for l in (out / "runs.jsonl").read_text().splitlines() if l]
    return out, runs, r.stderr.decode()


def test_run_sh_runs_apache_kafka_durable_and_stops_it(tmp_path):
    """bench/run.sh's Kafka path end to end, in its check mode: one Kafka broker started through
    bench/kafka_server.py with the durable configuration, driven by herald_bench, stopped by pid,
    its data directory removed, and its column in the report."""
    need(HERALD_BENCH)
    need_kafka()
    out, runs, err = run_sh(tmp_path, BENCH_SYSTEMS="kafka-durable",
                            BENCH_SCENARIOS="partitions-10")
    assert [(r["scenario"], r["system"], r["ok"]) for r in runs] == [
        ("partitions-10", "kafka-durable", True)], err
    res = runs[0]["result"]
    assert (res["records"], res["errors"], res["partitions"], res["bytes"]) == (
        3000, 0, 10, 3000 * 1024)
    props = (out / "configs" / "kafka-durable.properties").read_text()
    assert "\nlog.flush.interval.messages=1\n" in props
    assert "process.roles=broker,controller" in props and "-Xmx1g" in props
    log = (out / "logs" / "kafka-durable.log").read_text(errors="replace")
    # Started once, and shut down by SIGTERM (cleanly) before run.sh ended.
    assert log.count("[KafkaRaftServer nodeId=1] Kafka Server started") == 1
    assert "Terminating process due to signal SIGTERM" in log
    assert "[BrokerServer id=1] shut down completed" in log
    assert not list(tmp_path.glob("herald-bench.*"))
    md = (out / "benchmarks.md").read_text()
    assert "| partitions | kafka-durable rec/s |" in md
    assert "**kafka-durable**: Apache Kafka 4." in md and "log.flush.interval.messages=1" in md


def test_run_sh_leaves_kafka_out_without_its_jars(tmp_path):
    out, runs, err = run_sh(tmp_path, BENCH_SYSTEMS="kafka-default", KAFKA_LIB=str(tmp_path / "none"),
                            BENCH_SCENARIOS="partitions-1")
    assert runs == []
    assert "Apache Kafka's jars are not in" in err and "Kafka is left out" in err


def test_report_renders_kafka_beside_herald(tmp_path):
    lines = []
    for rep, (h, kd, kf) in enumerate([(40000, 10000, 60000), (50000, 12000, 80000)], 1):
        for system, v in (("herald", h), ("kafka-durable", kd), ("kafka-default", kf)):
            lines.append(json.dumps({"scenario": "partitions-100", "rep": rep, "system": system,
                                     "cmd": "x", "ok": True,
                                     "result": {"records_per_s": v, "mb_per_s": v / 1000,
                                                "errors": 0}}))
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "machine.json").write_text(json.dumps({"reps": 2, "kafka": "4.4.0",
                                                       "kafka_heap": "1g"}))
    (tmp_path / "footprint.txt").write_text("\n".join([
        "idle_rss_kib herald 4096", "busy_rss_kib herald 20480", "startup_ms herald 10",
        "stripped_bytes herald 1048576", "idle_rss_kib kafka-durable 409600",
        "idle_rss_kib kafka-default 401408", "startup_empty_ms kafka-durable 5000",
        "startup_empty_ms kafka-default 7000", "connections_opened kafka-durable 1000",
        "busy_rss_kib kafka-durable 614400", "startup_ms kafka-durable 8000",
        "install_jars_bytes kafka-durable 31457280", "install_jars_count kafka-durable 30",
        "lib_jars_bytes kafka-durable 52428800", "jre_kib kafka-durable 194560", ""]))
    r = subprocess.run([sys.executable, str(REPO / "bench" / "report.py"), str(tmp_path)],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    md = (tmp_path / "benchmarks.md").read_text()
    assert ("| partitions | herald rec/s | kafka-durable rec/s | kafka-default rec/s | "
            "kafka-durable / herald | kafka-default / herald |") in md
    assert ("| 100 | 45,000 (40,000–50,000) | 11,000 (10,000–12,000) | 70,000 (60,000–80,000) | "
            "0.24× | 1.56× |") in md
    assert "| idle RSS | 4.0 MiB | 396.0 MiB (392.0 MiB–400.0 MiB) | 99× |" in md
    assert ("| RSS with 1,000 partitions and 1000 idle TCP connections | 20.0 MiB | 600.0 MiB | "
            "30× |") in md
    assert "| – | 6.0 s (5.0 s–7.0 s) | – |" in md
    assert "| 10 ms | 8.0 s | 800× |" in md
    assert ("| 1.00 MiB stripped binary | 220 MiB: 30 MiB in the 30 jars it loaded classes from "
            "(50 MiB fetched), 190 MiB Java runtime (Debian's JRE package) | 220× |") in md
    assert "| Apache Kafka (kafka_2.13) | `4.4.0` |" in md
