/* Fuzz target: validation of JSON text through the flat document (registry__js_validate_text)
 * against the walk over jansson's tree of the same text (registry_jsonschema_validate). The
 * input is a schema and an instance text separated by the first NUL byte; the byte before it,
 * when the schema part is long enough, picks the compile flags. Both paths must give the same
 * answer with the same error (keyword, message, both pointers), and text jansson refuses must
 * be refused as not JSON. */
#include "registry/registry.h"
#include "registry/registry_int.h"
#include "util/err.h"

#include "fuzz_check.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    const char *ip = nul ? (const char *)nul + 1 : (const char *)data + size;
    size_t ilen = (size_t)((const char *)data + size - ip);
    unsigned flags = slen ? data[0] & 3u : 0;
    json_error_t e;
    json_t *schema = json_loadb((const char *)data, slen, JSON_DECODE_ANY, &e);
    if (!schema)
        return 0;
    registry_jsonschema_t *s = NULL;
    registry_error_t tree_err, text_err;
    if (registry_jsonschema_compile(schema, NULL, NULL, flags, &s, &tree_err) != 0) {
        json_decref(schema);
        return 0;
    }
    json_t *inst = json_loadb(ip, ilen, JSON_DECODE_ANY, &e);
    json_error_t te;
    int text_rc = registry__js_validate_text(s, ip, ilen, &text_err, &te);
    if (!inst) {
        CHECK(text_rc == HD_EMALFORMED);
        CHECK(!strcmp(te.text, e.text) && te.column == e.column);
    } else {
        int tree_rc = registry_jsonschema_validate(s, inst, &tree_err);
        CHECK(text_rc == tree_rc);
        if (tree_rc != 0) {
            CHECK(!strcmp(text_err.keyword, tree_err.keyword));
            CHECK(!strcmp(text_err.message, tree_err.message));
            CHECK(!strcmp(text_err.instance_path, tree_err.instance_path));
            CHECK(!strcmp(text_err.schema_path, tree_err.schema_path));
        }
    }
    registry_jsonschema_free(s);
    json_decref(inst);
    json_decref(schema);
    return 0;
}
