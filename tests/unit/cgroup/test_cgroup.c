/* test_cgroup.c: layout detection, limits, naming, plans and orphan search
 * against fake cgroupfs trees. No root, nothing touches the real hierarchy. */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fake_tree.h"
#include "isolate/cgroup.h"
#include "spec/spec.h"
#include "tap.h"

#define UUID "0f8fad5b-d9cb-469f-a165-70867728950e"

static const char mi_sys[] =
    "22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "23 1 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";

static const char mi_v2[] =
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

static const char mi_v1[] =
    "25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "27 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "31 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup "
    "rw,memory\n"
    "32 25 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup "
    "rw,pids\n"
    "33 25 0:31 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup "
    "cgroup rw,freezer\n";

static const char mi_unified[] =
    "26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 "
    "cgroup2 rw,nsdelegate\n";

/* A fake host: root dir, mountinfo from the pieces, cgroup.controllers. */
struct host {
    char *root;
    char *mountinfo;
    struct cgroup_layout l;
};

static void host_make(struct host *h, const char *a, const char *b, const char *c,
                      const char *v2_path, const char *controllers)
{
    h->root = ft_new();
    char text[4096];
    snprintf(text, sizeof(text), "%s%s%s%s", mi_sys, a ? a : "", b ? b : "", c ? c : "");
    h->mountinfo = ft_mountinfo(h->root, text);
    if (v2_path) {
        char rel[256];
        snprintf(rel, sizeof(rel), "%s/cgroup.controllers", v2_path);
        ft_write(h->root, rel, controllers);
    }
    struct cell_err err = { 0 };
    int r = cgroup_layout_detect(&h->l, h->mountinfo, h->root, &err);
    ok(r == 0, "detect: %s", err.msg);
}

static void host_done(struct host *h)
{
    cgroup_layout_done(&h->l);
    ft_rm(h->root);
    free(h->root);
    free(h->mountinfo);
}

static void is_rooted(const struct host *h, const char *got, const char *rel)
{
    char want[1024];
    snprintf(want, sizeof(want), "%s%s", h->root, rel);
    is_str(got, want, "path %s", rel);
}

/* ---- detection ---------------------------------------------------------- */

TEST(detect_pure_v2)
{
    struct host h;
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "cpuset cpu io memory hugetlb pids rdma\n");
    is_int(h.l.kind, CGROUP_LAYOUT_V2, "pure v2");
    is_str(cgroup_layout_kind_name(h.l.kind), "v2", "name");
    is_int(h.l.v2.version, 2, "v2 mount");
    is_rooted(&h, h.l.v2.path, "/sys/fs/cgroup");
    is_str(h.l.v2.mount_point, "/sys/fs/cgroup", "mount point as mountinfo says");
    for (int c = CGROUP_MEMORY; c <= CGROUP_PIDS; c++) {
        is_int(h.l.ctrl[c].version, 2, "%s on v2", cgroup_ctrl_name(c));
        is_rooted(&h, h.l.ctrl[c].path, "/sys/fs/cgroup");
    }
    is_int(h.l.ctrl[CGROUP_FREEZER].version, 0, "no freezer controller on v2");
    is_int(h.l.v2_available, 7, "memory cpu pids available");
    host_done(&h);
}

TEST(detect_v2_without_some_controllers)
{
    struct host h;
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "memory io\n");
    is_int(h.l.kind, CGROUP_LAYOUT_V2, "still v2");
    is_int(h.l.ctrl[CGROUP_MEMORY].version, 2, "memory");
    is_int(h.l.ctrl[CGROUP_CPU].version, 0, "no cpu");
    is_int(h.l.ctrl[CGROUP_PIDS].version, 0, "no pids");
    host_done(&h);
}

TEST(detect_hybrid)
{
    struct host h;
    host_make(&h, mi_v1, mi_unified, NULL, "sys/fs/cgroup/unified", "");
    is_int(h.l.kind, CGROUP_LAYOUT_HYBRID, "hybrid");
    is_rooted(&h, h.l.v2.path, "/sys/fs/cgroup/unified");
    is_int(h.l.v2_available, 0, "controller-less unified");
    is_int(h.l.ctrl[CGROUP_MEMORY].version, 1, "memory v1");
    is_rooted(&h, h.l.ctrl[CGROUP_MEMORY].path, "/sys/fs/cgroup/memory");
    is_rooted(&h, h.l.ctrl[CGROUP_CPU].path, "/sys/fs/cgroup/cpu,cpuacct");
    is_rooted(&h, h.l.ctrl[CGROUP_PIDS].path, "/sys/fs/cgroup/pids");
    is_rooted(&h, h.l.ctrl[CGROUP_FREEZER].path, "/sys/fs/cgroup/freezer");
    host_done(&h);
}

TEST(detect_hybrid_with_memory_on_v2)
{
    /* A controller not bound to any v1 hierarchy shows up in the unified root. */
    struct host h;
    host_make(&h, mi_v1 + 0, mi_unified, NULL, "sys/fs/cgroup/unified", "memory\n");
    is_int(h.l.kind, CGROUP_LAYOUT_HYBRID, "hybrid");
    is_int(h.l.ctrl[CGROUP_MEMORY].version, 1, "a v1 binding wins");
    host_done(&h);
    static const char only_cpu[] =
        "30 25 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
    host_make(&h, only_cpu, mi_unified, NULL, "sys/fs/cgroup/unified", "memory pids\n");
    is_int(h.l.kind, CGROUP_LAYOUT_HYBRID, "hybrid");
    is_int(h.l.ctrl[CGROUP_MEMORY].version, 2, "memory on unified");
    is_rooted(&h, h.l.ctrl[CGROUP_MEMORY].path, "/sys/fs/cgroup/unified");
    is_int(h.l.ctrl[CGROUP_CPU].version, 1, "cpu on v1");
    host_done(&h);
}

TEST(detect_pure_v1)
{
    struct host h;
    host_make(&h, mi_v1, NULL, NULL, NULL, NULL);
    is_int(h.l.kind, CGROUP_LAYOUT_V1, "v1");
    is_int(h.l.v2.version, 0, "no cgroup2");
    ok(h.l.v2.path == NULL, "no v2 path");
    is_int(h.l.ctrl[CGROUP_CPU].version, 1, "cpu from the cpu,cpuacct co-mount");
    is_int(h.l.ctrl[CGROUP_FREEZER].version, 1, "freezer");
    host_done(&h);
}

TEST(detect_none)
{
    struct host h;
    host_make(&h, NULL, NULL, NULL, NULL, NULL);
    is_int(h.l.kind, CGROUP_LAYOUT_NONE, "no cgroup mount");
    is_str(cgroup_layout_kind_name(h.l.kind), "none", "name");
    host_done(&h);
    /* A name=systemd hierarchy alone carries no controller. */
    static const char named[] =
        "27 22 0:25 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n";
    host_make(&h, named, NULL, NULL, NULL, NULL);
    is_int(h.l.kind, CGROUP_LAYOUT_NONE, "name=systemd only");
    host_done(&h);
    host_make(&h, named, mi_v2, NULL, "sys/fs/cgroup", "memory\n");
    is_int(h.l.kind, CGROUP_LAYOUT_V2, "name=systemd beside cgroup2 is still v2");
    host_done(&h);
}

TEST(detect_escapes_readonly_and_shadowing)
{
    static const char spaced[] =
        "31 22 0:29 / /srv/cg\\040mem ro,relatime - cgroup cgroup rw,memory\n";
    struct host h;
    host_make(&h, spaced, NULL, NULL, NULL, NULL);
    is_str(h.l.ctrl[CGROUP_MEMORY].mount_point, "/srv/cg mem", "\\040 unescaped");
    ok(h.l.ctrl[CGROUP_MEMORY].read_only, "ro mount seen");
    host_done(&h);
    /* A tmpfs mounted later over /sys/fs/cgroup hides everything below. */
    static const char over[] = "90 22 0:90 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n";
    host_make(&h, mi_v1, mi_unified, over, NULL, NULL);
    is_int(h.l.kind, CGROUP_LAYOUT_NONE, "shadowed mounts are gone");
    host_done(&h);
    /* Garbage lines are skipped, the rest still parses. */
    static const char junk[] = "garbage\n1 2 3\n\n- - -\n";
    host_make(&h, junk, mi_v2, NULL, "sys/fs/cgroup", "pids\n");
    is_int(h.l.kind, CGROUP_LAYOUT_V2, "junk ignored");
    is_int(h.l.ctrl[CGROUP_PIDS].version, 2, "pids");
    host_done(&h);
}

TEST(detect_bind_mount_prefers_root)
{
    static const char binds[] =
        "31 22 0:29 /docker/abc /mnt/a rw - cgroup cgroup rw,memory\n"
        "32 22 0:29 / /mnt/b rw - cgroup cgroup rw,memory\n"
        "33 22 0:29 / /mnt/c rw - cgroup cgroup rw,memory\n";
    struct host h;
    host_make(&h, binds, NULL, NULL, NULL, NULL);
    is_str(h.l.ctrl[CGROUP_MEMORY].mount_point, "/mnt/b", "first mount of the root");
    host_done(&h);
}

TEST(detect_missing_mountinfo)
{
    struct cgroup_layout l = { 0 };
    struct cell_err err = { 0 };
    int r = cgroup_layout_detect(&l, "/nonexistent/mountinfo", "", &err);
    is_int(r, -ENOENT, "error");
    ok(strstr(err.msg, "/nonexistent/mountinfo") != NULL, "names the file: %s", err.msg);
    is_int(l.kind, CGROUP_LAYOUT_NONE, "untouched");
}

TEST(describe)
{
    struct host h;
    host_make(&h, mi_v1, mi_unified, NULL, "sys/fs/cgroup/unified", "");
    struct buf b = BUF_INIT;
    cgroup_layout_describe(&h.l, &b);
    is_str(b.data, "hybrid: memory v1 /sys/fs/cgroup/memory, cpu v1 /sys/fs/cgroup/cpu,cpuacct, "
                   "pids v1 /sys/fs/cgroup/pids, freezer v1 /sys/fs/cgroup/freezer, "
                   "cgroup2 /sys/fs/cgroup/unified (controllers: none)", "one line");
    buf_free(&b);
    host_done(&h);
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "memory pids\n");
    cgroup_layout_describe(&h.l, &b);
    is_str(b.data, "v2: memory v2 /sys/fs/cgroup, cpu absent, pids v2 /sys/fs/cgroup, "
                   "freezer absent, cgroup2 /sys/fs/cgroup (controllers: memory pids)", "v2");
    buf_free(&b);
    host_done(&h);
}

/* ---- limits ---------------------------------------------------------------- */

TEST(parse_memory_env)
{
    struct cgroup_limits l = { 0 };
    struct cell_err err = { 0 };
    is_int(cgroup_limits_parse_memory(&l, "268435456", &err), 0, "bytes");
    ok(l.has_memory && l.memory_max == 268435456, "value");
    is_int(cgroup_limits_parse_memory(&l, " max\n", &err), 0, "max with blanks");
    ok(l.memory_max == CGROUP_MAX, "max");
    const char *bad[] = { "", "  ", "0", "12k", "-1", "1 2", "max1", "18446744073709551616",
                          "18446744073709551615", "0x10", "+5" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct cgroup_limits m = { .has_memory = true, .memory_max = 7 };
        err = (struct cell_err){ 0 };
        is_int(cgroup_limits_parse_memory(&m, bad[i], &err), -EINVAL, "\"%s\" refused", bad[i]);
        ok(m.memory_max == 7, "untouched on error");
        ok(strstr(err.msg, "CELLOS_CGROUP_MEMORY_MAX") != NULL, "message: %s", err.msg);
    }
    is_int(cgroup_limits_parse_memory(&l, NULL, NULL), -EINVAL, "NULL");
}

TEST(parse_cpu_env)
{
    struct cgroup_limits l = { 0 };
    is_int(cgroup_limits_parse_cpu(&l, "50000 100000", NULL), 0, "quota period");
    ok(l.has_cpu && l.cpu_quota_us == 50000 && l.cpu_period_us == 100000, "values");
    is_int(cgroup_limits_parse_cpu(&l, "max 100000", NULL), 0, "max period");
    ok(l.cpu_quota_us == CGROUP_MAX && l.cpu_period_us == 100000, "max");
    is_int(cgroup_limits_parse_cpu(&l, " 200000\t 1000000 \n", NULL), 0, "blanks");
    ok(l.cpu_quota_us == 200000 && l.cpu_period_us == 1000000, "values");
    const char *bad[] = { "", "max", "50000", "500 100000", "50000 999", "50000 1000001",
                          "a b", "50000 100000 1", "-1 100000", "50000 max", "max max",
                          "1e5 100000", "50000,100000" };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct cgroup_limits m = { 0 };
        struct cell_err err = { 0 };
        is_int(cgroup_limits_parse_cpu(&m, bad[i], &err), -EINVAL, "\"%s\" refused", bad[i]);
        ok(!m.has_cpu, "untouched");
        ok(strstr(err.msg, "CELLOS_CGROUP_CPU_MAX") != NULL, "message: %s", err.msg);
    }
}

TEST(merge_spec_wins_env_fills)
{
    struct cgroup_limits spec = { .has_memory = true, .memory_max = 100 << 20 };
    struct cgroup_limits env = { .has_memory = true, .memory_max = 5,
                                 .has_cpu = true, .cpu_quota_us = CGROUP_MAX, .cpu_period_us = 100000 };
    struct cgroup_limits m;
    cgroup_limits_merge(&m, &spec, &env);
    ok(m.has_memory && m.memory_max == 100 << 20, "spec memory wins");
    ok(m.has_cpu && m.cpu_quota_us == CGROUP_MAX && m.cpu_period_us == 100000, "env cpu fills");
    ok(!m.has_pids, "nobody set pids");
}

TEST(limits_from_spec)
{
    struct run_limits rl = { .has_memory_max = true, .memory_max_bytes = 1 << 20,
                             .cpu_max = { .present = true, .unlimited = true, .period_micros = 5000 },
                             .has_pids_max = true, .pids_max = 9 };
    struct cgroup_limits l;
    cgroup_limits_from_spec(&l, &rl);
    ok(l.has_memory && l.memory_max == 1 << 20, "memory");
    ok(l.has_cpu && l.cpu_quota_us == CGROUP_MAX && l.cpu_period_us == 5000, "cpu max");
    ok(l.has_pids && l.pids_max == 9, "pids");
    struct run_limits none = { 0 };
    cgroup_limits_from_spec(&l, &none);
    ok(!l.has_memory && !l.has_cpu && !l.has_pids, "absent stays absent");
}

/* ---- naming ---------------------------------------------------------------- */

static void resolves(const struct cgroup_layout *l, const char *parent, const char *want)
{
    char *rel = NULL;
    struct cell_err err = { 0 };
    int r = cgroup_parent_resolve(l, parent, &rel, &err);
    if (!want) {
        is_int(r, -EINVAL, "\"%s\" refused", parent);
        ok(err.msg[0], "with a message");
    } else {
        is_int(r, 0, "\"%s\": %s", parent, err.msg);
        is_str(rel, want, "\"%s\"", parent);
    }
    free(rel);
}

TEST(parent_resolution)
{
    struct host h;
    host_make(&h, mi_v1, mi_unified, NULL, "sys/fs/cgroup/unified", "");
    resolves(&h.l, "cellos", "cellos");
    resolves(&h.l, "a//b/", "a/b");
    resolves(&h.l, "cellos.slice/runner-1@x:y+z", "cellos.slice/runner-1@x:y+z");
    resolves(&h.l, "/sys/fs/cgroup/unified/x/y", "x/y");
    resolves(&h.l, "/sys/fs/cgroup/unified", "");
    resolves(&h.l, "/sys/fs/cgroup/memory/ci", "ci");
    resolves(&h.l, "/sys/fs/cgroup/cpu,cpuacct/ci/", "ci");
    resolves(&h.l, "/sys/fs/cgroup/unifiedx/a", NULL);
    resolves(&h.l, "/tmp/cellos", NULL);
    resolves(&h.l, "/sys/fs/cgroup/unified/../memory", NULL);
    resolves(&h.l, "../x", NULL);
    resolves(&h.l, "a/./b", NULL);
    resolves(&h.l, "a b", NULL);
    resolves(&h.l, "a\nb", NULL);
    resolves(&h.l, "", NULL);
    resolves(&h.l, NULL, NULL);
    host_done(&h);
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "memory\n");
    resolves(&h.l, "/sys/fs/cgroup/cellos.slice", "cellos.slice");
    resolves(&h.l, "/sys/fs/cgroup", "");
    resolves(&h.l, "/sys/fs/cgroup/unified/x", "unified/x");
    host_done(&h);
}

TEST(leaf_names)
{
    char name[CGROUP_LEAF_NAME_MAX];
    is_int(cgroup_leaf_name("demo-cell-001", UUID, name, sizeof(name)), 7 + 13 + 1 + 36, "length");
    is_str(name, "cellos_demo-cell-001_" UUID, "name");
    ok(cgroup_is_leaf_name(name), "recognised");
    cgroup_leaf_name("a/b c\xff", UUID, name, sizeof(name));
    is_str(name, "cellos_a_b_c__" UUID, "sanitized");
    ok(cgroup_is_leaf_name(name), "recognised");
    char id[300];
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    is_int(cgroup_leaf_name(id, UUID, name, sizeof(name)), 7 + 128 + 1 + 36, "id truncated to 128");
    ok(cgroup_is_leaf_name(name), "recognised");
    is_int(cgroup_leaf_name("id", UUID, name, 20), -ENAMETOOLONG, "short buffer");
    const char *not_ours[] = { "cellos", "cellos_x", "cellos_x_" UUID "x", "cellosx_" UUID,
                               "cellos_a b_" UUID, "cellos_x-" UUID, "user.slice",
                               "cellos_x_0f8fad5b-d9cb-469f-a165-70867728950g",
                               "cellos_x_0f8fad5bxd9cb-469f-a165-70867728950e" };
    for (size_t i = 0; i < ARRAY_SIZE(not_ours); i++)
        ok(!cgroup_is_leaf_name(not_ours[i]), "\"%s\" is not a leaf", not_ours[i]);
    ok(cgroup_is_leaf_name("cellos__" UUID), "an empty id still has the shape");
}

/* ---- plans ---------------------------------------------------------------------- */

static const struct cgroup_limits all_limits = {
    .has_memory = true, .memory_max = 268435456,
    .has_cpu = true, .cpu_quota_us = 50000, .cpu_period_us = 100000,
    .has_pids = true, .pids_max = 256,
};

static char *plan_text(const struct host *h, const char *rel, const struct cgroup_limits *lim,
                       int *rc, struct cgroup_plan *keep)
{
    struct cgroup_plan p;
    struct cell_err err = { 0 };
    *rc = cgroup_plan_build(&h->l, rel, "cellos_demo_" UUID, lim, &p, &err);
    if (*rc < 0)
        return strdup(err.msg);
    struct buf b = BUF_INIT;
    cgroup_plan_format(&p, &b);
    char *text = ft_unroot(b.data ? b.data : "", h->root);
    buf_free(&b);
    if (keep)
        *keep = p;
    else
        cgroup_plan_done(&p);
    return text;
}

#define LEAF "cellos_demo_" UUID

TEST(plan_v2)
{
    struct host h;
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "cpuset cpu io memory pids\n");
    int rc;
    struct cgroup_plan p;
    char *t = plan_text(&h, "cellos", &all_limits, &rc, &p);
    is_int(rc, 0, "built");
    is_str(t,
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +memory\n"
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +cpu\n"
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +pids\n"
           "mkdir <R>/sys/fs/cgroup/cellos (may exist)\n"
           "write <R>/sys/fs/cgroup/cellos/cgroup.subtree_control = +memory\n"
           "write <R>/sys/fs/cgroup/cellos/cgroup.subtree_control = +cpu\n"
           "write <R>/sys/fs/cgroup/cellos/cgroup.subtree_control = +pids\n"
           "mkdir <R>/sys/fs/cgroup/cellos/" LEAF "\n"
           "write <R>/sys/fs/cgroup/cellos/" LEAF "/memory.max = 268435456\n"
           "write <R>/sys/fs/cgroup/cellos/" LEAF "/memory.swap.max = 0 (if present) (best effort)\n"
           "write <R>/sys/fs/cgroup/cellos/" LEAF "/cpu.max = 50000 100000\n"
           "write <R>/sys/fs/cgroup/cellos/" LEAF "/pids.max = 256\n",
           "v2 plan");
    is_int(p.n_leaves, 1, "one leaf");
    ok(p.leaves[0].required && p.leaves[0].version == 2 && p.leaves[0].ctrls == 7, "required v2");
    cgroup_plan_done(&p);
    free(t);
    /* Without limits the controllers are still enabled, best effort (accounting, OOM). */
    struct cgroup_limits none = { 0 };
    t = plan_text(&h, "a/b", &none, &rc, NULL);
    is_str(t,
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +memory (best effort)\n"
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +cpu (best effort)\n"
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +pids (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/a (may exist) (best effort)\n"
           "write <R>/sys/fs/cgroup/a/cgroup.subtree_control = +memory (best effort)\n"
           "write <R>/sys/fs/cgroup/a/cgroup.subtree_control = +cpu (best effort)\n"
           "write <R>/sys/fs/cgroup/a/cgroup.subtree_control = +pids (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/a/b (may exist) (best effort)\n"
           "write <R>/sys/fs/cgroup/a/b/cgroup.subtree_control = +memory (best effort)\n"
           "write <R>/sys/fs/cgroup/a/b/cgroup.subtree_control = +cpu (best effort)\n"
           "write <R>/sys/fs/cgroup/a/b/cgroup.subtree_control = +pids (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/a/b/" LEAF " (best effort)\n",
           "no limits");
    free(t);
    host_done(&h);
}

TEST(plan_v2_max_values_and_root_parent)
{
    struct host h;
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "memory cpu pids\n");
    struct cgroup_limits lim = { .has_memory = true, .memory_max = CGROUP_MAX,
                                 .has_cpu = true, .cpu_quota_us = CGROUP_MAX, .cpu_period_us = 20000,
                                 .has_pids = true, .pids_max = CGROUP_MAX };
    int rc;
    char *t = plan_text(&h, "", &lim, &rc, NULL);
    is_str(t,
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +memory (best effort)\n"
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +cpu (best effort)\n"
           "write <R>/sys/fs/cgroup/cgroup.subtree_control = +pids (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/" LEAF "\n"
           "write <R>/sys/fs/cgroup/" LEAF "/memory.max = max\n"
           "write <R>/sys/fs/cgroup/" LEAF "/cpu.max = max 20000\n"
           "write <R>/sys/fs/cgroup/" LEAF "/pids.max = max\n",
           "max values, leaf at the root");
    free(t);
    host_done(&h);
}

TEST(plan_hybrid)
{
    struct host h;
    host_make(&h, mi_v1, mi_unified, NULL, "sys/fs/cgroup/unified", "");
    int rc;
    struct cgroup_plan p;
    char *t = plan_text(&h, "cellos", &all_limits, &rc, &p);
    is_int(rc, 0, "built");
    is_str(t,
           "mkdir <R>/sys/fs/cgroup/unified/cellos (may exist) (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/unified/cellos/" LEAF " (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/memory/cellos (may exist)\n"
           "mkdir <R>/sys/fs/cgroup/memory/cellos/" LEAF "\n"
           "write <R>/sys/fs/cgroup/memory/cellos/" LEAF "/memory.limit_in_bytes = 268435456\n"
           "write <R>/sys/fs/cgroup/memory/cellos/" LEAF "/memory.memsw.limit_in_bytes = 268435456 (if present) (best effort)\n"
           "mkdir <R>/sys/fs/cgroup/cpu,cpuacct/cellos (may exist)\n"
           "mkdir <R>/sys/fs/cgroup/cpu,cpuacct/cellos/" LEAF "\n"
           "write <R>/sys/fs/cgroup/cpu,cpuacct/cellos/" LEAF "/cpu.cfs_period_us = 100000\n"
           "write <R>/sys/fs/cgroup/cpu,cpuacct/cellos/" LEAF "/cpu.cfs_quota_us = 50000\n"
           "mkdir <R>/sys/fs/cgroup/pids/cellos (may exist)\n"
           "mkdir <R>/sys/fs/cgroup/pids/cellos/" LEAF "\n"
           "write <R>/sys/fs/cgroup/pids/cellos/" LEAF "/pids.max = 256\n",
           "hybrid plan: unified leaf for kill, no freezer");
    is_int(p.n_leaves, 4, "unified, memory, cpu, pids");
    ok(!p.leaves[0].required && p.leaves[0].version == 2 && p.leaves[0].ctrls == 0, "helper leaf");
    cgroup_plan_done(&p);
    free(t);
    host_done(&h);
}

TEST(plan_v1_comounted_and_freezer)
{
    static const char comount[] =
        "30 22 0:28 / /cg/all rw - cgroup cgroup rw,cpu,cpuacct,memory\n"
        "31 22 0:29 / /cg/pids rw - cgroup cgroup rw,pids\n"
        "32 22 0:30 / /cg/freezer rw - cgroup cgroup rw,freezer\n";
    struct host h;
    host_make(&h, comount, NULL, NULL, NULL, NULL);
    is_int(h.l.kind, CGROUP_LAYOUT_V1, "v1");
    struct cgroup_limits lim = { .has_memory = true, .memory_max = CGROUP_MAX,
                                 .has_cpu = true, .cpu_quota_us = CGROUP_MAX, .cpu_period_us = 100000 };
    int rc;
    struct cgroup_plan p;
    char *t = plan_text(&h, "cellos", &lim, &rc, &p);
    is_str(t,
           "mkdir <R>/cg/all/cellos (may exist)\n"
           "mkdir <R>/cg/all/cellos/" LEAF "\n"
           "write <R>/cg/all/cellos/" LEAF "/memory.limit_in_bytes = -1\n"
           "write <R>/cg/all/cellos/" LEAF "/cpu.cfs_period_us = 100000\n"
           "write <R>/cg/all/cellos/" LEAF "/cpu.cfs_quota_us = -1\n"
           "mkdir <R>/cg/pids/cellos (may exist) (best effort)\n"
           "mkdir <R>/cg/pids/cellos/" LEAF " (best effort)\n"
           "mkdir <R>/cg/freezer/cellos (may exist) (best effort)\n"
           "mkdir <R>/cg/freezer/cellos/" LEAF " (best effort)\n",
           "one leaf per hierarchy, freezer on pure v1");
    is_int(p.n_leaves, 3, "three hierarchies");
    is_int(p.leaves[0].ctrls, (1 << CGROUP_MEMORY) | (1 << CGROUP_CPU), "co-mounted");
    cgroup_plan_done(&p);
    free(t);
    host_done(&h);
}

TEST(plan_errors)
{
    struct host h;
    host_make(&h, mi_v2, NULL, NULL, "sys/fs/cgroup", "pids\n");
    int rc;
    struct cgroup_limits mem = { .has_memory = true, .memory_max = 1 << 20 };
    char *t = plan_text(&h, "cellos", &mem, &rc, NULL);
    is_int(rc, -EOPNOTSUPP, "memory limit without memory controller");
    ok(strstr(t, "memory") && strstr(t, "v2"), "says which and where: %s", t);
    free(t);
    struct cgroup_limits unlimited = { .has_memory = true, .memory_max = CGROUP_MAX };
    t = plan_text(&h, "cellos", &unlimited, &rc, NULL);
    is_int(rc, 0, "\"max\" needs no controller");
    ok(!strstr(t, "memory.max"), "and writes nothing for it");
    free(t);
    host_done(&h);
    host_make(&h, NULL, NULL, NULL, NULL, NULL);
    struct cgroup_limits none = { 0 };
    t = plan_text(&h, "cellos", &none, &rc, NULL);
    is_int(rc, -ENODEV, "no hierarchy at all");
    free(t);
    host_done(&h);
}

TEST(plan_skips_best_effort_on_readonly)
{
    static const char ro_freezer[] =
        "31 22 0:29 / /cg/memory rw - cgroup cgroup rw,memory\n"
        "32 22 0:30 / /cg/freezer ro - cgroup cgroup rw,freezer\n";
    struct host h;
    host_make(&h, ro_freezer, NULL, NULL, NULL, NULL);
    int rc;
    struct cgroup_plan p;
    char *t = plan_text(&h, "c", &all_limits, &rc, &p);
    is_int(rc, -EOPNOTSUPP, "cpu and pids absent");
    free(t);
    struct cgroup_limits mem = { .has_memory = true, .memory_max = 1 << 20 };
    t = plan_text(&h, "c", &mem, &rc, &p);
    is_int(rc, 0, "memory only");
    is_int(p.n_leaves, 1, "read-only freezer skipped");
    cgroup_plan_done(&p);
    free(t);
    host_done(&h);
}

/* ---- orphans ---------------------------------------------------------------------- */

TEST(find_orphans_fake_tree)
{
    struct host h;
    host_make(&h, mi_v1, mi_unified, NULL, "sys/fs/cgroup/unified", "");
    const char *dirs[] = {
        "sys/fs/cgroup/unified/cellos/cellos_a_" UUID,
        "sys/fs/cgroup/memory/cellos/cellos_a_" UUID,
        "sys/fs/cgroup/memory/deep/x/y/cellos_b_" UUID,
        "sys/fs/cgroup/memory/cellos/cellos_notaleaf",
        "sys/fs/cgroup/memory/cellos/cellos-test-1",
        "sys/fs/cgroup/pids/cellos/cellos_live_" UUID,
        "sys/fs/cgroup/systemd/cellos/cellos_other_" UUID, /* not a hierarchy cellos uses */
    };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        ft_mkdir(h.root, dirs[i]);
    char live[1024];
    snprintf(live, sizeof(live), "%s/%s", h.root, dirs[5]);
    int lock = open(live, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok(lock >= 0 && flock(lock, LOCK_EX) == 0, "a live owner holds the lock");

    struct cgroup_paths found = { 0 };
    is_int(cgroup_find_orphans(&h.l, "cellos", &found), 2, "under the parent");
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < found.n; i++)
        buf_printf(&b, "%s\n", found.v[i]);
    char *t = ft_unroot(b.data, h.root);
    is_str(t, "<R>/sys/fs/cgroup/memory/cellos/cellos_a_" UUID "\n"
              "<R>/sys/fs/cgroup/unified/cellos/cellos_a_" UUID "\n", "sorted by leaf name");
    free(t);
    buf_free(&b);
    cgroup_paths_done(&found);

    is_int(cgroup_find_orphans(&h.l, NULL, &found), 3, "anywhere in the hierarchies");
    ok(found.n == 3 && strstr(found.v[2], "deep/x/y/cellos_b_"), "the deep one too");
    cgroup_paths_done(&found);
    is_int(cgroup_find_orphans(&h.l, "nowhere", &found), 0, "missing parent: nothing");
    close(lock);
    is_int(cgroup_find_orphans(&h.l, "cellos", &found), 3, "the lock gone, an orphan");
    cgroup_paths_done(&found);
    host_done(&h);
}

/* ---- the child's side ------------------------------------------------------------ */

static char *drain(int fd)
{
    static char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static bool closed(int fd)
{
    return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

TEST(child_join_writes_zero_and_closes)
{
    int v2[2], a[2], b[2], lk[2];
    ok(pipe2(v2, O_NONBLOCK) == 0 && pipe2(a, O_NONBLOCK) == 0 && pipe2(b, O_NONBLOCK) == 0 &&
       pipe2(lk, O_NONBLOCK) == 0, "pipes");
    struct cgroup_child_attach at = { .clone_fd = -1, .v2_procs_fd = dup(v2[1]),
                                      .v1_procs_fd = { dup(a[1]), dup(b[1]) }, .n_v1 = 2,
                                      .lock_fd = { dup(lk[0]) }, .n_lock = 1 };
    is_int(cgroup_child_join(&at, false), 0, "joined");
    is_str(drain(v2[0]), "0", "v2 procs");
    is_str(drain(a[0]), "0", "first v1");
    is_str(drain(b[0]), "0", "second v1");
    ok(closed(at.v2_procs_fd) && closed(at.v1_procs_fd[0]) && closed(at.v1_procs_fd[1]) &&
       closed(at.lock_fd[0]), "the child's copies are closed");

    at.v2_procs_fd = dup(v2[1]);
    at.v1_procs_fd[0] = dup(a[1]);
    at.v1_procs_fd[1] = dup(b[1]);
    at.lock_fd[0] = dup(lk[0]);
    is_int(cgroup_child_join(&at, true), 0, "cloned into v2");
    is_str(drain(v2[0]), "", "v2 not written");
    is_str(drain(a[0]), "0", "v1 still");
    is_str(drain(b[0]), "0", "both");
    ok(closed(at.v2_procs_fd) && closed(at.lock_fd[0]), "closed");

    at.v2_procs_fd = dup(v2[1]);
    at.v1_procs_fd[0] = dup(a[0]); /* a read end: the write fails */
    at.v1_procs_fd[1] = dup(b[1]);
    at.lock_fd[0] = dup(lk[0]);
    is_int(cgroup_child_join(&at, true), -EBADF, "first failure reported");
    is_str(drain(b[0]), "", "nothing after the failure");
    ok(closed(at.v2_procs_fd) && closed(at.v1_procs_fd[0]) && closed(at.v1_procs_fd[1]) &&
       closed(at.lock_fd[0]), "closed all the same");
    int fds[] = { v2[0], v2[1], a[0], a[1], b[0], b[1], lk[0], lk[1] };
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
        close(fds[i]);
}

TAP_MAIN
