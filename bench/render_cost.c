/* render_cost: what building the call tree and rendering the HTML report
 * cost, and how large the page gets, for `make bench`.
 *
 *   render_cost KIND SAMPLES RUNS [HTML]
 *
 * Linked against mod_reqprof's core (build/out/rp_*.o). Builds a tree of
 * SAMPLES synthetic samples, each 50 frames deep, with the profile builder
 * (rp_profile_add_stack), keeping the sample records (time, phase, leaf) the
 * report embeds for its views, then renders it with rp_html_render, RUNS times,
 * each in a fresh pool. KIND:
 *   realistic      200 distinct stacks (4 x 5 x 10 branches at depths 10,
 *                  20 and 35 below a shared server loop), some far more
 *                  frequent than others;
 *   distinct-leaf  every sample a distinct stack that differs from the
 *                  others in its innermost frame only (the widest fan-out:
 *                  one node with SAMPLES children);
 *   all-distinct   every sample a distinct stack below a shared outermost
 *                  frame (the most nodes: 49 new ones per sample).
 * Symbolization is not included: the module names each address once per
 * process and caches it.
 *
 * Output: one JSON object on stdout; with HTML, the last run's page is
 * written to that file too (for the browser test of big reports). */
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rp_html.h"
#include "rp_profile.h"
#include "rp_tree.h"

#define DEPTH 50
#define REALISTIC_STACKS 200

enum kind { REALISTIC, DISTINCT_LEAF, ALL_DISTINCT };

static rp_func_t *funcs;
static size_t nfuncs;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Function records shaped like real ones: a C identifier, a module, a
 * source file and line. */
static void make_funcs(apr_pool_t *pool, size_t n)
{
    static const char *const stems[] = {
        "ap_process_request", "handle_input",    "php_execute_script",
        "zend_execute",       "apr_bucket_read", "json_encode",
        "sql_query_exec",     "render_template"};
    funcs = apr_pcalloc(pool, n * sizeof(*funcs));
    nfuncs = n;
    for (size_t i = 0; i < n; i++) {
        funcs[i].name =
            apr_psprintf(pool, "%s_%" APR_SIZE_T_FMT, stems[i % 8], i);
        funcs[i].object = i % 3 ? "mod_synthetic.so" : "libsynthetic.so.1";
        funcs[i].file =
            i % 4
                ? apr_psprintf(pool, "src/synthetic/unit_%" APR_SIZE_T_FMT ".c",
                               i % 97)
                : NULL;
        funcs[i].line = (int)(i % 2000) + 1;
        funcs[i].resolved = 1;
    }
}

static uint64_t lcg_state = 88172645463325252ull;

static uint64_t next_random(void)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return lcg_state >> 33;
}

/* Stack s of the realistic shape, outermost first. Function indices:
 * 0..9 the server loop, 100.. handler branches, 200.. middle branches,
 * 1000.. leaves. */
static void realistic_stack(unsigned s, const rp_func_t **frames)
{
    unsigned a = s % 4, b = (s / 4) % 5;
    for (unsigned j = 0; j < DEPTH; j++) {
        size_t f;
        if (j < 10) {
            f = j;
        } else if (j < 20) {
            f = 100 + a * 10 + (j - 10);
        } else if (j < 35) {
            f = 200 + (a * 5 + b) * 15 + (j - 20);
        } else {
            f = 1000 + (size_t)s * 15 + (j - 35);
        }
        frames[j] = &funcs[f];
    }
}

static size_t funcs_needed(enum kind kind, unsigned samples)
{
    switch (kind) {
    case REALISTIC:
        return 1000 + REALISTIC_STACKS * 15;
    case DISTINCT_LEAF:
        return 4000 + (size_t)samples;
    default:
        return 4000 + (size_t)samples * (DEPTH - 1);
    }
}

/* Builds the profile's tree and samples with the profile builder, as
 * rp_profile_build_tree does from the sampler's: one sample per
 * millisecond, the first tenth in access_checker, the rest in the handler,
 * every fifth waiting. */
static void build(rp_profile_t *p, apr_pool_t *pool, enum kind kind,
                  unsigned samples)
{
    const rp_func_t *frames[DEPTH];
    rp_profile_begin(p, pool);
    lcg_state = 88172645463325252ull;
    for (unsigned i = 0; i < samples; i++) {
        int waiting = i % 5 == 0;
        switch (kind) {
        case REALISTIC: {
            /* Skewed: low-numbered stacks are hot, the tail is long. */
            uint64_t r = next_random() % REALISTIC_STACKS;
            unsigned s = (unsigned)(r * r / REALISTIC_STACKS);
            if (i < REALISTIC_STACKS) {
                s = i; /* every stack occurs at least once */
            }
            realistic_stack(s, frames);
            break;
        }
        case DISTINCT_LEAF:
            realistic_stack(0, frames);
            frames[DEPTH - 1] = &funcs[4000 + i];
            break;
        case ALL_DISTINCT:
            frames[0] = &funcs[0];
            for (unsigned j = 1; j < DEPTH; j++) {
                frames[j] = &funcs[4000 + (size_t)i * (DEPTH - 1) + (j - 1)];
            }
            break;
        }
        rp_stack_t stack = {.frames = frames,
                            .depth = DEPTH,
                            .t_ns = (uint64_t)(i + 1) * 1000000u,
                            .weight = 1,
                            .waiting = waiting,
                            .phase = i < samples / 10 ? RP_PHASE_ACCESS_CHECKER
                                                      : RP_PHASE_HANDLER,
                            .syscall = -1};
        rp_profile_add_stack(p, &stack);
    }
    rp_profile_end(p);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr,
                "usage: %s realistic|distinct-leaf|all-distinct "
                "SAMPLES RUNS [HTML]\n",
                argv[0]);
        return 2;
    }
    enum kind kind;
    if (strcmp(argv[1], "realistic") == 0) {
        kind = REALISTIC;
    } else if (strcmp(argv[1], "distinct-leaf") == 0) {
        kind = DISTINCT_LEAF;
    } else if (strcmp(argv[1], "all-distinct") == 0) {
        kind = ALL_DISTINCT;
    } else {
        fprintf(stderr, "unknown kind %s\n", argv[1]);
        return 2;
    }
    unsigned samples = (unsigned)strtoul(argv[2], NULL, 10);
    int runs = atoi(argv[3]);
    if (samples == 0 || runs <= 0) {
        fprintf(stderr, "bad SAMPLES or RUNS\n");
        return 2;
    }
    apr_initialize();
    apr_pool_t *root;
    apr_pool_create(&root, NULL);
    make_funcs(root, funcs_needed(kind, samples));

    printf("{\"kind\": \"%s\", \"samples\": %u, \"depth\": %d, \"runs\": [",
           argv[1], samples, DEPTH);
    for (int r = 0; r < runs; r++) {
        apr_pool_t *pool;
        apr_pool_create(&pool, root);
        rp_profile_t p;
        memset(&p, 0, sizeof(p));
        p.method = "GET";
        p.uri = "/synthetic/page?profile=1";
        p.protocol = "HTTP/1.1";
        p.host = "127.0.0.1";
        p.status = 200;
        p.server = "Apache/2.4 (Unix)";
        p.mpm = "event";
        p.pid = 1;
        p.tid = 1;
        p.started = apr_time_now();
        p.stats.wall_ns = (uint64_t)samples * 1000000u;
        p.stats.cpu_ns =
            p.stats.wall_ns - (uint64_t)(samples + 4) / 5 * 1000000u;
        p.stats.interval_us = 1000;
        p.stats.signals = samples;

        uint64_t t0 = now_ns();
        build(&p, pool, kind, samples); /* samples, weight, wait_weight */
        uint64_t t1 = now_ns();
        p.phases[RP_PHASE_ACCESS_CHECKER].first_us = 0;
        p.phases[RP_PHASE_ACCESS_CHECKER].total_us = samples / 10 * 1000;
        p.phases[RP_PHASE_HANDLER].first_us = samples / 10 * 1000;
        p.phases[RP_PHASE_HANDLER].total_us = (samples - samples / 10) * 1000;
        apr_size_t len = 0;
        const char *html = rp_html_render(&p, pool, &len);
        uint64_t t2 = now_ns();
        if (html == NULL || len == 0 || strncmp(html, "<!DOCTYPE html>", 15)) {
            fprintf(stderr, "render failed\n");
            return 1;
        }
        if (argc == 5 && r == runs - 1) {
            FILE *f = fopen(argv[4], "wb");
            if (f == NULL || fwrite(html, 1, len, f) != len || fclose(f)) {
                fprintf(stderr, "cannot write %s\n", argv[4]);
                return 1;
            }
        }
        printf("%s{\"build_ms\": %.3f, \"render_ms\": %.3f, \"bytes\": %zu, "
               "\"nodes\": %u}",
               r ? ", " : "", (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
               (size_t)len, p.tree->node_count);
        fflush(stdout);
        apr_pool_destroy(pool);
    }
    printf("]}\n");
    apr_pool_destroy(root);
    apr_terminate();
    return 0;
}
