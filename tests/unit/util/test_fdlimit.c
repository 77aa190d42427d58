/* The open files limit: raised to the hard one, descriptors counted, and a process with none
 * left counted as at its limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/fdlimit.h"

#include <sys/resource.h>
#include <unistd.h>

static void test_raise_goes_to_the_hard_limit(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max < 256)
        skip();
    struct rlimit low = {128, rl.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    long before = 0, now = hd_fdlimit_raise(&before);
    assert_int_equal(before, 128);
    assert_true(now > 128 && now <= (long)rl.rlim_max);
    assert_int_equal(hd_fdlimit_get(), now);
    /* Raising again changes nothing. */
    assert_int_equal(hd_fdlimit_raise(&before), now);
    assert_int_equal(before, now);
}

static void test_open_descriptors_are_counted(void **state)
{
    (void)state;
    long n0 = hd_fds_open();
    assert_true(n0 >= 3);
    int fds[10];
    for (int i = 0; i < 10; i++)
        assert_true((fds[i] = dup(0)) >= 0);
    assert_int_equal(hd_fds_open(), n0 + 10);
    for (int i = 0; i < 10; i++)
        close(fds[i]);
    assert_int_equal(hd_fds_open(), n0);
}

/* With every descriptor the limit allows in use, /proc/self/fd cannot even be opened: the count
 * is the limit, so that a check of what still fits refuses instead of passing. */
static void test_a_process_out_of_descriptors_is_at_its_limit(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    /* A new descriptor takes the lowest free number: below it, every one is in use. */
    int lowest = dup(0);
    assert_true(lowest >= 0);
    close(lowest);
    struct rlimit tight = {(rlim_t)lowest, rl.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    long counted = hd_fds_open(), limit = hd_fdlimit_get();
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_int_equal(limit, lowest);
    assert_int_equal(counted, lowest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raise_goes_to_the_hard_limit),
        cmocka_unit_test(test_open_descriptors_are_counted),
        cmocka_unit_test(test_a_process_out_of_descriptors_is_at_its_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
