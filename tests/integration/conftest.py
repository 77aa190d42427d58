"""Harness for herald's integration tests: start `herald serve` on a free 127.0.0.1 port with a
temporary data directory, and stop it by pid afterwards. The broker binary comes from $HERALD_BIN
(default: <repo>/build/herald). Every wait is bounded."""
import itertools
import os
import random
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERALD_BIN = os.environ.get("HERALD_BIN", str(REPO / "build" / "herald"))
JS_DIR = Path(__file__).resolve().parent / "js"
JS_PACKAGES = ("kafkajs", "playwright-core", "@asyncapi/parser", "@asyncapi/avro-schema-parser")

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def _ephemeral_low():
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


_EPHEMERAL_LOW = _ephemeral_low()
_port_rng = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port():
    """A 127.0.0.1 port nothing listens on now. Below the kernel's ephemeral range when there
    is room: a port from that range can be taken, between this probe and the server's bind, as
    the source port of any outgoing connection (the suite makes thousands), which a port below
    it cannot. Another test process may still probe the same port, so a server's start retries
    on "address already in use"."""
    for _ in range(64 if _EPHEMERAL_LOW > 12000 else 0):
        port = _port_rng.randrange(10000, _EPHEMERAL_LOW)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Broker:
    """One herald process. start() may be called again after stop()/kill9() and reuses the
    port and the data directory."""

    def __init__(self, tmp_dir, extra_args=(), env=None, port=None, nofile=None):
        self.tmp_dir = Path(tmp_dir)
        self.nofile = nofile  # (soft, hard) RLIMIT_NOFILE for the process, or None: inherited
        self.data_dir = self.tmp_dir / "data"
        self.log_path = self.tmp_dir / "herald.log"
        self.own_ports = port is None
        self._pick_ports(port)
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.proc = None
        self.starts = 0
        self.stop_timed_out = False

    def _pick_ports(self, port):
        self.port = port or free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.http_port = free_port()
        while self.http_port == self.port:  # two probes may get the same free port
            self.http_port = free_port()
        self.http = "http://127.0.0.1:%d" % self.http_port

    def argv(self):
        return [HERALD_BIN, "serve", "--kafka-addr", self.addr, "--data-dir", str(self.data_dir),
                "--http-addr", "127.0.0.1:%d" % self.http_port, "--log-level", "debug"] + \
            self.extra_args

    def start(self, timeout=20.0):
        assert self.proc is None, "already running"
        if not os.path.exists(HERALD_BIN):
            pytest.fail("herald binary not found at %s (set HERALD_BIN)" % HERALD_BIN)
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        # The journal (on by default) preallocates its file and a spare, 64 MiB each by default;
        # the suite starts hundreds of brokers and pytest keeps the last runs' directories, so
        # the test brokers use the smallest journal files (a test's own flag still wins).
        env.setdefault("HERALD_LOG_JOURNAL_FILE_BYTES", "1048576")
        env.update(self.env)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(b"\n===== herald start #%d: %s\n" % (self.starts,
                                                             " ".join(self.argv()).encode()))
            log.flush()
            limit = self.nofile
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limit))
                if limit else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                if self.starts == 1 and self.own_ports and "address already in use" in \
                        self.log_tail(5) and not getattr(self, "_port_retried", False):
                    # Another test process took a probed port before herald bound it (tests
                    # run in parallel): probe again, once.
                    self._port_retried = True
                    self.starts = 0
                    self._pick_ports(None)
                    return self.start(timeout)
                pytest.fail("herald exited with %s during startup\n%s" % (rc, self.log_tail()))
            if port_open(self.port) and port_open(self.http_port):
                return self
            time.sleep(0.05)
        self.kill9()
        pytest.fail("herald did not accept connections within %.0f s\n%s" %
                    (timeout, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, wait up to timeout, then SIGKILL. Returns the exit status (None if it had
        to be killed)."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                return p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.stop_timed_out = True
                p.kill()
                p.wait(10)
                return None
        return p.returncode

    def kill9(self):
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.kill()
        p.wait(10)

    def restart(self):
        self.stop()
        return self.start()

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        return "----- herald log tail (%s) -----\n%s" % (
            self.log_path, "\n".join(self.log_text().splitlines()[-lines:]))

    def sanitizer_report(self):
        text = self.log_text()
        for mark in SANITIZER_MARKS:
            i = text.find(mark)
            if i >= 0:
                return text[max(0, i - 200):i + 3000]
        return None


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (make test runs the suite in parallel), every case against the real
    Apache Kafka broker goes to one worker, so one Kafka JVM serves them all."""
    for item in items:
        if item.get_closest_marker("kafka"):
            item.add_marker(pytest.mark.xdist_group("kafka"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for b in getattr(item, "_herald_brokers", []):
            rep.sections.append(("herald log %s" % b.addr, b.log_tail()))
        k = getattr(item, "funcargs", {}).get("kafka_target")
        if getattr(k, "kind", None) == "kafka":
            rep.sections.append(("kafka log %s" % k.addr, k.log_tail()))


@pytest.fixture
def broker_factory(request, tmp_path):
    """broker_factory(*extra_args, env=None, start=True, nofile=None) -> Broker. All are stopped
    at teardown; a sanitizer report in any log fails the test."""
    brokers = []
    request.node._herald_brokers = brokers

    def make(*extra_args, env=None, start=True, nofile=None):
        d = tmp_path / ("b%d" % len(brokers))
        d.mkdir()
        b = Broker(d, extra_args, env, nofile=nofile)
        brokers.append(b)
        if start:
            b.start()
        return b

    yield make
    problems = []
    for b in brokers:
        if b.proc is not None and b.proc.poll() is not None:
            problems.append("herald exited on its own with status %s\n%s" %
                            (b.proc.returncode, b.log_tail()))
            b.proc = None
        status = b.stop()
        if b.stop_timed_out:
            problems.append("herald did not stop within 10 s of SIGTERM\n%s" % b.log_tail())
        elif status not in (None, 0):
            problems.append("herald exited with status %s on SIGTERM\n%s" %
                            (status, b.log_tail()))
        rep = b.sanitizer_report()
        if rep:
            problems.append("sanitizer report in %s:\n%s" % (b.log_path, rep))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def broker(broker_factory):
    return broker_factory()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """One real Apache Kafka broker (KRaft) for the whole session, shared by every test that
    asks for it; such tests use names of their own (unique())."""
    from kafka_broker import start_kafka
    k = start_kafka(tmp_path_factory.mktemp("kafka"))
    yield k
    k.stop()


@pytest.fixture(params=["herald", pytest.param("kafka", marks=pytest.mark.kafka)])
def kafka_target(request):
    """The broker an application-level test runs against: a fresh herald (the `broker` fixture)
    or the session's Apache Kafka. Both have .kind, .addr, .port and restart(). The same
    assertions hold for both; `pytest -m kafka` (make test-kafka) runs only the Kafka side."""
    if request.param == "herald":
        b = request.getfixturevalue("broker")
        b.kind = "herald"
        return b
    return request.getfixturevalue("kafka_broker")


_unique = itertools.count(1)


def unique(name):
    """name with a suffix no other test of this session uses (Kafka is shared by all)."""
    return "%s-%d-%d" % (name, os.getpid() % 10000, next(_unique))


def wait_until(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


_npm_done = []


@pytest.fixture(scope="session")
def js_dir():
    """tests/integration/js with node_modules installed (npm ci once if missing or stale)."""
    modules = JS_DIR / "node_modules"
    stale = not all((modules / p).is_dir() for p in JS_PACKAGES) or \
        not (modules / ".package-lock.json").is_file() or \
        (JS_DIR / "package-lock.json").stat().st_mtime > \
        (modules / ".package-lock.json").stat().st_mtime
    if stale and not _npm_done:
        _npm_done.append(True)
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=JS_DIR, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, "npm ci failed:\n%s\n%s" % (r.stdout, r.stderr)
    for p in JS_PACKAGES:
        assert (modules / p).is_dir(), "npm ci did not install %s" % p
    return JS_DIR
