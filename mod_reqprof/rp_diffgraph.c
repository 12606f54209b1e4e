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

/* A frame of either side, matched by name and object (the two profiles
 * intern their functions apart, so pointers cannot be compared). */
typedef struct dnode dnode_t;
struct dnode {
    const char *name, *object;
    double before, after;         /* shares of each side's total, 0..1 */
    double before_ms, after_ms;   /* the time behind them */
    apr_array_header_t *children; /* of dnode_t * */
    apr_hash_t *by_key; /* "name\nobject" -> child, once there are many */
};

typedef struct {
    const rp_profile_t *p;
    double total;
    int after;
    apr_pool_t *pool;
} side_t;

/* Children looked up by a scan until there are this many, then by a hash:
 * most frames have one or two callees, and a hash for each would be most of
 * the memory of a big tree. */
#define SCANNED_CHILDREN 8

static dnode_t *dnode_make(apr_pool_t *pool, const char *name,
                           const char *object)
{
    dnode_t *d = apr_pcalloc(pool, sizeof(*d));
    d->name = name;
    d->object = object;
    d->children = apr_array_make(pool, 1, sizeof(dnode_t *));
    return d;
}

static const char *func_key(const char *name, const char *object,
                            apr_pool_t *pool)
{
    return apr_pstrcat(pool, name, "\n", object, NULL);
}

static dnode_t *find_child(dnode_t *parent, const char *name,
                           const char *object, apr_pool_t *pool)
{
    if (parent->by_key != NULL) {
        return apr_hash_get(parent->by_key, func_key(name, object, pool),
                            APR_HASH_KEY_STRING);
    }
    for (int i = 0; i < parent->children->nelts; i++) {
        dnode_t *c = APR_ARRAY_IDX(parent->children, i, dnode_t *);
        if (strcmp(c->name, name) == 0 && strcmp(c->object, object) == 0) {
            return c;
        }
    }
    return NULL;
}

static void index_child(dnode_t *parent, dnode_t *c, apr_pool_t *pool)
{
    apr_hash_set(parent->by_key, func_key(c->name, c->object, pool),
                 APR_HASH_KEY_STRING, c);
}

static dnode_t *child_of(dnode_t *parent, const rp_func_t *f, apr_pool_t *pool)
{
    const char *name = f->name ? f->name : "";
    const char *object = f->object ? f->object : "";
    dnode_t *c = find_child(parent, name, object, pool);
    if (c != NULL) {
        return c;
    }
    c = dnode_make(pool, name, object);
    *(dnode_t **)apr_array_push(parent->children) = c;
    if (parent->by_key != NULL) {
        index_child(parent, c, pool);
    } else if (parent->children->nelts >= SCANNED_CHILDREN) {
        parent->by_key = apr_hash_make(pool);
        for (int i = 0; i < parent->children->nelts; i++) {
            index_child(parent, APR_ARRAY_IDX(parent->children, i, dnode_t *),
                        pool);
        }
    }
    return c;
}

static void add_side(dnode_t *into, const rp_node_t *node, const side_t *s)
{
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        dnode_t *c = child_of(into, n->func, s->pool);
        double share = (double)n->total / s->total;
        double ms = rp_profile_weight_ms(s->p, n->total);
        if (s->after) {
            c->after += share;
            c->after_ms += ms;
        } else {
            c->before += share;
            c->before_ms += ms;
        }
        add_side(c, n, s);
    }
}

/* The frame's width: its share of the two sides together. */
static double width_of(const dnode_t *d)
{
    return (d->before + d->after) / 2.0;
}

static int widest_first(const void *a, const void *b)
{
    const dnode_t *x = *(dnode_t *const *)a, *y = *(dnode_t *const *)b;
    double wx = width_of(x), wy = width_of(y);
    if (wx != wy) {
        return wx > wy ? -1 : 1;
    }
    int by_name = strcmp(x->name, y->name);
    return by_name ? by_name : strcmp(x->object, y->object);
}

/* Sorts every node's children, widest first, and returns the depth of the
 * frames that will be drawn (those at least RP_DIFFGRAPH_MIN_SHARE wide):
 * the graph's height. */
static int prepare(dnode_t *d)
{
    qsort(d->children->elts, (size_t)d->children->nelts, sizeof(dnode_t *),
          widest_first);
    int deepest = 0;
    for (int i = 0; i < d->children->nelts; i++) {
        dnode_t *c = APR_ARRAY_IDX(d->children, i, dnode_t *);
        if (width_of(c) >= RP_DIFFGRAPH_MIN_SHARE) {
            int k = prepare(c);
            deepest = k > deepest ? k : deepest;
        }
    }
    return deepest + 1;
}

static unsigned count_frames(const dnode_t *d)
{
    unsigned n = 1;
    for (int i = 0; i < d->children->nelts; i++) {
        n += count_frames(APR_ARRAY_IDX(d->children, i, const dnode_t *));
    }
    return n;
}

/* ---- drawing ------------------------------------------------------------- */

typedef struct {
    rp_buf_t *b;
    int height;
    unsigned omitted; /* frames left out, with the frames above them */
} draw_t;

/* Red for growth, blue for shrinkage, white for none; the larger the
 * change, the stronger. */
static void fill_of(double delta, char out[8])
{
    double strength = fabs(delta) / FULL_COLOUR_POINTS;
    int fade = (int)(215.0 * (strength > 1.0 ? 1.0 : strength) + 0.5);
    int keep = 255 - fade;
    if (delta >= 0) {
        apr_snprintf(out, 8, "#ff%02x%02x", keep, keep);
    } else {
        apr_snprintf(out, 8, "#%02x%02xff", keep, keep);
    }
}

/* "only in before", "only in after", or NULL: the frame is on both sides. */
static const char *only_in(const dnode_t *d)
{
    return d->before == 0 ? "after" : d->after == 0 ? "before" : NULL;
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

/* "+12.5" or "−12.5" (a minus sign, not a hyphen). */
static void signed_points(rp_buf_t *b, double delta)
{
    rp_buf_puts(b, delta < 0 ? "\xe2\x88\x92" : "+");
    rp_buf_decimal(b, fabs(delta) * 100.0, 2);
}

/* The tooltip: "name [object]: before B % (x ms), after A % (y ms), +D
 * points (only in ...)". */
static void frame_title(rp_buf_t *b, const dnode_t *d)
{
    const char *only = only_in(d);
    rp_buf_puts(b, "<title>");
    frame_label(b, d);
    rp_buf_puts(b, ": before ");
    rp_buf_decimal(b, d->before * 100.0, 2);
    rp_buf_puts(b, " % (");
    rp_buf_decimal(b, d->before_ms, 3);
    rp_buf_puts(b, " ms), after ");
    rp_buf_decimal(b, d->after * 100.0, 2);
    rp_buf_puts(b, " % (");
    rp_buf_decimal(b, d->after_ms, 3);
    rp_buf_puts(b, " ms), ");
    signed_points(b, d->after - d->before);
    rp_buf_puts(b, " points");
    if (only != NULL) {
        rp_buf_printf(b, " (only in %s)", only);
    }
    rp_buf_puts(b, "</title>");
}

/* The name, cut to what fits the frame (at a character's start). */
static void frame_text(rp_buf_t *b, const dnode_t *d, double x, double width,
                       int y)
{
    int chars = (int)((width - 6.0) / GLYPH_WIDTH);
    if (chars < 3) {
        return;
    }
    rp_buf_printf(b, "<text x=\"%.2f\" y=\"%d\">", x + 3.0,
                  y + FRAME_HEIGHT - 5);
    size_t n = strlen(d->name);
    if ((int)n <= chars) {
        rp_buf_html(b, d->name);
    } else {
        size_t cut = (size_t)(chars - 2);
        while (cut > 0 && ((unsigned char)d->name[cut] & 0xc0) == 0x80) {
            cut--;
        }
        rp_buf_html(b, apr_pstrmemdup(b->pool, d->name, cut));
        rp_buf_puts(b, "..");
    }
    rp_buf_puts(b, "</text>");
}

static void draw_frame(draw_t *g, const dnode_t *d, double x, int depth)
{
    rp_buf_t *b = g->b;
    double width = width_of(d) * GRAPH_WIDTH;
    const char *only = only_in(d);
    char fill[8];
    fill_of(d->after - d->before, fill);
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
    rp_buf_puts(b, "\">");
    frame_title(b, d);
    rp_buf_printf(b,
                  "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
                  "fill=\"%s\"%s/>",
                  x, y, width, FRAME_HEIGHT - 1, fill,
                  only != NULL ? " stroke=\"#000\" stroke-dasharray=\"3 2\""
                               : " stroke=\"#fff\"");
    frame_text(b, d, x, width, y);
    rp_buf_puts(b, "</g>\n");
}

/* Draws d and its callees above it, left to right widest first (children
 * sorted by prepare). */
static void draw(draw_t *g, const dnode_t *d, double x, int depth)
{
    draw_frame(g, d, x, depth);
    for (int i = 0; i < d->children->nelts; i++) {
        const dnode_t *c = APR_ARRAY_IDX(d->children, i, const dnode_t *);
        if (width_of(c) < RP_DIFFGRAPH_MIN_SHARE) {
            g->omitted += count_frames(c);
            continue;
        }
        draw(g, c, x, depth + 1);
        x += width_of(c) * GRAPH_WIDTH;
    }
}

static void render_graph(rp_buf_t *b, const rp_profile_t *before,
                         const rp_profile_t *after, apr_pool_t *pool)
{
    dnode_t *root = dnode_make(pool, "all", "");
    root->before = root->after = 1.0;
    root->before_ms = rp_profile_weight_ms(before, before->tree->root.total);
    root->after_ms = rp_profile_weight_ms(after, after->tree->root.total);
    side_t sb = {before, (double)before->tree->root.total, 0, pool};
    side_t sa = {after, (double)after->tree->root.total, 1, pool};
    add_side(root, &before->tree->root, &sb);
    add_side(root, &after->tree->root, &sa);
    draw_t g = {.b = b, .height = prepare(root) * FRAME_HEIGHT};
    rp_buf_printf(b,
                  "<svg class=\"rp-diffgraph\" "
                  "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                  "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
                  (int)GRAPH_WIDTH, g.height, (int)GRAPH_WIDTH, g.height);
    draw(&g, root, 0.0, 0);
    rp_buf_puts(b, "</svg>\n");
    if (g.omitted > 0) {
        rp_buf_printf(b,
                      "<p class=\"note rp-omitted\">%u frames narrower than "
                      "0.1 %% of the graph are left out.</p>\n",
                      g.omitted);
    }
}

/* ---- the functions table ------------------------------------------------- */

typedef struct {
    const char *name, *object;
    double before, after;       /* self time's share of its side */
    double before_ms, after_ms; /* self time */
} fself_t;

typedef struct {
    apr_hash_t *by_key; /* func_key -> row number + 1 */
    apr_array_header_t *rows;
} ftable_t;

static fself_t *row_of(ftable_t *t, const rp_func_t *f, apr_pool_t *pool)
{
    const char *key =
        func_key(f->name ? f->name : "", f->object ? f->object : "", pool);
    apr_uintptr_t pos =
        (apr_uintptr_t)apr_hash_get(t->by_key, key, APR_HASH_KEY_STRING);
    if (pos == 0) {
        fself_t *row = apr_array_push(t->rows);
        memset(row, 0, sizeof(*row));
        row->name = f->name ? f->name : "";
        row->object = f->object ? f->object : "";
        pos = (apr_uintptr_t)t->rows->nelts;
        apr_hash_set(t->by_key, key, APR_HASH_KEY_STRING, (void *)pos);
    }
    return &APR_ARRAY_IDX(t->rows, pos - 1, fself_t);
}

static void gather_self(ftable_t *t, const rp_node_t *node, const side_t *s)
{
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        if (n->self > 0) {
            fself_t *row = row_of(t, n->func, s->pool);
            double share = (double)n->self / s->total;
            double ms = rp_profile_weight_ms(s->p, n->self);
            if (s->after) {
                row->after += share;
                row->after_ms += ms;
            } else {
                row->before += share;
                row->before_ms += ms;
            }
        }
        gather_self(t, n, s);
    }
}

static int largest_growth_first(const void *a, const void *b)
{
    const fself_t *x = a, *y = b;
    double dx = x->after - x->before, dy = y->after - y->before;
    if (dx != dy) {
        return dx > dy ? -1 : 1;
    }
    int by_name = strcmp(x->name, y->name);
    return by_name ? by_name : strcmp(x->object, y->object);
}

static void function_row(rp_buf_t *b, const fself_t *f)
{
    double delta = f->after - f->before;
    rp_buf_printf(b, "<tr class=\"rp-diff-func%s\"><td class=\"mono\">",
                  delta > 0   ? " slower"
                  : delta < 0 ? " faster"
                              : "");
    rp_buf_html(b, f->name);
    rp_buf_puts(b, "</td><td>");
    rp_buf_html(b, f->object);
    const double cells[] = {f->before_ms, f->before * 100.0, f->after_ms,
                            f->after * 100.0};
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        rp_buf_puts(b, "</td><td class=\"n\">");
        rp_buf_decimal(b, cells[i], i % 2 ? 2 : 3);
    }
    rp_buf_puts(b, "</td><td class=\"n\">");
    signed_points(b, delta);
    rp_buf_puts(b, "</td></tr>\n");
}

/* Every function's self time on each side, largest growth first, largest
 * shrinkage last; past RP_DIFFGRAPH_MAX_FUNCTIONS rows, the smallest
 * changes (the middle of the list) are left out and counted. */
static void render_functions(rp_buf_t *b, const rp_profile_t *before,
                             const rp_profile_t *after, apr_pool_t *pool)
{
    ftable_t t = {apr_hash_make(pool),
                  apr_array_make(pool, 64, sizeof(fself_t))};
    side_t sb = {before, (double)before->tree->root.total, 0, pool};
    side_t sa = {after, (double)after->tree->root.total, 1, pool};
    gather_self(&t, &before->tree->root, &sb);
    gather_self(&t, &after->tree->root, &sa);
    qsort(t.rows->elts, (size_t)t.rows->nelts, sizeof(fself_t),
          largest_growth_first);
    rp_buf_puts(b, "<h2>Functions by the change of their self time</h2>\n"
                   "<table class=\"rp-diff-funcs\"><thead><tr>"
                   "<th>function</th><th>object</th>"
                   "<th class=\"n\">before ms</th><th class=\"n\">before %</th>"
                   "<th class=\"n\">after ms</th><th class=\"n\">after %</th>"
                   "<th class=\"n\">change (points)</th></tr></thead>"
                   "<tbody>\n");
    int n = t.rows->nelts, half = RP_DIFFGRAPH_MAX_FUNCTIONS / 2;
    int cut = n > RP_DIFFGRAPH_MAX_FUNCTIONS ? n - 2 * half : 0;
    for (int i = 0; i < n; i++) {
        if (cut > 0 && i == half) {
            rp_buf_printf(b,
                          "<tr class=\"rp-diff-cut\"><td colspan=\"7\" "
                          "class=\"note\">%d functions with smaller changes "
                          "left out</td></tr>\n",
                          cut);
            i += cut - 1;
            continue;
        }
        function_row(b, &APR_ARRAY_IDX(t.rows, i, fself_t));
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
    rp_buf_printf(b, "<li class=\"rp-side-%s\"><b>%s</b>: ", what, what);
    rp_buf_html(b, label != NULL ? label : "");
    rp_buf_puts(b, " — ");
    rp_buf_decimal(b, rp_profile_weight_ms(p, p->tree->root.total), 3);
    rp_buf_puts(b, " ms in all");
    if (p->tree->root.total == 0) {
        rp_buf_puts(b, " (no samples)");
    }
    rp_buf_puts(b, "</li>\n");
}

static void page_head(rp_buf_t *b, const rp_profile_t *before,
                      const rp_profile_t *after,
                      const rp_diffgraph_labels_t *labels)
{
    const char *title =
        labels && labels->title ? labels->title : "Differential flame graph";
    rp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                   "charset=\"utf-8\"><title>");
    rp_buf_html(b, title);
    rp_buf_printf(b, "</title><style>%s</style></head><body>\n<h1>", style);
    rp_buf_html(b, title);
    rp_buf_puts(b, "</h1>\n<ul class=\"rp-sides\">\n");
    side_line(b, "before", labels ? labels->before : NULL, before);
    side_line(b, "after", labels ? labels->after : NULL, after);
    rp_buf_puts(b, "</ul>\n<p class=\"key\"><span style=\"background:#ff2828"
                   "\">grew</span><span style=\"background:#2828ff;color:#fff"
                   "\">shrank</span><span style=\"border:1px dashed #000\">"
                   "only on one side</span> Width: the share of time in both "
                   "together; colour: the change of the share of its side's "
                   "time.</p>\n");
}

const char *rp_diffgraph_render(const rp_profile_t *before,
                                const rp_profile_t *after,
                                const rp_diffgraph_labels_t *labels,
                                apr_pool_t *pool, apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 65536);
    page_head(&b, before, after, labels);
    int none_before = before->tree->root.total == 0;
    int none_after = after->tree->root.total == 0;
    if (none_before || none_after) {
        rp_buf_printf(&b,
                      "<p class=\"note rp-empty\">The %s side has no "
                      "samples%s: there is nothing to compare.</p>\n",
                      none_before ? "before" : "after",
                      none_before && none_after ? ", nor has the after side"
                                                : "");
    } else {
        render_graph(&b, before, after, pool);
        render_functions(&b, before, after, pool);
    }
    rp_buf_puts(&b, "</body></html>\n");
    *len = b.len;
    return rp_buf_str(&b);
}
