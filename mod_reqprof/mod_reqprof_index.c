/* The reqprof-index handler: browses the profiles saved in the server's
 * ReqProfileDir.
 *
 *   (no query)              the list, newest first
 *   ?view=ID                a saved HTML report, as the report is served
 *   ?speedscope=ID          its speedscope file, as a download
 *                           (each saved format's query: rp_format's table)
 *   ?compare=ID&with=ID2    the two profiles' functions side by side
 *
 * Ids are checked against the form the module gives them (rp_store) before
 * any path is made of them. Like mod_status, the handler is protected by
 * the Require rules of the context it is set in. */
#include "mod_reqprof_index.h"

#include "mod_reqprof_config.h"

#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_script.h"

#include <apr_strings.h>

#include "rp_format.h"
#include "rp_index.h"
#include "rp_record.h"
#include "rp_store.h"

APLOG_USE_MODULE(reqprof);

/* The index's own pages: no script; forms submit to the index itself. */
#define INDEX_CSP                                                              \
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"

/* Profiles listed at most, newest first. */
#define LIST_MAX 2000
/* Longest record line read for the list, and largest sidecar read. */
#define LINE_MAX_BYTES (16 * 1024)
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

/* A saved file, as it is, served as its format's report is. */
static int send_saved(request_rec *r, const char *dir, const char *id,
                      const rp_format_t *fmt)
{
    const char *suffix = fmt->saved_suffix;
    const char *path = rp_store_path(r->pool, dir, id, suffix);
    if (path == NULL) {
        return HTTP_NOT_FOUND;
    }
    apr_file_t *fd;
    apr_finfo_t fi;
    apr_status_t rv = apr_file_open(&fd, path,
                                    APR_FOPEN_READ | APR_FOPEN_BINARY |
                                        APR_FOPEN_SENDFILE_ENABLED,
                                    APR_FPROT_OS_DEFAULT, r->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, fd);
    }
    if (rv != APR_SUCCESS) {
        if (APR_STATUS_IS_ENOENT(rv)) {
            return HTTP_NOT_FOUND;
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RP_LOG_TAG "cannot read saved profile %s", path);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    no_store_headers(r, fmt->content_type, fmt->csp);
    if (fmt->extension != NULL) {
        apr_table_setn(r->headers_out, "Content-Disposition",
                       apr_psprintf(r->pool,
                                    "attachment; filename=\"reqprof-%s%s\"", id,
                                    suffix));
    }
    ap_set_content_length(r, fi.size);
    if (r->header_only) {
        return OK;
    }
    apr_size_t sent = 0;
    rv = ap_send_fd(fd, r, 0, (apr_size_t)fi.size, &sent);
    return rv == APR_SUCCESS ? OK : DONE;
}

static const char *read_saved(request_rec *r, const char *dir, const char *id,
                              rp_saved_t *out, int *status)
{
    char *text;
    apr_size_t len;
    apr_status_t rv = rp_store_read(dir, id, RP_STORE_META, SIDECAR_MAX_BYTES,
                                    r->pool, &text, &len);
    if (rv != APR_SUCCESS) {
        *status = APR_STATUS_IS_ENOENT(rv) || rv == APR_EINVAL
                      ? HTTP_NOT_FOUND
                      : HTTP_INTERNAL_SERVER_ERROR;
        return "cannot read";
    }
    const char *err = rp_saved_parse(text, len, 1, r->pool, out);
    if (err != NULL) {
        *status = HTTP_INTERNAL_SERVER_ERROR;
        return err;
    }
    out->id = id;
    return NULL;
}

static int compare_page(request_rec *r, const char *dir, const char *a_id,
                        const char *b_id)
{
    rp_saved_t a, b;
    int status = OK;
    const char *err = read_saved(r, dir, a_id, &a, &status);
    if (err == NULL) {
        err = read_saved(r, dir, b_id, &b, &status);
    }
    if (err != NULL) {
        if (status != HTTP_NOT_FOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          RP_LOG_TAG "saved profile in %s: %s", dir, err);
        }
        return status;
    }
    apr_size_t len;
    const char *page = rp_index_render_compare(&a, &b, r->pool, &len);
    return send_page(r, page, len);
}

static int list_page(request_rec *r, const char *dir)
{
    apr_array_header_t *entries;
    apr_status_t rv =
        rp_store_scan(dir, apr_time_now(), r->pool, &entries, NULL);
    const char *note = NULL;
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      RP_LOG_TAG "ReqProfileDir %s: cannot list it", dir);
        note = "The profile directory cannot be read; see the error log.";
        entries = apr_array_make(r->pool, 1, sizeof(rp_store_entry_t));
    }
    rp_saved_t *items =
        apr_pcalloc(r->pool, sizeof(*items) * (size_t)(entries->nelts + 1));
    int n = 0;
    for (int i = 0; i < entries->nelts && n < LIST_MAX; i++) {
        const rp_store_entry_t *e =
            &APR_ARRAY_IDX(entries, i, rp_store_entry_t);
        char *line;
        if (!e->complete ||
            rp_store_read_line(dir, e->id, RP_STORE_META, LINE_MAX_BYTES,
                               r->pool, &line) != APR_SUCCESS ||
            rp_saved_parse(line, strlen(line), 0, r->pool, &items[n]) != NULL) {
            continue; /* removed meanwhile, or not a sidecar */
        }
        items[n++].id = e->id;
    }
    if (entries->nelts > LIST_MAX) {
        note =
            apr_psprintf(r->pool, "Only the newest %d are listed.", LIST_MAX);
    }
    rp_saved_link_previous(items, n);
    apr_size_t len;
    const char *page = rp_index_render_list(items, n, note, r->pool, &len);
    return send_page(r, page, len);
}

static int index_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, RP_INDEX_HANDLER) != 0) {
        return DECLINED;
    }
    r->allowed |= AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    const char *dir = rp_conf_dir(r->server);
    if (dir == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "%s: no ReqProfileDir is set for this "
                                 "server, nothing to list",
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
            return send_saved(r, dir, id, &formats[i]);
        }
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
        return compare_page(r, dir, compare, with);
    }
    return list_page(r, dir);
}

void rp_index_register(void)
{
    ap_hook_handler(index_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
