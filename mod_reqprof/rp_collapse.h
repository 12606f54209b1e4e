/* rp_collapse: the ReqProfileCollapse rule — which shared objects' frames
 * fold into their callers — in one place: its pattern syntax, its default,
 * the check of a directive argument and the match of a frame's object. The
 * text format, the log records and the HTML report (whose script receives
 * the objects this module folds and never matches patterns itself) all
 * decide with it. Knows nothing of httpd.
 *
 * A pattern is matched against the whole name of a frame's shared object as
 * the report shows it (its basename: "libc.so.6", "mod_mpm_event.so"; or a
 * bracketed marker: "[vdso]", "[kernel]", "[unknown]"). '*' matches any run
 * of bytes, none included; '?' exactly one byte; every other byte matches
 * itself, '[' and ']' included, so "[vdso]" names the vDSO and "lib[ab].so"
 * only an object called exactly that: there are no character classes and
 * no escapes. Case matters. */
#ifndef RP_COLLAPSE_H
#define RP_COLLAPSE_H

/* Longest pattern accepted, in bytes. */
#define RP_COLLAPSE_MAX_PATTERN 128

/* The rule without a ReqProfileCollapse directive: the C library, the
 * loader, the vDSO, APR, httpd's own binary, its MPMs, and PHP's and Lua's
 * engines. */
extern const char *const rp_collapse_default[];
extern const int rp_collapse_default_count;

/* 1 when pattern matches the whole of text (syntax above). Linear in
 * strlen(pattern) * strlen(text) at worst, without recursion. */
int rp_glob_match(const char *pattern, const char *text);

/* Checks one argument of ReqProfileCollapse (other than "none"): NULL when
 * it is a usable pattern, else why not (a static string). Refused: the
 * empty pattern, one longer than RP_COLLAPSE_MAX_PATTERN, one holding a
 * control character, a '/' (object names have no directory) or a '\' (there
 * are no escapes: brackets already match themselves). */
const char *rp_collapse_check(const char *pattern);

/* 1 when frames of object (NULL: no object, matched as "") fold: it
 * matches one of the count patterns. */
int rp_collapse_folds(const char *const *patterns, int count,
                      const char *object);

#endif
