"""Settings: properties file < HERALD_* environment < flags, as seen through DescribeConfigs on
the broker resource and through auto-created topics; bad input exits non-zero and says why."""
import os
import subprocess

import pytest
from confluent_kafka.admin import ConfigResource

import kafkaraw as kr
from clients import admin
from conftest import HERALD_BIN


def broker_config(addr, *keys):
    a = admin(addr)
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    cfg = a.describe_configs([res], request_timeout=10)[res].result(10)
    return {k: cfg[k].value for k in keys}


def auto_partitions(addr, topic):
    with kr.Conn(addr) as c:
        _b, _ctrl, topics = kr.metadata_v1(c, [topic])
        err, parts = topics[topic]
        assert err == 0
        return len(parts)


def run_herald(args, env=None, timeout=20):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("HERALD_") and k != "HERALD_BIN":
            del e[k]
    e.update(env or {})
    return subprocess.run([HERALD_BIN] + args, capture_output=True, text=True, timeout=timeout,
                          env=e, stdin=subprocess.DEVNULL)


def test_precedence_file_env_flag(broker_factory, tmp_path):
    props = tmp_path / "herald.properties"
    props.write_text("# herald test config\n"
                     "num.partitions=2\n"
                     "log.retention.ms = 5000000\n"
                     "message.max.bytes: 500000\n")
    # File only.
    b = broker_factory("--config", str(props))
    assert broker_config(b.addr, "num.partitions", "log.retention.ms", "message.max.bytes") == \
        {"num.partitions": "2", "log.retention.ms": "5000000", "message.max.bytes": "500000"}
    assert auto_partitions(b.addr, "from-file") == 2
    b.stop()
    # The environment beats the file.
    b = broker_factory("--config", str(props), env={"HERALD_NUM_PARTITIONS": "3"})
    assert broker_config(b.addr, "num.partitions", "message.max.bytes") == \
        {"num.partitions": "3", "message.max.bytes": "500000"}
    assert auto_partitions(b.addr, "from-env") == 3
    b.stop()
    # Flags beat both.
    b = broker_factory("--config", str(props), "--num-partitions", "4",
                       env={"HERALD_NUM_PARTITIONS": "3"})
    assert broker_config(b.addr, "num.partitions") == {"num.partitions": "4"}
    assert auto_partitions(b.addr, "from-flag") == 4
    b.stop()
    # HERALD_CONFIG names the file too.
    b = broker_factory(env={"HERALD_CONFIG": str(props)})
    assert broker_config(b.addr, "num.partitions") == {"num.partitions": "2"}


def test_topic_defaults_follow_broker_settings(broker_factory):
    b = broker_factory("--retention-ms", "86400000", "--message-max-bytes", "300000")
    a = admin(b.addr)
    with kr.Conn(b.addr) as c:
        kr.metadata_v1(c, ["deflt"])
    res = ConfigResource(ConfigResource.Type.TOPIC, "deflt")
    cfg = a.describe_configs([res], request_timeout=10)[res].result(10)
    assert cfg["retention.ms"].value == "86400000"
    assert cfg["max.message.bytes"].value == "300000"


def test_unknown_flag_fails_clearly():
    r = run_herald(["serve", "--no-such-flag", "1"])
    assert r.returncode != 0
    assert "no-such-flag" in r.stderr


def test_bad_values_fail_clearly(tmp_path):
    r = run_herald(["serve", "--num-partitions", "zero", "--data-dir", str(tmp_path / "d")])
    assert r.returncode != 0 and "num-partitions" in r.stderr
    r = run_herald(["serve", "--num-partitions", "0", "--data-dir", str(tmp_path / "d")])
    assert r.returncode != 0 and "num-partitions" in r.stderr
    r = run_herald(["serve", "--data-dir", str(tmp_path / "d")],
                   env={"HERALD_MESSAGE_MAX_BYTES": "lots"})
    assert r.returncode != 0 and "HERALD_MESSAGE_MAX_BYTES" in r.stderr
    bad = tmp_path / "bad.properties"
    bad.write_text("num.partitions=2\nno.such.key=1\n")
    r = run_herald(["serve", "--config", str(bad), "--data-dir", str(tmp_path / "d")])
    assert r.returncode != 0 and ":2" in r.stderr
    r = run_herald(["serve", "--config", str(tmp_path / "missing.properties")])
    assert r.returncode != 0 and "missing.properties" in r.stderr
    r = run_herald(["serve", "--log-level", "chatty", "--data-dir", str(tmp_path / "d")])
    assert r.returncode != 0 and "log" in r.stderr


def test_unusable_listen_address_fails(broker, tmp_path):
    # The port is taken by the running broker.
    r = run_herald(["serve", "--kafka-addr", broker.addr, "--data-dir", str(tmp_path / "d2")])
    assert r.returncode != 0
    assert r.stderr.strip(), "no message for a port in use"


def test_help_lists_settings():
    r = run_herald(["serve", "--help"])
    assert r.returncode == 0
    for needle in ("--kafka-addr", "--data-dir", "--advertised-addr", "--num-partitions",
                   "--auto-create-topics", "--message-max-bytes", "--segment-bytes",
                   "--retention-ms", "--retention-bytes", "--retention-check-ms",
                   "--log-level", "--config", "HERALD_NUM_PARTITIONS", "num.partitions",
                   "1048588"):
        assert needle in r.stdout, needle
    r = run_herald(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("herald ")


def test_advertised_addr_in_metadata(broker_factory):
    b2 = broker_factory(start=False)
    b2.extra_args = ["--advertised-addr", "localhost:%d" % b2.port]
    b2.start()
    with kr.Conn(b2.addr) as c:
        brokers, _ctrl, _t = kr.metadata_v1(c, [])
        assert [(n, h, p) for n, h, p, _rack in brokers] == [(1, "localhost", b2.port)]
