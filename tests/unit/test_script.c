/* rp_script and rp_php: the table script frames are named in, the splice of
 * script frames into native stacks, and the PHP reader on an engine's data
 * laid out in memory here with the offsets of the PHP headers the module is
 * built with (torn and hostile frames included). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rp_php.h"
#include <dlfcn.h>

#include "php_image.h"
#include "rp_lua.h"
#include "rp_script.h"
#include "unit_suites.h"

static rp_script_table_t *table;

static php_image_t *img;

static void setup(void)
{
    table = rp_script_table_create(0);
    ck_assert_ptr_nonnull(table);
    img = php_image_create();
    ck_assert_ptr_nonnull(img);
}

static void teardown(void)
{
    rp_script_table_destroy(table);
    table = NULL;
    php_image_destroy(img);
    img = NULL;
}

static rp_script_key_t key_of(uintptr_t a)
{
    rp_script_key_t k = {{a, a + 1, a + 2, a + 3}};
    return k;
}

static uintptr_t add_named(uintptr_t a, const char *name)
{
    rp_script_key_t k = key_of(a);
    return rp_script_table_add(table, &k, RP_SCRIPT_PHP, 0, name, strlen(name),
                               "/srv/app.php", 12, 7);
}

/* ---- the table --------------------------------------------------------- */

START_TEST(table_interns_and_names_frames)
{
    uintptr_t w = add_named(0x1000, "render_page");
    ck_assert(rp_script_is_frame(w));
    ck_assert_uint_eq(add_named(0x1000, "render_page"), w);
    rp_script_key_t k = key_of(0x1000);
    ck_assert_uint_eq(rp_script_table_find(table, &k), w);
    rp_script_key_t other = key_of(0x2000);
    ck_assert_uint_eq(rp_script_table_find(table, &other), 0);
    rp_script_frame_t f;
    ck_assert_int_eq(rp_script_table_get(table, w, &f), 1);
    ck_assert_str_eq(f.name, "render_page");
    ck_assert_str_eq(f.file, "/srv/app.php");
    ck_assert_int_eq(f.line, 7);
    ck_assert_int_eq(f.engine, RP_SCRIPT_PHP);
    ck_assert_str_eq(rp_script_object(f.engine), "[php]");
}
END_TEST

START_TEST(table_cuts_long_names_and_keeps_internal_without_file)
{
    char name[600];
    memset(name, 'n', sizeof(name));
    rp_script_key_t k = key_of(0x3000);
    uintptr_t w = rp_script_table_add(table, &k, RP_SCRIPT_PHP, 1, name,
                                      sizeof(name), NULL, 0, 0);
    rp_script_frame_t f;
    ck_assert_int_eq(rp_script_table_get(table, w, &f), 1);
    ck_assert_uint_eq(strlen(f.name), RP_SCRIPT_MAX_NAME);
    ck_assert_ptr_null(f.file);
    ck_assert_int_eq(f.internal, 1);
}
END_TEST

START_TEST(table_reset_forgets_every_word)
{
    uintptr_t w = add_named(0x1000, "a");
    rp_script_table_reset(table);
    rp_script_frame_t f;
    ck_assert_int_eq(rp_script_table_get(table, w, &f), 0);
    rp_script_key_t k = key_of(0x1000);
    ck_assert_uint_eq(rp_script_table_find(table, &k), 0);
    /* Stale slots do not hide keys added afterwards. */
    for (uintptr_t a = 0; a < 3000; a++) {
        add_named(0x10000 + a * 16, "f");
    }
    for (uintptr_t a = 0; a < 3000; a++) {
        rp_script_key_t again = key_of(0x10000 + a * 16);
        ck_assert_uint_ne(rp_script_table_find(table, &again), 0);
    }
}
END_TEST

/* Sessions of many distinct functions, one after another: the slots of
 * earlier sessions never fill the table (a search for a new key must find
 * a free slot, in a signal handler). */
START_TEST(earlier_sessions_leave_the_table_usable)
{
    for (uintptr_t session = 0; session < 6; session++) {
        rp_script_table_reset(table);
        for (uintptr_t a = 0; a < 8000; a++) {
            uintptr_t w = add_named(0x1000000 * (session + 1) + a * 16, "f");
            rp_script_frame_t f;
            ck_assert_int_eq(rp_script_table_get(table, w, &f), 1);
            ck_assert_str_eq(f.name, "f");
        }
        rp_script_key_t k = key_of(0x1000000 * (session + 1));
        ck_assert_uint_ne(rp_script_table_find(table, &k), 0);
    }
}
END_TEST

START_TEST(table_full_names_further_frames_so)
{
    uintptr_t last = 0;
    for (uintptr_t a = 0; a < 9000; a++) {
        last = add_named(0x100000 + a * 16, "function_with_a_name");
    }
    rp_script_frame_t f;
    ck_assert_int_eq(rp_script_table_get(table, last, &f), 1);
    ck_assert_str_eq(f.name, RP_SCRIPT_FULL_FRAME);
}
END_TEST

START_TEST(words_of_another_table_are_not_read)
{
    rp_script_table_t *other = rp_script_table_create(1);
    rp_script_key_t k = key_of(0x1000);
    uintptr_t w =
        rp_script_table_add(other, &k, RP_SCRIPT_PHP, 0, "x", 1, NULL, 0, 0);
    rp_script_frame_t f;
    ck_assert_int_eq(rp_script_table_get(table, w, &f), 0);
    ck_assert_int_eq(rp_script_table_get(other, w, &f), 1);
    ck_assert_int_eq(rp_script_table_get(table, 0x401000, &f), 0);
    rp_script_table_destroy(other);
}
END_TEST

/* ---- splicing ------------------------------------------------------------ */

/* Native code: the executor at [0x1000, 0x2000), the C call entry at
 * [0x3000, 0x4000); anything else is other C. */
static const rp_script_anchors_t anchors = {{{0x1000, 0x2000}},
                                            {{0x3000, 0x4000}}};
#define S(n) (RP_SCRIPT_TAG | (n)) /* a script frame's word */

static void assert_stack(const uintptr_t *got, int depth, const uintptr_t *want,
                         int want_depth)
{
    ck_assert_int_eq(depth, want_depth);
    for (int i = 0; i < depth; i++) {
        ck_assert_msg(got[i] == want[i], "word %d: %#lx, not %#lx", i,
                      (unsigned long)got[i], (unsigned long)want[i]);
    }
}

START_TEST(one_run_sits_inside_the_executor)
{
    /* pcre2 <- preg_match's C <- executor <- zend_execute <- handler */
    uintptr_t ips[16] = {0x9000, 0x8001, 0x1500, 0x7001, 0x6001};
    rp_script_raw_t frames[] = {
        {S(1), 0}, {S(2), 0}, {S(3), RP_SCRIPT_RUN_ENTERED}};
    int cut = 0;
    int depth = rp_script_splice(&anchors, ips, 5, 16, frames, 3, &cut);
    uintptr_t want[] = {0x9000, 0x8001, S(1),   S(2),
                        S(3),   0x1500, 0x7001, 0x6001};
    assert_stack(ips, depth, want, 8);
    ck_assert_int_eq(cut, 0);
    ck_assert_int_eq(rp_script_stack_has_executor(&anchors, want, 8), 1);
}
END_TEST

START_TEST(interrupted_in_the_executor_the_script_is_the_leaf)
{
    uintptr_t ips[16] = {0x1234, 0x7001};
    rp_script_raw_t frames[] = {{S(1), RP_SCRIPT_RUN_ENTERED}};
    int cut = 0;
    int depth = rp_script_splice(&anchors, ips, 2, 16, frames, 1, &cut);
    uintptr_t want[] = {S(1), 0x1234, 0x7001};
    assert_stack(ips, depth, want, 3);
}
END_TEST

START_TEST(runs_entered_from_c_sit_on_their_own_frames)
{
    /* A callback run by array_map: executor (inner) <- zend_call_function
     * <- array_map's C <- executor (outer); and a PHP function called
     * straight from C (an internal one): on zend_call_function. */
    uintptr_t ips[16] = {0x1100, 0x3001, 0x8001, 0x1801, 0x7001};
    rp_script_raw_t frames[] = {{S(1), 0},
                                {S(2), RP_SCRIPT_RUN_ENTERED},
                                {S(3), 0},
                                {S(4), RP_SCRIPT_RUN_ENTERED}};
    int cut = 0;
    int depth = rp_script_splice(&anchors, ips, 5, 16, frames, 4, &cut);
    uintptr_t want[] = {S(1), S(2), 0x1100, 0x3001, 0x8001,
                        S(3), S(4), 0x1801, 0x7001};
    assert_stack(ips, depth, want, 9);

    uintptr_t ips2[16] = {0x9000, 0x3001, 0x8001, 0x1801, 0x7001};
    rp_script_raw_t called[] = {
        {S(5), RP_SCRIPT_RUN_CALLED}, {S(3), 0}, {S(4), RP_SCRIPT_RUN_ENTERED}};
    depth = rp_script_splice(&anchors, ips2, 5, 16, called, 3, &cut);
    uintptr_t want2[] = {0x9000, S(5), 0x3001, 0x8001,
                         S(3),   S(4), 0x1801, 0x7001};
    assert_stack(ips2, depth, want2, 8);
    ck_assert_int_eq(cut, 0);
}
END_TEST

START_TEST(a_run_without_its_frame_joins_the_run_outside)
{
    /* Two runs, one executor frame: both sit inside it, in order. */
    uintptr_t ips[16] = {0x9000, 0x1801, 0x7001};
    rp_script_raw_t frames[] = {{S(1), RP_SCRIPT_RUN_ENTERED},
                                {S(2), RP_SCRIPT_RUN_ENTERED}};
    int cut = 0;
    int depth = rp_script_splice(&anchors, ips, 3, 16, frames, 2, &cut);
    uintptr_t want[] = {0x9000, S(1), S(2), 0x1801, 0x7001};
    assert_stack(ips, depth, want, 5);
    ck_assert_int_eq(cut, 0);
}
END_TEST

START_TEST(a_stack_that_ends_early_gets_the_script_at_its_end)
{
    /* The unwinder stopped in JIT code: no executor frame at all. */
    uintptr_t ips[16] = {0x7fff0000, 0x7fff1000};
    rp_script_raw_t frames[] = {{S(1), 0}, {S(2), RP_SCRIPT_RUN_ENTERED}};
    int cut = 0;
    int depth = rp_script_splice(&anchors, ips, 2, 16, frames, 2, &cut);
    uintptr_t want[] = {0x7fff0000, 0x7fff1000, S(1), S(2)};
    assert_stack(ips, depth, want, 4);
    ck_assert_int_eq(cut, 1);
}
END_TEST

START_TEST(a_full_stack_keeps_its_innermost_words)
{
    uintptr_t ips[4] = {0x9000, 0x1801, 0x7001, 0x6001};
    rp_script_raw_t frames[] = {{S(1), 0}, {S(2), RP_SCRIPT_RUN_ENTERED}};
    int cut = 0;
    int depth = rp_script_splice(&anchors, ips, 4, 4, frames, 2, &cut);
    uintptr_t want[] = {0x9000, S(1), S(2), 0x1801};
    assert_stack(ips, depth, want, 4);
    ck_assert_int_eq(cut, 1);
    /* No frames: the stack as it was. */
    cut = 0;
    ck_assert_int_eq(rp_script_splice(&anchors, ips, 4, 4, frames, 0, &cut), 4);
    ck_assert_int_eq(cut, 0);
}
END_TEST

/* ---- reading PHP's data ---------------------------------------------------
 * An engine's globals, execute data, functions, classes and strings, built
 * in this process's memory with the layout the module was built with. */

static uintptr_t user_function(const char *name, const char *class_name,
                               const char *file, uint32_t line)
{
    return php_image_user_function(img, name, class_name, file, line);
}

static uintptr_t internal_function(const char *name)
{
    return php_image_internal_function(img, name);
}

static uintptr_t frame(uintptr_t func, uint32_t call_info, uintptr_t prev)
{
    return php_image_frame(img, func, call_info, prev);
}

static rp_php_t fake_php(uintptr_t current)
{
    return php_image_engine(img, current, &anchors);
}

static unsigned char *block(size_t n)
{
    return php_image_block(img, n);
}

static void put_word(unsigned char *at, uint32_t off, uintptr_t v)
{
    php_image_put_word(at, off, v);
}

static const char *name_of(const rp_script_raw_t *raw)
{
    static rp_script_frame_t f;
    ck_assert_int_eq(rp_script_table_get(table, raw->word, &f), 1);
    return f.name;
}

START_TEST(php_chain_is_read_innermost_first)
{
    if (!rp_php_layout.available) {
        return; /* built without PHP's headers: nothing to read with */
    }
    const rp_php_layout_t *L = &rp_php_layout;
    uintptr_t main_ex = frame(user_function(NULL, NULL, "/srv/index.php", 1),
                              L->call_top | L->call_code, 0);
    uintptr_t total =
        frame(user_function("total", "Basket", "/srv/lib.php", 6), 0, main_ex);
    uintptr_t preg = frame(internal_function("preg_match"), 0, total);
    rp_php_t php = fake_php(preg);
    ck_assert_int_eq(rp_php_running(&php), 1);
    rp_script_raw_t out[8];
    int n = rp_php_read(&php, table, out, 8);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(name_of(&out[0]), "preg_match");
    ck_assert_str_eq(name_of(&out[1]), "Basket::total");
    ck_assert_str_eq(name_of(&out[2]), "{main}");
    ck_assert_int_eq(out[0].run_start, 0);
    ck_assert_int_eq(out[2].run_start, RP_SCRIPT_RUN_ENTERED);
    rp_script_frame_t f;
    rp_script_table_get(table, out[1].word, &f);
    ck_assert_str_eq(f.file, "/srv/lib.php");
    ck_assert_int_eq(f.line, 6);
    ck_assert_int_eq(f.internal, 0);
    rp_script_table_get(table, out[0].word, &f);
    ck_assert_ptr_null(f.file);
    ck_assert_int_eq(f.internal, 1);
    /* Read again: the same words, no new entries. */
    rp_script_raw_t again[8];
    ck_assert_int_eq(rp_php_read(&php, table, again, 8), 3);
    ck_assert_uint_eq(again[1].word, out[1].word);
}
END_TEST

START_TEST(php_runs_entered_from_c_are_marked)
{
    if (!rp_php_layout.available) {
        return;
    }
    const rp_php_layout_t *L = &rp_php_layout;
    uintptr_t main_ex = frame(user_function(NULL, NULL, "/srv/a.php", 1),
                              L->call_top | L->call_code, 0);
    uintptr_t map = frame(internal_function("array_map"), 0, main_ex);
    uintptr_t callback = frame(
        user_function("{closure}", NULL, "/srv/a.php", 9), L->call_top, map);
    uintptr_t upper =
        frame(internal_function("strtoupper"), L->call_top, callback);
    uintptr_t inc =
        frame(user_function(NULL, NULL, "/srv/b.php", 1), L->call_code, upper);
    rp_php_t php = fake_php(inc);
    rp_script_raw_t out[8];
    int n = rp_php_read(&php, table, out, 8);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(name_of(&out[0]), "{include}");
    ck_assert_int_eq(out[1].run_start, RP_SCRIPT_RUN_CALLED);
    ck_assert_int_eq(out[2].run_start, RP_SCRIPT_RUN_ENTERED);
    ck_assert_int_eq(out[3].run_start, 0);
    ck_assert_str_eq(name_of(&out[4]), "{main}");
}
END_TEST

START_TEST(php_torn_frames_end_the_chain)
{
    if (!rp_php_layout.available) {
        return;
    }
    const rp_php_layout_t *L = &rp_php_layout;
    /* A frame whose function points nowhere: the chain ends inside it. */
    uintptr_t main_ex = frame(user_function(NULL, NULL, "/srv/a.php", 1),
                              L->call_top | L->call_code, 0);
    uintptr_t bad = frame(0x10, 0, main_ex);
    uintptr_t leaf =
        frame(user_function("leaf", NULL, "/srv/a.php", 3), 0, bad);
    rp_php_t php = fake_php(leaf);
    rp_script_raw_t out[8];
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 1);
    ck_assert_str_eq(name_of(&out[0]), "leaf");

    /* prev pointing into unmapped memory, and a function of no known
     * type: shorter stacks, no fault. */
    uintptr_t lost =
        frame(user_function("lost", NULL, "/srv/a.php", 3), 0, (uintptr_t)8);
    php = fake_php(lost);
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 1);
    unsigned char *odd = block(L->fn_user_size);
    odd[L->fn_type] = 77;
    php = fake_php(frame((uintptr_t)odd, 0, 0));
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 0);

    /* A name whose length is absurd is not trusted; a loop is bounded. */
    uintptr_t f = user_function("x", NULL, "/srv/a.php", 3);
    unsigned char *name;
    memcpy(&name, (unsigned char *)f + L->fn_name, sizeof(name));
    put_word(name, L->str_len, (uintptr_t)1 << 40);
    unsigned char *loop = (unsigned char *)frame(f, 0, 0);
    put_word(loop, L->ex_prev, (uintptr_t)loop);
    php = fake_php((uintptr_t)loop);
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 1);
    ck_assert_str_eq(name_of(&out[0]), "[unreadable]");
    unsigned char *a = (unsigned char *)frame(f, 0, 0);
    unsigned char *b = (unsigned char *)frame(f, 0, (uintptr_t)a);
    put_word(a, L->ex_prev, (uintptr_t)b);
    php = fake_php((uintptr_t)a);
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 8);

    /* Nothing running: no frames, and the splicer leaves stacks alone. */
    php = fake_php(0);
    ck_assert_int_eq(rp_php_running(&php), 0);
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 0);
    uintptr_t ips[4] = {0x9000, 0x1801};
    int cut = 0;
    ck_assert_int_eq(rp_php_splice(&php, table, 0, ips, 2, 4, &cut), 2);
}
END_TEST

/* The address of a closure's copy of its function, or of an included
 * file's code, may be taken by the next one within a request: read anew
 * each time. Other functions live until the request ends: named by their
 * address within a session, read anew in the next. */
START_TEST(php_reused_addresses_are_named_anew)
{
    if (!rp_php_layout.available) {
        return;
    }
    const rp_php_layout_t *L = &rp_php_layout;
    uintptr_t closure = user_function("{closure}", NULL, "/srv/a.php", 5);
    uintptr_t plain = user_function("plain", NULL, "/srv/a.php", 9);
    uintptr_t main_ex = frame(user_function(NULL, NULL, "/srv/a.php", 1),
                              L->call_top | L->call_code, 0);
    uintptr_t plain_ex = frame(plain, 0, main_ex);
    uintptr_t closure_ex = frame(closure, L->call_closure, plain_ex);
    rp_php_t php = fake_php(closure_ex);
    rp_script_raw_t out[8];
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 3);
    ck_assert_str_eq(name_of(&out[0]), "{closure}");
    ck_assert_str_eq(name_of(&out[1]), "plain");
    /* Both addresses now hold other functions. */
    rp_script_frame_t f;
    put_word((unsigned char *)closure, L->fn_filename,
             php_image_string(img, "/srv/b.php"));
    put_word((unsigned char *)plain, L->fn_name,
             php_image_string(img, "renamed"));
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 3);
    rp_script_table_get(table, out[0].word, &f);
    ck_assert_str_eq(f.file, "/srv/b.php");
    ck_assert_str_eq(name_of(&out[1]), "plain");
    rp_script_table_reset(table);
    ck_assert_int_eq(rp_php_read(&php, table, out, 8), 3);
    ck_assert_str_eq(name_of(&out[1]), "renamed");
}
END_TEST

START_TEST(php_absent_from_this_process)
{
    rp_php_t php;
    char buf[200];
    const char *why;
    ck_assert_int_eq(rp_php_attach(&php, buf, sizeof(buf), &why),
                     RP_PHP_ABSENT);
    ck_assert_ptr_null(why);
}
END_TEST

/* Debian's Lua 5.3 (mod_lua's): the layout check reads a chunk's own
 * stack and must find it as it is; hostile states give no frames or a
 * bounded number, never a fault. */
START_TEST(lua_layout_check_and_hostile_states)
{
    void *lib = dlopen("liblua5.3.so.0", RTLD_NOW | RTLD_GLOBAL);
    ck_assert_msg(lib != NULL, "liblua5.3.so.0 is missing (liblua5.3-0, "
                               "which apache2-bin's mod_lua needs)");
    rp_lua_t lua;
    char buf[200];
    const char *why;
    ck_assert_int_eq(rp_lua_attach(&lua, buf, sizeof(buf), &why), RP_LUA_READY);
    ck_assert_ptr_null(why);
    rp_script_raw_t out[8];
    ck_assert_int_eq(rp_lua_read(&lua, table, 8, out, 8), 0);
    unsigned char *state = block(512);
    ck_assert_int_eq(rp_lua_read(&lua, table, (uintptr_t)state, out, 8), 0);
    /* Two call infos, each the other's caller, running a C function:
     * bounded; one that is its own caller: nothing. */
    unsigned char *ci = block(512);
    unsigned char *other = block(512);
    unsigned char *slot = block(512);
    put_word(slot, 0, (uintptr_t)0x1234);
    uint32_t light_c = 6 | (1 << 4);
    memcpy(slot + 8, &light_c, sizeof(light_c));
    put_word(ci, 0, (uintptr_t)slot);
    put_word(ci, 16, (uintptr_t)other);
    put_word(other, 0, (uintptr_t)slot);
    put_word(other, 16, (uintptr_t)ci);
    put_word(state, 32, (uintptr_t)ci);
    ck_assert_int_eq(rp_lua_read(&lua, table, (uintptr_t)state, out, 8), 8);
    ck_assert_str_eq(name_of(&out[0]), "[C function]");
    put_word(ci, 16, (uintptr_t)ci);
    ck_assert_int_eq(rp_lua_read(&lua, table, (uintptr_t)state, out, 8), 0);
    /* The splicer reads nothing outside a call into Lua. */
    uintptr_t ips[4] = {0x9000, 0x1801};
    int cut = 0;
    ck_assert_int_eq(
        rp_lua_splice(&lua, table, (uintptr_t)state, ips, 2, 4, &cut), 2);
    ck_assert_int_eq(cut, 0);
}
END_TEST

START_TEST(read_reports_unmapped_memory)
{
    char buf[16];
    ck_assert_uint_eq(rp_script_read(getpid(), buf, 8, sizeof(buf)), 0);
    ck_assert_uint_eq(rp_script_read(getpid(), buf, 0, sizeof(buf)), 0);
    const char *s = "0123456789abcdef";
    ck_assert_uint_eq(rp_script_read(getpid(), buf, (uintptr_t)s, 16), 16);
    ck_assert(memcmp(buf, s, 16) == 0);
}
END_TEST

Suite *script_suite(void)
{
    Suite *s = suite_create("rp_script");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, table_interns_and_names_frames);
    tcase_add_test(tc, table_cuts_long_names_and_keeps_internal_without_file);
    tcase_add_test(tc, table_reset_forgets_every_word);
    tcase_add_test(tc, earlier_sessions_leave_the_table_usable);
    tcase_add_test(tc, table_full_names_further_frames_so);
    tcase_add_test(tc, words_of_another_table_are_not_read);
    tcase_add_test(tc, one_run_sits_inside_the_executor);
    tcase_add_test(tc, interrupted_in_the_executor_the_script_is_the_leaf);
    tcase_add_test(tc, runs_entered_from_c_sit_on_their_own_frames);
    tcase_add_test(tc, a_run_without_its_frame_joins_the_run_outside);
    tcase_add_test(tc, a_stack_that_ends_early_gets_the_script_at_its_end);
    tcase_add_test(tc, a_full_stack_keeps_its_innermost_words);
    tcase_add_test(tc, php_chain_is_read_innermost_first);
    tcase_add_test(tc, php_runs_entered_from_c_are_marked);
    tcase_add_test(tc, php_torn_frames_end_the_chain);
    tcase_add_test(tc, php_reused_addresses_are_named_anew);
    tcase_add_test(tc, php_absent_from_this_process);
    tcase_add_test(tc, lua_layout_check_and_hostile_states);
    tcase_add_test(tc, read_reports_unmapped_memory);
    suite_add_tcase(s, tc);
    return s;
}
