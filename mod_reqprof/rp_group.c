#include "rp_group.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_index.h"

/* ---- numbers ------------------------------------------------------------- */

double rp_group_percentile(const double *sorted, int n, double q)
{
    if (n <= 0) {
        return 0.0;
    }
    /* Nearest rank: the smallest value with at least q % at or below it. */
    int rank = (int)ceil(q / 100.0 * (double)n);
    if (rank < 1) {
        rank = 1;
    }
    return sorted[(rank > n ? n : rank) - 1];
}

static int ascending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int slowest_group_first(const void *a, const void *b)
{
    const rp_group_stat_t *x = a, *y = b;
    if (x->max_ms != y->max_ms) {
        return x->max_ms > y->max_ms ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* One group's durations, gathered before its numbers are taken. */
typedef struct {
    rp_group_stat_t *stat;
    apr_array_header_t *durations; /* of double */
} gathering_t;

int rp_group_stats(const rp_saved_t *items, int count, apr_pool_t *pool,
                   rp_group_stat_t **out)
{
    apr_hash_t *by_name = apr_hash_make(pool);
    apr_array_header_t *stats =
        apr_array_make(pool, 16, sizeof(rp_group_stat_t *));
    for (int i = 0; i < count; i++) {
        const rp_saved_t *s = &items[i];
        if (s->group == NULL || *s->group == '\0') {
            continue;
        }
        gathering_t *g = apr_hash_get(by_name, s->group, APR_HASH_KEY_STRING);
        if (g == NULL) {
            g = apr_pcalloc(pool, sizeof(*g));
            g->stat = apr_pcalloc(pool, sizeof(*g->stat));
            g->stat->name = s->group;
            g->durations = apr_array_make(pool, 16, sizeof(double));
            apr_hash_set(by_name, s->group, APR_HASH_KEY_STRING, g);
            *(rp_group_stat_t **)apr_array_push(stats) = g->stat;
        }
        *(double *)apr_array_push(g->durations) = s->dur_ms;
        if (g->stat->slowest_id == NULL || s->dur_ms > g->stat->max_ms) {
            g->stat->max_ms = s->dur_ms;
            g->stat->slowest_id = s->id;
        }
    }
    for (apr_hash_index_t *hi = apr_hash_first(pool, by_name); hi != NULL;
         hi = apr_hash_next(hi)) {
        gathering_t *g = apr_hash_this_val(hi);
        double *d = (double *)g->durations->elts;
        int n = g->durations->nelts;
        qsort(d, (size_t)n, sizeof(double), ascending);
        g->stat->count = n;
        g->stat->p50_ms = rp_group_percentile(d, n, 50);
        g->stat->p95_ms = rp_group_percentile(d, n, 95);
        g->stat->p99_ms = rp_group_percentile(d, n, 99);
    }
    rp_group_stat_t *flat =
        apr_palloc(pool, sizeof(*flat) * (size_t)(stats->nelts + 1));
    for (int i = 0; i < stats->nelts; i++) {
        flat[i] = *APR_ARRAY_IDX(stats, i, rp_group_stat_t *);
    }
    qsort(flat, (size_t)stats->nelts, sizeof(*flat), slowest_group_first);
    *out = flat;
    return stats->nelts;
}

static int slowest_profile_first(const void *a, const void *b)
{
    const rp_saved_t *x = a, *y = b;
    if (x->dur_ms != y->dur_ms) {
        return x->dur_ms > y->dur_ms ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

rp_saved_t *rp_group_slowest(const rp_saved_t *items, int count, int n,
                             apr_pool_t *pool, int *out_count)
{
    rp_saved_t *copy = apr_palloc(pool, sizeof(*copy) * (size_t)(count + 1));
    memcpy(copy, items, sizeof(*copy) * (size_t)count);
    qsort(copy, (size_t)count, sizeof(*copy), slowest_profile_first);
    *out_count = count < n ? count : n;
    return copy;
}

static const int windows[] = {1, 6, 24, 168};

int rp_group_hours(const char *text)
{
    int h = text != NULL ? atoi(text) : 0;
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        if (h == windows[i]) {
            return h;
        }
    }
    return RP_GROUP_DEFAULT_HOURS;
}

/* ---- links ---------------------------------------------------------------
 * Group names are percent-encoded in every link: "&", "#" or quotes in a
 * name can neither end the value nor the attribute. */

static void group_link(rp_buf_t *b, const char *param, const char *group,
                       int hours, const char *id, const char *text)
{
    rp_buf_printf(b, "<a class=\"rp-%s\" href=\"?%s=", param, param);
    rp_buf_url_param(b, group);
    rp_buf_printf(b, "&amp;hours=%d", hours);
    if (id != NULL) {
        rp_buf_puts(b, "&amp;id=");
        rp_buf_url_param(b, id);
    }
    rp_buf_puts(b, "\">");
    rp_buf_html(b, text);
    rp_buf_puts(b, "</a>");
}

static void window_label(rp_buf_t *b, int hours)
{
    if (hours % 24 == 0) {
        rp_buf_printf(b, "%d day%s", hours / 24, hours == 24 ? "" : "s");
    } else {
        rp_buf_printf(b, "%d hour%s", hours, hours == 1 ? "" : "s");
    }
}

static void ms_cell(rp_buf_t *b, double ms)
{
    rp_buf_puts(b, "<td class=\"n\">");
    rp_buf_decimal(b, ms, 1);
    rp_buf_puts(b, "</td>");
}

/* ---- the groups table ---------------------------------------------------- */

void rp_group_render_table(rp_buf_t *b, const rp_group_stat_t *groups,
                           int count, int hours)
{
    if (count == 0) {
        return;
    }
    rp_buf_puts(b, "<h2>Routes</h2>\n<p class=\"note\">The groups "
                   "(ReqProfileGroup) of the profiles stored in the last ");
    window_label(b, hours);
    rp_buf_puts(b, ", slowest first. Windows:");
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        rp_buf_printf(b, " <a href=\"?hours=%d\">", windows[i]);
        window_label(b, windows[i]);
        rp_buf_puts(b, "</a>");
    }
    rp_buf_puts(b, ".</p>\n<table class=\"rp-groups\"><thead><tr>"
                   "<th>group</th><th class=\"n\">profiles</th>"
                   "<th class=\"n\">p50 ms</th><th class=\"n\">p95 ms</th>"
                   "<th class=\"n\">slowest ms</th><th>open</th></tr></thead>"
                   "<tbody>\n");
    for (int i = 0; i < count; i++) {
        const rp_group_stat_t *g = &groups[i];
        rp_buf_puts(b, "<tr class=\"rp-group-row\"><td class=\"mono "
                       "rp-path\">");
        group_link(b, "group", g->name, hours, NULL, g->name);
        rp_buf_printf(b, "</td><td class=\"n\">%d</td>", g->count);
        ms_cell(b, g->p50_ms);
        ms_cell(b, g->p95_ms);
        ms_cell(b, g->max_ms);
        rp_buf_puts(b, "<td class=\"nw\">");
        group_link(b, "merged", g->name, hours, NULL, "flame graph");
        rp_buf_puts(b, "</td></tr>\n");
    }
    rp_buf_puts(b, "</tbody></table>\n<h2>Profiles</h2>\n");
}

/* ---- a group's page ------------------------------------------------------ */

static void stat_line(rp_buf_t *b, const rp_group_page_t *g)
{
    rp_buf_puts(b, "<p class=\"rp-group-stat\">");
    if (g->stat == NULL) {
        rp_buf_puts(b, "No profile of this group in the last ");
        window_label(b, g->hours);
        rp_buf_puts(b, ".</p>\n");
        return;
    }
    rp_buf_printf(b,
                  "<span class=\"rp-count\">%d</span> profile%s in the "
                  "last ",
                  g->stat->count, g->stat->count == 1 ? "" : "s");
    window_label(b, g->hours);
    rp_buf_puts(b, ": p50 <span class=\"rp-p50\">");
    rp_buf_decimal(b, g->stat->p50_ms, 3);
    rp_buf_puts(b, "</span> ms, p95 <span class=\"rp-p95\">");
    rp_buf_decimal(b, g->stat->p95_ms, 3);
    rp_buf_puts(b, "</span> ms, p99 <span class=\"rp-p99\">");
    rp_buf_decimal(b, g->stat->p99_ms, 3);
    rp_buf_puts(b, "</span> ms, slowest <span class=\"rp-max\">");
    rp_buf_decimal(b, g->stat->max_ms, 3);
    rp_buf_puts(b, "</span> ms.</p>\n");
}

static void views_line(rp_buf_t *b, const rp_group_page_t *g)
{
    rp_buf_puts(b, "<p class=\"rp-views\">");
    group_link(b, "merged", g->name, g->hours, NULL,
               "merged flame graph of the window");
    rp_buf_puts(b, " · ");
    group_link(b, "diff", g->name, g->hours, NULL,
               "differential flame graph against the window before");
    rp_buf_puts(b, " · windows:");
    for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
        rp_buf_puts(b, " <a href=\"?group=");
        rp_buf_url_param(b, g->name);
        rp_buf_printf(b, "&amp;hours=%d\">", windows[i]);
        window_label(b, windows[i]);
        rp_buf_puts(b, "</a>");
    }
    rp_buf_puts(b, "</p>\n");
}

/* The slowest profiles, each with its report and its diff against the
 * group's merged window. */
static void slowest_table(rp_buf_t *b, const rp_group_page_t *g,
                          const char *title, const char *css,
                          const rp_saved_t *items, int count)
{
    if (count == 0) {
        return;
    }
    rp_buf_printf(b,
                  "<h2>%s</h2>\n<table class=\"%s\"><thead><tr>"
                  "<th>started (UTC)</th><th>server</th>"
                  "<th class=\"n\">status</th><th class=\"n\">duration "
                  "ms</th><th>open</th></tr></thead><tbody>\n",
                  title, css);
    for (int i = 0; i < count; i++) {
        const rp_saved_t *s = &items[i];
        rp_buf_puts(b, "<tr class=\"rp-slow\" data-id=\"");
        rp_buf_html(b, s->id);
        rp_buf_puts(b, "\"><td class=\"mono\">");
        rp_buf_html(b, s->ts);
        rp_buf_puts(b, "</td><td>");
        rp_buf_html(b, s->server);
        rp_buf_printf(b, "</td><td class=\"n\">%d</td>", s->status);
        rp_buf_puts(b, "<td class=\"n\">");
        rp_buf_decimal(b, s->dur_ms, 3);
        rp_buf_puts(b, "</td><td class=\"nw\"><a href=\"?view=");
        rp_buf_url_param(b, s->id);
        rp_buf_puts(b, "\">report</a> ");
        group_link(b, "diff", g->name, g->hours, s->id, "vs the group");
        rp_buf_puts(b, "</td></tr>\n");
    }
    rp_buf_puts(b, "</tbody></table>\n");
}

const char *rp_group_render_page(const rp_group_page_t *g, apr_pool_t *pool,
                                 apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 8192 + (apr_size_t)g->count * 1024);
    rp_index_page_start(&b, apr_pstrcat(pool, "mod_reqprof: ", g->name, NULL));
    rp_buf_puts(&b, "<p class=\"note\"><a href=\"?\">All profiles</a></p>\n");
    if (g->note != NULL) {
        rp_buf_puts(&b, "<p class=\"note\">");
        rp_buf_html(&b, g->note);
        rp_buf_puts(&b, "</p>\n");
    }
    stat_line(&b, g);
    views_line(&b, g);
    slowest_table(&b, g, "Slowest in the window", "rp-slowest", g->slowest,
                  g->slowest_count);
    slowest_table(&b, g, "Slowest kept by the store", "rp-kept", g->kept,
                  g->kept_count);
    rp_buf_puts(&b, "<h2>Profiles of the window</h2>\n");
    rp_index_filter_form(&b, g->filter, g->name, g->hours);
    rp_index_rows(&b, g->items, g->count);
    rp_buf_puts(&b, "</body></html>\n");
    *len = b.len;
    return rp_buf_str(&b);
}
