"""Current Kafka clients built outside Debian for the compatibility tests: Apache Kafka's Java
client (tests/java), confluent-kafka from PyPI and franz-go (tests/go). `make compat-deps` builds
them under $HERALD_COMPAT_DIR (default <repo>/build/compat); a missing one fails the test with
the command that builds it."""
import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPAT_DIR = Path(os.environ.get("HERALD_COMPAT_DIR", str(REPO / "build" / "compat")))
JAVA_DIR = COMPAT_DIR / "java"
VENV_PY = COMPAT_DIR / "venv" / "bin" / "python"
GO_BIN = COMPAT_DIR / "go" / "herald-franz"


def require(path, what):
    if not Path(path).exists():
        pytest.fail("%s not found at %s: run `make compat-deps` (or set HERALD_COMPAT_DIR)" %
                    (what, path), pytrace=False)


class JavaDriver:
    """One JVM running herald.compat.Driver (tests/java): send() writes a tab-separated command
    and returns its JSON answer, waiting at most `timeout` seconds. The JVM's log goes to
    log_path."""

    def __init__(self, log_path):
        require(JAVA_DIR / "herald-java-compat.jar", "the Java client driver")
        self.log_path = Path(log_path)
        cp = "%s:%s" % (JAVA_DIR / "herald-java-compat.jar", JAVA_DIR / "lib" / "*")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["java", "-Xss512k", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
             "-Dorg.slf4j.simpleLogger.showDateTime=true", "-cp", cp, "herald.compat.Driver"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        self.buf = b""

    def send(self, *fields, timeout=60.0):
        line = "\t".join(str(f) for f in fields)
        assert "\n" not in line
        if self.proc.poll() is not None:
            raise AssertionError("the Java driver exited with %s\n%s" %
                                 (self.proc.returncode, self.log_tail()))
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise AssertionError("no answer to %r within %.0f s\n%s" %
                                     (fields[:3], timeout, self.log_tail()))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError("the Java driver exited during %r\n%s" %
                                         (fields[:3], self.log_tail()))
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def ok(self, *fields, timeout=60.0):
        """send() and assert success."""
        out = self.send(*fields, timeout=timeout)
        assert out["ok"], "%r failed: %s" % (fields[:3], out.get("error"))
        return out

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        return "----- Java driver log (%s) -----\n%s" % (
            self.log_path, "\n".join(text.splitlines()[-lines:]))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
