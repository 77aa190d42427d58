#!/usr/bin/env bash
# Measures what observability costs, and writes the "Observability overhead" section of
# docs/benchmarks.md (through bench/obs_tools.py report):
#   produce-obs-on    durable produce (herald_bench, acks=all, 1 KiB records) with the defaults:
#                     the event catalog on, and /metrics scraped every second during the run;
#   produce-obs-off   the same with --catalog-enable false and no scrape;
#   metrics-scrape    GET /metrics timed with 1,000 partitions holding a record each and 100
#                     groups with committed offsets (bench/obs_tools.py setup and scrape).
# The counters behind /metrics have no off switch (a few integer additions per batch and per
# request); docs/benchmarks.md says so next to the numbers.
#
# Every run gets a fresh `herald serve` on free 127.0.0.1 ports with an empty data directory,
# stopped by its pid afterwards. The two produce variants alternate within each repetition
# (on first in odd repetitions, off first in even ones). Nothing here asserts on a timing.
#
# Environment:
#   BUILD=dir             where herald and herald_bench live (default build/)
#   HERALD_BIN=path       the broker to measure (default $BUILD/herald)
#   BENCH_QUICK=1         short runs (a minute or so)
#   BENCH_REPS=n          repetitions (default 3); the report shows medians
#   BENCH_DIR=dir         where data directories go (default /var/tmp; must be a real disk)
#   BENCH_NO_DOCS=1       keep results in bench/results/ only, do not rewrite docs/
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
HERALD_BIN=${HERALD_BIN:-$BUILD/herald}
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-3}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TOOLS=$ROOT/bench/obs_tools.py

TOPICS=10 PARTITIONS=100 NGROUPS=100 SCRAPES=21
if [ "$QUICK" = 1 ]; then
    N=100000 RUN_TIMEOUT=180
else
    N=1000000 RUN_TIMEOUT=600
fi

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/results/$STAMP-obs
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herald-bench-obs.XXXXXX")
mkdir -p "$OUT/logs" "$OUT/raw"
RUNS=$OUT/runs.jsonl
: >"$RUNS"

say() { printf '%s bench-obs: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SERVER_PID=
SCRAPER_PID=
KAFKA_ADDR=
HTTP_URL=

stop_scraper() {
    [ -n "$SCRAPER_PID" ] || return 0
    kill -TERM "$SCRAPER_PID" 2>/dev/null
    wait "$SCRAPER_PID" 2>/dev/null
    SCRAPER_PID=
}

stop_server() {
    stop_scraper
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        say "pid $SERVER_PID ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts Herald (extra flags in "$@") with an empty data dir on two free ports.
start_server() {
    local kport hport dir
    kport=$(free_port)
    hport=$(free_port)
    while [ "$hport" = "$kport" ]; do hport=$(free_port); done
    rm -rf "$WORK"/herald-*
    dir=$WORK/herald-$kport
    mkdir -p "$dir"
    "$HERALD_BIN" serve --kafka-addr "127.0.0.1:$kport" --http-addr "127.0.0.1:$hport" \
        --data-dir "$dir/data" "$@" >>"$OUT/logs/herald.log" 2>&1 &
    SERVER_PID=$!
    KAFKA_ADDR=127.0.0.1:$kport
    HTTP_URL=http://127.0.0.1:$hport
    local a
    for a in "$KAFKA_ADDR" "127.0.0.1:$hport"; do
        if ! "$BUILD/herald_bench" --mode waitport --addr "$a" --timeout 30 >/dev/null; then
            say "herald did not start (see $OUT/logs/herald.log)"
            stop_server
            return 1
        fi
    done
}

# Appends {"scenario","rep","cmd","ok","result"|"why"} to runs.jsonl.
record() {
    $PY - "$@" >>"$RUNS" <<'EOF'
import json, sys
scenario, rep, cmd, ok, payload = sys.argv[1:6]
line = {"scenario": scenario, "rep": int(rep), "cmd": cmd, "ok": ok == "1"}
if ok == "1":
    line["result"] = json.loads(payload)
else:
    line["why"] = payload
print(json.dumps(line))
EOF
}

# Runs "$@" with a timeout, keeps its output in raw/, records its last JSON line.
measure() {
    local scenario=$1 rep=$2
    shift 2
    local raw=$OUT/raw/$scenario-rep$rep.out cmd line rc
    cmd="${1##*/} ${*:2}"
    cmd=${cmd//$ROOT\//}
    timeout "$RUN_TIMEOUT" "$@" >"$raw" 2>>"$OUT/logs/$scenario.log"
    rc=$?
    line=$(grep '^{' "$raw" | tail -1)
    if [ $rc = 0 ] && [ -n "$line" ]; then
        record "$scenario" "$rep" "$cmd" 1 "$line"
    else
        record "$scenario" "$rep" "$cmd" 0 "exited $rc"
        say "  $scenario failed: exit $rc"
    fi
}

run_produce() {
    local variant=$1 rep=$2
    if [ "$variant" = on ]; then
        start_server || { record produce-obs-on "$rep" "" 0 "server did not start"; return; }
        $PY "$TOOLS" scraper --http "$HTTP_URL" --every 1 >/dev/null 2>&1 &
        SCRAPER_PID=$!
    else
        start_server --catalog-enable false ||
            { record produce-obs-off "$rep" "" 0 "server did not start"; return; }
    fi
    say "rep $rep produce-obs-$variant"
    measure "produce-obs-$variant" "$rep" "$BUILD/herald_bench" --mode produce --size 1024 \
        --records "$N" --inflight 1000 --topic bench --system herald --addr "$KAFKA_ADDR"
    stop_server
}

run_scrape() {
    local rep=$1
    start_server || { record metrics-scrape "$rep" "" 0 "server did not start"; return; }
    say "rep $rep metrics-scrape (setting up $((TOPICS * PARTITIONS)) partitions, $NGROUPS groups)"
    if ! $PY "$TOOLS" setup --http "$HTTP_URL" --kafka "$KAFKA_ADDR" --topics "$TOPICS" \
        --partitions "$PARTITIONS" --groups "$NGROUPS" >"$OUT/raw/setup-rep$rep.out" \
        2>>"$OUT/logs/setup.log"; then
        record metrics-scrape "$rep" "" 0 "setup failed"
        stop_server
        return
    fi
    measure metrics-scrape "$rep" $PY "$TOOLS" scrape --http "$HTTP_URL" --n "$SCRAPES"
    stop_server
}

$PY - "$OUT/machine.json" "$HERALD_BIN" "$ROOT" "$REPS" "$QUICK" "$N" "$TOPICS" "$PARTITIONS" \
    "$NGROUPS" "$SCRAPES" <<'EOF'
import json, subprocess, sys, time
path, binary, root, reps, quick, n, topics, parts, groups, scrapes = sys.argv[1:11]
def out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return "?"
json.dump({"date_utc": time.strftime("%Y%m%d-%H%M%S", time.gmtime()),
           "version": out(binary, "--version").split()[-1] if out(binary, "--version") else "?",
           "commit": out("git", "-C", root, "rev-parse", "--short", "HEAD"),
           "reps": int(reps), "quick": quick == "1", "records": int(n), "topics": int(topics),
           "partitions": int(parts), "groups": int(groups), "scrapes": int(scrapes)},
          open(path, "w"))
EOF

for rep in $(seq "$REPS"); do
    if [ $((rep % 2)) = 1 ]; then
        run_produce on "$rep"
        run_produce off "$rep"
    else
        run_produce off "$rep"
        run_produce on "$rep"
    fi
    run_scrape "$rep"
done

DOCS_ARG=(--docs "$ROOT/docs")
[ "${BENCH_NO_DOCS:-0}" = 1 ] && DOCS_ARG=()
$PY "$TOOLS" report "$OUT" "${DOCS_ARG[@]}"
say "results in $OUT"
