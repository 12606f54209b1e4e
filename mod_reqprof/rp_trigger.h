/* rp_trigger: finds the profiling trigger in a request's query string. */
#ifndef RP_TRIGGER_H
#define RP_TRIGGER_H

#include <apr_pools.h>

typedef enum {
    RP_FORMAT_NONE = 0, /* no trigger, or a value we do not serve */
    RP_FORMAT_HTML,
    RP_FORMAT_TEXT,
    RP_FORMAT_SPEEDSCOPE,
    RP_FORMAT_COLLAPSED,
    RP_FORMAT_PPROF,
    RP_FORMAT_JSON
} rp_format_e;

/* Longest parameter name or value considered; longer ones never match. */
#define RP_TRIGGER_MAX_FIELD 256

/* Looks for param in the query string args ("a=1&profile=1"). Names and
 * values are percent-decoded and '+' means a space, as browsers send them.
 * The first occurrence of the name decides; a malformed pair is skipped.
 * Returns the requested format, or RP_FORMAT_NONE. */
rp_format_e rp_trigger_find(const char *args, const char *param);

/* Maps a trigger value ("1", "html", "text", "speedscope", "collapsed",
 * "pprof", "json"; any case) to a format. */
rp_format_e rp_trigger_format(const char *value);

#endif
