/* Who may profile a request, and how (mod_reqprof_decide.c): the one place
 * where the loopback default, ReqProfileRequire, the client's query, the
 * format it asks for and log mode's choice are judged. */
#ifndef MOD_REQPROF_DECIDE_H
#define MOD_REQPROF_DECIDE_H

#include "mod_reqprof.h"

#include "mod_reqprof_config.h"

#include "rp_format.h"

typedef enum {
    /* post_read_request: the server's configuration; only the default rule
     * can be judged this early, on the headers as they arrived. */
    RP_DECIDE_EARLY,
    /* fixups: the directory's configuration; access checks have passed. */
    RP_DECIDE_FINAL
} rp_decide_stage_e;

/* What conf wants done with r. */
typedef struct rp_decision {
    rp_format_e report; /* a report in this format, or RP_FORMAT_NONE */
    int log;            /* log mode profiles it (before ReqProfileSampleRate);
                           never with a report */
    int store;          /* the client asked to store it (profile=store or
                           the RP_STORE_HEADER header): the response passes,
                           the profile goes to the server's store */
} rp_decision_t;

/* A request header an API client or a browser extension sends, with the
 * value 1, to have a request stored as profile=store does. */
#define RP_STORE_HEADER "X-ReqProfile-Store"
/* The trigger's value that stores instead of replacing. */
#define RP_STORE_VALUE "store"

/* Reserves the request note the default rule's verdict is kept in
 * (register_hooks). */
void rp_decide_register(void);

/* The query string the client sent: mod_rewrite may have replaced r->args
 * since, and the client's trigger must still count. */
static inline const char *rp_client_query(const request_rec *r)
{
    const request_rec *initial = r;
    while (initial->prev != NULL) {
        initial = initial->prev;
    }
    return initial->parsed_uri.query ? initial->parsed_uri.query : r->args;
}

/* conf's context logs, or r's server has a store (whose clients may ask
 * with a header): r may ask whatever its query holds. Otherwise only a
 * query that may name a trigger asks for anything: the request hooks test
 * this first (inline: every request's hooks ask) and look into the query
 * only then, out of line. */
static inline int rp_decide_asked_without_query(const request_rec *r,
                                                const rp_dir_conf_t *conf)
{
    return rp_conf_log_mode(conf) != RP_LOG_OFF ||
           rp_conf_store(r->server) != NULL;
}

rp_decision_t rp_decide(request_rec *r, const rp_dir_conf_t *conf,
                        rp_decide_stage_e stage);

/* Whether conf logs this request (ReqProfileLog), before the sample rate. */
int rp_decide_log(const request_rec *r, const rp_dir_conf_t *conf);

/* The client's query carries conf's trigger and conf's rule admits the
 * client (whether the context profiles is not asked). */
int rp_decide_trigger_admitted(request_rec *r, const rp_dir_conf_t *conf);

/* conf's ReqProfileRequire (by default: a loopback client whose request
 * carries no forwarding header, unless mod_remoteip named the client) admits
 * r's client. */
int rp_client_allowed(request_rec *r, const rp_dir_conf_t *conf);

/* Why that rule refuses r's client, or NULL if it admits it. */
const char *rp_client_refusal(request_rec *r, const rp_dir_conf_t *conf);

/* Judges the default rule for r now if conf uses it: every later question
 * about r's client gets the answer its headers give now, whatever a later
 * phase removes from them. */
void rp_client_judge_now(request_rec *r, const rp_dir_conf_t *conf);

#endif
