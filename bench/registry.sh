#!/usr/bin/env bash
# Measures what validation on produce costs: the same records, in the schema registry's wire
# format, produced over Kafka to a topic that validates them against the registry
# (confluent.value.schema.validation=true) and to one that does not, in the same run. Writes the
# "Schema validation on produce" section of docs/benchmarks.md (through
# bench/registry_report.py).
#
#   json-validated / json-plain   1 KiB JSON order records (bench/registry_tools.py: ~20 fields,
#                                 nested addresses, line items, enums, patterns), JSON Schema
#                                 draft-07 registered under <topic>-value
#   avro-validated / avro-plain   the same orders as Avro binary under an Avro schema
#   json-deep-validated / json-deep-plain
#                                 the JSON orders with BENCH_DEEP_INFLIGHT records in flight
#                                 (several Produce requests at the broker at once)
#
# Every run gets a fresh `herald serve` on free 127.0.0.1 ports with an empty data directory,
# stopped by its pid afterwards; the topic (one partition) is created and its schema registered
# over HTTP, then herald_bench --mode produce --values sends the records (acks=all, one
# producer, the same in-flight depth and number of records for every scenario). Repetitions are
# interleaved (rep 1 of every scenario, then rep 2, ...). After each run the topic's high watermark is read back, so
# the report can tell a run whose log does not hold what was acknowledged. Benchmarks are not
# tests: nothing here asserts on a timing; failed runs are recorded.
#
# Environment:
#   BUILD=dir             where herald and herald_bench live (default build/)
#   HERALD_BIN=path       the broker to measure (default $BUILD/herald)
#   HERALD_ARGS="..."     extra `herald serve` flags
#   BENCH_QUICK=1         short runs, for a smoke run of about a minute
#   BENCH_REPS=n          repetitions of every scenario (default 3); the report shows medians
#   BENCH_INFLIGHT=k      unacknowledged records of the producer (default 1000)
#   BENCH_DEEP_INFLIGHT=k the same for the json-deep scenarios (default 10000)
#   BENCH_REGISTRY_SCENARIOS="..."  subset of: json-validated json-plain avro-validated avro-plain
#                         json-deep-validated json-deep-plain
#   BENCH_DIR=dir         where data directories go (default /var/tmp; must be a real disk)
#   BENCH_NO_DOCS=1       keep results in bench/results/ only, do not rewrite docs/
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
HERALD_BIN=${HERALD_BIN:-$BUILD/herald}
HERALD_ARGS=${HERALD_ARGS-}
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-3}
INFLIGHT=${BENCH_INFLIGHT:-1000}
DEEP_INFLIGHT=${BENCH_DEEP_INFLIGHT:-10000}
SCENARIOS=${BENCH_REGISTRY_SCENARIOS:-"json-validated json-plain avro-validated avro-plain json-deep-validated json-deep-plain"}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TOOLS=$ROOT/bench/registry_tools.py

TOPIC=orders
DISTINCT=1000 # distinct records, sent in turn
# Validated JSON sends N_SLOW records (once the slow scenario, with fewer records so that every
# run lasted seconds; since the flat-document validator, the same number as the others).
if [ "$QUICK" = 1 ]; then
    N_RECORDS=200000 N_SLOW=200000 RUN_TIMEOUT=180
else
    N_RECORDS=1000000 N_SLOW=1000000 RUN_TIMEOUT=600
fi

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/results/$STAMP-registry
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herald-bench-registry.XXXXXX")
mkdir -p "$OUT/logs" "$OUT/raw"
RUNS=$OUT/runs.jsonl
: >"$RUNS"

say() { printf '%s bench-registry: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

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

# Appends one line to runs.jsonl: {"scenario","rep","system","cmd","ok","result"|"why"}; the
# result is herald_bench's line with "setup" (registry_tools.py prepare's line) and
# "high_watermark" (what the topic's log holds afterwards) added.
record() {
    $PY - "$@" >>"$RUNS" <<'EOF'
import json, sys
scenario, rep, cmd, ok, payload, setup, hwm = sys.argv[1:8]
line = {"scenario": scenario, "rep": int(rep), "system": "herald", "cmd": cmd, "ok": ok == "1"}
if ok == "1":
    line["result"] = json.loads(payload)
    line["result"]["setup"] = json.loads(setup) if setup.startswith("{") else None
    line["result"]["high_watermark"] = int(hwm) if hwm.lstrip("-").isdigit() else None
else:
    line["why"] = payload
print(json.dumps(line))
EOF
}

run_one() {
    local scenario=$1 rep=$2 fmt=${1%%-*} validate=0 setup hwm line rc cmd inflight=$INFLIGHT
    [ "${scenario%-validated}" != "$scenario" ] && validate=1
    [ "${scenario#*-deep-}" != "$scenario" ] && inflight=$DEEP_INFLIGHT
    if ! start_server; then
        record "$scenario" "$rep" "" 0 "server did not start" "" ""
        return
    fi
    say "rep $rep $scenario"
    local values=$WORK/values-$fmt.bin raw=$OUT/raw/$scenario-rep$rep.out
    setup=$($PY "$TOOLS" prepare --http "$HTTP_URL" --topic "$TOPIC" --format "$fmt" \
        --validate "$validate" --count "$DISTINCT" --out "$values" 2>>"$OUT/logs/$scenario.log" |
        grep '^{' | tail -1)
    if [ -z "$setup" ]; then
        record "$scenario" "$rep" "" 0 "setup failed (see logs/$scenario.log)" "" ""
        stop_server
        return
    fi
    local n=$N_RECORDS
    [ "$scenario" = json-validated ] && n=$N_SLOW
    cmd="herald_bench --mode produce --topic $TOPIC --values values-$fmt.bin --records $n --inflight $inflight --system herald-$scenario"
    timeout "$RUN_TIMEOUT" "$BUILD/herald_bench" --mode produce --topic "$TOPIC" --values "$values" \
        --records "$n" --inflight "$inflight" --system "herald-$scenario" \
        --addr "$KAFKA_ADDR" >"$raw" 2>>"$OUT/logs/$scenario.log"
    rc=$?
    line=$(grep '^{' "$raw" | tail -1)
    hwm=$($PY "$TOOLS" count --http "$HTTP_URL" --topic "$TOPIC" 2>>"$OUT/logs/$scenario.log" |
        $PY -c 'import json,sys; print(json.load(sys.stdin)["high_watermark"])' 2>/dev/null)
    if [ -n "$line" ]; then
        record "$scenario" "$rep" "$cmd" 1 "$line" "$setup" "${hwm:-}"
        [ $rc = 0 ] || say "  $scenario exited $rc (errors are in the result line)"
    else
        record "$scenario" "$rep" "$cmd" 0 "herald_bench exited $rc without a result" "" ""
        say "  $scenario failed: exit $rc"
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || say "  herald died during $scenario"
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
    "loadavg": open("/proc/loadavg").read().split()[0],
    "herald_bin": "$HERALD_BIN",
    "herald_version": sh("'$HERALD_BIN' --version 2>&1 | head -1"),
    "librdkafka": sh("pkg-config --modversion rdkafka"),
    "jansson": sh("pkg-config --modversion jansson"),
    "avro_c": sh("pkg-config --modversion avro-c"),
    "bench_commit": sh("git -C '$ROOT' rev-parse --short HEAD"),
    "quick": "$QUICK" == "1",
    "reps": $REPS,
    "records": $N_RECORDS,
    "records_slow": $N_SLOW,
    "distinct": $DISTINCT,
    "inflight": $INFLIGHT,
    "deep_inflight": $DEEP_INFLIGHT,
}, open(sys.argv[1], "w"), indent=1)
EOF
}

main() {
    say "results in $OUT; data in $WORK"
    [ -x "$HERALD_BIN" ] || { say "HERALD_BIN $HERALD_BIN is missing"; exit 1; }
    [ -x "$BUILD/herald_bench" ] || { say "$BUILD/herald_bench is missing"; exit 1; }
    machine_info
    for rep in $(seq "$REPS"); do
        for scenario in $SCENARIOS; do
            run_one "$scenario" "$rep"
        done
    done
    local docs_args=()
    [ "${BENCH_NO_DOCS:-0}" = 1 ] || docs_args=(--docs "$ROOT/docs")
    $PY "$ROOT/bench/registry_report.py" "$OUT" "${docs_args[@]}"
    say "done: $OUT"
}

main
