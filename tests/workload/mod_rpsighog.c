/* mod_rpsighog: a module with a handler of its own on a realtime signal, as
 * a runtime with per-thread timers has one (PHP's thread-safe build arms its
 * max_execution_time timer on a SIGRTMIN-based signal), for mod_reqprof's
 * tests of a signal that is already taken.
 *   RpSigHogSignal N | SIGRTMIN+N  the signal (without it: nothing installed)
 *   RpSigHogOrder first | last     install it in child_init before (default)
 *                                  or after every other module's child_init
 * "SetHandler rpsighog" sends the signal once to the request's own thread,
 * unblocked for that moment, and answers
 *   "pid=P signal=S installed=I own=N foreign=M"
 * installed: 1 if the signal's handler is still this module's; own: how many
 * of the signals it sent itself reached its handler, this one included;
 * foreign: signals that reached its handler from anyone else. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"

#include <apr_strings.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

module AP_MODULE_DECLARE_DATA rpsighog_module;

static int hog_signo;  /* 0: none */
static int hog_last;   /* install after every other child_init */
static int hog_marker; /* its address marks the module's own signals */
static volatile sig_atomic_t own_count, foreign_count;

static void on_hog_signal(int signo, siginfo_t *si, void *uc)
{
    (void)signo;
    (void)uc;
    if (si->si_code == SI_QUEUE && si->si_value.sival_ptr == &hog_marker) {
        own_count++;
    } else {
        foreign_count++;
    }
}

static const char *set_signal(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    const char *p = arg;
    int base = 0;
    if (strncasecmp(p, "SIGRTMIN+", 9) == 0) {
        base = SIGRTMIN;
        p += 9;
    }
    char *end = NULL;
    long n = strtol(p, &end, 10);
    if (end == p || *end != '\0' || base + n < SIGRTMIN ||
        base + n > SIGRTMAX) {
        return apr_psprintf(cmd->pool, "RpSigHogSignal: bad signal '%s'", arg);
    }
    hog_signo = (int)(base + n);
    return NULL;
}

static const char *set_order(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    if (strcasecmp(arg, "first") != 0 && strcasecmp(arg, "last") != 0) {
        return apr_psprintf(cmd->pool, "RpSigHogOrder: '%s': first or last",
                            arg);
    }
    hog_last = strcasecmp(arg, "last") == 0;
    return NULL;
}

static void install(server_rec *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_hog_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(hog_signo, &sa, NULL) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s,
                     "mod_rpsighog: cannot install a handler on signal %d",
                     hog_signo);
    }
}

static void child_init_first(apr_pool_t *p, server_rec *s)
{
    (void)p;
    if (hog_signo != 0 && !hog_last) {
        install(s);
    }
}

static void child_init_last(apr_pool_t *p, server_rec *s)
{
    (void)p;
    if (hog_signo != 0 && hog_last) {
        install(s);
    }
}

static int installed(void)
{
    struct sigaction now;
    return hog_signo != 0 && sigaction(hog_signo, NULL, &now) == 0 &&
           (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_hog_signal;
}

static int hog_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "rpsighog") != 0) {
        return DECLINED;
    }
    if (hog_signo != 0 && installed()) {
        /* Worker and event block the signal in request threads. */
        sigset_t one, saved;
        sigemptyset(&one);
        sigaddset(&one, hog_signo);
        pthread_sigmask(SIG_UNBLOCK, &one, &saved);
        union sigval value;
        value.sival_ptr = &hog_marker;
        pthread_sigqueue(pthread_self(), hog_signo, value);
        pthread_sigmask(SIG_SETMASK, &saved, NULL);
    }
    ap_set_content_type(r, "text/plain");
    ap_rprintf(r, "pid=%ld signal=%d installed=%d own=%d foreign=%d\n",
               (long)getpid(), hog_signo, installed(), (int)own_count,
               (int)foreign_count);
    return OK;
}

static const command_rec hog_directives[] = {
    AP_INIT_TAKE1("RpSigHogSignal", set_signal, NULL, RSRC_CONF,
                  "Realtime signal this module installs a handler on"),
    AP_INIT_TAKE1("RpSigHogOrder", set_order, NULL, RSRC_CONF,
                  "first or last: when child_init installs it"),
    {NULL}};

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(child_init_first, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_child_init(child_init_last, NULL, NULL, APR_HOOK_REALLY_LAST);
    ap_hook_handler(hog_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(rpsighog) = {
    STANDARD20_MODULE_STUFF, NULL,           NULL, NULL, NULL,
    hog_directives,          register_hooks, 0};
