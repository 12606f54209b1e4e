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

/* One engine's result (why: why it is not read, or NULL), said once in the
 * error log and kept for reports; the children inherit both. */
static void say_engine(server_rec *s, const char *engine, const char *served,
                       int ready, const char *why, const char *read)
{
    if (why != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     RP_LOG_TAG "%s are profiled without their %s functions: "
                                "%s",
                     served, engine, why);
        size_t used = strlen(engines_note);
        snprintf(engines_note + used, sizeof(engines_note) - used,
                 "%s%s functions not read: %s", used ? "; " : "", engine, why);
    } else if (ready) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     RP_LOG_TAG "%s functions are read into the profiles (%s)",
                     engine, read);
    }
}

/* In the parent, once per configuration: the engines are found and checked
 * here (Lua's check runs a chunk), and the children forked afterwards
 * inherit the result (rp_engines_attach_child). */
static int reqprof_check_engines(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK; /* the configuration test pass: said at the real one */
    }
    char php_buf[200], lua_buf[200], layout[64];
    const char *php_why, *lua_why;
    int php = rp_php_attach(&process_php, php_buf, sizeof(php_buf), &php_why);
    int lua = rp_lua_attach(&process_lua, lua_buf, sizeof(lua_buf), &lua_why);
    rp_script_set_engine(RP_SCRIPT_SLOT_PHP,
                         php == RP_PHP_READY ? rp_php_splice : NULL,
                         &process_php);
    rp_script_set_engine(RP_SCRIPT_SLOT_LUA,
                         lua == RP_LUA_READY ? rp_lua_splice : NULL,
                         &process_lua);
    engines_note[0] = '\0';
    snprintf(layout, sizeof(layout), "Zend Engine %s layout",
             rp_php_layout.available ? rp_php_layout.zend_version : "-");
    say_engine(s, "PHP", "PHP requests", php == RP_PHP_READY, php_why, layout);
    say_engine(s, "Lua", "Lua handlers", lua == RP_LUA_READY, lua_why,
               "Lua 5.3, layout checked");
    return OK;
}

void rp_engines_attach_child(void)
{
    rp_php_adopt(&process_php);
    rp_lua_adopt(&process_lua);
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
