#include "rp_index.h"

#include <stdio.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_format.h"
#include "rp_group.h"

/* ---- the list ------------------------------------------------------------ */

void rp_saved_link_previous(rp_saved_t *items, int count)
{
    for (int i = 0; i < count; i++) {
        items[i].previous = NULL;
        for (int j = i + 1; j < count; j++) {
            if (strcmp(items[i].path, items[j].path) == 0 &&
                strcmp(items[i].method, items[j].method) == 0 &&
                strcmp(items[i].host, items[j].host) == 0) {
                items[i].previous = items[j].id;
                break;
            }
        }
    }
}

/* ---- pages ------------------------------------------------------------- */

static const char page_style[] =
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:20px}table{border-collapse:collapse}"
    "th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;"
    "vertical-align:top}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code,.mono{font:13px ui-monospace,monospace}"
    "td.mono,td.nw{white-space:nowrap}"
    "td.rp-path{white-space:normal;overflow-wrap:anywhere;min-width:16em}"
    ".slower{color:#b00020}.faster{color:#006b2e}"
    ".note{color:#555;margin:.5em 0}";

void rp_index_page_start(rp_buf_t *b, const char *title)
{
    rp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                   "<meta charset=\"utf-8\"><title>");
    rp_buf_html(b, title);
    rp_buf_puts(b, "</title><style>");
    rp_buf_puts(b, page_style);
    rp_buf_puts(b, "</style></head><body>\n<h1>");
    rp_buf_html(b, title);
    rp_buf_puts(b, "</h1>\n");
}

static void ms_cell(rp_buf_t *b, double ms)
{
    rp_buf_puts(b, "<td class=\"n\">");
    rp_buf_decimal(b, ms, 3);
    rp_buf_puts(b, "</td>");
}

static void uri_text(rp_buf_t *b, const rp_saved_t *s)
{
    rp_buf_html(b, s->path);
    if (s->query != NULL) {
        rp_buf_puts(b, "?");
        rp_buf_html(b, s->query);
    }
}

/* "?key=ID": ids are checked by the handler, escaped anyway. */
static void query_link(rp_buf_t *b, const char *query, const char *id,
                       const char *id2, const char *text)
{
    rp_buf_puts(b, "<a href=\"?");
    rp_buf_puts(b, query);
    rp_buf_puts(b, "=");
    rp_buf_html(b, id);
    if (id2 != NULL) {
        rp_buf_puts(b, "&amp;with=");
        rp_buf_html(b, id2);
    }
    rp_buf_puts(b, "\">");
    rp_buf_puts(b, text);
    rp_buf_puts(b, "</a>");
}

/* A link to each saved file reqprof-index serves, separated by spaces. */
static void saved_links(rp_buf_t *b, const char *id)
{
    int count, n = 0;
    const rp_format_t *formats = rp_formats(&count);
    for (int i = 0; i < count; i++) {
        if (formats[i].saved_suffix != NULL && formats[i].index_param != NULL) {
            if (n++ > 0) {
                rp_buf_puts(b, " ");
            }
            query_link(b, formats[i].index_param, id, NULL,
                       formats[i].index_label);
        }
    }
}

/* One text field of the filter form, its value escaped. */
static void filter_field(rp_buf_t *b, const char *name, const char *label,
                         const char *value, const char *size)
{
    rp_buf_printf(b, "<label>%s <input name=\"%s\" size=\"%s\" value=\"", label,
                  name, size);
    rp_buf_html(b, value != NULL ? value : "");
    rp_buf_puts(b, "\"></label> ");
}

void rp_index_filter_form(rp_buf_t *b, const rp_pstore_filter_t *f,
                          const char *group, int hours)
{
    static const rp_pstore_filter_t none = {0};
    if (f == NULL) {
        f = &none;
    }
    char status[16] = "", min_ms[32] = "";
    if (f->status != 0) {
        snprintf(status, sizeof(status), "%d", f->status);
    }
    if (f->min_ms > 0) {
        snprintf(min_ms, sizeof(min_ms), "%g", f->min_ms);
    }
    rp_buf_puts(b, "<form method=\"get\" action=\"\" class=\"rp-filter\">");
    if (group != NULL) {
        rp_buf_puts(b, "<input type=\"hidden\" name=\"group\" value=\"");
        rp_buf_html(b, group);
        rp_buf_printf(b,
                      "\"><input type=\"hidden\" name=\"hours\" "
                      "value=\"%d\">",
                      hours);
    }
    filter_field(b, "server", "server", f->server, "14");
    filter_field(b, "path", "path contains", f->path, "18");
    filter_field(b, "status", "status", status, "4");
    filter_field(b, "min_ms", "at least ms", min_ms, "6");
    filter_field(b, "trace", "trace id", f->trace, "34");
    rp_buf_puts(b, "<button type=\"submit\">Filter</button></form>\n");
}

static void drops_note(rp_buf_t *b, const rp_index_list_t *list)
{
    if (list->drop_count == 0) {
        return;
    }
    rp_buf_puts(b, "<p class=\"note rp-drops\">Profiles that could not be "
                   "written to the store (it was down, slow, or a queue was "
                   "full):");
    for (int i = 0; i < list->drop_count; i++) {
        rp_buf_puts(b, i ? ", " : " ");
        rp_buf_puts(b, "<span class=\"rp-drop\" data-host=\"");
        rp_buf_html(b, list->drops[i].node);
        rp_buf_puts(b, "\">");
        rp_buf_html(b, list->drops[i].node);
        rp_buf_printf(b, " %" APR_INT64_T_FMT "</span>",
                      (apr_int64_t)list->drops[i].count);
    }
    rp_buf_puts(b, ".</p>\n");
}

static void server_cell(rp_buf_t *b, const rp_saved_t *s)
{
    rp_buf_puts(b, "<td class=\"rp-server\">");
    rp_buf_html(b, s->server);
    if (s->node != NULL && *s->node != '\0') {
        rp_buf_puts(b, " <span class=\"note\">");
        rp_buf_html(b, s->node);
        rp_buf_printf(b, " %ld</span>", s->pid);
    }
    rp_buf_puts(b, "</td>");
}

static void saved_row(rp_buf_t *b, const rp_saved_t *s)
{
    rp_buf_puts(b, "<tr class=\"rp-saved\" data-id=\"");
    rp_buf_html(b, s->id);
    rp_buf_puts(b, "\"><td><input type=\"radio\" name=\"compare\" "
                   "value=\"");
    rp_buf_html(b, s->id);
    rp_buf_puts(b, "\"></td><td><input type=\"radio\" name=\"with\" "
                   "value=\"");
    rp_buf_html(b, s->id);
    rp_buf_puts(b, "\"></td><td class=\"mono\">");
    rp_buf_html(b, s->ts);
    rp_buf_puts(b, "</td>");
    server_cell(b, s);
    rp_buf_puts(b, "<td class=\"rp-method\">");
    rp_buf_html(b, s->method);
    rp_buf_puts(b, "</td><td>");
    rp_buf_html(b, s->host);
    rp_buf_puts(b, "</td><td class=\"rp-path mono\">");
    uri_text(b, s);
    rp_buf_printf(b, "</td><td class=\"n rp-status\">%d</td>", s->status);
    ms_cell(b, s->dur_ms);
    ms_cell(b, s->cpu_ms);
    rp_buf_printf(b, "<td class=\"n\">%ld</td><td>", s->samples);
    rp_buf_html(b, s->mode);
    rp_buf_puts(b, "</td><td class=\"mono\">");
    if (s->top1 != NULL) {
        rp_buf_html(b, s->top1);
        rp_buf_puts(b, " (");
        rp_buf_decimal(b, s->top1_pct, 1);
        rp_buf_puts(b, " %)");
    }
    rp_buf_puts(b, "</td><td class=\"mono rp-trace\">");
    rp_buf_html(b, s->trace != NULL ? s->trace : "");
    rp_buf_puts(b, "</td><td class=\"nw\">");
    saved_links(b, s->id);
    if (s->previous != NULL) {
        rp_buf_puts(b, " ");
        query_link(b, "compare", s->previous, s->id, "vs previous");
    }
    rp_buf_puts(b, "</td></tr>\n");
}

void rp_index_rows(rp_buf_t *b, const rp_saved_t *items, int count)
{
    rp_buf_puts(b, "<form method=\"get\" action=\"\">\n"
                   "<table class=\"rp-index\"><thead><tr><th>A</th><th>B</th>"
                   "<th>started (UTC)</th><th>server</th><th>method</th>"
                   "<th>host</th><th>path</th><th class=\"n\">status</th>"
                   "<th class=\"n\">duration ms</th><th class=\"n\">CPU ms</th>"
                   "<th class=\"n\">samples</th><th>mode</th>"
                   "<th>most self time</th><th>trace</th><th>open</th></tr>"
                   "</thead><tbody>\n");
    for (int i = 0; i < count; i++) {
        saved_row(b, &items[i]);
    }
    rp_buf_puts(b, "</tbody></table>\n");
    if (count > 1) {
        rp_buf_puts(b, "<p><button type=\"submit\">Compare A and B</button>"
                       "</p>\n");
    }
    rp_buf_puts(b, "</form>\n");
}

const char *rp_index_render_list_page(const rp_index_list_t *list,
                                      apr_pool_t *pool, apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 4096 + (apr_size_t)list->count * 1024);
    rp_index_page_start(&b, "mod_reqprof: saved profiles");
    rp_buf_printf(&b, "<p class=\"note\">%d saved profile%s, newest first",
                  list->count, list->count == 1 ? "" : "s");
    if (list->store != NULL) {
        rp_buf_puts(&b, " (");
        rp_buf_html(&b, list->store);
        rp_buf_puts(&b, ")");
    }
    rp_buf_puts(&b, ". Pick two (A = baseline, B) to compare them.</p>\n");
    if (list->note != NULL) {
        rp_buf_puts(&b, "<p class=\"note\">");
        rp_buf_html(&b, list->note);
        rp_buf_puts(&b, "</p>\n");
    }
    drops_note(&b, list);
    rp_group_render_table(&b, list->groups, list->group_count, list->hours);
    rp_index_filter_form(&b, list->filter, NULL, 0);
    rp_index_rows(&b, list->items, list->count);
    rp_buf_puts(&b, "</body></html>\n");
    *len = b.len;
    return rp_buf_str(&b);
}

const char *rp_index_render_list(const rp_saved_t *items, int count,
                                 const char *note, apr_pool_t *pool,
                                 apr_size_t *len)
{
    rp_index_list_t list = {.items = items, .count = count, .note = note};
    return rp_index_render_list_page(&list, pool, len);
}

/* ---- comparison ------------------------------------------------------- */

static int by_growth(const void *x, const void *y)
{
    const rp_compare_row_t *a = x, *b = y;
    double ga = a->self_b - a->self_a, gb = b->self_b - b->self_a;
    if (ga != gb) {
        return ga > gb ? -1 : 1;
    }
    double ta = a->total_b - a->total_a, tb = b->total_b - b->total_a;
    if (ta != tb) {
        return ta > tb ? -1 : 1;
    }
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->object, b->object);
}

int rp_compare_rows(const rp_saved_t *a, const rp_saved_t *b, apr_pool_t *pool,
                    rp_compare_row_t **rows)
{
    apr_hash_t *index = apr_hash_make(pool);
    apr_array_header_t *out = apr_array_make(
        pool, a->func_count + b->func_count + 1, sizeof(rp_compare_row_t));
    for (int side = 0; side < 2; side++) {
        const rp_saved_t *s = side == 0 ? a : b;
        for (int i = 0; i < s->func_count; i++) {
            const rp_saved_func_t *f = &s->funcs[i];
            const char *key = apr_pstrcat(pool, f->name, "\n", f->object, NULL);
            /* Positions (plus one), not pointers: the array moves as it
             * grows. */
            apr_uintptr_t pos =
                (apr_uintptr_t)apr_hash_get(index, key, APR_HASH_KEY_STRING);
            if (pos == 0) {
                rp_compare_row_t *fresh = apr_array_push(out);
                memset(fresh, 0, sizeof(*fresh));
                fresh->name = f->name;
                fresh->object = f->object;
                pos = (apr_uintptr_t)out->nelts;
                apr_hash_set(index, key, APR_HASH_KEY_STRING, (void *)pos);
            }
            rp_compare_row_t *row =
                &APR_ARRAY_IDX(out, (int)pos - 1, rp_compare_row_t);
            if (side == 0) {
                row->self_a += f->self_ms;
                row->total_a += f->total_ms;
            } else {
                row->self_b += f->self_ms;
                row->total_b += f->total_ms;
            }
        }
    }
    qsort(out->elts, (size_t)out->nelts, sizeof(rp_compare_row_t), by_growth);
    *rows = (rp_compare_row_t *)out->elts;
    return out->nelts;
}

static void delta_cell(rp_buf_t *b, double d)
{
    /* Differences under a microsecond are rounding, not change. */
    const char *cls = d > 0.0005 ? "slower" : d < -0.0005 ? "faster" : NULL;
    rp_buf_puts(b, "<td class=\"n");
    if (cls != NULL) {
        rp_buf_puts(b, " ");
        rp_buf_puts(b, cls);
    }
    rp_buf_puts(b, "\">");
    if (d > 0.0005) {
        rp_buf_puts(b, "+");
    }
    rp_buf_decimal(b, fabs(d) < 0.0005 ? 0 : d, 3);
    rp_buf_puts(b, "</td>");
}

static void summary_row(rp_buf_t *b, const char *label, const rp_saved_t *s)
{
    rp_buf_puts(b, "<tr><th>");
    rp_buf_puts(b, label);
    rp_buf_puts(b, "</th><td class=\"mono\"><a href=\"?view=");
    rp_buf_html(b, s->id);
    rp_buf_puts(b, "\">");
    rp_buf_html(b, s->id);
    rp_buf_puts(b, "</a></td><td class=\"mono\">");
    rp_buf_html(b, s->ts);
    rp_buf_puts(b, "</td><td>");
    rp_buf_html(b, s->method);
    rp_buf_puts(b, " ");
    rp_buf_html(b, s->host);
    rp_buf_puts(b, " <span class=\"mono\">");
    uri_text(b, s);
    rp_buf_printf(b, "</span></td><td class=\"n\">%d</td>", s->status);
    ms_cell(b, s->dur_ms);
    ms_cell(b, s->cpu_ms);
    rp_buf_printf(b, "<td class=\"n\">%ld</td></tr>\n", s->samples);
}

const char *rp_index_render_compare(const rp_saved_t *a, const rp_saved_t *b,
                                    apr_pool_t *pool, apr_size_t *len)
{
    rp_compare_row_t *rows;
    int n = rp_compare_rows(a, b, pool, &rows);
    rp_buf_t out;
    rp_buf_init(&out, pool, 4096 + (apr_size_t)n * 400);
    rp_index_page_start(&out, "mod_reqprof: compare two profiles");
    rp_buf_puts(&out, "<p class=\"note\"><a href=\"?\">All saved profiles</a>"
                      "</p>\n");
    if (strcmp(a->path, b->path) != 0 || strcmp(a->method, b->method) != 0) {
        rp_buf_puts(&out, "<p class=\"note\">These profiles are of different "
                          "requests.</p>\n");
    }
    rp_buf_puts(&out, "<table class=\"rp-pair\"><thead><tr><th></th>"
                      "<th>profile</th><th>started (UTC)</th><th>request</th>"
                      "<th class=\"n\">status</th><th class=\"n\">duration ms"
                      "</th><th class=\"n\">CPU ms</th><th class=\"n\">"
                      "samples</th></tr></thead><tbody>\n");
    summary_row(&out, "A", a);
    summary_row(&out, "B", b);
    rp_buf_puts(&out, "<tr><th>B &minus; A</th><td></td><td></td><td></td>"
                      "<td></td>");
    delta_cell(&out, b->dur_ms - a->dur_ms);
    delta_cell(&out, b->cpu_ms - a->cpu_ms);
    rp_buf_puts(&out, "<td></td></tr>\n</tbody></table>\n");
    rp_buf_puts(&out,
                "<h2>Functions</h2><p class=\"note\">Self time (samples "
                "ending in the function) and inclusive time (samples with it "
                "on the stack) in ms, A then B and the difference; the "
                "functions whose self time grew most first. Frames of "
                "libraries folded into their callers, as in the report.</p>\n"
                "<table class=\"rp-compare\"><thead><tr><th>function</th>"
                "<th>object</th><th class=\"n\">self A</th>"
                "<th class=\"n\">self B</th><th class=\"n\">self B&minus;A</th>"
                "<th class=\"n\">inclusive A</th><th class=\"n\">inclusive B"
                "</th><th class=\"n\">inclusive B&minus;A</th></tr></thead>"
                "<tbody>\n");
    for (int i = 0; i < n; i++) {
        const rp_compare_row_t *r = &rows[i];
        rp_buf_puts(&out, "<tr class=\"rp-func\" data-func=\"");
        rp_buf_html(&out, r->name);
        rp_buf_printf(&out,
                      "\" data-self-delta=\"%.3f\" "
                      "data-total-delta=\"%.3f\"><td class=\"mono\">",
                      r->self_b - r->self_a, r->total_b - r->total_a);
        rp_buf_html(&out, r->name);
        rp_buf_puts(&out, "</td><td class=\"mono\">");
        rp_buf_html(&out, r->object);
        rp_buf_puts(&out, "</td>");
        ms_cell(&out, r->self_a);
        ms_cell(&out, r->self_b);
        delta_cell(&out, r->self_b - r->self_a);
        ms_cell(&out, r->total_a);
        ms_cell(&out, r->total_b);
        delta_cell(&out, r->total_b - r->total_a);
        rp_buf_puts(&out, "</tr>\n");
    }
    rp_buf_puts(&out, "</tbody></table>\n</body></html>\n");
    *len = out.len;
    return rp_buf_str(&out);
}
