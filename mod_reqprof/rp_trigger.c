#include "rp_trigger.h"

#include <apr_strings.h>
#include <string.h>

#include "rp_buf.h"

/* Decodes [begin, end) into out (capacity RP_TRIGGER_MAX_FIELD + 1).
 * Returns 0 when the field is malformed, too long or holds a NUL. */
static int decode_field(const char *begin, const char *end, char *out)
{
    apr_size_t n = 0;
    for (const char *p = begin; p < end; p++) {
        int c = (unsigned char)*p;
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (end - p < 3 || rp_hex_value(p[1]) < 0 ||
                rp_hex_value(p[2]) < 0) {
                return 0;
            }
            c = rp_hex_value(p[1]) * 16 + rp_hex_value(p[2]);
            p += 2;
        }
        if (c == 0 || n == RP_TRIGGER_MAX_FIELD) {
            return 0;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    return 1;
}

rp_format_e rp_trigger_format(const char *value)
{
    return rp_format_by_name(value);
}

/* rp_trigger_value past its quick refusal. */
static int scan_for_value(const char *args, const char *param,
                          char value[RP_TRIGGER_MAX_FIELD + 1])
{
    char name[RP_TRIGGER_MAX_FIELD + 1];
    const char *pair = args;
    while (*pair) {
        const char *pair_end = pair + strcspn(pair, "&;");
        const char *eq = memchr(pair, '=', (apr_size_t)(pair_end - pair));
        const char *name_end = eq ? eq : pair_end;
        if (decode_field(pair, name_end, name) && strcmp(name, param) == 0) {
            return eq != NULL && decode_field(eq + 1, pair_end, value);
        }
        pair = *pair_end ? pair_end + 1 : pair_end;
    }
    return 0;
}

int rp_trigger_value(const char *args, const char *param,
                     char value[RP_TRIGGER_MAX_FIELD + 1])
{
    /* Every request asks, and most queries are not triggers: a name that
     * decodes to param is param itself unless it is percent-encoded (a '+'
     * only makes spaces, which no usable parameter name holds). */
    if (args == NULL || param == NULL ||
        (strchr(args, '%') == NULL && strchr(param, ' ') == NULL &&
         strstr(args, param) == NULL)) {
        return 0;
    }
    return scan_for_value(args, param, value);
}

rp_format_e rp_trigger_find(const char *args, const char *param)
{
    if (args == NULL) {
        return RP_FORMAT_NONE; /* most requests: no query at all */
    }
    char value[RP_TRIGGER_MAX_FIELD + 1];
    if (!rp_trigger_value(args, param, value)) {
        return RP_FORMAT_NONE;
    }
    return rp_trigger_format(value);
}

int rp_trigger_all_frames(const char *args)
{
    char value[RP_TRIGGER_MAX_FIELD + 1];
    return rp_trigger_value(args, RP_TRIGGER_FRAMES_PARAM, value) &&
           strcasecmp(value, "all") == 0;
}
