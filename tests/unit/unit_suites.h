/* Suite factories of the unit test binary (build/out/unit_tests). Each
 * tests/unit/test_*.c file defines one; test_main.c runs them all. */
#ifndef UNIT_SUITES_H
#define UNIT_SUITES_H

#include <check.h>

Suite *buf_suite(void);
Suite *interval_suite(void);
Suite *trigger_suite(void);
Suite *tree_suite(void);
Suite *html_suite(void);
Suite *exporters_suite(void);
Suite *symbols_suite(void);
Suite *sampler_suite(void);
Suite *profile_suite(void);
Suite *proc_suite(void);
Suite *unwind_suite(void);
Suite *logstore_suite(void);
Suite *syscall_site_suite(void);
Suite *collapse_suite(void);
Suite *format_suite(void);
Suite *sidecar_suite(void);
Suite *store_target_suite(void);
Suite *pstore_suite(void);
Suite *redis_suite(void);
Suite *stacks_suite(void);
Suite *diffgraph_suite(void);
Suite *script_suite(void);

#endif
