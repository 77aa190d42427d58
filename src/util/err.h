/* The broker's own error codes, as one X-macro table that also generates hd_strerror(). */
#ifndef HD_ERR_H
#define HD_ERR_H

/* Codes are negative and far below any -errno value so the two never collide. */
#define HD_ERRORS(X)                                                                               \
    X(HD_EINCOMPLETE, -10001, "more bytes needed")                                                 \
    X(HD_EMALFORMED, -10002, "malformed input")                                                    \
    X(HD_ETOOBIG, -10003, "size over limit")                                                       \
    X(HD_ECORRUPT, -10004, "corrupt data (checksum or structure)")                                 \
    X(HD_ENOTFOUND, -10005, "not found")                                                           \
    X(HD_EEXIST, -10006, "already exists")                                                         \
    X(HD_EINVAL, -10007, "invalid argument")                                                       \
    X(HD_ERANGE, -10008, "out of range")                                                           \
    X(HD_EUNSUPPORTED, -10009, "unsupported")                                                      \
    X(HD_ECLOSED, -10010, "closed")                                                                \
    X(HD_EDUPLICATE, -10011, "duplicate")                                                          \
    X(HD_ESEQUENCE, -10012, "out of order sequence")                                               \
    X(HD_EFENCED, -10013, "fenced or stale epoch")                                                 \
    X(HD_ENOMEM, -10014, "memory limit reached")

enum {
#define HD_ERR_ENUM(name, val, msg) name = (val),
    HD_ERRORS(HD_ERR_ENUM)
#undef HD_ERR_ENUM
};

/* Returns a static description of rc: one of the codes above, or -errno. */
const char *hd_strerror(int rc);

#endif
