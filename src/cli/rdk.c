/* Run-time loading of librdkafka for the client commands (see cli/rdk.h). */
#define CLI_RDK_NO_REDIRECT
#include "cli/rdk.h"

#include <dlfcn.h>
#include <stdio.h>

#define CLI_RDK_DEFINE(f) __typeof__(f) *cli__rdk_##f;
CLI_RDK_FUNCS(CLI_RDK_DEFINE)
#undef CLI_RDK_DEFINE

int cli__rdk_load(void)
{
    static int state; /* 0 not tried, 1 loaded, -1 failed */
    if (state)
        return state > 0 ? 0 : -1;
    state = -1;
    void *h = dlopen("librdkafka.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "herald: cannot load librdkafka (needed by the client commands): %s\n",
                dlerror());
        return -1;
    }
#define CLI_RDK_RESOLVE(f)                                                                         \
    *(void **)&cli__rdk_##f = dlsym(h, #f);                                                        \
    if (!cli__rdk_##f) {                                                                           \
        fprintf(stderr, "herald: librdkafka lacks %s\n", #f);                                      \
        return -1;                                                                                 \
    }
    CLI_RDK_FUNCS(CLI_RDK_RESOLVE)
#undef CLI_RDK_RESOLVE
    state = 1;
    return 0;
}
