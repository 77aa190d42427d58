#!/usr/bin/env python3
"""Turns one bench/http.sh result directory into the "HTTP API" section of docs/benchmarks.md.

Input: runs.jsonl (one line per run: scenario, rep, system, cmd, ok, result) and machine.json.
The section is written to <result_dir>/benchmarks-http.md and, with --docs, between the markers
below in docs/benchmarks.md (appended when they are missing). bench/report.py keeps that block
when it rewrites the rest of the file, so either report can be regenerated alone. Each cell is
the median over the repetitions with (min–max); each ratio divides medians of the same run.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import KEEP_END as END, KEEP_START as START, md_table, ms, num, publish_section  # noqa: E402,E501
READERS = [("ws", "WebSocket (Python websockets)"), ("sse", "SSE (Python, raw socket)"),
           ("kafka", "Kafka consumer (Python confluent-kafka)"),
           ("kafka_c", "Kafka consumer (C librdkafka, herald_bench)")]


def load(out):
    runs = []
    with open(os.path.join(out, "runs.jsonl")) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    try:
        with open(os.path.join(out, "machine.json")) as f:
            machine = json.load(f)
    except (OSError, ValueError):
        machine = {}
    return runs, machine


def good_runs(runs, scenario):
    """Results of the runs of `scenario` that completed; and the reasons of those that did not."""
    good, bad = [], []
    for r in runs:
        if r["scenario"] != scenario:
            continue
        if r["ok"] and r.get("result") is not None:
            good.append(r["result"])
        else:
            bad.append(r.get("why", "no result"))
    return good, bad


def cell(values, fmt):
    if not values:
        return "–"
    s = fmt(statistics.median(values))
    if fmt(min(values)) != fmt(max(values)):
        s += " (%s–%s)" % (fmt(min(values)), fmt(max(values)))
    return s


def med(values):
    return statistics.median(values) if values else None


def produce_section(runs, machine):
    conns = sorted({int(r["scenario"].rsplit("-c", 1)[1]) for r in runs
                    if r["scenario"].startswith(("http-produce-c", "kafka-produce-c"))})
    if not conns:
        return ""
    rows, left_out = [], []
    for c in conns:
        http_all, hbad = good_runs(runs, "http-produce-c%d" % c)
        kafka_all, kbad = good_runs(runs, "kafka-produce-c%d" % c)
        # A run with refused requests or socket errors is not a throughput figure.
        http = [h for h in http_all if h.get("non_2xx", 1) == 0 and h.get("socket_errors", 1) == 0]
        kafka = [k for k in kafka_all if k.get("errors", 1) == 0]
        non2xx = sum(h.get("non_2xx", 0) for h in http_all)
        sockerr = sum(h.get("socket_errors", 0) for h in http_all)
        left_out += ["http-produce-c%d: %s" % (c, w) for w in hbad]
        left_out += ["kafka-produce-c%d: %s" % (c, w) for w in kbad]
        left_out += ["http-produce-c%d: %d non-2xx answers, first: %s" % (
            c, h["non_2xx"], h.get("first_non_2xx", "")[:120]) for h in http_all if h.get("non_2xx")]
        hr = [h["records_per_s"] for h in http]
        kr = [k["records_per_s"] for k in kafka]
        ratio = "%.2f×" % (med(hr) / med(kr)) if hr and kr and med(kr) else "–"
        rows.append([str(c), cell(hr, num), cell([h["mb_per_s"] for h in http], num),
                     cell([h["p50_ms"] for h in http], ms) + " / " + cell([h["p99_ms"] for h in http], ms),
                     "%d / %d" % (non2xx, sockerr), "%d" % (c * machine.get("records_per_request", 100)),
                     cell(kr, num), cell([k["mb_per_s"] for k in kafka], num), ratio])
    text = ("### HTTP produce against Kafka produce\n\n"
            "POST /topics/bench/records with %d records of %d bytes per request, "
            "answered once the records are fsynced (as acks=all), over N keep-alive connections for "
            "%s s (wrk with bench/http_produce.lua); records/s counts the offsets in 2xx answers. "
            "Next to it, in the same run, the same %d-byte records over the Kafka protocol "
            "(herald_bench --mode produce, one producer, acks=all, %s records) with as many records "
            "unacknowledged as the HTTP connections have in flight (N × %d). Each run has a fresh "
            "broker and a topic with one partition.\n\n" % (
                machine.get("records_per_request", 100), machine.get("size", 1024),
                machine.get("wrk_secs", "?"), machine.get("size", 1024),
                "{:,}".format(machine.get("kafka_records", 0)),
                machine.get("records_per_request", 100)))
    text += md_table(["N", "HTTP records/s", "HTTP MB/s", "HTTP request p50 / p99 ms",
                      "non-2xx / socket errors", "Kafka in flight", "Kafka records/s", "Kafka MB/s",
                      "HTTP / Kafka"], rows) + "\n"
    if left_out:
        text += "\nLeft out: " + "; ".join(s.replace("|", "/") for s in left_out) + ".\n"
    return text


def latency_section(runs, machine):
    good, bad = good_runs(runs, "e2e-latency")
    if not good and not bad:
        return ""
    base = [r["kafka"]["p50_ms"] for r in good
            if r.get("kafka", {}).get("errors", 1) == 0 and r["kafka"].get("samples")]
    base99 = [r["kafka"]["p99_ms"] for r in good
              if r.get("kafka", {}).get("errors", 1) == 0 and r["kafka"].get("samples")]
    rows, left_out = [], ["run %s" % w for w in bad]
    for key, label in READERS:
        ok = [r[key] for r in good if key in r and r[key].get("errors", 1) == 0 and r[key].get("samples")]
        for r in good:
            if key in r and r[key].get("errors", 0):
                left_out.append("%s: %s of %s records missing or wrong%s" % (
                    label, r[key].get("errors"), r.get("expected"),
                    (" (%s)" % r[key]["note"]) if r[key].get("note") else ""))
        if not ok and not any(key in r for r in good):
            continue
        p50, p99 = [x["p50_ms"] for x in ok], [x["p99_ms"] for x in ok]
        r50 = "%.2f×" % (med(p50) / med(base)) if p50 and base else "–"
        r99 = "%.2f×" % (med(p99) / med(base99)) if p99 and base99 else "–"
        rows.append([label, cell(p50, ms), cell(p99, ms), cell([x["p999_ms"] for x in ok], ms),
                     cell([x["max_ms"] for x in ok], ms), "%d of %d" % (len(ok), len(good)), r50, r99])
    text = ("### End-to-end latency: Kafka produce to a WebSocket, an SSE and a Kafka reader\n\n"
            "One Kafka producer (herald_bench --mode latency, acks=all, linger.ms=0.5) sends %d "
            "records/s of %d bytes for %s s to a topic with one partition; each value starts with "
            "its *intended* send time. At the same time, in separate processes, a WebSocket client "
            "(`GET /topics/T/ws?from=latest`), an SSE client (`GET /topics/T/events?from=latest`, "
            "`Accept: text/event-stream`) and a Python Kafka consumer (assigned at the high "
            "watermark) read the same records, and herald_bench's own C consumer too; each takes "
            "receipt minus intended send, the first second dropped. Milliseconds; the ratios divide "
            "by the Python Kafka consumer's median, the like-for-like reader of the WebSocket and "
            "SSE clients.\n\n" % (machine.get("latency_rate", 1000), machine.get("size", 1024),
                                 machine.get("latency_secs", "?")))
    text += md_table(["reader", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "complete runs",
                      "p50 ratio", "p99 ratio"], rows) + "\n"
    probes = [r["probe"] for r in runs if r["scenario"] == "e2e-latency" and r.get("probe")]
    if probes:
        text += ("\nMeanwhile an otherwise idle thread (bench/stall_probe.c) slept 1 ms at a time: "
                 "per run, %s of its wake-ups were more than 5 ms late, %s ms late in total, the "
                 "worst by %s ms. No core ran it for that long, so every reader's tail in those "
                 "runs includes such stalls of the machine.\n" % (
                     cell([p["late_5ms"] for p in probes], lambda x: "%d" % x),
                     cell([p["stalled_ms"] for p in probes], lambda x: "%.0f" % x),
                     cell([p["max_late_ms"] for p in probes], lambda x: "%.1f" % x)))
    if left_out:
        text += "\nLeft out: " + "; ".join(s.replace("|", "/") for s in left_out) + ".\n"
    return text


def streams_section(runs, machine):
    kinds = [("sse", "SSE"), ("ws", "WebSocket")]
    per_kind = {k: good_runs(runs, "streams-" + k) for k, _ in kinds}
    if not any(g or b for g, b in per_kind.values()):
        return ""
    mib = lambda x: "%.1f" % (x / 1024)
    kib = lambda x: "%.1f" % x
    rows, left_out = [], []
    for kind, name in kinds:
        good, bad = per_kind[kind]
        left_out += ["streams-%s: %s" % (kind, w) for w in bad]
        res = [r[kind] for r in good if kind in r]
        if not res:
            continue
        full = [x for x in res if x.get("errors", 1) == 0]
        left_out += ["streams-%s: %d of %d opened, %d received the record%s" % (
            kind, x["opened"], x["count"], x["delivered"],
            (" (first error: %s)" % x["first_error"]) if x.get("first_error") else "")
            for x in res if x.get("errors", 1)]
        opened = "%s opened, %s delivered" % (cell([x["opened"] for x in res], lambda v: "%d" % v),
                                              cell([x["delivered"] for x in res], lambda v: "%d" % v))
        rows.append(["%s: idle, before any stream" % name,
                     cell([r["pid_rss_idle_kib"] for r in good], mib), "", ""])
        rows.append(["%s streams open" % name, cell([x["rss_open_kib"] for x in full], mib),
                     cell([x["per_stream_kib"] for x in full], kib), opened])
        rows.append(["… after one record reached every stream",
                     cell([x["rss_delivered_kib"] for x in full], mib),
                     cell([x["per_stream_delivered_kib"] for x in full], kib), ""])
        rows.append(["… after they closed", cell([x["rss_closed_kib"] for x in full], mib), "", ""])
    n = "{:,}".format(machine.get("streams", 1000))
    text = ("### Memory of open streams\n\n"
            "VmRSS of `herald serve` (from /proc/PID/status): idle, then with %s SSE streams open "
            "(`GET /topics/T/events?from=latest` with `Accept: text/event-stream`, raw sockets that "
            "read the response head), after one record was produced and reached every stream, and "
            "after they closed; the same with %s WebSocket streams (`GET /topics/T/ws?from=latest`) "
            "against another fresh broker. Per stream = (RSS open − RSS idle) / streams opened. "
            "Runs where a stream failed to open or to receive the record are left out of the RSS "
            "cells.\n\n" % (n, n))
    text += md_table(["state", "RSS MiB", "per stream KiB", "streams"], rows) + "\n"
    if left_out:
        text += "\nLeft out: " + "; ".join(str(w).replace("|", "/") for w in left_out) + ".\n"
    return text


def render(out):
    runs, machine = load(out)
    L = [START, "## HTTP API\n"]
    L.append("Generated by `make bench-http` (bench/http.sh, then bench/http_report.py; also run by "
             "`make bench`) on %s UTC%s with Herald %s, commit `%s`. Do not edit by hand: rerun it. "
             "Every cell is the **median of %s runs** with the (min–max) range, each against a "
             "freshly started broker; the machine is the one described above (%s × %s).\n" % (
                 machine.get("date_utc", "?"),
                 " (**BENCH_QUICK=1: shrunken smoke run**)" if machine.get("quick") else "",
                 machine.get("herald_version", "?").replace("herald ", ""),
                 machine.get("bench_commit", "?"), machine.get("reps", "?"),
                 machine.get("nproc", "?"), machine.get("cpu", "?")))
    for part in (produce_section(runs, machine), latency_section(runs, machine),
                 streams_section(runs, machine)):
        if part:
            L.append(part)
    L.append("Clients: %s, websockets %s, confluent-kafka/librdkafka %s. Raw results: "
             "`bench/results/%s/` (not committed: runs.jsonl, one JSON line per run, and each "
             "tool's output under raw/).\n" % (machine.get("wrk", "wrk"), machine.get("websockets", "?"),
                                               machine.get("confluent_kafka", "?"),
                                               os.path.basename(out.rstrip("/"))))
    L.append(END)
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result_dir")
    ap.add_argument("--docs", help="docs/ directory whose benchmarks.md gets the section")
    a = ap.parse_args()
    target = publish_section(render(a.result_dir), START, END, a.result_dir,
                             "benchmarks-http.md", a.docs)
    print("report: %s" % target, file=sys.stderr)


if __name__ == "__main__":
    main()
