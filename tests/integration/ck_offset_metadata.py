"""Commits one offset per partition with the given metadata through confluent-kafka (a consumer
of the group, no subscription) and reads it back with committed(). Run by
test_offset_metadata.py under the PyPI confluent-kafka (whose TopicPartition carries metadata).
Prints one JSON line: [[offset, metadata hex] per partition] and the librdkafka version.
usage: ck_offset_metadata.py ADDR GROUP TOPIC HEXMETADATA..."""
import json
import sys

import confluent_kafka
from confluent_kafka import TopicPartition

from clients import make_consumer


def main():
    addr, group, topic = sys.argv[1:4]
    metas = [bytes.fromhex(h).decode() for h in sys.argv[4:]]
    c = make_consumer(addr, group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p, 20 + p, metadata=m) for p, m in enumerate(metas)]
        c.commit(offsets=tps, asynchronous=False)
        got = c.committed([TopicPartition(topic, p) for p in range(len(metas))], timeout=15)
    finally:
        c.close()
    out = []
    for tp in sorted(got, key=lambda t: t.partition):
        assert tp.error is None, tp.error
        out.append([tp.offset, (tp.metadata or "").encode().hex()])
    print(json.dumps({"committed": out, "librdkafka": confluent_kafka.libversion()[0]}))


if __name__ == "__main__":
    main()
