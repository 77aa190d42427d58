"""The work-queue benchmark behind `make bench-queues` (bench/queues.sh): queue_bench against a
real broker (and a real nats-server when installed) counts exactly what it received and
acknowledged, and the report renders medians and ratios into its marked block, which
bench/report.py keeps. Nothing here measures speed."""
import json
import shutil
import socket
import subprocess
import sys
import time

from pathlib import Path

import pytest
import requests

from conftest import HERALD_BIN, REPO, free_port

QUEUE_BENCH = Path(HERALD_BIN).resolve().parent / "queue_bench"
sys.path.insert(0, str(REPO / "bench"))


def queue_bench(*args, timeout=120):
    if not QUEUE_BENCH.exists():
        pytest.skip("queue_bench is not built (make bench-deps: libnats-dev, librabbitmq-dev)")
    r = subprocess.run([str(QUEUE_BENCH), *args], capture_output=True, timeout=timeout)
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return r.returncode, (json.loads(lines[-1]) if lines else None), r.stderr.decode()


def test_herald_workers_ack_every_record_once(broker):
    addr = broker.http.replace("http://", "")
    rc, res, err = queue_bench("--system", "herald", "--addr", addr, "--workers", "3",
                               "--records", "1234", "--size", "100", "--max-unacked", "7")
    assert rc == 0, err
    assert (res["system"], res["workers"], res["records"], res["size"]) == ("herald", 3, 1234, 100)
    assert (res["acked"], res["redelivered"], res["errors"]) == (1234, 0, 0)
    assert res["secs"] > 0 and res["msgs_per_sec"] == pytest.approx(1234 / res["secs"], rel=0.01)
    t = requests.get(broker.http + "/topics/qbench", timeout=10).json()
    assert sum(p["high_watermark"] for p in t["partitions"]) == 1234
    s = requests.get(broker.http + "/subscriptions/qbench", timeout=10).json()
    assert s["stats"]["backlog"] == 0 and s["stats"]["in_flight"] == 0
    # A second run finds the queue taken and says so.
    rc, res, err = queue_bench("--system", "herald", "--addr", addr, "--records", "10")
    assert rc == 2 and res is None and "cannot create the topic" in err


def test_nats_workers_ack_every_record(tmp_path):
    if not shutil.which("nats-server"):
        pytest.skip("nats-server is not installed (make bench-deps)")
    port = free_port()
    (tmp_path / "nats.conf").write_text(
        'listen: 127.0.0.1:%d\njetstream {\n  store_dir: "%s"\n}\n' % (port, tmp_path / "store"))
    p = subprocess.Popen(["nats-server", "-c", str(tmp_path / "nats.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        rc, res, err = queue_bench("--system", "nats", "--addr", "nats://127.0.0.1:%d" % port,
                                   "--workers", "2", "--records", "500", "--size", "64")
        assert rc == 0, err
        assert (res["system"], res["acked"], res["errors"], res["redelivered"]) == \
            ("nats", 500, 0, 0)
    finally:
        p.terminate()
        p.wait(10)


def test_report_table_ratios_and_kept_blocks(tmp_path):
    import queues_report
    import report
    runs = []
    for rep, (h, r, n) in enumerate([(100000, 20000, 40000), (120000, 30000, 50000),
                                     (90000, 25000, 45000)], 1):
        for sys_, v in (("herald", h), ("rabbitmq", r), ("nats", n)):
            runs.append({"scenario": "queue-w16", "rep": rep, "system": sys_, "cmd": "x",
                         "ok": True, "result": {"msgs_per_sec": v, "acked": 10, "records": 10,
                                                "errors": 0}})
    runs.append({"scenario": "queue-w1", "rep": 1, "system": "nats", "cmd": "x", "ok": False,
                 "why": "exited 1"})
    runs.append({"scenario": "queue-w1", "rep": 1, "system": "herald", "cmd": "x", "ok": True,
                 "result": {"msgs_per_sec": 5000, "acked": 9, "records": 10, "errors": 0}})
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    (tmp_path / "machine.json").write_text(json.dumps({"reps": 3, "records": 10, "size": 1024,
                                                       "max_unacked": 100}))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text("# Benchmarks\n\nold\n\n<!-- http-bench:start -->\nH\n"
                                        "<!-- http-bench:end -->\n")
    subprocess.run([sys.executable, str(REPO / "bench" / "queues_report.py"), str(tmp_path),
                    "--docs", str(docs)], check=True, capture_output=True, timeout=60)
    md = (docs / "benchmarks.md").read_text()
    assert "| 16 | 100k (90.0k–120k) | 25.0k (20.0k–30.0k) | 45.0k (40.0k–50.0k) | 4.0x | 2.2x |" \
        in md
    # Incomplete runs (acked < records) and failures are counted, not averaged in.
    assert "| 1 | – (1 failed) | – | – (1 failed) | – | – |" in md
    assert md.count("<!-- queues-bench:start -->") == 1 and "old" in md and "\nH\n" in md
    # Rerunning replaces the block; bench/report.py keeps both blocks.
    subprocess.run([sys.executable, str(REPO / "bench" / "queues_report.py"), str(tmp_path),
                    "--docs", str(docs)], check=True, capture_output=True, timeout=60)
    assert (docs / "benchmarks.md").read_text() == md
    kept = report.kept_block(str(docs / "benchmarks.md"))
    assert kept.startswith("<!-- http-bench:start -->\nH\n<!-- http-bench:end -->\n")
    assert "<!-- queues-bench:start -->" in kept and kept.rstrip().endswith(queues_report.END)
