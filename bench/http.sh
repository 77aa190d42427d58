#!/usr/bin/env bash
# Benchmarks Herald's HTTP API next to its Kafka protocol, in the same run, and writes the
# "HTTP API" section of docs/benchmarks.md (through bench/http_report.py):
#   http-produce-cN   wrk with bench/http_produce.lua over N connections: POSTs of 100 records of
#                     1 KiB to /topics/bench/records for a fixed time, each answered once durable.
#   kafka-produce-cN  the same records over the Kafka protocol (herald_bench --mode produce), with
#                     as many records in flight as the N HTTP connections have (N x 100).
#   e2e-latency       a Kafka producer at a fixed rate; a WebSocket client, an SSE client and a
#                     Kafka consumer (separate processes) and herald_bench's own consumer read the
#                     same records and time each one from its intended send (bench/http_tools.py).
#   streams-sse       VmRSS of `herald serve` idle and with 1,000 SSE streams open
#   streams-ws        ... and with 1,000 WebSocket streams (bench/http_tools.py streams).
#
# Every run gets a fresh `herald serve` on free 127.0.0.1 ports with an empty data directory,
# stopped by its pid afterwards. Repetitions are interleaved (rep 1 of every scenario, then rep
# 2, ...). Benchmarks are not tests: nothing here asserts on a timing; failed runs are recorded.
#
# Environment:
#   BUILD=dir             where herald and herald_bench live (default build/)
#   HERALD_BIN=path       the broker to measure (default $BUILD/herald)
#   HERALD_ARGS="..."     extra `herald serve` flags
#   BENCH_QUICK=1         short runs, for a smoke run of about two minutes
#   BENCH_REPS=n          repetitions of every scenario (default 3); the report shows medians
#   BENCH_HTTP_CONNS="4 16"        HTTP connections of the produce scenarios
#   BENCH_HTTP_SCENARIOS="..."     subset of: produce latency streams
#   BENCH_STREAMS=n       streams opened in streams-sse and streams-ws (default 1000)
#   BENCH_DIR=dir         where data directories go (default /var/tmp; must be a real disk)
#   BENCH_NO_DOCS=1       keep results in bench/results/ only, do not rewrite docs/
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
HERALD_BIN=${HERALD_BIN:-$BUILD/herald}
HERALD_ARGS=${HERALD_ARGS-}
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-3}
CONNS=${BENCH_HTTP_CONNS:-"4 16"}
SCENARIOS=${BENCH_HTTP_SCENARIOS:-"produce latency streams"}
STREAMS=${BENCH_STREAMS:-1000}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

RECORDS_PER_REQUEST=100
SIZE=1024
LAT_RATE=1000
if [ "$QUICK" = 1 ]; then
    WRK_SECS=3 N_KAFKA=200000 LAT_SECS=4 RUN_TIMEOUT=180
else
    WRK_SECS=10 N_KAFKA=1000000 LAT_SECS=15 RUN_TIMEOUT=600
fi

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/results/$STAMP-http
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herald-bench-http.XXXXXX")
mkdir -p "$OUT/logs" "$OUT/raw"
RUNS=$OUT/runs.jsonl
: >"$RUNS"

say() { printf '%s bench-http: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SERVER_PID=
KAFKA_ADDR=
HTTP_URL=

cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_server() {
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

# Starts Herald with an empty data dir on two free ports; sets SERVER_PID, KAFKA_ADDR, HTTP_URL.
start_server() {
    local kport hport dir
    kport=$(free_port)
    hport=$(free_port)
    while [ "$hport" = "$kport" ]; do hport=$(free_port); done
    rm -rf "$WORK"/herald-*
    dir=$WORK/herald-$kport
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    "$HERALD_BIN" serve --kafka-addr "127.0.0.1:$kport" --http-addr "127.0.0.1:$hport" \
        --data-dir "$dir/data" $HERALD_ARGS >>"$OUT/logs/herald.log" 2>&1 &
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

# Appends one line to runs.jsonl: {"scenario","rep","system","cmd","ok","result"|"why"} and, with
# a seventh argument, "probe": bench/stall_probe.c's result for the same window.
record() {
    $PY - "$@" >>"$RUNS" <<'EOF'
import json, sys
scenario, rep, system, cmd, ok, payload = sys.argv[1:7]
line = {"scenario": scenario, "rep": int(rep), "system": system, "cmd": cmd, "ok": ok == "1"}
if ok == "1":
    line["result"] = json.loads(payload)
else:
    line["why"] = payload
if len(sys.argv) > 7 and sys.argv[7].startswith("{"):
    line["probe"] = json.loads(sys.argv[7])
print(json.dumps(line))
EOF
}

# Runs "$@" with a timeout; keeps its whole output in raw/ and records its last JSON line.
# $1 scenario, $2 rep, $3 system label, then the command.
measure() {
    local scenario=$1 rep=$2 sys=$3
    shift 3
    local raw=$OUT/raw/$scenario-$sys-rep$rep.out cmd line rc
    cmd="${1##*/} ${*:2}"
    cmd=${cmd//$ROOT\//}
    timeout "$RUN_TIMEOUT" "$@" >"$raw" 2>>"$OUT/logs/$scenario.log"
    rc=$?
    line=$(grep '^{' "$raw" | tail -1)
    local probe=
    if [ -n "${PROBE_PID:-}" ]; then
        kill -TERM "$PROBE_PID" 2>/dev/null
        wait "$PROBE_PID" 2>/dev/null
        probe=$(grep '^{' "$PROBE_OUT" | tail -1)
    fi
    if [ -n "$line" ]; then
        record "$scenario" "$rep" "$sys" "$cmd" 1 "$line" "$probe"
        [ $rc = 0 ] || say "  $scenario $sys exited $rc (errors are in the result line)"
    else
        record "$scenario" "$rep" "$sys" "$cmd" 0 "exited $rc without a result"
        say "  $scenario $sys failed: exit $rc"
    fi
}

run_http_produce() {
    local conns=$1 rep=$2 threads=2
    [ "$conns" -ge 2 ] || threads=1
    start_server || { record "http-produce-c$conns" "$rep" http "" 0 "server did not start"; return; }
    say "rep $rep http-produce-c$conns"
    $PY "$ROOT/bench/http_tools.py" topic --http "$HTTP_URL" --topic bench >/dev/null
    measure "http-produce-c$conns" "$rep" http wrk -t "$threads" -c "$conns" -d "${WRK_SECS}s" \
        -s "$ROOT/bench/http_produce.lua" "$HTTP_URL/topics/bench/records" -- \
        "$RECORDS_PER_REQUEST" "$SIZE"
    kill -0 "$SERVER_PID" 2>/dev/null || say "  herald died during http-produce-c$conns"
    stop_server
}

run_kafka_produce() {
    local conns=$1 rep=$2
    start_server || { record "kafka-produce-c$conns" "$rep" kafka "" 0 "server did not start"; return; }
    say "rep $rep kafka-produce-c$conns"
    measure "kafka-produce-c$conns" "$rep" kafka "$BUILD/herald_bench" --mode produce \
        --size "$SIZE" --records "$N_KAFKA" --inflight $((conns * RECORDS_PER_REQUEST)) \
        --topic bench --system herald --addr "$KAFKA_ADDR"
    kill -0 "$SERVER_PID" 2>/dev/null || say "  herald died during kafka-produce-c$conns"
    stop_server
}

run_latency() {
    local rep=$1
    start_server || { record e2e-latency "$rep" all "" 0 "server did not start"; return; }
    say "rep $rep e2e-latency"
    # An idle thread's wake-ups are timed meanwhile (bench/stall_probe.c), so that stalls of the
    # machine itself can be told from the broker's.
    local probe_pid=
    if [ -x "$BUILD/stall_probe" ]; then
        "$BUILD/stall_probe" >"$WORK/probe.out" 2>/dev/null &
        probe_pid=$!
    fi
    PROBE_OUT=$WORK/probe.out PROBE_PID=$probe_pid measure e2e-latency "$rep" all $PY "$ROOT/bench/http_tools.py" latency --http "$HTTP_URL" \
        --kafka "$KAFKA_ADDR" --herald-bench "$BUILD/herald_bench" --rate "$LAT_RATE" \
        --duration "$LAT_SECS" --warmup 1 --size "$SIZE" --linger-ms 0.5
    stop_server
}

# Each kind of stream against its own fresh broker, so that neither reuses the other's memory.
run_streams() {
    local kind=$1 rep=$2
    start_server || { record "streams-$kind" "$rep" herald "" 0 "server did not start"; return; }
    say "rep $rep streams-$kind ($STREAMS streams)"
    measure "streams-$kind" "$rep" herald $PY "$ROOT/bench/http_tools.py" streams \
        --http "$HTTP_URL" --pid "$SERVER_PID" --count "$STREAMS" --kinds "$kind"
    stop_server
}

machine_info() {
    $PY - "$OUT/machine.json" <<EOF
import json, sys, platform, subprocess, os
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:
        return str(e)
json.dump({
    "date_utc": "$STAMP",
    "nproc": os.cpu_count(),
    "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
    "kernel": platform.release(),
    "herald_bin": "$HERALD_BIN",
    "herald_version": sh("'$HERALD_BIN' --version 2>&1 | head -1"),
    "wrk": sh("wrk --version 2>&1 | head -1 | cut -d\" \" -f1-2"),
    "websockets": sh("$PY -c 'import websockets; print(websockets.__version__)'"),
    "confluent_kafka": sh("$PY -c 'import confluent_kafka; print(confluent_kafka.version()[0], confluent_kafka.libversion()[0])'"),
    "bench_commit": sh("git -C '$ROOT' rev-parse --short HEAD"),
    "quick": "$QUICK" == "1",
    "reps": $REPS,
    "wrk_secs": $WRK_SECS,
    "kafka_records": $N_KAFKA,
    "records_per_request": $RECORDS_PER_REQUEST,
    "size": $SIZE,
    "latency_rate": $LAT_RATE,
    "latency_secs": $LAT_SECS,
    "streams": $STREAMS,
}, open(sys.argv[1], "w"), indent=1)
EOF
}

has() { [[ " $SCENARIOS " == *" $1 "* ]]; }

main() {
    say "results in $OUT; data in $WORK"
    [ -x "$HERALD_BIN" ] || { say "HERALD_BIN $HERALD_BIN is missing"; exit 1; }
    command -v wrk >/dev/null || say "wrk is not installed (make bench-deps): HTTP produce runs will fail"
    # 1,000 streams need as many descriptors in Herald and in the client (both inherit this).
    ulimit -n $((STREAMS + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null ||
        say "could not raise the fd limit; $STREAMS streams may fail"
    machine_info
    for rep in $(seq "$REPS"); do
        if has produce; then
            for c in $CONNS; do
                run_http_produce "$c" "$rep"
                run_kafka_produce "$c" "$rep"
            done
        fi
        has latency && run_latency "$rep"
        if has streams; then
            run_streams sse "$rep"
            run_streams ws "$rep"
        fi
    done
    local docs_args=()
    [ "${BENCH_NO_DOCS:-0}" = 1 ] || docs_args=(--docs "$ROOT/docs")
    $PY "$ROOT/bench/http_report.py" "$OUT" "${docs_args[@]}"
    say "done: $OUT"
}

main
