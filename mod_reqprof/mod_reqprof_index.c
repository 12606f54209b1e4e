/* The reqprof-index handler: browses the profiles saved in the server's
 * store.
 *
 *   (no query)              the list, newest first
 *   ?view=ID                a saved HTML report, as the report is served
 *   ?speedscope=ID          its speedscope file, as a download
 *                           (each saved format's query: rp_format's table)
 *   ?compare=ID&with=ID2    the two profiles' functions side by side
 *
 *   ?server=&path=&status=&min_ms=&trace=   the list, filtered
 *
 * The profiles come from the server's store (rp_pstore: ReqProfileDir or a
 * shared Redis). Ids are checked against the form the module gives them
 * (rp_store) before any path or key is made of them. Like mod_status, the
 * handler is protected by the Require rules of the context it is set in;
 * and as the profiles it shows are what a trigger would show, it answers
 * only the clients the context's ReqProfileRequire admits (by default:
 * loopback, not forwarded), so a client that may not profile may not read
 * profiles either, even where the admin wrote no Require. */
#include "mod_reqprof_index.h"

#include "mod_reqprof_config.h"
#include "mod_reqprof_decide.h"
#include "mod_reqprof_store.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"

#include <apr_strings.h>

#include "rp_diffgraph.h"
#include "rp_format.h"
#include "rp_group.h"
#include "rp_index.h"
#include "rp_record.h"
#include "rp_stacks.h"
#include "rp_store.h"

APLOG_USE_MODULE(reqprof);

/* The index's own pages: no script; forms submit to the index itself. */
#define INDEX_CSP                                                              \
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

/* Profiles listed at most, newest first. */
#define LIST_MAX 2000
/* Profiles of a window read at most, for groups and merges. */
#define WINDOW_MAX 20000
/* Rows of a group's profiles listed at most. */
#define GROUP_ROWS_SHOWN 500
/* A group's slowest profiles shown. */
#define SLOWEST_SHOWN 5
/* Largest sidecar read. */
#define SIDECAR_MAX_BYTES (4 * 1024 * 1024)

static void no_store_headers(request_rec *r, const char *type, const char *csp)
{
    ap_set_content_type(r, type);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Content-Type-Options", "nosniff");
    if (csp != NULL) {
        apr_table_setn(r->headers_out, "Content-Security-Policy", csp);
    }
}

static int send_page(request_rec *r, const char *body, apr_size_t len)
{
    no_store_headers(r, "text/html; charset=utf-8", INDEX_CSP);
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

/* Largest saved file served. */
#define SAVED_MAX_BYTES (256 * 1024 * 1024)

static int failed_read(request_rec *r, rp_pstore_t *store, apr_status_t rv,
                       const char *id, const char *why)
{
    if (rv == APR_ENOENT || APR_STATUS_IS_ENOENT(rv)) {
        return HTTP_NOT_FOUND;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                  RP_LOG_TAG "%s: cannot read saved profile %s: %s",
                  rp_pstore_name(store), id, why ? why : "too large");
    return rv == APR_ENOMEM ? HTTP_INTERNAL_SERVER_ERROR : HTTP_BAD_GATEWAY;
}

/* A saved file, as it is, served as its format's report is. */
static int send_saved(request_rec *r, rp_pstore_t *store, const char *id,
                      const rp_format_t *fmt)
{
    char *data;
    apr_size_t len;
    const char *why = NULL;
    apr_status_t rv =
        rp_pstore_fetch(store, id, fmt->saved_suffix, SAVED_MAX_BYTES, r->pool,
                        &data, &len, &why);
    if (rv != APR_SUCCESS) {
        return failed_read(r, store, rv, id, why);
    }
    no_store_headers(r, fmt->content_type, fmt->csp);
    if (fmt->extension != NULL) {
        apr_table_setn(r->headers_out, "Content-Disposition",
                       apr_psprintf(r->pool,
                                    "attachment; filename=\"reqprof-%s%s\"", id,
                                    fmt->saved_suffix));
    }
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(data, (int)len, r);
    }
    return OK;
}

static int read_saved(request_rec *r, rp_pstore_t *store, const char *id,
                      rp_saved_t *out)
{
    char *text;
    apr_size_t len;
    const char *why = NULL;
    apr_status_t rv =
        rp_pstore_fetch(store, id, RP_STORE_META, SIDECAR_MAX_BYTES, r->pool,
                        &text, &len, &why);
    if (rv != APR_SUCCESS) {
        return failed_read(r, store, rv, id, why);
    }
    const char *err = rp_saved_parse(text, len, 1, r->pool, out);
    if (err != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: saved profile %s: %s",
                      rp_pstore_name(store), id, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    out->id = id;
    return OK;
}

static int compare_page(request_rec *r, rp_pstore_t *store, const char *a_id,
                        const char *b_id)
{
    rp_saved_t a, b;
    int status = read_saved(r, store, a_id, &a);
    if (status == OK) {
        status = read_saved(r, store, b_id, &b);
    }
    if (status != OK) {
        return status;
    }
    apr_size_t len;
    const char *page = rp_index_render_compare(&a, &b, r->pool, &len);
    return send_page(r, page, len);
}

/* The filter the query asks for; values that are not what a field holds
 * are ignored (a listing is never refused for a filter). */
static void filter_from(apr_table_t *args, rp_pstore_filter_t *f)
{
    memset(f, 0, sizeof(*f));
    f->server = apr_table_get(args, "server");
    f->path = apr_table_get(args, "path");
    const char *status = apr_table_get(args, "status");
    if (status != NULL) {
        int n = atoi(status);
        f->status = n >= 100 && n <= 999 ? n : 0;
    }
    const char *min_ms = apr_table_get(args, "min_ms");
    if (min_ms != NULL) {
        char *end = NULL;
        double v = strtod(min_ms, &end);
        f->min_ms = end != min_ms && *end == '\0' && v > 0 && v < 1e9 ? v : 0;
    }
    f->trace = apr_table_get(args, "trace");
}

/* The profiles of group (NULL: every group) stored in the last hours,
 * newest first; -1 (none) if the store cannot be read. */
static int window_of(request_rec *r, rp_pstore_t *store, const char *group,
                     int hours, rp_saved_t **items)
{
    rp_pstore_filter_t window = {
        .group = group,
        .since = apr_time_now() - apr_time_from_sec((apr_time_t)hours * 3600)};
    int count = 0, scanned = 0;
    const char *why = NULL;
    if (rp_pstore_list(store, &window, WINDOW_MAX, r->pool, items, &count,
                       &scanned, &why) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: cannot list saved profiles: %s",
                      rp_pstore_name(store), why ? why : "unknown error");
        return -1;
    }
    return count;
}

/* ---- a route's merged and differential flame graphs ---------------------- */

/* Largest stacks file read. */
#define STACKS_MAX_BYTES (16 * 1024 * 1024)

static void add_stacks(void *ctx, const char *id, const char *data,
                       apr_size_t len)
{
    (void)id;
    rp_stacks_sum_add(ctx, data, len);
}

/* The stacks of group's profiles stored in [since, until), summed into a
 * profile; NULL (logged) if the store cannot be read. */
static rp_profile_t *sum_window(request_rec *r, rp_pstore_t *store,
                                const char *group, apr_time_t since,
                                apr_time_t until, unsigned *profiles)
{
    rp_pstore_filter_t window = {
        .group = group, .since = since, .until = until};
    rp_saved_t *items;
    int count = 0, scanned = 0;
    const char *why = NULL;
    apr_status_t rv = rp_pstore_list(store, &window, WINDOW_MAX, r->pool,
                                     &items, &count, &scanned, &why);
    const char **ids = apr_palloc(r->pool, sizeof(*ids) * (count + 1));
    for (int i = 0; i < count; i++) {
        ids[i] = items[i].id;
    }
    rp_stacks_sum_t *sum = rp_stacks_sum_create(r->pool);
    if (rv == APR_SUCCESS) {
        rv = rp_pstore_fetch_each(store, ids, count, RP_STORE_STACKS,
                                  STACKS_MAX_BYTES, add_stacks, sum, r->pool,
                                  &why);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: cannot read the profiles of a group: %s",
                      rp_pstore_name(store), why ? why : "unknown error");
        return NULL;
    }
    rp_profile_t *p = apr_pcalloc(r->pool, sizeof(*p));
    rp_stacks_sum_profile(sum, p);
    *profiles = rp_stacks_sum_profiles(sum);
    p->summed_profiles = *profiles;
    return p;
}

static const char *window_text(apr_pool_t *pool, int hours)
{
    return hours % 24 == 0
               ? apr_psprintf(pool, "%d day%s", hours / 24,
                              hours == 24 ? "" : "s")
               : apr_psprintf(pool, "%d hour%s", hours, hours == 1 ? "" : "s");
}

/* One flame graph of every profile of the group stored in the window: the
 * report as one request's is shown, the stacks summed. */
static int merged_page(request_rec *r, rp_pstore_t *store, const char *group,
                       apr_table_t *args)
{
    int hours = rp_group_hours(apr_table_get(args, "hours"));
    apr_time_t now = apr_time_now();
    apr_time_t since = now - apr_time_from_sec((apr_time_t)hours * 3600);
    unsigned profiles = 0;
    rp_profile_t *p = sum_window(r, store, group, since, 0, &profiles);
    if (p == NULL) {
        return HTTP_BAD_GATEWAY;
    }
    p->method = "ROUTE";
    p->uri = apr_psprintf(r->pool, "%s (%u profiles, the last %s)", group,
                          profiles, window_text(r->pool, hours));
    p->host = "";
    p->server = "";
    p->mpm = "";
    p->request_started = p->started = since;
    /* Any report format (format=collapsed, pprof, ...): a route's profile
     * to take elsewhere. */
    const char *asked = apr_table_get(args, "format");
    rp_format_e id = asked != NULL ? rp_format_by_name(asked) : RP_FORMAT_HTML;
    const rp_format_t *fmt = rp_format_get(id);
    if (fmt == NULL) {
        return HTTP_NOT_FOUND;
    }
    apr_size_t len;
    const char *body = rp_format_render(fmt, p, 0, r->pool, &len);
    no_store_headers(r, fmt->content_type, fmt->csp);
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

/* One profile's stacks as a profile of its own. */
static rp_profile_t *profile_stacks(request_rec *r, rp_pstore_t *store,
                                    const char *id, int *status)
{
    char *data;
    apr_size_t len;
    const char *why = NULL;
    apr_status_t rv =
        rp_pstore_fetch(store, id, RP_STORE_STACKS, STACKS_MAX_BYTES, r->pool,
                        &data, &len, &why);
    if (rv != APR_SUCCESS) {
        *status = failed_read(r, store, rv, id, why);
        return NULL;
    }
    rp_stacks_sum_t *sum = rp_stacks_sum_create(r->pool);
    rp_stacks_sum_add(sum, data, len);
    rp_profile_t *p = apr_pcalloc(r->pool, sizeof(*p));
    rp_stacks_sum_profile(sum, p);
    return p;
}

/* The group's window against the window before it, or (with id) one of
 * its profiles against the group's window. */
static int diff_page(request_rec *r, rp_pstore_t *store, const char *group,
                     apr_table_t *args)
{
    int hours = rp_group_hours(apr_table_get(args, "hours"));
    const char *id = apr_table_get(args, "id");
    apr_time_t now = apr_time_now();
    apr_interval_time_t span = apr_time_from_sec((apr_time_t)hours * 3600);
    const char *window = window_text(r->pool, hours);
    unsigned n_before = 0, n_after = 0;
    rp_profile_t *before, *after;
    rp_diffgraph_labels_t labels;
    int status = OK;
    if (id != NULL) {
        if (!rp_store_id_valid(id)) {
            return HTTP_NOT_FOUND;
        }
        before = sum_window(r, store, group, now - span, 0, &n_before);
        after = before ? profile_stacks(r, store, id, &status) : NULL;
        labels.before = apr_psprintf(r->pool,
                                     "the group, %u profiles of the "
                                     "last %s",
                                     n_before, window);
        labels.after = apr_pstrcat(r->pool, "profile ", id, NULL);
    } else {
        before =
            sum_window(r, store, group, now - 2 * span, now - span, &n_before);
        after = before ? sum_window(r, store, group, now - span, 0, &n_after)
                       : NULL;
        labels.before = apr_psprintf(r->pool, "the %s before, %u profiles",
                                     window, n_before);
        labels.after =
            apr_psprintf(r->pool, "the last %s, %u profiles", window, n_after);
    }
    if (before == NULL || after == NULL) {
        return status != OK ? status : HTTP_BAD_GATEWAY;
    }
    labels.title = apr_pstrcat(r->pool, "mod_reqprof: ", group, NULL);
    apr_size_t len;
    const char *page =
        rp_diffgraph_render(before, after, &labels, r->pool, &len);
    return send_page(r, page, len);
}

static int list_page(request_rec *r, rp_pstore_t *store, apr_table_t *args)
{
    rp_pstore_filter_t filter;
    filter_from(args, &filter);
    rp_index_list_t list = {.store = rp_pstore_name(store), .filter = &filter};
    rp_saved_t *items;
    int scanned = 0;
    const char *why = NULL;
    if (rp_pstore_list(store, &filter, LIST_MAX, r->pool, &items, &list.count,
                       &scanned, &why) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: cannot list saved profiles: %s",
                      rp_pstore_name(store), why ? why : "unknown error");
        list.note = "The profile store cannot be read; see the error log.";
    } else if (list.count >= LIST_MAX) {
        list.note =
            apr_psprintf(r->pool, "Only the newest %d are listed.", LIST_MAX);
    }
    apr_array_header_t *drops;
    if (rp_pstore_drops(store, r->pool, &drops, NULL) == APR_SUCCESS) {
        list.drops = (const rp_redis_drop_t *)drops->elts;
        list.drop_count = drops->nelts;
    }
    rp_saved_link_previous(items, list.count);
    list.items = items;
    list.hours = rp_group_hours(apr_table_get(args, "hours"));
    rp_saved_t *window;
    int window_count = window_of(r, store, NULL, list.hours, &window);
    window_count = window_count < 0 ? 0 : window_count;
    list.group_count = rp_group_stats(window, window_count, r->pool,
                                      (rp_group_stat_t **)&list.groups);
    apr_size_t len;
    const char *page = rp_index_render_list_page(&list, r->pool, &len);
    return send_page(r, page, len);
}

/* A group's page: its numbers and slowest profiles over the window, the
 * slowest the store keeps, and the window's profiles the filter keeps. */
static int group_page(request_rec *r, rp_pstore_t *store, const char *group,
                      apr_table_t *args)
{
    rp_pstore_filter_t filter;
    filter_from(args, &filter);
    rp_group_page_t page = {.name = group,
                            .hours =
                                rp_group_hours(apr_table_get(args, "hours")),
                            .filter = &filter};
    rp_saved_t *window;
    int count = window_of(r, store, group, page.hours, &window);
    if (count < 0) {
        page.note = "The profile store cannot be read; see the error log.";
        count = 0;
    }
    rp_group_stat_t *stats;
    if (rp_group_stats(window, count, r->pool, &stats) > 0) {
        page.stat = &stats[0];
    }
    page.slowest = rp_group_slowest(window, count, SLOWEST_SHOWN, r->pool,
                                    &page.slowest_count);
    rp_saved_t *kept;
    if (rp_pstore_kept(store, group, r->pool, &kept, &page.kept_count, NULL) ==
        APR_SUCCESS) {
        page.kept = kept;
    }
    /* The numbers cover the whole window; the table its newest rows. */
    rp_saved_t *items = apr_palloc(r->pool, sizeof(*items) * (count + 1));
    int matched = 0;
    for (int i = 0; i < count; i++) {
        if (rp_pstore_filter_match(&filter, &window[i]) &&
            matched++ < GROUP_ROWS_SHOWN) {
            items[page.count++] = window[i];
        }
    }
    if (matched > page.count && page.note == NULL) {
        page.note = apr_psprintf(r->pool,
                                 "The newest %d of the %d profiles that match "
                                 "are listed.",
                                 page.count, matched);
    }
    rp_saved_link_previous(items, page.count);
    page.items = items;
    apr_size_t len;
    const char *body = rp_group_render_page(&page, r->pool, &len);
    return send_page(r, body, len);
}

static RP_OUT_OF_LINE int serve_index(request_rec *r)
{
    r->allowed |= AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    const char *refusal = rp_client_refusal(r, rp_dir_conf(r));
    if (refusal != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: client refused: %s. The index shows "
                                 "stored profiles, so it answers the clients "
                                 "ReqProfileRequire admits in its context",
                      RP_INDEX_HANDLER, refusal);
        return HTTP_FORBIDDEN;
    }
    rp_pstore_t *store = rp_storage_of(r);
    if (store == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: no ReqProfileDir or ReqProfileStore "
                                 "is set for this server, nothing to list",
                      RP_INDEX_HANDLER);
        return HTTP_NOT_FOUND;
    }
    apr_table_t *args = NULL;
    ap_args_to_table(r, &args);
    int count;
    const rp_format_t *formats = rp_formats(&count);
    for (int i = 0; i < count; i++) {
        const char *id =
            formats[i].saved_suffix != NULL && formats[i].index_param != NULL
                ? apr_table_get(args, formats[i].index_param)
                : NULL;
        if (id != NULL) {
            return send_saved(r, store, id, &formats[i]);
        }
    }
    const char *group = apr_table_get(args, "group");
    if (group != NULL) {
        return group_page(r, store, group, args);
    }
    const char *merged = apr_table_get(args, "merged");
    if (merged != NULL) {
        return merged_page(r, store, merged, args);
    }
    const char *diff = apr_table_get(args, "diff");
    if (diff != NULL) {
        return diff_page(r, store, diff, args);
    }
    const char *compare = apr_table_get(args, "compare");
    const char *with = apr_table_get(args, "with");
    if (compare != NULL || with != NULL) {
        if (compare == NULL || with == NULL) {
            return HTTP_BAD_REQUEST; /* pick two */
        }
        if (!rp_store_id_valid(compare) || !rp_store_id_valid(with)) {
            return HTTP_NOT_FOUND;
        }
        return compare_page(r, store, compare, with);
    }
    return list_page(r, store, args);
}

/* Every request's fixups and handler ask: the first three letters settle
 * most ("redirect-handler" shares two). */
static int for_the_index(const request_rec *r)
{
    const char *h = r->handler;
    return h != NULL && h[0] == RP_INDEX_HANDLER[0] &&
           h[1] == RP_INDEX_HANDLER[1] && h[2] == RP_INDEX_HANDLER[2] &&
           strcmp(h, RP_INDEX_HANDLER) == 0;
}

/* The index shows stored profiles to the clients its context's rule
 * admits. The default rule judges a client by the forwarding headers its
 * request arrived with: judged first among fixups, before mod_headers'
 * RequestHeader (a late fixup) may remove the proxy's. SetHandler's
 * handler is set by then (core's own first fixup, ordered before this). */
static RP_HOOK_GATE int judge_index_client(request_rec *r)
{
    if (for_the_index(r)) {
        rp_client_judge_now(r, rp_dir_conf(r));
    }
    return DECLINED;
}

static RP_HOOK_GATE int index_handler(request_rec *r)
{
    if (!for_the_index(r)) {
        return DECLINED;
    }
    return serve_index(r);
}

void rp_index_register_request_hooks(void)
{
    static const char *const core[] = {"core.c", NULL};
    ap_hook_fixups(judge_index_client, core, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_handler(index_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
