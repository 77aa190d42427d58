/* journal_sync_probe: times the ways one group-commit round can make W bytes durable on this disk,
 * the measurements behind the journal's design (docs/performance.md, "The journal").
 *
 *   journal_sync_probe DIR [W_BYTES] [ROUNDS] [FILES]
 *
 * Each method appends W bytes per round sequentially and makes them durable, ROUNDS times:
 *   falloc+fdatasync   a file preallocated with fallocate (unwritten extents), pwrite + fdatasync
 *   zeroed+fdatasync   a file written with zeros first (initialized blocks), pwrite + fdatasync
 *   zeroed+RWF_DSYNC   the same file, one pwritev2(RWF_DSYNC) per round
 *   odirect+O_DSYNC    the same file opened O_DIRECT|O_DSYNC, writes padded to 4 KiB
 *   FILES x fdatasync  W/FILES bytes to each of FILES files, one fdatasync per file (no journal)
 *   FILES + syncfs     the same writes, one syncfs (the flusher without a journal)
 * Prints one line per method: p50, p90, p99 of a round in microseconds. Files are removed. */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, int64_t *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp64);
    printf("%-20s p50 %7.0f us  p90 %7.0f us  p99 %7.0f us\n", name, t[n / 2] / 1e3,
           t[n * 9 / 10] / 1e3, t[n * 99 / 100] / 1e3);
    fflush(stdout);
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int open_file(const char *dir, const char *name, int flags, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | flags, 0644);
    if (fd < 0)
        die(path);
    return fd;
}

static void zero_fill(int fd, size_t size)
{
    static char z[1 << 20];
    for (size_t off = 0; off < size; off += sizeof z)
        if (pwrite(fd, z, sizeof z, (off_t)off) != (ssize_t)sizeof z)
            die("zero fill");
    if (fsync(fd) < 0)
        die("fsync");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [W_BYTES] [ROUNDS] [FILES]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    size_t w = argc > 2 ? strtoul(argv[2], NULL, 10) : 8192;
    int rounds = argc > 3 ? atoi(argv[3]) : 2000;
    int nfiles = argc > 4 ? atoi(argv[4]) : 100;
    if (w == 0 || rounds < 10 || nfiles < 1)
        return 2;
    size_t wpad = (w + 4095) & ~(size_t)4095;
    size_t size = wpad * (size_t)rounds + (1 << 20);
    char *buf;
    if (posix_memalign((void **)&buf, 4096, wpad))
        die("alloc");
    memset(buf, 'x', wpad);
    int64_t *t = malloc(sizeof *t * (size_t)rounds);
    char path[512];

    int fd = open_file(dir, "probe-falloc", 0, path, sizeof path);
    if (posix_fallocate(fd, 0, (off_t)size))
        die("fallocate");
    fsync(fd);
    for (int i = 0; i < rounds; i++) {
        int64_t t0 = now_ns();
        if (pwrite(fd, buf, w, (off_t)(w * (size_t)i)) != (ssize_t)w || fdatasync(fd) < 0)
            die("falloc round");
        t[i] = now_ns() - t0;
    }
    report("falloc+fdatasync", t, rounds);
    close(fd);
    unlink(path);

    fd = open_file(dir, "probe-zeroed", 0, path, sizeof path);
    zero_fill(fd, size);
    for (int i = 0; i < rounds; i++) {
        int64_t t0 = now_ns();
        if (pwrite(fd, buf, w, (off_t)(w * (size_t)i)) != (ssize_t)w || fdatasync(fd) < 0)
            die("zeroed round");
        t[i] = now_ns() - t0;
    }
    report("zeroed+fdatasync", t, rounds);
#ifdef RWF_DSYNC
    for (int i = 0; i < rounds; i++) {
        struct iovec iov = {buf, w};
        int64_t t0 = now_ns();
        if (pwritev2(fd, &iov, 1, (off_t)(w * (size_t)i), RWF_DSYNC) != (ssize_t)w)
            die("RWF_DSYNC round");
        t[i] = now_ns() - t0;
    }
    report("zeroed+RWF_DSYNC", t, rounds);
#endif
    int dfd = open(path, O_RDWR | O_DIRECT | O_DSYNC);
    if (dfd >= 0) {
        for (int i = 0; i < rounds; i++) {
            int64_t t0 = now_ns();
            if (pwrite(dfd, buf, wpad, (off_t)(wpad * (size_t)i)) != (ssize_t)wpad)
                die("O_DIRECT round");
            t[i] = now_ns() - t0;
        }
        report("odirect+O_DSYNC", t, rounds);
        close(dfd);
    }
    close(fd);
    unlink(path);

    int *fds = malloc(sizeof *fds * (size_t)nfiles);
    for (int k = 0; k < nfiles; k++) {
        char name[32];
        snprintf(name, sizeof name, "probe-part-%d", k);
        fds[k] = open_file(dir, name, 0, path, sizeof path);
        if (posix_fallocate(fds[k], 0, (off_t)(size / (size_t)nfiles + 65536)))
            die("fallocate");
    }
    size_t each = w / (size_t)nfiles ? w / (size_t)nfiles : 1;
    int r2 = rounds / 4 < 10 ? 10 : rounds / 4;
    for (int mode = 0; mode < 2; mode++) {
        for (int i = 0; i < r2; i++) {
            int64_t t0 = now_ns();
            for (int k = 0; k < nfiles; k++)
                if (pwrite(fds[k], buf, each, (off_t)(each * (size_t)(i + mode * r2))) !=
                    (ssize_t)each)
                    die("part write");
            if (mode == 0) {
                for (int k = 0; k < nfiles; k++)
                    if (fdatasync(fds[k]) < 0)
                        die("part fdatasync");
            } else if (syncfs(fds[0]) < 0) {
                die("syncfs");
            }
            t[i] = now_ns() - t0;
        }
        char name[40];
        snprintf(name, sizeof name, "%d x %s", nfiles, mode == 0 ? "fdatasync" : "syncfs");
        report(name, t, r2);
    }
    for (int k = 0; k < nfiles; k++) {
        char name[32];
        snprintf(name, sizeof name, "%s/probe-part-%d", dir, k);
        close(fds[k]);
        unlink(name);
    }
    free(fds);
    free(t);
    free(buf);
    return 0;
}
