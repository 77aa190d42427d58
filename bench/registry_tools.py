#!/usr/bin/python3
"""Setup and records of bench/registry.sh: validated against unvalidated produce. Each command
prints one JSON line.

  schema   --format json|avro
           print the schema of the benchmark's order records (what `prepare` registers).
  values   --format json|avro --id N [--count K --seed S] --out FILE
           write K distinct order records in the schema registry's wire format (a zero byte, the
           4-byte big-endian schema id N, then the JSON text or the Avro binary encoding) to FILE
           as herald_bench --values reads them: each a 4-byte big-endian length, then the bytes.
           JSON records are exactly --json-bytes long in the wire format (1,024 by default: the
           free-text "notes" field is padded to that); the Avro file holds the same orders.
  prepare  --http URL --topic T --format json|avro --validate 0|1 --out FILE [--count K]
           on a running Herald: create topic T (one partition; with --validate 1 it has
           confluent.value.schema.validation=true), register the schema under T-value, write
           the values with the id the registry gave, and, on a validating topic, check that a
           record breaking the schema is refused (HTTP 422) so that a run cannot silently
           measure a topic that validates nothing.
  count    --http URL --topic T
           the topic's high watermark summed over partitions (what the log holds).

The orders look like a shop's: about twenty fields, with enums, patterns, formats, two nested
addresses through a shared definition, and an array of 1 to 4 line items; the free text fills
each JSON record up to 1 KiB.
"""
import argparse
import base64
import json
import random
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "additionalProperties": False,
    "required": ["order_id", "customer_id", "email", "created_at", "status", "channel",
                 "currency", "priority", "subtotal", "tax", "shipping_cost", "total",
                 "shipping_address", "items", "gift"],
    "definitions": {
        "money": {"type": "number", "minimum": 0, "maximum": 1000000},
        "address": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "street", "city", "postal_code", "country"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 100},
                "street": {"type": "string", "minLength": 1, "maxLength": 200},
                "city": {"type": "string", "minLength": 1, "maxLength": 100},
                "region": {"type": ["string", "null"], "maxLength": 100},
                "postal_code": {"type": "string", "pattern": "^[A-Z0-9][A-Z0-9 -]{2,9}$"},
                "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                "phone": {"type": "string", "pattern": "^\\+[0-9]{7,15}$"},
            },
        },
        "item": {
            "type": "object",
            "additionalProperties": False,
            "required": ["sku", "name", "quantity", "unit_price", "category"],
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{6}$"},
                "name": {"type": "string", "minLength": 1, "maxLength": 120},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
                "unit_price": {"$ref": "#/definitions/money"},
                "discount": {"type": "number", "minimum": 0, "maximum": 1},
                "category": {"enum": ["books", "electronics", "garden", "grocery", "toys",
                                      "clothing"]},
                "attributes": {"type": "object", "maxProperties": 8,
                               "additionalProperties": {"type": "string", "maxLength": 40}},
            },
        },
    },
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]{10}$"},
        "customer_id": {"type": "string",
                        "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "created_at": {"type": "string", "format": "date-time"},
        "status": {"enum": ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]},
        "channel": {"enum": ["web", "mobile", "store", "phone", "partner"]},
        "currency": {"type": "string", "enum": ["EUR", "USD", "GBP", "CHF", "JPY"]},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "subtotal": {"$ref": "#/definitions/money"},
        "tax": {"$ref": "#/definitions/money"},
        "shipping_cost": {"$ref": "#/definitions/money"},
        "total": {"$ref": "#/definitions/money"},
        "shipping_address": {"$ref": "#/definitions/address"},
        "billing_address": {"$ref": "#/definitions/address"},
        "items": {"type": "array", "minItems": 1, "maxItems": 100,
                  "items": {"$ref": "#/definitions/item"}},
        "tags": {"type": "array", "maxItems": 10, "uniqueItems": True,
                 "items": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,31}$"}},
        "gift": {"type": "boolean"},
        "coupon": {"type": ["string", "null"], "pattern": "^[A-Z0-9]{6,12}$"},
        "notes": {"type": "string", "maxLength": 4000},
    },
}

_ADDRESS = {"type": "record", "name": "Address", "fields": [
    {"name": "name", "type": "string"},
    {"name": "street", "type": "string"},
    {"name": "city", "type": "string"},
    {"name": "region", "type": ["null", "string"], "default": None},
    {"name": "postal_code", "type": "string"},
    {"name": "country", "type": "string"},
    {"name": "phone", "type": ["null", "string"], "default": None},
]}
AVRO_SCHEMA = {
    "type": "record", "name": "Order", "namespace": "bench.shop",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer_id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "email", "type": "string"},
        {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": [
            "pending", "paid", "shipped", "delivered", "cancelled", "refunded"]}},
        {"name": "channel", "type": {"type": "enum", "name": "Channel", "symbols": [
            "web", "mobile", "store", "phone", "partner"]}},
        {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": [
            "EUR", "USD", "GBP", "CHF", "JPY"]}},
        {"name": "priority", "type": "int"},
        {"name": "subtotal", "type": "double"},
        {"name": "tax", "type": "double"},
        {"name": "shipping_cost", "type": "double"},
        {"name": "total", "type": "double"},
        {"name": "shipping_address", "type": _ADDRESS},
        {"name": "billing_address", "type": ["null", "Address"], "default": None},
        {"name": "items", "type": {"type": "array", "items": {
            "type": "record", "name": "Item", "fields": [
                {"name": "sku", "type": "string"},
                {"name": "name", "type": "string"},
                {"name": "quantity", "type": "int"},
                {"name": "unit_price", "type": "double"},
                {"name": "discount", "type": ["null", "double"], "default": None},
                {"name": "category", "type": {"type": "enum", "name": "Category", "symbols": [
                    "books", "electronics", "garden", "grocery", "toys", "clothing"]}},
                {"name": "attributes", "type": {"type": "map", "values": "string"},
                 "default": {}},
            ]}}},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
        {"name": "gift", "type": "boolean"},
        {"name": "coupon", "type": ["null", "string"], "default": None},
        {"name": "notes", "type": "string", "default": ""},
    ],
}

CITIES = [("Lyon", "FR", "69002"), ("Porto", "PT", "4050-123"), ("Leeds", "GB", "LS1 4AP"),
          ("Graz", "AT", "8010"), ("Utrecht", "NL", "3511 AB"), ("Bergen", "NO", "5003"),
          ("Austin", "US", "78701"), ("Kyoto", "JP", "600-8216")]
WORDS = ["linen", "walnut", "copper", "field", "harbor", "maple", "signal", "canvas", "amber",
         "quartz", "meadow", "lantern", "orbit", "cedar", "pebble", "tidal"]
CATEGORIES = JSON_SCHEMA["definitions"]["item"]["properties"]["category"]["enum"]
STATUSES = JSON_SCHEMA["properties"]["status"]["enum"]
CHANNELS = JSON_SCHEMA["properties"]["channel"]["enum"]
CURRENCIES = JSON_SCHEMA["properties"]["currency"]["enum"]


def _address(rng):
    city, country, postal = rng.choice(CITIES)
    return {"name": "%s %s" % (rng.choice(WORDS).title(), rng.choice(WORDS).title()),
            "street": "%d %s Street" % (rng.randint(1, 400), rng.choice(WORDS).title()),
            "city": city, "region": None if rng.random() < 0.5 else "District %d" % rng.randint(1, 9),
            "postal_code": postal, "country": country,
            "phone": "+%d" % rng.randint(10 ** 9, 10 ** 12)}


def order(rng, i):
    """One order record (a dict) without its notes; `i` makes the ids distinct."""
    items = []
    for _ in range(rng.randint(1, 4)):
        item = {"sku": "%s-%06d" % ("".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)),
                                    rng.randint(0, 999999)),
                "name": "%s %s %s" % (rng.choice(WORDS).title(), rng.choice(WORDS), rng.choice(WORDS)),
                "quantity": rng.randint(1, 5), "unit_price": round(rng.uniform(1, 300), 2),
                "category": rng.choice(CATEGORIES),
                "attributes": {"colour": rng.choice(WORDS), "size": rng.choice("SML")}}
        if rng.random() < 0.4:
            item["discount"] = round(rng.uniform(0, 0.5), 2)
        items.append(item)
    subtotal = round(sum(x["unit_price"] * x["quantity"] for x in items), 2)
    tax = round(subtotal * 0.2, 2)
    ship = round(rng.choice([0, 4.9, 9.9]), 2)
    rec = {"order_id": "ORD-%010d" % (1000000 + i),
           "customer_id": "%08x-%04x-4%03x-%04x-%012x" % (
               rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
               0x8000 | rng.getrandbits(14), rng.getrandbits(48)),
           "email": "%s.%s%d@shop.test" % (rng.choice(WORDS), rng.choice(WORDS), rng.randint(1, 999)),
           "created_at": "2026-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
               rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
               rng.randint(0, 59), rng.randint(0, 999)),
           "status": rng.choice(STATUSES), "channel": rng.choice(CHANNELS),
           "currency": rng.choice(CURRENCIES), "priority": rng.randint(1, 5),
           "subtotal": subtotal, "tax": tax, "shipping_cost": ship,
           "total": round(subtotal + tax + ship, 2),
           "shipping_address": _address(rng), "items": items,
           "tags": sorted(set(rng.choice(WORDS) for _ in range(rng.randint(0, 3)))),
           "gift": rng.random() < 0.2,
           "coupon": None if rng.random() < 0.7 else "SAVE%04d" % rng.randint(0, 9999)}
    if rng.random() < 0.5:
        rec["billing_address"] = _address(rng)
    return rec


def wire(schema_id, payload):
    return b"\0" + struct.pack(">I", schema_id) + payload


def json_payload(rec):
    return json.dumps(rec, separators=(",", ":")).encode()


def padded(rec, target):
    """rec with "notes" padded so that its JSON wire format is exactly `target` bytes (when the
    rest is shorter; otherwise notes stay empty and the record is longer)."""
    rec = dict(rec, notes="")
    short = target - len(wire(0, json_payload(rec)))
    if short > 0:
        text = " ".join(WORDS[(len(rec["order_id"]) + k) % len(WORDS)] for k in range(short))
        rec["notes"] = text[:short]
    return rec


# ---- Avro binary encoding (the specification's, for the types the schema uses) ----

def _long(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _avro(schema, value, named):
    if isinstance(schema, str):
        if schema in named:
            return _avro(named[schema], value, named)
        if schema == "null":
            return b""
        if schema == "boolean":
            return b"\1" if value else b"\0"
        if schema in ("int", "long"):
            return _long(value)
        if schema == "double":
            return struct.pack("<d", value)
        if schema == "string":
            b = value.encode()
            return _long(len(b)) + b
        raise ValueError("type %s" % schema)
    if isinstance(schema, list):  # a union: null for None, else the first other branch
        k = next(i for i, s in enumerate(schema) if (s == "null") == (value is None))
        return _long(k) + _avro(schema[k], value, named)
    t = schema["type"]
    if t == "record":
        named[schema["name"]] = schema
        return b"".join(_avro(f["type"], value.get(f["name"], f.get("default")), named)
                        for f in schema["fields"])
    if t == "enum":
        named[schema["name"]] = schema
        return _long(schema["symbols"].index(value))
    if t == "array":
        body = b"".join(_avro(schema["items"], v, named) for v in value)
        return (_long(len(value)) + body if value else b"") + b"\0"
    if t == "map":
        body = b"".join(_avro("string", k, named) + _avro(schema["values"], v, named)
                        for k, v in value.items())
        return (_long(len(value)) + body if value else b"") + b"\0"
    if t == "long" and schema.get("logicalType") == "timestamp-millis":
        return _long(value)
    return _avro(t, value, named)


def avro_payload(rec):
    r = dict(rec)
    c = r["created_at"]  # 2026-MM-DDTHH:MM:SS.mmmZ, as milliseconds of a fixed-length year
    r["created_at"] = (((int(c[5:7]) * 31 + int(c[8:10])) * 24 + int(c[11:13])) * 3600 +
                       int(c[14:16]) * 60 + int(c[17:19])) * 1000 + int(c[20:23])
    return _avro(AVRO_SCHEMA, r, {})


def values(fmt, schema_id, count, seed, json_bytes):
    rng = random.Random(seed)
    out = []
    for i in range(count):
        # Orders too long for the padding to even out are drawn again (a few tries).
        for _ in range(100):
            rec = order(rng, i)
            if len(wire(schema_id, json_payload(dict(rec, notes="")))) <= json_bytes:
                break
        rec = padded(rec, json_bytes)
        out.append(wire(schema_id, json_payload(rec) if fmt == "json" else avro_payload(rec)))
    return out


def write_values(path, vals):
    with open(path, "wb") as f:
        for v in vals:
            f.write(struct.pack(">I", len(v)) + v)
    lens = [len(v) for v in vals]
    return {"count": len(vals), "mean_bytes": sum(lens) / len(lens), "min_bytes": min(lens),
            "max_bytes": max(lens)}


def schema_text(fmt):
    return json.dumps(JSON_SCHEMA if fmt == "json" else AVRO_SCHEMA)


def http(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def hwm(base, topic):
    status, body = http("GET", "%s/topics/%s" % (base, urllib.parse.quote(topic)))
    if status != 200:
        raise SystemExit("registry_tools: GET topic %s: %s %s" % (topic, status, body))
    return sum(p["high_watermark"] for p in body["partitions"])


def cmd_prepare(a):
    config = {"confluent.value.schema.validation": bool(a.validate)}
    status, body = http("POST", a.http + "/topics", {"name": a.topic, "partitions": 1,
                                                      "config": config})
    if status not in (200, 201):
        raise SystemExit("registry_tools: creating topic %s: %s %s" % (a.topic, status, body))
    subject = a.topic + "-value"
    status, body = http("POST", "%s/subjects/%s/versions" % (a.http, urllib.parse.quote(subject)),
                        {"schemaType": a.format.upper(), "schema": schema_text(a.format)})
    if status != 200 or not isinstance(body, dict) or "id" not in body:
        raise SystemExit("registry_tools: registering %s: %s %s" % (subject, status, body))
    sid = body["id"]
    out = {"topic": a.topic, "subject": subject, "schema_id": sid, "format": a.format,
           "validate": bool(a.validate)}
    out.update(write_values(a.out, values(a.format, sid, a.count, a.seed, a.json_bytes)))
    if a.validate:
        # A record whose status is not one of the enum's (JSON), or the first half of a good
        # record (Avro): must be refused, and write nothing.
        bad = json.loads(json_payload(padded(order(random.Random(a.seed), 0), a.json_bytes)))
        bad["status"] = "lost"
        good = avro_payload(padded(order(random.Random(a.seed), 0), a.json_bytes))
        bad_payload = json_payload(bad) if a.format == "json" else good[:len(good) // 2]
        status, body = http("POST", "%s/topics/%s/records" % (a.http, a.topic), {
            "records": [{"value_b64": base64.b64encode(wire(sid, bad_payload)).decode()}]})
        out["bad_record_status"] = status
        if status != 422 or hwm(a.http, a.topic) != 0:
            print(json.dumps(out), flush=True)
            raise SystemExit("registry_tools: topic %s did not refuse a bad record (%s %s)" % (
                a.topic, status, body))
    print(json.dumps(out), flush=True)
    return 0


def cmd_values(a):
    out = write_values(a.out, values(a.format, a.id, a.count, a.seed, a.json_bytes))
    print(json.dumps(dict(out, format=a.format, schema_id=a.id)), flush=True)
    return 0


def cmd_schema(a):
    print(schema_text(a.format))
    return 0


def cmd_count(a):
    print(json.dumps({"topic": a.topic, "high_watermark": hwm(a.http, a.topic)}), flush=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("schema")
    p.add_argument("--format", choices=["json", "avro"], required=True)
    for name in ("values", "prepare"):
        p = sub.add_parser(name)
        p.add_argument("--format", choices=["json", "avro"], required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--count", type=int, default=1000)
        p.add_argument("--seed", type=int, default=14)
        p.add_argument("--json-bytes", type=int, default=1024)
        if name == "values":
            p.add_argument("--id", type=int, required=True)
        else:
            p.add_argument("--http", required=True)
            p.add_argument("--topic", required=True)
            p.add_argument("--validate", type=int, choices=[0, 1], required=True)
    p = sub.add_parser("count")
    p.add_argument("--http", required=True)
    p.add_argument("--topic", required=True)
    a = ap.parse_args()
    return {"schema": cmd_schema, "values": cmd_values, "prepare": cmd_prepare,
            "count": cmd_count}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
