#include "php_image.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BLOCKS 4096

/* Call frames are carved upward from one block, as the engine pushes them
 * in its VM stack: a caller below its callees. */
#define VM_STACK_BYTES (256 * 1024)
#define FRAME_VARS_BYTES 64 /* the arguments and locals after each frame */

struct php_image {
    unsigned char *blocks[MAX_BLOCKS];
    int count;
    unsigned char *vm_stack;
    size_t vm_used;
};

php_image_t *php_image_create(void)
{
    return calloc(1, sizeof(php_image_t));
}

void php_image_destroy(php_image_t *img)
{
    for (int i = 0; i < img->count; i++) {
        free(img->blocks[i]);
    }
    free(img);
}

unsigned char *php_image_block(php_image_t *img, size_t n)
{
    if (img->count == MAX_BLOCKS) {
        abort();
    }
    unsigned char *b = calloc(1, n < 512 ? 512 : n);
    if (b == NULL) {
        abort();
    }
    img->blocks[img->count++] = b;
    return b;
}

void php_image_put_word(unsigned char *at, uint32_t off, uintptr_t v)
{
    memcpy(at + off, &v, sizeof(v));
}

static void put_u32(unsigned char *at, uint32_t off, uint32_t v)
{
    memcpy(at + off, &v, sizeof(v));
}

uintptr_t php_image_string(php_image_t *img, const char *s)
{
    const rp_php_layout_t *L = &rp_php_layout;
    unsigned char *b = php_image_block(img, L->str_val + strlen(s) + 1);
    php_image_put_word(b, L->str_len, strlen(s));
    memcpy(b + L->str_val, s, strlen(s) + 1);
    return (uintptr_t)b;
}

uintptr_t php_image_user_function(php_image_t *img, const char *name,
                                  const char *class_name, const char *file,
                                  uint32_t line)
{
    const rp_php_layout_t *L = &rp_php_layout;
    unsigned char *f = php_image_block(img, L->fn_user_size);
    f[L->fn_type] = L->user_function;
    php_image_put_word(f, L->fn_name, name ? php_image_string(img, name) : 0);
    if (class_name != NULL) {
        unsigned char *ce = php_image_block(img, L->ce_name + 8);
        php_image_put_word(ce, L->ce_name, php_image_string(img, class_name));
        php_image_put_word(f, L->fn_scope, (uintptr_t)ce);
    }
    php_image_put_word(f, L->fn_filename, php_image_string(img, file));
    put_u32(f, L->fn_line_start, line);
    return (uintptr_t)f;
}

uintptr_t php_image_internal_function(php_image_t *img, const char *name)
{
    const rp_php_layout_t *L = &rp_php_layout;
    unsigned char *f = php_image_block(img, L->fn_user_size);
    f[L->fn_type] = L->internal_function;
    php_image_put_word(f, L->fn_name, php_image_string(img, name));
    return (uintptr_t)f;
}

uintptr_t php_image_frame(php_image_t *img, uintptr_t func, uint32_t call_info,
                          uintptr_t prev)
{
    const rp_php_layout_t *L = &rp_php_layout;
    size_t size = L->ex_size + FRAME_VARS_BYTES;
    if (img->vm_stack == NULL) {
        img->vm_stack = php_image_block(img, VM_STACK_BYTES);
    }
    if (img->vm_used + size > VM_STACK_BYTES) {
        abort();
    }
    unsigned char *ex = img->vm_stack + img->vm_used;
    img->vm_used += size;
    php_image_put_word(ex, L->ex_func, func);
    put_u32(ex, L->ex_call_info, call_info);
    php_image_put_word(ex, L->ex_prev, prev);
    return (uintptr_t)ex;
}

rp_php_t php_image_engine(php_image_t *img, uintptr_t current,
                          const rp_script_anchors_t *anchors)
{
    const rp_php_layout_t *L = &rp_php_layout;
    unsigned char *globals =
        php_image_block(img, L->eg_current_execute_data + 8);
    php_image_put_word(globals, L->eg_current_execute_data, current);
    rp_php_t php = {.layout = L,
                    .pid = getpid(),
                    .executor_globals = (uintptr_t)globals,
                    .anchors = *anchors};
    return php;
}
