/* rp_trigger: the profiling trigger in a query string. */
#include <string.h>

#include "rp_trigger.h"
#include "unit_suites.h"

#define HTML RP_FORMAT_HTML
#define NONE RP_FORMAT_NONE

static void expect(const char *args, const char *param, rp_format_e want)
{
    rp_format_e got = rp_trigger_find(args, param);
    ck_assert_msg(got == want, "rp_trigger_find(\"%s\", \"%s\") = %d, not %d",
                  args ? args : "(null)", param ? param : "(null)", (int)got,
                  (int)want);
}

/* A string of n copies of c (n < 1024). */
static const char *repeat(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

START_TEST(simple_values)
{
    expect("profile=1", "profile", HTML);
    expect("profile=html", "profile", HTML);
    expect("profile=HTML", "profile", HTML);
    expect("profile=Html", "profile", HTML);
    expect("profile=text", "profile", RP_FORMAT_TEXT);
    expect("profile=speedscope", "profile", RP_FORMAT_SPEEDSCOPE);
    expect("profile=collapsed", "profile", RP_FORMAT_COLLAPSED);
    expect("profile=PPROF", "profile", RP_FORMAT_PPROF);
    expect("profile=json", "profile", RP_FORMAT_JSON);
    expect("a=b&profile=html", "profile", HTML);
    expect("a=b&c=d&profile=1&e=f", "profile", HTML);
}
END_TEST

START_TEST(values_that_do_not_trigger)
{
    expect("profile=0", "profile", NONE);
    expect("profile=", "profile", NONE);
    expect("profile", "profile", NONE);
    expect("a=1&profile", "profile", NONE);
    expect("profile=2", "profile", NONE);
    expect("profile=11", "profile", NONE);
    expect("profile=xml", "profile", NONE);
    expect("profile=jsonp", "profile", NONE);
    expect("profile=htm", "profile", NONE);
    expect("profile=html5", "profile", NONE);
    expect("profile=+1", "profile", NONE); /* " 1" */
    expect("profile=1+", "profile", NONE); /* "1 " */
    expect("profile==1", "profile", NONE); /* "=1" */
    expect("a=1&b=2", "profile", NONE);
}
END_TEST

START_TEST(format_mapping)
{
    ck_assert_int_eq(rp_trigger_format("1"), HTML);
    ck_assert_int_eq(rp_trigger_format("html"), HTML);
    ck_assert_int_eq(rp_trigger_format("hTmL"), HTML);
    ck_assert_int_eq(rp_trigger_format("0"), NONE);
    ck_assert_int_eq(rp_trigger_format(""), NONE);
    ck_assert_int_eq(rp_trigger_format("yes"), NONE);
}
END_TEST

START_TEST(percent_decoding)
{
    expect("%70rofile=1", "profile", HTML);
    expect("%70%72%6F%66%69%6c%65=%31", "profile", HTML);
    expect("profile=%68tml", "profile", HTML);
    expect("profile=%48%54%4D%4C", "profile", HTML);
    expect("profile=%30", "profile", NONE);
    /* An encoded '=' or '&' is data, not a separator. */
    expect("profile%3D1", "profile", NONE);
    expect("x=%26profile%3D1", "profile", NONE);
}
END_TEST

START_TEST(plus_is_space)
{
    expect("my+param=1", "my param", HTML);
    expect("my%20param=html", "my param", HTML);
    expect("my+param=1", "my+param", NONE);
    expect("pro+file=1", "profile", NONE);
}
END_TEST

START_TEST(separators)
{
    expect("x=1;profile=1", "profile", HTML);
    expect("x=1;y=2&profile=html", "profile", HTML);
    expect("&&profile=1", "profile", HTML);
    expect(";;&profile=1&", "profile", HTML);
    expect("=1&profile=1", "profile", HTML);
    expect("profile=1;", "profile", HTML);
    /* The value ends at the separator. */
    expect("profile=1;2", "profile", HTML);
    expect("profile=12;x", "profile", NONE);
}
END_TEST

START_TEST(first_occurrence_wins)
{
    expect("profile=0&profile=1", "profile", NONE);
    expect("profile=1&profile=0", "profile", HTML);
    expect("profile&profile=1", "profile", NONE);
    expect("profile=&profile=1", "profile", NONE);
    expect("%70rofile=0&profile=1", "profile", NONE);
}
END_TEST

START_TEST(name_must_match_exactly)
{
    expect("profiles=1", "profile", NONE);
    expect("myprofile=1", "profile", NONE);
    expect("Profile=1", "profile", NONE);
    expect("PROFILE=1", "profile", NONE);
    expect("profile_=1", "profile", NONE);
    expect("prof=1", "profile", NONE);
    expect("profiles=1&profile=1", "profile", HTML);
    expect("myprofile=0&profile=html", "profile", HTML);
}
END_TEST

START_TEST(malformed_pairs_are_skipped)
{
    expect("%zz=1&profile=1", "profile", HTML);
    expect("%=1&profile=1", "profile", HTML);
    expect("%7=1&profile=1", "profile", HTML);
    expect("a%=1&profile=html", "profile", HTML);
    /* A malformed value of the trigger itself does not trigger. */
    expect("profile=%zz", "profile", NONE);
    expect("profile=1%", "profile", NONE);
    expect("profile=1%3", "profile", NONE);
    expect("profile=%3", "profile", NONE);
}
END_TEST

START_TEST(nul_is_rejected)
{
    /* "profile\0x" must not compare equal to "profile". */
    expect("profile%00x=1", "profile", NONE);
    expect("profile%00=1", "profile", NONE);
    expect("%00profile=1", "profile", NONE);
    expect("profile=1%00", "profile", NONE);
    expect("profile=%00", "profile", NONE);
    expect("profile%00=1&profile=1", "profile", HTML);
}
END_TEST

START_TEST(long_fields)
{
    char buf[1200];
    char name[1024];
    /* A value longer than the limit never matches (nor overflows)... */
    strcpy(buf, "profile=");
    repeat(buf + strlen(buf), '1', RP_TRIGGER_MAX_FIELD + 1);
    expect(buf, "profile", NONE);
    /* ...and a long value of another parameter does not hide the trigger. */
    strcpy(buf, "x=");
    repeat(buf + 2, 'v', 600);
    strcat(buf, "&profile=1");
    expect(buf, "profile", HTML);
    /* The same for a long name. */
    repeat(buf, 'n', 600);
    strcat(buf, "=1&profile=html");
    expect(buf, "profile", HTML);
    /* A name of exactly the limit still matches; one more does not. */
    repeat(name, 'p', RP_TRIGGER_MAX_FIELD);
    strcpy(buf, name);
    strcat(buf, "=1");
    expect(buf, name, HTML);
    repeat(name, 'p', RP_TRIGGER_MAX_FIELD + 1);
    strcpy(buf, name);
    strcat(buf, "=1");
    expect(buf, name, NONE);
    /* The limit applies to the decoded text: 3 bytes per character. */
    buf[0] = '\0';
    for (int i = 0; i < RP_TRIGGER_MAX_FIELD; i++) {
        strcat(buf, "%70");
    }
    strcat(buf, "=1");
    repeat(name, 'p', RP_TRIGGER_MAX_FIELD);
    expect(buf, name, HTML);
}
END_TEST

START_TEST(null_and_empty)
{
    expect(NULL, "profile", NONE);
    expect("profile=1", NULL, NONE);
    expect(NULL, NULL, NONE);
    expect("", "profile", NONE);
    expect("&", "profile", NONE);
    expect("=", "profile", NONE);
}
END_TEST

START_TEST(custom_param_name)
{
    expect("debug_profile=1", "debug_profile", HTML);
    expect("profile=1", "debug_profile", NONE);
    expect("a=1&rp=html", "rp", HTML);
    expect("rp=0&profile=1", "profile", HTML);
    expect("x%2Dy=1", "x-y", HTML);
}
END_TEST

Suite *trigger_suite(void)
{
    Suite *s = suite_create("rp_trigger");
    TCase *tc = tcase_create("find");
    tcase_add_test(tc, simple_values);
    tcase_add_test(tc, values_that_do_not_trigger);
    tcase_add_test(tc, format_mapping);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, plus_is_space);
    tcase_add_test(tc, separators);
    tcase_add_test(tc, first_occurrence_wins);
    tcase_add_test(tc, name_must_match_exactly);
    tcase_add_test(tc, malformed_pairs_are_skipped);
    tcase_add_test(tc, nul_is_rejected);
    tcase_add_test(tc, long_fields);
    tcase_add_test(tc, null_and_empty);
    tcase_add_test(tc, custom_param_name);
    suite_add_tcase(s, tc);
    return s;
}
