/* rp_symbols: names the code at an instruction address of this process —
 * function (static ones included, from .symtab where the object has one),
 * shared object and source file:line (where DWARF is present) — with
 * elfutils' libdwfl. Results are cached for the life of the process.
 * Knows nothing of httpd. */
#ifndef RP_SYMBOLS_H
#define RP_SYMBOLS_H

#include <apr_pools.h>
#include <stdint.h>

/* Where the names of an object's functions come from. */
typedef enum rp_symbol_source {
    RP_SYMBOLS_NOT_AN_OBJECT = 0, /* a frame of no object: [kernel], ... */
    RP_SYMBOLS_OWN,               /* the object's own symbol table(s) */
    RP_SYMBOLS_DEBUG_FILE,        /* its separate debug file */
    RP_SYMBOLS_NONE               /* none could be read: offsets only */
} rp_symbol_source_e;

typedef struct rp_func {
    const char *name;   /* function, or "object+0xoffset" when unknown */
    const char *object; /* basename of the shared object, "[unknown]", or
                           for a script's function its engine: "[php]" */
    const char *file;   /* source file of the function, or NULL */
    int line;           /* its first line, or 0 */
    int resolved;       /* 1 when a symbol table named the function */
    int symbols;        /* rp_symbol_source_e of the object */
} rp_func_t;

/* "own", "debug file", "none", or NULL for RP_SYMBOLS_NOT_AN_OBJECT. */
const char *rp_symbol_source_name(int source);

typedef struct rp_symbols rp_symbols_t;

/* pool must live as long as the table (the process, in a server). Objects
 * without a symbol table of their own are named from their separate debug
 * files (see rp_dwfl_begin_self_debug). */
apr_status_t rp_symbols_create(rp_symbols_t **out, apr_pool_t *pool);

/* Opens every object mapped now (and its debug file) at once instead of at
 * its first lookup: call it before the process gives up the right to read
 * them (httpd's children drop privileges), and lookups later still name
 * their functions. Objects loaded afterwards are opened when first seen.
 * Returns the number of objects opened. Not thread-safe against lookups. */
int rp_symbols_open_all(rp_symbols_t *table);

/* Names the function containing addr. A return address points just past its
 * call instruction, so pass is_return_address to look up addr - 1. The
 * result is interned: every address in one function yields the same
 * pointer. Thread-safe. */
const rp_func_t *rp_symbols_lookup(rp_symbols_t *table, uintptr_t addr,
                                   int is_return_address);

/* Frees libdw's state (the pool frees the rest). */
void rp_symbols_destroy(rp_symbols_t *table);

#endif
