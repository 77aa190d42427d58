"""Run by test_registry_clients.py with a current confluent-kafka (the sr-venv): the Schema
Registry client and its serializers against Herald, then a round trip through a validating
topic. Prints one JSON line of results. argv: bootstrap, registry URL, topic, kind (avro|json)."""
import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

bootstrap, url, topic, kind = sys.argv[1:5]
client = SchemaRegistryClient({"url": url})
if kind == "avro":
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    schema = json.dumps({"type": "record", "name": "Payment", "namespace": "shop",
                         "fields": [{"name": "id", "type": "long"},
                                    {"name": "amount", "type": "double"},
                                    {"name": "memo", "type": ["null", "string"],
                                     "default": None}]})
    ser = AvroSerializer(client, schema)
    de = AvroDeserializer(client)
else:
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
    schema = json.dumps({"$schema": "http://json-schema.org/draft-07/schema#",
                         "title": "Payment", "type": "object",
                         "properties": {"id": {"type": "integer"},
                                        "amount": {"type": "number"},
                                        "memo": {"type": ["string", "null"]}},
                         "required": ["id", "amount"]})
    ser = JSONSerializer(schema, client)
    de = JSONDeserializer(schema)

values = [{"id": i, "amount": 1.5 * i, "memo": None if i % 2 else "m%d" % i} for i in range(5)]
p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
errors = []
ctx = SerializationContext(topic, MessageField.VALUE)
for v in values:
    p.produce(topic, ser(v, ctx), partition=0,
              on_delivery=lambda e, m: errors.append(str(e)) if e else None)
p.flush(20)
# A record the registry does not know (id 0x7fffffff) is refused by a validating topic.
bad = []
p.produce(topic, b"\x00\x7f\xff\xff\xff\x02", partition=0,
          on_delivery=lambda e, m: bad.append(e.name() if e else None))
p.flush(20)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sr-test",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
got = []
for _ in range(200):
    m = c.poll(0.2)
    if m is None or m.error():
        continue
    got.append(de(m.value(), ctx))
    if len(got) == len(values):
        break
c.close()
sid = client.get_latest_version(topic + "-value").schema_id
print(json.dumps({"errors": errors, "bad": bad, "got": got, "sent": values, "id": sid,
                  "subjects": client.get_subjects()}))
