/* rp_trigger: finds the profiling trigger in a request's query string. */
#ifndef RP_TRIGGER_H
#define RP_TRIGGER_H

#include <apr_pools.h>

#include "rp_format.h"

/* Longest parameter name or value considered; longer ones never match. */
#define RP_TRIGGER_MAX_FIELD 256

/* Looks for param in the query string args ("a=1&profile=1"). Names and
 * values are percent-decoded and '+' means a space, as browsers send them.
 * The first occurrence of the name decides; a malformed pair is skipped.
 * Returns the requested format, or RP_FORMAT_NONE. */
rp_format_e rp_trigger_find(const char *args, const char *param);

/* The value of param's first occurrence in args, decoded as
 * rp_trigger_find decodes it, into value. Returns 0 (value undefined) when
 * param is absent, or its first occurrence has no '=' or a malformed or
 * over-long value. */
int rp_trigger_value(const char *args, const char *param,
                     char value[RP_TRIGGER_MAX_FIELD + 1]);

/* With the trigger, "frames=all" (the value in any case; the first "frames"
 * decides) asks the text format for every frame, library frames unfolded. */
#define RP_TRIGGER_FRAMES_PARAM "frames"
int rp_trigger_all_frames(const char *args);

/* Maps a trigger value (a format's name in rp_format's table, any case) to
 * a format. */
rp_format_e rp_trigger_format(const char *value);

#endif
