#include "rp_html.h"

#include <apr_strings.h>
#include <stdlib.h>

#include "rp_buf.h"
#include "rp_export.h"
#include "rp_html_assets.h"
#include "rp_html_data.h"
#include "rp_version.h"

/* The page's markup holds at most this many nodes of the call tree, the
 * heaviest (each shown with its callers); lighter ones are summed up in one
 * line per parent. The script's views, built from the embedded data, show
 * every node. */
#define RP_HTML_TREE_NODES 750

/* The embedded data holds at most this many nodes, the heaviest; lighter
 * ones are summed up in one node per caller (rp_profile_reduce), which the
 * page says. Below it, every node. */
#define RP_HTML_DATA_NODES 30000

static void summary_row(rp_buf_t *b, const char *key, const char *label,
                        const char *value)
{
    rp_buf_printf(b, "<tr data-key=\"%s\"><th>%s</th><td>", key, label);
    rp_buf_html(b, value);
    rp_buf_puts(b, "</td></tr>\n");
}

static void render_summary(rp_buf_t *b, const rp_profile_t *p, apr_pool_t *pool)
{
    const rp_sampler_stats_t *st = &p->stats;
    char date[APR_RFC822_DATE_LEN];
    apr_rfc822_date(date, p->started);
    rp_buf_puts(b, "<table class=\"rp-summary\">\n");
    summary_row(b, "method", "Method", p->method);
    summary_row(b, "uri", "URI", p->uri);
    summary_row(b, "protocol", "Protocol", p->protocol);
    summary_row(b, "host", "Host", p->host);
    summary_row(b, "status", "Original status",
                apr_psprintf(pool, "%d", p->status));
    summary_row(b, "discarded", "Original body",
                apr_psprintf(pool, "%" APR_OFF_T_FMT " bytes (discarded)",
                             p->discarded_bytes));
    summary_row(b, "wall", "Wall time",
                apr_psprintf(pool, "%.3f ms", (double)st->wall_ns / 1e6));
    summary_row(b, "cpu", "CPU time",
                apr_psprintf(pool, "%.3f ms", (double)st->cpu_ns / 1e6));
    summary_row(b, "samples", "Samples",
                apr_psprintf(pool, "%u (%" APR_UINT64_T_FMT " intervals)",
                             st->samples, (apr_uint64_t)st->weight));
    summary_row(b, "interval", "Interval",
                apr_psprintf(pool, "%" APR_TIME_T_FMT " us", st->interval_us));
    summary_row(b, "clock", "Clock",
                st->clock == RP_CLOCK_CPU ? "cpu (on-CPU time only)"
                                          : "wall (waiting time counts)");
    summary_row(
        b, "split", "On CPU / waiting",
        apr_psprintf(pool, "%.3f ms / %.3f ms",
                     rp_profile_weight_ms(p, st->weight - st->wait_weight),
                     rp_profile_weight_ms(p, st->wait_weight)));
    summary_row(b, "sampling", "Sampling",
                rp_profile_sampling_summary(p, pool));
    if (st->capped) {
        summary_row(b, "capped", "Truncated",
                    "sampling stopped at its limit (ReqProfileMaxSamples or "
                    "ReqProfileMaxDuration); the request went on");
    }
    if (st->dropped > 0 || p->truncated_stacks > 0) {
        summary_row(b, "lost", "Lost",
                    apr_psprintf(pool,
                                 "%u samples dropped (buffer full), %u stacks "
                                 "truncated",
                                 st->dropped, p->truncated_stacks));
    }
    summary_row(b, "mpm", "MPM", p->mpm);
    summary_row(b, "process", "Process",
                apr_psprintf(pool, "pid %ld, tid %ld", p->pid, p->tid));
    summary_row(b, "started", "Started", date);
    summary_row(b, "server", "Server", p->server);
    rp_buf_puts(b, "</table>\n");
}

static void render_phases(rp_buf_t *b, const rp_profile_t *p,
                          const rp_model_t *m)
{
    const uint64_t *weight = m->phase_weight;
    apr_interval_time_t span = 1;
    for (int i = 0; i < RP_PHASE_COUNT; i++) {
        const rp_phase_span_t *ph = &p->phases[i];
        if (ph->first_us >= 0 && ph->first_us + ph->total_us > span) {
            span = ph->first_us + ph->total_us;
        }
    }
    rp_buf_puts(b, "<h2>Phases</h2>\n<table class=\"rp-phases\"><tr><th>phase"
                   "</th><th>starts at</th><th>time</th><th>sampled</th>"
                   "<th></th></tr>\n");
    for (int i = 0; i < RP_PHASE_COUNT; i++) {
        const rp_phase_span_t *ph = &p->phases[i];
        if (ph->first_us < 0 && weight[i] == 0) {
            continue;
        }
        double left =
            ph->first_us < 0 ? 0 : 100.0 * (double)ph->first_us / (double)span;
        double width = 100.0 * (double)ph->total_us / (double)span;
        rp_buf_printf(b,
                      "<tr data-phase=\"%s\" data-total-us=\"%" APR_TIME_T_FMT
                      "\" data-sampled-weight=\"%" APR_UINT64_T_FMT
                      "\"><td>%s</td><td>%.3f ms</td><td>%.3f ms</td><td>%.3f "
                      "ms</td><td class=\"rp-span\"><span style=\"margin-left:"
                      "%.1f%%;width:%.1f%%\"></span></td></tr>\n",
                      rp_phase_name((unsigned)i), ph->total_us,
                      (apr_uint64_t)weight[i], rp_phase_name((unsigned)i),
                      ph->first_us < 0 ? 0.0 : (double)ph->first_us / 1000.0,
                      (double)ph->total_us / 1000.0,
                      rp_profile_weight_ms(p, weight[i]), left,
                      width < 0.5 ? 0.5 : width);
    }
    rp_buf_puts(b, "</table>\n");
}

static void render_row(rp_buf_t *b, const rp_profile_t *p,
                       const rp_node_t *node, const char *tag)
{
    uint64_t all = p->tree->root.total;
    double pct = all ? 100.0 * (double)node->total / (double)all : 0.0;
    const rp_func_t *f = node->func;
    rp_buf_printf(b,
                  "<%s class=\"rp-row\"><span class=\"rp-ms\">%.3f ms</span>"
                  "<span class=\"rp-pct\">%.1f%%</span><span class=\"rp-bar\">"
                  "<span style=\"width:%.1f%%\"></span></span>"
                  "<span class=\"rp-fn\">",
                  tag, rp_profile_weight_ms(p, node->total), pct, pct);
    rp_buf_html(b, f->name);
    rp_buf_puts(b, "</span><span class=\"rp-obj\">");
    rp_buf_html(b, f->object);
    rp_buf_puts(b, "</span>");
    if (f->file != NULL) {
        rp_buf_puts(b, "<span class=\"rp-src\">");
        rp_buf_html(b, f->file);
        rp_buf_printf(b, ":%d</span>", f->line);
    }
    if (node->self > 0) {
        rp_buf_printf(b, "<span class=\"rp-self\">self %.3f ms</span>",
                      rp_profile_weight_ms(p, node->self));
    }
    if (node->wait > 0) {
        rp_buf_printf(b,
                      "<span class=\"rp-wait\">cpu %.3f ms, waiting %.3f "
                      "ms</span>",
                      rp_profile_weight_ms(p, node->total - node->wait),
                      rp_profile_weight_ms(p, node->wait));
    }
    rp_buf_printf(b, "</%s>", tag);
}

/* reduced: the script's views hold a reduced tree too. */
static void render_pruned(rp_buf_t *b, const rp_profile_t *p, unsigned count,
                          uint64_t weight, int reduced)
{
    rp_buf_printf(b,
                  "<li class=\"rp-pruned\"><div class=\"rp-row\">%u "
                  "lighter callee%s, %.3f ms in all, not listed here (the "
                  "script's views show %s)</div></li>\n",
                  count, count == 1 ? "" : "s", rp_profile_weight_ms(p, weight),
                  reduced ? "more of them" : "every frame");
}

/* hot: the node lies on the heaviest path, which starts open. Children
 * lighter than min_weight are summed up in one line instead. */
static void render_node(rp_buf_t *b, const rp_profile_t *p,
                        const rp_node_t *node, int hot, uint64_t min_weight,
                        int reduced)
{
    const rp_func_t *f = node->func;
    rp_buf_printf(b, "<li class=\"rp-node%s\" data-func=\"",
                  hot ? " rp-hot" : "");
    rp_buf_html(b, f->name);
    rp_buf_puts(b, "\" data-obj=\"");
    rp_buf_html(b, f->object);
    rp_buf_printf(b,
                  "\" data-total-us=\"%.0f\" data-self-us=\"%.0f\" "
                  "data-total-weight=\"%" APR_UINT64_T_FMT
                  "\" data-self-weight=\"%" APR_UINT64_T_FMT
                  "\" data-wait-weight=\"%" APR_UINT64_T_FMT "\">",
                  rp_profile_weight_ms(p, node->total) * 1000.0,
                  rp_profile_weight_ms(p, node->self) * 1000.0,
                  (apr_uint64_t)node->total, (apr_uint64_t)node->self,
                  (apr_uint64_t)node->wait);
    if (node->first_child == NULL) {
        render_row(b, p, node, "div");
        rp_buf_puts(b, "</li>\n");
        return;
    }
    rp_buf_puts(b, hot ? "<details open>" : "<details>");
    render_row(b, p, node, "summary");
    rp_buf_puts(b, "<ul>\n");
    unsigned pruned = 0;
    uint64_t pruned_weight = 0;
    for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
        if (c->total < min_weight) {
            pruned++;
            pruned_weight += c->total;
            continue;
        }
        render_node(b, p, c, hot && c == node->first_child, min_weight,
                    reduced);
    }
    if (pruned > 0) {
        render_pruned(b, p, pruned, pruned_weight, reduced);
    }
    rp_buf_puts(b, "</ul></details></li>\n");
}

/* The rule by which the script's data was reduced, where it was. */
static void render_reduction(rp_buf_t *b, const rp_profile_t *p,
                             const rp_reduction_t *r)
{
    uint64_t all = p->tree->root.total;
    uint64_t below = r->min_weight > 0 ? r->min_weight - 1 : 0;
    rp_buf_printf(
        b,
        "<p class=\"rp-note\" id=\"rp-merged\" data-kept=\"%u\" "
        "data-merged=\"%u\">A big profile: the views below keep the %u "
        "heaviest of its %u call tree nodes. The other %u, each of at most "
        "%.3f ms (%.2f %% of the total), are summed into one "
        "&quot;" RP_MERGED_FRAME
        "&quot; node per caller (%u in all); every total stays exact. The "
        "JSON, speedscope, pprof and collapsed formats hold every node.</p>\n",
        r->kept, r->merged, r->kept, r->kept + r->merged, r->merged,
        rp_profile_weight_ms(p, below),
        all ? 100.0 * (double)below / (double)all : 0.0, r->groups);
}

static void render_tree(rp_buf_t *b, const rp_profile_t *p, int reduced)
{
    rp_buf_puts(b, "<section class=\"rp-view\" id=\"rp-view-tree\" "
                   "data-rp-view=\"tree\"><h2>Call tree</h2>\n");
    if (p->tree->root.total == 0) {
        rp_buf_puts(b, "<p class=\"rp-note\" id=\"rp-empty\">No samples were "
                       "taken: the request finished within one interval.</p>"
                       "</section>\n");
        return;
    }
    uint64_t min_weight = rp_tree_min_weight(p->tree, RP_HTML_TREE_NODES);
    rp_buf_puts(
        b, "<div class=\"rp-tools\"><button type=\"button\" "
           "data-rp-open=\"1\">Expand all</button><button type=\"button\" "
           "data-rp-open=\"0\">Collapse all</button><span class=\"rp-note\">"
           "Time is inclusive; self is time in the function itself. The "
           "heaviest path is open.</span></div>\n"
           "<div class=\"rp-tree\"><ul>\n");
    unsigned pruned = 0;
    uint64_t pruned_weight = 0;
    for (const rp_node_t *c = p->tree->root.first_child; c;
         c = c->next_sibling) {
        if (c->total < min_weight) {
            pruned++;
            pruned_weight += c->total;
            continue;
        }
        render_node(b, p, c, c == p->tree->root.first_child, min_weight,
                    reduced);
    }
    if (pruned > 0) {
        render_pruned(b, p, pruned, pruned_weight, reduced);
    }
    rp_buf_puts(b, "</ul></div></section>\n");
}

/* The script's controls and the containers of its views; hidden until the
 * script shows them, so without script the page is the call tree alone. */
static void render_app_controls(rp_buf_t *b)
{
    rp_buf_puts(
        b, "<div class=\"rp-app\" id=\"rp-app\" hidden>"
           "<div class=\"rp-tabs\" role=\"tablist\">"
           "<button type=\"button\" role=\"tab\" data-rp-tab=\"tree\" "
           "aria-selected=\"true\">Call tree</button>"
           "<button type=\"button\" role=\"tab\" data-rp-tab=\"flame\" "
           "aria-selected=\"false\">Flame graph</button>"
           "<button type=\"button\" role=\"tab\" data-rp-tab=\"timeline\" "
           "aria-selected=\"false\">Timeline</button>"
           "<button type=\"button\" role=\"tab\" data-rp-tab=\"modules\" "
           "aria-selected=\"false\">Modules</button></div>\n"
           "<div class=\"rp-toolbar\">"
           "<input type=\"search\" id=\"rp-search\" placeholder=\"Search "
           "functions and objects\" autocomplete=\"off\" spellcheck=\"false\" "
           "aria-label=\"Search functions and objects\">"
           "<span class=\"rp-count\" id=\"rp-search-count\"></span>"
           "<label>Phase <select id=\"rp-phase-filter\"><option value=\"\">all "
           "phases</option></select></label>"
           "<span class=\"rp-range\" id=\"rp-range\" hidden>Time "
           "<span id=\"rp-range-text\"></span> <button type=\"button\" "
           "id=\"rp-range-clear\" title=\"Escape\">All time</button></span>"
           "<label title=\"Frames of the objects listed fold into their "
           "callers unless this is on\"><input type=\"checkbox\" "
           "id=\"rp-show-all\"> Show all frames</label>"
           "<span class=\"rp-note\" "
           "id=\"rp-collapse-note\"></span></div></div>\n");
}

static void render_views(rp_buf_t *b)
{
    rp_buf_puts(
        b,
        "<section class=\"rp-view\" id=\"rp-view-flame\" "
        "data-rp-view=\"flame\" hidden><h2>Flame graph</h2>"
        "<div class=\"rp-tools\"><button type=\"button\" "
        "id=\"rp-flame-reset\">Reset zoom</button><span class=\"rp-note\">"
        "Callers above callees; width is time. Click to zoom. Strip under a "
        "frame: on CPU (orange) vs waiting (purple).</span></div><div "
        "class=\"rp-flame\" id=\"rp-flame\">"
        "</div></section>\n"
        "<section class=\"rp-view\" id=\"rp-view-timeline\" "
        "data-rp-view=\"timeline\" hidden><h2>Timeline</h2>"
        "<div class=\"rp-timeline\" id=\"rp-timeline\"></div></section>\n"
        "<section class=\"rp-view\" id=\"rp-view-modules\" "
        "data-rp-view=\"modules\" hidden><h2>Time per module</h2>"
        "<div class=\"rp-modules\" id=\"rp-modules\"></div></section>\n"
        "<div class=\"rp-tip\" id=\"rp-tip\" role=\"tooltip\" hidden></div>\n");
}

const char *rp_html_render(const rp_profile_t *p, apr_pool_t *pool,
                           apr_size_t *len)
{
    /* A big tree's data is reduced, in scratch; the markup's tree is drawn
     * from the whole tree. */
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    rp_reduction_t reduction;
    const rp_profile_t *data =
        rp_profile_reduce(p, RP_HTML_DATA_NODES, scratch, &reduction);
    if (data == NULL) {
        data = p;
    }
    const rp_model_t *m = rp_profile_model(data);
    rp_buf_t b;
    unsigned shown = p->tree->node_count < RP_HTML_TREE_NODES
                         ? p->tree->node_count
                         : RP_HTML_TREE_NODES;
    rp_buf_init(&b, pool,
                65536 + (apr_size_t)shown * 600 +
                    (apr_size_t)data->tree->node_count * 80 +
                    (apr_size_t)p->sample_count * 16);
    rp_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                    "charset=\"utf-8\"><meta name=\"viewport\" "
                    "content=\"width=device-width\"><meta "
                    "name=\"generator\" content=\"mod_reqprof " RP_VERSION
                    "\"><title>Profile: ");
    rp_buf_html(&b, p->method);
    rp_buf_puts(&b, " ");
    rp_buf_html(&b, p->uri);
    rp_buf_puts(&b, "</title><style>");
    rp_buf_append(&b, rp_html_app_css, rp_html_app_css_len);
    rp_buf_puts(&b, "</style></head><body>\n");
    rp_buf_puts(&b, "<h1>mod_reqprof: request profile</h1>\n"
                    "<div class=\"rp-top\"><section class=\"rp-card\">"
                    "<h2>Request</h2>\n");
    render_summary(&b, p, pool);
    rp_buf_puts(&b, "</section><section class=\"rp-card\">");
    render_phases(&b, p, m);
    rp_buf_puts(&b, "</section></div>\n");
    render_app_controls(&b);
    if (data != p) {
        render_reduction(&b, p, &reduction);
    }
    render_tree(&b, p, data != p);
    render_views(&b);
    rp_buf_puts(&b, "<script type=\"application/json\" id=\"rp-data\">");
    rp_html_data(&b, data, m, pool);
    rp_buf_puts(&b, "</script>\n<script>");
    rp_buf_append(&b, rp_html_app_js, rp_html_app_js_len);
    rp_buf_puts(&b, "</script>\n</body></html>\n");
    apr_pool_destroy(scratch);
    *len = b.len;
    return rp_buf_str(&b);
}
