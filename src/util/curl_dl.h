/* libcurl, loaded at run time. Only two things need an HTTP client: span export over OTLP (when
 * obs.otlp.endpoint is set) and the CLI's REST commands (`herald schema`, `herald sub`). Linked,
 * libcurl and the twenty libraries it pulls in cost every `herald serve` about 4 MiB of resident
 * memory; loaded on first use, they cost nothing to a broker that does not export spans. The
 * header is still libcurl's (its types and constants); the functions are called through the
 * table hd_curl() returns. */
#ifndef HD_CURL_DL_H
#define HD_CURL_DL_H

#include <curl/curl.h>

typedef struct hd_curl {
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
} hd_curl_t;

/* Loads libcurl (libcurl.so.4, else libcurl-gnutls.so.4), resolves the functions above and runs
 * curl_global_init(), once per process; thread-safe. Returns the table, or NULL with a sentence
 * in *why (static) when the library cannot be loaded. The library stays loaded until exit. */
const hd_curl_t *hd_curl(const char **why);

#endif
