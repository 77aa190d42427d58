/* Private to src/kafka/: helpers shared by its files. */
#ifndef KAFKA_KAFKA_INT_H
#define KAFKA_KAFKA_INT_H

#include "util/reader.h"

/* Skips a tag buffer (uvarint count, then tag, size and bytes per tag); errors go to r->err. */
void kafka__skip_tags(hd_reader_t *r);

#endif
