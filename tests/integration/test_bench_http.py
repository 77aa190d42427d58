"""The HTTP benchmark tools behind `make bench-http` (bench/http.sh): the wrk script, the latency
and stream drivers of bench/http_tools.py against a real broker, and the report. Nothing here
measures speed; it checks that what the tools count and print is right."""

import json
import shutil
import subprocess
import sys
import time

from pathlib import Path

import pytest
import requests

from conftest import HERALD_BIN, REPO

BIN_DIR = Path(HERALD_BIN).resolve().parent
HERALD_BENCH = BIN_DIR / "herald_bench"
TOOLS = REPO / "bench" / "http_tools.py"
LUA = REPO / "bench" / "http_produce.lua"


def wrk(url, *args, conns=1, secs=2):
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed (make bench-deps)")
    r = subprocess.run(["wrk", "-t", str(conns), "-c", str(conns), "-d", "%ds" % secs,
                        "-s", str(LUA), url, "--", *args], capture_output=True, timeout=60)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    assert r.returncode == 0 and lines, r.stdout.decode() + r.stderr.decode()
    return json.loads(lines[-1])


def tools(*args, timeout=120):
    r = subprocess.run([sys.executable, str(TOOLS), *args], capture_output=True, timeout=timeout)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return r.returncode, (json.loads(lines[-1]) if lines else None), r.stderr.decode()


def hwm(broker, topic):
    r = requests.get("%s/topics/%s" % (broker.http, topic), timeout=10)
    assert r.status_code == 200, r.text
    return sum(p["high_watermark"] for p in r.json()["partitions"])


def test_wrk_script_counts_exactly_what_the_topic_holds(broker):
    rc, topic, err = tools("topic", "--http", broker.http, "--topic", "bench", "--partitions", "2")
    assert rc == 0, err
    assert len(topic["partitions"]) == 2
    # Two connections, one per thread, each stopping after 3 answers: nothing is left in flight,
    # so the topic holds exactly the acknowledged records.
    res = wrk(broker.http + "/topics/bench/records", "10", "300", "3", conns=2)
    assert (res["responses"], res["ok"], res["non_2xx"], res["socket_errors"]) == (6, 6, 0, 0)
    assert res["records_acked"] == 60 and res["records_per_request"] == 10
    assert res["value_size"] == 300
    assert hwm(broker, "bench") == 60
    assert res["secs"] > 0 and res["records_per_s"] == pytest.approx(60 / res["secs"], rel=0.01)
    # What was stored is the script's body: keys k0..k9 and 300-byte values.
    keys = []
    for p in (0, 1):
        r = requests.get("%s/topics/bench/records?partition=%d&offset=0&limit=100" %
                         (broker.http, p), timeout=10)
        assert r.status_code == 200, r.text
        for rec in r.json()["records"]:
            assert rec["value"] == "v" * 300
            keys.append(rec["key"])
    assert sorted(keys) == sorted(["k%d" % i for i in range(10)] * 6)


def test_wrk_script_reports_refused_requests(broker):
    res = wrk(broker.http + "/topics/missing/records", "5", "10", "4", conns=1, secs=1)
    assert (res["ok"], res["non_2xx"], res["records_acked"]) == (0, 4, 0)
    assert res["first_non_2xx"].startswith("404 ") and "missing" in res["first_non_2xx"]


def test_latency_driver_every_reader_gets_every_record(broker):
    if not HERALD_BENCH.exists():
        pytest.skip("herald_bench is not built next to the broker binary")
    rc, res, err = tools("latency", "--http", broker.http, "--kafka", broker.addr,
                         "--herald-bench", str(HERALD_BENCH), "--topic", "lat", "--rate", "200",
                         "--duration", "1", "--warmup", "0.5", "--size", "256", timeout=180)
    assert res is not None, err
    assert res["expected"] == 200
    for reader in ("ws", "sse", "kafka"):
        r = res[reader]
        assert (r["client"], r["received"], r["distinct"], r["unstamped"], r["errors"]) == \
            (reader, 200, 200, 0, 0), (reader, r)
        # The first half second is dropped: the samples are the records stamped after it.
        assert 80 <= r["samples"] <= 120
        assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["p999_ms"] <= r["max_ms"] < 10000
    assert (res["kafka_c"]["deliveries"], res["kafka_c"]["errors"]) == (200, 0)
    assert res["errors"] == 0 and rc == 0
    assert hwm(broker, "lat") == 200


def test_streams_driver_opens_feeds_and_closes_every_stream(broker):
    rc, res, err = tools("streams", "--http", broker.http, "--pid", str(broker.proc.pid),
                         "--topic", "st", "--count", "20", "--settle", "0.2")
    assert res is not None, err
    assert res["pid_rss_idle_kib"] > 0
    for kind in ("sse", "ws"):
        r = res[kind]
        assert (r["opened"], r["delivered"], r["first_error"], r["probe_status"], r["errors"]) == \
            (20, 20, "", 200, 0), (kind, r)
        assert r["rss_open_kib"] > 0 and r["rss_closed_kib"] > 0
        assert r["per_stream_kib"] == pytest.approx(
            (r["rss_open_kib"] - r["rss_before_kib"]) / 20)
    assert rc == 0
    assert hwm(broker, "st") == 2  # one probe record per kind


def test_report_tables_and_the_docs_block(tmp_path):
    out, docs = tmp_path / "res", tmp_path / "docs"
    out.mkdir()
    docs.mkdir()
    lines = []
    for rep, (h, k) in enumerate([(50000, 100000), (60000, 150000), (70000, 200000)], 1):
        lines.append({"scenario": "http-produce-c4", "rep": rep, "system": "http", "cmd": "wrk",
                      "ok": True, "result": {"records_per_s": h, "mb_per_s": h / 1000, "non_2xx": 0,
                                             "socket_errors": 0, "p50_ms": rep, "p99_ms": 2 * rep}})
        lines.append({"scenario": "kafka-produce-c4", "rep": rep, "system": "kafka", "cmd": "hb",
                      "ok": True, "result": {"records_per_s": k, "mb_per_s": k / 1000, "errors": 0}})
        reader = lambda p50: {"p50_ms": p50, "p99_ms": 2 * p50, "p999_ms": 3 * p50,
                              "max_ms": 4 * p50, "errors": 0, "samples": 900}
        lines.append({"scenario": "e2e-latency", "rep": rep, "system": "all", "cmd": "x", "ok": True,
                      "result": {"expected": 1000, "ws": reader(2.0 * rep), "sse": reader(3.0 * rep),
                                 "kafka": reader(1.0 * rep), "kafka_c": reader(1.0 * rep)},
                      "probe": {"late_5ms": rep, "stalled_ms": 10.0 * rep, "max_late_ms": 6.0 * rep,
                                "wakeups": 900, "late_2ms": rep}})
        kind = lambda base: {"opened": 1000, "delivered": 1000, "errors": 0, "count": 1000,
                             "rss_before_kib": 4096, "rss_open_kib": base, "rss_delivered_kib": base,
                             "rss_closed_kib": 5000, "per_stream_kib": (base - 4096) / 1000,
                             "per_stream_delivered_kib": (base - 4096) / 1000}
        for k, step in (("sse", 8000), ("ws", 9000)):
            lines.append({"scenario": "streams-" + k, "rep": rep, "system": "herald", "cmd": "x",
                          "ok": True, "result": {"pid_rss_idle_kib": 4096,
                                                 k: kind(4096 + step * rep)}})
    lines.append({"scenario": "streams-ws", "rep": 4, "system": "herald", "cmd": "x", "ok": True,
                  "result": {"pid_rss_idle_kib": 4096,
                             "ws": dict(kind(0), opened=10, delivered=9, errors=991,
                                        first_error="ConnectionResetError")}})
    # One HTTP run with refused requests is left out and said so.
    lines.append({"scenario": "http-produce-c4", "rep": 4, "system": "http", "cmd": "wrk", "ok": True,
                  "result": {"records_per_s": 1, "mb_per_s": 1, "non_2xx": 7, "socket_errors": 0,
                             "first_non_2xx": "413 too big", "p50_ms": 1, "p99_ms": 1}})
    (out / "runs.jsonl").write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    (out / "machine.json").write_text(json.dumps({"reps": 3, "records_per_request": 100,
                                                  "size": 1024, "streams": 1000}))
    (docs / "benchmarks.md").write_text("# Benchmarks\n\nolder text\n")
    r = subprocess.run([sys.executable, str(REPO / "bench" / "http_report.py"), str(out),
                        "--docs", str(docs)], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    md = (docs / "benchmarks.md").read_text()
    assert md.startswith("# Benchmarks\n\nolder text\n\n<!-- http-bench:start -->\n## HTTP API")
    assert md.rstrip().endswith("<!-- http-bench:end -->")
    assert ("| 4 | 60,000 (50,000–70,000) | 60.0 (50.0–70.0) | 2.00 (1.00–3.00) / 4.00 (2.00–6.00) "
            "| 7 / 0 | 400 | 150,000 (100,000–200,000) | 150 (100–200) | 0.40× |") in md
    assert "http-produce-c4: 7 non-2xx answers, first: 413 too big" in md
    assert "| WebSocket (Python websockets) | 4.00 (2.00–6.00) | 8.00 (4.00–12.0) |" in md
    assert "| 3 of 3 | 2.00× | 2.00× |" in md
    assert ("per run, 2 (1–3) of its wake-ups were more than 5 ms late, 20 (10–30) ms late in "
            "total, the worst by 12.0 (6.0–18.0) ms") in md
    assert "| SSE: idle, before any stream | 4.0 |  |  |" in md  # no range when all agree
    assert ("| SSE streams open | 19.6 (11.8–27.4) | 16.0 (8.0–24.0) | 1000 opened, 1000 delivered |"
            in md)
    assert "| WebSocket streams open | 21.6 (12.8–30.4) | 18.0 (9.0–27.0) |" in md
    assert ("streams-ws: 10 of 1000 opened, 9 received the record (first error: "
            "ConnectionResetError)") in md
    assert "| … after they closed | 4.9 |  |  |" in md
    # Regenerating replaces the block instead of adding a second one.
    subprocess.run([sys.executable, str(REPO / "bench" / "http_report.py"), str(out), "--docs",
                    str(docs)], check=True, capture_output=True, timeout=60)
    assert (docs / "benchmarks.md").read_text() == md
    # bench/report.py rewrites the rest of the file and keeps the block.
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
    block = md[md.index("<!-- http-bench:start -->"):]
    assert md2.count("<!-- http-bench:start -->") == 1 and md2.rstrip().endswith(block.rstrip())
