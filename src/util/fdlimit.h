/* The process's open-file limit (RLIMIT_NOFILE) and the descriptors it holds. A broker holds one
 * descriptor per segment file it has opened (and two more for the indexes of each partition's
 * active segment) and one per client connection, so thousands of partitions need more than the
 * 1,024 most systems give a process by default. */
#ifndef HD_FDLIMIT_H
#define HD_FDLIMIT_H

/* Raises the soft limit to the hard one (at most /proc/sys/fs/nr_open, the kernel's ceiling), as
 * a process may without privileges. Returns the limit in force afterwards (HD_FDLIMIT_NONE when
 * there is none) and stores the one found in *before; a refusal leaves the limit as it was. */
long hd_fdlimit_raise(long *before);

/* The soft limit in force, or HD_FDLIMIT_NONE. */
long hd_fdlimit_get(void);

/* No limit (RLIM_INFINITY). */
#define HD_FDLIMIT_NONE (-1L)

/* Descriptors open now (the entries of /proc/self/fd; the limit itself when not even the one
 * that reading them takes is left), or -1 where that cannot be read. It reads
 * a directory of one entry per descriptor: for a request that changes what is open (creating
 * topics) or a metrics scrape, not for a hot path. */
long hd_fds_open(void);

#endif
