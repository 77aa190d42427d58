"""The validation benchmark's tools behind `make bench-registry` (bench/registry.sh):
herald_bench --values, bench/registry_tools.py's records and setup against a real broker, and
bench/registry_report.py. Nothing here measures speed; it checks that what the tools send, count
and print is right."""

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from conftest import HERALD_BIN, REPO

BIN_DIR = Path(HERALD_BIN).resolve().parent
HERALD_BENCH = BIN_DIR / "herald_bench"
TOOLS = REPO / "bench" / "registry_tools.py"

sys.path.insert(0, str(REPO / "bench"))
import registry_tools  # noqa: E402


def tools(*args):
    r = subprocess.run([sys.executable, str(TOOLS), *args], capture_output=True, timeout=120)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return r.returncode, (json.loads(lines[-1]) if lines else None), r.stderr.decode()


def bench(broker, *args):
    if not HERALD_BENCH.exists():
        pytest.skip("herald_bench is not built next to the broker binary")
    r = subprocess.run([str(HERALD_BENCH), "--mode", "produce", "--addr", broker.addr,
                        "--system", "herald", "--timeout", "30", *args],
                       capture_output=True, timeout=120)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return r.returncode, (json.loads(lines[-1]) if lines else None), r.stderr.decode()


def read_values(path):
    data, out, at = Path(path).read_bytes(), [], 0
    while at < len(data):
        (n,) = struct.unpack(">I", data[at:at + 4])
        out.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return out


def log_values(addr, topic, expect):
    c = Consumer({"bootstrap.servers": addr, "group.id": "bench-registry-check",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.monotonic() + 30
    while len(got) < expect and time.monotonic() < deadline:
        for m in c.consume(500, 0.5):
            assert m.error() is None, m.error()
            got.append(m.value())
    # Nothing beyond what was expected.
    for m in c.consume(500, 0.5):
        got.append(m.value())
    c.close()
    return got


def hwm(broker, topic):
    r = requests.get("%s/topics/%s" % (broker.http, topic), timeout=10)
    assert r.status_code == 200, r.text
    return sum(p["high_watermark"] for p in r.json()["partitions"])


def test_records_are_wire_format_1kib_orders_the_schema_accepts():
    vals = registry_tools.values("json", 7, 60, 14, 1024)
    assert len(set(vals)) == 60
    for v in vals:
        assert len(v) == 1024 and v[:5] == b"\0\0\0\0\7"
        rec = json.loads(v[5:])
        assert 15 <= len(rec) <= 20 and 1 <= len(rec["items"]) <= 4
    avro = registry_tools.values("avro", 7, 60, 14, 1024)
    assert all(a[:5] == b"\0\0\0\0\7" and 300 < len(a) < 1024 for a in avro)
    # The Avro value is the same order: its first field is the JSON record's order id.
    first = json.loads(vals[0][5:])
    assert avro[0][6:6 + 14] == first["order_id"].encode() and avro[0][5] == 28


def test_values_land_in_the_log_as_sent_and_counted(broker, tmp_path):
    values = tmp_path / "v.bin"
    rc, setup, err = tools("prepare", "--http", broker.http, "--topic", "orders", "--format",
                           "json", "--validate", "1", "--count", "50", "--out", str(values))
    assert rc == 0, err
    # The setup proved that the topic refuses a record breaking the schema, and wrote nothing.
    assert (setup["bad_record_status"], setup["count"], setup["mean_bytes"]) == (422, 50, 1024)
    sid = setup["schema_id"]
    r = requests.get("%s/subjects/orders-value/versions/latest" % broker.http, timeout=10)
    assert r.status_code == 200 and r.json()["id"] == sid
    assert json.loads(r.json()["schema"]) == registry_tools.JSON_SCHEMA
    sent = read_values(values)
    assert len(sent) == 50 and all(v[:5] == b"\0" + struct.pack(">I", sid) for v in sent)

    rc, res, err = bench(broker, "--topic", "orders", "--values", str(values), "--records", "120",
                         "--inflight", "16", "-X", "linger.ms=5")
    assert rc == 0, err
    assert (res["records"], res["errors"], res["size"], res["bytes"]) == (120, 0, 1024, 120 * 1024)
    assert hwm(broker, "orders") == 120
    assert log_values(broker.addr, "orders", 120) == [sent[i % 50] for i in range(120)]


def test_a_bad_value_fails_its_batch_and_the_counts_say_so(broker, tmp_path):
    values = tmp_path / "v.bin"
    rc, setup, err = tools("prepare", "--http", broker.http, "--topic", "orders", "--format",
                           "json", "--validate", "1", "--count", "20", "--out", str(values))
    assert rc == 0, err
    good = read_values(values)
    bad = json.loads(good[3][5:])
    bad["priority"] = 9  # over the schema's maximum
    mixed = good[:10] + [good[3][:5] + json.dumps(bad).encode()]
    mixed_file = tmp_path / "mixed.bin"
    mixed_file.write_bytes(b"".join(struct.pack(">I", len(v)) + v for v in mixed))
    # One record in flight at a time: each batch holds one record, so exactly the bad ones fail.
    rc, res, err = bench(broker, "--topic", "orders", "--values", str(mixed_file), "--records",
                         "33", "--inflight", "1")
    assert rc == 1
    assert (res["records"], res["errors"], res["bytes"]) == (30, 3, 30 * 1024)
    assert "failed" in err
    assert hwm(broker, "orders") == 30
    assert log_values(broker.addr, "orders", 30) == [mixed[i % 11] for i in range(33) if i % 11 != 10]
    assert "refused by schema validation: record 0: value does not match schema" in \
        broker.log_text()
    assert "keyword maximum" in broker.log_text()


def test_avro_records_pass_the_brokers_avro_validation(broker, tmp_path):
    values = tmp_path / "a.bin"
    rc, setup, err = tools("prepare", "--http", broker.http, "--topic", "orders-avro", "--format",
                           "avro", "--validate", "1", "--count", "40", "--out", str(values))
    assert rc == 0, err
    assert setup["bad_record_status"] == 422 and setup["count"] == 40
    sent = read_values(values)
    rc, res, err = bench(broker, "--topic", "orders-avro", "--values", str(values), "--records",
                         "80", "--inflight", "8")
    assert rc == 0, err
    assert (res["records"], res["errors"]) == (80, 0)
    assert res["bytes"] == 2 * sum(len(v) for v in sent)
    assert res["size"] == round(sum(len(v) for v in sent) / 40)
    assert log_values(broker.addr, "orders-avro", 80) == sent + sent


def test_unvalidated_topic_takes_anything(broker, tmp_path):
    values = tmp_path / "v.bin"
    rc, setup, err = tools("prepare", "--http", broker.http, "--topic", "plain", "--format",
                           "json", "--validate", "0", "--count", "5", "--out", str(values))
    assert rc == 0, err
    assert "bad_record_status" not in setup and setup["validate"] is False
    r = requests.get("%s/topics/plain" % broker.http, timeout=10)
    assert r.json()["config"]["confluent.value.schema.validation"] in (False, "false")
    rc, res, err = bench(broker, "--topic", "plain", "--values", str(values), "--records", "10")
    assert rc == 0 and res["records"] == 10 and hwm(broker, "plain") == 10


def test_values_option_refuses_bad_files_and_other_modes(tmp_path):
    if not HERALD_BENCH.exists():
        pytest.skip("herald_bench is not built next to the broker binary")
    cases = [(b"\0\0\0\x05ab", "longer than"), (b"\0\0", "truncated"), (b"", "holds no value")]
    for data, msg in cases:
        f = tmp_path / "bad.bin"
        f.write_bytes(data)
        r = subprocess.run([str(HERALD_BENCH), "--mode", "produce", "--addr", "mock",
                            "--values", str(f)], capture_output=True, timeout=30)
        assert r.returncode == 2 and msg in r.stderr.decode(), (data, r.stderr)
    r = subprocess.run([str(HERALD_BENCH), "--mode", "latency", "--addr", "mock", "--values",
                        str(f)], capture_output=True, timeout=30)
    assert r.returncode == 2 and "produce mode only" in r.stderr.decode()


def test_report_table_ratio_and_the_docs_blocks(tmp_path):
    out, docs = tmp_path / "res", tmp_path / "docs"
    out.mkdir()
    docs.mkdir()
    lines = []

    def run(scenario, rep, rps, size, **extra):
        res = {"records_per_s": rps, "mb_per_s": rps * size / 1e6, "errors": 0, "size": size,
               "records": 1000, "high_watermark": 1000}
        res.update(extra)
        lines.append({"scenario": scenario, "rep": rep, "system": "herald", "cmd": "hb",
                      "ok": True, "result": res})

    for rep, (jv, jp, av, ap) in enumerate([(70000, 100000, 90000, 100000),
                                            (80000, 100000, 95000, 110000),
                                            (90000, 120000, 99000, 120000)], 1):
        run("json-validated", rep, jv, 1024)
        run("json-plain", rep, jp, 1024)
        run("avro-validated", rep, av, 516)
        run("avro-plain", rep, ap, 516)
        run("json-deep-validated", rep, jv * 2, 1024)
        run("json-deep-plain", rep, 200000, 1024)
    run("json-validated", 4, 1, 1024, errors=5)
    run("json-plain", 4, 1, 1024, high_watermark=999)
    lines.append({"scenario": "avro-plain", "rep": 4, "system": "herald", "cmd": "", "ok": False,
                  "why": "server did not start"})
    (out / "runs.jsonl").write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    (out / "machine.json").write_text(json.dumps({"reps": 3, "records": 1000000,
                                                  "records_slow": 200000, "distinct": 1000,
                                                  "inflight": 1000, "deep_inflight": 10000}))
    (docs / "benchmarks.md").write_text("# Benchmarks\n\nolder text\n")
    report = [sys.executable, str(REPO / "bench" / "registry_report.py"), str(out), "--docs",
              str(docs)]
    r = subprocess.run(report, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert "json validated 80000 records/s, unvalidated 100000, ratio 0.80" in r.stderr.decode()
    md = (docs / "benchmarks.md").read_text()
    assert md.startswith("# Benchmarks\n\nolder text\n\n<!-- registry-bench:start -->\n"
                         "## Schema validation on produce")
    assert md.rstrip().endswith("<!-- registry-bench:end -->")
    # Ratios of medians, and the median (range) of each repetition's own ratio.
    assert ("| JSON Schema (draft-07) | 1024 | 80,000 (70,000–90,000) | 81.9 (71.7–92.2) "
            "| 100,000 (100,000–120,000) | 102 (102–123) | 0.80 | 20 % | 0.75 (0.70–0.80) |") in md
    assert "| Avro | 516 | 95,000 (90,000–99,000) |" in md
    # The deep-pipeline row: its own ratio; the goal is judged on the first row.
    assert ("| JSON Schema, deep pipeline | 1024 | 160,000 (140,000–180,000) | 164 (143–184) "
            "| 200,000 | 205 | 0.80 | 20 % | 0.80 (0.70–0.90) |") in md
    assert "at most 1,000 unacknowledged (10,000 in the deep-pipeline row" in md
    assert "json-deep validated 160000 records/s, unvalidated 200000, ratio 0.80" in (
        r.stderr.decode())
    assert "| 0.86 | 14 % | 0.86 (0.82–0.90) |" in md
    assert "ranges overlap" not in md
    assert "(cost under 25 %): **met** (cost 20 %)" in md
    assert "json-validated rep 4: 5 records failed" in md
    assert "json-plain rep 4: 1000 records acknowledged, the log holds 999" in md
    assert "avro-plain rep 4: server did not start" in md
    assert "1,000,000 records per run (200,000 for validated JSON" in md
    # A format whose validated and unvalidated ranges overlap is said to be within the noise.
    lines.append({"scenario": "avro-validated", "rep": 5, "system": "herald", "cmd": "hb",
                  "ok": True, "result": {"records_per_s": 130000, "mb_per_s": 1, "errors": 0,
                                         "size": 516, "records": 9, "high_watermark": 9}})
    (out / "runs.jsonl").write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    subprocess.run(report, check=True, capture_output=True, timeout=60)
    noisy = (docs / "benchmarks.md").read_text()
    assert "For Avro the validated and the unvalidated runs' ranges overlap" in noisy
    assert "| 0.86 (0.82–0.90) |" in noisy  # rep 5 has no unvalidated run to pair with
    (out / "runs.jsonl").write_text("\n".join(json.dumps(l) for l in lines[:-1]) + "\n")
    subprocess.run(report, check=True, capture_output=True, timeout=60)
    # Regenerating replaces the block; the HTTP report and the main report keep it.
    subprocess.run(report, check=True, capture_output=True, timeout=60)
    assert (docs / "benchmarks.md").read_text() == md
    http = tmp_path / "http"
    http.mkdir()
    (http / "runs.jsonl").write_text(json.dumps(
        {"scenario": "kafka-produce-c4", "rep": 1, "system": "kafka", "cmd": "hb", "ok": True,
         "result": {"records_per_s": 5, "mb_per_s": 1, "errors": 0}}) + "\n")
    subprocess.run([sys.executable, str(REPO / "bench" / "http_report.py"), str(http), "--docs",
                    str(docs)], check=True, capture_output=True, timeout=60)
    main = tmp_path / "main"
    main.mkdir()
    (main / "runs.jsonl").write_text(json.dumps(
        {"scenario": "produce-1k", "rep": 1, "system": "herald", "cmd": "x", "ok": True,
         "result": {"records_per_s": 1000, "mb_per_s": 1, "errors": 0}}) + "\n")
    r = subprocess.run([sys.executable, str(REPO / "bench" / "report.py"), str(main), "--docs",
                        str(docs)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    md2 = (docs / "benchmarks.md").read_text()
    assert "older text" not in md2 and "## Machine" in md2
    block = md[md.index("<!-- registry-bench:start -->"):].rstrip()
    assert md2.count("<!-- registry-bench:start -->") == 1 and block in md2
    assert md2.count("<!-- http-bench:start -->") == 1
    assert md2.index("<!-- registry-bench:start -->") < md2.index("<!-- http-bench:start -->")
