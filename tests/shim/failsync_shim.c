/* failsync_shim: an LD_PRELOAD library for integration tests that makes fdatasync, fsync and
 * syncfs fail with EIO while the file named by $HERALD_TEST_FAIL_SYNC_FILE exists: a disk that
 * starts failing under a running broker. Without the variable, or while the file is absent,
 * every call goes to the C library. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int failing(void)
{
    const char *path = getenv("HERALD_TEST_FAIL_SYNC_FILE");
    return path && access(path, F_OK) == 0;
}

/* EIO while failing, else the C library's `name` (looked up once into *real). */
static int call(int (**real)(int), const char *name, int fd)
{
    if (failing()) {
        errno = EIO;
        return -1;
    }
    if (!*real)
        *real = (int (*)(int))dlsym(RTLD_NEXT, name);
    return (*real)(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    return call(&real, "fdatasync", fd);
}

int fsync(int fd)
{
    static int (*real)(int);
    return call(&real, "fsync", fd);
}

int syncfs(int fd)
{
    static int (*real)(int);
    return call(&real, "syncfs", fd);
}
