#include "process.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "base/buf.h"

char **process_exec_candidates(const char *argv0, const char *path_list)
{
    if (strchr(argv0, '/')) {
        char **c = xcalloc(2, sizeof(*c));
        c[0] = xstrdup(argv0);
        return c;
    }
    size_t n = 1;
    for (const char *p = path_list; *p; p++)
        n += *p == ':';
    char **c = xcalloc(n + 1, sizeof(*c));
    size_t i = 0;
    const char *start = path_list;
    for (;;) {
        const char *end = strchrnul(start, ':');
        int len = (int)(end - start);
        /* An empty PATH element means the current directory. */
        c[i++] = len ? xasprintf("%.*s/%s", len, start, argv0) : xasprintf("./%s", argv0);
        if (!*end)
            break;
        start = end + 1;
    }
    return c;
}

static pid_t do_clone3(const struct spawn_opts *opts, int *pidfd)
{
    struct clone_args args = {
        .flags = CLONE_PIDFD | opts->clone_flags,
        .pidfd = (uint64_t)(uintptr_t)pidfd,
        .exit_signal = SIGCHLD,
    };
    if (opts->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)opts->cgroup_fd;
    }
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static int report_child_failure(const struct child_error *ce, int *exit_status,
                                struct cell_err *err)
{
    const char *what = child_step_name((enum child_step)ce->step);
    int errnum = ce->errnum > 0 ? ce->errnum : EIO;
    if (ce->step == CHILD_STEP_EXEC) {
        *exit_status = child_exec_exit_status(errnum);
        return cell_err_set(err, errnum, "exec_failed", "cannot execute %s: %s", ce->detail,
                            strerror(errnum));
    }
    *exit_status = 125;
    return cell_err_set(err, errnum, "spawn_failed", "cell setup failed: %s%s%s: %s", what,
                        ce->detail[0] ? " " : "", ce->detail, strerror(errnum));
}

int process_spawn(struct child_plan *plan, const struct spawn_opts *opts, struct spawned *out,
                  int *exit_status, struct cell_err *err)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return cell_err_set(err, errno, "spawn_failed", "cannot create a pipe: %s",
                            strerror(errno));
    _cleanup_close_ int rd = pipefd[0];
    int syncfd[2] = { -1, -1 };
    if (opts->after_clone && pipe2(syncfd, O_CLOEXEC) < 0) {
        close(pipefd[1]);
        return cell_err_set(err, errno, "spawn_failed", "cannot create a pipe: %s",
                            strerror(errno));
    }
    int pidfd = -1;
    plan->err_fd = pipefd[1];
    plan->sync_fd = syncfd[0];
    pid_t pid = do_clone3(opts, &pidfd);
    if (pid == 0)
        child_run(plan);
    int clone_errno = errno;
    close(pipefd[1]);
    if (syncfd[0] >= 0)
        close(syncfd[0]);
    if (pid < 0) {
        if (syncfd[1] >= 0)
            close(syncfd[1]);
        *exit_status = 125;
        return cell_err_set(err, clone_errno, "spawn_failed", "cannot start the workload: clone3: %s",
                            strerror(clone_errno));
    }
    if (opts->after_clone) {
        int r = opts->after_clone(opts->after_clone_ctx, pid, pidfd, err);
        if (r == 0 && write(syncfd[1], "g", 1) != 1)
            r = cell_err_set(err, errno, "isolation_failed", "cannot release the cell: %s",
                             strerror(errno));
        close(syncfd[1]);
        if (r < 0) {
            /* The child sees EOF and stops before the workload runs. */
            siginfo_t info;
            kill(pid, SIGKILL);
            (void)waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED);
            close(pidfd);
            *exit_status = 125;
            return r;
        }
    }
    struct child_error ce;
    ssize_t n = read_all(rd, &ce, sizeof(ce));
    if (n == 0) {
        *out = (struct spawned){ .pid = pid, .pidfd = pidfd };
        return 0;
    }
    /* The child failed before exec and exits 127: reap it now. */
    siginfo_t info;
    (void)waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED);
    close(pidfd);
    if (n != (ssize_t)sizeof(ce)) {
        *exit_status = 125;
        return cell_err_set(err, EIO, "spawn_failed", "the workload's setup ended without a report");
    }
    return report_child_failure(&ce, exit_status, err);
}

int process_reap(int pidfd, int *code, int *signo)
{
    siginfo_t info = { 0 };
    if (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) < 0)
        return -errno;
    if (info.si_pid == 0)
        return -EAGAIN;
    *code = info.si_code == CLD_EXITED ? info.si_status : -1;
    *signo = info.si_code == CLD_EXITED ? 0 : info.si_status;
    return 0;
}

/* Children of every thread of `pid`, appended to `out` (space separated). */
static void append_children(pid_t pid, struct buf *out)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[384];
        snprintf(path, sizeof(path), "%s/%s/children", dir, e->d_name);
        _cleanup_free_ char *text = NULL;
        if (read_file_path(path, 1 << 20, &text, NULL) == 0)
            buf_puts(out, text);
    }
    closedir(d);
}

static bool is_zombie(pid_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; /* gone already */
    ssize_t n = read(fd, stat, sizeof(stat) - 1);
    if (n <= 0)
        return true;
    stat[n] = '\0';
    const char *close_paren = strrchr(stat, ')'); /* the name may contain spaces */
    return !close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' || close_paren[2] == 'X';
}

/* One pass: SIGKILL the whole subtree below us, breadth first. Returns how
 * many live (non-zombie) processes were signalled. */
static int kill_subtree_once(void)
{
    _cleanup_buf_ struct buf queue = BUF_INIT;
    append_children(getpid(), &queue);
    int killed = 0;
    size_t pos = 0;
    while (pos < queue.len) {
        char *end;
        long pid = strtol(queue.data + pos, &end, 10);
        if (end == queue.data + pos) {
            pos++;
            continue;
        }
        pos = (size_t)(end - queue.data);
        if (pid > 0 && !is_zombie((pid_t)pid) && kill((pid_t)pid, SIGKILL) == 0)
            killed++;
        append_children((pid_t)pid, &queue);
    }
    return killed;
}

int process_kill_descendants(pid_t keep)
{
    int total = 0;
    /* Repeat: a process may fork between our read of /proc and the kill.
     * Killed processes are zombies until reaped, and re-parented orphans
     * appear only once their parent is gone, so reap between passes. */
    for (int pass = 0; pass < 200; pass++) {
        int killed = kill_subtree_once();
        process_reap_orphans(keep);
        if (killed == 0)
            return total;
        total += killed;
        usleep(pass < 10 ? 1000 : 10000);
    }
    return total;
}

void process_reap_orphans(pid_t keep)
{
    _cleanup_buf_ struct buf kids = BUF_INIT;
    append_children(getpid(), &kids);
    char *p = kids.data;
    while (p && *p) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        p = end;
        if (pid > 0 && pid != keep)
            (void)waitpid((pid_t)pid, NULL, WNOHANG | __WALL);
    }
}
