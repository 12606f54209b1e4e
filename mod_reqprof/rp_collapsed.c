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

typedef struct {
    rp_buf_t *out;
    rp_buf_t path; /* "outer;...;current" of the node being visited */
} collapsed_ctx_t;

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

static void visit(collapsed_ctx_t *c, const rp_node_t *node)
{
    apr_size_t mark = c->path.len;
    if (mark > 0) {
        rp_buf_puts(&c->path, ";");
    }
    rp_collapsed_frame(&c->path, node->func);
    if (node->self > 0) {
        rp_buf_append(c->out, c->path.data, c->path.len);
        rp_buf_printf(c->out, " %" APR_UINT64_T_FMT "\n",
                      (apr_uint64_t)node->self);
    }
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        visit(c, n);
    }
    c->path.len = mark;
    c->path.data[mark] = '\0';
}

const char *rp_collapsed_render(const rp_profile_t *p, apr_pool_t *pool,
                                apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 1024 + (apr_size_t)p->tree->node_count * 160);
    const rp_node_t *root = &p->tree->root;
    if (root->self > 0) {
        rp_buf_printf(&b, RP_COLLAPSED_EMPTY_STACK " %" APR_UINT64_T_FMT "\n",
                      (apr_uint64_t)root->self);
    }
    collapsed_ctx_t c = {.out = &b};
    rp_buf_init(&c.path, pool, 1024);
    for (const rp_node_t *n = root->first_child; n; n = n->next_sibling) {
        visit(&c, n);
    }
    *len = b.len;
    return rp_buf_str(&b);
}
