#include "rp_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *skip_spaces(const char *p)
{
    while (*p == ' ') {
        p++;
    }
    return p;
}

/* Reads one number in the given base; returns NULL if there is none. */
static const char *read_number(const char *p, int base, long long *out)
{
    char *end;
    p = skip_spaces(p);
    errno = 0;
    long long v = strtoll(p, &end, base);
    if (end == p || errno != 0) {
        return NULL;
    }
    *out = v;
    return end;
}

static const char *read_address(const char *p, uintptr_t *out)
{
    char *end;
    p = skip_spaces(p);
    if (strncmp(p, "0x", 2) != 0) {
        return NULL;
    }
    errno = 0;
    unsigned long long v = strtoull(p, &end, 16);
    if (end == p + 2 || errno != 0) {
        return NULL;
    }
    *out = (uintptr_t)v;
    return end;
}

static int at_line_end(const char *p)
{
    p = skip_spaces(p);
    return *p == '\0' || *p == '\n';
}

int rp_proc_parse_syscall(const char *text, rp_thread_status_t *out)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(text, "running", 7) == 0 && at_line_end(text + 7)) {
        out->state = RP_THREAD_RUNNING;
        return 1;
    }
    long long nr;
    const char *p = read_number(text, 10, &nr);
    if (p == NULL || nr < -1) {
        return 0;
    }
    if (nr >= 0) {
        for (int i = 0; i < 6; i++) {
            uintptr_t ignored;
            if ((p = read_address(p, &ignored)) == NULL) {
                return 0;
            }
        }
    }
    uintptr_t sp, pc;
    if ((p = read_address(p, &sp)) == NULL ||
        (p = read_address(p, &pc)) == NULL || !at_line_end(p)) {
        return 0;
    }
    out->state = RP_THREAD_BLOCKED;
    out->has_registers = 1;
    out->syscall = (long)nr;
    out->sp = sp;
    out->pc = pc;
    return 1;
}

int rp_proc_parse_stat(const char *text, rp_thread_status_t *out)
{
    memset(out, 0, sizeof(*out));
    /* The command name may hold spaces and parentheses: the state follows
     * the last ')'. */
    const char *paren = strrchr(text, ')');
    if (paren == NULL || paren[1] != ' ' || paren[2] == '\0') {
        return 0;
    }
    switch (paren[2]) {
    case 'R':
        out->state = RP_THREAD_RUNNING;
        return 1;
    case 'S':
    case 'D':
    case 'T':
    case 't':
    case 'I':
    case 'P':
        out->state = RP_THREAD_BLOCKED;
        out->syscall = -1;
        return 1;
    default: /* Z, X: exiting */
        return 0;
    }
}

static int open_task_file(long tid, const char *name)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/task/%ld/%s", tid, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static int read_text(int fd, char *buf, size_t size);

/* The thread whose files were opened ahead (rp_proc_preopen_this_thread). */
static struct {
    long tid;
    rp_proc_thread_t files;
} preopened = {-1, {-1, -1, -1, -1}};

static int usable_syscall_fd(int fd)
{
    /* Opening can succeed where reading is refused: try once. */
    char probe[160];
    if (fd >= 0 && pread(fd, probe, sizeof(probe), 0) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void open_all(rp_proc_thread_t *t, long tid)
{
    t->stat_fd = open_task_file(tid, "stat");
    t->syscall_fd = usable_syscall_fd(open_task_file(tid, "syscall"));
    t->wchan_fd = t->status_fd = -1;
    if (t->syscall_fd < 0) {
        rp_proc_open_wait_files(t, tid);
    }
}

void rp_proc_open_wait_files(rp_proc_thread_t *t, long tid)
{
    if (t->wchan_fd < 0) {
        t->wchan_fd = open_task_file(tid, "wchan");
    }
    if (t->status_fd < 0) {
        t->status_fd = open_task_file(tid, "status");
    }
}

static int dup_or_none(int fd)
{
    return fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
}

int rp_proc_open(rp_proc_thread_t *t, long tid)
{
    if (tid == preopened.tid && tid >= 0) {
        t->stat_fd = dup_or_none(preopened.files.stat_fd);
        t->syscall_fd = dup_or_none(preopened.files.syscall_fd);
        t->wchan_fd = dup_or_none(preopened.files.wchan_fd);
        t->status_fd = dup_or_none(preopened.files.status_fd);
        if (t->syscall_fd >= 0) {
            return t->stat_fd >= 0;
        }
        rp_proc_close(t); /* the copies failed: open afresh */
    }
    open_all(t, tid);
    return t->stat_fd >= 0;
}

void rp_proc_preopen_this_thread(void)
{
    if (preopened.tid >= 0) {
        rp_proc_close(&preopened.files);
    }
    preopened.tid = (long)syscall(SYS_gettid);
    open_all(&preopened.files, preopened.tid);
}

int rp_proc_read_wchan(const rp_proc_thread_t *t, char *buf, size_t size)
{
    if (t->wchan_fd < 0 || size < 2) {
        return 0;
    }
    ssize_t n = pread(t->wchan_fd, buf, size - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return 1;
}

int rp_proc_parse_voluntary_switches(const char *text, uint64_t *out)
{
    static const char key[] = "\nvoluntary_ctxt_switches:";
    const char *at = strstr(text, key);
    if (at == NULL) {
        return 0;
    }
    at += sizeof(key) - 1;
    while (*at == ' ' || *at == '\t') {
        at++;
    }
    if (*at < '0' || *at > '9') {
        return 0;
    }
    uint64_t n = 0;
    for (; *at >= '0' && *at <= '9'; at++) {
        if (n > (UINT64_MAX - 9) / 10) {
            return 0;
        }
        n = n * 10 + (uint64_t)(*at - '0');
    }
    if (*at != '\n' && *at != '\0') {
        return 0;
    }
    *out = n;
    return 1;
}

int rp_proc_read_voluntary_switches(const rp_proc_thread_t *t, uint64_t *out)
{
    char buf[4096];
    return t->status_fd >= 0 && read_text(t->status_fd, buf, sizeof(buf)) &&
           rp_proc_parse_voluntary_switches(buf, out);
}

int rp_proc_wchan_restartable(const char *wchan)
{
    /* Kernel function names vary between versions; these parts do not. */
    static const char *const final_waits[] = {
        "sigsuspend", "sigtimedwait", "pause", "connect", "wait_for_peer"};
    for (size_t i = 0; i < sizeof(final_waits) / sizeof(final_waits[0]); i++) {
        if (strstr(wchan, final_waits[i]) != NULL) {
            return 0;
        }
    }
    return 1;
}

void rp_proc_close(rp_proc_thread_t *t)
{
    if (t->syscall_fd >= 0) {
        close(t->syscall_fd);
    }
    if (t->stat_fd >= 0) {
        close(t->stat_fd);
    }
    if (t->wchan_fd >= 0) {
        close(t->wchan_fd);
    }
    if (t->status_fd >= 0) {
        close(t->status_fd);
    }
    t->syscall_fd = t->stat_fd = t->wchan_fd = t->status_fd = -1;
}

static int read_text(int fd, char *buf, size_t size)
{
    ssize_t n = pread(fd, buf, size - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    return 1;
}

void rp_proc_read(const rp_proc_thread_t *t, rp_thread_status_t *out)
{
    char buf[512];
    memset(out, 0, sizeof(*out));
    if (t->syscall_fd >= 0 && read_text(t->syscall_fd, buf, sizeof(buf)) &&
        rp_proc_parse_syscall(buf, out)) {
        return;
    }
    if (t->stat_fd >= 0 && read_text(t->stat_fd, buf, sizeof(buf)) &&
        rp_proc_parse_stat(buf, out)) {
        return;
    }
    out->state = RP_THREAD_UNKNOWN;
}

const char *rp_proc_syscall_name(long nr)
{
    switch (nr) {
    case SYS_read:
        return "read";
    case SYS_write:
        return "write";
    case SYS_readv:
        return "readv";
    case SYS_writev:
        return "writev";
    case SYS_pread64:
        return "pread64";
    case SYS_poll:
        return "poll";
    case SYS_ppoll:
        return "ppoll";
    case SYS_select:
        return "select";
    case SYS_pselect6:
        return "pselect6";
    case SYS_epoll_wait:
        return "epoll_wait";
    case SYS_epoll_pwait:
        return "epoll_pwait";
    case SYS_nanosleep:
        return "nanosleep";
    case SYS_clock_nanosleep:
        return "clock_nanosleep";
    case SYS_futex:
        return "futex";
    case SYS_accept:
        return "accept";
    case SYS_accept4:
        return "accept4";
    case SYS_connect:
        return "connect";
    case SYS_recvfrom:
        return "recvfrom";
    case SYS_recvmsg:
        return "recvmsg";
    case SYS_sendto:
        return "sendto";
    case SYS_sendmsg:
        return "sendmsg";
    case SYS_sendfile:
        return "sendfile";
    case SYS_wait4:
        return "wait4";
    case SYS_waitid:
        return "waitid";
    case SYS_flock:
        return "flock";
    case SYS_fcntl:
        return "fcntl";
    case SYS_fsync:
        return "fsync";
    case SYS_fdatasync:
        return "fdatasync";
    case SYS_openat:
        return "openat";
    case SYS_semop:
        return "semop";
    case SYS_semtimedop:
        return "semtimedop";
    default:
        return NULL;
    }
}
