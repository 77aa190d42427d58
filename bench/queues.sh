#!/usr/bin/env bash
# Benchmarks work queues, in the same run, and writes the "Queues" section of docs/benchmarks.md
# (through bench/queues_report.py): receive+ack throughput of 1, 4 and 16 competing workers
# (bench/queue_bench.c) against
#   herald    a subscription, consumed over its WebSocket (max_unacked = 100 per worker)
#   rabbitmq  a quorum queue with manual acks (prefetch 100 per worker)
#   nats      a JetStream work-queue stream with one durable pull consumer, explicit acks
#             (fetches of up to 100 per worker)
# each preloaded with the same records (BENCH_QUEUE_RECORDS of 1 KiB) before the workers start.
#
# Herald and NATS get a fresh server with an empty data directory for every run; RabbitMQ (slow
# to start) one per repetition, with a new queue per run, deleted after it. Every server runs on
# free 127.0.0.1 ports and is stopped by its pid (RabbitMQ by rabbitmqctl stop, then its own
# epmd, on a private port). Repetitions are interleaved; the report shows medians.
#
# Environment:
#   BUILD=dir                 where herald and queue_bench live (default build/)
#   HERALD_BIN=path           the broker to measure (default $BUILD/herald)
#   BENCH_QUICK=1             short runs (20,000 records)
#   BENCH_REPS=n              repetitions (default 3)
#   BENCH_QUEUE_WORKERS="1 4 16"
#   BENCH_QUEUE_SYSTEMS="herald rabbitmq nats"
#   BENCH_QUEUE_RECORDS=n     records per run (default 200000)
#   BENCH_DIR=dir             where data directories go (default /var/tmp; must be a real disk)
#   BENCH_NO_DOCS=1           keep results in bench/results/ only, do not rewrite docs/
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
HERALD_BIN=${HERALD_BIN:-$BUILD/herald}
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-3}
WORKERS=${BENCH_QUEUE_WORKERS:-"1 4 16"}
SYSTEMS=${BENCH_QUEUE_SYSTEMS:-"herald rabbitmq nats"}
if [ "$QUICK" = 1 ]; then
    RECORDS=${BENCH_QUEUE_RECORDS:-20000} RUN_TIMEOUT=180
else
    RECORDS=${BENCH_QUEUE_RECORDS:-200000} RUN_TIMEOUT=600
fi
SIZE=1024
MAX_UNACKED=100
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
RMQ_BIN=${RMQ_BIN:-/usr/lib/rabbitmq/bin}

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/results/$STAMP-queues
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herald-bench-queues.XXXXXX")
mkdir -p "$OUT/logs" "$OUT/raw"
RUNS=$OUT/runs.jsonl
: >"$RUNS"

say() { printf '%s bench-queues: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

SERVER_PID=
RMQ_UP=
RMQ_PID=
cleanup() {
    stop_server
    stop_rabbitmq
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 secs=$2 i
    for i in $(seq $((secs * 10))); do
        (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

# Starts herald or nats with an empty data dir; sets SERVER_PID and ADDR (what queue_bench takes).
start_server() {
    local sys=$1 port dir
    port=$(free_port)
    dir=$WORK/$sys-$port
    rm -rf "$WORK"/herald-* "$WORK"/nats-*
    mkdir -p "$dir"
    case $sys in
    herald)
        local kport
        kport=$(free_port)
        "$HERALD_BIN" serve --kafka-addr "127.0.0.1:$kport" --http-addr "127.0.0.1:$port" \
            --data-dir "$dir/data" >>"$OUT/logs/herald.log" 2>&1 &
        ADDR=127.0.0.1:$port
        ;;
    nats)
        cat >"$dir/nats.conf" <<EOF
listen: 127.0.0.1:$port
jetstream {
  store_dir: "$dir/store"
  max_memory_store: 1G
  max_file_store: 64G
}
EOF
        nats-server -c "$dir/nats.conf" >>"$OUT/logs/nats.log" 2>&1 &
        ADDR=nats://127.0.0.1:$port
        ;;
    esac
    SERVER_PID=$!
    if ! wait_port "$port" 30; then
        say "$sys did not start (see $OUT/logs/$sys.log)"
        stop_server
        return 1
    fi
}

# RabbitMQ as this user, everything under $WORK/rabbitmq (its own node name, ports and epmd).
rmq_env() {
    local d=$WORK/rabbitmq
    export HOME=$d RABBITMQ_NODENAME=herald-bench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT=$RMQ_PORT RABBITMQ_DIST_PORT=$RMQ_DIST ERL_EPMD_PORT=$RMQ_EPMD \
        RABBITMQ_MNESIA_BASE=$d/mnesia RABBITMQ_LOG_BASE=$d/log RABBITMQ_LOGS=$d/log/rabbit.log \
        RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins RABBITMQ_CONFIG_FILE=$d/rabbitmq \
        RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config RABBITMQ_PID_FILE=$d/pid
}

start_rabbitmq() {
    RMQ_PORT=$(free_port) RMQ_DIST=$(free_port) RMQ_EPMD=$(free_port)
    rm -rf "$WORK/rabbitmq"
    mkdir -p "$WORK/rabbitmq/log"
    echo "[]." >"$WORK/rabbitmq/enabled_plugins"
    printf 'listeners.tcp.default = %s\nloopback_users.guest = true\n' "$RMQ_PORT" \
        >"$WORK/rabbitmq/rabbitmq.conf"
    (rmq_env && exec "$RMQ_BIN/rabbitmq-server") >>"$OUT/logs/rabbitmq.log" 2>&1 &
    RMQ_PID=$!
    RMQ_UP=1
    if ! wait_port "$RMQ_PORT" 120; then
        say "rabbitmq did not start (see $OUT/logs/rabbitmq.log)"
        stop_rabbitmq
        return 1
    fi
}

stop_rabbitmq() {
    [ -n "$RMQ_UP" ] || return 0
    (rmq_env && "$RMQ_BIN/rabbitmqctl" stop) >>"$OUT/logs/rabbitmq.log" 2>&1
    for _ in $(seq 300); do
        kill -0 "$RMQ_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$RMQ_PID" 2>/dev/null && kill -TERM "$RMQ_PID" 2>/dev/null
    wait "$RMQ_PID" 2>/dev/null
    (rmq_env && epmd -kill) >/dev/null 2>&1
    RMQ_UP= RMQ_PID=
}

record() {
    $PY - "$@" >>"$RUNS" <<'EOF'
import json, sys
scenario, rep, system, cmd, ok, payload = sys.argv[1:7]
line = {"scenario": scenario, "rep": int(rep), "system": system, "cmd": cmd, "ok": ok == "1"}
if ok == "1":
    line["result"] = json.loads(payload)
else:
    line["why"] = payload
print(json.dumps(line))
EOF
}

run_one() {
    local sys=$1 workers=$2 rep=$3 scenario=queue-w$2
    local raw=$OUT/raw/$scenario-$sys-rep$rep.out line rc
    if [ "$sys" != rabbitmq ]; then
        start_server "$sys" || { record "$scenario" "$rep" "$sys" "" 0 "server did not start"; return; }
    elif [ -z "$RMQ_UP" ]; then
        record "$scenario" "$rep" "$sys" "" 0 "rabbitmq is not running"
        return
    else
        ADDR=127.0.0.1:$RMQ_PORT
    fi
    say "rep $rep $scenario $sys"
    local cmd=(queue_bench --system "$sys" --addr "$ADDR" --workers "$workers" --records "$RECORDS"
        --size "$SIZE" --max-unacked "$MAX_UNACKED")
    timeout "$RUN_TIMEOUT" "$BUILD/${cmd[0]}" "${cmd[@]:1}" >"$raw" 2>>"$OUT/logs/$scenario.log"
    rc=$?
    line=$(grep '^{' "$raw" | tail -1)
    if [ -n "$line" ] && [ $rc = 0 ]; then
        record "$scenario" "$rep" "$sys" "${cmd[*]}" 1 "$line"
    else
        record "$scenario" "$rep" "$sys" "${cmd[*]}" 0 "exited $rc: ${line:-no result}"
        say "  $scenario $sys failed: exit $rc"
    fi
    [ "$sys" = rabbitmq ] || stop_server
}

machine_info() {
    $PY - "$OUT/machine.json" <<EOF
import json, sys, platform, subprocess, os
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as e:
        return str(e)
json.dump({
    "date_utc": "$STAMP",
    "nproc": os.cpu_count(),
    "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
    "kernel": platform.release(),
    "herald_version": sh("'$HERALD_BIN' --version 2>&1 | head -1"),
    "nats_server": sh("nats-server --version 2>&1"),
    "rabbitmq": sh("dpkg-query -W -f='\${Version}' rabbitmq-server 2>/dev/null"),
    "librabbitmq": sh("dpkg-query -W -f='\${Version}' librabbitmq-dev 2>/dev/null"),
    "libnats": sh("dpkg-query -W -f='\${Version}' libnats-dev 2>/dev/null"),
    "bench_commit": sh("git -C '$ROOT' rev-parse --short HEAD"),
    "quick": "$QUICK" == "1",
    "reps": $REPS,
    "records": $RECORDS,
    "size": $SIZE,
    "max_unacked": $MAX_UNACKED,
    "workers": "$WORKERS".split(),
    "systems": "$SYSTEMS".split(),
}, open(sys.argv[1], "w"), indent=1)
EOF
}

has() { [[ " $SYSTEMS " == *" $1 "* ]]; }

main() {
    say "results in $OUT; data in $WORK"
    [ -x "$HERALD_BIN" ] || { say "HERALD_BIN $HERALD_BIN is missing"; exit 1; }
    [ -x "$BUILD/queue_bench" ] || { say "$BUILD/queue_bench is missing (make bench-deps, then build)"; exit 1; }
    machine_info
    for rep in $(seq "$REPS"); do
        if has rabbitmq; then
            say "rep $rep: starting rabbitmq"
            start_rabbitmq
        fi
        for w in $WORKERS; do
            for sys in $SYSTEMS; do
                run_one "$sys" "$w" "$rep"
            done
        done
        stop_rabbitmq
    done
    local docs_args=()
    [ "${BENCH_NO_DOCS:-0}" = 1 ] || docs_args=(--docs "$ROOT/docs")
    $PY "$ROOT/bench/queues_report.py" "$OUT" "${docs_args[@]}"
    say "done: $OUT"
}

main
