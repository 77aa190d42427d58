#!/usr/bin/env python3
"""Aggregates one bench/run.sh result directory into docs/benchmarks.md and docs/bench/*.png.

The blocks of docs/benchmarks.md between <!-- http-bench:start --> and <!-- http-bench:end -->
(bench/http_report.py's), between <!-- registry-bench:start --> and <!-- registry-bench:end -->
(bench/registry_report.py's), between <!-- queues-bench:start --> and <!-- queues-bench:end -->
(bench/queues_report.py's) and between <!-- obs-bench:start --> and <!-- obs-bench:end -->
(bench/obs_tools.py report's) are kept as they are.

Input (written by run.sh): runs.jsonl (one line per run: scenario, rep, system, cmd, ok, result),
machine.json, disk.json, footprint.txt, configs/. Each table cell is the median over the
repetitions with the minimum and maximum; each ratio is a peer's median divided by Herald's median
from the same result directory. Runs that failed or reported errors are left out and counted.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

SYSTEMS = ["herald", "herald-journal", "herald-alljournal", "herald-nojournal", "herald-base",
           "herald-nosync", "nats", "redis-always", "redis-everysec", "kafka-durable", "kafka-default"]
KAFKA_SYSTEMS = ["kafka-durable", "kafka-default"]
THROUGHPUT = ["produce-1k", "produce-100"]
PARTITIONS = [1, 10, 100, 1000]
PRODUCERS = [1, 4, 16]
QUANTILE_PLOT_MAX = 0.9999


def load(out):
    runs = []
    with open(os.path.join(out, "runs.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(json.loads(line))

    def opt(name, default):
        try:
            with open(os.path.join(out, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return default

    footprint = {}
    try:
        with open(os.path.join(out, "footprint.txt")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    footprint.setdefault((parts[0], parts[1]), []).append(float(parts[2]))
    except OSError:
        pass
    configs = {}
    cdir = os.path.join(out, "configs")
    if os.path.isdir(cdir):
        for name in sorted(os.listdir(cdir)):
            with open(os.path.join(cdir, name)) as f:
                configs[name] = f.read()
    return runs, opt("machine.json", {}), opt("disk.json", {}), footprint, configs


class Table:
    """Groups good results by (scenario, system) and summarises a metric."""

    def __init__(self, runs):
        self.good = {}
        self.bad = {}
        self.cmds = {}
        self.probes = {}
        for r in runs:
            key = (r["scenario"], r["system"])
            if r.get("cmd"):
                self.cmds.setdefault(r["scenario"], {})[r["system"]] = r["cmd"]
            res = r.get("result")
            if r["ok"] and res and res.get("errors", 0) == 0:
                self.good.setdefault(key, []).append(res)
                if r.get("probe"):
                    self.probes.setdefault(key, []).append(r["probe"])
            else:
                why = r.get("why") or (res or {}).get("note") or "errors=%s" % (res or {}).get("errors")
                self.bad.setdefault(key, []).append(why)
        self.systems = [s for s in SYSTEMS if any(k[1] == s for k in list(self.good) + list(self.bad))]

    def values(self, scenario, system, metric):
        return [r[metric] for r in self.good.get((scenario, system), [])]

    def median(self, scenario, system, metric):
        v = self.values(scenario, system, metric)
        return statistics.median(v) if v else None

    def cell(self, scenario, system, metric, fmt):
        v = self.values(scenario, system, metric)
        if not v:
            n = len(self.bad.get((scenario, system), []))
            return "failed (%d)" % n if n else "–"
        s = fmt(statistics.median(v))
        if len(v) > 1:
            s += " (%s–%s)" % (fmt(min(v)), fmt(max(v)))
        nbad = len(self.bad.get((scenario, system), []))
        if nbad:
            s += " [%d failed]" % nbad
        return s

    def ratio(self, scenario, system, metric):
        h = self.median(scenario, "herald", metric)
        p = self.median(scenario, system, metric)
        if system == "herald":
            return "1.00×" if h else "–"
        if not h or p is None:
            return "n/a"
        return "%.2f×" % (p / h)


def num(x):
    if x >= 100:
        return "{:,.0f}".format(x)
    if x >= 10:
        return "%.1f" % x
    return "%.2f" % x


def ms(x):
    return "%.1f" % x if x >= 10 else "%.2f" % x


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def quantile_medians(t, system):
    """Median over repetitions of each latency quantile, as [(q, ms)]."""
    per_q = {}
    for res in t.good.get(("latency", system), []):
        for q, v in res.get("quantiles_ms", []):
            per_q.setdefault(q, []).append(v)
    return [(q, statistics.median(v)) for q, v in sorted(per_q.items())]


def targets_section(t, disk, footprint):
    """Herald's targets, each checked against this run's medians."""
    rows = []

    def check(target, v, fmtf, ok, bound=""):
        """One row: v (None when not measured), shown with fmtf and judged with ok(v); a missed
        target also shows `bound`, what was measured to limit it (docs/performance.md)."""
        missed = v is not None and not ok(v)
        rows.append([target, "not measured" if v is None else fmtf(v),
                     "–" if v is None else ("**not met**" if missed else "met"),
                     bound if missed else ""])

    def ratio(scenario, peer, metric="records_per_s"):
        h, p = t.median(scenario, "herald", metric), t.median(scenario, peer, metric)
        return h / p if h is not None and p else None

    def fp(key):
        v = footprint.get((key, "herald"))
        return statistics.median(v) if v else None

    times = lambda x: "%.2f×" % x
    mib = lambda x: "%.1f MiB" % (x / 1024)
    refill = ("the records in flight fill about one 1 MB request per round: the client refills "
              "while the disk idles, and the disk syncs while the client waits")
    check("durable produce, 1 KiB: at least 4× NATS JetStream", ratio("produce-1k", "nats"), times,
          lambda x: x >= 4, refill)
    check("durable produce, 1 KiB: at least 10× Redis (appendfsync always)",
          ratio("produce-1k", "redis-always"), times, lambda x: x >= 10)
    h, dd = t.median("produce-1k", "herald", "mb_per_s"), disk.get("seq_write_mb_per_s")
    check("durable produce, 1 KiB: at least 70% of the disk's sequential write bandwidth",
          h / dd if h is not None and dd else None,
          lambda x: "%.0f%% (%.0f of %.0f MB/s)" % (100 * x, h, dd), lambda x: x >= 0.7, refill)
    for metric, limit, bound in (
            ("p50_ms", 0.5, "with no disk I/O at all the two clients and loopback alone take "
             "0.36-0.38 ms; one small fdatasync takes 0.26-0.3 ms"),
            ("p99_ms", 2.0, "the disk's own fdatasync p99 at 1,000 syncs/s is 0.96-2.72 ms, and "
             "the machine stalls for milliseconds under frequent disk requests (probe table)")):
        check("latency at 5,000 records/s: %s at most %s ms" % (metric[:3], limit),
              t.median("latency", "herald", metric), lambda x: "%s ms" % ms(x),
              lambda x, limit=limit: x <= limit, bound)
    n = t.median("latency", "nats", "p99_ms")
    check("latency at 5,000 records/s: p99 no worse than NATS JetStream's",
          t.median("latency", "herald", "p99_ms") if n is not None else None,
          lambda x: "%s against %s ms" % (ms(x), ms(n)), lambda x: x <= n)
    check("fan-out to 5 consumers: at least 5× NATS JetStream", ratio("fanout", "nats"), times,
          lambda x: x >= 5)
    check("catch-up read: at least 1 GB/s", t.median("catchup", "herald", "mb_per_s"),
          lambda x: "%.0f MB/s" % x, lambda x: x >= 1000,
          "librdkafka keeps one Fetch in flight and parses it on one thread; the broker's part "
          "of each 1 MB round is 0.2-0.3 ms")
    # Partition scaling, with the client that packs many partitions into one Produce request
    # (franz-go) and with librdkafka (one partition per request, five requests in flight).
    def quot(a, sa, b, sb):
        x, y = t.median(a, sa, "records_per_s"), t.median(b, sb, "records_per_s")
        return x / y if x is not None and y else None

    check("1,000 partitions (franz-go): at least 2× NATS JetStream (1,000 streams)",
          quot("partitions-1000-franz", "herald", "partitions-1000", "nats"), times,
          lambda x: x >= 2)
    check("1,000 partitions (franz-go): at least 3× Redis (appendfsync always, 1,000 keys)",
          quot("partitions-1000-franz", "herald", "partitions-1000", "redis-always"), times,
          lambda x: x >= 3, "the two cores: per record the producer uses about 4.1 µs of CPU "
          "and the broker 2.8 µs, at most some 290,000 records/s together with no idle time")
    pct = lambda x: "%.0f%%" % (100 * x)
    check("100 partitions: at least 70% of 1 partition (franz-go)",
          quot("partitions-100-franz", "herald", "partitions-1-franz", "herald"), pct,
          lambda x: x >= 0.7, "the client: against a broker that stores nothing, franz-go "
          "itself reaches 53% at 100 partitions of what it reaches at 1 (batches of a few "
          "records, its CPU per record doubled); Herald keeps 60% of that ceiling at 100 "
          "partitions, 55% at 1 (a request is answered about two journal rounds after it "
          "arrives)")
    check("100 partitions: at least 70% of 1 partition (librdkafka)",
          quot("partitions-100", "herald", "partitions-1", "herald"), pct, lambda x: x >= 0.7,
          "librdkafka sends one partition per request, five in flight, about ten records per "
          "partition in flight: at most 50 records per round trip, and a durable round trip "
          "holds an fdatasync; 70% would need each in about this disk's fdatasync median")
    check("16 producers over 16 partitions: at least 2× 1 producer over 1 partition (librdkafka)",
          quot("producers-16", "herald", "partitions-1", "herald"), times, lambda x: x >= 2,
          "the records in flight: 16,000 of them, each about 13.7 ms from send to answer, 6.3 "
          "at the broker (two sync rounds of 4-5 MB), the rest in clients sharing the two "
          "cores; the disk writes near its peak (1.8 GB/s) 69% of the time")
    check("16 producers over 16 partitions: at least 2× 1 producer over 1 partition (franz-go)",
          quot("producers-16-franz", "herald", "partitions-1-franz", "herald"), times,
          lambda x: x >= 2, "the client: against a broker that stores nothing, 16 franz-go "
          "producers reach 1.0× what one does, 1.1-1.8× Herald's durable 1 partition")
    check("idle RSS at most 5 MiB", fp("idle_rss_kib"), mib, lambda x: x <= 5 * 1024)
    check("RSS with 1,000 partitions and 1,000 idle connections at most 50 MiB", fp("busy_rss_kib"),
          mib, lambda x: x <= 50 * 1024)
    check("start to accepting connections with 1,000 partitions within 20 ms", fp("startup_ms"),
          lambda x: "%.0f ms" % x, lambda x: x <= 20)
    return ("### Targets\n\nHerald's goals on this class of machine, checked against the medians "
            "above (ratios and the disk's bandwidth from the same run).\n\n"
            "A missed target shows what was measured to bound it on this machine; "
            "[performance.md](performance.md#what-bounds-it-here) has the measurements.\n\n"
            + md_table(["target", "this run", "", "what bounds it"], rows) + "\n")


def probe_section(t, scenario):
    """The machine's own stalls during a scenario's runs, from bench/stall_probe.c."""
    rows = []
    for s in t.systems:
        v = t.probes.get((scenario, s), [])
        if not v:
            continue

        def rng(key, fmt):
            x = [p[key] for p in v]
            return fmt(statistics.median(x)) + (" (%s–%s)" % (fmt(min(x)), fmt(max(x))) if len(x) > 1 else "")

        rows.append([s, rng("late_2ms", lambda x: "%d" % x), rng("late_5ms", lambda x: "%d" % x),
                     rng("stalled_ms", lambda x: "%.0f" % x), "%.1f" % max(p["max_late_ms"] for p in v)])
    if not rows:
        return ""
    return ("Meanwhile an otherwise idle thread (bench/stall_probe.c) slept 1 ms at a time. The counts are "
            "its wake-ups more than 2 ms and 5 ms late, and the sum of that lateness. It uses no "
            "network and no disk, so a wake-up that late means no core ran it for that long: every "
            "core was busy, or the virtual machine itself was stopped. Every system's tail latency "
            "in that window includes those stalls.\n\n"
            + md_table(["during the runs of", "wake-ups > 2 ms late", "> 5 ms late", "total ms late",
                        "worst ms"], rows) + "\n")


def plots(t, out, docs_bench):
    """Writes gnuplot data and scripts under out/plots and renders PNGs into docs_bench."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed; no plots were drawn."
    pdir = os.path.join(out, "plots")
    os.makedirs(pdir, exist_ok=True)
    os.makedirs(docs_bench, exist_ok=True)
    made = []

    def curve(name, xs, scen_fmt, xlabel, title, logx):
        series = []
        for s in t.systems:
            rows = []
            for x in xs:
                v = t.values(scen_fmt % x, s, "records_per_s")
                if v:
                    rows.append("%s %f %f %f" % (x, statistics.median(v), min(v), max(v)))
            if rows:
                path = os.path.join(pdir, "%s-%s.dat" % (name, s))
                with open(path, "w") as f:
                    f.write("\n".join(rows) + "\n")
                series.append((s, path))
        if not series:
            return
        gp = [
            'set terminal pngcairo size 900,540 font "sans,11"',
            'set output "%s"' % os.path.join(docs_bench, name + ".png"),
            'set title "%s"' % title,
            'set xlabel "%s"' % xlabel,
            'set ylabel "records/s acknowledged (median, min-max bars)"',
            "set grid",
            "set key outside right",
            "set yrange [0:*]",
        ]
        if logx:
            gp.append("set logscale x 10")
        gp.append("set xtics (%s)" % ", ".join('"%d" %d' % (x, x) for x in xs))
        gp.append("plot " + ", ".join(
            '"%s" using 1:2:3:4 with yerrorlines lw 2 title "%s"' % (p, s) for s, p in series))
        script = os.path.join(pdir, name + ".gp")
        with open(script, "w") as f:
            f.write("\n".join(gp) + "\n")
        subprocess.run(["gnuplot", script], check=False)
        made.append(name)

    curve("throughput_vs_partitions", PARTITIONS, "partitions-%d", "partitions (NATS: streams, Redis: keys)",
          "Durable produce throughput vs partitions (1 KiB records, 1 producer)", True)
    curve("throughput_vs_producers", PRODUCERS, "producers-%d", "producer connections",
          "Durable produce throughput vs producers (1 KiB records, 16 partitions)", True)

    series = []
    for s in t.systems:
        qs = [(q, v) for q, v in quantile_medians(t, s) if q <= QUANTILE_PLOT_MAX]
        if qs:
            path = os.path.join(pdir, "latency-%s.dat" % s)
            with open(path, "w") as f:
                for q, v in qs:
                    f.write("%g %f %f\n" % (q, 1.0 / (1.0 - q), max(v, 0.001)))
            series.append((s, path))
    if series:
        gp = [
            'set terminal pngcairo size 900,540 font "sans,11"',
            'set output "%s"' % os.path.join(docs_bench, "latency_distribution.png"),
            'set title "End-to-end latency at 5,000 records/s (1 KiB; median of repetitions per percentile)"',
            'set xlabel "percentile"',
            'set ylabel "ms from intended send to receipt"',
            "set logscale xy 10",
            "set grid",
            "set key outside right",
            'set xtics ("0" 1, "90" 10, "99" 100, "99.9" 1000, "99.99" 10000)',
            "plot " + ", ".join('"%s" using 2:3 with linespoints lw 2 title "%s"' % (p, s) for s, p in series),
        ]
        script = os.path.join(pdir, "latency_distribution.gp")
        with open(script, "w") as f:
            f.write("\n".join(gp) + "\n")
        subprocess.run(["gnuplot", script], check=False)
        made.append("latency_distribution")
    return None if made else "no data to plot."


def throughput_section(t, scenario, title, extra=""):
    rows = []
    for s in t.systems:
        rows.append([s, t.cell(scenario, s, "records_per_s", num), t.cell(scenario, s, "mb_per_s", num),
                     t.ratio(scenario, s, "records_per_s")])
    return "### %s\n\n%s%s\n" % (title, extra, md_table(
        ["system", "records/s", "MB/s", "ratio to Herald"], rows))


def curve_section(t, xs, fmt, label):
    header = [label] + ["%s rec/s" % s for s in t.systems] + ["%s / herald" % s for s in t.systems if s != "herald"]
    rows = []
    for x in xs:
        sc = fmt % x
        rows.append([str(x)] + [t.cell(sc, s, "records_per_s", num) for s in t.systems]
                    + [t.ratio(sc, s, "records_per_s") for s in t.systems if s != "herald"])
    return md_table(header, rows)


# bench/http_report.py owns the block between these markers in docs/benchmarks.md (the HTTP API's
# figures, from bench/http.sh), bench/registry_report.py the registry-bench one (validation on
# produce, from bench/registry.sh); this report keeps them when it rewrites the rest.
KEEP_START, KEEP_END = "<!-- http-bench:start -->", "<!-- http-bench:end -->"
KEEP_BLOCKS = [(KEEP_START, KEEP_END),
               ("<!-- registry-bench:start -->", "<!-- registry-bench:end -->"),
               ("<!-- queues-bench:start -->", "<!-- queues-bench:end -->"),
               ("<!-- obs-bench:start -->", "<!-- obs-bench:end -->")]


def publish_section(section, start, end, result_dir, filename, docs_dir=None):
    """Writes a part's section to result_dir/filename and, with docs_dir, into the block between
    start and end of docs_dir/benchmarks.md (appended when the markers are missing). Returns the
    path written last."""
    target = os.path.join(result_dir, filename)
    with open(target, "w") as f:
        f.write(section)
    if docs_dir:
        target = os.path.join(docs_dir, "benchmarks.md")
        try:
            with open(target) as f:
                doc = f.read()
        except FileNotFoundError:
            doc = "# Benchmarks\n"
        i, j = doc.find(start), doc.find(end)
        if i >= 0 and j > i:
            doc = doc[:i] + section.rstrip("\n") + doc[j + len(end):]
        else:
            doc = doc.rstrip("\n") + "\n\n" + section
        with open(target, "w") as f:
            f.write(doc)
    return target


def kept_block(path):
    """The marked blocks of the existing file at path, with their markers, in the file's order,
    each followed by an empty line; or ""."""
    try:
        with open(path) as f:
            doc = f.read()
    except OSError:
        return ""
    found = []
    for start, end in KEEP_BLOCKS:
        i, j = doc.find(start), doc.find(end)
        if i >= 0 and j > i:
            found.append((i, doc[i:j + len(end)] + "\n"))
    return "\n".join(block for _, block in sorted(found))


def kafka_footprint_section(footprint):
    """Herald beside Apache Kafka: memory, start time and what has to be installed."""
    ksys = next((s for s in KAFKA_SYSTEMS if any(k[1] == s for k in footprint
                                                 if k[0] != "idle_rss_kib")), None)
    if not ksys:
        return ""

    def med(key, system):
        v = footprint.get((key, system))
        return statistics.median(v) if v else None

    def cell(key, system, fmtf):
        v = footprint.get((key, system))
        if not v:
            return "not measured"
        s = fmtf(statistics.median(v))
        lo, hi = fmtf(min(v)), fmtf(max(v))
        return s + (" (%s–%s)" % (lo, hi) if lo != hi else "")

    def ratio(hv, kv):
        if not hv or kv is None:
            return "–"
        return "%.0f×" % (kv / hv) if kv / hv >= 10 else "%.1f×" % (kv / hv)

    mib = lambda k: "%.1f MiB" % (k / 1024)
    msf = lambda x: "%.1f s" % (x / 1000) if x >= 1000 else "%.0f ms" % x
    kidle = [v for s in KAFKA_SYSTEMS for v in footprint.get(("idle_rss_kib", s), [])]
    footprint = dict(footprint)
    if kidle:
        footprint[("idle_rss_kib", "kafka-any")] = kidle
    empty = [v for s in KAFKA_SYSTEMS for v in footprint.get(("startup_empty_ms", s), [])]
    if empty:
        footprint[("startup_empty_ms", "kafka-any")] = empty
    jars, jre = med("install_jars_bytes", ksys), med("jre_kib", ksys)
    install = (jars or 0) + (jre or 0) * 1024 if jars else None
    herald_bin = med("stripped_bytes", "herald")
    rows = [
        ["idle RSS", cell("idle_rss_kib", "herald", mib), cell("idle_rss_kib", "kafka-any", mib),
         ratio(med("idle_rss_kib", "herald"), med("idle_rss_kib", "kafka-any"))],
        ["RSS with 1,000 partitions and %s idle TCP connections"
         % cell("connections_opened", ksys, lambda x: "%d" % x),
         cell("busy_rss_kib", "herald", mib), cell("busy_rss_kib", ksys, mib),
         ratio(med("busy_rss_kib", "herald"), med("busy_rss_kib", ksys))],
        ["exec to answering requests, empty storage (Kafka: cold JVM)", "–",
         cell("startup_empty_ms", "kafka-any", msf), "–"],
        ["exec to answering requests, 1,000 partitions on disk (Herald: to accepting connections)",
         cell("startup_ms", "herald", msf), cell("startup_ms", ksys, msf),
         ratio(med("startup_ms", "herald"), med("startup_ms", ksys))],
        ["installed to run it",
         cell("stripped_bytes", "herald", lambda x: "%.2f MiB stripped binary" % (x / 1048576)),
         ("%.0f MiB: %.0f MiB in the %d jars it loaded classes from (%.0f MiB fetched), %.0f MiB "
          "Java runtime (Debian's JRE package)" % (
              install / 1048576, jars / 1048576, med("install_jars_count", ksys) or 0,
              (med("lib_jars_bytes", ksys) or 0) / 1048576, (jre or 0) / 1024))
         if install else "not measured",
         ratio(herald_bin, install)],
    ]
    return ("Beside Apache Kafka (%s; the flush setting changes none of these). Kafka's idle RSS and "
            "empty start are over both of its configurations; the busy RSS and the start with 1,000 "
            "partitions use the same herald_bench steps as Herald's rows.\n\n" % ksys
            + md_table(["measure", "herald", "Apache Kafka", "Kafka / Herald"], rows) + "\n")


def render(out, docs):
    runs, machine, disk, footprint, configs = load(out)
    t = Table(runs)
    plot_note = plots(t, out, os.path.join(docs, "bench")) if docs else "plots not drawn (--docs not given)."
    reps = machine.get("reps", "?")
    L = []
    L.append("# Benchmarks\n")
    L.append("Generated by `make bench` (bench/run.sh, then bench/report.py) on %s UTC%s. Do not edit by "
             "hand: rerun it. Every cell is the **median of %s runs** with the (min–max) range; each "
             "run starts its server fresh with an empty data directory, after a `sync` (so that no run "
             "pays for the writeback of the one before). A ratio is the peer's median "
             "divided by Herald's median from the same invocation: above 1 means the peer is faster "
             "for throughput, slower for latency.\n" % (machine.get("date_utc", "?"),
                                                        " (**BENCH_QUICK=1: shrunken smoke run**)" if machine.get("quick") else "",
                                                        reps))
    L.append("These numbers come from a small, shared, noisy machine where the client and the broker "
             "share 2 cores. Read them as rough relative positions, not as capacity figures.\n")

    L.append("To reproduce: `make bench` (about an hour here; installs nats-server, redis-server, "
             "rabbitmq-server, their C clients and gnuplot first, and Apache Kafka's jars with `make compat-kafka`), "
             "`BENCH_QUICK=1 make bench` for a smoke run, or "
             "`HERALD_BIN=path/to/herald bench/run.sh` for another broker build. bench/run.sh lists every knob. "
             "`make bench` then runs the HTTP API's benchmarks (bench/http.sh, alone: `make bench-http`), "
             "whose section closes this page. "
             "The load generator works against any Kafka address on its own: `build/herald_bench --mode produce "
             "--addr HOST:PORT` (`--help` lists the modes and options; `-X key=value` sets any librdkafka "
             "property, for example the security settings of a real cluster).\n")
    L.append("## Machine\n")
    rows = [["CPU", "%s × %s" % (machine.get("nproc", "?"), machine.get("cpu", "?"))],
            ["memory", machine.get("mem", "?")], ["kernel", machine.get("kernel", "?")],
            ["filesystem of the data dirs", "%s (%s)" % (machine.get("filesystem", "?"), machine.get("data_dir", "?"))]]
    if disk.get("seq_write_mb_per_s"):
        rows.append(["sequential write, %d MiB + one fdatasync (dd conv=fdatasync)" % disk.get("seq_write_mib", 0),
                     "%.0f MB/s" % disk["seq_write_mb_per_s"]])
    if disk.get("dsync_4k_writes_per_s"):
        rows.append(["synchronous 4 KiB writes (dd oflag=dsync)", "%.0f writes/s" % disk["dsync_4k_writes_per_s"]])
    for k, label in [("herald_version", "herald"), ("herald_bin", "herald binary"), ("nats_server", "nats-server"),
                     ("redis_server", "redis-server"), ("kafka", "Apache Kafka (kafka_2.13)"),
                     ("java", "Java runtime of Kafka"), ("kafka_heap", "Kafka's JVM heap (-Xms = -Xmx)"),
                     ("librdkafka", "librdkafka"), ("cnats", "cnats"),
                     ("hiredis", "hiredis"), ("bench_commit", "bench commit")]:
        if k in ("kafka", "java", "kafka_heap") and not any(s in t.systems for s in KAFKA_SYSTEMS):
            continue
        value = machine.get(k, "?")
        if k == "herald_bin" and os.path.isabs(value):
            # Name the binary relative to the repository, never by this machine's paths.
            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            value = os.path.relpath(value, root) if value.startswith(root + os.sep) else os.path.basename(value)
        rows.append([label, "`%s`" % value])
    L.append(md_table(["", ""], rows) + "\n")

    L.append("## Results\n")
    L.append(throughput_section(t, "produce-1k", "(a) Durable produce throughput, 1 KiB records",
                                "1 producer, 1 partition, %s unacknowledged records at most.\n\n" % machine.get("inflight", "?")))
    L.append(throughput_section(t, "produce-100", "(a) Durable produce throughput, 100-byte records"))
    if any(k[0] == "produce-1k-deep" for k in list(t.good) + list(t.bad)):
        L.append(throughput_section(
            t, "produce-1k-deep", "(a) Durable produce throughput, 1 KiB records, deeper pipeline",
            "The same with %s unacknowledged records at most, for every system. A producer that waits "
            "for fsynced acknowledgements is bound by in-flight records / acknowledgement latency "
            "(Little's law); the Kafka clients here keep at most 5 requests of up to 1 MB in flight per "
            "connection (the Java client's default), which allows about 5,000 such records.\n\n" % machine.get("deep_inflight", "?")))

    rows = []
    for s in t.systems:
        rows.append([s] + [t.cell("latency", s, m, ms) for m in ("p50_ms", "p99_ms", "p999_ms", "max_ms")]
                    + [t.ratio("latency", s, "p50_ms"), t.ratio("latency", s, "p99_ms")])
    L.append("### (b) End-to-end latency at 5,000 records/s\n\n1 KiB records, 1 partition; milliseconds from "
             "the *intended* send time (stamped in the record) to receipt by a consumer in the same process, "
             "the first second dropped.\n\n" + md_table(
                 ["system", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "p50 ratio", "p99 ratio"], rows) + "\n")
    L.append("![latency distribution](bench/latency_distribution.png)\n")
    L.append(probe_section(t, "latency"))

    L.append(throughput_section(t, "fanout", "(c) Fan-out to 5 consumers",
                                "1 producer, 1 partition, 5 independent consumers each reading everything; "
                                "records/s counts deliveries summed over the consumers, from the producer's "
                                "start to the last consumer's last record.\n\n"))
    L.append(throughput_section(t, "catchup", "(d) Catch-up read of a backlog",
                                "One consumer reads a backlog of %.0f MiB of 1 KiB records from the start, "
                                "right after it was written (page cache warm).\n\n" % (machine.get("catchup_bytes", 0) / 1048576)))

    L.append("### (e) Scaling\n")
    L.append("Durable produce of 1 KiB records from 1 producer over 1–1000 partitions (NATS: that many "
             "streams; Redis: that many keys), records sent round-robin.\n")
    L.append(curve_section(t, PARTITIONS, "partitions-%d", "partitions") + "\n")
    L.append("![throughput vs partitions](bench/throughput_vs_partitions.png)\n")
    L.append("1, 4 and 16 producer connections (one thread each) over 16 partitions.\n")
    L.append(curve_section(t, PRODUCERS, "producers-%d", "producers") + "\n")
    L.append("![throughput vs producers](bench/throughput_vs_producers.png)\n")
    franz = [("1 partition", "partitions-1-franz"), ("100 partitions", "partitions-100-franz"),
             ("1,000 partitions", "partitions-1000-franz"),
             ("1 producer, 16 partitions", "producers-1-franz"),
             ("16 producers, 16 partitions", "producers-16-franz")]
    if any(t.median(sc, "herald", "records_per_s") is not None for _, sc in franz):
        L.append("Herald with franz-go as the producer, which packs many partitions into one "
                 "Produce request as Kafka's Java client does (librdkafka, above, sends one "
                 "partition per request), the same 1,000 records and 5 requests in flight.\n")
        L.append(md_table(["scenario", "herald rec/s", "MB/s"],
                          [[name, t.cell(sc, "herald", "records_per_s", num),
                            t.cell(sc, "herald", "mb_per_s", num)] for name, sc in franz]) + "\n")
    if plot_note:
        L.append("_%s_\n" % plot_note)

    L.append("### (f) Footprint\n")

    def fp(key, system, fmtf):
        v = footprint.get((key, system))
        if not v:
            return "not measured"
        s = fmtf(statistics.median(v))
        lo, hi = fmtf(min(v)), fmtf(max(v))
        return s + (" (%s–%s)" % (lo, hi) if lo != hi else "")

    mib = lambda k: "%.1f MiB" % (k / 1024)
    rows = [["idle RSS of `herald serve`", fp("idle_rss_kib", "herald", mib)],
            ["RSS with 1,000 partitions and %s idle TCP connections" % fp("connections_opened", "herald", lambda x: "%d" % x),
             fp("busy_rss_kib", "herald", mib)],
            ["start to accepting connections, 1,000 partitions on disk", fp("startup_ms", "herald", lambda x: "%.0f ms" % x)],
            ["stripped binary", fp("stripped_bytes", "herald", lambda x: "%.2f MiB" % (x / 1048576))],
            ["unstripped binary (with debug info)", fp("unstripped_bytes", "herald", lambda x: "%.2f MiB" % (x / 1048576))]]
    for s in t.systems:
        if s != "herald":
            rows.append(["idle RSS of %s (for context)" % s, fp("idle_rss_kib", s, mib)])
    L.append(md_table(["measure", "value"], rows) + "\n")
    L.append(kafka_footprint_section(footprint))

    L.append(targets_section(t, disk, footprint))

    failed = [(k, v) for k, v in sorted(t.bad.items())]
    if failed:
        L.append("### Runs left out\n")
        L.append(md_table(["scenario", "system", "runs", "why (first)"],
                          [[k[0], k[1], str(len(v)), str(v[0]).replace("|", "/")] for k, v in failed]) + "\n")

    L.append("## What is compared\n")
    L.append("""- **herald**: `herald serve` with its default settings (plus any in `herald.cmdline` below). It
  answers a Produce with acks=all only after the records are fsynced, and consumers only see fsynced
  records.
- **nats**: nats-server with JetStream, one file-storage stream (one replica) per partition. Producers use
  cnats `js_PublishAsync` with `PublishAsync.MaxPending` equal to the in-flight limit; a record counts when
  its PubAck arrives. **nats-server acknowledges after writing to its file store, not after fsync**: it
  syncs in the background (every 2 minutes by default; `sync_interval: always` only exists from 2.10,
  newer than the packaged %s). Its acknowledgements are therefore weaker than Herald's.
  Consumers are ordered push consumers (ephemeral, AckNone, DeliverAll).
- **redis-always**: Redis Streams, `appendonly yes`, `appendfsync always`: Redis writes and fsyncs the AOF
  before sending the replies of each event-loop turn, so an XADD reply means fsynced (group commit).
  Producers pipeline `XADD key * d <value>` with at most the in-flight limit unanswered; readers use
  `XREAD COUNT 1000 BLOCK 100`, one call outstanding, as independent consumers.
- **redis-everysec**: the same with `appendfsync everysec`: replies come before the fsync (up to ~1 s of
  acknowledged writes can be lost). Not durable per record; shown as the common production setting.
- **kafka-durable**: Apache Kafka %s itself, one KRaft process that is broker and controller, with
  `log.flush.interval.messages=1`: every append to a partition is written and fsynced (the segment and
  its index) before the Produce is answered, as Herald does (checked with `strace -f`: one `fsync` of
  the partition's `.log` per write to it). Driven by the same client as Herald (herald_bench,
  librdkafka), so the two are compared client for client. Replication factor 1, so acks=all waits
  for nothing else.
- **kafka-default**: the same broker with Kafka's default flush policy (none): appends go to the page
  cache and the kernel writes them back; acknowledged records can be lost on a power failure. The
  setting Kafka clusters usually run, leaving durability to replication (absent on one node).
- The Kafka JVM runs as bin/kafka-server-start.sh runs it: G1 with a 20 ms pause goal and a fixed
  heap of %s (-Xms = -Xmx, the script's default, `BENCH_KAFKA_HEAP` changes it); the broker keeps
  records in the page cache, not on its heap, and 1 GiB leaves a 2-core machine's memory to the
  cache. Each run formats a fresh storage (`kafka-storage format`, once per invocation, copied) and
  waits until the broker answers an ApiVersions request; Kafka binds its client port only once it can
  serve, so that is also when it first accepts a connection.
- Every Kafka client setting: acks=all, enable.idempotence=false, linger.ms=1 (0.5 in the latency
  scenario: lower medians and 99th percentiles here than 1, see docs/performance.md), compression none,
  max.in.flight.requests.per.connection=5; the in-flight limit is enforced per record by the load
  generator so it means the same for all three systems. Kafka consumers use librdkafka's simple
  consumer (consume_start on every partition from the beginning, no group), fetch.wait.max.ms=100,
  and take each message that is already queued in one `rd_kafka_consume_batch_queue` call (up to
  1,024) after waiting for the first.
- MB/s is 10^6 bytes of record *values* per second; keys, headers and protocol overhead are not counted.
- Latency records carry their intended send time, so a stalled producer shows up as latency
  (no coordinated omission).
""" % (machine.get("nats_server", "nats-server"), machine.get("kafka", "4.x"),
       machine.get("kafka_heap", "1g")))

    L.append("## Exact configurations\n")
    for name, text in configs.items():
        L.append("`%s`:\n\n```\n%s```\n" % (name, text if text.endswith("\n") else text + "\n"))
    L.append("Load generator command lines (the script adds `--addr`):\n")
    L.append("```")
    for scen, bysys in t.cmds.items():
        for s in t.systems:
            if s in bysys:
                L.append("%-16s %s" % (scen, bysys[s]))
    L.append("```\n")
    L.append("Raw results: `bench/results/%s/runs.jsonl` (not committed; one JSON line per run).\n" % os.path.basename(out.rstrip("/")))
    text = "\n".join(L)
    if docs:
        path = os.path.join(docs, "benchmarks.md")
        kept = kept_block(path)
        with open(path, "w") as f:
            f.write(text + ("\n" + kept if kept else ""))
    with open(os.path.join(out, "benchmarks.md"), "w") as f:
        f.write(text)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result_dir")
    ap.add_argument("--docs", help="docs/ directory to write benchmarks.md and bench/*.png into")
    a = ap.parse_args()
    render(a.result_dir, a.docs)
    print("report: %s" % os.path.join(a.docs or a.result_dir, "benchmarks.md"), file=sys.stderr)


if __name__ == "__main__":
    main()
