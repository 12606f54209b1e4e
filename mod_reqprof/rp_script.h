/* rp_script: the functions of a script engine (PHP) running in this process,
 * spliced into the native stacks the sampler captures, at the engine's own
 * frames: where a stack passes through the engine's executor, the script
 * functions that executor was running appear, in order, with the C frames
 * above them (an extension's function, libc, a wait) kept.
 *
 * A script frame travels in a sample's ips[] as a tagged word that no code
 * address can equal (bit 63 set: x86-64 user addresses never have it). The
 * word indexes a table of frames whose names were copied when the sample was
 * taken, since the engine frees its own (a request's functions, its file
 * names) before the report is built. A table has one writer: the sampler's
 * signal handler, or the sampler thread for a blocked thread's stack; each
 * sampler has one table of each. Interning is async-signal-safe: no locks, no
 * allocation (the table is mapped when the sampler is created, its pages
 * touched as frames arrive).
 *
 * Knows nothing of httpd; the engines it knows are in rp_php.c. */
#ifndef RP_SCRIPT_H
#define RP_SCRIPT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define RP_SCRIPT_TAG (UINT64_C(1) << 63)
#define RP_SCRIPT_TABLE_SHIFT 32

static inline int rp_script_is_frame(uintptr_t word)
{
    return (word & RP_SCRIPT_TAG) != 0;
}

typedef enum { RP_SCRIPT_PHP = 1, RP_SCRIPT_LUA = 2 } rp_script_engine_e;

/* A script frame as the report shows it. */
typedef struct rp_script_frame {
    int engine;       /* rp_script_engine_e */
    int internal;     /* the engine's own function (PHP's preg_match) */
    const char *name; /* "render_page", "Cart::total", "{main}" */
    const char *file; /* the script, or NULL for internal functions */
    int line;         /* where the function begins, or 0 */
} rp_script_frame_t;

/* The object name frames of an engine carry in the report ("[php]",
 * "[lua]"). */
const char *rp_script_object(int engine);

/* ---- the frame table -------------------------------------------------- */

typedef struct rp_script_table rp_script_table_t;

/* Maps a table (NULL if the mapping fails); id (0 or 1) goes into its
 * words. Its pages are touched as frames arrive. */
rp_script_table_t *rp_script_table_create(unsigned id);
void rp_script_table_destroy(rp_script_table_t *table);

/* Forgets every frame (a session starts): the words handed out before are
 * no longer valid. O(1). */
void rp_script_table_reset(rp_script_table_t *table);

/* Counts the table's resets: what a reader caches alongside the table is
 * valid while this stays the same. */
uint64_t rp_script_table_generation(const rp_script_table_t *table);

/* What identifies a frame's function to the engine: the addresses it was
 * read from. Equal keys mean the same function within a session. */
typedef struct rp_script_key {
    uintptr_t words[4];
} rp_script_key_t;

/* The word for the function with this key, or 0 if it is not in the table.
 * Async-signal-safe. */
uintptr_t rp_script_table_find(const rp_script_table_t *table,
                               const rp_script_key_t *key);

/* Adds a function read from the engine (name and file need not be
 * terminated; they are copied, cut at RP_SCRIPT_MAX_NAME bytes) and returns
 * its word; when the table is full, the word of a frame named
 * RP_SCRIPT_FULL_FRAME. Async-signal-safe. */
#define RP_SCRIPT_MAX_NAME 255
#define RP_SCRIPT_FULL_FRAME "[script frames: table full]"
uintptr_t rp_script_table_add(rp_script_table_t *table,
                              const rp_script_key_t *key, int engine,
                              int internal, const char *name, size_t name_len,
                              const char *file, size_t file_len, int line);

/* Scratch memory for the table's one writer (the engine's reader), so
 * that a signal handler keeps its own stack small. */
#define RP_SCRIPT_SCRATCH (64 * 1024)
void *rp_script_table_scratch(rp_script_table_t *table);

/* The frame a word stands for; 0 if the word is not one of this table's
 * (another table's, or from before a reset). */
int rp_script_table_get(const rp_script_table_t *table, uintptr_t word,
                        rp_script_frame_t *out);

/* ---- splicing ------------------------------------------------------------ */

/* One script frame as read from the engine, innermost first. */
typedef struct rp_script_raw {
    uintptr_t word; /* from the table */
    /* Where the run of frames ending here (going outward) was entered from
     * C: 0 within a run; RP_SCRIPT_RUN_ENTERED for the frame the executor
     * was entered for, RP_SCRIPT_RUN_CALLED for an engine function called
     * directly from C (no executor frame of its own). */
    int run_start;
} rp_script_raw_t;

#define RP_SCRIPT_RUN_ENTERED 1
#define RP_SCRIPT_RUN_CALLED 2

/* Native code ranges [lo, hi) of the engine's frames that runs sit on: its
 * executor or the C entries that enter it (every run of script functions
 * executes under one), and the C entries that call an engine function
 * directly. Unused ranges are {0, 0}. */
#define RP_SCRIPT_RANGES 4
typedef struct rp_script_range {
    uintptr_t lo, hi;
} rp_script_range_t;

typedef struct rp_script_anchors {
    rp_script_range_t executor[RP_SCRIPT_RANGES];
    rp_script_range_t call[RP_SCRIPT_RANGES];
} rp_script_anchors_t;

/* 1 if a native stack (ips[0] the interrupted instruction, the rest return
 * addresses) passes through one of the executor ranges. */
int rp_script_stack_has_executor(const rp_script_anchors_t *anchors,
                                 const uintptr_t *ips, int depth);

/* Splices frames (count, innermost first) into the native stack ips
 * (depth, innermost first; room for max words): each run of frames, from
 * the innermost, sits just inside the next native frame, going outward, of
 * the kind it was entered from; a run the native stack shows no frame for
 * joins the run outside it. A stack that shows no frame of the engine at
 * all ended early, in code the unwinder could not read (a JIT's): the runs
 * then go outside its outermost frame and *truncated is set. The stack
 * keeps its innermost words if it would grow past max (*truncated is then
 * set too). Returns the new depth. Async-signal-safe. */
int rp_script_splice(const rp_script_anchors_t *anchors, uintptr_t *ips,
                     int depth, int max, const rp_script_raw_t *frames,
                     int count, int *truncated);

/* ---- the process's engines ----------------------------------------------- */

/* Splices an engine's frames into a native stack (rp_php_splice). context
 * is what the thread last announced for its engine
 * (rp_sampler_set_script_context), or 0. */
typedef int (*rp_script_splicer_fn)(const void *engine,
                                    rp_script_table_t *table, uintptr_t context,
                                    uintptr_t *ips, int depth, int max,
                                    int *truncated);

/* The engines of this process, one per slot (set at its start, before any
 * sampling); a NULL splicer empties the slot. */
enum { RP_SCRIPT_SLOT_PHP = 0, RP_SCRIPT_SLOT_LUA = 1, RP_SCRIPT_SLOTS = 2 };
void rp_script_set_engine(int slot, rp_script_splicer_fn splicer,
                          const void *engine);

/* 1 once an engine was set: samplers then map their tables. */
int rp_script_engine_present(void);

/* What the sampler calls on every stack it captures: each engine's
 * splicer in turn (one that is not running leaves the stack alone).
 * Async-signal-safe. */
int rp_script_splice_stack(rp_script_table_t *table, uintptr_t context,
                           uintptr_t *ips, int depth, int max, int *truncated);

/* ---- reading memory that may not be there ------------------------------ */

/* Copies n bytes at address src of this process (whose pid is given, so
 * that a read costs one system call) into dst without faulting:
 * process_vm_readv on the process itself. Returns the bytes copied (fewer
 * than n where the range runs into unmapped memory), 0 on failure.
 * Async-signal-safe. */
size_t rp_script_read(pid_t pid, void *dst, uintptr_t src, size_t n);

/* A pointer-sized word or a 32-bit value at offset off of what was read
 * (unaligned reads of an engine's structures). */
static inline uintptr_t rp_script_word_at(const unsigned char *buf,
                                          uint32_t off)
{
    uintptr_t v;
    memcpy(&v, buf + off, sizeof(v));
    return v;
}

static inline uint32_t rp_script_u32_at(const unsigned char *buf, uint32_t off)
{
    uint32_t v;
    memcpy(&v, buf + off, sizeof(v));
    return v;
}

/* [start, end) of a function found by name among the loaded objects'
 * dynamic symbols: 0 if it is not there. Not async-signal-safe. */
int rp_script_function_range(const char *name, rp_script_range_t *range);

/* count (at most 128) reads of each bytes, src[i] into dst[i], in one
 * system call (cheaper than count calls for small reads, though each piece
 * still costs). They are done in order and stop at the first that fails:
 * returns the bytes copied, count * each when all succeeded. */
size_t rp_script_read_many(pid_t pid, void *const *dst, const uintptr_t *src,
                           size_t each, int count);

#endif
