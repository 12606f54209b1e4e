#include "rp_syscall_site.h"

#include <sys/syscall.h>

/* Length of one instruction at code[0..len) if it is one of the few that
 * glibc places between loading the call number and `syscall` (register and
 * stack moves, xor, immediates into other registers), and it does not write
 * %eax/%rax; 0 otherwise. */
static size_t benign_length(const unsigned char *code, size_t len)
{
    size_t i = 0;
    unsigned rex = 0;
    if (i < len && (code[i] & 0xf0) == 0x40) {
        rex = code[i++];
    }
    if (i >= len) {
        return 0;
    }
    unsigned op = code[i++];
    int rex_w = (rex & 8) != 0, rex_r = (rex & 4) != 0, rex_b = (rex & 1) != 0;

    if (op >= 0xb8 && op <= 0xbf) { /* mov $imm, reg */
        if ((op & 7) == 0 && !rex_b) {
            return 0; /* writes %eax */
        }
        size_t imm = rex_w ? 8 : 4;
        return i + imm <= len ? i + imm : 0;
    }
    /* ModRM-based: mov (89, 8b), xor (31, 33), group-1 immediates (80, 81,
     * 83), mov $imm, r/m (c7). */
    int writes_reg;
    size_t imm = 0;
    switch (op) {
    case 0x89:
    case 0x31:
        writes_reg = 0;
        break;
    case 0x8b:
    case 0x33:
        writes_reg = 1;
        break;
    case 0x80:
    case 0x83:
        writes_reg = 0;
        imm = 1;
        break;
    case 0x81:
    case 0xc7:
        writes_reg = 0;
        imm = 4;
        break;
    default:
        return 0;
    }
    if (i >= len) {
        return 0;
    }
    unsigned modrm = code[i++];
    unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
    if (op == 0x80 || op == 0x81 || op == 0x83) {
        if (reg == 7) {
            writes_reg = -1; /* cmp writes nothing */
        }
    } else if (op == 0xc7 && reg != 0) {
        return 0;
    }
    if (mod == 3) {
        int dest_is_eax = writes_reg == 1
                              ? (reg == 0 && !rex_r)
                              : writes_reg == 0 && rm == 0 && !rex_b;
        if (dest_is_eax) {
            return 0;
        }
    } else {
        if (writes_reg == 1 && reg == 0 && !rex_r) {
            return 0; /* a load into %eax */
        }
        if (rm == 4) {
            if (i >= len) {
                return 0;
            }
            unsigned sib = code[i++];
            if (mod == 0 && (sib & 7) == 5) {
                i += 4;
            }
        } else if (mod == 0 && rm == 5) {
            i += 4; /* %rip-relative */
        }
        i += mod == 1 ? 1 : mod == 2 ? 4 : 0;
    }
    i += imm;
    return i <= len ? i : 0;
}

/* Whether code[from..len) is a run of benign instructions ending exactly at
 * len. */
static int benign_run(const unsigned char *code, size_t from, size_t len)
{
    while (from < len) {
        size_t n = benign_length(code + from, len - from);
        if (n == 0) {
            return 0;
        }
        from += n;
    }
    return from == len;
}

long rp_syscall_site_number(const unsigned char *code, size_t len)
{
    if (code == NULL) {
        return -1;
    }
    /* The nearest load wins: it is the last write to %eax. */
    for (size_t at = len; at-- > 0;) {
        long nr = -1;
        size_t next = 0;
        if (code[at] == 0xb8 && at + 5 <= len) {
            nr = (long)((unsigned long)code[at + 1] |
                        (unsigned long)code[at + 2] << 8 |
                        (unsigned long)code[at + 3] << 16 |
                        (unsigned long)code[at + 4] << 24);
            next = at + 5;
        } else if ((code[at] == 0x31 || code[at] == 0x33) && at + 2 <= len &&
                   code[at + 1] == 0xc0) {
            nr = 0; /* xor %eax,%eax */
            next = at + 2;
        } else {
            continue;
        }
        if (at > 0 && (code[at - 1] & 0xf0) == 0x40) {
            continue; /* a REX prefix: another register, or a wider move */
        }
        if (nr < 0 || nr > 1024) {
            continue;
        }
        if (benign_run(code, next, len)) {
            return nr;
        }
    }
    return -1;
}

int rp_syscall_restartable(long nr)
{
    switch (nr) {
    case SYS_read:
    case SYS_write:
    case SYS_readv:
    case SYS_writev:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_accept:
    case SYS_accept4:
    case SYS_poll:
    case SYS_ppoll:
    case SYS_select:
    case SYS_pselect6:
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
    case SYS_futex:
    case SYS_nanosleep:
    case SYS_clock_nanosleep:
    case SYS_wait4:
        return 1;
    default:
        return 0;
    }
}
