#include "rp_stacks.h"

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_collapsed.h"

/* ---- writing ------------------------------------------------------------- */

typedef struct {
    rp_buf_t *out;
    apr_uint64_t interval_us;
} render_ctx_t;

/* The waiting part of what ended at node itself: its waiting time less
 * that of its callees. */
static apr_uint64_t self_wait(const rp_node_t *node)
{
    apr_uint64_t below = 0;
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        below += n->wait;
    }
    return node->wait > below ? node->wait - below : 0;
}

static void stack_line(void *ctx, const char *stack, apr_size_t len,
                       const rp_node_t *node)
{
    render_ctx_t *c = ctx;
    apr_uint64_t wait = self_wait(node);
    if (wait > node->self) {
        wait = node->self;
    }
    rp_buf_append(c->out, stack, len);
    rp_buf_printf(c->out, " %" APR_UINT64_T_FMT " %" APR_UINT64_T_FMT "\n",
                  (apr_uint64_t)(node->self - wait) * c->interval_us,
                  (apr_uint64_t)wait * c->interval_us);
}

const char *rp_stacks_render(const rp_profile_t *p, apr_pool_t *pool,
                             apr_size_t *len)
{
    rp_buf_t b;
    rp_buf_init(&b, pool, 1024 + (apr_size_t)p->tree->node_count * 96);
    render_ctx_t c = {.out = &b,
                      .interval_us = p->stats.interval_us > 0
                                         ? (apr_uint64_t)p->stats.interval_us
                                         : 1};
    rp_collapsed_walk(p->tree, pool, stack_line, &c);
    *len = b.len;
    return rp_buf_str(&b);
}

/* ---- summing ------------------------------------------------------------- */

/* A sum keeps the stacks as a tree of frames: a stack that many profiles
 * share is kept once, with one node per frame, however many lines name it,
 * and the summed profile is built from the tree without reading any text
 * again. Three tables lead into it:
 *   - frames: each distinct frame text once, as the rp_func_t the summed
 *     profile's tree compares by pointer;
 *   - nodes: (caller's node, frame text) -> node, to walk a new stack down;
 *   - stacks: a whole stack's text -> the node it ends in, so that a stack
 *     seen before (most lines: a route's requests repeat their stacks)
 *     costs one hash of the line and a walk up to confirm it, not a lookup
 *     per frame.
 * The tables are open addressing over 64-bit hashes kept in the slots, so
 * most mismatches are rejected without touching the item. */

typedef struct frame {
    rp_func_t func;   /* what the summed profile's tree points to */
    const char *text; /* as the lines write it */
    apr_size_t len;
} frame_t;

typedef struct snode snode_t;
struct snode {
    const frame_t *frame; /* NULL for the root: the empty stack */
    const snode_t *parent;
    snode_t *next;                /* every node, in the order made */
    apr_uint64_t cpu_us, wait_us; /* of the lines that end here */
    unsigned depth;               /* the root is 0 */
};

typedef struct {
    apr_uint64_t hash;
    void *item; /* NULL: free */
} slot_t;

typedef struct {
    slot_t *slots;
    apr_size_t mask; /* slots - 1, slots a power of two */
    apr_size_t used;
} table_t;

struct rp_stacks_sum {
    apr_pool_t *pool;
    apr_uint64_t seed; /* random, in every hash (see fold_mul) */
    table_t frames, nodes, stacks;
    snode_t root;
    snode_t *last; /* of the list of nodes from root */
    unsigned profiles;
    apr_uint64_t total_us;
};

/* ---- hashing and tables -------------------------------------------------- */

/* Spreads every bit of h over the whole word. */
static apr_uint64_t spread(apr_uint64_t h)
{
    h ^= h >> 31;
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* The 128-bit product of a and b folded to 64 bits: how a change in one
 * input's bits moves the result depends on the other input, and so on the
 * sum's seed, so texts cannot be prepared to collide in every sum. */
static apr_uint64_t fold_mul(apr_uint64_t a, apr_uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (apr_uint64_t)r ^ (apr_uint64_t)(r >> 64);
}

/* Eight bytes a step: a stack line is about a kilobyte, and this hash is
 * most of what a line seen before costs. */
static apr_uint64_t hash_bytes(const char *p, apr_size_t n, apr_uint64_t seed)
{
    apr_uint64_t h = seed ^ ((apr_uint64_t)n * 0x9e3779b97f4a7c15ULL);
    for (; n >= 8; p += 8, n -= 8) {
        apr_uint64_t w;
        memcpy(&w, p, 8);
        h = fold_mul(w ^ seed, h ^ 0xbf58476d1ce4e5b9ULL);
    }
    apr_uint64_t tail = 0;
    memcpy(&tail, p, n);
    return spread(fold_mul(tail ^ seed, h ^ 0xbf58476d1ce4e5b9ULL));
}

static void table_init(table_t *t, apr_pool_t *pool, apr_size_t slots)
{
    t->slots = apr_pcalloc(pool, sizeof(slot_t) * slots);
    t->mask = slots - 1;
    t->used = 0;
}

/* Is item the one key describes? */
typedef int (*same_fn)(const void *item, const void *key);

static void *table_find(const table_t *t, apr_uint64_t hash, same_fn same,
                        const void *key)
{
    for (apr_size_t i = (apr_size_t)hash & t->mask; t->slots[i].item;
         i = (i + 1) & t->mask) {
        if (t->slots[i].hash == hash && same(t->slots[i].item, key)) {
            return t->slots[i].item;
        }
    }
    return NULL;
}

static void slot_put(table_t *t, apr_uint64_t hash, void *item)
{
    apr_size_t i = (apr_size_t)hash & t->mask;
    while (t->slots[i].item) {
        i = (i + 1) & t->mask;
    }
    t->slots[i].hash = hash;
    t->slots[i].item = item;
    t->used++;
}

/* Adds item (not in t yet), doubling the table at half full so probe runs
 * stay short. The old slots stay in the pool: at most as much again. */
static void table_put(table_t *t, apr_pool_t *pool, apr_uint64_t hash,
                      void *item)
{
    if (2 * (t->used + 1) > t->mask + 1) {
        table_t grown;
        table_init(&grown, pool, 2 * (t->mask + 1));
        for (apr_size_t i = 0; i <= t->mask; i++) {
            if (t->slots[i].item) {
                slot_put(&grown, t->slots[i].hash, t->slots[i].item);
            }
        }
        *t = grown;
    }
    slot_put(t, hash, item);
}

/* ---- frames and nodes ---------------------------------------------------- */

typedef struct {
    const snode_t *parent; /* for nodes only */
    const char *text;
    apr_size_t len;
} text_key_t;

static int same_frame(const void *item, const void *key)
{
    const frame_t *f = item;
    const text_key_t *k = key;
    return f->len == k->len && memcmp(f->text, k->text, k->len) == 0;
}

static int same_node(const void *item, const void *key)
{
    const snode_t *n = item;
    const text_key_t *k = key;
    return n->parent == k->parent && same_frame(n->frame, key);
}

/* Objects rp_collapsed found already in brackets ("[kernel]"): written
 * the same as an object of that name, they get their brackets back. */
static const char *object_named(const char *inside, apr_pool_t *pool)
{
    static const char *const bracketed[] = {
        "kernel", "vdso", "vsyscall", "unknown", "anon", "heap", "stack"};
    for (size_t i = 0; i < sizeof(bracketed) / sizeof(bracketed[0]); i++) {
        if (strcmp(inside, bracketed[i]) == 0) {
            return apr_pstrcat(pool, "[", inside, "]", NULL);
        }
    }
    return inside;
}

/* Splits "function [object]" (the object in the last " [...]" that ends
 * the text) into f's name and object; a frame without one, or whose last
 * brackets are empty (which rp_collapsed never writes: an object without a
 * name is left out), keeps it all as its name, so that what is read is
 * written back the same. */
static void func_from_text(rp_func_t *f, const char *text, apr_size_t len,
                           apr_pool_t *pool)
{
    char *name = apr_pstrmemdup(pool, text, len);
    f->name = name;
    f->object = "";
    f->resolved = 1;
    for (apr_size_t i = len; len > 3 && name[len - 1] == ']' && i-- > 1;) {
        if (name[i] == '[' && name[i - 1] == ' ') {
            if (i + 1 == len - 1) {
                return; /* " []" */
            }
            name[i - 1] = '\0';
            name[len - 1] = '\0';
            f->object = object_named(name + i + 1, pool);
            return;
        }
    }
}

/* The frame of that text, interned: the same text gives the same record,
 * as the tree compares frames by pointer. */
static const frame_t *frame_of(rp_stacks_sum_t *sum, const text_key_t *k,
                               apr_uint64_t hash)
{
    frame_t *f = table_find(&sum->frames, hash, same_frame, k);
    if (f == NULL) {
        f = apr_pcalloc(sum->pool, sizeof(*f));
        func_from_text(&f->func, k->text, k->len, sum->pool);
        f->text = apr_pstrmemdup(sum->pool, k->text, k->len);
        f->len = k->len;
        table_put(&sum->frames, sum->pool, hash, f);
    }
    return f;
}

/* The child of parent for the frame written text, made if new. */
static snode_t *child_of(rp_stacks_sum_t *sum, const snode_t *parent,
                         const char *text, apr_size_t len)
{
    text_key_t k = {.parent = parent, .text = text, .len = len};
    apr_uint64_t frame_hash = hash_bytes(text, len, sum->seed);
    apr_uint64_t hash = spread(frame_hash ^ (apr_uintptr_t)parent);
    snode_t *n = table_find(&sum->nodes, hash, same_node, &k);
    if (n == NULL) {
        n = apr_pcalloc(sum->pool, sizeof(*n));
        n->frame = frame_of(sum, &k, frame_hash);
        n->parent = parent;
        n->depth = parent->depth + 1;
        sum->last->next = n;
        sum->last = n;
        table_put(&sum->nodes, sum->pool, hash, n);
    }
    return n;
}

/* ---- stacks -------------------------------------------------------------- */

/* Does the path from the root to node read text? Compared from the leaf up,
 * frame by frame, so a stack found by its hash is confirmed without a copy
 * of its text being kept. */
static int path_is(const snode_t *node, const char *text, apr_size_t len)
{
    apr_size_t end = len;
    for (; node->frame != NULL; node = node->parent) {
        apr_size_t n = node->frame->len;
        if (n > end || memcmp(text + end - n, node->frame->text, n) != 0) {
            return 0;
        }
        end -= n;
        if (node->parent->frame == NULL) {
            return end == 0;
        }
        if (end == 0 || text[--end] != ';') {
            return 0;
        }
    }
    return 0;
}

static int same_stack(const void *item, const void *key)
{
    const text_key_t *k = key;
    return path_is(item, k->text, k->len);
}

/* A stack as rp_stacks_render writes it: at most RP_STACKS_MAX_DEPTH
 * frames, none empty, valid UTF-8 without control characters (C0, DEL,
 * C1), as rp_collapsed_frame leaves names. So what a store hands back is
 * never more than what a profile could have held. */
static int stack_valid(const char *text, apr_size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    unsigned depth = 1;
    apr_size_t frame_start = 0;
    for (apr_size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == ';') {
            if (i == frame_start || ++depth > RP_STACKS_MAX_DEPTH) {
                return 0;
            }
            frame_start = ++i;
        } else if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return 0;
            }
            i++;
        } else {
            apr_size_t n = rp_utf8_length(p + i, len - i);
            if (n == 0 || (c == 0xc2 && p[i + 1] < 0xa0)) {
                return 0;
            }
            i += n;
        }
    }
    return len > frame_start;
}

/* The node a stack's text ends in, made if new; NULL if the text is not a
 * stack. */
static snode_t *stack_node(rp_stacks_sum_t *sum, const char *text,
                           apr_size_t len)
{
    static const char empty[] = RP_COLLAPSED_EMPTY_STACK;
    if (len == sizeof(empty) - 1 && memcmp(text, empty, len) == 0) {
        return &sum->root;
    }
    text_key_t k = {.text = text, .len = len};
    apr_uint64_t hash = hash_bytes(text, len, sum->seed);
    snode_t *node = table_find(&sum->stacks, hash, same_stack, &k);
    if (node != NULL) {
        return node;
    }
    if (!stack_valid(text, len)) {
        return NULL;
    }
    node = &sum->root;
    for (const char *p = text, *end = text + len;;) {
        const char *semi = memchr(p, ';', (apr_size_t)(end - p));
        const char *e = semi ? semi : end;
        node = child_of(sum, node, p, (apr_size_t)(e - p));
        if (semi == NULL) {
            break;
        }
        p = semi + 1;
    }
    table_put(&sum->stacks, sum->pool, hash, node);
    return node;
}

/* ---- lines --------------------------------------------------------------- */

/* A seed for one sum's hashes: random where the system gives randomness,
 * else what APR's own tables use (the time and an address). */
static apr_uint64_t new_seed(const void *where)
{
    apr_uint64_t seed;
    if (apr_generate_random_bytes((unsigned char *)&seed, sizeof(seed)) !=
        APR_SUCCESS) {
        seed = (apr_uint64_t)apr_time_now() ^ (apr_uintptr_t)where;
    }
    return spread(seed);
}

rp_stacks_sum_t *rp_stacks_sum_create(apr_pool_t *pool)
{
    rp_stacks_sum_t *sum = apr_pcalloc(pool, sizeof(*sum));
    sum->pool = pool;
    sum->seed = new_seed(sum);
    table_init(&sum->frames, pool, 256);
    table_init(&sum->nodes, pool, 256);
    table_init(&sum->stacks, pool, 256);
    sum->last = &sum->root;
    return sum;
}

/* Microseconds: 1 to 15 digits (over 30 years), nothing else, so that
 * adding two never overflows; RP_STACKS_MAX_US bounds what is kept. */
static int parse_us(const char *p, apr_size_t n, apr_uint64_t *out)
{
    if (n == 0 || n > 15) {
        return 0;
    }
    apr_uint64_t v = 0;
    for (apr_size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(p[i] - '0');
    }
    *out = v;
    return 1;
}

/* The last space in [p, p + n), or NULL. */
static const char *last_space(const char *p, apr_size_t n)
{
    while (n > 0) {
        if (p[--n] == ' ') {
            return p + n;
        }
    }
    return NULL;
}

/* "STACK CPU WAIT": the stack's length and the two times. */
static int split_line(const char *line, apr_size_t n, apr_size_t *stack_len,
                      apr_uint64_t *cpu, apr_uint64_t *wait)
{
    const char *wait_at = last_space(line, n);
    if (wait_at == NULL) {
        return 0;
    }
    const char *cpu_at = last_space(line, (apr_size_t)(wait_at - line));
    if (cpu_at == NULL || cpu_at == line ||
        !parse_us(cpu_at + 1, (apr_size_t)(wait_at - cpu_at - 1), cpu) ||
        !parse_us(wait_at + 1, (apr_size_t)(line + n - wait_at - 1), wait)) {
        return 0;
    }
    *stack_len = (apr_size_t)(cpu_at - line);
    return 1;
}

/* One line. Returns 0 if it is not one, or would take the sum past
 * RP_STACKS_MAX_US. */
static int add_line(rp_stacks_sum_t *sum, const char *line, apr_size_t n)
{
    apr_size_t stack_len;
    apr_uint64_t cpu, wait;
    if (!split_line(line, n, &stack_len, &cpu, &wait) ||
        cpu + wait > RP_STACKS_MAX_US - sum->total_us) {
        return 0;
    }
    snode_t *node = stack_node(sum, line, stack_len);
    if (node == NULL) {
        return 0;
    }
    node->cpu_us += cpu;
    node->wait_us += wait;
    sum->total_us += cpu + wait;
    return 1;
}

unsigned rp_stacks_sum_add(rp_stacks_sum_t *sum, const char *text,
                           apr_size_t len)
{
    unsigned skipped = 0;
    const char *end = text + len;
    for (const char *p = text; p < end;) {
        const char *nl = memchr(p, '\n', (apr_size_t)(end - p));
        const char *line_end = nl ? nl : end;
        if (line_end > p && !add_line(sum, p, (apr_size_t)(line_end - p))) {
            skipped++;
        }
        p = nl ? nl + 1 : end;
    }
    sum->profiles++;
    return skipped;
}

unsigned rp_stacks_sum_profiles(const rp_stacks_sum_t *sum)
{
    return sum->profiles;
}

apr_uint64_t rp_stacks_sum_total_us(const rp_stacks_sum_t *sum)
{
    return sum->total_us;
}

/* ---- the sum as a profile ------------------------------------------------ */

/* Adds weight (us) of one stack, in pieces a sample's weight can hold:
 * RP_STACKS_MAX_US bounds how many. */
static void add_weight(rp_profile_t *out, const rp_func_t **frames,
                       unsigned depth, apr_uint64_t us, int waiting)
{
    while (us > 0) {
        uint32_t piece = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
        rp_stack_t s = {.frames = frames,
                        .depth = depth,
                        .weight = piece,
                        .waiting = waiting,
                        .phase = 0,
                        .syscall = -1};
        rp_profile_add_stack(out, &s);
        us -= piece;
    }
}

/* The frames from the root to node, outermost first; returns how many. */
static unsigned frames_of(const snode_t *node, const rp_func_t **frames)
{
    for (const snode_t *n = node; n->frame != NULL; n = n->parent) {
        frames[n->depth - 1] = &n->frame->func;
    }
    return node->depth;
}

void rp_stacks_sum_profile(const rp_stacks_sum_t *sum, rp_profile_t *out)
{
    rp_profile_begin(out, sum->pool);
    memset(&out->stats, 0, sizeof(out->stats));
    out->truncated_stacks = 0;
    const rp_func_t **frames =
        apr_palloc(sum->pool, sizeof(*frames) * RP_STACKS_MAX_DEPTH);
    apr_uint64_t cpu = 0, wait = 0;
    /* In the order the nodes were made: the same texts give the same
     * samples, whatever the seed. */
    for (const snode_t *n = &sum->root; n != NULL; n = n->next) {
        if (n->cpu_us == 0 && n->wait_us == 0) {
            continue;
        }
        unsigned depth = frames_of(n, frames);
        add_weight(out, frames, depth, n->cpu_us, 0);
        add_weight(out, frames, depth, n->wait_us, 1);
        cpu += n->cpu_us;
        wait += n->wait_us;
    }
    rp_profile_end(out);
    out->stats.interval_us = 1;
    out->stats.clock = RP_CLOCK_WALL;
    out->stats.wall_ns = (cpu + wait) * 1000;
    out->stats.cpu_ns = cpu * 1000;
}
