#include "rp_collapsed.h"

#include <string.h>

#include "rp_buf.h"

/* Frame names. flamegraph.pl and inferno split a line at its LAST run of
 * whitespace (the count follows it), split the stack at every ';', and take
 * a stack that itself ends in whitespace and a number for the first column
 * of a differential profile. So each frame is written as
 *
 *     function [object]
 *
 * with ';', newlines and every other control character replaced by '?' and
 * invalid UTF-8 by U+FFFD (rp_buf_plain); an object already in brackets
 * ("[vdso]", "[kernel]") keeps its own, any other loses brackets inside. The
 * bracketed object keeps same-named static functions of different objects
 * apart, stays readable in a flame graph, and ends every frame with ']', so a
 * line always ends in
 * "] count" and never in two numbers. Only the synthetic "[truncated stack]"
 * caller has no object; it is never a leaf. An empty name is written as
 * "[unknown]". */

/* "[vdso]", "[kernel]": already in brackets, and none inside. */
static int is_bracketed(const char *s)
{
    size_t n = strlen(s);
    return n >= 2 && s[0] == '[' && s[n - 1] == ']' &&
           strcspn(s + 1, "[]") == n - 2;
}

void rp_collapsed_frame(rp_buf_t *b, const rp_func_t *f)
{
    rp_buf_plain(b, f->name && *f->name ? f->name : "[unknown]", ";");
    if (f->object == NULL || *f->object == '\0') {
        return;
    }
    if (is_bracketed(f->object)) {
        rp_buf_puts(b, " ");
        rp_buf_plain(b, f->object, ";");
        return;
    }
    rp_buf_puts(b, " [");
    /* Brackets inside the object would blur where it starts. */
    rp_buf_plain(b, f->object, ";[]");
    rp_buf_puts(b, "]");
}

typedef struct {
    rp_buf_t path; /* "outer;...;current" of the node being visited */
    rp_collapsed_line_f line;
    void *ctx;
} walk_t;

static void visit(walk_t *w, const rp_node_t *node)
{
    apr_size_t mark = w->path.len;
    if (mark > 0) {
        rp_buf_puts(&w->path, ";");
    }
    rp_collapsed_frame(&w->path, node->func);
    if (node->self > 0) {
        w->line(w->ctx, w->path.data, w->path.len, node);
    }
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        visit(w, n);
    }
    w->path.len = mark;
    w->path.data[mark] = '\0';
}

void rp_collapsed_walk(const rp_tree_t *tree, apr_pool_t *pool,
                       rp_collapsed_line_f line, void *ctx)
{
    const rp_node_t *root = &tree->root;
    if (root->self > 0) {
        line(ctx, RP_COLLAPSED_EMPTY_STACK,
             sizeof(RP_COLLAPSED_EMPTY_STACK) - 1, root);
    }
    walk_t w = {.line = line, .ctx = ctx};
    rp_buf_init(&w.path, pool, 1024);
    for (const rp_node_t *n = root->first_child; n; n = n->next_sibling) {
        visit(&w, n);
    }
}

static void count_line(void *ctx, const char *stack, apr_size_t len,
                       const rp_node_t *node)
{
    rp_buf_t *out = ctx;
    rp_buf_append(out, stack, len);
    rp_buf_printf(out, " %" APR_UINT64_T_FMT "\n", (apr_uint64_t)node->self);
}

const char *rp_collapsed_render(const rp_profile_t *p, apr_pool_t *pool,
                                apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 1024 + (apr_size_t)p->tree->node_count * 160);
    rp_collapsed_walk(p->tree, pool, count_line, &b);
    *len = b.len;
    return rp_buf_str(&b);
}
