#include "rp_dwfl.h"

#include <stdio.h>

/* Separate debug files are not searched: the default would consult
 * debuginfod (the network) when it is configured. Objects built with -g,
 * such as modules built with apxs, carry their DWARF themselves. */
static int find_no_separate_debuginfo(Dwfl_Module *mod, void **userdata,
                                      const char *modname, Dwarf_Addr base,
                                      const char *file_name,
                                      const char *debuglink_file,
                                      GElf_Word debuglink_crc,
                                      char **debuginfo_file_name)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    (void)debuglink_file, (void)debuglink_crc, (void)debuginfo_file_name;
    return -1;
}

static const Dwfl_Callbacks self_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_no_separate_debuginfo,
};

/* Reports objects from /proc/self/maps. Unlike dwfl_linux_proc_report it
 * needs no /proc/self/auxv, which a child that dropped privileges cannot
 * read. */
int rp_dwfl_report_self(Dwfl *dwfl)
{
    FILE *maps = fopen("/proc/self/maps", "re");
    if (maps == NULL) {
        return 0;
    }
    dwfl_report_begin(dwfl);
    int rc = dwfl_linux_proc_maps_report(dwfl, maps);
    dwfl_report_end(dwfl, NULL, NULL);
    fclose(maps);
    return rc == 0;
}

Dwfl *rp_dwfl_begin_self(void)
{
    Dwfl *dwfl = dwfl_begin(&self_callbacks);
    if (dwfl != NULL && !rp_dwfl_report_self(dwfl)) {
        dwfl_end(dwfl);
        return NULL;
    }
    return dwfl;
}
