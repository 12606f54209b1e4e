/* rp_dwfl: an elfutils libdwfl session over this process's own mapped
 * objects, shared by the symbolizer and the unwinder (each keeps its own
 * session: libdwfl is not thread-safe). */
#ifndef RP_DWFL_H
#define RP_DWFL_H

#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdint.h>

/* Where Debian's debug packages (libc6-dbg, *-dbgsym) install separate
 * debug files: .build-id/xx/rest.debug, and the object's own path below it
 * for .gnu_debuglink names. */
#define RP_DWFL_DEBUG_ROOT "/usr/lib/debug"

/* A session with every object mapped now; NULL on failure. Separate debug
 * files are never searched. */
Dwfl *rp_dwfl_begin_self(void);

/* The same, but an object without a symbol table of its own takes names
 * (and DWARF) from its separate debug file under RP_DWFL_DEBUG_ROOT when one
 * is installed. Only local files are read: never debuginfod, whatever
 * DEBUGINFOD_URLS says. */
Dwfl *rp_dwfl_begin_self_debug(void);

/* Re-reads the mapped objects (after a dlopen). Returns 0 on failure.
 * Objects still mapped keep what was opened for them. */
int rp_dwfl_report_self(Dwfl *dwfl);

/* Opens every reported object's ELF file now, and the separate debug file
 * of each one whose own file has no symbol table (in a session that looks
 * for them). libdwfl keeps the descriptors for the life of the session, so
 * names and DWARF are read from them later even after the process lost the
 * right to open those files (httpd's children drop privileges). DWARF is
 * not parsed here. Returns the number of objects whose ELF file opened. */
int rp_dwfl_open_all(Dwfl *dwfl);

/* Writes root/.build-id/xx/rest.debug for a build-id (lowercase hex) into
 * out. Returns 0 if the id is shorter than 2 bytes or out is too small. */
int rp_dwfl_build_id_path(char *out, size_t size, const char *root,
                          const unsigned char *id, size_t id_len);

/* Opens the separate debug file of the object at object_path under root:
 * first by its build-id, then (with a .gnu_debuglink name) as root, the
 * object's directory and that name. A file is taken only if it is a regular
 * ELF file carrying the same build-id — or, for an object without one, whose
 * CRC-32 is crc. Returns its descriptor and sets *path to its name
 * (malloc'd), or returns -1. */
int rp_dwfl_open_debug_file(const char *root, const unsigned char *id,
                            size_t id_len, const char *object_path,
                            const char *debuglink, uint32_t crc, char **path);

#endif
