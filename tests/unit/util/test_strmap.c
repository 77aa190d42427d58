/* hd_strmap_t against a plain array as the reference: inserts, lookups, replacement, deletes,
 * and enough churn to rebuild the table over its deleted slots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 5000 };

static char names[N][16];
static int vals[N];

static void test_insert_get_replace_delete(void **state)
{
    (void)state;
    hd_strmap_t m;
    hd_strmap_init(&m);
    assert_null(hd_strmap_get(&m, "absent"));
    assert_null(hd_strmap_del(&m, "absent"));
    assert_null(hd_strmap_get(&m, NULL));
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "topic-%d", i);
        hd_strmap_put(&m, names[i], &vals[i]);
    }
    assert_int_equal(m.n, N);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(hd_strmap_get(&m, names[i]), &vals[i]);
    /* A different buffer with the same text finds the same entry. */
    char probe[16];
    snprintf(probe, sizeof probe, "topic-%d", 1234);
    assert_ptr_equal(hd_strmap_get(&m, probe), &vals[1234]);
    assert_null(hd_strmap_get(&m, "topic-"));
    assert_null(hd_strmap_get(&m, ""));
    /* Replacing keeps one entry. */
    int other = 0;
    hd_strmap_put(&m, names[7], &other);
    assert_int_equal(m.n, N);
    assert_ptr_equal(hd_strmap_get(&m, names[7]), &other);
    for (int i = 0; i < N; i += 2)
        assert_ptr_equal(hd_strmap_del(&m, names[i]), i == 7 ? (void *)&other : &vals[i]);
    assert_int_equal(m.n, N / 2);
    for (int i = 0; i < N; i++) {
        void *want = i % 2 ? (i == 7 ? (void *)&other : &vals[i]) : NULL;
        assert_ptr_equal(hd_strmap_get(&m, names[i]), want);
    }
    assert_null(hd_strmap_del(&m, names[0])); /* twice */
    assert_null(hd_strmap_get(&m, NULL));
    assert_null(hd_strmap_del(&m, NULL));
    hd_strmap_deinit(&m);
}

/* Insert and delete in waves far beyond the table's size: deleted slots must be reclaimed
 * (the table stays small) and every probe must still end. */
static void test_churn_reclaims_deleted_slots(void **state)
{
    (void)state;
    hd_strmap_t m;
    hd_strmap_init(&m);
    for (int i = 0; i < N; i++)
        snprintf(names[i], sizeof names[i], "g%d", i);
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 25; k++) {
            int i = (round * 25 + k) % N;
            hd_strmap_put(&m, names[i], &vals[i]);
        }
        for (int k = 0; k < 25; k++) {
            int i = (round * 25 + k) % N;
            assert_ptr_equal(hd_strmap_get(&m, names[i]), &vals[i]);
            if (k % 5)
                assert_ptr_equal(hd_strmap_del(&m, names[i]), &vals[i]);
        }
    }
    /* 5 of every 25 stay: 200 rounds x 5 = 1000 live entries. */
    assert_int_equal(m.n, 1000);
    assert_true(m.cap <= 4096);
    int live = 0;
    for (int i = 0; i < N; i++)
        if (hd_strmap_get(&m, names[i])) {
            assert_int_equal(i % 25 % 5, 0);
            live++;
        }
    assert_int_equal(live, 1000);
    hd_strmap_deinit(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_get_replace_delete),
        cmocka_unit_test(test_churn_reclaims_deleted_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
