/* rp_lua: the Lua functions a thread of this process is running (Lua 5.3,
 * Debian's liblua5.3 under mod_lua), read from the state mod_lua announces
 * before each call into Lua: its chain of call infos, innermost first, each
 * function's prototype (source, first line) and, from the calling
 * instruction, the name it was called by, as Lua's own tracebacks name it.
 * Nothing in Lua is called and nothing is allocated: every address is read
 * with rp_script_read, so a torn frame ends the chain early.
 *
 * Lua's headers do not describe its internal structures, so their layout is
 * written here for 5.3 and checked when the module attaches: it runs a
 * small Lua chunk whose C function reads its own stack with this code and
 * compares what it finds with what the chunk is; a Lua whose layout differs
 * is left alone (rp_lua_attach says why).
 *
 * Knows nothing of httpd. */
#ifndef RP_LUA_H
#define RP_LUA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rp_script.h"

typedef struct rp_lua {
    int ready;
    pid_t pid;
    /* lua_pcallk, lua_callk and lua_resume: where C enters Lua. */
    rp_script_anchors_t anchors;
} rp_lua_t;

typedef enum {
    RP_LUA_ABSENT = 0,     /* no Lua in this process */
    RP_LUA_READY = 1,      /* frames can be read */
    RP_LUA_UNSUPPORTED = 2 /* a Lua this module cannot read: *why */
} rp_lua_status_e;

/* Looks for Lua 5.3 among the loaded objects (lua_version and the entry
 * points) and checks the layout by reading a chunk it runs. *why says why
 * not, for a Lua present but unsupported (static, or written in why_buf).
 * Not async-signal-safe: call it at process start. */
int rp_lua_attach(rp_lua_t *lua, char *why_buf, size_t why_len,
                  const char **why);

/* In a process forked after attaching (httpd's children): reads go to
 * this process from now on. */
void rp_lua_adopt(rp_lua_t *lua);

/* Reads the frames of the Lua state L (a lua_State *), innermost first, up
 * to max, into out (names interned in table). Returns how many; 0 if none
 * or unreadable. Only meaningful on the thread that runs L, or while it is
 * blocked. Async-signal-safe. */
int rp_lua_read(const rp_lua_t *lua, rp_script_table_t *table, uintptr_t L,
                rp_script_raw_t *out, int max);

/* rp_script_splicer for Lua: context is the state the thread announced;
 * frames are read only while the native stack is inside a call into Lua
 * (an entry point among its frames), and spliced there. */
int rp_lua_splice(const void *lua, rp_script_table_t *table, uintptr_t context,
                  uintptr_t *ips, int depth, int max, int *truncated);

#endif
