#include "rp_symbols.h"

#include "rp_dwfl.h"

#include <apr_hash.h>
#include <elf.h>
#include <sys/auxv.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <string.h>

struct rp_symbols {
    apr_pool_t *pool;
    apr_thread_mutex_t *lock;
    Dwfl *dwfl;
    apr_hash_t *by_address;  /* uintptr_t -> const rp_func_t * */
    apr_hash_t *by_function; /* "object\nname" -> rp_func_t * */
    apr_time_t last_refresh;
};

static void report_mapped_objects(rp_symbols_t *t)
{
    rp_dwfl_report_self(t->dwfl);
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
    t->dwfl = rp_dwfl_begin_self_debug();
    if (t->dwfl == NULL) {
        return APR_ENOMEM;
    }
    t->last_refresh = apr_time_now();
    apr_pool_cleanup_register(pool, t, destroy_on_cleanup,
                              apr_pool_cleanup_null);
    *out = t;
    return APR_SUCCESS;
}

int rp_symbols_open_all(rp_symbols_t *t)
{
    apr_thread_mutex_lock(t->lock);
    int opened = rp_dwfl_open_all(t->dwfl);
    apr_thread_mutex_unlock(t->lock);
    return opened;
}

const char *rp_symbol_source_name(int source)
{
    switch (source) {
    case RP_SYMBOLS_OWN:
        return "own";
    case RP_SYMBOLS_DEBUG_FILE:
        return "debug file";
    case RP_SYMBOLS_NONE:
        return "none";
    default:
        return NULL;
    }
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

/* Whether the module's symbol table is its own (.symtab, or .dynsym alone
 * in a stripped object) or its separate debug file's: libdwfl takes the
 * debug file's only when the object has no .symtab. */
static int symbol_source(Dwfl_Module *mod)
{
    int count = dwfl_module_getsymtab(mod);
    GElf_Addr bias = 0;
    Elf *own = dwfl_module_getelf(mod, &bias);
    if (count <= 0 || own == NULL) {
        return RP_SYMBOLS_NONE;
    }
    for (int i = 1; i < count; i++) {
        GElf_Sym sym;
        GElf_Addr value = 0;
        GElf_Word shndx = SHN_UNDEF;
        Elf *from = NULL;
        Dwarf_Addr sym_bias = 0;
        if (dwfl_module_getsym_info(mod, i, &sym, &value, &shndx, &from,
                                    &sym_bias) != NULL &&
            from != NULL) {
            return from == own ? RP_SYMBOLS_OWN : RP_SYMBOLS_DEBUG_FILE;
        }
    }
    return RP_SYMBOLS_OWN;
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

/* The vDSO (clock_gettime, gettimeofday) is mapped from no file, so
 * /proc/self/maps gives libdwfl nothing to name it by, and its addresses
 * would fall to the neighbouring object. Its image holds its own section
 * headers and dynamic symbols: read them in place. */
static const char *vdso_function(uintptr_t addr, int *inside)
{
    *inside = 0;
    uintptr_t base = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
    if (base == 0) {
        return NULL;
    }
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    uintptr_t size = 0;
    intptr_t bias = 0;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD) {
            bias = (intptr_t)base - (intptr_t)ph[i].p_vaddr;
            size = ph[i].p_memsz;
            break;
        }
    }
    if (addr < base || addr >= base + size) {
        return NULL;
    }
    *inside = 1;
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM || sh[i].sh_link >= eh->e_shnum) {
            continue;
        }
        const Elf64_Sym *sym = (const Elf64_Sym *)(base + sh[i].sh_offset);
        const char *names = (const char *)(base + sh[sh[i].sh_link].sh_offset);
        size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
        for (size_t k = 0; k < count; k++) {
            uintptr_t start = (uintptr_t)((intptr_t)sym[k].st_value + bias);
            if (ELF64_ST_TYPE(sym[k].st_info) == STT_FUNC && addr >= start &&
                addr < start + sym[k].st_size) {
                return names + sym[k].st_name;
            }
        }
    }
    return NULL;
}

static rp_func_t describe(rp_symbols_t *t, uintptr_t addr)
{
    int in_vdso;
    const char *vdso_name = vdso_function(addr, &in_vdso);
    if (in_vdso) {
        rp_func_t f = {.object = "[vdso]",
                       .resolved = vdso_name != NULL,
                       .symbols = RP_SYMBOLS_OWN};
        f.name = vdso_name
                     ? apr_pstrdup(t->pool, vdso_name)
                     : apr_psprintf(
                           t->pool, "[vdso]+0x%" APR_UINT64_T_HEX_FMT,
                           (apr_uint64_t)(addr - getauxval(AT_SYSINFO_EHDR)));
        return f;
    }
    rp_func_t f = {
        .name = NULL, .object = "[unknown]", .symbols = RP_SYMBOLS_NONE};
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
    f.symbols = symbol_source(mod);

    GElf_Off offset = 0;
    GElf_Sym sym;
    const char *name =
        dwfl_module_addrinfo(mod, addr, &offset, &sym, NULL, NULL, NULL);
    if (name != NULL && *name) {
        /* Full symbol tables (debug files) spell versioned symbols
         * "clock_nanosleep@GLIBC_2.2.5" or "__libc_start_main@@GLIBC_2.34";
         * the dynamic symbol table says "clock_nanosleep": keep one name. */
        const char *at = strchr(name, '@');
        f.name = at && at > name ? apr_pstrndup(t->pool, name, at - name)
                                 : apr_pstrdup(t->pool, name);
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
