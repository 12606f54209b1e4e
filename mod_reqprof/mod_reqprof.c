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

/* The hooks each use of the module needs (see rp_use_e), registered while
 * the configuration is read: a server that loads the module without using
 * it runs its requests as without it. */
static void register_hooks_for(rp_use_e use)
{
    /* httpd knows a hook by the name of the module registering it, which
     * it sets only around register_hooks: other modules order theirs
     * before or after ours by that name, and mod_info shows it. */
    const char *registering = apr_hook_debug_current;
    apr_hook_debug_current = reqprof_module.name;
    switch (use) {
    case RP_USE_REQUESTS:
        rp_request_register_request_hooks();
        rp_output_register_request_hooks();
        rp_cache_register_request_hooks();
        break;
    case RP_USE_LOG:
        rp_log_register_request_hooks();
        break;
    case RP_USE_INDEX:
        rp_index_register_request_hooks();
        break;
    }
    apr_hook_debug_current = registering;
}

/* Configuration, children and filters. */
static void register_hooks(apr_pool_t *p)
{
    (void)p;
    rp_config_register(register_hooks_for);
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
