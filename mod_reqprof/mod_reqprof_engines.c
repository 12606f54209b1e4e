/* Script engines: PHP and Lua frames in the profiles (rp_php, rp_lua). */
#include "mod_reqprof_engines.h"

#include "http_core.h"
#include "http_log.h"

#include <apr_optional_hooks.h>
#include <stdio.h>
#include <string.h>

#include "mod_reqprof_request.h"
#include "rp_lua.h"
#include "rp_php.h"
#include "rp_sampler.h"

APLOG_USE_MODULE(reqprof);

static rp_php_t process_php;
static rp_lua_t process_lua;
static char engines_note[512];

typedef struct attach_result {
    int php, lua; /* rp_php_status_e, rp_lua_status_e */
    const char *php_why, *lua_why;
    char php_buf[200], lua_buf[200];
} attach_result_t;

/* Looks for both engines and sets the ones that can be read. */
static void attach_engines(attach_result_t *a)
{
    a->php = rp_php_attach(&process_php, a->php_buf, sizeof(a->php_buf),
                           &a->php_why);
    rp_script_set_engine(RP_SCRIPT_SLOT_PHP,
                         a->php == RP_PHP_READY ? rp_php_splice : NULL,
                         &process_php);
    a->lua = rp_lua_attach(&process_lua, a->lua_buf, sizeof(a->lua_buf),
                           &a->lua_why);
    rp_script_set_engine(RP_SCRIPT_SLOT_LUA,
                         a->lua == RP_LUA_READY ? rp_lua_splice : NULL,
                         &process_lua);
}

static int reqprof_check_engines(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the configuration test pass: said at the real one */
    }
    attach_result_t a;
    attach_engines(&a);
    if (a.php == RP_PHP_UNSUPPORTED) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RP_LOG_TAG "PHP requests are profiled without their PHP "
                                "functions: %s",
                     a.php_why);
    } else if (a.php == RP_PHP_READY) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     RP_LOG_TAG "PHP functions are read into the profiles "
                                "(Zend Engine %s layout)",
                     rp_php_layout.zend_version);
    }
    if (a.lua == RP_LUA_UNSUPPORTED) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RP_LOG_TAG "Lua handlers are profiled without their Lua "
                                "functions: %s",
                     a.lua_why);
    } else if (a.lua == RP_LUA_READY) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     RP_LOG_TAG "Lua functions are read into the profiles "
                                "(Lua 5.3, layout checked)");
    }
    return OK;
}

void rp_engines_attach_child(void)
{
    attach_result_t a;
    attach_engines(&a);
    engines_note[0] = '\0';
    if (a.php == RP_PHP_UNSUPPORTED) {
        snprintf(engines_note, sizeof(engines_note),
                 "PHP functions not read: %s", a.php_why);
    }
    if (a.lua == RP_LUA_UNSUPPORTED) {
        size_t used = strlen(engines_note);
        snprintf(engines_note + used, sizeof(engines_note) - used,
                 "%sLua functions not read: %s", used ? "; " : "", a.lua_why);
    }
}

const char *rp_engines_note(void)
{
    return engines_note[0] ? engines_note : NULL;
}

/* mod_lua runs this before every call into Lua for a request (its handler,
 * hooks, filters, authorization providers): the state the thread is about
 * to run, kept for the sampler while the request is profiled. */
static int reqprof_lua_request(void *L, request_rec *r)
{
    rp_request_t *state = rp_request_find(r);
    rp_sampler_t *sampler = state ? rp_request_sampler(state) : NULL;
    if (sampler != NULL && rp_sampler_is_active(sampler)) {
        rp_sampler_set_script_context(sampler, (uintptr_t)L);
    }
    return OK;
}

void rp_engines_register(void)
{
    ap_hook_post_config(reqprof_check_engines, NULL, NULL, APR_HOOK_LAST);
    /* mod_lua's optional hook, by name (mod_lua.h is not installed with
     * httpd's headers); without mod_lua it is never run. */
    apr_optional_hook_add("lua_request", (void (*)(void))reqprof_lua_request,
                          NULL, NULL, APR_HOOK_MIDDLE);
}
