/* fuzz_cgroup_parse: the cgroup module's parsers. The first byte picks one:
 * 0 mountinfo (then describe the layout and plan a cell on it), 1 memory
 * env value, 2 cpu env value, 3 parent path on a fixed hybrid layout,
 * 4 leaf name shape. The files the layout would read lie under a root that
 * does not exist, so nothing outside the process is touched. */
#include <string.h>

#include "isolate/cgroup_impl.h"

static const char fixed_hybrid[] =
    "26 25 0:24 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    "30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "31 25 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";

#define ROOT "/nonexistent-cellos-fuzz"

static void plan_on(const struct cgroup_layout *l)
{
    static const struct cgroup_limits lim = {
        .has_memory = true, .memory_max = 1 << 20,
        .has_cpu = true, .cpu_quota_us = CGROUP_MAX, .cpu_period_us = 100000,
    };
    struct cgroup_plan p;
    if (cgroup_plan_build(l, "cellos/x", "cellos_f_0f8fad5b-d9cb-469f-a165-70867728950e", &lim,
                          &p, NULL) < 0)
        return;
    struct buf b = BUF_INIT;
    cgroup_plan_format(&p, &b);
    buf_free(&b);
    cgroup_plan_done(&p);
}

static void parse_mountinfo(char *text)
{
    struct cgroup_layout l;
    cg_layout_parse(text, ROOT, &l);
    struct buf b = BUF_INIT;
    cgroup_layout_describe(&l, &b);
    buf_free(&b);
    char *rel = NULL;
    if (cgroup_parent_resolve(&l, "/sys/fs/cgroup/unified/a", &rel, NULL) == 0)
        free(rel);
    plan_on(&l);
    cgroup_layout_done(&l);
}

static void parse_parent(const char *s)
{
    char *mi = xstrdup(fixed_hybrid), *rel = NULL;
    struct cgroup_layout l;
    cg_layout_parse(mi, ROOT, &l);
    if (cgroup_parent_resolve(&l, s, &rel, NULL) == 0) {
        if (strstr(rel, "..") && (str_has_prefix(rel, "../") || strstr(rel, "/../") ||
                                  !strcmp(rel, "..")))
            abort(); /* a ".." segment must never come out */
        free(rel);
    }
    cgroup_layout_done(&l);
    free(mi);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16)
        return 0;
    char *s = xcalloc(1, size);
    memcpy(s, data + 1, size - 1); /* NUL-terminated, stops at the first NUL */
    struct cgroup_limits l = { 0 };
    char name[CGROUP_LEAF_NAME_MAX];
    switch (data[0] % 5) {
    case 0: parse_mountinfo(s); break;
    case 1: (void)cgroup_limits_parse_memory(&l, s, NULL); break;
    case 2:
        if (cgroup_limits_parse_cpu(&l, s, NULL) == 0 &&
            (l.cpu_period_us < 1000 || l.cpu_period_us > 1000000))
            abort();
        break;
    case 3: parse_parent(s); break;
    default:
        if (cgroup_is_leaf_name(s) != cgroup_is_leaf_name(s))
            abort();
        if (cgroup_leaf_name(s, "0f8fad5b-d9cb-469f-a165-70867728950e", name, sizeof(name)) > 0 &&
            !cgroup_is_leaf_name(name))
            abort(); /* every name we make is recognised by reconcile */
        break;
    }
    free(s);
    return 0;
}
