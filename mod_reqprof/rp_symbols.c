#include "rp_symbols.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <string.h>

struct rp_symbols {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    Dwfl *dwfl;
    apr_hash_t *by_address;  /* uintptr_t -> const rp_func_t * */
    apr_hash_t *by_function; /* "object\nname" -> rp_func_t * */
    apr_time_t last_refresh;
};

/* Separate debug files are not searched: the default would consult
 * debuginfod (the network) when it is configured. Objects built with -g,
 * such as modules built with apxs, carry their DWARF themselves. */
static int find_no_separate_debuginfo(Dwfl_Module *mod, void **userdata,
                                      const char *modname, Dwarf_Addr base,
                                      const char *file_name,
                                      const char *debuglink_file,
                                      GElf_Word debuglink_crc,
                                      char **debuginfo_file_name)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    (void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks dwfl_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_no_separate_debuginfo,
};

/* Reports the mapped objects from /proc/self/maps. Unlike
 * dwfl_linux_proc_report it needs no /proc/self/auxv, which a child that has
 * dropped privileges cannot read. */
static void report_mapped_objects(rp_symbols_t *t)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) {
        return;
    }
    dwfl_report_begin(t->dwfl);
    dwfl_linux_proc_maps_report(t->dwfl, maps);
    dwfl_report_end(t->dwfl, NULL, NULL);
    fclose(maps);
    t->last_refresh = apr_time_now();
}

static apr_status_t destroy_on_cleanup(void *data)
{
    rp_symbols_destroy(data);
    return APR_SUCCESS;
}

apr_status_t rp_symbols_create(rp_symbols_t **out, apr_pool_t *pool)
{
    rp_symbols_t *t = apr_pcalloc(pool, sizeof(*t));
    apr_status_t rv =
        apr_thread_mutex_create(&t->lock, APR_THREAD_MUTEX_DEFAULT, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    t->pool = pool;
    t->by_address = apr_hash_make(pool);
    t->by_function = apr_hash_make(pool);
    t->dwfl = dwfl_begin(&dwfl_callbacks);
    if (t->dwfl == NULL) {
        return APR_ENOMEM;
    }
    report_mapped_objects(t);
    apr_pool_cleanup_register(pool, t, destroy_on_cleanup,
                              apr_pool_cleanup_null);
    *out = t;
    return APR_SUCCESS;
}

void rp_symbols_destroy(rp_symbols_t *t)
{
    if (t != NULL && t->dwfl != NULL) {
        dwfl_end(t->dwfl);
        t->dwfl = NULL;
    }
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const rp_func_t *intern(rp_symbols_t *t, const rp_func_t *candidate)
{
    const char *key =
        apr_pstrcat(t->pool, candidate->object, "\n", candidate->name, NULL);
    rp_func_t *known = apr_hash_get(t->by_function, key, APR_HASH_KEY_STRING);
    if (known == NULL) {
        known = apr_pmemdup(t->pool, candidate, sizeof(*candidate));
        apr_hash_set(t->by_function, key, APR_HASH_KEY_STRING, known);
    }
    return known;
}

static void add_source_location(rp_symbols_t *t, Dwfl_Module *mod,
                                GElf_Addr function_start, rp_func_t *f)
{
    Dwfl_Line *line = dwfl_module_getsrc(mod, function_start);
    int lineno = 0;
    const char *file =
        line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
    if (file != NULL) {
        f->file = apr_pstrdup(t->pool, base_name(file));
        f->line = lineno;
    }
}

static rp_func_t describe(rp_symbols_t *t, uintptr_t addr)
{
    rp_func_t f = {.name = NULL, .object = "[unknown]"};
    Dwfl_Module *mod = dwfl_addrmodule(t->dwfl, addr);
    if (mod == NULL &&
        apr_time_now() - t->last_refresh > apr_time_from_sec(1)) {
        /* Possibly an object loaded after the last report. */
        report_mapped_objects(t);
        mod = dwfl_addrmodule(t->dwfl, addr);
    }
    if (mod == NULL) {
        f.name = apr_psprintf(t->pool, "0x%" APR_UINT64_T_HEX_FMT,
                              (apr_uint64_t)addr);
        return f;
    }
    Dwarf_Addr start = 0;
    const char *mainfile = NULL;
    const char *modname =
        dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, &mainfile, NULL);
    const char *path = mainfile ? mainfile : (modname ? modname : "?");
    f.object = apr_pstrdup(t->pool, base_name(path));

    GElf_Off offset = 0;
    GElf_Sym sym;
    const char *name =
        dwfl_module_addrinfo(mod, addr, &offset, &sym, NULL, NULL, NULL);
    if (name != NULL && *name) {
        f.name = apr_pstrdup(t->pool, name);
        f.resolved = 1;
        add_source_location(t, mod, addr - offset, &f);
    } else {
        f.name = apr_psprintf(t->pool, "%s+0x%" APR_UINT64_T_HEX_FMT, f.object,
                              (apr_uint64_t)(addr - start));
    }
    return f;
}

const rp_func_t *rp_symbols_lookup(rp_symbols_t *t, uintptr_t addr,
                                   int is_return_address)
{
    uintptr_t key = is_return_address && addr > 0 ? addr - 1 : addr;
    apr_thread_mutex_lock(t->lock);
    const rp_func_t *f = apr_hash_get(t->by_address, &key, sizeof(key));
    if (f == NULL) {
        rp_func_t described = describe(t, key);
        f = intern(t, &described);
        uintptr_t *stored_key = apr_pmemdup(t->pool, &key, sizeof(key));
        apr_hash_set(t->by_address, stored_key, sizeof(key), f);
    }
    apr_thread_mutex_unlock(t->lock);
    return f;
}
