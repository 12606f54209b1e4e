#include "rp_lua.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- Lua 5.3's layout (lstate.h, lobject.h, lopcodes.h; x86-64) ----------
 * Checked at attach time by check_layout, never trusted blindly. */

#define L_CI 32 /* lua_State.ci */

#define CI_FUNC 0 /* CallInfo.func: the called value's stack slot */
#define CI_PREVIOUS 16
#define CI_SAVEDPC 40 /* u.l.savedpc, for Lua functions */
#define CI_CALLSTATUS 66
#define CI_SIZE 72
#define CIST_LUA (1 << 1)
#define CIST_FRESH (1 << 3) /* a fresh luaV_execute runs it */
#define CIST_TAIL (1 << 5)  /* tail called: its caller is gone */

#define TV_TT 8 /* TValue.tt_ */
#define TV_SIZE 16
#define TT_LUA_CLOSURE (6 | (0 << 4) | (1 << 6))
#define TT_LIGHT_C (6 | (1 << 4))
#define TT_C_CLOSURE (6 | (2 << 4) | (1 << 6))
#define TT_SHORT_STRING_VALUE (4 | (0 << 4) | (1 << 6))
#define TT_LONG_STRING_VALUE (4 | (1 << 4) | (1 << 6))

#define CLOSURE_FN 24 /* LClosure.p, CClosure.f */

#define P_SIZEUPVALUES 16
#define P_SIZECODE 24
#define P_SIZELOCVARS 36
#define P_LINEDEFINED 40
#define P_K 48
#define P_CODE 56
#define P_LOCVARS 80
#define P_UPVALUES 88
#define P_SOURCE 104
#define P_READ 112

#define TS_TT 8
#define TS_SHRLEN 11
#define TS_LNGLEN 16
#define TS_CONTENTS 24
#define TS_SHORT 4
#define TS_LONG 20

#define LOCVAR_SIZE 16 /* varname, startpc, endpc */
#define UPVALDESC_SIZE 16

/* Instructions: opcode 6 bits, A 8, C 9, B 9; Bx 18 bits above A. */
#define OPCODE(i) ((int)((i)&0x3f))
#define ARG_A(i) ((int)(((i) >> 6) & 0xff))
#define ARG_C(i) ((int)(((i) >> 14) & 0x1ff))
#define ARG_B(i) ((int)(((i) >> 23) & 0x1ff))
#define ARG_BX(i) ((int)((i) >> 14))
#define ARG_SBX(i) (ARG_BX(i) - 131071)
#define IS_K(x) ((x)&256)
#define INDEX_K(x) ((x) & ~256)

enum {
    OP_MOVE = 0,
    OP_LOADK = 1,
    OP_LOADNIL = 4,
    OP_GETUPVAL = 5,
    OP_GETTABUP = 6,
    OP_GETTABLE = 7,
    OP_SETTABUP = 8,
    OP_SETTABLE = 10,
    OP_SELF = 12,
    OP_ADD = 13,
    OP_BNOT = 26,
    OP_LEN = 28,
    OP_CONCAT = 29,
    OP_JMP = 30,
    OP_EQ = 31,
    OP_LT = 32,
    OP_LE = 33,
    OP_CALL = 36,
    OP_TAILCALL = 37,
    OP_TFORCALL = 41,
    OP_COUNT = 47
};

/* Whether an opcode sets its register A (lopcodes.c's A mode). */
static const unsigned char sets_a[OP_COUNT] = {
    1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0};

#define MAX_LUA_FRAMES 100
#define MAX_CODE 2048   /* instructions searched for a register's origin */
#define MAX_LOCVARS 256 /* local variables looked through for a name */

/* ---- reading ----------------------------------------------------------------
 */

static int read_word(const rp_lua_t *lua, uintptr_t at, uintptr_t *out)
{
    return rp_script_read(lua->pid, out, at, sizeof(*out)) == sizeof(*out);
}

/* A TString's bytes, up to RP_SCRIPT_MAX_NAME; -1 if unreadable. */
static int read_string(const rp_lua_t *lua, uintptr_t ts, char *out)
{
    unsigned char buf[TS_CONTENTS + RP_SCRIPT_MAX_NAME];
    size_t got = ts ? rp_script_read(lua->pid, buf, ts, sizeof(buf)) : 0;
    if (got < TS_CONTENTS) {
        return -1;
    }
    size_t len;
    if (buf[TS_TT] == TS_SHORT) {
        len = buf[TS_SHRLEN];
    } else if (buf[TS_TT] == TS_LONG) {
        len = rp_script_word_at(buf, TS_LNGLEN);
    } else {
        return -1;
    }
    if (len > RP_SCRIPT_MAX_NAME) {
        len = RP_SCRIPT_MAX_NAME;
    }
    if (got < TS_CONTENTS + len) {
        return -1;
    }
    memcpy(out, buf + TS_CONTENTS, len);
    return (int)len;
}

/* What one call info says. */
typedef struct lua_frame {
    uint16_t status;
    uintptr_t savedpc;
    uintptr_t slot;             /* the called value's stack slot */
    int is_lua;                 /* a Lua function (else C) */
    uintptr_t fn;               /* its Proto, or the C function */
    const unsigned char *proto; /* the Proto's header, for Lua functions */
} lua_frame_t;

#define STACK_WINDOW 16384 /* bytes of the Lua stack read at once */
#define KNOWN_PROTOS 128   /* Proto headers kept: a power of 2 */

typedef struct known_proto {
    uintptr_t proto;
    uint64_t generation; /* of the table, when it was read */
    unsigned char header[P_READ];
} known_proto_t;

/* Scratch: the frames, the stack read at once, the Proto headers read this
 * session, and the instructions searched for names. */
typedef struct lua_scratch {
    lua_frame_t frames[MAX_LUA_FRAMES];
    unsigned char stack[STACK_WINDOW];
    uintptr_t closure_fn[MAX_LUA_FRAMES];
    known_proto_t protos[KNOWN_PROTOS];
    uint32_t code[MAX_CODE];
} lua_scratch_t;

_Static_assert(sizeof(lua_scratch_t) <= RP_SCRIPT_SCRATCH,
               "the Lua reader's scratch must fit the table's");

/* The chain of call infos, innermost first, without the outermost (C's own
 * entry, base_ci): one read each. */
static int read_call_infos(const rp_lua_t *lua, lua_scratch_t *sc, uintptr_t ci,
                           int max)
{
    unsigned char buf[CI_SIZE];
    int n = 0;
    while (ci != 0 && n < max &&
           rp_script_read(lua->pid, buf, ci, sizeof(buf)) == sizeof(buf)) {
        uintptr_t previous = rp_script_word_at(buf, CI_PREVIOUS);
        if (previous == 0 || previous == ci) {
            break;
        }
        lua_frame_t *f = &sc->frames[n++];
        memcpy(&f->status, buf + CI_CALLSTATUS, sizeof(f->status));
        f->savedpc = rp_script_word_at(buf, CI_SAVEDPC);
        f->slot = rp_script_word_at(buf, CI_FUNC);
        ci = previous;
    }
    return n;
}

/* The called values: from one read of the stack around their slots where
 * it is small enough, else one by one. Returns how many frames hold a
 * function (the chain ends at the first that does not). */
static int read_called_values(const rp_lua_t *lua, lua_scratch_t *sc, int n,
                              uintptr_t *values)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < n; i++) {
        lo = sc->frames[i].slot < lo ? sc->frames[i].slot : lo;
        hi = sc->frames[i].slot > hi ? sc->frames[i].slot : hi;
    }
    size_t got = 0;
    if (n > 0 && hi + TV_SIZE - lo <= STACK_WINDOW) {
        got = rp_script_read(lua->pid, sc->stack, lo, hi + TV_SIZE - lo);
    }
    for (int i = 0; i < n; i++) {
        lua_frame_t *f = &sc->frames[i];
        unsigned char one[TV_SIZE];
        const unsigned char *tv = one;
        if (f->slot >= lo && f->slot + TV_SIZE <= lo + got) {
            tv = sc->stack + (f->slot - lo);
        } else if (rp_script_read(lua->pid, one, f->slot, TV_SIZE) != TV_SIZE) {
            return i;
        }
        int tt = (int)rp_script_u32_at(tv, TV_TT);
        if (tt != TT_LIGHT_C && tt != TT_LUA_CLOSURE && tt != TT_C_CLOSURE) {
            return i;
        }
        f->is_lua = tt == TT_LUA_CLOSURE;
        values[i] = tt == TT_LIGHT_C ? 0 : rp_script_word_at(tv, 0);
        f->fn = tt == TT_LIGHT_C ? rp_script_word_at(tv, 0) : 0;
    }
    return n;
}

/* Each closure's function (Proto or C function), in one call of many
 * pieces; a piece that fails ends the chain there. */
static int read_closures(const rp_lua_t *lua, lua_scratch_t *sc, int n,
                         const uintptr_t *values)
{
    void *dst[MAX_LUA_FRAMES];
    uintptr_t src[MAX_LUA_FRAMES];
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (values[i] != 0) {
            dst[k] = &sc->closure_fn[k];
            src[k] = values[i] + CLOSURE_FN;
            k++;
        }
    }
    size_t got = rp_script_read_many(lua->pid, dst, src, sizeof(uintptr_t), k);
    int whole = (int)(got / sizeof(uintptr_t));
    for (int i = 0, j = 0; i < n; i++) {
        if (values[i] != 0) {
            if (j >= whole) {
                return i;
            }
            sc->frames[i].fn = sc->closure_fn[j++];
        }
    }
    return n;
}

/* A Proto's header, read once per session: a function on the stack keeps
 * its Proto alive, and Lua frees one only when its chunk is unloaded. */
static const unsigned char *proto_header(const rp_lua_t *lua, lua_scratch_t *sc,
                                         uintptr_t proto, uint64_t generation)
{
    known_proto_t *k = &sc->protos[(proto >> 4) & (KNOWN_PROTOS - 1)];
    if (k->proto != proto || k->generation != generation) {
        if (rp_script_read(lua->pid, k->header, proto, P_READ) != P_READ) {
            k->proto = 0;
            return NULL;
        }
        k->proto = proto;
        k->generation = generation;
    }
    return k->header;
}

/* ---- names, as Lua's debug library finds them (ldebug.c) ----------------- */

typedef struct name_search {
    const rp_lua_t *lua;
    const unsigned char *proto; /* header */
    uint32_t *code;             /* the first instructions, read */
    int code_count;
} name_search_t;

/* The name of the constant at index k, if it is a string. */
static int constant_name(const name_search_t *ns, int k, char *out)
{
    unsigned char tv[TV_SIZE];
    uintptr_t at = rp_script_word_at(ns->proto, P_K) + (uintptr_t)k * TV_SIZE;
    if (k < 0 ||
        rp_script_read(ns->lua->pid, tv, at, sizeof(tv)) != sizeof(tv)) {
        return -1;
    }
    int tt = (int)rp_script_u32_at(tv, TV_TT);
    if (tt != TT_SHORT_STRING_VALUE && tt != TT_LONG_STRING_VALUE) {
        return -1;
    }
    return read_string(ns->lua, rp_script_word_at(tv, 0), out);
}

static int rk_name(const name_search_t *ns, int c, char *out)
{
    return IS_K(c) ? constant_name(ns, INDEX_K(c), out) : -1;
}

/* The n-th local variable active at pc (luaF_getlocalname). */
static int local_name(const name_search_t *ns, int n, int pc, char *out)
{
    int count = (int)rp_script_u32_at(ns->proto, P_SIZELOCVARS);
    if (count > MAX_LOCVARS) {
        count = MAX_LOCVARS;
    }
    unsigned char var[LOCVAR_SIZE];
    uintptr_t base = rp_script_word_at(ns->proto, P_LOCVARS);
    for (int i = 0; i < count; i++) {
        if (rp_script_read(ns->lua->pid, var, base + (uintptr_t)i * LOCVAR_SIZE,
                           sizeof(var)) != sizeof(var)) {
            return -1;
        }
        int startpc = (int)rp_script_u32_at(var, 8),
            endpc = (int)rp_script_u32_at(var, 12);
        if (startpc > pc) {
            break;
        }
        if (pc < endpc && --n == 0) {
            return read_string(ns->lua, rp_script_word_at(var, 0), out);
        }
    }
    return -1;
}

static int upvalue_name(const name_search_t *ns, int index, char *out)
{
    uintptr_t name;
    if (index < 0 ||
        index >= (int)rp_script_u32_at(ns->proto, P_SIZEUPVALUES) ||
        !read_word(ns->lua,
                   rp_script_word_at(ns->proto, P_UPVALUES) +
                       (uintptr_t)index * UPVALDESC_SIZE,
                   &name)) {
        return -1;
    }
    return read_string(ns->lua, name, out);
}

/* The last instruction before lastpc that set reg (findsetreg). */
static int find_set_register(const name_search_t *ns, int lastpc, int reg)
{
    int setreg = -1, jump_target = 0;
    for (int pc = 0; pc < lastpc && pc < ns->code_count; pc++) {
        uint32_t i = ns->code[pc];
        int op = OPCODE(i), a = ARG_A(i);
        int sets = 0;
        if (op == OP_LOADNIL) {
            sets = a <= reg && reg <= a + ARG_B(i);
        } else if (op == OP_TFORCALL) {
            sets = reg >= a + 2;
        } else if (op == OP_CALL || op == OP_TAILCALL) {
            sets = reg >= a;
        } else if (op == OP_JMP) {
            int dest = pc + 1 + ARG_SBX(i);
            if (pc < dest && dest <= lastpc && dest > jump_target) {
                jump_target = dest;
            }
        } else {
            sets = op < OP_COUNT && sets_a[op] && reg == a;
        }
        if (sets) {
            setreg = pc < jump_target ? -1 : pc;
        }
    }
    return setreg;
}

/* What register reg held at pc was called (getobjname), or -1. */
static int object_name(const name_search_t *ns, int lastpc, int reg, char *out,
                       int hops)
{
    int n = local_name(ns, reg + 1, lastpc, out);
    if (n >= 0 || hops > 4) {
        return n;
    }
    int pc = find_set_register(ns, lastpc, reg);
    if (pc < 0) {
        return -1;
    }
    uint32_t i = ns->code[pc];
    switch (OPCODE(i)) {
    case OP_MOVE:
        return ARG_B(i) < ARG_A(i)
                   ? object_name(ns, pc, ARG_B(i), out, hops + 1)
                   : -1;
    case OP_GETTABUP:
    case OP_GETTABLE:
    case OP_SELF:
        return rk_name(ns, ARG_C(i), out);
    case OP_GETUPVAL:
        return upvalue_name(ns, ARG_B(i), out);
    case OP_LOADK:
        return constant_name(ns, ARG_BX(i), out);
    default:
        return -1;
    }
}

/* A function the VM called for an instruction other than a call: a
 * metamethod (named as Lua's tracebacks name it, "__index") or a generic
 * for's iterator. */
static int metamethod_name(int op, char *out)
{
    static const char *const arith[] = {
        "__add",  "__sub", "__mul",  "__mod", "__pow", "__div", "__idiv",
        "__band", "__bor", "__bxor", "__shl", "__shr", "__unm", "__bnot"};
    const char *name = NULL;
    if (op == OP_SELF || op == OP_GETTABUP || op == OP_GETTABLE) {
        name = "__index";
    } else if (op == OP_SETTABUP || op == OP_SETTABLE) {
        name = "__newindex";
    } else if (op >= OP_ADD && op <= OP_BNOT) {
        name = arith[op - OP_ADD];
    } else if (op == OP_LEN) {
        name = "__len";
    } else if (op == OP_CONCAT) {
        name = "__concat";
    } else if (op == OP_EQ) {
        name = "__eq";
    } else if (op == OP_LT || op == OP_LE) {
        name = op == OP_LT ? "__lt" : "__le";
    } else if (op == OP_TFORCALL) {
        name = "for iterator";
    }
    if (name == NULL) {
        return -1;
    }
    size_t n = strlen(name);
    memcpy(out, name, n);
    return (int)n;
}

/* The name the caller (a Lua function stopped at its call) called by. */
static int called_name(const rp_lua_t *lua, const lua_frame_t *caller,
                       uint32_t *code_buf, char *out)
{
    uintptr_t code = rp_script_word_at(caller->proto, P_CODE);
    int size = (int)rp_script_u32_at(caller->proto, P_SIZECODE);
    if (caller->savedpc <= code) {
        return -1;
    }
    int pc = (int)((caller->savedpc - code) / 4) - 1;
    if (pc < 0 || pc >= size || pc >= MAX_CODE) {
        return -1;
    }
    size_t bytes = (size_t)(pc + 1) * 4;
    if (rp_script_read(lua->pid, code_buf, code, bytes) != bytes) {
        return -1;
    }
    int op = OPCODE(code_buf[pc]);
    if (op != OP_CALL && op != OP_TAILCALL) {
        return metamethod_name(op, out);
    }
    name_search_t ns = {lua, caller->proto, code_buf, pc + 1};
    return object_name(&ns, pc, ARG_A(code_buf[pc]), out, 0);
}

/* "@/srv/app.lua" is a file, "=stdin" a name; other sources are code. */
static int source_name(const rp_lua_t *lua, const unsigned char *proto,
                       char *out)
{
    char raw[RP_SCRIPT_MAX_NAME + 1];
    int len = read_string(lua, rp_script_word_at(proto, P_SOURCE), raw);
    if (len <= 0) {
        return -1;
    }
    if (raw[0] == '@' || raw[0] == '=') {
        memcpy(out, raw + 1, (size_t)len - 1);
        return len - 1;
    }
    memcpy(out, "[string]", 8);
    return 8;
}

static uintptr_t intern_frame(const rp_lua_t *lua, rp_script_table_t *table,
                              const lua_frame_t *f, const lua_frame_t *caller,
                              uint32_t *code_buf)
{
    int named_by_caller =
        caller != NULL && caller->is_lua && !(f->status & CIST_TAIL);
    rp_script_key_t key = {
        {f->fn, f->is_lua ? rp_script_word_at(f->proto, P_SOURCE) : 0,
         named_by_caller ? caller->fn : 0,
         named_by_caller ? caller->savedpc : 0}};
    uintptr_t word = rp_script_table_find(table, &key);
    if (word != 0) {
        return word;
    }
    char name[RP_SCRIPT_MAX_NAME + 1];
    char file[RP_SCRIPT_MAX_NAME + 1];
    int line = f->is_lua ? (int)rp_script_u32_at(f->proto, P_LINEDEFINED) : 0;
    int file_len = f->is_lua ? source_name(lua, f->proto, file) : -1;
    int name_len =
        named_by_caller ? called_name(lua, caller, code_buf, name) : -1;
    if (name_len < 0) {
        /* Lua's own words for a function no call names. */
        if (!f->is_lua) {
            name_len = snprintf(name, sizeof(name), "[C function]");
        } else if (line == 0) {
            name_len = snprintf(name, sizeof(name), "main chunk");
        } else {
            file[file_len >= 0 ? file_len : 0] = '\0';
            name_len = snprintf(name, sizeof(name), "function <%.200s:%d>",
                                file_len >= 0 ? file : "?", line);
        }
        if (name_len < 0 || name_len >= (int)sizeof(name)) {
            name_len = (int)strlen(name);
        }
    }
    return rp_script_table_add(table, &key, RP_SCRIPT_LUA, !f->is_lua, name,
                               (size_t)name_len, file_len >= 0 ? file : NULL,
                               file_len >= 0 ? (size_t)file_len : 0, line);
}

int rp_lua_read(const rp_lua_t *lua, rp_script_table_t *table, uintptr_t L,
                rp_script_raw_t *out, int max)
{
    uintptr_t ci;
    if (!lua->ready || L == 0 || !read_word(lua, L + L_CI, &ci)) {
        return 0;
    }
    lua_scratch_t *sc = rp_script_table_scratch(table);
    uintptr_t values[MAX_LUA_FRAMES];
    int n = read_call_infos(lua, sc, ci,
                            max < MAX_LUA_FRAMES ? max : MAX_LUA_FRAMES);
    n = read_called_values(lua, sc, n, values);
    n = read_closures(lua, sc, n, values);
    uint64_t generation = rp_script_table_generation(table);
    for (int i = 0; i < n; i++) {
        lua_frame_t *f = &sc->frames[i];
        f->proto = NULL;
        if (f->is_lua &&
            (f->proto = proto_header(lua, sc, f->fn, generation)) == NULL) {
            n = i; /* a torn frame: the chain ends inside it */
            break;
        }
    }
    for (int i = 0; i < n; i++) {
        const lua_frame_t *f = &sc->frames[i];
        out[i].word = intern_frame(
            lua, table, f, i + 1 < n ? &sc->frames[i + 1] : NULL, sc->code);
        out[i].run_start = (f->status & CIST_FRESH) ? RP_SCRIPT_RUN_ENTERED : 0;
    }
    return n;
}

int rp_lua_splice(const void *engine, rp_script_table_t *table,
                  uintptr_t context, uintptr_t *ips, int depth, int max,
                  int *truncated)
{
    const rp_lua_t *lua = engine;
    rp_script_raw_t frames[MAX_LUA_FRAMES];
    if (context == 0 ||
        !rp_script_stack_has_executor(&lua->anchors, ips, depth)) {
        return depth;
    }
    int count = rp_lua_read(lua, table, context, frames, MAX_LUA_FRAMES);
    return rp_script_splice(&lua->anchors, ips, depth, max, frames, count,
                            truncated);
}

/* ---- attaching ----------------------------------------------------------- */

/* The layout check: a chunk whose C function reads the stack it runs on. */
static const char check_chunk[] =
    "local function probe_inner() return (rp_layout_probe()) end\n"
    "function probe_outer() return (probe_inner()) end\n"
    "return (probe_outer())\n";
static const char *const check_names[] = {"rp_layout_probe", "probe_inner",
                                          "probe_outer", "main chunk"};
static const int check_lines[] = {0, 1, 2, 0};

static struct {
    const rp_lua_t *lua;
    rp_script_table_t *table;
    int count;
    rp_script_raw_t frames[8];
} check;

static int probe(void *L)
{
    check.count =
        rp_lua_read(check.lua, check.table, (uintptr_t)L, check.frames, 8);
    return 0;
}

static int layout_matches(void)
{
    if (check.count != 4) {
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        rp_script_frame_t f;
        if (!rp_script_table_get(check.table, check.frames[i].word, &f) ||
            strcmp(f.name, check_names[i]) != 0 || f.line != check_lines[i] ||
            (i > 0 && (f.file == NULL ||
                       strcmp(f.file, "mod_reqprof_layout_check.lua") != 0))) {
            return 0;
        }
    }
    return check.frames[3].run_start == RP_SCRIPT_RUN_ENTERED;
}

typedef void *(*newstate_fn)(void);
typedef int (*load_fn)(void *, const char *, size_t, const char *,
                       const char *);
typedef void (*pushcclosure_fn)(void *, int (*)(void *), int);
typedef void (*setglobal_fn)(void *, const char *);
typedef int (*pcallk_fn)(void *, int, int, int, intptr_t, void *);
typedef void (*close_fn)(void *);

static int run_layout_check(const rp_lua_t *lua)
{
    newstate_fn newstate = (newstate_fn)dlsym(RTLD_DEFAULT, "luaL_newstate");
    load_fn load = (load_fn)dlsym(RTLD_DEFAULT, "luaL_loadbufferx");
    pushcclosure_fn push =
        (pushcclosure_fn)dlsym(RTLD_DEFAULT, "lua_pushcclosure");
    setglobal_fn setglobal = (setglobal_fn)dlsym(RTLD_DEFAULT, "lua_setglobal");
    pcallk_fn pcallk = (pcallk_fn)dlsym(RTLD_DEFAULT, "lua_pcallk");
    close_fn close_state = (close_fn)dlsym(RTLD_DEFAULT, "lua_close");
    if (!newstate || !load || !push || !setglobal || !pcallk || !close_state) {
        return 0;
    }
    void *L = newstate();
    if (L == NULL) {
        return 0;
    }
    rp_script_table_t *table = rp_script_table_create(0);
    int ok = 0;
    if (table != NULL) {
        check.lua = lua;
        check.table = table;
        check.count = 0;
        push(L, probe, 0);
        setglobal(L, "rp_layout_probe");
        if (load(L, check_chunk, sizeof(check_chunk) - 1,
                 "@mod_reqprof_layout_check.lua", NULL) == 0 &&
            pcallk(L, 0, 1, 0, 0, NULL) == 0) {
            ok = layout_matches();
        }
        rp_script_table_destroy(table);
    }
    close_state(L);
    return ok;
}

void rp_lua_adopt(rp_lua_t *lua)
{
    lua->pid = getpid();
}

int rp_lua_attach(rp_lua_t *lua, char *why_buf, size_t why_len,
                  const char **why)
{
    memset(lua, 0, sizeof(*lua));
    *why = NULL;
    typedef const double *(*version_fn)(void *);
    version_fn version = (version_fn)dlsym(RTLD_DEFAULT, "lua_version");
    if (version == NULL) {
        return RP_LUA_ABSENT;
    }
    const double *v = version(NULL);
    if (v == NULL || *v != 503) {
        snprintf(why_buf, why_len,
                 "the Lua library is version %.0f; mod_reqprof reads Lua "
                 "5.3",
                 v ? *v : 0.0);
        *why = why_buf;
        return RP_LUA_UNSUPPORTED;
    }
    lua->pid = getpid();
    static const char *const entries[] = {"lua_pcallk", "lua_callk",
                                          "lua_resume"};
    for (int i = 0; i < 3; i++) {
        if (!rp_script_function_range(entries[i], &lua->anchors.executor[i])) {
            *why = "its entry points (lua_pcallk, lua_callk, lua_resume) "
                   "were not found";
            return RP_LUA_UNSUPPORTED;
        }
    }
    lua->ready = 1;
    if (!run_layout_check(lua)) {
        lua->ready = 0;
        *why = "the Lua 5.3 library's data layout is not the one mod_reqprof "
               "reads (its check failed)";
        return RP_LUA_UNSUPPORTED;
    }
    return RP_LUA_READY;
}
