"""Measures how long a group takes to consume a departed member's partitions again: the time from
the departure (SIGTERM: the consumer leaves the group; SIGKILL: no leave, the session expires) to
the first record of one of its partitions processed by the surviving member. A producer keeps
writing to every partition meanwhile. Prints the median of N runs of each.
usage: HERALD_BIN=build/herald python3 measure_rebalance.py [RUNS] [SESSION_MS]"""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import create_topic, make_producer  # noqa: E402
from conftest import HERALD_BIN, free_port, port_open  # noqa: E402
from test_groups import Worker  # noqa: E402

runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
session = sys.argv[2] if len(sys.argv) > 2 else "6000"
tmp = tempfile.mkdtemp(prefix="herald-measure-")
port = free_port()
addr = "127.0.0.1:%d" % port
herald = subprocess.Popen([HERALD_BIN, "serve", "--kafka-addr", addr, "--http-addr", "127.0.0.1:0",
                           "--data-dir", tmp + "/data"],
                          stdout=open(tmp + "/herald.log", "w"), stderr=subprocess.STDOUT)
try:
    for _ in range(100):
        if port_open(port):
            break
        time.sleep(0.05)
    create_topic(addr, "m", 6)
    stop = []

    def produce():
        p = make_producer(addr, linger_ms=1)
        i = 0
        while not stop:
            p.produce("m", b"%d" % i, partition=i % 6)
            p.poll(0)
            i += 1
            time.sleep(0.02)  # ~50 records/s: the survivor is never backlogged
        p.flush(10)

    t = threading.Thread(target=produce)
    t.start()
    results = {"leave": [], "kill": []}
    for n in range(runs):
        for how in ("leave", "kill"):
            g = "g-%s-%d" % (how, n)
            a = Worker(tmp, addr, g, "m", "a", "--session", session).start()
            b = Worker(tmp, addr, g, "m", "b", "--session", session).start()
            deadline = time.time() + 30
            while time.time() < deadline and not (len(a.assignment()) == 3 and
                                                  len(b.assignment()) == 3):
                time.sleep(0.05)
            time.sleep(1.0)
            moved = b.assignment()
            t0 = time.time()
            if how == "leave":
                b.stop()
            else:
                b.kill()
            got = None
            deadline = time.time() + 30
            while time.time() < deadline and got is None:
                for ln in a.lines():
                    if ln.startswith("F "):
                        _, p, ts = ln.split()
                        if int(p) in moved and float(ts) > t0:
                            got = float(ts) - t0
                            break
                time.sleep(0.02)
            a.stop()
            results[how].append(got)
            print("%s run %d: %s s" % (how, n + 1, "%.3f" % got if got else "timeout"),
                  flush=True)
    stop.append(1)
    t.join(20)
    for how, xs in results.items():
        ok = [x for x in xs if x is not None]
        print("%s (session.timeout.ms=%s): median %.3f s over %d runs %s" %
              (how, session, statistics.median(ok), len(ok), ["%.2f" % x for x in ok]))
finally:
    herald.send_signal(signal.SIGTERM)
    herald.wait(15)
