# Apache Kafka in bench/run.sh, which sources this file: its two systems (kafka-durable, fsync
# before acknowledging as Herald does; kafka-default, page cache only) are started through
# bench/kafka_server.py from the jars `make compat-kafka` fetched, driven by the same herald_bench
# client as Herald, and stopped by pid like every other server. Uses run.sh's ROOT, BUILD, WORK,
# OUT, SYSTEMS, SERVER_PID, SERVER_ADDR, say, rss_kib, stop_server and start_server.
# shellcheck shell=bash

KAFKA_LIB=${KAFKA_LIB:-$BUILD/compat/kafka/lib}
export KAFKA_LIB BUILD
KAFKA_TEMPLATE=$WORK/kafka-storage-template

is_kafka() { [[ $1 == kafka-* ]]; }

# Drops the Kafka systems from SYSTEMS, with a word, when the jars or java are missing.
kafka_check() {
    case " $SYSTEMS " in *" kafka-"*) ;; *) return 0 ;; esac
    if compgen -G "$KAFKA_LIB/kafka_2.13-*.jar" >/dev/null && command -v java >/dev/null; then
        return 0
    fi
    say "Apache Kafka's jars are not in $KAFKA_LIB (make compat-kafka) or java is missing: Kafka is left out"
    local s keep=
    for s in $SYSTEMS; do is_kafka "$s" || keep="$keep $s"; done
    SYSTEMS=${keep# }
}

# Starts Kafka system $1 on data dir $2 (an empty one is formatted from the run's storage
# template; one holding a broker is started again), logging to $3; extra arguments go to
# kafka_server.py start. Sets SERVER_PID, SERVER_ADDR, KAFKA_READY_MS and KAFKA_TCP_MS.
kafka_start() {
    local sys=$1 dir=$2 log=$3 out
    shift 3
    out=$(python3 "$ROOT/bench/kafka_server.py" start "$sys" "$dir" --log "$log" \
        --template "$KAFKA_TEMPLATE" "$@" 2>>"$log") || return 1
    read -r SERVER_PID SERVER_ADDR KAFKA_READY_MS KAFKA_TCP_MS < <(python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["pid"], d["addr"], d["ready_ms"], d["tcp_ms"])' "$out")
}

# The configuration of Kafka system $1 as it is run, with placeholders for ports and paths.
kafka_config_sample() {
    local sys=$1 dir=$WORK/kafka-config-sample
    python3 "$ROOT/bench/kafka_server.py" config "$sys" "$dir" &&
        cp "$dir/server.properties" "$OUT/configs/$sys.properties"
    rm -rf "$dir"
}

# Kafka's footprint beyond the idle RSS footprint() measures for every system: RSS with 1,000
# partitions and 1,000 idle connections, time from exec to answering a request with those
# partitions on disk (the idle starts give the time with an empty storage), and what has to be
# installed to run it (the jars it loaded classes from, the Java runtime). One Kafka system is
# enough: the flush setting changes none of these.
kafka_footprint() {
    local fp=$1 sys= s
    for s in $SYSTEMS; do is_kafka "$s" && sys=$s && break; done
    [ -n "$sys" ] || return 0
    local dir=$WORK/$sys-footprint log=$OUT/logs/$sys.log classes=$WORK/kafka-classes.log
    rm -rf "$dir"
    kafka_start "$sys" "$dir" "$log" --class-log "$classes" || {
        say "footprint: $sys did not start"
        return
    }
    rm -f "$WORK/conns.out"
    if "$BUILD/herald_bench" --mode create --partitions 1000 --size 100 --topic footprint \
        --addr "$SERVER_ADDR" --system "$sys" >>"$OUT/logs/footprint.log" 2>&1; then
        "$BUILD/herald_bench" --mode connections --connections 1000 --addr "$SERVER_ADDR" \
            >"$WORK/conns.out" 2>>"$OUT/logs/footprint.log" &
        local cpid=$!
        # Kafka accepts from a listen backlog of 50 (socket.listen.backlog.size): the 1,000
        # connections can take seconds to open while it settles the new partitions.
        for _ in $(seq 600); do
            grep -q opened "$WORK/conns.out" 2>/dev/null && break
            sleep 0.1
        done
        sleep 1
        echo "connections_opened $sys $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["opened"])' "$WORK/conns.out" 2>/dev/null || echo 0)" >>"$fp"
        echo "busy_rss_kib $sys $(rss_kib "$SERVER_PID")" >>"$fp"
        kill -TERM "$cpid" 2>/dev/null
        wait "$cpid" 2>/dev/null
    else
        say "footprint: could not create 1,000 partitions on $sys"
    fi
    stop_server
    python3 "$ROOT/bench/kafka_server.py" jars --class-log "$classes" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print("install_jars_bytes %s %d" % (sys.argv[1], d["jars_loaded_bytes"]))
print("install_jars_count %s %d" % (sys.argv[1], d["jars_loaded"]))
print("lib_jars_bytes %s %d" % (sys.argv[1], d["lib_bytes"]))
if d["jre_kib"]:
    print("jre_kib %s %d" % (sys.argv[1], d["jre_kib"]))' "$sys" >>"$fp"
    # Started again on the same storage, three times: a cold JVM each time.
    for _ in 1 2 3; do
        kafka_start "$sys" "$dir" "$log" || continue
        echo "startup_ms $sys $KAFKA_READY_MS" >>"$fp"
        echo "startup_tcp_ms $sys $KAFKA_TCP_MS" >>"$fp"
        stop_server
    done
}
