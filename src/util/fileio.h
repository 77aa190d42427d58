/* The file-I/O seam: every storage read, write and sync goes through these hooks, so tests can
 * inject short writes, ENOSPC and EIO. All functions return the syscall's result, or -errno. */
#ifndef HD_FILEIO_H
#define HD_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct hd_fileio {
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*fallocate)(int fd, off_t off, off_t len);
    /* Writes the range's dirty pages to the disk (sync_file_range; len 0: to the end of the
     * file): with `wait`, waits for the range's writeback, earlier started included, and returns
     * its error; without, only starts it (errors surface at the next sync). Neither writes the
     * file's metadata nor flushes the disk's cache. Does nothing where the system cannot. */
    int (*writeback)(int fd, off_t off, off_t len, bool wait);
    /* Writes back and flushes the whole filesystem holding fd (syncfs). */
    int (*syncfs)(int fd);
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
/* hd_io_fsync_dir(), for a sync that must not fail for want of a descriptor (one that failed
 * stays failed): with none left to open the directory with (EMFILE, ENFILE), a syncfs through
 * fd, a file already open on the same filesystem, makes its entries durable instead. fd < 0:
 * none. */
int hd_io_fsync_dir_via(const char *path, int fd);

/* Direct (O_DIRECT) writes of a file written front to back, as a journal is: each write covers
 * whole HD_DIO_BLOCK blocks, from the block holding its first byte, whose earlier bytes must be
 * what the previous write left there (kept in `tail`), to the end of its last block, padded with
 * zeros (the next write covers that block again). Not thread-safe: one writer at a time. */
#define HD_DIO_BLOCK 4096
typedef struct hd_dio {
    unsigned char *buf; /* HD_DIO_BLOCK-aligned */
    size_t cap;
    unsigned char tail[HD_DIO_BLOCK];
    size_t tail_len;        /* bytes of the written end's block before the end */
    long long tail_at;      /* that block's offset */
    const void *tail_owner; /* the file they belong to (the caller's token); NULL: none known */
} hd_dio_t;
void hd_dio_init(hd_dio_t *d);
void hd_dio_deinit(hd_dio_t *d);
/* Notes that [off, off + n) of owner's file now holds p, written some other way, so that a later
 * direct write after it knows its first block. */
void hd_dio_note(hd_dio_t *d, const void *owner, const void *p, size_t n, off_t off);
/* Writes the n bytes at p to off of owner's file through dfd (opened with O_DIRECT; a buffered
 * descriptor takes the same whole blocks, and then never reads a page it only partly covers),
 * with the tail's bytes before them and zeros after, through the pwrite hook (a short write is
 * -EIO).
 * Returns 0, -errno, or HD_DIO_UNKNOWN when the bytes of off's block before off are not known:
 * write those n bytes another way then, and note them. */
#define HD_DIO_UNKNOWN (-100000)
int hd_dio_pwrite(hd_dio_t *d, const void *owner, int dfd, const void *p, size_t n, off_t off);

#endif
