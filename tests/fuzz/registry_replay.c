/* Fuzz target: the schema registry's log replay (registry/store.c), i.e. the parser of the
 * entries Herald reads back from DATA_DIR/__schemas at startup. The input is one RecordBatch
 * whose records are applied to a registry; a damaged disk must never crash it. What was applied
 * is then read through the public API, and every 256 inputs the broker and registry are reopened
 * (which replays what earlier inputs wrote through registrations). */
#include "registry/registry_int.h"
#include "util/config.h"
#include "util/say.h"
#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hd_config_t cfg;
static broker_t *b;
static registry_t *reg;
static unsigned runs;

static void noop(void *ctx) { (void)ctx; }

static void open_all(void)
{
    if (!cfg.data_dir) {
        hd_config_init(&cfg);
        free(cfg.data_dir);
        cfg.data_dir = fuzz_tmpdir("registry");
        cfg.preallocate = false;
        say_level = SAY_ERROR;
    }
    if (broker_open(&cfg, noop, NULL, &b) < 0 || registry_open(b, &reg) < 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    if (!b)
        open_all();
    registry__store_apply_batch(reg, hd_slice(data, size));
    const char **names;
    int n = registry_subjects(reg, true, &names);
    for (int i = 0; i < n; i++) {
        int32_t *v;
        registry_err_t err;
        registry_version_t ver;
        int nv = registry_versions(reg, names[i], true, &v, &err);
        if (nv > 0) {
            free(v);
            if (registry_version_get(reg, names[i], "latest", true, &ver, &err) == 0 &&
                strlen(registry_schema_text(ver.schema)) > (1u << 30))
                abort();
        }
        int level;
        registry_config_get(reg, names[i], true, &level, &err);
    }
    free(names);
    /* Keep something in the log for the reopen below to replay. */
    if (runs % 64 == 0) {
        const char *t = "{\"type\":\"record\",\"name\":\"F\",\"fields\":[]}";
        registry_schema_in_t in = {REGISTRY_AVRO, t, strlen(t), NULL, 0};
        int32_t id;
        int64_t at;
        registry_err_t err;
        registry_register(reg, "fuzz", &in, &id, &at, &err);
    }
    if (++runs % 256 == 0) {
        registry_close(reg);
        broker_close(b);
        open_all();
    }
    return 0;
}
