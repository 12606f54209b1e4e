/* Who may profile a request, and how: the loopback default (with its
 * forwarding-header rule) or ReqProfileRequire, the trigger in the client's
 * query and the format it asks for, and whether log mode wants the
 * request. The request's state machine (mod_reqprof_request.c) acts on
 * what this file decides. */
#include "mod_reqprof_decide.h"

#include "mod_reqprof_process.h"

#include "http_log.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "rp_trigger.h"

APLOG_USE_MODULE(reqprof);

static int client_is_loopback(const request_rec *r)
{
    const apr_sockaddr_t *sa = r->useragent_addr;
    if (sa == NULL) {
        return 0;
    }
    if (sa->family == AF_INET) {
        return (ntohl(sa->sa.sin.sin_addr.s_addr) >> 24) == 127;
    }
#if APR_HAVE_IPV6
    if (sa->family == AF_INET6) {
        const struct in6_addr *a = &sa->sa.sin6.sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
#endif
    return 0;
}

/* Request headers that say a proxy forwarded the request for another
 * client. A loopback request carrying any of them, whatever its value,
 * came through a proxy on this host (or pretends to): its real client is
 * unknown, so the default rule refuses it. */
static const char *const forwarding_headers[] = {
    "Forwarded",           /* RFC 7239, the standard form */
    "X-Forwarded-For",     /* mod_proxy_http, nginx, HAProxy, Varnish, most
                              load balancers */
    "X-Real-IP",           /* nginx's usual proxy_set_header */
    "Via",                 /* RFC 9110: every proxy should add it; ProxyVia,
                              Squid, Varnish */
    "X-Forwarded-Host",    /* mod_proxy_http (the client's Host), Traefik */
    "X-Forwarded-Server",  /* mod_proxy_http (the proxy's ServerName) */
    "X-Client-IP",         /* load balancers and CDNs */
    "True-Client-IP",      /* Akamai, Cloudflare Enterprise */
    "CF-Connecting-IP",    /* Cloudflare */
    "Fastly-Client-IP",    /* Fastly */
    "X-Cluster-Client-IP", /* clustering load balancers */
    "Client-IP",           /* older proxies; what HTTP_CLIENT_IP reads */
    "X-Forwarded-Proto",   /* TLS terminators, load balancers, Traefik */
    "X-Forwarded-Port",    /* the same, with the client's port */
    "X-Forwarded-Ssl",     /* older TLS terminators */
};

/* The note's value for a client the default rule admits (the note holds
 * the refusal's text otherwise). */
static const char admitted[] = "";

/* The request note that keeps the verdict (rp_decide_register). */
static apr_size_t verdict_note;

/* Bit k of forwarding_by_length[n]: forwarding_headers[k] is n characters
 * long (0 where no listed name is). */
#define FORWARDING_MAX_LENGTH 31
static uint32_t forwarding_by_length[FORWARDING_MAX_LENGTH + 1];
/* Bit c - 'a': some listed name starts with letter c (either case). */
static uint32_t forwarding_first_letters;

/* The forwarding header the request carries that comes first in
 * forwarding_headers, or NULL. One pass over the request's headers, each
 * compared only with the listed names of its length: a lookup per listed
 * header would walk them all fifteen times. */
static const char *first_forwarding_header(const request_rec *r)
{
    const size_t listed =
        sizeof(forwarding_headers) / sizeof(forwarding_headers[0]);
    size_t first = listed;
    const apr_array_header_t *headers = apr_table_elts(r->headers_in);
    const apr_table_entry_t *e = (const apr_table_entry_t *)headers->elts;
    for (int i = 0; i < headers->nelts; i++) {
        unsigned letter =
            e[i].key != NULL ? (((unsigned char)e[i].key[0] | 0x20) - 'a') : 32;
        if (letter >= 26 || !(forwarding_first_letters >> letter & 1)) {
            continue;
        }
        size_t len = strlen(e[i].key);
        uint32_t candidates =
            len <= FORWARDING_MAX_LENGTH ? forwarding_by_length[len] : 0;
        for (size_t k = 0; candidates != 0 && k < first;
             k++, candidates >>= 1) {
            /* Header names are ASCII: | 0x20 folds a letter's case. */
            if ((candidates & 1) &&
                ((unsigned char)e[i].key[0] | 0x20) ==
                    ((unsigned char)forwarding_headers[k][0] | 0x20) &&
                strcasecmp(e[i].key, forwarding_headers[k]) == 0) {
                first = k;
            }
        }
    }
    return first < listed ? forwarding_headers[first] : NULL;
}

/* The default rule (no ReqProfileRequire): a loopback client. Where a module
 * (mod_remoteip, from a header or the PROXY protocol) has set the real
 * client's address for this request, that address alone decides. Otherwise
 * a loopback request must not carry a forwarding header.
 *
 * Judged once per request, on the headers as they arrived (after
 * mod_remoteip): reqprof_post_read_request asks first, and later phases,
 * internal redirects and ErrorDocuments (which continue the request) get
 * the same answer whatever has changed the headers since. */
static const char *default_rule_refusal(request_rec *r)
{
    void **note = rp_initial_note(r, verdict_note);
    if (note != NULL && *note != NULL) {
        return *note == admitted ? NULL : *note;
    }
    const char *refusal = NULL;
    if (!client_is_loopback(r)) {
        refusal = "the client is not loopback";
    } else if (r->useragent_addr == r->connection->client_addr) {
        /* httpd was not told who the real client is: the headers tell. */
        const char *header = first_forwarding_header(r);
        if (header != NULL) {
            refusal = apr_pstrcat(
                r->pool, "the loopback request carries ", header,
                ", so it came through a proxy (ReqProfileRequire or "
                "mod_remoteip can admit it)",
                NULL);
        }
    }
    if (note != NULL) {
        *note = (void *)(uintptr_t)(refusal != NULL ? refusal : admitted);
    }
    return refusal;
}

const char *rp_client_refusal(request_rec *r, const rp_dir_conf_t *conf)
{
    if (rp_conf_require(conf) == NULL) {
        return default_rule_refusal(r);
    }
    const char *err = NULL;
    int rc = ap_expr_exec(r, rp_conf_require(conf), &err);
    if (rc < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      RP_LOG_TAG "ReqProfileRequire failed, not profiling: %s",
                      err ? err : "unknown error");
        return "ReqProfileRequire failed";
    }
    return rc ? NULL : "ReqProfileRequire not met";
}

void rp_client_judge_now(request_rec *r, const rp_dir_conf_t *conf)
{
    if (rp_conf_require(conf) == NULL) {
        (void)default_rule_refusal(r);
    }
}

int rp_client_allowed(request_rec *r, const rp_dir_conf_t *conf)
{
    return rp_client_refusal(r, conf) == NULL;
}

/* The format asked for, if this context profiles and the client may ask. */
static rp_format_e wanted_format(request_rec *r, const rp_dir_conf_t *conf)
{
    if (!rp_conf_enabled(conf) || rp_process_symbols() == NULL) {
        return RP_FORMAT_NONE;
    }
    rp_format_e format =
        rp_trigger_find(rp_client_query(r), rp_conf_param(conf));
    if (format == RP_FORMAT_NONE) {
        return RP_FORMAT_NONE;
    }
    const char *refusal = rp_client_refusal(r, conf);
    if (refusal != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RP_LOG_TAG "trigger ignored: %s", refusal);
        return RP_FORMAT_NONE;
    }
    return format;
}

/* The client asks for the request to be stored, and may: the context
 * profiles, the server has a store, and the rule admits the client
 * (early: only the default rule can be judged). */
static int wanted_store(request_rec *r, const rp_dir_conf_t *conf,
                        rp_decide_stage_e stage)
{
    if (!rp_conf_enabled(conf) || rp_process_symbols() == NULL ||
        rp_conf_store(r->server) == NULL) {
        return 0;
    }
    char value[RP_TRIGGER_MAX_FIELD + 1];
    const char *header = apr_table_get(r->headers_in, RP_STORE_HEADER);
    int asked =
        (header != NULL && strcmp(header, "1") == 0) ||
        (rp_trigger_value(rp_client_query(r), rp_conf_param(conf), value) &&
         strcasecmp(value, RP_STORE_VALUE) == 0);
    if (!asked) {
        return 0;
    }
    if (stage == RP_DECIDE_EARLY) {
        return rp_conf_require(conf) == NULL && default_rule_refusal(r) == NULL;
    }
    const char *refusal = rp_client_refusal(r, conf);
    if (refusal != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      RP_LOG_TAG "store request ignored: %s", refusal);
    }
    return refusal == NULL;
}

int rp_decide_log(const request_rec *r, const rp_dir_conf_t *conf)
{
    if (rp_conf_log_mode(conf) == RP_LOG_OFF || rp_process_symbols() == NULL) {
        return 0;
    }
    /* Browsing saved profiles would push them out with profiles of itself. */
    return r->handler == NULL || strcmp(r->handler, RP_INDEX_HANDLER) != 0;
}

/* Most requests ask for nothing: no query that may name a trigger, in a
 * context that does not log, on a server without a store. */
static int nothing_asked(const request_rec *r, const rp_dir_conf_t *conf,
                         rp_decide_stage_e stage)
{
    const char *query = stage == RP_DECIDE_FINAL ? rp_client_query(r) : r->args;
    return !rp_decide_asked_without_query(r, conf) &&
           (query == NULL || !rp_conf_query_may_trigger(query));
}

rp_decision_t rp_decide(request_rec *r, const rp_dir_conf_t *conf,
                        rp_decide_stage_e stage)
{
    rp_decision_t d = {RP_FORMAT_NONE, 0, 0};
    if (nothing_asked(r, conf, stage)) {
        return d;
    }
    if (stage == RP_DECIDE_FINAL) {
        d.report = wanted_format(r, conf);
        d.store = d.report == RP_FORMAT_NONE && wanted_store(r, conf, stage);
        d.log =
            d.report == RP_FORMAT_NONE && !d.store && rp_decide_log(r, conf);
        return d;
    }
    rp_format_e format = rp_conf_enabled(conf) && rp_process_symbols() != NULL
                             ? rp_trigger_find(r->args, rp_conf_param(conf))
                             : RP_FORMAT_NONE;
    /* The default rule is judged here, on the headers as they arrived, for
     * every later phase (see default_rule_refusal). Only a request whose
     * client sent a query that may name a trigger, or the store header to a
     * server with a store, can carry one: the others, most requests, skip
     * the header scan (the index judges its own: rp_client_judge_now). */
    if (rp_conf_enabled_somewhere(r->server) &&
        (rp_conf_query_may_trigger(r->args) ||
         (rp_conf_store(r->server) != NULL &&
          apr_table_get(r->headers_in, RP_STORE_HEADER) != NULL))) {
        (void)default_rule_refusal(r);
    }
    /* Only the default rule can be judged this early. An expression may
     * need what later phases provide (REMOTE_USER), and a client it will
     * refuse must not hold a profile slot meanwhile: fixups starts those. */
    if (format != RP_FORMAT_NONE && rp_conf_require(conf) == NULL &&
        default_rule_refusal(r) == NULL) {
        d.report = format;
    }
    d.store = d.report == RP_FORMAT_NONE && wanted_store(r, conf, stage);
    d.log = d.report == RP_FORMAT_NONE && !d.store && rp_decide_log(r, conf);
    return d;
}

void rp_decide_register(void)
{
    verdict_note = ap_register_request_note();
    for (size_t k = 0;
         k < sizeof(forwarding_headers) / sizeof(forwarding_headers[0]); k++) {
        size_t len = strlen(forwarding_headers[k]);
        unsigned letter =
            ((unsigned char)forwarding_headers[k][0] | 0x20) - 'a';
        ap_assert(len <= FORWARDING_MAX_LENGTH && k < 32 && letter < 26);
        forwarding_by_length[len] |= (uint32_t)1 << k;
        forwarding_first_letters |= (uint32_t)1 << letter;
    }
}

int rp_decide_trigger_admitted(request_rec *r, const rp_dir_conf_t *conf)
{
    return rp_trigger_find(rp_client_query(r), rp_conf_param(conf)) !=
               RP_FORMAT_NONE &&
           rp_client_allowed(r, conf);
}
