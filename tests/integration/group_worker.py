"""One member of a consumer group, run as its own process by test_groups.py so that it can be
stopped (SIGTERM: close() leaves the group) or killed (SIGKILL: no leave, the session expires).

It commits synchronously after processing each record, and appends one line per event to --out:
  R <partition> <offset> <value>   a record was processed
  A <p,p,...>                      the full assignment after a rebalance (eager assignors)
  + <p,p,...> / - <p,p,...>        incremental assign / revoke (cooperative-sticky)
  T <unix time>                    written with every assignment change
  F <partition> <unix time>        the first record of a partition since the last assignment
usage: group_worker.py ADDR GROUP TOPIC OUT [--assignor NAME] [--instance ID] [--session MS]
                       [--client-id ID] [--protocol classic|consumer]
With --protocol consumer (KIP-848, librdkafka 2.4+) the broker assigns (--assignor names its
assignor, if given), session and heartbeat times are the broker's, and rebalances are incremental.
"""
import argparse
import os
import signal
import sys
import time

from confluent_kafka import Consumer

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("group")
ap.add_argument("topic")
ap.add_argument("out")
ap.add_argument("--assignor", default="range")
ap.add_argument("--instance")
ap.add_argument("--session", type=int, default=6000)
ap.add_argument("--client-id", default="rdkafka")
ap.add_argument("--max-seconds", type=float, default=120.0)
ap.add_argument("--protocol", default="classic")
args = ap.parse_args()

out = open(args.out, "a", buffering=1)
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

conf = {"bootstrap.servers": args.addr, "group.id": args.group,
        "auto.offset.reset": "earliest", "enable.auto.commit": False,
        "session.timeout.ms": args.session, "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": args.assignor, "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000, "socket.timeout.ms": 10000,
        "client.id": args.client_id}
if args.instance:
    conf["group.instance.id"] = args.instance
if args.protocol == "consumer":
    for k in ("session.timeout.ms", "heartbeat.interval.ms", "partition.assignment.strategy"):
        del conf[k]
    conf["group.protocol"] = "consumer"
    if args.assignor in ("uniform", "range"):
        conf["group.remote.assignor"] = args.assignor
c = Consumer(conf)
cooperative = args.assignor == "cooperative-sticky" or args.protocol == "consumer"


def parts(ps):
    return ",".join(str(p.partition) for p in sorted(ps, key=lambda p: p.partition))


first_seen = set()


def on_assign(consumer, ps):
    first_seen.clear()
    out.write("T %.3f\n" % time.time())
    if cooperative:
        out.write("+ %s\n" % parts(ps))
        consumer.incremental_assign(ps)
    else:
        out.write("A %s\n" % parts(ps))
        consumer.assign(ps)


def on_revoke(consumer, ps):
    out.write("T %.3f\n" % time.time())
    if cooperative:
        out.write("- %s\n" % parts(ps))
        consumer.incremental_unassign(ps)
    else:
        out.write("A \n")
        consumer.unassign()


c.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke)
deadline = time.monotonic() + args.max_seconds
while not stop and time.monotonic() < deadline:
    m = c.poll(0.1)
    if m is None or m.error():
        continue
    if m.partition() not in first_seen:
        first_seen.add(m.partition())
        out.write("F %d %.3f\n" % (m.partition(), time.time()))
    out.write("R %d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
    try:
        c.commit(message=m, asynchronous=False)
    except Exception as e:  # a rebalance may fence one commit; the record is then redelivered
        out.write("E %s\n" % e)
c.close()
out.write("X closed\n")
out.close()
sys.exit(0)
