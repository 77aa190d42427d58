/* Fuzz target: JSON Schema compilation, validation and compatibility. The input is a schema and
 * an instance, both JSON, separated by the first NUL byte; the byte before it, when the schema
 * part is long enough, picks the compile flags. The instance is also tried as a second schema
 * for the compatibility check. Nothing may crash, leak, hang or answer outside the contract. */
#include "registry/registry.h"
#include "util/err.h"

#include "fuzz_check.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *refs(void *ctx, const char *uri)
{
    /* Every other document is the instance part, so references across documents get exercised. */
    return strstr(uri, "other") ? ctx : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    const uint8_t *ip = nul ? nul + 1 : data + size;
    size_t ilen = (size_t)(data + size - ip);
    unsigned flags = slen ? data[0] & 3u : 0;
    json_error_t e;
    json_t *schema = json_loadb((const char *)data, slen, JSON_DECODE_ANY, &e);
    json_t *inst = json_loadb((const char *)ip, ilen, JSON_DECODE_ANY, &e);
    if (!schema || !inst)
        goto out;
    registry_jsonschema_t *s = NULL, *s2 = NULL;
    registry_error_t err;
    int rc = registry_jsonschema_compile(schema, refs, inst, flags, &s, &err);
    CHECK(rc == 0 || rc == HD_EMALFORMED || rc == HD_ENOTFOUND || rc == HD_ETOOBIG);
    CHECK(memchr(err.message, 0, sizeof err.message) &&
          memchr(err.schema_path, 0, sizeof err.schema_path));
    if (rc != 0)
        goto out;
    rc = registry_jsonschema_validate(s, inst, &err);
    CHECK(rc == 0 || rc == HD_EINVAL || rc == HD_ERANGE);
    CHECK(rc == 0 || err.message[0]);
    CHECK(memchr(err.instance_path, 0, sizeof err.instance_path));
    rc = registry_jsonschema_validate(s, schema, &err);
    CHECK(rc == 0 || rc == HD_EINVAL || rc == HD_ERANGE);
    registry_compat_msgs_t m;
    registry_compat_msgs_init(&m);
    CHECK(registry_jsonschema_compat(s, s, REGISTRY_DIR_FULL, &m) == 0 || m.n > 0);
    if (registry_jsonschema_compile(inst, NULL, NULL, flags, &s2, &err) == 0) {
        registry_compat_msgs_init(&m);
        rc = registry_jsonschema_compat(s, s2, REGISTRY_DIR_FULL, &m);
        CHECK(rc == 0 || (rc == HD_EINVAL && m.n > 0));
        registry_jsonschema_free(s2);
    }
    registry_jsonschema_free(s);
out:
    json_decref(schema);
    json_decref(inst);
    return 0;
}
