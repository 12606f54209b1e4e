#include "rp_html_data.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdint.h>

#include "rp_collapse.h"
#include "rp_export.h"

/* Three numbers per sample pack the phase into the code as phase * 2. */
_Static_assert(RP_PHASE_COUNT <= 16, "phase numbers must fit in 4 bits");

typedef struct {
    rp_buf_t *b;
    const rp_frames_t *frames;
    const rp_node_ids_t *node_ids;
} data_ctx_t;

/* Each node after the root as its parent's number and its frame: nodes are
 * listed in the order rp_node_ids numbers them. */
static void render_nodes(data_ctx_t *c, const rp_node_t *node)
{
    unsigned id = rp_node_id(c->node_ids, node);
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        rp_buf_printf(c->b, ",%u,%d", id, rp_frames_index(c->frames, n->func));
        render_nodes(c, n);
    }
}

/* Number of s in the list of distinct strings, adding it (as a JSON
 * string) when new. */
static unsigned intern(apr_hash_t *seen, rp_buf_t *list, unsigned *count,
                       const char *s)
{
    uintptr_t i = (uintptr_t)apr_hash_get(seen, s, APR_HASH_KEY_STRING);
    if (i == 0) {
        i = ++*count;
        apr_hash_set(seen, s, APR_HASH_KEY_STRING, (void *)i);
        rp_buf_puts(list, i > 1 ? "," : "");
        rp_buf_json_string(list, s);
    }
    return (unsigned)(i - 1);
}

static void render_frames(rp_buf_t *b, const rp_frames_t *fr, apr_pool_t *pool)
{
    apr_hash_t *objects = apr_hash_make(pool);
    apr_hash_t *files = apr_hash_make(pool);
    unsigned object_count = 0, file_count = 0;
    rp_buf_t object_list, file_list, symbols_list;
    rp_buf_init(&object_list, pool, 1024);
    rp_buf_init(&file_list, pool, 1024);
    rp_buf_init(&symbols_list, pool, 256);
    rp_buf_puts(b, ",\n\"frames\":[");
    for (unsigned i = 0; i < fr->count; i++) {
        const rp_func_t *f = fr->funcs[i];
        rp_buf_puts(b, i ? ",\n[" : "\n[");
        rp_buf_json_string(b, f->name ? f->name : "");
        unsigned known = object_count;
        unsigned object = intern(objects, &object_list, &object_count,
                                 f->object ? f->object : "");
        if (object_count > known) {
            /* A new object: where its names came from, in the same order. */
            rp_buf_puts(&symbols_list, known ? "," : "");
            rp_buf_json_string(&symbols_list,
                               rp_symbol_source_name(f->symbols));
        }
        rp_buf_printf(b, ",%u,", object);
        if (f->file != NULL) {
            rp_buf_printf(b, "%u,%d]",
                          intern(files, &file_list, &file_count, f->file),
                          f->line);
        } else {
            rp_buf_puts(b, "-1,0]");
        }
    }
    rp_buf_puts(b, "],\n\"objects\":[");
    rp_buf_append(b, object_list.data, object_list.len);
    rp_buf_puts(b, "],\n\"files\":[");
    rp_buf_append(b, file_list.data, file_list.len);
    rp_buf_puts(b, "],\n\"symbols\":[");
    rp_buf_append(b, symbols_list.data, symbols_list.len);
    rp_buf_puts(b, "]");
}

static void render_samples(data_ctx_t *c, const rp_model_t *m)
{
    const rp_profile_sample_t *samples = m->samples;
    unsigned count = m->sample_count;
    uint64_t prev_ns = 0;
    rp_buf_puts(c->b, ",\n\"samples\":[");
    for (unsigned i = 0; i < count; i++) {
        const rp_profile_sample_t *s = &samples[i];
        uint64_t t_ns = s->t_ns > prev_ns ? s->t_ns : prev_ns;
        uint64_t dt_us = t_ns / 1000 - prev_ns / 1000;
        unsigned phase = s->phase < RP_PHASE_COUNT ? s->phase : 0;
        prev_ns = t_ns;
        rp_buf_printf(c->b, "%s%" APR_UINT64_T_FMT ",%u,%" APR_UINT64_T_FMT,
                      i ? (i % 16 ? "," : ",\n") : "", (apr_uint64_t)dt_us,
                      rp_node_id(c->node_ids, s->leaf),
                      (apr_uint64_t)s->weight * 32 + phase * 2 +
                          (s->waiting ? 1 : 0));
    }
    rp_buf_puts(c->b, "]");
}

static void render_header(rp_buf_t *b, const rp_profile_t *p)
{
    const rp_sampler_stats_t *st = &p->stats;
    apr_time_t t0 = 0;
    if (p->request_started > 0 && p->started >= p->request_started) {
        t0 = p->started - p->request_started;
    }
    rp_buf_printf(b,
                  "{\"v\":%d,\"clock\":\"%s\",\"interval_us\":%" APR_TIME_T_FMT
                  ",\"t0_us\":%" APR_TIME_T_FMT ",\"weight\":%" APR_UINT64_T_FMT
                  ",\n\"phases\":[",
                  RP_HTML_DATA_VERSION,
                  st->clock == RP_CLOCK_CPU ? "cpu" : "wall", st->interval_us,
                  t0, (apr_uint64_t)p->tree->root.total);
    for (unsigned i = 0; i < RP_PHASE_COUNT; i++) {
        rp_buf_printf(b, "%s\"%s\"", i ? "," : "", rp_phase_name(i));
    }
    rp_buf_puts(b, "],\n\"spans\":[");
    for (unsigned i = 0; i < RP_PHASE_COUNT; i++) {
        const rp_phase_span_t *span = &p->phases[i];
        rp_buf_puts(b, i ? "," : "");
        if (span->first_us < 0) {
            rp_buf_puts(b, "null");
        } else {
            rp_buf_printf(b, "[%" APR_TIME_T_FMT ",%" APR_TIME_T_FMT "]",
                          span->first_us, span->total_us);
        }
    }
    rp_buf_puts(b, "]");
}

static void render_views(rp_buf_t *b, const rp_profile_t *p)
{
    rp_buf_puts(b, ",\n\"collapse\":[");
    for (int i = 0; i < p->collapse_count; i++) {
        rp_buf_puts(b, i ? "," : "");
        rp_buf_json_string(b, p->collapse[i] ? p->collapse[i] : "");
    }
    rp_buf_puts(b, "],\n\"modules\":[");
    for (int i = 0; i < p->module_count; i++) {
        rp_buf_puts(b, i ? ",[" : "[");
        rp_buf_json_string(b, p->modules[i].object ? p->modules[i].object : "");
        rp_buf_puts(b, ",");
        rp_buf_json_string(b, p->modules[i].module ? p->modules[i].module : "");
        rp_buf_puts(b, "]");
    }
    rp_buf_puts(b, "]");
}

/* The objects whose frames fold by the profile's rule, by their number in
 * "objects" (numbered as render_frames numbers them: in the order of their
 * first frame). The module decides (rp_collapse); the script folds exactly
 * these and never matches a pattern itself. */
static void render_folded(rp_buf_t *b, const rp_profile_t *p,
                          const rp_frames_t *fr, apr_pool_t *pool)
{
    apr_hash_t *seen = apr_hash_make(pool);
    unsigned number = 0;
    int first = 1;
    rp_buf_puts(b, ",\n\"folded\":[");
    for (unsigned i = 0; i < fr->count; i++) {
        const char *object = fr->funcs[i]->object ? fr->funcs[i]->object : "";
        if (apr_hash_get(seen, object, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        apr_hash_set(seen, object, APR_HASH_KEY_STRING, object);
        if (rp_collapse_folds(p->collapse, p->collapse_count, object)) {
            rp_buf_printf(b, first ? "%u" : ",%u", number);
            first = 0;
        }
        number++;
    }
    rp_buf_puts(b, "]");
}

/* Copies n bytes of JSON with '<', '>' and '&' as \u escapes. They occur
 * only inside strings (the structure has none), where the escape stands for
 * the same character. */
static void append_escaped(rp_buf_t *out, const char *s, apr_size_t n)
{
    const char *run = s;
    const char *end = s + n;
    for (const char *p = s; p < end; p++) {
        const char *esc;
        switch (*p) {
        case '<':
            esc = "\\u003c";
            break;
        case '>':
            esc = "\\u003e";
            break;
        case '&':
            esc = "\\u0026";
            break;
        default:
            continue;
        }
        rp_buf_append(out, run, (apr_size_t)(p - run));
        rp_buf_append(out, esc, 6);
        run = p + 1;
    }
    rp_buf_append(out, run, (apr_size_t)(end - run));
}

void rp_html_data(rp_buf_t *out, const rp_profile_t *p, const rp_model_t *m,
                  apr_pool_t *pool)
{
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    const rp_frames_t *fr = &m->frames;
    rp_buf_t b;
    rp_buf_init(&b, scratch,
                4096 + (apr_size_t)fr->count * 64 +
                    (apr_size_t)p->tree->node_count * 12 +
                    (apr_size_t)p->sample_count * 16);
    render_header(&b, p);
    render_frames(&b, fr, scratch);
    data_ctx_t c = {.b = &b, .frames = fr, .node_ids = &m->node_ids};
    rp_buf_puts(&b, ",\n\"nodes\":[-1,-1");
    render_nodes(&c, &p->tree->root);
    rp_buf_puts(&b, "]");
    render_samples(&c, m);
    render_views(&b, p);
    render_folded(&b, p, fr, scratch);
    rp_buf_puts(&b, "}");
    append_escaped(out, b.data, b.len);
    apr_pool_destroy(scratch);
}
