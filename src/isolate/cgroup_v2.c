/* cgroup_v2.c: the v2 specifics (limit files, cgroup.kill, cgroup.freeze,
 * memory.events) and the live lifecycle built on both versions: create,
 * attach, kill, OOM, destroy, reconcile. */
#include "cgroup_impl.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "base/timeutil.h"
#include "base/uuid.h"

/* ---- v2 specifics ------------------------------------------------------------ */

/* memory.swap.max 0: memoryMaxBytes is all the workload gets, swap included
 * (as memsw does on v1); best effort, swap accounting may be off. */
void cg2_plan_limits(struct cg_plan_builder *b, size_t leaf, const char *leaf_path,
                     unsigned ctrls, const struct cgroup_limits *lim, unsigned flags)
{
    if (lim->has_memory && (ctrls & (1u << CGROUP_MEMORY))) {
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf, xasprintf("%s/memory.max", leaf_path),
                    cg_limit_str(lim->memory_max, "max"));
        if (lim->memory_max != CGROUP_MAX)
            cg_plan_add(b, CGROUP_OP_WRITE, flags | CGROUP_OP_IF_EXISTS | CGROUP_OP_BEST_EFFORT,
                        leaf, xasprintf("%s/memory.swap.max", leaf_path), xstrdup("0"));
    }
    if (lim->has_cpu && (ctrls & (1u << CGROUP_CPU))) {
        _cleanup_free_ char *quota = cg_limit_str(lim->cpu_quota_us, "max");
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf, xasprintf("%s/cpu.max", leaf_path),
                    xasprintf("%s %" PRIu64, quota, lim->cpu_period_us));
    }
    if (lim->has_pids && (ctrls & (1u << CGROUP_PIDS)))
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf, xasprintf("%s/pids.max", leaf_path),
                    cg_limit_str(lim->pids_max, "max"));
}

/* cgroup.kill (5.14+) SIGKILLs the whole subtree at once, forks included. */
int cg2_kill_file(const char *leaf_path)
{
    int r = cg_write_at(leaf_path, "cgroup.kill", "1");
    return r == -ENOENT && access(leaf_path, F_OK) == 0 ? -EOPNOTSUPP : r;
}

int cg2_freeze(const char *leaf_path, bool frozen, uint64_t deadline_ms)
{
    int r = cg_write_at(leaf_path, "cgroup.freeze", frozen ? "1" : "0");
    if (r == -ENOENT && access(leaf_path, F_OK) == 0)
        return -EOPNOTSUPP;
    if (r < 0 || !frozen)
        return r;
    for (unsigned ms = 1; now_mono_ms() < deadline_ms; ms = ms < 16 ? ms * 2 : ms) {
        _cleanup_free_ char *ev = NULL;
        uint64_t f;
        if (cg_read_at(leaf_path, "cgroup.events", &ev) < 0 ||
            (cg_keyed_u64(ev, "frozen", &f) == 0 && f == 1))
            return 0;
        cg_sleep_ms(ms);
    }
    return 0;
}

int cg2_oom_killed(const char *leaf_path, bool *killed)
{
    _cleanup_free_ char *text = NULL;
    uint64_t n;
    int r = cg_read_at(leaf_path, "memory.events", &text);
    if (r < 0)
        return r;
    r = cg_keyed_u64(text, "oom_kill", &n);
    if (r < 0)
        return r;
    *killed = n > 0;
    return 0;
}

/* ---- leaves ------------------------------------------------------------------ */

void cg_paths_add(struct cgroup_paths *p, const char *path)
{
    p->v = xrealloc(p->v, (p->n + 2) * sizeof(*p->v));
    p->v[p->n++] = xstrdup(path);
    p->v[p->n] = NULL;
}

void cgroup_paths_done(struct cgroup_paths *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    *p = (struct cgroup_paths){ 0 };
}

/* The owner lock. A reconciler that took the lock first may have removed
 * the directory between our open() and flock(): compare inodes after. */
int cg_lock_dir(const char *path, bool wait, int *fd_out)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0)
        if (errno != EINTR)
            return -errno;
    struct stat a, b;
    if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
        return -ESTALE;
    *fd_out = TAKE_FD(fd);
    return 0;
}

static void leaf_close(struct cg_leaf *lf)
{
    closep(&lf->dir_fd);
    closep(&lf->procs_fd);
    closep(&lf->tasks_fd);
    lf->dir_fd = lf->procs_fd = lf->tasks_fd = -1;
}

/* Only for a leaf we just made: it is empty, rmdir is enough. */
static void leaf_drop(struct cg_leaf *lf)
{
    if (lf->state == LEAF_MADE)
        (void)rmdir(lf->path);
    leaf_close(lf);
    lf->state = LEAF_DROPPED;
}

static struct cgroup *cgroup_new(const struct cgroup_plan *p)
{
    struct cgroup *c = xcalloc(1, sizeof(*c));
    c->name = xstrdup(p->leaf_name);
    c->n = p->n_leaves;
    for (size_t i = 0; i < p->n_leaves; i++)
        c->leaves[i] = (struct cg_leaf){
            .version = p->leaves[i].version, .ctrls = p->leaves[i].ctrls,
            .required = p->leaves[i].required, .state = LEAF_PLANNED,
            .path = xstrdup(p->leaves[i].path), .dir_fd = -1, .procs_fd = -1, .tasks_fd = -1 };
    return c;
}

void cgroup_free(struct cgroup *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        leaf_close(&c->leaves[i]);
        free(c->leaves[i].path);
    }
    free(c->name);
    free(c);
}

static int run_op(const struct cgroup_op *op)
{
    if (op->kind == CGROUP_OP_MKDIR) {
        if (mkdir(op->path, 0755) == 0)
            return 0;
        return errno == EEXIST && (op->flags & CGROUP_OP_EXIST_OK) ? 0 : -errno;
    }
    int r = cg_write_file(op->path, op->value);
    return r == -ENOENT && (op->flags & CGROUP_OP_IF_EXISTS) ? 0 : r;
}

/* The leaf mkdir also takes the owner lock at once, before any limit is
 * written, so a reconciler never mistakes a leaf in the making for debris. */
static int run_leaf_op(struct cg_leaf *lf, const struct cgroup_op *op)
{
    int r = run_op(op);
    if (r < 0 || !(op->flags & CGROUP_OP_LEAF))
        return r;
    lf->state = LEAF_MADE;
    return cg_lock_dir(lf->path, true, &lf->dir_fd);
}

/* On v1 the child joins through `tasks`, not `cgroup.procs`: writing "0"
 * (the calling thread) to `tasks` skips the global threadgroup rwsem, whose
 * write side waits for an RCU grace period on every cgroup.procs write; the
 * child is single-threaded, so moving the thread moves the process. This
 * takes milliseconds off every cold start. */
static int open_procs(struct cg_leaf *lf)
{
    _cleanup_free_ char *path = xasprintf("%s/cgroup.procs", lf->path);
    lf->procs_fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (lf->procs_fd < 0)
        return -errno;
    if (lf->version != 1)
        return 0;
    _cleanup_free_ char *tasks = xasprintf("%s/tasks", lf->path);
    lf->tasks_fd = open(tasks, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    return lf->tasks_fd < 0 ? -errno : 0;
}

static int create_fail(struct cgroup *c, int r, const struct cgroup_op *op, struct cell_err *err)
{
    for (size_t i = 0; i < c->n; i++)
        leaf_drop(&c->leaves[i]);
    cgroup_free(c);
    if (!op)
        return cell_err_set(err, -r, "isolation_failed", "cgroup: no leaf could be made");
    if (op->kind == CGROUP_OP_MKDIR)
        return cell_err_set(err, -r, "isolation_failed", "cgroup: mkdir %s: %s", op->path,
                            strerror(-r));
    return cell_err_set(err, -r, "isolation_failed", "cgroup: writing \"%s\" to %s: %s",
                        op->value, op->path, strerror(-r));
}

int cgroup_create(const struct cgroup_plan *p, struct cgroup **out, struct cell_err *err)
{
    struct cgroup *c = cgroup_new(p);
    for (size_t i = 0; i < p->n_ops; i++) {
        const struct cgroup_op *op = &p->ops[i];
        struct cg_leaf *lf = &c->leaves[op->leaf];
        if (lf->state == LEAF_DROPPED)
            continue;
        int r = run_leaf_op(lf, op);
        if (r >= 0 || (op->flags & CGROUP_OP_BEST_EFFORT))
            continue;
        if (lf->required)
            return create_fail(c, r, op, err);
        leaf_drop(lf);
    }
    size_t made = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct cg_leaf *lf = &c->leaves[i];
        if (lf->state != LEAF_MADE)
            continue;
        int r = open_procs(lf);
        if (r < 0 && lf->required) {
            create_fail(c, r, NULL, NULL);
            return cell_err_set(err, -r, "isolation_failed", "cgroup: opening %s/cgroup.procs: %s",
                                p->leaves[i].path, strerror(-r));
        }
        if (r < 0)
            leaf_drop(lf);
        else
            made++;
    }
    if (!made)
        return create_fail(c, -ENODEV, NULL, err);
    *out = c;
    return 0;
}

int cgroup_setup(const struct cgroup_layout *l, const char *parent, const char *cell_id,
                 const char *uuid, const struct cgroup_limits *lim, struct cgroup **out,
                 struct cell_err *err)
{
    _cleanup_free_ char *rel = NULL;
    int r = cgroup_parent_resolve(l, parent, &rel, err);
    if (r < 0)
        return r;
    char fresh[UUID_STR_LEN], name[CGROUP_LEAF_NAME_MAX];
    if (!uuid) {
        uuid_v4(fresh);
        uuid = fresh;
    }
    if (cgroup_leaf_name(cell_id, uuid, name, sizeof(name)) < 0)
        return cell_err_set(err, ENAMETOOLONG, "isolation_failed", "cgroup: leaf name too long");
    struct cgroup_plan plan;
    r = cgroup_plan_build(l, rel, name, lim, &plan, err);
    if (r < 0)
        return r;
    r = cgroup_create(&plan, out, err);
    cgroup_plan_done(&plan);
    return r;
}

/* ---- accessors and attaching --------------------------------------------------- */

static const struct cg_leaf *find_leaf(const struct cgroup *c, int version, unsigned ctrl_mask)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct cg_leaf *lf = &c->leaves[i];
        if (lf->state == LEAF_MADE && (!version || lf->version == version) &&
            (lf->ctrls & ctrl_mask) == ctrl_mask)
            return lf;
    }
    return NULL;
}

const char *cgroup_name(const struct cgroup *c) { return c->name; }

const char *cgroup_primary_path(const struct cgroup *c)
{
    const struct cg_leaf *v2 = find_leaf(c, 2, 0);
    if (v2 && v2->ctrls)
        return v2->path;
    const struct cg_leaf *lf = find_leaf(c, 0, 1u << CGROUP_MEMORY);
    lf = lf ? lf : find_leaf(c, 0, 0);
    return lf ? lf->path : NULL;
}

const char *cgroup_leaf_path(const struct cgroup *c, size_t i)
{
    for (size_t k = 0; k < c->n; k++)
        if (c->leaves[k].state == LEAF_MADE && i-- == 0)
            return c->leaves[k].path;
    return NULL;
}

void cgroup_child_attach_info(const struct cgroup *c, struct cgroup_child_attach *a)
{
    *a = (struct cgroup_child_attach){ .clone_fd = -1, .v2_procs_fd = -1 };
    for (size_t i = 0; i < c->n; i++) {
        const struct cg_leaf *lf = &c->leaves[i];
        if (lf->state != LEAF_MADE)
            continue;
        if (lf->version == 2) {
            a->clone_fd = lf->dir_fd;
            a->v2_procs_fd = lf->procs_fd;
        } else {
            a->v1_procs_fd[a->n_v1++] = lf->tasks_fd;
        }
        a->lock_fd[a->n_lock++] = lf->dir_fd;
    }
}

/* Async-signal-safe: runs in the child between clone and exec. */
static int write_zero(int fd)
{
    for (;;) {
        ssize_t n = write(fd, "0", 1);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 ? -errno : -EIO;
    }
}

void cgroup_child_release(const struct cgroup_child_attach *a)
{
    if (a->v2_procs_fd >= 0)
        close(a->v2_procs_fd);
    for (size_t i = 0; i < a->n_v1 && i < CGROUP_MAX_LEAVES; i++)
        close(a->v1_procs_fd[i]);
    for (size_t i = 0; i < a->n_lock && i < CGROUP_MAX_LEAVES; i++)
        close(a->lock_fd[i]);
}

int cgroup_child_join(const struct cgroup_child_attach *a, bool cloned_into)
{
    int r = 0;
    if (!cloned_into && a->v2_procs_fd >= 0)
        r = write_zero(a->v2_procs_fd);
    for (size_t i = 0; r == 0 && i < a->n_v1 && i < CGROUP_MAX_LEAVES; i++)
        r = write_zero(a->v1_procs_fd[i]);
    cgroup_child_release(a);
    return r;
}

int cgroup_attach_pid(struct cgroup *c, pid_t pid, struct cell_err *err)
{
    char num[24];
    snprintf(num, sizeof(num), "%d", (int)pid);
    for (size_t i = 0; i < c->n; i++) {
        const struct cg_leaf *lf = &c->leaves[i];
        if (lf->state != LEAF_MADE)
            continue;
        ssize_t r = write_all(lf->procs_fd, num, strlen(num));
        if (r < 0)
            return cell_err_set(err, (int)-r, "isolation_failed",
                                "cgroup: moving pid %d into %s: %s", (int)pid, lf->path,
                                strerror((int)-r));
    }
    return 0;
}

/* ---- signals, kill, OOM ------------------------------------------------------------ */

static void collect_pids(const struct cgroup *c, struct cg_pids *ps)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->leaves[i].state == LEAF_MADE)
            (void)cg_tree_pids(c->leaves[i].path, ps);
    cg_pids_finish(ps);
}

int cgroup_signal(struct cgroup *c, int sig)
{
    struct cg_pids ps = { 0 };
    collect_pids(c, &ps);
    int n = cg_pids_signal(&ps, sig);
    free(ps.v);
    return n;
}

/* Without cgroup.kill: freeze, list, SIGKILL, thaw. Frozen tasks cannot
 * fork or exit meanwhile, so the list is exact and no pid is reused. */
static void kill_frozen(struct cgroup *c, const struct cg_leaf *fz, uint64_t deadline)
{
    int (*freeze)(const char *, bool, uint64_t) = fz->version == 2 ? cg2_freeze : cg1_freeze;
    bool frozen = freeze(fz->path, true, deadline) == 0;
    struct cg_pids ps = { 0 };
    collect_pids(c, &ps);
    cg_pids_signal(&ps, SIGKILL);
    free(ps.v);
    if (frozen)
        (void)freeze(fz->path, false, 0);
}

static const struct cg_leaf *find_freezer(const struct cgroup *c)
{
    const struct cg_leaf *v2 = find_leaf(c, 2, 0);
    _cleanup_free_ char *path = v2 ? xasprintf("%s/cgroup.freeze", v2->path) : NULL;
    if (path && access(path, W_OK) == 0)
        return v2;
    return find_leaf(c, 1, 1u << CGROUP_FREEZER);
}

int cg_kill_leaves(struct cgroup *c, uint64_t timeout_ms, struct cell_err *err)
{
    uint64_t deadline = now_mono_ms() + timeout_ms;
    const struct cg_leaf *v2 = find_leaf(c, 2, 0), *fz = NULL;
    bool have_kill = v2 != NULL, looked_for_freezer = false;
    for (unsigned pass = 0;; pass++) {
        struct cg_pids ps = { 0 };
        collect_pids(c, &ps);
        size_t left = ps.n;
        if (!left || (pass > 0 && now_mono_ms() >= deadline)) {
            free(ps.v);
            if (!left)
                return 0;
            return cell_err_set(err, ETIMEDOUT, "isolation_failed",
                                "cgroup: %zu processes still in %s after %" PRIu64 " ms",
                                left, c->name, timeout_ms);
        }
        if (have_kill && cg2_kill_file(v2->path) == -EOPNOTSUPP)
            have_kill = false;
        if (!have_kill && !looked_for_freezer) {
            fz = find_freezer(c);
            looked_for_freezer = true;
        }
        if (!have_kill && fz)
            kill_frozen(c, fz, deadline);
        else if (!have_kill || pass > 0) /* stragglers outside the v2 leaf */
            cg_pids_signal(&ps, SIGKILL);
        free(ps.v);
        cg_sleep_ms(pass < 4 ? 1u << pass : 20);
    }
}

int cgroup_kill(struct cgroup *c, uint64_t timeout_ms, struct cell_err *err)
{
    return cg_kill_leaves(c, timeout_ms, err);
}

int cgroup_oom_killed(const struct cgroup *c, bool *killed)
{
    const struct cg_leaf *lf = find_leaf(c, 0, 1u << CGROUP_MEMORY);
    if (!lf)
        return -ENODATA;
    return lf->version == 2 ? cg2_oom_killed(lf->path, killed) : cg1_oom_killed(lf->path, killed);
}

/* ---- destroy ------------------------------------------------------------------------ */

/* rmdir may see EBUSY for a moment after the last task exited. */
int cg_remove_leaves(struct cgroup *c, uint64_t deadline_ms, struct cgroup_paths *residue)
{
    int left = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct cg_leaf *lf = &c->leaves[i];
        if (lf->state != LEAF_MADE)
            continue;
        int r;
        for (unsigned ms = 1; (r = cg_tree_rmdir(lf->path)) == -EBUSY &&
                              now_mono_ms() < deadline_ms; ms = ms < 16 ? ms * 2 : ms)
            cg_sleep_ms(ms);
        if (r == 0) {
            lf->state = LEAF_REMOVED;
            leaf_close(lf);
            continue;
        }
        left++;
        if (residue)
            cg_paths_add(residue, lf->path);
    }
    return left;
}

int cgroup_destroy(struct cgroup *c, uint64_t timeout_ms, struct cgroup_paths *residue)
{
    if (!c)
        return 0;
    (void)cg_kill_leaves(c, timeout_ms, NULL);
    int left = cg_remove_leaves(c, now_mono_ms() + 1000, residue);
    for (size_t i = 0; i < c->n; i++)
        leaf_close(&c->leaves[i]);
    return left;
}

/* ---- reconcile ------------------------------------------------------------------------ */

static void scan_dir(const char *dir, int depth, bool recurse, struct cgroup_paths *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *de; (de = readdir(d));) {
        if (!cg_entry_is_dir(dir, de) || de->d_name[0] == '.')
            continue;
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
        int fd;
        if (cgroup_is_leaf_name(de->d_name)) {
            if (cg_lock_dir(path, false, &fd) == 0) {
                close(fd);
                cg_paths_add(out, path);
            }
        } else if (recurse && depth < CG_MAX_DEPTH) {
            scan_dir(path, depth + 1, true, out);
        }
    }
    closedir(d);
}

/* The hierarchies a cell may have leaves in, each once. */
static size_t layout_mounts(const struct cgroup_layout *l, const char *mounts[])
{
    size_t n = 0;
    if (l->v2.version)
        mounts[n++] = l->v2.path;
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++) {
        bool seen = !l->ctrl[c].version;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(mounts[k], l->ctrl[c].path) == 0;
        if (!seen)
            mounts[n++] = l->ctrl[c].path;
    }
    return n;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int by_base_name(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int r = strcmp(base_name(x), base_name(y));
    return r ? r : strcmp(x, y);
}

int cgroup_find_orphans(const struct cgroup_layout *l, const char *parent_rel,
                        struct cgroup_paths *out)
{
    const char *mounts[CGROUP_CTRL_COUNT + 1];
    size_t n = layout_mounts(l, mounts), before = out->n;
    for (size_t i = 0; i < n; i++) {
        if (!parent_rel) {
            scan_dir(mounts[i], 0, true, out);
            continue;
        }
        _cleanup_free_ char *dir = *parent_rel ? xasprintf("%s/%s", mounts[i], parent_rel)
                                               : xstrdup(mounts[i]);
        scan_dir(dir, 0, false, out);
    }
    if (out->n > before)
        qsort(out->v + before, out->n - before, sizeof(*out->v), by_base_name);
    return (int)(out->n - before);
}

/* A found leaf as a struct cg_leaf: version and controllers from the
 * hierarchy it lies in (the longest mount path containing it). */
static struct cg_leaf orphan_leaf(const struct cgroup_layout *l, const char *path)
{
    struct cg_leaf lf = { .version = 1, .state = LEAF_MADE, .path = xstrdup(path),
                          .dir_fd = -1, .procs_fd = -1, .tasks_fd = -1 };
    size_t best = 0;
    if (l->v2.version && cg_path_is_under(path, l->v2.path)) {
        lf.version = 2;
        best = strlen(l->v2.path);
    }
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++) {
        const struct cgroup_mount *m = &l->ctrl[c];
        if (!m->version || !cg_path_is_under(path, m->path) || strlen(m->path) < best)
            continue;
        if (strlen(m->path) > best)
            lf.ctrls = 0;
        best = strlen(m->path);
        lf.version = m->version;
        lf.ctrls |= 1u << c;
    }
    return lf;
}

/* Leaves of one name (one dead cell) are killed together, so the best kill
 * (cgroup.kill, the freezer) serves every hierarchy. */
static int reconcile_group(const struct cgroup_layout *l, char **paths, size_t n,
                           uint64_t timeout_ms, struct cgroup_paths *removed,
                           struct cgroup_paths *residue)
{
    struct cgroup c = { .name = (char *)base_name(paths[0]) };
    for (size_t i = 0; i < n; i++) {
        struct cg_leaf lf = orphan_leaf(l, paths[i]);
        if (cg_lock_dir(lf.path, false, &lf.dir_fd) < 0) {
            free(lf.path); /* gone meanwhile, or a live owner */
            continue;
        }
        c.leaves[c.n++] = lf;
    }
    (void)cg_kill_leaves(&c, timeout_ms, NULL);
    (void)cg_remove_leaves(&c, now_mono_ms() + 1000, residue);
    int done = 0;
    for (size_t i = 0; i < c.n; i++) {
        if (c.leaves[i].state == LEAF_REMOVED) {
            cg_paths_add(removed, c.leaves[i].path);
            done++;
        }
        leaf_close(&c.leaves[i]);
        free(c.leaves[i].path);
    }
    return done;
}

int cgroup_reconcile(const struct cgroup_layout *l, const char *parent_rel,
                     uint64_t timeout_ms, struct cgroup_paths *removed,
                     struct cgroup_paths *residue)
{
    struct cgroup_paths found = { 0 }, sink = { 0 };
    cgroup_find_orphans(l, parent_rel, &found);
    int done = 0;
    for (size_t i = 0; i < found.n;) {
        size_t j = i + 1;
        while (j < found.n && j - i < CGROUP_MAX_LEAVES &&
               strcmp(base_name(found.v[i]), base_name(found.v[j])) == 0)
            j++;
        done += reconcile_group(l, found.v + i, j - i, timeout_ms, removed ? removed : &sink,
                                residue);
        i = j;
    }
    cgroup_paths_done(&found);
    cgroup_paths_done(&sink);
    return done;
}
