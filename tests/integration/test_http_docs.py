"""The HTTP API's documentation against the real binary.

docs/http-api.md and docs/schema-registry.md (each against a broker of its own): every ```sh block preceded by an HTML comment `<!-- run -->` is run, in
document order, with bash against one fresh herald (127.0.0.1:8080 and :9092 become the test
broker's ports; the directory of the herald binary under test comes first on PATH). A block must exit 0; every HTTP answer it gets must be 2xx, except that
`<!-- run: 404 -->` requires the block's last answer to be 404. `<!-- run: stream -->` marks a
streaming example that runs until a time limit (its curl is killed then). When a ```json,
```http or ```text block follows, it is what the block prints: JSON compared as values (any
integer stands for a "timestamp", which differs per run), HTTP as the status line, the headers
shown and the body, text line by line.

The OpenAPI description served at /openapi.json is checked structurally (every route of the
router is there with its methods, every $ref resolves, every operation has responses, OpenAPI
3.1.0 shapes), its component schemas are valid JSON Schema 2020-12, and real answers of the
running broker validate against them."""
import asyncio
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import websockets
from jsonschema import Draft202012Validator

from clients import produce_all
from conftest import HERALD_BIN

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "http-api.md"
REGISTRY_DOC = REPO / "docs" / "schema-registry.md"
README = REPO / "README.md"
SPEC = REPO / "src" / "http" / "assets" / "openapi.json"
ROUTER = REPO / "src" / "http" / "router.c"

RUN_RE = re.compile(r"^<!--\s*run(?::\s*(\S+))?\s*-->\s*$")
FENCE_RE = re.compile(r"^```(\w*)\s*$")
STATUS_MARK = "@@status "
STREAM_SECONDS = 2
BLOCK_TIMEOUT = 60

# ---- extracting the examples ----


class Example:
    def __init__(self, path, line, mark, code, out_lang=None, out_text=None):
        self.path, self.line, self.mark, self.code = path, line, mark, code
        self.out_lang, self.out_text = out_lang, out_text

    def where(self):
        return "%s:%d" % (self.path.name, self.line)


def examples(text, path=DOC):
    """The runnable examples of a markdown text, in order."""
    lines = text.splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = RUN_RE.match(lines[i])
        if not m:
            i += 1
            continue
        mark = m.group(1)
        i += 1
        f = FENCE_RE.match(lines[i]) if i < len(lines) else None
        assert f and f.group(1) in ("sh", "bash"), \
            "%s:%d: a run mark must be followed by a ```sh block" % (path.name, i + 1)
        start = i + 1
        i += 1
        while not lines[i].startswith("```"):
            i += 1
        ex = Example(path, start, mark, "\n".join(lines[start:i]) + "\n")
        i += 1
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        f = FENCE_RE.match(lines[j]) if j < len(lines) else None
        if f and f.group(1) in ("json", "http", "text"):
            k = j + 1
            while not lines[k].startswith("```"):
                k += 1
            ex.out_lang, ex.out_text = f.group(1), "\n".join(lines[j + 1:k]) + "\n"
            i = k + 1
        out.append(ex)
    return out


# ---- running them ----

PRELUDE = """set -euo pipefail
curl() { command curl -w '%%{stderr}%s%%{http_code}\\n' "$@"; }
""" % STATUS_MARK


def localize(code, broker):
    return code.replace("127.0.0.1:8080", "127.0.0.1:%d" % broker.http_port) \
        .replace("127.0.0.1:9092", broker.addr)


def run_example(ex, broker):
    """Runs one example and checks it; raises AssertionError naming it when it is wrong."""
    code = PRELUDE + localize(ex.code, broker)
    stream = ex.mark == "stream"
    # A session of its own, so that a streaming curl is killed with its shell.
    env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(HERALD_BIN)) + os.pathsep +
               os.environ.get("PATH", ""))
    p = subprocess.Popen(["bash", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True, env=env)
    try:
        stdout, stderr = p.communicate(timeout=STREAM_SECONDS if stream else BLOCK_TIMEOUT)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        stdout, stderr = p.communicate()
        if not stream:
            raise AssertionError("%s: did not finish within %d s" % (ex.where(), BLOCK_TIMEOUT))
        rc = 0
    statuses = [int(l[len(STATUS_MARK):]) for l in stderr.splitlines()
                if l.startswith(STATUS_MARK)]
    ctx = "%s:\n%s\n--- stdout\n%s\n--- stderr\n%s" % (ex.where(), ex.code, stdout, stderr)
    assert rc == 0, "exit status %d in %s" % (rc, ctx)
    if ex.mark and ex.mark != "stream":
        assert statuses and statuses[-1] == int(ex.mark), \
            "expected status %s last, got %s in %s" % (ex.mark, statuses, ctx)
        statuses = statuses[:-1]
    bad = [s for s in statuses if not 200 <= s < 300]
    assert not bad, "unexpected statuses %s in %s" % (bad, ctx)
    if ex.out_lang:
        check_output(ex, stdout, ctx)
    return stdout


def json_values(text):
    dec = json.JSONDecoder()
    vals, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return vals
        v, pos = dec.raw_decode(text, pos)
        vals.append(v)


def same_json(doc, got, path="$"):
    """Raises AssertionError at the first difference; a doc "timestamp" matches any integer."""
    if isinstance(doc, dict):
        assert isinstance(got, dict), "%s: expected an object, got %r" % (path, got)
        assert list(doc) == list(got), "%s: members %s, got %s" % (path, list(doc), list(got))
        for k in doc:
            if k == "timestamp" and isinstance(doc[k], int):
                assert isinstance(got[k], int), "%s.%s: not an integer" % (path, k)
            else:
                same_json(doc[k], got[k], "%s.%s" % (path, k))
    elif isinstance(doc, list):
        assert isinstance(got, list) and len(doc) == len(got), \
            "%s: expected %d items, got %r" % (path, len(doc), got)
        for i, (d, g) in enumerate(zip(doc, got)):
            same_json(d, g, "%s[%d]" % (path, i))
    else:
        assert doc == got and type(doc) is type(got), "%s: expected %r, got %r" % (path, doc, got)


def check_output(ex, stdout, ctx):
    try:
        if ex.out_lang == "json":
            doc, got = json_values(ex.out_text), json_values(stdout)
            assert len(doc) == len(got), "expected %d JSON values, got %d" % (len(doc), len(got))
            for d, g in zip(doc, got):
                same_json(d, g)
        elif ex.out_lang == "text":
            strip = lambda s: [l.rstrip() for l in s.strip("\n").splitlines()]
            dlines, glines = strip(ex.out_text), strip(stdout)
            assert len(dlines) == len(glines), "%d lines, got %d" % (len(dlines), len(glines))
            for d, g in zip(dlines, glines):
                if d.startswith("data: {") and g.startswith("data: {"):
                    same_json(json.loads(d[6:]), json.loads(g[6:]))  # an SSE event's data
                else:
                    assert d == g, "line %r, got %r" % (d, g)
        elif ex.out_lang == "http":
            dhead, _, dbody = ex.out_text.partition("\n\n")
            ghead, _, gbody = stdout.replace("\r\n", "\n").partition("\n\n")
            dlines, glines = dhead.splitlines(), ghead.splitlines()
            assert dlines[0] == glines[0], "status line %r, got %r" % (dlines[0], glines[0])
            got_headers = {}
            for l in glines[1:]:
                name, _, value = l.partition(":")
                got_headers[name.strip().lower()] = value.strip()
            for l in dlines[1:]:
                name, _, value = l.partition(":")
                assert got_headers.get(name.strip().lower()) == value.strip(), \
                    "header %r, got %r" % (l, got_headers.get(name.strip().lower()))
            if dbody.strip():
                same_json(json.loads(dbody), json.loads(gbody))
    except (AssertionError, ValueError) as e:
        raise AssertionError("output differs from the documented one (%s) in %s\n--- documented\n%s"
                             % (e, ctx, ex.out_text))


def test_doc_examples_run_as_written(broker):
    exs = examples(DOC.read_text())
    assert len(exs) >= 10, "the run marks of docs/http-api.md went missing"
    for ex in exs:
        run_example(ex, broker)


def test_registry_doc_examples_run_as_written(broker):
    exs = examples(REGISTRY_DOC.read_text(), REGISTRY_DOC)
    assert len(exs) >= 10, "the run marks of docs/schema-registry.md went missing"
    for ex in exs:
        run_example(ex, broker)


def test_readme_http_examples_run_as_written(broker):
    exs = [e for e in examples(README.read_text(), README) if "8080" in e.code]
    assert exs, "README's HTTP section has no runnable example"
    for ex in exs:
        run_example(ex, broker)


def test_a_wrong_example_fails(broker):
    """The checks above catch a wrong example: a failing command, an unexpected status, a
    documented output or status that differs from the real one."""
    r = requests.post(broker.http + "/topics", json={"name": "t"}, timeout=10)
    assert r.status_code == 201
    wrong = [
        ("<!-- run -->\n```sh\ncurl -sS --fail-with-body http://127.0.0.1:8080/topics/nope\n```\n",
         "exit status"),
        ("<!-- run -->\n```sh\ncurl -sS http://127.0.0.1:8080/topics/nope\n```\n",
         "unexpected statuses"),
        ("<!-- run: 404 -->\n```sh\ncurl -sS http://127.0.0.1:8080/topics\n```\n",
         "expected status 404"),
        ("<!-- run -->\n```sh\ncurl -sS http://127.0.0.1:8080/topics\n```\n\n"
         "```json\n{\"topics\": [{\"name\": \"x\", \"partitions\": 1}]}\n```\n", "output differs"),
        ("<!-- run: 404 -->\n```sh\ncurl -sS -i http://127.0.0.1:8080/topics/nope\n```\n\n"
         "```http\nHTTP/1.1 404 Not Found\nContent-Type: application/json\n```\n",
         "output differs"),
        ("<!-- run -->\n```sh\nkcat -b 127.0.0.1:9092 -L -t none -q >/dev/null; echo a\n```\n\n"
         "```text\nb\n```\n", "output differs"),
        ("<!-- run: stream -->\n```sh\ncurl -sS -N -H 'Accept: text/event-stream' "
         "http://127.0.0.1:8080/topics/nope/events\n```\n", "unexpected statuses"),
        ("<!-- run: stream -->\n```sh\ncurl -sS -N -H 'Accept: text/event-stream' "
         "http://127.0.0.1:8080/topics/t/events\n```\n\n```text\nretry: 1000\n\nid: 0:0\n```\n",
         "output differs"),
    ]
    for text, what in wrong:
        (ex,) = examples(text)
        with pytest.raises(AssertionError, match=what):
            run_example(ex, broker)


# ---- the OpenAPI description ----

def router_routes():
    """(METHOD, pattern) of every route in router.c's table, with {} and * as written."""
    text = ROUTER.read_text()
    table = text[text.index("routes[] = {"):]
    table = table[:table.index("};")]
    return [(m, p) for m, p in re.findall(r'\{HTTP_(\w+),\s*"([^"]*)"', table)]


def spec_shape(path):
    """An OpenAPI path with its parameters and the router's * written as {}."""
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.fixture
def spec(broker):
    r = requests.get(broker.http + "/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.content == SPEC.read_bytes(), "the binary serves a stale /openapi.json"
    return r.json()


def resolve(spec, ref):
    assert ref.startswith("#/"), "only local references: %s" % ref
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, "unresolved $ref %s" % ref
        node = node[part]
    return node


def walk(node, path="#"):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, path + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (path, i))


def test_openapi_describes_every_route(spec):
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    want = {}
    for method, pattern in router_routes():
        want.setdefault(spec_shape(pattern.replace("*", "{}")), set()).add(method.lower())
    got = {spec_shape(p): {m for m in ops if m in ("get", "post", "put", "delete", "patch")}
           for p, ops in spec["paths"].items()}
    assert got == want, "the router serves %s, openapi.json describes %s" % (want, got)
    op_ids = []
    for path, ops in spec["paths"].items():
        names = re.findall(r"\{([^}]+)\}", path)
        for method, op in ops.items():
            if method == "parameters":
                continue
            op_ids.append(op["operationId"])
            assert op.get("summary"), (path, method)
            assert op.get("responses"), "%s %s has no responses" % (method, path)
            for status, resp in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", status), (path, method, status)
                if "$ref" in resp:
                    resp = resolve(spec, resp["$ref"])
                assert resp.get("description"), (path, method, status)
            params = ops.get("parameters", []) + op.get("parameters", [])
            params = [resolve(spec, p["$ref"]) if "$ref" in p else p for p in params]
            in_path = sorted(p["name"] for p in params if p["in"] == "path")
            assert in_path == sorted(names), (path, method, in_path)
            for p in params:
                assert p["in"] in ("path", "query", "header", "cookie")
                assert "schema" in p or "content" in p, (path, method, p["name"])
                if p["in"] == "path":
                    assert p.get("required") is True, (path, p["name"])
    assert len(op_ids) == len(set(op_ids)), "operationIds must be unique"


def test_openapi_refs_resolve_and_schemas_are_valid(spec):
    refs = 0
    for where, node in walk(spec):
        if "$ref" in node and isinstance(node["$ref"], str):
            resolve(spec, node["$ref"])
            refs += 1
    assert refs >= 20
    for name, schema in spec["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    for where, node in walk(spec["paths"]):
        if "schema" in node and isinstance(node["schema"], dict):
            Draft202012Validator.check_schema(node["schema"])


def validator(spec, name):
    """A validator for components.schemas[name] whose $refs resolve inside the document."""
    schema = dict(spec["components"]["schemas"][name])
    schema["components"] = spec["components"]
    return Draft202012Validator(schema)


def check(spec, name, instance):
    errors = sorted(validator(spec, name).iter_errors(instance), key=str)
    assert not errors, "%s does not validate as %s: %s" % (instance, name, errors[0])


def test_real_answers_match_the_schemas(spec, broker):
    h = broker.http
    r = requests.post(h + "/topics", json={"name": "t", "partitions": 2}, timeout=10)
    assert r.status_code == 201
    check(spec, "TopicDetail", r.json())
    check(spec, "TopicList", requests.get(h + "/topics", timeout=10).json())
    check(spec, "Index", requests.get(h + "/", timeout=10).json())
    check(spec, "Health", requests.get(h + "/health", timeout=10).json())
    body = {"records": [{"key": "k", "value": {"a": 1}, "headers": {"h": "v"}},
                        {"key_b64": "AP8=", "value_b64": "/w==", "partition": 1},
                        {"value": None, "headers": {"n": None}, "timestamp": 5}]}
    check(spec, "ProduceRequest", body)
    r = requests.post(h + "/topics/t/records", json=body, timeout=10)
    assert r.status_code == 200
    check(spec, "ProduceResponse", r.json())
    for p in (0, 1):
        r = requests.get(h + "/topics/t/records", params={"partition": p}, timeout=10)
        assert r.status_code == 200 and r.json()["records"]
        check(spec, "RecordPage", r.json())
    # A header value that is not UTF-8 (from a Kafka client) shows under headers_b64.
    (rep,) = produce_all(broker.addr, [{"topic": "t", "key": b"k2", "value": b"v",
                                        "headers": [("bin", b"\xff")], "partition": 1}])
    r = requests.get(h + "/topics/t/records", params={"partition": 1, "offset": rep["offset"]},
                     timeout=10)
    rec = r.json()["records"][0]
    assert rec["headers_b64"] == {"bin": "/w=="}
    check(spec, "Record", rec)
    for resp in (requests.get(h + "/topics/none", timeout=10),
                 requests.put(h + "/topics", timeout=10),
                 requests.get(h + "/topics/t/records", params={"offset": 99}, timeout=10),
                 requests.post(h + "/topics", data="x", timeout=10)):
        assert resp.headers["Content-Type"] == "application/problem+json"
        check(spec, "Problem", resp.json())
    # CloudEvents: a structured event with an extension, read back as a batch.
    ev = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t.created",
          "partitionkey": "k", "time": "2026-01-01T00:00:00Z", "n": 3, "data": {"x": 1}}
    check(spec, "CloudEvent", ev)
    r = requests.post(h + "/topics/t/events", data=json.dumps(ev), timeout=10,
                      headers={"Content-Type": "application/cloudevents+json"})
    assert r.status_code == 200, r.text
    check(spec, "ProduceResponse", r.json())
    part = r.json()["offsets"][0]["partition"]
    r = requests.get(h + "/topics/t/events", params={"partition": part}, timeout=10)
    assert r.headers["Content-Type"] == "application/cloudevents-batch+json"
    assert int(r.headers["Herald-Next-Offset"]) > 0
    assert [e["id"] for e in r.json()] == ["e-1"]
    check(spec, "CloudEventBatch", r.json())
    # A live stream's records: SSE data lines, and WebSocket messages with their id.
    r = requests.get(h + "/topics/t/events", params={"from": "earliest"}, stream=True,
                     headers={"Accept": "text/event-stream"}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
    data = []
    for line in r.iter_lines(chunk_size=1, decode_unicode=True):
        if line.startswith("data: "):
            data.append(json.loads(line[6:]))
        if len(data) == 5:
            break
    r.close()
    assert [d["cloudevent"]["id"] for d in data if "cloudevent" in d] == ["e-1"]
    for d in data:
        check(spec, "StreamRecord", d)

    async def ws_messages():
        url = "ws://127.0.0.1:%d/topics/t/ws?from=earliest" % broker.http_port
        async with websockets.connect(url) as ws:
            return [json.loads(await ws.recv()) for _ in range(5)]
    msgs = asyncio.run(asyncio.wait_for(ws_messages(), 30))
    assert all(m["id"] for m in msgs)
    for m in msgs:
        check(spec, "StreamRecord", m)
    # The schemas are not vacuous: wrong shapes are refused.
    assert list(validator(spec, "StreamRecord").iter_errors(dict(msgs[0], extra=1)))
    assert list(validator(spec, "CloudEvent").iter_errors({"specversion": "1.0", "id": "x"}))
    assert list(validator(spec, "Record").iter_errors({"partition": 0}))
    assert list(validator(spec, "ProduceRequest").iter_errors({"records": [{"valeu": 1}]}))
    assert list(validator(spec, "Problem").iter_errors({"title": "x"}))


def test_real_registry_answers_match_the_schemas(spec, broker):
    h = broker.http
    sr = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    avro = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})
    body = {"schema": avro}
    check(spec, "SchemaRequest", body)

    def call(method, path, want, name, body=None, **params):
        r = requests.request(method, h + path, data=None if body is None else json.dumps(body),
                             headers=sr, params=params, timeout=10)
        assert r.status_code == want, (path, r.status_code, r.text)
        assert r.headers["Content-Type"] == "application/vnd.schemaregistry.v1+json"
        if name:
            check(spec, name, r.json())
        return r
    call("POST", "/subjects/s-value/versions", 200, "SchemaId", body)
    js = {"schemaType": "JSON", "schema": json.dumps({"type": "object"})}
    check(spec, "SchemaRequest", js)
    call("POST", "/subjects/j/versions", 200, "SchemaId", js)
    ref = {"schema": json.dumps({"type": "record", "name": "T", "fields": [
        {"name": "r", "type": "R"}]}), "references": [{"name": "R", "subject": "s-value",
                                                        "version": 1}]}
    check(spec, "SchemaRequest", ref)
    call("POST", "/subjects/t/versions", 200, "SchemaId", ref)
    call("GET", "/schemas/types", 200, "SchemaTypes")
    call("GET", "/subjects", 200, "SubjectList")
    call("GET", "/subjects/s-value/versions", 200, "VersionList")
    for path in ("/subjects/s-value/versions/1", "/subjects/j/versions/latest",
                 "/subjects/t/versions/-1"):
        call("GET", path, 200, "SubjectVersion")
    call("POST", "/subjects/j", 200, "SubjectVersion", js)
    for i in (1, 2, 3):
        call("GET", "/schemas/ids/%d" % i, 200, "SchemaById")
    assert call("GET", "/schemas/ids/3", 200, None).json()["references"][0]["name"] == "R"
    call("GET", "/schemas/ids/1/subjects", 200, "SubjectList")
    r = call("GET", "/schemas/ids/1/versions", 200, None)
    assert r.json() == [{"subject": "s-value", "version": 1}]
    for v in r.json():
        check(spec, "SubjectVersionRef", v)
    call("POST", "/compatibility/subjects/s-value/versions", 200, "CompatibilityResult", body,
         verbose="true")
    call("POST", "/compatibility/subjects/s-value/versions/latest", 200, "CompatibilityResult",
         body)
    call("PUT", "/config", 200, "ConfigSet", {"compatibility": "FULL"})
    call("GET", "/config", 200, "ConfigLevel")
    call("PUT", "/config/j", 200, "ConfigSet", {"compatibilityLevel": "NONE"})
    call("GET", "/config/j", 200, "ConfigLevel")
    call("DELETE", "/config/j", 200, "ConfigLevel")
    call("DELETE", "/config", 200, "ConfigLevel")
    call("GET", "/mode", 200, "Mode")
    # Errors: the registry's own body, for every kind of failure.
    for method, path, want, b in (("GET", "/subjects/none/versions", 404, None),
                                  ("GET", "/subjects/j/versions/7", 404, None),
                                  ("GET", "/schemas/ids/99", 404, None),
                                  ("GET", "/subjects/j/versions/x", 422, None),
                                  ("GET", "/config/j", 404, None),
                                  ("PUT", "/config", 422, {"compatibility": "full"}),
                                  ("POST", "/subjects/j/versions", 422, {"schema": "{"}),
                                  ("POST", "/subjects/j/versions", 422, [1]),
                                  ("DELETE", "/subjects/s-value?permanent=true", 404, None),
                                  ("DELETE", "/subjects/s-value/versions/1", 422, None)):
        code = call(method, path, want, "RegistryError", b).json()["error_code"]
        assert code == want or code // 100 == want, (path, code)
    r = requests.post(h + "/subjects/j/versions", data="x", headers=sr, timeout=10)
    assert r.status_code == 400
    check(spec, "RegistryError", r.json())
    r = requests.post(h + "/subjects/j/versions", data="x", timeout=10,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    check(spec, "RegistryError", r.json())
    r = call("POST", "/subjects/s-value/versions", 409, "RegistryError", {"schema": json.dumps(
        {"type": "record", "name": "R", "fields": [{"name": "b", "type": "int"}]})})
    assert r.json()["error_code"] == 409
    # Not vacuous.
    assert list(validator(spec, "RegistryError").iter_errors({"error_code": 40401}))
    assert list(validator(spec, "SubjectVersion").iter_errors({"subject": "s", "version": 1}))
    assert list(validator(spec, "SchemaRequest").iter_errors({"schemaType": "AVRO"}))
