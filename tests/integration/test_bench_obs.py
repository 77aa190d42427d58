"""The observability benchmark's tools behind `make bench-obs` (bench/obs.sh):
bench/obs_tools.py's setup, scrape and report against a real broker. Nothing here measures
speed; it checks that what the tools create, count and print is right."""
import json
import subprocess
import sys

import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO

TOOLS = REPO / "bench" / "obs_tools.py"


def tools(*args):
    r = subprocess.run([sys.executable, str(TOOLS), *args], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def test_setup_creates_partitions_and_lagging_groups_and_scrape_counts_them(broker):
    got = tools("setup", "--http", broker.http, "--kafka", broker.addr, "--topics", "2",
                "--partitions", "5", "--groups", "4")
    assert got == {"topics": 2, "partitions": 10, "groups": 4, "group_partitions": 20}
    text = requests.get(broker.http + "/metrics", timeout=10).text
    lag, secs = {}, {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.labels.get("group"), s.labels.get("topic"), s.labels.get("partition"))
            if s.name == "herald_consumer_group_lag_records":
                lag[key] = s.value
            elif s.name == "herald_consumer_group_lag_seconds":
                secs[key] = s.value
    # Group i commits 0 on every partition of topic i % 2, which holds one record: lag 1.
    want = {("obs-group-%03d" % g, "obs-%03d" % (g % 2), str(p)): 1.0
            for g in range(4) for p in range(5)}
    assert lag == want
    assert set(secs) == set(want) and all(v >= 0 for v in secs.values())
    sc = tools("scrape", "--http", broker.http, "--n", "3")
    assert sc["n"] == 3 and 0 < sc["min_ms"] <= sc["median_ms"] <= sc["max_ms"]
    # The scrapes add their own HTTP request series: a few more than the first GET saw.
    before = sum(1 for l in text.splitlines() if l and not l.startswith("#"))
    assert before <= sc["series"] < before + 100
    assert abs(sc["bytes"] - len(text.encode())) < 4096  # counters move between the two GETs


def test_report_writes_medians_and_the_difference_into_its_block(tmp_path):
    out = tmp_path / "20261206-000000-obs"
    out.mkdir()
    runs = []
    for rep, (on, off) in enumerate([(97000, 100000), (98000, 99000), (90000, 101000)], 1):
        runs.append({"scenario": "produce-obs-on", "rep": rep, "cmd": "", "ok": True,
                     "result": {"records_per_s": on}})
        runs.append({"scenario": "produce-obs-off", "rep": rep, "cmd": "", "ok": True,
                     "result": {"records_per_s": off}})
        runs.append({"scenario": "metrics-scrape", "rep": rep, "cmd": "", "ok": True,
                     "result": {"median_ms": 10.0 * rep, "p90_ms": 12.0 * rep,
                                "bytes": 2048 * 1024, "series": 25000}})
    runs.append({"scenario": "metrics-scrape", "rep": 4, "cmd": "", "ok": False, "why": "x"})
    (out / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    (out / "machine.json").write_text(json.dumps({
        "date_utc": "20261206-000000", "version": "0.1.0", "commit": "abc1234", "reps": 3,
        "quick": False, "records": 1000000, "topics": 10, "partitions": 100, "groups": 100,
        "scrapes": 21}))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "benchmarks.md").write_text("# Benchmarks\n\nbefore\n\n<!-- obs-bench:start -->\nold"
                                        "\n<!-- obs-bench:end -->\n\nafter\n")
    tools("report", str(out), "--docs", str(docs))
    doc = (docs / "benchmarks.md").read_text()
    assert doc.startswith("# Benchmarks\n\nbefore\n\n<!-- obs-bench:start -->\n")
    assert doc.endswith("<!-- obs-bench:end -->\n\nafter\n") and "\nold\n" not in doc
    assert "| on (catalog + scrapes) | 97,000 (90,000–98,000) |" in doc
    assert "| off | 100,000 (99,000–101,000) |" in doc
    assert "On is **3.0%** slower than off (goal: within 3%).\n" in doc  # ranges apart
    assert "| GET /metrics | 20.0 (10.0–30.0) | 24.0 (12.0–36.0) | 2,048 KiB | 25,000 |" in doc
    assert "1 run(s) failed" in doc
    assert "with 1000 partitions (10 topics of 100)" in doc


def test_script_parses_and_make_runs_it():
    r = subprocess.run(["bash", "-n", str(REPO / "bench" / "obs.sh")], capture_output=True)
    assert r.returncode == 0, r.stderr
    mk = (REPO / "Makefile").read_text()
    assert "bench/obs.sh" in mk.split("\nbench:")[1].split("\n\n")[0]
    assert "\nbench-obs:" in mk
