/* CHECK(x) for the fuzz targets: aborts (a finding for libFuzzer) when an invariant fails. And
 * fuzz_tmpdir(): a data directory that is removed when the process exits. */
#ifndef HD_FUZZ_CHECK_H
#define HD_FUZZ_CHECK_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #x, __LINE__);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char fuzz_tmpdir_path[96];

static int fuzz_tmpdir_rm(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void fuzz_tmpdir_remove(void)
{
    nftw(fuzz_tmpdir_path, fuzz_tmpdir_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory /tmp/herald-fuzz-<name>-XXXXXX, removed at exit (libFuzzer ends a run with
 * exit()), so that runs leave nothing behind. One per process. Returns a malloc'd copy. */
static inline char *fuzz_tmpdir(const char *name)
{
    if (fuzz_tmpdir_path[0])
        abort();
    snprintf(fuzz_tmpdir_path, sizeof fuzz_tmpdir_path, "/tmp/herald-fuzz-%s-XXXXXX", name);
    if (!mkdtemp(fuzz_tmpdir_path))
        abort();
    atexit(fuzz_tmpdir_remove);
    return strdup(fuzz_tmpdir_path);
}

#endif
