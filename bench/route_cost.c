/* What a route's merged flame graph costs: summing N profiles' stacks
 * (rp_stacks, depth 50) and rendering the sum as the HTML report.
 *
 *     route_cost N [runs]
 *
 * Each profile has 20 stacks of depth 50: 16 a route's requests share
 * (two handler branches over a server loop) and 4 its own (a distinct
 * leaf), so the sum grows with N as real routes' do. The texts are built
 * before the clock starts, as the index reads them from a store. Prints
 * one JSON line: per run the time to sum, to make the profile and to
 * render it, the nodes, the report's bytes, and the process's peak
 * resident memory growth. Links against the core objects. */
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rp_html.h"
#include "rp_stacks.h"

#define DEPTH 50
#define SHARED 16
#define OWN 4

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* One stack: 30 frames of server loop, then a branch, then its leaf. */
static void stack_text(char *out, size_t size, unsigned branch, unsigned leaf)
{
    size_t n = 0;
    for (unsigned d = 0; d < DEPTH - 2 && n < size; d++) {
        const char *obj = d < 30 ? "apache2" : "mod_app.so";
        unsigned id = d < 30 ? d : 100 + branch * 20 + d;
        n += (size_t)snprintf(out + n, size - n, "fn_%u [%s];", id, obj);
    }
    snprintf(out + n, size - n, "branch_%u [mod_app.so];leaf_%u [mod_app.so]",
             branch, leaf);
}

static char *profile_text(unsigned index, apr_pool_t *pool)
{
    static char text[(SHARED + OWN) * (DEPTH * 32 + 32)];
    char stack[DEPTH * 32];
    size_t n = 0;
    for (unsigned i = 0; i < SHARED + OWN; i++) {
        unsigned leaf = i < SHARED ? i : 1000000 + index * OWN + i;
        stack_text(stack, sizeof(stack), i % 2, leaf);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s %u %u\n", stack,
                              1000 + (index + i) % 7 * 100,
                              i % 5 == 0 ? 2000u : 0u);
    }
    return apr_pstrmemdup(pool, text, n);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: route_cost N [runs]\n");
        return 2;
    }
    unsigned n = (unsigned)atoi(argv[1]);
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    apr_initialize();
    apr_pool_t *texts_pool;
    apr_pool_create(&texts_pool, NULL);
    char **texts = apr_palloc(texts_pool, sizeof(char *) * n);
    for (unsigned i = 0; i < n; i++) {
        texts[i] = profile_text(i, texts_pool);
    }
    long base_kb = peak_kb();
    printf("{\"profiles\": %u, \"depth\": %d, \"runs\": [", n, DEPTH);
    for (int r = 0; r < runs; r++) {
        apr_pool_t *pool;
        apr_pool_create(&pool, NULL);
        double t0 = now_ms();
        rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
        for (unsigned i = 0; i < n; i++) {
            rp_stacks_sum_add(sum, texts[i], strlen(texts[i]));
        }
        double t1 = now_ms();
        rp_profile_t p;
        memset(&p, 0, sizeof(p));
        rp_stacks_sum_profile(sum, &p);
        p.method = "ROUTE";
        p.uri = "GET /bench";
        double t2 = now_ms();
        apr_size_t len;
        rp_html_render(&p, pool, &len);
        double t3 = now_ms();
        printf("%s{\"sum_ms\": %.3f, \"profile_ms\": %.3f, \"render_ms\": "
               "%.3f, \"nodes\": %u, \"bytes\": %lu, \"peak_kb\": %ld}",
               r ? ", " : "", t1 - t0, t2 - t1, t3 - t2, p.tree->node_count,
               (unsigned long)len, peak_kb() - base_kb);
        apr_pool_destroy(pool);
    }
    printf("]}\n");
    apr_pool_destroy(texts_pool);
    apr_terminate();
    return 0;
}
