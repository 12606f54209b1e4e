#define _GNU_SOURCE 1 /* dladdr1 */
#include "rp_php.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Deepest PHP stack read per sample: each frame costs two reads. */
#define MAX_PHP_FRAMES 100
/* Longest zend_string believed: anything longer is a torn read. */
#define MAX_STRING (1u << 20)

/* ---- attaching ------------------------------------------------------------
 */

/* [start, end) of a function found by name in the loaded objects. */
static int function_range(const char *name, uintptr_t *lo, uintptr_t *hi)
{
    void *start = dlsym(RTLD_DEFAULT, name);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (start == NULL ||
        dladdr1(start, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 ||
        sym == NULL || sym->st_size == 0) {
        return 0;
    }
    *lo = (uintptr_t)start;
    *hi = (uintptr_t)start + sym->st_size;
    return 1;
}

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
    if (!function_range("execute_ex", &a.executor_lo, &a.executor_hi)) {
        *why = "its executor (execute_ex) was not found";
        return RP_PHP_UNSUPPORTED;
    }
    /* Without it, runs PHP calls from C land on the executor outside. */
    function_range("zend_call_function", &a.call_lo, &a.call_hi);
    php->layout = &rp_php_layout;
    php->pid = getpid();
    php->executor_globals = (uintptr_t)globals;
    php->anchors = a;
    return RP_PHP_READY;
}

/* ---- reading --------------------------------------------------------------
 */

static uintptr_t word_at(const unsigned char *buf, uint32_t off)
{
    uintptr_t v;
    memcpy(&v, buf + off, sizeof(v));
    return v;
}

static uint32_t u32_at(const unsigned char *buf, uint32_t off)
{
    uint32_t v;
    memcpy(&v, buf + off, sizeof(v));
    return v;
}

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
    size_t len = word_at(buf, L->str_len);
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
    return read_string(php, word_at(buf, 0), out);
}

/* What one function needs to be named. */
typedef struct php_function {
    uintptr_t address;
    int user;
    uintptr_t name, scope, filename;
    int line;
} php_function_t;

static int read_function(const rp_php_t *php, uintptr_t func,
                         php_function_t *out)
{
    const rp_php_layout_t *L = php->layout;
    unsigned char buf[512];
    if (L->fn_user_size > sizeof(buf)) {
        return 0;
    }
    size_t got = rp_script_read(php->pid, buf, func, L->fn_user_size);
    if (got < L->fn_common_size) {
        return 0;
    }
    uint8_t type = buf[L->fn_type];
    if (type != L->user_function && type != L->internal_function) {
        return 0;
    }
    out->address = func;
    out->user = type == L->user_function;
    out->name = word_at(buf, L->fn_name);
    out->scope = word_at(buf, L->fn_scope);
    out->filename = 0;
    out->line = 0;
    if (out->user) {
        if (got < L->fn_user_size) {
            return 0;
        }
        out->filename = word_at(buf, L->fn_filename);
        out->line = (int)u32_at(buf, L->fn_line_start);
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

int rp_php_read(const rp_php_t *php, rp_script_table_t *table,
                rp_script_raw_t *out, int max)
{
    const rp_php_layout_t *L = php->layout;
    unsigned char ex[256];
    uintptr_t at;
    if (L == NULL || L->ex_size > sizeof(ex) ||
        rp_script_read(php->pid, &at,
                       php->executor_globals + L->eg_current_execute_data,
                       sizeof(at)) != sizeof(at)) {
        return 0;
    }
    int n = 0;
    if (max > MAX_PHP_FRAMES) {
        max = MAX_PHP_FRAMES;
    }
    for (int hops = 0; at != 0 && n < max && hops < 4 * MAX_PHP_FRAMES;
         hops++) {
        if (rp_script_read(php->pid, ex, at, L->ex_size) != L->ex_size) {
            break;
        }
        uintptr_t func = word_at(ex, L->ex_func);
        uint32_t info = u32_at(ex, L->ex_call_info);
        uintptr_t prev = word_at(ex, L->ex_prev);
        int top = (info & L->call_top) != 0;
        php_function_t f;
        if (func != 0) {
            if (!read_function(php, func, &f)) {
                break;
            }
            int code = f.name == 0 && (info & L->call_code) != 0;
            out[n].word = intern_function(php, table, &f, code && top);
            out[n].run_start = !top     ? 0
                               : f.user ? RP_SCRIPT_RUN_ENTERED
                                        : RP_SCRIPT_RUN_CALLED;
            n++;
        } else if (top && n > 0 && out[n - 1].run_start == 0) {
            /* A frame without a function (a dummy the engine pushes before
             * calling from C) ends the run inside it. */
            out[n - 1].run_start = RP_SCRIPT_RUN_ENTERED;
        }
        if (prev == at) {
            break;
        }
        at = prev;
    }
    return n;
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

int rp_php_splice(const void *engine, rp_script_table_t *table, uintptr_t *ips,
                  int depth, int max, int *truncated)
{
    const rp_php_t *php = engine;
    rp_script_raw_t frames[MAX_PHP_FRAMES];
    if (!rp_php_running(php)) {
        return depth;
    }
    int count = rp_php_read(php, table, frames, MAX_PHP_FRAMES);
    return rp_script_splice(&php->anchors, ips, depth, max, frames, count,
                            truncated);
}
