#!/usr/bin/env bash
# Runs Herald's benchmark suite against Herald, NATS JetStream, Redis Streams and Apache Kafka on this
# machine and regenerates docs/benchmarks.md and docs/bench/*.png (through bench/report.py).
#
# Every run gets a freshly started server on a free 127.0.0.1 port with an empty data directory,
# and every server is stopped by its pid afterwards. Repetitions are interleaved (rep 1 of every
# scenario and system, then rep 2, ...) so slow drift on a noisy machine spreads over all systems,
# and each repetition runs the systems in an order rotated by one (a rotation keeps each system's
# predecessor, so every run starts after a `sync`: none pays for the one before's writeback).
# Benchmarks are not tests: nothing here asserts on a timing; failed runs are recorded and skipped.
#
# Environment:
#   BUILD=dir              where herald_bench, nats_bench, redis_bench live (default build/)
#   HERALD_BIN=path        the broker to measure (default $BUILD/herald)
#   HERALD_ARGS="..."      extra `herald serve` flags (default: none, Herald's defaults)
#   BENCH_QUICK=1          shrink every scenario for a smoke run of a few minutes
#   BENCH_QUICK=2          a check of the scripts only (a few thousand records, no disk figures)
#   BENCH_REPS=n           repetitions per scenario and system (default 3)
#   BENCH_SYSTEMS="..."    subset of: herald nats redis-always redis-everysec kafka-durable kafka-default
#   BENCH_KAFKA_HEAP=size  the Kafka JVM's heap, -Xms and -Xmx (default 1g; bench/kafka_server.py)
#   KAFKA_LIB=dir          Apache Kafka's jars (default $BUILD/compat/kafka/lib, from `make compat-kafka`)
#   BENCH_SCENARIOS="..."  subset of scenario names (see SCENARIOS below); footprint is separate
#   BENCH_FOOTPRINT=0      skip the footprint measurements
#   BENCH_CATCHUP_BYTES=n  backlog size of the catch-up scenario (default 1 GiB)
#   BENCH_INFLIGHT=k       unacknowledged records per producer, all systems (default 1000)
#   BENCH_DEEP_INFLIGHT=k  the same for the produce-1k-deep scenario (default 10000)
#   BENCH_DIR=dir          where data directories go (default /var/tmp; must be a real disk)
#   BENCH_PROBE_SCENARIOS="..."  scenarios run alongside bench/stall_probe.c (default: latency)
#   BENCH_NO_DOCS=1        keep results in bench/results/ only, do not rewrite docs/
#   BENCH_SCALE_RECORDS=n  records of the partitions-1000 scenarios (default by size); the other
#                          partitions-* and producers-* scenarios run four times as many (but in
#                          the check mode), so that a fast system's run is not mostly its start
#                          and its drain (16 producers keep 16,000 records in flight)
#   BENCH_OUT=dir          where results go (default bench/results/<UTC time>)
#   BENCH_BASELINE=rev     also measure a build of this commit (e.g. HEAD~1) as the system
#                          herald-base, side by side; built once from `git archive` under
#                          $BUILD/baseline/<commit>/ (default: none)
# Herald variants usable in BENCH_SYSTEMS besides herald (the build under test, its defaults):
#   herald-journal, herald-nojournal  the same build with log.journal.enable forced on or off
#   herald-alljournal  journal on with every batch journaled (log.journal.direct.bytes -1: no
#                  adaptive direct writes)
#   herald-base    the BENCH_BASELINE build, its defaults
#   herald-nosync  the build under test with every sync a no-op (bench/shim/nosync_shim.c): the
#                  floor of the latency target, not durable
# Scenarios whose arguments start with "franz" use bench/franz (franz-go, many partitions per
# Produce request, as Kafka's Java client sends them) instead of herald_bench (librdkafka, one
# partition per request); they run against Herald's variants only.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
HERALD_BIN=${HERALD_BIN:-$BUILD/herald}
HERALD_ARGS=${HERALD_ARGS-}
QUICK=${BENCH_QUICK:-0}
REPS=${BENCH_REPS:-3}
SYSTEMS=${BENCH_SYSTEMS:-"herald nats redis-always redis-everysec kafka-durable kafka-default"}
INFLIGHT=${BENCH_INFLIGHT:-1000}
DEEP_INFLIGHT=${BENCH_DEEP_INFLIGHT:-10000}
CATCHUP_BYTES=${BENCH_CATCHUP_BYTES:-1073741824}
PROBE_SCENARIOS=${BENCH_PROBE_SCENARIOS:-latency}

if [ "$QUICK" = 2 ]; then
    N_1K=3000 N_100=3000 N_DEEP=3000 LAT_SECS=2 N_FANOUT=2000 N_SCALE=3000 DD_MB=8 RUN_TIMEOUT=120
    CATCHUP_BYTES=${BENCH_CATCHUP_BYTES:-3145728}
elif [ "$QUICK" = 1 ]; then
    N_1K=50000 N_100=100000 N_DEEP=100000 LAT_SECS=5 N_FANOUT=20000 N_SCALE=20000 DD_MB=256 RUN_TIMEOUT=180
    CATCHUP_BYTES=${BENCH_CATCHUP_BYTES:-67108864}
else
    N_1K=200000 N_100=500000 N_DEEP=600000 LAT_SECS=15 N_FANOUT=100000 N_SCALE=100000 DD_MB=1024
    RUN_TIMEOUT=900
fi
N_SCALE=${BENCH_SCALE_RECORDS:-$N_SCALE}
N_STEADY=$((N_SCALE * (QUICK == 2 ? 1 : 4))) # the check mode keeps its runs tiny
N_CATCHUP=$((CATCHUP_BYTES / 1024))

# name | driver arguments (the driver adds --addr and --system)
SCENARIOS=(
    "produce-1k|--mode produce --size 1024 --records $N_1K"
    "produce-1k-deep|--mode produce --size 1024 --records $N_DEEP --inflight $DEEP_INFLIGHT"
    "produce-100|--mode produce --size 100 --records $N_100"
    "latency|--mode latency --size 1024 --rate 5000 --duration $LAT_SECS --warmup 1 --linger-ms 0.5"
    "fanout|--mode fanout --size 1024 --records $N_FANOUT --consumers 5"
    "catchup|--mode catchup --size 1024 --records $N_CATCHUP"
    "partitions-1|--mode produce --size 1024 --records $N_STEADY --partitions 1"
    "partitions-10|--mode produce --size 1024 --records $N_STEADY --partitions 10"
    "partitions-100|--mode produce --size 1024 --records $N_STEADY --partitions 100"
    "partitions-1000|--mode produce --size 1024 --records $N_SCALE --partitions 1000"
    "producers-1|--mode produce --size 1024 --records $N_STEADY --partitions 16 --producers 1"
    "producers-4|--mode produce --size 1024 --records $N_STEADY --partitions 16 --producers 4"
    "producers-16|--mode produce --size 1024 --records $N_STEADY --partitions 16 --producers 16"
    # The same with franz-go as the producer (see the top of this file).
    "partitions-1-franz|franz --mode produce --size 1024 --records $N_STEADY --partitions 1"
    "partitions-100-franz|franz --mode produce --size 1024 --records $N_STEADY --partitions 100"
    "partitions-1000-franz|franz --mode produce --size 1024 --records $N_SCALE --partitions 1000"
    "producers-1-franz|franz --mode produce --size 1024 --records $N_STEADY --partitions 16 --producers 1"
    "producers-16-franz|franz --mode produce --size 1024 --records $N_STEADY --partitions 16 --producers 16"
)

STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=${BENCH_OUT:-$ROOT/bench/results/$STAMP}
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/herald-bench.XXXXXX")
mkdir -p "$OUT/configs" "$OUT/logs"
RUNS=$OUT/runs.jsonl
: >"$RUNS"

say() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=bench/run_kafka.sh
. "$ROOT/bench/run_kafka.sh"

SERVER_PID=
SERVER_ADDR=

cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until $1 (HOST:PORT) accepts TCP connections; prints the CLOCK_REALTIME ns it did.
wait_port() {
    "$BUILD/herald_bench" --mode waitport --addr "$1" --timeout "${2:-30}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_ns"])'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    # Kafka's controlled shutdown takes seconds; the others stop at once.
    for _ in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        say "pid $SERVER_PID ignored SIGTERM for 30 s; sending SIGKILL"
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

# Writes the configuration of system $1 for port $2 and data dir $3, the way it is run.
write_config() {
    local sys=$1 port=$2 dir=$3
    case $sys in
    nats)
        cat >"$dir/nats.conf" <<EOF
listen: 127.0.0.1:$port
jetstream {
  store_dir: "$dir/store"
  max_memory_store: 1G
  max_file_store: 64G
}
EOF
        ;;
    redis-always | redis-everysec)
        cat >"$dir/redis.conf" <<EOF
bind 127.0.0.1
port $port
dir $dir
daemonize no
save ""
appendonly yes
appendfsync ${sys#redis-}
EOF
        ;;
    esac
}

# Starts system $1 with an empty data dir; sets SERVER_PID and SERVER_ADDR.
start_server() {
    local sys=$1 port dir
    port=$(free_port)
    dir=$WORK/$sys-$port
    rm -rf "$WORK"/"$sys"-*
    mkdir -p "$dir"
    write_config "$sys" "$port" "$dir"
    local log=$OUT/logs/$sys.log
    if is_kafka "$sys"; then
        # bench/kafka_server.py picks its ports and waits until Kafka answers a request.
        if ! kafka_start "$sys" "$dir" "$log"; then
            say "$sys did not start (see $log)"
            return 1
        fi
        return 0
    fi
    case $sys in
    herald | herald-*)
        local bin=$HERALD_BIN extra= preload=
        case $sys in
        herald-journal) extra="--journal true" ;;
        herald-nojournal) extra="--journal false" ;;
        herald-alljournal) extra="--journal true --journal-direct-bytes -1" ;;
        herald-base) bin=$BASE_BIN ;;
        herald-nosync) preload=$BUILD/nosync_shim.so ;;
        esac
        # shellcheck disable=SC2086
        LD_PRELOAD=$preload "$bin" serve --kafka-addr "127.0.0.1:$port" --http-addr 127.0.0.1:0 --data-dir "$dir/data" \
            $HERALD_ARGS $extra >>"$log" 2>&1 &
        SERVER_ADDR=127.0.0.1:$port
        ;;
    nats)
        nats-server -c "$dir/nats.conf" >>"$log" 2>&1 &
        SERVER_ADDR=nats://127.0.0.1:$port
        ;;
    redis-*)
        redis-server "$dir/redis.conf" >>"$log" 2>&1 &
        SERVER_ADDR=127.0.0.1:$port
        ;;
    esac
    SERVER_PID=$!
    if ! wait_port "127.0.0.1:$port" 30 >/dev/null; then
        say "$sys did not start (see $log)"
        stop_server
        return 1
    fi
}

driver_for() {
    case $1 in
    herald | herald-* | kafka-*) echo "$BUILD/herald_bench" ;;
    nats) echo "$BUILD/nats_bench" ;;
    redis-*) echo "$BUILD/redis_bench" ;;
    esac
}

# Appends one line to runs.jsonl: {"scenario","rep","system","cmd","ok","result"|"why"} and, when
# a seventh argument is given, "probe": bench/stall_probe.c's result for the same window.
record() {
    python3 - "$@" >>"$RUNS" <<'EOF'
import json, os, sys
scenario, rep, system, cmd, ok, payload = sys.argv[1:7]
line = {"scenario": scenario, "rep": int(rep), "system": system, "cmd": cmd, "ok": ok == "1"}
if os.environ.get("BENCH_SERVER_CPU_S"):
    line["server_cpu_s"] = float(os.environ["BENCH_SERVER_CPU_S"])
if ok == "1":
    line["result"] = json.loads(payload)
else:
    line["why"] = payload
if len(sys.argv) > 7 and sys.argv[7].startswith("{"):
    line["probe"] = json.loads(sys.argv[7])
print(json.dumps(line))
EOF
}

run_one() {
    local scenario=$1 args=$2 rep=$3 sys=$4 driver out rc
    driver=$(driver_for "$sys")
    if [[ $args == franz\ * ]]; then
        [[ $sys == herald || $sys == herald-* ]] || return 0
        driver=$BUILD/franz_bench
        args=${args#franz }
    fi
    if [ ! -x "$driver" ]; then
        record "$scenario" "$rep" "$sys" "" 0 "driver $driver not built"
        return
    fi
    # The previous run's data is written back first, so that no run pays for the dirty pages of
    # the system before it (Redis with appendfsync always left enough for the next system's short
    # runs to lose a tenth to a third).
    sync
    if ! start_server "$sys"; then
        record "$scenario" "$rep" "$sys" "" 0 "server did not start"
        return
    fi
    # The default in-flight limit goes first: a scenario that sets its own overrides it.
    local cmd="${driver##*/} --inflight $INFLIGHT $args --system $sys"
    say "rep $rep $scenario $sys"
    # Latency runs also time an idle thread's wake-ups (bench/stall_probe.c), so that a stall of
    # the machine itself can be told from one of the server.
    local probe_pid= probe_out=$WORK/probe.out
    if [[ " $PROBE_SCENARIOS " == *" $scenario "* ]] && [ -x "$BUILD/stall_probe" ]; then
        "$BUILD/stall_probe" >"$probe_out" 2>/dev/null &
        probe_pid=$!
    fi
    # shellcheck disable=SC2086
    out=$(timeout "$RUN_TIMEOUT" "$driver" --inflight "$INFLIGHT" $args --system "$sys" \
        --addr "$SERVER_ADDR" 2>>"$OUT/logs/driver-$sys.log")
    rc=$?
    local probe=
    if [ -n "$probe_pid" ]; then
        kill -TERM "$probe_pid" 2>/dev/null
        wait "$probe_pid" 2>/dev/null
        probe=$(grep '^{' "$probe_out" | tail -1)
        rm -f "$probe_out"
    fi
    local line cpu
    line=$(printf '%s\n' "$out" | grep '^{' | tail -1)
    # The server's CPU time (user + system, all threads) over its whole run, from /proc.
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$SERVER_PID/stat" 2>/dev/null)
    if [ -n "$line" ]; then
        BENCH_SERVER_CPU_S=$cpu record "$scenario" "$rep" "$sys" "$cmd" 1 "$line" "$probe"
        [ $rc = 0 ] || say "  $sys $scenario exited $rc (errors are in the result line)"
    else
        record "$scenario" "$rep" "$sys" "$cmd" 0 "driver exited $rc without a result"
        say "  $sys $scenario failed: exit $rc"
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        say "  $sys died during $scenario"
    fi
    stop_server
}

# Builds the herald binary of commit $1 (once; kept under $BUILD/baseline/) and sets BASE_BIN.
BASE_BIN=
baseline_build() {
    local sha dir
    sha=$(git -C "$ROOT" rev-parse --short=12 "$1^{commit}") || return 1
    dir=$BUILD/baseline/$sha
    if [ ! -x "$dir/build/herald" ]; then
        say "building the baseline $1 ($sha) in $dir"
        rm -rf "$dir"
        mkdir -p "$dir/src"
        git -C "$ROOT" archive "$sha" | tar -x -C "$dir/src" || return 1
        cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHERALD_TESTS=OFF \
            >"$dir/build.log" 2>&1 && cmake --build "$dir/build" -j2 --target herald >>"$dir/build.log" 2>&1 ||
            { say "baseline build failed (see $dir/build.log)"; return 1; }
    fi
    BASE_BIN=$dir/build/herald
    echo "$sha" >"$OUT/baseline_commit"
}

machine_info() {
    local fs
    fs=$(df -T "$WORK" | awk 'NR==2 {print $2 " on " $1}')
    python3 - "$OUT/machine.json" "$fs" <<EOF
import json, sys, platform, subprocess, os
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception as e:
        return str(e)
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
info = {
    "date_utc": "$STAMP",
    "nproc": os.cpu_count(),
    "cpu": cpu,
    "mem": sh("free -h | awk '/^Mem:/ {print \$2}'"),
    "kernel": platform.release(),
    "filesystem": sys.argv[2],
    "data_dir": "${BENCH_DIR:-/var/tmp}",
    "herald_bin": "$HERALD_BIN",
    "herald_version": sh("'$HERALD_BIN' --version 2>&1 | head -1"),
    "nats_server": sh("nats-server --version 2>&1"),
    "redis_server": sh("redis-server --version 2>&1"),
    "librdkafka": sh("pkg-config --modversion rdkafka"),
    "cnats": sh("pkg-config --modversion libnats"),
    "hiredis": sh("pkg-config --modversion hiredis"),
    "kafka": " ".join(os.path.basename(p)[len("kafka_2.13-"):-len(".jar")]
                      for p in __import__("glob").glob("$KAFKA_LIB/kafka_2.13-*.jar")),
    "java": sh("java -version 2>&1 | head -1"),
    "kafka_heap": "${BENCH_KAFKA_HEAP:-1g}",
    "bench_commit": sh("git -C '$ROOT' rev-parse --short HEAD"),
    "quick": "$QUICK" == "1",
    "reps": $REPS,
    "inflight": $INFLIGHT,
    "deep_inflight": $DEEP_INFLIGHT,
    "catchup_bytes": $CATCHUP_BYTES,
}
json.dump(info, open(sys.argv[1], "w"), indent=1)
EOF
}

# Sequential write bandwidth with one fdatasync at the end, and synchronous 4 KiB writes per
# second: the ceiling for a broker that answers only after fsync.
disk_info() {
    local f=$WORK/dd.bin seq dsync
    seq=$(dd if=/dev/zero of="$f" bs=1M count="$DD_MB" conv=fdatasync 2>&1 | tail -1)
    rm -f "$f"
    dsync=$(dd if=/dev/zero of="$f" bs=4k count=2000 oflag=dsync 2>&1 | tail -1)
    rm -f "$f"
    # One journal round's sync: pwrite of 8 KiB + fdatasync into an initialized file.
    local probe=
    if [ -x "$BUILD/journal_sync_probe" ]; then
        mkdir -p "$WORK/probe"
        probe=$("$BUILD/journal_sync_probe" "$WORK/probe" 8192 1000 1 2>/dev/null | grep '^zeroed+fdatasync')
        rm -rf "$WORK/probe"
    fi
    python3 - "$OUT/disk.json" "$seq" "$dsync" "$DD_MB" "$probe" <<'EOF'
import json, re, sys
def parse(line):
    m = re.match(r"(\d+) bytes .* copied, ([0-9.,]+) s", line)
    return (int(m.group(1)), float(m.group(2).replace(",", "."))) if m else (0, 0.0)
b, s = parse(sys.argv[2])
b2, s2 = parse(sys.argv[3])
json.dump({"seq_write_mb_per_s": b / 1e6 / s if s else None, "seq_write_mib": int(sys.argv[4]),
           "seq_raw": sys.argv[2], "dsync_4k_writes_per_s": (b2 / 4096) / s2 if s2 else None,
           "dsync_raw": sys.argv[3],
           "fdatasync_p50_us": float(re.search(r"p50 +([0-9.]+)", sys.argv[5]).group(1))
           if re.search(r"p50 +([0-9.]+)", sys.argv[5]) else None,
           "fdatasync_raw": sys.argv[5]}, open(sys.argv[1], "w"), indent=1)
EOF
}

# Herald's footprint: idle RSS, RSS with 1,000 partitions and 1,000 idle connections, time from
# exec to accepting connections with those 1,000 partitions on disk, stripped binary size. The
# peers' idle RSS is measured the same way for context.
footprint() {
    local fp=$OUT/footprint.txt
    : >"$fp"
    ulimit -n 8192 2>/dev/null || say "could not raise the fd limit; 1,000 connections may fail"
    for sys in $SYSTEMS; do
        start_server "$sys" || continue
        sleep 1
        echo "idle_rss_kib $sys $(rss_kib "$SERVER_PID")" >>"$fp"
        if is_kafka "$sys"; then echo "startup_empty_ms $sys $KAFKA_READY_MS" >>"$fp"; fi
        stop_server
    done
    kafka_footprint "$fp"
    case " $SYSTEMS " in *" herald "*) ;; *) return ;; esac
    [ -x "$HERALD_BIN" ] || return
    local stripped=$WORK/herald.stripped
    strip -o "$stripped" "$HERALD_BIN" && echo "stripped_bytes herald $(stat -c %s "$stripped")" >>"$fp"
    echo "unstripped_bytes herald $(stat -c %s "$HERALD_BIN")" >>"$fp"

    start_server herald || return
    local dir addr=$SERVER_ADDR
    dir=$(ls -d "$WORK"/herald-[0-9]*)
    if "$BUILD/herald_bench" --mode create --partitions 1000 --size 100 --topic footprint \
        --addr "$addr" --system herald >>"$OUT/logs/footprint.log" 2>&1; then
        "$BUILD/herald_bench" --mode connections --connections 1000 --addr "$addr" \
            >"$WORK/conns.out" 2>>"$OUT/logs/footprint.log" &
        local cpid=$!
        for _ in $(seq 100); do
            grep -q opened "$WORK/conns.out" 2>/dev/null && break
            sleep 0.1
        done
        sleep 1
        echo "connections_opened herald $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["opened"])' "$WORK/conns.out" 2>/dev/null || echo 0)" >>"$fp"
        echo "busy_rss_kib herald $(rss_kib "$SERVER_PID")" >>"$fp"
        kill -TERM "$cpid" 2>/dev/null
        wait "$cpid" 2>/dev/null
    else
        say "footprint: could not create 1,000 partitions"
    fi
    stop_server
    # Restart on the same data dir, three times, timing exec -> first accepted connection with
    # bench/spawn_wait.c (which forks the server itself and polls every 100 us).
    for _ in 1 2 3; do
        local port out
        port=$(free_port)
        # shellcheck disable=SC2086
        out=$("$BUILD/spawn_wait" "$port" 60 "$OUT/logs/herald.log" -- "$HERALD_BIN" serve \
            --kafka-addr "127.0.0.1:$port" --data-dir "$dir/data" $HERALD_ARGS)
        SERVER_PID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$out")
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["ms"] >= 0 and print("startup_ms herald %.1f" % d["ms"])' "$out" >>"$fp"
        stop_server
    done
}

main() {
    say "results in $OUT; data in $WORK"
    [ -x "$HERALD_BIN" ] || say "HERALD_BIN $HERALD_BIN is missing: Herald runs will be recorded as failed"
    if [ -n "${BENCH_BASELINE:-}" ]; then
        baseline_build "$BENCH_BASELINE" || say "no baseline: herald-base runs will be recorded as failed"
    fi
    kafka_check
    machine_info
    if [ "$QUICK" != 2 ]; then
        disk_info
        cat "$OUT/disk.json" >&2
    fi
    for sys in $SYSTEMS; do
        local dir=$WORK/config-sample
        mkdir -p "$dir"
        write_config "$sys" PORT "$dir"
        case $sys in
        nats) sed "s|$dir|DATA_DIR|" "$dir/nats.conf" >"$OUT/configs/nats.conf" ;;
        redis-*) sed "s|$dir|DATA_DIR|" "$dir/redis.conf" >"$OUT/configs/$sys.conf" ;;
        herald) echo "herald serve --kafka-addr 127.0.0.1:PORT --data-dir DATA_DIR/data $HERALD_ARGS" \
            >"$OUT/configs/herald.cmdline" ;;
        kafka-*) kafka_config_sample "$sys" ;;
        esac
        rm -rf "$dir"
    done
    if [ "${BENCH_FOOTPRINT:-1}" != 0 ]; then
        footprint
        cat "$OUT/footprint.txt" >&2
    fi
    local systems=($SYSTEMS)
    for rep in $(seq "$REPS"); do
        # Each repetition starts one system further along, so that no system always runs first
        # in a scenario, right after the previous scenario's runs (whose writeback may still be
        # under way).
        local order=() k
        for k in "${!systems[@]}"; do
            order+=("${systems[$(((k + rep - 1) % ${#systems[@]}))]}")
        done
        for entry in "${SCENARIOS[@]}"; do
            local name=${entry%%|*} args=${entry#*|}
            if [ -n "${BENCH_SCENARIOS:-}" ] && [[ " $BENCH_SCENARIOS " != *" $name "* ]]; then
                continue
            fi
            for sys in "${order[@]}"; do
                run_one "$name" "$args" "$rep" "$sys"
            done
        done
    done
    local docs_args=()
    [ "${BENCH_NO_DOCS:-0}" = 1 ] || docs_args=(--docs "$ROOT/docs")
    python3 "$ROOT/bench/report.py" "$OUT" "${docs_args[@]}"
    say "done: $OUT"
}

main
