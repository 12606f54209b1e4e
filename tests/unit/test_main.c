/* The one main() of build/out/unit_tests: runs every suite in one SRunner.
 * CK_FORK=no (as make unit-valgrind sets) keeps all tests in one process. */
#include <apr_general.h>
#include <stdio.h>
#include <stdlib.h>

#include "unit_suites.h"

int main(void)
{
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "unit_tests: apr_initialize failed\n");
        return EXIT_FAILURE;
    }
    SRunner *runner = srunner_create(buf_suite());
    srunner_add_suite(runner, interval_suite());
    srunner_add_suite(runner, trigger_suite());
    srunner_add_suite(runner, tree_suite());
    srunner_add_suite(runner, html_suite());
    srunner_add_suite(runner, exporters_suite());
    srunner_add_suite(runner, symbols_suite());
    srunner_add_suite(runner, proc_suite());
    srunner_add_suite(runner, unwind_suite());
    srunner_add_suite(runner, sampler_suite());
    srunner_add_suite(runner, profile_suite());
    srunner_add_suite(runner, logstore_suite());
    srunner_add_suite(runner, syscall_site_suite());
    srunner_add_suite(runner, collapse_suite());
    srunner_add_suite(runner, format_suite());
    srunner_add_suite(runner, sidecar_suite());
    srunner_add_suite(runner, store_target_suite());
    srunner_add_suite(runner, pstore_suite());
    srunner_add_suite(runner, redis_suite());
    srunner_add_suite(runner, stacks_suite());
    srunner_add_suite(runner, diffgraph_suite());
    srunner_add_suite(runner, script_suite());

    /* CK_ENV: the verbosity comes from CK_VERBOSITY (normal by default). */
    srunner_run_all(runner, CK_ENV);
    int failed = srunner_ntests_failed(runner);
    int run = srunner_ntests_run(runner);
    srunner_free(runner);
    apr_terminate();
    if (run == 0) {
        fprintf(stderr, "unit_tests: no test ran\n");
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
