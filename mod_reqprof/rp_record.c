#include "rp_record.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "rp_fold.h"
#include "rp_logfmt.h"

/* Most self time first, then rp_fold_funcs' order. */
static int by_self(const void *a, const void *b)
{
    const rp_func_stat_t *x = a, *y = b;
    if (x->self != y->self) {
        return x->self > y->self ? -1 : 1;
    }
    return rp_fold_heavier_total(a, b);
}

/* ---- the hottest path ------------------------------------------------- */

const char *rp_record_hot_path(const rp_profile_t *p, unsigned max_frames,
                               apr_pool_t *pool)
{
    if (p->tree == NULL || p->tree->root.total == 0 || max_frames == 0) {
        return "";
    }
    const char **names =
        apr_palloc(pool, sizeof(*names) * (p->tree->max_depth + 2));
    unsigned n = 0, shown = 0;
    /* Children are sorted heaviest first; the path ends where a frame's
     * own time outweighs its heaviest callee. Folded frames are left out, the
     * outermost ones too (the server's own machinery: thread start, MPM,
     * request loop), unless nothing else is left. */
    for (const rp_node_t *node = p->tree->root.first_child; node;
         node =
             node->first_child != NULL && node->first_child->total > node->self
                 ? node->first_child
                 : NULL) {
        names[n++] = node->func->name && *node->func->name ? node->func->name
                                                           : "[unknown]";
        if (!rp_fold_folds(p, node->func)) {
            names[shown++] = names[n - 1];
        }
    }
    if (shown > 0) {
        n = shown;
    }
    rp_buf_t b;
    rp_buf_init(&b, pool, 256);
    unsigned first = n > max_frames ? n - max_frames : 0;
    if (first > 0) {
        rp_buf_puts(&b, "...");
    }
    for (unsigned i = first; i < n; i++) {
        if (b.len > 0) {
            rp_buf_puts(&b, ";");
        }
        rp_buf_puts(&b, names[i]);
    }
    return rp_buf_str(&b);
}

/* ---- the record ---------------------------------------------------------- */

void rp_record_timestamp(char *out, apr_size_t size, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    apr_snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                 e.tm_year + 1900, e.tm_mon + 1, e.tm_mday, e.tm_hour, e.tm_min,
                 e.tm_sec, e.tm_usec);
}

static double percent(uint64_t part, uint64_t all)
{
    return all ? 100.0 * (double)part / (double)all : 0.0;
}

void rp_record_line_with(rp_buf_t *b, const rp_profile_t *p,
                         const rp_record_info_t *info,
                         const rp_func_stat_t *funcs, unsigned nfuncs,
                         apr_pool_t *pool)
{
    const rp_sampler_stats_t *st = &p->stats;
    char ts[40];
    rp_record_timestamp(ts, sizeof(ts), p->request_started);
    rp_logfmt_str(b, "type", "reqprof", 0);
    rp_logfmt_int(b, "v", RP_RECORD_VERSION);
    rp_logfmt_str(b, "ts", ts, 0);
    rp_logfmt_str(b, "id", info->id, 0);
    rp_logfmt_str(b, "mode", info->mode, 0);
    rp_logfmt_int(b, "pid", p->pid);
    rp_logfmt_int(b, "tid", p->tid);
    rp_logfmt_str(b, "host", p->host ? p->host : "", 256);
    rp_logfmt_str(b, "server", info->server, 256);
    rp_logfmt_str(b, "node", info->node, 256);
    rp_logfmt_str(b, "trace", info->trace, 64);
    rp_logfmt_str(b, "group", info->group, 0); /* bounded by its maker */
    rp_logfmt_str(b, "method", p->method ? p->method : "", 64);
    const char *uri = p->uri ? p->uri : "";
    const char *q = strchr(uri, '?');
    rp_logfmt_url(b, "path",
                  q ? apr_pstrmemdup(pool, uri, (apr_size_t)(q - uri)) : uri,
                  RP_LOGFMT_MAX_VALUE);
    if (q != NULL) {
        rp_logfmt_url(b, "query", q + 1, RP_LOGFMT_MAX_VALUE);
    }
    rp_logfmt_int(b, "status", p->status);
    if (p->aborted) {
        rp_logfmt_int(b, "aborted", 1);
    }
    apr_interval_time_t dur = info->ended - p->request_started;
    rp_logfmt_num(b, "dur_ms", dur > 0 ? (double)dur / 1000.0 : 0.0, 3);
    rp_logfmt_num(b, "cpu_ms", (double)st->cpu_ns / 1e6, 3);
    rp_logfmt_num(b, "wait_ms", rp_profile_weight_ms(p, st->wait_weight), 3);
    rp_logfmt_int(b, "samples", st->samples);
    rp_logfmt_int(b, "interval_us", st->interval_us);
    rp_logfmt_str(b, "clock", st->clock == RP_CLOCK_CPU ? "cpu" : "wall", 0);
    if (st->capped) {
        rp_logfmt_int(b, "capped", 1);
    }
    if (st->dropped) {
        rp_logfmt_int(b, "dropped", st->dropped);
    }
    uint64_t all = p->tree ? p->tree->root.total : 0;
    rp_func_stat_t *top = apr_pmemdup(pool, funcs, sizeof(*funcs) * nfuncs);
    qsort(top, nfuncs, sizeof(*top), by_self);
    for (unsigned i = 0; i < nfuncs && i < RP_RECORD_TOP; i++) {
        if (top[i].self == 0) {
            break;
        }
        char key[16];
        apr_snprintf(key, sizeof(key), "top%u", i + 1);
        rp_logfmt_str(b, key, top[i].name, 256);
        apr_snprintf(key, sizeof(key), "top%u_ms", i + 1);
        rp_logfmt_num(b, key, rp_profile_weight_ms(p, top[i].self), 3);
        apr_snprintf(key, sizeof(key), "top%u_pct", i + 1);
        rp_logfmt_num(b, key, percent(top[i].self, all), 1);
    }
    const char *hot = rp_record_hot_path(p, RP_RECORD_HOT_FRAMES, pool);
    if (*hot) {
        rp_logfmt_str(b, "hot", hot, 2048);
    }
}

void rp_record_line(rp_buf_t *b, const rp_profile_t *p,
                    const rp_record_info_t *info)
{
    rp_func_stat_t *funcs;
    unsigned n = rp_fold_funcs(p, b->pool, &funcs);
    rp_record_line_with(b, p, info, funcs, n, b->pool);
}

static int lower_hex_run(const char *s, int n, int *all_zero)
{
    *all_zero = 1;
    for (int i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
        *all_zero &= c == '0';
    }
    return 1;
}

int rp_record_trace_id(const char *traceparent, char out[33])
{
    out[0] = '\0';
    if (traceparent == NULL || strlen(traceparent) < 55) {
        return 0;
    }
    const char *v = traceparent;
    int zero;
    if (!lower_hex_run(v, 2, &zero) || strncmp(v, "ff", 2) == 0 ||
        v[2] != '-' || !lower_hex_run(v + 3, 32, &zero) || zero ||
        v[35] != '-' || !lower_hex_run(v + 36, 16, &zero) || zero ||
        v[52] != '-' || !lower_hex_run(v + 53, 2, &zero)) {
        return 0;
    }
    /* Version 00 is exactly this long; later versions may add fields. */
    if (v[55] != '\0' && (strncmp(v, "00", 2) == 0 || v[55] != '-')) {
        return 0;
    }
    memcpy(out, v + 3, 32);
    out[32] = '\0';
    return 1;
}

const char *rp_record_group(const char *text, apr_pool_t *pool)
{
    apr_size_t len = strlen(text);
    if (len > RP_RECORD_GROUP_MAX) {
        len = RP_RECORD_GROUP_MAX;
        /* Back to the first byte of a UTF-8 character. */
        while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80) {
            len--;
        }
    }
    char *out = apr_pstrmemdup(pool, text, len);
    for (char *c = out; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            *c = '?';
        }
    }
    return out;
}
