#include "rp_interval.h"

#include <apr_strings.h>
#include <string.h>

static const struct {
    const char *suffix;
    double micros;
} units[] = {{"us", 1.0},       {"ms", 1000.0},    {"s", 1e6},
             {"m", 60.0 * 1e6}, {"h", 3600 * 1e6}, {"d", 86400 * 1e6}};

/* Reads an unsigned decimal with at most 3 fraction digits, without locale
 * dependence (strtod honours LC_NUMERIC). */
static const char *parse_decimal(const char *p, double *out)
{
    double value = 0.0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 9) {
        value = value * 10.0 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || (*p >= '0' && *p <= '9')) {
        return NULL;
    }
    if (*p == '.') {
        double scale = 0.1;
        int fraction_digits = 0;
        p++;
        while (*p >= '0' && *p <= '9' && fraction_digits < 3) {
            value += (*p++ - '0') * scale;
            scale /= 10.0;
            fraction_digits++;
        }
        if (fraction_digits == 0 || (*p >= '0' && *p <= '9')) {
            return NULL;
        }
    }
    *out = value;
    return p;
}

static const char *format_micros(apr_pool_t *pool, apr_interval_time_t us)
{
    const apr_interval_time_t day = (apr_interval_time_t)86400 * 1000000;
    if (us >= day && us % day == 0) {
        return apr_psprintf(pool, "%" APR_TIME_T_FMT "d", us / day);
    }
    if (us % 1000000 == 0) {
        return apr_psprintf(pool, "%" APR_TIME_T_FMT "s", us / 1000000);
    }
    if (us % 1000 == 0) {
        return apr_psprintf(pool, "%" APR_TIME_T_FMT "ms", us / 1000);
    }
    return apr_psprintf(pool, "%" APR_TIME_T_FMT "us", us);
}

const char *rp_duration_parse(apr_pool_t *pool, const char *text,
                              apr_interval_time_t min_us,
                              apr_interval_time_t max_us,
                              apr_interval_time_t *out_us)
{
    double value;
    const char *rest = text ? parse_decimal(text, &value) : NULL;
    if (rest == NULL) {
        return apr_psprintf(pool,
                            "'%s' is not a time: use a number with a unit, "
                            "such as 250us, 1ms or 0.5s",
                            text ? text : "");
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(rest, units[i].suffix) != 0) {
            continue;
        }
        double micros = value * units[i].micros;
        if (micros < (double)min_us || micros > (double)max_us) {
            return apr_psprintf(pool,
                                "'%s' is out of range: it must be "
                                "between %s and %s",
                                text, format_micros(pool, min_us),
                                format_micros(pool, max_us));
        }
        *out_us = (apr_interval_time_t)(micros + 0.5);
        return NULL;
    }
    return apr_psprintf(pool,
                        "'%s' has no valid unit: use us, ms, s, m, h "
                        "or d (for example 1ms)",
                        text);
}

const char *rp_interval_parse(apr_pool_t *pool, const char *text,
                              apr_interval_time_t *out_us)
{
    return rp_duration_parse(pool, text, RP_INTERVAL_MIN_US, RP_INTERVAL_MAX_US,
                             out_us);
}
