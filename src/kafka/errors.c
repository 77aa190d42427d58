/* Kafka error code names and the one mapping from broker return codes to Kafka ErrorCodes. */
#include "kafka/errors.h"
#include "util/err.h"

const char *kafka_err_name(int16_t code)
{
    switch (code) {
#define KAFKA_ERR_CASE(name, c)                                                                    \
    case (c):                                                                                      \
        return #name;
        KAFKA_ERRORS(KAFKA_ERR_CASE)
#undef KAFKA_ERR_CASE
    }
    return "UNKNOWN_CODE";
}

/* The mapping, and why:
 *   0               -> NONE
 *   HD_ENOTFOUND    -> UNKNOWN_TOPIC_OR_PARTITION (3): the common "no such thing" in data APIs;
 *                      group handlers that mean GROUP_ID_NOT_FOUND set 69 themselves.
 *   HD_ETOOBIG      -> MESSAGE_TOO_LARGE (10)
 *   HD_ECORRUPT     -> CORRUPT_MESSAGE (2): CRC or structure check of a batch failed.
 *   HD_EMALFORMED   -> INVALID_RECORD (87): a request that fails to decode never gets a
 *                      response (the connection is closed), so the only malformed data that
 *                      reaches a response is a record batch, which AK answers with 87.
 *   HD_EINVAL       -> INVALID_REQUEST (42)
 *   HD_EUNSUPPORTED -> UNSUPPORTED_VERSION (35)
 *   HD_EEXIST       -> TOPIC_ALREADY_EXISTS (36)
 *   HD_ERANGE       -> OFFSET_OUT_OF_RANGE (1)
 *   HD_ESEQUENCE    -> OUT_OF_ORDER_SEQUENCE_NUMBER (45)
 *   HD_EFENCED      -> INVALID_PRODUCER_EPOCH (47)
 *   anything else   -> UNKNOWN_SERVER_ERROR (-1), including -errno and HD_EDUPLICATE (COMPAT
 *                      §5.3: a duplicate is answered with success, not with 46). */
int16_t kafka_err_from_rc(int rc)
{
    switch (rc) {
    case 0:
        return KAFKA_ERR_NONE;
    case HD_ENOTFOUND:
        return KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    case HD_ETOOBIG:
        return KAFKA_ERR_MESSAGE_TOO_LARGE;
    case HD_ECORRUPT:
        return KAFKA_ERR_CORRUPT_MESSAGE;
    case HD_EMALFORMED:
        return KAFKA_ERR_INVALID_RECORD;
    case HD_EINVAL:
        return KAFKA_ERR_INVALID_REQUEST;
    case HD_EUNSUPPORTED:
        return KAFKA_ERR_UNSUPPORTED_VERSION;
    case HD_EEXIST:
        return KAFKA_ERR_TOPIC_ALREADY_EXISTS;
    case HD_ERANGE:
        return KAFKA_ERR_OFFSET_OUT_OF_RANGE;
    case HD_ESEQUENCE:
        return KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case HD_EFENCED:
        return KAFKA_ERR_INVALID_PRODUCER_EPOCH;
    default:
        return KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
}
