/* libFuzzer target: rp_duration_parse and rp_interval_parse, the parsers of
 * ReqProfileInterval and ReqProfileMaxDuration values.
 *
 * Input: the directive's value (up to the first NUL).
 *
 * Checks, beyond the sanitizers: the result equals an exact reference in
 * integer arithmetic of the documented grammar — 1 to 9 digits, optionally
 * '.' and 1 to 3 digits, then exactly "us", "ms", "s", "m", "h" or "d"
 * (minutes, hours, days); accepted when the
 * value lies within the range (both ends included); the microseconds
 * rounded half up — for both directives' ranges and for ranges taken from
 * the input. A refusal leaves the output untouched and says why, naming the
 * value. */
#include <apr_general.h>
#include <apr_pools.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "rp_interval.h"

static apr_pool_t *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    return 0;
}

/* The value in thousandths of a microsecond, or -1 if it is not one. */
static int64_t ref_value(const char *s)
{
    int64_t whole = 0, frac = 0;
    int digits = 0, fdigits = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9') {
        if (++digits > 9) {
            return -1;
        }
        whole = whole * 10 + (*p++ - '0');
    }
    if (digits == 0) {
        return -1;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (++fdigits > 3) {
                return -1;
            }
            frac = frac * 10 + (*p++ - '0');
        }
        if (fdigits == 0) {
            return -1;
        }
        for (int i = fdigits; i < 3; i++) {
            frac *= 10;
        }
    }
    int64_t milli = whole * 1000 + frac; /* thousandths of the unit */
    static const struct {
        const char *suffix;
        int64_t micros;
    } units[] = {{"us", 1},         {"ms", 1000},        {"s", 1000000},
                 {"m", 60000000LL}, {"h", 3600000000LL}, {"d", 86400000000LL}};
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].suffix) == 0) {
            /* Past every range checked: kept from overflowing. */
            __int128 v = (__int128)milli * units[i].micros;
            return v > INT64_MAX ? INT64_MAX : (int64_t)v;
        }
    }
    return -1;
}

static void check_range(const char *text, apr_interval_time_t min_us,
                        apr_interval_time_t max_us)
{
    apr_interval_time_t got = -777;
    const char *err = rp_duration_parse(pool, text, min_us, max_us, &got);
    int64_t v = ref_value(text);
    int accept =
        v >= 0 && v >= (int64_t)min_us * 1000 && v <= (int64_t)max_us * 1000;
    if (accept) {
        FUZZ_CHECK(err == NULL, "'%s' in [%ld, %ld] refused: %s", text,
                   (long)min_us, (long)max_us, err);
        int64_t want = (v + 500) / 1000;
        FUZZ_CHECK(got == want, "'%s': %ld us, expected %ld", text, (long)got,
                   (long)want);
        FUZZ_CHECK(got >= min_us && got <= max_us, "'%s': %ld out of range",
                   text, (long)got);
    } else {
        FUZZ_CHECK(err != NULL, "'%s' accepted as %ld us, range [%ld, %ld]",
                   text, (long)got, (long)min_us, (long)max_us);
        FUZZ_CHECK(got == -777, "'%s': output written on refusal", text);
        FUZZ_CHECK(strstr(err, text) != NULL,
                   "message does not name the value: %s", err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    apr_interval_time_t got = -777;
    const char *err = rp_interval_parse(pool, text, &got);
    int64_t v = ref_value(text);
    int accept = v >= 50 * 1000 && v <= (int64_t)1000000 * 1000;
    FUZZ_CHECK((err == NULL) == accept, "interval '%s': %s", text,
               err ? err : "accepted");
    check_range(text, RP_INTERVAL_MIN_US, RP_INTERVAL_MAX_US);
    check_range(text, 1000,
                (apr_interval_time_t)3600 * 1000000); /* MaxDuration */
    if (size >= 2) {
        /* A range from the input's first two bytes, in microseconds. */
        apr_interval_time_t lo = data[0] * 7, hi = lo + data[1] * 13;
        check_range(text, lo, hi);
    }
    free(text);
    apr_pool_clear(pool);
    return 0;
}
