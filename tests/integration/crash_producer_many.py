"""Child process for test_journal_crash.py: produces values PREFIX-<n> for n = 0..N-1 round-robin
over NPARTS partitions of TOPIC with acks=all, and appends "<n> <partition> <offset>" to ACK_FILE
for every acknowledged record. With PHASE, records go in phases of PHASE records, alternately all to
partition 0 and round-robin over every partition (one hot partition, then many).
usage: crash_producer_many.py ADDR TOPIC PREFIX N NPARTS ACK_FILE [PHASE]"""
import sys
import time

from confluent_kafka import Producer


def main():
    addr, topic, prefix, n, nparts, ack_path = sys.argv[1:7]
    n, nparts = int(n), int(nparts)
    phase = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    p = Producer({"bootstrap.servers": addr, "acks": "all", "linger.ms": 2,
                  "message.timeout.ms": 8000, "socket.timeout.ms": 5000,
                  "reconnect.backoff.max.ms": 500})
    out = open(ack_path, "a", buffering=1)

    def on_delivery(err, msg):
        if err is None:
            out.write("%s %d %d\n" % (msg.key().decode(), msg.partition(), msg.offset()))

    i = 0
    while i < n:
        try:
            p.produce(topic, key=b"%d" % i, value=b"%s-%d" % (prefix.encode(), i) + b"x" * 200,
                      partition=0 if phase and (i // phase) % 2 == 0 else i % nparts,
                      on_delivery=on_delivery)
            i += 1
        except BufferError:
            p.poll(0.05)
            continue
        if i % 50 == 0:
            p.poll(0)
    deadline = time.monotonic() + 30
    while len(p) and time.monotonic() < deadline:
        p.poll(0.1)
    out.close()


if __name__ == "__main__":
    main()
