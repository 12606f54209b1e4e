/* Where saved profiles go (rp_store_target: ReqProfileStore's dir:PATH and
 * redis:// URLs, parsed and named) and the trace id a record carries
 * (rp_record_trace_id, from a W3C traceparent header). */
#include <apr_pools.h>
#include <apr_strings.h>
#include <string.h>

#include "rp_record.h"
#include "rp_store_target.h"
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

/* ---- parsing ------------------------------------------------------------ */

typedef struct valid_case {
    const char *value;
    rp_store_kind_e kind;
    const char *path;
    const char *host;
    int port;
    int db;
    const char *user;
    const char *name; /* rp_store_target_name of it */
} valid_case_t;

static const valid_case_t valid[] = {
    {"dir:/var/cache/reqprof", RP_STORE_DIR, "/var/cache/reqprof", NULL, 0, 0,
     NULL, "dir:/var/cache/reqprof"},
    {"dir:relative/profiles", RP_STORE_DIR, "relative/profiles", NULL, 0, 0,
     NULL, "dir:relative/profiles"},
    {"redis://localhost", RP_STORE_REDIS, NULL, "localhost", 6379, 0, NULL,
     "redis://localhost:6379/0"},
    {"redis://localhost/", RP_STORE_REDIS, NULL, "localhost", 6379, 0, NULL,
     "redis://localhost:6379/0"},
    {"redis://cache.example.test:6380", RP_STORE_REDIS, NULL,
     "cache.example.test", 6380, 0, NULL, "redis://cache.example.test:6380/0"},
    {"redis://cache.example.test:6380/", RP_STORE_REDIS, NULL,
     "cache.example.test", 6380, 0, NULL, "redis://cache.example.test:6380/0"},
    {"redis://10.0.0.5:7000/3", RP_STORE_REDIS, NULL, "10.0.0.5", 7000, 3, NULL,
     "redis://10.0.0.5:7000/3"},
    {"redis://reqprof@cache-1.internal_x:6379/15", RP_STORE_REDIS, NULL,
     "cache-1.internal_x", 6379, 15, "reqprof",
     "redis://reqprof@cache-1.internal_x:6379/15"},
    {"REDIS://Cache/2", RP_STORE_REDIS, NULL, "Cache", 6379, 2, NULL,
     "redis://Cache:6379/2"},
    {"redis://[::1]", RP_STORE_REDIS, NULL, "::1", 6379, 0, NULL,
     "redis://[::1]:6379/0"},
    {"redis://[2001:db8::7]:6390/1", RP_STORE_REDIS, NULL, "2001:db8::7", 6390,
     1, NULL, "redis://[2001:db8::7]:6390/1"},
    {"redis://svc@[::ffff:10.0.0.1]:1/65535", RP_STORE_REDIS, NULL,
     "::ffff:10.0.0.1", 1, 65535, "svc",
     "redis://svc@[::ffff:10.0.0.1]:1/65535"},
    {"redis://h:65535/0", RP_STORE_REDIS, NULL, "h", 65535, 0, NULL,
     "redis://h:65535/0"},
};

static void expect_str(const char *what, const char *value, const char *got,
                       const char *want)
{
    if (want == NULL) {
        ck_assert_msg(got == NULL, "%s: %s is '%s', not unset", value, what,
                      got);
        return;
    }
    ck_assert_msg(got != NULL && strcmp(got, want) == 0,
                  "%s: %s is '%s', not '%s'", value, what,
                  got ? got : "(unset)", want);
}

static void expect_target(const valid_case_t *c, const rp_store_target_t *t)
{
    ck_assert_msg(t->kind == c->kind, "%s: kind %d", c->value, (int)t->kind);
    expect_str("path", c->value, t->path, c->path);
    expect_str("host", c->value, t->host, c->host);
    expect_str("user", c->value, t->user, c->user);
    ck_assert_msg(t->port == c->port, "%s: port %d", c->value, t->port);
    ck_assert_msg(t->db == c->db, "%s: db %d", c->value, t->db);
}

START_TEST(target_parses_valid_values)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        rp_store_target_t t;
        const char *err = rp_store_target_parse(valid[i].value, pool, &t);
        ck_assert_msg(err == NULL, "%s refused: %s", valid[i].value, err);
        expect_target(&valid[i], &t);
    }
}
END_TEST

/* The name says the whole target (defaults spelled out) and parses back to
 * the same target, and to the same name. */
START_TEST(target_name_round_trip)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        rp_store_target_t t, again;
        ck_assert_ptr_null(rp_store_target_parse(valid[i].value, pool, &t));
        const char *name = rp_store_target_name(&t, pool);
        expect_str("name", valid[i].value, name, valid[i].name);
        const char *err = rp_store_target_parse(name, pool, &again);
        ck_assert_msg(err == NULL, "%s refused: %s", name, err);
        expect_target(&valid[i], &again);
        expect_str("name again", name, rp_store_target_name(&again, pool),
                   name);
    }
    rp_store_target_t none;
    memset(&none, 0, sizeof(none));
    ck_assert_str_eq(rp_store_target_name(&none, pool), "none");
}
END_TEST

typedef struct invalid_case {
    const char *value;
    const char *why; /* a part of the message */
} invalid_case_t;

static const invalid_case_t invalid[] = {
    {"", "an unknown kind of store"},
    {"dir:", "no directory"},
    {"file:/var/x", "an unknown kind of store"},
    {"/var/cache/reqprof", "an unknown kind of store"},
    {"Dir:/x", "an unknown kind of store"},
    {"http://cache:6379", "an unknown kind of store"},
    {"redis:/cache", "an unknown kind of store"},
    {" redis://cache", "an unknown kind of store"},
    {"rediss://cache:6380", "TLS to Redis is not supported"},
    {"redis://", "no host"},
    {"redis://:6379", "no host"},
    {"redis:///0", "no host"},
    {"redis://user@", "no host"},
    {"redis://@cache", "an empty user name"},
    {"redis://a b@cache", "a space or control character in the user name"},
    {"redis://a\tb@cache", "a space or control character in the user name"},
    {"redis://cache:0", "the port is not a number in 1..65535"},
    {"redis://cache:65536", "the port is not a number in 1..65535"},
    {"redis://cache:", "the port is not a number in 1..65535"},
    {"redis://cache:-1", "the port is not a number in 1..65535"},
    {"redis://cache:+80", "the port is not a number in 1..65535"},
    {"redis://cache:63 79", "the port is not a number in 1..65535"},
    {"redis://cache:6379x", "the port is not a number in 1..65535"},
    {"redis://cache:99999999999", "the port is not a number in 1..65535"},
    {"redis://cache:6379:1", "the port is not a number in 1..65535"},
    {"redis://cache/-1", "the database is not a number in 0..65535"},
    {"redis://cache/65536", "the database is not a number in 0..65535"},
    {"redis://cache/x", "the database is not a number in 0..65535"},
    {"redis://cache/0/1", "the database is not a number in 0..65535"},
    {"redis://cache:6379/0?timeout=1",
     "the database is not a number in 0..65535"},
    {"redis://cache name", "a character a host name cannot have"},
    {"redis://cache\n", "a character a host name cannot have"},
    {"redis://cache?db=1", "a character a host name cannot have"},
    {"redis://cache#x", "a character a host name cannot have"},
    {"redis://c\xc3\xa4"
     "che",
     "a character a host name cannot have"},
    {"redis://[::1", "an unclosed or empty [address]"},
    {"redis://[]", "an unclosed or empty [address]"},
    {"redis://[::g]", "not an IPv6 address in brackets"},
    {"redis://[fe80::1%eth0]", "not an IPv6 address in brackets"},
    {"redis://[abc]", "not an IPv6 address in brackets"},
    {"redis://[10.0.0.1]", "not an IPv6 address in brackets"},
    {"redis://[::1]x", "unexpected text after the host"},
    {"redis://[::1]6379", "unexpected text after the host"},
};

START_TEST(target_refuses_invalid_values)
{
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        rp_store_target_t t;
        const char *err = rp_store_target_parse(invalid[i].value, pool, &t);
        ck_assert_msg(err != NULL, "accepted '%s'", invalid[i].value);
        ck_assert_msg(strstr(err, invalid[i].why) != NULL,
                      "'%s': message '%s' does not say '%s'", invalid[i].value,
                      err, invalid[i].why);
        /* It names the value and says what is expected. */
        const char *quoted = apr_psprintf(pool, "'%s': ", invalid[i].value);
        ck_assert_msg(strncmp(err, quoted, strlen(quoted)) == 0,
                      "message '%s' does not start with %s", err, quoted);
        ck_assert_msg(strstr(err, "expected dir:PATH or "
                                  "redis://[USER@]HOST[:PORT][/DB]") != NULL,
                      "message '%s' does not say what is expected", err);
        ck_assert_int_eq(t.kind, RP_STORE_NONE);
    }
}
END_TEST

/* A password in the URL is refused, and the message (which goes to the
 * error log) does not repeat it. */
START_TEST(target_refuses_passwords_without_showing_them)
{
    static const struct {
        const char *value, *shown;
    } cases[] = {
        {"redis://reqprof:S3cret-pw@cache:6379/2",
         "'redis://reqprof:***@cache:6379/2'"},
        {"redis://:S3cret-pw@cache", "'redis://:***@cache'"},
        {"redis://reqprof:@cache", "'redis://reqprof:***@cache'"},
        {"REDIS://u:S3cret-pw@[::1]:6379", "'REDIS://u:***@[::1]:6379'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rp_store_target_t t;
        const char *err = rp_store_target_parse(cases[i].value, pool, &t);
        ck_assert_msg(err != NULL, "accepted %s", cases[i].value);
        ck_assert_msg(strstr(err, "a password in the URL") != NULL, "%s", err);
        ck_assert_msg(strstr(err, "ReqProfileStorePasswordFile") != NULL, "%s",
                      err);
        ck_assert_msg(strstr(err, "S3cret") == NULL, "shows it: %s", err);
        ck_assert_msg(strncmp(err, cases[i].shown, strlen(cases[i].shown)) == 0,
                      "'%s' does not start with %s", err, cases[i].shown);
        ck_assert_int_eq(t.kind, RP_STORE_NONE);
    }
}
END_TEST

/* ---- trace ids ---------------------------------------------------------- */

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN "00f067aa0ba902b7"

START_TEST(trace_id_of_valid_traceparents)
{
    static const struct {
        const char *header, *trace;
    } cases[] = {
        {"00-" TRACE "-" SPAN "-01", TRACE},
        {"00-" TRACE "-" SPAN "-00", TRACE},
        {"00-0000000000000000000000000000000a-000000000000000b-ff",
         "0000000000000000000000000000000a"},
        /* A later version: the fields it knows, and maybe more after a
         * '-'. */
        {"01-" TRACE "-" SPAN "-01", TRACE},
        {"cc-" TRACE "-" SPAN "-01-what-the-future-has", TRACE},
        {"fe-" TRACE "-" SPAN "-09-", TRACE},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[33];
        memset(out, 'x', sizeof(out));
        ck_assert_msg(rp_record_trace_id(cases[i].header, out) == 1,
                      "refused %s", cases[i].header);
        ck_assert_str_eq(out, cases[i].trace);
    }
}
END_TEST

START_TEST(trace_id_refuses_invalid_traceparents)
{
    static const char *const cases[] = {
        "",
        "00",
        "00-" TRACE "-" SPAN "-0",                         /* one short */
        "00-" TRACE "-" SPAN,                              /* no flags */
        "00-" TRACE "-00f067aa0ba902b-01",                 /* short span id */
        "00-4bf92f3577b34da6a3ce929d0e0e473-" SPAN "-01-", /* short trace */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" SPAN "-01", /* uppercase */
        "00-4bf92f3577b34da6a3ce929d0e0e473A-" SPAN "-01",
        "00-" TRACE "-00F067AA0BA902B7-01",
        "0A-" TRACE "-" SPAN "-01",
        "00-" TRACE "-" SPAN "-0A",
        "00-00000000000000000000000000000000-" SPAN "-01", /* all zero */
        "00-" TRACE "-0000000000000000-01",
        "ff-" TRACE "-" SPAN "-01", /* version ff */
        "ff-" TRACE "-" SPAN "-01-more",
        "00-" TRACE "-" SPAN "-01-extra", /* version 00 is exactly this */
        "00-" TRACE "-" SPAN "-01-",
        "00-" TRACE "-" SPAN "-01 ",
        "00-" TRACE "-" SPAN "-010",
        "01-" TRACE "-" SPAN "-01x", /* more, but not after a '-' */
        "00_" TRACE "-" SPAN "-01",
        "00-" TRACE "_" SPAN "-01",
        "00-" TRACE "-" SPAN "_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-" SPAN "-01",
        "00-" TRACE "-00f067aa0ba902bz-01",
        "0g-" TRACE "-" SPAN "-01",
        "00-" TRACE "-" SPAN "-0g",
        " 00-" TRACE "-" SPAN "-01",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[33];
        memset(out, 'x', sizeof(out));
        ck_assert_msg(rp_record_trace_id(cases[i], out) == 0, "accepted '%s'",
                      cases[i]);
        ck_assert_msg(out[0] == '\0', "'%s' left '%.32s'", cases[i], out);
    }
    char out[33] = "x";
    ck_assert_int_eq(rp_record_trace_id(NULL, out), 0);
    ck_assert_int_eq(out[0], '\0');
}
END_TEST

Suite *store_target_suite(void)
{
    Suite *s = suite_create("rp_store_target");
    TCase *tc = tcase_create("target");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, target_parses_valid_values);
    tcase_add_test(tc, target_name_round_trip);
    tcase_add_test(tc, target_refuses_invalid_values);
    tcase_add_test(tc, target_refuses_passwords_without_showing_them);
    suite_add_tcase(s, tc);
    TCase *trace = tcase_create("trace_id");
    tcase_add_test(trace, trace_id_of_valid_traceparents);
    tcase_add_test(trace, trace_id_refuses_invalid_traceparents);
    suite_add_tcase(s, trace);
    return s;
}
