#include "rp_html.h"

#include <apr_strings.h>

#include "rp_buf.h"

static const char page_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;"
    "background:#fafbfc}"
    "h1{font-size:1.3em;margin:0 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .5em}"
    "table.rp-summary{border-collapse:collapse;font-size:13px}"
    ".rp-summary th{text-align:left;font-weight:600;padding:2px 14px 2px 0;"
    "color:#555}.rp-summary td{padding:2px "
    "0;font-family:ui-monospace,monospace;"
    "word-break:break-all}"
    ".rp-tree ul{list-style:none;margin:0;padding-left:1.1em;"
    "border-left:1px dotted #c8ccd4}.rp-tree>ul{padding-left:0;border:0}"
    ".rp-row{display:flex;gap:.6em;align-items:baseline;white-space:nowrap;"
    "font:13px ui-monospace,monospace;padding:1px 0;cursor:default}"
    "summary.rp-row{cursor:pointer;list-style:none}"
    "summary.rp-row::-webkit-details-marker{display:none}"
    "summary.rp-row::before{content:'\\25B8';width:.8em;color:#6b7280}"
    "details[open]>summary.rp-row::before{content:'\\25BE'}"
    "div.rp-row{padding-left:1.4em}"
    ".rp-ms{min-width:6.5em;text-align:right;color:#0b5394}"
    ".rp-pct{min-width:4em;text-align:right}"
    ".rp-bar{display:inline-block;width:80px;height:8px;background:#e4e7ec}"
    ".rp-bar>span{display:block;height:100%;background:#e8702a}"
    ".rp-fn{font-weight:600}.rp-obj,.rp-src{color:#6b7280}"
    ".rp-self{color:#8a5a00}.rp-wait{color:#5b4bb7}.rp-hot>.rp-row .rp-fn,"
    ".rp-hot>details>.rp-row .rp-fn{color:#b42318}"
    ".rp-tools{margin:.4em 0 .8em}.rp-tools button{margin-right:.5em}"
    ".rp-note{color:#555;font-size:13px}"
    "table.rp-phases{border-collapse:collapse;font:13px ui-monospace,monospace}"
    ".rp-phases th,.rp-phases td{padding:1px 12px 1px 0;text-align:right}"
    ".rp-phases th:first-child,.rp-phases td:first-child{text-align:left}"
    ".rp-span{width:320px;text-align:left}.rp-span>span{display:block;"
    "height:8px;background:#4a7bd0}";

/* Expand/collapse all; the tree itself works without script. */
static const char page_script[] =
    "document.querySelectorAll('[data-rp-open]').forEach(function(b){"
    "b.addEventListener('click',function(){var o=b.dataset.rpOpen==='1';"
    "document.querySelectorAll('.rp-tree details').forEach(function(d){"
    "d.open=o;});});});";

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
    summary_row(b, "split", "On CPU / waiting",
                apr_psprintf(pool, "%.3f ms / %.3f ms",
                             rp_profile_weight_ms(p, st->weight - st->wait_weight),
                             rp_profile_weight_ms(p, st->wait_weight)));
    summary_row(
        b, "sampling", "Sampling",
        apr_psprintf(pool,
                     "%s; %u signals (%u to a waiting thread), %u stacks "
                     "unwound without a signal, %u late intervals; sampler "
                     "thread CPU %.3f ms",
                     st->proc_readable
                         ? "waits read from /proc, never interrupted"
                         : "process not dumpable: one signal per wait",
                     st->signals, st->wait_signals, st->remote_unwinds,
                     st->late_intervals, (double)st->sampler_cpu_ns / 1e6));
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

static void render_phases(rp_buf_t *b, const rp_profile_t *p)
{
    uint64_t weight[RP_PHASE_COUNT] = {0};
    for (unsigned i = 0; i < p->sample_count; i++) {
        weight[p->samples[i].phase] += p->samples[i].weight;
    }
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
        double left = ph->first_us < 0 ? 0 : 100.0 * (double)ph->first_us / (double)span;
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

/* hot: the node lies on the heaviest path, which starts open. */
static void render_node(rp_buf_t *b, const rp_profile_t *p,
                        const rp_node_t *node, int hot)
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
    for (const rp_node_t *c = node->first_child; c; c = c->next_sibling) {
        render_node(b, p, c, hot && c == node->first_child);
    }
    rp_buf_puts(b, "</ul></details></li>\n");
}

static void render_tree(rp_buf_t *b, const rp_profile_t *p)
{
    rp_buf_puts(b, "<h2>Call tree</h2>\n");
    if (p->tree->root.total == 0) {
        rp_buf_puts(b,
                    "<p class=\"rp-note\" id=\"rp-empty\">No samples were "
                    "taken: the request finished within one interval.</p>\n");
        return;
    }
    rp_buf_puts(
        b, "<div class=\"rp-tools\"><button type=\"button\" "
           "data-rp-open=\"1\">Expand all</button><button type=\"button\" "
           "data-rp-open=\"0\">Collapse all</button><span class=\"rp-note\">"
           "Time is inclusive; self is time in the function itself. The "
           "heaviest path is open.</span></div>\n"
           "<div class=\"rp-tree\"><ul>\n");
    for (const rp_node_t *c = p->tree->root.first_child; c;
         c = c->next_sibling) {
        render_node(b, p, c, c == p->tree->root.first_child);
    }
    rp_buf_puts(b, "</ul></div>\n");
}

const char *rp_html_render(const rp_profile_t *p, apr_pool_t *pool,
                           apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 16384 + (apr_size_t)p->tree->node_count * 400);
    rp_buf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                    "charset=\"utf-8\"><meta name=\"viewport\" "
                    "content=\"width=device-width\"><title>Profile: ");
    rp_buf_html(&b, p->method);
    rp_buf_puts(&b, " ");
    rp_buf_html(&b, p->uri);
    rp_buf_printf(&b, "</title><style>%s</style></head><body>\n", page_style);
    rp_buf_puts(&b, "<h1>mod_reqprof: request profile</h1>\n");
    render_summary(&b, p, pool);
    render_phases(&b, p);
    render_tree(&b, p);
    rp_buf_printf(&b, "<script>%s</script>\n</body></html>\n", page_script);
    *len = b.len;
    return rp_buf_str(&b);
}
