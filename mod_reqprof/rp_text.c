#include "rp_text.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_fold.h"
#include "rp_trigger.h"

/* Guides between a parent and its children (UTF-8 box drawing). */
#define GUIDE_BRANCH "\xe2\x94\x9c\xe2\x94\x80 " /* "├─ " */
#define GUIDE_LAST "\xe2\x94\x94\xe2\x94\x80 "   /* "└─ " */
#define GUIDE_DOWN "\xe2\x94\x82  "              /* "│  " */
#define GUIDE_NONE "   "
#define ELLIPSIS "\xe2\x80\xa6" /* "…" */

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

static int is_pruned(const text_ctx_t *c, const rp_fold_node_t *node)
{
    return node->total * 1000 < c->all * RP_TEXT_PRUNE_PERMILLE;
}

static void render_row(text_ctx_t *c, const rp_fold_node_t *node)
{
    rp_buf_t *b = c->out;
    const rp_func_t *f = node->func;
    rp_buf_printf(b, "%.3f ms %5.1f%%  ",
                  rp_profile_weight_ms(c->p, node->total),
                  percent(c, node->total));
    if (f == NULL) {
        /* As the report shows it: the objects in the object's place. */
        rp_buf_puts(b, RP_FOLDED_ONLY_FRAME "  ");
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

static void render_children(text_ctx_t *c, const rp_fold_node_t *parent,
                            int top);

/* top: a child of the root, printed without a guide. */
static void render_node(text_ctx_t *c, const rp_fold_node_t *node, int top,
                        int last)
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

static void render_children(text_ctx_t *c, const rp_fold_node_t *parent,
                            int top)
{
    const rp_fold_node_t *last_shown = NULL;
    unsigned pruned = 0;
    uint64_t pruned_weight = 0;
    for (const rp_fold_node_t *n = parent->first_child; n;
         n = n->next_sibling) {
        if (is_pruned(c, n)) {
            pruned++;
            pruned_weight += n->total;
        } else {
            last_shown = n;
        }
    }
    for (const rp_fold_node_t *n = parent->first_child; n;
         n = n->next_sibling) {
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
        rp_fold_tree_t t;
        rp_fold_tree_build(&t, p, fold, scratch);
        render_header(&b, p, t.folded, pool);
        rp_buf_puts(&b, "\n");
        text_ctx_t c = {.out = &b, .p = p, .all = p->tree->root.total};
        rp_buf_init(&c.prefix, scratch, 256);
        rp_buf_puts(&b, "Call tree (inclusive time, share of the total; "
                        "frames under 0.5% folded):\n");
        render_children(&c, &t.root, 1);
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
