/* libFuzzer target: rp_stacks_sum_add, the reader of the ".stacks" files a
 * route's merged flame graph is summed from (text from a store: hostile).
 *
 * Input: up to four "profiles" separated by NUL bytes, each added to one
 * sum as it is (exact-size copies, so AddressSanitizer sees any read past
 * a profile's end).
 *
 * Checks, beyond the sanitizers:
 *  - the sum never holds more than RP_STACKS_MAX_US, and counts every
 *    profile added;
 *  - the sum made into a profile and written back as stacks text is valid
 *    UTF-8 without control characters but newlines, and reads back with no
 *    line skipped, to the same total; text written from text the writer
 *    wrote reads back to the same lines (stacks of equal weight and name
 *    may come in another order);
 *  - the profile's wall time is the total, its CPU time the on-CPU part. */
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rp_stacks.h"

#define MAX_PROFILES 4

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text's lines, sorted, joined again by newlines (in pool). */
static const char *sorted_lines(const char *text, apr_size_t len,
                                apr_pool_t *pool)
{
    char *copy = apr_pstrmemdup(pool, text, len);
    apr_size_t count = 0;
    for (apr_size_t i = 0; i < len; i++) {
        count += copy[i] == '\n';
    }
    char **lines = apr_palloc(pool, sizeof(*lines) * (count + 1));
    apr_size_t n = 0;
    char *state = NULL;
    for (char *l = apr_strtok(copy, "\n", &state); l != NULL;
         l = apr_strtok(NULL, "\n", &state)) {
        lines[n++] = l;
    }
    qsort(lines, n, sizeof(*lines), by_text);
    const char *out = "";
    for (apr_size_t i = 0; i < n; i++) {
        out = apr_pstrcat(pool, out, lines[i], "\n", NULL);
    }
    return out;
}

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

/* Adds each NUL-separated part of data to sum; returns how many. */
static unsigned add_parts(rp_stacks_sum_t *sum, const uint8_t *data,
                          size_t size)
{
    unsigned parts = 0;
    size_t start = 0;
    while (start <= size && parts < MAX_PROFILES) {
        const uint8_t *nul = memchr(data + start, 0, size - start);
        size_t end = nul != NULL ? (size_t)(nul - data) : size;
        if (parts == MAX_PROFILES - 1) {
            end = size; /* the last one takes the rest, NULs and all */
        }
        size_t len = end - start;
        char *copy = malloc(len > 0 ? len : 1);
        FUZZ_CHECK(copy != NULL, "out of memory");
        memcpy(copy, data + start, len);
        rp_stacks_sum_add(sum, copy, len);
        free(copy);
        parts++;
        start = end + 1;
    }
    return parts;
}

FUZZ_NOCOV static void check_text(const char *text, apr_size_t len)
{
    FUZZ_CHECK(strlen(text) == len, "stacks text holds a NUL");
    FUZZ_CHECK(fuzz_utf8_valid(text, len), "stacks text is not UTF-8");
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        FUZZ_CHECK(c >= 0x20 || c == '\n', "control byte 0x%02x at %zu", c, i);
        FUZZ_CHECK(c != 0x7f, "DEL at %zu", i);
    }
    FUZZ_CHECK(len == 0 || text[len - 1] == '\n', "last line unterminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    apr_pool_create(&pool, root);
    rp_stacks_sum_t *sum = rp_stacks_sum_create(pool);
    unsigned parts = add_parts(sum, data, size);
    apr_uint64_t total = rp_stacks_sum_total_us(sum);
    FUZZ_CHECK(total <= RP_STACKS_MAX_US, "sum past its cap: %llu",
               (unsigned long long)total);
    FUZZ_CHECK(rp_stacks_sum_profiles(sum) == parts, "%u profiles of %u",
               rp_stacks_sum_profiles(sum), parts);

    rp_profile_t profile;
    memset(&profile, 0, sizeof(profile));
    rp_stacks_sum_profile(sum, &profile);
    FUZZ_CHECK(profile.stats.wall_ns == total * 1000, "wall %llu, total %llu",
               (unsigned long long)profile.stats.wall_ns,
               (unsigned long long)total);
    FUZZ_CHECK(profile.stats.cpu_ns <= profile.stats.wall_ns,
               "more CPU than time");
    apr_size_t len;
    const char *text = rp_stacks_render(&profile, pool, &len);
    check_text(text, len);

    /* What was accepted reads back whole, to the same total; and from
     * then on, text the writer wrote reads back to the same lines. (The
     * first writing may merge frames: a hostile name is written with its
     * brackets and controls replaced, and may then read as another.) */
    const char *gen = text;
    apr_size_t gen_len = len;
    const char *previous = NULL;
    for (int round = 0; round < 2; round++) {
        rp_stacks_sum_t *again = rp_stacks_sum_create(pool);
        unsigned skipped = rp_stacks_sum_add(again, gen, gen_len);
        FUZZ_CHECK(skipped == 0, "%u lines of its own text skipped", skipped);
        FUZZ_CHECK(rp_stacks_sum_total_us(again) == total,
                   "total %llu, read back %llu", (unsigned long long)total,
                   (unsigned long long)rp_stacks_sum_total_us(again));
        rp_profile_t next;
        memset(&next, 0, sizeof(next));
        rp_stacks_sum_profile(again, &next);
        previous = sorted_lines(gen, gen_len, pool);
        gen = rp_stacks_render(&next, pool, &gen_len);
        check_text(gen, gen_len);
    }
    FUZZ_CHECK(strcmp(previous, sorted_lines(gen, gen_len, pool)) == 0,
               "read back, the lines changed:\n%s\n---\n%s", previous, gen);
    apr_pool_destroy(pool);
    return 0;
}
