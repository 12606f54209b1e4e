/* rp_symbols: names the code at an instruction address of this process —
 * function (static ones included, from .symtab where the object has one),
 * shared object and source file:line (where DWARF is present) — with
 * elfutils' libdwfl. Results are cached for the life of the process.
 * Knows nothing of httpd. */
#ifndef RP_SYMBOLS_H
#define RP_SYMBOLS_H

#include <apr_pools.h>
#include <stdint.h>

typedef struct rp_func {
    const char *name;   /* function, or "object+0xoffset" when unknown */
    const char *object; /* basename of the shared object, or "[unknown]" */
    const char *file;   /* source file of the function, or NULL */
    int line;           /* its first line, or 0 */
    int resolved;       /* 1 when a symbol table named the function */
} rp_func_t;

typedef struct rp_symbols rp_symbols_t;

/* pool must live as long as the table (the process, in a server). */
apr_status_t rp_symbols_create(rp_symbols_t **out, apr_pool_t *pool);

/* Names the function containing addr. A return address points just past its
 * call instruction, so pass is_return_address to look up addr - 1. The
 * result is interned: every address in one function yields the same
 * pointer. Thread-safe. */
const rp_func_t *rp_symbols_lookup(rp_symbols_t *table, uintptr_t addr,
                                   int is_return_address);

/* Frees libdw's state (the pool frees the rest). */
void rp_symbols_destroy(rp_symbols_t *table);

#endif
