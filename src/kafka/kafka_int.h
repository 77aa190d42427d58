/* Private to src/kafka/: helpers shared by its files. */
#ifndef KAFKA_KAFKA_INT_H
#define KAFKA_KAFKA_INT_H

#include "kafka/kafka.h"
#include "util/reader.h"

/* Skips a tag buffer (uvarint count, then tag, size and bytes per tag); errors go to r->err. */
void kafka__skip_tags(hd_reader_t *r);

/* Set only for the duration of kafka_response_encode_spliced() on this thread: where the
 * encoder records the records fields it leaves out of the buffer. */
extern _Thread_local kafka_splices_t *kafka__splices;
extern _Thread_local size_t kafka__splice_min;

#endif
