/* rp_html_assets: the HTML report's script and stylesheet, written in
 * mod_reqprof/rp_html_app.js and rp_html_app.css and compiled in by
 * build/embed_assets.py (build/out/rp_html_assets.c). ASCII text without
 * "</script" or "</style", so each can be put inside its element as is. */
#ifndef RP_HTML_ASSETS_H
#define RP_HTML_ASSETS_H

#include <apr.h>

extern const char rp_html_app_js[];
extern const apr_size_t rp_html_app_js_len;
extern const char rp_html_app_css[];
extern const apr_size_t rp_html_app_css_len;

#endif
