#include "mounts.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static const char *const fresh_top_level[] = { "proc", "sys", "dev", "tmp", "run" };
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };

static void add_step(struct mount_plan *p, enum mount_op op, const char *source, const char *target,
                     mode_t mode, uid_t uid, gid_t gid)
{
    p->steps = xrealloc(p->steps, (p->n + 1) * sizeof(*p->steps));
    p->steps[p->n++] = (struct mount_step){ .op = op, .source = xstrdup(source),
                                            .target = xstrdup(target), .mode = mode,
                                            .uid = uid, .gid = gid };
}

static bool is_fresh(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(fresh_top_level); i++)
        if (strcmp(name, fresh_top_level[i]) == 0)
            return true;
    return false;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every top-level host entry, read-only, in name order. */
static int plan_host_binds(struct mount_plan *p, const char *host_root, const char *workspace,
                           struct cell_err *err)
{
    struct dirent **names;
    int n = scandir(host_root, &names, NULL, by_name);
    if (n < 0)
        return cell_err_set(err, errno, "isolation_failed", "cannot list %s: %s", host_root,
                            strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char src[4096], dst[512];
        snprintf(src, sizeof(src), "%s/%s", strcmp(host_root, "/") ? host_root : "", name);
        snprintf(dst, sizeof(dst), "/%s", name);
        struct stat st;
        bool skip = name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
        if (!skip && !is_fresh(name) && !(workspace && strcmp(workspace, dst) == 0) &&
            lstat(src, &st) == 0) {
            if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t len = readlink(src, target, sizeof(target) - 1);
                if (len > 0) {
                    target[len] = '\0';
                    add_step(p, MOP_SYMLINK, target, dst, 0, 0, 0);
                }
            } else if (S_ISDIR(st.st_mode)) {
                add_step(p, MOP_MKDIR, NULL, dst, 0755, 0, 0);
                add_step(p, MOP_BIND_HOST, src, dst, 0, 0, 0);
            } else if (S_ISREG(st.st_mode)) {
                add_step(p, MOP_FILE, NULL, dst, 0444, 0, 0);
                add_step(p, MOP_BIND_HOST, src, dst, 0, 0, 0);
            }
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

static void plan_dev(struct mount_plan *p)
{
    add_step(p, MOP_TMPFS, NULL, "/dev", 0755, 0, 0);
    for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
        char src[64], dst[64];
        snprintf(src, sizeof(src), "/dev/%s", dev_nodes[i]);
        snprintf(dst, sizeof(dst), "/dev/%s", dev_nodes[i]);
        add_step(p, MOP_FILE, NULL, dst, 0666, 0, 0);
        add_step(p, MOP_BIND_DEV, src, dst, 0, 0, 0);
    }
    add_step(p, MOP_MKDIR, NULL, "/dev/pts", 0755, 0, 0);
    add_step(p, MOP_DEVPTS, NULL, "/dev/pts", 0620, 0, 0);
    add_step(p, MOP_SYMLINK, "pts/ptmx", "/dev/ptmx", 0, 0, 0);
    add_step(p, MOP_MKDIR, NULL, "/dev/shm", 01777, 0, 0);
    add_step(p, MOP_TMPFS, NULL, "/dev/shm", 01777, 0, 0);
    add_step(p, MOP_SYMLINK, "/proc/self/fd", "/dev/fd", 0, 0, 0);
    add_step(p, MOP_SYMLINK, "/proc/self/fd/0", "/dev/stdin", 0, 0, 0);
    add_step(p, MOP_SYMLINK, "/proc/self/fd/1", "/dev/stdout", 0, 0, 0);
    add_step(p, MOP_SYMLINK, "/proc/self/fd/2", "/dev/stderr", 0, 0, 0);
}

/* Whether the workspace lies inside one of the fresh tmpfs trees (then its
 * directory is made after that tmpfs is mounted) or must be made before the
 * tree is sealed read-only. */
static bool under_fresh_tree(const char *path)
{
    for (size_t i = 0; i < ARRAY_SIZE(fresh_top_level); i++) {
        size_t len = strlen(fresh_top_level[i]);
        if (strncmp(path + 1, fresh_top_level[i], len) == 0 && path[1 + len] == '/')
            return true;
    }
    return false;
}

/* Order matters for speed and for correctness: host binds and every mount
 * point on the staging root come first, then one recursive SEAL makes all
 * of it read-only in a single mount_setattr (one per bind would cost a
 * system call each on every cold start), then the fresh mounts go on top. */
int mount_plan_build(const char *host_root, const struct mount_opts *o, struct mount_plan *out,
                     struct cell_err *err)
{
    struct mount_plan p = { .staging = xstrdup("/tmp") };
    if (o->workspace && (o->workspace[0] != '/' || !o->workspace[1])) {
        mount_plan_free(&p);
        return cell_err_set(err, EINVAL, "isolation_failed",
                            "workingDirectory %s must be an absolute path below /", o->workspace);
    }
    int r = plan_host_binds(&p, host_root, o->workspace, err);
    if (r < 0) {
        mount_plan_free(&p);
        return r;
    }
    bool workspace_late = o->workspace && under_fresh_tree(o->workspace);
    add_step(&p, MOP_MKDIR, NULL, "/proc", 0555, 0, 0);
    add_step(&p, MOP_MKDIR, NULL, "/sys", 0555, 0, 0);
    add_step(&p, MOP_MKDIR, NULL, "/dev", 0755, 0, 0);
    add_step(&p, MOP_MKDIR, NULL, "/tmp", 01777, 0, 0);
    add_step(&p, MOP_MKDIR, NULL, "/run", 0755, 0, 0);
    if (o->workspace && !workspace_late)
        add_step(&p, MOP_MKDIR, NULL, o->workspace, 0755, 0, 0);
    add_step(&p, MOP_SEAL_RO, NULL, "/", 0, 0, 0);
    if (o->own_proc) {
        add_step(&p, MOP_PROC, NULL, "/proc", 0, 0, 0);
        add_step(&p, MOP_BIND_RO, "/proc/sys", "/proc/sys", 0, 0, 0);
        add_step(&p, MOP_BIND_RO, "/proc/sysrq-trigger", "/proc/sysrq-trigger", 0, 0, 0);
    } else {
        add_step(&p, MOP_BIND_RO, "/proc", "/proc", 0, 0, 0);
    }
    add_step(&p, MOP_SYSFS, NULL, "/sys", 0, 0, 0);
    plan_dev(&p);
    add_step(&p, MOP_TMPFS, NULL, "/tmp", 01777, o->uid, o->gid);
    add_step(&p, MOP_TMPFS, NULL, "/run", 0755, 0, 0);
    if (o->secrets_dir) {
        add_step(&p, MOP_MKDIR, NULL, o->secrets_dir, 0500, 0, 0);
        add_step(&p, MOP_TMPFS, NULL, o->secrets_dir, 0500, o->uid, o->gid);
    }
    if (o->workspace) {
        if (workspace_late)
            add_step(&p, MOP_MKDIR, NULL, o->workspace, 0755, 0, 0);
        add_step(&p, MOP_TMPFS, NULL, o->workspace, 0755, o->uid, o->gid);
    }
    if (o->resolv_conf) {
        add_step(&p, MOP_WRITE_FILE, NULL, "/run/cellos-resolv.conf", 0444, 0, 0);
        p.steps[p.n - 1].data = xstrdup(o->resolv_conf);
        add_step(&p, MOP_BIND_RO, "/run/cellos-resolv.conf", "/etc/resolv.conf", 0, 0, 0);
    }
    *out = p;
    return 0;
}

void mount_plan_free(struct mount_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++) {
        free(plan->steps[i].source);
        free(plan->steps[i].target);
        free(plan->steps[i].data);
    }
    free(plan->steps);
    free(plan->staging);
    memset(plan, 0, sizeof(*plan));
}

static const char *const op_names[] = {
    [MOP_MKDIR] = "mkdir", [MOP_BIND_RO] = "bind-ro", [MOP_BIND_HOST] = "bind-ro",
    [MOP_SEAL_RO] = "seal-ro", [MOP_BIND_DEV] = "bind-dev",
    [MOP_TMPFS] = "tmpfs", [MOP_PROC] = "proc", [MOP_DEVPTS] = "devpts",
    [MOP_SYMLINK] = "symlink", [MOP_SYSFS] = "sysfs", [MOP_FILE] = "file", [MOP_WRITE_FILE] = "write",
};

void mount_plan_format(const struct mount_plan *plan, struct buf *out)
{
    for (size_t i = 0; i < plan->n; i++) {
        const struct mount_step *s = &plan->steps[i];
        if (s->op == MOP_MKDIR || s->op == MOP_FILE)
            continue; /* mount points: implied */
        buf_printf(out, "  %-8s %s", op_names[s->op], s->target);
        if (s->source)
            buf_printf(out, " <- %s", s->source);
        if (s->op == MOP_TMPFS)
            buf_printf(out, " (mode %04o, owner %u:%u)", (unsigned)s->mode, (unsigned)s->uid,
                       (unsigned)s->gid);
        buf_putc(out, '\n');
    }
}

/* ---- child side: no allocation from here on ---- */

static int join_path(char *out, size_t size, const char *staging, const char *target)
{
    size_t a = strlen(staging), b = strlen(target);
    if (a + b + 1 > size)
        return -ENAMETOOLONG;
    memcpy(out, staging, a);
    memcpy(out + a, target, b + 1);
    return 0;
}

static int mkdir_p(char *path, mode_t mode)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -errno;
    }
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int set_attr(const char *path, uint64_t attrs, bool recursive)
{
    struct mount_attr attr = { .attr_set = attrs };
    return syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr,
                   sizeof(attr)) < 0 ? -errno : 0;
}

static void format_tmpfs_opts(char *buf, size_t size, const struct mount_step *s)
{
    /* snprintf is async-signal-safe in glibc for integer conversions. */
    snprintf(buf, size, "mode=%04o,uid=%u,gid=%u", (unsigned)s->mode, (unsigned)s->uid,
             (unsigned)s->gid);
}

static int write_small_file(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    ssize_t n = write_all(fd, data, strlen(data));
    close(fd);
    return n < 0 ? (int)n : 0;
}

static int apply_step(const struct mount_plan *plan, const struct mount_step *s)
{
    char path[4096], opts[128];
    int r = join_path(path, sizeof(path), plan->staging, s->target);
    if (r < 0)
        return r;
    switch (s->op) {
    case MOP_MKDIR:
        return mkdir_p(path, s->mode);
    case MOP_FILE: {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, s->mode);
        return fd < 0 ? -errno : (close(fd), 0);
    }
    case MOP_WRITE_FILE:
        return write_small_file(path, s->data, s->mode);
    case MOP_SYMLINK:
        return symlink(s->source, path) < 0 && errno != EEXIST ? -errno : 0;
    case MOP_BIND_RO: {
        char src[4096];
        /* Sources under the cell (like /proc/sys after /proc is mounted) are
         * taken from the staging tree; host paths from the host. */
        bool in_cell = str_has_prefix(s->source, "/proc/") || str_has_prefix(s->source, "/run/");
        if (in_cell && join_path(src, sizeof(src), plan->staging, s->source) < 0)
            return -ENAMETOOLONG;
        if (mount(in_cell ? src : s->source, path, NULL, MS_BIND | MS_REC, NULL) < 0)
            /* Kernel files like /proc/sysrq-trigger exist only with some
             * configs: masking one that is absent is not needed. */
            return in_cell && errno == ENOENT ? 0 : -errno;
        return set_attr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
    }
    case MOP_BIND_HOST:
        return mount(s->source, path, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
    case MOP_SEAL_RO:
        return set_attr(path, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
    case MOP_BIND_DEV:
        /* No attribute change: set-id and exec bits mean nothing on a
         * character device, and the bind keeps the host /dev's flags. */
        return mount(s->source, path, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
    case MOP_TMPFS:
        format_tmpfs_opts(opts, sizeof(opts), s);
        return mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0 ? -errno : 0;
    case MOP_PROC:
        return mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? -errno : 0;
    case MOP_SYSFS:
        return mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0
                   ? -errno : 0;
    case MOP_DEVPTS:
        return mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC,
                     "newinstance,ptmxmode=0666,mode=0620") < 0 ? -errno : 0;
    }
    return -EINVAL;
}

/* pivot_root into the staging tmpfs and drop the host's tree. */
static int enter_new_root(const char *staging)
{
    if (chdir(staging) < 0)
        return -errno;
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return -errno;
    /* The old root is now stacked under the new one at "/": detach it. */
    if (umount2(".", MNT_DETACH) < 0)
        return -errno;
    return chdir("/") < 0 ? -errno : 0;
}

int mount_plan_apply(const struct mount_plan *plan, const struct mount_step **failed)
{
    static const struct mount_step root_step = { .op = MOP_TMPFS, .target = (char *)"/" };
    *failed = &root_step;
    /* Nothing we mount may propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return -errno;
    if (mount("tmpfs", plan->staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
        return -errno;
    for (size_t i = 0; i < plan->n; i++) {
        int r = apply_step(plan, &plan->steps[i]);
        if (r < 0) {
            *failed = &plan->steps[i];
            return r;
        }
    }
    return enter_new_root(plan->staging);
}
