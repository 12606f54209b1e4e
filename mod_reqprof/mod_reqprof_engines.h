/* mod_reqprof's script engines: PHP (mod_php) and Lua (mod_lua) loaded in
 * the server have their functions spliced into the profiles' stacks.
 * Found and checked once in the parent (post_config), where an engine this
 * module cannot read is logged; the children inherit that; mod_lua
 * announces the Lua state of each call into Lua through its lua_request
 * hook. */
#ifndef MOD_REQPROF_ENGINES_H
#define MOD_REQPROF_ENGINES_H

#include "mod_reqprof.h"

/* Hooks post_config and mod_lua's optional lua_request. */
void rp_engines_register(void);

/* In a child (child_init): the engines found in the parent are read in this
 * process from now on. */
void rp_engines_attach_child(void);

/* Why an engine present in this process is not read (for the report), or
 * NULL. */
const char *rp_engines_note(void);

#endif
