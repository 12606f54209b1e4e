#include "rp_speedscope.h"

#include <apr_hash.h>
#include <apr_strings.h>

#include "rp_buf.h"
#include "rp_export.h"

#define SPEEDSCOPE_SCHEMA "https://www.speedscope.app/file-format-schema.json"

/* Milliseconds are written with up to 6 decimals: 1 ns resolution is more
 * than a sampling interval (50 us at least) needs, and no float noise. */
#define MS_DECIMALS 6

static void render_frames(rp_buf_t *b, const rp_frames_t *fr)
{
    rp_buf_puts(b, "\"shared\":{\"frames\":[");
    for (unsigned i = 0; i < fr->count; i++) {
        const rp_func_t *f = fr->funcs[i];
        rp_buf_puts(b, i ? ",\n{\"name\":" : "\n{\"name\":");
        rp_buf_json_string(b, f->name && *f->name ? f->name : "[unknown]");
        /* speedscope shows "file:line" beside a frame and tells frames
         * apart by name and file: the source file where DWARF named it,
         * else the object, so static functions of different objects stay
         * apart. */
        const char *file = f->file ? f->file : f->object;
        if (file != NULL && *file) {
            rp_buf_puts(b, ",\"file\":");
            rp_buf_json_string(b, file);
        }
        if (f->file != NULL && f->line > 0) {
            rp_buf_printf(b, ",\"line\":%d", f->line);
        }
        rp_buf_puts(b, "}");
    }
    rp_buf_puts(b, "]}");
}

/* "[outermost,...,leaf]" for the stack ending in node, cached per node:
 * most samples share a few leaves. */
static const char *stack_of(const rp_node_t *node, const rp_frames_t *fr,
                            apr_hash_t *cache, apr_pool_t *scratch)
{
    if (node == NULL) {
        return "[]";
    }
    const char *known = apr_hash_get(cache, &node, sizeof(node));
    if (known != NULL) {
        return known;
    }
    rp_buf_t b;
    rp_buf_init(&b, scratch, 8 * (apr_size_t)(node->depth + 1));
    const rp_node_t *chain[RP_MAX_DEPTH + 8];
    unsigned n = 0;
    for (const rp_node_t *at = node; at && at->func; at = at->parent) {
        if (n == sizeof(chain) / sizeof(chain[0])) {
            break; /* deeper than any sampler stack: keep the inner part */
        }
        chain[n++] = at;
    }
    rp_buf_puts(&b, "[");
    int first = 1;
    for (unsigned i = n; i-- > 0;) {
        int index = rp_frames_index(fr, chain[i]->func);
        if (index >= 0) {
            rp_buf_printf(&b, first ? "%d" : ",%d", index);
            first = 0;
        }
    }
    rp_buf_puts(&b, "]");
    const rp_node_t **key = apr_pmemdup(scratch, &node, sizeof(node));
    apr_hash_set(cache, key, sizeof(node), b.data);
    return b.data;
}

const char *rp_speedscope_render(const rp_profile_t *p, apr_pool_t *pool,
                                 apr_size_t *len)
{
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    const rp_model_t *m = rp_profile_model(p);
    const rp_frames_t *fr = &m->frames;
    const rp_profile_sample_t *samples = m->samples;
    unsigned count = m->sample_count;

    rp_buf_t b;
    rp_buf_init(&b, pool,
                4096 + (apr_size_t)fr->count * 96 + (apr_size_t)count * 48);
    const char *name = apr_pstrcat(scratch, p->method ? p->method : "-", " ",
                                   p->uri ? p->uri : "-", NULL);
    rp_buf_puts(&b, "{\"$schema\":\"" SPEEDSCOPE_SCHEMA "\",\n"
                    "\"exporter\":\"mod_reqprof\",\"name\":");
    rp_buf_json_string(&b, name);
    rp_buf_puts(&b, ",\"activeProfileIndex\":0,\n");
    render_frames(&b, fr);

    uint64_t total = 0;
    for (unsigned i = 0; i < count; i++) {
        total += samples[i].weight;
    }
    rp_buf_puts(&b, ",\n\"profiles\":[{\"type\":\"sampled\",\"name\":");
    rp_buf_json_string(&b, name);
    rp_buf_puts(&b, ",\"unit\":\"milliseconds\",\"startValue\":0,"
                    "\"endValue\":");
    rp_buf_decimal(&b, rp_profile_weight_ms(p, total), MS_DECIMALS);
    rp_buf_puts(&b, ",\n\"samples\":[");
    apr_hash_t *cache = apr_hash_make(scratch);
    for (unsigned i = 0; i < count; i++) {
        if (i > 0) {
            rp_buf_puts(&b, (i % 16) ? "," : ",\n");
        }
        rp_buf_puts(&b, stack_of(samples[i].leaf, fr, cache, scratch));
    }
    rp_buf_puts(&b, "],\n\"weights\":[");
    for (unsigned i = 0; i < count; i++) {
        if (i > 0) {
            rp_buf_puts(&b, (i % 32) ? "," : ",\n");
        }
        rp_buf_decimal(&b, rp_profile_weight_ms(p, samples[i].weight),
                       MS_DECIMALS);
    }
    rp_buf_puts(&b, "]}]}\n");
    apr_pool_destroy(scratch);
    *len = b.len;
    return rp_buf_str(&b);
}
