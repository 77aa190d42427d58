/* GET /metrics: every metric in the Prometheus text exposition format (obs/); GET /health. */
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

/* GET /health: 200 while the broker can take writes (pass or warn), 503 when it cannot (fail). */
void http__health(http_req_t *r)
{
    bool fail = false;
    json_t *j = obs_health_json(r->broker, &fail);
    http_respond_json_type(r, fail ? 503 : 200, OBS_HEALTH_CONTENT_TYPE, j);
}
