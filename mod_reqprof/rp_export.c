#include "rp_export.h"

#include <apr_strings.h>
#include <stdint.h>
#include <string.h>

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
    m->samples = p->samples;
    m->sample_count = p->samples ? p->sample_count : 0;
    for (unsigned i = 0; i < m->sample_count; i++) {
        const rp_profile_sample_t *s = &m->samples[i];
        m->phase_weight[s->phase < RP_PHASE_COUNT ? s->phase : 0] += s->weight;
    }
    /* A cache on a profile the renderers otherwise only read. */
    ((rp_profile_t *)(uintptr_t)p)->model = m;
    return m;
}

static const rp_func_t merged_frame = {
    .name = RP_MERGED_FRAME, .object = RP_MERGED_OBJECT, .resolved = 1};

typedef struct reduce_ctx {
    apr_pool_t *pool;
    uint64_t min;
    apr_hash_t *copies; /* kept node -> its copy */
    rp_tree_t *tree;
    rp_reduction_t *out;
} reduce_ctx_t;

static rp_node_t *new_node(reduce_ctx_t *c, rp_node_t *parent,
                           const rp_func_t *func)
{
    rp_node_t *n = apr_pcalloc(c->pool, sizeof(*n));
    n->func = func;
    n->parent = parent;
    n->depth = parent->depth + 1;
    c->tree->node_count++;
    if (n->depth > c->tree->max_depth) {
        c->tree->max_depth = n->depth;
    }
    return n;
}

/* Copies the kept children of from under to, in their order, with the
 * merged node where its total places it among them. */
static void copy_children(reduce_ctx_t *c, const rp_node_t *from, rp_node_t *to)
{
    rp_node_t *merged = NULL;
    for (const rp_node_t *k = from->first_child; k; k = k->next_sibling) {
        if (k->total >= c->min) {
            continue;
        }
        if (merged == NULL) {
            merged = new_node(c, to, &merged_frame);
            c->out->groups++;
        }
        merged->total += k->total;
        merged->self += k->total;
        merged->wait += k->wait;
    }
    rp_node_t **link = &to->first_child;
    for (const rp_node_t *k = from->first_child; k; k = k->next_sibling) {
        if (k->total < c->min) {
            continue;
        }
        if (merged != NULL && merged->total > k->total) {
            *link = merged;
            link = &merged->next_sibling;
            merged = NULL;
        }
        rp_node_t *n = new_node(c, to, k->func);
        n->total = k->total;
        n->self = k->self;
        n->wait = k->wait;
        c->out->kept++;
        apr_hash_set(c->copies, apr_pmemdup(c->pool, &k, sizeof(k)), sizeof(k),
                     n);
        *link = n;
        link = &n->next_sibling;
        copy_children(c, k, n);
    }
    if (merged != NULL) {
        *link = merged;
    }
}

/* The copy a sample ending in leaf ends in. */
static const rp_node_t *copy_of(reduce_ctx_t *c, const rp_tree_t *from,
                                const rp_node_t *leaf)
{
    if (leaf == NULL) {
        return NULL;
    }
    const rp_node_t *kept = leaf;
    while (kept->func != NULL && kept->total < c->min) {
        kept = kept->parent;
    }
    rp_node_t *copy = kept == &from->root
                          ? &c->tree->root
                          : apr_hash_get(c->copies, &kept, sizeof(kept));
    if (copy == NULL || kept == leaf) {
        return copy;
    }
    for (rp_node_t *k = copy->first_child; k; k = k->next_sibling) {
        if (k->func == &merged_frame) {
            return k;
        }
    }
    return copy;
}

const rp_profile_t *rp_profile_reduce(const rp_profile_t *p, unsigned max_nodes,
                                      apr_pool_t *pool, rp_reduction_t *out)
{
    memset(out, 0, sizeof(*out));
    if (p->tree->node_count <= max_nodes) {
        return NULL;
    }
    reduce_ctx_t c = {.pool = pool,
                      .min = rp_tree_min_weight(p->tree, max_nodes),
                      .copies = apr_hash_make(pool),
                      .tree = rp_tree_create(pool),
                      .out = out};
    out->min_weight = c.min;
    c.tree->root.total = p->tree->root.total;
    c.tree->root.self = p->tree->root.self;
    c.tree->root.wait = p->tree->root.wait;
    copy_children(&c, &p->tree->root, &c.tree->root);
    out->merged = p->tree->node_count - out->kept;
    rp_profile_t *r = apr_pmemdup(pool, p, sizeof(*p));
    r->tree = c.tree;
    r->model = NULL;
    if (p->samples != NULL && p->sample_count > 0) {
        rp_profile_sample_t *samples =
            apr_pmemdup(pool, p->samples, sizeof(*samples) * p->sample_count);
        for (unsigned i = 0; i < p->sample_count; i++) {
            samples[i].leaf = copy_of(&c, p->tree, samples[i].leaf);
        }
        r->samples = samples;
    }
    return r;
}
