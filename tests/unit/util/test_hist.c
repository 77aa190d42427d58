/* Latency histograms: each observation lands in the first bucket whose bound is at or above it,
 * counts and sums add up, and values past the last bound go to the overflow bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/hist.h"

#include <string.h>

static uint64_t bucket(const hd_hist_t *h, int i) { return atomic_load(&h->buckets[i]); }

static void test_observations_land_in_the_first_bucket_at_or_above_them(void **state)
{
    (void)state;
    hd_hist_t h;
    memset(&h, 0, sizeof h);
    hd_hist_observe(&h, 0);                  /* bucket 0: <= 8 us */
    hd_hist_observe(&h, HD_HIST_MIN_NS);     /* exactly on the bound: bucket 0 */
    hd_hist_observe(&h, HD_HIST_MIN_NS + 1); /* bucket 1: <= 16 us */
    hd_hist_observe(&h, 1000000);            /* 1 ms: <= 1.024 ms, bucket 7 */
    hd_hist_observe(&h, -5);                 /* clamped to 0 */
    hd_hist_observe(&h, 60LL * 1000000000);  /* a minute: overflow */
    assert_int_equal(bucket(&h, 0), 3);
    assert_int_equal(bucket(&h, 1), 1);
    assert_int_equal(hd_hist_bound_ns(7), 1024000);
    assert_int_equal(bucket(&h, 7), 1);
    assert_int_equal(bucket(&h, HD_HIST_BUCKETS), 1);
    assert_int_equal(atomic_load(&h.count), 6);
    assert_int_equal(atomic_load(&h.sum_ns),
                     HD_HIST_MIN_NS + HD_HIST_MIN_NS + 1 + 1000000 + 60LL * 1000000000);
    uint64_t total = 0;
    for (int i = 0; i <= HD_HIST_BUCKETS; i++)
        total += bucket(&h, i);
    assert_int_equal(total, 6);
}

static void test_last_bound_is_about_four_seconds(void **state)
{
    (void)state;
    assert_int_equal(hd_hist_bound_ns(HD_HIST_BUCKETS - 1), HD_HIST_MIN_NS << 19);
    hd_hist_t h;
    memset(&h, 0, sizeof h);
    hd_hist_observe(&h, hd_hist_bound_ns(HD_HIST_BUCKETS - 1));
    hd_hist_observe(&h, hd_hist_bound_ns(HD_HIST_BUCKETS - 1) + 1);
    assert_int_equal(bucket(&h, HD_HIST_BUCKETS - 1), 1);
    assert_int_equal(bucket(&h, HD_HIST_BUCKETS), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observations_land_in_the_first_bucket_at_or_above_them),
        cmocka_unit_test(test_last_bound_is_about_four_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
