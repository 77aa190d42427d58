/* Kafka's murmur2 against the vectors of Apache Kafka's UtilsTest.testMurmur2, and the default
 * partitioner's mapping from hash to partition, cross-checked with librdkafka's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/murmur2.h"

#include <librdkafka/rdkafka.h>
#include <string.h>

static int32_t java_murmur2(const char *s) { return (int32_t)hd_murmur2(s, strlen(s)); }

static void test_matches_kafka_utils_test_vectors(void **state)
{
    (void)state;
    /* org.apache.kafka.common.utils.UtilsTest.testMurmur2, as Java ints. */
    assert_int_equal(java_murmur2("21"), -973932308);
    assert_int_equal(java_murmur2("foobar"), -790332482);
    assert_int_equal(java_murmur2("a-little-bit-long-string"), -985981536);
    assert_int_equal(java_murmur2("a-little-bit-longer-string"), -1486304829);
    assert_int_equal(java_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
    assert_int_equal(java_murmur2("abc"), 479470107);
    assert_int_equal(java_murmur2(""), 275646681);
}

static void test_partition_masks_sign_bit_then_takes_modulo(void **state)
{
    (void)state;
    /* "21" hashes negative: (-973932308 & 0x7fffffff) = 1173551340. */
    assert_int_equal(hd_murmur2_partition("21", 2, 1), 0);
    assert_int_equal(hd_murmur2_partition("21", 2, 7), 1173551340 % 7);
    assert_int_equal(hd_murmur2_partition("21", 2, 100), 40);
    /* "abc" hashes positive, so the mask changes nothing. */
    assert_int_equal(hd_murmur2_partition("abc", 3, 10), 479470107 % 10);
    assert_int_equal(hd_murmur2_partition("", 0, 3), 275646681 % 3);
    assert_int_equal(hd_murmur2_partition("foobar", 6, INT32_MAX),
                     (int32_t)(((uint32_t)-790332482 & 0x7fffffffu) % INT32_MAX));
}

static void test_partition_is_in_range_and_hashes_bytes_not_strings(void **state)
{
    (void)state;
    uint8_t key[64];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 37 + 200); /* high bytes: Java masks them with & 0xff */
    for (size_t n = 0; n <= sizeof key; n++) {
        int32_t p = hd_murmur2_partition(key, n, 12);
        assert_true(p >= 0 && p < 12);
        assert_int_equal(p, (int32_t)((hd_murmur2(key, n) & 0x7fffffffu) % 12));
    }
    /* An embedded NUL is hashed like any byte. */
    assert_int_not_equal(hd_murmur2("a\0b", 3), hd_murmur2("a", 1));
}

static void test_partition_agrees_with_librdkafka_murmur2(void **state)
{
    (void)state;
    /* librdkafka's "murmur2" partitioner is Java-compatible; it does not look at the topic. With
     * INT32_MAX partitions its answer is almost the whole masked hash. */
    uint8_t key[300];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(i * 131 + 7);
    const int32_t counts[] = {1, 3, 12, 1000, INT32_MAX};
    for (size_t n = 0; n <= sizeof key; n++)
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            assert_int_equal(hd_murmur2_partition(key, n, counts[c]),
                             rd_kafka_msg_partitioner_murmur2(NULL, key, n, counts[c], NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_kafka_utils_test_vectors),
        cmocka_unit_test(test_partition_masks_sign_bit_then_takes_modulo),
        cmocka_unit_test(test_partition_is_in_range_and_hashes_bytes_not_strings),
        cmocka_unit_test(test_partition_agrees_with_librdkafka_murmur2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
