/* An object that looks like a PHP engine of another version to mod_reqprof:
 * the symbols it looks for (get_zend_version, executor_globals, execute_ex),
 * loaded into httpd with LoadFile. The tests check that the module then says
 * once why it does not read PHP frames, and profiles natively. */
const char *get_zend_version(void);
void execute_ex(void *execute_data);

char executor_globals[4096];

const char *get_zend_version(void)
{
    return "Zend Engine v4.1.99, Copyright (c) Zend Technologies\n";
}

void execute_ex(void *execute_data)
{
    (void)execute_data;
}
