#define _GNU_SOURCE 1 /* process_vm_readv, dladdr1 */
#include "rp_script.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>

/* Sized for a big application's request: distinct functions sampled in one
 * session, and their names. A full table names further frames
 * RP_SCRIPT_FULL_FRAME. */
#define TABLE_ENTRIES 8192
#define TABLE_SLOTS 16384 /* a power of two, twice the entries */
_Static_assert(TABLE_ENTRIES < (1 << 14), "entry index + 1 fits a slot");
#define TABLE_TEXT (512 * 1024)
#define FULL_INDEX 0 /* entry 0 is the full-table frame */
/* A slot holds its session's tag above the entry index + 1. */
#define SLOT_INDEX_BITS 14 /* TABLE_ENTRIES < 2^14 */
#define SLOT_TAG(generation) ((uint32_t)((generation)&0x3ffff))

typedef struct entry {
    rp_script_key_t key;
    uint32_t name_off, file_off; /* into text */
    uint16_t name_len, file_len;
    int32_t line;
    uint8_t engine;
    uint8_t internal;
    uint8_t has_file;
} entry_t;

struct rp_script_table {
    unsigned id;
    uint64_t generation;
    uint32_t used;      /* entries */
    uint32_t text_used; /* bytes */
    /* The session's tag (SLOT_TAG of the generation) and entry index + 1,
     * or 0. A slot of another session is empty, so a reset leaves the slots
     * as they are and earlier sessions' slots never fill the table. */
    uint32_t slots[TABLE_SLOTS];
    entry_t entries[TABLE_ENTRIES];
    char text[TABLE_TEXT];
    _Alignas(16) unsigned char scratch[RP_SCRIPT_SCRATCH];
};

void *rp_script_table_scratch(rp_script_table_t *table)
{
    return table->scratch;
}

const char *rp_script_object(int engine)
{
    return engine == RP_SCRIPT_PHP   ? "[php]"
           : engine == RP_SCRIPT_LUA ? "[lua]"
                                     : "[script]";
}

rp_script_table_t *rp_script_table_create(unsigned id)
{
    void *m = mmap(NULL, sizeof(rp_script_table_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        return NULL;
    }
    rp_script_table_t *t = m;
    t->id = id;
    rp_script_table_reset(t);
    return t;
}

void rp_script_table_destroy(rp_script_table_t *table)
{
    if (table != NULL) {
        munmap(table, sizeof(*table));
    }
}

static void add_full_entry(rp_script_table_t *t)
{
    size_t len = sizeof(RP_SCRIPT_FULL_FRAME) - 1;
    entry_t *e = &t->entries[FULL_INDEX];
    memset(e, 0, sizeof(*e));
    memcpy(t->text, RP_SCRIPT_FULL_FRAME, len + 1);
    e->name_len = (uint16_t)len;
    e->internal = 1;
    t->text_used = (uint32_t)len + 1;
    t->used = 1;
}

void rp_script_table_reset(rp_script_table_t *table)
{
    add_full_entry(table);
    table->generation++;
}

uint64_t rp_script_table_generation(const rp_script_table_t *table)
{
    return table->generation;
}

static uintptr_t word_of(const rp_script_table_t *t, uint32_t index)
{
    return RP_SCRIPT_TAG | ((uintptr_t)t->id << RP_SCRIPT_TABLE_SHIFT) | index;
}

static uint32_t hash_key(const rp_script_key_t *key)
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 4; i++) {
        h ^= key->words[i];
        h *= 0xff51afd7ed558ccdu;
        h ^= h >> 33;
    }
    return (uint32_t)h;
}

/* The entry a slot holds in this session, or -1 if it is empty. */
static int slot_entry(const rp_script_table_t *t, uint32_t v)
{
    uint32_t index = v & ((1u << SLOT_INDEX_BITS) - 1);
    if (index == 0 || (v >> SLOT_INDEX_BITS) != SLOT_TAG(t->generation) ||
        index - 1 >= t->used) {
        return -1;
    }
    return (int)index - 1;
}

/* The slot holding key (*entry set to its entry), or the empty slot where
 * it would go (*entry -1); -1 if there is none (the search is bounded: it
 * runs in a signal handler). */
static int slot_for(const rp_script_table_t *t, const rp_script_key_t *key,
                    int *entry)
{
    uint32_t mask = TABLE_SLOTS - 1;
    uint32_t i = hash_key(key) & mask;
    for (int probes = 0; probes < TABLE_SLOTS; probes++) {
        *entry = slot_entry(t, t->slots[i]);
        if (*entry < 0 ||
            memcmp(&t->entries[*entry].key, key, sizeof(*key)) == 0) {
            return (int)i;
        }
        i = (i + 1) & mask;
    }
    *entry = -1;
    return -1;
}

uintptr_t rp_script_table_find(const rp_script_table_t *table,
                               const rp_script_key_t *key)
{
    int entry;
    slot_for(table, key, &entry);
    return entry >= 0 ? word_of(table, (uint32_t)entry) : 0;
}

static uint32_t copy_text(rp_script_table_t *t, const char *s, size_t *len)
{
    if (*len > RP_SCRIPT_MAX_NAME) {
        *len = RP_SCRIPT_MAX_NAME;
    }
    uint32_t off = t->text_used;
    memcpy(t->text + off, s, *len);
    t->text[off + *len] = '\0';
    t->text_used += (uint32_t)*len + 1;
    return off;
}

uintptr_t rp_script_table_add(rp_script_table_t *table,
                              const rp_script_key_t *key, int engine,
                              int internal, const char *name, size_t name_len,
                              const char *file, size_t file_len, int line)
{
    int entry;
    int slot = slot_for(table, key, &entry);
    if (entry >= 0) {
        return word_of(table, (uint32_t)entry);
    }
    if (slot < 0 || table->used >= TABLE_ENTRIES ||
        table->text_used + 2 * (RP_SCRIPT_MAX_NAME + 1) > TABLE_TEXT) {
        return word_of(table, FULL_INDEX);
    }
    uint32_t index = table->used;
    entry_t *e = &table->entries[index];
    e->key = *key;
    e->engine = (uint8_t)engine;
    e->internal = (uint8_t)(internal != 0);
    e->line = line;
    e->name_off = copy_text(table, name, &name_len);
    e->name_len = (uint16_t)name_len;
    e->has_file = file != NULL;
    e->file_len = 0;
    if (file != NULL) {
        e->file_off = copy_text(table, file, &file_len);
        e->file_len = (uint16_t)file_len;
    }
    table->used = index + 1;
    table->slots[slot] =
        (SLOT_TAG(table->generation) << SLOT_INDEX_BITS) | (index + 1);
    return word_of(table, index);
}

int rp_script_table_get(const rp_script_table_t *table, uintptr_t word,
                        rp_script_frame_t *out)
{
    if (!rp_script_is_frame(word) ||
        ((word & ~RP_SCRIPT_TAG) >> RP_SCRIPT_TABLE_SHIFT) != table->id) {
        return 0;
    }
    uint32_t index = (uint32_t)word;
    if (index >= table->used) {
        return 0;
    }
    const entry_t *e = &table->entries[index];
    out->engine = e->engine;
    out->internal = e->internal;
    out->name = table->text + e->name_off;
    out->file = e->has_file ? table->text + e->file_off : NULL;
    out->line = e->line;
    return 1;
}

/* ---- splicing ------------------------------------------------------------ */

static int in_range(uintptr_t ip, int is_return, uintptr_t lo, uintptr_t hi)
{
    /* A return address points just past its call: the call itself may be
     * the last instruction of the function. */
    uintptr_t at = is_return ? ip - 1 : ip;
    return lo != 0 && at >= lo && at < hi;
}

static int in_ranges(const rp_script_range_t *ranges, const uintptr_t *ips,
                     int i)
{
    for (int r = 0; r < RP_SCRIPT_RANGES; r++) {
        if (in_range(ips[i], i > 0, ranges[r].lo, ranges[r].hi)) {
            return 1;
        }
    }
    return 0;
}

static int is_executor(const rp_script_anchors_t *a, const uintptr_t *ips,
                       int i)
{
    return in_ranges(a->executor, ips, i);
}

static int is_call_entry(const rp_script_anchors_t *a, const uintptr_t *ips,
                         int i)
{
    return in_ranges(a->call, ips, i);
}

int rp_script_stack_has_executor(const rp_script_anchors_t *anchors,
                                 const uintptr_t *ips, int depth)
{
    for (int i = 0; i < depth; i++) {
        if (!rp_script_is_frame(ips[i]) && is_executor(anchors, ips, i)) {
            return 1;
        }
    }
    return 0;
}

/* Where each run goes: the index of the native frame it sits just inside,
 * or depth (outside the outermost native frame) when the stack shows no
 * frame of the engine at all: the unwinder stopped in code it could not
 * read (a JIT's), so the runs go where the stack ends. Runs end (going
 * outward) at a frame with run_start set. Returns 0 in that last case. */
static int place_runs(const rp_script_anchors_t *a, const uintptr_t *ips,
                      int depth, const rp_script_raw_t *frames, int count,
                      int *at)
{
    int native = 0;
    int previous = -1;
    int run_end = 0;
    while (run_end < count) {
        int first = run_end;
        while (run_end < count - 1 && frames[run_end].run_start == 0) {
            run_end++;
        }
        int called = frames[run_end].run_start == RP_SCRIPT_RUN_CALLED;
        run_end++;
        int i = native;
        while (i < depth &&
               !(called ? is_call_entry(a, ips, i) : is_executor(a, ips, i))) {
            i++;
        }
        int place;
        if (i < depth) {
            place = i;
            native = i + 1;
        } else if (previous >= 0) {
            place = previous;
        } else {
            for (int f = 0; f < count; f++) {
                at[f] = depth;
            }
            return 0;
        }
        for (int f = first; f < run_end; f++) {
            at[f] = place;
        }
        previous = place;
    }
    return 1;
}

int rp_script_splice(const rp_script_anchors_t *anchors, uintptr_t *ips,
                     int depth, int max, const rp_script_raw_t *frames,
                     int count, int *truncated)
{
    enum { ROOM = 256 }; /* on a signal handler's stack: 3 KiB */
    int at[ROOM];
    uintptr_t out[ROOM];
    if (count <= 0 || count > ROOM || depth > ROOM || max > ROOM) {
        return depth;
    }
    if (!place_runs(anchors, ips, depth, frames, count, at)) {
        *truncated = 1; /* the native stack ends before its root */
    }
    int n = 0;
    int f = 0;
    for (int i = 0; i <= depth && n < max; i++) {
        while (f < count && at[f] == i && n < max) {
            out[n++] = frames[f++].word;
        }
        if (i < depth && n < max) {
            out[n++] = ips[i];
        }
    }
    if (n < depth + count) {
        *truncated = 1;
    }
    memcpy(ips, out, sizeof(uintptr_t) * (size_t)n);
    return n;
}

/* ---- the process's engine ------------------------------------------------ */

static struct {
    rp_script_splicer_fn splicer;
    const void *state;
} engines[RP_SCRIPT_SLOTS];

void rp_script_set_engine(int slot, rp_script_splicer_fn splicer,
                          const void *engine)
{
    if (slot >= 0 && slot < RP_SCRIPT_SLOTS) {
        engines[slot].state = engine;
        engines[slot].splicer = splicer;
    }
}

int rp_script_engine_present(void)
{
    for (int i = 0; i < RP_SCRIPT_SLOTS; i++) {
        if (engines[i].splicer != NULL) {
            return 1;
        }
    }
    return 0;
}

int rp_script_splice_stack(rp_script_table_t *table, uintptr_t context,
                           uintptr_t *ips, int depth, int max, int *truncated)
{
    if (table == NULL) {
        return depth;
    }
    for (int i = 0; i < RP_SCRIPT_SLOTS; i++) {
        if (engines[i].splicer != NULL) {
            depth = engines[i].splicer(engines[i].state, table, context, ips,
                                       depth, max, truncated);
        }
    }
    return depth;
}

/* ---- reading ------------------------------------------------------------- */

int rp_script_function_range(const char *name, rp_script_range_t *range)
{
    void *start = dlsym(RTLD_DEFAULT, name);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (start == NULL ||
        dladdr1(start, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 ||
        sym == NULL || sym->st_size == 0) {
        return 0;
    }
    range->lo = (uintptr_t)start;
    range->hi = (uintptr_t)start + sym->st_size;
    return 1;
}

size_t rp_script_read_many(pid_t pid, void *const *dst, const uintptr_t *src,
                           size_t each, int count)
{
    enum { BATCH = 128 };
    struct iovec local[BATCH], remote[BATCH];
    if (count <= 0 || count > BATCH) {
        return 0;
    }
    for (int i = 0; i < count; i++) {
        local[i].iov_base = dst[i];
        local[i].iov_len = each;
        remote[i].iov_base = (void *)src[i];
        remote[i].iov_len = each;
    }
    ssize_t got = process_vm_readv(pid, local, (unsigned long)count, remote,
                                   (unsigned long)count, 0);
    return got > 0 ? (size_t)got : 0;
}

size_t rp_script_read(pid_t pid, void *dst, uintptr_t src, size_t n)
{
    if (src == 0 || n == 0) {
        return 0;
    }
    struct iovec local = {.iov_base = dst, .iov_len = n};
    struct iovec remote = {.iov_base = (void *)src, .iov_len = n};
    ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    return got > 0 ? (size_t)got : 0;
}
