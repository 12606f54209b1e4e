#include "rp_pprof.h"

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <string.h>
#include <zlib.h>

#include "rp_buf.h"
#include "rp_export.h"

/* ---- protobuf wire format ----------------------------------------------
 * Only what profile.proto needs: varints (wire type 0) and length-delimited
 * fields (wire type 2) holding strings, packed numbers and messages. A
 * message is built in its own rp_buf, then appended with its length. */

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* profile.proto field numbers. */
enum {
    PROFILE_SAMPLE_TYPE = 1,
    PROFILE_SAMPLE = 2,
    PROFILE_MAPPING = 3,
    PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5,
    PROFILE_STRING_TABLE = 6,
    PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10,
    PROFILE_PERIOD_TYPE = 11,
    PROFILE_PERIOD = 12,
    PROFILE_COMMENT = 13,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1,
    VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1,
    SAMPLE_VALUE = 2,
    SAMPLE_LABEL = 3,
    LABEL_KEY = 1,
    LABEL_STR = 2,
    MAPPING_ID = 1,
    MAPPING_FILENAME = 5,
    MAPPING_HAS_FUNCTIONS = 7,
    MAPPING_HAS_FILENAMES = 8,
    MAPPING_HAS_LINE_NUMBERS = 9,
    LOCATION_ID = 1,
    LOCATION_MAPPING_ID = 2,
    LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1,
    LINE_LINE = 2,
    FUNCTION_ID = 1,
    FUNCTION_NAME = 2,
    FUNCTION_SYSTEM_NAME = 3,
    FUNCTION_FILENAME = 4,
    FUNCTION_START_LINE = 5
};

static void pb_varint(rp_buf_t *b, uint64_t v)
{
    char bytes[10];
    apr_size_t n = 0;
    while (v >= 0x80) {
        bytes[n++] = (char)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    bytes[n++] = (char)v;
    rp_buf_append(b, bytes, n);
}

static void pb_tag(rp_buf_t *b, unsigned field, unsigned wire)
{
    pb_varint(b, ((uint64_t)field << 3) | wire);
}

/* An int64, uint64 or bool field; zero is the default and is left out.
 * (int64 is not zigzag-encoded: a negative value takes ten bytes.) */
static void pb_uint(rp_buf_t *b, unsigned field, uint64_t v)
{
    if (v != 0) {
        pb_tag(b, field, WIRE_VARINT);
        pb_varint(b, v);
    }
}

static void pb_bytes(rp_buf_t *b, unsigned field, const char *data,
                     apr_size_t n)
{
    pb_tag(b, field, WIRE_LEN);
    pb_varint(b, n);
    rp_buf_append(b, data, n);
}

static void pb_message(rp_buf_t *b, unsigned field, const rp_buf_t *msg)
{
    pb_bytes(b, field, msg->data, msg->len);
}

static void pb_reset(rp_buf_t *b)
{
    b->len = 0;
    b->data[0] = '\0';
}

/* ---- the profile ------------------------------------------------------- */

typedef struct {
    apr_pool_t *pool;
    apr_hash_t *strings; /* text -> index + 1 */
    apr_array_header_t *table;
    rp_buf_t tmp; /* sanitizing */
} strtab_t;

/* Index of s in the string table, adding it. Text is made printable and
 * valid UTF-8 first: pprof prints names to terminals, and protobuf
 * strings must be UTF-8. */
static uint64_t intern(strtab_t *t, const char *s)
{
    if (s == NULL || *s == '\0') {
        return 0;
    }
    pb_reset(&t->tmp);
    rp_buf_plain(&t->tmp, s, NULL);
    void *known =
        apr_hash_get(t->strings, t->tmp.data, (apr_ssize_t)t->tmp.len);
    if (known != NULL) {
        return (uint64_t)(uintptr_t)known - 1;
    }
    const char *copy = apr_pstrmemdup(t->pool, t->tmp.data, t->tmp.len);
    APR_ARRAY_PUSH(t->table, const char *) = copy;
    uint64_t index = (uint64_t)t->table->nelts - 1;
    apr_hash_set(t->strings, copy, (apr_ssize_t)t->tmp.len,
                 (void *)(uintptr_t)(index + 1));
    return index;
}

static void value_type(rp_buf_t *b, unsigned field, strtab_t *t,
                       const char *type, const char *unit, rp_buf_t *msg)
{
    pb_reset(msg);
    pb_uint(msg, VALUE_TYPE_TYPE, intern(t, type));
    pb_uint(msg, VALUE_TYPE_UNIT, intern(t, unit));
    pb_message(b, field, msg);
}

/* Samples merged by stack, phase and waiting state. */
typedef struct {
    const rp_node_t *leaf;
    uint32_t phase;
    uint32_t waiting;
} sample_key_t;

typedef struct {
    sample_key_t key;
    uint64_t count;
    uint64_t weight;
} merged_t;

static apr_array_header_t *
merge_samples(const rp_profile_t *p, const rp_model_t *model, apr_pool_t *pool)
{
    const rp_profile_sample_t *samples = model->samples;
    unsigned count = model->sample_count;
    apr_array_header_t *merged = apr_array_make(pool, 64, sizeof(merged_t));
    apr_hash_t *seen = apr_hash_make(pool);
    for (unsigned i = 0; i < count; i++) {
        sample_key_t *k = apr_pcalloc(pool, sizeof(*k));
        k->leaf = samples[i].leaf ? samples[i].leaf : &p->tree->root;
        k->phase = samples[i].phase < RP_PHASE_COUNT ? samples[i].phase : 0;
        k->waiting = samples[i].waiting ? 1 : 0;
        uintptr_t at = (uintptr_t)apr_hash_get(seen, k, sizeof(*k));
        merged_t *m;
        if (at == 0) {
            m = &APR_ARRAY_PUSH(merged, merged_t);
            memset(m, 0, sizeof(*m));
            m->key = *k;
            apr_hash_set(seen, k, sizeof(*k), (void *)(uintptr_t)merged->nelts);
        } else {
            m = &APR_ARRAY_IDX(merged, at - 1, merged_t);
        }
        m->count++;
        m->weight += samples[i].weight;
    }
    return merged;
}

static void render_samples(rp_buf_t *out, const rp_profile_t *p,
                           const rp_model_t *model, strtab_t *t,
                           apr_pool_t *pool)
{
    const rp_frames_t *fr = &model->frames;
    int wall = p->stats.clock != RP_CLOCK_CPU;
    uint64_t interval_ns = (uint64_t)p->stats.interval_us * 1000;
    apr_array_header_t *merged = merge_samples(p, model, pool);
    uint64_t phase_key = intern(t, "phase");
    uint64_t waiting_key = intern(t, "waiting");
    uint64_t true_str = intern(t, "true");
    uint64_t false_str = intern(t, "false");
    rp_buf_t msg, packed, label;
    rp_buf_init(&msg, pool, 1024);
    rp_buf_init(&packed, pool, 1024);
    rp_buf_init(&label, pool, 64);
    for (int i = 0; i < merged->nelts; i++) {
        const merged_t *m = &APR_ARRAY_IDX(merged, i, merged_t);
        pb_reset(&msg);
        /* Locations, leaf first; a location id is its frame number + 1. */
        pb_reset(&packed);
        for (const rp_node_t *n = m->key.leaf; n && n->func; n = n->parent) {
            int frame = rp_frames_index(fr, n->func);
            if (frame >= 0) {
                pb_varint(&packed, (uint64_t)frame + 1);
            }
        }
        if (packed.len > 0) {
            pb_message(&msg, SAMPLE_LOCATION_ID, &packed);
        }
        /* Values, one per sample type, packed. */
        pb_reset(&packed);
        pb_varint(&packed, m->count);
        if (wall) {
            pb_varint(&packed, m->weight * interval_ns);
        }
        pb_varint(&packed, m->key.waiting ? 0 : m->weight * interval_ns);
        pb_message(&msg, SAMPLE_VALUE, &packed);
        pb_reset(&label);
        pb_uint(&label, LABEL_KEY, phase_key);
        pb_uint(&label, LABEL_STR, intern(t, rp_phase_name(m->key.phase)));
        pb_message(&msg, SAMPLE_LABEL, &label);
        pb_reset(&label);
        pb_uint(&label, LABEL_KEY, waiting_key);
        pb_uint(&label, LABEL_STR, m->key.waiting ? true_str : false_str);
        pb_message(&msg, SAMPLE_LABEL, &label);
        pb_message(out, PROFILE_SAMPLE, &msg);
    }
}

/* Mappings (one per object), locations and functions (one per frame). */
static void render_code(rp_buf_t *out, const rp_frames_t *fr, strtab_t *t,
                        apr_pool_t *pool)
{
    apr_hash_t *mapping_of = apr_hash_make(pool); /* object -> id */
    apr_array_header_t *objects = apr_array_make(pool, 16, sizeof(char *));
    apr_array_header_t *has_files = apr_array_make(pool, 16, sizeof(int));
    uint64_t *mapping_ids =
        apr_pcalloc(pool, sizeof(uint64_t) * (fr->count + 1));
    for (unsigned i = 0; i < fr->count; i++) {
        const char *object = fr->funcs[i]->object;
        if (object == NULL || *object == '\0') {
            continue; /* no mapping */
        }
        uintptr_t id =
            (uintptr_t)apr_hash_get(mapping_of, object, APR_HASH_KEY_STRING);
        if (id == 0) {
            APR_ARRAY_PUSH(objects, const char *) = object;
            APR_ARRAY_PUSH(has_files, int) = 0;
            id = (uintptr_t)objects->nelts;
            apr_hash_set(mapping_of, object, APR_HASH_KEY_STRING, (void *)id);
        }
        if (fr->funcs[i]->file != NULL) {
            APR_ARRAY_IDX(has_files, id - 1, int) = 1;
        }
        mapping_ids[i] = id;
    }
    rp_buf_t msg, line;
    rp_buf_init(&msg, pool, 256);
    rp_buf_init(&line, pool, 32);
    for (int i = 0; i < objects->nelts; i++) {
        pb_reset(&msg);
        pb_uint(&msg, MAPPING_ID, (uint64_t)i + 1);
        pb_uint(&msg, MAPPING_FILENAME,
                intern(t, APR_ARRAY_IDX(objects, i, const char *)));
        pb_uint(&msg, MAPPING_HAS_FUNCTIONS, 1);
        pb_uint(&msg, MAPPING_HAS_FILENAMES, APR_ARRAY_IDX(has_files, i, int));
        pb_uint(&msg, MAPPING_HAS_LINE_NUMBERS,
                APR_ARRAY_IDX(has_files, i, int));
        pb_message(out, PROFILE_MAPPING, &msg);
    }
    for (unsigned i = 0; i < fr->count; i++) {
        const rp_func_t *f = fr->funcs[i];
        pb_reset(&msg);
        pb_uint(&msg, LOCATION_ID, (uint64_t)i + 1);
        pb_uint(&msg, LOCATION_MAPPING_ID, mapping_ids[i]);
        pb_reset(&line);
        pb_uint(&line, LINE_FUNCTION_ID, (uint64_t)i + 1);
        pb_uint(&line, LINE_LINE, f->line > 0 ? (uint64_t)f->line : 0);
        pb_message(&msg, LOCATION_LINE, &line);
        pb_message(out, PROFILE_LOCATION, &msg);
    }
    for (unsigned i = 0; i < fr->count; i++) {
        const rp_func_t *f = fr->funcs[i];
        uint64_t name = intern(t, f->name && *f->name ? f->name : "[unknown]");
        pb_reset(&msg);
        pb_uint(&msg, FUNCTION_ID, (uint64_t)i + 1);
        pb_uint(&msg, FUNCTION_NAME, name);
        pb_uint(&msg, FUNCTION_SYSTEM_NAME, name);
        pb_uint(&msg, FUNCTION_FILENAME, intern(t, f->file));
        pb_uint(&msg, FUNCTION_START_LINE, f->line > 0 ? (uint64_t)f->line : 0);
        pb_message(out, PROFILE_FUNCTION, &msg);
    }
}

static void render_profile(rp_buf_t *out, const rp_profile_t *p,
                           apr_pool_t *pool)
{
    int wall = p->stats.clock != RP_CLOCK_CPU;
    const char *clock = wall ? "wall" : "cpu";
    strtab_t t = {.pool = pool,
                  .strings = apr_hash_make(pool),
                  .table = apr_array_make(pool, 256, sizeof(char *))};
    rp_buf_init(&t.tmp, pool, 256);
    APR_ARRAY_PUSH(t.table, const char *) = ""; /* string_table[0] */
    const rp_model_t *model = rp_profile_model(p);

    rp_buf_t msg;
    rp_buf_init(&msg, pool, 64);
    value_type(out, PROFILE_SAMPLE_TYPE, &t, "samples", "count", &msg);
    if (wall) {
        value_type(out, PROFILE_SAMPLE_TYPE, &t, "wall", "nanoseconds", &msg);
    }
    value_type(out, PROFILE_SAMPLE_TYPE, &t, "cpu", "nanoseconds", &msg);
    render_samples(out, p, model, &t, pool);
    render_code(out, &model->frames, &t, pool);
    pb_uint(out, PROFILE_TIME_NANOS, (uint64_t)p->started * 1000);
    pb_uint(out, PROFILE_DURATION_NANOS, p->stats.wall_ns);
    value_type(out, PROFILE_PERIOD_TYPE, &t, clock, "nanoseconds", &msg);
    pb_uint(out, PROFILE_PERIOD, (uint64_t)p->stats.interval_us * 1000);
    const char *comments[] = {
        apr_pstrcat(pool, "mod_reqprof: ", p->method ? p->method : "-", " ",
                    p->uri ? p->uri : "-", " ", p->protocol ? p->protocol : "",
                    NULL),
        apr_psprintf(pool, "status %d, pid %ld, tid %ld, MPM %s", p->status,
                     p->pid, p->tid, p->mpm ? p->mpm : "-"),
    };
    for (size_t i = 0; i < sizeof(comments) / sizeof(comments[0]); i++) {
        pb_uint(out, PROFILE_COMMENT, intern(&t, comments[i]));
    }
    pb_uint(out, PROFILE_DEFAULT_SAMPLE_TYPE, intern(&t, clock));
    /* Last: every string is interned by now. */
    for (int i = 0; i < t.table->nelts; i++) {
        const char *s = APR_ARRAY_IDX(t.table, i, const char *);
        pb_bytes(out, PROFILE_STRING_TABLE, s, strlen(s));
    }
}

/* gzip (RFC 1952) of data into pool; NULL if zlib fails. */
static char *gzip(const char *data, apr_size_t n, apr_pool_t *pool,
                  apr_size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 15 + 16: the largest window, with a gzip header and trailer. */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    uLong bound = deflateBound(&z, (uLong)n);
    char *out = apr_palloc(pool, bound);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    *out_len = (apr_size_t)z.total_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? out : NULL;
}

const char *rp_pprof_render(const rp_profile_t *p, apr_pool_t *pool,
                            apr_size_t *len)
{
    apr_pool_t *scratch;
    apr_pool_create(&scratch, pool);
    rp_buf_t proto;
    rp_buf_init(&proto, scratch,
                4096 + (apr_size_t)p->tree->node_count * 64 +
                    (apr_size_t)p->sample_count * 16);
    render_profile(&proto, p, scratch);
    apr_size_t n = 0;
    const char *out = NULL;
    if (proto.len <= (apr_size_t)UINT32_MAX / 2) {
        out = gzip(proto.data, proto.len, pool, &n);
    }
    if (out == NULL) {
        out = apr_pmemdup(pool, proto.data, proto.len);
        n = proto.len;
    }
    apr_pool_destroy(scratch);
    *len = n;
    return out;
}
