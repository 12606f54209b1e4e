#include "rp_dwfl.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

/* Separate debug files from the local debug root only (never
 * dwfl_standard_find_debuginfo, which may ask debuginfod). */
static int find_local_debuginfo(Dwfl_Module *mod, void **userdata,
                                const char *modname, Dwarf_Addr base,
                                const char *file_name,
                                const char *debuglink_file,
                                GElf_Word debuglink_crc,
                                char **debuginfo_file_name)
{
    (void)userdata, (void)base;
    const unsigned char *id = NULL;
    GElf_Addr id_vaddr = 0;
    int id_len = dwfl_module_build_id(mod, &id, &id_vaddr);
    return rp_dwfl_open_debug_file(
        RP_DWFL_DEBUG_ROOT, id_len > 0 ? id : NULL,
        id_len > 0 ? (size_t)id_len : 0, file_name ? file_name : modname,
        debuglink_file, debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks self_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_no_separate_debuginfo,
};

static const Dwfl_Callbacks self_debug_callbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = find_local_debuginfo,
};

int rp_dwfl_build_id_path(char *out, size_t size, const char *root,
                          const unsigned char *id, size_t id_len)
{
    static const char hex[] = "0123456789abcdef";
    size_t root_len = strlen(root);
    /* root "/.build-id/" xx "/" rest ".debug" NUL */
    if (id_len < 2 || size < root_len + 11 + 2 * id_len + 1 + 6 + 1) {
        return 0;
    }
    char *p = out;
    memcpy(p, root, root_len);
    p += root_len;
    memcpy(p, "/.build-id/", 11);
    p += 11;
    for (size_t i = 0; i < id_len; i++) {
        *p++ = hex[id[i] >> 4];
        *p++ = hex[id[i] & 15];
        if (i == 0) {
            *p++ = '/';
        }
    }
    memcpy(p, ".debug", 7);
    return 1;
}

static int crc_matches(int fd, uint32_t crc)
{
    unsigned char buf[65536];
    uLong sum = crc32(0L, Z_NULL, 0);
    off_t at = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), at);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return 0;
        }
        if (n == 0) {
            break;
        }
        sum = crc32(sum, buf, (uInt)n);
        at += n;
    }
    return (uint32_t)sum == crc;
}

/* Opens path if it is a regular ELF file with build-id id (or, when id_len
 * is 0, whose CRC-32 is crc). */
static int open_if_matching(const char *path, const unsigned char *id,
                            size_t id_len, uint32_t crc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (ok) {
        Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
        ok = elf != NULL && elf_kind(elf) == ELF_K_ELF;
        if (ok && id_len > 0) {
            const void *found = NULL;
            ssize_t found_len = dwelf_elf_gnu_build_id(elf, &found);
            ok = found_len == (ssize_t)id_len && memcmp(found, id, id_len) == 0;
        }
        elf_end(elf);
    }
    if (ok && id_len == 0) {
        ok = crc_matches(fd, crc);
    }
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

int rp_dwfl_open_debug_file(const char *root, const unsigned char *id,
                            size_t id_len, const char *object_path,
                            const char *debuglink, uint32_t crc, char **path)
{
    char candidate[PATH_MAX];
    *path = NULL;
    elf_version(EV_CURRENT);
    if (id == NULL) {
        id_len = 0;
    }
    if (id_len > 0 &&
        rp_dwfl_build_id_path(candidate, sizeof(candidate), root, id, id_len)) {
        int fd = open_if_matching(candidate, id, id_len, 0);
        if (fd >= 0) {
            *path = strdup(candidate);
            return fd;
        }
    }
    /* A .gnu_debuglink name is a file name; a name with a slash is a dwz
     * alternate file, which is not searched. */
    const char *slash = object_path ? strrchr(object_path, '/') : NULL;
    if (debuglink == NULL || *debuglink == '\0' ||
        strchr(debuglink, '/') != NULL || slash == NULL ||
        object_path[0] != '/') {
        return -1;
    }
    int n = snprintf(candidate, sizeof(candidate), "%s%.*s/%s", root,
                     (int)(slash - object_path), object_path, debuglink);
    if (n < 0 || (size_t)n >= sizeof(candidate)) {
        return -1;
    }
    int fd = open_if_matching(candidate, id, id_len, crc);
    if (fd >= 0) {
        *path = strdup(candidate);
    }
    return fd;
}

/* Reports objects from /proc/self/maps. Unlike dwfl_linux_proc_report it
 * needs no /proc/self/auxv, which a child that dropped privileges cannot
 * read. */
/* The path field of a /proc/self/maps line ("" for an anonymous mapping):
 * after five fields, at column 73 or later on 64-bit kernels. */
static const char *maps_line_path(const char *line)
{
    const char *p = line;
    for (int field = 0; field < 5 && *p != '\0'; field++) {
        p += strcspn(p, " ");
        p += strspn(p, " ");
    }
    return p;
}

static int maps_line_executable(const char *line)
{
    const char *perms = strchr(line, ' ');
    return perms != NULL && strlen(perms) > 3 && perms[3] == 'x';
}

static int same_path(const char *a, const char *b)
{
    size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
    return la == lb && memcmp(a, b, la) == 0;
}

static int anonymous(const char *path)
{
    return *path == '\0' || *path == '\n';
}

static const char *next_line(const char *line)
{
    line += strcspn(line, "\n");
    return line + (*line == '\n');
}

/* Copies the lines of maps that belong to loaded objects into out, in
 * order. A run of lines of one file (anonymous lines, such as a .bss, do
 * not end it) is kept only if one of its lines is executable: a file that
 * libelf mapped to read its symbols (read-only) is not a loaded object, and
 * reported it would be opened once more as a module of its own. */
static void keep_loaded_objects(const char *maps, FILE *out)
{
    const char *run = maps;
    while (*run != '\0') {
        const char *path = maps_line_path(run);
        const char *end = next_line(run);
        int executable = maps_line_executable(run);
        while (!anonymous(path) && *end != '\0') {
            const char *next = maps_line_path(end);
            if (!anonymous(next) && !same_path(next, path)) {
                break;
            }
            executable |= !anonymous(next) && maps_line_executable(end);
            end = next_line(end);
        }
        if (executable || anonymous(path)) {
            fwrite(run, 1, (size_t)(end - run), out);
        }
        run = end;
    }
}

/* All of /proc/self/maps as one string (malloc'd), NULL on failure. */
static char *read_self_maps(void)
{
    FILE *in = fopen("/proc/self/maps", "re");
    if (in == NULL) {
        return NULL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *copy = open_memstream(&text, &size);
    if (copy != NULL) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
            fwrite(chunk, 1, n, copy);
        }
        fclose(copy);
    }
    fclose(in);
    return text;
}

int rp_dwfl_report_self(Dwfl *dwfl)
{
    char *maps = read_self_maps();
    if (maps == NULL) {
        return 0;
    }
    char *objects = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&objects, &size);
    if (out == NULL) {
        free(maps);
        return 0;
    }
    keep_loaded_objects(maps, out);
    fclose(out);
    free(maps);
    FILE *in = fmemopen(objects, size, "r");
    int rc = -1;
    if (in != NULL) {
        dwfl_report_begin(dwfl);
        rc = dwfl_linux_proc_maps_report(dwfl, in);
        dwfl_report_end(dwfl, NULL, NULL);
        fclose(in);
    }
    free(objects);
    return rc == 0;
}

static Dwfl *begin_self(const Dwfl_Callbacks *callbacks)
{
    Dwfl *dwfl = dwfl_begin(callbacks);
    if (dwfl != NULL && !rp_dwfl_report_self(dwfl)) {
        dwfl_end(dwfl);
        return NULL;
    }
    return dwfl;
}

Dwfl *rp_dwfl_begin_self(void)
{
    return begin_self(&self_callbacks);
}

Dwfl *rp_dwfl_begin_self_debug(void)
{
    return begin_self(&self_debug_callbacks);
}

static int open_module(Dwfl_Module *mod, void **userdata, const char *name,
                       Dwarf_Addr start, void *arg)
{
    (void)userdata, (void)name, (void)start;
    GElf_Addr bias = 0;
    if (dwfl_module_getelf(mod, &bias) != NULL) {
        /* Finding the symbol table looks for the separate debug file when
         * the object has none of its own; DWARF later reads that file
         * through the descriptor opened now. */
        dwfl_module_getsymtab(mod);
        ++*(int *)arg;
    }
    return DWARF_CB_OK;
}

int rp_dwfl_open_all(Dwfl *dwfl)
{
    int opened = 0;
    dwfl_getmodules(dwfl, open_module, &opened, 0);
    return opened;
}
