/* nosync_shim: an LD_PRELOAD library that turns the sync calls into no-ops, for measurement only.
 * bench/run.sh runs Herald under it as the system "herald-nosync": the clients against a broker
 * that never waits for the disk, the machine's floor that the latency target is measured from.
 * Data written under it is not durable. */
#include <fcntl.h>
#include <unistd.h>

int fsync(int fd)
{
    (void)fd;
    return 0;
}

int fdatasync(int fd)
{
    (void)fd;
    return 0;
}

int syncfs(int fd)
{
    (void)fd;
    return 0;
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags)
{
    (void)fd;
    (void)offset;
    (void)nbytes;
    (void)flags;
    return 0;
}
