#include "rp_collapse.h"

#include <string.h>

/* PHP's engine (libphp, mod_php's own object) and Lua's fold too: their
 * script frames ([php], [lua]) stay, so the view of a PHP page or a Lua
 * handler starts at the script's functions, with the engine's C (its
 * interpreter, the C behind its functions) folded under them. */
const char *const rp_collapse_default[] = {
    "libc.so*",     "libpthread.so*",   "ld-linux*",  "[vdso]",
    "libapr-1.so*", "libaprutil-1.so*", "apache2",    "httpd",
    "mod_mpm_*.so", "libphp*.so",       "liblua*.so*"};
const int rp_collapse_default_count =
    (int)(sizeof(rp_collapse_default) / sizeof(rp_collapse_default[0]));

/* Greedy with one backtrack point: on a mismatch after a '*', that star
 * takes one more byte and the match resumes behind it. Earlier stars never
 * need to take more, so the work is bounded by pattern times text. */
int rp_glob_match(const char *pattern, const char *text)
{
    const char *star = NULL, *resume = NULL;
    while (*text) {
        if (*pattern == '*') {
            star = pattern++;
            resume = text;
        } else if (*pattern == '?' || *pattern == *text) {
            pattern++;
            text++;
        } else if (star != NULL) {
            pattern = star + 1;
            text = ++resume;
        } else {
            return 0;
        }
    }
    while (*pattern == '*') {
        pattern++;
    }
    return *pattern == '\0';
}

const char *rp_collapse_check(const char *pattern)
{
    size_t n = strlen(pattern);
    if (n == 0) {
        return "an empty pattern matches no object";
    }
    if (n > RP_COLLAPSE_MAX_PATTERN) {
        return "longer than 128 bytes";
    }
    for (const unsigned char *c = (const unsigned char *)pattern; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return "it holds a control character";
        }
        if (*c == '/') {
            return "it holds '/': patterns match the object's file name, "
                   "without a directory";
        }
        if (*c == '\\') {
            return "it holds '\\': there are no escapes ('*' and '?' are "
                   "wildcards, every other character, brackets included, "
                   "matches itself)";
        }
    }
    return NULL;
}

int rp_collapse_folds(const char *const *patterns, int count,
                      const char *object)
{
    const char *name = object ? object : "";
    for (int i = 0; i < count; i++) {
        if (patterns[i] != NULL && rp_glob_match(patterns[i], name)) {
            return 1;
        }
    }
    return 0;
}
