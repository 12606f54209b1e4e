#include "rp_stacks.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <string.h>

#include "rp_buf.h"
#include "rp_collapsed.h"

/* ---- writing ------------------------------------------------------------- */

typedef struct {
    rp_buf_t *out;
    rp_buf_t path;
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

static void stack_line(render_ctx_t *c, const char *stack,
                       const rp_node_t *node)
{
    apr_uint64_t wait = self_wait(node);
    if (wait > node->self) {
        wait = node->self;
    }
    rp_buf_puts(c->out, stack);
    rp_buf_printf(c->out, " %" APR_UINT64_T_FMT " %" APR_UINT64_T_FMT "\n",
                  (apr_uint64_t)(node->self - wait) * c->interval_us,
                  (apr_uint64_t)wait * c->interval_us);
}

static void visit(render_ctx_t *c, const rp_node_t *node)
{
    apr_size_t mark = c->path.len;
    if (mark > 0) {
        rp_buf_puts(&c->path, ";");
    }
    rp_collapsed_frame(&c->path, node->func);
    if (node->self > 0) {
        stack_line(c, c->path.data, node);
    }
    for (const rp_node_t *n = node->first_child; n; n = n->next_sibling) {
        visit(c, n);
    }
    c->path.len = mark;
    c->path.data[mark] = '\0';
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
    rp_buf_init(&c.path, pool, 1024);
    const rp_node_t *root = &p->tree->root;
    if (root->self > 0) {
        stack_line(&c, RP_COLLAPSED_EMPTY_STACK, root);
    }
    for (const rp_node_t *n = root->first_child; n; n = n->next_sibling) {
        visit(&c, n);
    }
    *len = b.len;
    return rp_buf_str(&b);
}

/* ---- summing ------------------------------------------------------------- */

typedef struct {
    apr_uint64_t cpu_us, wait_us;
} times_t;

struct rp_stacks_sum {
    apr_pool_t *pool;
    apr_hash_t *stacks; /* stack text -> times_t */
    unsigned profiles;
    apr_uint64_t total_us;
};

rp_stacks_sum_t *rp_stacks_sum_create(apr_pool_t *pool)
{
    rp_stacks_sum_t *sum = apr_pcalloc(pool, sizeof(*sum));
    sum->pool = pool;
    sum->stacks = apr_hash_make(pool);
    return sum;
}

/* Microseconds: 1 to 15 digits (over 30 years), nothing else. */
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

/* One line: "stack CPU WAIT". Returns 0 if it is not one. */
static int add_line(rp_stacks_sum_t *sum, const char *line, apr_size_t n)
{
    const char *wait_at = last_space(line, n);
    if (wait_at == NULL) {
        return 0;
    }
    const char *cpu_at = last_space(line, (apr_size_t)(wait_at - line));
    apr_uint64_t cpu, wait;
    if (cpu_at == NULL || cpu_at == line ||
        !parse_us(cpu_at + 1, (apr_size_t)(wait_at - cpu_at - 1), &cpu) ||
        !parse_us(wait_at + 1, (apr_size_t)(line + n - wait_at - 1), &wait)) {
        return 0;
    }
    apr_size_t stack_len = (apr_size_t)(cpu_at - line);
    unsigned depth = 1;
    for (apr_size_t i = 0; i < stack_len; i++) {
        if (line[i] == '\0' ||
            (line[i] == ';' && ++depth > RP_STACKS_MAX_DEPTH)) {
            return 0;
        }
    }
    times_t *t = apr_hash_get(sum->stacks, line, (apr_ssize_t)stack_len);
    if (t == NULL) {
        t = apr_pcalloc(sum->pool, sizeof(*t));
        apr_hash_set(sum->stacks, apr_pstrmemdup(sum->pool, line, stack_len),
                     (apr_ssize_t)stack_len, t);
    }
    t->cpu_us += cpu;
    t->wait_us += wait;
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

/* The function a frame's text names ("function [object]"), interned: the
 * same text gives the same record, as the tree compares frames by
 * pointer. */
static const rp_func_t *func_of(apr_hash_t *funcs, const char *text,
                                apr_size_t len, apr_pool_t *pool)
{
    rp_func_t *f = apr_hash_get(funcs, text, (apr_ssize_t)len);
    if (f != NULL) {
        return f;
    }
    f = apr_pcalloc(pool, sizeof(*f));
    char *key = apr_pstrmemdup(pool, text, len);
    char *name = apr_pstrmemdup(pool, text, len);
    f->name = name;
    f->object = "";
    /* The object is in the last " [...]" that ends the frame. */
    for (apr_size_t i = len; len > 3 && name[len - 1] == ']' && i-- > 1;) {
        if (name[i] == '[' && name[i - 1] == ' ') {
            name[i - 1] = '\0';
            name[len - 1] = '\0';
            f->object = object_named(name + i + 1, pool);
            f->resolved = 1;
            break;
        }
    }
    apr_hash_set(funcs, key, (apr_ssize_t)len, f);
    return f;
}

/* Adds weight (us) of one stack, in pieces a sample's weight can hold. */
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

void rp_stacks_sum_profile(const rp_stacks_sum_t *sum, rp_profile_t *out)
{
    apr_pool_t *pool = sum->pool;
    rp_profile_begin(out, pool);
    apr_hash_t *funcs = apr_hash_make(pool);
    const rp_func_t **frames =
        apr_palloc(pool, sizeof(*frames) * RP_STACKS_MAX_DEPTH);
    apr_uint64_t cpu = 0, wait = 0;
    for (apr_hash_index_t *hi = apr_hash_first(pool, sum->stacks); hi;
         hi = apr_hash_next(hi)) {
        const void *key;
        apr_ssize_t klen;
        void *val;
        apr_hash_this(hi, &key, &klen, &val);
        const char *stack = key;
        const times_t *t = val;
        unsigned depth = 0;
        if (strcmp(stack, RP_COLLAPSED_EMPTY_STACK) != 0) {
            for (const char *p = stack; depth < RP_STACKS_MAX_DEPTH;) {
                const char *semi =
                    memchr(p, ';', (apr_size_t)(stack + klen - p));
                const char *e = semi ? semi : stack + klen;
                frames[depth++] = func_of(funcs, p, (apr_size_t)(e - p), pool);
                if (semi == NULL) {
                    break;
                }
                p = semi + 1;
            }
        }
        add_weight(out, frames, depth, t->cpu_us, 0);
        add_weight(out, frames, depth, t->wait_us, 1);
        cpu += t->cpu_us;
        wait += t->wait_us;
    }
    rp_profile_end(out);
    out->stats.interval_us = 1;
    out->stats.weight = cpu + wait;
    out->stats.wait_weight = wait;
    out->stats.samples = out->sample_count;
    out->stats.wall_ns = (cpu + wait) * 1000;
    out->stats.cpu_ns = cpu * 1000;
}
