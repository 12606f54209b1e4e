#include "rp_json.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <stdint.h>

#include "rp_buf.h"
#include "rp_export.h"

typedef struct {
    rp_buf_t *b;
    const rp_frames_t *frames;
    const rp_node_ids_t *node_ids;
} json_ctx_t;

static void key(rp_buf_t *b, const char *name, int first)
{
    rp_buf_printf(b, first ? "\"%s\":" : ",\"%s\":", name);
}

static void string_member(rp_buf_t *b, const char *name, const char *value,
                          int first)
{
    key(b, name, first);
    rp_buf_json_string(b, value);
}

static void u64_member(rp_buf_t *b, const char *name, uint64_t value)
{
    key(b, name, 0);
    rp_buf_printf(b, "%" APR_UINT64_T_FMT, (apr_uint64_t)value);
}

static void ms_member(rp_buf_t *b, const char *name, double ms)
{
    key(b, name, 0);
    rp_buf_decimal(b, ms, 3);
}

/* ISO 8601 in UTC with microseconds, or null for an unknown (zero) time. */
static void time_members(rp_buf_t *b, const char *name, apr_time_t t)
{
    key(b, name, 0);
    if (t <= 0) {
        rp_buf_puts(b, "null");
    } else {
        apr_time_exp_t tm;
        apr_time_exp_gmt(&tm, t);
        rp_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                      tm.tm_min, tm.tm_sec, tm.tm_usec);
    }
    rp_buf_printf(b, ",\"%s_us\":", name);
    if (t <= 0) {
        rp_buf_puts(b, "null");
    } else {
        rp_buf_printf(b, "%" APR_TIME_T_FMT, t);
    }
}

static void render_summary(rp_buf_t *b, const rp_profile_t *p)
{
    const rp_sampler_stats_t *st = &p->stats;
    rp_buf_puts(b, "\"request\":{");
    string_member(b, "method", p->method, 1);
    string_member(b, "uri", p->uri, 0);
    string_member(b, "protocol", p->protocol, 0);
    string_member(b, "host", p->host, 0);
    rp_buf_printf(b, ",\"status\":%d", p->status);
    rp_buf_printf(b, ",\"discarded_bytes\":%" APR_OFF_T_FMT,
                  p->discarded_bytes);
    time_members(b, "started", p->request_started);
    rp_buf_puts(b, "},\n\"process\":{");
    string_member(b, "server", p->server, 1);
    string_member(b, "mpm", p->mpm, 0);
    rp_buf_printf(b, ",\"pid\":%ld,\"tid\":%ld", p->pid, p->tid);
    rp_buf_puts(b, "},\n\"sampling\":{");
    rp_buf_printf(b, "\"clock\":\"%s\"",
                  st->clock == RP_CLOCK_CPU ? "cpu" : "wall");
    rp_buf_printf(b, ",\"interval_us\":%" APR_TIME_T_FMT, st->interval_us);
    time_members(b, "started", p->started);
    ms_member(b, "wall_ms", (double)st->wall_ns / 1e6);
    ms_member(b, "cpu_ms", (double)st->cpu_ns / 1e6);
    u64_member(b, "samples", st->samples);
    u64_member(b, "intervals", st->weight);
    u64_member(b, "wait_intervals", st->wait_weight);
    ms_member(b, "on_cpu_ms",
              rp_profile_weight_ms(p, st->weight - st->wait_weight));
    ms_member(b, "waiting_ms", rp_profile_weight_ms(p, st->wait_weight));
    rp_buf_printf(b, ",\"proc_readable\":%s",
                  st->proc_readable ? "true" : "false");
    u64_member(b, "signals", st->signals);
    u64_member(b, "wait_signals", st->wait_signals);
    u64_member(b, "interrupted_waits", st->interrupted_waits);
    u64_member(b, "broken_waits", st->broken_waits);
    u64_member(b, "unsignalled_waits", st->unsignalled_waits);
    u64_member(b, "remote_unwinds", st->remote_unwinds);
    u64_member(b, "stale_unwinds", st->stale_unwinds);
    u64_member(b, "late_intervals", st->late_intervals);
    ms_member(b, "sampler_cpu_ms", (double)st->sampler_cpu_ns / 1e6);
    u64_member(b, "dropped", st->dropped);
    u64_member(b, "truncated_stacks", p->truncated_stacks);
    if (p->script_note != NULL) {
        string_member(b, "script_note", p->script_note, 0);
    }
    rp_buf_puts(b, "}");
}

/* Phases that ran, or that samples were taken in: when each first began
 * (null if never marked), how long it took, and the intervals sampled in
 * it. */
static void render_phases(rp_buf_t *b, const rp_profile_t *p,
                          const rp_model_t *m)
{
    const uint64_t *weight = m->phase_weight;
    rp_buf_puts(b, ",\n\"phases\":{");
    int first = 1;
    for (unsigned i = 0; i < RP_PHASE_COUNT; i++) {
        const rp_phase_span_t *span = &p->phases[i];
        if (span->first_us < 0 && weight[i] == 0) {
            continue;
        }
        key(b, rp_phase_name(i), first);
        if (span->first_us < 0) {
            rp_buf_puts(b, "{\"first_us\":null");
        } else {
            rp_buf_printf(b, "{\"first_us\":%" APR_TIME_T_FMT, span->first_us);
        }
        rp_buf_printf(b,
                      ",\"total_us\":%" APR_TIME_T_FMT
                      ",\"intervals\":%" APR_UINT64_T_FMT "}",
                      span->first_us < 0 ? 0 : span->total_us,
                      (apr_uint64_t)weight[i]);
        first = 0;
    }
    rp_buf_puts(b, "}");
}

/* The view settings: which objects' frames fold into their callers by
 * default (globs), and which objects are httpd modules. */
static void render_views(rp_buf_t *b, const rp_profile_t *p)
{
    rp_buf_puts(b, ",\n\"collapse\":[");
    for (int i = 0; i < p->collapse_count; i++) {
        rp_buf_puts(b, i ? "," : "");
        rp_buf_json_string(b, p->collapse[i]);
    }
    rp_buf_puts(b, "],\n\"modules\":[");
    for (int i = 0; i < p->module_count; i++) {
        rp_buf_puts(b, i ? ",\n{" : "\n{");
        string_member(b, "object", p->modules[i].object, 1);
        string_member(b, "module", p->modules[i].module, 0);
        rp_buf_puts(b, "}");
    }
    rp_buf_puts(b, "]");
}

static void render_frames(rp_buf_t *b, const rp_frames_t *fr)
{
    rp_buf_puts(b, ",\n\"frames\":[");
    for (unsigned i = 0; i < fr->count; i++) {
        const rp_func_t *f = fr->funcs[i];
        rp_buf_puts(b, i ? ",\n{" : "\n{");
        string_member(b, "name", f->name, 1);
        string_member(b, "object", f->object, 0);
        string_member(b, "file", f->file, 0);
        rp_buf_printf(b, ",\"line\":%d,\"resolved\":%s}", f->line,
                      f->resolved ? "true" : "false");
    }
    rp_buf_puts(b, "]");
}

/* Each object the frames name, once, in the order of its first frame, with
 * where its function names came from (null for frames of no object). */
static void render_objects(rp_buf_t *b, const rp_frames_t *fr, apr_pool_t *pool)
{
    apr_hash_t *seen = apr_hash_make(pool);
    int first = 1;
    rp_buf_puts(b, ",\n\"objects\":[");
    for (unsigned i = 0; i < fr->count; i++) {
        const rp_func_t *f = fr->funcs[i];
        const char *object = f->object ? f->object : "";
        if (apr_hash_get(seen, object, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        apr_hash_set(seen, object, APR_HASH_KEY_STRING, f);
        rp_buf_puts(b, first ? "\n{" : ",\n{");
        string_member(b, "object", object, 1);
        string_member(b, "symbols", rp_symbol_source_name(f->symbols), 0);
        rp_buf_puts(b, "}");
        first = 0;
    }
    rp_buf_puts(b, "]");
}

static void render_node(json_ctx_t *c, const rp_node_t *node)
{
    rp_buf_t *b = c->b;
    rp_buf_printf(b, "{\"id\":%u,\"frame\":", rp_node_id(c->node_ids, node));
    if (node->func == NULL) {
        rp_buf_puts(b, "null");
    } else {
        rp_buf_printf(b, "%d", rp_frames_index(c->frames, node->func));
    }
    u64_member(b, "total", node->total);
    u64_member(b, "self", node->self);
    u64_member(b, "wait", node->wait);
    rp_buf_puts(b, ",\"children\":[");
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        rp_buf_puts(b, n == node->first_child ? "\n" : ",\n");
        render_node(c, n);
    }
    rp_buf_puts(b, "]}");
}

static void render_samples(json_ctx_t *c, const rp_profile_sample_t *samples,
                           unsigned count)
{
    rp_buf_t *b = c->b;
    rp_buf_puts(b, ",\n\"samples\":[");
    for (unsigned i = 0; i < count; i++) {
        const rp_profile_sample_t *s = &samples[i];
        rp_buf_printf(b,
                      "%s{\"t_us\":%" APR_UINT64_T_FMT
                      ",\"weight\":%u,\"waiting\":%s,\"phase\":\"%s\","
                      "\"syscall\":",
                      i ? ",\n" : "\n", (apr_uint64_t)(s->t_ns / 1000),
                      (unsigned)s->weight, s->waiting ? "true" : "false",
                      rp_phase_name(s->phase));
        if (s->syscall >= 0) {
            rp_buf_printf(b, "%d", (int)s->syscall);
        } else {
            rp_buf_puts(b, "null");
        }
        rp_buf_printf(b, ",\"node\":%u}", rp_node_id(c->node_ids, s->leaf));
    }
    rp_buf_puts(b, "]");
}

const char *rp_json_render(const rp_profile_t *p, apr_pool_t *pool,
                           apr_size_t *len)
{
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    const rp_model_t *m = rp_profile_model(p);
    const rp_frames_t *fr = &m->frames;
    unsigned count = m->sample_count;

    rp_buf_t b;
    rp_buf_init(&b, pool,
                4096 + (apr_size_t)fr->count * 128 +
                    (apr_size_t)p->tree->node_count * 80 +
                    (apr_size_t)count * 90 + (apr_size_t)p->module_count * 64);
    rp_buf_printf(&b, "{\"format\":\"mod_reqprof\",\"version\":%d,\n",
                  RP_JSON_VERSION);
    render_summary(&b, p);
    render_phases(&b, p, m);
    render_views(&b, p);
    render_frames(&b, fr);
    render_objects(&b, fr, scratch);
    json_ctx_t c = {.b = &b, .frames = fr, .node_ids = &m->node_ids};
    rp_buf_puts(&b, ",\n\"tree\":");
    render_node(&c, &p->tree->root);
    render_samples(&c, m->samples, count);
    rp_buf_puts(&b, "}\n");
    apr_pool_destroy(scratch);
    *len = b.len;
    return rp_buf_str(&b);
}
