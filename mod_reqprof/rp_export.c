#include "rp_export.h"

#include <apr_strings.h>
#include <stdint.h>

static void collect(rp_frames_t *fr, const rp_node_t *node, apr_pool_t *pool)
{
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        if (rp_frames_index(fr, n->func) < 0) {
            fr->count++;
            apr_hash_set(fr->index, &n->func, sizeof(n->func),
                         (void *)(uintptr_t)fr->count);
        }
        collect(fr, n, pool);
    }
}

void rp_frames_collect(rp_frames_t *fr, const rp_tree_t *tree, apr_pool_t *pool)
{
    fr->index = apr_hash_make(pool);
    fr->count = 0;
    collect(fr, &tree->root, pool);
    fr->funcs = apr_pcalloc(pool, sizeof(*fr->funcs) * (fr->count + 1));
    for (apr_hash_index_t *hi = apr_hash_first(pool, fr->index); hi;
         hi = apr_hash_next(hi)) {
        const void *key;
        void *val;
        apr_hash_this(hi, &key, NULL, &val);
        fr->funcs[(uintptr_t)val - 1] = *(const rp_func_t *const *)key;
    }
}

static void number_nodes(apr_hash_t *index, const rp_node_t *node,
                         uintptr_t *next, apr_pool_t *pool)
{
    /* apr_hash keeps the key's address: the pointer is stored in the pool. */
    const rp_node_t **key = apr_pmemdup(pool, &node, sizeof(node));
    apr_hash_set(index, key, sizeof(node), (void *)++*next);
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        number_nodes(index, n, next, pool);
    }
}

void rp_node_ids_assign(rp_node_ids_t *ids, const rp_tree_t *tree,
                        apr_pool_t *pool)
{
    uintptr_t next = 0;
    ids->index = apr_hash_make(pool);
    number_nodes(ids->index, &tree->root, &next, pool);
}

unsigned rp_node_id(const rp_node_ids_t *ids, const rp_node_t *node)
{
    uintptr_t id = (uintptr_t)apr_hash_get(ids->index, &node, sizeof(node));
    return id ? (unsigned)(id - 1) : 0u;
}

int rp_frames_index(const rp_frames_t *fr, const rp_func_t *f)
{
    void *val = apr_hash_get(fr->index, &f, sizeof(f));
    return val == NULL ? -1 : (int)((uintptr_t)val - 1);
}

static unsigned count_stacks(const rp_node_t *node)
{
    unsigned n = node->self > 0 ? 2 : 0;
    for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
        n += count_stacks(c);
    }
    return n;
}

static uint32_t clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void synthesize(const rp_profile_t *p, const rp_node_t *node,
                       rp_profile_sample_t *out, unsigned *n, uint64_t *t_ns)
{
    if (node->self > 0) {
        uint64_t child_wait = 0;
        for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
            child_wait += c->wait;
        }
        uint64_t self_wait =
            node->wait > child_wait ? node->wait - child_wait : 0;
        if (self_wait > node->self) {
            self_wait = node->self;
        }
        uint64_t parts[2] = {node->self - self_wait, self_wait};
        for (int waiting = 0; waiting < 2; waiting++) {
            if (parts[waiting] == 0) {
                continue;
            }
            rp_profile_sample_t *s = &out[(*n)++];
            s->t_ns = *t_ns;
            s->weight = clamp32(parts[waiting]);
            s->waiting = (uint16_t)waiting;
            s->phase = 0;
            s->syscall = -1;
            s->leaf = node;
            *t_ns += parts[waiting] * (uint64_t)p->stats.interval_us * 1000;
        }
    }
    for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
        synthesize(p, c, out, n, t_ns);
    }
}

unsigned rp_export_samples(const rp_profile_t *p, apr_pool_t *pool,
                           const rp_profile_sample_t **samples)
{
    if (p->sample_count > 0 || p->tree->root.total == 0) {
        *samples = p->samples;
        return p->samples ? p->sample_count : 0;
    }
    rp_profile_sample_t *out =
        apr_pcalloc(pool, sizeof(*out) * (count_stacks(&p->tree->root) + 1));
    unsigned n = 0;
    uint64_t t_ns = 0;
    synthesize(p, &p->tree->root, out, &n, &t_ns);
    *samples = out;
    return n;
}

static int model_current(const rp_model_t *m, const rp_profile_t *p)
{
    return m != NULL && m->tree == p->tree &&
           m->node_count == p->tree->node_count &&
           m->total == p->tree->root.total &&
           m->profile_samples == p->samples &&
           m->profile_sample_count == p->sample_count;
}

const rp_model_t *rp_profile_model(const rp_profile_t *p)
{
    if (model_current(p->model, p)) {
        return p->model;
    }
    apr_pool_t *pool = p->tree->pool;
    rp_model_t *m = apr_pcalloc(pool, sizeof(*m));
    m->tree = p->tree;
    m->node_count = p->tree->node_count;
    m->total = p->tree->root.total;
    m->profile_samples = p->samples;
    m->profile_sample_count = p->sample_count;
    rp_frames_collect(&m->frames, p->tree, pool);
    rp_node_ids_assign(&m->node_ids, p->tree, pool);
    m->sample_count = rp_export_samples(p, pool, &m->samples);
    for (unsigned i = 0; i < m->sample_count; i++) {
        const rp_profile_sample_t *s = &m->samples[i];
        m->phase_weight[s->phase < RP_PHASE_COUNT ? s->phase : 0] += s->weight;
    }
    if (p->samples != NULL) {
        for (unsigned i = 0; i < p->sample_count; i++) {
            const rp_profile_sample_t *s = &p->samples[i];
            m->recorded_phase_weight[s->phase < RP_PHASE_COUNT ? s->phase
                                                               : 0] +=
                s->weight;
        }
    }
    /* A cache on a profile the renderers otherwise only read. */
    ((rp_profile_t *)(uintptr_t)p)->model = m;
    return m;
}
