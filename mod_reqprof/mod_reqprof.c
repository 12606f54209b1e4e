/* mod_reqprof: profile one request on demand.
 *
 * With "ReqProfile On" in a context, a request whose query string carries
 * the trigger parameter (profile=1) is sampled while it is handled, and its
 * response is replaced by a report of where the time went.
 *
 * This file holds the module record; each glue file registers its own hooks
 * (see mod_reqprof.h for which file does what). */
#include "mod_reqprof.h"

#include "mod_reqprof_cache.h"
#include "mod_reqprof_config.h"
#include "mod_reqprof_decide.h"
#include "mod_reqprof_engines.h"
#include "mod_reqprof_index.h"
#include "mod_reqprof_log.h"
#include "mod_reqprof_output.h"
#include "mod_reqprof_process.h"
#include "mod_reqprof_request.h"
#include "mod_reqprof_store.h"

/* httpd knows a hook by the name of the module registering it, which it
 * sets only around register_hooks: other modules order theirs before or
 * after ours by that name, and mod_info shows it. */
static void as_this_module(void (*registration)(void))
{
    const char *registering = apr_hook_debug_current;
    apr_hook_debug_current = reqprof_module.name;
    registration();
    apr_hook_debug_current = registering;
}

static void each_request_hook(void)
{
    rp_request_register_request_hooks();
    rp_output_register_request_hooks();
    rp_log_register_request_hooks();
    rp_cache_register_request_hooks();
}

/* The hooks every request runs through. Registered while the
 * configuration is read, and only if it lets some request be profiled,
 * logged or timed (rp_config_register): a server that loads the module
 * without using it runs its requests as without it. */
static void register_request_hooks(void)
{
    as_this_module(each_request_hook);
}

/* The index's, where the configuration may ask for it. */
static void register_index_hooks(void)
{
    as_this_module(rp_index_register_request_hooks);
}

/* Configuration, children and filters. */
static void register_hooks(apr_pool_t *p)
{
    (void)p;
    rp_config_register(register_request_hooks, register_index_hooks);
    rp_process_register();
    rp_storage_register();
    rp_log_register();
    rp_decide_register();
    rp_output_register();
    rp_cache_register();
    rp_engines_register();
}

AP_DECLARE_MODULE(reqprof) = {STANDARD20_MODULE_STUFF, rp_create_dir_conf,
                              rp_merge_dir_conf,       rp_create_server_conf,
                              rp_merge_server_conf,    rp_directives,
                              register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
                              AP_MODULE_FLAG_NONE
#endif
};
