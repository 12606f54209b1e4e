#include "rp_format.h"

#include <apr_strings.h>
#include <strings.h>

#include "rp_collapsed.h"
#include "rp_html.h"
#include "rp_json.h"
#include "rp_pprof.h"
#include "rp_speedscope.h"
#include "rp_store.h"
#include "rp_text.h"

/* Saved files are written, listed and removed in this order, the sidecar
 * (rp_store) last. */
static const rp_format_t formats[] = {
    {.id = RP_FORMAT_HTML,
     .names = {"1", "html"},
     .content_type = "text/html; charset=utf-8",
     .csp = RP_REPORT_CSP,
     .render = rp_html_render,
     .saved_suffix = RP_STORE_HTML,
     .index_param = "view",
     .index_label = "report"},
    {.id = RP_FORMAT_TEXT,
     .names = {"text"},
     .content_type = "text/plain; charset=utf-8",
     .render = rp_text_render,
     .render_all_frames = rp_text_render_all_frames},
    {.id = RP_FORMAT_SPEEDSCOPE,
     .names = {"speedscope"},
     .content_type = "application/json",
     .extension = "speedscope.json",
     .render = rp_speedscope_render,
     .saved_suffix = RP_STORE_SPEEDSCOPE,
     .index_param = "speedscope",
     .index_label = "speedscope"},
    {.id = RP_FORMAT_COLLAPSED,
     .names = {"collapsed"},
     .content_type = "text/plain; charset=utf-8",
     .extension = "collapsed.txt",
     .render = rp_collapsed_render},
    {.id = RP_FORMAT_PPROF,
     .names = {"pprof"},
     .content_type = "application/octet-stream",
     .extension = "pb.gz",
     .render = rp_pprof_render},
    {.id = RP_FORMAT_JSON,
     .names = {"json"},
     .content_type = "application/json",
     .extension = "json",
     .render = rp_json_render},
};

#define FORMAT_COUNT (int)(sizeof(formats) / sizeof(formats[0]))

const rp_format_t *rp_formats(int *count)
{
    *count = FORMAT_COUNT;
    return formats;
}

const rp_format_t *rp_format_get(rp_format_e id)
{
    for (int i = 0; i < FORMAT_COUNT; i++) {
        if (formats[i].id == id) {
            return &formats[i];
        }
    }
    return NULL;
}

rp_format_e rp_format_by_name(const char *name)
{
    for (int i = 0; i < FORMAT_COUNT; i++) {
        for (int j = 0; j < RP_FORMAT_MAX_NAMES && formats[i].names[j]; j++) {
            if (strcasecmp(name, formats[i].names[j]) == 0) {
                return formats[i].id;
            }
        }
    }
    return RP_FORMAT_NONE;
}

const char *rp_format_render(const rp_format_t *fmt,
                             const rp_profile_t *profile, int all_frames,
                             apr_pool_t *pool, apr_size_t *len)
{
    if (all_frames && fmt->render_all_frames != NULL) {
        return fmt->render_all_frames(profile, pool, len);
    }
    return fmt->render(profile, pool, len);
}
