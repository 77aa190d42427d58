"""Static files built into the binary: every file under examples/ is served at /examples/...
with its bytes, content type and a strong ETag (304 on If-None-Match), /openapi.json is the
document in src/http/assets/, and / is a JSON index of links."""
import http.client
import json
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
TIMEOUT = 10

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


def example_files():
    return sorted(p for p in EXAMPLES.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.parts))


def raw_get(broker, target, headers=None):
    """GET with the target sent exactly as given (requests would normalise dot segments)."""
    port = int(broker.http.rsplit(":", 1)[1])
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        c.request("GET", target, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_every_example_file_is_served_with_its_bytes_and_type(broker):
    files = example_files()
    assert any(p.name == "index.html" for p in files)
    etags = set()
    for p in files:
        url = "%s/examples/%s" % (broker.http, p.relative_to(EXAMPLES).as_posix())
        r = requests.get(url, timeout=TIMEOUT)
        assert r.status_code == 200, url
        assert r.content == p.read_bytes(), url
        assert r.headers["Content-Type"] == TYPES.get(p.suffix, "application/octet-stream")
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        etag = r.headers["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and len(etag) == 18
        etags.add(etag)
    assert len(etags) == len(files), "each file has its own ETag"


def test_folder_serves_its_index_and_bare_folder_redirects(broker):
    index = (EXAMPLES / "orders" / "index.html").read_bytes()
    r = requests.get(broker.http + "/examples/orders/", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == index
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    r = requests.get(broker.http + "/examples/orders", timeout=TIMEOUT, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "/examples/orders/"
    # The query string does not take part in finding the file.
    r = requests.get(broker.http + "/examples/orders/?topic=x", timeout=TIMEOUT)
    assert r.status_code == 200 and r.content == index


def test_if_none_match_answers_304_without_a_body(broker):
    url = broker.http + "/examples/orders/board.js"
    etag = requests.get(url, timeout=TIMEOUT).headers["ETag"]
    for inm in (etag, "W/" + etag, '"nope", ' + etag, "*"):
        r = requests.get(url, headers={"If-None-Match": inm}, timeout=TIMEOUT)
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["ETag"] == etag
        assert r.headers["Cache-Control"] == "no-cache"
    for inm in ('"0000000000000000"', etag[1:-1], '"' + etag, ""):
        r = requests.get(url, headers={"If-None-Match": inm}, timeout=TIMEOUT)
        assert r.status_code == 200, inm
        assert r.content == (EXAMPLES / "orders" / "board.js").read_bytes()


def test_head_sends_headers_only(broker):
    r = requests.head(broker.http + "/examples/orders/board.css", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) == (EXAMPLES / "orders" / "board.css").stat().st_size


@pytest.mark.parametrize("target", [
    "/examples/nope.html",
    "/examples/orders/nope.js",
    "/examples/orders/index.html/",
    "/examples/",
    "/examples/orders//index.html",
    "/examples/" + "a/" * 600 + "index.html",
])
def test_unknown_paths_are_404_problems(broker, target):
    status, headers, body = raw_get(broker, target)
    assert status == 404, target
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["status"] == 404


@pytest.mark.parametrize("target", [
    "/examples/../CMakeLists.txt",
    "/examples/orders/../orders/index.html",
    "/examples/%2e%2e/CMakeLists.txt",
    "/examples/./orders/index.html",
    "/examples/orders/..",
    "/examples/orders\\..\\..\\x",
])
def test_dot_segments_are_refused(broker, target):
    status, headers, body = raw_get(broker, target)
    assert status == 400, target
    assert headers["Content-Type"] == "application/problem+json"
    assert "'..'" in json.loads(body)["detail"]


def test_only_get_and_head(broker):
    r = requests.post(broker.http + "/examples/orders/", data=b"x", timeout=TIMEOUT)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"


def test_openapi_document(broker):
    r = requests.get(broker.http + "/openapi.json", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == (REPO / "src" / "http" / "assets" / "openapi.json").read_bytes()
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert "/topics" in doc["paths"]
    r2 = requests.get(broker.http + "/openapi.json", timeout=TIMEOUT,
                      headers={"If-None-Match": r.headers["ETag"]})
    assert r2.status_code == 304


def test_root_is_an_index_of_links(broker):
    r = requests.get(broker.http + "/", timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    j = r.json()
    assert j["name"] == "herald"
    assert j["links"]["topics"] == "/topics"
    assert j["links"]["openapi"] == "/openapi.json"
    assert j["links"]["metrics"] == "/metrics"
    assert j["links"]["examples"] == {"orders": "/examples/orders/"}
    # Every link works.
    for link in ("/topics", "/openapi.json", "/metrics", "/examples/orders/"):
        assert requests.get(broker.http + link, timeout=TIMEOUT).status_code == 200, link
