/* The mount plan is pure: built against a fake host root in a temp dir. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "isolate/mounts.h"
#include "tap.h"

static char root[64];

static void make_fake_root(void)
{
    snprintf(root, sizeof(root), "/tmp/cellos-unit-root-XXXXXX");
    if (!mkdtemp(root))
        abort();
    char p[128];
    const char *dirs[] = { "usr", "etc", "proc", "sys", "dev", "tmp", "run", "job", "home" };
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof(p), "%s/bin", root);
    if (symlink("usr/bin", p) < 0)
        abort();
    snprintf(p, sizeof(p), "%s/.dockerenv", root);
    fclose(fopen(p, "w"));
}

static void remove_fake_root(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    (void)!system(cmd);
}

static const struct mount_step *find(const struct mount_plan *p, enum mount_op op, const char *target)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->steps[i].op == op && strcmp(p->steps[i].target, target) == 0)
            return &p->steps[i];
    return NULL;
}

static ssize_t index_of(const struct mount_plan *p, enum mount_op op, const char *target)
{
    const struct mount_step *s = find(p, op, target);
    return s ? s - p->steps : -1;
}

TEST(host_entries_bound_read_only_fresh_ones_not)
{
    make_fake_root();
    struct mount_opts o = { .workspace = "/job", .uid = 7, .gid = 8, .own_proc = true };
    struct mount_plan p;
    struct cell_err err;
    ok(mount_plan_build(root, &o, &p, &err) == 0, "built: %s", err.msg);
    ok(find(&p, MOP_BIND_HOST, "/usr") && find(&p, MOP_BIND_HOST, "/etc") &&
           find(&p, MOP_BIND_HOST, "/home"), "host dirs bound");
    ok(find(&p, MOP_BIND_HOST, "/.dockerenv") != NULL, "files bound too");
    ssize_t seal = index_of(&p, MOP_SEAL_RO, "/");
    ok(seal > index_of(&p, MOP_BIND_HOST, "/usr") && seal > index_of(&p, MOP_MKDIR, "/job") &&
           seal > index_of(&p, MOP_MKDIR, "/tmp"),
       "one seal makes every host bind and mount point read-only");
    ok(seal < index_of(&p, MOP_TMPFS, "/tmp") && seal < index_of(&p, MOP_TMPFS, "/job") &&
           seal < index_of(&p, MOP_PROC, "/proc"), "fresh mounts stay writable: after the seal");
    const struct mount_step *bin = find(&p, MOP_SYMLINK, "/bin");
    ok(bin && strcmp(bin->source, "usr/bin") == 0, "symlinks copied");
    const char *fresh[] = { "/proc", "/sys", "/dev", "/tmp", "/run", "/job" };
    for (size_t i = 0; i < ARRAY_SIZE(fresh); i++)
        ok(!find(&p, MOP_BIND_HOST, fresh[i]) && !find(&p, MOP_BIND_RO, fresh[i]),
           "%s not bound from the host", fresh[i]);
    ok(find(&p, MOP_PROC, "/proc") && find(&p, MOP_SYSFS, "/sys"), "own proc and sysfs");
    const struct mount_step *ws = find(&p, MOP_TMPFS, "/job");
    ok(ws && ws->uid == 7 && ws->gid == 8, "workspace owned by the workload");
    const struct mount_step *tmp = find(&p, MOP_TMPFS, "/tmp");
    ok(tmp && tmp->uid == 7 && tmp->mode == 01777, "/tmp owned by the workload, sticky");
    ok(find(&p, MOP_BIND_DEV, "/dev/null") && find(&p, MOP_DEVPTS, "/dev/pts"), "minimal /dev");
    ok(!find(&p, MOP_BIND_DEV, "/dev/kmsg") && !find(&p, MOP_BIND_DEV, "/dev/mem"), "nothing else");
    ok(index_of(&p, MOP_PROC, "/proc") < index_of(&p, MOP_BIND_RO, "/proc/sys"),
       "/proc/sys masked after /proc is mounted");
    ok(index_of(&p, MOP_MKDIR, "/job") < index_of(&p, MOP_TMPFS, "/job"), "mount point first");
    mount_plan_free(&p);
    remove_fake_root();
}

TEST(without_pid_namespace_proc_is_the_hosts_read_only)
{
    make_fake_root();
    struct mount_opts o = { 0 };
    struct mount_plan p;
    struct cell_err err;
    ok(mount_plan_build(root, &o, &p, &err) == 0, "built");
    ok(!find(&p, MOP_PROC, "/proc") && find(&p, MOP_BIND_RO, "/proc"), "host /proc read-only");
    mount_plan_free(&p);
    remove_fake_root();
}

TEST(secrets_dir_and_resolv_conf)
{
    make_fake_root();
    struct mount_opts o = { .secrets_dir = "/run/cellos/secrets", .uid = 5, .gid = 5,
                            .resolv_conf = "nameserver 127.0.0.1\n" };
    struct mount_plan p;
    struct cell_err err;
    ok(mount_plan_build(root, &o, &p, &err) == 0, "built");
    const struct mount_step *s = find(&p, MOP_TMPFS, "/run/cellos/secrets");
    ok(s && s->mode == 0500 && s->uid == 5, "secrets tmpfs 0500 owned by the workload");
    ok(index_of(&p, MOP_TMPFS, "/run") < index_of(&p, MOP_TMPFS, "/run/cellos/secrets"),
       "inside the fresh /run");
    const struct mount_step *w = find(&p, MOP_WRITE_FILE, "/run/cellos-resolv.conf");
    ok(w && strcmp(w->data, "nameserver 127.0.0.1\n") == 0, "resolv.conf written");
    ok(find(&p, MOP_BIND_RO, "/etc/resolv.conf") != NULL, "and bound over the host's");
    mount_plan_free(&p);
    remove_fake_root();
}

TEST(workspace_inside_a_fresh_tree_is_made_after_its_tmpfs)
{
    make_fake_root();
    struct mount_opts o = { .workspace = "/tmp/work/job" };
    struct mount_plan p;
    struct cell_err err;
    ok(mount_plan_build(root, &o, &p, &err) == 0, "built");
    ok(index_of(&p, MOP_TMPFS, "/tmp") < index_of(&p, MOP_MKDIR, "/tmp/work/job"), "after /tmp");
    ok(index_of(&p, MOP_SEAL_RO, "/") < index_of(&p, MOP_MKDIR, "/tmp/work/job"), "after the seal");
    mount_plan_free(&p);
    remove_fake_root();
}

TEST(relative_or_root_workspace_refused)
{
    make_fake_root();
    struct mount_plan p;
    struct cell_err err;
    struct mount_opts rel = { .workspace = "job" }, slash = { .workspace = "/" };
    ok(mount_plan_build(root, &rel, &p, &err) == -EINVAL, "relative");
    ok(strstr(err.msg, "workingDirectory") != NULL, "%s", err.msg);
    ok(mount_plan_build(root, &slash, &p, &err) == -EINVAL, "/ itself");
    remove_fake_root();
}

TEST(plan_format_lists_mounts_not_mount_points)
{
    make_fake_root();
    struct mount_opts o = { .workspace = "/job" };
    struct mount_plan p;
    struct cell_err err;
    mount_plan_build(root, &o, &p, &err);
    struct buf out = BUF_INIT;
    mount_plan_format(&p, &out);
    ok(strstr(out.data, "tmpfs    /job (mode 0755, owner 0:0)") != NULL, "%s", out.data);
    ok(strstr(out.data, "mkdir") == NULL, "mount points implied");
    buf_free(&out);
    mount_plan_free(&p);
    remove_fake_root();
}

TAP_MAIN
