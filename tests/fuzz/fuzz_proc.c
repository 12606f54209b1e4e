/* libFuzzer target: rp_proc_parse_syscall and rp_proc_parse_stat, the
 * parsers of /proc/self/task/TID/syscall and .../stat.
 *
 * The first input byte picks a mode:
 *  - even: the rest is raw text, given to both parsers. Beyond the
 *    sanitizers: each returns 0 or 1; a failure leaves the status zeroed
 *    (RP_THREAD_UNKNOWN); "blocked" from the syscall file always comes with
 *    registers and a system call number of at least -1; the stat parser
 *    never claims registers.
 *  - odd: the rest chooses the fields of a well-formed line, which is
 *    written the way the kernel writes it and must parse back to exactly
 *    those fields: "running", "NR 0xA1 .. 0xA6 0xSP 0xPC", "-1 0xSP 0xPC",
 *    and "PID (comm) S ..." with a command name that may hold spaces,
 *    parentheses and any byte but NUL. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "rp_proc.h"

static int all_zero(const rp_thread_status_t *st)
{
    static const rp_thread_status_t zero;
    return memcmp(st, &zero, sizeof(zero)) == 0;
}

static void raw_mode(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    rp_thread_status_t st;
    memset(&st, 0xa5, sizeof(st));
    int ok = rp_proc_parse_syscall(text, &st);
    FUZZ_CHECK(ok == 0 || ok == 1, "returned %d", ok);
    if (!ok) {
        FUZZ_CHECK(all_zero(&st), "syscall: failure left fields set");
    } else if (st.state == RP_THREAD_RUNNING) {
        FUZZ_CHECK(strncmp(text, "running", 7) == 0 && !st.has_registers, "'%s'", text);
    } else {
        FUZZ_CHECK(st.state == RP_THREAD_BLOCKED && st.has_registers && st.syscall >= -1,
                   "'%s': state %d regs %d nr %ld", text, st.state, st.has_registers,
                   st.syscall);
    }
    memset(&st, 0xa5, sizeof(st));
    ok = rp_proc_parse_stat(text, &st);
    FUZZ_CHECK(ok == 0 || ok == 1, "returned %d", ok);
    if (!ok) {
        FUZZ_CHECK(all_zero(&st), "stat: failure left fields set");
    } else {
        FUZZ_CHECK(st.state == RP_THREAD_RUNNING || st.state == RP_THREAD_BLOCKED,
                   "state %d", st.state);
        FUZZ_CHECK(!st.has_registers, "stat cannot know registers");
        FUZZ_CHECK(strrchr(text, ')') != NULL, "'%s'", text);
    }
    free(text);
}

static uint64_t take(const uint8_t **p, const uint8_t *end, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = (v << 8) | (*p < end ? *(*p)++ : 0);
    }
    return v;
}

static void structured_mode(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    unsigned kind = (unsigned)take(&p, end, 1) % 4;
    char line[512];
    rp_thread_status_t st;
    if (kind == 0) {
        snprintf(line, sizeof(line), "running%s", take(&p, end, 1) % 2 ? "\n" : "");
        FUZZ_CHECK(rp_proc_parse_syscall(line, &st) == 1 && st.state == RP_THREAD_RUNNING,
                   "'%s'", line);
        return;
    }
    if (kind == 1 || kind == 2) {
        long nr = kind == 1 ? (long)(take(&p, end, 2) % 512) : -1;
        uint64_t args[6], sp = take(&p, end, 8), pc = take(&p, end, 8);
        int n = kind == 1 ? snprintf(line, sizeof(line), "%ld", nr)
                          : snprintf(line, sizeof(line), "-1");
        if (kind == 1) {
            for (int i = 0; i < 6; i++) {
                args[i] = take(&p, end, 8);
                n += snprintf(line + n, sizeof(line) - (size_t)n, " 0x%" PRIx64, args[i]);
            }
        }
        snprintf(line + n, sizeof(line) - (size_t)n, " 0x%" PRIx64 " 0x%" PRIx64 "\n", sp, pc);
        FUZZ_CHECK(rp_proc_parse_syscall(line, &st) == 1, "'%s'", line);
        FUZZ_CHECK(st.state == RP_THREAD_BLOCKED && st.has_registers && st.syscall == nr &&
                       st.sp == (uintptr_t)sp && st.pc == (uintptr_t)pc,
                   "'%s': nr %ld sp %" PRIxPTR " pc %" PRIxPTR, line, st.syscall, st.sp, st.pc);
        return;
    }
    /* stat: "PID (comm) S PPID ..." with a hostile command name. */
    static const char states[] = "RSDTtIPZXxKWn";
    char state = states[take(&p, end, 1) % (sizeof(states) - 1)];
    char comm[64];
    size_t clen = 0;
    while (p < end && clen < sizeof(comm) - 1) {
        char c = (char)*p++;
        comm[clen++] = c ? c : ')';
    }
    comm[clen] = '\0';
    snprintf(line, sizeof(line), "4242 (%s) %c 1 4242 4242 0 -1 4194560 0 0 0 0\n", comm,
             state);
    int ok = rp_proc_parse_stat(line, &st);
    switch (state) {
    case 'R':
        FUZZ_CHECK(ok == 1 && st.state == RP_THREAD_RUNNING, "'%s'", line);
        break;
    case 'S':
    case 'D':
    case 'T':
    case 't':
    case 'I':
    case 'P':
        FUZZ_CHECK(ok == 1 && st.state == RP_THREAD_BLOCKED && st.syscall == -1, "'%s'", line);
        break;
    default:
        FUZZ_CHECK(ok == 0, "'%s' state %c accepted", line, state);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        raw_mode(data + 1, size - 1);
    } else {
        structured_mode(data + 1, size - 1);
    }
    return 0;
}
