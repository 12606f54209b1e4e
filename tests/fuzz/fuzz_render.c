/* libFuzzer target: every report renderer (html, text, json, speedscope,
 * collapsed, pprof) on a profile whose request text (method, URI, protocol,
 * Host) and frame names, objects and source files come from the input, and
 * whose call tree and samples are shaped by it.
 *
 * Input: up to 14 fields separated by NUL bytes — method, uri, protocol,
 * host, server, then name/object/file for three functions — and after them
 * bytes that pick the samples (stack, weight, waiting, phase).
 *
 * Checks, beyond the sanitizers:
 *  - html: valid UTF-8; exactly as many "<script" and "</script" as the
 *    page has with harmless text (request text never opens or closes a
 *    script, the embedded data included); no raw control characters;
 *  - text: valid UTF-8, no control character but newline;
 *  - json, speedscope: one strict JSON value, no raw C1 control;
 *  - collapsed: valid UTF-8; each line "frame;frame;... count", every frame
 *    "name [object]" (or a bracketed marker) with no ';' inside;
 *  - pprof: a gzip stream.
 * The profile folds by ReqProfileCollapse patterns taken from the input (the
 * first function's file field, and "apache2", the outermost frame's object):
 * the text is checked folded and with every frame, and rp_glob_match against
 * a reference of its syntax ('*' any run, '?' one byte, all else itself) for
 * every pattern and object. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <apr_general.h>
#include <apr_pools.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rp_collapse.h"
#include "rp_collapsed.h"
#include "rp_html.h"
#include "rp_json.h"
#include "rp_pprof.h"
#include "rp_profile.h"
#include "rp_speedscope.h"
#include "rp_text.h"
#include "rp_tree.h"

#define FIELDS 14
#define MAX_SAMPLES 24

static apr_pool_t *pool;
static unsigned benign_open, benign_close;

static const rp_func_t f_root = {.name = "main", .object = "apache2", .resolved = 0};
static const rp_func_t f_handler = {
    .name = "rpwork_handler", .object = "mod_rpwork.so", .file = "mod_rpwork.c",
    .line = 120, .resolved = 1};

FUZZ_NOCOV static unsigned count_of(const char *s, size_t len, const char *needle)
{
    unsigned n = 0;
    size_t k = strlen(needle);
    const char *end = s + len;
    for (const char *p = memmem(s, len, needle, k); p != NULL;
         p = memmem(p + 1, (size_t)(end - p - 1), needle, k)) {
        n++;
    }
    return n;
}

typedef struct built {
    rp_profile_t p;
    rp_func_t funcs[3];
} built_t;

/* A profile from fields and shape bytes. */
static void build(built_t *b, char *const *field, const uint8_t *shape, size_t shape_len)
{
    rp_profile_t *p = &b->p;
    memset(b, 0, sizeof(*b));
    p->method = field[0];
    p->uri = field[1];
    p->protocol = field[2];
    p->host = field[3];
    p->server = field[4];
    p->mpm = "event";
    p->status = 200 + (shape_len ? shape[0] % 400 : 0);
    p->pid = 4242;
    p->tid = 4343;
    p->request_started = apr_time_from_sec(1700000000);
    p->started = p->request_started + 1500;
    p->stats.interval_us = 1000;
    p->stats.clock = shape_len > 1 && shape[1] % 2 ? RP_CLOCK_CPU : RP_CLOCK_WALL;
    p->stats.wall_ns = 10000000;
    p->stats.cpu_ns = 4000000;
    rp_profile_begin(p, pool);
    for (int i = 0; i < 3; i++) {
        b->funcs[i].name = field[5 + 3 * i];
        b->funcs[i].object = field[6 + 3 * i];
        b->funcs[i].file = field[7 + 3 * i][0] ? field[7 + 3 * i] : NULL;
        b->funcs[i].line = 7 * i;
        b->funcs[i].resolved = i != 2;
    }
    const rp_func_t *pick[5] = {&f_root, &f_handler, &b->funcs[0], &b->funcs[1], &b->funcs[2]};
    for (size_t i = 2; i + 3 <= shape_len && p->sample_count < MAX_SAMPLES; i += 3) {
        unsigned depth = shape[i] % 7;
        const rp_func_t *stack[7];
        for (unsigned d = 0; d < depth; d++) {
            stack[d] = d == 0 ? &f_root : pick[(shape[i + 1] >> d) % 5];
        }
        uint32_t weight = 1 + shape[i + 2] % 5;
        int waiting = (shape[i + 2] >> 3) & 1;
        unsigned phase = shape[i + 1] % RP_PHASE_COUNT;
        rp_stack_t s = {.frames = stack, .depth = depth, .t_ns = p->stats.weight * 1000000u,
                        .weight = weight, .waiting = waiting, .phase = phase,
                        .syscall = waiting ? 7 : -1};
        rp_profile_add_stack(p, &s);
        p->phases[phase].first_us = 100 * phase;
        p->phases[phase].total_us += 1000 * weight;
    }
    rp_profile_end(p);
}

FUZZ_NOCOV static void render_html(const rp_profile_t *p, unsigned *open, unsigned *close, int check)
{
    apr_size_t len = 0;
    const char *html = rp_html_render(p, pool, &len);
    FUZZ_CHECK(html != NULL && len == strlen(html), "html length");
    *open = count_of(html, len, "<script");
    *close = count_of(html, len, "</script");
    if (check) {
        FUZZ_CHECK(fuzz_utf8_valid(html, len), "html not UTF-8");
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)html[i];
            FUZZ_CHECK(!(c < 0x20 && c != '\n' && c != '\t') && c != 0x7f,
                       "raw control 0x%02x in html at %zu", c, i);
        }
        FUZZ_CHECK(count_of(html, len, "<SCRIPT") + count_of(html, len, "<Script") == 0,
                   "script tag in another case");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&pool, NULL);
    /* The page's own scripts, with harmless text everywhere. */
    char *benign[FIELDS];
    for (int i = 0; i < FIELDS; i++) {
        benign[i] = "x";
    }
    static const uint8_t shape[] = {0, 0, 3, 1, 1, 4, 2, 9, 5, 3, 3};
    built_t b;
    build(&b, benign, shape, sizeof(shape));
    render_html(&b.p, &benign_open, &benign_close, 0);
    apr_pool_clear(pool);
    return 0;
}

FUZZ_NOCOV static void check_collapsed(const char *out, size_t len)
{
    FUZZ_CHECK(fuzz_utf8_valid(out, len), "collapsed not UTF-8");
    const char *line = out;
    while (line < out + len) {
        const char *nl = memchr(line, '\n', (size_t)(out + len - line));
        FUZZ_CHECK(nl != NULL, "collapsed: last line not terminated");
        const char *space = nl;
        while (space > line && space[-1] >= '0' && space[-1] <= '9') {
            space--;
        }
        FUZZ_CHECK(space < nl && space > line && space[-1] == ' ', "collapsed line: %.*s",
                   (int)(nl - line), line);
        /* Frames: "name [object]" separated by ';'. */
        const char *f = line, *stack_end = space - 1;
        while (f < stack_end) {
            const char *semi = memchr(f, ';', (size_t)(stack_end - f));
            const char *fe = semi ? semi : stack_end;
            FUZZ_CHECK(fe > f, "empty frame in: %.*s", (int)(nl - line), line);
            for (const char *c = f; c < fe; c++) {
                FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f, "control in frame");
            }
            FUZZ_CHECK(fe[-1] == ']', "frame not ending in ']': %.*s", (int)(fe - f), f);
            const char *open = NULL;
            for (const char *c = f; c < fe; c++) {
                if (*c == '[') {
                    open = c;
                }
            }
            FUZZ_CHECK(open != NULL, "frame without [object]: %.*s", (int)(fe - f), f);
            for (const char *c = open + 1; c < fe - 1; c++) {
                FUZZ_CHECK(*c != '[' && *c != ']', "bracket inside object: %.*s",
                           (int)(fe - f), f);
            }
            FUZZ_CHECK(open == f || (open > f + 1 && open[-1] == ' '),
                       "frame not 'name [object]': %.*s", (int)(fe - f), f);
            f = fe + 1;
        }
        line = nl + 1;
    }
}

FUZZ_NOCOV static void check_text(const char *text, size_t len)
{
    FUZZ_CHECK(fuzz_utf8_valid(text, len), "text not UTF-8");
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        FUZZ_CHECK(*c >= 0x20 || *c == '\n', "control 0x%02x in text", *c);
        FUZZ_CHECK(*c != 0x7f && !(c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f),
                   "DEL or C1 control in text");
    }
}

/* The syntax by dynamic programming over (pattern, text) prefixes; small
 * inputs only (the caller bounds the product of the lengths). */
FUZZ_NOCOV static int ref_glob(const char *p, const char *t)
{
    size_t m = strlen(t);
    unsigned char *row = calloc(m + 1, 1), *next = calloc(m + 1, 1);
    if (row == NULL || next == NULL) {
        abort();
    }
    row[0] = 1; /* empty pattern, empty text */
    for (; *p; p++) {
        next[0] = *p == '*' && row[0];
        for (size_t j = 1; j <= m; j++) {
            if (*p == '*') {
                next[j] = row[j] || next[j - 1];
            } else {
                next[j] = row[j - 1] && (*p == '?' || *p == t[j - 1]);
            }
        }
        unsigned char *swap = row;
        row = next;
        next = swap;
    }
    int match = row[m];
    free(row);
    free(next);
    return match;
}

FUZZ_NOCOV static void check_glob(const char *pattern, const char *text)
{
    if (strlen(pattern) * (strlen(text) + 1) > 1 << 16) {
        return;
    }
    FUZZ_CHECK(rp_glob_match(pattern, text) == ref_glob(pattern, text),
               "'%s' against '%s': %d", pattern, text, rp_glob_match(pattern, text));
}

FUZZ_NOCOV static int has_raw_c1(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if ((unsigned char)s[i] == 0xc2 && (unsigned char)s[i + 1] >= 0x80 &&
            (unsigned char)s[i + 1] <= 0x9f) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *field[FIELDS];
    size_t at = 0;
    for (int i = 0; i < FIELDS; i++) {
        const uint8_t *nul = at < size ? memchr(data + at, 0, size - at) : NULL;
        size_t n = nul ? (size_t)(nul - (data + at)) : (at < size ? size - at : 0);
        field[i] = fuzz_cstr(data + at, n);
        at = nul ? at + n + 1 : size;
    }
    /* Names and objects are never empty in a real profile. */
    for (int i = 5; i < FIELDS; i++) {
        if (field[i][0] == '\0' && (i - 5) % 3 != 2) {
            free(field[i]);
            field[i] = fuzz_cstr((const uint8_t *)"?", 1);
        }
    }
    built_t b;
    build(&b, field, data + (at < size ? at : size), at < size ? size - at : 0);
    const char *patterns[] = {field[7], "apache2"};
    b.p.collapse = patterns;
    b.p.collapse_count = 2;
    const rp_profile_t *p = &b.p;
    for (int i = 5; i < FIELDS; i++) {
        check_glob(field[7], field[i]);
        check_glob(field[i], field[7]);
    }

    unsigned open, close;
    render_html(p, &open, &close, 1);
    FUZZ_CHECK(open == benign_open && close == benign_close,
               "request or frame text opened or closed a script: %u/%u, page has %u/%u", open,
               close, benign_open, benign_close);

    apr_size_t len = 0;
    const char *text = rp_text_render(p, pool, &len);
    FUZZ_CHECK(text != NULL && len == strlen(text), "text length");
    check_text(text, len);
    text = rp_text_render_all_frames(p, pool, &len);
    FUZZ_CHECK(text != NULL && len == strlen(text), "all frames text length");
    check_text(text, len);

    const char *json = rp_json_render(p, pool, &len);
    FUZZ_CHECK(json != NULL && fuzz_json_valid(json, len), "json invalid:\n%s", json);
    FUZZ_CHECK(!has_raw_c1(json, len), "raw C1 control in json");
    const char *ss = rp_speedscope_render(p, pool, &len);
    FUZZ_CHECK(ss != NULL && fuzz_json_valid(ss, len), "speedscope invalid:\n%s", ss);

    const char *col = rp_collapsed_render(p, pool, &len);
    FUZZ_CHECK(col != NULL && len == strlen(col), "collapsed length");
    check_collapsed(col, len);

    const char *pb = rp_pprof_render(p, pool, &len);
    FUZZ_CHECK(pb != NULL && len >= 2, "pprof");

    for (int i = 0; i < FIELDS; i++) {
        free(field[i]);
    }
    apr_pool_clear(pool);
    return 0;
}
