#include "rp_text.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_collapse.h"
#include "rp_trigger.h"

/* Guides between a parent and its children (UTF-8 box drawing). */
#define GUIDE_BRANCH "\xe2\x94\x9c\xe2\x94\x80 " /* "├─ " */
#define GUIDE_LAST "\xe2\x94\x94\xe2\x94\x80 "   /* "└─ " */
#define GUIDE_DOWN "\xe2\x94\x82  "              /* "│  " */
#define GUIDE_NONE "   "
#define ELLIPSIS "\xe2\x80\xa6" /* "…" */

/* ---- the view: the call tree as shown, library frames folded ---------- */

/* A node of the view. With folding, a frame of a folded object counts in
 * the node of its nearest caller that is not folded, and callees that then
 * share a function merge; frames with no such caller count in one
 * "[folded frames only]" node under the root. Without folding the view is
 * the tree itself. */
typedef struct vnode vnode_t;
struct vnode {
    const rp_func_t *func; /* NULL: the root, or the folded-only node */
    vnode_t *first_child;  /* heaviest first once sorted */
    vnode_t *last_child;
    vnode_t *next_sibling;
    unsigned child_count;
    unsigned seq;               /* creation order: ties keep the tree's order */
    uint64_t total;             /* weight of samples through it */
    uint64_t wait;              /* part of total while blocked */
    apr_array_header_t *hidden; /* objects folded into it (const char *) */
};

typedef struct {
    const vnode_t *parent;
    const rp_func_t *func;
} vkey_t;

typedef struct {
    const rp_profile_t *p;
    int fold;
    apr_pool_t *pool;
    apr_hash_t *kids;           /* vkey_t -> vnode_t */
    apr_hash_t *decided;        /* rp_func_t pointer -> 1 folded, 2 not */
    apr_array_header_t *folded; /* folded objects met, first met first */
    vnode_t root;
    uint64_t folded_only, folded_only_wait;
    unsigned seq;
} view_t;

#define FOLDED_ONLY "[folded frames only]"

static int folds(view_t *v, const rp_func_t *f)
{
    uintptr_t d = (uintptr_t)apr_hash_get(v->decided, &f, sizeof(f));
    if (d == 0) {
        d = rp_collapse_folds(v->p->collapse, v->p->collapse_count, f->object)
                ? 1
                : 2;
        const rp_func_t **key = apr_pmemdup(v->pool, &f, sizeof(f));
        apr_hash_set(v->decided, key, sizeof(*key), (void *)d);
    }
    return d == 1;
}

/* Adds s to a list of distinct strings (created on first use). */
static int add_name(apr_array_header_t **list, const char *s, apr_pool_t *pool)
{
    if (*list == NULL) {
        *list = apr_array_make(pool, 4, sizeof(const char *));
    }
    for (int i = 0; i < (*list)->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(*list, i, const char *), s) == 0) {
            return 0;
        }
    }
    APR_ARRAY_PUSH(*list, const char *) = s;
    return 1;
}

static vnode_t *child_of(view_t *v, vnode_t *parent, const rp_func_t *f)
{
    vkey_t key = {parent, f};
    vnode_t *c = apr_hash_get(v->kids, &key, sizeof(key));
    if (c == NULL) {
        c = apr_pcalloc(v->pool, sizeof(*c));
        c->func = f;
        c->seq = v->seq++;
        if (parent->last_child != NULL) {
            parent->last_child->next_sibling = c;
        } else {
            parent->first_child = c;
        }
        parent->last_child = c;
        parent->child_count++;
        apr_hash_set(v->kids, apr_pmemdup(v->pool, &key, sizeof(key)),
                     sizeof(key), c);
    }
    return c;
}

/* The callees of tree node n, whose frames count in view node at. */
static void build(view_t *v, vnode_t *at, const rp_node_t *n)
{
    for (const rp_node_t *c = n->first_child; c; c = c->next_sibling) {
        if (v->fold && folds(v, c->func)) {
            const char *object = c->func->object ? c->func->object : "";
            add_name(&at->hidden, object, v->pool);
            add_name(&v->folded, object, v->pool);
            if (at == &v->root) {
                uint64_t callee_wait = 0;
                for (const rp_node_t *g = c->first_child; g;
                     g = g->next_sibling) {
                    callee_wait += g->wait;
                }
                v->folded_only += c->self;
                v->folded_only_wait += c->wait - callee_wait;
            }
            build(v, at, c);
        } else {
            vnode_t *to = child_of(v, at, c->func);
            to->total += c->total;
            to->wait += c->wait;
            build(v, to, c);
        }
    }
}

static const char *vname(const vnode_t *n)
{
    return n->func ? (n->func->name ? n->func->name : "") : FOLDED_ONLY;
}

/* Heaviest first, then by name, as rp_tree_sort orders the tree; then in
 * the order the tree had them. */
static int heavier_first(const void *a, const void *b)
{
    const vnode_t *x = *(const vnode_t *const *)a;
    const vnode_t *y = *(const vnode_t *const *)b;
    if (x->total != y->total) {
        return x->total > y->total ? -1 : 1;
    }
    int c = strcmp(vname(x), vname(y));
    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void sort_view(vnode_t *n, apr_pool_t *pool)
{
    if (n->child_count > 1) {
        vnode_t **kids = apr_palloc(pool, sizeof(*kids) * n->child_count);
        unsigned i = 0;
        for (vnode_t *c = n->first_child; c; c = c->next_sibling) {
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
    for (vnode_t *c = n->first_child; c; c = c->next_sibling) {
        sort_view(c, pool);
    }
}

static void view_build(view_t *v, const rp_profile_t *p, int fold,
                       apr_pool_t *pool)
{
    memset(v, 0, sizeof(*v));
    v->p = p;
    v->fold = fold && p->collapse_count > 0;
    v->pool = pool;
    v->kids = apr_hash_make(pool);
    v->decided = apr_hash_make(pool);
    v->root.total = p->tree->root.total;
    build(v, &v->root, &p->tree->root);
    if (v->folded_only > 0) {
        vnode_t *only = apr_pcalloc(pool, sizeof(*only));
        only->seq = v->seq++;
        only->total = v->folded_only;
        only->wait = v->folded_only_wait;
        only->hidden = v->root.hidden;
        if (v->root.last_child != NULL) {
            v->root.last_child->next_sibling = only;
        } else {
            v->root.first_child = only;
        }
        v->root.last_child = only;
        v->root.child_count++;
    }
    sort_view(&v->root, pool);
}

/* ---- rendering ------------------------------------------------------------
 */

typedef struct {
    rp_buf_t *out;
    rp_buf_t prefix; /* guides of the ancestors of the current line */
    const rp_profile_t *p;
    uint64_t all;
} text_ctx_t;

static void field(rp_buf_t *b, const char *label, const char *value)
{
    rp_buf_printf(b, "%-10s", label);
    rp_buf_plain(b, value, NULL);
    rp_buf_puts(b, "\n");
}

/* "a, b, c" */
static void put_names(rp_buf_t *b, const apr_array_header_t *names)
{
    for (int i = 0; i < names->nelts; i++) {
        rp_buf_puts(b, i ? ", " : "");
        rp_buf_plain(b, APR_ARRAY_IDX(names, i, const char *), NULL);
    }
}

/* folded: the objects whose frames the tree folds, or NULL. */
static void render_header(rp_buf_t *b, const rp_profile_t *p,
                          const apr_array_header_t *folded, apr_pool_t *pool)
{
    const rp_sampler_stats_t *st = &p->stats;
    char date[APR_RFC822_DATE_LEN];
    apr_rfc822_date(date, p->started);

    rp_buf_puts(b, "mod_reqprof: ");
    rp_buf_plain(b, p->method ? p->method : "-", NULL);
    rp_buf_puts(b, " ");
    rp_buf_plain(b, p->uri ? p->uri : "-", NULL);
    if (p->protocol != NULL) {
        rp_buf_puts(b, " ");
        rp_buf_plain(b, p->protocol, NULL);
    }
    rp_buf_puts(b, "\n");
    field(b, "Host:", p->host ? p->host : "-");
    field(b, "Status:",
          apr_psprintf(
              pool, "%d (original body: %" APR_OFF_T_FMT " bytes, discarded)",
              p->status, p->discarded_bytes));
    field(b, "Time:",
          apr_psprintf(pool,
                       "wall %.3f ms, CPU %.3f ms (samples: on CPU %.3f ms, "
                       "waiting %.3f ms)",
                       (double)st->wall_ns / 1e6, (double)st->cpu_ns / 1e6,
                       rp_profile_weight_ms(p, st->weight - st->wait_weight),
                       rp_profile_weight_ms(p, st->wait_weight)));
    field(b, "Samples:",
          apr_psprintf(pool,
                       "%u (%" APR_UINT64_T_FMT
                       " intervals), interval %" APR_TIME_T_FMT " us, clock %s",
                       st->samples, (apr_uint64_t)st->weight, st->interval_us,
                       st->clock == RP_CLOCK_CPU
                           ? "cpu (on-CPU time only)"
                           : "wall (waiting time counts)"));
    field(b, "Sampling:", rp_profile_sampling_summary(p, pool));
    if (st->dropped > 0 || p->truncated_stacks > 0) {
        field(b, "Lost:",
              apr_psprintf(pool,
                           "%u samples dropped (buffer full), %u stacks "
                           "truncated",
                           st->dropped, p->truncated_stacks));
    }
    rp_buf_printf(b, "%-10spid %ld, tid %ld, MPM ", "Process:", p->pid, p->tid);
    rp_buf_plain(b, p->mpm ? p->mpm : "-", NULL);
    rp_buf_puts(b, "\n");
    field(b, "Server:", p->server ? p->server : "-");
    field(b, "Started:", date);
    if (folded != NULL) {
        rp_buf_printf(b, "%-10s", "Folded:");
        put_names(b, folded);
        rp_buf_puts(
            b,
            " into their callers (ReqProfileCollapse; " RP_TRIGGER_FRAMES_PARAM
            "=all shows every frame)\n");
    }
}

static double percent(const text_ctx_t *c, uint64_t weight)
{
    return c->all ? 100.0 * (double)weight / (double)c->all : 0.0;
}

static int is_pruned(const text_ctx_t *c, const vnode_t *node)
{
    return node->total * 1000 < c->all * RP_TEXT_PRUNE_PERMILLE;
}

static void render_row(text_ctx_t *c, const vnode_t *node)
{
    rp_buf_t *b = c->out;
    const rp_func_t *f = node->func;
    rp_buf_printf(b, "%.3f ms %5.1f%%  ",
                  rp_profile_weight_ms(c->p, node->total),
                  percent(c, node->total));
    if (f == NULL) {
        /* As the report shows it: the objects in the object's place. */
        rp_buf_puts(b, FOLDED_ONLY "  ");
        put_names(b, node->hidden);
    } else {
        rp_buf_plain(b, f->name && *f->name ? f->name : "[unknown]", NULL);
        if (f->object != NULL && *f->object) {
            rp_buf_puts(b, "  ");
            rp_buf_plain(b, f->object, NULL);
        }
        if (f->file != NULL) {
            rp_buf_puts(b, "  ");
            rp_buf_plain(b, f->file, NULL);
            rp_buf_printf(b, ":%d", f->line);
        }
    }
    if (node->wait > 0) {
        rp_buf_printf(b, "  [cpu %.3f ms, waiting %.3f ms]",
                      rp_profile_weight_ms(c->p, node->total - node->wait),
                      rp_profile_weight_ms(c->p, node->wait));
    }
    if (f != NULL && node->hidden != NULL) {
        rp_buf_puts(b, "  +");
        put_names(b, node->hidden);
    }
    rp_buf_puts(b, "\n");
}

static void render_children(text_ctx_t *c, const vnode_t *parent, int top);

/* top: a child of the root, printed without a guide. */
static void render_node(text_ctx_t *c, const vnode_t *node, int top, int last)
{
    rp_buf_append(c->out, c->prefix.data, c->prefix.len);
    if (!top) {
        rp_buf_puts(c->out, last ? GUIDE_LAST : GUIDE_BRANCH);
    }
    render_row(c, node);
    apr_size_t mark = c->prefix.len;
    if (!top) {
        rp_buf_puts(&c->prefix, last ? GUIDE_NONE : GUIDE_DOWN);
    }
    render_children(c, node, 0);
    c->prefix.len = mark;
    c->prefix.data[mark] = '\0';
}

static void render_children(text_ctx_t *c, const vnode_t *parent, int top)
{
    const vnode_t *last_shown = NULL;
    unsigned pruned = 0;
    uint64_t pruned_weight = 0;
    for (const vnode_t *n = parent->first_child; n; n = n->next_sibling) {
        if (is_pruned(c, n)) {
            pruned++;
            pruned_weight += n->total;
        } else {
            last_shown = n;
        }
    }
    for (const vnode_t *n = parent->first_child; n; n = n->next_sibling) {
        if (!is_pruned(c, n)) {
            render_node(c, n, top, n == last_shown && pruned == 0);
        }
    }
    if (pruned > 0) {
        rp_buf_append(c->out, c->prefix.data, c->prefix.len);
        if (!top) {
            rp_buf_puts(c->out, GUIDE_LAST);
        }
        rp_buf_printf(c->out, ELLIPSIS " %u smaller frame%s (%.3f ms)\n",
                      pruned, pruned == 1 ? "" : "s",
                      rp_profile_weight_ms(c->p, pruned_weight));
    }
}

static const char *render(const rp_profile_t *p, int fold, apr_pool_t *pool,
                          apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 4096 + (apr_size_t)p->tree->node_count * 120);
    if (p->tree->root.total == 0) {
        render_header(&b, p, NULL, pool);
        rp_buf_puts(&b, "\n");
        rp_buf_puts(&b, "No samples were taken: the request finished within "
                        "one interval.\n");
    } else {
        apr_pool_t *scratch;
        apr_pool_create(&scratch, pool);
        view_t v;
        view_build(&v, p, fold, scratch);
        render_header(&b, p, v.folded, pool);
        rp_buf_puts(&b, "\n");
        text_ctx_t c = {.out = &b, .p = p, .all = p->tree->root.total};
        rp_buf_init(&c.prefix, scratch, 256);
        rp_buf_puts(&b, "Call tree (inclusive time, share of the total; "
                        "frames under 0.5% folded):\n");
        render_children(&c, &v.root, 1);
        if (p->tree->root.self > 0) {
            rp_buf_printf(&b, "%.3f ms %5.1f%%  [no stack]\n",
                          rp_profile_weight_ms(p, p->tree->root.self),
                          percent(&c, p->tree->root.self));
        }
        apr_pool_destroy(scratch);
    }
    *len = b.len;
    return rp_buf_str(&b);
}

const char *rp_text_render(const rp_profile_t *p, apr_pool_t *pool,
                           apr_size_t *len)
{
    return render(p, 1, pool, len);
}

const char *rp_text_render_all_frames(const rp_profile_t *p, apr_pool_t *pool,
                                      apr_size_t *len)
{
    return render(p, 0, pool, len);
}
