#include "rp_sidecar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_logfmt.h"

/* ---- writing ------------------------------------------------------------ */

const char *rp_record_sidecar(const rp_profile_t *p,
                              const rp_record_info_t *info, apr_pool_t *pool,
                              apr_size_t *len)
{
    rp_func_stat_t *funcs;
    unsigned n = rp_fold_funcs(p, pool, &funcs);
    rp_buf_t b;
    rp_buf_init(&b, pool, 1024 + 160 * (apr_size_t)n);
    rp_record_line_with(&b, p, info, funcs, n, pool);
    rp_buf_puts(&b, "\n");
    rp_buf_t line;
    rp_buf_init(&line, pool, 256);
    for (unsigned i = 0; i < n && i < RP_RECORD_SIDECAR_FUNCS; i++) {
        line.len = 0;
        rp_logfmt_str(&line, "type", "func", 0);
        rp_logfmt_str(&line, "name", funcs[i].name, RP_LOGFMT_MAX_VALUE);
        rp_logfmt_str(&line, "object", funcs[i].object, 256);
        rp_logfmt_num(&line, "self_ms", rp_profile_weight_ms(p, funcs[i].self),
                      3);
        rp_logfmt_num(&line, "total_ms",
                      rp_profile_weight_ms(p, funcs[i].total), 3);
        rp_buf_append(&b, line.data, line.len);
        rp_buf_puts(&b, "\n");
    }
    *len = b.len;
    return rp_buf_str(&b);
}

/* ---- reading ------------------------------------------------------------ */

static const char *str_or_empty(const apr_array_header_t *pairs,
                                const char *key)
{
    const char *v = rp_logfmt_get(pairs, key);
    return v ? v : "";
}

static double num(const apr_array_header_t *pairs, const char *key)
{
    const char *v = rp_logfmt_get(pairs, key);
    if (v == NULL) {
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    return *end == '\0' && isfinite(d) ? d : 0;
}

const char *rp_saved_parse(const char *text, apr_size_t len, int with_funcs,
                           apr_pool_t *pool, rp_saved_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *end = text + len;
    const char *nl = memchr(text, '\n', len);
    const char *line_end = nl ? nl : end;
    apr_array_header_t *pairs;
    const char *err =
        rp_logfmt_parse(text, (apr_size_t)(line_end - text), pool, &pairs);
    if (err != NULL) {
        return err;
    }
    const char *type = rp_logfmt_get(pairs, "type");
    if (type == NULL || strcmp(type, "reqprof") != 0) {
        return "the first line is not a reqprof record";
    }
    out->id = str_or_empty(pairs, "id");
    out->ts = str_or_empty(pairs, "ts");
    out->mode = str_or_empty(pairs, "mode");
    out->host = str_or_empty(pairs, "host");
    out->method = str_or_empty(pairs, "method");
    out->path = str_or_empty(pairs, "path");
    out->query = rp_logfmt_get(pairs, "query");
    out->status = (int)num(pairs, "status");
    out->dur_ms = num(pairs, "dur_ms");
    out->cpu_ms = num(pairs, "cpu_ms");
    out->wait_ms = num(pairs, "wait_ms");
    out->samples = (long)num(pairs, "samples");
    out->top1 = rp_logfmt_get(pairs, "top1");
    out->top1_pct = num(pairs, "top1_pct");
    out->server = str_or_empty(pairs, "server");
    out->node = str_or_empty(pairs, "node");
    out->pid = (long)num(pairs, "pid");
    out->trace = str_or_empty(pairs, "trace");
    out->group = str_or_empty(pairs, "group");
    if (!with_funcs) {
        return NULL;
    }
    apr_array_header_t *funcs =
        apr_array_make(pool, 64, sizeof(rp_saved_func_t));
    for (const char *p = nl ? nl + 1 : end; p < end;) {
        nl = memchr(p, '\n', (apr_size_t)(end - p));
        line_end = nl ? nl : end;
        if (rp_logfmt_parse(p, (apr_size_t)(line_end - p), pool, &pairs) ==
                NULL &&
            strcmp(str_or_empty(pairs, "type"), "func") == 0) {
            rp_saved_func_t *f = apr_array_push(funcs);
            f->name = str_or_empty(pairs, "name");
            f->object = str_or_empty(pairs, "object");
            f->self_ms = num(pairs, "self_ms");
            f->total_ms = num(pairs, "total_ms");
        }
        p = nl ? nl + 1 : end;
    }
    out->funcs = (rp_saved_func_t *)funcs->elts;
    out->func_count = funcs->nelts;
    return NULL;
}
