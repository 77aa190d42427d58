/* Run-time loading of libcurl (see util/curl_dl.h). */
#include "util/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

static hd_curl_t table;
static const hd_curl_t *loaded;
static const char *load_why = "libcurl was not loaded";
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    static const char *const names[] = {"libcurl.so.4", "libcurl-gnutls.so.4"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        load_why = "cannot load libcurl (libcurl.so.4): install Debian's libcurl4";
        return;
    }
    __typeof__(curl_global_init) *global_init;
#define RESOLVE(field, sym)                                                                        \
    do {                                                                                           \
        *(void **)&(field) = dlsym(h, sym);                                                        \
        if (!(field)) {                                                                            \
            load_why = "the libcurl found lacks " sym;                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(table.easy_init, "curl_easy_init");
    RESOLVE(table.easy_setopt, "curl_easy_setopt");
    RESOLVE(table.easy_perform, "curl_easy_perform");
    RESOLVE(table.easy_getinfo, "curl_easy_getinfo");
    RESOLVE(table.easy_cleanup, "curl_easy_cleanup");
    RESOLVE(table.easy_strerror, "curl_easy_strerror");
    RESOLVE(table.slist_append, "curl_slist_append");
    RESOLVE(table.slist_free_all, "curl_slist_free_all");
#undef RESOLVE
    if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        load_why = "libcurl failed to initialise";
        return;
    }
    loaded = &table;
}

const hd_curl_t *hd_curl(const char **why)
{
    pthread_once(&once, load);
    if (!loaded && why)
        *why = load_why;
    return loaded;
}
