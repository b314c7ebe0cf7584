/* cgroup_v1.c: cgroupfs file access shared by both versions, and the v1
 * specifics: limit files, the freezer, OOM accounting. */
#include "cgroup_impl.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/timeutil.h"

/* ---- files ------------------------------------------------------------------ */

int cg_write_file(const char *path, const char *value)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    ssize_t n = write_all(fd, value, strlen(value));
    return n < 0 ? (int)n : 0;
}

int cg_write_at(const char *dir, const char *file, const char *value)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    return cg_write_file(path, value);
}

int cg_read_at(const char *dir, const char *file, char **out)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
    return read_file_path(path, CG_FILE_MAX, out, NULL);
}

int cg_keyed_u64(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > kl && strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            char num[32];
            size_t nl = len - kl - 1;
            if (nl == 0 || nl >= sizeof(num))
                return -EINVAL;
            memcpy(num, line + kl + 1, nl);
            num[nl] = '\0';
            return parse_u64(num, out);
        }
        line = end ? end + 1 : NULL;
    }
    return -ENOENT;
}

void cg_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- pids and trees ------------------------------------------------------------ */

static void pids_add(struct cg_pids *ps, pid_t pid)
{
    if (ps->n == ps->cap) {
        ps->cap = ps->cap ? ps->cap * 2 : 32;
        ps->v = xrealloc(ps->v, ps->cap * sizeof(*ps->v));
    }
    ps->v[ps->n++] = pid;
}

static void pids_parse(const char *text, struct cg_pids *ps)
{
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        if (v > 0)
            pids_add(ps, (pid_t)v);
        p = end;
        while (*p == '\n' || *p == ' ')
            p++;
    }
}

bool cg_entry_is_dir(const char *dir, const struct dirent *de)
{
    if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
        return false;
    if (de->d_type != DT_UNKNOWN)
        return de->d_type == DT_DIR;
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, de->d_name);
    struct stat st;
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int tree_pids(const char *dir, struct cg_pids *ps, int depth)
{
    _cleanup_free_ char *text = NULL;
    int r = cg_read_at(dir, "cgroup.procs", &text);
    if (r == -ENOENT || r == -ENODEV)
        return 0; /* removed meanwhile */
    if (r < 0)
        return r;
    pids_parse(text, ps);
    DIR *d = depth < CG_MAX_DEPTH ? opendir(dir) : NULL;
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!cg_entry_is_dir(dir, de))
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
        r = tree_pids(sub, ps, depth + 1);
        if (r < 0)
            break;
    }
    closedir(d);
    return r < 0 ? r : 0;
}

int cg_tree_pids(const char *dir, struct cg_pids *ps)
{
    return tree_pids(dir, ps, 0);
}

static int pid_cmp(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

void cg_pids_finish(struct cg_pids *ps)
{
    if (!ps->n)
        return;
    qsort(ps->v, ps->n, sizeof(*ps->v), pid_cmp);
    size_t w = 1;
    for (size_t i = 1; i < ps->n; i++)
        if (ps->v[i] != ps->v[w - 1])
            ps->v[w++] = ps->v[i];
    ps->n = w;
}

/* Never pid 1 or ourselves: neither can be in a cell's leaf unless the tree
 * was misconfigured, and signalling them would take the host down. The pid
 * can have been reused between reading cgroup.procs and kill(); with the
 * freezer (or cgroup.kill) that window does not exist. */
int cg_pids_signal(const struct cg_pids *ps, int sig)
{
    int n = 0;
    pid_t self = getpid();
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i] > 1 && ps->v[i] != self && kill(ps->v[i], sig) == 0)
            n++;
    return n;
}

static int tree_rmdir(const char *dir, int depth)
{
    DIR *d = NULL;
    int r = 0;
    if (depth < CG_MAX_DEPTH && !(d = opendir(dir)) && errno == ENOENT)
        return 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (!cg_entry_is_dir(dir, de))
            continue;
        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
        int rs = tree_rmdir(sub, depth + 1);
        r = r < 0 ? r : rs;
    }
    if (d)
        closedir(d);
    if (rmdir(dir) == 0 || errno == ENOENT)
        return 0;
    return r < 0 ? r : -errno;
}

int cg_tree_rmdir(const char *dir)
{
    return tree_rmdir(dir, 0);
}

/* ---- v1 specifics ---------------------------------------------------------------- */

/* memsw (memory + swap) equal to the memory limit: the workload cannot
 * spill past memoryMaxBytes into swap. It must be written after
 * limit_in_bytes (the kernel wants memsw >= limit at every step). The cfs
 * period is written before the quota: the kernel checks quota/period
 * against the parent's at each write. */
void cg1_plan_limits(struct cg_plan_builder *b, size_t leaf, const char *leaf_path,
                     unsigned ctrls, const struct cgroup_limits *lim, unsigned flags)
{
    if (lim->has_memory && (ctrls & (1u << CGROUP_MEMORY))) {
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf,
                    xasprintf("%s/memory.limit_in_bytes", leaf_path),
                    cg_limit_str(lim->memory_max, "-1"));
        if (lim->memory_max != CGROUP_MAX)
            cg_plan_add(b, CGROUP_OP_WRITE, flags | CGROUP_OP_IF_EXISTS | CGROUP_OP_BEST_EFFORT,
                        leaf, xasprintf("%s/memory.memsw.limit_in_bytes", leaf_path),
                        cg_limit_str(lim->memory_max, "-1"));
    }
    if (lim->has_cpu && (ctrls & (1u << CGROUP_CPU))) {
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf,
                    xasprintf("%s/cpu.cfs_period_us", leaf_path),
                    xasprintf("%" PRIu64, lim->cpu_period_us));
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf,
                    xasprintf("%s/cpu.cfs_quota_us", leaf_path),
                    cg_limit_str(lim->cpu_quota_us, "-1"));
    }
    if (lim->has_pids && (ctrls & (1u << CGROUP_PIDS)))
        cg_plan_add(b, CGROUP_OP_WRITE, flags, leaf, xasprintf("%s/pids.max", leaf_path),
                    cg_limit_str(lim->pids_max, "max"));
}

/* FREEZING may last a while (a task in an uninterruptible sleep); past the
 * deadline the caller kills anyway: SIGKILL is delivered on thaw. */
int cg1_freeze(const char *leaf_path, bool frozen, uint64_t deadline_ms)
{
    int r = cg_write_at(leaf_path, "freezer.state", frozen ? "FROZEN" : "THAWED");
    if (r < 0 || !frozen)
        return r;
    for (unsigned ms = 1; now_mono_ms() < deadline_ms; ms = ms < 16 ? ms * 2 : ms) {
        _cleanup_free_ char *state = NULL;
        if (cg_read_at(leaf_path, "freezer.state", &state) < 0 || str_has_prefix(state, "FROZEN"))
            return 0;
        cg_sleep_ms(ms);
    }
    return 0;
}

/* memory.oom_control has an oom_kill counter since 4.13. Before that the
 * best sign is memory.failcnt: the limit was hit (reclaim may have coped). */
int cg1_oom_killed(const char *leaf_path, bool *killed)
{
    _cleanup_free_ char *text = NULL;
    uint64_t n;
    int r = cg_read_at(leaf_path, "memory.oom_control", &text);
    if (r == 0 && cg_keyed_u64(text, "oom_kill", &n) == 0) {
        *killed = n > 0;
        return 0;
    }
    free(text);
    text = NULL;
    r = cg_read_at(leaf_path, "memory.failcnt", &text);
    if (r < 0)
        return r;
    text[strcspn(text, "\n")] = '\0';
    r = parse_u64(text, &n);
    if (r < 0)
        return r;
    *killed = n > 0;
    return 0;
}
