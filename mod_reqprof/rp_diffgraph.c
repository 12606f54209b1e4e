#include "rp_diffgraph.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"

#define GRAPH_WIDTH 1200.0
#define FRAME_HEIGHT 17
#define GLYPH_WIDTH 7.0
/* A change of this many points of share or more gets the strongest
 * colour. */
#define FULL_COLOUR_POINTS 0.25

/* ---- the union of the two trees ------------------------------------------ */

typedef struct dnode dnode_t;
struct dnode {
    const char *name, *object;
    double before, after;         /* shares of each side's total, 0..1 */
    apr_array_header_t *children; /* of dnode_t * */
    apr_hash_t *by_key;
};

static dnode_t *dnode_make(apr_pool_t *pool, const char *name,
                           const char *object)
{
    dnode_t *d = apr_pcalloc(pool, sizeof(*d));
    d->name = name;
    d->object = object;
    d->children = apr_array_make(pool, 4, sizeof(dnode_t *));
    d->by_key = apr_hash_make(pool);
    return d;
}

static dnode_t *child_of(dnode_t *parent, const rp_func_t *f, apr_pool_t *pool)
{
    const char *name = f->name ? f->name : "";
    const char *object = f->object ? f->object : "";
    const char *key = apr_pstrcat(pool, name, "\n", object, NULL);
    dnode_t *c = apr_hash_get(parent->by_key, key, APR_HASH_KEY_STRING);
    if (c == NULL) {
        c = dnode_make(pool, name, object);
        apr_hash_set(parent->by_key, key, APR_HASH_KEY_STRING, c);
        *(dnode_t **)apr_array_push(parent->children) = c;
    }
    return c;
}

static void add_side(dnode_t *into, const rp_node_t *node, double total,
                     int after, apr_pool_t *pool)
{
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        dnode_t *c = child_of(into, n->func, pool);
        double share = total > 0 ? (double)n->total / total : 0.0;
        if (after) {
            c->after += share;
        } else {
            c->before += share;
        }
        add_side(c, n, total, after, pool);
    }
}

static int widest_first(const void *a, const void *b)
{
    const dnode_t *x = *(dnode_t *const *)a, *y = *(dnode_t *const *)b;
    double wx = x->before + x->after, wy = y->before + y->after;
    if (wx != wy) {
        return wx > wy ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* ---- drawing ------------------------------------------------------------- */

typedef struct {
    rp_buf_t *b;
    int max_depth;
    unsigned omitted;
    int height;
} draw_t;

static int depth_of(const dnode_t *d)
{
    int deepest = 0;
    for (int i = 0; i < d->children->nelts; i++) {
        int k = depth_of(APR_ARRAY_IDX(d->children, i, dnode_t *));
        deepest = k > deepest ? k : deepest;
    }
    return deepest + 1;
}

/* Red for growth, blue for shrinkage, white for none. */
static void fill_of(double delta, char out[8])
{
    double strength = fabs(delta) / FULL_COLOUR_POINTS;
    int fade = (int)(215.0 * (strength > 1.0 ? 1.0 : strength));
    int keep = 255 - fade;
    if (delta >= 0) {
        apr_snprintf(out, 8, "#ff%02x%02x", keep, keep);
    } else {
        apr_snprintf(out, 8, "#%02x%02xff", keep, keep);
    }
}

static void frame_label(rp_buf_t *b, const dnode_t *d)
{
    rp_buf_html(b, d->name);
    if (*d->object) {
        rp_buf_puts(b, " [");
        rp_buf_html(b, d->object);
        rp_buf_puts(b, "]");
    }
}

static void draw_frame(draw_t *g, const dnode_t *d, double x, double width,
                       int depth)
{
    rp_buf_t *b = g->b;
    double delta = d->after - d->before;
    const char *only = d->before == 0  ? "after"
                       : d->after == 0 ? "before"
                                       : NULL;
    char fill[8];
    fill_of(delta, fill);
    int y = g->height - (depth + 1) * FRAME_HEIGHT;
    rp_buf_puts(b, "<g class=\"rp-frame");
    if (only != NULL) {
        rp_buf_printf(b, " rp-only-%s", only);
    }
    rp_buf_puts(b, "\" data-name=\"");
    rp_buf_html(b, d->name);
    rp_buf_puts(b, "\" data-before=\"");
    rp_buf_decimal(b, d->before * 100.0, 2);
    rp_buf_puts(b, "\" data-after=\"");
    rp_buf_decimal(b, d->after * 100.0, 2);
    rp_buf_puts(b, "\"><title>");
    frame_label(b, d);
    rp_buf_puts(b, ": before ");
    rp_buf_decimal(b, d->before * 100.0, 2);
    rp_buf_puts(b, " %, after ");
    rp_buf_decimal(b, d->after * 100.0, 2);
    rp_buf_printf(b, " %%, %s", delta >= 0 ? "+" : "−");
    rp_buf_decimal(b, fabs(delta) * 100.0, 2);
    rp_buf_puts(b, " points");
    if (only != NULL) {
        rp_buf_printf(b, " (only in %s)", only);
    }
    rp_buf_printf(b,
                  "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" "
                  "height=\"%d\" fill=\"%s\"",
                  x, y, width, FRAME_HEIGHT - 1, fill);
    rp_buf_puts(b, only != NULL ? " stroke=\"#000\" stroke-dasharray=\"3 2\""
                                : " stroke=\"#fff\"");
    rp_buf_puts(b, "/>");
    int chars = (int)((width - 6.0) / GLYPH_WIDTH);
    if (chars >= 3) {
        rp_buf_printf(b, "<text x=\"%.2f\" y=\"%d\">", x + 3.0,
                      y + FRAME_HEIGHT - 5);
        size_t n = strlen(d->name);
        if ((int)n <= chars) {
            rp_buf_html(b, d->name);
        } else {
            /* Cut at a character's start, never inside one. */
            size_t cut = (size_t)(chars - 2);
            while (cut > 0 && ((unsigned char)d->name[cut] & 0xc0) == 0x80) {
                cut--;
            }
            rp_buf_html(b, apr_pstrmemdup(b->pool, d->name, cut));
            rp_buf_puts(b, "..");
        }
        rp_buf_puts(b, "</text>");
    }
    rp_buf_puts(b, "</g>\n");
}

static void draw(draw_t *g, dnode_t *d, double x, int depth)
{
    double width = (d->before + d->after) / 2.0 * GRAPH_WIDTH;
    draw_frame(g, d, x, width, depth);
    qsort(d->children->elts, (size_t)d->children->nelts, sizeof(dnode_t *),
          widest_first);
    for (int i = 0; i < d->children->nelts; i++) {
        dnode_t *c = APR_ARRAY_IDX(d->children, i, dnode_t *);
        double share = (c->before + c->after) / 2.0;
        if (share < RP_DIFFGRAPH_MIN_SHARE) {
            g->omitted++;
            continue;
        }
        draw(g, c, x, depth + 1);
        x += share * GRAPH_WIDTH;
    }
}

/* ---- the functions table ------------------------------------------------- */

typedef struct {
    const char *name, *object;
    double before, after; /* self time's share */
} fself_t;

static void gather_self(apr_hash_t *by_key, apr_array_header_t *rows,
                        const rp_node_t *node, double total, int after,
                        apr_pool_t *pool)
{
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        if (n->self > 0 && total > 0) {
            const char *name = n->func->name ? n->func->name : "";
            const char *object = n->func->object ? n->func->object : "";
            const char *key = apr_pstrcat(pool, name, "\n", object, NULL);
            apr_uintptr_t pos =
                (apr_uintptr_t)apr_hash_get(by_key, key, APR_HASH_KEY_STRING);
            if (pos == 0) {
                fself_t *f = apr_array_push(rows);
                memset(f, 0, sizeof(*f));
                f->name = name;
                f->object = object;
                pos = (apr_uintptr_t)rows->nelts;
                apr_hash_set(by_key, key, APR_HASH_KEY_STRING, (void *)pos);
            }
            fself_t *f = &APR_ARRAY_IDX(rows, pos - 1, fself_t);
            double share = (double)n->self / total;
            if (after) {
                f->after += share;
            } else {
                f->before += share;
            }
        }
        gather_self(by_key, rows, n, total, after, pool);
    }
}

static int largest_growth_first(const void *a, const void *b)
{
    const fself_t *x = a, *y = b;
    double dx = x->after - x->before, dy = y->after - y->before;
    if (dx != dy) {
        return dx > dy ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

static void functions_table(rp_buf_t *b, const rp_profile_t *before,
                            const rp_profile_t *after, apr_pool_t *pool)
{
    apr_hash_t *by_key = apr_hash_make(pool);
    apr_array_header_t *rows = apr_array_make(pool, 64, sizeof(fself_t));
    gather_self(by_key, rows, &before->tree->root,
                (double)before->tree->root.total, 0, pool);
    gather_self(by_key, rows, &after->tree->root,
                (double)after->tree->root.total, 1, pool);
    qsort(rows->elts, (size_t)rows->nelts, sizeof(fself_t),
          largest_growth_first);
    rp_buf_puts(b, "<h2>Functions by the change of their self time</h2>\n"
                   "<table class=\"rp-diff-funcs\"><thead><tr>"
                   "<th>function</th><th>object</th><th class=\"n\">before "
                   "%</th><th class=\"n\">after %</th><th class=\"n\">change "
                   "(points)</th></tr></thead><tbody>\n");
    for (int i = 0; i < rows->nelts; i++) {
        const fself_t *f = &APR_ARRAY_IDX(rows, i, fself_t);
        double delta = f->after - f->before;
        rp_buf_printf(b, "<tr class=\"rp-diff-func %s\"><td class=\"mono\">",
                      delta > 0   ? "slower"
                      : delta < 0 ? "faster"
                                  : "");
        rp_buf_html(b, f->name);
        rp_buf_puts(b, "</td><td>");
        rp_buf_html(b, f->object);
        rp_buf_puts(b, "</td><td class=\"n\">");
        rp_buf_decimal(b, f->before * 100.0, 2);
        rp_buf_puts(b, "</td><td class=\"n\">");
        rp_buf_decimal(b, f->after * 100.0, 2);
        rp_buf_printf(b, "</td><td class=\"n\">%s", delta < 0 ? "−" : "+");
        rp_buf_decimal(b, fabs(delta) * 100.0, 2);
        rp_buf_puts(b, "</td></tr>\n");
    }
    rp_buf_puts(b, "</tbody></table>\n");
}

/* ---- the page ------------------------------------------------------------ */

static const char style[] =
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:20px}h2{font-size:16px}"
    "svg text{font:11px ui-monospace,monospace;fill:#000;pointer-events:none}"
    "table{border-collapse:collapse}th,td{padding:3px 8px;"
    "border-bottom:1px solid #ddd;text-align:left}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".mono{font:13px ui-monospace,monospace}.slower{color:#b00020}"
    ".faster{color:#0041b0}.note{color:#555}"
    ".key span{display:inline-block;padding:0 6px;margin-right:6px}";

static void side_line(rp_buf_t *b, const char *what, const char *label,
                      const rp_profile_t *p)
{
    rp_buf_printf(b, "<li><b>%s</b>: ", what);
    rp_buf_html(b, label != NULL ? label : "");
    rp_buf_puts(b, " — ");
    rp_buf_decimal(b, rp_profile_weight_ms(p, p->tree->root.total), 1);
    rp_buf_puts(b, " ms in all");
    if (p->tree->root.total == 0) {
        rp_buf_puts(b, " (no samples)");
    }
    rp_buf_puts(b, "</li>\n");
}

const char *rp_diffgraph_render(const rp_profile_t *before,
                                const rp_profile_t *after,
                                const rp_diffgraph_labels_t *labels,
                                apr_pool_t *pool, apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 65536);
    const char *title = labels->title ? labels->title : "differential";
    rp_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                    "charset=\"utf-8\"><title>");
    rp_buf_html(&b, title);
    rp_buf_printf(&b, "</title><style>%s</style></head><body>\n<h1>", style);
    rp_buf_html(&b, title);
    rp_buf_puts(&b, "</h1>\n<ul class=\"rp-sides\">\n");
    side_line(&b, "before", labels->before, before);
    side_line(&b, "after", labels->after, after);
    rp_buf_puts(&b, "</ul>\n<p class=\"key\"><span style=\"background:#ff2828"
                    "\">grew</span><span style=\"background:#2828ff;color:#fff"
                    "\">shrank</span><span style=\"border:1px dashed #000\">"
                    "only on one side</span> Width: the share of time in both "
                    "together; colour: the change of the share of its side's "
                    "time.</p>\n");
    double tb = (double)before->tree->root.total;
    double ta = (double)after->tree->root.total;
    if (tb == 0 || ta == 0) {
        rp_buf_printf(&b,
                      "<p class=\"note rp-empty\">The %s side has no "
                      "samples: there is nothing to compare.</p>\n",
                      tb == 0 ? "before" : "after");
    } else {
        dnode_t *root = dnode_make(pool, "all", "");
        root->before = root->after = 1.0;
        add_side(root, &before->tree->root, tb, 0, pool);
        add_side(root, &after->tree->root, ta, 1, pool);
        draw_t g = {.b = &b, .max_depth = depth_of(root)};
        g.height = g.max_depth * FRAME_HEIGHT;
        rp_buf_printf(&b,
                      "<svg class=\"rp-diffgraph\" "
                      "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                      "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
                      (int)GRAPH_WIDTH, g.height, (int)GRAPH_WIDTH, g.height);
        draw(&g, root, 0.0, 0);
        rp_buf_puts(&b, "</svg>\n");
        if (g.omitted > 0) {
            rp_buf_printf(&b,
                          "<p class=\"note\">%u frames narrower than "
                          "0.1 %% are left out.</p>\n",
                          g.omitted);
        }
        functions_table(&b, before, after, pool);
    }
    rp_buf_puts(&b, "</body></html>\n");
    *len = b.len;
    return rp_buf_str(&b);
}
