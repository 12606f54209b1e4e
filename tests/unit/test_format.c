/* rp_format: the one table of formats. */
#include <string.h>
#include <strings.h>

#include "rp_format.h"
#include "rp_store.h"
#include "rp_trigger.h"
#include "unit_suites.h"

START_TEST(every_format_is_complete)
{
    int count;
    const rp_format_t *formats = rp_formats(&count);
    ck_assert_int_eq(count, 6);
    for (int i = 0; i < count; i++) {
        const rp_format_t *f = &formats[i];
        ck_assert_int_ne(f->id, RP_FORMAT_NONE);
        ck_assert_ptr_eq(rp_format_get(f->id), f);
        ck_assert_ptr_nonnull(f->names[0]);
        ck_assert_ptr_nonnull(f->content_type);
        ck_assert_ptr_nonnull(f->render);
        /* A file the index serves has a query of its own and a label. */
        ck_assert(f->index_param == NULL || f->saved_suffix != NULL);
        ck_assert((f->index_param == NULL) == (f->index_label == NULL));
        for (int j = 0; j < RP_FORMAT_MAX_NAMES && f->names[j]; j++) {
            ck_assert_int_eq(rp_format_by_name(f->names[j]), f->id);
            ck_assert_int_eq(rp_trigger_format(f->names[j]), f->id);
        }
        /* Names, saved suffixes and index queries are each unique. */
        for (int k = 0; k < i; k++) {
            const rp_format_t *g = &formats[k];
            ck_assert_int_ne(f->id, g->id);
            if (f->saved_suffix != NULL && g->saved_suffix != NULL) {
                ck_assert_str_ne(f->saved_suffix, g->saved_suffix);
            }
            if (f->index_param != NULL && g->index_param != NULL) {
                ck_assert_str_ne(f->index_param, g->index_param);
            }
        }
        if (f->saved_suffix != NULL) {
            ck_assert_str_ne(f->saved_suffix, RP_STORE_META);
        }
    }
    ck_assert_ptr_null(rp_format_get(RP_FORMAT_NONE));
    ck_assert_int_eq(rp_format_by_name("nope"), RP_FORMAT_NONE);
    ck_assert_int_eq(rp_format_by_name(""), RP_FORMAT_NONE);
}
END_TEST

START_TEST(served_and_saved_as_before)
{
    const rp_format_t *html = rp_format_get(RP_FORMAT_HTML);
    ck_assert_str_eq(html->content_type, "text/html; charset=utf-8");
    ck_assert_ptr_null(html->extension);
    ck_assert_str_eq(html->csp, RP_REPORT_CSP);
    ck_assert_str_eq(html->saved_suffix, RP_STORE_HTML);
    ck_assert_str_eq(html->index_param, "view");
    ck_assert_int_eq(rp_format_by_name("1"), RP_FORMAT_HTML);

    const rp_format_t *ss = rp_format_get(RP_FORMAT_SPEEDSCOPE);
    ck_assert_str_eq(ss->content_type, "application/json");
    ck_assert_str_eq(ss->extension, "speedscope.json");
    ck_assert_ptr_null(ss->csp);
    ck_assert_str_eq(ss->saved_suffix, RP_STORE_SPEEDSCOPE);
    ck_assert_str_eq(ss->index_param, "speedscope");

    const rp_format_t *text = rp_format_get(RP_FORMAT_TEXT);
    ck_assert_ptr_null(text->extension);
    ck_assert_ptr_null(text->saved_suffix);
    ck_assert_ptr_nonnull(text->render_all_frames);
    ck_assert_str_eq(rp_format_get(RP_FORMAT_COLLAPSED)->extension,
                     "collapsed.txt");
    ck_assert_str_eq(rp_format_get(RP_FORMAT_PPROF)->extension, "pb.gz");
    ck_assert_str_eq(rp_format_get(RP_FORMAT_JSON)->extension, "json");
}
END_TEST

Suite *format_suite(void)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_format_is_complete);
    tcase_add_test(tc, served_and_saved_as_before);
    suite_add_tcase(s, tc);
    return s;
}
