/* The layout rp_php reads PHP's data with, taken from the headers of the
 * PHP the module is built against (php-config's include directories); built
 * without them (RP_NO_PHP) it says it has none and PHP frames are not read.
 * The only file that includes PHP's headers. */
#include "rp_php.h"

#ifndef RP_NO_PHP
#include <stddef.h>

#include <zend.h>
#include <zend_compile.h>
#include <zend_globals.h>

#define FIELD_END(type, field)                                                 \
    (offsetof(type, field) + sizeof(((type *)0)->field))

const rp_php_layout_t rp_php_layout = {
    .available = 1,
    .zend_version = ZEND_VERSION,
    .eg_current_execute_data =
        offsetof(zend_executor_globals, current_execute_data),
    .ex_size = sizeof(zend_execute_data),
    .ex_func = offsetof(zend_execute_data, func),
    .ex_call_info = offsetof(zend_execute_data, This.u1.type_info),
    .ex_prev = offsetof(zend_execute_data, prev_execute_data),
    .fn_type = offsetof(zend_function, type),
    .fn_name = offsetof(zend_function, common.function_name),
    .fn_scope = offsetof(zend_function, common.scope),
    .fn_common_size = FIELD_END(zend_function, common.scope),
    .fn_filename = offsetof(zend_function, op_array.filename),
    .fn_line_start = offsetof(zend_function, op_array.line_start),
    .fn_user_size = FIELD_END(zend_function, op_array.line_start) >
                            FIELD_END(zend_function, op_array.filename)
                        ? FIELD_END(zend_function, op_array.line_start)
                        : FIELD_END(zend_function, op_array.filename),
    .ce_name = offsetof(zend_class_entry, name),
    .str_len = offsetof(zend_string, len),
    .str_val = offsetof(zend_string, val),
    .call_top = ZEND_CALL_TOP,
    .call_code = ZEND_CALL_CODE,
    .call_closure = ZEND_CALL_CLOSURE,
    .internal_function = ZEND_INTERNAL_FUNCTION,
    .user_function = ZEND_USER_FUNCTION,
};
#else
const rp_php_layout_t rp_php_layout = {.available = 0};
#endif
