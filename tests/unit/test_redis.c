/* rp_redis and rp_pstore over Redis, against a real redis-server that each
 * test starts on a free loopback port (and stops, pauses, kills or
 * restarts on the same port as it needs). The test set installs
 * redis-server: without it these tests fail, they are not skipped. */
#include <apr_pools.h>
#include <apr_strings.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rp_pstore.h"
#include "rp_redis.h"
#include "unit_suites.h"
#include "unit_util.h"

static apr_pool_t *pool;

/* ---- the server --------------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
    const char *password;
} server_t;

static server_t srv;
static char server_path[4096];

static long long now_ms(void)
{
    return (long long)(ut_now_ns(CLOCK_MONOTONIC) / 1000000u);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* redis-server on PATH (or where Debian puts it). */
static const char *find_server(void)
{
    const char *env = getenv("PATH");
    char *dirs = apr_pstrcat(pool, env ? env : "", ":/usr/bin:/usr/sbin", NULL);
    char *last;
    for (char *d = apr_strtok(dirs, ":", &last); d != NULL;
         d = apr_strtok(NULL, ":", &last)) {
        snprintf(server_path, sizeof(server_path), "%s/redis-server", d);
        if (access(server_path, X_OK) == 0) {
            return server_path;
        }
    }
    ck_abort_msg("redis-server is not installed (make deps-test installs it); "
                 "the shared store's tests need it");
    return NULL;
}

/* A port nothing listens on now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts redis-server on port; it dies with this process (the check
 * runner kills a test that overruns its time). Its stdout and stderr go
 * to /dev/null, its files (none with these options) to the temp dir. */
static pid_t spawn(const char *path, int port, const char *password)
{
    const char *tmp = NULL;
    ck_assert_int_eq(apr_temp_dir_get(&tmp, pool), APR_SUCCESS);
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    const char *argv[] = {
        path,        "--port",        port_s,   "--bind",
        "127.0.0.1", "--save",        "",       "--appendonly",
        "no",        "--dir",         tmp,      "--loglevel",
        "warning",   "--requirepass", password, NULL};
    if (password == NULL) {
        argv[13] = NULL;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(126);
        }
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* A connection to the test's server, authenticated; NULL if it does not
 * answer. */
static redisContext *connect_srv(void)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv.port, tv);
    if (c == NULL || c->err) {
        if (c != NULL) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, (struct timeval){.tv_sec = 2});
    if (srv.password != NULL) {
        redisReply *r = redisCommand(c, "AUTH %s", srv.password);
        int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
        if (r != NULL) {
            freeReplyObject(r);
        }
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Whether the server started answers (not another one on that port). */
static int answers(void)
{
    redisContext *c = connect_srv();
    if (c == NULL) {
        return 0;
    }
    redisReply *r = redisCommand(c, "INFO server");
    char pid_line[32];
    snprintf(pid_line, sizeof(pid_line), "process_id:%ld\r\n", (long)srv.pid);
    int ok = r != NULL && r->type == REDIS_REPLY_STRING &&
             strstr(r->str, pid_line) != NULL;
    if (r != NULL) {
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

/* Starts the server on srv.port and waits until it answers. 0 if it
 * exited (the port was taken meanwhile). */
static int start_on_port(const char *path)
{
    srv.pid = spawn(path, srv.port, srv.password);
    for (long long until = now_ms() + 10000; now_ms() < until;) {
        int status;
        pid_t done = waitpid(srv.pid, &status, WNOHANG);
        if (done == srv.pid) {
            srv.pid = 0;
            ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 127,
                          "%s could not be run", path);
            return 0;
        }
        if (answers()) {
            return 1;
        }
        sleep_ms(10);
    }
    ck_abort_msg("redis-server on port %d did not answer in 10 s", srv.port);
    return 0;
}

static void server_start(const char *password)
{
    const char *path = find_server();
    srv.password = password;
    for (int attempt = 0; attempt < 5; attempt++) {
        srv.port = free_port();
        if (start_on_port(path)) {
            return;
        }
    }
    ck_abort_msg("redis-server did not start (5 ports tried)");
}

static void server_kill(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
        srv.pid = 0;
    }
}

/* The same server again (empty), on the same port. */
static void server_restart(void)
{
    server_kill();
    ck_assert_msg(start_on_port(find_server()),
                  "redis-server did not start again on port %d", srv.port);
}

/* A paused server accepts connections (the kernel does) but answers
 * nothing: a slow or hung Redis. */
static void server_pause(int on)
{
    ck_assert_int_eq(kill(srv.pid, on ? SIGSTOP : SIGCONT), 0);
}

/* ---- talking to it directly --------------------------------------------- */

static redisReply *cmd_v(int db, const char *fmt, va_list ap)
{
    redisContext *c = connect_srv();
    ck_assert_msg(c != NULL, "redis-server on port %d does not answer",
                  srv.port);
    if (db != 0) {
        redisReply *r = redisCommand(c, "SELECT %d", db);
        ck_assert_ptr_nonnull(r);
        freeReplyObject(r);
    }
    redisReply *r = redisvCommand(c, fmt, ap);
    ck_assert_msg(r != NULL, "no reply: %s", c->errstr);
    redisFree(c);
    return r;
}

/* A command in database db whose reply is an integer. */
static long long int_in(int db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = cmd_v(db, fmt, ap);
    va_end(ap);
    ck_assert_msg(r->type == REDIS_REPLY_INTEGER, "reply type %d (%s)", r->type,
                  r->type == REDIS_REPLY_ERROR ? r->str : "");
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

#define INT(...) int_in(0, __VA_ARGS__)

/* A command whose reply is a string (NULL for nil), copied into pool. */
static const char *str_of(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = cmd_v(0, fmt, ap);
    va_end(ap);
    const char *s = NULL;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
        s = apr_pstrmemdup(pool, r->str, (apr_size_t)r->len);
    } else {
        ck_assert_msg(r->type == REDIS_REPLY_NIL, "reply type %d", r->type);
    }
    freeReplyObject(r);
    return s;
}

/* The index, oldest first, as one space-separated string. */
static const char *index_ids(void)
{
    redisContext *c = connect_srv();
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "ZRANGE " RP_REDIS_PREFIX "index 0 -1");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    const char *s = "";
    for (size_t i = 0; i < r->elements; i++) {
        s = apr_pstrcat(pool, s, i ? " " : "", r->element[i]->str, NULL);
    }
    freeReplyObject(r);
    redisFree(c);
    return s;
}

/* ---- profiles ----------------------------------------------------------- */

#define NODE "unit-node"

typedef struct prof {
    char id[RP_STORE_ID_MAX];
    apr_time_t t;
    const char *record;
    const char *meta;
    const char *html;
    rp_store_file_t files[4];
} prof_t;

/* A profile of a request that started ms milliseconds ago: an HTML report,
 * a sidecar (its record line, then a function) and the record alone, as
 * rp_pstore hands them to the writer. */
static prof_t *prof_new(long ms_ago, unsigned seq, const char *server)
{
    prof_t *p = apr_pcalloc(pool, sizeof(*p));
    p->t = apr_time_now() - apr_time_from_msec(ms_ago);
    rp_store_make_id(p->id, sizeof(p->id), p->t, 4242, seq);
    p->record = apr_psprintf(pool,
                             "type=reqprof v=1 id=%s mode=store pid=4242 "
                             "host=example.test server=%s node=" NODE
                             " method=GET path=/p/%u status=200 dur_ms=%u.5",
                             p->id, server, seq, 10 * seq);
    p->meta = apr_pstrcat(pool, p->record,
                          "\ntype=func name=main object=app self_ms=1 "
                          "total_ms=2\n",
                          NULL);
    p->html = apr_psprintf(pool, "<html>%s</html>", p->id);
    p->files[0] = (rp_store_file_t){RP_STORE_HTML, p->html, strlen(p->html)};
    p->files[1] = (rp_store_file_t){RP_STORE_SPEEDSCOPE, "{}", 2};
    p->files[2] = (rp_store_file_t){RP_STORE_META, p->meta, strlen(p->meta)};
    p->files[3] =
        (rp_store_file_t){RP_REDIS_RECORD_FIELD, p->record, strlen(p->record)};
    return p;
}

static rp_redis_conf_t conf_of(void)
{
    rp_redis_conf_t c;
    memset(&c, 0, sizeof(c));
    c.target.kind = RP_STORE_REDIS;
    c.target.host = "127.0.0.1";
    c.target.port = srv.port;
    c.password = srv.password;
    c.timeout = apr_time_from_msec(500);
    c.ttl_seconds = 600;
    c.max_profiles = 100;
    c.queue_max = 16;
    c.node = NODE;
    return c;
}

/* ---- writers ------------------------------------------------------------ */

/* The writers a test made and has not stopped: teardown stops them, so
 * that no writer thread outlives its test (all tests share one process
 * under valgrind). */
#define MAX_WRITERS 8
static rp_redis_writer_t *writers[MAX_WRITERS];

static rp_redis_writer_t *writer_new(const rp_redis_conf_t *conf)
{
    rp_redis_writer_t *w = rp_redis_writer_create(conf);
    ck_assert_ptr_nonnull(w);
    for (int i = 0; i < MAX_WRITERS; i++) {
        if (writers[i] == NULL) {
            writers[i] = w;
            return w;
        }
    }
    ck_abort_msg("too many writers");
    return NULL;
}

static void writer_forget(rp_redis_writer_t *w)
{
    for (int i = 0; i < MAX_WRITERS; i++) {
        if (writers[i] == w) {
            writers[i] = NULL;
        }
    }
}

static void writer_stop(rp_redis_writer_t *w, apr_interval_time_t deadline)
{
    writer_forget(w);
    rp_redis_writer_stop(w, deadline);
}

static void submit(rp_redis_writer_t *w, const prof_t *p)
{
    ck_assert_msg(rp_redis_writer_submit(w, p->id, p->t, p->files, 4, NULL) ==
                      1,
                  "%s was not queued", p->id);
}

static rp_redis_stats_t stats_of(rp_redis_writer_t *w)
{
    rp_redis_stats_t st;
    rp_redis_writer_stats(w, &st);
    return st;
}

/* Waits (at most ms) until n profiles were written, dropped or sent
 * without an answer. */
static rp_redis_stats_t wait_handled(rp_redis_writer_t *w, unsigned long n,
                                     unsigned ms)
{
    rp_redis_stats_t st = stats_of(w);
    for (long long until = now_ms() + ms;
         st.written + st.dropped_down + st.unsure < n && now_ms() < until;) {
        sleep_ms(5);
        st = stats_of(w);
    }
    ck_assert_msg(st.written + st.dropped_down + st.unsure >= n,
                  "after %u ms: %lu written, %lu dropped, %lu unanswered, "
                  "not %lu",
                  ms, st.written, st.dropped_down, st.unsure, n);
    return st;
}

/* Waits (at most ms) until nothing is left to settle with Redis: every
 * unanswered write settled, every drop counted there. */
static rp_redis_stats_t wait_settled(rp_redis_writer_t *w, unsigned ms)
{
    rp_redis_stats_t st = stats_of(w);
    for (long long until = now_ms() + ms; now_ms() < until; sleep_ms(10)) {
        st = stats_of(w);
        if (st.unsure == 0 &&
            st.drops_recorded == st.dropped_full + st.dropped_down) {
            break;
        }
    }
    ck_assert_msg(st.unsure == 0 &&
                      st.drops_recorded == st.dropped_full + st.dropped_down,
                  "after %u ms: %lu unanswered, %lu of %lu drops counted", ms,
                  st.unsure, st.drops_recorded,
                  st.dropped_full + st.dropped_down);
    return st;
}

static void wait_written(rp_redis_writer_t *w, unsigned long n)
{
    rp_redis_stats_t st = wait_handled(w, n, 5000);
    ck_assert_msg(st.written == n, "%lu written, %lu dropped, not %lu written",
                  st.written, st.dropped_down, n);
}

/* The threads of this process named as the writer names its own. */
static int writer_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[300], name[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL) {
            continue; /* it ended meanwhile */
        }
        if (fgets(name, sizeof(name), f) != NULL) {
            n += strcmp(name, "reqprof-store\n") == 0;
        }
        fclose(f);
    }
    closedir(d);
    return n;
}

static void wait_no_writer_threads(unsigned ms)
{
    for (long long until = now_ms() + ms;
         writer_threads() > 0 && now_ms() < until;) {
        sleep_ms(5);
    }
    ck_assert_int_eq(writer_threads(), 0);
}

/* ---- fixture ------------------------------------------------------------ */

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    /* A read from a server killed under it must fail, not end the test. */
    signal(SIGPIPE, SIG_IGN);
    memset(&srv, 0, sizeof(srv));
    server_start(NULL);
}

static void teardown(void)
{
    /* Killed first: writers then end at once, whatever they were doing. */
    server_kill();
    for (int i = 0; i < MAX_WRITERS; i++) {
        if (writers[i] != NULL) {
            rp_redis_writer_stop(writers[i], apr_time_from_sec(5));
            writers[i] = NULL;
        }
    }
    /* A thread that has ended may still be listed for a moment. */
    for (long long until = now_ms() + 2000;
         writer_threads() > 0 && now_ms() < until;) {
        sleep_ms(5);
    }
    apr_pool_destroy(pool);
    pool = NULL;
}

/* ---- writing and reading back ------------------------------------------- */

START_TEST(redis_writes_and_reads_back)
{
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    /* No thread before the first profile. */
    ck_assert_int_eq(writer_threads(), 0);
    prof_t *a = prof_new(20, 1, "www.a.test");
    prof_t *b = prof_new(10, 2, "www.b.test");
    submit(w, a);
    submit(w, b);
    wait_written(w, 2);
    ck_assert_int_eq(writer_threads(), 1);
    rp_redis_stats_t st = stats_of(w);
    ck_assert_int_eq(st.submitted, 2);
    ck_assert_int_eq(st.dropped_full + st.dropped_down, 0);
    ck_assert_int_eq(st.connected, 1);
    char err[256];
    ck_assert_int_eq(rp_redis_writer_take_error(w, err, sizeof(err)), 0);

    /* The hash holds each file and the record, the index both ids. */
    const char *key = apr_pstrcat(pool, RP_REDIS_PREFIX "p:", a->id, NULL);
    ck_assert_int_eq(INT("HLEN %s", key), 4);
    ck_assert_str_eq(str_of("HGET %s .html", key), a->html);
    ck_assert_str_eq(str_of("HGET %s .record", key), a->record);
    ck_assert_str_eq(index_ids(), apr_pstrcat(pool, a->id, " ", b->id, NULL));
    /* Scored by the request's start, in milliseconds. */
    char score[32];
    snprintf(score, sizeof(score), "%lld", (long long)apr_time_as_msec(a->t));
    ck_assert_str_eq(str_of("ZSCORE " RP_REDIS_PREFIX "index %s", a->id),
                     score);

    /* Listed newest first, each with its record. */
    apr_array_header_t *items = NULL;
    const char *why = NULL;
    ck_assert_int_eq(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 2);
    rp_redis_item_t *it = (rp_redis_item_t *)items->elts;
    ck_assert_str_eq(it[0].id, b->id);
    ck_assert_str_eq(it[0].meta, b->record);
    ck_assert_int_eq(it[0].meta_len, strlen(b->record));
    ck_assert_str_eq(it[1].id, a->id);
    ck_assert_str_eq(it[1].meta, a->record);
    ck_assert_int_eq(rp_redis_list(&conf, 1, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_str_eq(((rp_redis_item_t *)items->elts)[0].id, b->id);
    ck_assert_int_eq(rp_redis_list(&conf, 0, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 0);

    /* Each file fetched whole. */
    char *data = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(rp_redis_fetch(&conf, a->id, RP_STORE_HTML, 1000, pool,
                                    &data, &len, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(data, a->html);
    ck_assert_int_eq(len, strlen(a->html));
    ck_assert_int_eq(rp_redis_fetch(&conf, b->id, RP_STORE_META, 4096, pool,
                                    &data, &len, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(data, b->meta);
    ck_assert_int_eq(rp_redis_fetch(&conf, b->id, RP_STORE_HTML,
                                    strlen(b->html) - 1, pool, &data, &len,
                                    &why),
                     APR_ENOMEM);
    ck_assert_int_eq(
        rp_redis_fetch(&conf, b->id, ".pprof", 1000, pool, &data, &len, &why),
        APR_ENOENT);
    ck_assert_int_eq(rp_redis_fetch(&conf, "20231114T221320.000000Z-1-1",
                                    RP_STORE_HTML, 1000, pool, &data, &len,
                                    &why),
                     APR_ENOENT);
    /* No drops anywhere. */
    apr_array_header_t *drops = NULL;
    ck_assert_int_eq(rp_redis_drops(&conf, pool, &drops, &why), APR_SUCCESS);
    ck_assert_int_eq(drops->nelts, 0);
    writer_stop(w, apr_time_from_sec(2));
    wait_no_writer_threads(2000);
}
END_TEST

typedef struct visit_ctx {
    int seen;
    int stop_after;
    const char *ids;
} visit_ctx_t;

static int visit(void *ctx, const rp_redis_item_t *item)
{
    visit_ctx_t *v = ctx;
    v->ids = apr_pstrcat(pool, v->ids, v->seen ? " " : "", item->id, NULL);
    return ++v->seen < v->stop_after;
}

/* The index is read in chunks until the visitor stops; ids whose profile
 * is gone (expired) are passed over. */
START_TEST(redis_scan_reads_in_chunks_and_skips_expired)
{
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = prof_new(50 - 10 * i, (unsigned)i, "www.a.test");
        submit(w, p[i]);
    }
    wait_written(w, 5);
    /* Profile 3's hash has expired; the index still names it. */
    ck_assert_int_eq(INT("DEL " RP_REDIS_PREFIX "p:%s", p[3]->id), 1);
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "index"), 5);
    const char *all = apr_pstrcat(pool, p[4]->id, " ", p[2]->id, " ", p[1]->id,
                                  " ", p[0]->id, NULL);
    const char *why = NULL;
    for (int chunk = 1; chunk <= 6; chunk++) {
        visit_ctx_t v = {0, 100, ""};
        ck_assert_int_eq(rp_redis_scan(&conf, chunk, visit, &v, pool, &why),
                         APR_SUCCESS);
        ck_assert_msg(strcmp(v.ids, all) == 0, "chunk %d: %s", chunk, v.ids);
        v = (visit_ctx_t){0, 2, ""};
        ck_assert_int_eq(rp_redis_scan(&conf, chunk, visit, &v, pool, &why),
                         APR_SUCCESS);
        ck_assert_int_eq(v.seen, 2);
    }
    apr_array_header_t *items;
    ck_assert_int_eq(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 4);
    /* A server that is not there: an error that says so. */
    rp_redis_conf_t gone = conf;
    gone.target.port = free_port();
    why = NULL;
    ck_assert_int_ne(rp_redis_list(&gone, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "cannot connect") != NULL, "%s", why);
    ck_assert_int_eq(items->nelts, 0);
    char *data;
    apr_size_t len;
    why = NULL;
    ck_assert_int_eq(rp_redis_fetch(&gone, p[0]->id, RP_STORE_HTML, 100, pool,
                                    &data, &len, &why),
                     APR_EGENERAL);
    ck_assert_ptr_nonnull(why);
    why = NULL;
    ck_assert_int_eq(rp_redis_drops(&gone, pool, &items, &why), APR_EGENERAL);
    ck_assert_ptr_nonnull(why);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* A profile expires after the TTL (the hash), in milliseconds. */
START_TEST(redis_sets_the_ttl)
{
    rp_redis_conf_t conf = conf_of();
    conf.ttl_seconds = 60;
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p = prof_new(5, 1, "www.a.test");
    submit(w, p);
    wait_written(w, 1);
    long long pttl = INT("PTTL " RP_REDIS_PREFIX "p:%s", p->id);
    ck_assert_msg(pttl > 50000 && pttl <= 60000, "PTTL %lld", pttl);
    /* The index itself does not expire: it is trimmed. */
    ck_assert_int_eq(INT("PTTL " RP_REDIS_PREFIX "index"), -1);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* ReqProfileStoreLimit: the index keeps the newest max_profiles, and the
 * profiles trimmed from it are deleted, not left to expire. */
START_TEST(redis_trims_to_the_limit)
{
    rp_redis_conf_t conf = conf_of();
    conf.max_profiles = 3;
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = prof_new(500 - 100 * i, (unsigned)i, "www.a.test");
        submit(w, p[i]);
    }
    wait_written(w, 5);
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "index"), 3);
    ck_assert_str_eq(index_ids(), apr_pstrcat(pool, p[2]->id, " ", p[3]->id,
                                              " ", p[4]->id, NULL));
    for (int i = 0; i < 5; i++) {
        ck_assert_msg(INT("EXISTS " RP_REDIS_PREFIX "p:%s", p[i]->id) ==
                          (i >= 2),
                      "profile %d", i);
    }
    apr_array_header_t *items;
    const char *why;
    ck_assert_int_eq(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 3);
    ck_assert_str_eq(((rp_redis_item_t *)items->elts)[0].id, p[4]->id);
    ck_assert_str_eq(((rp_redis_item_t *)items->elts)[2].id, p[2]->id);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* Profiles older than the TTL leave the index (and are deleted) with the
 * next write. */
START_TEST(redis_trims_to_the_ttl)
{
    rp_redis_conf_t long_ttl = conf_of();
    long_ttl.ttl_seconds = 3600;
    rp_redis_writer_t *w = writer_new(&long_ttl);
    prof_t *old = prof_new(120000, 1, "www.a.test");
    submit(w, old);
    wait_written(w, 1);
    writer_stop(w, apr_time_from_sec(2));
    ck_assert_str_eq(index_ids(), old->id);
    rp_redis_conf_t short_ttl = conf_of();
    short_ttl.ttl_seconds = 60;
    w = writer_new(&short_ttl);
    prof_t *young = prof_new(5, 2, "www.a.test");
    submit(w, young);
    wait_written(w, 1);
    ck_assert_str_eq(index_ids(), young->id);
    ck_assert_int_eq(INT("EXISTS " RP_REDIS_PREFIX "p:%s", old->id), 0);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* Waits (at most ms) until Redis counts n drops for NODE. */
/* This host's drop count as the index reads it (the sum over its
 * processes). */
static long long drops_in_redis(void)
{
    rp_redis_conf_t conf = conf_of();
    apr_array_header_t *drops;
    const char *why = NULL;
    ck_assert_int_eq(rp_redis_drops(&conf, pool, &drops, &why), APR_SUCCESS);
    long long sum = 0;
    for (int i = 0; i < drops->nelts; i++) {
        const rp_redis_drop_t *d = &((rp_redis_drop_t *)drops->elts)[i];
        ck_assert_str_eq(d->node, NODE);
        sum += d->count;
    }
    return sum;
}

static long long wait_drops_in_redis(long long n, unsigned ms)
{
    long long got = 0;
    for (long long until = now_ms() + ms; now_ms() < until; sleep_ms(20)) {
        got = drops_in_redis();
        if (got >= n) {
            break;
        }
    }
    return got;
}

/* A full queue drops the profile at once (submit says 0) and counts it;
 * the drops reach Redis once it answers again. */
START_TEST(redis_queue_full_drops_and_counts)
{
    rp_redis_conf_t conf = conf_of();
    conf.queue_max = 1;
    conf.timeout = apr_time_from_msec(300);
    rp_redis_writer_t *w = writer_new(&conf);
    submit(w, prof_new(100, 0, "www.a.test"));
    wait_written(w, 1);
    /* Redis hangs: the writer waits in a command, one profile in the
     * queue behind it, and no room for more. */
    server_pause(1);
    int queued = 0, refused = 0;
    for (unsigned i = 1; i <= 6; i++) {
        prof_t *p = prof_new(90 - (long)i, i, "www.a.test");
        if (rp_redis_writer_submit(w, p->id, p->t, p->files, 4, NULL)) {
            queued++;
        } else {
            refused++;
        }
    }
    ck_assert_msg(queued >= 1 && queued <= 2, "%d queued", queued);
    rp_redis_stats_t st = stats_of(w);
    ck_assert_int_eq(st.submitted, 7);
    ck_assert_int_eq(st.dropped_full, (unsigned long)refused);
    server_pause(0);
    /* The queued ones are written or dropped (the command in progress may
     * time out and is then settled by asking), and every drop is counted
     * in Redis, once: what Redis holds and what it counts add up to 7. */
    wait_handled(w, 1 + (unsigned long)queued, 5000);
    st = wait_settled(w, 5000);
    unsigned long drops = st.dropped_full + st.dropped_down;
    ck_assert_int_eq(drops_in_redis(), (long long)drops);
    ck_assert_int_eq(st.written + drops, 7);
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "index"),
                     (long long)st.written);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* Redis down: profiles are dropped and counted. Back on the same port, the
 * writer counts the drops there within a few seconds, with no profile to
 * write, and writes again. */
START_TEST(redis_down_then_back)
{
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    submit(w, prof_new(100, 0, "www.a.test"));
    wait_written(w, 1);
    server_kill();
    for (unsigned i = 1; i <= 3; i++) {
        submit(w, prof_new(100 - (long)i, i, "www.a.test"));
    }
    /* The first write after the kill may have been sent before the
     * connection was seen to be gone: unanswered, it stays to be settled. */
    rp_redis_stats_t st = wait_handled(w, 4, 5000);
    ck_assert_int_eq(st.written, 1);
    ck_assert_int_eq(st.dropped_down + st.unsure, 3);
    ck_assert_int_eq(st.dropped_full, 0);
    ck_assert_int_eq(st.drops_recorded, 0);
    char err[512];
    ck_assert_int_eq(rp_redis_writer_take_error(w, err, sizeof(err)), 1);
    ck_assert_msg(strlen(err) > 0, "an empty error");
    /* Down for a moment longer than the retry delay. */
    sleep_ms(1200);
    st = stats_of(w);
    ck_assert_int_eq(st.connected, 0);
    ck_assert_int_eq(st.drops_recorded, 0);
    server_restart();
    ck_assert_int_eq(wait_drops_in_redis(3, 5000), 3);
    for (long long until = now_ms() + 2000; now_ms() < until; sleep_ms(10)) {
        st = stats_of(w);
        if (st.drops_recorded >= 3 && st.connected) {
            break;
        }
    }
    st = stats_of(w);
    ck_assert_int_eq(st.drops_recorded, 3);
    ck_assert_int_eq(st.dropped_down, 3);
    ck_assert_int_eq(st.unsure, 0);
    ck_assert_int_eq(st.connected, 1);
    /* Counted once: a while later it is still 3, in one process's field. */
    sleep_ms(300);
    ck_assert_int_eq(INT("HLEN " RP_REDIS_PREFIX "dropped"), 1);
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "dropped-at"), 1);
    apr_array_header_t *drops;
    const char *why;
    ck_assert_int_eq(rp_redis_drops(&conf, pool, &drops, &why), APR_SUCCESS);
    ck_assert_int_eq(drops->nelts, 1);
    ck_assert_str_eq(((rp_redis_drop_t *)drops->elts)[0].node, NODE);
    ck_assert_int_eq(((rp_redis_drop_t *)drops->elts)[0].count, 3);
    /* And it writes again. */
    prof_t *p = prof_new(5, 9, "www.a.test");
    submit(w, p);
    wait_handled(w, 5, 5000);
    ck_assert_int_eq(stats_of(w).written, 2);
    ck_assert_str_eq(index_ids(), p->id);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* A write whose writer gave up on it (its "given up" mark is there) does
 * nothing when it arrives: the profile is not stored, and it is counted
 * dropped. */
START_TEST(redis_write_after_giving_up_does_nothing)
{
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p = prof_new(5, 1, "www.a.test");
    ck_assert_str_eq(str_of("SET " RP_REDIS_PREFIX "gone:%s 1", p->id), "OK");
    submit(w, p);
    rp_redis_stats_t st = wait_handled(w, 1, 5000);
    ck_assert_int_eq(st.written, 0);
    ck_assert_int_eq(st.dropped_down, 1);
    ck_assert_int_eq(INT("EXISTS " RP_REDIS_PREFIX "p:%s", p->id), 0);
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "index"), 0);
    wait_settled(w, 5000);
    ck_assert_int_eq(drops_in_redis(), 1);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* A write that times out is settled by asking Redis once it answers: the
 * profile is either stored and counted written, or counted dropped and
 * never stored later, never both and never neither. hang() makes Redis
 * stop answering for longer than the timeout; how it hangs decides which
 * of the two happens (expect_stored), so both are seen. */
static void unanswered_write_counted_once(void (*hang)(void),
                                          void (*resume)(void),
                                          int expect_stored)
{
    rp_redis_conf_t conf = conf_of();
    conf.timeout = apr_time_from_msec(300);
    rp_redis_writer_t *w = writer_new(&conf);
    submit(w, prof_new(100, 0, "www.a.test"));
    wait_written(w, 1);
    hang();
    prof_t *p = prof_new(50, 1, "www.a.test");
    submit(w, p);
    rp_redis_stats_t st = wait_handled(w, 2, 5000);
    ck_assert_int_eq(st.unsure, 1);
    char err[512];
    ck_assert_int_eq(rp_redis_writer_take_error(w, err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "no answer within") != NULL, "%s", err);
    resume();
    st = wait_settled(w, 8000);
    /* Settled for good: a late write changes nothing a while later. */
    sleep_ms(500);
    int stored = INT("EXISTS " RP_REDIS_PREFIX "p:%s", p->id) == 1;
    ck_assert_msg(stored == expect_stored, "the late write %s",
                  stored ? "was stored" : "was not stored");
    ck_assert_int_eq(st.written + st.dropped_down, 2);
    ck_assert_int_eq(st.written, stored ? 2 : 1);
    ck_assert_int_eq(drops_in_redis(), stored ? 0 : 1);
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "index"), stored ? 2 : 1);
    ck_assert_int_eq(INT("EXISTS " RP_REDIS_PREFIX "gone:%s", p->id),
                     stored ? 0 : 1);
    writer_stop(w, apr_time_from_sec(2));
}

static void stop_server(void)
{
    server_pause(1);
}

static void continue_server(void)
{
    server_pause(0);
}

/* Write commands held by Redis itself; a client that leaves meanwhile has
 * its command discarded. */
static void pause_writes(void)
{
    ck_assert_str_eq(str_of("CLIENT PAUSE 1500 WRITE"), "OK");
}

static void nothing(void)
{
}

/* SIGSTOP: the write sent before the timeout is read once Redis runs. */
START_TEST(redis_unanswered_write_counted_once_stopped)
{
    unanswered_write_counted_once(stop_server, continue_server, 1);
}
END_TEST

/* CLIENT PAUSE: the write is discarded with its connection; settling
 * (itself held until the pause ends) counts it dropped. */
START_TEST(redis_unanswered_write_counted_once_paused)
{
    unanswered_write_counted_once(pause_writes, nothing, 0);
}
END_TEST

/* A report of html_len bytes: the same asset text over and over (as every
 * report carries the same script), then the id; or random bytes. */
static char *big_value(size_t len, int random_bytes, const char *id)
{
    char *v = apr_palloc(pool, len + 1);
    unsigned seed = 7;
    for (size_t i = 0; i < len; i++) {
        v[i] = random_bytes ? (char)(1 + rand_r(&seed) % 255)
                            : "function draw(node) { return node; }\n"[i % 37];
    }
    memcpy(v + len - strlen(id), id, strlen(id));
    v[len] = '\0';
    return v;
}

/* Saved files from 1 KB on are kept compressed (the record is not), and
 * come back byte for byte; a value compression cannot shrink is kept as
 * it is; one that does not decompress is an error, not garbage. */
START_TEST(redis_compresses_large_files)
{
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p = prof_new(5, 1, "www.a.test");
    size_t html_len = 150000, ss_len = RP_REDIS_COMPRESS_MIN - 1;
    char *html = big_value(html_len, 0, p->id);
    char *noise = big_value(20000, 1, p->id);
    char *small = big_value(ss_len, 0, p->id);
    p->files[0] = (rp_store_file_t){RP_STORE_HTML, html, html_len};
    p->files[1] = (rp_store_file_t){RP_STORE_SPEEDSCOPE, small, ss_len};
    p->files[2] = (rp_store_file_t){RP_STORE_META, noise, 20000};
    submit(w, p);
    wait_written(w, 1);
    const char *key = apr_pstrcat(pool, RP_REDIS_PREFIX "p:", p->id, NULL);
    long long stored = INT("HSTRLEN %s .html", key);
    ck_assert_msg(stored < (long long)html_len / 10, "%lld bytes stored",
                  stored);
    ck_assert_int_eq(INT("HSTRLEN %s .speedscope.json", key),
                     (long long)ss_len);
    ck_assert_int_eq(INT("HSTRLEN %s .meta", key), 20000);
    ck_assert_str_eq(str_of("HGET %s .record", key), p->record);
    const char *why = NULL;
    char *data = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(rp_redis_fetch(&conf, p->id, RP_STORE_HTML, html_len, pool,
                                    &data, &len, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(len, html_len);
    ck_assert_int_eq(memcmp(data, html, html_len), 0);
    ck_assert_int_eq(data[len], '\0');
    ck_assert_int_eq(rp_redis_fetch(&conf, p->id, RP_STORE_HTML, html_len - 1,
                                    pool, &data, &len, &why),
                     APR_ENOMEM);
    ck_assert_int_eq(rp_redis_fetch(&conf, p->id, RP_STORE_SPEEDSCOPE, ss_len,
                                    pool, &data, &len, &why),
                     APR_SUCCESS);
    ck_assert_str_eq(data, small);
    ck_assert_int_eq(rp_redis_fetch(&conf, p->id, RP_STORE_META, 20000, pool,
                                    &data, &len, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(memcmp(data, noise, 20000), 0);
    /* Broken: the header of a compressed value, then no zlib stream. */
    static const char broken[] = {'\0', 'r', 'p', 'z', 0, 0, 1, 0, 'x', 'y'};
    ck_assert_int_eq(
        INT("HSET %s .html %b", key, broken, (size_t)sizeof(broken)), 0);
    why = NULL;
    ck_assert_int_eq(rp_redis_fetch(&conf, p->id, RP_STORE_HTML, html_len, pool,
                                    &data, &len, &why),
                     APR_EGENERAL);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "decompress") != NULL, "%s", why);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* Drop counts of several hosts, sorted by host name. */
START_TEST(redis_drops_per_host)
{
    /* Counts are kept per process (host/pid/start) and summed per host. */
    ck_assert_int_eq(INT("HSET " RP_REDIS_PREFIX "dropped web-2/31/1700.1 5"),
                     1);
    ck_assert_int_eq(INT("HSET " RP_REDIS_PREFIX "dropped web-2/32/1700.1 2"),
                     1);
    ck_assert_int_eq(INT("HSET " RP_REDIS_PREFIX "dropped web-10 12"), 1);
    ck_assert_int_eq(INT("HSET " RP_REDIS_PREFIX "dropped a.b 1"), 1);
    rp_redis_conf_t conf = conf_of();
    apr_array_header_t *drops = NULL;
    const char *why = NULL;
    ck_assert_int_eq(rp_redis_drops(&conf, pool, &drops, &why), APR_SUCCESS);
    ck_assert_int_eq(drops->nelts, 3);
    rp_redis_drop_t *d = (rp_redis_drop_t *)drops->elts;
    ck_assert_str_eq(d[0].node, "a.b");
    ck_assert_int_eq(d[0].count, 1);
    ck_assert_str_eq(d[1].node, "web-10");
    ck_assert_int_eq(d[1].count, 12);
    ck_assert_str_eq(d[2].node, "web-2");
    ck_assert_int_eq(d[2].count, 7);
}
END_TEST

/* ReqProfileStore redis://HOST:PORT/DB: everything in that database. */
START_TEST(redis_uses_the_database)
{
    rp_redis_conf_t conf = conf_of();
    conf.target.db = 3;
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p = prof_new(5, 1, "www.a.test");
    submit(w, p);
    wait_written(w, 1);
    ck_assert_int_eq(int_in(3, "EXISTS " RP_REDIS_PREFIX "p:%s", p->id), 1);
    ck_assert_int_eq(int_in(3, "ZCARD " RP_REDIS_PREFIX "index"), 1);
    ck_assert_int_eq(INT("DBSIZE"), 0);
    apr_array_header_t *items;
    const char *why;
    ck_assert_int_eq(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    conf.target.db = 0;
    ck_assert_int_eq(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 0);
    /* A database the server does not have: SELECT's refusal, said. */
    conf.target.db = 999;
    why = NULL;
    ck_assert_int_ne(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, "SELECT 999 refused") != NULL, "%s", why);
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* ReqProfileStorePasswordFile: AUTH with the password (and the URL's user,
 * if any); a wrong one is an error the writer reports. */
START_TEST(redis_auth)
{
    server_kill();
    server_start("unit-S3cret");
    rp_redis_conf_t conf = conf_of();
    ck_assert_str_eq(conf.password, "unit-S3cret");
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p = prof_new(5, 1, "www.a.test");
    submit(w, p);
    wait_written(w, 1);
    apr_array_header_t *items;
    const char *why = NULL;
    ck_assert_int_eq(rp_redis_list(&conf, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    /* As the default user, by name. */
    rp_redis_conf_t named = conf;
    named.target.user = "default";
    ck_assert_int_eq(rp_redis_list(&named, 10, pool, &items, &why),
                     APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);

    /* A wrong password: nothing written, the error told once. */
    rp_redis_conf_t wrong = conf;
    wrong.password = "not-it";
    rp_redis_writer_t *bad = writer_new(&wrong);
    submit(bad, prof_new(4, 2, "www.a.test"));
    rp_redis_stats_t st = wait_handled(bad, 1, 5000);
    ck_assert_int_eq(st.written, 0);
    ck_assert_int_eq(st.dropped_down, 1);
    char err[512];
    ck_assert_int_eq(rp_redis_writer_take_error(bad, err, sizeof(err)), 1);
    ck_assert_msg(strstr(err, "AUTH refused") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "not-it") == NULL, "shows the password: %s", err);
    ck_assert_int_eq(rp_redis_writer_take_error(bad, err, sizeof(err)), 0);
    why = NULL;
    ck_assert_int_ne(rp_redis_list(&wrong, 10, pool, &items, &why),
                     APR_SUCCESS);
    ck_assert_msg(why != NULL && strstr(why, "AUTH refused") != NULL, "%s",
                  why ? why : "");
    /* A user the server does not have. */
    rp_redis_conf_t stranger = conf;
    stranger.target.user = "nobody";
    why = NULL;
    ck_assert_int_ne(rp_redis_list(&stranger, 10, pool, &items, &why),
                     APR_SUCCESS);
    ck_assert_msg(why != NULL && strstr(why, "AUTH refused") != NULL, "%s",
                  why ? why : "");
    /* No password at all: the server refuses the commands. */
    rp_redis_conf_t none = conf;
    none.password = NULL;
    rp_redis_writer_t *anon = writer_new(&none);
    submit(anon, prof_new(3, 3, "www.a.test"));
    st = wait_handled(anon, 1, 5000);
    ck_assert_int_eq(st.dropped_down, 1);
    /* (Redis refuses the unauthenticated script's many arguments, or the
     * command itself.) */
    ck_assert_int_eq(rp_redis_writer_take_error(anon, err, sizeof(err)), 1);
    ck_assert_msg(strncmp(err, "writing a profile: ", 19) == 0 &&
                      (strstr(err, "NOAUTH") != NULL ||
                       strstr(err, "unauthenticated") != NULL),
                  "%s", err);
    why = NULL;
    ck_assert_int_ne(rp_redis_list(&none, 10, pool, &items, &why), APR_SUCCESS);
    ck_assert_msg(why != NULL && strstr(why, "NOAUTH") != NULL, "%s",
                  why ? why : "");
    ck_assert_str_eq(index_ids(), p->id);
    writer_stop(bad, apr_time_from_sec(2));
    writer_stop(anon, apr_time_from_sec(2));
    writer_stop(w, apr_time_from_sec(2));
}
END_TEST

/* ---- stopping ----------------------------------------------------------- */

START_TEST(redis_stop_without_a_thread)
{
    rp_redis_writer_stop(NULL, 0);
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    writer_stop(w, apr_time_from_msec(100));
    wait_no_writer_threads(2000);
}
END_TEST

/* What is queued is written before the thread ends. */
START_TEST(redis_stop_writes_what_is_queued)
{
    rp_redis_conf_t conf = conf_of();
    rp_redis_writer_t *w = writer_new(&conf);
    prof_t *p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = prof_new(30 - 10 * i, (unsigned)i, "www.a.test");
        submit(w, p[i]);
    }
    long long started = now_ms();
    writer_stop(w, apr_time_from_sec(5));
    ck_assert_int_lt(now_ms() - started, 5000);
    wait_no_writer_threads(2000);
    ck_assert_str_eq(index_ids(), apr_pstrcat(pool, p[0]->id, " ", p[1]->id,
                                              " ", p[2]->id, NULL));
}
END_TEST

/* Redis hangs: the thread gives up on its command at the timeout, drops
 * the profiles behind it without trying (the retry delay) and ends, well
 * before the deadline. */
START_TEST(redis_stop_ends_within_the_deadline)
{
    rp_redis_conf_t conf = conf_of();
    conf.timeout = apr_time_from_msec(250);
    rp_redis_writer_t *w = writer_new(&conf);
    submit(w, prof_new(100, 0, "www.a.test"));
    wait_written(w, 1);
    server_pause(1);
    for (unsigned i = 1; i <= 3; i++) {
        submit(w, prof_new(100 - (long)i, i, "www.a.test"));
    }
    long long started = now_ms();
    writer_stop(w, apr_time_from_sec(3));
    long long took = now_ms() - started;
    ck_assert_msg(took < 2000, "stop took %lld ms", took);
    wait_no_writer_threads(2000);
    server_pause(0);
}
END_TEST

/* Stopping a writer busy with its queue (Redis down, each profile dropped
 * at once, the lock taken and given back for each): the thread still ends
 * and the writer is freed. */
START_TEST(redis_stop_while_the_thread_is_busy)
{
    server_kill();
    rp_redis_conf_t conf = conf_of();
    conf.queue_max = 300;
    prof_t *p = prof_new(10, 1, "www.a.test");
    for (int trial = 0; trial < 5; trial++) {
        rp_redis_writer_t *w = writer_new(&conf);
        for (int i = 0; i < conf.queue_max; i++) {
            submit(w, p);
        }
        writer_stop(w, apr_time_from_sec(5));
        wait_no_writer_threads(2000);
    }
}
END_TEST

/* A deadline shorter than the command in progress: stop returns at the
 * deadline and leaves the writer to its thread, which ends by itself (and
 * then a second stop frees it). */
START_TEST(redis_stop_gives_up_at_the_deadline)
{
    rp_redis_conf_t conf = conf_of();
    conf.timeout = apr_time_from_msec(1000);
    rp_redis_writer_t *w = writer_new(&conf);
    submit(w, prof_new(100, 0, "www.a.test"));
    wait_written(w, 1);
    server_pause(1);
    submit(w, prof_new(50, 1, "www.a.test"));
    long long started = now_ms();
    /* The profile being written is lost uncounted: Redis cannot be told. */
    ck_assert_int_eq(rp_redis_writer_stop(w, apr_time_from_msec(150)), 1);
    long long took = now_ms() - started;
    ck_assert_msg(took >= 140 && took < 800, "stop took %lld ms", took);
    ck_assert_int_eq(writer_threads(), 1);
    /* The stats still read: the writer is still there. */
    ck_assert_int_eq(stats_of(w).written, 1);
    wait_no_writer_threads(5000);
    rp_redis_stats_t st = stats_of(w);
    ck_assert_int_eq(st.written + st.dropped_down + st.unsure, 2);
    ck_assert_int_eq(st.connected, 0);
    writer_stop(w, 0);
    server_pause(0);
}
END_TEST

/* ---- rp_pstore over Redis ----------------------------------------------- */

static const char *sidecar(const char *id, const char *server,
                           const char *trace, int status)
{
    return apr_psprintf(pool,
                        "type=reqprof v=1 id=%s mode=store pid=7 "
                        "host=example.test server=%s node=web-1%s%s "
                        "method=GET path=/shop status=%d dur_ms=12.5\n"
                        "type=func name=main object=app self_ms=1 "
                        "total_ms=2\n",
                        id, server, trace ? " trace=" : "", trace ? trace : "",
                        status);
}

static void pstore_save(rp_pstore_t *s, const char *id, apr_time_t t,
                        const char *meta)
{
    rp_store_file_t files[] = {{RP_STORE_HTML, "<html/>", 7},
                               {RP_STORE_META, meta, strlen(meta)}};
    const char *err = NULL;
    apr_status_t rv = rp_pstore_save(s, id, t, files, 2, pool, &err);
    ck_assert_msg(rv == APR_SUCCESS, "%s", err ? err : "");
}

static void pstore_wait_written(rp_pstore_t *s, unsigned long n)
{
    rp_redis_stats_t st;
    for (long long until = now_ms() + 5000; now_ms() < until; sleep_ms(5)) {
        rp_pstore_stats(s, &st);
        if (st.written + st.dropped_down >= n) {
            break;
        }
    }
    rp_pstore_stats(s, &st);
    ck_assert_msg(st.written == n, "%lu written, %lu dropped", st.written,
                  st.dropped_down);
}

#define TRACE_A "4bf92f3577b34da6a3ce929d0e0e4736"

START_TEST(pstore_redis_saves_lists_and_fetches)
{
    rp_redis_conf_t conf = conf_of();
    rp_pstore_t *s = rp_pstore_redis(&conf, pool);
    ck_assert_str_eq(rp_pstore_name(s),
                     apr_psprintf(pool, "redis://127.0.0.1:%d/0", srv.port));
    ck_assert(rp_pstore_is_shared(s));
    char id[3][RP_STORE_ID_MAX];
    apr_time_t now = apr_time_now();
    static const char *const servers[] = {"www.a.test", "www.b.test",
                                          "www.a.test"};
    for (int i = 0; i < 3; i++) {
        apr_time_t t = now - apr_time_from_msec(30 - 10 * i);
        rp_store_make_id(id[i], sizeof(id[i]), t, 7, (unsigned)i);
        pstore_save(s, id[i], t,
                    sidecar(id[i], servers[i], i == 1 ? TRACE_A : NULL,
                            i == 2 ? 500 : 200));
    }
    pstore_wait_written(s, 3);
    ck_assert_ptr_null(rp_pstore_take_error(s, pool));
    /* The record a listing reads is the sidecar's first line. */
    const char *meta = sidecar(id[0], "www.a.test", NULL, 200);
    ck_assert_str_eq(
        str_of("HGET " RP_REDIS_PREFIX "p:%s " RP_REDIS_RECORD_FIELD, id[0]),
        apr_pstrndup(pool, meta, (apr_size_t)(strchr(meta, '\n') - meta)));
    rp_saved_t *items;
    int count, scanned;
    const char *err = NULL;
    ck_assert_int_eq(
        rp_pstore_list(s, NULL, 10, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 3);
    ck_assert_int_eq(scanned, 3);
    ck_assert_str_eq(items[0].id, id[2]);
    ck_assert_str_eq(items[1].id, id[1]);
    ck_assert_str_eq(items[2].id, id[0]);
    ck_assert_str_eq(items[1].trace, TRACE_A);
    ck_assert_str_eq(items[1].server, "www.b.test");
    ck_assert_str_eq(items[0].node, "web-1");
    ck_assert_int_eq(items[0].status, 500);
    rp_pstore_filter_t f = {.server = "www.a.test"};
    ck_assert_int_eq(
        rp_pstore_list(s, &f, 10, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 2);
    ck_assert_str_eq(items[0].id, id[2]);
    ck_assert_str_eq(items[1].id, id[0]);
    f = (rp_pstore_filter_t){.trace = TRACE_A};
    ck_assert_int_eq(
        rp_pstore_list(s, &f, 10, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_str_eq(items[0].id, id[1]);
    f = (rp_pstore_filter_t){.status = 200};
    ck_assert_int_eq(
        rp_pstore_list(s, &f, 1, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(scanned, 2);
    ck_assert_str_eq(items[0].id, id[1]);
    ck_assert_int_eq(
        rp_pstore_list(s, NULL, 0, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 0);
    ck_assert_int_eq(scanned, 0);
    /* An id in the index that the module would not make is passed over. */
    ck_assert_int_eq(INT("ZADD " RP_REDIS_PREFIX "index %lld ../x",
                         (long long)apr_time_as_msec(now)),
                     1);
    ck_assert_int_eq(
        INT("HSET " RP_REDIS_PREFIX "p:../x .record %s", "type=reqprof v=1"),
        1);
    ck_assert_int_eq(
        rp_pstore_list(s, NULL, 10, pool, &items, &count, &scanned, &err),
        APR_SUCCESS);
    ck_assert_int_eq(count, 3);

    char *data = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(
        rp_pstore_fetch(s, id[1], RP_STORE_HTML, 100, pool, &data, &len, &err),
        APR_SUCCESS);
    ck_assert_str_eq(data, "<html/>");
    ck_assert_int_eq(
        rp_pstore_fetch(s, id[1], RP_STORE_META, 4096, pool, &data, &len, &err),
        APR_SUCCESS);
    ck_assert_str_eq(data, sidecar(id[1], "www.b.test", TRACE_A, 200));
    ck_assert_int_eq(rp_pstore_fetch(s, id[1], RP_STORE_SPEEDSCOPE, 100, pool,
                                     &data, &len, &err),
                     APR_ENOENT);
    ck_assert_int_eq(rp_pstore_fetch(s, "../x", RP_REDIS_RECORD_FIELD, 100,
                                     pool, &data, &len, &err),
                     APR_ENOENT);
    ck_assert_int_eq(
        rp_pstore_fetch(s, "", RP_STORE_HTML, 100, pool, &data, &len, &err),
        APR_ENOENT);
    ck_assert_int_eq(
        rp_pstore_fetch(s, NULL, RP_STORE_HTML, 100, pool, &data, &len, &err),
        APR_ENOENT);
    apr_array_header_t *drops;
    ck_assert_int_eq(rp_pstore_drops(s, pool, &drops, &err), APR_SUCCESS);
    ck_assert_int_eq(drops->nelts, 0);

    /* Closed: the writer is gone, and no other is made. */
    rp_pstore_close(s, apr_time_from_sec(2));
    wait_no_writer_threads(2000);
    rp_redis_stats_t st;
    rp_pstore_stats(s, &st);
    ck_assert_int_eq(st.submitted, 0);
    ck_assert_ptr_null(rp_pstore_take_error(s, pool));
    rp_store_file_t files[] = {{RP_STORE_META, "type=reqprof\n", 13}};
    err = NULL;
    ck_assert_int_eq(rp_pstore_save(s, id[0], now, files, 1, pool, &err),
                     APR_EAGAIN);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(writer_threads(), 0);
    rp_pstore_close(s, apr_time_from_sec(1));
}
END_TEST

/* A full queue: APR_EAGAIN, with a message naming the directive (the
 * caller names the store). */
START_TEST(pstore_redis_queue_full)
{
    rp_redis_conf_t conf = conf_of();
    conf.queue_max = 0;
    rp_pstore_t *s = rp_pstore_redis(&conf, pool);
    rp_store_file_t files[] = {{RP_STORE_META, "type=reqprof\n", 13}};
    const char *err = NULL;
    ck_assert_int_eq(rp_pstore_save(s, "20231114T221320.000000Z-1-1",
                                    apr_time_now(), files, 1, pool, &err),
                     APR_EAGAIN);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, rp_pstore_name(s)) == NULL, "%s", err);
    ck_assert_msg(strstr(err, "ReqProfileStoreQueue") != NULL, "%s", err);
    rp_redis_stats_t st;
    rp_pstore_stats(s, &st);
    ck_assert_int_eq(st.submitted, 1);
    ck_assert_int_eq(st.dropped_full, 1);
    rp_pstore_close(s, apr_time_from_sec(1));
}
END_TEST

typedef struct saver {
    rp_pstore_t *store;
    pthread_barrier_t *go;
    int n;
    unsigned round;
    apr_pool_t *pool;
    int saved;
} saver_t;

static void *save_at_once(void *arg)
{
    saver_t *sv = arg;
    char id[RP_STORE_ID_MAX];
    apr_time_t t = apr_time_now();
    rp_store_make_id(id, sizeof(id), t, 100 + sv->n, sv->round);
    rp_store_file_t files[] = {{RP_STORE_META, "type=reqprof v=1\n", 17}};
    pthread_barrier_wait(sv->go);
    sv->saved = rp_pstore_save(sv->store, id, t, files, 1, sv->pool, NULL) ==
                APR_SUCCESS;
    return NULL;
}

enum { SAVERS = 4 };

/* SAVERS threads save the first profiles of a new store at once. */
static void save_first_at_once(unsigned round)
{
    rp_redis_conf_t conf = conf_of();
    rp_pstore_t *s = rp_pstore_redis(&conf, pool);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, SAVERS);
    pthread_t th[SAVERS];
    saver_t sv[SAVERS];
    for (int i = 0; i < SAVERS; i++) {
        sv[i] = (saver_t){s, &go, i, round, NULL, 0};
        ck_assert_int_eq(apr_pool_create(&sv[i].pool, pool), APR_SUCCESS);
    }
    for (int i = 0; i < SAVERS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, save_at_once, &sv[i]), 0);
    }
    int saved = 0;
    for (int i = 0; i < SAVERS; i++) {
        pthread_join(th[i], NULL);
        saved += sv[i].saved;
        apr_pool_destroy(sv[i].pool);
    }
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(saved, SAVERS);
    pstore_wait_written(s, SAVERS);
    ck_assert_msg(writer_threads() == 1, "round %u: %d writer threads", round,
                  writer_threads());
    rp_pstore_close(s, apr_time_from_sec(2));
    wait_no_writer_threads(2000);
}

/* The threads of a process saving their first profiles at once share one
 * writer (one thread, one queue, one count), round after round. */
START_TEST(pstore_redis_one_writer_for_all_threads)
{
    enum { ROUNDS = 20 };
    for (unsigned round = 0; round < ROUNDS; round++) {
        save_first_at_once(round);
    }
    ck_assert_int_eq(INT("ZCARD " RP_REDIS_PREFIX "index"), ROUNDS * SAVERS);
}
END_TEST

Suite *redis_suite(void)
{
    Suite *s = suite_create("rp_redis");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    /* Real time: reconnections wait a second, timeouts run out. */
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, redis_writes_and_reads_back);
    tcase_add_test(tc, redis_scan_reads_in_chunks_and_skips_expired);
    tcase_add_test(tc, redis_sets_the_ttl);
    tcase_add_test(tc, redis_trims_to_the_limit);
    tcase_add_test(tc, redis_trims_to_the_ttl);
    tcase_add_test(tc, redis_queue_full_drops_and_counts);
    tcase_add_test(tc, redis_down_then_back);
    tcase_add_test(tc, redis_write_after_giving_up_does_nothing);
    tcase_add_test(tc, redis_unanswered_write_counted_once_stopped);
    tcase_add_test(tc, redis_unanswered_write_counted_once_paused);
    tcase_add_test(tc, redis_compresses_large_files);
    tcase_add_test(tc, redis_drops_per_host);
    tcase_add_test(tc, redis_uses_the_database);
    tcase_add_test(tc, redis_auth);
    tcase_add_test(tc, redis_stop_without_a_thread);
    tcase_add_test(tc, redis_stop_writes_what_is_queued);
    tcase_add_test(tc, redis_stop_ends_within_the_deadline);
    tcase_add_test(tc, redis_stop_while_the_thread_is_busy);
    tcase_add_test(tc, redis_stop_gives_up_at_the_deadline);
    tcase_add_test(tc, pstore_redis_saves_lists_and_fetches);
    tcase_add_test(tc, pstore_redis_queue_full);
    tcase_add_test(tc, pstore_redis_one_writer_for_all_threads);
    suite_add_tcase(s, tc);
    return s;
}
