/* Fuzz target: the properties-file parser of the configuration. */
#include "util/config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hd_config_t c;
    hd_config_init(&c);
    int line = 0;
    const char *why = "";
    (void)hd_config_parse_properties(&c, (const char *)data, size, &line, &why);
    hd_config_entry_t ents[64];
    (void)hd_config_entries(&c, ents, 64);
    hd_config_deinit(&c);
    return 0;
}
