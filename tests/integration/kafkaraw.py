"""Hand-built Kafka requests for herald's integration tests.

Only what the tests need: classic (non-flexible) encodings, the v1 request header, RecordBatch v2
with CRC-32C, and a small blocking connection with timeouts. Field layouts follow
shared/kafka-protocol/COMPAT.md and the Apache Kafka message JSON files.
"""
import gzip
import socket
import struct
import time

# --- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) -----------------------------------

_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value

# --- API keys and error codes ------------------------------------------------------------------

PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS, INIT_PRODUCER_ID = 18, 19, 20, 22
DESCRIBE_CONFIGS, CREATE_PARTITIONS = 32, 37

NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75
INVALID_RECORD = 87

# --- Primitive encoders ------------------------------------------------------------------------


def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    """Classic (nullable) string: i16 length, -1 for None."""
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def bytes_(b):
    """Classic (nullable) bytes: i32 length, -1 for None."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


def array(items, enc=lambda x: x):
    """Classic (nullable) array of already-encoded items or items passed through enc."""
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def varint(v):
    """Zigzag signed varint/varlong (record fields)."""
    return uvarint((v << 1) ^ (v >> 63))


# --- Reader ------------------------------------------------------------------------------------


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def remaining(self):
        return len(self.data) - self.pos

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("short read: need %d at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def _s(self, fmt, n):
        return struct.unpack(fmt, self.take(n))[0]

    def i8(self):
        return self._s(">b", 1)

    def i16(self):
        return self._s(">h", 2)

    def i32(self):
        return self._s(">i", 4)

    def u32(self):
        return self._s(">I", 4)

    def i64(self):
        return self._s(">q", 8)

    def bool(self):
        return self.i8() != 0

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes(self):
        n = self.i32()
        return None if n < 0 else self.take(n)

    def array(self, fn):
        n = self.i32()
        if n < 0:
            return None
        return [fn(self) for _ in range(n)]

    def uvarint(self):
        shift = v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def varint(self):
        u = self.uvarint()
        return (u >> 1) ^ -(u & 1)


# --- RecordBatch v2 ----------------------------------------------------------------------------

CODEC_NONE, CODEC_GZIP, CODEC_SNAPPY, CODEC_LZ4, CODEC_ZSTD = 0, 1, 2, 3, 4


def encode_record(offset_delta, ts_delta, key, value, headers=()):
    body = i8(0) + varint(ts_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        hk = hk.encode() if isinstance(hk, str) else hk
        body += varint(len(hk)) + hk
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + body


def record_batch(records, base_timestamp=None, producer_id=-1, producer_epoch=-1,
                 base_sequence=-1, codec=CODEC_NONE, base_offset=0):
    """records: list of (key, value[, headers[, timestamp]]). Returns the batch bytes."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    encoded = []
    max_ts = base_timestamp
    for n, r in enumerate(records):
        key, value = r[0], r[1]
        headers = r[2] if len(r) > 2 else ()
        ts = r[3] if len(r) > 3 else base_timestamp
        max_ts = max(max_ts, ts)
        encoded.append(encode_record(n, ts - base_timestamp, key, value, headers))
    payload = b"".join(encoded)
    if codec == CODEC_GZIP:
        payload = gzip.compress(payload)
    elif codec != CODEC_NONE:
        raise ValueError("only none and gzip are built here")
    after_crc = (i16(codec) + i32(len(records) - 1) + i64(base_timestamp) + i64(max_ts)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence)
                 + i32(len(records)) + payload)
    crc = crc32c(after_crc)
    tail = i32(0) + i8(2) + struct.pack(">I", crc) + after_crc  # leader epoch, magic, crc
    return i64(base_offset) + i32(len(tail)) + tail


class Batch:
    """One decoded batch header (and its records when uncompressed or gzip)."""

    def __init__(self, data):
        r = Reader(data)
        self.raw = data
        self.base_offset = r.i64()
        self.length = r.i32()
        self.leader_epoch = r.i32()
        self.magic = r.i8()
        self.crc = r.u32()
        self.attributes = r.i16()
        self.last_offset_delta = r.i32()
        self.base_timestamp = r.i64()
        self.max_timestamp = r.i64()
        self.producer_id = r.i64()
        self.producer_epoch = r.i16()
        self.base_sequence = r.i32()
        self.count = r.i32()
        self.payload = data[r.pos:]
        self.codec = self.attributes & 7
        self.crc_ok = crc32c(data[21:]) == self.crc

    def records(self):
        """[(offset, timestamp, key, value, headers)] for codecs none and gzip."""
        p = self.payload
        if self.codec == CODEC_GZIP:
            p = gzip.decompress(p)
        elif self.codec != CODEC_NONE:
            raise ValueError("codec %d not decoded here" % self.codec)
        r = Reader(p)
        out = []
        for _ in range(self.count):
            length = r.varint()
            rr = Reader(r.take(length))
            rr.i8()
            ts = self.base_timestamp + rr.varint()
            off = self.base_offset + rr.varint()
            kl = rr.varint()
            key = None if kl < 0 else rr.take(kl)
            vl = rr.varint()
            value = None if vl < 0 else rr.take(vl)
            headers = []
            for _ in range(rr.varint()):
                hk = rr.take(rr.varint()).decode()
                hl = rr.varint()
                headers.append((hk, None if hl < 0 else rr.take(hl)))
            out.append((off, ts, key, value, headers))
        return out


def split_batches(records_bytes):
    """Splits a Fetch records field into Batch objects, dropping a partial tail."""
    out = []
    pos = 0
    data = records_bytes or b""
    while len(data) - pos >= 12:
        length = struct.unpack(">i", data[pos + 8:pos + 12])[0]
        end = pos + 12 + length
        if length <= 0 or end > len(data):
            break
        out.append(Batch(data[pos:end]))
        pos = end
    return out


# --- Connection --------------------------------------------------------------------------------


def split_addr(addr):
    host, port = addr.rsplit(":", 1)
    return host, int(port)


class Conn:
    """A blocking Kafka connection with a timeout on every call."""

    def __init__(self, addr, timeout=10.0, client_id="herald-it"):
        self.sock = socket.create_connection(split_addr(addr), timeout=timeout)
        self.sock.settimeout(timeout)
        self.client_id = client_id
        self.corr = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def header(self, api_key, version, corr, flexible=False):
        h = i16(api_key) + i16(version) + i32(corr) + string(self.client_id)
        return h + (b"\x00" if flexible else b"")

    def send(self, api_key, version, body, flexible=False):
        self.corr += 1
        msg = self.header(api_key, version, self.corr, flexible) + body
        self.sock.sendall(i32(len(msg)) + msg)
        return self.corr

    def send_raw(self, data):
        self.sock.sendall(data)

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by broker")
            buf += chunk
        return bytes(buf)

    def recv(self):
        """Returns (correlation id, body Reader) of the next response (header v0)."""
        size = struct.unpack(">i", self._recv_exact(4))[0]
        data = self._recv_exact(size)
        r = Reader(data)
        return r.i32(), r

    def request(self, api_key, version, body, flexible=False):
        corr = self.send(api_key, version, body, flexible)
        got, r = self.recv()
        assert got == corr, "correlation id %d, expected %d" % (got, corr)
        return r

    def closed_by_peer(self, timeout=5.0):
        """True when the broker closes the connection (EOF or reset) within timeout without
        sending anything; False if it stays open; raises if it answers with data."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            raise AssertionError("broker answered %r instead of closing" % chunk[:64])
        return False


# --- Requests and responses --------------------------------------------------------------------


def api_versions(conn, version=0):
    r = conn.request(API_VERSIONS, version, b"")
    err = r.i16()
    keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    return err, {k: (lo, hi) for k, lo, hi in keys}


def metadata_v1(conn, topics):
    r = conn.request(METADATA, 1, array(topics, string))
    brokers = r.array(lambda r: (r.i32(), r.string(), r.i32(), r.string()))
    controller = r.i32()

    def topic(r):
        err, name, _internal = r.i16(), r.string(), r.bool()
        parts = r.array(lambda r: (r.i16(), r.i32(), r.i32(), r.array(Reader.i32),
                                   r.array(Reader.i32)))
        return name, err, parts

    topics_out = {name: (err, parts) for name, err, parts in r.array(topic)}
    return brokers, controller, topics_out


def init_producer_id_v1(conn, transactional_id=None, timeout_ms=60000):
    r = conn.request(INIT_PRODUCER_ID, 1, string(transactional_id) + i32(timeout_ms))
    _throttle, err, pid, epoch = r.i32(), r.i16(), r.i64(), r.i16()
    return err, pid, epoch


def produce_body(topic, partition, batch, acks=-1, timeout_ms=10000, transactional_id=None):
    return (string(transactional_id) + i16(acks) + i32(timeout_ms)
            + array([string(topic) + array([i32(partition) + bytes_(batch)])]))


def produce(conn, topic, partition, batch, acks=-1, version=3):
    """Sends one batch; returns (error, base_offset) of the single partition answer."""
    r = conn.request(PRODUCE, version, produce_body(topic, partition, batch, acks))

    def part(r):
        p, err, base = r.i32(), r.i16(), r.i64()
        if version >= 2:
            r.i64()  # log_append_time
        if version >= 5:
            r.i64()  # log_start_offset
        return p, err, base

    topics = r.array(lambda r: (r.string(), r.array(part)))
    (_name, parts), = topics
    (_p, err, base), = parts
    return err, base


def fetch(conn, topic, partition, offset, version=4, max_wait_ms=100, min_bytes=1,
          max_bytes=50 << 20, partition_max_bytes=10 << 20, isolation_level=0):
    """Returns a dict: error, high_watermark, last_stable_offset, log_start_offset, records."""
    body = i32(-1) + i32(max_wait_ms) + i32(min_bytes)
    if version >= 3:
        body += i32(max_bytes)
    if version >= 4:
        body += i8(isolation_level)
    if version >= 7:
        body += i32(0) + i32(-1)  # session id, epoch: no session
    p = i32(partition)
    if version >= 9:
        p += i32(-1)
    p += i64(offset)
    if version >= 5:
        p += i64(-1)
    p += i32(partition_max_bytes)
    body += array([string(topic) + array([p])])
    if version >= 7:
        body += array([])
    if version >= 11:
        body += string("")
    r = conn.request(FETCH, version, body)
    r.i32()  # throttle
    if version >= 7:
        top_err, _session = r.i16(), r.i32()
        assert top_err == 0, "fetch top-level error %d" % top_err

    def part(r):
        d = {"partition": r.i32(), "error": r.i16(), "high_watermark": r.i64()}
        if version >= 4:
            d["last_stable_offset"] = r.i64()
        if version >= 5:
            d["log_start_offset"] = r.i64()
        if version >= 4:
            r.array(lambda r: (r.i64(), r.i64()))
        if version >= 11:
            r.i32()
        d["records"] = r.bytes()
        return d

    topics = r.array(lambda r: (r.string(), r.array(part)))
    (_name, parts), = topics
    (d,) = parts
    return d


def list_offsets_v1(conn, topic, partition, timestamp):
    body = i32(-1) + array([string(topic) + array([i32(partition) + i64(timestamp)])])
    r = conn.request(LIST_OFFSETS, 1, body)
    topics = r.array(lambda r: (r.string(), r.array(
        lambda r: (r.i32(), r.i16(), r.i64(), r.i64()))))
    (_name, parts), = topics
    (_p, err, ts, off), = parts
    return err, ts, off


def list_offsets(conn, topic, partition, timestamp, version, current_leader_epoch=-1):
    """ListOffsets v1-7 (flexible from v6) for one partition: (error, timestamp, offset,
    leader_epoch); leader_epoch is None below v4."""
    flex = version >= 6

    def s_(v):
        b = v.encode()
        return uvarint(len(b) + 1) + b if flex else string(v)

    def arr(items):
        return (uvarint(len(items) + 1) if flex else i32(len(items))) + b"".join(items)

    tag = b"\x00" if flex else b""
    p = i32(partition) + (i32(current_leader_epoch) if version >= 4 else b"") + i64(timestamp)
    body = i32(-1) + (i8(0) if version >= 2 else b"") + \
        arr([s_(topic) + arr([p + tag]) + tag]) + tag
    r = conn.request(LIST_OFFSETS, version, body, flexible=flex)
    if flex:
        assert r.uvarint() == 0  # response header tags
    if version >= 2:
        r.i32()  # throttle
    n = r.uvarint() - 1 if flex else r.i32()
    assert n == 1
    name = r.take(r.uvarint() - 1) if flex else r.string()
    assert name == topic.encode() or name == topic
    n = r.uvarint() - 1 if flex else r.i32()
    assert n == 1
    _p, err, ts, off = r.i32(), r.i16(), r.i64(), r.i64()
    epoch = r.i32() if version >= 4 else None
    return err, ts, off, epoch


def fetch_all_batches(addr, topic, partition, version=11, timeout=20.0):
    """Every batch of a partition from offset 0 up to its high watermark, via raw Fetch."""
    out = []
    offset = 0
    deadline = time.monotonic() + timeout
    with Conn(addr) as c:
        while time.monotonic() < deadline:
            d = fetch(c, topic, partition, offset, version=version)
            assert d["error"] == 0, "fetch error %d" % d["error"]
            batches = [b for b in split_batches(d["records"])
                       if b.base_offset + b.last_offset_delta >= offset]
            out.extend(batches)
            if batches:
                offset = batches[-1].base_offset + batches[-1].last_offset_delta + 1
            if offset >= d["high_watermark"]:
                return out
        raise AssertionError("could not read %s-%d to its end in time" % (topic, partition))
