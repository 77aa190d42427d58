"""Small, bounded wrappers over confluent_kafka for herald's integration tests."""
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

COMMON = {
    "socket.timeout.ms": 10000,
    "api.version.request.timeout.ms": 10000,
    "topic.metadata.refresh.interval.ms": 2000,
    "reconnect.backoff.max.ms": 1000,
}


def make_producer(addr, **conf):
    c = dict(COMMON)
    c.update({"bootstrap.servers": addr, "acks": "all", "linger.ms": 5,
              "message.timeout.ms": 20000})
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return Producer(c)


def produce_all(addr, msgs, timeout=30.0, flush=True, producer=None, **conf):
    """msgs: dicts of produce() keyword arguments (topic, value, key, partition, headers,
    timestamp). Returns the delivery reports in send order: dicts with err, partition, offset.
    Raises if a report is missing after timeout or carries an error."""
    # Not `producer or ...`: a Producer with an empty queue is falsy (len() is its queue length).
    p = producer if producer is not None else make_producer(addr, **conf)
    reports = [None] * len(msgs)

    def cb_for(i):
        def cb(err, msg):
            reports[i] = {"err": err, "partition": msg.partition(), "offset": msg.offset(),
                          "key": msg.key(), "value": msg.value()}
        return cb

    for i, m in enumerate(msgs):
        while True:
            try:
                p.produce(on_delivery=cb_for(i), **m)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    deadline = time.monotonic() + timeout
    while any(r is None for r in reports) and time.monotonic() < deadline:
        p.flush(0.5)
    missing = [i for i, r in enumerate(reports) if r is None]
    assert not missing, "no delivery report for %d of %d messages" % (len(missing), len(msgs))
    errors = [(i, r["err"]) for i, r in enumerate(reports) if r["err"] is not None]
    assert not errors, "delivery errors: %r" % errors[:5]
    return reports


def make_consumer(addr, **conf):
    # confluent-kafka 1.7 insists on a group.id even for assign(); no group API is used because
    # nothing is committed or subscribed.
    c = dict(COMMON)
    c.update({"bootstrap.servers": addr, "group.id": "herald-it-unused",
              "enable.auto.commit": False, "enable.auto.offset.store": False,
              "auto.offset.reset": "earliest", "enable.partition.eof": False,
              "fetch.wait.max.ms": 100})
    c.update({k.replace("_", "."): v for k, v in conf.items()})
    return Consumer(c)


def consume(addr, topic, partitions, count, timeout=30.0, offset=-2, consumer=None,
            close=True, **conf):
    """Assigns topic's partitions from offset (default OFFSET_BEGINNING) and polls until count
    messages arrived or timeout passed. Returns the Message objects; raises on consumer errors."""
    c = consumer if consumer is not None else make_consumer(addr, **conf)
    try:
        if consumer is None:
            c.assign([TopicPartition(topic, p, offset) for p in partitions])
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                raise AssertionError("consumer error: %s" % m.error())
            got.append(m)
        return got
    finally:
        if close and consumer is None:
            c.close()


def admin(addr):
    return AdminClient({"bootstrap.servers": addr, "socket.timeout.ms": 10000})


def create_topic(addr, topic, partitions=1, config=None, timeout=15.0):
    a = admin(addr)
    fs = a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                   config=config or {})], request_timeout=timeout)
    fs[topic].result(timeout)


def roundtrip(addr, topic=None, n=5, timeout=20.0):
    """Produces n records to a fresh topic and reads them back; asserts the content. Used to
    check the broker still serves after abuse."""
    topic = topic or "rt-%d" % int(time.time() * 1e6)
    msgs = [{"topic": topic, "key": b"k%d" % i, "value": b"v%d" % i, "partition": 0}
            for i in range(n)]
    reps = produce_all(addr, msgs, timeout=timeout)
    assert [r["offset"] for r in reps] == list(range(n))
    got = consume(addr, topic, [0], n, timeout=timeout)
    assert [(m.offset(), m.key(), m.value()) for m in got] == \
        [(i, b"k%d" % i, b"v%d" % i) for i in range(n)]


def error_code(exc):
    """KafkaError code from a KafkaException raised by an admin future."""
    err = exc.args[0]
    assert isinstance(err, KafkaError), repr(exc)
    return err.code()
