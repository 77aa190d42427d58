/* Server-Sent Events: GET /topics/{topic}/events with Accept: text/event-stream (handed over by
 * cloudevents.c), a live stream of the topic's records read by stream.c.
 *
 * The answer is 200 with Content-Type: text/event-stream, Cache-Control: no-cache and no
 * Content-Length: the body ends with the connection. It starts with "retry: 1000" (reconnect
 * after a second), then one event per record, in the WHATWG event-stream format:
 *
 *     id: <event id, see stream.c>\n
 *     data: <the record as one line of JSON: http__record_json, plus "cloudevent" when the
 *            record is a CloudEvent>\n
 *     \n
 *
 * A stream quiet for http.stream.heartbeat.ms gets a comment line ": heartbeat". When the
 * topic is deleted (or the log cannot be read) the last event is "event: error" with data
 * {"reason": ..., "topic": ...}, and the connection closes; a browser's EventSource then
 * reconnects, sending Last-Event-ID, and gets the 404. A client too slow to take the stream is
 * cut off without a word (nothing can reach it), and logged. */
#include "http/http_int.h"
#include "obs/obs.h"
#include "util/err.h"

#include <string.h>

static void sse_record(http_stream_t *s, const char *id, json_t *data)
{
    hd_buf_t *out = http__stream_out(s);
    hd_buf_put(out, "id: ", 4);
    hd_buf_put(out, id, strlen(id));
    hd_buf_put(out, "\ndata: ", 7);
    http__json_dump(data, out);
    hd_buf_put(out, "\n\n", 2);
}

static void sse_heartbeat(http_stream_t *s)
{
    static const char hb[] = ": heartbeat\n\n";
    hd_buf_put(http__stream_out(s), hb, sizeof hb - 1);
}

static bool sse_end(http_stream_t *s, int why, const char *reason)
{
    hd_buf_t *out = http__stream_out(s);
    if (why == HD_ECLOSED) {
        static const char bye[] = ": server shutting down\n\n";
        hd_buf_put(out, bye, sizeof bye - 1);
    } else if (why != HD_ETOOBIG) {
        json_t *j = json_object();
        json_object_set_new(j, "reason", json_string(reason));
        json_object_set_new(j, "error", json_string(hd_strerror(why)));
        hd_buf_put(out, "event: error\ndata: ", 19);
        http__json_dump(j, out);
        hd_buf_put(out, "\n\n", 2);
        json_decref(j);
    }
    return false;
}

static const http_stream_proto_t sse_proto = {
    .name = "sse",
    .record = sse_record,
    .heartbeat = sse_heartbeat,
    .end = sse_end,
    .read = NULL, /* a client has nothing to say: its bytes are dropped */
    .free = NULL,
    .obs_kind = OBS_DELIVERY_SSE,
};

void http__sse_start(http_req_t *r)
{
    http_stream_t *s = http__stream_open(r, http_req_header(r, "last-event-id"));
    if (!s)
        return;
    if (r->head) {
        http__stream_free(s);
        http_req_add_header(r, "Cache-Control", "no-cache");
        http_respond(r, 200, "text/event-stream", NULL, 0);
        return;
    }
    static const char head[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: text/event-stream\r\n"
                               "Cache-Control: no-cache\r\n"
                               "Connection: close\r\n"
                               "X-Accel-Buffering: no\r\n"
                               "\r\n"
                               "retry: 1000\n\n";
    http__stream_start(s, r, head, sizeof head - 1, &sse_proto, NULL);
}
