/* hd_strerror(): text for the broker's error codes and for -errno values. */
#include "util/err.h"

#include <string.h>

const char *hd_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
#define HD_ERR_CASE(name, val, msg)                                                                \
    case name:                                                                                     \
        return msg;
        HD_ERRORS(HD_ERR_CASE)
#undef HD_ERR_CASE
    default:
        break;
    }
    if (rc < 0 && rc > -4096)
        return strerror(-rc);
    return "unknown error";
}
