/* GET /metrics: every metric in the Prometheus text exposition format (obs/). */
#include "http/http_int.h"
#include "obs/obs.h"

void http__metrics(http_req_t *r)
{
    hd_buf_t out;
    hd_buf_init(&out);
    obs_metrics_render(r->broker, &out);
    http_respond(r, 200, OBS_METRICS_CONTENT_TYPE, out.p, out.len);
    hd_buf_deinit(&out);
}
