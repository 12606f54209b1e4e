/* A PHP engine's data laid out in this process's memory with the offsets
 * of the PHP headers the module is built with (rp_php_layout): globals,
 * execute data, functions, classes and strings. For the unit tests of
 * rp_php and the bench of its cost; blocks are freed together. */
#ifndef PHP_IMAGE_H
#define PHP_IMAGE_H

#include <stdint.h>

#include "rp_php.h"

typedef struct php_image php_image_t;

php_image_t *php_image_create(void);
void php_image_destroy(php_image_t *img);

/* A block of n zeroed bytes (at least 512), freed with the image. */
unsigned char *php_image_block(php_image_t *img, size_t n);
void php_image_put_word(unsigned char *at, uint32_t off, uintptr_t v);

uintptr_t php_image_string(php_image_t *img, const char *s);
/* name NULL: a file's own code; class_name NULL: a plain function. */
uintptr_t php_image_user_function(php_image_t *img, const char *name,
                                  const char *class_name, const char *file,
                                  uint32_t line);
uintptr_t php_image_internal_function(php_image_t *img, const char *name);
uintptr_t php_image_frame(php_image_t *img, uintptr_t func, uint32_t call_info,
                          uintptr_t prev);

/* An engine whose current execute data is current, read with anchors. */
rp_php_t php_image_engine(php_image_t *img, uintptr_t current,
                          const rp_script_anchors_t *anchors);

#endif
