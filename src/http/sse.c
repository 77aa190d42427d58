/* Server-Sent Events: a placeholder until the stream implementation lands; it answers 501. */
#include "http/http_int.h"

void http__sse_start(http_req_t *r)
{
    http_problem(r, 501, "Server-Sent Events are not available yet");
}
