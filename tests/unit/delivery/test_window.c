/* delivery/window.c: the backoff formula, the window of settled offsets above an ack floor,
 * and a subscription's entry structures (timer heap, ready queue, key ordering). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "delivery/delivery_int.h"

#include <stdlib.h>
#include <string.h>

static void test_backoff_grows_by_the_multiplier_up_to_the_max(void **state)
{
    (void)state;
    delivery_backoff_t b = {100, 2.0, 1000, 0.0};
    assert_int_equal(delivery_backoff_ms(&b, 1, 0.5), 100);
    assert_int_equal(delivery_backoff_ms(&b, 2, 0.5), 200);
    assert_int_equal(delivery_backoff_ms(&b, 3, 0.5), 400);
    assert_int_equal(delivery_backoff_ms(&b, 4, 0.5), 800);
    assert_int_equal(delivery_backoff_ms(&b, 5, 0.5), 1000);
    assert_int_equal(delivery_backoff_ms(&b, 1000000, 0.5), 1000);
    assert_int_equal(delivery_backoff_ms(&b, 0, 0.5), 100); /* n < 1 counts as the first */
    delivery_backoff_t flat = {250, 1.0, 5000, 0.0};
    assert_int_equal(delivery_backoff_ms(&flat, 7, 0.1), 250);
    delivery_backoff_t zero = {0, 3.0, 0, 1.0};
    assert_int_equal(delivery_backoff_ms(&zero, 3, 0.7), 0);
}

static void test_jitter_only_shortens_within_its_fraction(void **state)
{
    (void)state;
    delivery_backoff_t b = {1000, 2.0, 60000, 0.5};
    assert_int_equal(delivery_backoff_ms(&b, 2, 0.0), 2000);
    assert_int_equal(delivery_backoff_ms(&b, 2, 0.5), 1500);
    int64_t low = delivery_backoff_ms(&b, 2, 0.999999);
    assert_true(low >= 1000 && low <= 1001);
    /* r outside [0, 1) is clamped, never giving more than the deterministic delay. */
    assert_int_equal(delivery_backoff_ms(&b, 2, -3.0), 2000);
    assert_true(delivery_backoff_ms(&b, 2, 7.0) >= 1000);
    delivery_backoff_t full = {1000, 2.0, 60000, 1.0};
    assert_true(delivery_backoff_ms(&full, 1, 0.999999) <= 1);
}

static void test_window_floor_advances_over_contiguous_settled_offsets(void **state)
{
    (void)state;
    dl_window_t *w = malloc(sizeof *w);
    dl_window_init(w, 100);
    assert_true(dl_window_test(w, 99));
    assert_false(dl_window_test(w, 100));
    assert_true(dl_window_set(w, 102));
    assert_true(dl_window_set(w, 101));
    assert_int_equal(w->floor, 100);
    assert_int_equal(dl_window_count(w), 2);
    assert_true(dl_window_set(w, 100));
    assert_int_equal(w->floor, 103);
    assert_int_equal(dl_window_count(w), 0);
    /* Out of the window: ignored. */
    assert_false(dl_window_set(w, 50));
    assert_false(dl_window_set(w, 103 + DELIVERY_WINDOW));
    assert_false(dl_window_test(w, 103 + DELIVERY_WINDOW));
    /* Settling in reverse across several words moves the floor over all of them at once. */
    for (int64_t o = 103 + 300; o >= 104; o--)
        dl_window_set(w, o);
    assert_int_equal(w->floor, 103);
    assert_int_equal(dl_window_count(w), 300);
    dl_window_set(w, 103);
    assert_int_equal(w->floor, 404);
    assert_int_equal(dl_window_count(w), 0);
    free(w);
}

static void test_window_ring_wraps_and_raise_drops_bits(void **state)
{
    (void)state;
    dl_window_t *w = malloc(sizeof *w);
    int64_t base = 5 * DELIVERY_WINDOW - 10;
    dl_window_init(w, base);
    /* Fill the whole window except the floor, crossing the ring's end. */
    for (int64_t o = base + 1; o < base + DELIVERY_WINDOW; o++)
        assert_true(dl_window_set(w, o));
    assert_int_equal(dl_window_count(w), DELIVERY_WINDOW - 1);
    assert_true(dl_window_test(w, base + DELIVERY_WINDOW - 1));
    dl_window_set(w, base);
    assert_int_equal(w->floor, base + DELIVERY_WINDOW);
    assert_int_equal(dl_window_count(w), 0);
    /* The slots of the old offsets mean the new ones now, unset. */
    assert_false(dl_window_test(w, base + DELIVERY_WINDOW + 5));
    dl_window_set(w, w->floor + 3);
    dl_window_set(w, w->floor + 10);
    dl_window_raise(w, w->floor + 5); /* drops the bit below 5, then stops at the gap */
    assert_int_equal(dl_window_count(w), 1);
    int64_t f = w->floor;
    dl_window_raise(w, f + 3 * DELIVERY_WINDOW);
    assert_int_equal(w->floor, f + 3 * DELIVERY_WINDOW);
    assert_int_equal(dl_window_count(w), 0);
    free(w);
}

static delivery_sub_t *fake_sub(void)
{
    delivery_sub_t *s = calloc(1, sizeof *s);
    delivery_settings_defaults(&s->set);
    s->set.name = "t";
    s->set.ordering = DELIVERY_ORDER_KEY;
    return s;
}

static void free_sub(delivery_sub_t *s)
{
    dl__entries_free_all(s);
    for (int32_t i = 0; i < s->nparts; i++)
        free(s->parts[i]);
    free(s->parts);
    free(s);
}

static void test_entries_are_found_by_partition_and_offset_and_the_heap_orders_them(void **state)
{
    (void)state;
    delivery_sub_t *s = fake_sub();
    int64_t whens[] = {50, 10, 40, 30, 20, 60, 0, 35};
    for (int i = 0; i < 8; i++) {
        dl_entry_t *e = dl__entry_new(s, i % 2, 1000 + i);
        e->state = E_RETRY;
        dl__heap_set(s, e, whens[i]);
    }
    for (int i = 0; i < 2000; i++)
        dl__entry_new(s, 3, i); /* forces the table to grow */
    assert_non_null(dl__entry_find(s, 1, 1003));
    assert_null(dl__entry_find(s, 0, 1003));
    assert_int_equal(s->nentries, 2008);
    /* Move one, remove one, then pop in order. */
    dl__heap_set(s, dl__entry_find(s, 0, 1000), 5);
    dl__entry_free(s, dl__entry_find(s, 1, 1005));
    int64_t expect[] = {0, 5, 10, 20, 30, 35, 40}, last = -1;
    for (int i = 0; i < 7; i++) {
        dl_entry_t *e = dl__heap_top(s);
        assert_non_null(e);
        assert_int_equal(e->when, expect[i]);
        assert_true(e->when >= last);
        last = e->when;
        dl__heap_remove(s, e);
    }
    assert_null(dl__heap_top(s));
    free_sub(s);
}

static void test_a_key_frees_its_first_blocked_record_when_released(void **state)
{
    (void)state;
    delivery_sub_t *s = fake_sub();
    uint64_t k = dl__key_hash(hd_slice("order-1", 7));
    assert_true(k != 0);
    assert_true(k != dl__key_hash(hd_slice("order-2", 7)));
    dl_entry_t *a = dl__entry_new(s, 0, 1);
    a->key = k;
    a->state = E_LEASED;
    s->leased = 1;
    dl__key_hold(s, a);
    assert_int_equal(dl__key(s, k, false)->busy, 1);
    dl_entry_t *b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = dl__entry_new(s, 0, 2 + i);
        b[i]->key = k;
        b[i]->state = E_BLOCKED;
        dl_key_t *ks = dl__key(s, k, true);
        if (ks->tail)
            ks->tail->qnext = b[i];
        else
            ks->head = b[i];
        ks->tail = b[i];
    }
    /* Removing a blocked record from the middle keeps the order of the others. */
    dl__entry_free(s, b[1]);
    assert_null(dl__ready_pop(s));
    dl__entry_free(s, a); /* settles a: the key passes to b[0] */
    assert_ptr_equal(dl__ready_pop(s), b[0]);
    assert_int_equal(b[0]->state, E_READY);
    assert_true(b[0]->busy);
    assert_null(dl__ready_pop(s));
    dl__entry_free(s, b[0]);
    assert_ptr_equal(dl__ready_pop(s), b[2]);
    dl__entry_free(s, b[2]);
    assert_int_equal(dl__key(s, k, false)->busy, 0);
    /* Many keys used once each do not grow the table without bound. */
    for (int i = 0; i < 100000; i++) {
        dl_entry_t *e = dl__entry_new(s, 1, i);
        e->key = (uint64_t)i + 7;
        e->state = E_LEASED;
        dl__key_hold(s, e);
        dl__entry_free(s, e);
    }
    assert_true(s->capkeys <= 1024);
    free_sub(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_grows_by_the_multiplier_up_to_the_max),
        cmocka_unit_test(test_jitter_only_shortens_within_its_fraction),
        cmocka_unit_test(test_window_floor_advances_over_contiguous_settled_offsets),
        cmocka_unit_test(test_window_ring_wraps_and_raise_drops_bits),
        cmocka_unit_test(test_entries_are_found_by_partition_and_offset_and_the_heap_orders_them),
        cmocka_unit_test(test_a_key_frees_its_first_blocked_record_when_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
