/* test_cgroup_real.c: real leaves on this host's cgroup hierarchies, as root.
 *
 * Every test works under a private parent "cellos-test-<pid>" so it never
 * touches other cells, and removes it at the end (also at exit, and a later
 * run removes the parents of runs that died). Besides the host's own layout
 * the tests derive narrower ones from /proc/self/mountinfo (only the v1
 * lines: pure v1; v1 without the freezer; only the cgroup2 line: v2), so the
 * freezer kill, the SIGKILL loop and cgroup.kill all run for real. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "isolate/cgroup.h"
#include "tap.h"

enum variant { HOST, ONLY_V1, V1_NO_FREEZER, ONLY_V2, VARIANT_COUNT };
static const char *const variant_names[] = { "host", "v1", "v1-no-freezer", "v2-only" };

static char parent[64];
static pid_t main_pid;
static struct cgroup_layout layouts[VARIANT_COUNT];
static bool have[VARIANT_COUNT];
static const char *skip_reason;

/* ---- setup and cleanup --------------------------------------------------------- */

static bool keep_line(enum variant v, const char *line)
{
    bool v2 = strstr(line, " - cgroup2 ") != NULL;
    bool v1 = !v2 && strstr(line, " - cgroup ") != NULL;
    switch (v) {
    case ONLY_V1: return v1;
    case V1_NO_FREEZER: return v1 && !strstr(line, ",freezer");
    case ONLY_V2: return v2;
    default: return true;
    }
}

static bool make_variant(enum variant v)
{
    if (v == HOST)
        return cgroup_layout_detect(&layouts[v], NULL, NULL, NULL) == 0 &&
               layouts[v].kind != CGROUP_LAYOUT_NONE;
    char *text = NULL;
    if (read_file_path("/proc/self/mountinfo", 1 << 20, &text, NULL) < 0)
        return false;
    char path[] = "/tmp/cellos-cgreal-mi-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    int kept = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (keep_line(v, l) && (v == HOST || strstr(l, " - cgroup"))) {
            fprintf(f, "%s\n", l);
            kept++;
        }
    fclose(f);
    free(text);
    bool ok = kept && cgroup_layout_detect(&layouts[v], path, NULL, NULL) == 0 &&
              layouts[v].kind != CGROUP_LAYOUT_NONE;
    unlink(path);
    return ok;
}

static size_t mounts_of(const struct cgroup_layout *l, const char *out[])
{
    size_t n = 0;
    if (l->v2.version)
        out[n++] = l->v2.path;
    for (size_t c = 0; c < CGROUP_CTRL_COUNT; c++) {
        bool seen = !l->ctrl[c].version;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(out[k], l->ctrl[c].path) == 0;
        if (!seen)
            out[n++] = l->ctrl[c].path;
    }
    return n;
}

/* Remove a test parent: its leaves (killing what is inside), then itself. */
static void remove_parent(const char *name)
{
    cgroup_reconcile(&layouts[HOST], name, 5000, NULL, NULL);
    const char *m[CGROUP_CTRL_COUNT + 1];
    size_t n = mounts_of(&layouts[HOST], m);
    for (size_t i = 0; i < n; i++) {
        char *p = xasprintf("%s/%s", m[i], name);
        rmdir(p);
        free(p);
    }
}

/* Parents of earlier runs whose process is gone. */
static void remove_stale_parents(void)
{
    const char *m[CGROUP_CTRL_COUNT + 1];
    size_t n = mounts_of(&layouts[HOST], m);
    for (size_t i = 0; i < n; i++) {
        DIR *d = opendir(m[i]);
        for (struct dirent *de; d && (de = readdir(d));) {
            int pid;
            if (sscanf(de->d_name, "cellos-test-%d", &pid) == 1 && pid > 0 &&
                kill(pid, 0) < 0 && errno == ESRCH)
                remove_parent(de->d_name);
        }
        if (d)
            closedir(d);
    }
}

static void at_exit_cleanup(void)
{
    if (getpid() == main_pid && have[HOST])
        remove_parent(parent);
}

__attribute__((constructor)) static void setup(void)
{
    main_pid = getpid();
    snprintf(parent, sizeof(parent), "cellos-test-%d", (int)main_pid);
    if (geteuid() != 0) {
        skip_reason = "needs root";
        return;
    }
    for (int v = 0; v < VARIANT_COUNT; v++)
        have[v] = make_variant((enum variant)v);
    if (!have[HOST]) {
        skip_reason = "no cgroup hierarchy on this host";
        return;
    }
    /* Orphans of the workloads become our children, so we can reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    remove_stale_parents();
    atexit(at_exit_cleanup);
}

static void reap_all(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

/* ---- helpers --------------------------------------------------------------------- */

static struct cgroup *make_cell(enum variant v, const struct cgroup_limits *lim)
{
    struct cgroup_limits none = { 0 };
    struct cgroup *c = NULL;
    struct cell_err err = { 0 };
    int r = cgroup_setup(&layouts[v], parent, "real-test", NULL, lim ? lim : &none, &c, &err);
    ok(r == 0, "setup on %s: %s", variant_names[v], err.msg);
    return r == 0 ? c : NULL;
}

static void end_cell(struct cgroup *c)
{
    if (!c)
        return;
    struct cgroup_paths residue = { 0 };
    is_int(cgroup_destroy(c, 5000, &residue), 0, "destroyed without residue%s%s",
           residue.n ? ": " : "", residue.n ? residue.v[0] : "");
    for (size_t i = 0; cgroup_leaf_path(c, i); i++)
        ok(false, "leaf %zu still listed after destroy", i);
    cgroup_paths_done(&residue);
    cgroup_free(c);
}

typedef int (*child_fn)(void *arg);

/* The supervisor's way: clone3 into the v2 leaf, join the v1 leaves in the
 * child. Returns once the child has joined. */
static pid_t spawn_in(struct cgroup *c, child_fn fn, void *arg)
{
    struct cgroup_child_attach a;
    cgroup_child_attach_info(c, &a);
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = -1;
    bool into = false;
    if (a.clone_fd >= 0) {
        struct clone_args ca = { .flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD,
                                 .cgroup = (uint64_t)a.clone_fd };
        pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        into = pid >= 0;
    }
    if (pid < 0)
        pid = fork();
    if (pid == 0) {
        close(ready[0]);
        if (cgroup_child_join(&a, into) < 0)
            _exit(99);
        close(ready[1]);
        _exit(fn(arg));
    }
    close(ready[1]);
    char byte;
    while (read(ready[0], &byte, 1) < 0 && errno == EINTR)
        ;
    close(ready[0]);
    return pid;
}

static bool leaf_has_pid(const char *leaf, pid_t pid)
{
    char *path = xasprintf("%s/cgroup.procs", leaf), *text = NULL;
    bool found = false;
    if (read_file_path(path, 1 << 20, &text, NULL) == 0)
        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && !found;
             l = strtok_r(NULL, "\n", &save))
            found = atoi(l) == pid;
    free(text);
    free(path);
    return found;
}

static bool in_every_leaf(struct cgroup *c, pid_t pid)
{
    bool all = cgroup_leaf_path(c, 0) != NULL;
    for (size_t i = 0; cgroup_leaf_path(c, i); i++)
        all &= leaf_has_pid(cgroup_leaf_path(c, i), pid);
    return all;
}

static bool leaves_empty(struct cgroup *c)
{
    for (size_t i = 0; cgroup_leaf_path(c, i); i++) {
        char *path = xasprintf("%s/cgroup.procs", cgroup_leaf_path(c, i)), *text = NULL;
        bool empty = read_file_path(path, 1 << 20, &text, NULL) == 0 && !*text;
        free(text);
        free(path);
        if (!empty)
            return false;
    }
    return true;
}

static int wait_status(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return st;
}

__attribute__((noreturn)) static void sleep_forever(void)
{
    for (;;)
        pause();
}

static int sleeper(void *arg)
{
    (void)arg;
    sleep_forever();
}

static bool gone(pid_t pid)
{
    reap_all();
    return kill(pid, 0) < 0 && errno == ESRCH;
}

#define NEED_ROOT() do { if (skip_reason) skip_test(skip_reason); } while (0)

/* ---- tests ---------------------------------------------------------------------- */

TEST(host_layout)
{
    NEED_ROOT();
    struct buf b = BUF_INIT;
    for (int v = 0; v < VARIANT_COUNT; v++) {
        if (!have[v])
            continue;
        cgroup_layout_describe(&layouts[v], &b);
        printf("# %s: %s\n", variant_names[v], b.data);
        buf_reset(&b);
    }
    buf_free(&b);
    ok(layouts[HOST].kind != CGROUP_LAYOUT_NONE, "a layout");
}

TEST(create_attach_destroy_each_layout)
{
    NEED_ROOT();
    for (int v = 0; v < VARIANT_COUNT; v++) {
        if (!have[v])
            continue;
        struct cgroup *c = make_cell((enum variant)v, NULL);
        if (!c)
            continue;
        ok(cgroup_primary_path(c) != NULL, "primary path");
        pid_t pid = spawn_in(c, sleeper, NULL);
        ok(pid > 0, "spawned");
        usleep(20000);
        ok(in_every_leaf(c, pid), "%s: the child is in every leaf", variant_names[v]);
        char *leaf0 = xstrdup(cgroup_leaf_path(c, 0));
        end_cell(c);
        int st = wait_status(pid);
        ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: killed by destroy", variant_names[v]);
        ok(access(leaf0, F_OK) < 0 && errno == ENOENT, "%s: %s removed", variant_names[v], leaf0);
        free(leaf0);
    }
}

TEST(parent_side_attach)
{
    NEED_ROOT();
    struct cgroup *c = make_cell(HOST, NULL);
    if (!c)
        return;
    pid_t pid = fork();
    if (pid == 0)
        sleeper(NULL);
    is_int(cgroup_attach_pid(c, pid, NULL), 0, "attached");
    ok(in_every_leaf(c, pid), "in every leaf");
    end_cell(c);
    int st = wait_status(pid);
    ok(WIFSIGNALED(st), "killed");
}

static int hog(void *arg)
{
    size_t bytes = *(size_t *)arg;
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 3;
    for (size_t i = 0; i < bytes; i += 4096)
        p[i] = 1;
    return 0;
}

TEST(memory_limit_enforced_and_oom_seen)
{
    NEED_ROOT();
    if (!layouts[HOST].ctrl[CGROUP_MEMORY].version)
        skip_test("no memory controller");
    struct cgroup_limits lim = { .has_memory = true, .memory_max = 32u << 20 };
    struct cgroup *c = make_cell(HOST, &lim);
    if (!c)
        return;
    size_t big = 256u << 20;
    int st = wait_status(spawn_in(c, hog, &big));
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "256 MiB in a 32 MiB cell: OOM-killed (status %#x)", st);
    bool oom = false;
    is_int(cgroup_oom_killed(c, &oom), 0, "read");
    ok(oom, "the OOM kill is reported");
    end_cell(c);

    c = make_cell(HOST, &lim);
    if (!c)
        return;
    size_t small = 4u << 20;
    st = wait_status(spawn_in(c, hog, &small));
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "4 MiB fits");
    oom = true;
    is_int(cgroup_oom_killed(c, &oom), 0, "read");
    ok(!oom, "no OOM reported");
    end_cell(c);
}

static int forker(void *arg)
{
    int want = *(int *)arg, made = 0;
    for (int i = 0; i < want; i++) {
        pid_t p = fork();
        if (p == 0)
            sleeper(NULL);
        if (p > 0)
            made++;
        else if (errno != EAGAIN)
            return 100;
    }
    return made;
}

TEST(pids_limit_enforced)
{
    NEED_ROOT();
    if (!layouts[HOST].ctrl[CGROUP_PIDS].version)
        skip_test("no pids controller");
    struct cgroup_limits lim = { .has_pids = true, .pids_max = 4 };
    struct cgroup *c = make_cell(HOST, &lim);
    if (!c)
        return;
    int want = 10;
    int st = wait_status(spawn_in(c, forker, &want));
    ok(WIFEXITED(st), "exited");
    is_int(WEXITSTATUS(st), 3, "4 pids: the child and 3 more, the other forks got EAGAIN");
    ok(!leaves_empty(c), "the grandchildren live on");
    end_cell(c);
}

static int spinner(void *arg)
{
    uint64_t until = now_mono_ms() + *(unsigned *)arg;
    while (now_mono_ms() < until)
        ;
    return 0;
}

TEST(cpu_limit_throttles)
{
    NEED_ROOT();
    const struct cgroup_mount *m = &layouts[HOST].ctrl[CGROUP_CPU];
    if (!m->version)
        skip_test("no cpu controller");
    struct cgroup_limits lim = { .has_cpu = true, .cpu_quota_us = 10000, .cpu_period_us = 100000 };
    struct cgroup *c = make_cell(HOST, &lim);
    if (!c)
        return;
    unsigned ms = 400;
    wait_status(spawn_in(c, spinner, &ms));
    const char *leaf = NULL;
    for (size_t i = 0; cgroup_leaf_path(c, i); i++)
        if (str_has_prefix(cgroup_leaf_path(c, i), m->path))
            leaf = cgroup_leaf_path(c, i);
    char *path = xasprintf("%s/cpu.stat", leaf ? leaf : "/nonexistent"), *text = NULL;
    ok(read_file_path(path, 1 << 16, &text, NULL) == 0, "cpu.stat");
    char *t = text ? strstr(text, "nr_throttled ") : NULL;
    ok(t && atoi(t + 13) > 0, "throttled at 10%%: %s", text ? text : "");
    free(text);
    free(path);
    end_cell(c);
}

static int ignore_term(void)
{
    signal(SIGTERM, SIG_IGN);
    sleeper(NULL);
    return 0;
}

/* A tree: a SIGTERM-ignoring child, a daemon (double fork + setsid), and a
 * churner that keeps forking short-lived children. Pids go up a pipe. */
static int tree(void *arg)
{
    int wfd = *(int *)arg;
    pid_t p = fork();
    if (p == 0)
        _exit(ignore_term());
    (void)!write(wfd, &p, sizeof(p));
    p = fork();
    if (p == 0) {
        setsid();
        pid_t q = fork();
        if (q == 0) {
            pid_t me = getpid();
            (void)!write(wfd, &me, sizeof(me));
            _exit(ignore_term());
        }
        _exit(0);
    }
    p = fork();
    if (p == 0) {
        pid_t me = getpid();
        (void)!write(wfd, &me, sizeof(me));
        signal(SIGTERM, SIG_IGN);
        for (;;) {
            pid_t k = fork();
            if (k == 0)
                _exit(0);
            if (k > 0)
                waitpid(k, NULL, 0);
        }
    }
    signal(SIGTERM, SIG_IGN);
    sleeper(NULL);
    return 0;
}

TEST(kill_whole_tree_each_layout)
{
    NEED_ROOT();
    for (int v = 0; v < VARIANT_COUNT; v++) {
        if (!have[v])
            continue;
        struct cgroup *c = make_cell((enum variant)v, NULL);
        if (!c)
            continue;
        int fds[2];
        ok(pipe(fds) == 0, "pipe");
        pid_t top = spawn_in(c, tree, &fds[1]);
        close(fds[1]);
        pid_t pids[4] = { top };
        size_t n = 1;
        while (n < 4 && read(fds[0], &pids[n], sizeof(pid_t)) == sizeof(pid_t))
            n++;
        close(fds[0]);
        is_int(n, 4, "%s: the tree is up", variant_names[v]);
        ok(cgroup_signal(c, SIGTERM) >= 4, "%s: SIGTERM sent", variant_names[v]);
        usleep(50000);
        ok(!leaves_empty(c), "%s: SIGTERM ignored", variant_names[v]);
        struct cell_err err = { 0 };
        uint64_t t0 = now_mono_ms();
        is_int(cgroup_kill(c, 5000, &err), 0, "%s: killed: %s", variant_names[v], err.msg);
        printf("# %s: kill-all took %" PRIu64 " ms\n", variant_names[v], now_mono_ms() - t0);
        ok(leaves_empty(c), "%s: leaves empty", variant_names[v]);
        for (size_t i = 0; i < n; i++)
            ok(gone(pids[i]), "%s: pid %d gone", variant_names[v], (int)pids[i]);
        end_cell(c);
    }
}

static int nester(void *arg)
{
    struct cgroup *c = arg;
    for (size_t i = 0; cgroup_leaf_path(c, i); i++) {
        char *sub = xasprintf("%s/sub", cgroup_leaf_path(c, i));
        if (mkdir(sub, 0755) < 0)
            return 10;
        char *procs = xasprintf("%s/cgroup.procs", sub);
        int fd = open(procs, O_WRONLY);
        if (fd < 0 || write(fd, "0", 1) != 1)
            return 11;
        close(fd);
        free(procs);
        free(sub);
    }
    return sleeper(NULL);
}

TEST(destroy_removes_sub_cgroups_of_the_workload)
{
    NEED_ROOT();
    struct cgroup *c = make_cell(HOST, NULL);
    if (!c)
        return;
    pid_t pid = spawn_in(c, nester, c);
    usleep(50000);
    char *sub = xasprintf("%s/sub", cgroup_leaf_path(c, 0));
    ok(leaf_has_pid(sub, pid), "the workload moved itself into %s", sub);
    free(sub);
    end_cell(c);
    int st = wait_status(pid);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed");
}

TEST(destroy_is_idempotent)
{
    NEED_ROOT();
    struct cgroup *c = make_cell(HOST, NULL);
    if (!c)
        return;
    struct cgroup_paths residue = { 0 };
    is_int(cgroup_destroy(c, 1000, &residue), 0, "first");
    is_int(cgroup_destroy(c, 1000, &residue), 0, "second");
    is_int(residue.n, 0, "no residue");
    is_int(cgroup_kill(c, 100, NULL), 0, "kill after destroy: nothing to do");
    cgroup_free(c);
    cgroup_destroy(NULL, 0, NULL);
}

/* A supervisor that makes a cell, starts a workload in it and is SIGKILLed. */
static pid_t dead_supervisor(enum variant v, pid_t *workload, char name[CGROUP_LEAF_NAME_MAX])
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t sup = fork();
    if (sup == 0) {
        close(fds[0]);
        struct cgroup_limits none = { 0 };
        struct cgroup *c = NULL;
        if (cgroup_setup(&layouts[v], parent, "orphan", NULL, &none, &c, NULL) < 0)
            _exit(1);
        pid_t w = spawn_in(c, sleeper, NULL);
        char msg[sizeof(pid_t) + CGROUP_LEAF_NAME_MAX] = { 0 };
        memcpy(msg, &w, sizeof(w));
        snprintf(msg + sizeof(w), CGROUP_LEAF_NAME_MAX, "%s", cgroup_name(c));
        (void)!write(fds[1], msg, sizeof(msg));
        sleeper(NULL);
    }
    close(fds[1]);
    char msg[sizeof(pid_t) + CGROUP_LEAF_NAME_MAX];
    ssize_t n = read(fds[0], msg, sizeof(msg));
    close(fds[0]);
    if (n != (ssize_t)sizeof(msg))
        return -1;
    memcpy(workload, msg, sizeof(pid_t));
    memcpy(name, msg + sizeof(pid_t), CGROUP_LEAF_NAME_MAX);
    usleep(20000);
    kill(sup, SIGKILL);
    wait_status(sup);
    return sup;
}

TEST(reconcile_removes_orphan_with_live_process)
{
    NEED_ROOT();
    for (int v = 0; v < VARIANT_COUNT; v++) {
        if (!have[v])
            continue;
        struct cgroup *live = make_cell((enum variant)v, NULL);
        pid_t workload = 0;
        char name[CGROUP_LEAF_NAME_MAX];
        ok(dead_supervisor((enum variant)v, &workload, name) > 0, "%s: a supervisor died",
           variant_names[v]);
        ok(kill(workload, 0) == 0, "%s: its workload lives on", variant_names[v]);

        struct cgroup_paths removed = { 0 }, residue = { 0 };
        int n = cgroup_reconcile(&layouts[v], parent, 5000, &removed, &residue);
        ok(n >= 1, "%s: %d leaves removed", variant_names[v], n);
        is_int(residue.n, 0, "%s: no residue", variant_names[v]);
        for (size_t i = 0; i < removed.n; i++) {
            ok(strstr(removed.v[i], name) != NULL, "%s: only the orphan: %s", variant_names[v],
               removed.v[i]);
            ok(access(removed.v[i], F_OK) < 0, "%s: gone", removed.v[i]);
        }
        ok(gone(workload), "%s: the workload was killed", variant_names[v]);
        ok(live && access(cgroup_leaf_path(live, 0), F_OK) == 0, "%s: the live cell is untouched",
           variant_names[v]);
        cgroup_paths_done(&removed);
        is_int(cgroup_reconcile(&layouts[v], parent, 5000, &removed, &residue), 0,
               "%s: idempotent", variant_names[v]);
        cgroup_paths_done(&removed);
        cgroup_paths_done(&residue);
        end_cell(live);
    }
}

TEST(freed_without_destroy_is_reconciled)
{
    NEED_ROOT();
    struct cgroup *c = make_cell(HOST, NULL);
    if (!c)
        return;
    char *leaf = xstrdup(cgroup_leaf_path(c, 0));
    cgroup_free(c); /* the lock is gone with the fds */
    struct cgroup_paths found = { 0 };
    ok(cgroup_find_orphans(&layouts[HOST], parent, &found) >= 1, "found");
    cgroup_paths_done(&found);
    ok(cgroup_reconcile(&layouts[HOST], parent, 1000, NULL, NULL) >= 1, "removed");
    ok(access(leaf, F_OK) < 0, "gone");
    free(leaf);
}

/* A process held in a frozen v1 freezer cgroup outside the cell cannot die:
 * kill times out, destroy reports residue, and once it is thawed a second
 * destroy finishes the job. */
TEST(kill_timeout_and_residue)
{
    NEED_ROOT();
    if (!have[V1_NO_FREEZER] || !layouts[HOST].ctrl[CGROUP_FREEZER].version)
        skip_test("needs a v1 freezer hierarchy");
    struct cgroup *c = make_cell(V1_NO_FREEZER, NULL);
    if (!c)
        return;
    pid_t pid = spawn_in(c, sleeper, NULL);
    char *ice = xasprintf("%s/%s/icebox", layouts[HOST].ctrl[CGROUP_FREEZER].path, parent);
    char *pidstr = xasprintf("%d", (int)pid);
    ok(mkdir(ice, 0755) == 0, "icebox");
    char *procs = xasprintf("%s/cgroup.procs", ice), *state = xasprintf("%s/freezer.state", ice);
    FILE *f = fopen(procs, "w");
    ok(f && fputs(pidstr, f) >= 0 && fclose(f) == 0, "moved into the icebox");
    f = fopen(state, "w");
    ok(f && fputs("FROZEN", f) >= 0 && fclose(f) == 0, "frozen");
    usleep(20000);

    struct cell_err err = { 0 };
    is_int(cgroup_kill(c, 200, &err), -ETIMEDOUT, "kill times out");
    ok(strstr(err.msg, "still in") != NULL, "message: %s", err.msg);
    struct cgroup_paths residue = { 0 };
    ok(cgroup_destroy(c, 100, &residue) > 0 && residue.n > 0, "residue reported");
    for (size_t i = 0; i < residue.n; i++)
        ok(access(residue.v[i], F_OK) == 0, "residue %s is real", residue.v[i]);
    cgroup_paths_done(&residue);

    f = fopen(state, "w");
    ok(f && fputs("THAWED", f) >= 0 && fclose(f) == 0, "thawed");
    int st = wait_status(pid);
    ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the SIGKILL lands on thaw");
    is_int(cgroup_destroy(c, 2000, &residue), 0, "a second destroy finishes");
    is_int(residue.n, 0, "no residue");
    cgroup_paths_done(&residue);
    cgroup_free(c);
    ok(rmdir(ice) == 0, "icebox removed");
    free(ice);
    free(pidstr);
    free(procs);
    free(state);
}

TEST(find_orphans_walks_the_whole_host)
{
    NEED_ROOT();
    struct cgroup *c = make_cell(HOST, NULL);
    if (!c)
        return;
    char *leaf = xstrdup(cgroup_leaf_path(c, 0));
    cgroup_free(c);
    struct cgroup_paths found = { 0 };
    uint64_t t0 = now_mono_ms();
    int n = cgroup_find_orphans(&layouts[HOST], NULL, &found);
    printf("# whole-host scan: %d orphans in %" PRIu64 " ms\n", n, now_mono_ms() - t0);
    bool seen = false;
    for (size_t i = 0; i < found.n; i++)
        seen |= strcmp(found.v[i], leaf) == 0;
    ok(seen, "our orphan %s found without naming its parent", leaf);
    cgroup_paths_done(&found);
    ok(cgroup_reconcile(&layouts[HOST], parent, 1000, NULL, NULL) >= 1, "removed");
    free(leaf);
}

TEST(nothing_left_behind)
{
    NEED_ROOT();
    reap_all();
    struct cgroup_paths found = { 0 };
    is_int(cgroup_find_orphans(&layouts[HOST], parent, &found), 0, "no leaf under the parent");
    cgroup_paths_done(&found);
    remove_parent(parent);
    const char *m[CGROUP_CTRL_COUNT + 1];
    size_t n = mounts_of(&layouts[HOST], m);
    for (size_t i = 0; i < n; i++) {
        char *p = xasprintf("%s/%s", m[i], parent);
        ok(access(p, F_OK) < 0, "%s removed", p);
        free(p);
    }
}

TAP_MAIN
