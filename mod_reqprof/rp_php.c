#include "rp_php.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Deepest PHP stack read per sample: each frame costs two reads. */
#define MAX_PHP_FRAMES 100
/* Longest zend_string believed: anything longer is a torn read. */
#define MAX_STRING (1u << 20)

/* ---- attaching ------------------------------------------------------------
 */

/* "Zend Engine v4.2.36, Copyright ..." against "4.2.36": the major and
 * minor versions fix the layout. */
static int same_minor_version(const char *running, const char *built)
{
    const char *v = strstr(running, " v");
    if (v == NULL) {
        return 0;
    }
    v += 2;
    const char *dot = strchr(built, '.');
    dot = dot != NULL ? strchr(dot + 1, '.') : NULL;
    size_t n = dot != NULL ? (size_t)(dot - built) : strlen(built);
    return strncmp(v, built, n) == 0 &&
           (v[n] == '.' || v[n] == '\0' || v[n] == ',' || v[n] == '-');
}

int rp_php_attach(rp_php_t *php, char *why_buf, size_t why_len,
                  const char **why)
{
    memset(php, 0, sizeof(*php));
    *why = NULL;
    const char *(*version)(void) =
        (const char *(*)(void))dlsym(RTLD_DEFAULT, "get_zend_version");
    void *globals = dlsym(RTLD_DEFAULT, "executor_globals");
    if (version == NULL) {
        return RP_PHP_ABSENT;
    }
    const char *running = version();
    if (!rp_php_layout.available) {
        *why = "mod_reqprof was built without PHP's headers";
        return RP_PHP_UNSUPPORTED;
    }
    if (globals == NULL) {
        *why = "the engine is thread-safe (ZTS); only the non-thread-safe "
               "build (Debian's mod_php) is read";
        return RP_PHP_UNSUPPORTED;
    }
    if (running == NULL ||
        !same_minor_version(running, rp_php_layout.zend_version)) {
        snprintf(why_buf, why_len,
                 "the engine is %.60s; mod_reqprof reads Zend Engine %s's "
                 "layout",
                 running ? running : "of an unknown version",
                 rp_php_layout.zend_version);
        *why = why_buf;
        return RP_PHP_UNSUPPORTED;
    }
    rp_script_anchors_t a;
    memset(&a, 0, sizeof(a));
    if (!rp_script_function_range("execute_ex", &a.executor[0])) {
        *why = "its executor (execute_ex) was not found";
        return RP_PHP_UNSUPPORTED;
    }
    /* Without it, runs PHP calls from C land on the executor outside. */
    rp_script_function_range("zend_call_function", &a.call[0]);
    php->layout = &rp_php_layout;
    php->pid = getpid();
    php->executor_globals = (uintptr_t)globals;
    php->anchors = a;
    return RP_PHP_READY;
}

void rp_php_adopt(rp_php_t *php)
{
    php->pid = getpid();
}

/* ---- reading --------------------------------------------------------------
 */

/* A zend_string's bytes, up to RP_SCRIPT_MAX_NAME; -1 if unreadable. */
static int read_string(const rp_php_t *php, uintptr_t str, char *out)
{
    const rp_php_layout_t *L = php->layout;
    unsigned char buf[64 + RP_SCRIPT_MAX_NAME];
    size_t want = L->str_val + RP_SCRIPT_MAX_NAME;
    if (str == 0 || want > sizeof(buf)) {
        return -1;
    }
    size_t got = rp_script_read(php->pid, buf, str, want);
    if (got < L->str_val) {
        return -1;
    }
    size_t len = rp_script_word_at(buf, L->str_len);
    if (len > MAX_STRING) {
        return -1;
    }
    if (len > RP_SCRIPT_MAX_NAME) {
        len = RP_SCRIPT_MAX_NAME;
    }
    if (got < L->str_val + len) {
        return -1;
    }
    memcpy(out, buf + L->str_val, len);
    return (int)len;
}

static int read_class_name(const rp_php_t *php, uintptr_t scope, char *out)
{
    unsigned char buf[sizeof(uintptr_t)];
    if (scope == 0 ||
        rp_script_read(php->pid, buf, scope + php->layout->ce_name,
                       sizeof(buf)) != sizeof(buf)) {
        return -1;
    }
    return read_string(php, rp_script_word_at(buf, 0), out);
}

/* What one function needs to be named. */
typedef struct php_function {
    uintptr_t address;
    int user;
    uintptr_t name, scope, filename;
    int line;
} php_function_t;

/* A function's header as read (got bytes of it): 0 if it is not one. */
static int parse_function(const rp_php_layout_t *L, const unsigned char *buf,
                          size_t got, uintptr_t func, php_function_t *out)
{
    if (got < L->fn_common_size) {
        return 0;
    }
    uint8_t type = buf[L->fn_type];
    if (type != L->user_function && type != L->internal_function) {
        return 0;
    }
    out->address = func;
    out->user = type == L->user_function;
    out->name = rp_script_word_at(buf, L->fn_name);
    out->scope = rp_script_word_at(buf, L->fn_scope);
    out->filename = 0;
    out->line = 0;
    if (out->user) {
        if (got < L->fn_user_size) {
            return 0;
        }
        out->filename = rp_script_word_at(buf, L->fn_filename);
        out->line = (int)rp_script_u32_at(buf, L->fn_line_start);
    }
    return 1;
}

/* "Class::method", "function", or for a file's own code "{main}" (the
 * script the request ran) or "{include}" (a file it included, or eval). */
static size_t compose_name(const rp_php_t *php, const php_function_t *f,
                           int top, char *out)
{
    char part[RP_SCRIPT_MAX_NAME + 1];
    size_t n = 0;
    if (f->name == 0) {
        const char *code = top ? "{main}" : "{include}";
        n = strlen(code);
        memcpy(out, code, n);
        return n;
    }
    int class_len = read_class_name(php, f->scope, part);
    if (class_len > 0) {
        memcpy(out, part, (size_t)class_len);
        memcpy(out + class_len, "::", 2);
        n = (size_t)class_len + 2;
    }
    int len = read_string(php, f->name, part);
    if (len < 0) {
        const char *unknown = "[unreadable]";
        len = (int)strlen(unknown);
        memcpy(part, unknown, (size_t)len);
    }
    memcpy(out + n, part, (size_t)len);
    return n + (size_t)len;
}

static uintptr_t intern_function(const rp_php_t *php, rp_script_table_t *table,
                                 const php_function_t *f, int top)
{
    rp_script_key_t key = {
        {f->address, f->name, f->scope, f->filename | (uintptr_t)(top != 0)}};
    uintptr_t word = rp_script_table_find(table, &key);
    if (word != 0) {
        return word;
    }
    char name[2 * RP_SCRIPT_MAX_NAME + 2];
    char file[RP_SCRIPT_MAX_NAME + 1];
    size_t name_len = compose_name(php, f, top, name);
    int file_len = f->user ? read_string(php, f->filename, file) : -1;
    return rp_script_table_add(table, &key, RP_SCRIPT_PHP, !f->user, name,
                               name_len, file_len >= 0 ? file : NULL,
                               file_len >= 0 ? (size_t)file_len : 0, f->line);
}

/* ---- one sample's reads ----------------------------------------------------
 * A system call costs about a microsecond, so a sample makes as few as it
 * can: the engine pushes call frames upward in its VM stack, so the callers
 * of the innermost frame lie just below it and one read of the stack below
 * it holds them (frames elsewhere, in an older chunk, are read one by one).
 * A function's header is read the first time its address is seen in a
 * session; after that the address names it, since the functions a request
 * declares live until it ends. Not so a closure's copy of its function or
 * an included file's or eval's code, freed when done with, whose address
 * the next one may take: their headers are read every time. Names are read
 * only when a function is new to the table. */

#define WINDOW 8192 /* bytes of VM stack read below the innermost frame */
#define HEADER_MAX 256

#define KNOWN_SLOTS 1024 /* functions named by their address: a power of 2 */

typedef struct chain_frame {
    uintptr_t func;
    uint32_t info;
    int ends_run; /* a frame without a function ended the run here */
} chain_frame_t;

typedef struct known_function {
    uintptr_t func;
    uintptr_t word; /* in the table */
    int user;
    uint64_t generation; /* of the table, when it was stored */
} known_function_t;

typedef struct php_scratch {
    unsigned char window[WINDOW];
    chain_frame_t chain[MAX_PHP_FRAMES];
    known_function_t known[KNOWN_SLOTS];
} php_scratch_t;

_Static_assert(sizeof(php_scratch_t) <= RP_SCRIPT_SCRATCH,
               "the PHP reader's scratch must fit the table's");

/* The chain from the innermost frame outward, at most max frames. */
static int walk_chain(const rp_php_t *php, php_scratch_t *sc, uintptr_t at,
                      int max)
{
    const rp_php_layout_t *L = php->layout;
    uintptr_t hi = at + L->ex_size;
    uintptr_t lo = hi > WINDOW ? hi - WINDOW : 0;
    size_t got = rp_script_read(php->pid, sc->window, lo, WINDOW);
    if (got < WINDOW) {
        /* The window's start is not mapped: from the innermost frame's own
         * page, which is. */
        lo = at & ~(uintptr_t)4095;
        got = hi - lo <= WINDOW
                  ? rp_script_read(php->pid, sc->window, lo, hi - lo)
                  : 0;
    }
    unsigned char one[256];
    int n = 0;
    for (int hops = 0; at != 0 && n < max && hops < 4 * MAX_PHP_FRAMES;
         hops++) {
        const unsigned char *ex;
        if (at >= lo && at + L->ex_size <= lo + got) {
            ex = sc->window + (at - lo);
        } else if (rp_script_read(php->pid, one, at, L->ex_size) ==
                   L->ex_size) {
            ex = one;
        } else {
            break;
        }
        uintptr_t func = rp_script_word_at(ex, L->ex_func);
        uint32_t info = rp_script_u32_at(ex, L->ex_call_info);
        uintptr_t prev = rp_script_word_at(ex, L->ex_prev);
        if (func != 0) {
            sc->chain[n].func = func;
            sc->chain[n].info = info;
            sc->chain[n].ends_run = 0;
            n++;
        } else if ((info & L->call_top) != 0 && n > 0) {
            /* A frame without a function (a dummy the engine pushes before
             * calling from C) ends the run inside it. */
            sc->chain[n - 1].ends_run = 1;
        }
        if (prev == at) {
            break;
        }
        at = prev;
    }
    return n;
}

static known_function_t *known_slot(php_scratch_t *sc, uintptr_t func)
{
    return &sc->known[(func >> 4) & (KNOWN_SLOTS - 1)];
}

/* The table's word for a frame's function, and whether it is user code;
 * 0 if its header could not be read (a torn frame). */
static uintptr_t frame_word(const rp_php_t *php, rp_script_table_t *table,
                            php_scratch_t *sc, const chain_frame_t *c,
                            int *user)
{
    const rp_php_layout_t *L = php->layout;
    uint64_t generation = rp_script_table_generation(table);
    int freed_when_done = (c->info & (L->call_code | L->call_closure)) != 0;
    known_function_t *k = known_slot(sc, c->func);
    if (!freed_when_done && k->func == c->func && k->generation == generation) {
        *user = k->user;
        return k->word;
    }
    unsigned char header[HEADER_MAX];
    size_t got = rp_script_read(php->pid, header, c->func, L->fn_user_size);
    php_function_t f;
    if (!parse_function(L, header, got, c->func, &f)) {
        return 0;
    }
    int top = (c->info & L->call_top) != 0;
    int code = f.name == 0 && (c->info & L->call_code) != 0;
    uintptr_t word = intern_function(php, table, &f, code && top);
    if (!freed_when_done) {
        k->func = c->func;
        k->word = word;
        k->user = f.user;
        k->generation = generation;
    }
    *user = f.user;
    return word;
}

int rp_php_read(const rp_php_t *php, rp_script_table_t *table,
                rp_script_raw_t *out, int max)
{
    const rp_php_layout_t *L = php->layout;
    if (L == NULL || L->ex_size > 256 || L->fn_user_size > HEADER_MAX ||
        !rp_php_running(php)) {
        return 0;
    }
    php_scratch_t *sc = rp_script_table_scratch(table);
    const volatile uintptr_t *current =
        (const volatile uintptr_t *)(php->executor_globals +
                                     L->eg_current_execute_data);
    int n = walk_chain(php, sc, *current,
                       max < MAX_PHP_FRAMES ? max : MAX_PHP_FRAMES);
    int count = 0;
    for (int i = 0; i < n; i++) {
        const chain_frame_t *c = &sc->chain[i];
        int user = 0;
        uintptr_t word = frame_word(php, table, sc, c, &user);
        if (word == 0) {
            break; /* a torn frame: the chain ends inside it */
        }
        int top = (c->info & L->call_top) != 0;
        out[count].word = word;
        out[count].run_start = c->ends_run ? RP_SCRIPT_RUN_ENTERED
                               : !top      ? 0
                               : user      ? RP_SCRIPT_RUN_ENTERED
                                           : RP_SCRIPT_RUN_CALLED;
        count++;
    }
    return count;
}

int rp_php_running(const rp_php_t *php)
{
    /* The globals are in the engine's own data segment, mapped while it is
     * loaded: a plain load, not a checked read. */
    if (php->layout == NULL) {
        return 0;
    }
    const volatile uintptr_t *current =
        (const volatile uintptr_t *)(php->executor_globals +
                                     php->layout->eg_current_execute_data);
    return *current != 0;
}

int rp_php_splice(const void *engine, rp_script_table_t *table,
                  uintptr_t context, uintptr_t *ips, int depth, int max,
                  int *truncated)
{
    (void)context; /* PHP's state is the engine's globals */
    const rp_php_t *php = engine;
    rp_script_raw_t frames[MAX_PHP_FRAMES];
    if (!rp_php_running(php)) {
        return depth;
    }
    int count = rp_php_read(php, table, frames, MAX_PHP_FRAMES);
    return rp_script_splice(&php->anchors, ips, depth, max, frames, count,
                            truncated);
}
