#include "rp_fold.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

#include "rp_collapse.h"

/* ---- which frames fold -------------------------------------------------- */

/* One answer per function, kept on the profile: the text report, the record
 * and the sidecar of one profile ask about the same functions. */
struct rp_fold_decisions {
    const char *const *collapse; /* the patterns the answers are for */
    int collapse_count;
    apr_hash_t *decided; /* rp_func_t pointer -> 1 folds, 2 does not */
};

static struct rp_fold_decisions *decisions_of(const rp_profile_t *p)
{
    struct rp_fold_decisions *d = p->fold_decisions;
    if (d != NULL && d->collapse == p->collapse &&
        d->collapse_count == p->collapse_count) {
        return d;
    }
    d = apr_pcalloc(p->tree->pool, sizeof(*d));
    d->collapse = p->collapse;
    d->collapse_count = p->collapse_count;
    d->decided = apr_hash_make(p->tree->pool);
    /* A cache on a profile the views otherwise only read. */
    ((rp_profile_t *)(uintptr_t)p)->fold_decisions = d;
    return d;
}

int rp_fold_folds(const rp_profile_t *p, const rp_func_t *f)
{
    if (p->collapse_count == 0) {
        return 0;
    }
    struct rp_fold_decisions *d = decisions_of(p);
    uintptr_t answer = (uintptr_t)apr_hash_get(d->decided, &f, sizeof(f));
    if (answer == 0) {
        answer = rp_collapse_folds(p->collapse, p->collapse_count, f->object)
                     ? 1
                     : 2;
        const rp_func_t **key = apr_pmemdup(p->tree->pool, &f, sizeof(f));
        apr_hash_set(d->decided, key, sizeof(*key), (void *)answer);
    }
    return answer == 1;
}

/* ---- the folded tree ---------------------------------------------------- */

typedef struct {
    const rp_fold_node_t *parent;
    const rp_func_t *func;
} fkey_t;

typedef struct {
    const rp_profile_t *p;
    rp_fold_tree_t *t;
    int fold;
    apr_pool_t *pool;
    apr_hash_t *kids; /* fkey_t -> rp_fold_node_t */
    uint64_t folded_only, folded_only_wait;
    unsigned seq;
} build_t;

/* Adds s to a list of distinct strings (created on first use). */
static void add_name(apr_array_header_t **list, const char *s, apr_pool_t *pool)
{
    if (*list == NULL) {
        *list = apr_array_make(pool, 4, sizeof(const char *));
    }
    for (int i = 0; i < (*list)->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(*list, i, const char *), s) == 0) {
            return;
        }
    }
    APR_ARRAY_PUSH(*list, const char *) = s;
}

static void append_child(rp_fold_node_t *parent, rp_fold_node_t *c)
{
    if (parent->last_child != NULL) {
        parent->last_child->next_sibling = c;
    } else {
        parent->first_child = c;
    }
    parent->last_child = c;
    parent->child_count++;
}

static rp_fold_node_t *child_of(build_t *b, rp_fold_node_t *parent,
                                const rp_func_t *f)
{
    fkey_t key = {parent, f};
    rp_fold_node_t *c = apr_hash_get(b->kids, &key, sizeof(key));
    if (c == NULL) {
        c = apr_pcalloc(b->pool, sizeof(*c));
        c->func = f;
        c->seq = b->seq++;
        append_child(parent, c);
        apr_hash_set(b->kids, apr_pmemdup(b->pool, &key, sizeof(key)),
                     sizeof(key), c);
    }
    return c;
}

/* The callees of tree node n, whose frames count in folded node at. */
static void build(build_t *b, rp_fold_node_t *at, const rp_node_t *n)
{
    for (const rp_node_t *c = n->first_child; c; c = c->next_sibling) {
        if (b->fold && rp_fold_folds(b->p, c->func)) {
            const char *object = c->func->object ? c->func->object : "";
            add_name(&at->hidden, object, b->pool);
            add_name(&b->t->folded, object, b->pool);
            if (at == &b->t->root) {
                uint64_t callee_wait = 0;
                for (const rp_node_t *g = c->first_child; g;
                     g = g->next_sibling) {
                    callee_wait += g->wait;
                }
                b->folded_only += c->self;
                b->folded_only_wait += c->wait - callee_wait;
            }
            build(b, at, c);
        } else {
            rp_fold_node_t *to = child_of(b, at, c->func);
            to->total += c->total;
            to->wait += c->wait;
            build(b, to, c);
        }
    }
}

static const char *fname(const rp_fold_node_t *n)
{
    return n->func ? (n->func->name ? n->func->name : "")
                   : RP_FOLDED_ONLY_FRAME;
}

/* Heaviest first, then by name, as rp_tree_sort orders the tree; then in
 * the order the tree had them. */
static int heavier_first(const void *a, const void *b)
{
    const rp_fold_node_t *x = *(const rp_fold_node_t *const *)a;
    const rp_fold_node_t *y = *(const rp_fold_node_t *const *)b;
    if (x->total != y->total) {
        return x->total > y->total ? -1 : 1;
    }
    int c = strcmp(fname(x), fname(y));
    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sort_children(rp_fold_node_t *n, apr_pool_t *pool)
{
    if (n->child_count > 1) {
        rp_fold_node_t **kids =
            apr_palloc(pool, sizeof(*kids) * n->child_count);
        unsigned i = 0;
        for (rp_fold_node_t *c = n->first_child; c; c = c->next_sibling) {
            kids[i++] = c;
        }
        qsort(kids, n->child_count, sizeof(*kids), heavier_first);
        for (i = 0; i + 1 < n->child_count; i++) {
            kids[i]->next_sibling = kids[i + 1];
        }
        kids[n->child_count - 1]->next_sibling = NULL;
        n->first_child = kids[0];
        n->last_child = kids[n->child_count - 1];
    }
    for (rp_fold_node_t *c = n->first_child; c; c = c->next_sibling) {
        sort_children(c, pool);
    }
}

void rp_fold_tree_build(rp_fold_tree_t *t, const rp_profile_t *p, int fold,
                        apr_pool_t *pool)
{
    memset(t, 0, sizeof(*t));
    build_t b = {.p = p,
                 .t = t,
                 .fold = fold && p->collapse_count > 0,
                 .pool = pool,
                 .kids = apr_hash_make(pool)};
    t->root.total = p->tree->root.total;
    build(&b, &t->root, &p->tree->root);
    if (b.folded_only > 0) {
        rp_fold_node_t *only = apr_pcalloc(pool, sizeof(*only));
        only->seq = b.seq++;
        only->total = b.folded_only;
        only->wait = b.folded_only_wait;
        only->hidden = t->root.hidden;
        append_child(&t->root, only);
    }
    sort_children(&t->root, pool);
}

/* ---- per function ------------------------------------------------------- */

typedef struct stat_slot {
    rp_func_stat_t stat;
    unsigned on_stack; /* open frames of this function during the walk */
} stat_slot_t;

typedef struct funcs_ctx {
    const rp_profile_t *p;
    apr_pool_t *pool;
    apr_hash_t *slots; /* rp_func_t pointer -> stat_slot_t */
} funcs_ctx_t;

static stat_slot_t *slot_of(funcs_ctx_t *c, const rp_func_t *f)
{
    stat_slot_t *s = apr_hash_get(c->slots, &f, sizeof(f));
    if (s == NULL) {
        s = apr_pcalloc(c->pool, sizeof(*s));
        s->stat.name = f->name && *f->name ? f->name : "[unknown]";
        s->stat.object = f->object ? f->object : "";
        const rp_func_t **key = apr_palloc(c->pool, sizeof(*key));
        *key = f;
        apr_hash_set(c->slots, key, sizeof(*key), s);
    }
    return s;
}

/* owner: the slot of the nearest caller that is not folded, or NULL. */
static void walk_funcs(funcs_ctx_t *c, const rp_node_t *node,
                       stat_slot_t *owner)
{
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        int folded = owner != NULL && rp_fold_folds(c->p, n->func);
        stat_slot_t *s = folded ? owner : slot_of(c, n->func);
        s->stat.self += n->self;
        if (!folded) {
            if (s->on_stack == 0) {
                s->stat.total += n->total;
            }
            s->on_stack++;
        }
        walk_funcs(c, n, s);
        if (!folded) {
            s->on_stack--;
        }
    }
}

int rp_fold_heavier_total(const void *a, const void *b)
{
    const rp_func_stat_t *x = a, *y = b;
    if (x->total != y->total) {
        return x->total > y->total ? -1 : 1;
    }
    if (x->self != y->self) {
        return x->self > y->self ? -1 : 1;
    }
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->object, y->object);
}

unsigned rp_fold_funcs(const rp_profile_t *p, apr_pool_t *pool,
                       rp_func_stat_t **out)
{
    funcs_ctx_t c = {.p = p, .pool = pool, .slots = apr_hash_make(pool)};
    if (p->tree != NULL) {
        walk_funcs(&c, &p->tree->root, NULL);
    }
    unsigned n = apr_hash_count(c.slots), i = 0;
    rp_func_stat_t *stats = apr_pcalloc(pool, sizeof(*stats) * (n + 1));
    for (apr_hash_index_t *hi = apr_hash_first(pool, c.slots); hi;
         hi = apr_hash_next(hi)) {
        const stat_slot_t *s = apr_hash_this_val(hi);
        stats[i++] = s->stat;
    }
    qsort(stats, n, sizeof(*stats), rp_fold_heavier_total);
    *out = stats;
    return n;
}
