#include "rp_redis.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Writes one profile: KEYS[1] its hash, KEYS[2] the index, KEYS[3] its
 * "given up" mark, KEYS[4] its group's worst profiles; ARGV: ttl (ms),
 * score (the request's start, ms), id, max profiles, oldest score kept,
 * the hashes' prefix, the group ("" for none), the duration (ms), how many
 * worst to keep, how long they are kept (ms), the worst sets' prefix, then
 * field value pairs.
 *
 * Trimmed profiles are deleted, not left to expire, unless they are among
 * their group's worst: those are kept (longer than the TTL) until slower
 * ones of the group push them out, when they get back the lifetime they
 * would have had. A write that arrives after its writer gave up on it and
 * counted it dropped (resolve_script) does nothing, so no profile is both
 * stored and counted as dropped. */
static const char write_script[] =
    "if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 12))\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])\n"
    "if ARGV[7] ~= '' then\n"
    "  redis.call('HSET', KEYS[1], '.group', ARGV[7])\n"
    "  for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do\n"
    "    if redis.call('EXISTS', ARGV[6]..id) == 0 then\n"
    "      redis.call('ZREM', KEYS[4], id)\n"
    "    end\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[4], ARGV[8], ARGV[3])\n"
    "  while redis.call('ZCARD', KEYS[4]) > tonumber(ARGV[9]) do\n"
    "    local out = redis.call('ZPOPMIN', KEYS[4])[1]\n"
    "    local started = redis.call('ZSCORE', KEYS[2], out)\n"
    "    if started then\n"
    "      redis.call('PEXPIREAT', ARGV[6]..out,\n"
    "                 math.floor(tonumber(started) + tonumber(ARGV[1])))\n"
    "    else\n"
    "      redis.call('DEL', ARGV[6]..out)\n"
    "    end\n"
    "  end\n"
    "  if redis.call('ZSCORE', KEYS[4], ARGV[3]) then\n"
    "    redis.call('PEXPIRE', KEYS[1], ARGV[10])\n"
    "  end\n"
    "  redis.call('PEXPIRE', KEYS[4], ARGV[10])\n"
    "end\n"
    "local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '('..ARGV[5])\n"
    "local n = redis.call('ZCARD', KEYS[2]) - #gone\n"
    "local max = tonumber(ARGV[4])\n"
    "if n > max then\n"
    "  local first = #gone\n"
    "  local extra = redis.call('ZRANGE', KEYS[2], first, first + n - max - "
    "1)\n"
    "  for _, id in ipairs(extra) do gone[#gone + 1] = id end\n"
    "end\n"
    "for _, id in ipairs(gone) do\n"
    "  redis.call('ZREM', KEYS[2], id)\n"
    "  local g = redis.call('HGET', ARGV[6]..id, '.group')\n"
    "  if not (g and redis.call('ZSCORE', ARGV[11]..g, id)) then\n"
    "    redis.call('DEL', ARGV[6]..id)\n"
    "  end\n"
    "end\n"
    "return #gone\n";

/* Settles a write whose answer never came (a timeout, a lost connection):
 * KEYS[1] the profile's hash, KEYS[2] its "given up" mark; ARGV[1] the
 * mark's lifetime (ms). Returns 1 if the profile is there (the write ran),
 * else marks it given up so that the write, should it still run, does
 * nothing, and returns 0. */
static const char resolve_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end\n"
    "redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])\n"
    "return 0\n";

/* Sets this process's drop count: KEYS[1] the counts (hash), KEYS[2] when
 * each was last set (sorted set); ARGV: the process, its count, now (ms),
 * the counts' lifetime (ms). The count only grows, so sending it again
 * after a lost answer counts nothing twice; counts not set for a lifetime
 * are removed. */
static const char drops_script[] =
    "local had = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')\n"
    "if tonumber(ARGV[2]) > had then\n"
    "  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])\n"
    "local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf',\n"
    "                       '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))\n"
    "for _, p in ipairs(old) do\n"
    "  redis.call('HDEL', KEYS[1], p)\n"
    "  redis.call('ZREM', KEYS[2], p)\n"
    "end\n"
    "return 1\n";

#define KEY_PROFILE RP_REDIS_PREFIX "p:"
#define KEY_GONE RP_REDIS_PREFIX "gone:"
#define KEY_INDEX RP_REDIS_PREFIX "index"
#define KEY_DROPPED RP_REDIS_PREFIX "dropped"
#define KEY_DROPPED_AT RP_REDIS_PREFIX "dropped-at"
#define KEY_WORST RP_REDIS_PREFIX "w:"

/* Writes whose answer never came, kept per process until Redis says what
 * became of them; beyond this many, one is counted dropped unasked. */
#define UNSURE_MAX 1024

/* ---- connections --------------------------------------------------------- */

static struct timeval timeval_of(apr_interval_time_t t)
{
    struct timeval tv = {.tv_sec = (time_t)(t / APR_USEC_PER_SEC),
                         .tv_usec = (suseconds_t)(t % APR_USEC_PER_SEC)};
    return tv;
}

/* Why a command got no reply. A command timeout reaches hiredis as a read
 * that would block (EAGAIN), which it words as "Resource temporarily
 * unavailable": say what happened instead. */
static const char *no_reply_reason(const redisContext *c)
{
    if (c->err == REDIS_ERR_IO &&
        (strcmp(c->errstr, strerror(EAGAIN)) == 0 ||
         strcmp(c->errstr, strerror(EWOULDBLOCK)) == 0)) {
        return "no answer within the store's timeout (ReqProfileStoreTimeout)";
    }
    return c->errstr[0] ? c->errstr : "no reply";
}

/* A reply that is an error, or none (the connection failed): its message
 * into err. Frees the reply. Returns 1 if it was fine. */
static int reply_ok(redisContext *c, redisReply *reply, char *err, size_t size)
{
    int ok = reply != NULL && reply->type != REDIS_REPLY_ERROR;
    if (!ok) {
        snprintf(err, size, "%s",
                 reply != NULL ? reply->str : no_reply_reason(c));
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return ok;
}

/* Connects, authenticates and selects the database; NULL with err set on
 * failure. */
static redisContext *connect_to(const rp_redis_conf_t *conf, char *err,
                                size_t size)
{
    const rp_store_target_t *t = &conf->target;
    redisContext *c =
        redisConnectWithTimeout(t->host, t->port, timeval_of(conf->timeout));
    if (c == NULL || c->err) {
        snprintf(err, size, "cannot connect: %s",
                 c != NULL ? c->errstr : "out of memory");
        if (c != NULL) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, timeval_of(conf->timeout));
    char why[256];
    if (conf->password != NULL) {
        redisReply *r =
            t->user != NULL
                ? redisCommand(c, "AUTH %s %s", t->user, conf->password)
                : redisCommand(c, "AUTH %s", conf->password);
        if (!reply_ok(c, r, why, sizeof(why))) {
            snprintf(err, size, "AUTH refused: %s", why);
            redisFree(c);
            return NULL;
        }
    }
    if (t->db != 0 &&
        !reply_ok(c, redisCommand(c, "SELECT %d", t->db), why, sizeof(why))) {
        snprintf(err, size, "SELECT %d refused: %s", t->db, why);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* ---- compressed values --------------------------------------------------
 * A saved file of RP_REDIS_COMPRESS_MIN bytes or more is kept compressed:
 * the magic (a NUL first byte, which no saved text starts with), the
 * length before compression (4 bytes, big-endian), then a zlib stream.
 * Every HTML report carries the same script and stylesheet (~50 KB), which
 * this shrinks several times over. The record a listing reads stays as it
 * is. */

static const char compressed_magic[4] = {'\0', 'r', 'p', 'z'};
#define COMPRESSED_HEADER 8

static int is_compressed(const char *value, size_t len)
{
    return len >= COMPRESSED_HEADER &&
           memcmp(value, compressed_magic, sizeof(compressed_magic)) == 0;
}

/* A malloc'd compressed copy of data, or NULL where compression does not
 * pay (or fails): the value is then sent as it is. */
static char *compress_value(const char *data, size_t len, size_t *out_len)
{
    if (len < RP_REDIS_COMPRESS_MIN || len > 0xffffffffu) {
        return NULL;
    }
    uLongf room = compressBound((uLong)len);
    char *out = malloc(COMPRESSED_HEADER + room);
    if (out == NULL) {
        return NULL;
    }
    if (compress2((Bytef *)out + COMPRESSED_HEADER, &room, (const Bytef *)data,
                  (uLong)len, Z_BEST_SPEED) != Z_OK ||
        COMPRESSED_HEADER + room >= len) {
        free(out);
        return NULL;
    }
    memcpy(out, compressed_magic, sizeof(compressed_magic));
    for (int i = 0; i < 4; i++) {
        out[4 + i] = (char)((len >> (8 * (3 - i))) & 0xff);
    }
    *out_len = COMPRESSED_HEADER + room;
    return out;
}

/* The original of a stored value into pool (NUL-terminated): APR_ENOMEM if
 * larger than max, APR_EGENERAL if it does not decompress. */
static apr_status_t expand_value(const char *value, size_t len, apr_size_t max,
                                 apr_pool_t *pool, char **data,
                                 apr_size_t *out_len)
{
    const unsigned char *h = (const unsigned char *)value + 4;
    uLongf size = ((uLongf)h[0] << 24) | ((uLongf)h[1] << 16) |
                  ((uLongf)h[2] << 8) | (uLongf)h[3];
    if (size > max) {
        return APR_ENOMEM;
    }
    char *out = apr_palloc(pool, size + 1);
    uLongf got = size;
    if (uncompress((Bytef *)out, &got, (const Bytef *)value + COMPRESSED_HEADER,
                   (uLong)(len - COMPRESSED_HEADER)) != Z_OK ||
        got != size) {
        return APR_EGENERAL;
    }
    out[size] = '\0';
    *data = out;
    *out_len = size;
    return APR_SUCCESS;
}

/* ---- the writer ---------------------------------------------------------- */

typedef struct job {
    struct job *next;
    char id[RP_STORE_ID_MAX];
    double score_ms;
    const char *group; /* "" for none */
    double dur_ms;
    int count;
    const char **fields;
    const char **values;
    size_t *lens;
} job_t;

struct rp_redis_writer {
    rp_redis_conf_t conf;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_cond_t idle; /* the queue became empty, or the thread ended */
    job_t *head, *tail;
    int queued;
    int running;  /* the thread exists */
    int stopping; /* stop: write what is queued, then end */
    int busy;     /* the thread is writing a job */
    rp_redis_stats_t stats;
    char error[512];
    int error_new;
    /* The thread's own, never locked: */
    redisContext *c;
    apr_time_t retry_at; /* no connection is tried before this */
    char process[320];   /* this process in the drop counts: node/pid/start */
    char (*unsure)[RP_STORE_ID_MAX]; /* writes whose answer never came */
    int unsure_count;
};
static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

rp_redis_writer_t *rp_redis_writer_create(const rp_redis_conf_t *conf)
{
    rp_redis_writer_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return NULL;
    }
    w->conf = *conf;
    w->conf.target.host = dup_or_null(conf->target.host);
    w->conf.target.user = dup_or_null(conf->target.user);
    w->conf.target.path = NULL;
    w->conf.password = dup_or_null(conf->password);
    w->conf.node = dup_or_null(conf->node ? conf->node : "unknown");
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_cond_init(&w->idle, &attr);
    pthread_condattr_destroy(&attr);
    /* The start time tells apart two processes that had the same pid, the
     * sequence two writers of one process. */
    static unsigned sequence;
    snprintf(w->process, sizeof(w->process), "%s/%ld/%lld.%u", w->conf.node,
             (long)getpid(), (long long)apr_time_as_msec(apr_time_now()),
             __atomic_add_fetch(&sequence, 1, __ATOMIC_RELAXED));
    return w;
}

/* One allocation holding the job and copies of its files. */
static job_t *make_job(const char *id, apr_time_t t,
                       const rp_store_file_t *files, int count,
                       const rp_redis_group_t *group)
{
    const char *name = group != NULL && group->name != NULL ? group->name : "";
    size_t name_len = strlen(name) + 1;
    size_t bytes = sizeof(job_t) +
                   (size_t)count * (2 * sizeof(char *) + sizeof(size_t)) +
                   name_len;
    for (int i = 0; i < count; i++) {
        bytes += strlen(files[i].suffix) + 1 + files[i].len;
    }
    job_t *j = malloc(bytes);
    if (j == NULL) {
        return NULL;
    }
    memset(j, 0, sizeof(*j));
    apr_cpystrn(j->id, id, sizeof(j->id));
    j->score_ms = (double)apr_time_as_msec(t);
    j->count = count;
    j->fields = (const char **)(j + 1);
    j->values = j->fields + count;
    j->lens = (size_t *)(j->values + count);
    char *p = (char *)(j->lens + count);
    for (int i = 0; i < count; i++) {
        size_t n = strlen(files[i].suffix) + 1;
        memcpy(p, files[i].suffix, n);
        j->fields[i] = p;
        p += n;
        memcpy(p, files[i].data, files[i].len);
        j->values[i] = p;
        j->lens[i] = files[i].len;
        p += files[i].len;
    }
    memcpy(p, name, name_len);
    j->group = p;
    j->dur_ms = group != NULL ? group->dur_ms : 0.0;
    return j;
}

static void set_error(rp_redis_writer_t *w, const char *what, const char *why)
{
    pthread_mutex_lock(&w->lock);
    snprintf(w->error, sizeof(w->error), "%s: %s", what, why);
    w->error_new = 1;
    pthread_mutex_unlock(&w->lock);
}

static void drop_connection(rp_redis_writer_t *w)
{
    if (w->c != NULL) {
        redisFree(w->c);
        w->c = NULL;
    }
    w->retry_at = apr_time_now() + RP_REDIS_RETRY_AFTER;
}

/* A connection, made now if none (at most once per RP_REDIS_RETRY_AFTER
 * after a failure). Called without the lock. */
static redisContext *connection(rp_redis_writer_t *w)
{
    if (w->c != NULL || apr_time_now() < w->retry_at) {
        return w->c;
    }
    char err[300];
    w->c = connect_to(&w->conf, err, sizeof(err));
    if (w->c == NULL) {
        w->retry_at = apr_time_now() + RP_REDIS_RETRY_AFTER;
        set_error(w, "connecting", err);
    }
    return w->c;
}

static long long ttl_ms(const rp_redis_writer_t *w)
{
    return (long long)w->conf.ttl_seconds * 1000;
}

typedef enum {
    WRITE_DONE,
    WRITE_FAILED, /* certainly not written */
    WRITE_UNSURE  /* sent, and no answer came: it may yet be written */
} write_result_t;

/* compress: whether to compress the saved files (see writer_main). */
static write_result_t write_job(rp_redis_writer_t *w, const job_t *j,
                                int compress)
{
    redisContext *c = connection(w);
    if (c == NULL) {
        return WRITE_FAILED;
    }
    char key[sizeof(KEY_PROFILE) + RP_STORE_ID_MAX];
    char gone[sizeof(KEY_GONE) + RP_STORE_ID_MAX];
    snprintf(key, sizeof(key), "%s%s", KEY_PROFILE, j->id);
    snprintf(gone, sizeof(gone), "%s%s", KEY_GONE, j->id);
    char *worst = malloc(sizeof(KEY_WORST) + strlen(j->group));
    if (worst == NULL) {
        return WRITE_FAILED;
    }
    sprintf(worst, "%s%s", KEY_WORST, j->group);
    char ttl[32], score[48], max[32], oldest[48], dur[48], keep_n[32],
        keep_ms[32];
    snprintf(ttl, sizeof(ttl), "%lld", ttl_ms(w));
    snprintf(score, sizeof(score), "%.0f", j->score_ms);
    snprintf(max, sizeof(max), "%d", w->conf.max_profiles);
    snprintf(oldest, sizeof(oldest), "%.0f",
             (double)apr_time_as_msec(apr_time_now()) - (double)ttl_ms(w));
    snprintf(dur, sizeof(dur), "%.3f", j->dur_ms);
    snprintf(keep_n, sizeof(keep_n), "%d", w->conf.worst_per_group);
    snprintf(keep_ms, sizeof(keep_ms), "%lld",
             ttl_ms(w) * RP_REDIS_WORST_KEPT_TTLS);
    const char *fixed[] = {
        "EVAL",      write_script, "4",   key,    KEY_INDEX, gone,
        worst,       ttl,          score, j->id,  max,       oldest,
        KEY_PROFILE, j->group,     dur,   keep_n, keep_ms,   KEY_WORST};
    int nfixed = (int)(sizeof(fixed) / sizeof(fixed[0]));
    int argc = nfixed + 2 * j->count;
    const char **argv = malloc(sizeof(char *) * (size_t)argc);
    size_t *lens = malloc(sizeof(size_t) * (size_t)argc);
    if (argv == NULL || lens == NULL) {
        free(argv);
        free(lens);
        free(worst);
        return WRITE_FAILED;
    }
    int n = 0;
    for (; n < nfixed; n++) {
        argv[n] = fixed[n];
        lens[n] = strlen(fixed[n]);
    }
    char **packed = calloc((size_t)j->count, sizeof(char *));
    for (int i = 0; i < j->count; i++) {
        argv[n] = j->fields[i];
        lens[n++] = strlen(j->fields[i]);
        const char *value = j->values[i];
        size_t value_len = j->lens[i];
        if (compress && packed != NULL &&
            strcmp(j->fields[i], RP_REDIS_RECORD_FIELD) != 0) {
            packed[i] = compress_value(value, value_len, &value_len);
            value = packed[i] != NULL ? packed[i] : value;
        }
        argv[n] = value;
        lens[n++] = value_len;
    }
    redisReply *reply = redisCommandArgv(c, n, argv, lens);
    for (int i = 0; packed != NULL && i < j->count; i++) {
        free(packed[i]);
    }
    free(packed);
    free(argv);
    free(lens);
    free(worst);
    int refused = reply != NULL && reply->type == REDIS_REPLY_INTEGER &&
                  reply->integer < 0;
    char err[300];
    if (!reply_ok(c, reply, err, sizeof(err))) {
        set_error(w, "writing a profile", err);
        if (reply == NULL || c->err) {
            drop_connection(w);
        }
        return reply == NULL ? WRITE_UNSURE : WRITE_FAILED;
    }
    return refused ? WRITE_FAILED : WRITE_DONE;
}

/* ---- exact drop counts ----------------------------------------------------
 * A write or a count whose answer never came may still be carried out by
 * Redis later (it was busy, or stopped): writes are settled by asking, and
 * counts are absolute per process, so sending one again adds nothing. */

static unsigned long drops_of(const rp_redis_stats_t *st)
{
    return st->dropped_full + st->dropped_down;
}

/* With the lock: whether something is still to be settled with Redis. */
static int unsettled(const rp_redis_writer_t *w)
{
    return w->stats.unsure > 0 || drops_of(&w->stats) > w->stats.drops_recorded;
}

static void remember_unsure(rp_redis_writer_t *w, const char *id)
{
    if (w->unsure == NULL) {
        w->unsure = malloc(sizeof(*w->unsure) * UNSURE_MAX);
    }
    pthread_mutex_lock(&w->lock);
    if (w->unsure != NULL && w->unsure_count < UNSURE_MAX) {
        apr_cpystrn(w->unsure[w->unsure_count++], id, RP_STORE_ID_MAX);
        w->stats.unsure++;
    } else {
        w->stats.dropped_down++; /* too many to follow: it may be stored too */
    }
    pthread_mutex_unlock(&w->lock);
}

/* Asks Redis what became of the writes whose answer never came, in one
 * pipeline; those it has not got are marked so they never will be. */
static void resolve_unsure(rp_redis_writer_t *w)
{
    redisContext *c = w->unsure_count > 0 ? connection(w) : NULL;
    if (c == NULL) {
        return;
    }
    char ttl[32];
    snprintf(ttl, sizeof(ttl), "%lld", ttl_ms(w));
    for (int i = 0; i < w->unsure_count; i++) {
        redisAppendCommand(c, "EVAL %s 2 %s%s %s%s %s", resolve_script,
                           KEY_PROFILE, w->unsure[i], KEY_GONE, w->unsure[i],
                           ttl);
    }
    int kept = 0, asked = w->unsure_count;
    unsigned long written = 0, dropped = 0;
    for (int i = 0; i < asked; i++) {
        redisReply *r = NULL;
        if (c != NULL && redisGetReply(c, (void **)&r) != REDIS_OK) {
            set_error(w, "settling unanswered writes", no_reply_reason(c));
            drop_connection(w);
            c = NULL;
        }
        if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
            r->integer == 1 ? written++ : dropped++;
        } else if (kept != i) { /* no answer, or refused: ask again later */
            memcpy(w->unsure[kept++], w->unsure[i], RP_STORE_ID_MAX);
        } else {
            kept++;
        }
        if (r != NULL) {
            freeReplyObject(r);
        }
    }
    w->unsure_count = kept;
    pthread_mutex_lock(&w->lock);
    w->stats.unsure = (unsigned long)kept;
    w->stats.written += written;
    w->stats.dropped_down += dropped;
    pthread_mutex_unlock(&w->lock);
}

/* Sets this process's drop count in Redis to what it dropped so far. */
static void record_drops(rp_redis_writer_t *w)
{
    pthread_mutex_lock(&w->lock);
    unsigned long n = drops_of(&w->stats);
    int due = n > w->stats.drops_recorded;
    pthread_mutex_unlock(&w->lock);
    redisContext *c = due ? connection(w) : NULL;
    if (c == NULL) {
        return;
    }
    char count[32], now[32], ttl[32];
    snprintf(count, sizeof(count), "%lu", n);
    snprintf(now, sizeof(now), "%lld",
             (long long)apr_time_as_msec(apr_time_now()));
    snprintf(ttl, sizeof(ttl), "%lld", ttl_ms(w));
    redisReply *reply =
        redisCommand(c, "EVAL %s 2 %s %s %s %s %s %s", drops_script,
                     KEY_DROPPED, KEY_DROPPED_AT, w->process, count, now, ttl);
    char err[300];
    if (!reply_ok(c, reply, err, sizeof(err))) {
        set_error(w, "counting dropped profiles", err);
        drop_connection(w);
        return;
    }
    pthread_mutex_lock(&w->lock);
    if (n > w->stats.drops_recorded) {
        w->stats.drops_recorded = n;
    }
    pthread_mutex_unlock(&w->lock);
}

/* Called without the lock. */
static void settle(rp_redis_writer_t *w)
{
    resolve_unsure(w);
    record_drops(w);
}

/* Waits for work. What is still to be settled with Redis is retried every
 * RP_REDIS_RETRY_AFTER meanwhile, so that a process that stops getting
 * profiles still has its drops counted once Redis is back. */
static void wait_for_work(rp_redis_writer_t *w)
{
    while (w->head == NULL && !w->stopping) {
        pthread_cond_broadcast(&w->idle);
        if (!unsettled(w)) {
            pthread_cond_wait(&w->wake, &w->lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(RP_REDIS_RETRY_AFTER / APR_USEC_PER_SEC);
        if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&w->lock);
            settle(w);
            pthread_mutex_lock(&w->lock);
            w->stats.connected = w->c != NULL;
        }
    }
}

static void *writer_main(void *arg)
{
    rp_redis_writer_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        wait_for_work(w);
        if (w->head == NULL) {
            /* Stopping, and nothing left: a last try at settling. */
            pthread_mutex_unlock(&w->lock);
            settle(w);
            pthread_mutex_lock(&w->lock);
            break;
        }
        job_t *j = w->head;
        w->head = j->next;
        if (w->head == NULL) {
            w->tail = NULL;
        }
        w->queued--;
        w->busy = 1;
        /* Compressing costs the writer ~0.4 ms per report: with a backlog
         * it sends the files as they are, so that a busy child keeps up
         * (and drops nothing for it) rather than saving memory in Redis. */
        int compress = w->queued < (w->conf.queue_max + 3) / 4;
        int due = unsettled(w);
        pthread_mutex_unlock(&w->lock);
        write_result_t result = write_job(w, j, compress);
        if (result == WRITE_UNSURE) {
            remember_unsure(w, j->id);
        }
        free(j);
        if (result == WRITE_DONE && due) {
            settle(w);
        }
        pthread_mutex_lock(&w->lock);
        w->busy = 0;
        if (result == WRITE_DONE) {
            w->stats.written++;
        } else if (result == WRITE_FAILED) {
            w->stats.dropped_down++;
        }
        w->stats.connected = w->c != NULL;
    }
    drop_connection(w);
    w->stats.connected = 0;
    w->running = 0;
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* The thread never runs a signal handler: an MPM's exit handler on it
 * would tear the process down under the threads that serve requests. */
static int start_thread(rp_redis_writer_t *w)
{
    sigset_t all, saved;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved);
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, writer_main, w);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (rc == 0) {
        pthread_setname_np(thread, "reqprof-store");
    }
    return rc == 0;
}

int rp_redis_writer_submit(rp_redis_writer_t *w, const char *id, apr_time_t t,
                           const rp_store_file_t *files, int count,
                           const rp_redis_group_t *group)
{
    pthread_mutex_lock(&w->lock);
    w->stats.submitted++;
    int room = w->queued < w->conf.queue_max && !w->stopping;
    pthread_mutex_unlock(&w->lock);
    job_t *j = room ? make_job(id, t, files, count, group) : NULL;
    pthread_mutex_lock(&w->lock);
    if (j != NULL && !w->running) {
        w->running = start_thread(w);
    }
    if (j == NULL || !w->running || w->queued >= w->conf.queue_max) {
        w->stats.dropped_full++;
        pthread_mutex_unlock(&w->lock);
        free(j);
        return 0;
    }
    if (w->tail != NULL) {
        w->tail->next = j;
    } else {
        w->head = j;
    }
    w->tail = j;
    w->queued++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return 1;
}

void rp_redis_writer_stats(rp_redis_writer_t *w, rp_redis_stats_t *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}

int rp_redis_writer_take_error(rp_redis_writer_t *w, char *buf, apr_size_t size)
{
    pthread_mutex_lock(&w->lock);
    int had = w->error_new;
    if (had) {
        apr_cpystrn(buf, w->error, size);
        w->error_new = 0;
    }
    pthread_mutex_unlock(&w->lock);
    return had;
}

/* Once no thread uses it. */
static void writer_free(rp_redis_writer_t *w)
{
    while (w->head != NULL) {
        job_t *j = w->head;
        w->head = j->next;
        free(j);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->idle);
    free(w->unsure);
    free((char *)w->conf.target.host);
    free((char *)w->conf.target.user);
    free((char *)w->conf.password);
    free((char *)w->conf.node);
    free(w);
}

unsigned long rp_redis_writer_stop(rp_redis_writer_t *w,
                                   apr_interval_time_t deadline)
{
    if (w == NULL) {
        return 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(deadline / APR_USEC_PER_SEC);
    until.tv_nsec += (long)(deadline % APR_USEC_PER_SEC) * 1000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    /* A plain lock: no thread holds it across a Redis call, so it is never
     * held for long (pthread_mutex_timedlock would measure until, a
     * CLOCK_MONOTONIC time, against CLOCK_REALTIME, and give up at once
     * whenever the lock is busy). */
    pthread_mutex_lock(&w->lock);
    w->stopping = 1;
    pthread_cond_signal(&w->wake);
    while (w->running) {
        if (pthread_cond_timedwait(&w->idle, &w->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    int ended = !w->running;
    const rp_redis_stats_t *st = &w->stats;
    unsigned long uncounted = drops_of(st) - st->drops_recorded + st->unsure +
                              (unsigned long)(w->queued + w->busy);
    pthread_mutex_unlock(&w->lock);
    /* A thread still running keeps the writer (and what is queued) to
     * itself; otherwise nothing uses it any more. */
    if (ended) {
        writer_free(w);
    }
    return uncounted;
}

/* ---- reading ------------------------------------------------------------- */

static apr_status_t fail(const char **error, apr_pool_t *pool, const char *what,
                         const char *why)
{
    if (error != NULL) {
        *error = apr_psprintf(pool, "%s: %s", what, why);
    }
    return APR_EGENERAL;
}

/* Reads the record of each profile ids names (one pipeline) and visits
 * those still there. Returns how many ids there were, -1 on failure. */
static int visit_records(redisContext *c, const redisReply *ids,
                         rp_redis_visit_f visit, void *ctx, apr_pool_t *pool,
                         int *stop, const char **error)
{
    for (size_t i = 0; i < ids->elements; i++) {
        redisAppendCommand(c, "HGET %s%b %s", KEY_PROFILE, ids->element[i]->str,
                           (size_t)ids->element[i]->len, RP_REDIS_RECORD_FIELD);
    }
    int n = (int)ids->elements;
    for (size_t i = 0; i < ids->elements; i++) {
        redisReply *record = NULL;
        if (redisGetReply(c, (void **)&record) != REDIS_OK || record == NULL) {
            fail(error, pool, "reading profiles", no_reply_reason(c));
            return -1;
        }
        if (record->type == REDIS_REPLY_STRING && !*stop) {
            rp_redis_item_t it = {
                .id = apr_pstrmemdup(pool, ids->element[i]->str,
                                     (apr_size_t)ids->element[i]->len),
                .meta =
                    apr_pstrmemdup(pool, record->str, (apr_size_t)record->len),
                .meta_len = (apr_size_t)record->len};
            *stop = !visit(ctx, &it);
        }
        freeReplyObject(record);
    }
    return n;
}

/* One chunk of the index from offset: 0 at its end, -1 on failure, else
 * how many ids it held. */
static int scan_chunk(redisContext *c, long offset, int chunk,
                      rp_redis_visit_f visit, void *ctx, apr_pool_t *pool,
                      int *stop, const char **error)
{
    char err[300];
    redisReply *ids = redisCommand(c, "ZREVRANGE %s %ld %ld", KEY_INDEX, offset,
                                   offset + chunk - 1);
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        reply_ok(c, ids, err, sizeof(err));
        fail(error, pool, "listing profiles", err);
        return -1;
    }
    int n = visit_records(c, ids, visit, ctx, pool, stop, error);
    freeReplyObject(ids);
    return n;
}

apr_status_t rp_redis_worst(const rp_redis_conf_t *conf, const char *group,
                            rp_redis_visit_f visit, void *ctx, apr_pool_t *pool,
                            const char **error)
{
    char err[300];
    redisContext *c = connect_to(conf, err, sizeof(err));
    if (c == NULL) {
        return fail(error, pool, "redis", err);
    }
    redisReply *ids = redisCommand(c, "ZREVRANGE %s%s 0 -1", KEY_WORST, group);
    int n = -1, stop = 0;
    if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
        reply_ok(c, ids, err, sizeof(err));
        ids = NULL;
        fail(error, pool, "listing the slowest profiles", err);
    } else {
        n = visit_records(c, ids, visit, ctx, pool, &stop, error);
    }
    if (ids != NULL) {
        freeReplyObject(ids);
    }
    redisFree(c);
    return n < 0 ? APR_EGENERAL : APR_SUCCESS;
}

apr_status_t rp_redis_scan(const rp_redis_conf_t *conf, int chunk,
                           rp_redis_visit_f visit, void *ctx, apr_pool_t *pool,
                           const char **error)
{
    char err[300];
    redisContext *c = connect_to(conf, err, sizeof(err));
    if (c == NULL) {
        return fail(error, pool, "redis", err);
    }
    int stop = 0, n;
    long offset = 0;
    do {
        n = scan_chunk(c, offset, chunk, visit, ctx, pool, &stop, error);
        offset += n;
    } while (n == chunk && !stop);
    redisFree(c);
    return n < 0 ? APR_EGENERAL : APR_SUCCESS;
}

typedef struct list_ctx {
    apr_array_header_t *items;
    int max;
} list_ctx_t;

static int keep_item(void *ctx, const rp_redis_item_t *item)
{
    list_ctx_t *l = ctx;
    *(rp_redis_item_t *)apr_array_push(l->items) = *item;
    return l->items->nelts < l->max;
}

apr_status_t rp_redis_list(const rp_redis_conf_t *conf, int max,
                           apr_pool_t *pool, apr_array_header_t **items,
                           const char **error)
{
    *items = apr_array_make(pool, 64, sizeof(rp_redis_item_t));
    if (max <= 0) {
        return APR_SUCCESS;
    }
    list_ctx_t ctx = {*items, max};
    return rp_redis_scan(conf, max < 500 ? max : 500, keep_item, &ctx, pool,
                         error);
}

/* A field's value as it was saved, from its reply (r may be NULL: no
 * reply); the reply is freed. */
static apr_status_t value_of(redisContext *c, redisReply *r, apr_size_t max,
                             apr_pool_t *pool, char **data, apr_size_t *len,
                             const char **error)
{
    char err[300];
    apr_status_t rv = APR_SUCCESS;
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        reply_ok(c, r, err, sizeof(err));
        return fail(error, pool, "reading a profile", err);
    }
    if (r->type != REDIS_REPLY_STRING) {
        rv = APR_ENOENT;
    } else if (is_compressed(r->str, r->len)) {
        rv = expand_value(r->str, r->len, max, pool, data, len);
        if (rv == APR_EGENERAL) {
            fail(error, pool, "reading a profile", "it does not decompress");
        }
    } else if ((apr_size_t)r->len > max) {
        rv = APR_ENOMEM;
    } else {
        *data = apr_pstrmemdup(pool, r->str, (apr_size_t)r->len);
        *len = (apr_size_t)r->len;
    }
    freeReplyObject(r);
    return rv;
}

apr_status_t rp_redis_fetch(const rp_redis_conf_t *conf, const char *id,
                            const char *field, apr_size_t max, apr_pool_t *pool,
                            char **data, apr_size_t *len, const char **error)
{
    char err[300];
    redisContext *c = connect_to(conf, err, sizeof(err));
    if (c == NULL) {
        return fail(error, pool, "redis", err);
    }
    apr_status_t rv =
        value_of(c, redisCommand(c, "HGET %s%s %s", KEY_PROFILE, id, field),
                 max, pool, data, len, error);
    redisFree(c);
    return rv;
}

/* Ids per pipeline of rp_redis_fetch_each. */
#define FETCH_CHUNK 200

apr_status_t rp_redis_fetch_each(const rp_redis_conf_t *conf,
                                 const char *const *ids, int count,
                                 const char *field, apr_size_t max,
                                 rp_redis_fetched_f got, void *ctx,
                                 apr_pool_t *pool, const char **error)
{
    char err[300];
    redisContext *c = connect_to(conf, err, sizeof(err));
    if (c == NULL) {
        return fail(error, pool, "redis", err);
    }
    apr_status_t rv = APR_SUCCESS;
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    for (int first = 0; first < count && rv == APR_SUCCESS;
         first += FETCH_CHUNK) {
        int n = count - first < FETCH_CHUNK ? count - first : FETCH_CHUNK;
        for (int i = 0; i < n; i++) {
            redisAppendCommand(c, "HGET %s%s %s", KEY_PROFILE, ids[first + i],
                               field);
        }
        for (int i = 0; i < n && rv == APR_SUCCESS; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
                rv = fail(error, pool, "reading profiles", no_reply_reason(c));
                break;
            }
            char *data = NULL;
            apr_size_t len = 0;
            apr_status_t one = value_of(c, r, max, scratch, &data, &len, error);
            if (one == APR_SUCCESS) {
                got(ctx, ids[first + i], data, len);
            } else if (one != APR_ENOENT && one != APR_ENOMEM) {
                rv = one;
            }
            apr_pool_clear(scratch);
        }
    }
    apr_pool_destroy(scratch);
    redisFree(c);
    return rv;
}

/* The host of a drop count's process name (node/pid/start). */
static const char *node_of(const char *process, apr_size_t len,
                           apr_pool_t *pool)
{
    apr_size_t end = len;
    for (int slashes = 0; end > 0; end--) {
        if (process[end - 1] == '/' && ++slashes == 2) {
            return apr_pstrmemdup(pool, process, end - 1);
        }
    }
    return apr_pstrmemdup(pool, process, len);
}

static int by_node(const void *a, const void *b)
{
    return strcmp(((const rp_redis_drop_t *)a)->node,
                  ((const rp_redis_drop_t *)b)->node);
}

apr_status_t rp_redis_drops(const rp_redis_conf_t *conf, apr_pool_t *pool,
                            apr_array_header_t **drops, const char **error)
{
    *drops = apr_array_make(pool, 8, sizeof(rp_redis_drop_t));
    char err[300];
    redisContext *c = connect_to(conf, err, sizeof(err));
    if (c == NULL) {
        return fail(error, pool, "redis", err);
    }
    redisReply *r = redisCommand(c, "HGETALL %s", KEY_DROPPED);
    apr_status_t rv = APR_SUCCESS;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        reply_ok(c, r, err, sizeof(err));
        rv = fail(error, pool, "reading drop counts", err);
    } else {
        apr_hash_t *per_node = apr_hash_make(pool);
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const char *node = node_of(r->element[i]->str,
                                       (apr_size_t)r->element[i]->len, pool);
            rp_redis_drop_t *d =
                apr_hash_get(per_node, node, APR_HASH_KEY_STRING);
            if (d == NULL) {
                d = apr_array_push(*drops);
                d->node = node;
                d->count = 0;
                apr_hash_set(per_node, node, APR_HASH_KEY_STRING, d);
            }
            d->count += strtoll(r->element[i + 1]->str, NULL, 10);
        }
        freeReplyObject(r);
        qsort((*drops)->elts, (size_t)(*drops)->nelts, sizeof(rp_redis_drop_t),
              by_node);
    }
    redisFree(c);
    return rv;
}
