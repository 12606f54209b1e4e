/* rp_interval_parse: the ReqProfInterval directive value. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <string.h>

#include "rp_interval.h"
#include "unit_suites.h"

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
}

static void expect_ok(const char *text, apr_interval_time_t expected)
{
    apr_interval_time_t us = -7;
    const char *err = rp_interval_parse(pool, text, &us);
    ck_assert_msg(err == NULL, "'%s' refused: %s", text, err ? err : "");
    ck_assert_msg(us == expected,
                  "'%s' gave %" APR_TIME_T_FMT " us, expected %" APR_TIME_T_FMT,
                  text, us, expected);
}

/* A refused value gets a message that quotes it. */
static void expect_refused(const char *text)
{
    apr_interval_time_t us = -7;
    const char *err = rp_interval_parse(pool, text, &us);
    ck_assert_msg(err != NULL, "'%s' accepted as %" APR_TIME_T_FMT " us", text,
                  us);
    const char *quoted = apr_pstrcat(pool, "'", text, "'", NULL);
    ck_assert_msg(strstr(err, quoted) != NULL,
                  "message for '%s' does not name it: %s", text, err);
}

START_TEST(units)
{
    expect_ok("1ms", 1000);
    expect_ok("250us", 250);
    expect_ok("1s", 1000000);
    expect_ok("2ms", 2000);
    expect_ok("100ms", 100000);
    expect_ok("1000us", RP_INTERVAL_DEFAULT_US);
}
END_TEST

START_TEST(fractions)
{
    expect_ok("0.5ms", 500);
    expect_ok("1.5ms", 1500);
    expect_ok("0.25s", 250000);
    expect_ok("0.333ms", 333);
    expect_ok("0.05ms", 50);
    expect_ok("1.000s", 1000000);
    expect_ok("50.5us", 51); /* rounded to the nearest microsecond */
    expect_ok("0.1s", 100000);
    expect_ok("0.001s", 1000);
}
END_TEST

START_TEST(range_limits)
{
    expect_ok("50us", RP_INTERVAL_MIN_US);
    expect_ok("1000000us", RP_INTERVAL_MAX_US);
    expect_ok("999999us", 999999);
    expect_refused("49us");
    expect_refused("0.049ms");
    expect_refused("0us");
    expect_refused("0s");
    expect_refused("2s");
    expect_refused("1.001s");
    expect_refused("1000001us");
    expect_refused("999999999s");
}
END_TEST

/* Long durations (ReqProfileStoreTTL, ReqProfileLog slow): minutes, hours
 * and days, and a range message in the largest whole unit. */
START_TEST(long_units)
{
    const apr_interval_time_t day = (apr_interval_time_t)86400 * 1000000;
    apr_interval_time_t us = 0;
    ck_assert_ptr_null(rp_duration_parse(pool, "30m", 1, 366 * day, &us));
    ck_assert_int_eq(us, (apr_interval_time_t)1800 * 1000000);
    ck_assert_ptr_null(rp_duration_parse(pool, "12h", 1, 366 * day, &us));
    ck_assert_int_eq(us, (apr_interval_time_t)12 * 3600 * 1000000);
    ck_assert_ptr_null(rp_duration_parse(pool, "1.5d", 1, 366 * day, &us));
    ck_assert_int_eq(us, day + day / 2);
    const char *err = rp_duration_parse(pool, "367d", 1, 366 * day, &us);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "366d") != NULL, "%s", err);
    ck_assert_ptr_nonnull(rp_duration_parse(pool, "1D", 1, 366 * day, &us));
}
END_TEST

START_TEST(missing_or_bad_unit)
{
    expect_refused("100");
    expect_refused("1min");
    expect_refused("1m");
    expect_refused("1MS");
    expect_refused("1 ms");
    expect_refused("1ms ");
    expect_refused("1msx");
    expect_refused("1ns");
    expect_refused("1usms");
}
END_TEST

START_TEST(not_a_number)
{
    expect_refused("");
    expect_refused("abc");
    expect_refused("ms");
    expect_refused("-1ms");
    expect_refused("+1ms");
    expect_refused(" 1ms");
    expect_refused(".5ms");
    expect_refused("1.ms");
    expect_refused("1..5ms");
    expect_refused("1.2.3ms");
    expect_refused("1,5ms");
    expect_refused("1e3us");
    expect_refused("0x10ms");
}
END_TEST

START_TEST(too_many_digits)
{
    expect_refused("1.2345ms");
    expect_ok("1.234ms", 1234);
    /* The integer part is capped too (no overflow into a small value). */
    expect_refused("18446744073709551617us");
    expect_refused("0000000001ms");
    expect_ok("000000001ms", 1000);
}
END_TEST

START_TEST(null_text)
{
    apr_interval_time_t us = -7;
    const char *err = rp_interval_parse(pool, NULL, &us);
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(hostile_text_in_message)
{
    /* The message quotes the value verbatim; a '%' must not be taken as a
     * conversion. */
    const char *text = "%s%n%x";
    apr_interval_time_t us = 0;
    const char *err = rp_interval_parse(pool, text, &us);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "'%s%n%x'"));
}
END_TEST

Suite *interval_suite(void)
{
    Suite *s = suite_create("rp_interval");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, units);
    tcase_add_test(tc, fractions);
    tcase_add_test(tc, range_limits);
    tcase_add_test(tc, long_units);
    tcase_add_test(tc, missing_or_bad_unit);
    tcase_add_test(tc, not_a_number);
    tcase_add_test(tc, too_many_digits);
    tcase_add_test(tc, null_text);
    tcase_add_test(tc, hostile_text_in_message);
    suite_add_tcase(s, tc);
    return s;
}
