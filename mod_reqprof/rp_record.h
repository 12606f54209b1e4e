/* rp_record: what a log record and a saved profile's sidecar say about a
 * profile — the request, its times, the functions with the most self time
 * and the hottest path — as one logfmt line (rp_logfmt), and the sidecar's
 * per-function table (self and inclusive time) that comparisons read.
 *
 * Functions are counted as the report's default view shows them, by
 * rp_fold_funcs: frames of objects matching the profile's collapse patterns
 * fold into their nearest caller that does not match (frames with no such
 * caller stay). The record
 * and sidecar formats are described in docs/log-format.md; the sidecar is
 * written and read in rp_sidecar. Knows nothing of
 * httpd. */
#ifndef RP_RECORD_H
#define RP_RECORD_H

#include <apr_pools.h>
#include <stdint.h>

#include "rp_buf.h"
#include "rp_collapse.h" /* rp_glob_match */
#include "rp_fold.h"     /* rp_func_stat_t, rp_fold_funcs */
#include "rp_profile.h"

/* The record's version ("v=1"); raised when a key changes meaning or goes. */
#define RP_RECORD_VERSION 1
/* Functions named in a record (top1..topN, by self time). */
#define RP_RECORD_TOP 5
/* Innermost frames of the hottest path named in a record. */
#define RP_RECORD_HOT_FRAMES 12
/* Functions listed in a sidecar (by inclusive time). */
#define RP_RECORD_SIDECAR_FUNCS 500

/* The heaviest path from the outermost frame down, each step into the
 * heaviest callee, ending where a frame's self time outweighs that callee;
 * names joined by ';', without the frames of collapsed objects (the outermost
 * ones too: thread start, MPM, request loop), unless no other frame is on it;
 * at most max_frames of the innermost ("...;" in front when cut). "" for a
 * profile without samples. */
const char *rp_record_hot_path(const rp_profile_t *p, unsigned max_frames,
                               apr_pool_t *pool);

typedef struct rp_record_info {
    const char *id;     /* the saved profile's name, or NULL */
    const char *mode;   /* "log", "slow", "trigger" or "store" */
    apr_time_t ended;   /* when the response ended */
    const char *server; /* the ServerName that served it, or NULL */
    const char *node;   /* this machine's host name, or NULL */
    const char *trace;  /* the W3C trace id (32 hex digits), or NULL */
    const char *group;  /* the route it belongs to (ReqProfileGroup), or
                           NULL */
} rp_record_info_t;

/* The longest group (bytes): its maker cuts a longer one (rp_record_group). */
#define RP_RECORD_GROUP_MAX 200

/* A group name made of text (a ReqProfileGroup result, or the method and
 * path): control characters become '?', and it is cut to
 * RP_RECORD_GROUP_MAX bytes, never inside a UTF-8 character, so that the
 * record, the store's keys and the index all name it alike. */
const char *rp_record_group(const char *text, apr_pool_t *pool);

/* Appends the record (one logfmt line, no newline): type=reqprof v=1 ts id
 * mode pid tid host method path query status dur_ms cpu_ms wait_ms samples
 * interval_us clock [capped dropped] topN topN_ms topN_pct hot. */
void rp_record_line(rp_buf_t *b, const rp_profile_t *p,
                    const rp_record_info_t *info);

/* rp_record_line with the functions of rp_fold_funcs, already counted
 * (nfuncs of them), and pool for scratch. */
void rp_record_line_with(rp_buf_t *b, const rp_profile_t *p,
                         const rp_record_info_t *info,
                         const rp_func_stat_t *funcs, unsigned nfuncs,
                         apr_pool_t *pool);

/* The trace id of a W3C traceparent header value ("00-<32 hex>-<16 hex>-
 * <2 hex>"), lowercase, into out. 0 (out empty) for anything else: a
 * malformed or all-zero id, version ff, a version 00 value with more. */
int rp_record_trace_id(const char *traceparent, char out[33]);

/* ISO 8601 UTC with microseconds: "2026-11-25T19:22:01.123456Z". */
void rp_record_timestamp(char *out, apr_size_t size, apr_time_t t);

/* The sidecar, written and read (rp_record_sidecar, rp_saved_parse). */
#include "rp_sidecar.h"

#endif
