/* End-to-end latency histograms: an observation lands in the right bucket under its kind and
 * group, a chunk of batches is observed once with its newest timestamp, and groups past the
 * series limit share group="_other". Reads the rendered exposition text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "broker/records.h"
#include "obs/obs.h"
#include "util/monotime.h"

#include <stdio.h>
#include <string.h>

static char *render(hd_buf_t *b)
{
    hd_buf_reset(b);
    obs__trace_render(b);
    hd_buf_put_u8(b, 0);
    return (char *)b->p;
}

static void test_observations_land_in_their_bucket_per_kind_and_group(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    obs_e2e_observe(OBS_DELIVERY_KAFKA, "billing", hd_wall_ms() - 7000);
    obs_e2e_observe(OBS_DELIVERY_SSE, NULL, hd_wall_ms() + 5000); /* future: counts as 0 */
    obs_e2e_observe(OBS_DELIVERY_KAFKA, "billing", -1);           /* no timestamp: ignored */
    obs_e2e_observe(99, "x", hd_wall_ms());                       /* bad kind: ignored */
    char *t = render(&b);
    assert_non_null(strstr(
        t, "herald_e2e_latency_seconds_bucket{kind=\"kafka\",group=\"billing\",le=\"5\"} 0\n"));
    assert_non_null(strstr(
        t, "herald_e2e_latency_seconds_bucket{kind=\"kafka\",group=\"billing\",le=\"10\"} 1\n"));
    assert_non_null(
        strstr(t, "herald_e2e_latency_seconds_count{kind=\"kafka\",group=\"billing\"} 1\n"));
    assert_non_null(
        strstr(t, "herald_e2e_latency_seconds_bucket{kind=\"sse\",group=\"\",le=\"0.001\"} 1\n"));
    assert_null(strstr(t, "group=\"x\""));
    assert_non_null(strstr(t, "# TYPE herald_e2e_latency_seconds histogram\n"));
    hd_buf_deinit(&b);
}

static void test_batches_are_observed_once_with_the_newest_timestamp(void **state)
{
    (void)state;
    int64_t now = hd_wall_ms();
    broker_record_in_t a = {.key_null = true, .value_null = true, .timestamp = now - 100000};
    broker_record_in_t c = {.key_null = true, .value_null = true, .timestamp = now - 20000};
    hd_buf_t chunk, b;
    hd_buf_init(&chunk);
    hd_buf_init(&b);
    assert_true(broker_batch_build(&a, 1, 1 << 20, &chunk) > 0);
    assert_true(broker_batch_build(&c, 1, 1 << 20, &chunk) > 0);
    hd_buf_put(&chunk, chunk.p, 30); /* a fetch may end inside a batch */
    obs_e2e_observe_batches(OBS_DELIVERY_WS, "g-ws", hd_buf_slice(&chunk));
    char *t = render(&b);
    assert_non_null(strstr(t, "herald_e2e_latency_seconds_count{kind=\"ws\",group=\"g-ws\"} 1\n"));
    assert_non_null(
        strstr(t, "herald_e2e_latency_seconds_bucket{kind=\"ws\",group=\"g-ws\",le=\"10\"} 0\n"));
    assert_non_null(
        strstr(t, "herald_e2e_latency_seconds_bucket{kind=\"ws\",group=\"g-ws\",le=\"30\"} 1\n"));
    hd_buf_deinit(&chunk);
    hd_buf_deinit(&b);
}

static void test_groups_past_the_limit_share_other_and_labels_are_escaped(void **state)
{
    (void)state;
    hd_buf_t b;
    hd_buf_init(&b);
    obs_e2e_observe(OBS_DELIVERY_KAFKA, "q\"uote\\d\n", hd_wall_ms());
    char name[32];
    for (int i = 0; i < 700; i++) {
        snprintf(name, sizeof name, "g%d", i);
        obs_e2e_observe(OBS_DELIVERY_KAFKA, name, hd_wall_ms());
    }
    char *t = render(&b);
    assert_non_null(strstr(t, "group=\"q\\\"uote\\\\d\\n\""));
    assert_non_null(strstr(t, "herald_e2e_latency_seconds_count{kind=\"kafka\",group=\"_other\"}"));
    assert_null(strstr(t, "group=\"g699\""));
    int series = 0;
    for (char *p = t; (p = strstr(p, "herald_e2e_latency_seconds_count{")) != NULL; p++)
        series++;
    assert_true(series <= 512 + OBS_DELIVERY_KINDS);
    hd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observations_land_in_their_bucket_per_kind_and_group),
        cmocka_unit_test(test_batches_are_observed_once_with_the_newest_timestamp),
        cmocka_unit_test(test_groups_past_the_limit_share_other_and_labels_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
