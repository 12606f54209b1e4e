/* rp_php: the PHP functions a thread of this process is running, read from
 * the engine's own data (PHP 8.2, the non-thread-safe build Debian's
 * mod_php is): the executor globals' chain of execute data, innermost call
 * first. Nothing in PHP is called and nothing is allocated: every address is
 * read with rp_script_read, so a torn or half-built frame ends the chain
 * early instead of faulting. The field offsets come from the headers of the
 * PHP the module was built against (rp_php_layout.c); an engine of another
 * version is left alone (rp_php_attach says why).
 *
 * Knows nothing of httpd. */
#ifndef RP_PHP_H
#define RP_PHP_H

#include <stdint.h>
#include <sys/types.h>

#include "rp_script.h"

/* Where PHP keeps what is read, in bytes from the start of each struct. */
typedef struct rp_php_layout {
    int available;            /* 0: built without PHP's headers */
    const char *zend_version; /* ZEND_VERSION, e.g. "4.2.36" */
    uint32_t eg_current_execute_data;
    uint32_t ex_size, ex_func, ex_call_info, ex_prev;
    uint32_t fn_type, fn_name, fn_scope;
    uint32_t fn_common_size; /* enough for an internal function */
    uint32_t fn_filename, fn_line_start;
    uint32_t fn_user_size; /* enough for a user function's fields */
    uint32_t ce_name;
    uint32_t str_len, str_val;
    uint32_t call_top;     /* ZEND_CALL_TOP in the call info */
    uint32_t call_code;    /* ZEND_CALL_CODE: a file's or eval's code */
    uint32_t call_closure; /* ZEND_CALL_CLOSURE: a closure's call */
    uint8_t internal_function, user_function;
} rp_php_layout_t;

/* The layout of the PHP headers the module was built with. */
extern const rp_php_layout_t rp_php_layout;

typedef struct rp_php {
    const rp_php_layout_t *layout;
    pid_t pid;                   /* this process */
    uintptr_t executor_globals;  /* address of the engine's globals */
    rp_script_anchors_t anchors; /* execute_ex, zend_call_function */
} rp_php_t;

typedef enum {
    RP_PHP_ABSENT = 0,     /* no PHP engine in this process */
    RP_PHP_READY = 1,      /* frames can be read */
    RP_PHP_UNSUPPORTED = 2 /* an engine this module cannot read: *why */
} rp_php_status_e;

/* Looks for a PHP engine among the objects loaded in this process (the
 * symbols executor_globals, execute_ex, zend_call_function and
 * get_zend_version) and fills php when it is one the layout fits. *why says
 * why not, for an engine present but unsupported (a static string or
 * written into why_buf). Not async-signal-safe: call it at process start. */
int rp_php_attach(rp_php_t *php, char *why_buf, size_t why_len,
                  const char **why);

/* In a process forked after attaching (httpd's children): reads go to
 * this process from now on. */
void rp_php_adopt(rp_php_t *php);

/* Reads the thread's running PHP frames, innermost first, up to max, into
 * out (their names interned in table). Returns how many; 0 if none or
 * unreadable. Only meaningful on the thread that runs PHP, or while it is
 * blocked. Async-signal-safe. */
int rp_php_read(const rp_php_t *php, rp_script_table_t *table,
                rp_script_raw_t *out, int max);

/* 1 while the engine executes PHP code (its current execute data is set):
 * a load from the engine's globals, no system call. */
int rp_php_running(const rp_php_t *php);

/* rp_script_splicer for PHP: while PHP code runs, reads its frames and
 * splices them into the native stack (rp_script_splice). */
int rp_php_splice(const void *php, rp_script_table_t *table, uintptr_t context,
                  uintptr_t *ips, int depth, int max, int *truncated);

#endif
