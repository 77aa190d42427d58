#!/usr/bin/env python3
"""Runs Apache Kafka itself for the benchmarks (bench/run.sh): one KRaft process that is both
broker and controller, from the jars `make compat-kafka` puts in $BUILD/compat/kafka/lib, on free
127.0.0.1 ports, with its storage in a directory the caller owns.

Two configurations, named as bench/run.sh names its systems:
  kafka-durable  log.flush.interval.messages=1: every append is fsynced before it is acknowledged,
                 as Herald does;
  kafka-default  Kafka's defaults: appends go to the page cache, flushed by the kernel's writeback.
Everything else is Kafka's default for a single node (replication factors 1). The JVM runs as
bin/kafka-server-start.sh runs it: a fixed heap (BENCH_KAFKA_HEAP, default 1g, the script's -Xmx1G
-Xms1G) and G1 with its pause goal.

  kafka_server.py start SYSTEM DIR [--log FILE] [--timeout S] [--template TDIR] [--class-log FILE]
      Writes DIR/server.properties (unless DIR already holds a formatted broker, which is then
      started again on its ports), gives DIR/data an empty formatted storage (formatted once with
      kafka-storage into TDIR and copied from there afterwards), starts the JVM detached, and waits
      until it answers an ApiVersions request. Prints one JSON line:
      {"pid","addr","tcp_ms","ready_ms"}: the milliseconds from exec to the first accepted TCP
      connection and to the first answered Kafka request. The caller stops the pid (SIGTERM).
  kafka_server.py config SYSTEM DIR
      Writes DIR/server.properties with placeholder ports, for the record of configurations.
  kafka_server.py jars [--class-log FILE]
      Prints {"lib_bytes","jars_loaded","jars_loaded_bytes","jre_kib","jre"}: the size of the jars
      installed, of those the broker loaded a class from (the class log of a start), and of the
      Java runtime's Debian package.
"""
import argparse
import base64
import glob
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
KAFKA_LIB = os.environ.get("KAFKA_LIB", os.path.join(BUILD, "compat", "kafka", "lib"))
HEAP = os.environ.get("BENCH_KAFKA_HEAP", "1g")
SYSTEMS = ("kafka-durable", "kafka-default")
# bin/kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
JVM_OPTS = ["-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true"]

LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""


def die(msg):
    print("kafka_server: %s" % msg, file=sys.stderr)
    sys.exit(1)


def classpath():
    if not glob.glob(os.path.join(KAFKA_LIB, "kafka_2.13-*.jar")):
        die("Apache Kafka's jars are not in %s: run `make compat-kafka`" % KAFKA_LIB)
    return os.path.join(KAFKA_LIB, "*")


def java():
    j = shutil.which("java")
    if not j:
        die("java is not installed")
    return j


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def properties(system, port, controller_port, data):
    lines = [
        "# Apache Kafka in KRaft mode, one node that is broker and controller (bench/kafka_server.py).",
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@127.0.0.1:%s" % controller_port,
        "listeners=PLAINTEXT://127.0.0.1:%s,CONTROLLER://127.0.0.1:%s" % (port, controller_port),
        "advertised.listeners=PLAINTEXT://127.0.0.1:%s" % port,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs=%s" % data,
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
    ]
    if system == "kafka-durable":
        lines += ["# fsync every append before it is acknowledged, as Herald does.",
                  "log.flush.interval.messages=1"]
    else:
        lines += ["# Kafka's default flush policy: none of its own, the kernel writes back."]
    return "\n".join(lines) + "\n"


def write_config(system, d, port, controller_port, log):
    with open(os.path.join(d, "server.properties"), "w") as f:
        f.write(properties(system, port, controller_port, os.path.join(d, "data")))
    with open(os.path.join(d, "log4j2.properties"), "w") as f:
        f.write(LOG4J2.format(log=log))


def java_argv(main, *args, log4j, heap, class_log=None):
    argv = [java(), "-Xms" + heap, "-Xmx" + heap] + JVM_OPTS
    if class_log:
        argv.append("-Xlog:class+load=info:file=%s" % class_log)
    return argv + ["-Dlog4j2.configurationFile=" + log4j, "-cp", classpath(), main] + list(args)


def format_storage(d, template):
    """Gives d/data a freshly formatted, empty storage: kafka-storage formats `template` once (a
    JVM start of its own), later calls copy it. The ports in server.properties do not reach the
    storage, so one template serves every start."""
    data = os.path.join(d, "data")
    if not os.path.exists(os.path.join(template, "meta.properties")):
        work = template + ".format"
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        props = os.path.join(work, "server.properties")
        with open(props, "w") as f:
            f.write(properties("kafka-default", free_port(), free_port(), os.path.join(work, "data")))
        log4j = os.path.join(work, "log4j2.properties")
        with open(log4j, "w") as f:
            f.write(LOG4J2.format(log=os.path.join(work, "format.log")))
        # One that starts with "-" would be read as an option by the storage tool (1 in 64).
        cid = "-"
        while cid.startswith("-"):
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        r = subprocess.run(java_argv("kafka.tools.StorageTool", "format", "-t", cid, "-c", props,
                                     log4j=log4j, heap="256m"),
                           capture_output=True, text=True, timeout=180)
        if r.returncode != 0:
            die("kafka-storage format failed:\n%s%s" % (r.stdout, r.stderr))
        shutil.rmtree(template, ignore_errors=True)
        os.rename(os.path.join(work, "data"), template)
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(template, data)


def api_versions_answered(port, timeout):
    """True when 127.0.0.1:port answers an ApiVersions v0 request within timeout seconds."""
    cid = b"bench"
    body = struct.pack(">hhih", 18, 0, 7, len(cid)) + cid
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            got = b""
            while len(got) < 10:
                chunk = s.recv(4096)
                if not chunk:
                    return False
                got += chunk
            size, corr, err = struct.unpack(">iih", got[:10])
            return corr == 7 and err == 0 and size >= 6
    except OSError:
        return False


def tcp_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def start(a):
    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)
    ports_file = os.path.join(d, "ports.json")
    log = os.path.abspath(a.log or os.path.join(d, "kafka.log"))
    if os.path.exists(os.path.join(d, "data", "meta.properties")) and os.path.exists(ports_file):
        with open(ports_file) as f:
            ports = json.load(f)
    else:
        ports = {"port": free_port(), "controller_port": free_port()}
        template = a.template or os.path.join(d, "storage-template")
        format_storage(d, template)
        with open(ports_file, "w") as f:
            json.dump(ports, f)
    write_config(a.system, d, ports["port"], ports["controller_port"], log)
    argv = java_argv("kafka.Kafka", os.path.join(d, "server.properties"),
                     log4j=os.path.join(d, "log4j2.properties"), heap=HEAP,
                     class_log=a.class_log)
    out = open(log, "ab")
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
    out.close()
    port = ports["port"]
    tcp_ms = ready_ms = None
    deadline = t0 + a.timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            die("kafka exited with %s during startup (see %s)" % (p.returncode, log))
        if tcp_ms is None and tcp_open(port):
            tcp_ms = (time.monotonic() - t0) * 1e3
        if tcp_ms is not None and api_versions_answered(port, 1.0):
            ready_ms = (time.monotonic() - t0) * 1e3
            break
        time.sleep(0.002)
    if ready_ms is None:
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        die("kafka did not answer on port %d within %.0f s (see %s)" % (port, a.timeout, log))
    print(json.dumps({"pid": p.pid, "addr": "127.0.0.1:%d" % port,
                      "tcp_ms": round(tcp_ms, 1), "ready_ms": round(ready_ms, 1)}))
    sys.stdout.flush()
    # The broker outlives this process; the caller stops it by its pid.
    os._exit(0)


def config(a):
    os.makedirs(a.dir, exist_ok=True)
    text = properties(a.system, "PORT", "CONTROLLER_PORT", "DATA_DIR")
    argv = ["java", "-Xms" + HEAP, "-Xmx" + HEAP] + JVM_OPTS + [
        "-cp", "KAFKA_LIB/*", "kafka.Kafka", "server.properties"]
    with open(os.path.join(a.dir, "server.properties"), "w") as f:
        f.write("# " + " ".join(argv) + "\n" + text)


def jars(a):
    def size(paths):
        return sum(os.path.getsize(p) for p in paths)

    lib = glob.glob(os.path.join(KAFKA_LIB, "*.jar"))
    loaded = set()
    if a.class_log and os.path.exists(a.class_log):
        with open(a.class_log, errors="replace") as f:
            for line in f:
                i = line.find("source: ")
                if i < 0:
                    continue
                src = line[i + 8:].strip()
                src = src[len("jar:"):] if src.startswith("jar:") else src
                src = src[len("file:"):] if src.startswith("file:") else src
                src = src.split("!")[0]
                if src.endswith(".jar") and os.path.exists(src):
                    loaded.add(src)
    jre_kib = None
    jre = ""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Installed-Size}\\n",
                        "openjdk-*-jre-headless"], capture_output=True, text=True)
    ver = subprocess.run([java(), "-version"], capture_output=True, text=True).stderr
    major = ver.split('"')[1].split(".")[0] if '"' in ver else ""
    for line in r.stdout.splitlines():
        name, _, kib = line.partition(" ")
        if kib.strip().isdigit() and name == "openjdk-%s-jre-headless" % major:
            jre_kib, jre = int(kib), name
    print(json.dumps({"lib_bytes": size(lib), "lib_jars": len(lib), "jars_loaded": len(loaded),
                      "jars_loaded_bytes": size(loaded), "jre_kib": jre_kib, "jre": jre}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("system", choices=SYSTEMS)
    s.add_argument("dir")
    s.add_argument("--log")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("--template")
    s.add_argument("--class-log")
    c = sub.add_parser("config")
    c.add_argument("system", choices=SYSTEMS)
    c.add_argument("dir")
    j = sub.add_parser("jars")
    j.add_argument("--class-log")
    a = ap.parse_args()
    {"start": start, "config": config, "jars": jars}[a.cmd](a)


if __name__ == "__main__":
    main()
