/* The file-I/O seam: every storage read, write and sync goes through these hooks, so tests can
 * inject short writes, ENOSPC and EIO. All functions return the syscall's result, or -errno. */
#ifndef HD_FILEIO_H
#define HD_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct hd_fileio {
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, off_t off, off_t len);
} hd_fileio_t;

/* The active hooks. Tests replace members and restore hd_fileio_default afterwards. */
extern hd_fileio_t hd_io;
extern const hd_fileio_t hd_fileio_default;

/* Writes all n bytes (retrying short writes and EINTR). Returns 0 or -errno. */
int hd_io_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Writes the cnt buffers of iov back to back from off (one pwritev, retrying short writes and
 * EINTR; through the pwrite hook, one buffer at a time, while a test replaced it). The iov array
 * is modified. Returns 0 or -errno. */
struct iovec;
int hd_io_pwritev_all(int fd, struct iovec *iov, int cnt, off_t off);
/* Reads up to n bytes; returns bytes read (short only at end of file) or -errno. */
ssize_t hd_io_pread_full(int fd, void *buf, size_t n, off_t off);
/* fsyncs a directory so that file creations and renames in it are durable. */
int hd_io_fsync_dir(const char *path);

#endif
