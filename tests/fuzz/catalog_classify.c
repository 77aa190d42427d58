/* Fuzz target: the event catalog's classification of a record (obs__classify), on a record
 * header area and value made of the input: byte 0 is the header count (low nibble), byte 1 the
 * header area's length, then the header area, then the value. Whatever the bytes, the type it
 * names lies inside the record (or is the static "(untyped)") and is within bounds. */
#include "fuzz_check.h"
#include "obs/obs_int.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(hd_slice_t s, const uint8_t *p, size_t n)
{
    return s.len == 0 || (s.p >= p && s.p + s.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1u << 16))
        return 0;
    size_t hlen = data[1];
    if (hlen > size - 2)
        hlen = size - 2;
    broker_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.headers_count = data[0] & 0x0f;
    rec.headers = hd_slice(data + 2, hlen);
    rec.value = hd_slice(data + 2 + hlen, size - 2 - hlen);
    rec.value_null = (data[0] & 0x10) != 0;
    rec.key_null = true;
    obs__classified_t c;
    obs__classify(&rec, &c);
    CHECK(c.kind == OBS__KIND_UNTYPED || c.kind == OBS__KIND_CLOUDEVENT ||
          c.kind == OBS__KIND_SCHEMA);
    CHECK(inside(c.ctype, data, size));
    if (c.kind == OBS__KIND_CLOUDEVENT) {
        CHECK(c.name.len > 0 && c.name.len <= OBS__TYPE_MAX);
        CHECK(inside(c.name, data, size));
    } else if (c.kind == OBS__KIND_UNTYPED) {
        CHECK(c.name.len == 9 && memcmp(c.name.p, "(untyped)", 9) == 0);
    } else {
        CHECK(!rec.value_null && rec.value.len >= 5 && rec.value.p[0] == 0);
    }
    return 0;
}
