/* Default file-I/O hooks over the POSIX calls, and helpers built on them. */
#include "util/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t def_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r = pwrite(fd, buf, n, off);
    return r < 0 ? -errno : r;
}

static ssize_t def_pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = pread(fd, buf, n, off);
    return r < 0 ? -errno : r;
}

static int def_fdatasync(int fd) { return fdatasync(fd) < 0 ? -errno : 0; }
static int def_syncfs(int fd) { return syncfs(fd) < 0 ? -errno : 0; }

static int def_ftruncate(int fd, off_t len) { return ftruncate(fd, len) < 0 ? -errno : 0; }

static int def_fallocate(int fd, off_t off, off_t len)
{
    int r = posix_fallocate(fd, off, len);
    return r ? -r : 0;
}

static int def_writeback(int fd, off_t off, off_t len, bool wait)
{
#ifdef SYNC_FILE_RANGE_WRITE
    unsigned flags = SYNC_FILE_RANGE_WRITE;
    if (wait)
        flags |= SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WAIT_AFTER;
    return sync_file_range(fd, off, len, flags) < 0 ? -errno : 0;
#else
    (void)fd;
    (void)off;
    (void)len;
    (void)wait;
    return 0;
#endif
}

const hd_fileio_t hd_fileio_default = {def_pwrite,    def_pread,     def_fdatasync, def_ftruncate,
                                       def_fallocate, def_writeback, def_syncfs};
hd_fileio_t hd_io = {def_pwrite,    def_pread,     def_fdatasync, def_ftruncate,
                     def_fallocate, def_writeback, def_syncfs};

int hd_io_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = hd_io.pwrite(fd, p, n, off);
        if (w == -EINTR)
            continue;
        if (w < 0)
            return (int)w;
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

int hd_io_pwritev_all(int fd, struct iovec *iov, int cnt, off_t off)
{
    if (hd_io.pwrite != hd_fileio_default.pwrite) { /* a test's faults apply here too */
        for (int i = 0; i < cnt; i++) {
            int rc = hd_io_pwrite_all(fd, iov[i].iov_base, iov[i].iov_len, off);
            if (rc < 0)
                return rc;
            off += (off_t)iov[i].iov_len;
        }
        return 0;
    }
    while (cnt > 0) {
        ssize_t w = pwritev(fd, iov, cnt, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        off += w;
        while (cnt > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

ssize_t hd_io_pread_full(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = hd_io.pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int hd_io_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

int hd_io_fsync_dir_via(const char *path, int fd)
{
    int rc = hd_io_fsync_dir(path);
    if ((rc == -EMFILE || rc == -ENFILE) && fd >= 0)
        rc = hd_io.syncfs(fd);
    return rc;
}

/* ---- direct writes ---- */

void hd_dio_init(hd_dio_t *d)
{
    memset(d, 0, sizeof *d);
    d->tail_at = -1;
}

void hd_dio_deinit(hd_dio_t *d)
{
    free(d->buf);
    hd_dio_init(d);
}

void hd_dio_note(hd_dio_t *d, const void *owner, const void *p, size_t n, off_t off)
{
    const unsigned char *b = p;
    long long end = (long long)off + (long long)n, at = end & ~(long long)(HD_DIO_BLOCK - 1);
    if (at >= (long long)off) {
        /* The end's block starts within these bytes. */
        memcpy(d->tail, b + (at - (long long)off), (size_t)(end - at));
    } else if (d->tail_owner == owner && d->tail_at == at &&
               d->tail_at + (long long)d->tail_len == (long long)off) {
        memcpy(d->tail + d->tail_len, b, n); /* within the block, right after the known bytes */
    } else {
        d->tail_owner = NULL;
        return;
    }
    d->tail_owner = owner;
    d->tail_at = at;
    d->tail_len = (size_t)(end - at);
}

int hd_dio_pwrite(hd_dio_t *d, const void *owner, int dfd, const void *p, size_t n, off_t off)
{
    long long at = (long long)off & ~(long long)(HD_DIO_BLOCK - 1);
    size_t pre = (size_t)((long long)off - at);
    if (pre && !(d->tail_owner == owner && d->tail_at == at && d->tail_len == pre))
        return HD_DIO_UNKNOWN;
    size_t total = pre + n, padded = (total + HD_DIO_BLOCK - 1) & ~(size_t)(HD_DIO_BLOCK - 1);
    if (padded > d->cap) {
        void *nb;
        if (posix_memalign(&nb, HD_DIO_BLOCK, padded))
            return -ENOMEM;
        free(d->buf);
        d->buf = nb;
        d->cap = padded;
    }
    memcpy(d->buf, d->tail, pre);
    memcpy(d->buf + pre, p, n);
    memset(d->buf + total, 0, padded - total);
    ssize_t w;
    do
        w = hd_io.pwrite(dfd, d->buf, padded, (off_t)at);
    while (w == -EINTR);
    if (w != (ssize_t)padded) {
        d->tail_owner = NULL;
        return w < 0 ? (int)w : -EIO;
    }
    hd_dio_note(d, owner, d->buf, total, (off_t)at);
    return 0;
}
